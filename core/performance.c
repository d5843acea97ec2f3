/* performance.c — see performance.h for the definitions used. */
#include "performance.h"

#include <math.h>

void clb_perf_compute(const struct clb_perf_input *in, struct clb_perf *out)
{
    out->hold_value = in->start_base * in->price + in->start_quote;
    out->current_value = in->cur_base * in->price + in->cur_quote;
    out->trade_pnl = out->current_value - out->hold_value;
    out->fees_quote = in->fees_quote;
    out->total_pnl = out->trade_pnl - in->fees_outside_quote;
    out->return_pct = out->hold_value != 0.0 ? out->total_pnl / out->hold_value * 100.0 : 0.0;
}

void clb_equity_stats(const double *equity, size_t n, double periods_per_year,
                      struct clb_equity_stats *out)
{
    out->sharpe = 0.0;
    out->max_drawdown = 0.0;
    out->max_drawdown_pct = 0.0;
    out->periods = n;
    if (n == 0)
        return;
    /* Drawdown: one pass keeping the running peak. */
    double peak = equity[0];
    for (size_t i = 0; i < n; i++) {
        if (equity[i] > peak)
            peak = equity[i];
        double dd = peak - equity[i];
        if (dd > out->max_drawdown) {
            out->max_drawdown = dd;
            out->max_drawdown_pct = peak > 0.0 ? dd / peak * 100.0 : 0.0;
        }
    }
    /* Sharpe: Welford over simple period returns. */
    double mean = 0.0, m2 = 0.0;
    size_t k = 0;
    for (size_t i = 1; i < n; i++) {
        if (equity[i - 1] <= 0.0)
            continue;
        double r = equity[i] / equity[i - 1] - 1.0;
        k++;
        double d = r - mean;
        mean += d / (double)k;
        m2 += d * (r - mean);
    }
    if (k >= 2) {
        double sd = sqrt(m2 / (double)(k - 1));
        if (sd > 0.0)
            out->sharpe = mean / sd * sqrt(periods_per_year);
    }
}
