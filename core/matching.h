/*
 * matching.h — colibri's one matching engine, shared by every simulated
 * venue: the exchange simulator (accounts' orders match each other: a full
 * L3 book with price-time priority), the paper-trading connector and the
 * backtester (our orders rest here while the market's liquidity is an
 * external L2 book, struct clb_order_book, owned by the caller).
 *
 * Units. Prices and quantities are int64 integers at the market's
 * price_scale / qty_scale, like the L2 book. Balances live in a ledger
 * (ledger.h) at each asset's own scale. A quantity becomes a base amount by
 * multiplying by 10^(base_scale - qty_scale); a notional price*qty (scale
 * price_scale + qty_scale, computed in __int128) becomes a quote amount by
 * multiplying by 10^(quote_scale - price_scale - qty_scale). Both are exact:
 * a market whose assets' scales are smaller is refused (CLB_EPRECISION) at
 * clb_matcher_add_market — register the asset at a larger scale instead
 * (ledger scales are free, up to 18). Nothing is ever rounded except fees,
 * which are rounded UP to the asset's unit (in the exchange's favour).
 *
 * Orders. submit() validates (rules, balance) and either rejects — a reason
 * enum, an on_order(REJECTED) report, CLB_EINVAL, and nothing changed — or
 * accepts: the order gets the next id (1, 2, ...), funds are locked (buy:
 * price*qty in quote; sell: qty in base; MARKET buy: exactly the quote the
 * fill will cost, computed by a dry run of the same walk before anything
 * changes, refused when it exceeds the available balance), it matches by
 * price-time priority, and the remainder rests (LIMIT/LIMIT_MAKER GTC) or
 * expires (IOC, FOK, MARKET). FOK fills all or nothing (decided by the dry
 * run). MARKET orders behave as IOC, or as FOK when tif is FOK. Buys filled
 * below their limit release the difference as they fill.
 *
 * Self-trade prevention (config.stp, Binance's modes, default EXPIRE_MAKER):
 * when the next resting order to match belongs to the taker's account,
 * EXPIRE_MAKER expires that resting order and goes on, EXPIRE_TAKER expires
 * the taker's remainder, EXPIRE_BOTH does both, NONE lets them trade.
 *
 * External liquidity (paper, backtest): attach_book(market, book). Then an
 * incoming order walks our resting orders and the external levels together,
 * best price first, and at one price our resting orders (other accounts)
 * before the external level; taker fills against the external book happen at
 * each level's price, for the level's quantity rounded down to the step.
 * The external book is never modified and the market impact of our orders is
 * ignored beyond the moment: the quantity our fills took from an external
 * level is remembered (see sync_book) only until the next sync_book finds
 * none of our resting orders crossing that side — then the level is whole
 * again for the next order (the caller replays data; it cannot know what
 * our order would have changed).
 * Our resting orders carry a queue position (queue_ahead, a double in qty
 * units: the external quantity ahead of us at our price), see
 * clb_matcher_on_book_level / on_trade / sync_book. Paper and backtest
 * callers feed every level change to on_book_level, every market trade to
 * on_trade, and call sync_book after each batch of book updates.
 *
 * Reports go out synchronously through the listener given at init, on the
 * calling thread, inside the call that caused them. For an accepted order:
 * on_order(NEW); then for each match the maker's on_fill and on_order
 * (PARTIALLY_FILLED / FILLED), then the taker's; finally on_order(EXPIRED)
 * when a remainder expires. One trade id per match (both sides of an internal
 * match share it); fills against external liquidity take their own ids from
 * the same counter. Same calls, same reports: the engine is deterministic.
 * Callbacks must not call back into the engine: a mutating call from inside
 * a callback returns CLB_ESTATE.
 *
 * Memory: everything (order pool with a free list, the id hash, per-market
 * price levels) is allocated by init; submit, cancel, matching and the
 * book/trade hooks never allocate. Not thread-safe; owned by one thread.
 */
#ifndef CLB_MATCHING_H
#define CLB_MATCHING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "market.h"
#include "order_book.h"

