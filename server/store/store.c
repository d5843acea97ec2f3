/*
 * store.c — the backend-independent half of the store: URLs, records and
 * their checks, the SQL of every write and read (shared by both backends:
 * the dialects agree on INSERT ... ON CONFLICT, excluded.*, and $N
 * parameters), migrations, and row decoding.
 *
 * Values travel as text or 64-bit integers (struct db_param): decimals are
 * formatted with clb_dec_format and parsed back with clb_dec_parse, so a
 * value keeps its exact digits and scale; states, sides, order types and
 * error codes are stored by name ("partially_filled", "buy", "ENOTFOUND") so
 * the tables read well and survive enum reordering.
 */
#include "store.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "error.h"
#include "store_backend.h"
#include "store_migrations.h"

#define DEFAULT_DATA_DIR "var"
#define DEFAULT_DB_FILE "colibri.db"
#define DEFAULT_INSTANCE "default"
#define MAX_WRITE_RECS 10000

/* ---- small helpers ---- */

void store_set_err(struct clb_store *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->err, sizeof(s->err), fmt, ap);
    va_end(ap);
}

static void set_errbuf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_errbuf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int clb_store_strlcpy(char *dst, size_t cap, const char *src)
{
    if (!dst || cap == 0)
        return CLB_EINVAL;
    if (!src)
        src = "";
    size_t n = strlen(src);
    if (n >= cap) {
        dst[0] = '\0';
        return CLB_ERANGE;
    }
    memcpy(dst, src, n + 1);
    return CLB_OK;
}

static bool id_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= CLB_STORE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!isalnum(c) && c != '.' && c != '_' && c != ':' && c != '-')
            return false;
    }
    return true;
}

/* ---- names ---- */

static const char *const side_names[] = { "buy", "sell" };
static const char *const type_names[] = { "limit", "limit_maker", "market" };

static int parse_name(const char *s, const char *const *names, int n)
{
    if (!s)
        return -1;
    for (int i = 0; i < n; i++)
        if (strcmp(s, names[i]) == 0)
            return i;
    return -1;
}

static int parse_state(const char *s)
{
    if (!s)
        return -2;
    if (strcmp(s, "none") == 0)
        return CLB_ORDER_STATE_NONE;
    for (int i = 0; i < CLB_ORDER_STATE_COUNT_; i++)
        if (strcmp(s, clb_order_state_name(i)) == 0)
            return i;
    return -2;
}

/* Error codes by name ("ENOTFOUND"), "" for 0, decimal for unknown codes. */
static void reason_format(int code, char *buf, size_t cap)
{
    if (code == 0)
        buf[0] = '\0';
    else if (code > CLB_ERR_FIRST_ && code < CLB_ERR_LAST_)
        snprintf(buf, cap, "%s", clb_err_name(code));
    else
        snprintf(buf, cap, "%d", code);
}

static int reason_parse(const char *s)
{
    if (!s || !*s)
        return 0;
    for (int c = CLB_ERR_FIRST_ + 1; c < CLB_ERR_LAST_; c++)
        if (strcmp(s, clb_err_name(c)) == 0)
            return c;
    return (int)strtol(s, NULL, 10);
}

const char *clb_store_rec_type_name(int type)
{
    static const char *const names[CLB_STORE_REC_COUNT_] = {
        [CLB_STORE_REC_ORDER] = "order",
        [CLB_STORE_REC_ORDER_STATE] = "order_state",
        [CLB_STORE_REC_FILL] = "fill",
        [CLB_STORE_REC_BALANCE] = "balance",
        [CLB_STORE_REC_STRATEGY] = "strategy",
        [CLB_STORE_REC_TOKEN_ADD] = "token_add",
        [CLB_STORE_REC_TOKEN_REVOKE] = "token_revoke",
        [CLB_STORE_REC_TOKEN_TOUCH] = "token_touch",
        [CLB_STORE_REC_BT_RUN] = "bt_run",
        [CLB_STORE_REC_BT_RESULT] = "bt_result",
    };
    if (type <= 0 || type >= CLB_STORE_REC_COUNT_)
        return "unknown";
    return names[type];
}

const char *clb_store_backend_name(enum clb_store_backend b)
{
    return b == CLB_STORE_POSTGRES ? "postgres" : "sqlite";
}

/* ---- record checks ---- */

struct checker {
    char *why;
    size_t cap;
    int rc;
};

static void bad(struct checker *c, const char *what, const char *field)
{
    if (c->rc == CLB_OK && c->why && c->cap)
        snprintf(c->why, c->cap, "%s: %s", field, what);
    c->rc = CLB_EINVAL;
}

/* A string field: NUL-terminated within its array, optionally non-empty. */
static void chk_str(struct checker *c, const char *field, const char *a, size_t cap, bool required)
{
    if (!memchr(a, '\0', cap))
        bad(c, "not terminated within its field", field);
    else if (required && a[0] == '\0')
        bad(c, "required", field);
}
#define CHK_STR(c, obj, f, req) chk_str((c), #f, (obj)->f, sizeof((obj)->f), (req))

static void chk_dec(struct checker *c, const char *field, clb_dec d, bool positive)
{
    if (d.scale < 0 || d.scale > CLB_DEC_MAX_SCALE)
        bad(c, "decimal scale out of range", field);
    else if (positive && d.m <= 0)
        bad(c, "must be > 0", field);
}

static void chk_json(struct checker *c, const char *field, const char *js)
{
    if (!js)
        return;
    size_t n = strnlen(js, CLB_STORE_JSON_MAX + 1);
    if (n > CLB_STORE_JSON_MAX) {
        bad(c, "JSON document too large", field);
        return;
    }
    json_error_t jerr;
    json_t *j = json_loadb(js, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j)
        bad(c, "not valid JSON", field);
    json_decref(j);
}

static void chk_state(struct checker *c, const char *field, int st, bool allow_none)
{
    if (!((st >= 0 && st < CLB_ORDER_STATE_COUNT_) || (allow_none && st == CLB_ORDER_STATE_NONE)))
        bad(c, "unknown order state", field);
}

int clb_store_rec_check(const struct clb_store_rec *rec, char *why, size_t cap)
{
    struct checker c = { why, cap, CLB_OK };
    if (why && cap)
        why[0] = '\0';
    if (!rec) {
        bad(&c, "NULL", "record");
        return c.rc;
    }
    switch (rec->type) {
    case CLB_STORE_REC_ORDER: {
        const struct clb_store_order *o = &rec->u.order;
        CHK_STR(&c, o, client_order_id, true);
        CHK_STR(&c, o, exchange_order_id, false);
        CHK_STR(&c, o, connector, true);
        CHK_STR(&c, o, market, true);
        CHK_STR(&c, o, strategy_id, false);
        if ((unsigned)o->side > CLB_SIDE_SELL)
            bad(&c, "unknown side", "side");
        if ((unsigned)o->type > CLB_ORDER_MARKET)
            bad(&c, "unknown order type", "type");
        chk_state(&c, "state", o->state, false);
        chk_dec(&c, "price", o->price, false);
        chk_dec(&c, "amount", o->amount, false);
        chk_dec(&c, "executed_base", o->executed_base, false);
        chk_dec(&c, "executed_quote", o->executed_quote, false);
        break;
    }
    case CLB_STORE_REC_ORDER_STATE: {
        const struct clb_store_order_state *st = &rec->u.order_state;
        CHK_STR(&c, st, client_order_id, true);
        CHK_STR(&c, st, exchange_order_id, false);
        chk_state(&c, "prev_state", st->prev_state, true);
        chk_state(&c, "state", st->state, false);
        chk_dec(&c, "executed_base", st->executed_base, false);
        chk_dec(&c, "executed_quote", st->executed_quote, false);
        break;
    }
    case CLB_STORE_REC_FILL: {
        const struct clb_store_fill *f = &rec->u.fill;
        CHK_STR(&c, f, connector, true);
        CHK_STR(&c, f, market, true);
        CHK_STR(&c, f, trade_id, true);
        CHK_STR(&c, f, client_order_id, false);
        CHK_STR(&c, f, exchange_order_id, false);
        CHK_STR(&c, f, strategy_id, false);
        CHK_STR(&c, f, fee_asset, false);
        if ((unsigned)f->side > CLB_SIDE_SELL)
            bad(&c, "unknown side", "side");
        chk_dec(&c, "price", f->price, true);
        chk_dec(&c, "amount", f->amount, true);
        chk_dec(&c, "fee", f->fee, false);
        break;
    }
    case CLB_STORE_REC_BALANCE: {
        const struct clb_store_balance *b = &rec->u.balance;
        CHK_STR(&c, b, connector, true);
        CHK_STR(&c, b, asset, true);
        chk_dec(&c, "total", b->total, false);
        chk_dec(&c, "available", b->available, false);
        break;
    }
    case CLB_STORE_REC_STRATEGY: {
        const struct clb_store_strategy *st = &rec->u.strategy;
        CHK_STR(&c, st, id, true);
        CHK_STR(&c, st, name, false);
        CHK_STR(&c, st, type, true);
        CHK_STR(&c, st, connector, false);
        CHK_STR(&c, st, market, false);
        CHK_STR(&c, st, status, true);
        chk_json(&c, "config_json", st->config_json);
        chk_json(&c, "state_json", st->state_json);
        break;
    }
    case CLB_STORE_REC_TOKEN_ADD: {
        const struct clb_store_token *t = &rec->u.token;
        CHK_STR(&c, t, name, true);
        CHK_STR(&c, t, hash, true);
        CHK_STR(&c, t, role, true);
        break;
    }
    case CLB_STORE_REC_TOKEN_REVOKE:
    case CLB_STORE_REC_TOKEN_TOUCH:
        CHK_STR(&c, &rec->u.token_ref, name, true);
        break;
    case CLB_STORE_REC_BT_RUN: {
        const struct clb_store_bt_run *r = &rec->u.bt_run;
        CHK_STR(&c, r, run_id, true);
        CHK_STR(&c, r, kind, true);
        CHK_STR(&c, r, strategy, true);
        CHK_STR(&c, r, data_file, false);
        CHK_STR(&c, r, status, true);
        if (r->shard_index < 0 || r->shard_count < 1 || r->shard_index >= r->shard_count)
            bad(&c, "need 0 <= shard_index < shard_count", "shard_index");
        chk_json(&c, "params_json", r->params_json);
        chk_json(&c, "summary_json", r->summary_json);
        break;
    }
    case CLB_STORE_REC_BT_RESULT: {
        const struct clb_store_bt_result *r = &rec->u.bt_result;
        CHK_STR(&c, r, run_id, true);
        if (r->combo < 0 || r->shard_index < 0)
            bad(&c, "must be >= 0", "combo");
        chk_json(&c, "params_json", r->params_json);
        chk_json(&c, "metrics_json", r->metrics_json);
        break;
    }
    default:
        bad(&c, "unknown record type", "type");
        break;
    }
    return c.rc;
}

