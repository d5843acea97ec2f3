/*
 * binance.h — the Binance spot connector: core's connector interface
 * (core/connector.h) over Binance's REST API, market streams and WebSocket
 * API, driven by the worker thread's network loop (connectors/net).
 *
 * What it keeps, per configured market: trading rules from exchangeInfo,
 * fee rates, an L2 book synchronised from the diff stream and REST
 * snapshots (Binance's local-book algorithm, resync on any gap, REST
 * snapshot polling while the stream is down); per account: balances and the
 * in-flight order tracker (core/order_tracker.h).
 *
 * Orders follow DESIGN.md's reliability rules:
 *  - place() quantizes exactly (price to tick: buys down, sells up, clamped
 *    into [minPrice, maxPrice]; amount to step, down, capped at maxQty),
 *    refuses what would fail a filter (CLB_ERANGE) and tracks the order
 *    BEFORE the request is sent. Client ids: prefix + Hummingbot's pattern.
 *  - A create answered by a timeout, a dropped connection or a 5xx keeps the
 *    order tracked (outcome unknown); its status is then queried by
 *    origClientOrderId — first after the request's recvWindow has passed,
 *    when the exchange can no longer accept it — until the exchange shows
 *    it (confirmed) or answers "does not exist" lost_threshold times (FAILED,
 *    lost). Timeouts and 5xx answers never count as "not found".
 *  - Cancels are re-sent every cancel_retry_ms until the exchange confirms
 *    (cancel answer, CANCELED status or stream event); -2011 "Unknown order"
 *    is resolved by a status query, never assumed.
 *  - Fills (executionReport, FULL order responses, myTrades) are applied
 *    once per trade id by the tracker.
 *  - No cancel or status query is ever sent for an order whose create has
 *    not been answered yet (a not-found for an order still in flight would
 *    be a lie).
 * User data comes from the WebSocket API (userDataStream.subscribe.signature):
 * executionReport and outboundAccountPosition. While it is down, REST
 * polling (openOrders, order status, myTrades by order, account) runs every
 * poll_fast_ms; when it is up, a slower reconciliation runs every
 * poll_slow_ms. Open orders carrying our prefix that the tracker does not
 * know (a previous run's) are adopted into the tracker and cancelled.
 *
 * Recovery. An earlier run's live orders (the store's, config.restore) are
 * tracked again at create, silently (clb_tracker_restore: the store holds
 * them and their recorded fills), and each is resolved by a status query:
 * orders the exchange still has are adopted (and cancelled when
 * cancel_orphans), finished ones end with their missing fills fetched by
 * myTrades, and creates that never arrived become lost after
 * lost_threshold not-found answers — first asked after the recvWindow, as
 * for any create of unknown outcome. Orders placed just before a crash may
 * have reached the exchange without reaching the store: with
 * adopt_since_ms set, each market's orders since then are listed once
 * (GET /api/v3/allOrders, paged by order id, at most 24 h back) and those
 * carrying our prefix that are neither tracked nor among known_ids are
 * adopted as news (their events reach the store), whatever their state —
 * with their fills — and cancelled when live and cancel_orphans.
 *
 * Creates and cancels go over the WebSocket API (order.place /
 * order.cancel on the user-data connection) while it is open, REST
 * otherwise; a WS-API request left unanswered (request_timeout_ms, or the
 * connection lost) is handled like a REST request that timed out.
 *
 * Requests go through a throttler (weights and linked limits from
 * exchangeInfo, X-MBX-USED-WEIGHT-1M, Retry-After on 429/418) and wait in a
 * FIFO when it says so; signed requests are signed when they leave (POST
 * parameters in the body). Timestamps use the server clock offset measured
 * at start and again on -1021. Fees come from GET /api/v3/account/commission,
 * or from the account's commissionRates where that endpoint is missing. A
 * serverShutdown event reconnects the stream it came on; both WebSockets
 * reconnect with backoff and jitter, and ahead of the 24 h limit.
 *
 * Readiness (ops->status): symbols_mapped and trading_rules_ready once
 * exchangeInfo and the fee rates of every market are in; balances_ready
 * after the first account answer; order_books_ready while every book is in
 * sync (stream + snapshot, or a polled snapshot while the stream is down);
 * user_stream_ready once the user-data subscription has succeeded (it stays
 * true across reconnects: REST polling covers the gaps).
 *
 * Threads: create, destroy and every hook on the worker thread that runs
 * the netloop (clb_netloop_poll); callbacks run inside that call. The API
 * secret is copied into the connector and never logged or exposed.
 */
