/*
 * binance_fixture.h — shared set-up of the Binance connector tests: a
 * colibri-simex running in-process on its own thread (tests/tools/
 * simex_util.h), a netloop and event bus on the test thread, the connector
 * under test, a record of every order event it published, and the checks
 * that compare the connector with the simulator's own truth (/sim/ routes).
 * Header-only (static functions), included by one test file each.
 */
#ifndef BINANCE_FIXTURE_H
#define BINANCE_FIXTURE_H

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tools/simex_util.h"
#include "binance.h"
#include "error.h"
#include "netloop.h"
#include "order_book.h"
#include "order_tracker.h"

#define BFT_MAX_ORDERS 16384
#define BFT_MAX_FILLS 65536

struct bft_order {
    char cid[CLB_CLIENT_ID_MAX];
    int state;
    bool created, cancelled, failed, completed, lost;
};

struct bft_fill {
    char trade_id[CLB_TRADE_ID_MAX];
    char cid[CLB_CLIENT_ID_MAX];
    clb_dec price, amount, fee;
};

struct bft {
    struct sxt sx;
    struct clb_netloop *loop;
    struct clb_event_bus bus;
    struct clb_binance *b;
    struct clb_connector *c;
    struct bft_order *orders;
    size_t n_orders;
    struct bft_fill *fills;
    size_t n_fills;
    uint64_t book_events, trade_events, balance_events;
    char log[16384];     /* the connector's log lines, "LEVEL message\n", oldest dropped */
    size_t log_len;
    unsigned log_lines[4]; /* lines per enum clb_log_level */
};

/* The connector's log hook: keeps the lines (and echoes them to stderr, as
 * the connector does without a hook). */
static void bft_on_log(void *ud, enum clb_log_level level, const char *msg)
{
    static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    struct bft *f = ud;
    if ((unsigned)level < 4)
        f->log_lines[level]++;
    char line[600];
    int n = snprintf(line, sizeof(line), "%s %s\n", (unsigned)level < 4 ? names[level] : "?", msg);
    if (n <= 0)
        return;
    size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (f->log_len + len >= sizeof(f->log)) {
        f->log_len = 0; /* keep the newest: start over */
    }
    memcpy(f->log + f->log_len, line, len);
    f->log_len += len;
    f->log[f->log_len] = '\0';
    fprintf(stderr, "binance: %s", line);
}

static void bft_sim_config(struct clb_simex_config *cfg, bool live)
{
    sxt_config(cfg);
    cfg->limits.window_ms = 60000;
    cfg->limits.request_weight = 1000000;
    cfg->limits.orders_10s = 100000;
    cfg->limits.ban_after_429 = 1000;
    cfg->faults.timeout_hold_ms = 2500;
    cfg->faults.shutdown_grace_ms = 200;
    for (uint32_t i = 0; i < cfg->n_symbols; i++)
        cfg->symbols[i].live = live;
}

static struct bft_order *bft_order_of(struct bft *f, const char *cid)
{
    for (size_t i = 0; i < f->n_orders; i++)
        if (strcmp(f->orders[i].cid, cid) == 0)
            return &f->orders[i];
    if (f->n_orders == BFT_MAX_ORDERS)
        return NULL;
    struct bft_order *o = &f->orders[f->n_orders++];
    memset(o, 0, sizeof(*o));
    snprintf(o->cid, sizeof(o->cid), "%s", cid);
    return o;
}

