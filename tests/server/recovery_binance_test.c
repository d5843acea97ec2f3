/*
 * Crash recovery against an exchange, end to end: the built `colibri serve`
 * trades BTC-USDT on colibri-simex (running in this test process, so it
 * outlives every crash) through the Binance connector, with a
 * pure_market_making strategy, a SQLite store in a temporary data
 * directory, and the simulator adding latency and answering some orders
 * with a 5xx after executing them. Each round: the strategy runs until the
 * store holds new fills, the process is SIGKILLed at a random (seeded)
 * moment, and restarts with no strategy. The restarted engine must
 * reconcile on its own (restored orders, the allOrders sweep, adoption and
 * cancellation), after which:
 *  - the simulator holds no open order of the account, and the store no
 *    open order: nothing is orphaned on either side;
 *  - every order the simulator has for the account is in the store, in the
 *    matching final state (FILLED / CANCELED);
 *  - every order the store has (but lost ones) exists on the simulator;
 *  - every simulator trade of the account is in the store's fills exactly
 *    once, on the right order with the right amount and price, and the
 *    store has no other fill;
 *  - every fill is recorded under its order's strategy, also when the
 *    order was restored after a crash.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "serve_child.h"
#include "../tools/simex_util.h"

#define ROUNDS 5 /* $COLIBRI_CRASH_ROUNDS overrides (scripts/crash-soak.sh) */
#define ACCOUNT SXT_ALICE

static uint64_t env_u64(const char *name, uint64_t def)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : def;
}

static struct sxt g_sx;
static bool g_sx_up;

static void setup(void)
{
    serve_child_setup("/tmp/clb_recovery_bn_XXXXXX");
}

static void teardown(void)
{
    serve_child_teardown();
    if (g_sx_up)
        sxt_stop(&g_sx);
    g_sx_up = false;
}

TestSuite(recovery_binance, .init = setup, .fini = teardown, .timeout = 300);

static void start_simex(void)
{
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.limits.window_ms = 60000;
    cfg.limits.request_weight = 1000000;
    cfg.limits.orders_10s = 100000;
    cfg.seed = 23;
    for (uint32_t i = 0; i < cfg.n_symbols; i++)
        cfg.symbols[i].live = true; /* a moving market: resting orders get filled */
    sxt_start(&g_sx, &cfg);
    g_sx_up = true;
    sxt_sim_post(&g_sx, "/sim/faults",
                 "{\"latency_ms\":5,\"jitter_ms\":20,\"http_5xx_commit_rate\":0.05}");
}

static void write_config(void)
{
    char p[400];
    snprintf(p, sizeof(p), "%s/config.json", g_dir);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "{\"tick_ms\": 200, \"resume_strategies\": false,\n"
            " \"connectors\": [{\"name\": \"binance\", \"type\": \"binance\", "
            "\"markets\": [\"BTC-USDT\"], \"rest_url\": \"http://127.0.0.1:%d\", "
            "\"stream_url\": \"ws://127.0.0.1:%d\", "
            "\"ws_api_url\": \"ws://127.0.0.1:%d/ws-api/v3\"}]}\n",
            g_sx.port, g_sx.port, g_sx.port);
    fclose(f);
    setenv("COLIBRI_BINANCE_API_KEY", SXT_ALICE, 1);
    setenv("COLIBRI_BINANCE_API_SECRET", SXT_ALICE_SECRET, 1);
}

/* Creates and starts the strategy once the connector is ready (the API
 * answers 503 not_ready until then). */
static void start_strategy(int port)
{
    char body[4096];
    int rc = -1;
    for (double t0 = now_s(); now_s() - t0 < 30; sleep_ms(200)) {
        rc = curl_api(port, "POST", "/api/v1/strategies",
                      "{\"type\": \"pure_market_making\", \"connector\": \"binance\", "
                      "\"market\": \"BTC-USDT\", \"name\": \"mm\", \"start\": true, "
                      "\"params\": {\"bid_spread\": 0.003, \"ask_spread\": 0.003, "
                      "\"order_amount\": 0.002, \"order_levels\": 3, "
                      "\"order_level_spread\": 0.002, \"order_refresh_time\": 1, "
                      "\"filled_order_delay\": 1}}",
                      body, sizeof(body));
        if (rc == 0 || !strstr(body, "not_ready"))
            break;
    }
    cr_assert_eq(rc, 0, "POST /api/v1/strategies: %s", body);
}

static json_t *sim_get(const char *path_query, const char *key)
{
    struct sxt_http r;
    sxt_http(&g_sx, "GET", path_query, NULL, NULL, 5000, &r);
    cr_assert_eq(r.status, 200, "GET %s -> %ld", path_query, r.status);
    json_t *j = json_incref(json_object_get(r.json, key));
    sxt_http_free(&r);
    cr_assert(json_is_array(j), "GET %s: no %s array", path_query, key);
    return j;
}

static bool sim_live(const char *status)
{
    return strcmp(status, "NEW") == 0 || strcmp(status, "PARTIALLY_FILLED") == 0;
}

