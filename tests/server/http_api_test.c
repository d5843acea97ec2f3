/* Tests for server/http_api.c: a libcurl client against a real
 * clb_http_start over real TLS (a self-signed certificate made here with
 * OpenSSL, verified by the client), first without an engine (health, auth,
 * roles, throttle, 404/405/413, tokens, metrics), then with the real engine
 * (strategies, orders, trades, order books, bad inputs leave state
 * unchanged), and finally a run whose live responses are checked against
 * the schemas of api-spec/openapi.yaml by tests/server/validate_responses.mjs. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "engine.h"
#include "error.h"
#include "http_api.h"
#include "log.h"
#include "mutate.h"
#include "test_cert.h"

/* ---- fixture ---- */

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static char g_dir[256];
static char g_cert[512], g_key[512];
static char *g_ca; /* the certificate PEM, trusted by the client */
static struct clb_http *g_http;
static struct clb_engine *g_engine;
static struct clb_log *g_log;
static int g_port;
static char g_admin[CLB_TOKEN_TEXT_LEN + 1];
static char g_read[CLB_TOKEN_TEXT_LEN + 1];
static char g_trade[CLB_TOKEN_TEXT_LEN + 1];
static FILE *g_record; /* when set, every exchange is appended here (JSON lines) */

static char *slurp_alloc(const char *file)
{
    FILE *f = fopen(file, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* A self-signed P-256 certificate for localhost / 127.0.0.1. */
static void make_cert(void)
{
    make_self_signed_cert(g_dir, g_cert, sizeof(g_cert), g_key, sizeof(g_key));
    g_ca = slurp_alloc(g_cert);
}

static void make_token(const char *name, enum clb_role role, char *out)
{
    struct clb_token_store st;
    char err[256];
    struct clb_auth *a;
    cr_assert_eq(clb_token_store_open(g_dir, NULL, &st, err, sizeof(err)), CLB_OK);
    cr_assert_eq(clb_auth_create(st, &a), CLB_OK);
    cr_assert_eq(clb_auth_token_create(a, name, role, 1, out, NULL), CLB_OK);
    clb_auth_destroy(a);
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_http_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    make_cert();
    char p[512];
    cr_assert_eq(clb_auth_bootstrap_admin(g_dir, NULL, p, sizeof(p)), 1);
    char *t = slurp_alloc(p);
    cr_assert_not_null(t);
    memcpy(g_admin, t, CLB_TOKEN_TEXT_LEN);
    g_admin[CLB_TOKEN_TEXT_LEN] = '\0';
    free(t);
    make_token("reader", CLB_ROLE_READ, g_read);
    make_token("trader", CLB_ROLE_TRADE, g_trade);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void teardown(void)
{
    clb_http_stop(g_http);
    g_http = NULL;
    if (g_engine)
        clb_engine_destroy(g_engine);
    g_engine = NULL;
    clb_log_destroy(g_log);
    g_log = NULL;
    if (g_record)
        fclose(g_record);
    g_record = NULL;
    free(g_ca);
    g_ca = NULL;
    curl_global_cleanup();
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

static void start_engine(void)
{
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.tick_ms = 50;
    cr_assert_eq(clb_log_create(NULL, CLB_LOG_WARN, &g_log), CLB_OK);
    cfg.log = g_log;
    char err[256] = "";
    cr_assert_eq(clb_engine_create(&cfg, &g_engine, err, sizeof(err)), CLB_OK, "%s", err);
}

static void start_server(bool with_engine, bool metrics_public)
{
    if (with_engine)
        start_engine();
    struct clb_http_config cfg = {
        .host = "127.0.0.1",
        .port = 0,
        .cert_pem_path = g_cert,
        .key_pem_path = g_key,
        .data_dir = g_dir,
        .metrics_public = metrics_public,
        .engine = g_engine,
    };
    char err[256] = "";
    cr_assert_eq(clb_http_start(&cfg, &g_http, err, sizeof(err)), CLB_OK, "%s", err);
    g_port = clb_http_port(g_http);
    cr_assert_gt(g_port, 0);
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 120);

/* ---- client ---- */

struct resp {
    long status;
    char *body;
    size_t len;
    char headers[8192];
    json_t *json;
};

static size_t on_body(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = sz * n;
    if (r->len + k > (8u << 20))
        return 0;
    r->body = realloc(r->body, r->len + k + 1);
    memcpy(r->body + r->len, p, k);
    r->len += k;
    r->body[r->len] = '\0';
    return k;
}

static size_t on_header(char *p, size_t sz, size_t n, void *ud)
{
    struct resp *r = ud;
    size_t k = sz * n, have = strlen(r->headers);
    if (have + k + 1 < sizeof(r->headers)) {
        memcpy(r->headers + have, p, k);
        r->headers[have + k] = '\0';
    }
    return k;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

/* A response header's value (case-insensitive name), or NULL. */
static const char *header(struct resp *r, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *line = r->headers; *line;) {
        const char *end = strstr(line, "\r\n");
        if (!end)
            break;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(end - v), v);
            return out;
        }
        line = end + 2;
    }
    return NULL;
}

static long call_raw(const char *method, const char *path, const char *auth_header,
                     const char *body, size_t body_len, struct resp *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    char url[2048];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", g_port, path);
    struct curl_slist *hs = NULL;
    /* No "Expect: 100-continue" round trip for ordinary bodies; huge ones
     * keep it, as curl does, so a 413 decided from the headers arrives
     * before the client has sent the body. */
    if (body_len <= 1024 * 1024)
        hs = curl_slist_append(hs, "Expect:");
    else
        hs = curl_slist_append(hs, "Expect: 100-continue");
    if (auth_header)
        hs = curl_slist_append(hs, auth_header);
    if (body)
        hs = curl_slist_append(hs, "Content-Type: application/json");
    struct curl_blob ca = { .data = g_ca, .len = strlen(g_ca), .flags = CURL_BLOB_COPY };
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    if (out->body && out->len)
        out->json = json_loadb(out->body, out->len, 0, NULL);
    if (g_record) {
        char ctype[128] = "";
        header(out, "Content-Type", ctype, sizeof(ctype));
        json_t *rec = json_pack("{s:s, s:s, s:i, s:s, s:O?}", "method", method, "path", path,
                                "status", (int)out->status, "content_type", ctype, "body",
                                out->json);
        char *line = json_dumps(rec, JSON_COMPACT);
        fprintf(g_record, "%s\n", line);
        free(line);
        json_decref(rec);
    }
    return out->status;
}

/* method, path, token (NULL = none), optional JSON body. */
static long call(const char *method, const char *path, const char *token, const char *body,
                 struct resp *out)
{
    char auth[128];
    if (token)
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    return call_raw(method, path, token ? auth : NULL, body, body ? strlen(body) : 0, out);
}

/* Asserts the error body shape and returns its code. */
static const char *error_code(struct resp *r)
{
    cr_assert_not_null(r->json, "error body is not JSON: %s", r->body ? r->body : "(none)");
    json_t *e = json_object_get(r->json, "error");
    cr_assert(json_is_object(e), "no error object: %s", r->body);
    cr_assert(json_is_string(json_object_get(e, "message")));
    cr_assert_gt(strlen(json_string_value(json_object_get(e, "message"))), 0);
    const char *code = json_string_value(json_object_get(e, "code"));
    cr_assert_not_null(code);
    return code;
}

/* ---- without an engine ---- */

Test(http, health_needs_no_token)
{
    start_server(false, false);
    struct resp r;
    cr_assert_eq(call("GET", "/health", NULL, NULL, &r), 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "status")), "ok");
    char v[128];
    cr_assert_not_null(header(&r, "Content-Type", v, sizeof(v)));
    cr_assert_str_eq(v, "application/json");
    cr_assert_not_null(header(&r, "Cache-Control", v, sizeof(v)));
    resp_free(&r);
    cr_assert_eq(call("HEAD", "/health", NULL, NULL, &r), 200);
    resp_free(&r);
}

