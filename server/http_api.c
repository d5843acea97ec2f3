/*
 * http_api.c — the REST API, /health and /metrics on libmicrohttpd (see
 * http_api.h and api-spec/openapi.yaml).
 *
 * Design:
 *  - One route table (method, path template, role, allowed query keys,
 *    handler). A path that matches a template but not its method gets 405
 *    with Allow; no template at all gets 404. Path parameters are whole
 *    segments ("{id}").
 *  - The first call of the access handler (headers only) decides routing,
 *    authentication and the Content-Length limit, answering at once when
 *    the request cannot go on, so an unauthenticated client never makes the
 *    server buffer a body. Bodies are accumulated up to CLB_HTTP_MAX_BODY;
 *    a larger body is read and thrown away (up to DISCARD_MAX, beyond which
 *    the connection is closed) and answered 413.
 *  - Handlers fill a `struct reply` (status, JSON or text, a few headers);
 *    one function turns it into an MHD response. Errors always have the
 *    body {"error": {"code", "message"}}.
 *  - Handlers read the engine's immutable snapshots and send commands with
 *    clb_engine_call(); validation of values is the engine's, this layer
 *    checks shapes (JSON object, known fields, field types, query values).
 *  - The layer's own metrics (request duration per method and route
 *    template, requests per status code) sit in fixed arrays behind a
 *    mutex, and are rendered with the engine's through metrics.h.
 *  - Static files (the dashboard) are answered before routing, without a
 *    token: GET / is index.html, /web/P and /assets/P are files of the web
 *    directory. A path with "..", "//", a backslash, a '%', a control byte
 *    a dot-file segment or a file type not in mime_types[] is refused (404)
 *    before the file system is asked;
 *    only regular files up to CLB_HTTP_STATIC_MAX_BYTES are read (whole,
 *    into memory). %00 is never decoded (our unescape callback keeps it
 *    literal), so a NUL cannot cut a path short.
 */
#include "http_api.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "engine.h"
#include "error.h"
#include "gateway.h"
#include "metrics.h"

#define DISCARD_MAX (1024 * 1024) /* oversized bodies read and dropped up to this */
#define MAX_PEM_BYTES (256 * 1024)
#define MAX_PATH_PARAMS 2
#define PARAM_MAX 128
#define DEFAULT_LIMIT 100
#define MAX_LIMIT 1000
#define DEFAULT_DEPTH 20
#define MAX_DEPTH 1000
#define CURSOR_MAX 512
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* ---- routes ---- */

struct req;
struct reply;
typedef void (*handler_fn)(struct req *r, struct reply *rp);

struct route {
    const char *method;
    const char *path;   /* template; "{x}" segments are parameters */
    enum clb_role role; /* CLB_ROLE_NONE: no token needed */
    const char *query;  /* allowed query keys, comma-separated; NULL = none, "*" = any */
    handler_fn fn;
};

static void h_health(struct req *r, struct reply *rp);
static void h_metrics(struct req *r, struct reply *rp);
static void h_status(struct req *r, struct reply *rp);
static void h_connectors(struct req *r, struct reply *rp);
static void h_order_book(struct req *r, struct reply *rp);
static void h_balances(struct req *r, struct reply *rp);
static void h_strategies(struct req *r, struct reply *rp);
static void h_strategy_create(struct req *r, struct reply *rp);
static void h_strategy_get(struct req *r, struct reply *rp);
static void h_strategy_update(struct req *r, struct reply *rp);
static void h_strategy_delete(struct req *r, struct reply *rp);
static void h_strategy_start(struct req *r, struct reply *rp);
static void h_strategy_stop(struct req *r, struct reply *rp);
static void h_strategy_indicators(struct req *r, struct reply *rp);
static void h_orders(struct req *r, struct reply *rp);
static void h_order_create(struct req *r, struct reply *rp);
static void h_order_cancel(struct req *r, struct reply *rp);
static void h_trades(struct req *r, struct reply *rp);
static void h_performance(struct req *r, struct reply *rp);
static void h_tokens(struct req *r, struct reply *rp);
static void h_token_create(struct req *r, struct reply *rp);
static void h_token_revoke(struct req *r, struct reply *rp);
static void h_stream_config(struct req *r, struct reply *rp);
static void h_gateway(struct req *r, struct reply *rp);

