/*
 * Tests for core/order_book.c: hand-picked cases for every function, then a
 * property test against a naive reference book (unsorted arrays, linear
 * scans) over long random operation sequences with fixed seeds.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "order_book.h"

__extension__ typedef __int128 i128;

#define L(p, q) ((struct clb_level){ (p), (q) })
#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ------------------------------------------------------------ */

#define DUMP_MAX 256

/* Everything observable about a book, for "unchanged" checks. */
struct dump {
    struct clb_level bids[DUMP_MAX], asks[DUMP_MAX];
    uint32_t nb, na;
    uint64_t update_id, dropped, crossed;
    bool has_snapshot, needs_resync;
};

static void dump_book(const struct clb_order_book *b, struct dump *d)
{
    memset(d, 0, sizeof(*d));
    cr_assert_leq(b->bids.n, DUMP_MAX);
    cr_assert_leq(b->asks.n, DUMP_MAX);
    d->nb = b->bids.n;
    d->na = b->asks.n;
    if (d->nb)
        memcpy(d->bids, b->bids.lv, d->nb * sizeof(struct clb_level));
    if (d->na)
        memcpy(d->asks, b->asks.lv, d->na * sizeof(struct clb_level));
    d->update_id = b->update_id;
    d->dropped = b->dropped_levels;
    d->crossed = b->crossed_levels_removed;
    d->has_snapshot = b->has_snapshot;
    d->needs_resync = b->needs_resync;
}

static void assert_unchanged(const struct clb_order_book *b, const struct dump *before)
{
    struct dump now;
    dump_book(b, &now);
    cr_assert_eq(memcmp(&now, before, sizeof(now)), 0, "book changed");
    cr_assert_eq(clb_book_check(b), CLB_OK);
}

/* Asserts a side, best first: prices[i]/qtys[i]. */
static void assert_side(const struct clb_order_book *b, enum clb_side side, const int64_t *prices,
                        const int64_t *qtys, uint32_t n)
{
    cr_assert_eq(clb_book_depth(b, side), n, "depth %u != %u", clb_book_depth(b, side), n);
    for (uint32_t i = 0; i < n; i++) {
        const struct clb_level *l = clb_book_level(b, side, i);
        cr_assert_not_null(l);
        cr_assert_eq(l->price, prices[i], "level %u price %lld != %lld", i, (long long)l->price,
                     (long long)prices[i]);
        cr_assert_eq(l->qty, qtys[i], "level %u qty", i);
    }
    cr_assert_null(clb_book_level(b, side, n));
    cr_assert_eq(clb_book_check(b), CLB_OK);
}

#define ASSERT_SIDE(b, side, P, Q)                                   \
    do {                                                             \
        cr_assert_eq(N(P), N(Q));                                    \
        assert_side((b), (side), (P), (Q), (uint32_t)N(P));          \
    } while (0)

static void book_5x5(struct clb_order_book *b, uint32_t cap)
{
    cr_assert_eq(clb_book_init(b, cap), CLB_OK);
    struct clb_level bids[] = { L(99, 1), L(97, 3), L(100, 10), L(98, 2), L(96, 4) };
    struct clb_level asks[] = { L(103, 3), L(101, 10), L(105, 5), L(102, 2), L(104, 4) };
    cr_assert_eq(clb_book_apply_snapshot(b, 100, bids, N(bids), asks, N(asks)), CLB_OK);
}

/* ---- lifecycle ---------------------------------------------------------- */

Test(order_book, init_rejects_bad_capacity_and_empty_book_answers)
{
    struct clb_order_book b;
    cr_assert_eq(clb_book_init(&b, 0), CLB_EINVAL);
    clb_book_deinit(&b); /* harmless on the zeroed struct */
    cr_assert_eq(clb_book_init(&b, CLB_BOOK_MAX_LEVELS + 1), CLB_EINVAL);
    cr_assert_eq(clb_book_init(&b, 8), CLB_OK);
    cr_assert_eq(clb_book_check(&b), CLB_OK);
    struct clb_level l = L(7, 7);
    cr_assert(!clb_book_best_bid(&b, &l));
    cr_assert(!clb_book_best_ask(&b, &l));
    cr_assert_eq(l.price, 7);
    double mid = 42;
    cr_assert(!clb_book_mid(&b, &mid));
    cr_assert_eq(mid, 42);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_BUY), 0);
    cr_assert_null(clb_book_level(&b, CLB_SIDE_SELL, 0));
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 100), 0);
    struct clb_level out[2];
    cr_assert_eq(clb_book_top(&b, CLB_SIDE_SELL, out, 2), 0);
    struct clb_book_query q = { .price = -5 };
    cr_assert_eq(clb_book_price_for_volume(&b, CLB_SIDE_BUY, 1, &q), CLB_ENOTREADY);
    cr_assert_eq(clb_book_vwap_for_volume(&b, CLB_SIDE_SELL, 1, &q), CLB_ENOTREADY);
    cr_assert_eq(clb_book_volume_for_price(&b, CLB_SIDE_BUY, 1, &q), CLB_ENOTREADY);
    cr_assert_eq(clb_book_quote_volume_for_price(&b, CLB_SIDE_BUY, 1, &q), CLB_ENOTREADY);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_SELL, 1.0, &q), CLB_ENOTREADY);
    cr_assert_eq(q.price, -5);
    cr_assert(!b.has_snapshot);
    clb_book_deinit(&b);
    cr_assert_null(b.bids.mem);
    clb_book_deinit(&b);
}

Test(order_book, clear_forgets_levels_and_sequence_keeps_counters)
{
    struct clb_order_book b;
    book_5x5(&b, 4);
    cr_assert_eq(b.dropped_levels, 2);
    b.needs_resync = true;
    clb_book_clear(&b);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_BUY), 0);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_SELL), 0);
    cr_assert(!b.has_snapshot);
    cr_assert(!b.needs_resync);
    cr_assert_eq(b.update_id, 0);
    cr_assert_eq(b.dropped_levels, 2);
    struct clb_level d = L(1, 1);
    cr_assert_eq(clb_book_apply_diff(&b, 1, 1, &d, 1, NULL, 0), CLB_ENOTREADY);
    clb_book_deinit(&b);
}

/* ---- snapshots ---------------------------------------------------------- */

Test(order_book, snapshot_sorts_any_order_and_ignores_zero_qty)
{
    struct clb_order_book b;
    cr_assert_eq(clb_book_init(&b, 16), CLB_OK);
    struct clb_level bids[] = { L(98, 2), L(100, 1), L(95, 0), L(99, 3) };
    struct clb_level asks[] = { L(101, 5), L(110, 0), L(103, 7), L(102, 6) };
    cr_assert_eq(clb_book_apply_snapshot(&b, 555, bids, N(bids), asks, N(asks)), CLB_OK);
    int64_t bp[] = { 100, 99, 98 }, bq[] = { 1, 3, 2 };
    int64_t ap[] = { 101, 102, 103 }, aq[] = { 5, 6, 7 };
    ASSERT_SIDE(&b, CLB_SIDE_BUY, bp, bq);
    ASSERT_SIDE(&b, CLB_SIDE_SELL, ap, aq);
    cr_assert_eq(b.update_id, 555);
    cr_assert(b.has_snapshot);
    cr_assert_eq(b.dropped_levels, 0);
    struct clb_level l;
    cr_assert(clb_book_best_bid(&b, &l));
    cr_assert_eq(l.price, 100);
    cr_assert(clb_book_best_ask(&b, &l));
    cr_assert_eq(l.price, 101);
    cr_assert_eq(l.qty, 5);
    /* A second snapshot replaces everything, even with empty sides. */
    struct clb_level bids2[] = { L(50, 1) };
    cr_assert_eq(clb_book_apply_snapshot(&b, 7, bids2, 1, NULL, 0), CLB_OK);
    int64_t bp2[] = { 50 }, bq2[] = { 1 };
    ASSERT_SIDE(&b, CLB_SIDE_BUY, bp2, bq2);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_SELL), 0);
    cr_assert_eq(b.update_id, 7);
    clb_book_deinit(&b);
}

