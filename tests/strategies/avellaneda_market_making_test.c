/* Tests for strategies/avellaneda_market_making.c: reservation price,
 * optimal spread, quotes, inventory, execution windows and the planner with
 * hand-computed values, then the glue (indicators fed by ticks and trade
 * events) against a tiny in-memory connector driven by a real clock. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "avellaneda_market_making.h"
#include "clock.h"
#include "connector.h"
#include "error.h"
#include "event.h"
#include "order_book.h"
#include "param.h"
#include "strategy.h"

#define S_NS INT64_C(1000000000)
/* 2024-01-01 00:00:00 UTC */
#define JAN1_NS (INT64_C(1704067200) * S_NS)
#define H_NS (INT64_C(3600) * S_NS)

static struct clb_avmm_config cfg_default(void)
{
    struct clb_avmm_config c;
    clb_avmm_config_defaults(&c);
    return c;
}

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */
/* ------------------------------------------------------------------------ */

Test(avmm_params, defaults_and_table)
{
    struct clb_avmm_config c = cfg_default();
    cr_assert_eq(c.risk_factor, 1.0);
    cr_assert_eq(c.order_amount, 0.01);
    cr_assert_eq(c.volatility_buffer_size, 200);
    cr_assert_eq(c.trading_intensity_buffer_size, 200);
    cr_assert_eq(c.execution_timeframe, CLB_AVMM_INFINITE);
    cr_assert_eq(c.order_levels, 1);
    char err[128];
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_OK, "%s", err);
    const struct clb_strategy_ops *ops = clb_strategy_find("avellaneda_market_making");
    cr_assert_eq(ops, &clb_avellaneda_market_making_ops);
    const char *need[] = { "risk_factor", "order_amount", "order_amount_shape_factor",
                           "min_spread", "order_refresh_time", "order_refresh_tolerance_pct",
                           "filled_order_delay", "inventory_target_base_pct",
                           "volatility_buffer_size", "trading_intensity_buffer_size",
                           "execution_timeframe", "start_time", "end_time", "order_levels",
                           "level_distances", "max_order_age" };
    for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++)
        cr_assert_not_null(clb_params_find(ops->params, ops->n_params, need[i]), "%s", need[i]);
    for (size_t i = 0; i < ops->n_params; i++) {
        cr_assert_not_null(ops->params[i].unit);
        cr_assert_not_null(ops->params[i].help);
    }
    cr_assert_eq(clb_params_set_kv(ops->params, ops->n_params, &c,
                                   "execution_timeframe=daily_between_times", err, sizeof(err)),
                 CLB_OK);
    cr_assert_eq(c.execution_timeframe, CLB_AVMM_DAILY_BETWEEN_TIMES);
    cr_assert_eq(clb_params_set_kv(ops->params, ops->n_params, &c,
                                   "order_amount_shape_factor=1.5", err, sizeof(err)),
                 CLB_ERANGE);
}

Test(avmm_params, cross_checks_name_the_key)
{
    char err[160];
    struct clb_avmm_config c = cfg_default();
    c.risk_factor = 0;
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "risk_factor"));
    c = cfg_default();
    c.order_amount = 0;
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "order_amount"));
    c = cfg_default();
    c.execution_timeframe = CLB_AVMM_FROM_DATE_TO_DATE;
    snprintf(c.start_time, sizeof(c.start_time), "2024-02-30 00:00:00");
    snprintf(c.end_time, sizeof(c.end_time), "2024-03-01 00:00:00");
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "start_time"));
    snprintf(c.start_time, sizeof(c.start_time), "2024-03-02 00:00:00");
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "end_time"));
    snprintf(c.start_time, sizeof(c.start_time), "2024-02-29T23:00:00");
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_OK, "%s", err);
    c.execution_timeframe = CLB_AVMM_DAILY_BETWEEN_TIMES;
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    snprintf(c.start_time, sizeof(c.start_time), "09:00");
    snprintf(c.end_time, sizeof(c.end_time), "25:00:00");
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "end_time"));
    snprintf(c.end_time, sizeof(c.end_time), "09:00:00");
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_EINVAL);
    snprintf(c.end_time, sizeof(c.end_time), "17:30:00");
    cr_assert_eq(clb_avmm_config_check(&c, err, sizeof(err)), CLB_OK, "%s", err);
    struct clb_strategy *s = NULL;
    c.risk_factor = NAN;
    cr_assert_eq(clb_avellaneda_market_making_ops.create(&c, &s, err, sizeof(err)), CLB_EINVAL);
    cr_assert_null(s);
}

