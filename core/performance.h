/*
 * performance.h — trading performance figures, Hummingbot's `history`
 * semantics, plus the risk statistics of an equity curve.
 *
 *   hold value    = start base * current price + start quote
 *   current value = current base * current price + current quote
 *   trade PnL     = current value - hold value
 *   total PnL     = trade PnL - fees (in quote)
 *   return %      = total PnL / hold value * 100
 *
 * Balances are taken with fees already deducted (as an exchange reports
 * them), so `fees_quote` is reported separately and total PnL subtracts only
 * fees paid in a third asset (Hummingbot's convention for fees outside the
 * pair); pass fees_outside_quote = 0 when every fee was paid in base/quote.
 * Doubles: these are reports, not money that reaches an exchange.
 */
#ifndef CLB_PERFORMANCE_H
#define CLB_PERFORMANCE_H

#include <stddef.h>

struct clb_perf_input {
    double start_base, start_quote;
    double cur_base, cur_quote;
    double price;              /* current price of base in quote */
    double fees_quote;         /* all fees paid, valued in quote (reported) */
    double fees_outside_quote; /* fees paid in other assets, valued in quote */
};

struct clb_perf {
    double hold_value;
    double current_value;
    double trade_pnl;
    double fees_quote;
    double total_pnl;
    double return_pct;
};

void clb_perf_compute(const struct clb_perf_input *in, struct clb_perf *out);

struct clb_equity_stats {
    double sharpe;           /* mean/std of period returns * sqrt(periods_per_year) */
    double max_drawdown;     /* largest peak-to-trough fall, quote units */
    double max_drawdown_pct; /* the same relative to its peak, percent */
    size_t periods;
};

/* Statistics of an equity curve sampled at a fixed period. Sharpe is 0 when
 * fewer than 3 samples or zero variance. Values <= 0 in the curve are
 * skipped for returns (no division by zero). */
void clb_equity_stats(const double *equity, size_t n, double periods_per_year,
                      struct clb_equity_stats *out);

#endif