Test(order_book, snapshot_over_capacity_keeps_best_levels_in_both_input_orders)
{
    struct clb_order_book b;
    cr_assert_eq(clb_book_init(&b, 3), CLB_OK);
    /* Best-first (exchange order), with a zero level among them. */
    struct clb_level bids[] = { L(100, 1), L(99, 0), L(98, 2), L(97, 3), L(96, 4), L(95, 5) };
    /* Shuffled. */
    struct clb_level asks[] = { L(105, 5), L(101, 1), L(104, 4), L(103, 3), L(102, 2) };
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, bids, N(bids), asks, N(asks)), CLB_OK);
    int64_t bp[] = { 100, 98, 97 }, bq[] = { 1, 2, 3 };
    int64_t ap[] = { 101, 102, 103 }, aq[] = { 1, 2, 3 };
    ASSERT_SIDE(&b, CLB_SIDE_BUY, bp, bq);
    ASSERT_SIDE(&b, CLB_SIDE_SELL, ap, aq);
    cr_assert_eq(b.dropped_levels, 2 + 2);
    /* Worst-first input is handled by the general path. */
    struct clb_level asks2[] = { L(110, 1), L(109, 1), L(108, 1), L(107, 1), L(106, 1) };
    cr_assert_eq(clb_book_apply_snapshot(&b, 2, NULL, 0, asks2, N(asks2)), CLB_OK);
    int64_t ap2[] = { 106, 107, 108 }, aq2[] = { 1, 1, 1 };
    ASSERT_SIDE(&b, CLB_SIDE_SELL, ap2, aq2);
    cr_assert_eq(b.dropped_levels, 4 + 2);
    clb_book_deinit(&b);
}

Test(order_book, bad_snapshot_leaves_book_unchanged)
{
    struct clb_order_book b;
    book_5x5(&b, 32);
    b.needs_resync = true; /* must survive a rejected snapshot */
    struct dump before;
    dump_book(&b, &before);
    struct clb_level ok[] = { L(90, 1) };
    struct clb_level zero_price[] = { L(90, 1), L(0, 1) };
    struct clb_level neg_price[] = { L(-3, 1) };
    struct clb_level neg_qty[] = { L(90, 1), L(89, -1) };
    struct clb_level dup[] = { L(90, 1), L(89, 1), L(90, 2) };
    struct clb_level dup_zero[] = { L(90, 0), L(89, 1), L(90, 0) };
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, zero_price, 2, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, neg_price, 1, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, ok, 1, neg_qty, 2), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, dup, 3, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, dup_zero, 3, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, NULL, 3, NULL, 0), CLB_EINVAL);
    /* Crossed and locked snapshots. */
    struct clb_level ask_low[] = { L(89, 1), L(120, 1) };
    struct clb_level ask_eq[] = { L(90, 1) };
    struct clb_level ask_low_zero[] = { L(80, 0), L(91, 1) };
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, ok, 1, ask_low, 2), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, ok, 1, ask_eq, 1), CLB_EINVAL);
    assert_unchanged(&b, &before);
    /* A zero-qty level on the wrong side does not cross. */
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, ok, 1, ask_low_zero, 2), CLB_OK);
    cr_assert(!b.needs_resync);
    clb_book_deinit(&b);
}

Test(order_book, long_level_lists_detect_duplicates_in_every_path)
{
    struct clb_order_book b;
    book_5x5(&b, 8); /* scratch of 8: lists of 40 are checked in 5 chunks */
    struct dump before;
    dump_book(&b, &before);
    struct clb_level l[40];
    /* Monotonic long list: valid. */
    for (int i = 0; i < 40; i++)
        l[i] = L(60 - i, 1);
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, l, 40, NULL, 0), CLB_OK);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_BUY), 8);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_BUY, 7)->price, 58);
    clb_book_deinit(&b);
    book_5x5(&b, 8);
    dump_book(&b, &before);
    /* Shuffled, duplicates in the same chunk, across chunks, and at the end. */
    int pairs[][2] = { { 3, 5 }, { 2, 37 }, { 38, 39 }, { 0, 39 }, { 9, 15 } };
    for (size_t t = 0; t < N(pairs); t++) {
        for (int i = 0; i < 40; i++)
            l[i] = L(1 + (i * 17) % 40, 1); /* a permutation of 1..40 */
        l[pairs[t][1]].price = l[pairs[t][0]].price;
        cr_assert_eq(clb_book_apply_diff(&b, 101, 101, l, 40, NULL, 0), CLB_EINVAL, "pair %zu",
                     t);
        cr_assert_eq(clb_book_apply_snapshot(&b, 9, l, 40, NULL, 0), CLB_EINVAL);
        cr_assert_eq(clb_book_apply_diff(&b, 101, 101, NULL, 0, l, 40), CLB_EINVAL);
        assert_unchanged(&b, &before);
    }
    /* The shuffled permutation itself is fine. */
    for (int i = 0; i < 40; i++)
        l[i] = L(1 + (i * 17) % 40, (i % 3 == 0) ? 0 : 1);
    cr_assert_eq(clb_book_apply_snapshot(&b, 9, l, 40, NULL, 0), CLB_OK);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_BUY), 8);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_BUY, 0)->price, 40);
    cr_assert_eq(clb_book_check(&b), CLB_OK);
    clb_book_deinit(&b);
}

/* ---- sequencing ---------------------------------------------------------- */

Test(order_book, diff_before_snapshot_is_not_ready)
{
    struct clb_order_book b;
    cr_assert_eq(clb_book_init(&b, 4), CLB_OK);
    struct clb_level d = L(10, 1);
    cr_assert_eq(clb_book_apply_diff(&b, 1, 2, &d, 1, NULL, 0), CLB_ENOTREADY);
    cr_assert_eq(clb_book_apply_diff(&b, 0, 0, &d, 1, NULL, 0), CLB_ENOTREADY);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_BUY), 0);
    /* Bad input is reported before readiness. */
    struct clb_level bad = L(10, -1);
    cr_assert_eq(clb_book_apply_diff(&b, 1, 2, &bad, 1, NULL, 0), CLB_EINVAL);
    clb_book_deinit(&b);
}

Test(order_book, stale_overlapping_and_contiguous_diffs)
{
    struct clb_order_book b;
    book_5x5(&b, 16); /* update_id 100 */
    struct dump before;
    dump_book(&b, &before);
    struct clb_level d = L(100, 77);
    cr_assert_eq(clb_book_apply_diff(&b, 90, 100, &d, 1, NULL, 0), CLB_ESTALE);
    cr_assert_eq(clb_book_apply_diff(&b, 95, 99, &d, 1, NULL, 0), CLB_ESTALE);
    cr_assert_eq(clb_book_apply_diff(&b, 0, 50, &d, 1, NULL, 0), CLB_ESTALE);
    assert_unchanged(&b, &before);
    /* Overlapping (U <= id + 1 <= u) applies, Binance's first-event rule. */
    cr_assert_eq(clb_book_apply_diff(&b, 95, 105, &d, 1, NULL, 0), CLB_OK);
    cr_assert_eq(b.update_id, 105);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 100), 77);
    struct clb_level d2 = L(101, 0);
    cr_assert_eq(clb_book_apply_diff(&b, 106, 110, NULL, 0, &d2, 1), CLB_OK);
    cr_assert_eq(b.update_id, 110);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_SELL, 101), 0);
    /* Unsequenced: no gap check; last 0 keeps update_id. */
    struct clb_level d3 = L(96, 9);
    cr_assert_eq(clb_book_apply_diff(&b, 0, 0, &d3, 1, NULL, 0), CLB_OK);
    cr_assert_eq(b.update_id, 110);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 96), 9);
    cr_assert_eq(clb_book_apply_diff(&b, 0, 500, &d3, 1, NULL, 0), CLB_OK);
    cr_assert_eq(b.update_id, 500);
    cr_assert(!b.needs_resync);
    /* first > last is malformed. */
    dump_book(&b, &before);
    cr_assert_eq(clb_book_apply_diff(&b, 505, 502, &d3, 1, NULL, 0), CLB_EINVAL);
    assert_unchanged(&b, &before);
    /* An empty diff only advances the sequence. */
    cr_assert_eq(clb_book_apply_diff(&b, 501, 503, NULL, 0, NULL, 0), CLB_OK);
    cr_assert_eq(b.update_id, 503);
    /* A snapshot at id 0, then the very first ids. */
    cr_assert_eq(clb_book_apply_snapshot(&b, 0, &d3, 1, NULL, 0), CLB_OK);
    cr_assert_eq(clb_book_apply_diff(&b, 1, 1, &d, 1, NULL, 0), CLB_OK);
    cr_assert_eq(b.update_id, 1);
    cr_assert_eq(clb_book_apply_diff(&b, 1, 1, &d, 1, NULL, 0), CLB_ESTALE);
    cr_assert_eq(clb_book_apply_diff(&b, 2, 2, &d, 1, &d2, 1), CLB_OK);
    cr_assert_eq(b.update_id, 2);
    clb_book_deinit(&b);
}

