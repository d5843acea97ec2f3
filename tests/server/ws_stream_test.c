/*
 * ws_stream_test.c — the WebSocket stream against a real engine (paper
 * market), driven by a real libwebsockets TLS client (certificate checks
 * off: the certificate is the self-signed one tls_cert.h makes).
 *
 * The client side runs on the test's thread: rig_until() services the
 * client context until a condition holds or a deadline passes (a 5 ms lws
 * timer keeps the loop turning, since lws_service ignores its timeout).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "engine.h"
#include "error.h"
#include "tls_cert.h"
#include "ws_stream.h"

#include "mutate.h"

/* ---- fixtures: a data dir with tokens, a certificate, an engine --------- */

struct fixture {
    char dir[64];
    char cert[128], key[128];
    char tok_read[CLB_TOKEN_TEXT_LEN + 1];
    char tok_admin[CLB_TOKEN_TEXT_LEN + 1];
    struct clb_engine *engine;
    char book_topic[160];
};

static void make_tokens(struct fixture *fx)
{
    struct clb_token_store store;
    struct clb_auth *a;
    char err[160];
    cr_assert_eq(clb_token_store_open(fx->dir, NULL, &store, err, sizeof err), CLB_OK, "%s", err);
    cr_assert_eq(clb_auth_create(store, &a), CLB_OK);
    cr_assert_eq(clb_auth_token_create(a, "reader", CLB_ROLE_READ, time(NULL), fx->tok_read, NULL),
                 CLB_OK);
    cr_assert_eq(
        clb_auth_token_create(a, "boss", CLB_ROLE_ADMIN, time(NULL), fx->tok_admin, NULL),
        CLB_OK);
    clb_auth_destroy(a);
}

/* The first book the engine publishes ("book:CONNECTOR:MARKET"). */
static void find_book(struct fixture *fx)
{
    for (int i = 0; i < 500 && !fx->book_topic[0]; i++) {
        json_t *cs = clb_engine_snapshot(fx->engine, "connectors");
        size_t k;
        json_t *c;
        json_array_foreach(cs, k, c) {
            json_t *m = json_array_get(json_object_get(c, "markets"), 0);
            const char *ms = json_is_string(m) ? json_string_value(m)
                                               : json_string_value(json_object_get(m, "name"));
            const char *cn = json_string_value(json_object_get(c, "name"));
            if (!cn || !ms)
                continue;
            char t[160];
            snprintf(t, sizeof t, "book:%s:%s", cn, ms);
            json_t *b = clb_engine_snapshot(fx->engine, t);
            if (b) {
                snprintf(fx->book_topic, sizeof fx->book_topic, "%s", t);
                json_decref(b);
                break;
            }
        }
        json_decref(cs);
        if (!fx->book_topic[0])
            nanosleep(&(struct timespec){0, 10000000}, NULL);
    }
    cr_assert(fx->book_topic[0], "the engine publishes no book");
}

static void fixture_init(struct fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    lws_set_log_level(LLL_ERR, NULL);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/clb-ws-test-XXXXXX");
    cr_assert_not_null(mkdtemp(fx->dir));
    struct clb_engine_config ec;
    char err[256];
    bool created = false;
    cr_assert_eq(clb_tls_ensure_selfsigned(fx->dir, fx->cert, fx->key, sizeof fx->cert, &created,
                                           err, sizeof err),
                 CLB_OK, "%s", err);
    make_tokens(fx);
    clb_engine_config_default(&ec);
    cr_assert_eq(clb_engine_create(&ec, &fx->engine, err, sizeof err), CLB_OK, "%s", err);
    find_book(fx);
}