Test(http, routes_need_a_valid_token)
{
    start_server(false, false);
    struct resp r;
    char v[256];
    cr_assert_eq(call("GET", "/api/v1/status", NULL, NULL, &r), 401);
    cr_assert_str_eq(error_code(&r), "unauthorized");
    cr_assert_not_null(header(&r, "WWW-Authenticate", v, sizeof(v)));
    cr_assert_eq(strncmp(v, "Bearer", 6), 0);
    resp_free(&r);
    cr_assert_eq(call_raw("GET", "/api/v1/status", "Authorization: Basic YTpi", NULL, 0, &r), 401);
    resp_free(&r);
    char bad[CLB_TOKEN_TEXT_LEN + 1];
    memcpy(bad, g_read, sizeof(bad));
    bad[20] = bad[20] == '0' ? '1' : '0';
    cr_assert_eq(call("GET", "/api/v1/status", bad, NULL, &r), 401);
    cr_assert_str_eq(error_code(&r), "unauthorized");
    resp_free(&r);
    cr_assert_eq(call("GET", "/metrics", NULL, NULL, &r), 401, "metrics are private by default");
    resp_free(&r);
    /* a good token reaches the handler: no engine here, so 503 */
    cr_assert_eq(call("GET", "/api/v1/status", g_read, NULL, &r), 503);
    cr_assert_str_eq(error_code(&r), "not_ready");
    resp_free(&r);
    /* scheme is case-insensitive */
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: bearer %s", g_read);
    cr_assert_eq(call_raw("GET", "/api/v1/strategies", auth, NULL, 0, &r), 503);
    resp_free(&r);
}

Test(http, unknown_routes_404_wrong_methods_405_with_allow)
{
    start_server(false, false);
    struct resp r;
    char v[128];
    cr_assert_eq(call("GET", "/api/v1/nope", g_admin, NULL, &r), 404);
    cr_assert_str_eq(error_code(&r), "not_found");
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/strategies/", g_admin, NULL, &r), 404);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/strategies/1/start/x", g_admin, NULL, &r), 404);
    resp_free(&r);
    cr_assert_eq(call("PUT", "/api/v1/status", g_admin, "{}", &r), 405);
    cr_assert_str_eq(error_code(&r), "method_not_allowed");
    cr_assert_not_null(header(&r, "Allow", v, sizeof(v)));
    cr_assert_str_eq(v, "GET, HEAD");
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/strategies/7/start", g_admin, NULL, &r), 405);
    cr_assert_not_null(header(&r, "Allow", v, sizeof(v)));
    cr_assert_str_eq(v, "POST");
    resp_free(&r);
    cr_assert_eq(call("PUT", "/api/v1/strategies/7", g_admin, "{}", &r), 405);
    cr_assert_not_null(header(&r, "Allow", v, sizeof(v)));
    cr_assert_str_eq(v, "GET, PATCH, DELETE, HEAD");
    resp_free(&r);
}

Test(http, oversized_bodies_get_413)
{
    start_server(false, false);
    size_t n = 100 * 1024;
    char *big = malloc(n + 1);
    memset(big, ' ', n);
    big[0] = '{';
    big[n - 1] = '}';
    big[n] = '\0';
    struct resp r;
    char auth[128];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", g_admin);
    cr_assert_eq(call_raw("POST", "/api/v1/tokens", auth, big, n, &r), 413);
    cr_assert_str_eq(error_code(&r), "payload_too_large");
    resp_free(&r);
    /* exactly at the limit is read (and then judged as JSON) */
    cr_assert_eq(call_raw("POST", "/api/v1/tokens", auth, big, CLB_HTTP_MAX_BODY, &r), 400);
    cr_assert_str_eq(error_code(&r), "invalid_json");
    resp_free(&r);
    free(big);
    /* far beyond: answered from the headers */
    n = 3 * 1024 * 1024;
    big = malloc(n);
    memset(big, 'x', n);
    cr_assert_eq(call_raw("POST", "/api/v1/tokens", auth, big, n, &r), 413);
    resp_free(&r);
    free(big);
    /* nothing was created */
    cr_assert_eq(call("GET", "/api/v1/tokens", g_admin, NULL, &r), 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "tokens")), 3);
    resp_free(&r);
}

