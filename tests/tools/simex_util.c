/*
 * simex_util.c — see simex_util.h. The WebSocket client runs its own lws
 * context on the test thread; a 5 ms timer keeps lws_service returning so
 * reads can time out.
 */
#include "simex_util.h"

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libwebsockets.h>

#include "error.h"

const char *sxt_trade_ids(json_t *trade, json_t *orders, char tid[32])
{
    snprintf(tid, 32, "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(trade, "tradeId")));
    json_int_t oid = json_integer_value(json_object_get(trade, "orderId"));
    const char *cid = NULL;
    size_t k;
    json_t *o;
    json_array_foreach(orders, k, o)
        if (json_integer_value(json_object_get(o, "orderId")) == oid)
            cid = json_string_value(json_object_get(o, "clientOrderId"));
    return cid;
}

int64_t sxt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sxt_sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

void sxt_hmac(const char *secret, const char *msg, char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, strlen(msg), mac,
         &n);
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* ------------------------------------------------------------------------ */
/* Simulator on a thread                                                     */

void sxt_config(struct clb_simex_config *cfg)
{
    clb_simex_config_default(cfg);
    cfg->port = 0;
    cfg->quiet = true;
    cfg->seed = 7;
    for (uint32_t i = 0; i < cfg->n_symbols; i++)
        cfg->symbols[i].live = false;
    cfg->limits.window_ms = 3600000;
    cr_assert_eq(clb_simex_config_add_account(cfg, SXT_ALICE ":" SXT_ALICE_SECRET), CLB_OK);
    cr_assert_eq(clb_simex_config_add_account(cfg, SXT_BOB ":" SXT_BOB_SECRET), CLB_OK);
}

static void *run_thread(void *arg)
{
    struct sxt *t = arg;
    clb_simex_run(t->sim);
    return NULL;
}

void sxt_start(struct sxt *t, const struct clb_simex_config *cfg)
{
    char err[256];
    lws_set_log_level(LLL_ERR, NULL);
    int rc = clb_simex_create(cfg, &t->sim, err, sizeof(err));
    cr_assert_eq(rc, CLB_OK, "clb_simex_create: %s", err);
    t->port = clb_simex_port(t->sim);
    cr_assert_gt(t->port, 0);
    cr_assert_eq(pthread_create(&t->thread, NULL, run_thread, t), 0);
}

void sxt_stop(struct sxt *t)
{
    clb_simex_stop(t->sim);
    pthread_join(t->thread, NULL);
    clb_simex_destroy(t->sim);
    t->sim = NULL;
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                      */

struct grow {
    char *p;
    size_t n;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct grow *g = ud;
    size_t len = size * nmemb;
    char *np = realloc(g->p, g->n + len + 1);
    if (!np)
        return 0;
    g->p = np;
    memcpy(g->p + g->n, data, len);
    g->n += len;
    g->p[g->n] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct sxt_http *r = ud;
    size_t len = size * nmemb, have = strlen(r->headers);
    if (have + len + 1 < sizeof(r->headers)) {
        memcpy(r->headers + have, data, len);
        r->headers[have + len] = '\0';
    }
    return len;
}

void sxt_http(struct sxt *t, const char *method, const char *path_query, const char *body,
              const char *api_key, long timeout_ms, struct sxt_http *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    cr_assert(c);
    char url[8192];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", t->port, path_query);
    struct grow g = { NULL, 0 };
    struct curl_slist *hdrs = NULL;
    char kh[256];
    if (api_key) {
        snprintf(kh, sizeof(kh), "X-MBX-APIKEY: %s", api_key);
        hdrs = curl_slist_append(hdrs, kh);
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    if (hdrs)
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &g);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 10000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    out->curl_rc = (int)curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &out->secs);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    out->body = g.p ? g.p : strdup("");
    out->json = json_loads(out->body, JSON_DECODE_ANY, NULL);
}

void sxt_signed(struct sxt *t, const char *method, const char *path, const char *params,
                const char *key, const char *secret, bool in_body, struct sxt_http *out)
{
    char payload[4096], sig[65], full[8192];
    if (strstr(params, "timestamp="))
        snprintf(payload, sizeof(payload), "%s", params);
    else
        snprintf(payload, sizeof(payload), "%s%stimestamp=%lld", params, *params ? "&" : "",
                 (long long)sxt_now_ms());
    sxt_hmac(secret, payload, sig);
    if (in_body) {
        char body[4200];
        snprintf(body, sizeof(body), "%s&signature=%s", payload, sig);
        sxt_http(t, method, path, body, key, 0, out);
    } else {
        snprintf(full, sizeof(full), "%s?%s&signature=%s", path, payload, sig);
        sxt_http(t, method, full, NULL, key, 0, out);
    }
}

void sxt_http_free(struct sxt_http *r)
{
    free(r->body);
    json_decref(r->json);
    r->body = NULL;
    r->json = NULL;
}

const char *sxt_header(const struct sxt_http *r, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = r->headers; *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            end = line + strlen(line);
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(end - v);
            if (vl >= cap)
                vl = cap - 1;
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        line = *end ? end + 2 : end;
    }
    return NULL;
}