static void fixture_fini(struct fixture *fx)
{
    if (fx->engine) {
        clb_engine_shutdown(fx->engine, 2000);
        clb_engine_destroy(fx->engine);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    cr_assert_eq(system(cmd), 0);
}

static struct clb_ws_config ws_config(struct fixture *fx)
{
    return (struct clb_ws_config){
        .host = "127.0.0.1",
        .port = 0,
        .cert_pem_path = fx->cert,
        .key_pem_path = fx->key,
        .data_dir = fx->dir,
        .engine = fx->engine,
        .status_interval_ms = 100,
    };
}

static struct clb_ws *ws_start(const struct clb_ws_config *cfg)
{
    struct clb_ws *w = NULL;
    char err[256] = "";
    int rc = clb_ws_start(cfg, &w, err, sizeof err);
    cr_assert_eq(rc, CLB_OK, "clb_ws_start: %s", err);
    cr_assert_gt(clb_ws_port(w), 0);
    return w;
}

/* ---- the client rig ----------------------------------------------------- */

#define OUTQ 4096

struct tclient {
    struct lws *wsi;
    bool established, closed, failed;
    int close_code;
    bool no_read;
    bool hang_up; /* close from the client side at the next writeable */
    int rcvbuf;
    const char *bearer;
    const char *origin;
    const char *path;
    json_t *rx; /* received messages, in order */
    size_t rx_len;
    char rxbuf[1 << 20];
    char *outq[OUTQ];
    size_t out_head, out_len;
};

struct rig {
    struct lws_context *ctx;
    SSL_CTX *ssl;
    lws_sorted_usec_list_t tick;
};

static void rig_tick(lws_sorted_usec_list_t *sul)
{
    struct rig *r = lws_container_of(sul, struct rig, tick);
    lws_sul_schedule(r->ctx, 0, &r->tick, rig_tick, 5 * LWS_US_PER_MS);
}

static void client_flush_request(struct tclient *c)
{
    if (c->wsi && c->out_len)
        lws_callback_on_writable(c->wsi);
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct tclient *c = user;
    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_APPEND_HANDSHAKE_HEADER:
        if (c->bearer) {
            char v[160];
            unsigned char **p = (unsigned char **)in, *end = (*p) + len;
            snprintf(v, sizeof v, "Bearer %s", c->bearer);
            if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_AUTHORIZATION,
                                             (unsigned char *)v, (int)strlen(v), p, end))
                return -1;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->established = true;
        if (c->rcvbuf)
            setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_RCVBUF, &c->rcvbuf,
                       sizeof c->rcvbuf);
        if (c->no_read)
            lws_rx_flow_control(wsi, 0);
        client_flush_request(c);
        return 0;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (c->rx_len + len < sizeof c->rxbuf) {
            memcpy(c->rxbuf + c->rx_len, in, len);
            c->rx_len += len;
        }
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            json_t *m = json_loadb(c->rxbuf, c->rx_len, 0, NULL);
            cr_assert_not_null(m, "server sent invalid JSON: %.*s", (int)c->rx_len, c->rxbuf);
            json_array_append_new(c->rx, m);
            c->rx_len = 0;
        }
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (c->hang_up) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
            return -1;
        }
        if (c->out_len) {
            char *msg = c->outq[c->out_head];
            size_t n = strlen(msg);
            unsigned char *buf = malloc(LWS_PRE + n);
            memcpy(buf + LWS_PRE, msg, n);
            int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
            free(buf);
            free(msg);
            c->out_head = (c->out_head + 1) % OUTQ;
            c->out_len--;
            if (w < (int)n)
                return -1;
            client_flush_request(c);
        }
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2)
            c->close_code = ((const unsigned char *)in)[0] << 8 | ((const unsigned char *)in)[1];
        return 0;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        c->failed = true;
        c->wsi = NULL;
        return 0;
    case LWS_CALLBACK_CLIENT_CLOSED:
        c->closed = true;
        c->wsi = NULL;
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols client_protocols[] = {
    {"client", client_cb, 0, 1 << 16, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void rig_init(struct rig *r)
{
    lws_set_log_level(LLL_ERR, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = client_protocols;
    /* RAW_ORIGIN: send ci.origin as given (lws would prefix "http://"). */
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_JUST_USE_RAW_ORIGIN;
    /* Our own client SSL_CTX: lws 4.1 leaks the one it would make
     * (warmcat/libwebsockets#2044). No verification: self-signed server. */
    r->ssl = SSL_CTX_new(TLS_client_method());
    cr_assert_not_null(r->ssl);
    SSL_CTX_set_verify(r->ssl, SSL_VERIFY_NONE, NULL);
    info.provided_client_ssl_ctx = r->ssl;
    r->ctx = lws_create_context(&info);
    cr_assert_not_null(r->ctx);
    lws_sul_schedule(r->ctx, 0, &r->tick, rig_tick, 5 * LWS_US_PER_MS);
}

static void rig_fini(struct rig *r)
{
    lws_context_destroy(r->ctx);
    SSL_CTX_free(r->ssl);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef bool (*cond_fn)(void *arg);

/* Services the client side until cond(arg) or timeout; returns cond's value. */
static bool rig_until(struct rig *r, cond_fn cond, void *arg, int timeout_ms)
{
    int64_t end = now_ms() + timeout_ms;
    while (!(cond && cond(arg)) && now_ms() < end)
        lws_service(r->ctx, 0);
    return cond && cond(arg);
}

static void rig_run(struct rig *r, int ms)
{
    rig_until(r, NULL, NULL, ms);
}

static void client_init(struct tclient *c)
{
    memset(c, 0, sizeof *c);
    c->rx = json_array();
}

static void client_fini(struct tclient *c)
{
    while (c->out_len) {
        free(c->outq[c->out_head]);
        c->out_head = (c->out_head + 1) % OUTQ;
        c->out_len--;
    }
    json_decref(c->rx);
}

static void client_connect(struct rig *r, struct tclient *c, int port)
{
    struct lws_client_connect_info ci;
    memset(&ci, 0, sizeof ci);
    c->established = c->closed = c->failed = false;
    c->close_code = 0;
    ci.context = r->ctx;
    ci.address = "127.0.0.1";
    ci.port = port;
    ci.path = c->path ? c->path : "/ws";
    ci.host = "127.0.0.1";
    ci.origin = c->origin;
    ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
                        LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_INSECURE |
                        LCCSCF_ALLOW_EXPIRED;
    ci.protocol = NULL;
    ci.userdata = c;
    ci.pwsi = &c->wsi;
    if (!lws_client_connect_via_info(&ci))
        c->failed = true;
}

static void client_hang_up(struct tclient *c)
{
    c->hang_up = true;
    if (c->wsi)
        lws_callback_on_writable(c->wsi);
}

static void client_send(struct tclient *c, const char *text)
{
    cr_assert_lt(c->out_len, (size_t)OUTQ);
    c->outq[(c->out_head + c->out_len) % OUTQ] = strdup(text);
    c->out_len++;
    client_flush_request(c);
}

static bool c_established(void *a)
{
    struct tclient *c = a;
    return c->established || c->failed || c->closed;
}

static bool c_gone(void *a)
{
    struct tclient *c = a;
    return c->closed || c->failed;
}

struct count_arg {
    struct tclient *c;
    const char *type;
    size_t want;
};

static size_t count_type(struct tclient *c, const char *type)
{
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(c->rx, i, m) {
        if (!strcmp(json_string_value(json_object_get(m, "type")), type))
            n++;
    }
    return n;
}

static bool c_has(void *a)
{
    struct count_arg *ca = a;
    return count_type(ca->c, ca->type) >= ca->want;
}

static json_t *last_of(struct tclient *c, const char *type)
{
    json_t *found = NULL, *m;
    size_t i;
    json_array_foreach(c->rx, i, m) {
        if (!strcmp(json_string_value(json_object_get(m, "type")), type))
            found = m;
    }
    return found;
}

static bool wait_type(struct rig *r, struct tclient *c, const char *type, size_t n, int ms)
{
    struct count_arg ca = {c, type, n};
    return rig_until(r, c_has, &ca, ms);
}

/* Every message has type, seq, ts, data; seq is 1, 2, 3... */
static void assert_envelopes(struct tclient *c)
{
    size_t i;
    json_t *m;
    json_array_foreach(c->rx, i, m) {
        cr_assert(json_is_string(json_object_get(m, "type")));
        cr_assert(json_is_integer(json_object_get(m, "ts")));
        cr_assert_not_null(json_object_get(m, "data"));
        json_int_t seq = json_integer_value(json_object_get(m, "seq"));
        cr_assert_eq(seq, (json_int_t)i + 1, "message %zu has seq %lld", i, (long long)seq);
    }
}

static void connect_auth(struct rig *r, struct tclient *c, int port, const char *token)
{
    client_connect(r, c, port);
    cr_assert(rig_until(r, c_established, c, 5000));
    cr_assert(c->established, "handshake failed");
    char msg[200];
    snprintf(msg, sizeof msg, "{\"type\":\"auth\",\"token\":\"%s\"}", token);
    client_send(c, msg);
    cr_assert(wait_type(r, c, "auth", 1, 5000), "no auth answer");
}

/* ---- tests -------------------------------------------------------------- */

Test(ws_stream, auth_message_ok)
{
    struct fixture fx;
    struct rig r;
    struct tclient c;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);
    client_init(&c);

    connect_auth(&r, &c, clb_ws_port(w), fx.tok_read);
    json_t *a = json_array_get(c.rx, 0);
    cr_assert_str_eq(json_string_value(json_object_get(a, "type")), "auth");
    cr_assert(json_is_true(json_object_get(json_object_get(a, "data"), "ok")));
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "data"), "role")),
                     "read");
    cr_assert_eq(clb_ws_clients(w), 1);
    assert_envelopes(&c);

    client_fini(&c);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, auth_header_ok)
{
    struct fixture fx;
    struct rig r;
    struct tclient c;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);
    client_init(&c);
    c.bearer = fx.tok_admin;
    client_connect(&r, &c, clb_ws_port(w));
    cr_assert(wait_type(&r, &c, "auth", 1, 5000));
    json_t *d = json_object_get(last_of(&c, "auth"), "data");
    cr_assert_str_eq(json_string_value(json_object_get(d, "role")), "admin");
    cr_assert_str_eq(json_string_value(json_object_get(d, "via")), "header");
    client_send(&c, "{\"type\":\"ping\",\"id\":7}");
    cr_assert(wait_type(&r, &c, "pong", 1, 5000));
    cr_assert_eq(json_integer_value(json_object_get(
                     json_object_get(last_of(&c, "pong"), "data"), "id")),
                 7);
    assert_envelopes(&c);
    client_fini(&c);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, bad_token_closed_4001)
{
    struct fixture fx;
    struct rig r;
    struct tclient c, h, early;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);

    /* A wrong token in the auth message. */
    client_init(&c);
    client_connect(&r, &c, clb_ws_port(w));
    cr_assert(rig_until(&r, c_established, &c, 5000) && c.established);
    client_send(&c, "{\"type\":\"auth\",\"token\":\"clb_0000000000000000000000000000000000000000"
                    "000000000000000000000000\"}");
    cr_assert(rig_until(&r, c_gone, &c, 5000), "not closed");
    cr_assert_eq(c.close_code, 4001);
    json_t *e = last_of(&c, "error");
    cr_assert_not_null(e, "no error message before the close");
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(e, "data"), "code")),
                     "unauthorized");

    /* A wrong bearer header. */
    client_init(&h);
    h.bearer = "clb_nonsense";
    client_connect(&r, &h, clb_ws_port(w));
    cr_assert(rig_until(&r, c_gone, &h, 5000));
    cr_assert_eq(h.close_code, 4001);
    cr_assert_not_null(last_of(&h, "error"));

    /* Anything before auth. */
    client_init(&early);
    client_connect(&r, &early, clb_ws_port(w));
    cr_assert(rig_until(&r, c_established, &early, 5000) && early.established);
    client_send(&early, "{\"type\":\"subscribe\",\"topics\":[\"status\"]}");
    cr_assert(rig_until(&r, c_gone, &early, 5000));
    cr_assert_eq(early.close_code, 4001);
    cr_assert_eq(count_type(&early, "status"), 0);

    rig_run(&r, 50);
    cr_assert_eq(clb_ws_clients(w), 0);
    client_fini(&c);
    client_fini(&h);
    client_fini(&early);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, origin_allow_list)
{
    struct fixture fx;
    struct rig r;
    struct tclient evil, local, none, path;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);

    client_init(&evil);
    evil.origin = "https://evil.example";
    client_connect(&r, &evil, clb_ws_port(w));
    cr_assert(rig_until(&r, c_established, &evil, 5000));
    cr_assert(!evil.established, "a foreign origin was let in");

    client_init(&local);
    local.origin = "https://127.0.0.1:8443";
    connect_auth(&r, &local, clb_ws_port(w), fx.tok_read);

    client_init(&none); /* no Origin: a CLI client */
    connect_auth(&r, &none, clb_ws_port(w), fx.tok_read);

    client_init(&path);
    path.path = "/other";
    client_connect(&r, &path, clb_ws_port(w));
    cr_assert(rig_until(&r, c_established, &path, 5000));
    cr_assert(!path.established, "a path other than /ws was upgraded");
    clb_ws_stop(w);
    rig_run(&r, 100);

    /* An explicit allow-list replaces the defaults. */
    const char *const allow[] = {"https://dash.example.com"};
    cfg.allowed_origins = allow;
    cfg.n_origins = 1;
    w = ws_start(&cfg);
    struct tclient dash, loc2;
    client_init(&dash);
    dash.origin = "https://dash.example.com";
    connect_auth(&r, &dash, clb_ws_port(w), fx.tok_read);
    client_init(&loc2);
    loc2.origin = "https://localhost:8443";
    client_connect(&r, &loc2, clb_ws_port(w));
    cr_assert(rig_until(&r, c_established, &loc2, 5000));
    cr_assert(!loc2.established);

    client_fini(&evil);
    client_fini(&local);
    client_fini(&none);
    client_fini(&path);
    client_fini(&dash);
    client_fini(&loc2);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, subscribe_status_seq_increasing)
{
    struct fixture fx;
    struct rig r;
    struct tclient c;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);
    client_init(&c);
    connect_auth(&r, &c, clb_ws_port(w), fx.tok_read);
    client_send(&c, "{\"type\":\"subscribe\",\"topics\":[\"status\",\"trades\",\"orders\"]}");
    cr_assert(wait_type(&r, &c, "subscribed", 1, 5000));
    json_t *topics = json_object_get(json_object_get(last_of(&c, "subscribed"), "data"), "topics");
    cr_assert_eq(json_array_size(topics), 3);
    cr_assert(wait_type(&r, &c, "status", 5, 5000), "fewer than 5 status messages");
    json_t *st = last_of(&c, "status");
    cr_assert_str_eq(json_string_value(json_object_get(st, "topic")), "status");
    cr_assert(json_is_object(json_object_get(json_object_get(st, "data"), "clock")));
    assert_envelopes(&c);

    /* Unsubscribed: no more status. */
    client_send(&c, "{\"type\":\"unsubscribe\",\"topics\":[\"status\"]}");
    cr_assert(wait_type(&r, &c, "unsubscribed", 1, 5000));
    size_t n = count_type(&c, "status");
    rig_run(&r, 400);
    cr_assert_eq(count_type(&c, "status"), n);
    assert_envelopes(&c);
    client_fini(&c);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, bad_requests_keep_connection)
{
    struct fixture fx;
    struct rig r;
    struct tclient c;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);
    client_init(&c);
    connect_auth(&r, &c, clb_ws_port(w), fx.tok_read);
    client_send(&c, "{not json");
    client_send(&c, "{\"type\":\"subscribe\",\"topics\":[\"status\",\"nope\"]}");
    client_send(&c, "{\"type\":\"subscribe\",\"topics\":[\"book:nosuch:XYZ\"]}");
    client_send(&c, "{\"type\":\"dance\"}");
    cr_assert(wait_type(&r, &c, "error", 4, 5000));
    const char *codes[] = {"bad_request", "bad_topic", "bad_topic", "bad_request"};
    size_t k = 0, i;
    json_t *m;
    json_array_foreach(c.rx, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "type")), "error"))
            continue;
        cr_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "data"), "code")),
                         codes[k]);
        k++;
    }
    /* The invalid subscribe changed nothing: no status arrives. */
    rig_run(&r, 300);
    cr_assert_eq(count_type(&c, "status"), 0);
    client_send(&c, "{\"type\":\"ping\"}");
    cr_assert(wait_type(&r, &c, "pong", 1, 5000));
    cr_assert(!c.closed);

    /* A message over 4 KiB closes with 1009. */
    char big[5200];
    memset(big, ' ', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    big[0] = '{';
    big[sizeof big - 2] = '}';
    client_send(&c, big);
    cr_assert(rig_until(&r, c_gone, &c, 5000));
    cr_assert_eq(c.close_code, 1009);
    assert_envelopes(&c);
    client_fini(&c);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

static size_t count_answers(struct tclient *c)
{
    return count_type(c, "error") + count_type(c, "pong") + count_type(c, "subscribed") +
           count_type(c, "unsubscribed");
}

struct answers {
    struct tclient *c;
    size_t want;
};

static bool c_answered(void *a)
{
    struct answers *x = a;
    return count_answers(x->c) >= x->want || x->c->closed;
}

/* Hostile client messages: 600 mutations of every kind of message a client
 * sends each get exactly one answer (an error, a pong, subscribed or
 * unsubscribed) in a well-formed envelope, the connection stays open, and
 * the server still serves it and a new client afterwards. */
Test(ws_stream, mutated_client_messages_each_get_an_answer, .timeout = 120)
{
    static const char *const seeds[] = {
        "{\"type\":\"subscribe\",\"topics\":[\"status\",\"orders\",\"trades\"]}",
        "{\"type\":\"unsubscribe\",\"topics\":[\"orders\"]}",
        "{\"type\":\"subscribe\",\"topics\":[\"book:paper:BTC-USDT\",\"logs\"]}",
        "{\"type\":\"ping\",\"id\":42}",
        "{\"type\":\"auth\",\"token\":\"x\"}",
        "{\"type\":\"dance\"}",
        "[1,2,{\"type\":\"ping\"}]",
    };
    struct fixture fx;
    struct rig r;
    struct tclient c;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);
    client_init(&c);
    connect_auth(&r, &c, clb_ws_port(w), fx.tok_read);
    size_t base = count_answers(&c), sent = 0;
    uint64_t rnd = 7;
    for (int batch = 0; batch < 30; batch++) {
        for (int i = 0; i < 20; i++) {
            char m[1024];
            snprintf(m, sizeof m, "%s", seeds[mut_rand(&rnd) % (sizeof(seeds) / sizeof(seeds[0]))]);
            int rounds = 1 + (int)(mut_rand(&rnd) % 3);
            for (int k = 0; k < rounds; k++)
                mutate_json_text(m, sizeof m, &rnd, true);
            client_send(&c, m);
            sent++;
        }
        struct answers want = { &c, base + sent };
        cr_assert(rig_until(&r, c_answered, &want, 10000), "%zu answers to %zu messages",
                  count_answers(&c) - base, sent);
        cr_assert(!c.closed, "closed with %d after %zu mutated messages", c.close_code, sent);
    }
    rig_run(&r, 200);
    cr_assert_eq(count_answers(&c) - base, sent, "one answer per message");
    assert_envelopes(&c);
    client_send(&c, "{\"type\":\"ping\",\"id\":\"after\"}");
    cr_assert(wait_type(&r, &c, "pong", count_type(&c, "pong") + 1, 5000));
    struct tclient c2;
    client_init(&c2);
    connect_auth(&r, &c2, clb_ws_port(w), fx.tok_read);
    cr_assert(!c2.closed);
    client_fini(&c2);
    client_fini(&c);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, heartbeat)
{
    struct fixture fx;
    struct rig r;
    struct tclient c;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    cfg.heartbeat_ms = 150;
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);
    client_init(&c);
    connect_auth(&r, &c, clb_ws_port(w), fx.tok_read);
    int64_t t0 = now_ms();
    cr_assert(wait_type(&r, &c, "heartbeat", 4, 3000));
    int64_t dt = now_ms() - t0;
    cr_assert(dt >= 3 * 150 - 50, "4 heartbeats in %lld ms", (long long)dt);
    assert_envelopes(&c);
    client_fini(&c);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

