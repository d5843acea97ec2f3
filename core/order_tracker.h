/*
 * order_tracker.h — the in-flight order tracker: what colibri believes about
 * every order it has sent (or is about to send) to one exchange.
 *
 * Hummingbot's rule: an order is tracked BEFORE it is submitted, so a create
 * call that times out never leaves an untracked order on the book. The
 * connector reports what it learns (acknowledgement, failure, cancel answers,
 * polled status, definite "not found" answers, fills) through the on_*
 * functions; the tracker keeps one state machine per order and publishes an
 * order event (event.h) for every change.
 *
 * States:
 *
 *   PENDING_CREATE --created--> OPEN --fill--> PARTIALLY_FILLED --fill--> FILLED
 *        |  \                    |                  |
 *        |   `--cancel_requested-+------------------+--> PENDING_CANCEL --cancelled--> CANCELED
 *        `--create failed (definite) / rejected / lost (not found N times)--> FAILED
 *
 * CANCELED, FILLED and FAILED are terminal ("finished"). The complete rule
 * set is one table in order_tracker.c; its reading:
 *
 *  - Confirmation. An order is "confirmed" once the exchange has shown that
 *    it exists: on_created, a NEW / PARTIALLY_FILLED / FILLED status, or a
 *    fill. Confirmation clears creation_outcome_unknown and not_found_count.
 *    OPEN and PARTIALLY_FILLED orders are always confirmed; PENDING_CREATE
 *    orders never are; a PENDING_CANCEL order may be either (a cancel by
 *    client id can be requested before the create call has answered).
 *  - Unknown create outcome. A create call that timed out or got a 5xx is
 *    reported with on_create_failed(definite = false): the order stays
 *    PENDING_CREATE (or PENDING_CANCEL) with creation_outcome_unknown set,
 *    and no event is published (nothing a strategy can act on changed: the
 *    order is still in flight). A later status, acknowledgement or fill
 *    confirms it; a definite failure, a REJECTED status or lost_threshold
 *    consecutive not-found answers fail it.
 *  - Lost orders. Only on_not_found counts, and the connector calls it only
 *    for a DEFINITE answer from the exchange that the order does not exist
 *    (Binance -2013 "Order does not exist"). Timeouts, 5xx, disconnects and
 *    rate-limit answers are never reported to the tracker — they prove
 *    nothing — so network trouble can never make an order lost. Any
 *    confirmation resets the count; at lost_threshold consecutive answers
 *    the order becomes FAILED with lost = true (reason CLB_ENOTFOUND).
 *  - "Filled, awaiting fills". A FILLED status while our own fills do not
 *    yet cover the amount sets exchange_filled and leaves the state alone
 *    (executed amounts change only through fills, never through a status).
 *    The order becomes FILLED when the fills arrive. Meanwhile it is no
 *    longer cancellable: cancel requests, cancel confirmations, CANCELED /
 *    REJECTED statuses and not-found answers are CLB_ESTATE.
 *  - Fills apply exactly once (dedup by exchange trade id, per order) in
 *    every state, terminal ones included (late fills after a cancel). A fill
 *    that brings executed_base to the amount makes the order FILLED, whatever
 *    its state was; otherwise an OPEN / PENDING_CREATE order becomes
 *    PARTIALLY_FILLED and every other state stays as it is.
 *  - Terminal orders stay tracked for finished_ttl_ns (late fills still
 *    apply), then clb_tracker_tick evicts them. One whose last status
 *    reported more executed than its fills cover (a CANCELED order filled in
 *    part, its trades not yet heard of) is awaiting fills: it stays for
 *    awaiting_fills_ttl_ns instead, so its fills still find it when the
 *    exchange can be asked again after an outage.
 *
 * Return codes of every on_* function:
 *   CLB_OK          applied (the order changed; events published, maybe none)
 *   CLB_EINVAL      malformed argument
 *   CLB_ENOTFOUND   no tracked order with that client id (never tracked or evicted)
 *   CLB_ESTATE      the input contradicts what the tracker knows (illegal transition)
 *   CLB_ESTALE      the input is older than what the tracker knows (e.g. a polled
 *                   NEW status arriving after the cancel confirmation): ignored
 *   CLB_EDUPLICATE  a repeat of something already applied: ignored
 * Any return other than CLB_OK leaves the tracker and the order exactly as
 * they were and publishes nothing. Validation order: arguments (CLB_EINVAL),
 * lookup (CLB_ENOTFOUND), then the state rules.
 *
 * Events (published on the bus given at init, ev.ts_ns = now_ns, ev.source =
 * the tracker's source name; every field of ev.u.order is filled, strings are
 * borrowed for the duration of the publish):
 *   ORDER_STATE      tracking started (prev_state = CLB_ORDER_STATE_NONE),
 *                    -> PENDING_CANCEL, and a rejected cancel going back
 *   ORDER_CREATED    at most once per order: when on_created or a status first
 *                    confirms a PENDING_CREATE order (-> OPEN) or an unconfirmed
 *                    PENDING_CANCEL one (state unchanged). An order first
 *                    confirmed by a fill gets no CREATED event; an exchange id
 *                    learned after confirmation is recorded silently.
 *   ORDER_FILLED     every applied fill (fill fields set)
 *   ORDER_COMPLETED  after the ORDER_FILLED of the fill that completes the amount
 *   ORDER_CANCELLED  -> CANCELED
 *   ORDER_FAILED     -> FAILED (reason: the caller's code, CLB_EINVAL for a
 *                    REJECTED status, CLB_ENOTFOUND with lost = true)
 * Listeners may call the on_* functions and clb_tracker_start_tracking, but
 * not clb_tracker_tick, clb_tracker_remove or clb_tracker_deinit.
 *
 * Times are the caller's clock (now_ns); the tracker never reads a clock.
 * Memory is allocated at init; only an order with more than
 * CLB_TRACKER_PREALLOC_FILLS fills grows its trade-id list (up to
 * max_fills_per_order). Not thread-safe: one owner thread (the worker).
 */
