/*
 * binance_test.c — the Binance connector (connectors/binance/binance.c)
 * against colibri-simex running in-process: configuration errors, readiness
 * (rules, fees, balances, books, user stream), exact quantization, place /
 * fill / cancel events, the book against the simulator's depth, and each
 * fault the simulator injects with the recovery it must lead to.
 */
#include <time.h>

#include "binance_fixture.h"

/* How long an order may take to reach a state under faults. Usually
 * milliseconds; but a create refused for its timestamp (-1021, when the
 * in-process simulator falls behind the tests' 2 s recvWindow on a loaded
 * machine) is re-sent only after a clock resync of several samples. */
#define ORDER_WAIT_MS 20000

static bool order_live_confirmed(struct bft *f, void *arg)
{
    const struct clb_tracked_order *o = clb_tracker_get(f->c->ops->tracker(f->c), arg);
    return o && o->confirmed && (o->state == CLB_ORDER_OPEN ||
                                 o->state == CLB_ORDER_PARTIALLY_FILLED);
}

static bool order_terminal(struct bft *f, void *arg)
{
    const struct clb_tracked_order *o = clb_tracker_get(f->c->ops->tracker(f->c), arg);
    return o && clb_order_state_is_terminal(o->state);
}

static void start_all(struct bft *f, bool live, void (*tweak)(struct clb_binance_config *))
{
    struct clb_simex_config cfg;
    bft_sim_config(&cfg, live);
    bft_start_sim(f, &cfg);
    struct clb_binance_config bc;
    char urls[3][128];
    bft_conn_config(f, &bc, urls);
    if (tweak)
        tweak(&bc);
    bft_start_conn(f, &bc);
    cr_assert(bft_wait(f, 15000, bft_is_ready, NULL), "connector not ready in 15 s");
}

static double best(struct bft *f, enum clb_side side)
{
    const struct clb_order_book *bk = f->c->ops->book(f->c, "BTC-USDT");
    struct clb_level lv = { 0, 0 };
    bool ok = side == CLB_SIDE_BUY ? clb_book_best_bid(bk, &lv) : clb_book_best_ask(bk, &lv);
    cr_assert(ok, "empty book side");
    return (double)lv.price / 100.0; /* BTCUSDT tick 0.01 */
}

static int place(struct bft *f, enum clb_side side, enum clb_order_type type, const char *price,
                 const char *amount, char cid[CLB_CLIENT_ID_MAX])
{
    struct clb_order_request rq = { .market = "BTC-USDT", .side = side, .type = type };
    cr_assert_eq(clb_dec_parse_cstr(amount, &rq.amount), CLB_OK);
    if (price)
        cr_assert_eq(clb_dec_parse_cstr(price, &rq.price), CLB_OK);
    return f->c->ops->place(f->c, &rq, cid);
}

/* A resting buy far below the market: never fills. */
static void place_far(struct bft *f, char cid[CLB_CLIENT_ID_MAX])
{
    char px[32];
    struct clb_level lv;
    const struct clb_order_book *bk = f->c->ops->book(f->c, "BTC-USDT");
    if (clb_book_best_bid(bk, &lv))
        snprintf(px, sizeof(px), "%.2f", (double)lv.price / 100.0 * 0.8);
    else
        snprintf(px, sizeof(px), "30000.00"); /* no market: any price rests */
    cr_assert_eq(place(f, CLB_SIDE_BUY, CLB_ORDER_LIMIT_MAKER, px, "0.001", cid), CLB_OK);
}

/* ------------------------------------------------------------------------ */