Test(order_book, gap_leaves_book_unchanged_until_snapshot)
{
    struct clb_order_book b;
    book_5x5(&b, 16); /* update_id 100 */
    struct dump before;
    dump_book(&b, &before);
    struct clb_level d = L(100, 77);
    cr_assert_eq(clb_book_apply_diff(&b, 102, 103, &d, 1, NULL, 0), CLB_EGAP);
    cr_assert(b.needs_resync);
    before.needs_resync = true;
    assert_unchanged(&b, &before);
    /* Every later diff fails, even a contiguous one. */
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, &d, 1, NULL, 0), CLB_EGAP);
    cr_assert_eq(clb_book_apply_diff(&b, 0, 0, &d, 1, NULL, 0), CLB_EGAP);
    assert_unchanged(&b, &before);
    /* set_level is unsequenced and still works. */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 50, 1), CLB_OK);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 50), 1);
    struct clb_level snap = L(90, 1);
    cr_assert_eq(clb_book_apply_snapshot(&b, 200, &snap, 1, NULL, 0), CLB_OK);
    cr_assert(!b.needs_resync);
    cr_assert_eq(clb_book_apply_diff(&b, 201, 201, &d, 1, NULL, 0), CLB_OK);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 100), 77);
    clb_book_deinit(&b);
}

Test(order_book, bad_diff_leaves_book_byte_for_byte_unchanged)
{
    struct clb_order_book b;
    book_5x5(&b, 16);
    struct dump before;
    dump_book(&b, &before);
    struct clb_level good[] = { L(100, 0), L(99, 5) };
    struct clb_level neg_qty[] = { L(100, 0), L(99, -5) };
    struct clb_level zero_price[] = { L(100, 0), L(0, 5) };
    struct clb_level dup[] = { L(99, 1), L(100, 0), L(99, 2) };
    struct clb_level ask_ok[] = { L(101, 3) };
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, good, 2, neg_qty, 2), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, neg_qty, 2, ask_ok, 1), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, zero_price, 2, ask_ok, 1), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, ask_ok, 1, dup, 3), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, dup, 3, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, NULL, 1, NULL, 0), CLB_EINVAL);
    /* Also when the diff would otherwise be stale or a gap. */
    cr_assert_eq(clb_book_apply_diff(&b, 50, 60, dup, 3, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_diff(&b, 500, 600, dup, 3, NULL, 0), CLB_EINVAL);
    assert_unchanged(&b, &before);
    /* The same price on both sides of one diff is not a duplicate. */
    struct clb_level bid100[] = { L(100, 0) };
    struct clb_level ask100[] = { L(100, 4) };
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, bid100, 1, ask100, 1), CLB_OK);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_SELL, 100), 4);
    cr_assert_eq(b.crossed_levels_removed, 0);
    clb_book_deinit(&b);
}

/* ---- crossed updates ------------------------------------------------------ */

Test(order_book, crossed_updates_remove_the_other_side)
{
    struct clb_order_book b;
    book_5x5(&b, 16); /* bids 100..96, asks 101..105 */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 102, 7), CLB_OK);
    int64_t bp[] = { 102, 100, 99, 98, 97, 96 }, bq[] = { 7, 10, 1, 2, 3, 4 };
    int64_t ap[] = { 103, 104, 105 }, aq[] = { 3, 4, 5 };
    ASSERT_SIDE(&b, CLB_SIDE_BUY, bp, bq);
    ASSERT_SIDE(&b, CLB_SIDE_SELL, ap, aq);
    cr_assert_eq(b.crossed_levels_removed, 2);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_SELL, 99, 8), CLB_OK);
    int64_t bp2[] = { 98, 97, 96 }, bq2[] = { 2, 3, 4 };
    int64_t ap2[] = { 99, 103, 104, 105 }, aq2[] = { 8, 3, 4, 5 };
    ASSERT_SIDE(&b, CLB_SIDE_BUY, bp2, bq2);
    ASSERT_SIDE(&b, CLB_SIDE_SELL, ap2, aq2);
    cr_assert_eq(b.crossed_levels_removed, 5);
    /* A deletion never crosses. */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 150, 0), CLB_OK);
    cr_assert_eq(b.crossed_levels_removed, 5);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_SELL), 4);
    /* Locked: a bid at the best ask removes it. */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 99, 1), CLB_OK);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_SELL, 0)->price, 103);
    cr_assert_eq(b.crossed_levels_removed, 6);
    /* Both sides crossing in one diff: bids apply first, the ask wins. */
    struct clb_level bid[] = { L(110, 1) };
    struct clb_level ask[] = { L(90, 2) };
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, bid, 1, ask, 1), CLB_OK);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_BUY), 0);
    int64_t ap3[] = { 90 }, aq3[] = { 2 };
    ASSERT_SIDE(&b, CLB_SIDE_SELL, ap3, aq3);
    cr_assert_eq(b.crossed_levels_removed, 6 + 3 + 5);
    clb_book_deinit(&b);
}

Test(order_book, diff_deleting_a_level_it_crosses_does_not_count_it)
{
    struct clb_order_book b;
    book_5x5(&b, 16);
    /* The price moves up: ask 101 deleted, bid 101 appears. */
    struct clb_level bids[] = { L(101, 4) };
    struct clb_level asks[] = { L(101, 0), L(106, 1) };
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, bids, 1, asks, 2), CLB_OK);
    cr_assert_eq(b.crossed_levels_removed, 0);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_BUY, 0)->price, 101);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_SELL, 0)->price, 102);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_SELL), 5);
    clb_book_deinit(&b);
}

/* ---- capacity ------------------------------------------------------------- */

Test(order_book, full_side_drops_worse_levels_and_evicts_the_worst)
{
    struct clb_order_book b;
    book_5x5(&b, 5);
    cr_assert_eq(b.dropped_levels, 0);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 95, 1), CLB_OK); /* worse than worst */
    cr_assert_eq(b.dropped_levels, 1);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 95), 0);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 98, 22), CLB_OK); /* existing: update */
    cr_assert_eq(b.dropped_levels, 1);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_SELL, 101, 0), CLB_OK); /* delete */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_SELL, 106, 6), CLB_OK); /* room again */
    cr_assert_eq(b.dropped_levels, 1);
    struct clb_level d[] = { L(100, 0), L(100, 0) };
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, NULL, 0, d, 2), CLB_EINVAL);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 100, 5), CLB_OK); /* update */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 97, 0), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 97, 3), CLB_OK);
    cr_assert_eq(b.dropped_levels, 1);
    /* Between levels on a full side: evicts the worst (96). */
    struct clb_level ins[] = { L(99, 0), L(99, 9) };
    cr_assert_eq(clb_book_apply_diff(&b, 101, 101, ins + 1, 1, NULL, 0), CLB_OK);
    cr_assert_eq(b.dropped_levels, 1);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 99, 0), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 100, 0), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 100, 5), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 99, 9), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 99, 1), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 100, 5), CLB_OK);
    int64_t bp[] = { 100, 99, 98, 97, 96 }, bq[] = { 5, 1, 22, 3, 4 };
    ASSERT_SIDE(&b, CLB_SIDE_BUY, bp, bq);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 100, 0), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 96, 0), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 100, 6), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 96, 4), CLB_OK); /* full again */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 1005, 0), CLB_OK);
    cr_assert_eq(b.dropped_levels, 1);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 100, 0), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 100, 6), CLB_OK);
    /* A new level in the middle of a full side evicts 96. */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 99, 0), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 95, 0), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 95, 7), CLB_OK); /* 4 levels: fits */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 99, 8), CLB_OK); /* full: evict 95 */
    cr_assert_eq(b.dropped_levels, 2);
    int64_t bp2[] = { 100, 99, 98, 97, 96 }, bq2[] = { 6, 8, 22, 3, 4 };
    ASSERT_SIDE(&b, CLB_SIDE_BUY, bp2, bq2);
    /* A new best level of a full side evicts the worst. */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_SELL, 100, 1), CLB_OK);
    cr_assert_eq(b.dropped_levels, 3);
    cr_assert_eq(b.crossed_levels_removed, 1); /* the bid at 100 */
    int64_t ap[] = { 100, 102, 103, 104, 105 }, aq[] = { 1, 2, 3, 4, 5 };
    ASSERT_SIDE(&b, CLB_SIDE_SELL, ap, aq);
    clb_book_deinit(&b);
}

Test(order_book, sliding_window_survives_long_trends)
{
    /* A rising then falling market on a small full book: evictions at the
     * bottom, inserts at the top, re-centring of the window. */
    struct clb_order_book b;
    cr_assert_eq(clb_book_init(&b, 4), CLB_OK);
    for (int64_t p = 1000; p < 3000; p++) {
        cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, p, p), CLB_OK);
        cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_SELL, p + 10, p), CLB_OK);
        cr_assert_eq(clb_book_check(&b), CLB_OK);
        uint32_t n = p - 1000 + 1 < 4 ? (uint32_t)(p - 1000 + 1) : 4;
        cr_assert_eq(clb_book_depth(&b, CLB_SIDE_BUY), n);
        for (uint32_t i = 0; i < n; i++)
            cr_assert_eq(clb_book_level(&b, CLB_SIDE_BUY, i)->price, p - i);
    }
    for (int64_t p = 2990; p > 10; p--) { /* below every ask left */
        cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_SELL, p + 1, 1), CLB_OK);
        cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, p - 1, 1), CLB_OK);
        cr_assert_eq(clb_book_check(&b), CLB_OK);
        cr_assert_eq(clb_book_level(&b, CLB_SIDE_SELL, 0)->price, p + 1);
    }
    /* Inserts below the worst when not full, and deletes at both ends. */
    clb_book_clear(&b);
    for (int r = 0; r < 200; r++) {
        for (int64_t p = 100; p > 96; p--)
            cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, p, 1), CLB_OK);
        cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, (r & 1) ? 97 : 100, 0), CLB_OK);
        cr_assert_eq(clb_book_check(&b), CLB_OK);
        cr_assert_eq(clb_book_depth(&b, CLB_SIDE_BUY), 3);
    }
    clb_book_deinit(&b);
}

