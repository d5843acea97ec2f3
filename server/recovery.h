/*
 * recovery.h — what `colibri serve` restores from the store at start,
 * before the engine exists (issue 5: crash recovery).
 *
 * Paper connectors live inside the process: after a crash (SIGKILL) their
 * resting orders are gone and their ledger would restart from the
 * configured balances. Recovery makes a restart look like the venue kept
 * running, as far as money is concerned:
 *
 *  1. Orders. Every open (non-terminal) order of this instance on a paper
 *     connector cannot exist on the restarted venue: it is recorded as
 *     CANCELED with a state-history row (reason CLB_ENOTFOUND, logged as
 *     "venue restarted"). Exchange connectors' orders are not closed here:
 *     see items 4 and 5.
 *  2. Balances. A paper account's start = the configured start + the effect
 *     of every fill of this instance stored for that connector (buy: +amount
 *     base, -price*amount quote; sell: the reverse; the fee subtracted in its
 *     asset), computed exactly with clb_dec. Fills are unique in the store
 *     (connector, market, trade id), so none counts twice. Handed to the
 *     engine as per-connector deltas (struct clb_engine_conn_start).
 *  3. Ids. The paper venue numbers its trades and client-order-id nonces
 *     from 1 in every process. Recovery finds the highest trade id and the
 *     highest nonce stored for each paper connector and makes the restarted
 *     venue count on from there (clb_paper_config.trade_id_base /
 *     nonce_base): new ids never collide with stored ones, so no new fill is
 *     dropped as a duplicate and no order row is overwritten.
 *
 * Exchange connectors (type "binance") keep their orders across a crash, so
 * theirs are handed over instead, to be reconciled with the exchange by the
 * connector (connectors/binance/binance.h, "Recovery"):
 *  4. Every open order of this instance on that connector, with the fills
 *     recorded for it, as clb_order_restore entries: tracked again silently,
 *     then resolved by status queries (adopted and cancelled if still live,
 *     finished with their missing fills fetched, or lost if the create
 *     never arrived). Nothing is closed here: only the exchange knows.
 *  5. A sweep window: from 60 s before the newest stored order of that
 *     connector, and the client ids stored since then. The connector lists
 *     the exchange's orders in the window and adopts those of ours the
 *     store never heard of (a crash between submit and the write).
 *
 *  6. Strategy ids. The engine numbers strategies from 1 in every process;
 *     recovery finds the highest id stored in the strategies table, and the
 *     restarted engine numbers on from there, so a new strategy never takes
 *     over an earlier run's row, orders or fills.
 *  7. Strategies to resume. Every stored strategy whose status is
 *     "running" (it was running when the last run crashed, or was stopped
 *     by its shutdown, which keeps that status) is handed to the engine
 *     with its id, name, type, venue(s) and parameters, to be created and
 *     started again (clb_engine_config.resume). Stopped, created and
 *     deleted ones are not.
 *
 * Everything runs synchronously on the caller's thread with the caller's
 * store connection, before the store writer and the engine start (nothing
 * else writes then). The scans read every order and fill of the paper
 * connectors once: start-up time grows with the history.
 */
#ifndef CLB_RECOVERY_H
#define CLB_RECOVERY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "log.h"
#include "market.h"
#include "store/store.h"

#define CLB_RECOVERY_MAX_ASSETS 32 /* assets with a delta per connector */
#define CLB_RECOVERY_SWEEP_MARGIN_MS 60000 /* sweep from this long before the newest order */

/* What an exchange connector gets (items 4 and 5 above). Heap memory, owned
 * by the struct clb_recovery it is in. */
struct clb_recovery_exchange {
    char name[CLB_STORE_CONNECTOR_MAX];
    struct clb_store_order *rows;      /* open orders (string storage of orders[]) */
    struct clb_order_restore *orders;  /* n_orders entries */
    uint32_t *owners;                  /* their strategy ids (0: manual or not numeric) */
    size_t n_orders;
    struct clb_store_fill *fill_rows;  /* their recorded fills */
    struct clb_fill *fills;            /* n_fills entries; orders[i].fills points in */
    size_t n_fills;
    char (*known)[CLB_STORE_COID_MAX]; /* client ids stored since since_ms */
    const char **known_ptrs;
    size_t n_known;
    int64_t since_ms;                  /* 0: nothing stored, no sweep */
};

