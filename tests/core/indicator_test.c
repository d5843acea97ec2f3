/*
 * Tests for core/indicator.c: the ring against a naive array, the base's
 * extension pattern (a custom indicator defined here), instant and
 * historical volatility against from-scratch recomputation over long random
 * sequences, EMA hand values, and the trading-intensity fit on synthetic
 * data with known alpha and kappa. Bad input must leave state unchanged.
 */
#include <criterion/criterion.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "error.h"
#include "indicator.h"

/* ---- deterministic PRNG (splitmix64) ---------------------------------- */

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_unit(uint64_t *s) /* [0, 1) */
{
    return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static double rng_sym(uint64_t *s) /* [-1, 1) */
{
    return 2.0 * rng_unit(s) - 1.0;
}

static bool close_rel(double got, double want, double rel, double abs_floor)
{
    double d = fabs(got - want);
    return d <= abs_floor || d <= rel * fabs(want);
}

/* ---- ring -------------------------------------------------------------- */

Test(ring, rejects_bad_capacity)
{
    struct clb_ring r;
    cr_assert_eq(clb_ring_init(&r, 0), CLB_EINVAL);
    cr_assert_null(r.buf);
    cr_assert_eq(clb_ring_init(&r, CLB_RING_MAX_CAPACITY + 1), CLB_EINVAL);
    cr_assert_eq(clb_ring_init(NULL, 4), CLB_EINVAL);
    clb_ring_deinit(&r); /* safe after a failed init */
    clb_ring_deinit(NULL);
}

Test(ring, hand_picked)
{
    struct clb_ring r;
    cr_assert_eq(clb_ring_init(&r, 3), CLB_OK);
    cr_assert(isnan(clb_ring_last(&r)));
    cr_assert(isnan(clb_ring_get(&r, 0)));
    double ev = -1.0;
    cr_assert_not(clb_ring_push(&r, 1.0, &ev));
    cr_assert_not(clb_ring_push(&r, 2.0, &ev));
    cr_assert_not(clb_ring_push(&r, 3.0, &ev));
    cr_assert_eq(ev, -1.0);
    cr_assert(clb_ring_full(&r));
    cr_assert(clb_ring_push(&r, 4.0, &ev));
    cr_assert_eq(ev, 1.0);
    cr_assert_eq(clb_ring_get(&r, 0), 2.0);
    cr_assert_eq(clb_ring_get(&r, 2), 4.0);
    cr_assert(isnan(clb_ring_get(&r, 3)));
    cr_assert_eq(clb_ring_last(&r), 4.0);
    cr_assert(clb_ring_push(&r, 5.0, NULL));
    cr_assert_eq(clb_ring_get(&r, 0), 3.0);
    clb_ring_clear(&r);
    cr_assert_eq(clb_ring_size(&r), 0);
    cr_assert_eq(clb_ring_capacity(&r), 3);
    clb_ring_deinit(&r);
    clb_ring_deinit(&r); /* idempotent */
}

Test(ring, matches_naive_array_on_random_operations)
{
    static double ref[4096];
    uint64_t seed = 42;
    const uint32_t caps[] = { 1, 2, 3, 7, 64, 1000 };
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        uint32_t cap = caps[c];
        struct clb_ring r;
        cr_assert_eq(clb_ring_init(&r, cap), CLB_OK);
        size_t n = 0; /* ref holds the window as a plain array, oldest first */
        for (int op = 0; op < 50000; op++) {
            uint64_t k = rng_next(&seed) % 100;
            if (k < 80) {
                double x = rng_sym(&seed) * 1e3;
                double ev = NAN;
                bool did = clb_ring_push(&r, x, &ev);
                if (n == cap) {
                    cr_assert(did);
                    cr_assert_eq(ev, ref[0]);
                    memmove(ref, ref + 1, (n - 1) * sizeof *ref);
                    ref[n - 1] = x;
                } else {
                    cr_assert_not(did);
                    ref[n++] = x;
                }
            } else if (k < 81) {
                clb_ring_clear(&r);
                n = 0;
            } else {
                cr_assert_eq(clb_ring_size(&r), n);
                cr_assert_eq(clb_ring_full(&r), n == cap);
                if (n) {
                    uint32_t i = (uint32_t)(rng_next(&seed) % n);
                    cr_assert_eq(clb_ring_get(&r, i), ref[i]);
                    cr_assert_eq(clb_ring_last(&r), ref[n - 1]);
                }
                cr_assert(isnan(clb_ring_get(&r, (uint32_t)n)));
            }
        }
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(clb_ring_get(&r, (uint32_t)i), ref[i]);
        clb_ring_deinit(&r);
    }
}

/* ---- base and extension pattern ---------------------------------------- */

/* A custom indicator, the way a strategy author would write one: the range
 * (max - min) of the sampling buffer, rejecting negative samples, with
 * value = the largest range in the processing buffer. */
