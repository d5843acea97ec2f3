/*
 * Tests of server/engine.c: the worker thread with the paper connector on
 * the live simulated market, driven only through the public doors
 * (clb_engine_call, snapshots, the event feed), as the HTTP and WebSocket
 * layers do. Times are real: the market moves at wall-clock speed, so the
 * strategy tests use tight spreads and short refresh times to fill within
 * seconds. The binance tests check the connector configuration and its API
 * keys (environment, secrets file) and, when colibri-simex is linked in, run
 * the engine against the simulator in-process: ready, a manual order
 * created and cancelled, a market maker quoting, metrics.
 *
 * _GNU_SOURCE: sched_getaffinity, for a CPU this process may pin its worker to.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <sched.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "error.h"
#include "log.h"
#include "metrics.h"
#include "order_tracker.h"
#include "secrets.h"

#include "harness.h"

/* The end-to-end test of the binance connector needs colibri-simex linked
 * in (tests/CMakeLists.txt: LIBS colibri_server colibri_simex). */
#if defined(__has_include)
#if __has_include("simex.h")
#define HAVE_SIMEX 1
#include <pthread.h>

#include "simex.h"
#endif
#endif

static struct clb_log *g_log;
static struct clb_engine *g_e;

static struct clb_engine *start_engine(int64_t tick_ms, size_t feed, const char *connectors,
                                       const char *balances)
{
    cr_assert_eq(clb_log_create(NULL, CLB_LOG_INFO, &g_log), CLB_OK);
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.tick_ms = tick_ms;
    cfg.seed = 7;
    cfg.log = g_log;
    if (feed)
        cfg.event_feed_capacity = feed;
    json_t *c = connectors ? json_loads(connectors, 0, NULL) : NULL;
    json_t *b = balances ? json_loads(balances, 0, NULL) : NULL;
    cfg.connectors = c;
    cfg.balances = b;
    char err[256] = "";
    int rc = clb_engine_create(&cfg, &g_e, err, sizeof(err));
    json_decref(c);
    json_decref(b);
    cr_assert_eq(rc, CLB_OK, "create: %s", err);
    return g_e;
}

static void stop_engine(void)
{
    if (g_e) {
        clb_engine_shutdown(g_e, 3000);
        clb_engine_destroy(g_e);
        g_e = NULL;
    }
    clb_log_destroy(g_log);
    g_log = NULL;
}

/* Calls method with params given as JSON text. */
static int call(const char *method, const char *params, json_t **res, char *err, size_t errlen)
{
    json_error_t je;
    json_t *p = params ? json_loads(params, JSON_DECODE_ANY, &je) : NULL;
    cr_assert(params == NULL || p != NULL, "bad test JSON %s: %s", params, je.text);
    json_t *r = NULL;
    int rc = clb_engine_call(g_e, method, p, &r, err, errlen, 5000);
    json_decref(p);
    if (res)
        *res = r;
    else
        json_decref(r);
    return rc;
}

static json_t *call_ok(const char *method, const char *params)
{
    char err[256] = "";
    json_t *r = NULL;
    int rc = call(method, params, &r, err, sizeof(err));
    cr_assert_eq(rc, CLB_OK, "%s %s: %s (%s)", method, params, clb_err_name(rc), err);
    cr_assert_not_null(r);
    return r;
}

static json_t *snap(const char *name)
{
    json_t *s = clb_engine_snapshot(g_e, name);
    cr_assert_not_null(s, "no snapshot %s", name);
    return s;
}

/* Orders of a strategy (id 0 = manual) in the "orders" snapshot: counts of
 * live ones and of all. */
static void count_orders(json_int_t strategy, int *live, int *all)
{
    json_t *o = snap("orders");
    size_t i;
    json_t *x;
    *live = *all = 0;
    json_array_foreach(o, i, x) {
        json_t *s = json_object_get(x, "strategy");
        json_int_t id = json_is_integer(s) ? json_integer_value(s) : 0;
        if (id != strategy)
            continue;
        (*all)++;
        const char *st = json_string_value(json_object_get(x, "state"));
        if (strcmp(st, "canceled") != 0 && strcmp(st, "filled") != 0 && strcmp(st, "failed") != 0)
            (*live)++;
    }
    json_decref(o);
}

static double metric_sum(const char *kind, const char *name, const char *label,
                         const char *value)
{
    json_t *m = snap("metrics");
    double sum = 0;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(m, kind), i, x) {
        if (strcmp(json_string_value(json_object_get(x, "name")), name) != 0)
            continue;
        if (label) {
            const char *v = json_string_value(json_object_get(json_object_get(x, "labels"), label));
            if (!v || strcmp(v, value) != 0)
                continue;
        }
        sum += json_number_value(json_object_get(x, "value"));
    }
    json_decref(m);
    return sum;
}

TestSuite(engine, .timeout = 90);

Test(engine, books_ready_and_snapshots)
{
    start_engine(1000, 0, NULL, NULL);
    double t0 = now_s();
    bool ready = false;
    while (!ready && now_s() - t0 < 5) {
        json_t *st = clb_engine_snapshot(g_e, "status");
        json_t *c0 = json_array_get(json_object_get(st, "connectors"), 0);
        ready = json_is_true(json_object_get(c0, "ready"));
        json_decref(st);
        if (!ready)
            sleep_ms(20);
    }
    cr_assert(ready, "paper connector not ready after 5 s");
    struct {
        const char *topic;
        double lo, hi;
    } books[] = { { "book:paper:BTC-USDT", 55000, 65000 }, { "book:paper:ETH-USDT", 2700, 3300 } };
    for (size_t k = 0; k < 2; k++) {
        json_t *b = snap(books[k].topic);
        json_t *bids = json_object_get(b, "bids"), *asks = json_object_get(b, "asks");
        cr_assert_eq(json_array_size(bids), 20);
        cr_assert_eq(json_array_size(asks), 20);
        double bb = atof(json_string_value(json_array_get(json_array_get(bids, 0), 0)));
        double ba = atof(json_string_value(json_array_get(json_array_get(asks, 0), 0)));
        double b2 = atof(json_string_value(json_array_get(json_array_get(bids, 1), 0)));
        cr_assert(bb < ba && b2 < bb, "%s: %f %f %f", books[k].topic, b2, bb, ba);
        cr_assert(bb > books[k].lo && ba < books[k].hi, "%s mid %f", books[k].topic, bb);
        json_decref(b);
    }
    /* Default balances. */
    json_t *bal = snap("balances");
    size_t i;
    json_t *x;
    int seen = 0;
    json_array_foreach(bal, i, x) {
        const char *a = json_string_value(json_object_get(x, "asset"));
        const char *t = json_string_value(json_object_get(x, "total"));
        if (strcmp(a, "BTC") == 0)
            seen += atof(t) == 10.0;
        if (strcmp(a, "ETH") == 0)
            seen += atof(t) == 100.0;
        if (strcmp(a, "USDT") == 0)
            seen += atof(t) == 1000000.0;
    }
    json_decref(bal);
    cr_assert_eq(seen, 3);
    /* Every named snapshot exists; metrics carry the required families. */
    const char *names[] = { "status", "connectors", "balances", "strategies", "orders", "trades",
                            "performance", "metrics" };
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++)
        json_decref(snap(names[k]));
    cr_assert_null(clb_engine_snapshot(g_e, "nope"));
    cr_assert_eq(metric_sum("gauges", "colibri_build_info", "version", COLIBRI_VERSION), 1.0);
    cr_assert_eq(metric_sum("gauges", "colibri_balance", "asset", "BTC"), 10.0);
    cr_assert_eq(metric_sum("counters", "colibri_reconnects_total", NULL, NULL), 0.0);
    json_t *m = snap("metrics");
    json_t *h = json_array_get(json_object_get(m, "histograms"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(h, "name")),
                     "colibri_tick_duration_seconds");
    cr_assert(json_array_size(json_object_get(h, "buckets")) > 5);
    json_decref(m);
    /* The books move. */
    json_t *b1 = snap("book:paper:BTC-USDT");
    json_int_t id1 = json_integer_value(json_object_get(b1, "update_id")), id2 = id1;
    for (double tb = now_s(); id2 <= id1 && now_s() - tb < 5;) {
        sleep_ms(100);
        json_t *b2 = snap("book:paper:BTC-USDT");
        id2 = json_integer_value(json_object_get(b2, "update_id"));
        json_decref(b2);
    }
    cr_assert_gt(id2, id1, "the book did not move in 5 s");
    json_decref(b1);
    stop_engine();
}

/* Creates pure market making on BTC-USDT with tight quotes. */
static json_int_t create_pmm(bool start, const char *extra)
{
    char p[512];
    snprintf(p, sizeof(p),
             "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"name\": \"mm\","
             " \"start\": %s, \"params\": {\"bid_spread\": 0.01, \"ask_spread\": 0.01,"
             " \"order_amount\": 0.01, \"order_refresh_time\": 2, \"filled_order_delay\": 1%s}}",
             start ? "true" : "false", extra ? extra : "");
    json_t *r = call_ok("strategy.create", p);
    json_int_t id = json_integer_value(json_object_get(r, "id"));
    cr_assert(id > 0);
    cr_assert_str_eq(json_string_value(json_object_get(r, "state")),
                     start ? "running" : "created");
    json_decref(r);
    return id;
}

/* The worker's loop passes per second, from two status snapshots. */
static double loop_pass_rate(void)
{
    sleep_ms(200);
    json_t *a = snap("status");
    json_int_t p0 = json_integer_value(json_object_get(json_object_get(a, "worker"), "loop_passes"));
    json_decref(a);
    sleep_ms(600);
    json_t *b = snap("status");
    json_int_t p1 = json_integer_value(json_object_get(json_object_get(b, "worker"), "loop_passes"));
    json_decref(b);
    cr_assert_gt(p1, p0, "the status is not republished");
    return (double)(p1 - p0) / 0.6;
}

static int start_worker_engine(bool busy_poll, int cpu, char *err, size_t errlen)
{
    cr_assert_eq(clb_log_create(NULL, CLB_LOG_WARN, &g_log), CLB_OK);
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.tick_ms = 50;
    cfg.log = g_log;
    cfg.busy_poll = busy_poll;
    cfg.worker_cpu = cpu;
    int rc = clb_engine_create(&cfg, &g_e, err, errlen);
    if (rc != CLB_OK) {
        clb_log_destroy(g_log);
        g_log = NULL;
    }
    return rc;
}

/* The first CPU this process may run on (0 when the mask cannot be read). */
static int first_allowed_cpu(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set))
                return c;
    return 0;
}

