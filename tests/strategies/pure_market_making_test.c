/* Tests for strategies/pure_market_making.c (and the shared market-making
 * helpers, strategy.c's base and registry.c): the pure planning functions
 * with hand-computed numbers, then the glue driven by a real clock against a
 * tiny in-memory connector that records every place and cancel. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "connector.h"
#include "error.h"
#include "event.h"
#include "order_book.h"
#include "order_tracker.h"
#include "param.h"
#include "pure_market_making.h"
#include "strategy.h"

#define S_NS INT64_C(1000000000)
#define EPS 1e-9

static struct clb_mm_market btc_market(void)
{
    return (struct clb_mm_market){
        .tick_size = 0.01, .step_size = 0.00001, .min_qty = 0.00001, .min_notional = 5.0,
        .best_bid = NAN, .best_ask = NAN, .maker_fee = 0.0,
    };
}

static struct clb_pmm_config cfg_default(void)
{
    struct clb_pmm_config c;
    clb_pmm_config_defaults(&c);
    return c;
}

static struct clb_mm_order order_at(enum clb_side side, double price, double amount,
                                    int64_t created_ns)
{
    struct clb_mm_order o;
    memset(&o, 0, sizeof(o));
    static int n;
    snprintf(o.client_id, sizeof(o.client_id), "o%d", ++n);
    o.side = side;
    o.price = price;
    o.amount = amount;
    o.created_ns = created_ns;
    o.batch = 1;
    return o;
}

/* ------------------------------------------------------------------------ */
/* Defaults and parameters                                                   */
/* ------------------------------------------------------------------------ */

Test(pmm_params, defaults_are_hummingbot_like_and_valid)
{
    struct clb_pmm_config c = cfg_default();
    cr_assert_eq(c.bid_spread, 0.1);
    cr_assert_eq(c.ask_spread, 0.1);
    cr_assert_eq(c.order_amount, 0.01);
    cr_assert_eq(c.order_levels, 1);
    cr_assert_eq(c.minimum_spread, -100.0);
    cr_assert_eq(c.price_ceiling, -1.0);
    cr_assert_eq(c.price_floor, -1.0);
    cr_assert_eq(c.inventory_target_base_pct, 50.0);
    cr_assert_eq(c.price_type, CLB_PMM_PRICE_MID);
    char err[128];
    cr_assert_eq(clb_pmm_config_check(&c, err, sizeof(err)), CLB_OK, "%s", err);
}

Test(pmm_params, table_is_complete)
{
    const struct clb_strategy_ops *ops = clb_strategy_find("pure_market_making");
    cr_assert_eq(ops, &clb_pure_market_making_ops);
    cr_assert_eq(ops->n_params, clb_pmm_n_params);
    cr_assert_geq(ops->n_params, 21);
    const char *need[] = { "bid_spread", "ask_spread", "minimum_spread", "order_amount",
                           "order_levels", "order_level_spread", "order_level_amount",
                           "order_refresh_time", "order_refresh_tolerance_pct", "max_order_age",
                           "filled_order_delay", "inventory_skew_enabled",
                           "inventory_target_base_pct", "inventory_range_multiplier",
                           "price_ceiling", "price_floor", "ping_pong_enabled",
                           "hanging_orders_enabled", "hanging_orders_cancel_pct",
                           "take_if_crossed", "price_type" };
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        cr_assert_not_null(clb_params_find(ops->params, ops->n_params, need[i]), "%s", need[i]);
    for (size_t i = 0; i < ops->n_params; i++) {
        cr_assert_not_null(ops->params[i].unit, "%s has no unit", ops->params[i].name);
        cr_assert_not_null(ops->params[i].help);
        for (size_t j = i + 1; j < ops->n_params; j++)
            cr_assert_str_neq(ops->params[i].name, ops->params[j].name);
    }
    cr_assert_str_eq(clb_params_find(ops->params, ops->n_params, "bid_spread")->unit, "%");
    cr_assert_str_eq(clb_params_find(ops->params, ops->n_params, "order_refresh_time")->unit,
                     "s");
    cr_assert_str_eq(clb_params_find(ops->params, ops->n_params, "order_amount")->unit, "base");
}

Test(pmm_params, set_through_table_and_cross_checks)
{
    struct clb_pmm_config c = cfg_default(), before;
    char err[160];
    cr_assert_eq(clb_params_set_kv(clb_pmm_params, clb_pmm_n_params, &c, "bid_spread=0.5", err,
                                   sizeof(err)), CLB_OK);
    cr_assert_eq(c.bid_spread, 0.5);
    cr_assert_eq(clb_params_set_kv(clb_pmm_params, clb_pmm_n_params, &c, "price_type=best_ask",
                                   err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.price_type, CLB_PMM_PRICE_BEST_ASK);
    before = c;
    cr_assert_eq(clb_params_set_kv(clb_pmm_params, clb_pmm_n_params, &c, "order_levels=21", err,
                                   sizeof(err)), CLB_ERANGE);
    cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0);

    c = cfg_default();
    c.order_amount = 0;
    cr_assert_eq(clb_pmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "order_amount"));
    c = cfg_default();
    c.price_ceiling = 100;
    c.price_floor = 200;
    cr_assert_eq(clb_pmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "price_ceiling"));
    c = cfg_default();
    c.price_floor = 0;
    cr_assert_eq(clb_pmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "price_floor"));
    c = cfg_default();
    c.bid_spread = NAN;
    cr_assert_eq(clb_pmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "bid_spread"));

    struct clb_strategy *s = NULL;
    c = cfg_default();
    c.ask_spread = -1;
    cr_assert_eq(clb_pure_market_making_ops.create(&c, &s, err, sizeof(err)), CLB_EINVAL);
    cr_assert_null(s);
    cr_assert_not_null(strstr(err, "ask_spread"));
}

/* ------------------------------------------------------------------------ */
/* Pure functions                                                            */
/* ------------------------------------------------------------------------ */

Test(pmm_pure, quantize)
{
    cr_assert_float_eq(clb_mm_quantize(0.29, 0.01, false), 0.29, EPS);
    cr_assert_float_eq(clb_mm_quantize(59940.004995, 0.01, false), 59940.00, EPS);
    cr_assert_float_eq(clb_mm_quantize(60120.00501, 0.01, true), 60120.01, EPS);
    cr_assert_float_eq(clb_mm_quantize(60120.0, 0.01, true), 60120.0, EPS);
    cr_assert_float_eq(clb_mm_quantize(0.0016868, 0.00001, false), 0.00168, 1e-12);
    cr_assert_float_eq(clb_mm_quantize(12.5, 0.5, true), 12.5, EPS);
    cr_assert_float_eq(clb_mm_quantize(12.6, 0.5, true), 13.0, EPS);
    cr_assert_eq(clb_mm_quantize(1.2345, 0, false), 1.2345);
}

