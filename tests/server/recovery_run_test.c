/*
 * clb_recovery_run on a store with orders of an exchange connector, a
 * paper connector and a connector no longer configured, on both backends
 * (COLIBRI_TEST_STORE): what each kind gets. Paper open orders are closed
 * in the store; the exchange's open orders are handed over untouched, each
 * with exactly its own recorded fills, with the sweep window starting a
 * minute before the newest stored order and the ids stored since then;
 * orders of an unconfigured connector are left alone.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "error.h"
#include "order_tracker.h"
#include "recovery.h"
#include "store_testlib.h"

TestSuite(recovery_run, .init = tl_db_create, .fini = tl_db_drop, .timeout = 60);

#define T0 INT64_C(1764000000000) /* a wall-clock time in ms */

static struct clb_store_rec order(const char *cid, const char *conn, int state, int64_t ts,
                                  const char *xid)
{
    struct clb_store_rec r = tl_order(cid, state, ts);
    clb_store_strlcpy(r.u.order.connector, sizeof(r.u.order.connector), conn);
    clb_store_strlcpy(r.u.order.exchange_order_id, sizeof(r.u.order.exchange_order_id), xid);
    return r;
}

static struct clb_store_rec fill(const char *cid, const char *conn, const char *tid,
                                 int64_t amount_e6)
{
    struct clb_store_rec r = tl_fill(cid, tid, "BTC-USDT", T0);
    clb_store_strlcpy(r.u.fill.connector, sizeof(r.u.fill.connector), conn);
    r.u.fill.amount = clb_dec_make(amount_e6, 6);
    return r;
}

static int state_of(struct clb_store *st, const char *cid)
{
    struct clb_store_order o;
    cr_assert_eq(clb_store_order_get(st, cid, &o), CLB_OK, "%s", cid);
    return o.state;
}