/* busy_poll: the worker turns its loop without sleeping (many times more
 * passes than when it sleeps until something is due) and still serves
 * commands; worker_cpu pins it, and a CPU the process may not use is
 * refused at create with the reason. */
Test(engine, busy_poll_worker_never_sleeps_and_worker_cpu_pins)
{
    char err[256] = "";
    cr_assert_eq(start_worker_engine(false, -1, err, sizeof(err)), CLB_OK, "%s", err);
    double sleeping = loop_pass_rate();
    json_t *st = snap("status");
    cr_assert(json_is_false(json_object_get(json_object_get(st, "worker"), "busy_poll")));
    json_decref(st);
    stop_engine();

    int cpu = first_allowed_cpu();
    cr_assert_eq(start_worker_engine(true, cpu, err, sizeof(err)), CLB_OK, "%s", err);
    double busy = loop_pass_rate();
    cr_log_info("worker loop passes: %.0f/s sleeping, %.0f/s busy", sleeping, busy);
    cr_assert_gt(busy, 10 * sleeping, "busy %.0f passes/s, sleeping %.0f", busy, sleeping);
    st = snap("status");
    json_t *w = json_object_get(st, "worker");
    cr_assert(json_is_true(json_object_get(w, "busy_poll")));
    cr_assert_eq(json_integer_value(json_object_get(w, "cpu")), cpu);
    json_decref(st);
    json_t *r = call_ok("order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", "
                        "\"type\": \"limit\", \"price\": \"1000\", \"amount\": \"0.01\"}");
    cr_assert_not_null(json_object_get(r, "client_order_id"));
    json_decref(r);
    stop_engine();

    err[0] = '\0';
    cr_assert_eq(start_worker_engine(true, 1023, err, sizeof(err)), CLB_EINVAL);
    cr_assert_null(g_e);
    cr_assert(strstr(err, "worker_cpu: CPU 1023 is not one this process may run on (it may run on ") != NULL,
              "%s", err);
}

Test(engine, pmm_places_fills_and_stop_cancels)
{
    start_engine(500, 0, NULL, NULL);
    json_int_t id = create_pmm(true, NULL);
    double t0 = now_s();
    int live = 0, all = 0;
    while (live == 0 && now_s() - t0 < 5) {
        sleep_ms(50);
        count_orders(id, &live, &all);
    }
    cr_assert(live >= 2, "no quotes after 5 s (live %d)", live);

    /* Fills within ~20 s of live time. */
    bool filled = false;
    while (!filled && now_s() - t0 < 25) {
        json_t *tr = snap("trades");
        size_t i;
        json_t *x;
        json_array_foreach(tr, i, x) {
            json_t *s = json_object_get(x, "strategy");
            if (json_is_integer(s) && json_integer_value(s) == id)
                filled = true;
        }
        json_decref(tr);
        if (!filled)
            sleep_ms(100);
    }
    cr_assert(filled, "no fill within 25 s");
    sleep_ms(300);
    json_t *perf = snap("performance");
    char key[16];
    snprintf(key, sizeof(key), "%lld", (long long)id);
    json_t *pe = json_object_get(perf, key);
    cr_assert_not_null(pe);
    cr_assert(json_integer_value(json_object_get(pe, "fills")) >= 1);
    cr_assert(json_is_number(json_object_get(pe, "total_pnl")));
    cr_assert(json_number_value(json_object_get(pe, "inventory_base")) != 0.0);
    json_decref(perf);
    cr_assert(metric_sum("counters", "colibri_fills_total", "market", "BTC-USDT") >= 1);
    cr_assert(metric_sum("counters", "colibri_orders_placed_total", "side", "buy") >= 1);
    cr_assert_eq(metric_sum("gauges", "colibri_strategy_running", "strategy", "mm"), 1.0);

    /* Stop: its orders get cancelled; a second stop is refused. */
    char p[64];
    snprintf(p, sizeof(p), "{\"id\": %lld}", (long long)id);
    json_decref(call_ok("strategy.stop", p));
    char err[256];
    cr_assert_eq(call("strategy.stop", p, NULL, err, sizeof(err)), CLB_ESTATE);
    t0 = now_s();
    do {
        sleep_ms(50);
        count_orders(id, &live, &all);
    } while (live > 0 && now_s() - t0 < 3);
    cr_assert_eq(live, 0, "strategy orders still live after stop");
    /* the metrics snapshot is republished on the next tick */
    t0 = now_s();
    while (metric_sum("counters", "colibri_orders_cancelled_total", "market", "BTC-USDT") < 1 &&
           now_s() - t0 < 3)
        sleep_ms(50);
    cr_assert(metric_sum("counters", "colibri_orders_cancelled_total", "market", "BTC-USDT") >= 1);
    cr_assert_eq(metric_sum("gauges", "colibri_strategy_running", "strategy", "mm"), 0.0);
    stop_engine();
}

Test(engine, lifecycle_update_indicators_delete)
{
    start_engine(200, 0, NULL, NULL);
    json_int_t id = create_pmm(false, NULL);
    char p[256];
    snprintf(p, sizeof(p), "{\"id\": \"%lld\", \"params\": {\"bid_spread\": 0.5, "
             "\"order_levels\": 2, \"price_type\": \"best_bid\", \"ping_pong_enabled\": true}}",
             (long long)id);
    json_t *r = call_ok("strategy.update", p);
    json_t *params = json_object_get(r, "params");
    cr_assert_float_eq(json_number_value(json_object_get(params, "bid_spread")), 0.5, 1e-12);
    cr_assert_eq(json_integer_value(json_object_get(params, "order_levels")), 2);
    cr_assert_str_eq(json_string_value(json_object_get(params, "price_type")), "best_bid");
    cr_assert(json_is_true(json_object_get(params, "ping_pong_enabled")));
    cr_assert_float_eq(json_number_value(json_object_get(params, "ask_spread")), 0.01, 1e-12);
    json_decref(r);
    snprintf(p, sizeof(p), "{\"id\": %lld}", (long long)id);
    r = call_ok("strategy.start", p);
    cr_assert_str_eq(json_string_value(json_object_get(r, "state")), "running");
    json_decref(r);
    r = NULL;
    for (double ti = now_s(); now_s() - ti < 5;) {
        sleep_ms(100);
        json_decref(r);
        r = call_ok("indicators", p);
        if (json_is_number(json_object_get(r, "ref_price")))
            break;
    }
    cr_assert(json_is_object(r));
    cr_assert(json_is_number(json_object_get(r, "ref_price")), "ref_price not a number");
    json_decref(r);
    json_t *s = snap("strategies");
    cr_assert_eq(json_array_size(s), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(s, 0), "state")),
                     "running");
    json_decref(s);
    r = call_ok("strategy.delete", p);
    cr_assert(json_is_true(json_object_get(r, "deleted")));
    json_decref(r);
    s = snap("strategies");
    cr_assert_eq(json_array_size(s), 0);
    json_decref(s);
    char err[256];
    cr_assert_eq(call("strategy.start", p, NULL, err, sizeof(err)), CLB_ENOTFOUND);
    /* ids are not reused */
    json_int_t id2 = create_pmm(false, NULL);
    cr_assert_eq(id2, id + 1);
    json_decref(call_ok("log.level", "{\"level\": \"debug\"}"));
    cr_assert_eq(clb_log_get_level(clb_engine_log(g_e)), CLB_LOG_DEBUG);
    stop_engine();
}

Test(engine, manual_orders)
{
    start_engine(1000, 0, NULL, NULL);
    sleep_ms(100);
    json_t *r = call_ok("order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", "
                                        "\"type\": \"limit\", \"price\": \"1000\", "
                                        "\"amount\": \"0.01\"}");
    char cid[64];
    snprintf(cid, sizeof(cid), "%s", json_string_value(json_object_get(r, "client_order_id")));
    cr_assert_str_eq(json_string_value(json_object_get(r, "connector")), "paper");
    json_decref(r);
    /* visible, manual (strategy null), open after the latency; funds locked */
    double t0 = now_s();
    const char *state = "";
    json_t *o = NULL;
    while (now_s() - t0 < 3) {
        json_decref(o);
        o = snap("orders");
        json_t *x = json_array_get(o, 0);
        state = json_string_value(json_object_get(x, "state"));
        if (x && strcmp(state, "open") == 0) {
            cr_assert_str_eq(json_string_value(json_object_get(x, "client_order_id")), cid);
            cr_assert(json_is_null(json_object_get(x, "strategy")));
            cr_assert_str_eq(json_string_value(json_object_get(x, "price")), "1000.00");
            break;
        }
        sleep_ms(20);
    }
    cr_assert_str_eq(state, "open");
    json_decref(o);
    json_t *bal = snap("balances");
    size_t i;
    json_t *x;
    bool locked = false;
    json_array_foreach(bal, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "asset")), "USDT") == 0)
            locked = atof(json_string_value(json_object_get(x, "locked"))) == 10.0;
    }
    json_decref(bal);
    cr_assert(locked, "10 USDT not locked");

    char p[128];
    snprintf(p, sizeof(p), "{\"client_order_id\": \"%s\"}", cid);
    r = call_ok("order.cancel", p);
    cr_assert_str_eq(json_string_value(json_object_get(r, "state")), "pending_cancel");
    json_decref(r);
    int live = 1, all = 0;
    t0 = now_s();
    while (live && now_s() - t0 < 3) {
        sleep_ms(20);
        count_orders(0, &live, &all);
    }
    cr_assert_eq(live, 0);
    char err[256];
    cr_assert_eq(call("order.cancel", p, NULL, err, sizeof(err)), CLB_ESTATE, "%s", err);

    /* A market buy fills at once against the book. */
    r = call_ok("order.create", "{\"market\": \"ETH-USDT\", \"side\": \"buy\", "
                                "\"type\": \"market\", \"amount\": 0.5}");
    json_decref(r);
    bool filled = false;
    t0 = now_s();
    while (!filled && now_s() - t0 < 3) {
        sleep_ms(50);
        json_t *tr = snap("trades");
        x = json_array_get(tr, 0);
        filled = x && strcmp(json_string_value(json_object_get(x, "market")), "ETH-USDT") == 0 &&
                 json_is_null(json_object_get(x, "strategy")) &&
                 !json_is_true(json_object_get(x, "is_maker"));
        json_decref(tr);
    }
    cr_assert(filled, "market order not filled");
    stop_engine();
}

struct bad_case {
    const char *method;
    const char *params;
    int rc;
    const char *needle; /* expected in the message */
};

/* A fingerprint of what commands may change: strategies (without their
 * moving metrics) and orders. */
