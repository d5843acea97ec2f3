/*
 * End-to-end checks of the Binance protocol layer (connectors/binance/
 * binance_{sign,throttle,time,msg}.c) against colibri-simex run in-process:
 * requests are signed by binance_sign (REST query strings with encoded
 * values, WS-API requests), admitted by the throttler, timestamped with the
 * synced clock, and every answer the simulator sends is read by the
 * parsers — so the parsers accept exactly what simex prints, and the local
 * weight count matches the server's X-MBX-USED-WEIGHT-1M.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binance_msg.h"
#include "binance_sign.h"
#include "binance_throttle.h"
#include "binance_time.h"
#include "error.h"
#include "simex_util.h"

#define SKEW_MS 2500

static int64_t local_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool dec_is(clb_dec d, const char *s)
{
    clb_dec want;
    cr_assert_eq(clb_dec_parse_cstr(s, &want), CLB_OK);
    return clb_dec_cmp(d, want) == 0;
}

struct ctx {
    struct sxt t;
    struct clb_bn_time tm;
    struct clb_bn_throttle th;
    int64_t server_weight; /* last X-MBX-USED-WEIGHT-1M */
};

static void sync_clock(struct ctx *c)
{
    for (int i = 0; i < 5; i++) {
        struct clb_bn_cost cost = clb_bn_endpoint_cost(CLB_BN_EP_TIME, 0);
        int64_t wait;
        cr_assert_eq(clb_bn_throttle_acquire(&c->th, clb_bn_time_server_now_ms(&c->tm, local_ns()),
                                             cost, &wait),
                     CLB_OK);
        struct sxt_http r;
        int64_t sent = local_ns();
        sxt_http(&c->t, "GET", "/api/v3/time", NULL, NULL, 5000, &r);
        int64_t recv = local_ns();
        cr_assert_eq(r.status, 200);
        int64_t st;
        char err[128];
        cr_assert_eq(clb_bn_parse_server_time(r.body, strlen(r.body), &st, err, sizeof(err)),
                     CLB_OK, "%s", err);
        cr_assert_eq(clb_bn_time_add_sample(&c->tm, sent, st, recv), CLB_OK);
        char hb[32];
        cr_assert(sxt_header(&r, "x-mbx-used-weight-1m", hb, sizeof(hb)));
        c->server_weight = atoll(hb);
        sxt_http_free(&r);
    }
}

/* A signed REST call: throttled, timestamped, signed by binance_sign. */
static void call(struct ctx *c, const char *method, const char *path,
                 const struct clb_bn_param *p, size_t n, const char *key, const char *secret,
                 enum clb_bn_endpoint ep, int arg, int64_t ts_shift_ms, struct sxt_http *out)
{
    int64_t now = clb_bn_time_server_now_ms(&c->tm, local_ns());
    int64_t wait = 0;
    cr_assert_eq(clb_bn_throttle_acquire(&c->th, now, clb_bn_endpoint_cost(ep, arg), &wait),
                 CLB_OK, "throttled: wait %" PRId64, wait);
    char q[2048], pq[2300];
    cr_assert_gt(clb_bn_sign_query(secret, p, n, now + ts_shift_ms, 5000, q, sizeof(q)), 0);
    snprintf(pq, sizeof(pq), "%s?%s", path, q);
    sxt_http(&c->t, method, pq, NULL, key, 5000, out);
    char hb[32];
    if (sxt_header(out, "x-mbx-used-weight-1m", hb, sizeof(hb))) {
        c->server_weight = atoll(hb);
        int64_t after = clb_bn_time_server_now_ms(&c->tm, local_ns());
        int rc = clb_bn_throttle_observe_used_weight(&c->th, now, after, c->server_weight);
        cr_assert(rc == CLB_OK || rc == CLB_ESTALE);
    }
}