/* ------------------------------------------------------------------------ */
/* Quote maths                                                               */
/* ------------------------------------------------------------------------ */

Test(avmm_pure, reservation_price_and_spread_hand_values)
{
    /* r = 100 - 0.5 * 0.1 * 2^2 * 0.5 = 99.9 */
    cr_assert_float_eq(clb_avmm_reservation_price(100, 0.5, 0.1, 2, 0.5), 99.9, 1e-12);
    cr_assert_float_eq(clb_avmm_reservation_price(100, -1, 0.1, 2, 1), 100.4, 1e-12);
    cr_assert_float_eq(clb_avmm_reservation_price(100, 3, 0.1, 2, 0), 100.0, 1e-12);
    /* delta = 0.1 * 4 * 0.5 + 20 ln(1 + 0.1 / 1.5) = 0.2 + 20 ln(16/15) */
    double d = clb_avmm_optimal_spread(0.1, 2, 0.5, 1.5);
    cr_assert_float_eq(d, 0.2 + 20.0 * log(16.0 / 15.0), 1e-12);
    cr_assert_float_eq(d, 1.49077042, 1e-8);
    /* gamma 1, sigma 1, tau 1, kappa 1: 1 + 2 ln 2 */
    cr_assert_float_eq(clb_avmm_optimal_spread(1, 1, 1, 1), 1.0 + 2.0 * log(2.0), 1e-12);
}

Test(avmm_pure, quotes_with_min_spread)
{
    struct clb_avmm_quotes q;
    cr_assert_eq(clb_avmm_compute_quotes(100, 0.5, 0.1, 2, 0.5, 1.5, 0, &q), CLB_OK);
    double half = (0.2 + 20.0 * log(16.0 / 15.0)) / 2.0;
    cr_assert_float_eq(q.reservation, 99.9, 1e-12);
    cr_assert_float_eq(q.bid, 99.9 - half, 1e-12);
    cr_assert_float_eq(q.ask, 99.9 + half, 1e-12);
    /* min_spread 2 %: at least 1 on each side of the mid */
    cr_assert_eq(clb_avmm_compute_quotes(100, 0.5, 0.1, 2, 0.5, 1.5, 2, &q), CLB_OK);
    cr_assert_float_eq(q.bid, 99.0, 1e-12);
    cr_assert_float_eq(q.ask, 101.0, 1e-12);
    /* a big inventory pushes both quotes below the mid; the limit keeps the
     * bid below it */
    cr_assert_eq(clb_avmm_compute_quotes(100, 5, 0.1, 2, 1, 1.5, 0.1, &q), CLB_OK);
    cr_assert_float_eq(q.reservation, 98.0, 1e-12);
    cr_assert_float_eq(q.ask, 100.05, 1e-12); /* r + 0.845 < 100.05 */
    cr_assert_lt(q.bid, 98.0);
    cr_assert_eq(clb_avmm_compute_quotes(100, 0, 0.1, 2, 1, 0, 0, &q), CLB_EINVAL);
    cr_assert_eq(clb_avmm_compute_quotes(100, 0, 0, 2, 1, 1, 0, &q), CLB_EINVAL);
    cr_assert_eq(clb_avmm_compute_quotes(0, 0, 1, 2, 1, 1, 0, &q), CLB_EINVAL);
    cr_assert_eq(clb_avmm_compute_quotes(100, NAN, 1, 2, 1, 1, 0, &q), CLB_EINVAL);
    cr_assert_eq(clb_avmm_compute_quotes(100, 0, 1, -2, 1, 1, 0, &q), CLB_EINVAL);
}

Test(avmm_pure, inventory_q_normalised)
{
    /* 1 BTC + 60000 USDT at 60000, target 50 %: on target */
    cr_assert_float_eq(clb_avmm_inventory_q(1, 60000, 60000, 50), 0.0, 1e-12);
    /* 1.5 BTC + 30000: total 2 BTC, target 1: q = 0.5 / 2 */
    cr_assert_float_eq(clb_avmm_inventory_q(1.5, 30000, 60000, 50), 0.25, 1e-12);
    /* all quote, target 100 %: q = -1 */
    cr_assert_float_eq(clb_avmm_inventory_q(0, 120000, 60000, 100), -1.0, 1e-12);
    /* same shares, ten times the money: same q */
    cr_assert_float_eq(clb_avmm_inventory_q(15, 300000, 60000, 50), 0.25, 1e-12);
    cr_assert_eq(clb_avmm_inventory_q(0, 0, 60000, 50), 0.0);
    cr_assert_eq(clb_avmm_inventory_q(1, 1, 0, 50), 0.0);
}