Test(order_book, deep_book_finds_levels_below_the_linear_scan)
{
    /* 1000 levels a side, every other tick: hits and misses at every depth. */
    struct clb_order_book b;
    cr_assert_eq(clb_book_init(&b, 1000), CLB_OK);
    static struct clb_level bids[1000], asks[1000];
    for (int i = 0; i < 1000; i++) {
        bids[i] = L(10000 - 2 * i, 1 + i);
        asks[i] = L(10002 + 2 * i, 1 + i);
    }
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, bids, 1000, asks, 1000), CLB_OK);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 10000 - 2 * i), 1 + i);
        cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 10000 - 2 * i - 1), 0);
        cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_SELL, 10002 + 2 * i), 1 + i);
        cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_SELL, 10002 + 2 * i + 1), 0);
    }
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 10001), 0);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_SELL, 1), 0);
    /* Delete and re-insert deep levels (at depth 500: both halves move). */
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 9000, 0), CLB_OK);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_SELL, 11000, 0), CLB_OK);
    cr_assert_eq(clb_book_depth(&b, CLB_SIDE_BUY), 999);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_BUY, 500)->price, 8998);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 8001, 5), CLB_OK);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_BUY, 999)->price, 8001);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_SELL, 11001, 5), CLB_OK);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_SELL, 499)->price, 11001);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 9001, 5), CLB_OK); /* full: evicts 8001 */
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_BUY, 999)->price, 8002);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 8001), 0);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_BUY, 500)->price, 9001);
    cr_assert_eq(b.dropped_levels, 1);
    cr_assert_eq(clb_book_check(&b), CLB_OK);
    clb_book_deinit(&b);
}

Test(order_book, set_level_rejects_bad_input_unchanged)
{
    struct clb_order_book b;
    book_5x5(&b, 8);
    struct dump before;
    dump_book(&b, &before);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 0, 1), CLB_EINVAL);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, -100, 1), CLB_EINVAL);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_SELL, 100, -1), CLB_EINVAL);
    cr_assert_eq(clb_book_set_level(&b, (enum clb_side)7, 100, 1), CLB_EINVAL);
    assert_unchanged(&b, &before);
    struct clb_order_book z;
    memset(&z, 0, sizeof(z));
    cr_assert_eq(clb_book_set_level(&z, CLB_SIDE_BUY, 1, 1), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_snapshot(&z, 1, NULL, 0, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_diff(&z, 1, 1, NULL, 0, NULL, 0), CLB_EINVAL);
    clb_book_deinit(&b);
}

/* ---- simple queries ------------------------------------------------------- */

Test(order_book, mid_qty_at_top_and_levels)
{
    struct clb_order_book b;
    book_5x5(&b, 8);
    double mid;
    cr_assert(clb_book_mid(&b, &mid));
    cr_assert_eq(mid, 100.5);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 98), 2);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_BUY, 101), 0);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_SELL, 105), 5);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_SELL, 100), 0);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_SELL, INT64_MIN), 0);
    cr_assert_eq(clb_book_qty_at(&b, CLB_SIDE_SELL, INT64_MAX), 0);
    struct clb_level out[8];
    memset(out, 0xff, sizeof(out));
    cr_assert_eq(clb_book_top(&b, CLB_SIDE_SELL, out, 3), 3);
    cr_assert_eq(out[0].price, 101);
    cr_assert_eq(out[2].price, 103);
    cr_assert_eq(out[3].price, -1); /* untouched */
    cr_assert_eq(clb_book_top(&b, CLB_SIDE_BUY, out, 8), 5);
    cr_assert_eq(out[0].price, 100);
    cr_assert_eq(out[4].price, 96);
    cr_assert_eq(out[4].qty, 4);
    cr_assert_eq(clb_book_top(&b, CLB_SIDE_BUY, out, 0), 0);
    cr_assert_eq(clb_book_level(&b, CLB_SIDE_SELL, 4)->price, 105);
    cr_assert_eq(clb_book_side_of(&b, CLB_SIDE_BUY), &b.bids);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 100, 0), CLB_OK);
    cr_assert(clb_book_mid(&b, &mid));
    cr_assert_eq(mid, 100.0);
    clb_book_deinit(&b);
}

/* ---- depth queries -------------------------------------------------------- */

static void assert_query(const struct clb_book_query *q, int64_t price, int64_t volume,
                         double quote, bool complete)
{
    cr_assert_eq(q->price, price, "price %lld != %lld", (long long)q->price, (long long)price);
    cr_assert_eq(q->volume, volume, "volume %lld != %lld", (long long)q->volume,
                 (long long)volume);
    cr_assert_eq(q->quote_volume, quote, "quote %.17g != %.17g", q->quote_volume, quote);
    cr_assert_eq(q->vwap, volume ? quote / (double)volume : 0.0, "vwap %.17g", q->vwap);
    cr_assert_eq(q->complete, complete);
}

Test(order_book, price_and_vwap_for_volume)
{
    struct clb_order_book b;
    book_5x5(&b, 8); /* asks 101x10 102x2 103x3 104x4 105x5; bids 100x10 99x1 98x2 97x3 96x4 */
    struct clb_book_query q;
    cr_assert_eq(clb_book_price_for_volume(&b, CLB_SIDE_BUY, 4, &q), CLB_OK);
    assert_query(&q, 101, 4, 404, true);
    cr_assert_eq(clb_book_price_for_volume(&b, CLB_SIDE_BUY, 10, &q), CLB_OK);
    assert_query(&q, 101, 10, 1010, true);
    cr_assert_eq(clb_book_price_for_volume(&b, CLB_SIDE_BUY, 11, &q), CLB_OK);
    assert_query(&q, 102, 11, 1112, true);
    cr_assert_eq(clb_book_vwap_for_volume(&b, CLB_SIDE_BUY, 13, &q), CLB_OK);
    assert_query(&q, 103, 13, 1010 + 204 + 103, true);
    cr_assert_eq(q.vwap, 1317.0 / 13.0);
    cr_assert_eq(clb_book_price_for_volume(&b, CLB_SIDE_SELL, 12, &q), CLB_OK);
    assert_query(&q, 98, 12, 1000 + 99 + 98, true);
    /* Not enough: everything there is, complete = false. */
    cr_assert_eq(clb_book_price_for_volume(&b, CLB_SIDE_SELL, 1000, &q), CLB_OK);
    assert_query(&q, 96, 20, 1000 + 99 + 196 + 291 + 384, false);
    cr_assert_eq(clb_book_vwap_for_volume(&b, CLB_SIDE_BUY, INT64_MAX, &q), CLB_OK);
    assert_query(&q, 105, 24, 1010 + 204 + 309 + 416 + 525, false);
    /* Bad arguments: q untouched. */
    struct clb_book_query keep = { .price = 1, .volume = 2, .quote_volume = 3, .vwap = 4 };
    q = keep;
    cr_assert_eq(clb_book_price_for_volume(&b, CLB_SIDE_BUY, 0, &q), CLB_EINVAL);
    cr_assert_eq(clb_book_vwap_for_volume(&b, CLB_SIDE_BUY, -5, &q), CLB_EINVAL);
    cr_assert_eq(clb_book_price_for_volume(&b, (enum clb_side)3, 5, &q), CLB_EINVAL);
    cr_assert_eq(memcmp(&q, &keep, sizeof(q)), 0);
    clb_book_deinit(&b);
}

