/*
 * synth.h — the synthetic market: a seeded, deterministic generator of an
 * L2 order book feed and its trades, as .clbmd records (market_data.h).
 *
 * colibri has ONE generator; the backtester's data, the paper connector's
 * `sim` market, `colibri data synth` and the benchmarks all use this one.
 *
 * Model (continuous time, all randomness from one clb_rng):
 *  - Messages arrive as a superposition of book updates (Poisson, rate
 *    book_msgs_per_sec) and trades (Hawkes: intensity mu + E, E jumps by
 *    trade_excitation at each trade and decays at trade_decay per second),
 *    drawn exactly by thinning. Each message is one batch: its records
 *    share one ts and the last carries BATCH_END.
 *  - A latent mid follows a geometric random walk (volatility per
 *    sqrt(second)); the spread in ticks is an Ornstein-Uhlenbeck process
 *    (never under 1 tick). At a book message the top of the book is moved
 *    to the target best bid / ask: levels beyond the target are deleted,
 *    the target level is inserted, and the far end is refilled / trimmed so
 *    each side keeps `levels` levels (levels sit 1 + geometric ticks apart).
 *    Deletions come before insertions, so the book is never crossed, not
 *    even in the middle of a batch. The message also resizes 1..3 random
 *    levels (biased toward the top) around the depth profile
 *    depth_top * (1 + depth_growth * i) with lognormal noise.
 *  - A trade message: the taker (buy or sell, even odds) sweeps from the
 *    best opposite level with a lognormal size; per level hit it emits the
 *    TRADE (price = that level, qty <= its qty) followed by the level update
 *    that reduces or deletes it, then refills the far end. A sweep takes at
 *    most trade_max_levels levels.
 *  - It starts with a full snapshot (first record RESET|SNAPSHOT, all
 *    SNAPSHOT, BATCH_END on the last) and repeats one every
 *    snapshot_interval_ns if that is non-zero.
 *
 * Output: prices > 0, quantities >= 0 (trades > 0), multiples of tick /
 * step, non-decreasing ts. With the defaults (BTC-USDT-like, 0.01 tick) a
 * simulated second holds ~460 records in ~70 batches, ~10 of them trades.
 * clb_synth_fill costs ~60-75 ns per record on one core (20M records in
 * about 1.3 s), most of it in exp/log.
 *
 * Not thread-safe: one generator per thread. Deterministic for a given
 * params + seed on a given libm.
 */
#ifndef CLB_SYNTH_H
#define CLB_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h" /* struct clb_level */
#include "market_data.h"
#include "rng.h"

#define CLB_SYNTH_MAX_LEVELS 1000

struct clb_synth_params {
    char exchange[CLB_MD_NAME_MAX]; /* "synth" */
    char symbol[CLB_MD_NAME_MAX];   /* "BTC-USDT" */
    int price_scale;                /* 2 */
    int qty_scale;                  /* 5 */
    int64_t tick;                   /* 1 (0.01) at price_scale */
    int64_t step;                   /* 1 (0.00001) at qty_scale */
    int64_t start_price;            /* 6000000 (60000.00), a multiple of tick */
    int64_t start_ts_ns;            /* 1704067200e9 (2024-01-01T00:00:00Z) */
    uint32_t levels;                /* per side, 50 (1..CLB_SYNTH_MAX_LEVELS) */
    double level_gap_ticks;         /* mean distance between levels, 1.5 (>= 1) */
    double book_msgs_per_sec;       /* 60 */
    double volatility;              /* of log mid per sqrt(second), 1e-4 */
    double spread_mean_ticks;       /* 2.0 */
    double spread_reversion;        /* OU theta per second, 2.0 */
    double spread_vol_ticks;        /* OU sigma, ticks per sqrt(second), 1.5 */
    double depth_top;               /* mean qty at the best level, in steps: 20000 (0.2) */
    double depth_growth;            /* mean grows by this fraction per level, 0.08 */
    double depth_noise;             /* lognormal sigma of level sizes, 0.6 */
    double trade_base_rate;         /* Hawkes mu, trades per second, 4 */
    double trade_excitation;        /* Hawkes alpha: intensity jump per trade, 1.2 */
    double trade_decay;             /* Hawkes beta per second, 2.0 (alpha/beta < 1) */
    double trade_size_mean;         /* mean trade qty in steps, 5000 (0.05) */
    double trade_size_sigma;        /* lognormal sigma of trade sizes, 1.0 */
    uint32_t trade_max_levels;      /* levels one trade may sweep, 3 */
    int64_t snapshot_interval_ns;   /* 0: only the initial snapshot */
};

/* The generator's state. Caller-owned; fields are private. */
struct clb_synth {
    struct clb_synth_params p;
    struct clb_rng rng;
    /* book in ticks / steps: each side sorted with the best level LAST
     * (bids ascending, asks descending), as in order_book.h */
    struct clb_level *bid; /* owned, capacity levels + 2 */
    struct clb_level *ask;
    uint32_t n_bid;
    uint32_t n_ask;
    /* latent processes */
    double mid_ticks;    /* latent mid, in ticks */
    double spread_ticks; /* OU state, in ticks */
    double excite;       /* Hawkes excitation E, per second */
    double pending_dt;   /* seconds not yet applied to mid and spread */
    double frac_ns;      /* fractional ns carried between messages */
    int64_t ts_ns;       /* time of the current message */
    int64_t next_snapshot_ns;
    int64_t max_price_ticks;
    int64_t max_qty_steps;
    double gap_inv_log;  /* 1 / log(1 - 1 / level_gap_ticks), 0 when the gap is 1 */
    double spare_normal; /* second deviate of the last polar draw */
    bool has_spare;
    uint32_t trade_id;
    /* records of the current message not yet handed out */
    struct clb_md_record *pend; /* owned */
    uint32_t pend_n;
    uint32_t pend_pos;
    uint32_t pend_cap;
};

/* Fills *p with the defaults above. */
void clb_synth_default_params(struct clb_synth_params *p);

/* Checks params (scales 0..18, tick/step > 0, start_price a positive
 * multiple of tick, levels in range, rates/volatilities finite and >= 0,
 * book_msgs_per_sec + trade_base_rate > 0, level_gap_ticks >= 1,
 * depth_top and trade_size_mean >= 1 step, trade_excitation/trade_decay
 * < 1, trade_max_levels >= 1). CLB_OK or CLB_EINVAL. */
int clb_synth_params_check(const struct clb_synth_params *p);

/* Starts a generator from params and seed: allocates the book and the
 * message buffer and builds the initial snapshot (handed out first).
 * CLB_EINVAL (bad params, s untouched), CLB_ENOMEM. Release with deinit. */
int clb_synth_init(struct clb_synth *s, const struct clb_synth_params *p, uint64_t seed);
void clb_synth_deinit(struct clb_synth *s);

/* Next record (never fails, never ends). */
void clb_synth_next(struct clb_synth *s, struct clb_md_record *out);

/* Writes the next n records into out[0..n). Same sequence as n calls of
 * clb_synth_next; a message may span two calls. */
void clb_synth_fill(struct clb_synth *s, struct clb_md_record *out, size_t n);

/* True when the last record handed out ended a batch (or none was handed
 * out yet): stopping there leaves a consumer with a coherent book. */
static inline bool clb_synth_at_batch_end(const struct clb_synth *s)
{
    return s->pend_pos == s->pend_n || s->pend_pos == 0;
}

/* A .clbmd header matching the params (CLB_MD_HDR_SYNTHETIC set). */
int clb_synth_header(const struct clb_synth *s, struct clb_md_header *h);

#endif