#define CLB_MATCHER_ANY UINT32_MAX
#define CLB_MATCHER_MAX_CROSS 16 /* remembered consumed external levels per side */

enum clb_tif { CLB_TIF_GTC = 0, CLB_TIF_IOC, CLB_TIF_FOK };

/* Execution status of an order, as carried in on_order. */
enum clb_exec_status {
    CLB_EXEC_NEW = 0,
    CLB_EXEC_PARTIALLY_FILLED,
    CLB_EXEC_FILLED,
    CLB_EXEC_CANCELED,
    CLB_EXEC_REJECTED,
    CLB_EXEC_EXPIRED
};

/* Why submit() refused an order. Checked in this order. */
enum clb_reject_reason {
    CLB_REJECT_NONE = 0,
    CLB_REJECT_UNKNOWN_MARKET,
    CLB_REJECT_UNKNOWN_ACCOUNT,
    CLB_REJECT_BAD_TYPE,      /* side/type/tif out of range, LIMIT_MAKER not GTC */
    CLB_REJECT_BAD_CLIENT_ID, /* longer than CLB_CLIENT_ID_MAX - 1 */
    CLB_REJECT_QTY,           /* qty <= 0 */
    CLB_REJECT_STEP,          /* qty not a multiple of step */
    CLB_REJECT_MIN_QTY,
    CLB_REJECT_MAX_QTY,
    CLB_REJECT_PRICE,         /* limit price <= 0 */
    CLB_REJECT_TICK,          /* limit price not a multiple of tick */
    CLB_REJECT_OVERFLOW,      /* price*qty or the base amount beyond int64 */
    CLB_REJECT_MIN_NOTIONAL,  /* limit: price*qty; MARKET: the dry-run fill */
    CLB_REJECT_WOULD_TAKE,    /* LIMIT_MAKER crossing a resting order/level */
    CLB_REJECT_CAPACITY,      /* order pool full, or a GTC order needs a new
                                 price level on a full side */
    CLB_REJECT_INSUFFICIENT_BALANCE,
    CLB_REJECT_COUNT_
};

enum clb_stp {
    CLB_STP_EXPIRE_MAKER = 0, /* default */
    CLB_STP_EXPIRE_TAKER,
    CLB_STP_EXPIRE_BOTH,
    CLB_STP_NONE
};

/* A market. min_notional is in price*qty units (scale price_scale +
 * qty_scale), like the book's quote volumes. A zero min/max rule is off. */
struct clb_matcher_market {
    char symbol[CLB_SYMBOL_MAX];
    uint32_t base_asset;  /* ledger asset ids */
    uint32_t quote_asset;
    int price_scale;
    int qty_scale;
    int64_t tick; /* > 0, at price_scale */
    int64_t step; /* > 0, at qty_scale */
    int64_t min_qty;
    int64_t max_qty;
    int64_t min_notional;
};

struct clb_match_request {
    uint32_t account;
    uint32_t market;
    enum clb_side side;
    enum clb_order_type type;
    enum clb_tif tif;       /* LIMIT_MAKER: GTC only; MARKET: FOK, else IOC */
    int64_t price;          /* limit price; ignored for MARKET */
    int64_t qty;            /* base quantity at qty_scale */
    uint64_t client_tag;    /* carried back in every report */
    const char *client_id;  /* optional (NULL = ""); copied; carried back */
};

struct clb_fill_report {
    uint64_t trade_id;
    uint64_t order_id;
    uint64_t client_tag;
    const char *client_id; /* borrowed for the call */
    uint32_t account;
    uint32_t market;
    enum clb_side side;
    int64_t price;     /* fill price, price_scale */
    int64_t qty;       /* fill qty, qty_scale */
    int64_t quote_qty; /* price*qty at the quote asset's scale */
    int64_t fee;       /* at fee_asset's scale, in the asset received */
    uint32_t fee_asset;
    bool is_maker;
    bool external;     /* the counterparty is the external market */
    int64_t ts_ns;
};