Test(recovery_run, exchange_orders_are_handed_over_with_their_fills)
{
    struct clb_store *st = tl_open(NULL);
    struct clb_store_rec recs[] = {
        order("b-old", "bn", CLB_ORDER_CANCELED, T0 - 120000, "7"),
        order("b-open", "bn", CLB_ORDER_PARTIALLY_FILLED, T0 - 5000, "11"),
        order("b-pend", "bn", CLB_ORDER_PENDING_CREATE, T0 - 4000, ""),
        order("b-done", "bn", CLB_ORDER_FILLED, T0 - 3000, "13"),
        order("p-open", "paper", CLB_ORDER_OPEN, T0 - 2000, "1"),
        order("z-open", "gone", CLB_ORDER_OPEN, T0 - 1000, "2"),
        fill("b-open", "bn", "t1", 400),
        fill("b-done", "bn", "t3", 1500),
        fill("b-open", "bn", "t2", 300),
        fill("p-open", "paper", "1", 100),
    };
    clb_store_strlcpy(recs[1].u.order.strategy_id, sizeof(recs[1].u.order.strategy_id), "7");
    cr_assert_eq(clb_store_write(st, recs, sizeof(recs) / sizeof(recs[0])), CLB_OK, "%s",
                 clb_store_errmsg(st));
    /* strategies of earlier runs: the highest numeric id is the new base;
     * the running ones with a numeric id are to resume (7: two venues) */
    static const char *const sids[] = { "3", "12", "x-99", "7", "5" };
    static const char *const stat[] = { "running", "stopped", "running", "running", "deleted" };
    for (size_t i = 0; i < 5; i++) {
        struct clb_store_rec sr;
        memset(&sr, 0, sizeof(sr));
        sr.type = CLB_STORE_REC_STRATEGY;
        clb_store_strlcpy(sr.u.strategy.id, sizeof(sr.u.strategy.id), sids[i]);
        clb_store_strlcpy(sr.u.strategy.name, sizeof(sr.u.strategy.name), "s");
        clb_store_strlcpy(sr.u.strategy.type, sizeof(sr.u.strategy.type), "pure_market_making");
        clb_store_strlcpy(sr.u.strategy.status, sizeof(sr.u.strategy.status), stat[i]);
        clb_store_strlcpy(sr.u.strategy.connector, sizeof(sr.u.strategy.connector), "paper");
        clb_store_strlcpy(sr.u.strategy.market, sizeof(sr.u.strategy.market), "BTC-USDT");
        sr.u.strategy.config_json = i == 0 ? "{\"bid_spread\": 0.02}" : "{}";
        sr.u.strategy.state_json = i == 3 ? "{\"trades\": 4, \"connector_2\": \"uni\", "
                                            "\"market_2\": \"WETH-USDC\"}"
                                          : "{\"trades\": 1}";
        sr.u.strategy.created_ms = sr.u.strategy.updated_ms = T0;
        cr_assert_eq(clb_store_write(st, &sr, 1), CLB_OK, "%s", clb_store_errmsg(st));
    }
    json_t *conns = json_loads("[{\"name\": \"paper\", \"type\": \"paper\"},"
                               " {\"name\": \"bn\", \"type\": \"binance\"}]",
                               0, NULL);
    cr_assert_not_null(conns);
    static struct clb_recovery r;
    char err[256];
    cr_assert_eq(clb_recovery_run(st, conns, T0, NULL, &r, err, sizeof(err)), CLB_OK, "%s", err);

    /* the exchange's two open orders, oldest first, each with its own fills */
    cr_assert_eq(r.n_xs, 1);
    const struct clb_recovery_exchange *xe = &r.xs[0];
    cr_assert_str_eq(xe->name, "bn");
    cr_assert_eq(xe->n_orders, 2);
    cr_assert_eq(r.orders_handed, 2);
    const struct clb_order_restore *o = &xe->orders[0];
    cr_assert_str_eq(o->params.client_order_id, "b-open");
    cr_assert_str_eq(o->params.market, "BTC-USDT");
    cr_assert_str_eq(o->exchange_order_id, "11");
    cr_assert_eq(o->state, CLB_ORDER_PARTIALLY_FILLED);
    cr_assert_eq(o->params.side, CLB_SIDE_SELL);
    cr_assert_eq(clb_dec_cmp(o->params.amount, clb_dec_make(1500, 6)), 0);
    cr_assert_eq(o->n_fills, 2);
    bool t1 = false, t2 = false;
    for (size_t i = 0; i < o->n_fills; i++) {
        t1 = t1 || (strcmp(o->fills[i].trade_id, "t1") == 0 &&
                    clb_dec_cmp(o->fills[i].amount, clb_dec_make(400, 6)) == 0);
        t2 = t2 || (strcmp(o->fills[i].trade_id, "t2") == 0 &&
                    clb_dec_cmp(o->fills[i].amount, clb_dec_make(300, 6)) == 0);
        cr_assert_str_eq(o->fills[i].fee_asset, "USDT");
    }
    cr_assert(t1 && t2, "b-open's fills are not t1 and t2");
    cr_assert_eq(xe->owners[0], 7, "b-open's strategy");
    cr_assert_eq(xe->owners[1], 0, "b-pend was manual");
    o = &xe->orders[1];
    cr_assert_str_eq(o->params.client_order_id, "b-pend");
    cr_assert_str_eq(o->exchange_order_id, "");
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CREATE);
    cr_assert_eq(o->n_fills, 0);
    /* the sweep window and the ids stored in it (b-old is older) */
    cr_assert_eq(xe->since_ms, T0 - 3000 - CLB_RECOVERY_SWEEP_MARGIN_MS);
    cr_assert_eq(xe->n_known, 3);
    bool seen_old = false, seen_done = false;
    for (size_t i = 0; i < xe->n_known; i++) {
        seen_old = seen_old || strcmp(xe->known_ptrs[i], "b-old") == 0;
        seen_done = seen_done || strcmp(xe->known_ptrs[i], "b-done") == 0;
    }
    cr_assert(!seen_old && seen_done);

    /* the store: paper's open order closed, the others untouched */
    cr_assert_eq(state_of(st, "p-open"), CLB_ORDER_CANCELED);
    cr_assert_eq(state_of(st, "b-open"), CLB_ORDER_PARTIALLY_FILLED);
    cr_assert_eq(state_of(st, "b-pend"), CLB_ORDER_PENDING_CREATE);
    cr_assert_eq(state_of(st, "z-open"), CLB_ORDER_OPEN);
    cr_assert_eq(r.orders_closed, 1);

    /* handed to the engine: paper first, then the exchange */
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    clb_recovery_apply(&r, &cfg);
    cr_assert_eq(cfg.n_conn_start, 2);
    cr_assert_str_eq(cfg.conn_start[0].connector, "paper");
    cr_assert_eq(cfg.conn_start[0].n_restore, 0);
    cr_assert_str_eq(cfg.conn_start[1].connector, "bn");
    cr_assert_eq(cfg.conn_start[1].n_restore, 2);
    cr_assert_eq(cfg.conn_start[1].restore, xe->orders);
    cr_assert_eq(cfg.conn_start[1].restore_owner, xe->owners);
    cr_assert_eq(cfg.conn_start[1].n_known, 3);
    cr_assert_eq(cfg.conn_start[1].adopt_since_ms, xe->since_ms);
    cr_assert_eq(cfg.conn_start[1].n_deltas, 0);
    cr_assert_eq(r.strategy_id_base, 12);
    cr_assert_eq(cfg.strategy_id_base, 12);
    /* to resume, by id: 3 and 7 (x-99 is not the engine's, 12 stopped, 5 deleted) */
    cr_assert_eq(cfg.n_resume, 2);
    cr_assert_eq(cfg.resume, r.resume);
    cr_assert_eq(cfg.resume[0].id, 3);
    cr_assert_str_eq(cfg.resume[0].type, "pure_market_making");
    cr_assert_str_eq(cfg.resume[0].connector, "paper");
    cr_assert_str_eq(cfg.resume[0].market, "BTC-USDT");
    cr_assert_str_eq(cfg.resume[0].params_json, "{\"bid_spread\": 0.02}");
    cr_assert_null(cfg.resume[0].connector_2);
    cr_assert_null(cfg.resume[0].market_2);
    cr_assert_eq(cfg.resume[1].id, 7);
    cr_assert_str_eq(cfg.resume[1].connector_2, "uni");
    cr_assert_str_eq(cfg.resume[1].market_2, "WETH-USDC");

    clb_recovery_free(&r);
    cr_assert_null(r.resume);
    cr_assert_eq(r.n_resume, 0);
    cr_assert_null(r.xs[0].orders);
    cr_assert_eq(r.xs[0].n_orders, 0);
    clb_recovery_free(&r); /* twice is harmless */
    json_decref(conns);
    clb_store_close(st);
}

Test(recovery_run, an_exchange_with_nothing_stored_gets_no_sweep)
{
    struct clb_store *st = tl_open(NULL);
    json_t *conns = json_loads("[{\"name\": \"bn\", \"type\": \"binance\"}]", 0, NULL);
    static struct clb_recovery r;
    char err[256];
    cr_assert_eq(clb_recovery_run(st, conns, T0, NULL, &r, err, sizeof(err)), CLB_OK, "%s", err);
    cr_assert_eq(r.n_xs, 1);
    cr_assert_eq(r.xs[0].n_orders, 0);
    cr_assert_eq(r.xs[0].since_ms, 0);
    cr_assert_eq(r.xs[0].n_known, 0);
    cr_assert_eq(r.strategy_id_base, 0);
    clb_recovery_free(&r);
    /* the store unreachable: strategy ids from the clock (seconds since 2020) */
    clb_recovery_fallback(conns, T0, &r);
    cr_assert_eq(r.strategy_id_base, (uint32_t)(T0 / 1000 - 1577836800));
    json_decref(conns);
    clb_store_close(st);
}
