/*
 * order_book.c — L2 book sides as sorted arrays, best price last.
 *
 * Both sides share one code path through a sort key: key(p) = p on the bid
 * side and -p on the ask side, so every window is strictly ascending in key
 * and "better" always means "larger key".
 *
 * A side's levels occupy the window [lv, lv + n) of a buffer of 2 * cap
 * levels. Inserting or deleting at index i moves whichever part of the
 * window is shorter (the levels above i, or the ones below i together with
 * lv), so updates near the top move a few bytes and evicting the worst level
 * of a full side is lv++. When the end a move needs is at the buffer's edge,
 * the window is re-centred: one memmove of n levels that leaves >= cap / 2
 * free slots at each end, i.e. amortised O(1) per insert.
 *
 * Setting one level (book_set: set_level, single-level diffs, the replay of
 * recorded data) first looks at the two ends of the side, where nearly all
 * updates land: the best level changes, goes, or a new best comes above it;
 * levels come and go below the worst. Each is a compare or two and a store,
 * no search, no move, no call (a replay of synthetic data spends ~40 % less
 * in the book than with a search from the top for every update). A price
 * strictly inside the side is found by galloping down from the best level
 * and bisecting the bracket branch-free (gallop_from_top): feeds update
 * near the top, where this costs a few loads in hot cache lines. The rest
 * (crossing levels, full sides, a window at its buffer's edge) takes the
 * general path, which scans down from the top for LINEAR_SCAN levels, then
 * bisects. The side is data, not a branch: the key is computed with a mask
 * and the side struct is picked by offset arithmetic, so a random mix of bid
 * and ask updates does not mispredict (the apply benchmark measured 27.6 ->
 * 26 ns for this alone).
 *
 * A diff of several levels whose lists are each sorted (an exchange's
 * usual order, best or worst first) and at least MERGE_MIN long in all is
 * applied by one merge per side (side_merge): the top of the side down to
 * the worst level the diff touches is merged with the list into the
 * scratch buffer and written back, O(levels touched) with no search or
 * move per level. Measured warm, level by level -> merged: 30 levels into
 * a full 50-level side 1.45 -> 0.98 us, 200 levels 4.3 -> 3.4 us; 20 levels
 * into a 1000-level side 1.03 -> 0.65 us, 200 levels 14.2 -> 5.8 us. Shorter
 * lists, near the top of the book, are as fast level by level (the
 * md_depth_update benchmark's 10 levels are slower merged), and unsorted
 * lists go level by level too.
 *
 * `changes` counts the calls that may change the levels; the matching
 * engine compares it with the set_level calls it was told about to skip
 * re-reading the book when nothing else happened (matching.c, sync_book).
 *
 * Validation never writes to the book (it may use the scratch buffer,
 * which the merge reuses after it). Duplicate prices in a level list are
 * skipped for strictly monotonic lists (an exchange's usual order), found
 * pairwise for other short lists, and otherwise found by sorting chunks of up to cap
 * prices in the scratch buffer (heapsort: no allocation) and binary-searching
 * the rest of the list in each chunk.
 *
 * Queries sum price * qty exactly in __int128 and convert to double once.
 */
#include "order_book.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

__extension__ typedef __int128 i128;

/* Keeps a rarely taken path out of line, so that the common path of its
 * caller needs no saved registers (an optimisation hint only). */
#if defined(__GNUC__)
#define BOOK_NOINLINE __attribute__((noinline))
#else
#define BOOK_NOINLINE
#endif

#define LINEAR_SCAN 32      /* levels scanned from the top before bisecting */
#define SMALL_LIST 16       /* lists up to this long: pairwise duplicate check */
#define QUOTE_SAT ((i128)1 << 126)

/* Branch-free (the mask is hoisted out of loops): p for bids, -p for asks
 * (no overflow: prices are > 0 wherever an ask key is taken). */
static inline int64_t key_of(int64_t price, bool bid)
{
    const int64_t m = (int64_t)bid - 1; /* 0 for bids, -1 for asks */
    return (price ^ m) - m;
}

/* ---- side primitives -------------------------------------------------- */

/* Index of the first level whose price is at least as good as `price`: the
 * level itself when present, else where it would be inserted. */
static inline uint32_t side_find(const struct clb_book_side *s, int64_t price, bool bid)
{
    const struct clb_level *lv = s->lv;
    const int64_t k = key_of(price, bid);
    const struct clb_level *p = lv + s->n;
    if (s->n <= LINEAR_SCAN) {
        while (p > lv && key_of(p[-1].price, bid) >= k)
            p--;
        return (uint32_t)(p - lv);
    }
    const uint32_t stop = s->n - LINEAR_SCAN;
    if (key_of(lv[stop].price, bid) < k) {
        /* lv[stop] is worse than price: the scan stops above it. */
        while (key_of(p[-1].price, bid) >= k)
            p--;
        return (uint32_t)(p - lv);
    }
    uint32_t lo = 0, hi = stop;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_of(lv[mid].price, bid) >= k)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void side_recentre(struct clb_book_side *s)
{
    struct clb_level *to = s->mem + (s->room - s->n) / 2;
    memmove(to, s->lv, s->n * sizeof(*to));
    s->lv = to;
}