static char *state_fingerprint(void)
{
    json_t *s = snap("strategies");
    json_t *o = snap("orders");
    json_t *doc = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(s, i, x) {
        json_t *c = json_pack("{s:O,s:O,s:O,s:O}", "id", json_object_get(x, "id"), "state",
                              json_object_get(x, "state"), "params", json_object_get(x, "params"),
                              "name", json_object_get(x, "name"));
        json_array_append_new(doc, c);
    }
    json_array_append_new(doc, json_integer((json_int_t)json_array_size(o)));
    char *txt = json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(doc);
    json_decref(s);
    json_decref(o);
    return txt;
}

Test(engine, bad_input_is_rejected_and_changes_nothing)
{
    start_engine(1000, 0, NULL, NULL);
    json_int_t id = create_pmm(false, NULL);
    cr_assert_eq(id, 1);
    static const struct bad_case cases[] = {
        { "nope", "{}", CLB_EUNSUPPORTED, "unknown method" },
        { "strategy.create", "[1]", CLB_EINVAL, "params" },
        { "strategy.create", "{\"market\": \"BTC-USDT\"}", CLB_EINVAL, "type" },
        { "strategy.create", "{\"type\": \"magic\", \"market\": \"BTC-USDT\"}", CLB_EINVAL,
          "unknown strategy type" },
        { "strategy.create", "{\"type\": 42, \"market\": \"BTC-USDT\"}", CLB_EINVAL, "type" },
        { "strategy.create", "{\"type\": \"pure_market_making\"}", CLB_EINVAL, "market" },
        { "strategy.create", "{\"type\": \"pure_market_making\", \"market\": \"XRP-USDT\"}",
          CLB_EINVAL, "market" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"connector\": \"x\"}",
          CLB_EINVAL, "connector" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"colour\": 1}",
          CLB_EINVAL, "colour" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"params\": "
          "{\"no_such\": 1}}", CLB_EINVAL, "no_such" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"params\": "
          "{\"bid_spread\": 150}}", CLB_EINVAL, "bid_spread" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"params\": "
          "{\"bid_spread\": \"0.5\"}}", CLB_EINVAL, "bid_spread" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"params\": "
          "{\"order_levels\": 1.5}}", CLB_EINVAL, "order_levels" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"params\": "
          "{\"ping_pong_enabled\": 1}}", CLB_EINVAL, "ping_pong_enabled" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"params\": "
          "{\"price_type\": \"middle\"}}", CLB_EINVAL, "price_type" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"params\": "
          "{\"price_type\": 2}}", CLB_EINVAL, "price_type" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"params\": "
          "{\"order_amount\": 0}}", CLB_EINVAL, "order_amount" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"params\": [1]}",
          CLB_EINVAL, "params" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"start\": \"yes\"}",
          CLB_EINVAL, "start" },
        { "strategy.create",
          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"name\": \"\"}",
          CLB_EINVAL, "name" },
        { "strategy.start", "{}", CLB_EINVAL, "id" },
        { "strategy.start", "{\"id\": 99}", CLB_ENOTFOUND, "99" },
        { "strategy.start", "{\"id\": \"abc\"}", CLB_EINVAL, "id" },
        { "strategy.start", "{\"id\": -1}", CLB_EINVAL, "id" },
        { "strategy.start", "{\"id\": [1]}", CLB_EINVAL, "id" },
        { "strategy.start", "{\"id\": 1, \"force\": true}", CLB_EINVAL, "force" },
        { "strategy.stop", "{\"id\": 1}", CLB_ESTATE, "not running" },
        { "strategy.stop", "{\"id\": 2}", CLB_ENOTFOUND, "2" },
        { "strategy.update", "{\"id\": 1}", CLB_EINVAL, "params" },
        { "strategy.update", "{\"id\": 1, \"params\": {\"bid_spread\": -1}}", CLB_EINVAL,
          "bid_spread" },
        { "strategy.update", "{\"id\": 1, \"params\": {\"bid_spread\": 0.2, \"x\": 1}}",
          CLB_EINVAL, "x" },
        { "strategy.update", "{\"id\": 1, \"params\": {\"order_levels\": true}}", CLB_EINVAL,
          "order_levels" },
        { "strategy.update", "{\"id\": 1, \"params\": {\"price_floor\": 10, \"price_ceiling\": 5}}",
          CLB_EINVAL, "price_ceiling" },
        { "strategy.update", "{\"id\": 3, \"params\": {}}", CLB_ENOTFOUND, "3" },
        { "strategy.delete", "{\"id\": 3}", CLB_ENOTFOUND, "3" },
        { "indicators", "{\"id\": 3}", CLB_ENOTFOUND, "3" },
        { "order.create", "{\"side\": \"buy\", \"type\": \"limit\", \"price\": \"1\", "
          "\"amount\": \"1\"}", CLB_EINVAL, "market" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"long\", \"type\": \"limit\", "
          "\"price\": \"1000\", \"amount\": \"0.01\"}", CLB_EINVAL, "side" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"stop\", "
          "\"price\": \"1000\", \"amount\": \"0.01\"}", CLB_EINVAL, "type" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"limit\", "
          "\"amount\": \"0.01\"}", CLB_EINVAL, "price" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"market\", "
          "\"price\": \"1000\", \"amount\": \"0.01\"}", CLB_EINVAL, "price" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"limit\", "
          "\"price\": \"1000\", \"amount\": \"-1\"}", CLB_EINVAL, "amount" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"limit\", "
          "\"price\": \"1000\", \"amount\": \"abc\"}", CLB_EINVAL, "amount" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"limit\", "
          "\"price\": true, \"amount\": \"0.01\"}", CLB_EINVAL, "price" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"limit\", "
          "\"price\": \"1000\", \"amount\": \"0.000001\"}", CLB_EINVAL, "minimum" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"sell\", \"type\": \"limit\", "
          "\"price\": \"70000\", \"amount\": \"1000\"}", CLB_EINVAL, "BTC" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"limit\", "
          "\"price\": \"60000\", \"amount\": \"100\"}", CLB_EINVAL, "USDT" },
        { "order.create", "{\"connector\": \"binance\", \"market\": \"BTC-USDT\", \"side\": "
          "\"buy\", \"type\": \"limit\", \"price\": \"1000\", \"amount\": \"0.01\"}", CLB_EINVAL,
          "connector" },
        { "order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"limit\", "
          "\"price\": \"1000\", \"amount\": \"0.01\", \"tif\": \"ioc\"}", CLB_EINVAL, "tif" },
        { "order.cancel", "{\"client_order_id\": \"clb-nope\"}", CLB_ENOTFOUND, "clb-nope" },
        { "order.cancel", "{}", CLB_EINVAL, "client_order_id" },
        { "order.cancel", "{\"client_order_id\": 5}", CLB_EINVAL, "client_order_id" },
        { "log.level", "{\"level\": \"loud\"}", CLB_EINVAL, "level" },
        { "log.level", "{}", CLB_EINVAL, "level" },
    };
    char *before = state_fingerprint();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct bad_case *c = &cases[i];
        char err[256] = "";
        json_t *r = (json_t *)1;
        int rc = call(c->method, c->params, &r, err, sizeof(err));
        cr_expect_eq(rc, c->rc, "case %zu %s %s: got %s (%s), want %s", i, c->method, c->params,
                     clb_err_name(rc), err, clb_err_name(c->rc));
        cr_expect_null(r, "case %zu returned a result", i);
        cr_expect(strstr(err, c->needle) != NULL, "case %zu %s %s: message \"%s\" lacks \"%s\"",
                  i, c->method, c->params, err, c->needle);
        char *after = state_fingerprint();
        cr_expect_str_eq(after, before, "case %zu changed the engine", i);
        free(after);
    }
    free(before);
    /* NULL params mean {}. */
    json_t *r = NULL;
    char err[256];
    cr_assert_eq(clb_engine_call(g_e, "strategy.start", NULL, &r, err, sizeof(err), 1000),
                 CLB_EINVAL);
    stop_engine();
}

Test(engine, feed_sequence_topics_and_gap)
{
    start_engine(100, 16, NULL, NULL);
    uint64_t head = clb_engine_feed_head(g_e);
    cr_assert(head >= 1);
    sleep_ms(1500);
    json_t *ev[256];
    uint64_t cur = head;
    bool gap = false;
    size_t n = clb_engine_feed_read(g_e, &cur, ev, 256, &gap);
    cr_assert(n > 0 && n <= 16);
    cr_assert(gap, "over 16 events in 1.5 s at 10 books/s x 2 + status: a gap is expected");
    bool book = false, status = false;
    json_int_t prev = 0;
    for (size_t i = 0; i < n; i++) {
        json_int_t seq = json_integer_value(json_object_get(ev[i], "seq"));
        cr_assert(prev == 0 || seq == prev + 1);
        prev = seq;
        const char *topic = json_string_value(json_object_get(ev[i], "topic"));
        const char *type = json_string_value(json_object_get(ev[i], "type"));
        cr_assert(json_is_integer(json_object_get(ev[i], "ts")));
        cr_assert(json_is_object(json_object_get(ev[i], "data")));
        book = book || (strcmp(topic, "book:paper:BTC-USDT") == 0 && strcmp(type, "book") == 0);
        status = status || (strcmp(topic, "status") == 0 && strcmp(type, "status") == 0);
        json_decref(ev[i]);
    }
    cr_assert(book && status);
    cr_assert_eq(cur, (uint64_t)prev + 1);
    /* Caught up: nothing new, no gap; the next read starts after. */
    n = clb_engine_feed_read(g_e, &cur, ev, 256, &gap);
    for (size_t i = 0; i < n; i++)
        json_decref(ev[i]);
    cr_assert_not(gap);
    /* A log line lands in the "logs" topic. */
    uint64_t c2 = clb_engine_feed_head(g_e);
    clb_logf(clb_engine_log(g_e), CLB_LOG_WARN, "hello %d", 42);
    bool found = false;
    n = clb_engine_feed_read(g_e, &c2, ev, 256, &gap);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(json_string_value(json_object_get(ev[i], "topic")), "logs") == 0) {
            json_t *d = json_object_get(ev[i], "data");
            found = found || (strcmp(json_string_value(json_object_get(d, "message")),
                                     "hello 42") == 0 &&
                              strcmp(json_string_value(json_object_get(d, "level")), "warn") == 0);
        }
        json_decref(ev[i]);
    }
    cr_assert(found);
    /* Book events are coalesced: at most ~10 per second per market. */
    uint64_t c3 = clb_engine_feed_head(g_e);
    sleep_ms(1000);
    size_t books = 0;
    do {
        n = clb_engine_feed_read(g_e, &c3, ev, 256, &gap);
        for (size_t i = 0; i < n; i++) {
            books += strcmp(json_string_value(json_object_get(ev[i], "topic")),
                            "book:paper:BTC-USDT") == 0;
            json_decref(ev[i]);
        }
    } while (n == 256);
    cr_assert(books >= 5 && books <= 12, "%zu book events in 1 s", books);
    stop_engine();
}

