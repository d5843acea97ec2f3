/*
 * pure_market_making.h — Hummingbot's pure market making strategy, and the
 * market-making building blocks it shares with avellaneda_market_making.
 *
 * The strategy quotes order_levels bids and asks around a reference price
 * (mid by default) and refreshes them every order_refresh_time seconds. Its
 * parameters keep Hummingbot's names and units; spreads are in PERCENT
 * (bid_spread 0.5 means 0.5 %), times in seconds, amounts in base.
 *
 * Each tick follows Hummingbot's order (see clb_pmm_plan):
 *   1. if the create timer has passed: proposal = ref * (1 -/+ spread -/+
 *      i * level_spread), amounts order_amount + i * order_level_amount
 *      -> price band (ceiling/floor) -> ping-pong -> inventory skew ->
 *      budget (available balances) -> drop quotes below the market's
 *      minimums -> drop quotes that would take (unless take_if_crossed);
 *   2. cancel hanging orders drifted beyond hanging_orders_cancel_pct;
 *   3. cancel every non-hanging order if one is older than max_order_age;
 *   4. when the cancel timer has passed: cancel the non-hanging orders
 *      unless every price is within order_refresh_tolerance_pct of the new
 *      proposal;
 *   5. cancel orders closer to the reference price than minimum_spread;
 *   6. create the proposal when the create timer has passed and no
 *      non-hanging order is left in flight (not even one being cancelled).
 * A completely filled order delays the next create by filled_order_delay.
 *
 * Every decision is a PURE function of (config, state, inputs): the tests
 * call them with hand-computed numbers. The strategy glue (struct clb_pmm)
 * only reads the connector, calls the planner and places / cancels.
 * Prices and amounts are doubles here (DESIGN.md: strategy maths may use
 * doubles); proposals are quantized to the market's tick (buys down, sells
 * up) and step (down) exactly as the connector will, and converted to
 * decimals once, when placed.
 *
 * Threads: the pure functions touch only their arguments (any thread); the
 * glue functions and the strategy hooks run on the worker thread.
 */
#ifndef CLB_PURE_MARKET_MAKING_H
#define CLB_PURE_MARKET_MAKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connector.h"
#include "param.h"
#include "strategy.h"

/* ------------------------------------------------------------------------ */
/* Shared market-making building blocks (also used by avellaneda)           */
/* ------------------------------------------------------------------------ */

#define CLB_MM_MAX_LEVELS 20  /* quotes per side in one proposal */
#define CLB_MM_MAX_ORDERS 128 /* own live orders one strategy keeps (hanging included) */

/* One proposed quote. */
struct clb_mm_quote {
    double price;  /* quote per base */
    double amount; /* base */
};

/* Bids best (highest) first, asks best (lowest) first. */
struct clb_mm_proposal {
    struct clb_mm_quote buys[CLB_MM_MAX_LEVELS];
    size_t n_buys;
    struct clb_mm_quote sells[CLB_MM_MAX_LEVELS];
    size_t n_sells;
};

/* What the pure functions know of the market. */
struct clb_mm_market {
    double tick_size;    /* price quantum, 0 = none */
    double step_size;    /* amount quantum, 0 = none */
    double min_qty;      /* base, 0 = none */
    double min_notional; /* quote, 0 = none */
    double best_bid;     /* NAN when the bid side is empty */
    double best_ask;     /* NAN when the ask side is empty */
    double maker_fee;    /* fraction, 0.001 = 0.1 % */
};

/* One of the strategy's own live orders. */
struct clb_mm_order {
    char client_id[CLB_CLIENT_ID_MAX];
    enum clb_side side;
    double price;      /* quote per base */
    double amount;     /* base, as placed */
    double executed;   /* base filled so far */
    int64_t created_ns;
    uint64_t batch;    /* proposal that created it (1, 2, ...) */
    int level;         /* its index on its side of that proposal */
    bool hanging;      /* kept across refreshes (hanging orders) */
    bool cancel_requested;
};

/* Why the planner cancels an order. */
enum clb_mm_cancel_reason {
    CLB_MM_KEEP = 0,
    CLB_MM_CANCEL_AGE,        /* older than max_order_age */
    CLB_MM_CANCEL_REFRESH,    /* refresh time passed, price out of tolerance */
    CLB_MM_CANCEL_MIN_SPREAD, /* closer to the reference than minimum_spread */
    CLB_MM_CANCEL_HANGING,    /* hanging order drifted beyond hanging_orders_cancel_pct */
    CLB_MM_CANCEL_WINDOW      /* outside the execution timeframe (avellaneda) */
};

