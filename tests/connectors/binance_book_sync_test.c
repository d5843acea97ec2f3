/*
 * binance_book_sync_test.c — tests of connectors/binance/binance_book_sync.c:
 * hand-picked state-machine cases, and a property test where a random book
 * evolves, its diffs reach the sync with random drops, duplicates and
 * reorders, snapshots are taken at random moments (some deliberately stale)
 * and the stream goes down and up: whenever the sync reports in-sync, its
 * book must equal the reference book at the book's update id.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "binance_book_sync.h"
#include "binance_md.h"
#include "error.h"

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rnd(uint64_t *s, uint32_t n)
{
    return (uint32_t)(splitmix64(s) % n);
}

static void setup(struct clb_binance_book_sync *s, uint32_t max_buffered)
{
    struct clb_binance_book_sync_config cfg = {
        .max_levels = 100, .max_buffered = max_buffered, .max_buffered_levels = 1000
    };
    cr_assert_eq(clb_binance_book_sync_init(s, &cfg), CLB_OK);
}

/* A diff setting bid `bp` and ask `ap` to qty q. */
static int diff(struct clb_binance_book_sync *s, uint64_t first, uint64_t last, int64_t bp,
                int64_t ap, int64_t q)
{
    struct clb_level b = { bp, q }, a = { ap, q };
    return clb_binance_book_sync_on_diff(s, first, last, &b, 1, &a, 1);
}

static int snap(struct clb_binance_book_sync *s, uint64_t id)
{
    struct clb_level b[2] = { { 100, 5 }, { 99, 5 } }, a[2] = { { 110, 5 }, { 111, 5 } };
    return clb_binance_book_sync_apply_snapshot(s, id, b, 2, a, 2);
}

Test(binance_book_sync, starts_down_and_handshake)
{
    struct clb_binance_book_sync s;
    setup(&s, 16);
    cr_assert_eq(s.state, CLB_BOOK_SYNC_DOWN);
    cr_assert(!clb_binance_book_sync_in_sync(&s));
    cr_assert(!clb_binance_book_sync_needs_snapshot(&s));
    cr_assert_eq(diff(&s, 1, 1, 100, 110, 1), CLB_ESTATE);
    cr_assert_eq(s.stats.dropped_events, 1);
    clb_binance_book_sync_stream_up(&s);
    cr_assert(clb_binance_book_sync_needs_snapshot(&s));
    clb_binance_book_sync_snapshot_requested(&s);
    cr_assert(!clb_binance_book_sync_needs_snapshot(&s));
    clb_binance_book_sync_snapshot_failed(&s);
    cr_assert(clb_binance_book_sync_needs_snapshot(&s));
    /* no event yet: a snapshot is usable right away */
    cr_assert_eq(snap(&s, 50), CLB_OK);
    cr_assert(clb_binance_book_sync_in_sync(&s));
    cr_assert(!clb_binance_book_sync_needs_snapshot(&s));
    cr_assert_eq(s.book.update_id, 50);
    cr_assert_eq(diff(&s, 51, 52, 100, 110, 9), CLB_OK);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 100), 9);
    clb_binance_book_sync_deinit(&s);
}

Test(binance_book_sync, snapshot_inside_buffered_events)
{
    struct clb_binance_book_sync s;
    setup(&s, 16);
    clb_binance_book_sync_stream_up(&s);
    cr_assert_eq(diff(&s, 100, 101, 100, 110, 1), CLB_OK);
    cr_assert_eq(diff(&s, 102, 103, 99, 111, 2), CLB_OK);
    cr_assert_eq(diff(&s, 104, 105, 98, 112, 3), CLB_OK);
    cr_assert(!clb_binance_book_sync_in_sync(&s));
    /* lastUpdateId 102 falls inside [102, 103]: the first event is dropped */
    cr_assert_eq(snap(&s, 102), CLB_OK);
    cr_assert(clb_binance_book_sync_in_sync(&s));
    cr_assert_eq(s.book.update_id, 105);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 100), 5); /* event 100..101 not applied */
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 99), 2);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_SELL, 112), 3);
    cr_assert_eq(s.stats.dropped_events, 1);
    cr_assert_eq(s.stats.events_applied, 2);
    cr_assert_eq(s.stats.snapshots_applied, 1);
    clb_binance_book_sync_deinit(&s);
}