/* The whole text a log written to f holds (heap). */
static char *log_text(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    cr_assert_geq(n, 0);
    char *t = calloc(1, (size_t)n + 1);
    cr_assert_not_null(t);
    rewind(f);
    cr_assert_eq(fread(t, 1, (size_t)n, f), (size_t)n);
    return t;
}

static json_t *strategy_in_snapshot(json_int_t id)
{
    json_t *ss = snap("strategies"), *found = NULL, *s;
    size_t i;
    json_array_foreach(ss, i, s)
        if (json_integer_value(json_object_get(s, "id")) == id)
            found = json_incref(s);
    json_decref(ss);
    return found;
}

Test(engine, resume_recreates_running_strategies_and_reports_the_rest)
{
    FILE *lf = tmpfile();
    cr_assert_not_null(lf);
    cr_assert_eq(clb_log_create(lf, CLB_LOG_INFO, &g_log), CLB_OK);
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.tick_ms = 100;
    cfg.seed = 7;
    cfg.log = g_log;
    cfg.strategy_id_base = 20;
    const char *pmm = "pure_market_making";
    struct clb_engine_resume rs[] = {
        { 7, "mm7", pmm, "paper", "BTC-USDT", NULL, NULL,
          "{\"bid_spread\": 0.004, \"order_amount\": 0.02, \"order_refresh_time\": 1}" },
        { 9, "bad-type", "no_such_type", "paper", "BTC-USDT", NULL, NULL, "{}" },
        { 10, "bad-json", pmm, "paper", "BTC-USDT", NULL, NULL, "{\"bid_spread\": " },
        { 11, "bad-param", pmm, "paper", "BTC-USDT", NULL, NULL, "{\"bid_spread\": -1}" },
        { 13, "bad-market", pmm, "paper", "XRP-USDT", NULL, NULL, "{}" },
        { 25, "above-base", pmm, "paper", "BTC-USDT", NULL, NULL, "{}" },
        { 12, "mm12", pmm, "paper", "ETH-USDT", NULL, NULL, NULL },
        { 7, "twin", pmm, "paper", "BTC-USDT", NULL, NULL, "{}" },
    };
    cfg.resume = rs;
    cfg.n_resume = sizeof(rs) / sizeof(rs[0]);
    char err[256] = "";
    cr_assert_eq(clb_engine_create(&cfg, &g_e, err, sizeof(err)), CLB_OK, "create: %s", err);
    /* resumed at once (paper is ready), with their ids, names and params */
    json_t *s7 = NULL, *s12 = NULL;
    double t0 = now_s();
    while ((!s7 || !s12) && now_s() - t0 < 5) {
        json_decref(s7);
        json_decref(s12);
        s7 = strategy_in_snapshot(7);
        s12 = strategy_in_snapshot(12);
        if (!s7 || !s12)
            sleep_ms(50);
    }
    cr_assert_not_null(s7, "strategy 7 not resumed");
    cr_assert_not_null(s12, "strategy 12 not resumed");
    cr_assert_str_eq(json_string_value(json_object_get(s7, "state")), "running");
    cr_assert_str_eq(json_string_value(json_object_get(s7, "name")), "mm7");
    cr_assert_str_eq(json_string_value(json_object_get(s12, "market")), "ETH-USDT");
    json_t *p7 = json_object_get(s7, "params");
    cr_assert_float_eq(json_number_value(json_object_get(p7, "bid_spread")), 0.004, 1e-12);
    cr_assert_float_eq(json_number_value(json_object_get(p7, "order_amount")), 0.02, 1e-12);
    json_decref(s7);
    json_decref(s12);
    for (json_int_t id = 8; id <= 25; id++) {
        if (id == 12)
            continue;
        json_t *x = strategy_in_snapshot(id);
        cr_assert_null(x, "strategy %lld should not exist", (long long)id);
    }
    /* a resumed strategy trades: its orders carry its id */
    int live = 0, all = 0;
    t0 = now_s();
    while (all == 0 && now_s() - t0 < 5) {
        count_orders(7, &live, &all);
        if (all == 0)
            sleep_ms(50);
    }
    cr_assert_gt(all, 0, "strategy 7 placed no order after resuming");
    /* new strategies number on after the base, not after the resumed ids */
    json_int_t id = create_pmm(false, NULL);
    cr_assert_eq(id, 21);
    stop_engine();
    char *t = log_text(lf);
    fclose(lf);
    const char *want[] = {
        "strategy 7 (mm7) resumed",
        "strategy 12 (mm12) resumed",
        "strategy 9 (bad-type) not resumed: type: unknown strategy type",
        "strategy 10 (bad-json) not resumed: its stored parameters are not a JSON object",
        "strategy 11 (bad-param) not resumed: params",
        "strategy 13 (bad-market) not resumed: market:",
        "strategy 25 (above-base) not resumed: its id is not below the next id (21)",
        "strategy 7 (twin) not resumed: id 7 is taken",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        cr_assert(strstr(t, want[i]) != NULL, "log lacks \"%s\":\n%s", want[i], t);
    free(t);
}

Test(engine, shutdown_stops_strategies_and_cancels)
{
    start_engine(500, 0, NULL, NULL);
    json_int_t id = create_pmm(true, ", \"bid_spread\": 1, \"ask_spread\": 1, \"order_levels\": 3");
    int live = 0, all = 0;
    double t0 = now_s();
    while (live < 6 && now_s() - t0 < 5) {
        sleep_ms(50);
        count_orders(id, &live, &all);
    }
    cr_assert_eq(live, 6);
    t0 = now_s();
    clb_engine_shutdown(g_e, 3000);
    cr_assert(now_s() - t0 < 3.0);
    count_orders(id, &live, &all);
    cr_assert_eq(live, 0, "orders still live after shutdown");
    cr_assert_eq(all, 6);
    json_t *s = snap("strategies");
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(s, 0), "state")),
                     "stopped");
    json_decref(s);
    s = snap("status");
    cr_assert_str_eq(json_string_value(json_object_get(s, "state")), "stopped");
    json_decref(s);
    char err[256];
    cr_assert_eq(call("strategy.start", "{\"id\": 1}", NULL, err, sizeof(err)), CLB_ESTATE);
    clb_engine_shutdown(g_e, 100); /* idempotent */
    stop_engine();
}

Test(engine, abandoned_calls_are_safe)
{
    start_engine(1000, 0, NULL, NULL);
    int ok = 0, timed_out = 0;
    json_t *params = json_pack("{s:s}", "level", "info");
    for (int i = 0; i < 200; i++) {
        json_t *r = NULL;
        char err[128];
        int rc = clb_engine_call(g_e, "log.level", params, &r, err, sizeof(err), i % 2);
        if (rc == CLB_OK)
            ok++;
        else if (rc == CLB_ETIMEDOUT)
            timed_out++;
        json_decref(r);
    }
    json_decref(params);
    cr_assert_eq(ok + timed_out, 200);
    json_decref(call_ok("log.level", "{\"level\": \"info\"}"));
    stop_engine();
}

Test(engine, config_errors_name_the_key)
{
    struct {
        const char *connectors, *balances, *needle;
    } cases[] = {
        { "{}", NULL, "connectors: must be a non-empty array" },
        { "[]", NULL, "connectors: must be a non-empty array" },
        { "[{\"name\": \"p\", \"type\": \"paper\", \"markets\": [\"XRP-USDT\"]}]", NULL,
          "connectors[0].markets[0]: unknown market \"XRP-USDT\"" },
        { "[{\"name\": \"p\", \"type\": \"kraken\", \"markets\": [\"BTC-USDT\"]}]", NULL,
          "connectors[0].type" },
        { "[{\"type\": \"paper\", \"markets\": [\"BTC-USDT\"]}]", NULL, "connectors[0].name" },
        { "[{\"name\": \"p\", \"type\": \"paper\", \"markets\": [\"BTC-USDT\"], \"maker_fee\": "
          "0.1}]", NULL, "connectors[0].maker_fee" },
        { "[{\"name\": \"p\", \"type\": \"paper\", \"markets\": [\"BTC-USDT\"], \"latency_ms\": "
          "\"5\"}]", NULL, "connectors[0].latency_ms" },
        { "[{\"name\": \"p\", \"type\": \"paper\", \"markets\": [\"BTC-USDT\"], \"fees\": 1}]",
          NULL, "connectors[0].fees: unknown key" },
        { "[{\"name\": \"p\", \"type\": \"paper\", \"markets\": [\"BTC-USDT\"]}, {\"name\": \"p\", "
          "\"type\": \"paper\", \"markets\": [\"ETH-USDT\"]}]", NULL, "connectors[1].name" },
        { "[{\"name\": \"p\", \"type\": \"paper\", \"markets\": [\"BTC-USDT\", \"BTC-USDT\"]}]",
          NULL, "connectors[0].markets[1]" },
        { NULL, "{\"USDT\": 5}", "balances.USDT: must be a non-negative decimal string" },
        { NULL, "{\"USDT\": \"-5\"}", "balances.USDT" },
        { NULL, "{\"XRP\": \"5\"}", "balances.XRP: no configured market trades this asset" },
        { NULL, "{\"BTC\": \"0.000000001\"}", "balances.BTC: more than 8 decimals" },
        { NULL, "[1]", "balances: must be an object" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct clb_engine_config cfg;
        clb_engine_config_default(&cfg);
        cfg.connectors = cases[i].connectors ? json_loads(cases[i].connectors, 0, NULL) : NULL;
        cfg.balances = cases[i].balances ? json_loads(cases[i].balances, JSON_DECODE_ANY, NULL)
                                         : NULL;
        char err[256] = "";
        cr_expect_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_EINVAL, "case %zu", i);
        cr_expect(strstr(err, cases[i].needle) == err, "case %zu: \"%s\" does not start with "
                  "\"%s\"", i, err, cases[i].needle);
        struct clb_engine *e = NULL;
        cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL);
        cr_expect_null(e);
        json_decref(cfg.connectors);
        json_decref(cfg.balances);
    }
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.tick_ms = 0;
    char err[256];
    cr_assert_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_EINVAL);
    cr_assert(strstr(err, "tick_ms") == err);
}

