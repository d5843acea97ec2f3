/*
 * simex_server.c — the simulator's process side: one libwebsockets context
 * with one vhost serving HTTP (REST, /sim/) and WebSockets (market streams,
 * WS-API) through a single protocol callback, plus two timers (lws_sul):
 * the market timer, due at the next synthetic record, and a 100 ms tick
 * that emits depth updates and applies the connection-level faults.
 *
 * HTTP. A request is answered from LWS_CALLBACK_HTTP (no body) or
 * LWS_CALLBACK_HTTP_BODY_COMPLETION, exactly once (lws reports a body
 * completion for an empty POST body as well); the response text is kept in the
 * per-session data and written at the next HTTP_WRITEABLE, which the
 * latency fault postpones with a per-session timer. A request held by the
 * timeout-after-commit fault is never written; lws closes the connection
 * after timeout_hold_ms.
 *
 * WebSockets. Each connection (struct sx_conn) has a FIFO of outgoing
 * messages bounded by SX_OUTQ_MAX bytes (a slower client is dropped) and,
 * for WS-API responses delayed by the latency fault, a second FIFO released
 * by a per-connection timer. Market stream events are built once and
 * wrapped per connection for combined streams.
 *
 * Memory: per-session data holds fixed request buffers; connections,
 * messages and response texts are heap blocks freed when sent or closed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "simex_internal.h"

#define TICK_US 100000
#define MAX_QUERY 32
#define QUERY_STORE 4096

/* Per-session data (HTTP requests; WebSockets point to their sx_conn). */
struct sx_pss {
    struct sx_conn *conn;
    /* HTTP */
    struct lws *wsi;
    char method[8];
    char path[256];
    char ip[64];
    char api_key[CLB_SIMEX_KEY_MAX];
    bool has_api_key;
    bool api_key_too_long;
    char query[QUERY_STORE]; /* decoded "k=v" fragments, NUL-separated */
    const char *qp[MAX_QUERY];
    uint32_t nq;
    bool query_overflow;
    char body[SX_BODY_MAX];
    size_t body_len;
    bool body_overflow;
    char *resp;
    size_t resp_len;
    int status;
    char headers[512];
    bool ready;
    bool processed; /* the request was executed (lws may still report a body completion) */
    lws_sorted_usec_list_t sul;
};

