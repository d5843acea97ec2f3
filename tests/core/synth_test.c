/* Tests for core/synth.c: determinism, and the feed's invariants checked by
 * replaying it into a naive book (unsorted arrays, linear scans). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "market_data.h"
#include "synth.h"

/* ---- naive reference book ---- */

#define NB_MAX 4096

struct naive_side {
    int64_t price[NB_MAX];
    int64_t qty[NB_MAX];
    int n;
};

struct naive_book {
    struct naive_side bid, ask;
};

static int ns_find(const struct naive_side *s, int64_t price)
{
    for (int i = 0; i < s->n; i++)
        if (s->price[i] == price)
            return i;
    return -1;
}

static int64_t ns_qty(const struct naive_side *s, int64_t price)
{
    int i = ns_find(s, price);
    return i < 0 ? 0 : s->qty[i];
}

/* Returns 0 if a delete hits a missing level, 1 otherwise. */
static int ns_set(struct naive_side *s, int64_t price, int64_t qty)
{
    int i = ns_find(s, price);
    if (qty == 0) {
        if (i < 0)
            return 0;
        s->price[i] = s->price[s->n - 1];
        s->qty[i] = s->qty[s->n - 1];
        s->n--;
        return 1;
    }
    if (i < 0) {
        cr_assert_lt(s->n, NB_MAX);
        i = s->n++;
        s->price[i] = price;
    }
    s->qty[i] = qty;
    return 1;
}

static int64_t ns_best(const struct naive_side *s, int bid)
{
    int64_t best = bid ? INT64_MIN : INT64_MAX;
    for (int i = 0; i < s->n; i++)
        if (bid ? s->price[i] > best : s->price[i] < best)
            best = s->price[i];
    return best;
}

static int books_equal(const struct naive_book *a, const struct naive_book *b)
{
    const struct naive_side *sa[2] = { &a->bid, &a->ask }, *sb[2] = { &b->bid, &b->ask };
    for (int k = 0; k < 2; k++) {
        if (sa[k]->n != sb[k]->n)
            return 0;
        for (int i = 0; i < sa[k]->n; i++)
            if (ns_qty(sb[k], sa[k]->price[i]) != sa[k]->qty[i])
                return 0;
    }
    return 1;
}

/* ---- the replay checker ---- */

struct stats {
    uint64_t records, batches, trades[2], resets, levels_changed;
    int64_t first_ts, last_ts;
    uint64_t max_spread, spread_sum;
};