/* ---- records from events ---- */

static int copy_all(int rc, char *dst, size_t cap, const char *src)
{
    int r = clb_store_strlcpy(dst, cap, src);
    return rc != CLB_OK ? rc : r;
}

int clb_store_rec_order_from_event(const struct clb_event *ev, const char *strategy_id,
                                   struct clb_store_rec *out)
{
    if (!ev || !out || !(CLB_EV_MASK(ev->type) & CLB_EV_MASK_ORDERS))
        return CLB_EINVAL;
    const struct clb_order_event *e = &ev->u.order;
    memset(out, 0, sizeof(*out));
    out->type = CLB_STORE_REC_ORDER;
    struct clb_store_order *o = &out->u.order;
    int rc = CLB_OK;
    rc = copy_all(rc, o->client_order_id, sizeof(o->client_order_id), e->client_order_id);
    rc = copy_all(rc, o->exchange_order_id, sizeof(o->exchange_order_id), e->exchange_order_id);
    rc = copy_all(rc, o->connector, sizeof(o->connector), ev->source);
    rc = copy_all(rc, o->market, sizeof(o->market), e->market);
    rc = copy_all(rc, o->strategy_id, sizeof(o->strategy_id), strategy_id);
    o->side = e->side;
    o->type = e->type;
    o->state = e->state;
    o->fail_reason = e->reason;
    o->price = e->price;
    o->amount = e->amount;
    o->executed_base = e->executed_base;
    o->executed_quote = e->executed_quote;
    o->created_ms = o->updated_ms = ev->ts_ns / 1000000;
    return rc;
}

int clb_store_rec_order_state_from_event(const struct clb_event *ev, struct clb_store_rec *out)
{
    if (!ev || !out || !(CLB_EV_MASK(ev->type) & CLB_EV_MASK_ORDERS))
        return CLB_EINVAL;
    const struct clb_order_event *e = &ev->u.order;
    memset(out, 0, sizeof(*out));
    out->type = CLB_STORE_REC_ORDER_STATE;
    struct clb_store_order_state *st = &out->u.order_state;
    int rc = CLB_OK;
    rc = copy_all(rc, st->client_order_id, sizeof(st->client_order_id), e->client_order_id);
    rc = copy_all(rc, st->exchange_order_id, sizeof(st->exchange_order_id), e->exchange_order_id);
    st->prev_state = e->prev_state;
    st->state = e->state;
    st->reason = e->reason;
    st->executed_base = e->executed_base;
    st->executed_quote = e->executed_quote;
    st->ts_ms = ev->ts_ns / 1000000;
    return rc;
}

int clb_store_rec_fill_from_event(const struct clb_event *ev, const char *strategy_id,
                                  struct clb_store_rec *out)
{
    if (!ev || !out || ev->type != CLB_EV_ORDER_FILLED)
        return CLB_EINVAL;
    const struct clb_order_event *e = &ev->u.order;
    memset(out, 0, sizeof(*out));
    out->type = CLB_STORE_REC_FILL;
    struct clb_store_fill *f = &out->u.fill;
    int rc = CLB_OK;
    rc = copy_all(rc, f->connector, sizeof(f->connector), ev->source);
    rc = copy_all(rc, f->market, sizeof(f->market), e->market);
    rc = copy_all(rc, f->trade_id, sizeof(f->trade_id), e->trade_id);
    rc = copy_all(rc, f->client_order_id, sizeof(f->client_order_id), e->client_order_id);
    rc = copy_all(rc, f->exchange_order_id, sizeof(f->exchange_order_id), e->exchange_order_id);
    rc = copy_all(rc, f->strategy_id, sizeof(f->strategy_id), strategy_id);
    rc = copy_all(rc, f->fee_asset, sizeof(f->fee_asset), e->fee_asset);
    f->side = e->side;
    f->is_maker = e->fill_is_maker;
    f->price = e->fill_price;
    f->amount = e->fill_amount;
    f->fee = e->fill_fee;
    f->ts_ms = ev->ts_ns / 1000000;
    return rc;
}

int clb_store_rec_balance_from_event(const struct clb_event *ev, struct clb_store_rec *out)
{
    if (!ev || !out || ev->type != CLB_EV_BALANCE)
        return CLB_EINVAL;
    memset(out, 0, sizeof(*out));
    out->type = CLB_STORE_REC_BALANCE;
    struct clb_store_balance *b = &out->u.balance;
    int rc = CLB_OK;
    rc = copy_all(rc, b->connector, sizeof(b->connector), ev->source);
    rc = copy_all(rc, b->asset, sizeof(b->asset), ev->u.balance.asset);
    b->total = ev->u.balance.total;
    b->available = ev->u.balance.available;
    b->ts_ms = ev->ts_ns / 1000000;
    return rc;
}

/* ---- URLs, open, close ---- */

void clb_store_options_init(struct clb_store_options *o)
{
    memset(o, 0, sizeof(*o));
}

static bool has_prefix(const char *s, const char *p)
{
    return strncmp(s, p, strlen(p)) == 0;
}

int clb_store_parse_url(const char *url, const char *data_dir, enum clb_store_backend *backend,
                        char *target, size_t cap)
{
    if (!backend || !target || cap == 0)
        return CLB_EINVAL;
    const char *path;
    char buf[1024];
    if (!url || !*url) {
        const char *dir = data_dir && *data_dir ? data_dir : DEFAULT_DATA_DIR;
        if ((size_t)snprintf(buf, sizeof(buf), "%s/%s", dir, DEFAULT_DB_FILE) >= sizeof(buf))
            return CLB_ERANGE;
        path = buf;
        *backend = CLB_STORE_SQLITE;
    } else if (has_prefix(url, "postgresql://") || has_prefix(url, "postgres://")) {
        *backend = CLB_STORE_POSTGRES;
        path = url;
    } else if (has_prefix(url, "sqlite://")) {
        *backend = CLB_STORE_SQLITE;
        path = url + strlen("sqlite://");
    } else if (has_prefix(url, "sqlite:")) {
        *backend = CLB_STORE_SQLITE;
        path = url + strlen("sqlite:");
    } else if (strstr(url, "://")) {
        return CLB_EUNSUPPORTED;
    } else {
        *backend = CLB_STORE_SQLITE;
        path = url;
    }
    if (!*path)
        return CLB_EINVAL;
    if (strlen(path) >= cap)
        return CLB_ERANGE;
    strcpy(target, path);
    return CLB_OK;
}