void sx_log(const struct clb_simex *s, const char *fmt, ...)
{
    if (s && s->cfg.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "colibri-simex: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static int64_t wall_ms(void)
{
    return sx_wall_ns() / 1000000;
}

static struct clb_simex *sim_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ------------------------------------------------------------------------ */
/* WebSocket queues                                                          */

static struct sx_msg *msg_new(const char *text, size_t len)
{
    struct sx_msg *m = malloc(sizeof(*m) + LWS_PRE + len);
    if (!m)
        return NULL;
    m->next = NULL;
    m->due_us = 0;
    m->len = len;
    m->close_after = false;
    memcpy(m->data + LWS_PRE, text, len);
    return m;
}

static void conn_push(struct sx_conn *c, const char *text, size_t len)
{
    if (c->close_now)
        return;
    if (c->queued + len > SX_OUTQ_MAX) {
        sx_log(c->sim, "dropping a slow WebSocket client (%zu bytes queued)", c->queued);
        c->close_now = true;
        c->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
        lws_callback_on_writable(c->wsi);
        return;
    }
    struct sx_msg *m = msg_new(text, len);
    if (!m)
        return;
    if (c->tail)
        c->tail->next = m;
    else
        c->head = m;
    c->tail = m;
    c->queued += len;
    lws_callback_on_writable(c->wsi);
}

static void conn_close(struct sx_conn *c, int code);

static void conn_release_delayed(lws_sorted_usec_list_t *sul)
{
    struct sx_conn *c = lws_container_of(sul, struct sx_conn, sul);
    lws_usec_t now = lws_now_usecs();
    while (c->dhead && c->dhead->due_us <= now) {
        struct sx_msg *m = c->dhead;
        c->dhead = m->next;
        if (!c->dhead)
            c->dtail = NULL;
        m->next = NULL;
        if (c->tail)
            c->tail->next = m;
        else
            c->head = m;
        c->tail = m;
        lws_callback_on_writable(c->wsi);
    }
    if (c->dhead)
        lws_sul_schedule(c->sim->ctx, 0, &c->sul, conn_release_delayed, c->dhead->due_us - now);
}

/* Queues a WS-API response after delay_ms (FIFO: never before an earlier one). */
static void conn_push_delayed(struct sx_conn *c, const char *text, size_t len, int64_t delay_ms)
{
    if (delay_ms <= 0 && !c->dhead) {
        conn_push(c, text, len);
        return;
    }
    if (c->queued + len > SX_OUTQ_MAX) {
        conn_close(c, LWS_CLOSE_STATUS_POLICY_VIOLATION);
        return;
    }
    struct sx_msg *m = msg_new(text, len);
    if (!m)
        return;
    lws_usec_t due = lws_now_usecs() + delay_ms * 1000;
    if (c->dtail && c->dtail->due_us > due)
        due = c->dtail->due_us;
    m->due_us = due;
    c->queued += len;
    if (c->dtail)
        c->dtail->next = m;
    else
        c->dhead = m;
    c->dtail = m;
    lws_sul_schedule(c->sim->ctx, 0, &c->sul, conn_release_delayed,
                     c->dhead->due_us - lws_now_usecs());
}

static void conn_close(struct sx_conn *c, int code)
{
    if (c->close_now)
        return;
    c->close_now = true;
    c->close_code = code;
    lws_callback_on_writable(c->wsi);
}

static void free_list(struct sx_msg *m)
{
    while (m) {
        struct sx_msg *n = m->next;
        free(m);
        m = n;
    }
}

/* ------------------------------------------------------------------------ */
/* Publishing                                                                */

void sx_publish_market(struct clb_simex *s, uint32_t market, int kind, const char *payload,
                       size_t len)
{
    bool depth = kind == SX_ST_DEPTH100 || kind == SX_ST_DEPTH1000;
    for (uint32_t i = 0; i < s->n_conns; i++) {
        struct sx_conn *c = s->conns[i];
        if (c->kind != SX_CONN_MARKET)
            continue;
        for (uint32_t k = 0; k < c->n_subs; k++) {
            if (c->subs[k].market != market || c->subs[k].kind != kind)
                continue;
            if (depth && s->faults.depth_drop_rate > 0 &&
                clb_rng_uniform(&s->fault_rng) < s->faults.depth_drop_rate) {
                s->stat_depth_dropped++;
                continue;
            }
            if (!c->combined) {
                conn_push(c, payload, len);
                continue;
            }
            struct sx_sb b;
            sx_sb_init(&b, len + 128);
            sx_sb_puts(&b, "{\"stream\":");
            sx_sb_json_str(&b, c->subs[k].name);
            sx_sb_puts(&b, ",\"data\":");
            sx_sb_put(&b, payload, len);
            sx_sb_puts(&b, "}");
            if (!b.failed)
                conn_push(c, b.p, b.len);
            sx_sb_free(&b);
        }
    }
}

void sx_publish_user(struct clb_simex *s, uint32_t user, const char *event, size_t len)
{
    for (uint32_t i = 0; i < s->n_conns; i++) {
        struct sx_conn *c = s->conns[i];
        if (c->kind != SX_CONN_WSAPI)
            continue;
        for (uint32_t k = 0; k < c->n_usubs; k++) {
            if (c->usubs[k].user != user)
                continue;
            struct sx_sb b;
            sx_sb_init(&b, len + 128);
            sx_sb_printf(&b, "{\"subscriptionId\":%u,\"event\":", c->usubs[k].id);
            sx_sb_put(&b, event, len);
            sx_sb_puts(&b, "}");
            if (!b.failed)
                conn_push(c, b.p, b.len);
            sx_sb_free(&b);
        }
    }
}

void sx_server_shutdown_event(struct clb_simex *s)
{
    char buf[160];
    int64_t now = sx_now_ms(s);
    for (uint32_t i = 0; i < s->n_conns; i++) {
        struct sx_conn *c = s->conns[i];
        int n = c->kind == SX_CONN_WSAPI
                    ? snprintf(buf, sizeof(buf),
                               "{\"event\":{\"e\":\"serverShutdown\",\"E\":%" PRId64 "}}", now)
                    : snprintf(buf, sizeof(buf), "{\"e\":\"serverShutdown\",\"E\":%" PRId64 "}",
                               now);
        conn_push(c, buf, (size_t)n);
    }
    s->shutdown_close_ms = wall_ms() + (s->faults.shutdown_grace_ms > 0
                                            ? s->faults.shutdown_grace_ms
                                            : 1);
    sx_log(s, "serverShutdown sent to %u WebSocket(s)", s->n_conns);
}

void sx_server_close_all(struct clb_simex *s, int code)
{
    for (uint32_t i = 0; i < s->n_conns; i++)
        conn_close(s->conns[i], code);
}

/* ------------------------------------------------------------------------ */
/* Subscriptions                                                             */

static int stream_kind(const char *rest)
{
    if (strcmp(rest, "depth@100ms") == 0)
        return SX_ST_DEPTH100;
    if (strcmp(rest, "depth") == 0 || strcmp(rest, "depth@1000ms") == 0)
        return SX_ST_DEPTH1000;
    if (strcmp(rest, "trade") == 0)
        return SX_ST_TRADE;
    if (strcmp(rest, "bookTicker") == 0)
        return SX_ST_BOOKTICKER;
    return -1;
}

/* Parses "btcusdt@depth@100ms"; false for an unknown stream. */
static bool parse_stream(struct clb_simex *s, const char *name, uint32_t *market, int *kind)
{
    const char *at = strchr(name, '@');
    if (!at || (size_t)(at - name) >= CLB_SIMEX_NAME_MAX)
        return false;
    char sym[CLB_SIMEX_NAME_MAX];
    memcpy(sym, name, (size_t)(at - name));
    sym[at - name] = '\0';
    for (uint32_t i = 0; i < s->n_markets; i++)
        if (strcmp(s->markets[i].lower, sym) == 0) {
            *market = i;
            *kind = stream_kind(at + 1);
            return *kind >= 0;
        }
    return false;
}

static bool conn_subscribe(struct sx_conn *c, const char *name)
{
    struct clb_simex *s = c->sim;
    uint32_t market;
    int kind;
    if (strlen(name) >= sizeof(c->subs[0].name) || !parse_stream(s, name, &market, &kind))
        return false;
    for (uint32_t k = 0; k < c->n_subs; k++)
        if (strcmp(c->subs[k].name, name) == 0)
            return true;
    if (c->n_subs >= SX_MAX_SUBS)
        return false;
    struct sx_sub *sub = &c->subs[c->n_subs++];
    sub->market = market;
    sub->kind = (uint8_t)kind;
    snprintf(sub->name, sizeof(sub->name), "%s", name);
    s->markets[market].subs[kind]++;
    return true;
}

static void conn_unsubscribe(struct sx_conn *c, const char *name)
{
    for (uint32_t k = 0; k < c->n_subs; k++) {
        if (strcmp(c->subs[k].name, name) != 0)
            continue;
        c->sim->markets[c->subs[k].market].subs[c->subs[k].kind]--;
        c->subs[k] = c->subs[--c->n_subs];
        return;
    }
}

static void subscribe_list(struct sx_conn *c, char *list)
{
    for (char *tok = strtok(list, "/"); tok; tok = strtok(NULL, "/"))
        conn_subscribe(c, tok);
}

/* {"method":"SUBSCRIBE"|"UNSUBSCRIBE"|"LIST_SUBSCRIPTIONS","params":[..],"id":..} */
static void market_control(struct sx_conn *c, const char *text, size_t len)
{
    json_t *root = json_loadb(text, len, 0, NULL);
    json_t *id = json_object_get(root, "id");
    const char *method = json_string_value(json_object_get(root, "method"));
    json_t *params = json_object_get(root, "params");
    json_t *reply = NULL;
    if (!method) {
        reply = json_pack("{s:{s:i, s:s}, s:O?}", "error", "code", 2, "msg", "Invalid request",
                          "id", id);
    } else if (strcmp(method, "SUBSCRIBE") == 0 || strcmp(method, "UNSUBSCRIBE") == 0) {
        bool ok = json_is_array(params);
        size_t i;
        json_t *v;
        json_array_foreach(params, i, v) {
            const char *name = json_string_value(v);
            if (!name) {
                ok = false;
                continue;
            }
            if (method[0] == 'S')
                ok = conn_subscribe(c, name) && ok;
            else
                conn_unsubscribe(c, name);
        }
        reply = ok ? json_pack("{s:n, s:O?}", "result", "id", id)
                   : json_pack("{s:{s:i, s:s}, s:O?}", "error", "code", 2, "msg",
                               "Invalid request: unknown stream name", "id", id);
    } else if (strcmp(method, "LIST_SUBSCRIPTIONS") == 0) {
        json_t *arr = json_array();
        for (uint32_t k = 0; k < c->n_subs; k++)
            json_array_append_new(arr, json_string(c->subs[k].name));
        reply = json_pack("{s:o, s:O?}", "result", arr, "id", id);
    } else {
        reply = json_pack("{s:{s:i, s:s}, s:O?}", "error", "code", 2, "msg",
                          "Invalid request: unknown method", "id", id);
    }
    char *txt = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
    if (txt)
        conn_push(c, txt, strlen(txt));
    free(txt);
    json_decref(reply);
    json_decref(root);
}

/* ------------------------------------------------------------------------ */
/* WS-API                                                                    */

static void param_from_json(struct sx_params *ps, const char *key, json_t *v)
{
    char buf[64];
    const char *txt = NULL;
    char *dumped = NULL;
    switch (json_typeof(v)) {
    case JSON_STRING:
        txt = json_string_value(v);
        break;
    case JSON_INTEGER:
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        txt = buf;
        break;
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
        txt = buf;
        break;
    case JSON_TRUE:
        txt = "true";
        break;
    case JSON_FALSE:
        txt = "false";
        break;
    case JSON_NULL:
        txt = "";
        break;
    default:
        dumped = json_dumps(v, JSON_COMPACT);
        txt = dumped ? dumped : "";
        break;
    }
    sx_params_add(ps, key, strlen(key), txt, strlen(txt), SX_SRC_JSON, true);
    free(dumped);
}

static void wsapi_message(struct sx_conn *c, const char *text, size_t len)
{
    struct clb_simex *s = c->sim;
    json_t *root = json_loadb(text, len, 0, NULL);
    json_t *id = json_object_get(root, "id");
    const char *method = json_string_value(json_object_get(root, "method"));
    json_t *params = json_object_get(root, "params");
    struct sx_req *rq = calloc(1, sizeof(*rq));
    struct sx_resp r;
    sx_resp_init(&r);
    if (!rq) {
        json_decref(root);
        return;
    }
    if (!root || !method || (params && !json_is_object(params))) {
        r.status = 400;
        r.code = -1102;
        snprintf(r.msg, sizeof(r.msg), "Invalid JSON request: expected {id, method, params}.");
    } else {
        rq->ws = true;
        rq->path = method;
        rq->ip = c->ip;
        sx_params_init(&rq->params);
        const char *key;
        json_t *v;
        json_object_foreach(params, key, v) {
            param_from_json(&rq->params, key, v);
        }
        sx_params_ws_payload(&rq->params);
        sx_api_handle(s, rq, &r);
        if (r.subscribe && r.result) {
            if (c->n_usubs >= SX_MAX_USER_SUBS) {
                sx_resp_free(&r);
                r.status = 400;
                r.code = -1191;
                snprintf(r.msg, sizeof(r.msg), "Too many subscriptions.");
            } else {
                uint32_t sid = c->next_sub_id++;
                c->usubs[c->n_usubs++] = (struct sx_usub){ (uint32_t)r.subscribe_user, sid };
                json_object_set_new(r.result, "subscriptionId", json_integer(sid));
            }
        }
        if (r.unsubscribe) {
            uint32_t k = 0;
            for (uint32_t i = 0; i < c->n_usubs; i++)
                if (r.unsubscribe_id >= 0 && c->usubs[i].id != (uint32_t)r.unsubscribe_id)
                    c->usubs[k++] = c->usubs[i];
            c->n_usubs = k;
        }
    }
    if (!r.hold) {
        size_t n;
        char *txt = sx_resp_ws_body(s, &r, id, &n);
        if (txt)
            conn_push_delayed(c, txt, n, r.delay_ms);
        free(txt);
    }
    sx_resp_free(&r);
    free(rq);
    json_decref(root);
}

/* ------------------------------------------------------------------------ */
/* HTTP                                                                      */

static bool loopback(const char *ip)
{
    return strncmp(ip, "127.", 4) == 0 || strcmp(ip, "::1") == 0 ||
           strncmp(ip, "::ffff:127.", 11) == 0 || strcmp(ip, "localhost") == 0;
}

static void pss_reset(struct sx_pss *p)
{
    lws_sul_cancel(&p->sul);
    free(p->resp);
    p->resp = NULL;
    p->resp_len = 0;
    p->ready = false;
    p->processed = false;
    p->body_len = 0;
    p->body_overflow = false;
    p->nq = 0;
    p->query_overflow = false;
    p->has_api_key = false;
    p->api_key_too_long = false;
}

static void http_later(lws_sorted_usec_list_t *sul)
{
    struct sx_pss *p = lws_container_of(sul, struct sx_pss, sul);
    p->ready = true;
    lws_callback_on_writable(p->wsi);
}

static void http_set_response(struct clb_simex *s, struct sx_pss *p, struct sx_resp *r,
                              bool api)
{
    size_t n;
    p->resp = sx_resp_rest_body(r, &n);
    p->resp_len = n;
    p->status = r->status;
    int used = 0;
    if (api) {
        used += snprintf(p->headers + used, sizeof(p->headers) - (size_t)used,
                         "x-mbx-used-weight:%d\nx-mbx-used-weight-1m:%d\n", r->used_weight,
                         r->used_weight);
        if (r->has_orders)
            used += snprintf(p->headers + used, sizeof(p->headers) - (size_t)used,
                             "x-mbx-order-count-10s:%" PRId64 "\nx-mbx-order-count-1d:%" PRId64
                             "\n",
                             r->orders_10s, r->orders_1d);
        if ((r->status == 429 || r->status == 418) && r->retry_after_ms) {
            int64_t secs = (r->retry_after_ms - sx_now_ms(s) + 999) / 1000;
            used += snprintf(p->headers + used, sizeof(p->headers) - (size_t)used,
                             "retry-after:%" PRId64 "\n", secs < 1 ? 1 : secs);
        }
    }
    p->headers[used < (int)sizeof(p->headers) ? used : 0] = '\0';
    if (r->delay_ms > 0) {
        lws_sul_schedule(s->ctx, 0, &p->sul, http_later, r->delay_ms * 1000);
    } else {
        p->ready = true;
        lws_callback_on_writable(p->wsi);
    }
}

static void http_process(struct clb_simex *s, struct sx_pss *p)
{
    /* Executed once per request: a POST with "Content-Length: 0" is answered
     * from LWS_CALLBACK_HTTP and lws then reports HTTP_BODY_COMPLETION too. */
    if (p->processed)
        return;
    p->processed = true;
    struct sx_resp r;
    sx_resp_init(&r);
    bool api = strncmp(p->path, "/api/", 5) == 0;
    if (p->body_overflow || p->query_overflow) {
        r.status = 400;
        r.code = -1101;
        snprintf(r.msg, sizeof(r.msg), "Too many parameters sent for this endpoint.");
    } else if (strncmp(p->path, "/sim/", 5) == 0) {
        struct sx_params *q = malloc(sizeof(*q));
        if (!q)
            return;
        sx_params_init(q);
        for (uint32_t i = 0; i < p->nq; i++) {
            const char *eq = strchr(p->qp[i], '=');
            if (eq)
                sx_params_add(q, p->qp[i], (size_t)(eq - p->qp[i]), eq + 1, strlen(eq + 1),
                              SX_SRC_QUERY, true);
        }
        if (!loopback(p->ip)) {
            r.status = 403;
            r.code = -1002;
            snprintf(r.msg, sizeof(r.msg), "You are not authorized to execute this request.");
        } else {
            sx_sim_handle(s, p->method, p->path, q, p->body, p->body_len, &r);
        }
        free(q);
    } else if (api) {
        struct sx_req *rq = calloc(1, sizeof(*rq));
        if (!rq)
            return;
        rq->ws = false;
        rq->method = p->method;
        rq->path = p->path;
        rq->ip = p->ip;
        rq->has_api_key = p->has_api_key;
        rq->api_key_too_long = p->api_key_too_long;
        memcpy(rq->api_key, p->api_key, sizeof(rq->api_key));
        sx_params_init(&rq->params);
        for (uint32_t i = 0; i < p->nq; i++) {
            const char *eq = strchr(p->qp[i], '=');
            if (!eq)
                rq->params.malformed = true;
            else
                sx_params_add(&rq->params, p->qp[i], (size_t)(eq - p->qp[i]), eq + 1,
                              strlen(eq + 1), SX_SRC_QUERY, true);
        }
        sx_params_add_form(&rq->params, p->body, p->body_len, SX_SRC_BODY);
        sx_params_rest_payloads(&rq->params, p->qp, p->nq, p->body, p->body_len);
        sx_api_handle(s, rq, &r);
        free(rq);
    } else {
        r.status = 404;
        r.code = -1020;
        snprintf(r.msg, sizeof(r.msg), "This operation is not supported.");
    }
    if (r.hold) {
        int secs = (s->faults.timeout_hold_ms + 999) / 1000;
        lws_set_timeout(p->wsi, PENDING_TIMEOUT_HTTP_CONTENT, secs > 0 ? secs : 1);
        sx_resp_free(&r);
        return;
    }
    http_set_response(s, p, &r, api);
    sx_resp_free(&r);
}

static int http_write(struct sx_pss *p)
{
    unsigned char hb[LWS_PRE + 2048];
    unsigned char *start = hb + LWS_PRE, *pp = start, *end = hb + sizeof(hb) - 1;
    if (lws_add_http_common_headers(p->wsi, (unsigned int)p->status,
                                    "application/json;charset=UTF-8", p->resp_len, &pp, end))
        return -1;
    char *line = p->headers;
    while (*line) {
        char *nl = strchr(line, '\n');
        char *colon = strchr(line, ':');
        if (!nl || !colon || colon > nl)
            break;
        char name[64];
        size_t nlen = (size_t)(colon - line) + 1;
        if (nlen >= sizeof(name))
            break;
        memcpy(name, line, nlen);
        name[nlen] = '\0';
        if (lws_add_http_header_by_name(p->wsi, (const unsigned char *)name,
                                        (const unsigned char *)colon + 1,
                                        (int)(nl - colon - 1), &pp, end))
            return -1;
        line = nl + 1;
    }
    if (lws_finalize_write_http_header(p->wsi, start, &pp, end))
        return -1;
    unsigned char *body = malloc(LWS_PRE + p->resp_len + 1);
    if (!body)
        return -1;
    if (p->resp_len)
        memcpy(body + LWS_PRE, p->resp, p->resp_len);
    int n = lws_write(p->wsi, body + LWS_PRE, p->resp_len, LWS_WRITE_HTTP_FINAL);
    free(body);
    free(p->resp);
    p->resp = NULL;
    p->ready = false;
    if (n < 0)
        return -1;
    return lws_http_transaction_completed(p->wsi) ? -1 : 0;
}

static void http_begin(struct clb_simex *s, struct lws *wsi, struct sx_pss *p, const char *uri,
                       size_t len)
{
    pss_reset(p);
    p->wsi = wsi;
    const char *m = "GET";
    if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0)
        m = "POST";
    else if (lws_hdr_total_length(wsi, WSI_TOKEN_DELETE_URI) > 0)
        m = "DELETE";
    else if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0)
        m = "PUT";
    else if (lws_hdr_total_length(wsi, WSI_TOKEN_OPTIONS_URI) > 0)
        m = "OPTIONS";
    snprintf(p->method, sizeof(p->method), "%s", m);
    snprintf(p->path, sizeof(p->path), "%.*s", (int)(len < 255 ? len : 255), uri);
    if (lws_get_peer_simple(wsi, p->ip, sizeof(p->ip)) == NULL)
        snprintf(p->ip, sizeof(p->ip), "?");
    size_t used = 0;
    for (int i = 0; i < MAX_QUERY + 1; i++) {
        int room = (int)(sizeof(p->query) - used);
        int n = lws_hdr_copy_fragment(wsi, p->query + used, room, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0)
            break;
        if (i == MAX_QUERY || n + 1 >= room) {
            p->query_overflow = true;
            break;
        }
        p->qp[p->nq++] = p->query + used;
        used += (size_t)n + 1;
    }
    int kl = lws_hdr_custom_length(wsi, "x-mbx-apikey:", 13);
    if (kl >= 0) {
        p->has_api_key = true;
        if (kl >= (int)sizeof(p->api_key))
            p->api_key_too_long = true;
        else if (lws_hdr_custom_copy(wsi, p->api_key, sizeof(p->api_key), "x-mbx-apikey:", 13) < 0)
            p->api_key[0] = '\0';
    }
    (void)s;
}

