/*
 * Crash recovery of the paper venue (server/recovery.c), end to end: the
 * built `colibri serve` runs a pure_market_making strategy on paper
 * BTC-USDT (SQLite store in a temporary data directory, ephemeral ports)
 * until the store holds new fills, is SIGKILLed at a random (seeded)
 * moment, and restarts. After every restart: no order of the instance is
 * open in the store (the restarted venue holds none; those open at the
 * crash end final: by a record the killed run had queued, written first, or
 * CANCELED by recovery with a history row), every trade the engine reported
 * just before the kill is a stored fill, fills are unique per (connector,
 * market, trade id), and the engine's balances (GET /api/v1/balances) are
 * exactly the configured start plus the effect of the stored fills. New
 * fills after each restart must reach the store, which fails if the
 * restarted venue reused trade ids (they would be dropped as duplicates).
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
#include "error.h"
#include "order_tracker.h"
#include "store/store.h"

#include "serve_child.h"

#define ROUNDS 3       /* kill/restart cycles */

static void setup(void)
{
    serve_child_setup("/tmp/clb_recovery_XXXXXX");
}

TestSuite(recovery, .init = setup, .fini = serve_child_teardown, .timeout = 120);

/* Configured start + the effect of the fills, in BTC and USDT. */
static void expected_balances(const struct fills *fs, clb_dec *btc, clb_dec *usdt)
{
    cr_assert_eq(clb_dec_parse_cstr("1", btc), CLB_OK);
    cr_assert_eq(clb_dec_parse_cstr("100000", usdt), CLB_OK);
    for (size_t i = 0; i < fs->n; i++) {
        const struct clb_store_fill *f = &fs->v[i];
        cr_assert_str_eq(f->market, "BTC-USDT");
        clb_dec notional;
        cr_assert_eq(clb_dec_mul(f->price, f->amount, &notional), CLB_OK);
        if (f->side == CLB_SIDE_BUY) {
            cr_assert_eq(clb_dec_add(*btc, f->amount, btc), CLB_OK);
            cr_assert_eq(clb_dec_sub(*usdt, notional, usdt), CLB_OK);
        } else {
            cr_assert_eq(clb_dec_sub(*btc, f->amount, btc), CLB_OK);
            cr_assert_eq(clb_dec_add(*usdt, notional, usdt), CLB_OK);
        }
        if (clb_dec_is_zero(f->fee))
            continue;
        if (strcmp(f->fee_asset, "BTC") == 0)
            cr_assert_eq(clb_dec_sub(*btc, f->fee, btc), CLB_OK);
        else if (strcmp(f->fee_asset, "USDT") == 0)
            cr_assert_eq(clb_dec_sub(*usdt, f->fee, usdt), CLB_OK);
        else
            cr_assert_fail("fee in %s", f->fee_asset);
    }
}

/* The engine's total of asset on connector "paper" (decimal string). */
static bool engine_total(int port, const char *asset, clb_dec *out)
{
    static char body[1 << 16];
    if (curl_api(port, "GET", "/api/v1/balances", NULL, body, sizeof(body)) != 0)
        return false;
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    cr_assert_not_null(j, "balances: %s", body);
    json_t *arr = json_object_get(j, "balances"), *b;
    size_t i;
    bool found = false;
    json_array_foreach(arr, i, b) {
        if (strcmp(json_string_value(json_object_get(b, "connector")), "paper") == 0 &&
            strcmp(json_string_value(json_object_get(b, "asset")), asset) == 0) {
            cr_assert_eq(clb_dec_parse_cstr(json_string_value(json_object_get(b, "total")), out),
                         CLB_OK);
            found = true;
        }
    }
    json_decref(j);
    return found;
}

/* Every trade the running engine reports (this run's, GET /api/v1/trades)
 * is in the store under its trade id with the same order: a reused trade
 * id would have been dropped as a duplicate of an older fill. Polls up to
 * 5 s for the writer. Returns how many trades the engine reported. */
