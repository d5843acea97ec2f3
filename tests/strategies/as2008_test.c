/* Tests for strategies/as2008.c against the table of Avellaneda & Stoikov
 * (2008), section 3.3, for gamma = 0.1:
 *
 *                 spread  profit  std(profit)  final q  std(q)
 *   inventory      1.29   62.94      5.89       0.10     2.80
 *   symmetric      1.29   67.21     13.43      -0.018    8.66
 *
 * With 1000 paths the standard error of a mean profit is about std/31
 * (0.2 and 0.45) and a standard deviation is known to about 2.2 %; the
 * tolerances below allow for that plus the paper's own sampling error
 * (it reports 1000 paths too). */
#include <criterion/criterion.h>

#include <math.h>
#include <string.h>

#include "as2008.h"
#include "error.h"

#define PATHS 1000
#define SEED 20080101

static void check_table_gamma_01(const struct clb_as2008_result *r)
{
    cr_assert_eq(r->paths, PATHS);
    cr_assert_float_eq(r->inventory.profit_mean, 62.94, 1.5, "inventory profit %f",
                       r->inventory.profit_mean);
    cr_assert_float_eq(r->inventory.profit_std, 5.89, 0.8, "inventory std %f",
                       r->inventory.profit_std);
    cr_assert_float_eq(r->inventory.q_std, 2.80, 0.4, "inventory q std %f", r->inventory.q_std);
    cr_assert_float_eq(r->inventory.q_mean, 0.0, 0.4, "inventory q mean %f",
                       r->inventory.q_mean);
    cr_assert_float_eq(r->symmetric.profit_mean, 67.21, 1.5, "symmetric profit %f",
                       r->symmetric.profit_mean);
    cr_assert_float_eq(r->symmetric.profit_std, 13.43, 1.2, "symmetric std %f",
                       r->symmetric.profit_std);
    cr_assert_float_eq(r->symmetric.q_std, 8.66, 0.8, "symmetric q std %f", r->symmetric.q_std);
    cr_assert_float_eq(r->symmetric.q_mean, 0.0, 1.0, "symmetric q mean %f",
                       r->symmetric.q_mean);
    /* the paper's qualitative result: less profit, far less risk */
    cr_assert_lt(r->inventory.profit_std, r->symmetric.profit_std / 1.8);
    cr_assert_lt(r->inventory.q_std, r->symmetric.q_std / 2.0);
    cr_assert_lt(r->inventory.profit_mean, r->symmetric.profit_mean);
}

Test(as2008, spread_column)
{
    /* (2 / 0.1) ln(1 + 0.1 / 1.5) = 20 ln(16 / 15) */
    cr_assert_float_eq(clb_as2008_asymptotic_spread(0.1, 1.5), 20.0 * log(16.0 / 15.0), 1e-12);
    cr_assert_float_eq(clb_as2008_asymptotic_spread(0.1, 1.5), 1.29, 0.005);
    cr_assert_float_eq(clb_as2008_asymptotic_spread(0.01, 1.5), 1.33, 0.005);
    cr_assert_float_eq(clb_as2008_asymptotic_spread(0.5, 1.5), 1.15, 0.005);
}

Test(as2008, paper_table_gamma_0_1)
{
    struct clb_as2008_result r;
    cr_assert_eq(clb_as2008_run(0.1, PATHS, SEED, &r), CLB_OK);
    check_table_gamma_01(&r);
    /* the quoted spread averages gamma sigma^2 (T - t) over the 200 steps
     * (mean T - t = 1 - 0.005 * 99.5 = 0.5025) on top of the table's 1.29 */
    double tail = 20.0 * log(16.0 / 15.0);
    cr_assert_float_eq(r.inventory.spread_mean, tail + 0.1 * 4.0 * 0.5025, 1e-9);
    cr_assert_eq(r.symmetric.spread_mean, r.inventory.spread_mean);
}

Test(as2008, asymptotic_spread_model_matches_the_table_too)
{
    struct clb_as2008_params p;
    clb_as2008_params_defaults(&p, 0.1);
    p.spread_model = CLB_AS2008_SPREAD_ASYMPTOTIC;
    struct clb_as2008_result r;
    cr_assert_eq(clb_as2008_run_params(&p, PATHS, SEED, &r), CLB_OK);
    cr_assert_float_eq(r.inventory.spread_mean, 1.29, 0.005);
    check_table_gamma_01(&r);
    /* gamma = 0.5, symmetric: 66.20, std 14.53, q std 9.06 in the paper */
    clb_as2008_params_defaults(&p, 0.5);
    p.spread_model = CLB_AS2008_SPREAD_ASYMPTOTIC;
    cr_assert_eq(clb_as2008_run_params(&p, PATHS, SEED, &r), CLB_OK);
    cr_assert_float_eq(r.symmetric.profit_mean, 66.20, 1.5);
    cr_assert_float_eq(r.symmetric.profit_std, 14.53, 1.3);
    cr_assert_float_eq(r.symmetric.q_std, 9.06, 0.6);
    cr_assert_lt(r.inventory.q_std, r.symmetric.q_std / 3.0);
}