/* Replays n records, asserting every invariant; fills *st. */
static void replay_check(const struct clb_md_record *r, size_t n, const struct clb_md_header *h,
                         uint32_t levels, struct stats *st)
{
    static struct naive_book book, saved;
    memset(&book, 0, sizeof(book));
    memset(st, 0, sizeof(*st));
    int in_batch = 0, in_snapshot = 0, check_snapshot = 0;
    int64_t batch_ts = 0, prev_ts = INT64_MIN;
    uint32_t prev_trade_id = 0;
    struct clb_md_error err;
    for (size_t i = 0; i < n; i++) {
        const struct clb_md_record *x = &r[i];
        cr_assert_eq(clb_md_record_check(h, x, &err), CLB_OK, "record %zu: %s", i, err.msg);
        cr_assert_geq(x->ts_ns, prev_ts, "record %zu: ts decreases", i);
        prev_ts = x->ts_ns;
        if (in_batch)
            cr_assert_eq(x->ts_ns, batch_ts, "record %zu: ts changes inside a batch", i);
        else
            batch_ts = x->ts_ns;
        in_batch = 1;

        if (x->flags & CLB_MD_F_RESET) {
            cr_assert(!in_snapshot || i == 0);
            if (i > 0) {
                saved = book; /* the snapshot must restate the replayed book */
                check_snapshot = 1;
            }
            memset(&book, 0, sizeof(book));
            in_snapshot = 1;
            st->resets++;
        }
        if (x->flags & CLB_MD_F_SNAPSHOT)
            cr_assert(in_snapshot, "record %zu: SNAPSHOT outside a snapshot", i);
        else
            cr_assert(!in_snapshot, "record %zu: snapshot batch mixes updates", i);

        if (x->kind == CLB_MD_BID || x->kind == CLB_MD_ASK) {
            struct naive_side *s = x->kind == CLB_MD_BID ? &book.bid : &book.ask;
            cr_assert(ns_set(s, x->price, x->qty), "record %zu: deletes a missing level", i);
            st->levels_changed++;
        } else {
            int buy = x->kind == CLB_MD_TRADE_BUY;
            struct naive_side *s = buy ? &book.ask : &book.bid;
            int64_t best = ns_best(s, !buy);
            cr_assert(s->n > 0, "record %zu: trade against an empty side", i);
            cr_assert_eq(x->price, best, "record %zu: trade not at the best level", i);
            int64_t lq = ns_qty(s, x->price);
            cr_assert_leq(x->qty, lq, "record %zu: trade larger than the level", i);
            cr_assert(!(x->flags & CLB_MD_F_BATCH_END), "record %zu: trade ends a batch", i);
            cr_assert_gt(x->trade_id, prev_trade_id);
            prev_trade_id = x->trade_id;
            if (i + 1 < n) {
                const struct clb_md_record *u = &r[i + 1];
                cr_assert_eq(u->kind, buy ? CLB_MD_ASK : CLB_MD_BID, "record %zu", i);
                cr_assert_eq(u->price, x->price);
                cr_assert_eq(u->qty, lq - x->qty, "record %zu: update does not reduce", i);
                cr_assert_eq(u->ts_ns, x->ts_ns);
            }
            st->trades[buy ? 0 : 1]++;
        }
        /* never crossed, not even mid-batch */
        if (book.bid.n > 0 && book.ask.n > 0)
            cr_assert_lt(ns_best(&book.bid, 1), ns_best(&book.ask, 0),
                         "record %zu: crossed book", i);

        if (x->flags & CLB_MD_F_BATCH_END) {
            in_batch = 0;
            in_snapshot = 0;
            st->batches++;
            cr_assert_eq(book.bid.n, (int)levels, "record %zu: bid depth %d", i, book.bid.n);
            cr_assert_eq(book.ask.n, (int)levels, "record %zu: ask depth %d", i, book.ask.n);
            uint64_t spread = (uint64_t)(ns_best(&book.ask, 0) - ns_best(&book.bid, 1));
            st->spread_sum += spread;
            if (spread > st->max_spread)
                st->max_spread = spread;
            if (check_snapshot) {
                cr_assert(books_equal(&book, &saved), "record %zu: snapshot differs", i);
                check_snapshot = 0;
            }
        }
    }
    st->records = n;
    st->first_ts = r[0].ts_ns;
    st->last_ts = r[n - 1].ts_ns;
}

static struct clb_md_record *generate(const struct clb_synth_params *p, uint64_t seed, size_t n)
{
    struct clb_synth s;
    cr_assert_eq(clb_synth_init(&s, p, seed), CLB_OK);
    struct clb_md_record *r = malloc(n * sizeof(*r));
    cr_assert_not_null(r);
    clb_synth_fill(&s, r, n);
    clb_synth_deinit(&s);
    return r;
}

Test(synth, same_seed_same_bytes_other_seed_differs)
{
    struct clb_synth_params p;
    clb_synth_default_params(&p);
    size_t n = 200000;
    struct clb_md_record *a = generate(&p, 1234, n), *b = generate(&p, 1234, n),
                         *c = generate(&p, 1235, n);
    cr_assert_eq(memcmp(a, b, n * sizeof(*a)), 0);
    /* the first snapshots may share the layout by chance, not the whole run */
    cr_assert_neq(memcmp(a, c, n * sizeof(*a)), 0);
    size_t same = 0;
    for (size_t i = 0; i < n; i++)
        same += memcmp(&a[i], &c[i], sizeof(*a)) == 0;
    cr_assert_lt(same, n / 100);
    free(a);
    free(b);
    free(c);
}