static const struct route routes[] = {
    { "GET", "/health", CLB_ROLE_NONE, "*", h_health },
    { "GET", "/metrics", CLB_ROLE_READ, "*", h_metrics },
    { "GET", "/api/v1/status", CLB_ROLE_READ, NULL, h_status },
    { "GET", "/api/v1/connectors", CLB_ROLE_READ, NULL, h_connectors },
    { "GET", "/api/v1/connectors/{connector}/order_book", CLB_ROLE_READ, "market,depth",
      h_order_book },
    { "GET", "/api/v1/balances", CLB_ROLE_READ, "connector", h_balances },
    { "GET", "/api/v1/strategies", CLB_ROLE_READ, NULL, h_strategies },
    { "POST", "/api/v1/strategies", CLB_ROLE_TRADE, NULL, h_strategy_create },
    { "GET", "/api/v1/strategies/{id}", CLB_ROLE_READ, NULL, h_strategy_get },
    { "PATCH", "/api/v1/strategies/{id}", CLB_ROLE_TRADE, NULL, h_strategy_update },
    { "DELETE", "/api/v1/strategies/{id}", CLB_ROLE_TRADE, NULL, h_strategy_delete },
    { "POST", "/api/v1/strategies/{id}/start", CLB_ROLE_TRADE, NULL, h_strategy_start },
    { "POST", "/api/v1/strategies/{id}/stop", CLB_ROLE_TRADE, NULL, h_strategy_stop },
    { "GET", "/api/v1/strategies/{id}/indicators", CLB_ROLE_READ, NULL, h_strategy_indicators },
    { "GET", "/api/v1/orders", CLB_ROLE_READ, "status,strategy,connector,market,limit,cursor",
      h_orders },
    { "POST", "/api/v1/orders", CLB_ROLE_TRADE, NULL, h_order_create },
    { "DELETE", "/api/v1/orders/{client_order_id}", CLB_ROLE_TRADE, "connector",
      h_order_cancel },
    { "GET", "/api/v1/trades", CLB_ROLE_READ, "strategy,connector,market,limit,cursor",
      h_trades },
    { "GET", "/api/v1/performance", CLB_ROLE_READ, "strategy", h_performance },
    { "GET", "/api/v1/tokens", CLB_ROLE_ADMIN, NULL, h_tokens },
    { "POST", "/api/v1/tokens", CLB_ROLE_ADMIN, NULL, h_token_create },
    { "DELETE", "/api/v1/tokens/{name}", CLB_ROLE_ADMIN, NULL, h_token_revoke },
    { "GET", "/api/v1/config/stream", CLB_ROLE_READ, NULL, h_stream_config },
    /* DEX gateway (server/gateway/gateway.h answers them) */
    { "GET", "/gateway/status", CLB_ROLE_READ, NULL, h_gateway },
    { "POST", "/gateway/amm/price", CLB_ROLE_READ, NULL, h_gateway },
    { "POST", "/gateway/amm/trade", CLB_ROLE_TRADE, NULL, h_gateway },
    { "POST", "/gateway/chain/balances", CLB_ROLE_READ, NULL, h_gateway },
    { "POST", "/gateway/chain/allowances", CLB_ROLE_READ, NULL, h_gateway },
    { "POST", "/gateway/chain/approve", CLB_ROLE_TRADE, NULL, h_gateway },
    { "POST", "/gateway/chain/poll", CLB_ROLE_READ, NULL, h_gateway },
    { "GET", "/gateway/wallet", CLB_ROLE_READ, NULL, h_gateway },
    { "POST", "/gateway/wallet/add", CLB_ROLE_ADMIN, NULL, h_gateway },
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

/* Methods as metric labels: a fixed set, so a client cannot grow it. */
static const char *const methods[] = { "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE",
                                       "OPTIONS", "other" };
#define N_METHODS (sizeof(methods) / sizeof(methods[0]))

/* Request duration buckets, seconds. */
static const double dur_buckets[] = { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,    0.25,  0.5,    1,     2.5,  5,    10 };
#define N_DUR (sizeof(dur_buckets) / sizeof(dur_buckets[0]))

/* Route templates for metrics: index of the first route with that path;
 * N_ROUTES stands for "no route". */
struct dur_hist {
    uint64_t bucket[N_DUR];
    uint64_t count;
    double sum;
};

struct http_stats {
    pthread_mutex_t lock;
    struct dur_hist dur[N_ROUTES + 1][N_METHODS];
    uint64_t codes[600];
};

struct clb_http {
    struct MHD_Daemon *daemon;
    struct clb_auth *auth;
    struct clb_engine *engine;
    struct clb_gateway *gateway; /* borrowed, may be NULL */
    bool metrics_public;
    int port;
    char *cert_pem;
    char *key_pem;
    struct http_stats stats;
    pthread_mutex_t log_lock;
    bool starting;
    char start_err[256];
    char *web_dir;              /* NULL: no static files */
    pthread_mutex_t stream_lock; /* guards the two below */
    char stream_url[256];       /* "" until clb_http_set_stream */
    int stream_port;
};

/* ---- per-request state and replies ---- */

struct req {
    struct clb_http *h;
    struct MHD_Connection *conn;
    const struct route *route;
    size_t tmpl;   /* route template index for metrics */
    size_t method; /* index in methods[] */
    char params[MAX_PATH_PARAMS][PARAM_MAX];
    char *body;
    size_t body_len;
    size_t seen_len; /* bytes received, kept or not */
    bool too_large;
    bool responded;
    int status;
    struct timespec t0;
    enum clb_role role;
    char token_name[CLB_TOKEN_NAME_MAX];
};

struct reply {
    int status;
    json_t *json;        /* owned */
    char *text;          /* owned, with content_type */
    size_t text_len;
    const char *content_type;
    char location[PARAM_MAX + 64];
    char allow[64];
    int retry_after_s;
    const char *www_auth;
    const char *cache_control; /* NULL = "no-store" */
    bool html;                 /* add the page's security headers */
};

static void reply_clear(struct reply *rp)
{
    json_decref(rp->json);
    free(rp->text);
    rp->json = NULL;
    rp->text = NULL;
}

__attribute__((format(printf, 4, 5))) static void set_error(struct reply *rp, int status,
                                                            const char *code, const char *fmt,
                                                            ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    reply_clear(rp);
    rp->status = status;
    rp->json = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

static void set_json(struct reply *rp, int status, json_t *body)
{
    reply_clear(rp);
    rp->status = status;
    rp->json = body;
    if (!body)
        set_error(rp, 500, "internal", "out of memory");
}

/* Maps an engine (or store) error code onto an HTTP answer. */
static void set_engine_error(struct reply *rp, int rc, const char *msg)
{
    const char *m = msg && *msg ? msg : clb_strerror(rc);
    switch (rc) {
    case CLB_EINVAL:
    case CLB_EPARSE:
    case CLB_ERANGE:
    case CLB_EPRECISION:
    case CLB_EOVERFLOW:
        set_error(rp, 400, "invalid_argument", "%s", m);
        break;
    case CLB_EUNSUPPORTED:
        set_error(rp, 400, "unsupported", "%s", m);
        break;
    case CLB_ENOTFOUND:
        set_error(rp, 404, "not_found", "%s", m);
        break;
    case CLB_ESTATE:
    case CLB_EFULL:
        set_error(rp, 409, "conflict", "%s", m);
        break;
    case CLB_EEXIST:
    case CLB_EDUPLICATE:
        set_error(rp, 409, "already_exists", "%s", m);
        break;
    case CLB_ENOTREADY:
        set_error(rp, 503, "not_ready", "%s", m);
        break;
    case CLB_ETIMEDOUT:
        set_error(rp, 504, "timeout", "%s", m);
        break;
    default:
        set_error(rp, 500, "internal", "%s", m);
        break;
    }
}

/* ---- small helpers ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void rfc3339(int64_t s, char *out, size_t cap)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, cap, "1970-01-01T00:00:00Z");
}

static const char *query(struct req *r, const char *key)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

/* True when key is present in the query string (even without a value). */
static bool query_has(struct req *r, const char *key)
{
    const char *v = NULL;
    size_t vlen = 0;
    return MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key), &v,
                                         &vlen) == MHD_YES;
}

/* Parses an optional integer query parameter in [lo, hi]; false after
 * setting a 400. */
static bool query_int(struct req *r, struct reply *rp, const char *key, long dflt, long lo,
                      long hi, long *out)
{
    *out = dflt;
    if (!query_has(r, key))
        return true;
    const char *v = query(r, key);
    char *end = NULL;
    errno = 0;
    long x = v && *v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < lo || x > hi) {
        set_error(rp, 400, "bad_request", "query parameter '%s' must be an integer in [%ld, %ld]",
                  key, lo, hi);
        return false;
    }
    *out = x;
    return true;
}

