/*
 * synth.c — the synthetic market generator (model in synth.h).
 *
 * The generator builds one whole message (batch) at a time into `pend`,
 * updating its own book as it emits each record, and hands the records out
 * one by one or in bulk. Internally prices are in ticks and quantities in
 * steps; they are multiplied by tick / step on emission. Each side is a
 * small array with the best level last: the top moves in O(1), the far end
 * with one memmove of at most `levels` entries.
 */
#include "synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

void clb_synth_default_params(struct clb_synth_params *p)
{
    memset(p, 0, sizeof(*p));
    strcpy(p->exchange, "synth");
    strcpy(p->symbol, "BTC-USDT");
    p->price_scale = 2;
    p->qty_scale = 5;
    p->tick = 1;
    p->step = 1;
    p->start_price = 6000000;
    p->start_ts_ns = INT64_C(1704067200) * 1000000000;
    p->levels = 50;
    p->level_gap_ticks = 1.5;
    p->book_msgs_per_sec = 60.0;
    p->volatility = 1e-4; /* ~2.9 % a day, a calm BTC day */
    p->spread_mean_ticks = 2.0;
    p->spread_reversion = 2.0;
    p->spread_vol_ticks = 1.5;
    p->depth_top = 20000.0;
    p->depth_growth = 0.08;
    p->depth_noise = 0.6;
    p->trade_base_rate = 4.0;
    p->trade_excitation = 1.2;
    p->trade_decay = 2.0;
    p->trade_size_mean = 5000.0;
    p->trade_size_sigma = 1.0;
    p->trade_max_levels = 3;
    p->snapshot_interval_ns = 0;
}

static bool finite_nonneg(double x)
{
    return isfinite(x) && x >= 0.0;
}

int clb_synth_params_check(const struct clb_synth_params *p)
{
    if (!p || p->price_scale < 0 || p->price_scale > CLB_MD_MAX_SCALE || p->qty_scale < 0 ||
        p->qty_scale > CLB_MD_MAX_SCALE || p->tick <= 0 || p->step <= 0)
        return CLB_EINVAL;
    if (p->start_price <= 0 || p->start_price % p->tick != 0 ||
        p->start_price / p->tick > INT64_MAX / 4 / p->tick)
        return CLB_EINVAL;
    if (p->levels < 1 || p->levels > CLB_SYNTH_MAX_LEVELS || p->trade_max_levels < 1)
        return CLB_EINVAL;
    if (strnlen(p->exchange, CLB_MD_NAME_MAX) == CLB_MD_NAME_MAX ||
        strnlen(p->symbol, CLB_MD_NAME_MAX) == CLB_MD_NAME_MAX || p->start_ts_ns < 0 ||
        p->snapshot_interval_ns < 0)
        return CLB_EINVAL;
    const double nonneg[] = { p->book_msgs_per_sec, p->volatility, p->spread_mean_ticks,
                              p->spread_reversion, p->spread_vol_ticks, p->depth_growth,
                              p->depth_noise, p->trade_base_rate, p->trade_excitation,
                              p->trade_decay, p->trade_size_sigma };
    for (size_t i = 0; i < sizeof(nonneg) / sizeof(nonneg[0]); i++)
        if (!finite_nonneg(nonneg[i]))
            return CLB_EINVAL;
    if (p->book_msgs_per_sec + p->trade_base_rate <= 0.0 || !isfinite(p->level_gap_ticks) ||
        p->level_gap_ticks < 1.0 || p->level_gap_ticks > 1e6 || !isfinite(p->depth_top) ||
        p->depth_top < 1.0 || p->depth_top > 1e12 || !isfinite(p->trade_size_mean) ||
        p->trade_size_mean < 1.0 || p->trade_size_mean > 1e12 ||
        p->volatility > 1.0 || p->depth_noise > 10.0 || p->trade_size_sigma > 10.0)
        return CLB_EINVAL;
    /* A stationary Hawkes process needs a branching ratio below 1. */
    if (p->trade_excitation > 0.0 && !(p->trade_excitation < p->trade_decay))
        return CLB_EINVAL;
    return CLB_OK;
}

/* ---- small random helpers ---- */

