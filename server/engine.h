/*
 * engine.h — the engine thread: one worker thread that owns the clock, the
 * connectors and the strategies, and the only door other threads use to
 * reach them.
 *
 * Threads never share engine state. Other threads (HTTP, WebSocket, debug
 * console, signal handling) talk to the worker in two ways only:
 *
 *  - Commands in: clb_engine_call() posts a request {method, params} on the
 *    worker's command queue (woken by an eventfd) and waits for the reply.
 *    The worker runs commands between clock ticks, so a command sees and
 *    changes a consistent engine. Methods (params and results are JSON
 *    objects; unknown fields are refused, naming the field):
 *      strategy.create  {name?, type, connector?, market, connector_2?,
 *                        market_2?, params{}?, start?}
 *                       -> the strategy object (see "strategies" below).
 *                       name defaults to "TYPE-ID", connector to the first
 *                       configured one, start to false (state "created").
 *                       connector_2 / market_2: the second venue of a
 *                       two-venue type (ops->attach_secondary, amm_arb),
 *                       required by it (CLB_EINVAL naming the key) and
 *                       refused by every other type ("connector_2: not
 *                       used by TYPE"); amm_arb needs an amm connector
 *                       there, which is also its pool quote source. The
 *                       strategy object then carries connector_2 and
 *                       market_2; start waits for both connectors.
 *                       params values are JSON typed by the declaration:
 *                       numbers for double/int parameters (ints must be
 *                       integers), true/false for booleans, strings for
 *                       enums and strings. Each key is checked against the
 *                       strategy's declaration (unknown key, wrong type,
 *                       out of range: CLB_EINVAL naming the key).
 *                       On an exchange connector that is not ready yet (no
 *                       trading rules): CLB_ENOTREADY.
 *      strategy.start   {id}  -> strategy object   (CLB_ESTATE if running;
 *                       CLB_ENOTREADY while an exchange connector is not ready)
 *      strategy.stop    {id}  -> strategy object   (CLB_ESTATE if not running);
 *                       its stop hook requests the cancel of its orders.
 *      strategy.update  {id, params{}} -> strategy object; validated against
 *                       the declaration, then by the strategy itself.
 *      strategy.delete  {id}  -> {"id": ID, "deleted": true} (stops it first)
 *      order.create     {connector?, market, side, type, price?, amount}
 *                       -> {client_order_id, connector, market}
 *                       side "buy"/"sell"; type "limit" / "limit_maker" /
 *                       "market"; price and amount are decimal strings
 *                       ("0.015"; JSON numbers are accepted and read as
 *                       their shortest decimal). price is required for
 *                       limit types and refused for market orders. A manual
 *                       order has no strategy (owner 0). Limit orders must
 *                       be covered by the available balance.
 *      order.cancel     {connector?, client_order_id} -> {client_order_id,
 *                       state} (asynchronous: "pending_cancel" until the
 *                       venue confirms; CLB_ESTATE for a finished order)
 *      indicators       {id} -> {name: value, ...} (null for NaN)
 *      log.level        {level} -> {"level": ...}  ("debug"/"info"/"warn"/"error")
 *    Strategy ids are positive integers assigned in creation order and
 *    never reused; "id" is accepted as a JSON integer or a decimal string.
 *
 *  - Snapshots out: after every tick, after each batch of commands, and at
 *    most 10 times a second when orders or trades changed, the worker
 *    publishes immutable JSON documents; readers take a reference with
 *    clb_engine_snapshot() without ever blocking the worker for longer than
 *    a pointer swap. A command's reply is sent only after the snapshots
 *    that show its effect are published (read-your-writes for the caller).
 *    Decimal amounts are strings; times are ms since the Unix epoch. Names
 *    and shapes:
 *      "status"      {version, uptime_s, started_ms, state: "running"|"stopping"|"stopped",
 *                     clock{mode, tick_ms, now_ms, ticks, ticks_skipped, hook_errors},
 *                     connectors[{name, type, ready, status{symbols_mapped,
 *                       order_books_ready, balances_ready, trading_rules_ready,
 *                       user_stream_ready}}],
 *                     strategies{total, running},
 *                     store{backend, connected, available, queued, written, spilled,
 *                       failed}   (only with a store writer, see below)}
 *      "connectors"  [{name, type, source: "sim"|"exchange", markets[], ready, status{...},
 *                      maker_fee, taker_fee (absent while unknown), latency_ms (paper
 *                      only), stats{...} (integers)}]
 *                    paper stats: {records, fills, orders_submitted, orders_rejected,
 *                      cancels}. binance: also streams{market, user} (booleans: connected)
 *                      and tick_to_order{count, p50_us, p99_us, max_us}; stats {
 *                      rest_requests, rest_errors, rest_5xx, rest_timeouts,
 *                      rest_throttled, throttle_waits, time_syncs, orders_placed,
 *                      orders_rejected, orders_unknown, orders_lost, cancels_sent,
 *                      cancel_unknown, status_queries, not_found, fills,
 *                      fill_duplicates, orphans_adopted, depth_msgs, book_resyncs,
 *                      snapshots, market_reconnects, user_reconnects,
 *                      server_shutdowns, user_events, bad_messages}
 *      "balances"    [{connector, asset, total, available, locked}]
 *      "strategies"  [{id, name, type, connector, market, connector_2?, market_2?,
 *                      state: "created"|"running"|"stopped", params{k: typed value},
 *                      metrics{k: number|null},
 *                      created_ms, started_ms|null, stopped_ms|null, errors,
 *                      last_error|null}]   (creation order)
 *      "orders"      [{client_order_id, exchange_order_id, connector, market, side,
 *                      type, price, amount, executed, executed_quote, state,
 *                      strategy (id or null), created_ms, updated_ms,
 *                      reason (CLB error name of a failure, else null)}]
 *                    live orders (oldest first), then the most recent finished
 *                    ones (newest first, at most CLB_ENGINE_KEEP_FINISHED)
 *      "trades"      [{trade_id, client_order_id, connector, market, side, price,
 *                      amount, fee, fee_asset, is_maker, strategy, ts_ms}]
 *                    our fills, most recent first, at most CLB_ENGINE_KEEP_TRADES
 *      "performance" {"ID": {strategy, market, hold_value, current_value, trade_pnl,
 *                     fees_quote, total_pnl, return_pct, realized_pnl, unrealized_pnl,
 *                     inventory_base, fills, volume_quote, price}, ...}
 *                    Hummingbot's `history` figures (core/performance.h) over the
 *                    strategy's OWN fills: start balances are the connector's at
 *                    its first start; current = start + what its fills moved.
 *                    realized/unrealized use the average-cost method, fees
 *                    deducted from realized; inventory_base = base bought - sold
 *                    by its fills (base fees deducted). Numbers (doubles).
 *      "book:CONNECTOR:MARKET" {connector, market, bids[[price, qty]...], asks[...],
 *                     update_id, ts_ms}  top CLB_ENGINE_BOOK_DEPTH levels per side,
 *                     best first, decimal strings; update_id counts records applied.
 *      "metrics"     {"counters": [M...], "gauges": [M...], "histograms": [H...]}
 *                    M = {name, help, labels{k: string}, value}
 *                    H = {name, help, labels{}, buckets[[le, cumulative count]...],
 *                         sum, count}   (the +Inf bucket is `count`)
 *                    Counters: colibri_orders_placed_total, _cancelled_total,
 *                    _rejected_total (failed orders), colibri_orders_filled_total
 *                    (completely filled), colibri_fills_total — labels connector,
 *                    market, side; colibri_book_resyncs_total (connector, market;
 *                    binance: connector only, its count is per connector);
 *                    colibri_reconnects_total (connector; 0 for paper);
 *                    colibri_ticks_total, colibri_ticks_skipped_total,
 *                    colibri_strategy_errors_total (strategy_id, strategy),
 *                    colibri_events_dropped_total (feed).
 *                    Gauges: colibri_balance / colibri_balance_available
 *                    (connector, asset), colibri_open_orders (connector, market),
 *                    colibri_connector_ready (connector),
 *                    colibri_strategy_running, colibri_strategy_inventory_base,
 *                    colibri_strategy_realized_pnl, colibri_strategy_unrealized_pnl
 *                    (strategy_id, strategy, market), colibri_build_info (version) = 1,
 *                    colibri_uptime_seconds.
 *                    Histogram: colibri_tick_duration_seconds.
 *                    Binance connectors also: counters
 *                    colibri_exchange_requests_total (connector),
 *                    colibri_exchange_request_failures_total (connector, kind:
 *                    error|5xx|timeout|throttled), colibri_orders_unknown_total,
 *                    colibri_orders_lost_total, colibri_time_syncs_total (connector);
 *                    gauge colibri_stream_up (connector, stream: market|user);
 *                    histogram colibri_tick_to_order_seconds (connector): from a
 *                    market-data frame read to the order request it caused written.
 *                    With a store writer also: gauges colibri_store_available
 *                    (0/1), colibri_store_queued; counters
 *                    colibri_store_written_total, colibri_store_spilled_total.
 *
 *  - Events out: published changes are also appended to a bounded event
 *    feed that stream readers (the WebSocket server) poll with a cursor; a
 *    reader that falls more than the feed's capacity behind is told so (gap)
 *    instead of holding memory. Each event is an immutable object
 *      {"seq": N, "type": T, "topic": TOPIC, "ts": ms, "data": {...}}
 *    with seq = 1, 2, 3... (global, no holes). Topics and types:
 *      "orders"  type "order": data = an order object (as in "orders") plus
 *                "event": "state"|"created"|"filled"|"cancelled"|"failed"|"completed"
 *      "trades"  type "trade": data = a trade object (as in "trades")
 *      "status"  type "status": data = the "status" snapshot, once per second
 *      "book:C:M" type "book": data = the book snapshot, at most 10 per second
 *                per market (coalesced: only the latest state is sent)
 *      "logs"    type "log": data = {ts_ms, level, message}
 *
 * Errors of clb_engine_call: CLB_EINVAL (bad params, with a message naming
 * the field; also unknown strategy types, connectors and markets named in a
 * create), CLB_ENOTFOUND (the addressed strategy id / order does not exist),
 * CLB_ESTATE (e.g. starting a running strategy, cancelling a finished order,
 * a call after shutdown), CLB_ENOTREADY (connector not ready for a manual
 * order), CLB_ETIMEDOUT (the worker did not answer in time: the command is
 * then either not run at all, or run with its answer discarded),
 * CLB_EUNSUPPORTED (unknown method), CLB_EFULL (command queue full, or
 * CLB_ENGINE_MAX_STRATEGIES strategies exist), CLB_ENOMEM. A failed call
 * changes nothing.
 *
 * Persistence (cfg->store_writer, optional). The worker is the writer's
 * single producer: it hands records to it through the writer's bounded
 * queue (clb_store_writer_put) and never waits on the database. Records:
 * an ORDER row when tracking of an order starts (its strategy id, "" for a
 * manual order), an ORDER_STATE record for every state change, a FILL for
 * every fill, and BALANCE snapshots of every connector asset at start,
 * every CLB_ENGINE_BALANCE_SNAPSHOT_MS and at stop. While
 * clb_store_writer_available() is false (database unreachable, spilled
 * records waiting, queue over 3/4 full) existing orders keep being tracked
 * and cancelled, but new placements are refused: a strategy's place()
 * returns CLB_ENOTREADY and order.create fails with CLB_ENOTREADY ("the
 * store is unavailable..."). Placement resumes when the writer is
 * available again. At shutdown, after the strategies stopped and their
 * cancels completed, the worker flushes the writer (bounded by what is left
 * of the shutdown timeout). The writer is borrowed: create it before the
 * engine, stop and destroy it after clb_engine_destroy.
 *
 * Simulated markets (the `sim` source, core/synth.h, one generator per
 * market symbol shared by every paper connector trading it, timestamps
 * re-based on the wall clock at start):
 *   BTC-USDT  start 60000.00, tick 0.01, step 0.00001, min notional 5
 *   ETH-USDT  start  3000.00, tick 0.01, step 0.0001,  min notional 5
 * Connector entries ("connectors" array; unknown keys are refused):
 *   {"name", "type": "paper", "markets": [preset names], "maker_fee"?,
 *    "taker_fee"? (fractions, default 0.001), "latency_ms"? (default 20)}
 *   {"name", "type": "binance", "markets": ["BTC-USDT", ...] (BASE-QUOTE),
 *    "rest_url", "stream_url", "ws_api_url" (required; https:// and wss://
 *    anywhere, http:// and ws:// to loopback hosts only), "client_id_prefix"?
 *    (1-8 of A-Z a-z 0-9 - _ .), "ca_file"? (PEM; one for every exchange
 *    connector; default the system CAs), "orders_over_rest"? (true: orders
 *    and cancels always over REST; default false: over the WebSocket API
 *    while it is open, REST as the fallback)}
 *   {"name", "type": "amm", "gateway_url" (a colibri gateway, https://, or
 *    http:// to loopback), "network" (gateway network name), "address"
 *    ("0x" + 40 hex: the wallet), "markets": ["WETH-USDC", ...] (the
 *    network's token symbols, not the sim presets), "dex"? (gateway
 *    connector, default uniswap_v2), "fee"? (pool fee fraction in [0, 0.1),
 *    default 0.003), "amount_decimals"? / "price_decimals"? (0-18, default
 *    6 / 8), "price_poll_ms"? / "balance_poll_ms"? (100-3600000, default
 *    1000 / 2000), "tx_poll_ms"? (50-600000, default 250), "ca_file"? (as
 *    binance)}. Its gateway token (trade role) is read at create: env
 *    COLIBRI_<NAME>_GATEWAY_TOKEN, else NAME.gateway_token in the secrets
 *    file; none makes clb_engine_create fail with CLB_EINVAL naming both.
 * Exchange connectors run on one network loop (connectors/net) that the
 * worker waits on instead of poll(); they become ready when the exchange
 * has answered (rules, balances, books, user stream). Their API keys are
 * read at create: env COLIBRI_<NAME>_API_KEY / COLIBRI_<NAME>_API_SECRET
 * (NAME = the connector name upper-cased, other characters than A-Z 0-9
 * as '_'), else COLIBRI_BINANCE_API_KEY / COLIBRI_BINANCE_API_SECRET,
 * else the secrets file (see data_dir below); missing keys make
 * clb_engine_create fail with CLB_EINVAL naming the variables and the
 * secret names (never the values). A build without the binance (amm)
 * connector refuses such entries at create with CLB_EUNSUPPORTED. "balances" and
 * conn_start are the paper connectors' only.
 * Default connectors (cfg->connectors == NULL): one paper connector
 * "paper" trading both, fees 0.1 % maker and taker, 20 ms order and
 * cancel latency. Default balances (cfg->balances == NULL): 10 BTC,
 * 100 ETH, 1000000 USDT in every connector holding the asset. A configured
 * "balances" object replaces the defaults entirely (absent assets start at 0).
 */
