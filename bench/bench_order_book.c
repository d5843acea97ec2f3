/*
 * bench_order_book.c — order book micro-benchmarks on a 1000-level book:
 *   book_apply_diff        one-level sequenced diffs within 20 levels of the
 *                          top (set qty, sometimes delete, later re-insert)
 *   book_best_bid_ask      read both best levels
 *   book_price_for_volume  a volume spanning ~20 levels, alternating takers
 * Inputs are drawn before timing from a fixed-seed PRNG into arrays the
 * timed loops cycle through.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "error.h"
#include "order_book.h"

#define LEVELS 1000
#define NOPS (1u << 16) /* power of two: index with & (NOPS - 1) */
#define BEST_BID 99999  /* ticks; asks start at BEST_BID + 2 */
#define TOP_DEPTH 20

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* A full book: 1000 levels a side on consecutive ticks. */
static int book_setup(struct clb_order_book *b, uint64_t *seed)
{
    static struct clb_level bids[LEVELS], asks[LEVELS];
    for (int i = 0; i < LEVELS; i++) {
        bids[i].price = BEST_BID - i;
        bids[i].qty = 1 + (int64_t)(splitmix64(seed) % 1000000);
        asks[i].price = BEST_BID + 2 + i;
        asks[i].qty = 1 + (int64_t)(splitmix64(seed) % 1000000);
    }
    int rc = clb_book_init(b, LEVELS);
    if (rc == CLB_OK)
        rc = clb_book_apply_snapshot(b, 1, bids, LEVELS, asks, LEVELS);
    return rc;
}

/* ---- book_apply_diff ---------------------------------------------------- */

struct diff_op {
    const struct clb_level *bids, *asks;
    size_t n_bids, n_asks;
};

struct apply_state {
    struct clb_order_book b;
    struct clb_level lv[NOPS];
    struct diff_op op[NOPS];
    uint64_t errors;
};

static void run_apply(void *state, uint64_t iters)
{
    struct apply_state *a = state;
    uint64_t id = a->b.update_id;
    uint64_t errors = 0;
    for (uint64_t i = 0; i < iters; i++) {
        const struct diff_op *o = &a->op[i & (NOPS - 1)];
        id++;
        errors += clb_book_apply_diff(&a->b, id, id, o->bids, o->n_bids, o->asks, o->n_asks) != 0;
    }
    a->errors += errors;
}

static void bench_apply(struct bench_ctx *ctx, uint64_t *seed)
{
    struct apply_state *a = calloc(1, sizeof(*a));
    if (!a || book_setup(&a->b, seed) != CLB_OK) {
        fprintf(stderr, "book_apply_diff: setup failed\n");
        free(a);
        return;
    }
    for (uint32_t i = 0; i < NOPS; i++) {
        uint64_t r = splitmix64(seed);
        bool bid = r & 1;
        int64_t depth = (int64_t)((r >> 1) % TOP_DEPTH);
        bool del = (r >> 16) % 5 == 0; /* 20% deletes; a later set re-inserts */
        a->lv[i].price = bid ? BEST_BID - depth : BEST_BID + 2 + depth;
        a->lv[i].qty = del ? 0 : 1 + (int64_t)((r >> 24) % 1000000);
        a->op[i] = bid ? (struct diff_op){ .bids = &a->lv[i], .n_bids = 1 }
                       : (struct diff_op){ .asks = &a->lv[i], .n_asks = 1 };
    }
    bench_run(ctx, "book_apply_diff", run_apply, a, 30.0);
    if (a->errors || clb_book_check(&a->b) != CLB_OK)
        fprintf(stderr, "book_apply_diff: %llu diffs failed\n", (unsigned long long)a->errors);
    clb_book_deinit(&a->b);
    free(a);
}

/* ---- book_best_bid_ask -------------------------------------------------- */

static void run_best(void *state, uint64_t iters)
{
    const struct clb_order_book *b = state;
    for (uint64_t i = 0; i < iters; i++) {
        struct clb_level bid = { 0, 0 }, ask = { 0, 0 };
        clb_book_best_bid(b, &bid);
        clb_book_best_ask(b, &ask);
        bench_sink((uint64_t)(bid.price + ask.price));
    }
}

static void bench_best(struct bench_ctx *ctx, uint64_t *seed)
{
    struct clb_order_book b;
    if (book_setup(&b, seed) != CLB_OK) {
        fprintf(stderr, "book_best_bid_ask: setup failed\n");
        clb_book_deinit(&b);
        return;
    }
    bench_run(ctx, "book_best_bid_ask", run_best, &b, 5.0);
    clb_book_deinit(&b);
}

/* ---- book_price_for_volume ---------------------------------------------- */

struct volume_state {
    struct clb_order_book b;
    int64_t volume[NOPS];
    enum clb_side taker[NOPS];
};

static void run_price_for_volume(void *state, uint64_t iters)
{
    const struct volume_state *v = state;
    for (uint64_t i = 0; i < iters; i++) {
        struct clb_book_query q;
        uint32_t j = (uint32_t)(i & (NOPS - 1));
        clb_book_price_for_volume(&v->b, v->taker[j], v->volume[j], &q);
        bench_sink((uint64_t)q.price);
    }
}

static void bench_price_for_volume(struct bench_ctx *ctx, uint64_t *seed)
{
    struct volume_state *v = calloc(1, sizeof(*v));
    if (!v || book_setup(&v->b, seed) != CLB_OK) {
        fprintf(stderr, "book_price_for_volume: setup failed\n");
        free(v);
        return;
    }
    for (uint32_t i = 0; i < NOPS; i++) {
        uint64_t r = splitmix64(seed);
        enum clb_side taker = (r & 1) ? CLB_SIDE_BUY : CLB_SIDE_SELL;
        enum clb_side walked = taker == CLB_SIDE_BUY ? CLB_SIDE_SELL : CLB_SIDE_BUY;
        uint32_t levels = 16 + (uint32_t)((r >> 1) % 9); /* reached at level 16..24 */
        int64_t vol = 0;
        for (uint32_t k = 0; k + 1 < levels; k++)
            vol += clb_book_level(&v->b, walked, k)->qty;
        vol += 1 + (int64_t)((r >> 8) % (uint64_t)clb_book_level(&v->b, walked, levels - 1)->qty);
        v->taker[i] = taker;
        v->volume[i] = vol;
    }
    bench_run(ctx, "book_price_for_volume", run_price_for_volume, v, 60.0);
    clb_book_deinit(&v->b);
    free(v);
}

void bench_order_book(struct bench_ctx *ctx)
{
    uint64_t seed = 0xb00cb00c;
    if (bench_selected(ctx, "book_apply_diff"))
        bench_apply(ctx, &seed);
    if (bench_selected(ctx, "book_best_bid_ask"))
        bench_best(ctx, &seed);
    if (bench_selected(ctx, "book_price_for_volume"))
        bench_price_for_volume(ctx, &seed);
}
