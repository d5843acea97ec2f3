/*
 * amm_arb.c — Hummingbot's amm_arb (amm_arb.h): the pure decision
 * (profitability, proposal) and the glue that reads a CEX book and an AMM
 * quote source and places the two legs.
 *
 * Legs are followed by client order id through order events from both
 * connectors' buses, and reconciled with the connectors' order trackers at
 * each tick (an event missed never blocks the strategy: a leg whose order
 * is finished or no longer tracked is settled from the tracker).
 */
#include "amm_arb.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "order_book.h"
#include "order_tracker.h"

#define OFF(f) offsetof(struct clb_amm_arb_config, f)
#define LEG1_MAX_RETRIES 3

const struct clb_param_spec clb_amm_arb_params[] = {
    { "order_amount", CLB_PARAM_DOUBLE, OFF(order_amount), 0, 1e12, 1, NULL, NULL, "base",
      "amount of each leg (> 0)" },
    { "min_profitability", CLB_PARAM_DOUBLE, OFF(min_profitability), -100, 1000, 1, NULL, NULL,
      "%", "minimum net profitability (fees and gas counted) to trade" },
    { "market_1_slippage_buffer", CLB_PARAM_DOUBLE, OFF(market_1_slippage_buffer), 0, 50, 0.05,
      NULL, NULL, "%", "added to the CEX leg's limit price (buys up, sells down)" },
    { "market_2_slippage_buffer", CLB_PARAM_DOUBLE, OFF(market_2_slippage_buffer), 0, 50, 1,
      NULL, NULL, "%", "added to the AMM leg's limit price (buys up, sells down)" },
    { "concurrent_orders_submission", CLB_PARAM_BOOL, OFF(concurrent_orders_submission), 0, 1, 1,
      NULL, NULL, "", "true: both legs at once; false: the AMM leg, then the CEX leg" },
    { "gas_token_price", CLB_PARAM_DOUBLE, OFF(gas_token_price), 0, 1e12, 0, NULL, NULL,
      "quote", "price of the chain's native token (ETH) in quote, to count gas; 0 = free" },
};
const size_t clb_amm_arb_n_params = sizeof(clb_amm_arb_params) / sizeof(clb_amm_arb_params[0]);

void clb_amm_arb_config_defaults(struct clb_amm_arb_config *cfg)
{
    clb_params_defaults(clb_amm_arb_params, clb_amm_arb_n_params, cfg);
}

int clb_amm_arb_config_check(const struct clb_amm_arb_config *cfg, char *err, size_t errlen)
{
    int rc = clb_params_check(clb_amm_arb_params, clb_amm_arb_n_params, cfg, err, errlen);
    if (rc != CLB_OK)
        return CLB_EINVAL;
    if (!(cfg->order_amount > 0))
        return clb_errf(err, errlen, CLB_EINVAL, "order_amount: must be > 0");
    return CLB_OK;
}

/* ---- pure decision ---- */

double clb_amm_arb_profitability(double amount, double buy_price, double buy_fee, double buy_gas,
                                 double sell_price, double sell_fee, double sell_gas)
{
    double cost = amount * buy_price * (1 + buy_fee) + buy_gas;
    double proceeds = amount * sell_price * (1 - sell_fee) - sell_gas;
    if (isnan(cost) || isnan(proceeds) || !(cost > 0))
        return NAN;
    return (proceeds - cost) / cost;
}