Test(binance_book_sync, snapshot_older_than_buffer_is_refused)
{
    struct clb_binance_book_sync s;
    setup(&s, 16);
    clb_binance_book_sync_stream_up(&s);
    clb_binance_book_sync_snapshot_requested(&s);
    cr_assert_eq(diff(&s, 100, 101, 100, 110, 1), CLB_OK);
    cr_assert_eq(snap(&s, 98), CLB_ESTALE); /* 98 + 1 < 100: update 99 is missing */
    cr_assert_eq(s.stats.stale_snapshots, 1);
    cr_assert(!clb_binance_book_sync_in_sync(&s));
    cr_assert(clb_binance_book_sync_needs_snapshot(&s));
    cr_assert_eq(snap(&s, 99), CLB_OK); /* 99 + 1 == U: the event applies */
    cr_assert_eq(s.book.update_id, 101);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 100), 1);
    clb_binance_book_sync_deinit(&s);
}

Test(binance_book_sync, snapshot_newer_than_buffer)
{
    struct clb_binance_book_sync s;
    setup(&s, 16);
    clb_binance_book_sync_stream_up(&s);
    cr_assert_eq(diff(&s, 100, 101, 100, 110, 1), CLB_OK);
    cr_assert_eq(snap(&s, 200), CLB_OK);
    cr_assert_eq(s.book.update_id, 200);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 100), 5);
    cr_assert_eq(diff(&s, 102, 150, 100, 110, 7), CLB_ESTALE);
    cr_assert_eq(diff(&s, 190, 205, 100, 110, 7), CLB_OK); /* U <= 201 <= u */
    cr_assert_eq(s.book.update_id, 205);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 100), 7);
    clb_binance_book_sync_deinit(&s);
}

Test(binance_book_sync, gap_clears_and_resyncs)
{
    struct clb_binance_book_sync s;
    setup(&s, 16);
    clb_binance_book_sync_stream_up(&s);
    cr_assert_eq(snap(&s, 10), CLB_OK);
    cr_assert_eq(diff(&s, 11, 11, 100, 110, 1), CLB_OK);
    cr_assert_eq(diff(&s, 13, 14, 100, 110, 2), CLB_EGAP); /* 12 lost */
    cr_assert_eq(s.stats.gaps, 1);
    cr_assert_eq(s.stats.resyncs, 1);
    cr_assert(!clb_binance_book_sync_in_sync(&s));
    cr_assert(clb_binance_book_sync_needs_snapshot(&s));
    cr_assert_eq(clb_book_depth(&s.book, CLB_SIDE_BUY), 0);
    cr_assert_eq(clb_book_depth(&s.book, CLB_SIDE_SELL), 0);
    /* the event that revealed the gap is buffered and replayed */
    cr_assert_eq(snap(&s, 11), CLB_ESTALE);
    cr_assert_eq(snap(&s, 12), CLB_OK);
    cr_assert_eq(s.book.update_id, 14);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 100), 2);
    clb_binance_book_sync_deinit(&s);
}

Test(binance_book_sync, duplicates_are_dropped)
{
    struct clb_binance_book_sync s;
    setup(&s, 16);
    clb_binance_book_sync_stream_up(&s);
    cr_assert_eq(diff(&s, 5, 6, 100, 110, 1), CLB_OK);
    cr_assert_eq(diff(&s, 5, 6, 100, 110, 1), CLB_ESTALE);
    cr_assert_eq(snap(&s, 4), CLB_OK);
    cr_assert_eq(diff(&s, 5, 6, 100, 110, 1), CLB_ESTALE);
    cr_assert_eq(diff(&s, 7, 7, 100, 110, 3), CLB_OK);
    cr_assert_eq(diff(&s, 7, 7, 100, 110, 3), CLB_ESTALE);
    cr_assert_eq(s.stats.dropped_events, 3);
    cr_assert_eq(s.stats.gaps, 0);
    cr_assert(clb_binance_book_sync_in_sync(&s));
    /* a snapshot older than the book while synced is ignored */
    cr_assert_eq(snap(&s, 6), CLB_ESTALE);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 100), 3);
    cr_assert_eq(snap(&s, 9), CLB_OK); /* a newer one replaces the book */
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 100), 5);
    clb_binance_book_sync_deinit(&s);
}