static size_t sim_open_orders(void)
{
    json_t *orders = sim_get("/sim/orders?account=" ACCOUNT, "orders"), *o;
    size_t i, n = 0;
    json_array_foreach(orders, i, o)
        n += sim_live(json_string_value(json_object_get(o, "status")));
    json_decref(orders);
    return n;
}

/* Lines of every run's stderr that contain what. */
static int count_in_log(const char *what)
{
    static char all[1 << 20];
    char path[300];
    snprintf(path, sizeof(path), "%s/err.txt", g_dir);
    slurp(path, all, sizeof(all));
    int n = 0;
    for (const char *p = all; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

static int on_count(void *ud, const struct clb_store_order *o)
{
    (void)o;
    (*(size_t *)ud)++;
    return 0;
}

static size_t store_open_orders(void)
{
    size_t n = 0;
    struct clb_store *st = open_db();
    cr_assert_eq(clb_store_orders_load_open(st, NULL, on_count, &n), CLB_OK);
    clb_store_close(st);
    return n;
}

static int dec_cmp_str(clb_dec d, const char *s)
{
    clb_dec x;
    cr_assert_eq(clb_dec_parse_cstr(s, &x), CLB_OK, "decimal %s", s);
    return clb_dec_cmp(d, x);
}

/* Every stored order of the instance. */
struct orders {
    struct clb_store_order *v;
    size_t n, cap;
};

static int on_order_row(void *ud, const struct clb_store_order *o)
{
    struct orders *os = ud;
    if (os->n == os->cap) {
        os->cap = os->cap ? os->cap * 2 : 256;
        os->v = realloc(os->v, os->cap * sizeof(*os->v));
        cr_assert_not_null(os->v);
    }
    os->v[os->n++] = *o;
    return 0;
}

static void load_orders(struct orders *os)
{
    os->n = 0;
    struct clb_store *st = open_db();
    struct clb_store_query q = { .limit = CLB_STORE_LIST_MAX, .ascending = true };
    for (;;) {
        int64_t next = 0;
        cr_assert_eq(clb_store_orders_list(st, &q, on_order_row, os, &next), CLB_OK);
        if (next == 0)
            break;
        q.cursor = next;
    }
    clb_store_close(st);
}

static const struct clb_store_order *find_order(const struct orders *os, const char *cid)
{
    for (size_t i = 0; i < os->n; i++)
        if (strcmp(os->v[i].client_order_id, cid) == 0)
            return &os->v[i];
    return NULL;
}

/* The checks listed at the top; returns the number of violations (each
 * logged when verbose). */
#define LOGE(...)                                                                          \
    do {                                                                                   \
        if (verbose)                                                                       \
            cr_log_error(__VA_ARGS__);                                                     \
    } while (0)

static int check_reconciled(int round, struct fills *fs, bool verbose)
{
    static struct orders os;
    load_orders(&os);
    load_fills(fs);
    json_t *sorders = sim_get("/sim/orders?account=" ACCOUNT, "orders");
    json_t *strades = sim_get("/sim/trades?account=" ACCOUNT, "trades");
    int bad = 0;
    size_t i, n_filled = 0, n_cancelled = 0;
    json_t *o, *t;
    json_array_foreach(sorders, i, o) {
        const char *cid = json_string_value(json_object_get(o, "clientOrderId"));
        const char *st = json_string_value(json_object_get(o, "status"));
        const struct clb_store_order *so = find_order(&os, cid);
        int want = strcmp(st, "FILLED") == 0 ? CLB_ORDER_FILLED
                   : sim_live(st)            ? -1
                                             : CLB_ORDER_CANCELED;
        n_filled += want == CLB_ORDER_FILLED;
        n_cancelled += want == CLB_ORDER_CANCELED;
        if (!so) {
            LOGE("round %d: simulator order %s (%s) is not in the store", round, cid, st);
            bad++;
        } else if (want < 0 || so->state != want) {
            LOGE("round %d: order %s is %s on the simulator, %s in the store", round,
                         cid, st, clb_order_state_name(so->state));
            bad++;
        } else if (dec_cmp_str(so->executed_base,
                               json_string_value(json_object_get(o, "executedQty"))) != 0) {
            LOGE("round %d: order %s executed %s on the simulator, not in the store",
                         round, cid, json_string_value(json_object_get(o, "executedQty")));
            bad++;
        }
    }
    size_t lost = 0;
    for (size_t k = 0; k < os.n; k++) {
        bool on_sim = false;
        json_array_foreach(sorders, i, o)
            on_sim = on_sim || strcmp(json_string_value(json_object_get(o, "clientOrderId")),
                                      os.v[k].client_order_id) == 0;
        if (on_sim)
            continue;
        if (os.v[k].state == CLB_ORDER_FAILED) {
            lost++; /* never reached the simulator: lost or refused */
            continue;
        }
        LOGE("round %d: stored order %s (%s) does not exist on the simulator", round,
                     os.v[k].client_order_id, clb_order_state_name(os.v[k].state));
        bad++;
    }
    json_array_foreach(strades, i, t) {
        char tid[32];
        const char *cid = sxt_trade_ids(t, sorders, tid);
        size_t seen = 0;
        const struct clb_store_fill *hit = NULL;
        for (size_t m = 0; m < fs->n; m++)
            if (strcmp(fs->v[m].connector, "binance") == 0 &&
                strcmp(fs->v[m].trade_id, tid) == 0) {
                seen++;
                hit = &fs->v[m];
            }
        if (seen != 1) {
            LOGE("round %d: simulator trade %s (order %s) is %zu times in the store",
                         round, tid, cid ? cid : "?", seen);
            bad++;
            continue;
        }
        if (!cid || strcmp(hit->client_order_id, cid) != 0 ||
            dec_cmp_str(hit->amount, json_string_value(json_object_get(t, "qty"))) != 0 ||
            dec_cmp_str(hit->price, json_string_value(json_object_get(t, "price"))) != 0) {
            LOGE("round %d: trade %s differs (order %s in the store, %s on the "
                         "simulator)",
                         round, tid, hit->client_order_id, cid ? cid : "?");
            bad++;
        }
    }
    /* a fill carries its order's strategy, restored orders' included */
    for (size_t m = 0; m < fs->n; m++) {
        const struct clb_store_order *so = find_order(&os, fs->v[m].client_order_id);
        if (so && strcmp(so->strategy_id, fs->v[m].strategy_id) != 0) {
            LOGE("round %d: fill %s of order %s has strategy \"%s\", its order \"%s\"", round,
                 fs->v[m].trade_id, so->client_order_id, fs->v[m].strategy_id, so->strategy_id);
            bad++;
        }
    }
    if (fs->n != json_array_size(strades)) {
        LOGE("round %d: the store has %zu fills, the simulator %zu trades", round, fs->n,
                     json_array_size(strades));
        bad++;
    }
    if (verbose || bad == 0)
        cr_log_info("round %d: %zu simulator orders (%zu filled, %zu cancelled), %zu stored "
                "(%zu lost or refused), %zu trades, %zu fills, %d violation(s)",
                round, json_array_size(sorders), n_filled, n_cancelled, os.n, lost,
                json_array_size(strades), fs->n, bad);
    json_decref(sorders);
    json_decref(strades);
    return bad;
}

Test(recovery_binance, sigkill_restart_reconciles_with_the_exchange)
{
    start_simex();
    write_config();
    static struct clb_store_fill fill_buf[SERVE_MAX_FILLS];
    struct fills fs = { .v = fill_buf };
    uint64_t rng = env_u64("COLIBRI_CRASH_SEED", UINT64_C(0xb1a5ce));
    int rounds = (int)env_u64("COLIBRI_CRASH_ROUNDS", ROUNDS);
    size_t fills_before = 0;
    int port = start_serve();
    for (int round = 0; round < rounds; round++) {
        start_strategy(port);
        /* trade until the store holds new fills... */
        double tw = now_s();
        while (load_fills(&fs) <= fills_before && now_s() - tw < 60)
            sleep_ms(200);
        cr_assert_gt(fs.n, fills_before, "round %d: no new fill stored within 60 s", round);
        /* ...then SIGKILL at a random moment, orders resting and in flight */
        sleep_ms((int)(splitmix64(&rng) % 2500));
        cr_assert_eq(kill(g_child, SIGKILL), 0);
        waitpid(g_child, NULL, 0);
        g_child = 0;
        size_t sim_open_at_crash = sim_open_orders();
        size_t store_open_at_crash = store_open_orders();

        /* The restart reconciles on its own: nothing may stay open. */
        port = start_serve();
        double t0 = now_s();
        size_t so = 0, st = 0;
        while (now_s() - t0 < 60 &&
               ((so = sim_open_orders()) > 0 || (st = store_open_orders()) > 0))
            sleep_ms(250);
        static char err[8192];
        err_tail(err, sizeof(err));
        cr_assert(so == 0 && st == 0,
                  "round %d: %zu order(s) open on the simulator, %zu in the store 60 s after "
                  "the restart; stderr:\n%s",
                  round, so, st, err);
        cr_log_info("round %d: at the crash %zu open on the simulator, %zu in the store; "
                    "reconciled in %.1f s; so far %d restart(s) restored orders, %d order(s) adopted",
                    round, sim_open_at_crash, store_open_at_crash, now_s() - t0,
                    count_in_log("live order(s) of an earlier run"),
                    count_in_log("adopted order"));
        /* the writer commits in batches: give it a moment before reading */
        int bad = 0;
        for (int attempt = 0; attempt < 20; attempt++) {
            bad = check_reconciled(round, &fs, attempt == 19);
            if (bad == 0)
                break;
            sleep_ms(250);
        }
        cr_assert_eq(bad, 0, "round %d: %d violation(s), see the log", round, bad);
        fills_before = fs.n;
    }
}