void clb_amm_arb_propose(const struct clb_amm_arb_config *cfg, const struct clb_amm_arb_prices *in,
                         struct clb_amm_arb_proposal *out)
{
    memset(out, 0, sizeof(*out));
    double a = cfg->order_amount;
    out->amount = a;
    double gas = in->m2_gas_quote >= 0 ? in->m2_gas_quote : 0;
    /* The pool's fee is inside its quote: fee 0 on the AMM leg, gas instead. */
    out->profit_1_2 = clb_amm_arb_profitability(a, in->m1_buy_vwap, in->m1_fee, 0, in->m2_sell,
                                                0, gas);
    out->profit_2_1 = clb_amm_arb_profitability(a, in->m2_buy, 0, gas, in->m1_sell_vwap,
                                                in->m1_fee, 0);
    double min = cfg->min_profitability / 100;
    bool ok12 = !isnan(out->profit_1_2) && out->profit_1_2 >= min;
    bool ok21 = !isnan(out->profit_2_1) && out->profit_2_1 >= min;
    if (ok12 && ok21) {
        if (out->profit_1_2 >= out->profit_2_1)
            ok21 = false;
        else
            ok12 = false;
    }
    double b1 = cfg->market_1_slippage_buffer / 100, b2 = cfg->market_2_slippage_buffer / 100;
    if (ok12) {
        out->direction = CLB_AMM_ARB_BUY_1_SELL_2;
        out->m1_side = CLB_SIDE_BUY;
        out->m1_price = in->m1_buy_worst * (1 + b1);
        out->m2_side = CLB_SIDE_SELL;
        out->m2_price = in->m2_sell * (1 - b2);
    } else if (ok21) {
        out->direction = CLB_AMM_ARB_BUY_2_SELL_1;
        out->m1_side = CLB_SIDE_SELL;
        out->m1_price = in->m1_sell_worst * (1 - b1);
        out->m2_side = CLB_SIDE_BUY;
        out->m2_price = in->m2_buy * (1 + b2);
    }
    if (out->direction != CLB_AMM_ARB_NONE && (!(out->m1_price > 0) || !(out->m2_price > 0)))
        out->direction = CLB_AMM_ARB_NONE;
}

bool clb_amm_arb_affordable(const struct clb_amm_arb_proposal *p, double m1_fee, double m1_base,
                            double m1_quote, double m2_base, double m2_quote)
{
    double a = p->amount;
    if (p->direction == CLB_AMM_ARB_BUY_1_SELL_2)
        return m1_quote >= a * p->m1_price * (1 + m1_fee) && m2_base >= a;
    if (p->direction == CLB_AMM_ARB_BUY_2_SELL_1)
        return m2_quote >= a * p->m2_price && m1_base >= a;
    return false;
}

/* ---- glue ---- */

/* Available balance of an asset as a double (0 when unknown). */
static double available(struct clb_connector *c, const char *asset)
{
    clb_dec total, avail;
    if (!asset || c->ops->balance(c, asset, &total, &avail) != CLB_OK)
        return 0;
    return clb_dec_to_double(avail);
}

static struct clb_amm_arb *arb_of(struct clb_strategy *s)
{
    return (struct clb_amm_arb *)(void *)s;
}

static const struct clb_amm_arb *arb_of_c(const struct clb_strategy *s)
{
    return (const struct clb_amm_arb *)(const void *)s;
}

int clb_amm_arb_set_quote_source(struct clb_strategy *s, clb_amm_arb_quote_fn fn, void *ud)
{
    if (!s || s->ops != &clb_amm_arb_ops || !fn)
        return CLB_EINVAL;
    arb_of(s)->quote = fn;
    arb_of(s)->quote_ud = ud;
    return CLB_OK;
}

static double scaled(int64_t v, int scale)
{
    return (double)v / pow(10, scale);
}

/* market_1's VWAP and worst level for order_amount on one taker side;
 * NAN when the side cannot take it all, unless `partial` (the hedge of a
 * filled swap goes out anyway, at the side's worst level). */
static void book_prices(const struct clb_order_book *b, const struct clb_market_rules *r,
                        enum clb_side taker, double amount, bool partial, double *vwap,
                        double *worst)
{
    *vwap = *worst = NAN;
    clb_dec d;
    int64_t vol;
    if (!b || clb_dec_from_double(amount, r->qty_scale, CLB_ROUND_UP, &d) != CLB_OK ||
        clb_dec_to_scaled(d, r->qty_scale, &vol) != CLB_OK || vol <= 0)
        return;
    struct clb_book_query q;
    if (clb_book_vwap_for_volume(b, taker, vol, &q) != CLB_OK || (!q.complete && !partial))
        return;
    *vwap = q.vwap / pow(10, r->price_scale);
    *worst = scaled(q.price, r->price_scale);
}

static int place_leg(struct clb_amm_arb *p, struct clb_connector *c, const char *market,
                     struct clb_amm_arb_leg *leg)
{
    const struct clb_market_rules *r = c->ops->rules(c, market);
    if (!r)
        return CLB_ENOTFOUND;
    struct clb_order_request req = { .market = market, .side = leg->side,
                                     .type = CLB_ORDER_LIMIT, .owner = p->base.id };
    enum clb_round pr = leg->side == CLB_SIDE_BUY ? CLB_ROUND_UP : CLB_ROUND_DOWN;
    int rc = clb_dec_from_double(leg->price, r->price_scale, pr, &req.price);
    if (rc == CLB_OK)
        rc = clb_dec_from_double(leg->amount, r->qty_scale, CLB_ROUND_NEAREST, &req.amount);
    if (rc == CLB_OK)
        rc = c->ops->place(c, &req, leg->client_id);
    leg->active = rc == CLB_OK;
    leg->cancel_requested = false;
    leg->executed = 0;
    leg->placed_ns = p->now_ns;
    return rc;
}