struct range_ind {
    struct clb_indicator base; /* first member */
    int clears;
    int deinits;
    int calls_with_eviction;
};

static int range_validate(const struct clb_indicator *ind, double x)
{
    (void)ind;
    return x < 0.0 ? CLB_ERANGE : CLB_OK;
}

static double range_calculate(struct clb_indicator *ind, double x, const double *evicted)
{
    struct range_ind *r = (struct range_ind *)ind;
    cr_assert_eq(clb_ring_last(&ind->sampling), x);
    if (evicted)
        r->calls_with_eviction++;
    double lo = INFINITY, hi = -INFINITY;
    for (uint32_t i = 0; i < clb_ring_size(&ind->sampling); i++) {
        double v = clb_ring_get(&ind->sampling, i);
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    return hi - lo;
}

static double range_process(const struct clb_indicator *ind)
{
    double m = -INFINITY;
    for (uint32_t i = 0; i < clb_ring_size(&ind->processing); i++) {
        double v = clb_ring_get(&ind->processing, i);
        m = v > m ? v : m;
    }
    return m;
}

static void range_clear(struct clb_indicator *ind)
{
    ((struct range_ind *)ind)->clears++;
}

static void range_deinit(struct clb_indicator *ind)
{
    ((struct range_ind *)ind)->deinits++;
}

static const struct clb_indicator_ops range_ops = {
    .name = "range",
    .validate = range_validate,
    .calculate = range_calculate,
    .process = range_process,
    .clear = range_clear,
    .deinit = range_deinit,
};

static int range_init(struct range_ind *r, uint32_t sampling, uint32_t processing)
{
    memset(r, 0, sizeof *r);
    return clb_indicator_init(&r->base, &range_ops, sampling, processing);
}

Test(indicator, init_rejects_bad_arguments)
{
    struct clb_indicator ind;
    struct clb_indicator_ops no_calc = { .name = "x" };
    cr_assert_eq(clb_indicator_init(&ind, NULL, 3, 3), CLB_EINVAL);
    cr_assert_eq(clb_indicator_init(&ind, &no_calc, 3, 3), CLB_EINVAL);
    cr_assert_eq(clb_indicator_init(&ind, &range_ops, 0, 3), CLB_EINVAL);
    cr_assert_eq(clb_indicator_init(&ind, &range_ops, 3, 0), CLB_EINVAL);
    cr_assert_null(ind.sampling.buf);
    cr_assert_eq(clb_indicator_init(&ind, &range_ops, 3, CLB_RING_MAX_CAPACITY + 1), CLB_EINVAL);
    cr_assert_null(ind.sampling.buf); /* the first ring was released */
    clb_indicator_deinit(&ind);
    cr_assert_eq(clb_indicator_add_sample(&ind, 1.0), CLB_EINVAL); /* zeroed: no crash */
    struct clb_instant_vol iv;
    cr_assert_eq(clb_instant_vol_init(&iv, 1, 3), CLB_EINVAL);
    struct clb_hist_vol hv;
    cr_assert_eq(clb_hist_vol_init(&hv, 1, 3), CLB_EINVAL);
    cr_assert_eq(clb_hist_vol_init(&hv, 4, 0), CLB_EINVAL);
    clb_indicator_deinit(&hv.base);
}

Test(indicator, custom_indicator_extends_the_base)
{
    struct range_ind r;
    cr_assert_eq(range_init(&r, 4, 3), CLB_OK);
    const double xs[] = { 5, 1, 3, 9, 8, 8, 8, 8 };
    /* ranges over windows of 4, and value = max of the last 3 ranges */
    const double want_calc[] = { 0, 4, 4, 8, 8, 6, 1, 0 };
    const double want_val[] = { 0, 4, 4, 8, 8, 8, 8, 6 };
    for (size_t i = 0; i < 8; i++) {
        cr_assert_eq(clb_indicator_add_sample(&r.base, xs[i]), CLB_OK);
        cr_assert_eq(clb_indicator_last_calculated(&r.base), want_calc[i], "i=%zu", i);
        cr_assert_eq(clb_indicator_value(&r.base), want_val[i], "i=%zu", i);
        cr_assert_eq(clb_indicator_ready(&r.base), i >= 3);
        cr_assert_eq(clb_indicator_processing_full(&r.base), i >= 2);
    }
    cr_assert_eq(r.calls_with_eviction, 4);
    cr_assert_eq(r.base.samples, 8);
    /* The derived validate's code comes back and nothing changes. */
    struct range_ind before;
    memcpy(&before, &r, sizeof r);
    cr_assert_eq(clb_indicator_add_sample(&r.base, -1.0), CLB_ERANGE);
    cr_assert_eq(clb_indicator_add_sample(&r.base, NAN), CLB_EINVAL);
    cr_assert_eq(clb_indicator_add_sample(&r.base, INFINITY), CLB_EINVAL);
    cr_assert_eq(clb_indicator_add_sample(&r.base, 2e100), CLB_EINVAL);
    cr_assert_eq(memcmp(&before, &r, sizeof r), 0);
    clb_indicator_clear(&r.base);
    cr_assert_eq(r.clears, 1);
    cr_assert_not(clb_indicator_ready(&r.base));
    cr_assert_eq(clb_indicator_value(&r.base), 0.0);
    cr_assert_eq(clb_ring_size(&r.base.sampling), 0);
    cr_assert_eq(clb_indicator_add_sample(&r.base, 7.0), CLB_OK);
    cr_assert_eq(clb_indicator_value(&r.base), 0.0);
    clb_indicator_deinit(&r.base);
    cr_assert_eq(r.deinits, 1);
    clb_indicator_deinit(&r.base); /* ops were forgotten: hook not called twice */
    cr_assert_eq(r.deinits, 1);
}

/* Identity indicator: checks the default process (mean of processing). */
static double ident_calculate(struct clb_indicator *ind, double x, const double *evicted)
{
    (void)ind;
    (void)evicted;
    return x;
}

static const struct clb_indicator_ops ident_ops = { .name = "identity",
                                                    .calculate = ident_calculate };

Test(indicator, default_process_is_mean_of_processing_buffer)
{
    static double hist[100000];
    uint64_t seed = 7;
    const uint32_t lens[] = { 1, 2, 15, 97 };
    for (size_t c = 0; c < sizeof lens / sizeof lens[0]; c++) {
        uint32_t pl = lens[c];
        struct clb_indicator ind;
        cr_assert_eq(clb_indicator_init(&ind, &ident_ops, 5, pl), CLB_OK);
        for (size_t i = 0; i < 100000; i++) {
            /* mixed magnitudes and signs: a stress for the running sum */
            double x = rng_sym(&seed) * (rng_next(&seed) % 50 == 0 ? 1e6 : 1.0) + 3.0;
            hist[i] = x;
            cr_assert_eq(clb_indicator_add_sample(&ind, x), CLB_OK);
            size_t n = i + 1 < pl ? i + 1 : pl;
            double s = 0, big = 0;
            for (size_t j = i + 1 - n; j <= i; j++)
                s += hist[j];
            for (size_t j = i + 1 >= 2 * pl ? i + 1 - 2 * pl : 0; j <= i; j++)
                big = fabs(hist[j]) > big ? fabs(hist[j]) : big;
            double want = s / (double)n;
            double got = clb_indicator_value(&ind);
            /* the contract: a few ulps of the largest value of the last two
             * windows (a running sum's error outlives the value that caused it
             * until the next recompute) */
            cr_assert(fabs(got - want) <= 8 * DBL_EPSILON * big * (1 + log2(n + 1)),
                      "pl=%u i=%zu got %.17g want %.17g", pl, i, got, want);
        }
        clb_indicator_deinit(&ind);
    }
}

/* ---- volatility against naive recomputation ----------------------------- */

static double naive_ivol(const double *w, size_t n)
{
    if (n < 2)
        return 0.0;
    double s = 0;
    for (size_t i = 1; i < n; i++)
        s += (w[i] - w[i - 1]) * (w[i] - w[i - 1]);
    return sqrt(s / (double)(n - 1));
}

static double naive_hvol(const double *w, size_t n)
{
    if (n < 2)
        return 0.0;
    double mean = 0;
    for (size_t i = 1; i < n; i++)
        mean += log(w[i] / w[i - 1]);
    mean /= (double)(n - 1);
    double v = 0;
    for (size_t i = 1; i < n; i++) {
        double d = log(w[i] / w[i - 1]) - mean;
        v += d * d;
    }
    return sqrt(v / (double)(n - 1));
}

/* A random price path with regimes: noisy walk, spikes, flat stretches and
 * a steady trend (where returns have a large mean and a tiny spread). */
static double next_price(uint64_t *seed, double p, size_t i)
{
    size_t phase = (i / 3000) % 4;
    switch (phase) {
    case 0: /* random walk with occasional jumps */
        p *= exp(0.001 * rng_sym(seed) + (rng_next(seed) % 200 == 0 ? 0.2 * rng_sym(seed) : 0));
        break;
    case 1: /* flat with rare ticks */
        if (rng_next(seed) % 100 == 0)
            p += 0.01;
        break;
    case 2: /* trend with tiny noise */
        p *= 1.0005 * (1.0 + 1e-7 * rng_sym(seed));
        break;
    default: /* wild: large relative moves */
        p *= exp(0.05 * rng_sym(seed));
        break;
    }
    return p;
}

static double hist_prices[200000];

static void check_vol(bool hist, uint32_t sl, uint32_t pl, uint64_t seed, size_t steps)
{
    struct clb_instant_vol iv;
    struct clb_hist_vol hv;
    struct clb_indicator *ind;
    if (hist) {
        cr_assert_eq(clb_hist_vol_init(&hv, sl, pl), CLB_OK);
        ind = &hv.base;
    } else {
        cr_assert_eq(clb_instant_vol_init(&iv, sl, pl), CLB_OK);
        ind = &iv.base;
    }
    static double calc[200000];
    double p = 100.0;
    for (size_t i = 0; i < steps; i++) {
        p = next_price(&seed, p, i);
        hist_prices[i] = p;
        cr_assert_eq(clb_indicator_add_sample(ind, p), CLB_OK);
        size_t n = i + 1 < sl ? i + 1 : sl;
        const double *w = hist_prices + i + 1 - n;
        double want = hist ? naive_hvol(w, n) : naive_ivol(w, n);
        calc[i] = want;
        double got = clb_indicator_last_calculated(ind);
        cr_assert(close_rel(got, want, 1e-9, 1e-300), "%s sl=%u i=%zu got %.17g want %.17g",
                  hist ? "hvol" : "ivol", sl, i, got, want);
        cr_assert_eq(clb_indicator_ready(ind), i + 1 >= sl);
        if (i % 97 == 0 || i + 1 == steps) {
            /* the mean's contract: a few ulps of the largest value in the
             * last two processing windows */
            size_t m = i + 1 < pl ? i + 1 : pl;
            double s = 0, big = 0;
            for (size_t j = i + 1 - m; j <= i; j++)
                s += calc[j];
            for (size_t j = i + 1 >= 2 * pl ? i + 1 - 2 * pl : 0; j <= i; j++)
                big = calc[j] > big ? calc[j] : big;
            cr_assert(close_rel(clb_indicator_value(ind), s / (double)m, 1e-9,
                                8 * DBL_EPSILON * big * (1 + log2(m + 1))),
                      "value i=%zu", i);
        }
    }
    clb_indicator_deinit(ind);
}

Test(instant_vol, matches_naive_over_long_random_sequences)
{
    check_vol(false, 2, 1, 1, 50000);
    check_vol(false, 3, 15, 2, 50000);
    check_vol(false, 64, 15, 3, 200000); /* ~3000 wrap-arounds */
    check_vol(false, 200, 15, 4, 60000);
    check_vol(false, 1000, 3, 5, 30000);
}

Test(hist_vol, matches_naive_over_long_random_sequences)
{
    check_vol(true, 2, 1, 11, 50000);
    check_vol(true, 3, 15, 12, 50000);
    check_vol(true, 64, 15, 13, 200000);
    check_vol(true, 200, 15, 14, 60000);
    check_vol(true, 1000, 3, 15, 30000);
}

Test(instant_vol, hand_values_ready_and_clear)
{
    struct clb_instant_vol v;
    cr_assert_eq(clb_instant_vol_init(&v, 3, 2), CLB_OK);
    cr_assert_eq(clb_indicator_add_sample(&v.base, 10.0), CLB_OK);
    cr_assert_eq(clb_indicator_last_calculated(&v.base), 0.0);
    cr_assert_eq(clb_indicator_add_sample(&v.base, 13.0), CLB_OK); /* diffs {3} */
    cr_assert_float_eq(clb_indicator_last_calculated(&v.base), 3.0, 1e-15);
    cr_assert_float_eq(clb_indicator_value(&v.base), 1.5, 1e-15); /* mean(0, 3) */
    cr_assert_not(clb_indicator_ready(&v.base));
    cr_assert_eq(clb_indicator_add_sample(&v.base, 9.0), CLB_OK); /* {3,-4}: sqrt(25/2) */
    cr_assert_float_eq(clb_indicator_last_calculated(&v.base), sqrt(12.5), 1e-15);
    cr_assert(clb_indicator_ready(&v.base));
    cr_assert_eq(clb_indicator_add_sample(&v.base, 9.0), CLB_OK); /* {-4,0}: sqrt(8) */
    cr_assert_float_eq(clb_indicator_last_calculated(&v.base), sqrt(8.0), 1e-15);
    cr_assert_float_eq(clb_indicator_value(&v.base), (sqrt(12.5) + sqrt(8.0)) / 2, 1e-15);
    cr_assert_eq(clb_indicator_add_sample(&v.base, 9.0), CLB_OK); /* {0,0} */
    cr_assert_eq(clb_indicator_last_calculated(&v.base), 0.0);

    struct clb_instant_vol before;
    memcpy(&before, &v, sizeof v);
    cr_assert_eq(clb_indicator_add_sample(&v.base, NAN), CLB_EINVAL);
    cr_assert_eq(clb_indicator_add_sample(&v.base, -INFINITY), CLB_EINVAL);
    cr_assert_eq(memcmp(&before, &v, sizeof v), 0);
    double win[3] = { clb_ring_get(&v.base.sampling, 0), clb_ring_get(&v.base.sampling, 1),
                      clb_ring_get(&v.base.sampling, 2) };
    cr_assert_eq(win[0], 9.0);

    clb_indicator_clear(&v.base);
    cr_assert_not(clb_indicator_ready(&v.base));
    cr_assert_eq(clb_indicator_add_sample(&v.base, 1.0), CLB_OK);
    cr_assert_eq(clb_indicator_add_sample(&v.base, 2.0), CLB_OK);
    cr_assert_float_eq(clb_indicator_last_calculated(&v.base), 1.0, 1e-15);
    clb_indicator_deinit(&v.base);
}

Test(hist_vol, rejects_bad_prices_with_state_unchanged)
{
    struct clb_hist_vol h;
    cr_assert_eq(clb_hist_vol_init(&h, 4, 2), CLB_OK);
    cr_assert_eq(clb_indicator_add_sample(&h.base, 0.0), CLB_EINVAL);
    cr_assert_eq(clb_indicator_add_sample(&h.base, -5.0), CLB_EINVAL);
    cr_assert_eq(h.base.samples, 0);
    const double ps[] = { 100, 110, 99, 99 };
    for (size_t i = 0; i < 4; i++)
        cr_assert_eq(clb_indicator_add_sample(&h.base, ps[i]), CLB_OK);
    double r1 = log(1.1), r2 = log(99.0 / 110.0), r3 = 0.0;
    double mu = (r1 + r2 + r3) / 3;
    double want = sqrt(((r1 - mu) * (r1 - mu) + (r2 - mu) * (r2 - mu) + (r3 - mu) * (r3 - mu)) / 3);
    cr_assert_float_eq(clb_indicator_last_calculated(&h.base), want, 1e-15);
    cr_assert(clb_indicator_ready(&h.base));

    struct clb_hist_vol before;
    memcpy(&before, &h, sizeof h);
    double rets[3];
    for (uint32_t i = 0; i < 3; i++)
        rets[i] = clb_ring_get(&h.returns_, i);
    double bad[] = { 0.0, -1.0, -0.0, NAN, INFINITY, -INFINITY, 1e101, 5e-324 /* ratio 0 */ };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(clb_indicator_add_sample(&h.base, bad[i]), CLB_EINVAL, "bad[%zu]", i);
    cr_assert_eq(memcmp(&before, &h, sizeof h), 0);
    for (uint32_t i = 0; i < 3; i++)
        cr_assert_eq(clb_ring_get(&h.returns_, i), rets[i]);
    for (uint32_t i = 0; i < 4; i++)
        cr_assert_eq(clb_ring_get(&h.base.sampling, i), ps[i]);
    clb_indicator_clear(&h.base);
    cr_assert_eq(clb_ring_size(&h.returns_), 0);
    cr_assert_eq(clb_indicator_add_sample(&h.base, 5e-324), CLB_OK); /* no previous: fine */
    cr_assert_eq(clb_indicator_add_sample(&h.base, 1e100), CLB_EINVAL); /* ratio overflows */
    clb_indicator_deinit(&h.base);
    clb_indicator_deinit(&h.base);
}

/* ---- EMA --------------------------------------------------------------- */

Test(ema, hand_values)
{
    struct clb_ema e;
    cr_assert_eq(clb_ema_init(&e, 3), CLB_OK); /* alpha = 0.5 */
    cr_assert_float_eq(e.alpha, 0.5, 0);
    cr_assert_eq(clb_ema_add(&e, 1.0), CLB_OK);
    cr_assert_eq(clb_ema_value(&e), 1.0); /* seeded */
    cr_assert_not(e.ready);
    cr_assert_eq(clb_ema_add(&e, 2.0), CLB_OK);
    cr_assert_eq(clb_ema_value(&e), 1.5);
    cr_assert_eq(clb_ema_add(&e, 3.0), CLB_OK);
    cr_assert_eq(clb_ema_value(&e), 2.25);
    cr_assert(e.ready);
    cr_assert_eq(clb_ema_add(&e, 5.0), CLB_OK);
    cr_assert_eq(clb_ema_value(&e), 3.625);

    cr_assert_eq(clb_ema_init(&e, 9), CLB_OK); /* alpha = 0.2 */
    const double xs[] = { 10, 20, 30, 40 };
    double want[] = { 10, 12, 15.6, 20.48 };
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(clb_ema_add(&e, xs[i]), CLB_OK);
        cr_assert_float_eq(clb_ema_value(&e), want[i], 1e-12);
    }
    clb_ema_clear(&e);
    cr_assert_eq(e.count, 0);
    cr_assert_eq(clb_ema_add(&e, 7.0), CLB_OK);
    cr_assert_eq(clb_ema_value(&e), 7.0);

    cr_assert_eq(clb_ema_init_alpha(&e, 0.25), CLB_OK);
    cr_assert_eq(clb_ema_add(&e, 4.0), CLB_OK);
    cr_assert(e.ready);
    cr_assert_eq(clb_ema_add(&e, 8.0), CLB_OK);
    cr_assert_eq(clb_ema_value(&e), 5.0);
    cr_assert_eq(clb_ema_init(&e, 1), CLB_OK); /* alpha 1: follows the input */
    cr_assert_eq(clb_ema_add(&e, 4.0), CLB_OK);
    cr_assert_eq(clb_ema_add(&e, 8.0), CLB_OK);
    cr_assert_eq(clb_ema_value(&e), 8.0);
}