Test(engine, configured_connectors_and_balances)
{
    start_engine(1000, 0,
                 "[{\"name\": \"sim-a\", \"type\": \"paper\", \"markets\": [\"ETH-USDT\"], "
                 "\"maker_fee\": 0.0002, \"taker_fee\": 0.0005, \"latency_ms\": 5}, "
                 "{\"name\": \"sim-b\", \"type\": \"paper\", \"markets\": [\"ETH-USDT\", "
                 "\"BTC-USDT\"]}]",
                 "{\"USDT\": \"2500.5\", \"ETH\": \"1\"}");
    json_t *c = snap("connectors");
    cr_assert_eq(json_array_size(c), 2);
    json_t *a = json_array_get(c, 0);
    cr_assert_str_eq(json_string_value(json_object_get(a, "name")), "sim-a");
    cr_assert_float_eq(json_number_value(json_object_get(a, "maker_fee")), 0.0002, 1e-12);
    cr_assert_eq(json_integer_value(json_object_get(a, "latency_ms")), 5);
    json_decref(c);
    json_t *b1 = snap("book:sim-a:ETH-USDT"), *b2 = snap("book:sim-b:ETH-USDT");
    /* one simulated market shared by both connectors: same update id, same book */
    cr_assert(json_equal(json_object_get(b1, "bids"), json_object_get(b2, "bids")) ||
              json_integer_value(json_object_get(b1, "update_id")) !=
                  json_integer_value(json_object_get(b2, "update_id")));
    json_decref(b1);
    json_decref(b2);
    json_decref(snap("book:sim-b:BTC-USDT"));
    cr_assert_null(clb_engine_snapshot(g_e, "book:sim-a:BTC-USDT"));
    cr_assert_float_eq(metric_sum("gauges", "colibri_balance", "asset", "USDT"), 5001.0, 1e-9);
    cr_assert_float_eq(metric_sum("gauges", "colibri_balance", "asset", "BTC"), 0.0, 1e-9);
    json_t *r = NULL;
    char err[256];
    cr_assert_eq(call("strategy.create", "{\"type\": \"pure_market_making\", \"connector\": "
                      "\"sim-a\", \"market\": \"BTC-USDT\"}", &r, err, sizeof(err)), CLB_EINVAL);
    r = call_ok("strategy.create", "{\"type\": \"avellaneda_market_making\", \"connector\": "
                "\"sim-b\", \"market\": \"BTC-USDT\"}");
    cr_assert_str_eq(json_string_value(json_object_get(r, "name")),
                     "avellaneda_market_making-1");
    json_decref(r);
    stop_engine();
}

/* ---- exchange connectors: configuration ---- */

#define BN_URLS "\"rest_url\": \"https://api.binance.com\", \"stream_url\": " \
                "\"wss://stream.binance.com:9443\", \"ws_api_url\": " \
                "\"wss://ws-api.binance.com:443/ws-api/v3\""

/* A binance entry named "bn" with BN_URLS replaced key by key by `extra`. */
static json_t *bn_config(const char *extra)
{
    char text[1024];
    snprintf(text, sizeof(text), "[{\"name\": \"bn\", \"type\": \"binance\", \"markets\": "
             "[\"BTC-USDT\"], " BN_URLS "}]");
    json_t *c = json_loads(text, 0, NULL);
    cr_assert_not_null(c);
    if (extra) {
        json_t *x = json_loads(extra, 0, NULL);
        cr_assert_not_null(x, "bad test JSON %s", extra);
        const char *k;
        json_t *v;
        json_object_foreach(x, k, v) {
            if (json_is_null(v))
                json_object_del(json_array_get(c, 0), k);
            else
                json_object_set(json_array_get(c, 0), k, v);
        }
        json_decref(x);
    }
    return c;
}

Test(engine, binance_config_errors_name_the_key)
{
    struct {
        const char *extra, *needle;
    } cases[] = {
        { "{\"rest_url\": null}", "connectors[0].rest_url: required" },
        { "{\"stream_url\": null}", "connectors[0].stream_url: required" },
        { "{\"ws_api_url\": 5}", "connectors[0].ws_api_url: required" },
        { "{\"rest_url\": \"http://api.binance.com\"}", "connectors[0].rest_url: " },
        { "{\"stream_url\": \"ws://10.0.0.1:9443\"}", "connectors[0].stream_url: " },
        { "{\"stream_url\": \"https://stream.binance.com\"}", "connectors[0].stream_url: " },
        { "{\"rest_url\": \"wss://api.binance.com\"}", "connectors[0].rest_url: " },
        { "{\"rest_url\": \"ftp://127.0.0.1\"}", "connectors[0].rest_url: " },
        { "{\"markets\": [\"btcusdt\"]}", "connectors[0].markets[0]: " },
        { "{\"markets\": [\"BTC-USDT\", \"BTC-USDT\"]}", "connectors[0].markets[1]: " },
        { "{\"markets\": []}", "connectors[0].markets: required" },
        { "{\"maker_fee\": 0.001}", "connectors[0].maker_fee: unknown key" },
        { "{\"client_id_prefix\": \"much-too-long\"}", "connectors[0].client_id_prefix: " },
        { "{\"client_id_prefix\": \"a b\"}", "connectors[0].client_id_prefix: " },
        { "{\"ca_file\": \"/nonexistent/ca.pem\"}", "connectors[0].ca_file: cannot read" },
        { "{\"ca_file\": 1}", "connectors[0].ca_file: " },
        { "{\"orders_over_rest\": \"yes\"}", "connectors[0].orders_over_rest: must be true" },
        { "{\"cancel_orphans\": 1}", "connectors[0].cancel_orphans: must be true or false" },
        { "{\"name\": \"b n\"}", "connectors[0].name: " },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct clb_engine_config cfg;
        clb_engine_config_default(&cfg);
        cfg.connectors = bn_config(cases[i].extra);
        char err[512] = "";
        cr_expect_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_EINVAL, "case %zu", i);
        cr_expect(strstr(err, cases[i].needle) == err, "case %zu: \"%s\" does not start with "
                  "\"%s\"", i, err, cases[i].needle);
        struct clb_engine *e = NULL;
        cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL, "case %zu", i);
        cr_expect_null(e);
        json_decref(cfg.connectors);
    }
    /* loopback plain URLs, a prefix and a readable CA file are fine */
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.connectors = bn_config("{\"rest_url\": \"http://127.0.0.1:9443\", \"stream_url\": "
                               "\"ws://localhost:9443\", \"ws_api_url\": "
                               "\"ws://[::1]:9443/ws-api/v3\", \"client_id_prefix\": \"mm1.\", "
                               "\"orders_over_rest\": true, \"ca_file\": \"/dev/null\", "
                               "\"markets\": [\"BTC-USDT\", "
                               "\"ETH-USDT\"]}");
    char err[512] = "";
    cr_expect_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_OK, "%s", err);
    /* balances are the paper connectors' */
    cfg.balances = json_loads("{\"BTC\": \"1\"}", 0, NULL);
    cr_expect_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_EINVAL);
    cr_expect(strstr(err, "balances.BTC: no configured market trades") == err, "%s", err);
    json_decref(cfg.balances);
    json_decref(cfg.connectors);
    /* one CA file for every exchange connector */
    cfg.connectors = json_loads("[{\"name\": \"a\", \"type\": \"binance\", \"markets\": "
                                "[\"BTC-USDT\"], " BN_URLS ", \"ca_file\": \"/dev/null\"}, "
                                "{\"name\": \"b\", \"type\": \"binance\", \"markets\": "
                                "[\"BTC-USDT\"], " BN_URLS ", \"ca_file\": \"/dev/zero\"}]",
                                0, NULL);
    cr_assert_not_null(cfg.connectors);
    cfg.balances = NULL;
    cr_expect_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_EINVAL);
    cr_expect(strstr(err, "connectors[1].ca_file: differs") == err, "%s", err);
    json_decref(cfg.connectors);
}

/* Creating an engine with exchange connectors fails when their API keys
 * are missing, naming the environment variables to set. */
Test(engine, binance_api_keys_from_the_environment)
{
    unsetenv("COLIBRI_BINANCE_API_KEY");
    unsetenv("COLIBRI_BINANCE_API_SECRET");
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cr_assert_eq(clb_log_create(NULL, CLB_LOG_INFO, &g_log), CLB_OK);
    cfg.log = g_log;
    cfg.connectors = json_loads("[{\"name\": \"my-bin.1\", \"type\": \"binance\", \"markets\": "
                                "[\"BTC-USDT\"], " BN_URLS "}]", 0, NULL);
    cr_assert_not_null(cfg.connectors);
    char err[512] = "";
    struct clb_engine *e = NULL;
    cr_assert_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_OK, "%s", err);
    cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL);
    cr_expect_null(e);
    cr_expect(strstr(err, "connectors[0] (my-bin.1): no API key: set COLIBRI_MY_BIN_1_API_KEY "
                          "and COLIBRI_MY_BIN_1_API_SECRET") == err, "%s", err);
    setenv("COLIBRI_MY_BIN_1_API_KEY", "k", 1);
    cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL);
    cr_expect(strstr(err, "COLIBRI_MY_BIN_1_API_KEY is set but COLIBRI_MY_BIN_1_API_SECRET is "
                          "not") != NULL, "%s", err);
    cr_expect(strstr(err, "k\"") == NULL);
    unsetenv("COLIBRI_MY_BIN_1_API_KEY");
    setenv("COLIBRI_BINANCE_API_SECRET", "s3cr3t-value", 1);
    cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL);
    cr_expect(strstr(err, "COLIBRI_BINANCE_API_SECRET is set but COLIBRI_BINANCE_API_KEY is "
                          "not") != NULL, "%s", err);
    cr_expect(strstr(err, "s3cr3t") == NULL, "the secret must never be in a message: %s", err);
    unsetenv("COLIBRI_BINANCE_API_SECRET");
    json_decref(cfg.connectors);
    clb_log_destroy(g_log);
    g_log = NULL;
}

/* Keys from the encrypted secrets file in the data directory when the
 * environment has none. */
