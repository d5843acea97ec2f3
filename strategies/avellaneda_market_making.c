/*
 * avellaneda_market_making.c — the Avellaneda-Stoikov market maker
 * (avellaneda_market_making.h): pure quote maths and planning, then the glue
 * that feeds the indicators (a mid sample per tick, every market trade) and
 * acts through the connector with the helpers of pure_market_making.h.
 */
#include "avellaneda_market_making.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "error.h"
#include "order_book.h"

#define NS_PER_S INT64_C(1000000000)
#define NS_PER_DAY (INT64_C(86400) * NS_PER_S)

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */
/* ------------------------------------------------------------------------ */

#define OFF(f) offsetof(struct clb_avmm_config, f)

static const char *const timeframe_choices[] = {
    "infinite", "from_date_to_date", "daily_between_times", NULL,
};

const struct clb_param_spec clb_avmm_params[] = {
    { "risk_factor", CLB_PARAM_DOUBLE, OFF(risk_factor), 0, 1e9, 1, NULL, NULL, "1/price",
      "gamma: inventory risk aversion (> 0), per unit of normalised inventory" },
    { "order_amount", CLB_PARAM_DOUBLE, OFF(order_amount), 0, 1e12, 0.01, NULL, NULL, "base",
      "amount of each order (> 0)" },
    { "order_amount_shape_factor", CLB_PARAM_DOUBLE, OFF(order_amount_shape_factor), 0, 1, 0,
      NULL, NULL, "", "eta: shrinks the side that moves the inventory away from the target" },
    { "min_spread", CLB_PARAM_DOUBLE, OFF(min_spread), 0, 100, 0, NULL, NULL, "%",
      "minimum distance between bid and ask, as a share of the mid price" },
    { "order_refresh_time", CLB_PARAM_DOUBLE, OFF(order_refresh_time), 0, 31536000, 10, NULL,
      NULL, "s", "how often orders are re-evaluated and replaced" },
    { "order_refresh_tolerance_pct", CLB_PARAM_DOUBLE, OFF(order_refresh_tolerance_pct), -10, 10,
      0, NULL, NULL, "%",
      "keep orders whose price is within this of the new proposal (< 0: always replace)" },
    { "max_order_age", CLB_PARAM_DOUBLE, OFF(max_order_age), 0, 31536000, 1800, NULL, NULL, "s",
      "cancel orders older than this (0 = off)" },
    { "filled_order_delay", CLB_PARAM_DOUBLE, OFF(filled_order_delay), 0, 31536000, 60, NULL,
      NULL, "s", "pause before new orders after an order is completely filled" },
    { "inventory_target_base_pct", CLB_PARAM_DOUBLE, OFF(inventory_target_base_pct), 0, 100, 50,
      NULL, NULL, "%", "target share of the portfolio value held in base" },
    { "volatility_buffer_size", CLB_PARAM_INT, OFF(volatility_buffer_size), 2, 10000, 200, NULL,
      NULL, "ticks", "mid price samples (one per tick) behind the volatility" },
    { "trading_intensity_buffer_size", CLB_PARAM_INT, OFF(trading_intensity_buffer_size), 2,
      10000, 200, NULL, NULL, "trades", "market trades behind the order arrival fit" },
    { "execution_timeframe", CLB_PARAM_ENUM, OFF(execution_timeframe), 0, 0, CLB_AVMM_INFINITE,
      NULL, timeframe_choices, "", "trading window: T - t = 1, or the window's remaining share" },
    { "start_time", CLB_PARAM_STRING, OFF(start_time), 0, 0, 0, "", NULL, "UTC",
      "window start: YYYY-MM-DD HH:MM:SS (dates) or HH:MM:SS (daily)" },
    { "end_time", CLB_PARAM_STRING, OFF(end_time), 0, 0, 0, "", NULL, "UTC",
      "window end: YYYY-MM-DD HH:MM:SS (dates) or HH:MM:SS (daily)" },
    { "order_levels", CLB_PARAM_INT, OFF(order_levels), 1, CLB_MM_MAX_LEVELS, 1, NULL, NULL, "",
      "orders per side" },
    { "level_distances", CLB_PARAM_DOUBLE, OFF(level_distances), 0, 10000, 0, NULL, NULL, "%",
      "distance between levels, in % of half the optimal spread" },
};

