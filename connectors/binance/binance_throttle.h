/*
 * binance_throttle.h — client-side enforcement of Binance's rate limits,
 * BEFORE a request is sent (Hummingbot's async throttler, minus the
 * asyncio: the caller asks, and on CLB_BN_EAGAIN schedules a retry after the
 * returned wait).
 *
 * Limits come from exchangeInfo's rateLimits array: REQUEST_WEIGHT (per IP,
 * 6000 per minute), ORDERS (per account, 100 per 10 s and 200000 per day),
 * RAW_REQUESTS (61000 per 5 minutes). A request has a cost: its weight
 * (REQUEST_WEIGHT), 1 raw request, and 1 order if it places an order —
 * "linked limits": an order is admitted only when every limit it counts in
 * has room, and then it is recorded in all of them.
 *
 * Windows are fixed and aligned like Binance's counters: a window of
 * interval I covers [k*I, (k+1)*I) in server time (the caller passes the
 * server-time estimate, clb_bn_time_server_now_ms), and the server resets a
 * counter at the boundary. Two safety margins:
 *  - capacity: only limit * capacity_pct / 100 of each limit is used
 *    (Hummingbot keeps 5 % back);
 *  - boundary_margin_ms (m): the local clock estimate may be off by m, so a
 *    request made within m of a boundary may land in either window. It is
 *    counted in both, and a window is only considered finished m after its
 *    end. Exactly: a request at t counts in windows floor((t-m)/I) and
 *    floor((t+m)/I); the window in force at `now` is floor((now-m)/I).
 *
 * Server feedback:
 *  - X-MBX-USED-WEIGHT-1M (or a WS-API rateLimits count): the local count
 *    of the window is raised to the server's figure (never lowered);
 *  - 429 / 418 with Retry-After: nothing at all is admitted until then
 *    (418 is an IP ban; Binance bans grow from 2 minutes to 3 days).
 *
 * No allocation, no clock, no I/O. Not thread-safe: one owner thread.
 */
#ifndef CLB_BINANCE_THROTTLE_H
#define CLB_BINANCE_THROTTLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum clb_bn_limit_type {
    CLB_BN_LIMIT_REQUEST_WEIGHT = 0,
    CLB_BN_LIMIT_ORDERS,
    CLB_BN_LIMIT_RAW_REQUESTS,
};

#define CLB_BN_MAX_RATE_LIMITS 8

/* One entry of a rateLimits array. count is the server's current count
 * (WS-API responses carry it), -1 when absent (exchangeInfo). */
struct clb_bn_rate_limit {
    enum clb_bn_limit_type type;
    int64_t interval_ms; /* intervalNum * SECOND/MINUTE/HOUR/DAY */
    int64_t limit;       /* > 0 */
    int64_t count;
};

struct clb_bn_rate_limits {
    struct clb_bn_rate_limit l[CLB_BN_MAX_RATE_LIMITS];
    size_t n;
};

/* What one request costs. */
struct clb_bn_cost {
    int32_t weight; /* REQUEST_WEIGHT units, >= 0 */
    int32_t orders; /* ORDERS units (1 for a new order), >= 0 */
    /* Background work (polling, snapshots, trading-rule refreshes): admitted
     * only while every limit stays within low_priority_pct of its capacity,
     * so the rest is kept for orders and cancels. */
    bool low_priority;
};