Test(avmm_pure, windows)
{
    struct clb_avmm_config c = cfg_default();
    struct clb_avmm_window w;
    double f;
    cr_assert_eq(clb_avmm_window_parse(&c, &w, NULL, 0), CLB_OK);
    cr_assert(clb_avmm_window_time_left(&w, JAN1_NS, &f));
    cr_assert_eq(f, 1.0);

    c.execution_timeframe = CLB_AVMM_FROM_DATE_TO_DATE;
    snprintf(c.start_time, sizeof(c.start_time), "2024-01-01 00:00:00");
    snprintf(c.end_time, sizeof(c.end_time), "2024-01-01 01:00:00");
    cr_assert_eq(clb_avmm_window_parse(&c, &w, NULL, 0), CLB_OK);
    cr_assert_eq(w.start_ns, JAN1_NS);
    cr_assert_eq(w.end_ns, JAN1_NS + H_NS);
    cr_assert(clb_avmm_window_time_left(&w, JAN1_NS + H_NS / 4, &f));
    cr_assert_float_eq(f, 0.75, 1e-12);
    cr_assert(clb_avmm_window_time_left(&w, JAN1_NS, &f));
    cr_assert_float_eq(f, 1.0, 1e-12);
    cr_assert_not(clb_avmm_window_time_left(&w, JAN1_NS - 1, &f));
    cr_assert_not(clb_avmm_window_time_left(&w, JAN1_NS + H_NS, &f));
    /* a leap day */
    snprintf(c.start_time, sizeof(c.start_time), "2024-02-29 12:00:00");
    snprintf(c.end_time, sizeof(c.end_time), "2024-03-01T12:00:00");
    cr_assert_eq(clb_avmm_window_parse(&c, &w, NULL, 0), CLB_OK);
    cr_assert_eq(w.end_ns - w.start_ns, 24 * H_NS);
    cr_assert_eq(w.start_ns, JAN1_NS + (31 + 28) * 24 * H_NS + 12 * H_NS);

    c.execution_timeframe = CLB_AVMM_DAILY_BETWEEN_TIMES;
    snprintf(c.start_time, sizeof(c.start_time), "09:00:00");
    snprintf(c.end_time, sizeof(c.end_time), "17:00:00");
    cr_assert_eq(clb_avmm_window_parse(&c, &w, NULL, 0), CLB_OK);
    cr_assert(clb_avmm_window_time_left(&w, JAN1_NS + 13 * H_NS, &f));
    cr_assert_float_eq(f, 0.5, 1e-12);
    cr_assert(clb_avmm_window_time_left(&w, JAN1_NS + 5 * 24 * H_NS + 9 * H_NS, &f));
    cr_assert_float_eq(f, 1.0, 1e-12);
    cr_assert_not(clb_avmm_window_time_left(&w, JAN1_NS + 9 * H_NS - 1, &f));
    cr_assert_not(clb_avmm_window_time_left(&w, JAN1_NS + 17 * H_NS, &f));
    /* wrapping midnight: 22:00 -> 02:00 */
    snprintf(c.start_time, sizeof(c.start_time), "22:00");
    snprintf(c.end_time, sizeof(c.end_time), "02:00");
    cr_assert_eq(clb_avmm_window_parse(&c, &w, NULL, 0), CLB_OK);
    cr_assert(clb_avmm_window_time_left(&w, JAN1_NS + 23 * H_NS, &f));
    cr_assert_float_eq(f, 0.75, 1e-12);
    cr_assert(clb_avmm_window_time_left(&w, JAN1_NS + 1 * H_NS, &f));
    cr_assert_float_eq(f, 0.25, 1e-12);
    cr_assert_not(clb_avmm_window_time_left(&w, JAN1_NS + 3 * H_NS, &f));
}

static struct clb_mm_market hundred_market(void)
{
    return (struct clb_mm_market){
        .tick_size = 0.01, .step_size = 0.001, .min_qty = 0, .min_notional = 0,
        .best_bid = 99.99, .best_ask = 100.01, .maker_fee = 0,
    };
}

