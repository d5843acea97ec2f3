/*
 * binance_book_sync.c — Binance's local order book procedure over core's
 * order book (binance_book_sync.h).
 *
 * The buffer is two flat arrays (event headers, levels) filled in order and
 * emptied at once: events are only ever consumed all together when a
 * snapshot is applied, or thrown away together on a gap or an overflow, so
 * no ring is needed. Events kept in the buffer always form one unbroken
 * sequence (each U <= previous u + 1), which is what makes the single check
 * against the snapshot's lastUpdateId sufficient.
 */
#include "binance_book_sync.h"

#include <stdlib.h>
#include <string.h>

#include "binance_md.h"
#include "error.h"

static void buffer_clear(struct clb_binance_book_sync *s)
{
    s->n_ev = 0;
    s->n_lv = 0;
}

/* Throws the book away and waits for a new snapshot. */
static void resync(struct clb_binance_book_sync *s)
{
    clb_book_clear(&s->book);
    buffer_clear(s);
    s->state = CLB_BOOK_SYNC_BUFFERING;
    s->snapshot_pending = false;
    s->stats.resyncs++;
}

static int buffer_push(struct clb_binance_book_sync *s, uint64_t first, uint64_t last,
                       const struct clb_level *bids, size_t n_bids, const struct clb_level *asks,
                       size_t n_asks)
{
    uint64_t prev = s->n_ev ? s->ev[s->n_ev - 1].last : s->last_seen;
    if (prev != 0) {
        if (last <= prev) {
            s->stats.dropped_events++;
            return CLB_ESTALE;
        }
        if (first > prev + 1) {
            /* What is buffered can no longer be continued. */
            s->stats.gaps++;
            buffer_clear(s);
        }
    }
    if (s->last_seen < last)
        s->last_seen = last;
    if (n_bids > s->max_lv || n_asks > s->max_lv - n_bids) {
        buffer_clear(s);
        s->stats.buffer_overflows++;
        s->stats.resyncs++;
        return CLB_ERANGE;
    }
    uint32_t nl = (uint32_t)(n_bids + n_asks);
    if (s->n_ev == s->max_ev || nl > s->max_lv - s->n_lv) {
        buffer_clear(s);
        s->stats.buffer_overflows++;
        s->stats.resyncs++;
    }
    struct clb_binance_book_sync_event_ *e = &s->ev[s->n_ev++];
    e->first = first;
    e->last = last;
    e->off = s->n_lv;
    e->n_bids = (uint32_t)n_bids;
    e->n_asks = (uint32_t)n_asks;
    if (n_bids)
        memcpy(s->lv + s->n_lv, bids, n_bids * sizeof(*bids));
    if (n_asks)
        memcpy(s->lv + s->n_lv + n_bids, asks, n_asks * sizeof(*asks));
    s->n_lv += nl;
    return CLB_OK;
}

int clb_binance_book_sync_on_diff(struct clb_binance_book_sync *s, uint64_t first_id,
                                  uint64_t last_id, const struct clb_level *bids, size_t n_bids,
                                  const struct clb_level *asks, size_t n_asks)
{
    switch (s->state) {
    case CLB_BOOK_SYNC_DOWN:
        s->stats.dropped_events++;
        return CLB_ESTATE;
    case CLB_BOOK_SYNC_BUFFERING:
        return buffer_push(s, first_id, last_id, bids, n_bids, asks, n_asks);
    case CLB_BOOK_SYNC_SYNCED:
        break;
    }
    int rc = clb_book_apply_diff(&s->book, first_id, last_id, bids, n_bids, asks, n_asks);
    switch (rc) {
    case CLB_OK:
        s->stats.events_applied++;
        return CLB_OK;
    case CLB_ESTALE:
        s->stats.dropped_events++;
        return CLB_ESTALE;
    case CLB_EGAP:
        s->stats.gaps++;
        resync(s);
        s->last_seen = 0;
        buffer_push(s, first_id, last_id, bids, n_bids, asks, n_asks);
        return CLB_EGAP;
    default: /* CLB_EINVAL: the book cannot follow this event */
        s->stats.bad_events++;
        resync(s);
        s->last_seen = last_id;
        return rc;
    }
}

