/*
 * bench.h — the tiny harness behind colibri-bench.
 *
 * A benchmark is a function that performs `iters` operations on prepared
 * state. bench_run() calls it in several timed trials, each long enough to
 * dwarf the timer's cost, and reports the median nanoseconds per operation
 * (median, not mean: one descheduled trial must not move the figure).
 * Results print as a table, or with --json as one object per line:
 *   {"bench": NAME, "ns_per_op": X, "ops": N, "target_ns": T}
 */
#ifndef CLB_BENCH_H
#define CLB_BENCH_H

#include <stdbool.h>
#include <stdint.h>

struct bench_ctx {
    bool json;
    const char *filter; /* run only benchmarks whose name contains this */
    int failures;       /* benchmarks that missed their target */
};

typedef void (*bench_fn)(void *state, uint64_t iters);

/* Times fn(state, iters) and prints the median ns/op against target_ns
 * (0 = no target). Skipped when the name does not match ctx->filter. */
void bench_run(struct bench_ctx *ctx, const char *name, bench_fn fn, void *state,
               double target_ns);

/* Prints an extra figure measured by a benchmark itself (e.g. events/s). */
void bench_report(struct bench_ctx *ctx, const char *name, double value, const char *unit,
                  uint64_t ops);

/* True when the benchmark `name` would run under ctx's filter. */
bool bench_selected(const struct bench_ctx *ctx, const char *name);

/* Monotonic nanoseconds. */
uint64_t bench_now_ns(void);

/* Keeps the compiler from discarding a computed value. */
static inline void bench_sink(uint64_t v)
{
    __asm__ __volatile__("" : : "r"(v) : "memory");
}

/* One entry point per benchmarked module. */
void bench_decimal(struct bench_ctx *ctx);
void bench_order_book(struct bench_ctx *ctx);
void bench_indicator(struct bench_ctx *ctx);
void bench_backtest(struct bench_ctx *ctx);

#endif