/* Inserts at index i; the caller guarantees n < cap. */
static inline void side_insert(struct clb_book_side *s, uint32_t i, int64_t price, int64_t qty)
{
    uint32_t above = s->n - i;
    if (above <= i) {
        if (s->lv + s->n == s->mem + s->room)
            side_recentre(s);
        memmove(&s->lv[i + 1], &s->lv[i], above * sizeof(*s->lv));
    } else {
        if (s->lv == s->mem)
            side_recentre(s);
        memmove(s->lv - 1, s->lv, i * sizeof(*s->lv));
        s->lv--;
    }
    s->lv[i].price = price;
    s->lv[i].qty = qty;
    s->n++;
}

static inline void side_remove(struct clb_book_side *s, uint32_t i)
{
    uint32_t above = s->n - 1 - i;
    if (above <= i) {
        memmove(&s->lv[i], &s->lv[i + 1], above * sizeof(*s->lv));
    } else {
        memmove(s->lv + 1, s->lv, i * sizeof(*s->lv));
        s->lv++;
    }
    s->n--;
}

/* Sets (qty > 0) or deletes (qty == 0) a level, keeping the best cap. */
static inline void side_set(struct clb_book_side *s, int64_t price, int64_t qty, bool bid,
                            uint64_t *dropped)
{
    uint32_t i = side_find(s, price, bid);
    if (i < s->n && s->lv[i].price == price) {
        if (qty > 0)
            s->lv[i].qty = qty;
        else
            side_remove(s, i);
        return;
    }
    if (qty == 0)
        return;
    if (s->n == s->cap) {
        (*dropped)++;
        if (i == 0)
            return; /* worse than the worst level kept */
        s->lv++;    /* evict the worst */
        s->n--;
        i--;
    }
    side_insert(s, i, price, qty);
}

/* Removes the levels of s at least as good as `price` (s's own ordering):
 * the levels a new opposite-side level at `price` crosses. */
static inline uint32_t side_trim_top(struct clb_book_side *s, int64_t price, bool bid)
{
    const int64_t k = key_of(price, bid);
    uint32_t n = s->n;
    while (n > 0 && key_of(s->lv[n - 1].price, bid) >= k)
        n--;
    uint32_t removed = s->n - n;
    s->n = n;
    return removed;
}

/* The bids (bid) or the asks, picked by arithmetic rather than a
 * conditional, which compilers turn into a branch. */
static inline struct clb_book_side *side_at(struct clb_order_book *b, bool bid)
{
    const size_t ob = offsetof(struct clb_order_book, bids);
    const size_t oa = offsetof(struct clb_order_book, asks);
    /* the offset in size_t first (it wraps to ob, as unsigned arithmetic
     * may); added to the pointer only then, never beyond the struct */
    const size_t off = oa + (size_t)bid * (ob - oa);
    return (struct clb_book_side *)(void *)((char *)b + off);
}

/* Sets a level through the crossed-update rule: the general path. */
BOOK_NOINLINE static void book_set_slow(struct clb_order_book *b, bool bid, int64_t price,
                                        int64_t qty)
{
    struct clb_book_side *own = side_at(b, bid);
    struct clb_book_side *opp = side_at(b, !bid);
    if (opp->n > 0 && key_of(opp->lv[opp->n - 1].price, !bid) >= key_of(price, !bid) && qty > 0)
        b->crossed_levels_removed += side_trim_top(opp, price, !bid);
    side_set(own, price, qty, bid, &b->dropped_levels);
}

/* Index of the first of lv[0..n) (n >= 1) whose key is >= k, or n. A
 * branch-free binary search: the halving steps depend on n only and the
 * comparison feeds a conditional move, so a price anywhere in the book
 * costs log2(n) loads and no misprediction. */
static inline uint32_t lower_bound_key(const struct clb_level *lv, uint32_t n, int64_t k,
                                       bool bid)
{
    const struct clb_level *base = lv;
    while (n > 1) {
        uint32_t half = n / 2;
        base = key_of(base[half].price, bid) < k ? base + half : base;
        n -= half;
    }
    return (uint32_t)(base - lv) + (key_of(base->price, bid) < k);
}

/* Index of the first of lv[0..n) whose key is >= k, given key(lv[0]) < k
 * < key(lv[n - 1]) (n >= 2): galloping down from the best level (distances
 * 1, 2, 4, ...) brackets the position, then a branch-free bisection
 * settles it inside the bracket. A feed's levels sit near the top: a level
 * d places below the best costs about 2 log2(d) loads, all in the top
 * cache lines, instead of log2(n) loads spread over the side (the whole
 * cost of a 10-level diff on a 1000-level book was in that bisection). */