static void public_get(struct ctx *c, const char *path_query, enum clb_bn_endpoint ep,
                       struct sxt_http *out)
{
    int64_t wait;
    cr_assert_eq(clb_bn_throttle_acquire(&c->th, clb_bn_time_server_now_ms(&c->tm, local_ns()),
                                         clb_bn_endpoint_cost(ep, 0), &wait),
                 CLB_OK);
    sxt_http(&c->t, "GET", path_query, NULL, NULL, 5000, out);
    char hb[32];
    if (sxt_header(out, "x-mbx-used-weight-1m", hb, sizeof(hb)))
        c->server_weight = atoll(hb);
}

static void start(struct ctx *c)
{
    memset(c, 0, sizeof(*c));
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.faults.clock_skew_ms = SKEW_MS;
    sxt_start(&c->t, &cfg);
    struct clb_bn_time_config tc;
    clb_bn_time_config_defaults(&tc);
    cr_assert_eq(clb_bn_time_init(&c->tm, &tc), CLB_OK);
    /* placeholder limits until exchangeInfo is read */
    struct clb_bn_rate_limits rl = { .l = { { CLB_BN_LIMIT_REQUEST_WEIGHT, 3600000, 100000, -1 } },
                                     .n = 1 };
    struct clb_bn_throttle_config thc;
    clb_bn_throttle_config_defaults(&thc);
    cr_assert_eq(clb_bn_throttle_init(&c->th, &thc, &rl), CLB_OK);
}