Test(http, roles_are_enforced)
{
    start_server(false, false);
    struct resp r;
    cr_assert_eq(call("POST", "/api/v1/orders", g_read, "{}", &r), 403);
    cr_assert_str_eq(error_code(&r), "forbidden");
    resp_free(&r);
    cr_assert_eq(call("DELETE", "/api/v1/strategies/1", g_read, NULL, &r), 403);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/tokens", g_read, NULL, &r), 403);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/tokens", g_trade, NULL, &r), 403);
    resp_free(&r);
    cr_assert_eq(call("POST", "/api/v1/tokens", g_trade, "{\"name\":\"x\",\"role\":\"admin\"}", &r),
                 403, "a trader cannot mint an admin token");
    resp_free(&r);
    /* trade implies read, admin implies trade: they reach the handler (503: no engine) */
    cr_assert_eq(call("GET", "/api/v1/balances", g_trade, NULL, &r), 503);
    resp_free(&r);
    cr_assert_eq(call("POST", "/api/v1/orders", g_admin, "{}", &r), 400);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/tokens", g_admin, NULL, &r), 200);
    resp_free(&r);
}

Test(http, tokens_api_create_list_revoke)
{
    start_server(false, false);
    struct resp r;
    cr_assert_eq(call("POST", "/api/v1/tokens", g_admin, "{\"name\":\"grafana\",\"role\":\"read\"}",
                      &r),
                 201);
    const char *tok = json_string_value(json_object_get(r.json, "token"));
    cr_assert_not_null(tok);
    char t[CLB_TOKEN_TEXT_LEN + 1];
    snprintf(t, sizeof(t), "%s", tok);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "role")), "read");
    char v[128];
    cr_assert_not_null(header(&r, "Location", v, sizeof(v)));
    cr_assert_str_eq(v, "/api/v1/tokens/grafana");
    resp_free(&r);
    cr_assert_eq(call("GET", "/metrics", t, NULL, &r), 200, "new token works at once");
    resp_free(&r);

    cr_assert_eq(call("GET", "/api/v1/tokens", g_admin, NULL, &r), 200);
    json_t *list = json_object_get(r.json, "tokens");
    cr_assert_eq(json_array_size(list), 4);
    char *dump = json_dumps(r.json, 0);
    cr_assert_null(strstr(dump, "hash"), "no hashes over the API");
    cr_assert_null(strstr(dump, t + 4), "no tokens over the API");
    free(dump);
    resp_free(&r);

    /* bad inputs change nothing */
    const char *bad[][2] = {
        { "{\"name\":\"grafana\",\"role\":\"read\"}", "already_exists" },
        { "{\"name\":\"x y\",\"role\":\"read\"}", "bad_request" },
        { "{\"name\":\"x\",\"role\":\"root\"}", "bad_request" },
        { "{\"name\":\"x\"}", "bad_request" },
        { "{\"name\":\"x\",\"role\":\"read\",\"extra\":1}", "bad_request" },
        { "{\"name\":5,\"role\":\"read\"}", "bad_request" },
        { "[\"x\"]", "bad_request" },
        { "{\"name\":\"x\",", "invalid_json" },
        { "{\"name\":\"x\",\"name\":\"y\",\"role\":\"read\"}", "invalid_json" },
        { "", "bad_request" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        long st = call("POST", "/api/v1/tokens", g_admin, bad[i][0], &r);
        cr_assert(st == 400 || st == 409, "%s -> %ld", bad[i][0], st);
        cr_assert_str_eq(error_code(&r), bad[i][1], "%s", bad[i][0]);
        resp_free(&r);
    }
    cr_assert_eq(call("GET", "/api/v1/tokens", g_admin, NULL, &r), 200);
    cr_assert_eq(json_array_size(json_object_get(r.json, "tokens")), 4);
    resp_free(&r);

    cr_assert_eq(call("DELETE", "/api/v1/tokens/grafana", g_admin, NULL, &r), 204);
    cr_assert_eq(r.len, 0);
    resp_free(&r);
    cr_assert_eq(call("GET", "/metrics", t, NULL, &r), 401, "revoked at once");
    resp_free(&r);
    cr_assert_eq(call("DELETE", "/api/v1/tokens/grafana", g_admin, NULL, &r), 404);
    resp_free(&r);
    cr_assert_eq(call("DELETE", "/api/v1/tokens/admin", g_admin, NULL, &r), 409,
                 "the last admin token stays");
    cr_assert_str_eq(error_code(&r), "conflict");
    resp_free(&r);
}

Test(http, repeated_failures_are_throttled)
{
    start_server(false, false);
    struct resp r;
    char bad[CLB_TOKEN_TEXT_LEN + 1];
    snprintf(bad, sizeof(bad), "clb_%064d", 42);
    for (int i = 0; i < CLB_AUTH_FAIL_LIMIT; i++) {
        cr_assert_eq(call("GET", "/api/v1/status", bad, NULL, &r), 401, "attempt %d", i);
        resp_free(&r);
    }
    cr_assert_eq(call("GET", "/api/v1/status", bad, NULL, &r), 429);
    cr_assert_str_eq(error_code(&r), "too_many_requests");
    char v[32];
    cr_assert_not_null(header(&r, "Retry-After", v, sizeof(v)));
    int secs = atoi(v);
    cr_assert(secs >= 1 && secs <= 60, "Retry-After %s", v);
    resp_free(&r);
    /* even a valid token waits: the address is locked out */
    cr_assert_eq(call("GET", "/api/v1/tokens", g_admin, NULL, &r), 429);
    resp_free(&r);
    /* /health stays reachable */
    cr_assert_eq(call("GET", "/health", NULL, NULL, &r), 200);
    resp_free(&r);
}

Test(http, unknown_query_parameters_are_rejected)
{
    start_server(false, false);
    struct resp r;
    cr_assert_eq(call("GET", "/api/v1/tokens?foo=1", g_admin, NULL, &r), 400);
    cr_assert_str_eq(error_code(&r), "bad_request");
    cr_assert_not_null(strstr(r.body, "foo"));
    resp_free(&r);
}