Test(pmm_pure, base_proposal_levels_and_percent_spreads)
{
    struct clb_pmm_config c = cfg_default();
    c.bid_spread = 0.1;   /* 0.1 % */
    c.ask_spread = 0.2;   /* 0.2 % */
    c.order_levels = 3;
    c.order_level_spread = 0.5;
    c.order_amount = 0.01;
    c.order_level_amount = 0.005;
    struct clb_mm_market mk = btc_market();
    struct clb_mm_proposal p;
    clb_pmm_base_proposal(&c, 60000.0, &mk, &p);
    cr_assert_eq(p.n_buys, 3);
    cr_assert_eq(p.n_sells, 3);
    const double bids[] = { 59940.00, 59640.00, 59340.00 };
    const double asks[] = { 60120.00, 60420.00, 60720.00 };
    const double amts[] = { 0.01, 0.015, 0.02 };
    for (int i = 0; i < 3; i++) {
        cr_assert_float_eq(p.buys[i].price, bids[i], EPS, "bid %d %f", i, p.buys[i].price);
        cr_assert_float_eq(p.sells[i].price, asks[i], EPS, "ask %d %f", i, p.sells[i].price);
        cr_assert_float_eq(p.buys[i].amount, amts[i], 1e-12);
        cr_assert_float_eq(p.sells[i].amount, amts[i], 1e-12);
    }
    /* quantization: buys round down, sells up */
    clb_pmm_base_proposal(&c, 60000.005, &mk, &p);
    cr_assert_float_eq(p.buys[0].price, 59940.00, EPS);  /* 59940.004995 */
    cr_assert_float_eq(p.sells[0].price, 60120.01, EPS); /* 60120.00501 */
    /* a negative level amount that reaches zero drops the level */
    c.order_level_amount = -0.005;
    clb_pmm_base_proposal(&c, 60000.0, &mk, &p);
    cr_assert_eq(p.n_buys, 2);
    cr_assert_float_eq(p.buys[1].amount, 0.005, 1e-12);
    /* no price, no proposal */
    clb_pmm_base_proposal(&c, NAN, &mk, &p);
    cr_assert_eq(p.n_buys + p.n_sells, 0);
}

Test(pmm_pure, price_band)
{
    struct clb_pmm_config c = cfg_default();
    struct clb_mm_market mk = btc_market();
    struct clb_mm_proposal p;
    c.price_ceiling = 60000;
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_pmm_apply_price_band(&c, 60000, &p);
    cr_assert_eq(p.n_buys, 0);
    cr_assert_eq(p.n_sells, 1);
    clb_pmm_base_proposal(&c, 59999.99, &mk, &p);
    clb_pmm_apply_price_band(&c, 59999.99, &p);
    cr_assert_eq(p.n_buys, 1);
    c.price_ceiling = -1;
    c.price_floor = 60000;
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_pmm_apply_price_band(&c, 60000, &p);
    cr_assert_eq(p.n_buys, 1);
    cr_assert_eq(p.n_sells, 0);
    c.price_floor = -1;
    clb_pmm_base_proposal(&c, 1, &mk, &p);
    clb_pmm_apply_price_band(&c, 1, &p);
    cr_assert_eq(p.n_buys + p.n_sells, 2);
}

Test(pmm_pure, ping_pong)
{
    struct clb_pmm_config c = cfg_default();
    c.order_levels = 3;
    struct clb_mm_market mk = btc_market();
    struct clb_mm_proposal p;
    int fb = 1, fs = 0;
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_pmm_apply_ping_pong(&fb, &fs, &p);
    cr_assert_eq(p.n_buys, 2);
    cr_assert_eq(p.n_sells, 3);
    cr_assert_float_eq(p.buys[0].price, 59340.00, EPS); /* the level-1 bid */
    fb = 1;
    fs = 1; /* a buy and a sell filled: back to both sides */
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_pmm_apply_ping_pong(&fb, &fs, &p);
    cr_assert_eq(fb, 0);
    cr_assert_eq(fs, 0);
    cr_assert_eq(p.n_buys, 3);
    cr_assert_eq(p.n_sells, 3);
    fb = 0;
    fs = 5;
    clb_pmm_apply_ping_pong(&fb, &fs, &p);
    cr_assert_eq(p.n_sells, 0);
    cr_assert_eq(p.n_buys, 3);
}

Test(pmm_pure, inventory_ratios_hand_values)
{
    double b, a;
    /* at target: 1 BTC and 60000 USDT at 60000, target 50 % */
    clb_pmm_inventory_ratios(1.0, 60000, 60000, 0.5, 0.5, &b, &a);
    cr_assert_float_eq(b, 1.0, EPS);
    cr_assert_float_eq(a, 1.0, EPS);
    /* 0.75 BTC + 75000: value 45000 of 120000, target 60000, left limit 30000:
     * left ratio 0.25 -> bid 1.5, ask 0.5 */
    clb_pmm_inventory_ratios(0.75, 75000, 60000, 0.5, 0.5, &b, &a);
    cr_assert_float_eq(b, 1.5, EPS);
    cr_assert_float_eq(a, 0.5, EPS);
    /* 1.25 BTC + 45000: value 75000, right limit 90000: right ratio 0.75 -> bid 0.5 */
    clb_pmm_inventory_ratios(1.25, 45000, 60000, 0.5, 0.5, &b, &a);
    cr_assert_float_eq(b, 0.5, EPS);
    cr_assert_float_eq(a, 1.5, EPS);
    /* beyond the range: one side only */
    clb_pmm_inventory_ratios(2.0, 0, 60000, 0.5, 0.5, &b, &a);
    cr_assert_float_eq(b, 0.0, EPS);
    cr_assert_float_eq(a, 2.0, EPS);
    clb_pmm_inventory_ratios(0.0, 120000, 60000, 0.5, 0.5, &b, &a);
    cr_assert_float_eq(b, 2.0, EPS);
    cr_assert_float_eq(a, 0.0, EPS);
    /* Hummingbot's unit-test inputs: value 306 of 10306, target 309.18, left
     * limit 309.18 - 72 = 237.18: left ratio 68.82 / 144, bid 2 - 2 * that */
    clb_pmm_inventory_ratios(85000, 10000, 0.0036, 0.03, 20000, &b, &a);
    cr_assert_float_eq(b, 2.0 - 2.0 * 68.82 / 144.0, 1e-9);
    cr_assert_float_eq(a, 2.0 * 68.82 / 144.0, 1e-9);
    /* empty portfolio or no range */
    clb_pmm_inventory_ratios(0, 0, 60000, 0.5, 0.5, &b, &a);
    cr_assert_eq(b + a, 0.0);
    clb_pmm_inventory_ratios(1, 1, 60000, 0.5, 0, &b, &a);
    cr_assert_eq(b + a, 0.0);
}

Test(pmm_pure, inventory_skew_sizes)
{
    struct clb_pmm_config c = cfg_default(); /* amount 0.01, 1 level: total size 0.02 */
    c.inventory_skew_enabled = true;
    c.inventory_range_multiplier = 25; /* range 0.5 BTC */
    cr_assert_float_eq(clb_pmm_total_order_size(&c), 0.02, 1e-12);
    struct clb_mm_market mk = btc_market();
    struct clb_mm_proposal p;
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_pmm_apply_inventory_skew(&c, 0.75, 75000, 60000, mk.step_size, &p);
    cr_assert_float_eq(p.buys[0].amount, 0.015, 1e-12);
    cr_assert_float_eq(p.sells[0].amount, 0.005, 1e-12);
    /* all in base: no bid at all */
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_pmm_apply_inventory_skew(&c, 2.0, 0, 60000, mk.step_size, &p);
    cr_assert_eq(p.n_buys, 0);
    cr_assert_float_eq(p.sells[0].amount, 0.02, 1e-12);
    c.order_levels = 3;
    c.order_level_amount = 0.01;
    /* 2 * (3 * 0.01 + 3 * 2 / 2 * 0.01) */
    cr_assert_float_eq(clb_pmm_total_order_size(&c), 0.12, 1e-12);
}