static inline uint32_t gallop_from_top(const struct clb_level *lv, uint32_t n, int64_t k,
                                       bool bid)
{
    uint32_t hi = n - 1, lo = 0; /* key(lv[lo]) < k <= key(lv[hi]) */
    for (uint32_t step = 1; step < hi; step *= 2) {
        uint32_t j = hi - step;
        if (key_of(lv[j].price, bid) < k) {
            lo = j;
            break;
        }
        hi = j;
    }
    return lo + 1 + lower_bound_key(lv + lo + 1, hi - lo, k, bid);
}

/* A level strictly between the worst and the best one of a side of n >= 2
 * levels (k is its key): found from the top (gallop_from_top), at
 * 1 <= i <= n - 1, and inserted or removed by moving the shorter part of
 * the window. */
BOOK_NOINLINE static void book_set_inner(struct clb_order_book *b, struct clb_book_side *own,
                                         bool bid, int64_t price, int64_t qty, int64_t k)
{
    struct clb_level *lv = own->lv;
    uint32_t i = gallop_from_top(lv, own->n, k, bid);
    if (lv[i].price == price) {
        if (qty > 0)
            lv[i].qty = qty;
        else
            side_remove(own, i);
        return;
    }
    if (qty == 0)
        return;
    if (own->n == own->cap) {
        b->dropped_levels++; /* evict the worst level */
        own->lv++;
        own->n--;
        i--;
    }
    side_insert(own, i, price, qty);
}

/* Sets a level through the crossed-update rule. `bid` may be a run-time
 * value: side_at and key_of are branch-free, so a random mix of bid and ask
 * updates costs no mispredictions.
 *
 * Most updates of a feed touch the ends of a side: the best level (change
 * it, delete it, or put a new best above it) and, as levels come and go at
 * the far end, the worst one. Those are settled with a compare or two and
 * no search or move. A level strictly between them is found by bisection
 * and inserted or removed by moving the shorter part of the window
 * (book_set_inner). Only a new best level can cross the other side (a bid
 * below our best bid is below the best ask), so only that case looks at it.
 * Crossing levels, full sides, windows at the edge of their buffer and
 * empty sides go through book_set_slow. The common paths make no call and
 * need no saved register. */
static inline void book_set(struct clb_order_book *b, bool bid, int64_t price, int64_t qty)
{
    struct clb_book_side *own = side_at(b, bid);
    const uint32_t n = own->n;
    if (n == 0) {
        book_set_slow(b, bid, price, qty);
        return;
    }
    struct clb_level *lv = own->lv;
    const int64_t k = key_of(price, bid), kt = key_of(lv[n - 1].price, bid);
    if (k == kt) { /* the best level */
        if (qty > 0)
            lv[n - 1].qty = qty;
        else
            own->n = n - 1;
        return;
    }
    if (k > kt) { /* a new best level */
        if (qty == 0)
            return;
        const struct clb_book_side *opp = side_at(b, !bid);
        /* key_of(x, !bid) == -key_of(x, bid): crossed when the other
         * side's best is at or through price. */
        if (n == own->cap || lv + n == own->mem + own->room ||
            (opp->n > 0 && key_of(opp->lv[opp->n - 1].price, bid) <= k)) {
            book_set_slow(b, bid, price, qty);
            return;
        }
        lv[n].price = price;
        lv[n].qty = qty;
        own->n = n + 1;
        return;
    }
    const int64_t kb = key_of(lv[0].price, bid);
    if (k <= kb) {
        if (k == kb) { /* the worst level */
            if (qty > 0) {
                lv[0].qty = qty;
            } else {
                own->lv = lv + 1;
                own->n = n - 1;
            }
            return;
        }
        if (qty == 0)
            return; /* no such level */
        if (n == own->cap) {
            b->dropped_levels++; /* worse than the worst level kept */
            return;
        }
        if (lv == own->mem) {
            book_set_slow(b, bid, price, qty);
            return;
        }
        lv[-1].price = price;
        lv[-1].qty = qty;
        own->lv = lv - 1;
        own->n = n + 1;
        return;
    }
    book_set_inner(b, own, bid, price, qty, k);
}

/* book_set for the diff paths, kept out of line so that clb_book_set_level,
 * the replay's entry point, gets its own inlined copy. */
BOOK_NOINLINE static void book_set_any(struct clb_order_book *b, bool bid, int64_t price,
                                       int64_t qty)
{
    book_set(b, bid, price, qty);
}

/* ---- multi-level diffs: one merge per side ----------------------------- */

/* Lists at least this long (both sides together) go through side_merge
 * when each side's list is strictly monotonic. */