void clb_store_url_redact(const char *url, char *out, size_t cap)
{
    if (!out || cap == 0)
        return;
    snprintf(out, cap, "%s", url ? url : "");
    /* scheme://user:PASSWORD@host */
    char *p = strstr(out, "://");
    if (p) {
        char *auth = p + 3;
        char *at = strchr(auth, '@');
        char *slash = strchr(auth, '/');
        if (at && (!slash || at < slash)) {
            char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon && (size_t)(colon - out) + 5 < cap) {
                char rest[1024];
                snprintf(rest, sizeof(rest), "%s", at);
                snprintf(colon + 1, cap - (size_t)(colon + 1 - out), "***%s", rest);
            }
        }
    }
    /* ...?password=PASSWORD&... */
    char *pw = strstr(out, "password=");
    if (pw) {
        char *end = strpbrk(pw, "& ");
        char rest[1024];
        snprintf(rest, sizeof(rest), "%s", end ? end : "");
        size_t off = (size_t)(pw - out) + strlen("password=");
        if (off < cap)
            snprintf(out + off, cap - off, "***%s", rest);
    }
}

static int ensure_data_dir(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return CLB_OK;
    set_errbuf(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
    return CLB_EIO;
}

int clb_store_open(const struct clb_store_options *o, struct clb_store **out, char *err,
                   size_t errlen)
{
    if (out)
        *out = NULL;
    if (!o || !out) {
        set_errbuf(err, errlen, "invalid arguments");
        return CLB_EINVAL;
    }
    const char *inst = o->instance_id && *o->instance_id ? o->instance_id : DEFAULT_INSTANCE;
    if (!id_valid(inst)) {
        set_errbuf(err, errlen, "invalid instance id '%s' (1..63 of A-Z a-z 0-9 . _ : -)", inst);
        return CLB_EINVAL;
    }
    if (o->connect_timeout_s < 0 || o->busy_timeout_ms < 0) {
        set_errbuf(err, errlen, "negative timeout");
        return CLB_EINVAL;
    }
    struct clb_store *s = calloc(1, sizeof(*s));
    if (!s) {
        set_errbuf(err, errlen, "out of memory");
        return CLB_ENOMEM;
    }
    int rc = clb_store_parse_url(o->url, o->data_dir, &s->backend, s->target, sizeof(s->target));
    if (rc != CLB_OK) {
        set_errbuf(err, errlen, rc == CLB_EUNSUPPORTED
                                    ? "unsupported database URL (use postgresql://... or a "
                                      "SQLite path)"
                                    : "invalid database URL");
        free(s);
        return rc;
    }
    if (!o->url || !*o->url) {
        rc = ensure_data_dir(o->data_dir && *o->data_dir ? o->data_dir : DEFAULT_DATA_DIR, err,
                             errlen);
        if (rc != CLB_OK) {
            free(s);
            return rc;
        }
    }
    strcpy(s->instance, inst);
    s->connect_timeout_s = o->connect_timeout_s ? o->connect_timeout_s : 5;
    s->busy_timeout_ms = o->busy_timeout_ms ? o->busy_timeout_ms : 5000;
    s->ops = s->backend == CLB_STORE_POSTGRES ? &store_pg_ops : &store_sqlite_ops;
    rc = s->ops->connect(s);
    if (rc != CLB_OK) {
        set_errbuf(err, errlen, "%s", s->err);
        free(s);
        return rc;
    }
    *out = s;
    return CLB_OK;
}

void clb_store_close(struct clb_store *s)
{
    if (!s)
        return;
    s->ops->disconnect(s);
    free(s);
}

int clb_store_reconnect(struct clb_store *s)
{
    if (!s)
        return CLB_EINVAL;
    s->ops->disconnect(s);
    return s->ops->connect(s);
}

bool store_connected(const struct clb_store *s)
{
    return s && s->conn;
}

enum clb_store_backend clb_store_backend_of(const struct clb_store *s)
{
    return s->backend;
}

const char *clb_store_instance(const struct clb_store *s)
{
    return s->instance;
}

const char *clb_store_errmsg(const struct clb_store *s)
{
    return s ? s->err : "";
}

/* Every call needs a connection; a store whose reconnect failed has none. */
static int need_conn(struct clb_store *s)
{
    if (!s)
        return CLB_EINVAL;
    if (!s->conn) {
        store_set_err(s, "not connected");
        return CLB_EIO;
    }
    return CLB_OK;
}

static int ping_row(void *ud, int ncols, const char *const *vals)
{
    (void)ud;
    (void)ncols;
    (void)vals;
    return 1;
}

int store_ping(struct clb_store *s)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    rc = s->ops->query(s, "SELECT 1", NULL, 0, ping_row, NULL);
    return rc == CLB_EIO ? CLB_EIO : CLB_OK;
}

/* ---- migrations ---- */

static const char SQL_SCHEMA_MIGRATIONS[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " file TEXT NOT NULL,"
    " sha256 TEXT NOT NULL,"
    " applied_ms BIGINT NOT NULL)";

static bool migration_for(const struct clb_store_migration *m, enum clb_store_backend b)
{
    return m->version > 0 &&
           (m->backend[0] == '\0' || strcmp(m->backend, clb_store_backend_name(b)) == 0);
}

long clb_store_embedded_version(enum clb_store_backend b)
{
    long v = 0;
    for (size_t i = 0; i < clb_store_n_migrations; i++)
        if (migration_for(&clb_store_migrations[i], b) && clb_store_migrations[i].version > v)
            v = clb_store_migrations[i].version;
    return v;
}

struct text_cell {
    char buf[128];
    bool found;
};

static int row_first_text(void *ud, int ncols, const char *const *vals)
{
    struct text_cell *c = ud;
    if (ncols > 0 && vals[0])
        snprintf(c->buf, sizeof(c->buf), "%s", vals[0]);
    c->found = true;
    return 1;
}

int clb_store_schema_version(struct clb_store *s, long *version)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!version)
        return CLB_EINVAL;
    rc = s->ops->exec_script(s, SQL_SCHEMA_MIGRATIONS);
    if (rc != CLB_OK)
        return rc;
    struct text_cell c = { .found = false };
    rc = s->ops->query(s, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0,
                       row_first_text, &c);
    if (rc != CLB_OK)
        return rc;
    *version = c.found ? strtol(c.buf, NULL, 10) : 0;
    return CLB_OK;
}

/* Migrations of this backend in version order (the table is sorted by file
 * name; shared and per-backend files interleave by number). */