#ifndef CLB_BINANCE_H
#define CLB_BINANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connector.h"
#include "event.h"
#include "log_hook.h"

struct clb_netloop;
struct clb_binance;
struct clb_order_restore; /* order_tracker.h */

#define CLB_BINANCE_MAX_MARKETS 8

struct clb_binance_config {
    char name[32];                                /* connector name, "" = "binance" */
    const char *markets[CLB_BINANCE_MAX_MARKETS]; /* "BTC-USDT" */
    size_t n_markets;                             /* 1..CLB_BINANCE_MAX_MARKETS */
    const char *rest_url;   /* "https://api.binance.com" (no trailing slash needed) */
    const char *stream_url; /* "wss://stream.binance.com:9443" */
    const char *ws_api_url; /* "wss://ws-api.binance.com:443/ws-api/v3" */
    const char *api_key;    /* copied; never logged */
    const char *api_secret; /* copied; never logged */
    const char *client_id_prefix; /* <= 8 chars of [A-Za-z0-9-_.]; NULL = "clb-" */
    uint16_t instance;            /* tells processes sharing an account apart */
    uint32_t book_levels;         /* L2 levels kept per side (1000) */
    uint32_t snapshot_limit;      /* REST depth snapshot limit (1000) */
    uint32_t max_orders;          /* tracked orders, finished included (4096) */
    uint32_t lost_threshold;      /* definite not-found answers before lost (3) */
    int32_t recv_window_ms;       /* signed requests' recvWindow (5000) */
    int32_t request_timeout_ms;   /* per REST request (10000) */
    int32_t poll_fast_ms;         /* REST polling while the user stream is down (2000) */
    int32_t poll_slow_ms;         /* reconciliation while it is up (30000) */
    int32_t snapshot_poll_ms;     /* book snapshots while the market stream is down (2000) */
    int32_t status_retry_ms;      /* status queries of unresolved orders (1000) */
    int32_t cancel_retry_ms;      /* cancel re-sends (1000) */
    int32_t rules_refresh_ms;     /* exchangeInfo refresh (1800000) */
    bool cancel_orphans;          /* cancel adopted unknown orders with our prefix (true) */
    bool orders_over_rest;        /* creates and cancels over REST only; by default they go
                                     over the WebSocket API while it is open (false) */
    /* Crash recovery (read during create only, borrowed; see "Recovery"): */
    const struct clb_order_restore *restore; /* live orders of an earlier run */
    size_t n_restore;
    int64_t adopt_since_ms;       /* > 0: sweep each market's orders since then */
    const char *const *known_ids; /* client ids already recorded since then */
    size_t n_known;               /* <= CLB_BINANCE_MAX_KNOWN */
    /* Where the connector's log lines go (adoptions, refusals, pauses,
     * clock resyncs), on the loop's thread; NULL: stderr, prefixed
     * "binance[NAME]: ". */
    clb_log_hook_fn log;
    void *log_ud;
};

#define CLB_BINANCE_MAX_KNOWN 1000000

/* Fills *cfg with the defaults above (URLs and keys NULL, no markets). */
void clb_binance_config_default(struct clb_binance_config *cfg);

/* Tick-to-order latency histogram: from the moment a market-data frame was
 * read off the socket to the moment the order request it caused (placed
 * from a listener of that frame's book/trade event) was written (the write
 * call started; for REST, curl's pre-transfer time). Bucket i
 * counts samples <= bounds_ns[i]; the last bucket is +Inf. Cumulative
 * Prometheus buckets are the running sums. */
#define CLB_BINANCE_LAT_BUCKETS 24
extern const int64_t clb_binance_lat_bounds_ns[CLB_BINANCE_LAT_BUCKETS - 1];

struct clb_binance_latency {
    uint64_t buckets[CLB_BINANCE_LAT_BUCKETS]; /* non-cumulative */
    uint64_t count;
    int64_t sum_ns;
    int64_t max_ns;
};

/* The q-quantile (0..1) of a histogram in ns, interpolated inside its
 * bucket; 0 when empty. */
double clb_binance_latency_quantile(const struct clb_binance_latency *h, double q);