/* A strategy to resume (item 7), its strings owned. */
struct clb_recovery_strategy {
    uint32_t id;
    char name[CLB_STORE_ID_MAX];
    char type[CLB_STORE_TYPE_MAX];
    char connector[CLB_STORE_CONNECTOR_MAX];
    char market[CLB_SYMBOL_MAX];
    char connector_2[CLB_STORE_CONNECTOR_MAX]; /* "" for one-venue types */
    char market_2[CLB_SYMBOL_MAX];
    char *params_json;
};

/* The outcome: per paper connector, its balance deltas and id bases. Caller-
 * owned (init/deinit not needed: plain memory). The engine config points
 * into it, so it must outlive clb_engine_create. */
struct clb_recovery {
    struct clb_engine_conn_start conns[CLB_ENGINE_MAX_CONNECTORS];
    size_t n_conns;
    char names[CLB_ENGINE_MAX_CONNECTORS][CLB_STORE_CONNECTOR_MAX];
    struct clb_engine_balance_delta deltas[CLB_ENGINE_MAX_CONNECTORS][CLB_RECOVERY_MAX_ASSETS];
    char assets[CLB_ENGINE_MAX_CONNECTORS][CLB_RECOVERY_MAX_ASSETS][CLB_ASSET_MAX];
    uint64_t orders_closed; /* open orders recorded as cancelled */
    uint64_t fills;         /* fills applied to the balances */
    /* exchange connectors */
    struct clb_recovery_exchange xs[CLB_ENGINE_MAX_CONNECTORS];
    size_t n_xs;
    uint64_t orders_handed; /* open exchange orders handed over */
    uint32_t strategy_id_base; /* the highest strategy id stored (numeric ids) */
    struct clb_recovery_strategy *strats; /* to resume (heap) */
    struct clb_engine_resume *resume;     /* n_resume entries pointing into strats */
    size_t n_resume;
    /* paper then exchange entries, as clb_recovery_apply hands them over */
    struct clb_engine_conn_start all[2 * CLB_ENGINE_MAX_CONNECTORS];
};

/* Runs the recovery against st for the connectors named by connectors (the
 * engine config's array, NULL = the default "paper"), at wall time now_ms:
 * for paper ones, closes their open orders (written with clb_store_write),
 * sums their fills and finds their highest ids; for exchange ones, loads
 * their open orders, those orders' fills and the sweep window; all into *r
 * (release with clb_recovery_free). Logs what it did to log (may be NULL).
 * CLB_OK; CLB_EIO (the database failed: retry or give up), CLB_EINVAL (a
 * stored fill cannot be applied: a malformed market or an amount overflow;
 * the message names it), CLB_EFULL (more than CLB_RECOVERY_MAX_ASSETS
 * assets, or too many open orders), CLB_ENOMEM. On failure err holds a
 * message and *r holds nothing (already freed); orders closed before the
 * failure stay closed (running again is harmless). Single thread; st is
 * not shared. */
int clb_recovery_run(struct clb_store *st, json_t *connectors, int64_t now_ms,
                     struct clb_log *log, struct clb_recovery *r, char *err, size_t errlen);

/* When the store cannot be read at start: no deltas, but id bases taken
 * from the wall clock (clb_recovery_fresh_ids). */
void clb_recovery_fallback(json_t *connectors, int64_t now_ms, struct clb_recovery *r);

/* Raises every id base of r to at least now_ms * 1000 (microseconds), so
 * the ids of this run are above those of any earlier run that placed fewer
 * than a million orders a second, and the strategy id base to the seconds
 * since 2020 (above the ids of any earlier run that created fewer than one
 * strategy a second). For records the store does not hold yet (a
 * previous run's spill file, replayed by the writer after recovery). */
void clb_recovery_fresh_ids(struct clb_recovery *r, int64_t now_ms);

/* Points cfg->conn_start at r's connectors and cfg->resume at its
 * strategies to resume (r must outlive clb_engine_create, and stay where it
 * is). */
void clb_recovery_apply(struct clb_recovery *r, struct clb_engine_config *cfg);

/* Frees what clb_recovery_run allocated (the exchange entries and the
 * strategies to resume) and empties
 * them; harmless on a zeroed, fallback or already freed r. */
void clb_recovery_free(struct clb_recovery *r);

#endif