struct clb_order_report {
    uint64_t order_id; /* 0 for REJECTED */
    uint64_t client_tag;
    const char *client_id; /* borrowed for the call */
    uint32_t account;
    uint32_t market;
    enum clb_side side;
    enum clb_order_type type;
    enum clb_tif tif;
    enum clb_exec_status status;
    enum clb_reject_reason reason; /* REJECTED only */
    int64_t price;
    int64_t qty;
    int64_t filled_qty;   /* cumulative */
    int64_t filled_quote; /* cumulative, quote asset scale */
    int64_t remaining;    /* qty - filled_qty (0 once finished) */
    int64_t ts_ns;
};

struct clb_matcher_listener {
    void (*on_fill)(void *ud, const struct clb_fill_report *f);   /* may be NULL */
    void (*on_order)(void *ud, const struct clb_order_report *o); /* may be NULL */
    void *ud;
};

struct clb_matcher_config {
    uint32_t max_markets;    /* >= 1 */
    uint32_t max_orders;     /* live orders (resting + the one being matched), >= 1 */
    uint32_t max_levels;     /* price levels per market side, >= 1 */
    uint32_t fee_account;    /* ledger account (or CLB_LEDGER_EXTERNAL) receiving fees */
    int32_t maker_fee_ppm;   /* defaults for every account, 0..1000000 */
    int32_t taker_fee_ppm;
    enum clb_stp stp;
    double queue_power;      /* n of the queue model, >= 0 (3 is hftbacktest's usual) */
};

/* A live order, as returned by clb_matcher_get_order. */
struct clb_order_info {
    uint64_t order_id;
    uint64_t client_tag;
    char client_id[CLB_CLIENT_ID_MAX];
    uint32_t account;
    uint32_t market;
    enum clb_side side;
    enum clb_order_type type;
    enum clb_tif tif;
    enum clb_exec_status status; /* NEW or PARTIALLY_FILLED */
    int64_t price;
    int64_t qty;
    int64_t filled_qty;
    int64_t filled_quote;
    int64_t remaining;
    int64_t locked;      /* funds still locked for it (quote for buys, base for sells) */
    double queue_ahead;  /* external qty ahead of it at its price (qty units) */
    int64_t created_ns;
};

struct clb_mx_order;  /* private to matching.c */
struct clb_mx_market;

struct clb_matcher {
    struct clb_ledger *ledger; /* borrowed */
    struct clb_matcher_listener listener;
    struct clb_matcher_config cfg;
    struct clb_mx_order *orders; /* pool [max_orders] */
    uint32_t free_head;
    uint32_t n_live;
    uint64_t *hash_ids;   /* open addressing, 0 = empty */
    uint32_t *hash_slots;
    uint32_t hash_mask;
    struct clb_mx_market *markets; /* [max_markets] */
    uint32_t n_markets;
    void *level_mem; /* price levels of every market side */
    int32_t *maker_ppm; /* [ledger->max_accounts] */
    int32_t *taker_ppm;
    uint64_t next_order_id;
    uint64_t next_trade_id;
    int busy;               /* inside a listener callback */
    uint64_t settle_errors; /* settlements the ledger refused (see submit) */
};

/* Fills *cfg with defaults: 16 markets, 65536 orders, 4096 levels per side,
 * no fee account (fees leave the ledger), no fees, EXPIRE_MAKER, power 3. */
void clb_matcher_config_default(struct clb_matcher_config *cfg);

/* Allocates everything. The ledger is borrowed and must outlive the
 * matcher; the listener is copied (NULL = no reports). CLB_EINVAL (bad
 * config, fee account unknown to the ledger), CLB_ENOMEM. The caller owns
 * the struct; release with clb_matcher_deinit (the ledger is not touched:
 * funds locked by live orders stay locked). */
int clb_matcher_init(struct clb_matcher *m, struct clb_ledger *ledger,
                     const struct clb_matcher_config *cfg,
                     const struct clb_matcher_listener *listener);
