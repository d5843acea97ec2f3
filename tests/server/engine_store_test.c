/*
 * Tests of the engine's persistence wiring (server/engine.c with a store
 * writer, and `colibri serve` opening the store): orders, state changes and
 * fills reach the store through the writer and match the engine's own
 * snapshots; while the store is unavailable new orders are refused (manual
 * ones with CLB_ENOTREADY, a strategy's place() silently) and trading
 * resumes when it is back; serve creates and migrates DATA_DIR/colibri.db.
 *
 * Every test uses SQLite in a fresh temporary directory. Times are real
 * (the simulated market moves at wall-clock speed), so the strategy uses
 * tight spreads to fill within seconds, as in engine_test.c.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "decimal.h"
#include "engine.h"
#include "error.h"
#include "log.h"
#include "order_tracker.h"
#include "recovery.h"
#include "store/store.h"
#include "store/store_writer.h"

#include "harness.h"

static char g_dir[256];
static char g_url[512];
static struct clb_log *g_log;
static struct clb_engine *g_e;
static struct clb_store_writer *g_w;
static pid_t g_child;
static uint32_t g_strategy_id_base; /* for the next start() */

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_engine_store_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
    if (g_child > 0) {
        kill(g_child, SIGKILL);
        waitpid(g_child, NULL, 0);
        g_child = 0;
    }
    if (g_e) {
        clb_engine_shutdown(g_e, 3000);
        clb_engine_destroy(g_e);
        g_e = NULL;
    }
    clb_store_writer_destroy(g_w);
    g_w = NULL;
    clb_log_destroy(g_log);
    g_log = NULL;
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(engine_store, .init = setup, .fini = teardown, .timeout = 90);

static void quiet_log(void *ud, enum clb_store_log_level level, const char *msg)
{
    (void)ud;
    (void)level;
    (void)msg;
}

/* A writer on `url` (retrying fast) and an engine feeding it. */
static void start(const char *url)
{
    snprintf(g_url, sizeof(g_url), "%s", url);
    struct clb_store_writer_options wo;
    clb_store_writer_options_init(&wo);
    wo.store.url = g_url;
    wo.reconnect_min_ms = 20;
    wo.reconnect_max_ms = 100;
    wo.batch_ms = 10;
    wo.log = quiet_log;
    char err[256] = "";
    cr_assert_eq(clb_store_writer_create(&wo, &g_w, err, sizeof(err)), CLB_OK, "%s", err);

    cr_assert_eq(clb_log_create(NULL, CLB_LOG_INFO, &g_log), CLB_OK);
    struct clb_engine_config cfg;
    clb_engine_config_default(&cfg);
    cfg.tick_ms = 500;
    cfg.seed = 7;
    cfg.log = g_log;
    cfg.store_writer = g_w;
    cfg.store_backend = "sqlite";
    cfg.strategy_id_base = g_strategy_id_base;
    cr_assert_eq(clb_engine_create(&cfg, &g_e, err, sizeof(err)), CLB_OK, "create: %s", err);
}

static int call(const char *method, const char *params, json_t **res, char *err, size_t errlen)
{
    json_t *p = params ? json_loads(params, 0, NULL) : NULL;
    cr_assert(params == NULL || p != NULL, "bad test JSON %s", params);
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
    return r;
}

static json_t *snap(const char *name)
{
    json_t *s = clb_engine_snapshot(g_e, name);
    cr_assert_not_null(s, "no snapshot %s", name);
    return s;
}

/* The status's "store" member, field `key`, as JSON (a new reference). */
static json_t *store_status(const char *key)
{
    json_t *st = snap("status");
    json_t *v = json_object_get(json_object_get(st, "store"), key);
    cr_assert_not_null(v, "status.store.%s missing", key);
    json_incref(v);
    json_decref(st);
    return v;
}

static bool store_available(void)
{
    json_t *v = store_status("available");
    bool b = json_is_true(v);
    json_decref(v);
    return b;
}

static bool connector_ready(void)
{
    json_t *st = snap("status");
    bool r = json_is_true(json_object_get(json_array_get(json_object_get(st, "connectors"), 0),
                                          "ready"));
    json_decref(st);
    return r;
}

/* Waits up to timeout_s for pred; true if it became true. */
static bool wait_for(bool (*pred)(void), double timeout_s)
{
    double t0 = now_s();
    while (now_s() - t0 < timeout_s) {
        if (pred())
            return true;
        sleep_ms(20);
    }
    return pred();
}