/* Hummingbot's two timers: no create before create_ns, no refresh cancel
 * before cancel_ns. Both 0 at start (quote at once). */
struct clb_mm_timers {
    int64_t create_ns;
    int64_t cancel_ns;
};

/* Seconds (finite, >= 0) to nanoseconds, saturating at INT64_MAX. */
int64_t clb_mm_seconds_to_ns(double s);

/* Rounds v to a multiple of step (> 0; step <= 0 returns v): down, or up
 * when `up`. A relative slack of 1e-9 step absorbs binary representation
 * error (0.29 / 0.01 is 28.999999999999996 and still quantizes to 0.29). */
double clb_mm_quantize(double v, double step, bool up);

/* Empties a proposal. */
void clb_mm_proposal_clear(struct clb_mm_proposal *p);

/* Hummingbot's budget constraint. Walks buys best first spending
 * quote_balance (each costs amount * price * (1 + fee)); the first buy that
 * does not fit is shrunk to what is left (quantized down to step) and later
 * buys get nothing. Sells likewise spend base_balance. Quotes left with a
 * zero amount are dropped. */
void clb_mm_apply_budget(struct clb_mm_proposal *p, double base_balance, double quote_balance,
                         double fee, double step);

/* Drops buys priced at or above best_ask and sells at or below best_bid
 * (they would take liquidity); a NAN side filters nothing. */
void clb_mm_filter_takers(struct clb_mm_proposal *p, double best_bid, double best_ask);

/* Drops quotes the connector would refuse: amount <= 0, below min_qty, or
 * amount * price below min_notional. */
void clb_mm_drop_below_minimums(struct clb_mm_proposal *p, const struct clb_mm_market *mk);

/* Hummingbot's tolerance test: true when both lists have the same length and,
 * sorted, every proposed price is within tol_frac of the current one
 * (|proposed - current| / current <= tol_frac). At most CLB_MM_MAX_ORDERS
 * prices per list (more: false). */
bool clb_mm_within_tolerance(const double *current, size_t n_current, const double *proposed,
                             size_t n_proposed, double tol_frac);

/* The tolerance test of a proposal against the live non-hanging orders:
 * buys against bids and sells against asks, tol_pct in percent. */
bool clb_mm_orders_within_tolerance(const struct clb_mm_order *orders, size_t n,
                                    const struct clb_mm_proposal *p, double tol_pct);

/* Available balances plus what the given orders lock (buys: remaining *
 * price in quote; sells: remaining in base). include_hanging selects
 * whether hanging orders count. Hummingbot's "adjusted available balance". */
void clb_mm_adjusted_balances(const struct clb_mm_order *orders, size_t n, bool include_hanging,
                              double base_available, double quote_available, double *base,
                              double *quote);

/* Hummingbot's set_timers after orders were created at now_ns. */
void clb_mm_set_timers(struct clb_mm_timers *t, int64_t now_ns, int64_t refresh_ns);

/* A completely filled order at now_ns: no create before now + delay, and the
 * cancel timer no later than that. */
void clb_mm_fill_delay(struct clb_mm_timers *t, int64_t now_ns, int64_t delay_ns);

/* ---- the glue shared by the market-making strategies ---- */

/* A strategy's own live orders. */
struct clb_mm_book {
    struct clb_mm_order o[CLB_MM_MAX_ORDERS];
    size_t n;
    uint64_t batch; /* last proposal number used */
    /* counters (metrics) */
    uint64_t placed, place_errors, cancels, fills, completed;
    double last_own_trade_price; /* NAN until a fill */
};

void clb_mm_book_init(struct clb_mm_book *b);

/* Index of the order with this client id, or -1. */
int clb_mm_book_find(const struct clb_mm_book *b, const char *client_id);

/* Removes the order at index i (order of the rest preserved). */
void clb_mm_book_remove(struct clb_mm_book *b, size_t i);