Test(avmm_pure, proposal_levels_and_eta)
{
    struct clb_avmm_config c = cfg_default();
    c.order_amount = 1.0;
    c.order_levels = 3;
    c.level_distances = 50; /* half of the half spread */
    c.order_amount_shape_factor = 1.0;
    struct clb_mm_market mk = hundred_market();
    struct clb_avmm_quotes qt;
    cr_assert_eq(clb_avmm_compute_quotes(100, 0, 0.1, 2, 1, 1.5, 0, &qt), CLB_OK);
    /* delta = 0.4 + 1.29077 = 1.69077: bid 99.15461, ask 100.84539; step 0.42269 */
    struct clb_mm_proposal p;
    clb_avmm_proposal(&c, &qt, 0.0, &mk, &p);
    cr_assert_eq(p.n_buys, 3);
    cr_assert_eq(p.n_sells, 3);
    cr_assert_float_eq(p.buys[0].price, 99.15, 1e-9);
    cr_assert_float_eq(p.sells[0].price, 100.85, 1e-9);
    cr_assert_float_eq(p.buys[1].price, 98.73, 1e-9);  /* 98.73192 */
    cr_assert_float_eq(p.sells[1].price, 101.27, 1e-9); /* 101.26808 */
    cr_assert_float_eq(p.buys[2].price, 98.30, 1e-9);  /* 98.30923 */
    cr_assert_float_eq(p.sells[2].price, 101.70, 1e-9); /* 101.69077 */
    cr_assert_float_eq(p.buys[0].amount, 1.0, 1e-12);
    /* long inventory (q = 0.5): buys shrink by exp(-0.5) = 0.60653 */
    clb_avmm_proposal(&c, &qt, 0.5, &mk, &p);
    cr_assert_float_eq(p.buys[0].amount, 0.606, 1e-12);
    cr_assert_float_eq(p.sells[0].amount, 1.0, 1e-12);
    /* short inventory (q = -0.25): sells shrink by exp(-0.25) = 0.77880 */
    clb_avmm_proposal(&c, &qt, -0.25, &mk, &p);
    cr_assert_float_eq(p.buys[2].amount, 1.0, 1e-12);
    cr_assert_float_eq(p.sells[2].amount, 0.778, 1e-12);
    /* eta 0: no shaping */
    c.order_amount_shape_factor = 0;
    clb_avmm_proposal(&c, &qt, 0.9, &mk, &p);
    cr_assert_float_eq(p.buys[0].amount, 1.0, 1e-12);
}

/* ---- the planner ---- */

static struct clb_mm_order order_at(enum clb_side side, double price, int64_t created_ns)
{
    struct clb_mm_order o;
    memset(&o, 0, sizeof(o));
    static int n;
    snprintf(o.client_id, sizeof(o.client_id), "a%d", ++n);
    o.side = side;
    o.price = price;
    o.amount = 1.0;
    o.created_ns = created_ns;
    return o;
}

static struct clb_avmm_inputs ready_inputs(int64_t now_ns, const struct clb_mm_order *o,
                                           size_t n)
{
    return (struct clb_avmm_inputs){
        .now_ns = now_ns, .mid = 100, .sigma = 2, .kappa = 1.5, .indicators_ready = true,
        .in_window = true, .tau = 1, .q = 0, .mk = hundred_market(),
        .base_available = 100, .quote_available = 10000, .orders = o, .n_orders = n,
    };
}