#ifndef CLB_ORDER_TRACKER_H
#define CLB_ORDER_TRACKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decimal.h"
#include "event.h"
#include "market.h"

enum clb_order_state {
    CLB_ORDER_PENDING_CREATE = 0,
    CLB_ORDER_OPEN,
    CLB_ORDER_PARTIALLY_FILLED,
    CLB_ORDER_PENDING_CANCEL,
    CLB_ORDER_CANCELED,
    CLB_ORDER_FILLED,
    CLB_ORDER_FAILED,
    CLB_ORDER_STATE_COUNT_
};

/* prev_state of the event published when tracking starts. */
#define CLB_ORDER_STATE_NONE (-1)

/* "pending_create", "open", ..., "none" for CLB_ORDER_STATE_NONE, "unknown"
 * otherwise. Never NULL. */
const char *clb_order_state_name(int state);

/* True for CANCELED, FILLED and FAILED. */
static inline bool clb_order_state_is_terminal(int state)
{
    return state == CLB_ORDER_CANCELED || state == CLB_ORDER_FILLED || state == CLB_ORDER_FAILED;
}

/* An order's status as an exchange reports it when polled. */
enum clb_xorder_status {
    CLB_XORDER_NEW = 0,
    CLB_XORDER_PARTIALLY_FILLED,
    CLB_XORDER_FILLED,
    CLB_XORDER_CANCELED,
    CLB_XORDER_REJECTED,
    CLB_XORDER_EXPIRED /* treated as CANCELED */
};

#define CLB_CLIENT_ORDER_ID_MAX 36   /* characters, NUL not included (Binance) */
#define CLB_CLIENT_ORDER_ID_GEN_MAX 32 /* length of generated ids (Hummingbot) */
#define CLB_EXCHANGE_ORDER_ID_MAX 64 /* bytes, NUL included */
#define CLB_TRADE_ID_MAX 64          /* bytes, NUL included */
#define CLB_TRACKER_SOURCE_MAX 32    /* bytes, NUL included */
#define CLB_TRACKER_FEE_ASSETS 4     /* distinct fee assets per order */
#define CLB_TRACKER_PREALLOC_FILLS 4 /* trade ids per order held without allocating */