#ifndef CLB_ENGINE_H
#define CLB_ENGINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decimal.h"
#include "log.h"

struct clb_engine;
struct clb_store_writer;

#define CLB_ENGINE_MAX_STRATEGIES 32   /* existing at once */
#define CLB_ENGINE_MAX_CONNECTORS 8
#define CLB_ENGINE_KEEP_FINISHED 1000  /* finished orders in the "orders" snapshot */
#define CLB_ENGINE_KEEP_TRADES 1000    /* fills in the "trades" snapshot */
#define CLB_ENGINE_BOOK_DEPTH 20       /* levels per side in book snapshots */
#define CLB_ENGINE_DEFAULT_FEED 4096   /* events kept for stream readers */
#define CLB_ENGINE_BALANCE_SNAPSHOT_MS 60000 /* balance snapshots to the store */

/* A recovered start of one connector (server/recovery.h): balance
 * adjustments added to the configured starting balances (the effect of the
 * fills a previous run made), and id bases so the restarted venue never
 * reuses the trade ids and client order ids of a previous run. */
struct clb_engine_balance_delta {
    const char *asset;
    clb_dec amount; /* signed */
};

struct clb_order_restore;

struct clb_engine_conn_start {
    const char *connector; /* a configured connector's name */
    /* paper connectors */
    const struct clb_engine_balance_delta *deltas;
    size_t n_deltas;
    uint64_t trade_id_base; /* paper trade ids are base + 1, + 2... */
    uint64_t nonce_base;    /* client order id nonces start at base + 1 */
    /* exchange connectors: handed to the connector at its creation
     * (binance.h, "Recovery"); the engine lists the restored orders */
    const struct clb_order_restore *restore;
    const uint32_t *restore_owner; /* n_restore strategy ids (0: none) or NULL */
    size_t n_restore;
    const char *const *known_ids;
    size_t n_known;
    int64_t adopt_since_ms;
};