Test(engine, binance_api_keys_from_the_secrets_file)
{
    unsetenv("COLIBRI_BINANCE_API_KEY");
    unsetenv("COLIBRI_BINANCE_API_SECRET");
    unsetenv("COLIBRI_SECRETS_PASSPHRASE");
    char dir[] = "/tmp/engine-secrets-XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[256], err[600] = "";
    cr_assert_eq(clb_secrets_path(dir, path, sizeof(path)), CLB_OK);
    struct clb_secrets_kdf kdf = { .n = 1u << 10, .r = 8, .p = 1 };
    struct clb_secrets *sec = NULL;
    cr_assert_eq(clb_secrets_open_kdf(path, "pass phrase", &kdf, &sec, err, sizeof(err)), CLB_OK,
                 "%s", err);
    cr_assert_eq(clb_secrets_set(sec, "bn.api_key", "KEY-FROM-FILE"), CLB_OK);
    cr_assert_eq(clb_secrets_save(sec, err, sizeof(err)), CLB_OK, "%s", err);
    clb_secrets_close(sec);

    cr_assert_eq(clb_log_create(NULL, CLB_LOG_INFO, &g_log), CLB_OK);
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.log = g_log;
    cfg.data_dir = dir;
    cfg.connectors = json_loads("[{\"name\": \"bn\", \"type\": \"binance\", \"markets\": "
                                "[\"BTC-USDT\"], \"rest_url\": \"http://127.0.0.1:9\", "
                                "\"stream_url\": \"ws://127.0.0.1:9\", \"ws_api_url\": "
                                "\"ws://127.0.0.1:9/ws-api/v3\"}]", 0, NULL);
    cr_assert_not_null(cfg.connectors);
    struct clb_engine *e = NULL;
    /* no passphrase: the file is not read, and the message says so */
    cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL);
    cr_expect(strstr(err, "no API key") && strstr(err, "COLIBRI_SECRETS_PASSPHRASE is not set"),
              "%s", err);
    setenv("COLIBRI_SECRETS_PASSPHRASE", "wrong", 1);
    cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL);
    cr_expect(strstr(err, "API key: ") && strstr(err, "secrets.json"), "%s", err);
    setenv("COLIBRI_SECRETS_PASSPHRASE", "pass phrase", 1);
    cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL);
    cr_expect(strstr(err, "holds bn.api_key but not bn.api_secret") != NULL, "%s", err);
    cr_expect(strstr(err, "KEY-FROM-FILE") == NULL, "a secret value in a message: %s", err);

    cr_assert_eq(clb_secrets_open(path, "pass phrase", &sec, err, sizeof(err)), CLB_OK);
    cr_assert_eq(clb_secrets_set(sec, "bn.api_secret", "SECRET-FROM-FILE"), CLB_OK);
    cr_assert_eq(clb_secrets_save(sec, err, sizeof(err)), CLB_OK, "%s", err);
    clb_secrets_close(sec);
    /* found: the engine starts (or, without the connector built, says so) */
    int rc = clb_engine_create(&cfg, &e, err, sizeof(err));
    cr_expect(rc == CLB_OK || rc == CLB_EUNSUPPORTED, "%s: %s", clb_err_name(rc), err);
    if (rc == CLB_OK) {
        clb_engine_shutdown(e, 2000);
        clb_engine_destroy(e);
    }
    unsetenv("COLIBRI_SECRETS_PASSPHRASE");
    json_decref(cfg.connectors);
    clb_log_destroy(g_log);
    g_log = NULL;
    unlink(path);
    char lock[300];
    snprintf(lock, sizeof(lock), "%s.lock", path);
    unlink(lock);
    rmdir(dir);
}

/* An exchange that never answers: the connector stays not ready, orders
 * and strategies are refused with CLB_ENOTREADY, shutdown stays bounded. */
Test(engine, binance_not_ready_refuses_orders)
{
    setenv("COLIBRI_BN_API_KEY", "k", 1);
    setenv("COLIBRI_BN_API_SECRET", "s", 1);
    FILE *lf = tmpfile();
    cr_assert_not_null(lf);
    cr_assert_eq(clb_log_create(lf, CLB_LOG_INFO, &g_log), CLB_OK);
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.log = g_log;
    /* a strategy to resume waits for the connector */
    struct clb_engine_resume rs = { 3, "waits", "pure_market_making", "bn", "BTC-USDT",
                                    NULL, NULL, "{}" };
    cfg.resume = &rs;
    cfg.n_resume = 1;
    cfg.strategy_id_base = 3;
    cfg.connectors = json_loads("[{\"name\": \"bn\", \"type\": \"binance\", \"markets\": "
                                "[\"BTC-USDT\"], \"rest_url\": \"http://127.0.0.1:9\", "
                                "\"stream_url\": \"ws://127.0.0.1:9\", \"ws_api_url\": "
                                "\"ws://127.0.0.1:9/ws-api/v3\"}]", 0, NULL);
    char err[512] = "";
    int rc = clb_engine_create(&cfg, &g_e, err, sizeof(err));
    json_decref(cfg.connectors);
    if (rc == CLB_EUNSUPPORTED) {
        clb_log_destroy(g_log);
        g_log = NULL;
        cr_skip_test("the binance connector is not built: %s", err);
    }
    cr_assert_eq(rc, CLB_OK, "create: %s", err);
    sleep_ms(300);
    json_t *st = snap("status");
    json_t *c0 = json_array_get(json_object_get(st, "connectors"), 0);
    cr_assert_str_eq(json_string_value(json_object_get(c0, "type")), "binance");
    cr_assert(json_is_false(json_object_get(c0, "ready")));
    json_decref(st);
    cr_assert_eq(call("order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", "
                      "\"type\": \"limit\", \"price\": \"100\", \"amount\": \"1\"}", NULL, err,
                      sizeof(err)), CLB_ENOTREADY, "%s", err);
    cr_assert_eq(call("strategy.create", "{\"type\": \"pure_market_making\", \"market\": "
                      "\"BTC-USDT\", \"start\": true}", NULL, err, sizeof(err)), CLB_ENOTREADY,
                 "%s", err);
    cr_assert(strstr(err, "not ready") != NULL, "%s", err);
    json_t *b = snap("book:bn:BTC-USDT");
    cr_assert_eq(json_array_size(json_object_get(b, "bids")), 0);
    json_decref(b);
    cr_assert_eq(metric_sum("gauges", "colibri_connector_ready", "connector", "bn"), 0.0);
    json_t *waiting = strategy_in_snapshot(3);
    cr_assert_null(waiting, "strategy 3 resumed on a connector that is not ready");
    double t0 = now_s();
    stop_engine();
    cr_assert(now_s() - t0 < 4.0, "shutdown took %.1f s", now_s() - t0);
    char *t = log_text(lf);
    fclose(lf);
    cr_assert(strstr(t, "strategy 3 (waits) resumes when it can: connector \"bn\"") != NULL,
              "%s", t);
    cr_assert(strstr(t, "not resumed") == NULL, "%s", t);
    free(t);
}

/* ---- amm connectors and two-venue strategies ---- */

#define AMM_ADDR "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

/* An amm entry named "uni" with key-by-key replacements from `extra`
 * (null deletes a key). */
static json_t *amm_config(const char *extra)
{
    json_t *c = json_loads("[{\"name\": \"uni\", \"type\": \"amm\", \"gateway_url\": "
                           "\"https://gw.example.com:8443\", \"network\": \"mainnet\", "
                           "\"address\": \"" AMM_ADDR "\", \"markets\": [\"WETH-USDC\"]}]",
                           0, NULL);
    cr_assert_not_null(c);
    if (extra) {
        json_t *x = json_loads(extra, 0, NULL);
        cr_assert_not_null(x, "bad test JSON %s", extra);
        const char *k;
        json_t *v;
        json_object_foreach(x, k, v) {
            if (json_is_null(v))
                json_object_del(json_array_get(c, 0), k);
            else
                json_object_set(json_array_get(c, 0), k, v);
        }
        json_decref(x);
    }
    return c;
}

Test(engine, amm_config_errors_name_the_key)
{
    struct {
        const char *extra, *needle;
    } cases[] = {
        { "{\"gateway_url\": null}", "connectors[0].gateway_url: required" },
        { "{\"gateway_url\": \"http://gw.example.com\"}", "connectors[0].gateway_url: " },
        { "{\"gateway_url\": \"wss://gw.example.com\"}", "connectors[0].gateway_url: " },
        { "{\"network\": null}", "connectors[0].network: required" },
        { "{\"network\": \"main net\"}", "connectors[0].network: " },
        { "{\"address\": null}", "connectors[0].address: required" },
        { "{\"address\": \"0x1234\"}", "connectors[0].address: " },
        { "{\"address\": \"0x70997970C51812dc3A010C7d01b50e0d17dc79CZ\"}",
          "connectors[0].address: " },
        { "{\"dex\": 3}", "connectors[0].dex: " },
        { "{\"fee\": -0.1}", "connectors[0].fee: " },
        { "{\"fee\": \"0.003\"}", "connectors[0].fee: " },
        { "{\"amount_decimals\": 19}", "connectors[0].amount_decimals: " },
        { "{\"price_decimals\": 1.5}", "connectors[0].price_decimals: " },
        { "{\"price_poll_ms\": 0}", "connectors[0].price_poll_ms: " },
        { "{\"balance_poll_ms\": \"1000\"}", "connectors[0].balance_poll_ms: " },
        { "{\"tx_poll_ms\": 10}", "connectors[0].tx_poll_ms: " },
        { "{\"ca_file\": \"/nonexistent/ca.pem\"}", "connectors[0].ca_file: cannot read" },
        { "{\"markets\": [\"weth-usdc\"]}", "connectors[0].markets[0]: " },
        { "{\"markets\": []}", "connectors[0].markets: required" },
        { "{\"rest_url\": \"https://x\"}", "connectors[0].rest_url: unknown key" },
        { "{\"latency_ms\": 5}", "connectors[0].latency_ms: unknown key" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct clb_engine_config cfg;
        clb_engine_config_default(&cfg);
        cfg.connectors = amm_config(cases[i].extra);
        char err[512] = "";
        cr_expect_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_EINVAL, "case %zu", i);
        cr_expect(strstr(err, cases[i].needle) == err, "case %zu: \"%s\" does not start with "
                  "\"%s\"", i, err, cases[i].needle);
        struct clb_engine *e = NULL;
        cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL, "case %zu", i);
        cr_expect_null(e);
        json_decref(cfg.connectors);
    }
    /* every optional key, a loopback plain URL, any token symbols */
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.connectors = amm_config("{\"gateway_url\": \"http://127.0.0.1:15888\", \"fee\": 0.003, "
                                "\"dex\": \"uniswap_v2\", \"amount_decimals\": 6, "
                                "\"price_decimals\": 8, \"price_poll_ms\": 500, "
                                "\"balance_poll_ms\": 2000, \"tx_poll_ms\": 250, "
                                "\"ca_file\": \"/dev/null\", \"markets\": [\"WETH-USDC\", "
                                "\"TKA-TKB\"]}");
    char err[512] = "";
    cr_expect_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_OK, "%s", err);
    json_decref(cfg.connectors);
    /* the type list names amm */
    cfg.connectors = amm_config("{\"type\": \"uniswap\"}");
    cr_expect_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_EINVAL);
    cr_expect(strstr(err, "connectors[0].type: ") == err && strstr(err, "\"amm\""), "%s", err);
    json_decref(cfg.connectors);
}

