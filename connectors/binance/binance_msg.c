/*
 * binance_msg.c — Binance REST / WS-API / user-data parsers over jansson.
 *
 * Shape: one static "element" parser per object kind (json_t -> struct),
 * which writes its output only after every field has been read into a
 * local copy. Array parsers run the element parser twice: a first pass into
 * a scratch struct validates every element (and the capacity), the second
 * writes the caller's array, so a bad element anywhere leaves the output
 * untouched. Field helpers name the field in the error message.
 */
#include "binance_msg.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "error.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static json_t *load(const char *json, size_t len, char *err, size_t errlen)
{
    if (!json)
        return NULL;
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        clb_errf(err, errlen, CLB_EPARSE, "bad JSON at %d:%d: %s", je.line, je.column, je.text);
    return root;
}

static int perr(char *err, size_t errlen, const char *field, const char *why)
{
    return clb_errf(err, errlen, CLB_EPARSE, "field '%s': %s", field, why);
}

/* A string field into dst (cap bytes with NUL). Absent: required ->
 * EPARSE, else dst = "". null counts as absent when null_ok. */
static int get_str(const json_t *obj, const char *key, bool required, bool null_ok, char *dst,
                   size_t cap, char *err, size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || (null_ok && json_is_null(v))) {
        if (required)
            return perr(err, errlen, key, "missing");
        dst[0] = '\0';
        return CLB_OK;
    }
    if (!json_is_string(v))
        return perr(err, errlen, key, "not a string");
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n >= cap)
        return perr(err, errlen, key, "too long");
    if (memchr(s, '\0', n))
        return perr(err, errlen, key, "contains NUL");
    memcpy(dst, s, n);
    dst[n] = '\0';
    return CLB_OK;
}

static int get_dec(const json_t *obj, const char *key, bool required, clb_dec *out, char *err,
                   size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return perr(err, errlen, key, "missing");
        *out = clb_dec_make(0, 0);
        return CLB_OK;
    }
    if (!json_is_string(v))
        return perr(err, errlen, key, "not a decimal string");
    clb_dec d;
    int rc = clb_dec_parse(json_string_value(v), json_string_length(v), &d);
    if (rc != CLB_OK)
        return perr(err, errlen, key, clb_strerror(rc));
    *out = d;
    return CLB_OK;
}

/* Non-negative decimal. */
static int get_udec(const json_t *obj, const char *key, bool required, clb_dec *out, char *err,
                    size_t errlen)
{
    clb_dec d;
    int rc = get_dec(obj, key, required, &d, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (clb_dec_sign(d) < 0)
        return perr(err, errlen, key, "negative");
    *out = d;
    return CLB_OK;
}

static int get_i64(const json_t *obj, const char *key, bool required, int64_t *out, char *err,
                   size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return perr(err, errlen, key, "missing");
        *out = 0;
        return CLB_OK;
    }
    if (!json_is_integer(v))
        return perr(err, errlen, key, "not an integer");
    *out = (int64_t)json_integer_value(v);
    return CLB_OK;
}

static int get_bool(const json_t *obj, const char *key, bool required, bool *out, char *err,
                    size_t errlen)
{
    const json_t *v = json_object_get(obj, key);
    if (!v) {
        if (required)
            return perr(err, errlen, key, "missing");
        *out = false;
        return CLB_OK;
    }
    if (!json_is_boolean(v))
        return perr(err, errlen, key, "not a boolean");
    *out = json_is_true(v);
    return CLB_OK;
}

