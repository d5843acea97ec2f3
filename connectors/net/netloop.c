/*
 * netloop.c — see netloop.h for the design. One poll() set per call:
 *
 *   [extra fds of the caller][uv backend fd (lws)][curl sockets...]
 *
 * The set lives in a buffer that grows only when the number of sockets
 * grows (bounded by max_requests and max_extra_fds), so a steady-state poll
 * does not allocate. Timers are a flat array scanned linearly: a connector
 * keeps a handful of them, and a scan of a few dozen slots costs less than
 * keeping a heap in order.
 */
#include "netloop.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "error.h"
#include "net_internal.h"

#define DEFAULT_MAX_BODY (8u << 20)
#define DEFAULT_MAX_REQUESTS 256u
#define DEFAULT_MAX_TIMERS 1024u
#define DEFAULT_MAX_EXTRA 64u
#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

struct curl_sock {
    curl_socket_t fd;
    short events;
};

struct timer {
    uint64_t id; /* 0 = free slot */
    int64_t due_ns;
    clb_netloop_timer_fn fn;
    void *ud;
};

struct clb_netloop {
    struct clb_netloop_config cfg;
    char *ca_file;
    CURLM *multi;
    bool curl_global;
    struct curl_sock *csock;
    uint32_t n_csock, cap_csock;
    int64_t curl_deadline_ns; /* -1: none */
    uv_loop_t uv;
    bool uv_ready;
    struct lws_context *lws;
    struct timer *timers;
    uint32_t n_timers; /* slots in use */
    uint64_t next_timer_id;
    struct pollfd *pfd;
    size_t pfd_cap;
    bool in_poll;
    bool lws_kick; /* lws has work libuv does not know about yet */
    uint64_t lws_pass; /* lws service passes so far (one socket read each) */
    struct clb_http_state_ *http;
};

/* How much lws reads off a socket in one go, and the largest piece of a
 * WebSocket message it hands to ws_client.c in one callback. With lws's
 * defaults (4096 both) a market-data frame above 4 KiB (a busy
 * depthUpdate) was read in two or more reads, one poll() round apart, and
 * its tick-to-order clock (started at the first piece) ran while the loop
 * went round again: 4-130 us of the measured tail. 64 KiB reads a whole
 * frame at once (over TLS, one record of at most 16 KiB per read still
 * applies). One read buffer per loop, one rx buffer per connection. */
#define LWS_READ_BYTES 65536u