static double metric(const char *kind, const char *name)
{
    json_t *m = snap("metrics");
    double v = -1;
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(m, kind), i, x) {
        if (strcmp(json_string_value(json_object_get(x, "name")), name) == 0)
            v = json_number_value(json_object_get(x, "value"));
    }
    json_decref(m);
    return v;
}

/* The gauge as the metrics snapshot has it: the worker publishes that
 * snapshot just after the status one, so it may trail it by a moment. */
static bool store_available_metric(void)
{
    return metric("gauges", "colibri_store_available") == 1.0;
}

/* Live and all orders of one strategy in the "orders" snapshot. */
static void count_orders(json_int_t strategy, int *live, int *all)
{
    json_t *o = snap("orders");
    size_t i;
    json_t *x;
    *live = *all = 0;
    json_array_foreach(o, i, x) {
        json_t *s = json_object_get(x, "strategy");
        if (!json_is_integer(s) || json_integer_value(s) != strategy)
            continue;
        (*all)++;
        const char *st = json_string_value(json_object_get(x, "state"));
        if (strcmp(st, "canceled") != 0 && strcmp(st, "filled") != 0 && strcmp(st, "failed") != 0)
            (*live)++;
    }
    json_decref(o);
}

static int count_trades(json_int_t strategy)
{
    json_t *tr = snap("trades");
    size_t i;
    json_t *x;
    int n = 0;
    json_array_foreach(tr, i, x) {
        json_t *s = json_object_get(x, "strategy");
        n += json_is_integer(s) && json_integer_value(s) == strategy;
    }
    json_decref(tr);
    return n;
}

static json_int_t create_pmm(void)
{
    json_t *r = call_ok("strategy.create",
                        "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", \"name\": "
                        "\"mm\", \"start\": true, \"params\": {\"bid_spread\": 0.01, "
                        "\"ask_spread\": 0.01, \"order_amount\": 0.01, \"order_refresh_time\": 2, "
                        "\"filled_order_delay\": 1}}");
    json_int_t id = json_integer_value(json_object_get(r, "id"));
    json_decref(r);
    cr_assert(id > 0);
    return id;
}

static bool dec_eq(const char *text, clb_dec d)
{
    clb_dec x;
    cr_assert_eq(clb_dec_parse_cstr(text, &x), CLB_OK, "%s", text);
    return clb_dec_cmp(x, d) == 0;
}

struct fill_scan {
    const char *trade_id;
    int matches;
    long total;
};

static int on_fill(void *ud, const struct clb_store_fill *f)
{
    struct fill_scan *fs = ud;
    fs->total++;
    if (fs->trade_id && strcmp(f->trade_id, fs->trade_id) == 0)
        fs->matches++;
    return 0;
}

static long count_rows(struct clb_store *s, const char *client_order_id, const char *trade_id,
                       int *matches)
{
    struct fill_scan fs = { .trade_id = trade_id };
    struct clb_store_query q = { .client_order_id = client_order_id, .limit = CLB_STORE_LIST_MAX };
    int64_t next = 0;
    do {
        q.cursor = next;
        cr_assert_eq(clb_store_fills_list(s, &q, on_fill, &fs, &next), CLB_OK, "%s",
                     clb_store_errmsg(s));
    } while (next != 0);
    if (matches)
        *matches = fs.matches;
    return fs.total;
}

static int on_balance(void *ud, const struct clb_store_balance *b)
{
    (void)b;
    (*(long *)ud)++;
    return 0;
}