/* A strategy to create again at start (server/recovery.h): one that was
 * running when an earlier run ended, by a crash or a shutdown. It keeps its
 * id (which must be <= strategy_id_base, so new ids never meet it). */
struct clb_engine_resume {
    uint32_t id;
    const char *name, *type, *connector, *market;
    const char *connector_2, *market_2; /* NULL for one-venue types */
    const char *params_json;            /* its stored parameters (an object); NULL = defaults */
};

struct clb_engine_config {
    int64_t tick_ms;          /* clock tick, default 1000 (1..3600000) */
    uint64_t seed;            /* synthetic market seed */
    json_t *connectors;       /* borrowed: the config's "connectors" array or NULL = paper */
    json_t *balances;         /* borrowed: {"BTC": "1", "USDT": "100000"} or NULL = defaults */
    size_t event_feed_capacity; /* events kept for stream readers (16..1048576),
                                 * default CLB_ENGINE_DEFAULT_FEED. Memory: a book
                                 * event is ~8 KB, so 4096 events <= ~32 MB. */
    struct clb_log *log;      /* borrowed logger (must outlive the engine); NULL: the
                               * engine makes its own (stderr, info) */
    struct clb_store_writer *store_writer; /* borrowed, NULL = no persistence (see
                                            * "Persistence"); the worker becomes its
                                            * only producer and it must outlive
                                            * the engine */
    const char *store_backend; /* "sqlite" / "postgres" for the status (copied);
                                * NULL = "unknown" */
    /* Per-connector start overrides, read during clb_engine_create only
     * (borrowed). A connector's start balance of an asset is the configured
     * one plus the sum of its deltas; CLB_EINVAL when that is negative, has
     * more decimals than the asset's scale, names an asset the connector
     * does not hold, or a connector that is not configured; deltas or ids
     * for a connector of another kind are CLB_EINVAL too. NULL = none. */
    const struct clb_engine_conn_start *conn_start;
    size_t n_conn_start;
    /* Strategy ids of this run are strategy_id_base + 1, + 2... (the
     * highest id an earlier run stored, server/recovery.h), so rows and
     * records of different runs never share an id. Default 0. */
    uint32_t strategy_id_base;
    /* Strategies to resume (copied during clb_engine_create). The worker
     * creates and starts each as soon as its connectors are ready, retrying
     * every second while they are not, and logs "strategy N (NAME)
     * resumed". One that cannot be created (its type, connector or market
     * no longer configured, its parameters refused or not JSON, its id
     * taken) is logged as an error and dropped; the others go on. */
    const struct clb_engine_resume *resume;
    size_t n_resume;
    /* The data directory, read during clb_engine_create only (borrowed):
     * exchange connectors whose API keys are not in the environment look
     * them up in its encrypted secrets file (server/secrets.h) as
     * "NAME.api_key" / "NAME.api_secret", with the passphrase from
     * $COLIBRI_SECRETS_PASSPHRASE (no prompt). NULL = no secrets file. */
    const char *data_dir;
    /* The worker thread: busy_poll makes it poll its sockets, timers and
     * commands without ever sleeping (a whole CPU spent for the shortest
     * reaction: on a shared VM a sleeping thread comes back to cold caches
     * and longer stalls); worker_cpu >= 0 pins it to that CPU, and
     * clb_engine_create fails when the CPU is not one the process may run
     * on. Defaults false and -1 (not pinned). /api/v1/status reports both
     * under "worker", with the loop passes so far. */
    bool busy_poll;
    int worker_cpu;
};