Test(order_book, volume_and_quote_volume_for_price)
{
    struct clb_order_book b;
    book_5x5(&b, 8);
    struct clb_book_query q;
    cr_assert_eq(clb_book_volume_for_price(&b, CLB_SIDE_BUY, 103, &q), CLB_OK);
    assert_query(&q, 103, 15, 1010 + 204 + 309, true);
    cr_assert_eq(clb_book_quote_volume_for_price(&b, CLB_SIDE_BUY, 103, &q), CLB_OK);
    assert_query(&q, 103, 15, 1523, true);
    /* Between levels. */
    cr_assert_eq(clb_book_volume_for_price(&b, CLB_SIDE_SELL, 97, &q), CLB_OK);
    assert_query(&q, 97, 16, 1000 + 99 + 196 + 291, true);
    /* Past the worst level: all of it, but the side may be truncated. */
    cr_assert_eq(clb_book_volume_for_price(&b, CLB_SIDE_BUY, 200, &q), CLB_OK);
    assert_query(&q, 105, 24, 2464, false);
    cr_assert_eq(clb_book_quote_volume_for_price(&b, CLB_SIDE_SELL, 1, &q), CLB_OK);
    assert_query(&q, 96, 20, 1970, false);
    /* Nothing at or better than the price. */
    cr_assert_eq(clb_book_volume_for_price(&b, CLB_SIDE_BUY, 100, &q), CLB_OK);
    assert_query(&q, 0, 0, 0, true);
    cr_assert_eq(clb_book_quote_volume_for_price(&b, CLB_SIDE_SELL, 101, &q), CLB_OK);
    assert_query(&q, 0, 0, 0, true);
    struct clb_book_query keep = { .price = 9 };
    q = keep;
    cr_assert_eq(clb_book_volume_for_price(&b, CLB_SIDE_BUY, 0, &q), CLB_EINVAL);
    cr_assert_eq(clb_book_quote_volume_for_price(&b, CLB_SIDE_SELL, -1, &q), CLB_EINVAL);
    cr_assert_eq(clb_book_volume_for_price(&b, (enum clb_side)-1, 100, &q), CLB_EINVAL);
    cr_assert_eq(memcmp(&q, &keep, sizeof(q)), 0);
    clb_book_deinit(&b);
}

Test(order_book, price_for_quote_volume)
{
    struct clb_order_book b;
    book_5x5(&b, 8);
    struct clb_book_query q;
    /* 101 * 10 = 1010 covers 500: ceil(500 / 101) = 5 units costing 505. */
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, 500.0, &q), CLB_OK);
    assert_query(&q, 101, 5, 505, true);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, 505.0, &q), CLB_OK);
    assert_query(&q, 101, 5, 505, true);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, 504.5, &q), CLB_OK);
    assert_query(&q, 101, 5, 505, true);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, 0.25, &q), CLB_OK);
    assert_query(&q, 101, 1, 101, true);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, 1010.0, &q), CLB_OK);
    assert_query(&q, 101, 10, 1010, true);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, 1011.0, &q), CLB_OK);
    assert_query(&q, 102, 11, 1112, true);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_SELL, 1100.0, &q), CLB_OK);
    assert_query(&q, 98, 12, 1197, true);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_SELL, 1e9, &q), CLB_OK);
    assert_query(&q, 96, 20, 1970, false);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_SELL, 1e300, &q), CLB_OK);
    assert_query(&q, 96, 20, 1970, false);
    struct clb_book_query keep = { .price = 9 };
    q = keep;
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, 0.0, &q), CLB_EINVAL);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, -1.0, &q), CLB_EINVAL);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, NAN, &q), CLB_EINVAL);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, INFINITY, &q), CLB_EINVAL);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, (enum clb_side)2, 5.0, &q), CLB_EINVAL);
    cr_assert_eq(memcmp(&q, &keep, sizeof(q)), 0);
    clb_book_deinit(&b);
}

Test(order_book, quote_volumes_beyond_int64_are_exact)
{
    struct clb_order_book b;
    cr_assert_eq(clb_book_init(&b, 8), CLB_OK);
    const int64_t P = 3000000000000LL;      /* 3e12 */
    const int64_t Q = 4000000000000000LL;   /* 4e15: P * Q = 1.2e28 > 2^63 */
    struct clb_level asks[] = { L(P, Q), L(P + 1, Q) };
    cr_assert_eq(clb_book_apply_snapshot(&b, 1, NULL, 0, asks, 2), CLB_OK);
    struct clb_book_query q;
    cr_assert_eq(clb_book_price_for_volume(&b, CLB_SIDE_BUY, Q + 3, &q), CLB_OK);
    i128 exact = (i128)P * Q + (i128)(P + 1) * 3;
    assert_query(&q, P + 1, Q + 3, (double)exact, true);
    cr_assert_eq(clb_book_volume_for_price(&b, CLB_SIDE_BUY, P + 1, &q), CLB_OK);
    exact = (i128)P * Q + (i128)(P + 1) * Q;
    assert_query(&q, P + 1, 2 * Q, (double)exact, false);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_BUY, 1.5e28, &q), CLB_OK);
    cr_assert_eq(q.price, P + 1);
    cr_assert(q.quote_volume >= 1.5e28 && q.quote_volume < 1.5e28 + 4e12);
    cr_assert(q.complete);
    /* Volumes past int64 saturate in volume_for_price; sums stay finite. */
    struct clb_level big[] = { L(INT64_MAX - 1, INT64_MAX), L(INT64_MAX - 2, INT64_MAX),
                               L(INT64_MAX - 3, INT64_MAX) };
    cr_assert_eq(clb_book_apply_snapshot(&b, 2, big, 3, NULL, 0), CLB_OK);
    cr_assert_eq(clb_book_volume_for_price(&b, CLB_SIDE_SELL, 1, &q), CLB_OK);
    cr_assert_eq(q.volume, INT64_MAX);
    cr_assert_eq(q.quote_volume, 0x1p126);
    cr_assert(!q.complete);
    cr_assert_eq(clb_book_price_for_quote_volume(&b, CLB_SIDE_SELL, 1e300, &q), CLB_OK);
    cr_assert_eq(q.volume, INT64_MAX);
    cr_assert(!q.complete);
    cr_assert_eq(clb_book_price_for_volume(&b, CLB_SIDE_SELL, INT64_MAX, &q), CLB_OK);
    cr_assert_eq(q.price, INT64_MAX - 1);
    cr_assert(q.complete);
    clb_book_deinit(&b);
}

/* ---- property test against a naive reference -------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t rnd(uint64_t *s, uint64_t n) /* [0, n) */
{
    return splitmix64(s) % n;
}

#define REF_CAP 64

/* Unsorted levels; every lookup is a linear scan. */
struct ref_side {
    struct clb_level lv[REF_CAP];
    size_t n;
};

struct ref_book {
    struct ref_side bids, asks;
    size_t cap;
    uint64_t update_id, dropped, crossed;
    bool has_snapshot, needs_resync;
};

static bool ref_better(int64_t a, int64_t b, bool bid)
{
    return bid ? a > b : a < b;
}

static void ref_set(struct ref_book *r, bool bid, int64_t price, int64_t qty)
{
    struct ref_side *own = bid ? &r->bids : &r->asks, *opp = bid ? &r->asks : &r->bids;
    if (qty > 0) {
        for (size_t i = 0; i < opp->n;) {
            if (bid ? opp->lv[i].price <= price : opp->lv[i].price >= price) {
                opp->lv[i] = opp->lv[--opp->n];
                r->crossed++;
            } else {
                i++;
            }
        }
    }
    for (size_t i = 0; i < own->n; i++) {
        if (own->lv[i].price == price) {
            if (qty > 0)
                own->lv[i].qty = qty;
            else
                own->lv[i] = own->lv[--own->n];
            return;
        }
    }
    if (qty == 0)
        return;
    if (own->n < r->cap) {
        own->lv[own->n++] = L(price, qty);
        return;
    }
    r->dropped++;
    size_t w = 0;
    for (size_t i = 1; i < own->n; i++)
        if (ref_better(own->lv[w].price, own->lv[i].price, bid))
            w = i;
    if (ref_better(price, own->lv[w].price, bid))
        own->lv[w] = L(price, qty);
}

static bool ref_levels_ok(const struct clb_level *l, size_t n)
{
    if (n > 0 && !l)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (l[i].price <= 0 || l[i].qty < 0)
            return false;
        for (size_t j = 0; j < i; j++)
            if (l[i].price == l[j].price)
                return false;
    }
    return true;
}

static int ref_snapshot(struct ref_book *r, uint64_t id, const struct clb_level *bids, size_t nb,
                        const struct clb_level *asks, size_t na)
{
    if (!ref_levels_ok(bids, nb) || !ref_levels_ok(asks, na))
        return CLB_EINVAL;
    for (size_t i = 0; i < nb; i++)
        for (size_t j = 0; j < na; j++)
            if (bids[i].qty > 0 && asks[j].qty > 0 && bids[i].price >= asks[j].price)
                return CLB_EINVAL;
    r->bids.n = r->asks.n = 0;
    uint64_t crossed = r->crossed;
    for (size_t i = 0; i < nb; i++)
        if (bids[i].qty > 0)
            ref_set(r, true, bids[i].price, bids[i].qty);
    for (size_t i = 0; i < na; i++)
        if (asks[i].qty > 0)
            ref_set(r, false, asks[i].price, asks[i].qty);
    cr_assert_eq(r->crossed, crossed); /* not crossed: nothing removed */
    r->update_id = id;
    r->has_snapshot = true;
    r->needs_resync = false;
    return CLB_OK;
}