#define MERGE_MIN 16

/* Whether l[0..n) is strictly monotonic in price (either direction). */
static bool list_monotonic(const struct clb_level *l, size_t n)
{
    bool inc = true, dec = true;
    for (size_t i = 1; i < n && (inc || dec); i++) {
        inc = inc && l[i].price > l[i - 1].price;
        dec = dec && l[i].price < l[i - 1].price;
    }
    return inc || dec;
}

/* Applies one side's list l[0..m) (strictly monotonic, validated) to s in
 * one pass, with the effect of applying it level by level: deletions,
 * then sets, then the crossing rule. cross_price > 0 is the highest bid the
 * same diff sets (for the asks: those at or below it are crossed and
 * removed, unless the list deletes them; 0 = none). Only the top of the
 * side down to the worst level the list or the crossing touches is read
 * and rewritten, merged best first into b->scratch: O(levels touched),
 * whatever the order of the list's updates. The counters move exactly as
 * the level-by-level path, in the list's order, moves them (dropped: each
 * candidate beyond cap, plus the updates an earlier insert evicted;
 * crossed: each level the crossing removes). */
static void side_merge(struct clb_order_book *b, struct clb_book_side *s, bool bid,
                       const struct clb_level *l, size_t m, int64_t cross_price)
{
    const int64_t ck = cross_price > 0 ? key_of(cross_price, bid) : INT64_MAX;
    if (m == 0) {
        if (cross_price > 0)
            b->crossed_levels_removed += side_trim_top(s, cross_price, bid);
        return;
    }
    /* the list best first: from its start, or from its end */
    const bool from_start = m < 2 || key_of(l[0].price, bid) > key_of(l[m - 1].price, bid);
    const struct clb_level *first = from_start ? l : l + m - 1;
    const ptrdiff_t step = from_start ? 1 : -1;
    int64_t k_low = key_of(first[step * (ptrdiff_t)(m - 1)].price, bid);
    if (ck < k_low)
        k_low = ck;
    const uint32_t n = s->n;
    const uint32_t s0 = n ? lower_bound_key(s->lv, n, k_low, bid) : 0; /* kept below */
    struct clb_level *out = b->scratch;
    const uint32_t cap = s->cap;
    uint32_t kept = 0;
    uint64_t candidates = 0, crossed = 0;
    /* Level by level, a best-first list can evict a level it updates
     * later (its inserts come first), and that update then counts as a
     * dropped new level: `better` levels held above it (fresh sets and
     * window levels walked so far) reach cap. A worst-first list cannot. */
    uint64_t better = 0, evicted_updates = 0;
    int64_t i = (int64_t)n - 1; /* window, best first */
    size_t j = 0;               /* list, best first */
    while (i >= (int64_t)s0 || j < m) {
        const struct clb_level *w = i >= (int64_t)s0 ? &s->lv[i] : NULL;
        const struct clb_level *u = j < m ? first + step * (ptrdiff_t)j : NULL;
        const int64_t kw = w ? key_of(w->price, bid) : INT64_MIN;
        const int64_t ku = u ? key_of(u->price, bid) : INT64_MIN;
        struct clb_level take;
        if (w && (!u || kw > ku)) { /* a level the list leaves alone */
            i--;
            if (kw >= ck) {
                crossed++;
                continue;
            }
            take = *w;
        } else {
            j++;
            if (w && kw == ku) {
                i--;
                if (u->qty == 0)
                    continue; /* deleted (before any crossing) */
                if (kw >= ck)
                    crossed++; /* crossed first, then set again: a new level */
                else if (from_start && better + 1 > cap)
                    evicted_updates++;
            } else if (u->qty == 0) {
                continue; /* no such level */
            }
            take = *u;
        }
        better++;
        candidates++;
        if (kept < cap)
            out[kept++] = take;
    }
    /* below the merged part: s0 untouched levels, then the merged ones */
    uint32_t total = s0 + kept;
    uint32_t evict = total > cap ? total - cap : 0; /* the worst untouched ones */
    b->dropped_levels += (s0 + candidates) - (total - evict) + evicted_updates;
    b->crossed_levels_removed += crossed;
    struct clb_level *lv = s->lv + evict;
    uint32_t below = s0 - evict;
    if (lv + below + kept > s->mem + s->room) {
        struct clb_level *to = s->mem + (s->room - (below + kept)) / 2;
        memmove(to, lv, below * sizeof(*to));
        lv = to;
    }
    for (uint32_t k = 0; k < kept; k++)
        lv[below + k] = out[kept - 1 - k];
    s->lv = lv;
    s->n = below + kept;
}

/* ---- heaps (min-heap on key: the root is the worst level) ------------- */

