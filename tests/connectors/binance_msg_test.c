/*
 * Tests for connectors/binance/binance_msg.c: real-shaped samples (as
 * Binance documents them and as colibri-simex prints them) for every
 * parser, status mappings, and hostile input — every truncation, random
 * byte damage, each top-level field removed or replaced by a wrong type —
 * which must never crash and, when refused, must leave the outputs
 * byte-for-byte untouched.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "binance_msg.h"
#include "error.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool dec_is(clb_dec d, const char *s)
{
    clb_dec want;
    cr_assert_eq(clb_dec_parse_cstr(s, &want), CLB_OK);
    return clb_dec_cmp(d, want) == 0;
}

/* ------------------------------------------------------------------------ */
/* Samples                                                                   */

/* colibri-simex's exchangeInfo (symbol_json / filter_json) plus a symbol in
 * Binance's older shape (MIN_NOTIONAL) and one in BREAK. */
static const char *EXINFO =
    "{\"timezone\":\"UTC\",\"serverTime\":1700000000123,\"rateLimits\":["
    "{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\",\"intervalNum\":1,"
    "\"limit\":6000},"
    "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":10,\"limit\":100},"
    "{\"rateLimitType\":\"ORDERS\",\"interval\":\"DAY\",\"intervalNum\":1,\"limit\":200000},"
    "{\"rateLimitType\":\"RAW_REQUESTS\",\"interval\":\"MINUTE\",\"intervalNum\":5,"
    "\"limit\":61000}],\"exchangeFilters\":[],\"symbols\":["
    "{\"symbol\":\"BTCUSDT\",\"status\":\"TRADING\",\"baseAsset\":\"BTC\","
    "\"baseAssetPrecision\":8,\"quoteAsset\":\"USDT\",\"quotePrecision\":8,"
    "\"quoteAssetPrecision\":8,\"baseCommissionPrecision\":8,\"quoteCommissionPrecision\":8,"
    "\"orderTypes\":[\"LIMIT\",\"LIMIT_MAKER\",\"MARKET\"],\"icebergAllowed\":false,"
    "\"filters\":[{\"filterType\":\"PRICE_FILTER\",\"minPrice\":\"0.01000000\","
    "\"maxPrice\":\"1000000.00000000\",\"tickSize\":\"0.01000000\"},"
    "{\"filterType\":\"LOT_SIZE\",\"minQty\":\"0.00001000\",\"maxQty\":\"9000.00000000\","
    "\"stepSize\":\"0.00001000\"},"
    "{\"filterType\":\"NOTIONAL\",\"minNotional\":\"5.00000000\",\"applyMinToMarket\":true,"
    "\"maxNotional\":\"9000000.00000000\",\"applyMaxToMarket\":false,\"avgPriceMins\":0},"
    "{\"filterType\":\"MAX_NUM_ORDERS\",\"maxNumOrders\":200}],"
    "\"permissions\":[],\"permissionSets\":[[\"SPOT\"]],"
    "\"defaultSelfTradePreventionMode\":\"EXPIRE_MAKER\","
    "\"allowedSelfTradePreventionModes\":[\"EXPIRE_MAKER\"]},"
    "{\"symbol\":\"LTCBTC\",\"status\":\"TRADING\",\"baseAsset\":\"LTC\","
    "\"baseAssetPrecision\":8,\"quoteAsset\":\"BTC\",\"quotePrecision\":8,"
    "\"filters\":[{\"filterType\":\"PRICE_FILTER\",\"minPrice\":\"0.00000100\","
    "\"maxPrice\":\"100000.00000000\",\"tickSize\":\"0.00000100\"},"
    "{\"filterType\":\"LOT_SIZE\",\"minQty\":\"0.00100000\",\"maxQty\":\"100000.00000000\","
    "\"stepSize\":\"0.00100000\"},"
    "{\"filterType\":\"MIN_NOTIONAL\",\"minNotional\":\"0.00010000\",\"applyToMarket\":true,"
    "\"avgPriceMins\":5},{\"filterType\":\"ICEBERG_PARTS\",\"limit\":10}]},"
    "{\"symbol\":\"ETHUSDT\",\"status\":\"BREAK\",\"baseAsset\":\"ETH\",\"quoteAsset\":\"USDT\","
    "\"filters\":[{\"filterType\":\"PRICE_FILTER\",\"minPrice\":\"0\",\"maxPrice\":\"0\","
    "\"tickSize\":\"0.1\"},{\"filterType\":\"LOT_SIZE\",\"minQty\":\"0\",\"maxQty\":\"0\","
    "\"stepSize\":\"1\"}]}]}";

/* POST /api/v3/order, newOrderRespType FULL (simex h_order_new) */
static const char *ORDER_FULL =
    "{\"symbol\":\"BTCUSDT\",\"orderId\":28,\"orderListId\":-1,"
    "\"clientOrderId\":\"hb-BBCUT5f3a1b2c3d4e51a2b\",\"transactTime\":1700000000500,"
    "\"price\":\"50000.00000000\",\"origQty\":\"0.01000000\",\"executedQty\":\"0.00600000\","
    "\"origQuoteOrderQty\":\"0.00000000\",\"cummulativeQuoteQty\":\"299.99000000\","
    "\"status\":\"PARTIALLY_FILLED\",\"timeInForce\":\"GTC\",\"type\":\"LIMIT\","
    "\"side\":\"BUY\",\"workingTime\":1700000000500,"
    "\"selfTradePreventionMode\":\"EXPIRE_MAKER\",\"fills\":["
    "{\"price\":\"49999.00000000\",\"qty\":\"0.00400000\",\"commission\":\"0.00000400\","
    "\"commissionAsset\":\"BTC\",\"tradeId\":56},"
    "{\"price\":\"49999.50000000\",\"qty\":\"0.00200000\",\"commission\":\"0.00000200\","
    "\"commissionAsset\":\"BTC\",\"tradeId\":57}]}";

static const char *ORDER_ACK =
    "{\"symbol\":\"BTCUSDT\",\"orderId\":29,\"orderListId\":-1,\"clientOrderId\":\"abc-1\","
    "\"transactTime\":1700000000600}";

/* DELETE /api/v3/order (simex cancel_json) */
static const char *CANCEL =
    "{\"symbol\":\"BTCUSDT\",\"origClientOrderId\":\"abc-1\",\"orderId\":29,"
    "\"orderListId\":-1,\"clientOrderId\":\"q8Zr2cVx7WkN1pLm3sT9uY\","
    "\"transactTime\":1700000001000,\"price\":\"50000.00000000\",\"origQty\":\"0.01000000\","
    "\"executedQty\":\"0.00000000\",\"origQuoteOrderQty\":\"0.00000000\","
    "\"cummulativeQuoteQty\":\"0.00000000\",\"status\":\"CANCELED\",\"timeInForce\":\"GTC\","
    "\"type\":\"LIMIT\",\"side\":\"SELL\",\"selfTradePreventionMode\":\"EXPIRE_MAKER\"}";