Test(binance_book_sync, gap_while_buffering_and_overflow)
{
    struct clb_binance_book_sync s;
    setup(&s, 3);
    clb_binance_book_sync_stream_up(&s);
    cr_assert_eq(diff(&s, 100, 101, 100, 110, 1), CLB_OK);
    cr_assert_eq(diff(&s, 105, 106, 100, 110, 2), CLB_OK); /* gap: buffer restarts here */
    cr_assert_eq(s.stats.gaps, 1);
    cr_assert_eq(snap(&s, 101), CLB_ESTALE);
    cr_assert_eq(diff(&s, 107, 107, 100, 110, 3), CLB_OK);
    cr_assert_eq(diff(&s, 108, 108, 100, 110, 4), CLB_OK);
    cr_assert_eq(s.stats.buffer_overflows, 0);
    cr_assert_eq(diff(&s, 109, 109, 100, 110, 5), CLB_OK); /* 4th event: overflow */
    cr_assert_eq(s.stats.buffer_overflows, 1);
    cr_assert_eq(s.stats.resyncs, 1);
    cr_assert_eq(snap(&s, 104), CLB_ESTALE); /* 105..108 are gone */
    cr_assert_eq(snap(&s, 108), CLB_OK);
    cr_assert_eq(s.book.update_id, 109);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 100), 5);
    clb_binance_book_sync_deinit(&s);
}

Test(binance_book_sync, oversized_event_and_bad_levels)
{
    struct clb_binance_book_sync s;
    struct clb_binance_book_sync_config cfg = {
        .max_levels = 100, .max_buffered = 8, .max_buffered_levels = 2
    };
    cr_assert_eq(clb_binance_book_sync_init(&s, &cfg), CLB_OK);
    clb_binance_book_sync_stream_up(&s);
    struct clb_level lv[3] = { { 100, 1 }, { 99, 1 }, { 98, 1 } };
    cr_assert_eq(clb_binance_book_sync_on_diff(&s, 10, 12, lv, 3, NULL, 0), CLB_ERANGE);
    cr_assert_eq(snap(&s, 11), CLB_ESTALE); /* event 10..12 was lost */
    cr_assert_eq(snap(&s, 12), CLB_OK);
    /* a repeated price is refused by the book: treated as a resync */
    struct clb_level dup[2] = { { 100, 1 }, { 100, 2 } };
    cr_assert_eq(clb_binance_book_sync_on_diff(&s, 13, 13, dup, 2, NULL, 0), CLB_EINVAL);
    cr_assert_eq(s.stats.bad_events, 1);
    cr_assert(!clb_binance_book_sync_in_sync(&s));
    cr_assert_eq(snap(&s, 12), CLB_ESTALE);
    cr_assert_eq(snap(&s, 13), CLB_OK);
    /* a crossed snapshot is refused */
    struct clb_level b = { 120, 1 }, a = { 110, 1 };
    cr_assert_eq(clb_binance_book_sync_apply_snapshot(&s, 20, &b, 1, &a, 1), CLB_EINVAL);
    cr_assert_eq(s.stats.bad_snapshots, 1);
    clb_binance_book_sync_deinit(&s);
}

Test(binance_book_sync, stream_down_polling)
{
    struct clb_binance_book_sync s;
    setup(&s, 16);
    clb_binance_book_sync_stream_up(&s);
    cr_assert_eq(snap(&s, 10), CLB_OK);
    clb_binance_book_sync_stream_down(&s);
    cr_assert(!clb_binance_book_sync_in_sync(&s));
    cr_assert(!clb_binance_book_sync_needs_snapshot(&s));
    cr_assert_eq(diff(&s, 11, 11, 100, 110, 1), CLB_ESTATE);
    cr_assert_eq(snap(&s, 30), CLB_OK);
    cr_assert(clb_binance_book_sync_in_sync(&s));
    cr_assert_eq(snap(&s, 25), CLB_OK); /* polling applies whatever it gets */
    cr_assert_eq(s.book.update_id, 25);
    clb_binance_book_sync_stream_up(&s);
    cr_assert(!clb_binance_book_sync_in_sync(&s));
    cr_assert(clb_binance_book_sync_needs_snapshot(&s));
    clb_binance_book_sync_deinit(&s);
}