/* Text of a scalar JSON value (string, integer, real) for comparisons. */
static bool scalar_text(json_t *v, char *out, size_t cap)
{
    if (json_is_string(v))
        snprintf(out, cap, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(out, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else if (json_is_real(v))
        snprintf(out, cap, "%.17g", json_real_value(v));
    else
        return false;
    return true;
}

static bool scalar_eq(json_t *v, const char *s)
{
    char buf[PARAM_MAX + 8];
    return s && scalar_text(v, buf, sizeof(buf)) && strcmp(buf, s) == 0;
}

/* ---- body checks ---- */

enum ftype { F_STRING, F_OBJECT, F_BOOL, F_DECIMAL };

struct field {
    const char *name;
    enum ftype type;
    bool required;
};

static const char *ftype_name(enum ftype t)
{
    switch (t) {
    case F_STRING:
        return "a string";
    case F_OBJECT:
        return "an object";
    case F_BOOL:
        return "a boolean";
    case F_DECIMAL:
        return "a decimal string or a number";
    }
    return "?";
}

static bool ftype_ok(json_t *v, enum ftype t)
{
    switch (t) {
    case F_STRING:
        return json_is_string(v) && json_string_length(v) > 0 &&
               json_string_length(v) < PARAM_MAX;
    case F_OBJECT:
        return json_is_object(v);
    case F_BOOL:
        return json_is_boolean(v);
    case F_DECIMAL:
        return (json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 64) ||
               json_is_number(v);
    }
    return false;
}

/* Parses the request body as a JSON object and checks it against fields:
 * no unknown keys, required keys present, types right. Returns a new
 * reference or NULL after setting a 400. */
static json_t *parse_body(struct req *r, struct reply *rp, const struct field *fs, size_t n)
{
    if (r->body_len == 0) {
        set_error(rp, 400, "bad_request", "a JSON object body is required");
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        set_error(rp, 400, "invalid_json", "malformed JSON at line %d column %d: %s", jerr.line,
                  jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        set_error(rp, 400, "bad_request", "the body must be a JSON object");
        json_decref(doc);
        return NULL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(doc, key, v) {
        size_t i = 0;
        while (i < n && strcmp(fs[i].name, key) != 0)
            i++;
        if (i == n) {
            set_error(rp, 400, "bad_request", "unknown field '%.64s'", key);
            json_decref(doc);
            return NULL;
        }
        if (!ftype_ok(v, fs[i].type)) {
            set_error(rp, 400, "bad_request", "field '%s' must be %s", key,
                      ftype_name(fs[i].type));
            json_decref(doc);
            return NULL;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (fs[i].required && !json_object_get(doc, fs[i].name)) {
            set_error(rp, 400, "bad_request", "field '%s' is required", fs[i].name);
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

/* ---- engine access ---- */

static bool have_engine(struct req *r, struct reply *rp)
{
    if (r->h->engine)
        return true;
    set_error(rp, 503, "not_ready", "the engine is not running");
    return false;
}

/* A snapshot (new reference) or NULL after setting a 503. */
static json_t *snapshot(struct req *r, struct reply *rp, const char *name)
{
    if (!have_engine(r, rp))
        return NULL;
    json_t *s = clb_engine_snapshot(r->h->engine, name);
    if (!s)
        set_error(rp, 503, "not_ready", "no '%s' snapshot published yet", name);
    return s;
}

/* Runs an engine command (params stolen). On failure sets the error reply
 * and returns false. */
static bool engine_call(struct req *r, struct reply *rp, const char *method, json_t *params,
                        json_t **result)
{
    *result = NULL;
    if (!have_engine(r, rp)) {
        json_decref(params);
        return false;
    }
    if (!params) {
        set_error(rp, 500, "internal", "out of memory");
        return false;
    }
    char err[256] = "";
    int rc = clb_engine_call(r->h->engine, method, params, result, err, sizeof(err),
                             CLB_HTTP_ENGINE_TIMEOUT_MS);
    json_decref(params);
    if (rc != CLB_OK) {
        set_engine_error(rp, rc, err);
        return false;
    }
    if (!*result)
        *result = json_object();
    return true;
}

/* The strategy with this id in the "strategies" snapshot (new reference),
 * or NULL. */
static json_t *find_strategy(struct clb_http *h, const char *id)
{
    json_t *list = clb_engine_snapshot(h->engine, "strategies");
    json_t *found = NULL;
    if (json_is_array(list)) {
        size_t i;
        json_t *s;
        json_array_foreach(list, i, s) {
            if (scalar_eq(json_object_get(s, "id"), id)) {
                found = json_incref(s);
                break;
            }
        }
    }
    json_decref(list);
    return found;
}

/* The strategy id as the engine spells it: the snapshot's value when the
 * strategy is listed, else an integer for an all-digit text, else the text. */
static json_t *strategy_id_value(struct clb_http *h, const char *id)
{
    json_t *s = find_strategy(h, id);
    if (s) {
        json_t *v = json_deep_copy(json_object_get(s, "id"));
        json_decref(s);
        if (v)
            return v;
    }
    char *end;
    errno = 0;
    long long x = strtoll(id, &end, 10);
    if (*id >= '0' && *id <= '9' && !*end && !errno)
        return json_integer(x);
    return json_string(id);
}

/* Strategy ids in paths are positive decimal integers; anything else
 * names no strategy (404 rather than the engine's "bad id" 400). */
static bool strategy_id_plausible(struct reply *rp, const char *id)
{
    size_t n = strlen(id);
    bool ok = n > 0 && n <= 10 && id[0] != '0';
    for (size_t i = 0; i < n && ok; i++)
        ok = id[i] >= '0' && id[i] <= '9';
    if (!ok)
        set_error(rp, 404, "not_found", "no strategy '%s'", id);
    return ok;
}

/* ---- handlers: public and read ---- */

static void h_health(struct req *r, struct reply *rp)
{
    (void)r;
    set_json(rp, 200, json_pack("{s:s}", "status", "ok"));
}

static json_t *http_metrics_doc(struct clb_http *h)
{
    json_t *counters = json_array(), *hists = json_array();
    pthread_mutex_lock(&h->stats.lock);
    for (int code = 100; code < 600; code++) {
        if (!h->stats.codes[code])
            continue;
        char c[8];
        snprintf(c, sizeof(c), "%d", code);
        json_array_append_new(counters,
                              json_pack("{s:s, s:s, s:{s:s}, s:I}", "name",
                                        "colibri_http_requests_total", "help",
                                        "HTTP requests answered, by status code", "labels", "code",
                                        c, "value", (json_int_t)h->stats.codes[code]));
    }
    for (size_t t = 0; t <= N_ROUTES; t++) {
        for (size_t m = 0; m < N_METHODS; m++) {
            const struct dur_hist *d = &h->stats.dur[t][m];
            if (!d->count)
                continue;
            json_t *buckets = json_array();
            for (size_t k = 0; k < N_DUR; k++)
                json_array_append_new(buckets, json_pack("[f, I]", dur_buckets[k],
                                                         (json_int_t)d->bucket[k]));
            json_array_append_new(
                hists, json_pack("{s:s, s:s, s:{s:s, s:s}, s:o, s:f, s:I}", "name",
                                 "colibri_http_request_duration_seconds", "help",
                                 "Time from request headers to queued response",
                                 "labels", "method", methods[m], "route",
                                 t < N_ROUTES ? routes[t].path : "unmatched", "buckets", buckets,
                                 "sum", d->sum, "count", (json_int_t)d->count));
        }
    }
    pthread_mutex_unlock(&h->stats.lock);
    return json_pack("{s:o, s:o}", "counters", counters, "histograms", hists);
}

static void h_metrics(struct req *r, struct reply *rp)
{
    json_t *docs[2] = { NULL, http_metrics_doc(r->h) };
    if (r->h->engine) {
        docs[0] = clb_engine_snapshot(r->h->engine, "metrics");
        if (docs[0] && !json_is_object(docs[0])) {
            json_decref(docs[0]);
            docs[0] = NULL;
        }
    }
    char *text = NULL;
    size_t len = 0;
    int rc = clb_metrics_render(docs, 2, &text, &len, NULL);
    json_decref(docs[0]);
    json_decref(docs[1]);
    if (rc != CLB_OK) {
        set_error(rp, 500, "internal", "cannot render metrics: %s", clb_strerror(rc));
        return;
    }
    reply_clear(rp);
    rp->status = 200;
    rp->text = text;
    rp->text_len = len;
    rp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

static void h_status(struct req *r, struct reply *rp)
{
    json_t *s = snapshot(r, rp, "status");
    if (s)
        set_json(rp, 200, s);
}

/* {key: snapshot array} */
static void list_reply(struct req *r, struct reply *rp, const char *snap, const char *key)
{
    json_t *s = snapshot(r, rp, snap);
    if (!s)
        return;
    if (!json_is_array(s)) {
        json_decref(s);
        set_error(rp, 500, "internal", "'%s' snapshot is not a list", snap);
        return;
    }
    set_json(rp, 200, json_pack("{s:o}", key, s));
}

static void h_connectors(struct req *r, struct reply *rp)
{
    list_reply(r, rp, "connectors", "connectors");
}

static bool connector_known(struct clb_http *h, const char *name)
{
    json_t *list = clb_engine_snapshot(h->engine, "connectors");
    bool found = false;
    size_t i;
    json_t *c;
    json_array_foreach(list, i, c) {
        if (scalar_eq(json_object_get(c, "name"), name))
            found = true;
    }
    json_decref(list);
    return found;
}

static json_t *slice(json_t *arr, size_t n)
{
    json_t *out = json_array();
    for (size_t i = 0; i < n && i < json_array_size(arr); i++)
        json_array_append(out, json_array_get(arr, i));
    return out;
}

static void h_order_book(struct req *r, struct reply *rp)
{
    const char *connector = r->params[0];
    const char *market = query(r, "market");
    long depth;
    if (!market || !*market || strlen(market) >= PARAM_MAX) {
        set_error(rp, 400, "bad_request", "query parameter 'market' is required");
        return;
    }
    if (!query_int(r, rp, "depth", DEFAULT_DEPTH, 1, MAX_DEPTH, &depth) || !have_engine(r, rp))
        return;
    char name[2 * PARAM_MAX + 8];
    snprintf(name, sizeof(name), "book:%s:%s", connector, market);
    json_t *book = clb_engine_snapshot(r->h->engine, name);
    if (!book) {
        if (!connector_known(r->h, connector))
            set_error(rp, 404, "not_found", "no connector '%s'", connector);
        else
            set_error(rp, 404, "not_found", "no order book for market '%s' on '%s'", market,
                      connector);
        return;
    }
    json_t *out = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(book, key, v) {
        if (strcmp(key, "bids") == 0 || strcmp(key, "asks") == 0)
            json_object_set_new(out, key, slice(v, (size_t)depth));
        else
            json_object_set(out, key, v);
    }
    json_object_set_new(out, "connector", json_string(connector));
    if (!json_object_get(out, "market"))
        json_object_set_new(out, "market", json_string(market));
    json_decref(book);
    set_json(rp, 200, out);
}

static void h_balances(struct req *r, struct reply *rp)
{
    const char *connector = query(r, "connector");
    if (!connector) {
        list_reply(r, rp, "balances", "balances");
        return;
    }
    json_t *s = snapshot(r, rp, "balances");
    if (!s)
        return;
    json_t *out = json_array();
    size_t i;
    json_t *b;
    json_array_foreach(s, i, b) {
        if (scalar_eq(json_object_get(b, "connector"), connector))
            json_array_append(out, b);
    }
    json_decref(s);
    set_json(rp, 200, json_pack("{s:o}", "balances", out));
}

static void h_strategies(struct req *r, struct reply *rp)
{
    list_reply(r, rp, "strategies", "strategies");
}

static void h_strategy_get(struct req *r, struct reply *rp)
{
    if (!have_engine(r, rp))
        return;
    json_t *s = find_strategy(r->h, r->params[0]);
    if (!s) {
        set_error(rp, 404, "not_found", "no strategy '%s'", r->params[0]);
        return;
    }
    set_json(rp, 200, s);
}

static void h_strategy_indicators(struct req *r, struct reply *rp)
{
    json_t *res;
    if (!have_engine(r, rp) || !strategy_id_plausible(rp, r->params[0]))
        return;
    json_t *p = json_pack("{s:o}", "id", strategy_id_value(r->h, r->params[0]));
    if (engine_call(r, rp, "indicators", p, &res))
        set_json(rp, 200, json_pack("{s:o}", "indicators", res));
}

/* ---- handlers: strategies (trade) ---- */

/* A strategy object for a reply: the command's result when it has an id,
 * else the snapshot's entry, else {"id": id}. Steals result. */
static json_t *strategy_reply_body(struct clb_http *h, json_t *result, json_t *id)
{
    if (json_is_object(result) && json_object_get(result, "id"))
        return result;
    json_decref(result);
    char text[PARAM_MAX + 8];
    if (id && scalar_text(id, text, sizeof(text))) {
        json_t *s = find_strategy(h, text);
        if (s)
            return s;
    }
    return json_pack("{s:O}", "id", id ? id : json_null());
}

static void h_strategy_create(struct req *r, struct reply *rp)
{
    static const struct field fs[] = {
        { "name", F_STRING, false },      { "type", F_STRING, true },
        { "connector", F_STRING, false }, { "market", F_STRING, true },
        { "params", F_OBJECT, false },   { "start", F_BOOL, false },
        { "connector_2", F_STRING, false }, { "market_2", F_STRING, false },
    };
    json_t *body = parse_body(r, rp, fs, sizeof(fs) / sizeof(fs[0]));
    json_t *res;
    if (!body)
        return;
    if (!json_object_get(body, "params"))
        json_object_set_new(body, "params", json_object());
    if (!engine_call(r, rp, "strategy.create", body, &res))
        return;
    json_t *id = json_incref(json_object_get(res, "id"));
    json_t *out = strategy_reply_body(r->h, res, id);
    char text[PARAM_MAX + 8];
    if (id && scalar_text(id, text, sizeof(text)))
        snprintf(rp->location, sizeof(rp->location), "/api/v1/strategies/%s", text);
    json_decref(id);
    set_json(rp, 201, out);
}

/* start / stop / update / delete: {id, ...} -> the strategy */
static void strategy_command(struct req *r, struct reply *rp, const char *method,
                             json_t *extra_params)
{
    json_t *res;
    if (!have_engine(r, rp) || !strategy_id_plausible(rp, r->params[0])) {
        json_decref(extra_params);
        return;
    }
    json_t *id = strategy_id_value(r->h, r->params[0]);
    json_t *p = extra_params ? extra_params : json_object();
    json_object_set(p, "id", id);
    if (!engine_call(r, rp, method, p, &res)) {
        json_decref(id);
        return;
    }
    if (strcmp(method, "strategy.delete") == 0) {
        json_decref(res);
        reply_clear(rp);
        rp->status = 204;
    } else {
        set_json(rp, 200, strategy_reply_body(r->h, res, id));
    }
    json_decref(id);
}

static void h_strategy_start(struct req *r, struct reply *rp)
{
    strategy_command(r, rp, "strategy.start", NULL);
}

static void h_strategy_stop(struct req *r, struct reply *rp)
{
    strategy_command(r, rp, "strategy.stop", NULL);
}

static void h_strategy_delete(struct req *r, struct reply *rp)
{
    strategy_command(r, rp, "strategy.delete", NULL);
}

static void h_strategy_update(struct req *r, struct reply *rp)
{
    static const struct field fs[] = { { "params", F_OBJECT, true } };
    json_t *body = parse_body(r, rp, fs, 1);
    if (!body)
        return;
    strategy_command(r, rp, "strategy.update", body);
}

/* ---- orders and trades: filters and keyset pagination ---- */

/* The cursor is the hex of "<time>:<id>" of the last item returned; the
 * next page starts strictly after it in (time desc, id desc) order, so new
 * items arriving between pages neither repeat nor shift what follows. */
static void cursor_make(int64_t t, const char *id, char *out, size_t cap)
{
    char raw[CURSOR_MAX / 2];
    int n = snprintf(raw, sizeof(raw), "%" PRId64 ":%s", t, id);
    if (n < 0 || (size_t)n >= sizeof(raw) || (size_t)n * 2 + 1 > cap) {
        out[0] = '\0';
        return;
    }
    for (int i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", (unsigned char)raw[i]);
}

static bool cursor_parse(const char *c, int64_t *t, char *id, size_t cap)
{
    size_t n = strlen(c);
    char raw[CURSOR_MAX / 2 + 1];
    if (n == 0 || n % 2 || n / 2 >= sizeof(raw))
        return false;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        char pair[3] = { c[2 * i], c[2 * i + 1], 0 };
        char *end;
        v = (unsigned)strtoul(pair, &end, 16);
        if (*end || !pair[0] || pair[0] == '-' || pair[0] == '+' || pair[0] == ' ')
            return false;
        raw[i] = (char)v;
    }
    raw[n / 2] = '\0';
    char *colon = strchr(raw, ':');
    if (!colon || colon == raw || strlen(colon + 1) >= cap)
        return false;
    *colon = '\0';
    char *end;
    errno = 0;
    long long x = strtoll(raw, &end, 10);
    if (*end || errno)
        return false;
    *t = x;
    snprintf(id, cap, "%s", colon + 1);
    return true;
}

struct keyed {
    json_t *item;
    int64_t t;
    char id[PARAM_MAX];
};

static int keyed_desc(const void *pa, const void *pb)
{
    const struct keyed *a = pa, *b = pb;
    if (a->t != b->t)
        return a->t > b->t ? -1 : 1;
    return -strcmp(a->id, b->id);
}

static const char *const terminal_states[] = { "filled", "canceled", "cancelled", "failed",
                                               "rejected", "expired", NULL };

static bool order_open(json_t *o)
{
    const char *st = json_string_value(json_object_get(o, "state"));
    if (!st)
        return true;
    for (size_t i = 0; terminal_states[i]; i++)
        if (strcmp(st, terminal_states[i]) == 0)
            return false;
    return true;
}

/* Filters, orders and pages one list snapshot into {key: [...], next_cursor}. */
static void paged_list(struct req *r, struct reply *rp, const char *snap, const char *key,
                       const char *time_key, const char *id_key, bool open_only)
{
    long limit;
    if (!query_int(r, rp, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, &limit))
        return;
    int64_t ct = 0;
    char cid[PARAM_MAX] = "";
    const char *cursor = query(r, "cursor");
    bool has_cursor = query_has(r, "cursor");
    if (has_cursor && (!cursor || !cursor_parse(cursor, &ct, cid, sizeof(cid)))) {
        set_error(rp, 400, "bad_request", "query parameter 'cursor' is not a valid cursor");
        return;
    }
    const char *strategy = query(r, "strategy");
    const char *connector = query(r, "connector");
    const char *market = query(r, "market");
    json_t *s = snapshot(r, rp, snap);
    if (!s)
        return;
    size_t n = json_array_size(s);
    struct keyed *v = calloc(n ? n : 1, sizeof(*v));
    if (!v) {
        json_decref(s);
        set_error(rp, 500, "internal", "out of memory");
        return;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_array_get(s, i);
        if ((strategy && !scalar_eq(json_object_get(o, "strategy"), strategy)) ||
            (connector && !scalar_eq(json_object_get(o, "connector"), connector)) ||
            (market && !scalar_eq(json_object_get(o, "market"), market)) ||
            (open_only && !order_open(o)))
            continue;
        v[k].item = o;
        v[k].t = (int64_t)json_number_value(json_object_get(o, time_key));
        if (!scalar_text(json_object_get(o, id_key), v[k].id, sizeof(v[k].id)))
            v[k].id[0] = '\0';
        k++;
    }
    qsort(v, k, sizeof(*v), keyed_desc);
    size_t start = 0;
    if (has_cursor) {
        struct keyed c = { .t = ct };
        snprintf(c.id, sizeof(c.id), "%s", cid);
        while (start < k && keyed_desc(&v[start], &c) <= 0)
            start++;
    }
    json_t *items = json_array();
    size_t end = start + (size_t)limit < k ? start + (size_t)limit : k;
    for (size_t i = start; i < end; i++)
        json_array_append(items, v[i].item);
    json_t *next = json_null();
    if (end < k && end > start) {
        char buf[CURSOR_MAX + 1];
        cursor_make(v[end - 1].t, v[end - 1].id, buf, sizeof(buf));
        if (buf[0]) {
            json_decref(next);
            next = json_string(buf);
        }
    }
    free(v);
    json_decref(s);
    set_json(rp, 200, json_pack("{s:o, s:o}", key, items, "next_cursor", next));
}

static void h_orders(struct req *r, struct reply *rp)
{
    const char *status = query(r, "status");
    bool open_only = true;
    if (query_has(r, "status")) {
        if (status && strcmp(status, "all") == 0) {
            open_only = false;
        } else if (!status || strcmp(status, "open") != 0) {
            set_error(rp, 400, "bad_request", "query parameter 'status' must be 'open' or 'all'");
            return;
        }
    }
    paged_list(r, rp, "orders", "orders", "created_ms", "client_order_id", open_only);
}

static void h_trades(struct req *r, struct reply *rp)
{
    paged_list(r, rp, "trades", "trades", "ts_ms", "trade_id", false);
}

static void h_order_create(struct req *r, struct reply *rp)
{
    static const struct field fs[] = {
        { "connector", F_STRING, false }, { "market", F_STRING, true },
        { "side", F_STRING, true },       { "type", F_STRING, false },
        { "price", F_DECIMAL, false },   { "amount", F_DECIMAL, true },
    };
    json_t *body = parse_body(r, rp, fs, sizeof(fs) / sizeof(fs[0]));
    json_t *res;
    if (!body)
        return;
    const char *side = json_string_value(json_object_get(body, "side"));
    if (strcmp(side, "buy") != 0 && strcmp(side, "sell") != 0) {
        set_error(rp, 400, "bad_request", "field 'side' must be 'buy' or 'sell'");
        json_decref(body);
        return;
    }
    if (!json_object_get(body, "type"))
        json_object_set_new(body, "type", json_string("limit"));
    if (!engine_call(r, rp, "order.create", body, &res))
        return;
    set_json(rp, 201, res);
}

static void h_order_cancel(struct req *r, struct reply *rp)
{
    const char *coid = r->params[0];
    const char *connector = query(r, "connector");
    json_t *res;
    if (!have_engine(r, rp))
        return;
    json_t *conn_v = NULL;
    if (connector && *connector) {
        conn_v = json_string(connector);
    } else {
        json_t *list = clb_engine_snapshot(r->h->engine, "orders");
        size_t i;
        json_t *o;
        json_array_foreach(list, i, o) {
            if (scalar_eq(json_object_get(o, "client_order_id"), coid)) {
                conn_v = json_deep_copy(json_object_get(o, "connector"));
                break;
            }
        }
        json_decref(list);
        if (!conn_v) {
            set_error(rp, 404, "not_found", "no order '%s'", coid);
            return;
        }
    }
    json_t *p = json_pack("{s:o, s:s}", "connector", conn_v, "client_order_id", coid);
    if (!engine_call(r, rp, "order.cancel", p, &res))
        return;
    if (!json_object_get(res, "client_order_id"))
        json_object_set_new(res, "client_order_id", json_string(coid));
    set_json(rp, 202, res);
}

static void h_performance(struct req *r, struct reply *rp)
{
    const char *strategy = query(r, "strategy");
    json_t *s = snapshot(r, rp, "performance");
    if (!s)
        return;
    if (!json_is_object(s)) {
        json_decref(s);
        set_error(rp, 500, "internal", "'performance' snapshot is not an object");
        return;
    }
    if (!strategy) {
        set_json(rp, 200, json_pack("{s:o}", "performance", s));
        return;
    }
    json_t *one = json_object_get(s, strategy);
    if (!one) {
        json_decref(s);
        set_error(rp, 404, "not_found", "no performance figures for strategy '%s'", strategy);
        return;
    }
    json_t *out = json_pack("{s:{s:O}}", "performance", strategy, one);
    json_decref(s);
    set_json(rp, 200, out);
}

/* ---- handlers: tokens (admin) ---- */

static json_t *token_json(const struct clb_token_record *t)
{
    char created[32], used[32];
    rfc3339(t->created_s, created, sizeof(created));
    rfc3339(t->last_used_s, used, sizeof(used));
    return json_pack("{s:s, s:s, s:s, s:o}", "name", t->name, "role", clb_role_name(t->role),
                     "created", created, "last_used",
                     t->last_used_s > 0 ? json_string(used) : json_null());
}

static void h_tokens(struct req *r, struct reply *rp)
{
    struct clb_token_record *recs = malloc(CLB_AUTH_MAX_TOKENS * sizeof(*recs));
    size_t n = 0;
    if (!recs) {
        set_error(rp, 500, "internal", "out of memory");
        return;
    }
    int rc = clb_auth_token_list(r->h->auth, recs, CLB_AUTH_MAX_TOKENS, &n);
    if (rc != CLB_OK && rc != CLB_EFULL) {
        free(recs);
        set_engine_error(rp, rc, "cannot read the token store");
        return;
    }
    if (n > CLB_AUTH_MAX_TOKENS)
        n = CLB_AUTH_MAX_TOKENS;
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, token_json(&recs[i]));
    free(recs);
    set_json(rp, 200, json_pack("{s:o}", "tokens", arr));
}

static void h_token_create(struct req *r, struct reply *rp)
{
    static const struct field fs[] = { { "name", F_STRING, true }, { "role", F_STRING, true } };
    json_t *body = parse_body(r, rp, fs, 2);
    if (!body)
        return;
    const char *name = json_string_value(json_object_get(body, "name"));
    enum clb_role role;
    if (!clb_token_name_valid(name)) {
        set_error(rp, 400, "bad_request",
                  "field 'name' must be 1-63 characters of letters, digits, '.', '_', '-'");
    } else if (clb_role_parse(json_string_value(json_object_get(body, "role")), &role) !=
               CLB_OK) {
        set_error(rp, 400, "bad_request", "field 'role' must be 'read', 'trade' or 'admin'");
    } else {
        char token[CLB_TOKEN_TEXT_LEN + 1];
        struct clb_token_record rec;
        int rc = clb_auth_token_create(r->h->auth, name, role, (int64_t)time(NULL), token, &rec);
        if (rc == CLB_EEXIST) {
            set_error(rp, 409, "already_exists", "a token named '%s' exists", name);
        } else if (rc != CLB_OK) {
            set_engine_error(rp, rc, "cannot store the token");
        } else {
            json_t *out = token_json(&rec);
            json_object_set_new(out, "token", json_string(token));
            snprintf(rp->location, sizeof(rp->location), "/api/v1/tokens/%s", rec.name);
            set_json(rp, 201, out);
        }
        memset(token, 0, sizeof(token));
    }
    json_decref(body);
}

static void h_token_revoke(struct req *r, struct reply *rp)
{
    const char *name = r->params[0];
    struct clb_token_record *recs = malloc(CLB_AUTH_MAX_TOKENS * sizeof(*recs));
    size_t n = 0;
    if (!recs) {
        set_error(rp, 500, "internal", "out of memory");
        return;
    }
    (void)clb_auth_token_list(r->h->auth, recs, CLB_AUTH_MAX_TOKENS, &n);
    size_t admins = 0;
    bool target_admin = false, found = false;
    for (size_t i = 0; i < n && i < CLB_AUTH_MAX_TOKENS; i++) {
        if (recs[i].role == CLB_ROLE_ADMIN)
            admins++;
        if (strcmp(recs[i].name, name) == 0) {
            found = true;
            target_admin = recs[i].role == CLB_ROLE_ADMIN;
        }
    }
    free(recs);
    if (!found) {
        set_error(rp, 404, "not_found", "no token named '%s'", name);
        return;
    }
    if (target_admin && admins == 1) {
        set_error(rp, 409, "conflict",
                  "'%s' is the last admin token; create another admin token first "
                  "(or use 'colibri token revoke')",
                  name);
        return;
    }
    int rc = clb_auth_token_revoke(r->h->auth, name);
    if (rc == CLB_ENOTFOUND) {
        set_error(rp, 404, "not_found", "no token named '%s'", name);
        return;
    }
    if (rc != CLB_OK) {
        set_engine_error(rp, rc, "cannot update the token store");
        return;
    }
    reply_clear(rp);
    rp->status = 204;
}

/* ---- routing ---- */

/* Matches a path against a template, copying "{x}" segments into params. */
static bool path_match(const char *tmpl, const char *path, char params[][PARAM_MAX])
{
    int np = 0;
    while (*tmpl && *path) {
        if (*tmpl != '/' || *path != '/')
            return false;
        tmpl++;
        path++;
        const char *te = strchr(tmpl, '/'), *pe = strchr(path, '/');
        size_t tl = te ? (size_t)(te - tmpl) : strlen(tmpl);
        size_t pl = pe ? (size_t)(pe - path) : strlen(path);
        if (tl > 0 && tmpl[0] == '{') {
            if (pl == 0 || pl >= PARAM_MAX || np >= MAX_PATH_PARAMS)
                return false;
            memcpy(params[np], path, pl);
            params[np][pl] = '\0';
            np++;
        } else if (tl != pl || strncmp(tmpl, path, tl) != 0) {
            return false;
        }
        tmpl += tl;
        path += pl;
    }
    return *tmpl == '\0' && *path == '\0';
}

static size_t method_index(const char *m)
{
    for (size_t i = 0; i + 1 < N_METHODS; i++)
        if (strcmp(m, methods[i]) == 0)
            return i;
    return N_METHODS - 1;
}

static size_t template_index(const char *path)
{
    for (size_t i = 0; i < N_ROUTES; i++)
        if (strcmp(routes[i].path, path) == 0)
            return i;
    return N_ROUTES;
}

/* Finds the route for (method, url). On no match sets 404 or 405 (with
 * Allow) in rp and returns NULL; r->tmpl is set either way. */
static const struct route *route_find(struct req *r, const char *method, const char *url,
                                      struct reply *rp)
{
    char params[MAX_PATH_PARAMS][PARAM_MAX];
    const struct route *path_hit = NULL;
    const char *m = strcmp(method, "HEAD") == 0 ? "GET" : method;
    r->tmpl = N_ROUTES;
    rp->allow[0] = '\0';
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!path_match(routes[i].path, url, params))
            continue;
        if (!path_hit) {
            path_hit = &routes[i];
            r->tmpl = template_index(routes[i].path);
        }
        size_t al = strlen(rp->allow);
        snprintf(rp->allow + al, sizeof(rp->allow) - al, "%s%s", al ? ", " : "",
                 routes[i].method);
        if (strcmp(routes[i].method, m) == 0) {
            memcpy(r->params, params, sizeof(params));
            return &routes[i];
        }
    }
    if (!path_hit) {
        set_error(rp, 404, "not_found", "no route %s", url);
    } else {
        if (strstr(rp->allow, "GET")) {
            size_t al = strlen(rp->allow);
            snprintf(rp->allow + al, sizeof(rp->allow) - al, ", HEAD");
        }
        set_error(rp, 405, "method_not_allowed", "%s is not allowed on %s", method, url);
    }
    return NULL;
}

struct query_check {
    const char *allowed;
    char bad[PARAM_MAX];
};

static enum MHD_Result query_check_it(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    (void)kind;
    (void)value;
    struct query_check *q = cls;
    size_t kl = strlen(key);
    if (q->allowed && strcmp(q->allowed, "*") == 0)
        return MHD_YES;
    for (const char *a = q->allowed; a && *a;) {
        const char *e = strchr(a, ',');
        size_t l = e ? (size_t)(e - a) : strlen(a);
        if (l == kl && strncmp(a, key, l) == 0)
            return MHD_YES;
        a = e ? e + 1 : a + l;
    }
    snprintf(q->bad, sizeof(q->bad), "%s", key);
    return MHD_NO;
}

/* ---- the stream's address and static files ---- */

static void h_stream_config(struct req *r, struct reply *rp)
{
    struct clb_http *h = r->h;
    char url[sizeof(h->stream_url)];
    pthread_mutex_lock(&h->stream_lock);
    memcpy(url, h->stream_url, sizeof(url));
    int port = h->stream_port;
    pthread_mutex_unlock(&h->stream_lock);
    if (!url[0]) {
        set_error(rp, 503, "not_ready", "the WebSocket stream is not running");
        return;
    }
    set_json(rp, 200, json_pack("{s:s, s:i, s:s}", "url", url, "port", port, "path", "/ws"));
}

/* /gateway/...: the gateway parses the body and answers (it may block on
 * its node for up to its RPC timeout; this is a connection thread). */
static void h_gateway(struct req *r, struct reply *rp)
{
    if (!r->h->gateway) {
        set_error(rp, 503, "not_ready", "the DEX gateway is not configured (\"gateway\" key)");
        return;
    }
    json_t *out = NULL;
    int status = clb_gateway_handle(r->h->gateway, r->route->method, r->route->path, r->body,
                                    r->body_len, &out);
    set_json(rp, status, out);
}

static const struct {
    const char *ext;
    const char *type;
} mime_types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".map", "application/json" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".ico", "image/x-icon" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".woff2", "font/woff2" },
};

/* The Content-Type for a file name; NULL for any other kind of file (not
 * served: only what a page loads is). */
static const char *mime_type(const char *path)
{
    size_t pl = strlen(path);
    for (size_t i = 0; i < sizeof(mime_types) / sizeof(mime_types[0]); i++) {
        size_t el = strlen(mime_types[i].ext);
        if (pl > el && strcmp(path + pl - el, mime_types[i].ext) == 0)
            return mime_types[i].type;
    }
    return NULL;
}

/* True when rel (relative to the web directory) is safe to open: not
 * empty, no "..", "//", leading '/', backslash, '%', control byte, and no
 * segment starting with '.'. */
static bool static_path_ok(const char *rel)
{
    if (!*rel || *rel == '/' || strlen(rel) > 200)
        return false;
    for (const char *p = rel; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f || c == '\\' || c == '%')
            return false;
        if ((p == rel || p[-1] == '/') && (c == '.' || c == '/'))
            return false;
    }
    return !strstr(rel, "..");
}

/* Maps a URL onto a file of the web directory: 1 with rel set when the
 * URL is a static route, 0 when it is not one (the API routes take it). */
static int static_route(const char *url, const char **rel)
{
    if (strcmp(url, "/") == 0 || strcmp(url, "/index.html") == 0) {
        *rel = "index.html";
        return 1;
    }
    if (strncmp(url, "/web/", 5) == 0) {
        *rel = url + 5;
        return 1;
    }
    if (strncmp(url, "/assets/", 8) == 0) {
        *rel = url + 1; /* assets/... inside the web directory */
        return 1;
    }
    return 0;
}

/* Answers a static route into rp: 200 with the file, 404, 405 or 500. */
static void static_file(struct clb_http *h, const char *method, const char *url,
                        const char *rel, struct reply *rp)
{
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        snprintf(rp->allow, sizeof(rp->allow), "GET, HEAD");
        set_error(rp, 405, "method_not_allowed", "%s is not allowed on static files", method);
        return;
    }
    if (!static_path_ok(rel) || !mime_type(rel)) {
        set_error(rp, 404, "not_found", "no such file");
        return;
    }
    char path[4096];
    int n = snprintf(path, sizeof(path), "%s/%s", h->web_dir, rel);
    if (n < 0 || (size_t)n >= sizeof(path)) {
        set_error(rp, 404, "not_found", "no such file");
        return;
    }
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > CLB_HTTP_STATIC_MAX_BYTES) {
        if (fd >= 0)
            close(fd);
        set_error(rp, 404, "not_found", "no such file %s", url);
        return;
    }
    size_t size = (size_t)st.st_size;
    char *buf = malloc(size ? size : 1);
    size_t got = 0;
    while (buf && got < size) {
        ssize_t k = read(fd, buf + got, size - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        got += (size_t)k;
    }
    close(fd);
    if (!buf || got != size) {
        free(buf);
        set_error(rp, 500, "internal", "cannot read a static file");
        return;
    }
    reply_clear(rp);
    rp->status = 200;
    rp->text = buf;
    rp->text_len = size;
    rp->content_type = mime_type(rel);
    rp->html = strncmp(rp->content_type, "text/html", 9) == 0;
    /* The page is revalidated on every load; the files it loads (versioned
     * with the build) may be reused for a few minutes. */
    rp->cache_control = rp->html ? "no-cache" : "public, max-age=300";
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* MHD's URL unescaping, except that %00 stays as it is: a decoded NUL
 * would silently shorten the path (or a query value). */
static size_t unescape_keep_nul(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    char *w = s;
    for (const char *p = s; *p;) {
        int hi, lo;
        if (p[0] == '%' && (hi = hexval(p[1])) >= 0 && (lo = hexval(p[2])) >= 0 &&
            (hi | lo) != 0) {
            *w++ = (char)(hi * 16 + lo);
            p += 3;
        } else {
            *w++ = *p++;
        }
    }
    *w = '\0';
    return (size_t)(w - s);
}

/* ---- MHD glue ---- */

static void client_addr(struct MHD_Connection *c, char *out, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, cap, "unknown");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
                  (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out,
                  (socklen_t)cap);
}

/* Counts an answered request in the layer's metrics (at the time its
 * response is queued, so a client that reads /metrics next sees it). */
static void record_request(struct req *r)
{
    struct clb_http *h = r->h;
    if (r->status < 100 || r->status >= 600)
        return;
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - r->t0.tv_sec) + (t1.tv_nsec - r->t0.tv_nsec) / 1e9;
    pthread_mutex_lock(&h->stats.lock);
    struct dur_hist *d = &h->stats.dur[r->tmpl][r->method];
    for (size_t k = 0; k < N_DUR; k++)
        if (secs <= dur_buckets[k])
            d->bucket[k]++;
    d->count++;
    d->sum += secs;
    h->stats.codes[r->status]++;
    pthread_mutex_unlock(&h->stats.lock);
}

static enum MHD_Result send_reply(struct req *r, struct reply *rp)
{
    struct MHD_Response *resp;
    if (rp->status == 204) {
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else if (rp->text) {
        resp = MHD_create_response_from_buffer(rp->text_len, rp->text, MHD_RESPMEM_MUST_FREE);
        if (resp)
            rp->text = NULL;
    } else {
        if (!rp->json)
            set_error(rp, 500, "internal", "no response");
        /* 15 significant digits: what people type reads back as typed (0.1, not
         * 0.10000000000000001); exact amounts travel as decimal strings anyway. */
        char *text = rp->json ? json_dumps(rp->json, JSON_COMPACT | JSON_REAL_PRECISION(15))
                              : NULL;
        if (!text) {
            static const char oom[] =
                "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
            rp->status = 500;
            resp = MHD_create_response_from_buffer(sizeof(oom) - 1, (void *)oom,
                                                   MHD_RESPMEM_PERSISTENT);
        } else {
            size_t len = strlen(text);
            char *withnl = realloc(text, len + 2);
            if (withnl) {
                text = withnl;
                text[len++] = '\n';
                text[len] = '\0';
            }
            resp = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
            if (!resp)
                free(text);
        }
        rp->content_type = "application/json";
    }
    if (!resp) {
        reply_clear(rp);
        return MHD_NO;
    }
    if (rp->status != 204)
        MHD_add_response_header(resp, "Content-Type", rp->content_type);
    MHD_add_response_header(resp, "Cache-Control",
                            rp->cache_control ? rp->cache_control : "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    if (rp->html) {
        /* The page talks to this origin and to the stream's wss: port only. */
        MHD_add_response_header(resp, "Content-Security-Policy",
                                "default-src 'self'; connect-src 'self' wss:; "
                                "img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
        MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
        MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    }
    if (rp->allow[0] && rp->status == 405)
        MHD_add_response_header(resp, "Allow", rp->allow);
    if (rp->location[0])
        MHD_add_response_header(resp, "Location", rp->location);
    if (rp->www_auth)
        MHD_add_response_header(resp, "WWW-Authenticate", rp->www_auth);
    if (rp->retry_after_s > 0) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%d", rp->retry_after_s);
        MHD_add_response_header(resp, "Retry-After", ra);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)rp->status, resp);
    MHD_destroy_response(resp);
    r->status = rp->status;
    r->responded = true;
    reply_clear(rp);
    record_request(r);
    return ret;
}

/* Authentication and authorisation of a routed request: true to go on,
 * false with rp set (401, 403, 429). */
static bool authorize(struct req *r, struct reply *rp)
{
    struct clb_http *h = r->h;
    if (r->route->role == CLB_ROLE_NONE ||
        (h->metrics_public && r->route->fn == h_metrics))
        return true;
    char addr[CLB_AUTH_ADDR_MAX];
    client_addr(r->conn, addr, sizeof(addr));
    int retry = 0;
    int64_t now = mono_ms();
    if (clb_auth_throttle_check(h->auth, addr, now, &retry) != CLB_OK) {
        set_error(rp, 429, "too_many_requests",
                  "too many failed authentication attempts; retry in %d s", retry);
        rp->retry_after_s = retry;
        return false;
    }
    const char *hdr = MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, "Authorization");
    if (!hdr || strncasecmp(hdr, "Bearer ", 7) != 0) {
        set_error(rp, 401, "unauthorized", "an 'Authorization: Bearer TOKEN' header is required");
        rp->www_auth = "Bearer realm=\"colibri\"";
        return false;
    }
    const char *tok = hdr + 7;
    while (*tok == ' ')
        tok++;
    if (clb_auth_verify(h->auth, tok, (int64_t)time(NULL), &r->role, r->token_name) != CLB_OK) {
        clb_auth_throttle_fail(h->auth, addr, now);
        set_error(rp, 401, "unauthorized", "invalid or revoked token");
        rp->www_auth = "Bearer realm=\"colibri\", error=\"invalid_token\"";
        return false;
    }
    if (!clb_role_allows(r->role, r->route->role)) {
        set_error(rp, 403, "forbidden", "this route needs the '%s' role; the token has '%s'",
                  clb_role_name(r->route->role), clb_role_name(r->role));
        return false;
    }
    return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    (void)version;
    struct clb_http *h = cls;
    struct req *r = *con_cls;
    struct reply rp = { .status = 200 };
    if (!r) {
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->h = h;
        r->conn = conn;
        r->method = method_index(method);
        clock_gettime(CLOCK_MONOTONIC, &r->t0);
        *con_cls = r;
        const char *rel = NULL;
        if (h->web_dir && static_route(url, &rel)) {
            r->tmpl = N_ROUTES;
            static_file(h, method, url, rel, &rp);
            return send_reply(r, &rp);
        }
        r->route = route_find(r, method, url, &rp);
        if (!r->route)
            return send_reply(r, &rp);
        if (!authorize(r, &rp))
            return send_reply(r, &rp);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > DISCARD_MAX) {
            set_error(&rp, 413, "payload_too_large", "request bodies are limited to %d bytes",
                      CLB_HTTP_MAX_BODY);
            return send_reply(r, &rp);
        }
        return MHD_YES;
    }
    r->conn = conn;
    if (r->responded) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        r->seen_len += n;
        if (r->seen_len > DISCARD_MAX)
            return MHD_NO; /* close: not worth reading further */
        if (r->too_large)
            return MHD_YES;
        if (r->body_len + n > CLB_HTTP_MAX_BODY) {
            r->too_large = true;
            free(r->body);
            r->body = NULL;
            r->body_len = 0;
            return MHD_YES;
        }
        char *b = realloc(r->body, r->body_len + n + 1);
        if (!b)
            return MHD_NO;
        memcpy(b + r->body_len, upload_data, n);
        r->body = b;
        r->body_len += n;
        r->body[r->body_len] = '\0';
        return MHD_YES;
    }
    /* the whole request is in */
    if (r->too_large) {
        set_error(&rp, 413, "payload_too_large", "request bodies are limited to %d bytes",
                  CLB_HTTP_MAX_BODY);
        return send_reply(r, &rp);
    }
    struct query_check qc = { .allowed = r->route->query };
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, query_check_it, &qc);
    if (qc.bad[0]) {
        set_error(&rp, 400, "bad_request", "unknown query parameter '%s'", qc.bad);
        return send_reply(r, &rp);
    }
    r->route->fn(r, &rp);
    return send_reply(r, &rp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    struct req *r = *con_cls;
    if (!r)
        return;
    *con_cls = NULL;
    free(r->body);
    free(r);
}