Test(ema, rejects_bad_input)
{
    struct clb_ema e;
    cr_assert_eq(clb_ema_init(&e, 0), CLB_EINVAL);
    cr_assert_eq(clb_ema_init_alpha(&e, 0.0), CLB_EINVAL);
    cr_assert_eq(clb_ema_init_alpha(&e, 1.5), CLB_EINVAL);
    cr_assert_eq(clb_ema_init_alpha(&e, NAN), CLB_EINVAL);
    cr_assert_eq(clb_ema_init(&e, 4), CLB_OK);
    cr_assert_eq(clb_ema_add(&e, 3.0), CLB_OK);
    struct clb_ema before;
    memcpy(&before, &e, sizeof e);
    cr_assert_eq(clb_ema_add(&e, NAN), CLB_EINVAL);
    cr_assert_eq(clb_ema_add(&e, INFINITY), CLB_EINVAL);
    cr_assert_eq(clb_ema_add(&e, -1e300), CLB_EINVAL);
    cr_assert_eq(memcmp(&before, &e, sizeof e), 0);
}

/* ---- trading intensity -------------------------------------------------- */

static struct clb_trading_intensity_params ti_params(uint32_t n, bool cumulative)
{
    struct clb_trading_intensity_params p = { .buffer_size = n, .cumulative = cumulative };
    return p;
}