Test(pmm_pure, budget_constraint)
{
    struct clb_pmm_config c = cfg_default();
    c.order_levels = 3;
    c.order_level_spread = 0.5;
    c.order_level_amount = 0.005;
    struct clb_mm_market mk = btc_market();
    struct clb_mm_proposal p;
    clb_pmm_base_proposal(&c, 60000, &mk, &p); /* bids 59940/59640/59340 x .01/.015/.02 */
    /* 700 USDT: the first bid (599.40) fits, the second gets 100.60 / 59640 */
    clb_mm_apply_budget(&p, 0.02, 700.0, 0.0, mk.step_size);
    cr_assert_eq(p.n_buys, 2);
    cr_assert_float_eq(p.buys[0].amount, 0.01, 1e-12);
    cr_assert_float_eq(p.buys[1].amount, 0.00168, 1e-12);
    /* 0.02 BTC: the first ask (0.01) fits, the second is cut to 0.01 */
    cr_assert_eq(p.n_sells, 2);
    cr_assert_float_eq(p.sells[0].amount, 0.01, 1e-12);
    cr_assert_float_eq(p.sells[1].amount, 0.01, 1e-12);
    /* with a 0.1 % fee the first bid costs 599.9994 */
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_mm_apply_budget(&p, 0.0, 700.0, 0.001, mk.step_size);
    cr_assert_float_eq(p.buys[1].amount, 0.00167, 1e-12); /* 100.0006 / 59699.64 */
    cr_assert_eq(p.n_sells, 0);
    /* nothing at all */
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_mm_apply_budget(&p, 0.0, 0.0, 0.0, mk.step_size);
    cr_assert_eq(p.n_buys + p.n_sells, 0);
}

Test(pmm_pure, minimums_and_takers)
{
    struct clb_pmm_config c = cfg_default();
    struct clb_mm_market mk = btc_market();
    struct clb_mm_proposal p;
    c.order_amount = 0.00008; /* 0.00008 * 59940 = 4.80 < 5 USDT notional */
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_mm_drop_below_minimums(&p, &mk);
    cr_assert_eq(p.n_buys, 0);
    cr_assert_eq(p.n_sells, 0);
    c.order_amount = 0.0001; /* 5.994 and 6.006 USDT: kept */
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_mm_drop_below_minimums(&p, &mk);
    cr_assert_eq(p.n_buys + p.n_sells, 2);

    clb_pmm_base_proposal(&c, 60000, &mk, &p); /* 59940 / 60060 */
    clb_mm_filter_takers(&p, 60060.0, 59940.0);
    cr_assert_eq(p.n_buys, 0);  /* bid at the best ask would take */
    cr_assert_eq(p.n_sells, 0); /* ask at the best bid would take */
    clb_pmm_base_proposal(&c, 60000, &mk, &p);
    clb_mm_filter_takers(&p, 60059.99, 59940.01);
    cr_assert_eq(p.n_buys + p.n_sells, 2);
    clb_mm_filter_takers(&p, NAN, NAN);
    cr_assert_eq(p.n_buys + p.n_sells, 2);
}

Test(pmm_pure, tolerance)
{
    double cur[] = { 100.0, 200.0 }, prop[] = { 200.1, 100.05 };
    cr_assert(clb_mm_within_tolerance(cur, 2, prop, 2, 0.001));    /* 0.05 % each */
    cr_assert_not(clb_mm_within_tolerance(cur, 2, prop, 2, 0.0004));
    cr_assert_not(clb_mm_within_tolerance(cur, 2, prop, 1, 1.0));  /* counts differ */
    cr_assert(clb_mm_within_tolerance(cur, 0, prop, 0, 0.0));
    double same[] = { 100.0, 200.0 };
    cr_assert(clb_mm_within_tolerance(cur, 2, same, 2, 0.0));      /* equal prices, tol 0 */

    struct clb_mm_order o[3] = {
        order_at(CLB_SIDE_BUY, 59940.00, 0.01, 0),
        order_at(CLB_SIDE_SELL, 60060.00, 0.01, 0),
        order_at(CLB_SIDE_SELL, 70000.00, 0.01, 0),
    };
    o[2].hanging = true; /* hanging orders are not compared */
    struct clb_mm_proposal p = { .n_buys = 1, .n_sells = 1 };
    p.buys[0] = (struct clb_mm_quote){ 59970.00, 0.01 };  /* +0.05 % */
    p.sells[0] = (struct clb_mm_quote){ 60030.00, 0.01 }; /* -0.05 % */
    cr_assert(clb_mm_orders_within_tolerance(o, 3, &p, 0.06));
    cr_assert_not(clb_mm_orders_within_tolerance(o, 3, &p, 0.04));
    o[2].hanging = false;
    cr_assert_not(clb_mm_orders_within_tolerance(o, 3, &p, 5.0));
}

Test(pmm_pure, timers)
{
    struct clb_mm_timers t = { 0, 0 };
    clb_mm_set_timers(&t, 10 * S_NS, 30 * S_NS);
    cr_assert_eq(t.create_ns, 40 * S_NS);
    cr_assert_eq(t.cancel_ns, 40 * S_NS);
    clb_mm_set_timers(&t, 20 * S_NS, 30 * S_NS); /* not due yet: unchanged */
    cr_assert_eq(t.create_ns, 40 * S_NS);
    clb_mm_fill_delay(&t, 25 * S_NS, 60 * S_NS);
    cr_assert_eq(t.create_ns, 85 * S_NS);
    cr_assert_eq(t.cancel_ns, 40 * S_NS);
    clb_mm_fill_delay(&t, 25 * S_NS, 5 * S_NS);
    cr_assert_eq(t.create_ns, 30 * S_NS);
    cr_assert_eq(t.cancel_ns, 30 * S_NS);
    cr_assert_eq(clb_mm_seconds_to_ns(1.5), 1500000000);
    cr_assert_eq(clb_mm_seconds_to_ns(-1), 0);
    cr_assert_eq(clb_mm_seconds_to_ns(1e30), INT64_MAX);
}

Test(pmm_pure, adjusted_balances)
{
    struct clb_mm_order o[3] = {
        order_at(CLB_SIDE_BUY, 50000.0, 0.02, 0),
        order_at(CLB_SIDE_SELL, 60000.0, 0.03, 0),
        order_at(CLB_SIDE_SELL, 70000.0, 0.05, 0),
    };
    o[0].executed = 0.01;
    o[2].hanging = true;
    double b, q;
    clb_mm_adjusted_balances(o, 3, true, 1.0, 1000.0, &b, &q);
    cr_assert_float_eq(b, 1.08, 1e-12);
    cr_assert_float_eq(q, 1500.0, 1e-9);
    clb_mm_adjusted_balances(o, 3, false, 1.0, 1000.0, &b, &q);
    cr_assert_float_eq(b, 1.03, 1e-12);
}

/* ---- the planner ---- */

static struct clb_pmm_inputs inputs(int64_t now_ns, double ref, const struct clb_mm_order *o,
                                    size_t n)
{
    struct clb_pmm_inputs in = {
        .now_ns = now_ns, .ref_price = ref, .mk = btc_market(),
        .base_available = 1.0, .quote_available = 100000.0, .orders = o, .n_orders = n,
    };
    in.mk.best_bid = ref - 1.0;
    in.mk.best_ask = ref + 1.0;
    return in;
}

/* Moves the reference price and the top of book with it. */
static void set_ref(struct clb_pmm_inputs *in, double ref)
{
    in->ref_price = ref;
    in->mk.best_bid = ref - 1.0;
    in->mk.best_ask = ref + 1.0;
}

Test(pmm_plan, fresh_start_creates_the_proposal)
{
    struct clb_pmm_config c = cfg_default();
    struct clb_pmm_state st = { 0 };
    struct clb_pmm_inputs in = inputs(1 * S_NS, 60000.0, NULL, 0);
    struct clb_pmm_plan pl;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert(pl.has_proposal);
    cr_assert(pl.create);
    cr_assert_eq(pl.n_cancel, 0);
    cr_assert_eq(pl.proposal.n_buys, 1);
    cr_assert_float_eq(pl.proposal.buys[0].price, 59940.00, EPS);
    cr_assert_float_eq(pl.proposal.sells[0].price, 60060.00, EPS);
    cr_assert_float_eq(pl.proposal.buys[0].amount, 0.01, 1e-12);
    /* at the very instant of the create timer nothing is created (strict) */
    in.now_ns = 0;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert(pl.has_proposal);
    cr_assert_not(pl.create);
    /* no reference price: nothing */
    in = inputs(1 * S_NS, NAN, NULL, 0);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_not(pl.has_proposal);
    cr_assert_not(pl.create);
}

