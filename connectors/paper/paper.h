/*
 * paper.h — the paper-trading connector: core's matching engine standing in
 * for an exchange, fed with market data it did not make.
 *
 * One implementation serves two uses:
 *  - live paper trading: the server feeds it records from the synthetic
 *    market generator (core/synth.h) in real time;
 *  - the backtester: it feeds it the records of a market-data file as fast
 *    as it can read them.
 * Either way the records go through clb_paper_on_record(): level updates
 * build the market's L2 book and move our orders' queue positions, trades
 * fill our resting orders once the queue ahead of them is gone, and at each
 * batch end the engine fills our orders that the book has crossed
 * (core/matching.h documents the queue model).
 *
 * Orders placed through the connector interface are quantized to the
 * market's rules, tracked before anything else happens (order_tracker.h),
 * and reach the matching engine after order_latency_ns; cancels after
 * cancel_latency_ns. An order arriving at the engine crosses the book as it
 * is at that moment (its arrival), never as it was when it was placed.
 * Requests are applied in due-time order; a cancel that comes due before its
 * order arrives drops the order (reported as cancelled).
 *
 * Reports of the engine become tracker inputs (acknowledged, filled,
 * cancelled, rejected), so strategies see the same events as from a real
 * exchange. Balances live in the engine's ledger (account 0 is ours).
 * Single-threaded: every call on the worker / backtest thread.
 */
#ifndef CLB_PAPER_H
#define CLB_PAPER_H

#include <stddef.h>
#include <stdint.h>

#include "connector.h"
#include "decimal.h"
#include "event.h"
#include "market.h"
#include "market_data.h"

struct clb_paper;

struct clb_paper_config {
    const char *name;           /* connector name, default "paper" */
    struct clb_event_bus *bus;  /* where events go (borrowed, required) */
    double maker_fee;           /* fraction: 0.001 = 0.1 % */
    double taker_fee;
    int64_t order_latency_ns;   /* placement to arrival at the engine */
    int64_t cancel_latency_ns;  /* cancel request to arrival */
    double queue_power;         /* queue model exponent (matching.h), default 3 */
    const char *client_id_prefix; /* default "clb-" */
    uint32_t book_levels;       /* L2 levels kept per side, default 1000 */
    uint32_t max_orders;        /* tracked orders, default 4096 */
    /* Id bases, so a restarted venue never reuses the ids of a previous run
     * (server/recovery.h): trade ids reported are trade_id_base + 1, + 2...
     * and client order id nonces nonce_base + 1, + 2... Default 0. Each at
     * most UINT64_MAX / 2 (CLB_EINVAL). */
    uint64_t trade_id_base;
    uint64_t nonce_base;
};

/* Defaults: name "paper", fees 0.1 % maker and taker, no latency, power 3. */
void clb_paper_config_default(struct clb_paper_config *cfg);

/* Creates a connector. CLB_EINVAL (no bus, bad values), CLB_ENOMEM.
 * Destroy with clb_paper_destroy (or its connector's ops->destroy). */
int clb_paper_create(const struct clb_paper_config *cfg, struct clb_paper **out);
void clb_paper_destroy(struct clb_paper *p);

/* The connector interface of this instance (owned by p). */
struct clb_connector *clb_paper_connector(struct clb_paper *p);

/* Adds a market with its trading rules; base and quote assets are
 * registered in the ledger on first use. Writes the market index (0, 1...).
 * CLB_EINVAL, CLB_EEXIST, CLB_EFULL, CLB_EPRECISION (an asset already
 * registered at a smaller scale than this market needs). */
int clb_paper_add_market(struct clb_paper *p, const struct clb_market_rules *rules,
                         uint32_t *market);

/* Credits our account. CLB_EINVAL (unknown asset, amount <= 0, more digits
 * than the asset's scale), CLB_EOVERFLOW. */
int clb_paper_deposit(struct clb_paper *p, const char *asset, clb_dec amount);

/* Feeds one market-data record (see market_data.h) at its own timestamp.
 * First delivers the requests that are due by r->ts_ns. Records with a
 * stale timestamp (before the latest one) are applied at the latest time.
 * Bad records are counted in stats.bad_records and skipped. */
void clb_paper_on_record(struct clb_paper *p, uint32_t market, const struct clb_md_record *r);

/* Feeds r[0..n) in order, exactly as that many clb_paper_on_record calls
 * would, and stops before the first record whose ts_ns >= stop_ns. Returns
 * how many records were fed (n when none stops it). The replay loop of the
 * backtester: it calls this up to its next clock tick, ticks, and goes on.
 * Faster than a call per record (one loop over the records, read ahead). */
size_t clb_paper_replay(struct clb_paper *p, uint32_t market, const struct clb_md_record *r,
                        size_t n, int64_t stop_ns);

/* Delivers the requests due by now_ns (the connector's tick does this too). */
void clb_paper_advance(struct clb_paper *p, int64_t now_ns);

/* When the earliest pending request comes due (its time, in the records'
 * clock), or INT64_MAX when none is pending: a live driver wakes then and
 * calls clb_paper_advance, rather than waiting for the next record. */
int64_t clb_paper_next_due_ns(const struct clb_paper *p);

/* Figures for reports and metrics. Quote amounts in the market's quote asset. */
struct clb_paper_stats {
    uint64_t records;
    uint64_t bad_records;
    uint64_t fills;
    uint64_t orders_submitted;
    uint64_t orders_rejected;
    uint64_t cancels;
};
void clb_paper_stats(const struct clb_paper *p, struct clb_paper_stats *out);

/* The L2 book of a market index, or NULL. */
const struct clb_order_book *clb_paper_book(const struct clb_paper *p, uint32_t market);

#endif