static void heap_sift_down(struct clb_level *h, size_t n, size_t i, bool bid)
{
    struct clb_level x = h[i];
    int64_t kx = key_of(x.price, bid);
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && key_of(h[c + 1].price, bid) < key_of(h[c].price, bid))
            c++;
        if (key_of(h[c].price, bid) >= kx)
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void heap_sift_up(struct clb_level *h, size_t i, bool bid)
{
    struct clb_level x = h[i];
    int64_t kx = key_of(x.price, bid);
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (key_of(h[p].price, bid) <= kx)
            break;
        h[i] = h[p];
        i = p;
    }
    h[i] = x;
}

/* Sorts a min-heap of n levels into ascending key order. */
static void heap_sort_ascending(struct clb_level *h, size_t n, bool bid)
{
    for (size_t end = n; end > 1; end--) {
        struct clb_level t = h[0];
        h[0] = h[end - 1];
        h[end - 1] = t;
        heap_sift_down(h, end - 1, 0, bid);
    }
    /* Now descending: reverse. */
    for (size_t i = 0, j = n; i + 1 < j; i++, j--) {
        struct clb_level t = h[i];
        h[i] = h[j - 1];
        h[j - 1] = t;
    }
}

/* ---- validation ------------------------------------------------------- */

static bool price_in_sorted(const struct clb_level *a, size_t n, int64_t price)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a[mid].price < price)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && a[lo].price == price;
}

static bool has_dup_price(const struct clb_level *l, size_t n, struct clb_level *scratch,
                          uint32_t cap)
{
    if (n < 2)
        return false;
    /* An exchange's usual order (strictly monotonic) first: n - 1 compares. */
    if (list_monotonic(l, n))
        return false;
    if (n <= SMALL_LIST) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (l[i].price == l[j].price)
                    return true;
        return false;
    }
    for (size_t c = 0; c < n; c += cap) {
        size_t m = n - c < cap ? n - c : cap;
        for (size_t i = 0; i < m; i++) {
            scratch[i] = l[c + i];
            heap_sift_up(scratch, i, true);
        }
        heap_sort_ascending(scratch, m, true);
        for (size_t i = 1; i < m; i++)
            if (scratch[i].price == scratch[i - 1].price)
                return true;
        for (size_t j = c + m; j < n; j++)
            if (price_in_sorted(scratch, m, l[j].price))
                return true;
    }
    return false;
}

static int check_levels_slow(const struct clb_order_book *b, const struct clb_level *l, size_t n)
{
    if (!l)
        return CLB_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (l[i].price <= 0 || l[i].qty < 0)
            return CLB_EINVAL;
    return has_dup_price(l, n, b->scratch, b->bids.cap) ? CLB_EINVAL : CLB_OK;
}

static inline int check_levels(const struct clb_order_book *b, const struct clb_level *l,
                               size_t n)
{
    if (n == 0)
        return CLB_OK;
    if (n == 1) /* the usual diff: inline */
        return l && l->price > 0 && l->qty >= 0 ? CLB_OK : CLB_EINVAL;
    return check_levels_slow(b, l, n);
}

/* ---- lifecycle -------------------------------------------------------- */

int clb_book_init(struct clb_order_book *b, uint32_t max_levels)
{
    memset(b, 0, sizeof(*b));
    if (max_levels < 1 || max_levels > CLB_BOOK_MAX_LEVELS)
        return CLB_EINVAL;
    /* One block: bids buffer, asks buffer (2 * cap each), scratch (cap). */
    size_t room = 2 * (size_t)max_levels;
    struct clb_level *mem = malloc((2 * room + max_levels) * sizeof(*mem));
    if (!mem)
        return CLB_ENOMEM;
    b->bids.mem = mem;
    b->asks.mem = mem + room;
    b->scratch = mem + 2 * room;
    b->bids.cap = b->asks.cap = max_levels;
    b->bids.room = b->asks.room = (uint32_t)room;
    clb_book_clear(b);
    return CLB_OK;
}

void clb_book_deinit(struct clb_order_book *b)
{
    free(b->bids.mem); /* the block holding both buffers and the scratch */
    memset(b, 0, sizeof(*b));
}

void clb_book_clear(struct clb_order_book *b)
{
    b->bids.n = b->asks.n = 0;
    if (b->bids.mem) {
        b->bids.lv = b->bids.mem + b->bids.room / 2;
        b->asks.lv = b->asks.mem + b->asks.room / 2;
    }
    b->update_id = 0;
    b->has_snapshot = false;
    b->needs_resync = false;
    b->changes++;
}

/* ---- snapshot ---------------------------------------------------------- */