static int64_t clamp_i64(double x, int64_t lo, int64_t hi)
{
    if (!(x >= (double)lo)) /* also NaN */
        return lo;
    if (x >= (double)hi)
        return hi;
    return (int64_t)x;
}

/* Standard normal deviate: Marsaglia's polar method, both deviates of a
 * draw used (no trigonometry; this is the generator's hottest helper). */
static double draw_normal(struct clb_synth *s)
{
    if (s->has_spare) {
        s->has_spare = false;
        return s->spare_normal;
    }
    double u, v, q;
    do {
        u = 2.0 * clb_rng_uniform(&s->rng) - 1.0;
        v = 2.0 * clb_rng_uniform(&s->rng) - 1.0;
        q = u * u + v * v;
    } while (q >= 1.0 || q == 0.0);
    double f = sqrt(-2.0 * log(q) / q);
    s->spare_normal = v * f;
    s->has_spare = true;
    return u * f;
}

/* Distance to the next level: 1 + geometric, mean level_gap_ticks. */
static int64_t draw_gap(struct clb_synth *s)
{
    if (s->gap_inv_log == 0.0)
        return 1;
    double u = 1.0 - clb_rng_uniform(&s->rng); /* (0, 1] */
    double k = floor(log(u) * s->gap_inv_log);
    return 1 + clamp_i64(k, 0, 1000000);
}

/* Size of the i-th level from the top, in steps (>= 1). */
static int64_t draw_depth(struct clb_synth *s, uint32_t i)
{
    double sig = s->p.depth_noise;
    double mean = s->p.depth_top * (1.0 + s->p.depth_growth * (double)i);
    double q = mean * exp(sig * draw_normal(s) - 0.5 * sig * sig);
    return clamp_i64(floor(q + 0.5), 1, s->max_qty_steps);
}

static int64_t draw_trade_size(struct clb_synth *s)
{
    double sig = s->p.trade_size_sigma;
    double q = s->p.trade_size_mean * exp(sig * draw_normal(s) - 0.5 * sig * sig);
    return clamp_i64(floor(q + 0.5), 1, s->max_qty_steps);
}

/* ---- emission ---- */

static void emit(struct clb_synth *s, enum clb_md_kind kind, int64_t price_ticks,
                 int64_t qty_steps, uint8_t flags, uint32_t trade_id)
{
    /* pend_cap bounds every message (see pend_capacity); never exceeded */
    struct clb_md_record *r = &s->pend[s->pend_n++];
    r->ts_ns = s->ts_ns;
    r->price = price_ticks * s->p.tick;
    r->qty = qty_steps * s->p.step;
    r->kind = (uint8_t)kind;
    r->flags = flags;
    r->reserved = 0;
    r->trade_id = trade_id;
}

static void end_batch(struct clb_synth *s)
{
    if (s->pend_n > 0)
        s->pend[s->pend_n - 1].flags |= CLB_MD_F_BATCH_END;
}

/* ---- book sides (best last) ---- */

static enum clb_md_kind side_kind(bool bid)
{
    return bid ? CLB_MD_BID : CLB_MD_ASK;
}

/* Deletes the best level of a side, emitting qty 0. */
static void pop_top(struct clb_synth *s, bool bid)
{
    struct clb_level *lv = bid ? s->bid : s->ask;
    uint32_t *n = bid ? &s->n_bid : &s->n_ask;
    emit(s, side_kind(bid), lv[*n - 1].price, 0, 0, 0);
    (*n)--;
}

static void push_top(struct clb_synth *s, bool bid, int64_t price_ticks)
{
    struct clb_level *lv = bid ? s->bid : s->ask;
    uint32_t *n = bid ? &s->n_bid : &s->n_ask;
    int64_t q = draw_depth(s, 0);
    lv[(*n)++] = (struct clb_level){ price_ticks, q };
    emit(s, side_kind(bid), price_ticks, q, 0, 0);
}

