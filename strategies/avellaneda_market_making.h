/*
 * avellaneda_market_making.h — Hummingbot's avellaneda_market_making: quotes
 * around the Avellaneda-Stoikov (2008) reservation price with the optimal
 * spread, sized by the inventory.
 *
 *   r = s - q * gamma * sigma^2 * (T - t)
 *   delta = gamma * sigma^2 * (T - t) + (2 / gamma) * ln(1 + gamma / kappa)
 *   bid = min(r - delta / 2, s - s * min_spread% / 2)
 *   ask = max(r + delta / 2, s + s * min_spread% / 2)
 *
 *  - s is the mid price (quote per base).
 *  - sigma is the instant volatility indicator (core/indicator.h) over one
 *    mid sample per tick, in PRICE units (quote per base per tick); 0 falls
 *    back to the last non-zero value, else half the book spread (Hummingbot).
 *  - kappa (and alpha) come from the trading intensity indicator, fed every
 *    market trade (CLB_EV_TRADE) with the mid at that moment: depth =
 *    |trade price - mid| in price units (rounded to the tick), cumulative
 *    lambda (Hummingbot), refitted when the create timer has passed. kappa
 *    is in 1 / price units.
 *  - q is the inventory deviation from the target, NORMALISED as Hummingbot
 *    does: q = (base - target_base) / (base + quote / s), where target_base
 *    = inventory_target_base_pct% of the portfolio value, in base. q lies in
 *    [-1, 1] and does not depend on the size of the portfolio, so gamma
 *    (risk_factor) carries units of 1 / price and one value suits any
 *    account size. Balances are totals (available + locked).
 *  - T - t is 1 for the infinite timeframe (Hummingbot before v1.x), else
 *    the remaining fraction of the current window (from_date_to_date, or
 *    daily_between_times in UTC). Outside the window the strategy cancels
 *    its orders and does not quote.
 *  - order_amount_shape_factor eta shrinks the side that would push the
 *    inventory further from the target: q > 0 multiplies buy amounts by
 *    exp(-eta * q), q < 0 multiplies sell amounts by exp(eta * q).
 *  - order_levels > 1 adds levels level_step = (delta / 2) * level_distances%
 *    apart beyond the first bid/ask.
 *
 * Until both indicators are ready (volatility_buffer_size mid samples,
 * trading_intensity_buffer_size trades and a successful fit) the strategy
 * does NOT quote, like Hummingbot. Refresh, tolerance, max order age and
 * filled_order_delay behave as in pure_market_making (shared helpers in
 * pure_market_making.h); orders are LIMIT_MAKER and quotes that would cross
 * the book are dropped. Hanging orders are not implemented here.
 *
 * Threads: the pure functions touch only their arguments (any thread); the
 * strategy hooks run on the worker thread.
 */
#ifndef CLB_AVELLANEDA_MARKET_MAKING_H
#define CLB_AVELLANEDA_MARKET_MAKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "indicator.h"
#include "param.h"
#include "pure_market_making.h"
#include "strategy.h"

enum clb_avmm_timeframe {
    CLB_AVMM_INFINITE = 0,
    CLB_AVMM_FROM_DATE_TO_DATE, /* start_time/end_time "YYYY-MM-DD HH:MM:SS" UTC */
    CLB_AVMM_DAILY_BETWEEN_TIMES /* start_time/end_time "HH:MM:SS" UTC, may wrap midnight */
};

struct clb_avmm_config {
    double risk_factor;                 /* gamma, 1 / price (q normalised), > 0 */
    double order_amount;                /* base, > 0 */
    double order_amount_shape_factor;   /* eta, 0..1 (dimensionless) */
    double min_spread;                  /* % of mid: quotes at least this wide */
    double order_refresh_time;          /* s */
    double order_refresh_tolerance_pct; /* % keep orders within it; < 0 = always refresh */
    double max_order_age;               /* s, 0 = off */
    double filled_order_delay;          /* s */
    double inventory_target_base_pct;   /* % of portfolio value held in base */
    long long volatility_buffer_size;   /* mid samples (one per tick), 2..10000 */
    long long trading_intensity_buffer_size; /* market trades, 2..10000 */
    int execution_timeframe;            /* enum clb_avmm_timeframe */
    char start_time[CLB_PARAM_STRMAX];  /* UTC, see enum clb_avmm_timeframe */
    char end_time[CLB_PARAM_STRMAX];
    long long order_levels;             /* per side, 1..CLB_MM_MAX_LEVELS */
    double level_distances;             /* % of half the optimal spread between levels */
};

extern const struct clb_param_spec clb_avmm_params[];
extern const size_t clb_avmm_n_params;

void clb_avmm_config_defaults(struct clb_avmm_config *cfg);

/* Ranges, plus order_amount > 0, risk_factor > 0 and a valid window for the
 * timed modes. CLB_OK or CLB_EINVAL with a reason naming the key. */
