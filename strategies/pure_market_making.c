/*
 * pure_market_making.c — Hummingbot's pure market making, as pure planning
 * functions plus a thin glue to the connector, and the market-making helpers
 * shared with avellaneda_market_making (see pure_market_making.h).
 *
 * Design: the planner never touches the connector. The glue (on_tick) reads
 * one snapshot of the market (rules, top of book, balances, fees), calls
 * clb_pmm_plan with the strategy's own order list and timers, then issues
 * the cancels and places the proposal. Order events (and, each tick, the
 * connector's order tracker) keep the order list current. Everything that
 * could vary between runs — time, balances, book — comes in as inputs, so
 * the same inputs always give the same orders (backtests replay exactly).
 */
#include "pure_market_making.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "error.h"
#include "order_book.h"
#include "order_tracker.h"

/* ------------------------------------------------------------------------ */
/* Shared helpers                                                            */
/* ------------------------------------------------------------------------ */

int64_t clb_mm_seconds_to_ns(double s)
{
    if (!(s > 0.0))
        return 0;
    double ns = s * 1e9;
    if (ns >= 9.2e18)
        return INT64_MAX;
    return (int64_t)llround(ns);
}

static const double pow10_tab[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18 };

double clb_mm_quantize(double v, double step, bool up)
{
    if (!(step > 0.0) || !isfinite(v) || !isfinite(step))
        return v;
    double q = v / step;
    double n = up ? ceil(q - 1e-9) : floor(q + 1e-9);
    /* A decimal step (0.01 = 1 / 10^2) gives n * 1 / 10^2: an exact integer
     * divided by an exact power of ten is the double nearest the decimal
     * result, the same double clb_dec_to_double gives for it. */
    for (int sc = 0; sc <= 18; sc++) {
        double k = step * pow10_tab[sc];
        double kr = nearbyint(k);
        if (fabs(k - kr) <= 1e-9 * kr && kr >= 1.0) {
            double num = n * kr;
            if (fabs(num) < 9007199254740992.0) /* 2^53: still exact */
                return num / pow10_tab[sc];
            break;
        }
    }
    return n * step;
}

void clb_mm_proposal_clear(struct clb_mm_proposal *p)
{
    p->n_buys = 0;
    p->n_sells = 0;
}

/* Removes quotes with amount <= 0, keeping the order. */
static void compact(struct clb_mm_quote *q, size_t *n)
{
    size_t k = 0;
    for (size_t i = 0; i < *n; i++) {
        if (q[i].amount > 0.0)
            q[k++] = q[i];
    }
    *n = k;
}

void clb_mm_apply_budget(struct clb_mm_proposal *p, double base_balance, double quote_balance,
                         double fee, double step)
{
    for (size_t i = 0; i < p->n_buys; i++) {
        struct clb_mm_quote *b = &p->buys[i];
        double cost = b->amount * b->price * (1.0 + fee);
        if (quote_balance < cost) {
            double unit = b->price * (1.0 + fee);
            double a = unit > 0.0 && quote_balance > 0.0 ? quote_balance / unit : 0.0;
            b->amount = clb_mm_quantize(a, step, false);
            quote_balance = 0.0;
        } else if (quote_balance <= 0.0) {
            b->amount = 0.0;
        } else {
            quote_balance -= cost;
        }
    }
    compact(p->buys, &p->n_buys);
    for (size_t i = 0; i < p->n_sells; i++) {
        struct clb_mm_quote *s = &p->sells[i];
        if (base_balance < s->amount) {
            s->amount = base_balance > 0.0 ? clb_mm_quantize(base_balance, step, false) : 0.0;
            base_balance = 0.0;
        } else if (base_balance <= 0.0) {
            s->amount = 0.0;
        } else {
            base_balance -= s->amount;
        }
    }
    compact(p->sells, &p->n_sells);
}

void clb_mm_filter_takers(struct clb_mm_proposal *p, double best_bid, double best_ask)
{
    if (!isnan(best_ask)) {
        size_t k = 0;
        for (size_t i = 0; i < p->n_buys; i++)
            if (p->buys[i].price < best_ask)
                p->buys[k++] = p->buys[i];
        p->n_buys = k;
    }
    if (!isnan(best_bid)) {
        size_t k = 0;
        for (size_t i = 0; i < p->n_sells; i++)
            if (p->sells[i].price > best_bid)
                p->sells[k++] = p->sells[i];
        p->n_sells = k;
    }
}

static bool below_minimums(const struct clb_mm_quote *q, const struct clb_mm_market *mk)
{
    if (!(q->amount > 0.0) || !(q->price > 0.0))
        return true;
    /* the same slack as quantization: a quote exactly at a minimum passes */
    if (mk->min_qty > 0.0 && q->amount < mk->min_qty * (1.0 - 1e-9))
        return true;
    if (mk->min_notional > 0.0 && q->amount * q->price < mk->min_notional * (1.0 - 1e-9))
        return true;
    return false;
}