/* Fills *cfg with the defaults (tick 1000 ms, seed 1, default connectors and
 * balances, default feed, own logger). */
void clb_engine_config_default(struct clb_engine_config *cfg);

/* Validates cfg (tick, feed capacity, "connectors", "balances") without
 * creating anything. CLB_OK, or CLB_EINVAL with a message in err that starts
 * with the offending key path, e.g.
 *   connectors[0].markets[1]: unknown market "XRP-USDT" (known: BTC-USDT, ETH-USDT)
 *   balances.USDT: must be a non-negative decimal string like "1000.5"
 * The config loader prefixes the file name. Any thread. */
int clb_engine_check_config(const struct clb_engine_config *cfg, char *err, size_t errlen);

/* Creates the engine and starts its worker thread (markets begin to move).
 * The worker creates the network loop and the exchange connectors (they
 * belong to its thread) and publishes the first snapshots before this
 * returns; exchange connectors become ready later, as the exchange answers.
 * CLB_EINVAL with a message in err for a bad configuration (as
 * clb_engine_check_config; also missing exchange API keys or a connector
 * that refuses its configuration), CLB_EUNSUPPORTED (a connector type not
 * built in), CLB_ENOMEM, CLB_EIO (thread, eventfd, network loop).
 * Call from any thread; the signal mask of the caller is inherited by the
 * worker (block SIGINT/SIGTERM first in a process that sigwaits). */