/* GET /api/v3/order (simex order_json) */
static const char *STATUS_ONE =
    "{\"symbol\":\"BTCUSDT\",\"orderId\":30,\"orderListId\":-1,\"clientOrderId\":\"abc-2\","
    "\"price\":\"49000.00000000\",\"origQty\":\"0.50000000\",\"executedQty\":\"0.00000000\","
    "\"cummulativeQuoteQty\":\"0.00000000\",\"status\":\"NEW\",\"timeInForce\":\"GTC\","
    "\"type\":\"LIMIT_MAKER\",\"side\":\"BUY\",\"stopPrice\":\"0.00000000\","
    "\"icebergQty\":\"0.00000000\",\"time\":1700000002000,\"updateTime\":1700000002100,"
    "\"isWorking\":true,\"workingTime\":1700000002000,\"origQuoteOrderQty\":\"0.00000000\","
    "\"selfTradePreventionMode\":\"EXPIRE_MAKER\"}";

/* GET /api/v3/myTrades (simex fill_json) */
static const char *TRADES =
    "[{\"symbol\":\"BTCUSDT\",\"id\":56,\"orderId\":28,\"orderListId\":-1,"
    "\"price\":\"49999.00000000\",\"qty\":\"0.00400000\",\"quoteQty\":\"199.99600000\","
    "\"commission\":\"0.00000400\",\"commissionAsset\":\"BTC\",\"time\":1700000000500,"
    "\"isBuyer\":true,\"isMaker\":false,\"isBestMatch\":true},"
    "{\"symbol\":\"BTCUSDT\",\"id\":61,\"orderId\":31,\"orderListId\":-1,"
    "\"price\":\"50010.00000000\",\"qty\":\"0.10000000\",\"quoteQty\":\"5001.00000000\","
    "\"commission\":\"5.00100000\",\"commissionAsset\":\"USDT\",\"time\":1700000003000,"
    "\"isBuyer\":false,\"isMaker\":true,\"isBestMatch\":true}]";

/* GET /api/v3/account (simex h_account) */
static const char *ACCOUNT =
    "{\"makerCommission\":10,\"takerCommission\":10,\"buyerCommission\":0,"
    "\"sellerCommission\":0,\"commissionRates\":{\"maker\":\"0.00100000\","
    "\"taker\":\"0.00100000\",\"buyer\":\"0.00000000\",\"seller\":\"0.00000000\"},"
    "\"canTrade\":true,\"canWithdraw\":true,\"canDeposit\":true,\"brokered\":false,"
    "\"requireSelfTradePrevention\":false,\"preventSor\":false,\"updateTime\":1700000003000,"
    "\"accountType\":\"SPOT\",\"balances\":[{\"asset\":\"BTC\",\"free\":\"9.99000000\","
    "\"locked\":\"0.01000000\"},{\"asset\":\"ETH\",\"free\":\"0.00000000\","
    "\"locked\":\"0.00000000\"},{\"asset\":\"USDT\",\"free\":\"999000.00000000\","
    "\"locked\":\"500.00000000\"}],\"permissions\":[\"SPOT\"],\"uid\":1000}";

/* GET /api/v3/account/commission (Binance docs) */
static const char *COMMISSION =
    "{\"symbol\":\"BTCUSDT\",\"standardCommission\":{\"maker\":\"0.00000010\","
    "\"taker\":\"0.00000020\",\"buyer\":\"0.00000030\",\"seller\":\"0.00000040\"},"
    "\"taxCommission\":{\"maker\":\"0.00000112\",\"taker\":\"0.00000114\","
    "\"buyer\":\"0.00000118\",\"seller\":\"0.00000116\"},\"discount\":{"
    "\"enabledForAccount\":true,\"enabledForSymbol\":true,\"discountAsset\":\"BNB\","
    "\"discount\":\"0.75000000\"}}";

/* simex exec_report(), a TRADE, wrapped as the WS-API sends it */
static const char *EXEC_TRADE =
    "{\"subscriptionId\":0,\"event\":{\"e\":\"executionReport\",\"E\":1700000004001,"
    "\"s\":\"BTCUSDT\",\"c\":\"abc-3\",\"S\":\"SELL\",\"o\":\"LIMIT\",\"f\":\"GTC\","
    "\"q\":\"0.20000000\",\"p\":\"50010.00000000\",\"P\":\"0.00000000\",\"F\":\"0.00000000\","
    "\"g\":-1,\"C\":\"\",\"x\":\"TRADE\",\"X\":\"PARTIALLY_FILLED\",\"r\":\"NONE\",\"i\":31,"
    "\"l\":\"0.10000000\",\"z\":\"0.10000000\",\"L\":\"50010.00000000\","
    "\"n\":\"5.00100000\",\"N\":\"USDT\",\"T\":1700000004000,\"t\":61,\"I\":9,\"w\":true,"
    "\"m\":true,\"M\":false,\"O\":1700000003000,\"Z\":\"5001.00000000\","
    "\"Y\":\"5001.00000000\",\"Q\":\"0.00000000\",\"W\":1700000003000,"
    "\"V\":\"EXPIRE_MAKER\"}}";

/* simex exec_report() for a cancel: c is the cancel's id, C the order's */
static const char *EXEC_CANCEL =
    "{\"e\":\"executionReport\",\"E\":1700000005000,\"s\":\"BTCUSDT\","
    "\"c\":\"q8Zr2cVx7WkN1pLm3sT9uY\",\"S\":\"BUY\",\"o\":\"LIMIT_MAKER\",\"f\":\"GTC\","
    "\"q\":\"0.50000000\",\"p\":\"49000.00000000\",\"P\":\"0.00000000\","
    "\"F\":\"0.00000000\",\"g\":-1,\"C\":\"abc-2\",\"x\":\"CANCELED\",\"X\":\"CANCELED\","
    "\"r\":\"NONE\",\"i\":30,\"l\":\"0.00000000\",\"z\":\"0.00000000\","
    "\"L\":\"0.00000000\",\"n\":\"0\",\"N\":null,\"T\":1700000005000,\"t\":-1,\"I\":12,"
    "\"w\":false,\"m\":false,\"M\":false,\"O\":1700000002000,\"Z\":\"0.00000000\","
    "\"Y\":\"0.00000000\",\"Q\":\"0.00000000\",\"V\":\"EXPIRE_MAKER\"}";

static const char *POSITION =
    "{\"subscriptionId\":3,\"event\":{\"e\":\"outboundAccountPosition\",\"E\":1700000004002,"
    "\"u\":1700000004000,\"B\":[{\"a\":\"BTC\",\"f\":\"9.79000000\",\"l\":\"0.00000000\"},"
    "{\"a\":\"USDT\",\"f\":\"1004996.00000000\",\"l\":\"0.00000000\"}]}}";