void clb_mm_drop_below_minimums(struct clb_mm_proposal *p, const struct clb_mm_market *mk)
{
    size_t k = 0;
    for (size_t i = 0; i < p->n_buys; i++)
        if (!below_minimums(&p->buys[i], mk))
            p->buys[k++] = p->buys[i];
    p->n_buys = k;
    k = 0;
    for (size_t i = 0; i < p->n_sells; i++)
        if (!below_minimums(&p->sells[i], mk))
            p->sells[k++] = p->sells[i];
    p->n_sells = k;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bool clb_mm_within_tolerance(const double *current, size_t n_current, const double *proposed,
                             size_t n_proposed, double tol_frac)
{
    if (n_current != n_proposed || n_current > CLB_MM_MAX_ORDERS)
        return false;
    double c[CLB_MM_MAX_ORDERS], p[CLB_MM_MAX_ORDERS];
    memcpy(c, current, n_current * sizeof(double));
    memcpy(p, proposed, n_proposed * sizeof(double));
    qsort(c, n_current, sizeof(double), cmp_double);
    qsort(p, n_proposed, sizeof(double), cmp_double);
    for (size_t i = 0; i < n_current; i++) {
        /* 1e-12 absorbs binary noise: equal decimals always compare equal */
        if (!(c[i] > 0.0) || fabs(p[i] - c[i]) / c[i] > tol_frac + 1e-12)
            return false;
    }
    return true;
}

bool clb_mm_orders_within_tolerance(const struct clb_mm_order *orders, size_t n,
                                    const struct clb_mm_proposal *p, double tol_pct)
{
    double cb[CLB_MM_MAX_ORDERS], cs[CLB_MM_MAX_ORDERS];
    double pb[CLB_MM_MAX_LEVELS], ps[CLB_MM_MAX_LEVELS];
    size_t nb = 0, ns = 0;
    if (n > CLB_MM_MAX_ORDERS)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (orders[i].hanging)
            continue;
        if (orders[i].side == CLB_SIDE_BUY)
            cb[nb++] = orders[i].price;
        else
            cs[ns++] = orders[i].price;
    }
    for (size_t i = 0; i < p->n_buys; i++)
        pb[i] = p->buys[i].price;
    for (size_t i = 0; i < p->n_sells; i++)
        ps[i] = p->sells[i].price;
    double tol = tol_pct / 100.0;
    return clb_mm_within_tolerance(cb, nb, pb, p->n_buys, tol) &&
           clb_mm_within_tolerance(cs, ns, ps, p->n_sells, tol);
}

void clb_mm_adjusted_balances(const struct clb_mm_order *orders, size_t n, bool include_hanging,
                              double base_available, double quote_available, double *base,
                              double *quote)
{
    double b = base_available, q = quote_available;
    for (size_t i = 0; i < n; i++) {
        const struct clb_mm_order *o = &orders[i];
        if (o->hanging && !include_hanging)
            continue;
        double rem = o->amount - o->executed;
        if (rem <= 0.0)
            continue;
        if (o->side == CLB_SIDE_BUY)
            q += rem * o->price;
        else
            b += rem;
    }
    *base = b;
    *quote = q;
}

void clb_mm_set_timers(struct clb_mm_timers *t, int64_t now_ns, int64_t refresh_ns)
{
    int64_t next = refresh_ns > INT64_MAX - now_ns ? INT64_MAX : now_ns + refresh_ns;
    if (t->create_ns <= now_ns)
        t->create_ns = next;
    if (t->cancel_ns <= now_ns)
        t->cancel_ns = t->create_ns < next ? t->create_ns : next;
}

void clb_mm_fill_delay(struct clb_mm_timers *t, int64_t now_ns, int64_t delay_ns)
{
    t->create_ns = delay_ns > INT64_MAX - now_ns ? INT64_MAX : now_ns + delay_ns;
    if (t->create_ns < t->cancel_ns)
        t->cancel_ns = t->create_ns;
}

/* ---- glue helpers ---- */

void clb_mm_book_init(struct clb_mm_book *b)
{
    memset(b, 0, sizeof(*b));
    b->last_own_trade_price = NAN;
}

int clb_mm_book_find(const struct clb_mm_book *b, const char *client_id)
{
    if (!client_id)
        return -1;
    for (size_t i = 0; i < b->n; i++) {
        if (strcmp(b->o[i].client_id, client_id) == 0)
            return (int)i;
    }
    return -1;
}

void clb_mm_book_remove(struct clb_mm_book *b, size_t i)
{
    if (i >= b->n)
        return;
    memmove(&b->o[i], &b->o[i + 1], (b->n - i - 1) * sizeof(b->o[0]));
    b->n--;
}

enum clb_mm_order_news clb_mm_book_on_event(struct clb_mm_book *b, const struct clb_event *ev,
                                            struct clb_mm_order *done)
{
    if (ev->type > CLB_EV_ORDER_STATE)
        return CLB_MM_NEWS_NONE;
    int i = clb_mm_book_find(b, ev->u.order.client_order_id);
    if (i < 0)
        return CLB_MM_NEWS_NONE;
    struct clb_mm_order *o = &b->o[i];
    switch (ev->type) {
    case CLB_EV_ORDER_FILLED: {
        double ex = clb_dec_to_double(ev->u.order.executed_base);
        if (ex > o->executed)
            o->executed = ex;
        double fp = clb_dec_to_double(ev->u.order.fill_price);
        if (fp > 0.0)
            b->last_own_trade_price = fp;
        b->fills++;
        return CLB_MM_NEWS_FILL;
    }
    case CLB_EV_ORDER_COMPLETED:
        o->executed = o->amount;
        if (done)
            *done = *o;
        clb_mm_book_remove(b, (size_t)i);
        b->completed++;
        return CLB_MM_NEWS_COMPLETED;
    case CLB_EV_ORDER_CANCELLED:
    case CLB_EV_ORDER_FAILED:
        if (done)
            *done = *o;
        clb_mm_book_remove(b, (size_t)i);
        return CLB_MM_NEWS_GONE;
    case CLB_EV_ORDER_STATE:
        if (ev->u.order.state == CLB_ORDER_PENDING_CANCEL)
            o->cancel_requested = true;
        return CLB_MM_NEWS_NONE;
    default:
        return CLB_MM_NEWS_NONE;
    }
}