/* ------------------------------------------------------------------------ */
/* The protocol callback                                                     */

static void conn_remove(struct clb_simex *s, struct sx_conn *c)
{
    for (uint32_t i = 0; i < s->n_conns; i++)
        if (s->conns[i] == c) {
            s->conns[i] = s->conns[--s->n_conns];
            break;
        }
    for (uint32_t k = 0; k < c->n_subs; k++)
        s->markets[c->subs[k].market].subs[c->subs[k].kind]--;
    lws_sul_cancel(&c->sul);
    free_list(c->head);
    free_list(c->dhead);
    free(c->rx);
    free(c);
}

static bool ws_path_ok(const char *uri)
{
    return strcmp(uri, "/ws") == 0 || strncmp(uri, "/ws/", 4) == 0 ||
           strcmp(uri, "/stream") == 0 || strcmp(uri, "/ws-api/v3") == 0;
}

static int ws_established(struct clb_simex *s, struct lws *wsi, struct sx_pss *p)
{
    char uri[512];
    if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0)
        return -1;
    if (s->n_conns >= SX_MAX_CONNS)
        return -1;
    struct sx_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return -1;
    c->sim = s;
    c->wsi = wsi;
    c->opened_ms = wall_ms();
    if (!lws_get_peer_simple(wsi, c->ip, sizeof(c->ip)))
        snprintf(c->ip, sizeof(c->ip), "?");
    c->kind = strcmp(uri, "/ws-api/v3") == 0 ? SX_CONN_WSAPI : SX_CONN_MARKET;
    if (c->kind == SX_CONN_MARKET) {
        if (strncmp(uri, "/ws/", 4) == 0) {
            subscribe_list(c, uri + 4);
        } else if (strcmp(uri, "/stream") == 0) {
            c->combined = true;
            char arg[1024];
            for (int i = 0; i < MAX_QUERY; i++) {
                if (lws_hdr_copy_fragment(wsi, arg, sizeof(arg), WSI_TOKEN_HTTP_URI_ARGS, i) < 0)
                    break;
                if (strncmp(arg, "streams=", 8) == 0)
                    subscribe_list(c, arg + 8);
            }
        }
    }
    s->conns[s->n_conns++] = c;
    p->conn = c;
    return 0;
}