/* Fees of one asset summed over an order's fills. */
struct clb_fee_sum {
    char asset[CLB_ASSET_MAX];
    clb_dec amount;
};

/* One trade id already applied (private to the tracker). */
struct clb_fill_key_ {
    uint64_t hash;
    char id[CLB_TRADE_ID_MAX];
};

/* One tracked order. Read it through clb_tracker_get / iteration; only the
 * tracker writes it. Pointers stay valid until the order is evicted. */
struct clb_tracked_order {
    char client_order_id[CLB_CLIENT_ORDER_ID_MAX + 1];
    char exchange_order_id[CLB_EXCHANGE_ORDER_ID_MAX]; /* "" until known */
    char market[CLB_SYMBOL_MAX];
    enum clb_side side;
    enum clb_order_type type;
    clb_dec price;  /* 0 for market orders */
    clb_dec amount; /* base amount */
    clb_dec executed_base;  /* sum of applied fill amounts */
    clb_dec executed_quote; /* sum of fill price * fill amount */
    /* Fee sums per asset, in order of first appearance: fees[0] is the asset
     * of the first non-zero fee. */
    struct clb_fee_sum fees[CLB_TRACKER_FEE_ASSETS];
    uint32_t n_fee_assets;
    enum clb_order_state state;
    int fail_reason;        /* CLB_E* code once FAILED, else 0 */
    int64_t created_ns;     /* tracking start */
    int64_t updated_ns;     /* last CLB_OK input */
    int64_t finished_ns;    /* first entry into a terminal state, else 0 */
    int64_t last_cancel_request_ns; /* 0 if never requested */
    uint32_t cancel_requests;       /* cancel requests reported (retries included) */
    uint32_t not_found_count;       /* consecutive definite not-found answers */
    bool confirmed;                 /* the exchange has shown the order exists */
    bool creation_outcome_unknown;  /* the create call failed indefinitely, not yet resolved */
    bool exchange_filled;           /* a FILLED status arrived: filled, awaiting fills */
    bool lost;                      /* FAILED after lost_threshold not-found answers */
    clb_dec exchange_executed_base; /* cumulative quantity of the last status (information) */
    uint32_t n_fills;               /* fills applied */
    /* private */
    uint32_t fill_cap_;
    struct clb_fill_key_ *fills_; /* n_fills applied trade ids */
    uint64_t hash_;
    uint32_t prev_, next_; /* tracking-order list; next_ also links the free list */
};

struct clb_tracker_config {
    uint32_t max_orders;          /* live + finished orders held at once, 1..2^24 */
    uint32_t lost_threshold;      /* consecutive not-found answers (>= 1) */
    int64_t finished_ttl_ns;      /* >= 0: how long finished orders stay tracked */
    int64_t awaiting_fills_ttl_ns; /* the same for finished orders awaiting fills (see
                                    * above); below finished_ttl_ns means finished_ttl_ns */
    uint32_t max_fills_per_order; /* >= 1 */
    const char *source;           /* event source name (copied); NULL = "" */
    struct clb_event_bus *bus;    /* NULL: no events */
};

/* Fills *cfg with the defaults: max_orders 1024, lost_threshold 3,
 * finished_ttl_ns 30 s, awaiting_fills_ttl_ns 24 h, max_fills_per_order
 * 10000, source NULL, bus NULL. */
void clb_tracker_config_defaults(struct clb_tracker_config *cfg);

struct clb_order_tracker {
    struct clb_tracked_order *orders; /* pool of max_orders */
    uint32_t *map;                    /* linear probing: pool index or UINT32_MAX */
    struct clb_fill_key_ *prealloc_fills; /* CLB_TRACKER_PREALLOC_FILLS per pool slot */
    uint32_t map_mask;
    uint32_t max_orders;
    uint32_t free_head;
    uint32_t head, tail; /* tracking-order list of used orders */
    uint32_t n_orders;   /* tracked, finished included */
    uint32_t n_live;     /* not in a terminal state */
    uint32_t lost_threshold;
    uint32_t max_fills_per_order;
    int64_t finished_ttl_ns;
    int64_t awaiting_fills_ttl_ns; /* >= finished_ttl_ns */
    struct clb_event_bus *bus;
    char source[CLB_TRACKER_SOURCE_MAX];
};

