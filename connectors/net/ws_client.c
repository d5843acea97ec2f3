/*
 * ws_client.c — see ws_client.h.
 *
 * States: IDLE (no connection; a connect or notify timer is pending),
 * CONNECTING (wsi exists, not upgraded yet), OPEN. The wsi's user pointer
 * is the client. Every end of a connection goes through conn_ended(),
 * which detaches the wsi (lws_set_wsi_user(wsi, NULL): later lws callbacks
 * for it are ignored), clears per-connection state, schedules the
 * reconnect and reports on_close. Closes we decide ourselves (dead
 * connection, max age, oversized message, connect timeout, reconnect on
 * demand, destroy) detach first and then ask lws to kill the wsi
 * asynchronously, so they are safe from inside any callback.
 *
 * Name resolution: lws 4.1 (built without LWS_WITH_SYS_ASYNC_DNS) calls
 * getaddrinfo() inside lws_client_connect_via_info(), which would block
 * the worker for as long as DNS takes. A host that is not an address
 * literal is therefore resolved first on a short-lived detached thread
 * (struct resolve, shared by reference count with the client); the loop
 * checks for the answer with a short timer and connects to the numeric
 * address (the URL's host still goes into Host, SNI and the certificate
 * check).
 *
 * Handlers may destroy the client: `busy` counts handler calls in
 * progress, destroy only marks the client dead while busy > 0, and the
 * outermost frame frees it.
 */
#include "ws_client.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "error.h"
#include "net_internal.h"
#include "net_url.h"

enum st { ST_IDLE, ST_CONNECTING, ST_OPEN };

struct resolve {
    atomic_int refs; /* the client and the thread */
    atomic_bool done;
    int err;         /* getaddrinfo's code, 0 = ok */
    char host[CLB_NET_HOST_MAX];
    char addr[INET6_ADDRSTRLEN];
};

static void resolve_put(struct resolve *r)
{
    if (r && atomic_fetch_sub(&r->refs, 1) == 1)
        free(r);
}

static void *resolve_thread(void *arg)
{
    struct resolve *r = arg;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(r->host, NULL, &hints, &res);
    if (rc == 0) {
        const struct addrinfo *pick = res; /* IPv4 first: v6 is often unroutable */
        for (const struct addrinfo *a = res; a; a = a->ai_next)
            if (a->ai_family == AF_INET) {
                pick = a;
                break;
            }
        const void *src = pick->ai_family == AF_INET
                              ? (const void *)&((const struct sockaddr_in *)(const void *)
                                                    pick->ai_addr)->sin_addr
                              : (const void *)&((const struct sockaddr_in6 *)(const void *)
                                                    pick->ai_addr)->sin6_addr;
        if (!inet_ntop(pick->ai_family, src, r->addr, sizeof(r->addr)))
            rc = EAI_FAIL;
        freeaddrinfo(res);
    }
    r->err = rc;
    atomic_store(&r->done, true);
    resolve_put(r);
    return NULL;
}

struct clb_ws_client {
    struct clb_netloop *loop;
    struct clb_ws_client_config cfg;
    struct clb_ws_handlers h;
    void *ud;
    char *url;
    char *protocol;
    struct clb_net_url u;
    char host_hdr[CLB_NET_HOST_MAX + 16];

    enum st st;
    struct lws *wsi;
    int busy;
    bool dead;

    uint64_t t_connect, t_ping, t_conn_timeout, t_age, t_notify, t_resolve, t_warm;
    struct resolve *res;
    int resolve_wait_ms;
    bool numeric_host;
    int64_t last_rx_ns;
    bool ping_pending;
    int peer_code;
    char peer_why[124];
    int notify_code;
    char notify_why[124];

    char *rx;
    size_t rx_len, rx_cap;
    int64_t rx_start_ns;
    uint64_t rx_pass;     /* lws service pass of the last message received */
    int64_t rx_pass_ns;   /* when its first message was handed over */
    int64_t last_msg_ns;  /* when the last message arrived (on_warm skips busy times) */