static int ws_writeable(struct sx_conn *c)
{
    if (c->close_now) {
        static const char reason[] = "closed by colibri-simex";
        lws_close_reason(c->wsi, (enum lws_close_status)c->close_code,
                         (unsigned char *)reason, sizeof(reason) - 1);
        return -1;
    }
    struct sx_msg *m = c->head;
    if (!m)
        return 0;
    int n = lws_write(c->wsi, m->data + LWS_PRE, m->len, LWS_WRITE_TEXT);
    c->head = m->next;
    if (!c->head)
        c->tail = NULL;
    c->queued -= m->len;
    free(m);
    if (n < 0)
        return -1;
    if (c->head)
        lws_callback_on_writable(c->wsi);
    return 0;
}

static int ws_receive(struct sx_conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (!c->rx && !(c->rx = malloc(SX_RX_MAX)))
        return -1;
    if (c->rx_len + len > SX_RX_MAX)
        c->rx_overflow = true;
    else {
        memcpy(c->rx + c->rx_len, in, len);
        c->rx_len += len;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return 0;
    if (c->rx_overflow) {
        c->rx_overflow = false;
        c->rx_len = 0;
        conn_close(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE);
        return 0;
    }
    if (c->kind == SX_CONN_WSAPI)
        wsapi_message(c, c->rx, c->rx_len);
    else
        market_control(c, c->rx, c->rx_len);
    c->rx_len = 0;
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct sx_pss *p = user;
    struct clb_simex *s = sim_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[512], ip[64];
        if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || !ws_path_ok(uri))
            return 1;
        if (strcmp(uri, "/ws-api/v3") == 0) {
            if (!lws_get_peer_simple(wsi, ip, sizeof(ip)))
                snprintf(ip, sizeof(ip), "?");
            if (!sx_api_ws_connect_allowed(s, ip))
                return 1;
        }
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED:
        return ws_established(s, wsi, p);
    case LWS_CALLBACK_RECEIVE:
        return p->conn ? ws_receive(p->conn, wsi, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return p->conn ? ws_writeable(p->conn) : 0;
    case LWS_CALLBACK_CLOSED:
        if (p && p->conn) {
            conn_remove(s, p->conn);
            p->conn = NULL;
        }
        return 0;
    case LWS_CALLBACK_HTTP:
        http_begin(s, wsi, p, in, len);
        if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0) {
            char cl[32];
            if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0 &&
                strtoll(cl, NULL, 10) > 0)
                return 0; /* wait for the body */
        }
        http_process(s, p);
        return 0;
    case LWS_CALLBACK_HTTP_BODY:
        if (p->body_len + len >= sizeof(p->body))
            p->body_overflow = true;
        else if (len) { /* an empty body comes as (NULL, 0) */
            memcpy(p->body + p->body_len, in, len);
            p->body_len += len;
        }
        return 0;
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        http_process(s, p);
        return 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!p || !p->ready || !p->resp)
            return 0;
        return http_write(p);
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (p && !p->conn)
            pss_reset(p);
        return 0;
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols[] = {
    { "colibri-simex", callback, sizeof(struct sx_pss), 4096, 0, NULL, 0 },
    { NULL, NULL, 0, 0, 0, NULL, 0 },
};

