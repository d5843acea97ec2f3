/*
 * event.h — typed events and a synchronous listener bus.
 *
 * Connectors and the order tracker publish events (order created / filled /
 * cancelled / failed / completed, book diff, trade, balance); strategies, the
 * store writer's feeder and the server's snapshot publisher listen. Publishing
 * calls every matching listener at once, in subscription order, on the
 * publishing thread (the worker thread): listeners must be quick and must not
 * block. Strings and arrays inside an event are borrowed for the duration of
 * the call only; copy what you keep.
 *
 * The bus has a fixed capacity (CLB_EVENT_MAX_LISTENERS) and never allocates.
 */
#ifndef CLB_EVENT_H
#define CLB_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decimal.h"
#include "market.h"

enum clb_event_type {
    CLB_EV_ORDER_CREATED = 0, /* the exchange acknowledged the order */
    CLB_EV_ORDER_FILLED,      /* one fill (partial or last) was applied */
    CLB_EV_ORDER_CANCELLED,
    CLB_EV_ORDER_FAILED,      /* rejected, or declared lost */
    CLB_EV_ORDER_COMPLETED,   /* fully filled */
    CLB_EV_ORDER_STATE,       /* any other state change (e.g. PENDING_CANCEL) */
    CLB_EV_BOOK_DIFF,
    CLB_EV_TRADE,
    CLB_EV_BALANCE,
    CLB_EV_COUNT_
};

#define CLB_EV_MASK(t) (1u << (t))
#define CLB_EV_MASK_ALL ((1u << CLB_EV_COUNT_) - 1u)
#define CLB_EV_MASK_ORDERS                                                   \
    (CLB_EV_MASK(CLB_EV_ORDER_CREATED) | CLB_EV_MASK(CLB_EV_ORDER_FILLED) |  \
     CLB_EV_MASK(CLB_EV_ORDER_CANCELLED) | CLB_EV_MASK(CLB_EV_ORDER_FAILED) | \
     CLB_EV_MASK(CLB_EV_ORDER_COMPLETED) | CLB_EV_MASK(CLB_EV_ORDER_STATE))

/* Order lifecycle events. Fill fields are meaningful for ORDER_FILLED only. */
struct clb_order_event {
    const char *client_order_id;
    const char *exchange_order_id; /* "" until acknowledged */
    const char *market;
    enum clb_side side;
    enum clb_order_type type;
    clb_dec price;
    clb_dec amount;
    clb_dec executed_base;  /* cumulative, after this event */
    clb_dec executed_quote; /* cumulative sum of fill price * fill amount */
    int state;              /* enum clb_order_state (order_tracker.h) */
    int prev_state;
    int reason;             /* CLB_E* code for ORDER_FAILED, else 0 */
    bool lost;              /* FAILED because repeatedly not found */
    /* ORDER_FILLED */
    const char *trade_id;
    clb_dec fill_price;
    clb_dec fill_amount;
    clb_dec fill_fee;
    const char *fee_asset;
    bool fill_is_maker;
};

/* One price level change; qty 0 deletes the level. Integers at the market's
 * price_scale / qty_scale. */
struct clb_level {
    int64_t price;
    int64_t qty;
};

struct clb_book_diff_event {
    const char *market;
    uint64_t first_update_id; /* Binance U (0 when the feed has none) */
    uint64_t last_update_id;  /* Binance u */
    const struct clb_level *bids;
    size_t n_bids;
    const struct clb_level *asks;
    size_t n_asks;
    bool snapshot;            /* replaces the whole book */
};

struct clb_trade_event {
    const char *market;
    int64_t price;            /* at price_scale */
    int64_t qty;              /* at qty_scale */
    enum clb_side taker_side; /* BUY: the buyer took liquidity */
    uint64_t trade_id;
};

struct clb_balance_event {
    const char *asset;
    clb_dec total;
    clb_dec available;
};

struct clb_event {
    enum clb_event_type type;
    int64_t ts_ns;            /* clock time of the event */
    const char *source;       /* connector name */
    union {
        struct clb_order_event order;
        struct clb_book_diff_event book;
        struct clb_trade_event trade;
        struct clb_balance_event balance;
    } u;
};

typedef void (*clb_event_fn)(void *ud, const struct clb_event *ev);

#define CLB_EVENT_MAX_LISTENERS 64

struct clb_event_listener_ {
    clb_event_fn fn;
    void *ud;
    uint32_t mask;
};

struct clb_event_bus {
    struct clb_event_listener_ l[CLB_EVENT_MAX_LISTENERS];
    int n;
    int publishing; /* depth of nested publish calls */
};

/* Caller-owned bus: init zeroes it; there is nothing to deinit. */
void clb_event_bus_init(struct clb_event_bus *bus);

/* Adds a listener for the event types in `mask` (CLB_EV_MASK(...) ORed).
 * Returns a handle >= 0, CLB_EINVAL (no fn / empty mask) or CLB_EFULL.
 * Listeners added during a publish see only later events. */
int clb_event_subscribe(struct clb_event_bus *bus, uint32_t mask, clb_event_fn fn, void *ud);

/* Removes a listener by handle; safe during a publish (it is not called
 * again). CLB_ENOTFOUND for an unknown or removed handle. */
int clb_event_unsubscribe(struct clb_event_bus *bus, int handle);

/* Calls every listener whose mask has ev->type, in subscription order.
 * Returns the number of listeners called. */
int clb_event_publish(struct clb_event_bus *bus, const struct clb_event *ev);

const char *clb_event_type_name(enum clb_event_type t);

#endif