Test(binance_book_sync, from_parsed_depth_update)
{
    struct clb_binance_md p;
    struct clb_binance_md_config pc = { .max_levels = 10, .max_markets = 1 };
    cr_assert_eq(clb_binance_md_init(&p, &pc), CLB_OK);
    cr_assert_eq(clb_binance_md_add_market(&p, "BNBBTC", 4, 0, NULL), CLB_OK);
    struct clb_binance_book_sync s;
    setup(&s, 16);
    clb_binance_book_sync_stream_up(&s);
    const char *ev = "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BNBBTC\",\"U\":157,\"u\":160,"
                     "\"b\":[[\"0.0024\",\"10\"]],\"a\":[[\"0.0026\",\"100\"]]}";
    struct clb_binance_md_msg m;
    cr_assert_eq(clb_binance_md_parse(&p, ev, strlen(ev), &m), CLB_OK);
    cr_assert_eq(clb_binance_book_sync_on_depth(&s, &m.u.depth), CLB_OK);
    const char *sn = "{\"lastUpdateId\":158,\"bids\":[[\"0.0023\",\"5\"]],"
                     "\"asks\":[[\"0.0026\",\"1\"]]}";
    struct clb_binance_md_snapshot ss;
    cr_assert_eq(clb_binance_md_parse_snapshot(&p, 0, sn, strlen(sn), &ss), CLB_OK);
    cr_assert_eq(clb_binance_book_sync_apply_snapshot(&s, ss.last_update_id, ss.bids, ss.n_bids,
                                                      ss.asks, ss.n_asks),
                 CLB_OK);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 24), 10);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 23), 5);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_SELL, 26), 100);
    clb_binance_book_sync_deinit(&s);
    clb_binance_md_deinit(&p);
}

/* ---- property test ------------------------------------------------------------ */

#define NP 40       /* price slots per side: bids 100..139, asks 200..239, never crossed */
#define NSTEPS 30000
#define BASE_ID 1000

typedef int32_t hist_state[2][NP];

struct gen_event {
    uint64_t first, last;
    struct clb_level bids[NP], asks[NP];
    size_t nb, na;
};

static int64_t price_of(int side, int i)
{
    return side == 0 ? 100 + i : 200 + i;
}