Test(synth, next_and_fill_produce_the_same_sequence)
{
    struct clb_synth_params p;
    clb_synth_default_params(&p);
    size_t n = 50000;
    struct clb_md_record *a = generate(&p, 99, n);
    struct clb_synth s;
    cr_assert_eq(clb_synth_init(&s, &p, 99), CLB_OK);
    struct clb_md_record *b = malloc(n * sizeof(*b));
    size_t i = 0, k = 1;
    while (i < n) {
        if (k % 3 == 0) {
            clb_synth_next(&s, &b[i]);
            i++;
        } else {
            size_t m = (k * 7919) % 97 + 1;
            if (m > n - i)
                m = n - i;
            clb_synth_fill(&s, b + i, m);
            i += m;
        }
        k++;
    }
    cr_assert_eq(memcmp(a, b, n * sizeof(*a)), 0);
    clb_synth_deinit(&s);
    free(a);
    free(b);
}

Test(synth, invariants_over_a_million_records)
{
    struct clb_synth_params p;
    clb_synth_default_params(&p);
    size_t n = 1000000;
    struct clb_md_record *r = generate(&p, 20240101, n);
    struct clb_md_header h;
    struct clb_synth s;
    cr_assert_eq(clb_synth_init(&s, &p, 1), CLB_OK);
    cr_assert_eq(clb_synth_header(&s, &h), CLB_OK);
    clb_synth_deinit(&s);
    cr_assert(h.flags & CLB_MD_HDR_SYNTHETIC);

    /* the first batch is the full snapshot */
    cr_assert_eq(r[0].flags, CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET);
    cr_assert_eq(r[0].ts_ns, p.start_ts_ns);
    cr_assert_eq(r[0].kind, CLB_MD_BID);
    cr_assert_eq(r[0].price, p.start_price - p.tick); /* mean spread 2: 59999.99 / 60000.01 */
    cr_assert(r[2 * p.levels - 1].flags & CLB_MD_F_BATCH_END);

    struct stats st;
    replay_check(r, n, &h, p.levels, &st);
    cr_assert_eq(st.resets, 1);
    cr_assert_gt(st.batches, n / 20);
    cr_assert_gt(st.trades[0], 1000);
    cr_assert_gt(st.trades[1], 1000);
    double secs = (double)(st.last_ts - st.first_ts) / 1e9;
    double rate = (double)n / secs;
    cr_assert(rate > 100 && rate < 2000, "records per simulated second %.1f", rate);
    double mean_spread = (double)st.spread_sum / (double)st.batches;
    cr_assert(mean_spread >= 1.0 && mean_spread < 10.0, "mean spread %.2f ticks", mean_spread);
    free(r);
}

Test(synth, periodic_snapshots_restate_the_book)
{
    struct clb_synth_params p;
    clb_synth_default_params(&p);
    p.snapshot_interval_ns = 2000000000; /* every 2 s */
    p.levels = 20;
    size_t n = 300000;
    struct clb_md_record *r = generate(&p, 5, n);
    struct clb_md_header h;
    cr_assert_eq(clb_md_header_init(&h, "synth", "X", 2, 5, 1, 1), CLB_OK);
    struct stats st;
    replay_check(r, n, &h, p.levels, &st);
    double secs = (double)(st.last_ts - st.first_ts) / 1e9;
    cr_assert_geq(st.resets, (uint64_t)(secs / 2.0) - 1);
    cr_assert_leq(st.resets, (uint64_t)(secs / 2.0) + 2);
    free(r);
}

Test(synth, other_scales_and_coarse_tick)
{
    struct clb_synth_params p;
    clb_synth_default_params(&p);
    strcpy(p.symbol, "ETH-USDT");
    p.price_scale = 4;
    p.qty_scale = 3;
    p.tick = 100; /* 0.01 at scale 4 */
    p.step = 10;  /* 0.01 at scale 3 */
    p.start_price = 30000000;
    p.levels = 7;
    p.volatility = 2e-4; /* a busy market: the top churns */
    p.trade_max_levels = 6;
    p.trade_size_mean = 200;
    size_t n = 200000;
    struct clb_md_record *r = generate(&p, 77, n);
    struct clb_md_header h;
    cr_assert_eq(clb_md_header_init(&h, "synth", "ETH-USDT", 4, 3, 100, 10), CLB_OK);
    struct stats st;
    replay_check(r, n, &h, p.levels, &st); /* includes tick/step multiples */
    free(r);
}