Test(pmm_plan, refresh_timing_and_tolerance)
{
    struct clb_pmm_config c = cfg_default(); /* refresh 10 s, tolerance 0 % */
    struct clb_pmm_state st = { 0 };
    clb_mm_set_timers(&st.timers, 1 * S_NS, clb_mm_seconds_to_ns(c.order_refresh_time));
    struct clb_mm_order o[2] = {
        order_at(CLB_SIDE_BUY, 59940.00, 0.01, 1 * S_NS),
        order_at(CLB_SIDE_SELL, 60060.00, 0.01, 1 * S_NS),
    };
    struct clb_pmm_plan pl;
    /* before the refresh time: no proposal, nothing cancelled, nothing created */
    struct clb_pmm_inputs in = inputs(10 * S_NS, 60100.0, o, 2);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_not(pl.has_proposal);
    cr_assert_eq(pl.n_cancel, 0);
    cr_assert_not(pl.create);
    /* refresh time passed, price moved: both cancelled, nothing created yet */
    in.now_ns = 11 * S_NS;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert(pl.has_proposal);
    cr_assert_eq(pl.n_cancel, 2);
    cr_assert_eq(pl.cancel[0], CLB_MM_CANCEL_REFRESH);
    cr_assert_eq(pl.cancel[1], CLB_MM_CANCEL_REFRESH);
    cr_assert_not(pl.create);
    /* same price: the proposal equals the orders: kept */
    set_ref(&in, 60000.0);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 0);
    /* moved 0.05 %: kept with a 0.1 % tolerance, cancelled with 0.01 % */
    set_ref(&in, 60030.0);
    c.order_refresh_tolerance_pct = 0.1;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 0);
    c.order_refresh_tolerance_pct = 0.01;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 2);
    /* negative tolerance: always replaced */
    set_ref(&in, 60000.0);
    c.order_refresh_tolerance_pct = -1;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 2);
    /* orders already being cancelled are not cancelled again but block creation */
    o[0].cancel_requested = o[1].cancel_requested = true;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 0);
    cr_assert_not(pl.create);
    /* once they are gone, the next tick creates (11 s is the create time
     * itself: creation needs the timer strictly passed) */
    in.n_orders = 0;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_not(pl.create);
    in.now_ns = 12 * S_NS;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert(pl.create);
}

Test(pmm_plan, max_order_age_renews_all)
{
    struct clb_pmm_config c = cfg_default();
    c.max_order_age = 60;
    c.order_refresh_tolerance_pct = 1; /* prices are within tolerance */
    struct clb_pmm_state st = { 0 };
    st.timers.create_ns = st.timers.cancel_ns = 1000 * S_NS; /* refresh not due */
    struct clb_mm_order o[2] = {
        order_at(CLB_SIDE_BUY, 59940.00, 0.01, 0),
        order_at(CLB_SIDE_SELL, 60060.00, 0.01, 30 * S_NS),
    };
    struct clb_pmm_plan pl;
    struct clb_pmm_inputs in = inputs(60 * S_NS, 60000.0, o, 2);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 0); /* 60 s old is not older than 60 s */
    in.now_ns = 61 * S_NS;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 2);
    cr_assert_eq(pl.cancel[0], CLB_MM_CANCEL_AGE);
    cr_assert_eq(pl.cancel[1], CLB_MM_CANCEL_AGE);
    c.max_order_age = 0; /* off */
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 0);
}

Test(pmm_plan, minimum_spread_cancels_the_close_order_only)
{
    struct clb_pmm_config c = cfg_default();
    c.minimum_spread = 0.05; /* % */
    struct clb_pmm_state st = { 0 };
    st.timers.create_ns = st.timers.cancel_ns = 1000 * S_NS;
    struct clb_mm_order o[2] = {
        order_at(CLB_SIDE_BUY, 59940.00, 0.01, 0),
        order_at(CLB_SIDE_SELL, 60060.00, 0.01, 0),
    };
    struct clb_pmm_plan pl;
    /* ref 59964: the bid is 0.04 % below it, the ask 0.16 % above */
    struct clb_pmm_inputs in = inputs(5 * S_NS, 59964.0, o, 2);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 1);
    cr_assert_eq(pl.cancel[0], CLB_MM_CANCEL_MIN_SPREAD);
    cr_assert_eq(pl.cancel[1], CLB_MM_KEEP);
    /* ref 59970.03: the bid is 0.0500 % below: kept */
    set_ref(&in, 59970.0);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 0);
    /* the ask side: ref 60040 -> ask 0.033 % above */
    set_ref(&in, 60040.0);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.cancel[1], CLB_MM_CANCEL_MIN_SPREAD);
    cr_assert_eq(pl.cancel[0], CLB_MM_KEEP);
}

Test(pmm_plan, filled_order_delay_postpones_create)
{
    struct clb_pmm_config c = cfg_default(); /* refresh 10 s, delay 60 s */
    struct clb_pmm_state st = { 0 };
    clb_mm_set_timers(&st.timers, 1 * S_NS, 10 * S_NS); /* placed at 1 s */
    clb_mm_fill_delay(&st.timers, 5 * S_NS, 60 * S_NS); /* one filled at 5 s */
    cr_assert_eq(st.timers.create_ns, 65 * S_NS);
    cr_assert_eq(st.timers.cancel_ns, 11 * S_NS);
    struct clb_mm_order o[1] = { order_at(CLB_SIDE_SELL, 60060.00, 0.01, 1 * S_NS) };
    struct clb_pmm_plan pl;
    /* at 11 s the survivor is cancelled (no proposal to compare with) */
    struct clb_pmm_inputs in = inputs(11 * S_NS, 60000.0, o, 1);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_not(pl.has_proposal);
    cr_assert_eq(pl.cancel[0], CLB_MM_CANCEL_REFRESH);
    /* nothing is created during the delay */
    in = inputs(64 * S_NS, 60000.0, NULL, 0);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_not(pl.create);
    in.now_ns = 65 * S_NS;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert(pl.has_proposal);
    cr_assert_not(pl.create);
    in.now_ns = 66 * S_NS;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert(pl.create);
}

Test(pmm_plan, hanging_orders)
{
    struct clb_pmm_config c = cfg_default();
    c.hanging_orders_enabled = true;
    c.hanging_orders_cancel_pct = 1; /* % */
    struct clb_pmm_state st = { 0 };
    struct clb_mm_order o[2] = {
        order_at(CLB_SIDE_SELL, 60500.00, 0.01, 0), /* 0.83 % above 60000 */
        order_at(CLB_SIDE_BUY, 59000.00, 0.01, 0),  /* 1.67 % below */
    };
    o[0].hanging = o[1].hanging = true;
    struct clb_pmm_plan pl;
    struct clb_pmm_inputs in = inputs(1 * S_NS, 60000.0, o, 2);
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.cancel[0], CLB_MM_KEEP);
    cr_assert_eq(pl.cancel[1], CLB_MM_CANCEL_HANGING);
    /* hanging orders neither block nor join the new proposal... */
    cr_assert(pl.create);
    /* ...but they do count in the inventory skew (all own orders) */
    c.inventory_skew_enabled = true;
    c.inventory_range_multiplier = 25; /* 0.5 BTC */
    in.base_available = 0.74;          /* + 0.01 hanging sell = 0.75 BTC */
    in.quote_available = 75000 - 590;  /* + 590 hanging buy = 75000 */
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_float_eq(pl.proposal.buys[0].amount, 0.015, 1e-12);
    cr_assert_float_eq(pl.proposal.sells[0].amount, 0.005, 1e-12);
}