static void levels_of(const hist_state *h, int side, struct clb_level *out, size_t *n,
                      uint64_t *r)
{
    size_t k = 0;
    for (int i = 0; i < NP; i++)
        if ((*h)[side][i] > 0)
            out[k++] = (struct clb_level){ price_of(side, i), (*h)[side][i] };
    for (size_t i = k; i > 1; i--) { /* any order */
        size_t j = rnd(r, (uint32_t)i);
        struct clb_level t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
    *n = k;
}

static int checks_in_sync, checks_polled;

static void check_book(const struct clb_binance_book_sync *s, hist_state *hist, uint64_t cur)
{
    cr_assert_eq(clb_book_check(&s->book), CLB_OK);
    if (!clb_binance_book_sync_in_sync(s))
        return;
    uint64_t id = s->book.update_id;
    cr_assert(id >= BASE_ID && id <= cur, "book at %llu, exchange at %llu",
              (unsigned long long)id, (unsigned long long)cur);
    const hist_state *h = &hist[id - BASE_ID];
    for (int side = 0; side < 2; side++) {
        uint32_t n = 0;
        for (int i = 0; i < NP; i++) {
            int64_t q = clb_book_qty_at(&s->book, side == 0 ? CLB_SIDE_BUY : CLB_SIDE_SELL,
                                        price_of(side, i));
            cr_assert_eq(q, (*h)[side][i], "id %llu side %d slot %d", (unsigned long long)id,
                         side, i);
            n += (*h)[side][i] > 0;
        }
        cr_assert_eq(clb_book_depth(&s->book, side == 0 ? CLB_SIDE_BUY : CLB_SIDE_SELL), n);
    }
    checks_in_sync++;
    checks_polled += s->state == CLB_BOOK_SYNC_DOWN;
}

struct flight {
    int delay;   /* steps until the answer arrives */
    uint64_t id; /* the snapshot's lastUpdateId */
};

Test(binance_book_sync, property_random_feed_matches_reference)
{
    uint64_t r = 0xb00c5a11;
    size_t nids = NSTEPS * 3 + 2;
    hist_state *hist = calloc(nids, sizeof(*hist));
    cr_assert(hist);
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < NP; i++)
            hist[0][side][i] = rnd(&r, 2) ? 1 + (int32_t)rnd(&r, 1000) : 0;
    uint64_t cur = BASE_ID; /* the exchange's current update id */

    struct clb_binance_book_sync s;
    setup(&s, 8);
    bool up = true;
    clb_binance_book_sync_stream_up(&s);
    struct flight fl[8];
    int n_fl = 0;
    static struct gen_event ev, held;
    bool have_held = false;
    checks_in_sync = checks_polled = 0;

    for (int step = 0; step < NSTEPS; step++) {
        /* The exchange moves 1..3 update ids; one diff event carries them. */
        ev.first = cur + 1;
        bool changed[2][NP] = { { false } };
        for (uint32_t k = 0, n = 1 + rnd(&r, 3); k < n; k++) {
            cur++;
            memcpy(hist[cur - BASE_ID], hist[cur - 1 - BASE_ID], sizeof(hist_state));
            for (uint32_t c = 0, nc = 1 + rnd(&r, 3); c < nc; c++) {
                int side = (int)rnd(&r, 2), i = (int)rnd(&r, NP);
                hist[cur - BASE_ID][side][i] = rnd(&r, 3) ? 1 + (int32_t)rnd(&r, 1000) : 0;
                changed[side][i] = true;
            }
        }
        ev.last = cur;
        ev.nb = ev.na = 0;
        for (int i = 0; i < NP; i++) {
            if (changed[0][i])
                ev.bids[ev.nb++] = (struct clb_level){ price_of(0, i), hist[cur - BASE_ID][0][i] };
            if (changed[1][i])
                ev.asks[ev.na++] = (struct clb_level){ price_of(1, i), hist[cur - BASE_ID][1][i] };
        }

        /* Delivery with faults: drop, duplicate, swap with the next one. */
        if (up) {
            uint32_t f = rnd(&r, 100);
            struct gen_event *send[3];
            int ns = 0;
            if (f < 2) {
                /* dropped */
            } else if (f < 4) {
                send[ns++] = &ev;
                send[ns++] = &ev;
            } else if (f < 6 && !have_held) {
                held = ev;
                have_held = true;
            } else {
                send[ns++] = &ev;
            }
            if (have_held && send[0] != &held && ns > 0) {
                send[ns++] = &held;
                have_held = false;
            }
            for (int k = 0; k < ns; k++) {
                clb_binance_book_sync_on_diff(&s, send[k]->first, send[k]->last, send[k]->bids,
                                              send[k]->nb, send[k]->asks, send[k]->na);
                check_book(&s, hist, cur);
            }
        }

        /* Snapshot requests and answers. */
        if (up && clb_binance_book_sync_needs_snapshot(&s) && n_fl < 8) {
            clb_binance_book_sync_snapshot_requested(&s);
            fl[n_fl++] = (struct flight){ .delay = (int)rnd(&r, 12), .id = cur };
        }
        for (int k = 0; k < n_fl;) {
            if (fl[k].delay-- > 0) {
                k++;
                continue;
            }
            uint32_t f = rnd(&r, 100);
            if (f < 3) {
                clb_binance_book_sync_snapshot_failed(&s);
            } else {
                /* Taken somewhere between the request and now; sometimes an
                 * old one (a lagging replica). */
                uint64_t id = fl[k].id + rnd(&r, (uint32_t)(cur - fl[k].id + 1));
                if (f < 8 && id > BASE_ID + 60)
                    id -= 20 + rnd(&r, 40);
                static struct clb_level b[NP], a[NP];
                size_t nb, na;
                levels_of(&hist[id - BASE_ID], 0, b, &nb, &r);
                levels_of(&hist[id - BASE_ID], 1, a, &na, &r);
                clb_binance_book_sync_apply_snapshot(&s, id, b, nb, a, na);
                check_book(&s, hist, cur);
            }
            fl[k] = fl[--n_fl];
        }

        /* The stream goes down now and then; REST polling meanwhile. */
        if (up ? rnd(&r, 1000) == 0 : rnd(&r, 60) == 0) {
            up = !up;
            have_held = false;
            if (up)
                clb_binance_book_sync_stream_up(&s);
            else
                clb_binance_book_sync_stream_down(&s);
        }
        if (!up && rnd(&r, 10) == 0) {
            static struct clb_level b[NP], a[NP];
            size_t nb, na;
            levels_of(&hist[cur - BASE_ID], 0, b, &nb, &r);
            levels_of(&hist[cur - BASE_ID], 1, a, &na, &r);
            cr_assert_eq(clb_binance_book_sync_apply_snapshot(&s, cur, b, nb, a, na), CLB_OK);
        }
        check_book(&s, hist, cur);
    }
    /* The run must have exercised every path, and mostly been in sync. */
    cr_log_info("in sync %d, gaps %llu, resyncs %llu, stale snapshots %llu, dropped %llu, "
                "overflows %llu, applied %llu", checks_in_sync,
                (unsigned long long)s.stats.gaps, (unsigned long long)s.stats.resyncs,
                (unsigned long long)s.stats.stale_snapshots,
                (unsigned long long)s.stats.dropped_events,
                (unsigned long long)s.stats.buffer_overflows,
                (unsigned long long)s.stats.events_applied);
    cr_assert_gt(checks_in_sync, NSTEPS / 2, "in sync %d", checks_in_sync);
    cr_assert_gt(checks_polled, 100, "in sync by polling %d", checks_polled);
    cr_assert_gt(s.stats.gaps, 100);
    cr_assert_gt(s.stats.resyncs, 100);
    cr_assert_gt(s.stats.stale_snapshots, 10);
    cr_assert_gt(s.stats.dropped_events, 100);
    cr_assert_gt(s.stats.buffer_overflows, 5);
    cr_assert_gt(s.stats.events_applied, NSTEPS / 2);
    clb_binance_book_sync_deinit(&s);
    free(hist);
}

