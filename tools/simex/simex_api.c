/*
 * simex_api.c — Binance's spot endpoints over the simulated exchange. REST
 * and the WebSocket API share one table: each endpoint has a REST route
 * and/or a WS-API method, a weight, a security type, the parameters it
 * reads and a handler producing a result or a Binance error.
 *
 * Order of checks for every request (the first failure answers):
 *   1. rate limit: the IP's weight window (429 -1003, then 418 ban);
 *   2. fault: http_5xx_rate (503 -1001, nothing executed);
 *   3. parameter syntax (-1101 duplicates / too many, -1100 bad escapes),
 *      unknown parameters (-1104);
 *   4. SIGNED endpoints: API key (-2014 format, -2015 unknown), timestamp
 *      and signature present (-1102), recvWindow (-1130), timestamp window
 *      (-1021), signature (-1022);
 *   5. the endpoint: parameters (-1102/-1100/-1111/-1115/-1116/-1117/-1121),
 *      filters (-1013), the engine (-2010/-2011/-2013), ORDERS limit (-1015);
 *   6. faults after a successful order/cancel: timeout_after_commit_rate
 *      (never answered) or http_5xx_commit_rate (503 -1006); latency.
 * Faults draw from the seeded fault generator only when their rate is
 * non-zero, so a run replays exactly for the same seed and requests.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "simex_internal.h"

__extension__ typedef __int128 i128;

struct call {
    int user;       /* authenticated user, -1 for NONE endpoints */
    int64_t now_ms;
    bool ws;
};

typedef void (*handler_fn)(struct clb_simex *s, struct sx_req *rq, struct call *c,
                           struct sx_resp *out);
typedef int (*weight_fn)(struct sx_params *ps);

struct endpoint {
    const char *method; /* REST method or NULL */
    const char *path;   /* REST path or NULL */
    const char *ws;     /* WS-API method or NULL */
    bool sign;
    bool mutating; /* commit faults apply */
    bool order;    /* counts in the ORDERS limit */
    weight_fn weight;
    handler_fn fn;
    const char *params; /* accepted, space separated (besides the signing ones) */
};

void sx_resp_init(struct sx_resp *r)
{
    memset(r, 0, sizeof(*r));
    r->status = 200;
    r->subscribe_user = -1;
    r->unsubscribe_id = -1;
}

void sx_resp_free(struct sx_resp *r)
{
    json_decref(r->result);
    r->result = NULL;
}

static void fail(struct sx_resp *out, int status, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct sx_resp *out, int status, int code, const char *fmt, ...)
{
    json_decref(out->result);
    out->result = NULL;
    out->status = status;
    out->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof(out->msg), fmt, ap);
    va_end(ap);
}

/* Ends a void handler with an error. */
#define FAIL(...)              \
    do {                       \
        fail(__VA_ARGS__);     \
        return;                \
    } while (0)

static bool failed(const struct sx_resp *out)
{
    return out->status != 200;
}

static json_t *jamt(int64_t v, int scale)
{
    char buf[CLB_DEC_STRLEN];
    sx_fmt_amount(v, scale, buf);
    return json_string(buf);
}

static double draw(struct clb_simex *s)
{
    return clb_rng_uniform(&s->fault_rng);
}

/* ------------------------------------------------------------------------ */
/* Parameter readers: each returns false after writing the error             */

static bool is_digits(const char *v, size_t max)
{
    size_t n = strlen(v);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (v[i] < '0' || v[i] > '9')
            return false;
    return true;
}

static bool mandatory(struct sx_req *rq, const char *name, const char **v, struct sx_resp *out)
{
    *v = sx_params_get(&rq->params, name);
    if (!*v || !**v) {
        fail(out, 400, -1102,
             "Mandatory parameter '%s' was not sent, was empty/null, or malformed.", name);
        return false;
    }
    return true;
}

static bool opt_u64(struct sx_req *rq, const char *name, bool *has, uint64_t *v,
                    struct sx_resp *out)
{
    const char *t = sx_params_get(&rq->params, name);
    *has = false;
    if (!t)
        return true;
    if (!is_digits(t, 19)) {
        fail(out, 400, -1100,
             "Illegal characters found in parameter '%s'; legal range is '^[0-9]{1,20}$'.",
             name);
        return false;
    }
    *v = strtoull(t, NULL, 10);
    *has = true;
    return true;
}