Test(pmm_plan, budget_uses_available_plus_own_orders_and_drops_takers)
{
    struct clb_pmm_config c = cfg_default();
    c.order_refresh_tolerance_pct = -1;
    struct clb_pmm_state st = { 0 };
    struct clb_pmm_inputs in = inputs(1 * S_NS, 60000.0, NULL, 0);
    in.quote_available = 299.70; /* half the bid */
    in.base_available = 0.0;
    struct clb_pmm_plan pl;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.proposal.n_buys, 1);
    cr_assert_float_eq(pl.proposal.buys[0].amount, 0.005, 1e-12);
    cr_assert_eq(pl.proposal.n_sells, 0);
    /* an own sell of 0.01 (about to be cancelled) frees its base */
    struct clb_mm_order o[1] = { order_at(CLB_SIDE_SELL, 60100, 0.01, 0) };
    in.orders = o;
    in.n_orders = 1;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.proposal.n_sells, 1);
    cr_assert_float_eq(pl.proposal.sells[0].amount, 0.01, 1e-12);
    /* a book tighter than the spreads: both quotes would take */
    in = inputs(1 * S_NS, 60000.0, NULL, 0);
    in.mk.best_bid = 60070.0;
    in.mk.best_ask = 59930.0;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.proposal.n_buys + pl.proposal.n_sells, 0);
    cr_assert_not(pl.create);
    c.take_if_crossed = true;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert(pl.create);
}

Test(pmm_plan, ping_pong_counters_in_state)
{
    struct clb_pmm_config c = cfg_default();
    c.ping_pong_enabled = true;
    struct clb_pmm_state st = { .filled_buys_balance = 1 };
    struct clb_pmm_inputs in = inputs(1 * S_NS, 60000.0, NULL, 0);
    struct clb_pmm_plan pl;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.proposal.n_buys, 0);
    cr_assert_eq(pl.proposal.n_sells, 1);
    st.filled_sells_balance = 1;
    clb_pmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(st.filled_buys_balance, 0);
    cr_assert_eq(pl.proposal.n_buys, 1);
}

/* ------------------------------------------------------------------------ */
/* A tiny in-memory connector                                                */
/* ------------------------------------------------------------------------ */

#define TC_MAX 256

struct tc_place {
    struct clb_order_request req;
    char id[CLB_CLIENT_ID_MAX];
};

struct tconn {
    struct clb_connector base;
    struct clb_event_bus bus;
    struct clb_market_rules rules;
    struct clb_order_book book;
    double base_total, quote_total;
    bool ready;
    struct tc_place placed[TC_MAX];
    int n_placed;
    char cancelled[TC_MAX][CLB_CLIENT_ID_MAX];
    int n_cancelled;
    int next_id;
    struct clb_order_tracker *tracker; /* optional: a real tracker */
    int64_t now_ns;                    /* its clock */
};

static struct tconn *tc_of(struct clb_connector *c)
{
    return (struct tconn *)(void *)c;
}

static int tc_place(struct clb_connector *c, const struct clb_order_request *req,
                    char client_id[CLB_CLIENT_ID_MAX])
{
    struct tconn *t = tc_of(c);
    if (strcmp(req->market, t->rules.symbol) != 0)
        return CLB_ENOTFOUND;
    if (t->n_placed == TC_MAX)
        return CLB_EFULL;
    snprintf(client_id, CLB_CLIENT_ID_MAX, "T%d", ++t->next_id);
    if (t->tracker) {
        struct clb_order_params op = { .client_order_id = client_id, .market = req->market,
                                       .side = req->side, .type = req->type,
                                       .price = req->price, .amount = req->amount };
        int rc = clb_tracker_start_tracking(t->tracker, &op, t->now_ns);
        if (rc != CLB_OK)
            return rc;
    }
    t->placed[t->n_placed].req = *req;
    snprintf(t->placed[t->n_placed].id, CLB_CLIENT_ID_MAX, "%s", client_id);
    t->n_placed++;
    return CLB_OK;
}

static int tc_cancel(struct clb_connector *c, const char *market, const char *client_id)
{
    struct tconn *t = tc_of(c);
    if (strcmp(market, t->rules.symbol) != 0)
        return CLB_ENOTFOUND;
    for (int i = 0; i < t->n_placed; i++) {
        if (strcmp(t->placed[i].id, client_id) == 0) {
            if (t->tracker) {
                int rc = clb_tracker_on_cancel_requested(t->tracker, client_id, t->now_ns);
                if (rc != CLB_OK)
                    return rc == CLB_ENOTFOUND ? CLB_ENOTFOUND : rc;
            }
            snprintf(t->cancelled[t->n_cancelled++], CLB_CLIENT_ID_MAX, "%s", client_id);
            return CLB_OK;
        }
    }
    return CLB_ENOTFOUND;
}

static const struct clb_order_book *tc_book(struct clb_connector *c, const char *market)
{
    struct tconn *t = tc_of(c);
    return strcmp(market, t->rules.symbol) == 0 ? &t->book : NULL;
}

static const struct clb_market_rules *tc_rules(struct clb_connector *c, const char *market)
{
    struct tconn *t = tc_of(c);
    return strcmp(market, t->rules.symbol) == 0 ? &t->rules : NULL;
}

static int tc_balance(struct clb_connector *c, const char *asset, clb_dec *total,
                      clb_dec *available)
{
    struct tconn *t = tc_of(c);
    double v = strcmp(asset, "BTC") == 0 ? t->base_total
               : strcmp(asset, "USDT") == 0 ? t->quote_total : 0.0;
    clb_dec_from_double(v, 8, CLB_ROUND_DOWN, total);
    *available = *total;
    return CLB_OK;
}

static int tc_fees(struct clb_connector *c, const char *market, double *maker, double *taker)
{
    (void)c;
    (void)market;
    *maker = 0.0;
    *taker = 0.0;
    return CLB_OK;
}

static const struct clb_order_tracker *tc_tracker(struct clb_connector *c)
{
    return tc_of(c)->tracker;
}

static void tc_status(struct clb_connector *c, struct clb_connector_status *out)
{
    bool r = tc_of(c)->ready;
    *out = (struct clb_connector_status){ r, r, r, r, r };
}

static void tc_destroy(struct clb_connector *c)
{
    (void)c;
}

static const struct clb_connector_ops tc_ops = {
    .type = "test", .place = tc_place, .cancel = tc_cancel, .book = tc_book, .rules = tc_rules,
    .balance = tc_balance, .fees = tc_fees, .tracker = tc_tracker, .status = tc_status,
    .destroy = tc_destroy,
};

/* Sets the top of book (prices in USDT, scale 2). */
static void tc_set_top(struct tconn *t, double bid, double ask)
{
    clb_book_clear(&t->book);
    cr_assert_eq(clb_book_set_level(&t->book, CLB_SIDE_BUY, llround(bid * 100), 100000), CLB_OK);
    cr_assert_eq(clb_book_set_level(&t->book, CLB_SIDE_SELL, llround(ask * 100), 100000),
                 CLB_OK);
}

static void tc_init(struct tconn *t)
{
    memset(t, 0, sizeof(*t));
    t->base.ops = &tc_ops;
    snprintf(t->base.name, sizeof(t->base.name), "test");
    clb_event_bus_init(&t->bus);
    t->base.bus = &t->bus;
    snprintf(t->rules.symbol, sizeof(t->rules.symbol), "BTC-USDT");
    snprintf(t->rules.base, sizeof(t->rules.base), "BTC");
    snprintf(t->rules.quote, sizeof(t->rules.quote), "USDT");
    t->rules.tick_size = clb_dec_make(1, 2);
    t->rules.step_size = clb_dec_make(1, 5);
    t->rules.min_qty = clb_dec_make(1, 5);
    t->rules.min_notional = clb_dec_make(5, 0);
    t->rules.price_scale = 2;
    t->rules.qty_scale = 5;
    cr_assert_eq(clb_book_init(&t->book, 16), CLB_OK);
    tc_set_top(t, 59999.0, 60001.0);
    t->base_total = 1.0;
    t->quote_total = 100000.0;
    t->ready = true;
}