Test(avmm_plan, waits_for_indicators_then_quotes)
{
    struct clb_avmm_config c = cfg_default();
    c.order_amount = 1.0;
    c.risk_factor = 0.1;
    struct clb_avmm_state st = { 0 };
    struct clb_avmm_plan pl;
    struct clb_mm_order o[1] = { order_at(CLB_SIDE_BUY, 99.0, 0) };
    struct clb_avmm_inputs in = ready_inputs(10000 * S_NS, o, 1);
    in.indicators_ready = false;
    clb_avmm_plan(&c, &st, &in, &pl);
    cr_assert_not(pl.has_proposal);
    cr_assert_eq(pl.n_cancel, 0); /* not even max age while not ready */
    cr_assert_not(pl.create);

    in = ready_inputs(1 * S_NS, NULL, 0);
    clb_avmm_plan(&c, &st, &in, &pl);
    cr_assert(pl.has_proposal);
    cr_assert(pl.create);
    cr_assert_float_eq(pl.quotes.reservation, 100.0, 1e-12);
    cr_assert_float_eq(pl.quotes.spread, 0.4 + 20.0 * log(16.0 / 15.0), 1e-12);
    cr_assert_eq(pl.proposal.n_buys, 1);
    cr_assert_float_eq(pl.proposal.buys[0].price, 99.15, 1e-9);
    cr_assert_float_eq(pl.proposal.sells[0].price, 100.85, 1e-9);
    /* inventory long by 0.25: r = 100 - 0.25 * 0.1 * 4 = 99.9 */
    in.q = 0.25;
    clb_avmm_plan(&c, &st, &in, &pl);
    cr_assert_float_eq(pl.quotes.reservation, 99.9, 1e-12);
    cr_assert_float_eq(pl.proposal.buys[0].price, 99.05, 1e-9);  /* 99.05461 */
    cr_assert_float_eq(pl.proposal.sells[0].price, 100.75, 1e-9); /* 100.74539 */
    /* half the window left: the inventory term halves */
    in.tau = 0.5;
    clb_avmm_plan(&c, &st, &in, &pl);
    cr_assert_float_eq(pl.quotes.reservation, 99.95, 1e-12);
    cr_assert_float_eq(pl.quotes.spread, 0.2 + 20.0 * log(16.0 / 15.0), 1e-12);
}

Test(avmm_plan, window_age_refresh_and_tolerance)
{
    struct clb_avmm_config c = cfg_default();
    c.order_amount = 1.0;
    c.risk_factor = 0.1;
    c.max_order_age = 100;
    struct clb_avmm_state st = { 0 };
    clb_mm_set_timers(&st.timers, 1 * S_NS, 10 * S_NS); /* create/cancel at 11 s */
    struct clb_mm_order o[2] = { order_at(CLB_SIDE_BUY, 99.15, 1 * S_NS),
                                 order_at(CLB_SIDE_SELL, 100.85, 1 * S_NS) };
    struct clb_avmm_plan pl;
    /* outside the window: everything is cancelled, nothing proposed */
    struct clb_avmm_inputs in = ready_inputs(5 * S_NS, o, 2);
    in.in_window = false;
    clb_avmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 2);
    cr_assert_eq(pl.cancel[0], CLB_MM_CANCEL_WINDOW);
    cr_assert_not(pl.has_proposal);
    /* in the window, before the refresh: nothing */
    in.in_window = true;
    clb_avmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 0);
    cr_assert_not(pl.has_proposal);
    /* refresh due, same quotes: kept, timers deferred */
    in.now_ns = 11 * S_NS;
    clb_avmm_plan(&c, &st, &in, &pl);
    cr_assert(pl.has_proposal);
    cr_assert_eq(pl.n_cancel, 0);
    cr_assert(pl.defer_timers);
    cr_assert_not(pl.create);
    /* the mid moved: both replaced */
    in.mid = 100.5;
    in.mk.best_bid = 100.49;
    in.mk.best_ask = 100.51;
    clb_avmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 2);
    cr_assert_eq(pl.cancel[1], CLB_MM_CANCEL_REFRESH);
    cr_assert_not(pl.defer_timers);
    /* one order older than max_order_age: cancelled alone even if the
     * refresh is not due */
    st.timers.create_ns = st.timers.cancel_ns = 1000 * S_NS;
    o[0].created_ns = 0;
    in = ready_inputs(101 * S_NS, o, 2);
    clb_avmm_plan(&c, &st, &in, &pl);
    cr_assert_eq(pl.n_cancel, 1);
    cr_assert_eq(pl.cancel[0], CLB_MM_CANCEL_AGE);
}

/* ------------------------------------------------------------------------ */
/* Glue with a tiny in-memory connector                                      */
/* ------------------------------------------------------------------------ */

#define TC_MAX 64

struct tconn {
    struct clb_connector base;
    struct clb_event_bus bus;
    struct clb_market_rules rules;
    struct clb_order_book book;
    struct clb_order_request placed[TC_MAX];
    char ids[TC_MAX][CLB_CLIENT_ID_MAX];
    int n_placed, n_cancelled;
};

static struct tconn *tc_of(struct clb_connector *c)
{
    return (struct tconn *)(void *)c;
}