    unsigned char *slots; /* send_queue_len * (LWS_PRE + max_send_bytes) */
    size_t *slot_len;
    uint32_t q_head, q_n;
    uint64_t seq_sent, seq_written;

    uint64_t rng;
    struct clb_ws_stats stats;
};

void clb_ws_client_config_default(struct clb_ws_client_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void really_free(struct clb_ws_client *c)
{
    free(c->rx);
    free(c->slots);
    free(c->slot_len);
    free(c->url);
    free(c->protocol);
    free(c);
}

/* Ends a handler call; false when the client was destroyed meanwhile (and
 * is now freed if this was the outermost call). */
static bool leave(struct clb_ws_client *c)
{
    c->busy--;
    if (c->dead) {
        if (c->busy == 0)
            really_free(c);
        return false;
    }
    return true;
}

static void cancel_timer(struct clb_ws_client *c, uint64_t *id)
{
    if (*id)
        clb_netloop_timer_cancel(c->loop, *id);
    *id = 0;
}

static void do_connect(void *ud);
static void on_notify(void *ud);

static int64_t next_backoff_ms(struct clb_ws_client *c)
{
    int64_t d = c->cfg.backoff_min_ms;
    for (uint32_t i = 0; i < c->stats.attempt && d < c->cfg.backoff_max_ms; i++)
        d *= 2;
    if (d > c->cfg.backoff_max_ms)
        d = c->cfg.backoff_max_ms;
    int64_t half = d / 2;
    d = half + (int64_t)(splitmix(&c->rng) % (uint64_t)(d - half + 1));
    if (c->stats.attempt < 62)
        c->stats.attempt++;
    c->stats.last_backoff_ms = d;
    return d;
}

/* Detaches and forgets the current wsi; kill asks lws to close it. */
static void detach(struct clb_ws_client *c, bool kill)
{
    if (c->wsi) {
        lws_set_wsi_user(c->wsi, NULL);
        if (kill)
            lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
    c->wsi = NULL;
}

/* Common end of a connection or attempt. delay_ms < 0: backoff. When
 * defer, on_close is reported from a timer (then the reconnect follows it).
 * Returns false when a handler destroyed the client. */
static bool conn_ended(struct clb_ws_client *c, bool kill, int code, const char *why,
                       int64_t delay_ms, bool defer)
{
    detach(c, kill);
    c->st = ST_IDLE;
    cancel_timer(c, &c->t_ping);
    cancel_timer(c, &c->t_conn_timeout);
    cancel_timer(c, &c->t_age);
    cancel_timer(c, &c->t_connect);
    cancel_timer(c, &c->t_notify);
    cancel_timer(c, &c->t_resolve);
    cancel_timer(c, &c->t_warm);
    resolve_put(c->res);
    c->res = NULL;
    c->stats.send_dropped += c->q_n;
    c->q_n = 0;
    c->q_head = 0;
    c->rx_len = 0;
    c->ping_pending = false;
    c->stats.closes++;
    if (defer) {
        c->notify_code = code;
        snprintf(c->notify_why, sizeof(c->notify_why), "%s", why ? why : "");
        clb_netloop_timer_add(c->loop, 0, on_notify, c, &c->t_notify);
        return true;
    }
    int64_t d = delay_ms >= 0 ? delay_ms : next_backoff_ms(c);
    clb_netloop_timer_add(c->loop, d, do_connect, c, &c->t_connect);
    if (c->h.on_close) {
        c->busy++;
        c->h.on_close(c->ud, code, why ? why : "");
        return leave(c);
    }
    return true;
}

static void on_notify(void *ud)
{
    struct clb_ws_client *c = ud;
    c->t_notify = 0;
    clb_netloop_timer_add(c->loop, 0, do_connect, c, &c->t_connect);
    if (c->h.on_close) {
        c->busy++;
        c->h.on_close(c->ud, c->notify_code, c->notify_why);
        leave(c);
    }
}

static void on_conn_timeout(void *ud)
{
    struct clb_ws_client *c = ud;
    c->t_conn_timeout = 0;
    if (c->st == ST_CONNECTING)
        conn_ended(c, true, 1006, "connect timeout", -1, false);
}

static void on_age(void *ud)
{
    struct clb_ws_client *c = ud;
    c->t_age = 0;
    if (c->st == ST_OPEN)
        conn_ended(c, true, 1000, "max connection age reached: reconnecting", 0, false);
}

static void on_ping_timer(void *ud)
{
    struct clb_ws_client *c = ud;
    c->t_ping = 0;
    if (c->st != ST_OPEN)
        return;
    int64_t now = clb_netloop_mono_ns();
    int64_t silent_ms = (now - c->last_rx_ns) / 1000000;
    if (silent_ms > (int64_t)c->cfg.ping_interval_ms + c->cfg.pong_timeout_ms) {
        char why[96];
        snprintf(why, sizeof(why), "dead connection: nothing received for %lld ms",
                 (long long)silent_ms);
        conn_ended(c, true, 1006, why, -1, false);
        return;
    }
    c->ping_pending = true;
    lws_callback_on_writable(c->wsi);
    clb_netloop_timer_add(c->loop, c->cfg.ping_interval_ms, on_ping_timer, c, &c->t_ping);
}

/* Keeps the message path warm while the connection is quiet: on this
 * machine class (a VM sharing its cores) the caches lose a handler's code
 * and data within a few milliseconds of idleness, and a frame then costs
 * several times what it costs warm. */
static void on_warm_timer(void *ud)
{
    struct clb_ws_client *c = ud;
    c->t_warm = 0;
    if (c->st != ST_OPEN)
        return;
    clb_netloop_timer_add(c->loop, c->cfg.warm_interval_ms, on_warm_timer, c, &c->t_warm);
    int64_t quiet_ns = clb_netloop_mono_ns() - c->last_msg_ns;
    if (quiet_ns < (int64_t)c->cfg.warm_interval_ms * 1000000)
        return; /* a message went through meanwhile: it is warm */
    c->busy++;
    c->h.on_warm(c->ud);
    leave(c);
}

static void connect_to(struct clb_ws_client *c, const char *address)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = clb_netloop_lws_(c->loop);
    ci.address = address;
    ci.port = c->u.port;
    ci.path = c->u.path[0] ? c->u.path : "/";
    ci.host = c->host_hdr;
    ci.origin = c->host_hdr;
    ci.ssl_connection = c->u.tls ? LCCSCF_USE_SSL : 0;
    ci.protocol = c->protocol;
    ci.local_protocol_name = "clb-ws";
    ci.userdata = c;
    c->busy++; /* lws may report a failure synchronously */
    struct lws *wsi = lws_client_connect_via_info(&ci);
    if (!leave(c))
        return;
    if (c->st == ST_CONNECTING) {
        if (wsi)
            c->wsi = wsi;
        else
            conn_ended(c, false, 1006, "connect failed", -1, false);
    }
}

static void on_resolve_timer(void *ud)
{
    struct clb_ws_client *c = ud;
    c->t_resolve = 0;
    if (c->st != ST_CONNECTING || !c->res)
        return;
    if (!atomic_load(&c->res->done)) {
        if (c->resolve_wait_ms < 16)
            c->resolve_wait_ms *= 2;
        clb_netloop_timer_add(c->loop, c->resolve_wait_ms, on_resolve_timer, c, &c->t_resolve);
        return;
    }
    struct resolve *r = c->res;
    c->res = NULL;
    if (r->err) {
        char why[124];
        snprintf(why, sizeof(why), "connect failed: DNS lookup of %.64s: %s", r->host,
                 gai_strerror(r->err));
        resolve_put(r);
        conn_ended(c, false, 1006, why, -1, false);
        return;
    }
    char addr[INET6_ADDRSTRLEN];
    memcpy(addr, r->addr, sizeof(addr));
    resolve_put(r);
    connect_to(c, addr);
}

static void do_connect(void *ud)
{
    struct clb_ws_client *c = ud;
    c->t_connect = 0;
    if (c->st != ST_IDLE || c->dead)
        return;
    c->st = ST_CONNECTING;
    c->peer_code = 0;
    c->peer_why[0] = '\0';
    clb_netloop_timer_add(c->loop, c->cfg.connect_timeout_ms, on_conn_timeout, c,
                          &c->t_conn_timeout);
    if (c->numeric_host) {
        connect_to(c, c->u.host);
        return;
    }
    struct resolve *r = calloc(1, sizeof(*r));
    if (!r) {
        conn_ended(c, false, 1006, "connect failed: out of memory", -1, false);
        return;
    }
    atomic_init(&r->refs, 2);
    atomic_init(&r->done, false);
    snprintf(r->host, sizeof(r->host), "%s", c->u.host);
    pthread_attr_t attr;
    pthread_t th;
    bool started = pthread_attr_init(&attr) == 0;
    if (started) {
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        started = pthread_create(&th, &attr, resolve_thread, r) == 0;
        pthread_attr_destroy(&attr);
    }
    if (!started) {
        free(r);
        conn_ended(c, false, 1006, "connect failed: cannot start the resolver", -1, false);
        return;
    }
    c->res = r;
    c->resolve_wait_ms = 1;
    clb_netloop_timer_add(c->loop, 1, on_resolve_timer, c, &c->t_resolve);
}

static void deliver(struct clb_ws_client *c, const char *data, size_t len, int64_t ts)
{
    c->stats.msgs_in++;
    c->stats.bytes_in += len;
    c->h.on_message(c->ud, data, len, ts);
}

static int on_receive(struct clb_ws_client *c, struct lws *wsi, const char *in, size_t len)
{
    int64_t now = clb_netloop_mono_ns();
    c->last_rx_ns = c->last_msg_ns = now;
    /* The receive time of a message is when the read that brought it
     * happened: for the second and later messages of one read, that is
     * before the handlers of the earlier ones ran, not when lws hands
     * them over. */
    uint64_t pass = clb_netloop_lws_pass_(c->loop);
    if (pass != c->rx_pass) {
        c->rx_pass = pass;
        c->rx_pass_ns = now;
    }
    int64_t read_ns = c->rx_pass_ns;
    bool final = lws_is_final_fragment(wsi);
    if (c->rx_len == 0 && final) {
        c->busy++;
        deliver(c, in, len, read_ns);
        leave(c);
        return 0;
    }
    if (c->rx_len + len > c->cfg.max_message) {
        conn_ended(c, true, 1009, "message larger than max_message", -1, false);
        return 0;
    }
    if (c->rx_len == 0)
        c->rx_start_ns = read_ns;
    if (c->rx_len + len > c->rx_cap) {
        size_t cap = c->rx_cap ? c->rx_cap : 4096;
        while (cap < c->rx_len + len)
            cap *= 2;
        if (cap > c->cfg.max_message)
            cap = c->cfg.max_message;
        char *p = realloc(c->rx, cap);
        if (!p) {
            conn_ended(c, true, 1009, "out of memory reassembling a message", -1, false);
            return 0;
        }
        c->rx = p;
        c->rx_cap = cap;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (final) {
        size_t n = c->rx_len;
        c->rx_len = 0;
        c->busy++;
        deliver(c, c->rx, n, c->rx_start_ns);
        leave(c);
    }
    return 0;
}

static int on_writeable(struct clb_ws_client *c, struct lws *wsi)
{
    if (c->st != ST_OPEN)
        return 0;
    if (c->ping_pending) {
        unsigned char buf[LWS_PRE + 4];
        c->ping_pending = false;
        if (lws_write(wsi, buf + LWS_PRE, 0, LWS_WRITE_PING) < 0)
            return -1;
        if (c->q_n)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (!c->q_n)
        return 0;
    size_t stride = LWS_PRE + c->cfg.max_send_bytes;
    unsigned char *slot = c->slots + (size_t)c->q_head * stride;
    size_t len = c->slot_len[c->q_head];
    int64_t t0 = clb_netloop_mono_ns();
    int n = lws_write(wsi, slot + LWS_PRE, len, LWS_WRITE_TEXT);
    if (n < (int)len)
        return -1;
    int64_t t1 = clb_netloop_mono_ns();
    c->q_head = (c->q_head + 1) % c->cfg.send_queue_len;
    c->q_n--;
    c->stats.msgs_out++;
    uint64_t seq = ++c->seq_written;
    if (c->q_n)
        lws_callback_on_writable(wsi);
    if (c->h.on_sent) {
        c->busy++;
        c->h.on_sent(c->ud, seq, t0, t1);
        leave(c);
    }
    return 0;
}

/* The write-now path of clb_ws_send: nothing queued, so the message goes
 * straight to lws_write (a short write is kept and flushed by lws, in
 * order, before anything later). Returns CLB_OK (written; on_sent
 * reported), CLB_EIO (lws refused: the connection is failing). */
static int write_now(struct clb_ws_client *c, const char *data, size_t len)
{
    unsigned char *slot = c->slots + (size_t)c->q_head * (LWS_PRE + c->cfg.max_send_bytes);
    if (len)
        memcpy(slot + LWS_PRE, data, len);
    int64_t t0 = clb_netloop_mono_ns();
    int n = lws_write(c->wsi, slot + LWS_PRE, len, LWS_WRITE_TEXT);
    if (n < (int)len)
        return CLB_EIO;
    int64_t t1 = clb_netloop_mono_ns();
    c->seq_sent++;
    c->stats.msgs_out++;
    uint64_t seq = ++c->seq_written;
    clb_netloop_lws_kick_(c->loop); /* lws may have kept a tail to flush */
    if (c->h.on_sent) {
        c->busy++;
        c->h.on_sent(c->ud, seq, t0, t1);
        leave(c);
    }
    return CLB_OK;
}

int clb_ws_lws_callback_(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                         void *in, size_t len)
{
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
    case LWS_CALLBACK_CLIENT_RECEIVE:
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
    case LWS_CALLBACK_CLIENT_WRITEABLE:
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        break;
    default:
        return 0; /* for some reasons (TLS verification) `user` is not ours */
    }
    struct clb_ws_client *c = user;
    if (!c || c->dead || (c->wsi && c->wsi != wsi))
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        if (c->st != ST_CONNECTING)
            return 0;
        c->wsi = wsi;
        c->st = ST_OPEN;
        c->stats.opens++;
        c->stats.attempt = 0;
        c->last_rx_ns = clb_netloop_mono_ns();
        c->seq_written = c->seq_sent; /* nothing older can still be written */
        cancel_timer(c, &c->t_conn_timeout);
        if (c->cfg.ping_interval_ms > 0)
            clb_netloop_timer_add(c->loop, c->cfg.ping_interval_ms, on_ping_timer, c, &c->t_ping);
        if (c->cfg.max_age_ms > 0)
            clb_netloop_timer_add(c->loop, c->cfg.max_age_ms, on_age, c, &c->t_age);
        c->last_msg_ns = c->last_rx_ns;
        if (c->cfg.warm_interval_ms > 0 && c->h.on_warm)
            clb_netloop_timer_add(c->loop, c->cfg.warm_interval_ms, on_warm_timer, c,
                                  &c->t_warm);
        if (c->h.on_open) {
            c->busy++;
            c->h.on_open(c->ud);
            leave(c);
        }
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c->st == ST_OPEN)
            on_receive(c, wsi, in, len);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        c->last_rx_ns = clb_netloop_mono_ns();
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        return on_writeable(c, wsi);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (in && len >= 2) {
            const unsigned char *p = in;
            c->peer_code = (p[0] << 8) | p[1];
            size_t n = len - 2 < sizeof(c->peer_why) - 1 ? len - 2 : sizeof(c->peer_why) - 1;
            memcpy(c->peer_why, p + 2, n);
            c->peer_why[n] = '\0';
        }
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR: {
        char why[124];
        const char *msg = in ? (const char *)in : "unknown";
        int n = in ? (int)strnlen(msg, len) : 7;
        snprintf(why, sizeof(why), "connect failed: %.*s", n, msg);
        c->wsi = wsi;
        conn_ended(c, false, 1006, why, -1, false);
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CLOSED:
    case LWS_CALLBACK_WSI_DESTROY:
        if (c->st == ST_IDLE)
            return 0;
        c->wsi = wsi;
        if (c->peer_code) {
            char why[160];
            snprintf(why, sizeof(why), "closed by peer%s%s", c->peer_why[0] ? ": " : "",
                     c->peer_why);
            conn_ended(c, false, c->peer_code, why, -1, false);
        } else {
            conn_ended(c, false, 1006, "connection lost", -1, false);
        }
        return 0;
    default:
        return 0;
    }
}

int clb_ws_client_create(struct clb_netloop *l, const struct clb_ws_client_config *cfg,
                         const struct clb_ws_handlers *h, void *ud, struct clb_ws_client **out)
{
    if (!out)
        return CLB_EINVAL;
    *out = NULL;
    if (!l || !cfg || !cfg->url || !h || !h->on_message)
        return CLB_EINVAL;
    if (clb_net_url_check(cfg->url, NULL, 0) != CLB_OK)
        return CLB_EINVAL;
    if (cfg->backoff_min_ms < 0 || cfg->backoff_max_ms < 0 || cfg->connect_timeout_ms < 0 ||
        cfg->pong_timeout_ms < 0 || cfg->max_age_ms < 0 || cfg->warm_interval_ms < 0)
        return CLB_EINVAL;
    struct clb_ws_client *c = calloc(1, sizeof(*c));
    if (!c)
        return CLB_ENOMEM;
    c->loop = l;
    c->cfg = *cfg;
    c->h = *h;
    c->ud = ud;
    struct clb_ws_client_config *k = &c->cfg;
    if (!k->ping_interval_ms)
        k->ping_interval_ms = 20000;
    if (!k->pong_timeout_ms)
        k->pong_timeout_ms = k->ping_interval_ms > 0 ? k->ping_interval_ms : 20000;
    if (!k->connect_timeout_ms)
        k->connect_timeout_ms = 10000;
    if (!k->backoff_min_ms)
        k->backoff_min_ms = 250;
    if (!k->backoff_max_ms)
        k->backoff_max_ms = 30000;
    if (k->backoff_max_ms < k->backoff_min_ms)
        k->backoff_max_ms = k->backoff_min_ms;
    if (!k->max_message)
        k->max_message = 1u << 20;
    if (!k->send_queue_len)
        k->send_queue_len = 64;
    if (!k->max_send_bytes)
        k->max_send_bytes = 4096;
    c->url = strdup(cfg->url);
    c->protocol = cfg->protocol ? strdup(cfg->protocol) : NULL;
    k->url = c->url;
    k->protocol = c->protocol;
    c->slots = malloc((size_t)k->send_queue_len * (LWS_PRE + k->max_send_bytes));
    c->slot_len = calloc(k->send_queue_len, sizeof(*c->slot_len));
    if (!c->url || (cfg->protocol && !c->protocol) || !c->slots || !c->slot_len) {
        really_free(c);
        return CLB_ENOMEM;
    }
    if (clb_net_url_parse(c->url, &c->u, NULL, 0) != CLB_OK ||
        (c->u.scheme != CLB_NET_WS && c->u.scheme != CLB_NET_WSS)) {
        really_free(c);
        return CLB_EINVAL;
    }
    bool v6 = strchr(c->u.host, ':') != NULL;
    unsigned char abuf[sizeof(struct in6_addr)];
    c->numeric_host = inet_pton(AF_INET, c->u.host, abuf) == 1 ||
                      inet_pton(AF_INET6, c->u.host, abuf) == 1;
    bool dflt = c->u.port == 443 || c->u.port == 80;
    if (dflt)
        snprintf(c->host_hdr, sizeof(c->host_hdr), v6 ? "[%s]" : "%s", c->u.host);
    else
        snprintf(c->host_hdr, sizeof(c->host_hdr), v6 ? "[%s]:%d" : "%s:%d", c->u.host,
                 c->u.port);
    c->rng = cfg->seed ? cfg->seed
                       : (uint64_t)clb_netloop_mono_ns() ^ (uint64_t)(uintptr_t)c;
    c->st = ST_IDLE;
    if (clb_netloop_timer_add(l, 0, do_connect, c, &c->t_connect) != CLB_OK) {
        really_free(c);
        return CLB_EFULL;
    }
    *out = c;
    return CLB_OK;
}

void clb_ws_client_destroy(struct clb_ws_client *c)
{
    if (!c || c->dead)
        return;
    c->dead = true;
    detach(c, true);
    cancel_timer(c, &c->t_connect);
    cancel_timer(c, &c->t_ping);
    cancel_timer(c, &c->t_conn_timeout);
    cancel_timer(c, &c->t_age);
    cancel_timer(c, &c->t_notify);
    cancel_timer(c, &c->t_resolve);
    cancel_timer(c, &c->t_warm);
    resolve_put(c->res);
    c->res = NULL;
    if (c->busy == 0)
        really_free(c);
}

int clb_ws_send(struct clb_ws_client *c, const char *data, size_t len)
{
    if (!c || (!data && len))
        return CLB_EINVAL;
    if (c->st != ST_OPEN || !c->wsi)
        return CLB_ENOTREADY;
    if (len > c->cfg.max_send_bytes)
        return CLB_ERANGE;
    if (c->q_n >= c->cfg.send_queue_len)
        return CLB_EFULL;
    if (c->q_n == 0 && c->cfg.write_now)
        return write_now(c, data, len);
    uint32_t i = (c->q_head + c->q_n) % c->cfg.send_queue_len;
    unsigned char *slot = c->slots + (size_t)i * (LWS_PRE + c->cfg.max_send_bytes);
    if (len)
        memcpy(slot + LWS_PRE, data, len);
    c->slot_len[i] = len;
    c->q_n++;
    c->seq_sent++;
    lws_callback_on_writable(c->wsi);
    clb_netloop_lws_kick_(c->loop);
    return CLB_OK;
}

uint64_t clb_ws_last_seq(const struct clb_ws_client *c)
{
    return c ? c->seq_sent : 0;
}

int clb_ws_reconnect(struct clb_ws_client *c)
{
    if (!c || c->dead)
        return CLB_EINVAL;
    if (c->st == ST_IDLE) {
        if (c->t_notify)
            return CLB_OK; /* a report and an immediate reconnect are already due */
        cancel_timer(c, &c->t_connect);
        c->stats.attempt = 0;
        return clb_netloop_timer_add(c->loop, 0, do_connect, c, &c->t_connect);
    }
    conn_ended(c, true, 1000, "reconnect requested", 0, true);
    return CLB_OK;
}

bool clb_ws_is_open(const struct clb_ws_client *c)
{
    return c && c->st == ST_OPEN;
}

void clb_ws_get_stats(const struct clb_ws_client *c, struct clb_ws_stats *out)
{
    if (c && out)
        *out = c->stats;
}