static json_int_t book_update_id(json_t *m)
{
    json_t *d = json_object_get(m, "data");
    json_t *u = json_object_get(d, "update_id");
    return json_is_integer(u) ? json_integer_value(u) : -1;
}

Test(ws_stream, book_topic_coalesced_for_stalled_client)
{
    struct fixture fx;
    struct rig r;
    struct tclient fast, slow;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    cfg.sndbuf_bytes = 4096;
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);
    char sub[256];
    snprintf(sub, sizeof sub, "{\"type\":\"subscribe\",\"topics\":[\"%s\"]}", fx.book_topic);

    client_init(&fast);
    connect_auth(&r, &fast, clb_ws_port(w), fx.tok_read);
    client_init(&slow);
    slow.rcvbuf = 4096;
    connect_auth(&r, &slow, clb_ws_port(w), fx.tok_read);

    /* Stall the slow client: stop reading, then have its socket filled with
     * pongs carrying 3 KB ids, so the server cannot write to it. */
    lws_rx_flow_control(slow.wsi, 0);
    char ping[3200];
    int n = snprintf(ping, sizeof ping, "{\"type\":\"ping\",\"id\":\"");
    memset(ping + n, 'x', 3000);
    snprintf(ping + n + 3000, sizeof ping - (size_t)n - 3000, "\"}");
    for (int i = 0; i < 40; i++)
        client_send(&slow, ping);
    rig_run(&r, 300);
    client_send(&slow, sub);
    client_send(&fast, sub);

    /* Meanwhile the book moves: the fast client sees the updates. */
    cr_assert(wait_type(&r, &fast, "book", 6, 15000), "the book hardly moves (%zu updates)",
              count_type(&fast, "book"));
    json_int_t fast_last = book_update_id(last_of(&fast, "book"));

    /* Resume: the stalled client gets its pongs, the "subscribed" answer
     * and one book message for the whole stall: the book taken at
     * subscription, replaced in place by every update since, so it is as
     * recent as what the fast client saw last. Later ones are new updates. */
    lws_rx_flow_control(slow.wsi, 1);
    cr_assert(wait_type(&r, &slow, "pong", 40, 10000), "pongs: %zu", count_type(&slow, "pong"));
    cr_assert(wait_type(&r, &slow, "book", 1, 5000));
    size_t i, stale = 0;
    json_t *m, *coalesced = NULL;
    json_array_foreach(slow.rx, i, m) {
        if (strcmp(json_string_value(json_object_get(m, "type")), "book"))
            continue;
        if (!coalesced)
            coalesced = m;
        if (book_update_id(m) < fast_last - 1)
            stale++;
    }
    json_int_t slow_id = book_update_id(coalesced);
    cr_assert_geq(slow_id, fast_last - 1, "stale book %lld vs %lld", (long long)slow_id,
                  (long long)fast_last);
    cr_assert_eq(stale, 0, "%zu books from the stall were delivered", stale);
    json_array_foreach(slow.rx, i, m) { /* "subscribed" comes before any book */
        const char *t = json_string_value(json_object_get(m, "type"));
        if (!strcmp(t, "book"))
            cr_assert_fail("a book before the subscribed answer");
        if (!strcmp(t, "subscribed"))
            break;
    }
    cr_assert_eq(count_type(&slow, "gap"), 0);
    assert_envelopes(&slow);
    assert_envelopes(&fast);

    client_fini(&fast);
    client_fini(&slow);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, slow_client_bounded_others_served)
{
    struct fixture fx;
    struct rig r;
    struct tclient good, slow;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    cfg.queue_max = 32;
    cfg.sndbuf_bytes = 8192;
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);

    client_init(&good);
    connect_auth(&r, &good, clb_ws_port(w), fx.tok_read);
    client_send(&good, "{\"type\":\"subscribe\",\"topics\":[\"status\"]}");
    cr_assert(wait_type(&r, &good, "status", 1, 5000));

    client_init(&slow);
    slow.rcvbuf = 4096;
    connect_auth(&r, &slow, clb_ws_port(w), fx.tok_read);
    lws_rx_flow_control(slow.wsi, 0);

    /* 2000 pings answered by 3 KB pongs it never reads: 6 MB if unbounded. */
    char ping[3200];
    int n = snprintf(ping, sizeof ping, "{\"type\":\"ping\",\"id\":\"");
    memset(ping + n, 'y', 3000);
    snprintf(ping + n + 3000, sizeof ping - (size_t)n - 3000, "\"}");
    size_t max_queued = 0, status_before = count_type(&good, "status");
    for (int i = 0; i < 2000; i++) {
        client_send(&slow, ping);
        if (i % 50 == 0) {
            lws_service(r.ctx, 0);
            size_t q = clb_ws_queued_bytes(w);
            max_queued = q > max_queued ? q : max_queued;
        }
    }
    int64_t end = now_ms() + 8000;
    while (now_ms() < end && clb_ws_clients(w) == 2) {
        lws_service(r.ctx, 0);
        size_t q = clb_ws_queued_bytes(w);
        max_queued = q > max_queued ? q : max_queued;
    }
    /* Bound: the slow queue (32 pongs of ~3 KB) plus the good client's few. */
    cr_assert_leq(max_queued, (size_t)(40 * 3200), "queued %zu bytes", max_queued);
    cr_assert_eq(clb_ws_clients(w), 1, "the stalled client was not dropped");

    /* The good client was served throughout and still is. */
    size_t mid = count_type(&good, "status");
    cr_assert_gt(mid, status_before + 3, "status %zu -> %zu", status_before, mid);
    cr_assert(wait_type(&r, &good, "status", mid + 3, 3000));
    cr_assert(!good.closed);
    assert_envelopes(&good);
    client_fini(&good);
    client_fini(&slow);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, reconnect_after_restart)
{
    struct fixture fx;
    struct rig r;
    struct tclient c;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    struct clb_ws *w = ws_start(&cfg);
    int port = clb_ws_port(w);
    rig_init(&r);
    client_init(&c);
    connect_auth(&r, &c, port, fx.tok_read);
    client_send(&c, "{\"type\":\"subscribe\",\"topics\":[\"status\"]}");
    cr_assert(wait_type(&r, &c, "status", 2, 5000));

    clb_ws_stop(w);
    cr_assert(rig_until(&r, c_gone, &c, 5000), "client did not see the server go");
    cr_assert_eq(c.close_code, 1001);

    cfg.port = port;
    w = ws_start(&cfg);
    cr_assert_eq(clb_ws_port(w), port);
    json_decref(c.rx);
    c.rx = json_array();
    connect_auth(&r, &c, port, fx.tok_read);
    client_send(&c, "{\"type\":\"subscribe\",\"topics\":[\"status\"]}");
    cr_assert(wait_type(&r, &c, "status", 2, 5000));
    assert_envelopes(&c); /* a new connection counts from 1 again */
    client_fini(&c);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, client_limit)
{
    struct fixture fx;
    struct rig r;
    struct tclient a, b;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    cfg.max_clients = 1;
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);
    client_init(&a);
    connect_auth(&r, &a, clb_ws_port(w), fx.tok_read);
    client_init(&b);
    client_connect(&r, &b, clb_ws_port(w));
    cr_assert(rig_until(&r, c_established, &b, 5000));
    cr_assert(!b.established);
    cr_assert_eq(clb_ws_clients(w), 1);
    client_fini(&a);
    client_fini(&b);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}