/* Binance spot endpoints (REST and their WS-API twins cost the same). */
enum clb_bn_endpoint {
    CLB_BN_EP_PING = 0,          /* GET /api/v3/ping: 1 */
    CLB_BN_EP_TIME,              /* GET /api/v3/time: 1 */
    CLB_BN_EP_EXCHANGE_INFO,     /* GET /api/v3/exchangeInfo: 20 */
    CLB_BN_EP_DEPTH,             /* GET /api/v3/depth: 5/25/50/250 by limit (arg) */
    CLB_BN_EP_ORDER_NEW,         /* POST /api/v3/order: 1 + 1 order */
    CLB_BN_EP_ORDER_CANCEL,      /* DELETE /api/v3/order: 1 */
    CLB_BN_EP_ORDER_STATUS,      /* GET /api/v3/order: 4 */
    CLB_BN_EP_OPEN_ORDERS,       /* GET /api/v3/openOrders: 6 with symbol (arg 0), 80 (arg 1) */
    CLB_BN_EP_CANCEL_ALL,        /* DELETE /api/v3/openOrders: 1 */
    CLB_BN_EP_ACCOUNT,           /* GET /api/v3/account: 20 */
    CLB_BN_EP_COMMISSION,        /* GET /api/v3/account/commission: 20 */
    CLB_BN_EP_MY_TRADES,         /* GET /api/v3/myTrades: 20, 5 with orderId (arg 1) */
    CLB_BN_EP_WS_CONNECT,        /* opening a WebSocket: 2 */
    CLB_BN_EP_USER_STREAM_SUBSCRIBE, /* userDataStream.subscribe.signature: 2 */
    CLB_BN_EP_COUNT_
};

/* The cost of an endpoint; arg as noted above (ignored elsewhere).
 * An unknown endpoint costs weight 1. low_priority is false: set it on the
 * copy for background requests. */
struct clb_bn_cost clb_bn_endpoint_cost(enum clb_bn_endpoint ep, int arg);

struct clb_bn_throttle_config {
    int capacity_pct;           /* 1..100: share of each limit used (95) */
    int low_priority_pct;       /* 1..100: share of that capacity open to low-priority
                                   requests (80) */
    int64_t boundary_margin_ms; /* 0..interval/4 of the shortest limit (250) */
    int64_t default_retry_429_ms; /* 429 without Retry-After: wait this long (10000) */
    int64_t default_retry_418_ms; /* 418 without Retry-After (120000) */
};

/* Fills *cfg with the defaults given in parentheses above. */
void clb_bn_throttle_config_defaults(struct clb_bn_throttle_config *cfg);

struct clb_bn_window_ {
    struct clb_bn_rate_limit rl;
    int64_t cap;     /* usable: limit * capacity_pct / 100, at least 1 */
    int64_t low_cap; /* for low-priority requests: cap * low_priority_pct / 100, >= 1 */
    int64_t win;     /* index of the window in force (floor((t-m)/I)) */
    int64_t count;   /* units counted in window `win` */
    int64_t next;    /* units also counted in window win + 1 */
    bool started;
};

struct clb_bn_throttle {
    struct clb_bn_throttle_config cfg;
    struct clb_bn_window_ w[CLB_BN_MAX_RATE_LIMITS];
    size_t n;
    int64_t blocked_until_ms; /* Retry-After: nothing before this (0 = none) */
    bool banned;              /* the block came from a 418 */
    uint64_t admitted, refused; /* statistics */
};

/* Sets up a throttler with the given limits (validated as by
 * clb_bn_throttle_set_limits). CLB_OK or CLB_EINVAL. */
int clb_bn_throttle_init(struct clb_bn_throttle *t, const struct clb_bn_throttle_config *cfg,
                         const struct clb_bn_rate_limits *limits);

/* Replaces the limits (e.g. after a new exchangeInfo). Counters of limits
 * with the same type and interval carry over; the Retry-After block stays.
 * CLB_EINVAL (no limits, a limit <= 0, an interval <= 0 or > 31 days, a
 * boundary margin above a quarter of an interval, more than
 * CLB_BN_MAX_RATE_LIMITS): nothing changes. */
int clb_bn_throttle_set_limits(struct clb_bn_throttle *t, const struct clb_bn_rate_limits *limits);

/* Loads limits from JSON: an exchangeInfo object (its "rateLimits") or a
 * bare rateLimits array. CLB_EPARSE (malformed, message in err) or as
 * set_limits; on any error nothing changes. */
int clb_bn_throttle_load_json(struct clb_bn_throttle *t, const char *json, size_t len,
                              char *err, size_t errlen);