static void tc_deinit(struct tconn *t)
{
    clb_book_deinit(&t->book);
}

static void tc_publish_order(struct tconn *t, enum clb_event_type type, int placed_idx,
                             int64_t ts_ns)
{
    const struct tc_place *pl = &t->placed[placed_idx];
    struct clb_event ev = { .type = type, .ts_ns = ts_ns, .source = "test" };
    ev.u.order.client_order_id = pl->id;
    ev.u.order.exchange_order_id = "";
    ev.u.order.market = pl->req.market;
    ev.u.order.side = pl->req.side;
    ev.u.order.price = pl->req.price;
    ev.u.order.amount = pl->req.amount;
    if (type == CLB_EV_ORDER_FILLED || type == CLB_EV_ORDER_COMPLETED) {
        ev.u.order.executed_base = pl->req.amount;
        ev.u.order.fill_price = pl->req.price;
        ev.u.order.fill_amount = pl->req.amount;
        ev.u.order.trade_id = "1";
    }
    clb_event_publish(&t->bus, &ev);
}

static double dec(clb_dec d)
{
    return clb_dec_to_double(d);
}

struct rig {
    struct tconn tc;
    struct clb_clock clock;
    struct clb_strategy *s;
};

static void rig_start(struct rig *r, const struct clb_pmm_config *cfg)
{
    tc_init(&r->tc);
    struct clb_clock_config cc = { .mode = CLB_CLOCK_BACKTEST, .tick_ns = S_NS };
    cr_assert_eq(clb_clock_init(&r->clock, &cc), CLB_OK);
    char err[128];
    cr_assert_eq(clb_pure_market_making_ops.create(cfg, &r->s, err, sizeof(err)), CLB_OK, "%s",
                 err);
    cr_assert_eq(clb_strategy_attach(r->s, &r->tc.base, "BTC-USDT", 7, "pmm-test"), CLB_OK);
    cr_assert_eq(clb_clock_add(&r->clock, &r->s->it), CLB_OK);
    cr_assert_eq(clb_clock_start(&r->clock, 0), CLB_OK);
}

static void rig_stop(struct rig *r, int64_t now_ns)
{
    cr_assert_eq(clb_clock_stop(&r->clock, now_ns), CLB_OK);
    cr_assert_eq(clb_clock_remove(&r->clock, &r->s->it), CLB_OK);
    clb_strategy_detach(r->s);
    r->s->ops->destroy(r->s);
    clb_clock_deinit(&r->clock);
    tc_deinit(&r->tc);
}

static int find_placed(const struct tconn *t, enum clb_side side, int from)
{
    for (int i = from; i < t->n_placed; i++)
        if (t->placed[i].req.side == side)
            return i;
    return -1;
}

static bool was_cancelled(const struct tconn *t, const char *id)
{
    for (int i = 0; i < t->n_cancelled; i++)
        if (strcmp(t->cancelled[i], id) == 0)
            return true;
    return false;
}

Test(pmm_glue, tick_places_refresh_cancels_fill_delays_stop_cancels)
{
    struct clb_pmm_config cfg = cfg_default(); /* 0.1 %, 0.01 BTC, refresh 10 s, delay 60 s */
    struct rig r;
    rig_start(&r, &cfg);
    struct tconn *t = &r.tc;

    cr_assert_eq(clb_clock_advance_to(&r.clock, 0), 1);
    cr_assert_eq(t->n_placed, 0); /* create timer 0 is not < 0 */
    clb_clock_advance_to(&r.clock, 1 * S_NS);
    cr_assert_eq(t->n_placed, 2);
    int b = find_placed(t, CLB_SIDE_BUY, 0), a = find_placed(t, CLB_SIDE_SELL, 0);
    cr_assert_geq(b, 0);
    cr_assert_geq(a, 0);
    cr_assert_float_eq(dec(t->placed[b].req.price), 59940.00, EPS);
    cr_assert_float_eq(dec(t->placed[a].req.price), 60060.00, EPS);
    cr_assert_float_eq(dec(t->placed[b].req.amount), 0.01, 1e-12);
    cr_assert_eq(t->placed[b].req.type, CLB_ORDER_LIMIT_MAKER);
    cr_assert_eq(t->placed[b].req.owner, 7);
    cr_assert_str_eq(t->placed[b].req.market, "BTC-USDT");

    /* nothing more until the refresh time (1 s + 10 s) */
    clb_clock_advance_to(&r.clock, 10 * S_NS);
    cr_assert_eq(t->n_placed, 2);
    cr_assert_eq(t->n_cancelled, 0);

    /* the market moves 100 up: at 11 s both are cancelled, none created */
    tc_set_top(t, 60099.0, 60101.0);
    clb_clock_advance_to(&r.clock, 11 * S_NS);
    cr_assert_eq(t->n_cancelled, 2);
    cr_assert_eq(t->n_placed, 2);
    /* still in flight until the exchange confirms */
    clb_clock_advance_to(&r.clock, 12 * S_NS);
    cr_assert_eq(t->n_placed, 2);
    cr_assert_eq(t->n_cancelled, 2); /* not cancelled twice */
    tc_publish_order(t, CLB_EV_ORDER_CANCELLED, b, 12 * S_NS + 1);
    tc_publish_order(t, CLB_EV_ORDER_CANCELLED, a, 12 * S_NS + 2);
    clb_clock_advance_to(&r.clock, 13 * S_NS);
    cr_assert_eq(t->n_placed, 4);
    b = find_placed(t, CLB_SIDE_BUY, 2);
    a = find_placed(t, CLB_SIDE_SELL, 2);
    cr_assert_float_eq(dec(t->placed[b].req.price), 60039.90, EPS);
    cr_assert_float_eq(dec(t->placed[a].req.price), 60160.10, EPS);

    /* the bid fills completely at 14 s: no create before 74 s; the ask is
     * cancelled at the refresh time (23 s) */
    tc_publish_order(t, CLB_EV_ORDER_FILLED, b, 14 * S_NS);
    tc_publish_order(t, CLB_EV_ORDER_COMPLETED, b, 14 * S_NS);
    clb_clock_advance_to(&r.clock, 22 * S_NS);
    cr_assert_eq(t->n_cancelled, 2);
    clb_clock_advance_to(&r.clock, 23 * S_NS);
    cr_assert_eq(t->n_cancelled, 3);
    cr_assert(was_cancelled(t, t->placed[a].id));
    tc_publish_order(t, CLB_EV_ORDER_CANCELLED, a, 23 * S_NS + 1);
    clb_clock_advance_to(&r.clock, 74 * S_NS);
    cr_assert_eq(t->n_placed, 4);
    clb_clock_advance_to(&r.clock, 75 * S_NS);
    cr_assert_eq(t->n_placed, 6);

    /* metrics see the two live orders and the fill */
    struct clb_strategy_metric m[32];
    size_t nm = r.s->ops->metrics(r.s, m, 32);
    cr_assert_geq(nm, 10);
    bool seen = false;
    for (size_t i = 0; i < nm; i++) {
        if (strcmp(m[i].name, "orders_completed") == 0) {
            cr_assert_eq(m[i].value, 1.0);
            seen = true;
        }
        if (strcmp(m[i].name, "active_buys") == 0)
            cr_assert_eq(m[i].value, 1.0);
    }
    cr_assert(seen);

    /* stop cancels everything that is live */
    rig_stop(&r, 76 * S_NS);
    cr_assert_eq(t->n_cancelled, 5);
    cr_assert(was_cancelled(t, t->placed[4].id));
    cr_assert(was_cancelled(t, t->placed[5].id));
    cr_assert_eq(t->bus.n, 0); /* detached */
}