Test(http, metrics_text_format)
{
    start_server(false, false);
    struct resp r;
    cr_assert_eq(call("GET", "/health", NULL, NULL, &r), 200);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/nope", g_read, NULL, &r), 404);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/strategies/42", g_read, NULL, &r), 503);
    resp_free(&r);
    cr_assert_eq(call("GET", "/metrics", g_read, NULL, &r), 200);
    char v[128];
    cr_assert_not_null(header(&r, "Content-Type", v, sizeof(v)));
    cr_assert_str_eq(v, "text/plain; version=0.0.4; charset=utf-8");
    cr_assert_not_null(strstr(r.body, "# TYPE colibri_http_requests_total counter\n"));
    cr_assert_not_null(strstr(r.body, "colibri_http_requests_total{code=\"200\"} 1\n"), "%s",
                       r.body);
    cr_assert_not_null(strstr(r.body, "colibri_http_requests_total{code=\"404\"} 1\n"));
    cr_assert_not_null(strstr(r.body, "# TYPE colibri_http_request_duration_seconds histogram\n"));
    cr_assert_not_null(strstr(r.body, "colibri_http_request_duration_seconds_count{method=\"GET\","
                                      "route=\"/health\"} 1\n"));
    cr_assert_not_null(strstr(r.body, "route=\"/api/v1/strategies/{id}\""), "templates, no ids");
    cr_assert_null(strstr(r.body, "/api/v1/strategies/42"));
    cr_assert_not_null(strstr(r.body, "route=\"unmatched\""));
    resp_free(&r);
}

Test(http, metrics_can_be_public)
{
    start_server(false, true);
    struct resp r;
    cr_assert_eq(call("GET", "/metrics", NULL, NULL, &r), 200);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/status", NULL, NULL, &r), 401, "only /metrics opens");
    resp_free(&r);
}

Test(http, tls_is_required_and_verified)
{
    start_server(false, false);
    /* plain HTTP to the TLS port gets no HTTP answer */
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", g_port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    long code = 0;
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    cr_assert(rc != CURLE_OK || code != 200, "plain HTTP must not be served");
    curl_easy_cleanup(c);
    /* an untrusted client refuses the self-signed certificate */
    c = curl_easy_init();
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/health", g_port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, "/dev/null");
    curl_easy_setopt(c, CURLOPT_CAPATH, "/nonexistent");
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
    rc = curl_easy_perform(c);
    cr_assert_neq(rc, CURLE_OK);
    curl_easy_cleanup(c);
}

Test(http, bad_configurations_are_refused)
{
    struct clb_http *h = NULL;
    char err[256];
    struct clb_http_config cfg = { .host = "127.0.0.1", .data_dir = g_dir };
    cfg.cert_pem_path = g_cert;
    cr_assert_eq(clb_http_start(&cfg, &h, err, sizeof(err)), CLB_EINVAL, "cert without key");
    cfg.key_pem_path = "/nonexistent/key.pem";
    cr_assert_eq(clb_http_start(&cfg, &h, err, sizeof(err)), CLB_EIO);
    cr_assert_not_null(strstr(err, "/nonexistent/key.pem"), "%s", err);
    cfg.key_pem_path = g_cert; /* a certificate is not a key */
    cr_assert_eq(clb_http_start(&cfg, &h, err, sizeof(err)), CLB_EIO);
    cfg.key_pem_path = g_key;
    cfg.data_dir = NULL;
    cr_assert_eq(clb_http_start(&cfg, &h, err, sizeof(err)), CLB_EINVAL);
    cfg.data_dir = g_dir;
    cfg.port = 70000;
    cr_assert_eq(clb_http_start(&cfg, &h, err, sizeof(err)), CLB_EINVAL);
    cfg.port = 0;
    cfg.host = "not an address";
    cr_assert_eq(clb_http_start(&cfg, &h, err, sizeof(err)), CLB_EINVAL);
    cfg.host = "127.0.0.1";
    /* a port in use */
    start_server(false, false);
    cfg.port = g_port;
    cr_assert_eq(clb_http_start(&cfg, &h, err, sizeof(err)), CLB_EIO);
    cr_assert_null(h);
    /* plain HTTP works when asked for (no cert, no key) */
    cfg.port = 0;
    cfg.cert_pem_path = cfg.key_pem_path = NULL;
    cr_assert_eq(clb_http_start(&cfg, &h, err, sizeof(err)), CLB_OK, "%s", err);
    cr_assert_gt(clb_http_port(h), 0);
    clb_http_stop(h);
}

/* ---- with the engine ---- */

/* Polls until cond(json of GET path) holds or ~10 s pass. */
static json_t *wait_for(const char *path, bool (*cond)(json_t *))
{
    for (int i = 0; i < 200; i++) {
        struct resp r;
        if (call("GET", path, g_read, NULL, &r) == 200 && cond(r.json)) {
            json_t *j = json_incref(r.json);
            resp_free(&r);
            return j;
        }
        resp_free(&r);
        sleep_ms(50);
    }
    cr_assert_fail("timed out waiting on %s", path);
    return NULL;
}

static bool connectors_ready(json_t *j)
{
    json_t *c = json_array_get(json_object_get(j, "connectors"), 0);
    return json_is_true(json_object_get(c, "ready"));
}

/* The first connector and its first market. */
static void first_market(char *conn, size_t cc, char *market, size_t mc)
{
    json_t *j = wait_for("/api/v1/connectors", connectors_ready);
    json_t *c = json_array_get(json_object_get(j, "connectors"), 0);
    snprintf(conn, cc, "%s", json_string_value(json_object_get(c, "name")));
    snprintf(market, mc, "%s",
             json_string_value(json_array_get(json_object_get(c, "markets"), 0)));
    json_decref(j);
}

static json_t *get_json(const char *path)
{
    struct resp r;
    cr_assert_eq(call("GET", path, g_read, NULL, &r), 200, "GET %s: %s", path, r.body);
    json_t *j = json_incref(r.json);
    resp_free(&r);
    return j;
}

static char *strategies_dump(void)
{
    json_t *j = get_json("/api/v1/strategies");
    json_t *list = json_object_get(j, "strategies");
    /* metrics and timestamps move; compare what a command could change */
    json_t *slim = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s) {
        json_array_append_new(slim, json_pack("{s:O, s:O, s:O, s:O}", "id",
                                              json_object_get(s, "id"), "name",
                                              json_object_get(s, "name"), "state",
                                              json_object_get(s, "state"), "params",
                                              json_object_get(s, "params")));
    }
    char *d = json_dumps(slim, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(slim);
    json_decref(j);
    return d;
}