int clb_avmm_config_check(const struct clb_avmm_config *cfg, char *err, size_t errlen);

/* The execution window, parsed. */
struct clb_avmm_window {
    int mode;         /* enum clb_avmm_timeframe */
    int64_t start_ns; /* from_date_to_date: Unix ns; daily: ns since midnight UTC */
    int64_t end_ns;
};

/* Parses start_time/end_time for the config's mode ("YYYY-MM-DD HH:MM:SS"
 * or "YYYY-MM-DDTHH:MM:SS" for dates, "HH:MM:SS" or "HH:MM" for daily
 * times, all UTC). Infinite needs nothing. CLB_OK, or CLB_EINVAL with a
 * reason: malformed, impossible date, end not after start (dates), equal
 * times (daily). */
int clb_avmm_window_parse(const struct clb_avmm_config *cfg, struct clb_avmm_window *w,
                          char *err, size_t errlen);

/* Whether now_ns (Unix ns) is inside the window, and T - t: 1 for infinite,
 * else (window end - now) / window length, in (0, 1]. */
bool clb_avmm_window_time_left(const struct clb_avmm_window *w, int64_t now_ns,
                               double *fraction);

/* r = mid - q * gamma * sigma^2 * tau. */
double clb_avmm_reservation_price(double mid, double q, double gamma, double sigma, double tau);

/* delta = gamma * sigma^2 * tau + (2 / gamma) * ln(1 + gamma / kappa). */
double clb_avmm_optimal_spread(double gamma, double sigma, double tau, double kappa);

/* Hummingbot's normalised q (see above); 0 for an empty portfolio. */
double clb_avmm_inventory_q(double base, double quote, double price, double target_pct);

struct clb_avmm_quotes {
    double reservation; /* r */
    double spread;      /* delta */
    double bid, ask;    /* after the min_spread limits, before quantization */
};

/* The quotes for one set of inputs. CLB_OK, or CLB_EINVAL (mid <= 0,
 * gamma <= 0, kappa <= 0, sigma < 0, tau < 0 or anything non-finite). */
int clb_avmm_compute_quotes(double mid, double q, double gamma, double sigma, double tau,
                            double kappa, double min_spread_pct, struct clb_avmm_quotes *out);

/* The proposal: order_levels bids from qt->bid downward and asks from
 * qt->ask upward, level_step apart, quantized (buys down, sells up);
 * amounts order_amount shaped by eta and q, quantized down; zero amounts
 * dropped. */
void clb_avmm_proposal(const struct clb_avmm_config *cfg, const struct clb_avmm_quotes *qt,
                       double q, const struct clb_mm_market *mk, struct clb_mm_proposal *p);

struct clb_avmm_state {
    struct clb_mm_timers timers;
};

struct clb_avmm_inputs {
    int64_t now_ns;
    double mid;              /* NAN: no price */
    double sigma;            /* price units */
    double kappa;            /* 1 / price units */
    bool indicators_ready;
    bool in_window;
    double tau;              /* T - t */
    double q;                /* normalised inventory */
    struct clb_mm_market mk;
    double base_available, quote_available;
    const struct clb_mm_order *orders;
    size_t n_orders;
};

struct clb_avmm_plan {
    bool has_proposal;
    struct clb_avmm_quotes quotes;
    struct clb_mm_proposal proposal;
    uint8_t cancel[CLB_MM_MAX_ORDERS]; /* enum clb_mm_cancel_reason per order */
    size_t n_cancel;
    bool defer_timers; /* orders kept within tolerance: apply clb_mm_set_timers */
    bool create;
};

/* One tick's decisions, in Hummingbot's order: nothing until the indicators
 * are ready; cancel orders older than max_order_age; outside the window
 * cancel everything; when the create timer has passed, compute the quotes
 * and the proposal (eta, budget, minimums, no takers) and, once the cancel
 * timer has passed, cancel the orders unless all are within tolerance;
 * create when the create timer has passed and nothing is in flight. */
void clb_avmm_plan(const struct clb_avmm_config *cfg, const struct clb_avmm_state *st,
                   const struct clb_avmm_inputs *in, struct clb_avmm_plan *out);

/* The strategy instance. */
struct clb_avmm {
    struct clb_strategy base; /* first member */
    struct clb_avmm_config cfg;
    struct clb_avmm_window window;
    struct clb_avmm_state st;
    struct clb_mm_book book;
    struct clb_instant_vol vol;
    struct clb_trading_intensity ti;
    bool ti_init;
    int64_t now_ns;
    /* latest figures (metrics) */
    double mid, sigma, last_sigma, kappa, alpha, q, tau;
    struct clb_avmm_quotes quotes;
    bool ready, in_window;
    uint64_t trades_seen;
};

/* The strategy type ("avellaneda_market_making"); config is struct
 * clb_avmm_config. */
extern const struct clb_strategy_ops clb_avellaneda_market_making_ops;

#endif