static bool read_symbol(struct clb_simex *s, struct sx_req *rq, const char *v, int *market,
                        struct sx_resp *out)
{
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= 20;
    for (size_t i = 0; ok && i < n; i++)
        ok = (v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') || v[i] == '-' ||
             v[i] == '_' || v[i] == '.';
    (void)rq;
    if (!ok) {
        fail(out, 400, -1100,
             "Illegal characters found in parameter 'symbol'; legal range is "
             "'^[A-Z0-9-_.]{1,20}$'.");
        return false;
    }
    *market = sx_market_find(s, v);
    if (*market < 0) {
        fail(out, 400, -1121, "Invalid symbol.");
        return false;
    }
    return true;
}

static bool req_symbol(struct clb_simex *s, struct sx_req *rq, int *market, struct sx_resp *out)
{
    const char *v;
    return mandatory(rq, "symbol", &v, out) && read_symbol(s, rq, v, market, out);
}

/* A decimal parameter: ^[0-9]{1,20}(\.[0-9]{1,20})?$, at most 8 decimals. */
static bool read_dec(const char *name, const char *v, clb_dec *d, struct sx_resp *out)
{
    size_t n = strlen(v), i = 0, ip = 0, fp = 0;
    while (i < n && v[i] >= '0' && v[i] <= '9')
        i++, ip++;
    if (i < n && v[i] == '.') {
        i++;
        while (i < n && v[i] >= '0' && v[i] <= '9')
            i++, fp++;
    }
    if (i != n || ip == 0 || ip > 20 || fp > 20 || (v[n - 1] == '.') ||
        clb_dec_parse(v, n, d) != CLB_OK) {
        fail(out, 400, -1100,
             "Illegal characters found in parameter '%s'; legal range is "
             "'^([0-9]{1,20})(\\.[0-9]{1,20})?$'.",
             name);
        return false;
    }
    if (clb_dec_normalize(*d).scale > 8) {
        fail(out, 400, -1111, "Parameter '%s' has too much precision.", name);
        return false;
    }
    return true;
}

static bool valid_client_id(const char *v)
{
    size_t n = strlen(v);
    if (n < 1 || n > 36)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '.' || c == ':' || c == '/' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool opt_client_id(struct sx_req *rq, const char *name, const char **v,
                          struct sx_resp *out)
{
    *v = sx_params_get(&rq->params, name);
    if (*v && !valid_client_id(*v)) {
        fail(out, 400, -1100,
             "Illegal characters found in parameter '%s'; legal range is "
             "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
             name);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------------------ */
/* JSON views of orders                                                      */

static int quote_scale(struct clb_simex *s, const struct sx_market *m)
{
    return clb_ledger_asset_scale(&s->ledger, m->quote);
}

static bool stale_view(struct clb_simex *s, const struct sx_order *o, int64_t now)
{
    return s->faults.stale_read_ms > 0 && o->status == CLB_EXEC_CANCELED && o->cancel_ms > 0 &&
           now - o->cancel_ms < s->faults.stale_read_ms;
}

/* GET /api/v3/order and openOrders entries. */
static json_t *order_json(struct clb_simex *s, const struct sx_order *o, int64_t now)
{
    const struct sx_market *m = &s->markets[o->market];
    bool stale = stale_view(s, o, now);
    int status = stale ? o->prev_status : o->status;
    int64_t upd = stale ? o->prev_update_ms : o->update_ms;
    bool working = (stale || o->live) && o->type != CLB_ORDER_MARKET;
    json_t *j = json_object();
    json_object_set_new(j, "symbol", json_string(m->symbol));
    json_object_set_new(j, "orderId", json_integer((json_int_t)o->id));
    json_object_set_new(j, "orderListId", json_integer(-1));
    json_object_set_new(j, "clientOrderId", json_string(o->client_id));
    json_object_set_new(j, "price", jamt(o->type == CLB_ORDER_MARKET ? 0 : o->price,
                                         m->price_scale));
    json_object_set_new(j, "origQty", jamt(o->qty, m->qty_scale));
    json_object_set_new(j, "executedQty", jamt(o->executed, m->qty_scale));
    json_object_set_new(j, "cummulativeQuoteQty", jamt(o->cum_quote, quote_scale(s, m)));
    json_object_set_new(j, "status", json_string(sx_status_name(status)));
    json_object_set_new(j, "timeInForce", json_string(sx_tif_name(o->type, o->tif)));
    json_object_set_new(j, "type", json_string(sx_type_name(o->type)));
    json_object_set_new(j, "side", json_string(sx_side_name(o->side)));
    json_object_set_new(j, "stopPrice", json_string("0.00000000"));
    json_object_set_new(j, "icebergQty", json_string("0.00000000"));
    json_object_set_new(j, "time", json_integer(o->time_ms));
    json_object_set_new(j, "updateTime", json_integer(upd));
    json_object_set_new(j, "isWorking", json_boolean(working));
    json_object_set_new(j, "workingTime", json_integer(o->working_ms));
    json_object_set_new(j, "origQuoteOrderQty", json_string("0.00000000"));
    json_object_set_new(j, "selfTradePreventionMode", json_string("EXPIRE_MAKER"));
    return j;
}

static json_t *cancel_json(struct clb_simex *s, const struct sx_order *o, const char *new_cid,
                           int64_t now)
{
    const struct sx_market *m = &s->markets[o->market];
    json_t *j = json_object();
    json_object_set_new(j, "symbol", json_string(m->symbol));
    json_object_set_new(j, "origClientOrderId", json_string(o->client_id));
    json_object_set_new(j, "orderId", json_integer((json_int_t)o->id));
    json_object_set_new(j, "orderListId", json_integer(-1));
    json_object_set_new(j, "clientOrderId", json_string(new_cid));
    json_object_set_new(j, "transactTime", json_integer(now));
    json_object_set_new(j, "price", jamt(o->type == CLB_ORDER_MARKET ? 0 : o->price,
                                         m->price_scale));
    json_object_set_new(j, "origQty", jamt(o->qty, m->qty_scale));
    json_object_set_new(j, "executedQty", jamt(o->executed, m->qty_scale));
    json_object_set_new(j, "origQuoteOrderQty", json_string("0.00000000"));
    json_object_set_new(j, "cummulativeQuoteQty", jamt(o->cum_quote, quote_scale(s, m)));
    json_object_set_new(j, "status", json_string(sx_status_name(o->status)));
    json_object_set_new(j, "timeInForce", json_string(sx_tif_name(o->type, o->tif)));
    json_object_set_new(j, "type", json_string(sx_type_name(o->type)));
    json_object_set_new(j, "side", json_string(sx_side_name(o->side)));
    json_object_set_new(j, "selfTradePreventionMode", json_string("EXPIRE_MAKER"));
    return j;
}

/* ------------------------------------------------------------------------ */
/* Market data endpoints                                                     */

static int w1(struct sx_params *ps)
{
    (void)ps;
    return 1;
}

static int w2(struct sx_params *ps)
{
    (void)ps;
    return 2;
}

static int w4(struct sx_params *ps)
{
    (void)ps;
    return 4;
}

static int w20(struct sx_params *ps)
{
    (void)ps;
    return 20;
}

static void h_ping(struct clb_simex *s, struct sx_req *rq, struct call *c, struct sx_resp *out)
{
    (void)s, (void)rq, (void)c;
    out->result = json_object();
}

static void h_time(struct clb_simex *s, struct sx_req *rq, struct call *c, struct sx_resp *out)
{
    (void)s, (void)rq;
    out->result = json_pack("{s:I}", "serverTime", (json_int_t)c->now_ms);
}

static json_t *filter_json(struct clb_simex *s, const struct sx_market *m)
{
    int ns = m->price_scale + m->qty_scale;
    json_t *f = json_array();
    json_array_append_new(f, json_pack("{s:s, s:o, s:o, s:o}", "filterType", "PRICE_FILTER",
                                       "minPrice", jamt(m->min_price, m->price_scale),
                                       "maxPrice", jamt(m->max_price, m->price_scale),
                                       "tickSize", jamt(m->tick, m->price_scale)));
    json_array_append_new(f, json_pack("{s:s, s:o, s:o, s:o}", "filterType", "LOT_SIZE",
                                       "minQty", jamt(m->min_qty, m->qty_scale), "maxQty",
                                       jamt(m->max_qty, m->qty_scale), "stepSize",
                                       jamt(m->step, m->qty_scale)));
    json_array_append_new(f, json_pack("{s:s, s:o, s:b, s:o, s:b, s:i}", "filterType",
                                       "NOTIONAL", "minNotional", jamt(m->min_notional, ns),
                                       "applyMinToMarket", 1, "maxNotional",
                                       jamt(m->max_notional, ns), "applyMaxToMarket", 0,
                                       "avgPriceMins", 0));
    json_array_append_new(f, json_pack("{s:s, s:i}", "filterType", "MAX_NUM_ORDERS",
                                       "maxNumOrders", s->cfg.limits.max_open_orders));
    return f;
}

static json_t *symbol_json(struct clb_simex *s, const struct sx_market *m)
{
    int bs = clb_ledger_asset_scale(&s->ledger, m->base), qs = quote_scale(s, m);
    json_t *j = json_object();
    json_object_set_new(j, "symbol", json_string(m->symbol));
    json_object_set_new(j, "status", json_string("TRADING"));
    json_object_set_new(j, "baseAsset", json_string(s->ledger.assets[m->base].name));
    json_object_set_new(j, "baseAssetPrecision", json_integer(bs));
    json_object_set_new(j, "quoteAsset", json_string(s->ledger.assets[m->quote].name));
    json_object_set_new(j, "quotePrecision", json_integer(qs));
    json_object_set_new(j, "quoteAssetPrecision", json_integer(qs));
    json_object_set_new(j, "baseCommissionPrecision", json_integer(bs));
    json_object_set_new(j, "quoteCommissionPrecision", json_integer(qs));
    json_object_set_new(j, "orderTypes", json_pack("[s,s,s]", "LIMIT", "LIMIT_MAKER", "MARKET"));
    json_object_set_new(j, "icebergAllowed", json_false());
    json_object_set_new(j, "ocoAllowed", json_false());
    json_object_set_new(j, "otoAllowed", json_false());
    json_object_set_new(j, "quoteOrderQtyMarketAllowed", json_false());
    json_object_set_new(j, "allowTrailingStop", json_false());
    json_object_set_new(j, "cancelReplaceAllowed", json_false());
    json_object_set_new(j, "isSpotTradingAllowed", json_true());
    json_object_set_new(j, "isMarginTradingAllowed", json_false());
    json_object_set_new(j, "filters", filter_json(s, m));
    json_object_set_new(j, "permissions", json_array());
    json_object_set_new(j, "permissionSets", json_pack("[[s]]", "SPOT"));
    json_object_set_new(j, "defaultSelfTradePreventionMode", json_string("EXPIRE_MAKER"));
    json_object_set_new(j, "allowedSelfTradePreventionModes", json_pack("[s]", "EXPIRE_MAKER"));
    return j;
}

static void interval_of(int32_t ms, const char **unit, int32_t *num)
{
    if (ms % 86400000 == 0) {
        *unit = "DAY";
        *num = ms / 86400000;
    } else if (ms % 60000 == 0) {
        *unit = "MINUTE";
        *num = ms / 60000;
    } else {
        *unit = "SECOND";
        *num = ms / 1000 > 0 ? ms / 1000 : 1;
    }
}

static json_t *rate_limits_json(struct clb_simex *s)
{
    const struct clb_simex_limits *l = &s->cfg.limits;
    const char *unit;
    int32_t num;
    interval_of(l->window_ms, &unit, &num);
    return json_pack("[{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i}]",
                     "rateLimitType", "REQUEST_WEIGHT", "interval", unit, "intervalNum", num,
                     "limit", l->request_weight, "rateLimitType", "ORDERS", "interval",
                     "SECOND", "intervalNum", 10, "limit", l->orders_10s, "rateLimitType",
                     "ORDERS", "interval", "DAY", "intervalNum", 1, "limit", l->orders_day,
                     "rateLimitType", "RAW_REQUESTS", "interval", "MINUTE", "intervalNum", 5,
                     "limit", 61000);
}

static bool pick_symbols(struct clb_simex *s, struct sx_req *rq, bool *want, bool *single,
                         struct sx_resp *out);

static void h_exchange_info(struct clb_simex *s, struct sx_req *rq, struct call *c,
                            struct sx_resp *out)
{
    bool want[CLB_SIMEX_MAX_SYMBOLS], single;
    if (!pick_symbols(s, rq, want, &single, out))
        return;
    json_t *syms = json_array();
    for (uint32_t i = 0; i < s->n_markets; i++)
        if (want[i])
            json_array_append_new(syms, symbol_json(s, &s->markets[i]));
    out->result = json_pack("{s:s, s:I, s:o, s:[], s:o}", "timezone", "UTC", "serverTime",
                            (json_int_t)c->now_ms, "rateLimits", rate_limits_json(s),
                            "exchangeFilters", "symbols", syms);
}

static int depth_limit(struct sx_params *ps)
{
    const char *v = NULL;
    for (uint32_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].key, "limit") == 0)
            v = ps->p[i].val;
    long n = v && is_digits(v, 9) ? strtol(v, NULL, 10) : 100;
    return n <= 0 ? 100 : n > SX_DEPTH_MAX ? SX_DEPTH_MAX : (int)n;
}

static int w_depth(struct sx_params *ps)
{
    int n = depth_limit(ps);
    return n <= 100 ? 5 : n <= 500 ? 25 : n <= 1000 ? 50 : 250;
}

static void h_depth(struct clb_simex *s, struct sx_req *rq, struct call *c, struct sx_resp *out)
{
    (void)c;
    int mi;
    if (!req_symbol(s, rq, &mi, out))
        return;
    const char *lv = sx_params_get(&rq->params, "limit");
    if (lv && (!is_digits(lv, 9) || strtol(lv, NULL, 10) <= 0)) {
        fail(out, 400, -1100,
             "Illegal characters found in parameter 'limit'; legal range is '1 to 5000'.");
        return;
    }
    int limit = depth_limit(&rq->params);
    struct sx_market *m = &s->markets[mi];
    json_t *sides[2];
    for (int side = 0; side < 2; side++) {
        size_t n = clb_matcher_depth(&s->mx, (uint32_t)mi, (enum clb_side)side, m->depth[side],
                                     limit < SX_MATCH_LEVELS ? (size_t)limit : SX_MATCH_LEVELS);
        sides[side] = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(sides[side],
                                  json_pack("[o,o]", jamt(m->depth[side][i].price, m->price_scale),
                                            jamt(m->depth[side][i].qty, m->qty_scale)));
    }
    out->result = json_pack("{s:I, s:o, s:o}", "lastUpdateId", (json_int_t)m->update_id, "bids",
                            sides[0], "asks", sides[1]);
}

/* symbol=S, symbols=["A","B"] or neither (all): which markets to show.
 * *single is true for symbol=, whose answer is an object, not an array. */
static bool pick_symbols(struct clb_simex *s, struct sx_req *rq, bool *want, bool *single,
                         struct sx_resp *out)
{
    const char *one = sx_params_get(&rq->params, "symbol");
    const char *many = sx_params_get(&rq->params, "symbols");
    *single = false;
    if (one && many) {
        fail(out, 400, -1106, "Parameter 'symbols' sent when not required.");
        return false;
    }
    for (uint32_t i = 0; i < s->n_markets; i++)
        want[i] = !one && !many;
    if (one) {
        int m;
        if (!read_symbol(s, rq, one, &m, out))
            return false;
        want[m] = *single = true;
    } else if (many) {
        json_t *arr = json_loads(many, 0, NULL);
        size_t i;
        json_t *v;
        bool ok = json_is_array(arr) && json_array_size(arr) > 0;
        json_array_foreach(arr, i, v) {
            int m;
            if (!ok)
                break;
            if (!json_is_string(v) || !read_symbol(s, rq, json_string_value(v), &m, out))
                ok = false;
            else
                want[m] = true;
        }
        json_decref(arr);
        if (!ok) {
            if (!failed(out))
                fail(out, 400, -1100, "Illegal characters found in parameter 'symbols'.");
            return false;
        }
    }
    return true;
}

static int w_ticker(struct sx_params *ps)
{
    return sx_params_has(ps, "symbol") ? 2 : 4;
}

static void h_ticker_price(struct clb_simex *s, struct sx_req *rq, struct call *c,
                           struct sx_resp *out)
{
    (void)c;
    bool want[CLB_SIMEX_MAX_SYMBOLS], single;
    if (!pick_symbols(s, rq, want, &single, out))
        return;
    json_t *arr = json_array();
    for (uint32_t i = 0; i < s->n_markets; i++) {
        const struct sx_market *m = &s->markets[i];
        if (want[i])
            json_array_append_new(arr, json_pack("{s:s, s:o}", "symbol", m->symbol, "price",
                                                 jamt(m->last_price, m->price_scale)));
    }
    out->result = single ? json_incref(json_array_get(arr, 0)) : json_incref(arr);
    json_decref(arr);
}

static void h_ticker_book(struct clb_simex *s, struct sx_req *rq, struct call *c,
                          struct sx_resp *out)
{
    (void)c;
    bool want[CLB_SIMEX_MAX_SYMBOLS], single;
    if (!pick_symbols(s, rq, want, &single, out))
        return;
    json_t *arr = json_array();
    for (uint32_t i = 0; i < s->n_markets; i++) {
        const struct sx_market *m = &s->markets[i];
        if (!want[i])
            continue;
        struct clb_level bid = { 0, 0 }, ask = { 0, 0 };
        clb_matcher_depth(&s->mx, i, CLB_SIDE_BUY, &bid, 1);
        clb_matcher_depth(&s->mx, i, CLB_SIDE_SELL, &ask, 1);
        json_array_append_new(arr, json_pack("{s:s, s:o, s:o, s:o, s:o}", "symbol", m->symbol,
                                             "bidPrice", jamt(bid.price, m->price_scale),
                                             "bidQty", jamt(bid.qty, m->qty_scale), "askPrice",
                                             jamt(ask.price, m->price_scale), "askQty",
                                             jamt(ask.qty, m->qty_scale)));
    }
    out->result = single ? json_incref(json_array_get(arr, 0)) : json_incref(arr);
    json_decref(arr);
}

/* ------------------------------------------------------------------------ */
/* Orders                                                                    */

/* ORDERS limit: 10 s and UTC day windows per account. */
static bool order_limit(struct clb_simex *s, struct call *c, struct sx_resp *out)
{
    struct sx_user *u = &s->users[c->user];
    const struct clb_simex_limits *l = &s->cfg.limits;
    int64_t w10 = c->now_ms - c->now_ms % 10000, wd = c->now_ms - c->now_ms % 86400000;
    if (u->o10_start != w10)
        u->o10_start = w10, u->o10_count = 0;
    if (u->oday_start != wd)
        u->oday_start = wd, u->oday_count = 0;
    u->o10_count++;
    u->oday_count++;
    out->has_orders = true;
    out->orders_10s = u->o10_count;
    out->orders_1d = u->oday_count;
    if (u->o10_count > l->orders_10s) {
        fail(out, 429, -1015, "Too many new orders; current limit is %d orders per 10 SECOND.",
             l->orders_10s);
        out->retry_after_ms = w10 + 10000;
        return false;
    }
    if (u->oday_count > l->orders_day) {
        fail(out, 429, -1015, "Too many new orders; current limit is %d orders per 1 DAY.",
             l->orders_day);
        out->retry_after_ms = wd + 86400000;
        return false;
    }
    return true;
}

static void filter_fail(struct sx_resp *out, const char *filter)
{
    fail(out, 400, -1013, "Filter failure: %s", filter);
}

static void reject(struct sx_resp *out, enum clb_reject_reason why)
{
    switch (why) {
    case CLB_REJECT_INSUFFICIENT_BALANCE:
        fail(out, 400, -2010, "Account has insufficient balance for requested action.");
        break;
    case CLB_REJECT_WOULD_TAKE:
        fail(out, 400, -2010, "Order would immediately match and take.");
        break;
    case CLB_REJECT_MIN_NOTIONAL:
    case CLB_REJECT_OVERFLOW:
        filter_fail(out, "NOTIONAL");
        break;
    case CLB_REJECT_QTY:
    case CLB_REJECT_STEP:
    case CLB_REJECT_MIN_QTY:
    case CLB_REJECT_MAX_QTY:
        filter_fail(out, "LOT_SIZE");
        break;
    case CLB_REJECT_PRICE:
    case CLB_REJECT_TICK:
        filter_fail(out, "PRICE_FILTER");
        break;
    case CLB_REJECT_CAPACITY:
        filter_fail(out, "MAX_NUM_ORDERS");
        break;
    default:
        fail(out, 400, -2010, "NEW_ORDER_REJECTED");
        break;
    }
}

static void h_order_new(struct clb_simex *s, struct sx_req *rq, struct call *c,
                        struct sx_resp *out)
{
    int mi;
    const char *side_s, *type_s, *qty_s, *tif_s, *price_s, *cid, *resp_s;
    if (!order_limit(s, c, out) || !req_symbol(s, rq, &mi, out) ||
        !mandatory(rq, "side", &side_s, out))
        return;
    struct sx_market *m = &s->markets[mi];
    enum clb_side side;
    if (strcmp(side_s, "BUY") == 0)
        side = CLB_SIDE_BUY;
    else if (strcmp(side_s, "SELL") == 0)
        side = CLB_SIDE_SELL;
    else
        FAIL(out, 400, -1117, "Invalid side.");
    if (!mandatory(rq, "type", &type_s, out))
        return;
    enum clb_order_type type;
    if (strcmp(type_s, "LIMIT") == 0)
        type = CLB_ORDER_LIMIT;
    else if (strcmp(type_s, "MARKET") == 0)
        type = CLB_ORDER_MARKET;
    else if (strcmp(type_s, "LIMIT_MAKER") == 0)
        type = CLB_ORDER_LIMIT_MAKER;
    else
        FAIL(out, 400, -1116, "Invalid orderType.");
    enum clb_tif tif = CLB_TIF_GTC;
    tif_s = sx_params_get(&rq->params, "timeInForce");
    if (type == CLB_ORDER_LIMIT) {
        if (!tif_s || !*tif_s)
            FAIL(out, 400, -1102,
                        "Mandatory parameter 'timeInForce' was not sent, was empty/null, or "
                        "malformed.");
        if (strcmp(tif_s, "GTC") == 0)
            tif = CLB_TIF_GTC;
        else if (strcmp(tif_s, "IOC") == 0)
            tif = CLB_TIF_IOC;
        else if (strcmp(tif_s, "FOK") == 0)
            tif = CLB_TIF_FOK;
        else
            FAIL(out, 400, -1115, "Invalid timeInForce.");
    } else if (tif_s) {
        FAIL(out, 400, -1106, "Parameter 'timeInForce' sent when not required.");
    } else if (type == CLB_ORDER_MARKET) {
        tif = CLB_TIF_IOC;
    }
    if (sx_params_get(&rq->params, "quoteOrderQty"))
        FAIL(out, 400, -2010,
                    "Quote order qty market orders are not support for this symbol.");
    if (!mandatory(rq, "quantity", &qty_s, out))
        return;
    clb_dec qd, pd = { 0, 0 };
    if (!read_dec("quantity", qty_s, &qd, out))
        return;
    price_s = sx_params_get(&rq->params, "price");
    if (type == CLB_ORDER_MARKET) {
        if (price_s)
            FAIL(out, 400, -1106, "Parameter 'price' sent when not required.");
    } else {
        if (!mandatory(rq, "price", &price_s, out) || !read_dec("price", price_s, &pd, out))
            return;
    }
    if (!opt_client_id(rq, "newClientOrderId", &cid, out))
        return;
    resp_s = sx_params_get(&rq->params, "newOrderRespType");
    int resp = type == CLB_ORDER_LIMIT_MAKER ? 0 : 2; /* ACK, RESULT, FULL */
    if (resp_s) {
        if (strcmp(resp_s, "ACK") == 0)
            resp = 0;
        else if (strcmp(resp_s, "RESULT") == 0)
            resp = 1;
        else if (strcmp(resp_s, "FULL") == 0)
            resp = 2;
        else
            FAIL(out, 400, -1130,
                        "Data sent for parameter 'newOrderRespType' is not valid.");
    }
    /* filters, exactly as integers at the market's scales */
    int64_t price = 0, qty;
    if (type != CLB_ORDER_MARKET) {
        if (clb_dec_to_scaled(pd, m->price_scale, &price) != CLB_OK || price <= 0 ||
            (m->min_price && price < m->min_price) || (m->max_price && price > m->max_price) ||
            (price - m->min_price) % m->tick != 0)
            {
        filter_fail(out, "PRICE_FILTER");
        return;
    }
    }
    if (clb_dec_to_scaled(qd, m->qty_scale, &qty) != CLB_OK || qty <= 0 ||
        (m->min_qty && qty < m->min_qty) || (m->max_qty && qty > m->max_qty) ||
        (qty - m->min_qty) % m->step != 0)
        {
        filter_fail(out, "LOT_SIZE");
        return;
    }
    if (type != CLB_ORDER_MARKET) {
        i128 notional = (i128)price * qty;
        if ((m->min_notional && notional < m->min_notional) ||
            (m->max_notional && notional > m->max_notional))
            {
        filter_fail(out, "NOTIONAL");
        return;
    }
    }
    uint64_t none[1];
    size_t live = clb_matcher_open_orders(&s->mx, s->users[c->user].ledger, (uint32_t)mi, none, 0);
    if ((int64_t)live >= s->cfg.limits.max_open_orders)
        {
        filter_fail(out, "MAX_NUM_ORDERS");
        return;
    }
    char gen[CLB_CLIENT_ID_MAX];
    if (cid) {
        /* a client id in use by a live order of the account */
        uint32_t cap = (uint32_t)s->cfg.limits.max_open_orders * s->n_markets + 16;
        struct sx_order **list = malloc(cap * sizeof(*list));
        if (!list)
            FAIL(out, 500, -1000, "An unknown error occurred while processing the request.");
        uint32_t n_open = sx_open_orders(s, (uint32_t)c->user, SX_NIL, list, cap);
        bool dup = false;
        for (uint32_t i = 0; i < n_open; i++)
            dup = dup || strcmp(list[i]->client_id, cid) == 0;
        free(list);
        if (dup)
            FAIL(out, 400, -2010, "Duplicate order sent.");
    } else {
        sx_gen_client_id(s, gen);
        cid = gen;
    }
    struct sx_place pl = { .user = (uint32_t)c->user, .market = (uint32_t)mi, .side = side,
                           .type = type, .tif = tif, .price = price, .qty = qty,
                           .client_id = cid };
    uint64_t id = 0;
    enum clb_reject_reason why = CLB_REJECT_NONE;
    if (sx_order_place(s, &pl, &id, &why) != CLB_OK)
        {
        reject(out, why);
        return;
    }
    struct sx_order *o = sx_order_get(s, id);
    json_t *j = json_object();
    json_object_set_new(j, "symbol", json_string(m->symbol));
    json_object_set_new(j, "orderId", json_integer((json_int_t)id));
    json_object_set_new(j, "orderListId", json_integer(-1));
    json_object_set_new(j, "clientOrderId", json_string(cid));
    json_object_set_new(j, "transactTime", json_integer(o ? o->time_ms : c->now_ms));
    if (resp >= 1 && o) {
        json_object_set_new(j, "price", jamt(type == CLB_ORDER_MARKET ? 0 : price,
                                             m->price_scale));
        json_object_set_new(j, "origQty", jamt(qty, m->qty_scale));
        json_object_set_new(j, "executedQty", jamt(o->executed, m->qty_scale));
        json_object_set_new(j, "origQuoteOrderQty", json_string("0.00000000"));
        json_object_set_new(j, "cummulativeQuoteQty", jamt(o->cum_quote, quote_scale(s, m)));
        json_object_set_new(j, "status", json_string(sx_status_name(o->status)));
        json_object_set_new(j, "timeInForce", json_string(sx_tif_name(type, tif)));
        json_object_set_new(j, "type", json_string(sx_type_name(type)));
        json_object_set_new(j, "side", json_string(sx_side_name(side)));
        json_object_set_new(j, "workingTime", json_integer(o->working_ms));
        json_object_set_new(j, "selfTradePreventionMode", json_string("EXPIRE_MAKER"));
    }
    if (resp == 2 && o) {
        json_t *fills = json_array();
        for (uint32_t i = 0; i < s->n_cap; i++) {
            const struct sx_fill *f = &s->cap[i];
            json_array_append_new(
                fills, json_pack("{s:o, s:o, s:o, s:s, s:I}", "price",
                                 jamt(f->price, m->price_scale), "qty", jamt(f->qty, m->qty_scale),
                                 "commission",
                                 jamt(f->fee, clb_ledger_asset_scale(&s->ledger, f->fee_asset)),
                                 "commissionAsset", s->ledger.assets[f->fee_asset].name, "tradeId",
                                 (json_int_t)f->trade_id));
        }
        json_object_set_new(j, "fills", fills);
    }
    out->result = j;
}

/* Finds the order named by orderId / origClientOrderId for this user and
 * market; NULL when there is none. *named is false when neither was sent. */
static struct sx_order *find_order(struct clb_simex *s, struct sx_req *rq, struct call *c,
                                   int market, bool *named, struct sx_resp *out)
{
    uint64_t id = 0;
    bool has_id;
    const char *orig;
    *named = false;
    if (!opt_u64(rq, "orderId", &has_id, &id, out) ||
        !opt_client_id(rq, "origClientOrderId", &orig, out))
        return NULL;
    if (!has_id && !orig) {
        fail(out, 400, -1102,
             "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
        return NULL;
    }
    *named = true;
    struct sx_order *o;
    if (has_id) {
        o = sx_order_get(s, id);
        if (o && (o->user != (uint32_t)c->user || o->market != (uint32_t)market ||
                  (orig && strcmp(orig, o->client_id) != 0)))
            o = NULL;
    } else {
        o = sx_order_by_client_id(s, (uint32_t)c->user, (uint32_t)market, orig);
    }
    return o;
}

static void h_order_cancel(struct clb_simex *s, struct sx_req *rq, struct call *c,
                           struct sx_resp *out)
{
    int mi;
    bool named;
    const char *new_cid;
    if (!req_symbol(s, rq, &mi, out))
        return;
    struct sx_order *o = find_order(s, rq, c, mi, &named, out);
    if (!named || !opt_client_id(rq, "newClientOrderId", &new_cid, out))
        return;
    if (!o || !o->live)
        FAIL(out, 400, -2011, "Unknown order sent.");
    if (s->faults.cancel_unknown_ms > 0 && c->now_ms - o->time_ms < s->faults.cancel_unknown_ms)
        FAIL(out, 400, -2011, "Unknown order sent.");
    char gen[CLB_CLIENT_ID_MAX];
    if (!new_cid) {
        sx_gen_client_id(s, gen);
        new_cid = gen;
    }
    if (sx_order_cancel(s, (uint32_t)c->user, o->id, new_cid) != CLB_OK)
        FAIL(out, 400, -2011, "Unknown order sent.");
    out->result = cancel_json(s, o, new_cid, c->now_ms);
}

static void h_order_get(struct clb_simex *s, struct sx_req *rq, struct call *c,
                        struct sx_resp *out)
{
    int mi;
    bool named;
    if (!req_symbol(s, rq, &mi, out))
        return;
    struct sx_order *o = find_order(s, rq, c, mi, &named, out);
    if (!named)
        return;
    if (!o)
        FAIL(out, 400, -2013, "Order does not exist.");
    out->result = order_json(s, o, c->now_ms);
}

static int w_open_orders(struct sx_params *ps)
{
    return sx_params_has(ps, "symbol") ? 6 : 80;
}

static void h_open_orders(struct clb_simex *s, struct sx_req *rq, struct call *c,
                          struct sx_resp *out)
{
    int mi = -1;
    const char *sym = sx_params_get(&rq->params, "symbol");
    if (sym && !read_symbol(s, rq, sym, &mi, out))
        return;
    uint32_t cap = (uint32_t)s->cfg.limits.max_open_orders * s->n_markets + 16;
    struct sx_order **list = malloc(cap * sizeof(*list));
    if (!list)
        FAIL(out, 500, -1000, "An unknown error occurred while processing the request.");
    uint32_t n = sx_open_orders(s, (uint32_t)c->user, mi < 0 ? SX_NIL : (uint32_t)mi, list, cap);
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(arr, order_json(s, list[i], c->now_ms));
    free(list);
    out->result = arr;
}

static int cmp_order_id(const void *a, const void *b)
{
    uint64_t x = (*(struct sx_order *const *)a)->id, y = (*(struct sx_order *const *)b)->id;
    return (x > y) - (x < y);
}

/* GET /api/v3/allOrders: the user's orders of one market, live and
 * finished (as far as the history keeps them), ascending by id. From
 * orderId or startTime when given, else the most recent `limit`. */
static void h_all_orders(struct clb_simex *s, struct sx_req *rq, struct call *c,
                         struct sx_resp *out)
{
    int mi;
    bool has_oid, has_start, has_end, has_limit;
    uint64_t oid = 0, start = 0, end = 0, limit = 500;
    if (!req_symbol(s, rq, &mi, out) || !opt_u64(rq, "orderId", &has_oid, &oid, out) ||
        !opt_u64(rq, "startTime", &has_start, &start, out) ||
        !opt_u64(rq, "endTime", &has_end, &end, out) ||
        !opt_u64(rq, "limit", &has_limit, &limit, out))
        return;
    if (has_limit && (limit < 1 || limit > 1000))
        FAIL(out, 400, -1130, "Data sent for parameter 'limit' is not valid.");
    if (has_start && has_end && (end < start || end - start > UINT64_C(86400000)))
        FAIL(out, 400, -1127, "More than 24 hours between startTime and endTime.");
    struct sx_order **list = malloc((size_t)(s->orders_cap ? s->orders_cap : 1) * sizeof(*list));
    if (!list)
        FAIL(out, 500, -1000, "An unknown error occurred while processing the request.");
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->orders_cap; i++) {
        struct sx_order *o = &s->orders[i];
        if (!o->id || o->user != (uint32_t)c->user || o->market != (uint32_t)mi ||
            (has_oid && o->id < oid) || (has_start && (uint64_t)o->time_ms < start) ||
            (has_end && (uint64_t)o->time_ms > end))
            continue;
        list[n++] = o;
    }
    qsort(list, n, sizeof(*list), cmp_order_id);
    uint32_t first = 0;
    if (!has_oid && !has_start && n > limit)
        first = n - (uint32_t)limit;
    json_t *arr = json_array();
    for (uint32_t i = first; i < n && json_array_size(arr) < limit; i++)
        json_array_append_new(arr, order_json(s, list[i], c->now_ms));
    free(list);
    out->result = arr;
}

static void h_open_orders_cancel(struct clb_simex *s, struct sx_req *rq, struct call *c,
                                 struct sx_resp *out)
{
    int mi;
    if (!req_symbol(s, rq, &mi, out))
        return;
    uint32_t cap = (uint32_t)s->cfg.limits.max_open_orders + 16;
    struct sx_order **list = malloc(cap * sizeof(*list));
    if (!list)
        FAIL(out, 500, -1000, "An unknown error occurred while processing the request.");
    uint32_t n = sx_open_orders(s, (uint32_t)c->user, (uint32_t)mi, list, cap);
    if (n == 0) {
        free(list);
        FAIL(out, 400, -2011, "Unknown order sent.");
    }
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++) {
        char gen[CLB_CLIENT_ID_MAX];
        sx_gen_client_id(s, gen);
        if (sx_order_cancel(s, (uint32_t)c->user, list[i]->id, gen) == CLB_OK)
            json_array_append_new(arr, cancel_json(s, list[i], gen, c->now_ms));
    }
    free(list);
    out->result = arr;
}

static void h_account(struct clb_simex *s, struct sx_req *rq, struct call *c, struct sx_resp *out)
{
    const char *omit = sx_params_get(&rq->params, "omitZeroBalances");
    if (omit && strcmp(omit, "true") != 0 && strcmp(omit, "false") != 0)
        FAIL(out, 400, -1130, "Data sent for parameter 'omitZeroBalances' is not valid.");
    bool skip_zero = omit && strcmp(omit, "true") == 0;
    struct sx_user *u = &s->users[c->user];
    char mk[CLB_DEC_STRLEN], tk[CLB_DEC_STRLEN];
    sx_fmt_scaled(s->cfg.maker_fee_ppm, 6, 8, mk);
    sx_fmt_scaled(s->cfg.taker_fee_ppm, 6, 8, tk);
    json_t *bal = json_array();
    for (uint32_t a = 0; a < s->ledger.n_assets; a++) {
        int64_t free_ = clb_ledger_available(&s->ledger, u->ledger, a);
        int64_t locked = clb_ledger_locked(&s->ledger, u->ledger, a);
        if (skip_zero && free_ == 0 && locked == 0)
            continue;
        int sc = clb_ledger_asset_scale(&s->ledger, a);
        json_array_append_new(bal, json_pack("{s:s, s:o, s:o}", "asset", s->ledger.assets[a].name,
                                             "free", jamt(free_, sc), "locked", jamt(locked, sc)));
    }
    json_t *j = json_object();
    json_object_set_new(j, "makerCommission", json_integer(s->cfg.maker_fee_ppm / 100));
    json_object_set_new(j, "takerCommission", json_integer(s->cfg.taker_fee_ppm / 100));
    json_object_set_new(j, "buyerCommission", json_integer(0));
    json_object_set_new(j, "sellerCommission", json_integer(0));
    json_object_set_new(j, "commissionRates",
                        json_pack("{s:s, s:s, s:s, s:s}", "maker", mk, "taker", tk, "buyer",
                                  "0.00000000", "seller", "0.00000000"));
    json_object_set_new(j, "canTrade", json_true());
    json_object_set_new(j, "canWithdraw", json_true());
    json_object_set_new(j, "canDeposit", json_true());
    json_object_set_new(j, "brokered", json_false());
    json_object_set_new(j, "requireSelfTradePrevention", json_false());
    json_object_set_new(j, "preventSor", json_false());
    json_object_set_new(j, "updateTime", json_integer(u->update_ms));
    json_object_set_new(j, "accountType", json_string("SPOT"));
    json_object_set_new(j, "balances", bal);
    json_object_set_new(j, "permissions", json_pack("[s]", "SPOT"));
    json_object_set_new(j, "uid", json_integer(1000 + c->user));
    out->result = j;
}

/* GET /api/v3/account/commission (WS-API account.commission): the account's
 * rates for one symbol, Binance's shape; no tax, no discount. */
static void h_commission(struct clb_simex *s, struct sx_req *rq, struct call *c,
                         struct sx_resp *out)
{
    (void)c;
    int mi;
    if (!req_symbol(s, rq, &mi, out))
        return;
    char mk[CLB_DEC_STRLEN], tk[CLB_DEC_STRLEN];
    sx_fmt_scaled(s->cfg.maker_fee_ppm, 6, 8, mk);
    sx_fmt_scaled(s->cfg.taker_fee_ppm, 6, 8, tk);
    const char *z = "0.00000000";
    out->result = json_pack(
        "{s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s, s:s, s:s}, s:{s:b, s:b, s:s, s:s}}",
        "symbol", s->markets[mi].symbol, "standardCommission", "maker", mk, "taker", tk, "buyer",
        z, "seller", z, "taxCommission", "maker", z, "taker", z, "buyer", z, "seller", z,
        "discount", "enabledForAccount", 0, "enabledForSymbol", 0, "discountAsset", "BNB",
        "discount", "0.75000000");
}

static int w_my_trades(struct sx_params *ps)
{
    return sx_params_has(ps, "orderId") ? 5 : 20;
}

static json_t *fill_json(struct clb_simex *s, const struct sx_fill *f)
{
    const struct sx_market *m = &s->markets[f->market];
    json_t *j = json_object();
    json_object_set_new(j, "symbol", json_string(m->symbol));
    json_object_set_new(j, "id", json_integer((json_int_t)f->trade_id));
    json_object_set_new(j, "orderId", json_integer((json_int_t)f->order_id));
    json_object_set_new(j, "orderListId", json_integer(-1));
    json_object_set_new(j, "price", jamt(f->price, m->price_scale));
    json_object_set_new(j, "qty", jamt(f->qty, m->qty_scale));
    json_object_set_new(j, "quoteQty", jamt(f->quote, quote_scale(s, m)));
    json_object_set_new(j, "commission",
                        jamt(f->fee, clb_ledger_asset_scale(&s->ledger, f->fee_asset)));
    json_object_set_new(j, "commissionAsset", json_string(s->ledger.assets[f->fee_asset].name));
    json_object_set_new(j, "time", json_integer(f->time_ms));
    json_object_set_new(j, "isBuyer", json_boolean(f->side == CLB_SIDE_BUY));
    json_object_set_new(j, "isMaker", json_boolean(f->maker));
    json_object_set_new(j, "isBestMatch", json_true());
    return j;
}

static void h_my_trades(struct clb_simex *s, struct sx_req *rq, struct call *c,
                        struct sx_resp *out)
{
    int mi;
    bool has_oid, has_from, has_start, has_end, has_limit;
    uint64_t oid = 0, from = 0, start = 0, end = 0, limit = 500;
    if (!req_symbol(s, rq, &mi, out) || !opt_u64(rq, "orderId", &has_oid, &oid, out) ||
        !opt_u64(rq, "fromId", &has_from, &from, out) ||
        !opt_u64(rq, "startTime", &has_start, &start, out) ||
        !opt_u64(rq, "endTime", &has_end, &end, out) ||
        !opt_u64(rq, "limit", &has_limit, &limit, out))
        return;
    if (has_limit && (limit < 1 || limit > 1000))
        FAIL(out, 400, -1130, "Data sent for parameter 'limit' is not valid.");
    if (has_start && has_end && end < start)
        FAIL(out, 400, -1128, "Combination of optional parameters invalid.");
    uint32_t n = sx_fills_count(s);
    /* matching fills, ascending; without fromId/time: the most recent `limit` */
    bool from_start = has_from || has_start;
    json_t *arr = json_array();
    if (from_start) {
        for (uint32_t i = 0; i < n && json_array_size(arr) < limit; i++) {
            const struct sx_fill *f = sx_fill_at(s, i);
            if (f->user != (uint32_t)c->user || f->market != (uint32_t)mi ||
                (has_oid && f->order_id != oid) || (has_from && f->trade_id < from) ||
                (has_start && (uint64_t)f->time_ms < start) ||
                (has_end && (uint64_t)f->time_ms > end))
                continue;
            json_array_append_new(arr, fill_json(s, f));
        }
    } else {
        uint32_t picked[1000], k = 0;
        for (uint32_t i = n; i-- > 0 && k < limit;) {
            const struct sx_fill *f = sx_fill_at(s, i);
            if (f->user != (uint32_t)c->user || f->market != (uint32_t)mi ||
                (has_oid && f->order_id != oid) || (has_end && (uint64_t)f->time_ms > end))
                continue;
            picked[k++] = i;
        }
        while (k-- > 0)
            json_array_append_new(arr, fill_json(s, sx_fill_at(s, picked[k])));
    }
    out->result = arr;
}

static void h_user_subscribe(struct clb_simex *s, struct sx_req *rq, struct call *c,
                             struct sx_resp *out)
{
    (void)s, (void)rq;
    out->result = json_object();
    out->subscribe = true;
    out->subscribe_user = c->user;
}

static void h_user_unsubscribe(struct clb_simex *s, struct sx_req *rq, struct call *c,
                               struct sx_resp *out)
{
    (void)s, (void)c;
    bool has;
    uint64_t id = 0;
    if (!opt_u64(rq, "subscriptionId", &has, &id, out))
        return;
    out->result = json_object();
    out->unsubscribe = true;
    out->unsubscribe_id = has ? (int64_t)id : -1;
}

/* ------------------------------------------------------------------------ */
/* The table                                                                 */

#define ORDER_PARAMS                                                                       \
    "symbol side type timeInForce quantity quoteOrderQty price newClientOrderId "          \
    "newOrderRespType"

static const struct endpoint endpoints[] = {
    { "GET", "/api/v3/ping", "ping", false, false, false, w1, h_ping, "" },
    { "GET", "/api/v3/time", "time", false, false, false, w1, h_time, "" },
    { "GET", "/api/v3/exchangeInfo", "exchangeInfo", false, false, false, w20, h_exchange_info,
      "symbol symbols" },
    { "GET", "/api/v3/depth", "depth", false, false, false, w_depth, h_depth, "symbol limit" },
    { "GET", "/api/v3/ticker/price", "ticker.price", false, false, false, w_ticker,
      h_ticker_price, "symbol symbols" },
    { "GET", "/api/v3/ticker/bookTicker", "ticker.book", false, false, false, w_ticker,
      h_ticker_book, "symbol symbols" },
    { "POST", "/api/v3/order", "order.place", true, true, true, w1, h_order_new, ORDER_PARAMS },
    { "DELETE", "/api/v3/order", "order.cancel", true, true, false, w1, h_order_cancel,
      "symbol orderId origClientOrderId newClientOrderId" },
    { "GET", "/api/v3/order", "order.status", true, false, false, w4, h_order_get,
      "symbol orderId origClientOrderId" },
    { "GET", "/api/v3/openOrders", "openOrders.status", true, false, false, w_open_orders,
      h_open_orders, "symbol" },
    { "DELETE", "/api/v3/openOrders", "openOrders.cancelAll", true, true, false, w1,
      h_open_orders_cancel, "symbol" },
    { "GET", "/api/v3/allOrders", "allOrders", true, false, false, w20, h_all_orders,
      "symbol orderId startTime endTime limit" },
    { "GET", "/api/v3/account", "account.status", true, false, false, w20, h_account,
      "omitZeroBalances" },
    { "GET", "/api/v3/account/commission", "account.commission", true, false, false, w20,
      h_commission, "symbol" },
    { "GET", "/api/v3/myTrades", "myTrades", true, false, false, w_my_trades, h_my_trades,
      "symbol orderId startTime endTime fromId limit" },
    { NULL, NULL, "userDataStream.subscribe.signature", true, false, false, w2, h_user_subscribe,
      "" },
    { NULL, NULL, "userDataStream.unsubscribe", false, false, false, w2, h_user_unsubscribe,
      "subscriptionId" },
};
#define N_ENDPOINTS (sizeof(endpoints) / sizeof(endpoints[0]))

static const struct endpoint *find_endpoint(const struct sx_req *rq, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < N_ENDPOINTS; i++) {
        const struct endpoint *e = &endpoints[i];
        if (rq->ws) {
            if (e->ws && strcmp(e->ws, rq->path) == 0)
                return e;
        } else if (e->path && strcmp(e->path, rq->path) == 0) {
            *path_known = true;
            if (strcmp(e->method, rq->method) == 0)
                return e;
        }
    }
    return NULL;
}