/* The gateway token: required, from COLIBRI_<NAME>_GATEWAY_TOKEN (or the
 * secrets file); the message names both. */
Test(engine, amm_gateway_token_is_required)
{
    unsetenv("COLIBRI_UNI_V2_GATEWAY_TOKEN");
    unsetenv("COLIBRI_SECRETS_PASSPHRASE");
    cr_assert_eq(clb_log_create(NULL, CLB_LOG_INFO, &g_log), CLB_OK);
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.log = g_log;
    cfg.connectors = amm_config("{\"name\": \"uni-v2\"}");
    char err[512] = "";
    struct clb_engine *e = NULL;
    cr_assert_eq(clb_engine_check_config(&cfg, err, sizeof(err)), CLB_OK, "%s", err);
    cr_expect_eq(clb_engine_create(&cfg, &e, err, sizeof(err)), CLB_EINVAL);
    cr_expect_null(e);
    cr_expect(strstr(err, "connectors[0] (uni-v2): no gateway token: set "
                          "COLIBRI_UNI_V2_GATEWAY_TOKEN, or store uni-v2.gateway_token") == err,
              "%s", err);
    json_decref(cfg.connectors);
    clb_log_destroy(g_log);
    g_log = NULL;
}

/* connector_2 / market_2: refused by one-market strategies, required by
 * amm_arb, which also needs an amm connector there. */
Test(engine, strategy_secondary_connector_rules)
{
    start_engine(500, 0,
                 "[{\"name\": \"a\", \"type\": \"paper\", \"markets\": [\"BTC-USDT\"]}, "
                 "{\"name\": \"b\", \"type\": \"paper\", \"markets\": [\"BTC-USDT\"]}]", NULL);
    char before[64], err[256] = "";
    json_t *s0 = snap("strategies");
    snprintf(before, sizeof(before), "%zu", json_array_size(s0));
    json_decref(s0);
    struct {
        const char *params, *needle;
    } cases[] = {
        { "{\"type\": \"pure_market_making\", \"connector\": \"a\", \"market\": \"BTC-USDT\", "
          "\"connector_2\": \"b\", \"market_2\": \"BTC-USDT\"}",
          "connector_2: not used by pure_market_making" },
        { "{\"type\": \"avellaneda_market_making\", \"market\": \"BTC-USDT\", "
          "\"market_2\": \"BTC-USDT\"}", "market_2: not used by avellaneda_market_making" },
        { "{\"type\": \"amm_arb\", \"connector\": \"a\", \"market\": \"BTC-USDT\"}",
          "connector_2: required: amm_arb trades two venues" },
        { "{\"type\": \"amm_arb\", \"connector\": \"a\", \"market\": \"BTC-USDT\", "
          "\"connector_2\": \"b\"}", "market_2: required: amm_arb trades two venues" },
        { "{\"type\": \"amm_arb\", \"connector\": \"a\", \"market\": \"BTC-USDT\", "
          "\"connector_2\": \"zz\", \"market_2\": \"BTC-USDT\"}",
          "connector_2: no connector named \"zz\"" },
        { "{\"type\": \"amm_arb\", \"connector\": \"a\", \"market\": \"BTC-USDT\", "
          "\"connector_2\": \"a\", \"market_2\": \"BTC-USDT\"}",
          "connector_2: must differ from connector" },
        { "{\"type\": \"amm_arb\", \"connector\": \"a\", \"market\": \"BTC-USDT\", "
          "\"connector_2\": \"b\", \"market_2\": \"BTC-USDT\"}",
          "connector_2: amm_arb needs an amm connector" },
        { "{\"type\": \"amm_arb\", \"connector\": \"a\", \"market\": \"BTC-USDT\", "
          "\"connector_2\": 3, \"market_2\": \"BTC-USDT\"}", "connector_2: " },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        err[0] = '\0';
        cr_expect_eq(call("strategy.create", cases[i].params, NULL, err, sizeof(err)),
                     CLB_EINVAL, "case %zu: %s", i, err);
        cr_expect(strstr(err, cases[i].needle) == err, "case %zu: \"%s\" does not start with "
                  "\"%s\"", i, err, cases[i].needle);
    }
    s0 = snap("strategies");
    char after[64];
    snprintf(after, sizeof(after), "%zu", json_array_size(s0));
    json_decref(s0);
    cr_expect_str_eq(after, before, "a refused strategy was created");
    /* one-market strategies without the keys are unchanged */
    json_t *r = call_ok("strategy.create", "{\"type\": \"pure_market_making\", \"connector\": "
                        "\"b\", \"market\": \"BTC-USDT\"}");
    cr_expect_null(json_object_get(r, "connector_2"));
    json_decref(r);
    stop_engine();
}

/* amm_arb between a paper market and an amm connector whose gateway does
 * not answer: created and bound (connector_2 and market_2 reported), its
 * start refused while the amm connector is not ready. */
Test(engine, amm_arb_binds_an_amm_connector)
{
    setenv("COLIBRI_UNI_GATEWAY_TOKEN", "tok", 1);
    cr_assert_eq(clb_log_create(NULL, CLB_LOG_INFO, &g_log), CLB_OK);
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.tick_ms = 500;
    cfg.log = g_log;
    cfg.connectors = json_loads("[{\"name\": \"paper\", \"type\": \"paper\", \"markets\": "
                                "[\"ETH-USDT\"]}, {\"name\": \"uni\", \"type\": \"amm\", "
                                "\"gateway_url\": \"http://127.0.0.1:9\", \"network\": \"anvil\", "
                                "\"address\": \"" AMM_ADDR "\", \"markets\": [\"WETH-USDC\"], "
                                "\"price_poll_ms\": 200, \"balance_poll_ms\": 200}]", 0, NULL);
    cr_assert_not_null(cfg.connectors);
    char err[512] = "";
    int rc = clb_engine_create(&cfg, &g_e, err, sizeof(err));
    json_decref(cfg.connectors);
    unsetenv("COLIBRI_UNI_GATEWAY_TOKEN");
    if (rc == CLB_EUNSUPPORTED) {
        clb_log_destroy(g_log);
        g_log = NULL;
        cr_skip_test("the amm connector is not built into colibri_server: %s", err);
    }
    cr_assert_eq(rc, CLB_OK, "create: %s", err);
    json_t *r = call_ok("strategy.create", "{\"type\": \"amm_arb\", \"connector\": \"paper\", "
                        "\"market\": \"ETH-USDT\", \"connector_2\": \"uni\", \"market_2\": "
                        "\"WETH-USDC\", \"params\": {\"order_amount\": 0.1}}");
    cr_expect_str_eq(json_string_value(json_object_get(r, "connector_2")), "uni");
    cr_expect_str_eq(json_string_value(json_object_get(r, "market_2")), "WETH-USDC");
    cr_expect_str_eq(json_string_value(json_object_get(r, "state")), "created");
    char id[64];
    snprintf(id, sizeof(id), "{\"id\": %" JSON_INTEGER_FORMAT "}",
             json_integer_value(json_object_get(r, "id")));
    json_decref(r);
    sleep_ms(300);
    cr_expect_eq(call("strategy.start", id, NULL, err, sizeof(err)), CLB_ENOTREADY, "%s", err);
    cr_expect(strstr(err, "connector \"uni\" (connector_2) is not ready") != NULL, "%s", err);
    json_t *st = snap("status");
    json_t *conns = json_object_get(st, "connectors");
    cr_expect_eq(json_array_size(conns), 2);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(conns, 1), "type")),
                     "amm");
    json_decref(st);
    r = call_ok("strategy.delete", id);
    json_decref(r);
    stop_engine();
}

#ifdef HAVE_SIMEX
/* ---- the binance connector against colibri-simex ---- */

static void *simex_main(void *arg)
{
    clb_simex_run(arg);
    return NULL;
}

/* A member of the first element of snapshot `name` whose "name" is conn. */
static json_t *conn_entry(const char *snapshot, const char *conn)
{
    json_t *s = snap(snapshot);
    json_t *arr = json_is_array(s) ? s : json_object_get(s, "connectors");
    json_t *found = NULL;
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "name")), conn) == 0)
            found = json_incref(x);
    }
    json_decref(s);
    cr_assert_not_null(found, "no connector %s in %s", conn, snapshot);
    return found;
}

/* The state of an order in the "orders" snapshot, "" when absent. */
static void order_state(const char *cid, char *out, size_t cap, char *xid, size_t xcap)
{
    json_t *o = snap("orders");
    size_t i;
    json_t *x;
    out[0] = '\0';
    json_array_foreach(o, i, x) {
        if (strcmp(json_string_value(json_object_get(x, "client_order_id")), cid) == 0) {
            snprintf(out, cap, "%s", json_string_value(json_object_get(x, "state")));
            if (xid)
                snprintf(xid, xcap, "%s", json_string_value(json_object_get(x,
                                                                 "exchange_order_id")));
        }
    }
    json_decref(o);
}

static bool wait_order_state(const char *cid, const char *want, double timeout_s)
{
    char st[32];
    double t0 = now_s();
    do {
        order_state(cid, st, sizeof(st), NULL, 0);
        if (strcmp(st, want) == 0)
            return true;
        sleep_ms(50);
    } while (now_s() - t0 < timeout_s);
    return false;
}