Test(engine_store, orders_and_fills_match_the_snapshots)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite:%s/t.db", g_dir);
    start(url);
    cr_assert(wait_for(store_available, 10), "store not available");
    cr_assert(wait_for(connector_ready, 5), "connector not ready");
    json_int_t id = create_pmm();
    /* A manual order too (far from the market: it stays open, then is cancelled). */
    json_t *r = call_ok("order.create", "{\"market\": \"BTC-USDT\", \"side\": \"buy\", "
                                        "\"type\": \"limit\", \"price\": \"30000\", "
                                        "\"amount\": \"0.001\"}");
    char manual[64];
    snprintf(manual, sizeof(manual), "%s",
             json_string_value(json_object_get(r, "client_order_id")));
    json_decref(r);

    double t0 = now_s();
    while (count_trades(id) < 2 && now_s() - t0 < 30)
        sleep_ms(100);
    cr_assert(count_trades(id) >= 1, "no fill within 30 s");

    char p[128];
    snprintf(p, sizeof(p), "{\"id\": %lld}", (long long)id);
    json_decref(call_ok("strategy.stop", p));
    snprintf(p, sizeof(p), "{\"client_order_id\": \"%s\"}", manual);
    json_decref(call_ok("order.cancel", p));
    int live = 1, all = 0;
    t0 = now_s();
    while (live > 0 && now_s() - t0 < 5) {
        sleep_ms(50);
        count_orders(id, &live, &all);
    }
    cr_assert_eq(live, 0);
    sleep_ms(300); /* the manual cancel confirms after the paper latency */

    /* Shutdown flushes; the snapshots are final from then on. */
    clb_engine_shutdown(g_e, 5000);
    cr_assert_eq(clb_store_writer_flush(g_w, 5000), CLB_OK);
    struct clb_store_writer_status ws;
    clb_store_writer_status(g_w, &ws);
    cr_assert_eq(ws.failed, 0);
    cr_assert_eq(ws.dropped, 0);
    cr_assert_eq(ws.queued, 0);
    cr_assert(ws.written > 0);
    json_t *v = store_status("written");
    cr_assert(json_integer_value(v) > 0);
    json_decref(v);
    v = store_status("backend");
    cr_assert_str_eq(json_string_value(v), "sqlite");
    json_decref(v);
    cr_assert(metric("counters", "colibri_store_written_total") > 0);
    cr_assert_eq(metric("gauges", "colibri_store_available"), 1.0);
    cr_assert_eq(metric("gauges", "colibri_store_queued"), 0.0);
    cr_assert_eq(metric("counters", "colibri_store_spilled_total"), 0.0);

    struct clb_store_options so;
    clb_store_options_init(&so);
    so.url = g_url;
    struct clb_store *s = NULL;
    char err[256];
    cr_assert_eq(clb_store_open(&so, &s, err, sizeof(err)), CLB_OK, "%s", err);

    json_t *orders = snap("orders");
    cr_assert(json_array_size(orders) >= 3);
    size_t i;
    json_t *x;
    bool saw_manual = false;
    json_array_foreach(orders, i, x) {
        const char *cid = json_string_value(json_object_get(x, "client_order_id"));
        struct clb_store_order o;
        int rc = clb_store_order_get(s, cid, &o);
        cr_assert_eq(rc, CLB_OK, "order %s not stored: %s", cid, clb_err_name(rc));
        cr_assert_str_eq(clb_order_state_name(o.state),
                         json_string_value(json_object_get(x, "state")), "order %s", cid);
        cr_assert(dec_eq(json_string_value(json_object_get(x, "executed")), o.executed_base),
                  "order %s executed", cid);
        cr_assert(dec_eq(json_string_value(json_object_get(x, "amount")), o.amount));
        cr_assert_str_eq(o.connector, "paper");
        cr_assert_str_eq(o.market, json_string_value(json_object_get(x, "market")));
        json_t *st = json_object_get(x, "strategy");
        char sid[32] = "";
        if (json_is_integer(st))
            snprintf(sid, sizeof(sid), "%lld", (long long)json_integer_value(st));
        cr_assert_str_eq(o.strategy_id, sid, "order %s", cid);
        if (strcmp(cid, manual) == 0) {
            saw_manual = true;
            cr_assert_str_eq(clb_order_state_name(o.state), "canceled");
        }
    }
    cr_assert(saw_manual);
    json_decref(orders);

    json_t *trades = snap("trades");
    cr_assert(json_array_size(trades) >= 1);
    json_array_foreach(trades, i, x) {
        const char *cid = json_string_value(json_object_get(x, "client_order_id"));
        const char *tid = json_string_value(json_object_get(x, "trade_id"));
        int matches = 0;
        count_rows(s, cid, tid, &matches);
        cr_assert_eq(matches, 1, "trade %s of %s stored %d times", tid, cid, matches);
    }
    /* Nothing more than the engine saw (fewer than CLB_ENGINE_KEEP_TRADES here). */
    cr_assert_eq(count_rows(s, NULL, NULL, NULL), (long)json_array_size(trades));
    json_decref(trades);

    long balances = 0;
    struct clb_store_query q = { .limit = CLB_STORE_LIST_MAX };
    cr_assert_eq(clb_store_balances_list(s, &q, on_balance, &balances, NULL), CLB_OK);
    cr_assert(balances >= 6, "balance snapshots at start and stop: %ld", balances);
    clb_store_close(s);
}

