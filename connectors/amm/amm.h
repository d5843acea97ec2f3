/*
 * amm.h — the AMM connector: trades on a decentralised exchange through a
 * colibri gateway's HTTPS routes (server/gateway/gateway.h, Hummingbot
 * Gateway's classic names), local or remote, on the worker's netloop.
 *
 * Every call to the gateway is a non-blocking clb_http_request on the
 * netloop given at create (connectors/net/http_client.h); answers arrive in
 * clb_netloop_poll() on the worker thread. Nothing here blocks.
 *
 *  - Orders are swaps, filled at once or not at all. place() accepts BUY
 *    and SELL (amount in base), MARKET (the gateway's slippage bound) or
 *    LIMIT (price -> limitPrice: the worst price accepted). The order is
 *    tracked (core/order_tracker.h) before POST /gateway/amm/trade is
 *    sent; its txHash becomes the exchange order id (ORDER_CREATED; the
 *    tracker keeps 63 characters of the 66, see clb_amm_tx_hash). Then
 *    POST /gateway/chain/poll every tx_poll_ms until the transaction is
 *    mined: confirmed -> one fill with the amounts the receipt's ERC20
 *    transfers moved (price = quote / base, fee = the gas paid, in ETH)
 *    -> ORDER_FILLED, ORDER_COMPLETED; reverted -> ORDER_FAILED; "not
 *    found" answers count toward lost (core tracker's lost_threshold) only
 *    from 30 s after the send (a node may not list a fresh transaction). A trade
 *    the gateway refuses (4xx/5xx answer: price limit, balance, allowance,
 *    node error before sending) fails the order at once with the gateway's
 *    message in clb_amm_last_error(). A request that got no answer leaves
 *    the order PENDING_CREATE with an unknown outcome; it is declared lost
 *    (FAILED, lost) after lost_after_ms, since without a hash it cannot be
 *    looked up — the one case where a swap could go unaccounted.
 *  - cancel(): swaps cannot be cancelled (CLB_EUNSUPPORTED for tracked
 *    orders, CLB_ENOTFOUND otherwise).
 *  - book(): NULL (a pool has no book). Prices come from clb_amm_quote(),
 *    a cache per (market, side, amount) fed by POST /gateway/amm/price
 *    every price_poll_ms; the first ask of a new key registers it.
 *  - Balances: POST /gateway/chain/balances every balance_poll_ms (and
 *    after each finished order) for ETH and every market asset; a
 *    changed balance publishes CLB_EV_BALANCE. Available = total (a swap
 *    locks nothing before it is sent).
 *  - Readiness: trading rules and symbols at create; balances after the
 *    first balances answer; books and "user stream" while the gateway
 *    answers (the last request got an HTTP answer below 500 that is not
 *    401/403). Unreachable: not ready, place() refuses with CLB_ENOTREADY
 *    and clb_amm_last_error() says why.
 *
 * Events go to the connector's bus exactly like the paper connector's (the
 * tracker publishes order events; source = the connector name).
 * Threads: everything on the netloop's (worker) thread.
 */
#ifndef CLB_AMM_H
#define CLB_AMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connector.h"
#include "decimal.h"
#include "event.h"
#include "market.h"
#include "netloop.h"

struct clb_amm;

#define CLB_AMM_MAX_MARKETS 8
#define CLB_AMM_MAX_QUOTES 32 /* (market, side, amount) keys in the quote cache */