const size_t clb_avmm_n_params = sizeof(clb_avmm_params) / sizeof(clb_avmm_params[0]);

void clb_avmm_config_defaults(struct clb_avmm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    clb_params_defaults(clb_avmm_params, clb_avmm_n_params, cfg);
}

static int reason(char *err, size_t errlen, const char *msg)
{
    if (err && errlen > 0)
        snprintf(err, errlen, "%s", msg);
    return CLB_EINVAL;
}

int clb_avmm_config_check(const struct clb_avmm_config *cfg, char *err, size_t errlen)
{
    if (!cfg)
        return CLB_EINVAL;
    if (clb_params_check(clb_avmm_params, clb_avmm_n_params, cfg, err, errlen) != CLB_OK)
        return CLB_EINVAL;
    if (!(cfg->order_amount > 0.0))
        return reason(err, errlen, "order_amount: must be > 0");
    if (!(cfg->risk_factor > 0.0))
        return reason(err, errlen, "risk_factor: must be > 0");
    struct clb_avmm_window w;
    return clb_avmm_window_parse(cfg, &w, err, errlen);
}

/* ------------------------------------------------------------------------ */
/* Execution window                                                          */
/* ------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dm[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/* "HH:MM[:SS]" -> ns since midnight; false if malformed. */
static bool parse_tod(const char *s, int64_t *out)
{
    int h, mi, sec = 0, used = 0;
    if (sscanf(s, "%2d:%2d:%2d%n", &h, &mi, &sec, &used) == 3 && s[used] == '\0') {
        /* HH:MM:SS */
    } else if (sscanf(s, "%2d:%2d%n", &h, &mi, &used) == 2 && s[used] == '\0') {
        sec = 0;
    } else {
        return false;
    }
    if (s[0] < '0' || s[0] > '9' || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59)
        return false;
    *out = ((int64_t)h * 3600 + mi * 60 + sec) * NS_PER_S;
    return true;
}