/* warm runs the book code on its scratch book only: the synced book, the
 * state, the buffer and the counters are exactly as before, whatever the
 * levels (the canned message, random ones, refused ones). */
Test(binance_book_sync, warm_changes_nothing_real)
{
    struct clb_binance_book_sync s;
    setup(&s, 16);
    clb_binance_book_sync_stream_up(&s);
    cr_assert_eq(snap(&s, 50), CLB_OK);
    cr_assert_eq(diff(&s, 51, 52, 98, 112, 7), CLB_OK);
    struct clb_binance_md p;
    struct clb_binance_md_config pc = { .max_levels = 64, .max_markets = 2 };
    cr_assert_eq(clb_binance_md_init(&p, &pc), CLB_OK);
    cr_assert_eq(clb_binance_md_add_market(&p, "BTCUSDT", 2, 8, NULL), CLB_OK);
    struct clb_binance_md_msg msg;
    cr_assert_eq(clb_binance_md_warm(&p, 0, &msg), CLB_OK);

    struct clb_level bids[8], asks[8];
    size_t nb = clb_book_top(&s.book, CLB_SIDE_BUY, bids, 8);
    size_t na = clb_book_top(&s.book, CLB_SIDE_SELL, asks, 8);
    struct clb_binance_book_sync_stats st = s.stats;
    uint64_t id = s.book.update_id, changes = s.book.changes;
    uint64_t r = 99;
    for (int i = 0; i < 2000; i++) {
        int rc;
        if (i % 3 == 0) {
            rc = clb_binance_book_sync_warm(&s, &msg.u.depth);
            cr_assert_eq(rc, CLB_OK);
        } else {
            struct clb_level lb[40], la[40];
            struct clb_binance_md_depth d = { .bids = lb, .asks = la,
                                              .n_bids = rnd(&r, 40), .n_asks = rnd(&r, 40) };
            for (size_t k = 0; k < d.n_bids; k++)
                lb[k] = (struct clb_level){ 1000 - (int64_t)rnd(&r, 60), rnd(&r, 3) };
            for (size_t k = 0; k < d.n_asks; k++)
                la[k] = (struct clb_level){ 1001 + (int64_t)rnd(&r, 60), rnd(&r, 3) };
            rc = clb_binance_book_sync_warm(&s, &d); /* repeated prices: refused */
            cr_assert(rc == CLB_OK || rc == CLB_EINVAL);
        }
        cr_assert_eq(clb_book_check(&s.shadow), CLB_OK);
    }
    struct clb_level bids2[8], asks2[8];
    cr_assert_eq(clb_book_top(&s.book, CLB_SIDE_BUY, bids2, 8), nb);
    cr_assert_eq(clb_book_top(&s.book, CLB_SIDE_SELL, asks2, 8), na);
    cr_assert_eq(memcmp(bids, bids2, nb * sizeof(*bids)), 0);
    cr_assert_eq(memcmp(asks, asks2, na * sizeof(*asks)), 0);
    cr_assert_eq(memcmp(&st, &s.stats, sizeof(st)), 0);
    cr_assert_eq(s.book.update_id, id);
    cr_assert_eq(s.book.changes, changes);
    cr_assert_eq(s.state, CLB_BOOK_SYNC_SYNCED);
    cr_assert_eq(s.n_ev, 0);
    /* and the real path still works */
    cr_assert_eq(diff(&s, 53, 53, 98, 112, 3), CLB_OK);
    cr_assert_eq(clb_book_qty_at(&s.book, CLB_SIDE_BUY, 98), 3);
    cr_assert_eq(clb_binance_book_sync_warm(NULL, &msg.u.depth), CLB_EINVAL);
    clb_binance_md_deinit(&p);
    clb_binance_book_sync_deinit(&s);
}