/* libmicrohttpd's error logger: fmt is its printf format. */
__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
                                                             va_list ap)
{
    struct clb_http *h = cls;
    pthread_mutex_lock(&h->log_lock);
    if (h->starting && !h->start_err[0]) {
        vsnprintf(h->start_err, sizeof(h->start_err), fmt, ap);
        size_t n = strlen(h->start_err);
        while (n && (h->start_err[n - 1] == '\n' || h->start_err[n - 1] == '.'))
            h->start_err[--n] = '\0';
    }
    pthread_mutex_unlock(&h->log_lock);
}

/* ---- start / stop ---- */

static int read_pem(const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
        return CLB_EIO;
    }
    char *buf = malloc(MAX_PEM_BYTES + 1);
    size_t n = buf ? fread(buf, 1, MAX_PEM_BYTES + 1, f) : 0;
    bool bad = ferror(f);
    fclose(f);
    if (!buf || bad || n == 0 || n > MAX_PEM_BYTES || !strstr(buf, "-----BEGIN ")) {
        if (buf)
            buf[n <= MAX_PEM_BYTES ? n : MAX_PEM_BYTES] = '\0';
        snprintf(err, errlen, "%s: %s", path,
                 !buf                ? "out of memory"
                 : n > MAX_PEM_BYTES ? "too large"
                                     : "not a PEM file");
        free(buf);
        return CLB_EIO;
    }
    buf[n] = '\0';
    *out = buf;
    return CLB_OK;
}