/* Allocates the pool and the map. CLB_EINVAL (a config value out of range,
 * source too long), CLB_ENOMEM. The caller owns *t and the bus (which must
 * outlive the tracker); release with clb_tracker_deinit. */
int clb_tracker_init(struct clb_order_tracker *t, const struct clb_tracker_config *cfg);
void clb_tracker_deinit(struct clb_order_tracker *t);

/* What to track (strings are copied). */
struct clb_order_params {
    const char *client_order_id; /* 1..36 of [A-Za-z0-9._:/-] */
    const char *market;          /* 1..CLB_SYMBOL_MAX-1 bytes */
    enum clb_side side;
    enum clb_order_type type;
    clb_dec price;  /* > 0, or >= 0 for CLB_ORDER_MARKET */
    clb_dec amount; /* > 0, base amount */
};

/* Starts tracking an order in PENDING_CREATE — call it BEFORE submitting the
 * order. Publishes ORDER_STATE (prev_state CLB_ORDER_STATE_NONE).
 * CLB_EINVAL, CLB_EEXIST (the id is tracked, finished orders included),
 * CLB_EFULL (max_orders orders tracked; finished ones count until evicted). */
int clb_tracker_start_tracking(struct clb_order_tracker *t, const struct clb_order_params *p,
                               int64_t now_ns);

/* The exchange acknowledged the order with its id (1..63 printable bytes).
 * PENDING_CREATE -> OPEN (ORDER_CREATED); an unconfirmed PENDING_CANCEL order
 * stays PENDING_CANCEL (ORDER_CREATED). Other states record the id silently;
 * FAILED is CLB_ESTATE. Same id already known: CLB_EDUPLICATE; a different
 * one: CLB_ESTATE. */
int clb_tracker_on_created(struct clb_order_tracker *t, const char *client_order_id,
                           const char *exchange_order_id, int64_t now_ns);

/* The create call failed. definite (the exchange rejected it: 4xx with an
 * error code): PENDING_CREATE or unconfirmed PENDING_CANCEL -> FAILED
 * (ORDER_FAILED with `reason`, a negative CLB_E* code); already FAILED:
 * CLB_EDUPLICATE; confirmed or finished orders: CLB_ESTATE.
 * Not definite (timeout, 5xx, connection lost after sending): an unconfirmed
 * order stays as it is with creation_outcome_unknown = true (no event); a
 * confirmed or finished order: CLB_ESTALE. */
int clb_tracker_on_create_failed(struct clb_order_tracker *t, const char *client_order_id,
                                 bool definite, int reason, int64_t now_ns);

/* A cancel request is about to be sent (or re-sent). PENDING_CREATE, OPEN,
 * PARTIALLY_FILLED -> PENDING_CANCEL (ORDER_STATE); PENDING_CANCEL: retry
 * bookkeeping only (cancel_requests, last_cancel_request_ns; no event).
 * Finished or exchange_filled orders: CLB_ESTATE. */
int clb_tracker_on_cancel_requested(struct clb_order_tracker *t, const char *client_order_id,
                                    int64_t now_ns);

/* The exchange refused a cancel (the order stays alive, e.g. it is being
 * filled). PENDING_CANCEL -> back to PENDING_CREATE (unconfirmed), OPEN (no
 * fills) or PARTIALLY_FILLED (ORDER_STATE). In any other state: CLB_ESTALE if
 * a cancel was ever requested (an answer to an older request), else
 * CLB_ESTATE. An "unknown order" answer to a cancel is not a rejection to
 * report here: resolve it with status queries (on_status / on_not_found). */