int sxt_code(const struct sxt_http *r)
{
    json_t *c = json_is_object(r->json) ? json_object_get(r->json, "code") : NULL;
    return c ? (int)json_integer_value(c) : 0;
}

void sxt_sim_post(struct sxt *t, const char *path, const char *json)
{
    struct sxt_http r;
    sxt_http(t, "POST", path, json, NULL, 0, &r);
    cr_assert_eq(r.status, 200, "POST %s %s -> %ld %s", path, json, r.status, r.body);
    sxt_http_free(&r);
}

/* ------------------------------------------------------------------------ */
/* WebSocket client                                                          */

struct sxt_msg {
    struct sxt_msg *next;
    char *text;
};

struct sxt_ws {
    struct lws_context *ctx;
    struct lws *wsi;
    bool established;
    bool closed;
    int close_code;
    int pongs;
    bool want_ping;
    struct sxt_msg *in_head, *in_tail;
    struct sxt_msg *out_head, *out_tail;
    char *rx;
    size_t rx_len, rx_cap;
    lws_sorted_usec_list_t sul;
};

static void push(struct sxt_msg **head, struct sxt_msg **tail, const char *text, size_t len)
{
    struct sxt_msg *m = calloc(1, sizeof(*m));
    m->text = malloc(len + 1);
    memcpy(m->text, text, len);
    m->text[len] = '\0';
    if (*tail)
        (*tail)->next = m;
    else
        *head = m;
    *tail = m;
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    (void)user;
    struct sxt_ws *w = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        w->established = true;
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        w->closed = true;
        w->wsi = NULL;
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            w->close_code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
        w->pongs++;
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (w->rx_len + len + 1 > w->rx_cap) {
            w->rx_cap = (w->rx_len + len + 1) * 2;
            w->rx = realloc(w->rx, w->rx_cap);
        }
        memcpy(w->rx + w->rx_len, in, len);
        w->rx_len += len;
        if (lws_is_final_fragment(wsi) && lws_remaining_packet_payload(wsi) == 0) {
            push(&w->in_head, &w->in_tail, w->rx, w->rx_len);
            w->rx_len = 0;
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (w->want_ping) {
            unsigned char buf[LWS_PRE + 4];
            memcpy(buf + LWS_PRE, "hi", 2);
            w->want_ping = false;
            if (lws_write(wsi, buf + LWS_PRE, 2, LWS_WRITE_PING) < 0)
                return -1;
        } else if (w->out_head) {
            struct sxt_msg *m = w->out_head;
            size_t n = strlen(m->text);
            unsigned char *buf = malloc(LWS_PRE + n);
            memcpy(buf + LWS_PRE, m->text, n);
            int rc = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
            free(buf);
            w->out_head = m->next;
            if (!w->out_head)
                w->out_tail = NULL;
            free(m->text);
            free(m);
            if (rc < 0)
                return -1;
        }
        if (w->out_head || w->want_ping)
            lws_callback_on_writable(wsi);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols client_protocols[] = {
    { "sxt-client", client_cb, 0, 65536, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void wake(lws_sorted_usec_list_t *sul)
{
    struct sxt_ws *w = lws_container_of(sul, struct sxt_ws, sul);
    lws_sul_schedule(w->ctx, 0, &w->sul, wake, 5000);
}

static void service(struct sxt_ws *w)
{
    lws_service(w->ctx, 0);
}

struct sxt_ws *sxt_ws_open(int port, const char *path)
{
    struct sxt_ws *w = calloc(1, sizeof(*w));
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = client_protocols;
    info.user = w;
    w->ctx = lws_create_context(&info);
    cr_assert(w->ctx);
    lws_sul_schedule(w->ctx, 0, &w->sul, wake, 5000);
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof(ci));
    ci.context = w->ctx;
    ci.address = "127.0.0.1";
    ci.port = port;
    ci.path = path;
    ci.host = "127.0.0.1";
    ci.origin = "127.0.0.1";
    ci.protocol = NULL;
    ci.pwsi = &w->wsi;
    lws_client_connect_via_info(&ci);
    int64_t until = sxt_now_ms() + 3000;
    while (!w->established && !w->closed && sxt_now_ms() < until)
        service(w);
    if (!w->established) {
        sxt_ws_close(w);
        return NULL;
    }
    return w;
}

void sxt_ws_send(struct sxt_ws *w, const char *text)
{
    if (!w->wsi)
        return;
    push(&w->out_head, &w->out_tail, text, strlen(text));
    lws_callback_on_writable(w->wsi);
    service(w);
}

void sxt_ws_ping(struct sxt_ws *w)
{
    if (!w->wsi)
        return;
    w->want_ping = true;
    lws_callback_on_writable(w->wsi);
    service(w);
}

char *sxt_ws_recv(struct sxt_ws *w, int timeout_ms)
{
    int64_t until = sxt_now_ms() + timeout_ms;
    while (!w->in_head && !w->closed && sxt_now_ms() < until)
        service(w);
    struct sxt_msg *m = w->in_head;
    if (!m)
        return NULL;
    w->in_head = m->next;
    if (!w->in_head)
        w->in_tail = NULL;
    char *t = m->text;
    free(m);
    return t;
}

json_t *sxt_ws_recv_json(struct sxt_ws *w, int timeout_ms)
{
    char *t = sxt_ws_recv(w, timeout_ms);
    if (!t)
        return NULL;
    json_t *j = json_loads(t, 0, NULL);
    cr_assert(j, "not JSON: %s", t);
    free(t);
    return j;
}

void sxt_ws_pump(struct sxt_ws *w, int ms)
{
    int64_t until = sxt_now_ms() + ms;
    while (!w->closed && sxt_now_ms() < until)
        service(w);
}

bool sxt_ws_closed(const struct sxt_ws *w)
{
    return w->closed;
}

int sxt_ws_close_code(const struct sxt_ws *w)
{
    return w->close_code;
}

int sxt_ws_pongs(const struct sxt_ws *w)
{
    return w->pongs;
}

void sxt_ws_close(struct sxt_ws *w)
{
    if (!w)
        return;
    lws_sul_cancel(&w->sul);
    lws_context_destroy(w->ctx);
    for (struct sxt_msg *m = w->in_head, *n; m; m = n) {
        n = m->next;
        free(m->text);
        free(m);
    }
    for (struct sxt_msg *m = w->out_head, *n; m; m = n) {
        n = m->next;
        free(m->text);
        free(m);
    }
    free(w->rx);
    free(w);
}