static void load_exchange_info(struct ctx *c, struct clb_bn_symbol_info *sym)
{
    struct sxt_http r;
    public_get(c, "/api/v3/exchangeInfo", CLB_BN_EP_EXCHANGE_INFO, &r);
    cr_assert_eq(r.status, 200);
    const char *want[] = { "BTC-USDT" };
    size_t n = 0;
    struct clb_bn_rate_limits rl;
    int64_t st;
    char err[256];
    cr_assert_eq(clb_bn_parse_exchange_info(r.body, strlen(r.body), want, 1, sym, 1, &n, &rl, &st,
                                            err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_eq(rl.n, 4);
    cr_assert(llabs(st - clb_bn_time_server_now_ms(&c->tm, local_ns())) < 1000);
    cr_assert_eq(clb_bn_throttle_load_json(&c->th, r.body, strlen(r.body), err, sizeof(err)),
                 CLB_OK, "%s", err);
    sxt_http_free(&r);
}

Test(binance_proto_simex, rest_round_trip)
{
    struct ctx *c = malloc(sizeof(*c));
    start(c);
    sync_clock(c);
    cr_assert(!clb_bn_time_needs_resync(&c->tm, local_ns()));
    cr_assert(llabs(clb_bn_time_offset_ms(&c->tm) - SKEW_MS) < 50, "offset %" PRId64,
              clb_bn_time_offset_ms(&c->tm));

    struct clb_bn_symbol_info sym;
    load_exchange_info(c, &sym);
    cr_assert_str_eq(sym.symbol, "BTCUSDT");
    cr_assert_str_eq(sym.rules.symbol, "BTC-USDT");
    cr_assert(sym.trading);
    cr_assert(dec_is(sym.rules.tick_size, "0.01"));
    cr_assert(dec_is(sym.rules.min_notional, "5"));
    cr_assert(dec_is(sym.rules.max_qty, "9000"));
    cr_assert_eq(sym.rules.price_scale, 2);
    cr_assert_eq(sym.rules.qty_scale, sym.rules.step_size.scale);

    char err[256];
    struct sxt_http r;
    struct clb_bn_order o;
    struct clb_bn_fill fills[4];
    size_t nf;
    /* alice's ask, RESULT; the client id needs encoding (':' and '/') */
    const struct clb_bn_param ask[] = {
        { "symbol", "BTCUSDT" },    { "side", "SELL" },    { "type", "LIMIT" },
        { "timeInForce", "GTC" },   { "quantity", "0.003" }, { "price", "60000" },
        { "newClientOrderId", "e2:ask/1" }, { "newOrderRespType", "RESULT" },
    };
    call(c, "POST", "/api/v3/order", ask, 8, SXT_ALICE, SXT_ALICE_SECRET, CLB_BN_EP_ORDER_NEW, 0,
         0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(clb_bn_parse_order(r.body, strlen(r.body), &o, fills, 4, &nf, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert(o.has_details);
    cr_assert_str_eq(o.client_order_id, "e2:ask/1");
    cr_assert_eq(o.status, CLB_BN_ST_NEW);
    cr_assert_eq(o.side, CLB_SIDE_SELL);
    cr_assert(dec_is(o.orig_qty, "0.003"));
    cr_assert_eq(nf, 0);
    char ask_id[CLB_EXCHANGE_ORDER_ID_MAX];
    snprintf(ask_id, sizeof(ask_id), "%s", o.order_id);
    sxt_http_free(&r);

    /* alice's bid, ACK */
    const struct clb_bn_param bid[] = {
        { "symbol", "BTCUSDT" },   { "side", "BUY" },      { "type", "LIMIT" },
        { "timeInForce", "GTC" },  { "quantity", "0.001" }, { "price", "50000" },
        { "newClientOrderId", "e2-bid-1" }, { "newOrderRespType", "ACK" },
    };
    call(c, "POST", "/api/v3/order", bid, 8, SXT_ALICE, SXT_ALICE_SECRET, CLB_BN_EP_ORDER_NEW, 0,
         0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(clb_bn_parse_order(r.body, strlen(r.body), &o, NULL, 0, NULL, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert(!o.has_details);
    cr_assert_str_eq(o.client_order_id, "e2-bid-1");
    sxt_http_free(&r);

    /* bob takes part of the ask: FULL with one fill */
    const struct clb_bn_param take[] = {
        { "symbol", "BTCUSDT" },  { "side", "BUY" },      { "type", "LIMIT" },
        { "timeInForce", "GTC" }, { "quantity", "0.001" }, { "price", "60000" },
        { "newOrderRespType", "FULL" },
    };
    call(c, "POST", "/api/v3/order", take, 7, SXT_BOB, SXT_BOB_SECRET, CLB_BN_EP_ORDER_NEW, 0, 0,
         &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(clb_bn_parse_order(r.body, strlen(r.body), &o, fills, 4, &nf, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(o.status, CLB_BN_ST_FILLED);
    cr_assert_eq(o.n_fills_total, 1);
    cr_assert_eq(nf, 1);
    cr_assert(dec_is(fills[0].price, "60000"));
    cr_assert(dec_is(fills[0].qty, "0.001"));
    cr_assert(dec_is(o.cum_quote_qty, "60"));
    char trade_id[CLB_TRADE_ID_MAX];
    snprintf(trade_id, sizeof(trade_id), "%s", fills[0].trade_id);
    sxt_http_free(&r);

    /* alice's ask by client id: partially filled */
    const struct clb_bn_param q1[] = { { "symbol", "BTCUSDT" },
                                       { "origClientOrderId", "e2:ask/1" } };
    call(c, "GET", "/api/v3/order", q1, 2, SXT_ALICE, SXT_ALICE_SECRET, CLB_BN_EP_ORDER_STATUS, 0,
         0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(clb_bn_parse_order(r.body, strlen(r.body), &o, NULL, 0, NULL, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(o.status, CLB_BN_ST_PARTIALLY_FILLED);
    cr_assert_eq(clb_bn_xorder_status(o.status), CLB_XORDER_PARTIALLY_FILLED);
    cr_assert(dec_is(o.executed_qty, "0.001"));
    cr_assert_str_eq(o.order_id, ask_id);
    cr_assert_gt(o.update_time_ms, 0);
    sxt_http_free(&r);

    /* open orders */
    const struct clb_bn_param sy[] = { { "symbol", "BTCUSDT" } };
    call(c, "GET", "/api/v3/openOrders", sy, 1, SXT_ALICE, SXT_ALICE_SECRET,
         CLB_BN_EP_OPEN_ORDERS, 0, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    struct clb_bn_order open[8];
    size_t n;
    cr_assert_eq(clb_bn_parse_open_orders(r.body, strlen(r.body), open, 8, &n, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(n, 2);
    sxt_http_free(&r);

    /* trades */
    call(c, "GET", "/api/v3/myTrades", sy, 1, SXT_ALICE, SXT_ALICE_SECRET, CLB_BN_EP_MY_TRADES, 0,
         0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    struct clb_bn_trade tr[4];
    cr_assert_eq(clb_bn_parse_my_trades(r.body, strlen(r.body), tr, 4, &n, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(tr[0].trade_id, trade_id);
    cr_assert_str_eq(tr[0].order_id, ask_id);
    cr_assert(tr[0].is_maker);
    cr_assert(!tr[0].is_buyer);
    cr_assert_str_eq(tr[0].commission_asset, "USDT");
    cr_assert(dec_is(tr[0].commission, "0.06"));
    sxt_http_free(&r);

    /* cancel by client id */
    const struct clb_bn_param cx[] = { { "symbol", "BTCUSDT" }, { "origClientOrderId", "e2:ask/1" },
                                       { "newClientOrderId", "e2-cxl-1" } };
    call(c, "DELETE", "/api/v3/order", cx, 3, SXT_ALICE, SXT_ALICE_SECRET, CLB_BN_EP_ORDER_CANCEL,
         0, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(clb_bn_parse_order(r.body, strlen(r.body), &o, NULL, 0, NULL, err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(o.status, CLB_BN_ST_CANCELED);
    cr_assert_str_eq(o.orig_client_order_id, "e2:ask/1");
    cr_assert_str_eq(o.client_order_id, "e2-cxl-1");
    sxt_http_free(&r);

    /* definite not-found */
    const struct clb_bn_param q2[] = { { "symbol", "BTCUSDT" }, { "origClientOrderId", "nope" } };
    call(c, "GET", "/api/v3/order", q2, 2, SXT_ALICE, SXT_ALICE_SECRET, CLB_BN_EP_ORDER_STATUS, 0,
         0, &r);
    cr_assert_eq(r.status, 400);
    struct clb_bn_error e;
    cr_assert_eq(clb_bn_parse_error(r.body, strlen(r.body), &e, err, sizeof(err)), CLB_OK);
    cr_assert_eq(e.code, -2013);
    sxt_http_free(&r);

    /* account and fees */
    call(c, "GET", "/api/v3/account", NULL, 0, SXT_ALICE, SXT_ALICE_SECRET, CLB_BN_EP_ACCOUNT, 0,
         0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    struct clb_bn_balance bal[16];
    struct clb_bn_commission cm;
    cr_assert_eq(clb_bn_parse_account(r.body, strlen(r.body), true, bal, 16, &n, &cm, err,
                                      sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert(dec_is(cm.maker, "0.001"));
    bool saw_usdt = false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(bal[i].asset, "USDT") == 0) {
            /* 1000000 - 50 locked by the bid + 60 - 0.06 fee */
            cr_assert(dec_is(bal[i].free, "1000009.94"));
            cr_assert(dec_is(bal[i].locked, "50"));
            saw_usdt = true;
        }
    cr_assert(saw_usdt);
    cr_assert_eq(clb_bn_parse_commission(r.body, strlen(r.body), &cm, err, sizeof(err)), CLB_OK);
    sxt_http_free(&r);

    /* signature made with the wrong secret */
    call(c, "GET", "/api/v3/account", NULL, 0, SXT_ALICE, "wrong", CLB_BN_EP_ACCOUNT, 0, 0, &r);
    cr_assert_eq(clb_bn_parse_error(r.body, strlen(r.body), &e, err, sizeof(err)), CLB_OK);
    cr_assert_eq(e.code, -1022);
    sxt_http_free(&r);

    /* a stale timestamp: -1021 makes the clock resync */
    call(c, "GET", "/api/v3/account", NULL, 0, SXT_ALICE, SXT_ALICE_SECRET, CLB_BN_EP_ACCOUNT, 0,
         -10000, &r);
    cr_assert_eq(clb_bn_parse_error(r.body, strlen(r.body), &e, err, sizeof(err)), CLB_OK);
    cr_assert_eq(e.code, -1021);
    cr_assert(clb_bn_time_on_error_code(&c->tm, e.code));
    cr_assert(clb_bn_time_needs_resync(&c->tm, local_ns()));
    sxt_http_free(&r);
    sync_clock(c);
    cr_assert(!clb_bn_time_needs_resync(&c->tm, local_ns()));

    /* the local weight count is the server's (unless the test straddled the
     * one-hour weight window's boundary, once in a blue moon) */
    int64_t now = clb_bn_time_server_now_ms(&c->tm, local_ns());
    if (now / 3600000 == (now - 5000) / 3600000) {
        cr_assert_eq(clb_bn_throttle_used(&c->th, CLB_BN_LIMIT_REQUEST_WEIGHT, 3600000, now),
                     c->server_weight);
        cr_assert_gt(c->server_weight, 100);
    }
    sxt_stop(&c->t);
    free(c);
}

/* Messages from the WS-API connection until `pred` has seen what it wants. */
struct ws_seen {
    const char *want_id;
    struct clb_bn_ws_response resp;
    char result[4096];
    bool got_resp;
    struct clb_bn_user_event ev[16];
    size_t n_ev;
};

static void ws_collect(struct sxt_ws *w, struct ws_seen *s, size_t min_events, int timeout_ms)
{
    int64_t until = sxt_now_ms() + timeout_ms;
    while (sxt_now_ms() < until && (!s->got_resp || s->n_ev < min_events)) {
        char *m = sxt_ws_recv(w, 100);
        if (!m)
            continue;
        char err[256] = "";
        size_t len = strlen(m);
        int kind = clb_bn_ws_message_kind(m, len);
        if (kind == CLB_BN_WS_RESPONSE) {
            struct clb_bn_ws_response r;
            cr_assert_eq(clb_bn_parse_ws_response(m, len, &r, s->result, sizeof(s->result), err,
                                                  sizeof(err)),
                         CLB_OK, "%s: %s", err, m);
            if (strcmp(r.id, s->want_id) == 0) {
                s->resp = r;
                s->got_resp = true;
            }
        } else if (kind == CLB_BN_WS_EVENT) {
            cr_assert_lt(s->n_ev, 16);
            cr_assert_eq(clb_bn_parse_user_event(m, len, &s->ev[s->n_ev], err, sizeof(err)),
                         CLB_OK, "%s: %s", err, m);
            s->n_ev++;
        } else {
            cr_assert_fail("unexpected message %s", m);
        }
        free(m);
    }
}

static void ws_send_signed(struct ctx *c, struct sxt_ws *w, const char *id, const char *method,
                           const struct clb_bn_param *p, size_t n, enum clb_bn_endpoint ep)
{
    int64_t now = clb_bn_time_server_now_ms(&c->tm, local_ns()), wait;
    cr_assert_eq(clb_bn_throttle_acquire(&c->th, now, clb_bn_endpoint_cost(ep, 0), &wait), CLB_OK);
    char buf[2048];
    cr_assert_gt(clb_bn_ws_signed_request(id, method, p, n, SXT_ALICE, SXT_ALICE_SECRET, now, 5000,
                                          buf, sizeof(buf)),
                 0);
    sxt_ws_send(w, buf);
}

static const struct clb_bn_user_event *find_ev(const struct ws_seen *s, enum clb_bn_exec_type x)
{
    for (size_t i = 0; i < s->n_ev; i++)
        if (s->ev[i].kind == CLB_BN_UE_EXECUTION_REPORT && s->ev[i].u.exec.exec_type == x)
            return &s->ev[i];
    return NULL;
}

static bool has_position(const struct ws_seen *s)
{
    for (size_t i = 0; i < s->n_ev; i++)
        if (s->ev[i].kind == CLB_BN_UE_ACCOUNT_POSITION && s->ev[i].u.position.n > 0)
            return true;
    return false;
}

Test(binance_proto_simex, ws_api_orders_and_user_stream)
{
    struct ctx *c = malloc(sizeof(*c));
    start(c);
    sync_clock(c);
    struct clb_bn_symbol_info sym;
    load_exchange_info(c, &sym);
    struct sxt_ws *w = sxt_ws_open(c->t.port, "/ws-api/v3");
    cr_assert(w);
    char err[256];

    struct ws_seen *s = calloc(1, sizeof(*s));
    s->want_id = "sub-1";
    ws_send_signed(c, w, "sub-1", "userDataStream.subscribe.signature", NULL, 0,
                   CLB_BN_EP_USER_STREAM_SUBSCRIBE);
    ws_collect(w, s, 0, 3000);
    cr_assert(s->got_resp);
    cr_assert_eq(s->resp.status, 200);
    cr_assert(s->resp.has_result);
    cr_assert_str_eq(s->result, "{\"subscriptionId\":0}");
    cr_assert_geq(s->resp.rate_limits.n, 1);
    cr_assert_gt(s->resp.rate_limits.l[0].count, 0);
    int64_t now = clb_bn_time_server_now_ms(&c->tm, local_ns());
    clb_bn_throttle_observe_limits(&c->th, now - 5, now, &s->resp.rate_limits);

    /* order.place over the WS-API: response and user events */
    memset(s, 0, sizeof(*s));
    s->want_id = "place-1";
    const struct clb_bn_param place[] = {
        { "symbol", "BTCUSDT" },  { "side", "SELL" },      { "type", "LIMIT" },
        { "timeInForce", "GTC" }, { "quantity", "0.002" }, { "price", "61000" },
        { "newClientOrderId", "ws-ask-1" }, { "newOrderRespType", "RESULT" },
    };
    ws_send_signed(c, w, "place-1", "order.place", place, 8, CLB_BN_EP_ORDER_NEW);
    ws_collect(w, s, 2, 3000);
    cr_assert(s->got_resp);
    cr_assert_eq(s->resp.status, 200, "%s", s->resp.error.msg);
    cr_assert_geq(s->resp.rate_limits.n, 3); /* order counts included */
    struct clb_bn_order o;
    cr_assert_eq(clb_bn_parse_order(s->result, s->resp.result_len, &o, NULL, 0, NULL, err,
                                    sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(o.status, CLB_BN_ST_NEW);
    cr_assert_str_eq(o.client_order_id, "ws-ask-1");
    const struct clb_bn_user_event *ev = find_ev(s, CLB_BN_EXEC_NEW);
    cr_assert(ev);
    cr_assert(ev->has_subscription_id);
    cr_assert_str_eq(ev->u.exec.client_order_id, "ws-ask-1");
    cr_assert_str_eq(ev->u.exec.order_id, o.order_id);
    cr_assert(!ev->u.exec.has_trade);
    cr_assert(has_position(s));

    /* bob takes half over REST: alice sees a TRADE */
    memset(s, 0, sizeof(*s));
    s->want_id = "none";
    s->got_resp = true;
    struct sxt_http r;
    const struct clb_bn_param take[] = {
        { "symbol", "BTCUSDT" },  { "side", "BUY" },      { "type", "LIMIT" },
        { "timeInForce", "GTC" }, { "quantity", "0.001" }, { "price", "61000" },
    };
    call(c, "POST", "/api/v3/order", take, 6, SXT_BOB, SXT_BOB_SECRET, CLB_BN_EP_ORDER_NEW, 0, 0,
         &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    sxt_http_free(&r);
    ws_collect(w, s, 2, 3000);
    ev = find_ev(s, CLB_BN_EXEC_TRADE);
    cr_assert(ev);
    cr_assert(ev->u.exec.has_trade);
    cr_assert_eq(ev->u.exec.status, CLB_BN_ST_PARTIALLY_FILLED);
    cr_assert(dec_is(ev->u.exec.last_qty, "0.001"));
    cr_assert(dec_is(ev->u.exec.last_price, "61000"));
    cr_assert(dec_is(ev->u.exec.cum_qty, "0.001"));
    cr_assert(ev->u.exec.is_maker);
    cr_assert_str_eq(ev->u.exec.commission_asset, "USDT");

    /* order.cancel: the report's C is the order's own id */
    memset(s, 0, sizeof(*s));
    s->want_id = "cancel-1";
    const struct clb_bn_param cancel[] = { { "symbol", "BTCUSDT" },
                                           { "origClientOrderId", "ws-ask-1" },
                                           { "newClientOrderId", "ws-cxl-1" } };
    ws_send_signed(c, w, "cancel-1", "order.cancel", cancel, 3, CLB_BN_EP_ORDER_CANCEL);
    ws_collect(w, s, 1, 3000);
    cr_assert(s->got_resp);
    cr_assert_eq(s->resp.status, 200, "%s", s->resp.error.msg);
    cr_assert_eq(clb_bn_parse_order(s->result, s->resp.result_len, &o, NULL, 0, NULL, err,
                                    sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(o.status, CLB_BN_ST_CANCELED);
    cr_assert_str_eq(o.orig_client_order_id, "ws-ask-1");
    ev = find_ev(s, CLB_BN_EXEC_CANCELED);
    cr_assert(ev);
    cr_assert_str_eq(ev->u.exec.client_order_id, "ws-cxl-1");
    cr_assert_str_eq(clb_bn_exec_report_order_client_id(&ev->u.exec), "ws-ask-1");
    cr_assert_eq(clb_bn_order_state(ev->u.exec.status), CLB_ORDER_CANCELED);

    /* a WS-API error envelope: unknown order */
    memset(s, 0, sizeof(*s));
    s->want_id = "cancel-2";
    ws_send_signed(c, w, "cancel-2", "order.cancel", cancel, 3, CLB_BN_EP_ORDER_CANCEL);
    ws_collect(w, s, 0, 3000);
    cr_assert(s->got_resp);
    cr_assert_eq(s->resp.status, 400);
    cr_assert(s->resp.has_error);
    cr_assert_eq(s->resp.error.code, -2011);

    free(s);
    sxt_ws_close(w);
    sxt_stop(&c->t);
    free(c);
}

/* The simulator's 429 / 418 answers, REST and WS-API, feed the throttler. */
Test(binance_proto_simex, rate_limit_answers_block_the_throttler)
{
    struct ctx *c = malloc(sizeof(*c));
    memset(c, 0, sizeof(*c));
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.limits.request_weight = 30;
    cfg.limits.window_ms = 60000;
    cfg.limits.ban_after_429 = 2;
    sxt_start(&c->t, &cfg);
    struct clb_bn_time_config tc;
    clb_bn_time_config_defaults(&tc);
    cr_assert_eq(clb_bn_time_init(&c->tm, &tc), CLB_OK);
    struct clb_bn_throttle_config thc;
    clb_bn_throttle_config_defaults(&thc);
    struct clb_bn_rate_limits big = { .l = { { CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, 100000, -1 } },
                                      .n = 1 };
    cr_assert_eq(clb_bn_throttle_init(&c->th, &thc, &big), CLB_OK);
    /* keep the test inside one one-minute weight window, clear of the
     * boundary margin (no clock skew here: local time is server time) */
    int64_t now = local_ns() / 1000000;
    if (now % 60000 > 55000)
        sxt_sleep_ms((int)(60000 - now % 60000) + 600);
    sync_clock(c); /* weight 5 */
    /* exchangeInfo (20) brings the true limits; the next 20 is over */
    struct clb_bn_symbol_info sym;
    load_exchange_info(c, &sym);
    cr_assert_eq(c->th.w[0].rl.limit, 30);
    now = clb_bn_time_server_now_ms(&c->tm, local_ns());
    int orc = clb_bn_throttle_observe_used_weight(&c->th, now - 1, now, c->server_weight);
    cr_assert(orc == CLB_OK || orc == CLB_ESTALE);
    cr_assert_eq(clb_bn_throttle_used(&c->th, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, now),
                 c->server_weight);
    int64_t wait;
    struct clb_bn_cost info = clb_bn_endpoint_cost(CLB_BN_EP_EXCHANGE_INFO, 0);
    cr_assert_eq(clb_bn_throttle_check(&c->th, now, info, &wait), CLB_BN_EAGAIN);
    cr_assert_gt(wait, 0);
    cr_assert_leq(wait, 60000 + thc.boundary_margin_ms);
    /* send it anyway, bypassing the throttler: the server says 429 */
    struct sxt_http r;
    sxt_http(&c->t, "GET", "/api/v3/exchangeInfo", NULL, NULL, 5000, &r);
    cr_assert_eq(r.status, 429);
    char err[256], hb[32];
    struct clb_bn_error e;
    cr_assert_eq(clb_bn_parse_error(r.body, strlen(r.body), &e, err, sizeof(err)), CLB_OK);
    cr_assert_eq(e.code, -1003);
    cr_assert(sxt_header(&r, "retry-after", hb, sizeof(hb)));
    int64_t ra;
    cr_assert_eq(clb_bn_parse_retry_after(hb, &ra), CLB_OK, "'%s'", hb);
    cr_assert_gt(ra, 0);
    now = clb_bn_time_server_now_ms(&c->tm, local_ns());
    clb_bn_throttle_on_retry_after(&c->th, now, ra, false);
    struct clb_bn_cost ping = clb_bn_endpoint_cost(CLB_BN_EP_PING, 0);
    cr_assert_eq(clb_bn_throttle_check(&c->th, now, ping, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(wait, ra);
    sxt_http_free(&r);
    /* two more and the IP is banned: 418, over the WS-API as well */
    for (int i = 0; i < 2; i++) {
        sxt_http(&c->t, "GET", "/api/v3/exchangeInfo", NULL, NULL, 5000, &r);
        sxt_http_free(&r);
    }
    sxt_http(&c->t, "GET", "/api/v3/ping", NULL, NULL, 5000, &r);
    cr_assert_eq(r.status, 418, "%s", r.body);
    cr_assert(sxt_header(&r, "retry-after", hb, sizeof(hb)));
    cr_assert_eq(clb_bn_parse_retry_after(hb, &ra), CLB_OK);
    now = clb_bn_time_server_now_ms(&c->tm, local_ns());
    clb_bn_throttle_on_retry_after(&c->th, now, ra, true);
    cr_assert(c->th.banned);
    sxt_http_free(&r);
    struct sxt_ws *w = sxt_ws_open(c->t.port, "/ws-api/v3");
    if (w) { /* the ban may refuse the connection itself */
        sxt_ws_send(w, "{\"id\":\"p\",\"method\":\"ping\"}");
        char *m = sxt_ws_recv(w, 2000);
        if (m) {
            struct clb_bn_ws_response resp;
            cr_assert_eq(clb_bn_parse_ws_response(m, strlen(m), &resp, NULL, 0, err,
                                                  sizeof(err)),
                         CLB_OK, "%s: %s", err, m);
            cr_assert_eq(resp.status, 418);
            cr_assert(resp.has_error);
            cr_assert_gt(resp.retry_after_ms, now);
            clb_bn_throttle_on_retry_after(&c->th, now, resp.retry_after_ms - now, true);
            free(m);
        }
        sxt_ws_close(w);
    }
    cr_assert_gt(clb_bn_throttle_blocked_until(&c->th), now + 60000);
    sxt_stop(&c->t);
    free(c);
}