void clb_mm_book_reconcile(struct clb_mm_book *b, struct clb_connector *conn,
                           void (*on_completed)(void *ud, const struct clb_mm_order *o),
                           void *ud)
{
    if (!conn || !conn->ops->tracker)
        return;
    const struct clb_order_tracker *t = conn->ops->tracker(conn);
    if (!t)
        return;
    size_t i = 0;
    while (i < b->n) {
        struct clb_mm_order *o = &b->o[i];
        const struct clb_tracked_order *to = clb_tracker_get(t, o->client_id);
        if (!to || clb_order_state_is_terminal((int)to->state)) {
            struct clb_mm_order copy = *o;
            bool filled = to && to->state == CLB_ORDER_FILLED;
            clb_mm_book_remove(b, i);
            if (filled) {
                copy.executed = copy.amount;
                b->completed++;
                if (on_completed)
                    on_completed(ud, &copy);
            }
            continue;
        }
        double ex = clb_dec_to_double(to->executed_base);
        if (ex > o->executed)
            o->executed = ex;
        if (to->state == CLB_ORDER_PENDING_CANCEL)
            o->cancel_requested = true;
        else if (o->cancel_requested && to->cancel_requests > 0)
            o->cancel_requested = false; /* the exchange refused the cancel: may retry */
        i++;
    }
}

double clb_mm_scaled_to_double(int64_t v, int scale)
{
    static const double p10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,
                                  1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18 };
    if (scale <= 0)
        return (double)v;
    if (scale > 18)
        scale = 18;
    return (double)v / p10[scale];
}

int clb_mm_snapshot_read(struct clb_connector *conn, const char *market,
                         struct clb_mm_snapshot *out)
{
    memset(out, 0, sizeof(*out));
    out->mid = NAN;
    out->mk.best_bid = NAN;
    out->mk.best_ask = NAN;
    const struct clb_market_rules *r = conn->ops->rules ? conn->ops->rules(conn, market) : NULL;
    const struct clb_order_book *book = conn->ops->book ? conn->ops->book(conn, market) : NULL;
    if (!r || !book)
        return CLB_ENOTREADY;
    out->rules = r;
    out->mk.tick_size = clb_dec_to_double(r->tick_size);
    out->mk.step_size = clb_dec_to_double(r->step_size);
    out->mk.min_qty = clb_dec_to_double(r->min_qty);
    out->mk.min_notional = clb_dec_to_double(r->min_notional);
    struct clb_level lv;
    if (clb_book_best_bid(book, &lv))
        out->mk.best_bid = clb_mm_scaled_to_double(lv.price, r->price_scale);
    if (clb_book_best_ask(book, &lv))
        out->mk.best_ask = clb_mm_scaled_to_double(lv.price, r->price_scale);
    if (!isnan(out->mk.best_bid) && !isnan(out->mk.best_ask))
        out->mid = (out->mk.best_bid + out->mk.best_ask) / 2.0;
    double maker = 0.0, taker = 0.0;
    if (conn->ops->fees && conn->ops->fees(conn, market, &maker, &taker) == CLB_OK &&
        isfinite(maker))
        out->mk.maker_fee = maker;
    clb_dec tot, av;
    if (conn->ops->balance && conn->ops->balance(conn, r->base, &tot, &av) == CLB_OK) {
        out->base_total = clb_dec_to_double(tot);
        out->base_available = clb_dec_to_double(av);
    }
    if (conn->ops->balance && conn->ops->balance(conn, r->quote, &tot, &av) == CLB_OK) {
        out->quote_total = clb_dec_to_double(tot);
        out->quote_available = clb_dec_to_double(av);
    }
    return CLB_OK;
}

static int place_one(struct clb_mm_book *b, struct clb_strategy *s,
                     const struct clb_market_rules *r, enum clb_side side,
                     const struct clb_mm_quote *q, enum clb_order_type type, int64_t now_ns,
                     int level)
{
    if (b->n >= CLB_MM_MAX_ORDERS)
        return CLB_EFULL;
    struct clb_order_request req = {
        .market = s->market, .side = side, .type = type, .owner = s->id,
    };
    int rc = clb_dec_from_double(q->price, r->price_scale,
                                 side == CLB_SIDE_BUY ? CLB_ROUND_DOWN : CLB_ROUND_UP, &req.price);
    if (rc == CLB_OK)
        rc = clb_dec_from_double(q->amount, r->qty_scale, CLB_ROUND_DOWN, &req.amount);
    if (rc != CLB_OK)
        return rc;
    if (req.amount.m <= 0 || req.price.m <= 0)
        return CLB_ERANGE;
    char id[CLB_CLIENT_ID_MAX];
    id[0] = '\0';
    rc = s->conn->ops->place(s->conn, &req, id);
    if (rc != CLB_OK)
        return rc;
    if (b->n >= CLB_MM_MAX_ORDERS) /* a listener cannot add, but stay safe */
        return CLB_EFULL;
    struct clb_mm_order *o = &b->o[b->n++];
    memset(o, 0, sizeof(*o));
    memcpy(o->client_id, id, sizeof(o->client_id));
    o->client_id[CLB_CLIENT_ID_MAX - 1] = '\0';
    o->side = side;
    o->price = clb_dec_to_double(req.price);
    o->amount = clb_dec_to_double(req.amount);
    o->created_ns = now_ns;
    o->batch = b->batch;
    o->level = level;
    return CLB_OK;
}