static void bft_on_event(void *ud, const struct clb_event *ev)
{
    struct bft *f = ud;
    switch (ev->type) {
    case CLB_EV_BOOK_DIFF:
        f->book_events++;
        return;
    case CLB_EV_TRADE:
        f->trade_events++;
        return;
    case CLB_EV_BALANCE:
        f->balance_events++;
        return;
    default:
        break;
    }
    struct bft_order *o = bft_order_of(f, ev->u.order.client_order_id);
    if (!o)
        return;
    o->state = ev->u.order.state;
    switch (ev->type) {
    case CLB_EV_ORDER_CREATED:
        o->created = true;
        break;
    case CLB_EV_ORDER_CANCELLED:
        o->cancelled = true;
        break;
    case CLB_EV_ORDER_FAILED:
        o->failed = true;
        o->lost = ev->u.order.lost;
        break;
    case CLB_EV_ORDER_COMPLETED:
        o->completed = true;
        break;
    case CLB_EV_ORDER_FILLED:
        if (f->n_fills < BFT_MAX_FILLS) {
            struct bft_fill *x = &f->fills[f->n_fills++];
            snprintf(x->trade_id, sizeof(x->trade_id), "%s", ev->u.order.trade_id);
            snprintf(x->cid, sizeof(x->cid), "%s", ev->u.order.client_order_id);
            x->price = ev->u.order.fill_price;
            x->amount = ev->u.order.fill_amount;
            x->fee = ev->u.order.fill_fee;
        }
        break;
    default:
        break;
    }
}

/* Test defaults: short timeouts and retries so faults resolve in seconds. */
static void bft_conn_config(struct bft *f, struct clb_binance_config *bc, char urls[3][128])
{
    clb_binance_config_default(bc);
    bc->markets[0] = "BTC-USDT";
    bc->n_markets = 1;
    snprintf(urls[0], 128, "http://127.0.0.1:%d", f->sx.port);
    snprintf(urls[1], 128, "ws://127.0.0.1:%d", f->sx.port);
    snprintf(urls[2], 128, "ws://127.0.0.1:%d/ws-api/v3", f->sx.port);
    bc->rest_url = urls[0];
    bc->stream_url = urls[1];
    bc->ws_api_url = urls[2];
    bc->api_key = SXT_ALICE;
    bc->api_secret = SXT_ALICE_SECRET;
    bc->client_id_prefix = "t-";
    bc->recv_window_ms = 2000;
    bc->request_timeout_ms = 1500;
    bc->poll_fast_ms = 500;
    bc->poll_slow_ms = 5000;
    bc->snapshot_poll_ms = 500;
    bc->status_retry_ms = 300;
    bc->cancel_retry_ms = 300;
    bc->log = bft_on_log;
    bc->log_ud = f;
}

static void bft_start_sim(struct bft *f, const struct clb_simex_config *cfg)
{
    memset(f, 0, sizeof(*f));
    f->orders = calloc(BFT_MAX_ORDERS, sizeof(*f->orders));
    f->fills = calloc(BFT_MAX_FILLS, sizeof(*f->fills));
    cr_assert(f->orders && f->fills);
    sxt_start(&f->sx, cfg);
    cr_assert_eq(clb_netloop_create(NULL, &f->loop), CLB_OK);
    clb_event_bus_init(&f->bus);
    cr_assert_geq(clb_event_subscribe(&f->bus, CLB_EV_MASK_ALL, bft_on_event, f), 0);
}

static void bft_start_conn(struct bft *f, const struct clb_binance_config *bc)
{
    char err[256];
    int rc = clb_binance_create(f->loop, bc, &f->bus, &f->b, err, sizeof(err));
    cr_assert_eq(rc, CLB_OK, "clb_binance_create: %s (%s)", clb_strerror(rc), err);
    f->c = clb_binance_connector(f->b);
}

static void bft_pump(struct bft *f, int ms)
{
    int64_t end = clb_netloop_mono_ns() + (int64_t)ms * 1000000;
    while (clb_netloop_mono_ns() < end)
        clb_netloop_poll(f->loop, NULL, 0, 10);
}

/* Pumps until cond(f, arg) or timeout; returns cond's last value. */
static bool bft_wait(struct bft *f, int timeout_ms, bool (*cond)(struct bft *, void *), void *arg)
{
    int64_t end = clb_netloop_mono_ns() + (int64_t)timeout_ms * 1000000;
    while (!cond(f, arg)) {
        if (clb_netloop_mono_ns() >= end)
            return cond(f, arg);
        clb_netloop_poll(f->loop, NULL, 0, 10);
    }
    return true;
}

static bool bft_is_ready(struct bft *f, void *arg)
{
    (void)arg;
    return clb_connector_ready(f->c);
}

static bool bft_is_idle(struct bft *f, void *arg)
{
    (void)arg;
    return clb_binance_idle(f->b);
}