/* A non-negative integer id written in decimal (orderId, trade id). */
static int get_id(const json_t *obj, const char *key, bool required, char *dst, size_t cap,
                  char *err, size_t errlen)
{
    int64_t v;
    int rc = get_i64(obj, key, required, &v, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (!json_object_get(obj, key)) {
        dst[0] = '\0';
        return CLB_OK;
    }
    if (v < 0)
        return perr(err, errlen, key, "negative id");
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    if (n < 0 || (size_t)n >= cap)
        return perr(err, errlen, key, "too long");
    memcpy(dst, b, (size_t)n + 1);
    return CLB_OK;
}

static int get_side(const json_t *obj, const char *key, enum clb_side *out, char *err,
                    size_t errlen)
{
    char s[8];
    int rc = get_str(obj, key, true, false, s, sizeof(s), err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (strcmp(s, "BUY") == 0)
        *out = CLB_SIDE_BUY;
    else if (strcmp(s, "SELL") == 0)
        *out = CLB_SIDE_SELL;
    else
        return perr(err, errlen, key, "not BUY or SELL");
    return CLB_OK;
}

static int get_type(const json_t *obj, const char *key, enum clb_order_type *out, char *name,
                    size_t cap, char *err, size_t errlen)
{
    int rc = get_str(obj, key, true, false, name, cap, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (strcmp(name, "LIMIT") == 0)
        *out = CLB_ORDER_LIMIT;
    else if (strcmp(name, "LIMIT_MAKER") == 0)
        *out = CLB_ORDER_LIMIT_MAKER;
    else if (strcmp(name, "MARKET") == 0 || strcmp(name, "STOP_LOSS") == 0 ||
             strcmp(name, "TAKE_PROFIT") == 0)
        *out = CLB_ORDER_MARKET;
    else if (strcmp(name, "STOP_LOSS_LIMIT") == 0 || strcmp(name, "TAKE_PROFIT_LIMIT") == 0)
        *out = CLB_ORDER_LIMIT;
    else
        return perr(err, errlen, key, "unknown order type");
    return CLB_OK;
}

static int get_status(const json_t *obj, const char *key, enum clb_bn_order_status *out,
                      char *err, size_t errlen)
{
    char s[CLB_BN_NAME_MAX];
    int rc = get_str(obj, key, true, false, s, sizeof(s), err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (clb_bn_order_status_parse(s, out) != CLB_OK)
        return perr(err, errlen, key, "unknown order status");
    return CLB_OK;
}

static bool alnum_str(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

#define TRY(expr)                     \
    do {                              \
        int rc_ = (expr);             \
        if (rc_ != CLB_OK)            \
            return rc_;               \
    } while (0)

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

int clb_bn_symbol_from_market(const char *market, char *out, size_t cap)
{
    if (!market || !out)
        return CLB_EINVAL;
    const char *dash = strchr(market, '-');
    if (!dash || dash == market || !dash[1] || strchr(dash + 1, '-'))
        return CLB_EINVAL;
    size_t n = 0;
    for (const char *p = market; *p; p++) {
        if (*p == '-')
            continue;
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return CLB_EINVAL;
        n++;
    }
    if (n + 1 > cap)
        return CLB_ERANGE;
    size_t k = 0;
    for (const char *p = market; *p; p++)
        if (*p != '-')
            out[k++] = *p;
    out[k] = '\0';
    return (int)k;
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

static int error_obj(const json_t *o, struct clb_bn_error *out, char *err, size_t errlen)
{
    if (!json_is_object(o))
        return perr(err, errlen, "error", "not an object");
    int64_t code;
    TRY(get_i64(o, "code", true, &code, err, errlen));
    if (code < INT32_MIN || code > INT32_MAX)
        return perr(err, errlen, "code", "out of range");
    const json_t *m = json_object_get(o, "msg");
    if (!m || !json_is_string(m))
        return perr(err, errlen, "msg", m ? "not a string" : "missing");
    struct clb_bn_error e;
    e.code = (int)code;
    snprintf(e.msg, sizeof(e.msg), "%s", json_string_value(m));
    *out = e;
    return CLB_OK;
}

int clb_bn_parse_error(const char *json, size_t len, struct clb_bn_error *out, char *err,
                       size_t errlen)
{
    if (!json || !out)
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    int rc = error_obj(root, out, err, errlen);
    json_decref(root);
    return rc;
}

int clb_bn_parse_server_time(const char *json, size_t len, int64_t *server_time_ms, char *err,
                             size_t errlen)
{
    if (!json || !server_time_ms)
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    int64_t v = 0;
    int rc = json_is_object(root) ? get_i64(root, "serverTime", true, &v, err, errlen)
                                  : perr(err, errlen, "time", "not an object");
    if (rc == CLB_OK && v <= 0)
        rc = perr(err, errlen, "serverTime", "not positive");
    if (rc == CLB_OK)
        *server_time_ms = v;
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* rateLimits                                                                */

static int rate_limits_arr(const json_t *arr, struct clb_bn_rate_limits *out, char *err,
                           size_t errlen)
{
    if (!json_is_array(arr))
        return perr(err, errlen, "rateLimits", "not an array");
    struct clb_bn_rate_limits r;
    memset(&r, 0, sizeof(r));
    size_t i;
    const json_t *e;
    json_array_foreach(arr, i, e) {
        if (!json_is_object(e))
            return perr(err, errlen, "rateLimits", "entry not an object");
        char type[CLB_BN_NAME_MAX], unit[16];
        int64_t num, limit, count = -1;
        TRY(get_str(e, "rateLimitType", true, false, type, sizeof(type), err, errlen));
        TRY(get_str(e, "interval", true, false, unit, sizeof(unit), err, errlen));
        TRY(get_i64(e, "intervalNum", true, &num, err, errlen));
        TRY(get_i64(e, "limit", true, &limit, err, errlen));
        if (json_object_get(e, "count"))
            TRY(get_i64(e, "count", true, &count, err, errlen));
        enum clb_bn_limit_type t;
        if (strcmp(type, "REQUEST_WEIGHT") == 0)
            t = CLB_BN_LIMIT_REQUEST_WEIGHT;
        else if (strcmp(type, "ORDERS") == 0)
            t = CLB_BN_LIMIT_ORDERS;
        else if (strcmp(type, "RAW_REQUESTS") == 0)
            t = CLB_BN_LIMIT_RAW_REQUESTS;
        else
            continue;
        int64_t unit_ms;
        if (strcmp(unit, "SECOND") == 0)
            unit_ms = 1000;
        else if (strcmp(unit, "MINUTE") == 0)
            unit_ms = 60000;
        else if (strcmp(unit, "HOUR") == 0)
            unit_ms = 3600000;
        else if (strcmp(unit, "DAY") == 0)
            unit_ms = 86400000;
        else
            return perr(err, errlen, "interval", "not SECOND, MINUTE, HOUR or DAY");
        if (num <= 0 || num > 1000)
            return perr(err, errlen, "intervalNum", "out of range");
        if (limit <= 0 || limit > INT64_C(1000000000000))
            return perr(err, errlen, "limit", "out of range");
        if (json_object_get(e, "count") && count < 0)
            return perr(err, errlen, "count", "negative");
        if (r.n >= CLB_BN_MAX_RATE_LIMITS)
            return perr(err, errlen, "rateLimits", "too many entries");
        r.l[r.n++] = (struct clb_bn_rate_limit){ t, num * unit_ms, limit, count };
    }
    *out = r;
    return CLB_OK;
}

int clb_bn_parse_rate_limits(const char *json, size_t len, struct clb_bn_rate_limits *out,
                             char *err, size_t errlen)
{
    if (!json || !out)
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    const json_t *arr = root;
    if (json_is_object(root)) {
        arr = json_object_get(root, "rateLimits");
        if (!arr) {
            json_decref(root);
            return perr(err, errlen, "rateLimits", "missing");
        }
    }
    int rc = rate_limits_arr(arr, out, err, errlen);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* exchangeInfo                                                              */

static int dec_digits(clb_dec d)
{
    return clb_dec_normalize(d).scale;
}

static int precision_of(const json_t *sym, const char *key)
{
    const json_t *v = json_object_get(sym, key);
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= CLB_DEC_MAX_SCALE)
        return (int)json_integer_value(v);
    return 8;
}

/* The symbol's names; rules.symbol gets "BASE-QUOTE". Missing or mistyped
 * names are CLB_EPARSE; names colibri cannot use (not alphanumeric, too
 * long for its buffers: Binance lists tokens like "1000SATS" but also ones
 * with CJK names) set *usable = false — such a symbol can never be one of
 * ours, and it must not make the whole exchangeInfo unreadable. */
static int symbol_names(const json_t *s, struct clb_bn_symbol_info *x, bool *usable, char *err,
                        size_t errlen)
{
    char sym[128], status[128], base[128], quote[128];
    if (!json_is_object(s))
        return perr(err, errlen, "symbols", "entry not an object");
    TRY(get_str(s, "symbol", true, false, sym, sizeof(sym), err, errlen));
    TRY(get_str(s, "status", true, false, status, sizeof(status), err, errlen));
    TRY(get_str(s, "baseAsset", true, false, base, sizeof(base), err, errlen));
    TRY(get_str(s, "quoteAsset", true, false, quote, sizeof(quote), err, errlen));
    *usable = strlen(sym) < sizeof(x->symbol) && strlen(status) < sizeof(x->status) &&
              strlen(base) < sizeof(x->rules.base) && strlen(quote) < sizeof(x->rules.quote) &&
              alnum_str(base) && alnum_str(quote) &&
              strlen(base) + strlen(quote) + 1 < sizeof(x->rules.symbol);
    if (!*usable)
        return CLB_OK;
    /* every length was checked above */
    size_t bl = strlen(base), ql = strlen(quote);
    memcpy(x->symbol, sym, strlen(sym) + 1);
    memcpy(x->status, status, strlen(status) + 1);
    memcpy(x->rules.base, base, bl + 1);
    memcpy(x->rules.quote, quote, ql + 1);
    memcpy(x->rules.symbol, base, bl);
    x->rules.symbol[bl] = '-';
    memcpy(x->rules.symbol + bl + 1, quote, ql + 1);
    x->trading = strcmp(x->status, "TRADING") == 0;
    return CLB_OK;
}

static int symbol_filters(const json_t *s, struct clb_bn_symbol_info *x, char *err,
                          size_t errlen)
{
    const json_t *filters = json_object_get(s, "filters");
    if (!json_is_array(filters))
        return perr(err, errlen, "filters", filters ? "not an array" : "missing");
    bool price = false, lot = false, notional = false;
    clb_dec min_notional_old = clb_dec_make(0, 0);
    bool has_old = false;
    size_t i;
    const json_t *f;
    json_array_foreach(filters, i, f) {
        if (!json_is_object(f))
            return perr(err, errlen, "filters", "entry not an object");
        char type[CLB_BN_NAME_MAX];
        TRY(get_str(f, "filterType", true, false, type, sizeof(type), err, errlen));
        if (strcmp(type, "PRICE_FILTER") == 0) {
            TRY(get_udec(f, "tickSize", true, &x->rules.tick_size, err, errlen));
            TRY(get_udec(f, "minPrice", false, &x->min_price, err, errlen));
            TRY(get_udec(f, "maxPrice", false, &x->max_price, err, errlen));
            price = true;
        } else if (strcmp(type, "LOT_SIZE") == 0) {
            TRY(get_udec(f, "stepSize", true, &x->rules.step_size, err, errlen));
            TRY(get_udec(f, "minQty", false, &x->rules.min_qty, err, errlen));
            TRY(get_udec(f, "maxQty", false, &x->rules.max_qty, err, errlen));
            lot = true;
        } else if (strcmp(type, "NOTIONAL") == 0) {
            TRY(get_udec(f, "minNotional", false, &x->rules.min_notional, err, errlen));
            TRY(get_udec(f, "maxNotional", false, &x->max_notional, err, errlen));
            notional = true;
        } else if (strcmp(type, "MIN_NOTIONAL") == 0) {
            TRY(get_udec(f, "minNotional", true, &min_notional_old, err, errlen));
            has_old = true;
        }
    }
    if (!price)
        return perr(err, errlen, "filters", "no PRICE_FILTER");
    if (!lot)
        return perr(err, errlen, "filters", "no LOT_SIZE");
    if (!notional && has_old)
        x->rules.min_notional = min_notional_old;
    struct clb_market_rules *r = &x->rules;
    r->tick_size = clb_dec_normalize(r->tick_size);
    r->step_size = clb_dec_normalize(r->step_size);
    r->min_qty = clb_dec_normalize(r->min_qty);
    r->max_qty = clb_dec_normalize(r->max_qty);
    r->min_notional = clb_dec_normalize(r->min_notional);
    x->min_price = clb_dec_normalize(x->min_price);
    x->max_price = clb_dec_normalize(x->max_price);
    x->max_notional = clb_dec_normalize(x->max_notional);
    r->price_scale = clb_dec_is_zero(r->tick_size) ? precision_of(s, "quotePrecision")
                                                   : dec_digits(r->tick_size);
    r->qty_scale = clb_dec_is_zero(r->step_size) ? precision_of(s, "baseAssetPrecision")
                                                 : dec_digits(r->step_size);
    return CLB_OK;
}

static bool wanted(const char *market, const char *const *markets, size_t n)
{
    if (!markets)
        return true;
    for (size_t i = 0; i < n; i++)
        if (markets[i] && strcmp(markets[i], market) == 0)
            return true;
    return false;
}

int clb_bn_parse_exchange_info(const char *json, size_t len, const char *const *markets,
                               size_t n_markets, struct clb_bn_symbol_info *out, size_t cap,
                               size_t *n_out, struct clb_bn_rate_limits *limits,
                               int64_t *server_time_ms, char *err, size_t errlen)
{
    if (!json || !n_out || (cap && !out))
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    int rc = CLB_OK;
    struct clb_bn_rate_limits rl = { .n = 0 };
    int64_t st = 0;
    const json_t *syms = json_object_get(root, "symbols");
    if (!json_is_object(root)) {
        rc = perr(err, errlen, "exchangeInfo", "not an object");
        goto done;
    }
    if (!json_is_array(syms)) {
        rc = perr(err, errlen, "symbols", syms ? "not an array" : "missing");
        goto done;
    }
    if ((rc = get_i64(root, "serverTime", false, &st, err, errlen)) != CLB_OK)
        goto done;
    const json_t *rla = json_object_get(root, "rateLimits");
    if (limits && !rla) {
        rc = perr(err, errlen, "rateLimits", "missing");
        goto done;
    }
    if (rla && (rc = rate_limits_arr(rla, &rl, err, errlen)) != CLB_OK)
        goto done;
    /* pass 0 validates and counts, pass 1 writes */
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        k = 0;
        size_t i;
        const json_t *s;
        json_array_foreach(syms, i, s) {
            struct clb_bn_symbol_info x;
            bool usable;
            memset(&x, 0, sizeof(x));
            if ((rc = symbol_names(s, &x, &usable, err, errlen)) != CLB_OK)
                goto done;
            if (!usable || !wanted(x.rules.symbol, markets, n_markets))
                continue;
            if ((rc = symbol_filters(s, &x, err, errlen)) != CLB_OK)
                goto done;
            if (k >= cap) {
                rc = clb_errf(err, errlen, CLB_EFULL, "more than %zu symbols selected", cap);
                goto done;
            }
            if (pass == 1)
                out[k] = x;
            k++;
        }
    }
    *n_out = k;
    if (limits)
        *limits = rl;
    if (server_time_ms)
        *server_time_ms = st;
done:
    json_decref(root);
    return rc;
}

const char *clb_bn_market_of_symbol(const struct clb_bn_symbol_info *infos, size_t n,
                                    const char *symbol)
{
    if (!infos || !symbol)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(infos[i].symbol, symbol) == 0)
            return infos[i].rules.symbol;
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Order status                                                              */

static const char *const status_names[CLB_BN_ST_COUNT_] = {
    "NEW",      "PENDING_NEW", "PARTIALLY_FILLED", "FILLED",          "CANCELED",
    "PENDING_CANCEL", "REJECTED", "EXPIRED",      "EXPIRED_IN_MATCH",
};

int clb_bn_order_status_parse(const char *s, enum clb_bn_order_status *out)
{
    if (!s || !out)
        return CLB_EINVAL;
    for (int i = 0; i < CLB_BN_ST_COUNT_; i++)
        if (strcmp(s, status_names[i]) == 0) {
            *out = (enum clb_bn_order_status)i;
            return CLB_OK;
        }
    return CLB_EPARSE;
}

const char *clb_bn_order_status_name(enum clb_bn_order_status s)
{
    return (unsigned)s < CLB_BN_ST_COUNT_ ? status_names[s] : "UNKNOWN";
}

enum clb_xorder_status clb_bn_xorder_status(enum clb_bn_order_status s)
{
    switch (s) {
    case CLB_BN_ST_PARTIALLY_FILLED:
        return CLB_XORDER_PARTIALLY_FILLED;
    case CLB_BN_ST_FILLED:
        return CLB_XORDER_FILLED;
    case CLB_BN_ST_CANCELED:
        return CLB_XORDER_CANCELED;
    case CLB_BN_ST_REJECTED:
        return CLB_XORDER_REJECTED;
    case CLB_BN_ST_EXPIRED:
    case CLB_BN_ST_EXPIRED_IN_MATCH:
        return CLB_XORDER_EXPIRED;
    default:
        return CLB_XORDER_NEW;
    }
}

enum clb_order_state clb_bn_order_state(enum clb_bn_order_status s)
{
    switch (s) {
    case CLB_BN_ST_PENDING_NEW:
        return CLB_ORDER_PENDING_CREATE;
    case CLB_BN_ST_PARTIALLY_FILLED:
        return CLB_ORDER_PARTIALLY_FILLED;
    case CLB_BN_ST_FILLED:
        return CLB_ORDER_FILLED;
    case CLB_BN_ST_PENDING_CANCEL:
        return CLB_ORDER_PENDING_CANCEL;
    case CLB_BN_ST_CANCELED:
    case CLB_BN_ST_EXPIRED:
    case CLB_BN_ST_EXPIRED_IN_MATCH:
        return CLB_ORDER_CANCELED;
    case CLB_BN_ST_REJECTED:
        return CLB_ORDER_FAILED;
    default:
        return CLB_ORDER_OPEN;
    }
}

bool clb_bn_order_status_is_final(enum clb_bn_order_status s)
{
    return s == CLB_BN_ST_FILLED || s == CLB_BN_ST_CANCELED || s == CLB_BN_ST_REJECTED ||
           s == CLB_BN_ST_EXPIRED || s == CLB_BN_ST_EXPIRED_IN_MATCH;
}

/* ------------------------------------------------------------------------ */
/* Orders                                                                    */

static int fill_obj(const json_t *f, struct clb_bn_fill *out, char *err, size_t errlen)
{
    if (!json_is_object(f))
        return perr(err, errlen, "fills", "entry not an object");
    struct clb_bn_fill x;
    memset(&x, 0, sizeof(x));
    TRY(get_id(f, "tradeId", true, x.trade_id, sizeof(x.trade_id), err, errlen));
    TRY(get_udec(f, "price", true, &x.price, err, errlen));
    TRY(get_udec(f, "qty", true, &x.qty, err, errlen));
    TRY(get_dec(f, "commission", true, &x.commission, err, errlen));
    TRY(get_str(f, "commissionAsset", true, true, x.commission_asset, sizeof(x.commission_asset),
                err, errlen));
    *out = x;
    return CLB_OK;
}

/* An order object; fills validated (all) and written (first fills_cap). */
static int order_obj(const json_t *o, struct clb_bn_order *out, struct clb_bn_fill *fills,
                     size_t fills_cap, size_t *n_fills, char *err, size_t errlen)
{
    if (!json_is_object(o))
        return perr(err, errlen, "order", "not an object");
    struct clb_bn_order x;
    memset(&x, 0, sizeof(x));
    TRY(get_str(o, "symbol", true, false, x.symbol, sizeof(x.symbol), err, errlen));
    TRY(get_id(o, "orderId", true, x.order_id, sizeof(x.order_id), err, errlen));
    TRY(get_str(o, "clientOrderId", true, false, x.client_order_id, sizeof(x.client_order_id),
                err, errlen));
    TRY(get_str(o, "origClientOrderId", false, false, x.orig_client_order_id,
                sizeof(x.orig_client_order_id), err, errlen));
    int64_t t;
    if (json_object_get(o, "transactTime"))
        TRY(get_i64(o, "transactTime", true, &t, err, errlen));
    else
        TRY(get_i64(o, "time", false, &t, err, errlen));
    x.time_ms = t;
    TRY(get_i64(o, "updateTime", false, &x.update_time_ms, err, errlen));
    x.has_details = json_object_get(o, "status") != NULL;
    if (x.has_details) {
        TRY(get_status(o, "status", &x.status, err, errlen));
        TRY(get_side(o, "side", &x.side, err, errlen));
        TRY(get_type(o, "type", &x.type, x.type_name, sizeof(x.type_name), err, errlen));
        TRY(get_str(o, "timeInForce", false, false, x.time_in_force, sizeof(x.time_in_force),
                    err, errlen));
        TRY(get_udec(o, "price", true, &x.price, err, errlen));
        TRY(get_udec(o, "origQty", true, &x.orig_qty, err, errlen));
        TRY(get_udec(o, "executedQty", true, &x.executed_qty, err, errlen));
        TRY(get_udec(o, "cummulativeQuoteQty", true, &x.cum_quote_qty, err, errlen));
        if (clb_dec_cmp(x.executed_qty, x.orig_qty) > 0 && !clb_dec_is_zero(x.orig_qty))
            return perr(err, errlen, "executedQty", "above origQty");
    }
    const json_t *fa = json_object_get(o, "fills");
    size_t nf = 0;
    if (fa) {
        if (!json_is_array(fa))
            return perr(err, errlen, "fills", "not an array");
        size_t i;
        const json_t *f;
        struct clb_bn_fill tmp;
        json_array_foreach(fa, i, f)
            TRY(fill_obj(f, &tmp, err, errlen));
        x.n_fills_total = json_array_size(fa);
        if (fills)
            json_array_foreach(fa, i, f) {
                if (nf >= fills_cap)
                    break;
                fill_obj(f, &fills[nf++], err, errlen);
            }
    }
    *out = x;
    if (n_fills)
        *n_fills = nf;
    return CLB_OK;
}

int clb_bn_parse_order(const char *json, size_t len, struct clb_bn_order *out,
                       struct clb_bn_fill *fills, size_t fills_cap, size_t *n_fills, char *err,
                       size_t errlen)
{
    if (!json || !out || (fills_cap && !fills))
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    /* validate first so that fills are not written on a later error */
    struct clb_bn_order tmp;
    int rc = order_obj(root, &tmp, NULL, 0, NULL, err, errlen);
    if (rc == CLB_OK)
        rc = order_obj(root, out, fills, fills_cap, n_fills, err, errlen);
    json_decref(root);
    return rc;
}

/* Runs elem over an array twice (validate, then write). */
typedef int (*elem_fn)(const json_t *e, void *out, char *err, size_t errlen);

static int parse_array(const char *json, size_t len, elem_fn fn, void *out, size_t elem_size,
                       size_t cap, size_t *n_out, const char *what, char *err, size_t errlen)
{
    if (!json || !n_out || (cap && !out))
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    int rc = CLB_OK;
    if (!json_is_array(root)) {
        rc = perr(err, errlen, what, "not an array");
        goto done;
    }
    size_t n = json_array_size(root);
    if (n > cap) {
        rc = clb_errf(err, errlen, CLB_EFULL, "%s: %zu entries, room for %zu", what, n, cap);
        goto done;
    }
    union {
        struct clb_bn_order o;
        struct clb_bn_trade t;
    } scratch;
    if (elem_size > sizeof(scratch)) {
        rc = CLB_EINVAL;
        goto done;
    }
    size_t i;
    const json_t *e;
    json_array_foreach(root, i, e) {
        if ((rc = fn(e, &scratch, err, errlen)) != CLB_OK)
            goto done;
    }
    json_array_foreach(root, i, e) {
        fn(e, (unsigned char *)out + i * elem_size, err, errlen);
    }
    *n_out = n;
done:
    json_decref(root);
    return rc;
}

static int order_elem(const json_t *e, void *out, char *err, size_t errlen)
{
    return order_obj(e, out, NULL, 0, NULL, err, errlen);
}

int clb_bn_parse_open_orders(const char *json, size_t len, struct clb_bn_order *out, size_t cap,
                             size_t *n_out, char *err, size_t errlen)
{
    return parse_array(json, len, order_elem, out, sizeof(*out), cap, n_out, "openOrders", err,
                       errlen);
}

/* ------------------------------------------------------------------------ */
/* Trades, balances, fees                                                    */

static int trade_elem(const json_t *e, void *outp, char *err, size_t errlen)
{
    if (!json_is_object(e))
        return perr(err, errlen, "myTrades", "entry not an object");
    struct clb_bn_trade x;
    memset(&x, 0, sizeof(x));
    TRY(get_str(e, "symbol", true, false, x.symbol, sizeof(x.symbol), err, errlen));
    TRY(get_id(e, "id", true, x.trade_id, sizeof(x.trade_id), err, errlen));
    TRY(get_id(e, "orderId", true, x.order_id, sizeof(x.order_id), err, errlen));
    TRY(get_udec(e, "price", true, &x.price, err, errlen));
    TRY(get_udec(e, "qty", true, &x.qty, err, errlen));
    TRY(get_udec(e, "quoteQty", false, &x.quote_qty, err, errlen));
    TRY(get_dec(e, "commission", true, &x.commission, err, errlen));
    TRY(get_str(e, "commissionAsset", true, true, x.commission_asset, sizeof(x.commission_asset),
                err, errlen));
    TRY(get_i64(e, "time", true, &x.time_ms, err, errlen));
    TRY(get_bool(e, "isBuyer", true, &x.is_buyer, err, errlen));
    TRY(get_bool(e, "isMaker", true, &x.is_maker, err, errlen));
    *(struct clb_bn_trade *)outp = x;
    return CLB_OK;
}

int clb_bn_parse_my_trades(const char *json, size_t len, struct clb_bn_trade *out, size_t cap,
                           size_t *n_out, char *err, size_t errlen)
{
    return parse_array(json, len, trade_elem, out, sizeof(*out), cap, n_out, "myTrades", err,
                       errlen);
}

/* One balance object with the given key names. */
static int balance_obj(const json_t *e, const char *ka, const char *kf, const char *kl,
                       struct clb_bn_balance *out, char *err, size_t errlen)
{
    if (!json_is_object(e))
        return perr(err, errlen, "balances", "entry not an object");
    struct clb_bn_balance x;
    TRY(get_str(e, ka, true, false, x.asset, sizeof(x.asset), err, errlen));
    if (!x.asset[0])
        return perr(err, errlen, ka, "empty");
    TRY(get_udec(e, kf, true, &x.free, err, errlen));
    TRY(get_udec(e, kl, true, &x.locked, err, errlen));
    *out = x;
    return CLB_OK;
}

static int commission_obj(const json_t *c, const char *name, struct clb_bn_commission *out,
                          char *err, size_t errlen)
{
    if (!json_is_object(c))
        return perr(err, errlen, name, c ? "not an object" : "missing");
    struct clb_bn_commission x;
    TRY(get_udec(c, "maker", true, &x.maker, err, errlen));
    TRY(get_udec(c, "taker", true, &x.taker, err, errlen));
    *out = x;
    return CLB_OK;
}

int clb_bn_parse_account(const char *json, size_t len, bool skip_zero,
                         struct clb_bn_balance *out, size_t cap, size_t *n_out,
                         struct clb_bn_commission *comm, char *err, size_t errlen)
{
    if (!json || !n_out || (cap && !out))
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    int rc = CLB_OK;
    struct clb_bn_commission c;
    const json_t *bal = json_object_get(root, "balances");
    if (!json_is_object(root)) {
        rc = perr(err, errlen, "account", "not an object");
        goto done;
    }
    if (!json_is_array(bal)) {
        rc = perr(err, errlen, "balances", bal ? "not an array" : "missing");
        goto done;
    }
    if (comm && (rc = commission_obj(json_object_get(root, "commissionRates"), "commissionRates",
                                     &c, err, errlen)) != CLB_OK)
        goto done;
    size_t k = 0;
    for (int pass = 0; pass < 2; pass++) {
        k = 0;
        size_t i;
        const json_t *e;
        json_array_foreach(bal, i, e) {
            struct clb_bn_balance b;
            if ((rc = balance_obj(e, "asset", "free", "locked", &b, err, errlen)) != CLB_OK)
                goto done;
            if (skip_zero && clb_dec_is_zero(b.free) && clb_dec_is_zero(b.locked))
                continue;
            if (k >= cap) {
                rc = clb_errf(err, errlen, CLB_EFULL, "balances: room for %zu", cap);
                goto done;
            }
            if (pass == 1)
                out[k] = b;
            k++;
        }
    }
    *n_out = k;
    if (comm)
        *comm = c;
done:
    json_decref(root);
    return rc;
}

int clb_bn_parse_commission(const char *json, size_t len, struct clb_bn_commission *out,
                            char *err, size_t errlen)
{
    if (!json || !out)
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    int rc;
    if (!json_is_object(root))
        rc = perr(err, errlen, "commission", "not an object");
    else if (json_object_get(root, "standardCommission"))
        rc = commission_obj(json_object_get(root, "standardCommission"), "standardCommission",
                            out, err, errlen);
    else
        rc = commission_obj(json_object_get(root, "commissionRates"), "commissionRates", out,
                            err, errlen);
    json_decref(root);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* User data                                                                 */

static enum clb_bn_exec_type exec_type_of(const char *s)
{
    static const char *const names[] = { "NEW",     "CANCELED", "REPLACED",        "REJECTED",
                                         "TRADE",   "EXPIRED",  "TRADE_PREVENTION" };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(s, names[i]) == 0)
            return (enum clb_bn_exec_type)i;
    return CLB_BN_EXEC_OTHER;
}

static int exec_report_obj(const json_t *e, struct clb_bn_exec_report *out, char *err,
                           size_t errlen)
{
    struct clb_bn_exec_report x;
    memset(&x, 0, sizeof(x));
    char xs[CLB_BN_NAME_MAX];
    TRY(get_str(e, "s", true, false, x.symbol, sizeof(x.symbol), err, errlen));
    TRY(get_str(e, "c", true, false, x.client_order_id, sizeof(x.client_order_id), err, errlen));
    TRY(get_str(e, "C", false, true, x.orig_client_order_id, sizeof(x.orig_client_order_id),
                err, errlen));
    TRY(get_side(e, "S", &x.side, err, errlen));
    TRY(get_type(e, "o", &x.type, x.type_name, sizeof(x.type_name), err, errlen));
    TRY(get_str(e, "f", false, false, x.time_in_force, sizeof(x.time_in_force), err, errlen));
    TRY(get_str(e, "x", true, false, xs, sizeof(xs), err, errlen));
    x.exec_type = exec_type_of(xs);
    TRY(get_status(e, "X", &x.status, err, errlen));
    TRY(get_str(e, "r", false, false, x.reject_reason, sizeof(x.reject_reason), err, errlen));
    TRY(get_id(e, "i", true, x.order_id, sizeof(x.order_id), err, errlen));
    TRY(get_udec(e, "p", true, &x.price, err, errlen));
    TRY(get_udec(e, "q", true, &x.orig_qty, err, errlen));
    TRY(get_udec(e, "l", true, &x.last_qty, err, errlen));
    TRY(get_udec(e, "z", true, &x.cum_qty, err, errlen));
    TRY(get_udec(e, "L", true, &x.last_price, err, errlen));
    TRY(get_dec(e, "n", true, &x.commission, err, errlen));
    TRY(get_str(e, "N", false, true, x.commission_asset, sizeof(x.commission_asset), err,
                errlen));
    TRY(get_udec(e, "Z", true, &x.cum_quote, err, errlen));
    TRY(get_i64(e, "T", true, &x.transact_time_ms, err, errlen));
    int64_t t;
    TRY(get_i64(e, "t", true, &t, err, errlen));
    if (t < -1)
        return perr(err, errlen, "t", "negative trade id");
    x.has_trade = t >= 0;
    if (x.has_trade)
        snprintf(x.trade_id, sizeof(x.trade_id), "%" PRId64, t);
    TRY(get_bool(e, "m", true, &x.is_maker, err, errlen));
    if (x.exec_type == CLB_BN_EXEC_TRADE &&
        (!x.has_trade || !clb_dec_sign(x.last_qty) || !clb_dec_sign(x.last_price)))
        return perr(err, errlen, "x", "TRADE without trade id, quantity or price");
    if (!clb_dec_is_zero(x.orig_qty) && clb_dec_cmp(x.cum_qty, x.orig_qty) > 0)
        return perr(err, errlen, "z", "above q");
    *out = x;
    return CLB_OK;
}

static int position_obj(const json_t *e, struct clb_bn_account_position *out, char *err,
                        size_t errlen)
{
    struct clb_bn_account_position x;
    memset(&x, 0, sizeof(x));
    TRY(get_i64(e, "u", false, &x.update_time_ms, err, errlen));
    const json_t *b = json_object_get(e, "B");
    if (!json_is_array(b))
        return perr(err, errlen, "B", b ? "not an array" : "missing");
    if (json_array_size(b) > CLB_BN_MAX_POSITION_BALANCES)
        return perr(err, errlen, "B", "too many balances");
    size_t i;
    const json_t *v;
    json_array_foreach(b, i, v)
        TRY(balance_obj(v, "a", "f", "l", &x.b[x.n++], err, errlen));
    *out = x;
    return CLB_OK;
}

static int balance_update_obj(const json_t *e, struct clb_bn_balance_update *out, char *err,
                              size_t errlen)
{
    struct clb_bn_balance_update x;
    TRY(get_str(e, "a", true, false, x.asset, sizeof(x.asset), err, errlen));
    TRY(get_dec(e, "d", true, &x.delta, err, errlen));
    TRY(get_i64(e, "T", false, &x.clear_time_ms, err, errlen));
    *out = x;
    return CLB_OK;
}

int clb_bn_parse_user_event(const char *json, size_t len, struct clb_bn_user_event *out,
                            char *err, size_t errlen)
{
    if (!json || !out)
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    /* the event is large (a union): build it in place only at the end */
    static const struct clb_bn_user_event zero;
    struct clb_bn_user_event x = zero;
    int rc = CLB_OK;
    const json_t *ev = root;
    if (!json_is_object(root)) {
        rc = perr(err, errlen, "event", "not an object");
        goto done;
    }
    if (json_object_get(root, "event")) {
        ev = json_object_get(root, "event");
        if (!json_is_object(ev)) {
            rc = perr(err, errlen, "event", "not an object");
            goto done;
        }
        const json_t *sid = json_object_get(root, "subscriptionId");
        if (sid) {
            if (!json_is_integer(sid) || json_integer_value(sid) < 0) {
                rc = perr(err, errlen, "subscriptionId", "not a non-negative integer");
                goto done;
            }
            x.has_subscription_id = true;
            x.subscription_id = (int64_t)json_integer_value(sid);
        }
    }
    if ((rc = get_str(ev, "e", true, false, x.event_type, sizeof(x.event_type), err, errlen)))
        goto done;
    if (strcmp(x.event_type, "executionReport") == 0) {
        x.kind = CLB_BN_UE_EXECUTION_REPORT;
        rc = get_i64(ev, "E", true, &x.event_time_ms, err, errlen);
        if (rc == CLB_OK)
            rc = exec_report_obj(ev, &x.u.exec, err, errlen);
    } else if (strcmp(x.event_type, "outboundAccountPosition") == 0) {
        x.kind = CLB_BN_UE_ACCOUNT_POSITION;
        rc = get_i64(ev, "E", true, &x.event_time_ms, err, errlen);
        if (rc == CLB_OK)
            rc = position_obj(ev, &x.u.position, err, errlen);
    } else if (strcmp(x.event_type, "balanceUpdate") == 0) {
        x.kind = CLB_BN_UE_BALANCE_UPDATE;
        rc = get_i64(ev, "E", true, &x.event_time_ms, err, errlen);
        if (rc == CLB_OK)
            rc = balance_update_obj(ev, &x.u.balance, err, errlen);
    } else {
        x.kind = strcmp(x.event_type, "eventStreamTerminated") == 0 ? CLB_BN_UE_STREAM_TERMINATED
                 : strcmp(x.event_type, "serverShutdown") == 0      ? CLB_BN_UE_SERVER_SHUTDOWN
                                                                    : CLB_BN_UE_OTHER;
        rc = get_i64(ev, "E", false, &x.event_time_ms, err, errlen);
    }
    if (rc == CLB_OK)
        *out = x;
done:
    json_decref(root);
    return rc;
}

const char *clb_bn_exec_report_order_client_id(const struct clb_bn_exec_report *r)
{
    return r->orig_client_order_id[0] ? r->orig_client_order_id : r->client_order_id;
}

/* ------------------------------------------------------------------------ */
/* WebSocket API                                                             */

int clb_bn_ws_message_kind(const char *json, size_t len)
{
    json_t *root = load(json, len, NULL, 0);
    if (!root)
        return CLB_EPARSE;
    int kind;
    if (!json_is_object(root))
        kind = CLB_EPARSE;
    else if (json_object_get(root, "event") || json_object_get(root, "e"))
        kind = CLB_BN_WS_EVENT;
    else if (json_object_get(root, "status") && json_object_get(root, "id"))
        kind = CLB_BN_WS_RESPONSE;
    else
        kind = CLB_BN_WS_UNKNOWN;
    json_decref(root);
    return kind;
}

int clb_bn_parse_ws_response(const char *json, size_t len, struct clb_bn_ws_response *out,
                             char *result, size_t result_cap, char *err, size_t errlen)
{
    if (!json || !out || (result_cap && !result))
        return CLB_EINVAL;
    json_t *root = load(json, len, err, errlen);
    if (!root)
        return CLB_EPARSE;
    struct clb_bn_ws_response x;
    memset(&x, 0, sizeof(x));
    int rc = CLB_OK;
    const json_t *id = json_object_get(root, "id"), *res = json_object_get(root, "result"),
                 *er = json_object_get(root, "error"), *rl = json_object_get(root, "rateLimits");
    if (!json_is_object(root)) {
        rc = perr(err, errlen, "response", "not an object");
        goto done;
    }
    if (!id) {
        rc = perr(err, errlen, "id", "missing");
        goto done;
    } else if (json_is_string(id)) {
        if (json_string_length(id) >= sizeof(x.id) ||
            memchr(json_string_value(id), '\0', json_string_length(id))) {
            rc = perr(err, errlen, "id", "too long");
            goto done;
        }
        memcpy(x.id, json_string_value(id), json_string_length(id) + 1);
    } else if (json_is_integer(id)) {
        snprintf(x.id, sizeof(x.id), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
    } else if (!json_is_null(id)) {
        rc = perr(err, errlen, "id", "not a string, integer or null");
        goto done;
    }
    int64_t status;
    if ((rc = get_i64(root, "status", true, &status, err, errlen)) != CLB_OK)
        goto done;
    if (status < 100 || status > 599) {
        rc = perr(err, errlen, "status", "out of range");
        goto done;
    }
    x.status = (int)status;
    if (rl && (rc = rate_limits_arr(rl, &x.rate_limits, err, errlen)) != CLB_OK)
        goto done;
    if (er) {
        if ((rc = error_obj(er, &x.error, err, errlen)) != CLB_OK)
            goto done;
        x.has_error = true;
        const json_t *data = json_object_get(er, "data");
        if (json_is_object(data)) {
            if ((rc = get_i64(data, "retryAfter", false, &x.retry_after_ms, err, errlen)) ||
                (rc = get_i64(data, "serverTime", false, &x.server_time_ms, err, errlen)))
                goto done;
        }
    } else if (!res) {
        rc = perr(err, errlen, "result", "neither result nor error");
        goto done;
    }
    if (res) {
        x.has_result = true;
        if (result) {
            size_t need = json_dumpb(res, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
            if (need == 0 || need + 1 > result_cap) {
                rc = clb_errf(err, errlen, CLB_EFULL, "result: %zu bytes, room for %zu", need,
                              result_cap);
                goto done;
            }
            json_dumpb(res, result, need, JSON_COMPACT | JSON_ENCODE_ANY);
            result[need] = '\0';
            x.result_len = need;
        }
    }
    *out = x;
done:
    json_decref(root);
    return rc;
}