int clb_tracker_on_cancel_rejected(struct clb_order_tracker *t, const char *client_order_id,
                                   int64_t now_ns);

/* The exchange says the order is cancelled (cancel answer or stream). Any
 * live state -> CANCELED (ORDER_CANCELLED), including orders cancelled
 * outside colibri; CANCELED: CLB_EDUPLICATE; FILLED, FAILED or
 * exchange_filled: CLB_ESTATE. */
int clb_tracker_on_cancelled(struct clb_order_tracker *t, const char *client_order_id,
                             int64_t now_ns);

/* Reconciles with a polled status. cum_executed is the exchange's cumulative
 * executed base quantity (0..amount; exactly amount for FILLED), recorded in
 * exchange_executed_base — executed amounts change only through fills.
 * exchange_order_id may be NULL or "" (unknown); if both it and the tracked
 * id are known and differ: CLB_ESTATE.
 *  NEW / PARTIALLY_FILLED: confirms (PENDING_CREATE -> OPEN with
 *    ORDER_CREATED; other live states unchanged). exchange_filled or
 *    CANCELED/FILLED orders: CLB_ESTALE; FAILED: CLB_ESTATE.
 *  FILLED: confirms like NEW and sets exchange_filled (no event of its own);
 *    the order becomes FILLED when its fills arrive. Already exchange_filled
 *    or FILLED: CLB_EDUPLICATE; CANCELED / FAILED: CLB_ESTATE.
 *  CANCELED / EXPIRED: live -> CANCELED (ORDER_CANCELLED); CANCELED:
 *    CLB_EDUPLICATE; others CLB_ESTATE.
 *  REJECTED: live -> FAILED (ORDER_FAILED, reason CLB_EINVAL); FAILED:
 *    CLB_EDUPLICATE; others CLB_ESTATE. */
int clb_tracker_on_status(struct clb_order_tracker *t, const char *client_order_id,
                          enum clb_xorder_status status, const char *exchange_order_id,
                          clb_dec cum_executed, int64_t now_ns);

/* A DEFINITE "order does not exist" answer from the exchange. Never call it
 * for network errors, timeouts, 5xx or rate limiting. Live orders:
 * not_found_count + 1; at lost_threshold -> FAILED, lost = true
 * (ORDER_FAILED, reason CLB_ENOTFOUND); below it no event. exchange_filled
 * orders: CLB_ESTATE; finished orders: CLB_ESTALE. */
int clb_tracker_on_not_found(struct clb_order_tracker *t, const char *client_order_id,
                             int64_t now_ns);

/* One fill. Strings are copied as needed. */
struct clb_fill {
    const char *trade_id; /* exchange trade id, 1..63 bytes */
    clb_dec price;        /* > 0 */
    clb_dec amount;       /* > 0, base */
    clb_dec fee;          /* any sign (rebates); 0 = no fee */
    const char *fee_asset; /* required when fee != 0; < CLB_ASSET_MAX bytes */
    bool is_maker;
};

/* Applies a fill, in any state (see the header comment for the resulting
 * state). Publishes ORDER_FILLED, then ORDER_COMPLETED when executed_base
 * reaches the amount. A trade id already applied to this order:
 * CLB_EDUPLICATE. executed_base beyond the amount: CLB_EINVAL. CLB_EFULL:
 * max_fills_per_order fills already, or a fee in a fifth distinct asset.
 * CLB_EOVERFLOW / CLB_EPRECISION: the sums are not representable.
 * CLB_ENOMEM: growing the trade-id list failed. */
int clb_tracker_on_fill(struct clb_order_tracker *t, const char *client_order_id,
                        const struct clb_fill *fill, int64_t now_ns);

/* An order known from an earlier run (the store): what it was, how far it
 * got, and the fills already recorded for it. */
struct clb_order_restore {
    struct clb_order_params params;
    const char *exchange_order_id; /* NULL or "" if never learned */
    enum clb_order_state state;    /* the last live state recorded: PENDING_CREATE, OPEN,
                                    * PARTIALLY_FILLED or PENDING_CANCEL */
    const struct clb_fill *fills;  /* recorded fills (trade ids are then duplicates) */
    size_t n_fills;
};

