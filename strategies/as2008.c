/*
 * as2008.c — Avellaneda & Stoikov (2008), section 3.3, simulated (as2008.h).
 *
 * One pass per path: per step, both strategies post their quotes, the mid
 * moves, then one pair of fill uniforms decides the fills of both. Statistics are
 * accumulated with Welford's update so any number of paths runs in O(1)
 * memory.
 */
#include "as2008.h"

#include <math.h>
#include <string.h>

#include "error.h"
#include "rng.h"

void clb_as2008_params_defaults(struct clb_as2008_params *p, double gamma)
{
    p->s0 = 100.0;
    p->T = 1.0;
    p->sigma = 2.0;
    p->dt = 0.005;
    p->gamma = gamma;
    p->k = 1.5;
    p->A = 140.0;
    p->q0 = 0.0;
    p->spread_model = CLB_AS2008_SPREAD_FULL;
}

double clb_as2008_asymptotic_spread(double gamma, double k)
{
    return 2.0 / gamma * log1p(gamma / k);
}

struct agent {
    double cash, q;
};

/* Welford accumulator. */
struct acc {
    double n, mean, m2;
};

static void acc_add(struct acc *a, double x)
{
    a->n += 1.0;
    double d = x - a->mean;
    a->mean += d / a->n;
    a->m2 += d * (x - a->mean);
}

static double acc_std(const struct acc *a)
{
    return a->n > 1.0 ? sqrt(a->m2 / (a->n - 1.0)) : 0.0;
}

/* The fills of one agent's bid/ask, the mid being at s. */
static void trade(struct agent *ag, double s, double bid, double ask,
                  const struct clb_as2008_params *p, double u_bid, double u_ask)
{
    double pb = p->A * exp(-p->k * (s - bid)) * p->dt;
    double pa = p->A * exp(-p->k * (ask - s)) * p->dt;
    if (u_bid < pb) {
        ag->q += 1.0;
        ag->cash -= bid;
    }
    if (u_ask < pa) {
        ag->q -= 1.0;
        ag->cash += ask;
    }
}

int clb_as2008_run_params(const struct clb_as2008_params *p, size_t paths, uint64_t seed,
                          struct clb_as2008_result *out)
{
    if (!p || !out || paths < 2)
        return CLB_EINVAL;
    if (!isfinite(p->s0) || !isfinite(p->T) || !isfinite(p->sigma) || !isfinite(p->dt) ||
        !isfinite(p->gamma) || !isfinite(p->k) || !isfinite(p->A) || !isfinite(p->q0) ||
        p->T < 0.0 || p->sigma < 0.0 || !(p->dt > 0.0) || !(p->gamma > 0.0) || !(p->k > 0.0) ||
        !(p->A > 0.0) || p->A * p->dt > 1.0 || p->T / p->dt > 1e7 ||
        (p->spread_model != CLB_AS2008_SPREAD_FULL &&
         p->spread_model != CLB_AS2008_SPREAD_ASYMPTOTIC))
        return CLB_EINVAL;

    long steps = lround(p->T / p->dt);
    double move = p->sigma * sqrt(p->dt);
    double g = p->gamma, s2 = p->sigma * p->sigma;
    double tail = clb_as2008_asymptotic_spread(g, p->k);
    struct clb_rng rng;
    clb_rng_seed(&rng, seed);
    struct acc inv_pnl = { 0 }, inv_q = { 0 }, sym_pnl = { 0 }, sym_q = { 0 };
    double spread_sum = 0.0, spread_n = 0.0;

    for (size_t path = 0; path < paths; path++) {
        double s = p->s0;
        struct agent inv = { 0.0, p->q0 }, sym = { 0.0, p->q0 };
        for (long i = 0; i < steps; i++) {
            double tau = p->T - (double)i * p->dt;
            double delta = tail;
            if (p->spread_model == CLB_AS2008_SPREAD_FULL)
                delta += g * s2 * tau;
            spread_sum += delta;
            spread_n += 1.0;
            double r = s - inv.q * g * s2 * tau;
            double u_bid = clb_rng_uniform(&rng);
            double u_ask = clb_rng_uniform(&rng);
            double u_mid = clb_rng_uniform(&rng);
            double inv_bid = r - delta / 2.0, inv_ask = r + delta / 2.0;
            double sym_bid = s - delta / 2.0, sym_ask = s + delta / 2.0;
            s += u_mid < 0.5 ? move : -move;
            trade(&inv, s, inv_bid, inv_ask, p, u_bid, u_ask);
            trade(&sym, s, sym_bid, sym_ask, p, u_bid, u_ask);
        }
        acc_add(&inv_pnl, inv.cash + inv.q * s);
        acc_add(&inv_q, inv.q);
        acc_add(&sym_pnl, sym.cash + sym.q * s);
        acc_add(&sym_q, sym.q);
    }

    memset(out, 0, sizeof(*out));
    out->paths = paths;
    double spread = spread_n > 0.0 ? spread_sum / spread_n : tail;
    out->inventory = (struct clb_as2008_stats){ spread, inv_pnl.mean, acc_std(&inv_pnl),
                                                inv_q.mean, acc_std(&inv_q) };
    out->symmetric = (struct clb_as2008_stats){ spread, sym_pnl.mean, acc_std(&sym_pnl),
                                                sym_q.mean, acc_std(&sym_q) };
    return CLB_OK;
}

int clb_as2008_run(double gamma, size_t paths, uint64_t seed, struct clb_as2008_result *out)
{
    struct clb_as2008_params p;
    clb_as2008_params_defaults(&p, gamma);
    return clb_as2008_run_params(&p, paths, seed, out);
}