/* One trade per level j at depth j*step on alternating sides of mid; amount
 * alpha*exp(-kappa*d) per level, or per-level differences of that curve when
 * `cumulative` (so the cumulative sums lie on it). */
static void feed_levels(struct clb_trading_intensity *ti, double alpha, double kappa, int levels,
                        double step, bool cumulative, double noise, uint64_t *seed)
{
    const double mid = 100.0;
    for (int j = 0; j < levels; j++) {
        double d = j * step;
        double amt = alpha * exp(-kappa * d);
        if (cumulative && j + 1 < levels)
            amt -= alpha * exp(-kappa * (d + step));
        if (noise > 0)
            amt *= 1.0 + noise * rng_sym(seed);
        double price = j % 2 ? mid + d : mid - d;
        cr_assert_eq(clb_trading_intensity_add_trade(ti, price, amt, mid), CLB_OK);
    }
}

Test(trading_intensity, recovers_alpha_kappa_from_noiseless_data)
{
    for (int cum = 0; cum < 2; cum++) {
        struct clb_trading_intensity ti;
        struct clb_trading_intensity_params p = ti_params(64, cum);
        p.depth_step = 0.01;
        cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);
        cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_ENOTREADY); /* empty */
        feed_levels(&ti, 2.0, 1.5, 20, 0.1, cum, 0, NULL);
        cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
        cr_assert(ti.ready);
        cr_assert_eq(ti.levels, 20);
        cr_assert(fabs(ti.alpha - 2.0) < 1e-6, "cum=%d alpha %.17g", cum, ti.alpha);
        cr_assert(fabs(ti.kappa - 1.5) < 1e-6, "cum=%d kappa %.17g", cum, ti.kappa);
        clb_trading_intensity_deinit(&ti);
    }
}