Test(ws_stream, wake_modes_deliver)
{
    struct fixture fx;
    struct rig r;
    fixture_init(&fx);
    rig_init(&r); /* one client context: lws 4.1 leaks when several are made */
    const enum clb_ws_wake modes[] = {CLB_WS_WAKE_FD, CLB_WS_WAKE_THREAD, CLB_WS_WAKE_TIMER};
    char sub[256];
    snprintf(sub, sizeof sub, "{\"type\":\"subscribe\",\"topics\":[\"%s\"]}", fx.book_topic);
    for (size_t i = 0; i < 3; i++) {
        struct tclient c;
        struct clb_ws_config cfg = ws_config(&fx);
        cfg.wake = modes[i];
        struct clb_ws *w = ws_start(&cfg);
        client_init(&c);
        connect_auth(&r, &c, clb_ws_port(w), fx.tok_read);
        client_send(&c, sub);
        cr_assert(wait_type(&r, &c, "book", 3, 15000), "mode %zu: %zu books", i,
                  count_type(&c, "book"));
        assert_envelopes(&c);
        client_hang_up(&c);
        cr_assert(rig_until(&r, c_gone, &c, 5000));
        client_fini(&c);
        clb_ws_stop(w);
    }
    rig_fini(&r);
    fixture_fini(&fx);
}