size_t clb_mm_place_proposal(struct clb_mm_book *b, struct clb_strategy *s,
                             const struct clb_mm_proposal *p, enum clb_order_type type,
                             int64_t now_ns)
{
    if (!s->conn)
        return 0;
    const struct clb_market_rules *r = s->conn->ops->rules(s->conn, s->market);
    if (!r)
        return 0;
    size_t placed = 0;
    b->batch++;
    for (size_t i = 0; i < p->n_buys; i++) {
        if (place_one(b, s, r, CLB_SIDE_BUY, &p->buys[i], type, now_ns, (int)i) == CLB_OK)
            placed++;
        else
            b->place_errors++;
    }
    for (size_t i = 0; i < p->n_sells; i++) {
        if (place_one(b, s, r, CLB_SIDE_SELL, &p->sells[i], type, now_ns, (int)i) == CLB_OK)
            placed++;
        else
            b->place_errors++;
    }
    b->placed += placed;
    return placed;
}

void clb_mm_cancel(struct clb_mm_book *b, struct clb_strategy *s, size_t i)
{
    if (i >= b->n || b->o[i].cancel_requested || !s->conn)
        return;
    char id[CLB_CLIENT_ID_MAX];
    memcpy(id, b->o[i].client_id, sizeof(id));
    /* The connector may publish events (and so edit the book) during the
     * call: look the order up again afterwards. */
    int rc = s->conn->ops->cancel(s->conn, s->market, id);
    int j = clb_mm_book_find(b, id);
    if (rc == CLB_OK) {
        b->cancels++;
        if (j >= 0)
            b->o[j].cancel_requested = true;
    } else if (rc == CLB_ENOTFOUND && j >= 0) {
        clb_mm_book_remove(b, (size_t)j);
    }
}

void clb_mm_cancel_all(struct clb_mm_book *b, struct clb_strategy *s)
{
    char ids[CLB_MM_MAX_ORDERS][CLB_CLIENT_ID_MAX];
    size_t n = b->n;
    for (size_t i = 0; i < n; i++)
        memcpy(ids[i], b->o[i].client_id, CLB_CLIENT_ID_MAX);
    for (size_t i = 0; i < n; i++) {
        int j = clb_mm_book_find(b, ids[i]);
        if (j >= 0)
            clb_mm_cancel(b, s, (size_t)j);
    }
}

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */
/* ------------------------------------------------------------------------ */

#define OFF(f) offsetof(struct clb_pmm_config, f)

static const char *const price_type_choices[] = {
    "mid_price", "last_price", "best_bid", "best_ask", "last_own_trade_price", NULL,
};

const struct clb_param_spec clb_pmm_params[] = {
    { "bid_spread", CLB_PARAM_DOUBLE, OFF(bid_spread), 0, 99, 0.1, NULL, NULL, "%",
      "distance of the first bid below the reference price" },
    { "ask_spread", CLB_PARAM_DOUBLE, OFF(ask_spread), 0, 99, 0.1, NULL, NULL, "%",
      "distance of the first ask above the reference price" },
    { "minimum_spread", CLB_PARAM_DOUBLE, OFF(minimum_spread), -100, 100, -100, NULL, NULL, "%",
      "cancel orders closer than this to the reference price (-100 = off)" },
    { "order_amount", CLB_PARAM_DOUBLE, OFF(order_amount), 0, 1e12, 0.01, NULL, NULL, "base",
      "amount of the first order on each side (> 0)" },
    { "order_levels", CLB_PARAM_INT, OFF(order_levels), 1, CLB_MM_MAX_LEVELS, 1, NULL, NULL,
      "", "orders per side" },
    { "order_level_spread", CLB_PARAM_DOUBLE, OFF(order_level_spread), 0, 99, 1, NULL, NULL, "%",
      "extra spread of each further level" },
    { "order_level_amount", CLB_PARAM_DOUBLE, OFF(order_level_amount), -1e12, 1e12, 0, NULL,
      NULL, "base", "amount added to each further level (may be negative)" },
    { "order_refresh_time", CLB_PARAM_DOUBLE, OFF(order_refresh_time), 0, 31536000, 10, NULL,
      NULL, "s", "how often orders are re-evaluated and replaced" },
    { "order_refresh_tolerance_pct", CLB_PARAM_DOUBLE, OFF(order_refresh_tolerance_pct), -10, 10,
      0, NULL, NULL, "%",
      "keep orders whose price is within this of the new proposal (< 0: always replace)" },
    { "max_order_age", CLB_PARAM_DOUBLE, OFF(max_order_age), 0, 31536000, 1800, NULL, NULL, "s",
      "replace orders older than this even within tolerance (0 = off)" },
    { "filled_order_delay", CLB_PARAM_DOUBLE, OFF(filled_order_delay), 0, 31536000, 60, NULL,
      NULL, "s", "pause before new orders after an order is completely filled" },
    { "inventory_skew_enabled", CLB_PARAM_BOOL, OFF(inventory_skew_enabled), 0, 1, 0, NULL, NULL,
      "", "size bids and asks to steer the inventory towards the target" },
    { "inventory_target_base_pct", CLB_PARAM_DOUBLE, OFF(inventory_target_base_pct), 0, 100, 50,
      NULL, NULL, "%", "target share of the portfolio value held in base" },
    { "inventory_range_multiplier", CLB_PARAM_DOUBLE, OFF(inventory_range_multiplier), 0, 1e6, 1,
      NULL, NULL, "x total order size", "inventory range around the target" },
    { "price_ceiling", CLB_PARAM_DOUBLE, OFF(price_ceiling), -1, 1e15, -1, NULL, NULL, "quote",
      "no buys while the reference price is at or above it (-1 = off)" },
    { "price_floor", CLB_PARAM_DOUBLE, OFF(price_floor), -1, 1e15, -1, NULL, NULL, "quote",
      "no sells while the reference price is at or below it (-1 = off)" },
    { "ping_pong_enabled", CLB_PARAM_BOOL, OFF(ping_pong_enabled), 0, 1, 0, NULL, NULL, "",
      "after a fill, quote only the other side until it fills too" },
    { "hanging_orders_enabled", CLB_PARAM_BOOL, OFF(hanging_orders_enabled), 0, 1, 0, NULL, NULL,
      "", "keep the opposite order of a filled pair across refreshes" },
    { "hanging_orders_cancel_pct", CLB_PARAM_DOUBLE, OFF(hanging_orders_cancel_pct), 0, 100, 10,
      NULL, NULL, "%", "cancel hanging orders further than this from the reference price" },
    { "take_if_crossed", CLB_PARAM_BOOL, OFF(take_if_crossed), 0, 1, 0, NULL, NULL, "",
      "keep quotes that cross the book (sent as LIMIT, may take)" },
    { "price_type", CLB_PARAM_ENUM, OFF(price_type), 0, 0, CLB_PMM_PRICE_MID, NULL,
      price_type_choices, "", "reference price" },
};