static size_t ordered_migrations(enum clb_store_backend b, const struct clb_store_migration **out,
                                 size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < clb_store_n_migrations && n < cap; i++)
        if (migration_for(&clb_store_migrations[i], b))
            out[n++] = &clb_store_migrations[i];
    for (size_t i = 1; i < n; i++) /* insertion sort: few entries */
        for (size_t j = i; j > 0 && out[j - 1]->version > out[j]->version; j--) {
            const struct clb_store_migration *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

#define MAX_MIGRATIONS 512

int clb_store_migrate(struct clb_store *s, clb_store_migrate_fn fn, void *ud, int *n_applied)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (n_applied)
        *n_applied = 0;
    const struct clb_store_migration **ms = calloc(MAX_MIGRATIONS, sizeof(*ms));
    if (!ms)
        return CLB_ENOMEM;
    size_t n = ordered_migrations(s->backend, ms, MAX_MIGRATIONS);
    for (size_t i = 1; i < n; i++)
        if (ms[i]->version == ms[i - 1]->version) {
            store_set_err(s, "two migrations numbered %ld (%s, %s)", ms[i]->version,
                          ms[i - 1]->file, ms[i]->file);
            free(ms);
            return CLB_EINVAL;
        }

    /* The bookkeeping table, created under the lock (concurrent CREATE TABLE
     * IF NOT EXISTS can collide on PostgreSQL). */
    rc = s->ops->begin(s);
    if (rc == CLB_OK)
        rc = s->ops->lock_migrations(s);
    if (rc == CLB_OK)
        rc = s->ops->exec_script(s, SQL_SCHEMA_MIGRATIONS);
    if (rc == CLB_OK)
        rc = s->ops->commit(s);
    if (rc != CLB_OK) {
        char msg[CLB_STORE_ERR_MAX];
        snprintf(msg, sizeof(msg), "%s", s->err);
        s->ops->rollback(s);
        store_set_err(s, "schema_migrations: %s", msg);
        free(ms);
        return rc;
    }

    char warn[CLB_STORE_ERR_MAX] = "";
    int applied = 0;
    for (size_t i = 0; i < n; i++) {
        const struct clb_store_migration *m = ms[i];
        rc = s->ops->begin(s);
        if (rc == CLB_OK)
            rc = s->ops->lock_migrations(s);
        struct text_cell c = { .found = false };
        struct db_param p[5] = { { DB_INT, NULL, m->version } };
        if (rc == CLB_OK)
            rc = s->ops->query(s, "SELECT sha256 FROM schema_migrations WHERE version = $1", p, 1,
                               row_first_text, &c);
        if (rc == CLB_OK && c.found) {
            s->ops->rollback(s);
            if (strcmp(c.buf, m->sha256) != 0 && !warn[0])
                snprintf(warn, sizeof(warn),
                         "warning: migration %s was applied with different contents "
                         "(sha256 %.12s..., file has %.12s...)",
                         m->file, c.buf, m->sha256);
            if (fn)
                fn(ud, m->version, m->file, false);
            continue;
        }
        if (rc == CLB_OK)
            rc = s->ops->exec_script(s, m->sql);
        if (rc == CLB_OK) {
            p[1] = (struct db_param){ DB_TEXT, m->name, 0 };
            p[2] = (struct db_param){ DB_TEXT, m->file, 0 };
            p[3] = (struct db_param){ DB_TEXT, m->sha256, 0 };
            p[4] = (struct db_param){ DB_INT, NULL, wall_ms() };
            rc = s->ops->exec(s,
                              "INSERT INTO schema_migrations (version, name, file, sha256, "
                              "applied_ms) VALUES ($1, $2, $3, $4, $5)",
                              p, 5, NULL);
        }
        if (rc == CLB_OK)
            rc = s->ops->commit(s);
        if (rc != CLB_OK) {
            char msg[CLB_STORE_ERR_MAX];
            snprintf(msg, sizeof(msg), "%s", s->err);
            s->ops->rollback(s);
            store_set_err(s, "migration %s: %s", m->file, msg);
            free(ms);
            if (n_applied)
                *n_applied = applied;
            return rc == CLB_EIO ? CLB_EIO : CLB_EINVAL;
        }
        applied++;
        if (fn)
            fn(ud, m->version, m->file, true);
    }
    free(ms);
    if (n_applied)
        *n_applied = applied;

    long dbv = 0, emb = clb_store_embedded_version(s->backend);
    if (clb_store_schema_version(s, &dbv) == CLB_OK && dbv > emb && !warn[0])
        snprintf(warn, sizeof(warn),
                 "warning: the database has migration %ld, newer than this binary's %ld", dbv,
                 emb);
    store_set_err(s, "%s", warn);
    return CLB_OK;
}

int clb_store_instance_register(struct clb_store *s, const char *version, int64_t now_ms)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    struct db_param p[3] = {
        { DB_TEXT, s->instance, 0 },
        { DB_TEXT, version ? version : "", 0 },
        { DB_INT, NULL, now_ms },
    };
    return s->ops->exec(s,
                        "INSERT INTO instances (id, version, created_ms, last_seen_ms) "
                        "VALUES ($1, $2, $3, $3) ON CONFLICT (id) DO UPDATE SET "
                        "version = excluded.version, last_seen_ms = excluded.last_seen_ms",
                        p, 3, NULL);
}

/* ---- record statements ---- */

static const char *const stmt_sql[ST_COUNT_] = {
    [ST_ORDER_UPSERT] =
        "INSERT INTO orders (instance_id, client_order_id, exchange_order_id, connector, market,"
        " strategy_id, side, type, price, amount, executed_base, executed_quote, state,"
        " fail_reason, created_ms, updated_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)"
        " ON CONFLICT (instance_id, client_order_id) DO UPDATE SET"
        " exchange_order_id = CASE WHEN excluded.exchange_order_id <> ''"
        "   THEN excluded.exchange_order_id ELSE orders.exchange_order_id END,"
        " connector = excluded.connector, market = excluded.market,"
        " strategy_id = CASE WHEN excluded.strategy_id <> ''"
        "   THEN excluded.strategy_id ELSE orders.strategy_id END,"
        " side = excluded.side, type = excluded.type, price = excluded.price,"
        " amount = excluded.amount, executed_base = excluded.executed_base,"
        " executed_quote = excluded.executed_quote, state = excluded.state,"
        " fail_reason = excluded.fail_reason, updated_ms = excluded.updated_ms"
        " WHERE excluded.updated_ms >= orders.updated_ms",
    [ST_HISTORY_INSERT] =
        "INSERT INTO order_state_history (instance_id, client_order_id, prev_state, state,"
        " reason, ts_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    [ST_ORDER_STATE_UPDATE] =
        "UPDATE orders SET state = $3, fail_reason = $4, executed_base = $5,"
        " executed_quote = $6,"
        " exchange_order_id = CASE WHEN $7 <> '' THEN $7 ELSE exchange_order_id END,"
        " updated_ms = $8"
        " WHERE instance_id = $1 AND client_order_id = $2 AND updated_ms <= $8",
    [ST_FILL_INSERT] =
        "INSERT INTO fills (instance_id, connector, market, trade_id, client_order_id,"
        " exchange_order_id, strategy_id, side, price, amount, fee, fee_asset, is_maker, ts_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
        " ON CONFLICT (instance_id, connector, market, trade_id) DO NOTHING",
    [ST_BALANCE_INSERT] =
        "INSERT INTO balance_snapshots (instance_id, connector, asset, total, available, ts_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
    [ST_STRATEGY_UPSERT] =
        "INSERT INTO strategies (instance_id, id, name, type, connector, market, status, config,"
        " state, created_ms, updated_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        " ON CONFLICT (instance_id, id) DO UPDATE SET name = excluded.name,"
        " type = excluded.type, connector = excluded.connector, market = excluded.market,"
        " status = excluded.status, config = excluded.config, state = excluded.state,"
        " updated_ms = excluded.updated_ms"
        " WHERE excluded.updated_ms >= strategies.updated_ms",
    [ST_TOKEN_ADD] =
        "INSERT INTO api_tokens (instance_id, name, hash, role, created_ms, last_used_ms,"
        " revoked_ms) VALUES ($1, $2, $3, $4, $5, 0, 0)"
        " ON CONFLICT (instance_id, name) DO UPDATE SET hash = excluded.hash,"
        " role = excluded.role, created_ms = excluded.created_ms, last_used_ms = 0,"
        " revoked_ms = 0"
        " WHERE api_tokens.revoked_ms <> 0 AND api_tokens.revoked_ms < excluded.created_ms",
    [ST_TOKEN_REVOKE] =
        "UPDATE api_tokens SET revoked_ms = $3"
        " WHERE instance_id = $1 AND name = $2 AND revoked_ms = 0",
    [ST_TOKEN_TOUCH] =
        "UPDATE api_tokens SET last_used_ms = $3"
        " WHERE instance_id = $1 AND name = $2 AND revoked_ms = 0 AND last_used_ms < $3",
    [ST_BT_RUN_UPSERT] =
        "INSERT INTO backtest_runs (instance_id, run_id, shard_index, shard_count, kind,"
        " strategy, data_file, status, params, summary, started_ms, finished_ms, updated_ms)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        " ON CONFLICT (instance_id, run_id, shard_index) DO UPDATE SET"
        " shard_count = excluded.shard_count, kind = excluded.kind,"
        " strategy = excluded.strategy, data_file = excluded.data_file,"
        " status = excluded.status, params = excluded.params, summary = excluded.summary,"
        " started_ms = excluded.started_ms, finished_ms = excluded.finished_ms,"
        " updated_ms = excluded.updated_ms"
        " WHERE excluded.updated_ms >= backtest_runs.updated_ms",
    [ST_BT_RESULT_UPSERT] =
        "INSERT INTO backtest_results (instance_id, run_id, combo, shard_index, params, metrics,"
        " created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        " ON CONFLICT (instance_id, run_id, combo) DO UPDATE SET"
        " shard_index = excluded.shard_index, params = excluded.params,"
        " metrics = excluded.metrics, created_ms = excluded.created_ms",
};

const char *store_stmt_sql(enum store_stmt st)
{
    return (unsigned)st < ST_COUNT_ ? stmt_sql[st] : NULL;
}

/* Parameter storage of one record: formatted decimals and names. */
struct rec_params {
    struct db_param p[DB_MAX_PARAMS];
    char dec[4][CLB_DEC_STRLEN];
    char reason[24];
    int n;
};

static void p_text(struct rec_params *rp, const char *s)
{
    rp->p[rp->n++] = (struct db_param){ DB_TEXT, s, 0 };
}

static void p_int(struct rec_params *rp, int64_t v)
{
    rp->p[rp->n++] = (struct db_param){ DB_INT, NULL, v };
}