Test(http, engine_read_routes)
{
    start_server(true, false);
    char conn[64], market[64], path[256];
    first_market(conn, sizeof(conn), market, sizeof(market));
    json_t *j = get_json("/api/v1/status");
    cr_assert(json_is_object(json_object_get(j, "clock")));
    cr_assert(json_is_array(json_object_get(j, "connectors")));
    json_decref(j);
    j = get_json("/api/v1/balances");
    cr_assert_gt(json_array_size(json_object_get(j, "balances")), 0);
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/balances?connector=%s", conn);
    j = get_json(path);
    cr_assert_gt(json_array_size(json_object_get(j, "balances")), 0);
    json_decref(j);
    j = get_json("/api/v1/balances?connector=nope");
    cr_assert_eq(json_array_size(json_object_get(j, "balances")), 0);
    json_decref(j);

    snprintf(path, sizeof(path), "/api/v1/connectors/%s/order_book?market=%s&depth=3", conn,
             market);
    j = get_json(path);
    cr_assert_leq(json_array_size(json_object_get(j, "bids")), 3);
    cr_assert_gt(json_array_size(json_object_get(j, "bids")), 0);
    cr_assert_leq(json_array_size(json_object_get(j, "asks")), 3);
    cr_assert_str_eq(json_string_value(json_object_get(j, "market")), market);
    json_decref(j);

    struct resp r;
    snprintf(path, sizeof(path), "/api/v1/connectors/%s/order_book", conn);
    cr_assert_eq(call("GET", path, g_read, NULL, &r), 400, "market is required");
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/connectors/%s/order_book?market=%s&depth=0", conn,
             market);
    cr_assert_eq(call("GET", path, g_read, NULL, &r), 400);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/connectors/%s/order_book?market=%s&depth=x", conn,
             market);
    cr_assert_eq(call("GET", path, g_read, NULL, &r), 400);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/connectors/%s/order_book?market=NOPE-USDT", conn);
    cr_assert_eq(call("GET", path, g_read, NULL, &r), 404);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/connectors/nope/order_book?market=BTC-USDT", g_read, NULL,
                      &r),
                 404);
    cr_assert_not_null(strstr(r.body, "connector"));
    resp_free(&r);

    j = get_json("/api/v1/orders?status=all");
    cr_assert(json_is_array(json_object_get(j, "orders")));
    cr_assert(json_is_null(json_object_get(j, "next_cursor")));
    json_decref(j);
    cr_assert_eq(call("GET", "/api/v1/orders?status=closed", g_read, NULL, &r), 400);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/orders?limit=0", g_read, NULL, &r), 400);
    resp_free(&r);
    cr_assert_eq(call("GET", "/api/v1/trades?cursor=zz", g_read, NULL, &r), 400);
    resp_free(&r);
    j = get_json("/api/v1/trades");
    cr_assert(json_is_array(json_object_get(j, "trades")));
    json_decref(j);
    j = get_json("/api/v1/performance");
    cr_assert(json_is_object(json_object_get(j, "performance")));
    json_decref(j);
    cr_assert_eq(call("GET", "/api/v1/performance?strategy=99", g_read, NULL, &r), 404);
    resp_free(&r);
    cr_assert_eq(call("GET", "/metrics?name[]=x", g_read, NULL, &r), 200, "any query is fine");
    cr_assert_not_null(strstr(r.body, "colibri_ticks_total"), "engine metrics present");
    cr_assert_not_null(strstr(r.body, "colibri_http_requests_total"));
    /* the live exposition (engine + HTTP layer) passes promtool's lint */
    if (system("command -v promtool >/dev/null 2>&1") == 0) {
        char mp[512], cmd[1400];
        snprintf(mp, sizeof(mp), "%s/metrics.txt", g_dir);
        FILE *f = fopen(mp, "w");
        fwrite(r.body, 1, r.len, f);
        fclose(f);
        snprintf(cmd, sizeof(cmd), "promtool check metrics < '%s' > '%s.out' 2>&1", mp, mp);
        int st = system(cmd);
        snprintf(cmd, sizeof(cmd), "%s.out", mp);
        char *out = slurp_alloc(cmd);
        cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool: %s", out ? out : "");
        free(out);
    } else {
        cr_log_warn("promtool not installed (Debian package prometheus): lint skipped");
    }
    resp_free(&r);
}

