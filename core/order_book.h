/*
 * order_book.h — an L2 order book: price levels of one market, kept in sync
 * with an exchange through a snapshot and sequenced diffs.
 *
 * Prices and quantities are int64 integers at the market's price_scale /
 * qty_scale (market.h). Each side is a sorted array of levels with the best
 * price at the END (bids ascending, asks descending): reading the best price
 * is one load, and the updates that matter (near the top) move few bytes.
 * Capacity is fixed at init (max_levels per side); applying a diff, a level
 * change or a query never allocates. When a side is full, a new level beyond
 * the worst kept one is dropped and a new level better than it evicts the
 * worst one (counted in `dropped_levels`): a book keeps its top max_levels.
 *
 * Sequencing (Binance's algorithm): a diff carries first/last update ids
 * (U/u). Diffs with last <= update_id are stale and ignored; a diff whose
 * first > update_id + 1 is a gap: the book is left unchanged, flagged
 * `needs_resync`, and every later diff fails with CLB_EGAP until a snapshot
 * is applied. A first id of 0 means the feed has no sequence (no gap check).
 *
 * Crossed updates: setting a bid at p removes asks at or below p, and setting
 * an ask at p removes bids at or above p — the newest information wins
 * (counted in `crossed_levels_removed`).
 *
 * Every update is validated before anything changes: a price <= 0, a negative
 * quantity or a level list with a repeated price is CLB_EINVAL and leaves
 * the book as it was. Not thread-safe; owned by one thread (the worker).
 *
 * Layout detail (readers only need lv/n): a side's window [lv, lv + n) slides
 * inside a buffer of `room` = 2 * cap levels starting at `mem`, so evicting
 * the worst level is `lv++` and an insert shifts whichever part of the window
 * is shorter. Do not keep pointers to levels across updates.
 */
#ifndef CLB_ORDER_BOOK_H
#define CLB_ORDER_BOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h" /* struct clb_level */
#include "market.h"

struct clb_book_side {
    struct clb_level *lv; /* sorted, best last */
    uint32_t n;
    uint32_t cap;
    struct clb_level *mem; /* buffer the window lv[0..n) lives in */
    uint32_t room;         /* levels in mem (2 * cap) */
};

/* Largest max_levels clb_book_init accepts. */
#define CLB_BOOK_MAX_LEVELS (1u << 20)

struct clb_order_book {
    struct clb_book_side bids;
    struct clb_book_side asks;
    uint64_t update_id;     /* last applied exchange update id */
    bool has_snapshot;      /* a snapshot has been applied */
    bool needs_resync;      /* a gap was seen; apply a snapshot */
    uint64_t dropped_levels;
    uint64_t crossed_levels_removed;
    /* Calls that may have changed the levels: one per successful
     * set_level, diff, snapshot and clear. With dropped_levels and
     * crossed_levels_removed (the changes a set_level makes beyond its own
     * level), it lets a reader that mirrors some levels and is told of each
     * set_level (the matching engine, matching.h) see that nothing else
     * changed. */
    uint64_t changes;
    struct clb_level *scratch; /* cap levels: duplicate checks of long level lists */
};

/* Result of a depth query. Prices and volumes at the book's scales. */
struct clb_book_query {
    int64_t price;       /* price of the last level reached */
    int64_t volume;      /* base volume covered (<= requested when incomplete) */
    double quote_volume; /* sum of price*qty over the volume covered (scaled units) */
    double vwap;         /* quote_volume / volume, scaled price units */
    bool complete;       /* the book held the whole requested amount */
};

/* Allocates room for max_levels (1..CLB_BOOK_MAX_LEVELS) per side (about
 * 80 bytes per level in all). CLB_EINVAL, CLB_ENOMEM (the struct is then
 * zeroed, and deinit is harmless). The caller owns the struct; release with
 * clb_book_deinit, which may also be called on a zeroed struct. */
int clb_book_init(struct clb_order_book *b, uint32_t max_levels);
void clb_book_deinit(struct clb_order_book *b);

/* Empties both sides and forgets the sequence (has_snapshot = false,
 * needs_resync = false, update_id = 0). The counters are kept. */
void clb_book_clear(struct clb_order_book *b);

/* Replaces the book with a snapshot at update_id. Levels may come in any
 * order; zero-quantity levels are ignored. Clears needs_resync.
 * CLB_EINVAL on bad levels (book unchanged); a crossed snapshot (best bid >=
 * best ask) counts as bad levels. A side longer than max_levels keeps its
 * best max_levels (the rest counted in dropped_levels). Best-first input
 * (the exchanges' order) is copied in O(n); other orders cost O(n log cap). */
int clb_book_apply_snapshot(struct clb_order_book *b, uint64_t update_id,
                            const struct clb_level *bids, size_t n_bids,
                            const struct clb_level *asks, size_t n_asks);

/* Applies a sequenced diff (qty 0 deletes a level). Returns CLB_OK,
 * CLB_ESTALE (ignored, book unchanged), CLB_EGAP (book unchanged, needs_resync
 * set), CLB_ENOTREADY (no snapshot yet) or CLB_EINVAL (bad levels).
 * Checks run in this order: CLB_EINVAL (bad levels, or first_id > last_id
 * with first_id != 0), CLB_ENOTREADY, CLB_EGAP (needs_resync already set),
 * CLB_ESTALE (last_id != 0 and last_id <= update_id), CLB_EGAP (first_id >
 * update_id + 1). A last_id of 0 leaves update_id alone; otherwise update_id
 * becomes last_id. Deletions (both sides) apply first, then bid levels, then
 * ask levels, each through the crossed-update rule: when one diff sets both a
 * bid and an ask that cross, the ask wins. */