static bool accepted(const struct endpoint *e, const char *key, bool ws)
{
    if (e->sign && (strcmp(key, "timestamp") == 0 || strcmp(key, "recvWindow") == 0 ||
                    strcmp(key, "signature") == 0))
        return true;
    if (ws && e->sign && strcmp(key, "apiKey") == 0)
        return true;
    if (ws && strcmp(key, "returnRateLimits") == 0)
        return true;
    size_t kl = strlen(key);
    for (const char *p = e->params; *p;) {
        while (*p == ' ')
            p++;
        const char *q = p;
        while (*q && *q != ' ')
            q++;
        if ((size_t)(q - p) == kl && memcmp(p, key, kl) == 0)
            return true;
        p = q;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Rate limits                                                               */

static struct sx_ip *ip_bucket(struct clb_simex *s, const char *ip, int64_t now)
{
    struct sx_ip *lru = &s->ips[0];
    for (int i = 0; i < SX_MAX_IPS; i++) {
        if (s->ips[i].ip[0] && strcmp(s->ips[i].ip, ip) == 0) {
            s->ips[i].last_ms = now;
            return &s->ips[i];
        }
        if (!s->ips[i].ip[0] || s->ips[i].last_ms < lru->last_ms)
            lru = &s->ips[i];
        if (!s->ips[i].ip[0])
            break;
    }
    memset(lru, 0, sizeof(*lru));
    snprintf(lru->ip, sizeof(lru->ip), "%s", ip);
    lru->last_ms = now;
    return lru;
}

static bool charge(struct clb_simex *s, const char *ip, int weight, int64_t now,
                   struct sx_resp *out)
{
    const struct clb_simex_limits *l = &s->cfg.limits;
    struct sx_ip *b = ip_bucket(s, ip ? ip : "", now);
    int64_t win = now - ((now % l->window_ms) + l->window_ms) % l->window_ms;
    if (b->win_start != win) {
        b->win_start = win;
        b->used = 0;
        b->n429 = 0;
    }
    if (b->banned_until > now) {
        out->used_weight = b->used;
        fail(out, 418, -1003,
             "Way too much request weight used; IP banned until %" PRId64
             ". Please use WebSocket Streams for live updates to avoid bans.",
             b->banned_until);
        out->retry_after_ms = b->banned_until;
        return false;
    }
    b->used += weight;
    out->used_weight = b->used;
    if (b->used <= l->request_weight)
        return true;
    b->n429++;
    if (b->n429 > l->ban_after_429) {
        b->banned_until = now + l->ban_ms;
        fail(out, 418, -1003,
             "Way too much request weight used; IP banned until %" PRId64
             ". Please use WebSocket Streams for live updates to avoid bans.",
             b->banned_until);
        out->retry_after_ms = b->banned_until;
        return false;
    }
    const char *unit;
    int32_t num;
    interval_of(l->window_ms, &unit, &num);
    fail(out, 429, -1003,
         "Too much request weight used; current limit is %d request weight per %d %s. Please "
         "use WebSocket Streams for live updates to avoid polling the API.",
         l->request_weight, num, unit);
    out->retry_after_ms = win + l->window_ms;
    return false;
}

bool sx_api_ws_connect_allowed(struct clb_simex *s, const char *ip)
{
    struct sx_resp r;
    sx_resp_init(&r);
    bool ok = charge(s, ip, 2, sx_now_ms(s), &r);
    sx_resp_free(&r);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* Authentication                                                            */

static bool authenticate(struct clb_simex *s, struct sx_req *rq, struct call *c,
                         struct sx_resp *out)
{
    const char *key = rq->ws ? sx_params_get(&rq->params, "apiKey")
                             : (rq->has_api_key ? rq->api_key : NULL);
    bool key_ok = key && *key && !(rq->ws ? false : rq->api_key_too_long) &&
                  strlen(key) < CLB_SIMEX_KEY_MAX;
    for (const char *p = key; key_ok && *p; p++)
        key_ok = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                 (*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
    if (!key_ok) {
        fail(out, 401, -2014, "API-key format invalid.");
        return false;
    }
    int user = sx_user_find(s, key);
    if (user < 0) {
        fail(out, 401, -2015, "Invalid API-key, IP, or permissions for action.");
        return false;
    }
    const char *ts_s, *sig, *rw_s = sx_params_get(&rq->params, "recvWindow");
    if (!mandatory(rq, "timestamp", &ts_s, out))
        return false;
    if (!is_digits(ts_s, 19)) {
        fail(out, 400, -1100,
             "Illegal characters found in parameter 'timestamp'; legal range is "
             "'^[0-9]{1,20}$'.");
        return false;
    }
    if (!mandatory(rq, "signature", &sig, out))
        return false;
    int64_t ts = strtoll(ts_s, NULL, 10);
    if (ts >= INT64_C(100000000000000)) /* microseconds */
        ts /= 1000;
    int64_t rw = 5000;
    if (rw_s) {
        clb_dec d;
        int64_t us;
        if (clb_dec_parse_cstr(rw_s, &d) != CLB_OK || clb_dec_to_scaled(d, 3, &us) != CLB_OK ||
            us <= 0 || us > 60000000) {
            fail(out, 400, -1130, "Data sent for parameter 'recvWindow' is not valid.");
            return false;
        }
        rw = us / 1000;
    }
    if (!(ts < c->now_ms + 1000)) {
        fail(out, 400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.");
        return false;
    }
    if (c->now_ms - ts > rw) {
        fail(out, 400, -1021, "Timestamp for this request is outside of the recvWindow.");
        return false;
    }
    const char *secret = s->users[user].acct.secret;
    bool ok = false;
    for (uint32_t i = 0; i < rq->params.n_payload && !ok; i++) {
        char mac[65];
        sx_hmac_sha256_hex(secret, rq->params.payload[i], strlen(rq->params.payload[i]), mac);
        ok = sx_sig_equal(mac, sig);
    }
    if (!ok) {
        fail(out, 400, -1022, "Signature for this request is not valid.");
        return false;
    }
    c->user = user;
    return true;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                  */

void sx_api_handle(struct clb_simex *s, struct sx_req *rq, struct sx_resp *out)
{
    sx_resp_init(out);
    struct call c = { .user = -1, .now_ms = sx_now_ms(s), .ws = rq->ws };
    bool path_known;
    const struct endpoint *e = find_endpoint(rq, &path_known);
    int weight = e ? e->weight(&rq->params) : 1;
    if (!charge(s, rq->ip, weight, c.now_ms, out))
        goto latency;
    if (!e) {
        if (rq->ws)
            fail(out, 400, -1020, "Unknown method '%s'.", rq->path);
        else if (path_known)
            fail(out, 405, -1020, "This operation is not supported.");
        else
            fail(out, 404, -1020, "This operation is not supported.");
        goto latency;
    }
    if (s->faults.http_5xx_rate > 0 && draw(s) < s->faults.http_5xx_rate) {
        fail(out, 503, -1001, "Internal error; unable to process your request. Please try again.");
        goto latency;
    }
    struct sx_params *ps = &rq->params;
    if (ps->too_many) {
        fail(out, 400, -1101, "Too many parameters sent for this endpoint.");
        goto latency;
    }
    if (ps->duplicate) {
        fail(out, 400, -1101, "Duplicate values for a parameter detected.");
        goto latency;
    }
    if (ps->malformed) {
        fail(out, 400, -1100, "Illegal characters found in a parameter.");
        goto latency;
    }
    uint32_t n_read = 0;
    for (uint32_t i = 0; i < ps->n; i++)
        n_read += accepted(e, ps->p[i].key, rq->ws);
    if (n_read != ps->n) {
        fail(out, 400, -1104,
             "Not all sent parameters were read; read '%u' parameter(s) but was sent '%u'.",
             n_read, ps->n);
        goto latency;
    }
    if (e->sign && !authenticate(s, rq, &c, out))
        goto latency;
    e->fn(s, rq, &c, out);
    if (e->mutating) {
        sx_after_op(s);
        if (!failed(out)) {
            if (s->faults.timeout_after_commit_rate > 0 &&
                draw(s) < s->faults.timeout_after_commit_rate) {
                out->hold = true;
            } else if (s->faults.http_5xx_commit_rate > 0 &&
                       draw(s) < s->faults.http_5xx_commit_rate) {
                fail(out, 503, -1006,
                     "An unexpected response was received from the message bus. Execution "
                     "status unknown.");
            }
        }
    }
latency:
    if (s->faults.latency_ms > 0 || s->faults.jitter_ms > 0) {
        out->delay_ms = s->faults.latency_ms;
        if (s->faults.jitter_ms > 0)
            out->delay_ms += (int64_t)clb_rng_below(&s->fault_rng, (uint64_t)s->faults.jitter_ms);
    }
}

/* ------------------------------------------------------------------------ */
/* Response bodies                                                           */

char *sx_resp_rest_body(const struct sx_resp *r, size_t *len)
{
    char *txt;
    if (r->result) {
        txt = json_dumps(r->result, JSON_COMPACT | JSON_ENCODE_ANY);
    } else {
        json_t *e = json_pack("{s:i, s:s}", "code", r->code, "msg", r->msg);
        txt = json_dumps(e, JSON_COMPACT);
        json_decref(e);
    }
    *len = txt ? strlen(txt) : 0;
    return txt;
}

char *sx_resp_ws_body(struct clb_simex *s, const struct sx_resp *r, json_t *id, size_t *len)
{
    const struct clb_simex_limits *l = &s->cfg.limits;
    const char *unit;
    int32_t num;
    interval_of(l->window_ms, &unit, &num);
    json_t *j = json_object();
    json_object_set(j, "id", id ? id : json_null());
    json_object_set_new(j, "status", json_integer(r->status));
    if (r->result) {
        json_object_set(j, "result", r->result);
    } else {
        json_t *e = json_pack("{s:i, s:s}", "code", r->code, "msg", r->msg);
        if (r->retry_after_ms)
            json_object_set_new(e, "data",
                                json_pack("{s:I, s:I}", "serverTime", (json_int_t)sx_now_ms(s),
                                          "retryAfter", (json_int_t)r->retry_after_ms));
        json_object_set_new(j, "error", e);
    }
    json_t *rl = json_array();
    json_array_append_new(rl, json_pack("{s:s, s:s, s:i, s:i, s:i}", "rateLimitType",
                                        "REQUEST_WEIGHT", "interval", unit, "intervalNum", num,
                                        "limit", l->request_weight, "count", r->used_weight));
    if (r->has_orders) {
        json_array_append_new(rl, json_pack("{s:s, s:s, s:i, s:i, s:I}", "rateLimitType",
                                            "ORDERS", "interval", "SECOND", "intervalNum", 10,
                                            "limit", l->orders_10s, "count",
                                            (json_int_t)r->orders_10s));
        json_array_append_new(rl, json_pack("{s:s, s:s, s:i, s:i, s:I}", "rateLimitType",
                                            "ORDERS", "interval", "DAY", "intervalNum", 1,
                                            "limit", l->orders_day, "count",
                                            (json_int_t)r->orders_1d));
    }
    json_object_set_new(j, "rateLimits", rl);
    char *txt = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    *len = txt ? strlen(txt) : 0;
    return txt;
}