Test(http, strategy_lifecycle)
{
    start_server(true, false);
    char conn[64], market[64], body[1024], path[256];
    first_market(conn, sizeof(conn), market, sizeof(market));
    struct resp r;
    snprintf(body, sizeof(body),
             "{\"name\":\"pmm-1\",\"type\":\"pure_market_making\",\"connector\":\"%s\","
             "\"market\":\"%s\",\"params\":{\"bid_spread\":0.2,\"ask_spread\":0.2,"
             "\"order_amount\":0.01,\"order_refresh_time\":1},\"start\":true}",
             conn, market);
    cr_assert_eq(call("POST", "/api/v1/strategies", g_trade, body, &r), 201, "%s", r.body);
    json_t *id = json_incref(json_object_get(r.json, "id"));
    cr_assert(json_is_integer(id));
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "running");
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "pmm-1");
    char v[128], want[128];
    snprintf(want, sizeof(want), "/api/v1/strategies/%lld", (long long)json_integer_value(id));
    cr_assert_not_null(header(&r, "Location", v, sizeof(v)));
    cr_assert_str_eq(v, want);
    resp_free(&r);
    long long sid = json_integer_value(id);
    json_decref(id);

    json_t *j = get_json("/api/v1/strategies");
    cr_assert_eq(json_array_size(json_object_get(j, "strategies")), 1);
    json_decref(j);
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld", sid);
    j = get_json(path);
    cr_assert_eq(json_real_value(json_object_get(json_object_get(j, "params"), "bid_spread")),
                 0.2);
    json_decref(j);

    /* its orders show up */
    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof(path), "/api/v1/orders?strategy=%lld", sid);
        j = get_json(path);
        size_t n = json_array_size(json_object_get(j, "orders"));
        json_decref(j);
        if (n > 0)
            break;
        cr_assert_lt(i, 199, "no orders from the running strategy");
        sleep_ms(50);
    }

    /* bad inputs: 4xx and nothing changes */
    char *before = strategies_dump();
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld", sid);
    const char *bad_patch[] = {
        "{\"params\":{\"bid_spread\":-1}}",
        "{\"params\":{\"bid_spread\":\"wide\"}}",
        "{\"params\":{\"no_such_param\":1}}",
        "{\"params\":{\"order_levels\":1000000}}",
        "{\"params\":5}",
        "{\"params\":{},\"state\":\"stopped\"}",
        "{\"params\":{\"bid_spread\":0.3}",
        "{}",
    };
    for (size_t i = 0; i < sizeof(bad_patch) / sizeof(bad_patch[0]); i++) {
        long st = call("PATCH", path, g_trade, bad_patch[i], &r);
        cr_assert(st == 400, "PATCH %s -> %ld %s", bad_patch[i], st, r.body);
        error_code(&r);
        resp_free(&r);
    }
    char bad_create[4][512];
    snprintf(bad_create[0], 512, "{\"type\":\"no_such_strategy\",\"market\":\"%s\"}", market);
    snprintf(bad_create[1], 512, "{\"type\":\"pure_market_making\",\"market\":\"NOPE-X\"}");
    snprintf(bad_create[2], 512,
             "{\"type\":\"pure_market_making\",\"market\":\"%s\",\"params\":{\"order_amount\":0}}",
             market);
    snprintf(bad_create[3], 512, "{\"type\":\"pure_market_making\",\"market\":\"%s\",\"start\":\"yes\"}",
             market);
    for (size_t i = 0; i < 4; i++) {
        long st = call("POST", "/api/v1/strategies", g_trade, bad_create[i], &r);
        cr_assert_eq(st, 400, "POST %s -> %ld %s", bad_create[i], st, r.body);
        resp_free(&r);
    }
    cr_assert_eq(call("POST", "/api/v1/strategies", g_read, bad_create[0], &r), 403);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld/start", sid);
    cr_assert_eq(call("POST", path, g_trade, NULL, &r), 409, "already running");
    cr_assert_str_eq(error_code(&r), "conflict");
    resp_free(&r);
    cr_assert_eq(call("POST", "/api/v1/strategies/999/start", g_trade, NULL, &r), 404);
    resp_free(&r);
    cr_assert_eq(call("POST", "/api/v1/strategies/abc/stop", g_trade, NULL, &r), 404);
    resp_free(&r);
    char *after = strategies_dump();
    cr_assert_str_eq(before, after);
    free(before);
    free(after);

    /* a valid update */
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld", sid);
    cr_assert_eq(call("PATCH", path, g_trade, "{\"params\":{\"bid_spread\":0.3}}", &r), 200, "%s",
                 r.body);
    cr_assert_eq(json_real_value(json_object_get(json_object_get(r.json, "params"), "bid_spread")),
                 0.3);
    resp_free(&r);

    snprintf(path, sizeof(path), "/api/v1/strategies/%lld/indicators", sid);
    cr_assert_eq(call("GET", path, g_read, NULL, &r), 200);
    cr_assert(json_is_object(json_object_get(r.json, "indicators")));
    resp_free(&r);

    snprintf(path, sizeof(path), "/api/v1/strategies/%lld/stop", sid);
    cr_assert_eq(call("POST", path, g_trade, NULL, &r), 200, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "stopped");
    resp_free(&r);
    cr_assert_eq(call("POST", path, g_trade, NULL, &r), 409);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld/start", sid);
    cr_assert_eq(call("POST", path, g_trade, NULL, &r), 200);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "state")), "running");
    resp_free(&r);

    snprintf(path, sizeof(path), "/api/v1/strategies/%lld", sid);
    cr_assert_eq(call("DELETE", path, g_trade, NULL, &r), 204);
    resp_free(&r);
    cr_assert_eq(call("GET", path, g_read, NULL, &r), 404);
    resp_free(&r);
    cr_assert_eq(call("DELETE", path, g_trade, NULL, &r), 404);
    resp_free(&r);
    json_t *l = get_json("/api/v1/strategies");
    cr_assert_eq(json_array_size(json_object_get(l, "strategies")), 0);
    json_decref(l);
}

static bool has_orders(json_t *j)
{
    return json_array_size(json_object_get(j, "orders")) > 0;
}

