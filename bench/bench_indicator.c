/*
 * bench_indicator.c — trailing-indicator benchmarks.
 *
 *  - indicator_add_sample: one clb_indicator_add_sample on an instant
 *    volatility indicator with a 200-sample sampling buffer and a 15-value
 *    processing buffer (Hummingbot's Avellaneda defaults), fed a precomputed
 *    random-walk price path. Target: <= 20 ns.
 *  - indicator_add_sample_value: the same plus reading the current value
 *    (the processing mean) after every sample, as a strategy reading on
 *    every tick would (no target).
 *  - indicator_trading_intensity_fit: one clb_trading_intensity_fit over a
 *    full buffer of 1000 trades spread over 40 depth levels (no target).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "indicator.h"

#define N_PRICES 4096u /* power of two: index with a mask */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double unit(uint64_t *s)
{
    return (double)(splitmix64(s) >> 11) * 0x1.0p-53;
}

struct add_state {
    struct clb_instant_vol vol;
    double prices[N_PRICES];
    uint32_t next;
};

static void run_add_sample(void *state, uint64_t iters)
{
    struct add_state *st = state;
    uint32_t j = st->next;
    for (uint64_t i = 0; i < iters; i++) {
        clb_indicator_add_sample(&st->vol.base, st->prices[j]);
        j = (j + 1) & (N_PRICES - 1);
    }
    st->next = j;
    double v = clb_indicator_value(&st->vol.base);
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    bench_sink(bits);
}

static void run_add_sample_value(void *state, uint64_t iters)
{
    struct add_state *st = state;
    uint32_t j = st->next;
    double acc = 0.0;
    for (uint64_t i = 0; i < iters; i++) {
        clb_indicator_add_sample(&st->vol.base, st->prices[j]);
        acc += clb_indicator_value(&st->vol.base);
        j = (j + 1) & (N_PRICES - 1);
    }
    st->next = j;
    uint64_t bits;
    memcpy(&bits, &acc, sizeof bits);
    bench_sink(bits);
}

static void run_fit(void *state, uint64_t iters)
{
    struct clb_trading_intensity *ti = state;
    uint64_t ok = 0;
    for (uint64_t i = 0; i < iters; i++)
        ok += clb_trading_intensity_fit(ti) == 0;
    bench_sink(ok);
}

void bench_indicator(struct bench_ctx *ctx)
{
    uint64_t seed = 20240601;
    if (bench_selected(ctx, "indicator_add_sample") ||
        bench_selected(ctx, "indicator_add_sample_value")) {
        struct add_state *st = calloc(1, sizeof *st);
        if (!st || clb_instant_vol_init(&st->vol, 200, 15) != 0) {
            fprintf(stderr, "bench_indicator: init failed\n");
            free(st);
            return;
        }
        double p = 100.0;
        for (uint32_t i = 0; i < N_PRICES; i++) {
            p *= exp(0.001 * (2.0 * unit(&seed) - 1.0));
            st->prices[i] = p;
        }
        for (uint32_t i = 0; i < 200; i++) /* start full: the steady state */
            clb_indicator_add_sample(&st->vol.base, st->prices[i]);
        st->next = 200;
        bench_run(ctx, "indicator_add_sample", run_add_sample, st, 20.0);
        bench_run(ctx, "indicator_add_sample_value", run_add_sample_value, st, 0.0);
        clb_indicator_deinit(&st->vol.base);
        free(st);
    }
    if (bench_selected(ctx, "indicator_trading_intensity_fit")) {
        struct clb_trading_intensity ti;
        struct clb_trading_intensity_params params = {
            .buffer_size = 1000,
            .depth_step = 0.01,
        };
        if (clb_trading_intensity_init(&ti, &params) != 0) {
            fprintf(stderr, "bench_indicator: trading intensity init failed\n");
            return;
        }
        /* Trades at 40 tick levels around mid 100, amount ~ 2 exp(-1.5 d)
         * with +-30% noise, arriving in random level order. */
        for (uint32_t i = 0; i < 1000; i++) {
            double d = 0.05 * (double)(splitmix64(&seed) % 40);
            double amt = 2.0 * exp(-1.5 * d) * (0.7 + 0.6 * unit(&seed));
            double price = (i & 1) ? 100.0 + d : 100.0 - d;
            clb_trading_intensity_add_trade(&ti, price, amt, 100.0);
        }
        bench_run(ctx, "indicator_trading_intensity_fit", run_fit, &ti, 0.0);
        clb_trading_intensity_deinit(&ti);
    }
}