/* Fills a side with the best cap non-zero levels of a validated list. */
static void side_build(struct clb_book_side *s, const struct clb_level *l, size_t n, bool bid,
                       uint64_t *dropped)
{
    size_t m = 0;
    bool best_first = true;
    for (size_t i = 0; i < n; i++) {
        m += l[i].qty > 0;
        if (i > 0 && key_of(l[i].price, bid) >= key_of(l[i - 1].price, bid))
            best_first = false;
    }
    uint32_t k = m < s->cap ? (uint32_t)m : s->cap;
    *dropped += m - k;
    s->lv = s->mem + (s->room - k) / 2;
    s->n = k;
    if (best_first) {
        /* The first k non-zero levels are the best; write them top down. */
        uint32_t j = k;
        for (size_t i = 0; i < n && j > 0; i++)
            if (l[i].qty > 0)
                s->lv[--j] = l[i];
        return;
    }
    size_t h = 0;
    for (size_t i = 0; i < n; i++) {
        if (l[i].qty == 0)
            continue;
        if (h < k) {
            s->lv[h] = l[i];
            heap_sift_up(s->lv, h++, bid);
        } else if (key_of(l[i].price, bid) > key_of(s->lv[0].price, bid)) {
            s->lv[0] = l[i];
            heap_sift_down(s->lv, k, 0, bid);
        }
    }
    heap_sort_ascending(s->lv, k, bid);
}

int clb_book_apply_snapshot(struct clb_order_book *b, uint64_t update_id,
                            const struct clb_level *bids, size_t n_bids,
                            const struct clb_level *asks, size_t n_asks)
{
    if (b->bids.cap == 0)
        return CLB_EINVAL;
    int rc = check_levels(b, bids, n_bids);
    if (rc == CLB_OK)
        rc = check_levels(b, asks, n_asks);
    if (rc != CLB_OK)
        return rc;
    int64_t best_bid = 0, best_ask = INT64_MAX;
    for (size_t i = 0; i < n_bids; i++)
        if (bids[i].qty > 0 && bids[i].price > best_bid)
            best_bid = bids[i].price;
    for (size_t i = 0; i < n_asks; i++)
        if (asks[i].qty > 0 && asks[i].price < best_ask)
            best_ask = asks[i].price;
    if (best_bid >= best_ask)
        return CLB_EINVAL;
    side_build(&b->bids, bids, n_bids, true, &b->dropped_levels);
    side_build(&b->asks, asks, n_asks, false, &b->dropped_levels);
    b->changes++;
    b->update_id = update_id;
    b->has_snapshot = true;
    b->needs_resync = false;
    return CLB_OK;
}

/* ---- diffs and single levels ------------------------------------------ */

/* Sequencing checks shared by every diff, after validation. */
static inline int diff_sequence(struct clb_order_book *b, uint64_t first_id, uint64_t last_id)
{
    if (!b->has_snapshot)
        return CLB_ENOTREADY;
    if (b->needs_resync)
        return CLB_EGAP;
    if (last_id != 0 && last_id <= b->update_id)
        return CLB_ESTALE;
    if (first_id != 0 && first_id - 1 > b->update_id) {
        b->needs_resync = true;
        return CLB_EGAP;
    }
    return CLB_OK;
}

int clb_book_apply_diff(struct clb_order_book *b, uint64_t first_id, uint64_t last_id,
                        const struct clb_level *bids, size_t n_bids,
                        const struct clb_level *asks, size_t n_asks)
{
    if (b->bids.cap == 0 || (first_id != 0 && first_id > last_id))
        return CLB_EINVAL;
    int rc;
    if (n_bids + n_asks == 1) {
        /* The usual stream update: one level, its side chosen as data. */
        bool bid = n_bids != 0;
        const struct clb_level *l = bid ? bids : asks;
        if (!l || l->price <= 0 || l->qty < 0)
            return CLB_EINVAL;
        if ((rc = diff_sequence(b, first_id, last_id)) != CLB_OK)
            return rc;
        book_set_any(b, bid, l->price, l->qty);
        b->changes++;
        if (last_id != 0)
            b->update_id = last_id;
        return CLB_OK;
    }
    rc = check_levels(b, bids, n_bids);
    if (rc == CLB_OK)
        rc = check_levels(b, asks, n_asks);
    if (rc != CLB_OK)
        return rc;
    if ((rc = diff_sequence(b, first_id, last_id)) != CLB_OK)
        return rc;
    if (n_bids + n_asks >= MERGE_MIN && list_monotonic(bids, n_bids) &&
        list_monotonic(asks, n_asks)) {
        /* An exchange's usual long diff (each side sorted): one merge per
         * side. The crossing rule: the bids the diff sets remove the asks
         * at or below the highest of them, then the asks it sets remove
         * the bids at or above the lowest of them. */
        int64_t max_bid = 0, min_ask = 0;
        for (size_t i = 0; i < n_bids; i++)
            if (bids[i].qty > 0 && bids[i].price > max_bid)
                max_bid = bids[i].price;
        for (size_t i = 0; i < n_asks; i++)
            if (asks[i].qty > 0 && (min_ask == 0 || asks[i].price < min_ask))
                min_ask = asks[i].price;
        side_merge(b, &b->bids, true, bids, n_bids, 0);
        side_merge(b, &b->asks, false, asks, n_asks, max_bid);
        if (min_ask > 0)
            b->crossed_levels_removed += side_trim_top(&b->bids, min_ask, true);
        b->changes++;
        if (last_id != 0)
            b->update_id = last_id;
        return CLB_OK;
    }
    /* Deletions first: the state is the same as applying the list in order
     * (prices are unique per side), but a level the diff deletes anyway is
     * not counted as removed by crossing. */
    for (size_t i = 0; i < n_bids; i++)
        if (bids[i].qty == 0)
            book_set_any(b, true, bids[i].price, 0);
    for (size_t i = 0; i < n_asks; i++)
        if (asks[i].qty == 0)
            book_set_any(b, false, asks[i].price, 0);
    for (size_t i = 0; i < n_bids; i++)
        if (bids[i].qty > 0)
            book_set_any(b, true, bids[i].price, bids[i].qty);
    for (size_t i = 0; i < n_asks; i++)
        if (asks[i].qty > 0)
            book_set_any(b, false, asks[i].price, asks[i].qty);
    b->changes++;
    if (last_id != 0)
        b->update_id = last_id;
    return CLB_OK;
}