/* simex sx_resp_ws_body for order.place */
static const char *WS_OK =
    "{\"id\":\"req-7\",\"status\":200,\"result\":{\"symbol\":\"BTCUSDT\",\"orderId\":29,"
    "\"orderListId\":-1,\"clientOrderId\":\"abc-1\",\"transactTime\":1700000000600},"
    "\"rateLimits\":[{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\","
    "\"intervalNum\":1,\"limit\":6000,\"count\":12},{\"rateLimitType\":\"ORDERS\","
    "\"interval\":\"SECOND\",\"intervalNum\":10,\"limit\":100,\"count\":1},"
    "{\"rateLimitType\":\"ORDERS\",\"interval\":\"DAY\",\"intervalNum\":1,\"limit\":200000,"
    "\"count\":5}]}";

static const char *WS_ERR =
    "{\"id\":42,\"status\":429,\"error\":{\"code\":-1003,\"msg\":\"Too much request weight "
    "used; current limit is 6000 request weight per 1 MINUTE.\",\"data\":{"
    "\"serverTime\":1700000010000,\"retryAfter\":1700000060000}},\"rateLimits\":["
    "{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\",\"intervalNum\":1,"
    "\"limit\":6000,\"count\":6010}]}";

/* ------------------------------------------------------------------------ */
/* Parsers behind one signature, for the hostile-input loops                 */

struct any_out {
    struct clb_bn_symbol_info sym[4];
    struct clb_bn_rate_limits rl;
    int64_t server_time;
    size_t n;
    struct clb_bn_order order[4];
    struct clb_bn_fill fills[4];
    size_t n_fills;
    struct clb_bn_trade trades[4];
    struct clb_bn_balance bal[4];
    struct clb_bn_commission comm;
    struct clb_bn_user_event ev;
    struct clb_bn_ws_response ws;
    char result[512];
    struct clb_bn_error error;
};

typedef int (*any_fn)(const char *j, size_t len, struct any_out *o, char *err, size_t errlen);

static int p_exinfo(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_exchange_info(j, len, NULL, 0, o->sym, 4, &o->n, &o->rl, &o->server_time,
                                      err, errlen);
}
static int p_order(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_order(j, len, &o->order[0], o->fills, 4, &o->n_fills, err, errlen);
}
static int p_trades(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_my_trades(j, len, o->trades, 4, &o->n, err, errlen);
}
static int p_open(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_open_orders(j, len, o->order, 4, &o->n, err, errlen);
}
static int p_account(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_account(j, len, false, o->bal, 4, &o->n, &o->comm, err, errlen);
}
static int p_comm(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_commission(j, len, &o->comm, err, errlen);
}
static int p_event(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_user_event(j, len, &o->ev, err, errlen);
}
static int p_ws(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_ws_response(j, len, &o->ws, o->result, sizeof(o->result), err, errlen);
}
static int p_error(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_error(j, len, &o->error, err, errlen);
}
static int p_limits(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_rate_limits(j, len, &o->rl, err, errlen);
}
static int p_time(const char *j, size_t len, struct any_out *o, char *err, size_t errlen)
{
    return clb_bn_parse_server_time(j, len, &o->server_time, err, errlen);
}

struct sample {
    const char *name;
    const char *json;
    any_fn fn;
};

static char OPEN_ORDERS[4096];

static const struct sample *samples(size_t *n)
{
    static struct sample s[] = {
        { "exchangeInfo", NULL, p_exinfo }, { "order FULL", NULL, p_order },
        { "order ACK", NULL, p_order },     { "cancel", NULL, p_order },
        { "status", NULL, p_order },        { "openOrders", NULL, p_open },
        { "myTrades", NULL, p_trades },     { "account", NULL, p_account },
        { "commission", NULL, p_comm },     { "exec trade", NULL, p_event },
        { "exec cancel", NULL, p_event },   { "position", NULL, p_event },
        { "ws ok", NULL, p_ws },            { "ws error", NULL, p_ws },
        { "error", NULL, p_error },         { "rateLimits", NULL, p_limits },
        { "time", NULL, p_time },
    };
    snprintf(OPEN_ORDERS, sizeof(OPEN_ORDERS), "[%s,%s]", STATUS_ONE, CANCEL);
    const char *js[] = { EXINFO,   ORDER_FULL, ORDER_ACK,  CANCEL,  STATUS_ONE, OPEN_ORDERS,
                         TRADES,   ACCOUNT,    COMMISSION, EXEC_TRADE, EXEC_CANCEL, POSITION,
                         WS_OK,    WS_ERR,     "{\"code\":-1021,\"msg\":\"Timestamp for this "
                                               "request is outside of the recvWindow.\"}",
                         EXINFO,   "{\"serverTime\":1499827319559}" };
    for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++)
        s[i].json = js[i];
    *n = sizeof(s) / sizeof(s[0]);
    return s;
}

/* Runs fn on text; on a refusal the output must be untouched. */
static int run_guarded(const struct sample *s, const char *text, size_t len, struct any_out *o)
{
    memset(o, 0xA5, sizeof(*o));
    char err[256] = "";
    int rc = s->fn(text, len, o, err, sizeof(err));
    if (rc != CLB_OK) {
        cr_assert(rc == CLB_EPARSE || rc == CLB_EFULL, "%s: rc %d", s->name, rc);
        cr_assert(err[0], "%s: refusal without a message", s->name);
        const unsigned char *p = (const unsigned char *)o;
        for (size_t i = 0; i < sizeof(*o); i++)
            cr_assert_eq(p[i], 0xA5, "%s: refused (%s) but wrote byte %zu", s->name, err, i);
    }
    return rc;
}

Test(binance_msg, every_sample_parses)
{
    size_t n;
    const struct sample *s = samples(&n);
    for (size_t i = 0; i < n; i++) {
        struct any_out *o = malloc(sizeof(*o));
        char err[256] = "";
        int rc = s[i].fn(s[i].json, strlen(s[i].json), o, err, sizeof(err));
        cr_assert_eq(rc, CLB_OK, "%s: %s", s[i].name, err);
        free(o);
    }
}

Test(binance_msg, truncated_input_is_refused_untouched)
{
    size_t n;
    const struct sample *s = samples(&n);
    struct any_out *o = malloc(sizeof(*o));
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(s[i].json);
        for (size_t k = 0; k < len; k++)
            cr_assert_neq(run_guarded(&s[i], s[i].json, k, o), CLB_OK, "%s cut at %zu",
                          s[i].name, k);
    }
    free(o);
}

