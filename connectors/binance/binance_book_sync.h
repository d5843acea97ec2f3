/*
 * binance_book_sync.h — one market's local order book kept in sync with
 * Binance by the documented procedure: open the diff stream and buffer its
 * events, fetch a REST snapshot, drop buffered events with u <= lastUpdateId,
 * apply the snapshot, then the first remaining event must have
 * U <= lastUpdateId + 1 <= u and every later one continue the sequence; any
 * gap throws the book away and starts over with a new snapshot.
 *
 * The sequence rules themselves live in core's clb_book_apply_diff (stale
 * -> ignored, gap -> CLB_EGAP); this module adds the buffering, the
 * snapshot hand-shake and the stream-down (REST polling) mode. It does no
 * I/O: the caller (the connector) opens streams and fetches snapshots, and
 * asks clb_binance_book_sync_needs_snapshot() when to fetch one.
 *
 * States:
 *   DOWN       no diff stream: diffs are ignored, every snapshot given is
 *              applied directly (polling fallback); in sync after one.
 *   BUFFERING  stream open, waiting for a usable snapshot; diffs buffered
 *              (bounded: max_buffered events, max_buffered_levels levels;
 *              overflow empties the buffer and counts a resync).
 *   SYNCED     diffs applied to the book as they come.
 * A gap while SYNCED clears the book, counts a gap and a resync, and goes
 * back to BUFFERING with the event that revealed the gap as the first one
 * buffered. A snapshot too old for the buffered events (or for the last
 * event seen when none is buffered) is refused (CLB_ESTALE) and another one
 * is needed.
 *
 * Not thread-safe: owned by the worker thread. Never allocates after init.
 */
#ifndef CLB_BINANCE_BOOK_SYNC_H
#define CLB_BINANCE_BOOK_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "order_book.h"

struct clb_binance_md_depth;

enum clb_binance_book_sync_state {
    CLB_BOOK_SYNC_DOWN = 0,
    CLB_BOOK_SYNC_BUFFERING,
    CLB_BOOK_SYNC_SYNCED
};

struct clb_binance_book_sync_config {
    uint32_t max_levels;          /* book depth per side (clb_book_init) */
    uint32_t max_buffered;        /* diff events held while BUFFERING, >= 1 */
    uint32_t max_buffered_levels; /* levels held in all buffered events, >= 1 */
};

struct clb_binance_book_sync_stats {
    uint64_t resyncs;           /* book thrown away (gap, bad diff) or buffer overflow */
    uint64_t gaps;              /* sequence gaps seen, SYNCED or BUFFERING */
    uint64_t dropped_events;    /* stale or duplicate diffs ignored, diffs while DOWN */
    uint64_t buffer_overflows;  /* buffer emptied because full */
    uint64_t bad_events;        /* diffs the book refused (CLB_EINVAL) */
    uint64_t stale_snapshots;   /* snapshots refused as too old */
    uint64_t bad_snapshots;     /* snapshots the book refused (CLB_EINVAL) */
    uint64_t snapshots_applied;
    uint64_t events_applied;    /* diffs applied to the book (live or replayed) */
};

struct clb_binance_book_sync_event_ {
    uint64_t first, last;
    uint32_t off, n_bids, n_asks; /* levels at lv[off..off + n_bids + n_asks) */
};

struct clb_binance_book_sync {
    struct clb_order_book book; /* read it freely; change it only through this module */
    enum clb_binance_book_sync_state state;
    bool snapshot_pending;      /* the caller said a request is in flight */
    bool polled;                /* DOWN: a snapshot was applied since going down */
    uint64_t last_seen;         /* BUFFERING: u of the last event received, 0 = none */
    struct clb_binance_book_sync_event_ *ev;
    uint32_t n_ev, max_ev;
    struct clb_level *lv;
    uint32_t n_lv, max_lv;
    struct clb_binance_book_sync_stats stats;
    struct clb_order_book shadow; /* clb_binance_book_sync_warm's scratch book */
    uint64_t warm_sum;            /* what warm read from the book (kept: not optimised away) */
};

/* Allocates the book and the buffer; starts DOWN with an empty book.
 * CLB_EINVAL (bad config), CLB_ENOMEM (the struct is then zeroed). Release
 * with deinit (harmless on a zeroed struct). */
int clb_binance_book_sync_init(struct clb_binance_book_sync *s,
                               const struct clb_binance_book_sync_config *cfg);
void clb_binance_book_sync_deinit(struct clb_binance_book_sync *s);