static void bft_stop(struct bft *f)
{
    clb_binance_destroy(f->b);
    clb_netloop_destroy(f->loop);
    sxt_stop(&f->sx);
    free(f->orders);
    free(f->fills);
}

static void bft_faults(struct bft *f, const char *json)
{
    sxt_sim_post(&f->sx, "/sim/faults", json);
}

static void bft_faults_off(struct bft *f)
{
    bft_faults(f, "{\"latency_ms\":0,\"jitter_ms\":0,\"http_5xx_rate\":0,"
                  "\"http_5xx_commit_rate\":0,\"timeout_after_commit_rate\":0,"
                  "\"cancel_unknown_ms\":0,\"stale_read_ms\":0,\"ws_disconnect_every_ms\":0,"
                  "\"depth_drop_rate\":0,\"shutdown_every_ms\":0,\"clock_skew_ms\":0}");
}

/* GET on a /sim/ route, parsed (caller decrefs). */
static json_t *bft_sim_get(struct bft *f, const char *path_query)
{
    struct sxt_http r;
    sxt_http(&f->sx, "GET", path_query, NULL, NULL, 5000, &r);
    cr_assert_eq(r.status, 200, "GET %s -> %ld", path_query, r.status);
    json_t *j = json_incref(r.json);
    sxt_http_free(&r);
    return j;
}

static int bft_dec_cmp_str(clb_dec d, const char *s)
{
    clb_dec x;
    cr_assert_eq(clb_dec_parse_cstr(s, &x), CLB_OK, "decimal %s", s);
    return clb_dec_cmp(d, x);
}

/* Balances of alice on the simulator vs the connector. Returns mismatches. */
static int bft_check_balances(struct bft *f, const char *const *assets, size_t n)
{
    json_t *acc = bft_sim_get(f, "/sim/accounts");
    json_t *arr = json_object_get(acc, "accounts"), *a, *bal = NULL;
    size_t i;
    json_array_foreach(arr, i, a)
        if (strcmp(json_string_value(json_object_get(a, "api_key")), SXT_ALICE) == 0)
            bal = json_object_get(a, "balances");
    cr_assert(bal);
    int bad = 0;
    for (size_t k = 0; k < n; k++) {
        json_t *e;
        size_t j;
        json_array_foreach(bal, j, e) {
            if (strcmp(json_string_value(json_object_get(e, "asset")), assets[k]) != 0)
                continue;
            clb_dec tot, avail;
            f->c->ops->balance(f->c, assets[k], &tot, &avail);
            const char *st = json_string_value(json_object_get(e, "total"));
            const char *sf = json_string_value(json_object_get(e, "free"));
            if (bft_dec_cmp_str(tot, st) != 0 || bft_dec_cmp_str(avail, sf) != 0) {
                char t1[CLB_DEC_STRLEN], t2[CLB_DEC_STRLEN];
                clb_dec_format(tot, t1, sizeof(t1));
                clb_dec_format(avail, t2, sizeof(t2));
                cr_log_error("balance %s: connector total %s free %s, simulator total %s free %s",
                             assets[k], t1, t2, st, sf);
                bad++;
            }
        }
    }
    json_decref(acc);
    return bad;
}

static bool bft_live_sim_status(const char *st)
{
    return strcmp(st, "NEW") == 0 || strcmp(st, "PARTIALLY_FILLED") == 0;
}

/* The reconciliation the issue asks for; returns the number of violations
 * (each logged):
 *  - every order the simulator holds for the account is known (an order
 *    event was published for it), and every live one is live in the tracker;
 *  - every order the tracker has live is live on the simulator;
 *  - every simulator trade appears exactly once in the published fills,
 *    on the right order, and there are no other fills. */