/* core/error.h has no EAGAIN: "wait and ask again" is CLB_ENOTREADY. */
#define CLB_BN_EAGAIN CLB_ENOTREADY

/* Asks to send a request costing `cost` at server time now_ms.
 *  CLB_OK: admitted and recorded in every linked limit; send it now.
 *  CLB_BN_EAGAIN (= CLB_ENOTREADY): not recorded; *wait_ms (> 0) is the
 *    shortest wait after which the same request would be admitted if
 *    nothing else is recorded meanwhile — ask again then.
 *  CLB_EINVAL: bad cost, or a cost above a limit's capacity (never fits;
 *    for low-priority requests: above the low-priority share).
 * wait_ms may be NULL; it is 0 on CLB_OK. */
int clb_bn_throttle_acquire(struct clb_bn_throttle *t, int64_t now_ms, struct clb_bn_cost cost,
                            int64_t *wait_ms);

/* Like acquire but records nothing: CLB_OK if it would be admitted. */
int clb_bn_throttle_check(const struct clb_bn_throttle *t, int64_t now_ms,
                          struct clb_bn_cost cost, int64_t *wait_ms);

/* A response's server count for one limit: X-MBX-USED-WEIGHT-1M is
 * (REQUEST_WEIGHT, 60000), X-MBX-ORDER-COUNT-10S (ORDERS, 10000), a WS-API
 * rateLimits entry gives all three. sent_ms is when the request was
 * admitted, now_ms when the answer arrived (server time). The count is
 * applied to the limit with that type and interval (for REQUEST_WEIGHT and
 * interval 0: the shortest REQUEST_WEIGHT limit) only when both times fall
 * in the window in force, and only raises the local count. Returns CLB_OK
 * (applied), CLB_ESTALE (ambiguous window, or not higher), CLB_ENOTFOUND
 * (no such limit) or CLB_EINVAL. */
int clb_bn_throttle_observe_count(struct clb_bn_throttle *t, enum clb_bn_limit_type type,
                                  int64_t interval_ms, int64_t sent_ms, int64_t now_ms,
                                  int64_t count);

/* X-MBX-USED-WEIGHT-1M: observe_count(REQUEST_WEIGHT, 0, ...). */
int clb_bn_throttle_observe_used_weight(struct clb_bn_throttle *t, int64_t sent_ms,
                                        int64_t now_ms, int64_t used);

/* Every entry of a WS-API response's rateLimits (those with count >= 0). */
void clb_bn_throttle_observe_limits(struct clb_bn_throttle *t, int64_t sent_ms, int64_t now_ms,
                                    const struct clb_bn_rate_limits *counts);

/* HTTP 429 (ban = false) or 418 (ban = true) answered at now_ms with
 * Retry-After retry_after_ms (the header is in seconds: pass s * 1000; pass
 * -1 when absent: the configured default applies). Blocks every request
 * until now_ms + retry_after_ms (a later block is never shortened). A
 * WS-API error's data.retryAfter is an absolute time: pass
 * retryAfter - now_ms. */
void clb_bn_throttle_on_retry_after(struct clb_bn_throttle *t, int64_t now_ms,
                                    int64_t retry_after_ms, bool ban);

/* Parses a Retry-After header value (whole seconds, Binance never sends the
 * HTTP-date form) into ms. CLB_OK or CLB_EPARSE (anything but 1..10 digits,
 * surrounding spaces allowed). */
int clb_bn_parse_retry_after(const char *value, int64_t *ms);

/* Server time until which everything is blocked (0 or past = not blocked). */
static inline int64_t clb_bn_throttle_blocked_until(const struct clb_bn_throttle *t)
{
    return t->blocked_until_ms;
}

/* Units counted for a limit in the window in force at now_ms (for
 * statistics and tests); -1 for an unknown limit. */
int64_t clb_bn_throttle_used(const struct clb_bn_throttle *t, enum clb_bn_limit_type type,
                             int64_t interval_ms, int64_t now_ms);

#endif