/* The engine's trades (GET /api/v1/trades, the latest 1000). */
static json_t *fetch_trades(int port)
{
    static char body[1 << 20];
    cr_assert_eq(curl_api(port, "GET", "/api/v1/trades?limit=1000", NULL, body, sizeof(body)),
                 0, "GET /api/v1/trades: %.300s", body);
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    cr_assert_not_null(j, "trades: %.300s", body);
    cr_assert(json_is_array(json_object_get(j, "trades")), "%.300s", body);
    return j;
}

/* Every trade of j (fetch_trades) is a fill in the store, on its order
 * (retried for up to 5 s: the writer commits in batches). Returns how many
 * were checked. */
static size_t trades_stored(json_t *j, struct fills *fs, const char *when)
{
    json_t *arr = json_object_get(j, "trades"), *t;
    size_t i, missing = 0;
    const char *what = "";
    for (int attempt = 0; attempt < 50; attempt++) {
        load_fills(fs);
        missing = 0;
        json_array_foreach(arr, i, t) {
            const char *tid = json_string_value(json_object_get(t, "trade_id"));
            const char *cid = json_string_value(json_object_get(t, "client_order_id"));
            cr_assert(tid && cid, "%s: a trade without ids", when);
            bool ok = false;
            for (size_t k = 0; k < fs->n && !ok; k++)
                ok = strcmp(fs->v[k].trade_id, tid) == 0 &&
                     strcmp(fs->v[k].client_order_id, cid) == 0;
            if (!ok) {
                missing++;
                what = tid;
            }
        }
        if (missing == 0)
            break;
        sleep_ms(100);
    }
    cr_assert_eq(missing, 0, "%s: %zu trade(s) of the engine not in the store, e.g. trade %s",
                 when, missing, what);
    return json_array_size(arr);
}

static size_t check_trades_stored(int port, struct fills *fs)
{
    json_t *j = fetch_trades(port);
    size_t n = trades_stored(j, fs, "while running");
    json_decref(j);
    return n;
}

/* Every order the running engine reports (GET /api/v1/orders) has one
 * life in the store's history: a client order id reused from an earlier
 * run would show two tracking starts. Returns how many orders were seen. */
static size_t check_orders_unique(int port)
{
    static char body[1 << 20];
    cr_assert_eq(curl_api(port, "GET", "/api/v1/orders?status=all&limit=1000", NULL, body,
                          sizeof(body)),
                 0, "GET /api/v1/orders: %.300s", body);
    json_error_t je;
    json_t *j = json_loads(body, 0, &je);
    cr_assert_not_null(j, "orders: %.300s", body);
    json_t *arr = json_object_get(j, "orders"), *o;
    cr_assert(json_is_array(arr), "%.300s", body);
    struct clb_store *st = open_db();
    size_t i, checked = 0;
    json_array_foreach(arr, i, o) {
        const char *cid = json_string_value(json_object_get(o, "client_order_id"));
        cr_assert_not_null(cid);
        struct last_state ls = { -1, 0, 0, 0 };
        cr_assert_eq(clb_store_order_history(st, cid, on_hist, &ls), CLB_OK);
        if (ls.rows == 0)
            continue; /* not written yet */
        cr_assert_eq(ls.starts, 1, "order %s has %zu lives in the store", cid, ls.starts);
        checked++;
    }
    clb_store_close(st);
    json_decref(j);
    return checked;
}

/* Creates and starts the strategy; tight spreads so it fills quickly.
 * Returns its id. */