/* Brings a side back to exactly `levels` levels at its far end. */
static void fix_far_end(struct clb_synth *s, bool bid)
{
    struct clb_level *lv = bid ? s->bid : s->ask;
    uint32_t *n = bid ? &s->n_bid : &s->n_ask;
    uint32_t want = s->p.levels;
    while (*n > want) {
        emit(s, side_kind(bid), lv[0].price, 0, 0, 0);
        memmove(lv, lv + 1, (*n - 1) * sizeof(*lv));
        (*n)--;
    }
    while (*n < want && *n > 0) {
        int64_t gap = draw_gap(s);
        int64_t worst = lv[0].price;
        int64_t p = bid ? worst - gap : worst + gap;
        if (p < 1 || p > s->max_price_ticks)
            break;
        int64_t q = draw_depth(s, *n);
        memmove(lv + 1, lv, *n * sizeof(*lv));
        lv[0] = (struct clb_level){ p, q };
        (*n)++;
        emit(s, side_kind(bid), p, q, 0, 0);
    }
}

/* Target best bid / ask in ticks from the latent mid and spread. */
static void target_top(const struct clb_synth *s, int64_t *bid, int64_t *ask)
{
    double sp = floor(s->spread_ticks + 0.5);
    int64_t spread = sp < 1.0 ? 1 : (int64_t)sp;
    int64_t b = clamp_i64(floor(s->mid_ticks - 0.5 * (double)spread + 0.5), 1,
                          s->max_price_ticks - spread);
    *bid = b;
    *ask = b + spread;
}

/* Builds a full book around the latent mid (no records). */
static void build_book(struct clb_synth *s)
{
    int64_t b, a;
    target_top(s, &b, &a);
    s->n_bid = s->n_ask = 0;
    s->bid[s->n_bid++] = (struct clb_level){ b, draw_depth(s, 0) };
    s->ask[s->n_ask++] = (struct clb_level){ a, draw_depth(s, 0) };
    for (int side = 0; side < 2; side++) {
        bool bid = side == 0;
        struct clb_level *lv = bid ? s->bid : s->ask;
        uint32_t *n = bid ? &s->n_bid : &s->n_ask;
        while (*n < s->p.levels) {
            int64_t gap = draw_gap(s);
            int64_t p = bid ? lv[0].price - gap : lv[0].price + gap;
            if (p < 1 || p > s->max_price_ticks)
                break;
            memmove(lv + 1, lv, *n * sizeof(*lv));
            lv[0] = (struct clb_level){ p, draw_depth(s, *n) };
            (*n)++;
        }
    }
}

static void emit_snapshot(struct clb_synth *s)
{
    uint32_t first = s->pend_n;
    for (uint32_t i = s->n_bid; i-- > 0;)
        emit(s, CLB_MD_BID, s->bid[i].price, s->bid[i].qty, CLB_MD_F_SNAPSHOT, 0);
    for (uint32_t i = s->n_ask; i-- > 0;)
        emit(s, CLB_MD_ASK, s->ask[i].price, s->ask[i].qty, CLB_MD_F_SNAPSHOT, 0);
    if (s->pend_n > first)
        s->pend[first].flags |= CLB_MD_F_RESET;
    end_batch(s);
}

/* Advances the latent mid (geometric walk) and spread (exact OU step). */
static void advance_latent(struct clb_synth *s, double dt)
{
    const struct clb_synth_params *p = &s->p;
    if (dt <= 0.0)
        return;
    if (p->volatility > 0.0) {
        double v = p->volatility;
        s->mid_ticks *= exp(v * sqrt(dt) * draw_normal(s) - 0.5 * v * v * dt);
        if (s->mid_ticks < 1.0)
            s->mid_ticks = 1.0;
        if (s->mid_ticks > (double)s->max_price_ticks / 2)
            s->mid_ticks = (double)s->max_price_ticks / 2;
    }
    double th = p->spread_reversion, mu = p->spread_mean_ticks, sig = p->spread_vol_ticks;
    if (th > 0.0) {
        double e = exp(-th * dt);
        double sd = sig * sqrt((1.0 - e * e) / (2.0 * th));
        s->spread_ticks = mu + (s->spread_ticks - mu) * e + sd * draw_normal(s);
    } else if (sig > 0.0) {
        s->spread_ticks += sig * sqrt(dt) * draw_normal(s);
    }
    if (s->spread_ticks < 0.5) /* reflect at one tick; keeps the state sane */
        s->spread_ticks = 1.0 - s->spread_ticks;
    if (s->spread_ticks > 1e6)
        s->spread_ticks = 1e6;
}