void clb_matcher_deinit(struct clb_matcher *m);

/* Adds a market; writes its id (0, 1, ...). CLB_EINVAL (bad rule, unknown
 * or equal assets, empty symbol), CLB_EPRECISION (base scale < qty_scale or
 * quote scale < price_scale + qty_scale), CLB_EEXIST (symbol), CLB_EFULL. */
int clb_matcher_add_market(struct clb_matcher *m, const struct clb_matcher_market *mk,
                           uint32_t *market);

/* Converts exchange rules (market.h) into a matcher market over the given
 * ledger assets: tick/step/min_qty/max_qty at rules->price_scale/qty_scale,
 * min_notional at their sum. CLB_EINVAL, CLB_EPRECISION (a rule has more
 * digits than its scale), CLB_EOVERFLOW. */
int clb_matcher_market_from_rules(const struct clb_market_rules *rules, uint32_t base_asset,
                                  uint32_t quote_asset, struct clb_matcher_market *out);

int clb_matcher_find_market(const struct clb_matcher *m, const char *symbol, uint32_t *market);
/* The market's definition, or NULL. */
const struct clb_matcher_market *clb_matcher_market(const struct clb_matcher *m,
                                                    uint32_t market);

/* Per-account fee rates in parts per million of the amount received (0 ..
 * 1000000; rebates are not supported). CLB_EINVAL. */
int clb_matcher_set_fees(struct clb_matcher *m, uint32_t account, int32_t maker_ppm,
                         int32_t taker_ppm);

/* Submits an order at clock time now_ns (stamped on its reports).
 * Returns CLB_OK when accepted (whatever then happens to it: filled,
 * resting, expired) with *order_id set; CLB_EINVAL when rejected, with
 * *reason set (if non-NULL), an on_order(REJECTED) report (order_id 0) and
 * nothing changed; CLB_ESTATE from inside a callback. order_id and reason
 * may be NULL. */
int clb_matcher_submit(struct clb_matcher *m, const struct clb_match_request *rq, int64_t now_ns,
                       uint64_t *order_id, enum clb_reject_reason *reason);

/* Cancels a live order of `account`, unlocking exactly its remaining lock;
 * reports on_order(CANCELED). CLB_ENOTFOUND for an unknown or finished
 * order or one of another account; CLB_ESTATE from a callback. */
int clb_matcher_cancel(struct clb_matcher *m, uint32_t account, uint64_t order_id,
                       int64_t now_ns);

/* Cancels every live order of `account` (CLB_MATCHER_ANY = all accounts) in
 * `market` (CLB_MATCHER_ANY = all markets), bids best first then asks.
 * Returns the number cancelled (>= 0), CLB_EINVAL, CLB_ESTATE. */
int clb_matcher_cancel_all(struct clb_matcher *m, uint32_t account, uint32_t market,
                           int64_t now_ns);

/* Copies a live order. CLB_ENOTFOUND. */
int clb_matcher_get_order(const struct clb_matcher *m, uint64_t order_id,
                          struct clb_order_info *out);

/* Live order ids of `account` in `market` (either CLB_MATCHER_ANY), by
 * market, bids then asks, each side in price-time priority. Writes up to cap
 * ids; returns how many exist (may exceed cap). */
size_t clb_matcher_open_orders(const struct clb_matcher *m, uint32_t account, uint32_t market,
                               uint64_t *ids, size_t cap);

/* Aggregated resting quantity of our book, best first (at most n levels);
 * returns the count written. */
size_t clb_matcher_depth(const struct clb_matcher *m, uint32_t market, enum clb_side side,
                         struct clb_level *out, size_t n);

/* Number of live orders across all markets. */
static inline uint32_t clb_matcher_live_orders(const struct clb_matcher *m)
{
    return m->n_live;
}

