/* Tests for core/performance.c against hand-computed figures. */
#include <criterion/criterion.h>
#include <math.h>

#include "performance.h"

Test(performance, hummingbot_history_figures)
{
    /* Start 1 BTC + 1000 USDT; now 1.5 BTC + 480 USDT at 1100 USDT/BTC. */
    struct clb_perf_input in = { .start_base = 1.0, .start_quote = 1000.0, .cur_base = 1.5,
                                 .cur_quote = 480.0, .price = 1100.0, .fees_quote = 2.0,
                                 .fees_outside_quote = 0.5 };
    struct clb_perf p;
    clb_perf_compute(&in, &p);
    cr_assert_float_eq(p.hold_value, 2100.0, 1e-9);
    cr_assert_float_eq(p.current_value, 2130.0, 1e-9);
    cr_assert_float_eq(p.trade_pnl, 30.0, 1e-9);
    cr_assert_float_eq(p.total_pnl, 29.5, 1e-9);
    cr_assert_float_eq(p.return_pct, 29.5 / 2100.0 * 100.0, 1e-9);
    cr_assert_float_eq(p.fees_quote, 2.0, 1e-12);
}

Test(performance, zero_hold_value_gives_zero_return)
{
    struct clb_perf_input in = { 0 };
    struct clb_perf p;
    clb_perf_compute(&in, &p);
    cr_assert_eq(p.return_pct, 0.0);
}

Test(performance, drawdown_and_sharpe)
{
    const double eq[] = { 100, 110, 99, 105, 120, 90, 95 };
    struct clb_equity_stats s;
    clb_equity_stats(eq, 7, 1.0, &s);
    cr_assert_float_eq(s.max_drawdown, 30.0, 1e-12);
    cr_assert_float_eq(s.max_drawdown_pct, 25.0, 1e-12);
    /* Reference Sharpe: sample mean / sample std of simple returns. */
    double r[6], mean = 0;
    for (int i = 0; i < 6; i++) {
        r[i] = eq[i + 1] / eq[i] - 1.0;
        mean += r[i] / 6;
    }
    double var = 0;
    for (int i = 0; i < 6; i++)
        var += (r[i] - mean) * (r[i] - mean) / 5;
    cr_assert_float_eq(s.sharpe, mean / sqrt(var), 1e-12);
    const double flat[] = { 5, 5, 5, 5 };
    clb_equity_stats(flat, 4, 365.0, &s);
    cr_assert_eq(s.sharpe, 0.0);
    cr_assert_eq(s.max_drawdown, 0.0);
}