int clb_engine_create(const struct clb_engine_config *cfg, struct clb_engine **out, char *err,
                      size_t errlen);

/* Graceful stop: stops every running strategy (its stop hook requests the
 * cancel of its orders), keeps the markets and connectors running until
 * those cancels are confirmed (or 80 % of the timeout has passed), stops
 * the clock, publishes final snapshots and events, and ends the worker.
 * Returns within timeout_ms. Afterwards calls fail with CLB_ESTATE while
 * snapshots and the feed stay readable. Idempotent. Any thread except the
 * worker. */
void clb_engine_shutdown(struct clb_engine *e, int timeout_ms);

/* Shuts down (5 s) if that was not done, joins the worker and frees
 * everything. No other thread may use e during or after this call. */
void clb_engine_destroy(struct clb_engine *e);

/* Runs a command on the worker and waits (up to timeout_ms) for its result.
 * On success *result is a new reference (may be an empty object). On error
 * returns a CLB_E* code and a one-line message in err, and *result is NULL.
 * Any thread but the worker (from the worker: CLB_ESTATE). params is
 * borrowed (copied; NULL means {}). */
int clb_engine_call(struct clb_engine *e, const char *method, json_t *params, json_t **result,
                    char *err, size_t errlen, int timeout_ms);

/* The latest snapshot of that name (a new reference to an immutable
 * document: never modify it; json_decref it when done), or NULL if there is
 * none. Any thread; concurrent readers may dump the same document (jansson
 * >= 2.13 dumps without writing to values). */