/* A book message: move the top to the target, keep depth, resize a few
 * levels. Deletions first, so no intermediate state is crossed. */
static void book_message(struct clb_synth *s)
{
    advance_latent(s, s->pending_dt);
    s->pending_dt = 0.0;
    int64_t tb, ta;
    target_top(s, &tb, &ta);
    while (s->n_bid > 0 && s->bid[s->n_bid - 1].price > tb)
        pop_top(s, true);
    while (s->n_ask > 0 && s->ask[s->n_ask - 1].price < ta)
        pop_top(s, false);
    if (s->n_bid == 0 || s->bid[s->n_bid - 1].price < tb)
        push_top(s, true, tb);
    if (s->n_ask == 0 || s->ask[s->n_ask - 1].price > ta)
        push_top(s, false, ta);
    fix_far_end(s, true);
    fix_far_end(s, false);

    uint32_t resizes = 1 + (uint32_t)clb_rng_below(&s->rng, 3);
    double bias = (double)s->p.levels / 6.0 + 0.5;
    for (uint32_t k = 0; k < resizes; k++) {
        bool bid = clb_rng_next(&s->rng) >> 63;
        struct clb_level *lv = bid ? s->bid : s->ask;
        uint32_t n = bid ? s->n_bid : s->n_ask;
        if (n == 0)
            continue;
        uint32_t i = (uint32_t)clamp_i64(clb_rng_exponential(&s->rng, 1.0) * bias, 0, n - 1);
        struct clb_level *l = &lv[n - 1 - i];
        l->qty = draw_depth(s, i);
        emit(s, side_kind(bid), l->price, l->qty, 0, 0);
    }
    end_batch(s);
}

/* A trade message: the taker sweeps the opposite side from its best level. */
static void trade_message(struct clb_synth *s)
{
    bool buy = clb_rng_next(&s->rng) >> 63;
    bool bid_side = !buy; /* a taker buy hits the asks */
    struct clb_level *lv = bid_side ? s->bid : s->ask;
    uint32_t *n = bid_side ? &s->n_bid : &s->n_ask;
    int64_t rem = draw_trade_size(s);
    uint32_t hit = 0;
    while (rem > 0 && *n > 0 && hit < s->p.trade_max_levels) {
        struct clb_level *top = &lv[*n - 1];
        int64_t take = rem < top->qty ? rem : top->qty;
        emit(s, buy ? CLB_MD_TRADE_BUY : CLB_MD_TRADE_SELL, top->price, take, 0,
             ++s->trade_id);
        top->qty -= take;
        emit(s, side_kind(bid_side), top->price, top->qty, 0, 0);
        if (top->qty == 0)
            (*n)--;
        rem -= take;
        hit++;
    }
    fix_far_end(s, bid_side);
    end_batch(s);
}

/* Builds the next message into pend (pend was fully consumed). */
static void next_message(struct clb_synth *s)
{
    s->pend_n = 0;
    s->pend_pos = 0;
    const struct clb_synth_params *p = &s->p;
    for (;;) {
        double bound = p->book_msgs_per_sec + p->trade_base_rate + s->excite;
        double dt = clb_rng_exponential(&s->rng, bound);
        if (s->excite > 0.0)
            s->excite *= exp(-p->trade_decay * dt);
        s->pending_dt += dt;
        double ns = s->frac_ns + dt * 1e9;
        double whole = floor(ns);
        s->frac_ns = ns - whole;
        s->ts_ns += clamp_i64(whole, 0, INT64_MAX - s->ts_ns);

        if (p->snapshot_interval_ns > 0 && s->ts_ns >= s->next_snapshot_ns) {
            while (s->next_snapshot_ns <= s->ts_ns)
                s->next_snapshot_ns += p->snapshot_interval_ns;
            emit_snapshot(s);
            return; /* the drawn event is dropped; the snapshot takes its place */
        }
        double u = clb_rng_uniform(&s->rng) * bound;
        if (u < p->book_msgs_per_sec) {
            book_message(s);
            return;
        }
        if (u < p->book_msgs_per_sec + p->trade_base_rate + s->excite) {
            s->excite += p->trade_excitation;
            trade_message(s);
            if (s->pend_n > 0)
                return;
        }
        /* rejected candidate (thinning) or nothing to trade against */
    }
}

