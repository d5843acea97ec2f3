/*
 * connector.h — the one interface every venue implements, and the only way a
 * strategy reaches a market.
 *
 * A connector is a time iterator (it ticks before the strategies that use it)
 * plus a table of operations (STYLE: a driver table of function pointers and
 * an instance holding {ops, state}). Strategies never name an exchange: they
 * read books, trading rules, balances and their own in-flight orders, and
 * place and cancel orders, through these hooks. Implementations: the paper
 * connector (core's matching engine against a live simulated market or a
 * replayed data file — the backtester), Binance spot, the AMM gateway client.
 *
 * Orders: place() quantizes the price to the market's tick (buys down, sells
 * up) and the amount to its step (down), refuses amounts below the market's
 * minimums with CLB_ERANGE, starts tracking the order in the connector's
 * order tracker BEFORE anything is sent, and returns the client order id.
 * What happens next arrives as events on the connector's event bus (order
 * created / filled / cancelled / failed / completed). cancel() is
 * asynchronous as well: CLB_OK means "cancel requested and tracked".
 *
 * Every hook runs on the worker thread (or the backtester's thread).
 */
#ifndef CLB_CONNECTOR_H
#define CLB_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "decimal.h"
#include "event.h"
#include "market.h"

struct clb_order_book;
struct clb_order_tracker;
struct clb_connector;


struct clb_order_request {
    const char *market;       /* "BTC-USDT" */
    enum clb_side side;
    enum clb_order_type type;
    clb_dec price;            /* ignored for MARKET */
    clb_dec amount;           /* base amount */
    uint32_t owner;           /* strategy id placing it (0 = manual) */
};

/* Readiness, as Hummingbot defines it: every flag true means ready to trade. */
struct clb_connector_status {
    bool symbols_mapped;
    bool order_books_ready;
    bool balances_ready;
    bool trading_rules_ready;
    bool user_stream_ready;
};

struct clb_connector_ops {
    const char *type; /* "paper", "binance", ... */

    /* Places an order (see above). On success writes the client order id
     * (NUL-terminated, < CLB_CLIENT_ID_MAX) and returns CLB_OK; the outcome
     * arrives as events. Errors: CLB_ENOTFOUND (unknown market), CLB_ERANGE
     * (below minimum after quantization), CLB_ENOTREADY, CLB_EFULL. */
    int (*place)(struct clb_connector *c, const struct clb_order_request *req,
                 char client_id[CLB_CLIENT_ID_MAX]);

    /* Requests a cancel; retried by the connector until confirmed.
     * CLB_ENOTFOUND for an order it does not track. */
    int (*cancel)(struct clb_connector *c, const char *market, const char *client_id);

    /* The live L2 book of a market, or NULL for an unknown market. */
    const struct clb_order_book *(*book)(struct clb_connector *c, const char *market);

    /* Trading rules of a market, or NULL. */
    const struct clb_market_rules *(*rules)(struct clb_connector *c, const char *market);

    /* Balance of an asset: total and available (not locked by open orders).
     * Unknown assets read as zero. */
    int (*balance)(struct clb_connector *c, const char *asset, clb_dec *total,
                   clb_dec *available);

    /* Fee rates as fractions (0.001 = 0.1 %). */
    int (*fees)(struct clb_connector *c, const char *market, double *maker, double *taker);

    /* The connector's order tracker: in-flight orders, read-only. */
    const struct clb_order_tracker *(*tracker)(struct clb_connector *c);

    void (*status)(struct clb_connector *c, struct clb_connector_status *out);

    /* Frees the connector (it must not be in a clock). */
    void (*destroy)(struct clb_connector *c);
};

/* Base of every connector; embed as the FIRST member. */
struct clb_connector {
    struct clb_time_iterator it;   /* must stay first */
    const struct clb_connector_ops *ops;
    char name[32];                 /* instance name, e.g. "paper", "binance" */
    struct clb_event_bus *bus;     /* where its events are published; not owned */
};

static inline bool clb_connector_ready(struct clb_connector *c)
{
    struct clb_connector_status s;
    c->ops->status(c, &s);
    return s.symbols_mapped && s.order_books_ready && s.balances_ready &&
           s.trading_rules_ready && s.user_stream_ready;
}

#endif