static void p_dec(struct rec_params *rp, int slot, clb_dec d)
{
    clb_dec_format(d, rp->dec[slot], sizeof(rp->dec[slot]));
    p_text(rp, rp->dec[slot]);
}

static const char *json_or_empty(const char *js)
{
    return js ? js : "{}";
}

/* Emits the statements of one record through emit(). */
typedef int (*emit_fn)(struct clb_store *s, enum store_stmt st, const struct db_param *p, int n);

static int rec_emit(struct clb_store *s, const struct clb_store_rec *rec, emit_fn emit)
{
    struct rec_params rp;
    rp.n = 0;
    p_text(&rp, s->instance);
    switch (rec->type) {
    case CLB_STORE_REC_ORDER: {
        const struct clb_store_order *o = &rec->u.order;
        p_text(&rp, o->client_order_id);
        p_text(&rp, o->exchange_order_id);
        p_text(&rp, o->connector);
        p_text(&rp, o->market);
        p_text(&rp, o->strategy_id);
        p_text(&rp, side_names[o->side]);
        p_text(&rp, type_names[o->type]);
        p_dec(&rp, 0, o->price);
        p_dec(&rp, 1, o->amount);
        p_dec(&rp, 2, o->executed_base);
        p_dec(&rp, 3, o->executed_quote);
        p_text(&rp, clb_order_state_name(o->state));
        reason_format(o->fail_reason, rp.reason, sizeof(rp.reason));
        p_text(&rp, rp.reason);
        p_int(&rp, o->created_ms);
        p_int(&rp, o->updated_ms);
        return emit(s, ST_ORDER_UPSERT, rp.p, rp.n);
    }
    case CLB_STORE_REC_ORDER_STATE: {
        const struct clb_store_order_state *st = &rec->u.order_state;
        reason_format(st->reason, rp.reason, sizeof(rp.reason));
        p_text(&rp, st->client_order_id);
        int rc = CLB_OK;
        if (st->prev_state != st->state) {
            p_text(&rp, clb_order_state_name(st->prev_state));
            p_text(&rp, clb_order_state_name(st->state));
            p_text(&rp, rp.reason);
            p_int(&rp, st->ts_ms);
            rc = emit(s, ST_HISTORY_INSERT, rp.p, rp.n);
            if (rc != CLB_OK)
                return rc;
            rp.n = 2;
        }
        p_text(&rp, clb_order_state_name(st->state));
        p_text(&rp, rp.reason);
        p_dec(&rp, 0, st->executed_base);
        p_dec(&rp, 1, st->executed_quote);
        p_text(&rp, st->exchange_order_id);
        p_int(&rp, st->ts_ms);
        return emit(s, ST_ORDER_STATE_UPDATE, rp.p, rp.n);
    }
    case CLB_STORE_REC_FILL: {
        const struct clb_store_fill *f = &rec->u.fill;
        p_text(&rp, f->connector);
        p_text(&rp, f->market);
        p_text(&rp, f->trade_id);
        p_text(&rp, f->client_order_id);
        p_text(&rp, f->exchange_order_id);
        p_text(&rp, f->strategy_id);
        p_text(&rp, side_names[f->side]);
        p_dec(&rp, 0, f->price);
        p_dec(&rp, 1, f->amount);
        p_dec(&rp, 2, f->fee);
        p_text(&rp, f->fee_asset);
        p_int(&rp, f->is_maker ? 1 : 0);
        p_int(&rp, f->ts_ms);
        return emit(s, ST_FILL_INSERT, rp.p, rp.n);
    }
    case CLB_STORE_REC_BALANCE: {
        const struct clb_store_balance *b = &rec->u.balance;
        p_text(&rp, b->connector);
        p_text(&rp, b->asset);
        p_dec(&rp, 0, b->total);
        p_dec(&rp, 1, b->available);
        p_int(&rp, b->ts_ms);
        return emit(s, ST_BALANCE_INSERT, rp.p, rp.n);
    }
    case CLB_STORE_REC_STRATEGY: {
        const struct clb_store_strategy *st = &rec->u.strategy;
        p_text(&rp, st->id);
        p_text(&rp, st->name);
        p_text(&rp, st->type);
        p_text(&rp, st->connector);
        p_text(&rp, st->market);
        p_text(&rp, st->status);
        p_text(&rp, json_or_empty(st->config_json));
        p_text(&rp, json_or_empty(st->state_json));
        p_int(&rp, st->created_ms);
        p_int(&rp, st->updated_ms);
        return emit(s, ST_STRATEGY_UPSERT, rp.p, rp.n);
    }
    case CLB_STORE_REC_TOKEN_ADD: {
        const struct clb_store_token *t = &rec->u.token;
        p_text(&rp, t->name);
        p_text(&rp, t->hash);
        p_text(&rp, t->role);
        p_int(&rp, t->created_ms);
        return emit(s, ST_TOKEN_ADD, rp.p, rp.n);
    }
    case CLB_STORE_REC_TOKEN_REVOKE:
    case CLB_STORE_REC_TOKEN_TOUCH:
        p_text(&rp, rec->u.token_ref.name);
        p_int(&rp, rec->u.token_ref.ts_ms);
        return emit(s, rec->type == CLB_STORE_REC_TOKEN_REVOKE ? ST_TOKEN_REVOKE : ST_TOKEN_TOUCH,
                    rp.p, rp.n);
    case CLB_STORE_REC_BT_RUN: {
        const struct clb_store_bt_run *r = &rec->u.bt_run;
        p_text(&rp, r->run_id);
        p_int(&rp, r->shard_index);
        p_int(&rp, r->shard_count);
        p_text(&rp, r->kind);
        p_text(&rp, r->strategy);
        p_text(&rp, r->data_file);
        p_text(&rp, r->status);
        p_text(&rp, json_or_empty(r->params_json));
        p_text(&rp, json_or_empty(r->summary_json));
        p_int(&rp, r->started_ms);
        p_int(&rp, r->finished_ms);
        p_int(&rp, r->updated_ms);
        return emit(s, ST_BT_RUN_UPSERT, rp.p, rp.n);
    }
    case CLB_STORE_REC_BT_RESULT: {
        const struct clb_store_bt_result *r = &rec->u.bt_result;
        p_text(&rp, r->run_id);
        p_int(&rp, r->combo);
        p_int(&rp, r->shard_index);
        p_text(&rp, json_or_empty(r->params_json));
        p_text(&rp, json_or_empty(r->metrics_json));
        p_int(&rp, r->created_ms);
        return emit(s, ST_BT_RESULT_UPSERT, rp.p, rp.n);
    }
    default:
        store_set_err(s, "unknown record type %d", (int)rec->type);
        return CLB_EINVAL;
    }
}

int store_batch_begin(struct clb_store *s)
{
    int rc = need_conn(s);
    return rc != CLB_OK ? rc : s->ops->batch_begin(s);
}

int store_batch_add(struct clb_store *s, const struct clb_store_rec *rec)
{
    char why[128];
    if (clb_store_rec_check(rec, why, sizeof(why)) != CLB_OK) {
        store_set_err(s, "%s record rejected: %s", rec ? clb_store_rec_type_name(rec->type) : "?",
                      why);
        return CLB_EPARSE;
    }
    return rec_emit(s, rec, s->ops->batch_add);
}

int store_batch_end(struct clb_store *s, bool commit)
{
    if (!s->conn)
        return commit ? CLB_EIO : CLB_OK;
    return s->ops->batch_end(s, commit);
}

int clb_store_write(struct clb_store *s, const struct clb_store_rec *recs, size_t n)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!recs || n == 0 || n > MAX_WRITE_RECS) {
        store_set_err(s, "write: 1..%d records", MAX_WRITE_RECS);
        return CLB_EINVAL;
    }
    char why[128];
    for (size_t i = 0; i < n; i++)
        if (clb_store_rec_check(&recs[i], why, sizeof(why)) != CLB_OK) {
            store_set_err(s, "record %zu (%s): %s", i, clb_store_rec_type_name(recs[i].type), why);
            return CLB_EINVAL;
        }
    rc = s->ops->batch_begin(s);
    for (size_t i = 0; rc == CLB_OK && i < n; i++)
        rc = rec_emit(s, &recs[i], s->ops->batch_add);
    if (rc != CLB_OK) {
        char msg[CLB_STORE_ERR_MAX];
        snprintf(msg, sizeof(msg), "%s", s->err);
        s->ops->batch_end(s, false);
        store_set_err(s, "%s", msg);
        return rc;
    }
    return s->ops->batch_end(s, true);
}