Test(http, manual_orders_and_pagination)
{
    start_server(true, false);
    char conn[64], market[64], body[512], path[1024];
    first_market(conn, sizeof(conn), market, sizeof(market));
    snprintf(path, sizeof(path), "/api/v1/connectors/%s/order_book?market=%s&depth=1", conn,
             market);
    json_t *book = get_json(path);
    const char *bid = json_string_value(json_array_get(
        json_array_get(json_object_get(book, "bids"), 0), 0));
    cr_assert_not_null(bid, "bid price is a decimal string");
    /* a buy far below the market rests: half the best bid */
    double half = strtod(bid, NULL) / 2;
    char price[64];
    snprintf(price, sizeof(price), "%.2f", half);
    json_decref(book);

    struct resp r;
    char ids[5][128];
    for (int i = 0; i < 5; i++) {
        snprintf(body, sizeof(body),
                 "{\"connector\":\"%s\",\"market\":\"%s\",\"side\":\"buy\",\"type\":\"limit\","
                 "\"price\":\"%s\",\"amount\":\"0.001\"}",
                 conn, market, price);
        cr_assert_eq(call("POST", "/api/v1/orders", g_trade, body, &r), 201, "%s", r.body);
        snprintf(ids[i], sizeof(ids[i]), "%s",
                 json_string_value(json_object_get(r.json, "client_order_id")));
        resp_free(&r);
    }
    json_t *j = wait_for("/api/v1/orders", has_orders);
    json_decref(j);

    /* pages of two cover all five exactly once */
    int seen = 0;
    char cursor[600] = "";
    for (int page = 0; page < 5; page++) {
        snprintf(path, sizeof(path), "/api/v1/orders?status=all&limit=2%s%s",
                 cursor[0] ? "&cursor=" : "", cursor);
        j = get_json(path);
        json_t *orders = json_object_get(j, "orders");
        cr_assert_leq(json_array_size(orders), 2);
        size_t i;
        json_t *o;
        json_array_foreach(orders, i, o) {
            const char *cid = json_string_value(json_object_get(o, "client_order_id"));
            for (int k = 0; k < 5; k++)
                if (strcmp(cid, ids[k]) == 0)
                    seen++;
        }
        json_t *next = json_object_get(j, "next_cursor");
        if (json_is_null(next)) {
            json_decref(j);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(j);
    }
    cr_assert_eq(seen, 5);

    /* bad orders change nothing */
    snprintf(path, sizeof(path), "/api/v1/orders?status=all&limit=1000");
    j = get_json(path);
    size_t n_before = json_array_size(json_object_get(j, "orders"));
    json_decref(j);
    const char *bad[] = {
        "\"side\":\"hold\",\"price\":\"1\",\"amount\":\"1\"}",
        "\"side\":\"buy\",\"price\":\"-1\",\"amount\":\"1\"}",
        "\"side\":\"buy\",\"price\":\"abc\",\"amount\":\"1\"}",
        "\"side\":\"buy\",\"price\":\"1\"}",
        "\"side\":\"buy\",\"price\":\"1\",\"amount\":\"1e9\"}",
        "\"side\":\"buy\",\"type\":\"stop\",\"price\":\"1\",\"amount\":\"1\"}",
        "\"side\":\"buy\",\"price\":[1],\"amount\":\"1\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(body, sizeof(body), "{\"connector\":\"%s\",\"market\":\"%s\",%s", conn, market,
                 bad[i]);
        long st = call("POST", "/api/v1/orders", g_trade, body, &r);
        cr_assert_eq(st, 400, "%s -> %ld %s", body, st, r.body);
        resp_free(&r);
    }
    j = get_json(path);
    cr_assert_eq(json_array_size(json_object_get(j, "orders")), n_before);
    json_decref(j);

    /* cancel one */
    snprintf(path, sizeof(path), "/api/v1/orders/%s", ids[0]);
    cr_assert_eq(call("DELETE", path, g_trade, NULL, &r), 202, "%s", r.body);
    cr_assert_str_eq(json_string_value(json_object_get(r.json, "client_order_id")), ids[0]);
    resp_free(&r);
    cr_assert_eq(call("DELETE", "/api/v1/orders/no-such-order", g_trade, NULL, &r), 404);
    resp_free(&r);
    cr_assert_eq(call("DELETE", path, g_read, NULL, &r), 403);
    resp_free(&r);
}

/* How many entries the list at path holds, once it has settled at want
 * (the lists are published snapshots: they follow within a moment). */
static size_t list_size_settled(const char *path, const char *key, size_t want)
{
    size_t n = 0;
    for (int i = 0; i < 100; i++) {
        json_t *j = get_json(path);
        n = json_array_size(json_object_get(j, key));
        json_decref(j);
        if (n == want)
            break;
        sleep_ms(50);
    }
    return n;
}

/* Hostile bodies: 300 strategy and order creates and strategy PATCHes, most
 * of them mutated, each get an answer below 500 (a refusal in the error
 * shape), and only the accepted ones change anything: as many strategies
 * and orders exist afterwards as creates were answered 201. */
Test(http, mutated_bodies_get_answers_and_only_accepted_ones_change_state, .timeout = 120)
{
    start_server(true, false);
    char conn[64], market[64], seeds[3][512];
    first_market(conn, sizeof(conn), market, sizeof(market));
    snprintf(seeds[0], sizeof(seeds[0]),
             "{\"name\":\"m\",\"type\":\"pure_market_making\",\"connector\":\"%s\","
             "\"market\":\"%s\",\"params\":{\"bid_spread\":5,\"ask_spread\":5,"
             "\"order_amount\":0.001},\"start\":false}",
             conn, market);
    snprintf(seeds[1], sizeof(seeds[1]),
             "{\"connector\":\"%s\",\"market\":\"%s\",\"side\":\"buy\",\"type\":\"limit\","
             "\"price\":\"30000.00\",\"amount\":\"0.001\"}",
             conn, market);
    snprintf(seeds[2], sizeof(seeds[2]), "{\"params\":{\"bid_spread\":1.5,\"order_levels\":2}}");
    struct resp r;
    /* one strategy to PATCH */
    cr_assert_eq(call("POST", "/api/v1/strategies", g_trade, seeds[0], &r), 201, "%s", r.body);
    char patch_path[128];
    snprintf(patch_path, sizeof(patch_path), "/api/v1/strategies/%lld",
             (long long)json_integer_value(json_object_get(r.json, "id")));
    resp_free(&r);
    size_t strategies = 1, orders = 0;
    uint64_t rnd = 11;
    for (int i = 0; i < 300; i++) {
        int kind = (int)(mut_rand(&rnd) % 3);
        char body[1024];
        snprintf(body, sizeof(body), "%s", seeds[kind]);
        int rounds = (int)(mut_rand(&rnd) % 4); /* a quarter go as they are */
        for (int k = 0; k < rounds; k++)
            mutate_json_text(body, sizeof(body), &rnd, false);
        const char *method = kind == 2 ? "PATCH" : "POST";
        const char *path = kind == 0 ? "/api/v1/strategies" : kind == 1 ? "/api/v1/orders"
                                                                       : patch_path;
        long st = call(method, path, g_trade, body, &r);
        cr_assert(st >= 200 && st < 500, "%s %s %s -> %ld %s", method, path, body, st,
                  r.body ? r.body : "");
        if (st >= 400)
            error_code(&r);
        else
            cr_assert_not_null(r.json, "%s -> %ld, not JSON: %s", body, st, r.body);
        if (st == 201 && kind == 0)
            strategies++;
        if (st == 201 && kind == 1)
            orders++;
        resp_free(&r);
    }
    cr_log_info("accepted: %zu strategies, %zu orders of 300 mutated bodies", strategies - 1,
                orders);
    cr_assert(strategies > 1 && orders > 0, "no mutated body was accepted: a weak test");
    cr_assert_eq(list_size_settled("/api/v1/strategies", "strategies", strategies), strategies);
    cr_assert_eq(list_size_settled("/api/v1/orders?status=all&limit=1000", "orders", orders),
                 orders);
    cr_assert_eq(call("GET", "/health", NULL, NULL, &r), 200);
    resp_free(&r);
}

/* ---- live responses against the OpenAPI schemas ---- */

Test(http, responses_match_openapi_schemas)
{
    const char *nm = COLIBRI_SOURCE_DIR "/node_modules";
    if (access(COLIBRI_SOURCE_DIR "/node_modules/.bin/redocly", X_OK) != 0 ||
        access(COLIBRI_SOURCE_DIR "/node_modules/ajv/package.json", R_OK) != 0)
        cr_assert_fail("%s lacks @redocly/cli or ajv: run `npm ci` in %s first", nm,
                       COLIBRI_SOURCE_DIR);
    char rec_path[512];
    snprintf(rec_path, sizeof(rec_path), "%s/responses.jsonl", g_dir);
    g_record = fopen(rec_path, "w");
    cr_assert_not_null(g_record);
    start_server(true, false);
    char conn[64], market[64], body[1024], path[256];
    first_market(conn, sizeof(conn), market, sizeof(market));
    struct resp r;
    /* a broad sweep: every route, successes and failures */
    const char *gets[] = { "/health", "/api/v1/status", "/api/v1/connectors", "/api/v1/balances",
                           "/api/v1/strategies", "/api/v1/orders?status=all", "/api/v1/trades",
                           "/api/v1/performance", "/api/v1/nope", "/api/v1/strategies/77",
                           "/api/v1/orders?limit=-1" };
    for (size_t i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
        call("GET", gets[i], g_read, NULL, &r);
        resp_free(&r);
    }
    call("GET", "/api/v1/tokens", g_admin, NULL, &r);
    resp_free(&r);
    call("GET", "/api/v1/status", NULL, NULL, &r);
    resp_free(&r);
    call("GET", "/api/v1/tokens", g_read, NULL, &r);
    resp_free(&r);
    call("PUT", "/api/v1/status", g_read, "{}", &r);
    resp_free(&r);
    call("POST", "/api/v1/tokens", g_admin, "{\"name\":\"n1\",\"role\":\"trade\"}", &r);
    resp_free(&r);
    call("POST", "/api/v1/tokens", g_admin, "{\"name\":\"n1\",\"role\":\"trade\"}", &r);
    resp_free(&r);
    call("POST", "/api/v1/tokens", g_admin, "{oops", &r);
    resp_free(&r);
    call("DELETE", "/api/v1/tokens/n1", g_admin, NULL, &r);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/connectors/%s/order_book?market=%s&depth=5", conn,
             market);
    call("GET", path, g_read, NULL, &r);
    resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"name\":\"spec\",\"type\":\"pure_market_making\",\"connector\":\"%s\","
             "\"market\":\"%s\",\"params\":{\"order_amount\":0.01,\"order_refresh_time\":1},"
             "\"start\":true}",
             conn, market);
    cr_assert_eq(call("POST", "/api/v1/strategies", g_trade, body, &r), 201, "%s", r.body);
    long long sid = json_integer_value(json_object_get(r.json, "id"));
    resp_free(&r);
    call("POST", "/api/v1/strategies", g_trade, "{\"type\":\"nope\",\"market\":\"X\"}", &r);
    resp_free(&r);
    for (int i = 0; i < 100; i++) { /* let it quote and maybe fill */
        struct resp o;
        snprintf(path, sizeof(path), "/api/v1/orders?strategy=%lld", sid);
        call("GET", path, g_read, NULL, &o);
        bool any = json_array_size(json_object_get(o.json, "orders")) > 0;
        resp_free(&o);
        if (any)
            break;
        sleep_ms(50);
    }
    const char *sget[] = { "", "/indicators" };
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "/api/v1/strategies/%lld%s", sid, sget[i]);
        call("GET", path, g_read, NULL, &r);
        resp_free(&r);
    }
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld", sid);
    call("PATCH", path, g_trade, "{\"params\":{\"bid_spread\":0.5}}", &r);
    resp_free(&r);
    call("PATCH", path, g_trade, "{\"params\":{\"bid_spread\":-5}}", &r);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld/start", sid);
    call("POST", path, g_trade, NULL, &r);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/orders?strategy=%lld&limit=1", sid);
    call("GET", path, g_read, NULL, &r);
    resp_free(&r);
    call("GET", "/api/v1/trades?limit=5", g_read, NULL, &r);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/performance?strategy=%lld", sid);
    call("GET", path, g_read, NULL, &r);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld/stop", sid);
    call("POST", path, g_trade, NULL, &r);
    resp_free(&r);
    snprintf(body, sizeof(body),
             "{\"connector\":\"%s\",\"market\":\"%s\",\"side\":\"sell\",\"type\":\"limit\","
             "\"price\":\"1000000\",\"amount\":\"0.001\"}",
             conn, market);
    cr_assert_eq(call("POST", "/api/v1/orders", g_trade, body, &r), 201, "%s", r.body);
    char cid[128];
    snprintf(cid, sizeof(cid), "%s", json_string_value(json_object_get(r.json, "client_order_id")));
    resp_free(&r);
    call("POST", "/api/v1/orders", g_trade, "{\"market\":\"X\",\"side\":\"buy\",\"amount\":\"1\"}",
         &r);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/orders/%s", cid);
    call("DELETE", path, g_trade, NULL, &r);
    resp_free(&r);
    call("DELETE", path, g_trade, NULL, &r);
    resp_free(&r);
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld", sid);
    call("DELETE", path, g_trade, NULL, &r);
    resp_free(&r);
    fclose(g_record);
    g_record = NULL;
    const char *keep = getenv("CLB_TEST_RESPONSES_OUT"); /* debugging aid: keep a copy */
    char cmd[2048];
    if (keep && *keep) {
        snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", rec_path, keep);
        cr_assert_eq(system(cmd), 0);
    }

    snprintf(cmd, sizeof(cmd),
             "cd '%s' && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "
             "npx --no-install redocly bundle api-spec/openapi.yaml --dereferenced "
             "--output '%s/openapi.json' >'%s/bundle.log' 2>&1 && "
             "node tests/server/validate_responses.mjs '%s/openapi.json' '%s' >'%s/validate.log' "
             "2>&1",
             COLIBRI_SOURCE_DIR, g_dir, g_dir, g_dir, rec_path, g_dir);
    int st = system(cmd);
    char logp[512];
    snprintf(logp, sizeof(logp), "%s/bundle.log", g_dir);
    char *blog = slurp_alloc(logp);
    snprintf(logp, sizeof(logp), "%s/validate.log", g_dir);
    char *vlog = slurp_alloc(logp);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "schema check failed:\n%s\n%s",
              blog ? blog : "", vlog ? vlog : "");
    cr_assert_not_null(vlog);
    cr_assert_not_null(strstr(vlog, "0 failed"), "%s", vlog);
    free(blog);
    free(vlog);
}