Test(binance_msg, random_damage_never_crashes_or_half_writes)
{
    size_t n;
    const struct sample *s = samples(&n);
    struct any_out *o = malloc(sizeof(*o));
    uint64_t seed = 99;
    static const char junk[] = "{}[]\",:0123456789-.eE\\ntfu\x01\xff";
    int refused = 0, total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(s[i].json);
        char *buf = malloc(len + 1);
        for (int round = 0; round < 400; round++) {
            memcpy(buf, s[i].json, len + 1);
            int hits = 1 + (int)(splitmix64(&seed) % 3);
            for (int h = 0; h < hits; h++)
                buf[splitmix64(&seed) % len] = junk[splitmix64(&seed) % (sizeof(junk) - 1)];
            refused += run_guarded(&s[i], buf, len, o) != CLB_OK;
            total++;
        }
        free(buf);
    }
    cr_assert_gt(refused, total / 2);
    free(o);
}

/* Each top-level field (of the object, or of the wrapped event / the first
 * array element) removed, and replaced by each wrong-typed value. */
Test(binance_msg, fields_removed_or_mistyped)
{
    size_t n;
    const struct sample *s = samples(&n);
    struct any_out *o = malloc(sizeof(*o));
    static const char *wrong[] = { "null", "17", "-1", "1.5", "true", "[]", "{}", "\"x\"",
                                   "\"\"", "99999999999999999999",
                                   "\"123456789012345678901234567890.5\"",
                                   "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"" };
    int removals_refused = 0, swaps_refused = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *root = json_loads(s[i].json, 0, NULL);
        cr_assert(root, "%s", s[i].name);
        json_t *target = root;
        if (json_is_array(root))
            target = json_array_get(root, 0);
        else if (json_is_object(json_object_get(root, "event")))
            target = json_object_get(root, "event");
        cr_assert(json_is_object(target));
        const char *keys[64];
        size_t nk = 0;
        const char *key;
        json_t *v;
        json_object_foreach(target, key, v) {
            if (nk < 64)
                keys[nk++] = key;
        }
        for (size_t k = 0; k < nk; k++) {
            json_t *copy = json_deep_copy(root);
            json_t *t = json_is_array(copy) ? json_array_get(copy, 0)
                        : json_is_object(json_object_get(copy, "event"))
                            ? json_object_get(copy, "event")
                            : copy;
            json_object_del(t, keys[k]);
            char *txt = json_dumps(copy, JSON_COMPACT);
            removals_refused += run_guarded(&s[i], txt, strlen(txt), o) != CLB_OK;
            free(txt);
            json_decref(copy);
            for (size_t w = 0; w < sizeof(wrong) / sizeof(wrong[0]); w++) {
                copy = json_deep_copy(root);
                t = json_is_array(copy) ? json_array_get(copy, 0)
                    : json_is_object(json_object_get(copy, "event"))
                        ? json_object_get(copy, "event")
                        : copy;
                json_object_set_new(t, keys[k], json_string("placeholder"));
                txt = json_dumps(copy, JSON_COMPACT);
                json_decref(copy);
                /* splice the raw wrong value in place of the placeholder */
                char *at = strstr(txt, "\"placeholder\"");
                cr_assert(at);
                size_t pre = (size_t)(at - txt), wl = strlen(wrong[w]);
                size_t post = strlen(at + 13);
                char *mut = malloc(pre + wl + post + 1);
                memcpy(mut, txt, pre);
                memcpy(mut + pre, wrong[w], wl);
                memcpy(mut + pre + wl, at + 13, post + 1);
                swaps_refused += run_guarded(&s[i], mut, strlen(mut), o) != CLB_OK;
                free(mut);
                free(txt);
            }
        }
        json_decref(root);
    }
    cr_assert_gt(removals_refused, 50);
    cr_assert_gt(swaps_refused, 500);
    free(o);
}

/* ------------------------------------------------------------------------ */
/* Exact results                                                             */