static long long start_strategy(int port)
{
    char body[4096];
    int rc = curl_api(port, "POST", "/api/v1/strategies",
                      "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", "
                      "\"name\": \"mm\", \"start\": true, \"params\": {\"bid_spread\": 0.005, "
                      "\"ask_spread\": 0.005, \"order_amount\": 0.01, \"order_levels\": 3, "
                      "\"order_level_spread\": 0.005, \"order_refresh_time\": 1, "
                      "\"filled_order_delay\": 0}}",
                      body, sizeof(body));
    cr_assert_eq(rc, 0, "POST /api/v1/strategies: %s", body);
    json_t *j = json_loads(body, 0, NULL);
    long long id = json_integer_value(json_object_get(j, "id"));
    json_decref(j);
    cr_assert_gt(id, 0, "%s", body);
    return id;
}

/* The serve config: paper BTC-USDT with fees and latency. */
static void write_config(bool resume)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/config.json", g_dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"tick_ms\": 100, \"seed\": 7, \"resume_strategies\": %s,\n"
            " \"connectors\": [{\"name\": \"paper\", \"type\": \"paper\", "
            "\"markets\": [\"BTC-USDT\"], \"maker_fee\": 0.001, \"taker_fee\": 0.002, "
            "\"latency_ms\": 5}],\n"
            " \"balances\": {\"BTC\": \"1\", \"USDT\": \"100000\"}}\n",
            resume ? "true" : "false");
    fclose(f);
}