Test(trading_intensity, recovers_from_noisy_data_and_tracks_change)
{
    uint64_t seed = 99;
    struct clb_trading_intensity ti;
    struct clb_trading_intensity_params p = ti_params(2000, false);
    p.depth_step = 0.05;
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);
    /* 100 passes over 20 levels, each amount with +-30% noise */
    for (int rep = 0; rep < 100; rep++)
        feed_levels(&ti, 2.0, 1.5, 20, 0.1, false, 0.3, &seed);
    cr_assert(clb_trading_intensity_full(&ti));
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    /* the per-level sum is 100 times the curve */
    cr_assert(fabs(ti.alpha / 200.0 - 1.0) < 0.03, "alpha %g", ti.alpha);
    cr_assert(fabs(ti.kappa / 1.5 - 1.0) < 0.03, "kappa %g", ti.kappa);

    /* New regime replaces the whole buffer: the fit follows it. */
    for (int rep = 0; rep < 100; rep++)
        feed_levels(&ti, 5.0, 4.0, 20, 0.1, false, 0.3, &seed);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    cr_assert(fabs(ti.alpha / 500.0 - 1.0) < 0.03, "alpha %g", ti.alpha);
    cr_assert(fabs(ti.kappa / 4.0 - 1.0) < 0.03, "kappa %g", ti.kappa);
    cr_assert_eq(ti.fits, 2);
    clb_trading_intensity_deinit(&ti);

    /* Cumulative mode with noise, one trade per level per pass. */
    p = ti_params(4000, true);
    p.depth_step = 0.05;
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);
    for (int rep = 0; rep < 200; rep++)
        feed_levels(&ti, 1.0, 2.5, 20, 0.1, true, 0.2, &seed);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    cr_assert(fabs(ti.alpha / 200.0 - 1.0) < 0.03, "alpha %g", ti.alpha);
    cr_assert(fabs(ti.kappa / 2.5 - 1.0) < 0.03, "kappa %g", ti.kappa);
    clb_trading_intensity_deinit(&ti);
}