/* Tracks r again WITHOUT publishing anything (what it says is already
 * recorded): the order enters the tracker as it was, its fills counted and
 * their trade ids known, so a later report of the same trade is
 * CLB_EDUPLICATE and only news produces events. An order with an exchange
 * id is confirmed; one without is unconfirmed with creation_outcome_unknown
 * set (its create may or may not have reached the exchange: resolve it
 * with status queries). PENDING_CANCEL stays PENDING_CANCEL (one cancel
 * request counted). Fills covering the amount leave it FILLED.
 * CLB_EINVAL (bad params, a terminal or unknown state, a bad fill),
 * CLB_EEXIST, CLB_EFULL, or a fill's error code; on any failure nothing is
 * tracked. */
int clb_tracker_restore(struct clb_order_tracker *t, const struct clb_order_restore *r,
                        int64_t now_ns);

/* Evicts finished orders with now_ns - finished_ns >= finished_ttl_ns.
 * Returns the number evicted. No events. O(tracked orders); call it at the
 * clock's tick rate, not per message. */
int clb_tracker_tick(struct clb_order_tracker *t, int64_t now_ns);

/* Evicts one finished order now. CLB_ENOTFOUND, CLB_ESTATE (still live). */
int clb_tracker_remove(struct clb_order_tracker *t, const char *client_order_id);

/* The tracked order with this client id, or NULL (never tracked, evicted,
 * or NULL id). */
const struct clb_tracked_order *clb_tracker_get(const struct clb_order_tracker *t,
                                                const char *client_order_id);

/* The pool slot (index into t->orders) the next clb_tracker_start_tracking
 * will fill, UINT32_MAX when the pool is full: an owner keeping per-order
 * data in an array parallel to the pool can prefetch both ahead of a hot
 * path. */
uint32_t clb_tracker_next_slot(const struct clb_order_tracker *t);

/* Iteration over every tracked order (finished ones included) in the order
 * tracking started: first, then next until NULL. The on_* functions may be
 * called while iterating; start_tracking, tick and remove may not. */
const struct clb_tracked_order *clb_tracker_first(const struct clb_order_tracker *t);
const struct clb_tracked_order *clb_tracker_next(const struct clb_order_tracker *t,
                                                 const struct clb_tracked_order *o);

/* Calls fn for every live (non-terminal) order, in tracking order. Returns
 * the number of calls. Same restrictions as first/next. */
typedef void (*clb_tracker_visit_fn)(void *ud, const struct clb_tracked_order *o);
uint32_t clb_tracker_foreach_live(const struct clb_order_tracker *t, clb_tracker_visit_fn fn,
                                  void *ud);

/* Counts: every tracked order, and live (non-terminal) ones. */
static inline uint32_t clb_tracker_count(const struct clb_order_tracker *t)
{
    return t->n_orders;
}
static inline uint32_t clb_tracker_count_live(const struct clb_order_tracker *t)
{
    return t->n_live;
}

/* Writes a Hummingbot-style client order id into out:
 *   prefix + 'B'/'S' + first and last letter of base and quote (uppercased)
 *   + nonce in lowercase hex + instance as 4 hex digits
 * e.g. ("hb-", BUY, "BTC-USDT", 0x5f3a1b2c3d4e5, 0x1a2b) -> "hb-BBCUT5f3a1b2c3d4e51a2b".
 * market is "BASE-QUOTE" (alphanumeric parts). The nonce must be unique per
 * order (e.g. clock microseconds, bumped to last + 1 on a tie); instance
 * tells processes sharing an account apart. Deterministic, no state.
 * Returns the length written (without NUL), CLB_EINVAL (bad prefix
 * characters, market or side) or CLB_ERANGE (id longer than
 * CLB_CLIENT_ORDER_ID_GEN_MAX, or cap too small). */
int clb_tracker_make_client_id(char *out, size_t cap, const char *prefix, enum clb_side side,
                               const char *market, uint64_t nonce, uint16_t instance);

#endif