Test(engine_store, unavailable_store_refuses_new_orders_then_resumes)
{
    /* The database's directory does not exist yet: the writer cannot connect. */
    char url[512];
    snprintf(url, sizeof(url), "sqlite:%s/later/t.db", g_dir);
    start(url);
    cr_assert(wait_for(connector_ready, 5), "connector not ready");
    sleep_ms(300);
    cr_assert_not(store_available());
    json_t *v = store_status("connected");
    cr_assert(json_is_false(v));
    json_decref(v);
    cr_assert_eq(metric("gauges", "colibri_store_available"), 0.0);

    char err[256] = "";
    const char *order = "{\"market\": \"BTC-USDT\", \"side\": \"buy\", \"type\": \"limit\", "
                        "\"price\": \"30000\", \"amount\": \"0.001\"}";
    cr_assert_eq(call("order.create", order, NULL, err, sizeof(err)), CLB_ENOTREADY);
    cr_assert_not_null(strstr(err, "store"), "%s", err);

    /* A strategy started meanwhile places nothing. */
    json_int_t id = create_pmm();
    sleep_ms(1500);
    int live, all;
    count_orders(id, &live, &all);
    cr_assert_eq(all, 0, "%d orders placed while the store was unavailable", all);
    json_t *o = snap("orders");
    cr_assert_eq(json_array_size(o), 0);
    json_decref(o);

    /* The database comes back: the writer reconnects, trading resumes. */
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/later", g_dir);
    cr_assert_eq(mkdir(dir, 0700), 0);
    cr_assert(wait_for(store_available, 10), "store not back");
    cr_assert(wait_for(store_available_metric, 2), "colibri_store_available is %g",
              metric("gauges", "colibri_store_available"));
    json_t *r = call_ok("order.create", order);
    json_decref(r);
    double t0 = now_s();
    do {
        sleep_ms(50);
        count_orders(id, &live, &all);
    } while (all == 0 && now_s() - t0 < 5);
    cr_assert(all > 0, "the strategy did not resume placing");
}

/* ---- colibri serve ---- */

static pid_t spawn_serve(void)
{
    static const char *const args[] = { "--data-dir", "data", "--listen", "127.0.0.1:0",
                                        "--ws-listen", "127.0.0.1:0", NULL };
    pid_t pid = spawn_serve_in(g_dir, args, false);
    cr_assert(pid >= 0);
    g_child = pid;
    return pid;
}

static bool file_has(const char *name, const char *needle)
{
    char path[300], buf[16384];
    snprintf(path, sizeof(path), "%s/%s", g_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return strstr(buf, needle) != NULL;
}

Test(engine_store, serve_creates_and_migrates_the_database)
{
    pid_t pid = spawn_serve();
    double t0 = now_s();
    while (!file_has("out.txt", "colibri serve ready") && now_s() - t0 < 15)
        sleep_ms(20);
    cr_assert(file_has("out.txt", "colibri serve ready"), "serve not ready");
    cr_assert(file_has("err.txt", "store: applied migration 1"));
    kill(pid, SIGTERM);
    int st = 0;
    t0 = now_s();
    while (waitpid(pid, &st, WNOHANG) == 0 && now_s() - t0 < 12)
        sleep_ms(10);
    g_child = 0;
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "serve exit status %d", st);

    char path[512];
    snprintf(path, sizeof(path), "%s/data/colibri.db", g_dir);
    struct stat sb;
    cr_assert_eq(stat(path, &sb), 0, "no %s", path);
    struct clb_store_options so;
    clb_store_options_init(&so);
    so.url = path;
    struct clb_store *s = NULL;
    char err[256];
    cr_assert_eq(clb_store_open(&so, &s, err, sizeof(err)), CLB_OK, "%s", err);
    long version = 0;
    cr_assert_eq(clb_store_schema_version(s, &version), CLB_OK);
    cr_assert(version >= 1, "schema_migrations is empty");
    cr_assert_eq(version, clb_store_embedded_version(CLB_STORE_SQLITE));
    /* The engine's balance snapshots at start and stop went through the writer. */
    long balances = 0;
    struct clb_store_query q = { .limit = CLB_STORE_LIST_MAX };
    cr_assert_eq(clb_store_balances_list(s, &q, on_balance, &balances, NULL), CLB_OK);
    cr_assert(balances >= 3, "%ld balance snapshots", balances);
    clb_store_close(s);
}