static int ref_diff(struct ref_book *r, uint64_t first, uint64_t last,
                    const struct clb_level *bids, size_t nb, const struct clb_level *asks,
                    size_t na)
{
    if (first != 0 && first > last)
        return CLB_EINVAL;
    if (!ref_levels_ok(bids, nb) || !ref_levels_ok(asks, na))
        return CLB_EINVAL;
    if (!r->has_snapshot)
        return CLB_ENOTREADY;
    if (r->needs_resync)
        return CLB_EGAP;
    if (last != 0 && last <= r->update_id)
        return CLB_ESTALE;
    if (first != 0 && (i128)first > (i128)r->update_id + 1) {
        r->needs_resync = true;
        return CLB_EGAP;
    }
    for (size_t i = 0; i < nb; i++)
        if (bids[i].qty == 0)
            ref_set(r, true, bids[i].price, 0);
    for (size_t i = 0; i < na; i++)
        if (asks[i].qty == 0)
            ref_set(r, false, asks[i].price, 0);
    for (size_t i = 0; i < nb; i++)
        if (bids[i].qty > 0)
            ref_set(r, true, bids[i].price, bids[i].qty);
    for (size_t i = 0; i < na; i++)
        if (asks[i].qty > 0)
            ref_set(r, false, asks[i].price, asks[i].qty);
    if (last != 0)
        r->update_id = last;
    return CLB_OK;
}

/* Copies a side best first (selection sort: the reference stays naive). */
static size_t ref_sorted(const struct ref_side *s, bool bid, struct clb_level *out)
{
    memcpy(out, s->lv, s->n * sizeof(*out));
    for (size_t i = 0; i < s->n; i++) {
        size_t best = i;
        for (size_t j = i + 1; j < s->n; j++)
            if (ref_better(out[j].price, out[best].price, bid))
                best = j;
        struct clb_level t = out[i];
        out[i] = out[best];
        out[best] = t;
    }
    return s->n;
}

static void ref_fill(struct clb_book_query *q, int64_t price, i128 vol, i128 quote, bool complete)
{
    q->price = price;
    q->volume = vol > INT64_MAX ? INT64_MAX : (int64_t)vol;
    q->quote_volume = (double)quote;
    q->vwap = vol > 0 ? q->quote_volume / (double)vol : 0.0;
    q->complete = complete;
}

/* kind: 0 price_for_volume, 1 vwap_for_volume, 2 volume_for_price,
 * 3 quote_volume_for_price, 4 price_for_quote_volume. No saturation: the
 * random books stay far below 2^126. */
struct ref_view {
    struct clb_level bids[REF_CAP], asks[REF_CAP]; /* best first */
    size_t nb, na;
};

static int ref_query(const struct ref_view *v, int kind, enum clb_side taker, int64_t amount,
                     double quote, struct clb_book_query *q)
{
    if (taker != CLB_SIDE_BUY && taker != CLB_SIDE_SELL)
        return CLB_EINVAL;
    if (kind == 4 ? !(quote > 0 && isfinite(quote)) : amount <= 0)
        return CLB_EINVAL;
    bool bid = taker == CLB_SIDE_SELL;
    const struct clb_level *lv = bid ? v->bids : v->asks;
    size_t n = bid ? v->nb : v->na;
    if (n == 0)
        return CLB_ENOTREADY;
    i128 vol = 0, cost = 0;
    if (kind <= 1) {
        for (size_t i = 0; i < n; i++) {
            if (vol + lv[i].qty >= amount) {
                cost += (i128)lv[i].price * (amount - vol);
                ref_fill(q, lv[i].price, amount, cost, true);
                return CLB_OK;
            }
            vol += lv[i].qty;
            cost += (i128)lv[i].price * lv[i].qty;
        }
        ref_fill(q, lv[n - 1].price, vol, cost, false);
    } else if (kind <= 3) {
        int64_t last = 0;
        size_t i = 0;
        for (; i < n && !ref_better(amount, lv[i].price, bid); i++) {
            vol += lv[i].qty;
            cost += (i128)lv[i].price * lv[i].qty;
            last = lv[i].price;
        }
        ref_fill(q, last, vol, cost, i < n);
    } else {
        /* An integer cost reaches quote iff it reaches ceil(quote); the units
         * taken from the last level are found by bisection. */
        i128 target = (i128)ceil(quote);
        for (size_t i = 0; i < n; i++) {
            int64_t px = lv[i].price;
            i128 level = (i128)px * lv[i].qty;
            if (cost + level >= target) {
                int64_t lo = 1, hi = lv[i].qty;
                while (lo < hi) {
                    int64_t mid = lo + (hi - lo) / 2;
                    if (cost + (i128)px * mid >= target)
                        hi = mid;
                    else
                        lo = mid + 1;
                }
                ref_fill(q, px, vol + lo, cost + (i128)px * lo, true);
                return CLB_OK;
            }
            vol += lv[i].qty;
            cost += level;
        }
        ref_fill(q, lv[n - 1].price, vol, cost, false);
    }
    return CLB_OK;
}

static int book_query(const struct clb_order_book *b, int kind, enum clb_side taker,
                      int64_t amount, double quote, struct clb_book_query *q)
{
    switch (kind) {
    case 0:
        return clb_book_price_for_volume(b, taker, amount, q);
    case 1:
        return clb_book_vwap_for_volume(b, taker, amount, q);
    case 2:
        return clb_book_volume_for_price(b, taker, amount, q);
    case 3:
        return clb_book_quote_volume_for_price(b, taker, amount, q);
    default:
        return clb_book_price_for_quote_volume(b, taker, quote, q);
    }
}

static void mix(uint64_t *h, uint64_t v)
{
    *h = (*h ^ v) * 0x100000001B3ull;
    *h ^= *h >> 29;
}

static uint64_t dbits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof(u));
    return u;
}

struct prop_cfg {
    uint64_t seed;
    uint32_t cap;   /* <= REF_CAP */
    int64_t kmax;   /* prices are k * tick, k in [1, kmax] */
    int64_t tick;
    int64_t qty_mult;
    int64_t reach;  /* diffs and set_level land within reach levels of mid */
    int ops;
};

struct prop {
    const struct prop_cfg *cfg;
    uint64_t s;       /* PRNG state */
    int64_t mid_k;    /* drifting centre of generated prices */
    struct clb_order_book b;
    struct ref_book r;
    struct ref_view v;
    uint64_t hash;
    int op;
};

static int64_t gen_qty(struct prop *p)
{
    return (1 + (int64_t)rnd(&p->s, 1000)) * p->cfg->qty_mult + (int64_t)rnd(&p->s, 7);
}

/* n levels with distinct k in [lo, hi] (clipped to [1, kmax]); zero_pct% of
 * them with qty 0. */
static size_t gen_levels(struct prop *p, struct clb_level *out, size_t n, int64_t lo, int64_t hi,
                         int zero_pct)
{
    if (lo < 1)
        lo = 1;
    if (hi > p->cfg->kmax)
        hi = p->cfg->kmax;
    if (hi < lo)
        return 0;
    if ((int64_t)n > hi - lo + 1)
        n = (size_t)(hi - lo + 1);
    for (size_t i = 0; i < n; i++) {
        int64_t price;
        bool dup;
        do {
            price = (lo + (int64_t)rnd(&p->s, (uint64_t)(hi - lo + 1))) * p->cfg->tick;
            dup = false;
            for (size_t j = 0; j < i; j++)
                dup = dup || out[j].price == price;
        } while (dup);
        out[i] = L(price, (int)rnd(&p->s, 100) < zero_pct ? 0 : gen_qty(p));
    }
    return n;
}

static int cmp_best_first_bid(const void *a, const void *b)
{
    int64_t x = ((const struct clb_level *)a)->price, y = ((const struct clb_level *)b)->price;
    return (x < y) - (x > y);
}

static int cmp_best_first_ask(const void *a, const void *b)
{
    return -cmp_best_first_bid(a, b);
}

/* Breaks a level list in one of the ways validation must catch. */
static void corrupt(struct prop *p, struct clb_level *l, size_t n)
{
    if (n == 0)
        return;
    size_t i = rnd(&p->s, n);
    switch (rnd(&p->s, 4)) {
    case 0:
        l[i].price = 0;
        break;
    case 1:
        l[i].price = -l[i].price;
        break;
    case 2:
        l[i].qty = -1 - (int64_t)rnd(&p->s, 5);
        break;
    default:
        if (n >= 2) {
            size_t j = (i + 1 + rnd(&p->s, n - 1)) % n;
            l[j].price = l[i].price;
        } else {
            l[i].qty = -1;
        }
        break;
    }
}

static void view_refresh(struct prop *p)
{
    p->v.nb = ref_sorted(&p->r.bids, true, p->v.bids);
    p->v.na = ref_sorted(&p->r.asks, false, p->v.asks);
}

