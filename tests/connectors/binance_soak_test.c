/*
 * binance_soak_test.c — end-to-end soak of the Binance connector: Hummingbot's
 * pure market making (created through the strategy registry, as the engine
 * does) trades BTC-USDT on colibri-simex with every fault on, on a realtime
 * clock driven by this thread's netloop. Afterwards, with the market paused
 * and the faults off, the connector must agree with the simulator exactly:
 *   - every order the simulator holds for the account is known to the
 *     connector, every live one is live in its tracker, and every order the
 *     tracker has live is live on the simulator (no orphans either way);
 *   - every simulator trade appears exactly once in the connector's fills;
 *   - balances equal the simulator's ledger.
 * Then the strategy stops (cancelling its orders), and the same holds with
 * nothing left open.
 *
 * Length: COLIBRI_SOAK_SECONDS (default 60); scripts/binance-soak.sh runs the
 * long version. COLIBRI_SOAK_SEED picks the simulator's seed (default 11).
 */
#include "binance_fixture.h"
#include "clock.h"
#include "pure_market_making.h"
#include "strategy.h"

static int env_int(const char *name, int def)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : def;
}

static struct clb_strategy *make_pmm(struct clb_connector *c)
{
    const struct clb_strategy_ops *ops = clb_strategy_find("pure_market_making");
    cr_assert_not_null(ops, "pure_market_making is not registered");
    void *cfg = calloc(1, ops->config_size);
    cr_assert_not_null(cfg);
    clb_params_defaults(ops->params, ops->n_params, cfg);
    const char *kv[] = {
        "order_amount=0.002",   "order_levels=2",        "bid_spread=0.01",
        "ask_spread=0.01",      "order_level_spread=0.01", "order_refresh_time=2",
        "max_order_age=6",      "filled_order_delay=1",  "order_refresh_tolerance_pct=0",
    };
    char err[256];
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        cr_assert_eq(clb_params_set_kv(ops->params, ops->n_params, cfg, kv[i], err, sizeof(err)),
                     CLB_OK, "%s: %s", kv[i], err);
    struct clb_strategy *s = NULL;
    cr_assert_eq(ops->create(cfg, &s, err, sizeof(err)), CLB_OK, "create: %s", err);
    free(cfg);
    cr_assert_eq(clb_strategy_attach(s, c, "BTC-USDT", 1, "pmm"), CLB_OK);
    return s;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Polls the loop and delivers the clock's ticks, for ms. */
static void run_clock(struct bft *f, struct clb_clock *clk, int64_t ms)
{
    int64_t end = clb_netloop_mono_ns() + ms * 1000000;
    while (clb_netloop_mono_ns() < end) {
        int64_t now = wall_ns();
        if (clb_clock_next_tick_ns(clk) <= now)
            clb_clock_advance_to(clk, now);
        int64_t wait_ms = (clb_clock_next_tick_ns(clk) - now) / 1000000;
        clb_netloop_poll(f->loop, NULL, 0, wait_ms < 1 ? 1 : wait_ms > 20 ? 20 : (int)wait_ms);
    }
}

Test(binance_soak, pmm_with_faults)
{
    int seconds = env_int("COLIBRI_SOAK_SECONDS", 60);
    struct clb_simex_config cfg;
    bft_sim_config(&cfg, true);
    cfg.seed = (uint64_t)env_int("COLIBRI_SOAK_SEED", 11);
    struct bft f;
    bft_start_sim(&f, &cfg);
    struct clb_binance_config bc;
    char urls[3][128];
    bft_conn_config(&f, &bc, urls);
    bc.client_id_prefix = "soak-";
    bft_start_conn(&f, &bc);
    cr_assert(bft_wait(&f, 15000, bft_is_ready, NULL), "connector not ready");

    struct clb_clock clk;
    struct clb_clock_config cc = { .mode = CLB_CLOCK_REALTIME, .tick_ns = 1000000000 };
    cr_assert_eq(clb_clock_init(&clk, &cc), CLB_OK);
    struct clb_strategy *s = make_pmm(f.c);
    cr_assert_eq(clb_clock_add(&clk, &f.c->it), CLB_OK);
    cr_assert_eq(clb_clock_add(&clk, &s->it), CLB_OK);
    cr_assert_eq(clb_clock_start(&clk, wall_ns()), CLB_OK);

    /* every fault the simulator has, at rates that leave the market tradable */
    bft_faults(&f, "{\"latency_ms\":2,\"jitter_ms\":20,\"http_5xx_rate\":0.03,"
                   "\"http_5xx_commit_rate\":0.05,\"timeout_after_commit_rate\":0.05,"
                   "\"cancel_unknown_ms\":300,\"stale_read_ms\":800,"
                   "\"ws_disconnect_every_ms\":9000,\"depth_drop_rate\":0.02,"
                   "\"shutdown_every_ms\":13000}");
    int64_t t0 = clb_netloop_mono_ns();
    for (int done = 0; done < seconds; done += 10) {
        int step = seconds - done < 10 ? seconds - done : 10;
        if (done == seconds / 2) {
            /* a clock jump half-way: -1021 answers, then a resync */
            bft_faults(&f, "{\"clock_skew_ms\":2500}");
        }
        run_clock(&f, &clk, (int64_t)step * 1000);
        struct clb_binance_stats st;
        clb_binance_stats(f.b, &st);
        cr_log_info("soak %ds: placed %" PRIu64 " fills %" PRIu64 " unknown %" PRIu64
                    " lost %" PRIu64 " cancel-2011 %" PRIu64 " resyncs %" PRIu64
                    " reconnects %" PRIu64 "/%" PRIu64 " shutdowns %" PRIu64,
                    done + step, st.orders_placed, st.fills, st.orders_unknown, st.orders_lost,
                    st.cancel_unknown, st.book_resyncs, st.market_reconnects,
                    st.user_reconnects, st.server_shutdowns);
    }
    /* end between two refreshes, when the strategy has orders resting; plus
     * a few resting orders of our own, placed with the faults still on, so
     * the check below always has live orders to compare */
    run_clock(&f, &clk, 1300);
    for (int i = 1; i <= 4; i++) { /* half the market price: they never fill */
        struct clb_order_request rq = { .market = "BTC-USDT", .side = CLB_SIDE_BUY,
                                        .type = CLB_ORDER_LIMIT_MAKER,
                                        .price = clb_dec_make(3000000 - i, 2),
                                        .amount = clb_dec_make(1000, 6) };
        char cid[CLB_CLIENT_ID_MAX];
        cr_expect_eq(f.c->ops->place(f.c, &rq, cid), CLB_OK);
    }
    cr_log_info("soak ran %.1f s", (double)(clb_netloop_mono_ns() - t0) / 1e9);

    /* freeze: no more decisions, no more market moves, no more faults */
    const struct clb_pmm *pmm = (const struct clb_pmm *)s;
    cr_log_info("at the freeze: %u live orders tracked; strategy placed %" PRIu64
                " (errors %" PRIu64 "), cancels %" PRIu64 ", fills %" PRIu64
                ", ticks not ready %" PRIu64,
                clb_tracker_count_live(f.c->ops->tracker(f.c)), pmm->book.placed,
                pmm->book.place_errors, pmm->book.cancels, pmm->book.fills,
                pmm->ticks_not_ready);
    sxt_sim_post(&f.sx, "/sim/market", "{\"paused\":true}");
    bft_faults_off(&f);
    cr_assert(bft_settle(&f, 30000), "connector did not settle");
    struct clb_binance_stats st;
    clb_binance_stats(f.b, &st);
    cr_expect_gt(st.orders_placed, 10, "the strategy hardly traded");
    cr_expect_gt(st.orders_unknown, 0, "no create with an unknown outcome was exercised");
    cr_expect_gt(st.market_reconnects + st.user_reconnects, 0);
    /* both order paths ran: the WS API while it was up, REST while it was
     * down (reconnects) */
    cr_expect_gt(st.ws_api_requests, 0, "no order went over the WebSocket API");
    cr_log_info("fills %" PRIu64 ", duplicates suppressed %" PRIu64 ", lost %" PRIu64
                ", orphans adopted %" PRIu64 ", WS-API order requests %" PRIu64
                " (unanswered %" PRIu64 ")",
                st.fills, st.fill_duplicates, st.orders_lost, st.orphans_adopted,
                st.ws_api_requests, st.ws_api_timeouts);
    cr_expect_eq(bft_check_orders_and_fills(&f), 0, "orders or fills disagree");
    const char *assets[] = { "BTC", "USDT" };
    cr_expect_eq(bft_check_balances(&f, assets, 2), 0, "balances disagree");

    /* stop: the strategy cancels its orders; nothing may stay open */
    cr_assert_eq(clb_clock_stop(&clk, wall_ns()), CLB_OK);
    clb_binance_cancel_all(f.b, NULL);
    cr_assert(bft_settle(&f, 30000));
    cr_expect_eq(bft_check_orders_and_fills(&f), 0);
    cr_expect_eq(bft_check_balances(&f, assets, 2), 0);
    const struct clb_order_tracker *tr = f.c->ops->tracker(f.c);
    cr_expect_eq(clb_tracker_count_live(tr), 0);

    clb_clock_remove(&clk, &s->it);
    clb_clock_remove(&clk, &f.c->it);
    clb_clock_deinit(&clk);
    clb_strategy_detach(s);
    s->ops->destroy(s);
    bft_stop(&f);
}