/* A leg finished (filled or not). */
static void leg_finished(struct clb_amm_arb *p, struct clb_amm_arb_leg *leg, bool filled)
{
    leg->active = false;
    if (filled) {
        p->legs_filled++;
    } else {
        p->legs_failed++;
        if (leg == &p->leg2 && p->leg1_pending)
            p->leg1_pending = false; /* the swap failed: nothing to hedge */
        else if (leg == &p->leg1 && p->leg1_retries < LEG1_MAX_RETRIES) {
            /* hedge again what it did not fill */
            p->leg1.amount -= p->leg1.executed;
            p->leg1_pending = true;
            p->leg1_retries++;
        }
        else if (leg == &p->leg1) {
            p->unhedged++;
            p->halted = true;
        }
    }
    if (filled && leg == &p->leg1) {
        p->leg1_retries = 0;
        p->leg1_filled = true;
    }
    if (!filled && leg == &p->leg2 && p->leg1_filled) {
        p->unhedged++; /* concurrent: the CEX leg filled, the swap did not */
        p->halted = true;
    }
}

static void on_order_event(struct clb_amm_arb *p, const struct clb_event *ev)
{
    const char *cid = ev->u.order.client_order_id;
    if (!cid)
        return;
    struct clb_amm_arb_leg *legs[2] = { &p->leg1, &p->leg2 };
    for (int i = 0; i < 2; i++) {
        struct clb_amm_arb_leg *l = legs[i];
        if (!l->active || strcmp(l->client_id, cid) != 0)
            continue;
        if (ev->type == CLB_EV_ORDER_FILLED)
            l->executed = clb_dec_to_double(ev->u.order.executed_base);
        if (ev->type == CLB_EV_ORDER_COMPLETED)
            leg_finished(p, l, true);
        else if (ev->type == CLB_EV_ORDER_FAILED || ev->type == CLB_EV_ORDER_CANCELLED)
            leg_finished(p, l, false);
    }
}

/* Settles legs from the trackers (events missed, orders evicted). */
static void reconcile(struct clb_amm_arb *p)
{
    struct clb_connector *cs[2] = { p->base.conn, p->conn2 };
    struct clb_amm_arb_leg *legs[2] = { &p->leg1, &p->leg2 };
    for (int i = 0; i < 2; i++) {
        if (!legs[i]->active || !cs[i]->ops->tracker)
            continue;
        const struct clb_tracked_order *o =
            clb_tracker_get(cs[i]->ops->tracker(cs[i]), legs[i]->client_id);
        if (o)
            legs[i]->executed = clb_dec_to_double(o->executed_base);
        if (!o)
            leg_finished(p, legs[i], false);
        else if (o->state == CLB_ORDER_FILLED)
            leg_finished(p, legs[i], true);
        else if (clb_order_state_is_terminal(o->state))
            leg_finished(p, legs[i], false);
    }
}