int clb_book_set_level(struct clb_order_book *b, enum clb_side side, int64_t price, int64_t qty)
{
    if (b->bids.cap == 0 || price <= 0 || qty < 0 ||
        (side != CLB_SIDE_BUY && side != CLB_SIDE_SELL))
        return CLB_EINVAL;
    book_set(b, side == CLB_SIDE_BUY, price, qty);
    b->changes++;
    return CLB_OK;
}

/* ---- simple queries ---------------------------------------------------- */

bool clb_book_mid(const struct clb_order_book *b, double *mid)
{
    if (b->bids.n == 0 || b->asks.n == 0)
        return false;
    *mid = ((double)b->bids.lv[b->bids.n - 1].price + (double)b->asks.lv[b->asks.n - 1].price) *
           0.5;
    return true;
}

int64_t clb_book_qty_at(const struct clb_order_book *b, enum clb_side side, int64_t price)
{
    if (price <= 0)
        return 0; /* no such level, and -price must not overflow */
    bool bid = side == CLB_SIDE_BUY;
    const struct clb_book_side *s = clb_book_side_of(b, side);
    uint32_t i = side_find(s, price, bid);
    return i < s->n && s->lv[i].price == price ? s->lv[i].qty : 0;
}

size_t clb_book_top(const struct clb_order_book *b, enum clb_side side, struct clb_level *out,
                    size_t n)
{
    const struct clb_book_side *s = clb_book_side_of(b, side);
    size_t k = n < s->n ? n : s->n;
    for (size_t i = 0; i < k; i++)
        out[i] = s->lv[s->n - 1 - i];
    return k;
}

/* ---- depth queries ----------------------------------------------------- */

static void fill_query(struct clb_book_query *q, int64_t price, int64_t volume, double volume_d,
                       i128 quote, bool complete)
{
    q->price = price;
    q->volume = volume;
    q->quote_volume = (double)quote;
    q->vwap = volume_d > 0 ? q->quote_volume / volume_d : 0.0;
    q->complete = complete;
}

static int taker_side(const struct clb_order_book *b, enum clb_side taker,
                      const struct clb_book_side **s)
{
    if (taker != CLB_SIDE_BUY && taker != CLB_SIDE_SELL)
        return CLB_EINVAL;
    *s = taker == CLB_SIDE_BUY ? &b->asks : &b->bids;
    return CLB_OK;
}

/* Walks from the best level until `volume` (> 0) is covered. The running
 * volume stays below `volume` inside the loop and the quote below
 * volume * INT64_MAX < 2^126: no overflow. */
static void walk_volume(const struct clb_book_side *s, int64_t volume, struct clb_book_query *q)
{
    const struct clb_level *lv = s->lv;
    int64_t cum = 0;
    i128 quote = 0;
    for (uint32_t i = s->n; i-- > 0;) {
        int64_t px = lv[i].price, qty = lv[i].qty;
        int64_t need = volume - cum;
        if (qty >= need) {
            quote += (i128)px * need;
            fill_query(q, px, volume, (double)volume, quote, true);
            return;
        }
        cum += qty;
        quote += (i128)px * qty;
    }
    fill_query(q, lv[0].price, cum, (double)cum, quote, false);
}

static int query_volume(const struct clb_order_book *b, enum clb_side taker, int64_t volume,
                        struct clb_book_query *q)
{
    const struct clb_book_side *s;
    if (taker_side(b, taker, &s) != CLB_OK || volume <= 0)
        return CLB_EINVAL;
    if (s->n == 0)
        return CLB_ENOTREADY;
    walk_volume(s, volume, q);
    return CLB_OK;
}