Test(pmm_glue, unchanged_market_keeps_orders_and_not_ready_does_nothing)
{
    struct clb_pmm_config cfg = cfg_default();
    struct rig r;
    rig_start(&r, &cfg);
    struct tconn *t = &r.tc;
    t->ready = false;
    clb_clock_advance_to(&r.clock, 5 * S_NS);
    cr_assert_eq(t->n_placed, 0);
    t->ready = true;
    clb_clock_advance_to(&r.clock, 6 * S_NS);
    cr_assert_eq(t->n_placed, 2);
    clb_clock_advance_to(&r.clock, 60 * S_NS); /* several refreshes, same prices */
    cr_assert_eq(t->n_placed, 2);
    cr_assert_eq(t->n_cancelled, 0);
    rig_stop(&r, 61 * S_NS);
    cr_assert_eq(t->n_cancelled, 2);
}

Test(pmm_glue, events_of_other_markets_and_orders_are_ignored)
{
    struct clb_pmm_config cfg = cfg_default();
    struct rig r;
    rig_start(&r, &cfg);
    struct tconn *t = &r.tc;
    clb_clock_advance_to(&r.clock, 1 * S_NS);
    cr_assert_eq(t->n_placed, 2);
    /* a completion for an id that is not ours, then ours on another market */
    struct clb_event ev = { .type = CLB_EV_ORDER_COMPLETED, .ts_ns = 2 * S_NS };
    ev.u.order.client_order_id = "someone-else";
    ev.u.order.market = "BTC-USDT";
    clb_event_publish(&t->bus, &ev);
    ev.u.order.client_order_id = t->placed[0].id;
    ev.u.order.market = "ETH-USDT";
    clb_event_publish(&t->bus, &ev);
    struct clb_strategy_metric m[32];
    size_t nm = r.s->ops->metrics(r.s, m, 32);
    for (size_t i = 0; i < nm; i++) {
        if (strcmp(m[i].name, "orders_completed") == 0)
            cr_assert_eq(m[i].value, 0.0);
        if (strcmp(m[i].name, "active_buys") == 0)
            cr_assert_eq(m[i].value, 1.0);
    }
    rig_stop(&r, 3 * S_NS);
}

Test(pmm_glue, hanging_pair_survives_refresh)
{
    struct clb_pmm_config cfg = cfg_default();
    cfg.hanging_orders_enabled = true;
    cfg.filled_order_delay = 1;
    struct rig r;
    rig_start(&r, &cfg);
    struct tconn *t = &r.tc;
    clb_clock_advance_to(&r.clock, 1 * S_NS);
    int b = find_placed(t, CLB_SIDE_BUY, 0), a = find_placed(t, CLB_SIDE_SELL, 0);
    tc_publish_order(t, CLB_EV_ORDER_COMPLETED, b, 2 * S_NS);
    /* the ask now hangs: at 3 s (delay over) a new pair is created around it */
    clb_clock_advance_to(&r.clock, 4 * S_NS);
    cr_assert_eq(t->n_placed, 4);
    cr_assert_eq(t->n_cancelled, 0);
    /* a market move beyond the refresh cancels the new pair, not the hanging ask */
    tc_set_top(t, 60199.0, 60201.0); /* +0.33 %: within hanging_orders_cancel_pct 10 % */
    clb_clock_advance_to(&r.clock, 15 * S_NS);
    cr_assert_eq(t->n_cancelled, 2);
    cr_assert_not(was_cancelled(t, t->placed[a].id));
    /* far away: the hanging order goes too */
    tc_set_top(t, 69999.0, 70001.0);
    clb_clock_advance_to(&r.clock, 16 * S_NS);
    cr_assert(was_cancelled(t, t->placed[a].id));
    rig_stop(&r, 17 * S_NS);
}

Test(pmm_glue, price_type_last_price_follows_trades)
{
    struct clb_pmm_config cfg = cfg_default();
    cfg.price_type = CLB_PMM_PRICE_LAST;
    struct rig r;
    rig_start(&r, &cfg);
    struct tconn *t = &r.tc;
    struct clb_event ev = { .type = CLB_EV_TRADE, .ts_ns = 1 };
    ev.u.trade.market = "BTC-USDT";
    ev.u.trade.price = 5950000; /* 59500.00 */
    ev.u.trade.qty = 100;
    clb_event_publish(&t->bus, &ev);
    clb_clock_advance_to(&r.clock, 1 * S_NS);
    int b = find_placed(t, CLB_SIDE_BUY, 0);
    cr_assert_float_eq(dec(t->placed[b].req.price), 59440.50, EPS);
    /* the ask (59559.50) would cross the 59999 bid: dropped */
    cr_assert_eq(find_placed(t, CLB_SIDE_SELL, 0), -1);
    rig_stop(&r, 2 * S_NS);
}