Test(trading_intensity, fits_scattered_depths_with_tiny_price_scale)
{
    /* A low-priced asset: depths in 1e-6 price units, kappa ~ 3e5. Random
     * depths (no grid) each traded once, amount on the curve. */
    uint64_t seed = 5;
    struct clb_trading_intensity ti;
    struct clb_trading_intensity_params p = ti_params(500, false);
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);
    const double mid = 0.0005, alpha = 1e4, kappa = 3e5;
    for (int i = 0; i < 500; i++) {
        double d = 1e-5 * rng_unit(&seed);
        double price = mid + (i % 2 ? d : -d);
        double depth = fabs(price - mid);
        cr_assert_eq(clb_trading_intensity_add_trade(&ti, price, alpha * exp(-kappa * depth), mid),
                     CLB_OK);
    }
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    cr_assert(fabs(ti.alpha / alpha - 1.0) < 1e-6, "alpha %.17g", ti.alpha);
    cr_assert(fabs(ti.kappa / kappa - 1.0) < 1e-6, "kappa %.17g", ti.kappa);
    clb_trading_intensity_deinit(&ti);
}

Test(trading_intensity, lm_refines_a_poor_log_linear_guess)
{
    /* Additive noise that is large at deep levels biases the log fit; the
     * least-squares refinement must land on the nonlinear optimum, checked
     * here by its first-order conditions (gradient ~ 0). */
    uint64_t seed = 77;
    struct clb_trading_intensity ti;
    struct clb_trading_intensity_params p = ti_params(40, false);
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);
    double xs[40], ys[40];
    for (int j = 0; j < 40; j++) {
        xs[j] = 0.05 * j;
        ys[j] = 3.0 * exp(-2.0 * xs[j]) + 0.05 + 0.05 * rng_sym(&seed);
        cr_assert_eq(clb_trading_intensity_add_trade(&ti, 10.0 + xs[j], ys[j], 10.0), CLB_OK);
        xs[j] = fabs((10.0 + xs[j]) - 10.0);
    }
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    double ga = 0, gk = 0, scale = 0;
    for (int j = 0; j < 40; j++) {
        double e = exp(-ti.kappa * xs[j]);
        double r = ys[j] - ti.alpha * e;
        ga += r * e;
        gk += r * ti.alpha * xs[j] * e;
        scale += ys[j] * ys[j];
    }
    cr_assert(fabs(ga) < 1e-8 * scale && fabs(gk) < 1e-8 * scale, "grad %g %g", ga, gk);
    clb_trading_intensity_deinit(&ti);
}