static const lws_retry_bo_t retry = {
    .secs_since_valid_ping = 20,   /* Binance pings every 20 s */
    .secs_since_valid_hangup = 60, /* and hangs up after a minute without pong */
};

/* ------------------------------------------------------------------------ */
/* Timers                                                                    */

static void market_timer(lws_sorted_usec_list_t *sul)
{
    struct clb_simex *s = lws_container_of(sul, struct clb_simex, sul_market);
    int64_t us = sx_market_advance(s);
    lws_sul_schedule(s->ctx, 0, &s->sul_market, market_timer, us);
}

static void tick_timer(lws_sorted_usec_list_t *sul)
{
    struct clb_simex *s = lws_container_of(sul, struct clb_simex, sul_tick);
    s->ticks++;
    sx_depth_emit(s, 0);
    if (s->ticks % 10 == 0)
        sx_depth_emit(s, 1);
    int64_t now = wall_ms();
    const struct clb_simex_faults *f = &s->faults;
    if (f->ws_disconnect_every_ms > 0)
        for (uint32_t i = 0; i < s->n_conns; i++)
            if (now - s->conns[i]->opened_ms >= f->ws_disconnect_every_ms &&
                !s->conns[i]->close_now) {
                s->stat_ws_disconnects++;
                conn_close(s->conns[i], LWS_CLOSE_STATUS_GOINGAWAY);
            }
    if (f->shutdown_every_ms > 0) {
        if (s->next_shutdown_ms == 0)
            s->next_shutdown_ms = now + f->shutdown_every_ms;
        if (now >= s->next_shutdown_ms) {
            sx_server_shutdown_event(s);
            s->next_shutdown_ms = now + f->shutdown_every_ms;
        }
    } else {
        s->next_shutdown_ms = 0;
    }
    if (s->shutdown_close_ms && now >= s->shutdown_close_ms) {
        s->shutdown_close_ms = 0;
        sx_server_close_all(s, LWS_CLOSE_STATUS_GOINGAWAY);
    }
    lws_sul_schedule(s->ctx, 0, &s->sul_tick, tick_timer, TICK_US);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */

static void tls_cleanup(struct clb_simex *s)
{
    if (!s->tls_dir[0])
        return;
    unlink(s->tls_cert);
    unlink(s->tls_key);
    rmdir(s->tls_dir);
    s->tls_dir[0] = '\0';
}

int clb_simex_create(const struct clb_simex_config *cfg, struct clb_simex **out, char *err,
                     size_t errlen)
{
    int rc = CLB_OK;
    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    struct clb_simex *s = calloc(1, sizeof(*s));
    if (!s)
        return CLB_ENOMEM;
    s->cfg = *cfg;
    s->faults = cfg->faults;
    s->seed = cfg->seed;
    uint64_t x = s->seed;
    clb_rng_seed(&s->fault_rng, clb_splitmix64(&x) ^ 0xfa017ull);
    clb_rng_seed(&s->id_rng, clb_splitmix64(&x) ^ 0x1d5ull);
    atomic_init(&s->stop, 0);
    const struct clb_simex_limits *l = &cfg->limits;
    if (l->request_weight <= 0 || l->window_ms <= 0 || l->orders_10s <= 0 ||
        l->orders_day <= 0 || l->ban_ms <= 0 || l->max_open_orders <= 0 ||
        l->ban_after_429 < 0) {
        if (err && errlen)
            snprintf(err, errlen, "limits must be positive");
        free(s);
        return CLB_EINVAL;
    }
    if ((rc = sx_exchange_init(s, err, errlen)) != CLB_OK)
        goto fail;
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = cfg->port;
    info.iface = cfg->host[0] ? cfg->host : NULL;
    info.protocols = protocols;
    info.user = s;
    info.retry_and_idle_policy = &retry;
    info.options = 0;
    if (cfg->host[0] && strchr(cfg->host, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        /* HTTP/1.1 only: lws keeps unknown headers (X-MBX-APIKEY) for h1 */
        info.alpn = "http/1.1";
        if (cfg->cert_path[0] && cfg->key_path[0]) {
            info.ssl_cert_filepath = cfg->cert_path;
            info.ssl_private_key_filepath = cfg->key_path;
        } else {
            const char *tmp = getenv("TMPDIR");
            snprintf(s->tls_dir, sizeof(s->tls_dir), "%s/colibri-simex-XXXXXX",
                     tmp && *tmp ? tmp : "/tmp");
            if (!mkdtemp(s->tls_dir)) {
                s->tls_dir[0] = '\0';
                rc = CLB_EIO;
                if (err && errlen)
                    snprintf(err, errlen, "cannot create a temporary directory: %s",
                             strerror(errno));
                goto fail;
            }
            if ((rc = sx_tls_generate(s->tls_dir, s->tls_cert, sizeof(s->tls_cert), s->tls_key,
                                      sizeof(s->tls_key))) != CLB_OK) {
                if (err && errlen)
                    snprintf(err, errlen, "cannot generate a TLS certificate");
                goto fail;
            }
            info.ssl_cert_filepath = s->tls_cert;
            info.ssl_private_key_filepath = s->tls_key;
        }
    }
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        rc = CLB_EIO;
        if (err && errlen)
            snprintf(err, errlen, "cannot listen on %s:%d", cfg->host, cfg->port);
        goto fail;
    }
    s->vhost = lws_get_vhost_by_name(s->ctx, "default");
    s->port = s->vhost ? lws_get_vhost_listen_port(s->vhost) : cfg->port;
    lws_sul_schedule(s->ctx, 0, &s->sul_market, market_timer, 1);
    lws_sul_schedule(s->ctx, 0, &s->sul_tick, tick_timer, TICK_US);
    *out = s;
    return CLB_OK;
fail:
    if (s->ctx)
        lws_context_destroy(s->ctx);
    sx_exchange_deinit(s);
    tls_cleanup(s);
    free(s);
    return rc;
}

int clb_simex_port(const struct clb_simex *s)
{
    return s->port;
}

const char *clb_simex_cert_path(const struct clb_simex *s)
{
    if (s->tls_dir[0])
        return s->tls_cert;
    return s->cfg.tls ? s->cfg.cert_path : NULL;
}

int clb_simex_run(struct clb_simex *s)
{
    while (!atomic_load(&s->stop)) {
        if (lws_service(s->ctx, 0) < 0) {
            s->loop_error = 1;
            return CLB_EIO;
        }
    }
    return CLB_OK;
}

void clb_simex_stop(struct clb_simex *s)
{
    atomic_store(&s->stop, 1);
    if (s->ctx)
        lws_cancel_service(s->ctx);
}

void clb_simex_destroy(struct clb_simex *s)
{
    if (!s)
        return;
    if (s->ctx) {
        lws_sul_cancel(&s->sul_market);
        lws_sul_cancel(&s->sul_tick);
        lws_context_destroy(s->ctx);
        s->ctx = NULL;
    }
    sx_exchange_deinit(s);
    tls_cleanup(s);
    free(s);
}