/* --- External liquidity (paper connector, backtester) ---------------------
 *
 * The caller owns the book, applies market data to it and tells the engine.
 * The engine reads the book (through order_book.h's layout) and never
 * writes it.
 *
 * Queue model (hftbacktest's ProbQueueModel). An order that rests at a price
 * joins the back of the external queue: queue_ahead = the book's quantity at
 * that price when it arrives (0 at a price the book does not hold). Level
 * changes at our price: an increase joins behind us (ahead unchanged); a
 * decrease of d, less the quantity traded at that price since the last level
 * change (trades already advanced us), is split between the queue ahead and
 * behind: front = ahead, back = max(prev - front, 0), f(x) = x^n,
 * p = f(front) / (f(front) + f(back)),
 *   ahead' = front - d*p + min(back - d*(1-p), 0)
 * (the second term: the share assigned behind us beyond what is behind us
 * comes off the front), clamped to [0, new_qty]. n = 0 means every decrease
 * happens behind us as far as there is quantity behind (p = 0). For a second
 * own order at the same price, our own earlier orders count as ahead of it
 * on top of its external queue (time priority among our orders holds; an
 * order's ahead is kept >= that of the order before it).
 */

/* Attaches (or with NULL detaches) the external book of a market. Resting
 * orders are re-queued as if they arrived now (ahead = the book's quantity
 * at their price). CLB_EINVAL, CLB_ESTATE. */
int clb_matcher_attach_book(struct clb_matcher *m, uint32_t market,
                            const struct clb_order_book *book);

/* Queue model power n (>= 0) for one market (default config.queue_power). */
int clb_matcher_set_queue_power(struct clb_matcher *m, uint32_t market, double n);

/* The external level (side, price) now holds new_qty (0 = gone). Call it for
 * every level update, before or after writing it to the book. Costs two
 * compares when we hold nothing at that side within [our worst, our best]
 * price and no crossing memory is kept for that side. Produces no fills.
 * CLB_EINVAL (bad market/side, price <= 0, qty < 0), CLB_ESTATE. */
int clb_matcher_on_book_level(struct clb_matcher *m, uint32_t market, enum clb_side side,
                              int64_t price, int64_t new_qty, int64_t now_ns);

/* A market trade printed: qty at price, taker_side BUY means a buyer took
 * the asks. Our resting SELL orders priced below price fill completely (the
 * market traded through them); those at price fill after the queue ahead:
 * fill = min(remaining, max(0, qty - ahead)) rounded down to the step, then
 * ahead = max(0, ahead - qty) (with several own orders at the price, in time
 * order, each behind its external queue and our earlier orders).
 * Symmetric for SELL against our bids. Fills are maker fills at our order's
 * price against the external market. CLB_EINVAL, CLB_ESTATE. */
int clb_matcher_on_trade(struct clb_matcher *m, uint32_t market, int64_t price, int64_t qty,
                         enum clb_side taker_side, int64_t now_ns);

/* Call after applying a batch of updates to the attached book:
 * 1. brings every queue at our prices up to the book (as on_book_level would
 *    for each level whose quantity changed since the engine last saw it);
 * 2. crossing check: while the book's best ask <= our best bid, our bids
 *    (best first, time order) fill as makers at their own price against the
 *    ask quantity at prices <= their price, asks taken best first; the same
 *    for our asks against bids >= their price. Queue ahead does not apply:
 *    an external order on the other side at or through our price would have
 *    traded with us.
 * The external quantity used by these fills (and by taker fills since the
 * last sync) is remembered per level, up to CLB_MATCHER_MAX_CROSS levels per
 * side, so a stale crossed level does not fill us twice; taker walks see a
 * level less its used part. The used part never exceeds what the level
 * still holds (what leaves a level is taken to be the part we had not
 * used); it is forgotten when the level goes, or at a sync that finds none
 * of our orders crossing that side.
 * CLB_EINVAL, CLB_ESTATE (no book attached, or from a callback). */
int clb_matcher_sync_book(struct clb_matcher *m, uint32_t market, int64_t now_ns);

const char *clb_reject_reason_name(enum clb_reject_reason r);
const char *clb_exec_status_name(enum clb_exec_status s);

#endif
