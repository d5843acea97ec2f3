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
};

struct clb_order_book {
    struct clb_book_side bids;
    struct clb_book_side asks;
    uint64_t update_id;     /* last applied exchange update id */
    bool has_snapshot;      /* a snapshot has been applied */
    bool needs_resync;      /* a gap was seen; apply a snapshot */
    uint64_t dropped_levels;
    uint64_t crossed_levels_removed;
};

/* Result of a depth query. Prices and volumes at the book's scales. */
struct clb_book_query {
    int64_t price;       /* price of the last level reached */
    int64_t volume;      /* base volume covered (<= requested when incomplete) */
    double quote_volume; /* sum of price*qty over the volume covered (scaled units) */
    double vwap;         /* quote_volume / volume, scaled price units */
    bool complete;       /* the book held the whole requested amount */
};

/* Allocates room for max_levels (>= 1) per side. CLB_EINVAL, CLB_ENOMEM.
 * The caller owns the struct; release with clb_book_deinit. */
int clb_book_init(struct clb_order_book *b, uint32_t max_levels);
void clb_book_deinit(struct clb_order_book *b);

/* Empties both sides and forgets the sequence (has_snapshot = false). */
void clb_book_clear(struct clb_order_book *b);

/* Replaces the book with a snapshot at update_id. Levels may come in any
 * order; zero-quantity levels are ignored. Clears needs_resync.
 * CLB_EINVAL on bad levels (book unchanged). */
int clb_book_apply_snapshot(struct clb_order_book *b, uint64_t update_id,
                            const struct clb_level *bids, size_t n_bids,
                            const struct clb_level *asks, size_t n_asks);

/* Applies a sequenced diff (qty 0 deletes a level). Returns CLB_OK,
 * CLB_ESTALE (ignored, book unchanged), CLB_EGAP (book unchanged, needs_resync
 * set), CLB_ENOTREADY (no snapshot yet) or CLB_EINVAL (bad levels). */
int clb_book_apply_diff(struct clb_order_book *b, uint64_t first_id, uint64_t last_id,
                        const struct clb_level *bids, size_t n_bids,
                        const struct clb_level *asks, size_t n_asks);

/* Sets one level without sequencing (replay of recorded data, simulators).
 * qty 0 deletes. CLB_OK or CLB_EINVAL. Applies the crossed-update rule. */
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

/* Quantity resting at exactly `price` on `side` (0 if none). */
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
 *    price*qty units) is spent. */
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

#endif