struct clb_binance_stats {
    /* readiness, as status() reports it */
    struct clb_connector_status status;
    bool market_stream_up;
    bool user_stream_up;
    /* requests */
    uint64_t rest_requests;
    uint64_t ws_api_requests;    /* creates / cancels sent over the WebSocket API */
    uint64_t ws_api_timeouts;    /* of those: no answer (timeout, connection lost) */
    uint64_t rest_errors;        /* answered with an error code (4xx) */
    uint64_t rest_5xx;
    uint64_t rest_timeouts;      /* no answer (timeout, connection lost) */
    uint64_t rest_throttled;     /* 429 / 418 answers */
    uint64_t rest_connects;      /* new connections the requests had to open */
    uint64_t throttle_waits;     /* requests delayed by the throttler */
    uint64_t time_syncs;
    uint64_t account_polls;      /* account answers applied */
    uint64_t open_orders_polls;  /* openOrders answers applied */
    /* orders */
    uint64_t orders_placed;      /* create requests sent */
    uint64_t orders_rejected;    /* definite create failures */
    uint64_t orders_unknown;     /* creates with an unknown outcome */
    uint64_t orders_lost;
    uint64_t cancels_sent;       /* cancel requests sent, retries included */
    uint64_t cancel_unknown;     /* -2011 answers */
    uint64_t status_queries;
    uint64_t not_found;          /* definite -2013 answers */
    uint64_t fills;              /* fills applied (duplicates excluded) */
    uint64_t fill_duplicates;    /* fills seen again (other source) */
    uint64_t orphans_adopted;    /* unknown orders of ours adopted (openOrders, sweep) */
    uint64_t orders_restored;    /* config.restore entries tracked again */
    uint64_t sweeps;             /* allOrders pages applied */
    /* streams and books */
    uint64_t depth_msgs;
    uint64_t book_resyncs;       /* gaps and reconnects */
    uint64_t snapshots;          /* REST snapshots applied */
    uint64_t market_reconnects;
    uint64_t user_reconnects;
    uint64_t server_shutdowns;
    uint64_t user_events;
    uint64_t bad_messages;
    struct clb_binance_latency tick_to_order;
    /* the connector's own share of it: frame read -> request handed to the
     * transport (parse, book, listeners, quantize, track, sign) */
    struct clb_binance_latency tick_to_submit;
    /* the write call of those orders sent over the WebSocket API (lws_write:
     * tick_to_order ends when it starts; on loopback it includes waking the
     * simulator's thread) */
    struct clb_binance_latency order_write;
};

/* Creates a connector on loop (not owned; it must outlive the connector)
 * publishing on bus (not owned). Validates and copies the config, checks
 * the URLs (https/wss, or http/ws to loopback only), and starts at once:
 * time sync, exchangeInfo, account, fees, market stream, user stream.
 * Readiness is reported through ops->status as the pieces arrive.
 * CLB_EINVAL (bad config, reason in err), CLB_ENOMEM, or a transport error.
 * The key and secret never appear in err. */
int clb_binance_create(struct clb_netloop *loop, const struct clb_binance_config *cfg,
                       struct clb_event_bus *bus, struct clb_binance **out, char *err,
                       size_t errlen);

/* Cancels every request in flight, closes the streams and frees b (NULL is
 * a no-op). Orders on the exchange are left as they are. */
void clb_binance_destroy(struct clb_binance *b);

/* The connector interface of this instance (owned by b). */
struct clb_connector *clb_binance_connector(struct clb_binance *b);

/* Requests the cancel of every live tracked order of market (NULL: all
 * markets); each is retried until confirmed. Returns the number requested. */
int clb_binance_cancel_all(struct clb_binance *b, const char *market);

/* Copies the counters and the latency histogram. */
void clb_binance_stats(const struct clb_binance *b, struct clb_binance_stats *out);

/* Asks for a REST reconciliation (open orders, statuses, trades, account)
 * as soon as the throttler allows; for tests and after an operator action. */
void clb_binance_reconcile_now(struct clb_binance *b);

/* True when no order request (create, cancel, status, trades) is in flight
 * or waiting and no tracked order is PENDING_CREATE, PENDING_CANCEL or
 * filled-awaiting-fills, and the recovery sweep is done (tests: "settled"). */
bool clb_binance_idle(const struct clb_binance *b);

#endif