int clb_binance_book_sync_on_depth(struct clb_binance_book_sync *s,
                                   const struct clb_binance_md_depth *d)
{
    return clb_binance_book_sync_on_diff(s, d->first_update_id, d->last_update_id, d->bids,
                                         d->n_bids, d->asks, d->n_asks);
}

int clb_binance_book_sync_apply_snapshot(struct clb_binance_book_sync *s, uint64_t last_update_id,
                                         const struct clb_level *bids, size_t n_bids,
                                         const struct clb_level *asks, size_t n_asks)
{
    s->snapshot_pending = false;
    int rc;
    if (s->state == CLB_BOOK_SYNC_SYNCED && last_update_id < s->book.update_id) {
        s->stats.stale_snapshots++;
        return CLB_ESTALE;
    }
    if (s->state != CLB_BOOK_SYNC_BUFFERING) {
        rc = clb_book_apply_snapshot(&s->book, last_update_id, bids, n_bids, asks, n_asks);
        if (rc != CLB_OK) {
            s->stats.bad_snapshots++;
            return rc;
        }
        s->stats.snapshots_applied++;
        if (s->state == CLB_BOOK_SYNC_DOWN)
            s->polled = true;
        return CLB_OK;
    }
    /* BUFFERING: skip events the snapshot already contains. */
    uint32_t i = 0;
    while (i < s->n_ev && s->ev[i].last <= last_update_id)
        i++;
    bool stale = i < s->n_ev ? s->ev[i].first > last_update_id + 1
                             : s->last_seen > last_update_id;
    if (stale) {
        s->stats.stale_snapshots++;
        return CLB_ESTALE;
    }
    rc = clb_book_apply_snapshot(&s->book, last_update_id, bids, n_bids, asks, n_asks);
    if (rc != CLB_OK) {
        s->stats.bad_snapshots++;
        return rc;
    }
    s->stats.snapshots_applied++;
    s->stats.dropped_events += i;
    s->state = CLB_BOOK_SYNC_SYNCED;
    for (; i < s->n_ev; i++) {
        const struct clb_binance_book_sync_event_ *e = &s->ev[i];
        const struct clb_level *lv = s->lv + e->off;
        rc = clb_book_apply_diff(&s->book, e->first, e->last, lv, e->n_bids, lv + e->n_bids,
                                 e->n_asks);
        if (rc == CLB_OK) {
            s->stats.events_applied++;
        } else if (rc == CLB_ESTALE) {
            s->stats.dropped_events++;
        } else {
            /* A buffered event the book refuses (bad levels): start over,
             * a new snapshot must be at least as new as what was seen. */
            if (rc == CLB_EGAP)
                s->stats.gaps++;
            else
                s->stats.bad_events++;
            uint64_t seen = s->last_seen;
            resync(s);
            s->last_seen = seen;
            return CLB_EGAP;
        }
    }
    buffer_clear(s);
    return CLB_OK;
}

void clb_binance_book_sync_stream_up(struct clb_binance_book_sync *s)
{
    buffer_clear(s);
    s->state = CLB_BOOK_SYNC_BUFFERING;
    s->snapshot_pending = false;
    s->last_seen = 0;
}

void clb_binance_book_sync_stream_down(struct clb_binance_book_sync *s)
{
    buffer_clear(s);
    s->state = CLB_BOOK_SYNC_DOWN;
    s->snapshot_pending = false;
    s->polled = false;
    s->last_seen = 0;
}

bool clb_binance_book_sync_needs_snapshot(const struct clb_binance_book_sync *s)
{
    return s->state == CLB_BOOK_SYNC_BUFFERING && !s->snapshot_pending;
}

void clb_binance_book_sync_snapshot_requested(struct clb_binance_book_sync *s)
{
    s->snapshot_pending = true;
}

void clb_binance_book_sync_snapshot_failed(struct clb_binance_book_sync *s)
{
    s->snapshot_pending = false;
}