static int bft_check_orders_and_fills(struct bft *f)
{
    int bad = 0;
    json_t *so = bft_sim_get(f, "/sim/orders?account=" SXT_ALICE);
    json_t *orders = json_object_get(so, "orders"), *o;
    size_t i;
    size_t sim_live = 0;
    json_array_foreach(orders, i, o) {
        const char *cid = json_string_value(json_object_get(o, "clientOrderId"));
        const char *st = json_string_value(json_object_get(o, "status"));
        bool known = false;
        for (size_t k = 0; k < f->n_orders; k++)
            known = known || strcmp(f->orders[k].cid, cid) == 0;
        if (!known) {
            cr_log_error("simulator order %s (%s) unknown to the connector", cid, st);
            bad++;
        }
        if (!bft_live_sim_status(st))
            continue;
        sim_live++;
        const struct clb_tracked_order *t = clb_tracker_get(f->c->ops->tracker(f->c), cid);
        if (!t || clb_order_state_is_terminal(t->state)) {
            cr_log_error("simulator order %s is %s, connector: %s", cid, st,
                         t ? clb_order_state_name(t->state) : "not tracked");
            bad++;
        }
    }
    const struct clb_order_tracker *tr = f->c->ops->tracker(f->c);
    for (const struct clb_tracked_order *t = clb_tracker_first(tr); t;
         t = clb_tracker_next(tr, t)) {
        if (clb_order_state_is_terminal(t->state))
            continue;
        bool open = false;
        json_array_foreach(orders, i, o)
            if (strcmp(json_string_value(json_object_get(o, "clientOrderId")),
                       t->client_order_id) == 0)
                open = bft_live_sim_status(json_string_value(json_object_get(o, "status")));
        if (!open) {
            cr_log_error("connector order %s is %s but not open on the simulator",
                         t->client_order_id, clb_order_state_name(t->state));
            bad++;
        }
    }
    /* order id -> client id, for trades */
    json_t *st = bft_sim_get(f, "/sim/trades?account=" SXT_ALICE);
    json_t *trades = json_object_get(st, "trades"), *t;
    size_t n_trades = json_array_size(trades);
    json_array_foreach(trades, i, t) {
        char tid[32];
        const char *cid = sxt_trade_ids(t, orders, tid);
        size_t seen = 0;
        const struct bft_fill *hit = NULL;
        for (size_t m = 0; m < f->n_fills; m++)
            if (strcmp(f->fills[m].trade_id, tid) == 0) {
                seen++;
                hit = &f->fills[m];
            }
        if (seen != 1) {
            cr_log_error("simulator trade %s (order %s) seen %zu times", tid, cid ? cid : "?",
                         seen);
            bad++;
            continue;
        }
        if (!cid || strcmp(hit->cid, cid) != 0 ||
            bft_dec_cmp_str(hit->amount, json_string_value(json_object_get(t, "qty"))) != 0 ||
            bft_dec_cmp_str(hit->price, json_string_value(json_object_get(t, "price"))) != 0 ||
            bft_dec_cmp_str(hit->fee, json_string_value(json_object_get(t, "commission"))) != 0) {
            cr_log_error("trade %s differs (order %s vs %s)", tid, hit->cid, cid ? cid : "?");
            bad++;
        }
    }
    if (f->n_fills != n_trades) {
        cr_log_error("connector published %zu fills, simulator has %zu trades", f->n_fills,
                     n_trades);
        bad++;
    }
    cr_log_info("reconciliation: %zu simulator orders (%zu live), %zu trades, %zu fills, "
                "%d violations",
                json_array_size(orders), sim_live, n_trades, f->n_fills, bad);
    json_decref(st);
    json_decref(so);
    return bad;
}

/* Waits until the connector is idle after a fresh reconciliation (open
 * orders and account polled after this call). */
static bool bft_settle(struct bft *f, int timeout_ms)
{
    struct clb_binance_stats s0, s;
    if (!bft_wait(f, timeout_ms, bft_is_idle, NULL))
        return false;
    clb_binance_stats(f->b, &s0);
    clb_binance_reconcile_now(f->b);
    int64_t end = clb_netloop_mono_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        clb_netloop_poll(f->loop, NULL, 0, 10);
        clb_binance_stats(f->b, &s);
        if (s.open_orders_polls > s0.open_orders_polls && s.account_polls > s0.account_polls &&
            clb_binance_idle(f->b))
            break;
        if (clb_netloop_mono_ns() > end)
            return false;
    }
    bft_pump(f, 300);
    return bft_wait(f, timeout_ms, bft_is_idle, NULL);
}

#endif