const size_t clb_pmm_n_params = sizeof(clb_pmm_params) / sizeof(clb_pmm_params[0]);

void clb_pmm_config_defaults(struct clb_pmm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    clb_params_defaults(clb_pmm_params, clb_pmm_n_params, cfg);
}

int clb_pmm_config_check(const struct clb_pmm_config *cfg, char *err, size_t errlen)
{
    if (!cfg)
        return CLB_EINVAL;
    if (clb_params_check(clb_pmm_params, clb_pmm_n_params, cfg, err, errlen) != CLB_OK)
        return CLB_EINVAL;
    const char *why = NULL;
    if (!(cfg->order_amount > 0.0))
        why = "order_amount: must be > 0";
    else if (cfg->price_ceiling != -1.0 && !(cfg->price_ceiling > 0.0))
        why = "price_ceiling: must be > 0, or -1 to disable";
    else if (cfg->price_floor != -1.0 && !(cfg->price_floor > 0.0))
        why = "price_floor: must be > 0, or -1 to disable";
    else if (cfg->price_ceiling > 0.0 && cfg->price_floor > 0.0 &&
             cfg->price_ceiling < cfg->price_floor)
        why = "price_ceiling: must not be below price_floor";
    if (why) {
        if (err && errlen > 0) {
            size_t len = strlen(why);
            if (len >= errlen)
                len = errlen - 1;
            memcpy(err, why, len);
            err[len] = '\0';
        }
        return CLB_EINVAL;
    }
    return CLB_OK;
}

/* ------------------------------------------------------------------------ */
/* Pure planning                                                             */
/* ------------------------------------------------------------------------ */

double clb_pmm_total_order_size(const struct clb_pmm_config *cfg)
{
    double l = (double)cfg->order_levels;
    return 2.0 * (l * cfg->order_amount + l * (l - 1.0) / 2.0 * cfg->order_level_amount);
}

void clb_pmm_base_proposal(const struct clb_pmm_config *cfg, double ref,
                           const struct clb_mm_market *mk, struct clb_mm_proposal *p)
{
    clb_mm_proposal_clear(p);
    if (!(ref > 0.0) || !isfinite(ref))
        return;
    long long levels = cfg->order_levels;
    if (levels > CLB_MM_MAX_LEVELS)
        levels = CLB_MM_MAX_LEVELS;
    for (long long i = 0; i < levels; i++) {
        double lvl = (double)i * cfg->order_level_spread / 100.0;
        double amount = clb_mm_quantize(cfg->order_amount + cfg->order_level_amount * (double)i,
                                        mk->step_size, false);
        if (!(amount > 0.0))
            continue;
        double bid = clb_mm_quantize(ref * (1.0 - cfg->bid_spread / 100.0 - lvl), mk->tick_size,
                                     false);
        double ask = clb_mm_quantize(ref * (1.0 + cfg->ask_spread / 100.0 + lvl), mk->tick_size,
                                     true);
        if (bid > 0.0)
            p->buys[p->n_buys++] = (struct clb_mm_quote){ bid, amount };
        if (ask > 0.0)
            p->sells[p->n_sells++] = (struct clb_mm_quote){ ask, amount };
    }
}

void clb_pmm_apply_price_band(const struct clb_pmm_config *cfg, double ref,
                              struct clb_mm_proposal *p)
{
    if (cfg->price_ceiling > 0.0 && ref >= cfg->price_ceiling)
        p->n_buys = 0;
    if (cfg->price_floor > 0.0 && ref <= cfg->price_floor)
        p->n_sells = 0;
}