Test(ws_stream, start_errors)
{
    struct fixture fx;
    fixture_init(&fx);
    struct clb_ws *w = NULL;
    char err[256];
    struct clb_ws_config cfg = ws_config(&fx);
    cfg.engine = NULL;
    cr_assert_eq(clb_ws_start(&cfg, &w, err, sizeof err), CLB_EINVAL);
    cr_assert_null(w);

    cfg = ws_config(&fx);
    cfg.cert_pem_path = "/nonexistent/cert.pem";
    cr_assert_eq(clb_ws_start(&cfg, &w, err, sizeof err), CLB_EIO);
    cr_assert(strstr(err, "/nonexistent/cert.pem"), "%s", err);

    cfg = ws_config(&fx);
    cfg.cert_pem_path = fx.key; /* a key is not a certificate */
    cr_assert_eq(clb_ws_start(&cfg, &w, err, sizeof err), CLB_EIO);

    cfg = ws_config(&fx);
    struct clb_ws *first = ws_start(&cfg);
    cfg.port = clb_ws_port(first);
    cr_assert_eq(clb_ws_start(&cfg, &w, err, sizeof err), CLB_EIO, "port in use accepted");
    cr_assert_null(w);
    clb_ws_stop(first);
    clb_ws_stop(NULL);
    fixture_fini(&fx);
}