/* "YYYY-MM-DD[ T]HH:MM[:SS]" -> Unix ns; false if malformed or impossible. */
static bool parse_datetime(const char *s, int64_t *out)
{
    int y, m, d, used = 0;
    if (strlen(s) < 11 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 || used != 10)
        return false;
    if (s[10] != ' ' && s[10] != 'T')
        return false;
    if (y < 1970 || y > 2200 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
        return false;
    int64_t tod;
    if (!parse_tod(s + 11, &tod))
        return false;
    *out = days_from_civil(y, m, d) * NS_PER_DAY + tod;
    return true;
}

int clb_avmm_window_parse(const struct clb_avmm_config *cfg, struct clb_avmm_window *w,
                          char *err, size_t errlen)
{
    struct clb_avmm_window x = { .mode = cfg->execution_timeframe };
    char msg[160];
    switch (cfg->execution_timeframe) {
    case CLB_AVMM_INFINITE:
        break;
    case CLB_AVMM_FROM_DATE_TO_DATE:
        if (!parse_datetime(cfg->start_time, &x.start_ns)) {
            snprintf(msg, sizeof(msg), "start_time: \"%.64s\" is not YYYY-MM-DD HH:MM:SS",
                     cfg->start_time);
            return reason(err, errlen, msg);
        }
        if (!parse_datetime(cfg->end_time, &x.end_ns)) {
            snprintf(msg, sizeof(msg), "end_time: \"%.64s\" is not YYYY-MM-DD HH:MM:SS",
                     cfg->end_time);
            return reason(err, errlen, msg);
        }
        if (x.end_ns <= x.start_ns)
            return reason(err, errlen, "end_time: must be after start_time");
        break;
    case CLB_AVMM_DAILY_BETWEEN_TIMES:
        if (!parse_tod(cfg->start_time, &x.start_ns)) {
            snprintf(msg, sizeof(msg), "start_time: \"%.64s\" is not HH:MM:SS", cfg->start_time);
            return reason(err, errlen, msg);
        }
        if (!parse_tod(cfg->end_time, &x.end_ns)) {
            snprintf(msg, sizeof(msg), "end_time: \"%.64s\" is not HH:MM:SS", cfg->end_time);
            return reason(err, errlen, msg);
        }
        if (x.end_ns == x.start_ns)
            return reason(err, errlen, "end_time: must differ from start_time");
        break;
    default:
        return reason(err, errlen, "execution_timeframe: unknown mode");
    }
    *w = x;
    return CLB_OK;
}

bool clb_avmm_window_time_left(const struct clb_avmm_window *w, int64_t now_ns,
                               double *fraction)
{
    *fraction = 1.0;
    switch (w->mode) {
    case CLB_AVMM_FROM_DATE_TO_DATE:
        if (now_ns < w->start_ns || now_ns >= w->end_ns)
            return false;
        *fraction = (double)(w->end_ns - now_ns) / (double)(w->end_ns - w->start_ns);
        return true;
    case CLB_AVMM_DAILY_BETWEEN_TIMES: {
        int64_t tod = now_ns % NS_PER_DAY;
        if (tod < 0)
            tod += NS_PER_DAY;
        int64_t len, left;
        if (w->start_ns < w->end_ns) {
            if (tod < w->start_ns || tod >= w->end_ns)
                return false;
            len = w->end_ns - w->start_ns;
            left = w->end_ns - tod;
        } else { /* wraps midnight */
            if (tod < w->start_ns && tod >= w->end_ns)
                return false;
            len = NS_PER_DAY - w->start_ns + w->end_ns;
            left = tod >= w->start_ns ? NS_PER_DAY - tod + w->end_ns : w->end_ns - tod;
        }
        *fraction = (double)left / (double)len;
        return true;
    }
    default:
        return true;
    }
}

/* ------------------------------------------------------------------------ */
/* Quote maths                                                               */
/* ------------------------------------------------------------------------ */

double clb_avmm_reservation_price(double mid, double q, double gamma, double sigma, double tau)
{
    return mid - q * gamma * sigma * sigma * tau;
}

double clb_avmm_optimal_spread(double gamma, double sigma, double tau, double kappa)
{
    return gamma * sigma * sigma * tau + 2.0 / gamma * log1p(gamma / kappa);
}

double clb_avmm_inventory_q(double base, double quote, double price, double target_pct)
{
    if (!(price > 0.0))
        return 0.0;
    double total_base = base + quote / price;
    if (!(total_base > 0.0))
        return 0.0;
    double target_base = total_base * target_pct / 100.0;
    return (base - target_base) / total_base;
}

int clb_avmm_compute_quotes(double mid, double q, double gamma, double sigma, double tau,
                            double kappa, double min_spread_pct, struct clb_avmm_quotes *out)
{
    if (!isfinite(mid) || !isfinite(q) || !isfinite(gamma) || !isfinite(sigma) ||
        !isfinite(tau) || !isfinite(kappa) || !isfinite(min_spread_pct) || !(mid > 0.0) ||
        !(gamma > 0.0) || !(kappa > 0.0) || sigma < 0.0 || tau < 0.0)
        return CLB_EINVAL;
    double r = clb_avmm_reservation_price(mid, q, gamma, sigma, tau);
    double d = clb_avmm_optimal_spread(gamma, sigma, tau, kappa);
    double half_min = mid * min_spread_pct / 100.0 / 2.0;
    out->reservation = r;
    out->spread = d;
    out->bid = fmin(r - d / 2.0, mid - half_min);
    out->ask = fmax(r + d / 2.0, mid + half_min);
    return CLB_OK;
}

void clb_avmm_proposal(const struct clb_avmm_config *cfg, const struct clb_avmm_quotes *qt,
                       double q, const struct clb_mm_market *mk, struct clb_mm_proposal *p)
{
    clb_mm_proposal_clear(p);
    double size = clb_mm_quantize(cfg->order_amount, mk->step_size, false);
    if (!(size > 0.0))
        return;
    double buy_size = size, sell_size = size;
    if (q > 0.0)
        buy_size = clb_mm_quantize(size * exp(-cfg->order_amount_shape_factor * q),
                                   mk->step_size, false);
    else if (q < 0.0)
        sell_size = clb_mm_quantize(size * exp(cfg->order_amount_shape_factor * q),
                                    mk->step_size, false);
    double step = qt->spread / 2.0 / 100.0 * cfg->level_distances;
    long long levels = cfg->order_levels < 1 ? 1 : cfg->order_levels;
    if (levels > CLB_MM_MAX_LEVELS)
        levels = CLB_MM_MAX_LEVELS;
    for (long long i = 0; i < levels; i++) {
        double bid = clb_mm_quantize(qt->bid - (double)i * step, mk->tick_size, false);
        double ask = clb_mm_quantize(qt->ask + (double)i * step, mk->tick_size, true);
        if (bid > 0.0 && buy_size > 0.0)
            p->buys[p->n_buys++] = (struct clb_mm_quote){ bid, buy_size };
        if (ask > 0.0 && sell_size > 0.0)
            p->sells[p->n_sells++] = (struct clb_mm_quote){ ask, sell_size };
    }
}

void clb_avmm_plan(const struct clb_avmm_config *cfg, const struct clb_avmm_state *st,
                   const struct clb_avmm_inputs *in, struct clb_avmm_plan *out)
{
    memset(out, 0, sizeof(*out));
    const int64_t now = in->now_ns;
    const size_t n = in->n_orders < CLB_MM_MAX_ORDERS ? in->n_orders : CLB_MM_MAX_ORDERS;
    const struct clb_mm_order *ord = in->orders;
    if (!in->indicators_ready)
        return;

    /* max order age, order by order */
    if (cfg->max_order_age > 0.0) {
        int64_t max_age = clb_mm_seconds_to_ns(cfg->max_order_age);
        for (size_t i = 0; i < n; i++)
            if (!ord[i].cancel_requested && now - ord[i].created_ns > max_age)
                out->cancel[i] = CLB_MM_CANCEL_AGE;
    }

    if (!in->in_window) {
        for (size_t i = 0; i < n; i++)
            if (!ord[i].cancel_requested && out->cancel[i] == CLB_MM_KEEP)
                out->cancel[i] = CLB_MM_CANCEL_WINDOW;
    } else if (st->timers.create_ns <= now &&
               clb_avmm_compute_quotes(in->mid, in->q, cfg->risk_factor, in->sigma, in->tau,
                                       in->kappa, cfg->min_spread, &out->quotes) == CLB_OK &&
               out->quotes.bid > 0.0 && out->quotes.ask > 0.0) {
        struct clb_mm_proposal *p = &out->proposal;
        clb_avmm_proposal(cfg, &out->quotes, in->q, &in->mk, p);
        double b, q;
        clb_mm_adjusted_balances(ord, n, false, in->base_available, in->quote_available, &b, &q);
        clb_mm_apply_budget(p, b, q, in->mk.maker_fee, in->mk.step_size);
        clb_mm_drop_below_minimums(p, &in->mk);
        clb_mm_filter_takers(p, in->mk.best_bid, in->mk.best_ask);
        out->has_proposal = true;

        /* refresh (only with a proposal, as Hummingbot) */
        if (st->timers.cancel_ns <= now && n > 0) {
            if (cfg->order_refresh_tolerance_pct >= 0.0 &&
                clb_mm_orders_within_tolerance(ord, n, p, cfg->order_refresh_tolerance_pct)) {
                out->defer_timers = true;
            } else {
                for (size_t i = 0; i < n; i++)
                    if (!ord[i].cancel_requested && out->cancel[i] == CLB_MM_KEEP)
                        out->cancel[i] = CLB_MM_CANCEL_REFRESH;
            }
        }
    }
    for (size_t i = 0; i < n; i++)
        out->n_cancel += out->cancel[i] != CLB_MM_KEEP;
    out->create = st->timers.create_ns < now && out->has_proposal && n == 0 &&
                  out->proposal.n_buys + out->proposal.n_sells > 0;
}

/* ------------------------------------------------------------------------ */
/* The strategy glue                                                         */
/* ------------------------------------------------------------------------ */

static struct clb_avmm *avmm_of(struct clb_strategy *s)
{
    return (struct clb_avmm *)(void *)s;
}

static const struct clb_avmm *avmm_of_c(const struct clb_strategy *s)
{
    return (const struct clb_avmm *)(const void *)s;
}

/* The instant volatility averages its last few calculations (Hummingbot's
 * default processing length). */
#define AVMM_VOL_PROCESSING 15

static int avmm_create(const void *config, struct clb_strategy **out, char *err, size_t errlen)
{
    struct clb_avmm_config cfg;
    if (config)
        memcpy(&cfg, config, sizeof(cfg));
    else
        clb_avmm_config_defaults(&cfg);
    int rc = clb_avmm_config_check(&cfg, err, errlen);
    if (rc != CLB_OK)
        return rc;
    struct clb_avmm *a = calloc(1, sizeof(*a));
    if (!a)
        return CLB_ENOMEM;
    clb_strategy_base_init(&a->base, &clb_avellaneda_market_making_ops);
    a->cfg = cfg;
    clb_avmm_window_parse(&cfg, &a->window, NULL, 0);
    clb_mm_book_init(&a->book);
    rc = clb_instant_vol_init(&a->vol, (uint32_t)cfg.volatility_buffer_size, AVMM_VOL_PROCESSING);
    if (rc != CLB_OK) {
        free(a);
        return rc;
    }
    a->mid = a->sigma = a->kappa = a->alpha = NAN;
    a->last_sigma = 0.0;
    *out = &a->base;
    return CLB_OK;
}

static void avmm_destroy(struct clb_strategy *s)
{
    if (!s)
        return;
    struct clb_avmm *a = avmm_of(s);
    clb_strategy_detach(s);
    clb_indicator_deinit(&a->vol.base);
    if (a->ti_init)
        clb_trading_intensity_deinit(&a->ti);
    free(a);
}

/* (Re)creates the trading intensity indicator: its depth step is the
 * market's tick, known only once attached. */
static int avmm_init_intensity(struct clb_avmm *a)
{
    if (a->ti_init) {
        clb_trading_intensity_deinit(&a->ti);
        a->ti_init = false;
    }
    const struct clb_market_rules *r = a->base.conn->ops->rules(a->base.conn, a->base.market);
    struct clb_trading_intensity_params tp = {
        .buffer_size = (uint32_t)a->cfg.trading_intensity_buffer_size,
        .depth_step = r ? clb_dec_to_double(r->tick_size) : 0.0,
        .cumulative = true,
        .max_iterations = 0,
    };
    if (!(tp.depth_step > 0.0) || !isfinite(tp.depth_step))
        tp.depth_step = 0.0;
    int rc = clb_trading_intensity_init(&a->ti, &tp);
    if (rc == CLB_OK)
        a->ti_init = true;
    return rc;
}

static int avmm_on_start(struct clb_strategy *s, int64_t now_ns)
{
    struct clb_avmm *a = avmm_of(s);
    memset(&a->st, 0, sizeof(a->st));
    a->now_ns = now_ns;
    clb_indicator_clear(&a->vol.base);
    a->last_sigma = 0.0;
    a->ready = false;
    return avmm_init_intensity(a);
}

static void avmm_completed(void *ud, const struct clb_mm_order *o)
{
    struct clb_avmm *a = ud;
    clb_mm_fill_delay(&a->st.timers, a->now_ns, clb_mm_seconds_to_ns(a->cfg.filled_order_delay));
    if (o->price > 0.0)
        a->book.last_own_trade_price = o->price;
}

static int avmm_on_tick(struct clb_strategy *s, int64_t now_ns)
{
    struct clb_avmm *a = avmm_of(s);
    a->now_ns = now_ns;
    clb_mm_book_reconcile(&a->book, s->conn, avmm_completed, a);
    if (!clb_connector_ready(s->conn))
        return CLB_OK;
    struct clb_mm_snapshot snap;
    int rc = clb_mm_snapshot_read(s->conn, s->market, &snap);
    if (rc != CLB_OK)
        return rc;
    a->mid = snap.mid;
    if (isnan(snap.mid))
        return CLB_OK; /* one side of the book is empty: nothing to sample or quote */

    clb_indicator_add_sample(&a->vol.base, snap.mid);
    if (a->ti_init && clb_trading_intensity_full(&a->ti) && a->st.timers.create_ns <= now_ns)
        clb_trading_intensity_fit(&a->ti);

    double sigma = clb_indicator_value(&a->vol.base);
    if (sigma > 0.0 && isfinite(sigma))
        a->last_sigma = sigma;
    else if (a->last_sigma > 0.0)
        sigma = a->last_sigma;
    else
        sigma = (snap.mk.best_ask - snap.mk.best_bid) / 2.0;
    a->sigma = sigma;
    a->kappa = a->ti_init ? a->ti.kappa : NAN;
    a->alpha = a->ti_init ? a->ti.alpha : NAN;
    a->ready = clb_indicator_ready(&a->vol.base) && a->ti_init &&
               clb_trading_intensity_full(&a->ti) && a->ti.ready;
    a->q = clb_avmm_inventory_q(snap.base_total, snap.quote_total, snap.mid,
                                a->cfg.inventory_target_base_pct);
    a->in_window = clb_avmm_window_time_left(&a->window, now_ns, &a->tau);

    struct clb_avmm_inputs in = {
        .now_ns = now_ns,
        .mid = snap.mid,
        .sigma = sigma,
        .kappa = a->kappa,
        .indicators_ready = a->ready,
        .in_window = a->in_window,
        .tau = a->tau,
        .q = a->q,
        .mk = snap.mk,
        .base_available = snap.base_available,
        .quote_available = snap.quote_available,
        .orders = a->book.o,
        .n_orders = a->book.n,
    };
    struct clb_avmm_plan plan;
    clb_avmm_plan(&a->cfg, &a->st, &in, &plan);
    if (plan.has_proposal)
        a->quotes = plan.quotes;
    int64_t refresh_ns = clb_mm_seconds_to_ns(a->cfg.order_refresh_time);
    clb_mm_apply_cancels(&a->book, s, plan.cancel, in.n_orders);
    if (plan.defer_timers)
        clb_mm_set_timers(&a->st.timers, now_ns, refresh_ns);
    if (plan.create &&
        clb_mm_place_proposal(&a->book, s, &plan.proposal, CLB_ORDER_LIMIT_MAKER, now_ns) > 0)
        clb_mm_set_timers(&a->st.timers, now_ns, refresh_ns);
    return CLB_OK;
}

static void avmm_on_event(struct clb_strategy *s, const struct clb_event *ev)
{
    struct clb_avmm *a = avmm_of(s);
    if (ev->ts_ns > a->now_ns)
        a->now_ns = ev->ts_ns;
    if (ev->type == CLB_EV_TRADE) {
        if (!a->ti_init || !s->conn)
            return;
        /* only the rules and the top of book: this runs for every trade */
        const struct clb_market_rules *r = s->conn->ops->rules(s->conn, s->market);
        const struct clb_order_book *book = s->conn->ops->book(s->conn, s->market);
        struct clb_level bid, ask;
        if (!r || !book || !clb_book_best_bid(book, &bid) || !clb_book_best_ask(book, &ask))
            return;
        double mid = clb_mm_scaled_to_double(bid.price, r->price_scale) / 2.0 +
                     clb_mm_scaled_to_double(ask.price, r->price_scale) / 2.0;
        double price = clb_mm_scaled_to_double(ev->u.trade.price, r->price_scale);
        double amount = clb_mm_scaled_to_double(ev->u.trade.qty, r->qty_scale);
        if (clb_trading_intensity_add_trade(&a->ti, price, amount, mid) == CLB_OK)
            a->trades_seen++;
        return;
    }
    struct clb_mm_order done;
    if (clb_mm_book_on_event(&a->book, ev, &done) == CLB_MM_NEWS_COMPLETED)
        avmm_completed(a, &done);
}

static void avmm_on_stop(struct clb_strategy *s, int64_t now_ns)
{
    struct clb_avmm *a = avmm_of(s);
    a->now_ns = now_ns;
    clb_mm_cancel_all(&a->book, s);
}

static int avmm_update_config(struct clb_strategy *s, const void *config, char *err,
                              size_t errlen)
{
    struct clb_avmm *a = avmm_of(s);
    struct clb_avmm_config cfg;
    if (!config)
        return CLB_EINVAL;
    memcpy(&cfg, config, sizeof(cfg));
    int rc = clb_avmm_config_check(&cfg, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (cfg.volatility_buffer_size != a->cfg.volatility_buffer_size) {
        struct clb_instant_vol v;
        rc = clb_instant_vol_init(&v, (uint32_t)cfg.volatility_buffer_size, AVMM_VOL_PROCESSING);
        if (rc != CLB_OK)
            return rc;
        clb_indicator_deinit(&a->vol.base);
        a->vol = v;
    }
    bool new_ti = cfg.trading_intensity_buffer_size != a->cfg.trading_intensity_buffer_size;
    a->cfg = cfg;
    clb_avmm_window_parse(&cfg, &a->window, NULL, 0);
    if (new_ti && a->base.conn)
        return avmm_init_intensity(a);
    return CLB_OK;
}

static const void *avmm_config(const struct clb_strategy *s)
{
    return &avmm_of_c(s)->cfg;
}

static size_t avmm_metrics(const struct clb_strategy *s, struct clb_strategy_metric *out,
                           size_t n)
{
    const struct clb_avmm *a = avmm_of_c(s);
    const struct clb_strategy_metric m[] = {
        { "mid_price", a->mid },
        { "volatility", a->sigma },
        { "kappa", a->kappa },
        { "alpha", a->alpha },
        { "inventory_q", a->q },
        { "time_left_fraction", a->tau },
        { "reservation_price", a->quotes.reservation },
        { "optimal_spread", a->quotes.spread },
        { "optimal_bid", a->quotes.bid },
        { "optimal_ask", a->quotes.ask },
        { "indicators_ready", a->ready ? 1.0 : 0.0 },
        { "in_window", a->in_window ? 1.0 : 0.0 },
        { "volatility_samples", (double)clb_ring_size(&a->vol.base.sampling) },
        { "intensity_trades", a->ti_init ? (double)clb_trading_intensity_count(&a->ti) : 0.0 },
        { "active_orders", (double)a->book.n },
        { "orders_placed", (double)a->book.placed },
        { "place_errors", (double)a->book.place_errors },
        { "cancels_requested", (double)a->book.cancels },
        { "fills", (double)a->book.fills },
        { "orders_completed", (double)a->book.completed },
    };
    size_t k = sizeof(m) / sizeof(m[0]);
    if (k > n)
        k = n;
    memcpy(out, m, k * sizeof(m[0]));
    return k;
}

const struct clb_strategy_ops clb_avellaneda_market_making_ops = {
    .type = "avellaneda_market_making",
    .summary = "Avellaneda-Stoikov market making: reservation price and optimal spread from "
               "volatility, order arrival intensity and inventory",
    .params = clb_avmm_params,
    .n_params = sizeof(clb_avmm_params) / sizeof(clb_avmm_params[0]),
    .config_size = sizeof(struct clb_avmm_config),
    .create = avmm_create,
    .on_start = avmm_on_start,
    .on_tick = avmm_on_tick,
    .on_event = avmm_on_event,
    .on_stop = avmm_on_stop,
    .update_config = avmm_update_config,
    .metrics = avmm_metrics,
    .config = avmm_config,
    .destroy = avmm_destroy,
};