static void drop_first(struct clb_mm_quote *q, size_t *n, int k)
{
    if (k <= 0)
        return;
    if ((size_t)k >= *n) {
        *n = 0;
        return;
    }
    memmove(q, q + k, (*n - (size_t)k) * sizeof(*q));
    *n -= (size_t)k;
}

void clb_pmm_apply_ping_pong(int *filled_buys, int *filled_sells, struct clb_mm_proposal *p)
{
    if (*filled_buys == *filled_sells)
        *filled_buys = *filled_sells = 0;
    drop_first(p->buys, &p->n_buys, *filled_buys);
    drop_first(p->sells, &p->n_sells, *filled_sells);
}

/* numpy.interp on two points, clamped outside [x0, x1]. */
static double interp(double x, double x0, double x1, double y0, double y1)
{
    if (x <= x0)
        return y0;
    if (x >= x1)
        return y1;
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0);
}

void clb_pmm_inventory_ratios(double base, double quote, double price, double target_ratio,
                              double base_range, double *bid_ratio, double *ask_ratio)
{
    double total = base * price + quote;
    if (!(total > 0.0) || !(base_range > 0.0) || !(price > 0.0)) {
        *bid_ratio = 0.0;
        *ask_ratio = 0.0;
        return;
    }
    double value = base * price;
    double target = total * target_ratio;
    double left = fmax(target - base_range * price, 0.0);
    double right = target + base_range * price;
    double bid;
    if (value < target) {
        double left_ratio = interp(value, left, target, 0.0, 0.5);
        bid = interp(left_ratio, 0.0, 0.5, 2.0, 1.0);
    } else {
        double right_ratio = interp(value, target, right, 0.5, 1.0);
        bid = interp(right_ratio, 0.5, 1.0, 1.0, 0.0);
    }
    *bid_ratio = bid;
    *ask_ratio = 2.0 - bid;
}

void clb_pmm_apply_inventory_skew(const struct clb_pmm_config *cfg, double base, double quote,
                                  double price, double step, struct clb_mm_proposal *p)
{
    double br, ar;
    clb_pmm_inventory_ratios(base, quote, price, cfg->inventory_target_base_pct / 100.0,
                             clb_pmm_total_order_size(cfg) * cfg->inventory_range_multiplier,
                             &br, &ar);
    for (size_t i = 0; i < p->n_buys; i++)
        p->buys[i].amount = clb_mm_quantize(p->buys[i].amount * br, step, false);
    for (size_t i = 0; i < p->n_sells; i++)
        p->sells[i].amount = clb_mm_quantize(p->sells[i].amount * ar, step, false);
    compact(p->buys, &p->n_buys);
    compact(p->sells, &p->n_sells);
}

void clb_pmm_plan(const struct clb_pmm_config *cfg, struct clb_pmm_state *st,
                  const struct clb_pmm_inputs *in, struct clb_pmm_plan *out)
{
    memset(out, 0, sizeof(*out));
    const int64_t now = in->now_ns;
    const double ref = in->ref_price;
    const bool have_ref = isfinite(ref) && ref > 0.0;
    const size_t n = in->n_orders < CLB_MM_MAX_ORDERS ? in->n_orders : CLB_MM_MAX_ORDERS;
    const struct clb_mm_order *ord = in->orders;
    struct clb_mm_proposal *p = &out->proposal;

    /* 1. the proposal */
    if (st->timers.create_ns <= now && have_ref) {
        clb_pmm_base_proposal(cfg, ref, &in->mk, p);
        clb_pmm_apply_price_band(cfg, ref, p);
        if (cfg->ping_pong_enabled)
            clb_pmm_apply_ping_pong(&st->filled_buys_balance, &st->filled_sells_balance, p);
        if (cfg->inventory_skew_enabled) {
            double b, q;
            clb_mm_adjusted_balances(ord, n, true, in->base_available, in->quote_available, &b,
                                     &q);
            clb_pmm_apply_inventory_skew(cfg, b, q, ref, in->mk.step_size, p);
        }
        double b, q;
        clb_mm_adjusted_balances(ord, n, false, in->base_available, in->quote_available, &b, &q);
        clb_mm_apply_budget(p, b, q, in->mk.maker_fee, in->mk.step_size);
        clb_mm_drop_below_minimums(p, &in->mk);
        if (!cfg->take_if_crossed)
            clb_mm_filter_takers(p, in->mk.best_bid, in->mk.best_ask);
        out->has_proposal = true;
    }

    /* 2. hanging orders drifted too far */
    if (cfg->hanging_orders_enabled && have_ref) {
        for (size_t i = 0; i < n; i++) {
            if (ord[i].hanging && !ord[i].cancel_requested &&
                fabs(ord[i].price - ref) / ref > cfg->hanging_orders_cancel_pct / 100.0)
                out->cancel[i] = CLB_MM_CANCEL_HANGING;
        }
    }

    /* 3. max order age: renew all non-hanging orders when one is too old */
    if (cfg->max_order_age > 0.0) {
        int64_t max_age = clb_mm_seconds_to_ns(cfg->max_order_age);
        bool old = false;
        for (size_t i = 0; i < n; i++) {
            if (!ord[i].hanging && !ord[i].cancel_requested && now - ord[i].created_ns > max_age)
                old = true;
        }
        if (old) {
            for (size_t i = 0; i < n; i++)
                if (!ord[i].hanging && !ord[i].cancel_requested)
                    out->cancel[i] = CLB_MM_CANCEL_AGE;
        }
    }

    /* 4. refresh */
    size_t non_hanging = 0;
    for (size_t i = 0; i < n; i++)
        non_hanging += !ord[i].hanging;
    if (st->timers.cancel_ns <= now && non_hanging > 0) {
        bool defer = out->has_proposal && cfg->order_refresh_tolerance_pct >= 0.0 &&
                     clb_mm_orders_within_tolerance(ord, n, p, cfg->order_refresh_tolerance_pct);
        if (!defer) {
            for (size_t i = 0; i < n; i++)
                if (!ord[i].hanging && !ord[i].cancel_requested && out->cancel[i] == CLB_MM_KEEP)
                    out->cancel[i] = CLB_MM_CANCEL_REFRESH;
        }
    }

    /* 5. minimum spread */
    if (have_ref) {
        for (size_t i = 0; i < n; i++) {
            if (ord[i].hanging || ord[i].cancel_requested || out->cancel[i] != CLB_MM_KEEP)
                continue;
            double sign = ord[i].side == CLB_SIDE_BUY ? -1.0 : 1.0;
            if (sign * (ord[i].price - ref) / ref < cfg->minimum_spread / 100.0)
                out->cancel[i] = CLB_MM_CANCEL_MIN_SPREAD;
        }
    }
    for (size_t i = 0; i < n; i++)
        out->n_cancel += out->cancel[i] != CLB_MM_KEEP;

    /* 6. create */
    out->create = st->timers.create_ns < now && out->has_proposal && non_hanging == 0 &&
                  p->n_buys + p->n_sells > 0;
}