int clb_book_apply_diff(struct clb_order_book *b, uint64_t first_id, uint64_t last_id,
                        const struct clb_level *bids, size_t n_bids,
                        const struct clb_level *asks, size_t n_asks);

/* Sets one level without sequencing (replay of recorded data, simulators).
 * qty 0 deletes. CLB_OK or CLB_EINVAL (price <= 0, qty < 0, a side other than
 * BUY/SELL). Applies the crossed-update rule. Works with or without a
 * snapshot and leaves update_id and the flags alone. */
int clb_book_set_level(struct clb_order_book *b, enum clb_side side, int64_t price, int64_t qty);

/* Best levels. Return false (and leave *out alone) when the side is empty. */
static inline bool clb_book_best_bid(const struct clb_order_book *b, struct clb_level *out)
{
    if (b->bids.n == 0)
        return false;
    *out = b->bids.lv[b->bids.n - 1];
    return true;
}

static inline bool clb_book_best_ask(const struct clb_order_book *b, struct clb_level *out)
{
    if (b->asks.n == 0)
        return false;
    *out = b->asks.lv[b->asks.n - 1];
    return true;
}

/* Number of levels on a side, and the i-th best level (0 = best) or NULL. */
static inline const struct clb_book_side *clb_book_side_of(const struct clb_order_book *b,
                                                            enum clb_side side)
{
    return side == CLB_SIDE_BUY ? &b->bids : &b->asks;
}

static inline uint32_t clb_book_depth(const struct clb_order_book *b, enum clb_side side)
{
    return clb_book_side_of(b, side)->n;
}

static inline const struct clb_level *clb_book_level(const struct clb_order_book *b,
                                                     enum clb_side side, uint32_t i)
{
    const struct clb_book_side *s = clb_book_side_of(b, side);
    return i < s->n ? &s->lv[s->n - 1 - i] : NULL;
}

/* Mid price in scaled units ((best bid + best ask) / 2). False when a side
 * is empty. */
bool clb_book_mid(const struct clb_order_book *b, double *mid);

/* Quantity resting at exactly `price` on `side` (0 if none). Any side other
 * than BUY reads the asks, as clb_book_side_of does. */
int64_t clb_book_qty_at(const struct clb_order_book *b, enum clb_side side, int64_t price);

/* Copies up to n best levels of a side, best first. Returns the count. */
size_t clb_book_top(const struct clb_order_book *b, enum clb_side side, struct clb_level *out,
                    size_t n);

/* Depth queries, Hummingbot's semantics. `taker` is the side of an order
 * that would take liquidity: BUY walks the asks upward, SELL walks the bids
 * downward. Each returns CLB_OK, or CLB_ENOTREADY when that side is empty,
 * or CLB_EINVAL for a non-positive amount.
 *  - price_for_volume: the price of the level at which `volume` is reached.
 *  - vwap_for_volume: the average price paid for `volume` (q->vwap).
 *  - volume_for_price: the volume available at prices no worse than `price`.
 *  - quote_volume_for_price: the quote volume available up to `price`.
 *  - price_for_quote_volume: the price at which `quote` (scaled
 *    price*qty units) is spent.
 * Every query fills every field of *q (left alone on error):
 *  - by volume (price_for_volume, vwap_for_volume: the same walk): price of
 *    the level where `volume` is reached, volume = the requested volume,
 *    quote_volume its cost (partial last level included); incomplete: the
 *    whole side (price = its worst level, complete = false).
 *  - by price (volume_for_price, quote_volume_for_price: the same walk): the
 *    levels no worse than `price`; q->price is the last one included (0 and
 *    all zeros when none is); complete = a level beyond `price` exists, so
 *    nothing is hidden by a side truncated at max_levels.
 *  - by quote (price_for_quote_volume): volume is the smallest whole base
 *    amount whose cost reaches `quote`, quote_volume that cost (>= quote, by
 *    less than one level price); incomplete: the whole side, as above.
 *    `quote` must be finite and > 0.
 * vwap = quote_volume / volume (0 when volume is 0). Quote volumes are summed
 * exactly in 128-bit integers and rounded to double once; sums saturate at
 * 2^126 (far beyond any real book). A taker other than BUY/SELL is
 * CLB_EINVAL. */
int clb_book_price_for_volume(const struct clb_order_book *b, enum clb_side taker, int64_t volume,
                              struct clb_book_query *q);
int clb_book_vwap_for_volume(const struct clb_order_book *b, enum clb_side taker, int64_t volume,
                             struct clb_book_query *q);
int clb_book_volume_for_price(const struct clb_order_book *b, enum clb_side taker, int64_t price,
                              struct clb_book_query *q);
int clb_book_quote_volume_for_price(const struct clb_order_book *b, enum clb_side taker,
                                    int64_t price, struct clb_book_query *q);
int clb_book_price_for_quote_volume(const struct clb_order_book *b, enum clb_side taker,
                                    double quote, struct clb_book_query *q);

/* Checks the book's invariants (for tests and debug builds): each side within
 * its buffer and capacity, strictly sorted best last, prices and quantities
 * > 0, best bid < best ask. CLB_OK or CLB_ESTATE. O(n). */
int clb_book_check(const struct clb_order_book *b);

#endif