/* One record statement, outside any batch, reporting rows changed. */
static int exec_one(struct clb_store *s, const struct clb_store_rec *rec, int64_t *changes)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    char why[128];
    if (clb_store_rec_check(rec, why, sizeof(why)) != CLB_OK) {
        store_set_err(s, "%s", why);
        return CLB_EINVAL;
    }
    /* Token records are one statement each: run it directly. */
    struct rec_params rp;
    rp.n = 0;
    p_text(&rp, s->instance);
    enum store_stmt st;
    if (rec->type == CLB_STORE_REC_TOKEN_ADD) {
        p_text(&rp, rec->u.token.name);
        p_text(&rp, rec->u.token.hash);
        p_text(&rp, rec->u.token.role);
        p_int(&rp, rec->u.token.created_ms);
        st = ST_TOKEN_ADD;
    } else {
        p_text(&rp, rec->u.token_ref.name);
        p_int(&rp, rec->u.token_ref.ts_ms);
        st = rec->type == CLB_STORE_REC_TOKEN_REVOKE ? ST_TOKEN_REVOKE : ST_TOKEN_TOUCH;
    }
    return s->ops->exec_stmt(s, st, rp.p, rp.n, changes);
}

int clb_store_token_add(struct clb_store *s, const struct clb_store_token *t)
{
    if (!s || !t)
        return CLB_EINVAL;
    struct clb_store_rec rec = { .type = CLB_STORE_REC_TOKEN_ADD };
    rec.u.token = *t;
    int64_t changes = 0;
    int rc = exec_one(s, &rec, &changes);
    if (rc == CLB_OK && changes == 0) {
        store_set_err(s, "a token named '%s' exists", t->name);
        return CLB_EEXIST;
    }
    return rc;
}

int clb_store_token_revoke(struct clb_store *s, const char *name, int64_t now_ms)
{
    if (!s || !name)
        return CLB_EINVAL;
    struct clb_store_rec rec = { .type = CLB_STORE_REC_TOKEN_REVOKE };
    if (clb_store_strlcpy(rec.u.token_ref.name, sizeof(rec.u.token_ref.name), name) != CLB_OK)
        return CLB_EINVAL;
    rec.u.token_ref.ts_ms = now_ms;
    int64_t changes = 0;
    int rc = exec_one(s, &rec, &changes);
    if (rc == CLB_OK && changes == 0) {
        store_set_err(s, "no active token named '%s'", name);
        return CLB_ENOTFOUND;
    }
    return rc;
}

int clb_store_token_touch(struct clb_store *s, const char *name, int64_t now_ms)
{
    if (!s || !name)
        return CLB_EINVAL;
    struct clb_store_rec rec = { .type = CLB_STORE_REC_TOKEN_TOUCH };
    if (clb_store_strlcpy(rec.u.token_ref.name, sizeof(rec.u.token_ref.name), name) != CLB_OK)
        return CLB_EINVAL;
    rec.u.token_ref.ts_ms = now_ms;
    return exec_one(s, &rec, NULL);
}

/* ---- reads ---- */

static bool cp(char *dst, size_t cap, const char *src)
{
    return clb_store_strlcpy(dst, cap, src ? src : "") == CLB_OK;
}
#define CP(dst, src) cp((dst), sizeof(dst), (src))

static bool to_i64(const char *v, int64_t *out)
{
    if (!v || !*v)
        return false;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || *end)
        return false;
    *out = x;
    return true;
}

static bool to_dec(const char *v, clb_dec *out)
{
    return v && clb_dec_parse_cstr(v, out) == CLB_OK;
}

/* Callbacks of every type are stored as this one (ISO C allows converting
 * between function pointer types; each is called through its own type). */
typedef void (*any_fn)(void);

struct read_ctx {
    struct clb_store *s;
    any_fn fn;
    void *ud;
    uint32_t limit;  /* rows to deliver; one more is fetched to see a next page */
    uint32_t rows;
    int64_t last_id;
    bool more;
    bool stopped;
    int rc;
};

/* Ends a row callback: a non-zero answer from the caller's function stops
 * the read (1 tells the backend to stop delivering rows). */
static int delivered(struct read_ctx *c, int stop)
{
    if (stop)
        c->stopped = true;
    return stop ? 1 : 0;
}

static int corrupt(struct read_ctx *c, const char *what)
{
    store_set_err(c->s, "unreadable %s row", what);
    c->rc = CLB_EINVAL;
    return 1;
}

#define ORDER_COLS                                                                           \
    "id, client_order_id, exchange_order_id, connector, market, strategy_id, side, type,"    \
    " price, amount, executed_base, executed_quote, state, fail_reason, created_ms,"         \
    " updated_ms"

static bool decode_order(int ncols, const char *const *v, struct clb_store_order *o)
{
    memset(o, 0, sizeof(*o));
    if (ncols != 16)
        return false;
    int side = parse_name(v[6], side_names, 2);
    int type = parse_name(v[7], type_names, 3);
    int state = parse_state(v[12]);
    if (side < 0 || type < 0 || state < 0)
        return false;
    o->side = (enum clb_side)side;
    o->type = (enum clb_order_type)type;
    o->state = state;
    o->fail_reason = reason_parse(v[13]);
    return to_i64(v[0], &o->id) && CP(o->client_order_id, v[1]) &&
           CP(o->exchange_order_id, v[2]) && CP(o->connector, v[3]) && CP(o->market, v[4]) &&
           CP(o->strategy_id, v[5]) && to_dec(v[8], &o->price) && to_dec(v[9], &o->amount) &&
           to_dec(v[10], &o->executed_base) && to_dec(v[11], &o->executed_quote) &&
           to_i64(v[14], &o->created_ms) && to_i64(v[15], &o->updated_ms);
}

#define FILL_COLS                                                                            \
    "id, connector, market, trade_id, client_order_id, exchange_order_id, strategy_id,"      \
    " side, price, amount, fee, fee_asset, is_maker, ts_ms"

static bool decode_fill(int ncols, const char *const *v, struct clb_store_fill *f)
{
    memset(f, 0, sizeof(*f));
    if (ncols != 14)
        return false;
    int side = parse_name(v[7], side_names, 2);
    int64_t maker = 0;
    if (side < 0)
        return false;
    f->side = (enum clb_side)side;
    bool ok = to_i64(v[0], &f->id) && CP(f->connector, v[1]) && CP(f->market, v[2]) &&
              CP(f->trade_id, v[3]) && CP(f->client_order_id, v[4]) &&
              CP(f->exchange_order_id, v[5]) && CP(f->strategy_id, v[6]) &&
              to_dec(v[8], &f->price) && to_dec(v[9], &f->amount) && to_dec(v[10], &f->fee) &&
              CP(f->fee_asset, v[11]) && to_i64(v[12], &maker) && to_i64(v[13], &f->ts_ms);
    f->is_maker = maker != 0;
    return ok;
}

#define BALANCE_COLS "id, connector, asset, total, available, ts_ms"

static bool decode_balance(int ncols, const char *const *v, struct clb_store_balance *b)
{
    memset(b, 0, sizeof(*b));
    return ncols == 6 && to_i64(v[0], &b->id) && CP(b->connector, v[1]) && CP(b->asset, v[2]) &&
           to_dec(v[3], &b->total) && to_dec(v[4], &b->available) && to_i64(v[5], &b->ts_ms);
}

/* Paged row handler: counts rows, remembers the last id, stops one row past
 * the page (that row only says a next page exists). */
static bool page_row(struct read_ctx *c, int64_t id)
{
    if (c->limit && c->rows == c->limit) {
        c->more = true;
        return false;
    }
    c->rows++;
    c->last_id = id;
    return true;
}

static int order_row(void *ud, int ncols, const char *const *v)
{
    struct read_ctx *c = ud;
    struct clb_store_order o;
    if (!decode_order(ncols, v, &o))
        return corrupt(c, "orders");
    if (!page_row(c, o.id))
        return 1;
    return delivered(c, ((clb_store_order_fn)c->fn)(c->ud, &o));
}

static int fill_row(void *ud, int ncols, const char *const *v)
{
    struct read_ctx *c = ud;
    struct clb_store_fill f;
    if (!decode_fill(ncols, v, &f))
        return corrupt(c, "fills");
    if (!page_row(c, f.id))
        return 1;
    return delivered(c, ((clb_store_fill_fn)c->fn)(c->ud, &f));
}

static int balance_row(void *ud, int ncols, const char *const *v)
{
    struct read_ctx *c = ud;
    struct clb_store_balance b;
    if (!decode_balance(ncols, v, &b))
        return corrupt(c, "balance_snapshots");
    if (!page_row(c, b.id))
        return 1;
    return delivered(c, ((clb_store_balance_fn)c->fn)(c->ud, &b));
}