/* ------------------------------------------------------------------------ */
/* The strategy glue                                                         */
/* ------------------------------------------------------------------------ */

static struct clb_pmm *pmm_of(struct clb_strategy *s)
{
    return (struct clb_pmm *)(void *)s;
}

static const struct clb_pmm *pmm_of_c(const struct clb_strategy *s)
{
    return (const struct clb_pmm *)(const void *)s;
}

static int pmm_create(const void *config, struct clb_strategy **out, char *err, size_t errlen)
{
    struct clb_pmm_config cfg;
    if (config)
        memcpy(&cfg, config, sizeof(cfg));
    else
        clb_pmm_config_defaults(&cfg);
    int rc = clb_pmm_config_check(&cfg, err, errlen);
    if (rc != CLB_OK)
        return rc;
    struct clb_pmm *p = calloc(1, sizeof(*p));
    if (!p)
        return CLB_ENOMEM;
    clb_strategy_base_init(&p->base, &clb_pure_market_making_ops);
    p->cfg = cfg;
    clb_mm_book_init(&p->book);
    p->last_trade_price = NAN;
    p->last_ref_price = NAN;
    *out = &p->base;
    return CLB_OK;
}

static void pmm_destroy(struct clb_strategy *s)
{
    if (!s)
        return;
    clb_strategy_detach(s);
    free(pmm_of(s));
}

static int pmm_on_start(struct clb_strategy *s, int64_t now_ns)
{
    struct clb_pmm *p = pmm_of(s);
    memset(&p->st, 0, sizeof(p->st));
    p->now_ns = now_ns;
    return CLB_OK;
}

/* A non-hanging order completely filled: Hummingbot's did_complete_order. */
static void pmm_completed(void *ud, const struct clb_mm_order *o)
{
    struct clb_pmm *p = ud;
    if (o->hanging)
        return;
    clb_mm_fill_delay(&p->st.timers, p->now_ns, clb_mm_seconds_to_ns(p->cfg.filled_order_delay));
    if (o->side == CLB_SIDE_BUY)
        p->st.filled_buys_balance++;
    else
        p->st.filled_sells_balance++;
    if (o->price > 0.0)
        p->book.last_own_trade_price = o->price;
    if (p->cfg.hanging_orders_enabled) {
        /* its pair (same proposal, same level, other side) now hangs */
        for (size_t i = 0; i < p->book.n; i++) {
            struct clb_mm_order *x = &p->book.o[i];
            if (x->batch == o->batch && x->level == o->level && x->side != o->side)
                x->hanging = true;
        }
    }
}

static double pmm_ref_price(const struct clb_pmm *p, const struct clb_mm_snapshot *snap)
{
    switch (p->cfg.price_type) {
    case CLB_PMM_PRICE_LAST:
        return isnan(p->last_trade_price) ? snap->mid : p->last_trade_price;
    case CLB_PMM_PRICE_BEST_BID:
        return snap->mk.best_bid;
    case CLB_PMM_PRICE_BEST_ASK:
        return snap->mk.best_ask;
    case CLB_PMM_PRICE_LAST_OWN:
        return isnan(p->book.last_own_trade_price) ? snap->mid : p->book.last_own_trade_price;
    default:
        return snap->mid;
    }
}

void clb_mm_apply_cancels(struct clb_mm_book *b, struct clb_strategy *s, const uint8_t *cancel,
                          size_t n)
{
    char ids[CLB_MM_MAX_ORDERS][CLB_CLIENT_ID_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n && i < b->n; i++) {
        if (cancel[i] != CLB_MM_KEEP)
            memcpy(ids[k++], b->o[i].client_id, CLB_CLIENT_ID_MAX);
    }
    for (size_t i = 0; i < k; i++) {
        int j = clb_mm_book_find(b, ids[i]);
        if (j >= 0)
            clb_mm_cancel(b, s, (size_t)j);
    }
}