static int tc_place(struct clb_connector *c, const struct clb_order_request *req,
                    char client_id[CLB_CLIENT_ID_MAX])
{
    struct tconn *t = tc_of(c);
    if (t->n_placed == TC_MAX)
        return CLB_EFULL;
    snprintf(client_id, CLB_CLIENT_ID_MAX, "A%d", t->n_placed + 1);
    snprintf(t->ids[t->n_placed], CLB_CLIENT_ID_MAX, "%s", client_id);
    t->placed[t->n_placed++] = *req;
    return CLB_OK;
}

static int tc_cancel(struct clb_connector *c, const char *market, const char *client_id)
{
    (void)market;
    (void)client_id;
    tc_of(c)->n_cancelled++;
    return CLB_OK;
}

static const struct clb_order_book *tc_book(struct clb_connector *c, const char *market)
{
    return strcmp(market, "BTC-USDT") == 0 ? &tc_of(c)->book : NULL;
}

static const struct clb_market_rules *tc_rules(struct clb_connector *c, const char *market)
{
    return strcmp(market, "BTC-USDT") == 0 ? &tc_of(c)->rules : NULL;
}

static int tc_balance(struct clb_connector *c, const char *asset, clb_dec *total,
                      clb_dec *available)
{
    (void)c;
    *total = strcmp(asset, "BTC") == 0 ? clb_dec_make(1, 0) : clb_dec_make(100000, 0);
    *available = *total;
    return CLB_OK;
}

static const struct clb_order_tracker *tc_tracker(struct clb_connector *c)
{
    (void)c;
    return NULL;
}

static void tc_status(struct clb_connector *c, struct clb_connector_status *out)
{
    (void)c;
    *out = (struct clb_connector_status){ true, true, true, true, true };
}

static const struct clb_connector_ops tc_ops = {
    .type = "test", .place = tc_place, .cancel = tc_cancel, .book = tc_book, .rules = tc_rules,
    .balance = tc_balance, .tracker = tc_tracker, .status = tc_status,
};

static void tc_init(struct tconn *t)
{
    memset(t, 0, sizeof(*t));
    t->base.ops = &tc_ops;
    clb_event_bus_init(&t->bus);
    t->base.bus = &t->bus;
    snprintf(t->rules.symbol, sizeof(t->rules.symbol), "BTC-USDT");
    snprintf(t->rules.base, sizeof(t->rules.base), "BTC");
    snprintf(t->rules.quote, sizeof(t->rules.quote), "USDT");
    t->rules.tick_size = clb_dec_make(1, 2);
    t->rules.step_size = clb_dec_make(1, 5);
    t->rules.price_scale = 2;
    t->rules.qty_scale = 5;
    cr_assert_eq(clb_book_init(&t->book, 8), CLB_OK);
    cr_assert_eq(clb_book_set_level(&t->book, CLB_SIDE_BUY, 5999900, 100000), CLB_OK);
    cr_assert_eq(clb_book_set_level(&t->book, CLB_SIDE_SELL, 6000100, 100000), CLB_OK);
}

static double metric(struct clb_strategy *s, const char *name)
{
    struct clb_strategy_metric m[64];
    size_t n = s->ops->metrics(s, m, 64);
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0)
            return m[i].value;
    cr_assert_fail("no metric %s", name);
    return NAN;
}