struct clb_amm_config {
    const char *name;           /* connector name, default "amm" */
    struct clb_event_bus *bus;  /* where events go (borrowed, required) */
    const char *base_url;       /* the gateway, e.g. "https://127.0.0.1:8443" (required;
                                   https://, or http:// to loopback only) */
    const char *token;          /* bearer token with the trade role (NULL: none sent) */
    const char *network;        /* gateway network name (required) */
    const char *dex;            /* gateway "connector", default "uniswap_v2" */
    const char *address;        /* wallet address "0x..." (required) */
    const char *const *markets; /* "BASE-QUOTE": the network's token symbols */
    size_t n_markets;           /* 1..CLB_AMM_MAX_MARKETS */
    double fee;                 /* pool fee fraction (Uniswap V2: 0.003) */
    int price_decimals;         /* tick = 10^-price_decimals, default 8 */
    int amount_decimals;        /* step = min_qty = 10^-amount_decimals, default 6 */
    int64_t price_poll_ms;      /* default 1000 */
    int64_t balance_poll_ms;    /* default 2000 */
    int64_t tx_poll_ms;         /* default 250 */
    int64_t lost_after_ms;      /* unanswered trade -> lost, default 120000 */
    int request_timeout_ms;     /* per request, default 15000 */
    uint32_t max_orders;        /* tracked orders, default 256 */
    const char *client_id_prefix; /* default "amm-" */
};

/* Defaults: name "amm", dex "uniswap_v2", fee 0.003, the values above. */
void clb_amm_config_default(struct clb_amm_config *cfg);

/* Creates the connector on loop (borrowed; it must outlive the connector).
 * Nothing is sent before its first tick. CLB_EINVAL with the reason in err
 * (missing field, bad market, URL refused by the URL policy), CLB_ENOMEM. */
int clb_amm_create(struct clb_netloop *loop, const struct clb_amm_config *cfg,
                   struct clb_amm **out, char *err, size_t errlen);

/* Cancels its requests in flight (no callback fires afterwards) and frees
 * it. NULL-safe. Not from inside one of its own callbacks. */
void clb_amm_destroy(struct clb_amm *a);

/* The connector interface of this instance (owned by a). */
struct clb_connector *clb_amm_connector(struct clb_amm *a);

/* A pool quote for `amount` base: SELL = what selling it yields, BUY =
 * what buying it costs. */
struct clb_amm_price {
    double price;        /* quote per base (expectedAmount / amount) */
    double expected;     /* quote received (SELL) or paid (BUY) */
    double gas_cost;     /* the gateway's gas cost estimate, in ETH */
    int64_t ts_ns;       /* clock time of the answer */
};

/* The cached quote of (market, side, amount). CLB_OK; CLB_ENOTREADY when
 * none has arrived yet (the key is registered and fetched by the next
 * poll, at once if none is in flight); CLB_ENOTFOUND (unknown market),
 * CLB_EINVAL (amount <= 0), CLB_EFULL (CLB_AMM_MAX_QUOTES keys). Amounts
 * equal to within 1e-12 relative share a key. Keys not asked for during
 * 10 price polls are dropped. */
int clb_amm_quote(struct clb_amm *a, const char *market, enum clb_side side, double amount,
                  struct clb_amm_price *out);

/* clb_amm_quote in the shape of amm_arb's quote source
 * (strategies/amm_arb.h, clb_amm_arb_quote_fn): ud is the struct clb_amm *;
 * writes the price and the gas cost of a swap in ETH. */
int clb_amm_quote_price(void *ud, const char *market, enum clb_side side, double amount,
                        double *price, double *gas_native);

/* The full transaction hash of a live order ("0x" + 64 hex digits), or
 * NULL (unknown order, not yet sent, or finished). The tracker's exchange
 * order id holds its first 63 characters only (CLB_EXCHANGE_ORDER_ID_MAX). */
const char *clb_amm_tx_hash(const struct clb_amm *a, const char *client_id);

/* The reason of the latest failure (gateway unreachable, refused trade,
 * reverted swap), "" if none. Valid until the next call into a. */
const char *clb_amm_last_error(const struct clb_amm *a);

/* Figures for tests and metrics. */
struct clb_amm_stats {
    uint64_t requests;       /* sent */
    uint64_t request_errors; /* no answer, or 5xx */
    uint64_t trades_sent;    /* orders with a txHash */
    uint64_t trades_refused; /* refused by the gateway */
    uint64_t fills;
    uint64_t reverted;
    uint64_t lost;
    uint64_t price_answers;
    uint64_t balance_answers;
};
void clb_amm_stats(const struct clb_amm *a, struct clb_amm_stats *out);

#endif
