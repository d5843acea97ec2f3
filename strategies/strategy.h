/*
 * strategy.h — the strategy interface.
 *
 * A strategy embeds struct clb_strategy as its FIRST member and provides a
 * const struct clb_strategy_ops (its type name, its parameter table and its
 * hooks). The base is a clock time iterator: the clock ticks strategies after
 * the connectors they read. A strategy sees the market only through its
 * connector (books, rules, balances, its own in-flight orders) and core
 * (indicators, decimals); it holds no I/O, so the same code runs live, on
 * paper and in the backtester.
 *
 * Lifecycle: ops->create(config) -> clb_strategy_attach(connector, market)
 * -> clb_clock_add (start hook) -> ticks and events -> clb_clock_remove (stop
 * hook: cancels its orders) -> clb_strategy_detach -> ops->destroy.
 * Two-venue strategies (amm_arb) get their second connector with
 * clb_strategy_attach_secondary right after clb_strategy_attach.
 */
#ifndef CLB_STRATEGY_H
#define CLB_STRATEGY_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "connector.h"
#include "event.h"
#include "param.h"

struct clb_strategy;

/* One named figure a strategy exposes (status, debug console, reports). */
struct clb_strategy_metric {
    const char *name;
    double value;
};

struct clb_strategy_ops {
    const char *type;    /* "pure_market_making" */
    const char *summary; /* one line */
    const struct clb_param_spec *params;
    size_t n_params;
    size_t config_size;  /* the config struct the params describe */

    /* Allocates an instance holding a copy of a validated config.
     * CLB_ENOMEM, CLB_EINVAL (inconsistent values across parameters, with
     * the reason in err). */
    int (*create)(const void *config, struct clb_strategy **out, char *err, size_t errlen);
    int (*on_start)(struct clb_strategy *s, int64_t now_ns);
    int (*on_tick)(struct clb_strategy *s, int64_t now_ns);
    void (*on_event)(struct clb_strategy *s, const struct clb_event *ev); /* may be NULL */
    void (*on_stop)(struct clb_strategy *s, int64_t now_ns);  /* cancels its orders */
    /* Replaces the config while running (validated first; CLB_EINVAL with a
     * reason leaves the old one). May be NULL: then params are fixed. */
    int (*update_config)(struct clb_strategy *s, const void *config, char *err, size_t errlen);
    /* Current indicator values and figures; returns the count written. */
    size_t (*metrics)(const struct clb_strategy *s, struct clb_strategy_metric *out, size_t n);
    const void *(*config)(const struct clb_strategy *s);
    void (*destroy)(struct clb_strategy *s);
    /* Optional (NULL for single-market strategies): binds a SECOND
     * connector and market, for strategies that trade two venues
     * (amm_arb: market_1 is the primary attach, market_2 this one). Called
     * through clb_strategy_attach_secondary after clb_strategy_attach and
     * before the strategy is added to the clock; the strategy subscribes
     * to that connector's bus itself and unsubscribes in destroy. Errors
     * as clb_strategy_attach, plus CLB_EINVAL for a connector of the wrong
     * type. */
    int (*attach_secondary)(struct clb_strategy *s, struct clb_connector *conn,
                            const char *market);
};

struct clb_strategy {
    struct clb_time_iterator it; /* must stay first */
    const struct clb_strategy_ops *ops;
    uint32_t id;                 /* owner tag on its orders */
    char name[64];
    struct clb_connector *conn;  /* not owned */
    char market[CLB_SYMBOL_MAX];
    int bus_handle;              /* its subscription on conn->bus, -1 if none */
};

/* Sets up the base of a freshly created strategy (called by create). */
void clb_strategy_base_init(struct clb_strategy *s, const struct clb_strategy_ops *ops);

/* Binds a strategy to a connector and market, subscribes its on_event to the
 * connector's bus. CLB_ENOTFOUND if the connector has no such market,
 * CLB_EFULL if the bus is full. */
int clb_strategy_attach(struct clb_strategy *s, struct clb_connector *conn, const char *market,
                        uint32_t id, const char *name);

/* Unsubscribes from the connector's bus. */
void clb_strategy_detach(struct clb_strategy *s);

/* Binds the second connector and market of a two-venue strategy
 * (ops->attach_secondary). CLB_EUNSUPPORTED when the strategy trades one
 * market only; CLB_ESTATE before clb_strategy_attach. */
int clb_strategy_attach_secondary(struct clb_strategy *s, struct clb_connector *conn,
                                  const char *market);

/* The strategy type registry: every built-in strategy, by type name. */
const struct clb_strategy_ops *clb_strategy_find(const char *type);
size_t clb_strategy_types(const struct clb_strategy_ops *const **out);

#endif