static const struct lws_protocols ws_protocols[] = {
    { "clb-ws", clb_ws_lws_callback_, 0, LWS_READ_BYTES, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

int64_t clb_netloop_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void clb_netloop_config_default(struct clb_netloop_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

CURLM *clb_netloop_curlm_(struct clb_netloop *l)
{
    return l->multi;
}

struct lws_context *clb_netloop_lws_(struct clb_netloop *l)
{
    return l->lws;
}

const char *clb_netloop_ca_file_(const struct clb_netloop *l)
{
    return l->ca_file;
}

const struct clb_netloop_config *clb_netloop_cfg_(const struct clb_netloop *l)
{
    return &l->cfg;
}

struct clb_http_state_ **clb_netloop_http_state_(struct clb_netloop *l)
{
    return &l->http;
}

void clb_netloop_lws_kick_(struct clb_netloop *l)
{
    l->lws_kick = true;
}

uint64_t clb_netloop_lws_pass_(const struct clb_netloop *l)
{
    return l->lws_pass;
}

/* One lws service pass: libuv reads each ready socket once. */
static void service_lws(struct clb_netloop *l)
{
    l->lws_pass++;
    uv_run(&l->uv, UV_RUN_NOWAIT);
}

/* Runs lws again while it has asked for it (bounded: a write asked for from
 * inside a write is done the next round). */
static void lws_kicked(struct clb_netloop *l)
{
    for (int i = 0; i < 4 && l->lws_kick; i++) {
        l->lws_kick = false;
        service_lws(l);
    }
}

/* ------------------------------------------------------------------------ */
/* libcurl multi hooks                                                        */

static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct clb_netloop *l = userp;
    (void)easy;
    (void)socketp;
    uint32_t i = 0;
    while (i < l->n_csock && l->csock[i].fd != fd)
        i++;
    if (what == CURL_POLL_REMOVE) {
        if (i < l->n_csock)
            l->csock[i] = l->csock[--l->n_csock];
        return 0;
    }
    short ev = 0;
    if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
        ev |= POLLIN;
    if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
        ev |= POLLOUT;
    if (i == l->n_csock) {
        if (l->n_csock == l->cap_csock) {
            uint32_t cap = l->cap_csock ? l->cap_csock * 2 : 16;
            if (cap > l->cfg.max_requests * 2 + 16)
                return -1;
            struct curl_sock *p = realloc(l->csock, cap * sizeof(*p));
            if (!p)
                return -1;
            l->csock = p;
            l->cap_csock = cap;
        }
        l->csock[l->n_csock].fd = fd;
        l->n_csock++;
    }
    l->csock[i].events = ev;
    return 0;
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct clb_netloop *l = userp;
    (void)multi;
    if (timeout_ms < 0)
        l->curl_deadline_ns = -1;
    else
        l->curl_deadline_ns = clb_netloop_mono_ns() + (int64_t)timeout_ms * 1000000;
    return 0;
}

static void curl_drain(struct clb_netloop *l)
{
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(l->multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE)
            clb_http_done_(l, m->easy_handle, m->data.result);
}

/* ------------------------------------------------------------------------ */
/* create / destroy                                                          */

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int clb_netloop_create(const struct clb_netloop_config *cfg, struct clb_netloop **out)
{
    if (!out)
        return CLB_EINVAL;
    *out = NULL;
    struct clb_netloop *l = calloc(1, sizeof(*l));
    if (!l)
        return CLB_ENOMEM;
    int rc = CLB_OK;
    if (cfg)
        l->cfg = *cfg;
    if (!l->cfg.max_http_body)
        l->cfg.max_http_body = DEFAULT_MAX_BODY;
    if (!l->cfg.max_requests)
        l->cfg.max_requests = DEFAULT_MAX_REQUESTS;
    if (!l->cfg.max_timers)
        l->cfg.max_timers = DEFAULT_MAX_TIMERS;
    if (!l->cfg.max_extra_fds)
        l->cfg.max_extra_fds = DEFAULT_MAX_EXTRA;
    l->curl_deadline_ns = -1;
    l->next_timer_id = 1;
    if (l->cfg.ca_file) {
        if (access(l->cfg.ca_file, R_OK) != 0) {
            rc = CLB_EINVAL;
            goto fail;
        }
        l->ca_file = strdup(l->cfg.ca_file);
    } else if (access(SYSTEM_CA_BUNDLE, R_OK) == 0) {
        l->ca_file = strdup(SYSTEM_CA_BUNDLE);
    }
    l->cfg.ca_file = NULL; /* the copy in l->ca_file is authoritative */
    l->timers = calloc(l->cfg.max_timers, sizeof(*l->timers));
    if (!l->timers || ((cfg && cfg->ca_file) && !l->ca_file)) {
        rc = CLB_ENOMEM;
        goto fail;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        rc = CLB_EIO;
        goto fail;
    }
    l->curl_global = true;
    l->multi = curl_multi_init();
    if (!l->multi) {
        rc = CLB_EIO;
        goto fail;
    }
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
    curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 32L);

    if (uv_loop_init(&l->uv) != 0) {
        rc = CLB_EIO;
        goto fail;
    }
    l->uv_ready = true;
    void *foreign[1] = { &l->uv };
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = ws_protocols;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = foreign;
    info.client_ssl_ca_filepath = l->ca_file;
    info.timeout_secs = 15;
    info.pt_serv_buf_size = LWS_READ_BYTES;
    info.gid = -1;
    info.uid = -1;
    lws_set_log_level(LLL_ERR | LLL_WARN, NULL); /* no start-up notices on stderr */
    l->lws = lws_create_context(&info);
    if (!l->lws) {
        rc = CLB_EIO;
        goto fail;
    }
    *out = l;
    return CLB_OK;
fail:
    clb_netloop_destroy(l);
    return rc;
}

void clb_netloop_destroy(struct clb_netloop *l)
{
    if (!l)
        return;
    if (l->multi) {
        clb_http_cancel_all_(l);
        curl_multi_cleanup(l->multi);
    }
    if (l->curl_global)
        curl_global_cleanup();
    if (l->lws) {
        /* With a foreign libuv loop lws closes its handles asynchronously:
         * destroy, let the loop run the closes, destroy again (lws's
         * documented sequence for foreign loops). */
        lws_context_destroy(l->lws);
        for (int i = 0; i < 1000 && uv_run(&l->uv, UV_RUN_NOWAIT); i++)
            ;
        lws_context_destroy(l->lws);
    }
    if (l->uv_ready) {
        if (uv_loop_close(&l->uv) == UV_EBUSY) {
            uv_walk(&l->uv, close_walk, NULL);
            for (int i = 0; i < 1000 && uv_run(&l->uv, UV_RUN_NOWAIT); i++)
                ;
            uv_loop_close(&l->uv);
        }
    }
    free(l->csock);
    free(l->timers);
    free(l->pfd);
    free(l->ca_file);
    free(l);
}

/* ------------------------------------------------------------------------ */
/* timers                                                                    */

int clb_netloop_timer_add(struct clb_netloop *l, int64_t delay_ms, clb_netloop_timer_fn fn,
                          void *ud, uint64_t *id_out)
{
    if (!l || !fn || delay_ms < 0)
        return CLB_EINVAL;
    if (l->n_timers >= l->cfg.max_timers)
        return CLB_EFULL;
    uint32_t i = 0;
    while (l->timers[i].id)
        i++;
    l->timers[i].id = l->next_timer_id++;
    l->timers[i].due_ns = clb_netloop_mono_ns() + delay_ms * 1000000;
    l->timers[i].fn = fn;
    l->timers[i].ud = ud;
    l->n_timers++;
    if (id_out)
        *id_out = l->timers[i].id;
    return CLB_OK;
}

int clb_netloop_timer_cancel(struct clb_netloop *l, uint64_t id)
{
    if (!l || !id)
        return CLB_ENOTFOUND;
    for (uint32_t i = 0; i < l->cfg.max_timers; i++)
        if (l->timers[i].id == id) {
            l->timers[i].id = 0;
            l->n_timers--;
            return CLB_OK;
        }
    return CLB_ENOTFOUND;
}

static int64_t timers_next_ns(const struct clb_netloop *l)
{
    int64_t best = -1;
    uint32_t seen = 0;
    for (uint32_t i = 0; i < l->cfg.max_timers && seen < l->n_timers; i++)
        if (l->timers[i].id) {
            seen++;
            if (best < 0 || l->timers[i].due_ns < best)
                best = l->timers[i].due_ns;
        }
    return best;
}

static void timers_fire(struct clb_netloop *l)
{
    if (!l->n_timers)
        return;
    int64_t now = clb_netloop_mono_ns();
    uint64_t last = l->next_timer_id; /* timers added while firing wait */
    for (uint32_t i = 0; i < l->cfg.max_timers && l->n_timers; i++) {
        struct timer *t = &l->timers[i];
        if (t->id && t->id < last && t->due_ns <= now) {
            clb_netloop_timer_fn fn = t->fn;
            void *ud = t->ud;
            t->id = 0;
            l->n_timers--;
            fn(ud);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* poll                                                                      */

static int ms_until(int64_t due_ns, int64_t now)
{
    if (due_ns <= now)
        return 0;
    int64_t ms = (due_ns - now + 999999) / 1000000;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int min_timeout(int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

int clb_netloop_poll(struct clb_netloop *l, struct pollfd *extra, size_t n_extra, int timeout_ms)
{
    if (!l || (n_extra && !extra) || n_extra > l->cfg.max_extra_fds || l->in_poll)
        return CLB_EINVAL;
    l->in_poll = true;
    /* transfers finished outside the loop (clb_http_request starts its
     * transfer at once, and a failure can end it there) */
    curl_drain(l);
    size_t need = n_extra + 1 + l->n_csock;
    if (need > l->pfd_cap) {
        size_t cap = need + 16;
        struct pollfd *p = realloc(l->pfd, cap * sizeof(*p));
        if (!p) {
            l->in_poll = false;
            return CLB_ENOMEM;
        }
        l->pfd = p;
        l->pfd_cap = cap;
    }
    struct pollfd *pf = l->pfd;
    for (size_t i = 0; i < n_extra; i++) {
        pf[i] = extra[i];
        pf[i].revents = 0;
    }
    size_t uvi = n_extra;
    pf[uvi].fd = uv_backend_fd(&l->uv);
    pf[uvi].events = POLLIN;
    pf[uvi].revents = 0;
    uint32_t nc = l->n_csock;
    for (uint32_t i = 0; i < nc; i++) {
        pf[uvi + 1 + i].fd = l->csock[i].fd;
        pf[uvi + 1 + i].events = l->csock[i].events;
        pf[uvi + 1 + i].revents = 0;
    }

    int64_t now = clb_netloop_mono_ns();
    int to = timeout_ms < 0 ? -1 : timeout_ms;
    if (l->curl_deadline_ns >= 0)
        to = min_timeout(to, ms_until(l->curl_deadline_ns, now));
    int64_t tn = timers_next_ns(l);
    if (tn >= 0)
        to = min_timeout(to, ms_until(tn, now));
    uv_update_time(&l->uv);
    to = min_timeout(to, uv_backend_timeout(&l->uv));
    if (l->lws_kick)
        to = 0; /* a write asked for outside the loop: do it now */

    int rc = CLB_OK;
    int n = poll(pf, (nfds_t)(uvi + 1 + nc), to);
    if (n < 0 && errno != EINTR) {
        rc = CLB_EIO;
        goto out;
    }
    int ready = 0;
    for (size_t i = 0; i < n_extra; i++) {
        extra[i].revents = n > 0 ? pf[i].revents : 0;
        if (extra[i].revents)
            ready++;
    }
    /* lws (through libuv): sockets and its timers */
    service_lws(l);
    lws_kicked(l); /* writes asked for by the callbacks just run */
    /* curl: ready sockets, then its timeout */
    if (n > 0)
        for (uint32_t i = 0; i < nc; i++) {
            short re = pf[uvi + 1 + i].revents;
            if (!re)
                continue;
            int flags = 0;
            if (re & (POLLIN | POLLHUP))
                flags |= CURL_CSELECT_IN;
            if (re & POLLOUT)
                flags |= CURL_CSELECT_OUT;
            if (re & (POLLERR | POLLNVAL))
                flags |= CURL_CSELECT_ERR;
            int running;
            curl_multi_socket_action(l->multi, pf[uvi + 1 + i].fd, flags, &running);
        }
    if (l->curl_deadline_ns >= 0 && l->curl_deadline_ns <= clb_netloop_mono_ns()) {
        int running;
        l->curl_deadline_ns = -1;
        curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    curl_drain(l);
    timers_fire(l);
    lws_kicked(l);
    rc = ready;
out:
    l->in_poll = false;
    return rc;
}