/* What an order event meant for one of our orders. */
enum clb_mm_order_news {
    CLB_MM_NEWS_NONE = 0, /* not ours, or nothing to do */
    CLB_MM_NEWS_FILL,     /* a partial or last fill: executed updated */
    CLB_MM_NEWS_COMPLETED,/* fully filled: removed; *done holds the order */
    CLB_MM_NEWS_GONE      /* cancelled or failed: removed; *done holds it */
};

/* Applies an order event to the book. */
enum clb_mm_order_news clb_mm_book_on_event(struct clb_mm_book *b, const struct clb_event *ev,
                                            struct clb_mm_order *done);

/* Reconciles with the connector's order tracker (if it has one): orders it
 * no longer tracks or that are finished leave the book; executed amounts
 * and pending cancels are refreshed. Orders found FILLED are reported
 * through on_completed (the event may have been missed). */
void clb_mm_book_reconcile(struct clb_mm_book *b, struct clb_connector *conn,
                           void (*on_completed)(void *ud, const struct clb_mm_order *o),
                           void *ud);

/* Everything the planners read from the connector for one market. Returns
 * CLB_ENOTREADY when the market has no rules or book, else CLB_OK. */
struct clb_mm_snapshot {
    struct clb_mm_market mk;
    const struct clb_market_rules *rules;
    double mid;             /* NAN unless both sides exist */
    double base_total, quote_total;
    double base_available, quote_available;
};
int clb_mm_snapshot_read(struct clb_connector *conn, const char *market,
                         struct clb_mm_snapshot *out);

/* A scaled integer (price or quantity at `scale`) as a double. */
double clb_mm_scaled_to_double(int64_t v, int scale);

/* Places every quote of a proposal (buys, then sells) as one batch and
 * records the placed orders in the book. Quotes the connector refuses are
 * counted in place_errors. Returns the number placed. */
size_t clb_mm_place_proposal(struct clb_mm_book *b, struct clb_strategy *s,
                             const struct clb_mm_proposal *p, enum clb_order_type type,
                             int64_t now_ns);

/* Requests the cancel of order i (once: no-op if already requested). An
 * order the connector does not know leaves the book. */
void clb_mm_cancel(struct clb_mm_book *b, struct clb_strategy *s, size_t i);

/* Requests the cancel of every order in the book. */
void clb_mm_cancel_all(struct clb_mm_book *b, struct clb_strategy *s);

/* Cancels the orders whose entry in cancel[0..n) is not CLB_MM_KEEP (a plan's
 * cancel list, indexed like b->o at planning time). */
void clb_mm_apply_cancels(struct clb_mm_book *b, struct clb_strategy *s, const uint8_t *cancel,
                          size_t n);

/* ------------------------------------------------------------------------ */
/* Pure market making                                                        */
/* ------------------------------------------------------------------------ */

enum clb_pmm_price_type {
    CLB_PMM_PRICE_MID = 0,
    CLB_PMM_PRICE_LAST,      /* last market trade (mid until one is seen) */
    CLB_PMM_PRICE_BEST_BID,
    CLB_PMM_PRICE_BEST_ASK,
    CLB_PMM_PRICE_LAST_OWN   /* last own fill (mid until one) */
};

struct clb_pmm_config {
    double bid_spread;                  /* %  distance of the first bid below ref */
    double ask_spread;                  /* %  distance of the first ask above ref */
    double minimum_spread;              /* %  cancel orders closer than this; -100 = off */
    double order_amount;                /* base, first level */
    long long order_levels;             /* quotes per side, 1..CLB_MM_MAX_LEVELS */
    double order_level_spread;          /* %  added per further level */
    double order_level_amount;          /* base added per further level (may be < 0) */
    double order_refresh_time;          /* s */
    double order_refresh_tolerance_pct; /* %  keep orders within it; < 0 = always refresh */
    double max_order_age;               /* s  renew older orders; 0 = off */
    double filled_order_delay;          /* s  pause after a complete fill */
    bool inventory_skew_enabled;
    double inventory_target_base_pct;   /* %  of portfolio value held in base */
    double inventory_range_multiplier;  /* x  total order size: the tolerated range */
    double price_ceiling;               /* quote; ref >= ceiling: no buys; -1 = off */
    double price_floor;                 /* quote; ref <= floor: no sells; -1 = off */
    bool ping_pong_enabled;
    bool hanging_orders_enabled;
    double hanging_orders_cancel_pct;   /* %  cancel hanging orders drifted further */
    bool take_if_crossed;               /* keep quotes that cross the book (LIMIT orders) */
    int price_type;                     /* enum clb_pmm_price_type */
};