static int arb_on_tick(struct clb_strategy *s, int64_t now_ns)
{
    struct clb_amm_arb *p = arb_of(s);
    p->now_ns = now_ns;
    if (!p->conn2 || !p->quote)
        return CLB_ESTATE;
    reconcile(p);
    if (p->leg1.active && !p->leg1.cancel_requested &&
        now_ns - p->leg1.placed_ns >= CLB_AMM_ARB_LEG_TIMEOUT_NS) {
        p->leg1.cancel_requested = true;
        s->conn->ops->cancel(s->conn, s->market, p->leg1.client_id);
    }
    const struct clb_market_rules *r1 = s->conn->ops->rules(s->conn, s->market);
    const struct clb_order_book *book = s->conn->ops->book(s->conn, s->market);
    if (!r1)
        return CLB_ENOTREADY;
    /* The CEX leg of a sequential (or failed and retried) arbitrage. */
    if (p->leg1_pending && !p->leg2.active && !p->leg1.active) {
        double vwap, worst;
        enum clb_side taker = p->leg1.side;
        book_prices(book, r1, taker, p->leg1.amount, true, &vwap, &worst);
        if (isnan(worst))
            return CLB_OK; /* no book yet: next tick */
        double b1 = p->cfg.market_1_slippage_buffer / 100;
        p->leg1.price = taker == CLB_SIDE_BUY ? worst * (1 + b1) : worst * (1 - b1);
        p->leg1_pending = false;
        if (p->leg1.amount < clb_dec_to_double(r1->min_qty) || p->leg1.amount <= 0) {
            p->legs_filled++; /* the rest is below the market's minimum: hedged */
            return CLB_OK;
        }
        if (place_leg(p, s->conn, s->market, &p->leg1) != CLB_OK)
            leg_finished(p, &p->leg1, false);
        return CLB_OK;
    }
    if (p->leg1.active || p->leg2.active || p->leg1_pending || p->halted)
        return CLB_OK;
    if (!clb_connector_ready(s->conn) || !clb_connector_ready(p->conn2)) {
        p->ticks_not_ready++;
        return CLB_OK;
    }
    double a = p->cfg.order_amount;
    struct clb_amm_arb_prices in = { .m2_buy = NAN, .m2_sell = NAN };
    book_prices(book, r1, CLB_SIDE_BUY, a, false, &in.m1_buy_vwap, &in.m1_buy_worst);
    book_prices(book, r1, CLB_SIDE_SELL, a, false, &in.m1_sell_vwap, &in.m1_sell_worst);
    double maker, taker = 0, gas_b = 0, gas_s = 0;
    if (s->conn->ops->fees(s->conn, s->market, &maker, &taker) != CLB_OK)
        taker = 0;
    in.m1_fee = taker;
    if (p->quote(p->quote_ud, p->market2, CLB_SIDE_BUY, a, &in.m2_buy, &gas_b) != CLB_OK)
        in.m2_buy = NAN;
    if (p->quote(p->quote_ud, p->market2, CLB_SIDE_SELL, a, &in.m2_sell, &gas_s) != CLB_OK)
        in.m2_sell = NAN;
    in.m2_gas_quote = fmax(gas_b, gas_s) * p->cfg.gas_token_price;
    clb_amm_arb_propose(&p->cfg, &in, &p->last);
    if (p->last.direction == CLB_AMM_ARB_NONE)
        return CLB_OK;
    const struct clb_market_rules *r2 = p->conn2->ops->rules(p->conn2, p->market2);
    if (!r2 || !clb_amm_arb_affordable(&p->last, taker, available(s->conn, r1->base),
                                       available(s->conn, r1->quote),
                                       available(p->conn2, r2->base),
                                       available(p->conn2, r2->quote))) {
        p->ticks_no_budget++;
        return CLB_OK;
    }
    p->arbs_started++;
    p->leg1 = (struct clb_amm_arb_leg){ .side = p->last.m1_side, .price = p->last.m1_price,
                                        .amount = a };
    p->leg2 = (struct clb_amm_arb_leg){ .side = p->last.m2_side, .price = p->last.m2_price,
                                        .amount = a };
    p->leg1_retries = 0;
    p->leg1_filled = false;
    if (place_leg(p, p->conn2, p->market2, &p->leg2) != CLB_OK) {
        p->legs_failed++;
        return CLB_OK; /* nothing placed */
    }
    if (p->cfg.concurrent_orders_submission) {
        if (place_leg(p, s->conn, s->market, &p->leg1) != CLB_OK) {
            p->leg1_pending = true; /* retried once the swap is done */
            p->legs_failed++;
        }
    } else {
        p->leg1_pending = true;
    }
    return CLB_OK;
}

static void arb_on_event(struct clb_strategy *s, const struct clb_event *ev)
{
    struct clb_amm_arb *p = arb_of(s);
    /* The primary subscription hands events of market_1; take only the
     * CEX connector's (a shared bus also carries the AMM's). */
    if (ev->source && strcmp(ev->source, s->conn->name) != 0)
        return;
    if (ev->type <= CLB_EV_ORDER_STATE)
        on_order_event(p, ev);
}

static void bus2_listener(void *ud, const struct clb_event *ev)
{
    struct clb_amm_arb *p = ud;
    if (!p->conn2 || !ev->source || strcmp(ev->source, p->conn2->name) != 0 ||
        ev->type > CLB_EV_ORDER_STATE || !ev->u.order.market ||
        strcmp(ev->u.order.market, p->market2) != 0)
        return;
    on_order_event(p, ev);
}