int clb_book_price_for_volume(const struct clb_order_book *b, enum clb_side taker, int64_t volume,
                              struct clb_book_query *q)
{
    return query_volume(b, taker, volume, q);
}

int clb_book_vwap_for_volume(const struct clb_order_book *b, enum clb_side taker, int64_t volume,
                             struct clb_book_query *q)
{
    return query_volume(b, taker, volume, q);
}

/* Sums the levels no worse than `limit`, saturating at QUOTE_SAT (each term
 * is < 2^126, so a sum below QUOTE_SAT plus a term never overflows). */
static int query_price(const struct clb_order_book *b, enum clb_side taker, int64_t limit,
                       struct clb_book_query *q)
{
    const struct clb_book_side *s;
    if (taker_side(b, taker, &s) != CLB_OK || limit <= 0)
        return CLB_EINVAL;
    if (s->n == 0)
        return CLB_ENOTREADY;
    bool bid = taker == CLB_SIDE_SELL; /* the side walked */
    const int64_t k = key_of(limit, bid);
    i128 vol = 0, quote = 0;
    int64_t last = 0;
    bool beyond = false;
    for (uint32_t i = s->n; i-- > 0;) {
        int64_t px = s->lv[i].price, qty = s->lv[i].qty;
        if (key_of(px, bid) < k) {
            beyond = true;
            break;
        }
        vol += qty;
        quote += (i128)px * qty;
        if (quote > QUOTE_SAT)
            quote = QUOTE_SAT;
        last = px;
    }
    int64_t vol64 = vol > INT64_MAX ? INT64_MAX : (int64_t)vol;
    fill_query(q, last, vol64, (double)vol, quote, beyond);
    return CLB_OK;
}

int clb_book_volume_for_price(const struct clb_order_book *b, enum clb_side taker, int64_t price,
                              struct clb_book_query *q)
{
    return query_price(b, taker, price, q);
}

int clb_book_quote_volume_for_price(const struct clb_order_book *b, enum clb_side taker,
                                    int64_t price, struct clb_book_query *q)
{
    return query_price(b, taker, price, q);
}

int clb_book_price_for_quote_volume(const struct clb_order_book *b, enum clb_side taker,
                                    double quote, struct clb_book_query *q)
{
    const struct clb_book_side *s;
    if (taker_side(b, taker, &s) != CLB_OK || !(quote > 0.0) || !isfinite(quote))
        return CLB_EINVAL;
    if (s->n == 0)
        return CLB_ENOTREADY;
    /* cum >= quote  <=>  cum >= ceil(quote) for an integer cum. A quote of
     * 2^126 or more is never reached (the sums saturate there). */
    bool reachable = quote < 0x1p126;
    i128 target = reachable ? (i128)ceil(quote) : QUOTE_SAT;
    i128 cum = 0, vol = 0;
    for (uint32_t i = s->n; i-- > 0;) {
        int64_t px = s->lv[i].price, qty = s->lv[i].qty;
        i128 level = (i128)px * qty;
        if (reachable && cum + level >= target) {
            /* Smallest t with cum + px * t >= target; t <= qty. */
            int64_t t = (int64_t)((target - cum + px - 1) / px);
            cum += (i128)px * t;
            vol += t;
            int64_t vol64 = vol > INT64_MAX ? INT64_MAX : (int64_t)vol;
            fill_query(q, px, vol64, (double)vol, cum, true);
            return CLB_OK;
        }
        cum += level;
        if (cum > QUOTE_SAT)
            cum = QUOTE_SAT;
        vol += qty;
    }
    int64_t vol64 = vol > INT64_MAX ? INT64_MAX : (int64_t)vol;
    fill_query(q, s->lv[0].price, vol64, (double)vol, cum, false);
    return CLB_OK;
}

/* ---- invariants -------------------------------------------------------- */

static bool side_ok(const struct clb_book_side *s, bool bid)
{
    if (s->cap == 0 || !s->mem || s->room != 2 * s->cap || s->n > s->cap)
        return false;
    if (s->lv < s->mem || s->lv + s->n > s->mem + s->room)
        return false;
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->lv[i].price <= 0 || s->lv[i].qty <= 0)
            return false;
        if (i > 0 && key_of(s->lv[i].price, bid) <= key_of(s->lv[i - 1].price, bid))
            return false;
    }
    return true;
}

int clb_book_check(const struct clb_order_book *b)
{
    if (!side_ok(&b->bids, true) || !side_ok(&b->asks, false))
        return CLB_ESTATE;
    if (b->bids.n > 0 && b->asks.n > 0 &&
        b->bids.lv[b->bids.n - 1].price >= b->asks.lv[b->asks.n - 1].price)
        return CLB_ESTATE;
    return CLB_OK;
}