static void compare_side(struct prop *p, enum clb_side side, const struct clb_level *want,
                         size_t n)
{
    cr_assert_eq(clb_book_depth(&p->b, side), n, "op %d: %s depth %u != %zu", p->op,
                 clb_side_name(side), clb_book_depth(&p->b, side), n);
    for (size_t i = 0; i < n; i++) {
        const struct clb_level *l = clb_book_level(&p->b, side, (uint32_t)i);
        cr_assert_eq(l->price, want[i].price, "op %d: %s level %zu", p->op, clb_side_name(side),
                     i);
        cr_assert_eq(l->qty, want[i].qty, "op %d: %s qty %zu", p->op, clb_side_name(side), i);
        mix(&p->hash, (uint64_t)l->price);
        mix(&p->hash, (uint64_t)l->qty);
    }
}

static void compare_state(struct prop *p)
{
    view_refresh(p);
    cr_assert_eq(clb_book_check(&p->b), CLB_OK, "op %d", p->op);
    compare_side(p, CLB_SIDE_BUY, p->v.bids, p->v.nb);
    compare_side(p, CLB_SIDE_SELL, p->v.asks, p->v.na);
    cr_assert_eq(p->b.update_id, p->r.update_id, "op %d", p->op);
    cr_assert_eq(p->b.has_snapshot, p->r.has_snapshot, "op %d", p->op);
    cr_assert_eq(p->b.needs_resync, p->r.needs_resync, "op %d", p->op);
    cr_assert_eq(p->b.dropped_levels, p->r.dropped, "op %d: dropped %llu, want %llu", p->op,
                 (unsigned long long)p->b.dropped_levels, (unsigned long long)p->r.dropped);
    cr_assert_eq(p->b.crossed_levels_removed, p->r.crossed, "op %d: crossed %llu, want %llu",
                 p->op, (unsigned long long)p->b.crossed_levels_removed,
                 (unsigned long long)p->r.crossed);
    mix(&p->hash, p->b.update_id);
    mix(&p->hash, p->b.dropped_levels * 3 + p->b.crossed_levels_removed);
    struct clb_level bb = L(0, 0), ba = L(0, 0);
    bool hb = clb_book_best_bid(&p->b, &bb), ha = clb_book_best_ask(&p->b, &ba);
    cr_assert_eq(hb, p->v.nb > 0);
    cr_assert_eq(ha, p->v.na > 0);
    if (hb)
        cr_assert_eq(bb.price, p->v.bids[0].price);
    if (ha)
        cr_assert_eq(ba.price, p->v.asks[0].price);
    double mid = -1;
    cr_assert_eq(clb_book_mid(&p->b, &mid), hb && ha);
    if (hb && ha)
        cr_assert_eq(mid, ((double)bb.price + (double)ba.price) / 2.0);
}

static void random_queries(struct prop *p)
{
    const struct prop_cfg *c = p->cfg;
    for (int t = 0; t < 4; t++) {
        int kind = (int)rnd(&p->s, 5);
        enum clb_side taker = rnd(&p->s, 50) == 0 ? (enum clb_side)2
                                                  : (enum clb_side)rnd(&p->s, 2);
        int64_t amount = 0;
        double quote = 0;
        bool bad = rnd(&p->s, 40) == 0;
        if (kind <= 1) {
            amount = bad ? -(int64_t)rnd(&p->s, 2)
                         : 1 + (int64_t)rnd(&p->s, (uint64_t)(12000 * c->qty_mult));
        } else if (kind <= 3) {
            int64_t k = p->mid_k - c->reach + (int64_t)rnd(&p->s, (uint64_t)(2 * c->reach + 1));
            amount = bad ? -(int64_t)rnd(&p->s, 2) : (k < 1 ? 1 : k) * c->tick;
        } else {
            double f = (double)rnd(&p->s, 1u << 30) / (double)(1u << 30);
            quote = f * 12000.0 * (double)c->qty_mult * (double)c->tick * (double)p->mid_k;
            if (rnd(&p->s, 4) == 0)
                quote = floor(quote);
            if (bad)
                quote = rnd(&p->s, 2) ? -quote : NAN;
        }
        struct clb_book_query got = { .price = -7, .volume = -7 }, want = got;
        int rc = book_query(&p->b, kind, taker, amount, quote, &got);
        int rrc = ref_query(&p->v, kind, taker, amount, quote, &want);
        cr_assert_eq(rc, rrc, "op %d: query %d rc %d != %d", p->op, kind, rc, rrc);
        cr_assert_eq(got.price, want.price, "op %d: query %d price", p->op, kind);
        cr_assert_eq(got.volume, want.volume, "op %d: query %d volume %lld != %lld", p->op, kind,
                     (long long)got.volume, (long long)want.volume);
        cr_assert_eq(got.quote_volume, want.quote_volume, "op %d: query %d quote", p->op, kind);
        cr_assert_eq(got.vwap, want.vwap, "op %d: query %d vwap", p->op, kind);
        cr_assert_eq(got.complete, want.complete, "op %d: query %d complete", p->op, kind);
        mix(&p->hash, (uint64_t)rc);
        mix(&p->hash, (uint64_t)got.price ^ (uint64_t)got.volume);
        mix(&p->hash, dbits(got.quote_volume) ^ dbits(got.vwap) ^ got.complete);
    }
    /* qty_at and top against the reference. */
    enum clb_side side = (enum clb_side)rnd(&p->s, 2);
    int64_t k = p->mid_k - c->reach + (int64_t)rnd(&p->s, (uint64_t)(2 * c->reach + 1));
    int64_t price = k * c->tick;
    const struct ref_side *rs = side == CLB_SIDE_BUY ? &p->r.bids : &p->r.asks;
    int64_t want = 0;
    for (size_t i = 0; i < rs->n; i++)
        if (rs->lv[i].price == price)
            want = rs->lv[i].qty;
    cr_assert_eq(clb_book_qty_at(&p->b, side, price), want, "op %d: qty_at", p->op);
    struct clb_level top[REF_CAP];
    size_t n = rnd(&p->s, REF_CAP);
    size_t got = clb_book_top(&p->b, side, top, n);
    const struct clb_level *ref = side == CLB_SIDE_BUY ? p->v.bids : p->v.asks;
    size_t rn = side == CLB_SIDE_BUY ? p->v.nb : p->v.na;
    cr_assert_eq(got, n < rn ? n : rn);
    for (size_t i = 0; i < got; i++)
        cr_assert(top[i].price == ref[i].price && top[i].qty == ref[i].qty, "op %d: top",
                  p->op);
}

static void op_snapshot(struct prop *p)
{
    const struct prop_cfg *c = p->cfg;
    struct clb_level bids[2 * REF_CAP], asks[2 * REF_CAP];
    size_t max = c->cap + c->cap / 2 + 1;
    size_t nb = gen_levels(p, bids, rnd(&p->s, max + 1), 1, p->mid_k, 10);
    size_t na = gen_levels(p, asks, rnd(&p->s, max + 1), p->mid_k + 1, c->kmax, 10);
    if (rnd(&p->s, 2)) {
        qsort(bids, nb, sizeof(*bids), cmp_best_first_bid);
        qsort(asks, na, sizeof(*asks), cmp_best_first_ask);
    }
    uint64_t roll = rnd(&p->s, 20);
    if (roll == 0)
        corrupt(p, bids, nb);
    else if (roll == 1)
        corrupt(p, asks, na);
    else if (roll == 2 && na > 0 && nb > 0)
        asks[rnd(&p->s, na)].price = bids[rnd(&p->s, nb)].price; /* crossed or locked */
    uint64_t id = rnd(&p->s, 3) ? p->r.update_id + rnd(&p->s, 50) : rnd(&p->s, 1000);
    int rc = clb_book_apply_snapshot(&p->b, id, bids, nb, asks, na);
    int rrc = ref_snapshot(&p->r, id, bids, nb, asks, na);
    cr_assert_eq(rc, rrc, "op %d: snapshot rc %d != %d", p->op, rc, rrc);
    mix(&p->hash, (uint64_t)rc);
}

static void reverse_levels(struct clb_level *l, size_t n)
{
    for (size_t i = 0; i < n / 2; i++) {
        struct clb_level t = l[i];
        l[i] = l[n - 1 - i];
        l[n - 1 - i] = t;
    }
}