static int run_read(struct clb_store *s, const char *sql, const struct db_param *p, int n,
                    db_row_fn row, struct read_ctx *c)
{
    int rc = s->ops->query(s, sql, p, n, row, c);
    return rc != CLB_OK ? rc : c->rc;
}

static const char LIVE_STATES_SQL[] =
    "state IN ('pending_create', 'open', 'partially_filled', 'pending_cancel')";

int clb_store_orders_load_open(struct clb_store *s, const char *connector, clb_store_order_fn fn,
                               void *ud)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!fn)
        return CLB_EINVAL;
    char sql[512];
    snprintf(sql, sizeof(sql), "SELECT " ORDER_COLS " FROM orders WHERE instance_id = $1 AND %s%s"
             " ORDER BY id", LIVE_STATES_SQL, connector ? " AND connector = $2" : "");
    struct db_param p[2] = { { DB_TEXT, s->instance, 0 }, { DB_TEXT, connector, 0 } };
    struct read_ctx c = { .s = s, .fn = (any_fn)fn, .ud = ud };
    return run_read(s, sql, p, connector ? 2 : 1, order_row, &c);
}

static int copy_order(void *ud, const struct clb_store_order *o)
{
    *(struct clb_store_order *)ud = *o;
    return 1;
}

int clb_store_order_get(struct clb_store *s, const char *client_order_id,
                        struct clb_store_order *out)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!client_order_id || !out)
        return CLB_EINVAL;
    struct db_param p[2] = { { DB_TEXT, s->instance, 0 }, { DB_TEXT, client_order_id, 0 } };
    struct clb_store_order o;
    struct read_ctx c = { .s = s, .fn = (any_fn)copy_order, .ud = &o };
    rc = run_read(s,
                  "SELECT " ORDER_COLS " FROM orders WHERE instance_id = $1 AND"
                  " client_order_id = $2",
                  p, 2, order_row, &c);
    if (rc != CLB_OK)
        return rc;
    if (c.rows == 0) {
        store_set_err(s, "no order '%s'", client_order_id);
        return CLB_ENOTFOUND;
    }
    *out = o;
    return CLB_OK;
}

int clb_store_fills_load_order(struct clb_store *s, const char *client_order_id,
                               clb_store_fill_fn fn, void *ud)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!client_order_id || !fn)
        return CLB_EINVAL;
    struct db_param p[2] = { { DB_TEXT, s->instance, 0 }, { DB_TEXT, client_order_id, 0 } };
    struct read_ctx c = { .s = s, .fn = (any_fn)fn, .ud = ud };
    return run_read(s,
                    "SELECT " FILL_COLS " FROM fills WHERE instance_id = $1 AND"
                    " client_order_id = $2 ORDER BY id",
                    p, 2, fill_row, &c);
}

static int history_row(void *ud, int ncols, const char *const *v)
{
    struct read_ctx *c = ud;
    struct clb_store_order_state st;
    memset(&st, 0, sizeof(st));
    st.prev_state = parse_state(ncols == 6 ? v[2] : NULL);
    st.state = parse_state(ncols == 6 ? v[3] : NULL);
    if (ncols != 6 || !to_i64(v[0], &st.id) || !CP(st.client_order_id, v[1]) ||
        st.prev_state < -1 || st.state < 0 || !to_i64(v[5], &st.ts_ms))
        return corrupt(c, "order_state_history");
    st.reason = reason_parse(v[4]);
    st.executed_base = clb_dec_make(0, 0);
    st.executed_quote = clb_dec_make(0, 0);
    c->rows++;
    return delivered(c, ((clb_store_order_state_fn)c->fn)(c->ud, &st));
}

int clb_store_order_history(struct clb_store *s, const char *client_order_id,
                            clb_store_order_state_fn fn, void *ud)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!client_order_id || !fn)
        return CLB_EINVAL;
    struct db_param p[2] = { { DB_TEXT, s->instance, 0 }, { DB_TEXT, client_order_id, 0 } };
    struct read_ctx c = { .s = s, .fn = (any_fn)fn, .ud = ud };
    return run_read(s,
                    "SELECT id, client_order_id, prev_state, state, reason, ts_ms"
                    " FROM order_state_history WHERE instance_id = $1 AND client_order_id = $2"
                    " ORDER BY ts_ms, id",
                    p, 2, history_row, &c);
}

/* Builds "SELECT cols FROM table WHERE ... ORDER BY id LIMIT n" from a
 * query. ts_col is the time column the since/until filters apply to. */
struct list_sql {
    char sql[1536];
    size_t len;
    struct db_param p[DB_MAX_PARAMS];
    int n;
    bool overflow;
};

static void ls_add(struct list_sql *l, const char *text)
{
    size_t n = strlen(text);
    if (l->len + n >= sizeof(l->sql)) {
        l->overflow = true;
        return;
    }
    memcpy(l->sql + l->len, text, n + 1);
    l->len += n;
}

static void ls_text(struct list_sql *l, const char *cond, const char *val)
{
    char buf[128];
    snprintf(buf, sizeof(buf), " AND %s $%d", cond, l->n + 1);
    ls_add(l, buf);
    l->p[l->n++] = (struct db_param){ DB_TEXT, val, 0 };
}

static void ls_int(struct list_sql *l, const char *cond, int64_t val)
{
    char buf[128];
    snprintf(buf, sizeof(buf), " AND %s $%d", cond, l->n + 1);
    ls_add(l, buf);
    l->p[l->n++] = (struct db_param){ DB_INT, NULL, val };
}

static int build_list(struct clb_store *s, const struct clb_store_query *q, const char *cols,
                      const char *table, const char *ts_col, bool orders, bool fills,
                      struct list_sql *l, uint32_t *limit)
{
    static const struct clb_store_query none;
    if (!q)
        q = &none;
    uint32_t lim = q->limit ? q->limit : 100;
    if (lim > CLB_STORE_LIST_MAX || q->cursor < 0 || q->side < 0 || q->side > 2 ||
        (q->state_mask >> CLB_ORDER_STATE_COUNT_) != 0 ||
        (q->instance_id && !id_valid(q->instance_id))) {
        store_set_err(s, "invalid list query");
        return CLB_EINVAL;
    }
    *limit = lim;
    memset(l, 0, sizeof(*l));
    ls_add(l, "SELECT ");
    ls_add(l, cols);
    ls_add(l, " FROM ");
    ls_add(l, table);
    ls_add(l, " WHERE instance_id = $1");
    l->p[l->n++] = (struct db_param){ DB_TEXT, q->instance_id ? q->instance_id : s->instance, 0 };
    if (q->connector)
        ls_text(l, "connector =", q->connector);
    if (q->market && (orders || fills))
        ls_text(l, "market =", q->market);
    if (q->strategy_id && (orders || fills))
        ls_text(l, "strategy_id =", q->strategy_id);
    if (q->client_order_id && (orders || fills))
        ls_text(l, "client_order_id =", q->client_order_id);
    if (q->asset && !orders && !fills)
        ls_text(l, "asset =", q->asset);
    if (q->side && (orders || fills))
        ls_add(l, q->side == CLB_STORE_SIDE_BUY ? " AND side = 'buy'" : " AND side = 'sell'");
    if (q->state_mask && orders) {
        ls_add(l, " AND state IN (");
        bool first = true;
        for (int st = 0; st < CLB_ORDER_STATE_COUNT_; st++)
            if (q->state_mask & (1u << st)) {
                ls_add(l, first ? "'" : ", '");
                ls_add(l, clb_order_state_name(st));
                ls_add(l, "'");
                first = false;
            }
        ls_add(l, ")");
    }
    char cond[64];
    if (q->since_ms > 0) {
        snprintf(cond, sizeof(cond), "%s >=", ts_col);
        ls_int(l, cond, q->since_ms);
    }
    if (q->until_ms > 0) {
        snprintf(cond, sizeof(cond), "%s <", ts_col);
        ls_int(l, cond, q->until_ms);
    }
    if (q->cursor > 0)
        ls_int(l, q->ascending ? "id >" : "id <", q->cursor);
    char tail[64];
    snprintf(tail, sizeof(tail), " ORDER BY id %s LIMIT $%d", q->ascending ? "ASC" : "DESC",
             l->n + 1);
    ls_add(l, tail);
    l->p[l->n++] = (struct db_param){ DB_INT, NULL, (int64_t)lim + 1 };
    if (l->overflow) {
        store_set_err(s, "list query too long");
        return CLB_EINVAL;
    }
    return CLB_OK;
}