Test(strategy_base, attach_rules_and_registry)
{
    struct tconn t;
    tc_init(&t);
    struct clb_strategy *s = NULL;
    char err[64];
    cr_assert_eq(clb_pure_market_making_ops.create(NULL, &s, err, sizeof(err)), CLB_OK);
    cr_assert_eq(clb_strategy_attach(s, &t.base, "ETH-USDT", 1, "x"), CLB_ENOTFOUND);
    cr_assert_eq(s->bus_handle, -1);
    cr_assert_null(s->conn);
    /* not attached: the clock refuses to start it */
    struct clb_clock clock;
    struct clb_clock_config cc = { .mode = CLB_CLOCK_BACKTEST, .tick_ns = S_NS };
    clb_clock_init(&clock, &cc);
    cr_assert_eq(clb_clock_add(&clock, &s->it), CLB_OK);
    cr_assert_eq(clb_clock_start(&clock, 0), CLB_ESTATE);
    clb_clock_remove(&clock, &s->it);
    clb_clock_deinit(&clock);

    cr_assert_eq(clb_strategy_attach(s, &t.base, "BTC-USDT", 3, "named"), CLB_OK);
    cr_assert_eq(clb_strategy_attach(s, &t.base, "BTC-USDT", 3, "named"), CLB_ESTATE);
    cr_assert_str_eq(s->name, "named");
    cr_assert_eq(s->id, 3);
    cr_assert_geq(s->bus_handle, 0);
    cr_assert_eq(t.bus.n, 1);
    /* update_config: bad values leave the config alone */
    struct clb_pmm_config c = *(const struct clb_pmm_config *)s->ops->config(s);
    c.bid_spread = 200;
    cr_assert_eq(s->ops->update_config(s, &c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_eq(((const struct clb_pmm_config *)s->ops->config(s))->bid_spread, 0.1);
    c.bid_spread = 0.3;
    cr_assert_eq(s->ops->update_config(s, &c, err, sizeof(err)), CLB_OK);
    cr_assert_eq(((const struct clb_pmm_config *)s->ops->config(s))->bid_spread, 0.3);
    clb_strategy_detach(s);
    cr_assert_eq(t.bus.n, 0);
    cr_assert_eq(s->bus_handle, -1);
    clb_strategy_detach(s); /* idempotent */
    s->ops->destroy(s);

    const struct clb_strategy_ops *const *types;
    size_t n = clb_strategy_types(&types);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(types[0]->type, "pure_market_making");
    cr_assert_str_eq(types[1]->type, "avellaneda_market_making");
    cr_assert_str_eq(types[2]->type, "amm_arb");
    cr_assert_eq(clb_strategy_find("avellaneda_market_making"), types[1]);
    cr_assert_null(clb_strategy_find("nope"));
    cr_assert_null(clb_strategy_find(NULL));
    tc_deinit(&t);
}

/* The same life cycle with the real order tracker publishing the events,
 * and with events the strategy missed (reconciled from the tracker). */
Test(pmm_glue, with_a_real_order_tracker)
{
    struct clb_pmm_config cfg = cfg_default();
    struct rig r;
    rig_start(&r, &cfg);
    struct tconn *t = &r.tc;
    struct clb_order_tracker tr;
    struct clb_tracker_config tcfg;
    clb_tracker_config_defaults(&tcfg);
    tcfg.bus = &t->bus;
    tcfg.source = "test";
    cr_assert_eq(clb_tracker_init(&tr, &tcfg), CLB_OK);
    t->tracker = &tr;

    t->now_ns = 1 * S_NS;
    clb_clock_advance_to(&r.clock, 1 * S_NS);
    cr_assert_eq(t->n_placed, 2);
    int b = find_placed(t, CLB_SIDE_BUY, 0), a = find_placed(t, CLB_SIDE_SELL, 0);
    cr_assert_eq(clb_tracker_on_created(&tr, t->placed[b].id, "X1", 1 * S_NS), CLB_OK);
    cr_assert_eq(clb_tracker_on_created(&tr, t->placed[a].id, "X2", 1 * S_NS), CLB_OK);

    /* a partial fill then the rest of the bid: the tracker publishes
     * ORDER_FILLED twice and ORDER_COMPLETED; the strategy waits 60 s */
    t->now_ns = 2 * S_NS;
    struct clb_fill f = { .trade_id = "t1", .price = t->placed[b].req.price,
                          .amount = clb_dec_make(400, 5), .fee = clb_dec_make(0, 0) };
    cr_assert_eq(clb_tracker_on_fill(&tr, t->placed[b].id, &f, 2 * S_NS), CLB_OK);
    f.trade_id = "t2";
    f.amount = clb_dec_make(600, 5);
    cr_assert_eq(clb_tracker_on_fill(&tr, t->placed[b].id, &f, 2 * S_NS), CLB_OK);
    struct clb_strategy_metric m[32];
    size_t nm = r.s->ops->metrics(r.s, m, 32);
    for (size_t i = 0; i < nm; i++) {
        if (strcmp(m[i].name, "fills") == 0)
            cr_assert_eq(m[i].value, 2.0);
        if (strcmp(m[i].name, "orders_completed") == 0)
            cr_assert_eq(m[i].value, 1.0);
        if (strcmp(m[i].name, "next_create_s") == 0)
            cr_assert_float_eq(m[i].value, 60.0, 1e-9);
    }

    /* the refresh (11 s) cancels the ask: PENDING_CANCEL through the tracker */
    t->now_ns = 11 * S_NS;
    clb_clock_advance_to(&r.clock, 11 * S_NS);
    cr_assert_eq(t->n_cancelled, 1);
    cr_assert_eq(clb_tracker_get(&tr, t->placed[a].id)->state, CLB_ORDER_PENDING_CANCEL);
    /* the cancel is confirmed while the strategy does not listen: the
     * tracker is reconciled at the next tick */
    struct clb_event_bus *bus = tr.bus;
    tr.bus = NULL;
    cr_assert_eq(clb_tracker_on_cancelled(&tr, t->placed[a].id, 12 * S_NS), CLB_OK);
    tr.bus = bus;
    t->now_ns = 62 * S_NS;
    clb_clock_advance_to(&r.clock, 62 * S_NS);
    cr_assert_eq(t->n_placed, 2); /* delay runs to 62 s */
    t->now_ns = 63 * S_NS;
    clb_clock_advance_to(&r.clock, 63 * S_NS);
    cr_assert_eq(t->n_placed, 4);

    /* a fill nobody heard of: reconciling finds the order FILLED and applies
     * the filled_order_delay (no new orders before 124 s) */
    b = find_placed(t, CLB_SIDE_BUY, 2);
    a = find_placed(t, CLB_SIDE_SELL, 2);
    tr.bus = NULL;
    f.trade_id = "t3";
    f.amount = t->placed[b].req.amount;
    cr_assert_eq(clb_tracker_on_fill(&tr, t->placed[b].id, &f, 63 * S_NS), CLB_OK);
    tr.bus = bus;
    t->now_ns = 64 * S_NS;
    clb_clock_advance_to(&r.clock, 64 * S_NS);
    nm = r.s->ops->metrics(r.s, m, 32);
    for (size_t i = 0; i < nm; i++) {
        if (strcmp(m[i].name, "orders_completed") == 0)
            cr_assert_eq(m[i].value, 2.0);
        if (strcmp(m[i].name, "active_buys") == 0)
            cr_assert_eq(m[i].value, 0.0);
        if (strcmp(m[i].name, "filled_buys_balance") == 0)
            cr_assert_eq(m[i].value, 2.0);
    }
    cr_assert_eq(clb_tracker_on_cancelled(&tr, t->placed[a].id, 64 * S_NS), CLB_OK);
    t->now_ns = 124 * S_NS;
    clb_clock_advance_to(&r.clock, 124 * S_NS);
    cr_assert_eq(t->n_placed, 4);
    t->now_ns = 125 * S_NS;
    clb_clock_advance_to(&r.clock, 125 * S_NS);
    cr_assert_eq(t->n_placed, 6);
    rig_stop(&r, 126 * S_NS);
    cr_assert_eq(clb_tracker_get(&tr, t->placed[4].id)->state, CLB_ORDER_PENDING_CANCEL);
    clb_tracker_deinit(&tr);
}

/* A bare strategy whose on_event counts what reaches it. */
static int g_events[CLB_EV_COUNT_];

static void count_event(struct clb_strategy *s, const struct clb_event *ev)
{
    (void)s;
    g_events[ev->type]++;
}

static const struct clb_strategy_ops counting_ops = {
    .type = "counting",
    .on_event = count_event,
};

Test(strategy_base, trampoline_filters_by_market_and_asset)
{
    struct tconn t;
    tc_init(&t);
    struct clb_strategy s;
    clb_strategy_base_init(&s, &counting_ops);
    cr_assert_str_eq(s.name, "counting");
    cr_assert_eq(s.bus_handle, -1);
    cr_assert_eq(clb_strategy_attach(&s, &t.base, "BTC-USDT", 1, NULL), CLB_OK);
    memset(g_events, 0, sizeof(g_events));
    struct clb_event ev = { .type = CLB_EV_BALANCE };
    const char *assets[] = { "BTC", "USDT", "ETH", "BTCX" };
    for (int i = 0; i < 4; i++) {
        ev.u.balance.asset = assets[i];
        clb_event_publish(&t.bus, &ev);
    }
    cr_assert_eq(g_events[CLB_EV_BALANCE], 2);
    ev = (struct clb_event){ .type = CLB_EV_TRADE };
    ev.u.trade.market = "ETH-USDT";
    clb_event_publish(&t.bus, &ev);
    ev.u.trade.market = "BTC-USDT";
    clb_event_publish(&t.bus, &ev);
    cr_assert_eq(g_events[CLB_EV_TRADE], 1);
    ev = (struct clb_event){ .type = CLB_EV_BOOK_DIFF };
    ev.u.book.market = "BTC-USDT";
    clb_event_publish(&t.bus, &ev);
    ev.u.book.market = NULL;
    clb_event_publish(&t.bus, &ev);
    cr_assert_eq(g_events[CLB_EV_BOOK_DIFF], 1);
    ev = (struct clb_event){ .type = CLB_EV_ORDER_STATE };
    ev.u.order.market = "BTC-USDT";
    clb_event_publish(&t.bus, &ev);
    ev.u.order.market = "BTC-EUR";
    clb_event_publish(&t.bus, &ev);
    cr_assert_eq(g_events[CLB_EV_ORDER_STATE], 1);
    clb_strategy_detach(&s);
    clb_event_publish(&t.bus, &ev);
    ev.u.order.market = "BTC-USDT";
    clb_event_publish(&t.bus, &ev);
    cr_assert_eq(g_events[CLB_EV_ORDER_STATE], 1);
    tc_deinit(&t);
}