Test(avmm_glue, warms_up_then_quotes_the_computed_prices)
{
    struct tconn t;
    tc_init(&t);
    struct clb_avmm_config cfg = cfg_default();
    cfg.volatility_buffer_size = 5;
    cfg.trading_intensity_buffer_size = 20;
    struct clb_strategy *s = NULL;
    char err[128];
    cr_assert_eq(clb_avellaneda_market_making_ops.create(&cfg, &s, err, sizeof(err)), CLB_OK,
                 "%s", err);
    cr_assert_eq(clb_strategy_attach(s, &t.base, "BTC-USDT", 9, NULL), CLB_OK);
    struct clb_clock clock;
    struct clb_clock_config cc = { .mode = CLB_CLOCK_BACKTEST, .tick_ns = S_NS };
    cr_assert_eq(clb_clock_init(&clock, &cc), CLB_OK);
    cr_assert_eq(clb_clock_add(&clock, &s->it), CLB_OK);
    cr_assert_eq(clb_clock_start(&clock, 0), CLB_OK);

    /* ticks alone fill the volatility buffer but not the intensity one */
    clb_clock_advance_to(&clock, 10 * S_NS);
    cr_assert_eq(t.n_placed, 0);
    cr_assert_eq(metric(s, "indicators_ready"), 0.0);
    cr_assert_eq(metric(s, "volatility_samples"), 5.0);

    /* 20 trades at depths 0.5 .. 5 with amounts decaying exponentially */
    for (int i = 0; i < 20; i++) {
        double depth = 0.5 + 0.5 * (i % 10);
        double amount = 0.5 * exp(-0.8 * depth);
        struct clb_event ev = { .type = CLB_EV_TRADE, .ts_ns = 10 * S_NS + i };
        ev.u.trade.market = "BTC-USDT";
        ev.u.trade.price = llround((60000.0 + (i % 2 ? depth : -depth)) * 100);
        ev.u.trade.qty = llround(amount * 1e5);
        ev.u.trade.taker_side = i % 2 ? CLB_SIDE_BUY : CLB_SIDE_SELL;
        clb_event_publish(&t.bus, &ev);
    }
    cr_assert_eq(metric(s, "intensity_trades"), 20.0);
    /* the next tick fits the intensity, is ready and quotes at once */
    clb_clock_advance_to(&clock, 11 * S_NS);
    cr_assert_eq(metric(s, "indicators_ready"), 1.0);
    cr_assert_eq(t.n_placed, 2);
    clb_clock_advance_to(&clock, 12 * S_NS);
    cr_assert_eq(t.n_placed, 2);

    /* the placed prices are the model's: constant mid -> sigma falls back
     * to half the book spread (1.00); q = (1 - 1.3333) / 2.6667 = -0.125 */
    double kappa = metric(s, "kappa");
    cr_assert_gt(kappa, 0.0);
    cr_assert_float_eq(metric(s, "volatility"), 1.0, 1e-12);
    cr_assert_float_eq(metric(s, "inventory_q"), -0.125, 1e-12);
    struct clb_avmm_quotes q;
    cr_assert_eq(clb_avmm_compute_quotes(60000, -0.125, 1.0, 1.0, 1.0, kappa, 0, &q), CLB_OK);
    cr_assert_float_eq(metric(s, "reservation_price"), 60000.125, 1e-9);
    const struct clb_order_request *bid = &t.placed[0], *ask = &t.placed[1];
    cr_assert_eq(bid->side, CLB_SIDE_BUY);
    cr_assert_eq(ask->side, CLB_SIDE_SELL);
    cr_assert_eq(bid->type, CLB_ORDER_LIMIT_MAKER);
    cr_assert_eq(bid->owner, 9);
    cr_assert_float_eq(clb_dec_to_double(bid->price), floor(q.bid * 100 + 1e-9) / 100, 1e-9);
    cr_assert_float_eq(clb_dec_to_double(ask->price), ceil(q.ask * 100 - 1e-9) / 100, 1e-9);
    cr_assert_float_eq(clb_dec_to_double(bid->amount), 0.01, 1e-12);

    /* stop cancels both */
    cr_assert_eq(clb_clock_stop(&clock, 13 * S_NS), CLB_OK);
    cr_assert_eq(t.n_cancelled, 2);
    clb_clock_remove(&clock, &s->it);
    clb_strategy_detach(s);
    s->ops->destroy(s);
    clb_clock_deinit(&clock);
    clb_book_deinit(&t.book);
}

Test(avmm_glue, update_config_resizes_indicators)
{
    struct tconn t;
    tc_init(&t);
    struct clb_strategy *s = NULL;
    char err[128];
    cr_assert_eq(clb_avellaneda_market_making_ops.create(NULL, &s, err, sizeof(err)), CLB_OK);
    cr_assert_eq(clb_strategy_attach(s, &t.base, "BTC-USDT", 1, NULL), CLB_OK);
    struct clb_avmm_config c = *(const struct clb_avmm_config *)s->ops->config(s);
    c.volatility_buffer_size = 1; /* below range */
    cr_assert_eq(s->ops->update_config(s, &c, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "volatility_buffer_size"));
    c.volatility_buffer_size = 3;
    c.trading_intensity_buffer_size = 4;
    cr_assert_eq(s->ops->update_config(s, &c, err, sizeof(err)), CLB_OK, "%s", err);
    const struct clb_avmm *a = (const struct clb_avmm *)(const void *)s;
    cr_assert_eq(clb_ring_capacity(&a->vol.base.sampling), 3);
    clb_strategy_detach(s);
    s->ops->destroy(s);
    clb_book_deinit(&t.book);
}