bool clb_binance_book_sync_in_sync(const struct clb_binance_book_sync *s)
{
    return s->state == CLB_BOOK_SYNC_SYNCED || (s->state == CLB_BOOK_SYNC_DOWN && s->polled);
}

int clb_binance_book_sync_init(struct clb_binance_book_sync *s,
                               const struct clb_binance_book_sync_config *cfg)
{
    if (!s)
        return CLB_EINVAL;
    memset(s, 0, sizeof(*s));
    if (!cfg || cfg->max_buffered < 1 || cfg->max_buffered_levels < 1 ||
        cfg->max_buffered > (1u << 24) || cfg->max_buffered_levels > (1u << 26))
        return CLB_EINVAL;
    int rc = clb_book_init(&s->book, cfg->max_levels);
    if (rc == CLB_OK && (rc = clb_book_init(&s->shadow, 2 * CLB_BOOK_SYNC_WARM_LEVELS)) != CLB_OK)
        clb_book_deinit(&s->book);
    if (rc != CLB_OK) {
        memset(s, 0, sizeof(*s));
        return rc;
    }
    s->ev = calloc(cfg->max_buffered, sizeof(*s->ev));
    s->lv = calloc(cfg->max_buffered_levels, sizeof(*s->lv));
    if (!s->ev || !s->lv) {
        clb_binance_book_sync_deinit(s);
        return CLB_ENOMEM;
    }
    s->max_ev = cfg->max_buffered;
    s->max_lv = cfg->max_buffered_levels;
    s->state = CLB_BOOK_SYNC_DOWN;
    return CLB_OK;
}

void clb_binance_book_sync_deinit(struct clb_binance_book_sync *s)
{
    if (!s)
        return;
    clb_book_deinit(&s->book);
    clb_book_deinit(&s->shadow);
    free(s->ev);
    free(s->lv);
    memset(s, 0, sizeof(*s));
}

/* Levels of one side read by warm: the top of the book, 4 to a cache line. */
#define WARM_TOUCH 64

static uint64_t touch_top(const struct clb_book_side *sd)
{
    uint64_t sum = sd->n;
    uint32_t from = sd->n > WARM_TOUCH ? sd->n - WARM_TOUCH : 0;
    for (uint32_t i = from; i < sd->n; i += 4)
        sum += (uint64_t)sd->lv[i].qty;
    return sum;
}

/* The snapshot part of a warm-up diff side: every other level (qty 1 for
 * the ones the diff deletes), so that the diff inserts, updates and
 * deletes. */
static size_t warm_half(const struct clb_level *l, size_t n, struct clb_level *out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (i % 2 == 0 || l[i].qty == 0)
            out[k++] = (struct clb_level){ l[i].price, l[i].qty > 0 ? l[i].qty : 1 };
    return k;
}

int clb_binance_book_sync_warm(struct clb_binance_book_sync *s,
                               const struct clb_binance_md_depth *d)
{
    if (!s || !d || !s->shadow.bids.mem)
        return CLB_EINVAL;
    s->warm_sum = touch_top(&s->book.bids) + touch_top(&s->book.asks) + s->book.update_id;
    size_t nb = d->n_bids < CLB_BOOK_SYNC_WARM_LEVELS ? d->n_bids : CLB_BOOK_SYNC_WARM_LEVELS;
    size_t na = d->n_asks < CLB_BOOK_SYNC_WARM_LEVELS ? d->n_asks : CLB_BOOK_SYNC_WARM_LEVELS;
    if ((nb && !d->bids) || (na && !d->asks))
        return CLB_EINVAL;
    struct clb_level sb[CLB_BOOK_SYNC_WARM_LEVELS], sa[CLB_BOOK_SYNC_WARM_LEVELS];
    size_t kb = warm_half(d->bids, nb, sb), ka = warm_half(d->asks, na, sa);
    int rc = clb_book_apply_snapshot(&s->shadow, 1, sb, kb, sa, ka);
    if (rc != CLB_OK)
        return rc;
    return clb_book_apply_diff(&s->shadow, 2, 2, d->bids, nb, d->asks, na);
}