/* ---- strategies ---- */

struct strat_rows {
    struct clb_store_strategy v[8];
    char config[8][2048];
    size_t n;
};

static int on_strat(void *ud, const struct clb_store_strategy *st)
{
    struct strat_rows *rows = ud;
    if (rows->n < 8) {
        rows->v[rows->n] = *st;
        snprintf(rows->config[rows->n], sizeof(rows->config[0]), "%s",
                 st->config_json ? st->config_json : "");
        rows->v[rows->n].config_json = rows->config[rows->n];
        rows->v[rows->n].state_json = NULL;
        rows->n++;
    }
    return 0;
}

static const struct clb_store_strategy *strat_row(const struct strat_rows *rows, const char *id)
{
    for (size_t i = 0; i < rows->n; i++)
        if (strcmp(rows->v[i].id, id) == 0)
            return &rows->v[i];
    return NULL;
}

/* Every change of a strategy's status or parameters reaches the strategies
 * table; ids continue after the configured base (the recovery's highest
 * stored id), which the recovery then finds again. */
Test(engine_store, strategies_are_recorded_and_numbered_after_stored_ones)
{
    char url[512];
    snprintf(url, sizeof(url), "sqlite:%s/t.db", g_dir);
    g_strategy_id_base = 41;
    start(url);
    g_strategy_id_base = 0;
    cr_assert(wait_for(store_available, 10), "store not available");
    cr_assert(wait_for(connector_ready, 5), "connector not ready");
    json_int_t id = create_pmm();
    cr_assert_eq(id, 42, "the first strategy after base 41 is %lld", (long long)id);
    json_decref(call_ok("strategy.update", "{\"id\": 42, \"params\": {\"bid_spread\": 0.02}}"));
    json_decref(call_ok("strategy.stop", "{\"id\": 42}"));
    json_t *r = call_ok("strategy.create",
                        "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", "
                        "\"name\": \"gone\", \"params\": {}}");
    cr_assert_eq(json_integer_value(json_object_get(r, "id")), 43);
    json_decref(r);
    json_decref(call_ok("strategy.delete", "{\"id\": 43}"));
    cr_assert_eq(clb_store_writer_flush(g_w, 5000), CLB_OK);

    struct clb_store_options so;
    clb_store_options_init(&so);
    so.url = g_url;
    struct clb_store *s = NULL;
    char err[256];
    cr_assert_eq(clb_store_open(&so, &s, err, sizeof(err)), CLB_OK, "%s", err);
    static struct strat_rows rows;
    cr_assert_eq(clb_store_strategies_load(s, on_strat, &rows), CLB_OK);
    cr_assert_eq(rows.n, 2);
    const struct clb_store_strategy *a = strat_row(&rows, "42");
    cr_assert_not_null(a);
    cr_assert_str_eq(a->status, "stopped");
    cr_assert_str_eq(a->name, "mm");
    cr_assert_str_eq(a->type, "pure_market_making");
    cr_assert_str_eq(a->connector, "paper");
    cr_assert_str_eq(a->market, "BTC-USDT");
    json_t *cfg = json_loads(a->config_json, 0, NULL);
    cr_assert_not_null(cfg, "config %s", a->config_json);
    cr_assert_float_eq(json_number_value(json_object_get(cfg, "bid_spread")), 0.02, 1e-12,
                       "config %s", a->config_json);
    json_decref(cfg);
    cr_assert(a->created_ms > 0 && a->updated_ms >= a->created_ms);
    const struct clb_store_strategy *b = strat_row(&rows, "43");
    cr_assert_not_null(b);
    cr_assert_str_eq(b->status, "deleted");
    cr_assert_str_eq(b->name, "gone");

    static struct clb_recovery rec;
    cr_assert_eq(clb_recovery_run(s, NULL, 1764000000000, NULL, &rec, err, sizeof(err)), CLB_OK,
                 "%s", err);
    cr_assert_eq(rec.strategy_id_base, 43);
    clb_recovery_free(&rec);
    clb_store_close(s);
}