/* The diff stream is (re)subscribed: empties the buffer, forgets any
 * pending request and goes BUFFERING (a snapshot is now needed). The book's
 * levels are kept until a new snapshot replaces them, but it is not in sync.
 * Call it when the subscription is open, before its first event. */
void clb_binance_book_sync_stream_up(struct clb_binance_book_sync *s);

/* The diff stream is gone: empties the buffer and goes DOWN. The book is kept
 * but not in sync until a polled snapshot is applied. */
void clb_binance_book_sync_stream_down(struct clb_binance_book_sync *s);

/* Hands over one diff event (U, u and its levels; the levels are copied if
 * buffered). Returns:
 *   CLB_OK        applied (SYNCED) or buffered (BUFFERING)
 *   CLB_ESTALE    ignored: older than the book or the buffer (counted)
 *   CLB_EGAP      SYNCED: a gap; the book was cleared and a new snapshot is
 *                 needed (the event is kept as the first buffered one)
 *   CLB_EINVAL    the book refused the levels (bad prices, repeated price,
 *                 U > u): treated as a gap (cleared, resync)
 *   CLB_ESTATE    DOWN: ignored (counted as dropped)
 *   CLB_ERANGE    BUFFERING: one event larger than max_buffered_levels
 *                 (the buffer was emptied; resync counted) */
int clb_binance_book_sync_on_diff(struct clb_binance_book_sync *s, uint64_t first_id,
                                  uint64_t last_id, const struct clb_level *bids, size_t n_bids,
                                  const struct clb_level *asks, size_t n_asks);

/* Same, from a parsed depthUpdate (binance_md.h). */
int clb_binance_book_sync_on_depth(struct clb_binance_book_sync *s,
                                   const struct clb_binance_md_depth *d);

/* A snapshot {lastUpdateId, bids, asks} arrived (levels in any order).
 *   DOWN:      applied directly; in sync. CLB_OK.
 *   BUFFERING: buffered events with u <= lastUpdateId are dropped; if the
 *              first remaining one has U > lastUpdateId + 1 (or, with none
 *              buffered, lastUpdateId < the last event seen) the snapshot is
 *              too old: CLB_ESTALE, a new one is needed. Otherwise the
 *              snapshot and the remaining events are applied: CLB_OK and
 *              SYNCED (CLB_EGAP if a replayed event is refused, back to
 *              BUFFERING).
 *   SYNCED:    applied when lastUpdateId >= the book's update id (CLB_OK),
 *              else CLB_ESTALE and ignored.
 * CLB_EINVAL when the book refuses the levels (crossed, bad prices): a new
 * snapshot is needed. Clears the pending-request mark in every case. */
int clb_binance_book_sync_apply_snapshot(struct clb_binance_book_sync *s, uint64_t last_update_id,
                                         const struct clb_level *bids, size_t n_bids,
                                         const struct clb_level *asks, size_t n_asks);

/* True when the caller should request a snapshot now: BUFFERING and no
 * request marked pending. Polling while DOWN is the caller's timer. */
bool clb_binance_book_sync_needs_snapshot(const struct clb_binance_book_sync *s);

/* Marks a snapshot request in flight (needs_snapshot turns false) / failed
 * (needs_snapshot turns true again while BUFFERING). */
void clb_binance_book_sync_snapshot_requested(struct clb_binance_book_sync *s);
void clb_binance_book_sync_snapshot_failed(struct clb_binance_book_sync *s);

/* True when the book reflects the exchange: SYNCED, or DOWN after a polled
 * snapshot. */
bool clb_binance_book_sync_in_sync(const struct clb_binance_book_sync *s);

/* Levels per side clb_binance_book_sync_warm takes from its diff. */
#define CLB_BOOK_SYNC_WARM_LEVELS 32

/* Cache warming between diffs: reads the book's top levels (where diffs
 * land) and runs the diff path of core's book on a small scratch book
 * that mirrors nothing: a snapshot of some of d's levels, then d itself
 * as a diff (inserts, updates, deletions). The synced book, the buffer,
 * the state and the counters are left as they were. d is typically
 * clb_binance_md_warm's canned message (any levels work; at most
 * CLB_BOOK_SYNC_WARM_LEVELS per side are used). Returns the scratch
 * diff's result (CLB_OK, or CLB_EINVAL for levels the book refuses).
 * Never allocates. */
int clb_binance_book_sync_warm(struct clb_binance_book_sync *s,
                               const struct clb_binance_md_depth *d);

#endif