/* A client that subscribes again after unsubscribing, and after another
 * subscriber hung up, is served again. (The status topic also has a
 * per-connection fallback, so this does not isolate the server's per-topic
 * subscriber counts; a topic without fallback would need trading activity.) */
Test(ws_stream, resubscribe_after_unsubscribe_and_close)
{
    struct fixture fx;
    struct rig r;
    struct tclient a, b;
    fixture_init(&fx);
    struct clb_ws_config cfg = ws_config(&fx);
    struct clb_ws *w = ws_start(&cfg);
    rig_init(&r);
    client_init(&a);
    client_init(&b);
    const char *sub = "{\"type\":\"subscribe\",\"topics\":[\"status\"]}";
    connect_auth(&r, &a, clb_ws_port(w), fx.tok_read);
    connect_auth(&r, &b, clb_ws_port(w), fx.tok_read);
    client_send(&a, sub);
    client_send(&b, sub);
    cr_assert(wait_type(&r, &a, "status", 2, 5000));
    cr_assert(wait_type(&r, &b, "status", 2, 5000));
    client_hang_up(&b);
    cr_assert(rig_until(&r, c_gone, &b, 5000));
    client_send(&a, "{\"type\":\"unsubscribe\",\"topics\":[\"status\"]}");
    cr_assert(wait_type(&r, &a, "unsubscribed", 1, 5000));
    size_t n = count_type(&a, "status");
    client_send(&a, sub);
    cr_assert(wait_type(&r, &a, "subscribed", 2, 5000));
    cr_assert(wait_type(&r, &a, "status", n + 3, 6000), "status stopped after resubscribing: %zu",
              count_type(&a, "status"));
    assert_envelopes(&a);
    client_fini(&a);
    client_fini(&b);
    rig_fini(&r);
    clb_ws_stop(w);
    fixture_fini(&fx);
}
