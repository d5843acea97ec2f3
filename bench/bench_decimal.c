/*
 * bench_decimal.c — core/decimal.c on the hot path: parsing a price as it
 * arrives from an exchange (target <= 25 ns), formatting one for an order,
 * multiplying price by quantity, and turning a strategy's double price into
 * a decimal (decimal_from_double: the fast path; decimal_from_double_exact:
 * values on a rounding boundary, decided through the shortest decimal).
 */
#include <string.h>

#include "bench.h"
#include "decimal.h"

#define NOPS 64 /* operand pairs cycled through by format and mul */

struct parse_state {
    const char *s;
    size_t len;
};

static void run_parse(void *state, uint64_t iters)
{
    struct parse_state *st = state;
    for (uint64_t i = 0; i < iters; i++) {
        clb_dec d;
        int rc = clb_dec_parse(st->s, st->len, &d);
        bench_sink((uint64_t)d.m + (uint64_t)d.scale + (uint64_t)rc);
    }
}

struct ops_state {
    clb_dec a[NOPS];
    clb_dec b[NOPS];
};

static void run_format(void *state, uint64_t iters)
{
    struct ops_state *st = state;
    char buf[CLB_DEC_STRLEN];
    for (uint64_t i = 0; i < iters; i++) {
        int n = clb_dec_format(st->a[i % NOPS], buf, sizeof(buf));
        bench_sink((uint64_t)n + (uint64_t)buf[0]);
    }
}

static void run_mul(void *state, uint64_t iters)
{
    struct ops_state *st = state;
    for (uint64_t i = 0; i < iters; i++) {
        clb_dec r;
        int rc = clb_dec_mul(st->a[i % NOPS], st->b[i % NOPS], &r);
        bench_sink((uint64_t)r.m + (uint64_t)rc);
    }
}

struct dbl_state {
    double v[NOPS];
};

static void run_from_double(void *state, uint64_t iters)
{
    struct dbl_state *st = state;
    for (uint64_t i = 0; i < iters; i++) {
        clb_dec r;
        int rc = clb_dec_from_double(st->v[i % NOPS], 2, CLB_ROUND_DOWN, &r);
        bench_sink((uint64_t)r.m + (uint64_t)rc);
    }
}

void bench_decimal(struct bench_ctx *ctx)
{
    struct parse_state ps = { .s = "12345.678901", .len = strlen("12345.678901") };
    bench_run(ctx, "decimal_parse", run_parse, &ps, 25.0);

    /* Prices at scale 2..6 and quantities at scale 3..8, as on a spot venue. */
    struct ops_state os;
    uint64_t x = 88172645463325252ull;
    for (int i = 0; i < NOPS; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        os.a[i] = clb_dec_make((int64_t)(x % 10000000000ull), 2 + i % 5);
        os.b[i] = clb_dec_make((int64_t)((x >> 20) % 100000000ull), 3 + i % 6);
    }
    bench_run(ctx, "decimal_format", run_format, &os, 0);
    bench_run(ctx, "decimal_mul", run_mul, &os, 0);

    /* A strategy's prices (mid * (1 - spread)), and prices already on the
     * 0.01 grid (0.1 + 0.2 style: the exact path decides). */
    struct dbl_state ds, de;
    for (int i = 0; i < NOPS; i++) {
        ds.v[i] = (60000.0 + (double)(i * 37 % 1000) * 0.37) * (1 - 0.0013);
        de.v[i] = (double)(6000000 + i * 7) / 100.0;
    }
    bench_run(ctx, "decimal_from_double", run_from_double, &ds, 0);
    bench_run(ctx, "decimal_from_double_exact", run_from_double, &de, 0);
}