json_t *clb_engine_snapshot(struct clb_engine *e, const char *name);

/* Event feed. clb_engine_feed_read copies up to n events with sequence
 * numbers >= *cursor into out (new references, oldest first) and sets
 * *cursor past the last one returned. *gap is set to true when events with
 * seq in [*cursor, oldest still held) were dropped (a cursor of 0 means
 * "from the oldest event held" and never reports a gap); the read then
 * starts at the oldest event held. Returns the number of events copied.
 * Any thread. */
size_t clb_engine_feed_read(struct clb_engine *e, uint64_t *cursor, json_t **out, size_t n,
                            bool *gap);

/* The sequence number the next event will get: a reader that wants only
 * new events starts its cursor here. Any thread. */
uint64_t clb_engine_feed_head(struct clb_engine *e);

/* The file descriptor that becomes readable when new events are in the feed
 * (a non-blocking eventfd; read 8 bytes to reset). One fd for all readers:
 * a server with several polling threads should fan out itself. */
int clb_engine_feed_fd(struct clb_engine *e);

/* The logger the engine writes to (the configured one or its own). Other
 * threads may log through it; each line also lands in the "logs" topic.
 * Valid until clb_engine_destroy. */
struct clb_log *clb_engine_log(struct clb_engine *e);

/* "an object", "a string", "an integer", ... for error messages that say
 * what a JSON value was instead of what was expected. */
const char *clb_json_type_name(const json_t *v);

#endif