static int arb_attach_secondary(struct clb_strategy *s, struct clb_connector *conn,
                                const char *market)
{
    struct clb_amm_arb *p = arb_of(s);
    if (p->conn2)
        return CLB_ESTATE;
    size_t len = strlen(market);
    if (len == 0 || len >= CLB_SYMBOL_MAX || !conn->ops->rules || !conn->ops->rules(conn, market))
        return CLB_ENOTFOUND;
    int h = -1;
    if (conn->bus) {
        h = clb_event_subscribe(conn->bus, CLB_EV_MASK_ORDERS, bus2_listener, p);
        if (h < 0)
            return h;
    }
    p->conn2 = conn;
    p->bus2_handle = h;
    memcpy(p->market2, market, len + 1);
    return CLB_OK;
}

static int arb_create(const void *config, struct clb_strategy **out, char *err, size_t errlen)
{
    struct clb_amm_arb_config cfg;
    if (config)
        memcpy(&cfg, config, sizeof(cfg));
    else
        clb_amm_arb_config_defaults(&cfg);
    int rc = clb_amm_arb_config_check(&cfg, err, errlen);
    if (rc != CLB_OK)
        return rc;
    struct clb_amm_arb *p = calloc(1, sizeof(*p));
    if (!p)
        return CLB_ENOMEM;
    clb_strategy_base_init(&p->base, &clb_amm_arb_ops);
    p->cfg = cfg;
    p->bus2_handle = -1;
    *out = &p->base;
    return CLB_OK;
}

static void arb_destroy(struct clb_strategy *s)
{
    if (!s)
        return;
    struct clb_amm_arb *p = arb_of(s);
    if (p->conn2 && p->bus2_handle >= 0 && p->conn2->bus)
        clb_event_unsubscribe(p->conn2->bus, p->bus2_handle);
    clb_strategy_detach(s);
    free(p);
}

static int arb_on_start(struct clb_strategy *s, int64_t now_ns)
{
    struct clb_amm_arb *p = arb_of(s);
    p->now_ns = now_ns;
    return p->conn2 && p->quote ? CLB_OK : CLB_ESTATE;
}

/* Legs in flight cannot be recalled (a swap is final; the CEX leg is a
 * taking order): stopping only stops new arbitrages. */
static void arb_on_stop(struct clb_strategy *s, int64_t now_ns)
{
    arb_of(s)->now_ns = now_ns;
}

static int arb_update_config(struct clb_strategy *s, const void *config, char *err, size_t errlen)
{
    const struct clb_amm_arb_config *c = config;
    int rc = clb_amm_arb_config_check(c, err, errlen);
    if (rc == CLB_OK)
        arb_of(s)->cfg = *c;
    return rc;
}

static size_t arb_metrics(const struct clb_strategy *s, struct clb_strategy_metric *out, size_t n)
{
    const struct clb_amm_arb *p = arb_of_c(s);
    const struct clb_strategy_metric m[] = {
        { "profit_buy_1_sell_2_pct", p->last.profit_1_2 * 100 },
        { "profit_buy_2_sell_1_pct", p->last.profit_2_1 * 100 },
        { "arbs_started", (double)p->arbs_started },
        { "legs_filled", (double)p->legs_filled },
        { "legs_failed", (double)p->legs_failed },
        { "legs_in_flight", (double)(p->leg1.active + p->leg2.active + p->leg1_pending) },
        { "unhedged", (double)p->unhedged },
        { "halted", (double)p->halted },
        { "ticks_not_ready", (double)p->ticks_not_ready },
        { "ticks_no_budget", (double)p->ticks_no_budget },
    };
    size_t k = sizeof(m) / sizeof(m[0]);
    if (k > n)
        k = n;
    memcpy(out, m, k * sizeof(m[0]));
    return k;
}

static const void *arb_config(const struct clb_strategy *s)
{
    return &arb_of_c(s)->cfg;
}

const struct clb_strategy_ops clb_amm_arb_ops = {
    .type = "amm_arb",
    .summary = "Hummingbot's amm_arb: arbitrage between a CEX market and an AMM pool",
    .params = clb_amm_arb_params,
    .n_params = sizeof(clb_amm_arb_params) / sizeof(clb_amm_arb_params[0]),
    .config_size = sizeof(struct clb_amm_arb_config),
    .create = arb_create,
    .on_start = arb_on_start,
    .on_tick = arb_on_tick,
    .on_event = arb_on_event,
    .on_stop = arb_on_stop,
    .update_config = arb_update_config,
    .metrics = arb_metrics,
    .config = arb_config,
    .destroy = arb_destroy,
    .attach_secondary = arb_attach_secondary,
};