Test(recovery, sigkill_restart_keeps_orders_fills_and_balances_consistent)
{
    /* no strategy after a restart: the store alone must be consistent */
    write_config(false);

    static struct clb_store_fill fill_buf[SERVE_MAX_FILLS];
    struct fills fs = { .v = fill_buf };
    static struct open_orders oo;
    uint64_t rng = UINT64_C(0x5eed5eed);
    size_t fills_before = 0, total_closed = 0;
    double t0 = now_s();
    int port = start_serve();
    long long last_id = 0;
    for (int round = 0; round < ROUNDS; round++) {
        /* strategy ids go on across restarts: no row of an earlier run is
         * taken over */
        long long id = start_strategy(port);
        cr_assert_gt(id, last_id, "round %d: strategy id %lld after %lld", round, id, last_id);
        last_id = id;
        /* Run until the store holds new fills (fails if the venue reused
         * trade ids: the store would drop them as duplicates). */
        double tw = now_s();
        while (load_fills(&fs) <= fills_before && now_s() - tw < 20)
            sleep_ms(100);
        cr_assert_gt(fs.n, fills_before, "round %d: no new fill stored within 20 s", round);
        size_t traded = check_trades_stored(port, &fs);
        cr_assert_gt(traded, 0);
        cr_assert_gt(check_orders_unique(port), 0);
        /* ...then SIGKILL at a random moment, right after asking for the
         * engine's trades: those the writer had not committed yet are in
         * its queue file and must reach the store at the restart. */
        sleep_ms((int)(splitmix64(&rng) % 1500));
        json_t *before_kill = fetch_trades(port);
        cr_assert_eq(kill(g_child, SIGKILL), 0);
        waitpid(g_child, NULL, 0);
        g_child = 0;
        load_open(&oo);
        size_t open_at_crash = oo.n;
        static struct open_orders crashed;
        crashed = oo;

        port = start_serve();
        trades_stored(before_kill, &fs, "after the restart");
        json_decref(before_kill);
        load_fills(&fs);
        fills_before = fs.n;

        /* 1. Nothing open in the store (the venue holds nothing yet: no
         *    strategy runs after a restart). Those the store had open at the
         *    crash end in a final state: by a record the killed run had
         *    queued (written first at the restart), or CANCELED by a history
         *    row with the recovery's reason. */
        load_open(&oo);
        cr_assert_eq(oo.n, 0, "round %d: %zu order(s) still open, e.g. %s", round, oo.n,
                     oo.n ? oo.ids[0] : "");
        struct clb_store *st = open_db();
        for (size_t i = 0; i < crashed.n; i++) {
            struct last_state ls = { -1, 0, 0, 0 };
            cr_assert_eq(clb_store_order_history(st, crashed.ids[i], on_hist, &ls), CLB_OK);
            cr_assert(clb_order_state_is_terminal((enum clb_order_state)ls.state),
                      "%s ends in state %d", crashed.ids[i], ls.state);
            if (ls.reason == CLB_ENOTFOUND)
                cr_assert_eq(ls.state, CLB_ORDER_CANCELED, "%s", crashed.ids[i]);
        }
        clb_store_close(st);
        total_closed += open_at_crash;

        /* 2. Fills unique per (connector, market, trade id). */
        static struct clb_store_fill sorted[SERVE_MAX_FILLS];
        memcpy(sorted, fs.v, fs.n * sizeof(*sorted));
        qsort(sorted, fs.n, sizeof(*sorted), cmp_fill_key);
        for (size_t i = 1; i < fs.n; i++)
            cr_assert_neq(cmp_fill_key(&sorted[i - 1], &sorted[i]), 0, "duplicate trade %s",
                          sorted[i].trade_id);

        /* 3. Balances = configured start + stored fills, exactly. */
        clb_dec want_btc, want_usdt, got_btc, got_usdt;
        expected_balances(&fs, &want_btc, &want_usdt);
        bool have = false;
        for (int k = 0; k < 50 && !have; k++) {
            have = engine_total(port, "BTC", &got_btc) && engine_total(port, "USDT", &got_usdt);
            if (!have)
                sleep_ms(100);
        }
        cr_assert(have, "no balances from the restarted engine");
        char a[64], b[64];
        clb_dec_format(want_btc, a, sizeof(a));
        clb_dec_format(got_btc, b, sizeof(b));
        cr_assert_eq(clb_dec_cmp(want_btc, got_btc), 0, "round %d BTC: want %s, got %s", round,
                     a, b);
        clb_dec_format(want_usdt, a, sizeof(a));
        clb_dec_format(got_usdt, b, sizeof(b));
        cr_assert_eq(clb_dec_cmp(want_usdt, got_usdt), 0, "round %d USDT: want %s, got %s",
                     round, a, b);
        cr_log_info("round %d: %zu fills stored, %zu open orders closed, USDT %s", round, fs.n,
                    open_at_crash, a);
    }
    /* The last run placed and filled again after its restart. */
    start_strategy(port);
    double tw = now_s();
    while (load_fills(&fs) <= fills_before && now_s() - tw < 20)
        sleep_ms(100);
    cr_assert_gt(fs.n, fills_before, "no fill stored after the last restart");
    check_trades_stored(port, &fs);
    check_orders_unique(port);
    cr_assert_eq(kill(g_child, SIGTERM), 0);
    waitpid(g_child, NULL, 0);
    g_child = 0;
    char err[4096];
    err_tail(err, sizeof(err));
    cr_log_info("recovery test: %zu fills, %zu orders closed by recovery, %.1f s", fs.n,
                total_closed, now_s() - t0);
    cr_assert(now_s() - t0 < 90, "took %.1f s", now_s() - t0);
}

/* GET /api/v1/strategies: the number listed, and the state and bid_spread
 * of the one with id (state "" when it is not listed). */
static size_t list_strategies(int port, long long id, char *state, size_t cap, double *bid_spread)
{
    char body[16384];
    cr_assert_eq(curl_api(port, "GET", "/api/v1/strategies", NULL, body, sizeof(body)), 0, "%s",
                 body);
    json_t *j = json_loads(body, 0, NULL);
    cr_assert_not_null(j, "%s", body);
    json_t *a = json_object_get(j, "strategies"), *s;
    size_t i, n = json_array_size(a);
    state[0] = '\0';
    json_array_foreach(a, i, s) {
        if (json_integer_value(json_object_get(s, "id")) != id)
            continue;
        snprintf(state, cap, "%s", json_string_value(json_object_get(s, "state")));
        *bid_spread = json_number_value(json_object_get(json_object_get(s, "params"),
                                                        "bid_spread"));
    }
    json_decref(j);
    return n;
}