extern const struct clb_param_spec clb_pmm_params[];
extern const size_t clb_pmm_n_params;

/* Every default (a config that runs as is). */
void clb_pmm_config_defaults(struct clb_pmm_config *cfg);

/* Checks one config: every value in its declared range, finite, plus the
 * rules across parameters (order_amount > 0, ceiling/floor -1 or > 0,
 * ceiling >= floor). CLB_OK or CLB_EINVAL with a reason naming the key. */
int clb_pmm_config_check(const struct clb_pmm_config *cfg, char *err, size_t errlen);

/* 2 * (levels * order_amount + levels * (levels - 1) / 2 * order_level_amount):
 * Hummingbot's total order size, the unit of inventory_range_multiplier. */
double clb_pmm_total_order_size(const struct clb_pmm_config *cfg);

/* Step 1a: the base proposal around ref (quantized; non-positive amounts or
 * prices skipped). */
void clb_pmm_base_proposal(const struct clb_pmm_config *cfg, double ref,
                           const struct clb_mm_market *mk, struct clb_mm_proposal *p);

/* Price band: ref >= price_ceiling (> 0) drops the buys, ref <= price_floor
 * (> 0) drops the sells. */
void clb_pmm_apply_price_band(const struct clb_pmm_config *cfg, double ref,
                              struct clb_mm_proposal *p);

/* Ping-pong: equal counters reset to zero; then the first filled_buys
 * buys and the first filled_sells sells are dropped. */
void clb_pmm_apply_ping_pong(int *filled_buys, int *filled_sells, struct clb_mm_proposal *p);

/* Hummingbot's inventory skew ratios (bid, ask in [0, 2], summing to 2):
 * base value below target interpolates the bid ratio from 2 (at target -
 * range, floored at 0) to 1 (at target); above target from 1 down to 0 (at
 * target + range). range is in base (valued at price). A non-positive
 * portfolio or range gives (0, 0). */
void clb_pmm_inventory_ratios(double base, double quote, double price, double target_ratio,
                              double base_range, double *bid_ratio, double *ask_ratio);

/* Multiplies buy amounts by the bid ratio and sells by the ask ratio
 * (quantized down to step). base/quote are the adjusted balances. */
void clb_pmm_apply_inventory_skew(const struct clb_pmm_config *cfg, double base, double quote,
                                  double price, double step, struct clb_mm_proposal *p);

/* The strategy state the planner reads and updates. */
struct clb_pmm_state {
    struct clb_mm_timers timers;
    int filled_buys_balance;  /* ping-pong counters */
    int filled_sells_balance;
};

struct clb_pmm_inputs {
    int64_t now_ns;
    double ref_price;                 /* NAN: no price, no proposal */
    struct clb_mm_market mk;
    double base_available, quote_available;
    const struct clb_mm_order *orders; /* live own orders */
    size_t n_orders;                   /* <= CLB_MM_MAX_ORDERS */
};

struct clb_pmm_plan {
    bool has_proposal;
    struct clb_mm_proposal proposal;
    uint8_t cancel[CLB_MM_MAX_ORDERS]; /* enum clb_mm_cancel_reason per input order */
    size_t n_cancel;
    bool create;                       /* place the proposal now */
};

/* One tick's decisions (steps 1-6 above). Updates st's ping-pong counters;
 * the caller applies clb_mm_set_timers once it has placed orders. Orders
 * whose cancel was already requested are never cancelled again but still
 * count as in flight. */
void clb_pmm_plan(const struct clb_pmm_config *cfg, struct clb_pmm_state *st,
                  const struct clb_pmm_inputs *in, struct clb_pmm_plan *out);

/* The strategy instance. */
struct clb_pmm {
    struct clb_strategy base; /* first member */
    struct clb_pmm_config cfg;
    struct clb_pmm_state st;
    struct clb_mm_book book;
    double last_trade_price; /* NAN until a market trade is seen */
    double last_ref_price;
    int64_t now_ns;          /* latest clock time seen */
    uint64_t ticks_not_ready;
};

/* The strategy type ("pure_market_making"); config is struct clb_pmm_config.
 * Orders are LIMIT_MAKER (LIMIT with take_if_crossed). */
extern const struct clb_strategy_ops clb_pure_market_making_ops;

#endif