/* Upper bound on the records of one message. */
static uint32_t pend_capacity(const struct clb_synth_params *p)
{
    uint32_t l = p->levels;
    uint32_t book = 2 * (2 * l + 2) + 3;          /* deletes, insert, refill, trim; resizes */
    uint32_t trade = 2 * p->trade_max_levels + l; /* trade + update per level, refill */
    uint32_t snap = 2 * l;
    uint32_t m = book > trade ? book : trade;
    return (m > snap ? m : snap) + 8;
}

int clb_synth_init(struct clb_synth *s, const struct clb_synth_params *p, uint64_t seed)
{
    if (clb_synth_params_check(p) != CLB_OK)
        return CLB_EINVAL;
    struct clb_synth_params pp = *p;
    if (pp.trade_max_levels > 1000000)
        pp.trade_max_levels = 1000000;
    uint32_t side_cap = pp.levels + 2;
    uint32_t pend_cap = pend_capacity(&pp);
    struct clb_level *bid = malloc(side_cap * sizeof(*bid));
    struct clb_level *ask = malloc(side_cap * sizeof(*ask));
    struct clb_md_record *pend = malloc(pend_cap * sizeof(*pend));
    if (!bid || !ask || !pend) {
        free(bid);
        free(ask);
        free(pend);
        return CLB_ENOMEM;
    }
    memset(s, 0, sizeof(*s));
    s->p = pp;
    s->bid = bid;
    s->ask = ask;
    s->pend = pend;
    s->pend_cap = pend_cap;
    clb_rng_seed(&s->rng, seed);
    s->max_price_ticks = INT64_MAX / 4 / pp.tick;
    s->max_qty_steps = INT64_MAX / 4 / pp.step;
    if (s->max_qty_steps > INT64_C(1000000000000000))
        s->max_qty_steps = INT64_C(1000000000000000);
    if (pp.level_gap_ticks > 1.0)
        s->gap_inv_log = 1.0 / log(1.0 - 1.0 / pp.level_gap_ticks);
    s->mid_ticks = (double)(pp.start_price / pp.tick);
    s->spread_ticks = pp.spread_mean_ticks < 1.0 ? 1.0 : pp.spread_mean_ticks;
    s->ts_ns = pp.start_ts_ns;
    s->next_snapshot_ns = pp.start_ts_ns + pp.snapshot_interval_ns;
    build_book(s);
    emit_snapshot(s);
    return CLB_OK;
}

void clb_synth_deinit(struct clb_synth *s)
{
    free(s->bid);
    free(s->ask);
    free(s->pend);
    s->bid = s->ask = NULL;
    s->pend = NULL;
    s->n_bid = s->n_ask = 0;
    s->pend_n = s->pend_pos = s->pend_cap = 0;
}

void clb_synth_next(struct clb_synth *s, struct clb_md_record *out)
{
    if (s->pend_pos == s->pend_n)
        next_message(s);
    *out = s->pend[s->pend_pos++];
}

void clb_synth_fill(struct clb_synth *s, struct clb_md_record *out, size_t n)
{
    while (n > 0) {
        if (s->pend_pos == s->pend_n)
            next_message(s);
        size_t k = s->pend_n - s->pend_pos;
        if (k > n)
            k = n;
        memcpy(out, s->pend + s->pend_pos, k * sizeof(*out));
        s->pend_pos += (uint32_t)k;
        out += k;
        n -= k;
    }
}

int clb_synth_header(const struct clb_synth *s, struct clb_md_header *h)
{
    int rc = clb_md_header_init(h, s->p.exchange, s->p.symbol, s->p.price_scale,
                                s->p.qty_scale, s->p.tick, s->p.step);
    if (rc == CLB_OK)
        h->flags |= CLB_MD_HDR_SYNTHETIC;
    return rc;
}