static void op_diff(struct prop *p)
{
    struct clb_level bids[24], asks[24];
    size_t max = rnd(&p->s, 3) == 0 ? 24 : 6;
    int64_t r = p->cfg->reach;
    size_t nb = gen_levels(p, bids, rnd(&p->s, max + 1), p->mid_k - r, p->mid_k + 6, 30);
    size_t na = gen_levels(p, asks, rnd(&p->s, max + 1), p->mid_k - 5, p->mid_k + 1 + r, 30);
    /* sorted lists (an exchange's usual order, best first, or worst
     * first) take the one-merge-per-side path when they are long enough */
    uint64_t order = rnd(&p->s, 3);
    if (order > 0) {
        qsort(bids, nb, sizeof(*bids), cmp_best_first_bid);
        qsort(asks, na, sizeof(*asks), cmp_best_first_ask);
    }
    if (order == 2) {
        reverse_levels(bids, nb);
        reverse_levels(asks, na);
    }
    if (rnd(&p->s, 25) == 0)
        corrupt(p, rnd(&p->s, 2) ? bids : asks, rnd(&p->s, 2) ? nb : na);
    uint64_t id = p->r.update_id, first, last;
    uint64_t roll = rnd(&p->s, 100);
    if (roll < 70) { /* contiguous */
        first = id + 1;
        last = first + rnd(&p->s, 4);
    } else if (roll < 78) { /* overlapping the book */
        first = id > 3 ? id - rnd(&p->s, 3) : 1;
        last = id + 1 + rnd(&p->s, 3);
    } else if (roll < 86) { /* stale */
        last = id > 0 ? id - rnd(&p->s, id < 5 ? id : 5) : 0;
        first = last > 2 ? last - rnd(&p->s, 3) : (last ? 1 : 0);
    } else if (roll < 90) { /* gap */
        first = id + 2 + rnd(&p->s, 5);
        last = first + rnd(&p->s, 3);
    } else if (roll < 96) { /* unsequenced */
        first = 0;
        last = rnd(&p->s, 2) ? 0 : id + rnd(&p->s, 3);
    } else { /* malformed ids */
        first = id + 5;
        last = id + 1 + rnd(&p->s, 3);
    }
    const struct clb_level *bp = bids, *ap = asks;
    if (rnd(&p->s, 200) == 0)
        bp = NULL, nb = nb ? nb : 1;
    int rc = clb_book_apply_diff(&p->b, first, last, bp, nb, ap, na);
    int rrc = ref_diff(&p->r, first, last, bp, nb, ap, na);
    cr_assert_eq(rc, rrc, "op %d: diff rc %d != %d", p->op, rc, rrc);
    mix(&p->hash, (uint64_t)rc);
}

static void op_set_level(struct prop *p)
{
    enum clb_side side = (enum clb_side)rnd(&p->s, 2);
    int64_t r = p->cfg->reach;
    int64_t k = p->mid_k - r + (int64_t)rnd(&p->s, (uint64_t)(2 * r + 1));
    int64_t price = (k < 1 ? 1 : k) * p->cfg->tick;
    int64_t qty = rnd(&p->s, 3) == 0 ? 0 : gen_qty(p);
    uint64_t bad = rnd(&p->s, 60);
    if (bad == 0)
        price = -(int64_t)rnd(&p->s, 2);
    else if (bad == 1)
        qty = -1;
    else if (bad == 2)
        side = (enum clb_side)5;
    int rc = clb_book_set_level(&p->b, side, price, qty);
    int rrc = CLB_EINVAL;
    if (price > 0 && qty >= 0 && (side == CLB_SIDE_BUY || side == CLB_SIDE_SELL)) {
        ref_set(&p->r, side == CLB_SIDE_BUY, price, qty);
        rrc = CLB_OK;
    }
    cr_assert_eq(rc, rrc, "op %d: set_level", p->op);
    mix(&p->hash, (uint64_t)rc);
}

static uint64_t run_prop(const struct prop_cfg *cfg)
{
    cr_assert_leq(cfg->cap, REF_CAP);
    struct prop *p = calloc(1, sizeof(*p));
    cr_assert_not_null(p);
    p->cfg = cfg;
    p->s = cfg->seed;
    p->mid_k = cfg->kmax / 2;
    p->hash = 0xcbf29ce484222325ull;
    p->r.cap = cfg->cap;
    cr_assert_eq(clb_book_init(&p->b, cfg->cap), CLB_OK);
    int counts[6] = { 0 };
    for (p->op = 0; p->op < cfg->ops; p->op++) {
        if (rnd(&p->s, 3) == 0) {
            p->mid_k += rnd(&p->s, 2) ? 1 : -1;
            if (p->mid_k < cfg->kmax / 4)
                p->mid_k = cfg->kmax / 4;
            if (p->mid_k > 3 * cfg->kmax / 4)
                p->mid_k = 3 * cfg->kmax / 4;
        }
        uint64_t roll = rnd(&p->s, 1000);
        if (roll < 20 || (!p->r.has_snapshot && roll < 100)) {
            op_snapshot(p);
            counts[0]++;
        } else if (roll < 23) {
            clb_book_clear(&p->b);
            p->r.bids.n = p->r.asks.n = 0;
            p->r.update_id = 0;
            p->r.has_snapshot = p->r.needs_resync = false;
            counts[1]++;
        } else if (roll < 650) {
            op_diff(p);
            counts[2]++;
        } else if (roll < 850) {
            op_set_level(p);
            counts[3]++;
        } else {
            counts[4]++;
        }
        compare_state(p);
        random_queries(p);
    }
    /* The sequence exercised what it should. */
    cr_assert_gt(p->b.dropped_levels, 100);
    cr_assert_gt(p->b.crossed_levels_removed, 100);
    for (int i = 0; i < 5; i++)
        cr_assert_gt(counts[i], 10, "op kind %d ran %d times", i, counts[i]);
    uint64_t h = p->hash;
    clb_book_deinit(&p->b);
    free(p);
    return h;
}

Test(order_book_property, small_book_small_prices_100k_ops)
{
    struct prop_cfg cfg = { .seed = 0x5eed0001, .cap = 8, .kmax = 60, .tick = 1,
                            .qty_mult = 1, .reach = 15, .ops = 100000 };
    run_prop(&cfg);
}

Test(order_book_property, deeper_book_prices_and_quotes_beyond_int64_100k_ops)
{
    struct prop_cfg cfg = { .seed = 0x5eed0002, .cap = 64, .kmax = 240,
                            .tick = 1000000000LL, .qty_mult = 1000000LL, .reach = 70,
                            .ops = 100000 };
    run_prop(&cfg);
}

/* Tiny sides (1 to 6 levels) overflow and cross on most diffs: the
 * one-merge-per-side path must count and keep exactly what level by level
 * application in the list's order does, over many seeds. */
Test(order_book_property, tiny_sides_many_seeds)
{
    for (uint64_t k = 0; k < 24; k++) {
        struct prop_cfg cfg = { .seed = 0x7a11 + k * 7919, .cap = 1 + (uint32_t)(k % 6),
                                .kmax = 40, .tick = 1, .qty_mult = 1, .reach = 12,
                                .ops = 20000 };
        run_prop(&cfg);
    }
}

Test(order_book_property, same_seed_same_result)
{
    struct prop_cfg cfg = { .seed = 42, .cap = 12, .kmax = 80, .tick = 7, .qty_mult = 3,
                            .reach = 20, .ops = 20000 };
    uint64_t h1 = run_prop(&cfg);
    uint64_t h2 = run_prop(&cfg);
    cr_assert_eq(h1, h2);
    cfg.seed = 43;
    uint64_t h3 = run_prop(&cfg);
    cr_assert_neq(h1, h3);
}

/* `changes` counts the calls that changed (or may have changed) the levels,
 * and nothing else: the matching engine relies on it to skip work. */
Test(order_book, changes_counts_successful_updates_only)
{
    struct clb_order_book b;
    cr_assert_eq(clb_book_init(&b, 16), CLB_OK);
    uint64_t c0 = b.changes;
    const struct clb_level bid = { 100, 5 }, ask = { 101, 5 }, bad = { -1, 5 };
    cr_assert_eq(clb_book_apply_snapshot(&b, 10, &bid, 1, &ask, 1), CLB_OK);
    cr_assert_eq(b.changes, c0 + 1);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, 99, 3), CLB_OK);
    cr_assert_eq(b.changes, c0 + 2);
    cr_assert_eq(clb_book_set_level(&b, CLB_SIDE_BUY, -5, 3), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_diff(&b, 11, 11, &bad, 1, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_book_apply_diff(&b, 5, 9, &bid, 1, NULL, 0), CLB_ESTALE);
    cr_assert_eq(b.changes, c0 + 2, "refused updates must not count");
    cr_assert_eq(clb_book_apply_diff(&b, 11, 11, &bid, 1, NULL, 0), CLB_OK);
    cr_assert_eq(b.changes, c0 + 3);
    cr_assert_eq(clb_book_apply_diff(&b, 20, 21, &bid, 1, NULL, 0), CLB_EGAP);
    cr_assert_eq(b.changes, c0 + 3);
    clb_book_clear(&b);
    cr_assert_eq(b.changes, c0 + 4);
    clb_book_deinit(&b);
}