Test(synth, trades_are_clustered)
{
    struct clb_synth_params p;
    clb_synth_default_params(&p);
    size_t n = 400000;
    struct clb_md_record *r = generate(&p, 3, n);
    /* trade counts per 1 s window: a Hawkes process is over-dispersed
     * (variance > mean), a Poisson one would give variance ~= mean */
    int64_t t0 = r[0].ts_ns;
    size_t nw = (size_t)((r[n - 1].ts_ns - t0) / 1000000000);
    cr_assert_gt(nw, 100);
    double *cnt = calloc(nw, sizeof(double));
    for (size_t i = 0; i < n; i++) {
        size_t w = (size_t)((r[i].ts_ns - t0) / 1000000000);
        if (w < nw && i > 0 && clb_md_is_trade(&r[i]) && (r[i - 1].flags & CLB_MD_F_BATCH_END))
            cnt[w] += 1;
    }
    double m = 0, v = 0;
    for (size_t i = 0; i < nw; i++)
        m += cnt[i];
    m /= (double)nw;
    for (size_t i = 0; i < nw; i++)
        v += (cnt[i] - m) * (cnt[i] - m);
    v /= (double)(nw - 1);
    /* stationary mean mu / (1 - alpha / beta) = 4 / 0.4 = 10 trades/s */
    cr_assert(m > 6 && m < 14, "mean trades per second %.2f", m);
    cr_assert_gt(v / m, 2.0, "dispersion index %.2f", v / m);
    free(cnt);
    free(r);
}

Test(synth, params_are_checked)
{
    struct clb_synth_params p, d;
    clb_synth_default_params(&d);
    struct clb_synth s;
    cr_assert_eq(clb_synth_params_check(&d), CLB_OK);
#define BAD(stmt)                                                   \
    do {                                                            \
        p = d;                                                      \
        stmt;                                                       \
        cr_assert_eq(clb_synth_params_check(&p), CLB_EINVAL, #stmt); \
        cr_assert_eq(clb_synth_init(&s, &p, 1), CLB_EINVAL, #stmt);  \
    } while (0)
    BAD(p.tick = 0);
    BAD(p.step = -1);
    BAD(p.price_scale = 19);
    BAD(p.start_price = 0);
    BAD(p.tick = 7); /* start price not a multiple */
    BAD(p.levels = 0);
    BAD(p.levels = CLB_SYNTH_MAX_LEVELS + 1);
    BAD(p.level_gap_ticks = 0.5);
    BAD(p.volatility = -1);
    BAD(p.book_msgs_per_sec = 0; p.trade_base_rate = 0);
    BAD(p.trade_excitation = 3.0); /* explosive Hawkes */
    BAD(p.depth_top = 0.5);
    BAD(p.trade_size_mean = 1.0 / 0.0);
    BAD(p.trade_max_levels = 0);
    BAD(memset(p.symbol, 'x', sizeof(p.symbol)));
#undef BAD
}

Test(synth, deinit_is_safe_and_header_matches_params)
{
    struct clb_synth_params p;
    clb_synth_default_params(&p);
    struct clb_synth s;
    cr_assert_eq(clb_synth_init(&s, &p, 8), CLB_OK);
    cr_assert(clb_synth_at_batch_end(&s));
    struct clb_md_record r;
    clb_synth_next(&s, &r);
    cr_assert(!clb_synth_at_batch_end(&s));
    struct clb_md_header h;
    cr_assert_eq(clb_synth_header(&s, &h), CLB_OK);
    cr_assert_str_eq(h.symbol, "BTC-USDT");
    cr_assert_str_eq(h.exchange, "synth");
    cr_assert_eq(h.price_scale, 2);
    cr_assert_eq(h.qty_scale, 5);
    clb_synth_deinit(&s);
    clb_synth_deinit(&s);
}