Test(trading_intensity, degenerate_data_keeps_previous_estimate)
{
    struct clb_trading_intensity ti;
    struct clb_trading_intensity_params p = ti_params(8, false);
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);

    /* one trade: one level */
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 101.0, 1.0, 100.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_ENOTREADY);
    cr_assert_not(ti.ready);
    cr_assert_eq(ti.alpha, 0.0);

    /* a good fit first */
    clb_trading_intensity_clear(&ti);
    feed_levels(&ti, 2.0, 1.5, 8, 0.25, false, 0, NULL);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    double a0 = ti.alpha, k0 = ti.kappa;

    /* all at the same depth (both sides of mid) */
    for (int i = 0; i < 8; i++)
        cr_assert_eq(clb_trading_intensity_add_trade(&ti, i % 2 ? 100.5 : 99.5, 1.0 + i, 100.0),
                     CLB_OK);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_ENOTREADY);
    cr_assert_not(ti.ready);
    cr_assert_eq(ti.alpha, a0);
    cr_assert_eq(ti.kappa, k0);
    cr_assert_eq(ti.levels, 1);

    /* many depths, all amounts zero */
    for (int i = 0; i < 8; i++)
        cr_assert_eq(clb_trading_intensity_add_trade(&ti, 100.0 + i, 0.0, 100.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_ENOTREADY);

    /* only one depth has a positive amount */
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 103.0, 2.0, 100.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_ENOTREADY);

    /* amounts growing with depth: no positive kappa */
    for (int i = 0; i < 8; i++)
        cr_assert_eq(clb_trading_intensity_add_trade(&ti, 100.0 + i, 1.0 + i, 100.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_ENOTREADY);

    /* flat amounts: kappa would be 0 */
    for (int i = 0; i < 8; i++)
        cr_assert_eq(clb_trading_intensity_add_trade(&ti, 100.0 + i, 3.0, 100.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_ENOTREADY);
    cr_assert_eq(ti.alpha, a0);
    cr_assert_eq(ti.kappa, k0);
    cr_assert_eq(ti.fits, 1);

    /* and it recovers when good data comes back */
    feed_levels(&ti, 2.0, 1.5, 8, 0.25, false, 0, NULL);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    cr_assert(ti.ready);
    cr_assert(fabs(ti.kappa - 1.5) < 1e-6);
    clb_trading_intensity_deinit(&ti);

    /* cumulative mode: a single positive deepest level makes lambda flat */
    p.cumulative = true;
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(clb_trading_intensity_add_trade(&ti, 100.0 + i, i == 3 ? 5.0 : 0.0, 100.0),
                     CLB_OK);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_ENOTREADY);
    clb_trading_intensity_deinit(&ti);
}