Test(as2008, risk_aversion_orders_the_strategies)
{
    /* higher gamma: tighter inventory, lower profit dispersion */
    struct clb_as2008_result lo, hi;
    cr_assert_eq(clb_as2008_run(0.01, PATHS, SEED, &lo), CLB_OK);
    cr_assert_eq(clb_as2008_run(0.5, PATHS, SEED, &hi), CLB_OK);
    cr_assert_lt(hi.inventory.q_std, lo.inventory.q_std);
    cr_assert_lt(hi.inventory.profit_std, lo.inventory.profit_std);
    /* gamma = 0.01 is nearly symmetric: q std 4.70 in the paper */
    cr_assert_float_eq(lo.inventory.q_std, 4.70, 0.8);
    cr_assert_float_eq(lo.inventory.profit_mean, 66.78, 1.5);
}

Test(as2008, deterministic_and_seed_dependent)
{
    struct clb_as2008_result a, b, c;
    cr_assert_eq(clb_as2008_run(0.1, 200, 7, &a), CLB_OK);
    cr_assert_eq(clb_as2008_run(0.1, 200, 7, &b), CLB_OK);
    cr_assert_eq(memcmp(&a, &b, sizeof(a)), 0);
    cr_assert_eq(clb_as2008_run(0.1, 200, 8, &c), CLB_OK);
    cr_assert_neq(a.inventory.profit_mean, c.inventory.profit_mean);
}

Test(as2008, zero_volatility_and_no_time_are_exact)
{
    /* sigma = 0: the mid never moves, both strategies quote the same prices
     * and get the same fills */
    struct clb_as2008_params p;
    clb_as2008_params_defaults(&p, 0.1);
    p.sigma = 0.0;
    struct clb_as2008_result r;
    cr_assert_eq(clb_as2008_run_params(&p, 100, 1, &r), CLB_OK);
    cr_assert_float_eq(r.inventory.spread_mean, clb_as2008_asymptotic_spread(0.1, 1.5), 1e-12);
    cr_assert_gt(r.inventory.profit_mean, 0.0);
    /* with sigma = 0 the reservation price is the mid: identical agents */
    cr_assert_eq(r.inventory.profit_mean, r.symmetric.profit_mean);
    cr_assert_eq(r.inventory.q_std, r.symmetric.q_std);
    /* T = 0: no step, no trade */
    clb_as2008_params_defaults(&p, 0.1);
    p.T = 0.0;
    cr_assert_eq(clb_as2008_run_params(&p, 10, 1, &r), CLB_OK);
    cr_assert_eq(r.inventory.profit_mean, 0.0);
    cr_assert_eq(r.symmetric.profit_std, 0.0);
}

Test(as2008, rejects_bad_input)
{
    struct clb_as2008_result r;
    cr_assert_eq(clb_as2008_run(0.0, 100, 1, &r), CLB_EINVAL);
    cr_assert_eq(clb_as2008_run(-1.0, 100, 1, &r), CLB_EINVAL);
    cr_assert_eq(clb_as2008_run(NAN, 100, 1, &r), CLB_EINVAL);
    cr_assert_eq(clb_as2008_run(0.1, 1, 1, &r), CLB_EINVAL);
    cr_assert_eq(clb_as2008_run(0.1, 100, 1, NULL), CLB_EINVAL);
    struct clb_as2008_params p;
    clb_as2008_params_defaults(&p, 0.1);
    p.dt = 0.01; /* A * dt = 1.4: not a probability */
    cr_assert_eq(clb_as2008_run_params(&p, 10, 1, &r), CLB_EINVAL);
    clb_as2008_params_defaults(&p, 0.1);
    p.k = 0.0;
    cr_assert_eq(clb_as2008_run_params(&p, 10, 1, &r), CLB_EINVAL);
    clb_as2008_params_defaults(&p, 0.1);
    p.spread_model = 9;
    cr_assert_eq(clb_as2008_run_params(&p, 10, 1, &r), CLB_EINVAL);
    clb_as2008_params_defaults(&p, 0.1);
    p.sigma = INFINITY;
    cr_assert_eq(clb_as2008_run_params(&p, 10, 1, &r), CLB_EINVAL);
}
