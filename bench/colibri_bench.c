/*
 * colibri_bench.c — colibri-bench: runs every micro-benchmark and prints the
 * figures. Usage: colibri-bench [--json] [--filter SUBSTRING]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

void bench_md(struct bench_ctx *ctx); /* bench_md.c: Binance market data */

#define TRIALS 7
#define TRIAL_TARGET_NS 20000000ull /* ~20 ms per trial */

uint64_t bench_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool bench_selected(const struct bench_ctx *ctx, const char *name)
{
    return !ctx->filter || strstr(name, ctx->filter) != NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void bench_run(struct bench_ctx *ctx, const char *name, bench_fn fn, void *state, double target_ns)
{
    if (!bench_selected(ctx, name))
        return;
    /* Calibrate: grow iters until one call takes long enough to time. */
    uint64_t iters = 1000;
    for (;;) {
        uint64_t t0 = bench_now_ns();
        fn(state, iters);
        uint64_t dt = bench_now_ns() - t0;
        if (dt >= TRIAL_TARGET_NS / 4 || iters >= (1ull << 34))
            break;
        iters *= dt < TRIAL_TARGET_NS / 64 ? 8 : 2;
    }
    double per_op[TRIALS];
    for (int t = 0; t < TRIALS; t++) {
        uint64_t t0 = bench_now_ns();
        fn(state, iters);
        per_op[t] = (double)(bench_now_ns() - t0) / (double)iters;
    }
    qsort(per_op, TRIALS, sizeof(double), cmp_double);
    double median = per_op[TRIALS / 2];
    uint64_t ops = iters * TRIALS;
    bool miss = target_ns > 0 && median > target_ns;
    if (miss)
        ctx->failures++;
    if (ctx->json) {
        printf("{\"bench\": \"%s\", \"ns_per_op\": %.2f, \"ops\": %llu, \"target_ns\": %.0f}\n",
               name, median, (unsigned long long)ops, target_ns);
    } else {
        printf("%-28s %10.2f ns/op  (%llu ops", name, median, (unsigned long long)ops);
        if (target_ns > 0)
            printf(", target <= %.0f ns: %s", target_ns, miss ? "MISSED" : "met");
        printf(")\n");
    }
    fflush(stdout);
}

void bench_report(struct bench_ctx *ctx, const char *name, double value, const char *unit,
                  uint64_t ops)
{
    if (ctx->json)
        printf("{\"bench\": \"%s\", \"value\": %.4g, \"unit\": \"%s\", \"ops\": %llu}\n", name, value,
               unit, (unsigned long long)ops);
    else
        printf("%-28s %14.4g %s  (%llu ops)\n", name, value, unit, (unsigned long long)ops);
    fflush(stdout);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: colibri-bench [--json] [--filter SUBSTRING]\n"
               "Runs colibri's micro-benchmarks and prints the median ns per operation.\n"
               "  --json            one JSON object per line\n"
               "  --filter TEXT     only benchmarks whose name contains TEXT\n");
}

int main(int argc, char **argv)
{
    struct bench_ctx ctx = { 0 };
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            ctx.json = true;
        } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            ctx.filter = argv[++i];
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "colibri-bench: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    bench_decimal(&ctx);
    bench_order_book(&ctx);
    bench_indicator(&ctx);
    bench_backtest(&ctx);
    bench_md(&ctx);
    if (!ctx.json && ctx.failures)
        printf("%d benchmark(s) missed their target\n", ctx.failures);
    return 0;
}