static int run_list(struct clb_store *s, const struct clb_store_query *q, const char *cols,
                    const char *table, const char *ts_col, bool orders, bool fills, db_row_fn row,
                    any_fn fn, void *ud, int64_t *next_cursor)
{
    if (next_cursor)
        *next_cursor = 0;
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!fn)
        return CLB_EINVAL;
    struct list_sql l;
    uint32_t lim;
    rc = build_list(s, q, cols, table, ts_col, orders, fills, &l, &lim);
    if (rc != CLB_OK)
        return rc;
    struct read_ctx c = { .s = s, .fn = fn, .ud = ud, .limit = lim };
    rc = run_read(s, l.sql, l.p, l.n, row, &c);
    if (rc == CLB_OK && next_cursor && c.more && !c.stopped)
        *next_cursor = c.last_id;
    return rc;
}

int clb_store_orders_list(struct clb_store *s, const struct clb_store_query *q,
                          clb_store_order_fn fn, void *ud, int64_t *next_cursor)
{
    return run_list(s, q, ORDER_COLS, "orders", "created_ms", true, false, order_row, (any_fn)fn,
                    ud, next_cursor);
}

int clb_store_fills_list(struct clb_store *s, const struct clb_store_query *q,
                         clb_store_fill_fn fn, void *ud, int64_t *next_cursor)
{
    return run_list(s, q, FILL_COLS, "fills", "ts_ms", false, true, fill_row, (any_fn)fn, ud,
                    next_cursor);
}

int clb_store_balances_list(struct clb_store *s, const struct clb_store_query *q,
                            clb_store_balance_fn fn, void *ud, int64_t *next_cursor)
{
    return run_list(s, q, BALANCE_COLS, "balance_snapshots", "ts_ms", false, false, balance_row,
                    (any_fn)fn, ud, next_cursor);
}

static int strategy_row(void *ud, int ncols, const char *const *v)
{
    struct read_ctx *c = ud;
    struct clb_store_strategy st;
    memset(&st, 0, sizeof(st));
    if (ncols != 10 || !CP(st.id, v[0]) || !CP(st.name, v[1]) || !CP(st.type, v[2]) ||
        !CP(st.connector, v[3]) || !CP(st.market, v[4]) || !CP(st.status, v[5]) || !v[6] ||
        !v[7] || !to_i64(v[8], &st.created_ms) || !to_i64(v[9], &st.updated_ms))
        return corrupt(c, "strategies");
    st.config_json = v[6];
    st.state_json = v[7];
    c->rows++;
    return delivered(c, ((clb_store_strategy_fn)c->fn)(c->ud, &st));
}

int clb_store_strategies_load(struct clb_store *s, clb_store_strategy_fn fn, void *ud)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!fn)
        return CLB_EINVAL;
    struct db_param p[1] = { { DB_TEXT, s->instance, 0 } };
    struct read_ctx c = { .s = s, .fn = (any_fn)fn, .ud = ud };
    return run_read(s,
                    "SELECT id, name, type, connector, market, status, config, state,"
                    " created_ms, updated_ms FROM strategies WHERE instance_id = $1 ORDER BY id",
                    p, 1, strategy_row, &c);
}

static bool decode_token(int ncols, const char *const *v, struct clb_store_token *t)
{
    memset(t, 0, sizeof(*t));
    return ncols == 6 && CP(t->name, v[0]) && CP(t->hash, v[1]) && CP(t->role, v[2]) &&
           to_i64(v[3], &t->created_ms) && to_i64(v[4], &t->last_used_ms) &&
           to_i64(v[5], &t->revoked_ms);
}

static int token_row(void *ud, int ncols, const char *const *v)
{
    struct read_ctx *c = ud;
    struct clb_store_token t;
    if (!decode_token(ncols, v, &t))
        return corrupt(c, "api_tokens");
    c->rows++;
    return delivered(c, ((clb_store_token_fn)c->fn)(c->ud, &t));
}

#define TOKEN_COLS "name, hash, role, created_ms, last_used_ms, revoked_ms"

int clb_store_tokens_list(struct clb_store *s, clb_store_token_fn fn, void *ud)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!fn)
        return CLB_EINVAL;
    struct db_param p[1] = { { DB_TEXT, s->instance, 0 } };
    struct read_ctx c = { .s = s, .fn = (any_fn)fn, .ud = ud };
    return run_read(s,
                    "SELECT " TOKEN_COLS " FROM api_tokens WHERE instance_id = $1"
                    " ORDER BY created_ms, name",
                    p, 1, token_row, &c);
}

static int copy_token(void *ud, const struct clb_store_token *t)
{
    *(struct clb_store_token *)ud = *t;
    return 1;
}

int clb_store_token_find_by_hash(struct clb_store *s, const char *hash,
                                 struct clb_store_token *out)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!hash || !out)
        return CLB_EINVAL;
    struct db_param p[2] = { { DB_TEXT, s->instance, 0 }, { DB_TEXT, hash, 0 } };
    struct clb_store_token t;
    struct read_ctx c = { .s = s, .fn = (any_fn)copy_token, .ud = &t };
    rc = run_read(s,
                  "SELECT " TOKEN_COLS " FROM api_tokens WHERE instance_id = $1 AND hash = $2"
                  " AND revoked_ms = 0",
                  p, 2, token_row, &c);
    if (rc != CLB_OK)
        return rc;
    if (c.rows == 0) {
        store_set_err(s, "no such token");
        return CLB_ENOTFOUND;
    }
    *out = t;
    return CLB_OK;
}

static int bt_run_row(void *ud, int ncols, const char *const *v)
{
    struct read_ctx *c = ud;
    struct clb_store_bt_run r;
    memset(&r, 0, sizeof(r));
    int64_t si = 0, sc = 0;
    if (ncols != 12 || !CP(r.run_id, v[0]) || !to_i64(v[1], &si) || !to_i64(v[2], &sc) ||
        !CP(r.kind, v[3]) || !CP(r.strategy, v[4]) || !CP(r.data_file, v[5]) ||
        !CP(r.status, v[6]) || !v[7] || !v[8] || !to_i64(v[9], &r.started_ms) ||
        !to_i64(v[10], &r.finished_ms) || !to_i64(v[11], &r.updated_ms))
        return corrupt(c, "backtest_runs");
    r.shard_index = (int32_t)si;
    r.shard_count = (int32_t)sc;
    r.params_json = v[7];
    r.summary_json = v[8];
    c->rows++;
    return delivered(c, ((clb_store_bt_run_fn)c->fn)(c->ud, &r));
}

int clb_store_bt_runs_list(struct clb_store *s, uint32_t limit, clb_store_bt_run_fn fn, void *ud)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!fn || limit > CLB_STORE_LIST_MAX)
        return CLB_EINVAL;
    struct db_param p[2] = { { DB_TEXT, s->instance, 0 },
                             { DB_INT, NULL, limit ? limit : 100 } };
    struct read_ctx c = { .s = s, .fn = (any_fn)fn, .ud = ud };
    return run_read(s,
                    "SELECT run_id, shard_index, shard_count, kind, strategy, data_file, status,"
                    " params, summary, started_ms, finished_ms, updated_ms FROM backtest_runs"
                    " WHERE instance_id = $1 ORDER BY started_ms DESC, run_id, shard_index"
                    " LIMIT $2",
                    p, 2, bt_run_row, &c);
}

static int bt_result_row(void *ud, int ncols, const char *const *v)
{
    struct read_ctx *c = ud;
    struct clb_store_bt_result r;
    memset(&r, 0, sizeof(r));
    int64_t si = 0;
    if (ncols != 7 || !to_i64(v[0], &r.id) || !CP(r.run_id, v[1]) || !to_i64(v[2], &r.combo) ||
        !to_i64(v[3], &si) || !v[4] || !v[5] || !to_i64(v[6], &r.created_ms))
        return corrupt(c, "backtest_results");
    r.shard_index = (int32_t)si;
    r.params_json = v[4];
    r.metrics_json = v[5];
    c->rows++;
    return delivered(c, ((clb_store_bt_result_fn)c->fn)(c->ud, &r));
}

int clb_store_bt_results_load(struct clb_store *s, const char *run_id, clb_store_bt_result_fn fn,
                              void *ud)
{
    int rc = need_conn(s);
    if (rc != CLB_OK)
        return rc;
    if (!run_id || !fn)
        return CLB_EINVAL;
    struct db_param p[2] = { { DB_TEXT, s->instance, 0 }, { DB_TEXT, run_id, 0 } };
    struct read_ctx c = { .s = s, .fn = (any_fn)fn, .ud = ud };
    return run_read(s,
                    "SELECT id, run_id, combo, shard_index, params, metrics, created_ms"
                    " FROM backtest_results WHERE instance_id = $1 AND run_id = $2"
                    " ORDER BY combo",
                    p, 2, bt_result_row, &c);
}