Test(engine, binance_against_simex)
{
    struct clb_simex_config sc;
    clb_simex_config_default(&sc);
    sc.port = 0;
    sc.quiet = true;
    sc.seed = 11;
    cr_assert_eq(clb_simex_config_add_account(&sc, "TESTKEY:TESTSECRET"), CLB_OK);
    struct clb_simex *sx = NULL;
    char err[512] = "";
    cr_assert_eq(clb_simex_create(&sc, &sx, err, sizeof(err)), CLB_OK, "simex: %s", err);
    int port = clb_simex_port(sx);
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, simex_main, sx), 0);

    setenv("COLIBRI_BN_API_KEY", "TESTKEY", 1);
    setenv("COLIBRI_BN_API_SECRET", "TESTSECRET", 1);
    char conns[1024];
    snprintf(conns, sizeof(conns),
             "[{\"name\": \"bn\", \"type\": \"binance\", \"markets\": [\"BTC-USDT\"], "
             "\"rest_url\": \"http://127.0.0.1:%d\", \"stream_url\": \"ws://127.0.0.1:%d\", "
             "\"ws_api_url\": \"ws://127.0.0.1:%d/ws-api/v3\", \"client_id_prefix\": \"e5t-\"}, "
             "{\"name\": \"pp\", \"type\": \"paper\", \"markets\": [\"ETH-USDT\"]}]",
             port, port, port);
    FILE *log_file = tmpfile(); /* the engine's sink is its "logs" topic: the stream is ours */
    cr_assert_not_null(log_file);
    cr_assert_eq(clb_log_create(log_file, CLB_LOG_INFO, &g_log), CLB_OK);
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.tick_ms = 200;
    cfg.log = g_log;
    /* an order of an earlier run in a market bn no longer trades: the
     * connector says so, through the engine's log */
    struct clb_order_restore old_order = {
        .params = { .client_order_id = "e5t-gone1", .market = "ETH-USDT", .side = CLB_SIDE_BUY,
                    .type = CLB_ORDER_LIMIT, .price = clb_dec_make(1000, 0),
                    .amount = clb_dec_make(1, 0) },
        .state = CLB_ORDER_OPEN,
    };
    struct clb_engine_conn_start bn_start = { .connector = "bn", .restore = &old_order,
                                              .n_restore = 1 };
    cfg.conn_start = &bn_start;
    cfg.n_conn_start = 1;
    cfg.connectors = json_loads(conns, 0, NULL);
    cr_assert_not_null(cfg.connectors);
    int rc = clb_engine_create(&cfg, &g_e, err, sizeof(err));
    json_decref(cfg.connectors);
    if (rc == CLB_EUNSUPPORTED) {
        clb_simex_stop(sx);
        pthread_join(th, NULL);
        clb_simex_destroy(sx);
        clb_log_destroy(g_log);
        g_log = NULL;
        cr_skip_test("the binance connector is not built: %s", err);
    }
    cr_assert_eq(rc, CLB_OK, "create: %s", err);
    char *logged = log_text(log_file);
    fseek(log_file, 0, SEEK_END);
    cr_assert(strstr(logged, " WARN connector bn: order e5t-gone1 of an earlier run not "
                             "restored: market ETH-USDT is not configured\n") != NULL,
              "the connector's log line is not in the engine's log:\n%s", logged);
    free(logged);

    /* Listed as an exchange connector (no paper latency). */
    json_t *c = conn_entry("connectors", "bn");
    cr_assert_str_eq(json_string_value(json_object_get(c, "type")), "binance");
    cr_assert_str_eq(json_string_value(json_object_get(c, "source")), "exchange");
    cr_assert_null(json_object_get(c, "latency_ms"));
    json_decref(c);

    /* Ready: rules, balances, book and user stream from the simulator. */
    double t0 = now_s();
    bool ready = false;
    while (!ready && now_s() - t0 < 30) {
        c = conn_entry("status", "bn");
        ready = json_is_true(json_object_get(c, "ready"));
        json_decref(c);
        if (!ready)
            sleep_ms(100);
    }
    cr_assert(ready, "binance connector not ready within 30 s");
    c = conn_entry("connectors", "bn");
    json_t *st = json_object_get(c, "stats");
    cr_assert(json_integer_value(json_object_get(st, "rest_requests")) > 0);
    cr_assert(json_is_true(json_object_get(json_object_get(c, "streams"), "market")));
    cr_assert(json_is_true(json_object_get(json_object_get(c, "streams"), "user")));
    cr_assert(json_is_object(json_object_get(c, "tick_to_order")));
    const char *sk;
    json_t *sv;
    json_object_foreach(st, sk, sv)
        cr_assert(json_is_integer(sv), "stats.%s is not an integer", sk);
    cr_assert(json_is_number(json_object_get(c, "maker_fee")), "fees from the exchange");
    json_decref(c);

    /* The book reaches the snapshots. */
    double bid = 0;
    t0 = now_s();
    while (bid <= 0 && now_s() - t0 < 10) {
        json_t *b = clb_engine_snapshot(g_e, "book:bn:BTC-USDT");
        json_t *l0 = json_array_get(json_object_get(b, "bids"), 0);
        if (l0)
            bid = strtod(json_string_value(json_array_get(l0, 0)), NULL);
        json_decref(b);
        if (bid <= 0)
            sleep_ms(100);
    }
    cr_assert(bid > 0, "no bids in book:bn:BTC-USDT");
    /* the paper connector beside it keeps being fed while the worker waits
     * in the network loop */
    json_t *pb = snap("book:pp:ETH-USDT");
    json_int_t u0 = json_integer_value(json_object_get(pb, "update_id"));
    json_decref(pb);
    json_int_t u1 = u0;
    t0 = now_s();
    while (u1 == u0 && now_s() - t0 < 5) {
        sleep_ms(50);
        pb = snap("book:pp:ETH-USDT");
        u1 = json_integer_value(json_object_get(pb, "update_id"));
        json_decref(pb);
    }
    cr_assert(u1 > u0, "the paper book stopped moving");
    /* the account's balances, republished every tick */
    double usdt = 0;
    t0 = now_s();
    while (usdt == 0 && now_s() - t0 < 5) {
        json_t *bal = snap("balances");
        size_t bi;
        json_t *bx;
        json_array_foreach(bal, bi, bx) {
            if (strcmp(json_string_value(json_object_get(bx, "connector")), "bn") == 0 &&
                strcmp(json_string_value(json_object_get(bx, "asset")), "USDT") == 0)
                usdt = strtod(json_string_value(json_object_get(bx, "total")), NULL);
        }
        json_decref(bal);
        if (usdt == 0)
            sleep_ms(50);
    }
    cr_assert_float_eq(usdt, 1000000.0, 1e-6, "the simulator's USDT balance, not %f", usdt);
    cr_assert_eq(metric_sum("gauges", "colibri_connector_ready", "connector", "bn"), 1.0);

    /* A manual limit buy well below the market: created, then cancelled. */
    uint64_t cursor = clb_engine_feed_head(g_e);
    char p[256];
    snprintf(p, sizeof(p), "{\"connector\": \"bn\", \"market\": \"BTC-USDT\", \"side\": "
             "\"buy\", \"type\": \"limit\", \"price\": \"%.2f\", \"amount\": \"0.001\"}",
             bid * 0.95);
    json_t *r = call_ok("order.create", p);
    char cid[64];
    snprintf(cid, sizeof(cid), "%s", json_string_value(json_object_get(r, "client_order_id")));
    json_decref(r);
    cr_assert(strncmp(cid, "e5t-", 4) == 0, "client order id %s lacks the prefix", cid);
    cr_assert(wait_order_state(cid, "open", 10), "order %s never open", cid);
    char state[32], xid[64];
    order_state(cid, state, sizeof(state), xid, sizeof(xid));
    cr_assert(xid[0] != '\0', "no exchange order id");
    snprintf(p, sizeof(p), "{\"connector\": \"bn\", \"client_order_id\": \"%s\"}", cid);
    json_decref(call_ok("order.cancel", p));
    cr_assert(wait_order_state(cid, "canceled", 10), "order %s never cancelled", cid);
    bool seen_created = false, seen_cancelled = false;
    json_t *evs[256];
    bool gap;
    size_t n;
    while ((n = clb_engine_feed_read(g_e, &cursor, evs, 256, &gap)) > 0) {
        for (size_t i = 0; i < n; i++) {
            json_t *d = json_object_get(evs[i], "data");
            if (strcmp(json_string_value(json_object_get(evs[i], "topic")), "orders") == 0 &&
                strcmp(json_string_value(json_object_get(d, "client_order_id")), cid) == 0) {
                const char *k = json_string_value(json_object_get(d, "event"));
                seen_created = seen_created || strcmp(k, "created") == 0;
                seen_cancelled = seen_cancelled || strcmp(k, "cancelled") == 0;
            }
            json_decref(evs[i]);
        }
    }
    cr_assert(seen_created && seen_cancelled, "order events: created %d cancelled %d",
              seen_created, seen_cancelled);
    /* the metrics snapshot follows the orders one within a publication */
    t0 = now_s();
    while (metric_sum("counters", "colibri_orders_cancelled_total", "connector", "bn") < 1 &&
           now_s() - t0 < 5)
        sleep_ms(20);
    cr_assert(metric_sum("counters", "colibri_orders_cancelled_total", "connector", "bn") >= 1);
    cr_assert(metric_sum("counters", "colibri_exchange_requests_total", "connector", "bn") > 0);
    json_t *m = snap("metrics");
    bool hist = false;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(m, "histograms"), i, x)
        hist = hist || strcmp(json_string_value(json_object_get(x, "name")),
                              "colibri_tick_to_order_seconds") == 0;
    cr_assert(hist, "no tick-to-order histogram");
    /* ... rendered for Prometheus with nothing skipped */
    char *text = NULL;
    size_t len = 0, skipped = 0;
    cr_assert_eq(clb_metrics_render(&m, 1, &text, &len, &skipped), CLB_OK);
    json_decref(m);
    cr_assert_eq(skipped, 0);
    cr_assert(strstr(text, "colibri_tick_to_order_seconds_bucket{connector=\"bn\",le=\"+Inf\"}"),
              "%.2000s", text);
    cr_assert(strstr(text, "colibri_stream_up{connector=\"bn\",stream=\"user\"} 1"));
    cr_assert(strstr(text, "colibri_book_resyncs_total{connector=\"bn\"}"));
    free(text);

    /* A market maker on the exchange quotes; shutdown cancels its orders. */
    json_t *sr = call_ok("strategy.create",
                         "{\"type\": \"pure_market_making\", \"connector\": \"bn\", "
                         "\"market\": \"BTC-USDT\", \"start\": true, \"params\": "
                         "{\"bid_spread\": 0.01, \"ask_spread\": 0.01, \"order_amount\": 0.001, "
                         "\"order_refresh_time\": 5}}");
    json_int_t id = json_integer_value(json_object_get(sr, "id"));
    json_decref(sr);
    int live = 0, all = 0;
    t0 = now_s();
    while (live < 2 && now_s() - t0 < 10) {
        sleep_ms(100);
        count_orders(id, &live, &all);
    }
    cr_assert(live >= 2, "the strategy has %d live orders on the exchange", live);
    clb_engine_shutdown(g_e, 5000);
    count_orders(id, &live, &all);
    cr_assert_eq(live, 0, "strategy orders left live after shutdown");
    stop_engine();
    fclose(log_file);
    clb_simex_stop(sx);
    pthread_join(th, NULL);
    clb_simex_destroy(sx);
}
#endif