/* Waits until strategy id is listed as running and has an open order. */
static void wait_resumed(int port, long long id, const char *when)
{
    char state[32] = "", body[65536], path[128];
    double bid = 0;
    double t0 = now_s();
    while (now_s() - t0 < 10) {
        list_strategies(port, id, state, sizeof(state), &bid);
        if (strcmp(state, "running") == 0)
            break;
        sleep_ms(100);
    }
    cr_assert_str_eq(state, "running", "%s: strategy %lld not resumed", when, id);
    cr_assert_float_eq(bid, 0.006, 1e-12, "%s: the resumed strategy lost its parameters", when);
    snprintf(path, sizeof(path), "/api/v1/orders?status=open&strategy=%lld", id);
    bool placed = false;
    for (t0 = now_s(); !placed && now_s() - t0 < 10; sleep_ms(100)) {
        cr_assert_eq(curl_api(port, "GET", path, NULL, body, sizeof(body)), 0, "%s", body);
        json_t *j = json_loads(body, 0, NULL);
        placed = json_array_size(json_object_get(j, "orders")) > 0;
        json_decref(j);
    }
    cr_assert(placed, "%s: resumed strategy %lld placed no order", when, id);
}

static void sigterm_child(void)
{
    int status = 0;
    cr_assert_eq(kill(g_child, SIGTERM), 0);
    waitpid(g_child, &status, 0);
    g_child = 0;
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "serve exit status %d", status);
}

Test(recovery, running_strategies_resume_after_a_crash_and_a_shutdown)
{
    char body[4096], path[128];
    write_config(true);
    int port = start_serve();
    long long a = start_strategy(port);
    /* its parameters changed while it runs: the resume must use the new ones */
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld", a);
    cr_assert_eq(curl_api(port, "PATCH", path, "{\"params\": {\"bid_spread\": 0.006}}", body,
                          sizeof(body)), 0, "%s", body);
    /* one created and never started, one started then stopped: neither resumes */
    cr_assert_eq(curl_api(port, "POST", "/api/v1/strategies",
                          "{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", "
                          "\"name\": \"idle\", \"start\": false}", body, sizeof(body)), 0,
                 "%s", body);
    long long c = start_strategy(port);
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld/stop", c);
    cr_assert_eq(curl_api(port, "POST", path, NULL, body, sizeof(body)), 0, "%s", body);
    sleep_ms(500); /* the writer commits the strategies' rows */

    /* 1. a crash: the running one comes back with its id and parameters */
    cr_assert_eq(kill(g_child, SIGKILL), 0);
    waitpid(g_child, NULL, 0);
    g_child = 0;
    port = start_serve();
    wait_resumed(port, a, "after SIGKILL");
    char state[32];
    double bid = 0;
    cr_assert_eq(list_strategies(port, a, state, sizeof(state), &bid), 1,
                 "only the running strategy resumes");
    static char err[16384];
    char want[64];
    snprintf(want, sizeof(want), "strategy %lld (mm) resumed", a);
    err_tail(err, sizeof(err));
    cr_assert(strstr(err, want) != NULL, "no \"%s\" logged:\n%s", want, err);

    /* 2. a clean shutdown stops it, and the next start resumes it again */
    sigterm_child();
    port = start_serve();
    wait_resumed(port, a, "after SIGTERM");

    /* 3. stopped through the API, it stays stopped */
    snprintf(path, sizeof(path), "/api/v1/strategies/%lld/stop", a);
    cr_assert_eq(curl_api(port, "POST", path, NULL, body, sizeof(body)), 0, "%s", body);
    sigterm_child();
    port = start_serve();
    sleep_ms(500);
    cr_assert_eq(list_strategies(port, a, state, sizeof(state), &bid), 0,
                 "a stopped strategy resumed (%s)", state);
    /* new ids go on after every stored one */
    long long d = start_strategy(port);
    cr_assert_gt(d, c);
    sigterm_child();
}