static int pmm_on_tick(struct clb_strategy *s, int64_t now_ns)
{
    struct clb_pmm *p = pmm_of(s);
    p->now_ns = now_ns;
    clb_mm_book_reconcile(&p->book, s->conn, pmm_completed, p);
    if (!clb_connector_ready(s->conn)) {
        p->ticks_not_ready++;
        return CLB_OK;
    }
    struct clb_mm_snapshot snap;
    int rc = clb_mm_snapshot_read(s->conn, s->market, &snap);
    if (rc != CLB_OK)
        return rc;
    double ref = pmm_ref_price(p, &snap);
    p->last_ref_price = ref;

    struct clb_pmm_inputs in = {
        .now_ns = now_ns,
        .ref_price = ref,
        .mk = snap.mk,
        .base_available = snap.base_available,
        .quote_available = snap.quote_available,
        .orders = p->book.o,
        .n_orders = p->book.n,
    };
    struct clb_pmm_plan plan;
    clb_pmm_plan(&p->cfg, &p->st, &in, &plan);
    clb_mm_apply_cancels(&p->book, s, plan.cancel, in.n_orders);
    if (plan.create) {
        enum clb_order_type type = p->cfg.take_if_crossed ? CLB_ORDER_LIMIT
                                                          : CLB_ORDER_LIMIT_MAKER;
        if (clb_mm_place_proposal(&p->book, s, &plan.proposal, type, now_ns) > 0)
            clb_mm_set_timers(&p->st.timers, now_ns,
                              clb_mm_seconds_to_ns(p->cfg.order_refresh_time));
    }
    return CLB_OK;
}

static void pmm_on_event(struct clb_strategy *s, const struct clb_event *ev)
{
    struct clb_pmm *p = pmm_of(s);
    if (ev->ts_ns > p->now_ns)
        p->now_ns = ev->ts_ns;
    if (ev->type == CLB_EV_TRADE) {
        const struct clb_market_rules *r = s->conn ? s->conn->ops->rules(s->conn, s->market)
                                                   : NULL;
        if (r)
            p->last_trade_price = clb_mm_scaled_to_double(ev->u.trade.price, r->price_scale);
        return;
    }
    struct clb_mm_order done;
    if (clb_mm_book_on_event(&p->book, ev, &done) == CLB_MM_NEWS_COMPLETED)
        pmm_completed(p, &done);
}

static void pmm_on_stop(struct clb_strategy *s, int64_t now_ns)
{
    struct clb_pmm *p = pmm_of(s);
    p->now_ns = now_ns;
    clb_mm_cancel_all(&p->book, s);
}

static int pmm_update_config(struct clb_strategy *s, const void *config, char *err,
                             size_t errlen)
{
    struct clb_pmm_config cfg;
    if (!config)
        return CLB_EINVAL;
    memcpy(&cfg, config, sizeof(cfg));
    int rc = clb_pmm_config_check(&cfg, err, errlen);
    if (rc != CLB_OK)
        return rc;
    pmm_of(s)->cfg = cfg;
    return CLB_OK;
}

static const void *pmm_config(const struct clb_strategy *s)
{
    return &pmm_of_c(s)->cfg;
}

static size_t pmm_metrics(const struct clb_strategy *s, struct clb_strategy_metric *out, size_t n)
{
    const struct clb_pmm *p = pmm_of_c(s);
    size_t buys = 0, sells = 0, hanging = 0;
    for (size_t i = 0; i < p->book.n; i++) {
        if (p->book.o[i].hanging)
            hanging++;
        else if (p->book.o[i].side == CLB_SIDE_BUY)
            buys++;
        else
            sells++;
    }
    const struct clb_strategy_metric m[] = {
        { "ref_price", p->last_ref_price },
        { "active_buys", (double)buys },
        { "active_sells", (double)sells },
        { "hanging_orders", (double)hanging },
        { "orders_placed", (double)p->book.placed },
        { "place_errors", (double)p->book.place_errors },
        { "cancels_requested", (double)p->book.cancels },
        { "fills", (double)p->book.fills },
        { "orders_completed", (double)p->book.completed },
        { "filled_buys_balance", (double)p->st.filled_buys_balance },
        { "filled_sells_balance", (double)p->st.filled_sells_balance },
        { "next_create_s", p->st.timers.create_ns > p->now_ns
                               ? (double)(p->st.timers.create_ns - p->now_ns) / 1e9
                               : 0.0 },
        { "ticks_not_ready", (double)p->ticks_not_ready },
    };
    size_t k = sizeof(m) / sizeof(m[0]);
    if (k > n)
        k = n;
    memcpy(out, m, k * sizeof(m[0]));
    return k;
}

const struct clb_strategy_ops clb_pure_market_making_ops = {
    .type = "pure_market_making",
    .summary = "Hummingbot's pure market making: layered bids and asks around a reference price",
    .params = clb_pmm_params,
    .n_params = sizeof(clb_pmm_params) / sizeof(clb_pmm_params[0]),
    .config_size = sizeof(struct clb_pmm_config),
    .create = pmm_create,
    .on_start = pmm_on_start,
    .on_tick = pmm_on_tick,
    .on_event = pmm_on_event,
    .on_stop = pmm_on_stop,
    .update_config = pmm_update_config,
    .metrics = pmm_metrics,
    .config = pmm_config,
    .destroy = pmm_destroy,
};
