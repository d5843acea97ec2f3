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
 *     "venue restarted"). Exchange connectors (a later issue) will be
 *     reconciled here instead, with the exchange's open orders matched by
 *     client-order-id prefix; see the hook in recovery.c.
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
};

/* Runs the recovery against st for the paper connectors named by
 * connectors (the engine config's array, NULL = the default "paper"), at
 * wall time now_ms: closes their open orders (written with clb_store_write),
 * sums their fills and finds their highest ids into *r. Logs what it did
 * to log (may be NULL). CLB_OK; CLB_EIO (the database failed: retry or
 * give up), CLB_EINVAL (a stored fill cannot be applied: a malformed market
 * or an amount overflow; the message names it), CLB_EFULL (more than
 * CLB_RECOVERY_MAX_ASSETS assets), CLB_ENOMEM. On failure err holds a
 * message and *r must not be used; orders closed before the failure stay
 * closed (running again is harmless). Single thread; st is not shared. */
int clb_recovery_run(struct clb_store *st, json_t *connectors, int64_t now_ms,
                     struct clb_log *log, struct clb_recovery *r, char *err, size_t errlen);

/* When the store cannot be read at start: no deltas, but id bases taken
 * from the wall clock (clb_recovery_fresh_ids). */
void clb_recovery_fallback(json_t *connectors, int64_t now_ms, struct clb_recovery *r);

/* Raises every id base of r to at least now_ms * 1000 (microseconds), so
 * the ids of this run are above those of any earlier run that placed fewer
 * than a million orders a second. For records the store does not hold yet
 * (a previous run's spill file, replayed by the writer after recovery). */
void clb_recovery_fresh_ids(struct clb_recovery *r, int64_t now_ms);

/* Points cfg->conn_start at r's connectors (r must outlive
 * clb_engine_create). */
void clb_recovery_apply(const struct clb_recovery *r, struct clb_engine_config *cfg);

#endif