static void http_free(struct clb_http *h)
{
    if (!h)
        return;
    clb_auth_destroy(h->auth);
    if (h->key_pem)
        memset(h->key_pem, 0, strlen(h->key_pem));
    free(h->key_pem);
    free(h->cert_pem);
    pthread_mutex_destroy(&h->stats.lock);
    pthread_mutex_destroy(&h->log_lock);
    pthread_mutex_destroy(&h->stream_lock);
    free(h->web_dir);
    free(h);
}

int clb_http_start(const struct clb_http_config *cfg, struct clb_http **out, char *err,
                   size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    *out = NULL;
    if (!cfg || !cfg->data_dir || !*cfg->data_dir) {
        snprintf(err, errlen, "a data directory is required (tokens live there)");
        return CLB_EINVAL;
    }
    if (cfg->port < 0 || cfg->port > 65535) {
        snprintf(err, errlen, "port %d out of range", cfg->port);
        return CLB_EINVAL;
    }
    if (!cfg->cert_pem_path != !cfg->key_pem_path) {
        snprintf(err, errlen, "TLS needs both a certificate and a key");
        return CLB_EINVAL;
    }
    const char *host = cfg->host && *cfg->host ? cfg->host : "127.0.0.1";
    struct addrinfo hints = { .ai_flags = AI_PASSIVE, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai) {
        snprintf(err, errlen, "cannot resolve listen address '%s'", host);
        return CLB_EINVAL;
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    bool v6 = ss.ss_family == AF_INET6;
    if (v6)
        ((struct sockaddr_in6 *)(void *)&ss)->sin6_port = htons((uint16_t)cfg->port);
    else
        ((struct sockaddr_in *)(void *)&ss)->sin_port = htons((uint16_t)cfg->port);

    struct clb_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return CLB_ENOMEM;
    }
    pthread_mutex_init(&h->stats.lock, NULL);
    pthread_mutex_init(&h->log_lock, NULL);
    pthread_mutex_init(&h->stream_lock, NULL);
    h->engine = cfg->engine;
    h->gateway = cfg->gateway;
    if (cfg->web_dir && *cfg->web_dir) {
        h->web_dir = strdup(cfg->web_dir);
        if (!h->web_dir) {
            snprintf(err, errlen, "out of memory");
            http_free(h);
            return CLB_ENOMEM;
        }
    }
    h->metrics_public = cfg->metrics_public;

    struct clb_token_store store;
    int rc = clb_token_store_open(cfg->data_dir, cfg->store_url, &store, err, errlen);
    if (rc == CLB_OK)
        rc = clb_auth_create(store, &h->auth);
    if (rc != CLB_OK) {
        if (!err[0])
            snprintf(err, errlen, "cannot open the token store: %s", clb_strerror(rc));
        http_free(h);
        return rc == CLB_EINVAL ? CLB_EINVAL : CLB_EIO;
    }
    bool tls = cfg->cert_pem_path != NULL;
    if (tls) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            snprintf(err, errlen, "this libmicrohttpd has no TLS support");
            http_free(h);
            return CLB_EIO;
        }
        if (read_pem(cfg->cert_pem_path, &h->cert_pem, err, errlen) != CLB_OK ||
            read_pem(cfg->key_pem_path, &h->key_pem, err, errlen) != CLB_OK) {
            http_free(h);
            return CLB_EIO;
        }
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_USE_ITC;
    if (tls)
        flags |= MHD_USE_TLS;
    if (v6)
        flags |= MHD_USE_IPv6;
    struct MHD_OptionItem opts[13];
    size_t no = 0;
    /* Function pointers travel as intptr_t in an option array (MHD's
     * documented convention for two-argument options: value, ptr_value). */
    opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h };
    opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, h };
    opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &ss };
    opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_UNESCAPE_CALLBACK,
                                          (intptr_t)unescape_keep_nul, NULL };
    opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, CLB_HTTP_MAX_CONNECTIONS,
                                          NULL };
    opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                          CLB_HTTP_MAX_PER_IP, NULL };
    opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, CLB_HTTP_TIMEOUT_S,
                                          NULL };
    if (tls) {
        opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert_pem };
        opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, h->key_pem };
        opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_PRIORITIES, 0,
                                              (void *)TLS_PRIORITIES };
    }
    opts[no++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };
    h->starting = true;
    h->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, opts,
                                 MHD_OPTION_END);
    pthread_mutex_lock(&h->log_lock);
    h->starting = false;
    pthread_mutex_unlock(&h->log_lock);
    if (!h->daemon) {
        snprintf(err, errlen, "cannot serve on %s:%d%s%s", host, cfg->port,
                 h->start_err[0] ? ": " : " (address in use, or bad TLS certificate/key?)",
                 h->start_err);
        http_free(h);
        return CLB_EIO;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : cfg->port;
    *out = h;
    return CLB_OK;
}

void clb_http_set_stream(struct clb_http *h, const char *url, int port)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->stream_lock);
    snprintf(h->stream_url, sizeof(h->stream_url), "%s", url ? url : "");
    h->stream_port = port;
    pthread_mutex_unlock(&h->stream_lock);
}

int clb_http_port(const struct clb_http *h)
{
    return h ? h->port : 0;
}

void clb_http_stop(struct clb_http *h)
{
    if (!h)
        return;
    if (h->daemon)
        MHD_stop_daemon(h->daemon);
    http_free(h);
}