Test(binance, config_errors)
{
    struct clb_netloop *loop;
    struct clb_event_bus bus;
    clb_event_bus_init(&bus);
    cr_assert_eq(clb_netloop_create(NULL, &loop), CLB_OK);
    struct clb_binance_config bc;
    struct clb_binance *b = NULL;
    char err[256];
    const char *good[] = { "BTC-USDT" };
    struct {
        const char *market, *rest, *key, *secret, *prefix;
    } cases[] = {
        { "BTCUSDT", "https://api.binance.com", "k", "topsecret", NULL },
        { "BTC-USDT", "http://api.binance.com", "k", "topsecret", NULL }, /* plain, not loopback */
        { "BTC-USDT", "https://api.binance.com", "", "topsecret", NULL },
        { "BTC-USDT", "https://api.binance.com", "k", "", NULL },
        { "BTC-USDT", "https://api.binance.com", "k", "topsecret", "bad prefix!" },
        { "btc-usdt", "https://api.binance.com", "k", "topsecret", NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clb_binance_config_default(&bc);
        bc.markets[0] = cases[i].market;
        bc.n_markets = 1;
        bc.rest_url = cases[i].rest;
        bc.stream_url = "wss://stream.binance.com:9443";
        bc.ws_api_url = "wss://ws-api.binance.com:443/ws-api/v3";
        bc.api_key = cases[i].key;
        bc.api_secret = cases[i].secret;
        if (cases[i].prefix)
            bc.client_id_prefix = cases[i].prefix;
        err[0] = '\0';
        int rc = clb_binance_create(loop, &bc, &bus, &b, err, sizeof(err));
        cr_expect_eq(rc, CLB_EINVAL, "case %zu: %s", i, clb_strerror(rc));
        cr_expect_neq(err[0], '\0', "case %zu has no message", i);
        cr_expect_null(strstr(err, "topsecret"), "case %zu leaks the secret: %s", i, err);
        cr_expect_null(b);
    }
    clb_binance_config_default(&bc);
    bc.markets[0] = good[0];
    bc.n_markets = 0;
    cr_expect_eq(clb_binance_create(loop, &bc, &bus, &b, err, sizeof(err)), CLB_EINVAL);
    clb_netloop_destroy(loop);
}

Test(binance, ready_rules_fees_balances)
{
    struct bft f;
    start_all(&f, false, NULL);
    struct clb_connector_status st;
    f.c->ops->status(f.c, &st);
    cr_assert(st.symbols_mapped && st.order_books_ready && st.balances_ready &&
              st.trading_rules_ready && st.user_stream_ready);
    const struct clb_market_rules *r = f.c->ops->rules(f.c, "BTC-USDT");
    cr_assert_not_null(r);
    cr_expect_eq(bft_dec_cmp_str(r->tick_size, "0.01"), 0);
    cr_expect_eq(bft_dec_cmp_str(r->step_size, "0.00001"), 0);
    cr_expect_eq(bft_dec_cmp_str(r->min_notional, "5"), 0);
    cr_expect_eq(r->price_scale, 2);
    cr_expect_eq(r->qty_scale, 5);
    cr_expect_str_eq(r->base, "BTC");
    cr_expect_str_eq(r->quote, "USDT");
    cr_expect_null(f.c->ops->rules(f.c, "ETH-USDT"));
    double mk = 0, tk = 0;
    cr_assert_eq(f.c->ops->fees(f.c, "BTC-USDT", &mk, &tk), CLB_OK);
    cr_expect_float_eq(mk, 0.001, 1e-12);
    cr_expect_float_eq(tk, 0.001, 1e-12);
    const char *assets[] = { "BTC", "USDT" };
    cr_expect_eq(bft_check_balances(&f, assets, 2), 0);
    clb_dec tot, av;
    f.c->ops->balance(f.c, "BTC", &tot, &av);
    cr_expect_eq(bft_dec_cmp_str(tot, "10"), 0);
    f.c->ops->balance(f.c, "NOPE", &tot, &av);
    cr_expect(clb_dec_is_zero(tot) && clb_dec_is_zero(av));
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect(s.market_stream_up && s.user_stream_up);
    cr_expect_geq(s.snapshots, 1);
    bft_stop(&f);
}

Test(binance, quantize_place_cancel)
{
    struct bft f;
    start_all(&f, false, NULL);
    char cid[CLB_CLIENT_ID_MAX], cid2[CLB_CLIENT_ID_MAX], x[CLB_CLIENT_ID_MAX];
    /* unaligned price and amount: buys down, sells up, amounts down */
    cr_assert_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT_MAKER, "30000.019", "0.0012345", cid),
                 CLB_OK);
    cr_assert_eq(place(&f, CLB_SIDE_SELL, CLB_ORDER_LIMIT_MAKER, "90000.011", "0.0012399", cid2),
                 CLB_OK);
    cr_expect_eq(strncmp(cid, "t-B", 3), 0, "client id %s", cid);
    cr_expect_eq(strncmp(cid2, "t-S", 3), 0, "client id %s", cid2);
    const struct clb_order_tracker *tr = f.c->ops->tracker(f.c);
    const struct clb_tracked_order *o = clb_tracker_get(tr, cid);
    cr_assert_not_null(o, "tracked before the answer");
    cr_expect_eq(o->state, CLB_ORDER_PENDING_CREATE);
    cr_expect_eq(bft_dec_cmp_str(o->price, "30000.01"), 0);
    cr_expect_eq(bft_dec_cmp_str(o->amount, "0.00123"), 0);
    o = clb_tracker_get(tr, cid2);
    cr_expect_eq(bft_dec_cmp_str(o->price, "90000.02"), 0);
    cr_expect_eq(bft_dec_cmp_str(o->amount, "0.00123"), 0);
    /* below the minimums after rounding: refused before anything is sent */
    cr_expect_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT, "30000", "0.000009", x), CLB_ERANGE);
    cr_expect_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT, "30000", "0.0001", x), CLB_ERANGE);
    cr_expect_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT, "0.001", "1", x), CLB_ERANGE);
    struct clb_order_request bad = { .market = "ETH-USDT", .side = CLB_SIDE_BUY };
    cr_expect_eq(f.c->ops->place(f.c, &bad, x), CLB_ENOTFOUND);
    cr_assert(bft_wait(&f, 5000, order_live_confirmed, cid));
    cr_assert(bft_wait(&f, 5000, order_live_confirmed, cid2));
    struct bft_order *e = bft_order_of(&f, cid);
    cr_expect(e->created);
    /* never rejected by a filter: both rest on the simulator */
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    cr_assert_eq(f.c->ops->cancel(f.c, "BTC-USDT", cid), CLB_OK);
    cr_assert_eq(clb_binance_cancel_all(f.b, "BTC-USDT"), 1);
    cr_assert(bft_wait(&f, 5000, order_terminal, cid));
    cr_assert(bft_wait(&f, 5000, order_terminal, cid2));
    cr_expect(bft_order_of(&f, cid)->cancelled);
    cr_expect(bft_order_of(&f, cid2)->cancelled);
    cr_expect_eq(f.c->ops->cancel(f.c, "BTC-USDT", "t-nope"), CLB_ENOTFOUND);
    cr_assert(bft_settle(&f, 10000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    bft_stop(&f);
}

static bool order_completed(struct bft *f, void *arg)
{
    return bft_order_of(f, arg)->completed;
}

Test(binance, fill_events_and_balances)
{
    struct bft f;
    start_all(&f, true, NULL);
    char cid[CLB_CLIENT_ID_MAX], cid2[CLB_CLIENT_ID_MAX];
    char px[32];
    /* a buy through the ask and a sell through the bid: both fill at once */
    snprintf(px, sizeof(px), "%.2f", best(&f, CLB_SIDE_SELL) * 1.01);
    cr_assert_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT, px, "0.01", cid), CLB_OK);
    cr_assert(bft_wait(&f, 5000, order_completed, cid), "buy did not complete");
    snprintf(px, sizeof(px), "%.2f", best(&f, CLB_SIDE_BUY) * 0.99);
    cr_assert_eq(place(&f, CLB_SIDE_SELL, CLB_ORDER_LIMIT, px, "0.01", cid2), CLB_OK);
    cr_assert(bft_wait(&f, 5000, order_completed, cid2), "sell did not complete");
    const struct clb_tracked_order *o = clb_tracker_get(f.c->ops->tracker(&f.c[0]), cid);
    cr_expect_eq(o->state, CLB_ORDER_FILLED);
    cr_expect_eq(bft_dec_cmp_str(o->executed_base, "0.01"), 0);
    cr_assert(bft_settle(&f, 10000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    const char *assets[] = { "BTC", "USDT" };
    cr_expect_eq(bft_check_balances(&f, assets, 2), 0);
    cr_expect_gt(f.balance_events, 0);
    cr_expect_gt(f.trade_events, 0);
    cr_expect_gt(f.book_events, 0);
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_geq(s.fills, 2);
    bft_stop(&f);
}

/* The connector's book against GET /api/v3/depth, level by level. */
static int compare_book(struct bft *f)
{
    struct sxt_http r;
    sxt_http(&f->sx, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=1000", NULL, NULL, 5000, &r);
    cr_assert_eq(r.status, 200);
    const struct clb_order_book *bk = f->c->ops->book(f->c, "BTC-USDT");
    int bad = 0;
    const char *names[2] = { "bids", "asks" };
    for (int side = 0; side < 2; side++) {
        json_t *lv = json_object_get(r.json, names[side]);
        const struct clb_book_side *s = side == 0 ? &bk->bids : &bk->asks;
        size_t n = json_array_size(lv);
        if (n != s->n) {
            cr_log_error("%s: simulator %zu levels, connector %u", names[side], n, s->n);
            bad++;
        }
        for (size_t i = 0; i < n && i < s->n; i++) {
            json_t *e = json_array_get(lv, i);
            const struct clb_level *mine = &s->lv[s->n - 1 - i];
            clb_dec p, q;
            clb_dec_parse_cstr(json_string_value(json_array_get(e, 0)), &p);
            clb_dec_parse_cstr(json_string_value(json_array_get(e, 1)), &q);
            if (clb_dec_cmp(p, clb_dec_make(mine->price, 2)) != 0 ||
                clb_dec_cmp(q, clb_dec_make(mine->qty, 5)) != 0) {
                if (bad < 5)
                    cr_log_error("%s level %zu differs", names[side], i);
                bad++;
            }
        }
    }
    sxt_http_free(&r);
    return bad;
}

Test(binance, book_matches_simulator_through_gaps)
{
    struct bft f;
    start_all(&f, true, NULL);
    /* dropped depth messages: gaps, resyncs */
    bft_faults(&f, "{\"depth_drop_rate\":0.2}");
    bft_pump(&f, 4000);
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_gt(s.book_resyncs, 0, "no resync after dropped depth updates");
    bft_faults_off(&f);
    cr_assert(bft_wait(&f, 10000, bft_is_ready, NULL));
    sxt_sim_post(&f.sx, "/sim/market", "{\"paused\":true}");
    bft_pump(&f, 800);
    cr_assert(bft_wait(&f, 10000, bft_is_ready, NULL));
    cr_expect_eq(compare_book(&f), 0, "book differs from the simulator's depth");
    bft_stop(&f);
}

Test(binance, book_polled_while_stream_down)
{
    struct bft f;
    start_all(&f, true, NULL);
    /* every WebSocket is closed right after it opens: REST takes over */
    bft_faults(&f, "{\"ws_disconnect_every_ms\":1}");
    bft_pump(&f, 2500);
    struct clb_binance_stats s0, s;
    clb_binance_stats(f.b, &s0);
    sxt_sim_post(&f.sx, "/sim/market", "{\"paused\":true}");
    bft_pump(&f, 2000);
    clb_binance_stats(f.b, &s);
    cr_expect_gt(s.market_reconnects, 0);
    cr_expect_gt(s.snapshots, s0.snapshots, "no snapshot polled while the stream was down");
    cr_expect_eq(compare_book(&f), 0);
    /* orders still work, confirmed by REST polling (a create refused for
     * its timestamp first waits for a clock resync of several samples, all
     * over REST while the streams are down: allow for it) */
    char cid[CLB_CLIENT_ID_MAX];
    place_far(&f, cid);
    if (!bft_wait(&f, ORDER_WAIT_MS, order_live_confirmed, cid)) {
        const struct clb_tracked_order *o = clb_tracker_get(f.c->ops->tracker(f.c), cid);
        clb_binance_stats(f.b, &s);
        cr_assert_fail("order %s not confirmed live: %s, confirmed %d; time syncs %" PRIu64
                       ", REST requests %" PRIu64 ", throttle waits %" PRIu64 "; log:\n%s",
                       cid, o ? clb_order_state_name(o->state) : "not tracked",
                       o ? o->confirmed : 0, s.time_syncs, s.rest_requests, s.throttle_waits,
                       f.log);
    }
    bft_faults_off(&f);
    cr_assert(bft_wait(&f, 10000, bft_is_ready, NULL));
    clb_binance_cancel_all(f.b, NULL);
    cr_assert(bft_settle(&f, 15000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    bft_stop(&f);
}

/* Places n far orders, waits until none is in flight, checks everything
 * against the simulator, cancels them all and checks again. */
static void orders_through_faults(struct bft *f, int n, int *lost)
{
    char cid[CLB_CLIENT_ID_MAX];
    for (int i = 0; i < n; i++) {
        place_far(f, cid);
        bft_pump(f, 50);
    }
    cr_assert(bft_wait(f, 30000, bft_is_idle, NULL), "orders not resolved in 30 s");
    clb_binance_cancel_all(f->b, NULL);
    cr_assert(bft_wait(f, 30000, bft_is_idle, NULL), "cancels not resolved in 30 s");
    *lost = 0;
    for (size_t i = 0; i < f->n_orders; i++)
        *lost += f->orders[i].lost;
    bft_faults_off(f);
    cr_assert(bft_settle(f, 15000));
    cr_expect_eq(bft_check_orders_and_fills(f), 0);
}

Test(binance, fault_http_5xx_not_executed)
{
    struct bft f;
    start_all(&f, false, NULL);
    bft_faults(&f, "{\"http_5xx_rate\":0.4}");
    int lost;
    orders_through_faults(&f, 12, &lost);
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_gt(s.rest_5xx, 0);
    /* creates answered 503 -1001 were never executed: declared lost only
     * after repeated definite not-found answers */
    cr_expect_gt(s.orders_unknown, 0);
    cr_expect_eq(s.orders_lost, (uint64_t)lost);
    cr_expect_geq(s.not_found, s.orders_lost * 3);
    bft_stop(&f);
}

static void no_streams_no_polling(struct clb_binance_config *bc)
{
    /* no WebSocket ever opens (nothing listens there) and REST open-orders
     * polling is off: only status queries can resolve an order */
    bc->stream_url = "ws://127.0.0.1:9";
    bc->ws_api_url = "ws://127.0.0.1:9/ws-api/v3";
    bc->poll_fast_ms = 600000;
    bc->poll_slow_ms = 600000;
}

static bool rest_ready(struct bft *f, void *arg)
{
    (void)arg;
    struct clb_connector_status st;
    f->c->ops->status(f->c, &st);
    return st.trading_rules_ready && st.balances_ready && st.order_books_ready;
}

Test(binance, fault_commit_then_5xx_or_timeout)
{
    struct clb_simex_config cfg;
    bft_sim_config(&cfg, false);
    struct bft f;
    bft_start_sim(&f, &cfg);
    struct clb_binance_config bc;
    char urls[3][128];
    bft_conn_config(&f, &bc, urls);
    no_streams_no_polling(&bc);
    bft_start_conn(&f, &bc);
    cr_assert(bft_wait(&f, 15000, rest_ready, NULL), "rules, balances, books not ready");
    bft_pump(&f, 500); /* the start-up open-orders poll is done */
    /* executed, then answered 503 or never: the outcome is unknown */
    bft_faults(&f, "{\"http_5xx_commit_rate\":0.3,\"timeout_after_commit_rate\":0.3}");
    int lost;
    orders_through_faults(&f, 10, &lost);
    cr_expect_eq(lost, 0, "an order that exists was declared lost");
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_gt(s.orders_unknown, 0);
    cr_expect_gt(s.status_queries, 0);
    cr_expect_eq(s.not_found, 0);
    for (size_t i = 0; i < f.n_orders; i++)
        cr_expect(f.orders[i].created && f.orders[i].cancelled, "order %s: created %d cancelled %d",
                  f.orders[i].cid, f.orders[i].created, f.orders[i].cancelled);
    bft_stop(&f);
}

Test(binance, fault_cancel_unknown_and_stale_reads)
{
    struct bft f;
    start_all(&f, false, NULL);
    bft_faults(&f, "{\"cancel_unknown_ms\":1500,\"stale_read_ms\":1500,"
                   "\"timeout_after_commit_rate\":0.2}");
    char cid[4][CLB_CLIENT_ID_MAX];
    for (int i = 0; i < 4; i++)
        place_far(&f, cid[i]);
    for (int i = 0; i < 4; i++) {
        cr_assert(bft_wait(&f, ORDER_WAIT_MS, order_live_confirmed, cid[i]));
        cr_assert_eq(f.c->ops->cancel(f.c, "BTC-USDT", cid[i]), CLB_OK);
    }
    for (int i = 0; i < 4; i++) {
        cr_assert(bft_wait(&f, 15000, order_terminal, cid[i]));
        cr_expect(bft_order_of(&f, cid[i])->cancelled);
    }
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_gt(s.cancel_unknown, 0, "no -2011 seen");
    cr_expect_eq(s.orders_lost, 0);
    bft_faults_off(&f);
    cr_assert(bft_settle(&f, 15000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    bft_stop(&f);
}

Test(binance, fault_ws_drops_and_server_shutdown)
{
    struct bft f;
    start_all(&f, true, NULL);
    bft_faults(&f, "{\"ws_disconnect_every_ms\":1500}");
    char cid[CLB_CLIENT_ID_MAX], px[32];
    for (int i = 0; i < 3; i++) {
        bft_pump(&f, 700);
        snprintf(px, sizeof(px), "%.2f", best(&f, CLB_SIDE_SELL) * 1.01);
        cr_assert_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT, px, "0.002", cid), CLB_OK);
        cr_assert(bft_wait(&f, ORDER_WAIT_MS, order_completed, cid));
    }
    bft_faults(&f, "{\"ws_disconnect_every_ms\":0,\"server_shutdown\":true}");
    bft_pump(&f, 1500);
    cr_assert(bft_wait(&f, 10000, bft_is_ready, NULL));
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_gt(s.market_reconnects, 0);
    cr_expect_gt(s.user_reconnects, 0);
    cr_expect_gt(s.server_shutdowns, 0);
    cr_assert(bft_wait(&f, 10000, bft_is_ready, NULL));
    clb_binance_stats(f.b, &s);
    cr_expect(s.user_stream_up && s.market_stream_up);
    cr_assert(bft_settle(&f, 15000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    const char *assets[] = { "BTC", "USDT" };
    cr_expect_eq(bft_check_balances(&f, assets, 2), 0);
    bft_stop(&f);
}

Test(binance, fault_clock_skew_resyncs)
{
    struct bft f;
    start_all(&f, false, NULL);
    struct clb_binance_stats s0, s;
    clb_binance_stats(f.b, &s0);
    bft_faults(&f, "{\"clock_skew_ms\":6000}");
    /* refused -1021: certainly not placed, so the same order goes again
     * once the clock is resynced */
    char cid[CLB_CLIENT_ID_MAX];
    place_far(&f, cid);
    cr_assert(bft_wait(&f, ORDER_WAIT_MS, order_live_confirmed, cid),
              "not placed after the resync");
    cr_expect_not(bft_order_of(&f, cid)->failed);
    clb_binance_stats(f.b, &s);
    cr_expect_gt(s.time_syncs, s0.time_syncs);
    cr_expect_gt(s.rest_errors, s0.rest_errors, "no -1021 was seen");
    cr_expect_eq(s.orders_rejected, s0.orders_rejected);
    place_far(&f, cid);
    cr_assert(bft_wait(&f, 5000, order_live_confirmed, cid));
    clb_binance_cancel_all(f.b, NULL);
    cr_assert(bft_settle(&f, 15000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    bft_stop(&f);
}

Test(binance, latency_histogram_quantiles)
{
    struct clb_binance_latency h;
    memset(&h, 0, sizeof(h));
    cr_expect_float_eq(clb_binance_latency_quantile(&h, 0.5), 0.0, 1e-9);
    /* 100 samples: 90 in (7.5 us, 10 us], 10 in (75 us, 100 us] */
    int i10 = -1, i100 = -1;
    for (int i = 0; i < CLB_BINANCE_LAT_BUCKETS - 1; i++) {
        if (clb_binance_lat_bounds_ns[i] == 10000)
            i10 = i;
        if (clb_binance_lat_bounds_ns[i] == 100000)
            i100 = i;
        if (i > 0)
            cr_assert_gt(clb_binance_lat_bounds_ns[i], clb_binance_lat_bounds_ns[i - 1]);
    }
    cr_assert(i10 > 0 && i100 > 0);
    h.buckets[i10] = 90;
    h.buckets[i100] = 10;
    h.count = 100;
    h.max_ns = 99000;
    double p50 = clb_binance_latency_quantile(&h, 0.5);
    double p99 = clb_binance_latency_quantile(&h, 0.99);
    cr_expect(p50 > 7500 && p50 <= 10000, "p50 %.0f", p50);
    cr_expect(p99 > 75000 && p99 <= 99000, "p99 %.0f", p99);
    cr_expect_float_eq(clb_binance_latency_quantile(&h, 1.0), 99000.0, 1e-6);
}

static void fast_polls(struct clb_binance_config *bc)
{
    bc->poll_fast_ms = 200;
    bc->snapshot_poll_ms = 200;
}

/* Starts with a small REQUEST_WEIGHT limit (per minute). */
static void start_limited(struct bft *f, int32_t weight, void (*tweak)(struct clb_binance_config *))
{
    struct clb_simex_config cfg;
    bft_sim_config(&cfg, false);
    cfg.limits.request_weight = weight;
    cfg.limits.ban_after_429 = 1000;
    bft_start_sim(f, &cfg);
    struct clb_binance_config bc;
    char urls[3][128];
    bft_conn_config(f, &bc, urls);
    if (tweak)
        tweak(&bc);
    bft_start_conn(f, &bc);
    cr_assert(bft_wait(f, 15000, bft_is_ready, NULL), "connector not ready");
}

Test(binance, throttler_keeps_under_the_weight_limit)
{
    struct bft f;
    start_limited(&f, 800, fast_polls);
    /* streams down: REST polling (openOrders, account, depth) every 200 ms
     * would need far more than 800 weight a minute */
    bft_faults(&f, "{\"ws_disconnect_every_ms\":1}");
    bft_pump(&f, 6000);
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_gt(s.throttle_waits, 0, "the throttler never held a request back");
    cr_expect_eq(s.rest_throttled, 0, "the exchange answered 429/418 %" PRIu64 " times",
                 s.rest_throttled);
    bft_stop(&f);
}

static bool throttled_once(struct bft *f, void *arg)
{
    (void)arg;
    struct clb_binance_stats s;
    clb_binance_stats(f->b, &s);
    return s.rest_throttled > 0;
}

Test(binance, retry_after_is_honoured)
{
    struct bft f;
    start_limited(&f, 1000, fast_polls);
    /* at least 20 s left in the weight window (Retry-After runs to its end) */
    while (sxt_now_ms() % 60000 > 40000)
        bft_pump(&f, 200);
    /* someone else on this IP uses the whole window: the connector's next
     * request gets 429 with Retry-After, and then it must wait */
    struct sxt_http r;
    for (int i = 0; i < 60; i++) {
        sxt_http(&f.sx, "GET", "/api/v3/exchangeInfo", NULL, NULL, 5000, &r);
        bool limited = r.status == 429;
        sxt_http_free(&r);
        if (limited)
            break;
    }
    bft_faults(&f, "{\"ws_disconnect_every_ms\":1}"); /* polling: requests want to go */
    cr_assert(bft_wait(&f, 5000, throttled_once, NULL), "no 429 seen");
    bft_pump(&f, 300); /* requests already in flight come back */
    struct clb_binance_stats s0, s;
    clb_binance_stats(f.b, &s0);
    bft_pump(&f, 3000);
    clb_binance_stats(f.b, &s);
    cr_expect_eq(s.rest_requests, s0.rest_requests,
                 "%" PRIu64 " requests sent during Retry-After", s.rest_requests - s0.rest_requests);
    cr_expect_geq(s.throttle_waits, 1, "nothing waited");
    cr_expect(strstr(f.log, "WARN HTTP 429: requests paused (Retry-After ") != NULL,
              "the pause is not logged as a warning: %s", f.log);
    bft_stop(&f);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static bool all_answered(struct bft *f, void *arg)
{
    (void)arg;
    const struct clb_order_tracker *tr = f->c->ops->tracker(f->c);
    for (const struct clb_tracked_order *o = clb_tracker_first(tr); o; o = clb_tracker_next(tr, o))
        if (o->state == CLB_ORDER_PENDING_CREATE)
            return false;
    return true;
}

/* Random unaligned prices and amounts: what place() sends is exactly on the
 * grid, never more aggressive than asked, never larger than asked, and the
 * exchange accepts every one of them (no filter failure). */
Test(binance, random_orders_never_fail_a_filter)
{
    struct bft f;
    start_all(&f, false, NULL);
    uint64_t seed = 42;
    clb_dec tick, step;
    clb_dec_parse_cstr("0.01", &tick);
    clb_dec_parse_cstr("0.00001", &step);
    int placed = 0, refused = 0;
    for (int i = 0; i < 80; i++) {
        enum clb_side side = splitmix64(&seed) % 2 ? CLB_SIDE_BUY : CLB_SIDE_SELL;
        int pd = (int)(splitmix64(&seed) % 5), ad = 3 + (int)(splitmix64(&seed) % 6);
        /* buys below 50000, sells above 60000: our own orders never cross */
        int64_t pm = (side == CLB_SIDE_BUY ? 20000 : 60000) +
                     (int64_t)(splitmix64(&seed) % 30000),
                am;
        for (int k = 0; k < pd; k++)
            pm = pm * 10 + (int64_t)(splitmix64(&seed) % 10);
        int64_t ascale = 1;
        for (int k = 0; k < ad; k++)
            ascale *= 10;
        /* up to 0.05 base, or (one in three) up to 0.0002: around the
         * minimum notional of 5 quote */
        uint64_t amax = splitmix64(&seed) % 3 ? (uint64_t)(ascale / 20)
                                               : (uint64_t)(ascale / 5000);
        am = 1 + (int64_t)(splitmix64(&seed) % (amax ? amax : 1));
        struct clb_order_request rq = { .market = "BTC-USDT", .side = side,
                                        .type = CLB_ORDER_LIMIT_MAKER,
                                        .price = clb_dec_make(pm, pd),
                                        .amount = clb_dec_make(am, ad) };
        char cid[CLB_CLIENT_ID_MAX];
        int rc = f.c->ops->place(f.c, &rq, cid);
        if (rc == CLB_ERANGE) {
            refused++;
            continue;
        }
        cr_assert_eq(rc, CLB_OK, "place: %s", clb_strerror(rc));
        placed++;
        const struct clb_tracked_order *o = clb_tracker_get(f.c->ops->tracker(f.c), cid);
        cr_assert_not_null(o);
        clb_dec diff;
        cr_expect(clb_dec_is_multiple(o->price, tick));
        cr_expect(clb_dec_is_multiple(o->amount, step));
        if (side == CLB_SIDE_BUY) {
            cr_expect_leq(clb_dec_cmp(o->price, rq.price), 0, "buy rounded up");
            clb_dec_sub(rq.price, o->price, &diff);
        } else {
            cr_expect_geq(clb_dec_cmp(o->price, rq.price), 0, "sell rounded down");
            clb_dec_sub(o->price, rq.price, &diff);
        }
        cr_expect_lt(clb_dec_cmp(diff, tick), 0, "price moved by a tick or more");
        cr_expect_leq(clb_dec_cmp(o->amount, rq.amount), 0);
        clb_dec_sub(rq.amount, o->amount, &diff);
        cr_expect_lt(clb_dec_cmp(diff, step), 0);
    }
    cr_expect_gt(placed, 40);
    cr_expect_gt(refused, 0, "no order below the minimum notional was drawn");
    cr_assert(bft_wait(&f, 15000, all_answered, NULL));
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_eq(s.orders_rejected, 0, "the exchange refused %" PRIu64 " orders",
                 s.orders_rejected);
    clb_binance_cancel_all(f.b, NULL);
    cr_assert(bft_settle(&f, 20000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    bft_stop(&f);
}

/* ------------------------------------------------------------------------ */
/* Orders over the WebSocket API                                             */

/* Creates and cancels go over the WS API while it is open: no REST order
 * request at all; a WS-API request the simulator executes and then never
 * answers (or answers 503) is handled like a REST create that timed out:
 * tracked until status queries confirm it, never declared lost. */
Test(binance, ws_api_orders_through_commit_faults)
{
    struct bft f;
    start_all(&f, false, NULL);
    bft_pump(&f, 300);
    struct clb_binance_stats s0, s;
    clb_binance_stats(f.b, &s0);
    char cid[CLB_CLIENT_ID_MAX];
    place_far(&f, cid);
    cr_assert(bft_wait(&f, ORDER_WAIT_MS, order_live_confirmed, cid));
    cr_assert_eq(f.c->ops->cancel(f.c, "BTC-USDT", cid), CLB_OK);
    cr_assert(bft_wait(&f, ORDER_WAIT_MS, order_terminal, cid));
    clb_binance_stats(f.b, &s);
    cr_expect_eq(s.ws_api_requests - s0.ws_api_requests, 2, "create and cancel over the WS API");
    cr_expect_eq(s.orders_placed - s0.orders_placed, 1);
    cr_expect_eq(s.status_queries - s0.status_queries, 0);

    bft_faults(&f, "{\"http_5xx_commit_rate\":0.25,\"timeout_after_commit_rate\":0.25}");
    int lost;
    orders_through_faults(&f, 12, &lost);
    cr_expect_eq(lost, 0, "an order that exists was declared lost");
    clb_binance_stats(f.b, &s);
    cr_expect_gt(s.ws_api_requests - s0.ws_api_requests, 24);
    cr_expect_gt(s.ws_api_timeouts, 0, "no WS-API request was left unanswered");
    /* unknown outcomes, settled by the user stream or status queries */
    cr_expect_gt(s.orders_unknown, 0);
    cr_expect_eq(s.not_found, 0);
    for (size_t i = 0; i < f.n_orders; i++)
        cr_expect(f.orders[i].created && f.orders[i].cancelled, "order %s: created %d cancelled %d",
                  f.orders[i].cid, f.orders[i].created, f.orders[i].cancelled);
    bft_stop(&f);
}

/* A WS-API order whose connection drops before the answer: outcome unknown,
 * resolved by status queries; REST carries orders while the WS API is down. */
Test(binance, ws_api_connection_lost_with_orders_in_flight)
{
    struct bft f;
    start_all(&f, false, NULL);
    bft_pump(&f, 300);
    /* every WS-API order answer held: each create stays in flight until the
     * connection is dropped under it */
    bft_faults(&f, "{\"timeout_after_commit_rate\":1.0}");
    char cid[4][CLB_CLIENT_ID_MAX];
    for (int i = 0; i < 4; i++)
        place_far(&f, cid[i]);
    bft_pump(&f, 200);
    bft_faults(&f, "{\"timeout_after_commit_rate\":0,\"ws_disconnect_every_ms\":100}");
    bft_pump(&f, 300);
    bft_faults(&f, "{\"ws_disconnect_every_ms\":0}");
    for (int i = 0; i < 4; i++)
        cr_assert(bft_wait(&f, 10000, order_live_confirmed, cid[i]), "order %d not confirmed", i);
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_geq(s.ws_api_timeouts, 4);
    cr_expect_geq(s.orders_unknown, 4);
    cr_expect_eq(s.orders_lost, 0);
    clb_binance_cancel_all(f.b, NULL);
    cr_assert(bft_settle(&f, 15000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    bft_stop(&f);
}

static void rest_orders(struct clb_binance_config *bc)
{
    bc->orders_over_rest = true;
}

Test(binance, orders_over_rest_when_configured)
{
    struct bft f;
    start_all(&f, false, rest_orders);
    char cid[CLB_CLIENT_ID_MAX];
    place_far(&f, cid);
    cr_assert(bft_wait(&f, ORDER_WAIT_MS, order_live_confirmed, cid));
    cr_assert_eq(f.c->ops->cancel(f.c, "BTC-USDT", cid), CLB_OK);
    cr_assert(bft_wait(&f, ORDER_WAIT_MS, order_terminal, cid));
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_eq(s.ws_api_requests, 0);
    cr_expect_eq(s.orders_placed, 1);
    cr_expect_eq(s.cancels_sent, 1);
    cr_assert(bft_settle(&f, 15000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    bft_stop(&f);
}

/* ------------------------------------------------------------------------ */
/* Recovery: a restart after a crash                                         */

/* What the store would hold of order cid: its record from the tracker of
 * the run that crashed, as state (its fills go with it). */
struct rec_order {
    char cid[CLB_CLIENT_ID_MAX], xid[CLB_EXCHANGE_ORDER_ID_MAX], market[CLB_SYMBOL_MAX];
    char fee_asset[CLB_ASSET_MAX];
    struct clb_order_restore r;
    struct clb_fill fills[4];
};

static void record_order(struct bft *f, struct rec_order *ro, const char *cid, int state,
                         bool with_xid)
{
    const struct clb_tracked_order *o = clb_tracker_get(f->c->ops->tracker(f->c), cid);
    cr_assert_not_null(o, "%s", cid);
    memset(ro, 0, sizeof(*ro));
    snprintf(ro->cid, sizeof(ro->cid), "%s", cid);
    snprintf(ro->xid, sizeof(ro->xid), "%s", with_xid ? o->exchange_order_id : "");
    snprintf(ro->market, sizeof(ro->market), "%s", o->market);
    snprintf(ro->fee_asset, sizeof(ro->fee_asset), "%s", o->n_fee_assets ? o->fees[0].asset : "");
    ro->r.params = (struct clb_order_params){ .client_order_id = ro->cid, .market = ro->market,
                                              .side = o->side, .type = o->type,
                                              .price = o->price, .amount = o->amount };
    ro->r.exchange_order_id = ro->xid;
    ro->r.state = (enum clb_order_state)state;
    ro->r.fills = ro->fills;
    for (size_t i = 0; i < f->n_fills && ro->r.n_fills < 4; i++)
        if (strcmp(f->fills[i].cid, cid) == 0)
            ro->fills[ro->r.n_fills++] = (struct clb_fill){
                .trade_id = f->fills[i].trade_id, .price = f->fills[i].price,
                .amount = f->fills[i].amount, .fee = f->fills[i].fee,
                .fee_asset = clb_dec_is_zero(f->fills[i].fee) ? NULL : ro->fee_asset };
}

static size_t fills_of(const struct bft *f, const char *cid)
{
    size_t n = 0;
    for (size_t i = 0; i < f->n_fills; i++)
        n += strcmp(f->fills[i].cid, cid) == 0;
    return n;
}

/* A second account (bob) trading against alice's resting orders. */
struct bob {
    struct clb_event_bus bus;
    struct clb_binance *b;
};

static void bob_start(struct bft *f, struct bob *bob)
{
    struct clb_binance_config bc;
    char urls[3][128];
    bft_conn_config(f, &bc, urls);
    bc.api_key = SXT_BOB;
    bc.api_secret = SXT_BOB_SECRET;
    bc.client_id_prefix = "bob-";
    clb_event_bus_init(&bob->bus);
    char err[256];
    cr_assert_eq(clb_binance_create(f->loop, &bc, &bob->bus, &bob->b, err, sizeof(err)), CLB_OK,
                 "%s", err);
    int64_t end = clb_netloop_mono_ns() + INT64_C(15000000000);
    while (!clb_connector_ready(clb_binance_connector(bob->b)) && clb_netloop_mono_ns() < end)
        clb_netloop_poll(f->loop, NULL, 0, 10);
    cr_assert(clb_connector_ready(clb_binance_connector(bob->b)), "bob not ready");
}

/* Bob sells amount at price: a taker that must finish (resting = false),
 * or a maker left on the book (resting = true). */
static void bob_sell(struct bft *f, struct bob *bob, const char *price, const char *amount,
                     bool resting)
{
    struct clb_connector *c = clb_binance_connector(bob->b);
    struct clb_order_request rq = { .market = "BTC-USDT", .side = CLB_SIDE_SELL,
                                    .type = resting ? CLB_ORDER_LIMIT_MAKER : CLB_ORDER_LIMIT };
    cr_assert_eq(clb_dec_parse_cstr(price, &rq.price), CLB_OK);
    cr_assert_eq(clb_dec_parse_cstr(amount, &rq.amount), CLB_OK);
    char cid[CLB_CLIENT_ID_MAX];
    cr_assert_eq(c->ops->place(c, &rq, cid), CLB_OK);
    int64_t end = clb_netloop_mono_ns() + INT64_C(5000000000);
    const struct clb_tracked_order *o;
    while ((!(o = clb_tracker_get(c->ops->tracker(c), cid)) ||
            (resting ? !o->confirmed : !clb_order_state_is_terminal(o->state))) &&
           clb_netloop_mono_ns() < end)
        clb_netloop_poll(f->loop, NULL, 0, 10);
    cr_assert(o && (resting ? o->confirmed && !clb_order_state_is_terminal(o->state)
                            : o->state == CLB_ORDER_FILLED),
              "bob's sell: %s", o ? clb_order_state_name(o->state) : "not tracked");
}

static bool fills_at_least(struct bft *f, void *arg)
{
    return f->n_fills >= *(size_t *)arg;
}

Test(binance, restart_resolves_the_orders_of_an_earlier_run, .timeout = 90)
{
    struct bft f;
    start_all(&f, false, NULL);
    struct bob bob;
    bob_start(&f, &bob);
    /* Run 1 (an empty book: the simulator's market is static): three
     * resting buys at 30000, one above them that bob half-fills, and two
     * that take bob's resting sell at once. */
    char a[CLB_CLIENT_ID_MAX], c[CLB_CLIENT_ID_MAX], d[CLB_CLIENT_ID_MAX],
        e[CLB_CLIENT_ID_MAX], g[CLB_CLIENT_ID_MAX], h[CLB_CLIENT_ID_MAX];
    cr_assert_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT_MAKER, "30000", "0.001", a), CLB_OK);
    cr_assert_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT_MAKER, "30000", "0.001", c), CLB_OK);
    cr_assert_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT_MAKER, "30000", "0.001", d), CLB_OK);
    cr_assert_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT_MAKER, "30500", "0.002", h), CLB_OK);
    bob_sell(&f, &bob, "31000", "0.02", true);
    cr_assert_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT, "31000", "0.01", e), CLB_OK);
    cr_assert_eq(place(&f, CLB_SIDE_BUY, CLB_ORDER_LIMIT, "31000", "0.01", g), CLB_OK);
    cr_assert(bft_wait(&f, 5000, order_live_confirmed, a));
    cr_assert(bft_wait(&f, 5000, order_live_confirmed, c));
    cr_assert(bft_wait(&f, 5000, order_live_confirmed, d));
    cr_assert(bft_wait(&f, 5000, order_live_confirmed, h));
    cr_assert(bft_wait(&f, 5000, order_completed, e));
    cr_assert(bft_wait(&f, 5000, order_completed, g));
    size_t want = f.n_fills + 1;
    bob_sell(&f, &bob, "30500", "0.001", false);
    cr_assert(bft_wait(&f, 5000, fills_at_least, &want), "h's first fill not seen");
    cr_assert_eq(fills_of(&f, h), 1);

    /* What the store holds at the crash: a open; c with its create
     * unanswered; h partly filled (one fill); e finished; d never written
     * (placed just before the crash); plus an order whose create never
     * left the process. */
    static struct rec_order ra, rc, rh, rf;
    record_order(&f, &ra, a, CLB_ORDER_OPEN, true);
    record_order(&f, &rc, c, CLB_ORDER_PENDING_CREATE, false);
    record_order(&f, &rh, h, CLB_ORDER_PARTIALLY_FILLED, true);
    record_order(&f, &rf, a, CLB_ORDER_PENDING_CREATE, false);
    snprintf(rf.cid, sizeof(rf.cid), "t-BBCUT%s", "1234567890abc0000");
    /* g finished in run 1 but its records never reached the store: its
     * fills are forgotten here, as the store forgot them */
    size_t kept = 0;
    for (size_t i = 0; i < f.n_fills; i++)
        if (strcmp(f.fills[i].cid, g) != 0)
            f.fills[kept++] = f.fills[i];
    size_t g_fills = f.n_fills - kept;
    cr_assert_gt(g_fills, 0);
    f.n_fills = kept;
    size_t fills_run1 = f.n_fills;
    int64_t since_ms = (int64_t)time(NULL) * 1000 - 60000; /* before run 1 */

    /* The crash: the connector goes away, the orders stay on the exchange. */
    clb_binance_destroy(f.b);
    f.b = NULL;
    /* Downtime: bob fills the rest of h. */
    bob_sell(&f, &bob, "30500", "0.001", false);

    /* Run 2. */
    struct clb_order_restore restore[4] = { ra.r, rc.r, rh.r, rf.r };
    const char *known[] = { e };
    struct clb_binance_config bc;
    char urls[3][128];
    bft_conn_config(&f, &bc, urls);
    bc.restore = restore;
    bc.n_restore = 4;
    bc.known_ids = known;
    bc.n_known = 1;
    bc.adopt_since_ms = since_ms;
    bft_start_conn(&f, &bc);
    struct clb_binance_stats s;
    clb_binance_stats(f.b, &s);
    cr_expect_eq(s.orders_restored, 4);
    cr_assert(bft_wait(&f, 15000, bft_is_ready, NULL));
    cr_assert(bft_settle(&f, 20000), "not settled after the restart");

    const struct clb_order_tracker *tr = f.c->ops->tracker(f.c);
    /* a and c: live on the exchange, adopted and cancelled */
    cr_expect_eq(clb_tracker_get(tr, a)->state, CLB_ORDER_CANCELED);
    cr_expect_eq(clb_tracker_get(tr, c)->state, CLB_ORDER_CANCELED);
    cr_expect(bft_order_of(&f, c)->created, "c's confirmation is news");
    /* d: unknown to the store, found by the sweep, tracked and cancelled */
    const struct clb_tracked_order *od = clb_tracker_get(tr, d);
    cr_assert_not_null(od, "d was not adopted");
    cr_expect_eq(od->state, CLB_ORDER_CANCELED);
    /* g: finished, unknown to the store: found by the sweep, with its fills */
    const struct clb_tracked_order *og = clb_tracker_get(tr, g);
    cr_assert_not_null(og, "g was not found by the sweep");
    cr_expect_eq(og->state, CLB_ORDER_FILLED);
    cr_expect_eq(fills_of(&f, g), g_fills);
    /* e: known and finished: left alone */
    cr_expect_null(clb_tracker_get(tr, e));
    /* h: its downtime fill arrives once, the recorded one is not repeated */
    cr_expect_eq(clb_tracker_get(tr, h)->state, CLB_ORDER_FILLED);
    cr_expect_eq(fills_of(&f, h), 2);
    cr_expect(bft_order_of(&f, h)->completed);
    cr_expect_eq(f.n_fills, fills_run1 + 1 + g_fills);
    /* the order that never reached the exchange: lost */
    const struct clb_tracked_order *of = clb_tracker_get(tr, rf.cid);
    cr_assert_not_null(of);
    cr_expect_eq(of->state, CLB_ORDER_FAILED);
    cr_expect(of->lost);
    clb_binance_stats(f.b, &s);
    cr_expect_geq(s.sweeps, 1);
    cr_expect_eq(s.orphans_adopted, 2, "adopted %" PRIu64, s.orphans_adopted);
    /* nothing open anywhere, every trade exactly once */
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    clb_binance_destroy(bob.b);
    bft_stop(&f);
}