Test(trading_intensity, depth_step_groups_levels)
{
    struct clb_trading_intensity ti;
    struct clb_trading_intensity_params p = ti_params(16, false);
    p.depth_step = 0.1;
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);
    /* 0.1+0.2 and 0.3 differ in binary; with a step they are one level */
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 0.1 + 0.2, 1.0, 0.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 0.3, 1.0, 0.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 0.0, 4.0, 0.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    cr_assert_eq(ti.levels, 2);
    /* two points (0, 4), (0.3, 2): exact fit alpha 4, kappa ln2/0.3 */
    cr_assert_float_eq(ti.alpha, 4.0, 1e-9);
    cr_assert_float_eq(ti.kappa, log(2.0) / 0.3, 1e-9);
    clb_trading_intensity_deinit(&ti);

    p.depth_step = 0.0;
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 0.1 + 0.2, 1.0, 0.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 0.3, 1.0, 0.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 0.0, 4.0, 0.0), CLB_OK);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    cr_assert_eq(ti.levels, 3);
    clb_trading_intensity_deinit(&ti);
}

Test(trading_intensity, rejects_bad_input_with_state_unchanged)
{
    struct clb_trading_intensity ti;
    struct clb_trading_intensity_params p = ti_params(1, false);
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_EINVAL);
    cr_assert_null(ti.work_);
    cr_assert_eq(clb_trading_intensity_init(&ti, NULL), CLB_EINVAL);
    p = ti_params(8, false);
    p.depth_step = -1.0;
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_EINVAL);
    p.depth_step = NAN;
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_EINVAL);
    p.depth_step = 0.0;
    p.max_iterations = 100000;
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_EINVAL);
    clb_trading_intensity_deinit(&ti);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 1.0, 1.0, 1.0), CLB_EINVAL); /* zeroed */
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_EINVAL);

    p = ti_params(8, false);
    p.depth_step = 1e-12;
    cr_assert_eq(clb_trading_intensity_init(&ti, &p), CLB_OK);
    feed_levels(&ti, 2.0, 1.5, 5, 0.25, false, 0, NULL);
    cr_assert_eq(clb_trading_intensity_fit(&ti), CLB_OK);
    struct clb_trading_intensity before;
    memcpy(&before, &ti, sizeof ti);
    double d0[8], a0[8];
    for (uint32_t i = 0; i < 5; i++) {
        d0[i] = clb_ring_get(&ti.depths_, i);
        a0[i] = clb_ring_get(&ti.amounts_, i);
    }
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, NAN, 1.0, 100.0), CLB_EINVAL);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 101.0, NAN, 100.0), CLB_EINVAL);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 101.0, 1.0, NAN), CLB_EINVAL);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, INFINITY, 1.0, 100.0), CLB_EINVAL);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 101.0, INFINITY, 100.0), CLB_EINVAL);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 101.0, -1.0, 100.0), CLB_EINVAL);
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 101.0, 1.0, -INFINITY), CLB_EINVAL);
    /* depth 1e4 / step 1e-12 is not representable as a step count */
    cr_assert_eq(clb_trading_intensity_add_trade(&ti, 10100.0, 1.0, 100.0), CLB_EINVAL);
    cr_assert_eq(memcmp(&before, &ti, sizeof ti), 0);
    for (uint32_t i = 0; i < 5; i++) {
        cr_assert_eq(clb_ring_get(&ti.depths_, i), d0[i]);
        cr_assert_eq(clb_ring_get(&ti.amounts_, i), a0[i]);
    }
    clb_trading_intensity_clear(&ti);
    cr_assert_eq(clb_trading_intensity_count(&ti), 0);
    cr_assert_eq(ti.alpha, 0.0);
    cr_assert_not(ti.ready);
    clb_trading_intensity_deinit(&ti);
    clb_trading_intensity_deinit(&ti);
}