Test(binance_msg, exchange_info_rules)
{
    struct clb_bn_symbol_info s[4];
    struct clb_bn_rate_limits rl;
    int64_t st;
    size_t n = 99;
    char err[256];
    cr_assert_eq(clb_bn_parse_exchange_info(EXINFO, strlen(EXINFO), NULL, 0, s, 4, &n, &rl, &st,
                                            err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(n, 3);
    cr_assert_eq(st, 1700000000123LL);
    cr_assert_eq(rl.n, 4);
    cr_assert_eq(rl.l[0].type, CLB_BN_LIMIT_REQUEST_WEIGHT);
    cr_assert_eq(rl.l[0].interval_ms, 60000);
    cr_assert_eq(rl.l[0].limit, 6000);
    cr_assert_eq(rl.l[0].count, -1);
    cr_assert_eq(rl.l[2].interval_ms, 86400000);
    cr_assert_eq(rl.l[3].type, CLB_BN_LIMIT_RAW_REQUESTS);
    cr_assert_eq(rl.l[3].interval_ms, 300000);
    const struct clb_market_rules *r = &s[0].rules;
    cr_assert_str_eq(s[0].symbol, "BTCUSDT");
    cr_assert_str_eq(r->symbol, "BTC-USDT");
    cr_assert_str_eq(r->base, "BTC");
    cr_assert_str_eq(r->quote, "USDT");
    cr_assert(s[0].trading);
    cr_assert(dec_is(r->tick_size, "0.01"));
    cr_assert_eq(r->tick_size.scale, 2);
    cr_assert(dec_is(r->step_size, "0.00001"));
    cr_assert(dec_is(r->min_qty, "0.00001"));
    cr_assert(dec_is(r->max_qty, "9000"));
    cr_assert(dec_is(r->min_notional, "5"));
    cr_assert(dec_is(s[0].max_notional, "9000000"));
    cr_assert(dec_is(s[0].min_price, "0.01"));
    cr_assert(dec_is(s[0].max_price, "1000000"));
    cr_assert_eq(r->price_scale, 2);
    cr_assert_eq(r->qty_scale, 5);
    /* old MIN_NOTIONAL shape */
    cr_assert_str_eq(s[1].rules.symbol, "LTC-BTC");
    cr_assert(dec_is(s[1].rules.min_notional, "0.0001"));
    cr_assert_eq(s[1].rules.price_scale, 6);
    cr_assert_eq(s[1].rules.qty_scale, 3);
    /* status, rules that are off, integer step */
    cr_assert_str_eq(s[2].status, "BREAK");
    cr_assert(!s[2].trading);
    cr_assert(clb_dec_is_zero(s[2].rules.min_notional));
    cr_assert(clb_dec_is_zero(s[2].rules.max_qty));
    cr_assert_eq(s[2].rules.price_scale, 1);
    cr_assert_eq(s[2].rules.qty_scale, 0);
    cr_assert_str_eq(clb_bn_market_of_symbol(s, n, "LTCBTC"), "LTC-BTC");
    cr_assert_null(clb_bn_market_of_symbol(s, n, "XRPUSDT"));
}

Test(binance_msg, exchange_info_selects_markets)
{
    struct clb_bn_symbol_info s[1];
    size_t n = 99;
    const char *want[] = { "ETH-USDT", "DOGE-USDT" };
    cr_assert_eq(clb_bn_parse_exchange_info(EXINFO, strlen(EXINFO), want, 2, s, 1, &n, NULL,
                                            NULL, NULL, 0),
                 CLB_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(s[0].symbol, "ETHUSDT");
    /* all three do not fit in one */
    char err[128] = "";
    n = 99;
    cr_assert_eq(clb_bn_parse_exchange_info(EXINFO, strlen(EXINFO), NULL, 0, s, 1, &n, NULL,
                                            NULL, err, sizeof(err)),
                 CLB_EFULL);
    cr_assert_eq(n, 99);
    /* a selected symbol without LOT_SIZE is refused; unselected it is ignored */
    const char *nolot = "{\"rateLimits\":[],\"symbols\":[{\"symbol\":\"XY\",\"status\":"
                        "\"TRADING\",\"baseAsset\":\"X\",\"quoteAsset\":\"Y\",\"filters\":["
                        "{\"filterType\":\"PRICE_FILTER\",\"tickSize\":\"0.1\"}]}]}";
    cr_assert_eq(clb_bn_parse_exchange_info(nolot, strlen(nolot), NULL, 0, s, 1, &n, NULL, NULL,
                                            err, sizeof(err)),
                 CLB_EPARSE);
    cr_assert(strstr(err, "LOT_SIZE"), "%s", err);
    cr_assert_eq(clb_bn_parse_exchange_info(nolot, strlen(nolot), want, 2, s, 1, &n, NULL, NULL,
                                            err, sizeof(err)),
                 CLB_OK);
    cr_assert_eq(n, 0);
    /* negative tick, asset names that are not alphanumeric */
    const char *neg = "{\"symbols\":[{\"symbol\":\"XY\",\"status\":\"TRADING\",\"baseAsset\":"
                      "\"X\",\"quoteAsset\":\"Y\",\"filters\":[{\"filterType\":\"PRICE_FILTER\","
                      "\"tickSize\":\"-0.1\"},{\"filterType\":\"LOT_SIZE\",\"stepSize\":\"1\"}]}]}";
    cr_assert_eq(clb_bn_parse_exchange_info(neg, strlen(neg), NULL, 0, s, 1, &n, NULL, NULL, err,
                                            sizeof(err)),
                 CLB_EPARSE);
    /* names colibri cannot use are skipped, not fatal: a dash, CJK, too long */
    const char *odd = "{\"symbols\":[{\"symbol\":\"XY\",\"status\":\"TRADING\",\"baseAsset\":"
                      "\"X-1\",\"quoteAsset\":\"Y\",\"filters\":[]},{\"symbol\":"
                      "\"\u5e01\u5b89\u4eba\u751fUSDT\",\"status\":\"TRADING\",\"baseAsset\":"
                      "\"\u5e01\u5b89\u4eba\u751f\",\"quoteAsset\":\"USDT\",\"filters\":7},"
                      "{\"symbol\":\"LONGLONGLONGLONGLONGLONG\",\"status\":\"TRADING\","
                      "\"baseAsset\":\"LONGLONGLONGLONGLONG\",\"quoteAsset\":\"LONG\"},"
                      "{\"symbol\":\"ETHBTC\",\"status\":\"TRADING\",\"baseAsset\":\"ETH\","
                      "\"quoteAsset\":\"BTC\",\"filters\":[{\"filterType\":\"PRICE_FILTER\","
                      "\"tickSize\":\"0.00001\"},{\"filterType\":\"LOT_SIZE\","
                      "\"stepSize\":\"0.0001\"}]}]}";
    cr_assert_eq(clb_bn_parse_exchange_info(odd, strlen(odd), NULL, 0, s, 1, &n, NULL, NULL,
                                            err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(s[0].rules.symbol, "ETH-BTC");
    /* but a symbol entry without its names is malformed */
    const char *nameless = "{\"symbols\":[{\"symbol\":\"XY\",\"status\":\"TRADING\","
                           "\"quoteAsset\":\"Y\"}]}";
    cr_assert_eq(clb_bn_parse_exchange_info(nameless, strlen(nameless), NULL, 0, s, 1, &n, NULL,
                                            NULL, err, sizeof(err)),
                 CLB_EPARSE);
}

Test(binance_msg, order_full_with_fills)
{
    struct clb_bn_order o;
    struct clb_bn_fill f[1];
    size_t nf = 99;
    char err[256];
    cr_assert_eq(clb_bn_parse_order(ORDER_FULL, strlen(ORDER_FULL), &o, f, 1, &nf, err,
                                    sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_str_eq(o.symbol, "BTCUSDT");
    cr_assert_str_eq(o.order_id, "28");
    cr_assert_str_eq(o.client_order_id, "hb-BBCUT5f3a1b2c3d4e51a2b");
    cr_assert_str_eq(o.orig_client_order_id, "");
    cr_assert(o.has_details);
    cr_assert_eq(o.status, CLB_BN_ST_PARTIALLY_FILLED);
    cr_assert_eq(o.side, CLB_SIDE_BUY);
    cr_assert_eq(o.type, CLB_ORDER_LIMIT);
    cr_assert_str_eq(o.time_in_force, "GTC");
    cr_assert(dec_is(o.price, "50000"));
    cr_assert(dec_is(o.orig_qty, "0.01"));
    cr_assert(dec_is(o.executed_qty, "0.006"));
    cr_assert(dec_is(o.cum_quote_qty, "299.99"));
    cr_assert_eq(o.time_ms, 1700000000500LL);
    cr_assert_eq(o.n_fills_total, 2);
    cr_assert_eq(nf, 1);
    cr_assert_str_eq(f[0].trade_id, "56");
    cr_assert(dec_is(f[0].price, "49999"));
    cr_assert(dec_is(f[0].qty, "0.004"));
    cr_assert(dec_is(f[0].commission, "0.000004"));
    cr_assert_str_eq(f[0].commission_asset, "BTC");
    /* fills not wanted */
    cr_assert_eq(clb_bn_parse_order(ORDER_FULL, strlen(ORDER_FULL), &o, NULL, 0, NULL, NULL, 0),
                 CLB_OK);
}

Test(binance_msg, order_ack_cancel_status)
{
    struct clb_bn_order o;
    cr_assert_eq(clb_bn_parse_order(ORDER_ACK, strlen(ORDER_ACK), &o, NULL, 0, NULL, NULL, 0),
                 CLB_OK);
    cr_assert(!o.has_details);
    cr_assert_str_eq(o.order_id, "29");
    cr_assert_str_eq(o.client_order_id, "abc-1");
    cr_assert_eq(o.time_ms, 1700000000600LL);
    cr_assert_eq(clb_bn_parse_order(CANCEL, strlen(CANCEL), &o, NULL, 0, NULL, NULL, 0), CLB_OK);
    cr_assert_eq(o.status, CLB_BN_ST_CANCELED);
    cr_assert_str_eq(o.orig_client_order_id, "abc-1");
    cr_assert_str_eq(o.client_order_id, "q8Zr2cVx7WkN1pLm3sT9uY");
    cr_assert_eq(o.side, CLB_SIDE_SELL);
    cr_assert_eq(clb_bn_parse_order(STATUS_ONE, strlen(STATUS_ONE), &o, NULL, 0, NULL, NULL, 0),
                 CLB_OK);
    cr_assert_eq(o.status, CLB_BN_ST_NEW);
    cr_assert_eq(o.type, CLB_ORDER_LIMIT_MAKER);
    cr_assert_str_eq(o.type_name, "LIMIT_MAKER");
    cr_assert_eq(o.time_ms, 1700000002000LL);
    cr_assert_eq(o.update_time_ms, 1700000002100LL);
    cr_assert(dec_is(o.orig_qty, "0.5"));
    /* executed above the order's quantity is nonsense */
    const char *over = "{\"symbol\":\"B\",\"orderId\":1,\"clientOrderId\":\"a\",\"status\":"
                       "\"FILLED\",\"side\":\"BUY\",\"type\":\"LIMIT\",\"price\":\"1\","
                       "\"origQty\":\"1\",\"executedQty\":\"1.1\",\"cummulativeQuoteQty\":\"1\"}";
    char err[128] = "";
    cr_assert_eq(clb_bn_parse_order(over, strlen(over), &o, NULL, 0, NULL, err, sizeof(err)),
                 CLB_EPARSE);
    /* other Binance types map, unknown ones do not */
    const char *stop = "{\"symbol\":\"B\",\"orderId\":1,\"clientOrderId\":\"a\",\"status\":"
                       "\"NEW\",\"side\":\"BUY\",\"type\":\"STOP_LOSS_LIMIT\",\"price\":\"1\","
                       "\"origQty\":\"1\",\"executedQty\":\"0\",\"cummulativeQuoteQty\":\"0\"}";
    cr_assert_eq(clb_bn_parse_order(stop, strlen(stop), &o, NULL, 0, NULL, NULL, 0), CLB_OK);
    cr_assert_eq(o.type, CLB_ORDER_LIMIT);
    cr_assert_str_eq(o.type_name, "STOP_LOSS_LIMIT");
}

Test(binance_msg, open_orders_and_capacity)
{
    struct clb_bn_order o[2];
    size_t n = 99;
    char list[4096];
    snprintf(list, sizeof(list), "[%s,%s]", STATUS_ONE, CANCEL);
    cr_assert_eq(clb_bn_parse_open_orders(list, strlen(list), o, 2, &n, NULL, 0), CLB_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(o[0].order_id, "30");
    cr_assert_str_eq(o[1].order_id, "29");
    cr_assert_eq(clb_bn_parse_open_orders("[]", 2, o, 2, &n, NULL, 0), CLB_OK);
    cr_assert_eq(n, 0);
    memset(o, 0x5A, sizeof(o));
    n = 99;
    char err[128];
    cr_assert_eq(clb_bn_parse_open_orders(list, strlen(list), o, 1, &n, err, sizeof(err)),
                 CLB_EFULL);
    cr_assert_eq(n, 99);
    cr_assert_eq(((unsigned char *)o)[0], 0x5A);
    /* a bad second element: the first is not written either */
    snprintf(list, sizeof(list), "[%s,{\"symbol\":1}]", STATUS_ONE);
    cr_assert_eq(clb_bn_parse_open_orders(list, strlen(list), o, 2, &n, err, sizeof(err)),
                 CLB_EPARSE);
    cr_assert_eq(((unsigned char *)o)[0], 0x5A);
    cr_assert_eq(clb_bn_parse_open_orders("{}", 2, o, 2, &n, err, sizeof(err)), CLB_EPARSE);
}

Test(binance_msg, my_trades)
{
    struct clb_bn_trade t[2];
    size_t n;
    char err[256];
    cr_assert_eq(clb_bn_parse_my_trades(TRADES, strlen(TRADES), t, 2, &n, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(t[0].trade_id, "56");
    cr_assert_str_eq(t[0].order_id, "28");
    cr_assert(t[0].is_buyer);
    cr_assert(!t[0].is_maker);
    cr_assert(dec_is(t[0].quote_qty, "199.996"));
    cr_assert_eq(t[0].time_ms, 1700000000500LL);
    cr_assert_str_eq(t[1].commission_asset, "USDT");
    cr_assert(dec_is(t[1].commission, "5.001"));
    cr_assert(t[1].is_maker);
    cr_assert(!t[1].is_buyer);
}

Test(binance_msg, account_and_commissions)
{
    struct clb_bn_balance b[3];
    struct clb_bn_commission c;
    size_t n;
    char err[256];
    cr_assert_eq(clb_bn_parse_account(ACCOUNT, strlen(ACCOUNT), false, b, 3, &n, &c, err,
                                      sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(b[0].asset, "BTC");
    cr_assert(dec_is(b[0].free, "9.99"));
    cr_assert(dec_is(b[0].locked, "0.01"));
    cr_assert(dec_is(c.maker, "0.001"));
    cr_assert(dec_is(c.taker, "0.001"));
    /* zero balances skipped: ETH goes, and 2 fit */
    cr_assert_eq(clb_bn_parse_account(ACCOUNT, strlen(ACCOUNT), true, b, 2, &n, NULL, err,
                                      sizeof(err)),
                 CLB_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(b[1].asset, "USDT");
    cr_assert_eq(clb_bn_parse_account(ACCOUNT, strlen(ACCOUNT), false, b, 2, &n, NULL, err,
                                      sizeof(err)),
                 CLB_EFULL);
    cr_assert_eq(clb_bn_parse_commission(COMMISSION, strlen(COMMISSION), &c, err, sizeof(err)),
                 CLB_OK);
    cr_assert(dec_is(c.maker, "0.0000001"));
    cr_assert(dec_is(c.taker, "0.0000002"));
    cr_assert_eq(clb_bn_parse_commission(ACCOUNT, strlen(ACCOUNT), &c, err, sizeof(err)), CLB_OK);
    cr_assert(dec_is(c.maker, "0.001"));
    /* negative balance */
    const char *neg = "{\"balances\":[{\"asset\":\"BTC\",\"free\":\"-1\",\"locked\":\"0\"}]}";
    cr_assert_eq(clb_bn_parse_account(neg, strlen(neg), false, b, 3, &n, NULL, err, sizeof(err)),
                 CLB_EPARSE);
}

Test(binance_msg, execution_reports)
{
    struct clb_bn_user_event ev;
    char err[256];
    cr_assert_eq(clb_bn_parse_user_event(EXEC_TRADE, strlen(EXEC_TRADE), &ev, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(ev.kind, CLB_BN_UE_EXECUTION_REPORT);
    cr_assert(ev.has_subscription_id);
    cr_assert_eq(ev.subscription_id, 0);
    cr_assert_eq(ev.event_time_ms, 1700000004001LL);
    const struct clb_bn_exec_report *x = &ev.u.exec;
    cr_assert_str_eq(x->symbol, "BTCUSDT");
    cr_assert_str_eq(x->client_order_id, "abc-3");
    cr_assert_str_eq(clb_bn_exec_report_order_client_id(x), "abc-3");
    cr_assert_eq(x->side, CLB_SIDE_SELL);
    cr_assert_eq(x->exec_type, CLB_BN_EXEC_TRADE);
    cr_assert_eq(x->status, CLB_BN_ST_PARTIALLY_FILLED);
    cr_assert_str_eq(x->order_id, "31");
    cr_assert(x->has_trade);
    cr_assert_str_eq(x->trade_id, "61");
    cr_assert(dec_is(x->last_qty, "0.1"));
    cr_assert(dec_is(x->cum_qty, "0.1"));
    cr_assert(dec_is(x->last_price, "50010"));
    cr_assert(dec_is(x->commission, "5.001"));
    cr_assert_str_eq(x->commission_asset, "USDT");
    cr_assert(dec_is(x->cum_quote, "5001"));
    cr_assert(x->is_maker);
    cr_assert_eq(x->transact_time_ms, 1700000004000LL);
    cr_assert_str_eq(x->reject_reason, "NONE");

    cr_assert_eq(clb_bn_parse_user_event(EXEC_CANCEL, strlen(EXEC_CANCEL), &ev, err, sizeof(err)),
                 CLB_OK, "%s", err);
    x = &ev.u.exec;
    cr_assert(!ev.has_subscription_id);
    cr_assert_eq(x->exec_type, CLB_BN_EXEC_CANCELED);
    cr_assert_eq(x->status, CLB_BN_ST_CANCELED);
    cr_assert_str_eq(x->orig_client_order_id, "abc-2");
    cr_assert_str_eq(clb_bn_exec_report_order_client_id(x), "abc-2");
    cr_assert(!x->has_trade);
    cr_assert_str_eq(x->trade_id, "");
    cr_assert_str_eq(x->commission_asset, "");
    cr_assert_eq(x->type, CLB_ORDER_LIMIT_MAKER);

    /* a TRADE without a trade id is refused */
    char *bad = strdup(EXEC_TRADE);
    char *t = strstr(bad, "\"t\":61");
    memcpy(t, "\"t\":-1", 6);
    cr_assert_eq(clb_bn_parse_user_event(bad, strlen(bad), &ev, err, sizeof(err)), CLB_EPARSE);
    free(bad);
    /* an unknown execution type is passed on, an unknown status is not */
    bad = strdup(EXEC_CANCEL);
    memcpy(strstr(bad, "\"x\":\"CANCELED\""), "\"x\":\"AMENDED!\"", 14);
    cr_assert_eq(clb_bn_parse_user_event(bad, strlen(bad), &ev, err, sizeof(err)), CLB_OK);
    cr_assert_eq(ev.u.exec.exec_type, CLB_BN_EXEC_OTHER);
    memcpy(strstr(bad, "\"X\":\"CANCELED\""), "\"X\":\"CANCELLD\"", 14);
    cr_assert_eq(clb_bn_parse_user_event(bad, strlen(bad), &ev, err, sizeof(err)), CLB_EPARSE);
    free(bad);
}

Test(binance_msg, account_position_and_other_events)
{
    struct clb_bn_user_event ev;
    char err[256];
    cr_assert_eq(clb_bn_parse_user_event(POSITION, strlen(POSITION), &ev, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(ev.kind, CLB_BN_UE_ACCOUNT_POSITION);
    cr_assert_eq(ev.subscription_id, 3);
    cr_assert_eq(ev.u.position.update_time_ms, 1700000004000LL);
    cr_assert_eq(ev.u.position.n, 2);
    cr_assert_str_eq(ev.u.position.b[1].asset, "USDT");
    cr_assert(dec_is(ev.u.position.b[1].free, "1004996"));
    const char *bu = "{\"e\":\"balanceUpdate\",\"E\":1573200697110,\"a\":\"BTC\","
                     "\"d\":\"-100.00000000\",\"T\":1573200697068}";
    cr_assert_eq(clb_bn_parse_user_event(bu, strlen(bu), &ev, err, sizeof(err)), CLB_OK);
    cr_assert_eq(ev.kind, CLB_BN_UE_BALANCE_UPDATE);
    cr_assert(dec_is(ev.u.balance.delta, "-100"));
    const char *sd = "{\"event\":{\"e\":\"serverShutdown\",\"E\":1700000000000}}";
    cr_assert_eq(clb_bn_parse_user_event(sd, strlen(sd), &ev, err, sizeof(err)), CLB_OK);
    cr_assert_eq(ev.kind, CLB_BN_UE_SERVER_SHUTDOWN);
    const char *term = "{\"subscriptionId\":1,\"event\":{\"e\":\"eventStreamTerminated\","
                       "\"E\":1728973001334}}";
    cr_assert_eq(clb_bn_parse_user_event(term, strlen(term), &ev, err, sizeof(err)), CLB_OK);
    cr_assert_eq(ev.kind, CLB_BN_UE_STREAM_TERMINATED);
    const char *other = "{\"e\":\"listStatus\",\"E\":1}";
    cr_assert_eq(clb_bn_parse_user_event(other, strlen(other), &ev, err, sizeof(err)), CLB_OK);
    cr_assert_eq(ev.kind, CLB_BN_UE_OTHER);
    cr_assert_str_eq(ev.event_type, "listStatus");
    /* more balances than fit */
    char big[8192];
    size_t k = (size_t)snprintf(big, sizeof(big), "{\"e\":\"outboundAccountPosition\",\"E\":1,"
                                                  "\"u\":1,\"B\":[");
    for (int i = 0; i < CLB_BN_MAX_POSITION_BALANCES + 1; i++)
        k += (size_t)snprintf(big + k, sizeof(big) - k, "%s{\"a\":\"A%d\",\"f\":\"1\",\"l\":\"0\"}",
                              i ? "," : "", i);
    snprintf(big + k, sizeof(big) - k, "]}");
    cr_assert_eq(clb_bn_parse_user_event(big, strlen(big), &ev, err, sizeof(err)), CLB_EPARSE);
}

Test(binance_msg, ws_api_envelopes)
{
    struct clb_bn_ws_response r;
    char res[512];
    char err[256];
    cr_assert_eq(clb_bn_ws_message_kind(WS_OK, strlen(WS_OK)), CLB_BN_WS_RESPONSE);
    cr_assert_eq(clb_bn_ws_message_kind(POSITION, strlen(POSITION)), CLB_BN_WS_EVENT);
    cr_assert_eq(clb_bn_ws_message_kind(EXEC_CANCEL, strlen(EXEC_CANCEL)), CLB_BN_WS_EVENT);
    cr_assert_eq(clb_bn_ws_message_kind("{\"x\":1}", 7), CLB_BN_WS_UNKNOWN);
    cr_assert_eq(clb_bn_ws_message_kind("[1]", 3), CLB_EPARSE);
    cr_assert_eq(clb_bn_ws_message_kind("{", 1), CLB_EPARSE);

    cr_assert_eq(clb_bn_parse_ws_response(WS_OK, strlen(WS_OK), &r, res, sizeof(res), err,
                                          sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_str_eq(r.id, "req-7");
    cr_assert_eq(r.status, 200);
    cr_assert(!r.has_error);
    cr_assert(r.has_result);
    cr_assert_eq(r.rate_limits.n, 3);
    cr_assert_eq(r.rate_limits.l[0].count, 12);
    cr_assert_eq(r.rate_limits.l[2].interval_ms, 86400000);
    cr_assert_eq(r.result_len, strlen(res));
    struct clb_bn_order o;
    cr_assert_eq(clb_bn_parse_order(res, r.result_len, &o, NULL, 0, NULL, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_str_eq(o.order_id, "29");

    cr_assert_eq(clb_bn_parse_ws_response(WS_ERR, strlen(WS_ERR), &r, NULL, 0, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_str_eq(r.id, "42");
    cr_assert_eq(r.status, 429);
    cr_assert(r.has_error);
    cr_assert_eq(r.error.code, -1003);
    cr_assert(strstr(r.error.msg, "Too much request weight"));
    cr_assert_eq(r.retry_after_ms, 1700000060000LL);
    cr_assert_eq(r.server_time_ms, 1700000010000LL);
    cr_assert_eq(r.rate_limits.l[0].count, 6010);

    /* the result does not fit */
    char tiny[16];
    memset(tiny, 'x', sizeof(tiny));
    cr_assert_eq(clb_bn_parse_ws_response(WS_OK, strlen(WS_OK), &r, tiny, sizeof(tiny), err,
                                          sizeof(err)),
                 CLB_EFULL);
    cr_assert_eq(tiny[0], 'x');
    const char *neither = "{\"id\":null,\"status\":200}";
    cr_assert_eq(clb_bn_parse_ws_response(neither, strlen(neither), &r, NULL, 0, err,
                                          sizeof(err)),
                 CLB_EPARSE);
    /* subscribe answer: result object, null id */
    const char *sub = "{\"id\":null,\"status\":200,\"result\":{\"subscriptionId\":0},"
                      "\"rateLimits\":[]}";
    cr_assert_eq(clb_bn_parse_ws_response(sub, strlen(sub), &r, res, sizeof(res), err,
                                          sizeof(err)),
                 CLB_OK);
    cr_assert_str_eq(r.id, "");
    cr_assert_str_eq(res, "{\"subscriptionId\":0}");
}

Test(binance_msg, error_bodies)
{
    struct clb_bn_error e;
    const char *b = "{\"code\":-2013,\"msg\":\"Order does not exist.\"}";
    cr_assert_eq(clb_bn_parse_error(b, strlen(b), &e, NULL, 0), CLB_OK);
    cr_assert_eq(e.code, -2013);
    cr_assert_str_eq(e.msg, "Order does not exist.");
    /* a very long message is truncated, not refused */
    char big[1200];
    int k = snprintf(big, sizeof(big), "{\"code\":-1,\"msg\":\"");
    memset(big + k, 'm', 1000);
    snprintf(big + k + 1000, sizeof(big) - (size_t)k - 1000, "\"}");
    cr_assert_eq(clb_bn_parse_error(big, strlen(big), &e, NULL, 0), CLB_OK);
    cr_assert_eq(strlen(e.msg), CLB_BN_ERR_MSG_MAX - 1);
    const char *huge = "{\"code\":-99999999999,\"msg\":\"x\"}";
    cr_assert_eq(clb_bn_parse_error(huge, strlen(huge), &e, NULL, 0), CLB_EPARSE);
    const char *dup = "{\"code\":-1,\"code\":-2,\"msg\":\"x\"}";
    cr_assert_eq(clb_bn_parse_error(dup, strlen(dup), &e, NULL, 0), CLB_EPARSE);
}

Test(binance_msg, status_mappings)
{
    static const struct {
        const char *s;
        enum clb_xorder_status x;
        enum clb_order_state st;
        bool final;
    } m[] = {
        { "NEW", CLB_XORDER_NEW, CLB_ORDER_OPEN, false },
        { "PENDING_NEW", CLB_XORDER_NEW, CLB_ORDER_PENDING_CREATE, false },
        { "PARTIALLY_FILLED", CLB_XORDER_PARTIALLY_FILLED, CLB_ORDER_PARTIALLY_FILLED, false },
        { "FILLED", CLB_XORDER_FILLED, CLB_ORDER_FILLED, true },
        { "CANCELED", CLB_XORDER_CANCELED, CLB_ORDER_CANCELED, true },
        { "PENDING_CANCEL", CLB_XORDER_NEW, CLB_ORDER_PENDING_CANCEL, false },
        { "REJECTED", CLB_XORDER_REJECTED, CLB_ORDER_FAILED, true },
        { "EXPIRED", CLB_XORDER_EXPIRED, CLB_ORDER_CANCELED, true },
        { "EXPIRED_IN_MATCH", CLB_XORDER_EXPIRED, CLB_ORDER_CANCELED, true },
    };
    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        enum clb_bn_order_status s;
        cr_assert_eq(clb_bn_order_status_parse(m[i].s, &s), CLB_OK);
        cr_assert_str_eq(clb_bn_order_status_name(s), m[i].s);
        cr_assert_eq(clb_bn_xorder_status(s), m[i].x, "%s", m[i].s);
        cr_assert_eq(clb_bn_order_state(s), m[i].st, "%s", m[i].s);
        cr_assert_eq(clb_bn_order_status_is_final(s), m[i].final, "%s", m[i].s);
    }
    enum clb_bn_order_status s;
    cr_assert_eq(clb_bn_order_status_parse("new", &s), CLB_EPARSE);
    cr_assert_eq(clb_bn_order_status_parse("", &s), CLB_EPARSE);
}

Test(binance_msg, market_symbol_names)
{
    char out[32];
    cr_assert_eq(clb_bn_symbol_from_market("BTC-USDT", out, sizeof(out)), 7);
    cr_assert_str_eq(out, "BTCUSDT");
    cr_assert_eq(clb_bn_symbol_from_market("BTCUSDT", out, sizeof(out)), CLB_EINVAL);
    cr_assert_eq(clb_bn_symbol_from_market("-USDT", out, sizeof(out)), CLB_EINVAL);
    cr_assert_eq(clb_bn_symbol_from_market("A-B-C", out, sizeof(out)), CLB_EINVAL);
    cr_assert_eq(clb_bn_symbol_from_market("BT C-USDT", out, sizeof(out)), CLB_EINVAL);
    cr_assert_eq(clb_bn_symbol_from_market("BTC-USDT", out, 7), CLB_ERANGE);
}
