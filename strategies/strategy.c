/*
 * strategy.c — the strategy base: set-up, binding to a connector and market,
 * and the glue between the clock, the event bus and a strategy's hooks.
 *
 * Every strategy shares one clb_time_iterator_ops whose start/tick/stop cast
 * the iterator back to the strategy (the base is its first member) and call
 * ops->on_start / on_tick / on_stop. A strategy that is not attached to a
 * connector refuses to start (CLB_ESTATE): it would have nothing to trade
 * through.
 *
 * attach() subscribes one trampoline to the connector's bus. It forwards to
 * ops->on_event only what concerns the strategy's market: order events, book
 * diffs and trades whose market is the strategy's, and balance events of
 * the market's base or quote asset. Order events of other strategies on the
 * same market are forwarded too (events carry no owner); a strategy matches
 * them against its own list of client order ids.
 */
#include "strategy.h"

#include <string.h>

#include "error.h"
#include "market.h"

static struct clb_strategy *from_it(struct clb_time_iterator *it)
{
    return (struct clb_strategy *)(void *)it;
}

static int it_start(struct clb_time_iterator *it, int64_t now_ns)
{
    struct clb_strategy *s = from_it(it);
    if (!s->conn)
        return CLB_ESTATE;
    return s->ops->on_start ? s->ops->on_start(s, now_ns) : CLB_OK;
}

static int it_tick(struct clb_time_iterator *it, int64_t now_ns)
{
    struct clb_strategy *s = from_it(it);
    if (!s->conn)
        return CLB_ESTATE;
    return s->ops->on_tick ? s->ops->on_tick(s, now_ns) : CLB_OK;
}

static void it_stop(struct clb_time_iterator *it, int64_t now_ns)
{
    struct clb_strategy *s = from_it(it);
    if (s->ops->on_stop)
        s->ops->on_stop(s, now_ns);
}

static const struct clb_time_iterator_ops strategy_iterator_ops = {
    .name = "strategy",
    .start = it_start,
    .tick = it_tick,
    .stop = it_stop,
};

void clb_strategy_base_init(struct clb_strategy *s, const struct clb_strategy_ops *ops)
{
    memset(s, 0, sizeof(*s));
    clb_time_iterator_init(&s->it, &strategy_iterator_ops);
    s->ops = ops;
    s->bus_handle = -1;
    if (ops && ops->type) {
        size_t len = strlen(ops->type);
        if (len >= sizeof(s->name))
            len = sizeof(s->name) - 1;
        memcpy(s->name, ops->type, len);
        s->name[len] = '\0';
    }
}

static bool same_str(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* Does this event concern the strategy's market? */
static bool relevant(const struct clb_strategy *s, const struct clb_event *ev)
{
    switch (ev->type) {
    case CLB_EV_ORDER_CREATED:
    case CLB_EV_ORDER_FILLED:
    case CLB_EV_ORDER_CANCELLED:
    case CLB_EV_ORDER_FAILED:
    case CLB_EV_ORDER_COMPLETED:
    case CLB_EV_ORDER_STATE:
        return same_str(ev->u.order.market, s->market);
    case CLB_EV_BOOK_DIFF:
        return same_str(ev->u.book.market, s->market);
    case CLB_EV_TRADE:
        return same_str(ev->u.trade.market, s->market);
    case CLB_EV_BALANCE: {
        if (!s->conn || !ev->u.balance.asset)
            return false;
        const struct clb_market_rules *r = s->conn->ops->rules(s->conn, s->market);
        return r && (same_str(ev->u.balance.asset, r->base) ||
                     same_str(ev->u.balance.asset, r->quote));
    }
    default:
        return false;
    }
}

static void trampoline(void *ud, const struct clb_event *ev)
{
    struct clb_strategy *s = ud;
    if (s->ops->on_event && relevant(s, ev))
        s->ops->on_event(s, ev);
}

int clb_strategy_attach(struct clb_strategy *s, struct clb_connector *conn, const char *market,
                        uint32_t id, const char *name)
{
    if (!s || !s->ops || !conn || !conn->ops || !market)
        return CLB_EINVAL;
    if (s->conn)
        return CLB_ESTATE;
    size_t mlen = strlen(market);
    if (mlen == 0 || mlen >= CLB_SYMBOL_MAX)
        return CLB_ENOTFOUND;
    if (!conn->ops->rules || !conn->ops->rules(conn, market))
        return CLB_ENOTFOUND;

    int handle = -1;
    if (conn->bus && s->ops->on_event) {
        handle = clb_event_subscribe(conn->bus, CLB_EV_MASK_ALL, trampoline, s);
        if (handle < 0)
            return handle;
    }
    s->conn = conn;
    memcpy(s->market, market, mlen + 1);
    s->id = id;
    s->bus_handle = handle;
    if (name && name[0]) {
        size_t len = strlen(name);
        if (len >= sizeof(s->name))
            len = sizeof(s->name) - 1;
        memcpy(s->name, name, len);
        s->name[len] = '\0';
    }
    return CLB_OK;
}

void clb_strategy_detach(struct clb_strategy *s)
{
    if (!s || !s->conn)
        return;
    if (s->bus_handle >= 0 && s->conn->bus)
        clb_event_unsubscribe(s->conn->bus, s->bus_handle);
    s->bus_handle = -1;
    s->conn = NULL;
}

int clb_strategy_attach_secondary(struct clb_strategy *s, struct clb_connector *conn,
                                  const char *market)
{
    if (!s || !s->ops || !conn || !conn->ops || !market)
        return CLB_EINVAL;
    if (!s->ops->attach_secondary)
        return CLB_EUNSUPPORTED;
    if (!s->conn)
        return CLB_ESTATE;
    return s->ops->attach_secondary(s, conn, market);
}
