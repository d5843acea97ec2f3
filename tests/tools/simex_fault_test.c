/* Tests for colibri-simex's faults (tools/simex): each fault produces
 * exactly its documented behaviour, faults replay from a seed, and the
 * control routes (/sim/faults, /sim/reset, /sim/market) plus TLS work. */
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "simex_util.h"

static const char *sval(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    cr_assert(v, "missing string '%s'", k);
    return v;
}

static int64_t ival(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_integer(v), "missing integer '%s'", k);
    return json_integer_value(v);
}

static void start(struct sxt *t)
{
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(t, &cfg);
}

static const char *LIMIT_BUY =
    "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=50000";

static int64_t place(struct sxt *t, const char *params)
{
    struct sxt_http r;
    sxt_signed(t, "POST", "/api/v3/order", params, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    int64_t id = ival(r.json, "orderId");
    sxt_http_free(&r);
    return id;
}

/* The simulator's truth about one order. */
static const char *sim_status(struct sxt *t, int64_t id, char *buf, size_t cap)
{
    struct sxt_http r;
    sxt_http(t, "GET", "/sim/orders", NULL, NULL, 0, &r);
    size_t i;
    json_t *o;
    buf[0] = '\0';
    json_array_foreach(json_object_get(r.json, "orders"), i, o)
        if (ival(o, "orderId") == id)
            snprintf(buf, cap, "%s", sval(o, "status"));
    sxt_http_free(&r);
    return buf;
}

static size_t sim_order_count(struct sxt *t)
{
    struct sxt_http r;
    sxt_http(t, "GET", "/sim/orders", NULL, NULL, 0, &r);
    size_t n = json_array_size(json_object_get(r.json, "orders"));
    sxt_http_free(&r);
    return n;
}

/* ------------------------------------------------------------------------ */

Test(faults, latency_and_jitter_delay_responses_only)
{
    struct sxt t;
    start(&t);
    struct sxt_http r;
    sxt_sim_post(&t, "/sim/faults", "{\"latency_ms\":300}");
    sxt_http(&t, "GET", "/api/v3/ping", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 200);
    cr_assert(r.secs >= 0.29 && r.secs < 1.0, "took %.3f s", r.secs);
    sxt_http_free(&r);
    /* /sim routes are never delayed */
    sxt_http(&t, "GET", "/sim/faults", NULL, NULL, 0, &r);
    cr_assert_lt(r.secs, 0.2);
    cr_assert_eq(ival(r.json, "latency_ms"), 300);
    sxt_http_free(&r);
    /* WS-API responses too */
    struct sxt_ws *w = sxt_ws_open(t.port, "/ws-api/v3");
    cr_assert(w);
    int64_t t0 = sxt_now_ms();
    sxt_ws_send(w, "{\"id\":1,\"method\":\"ping\"}");
    json_t *m = sxt_ws_recv_json(w, 2000);
    cr_assert(m);
    cr_assert_geq(sxt_now_ms() - t0, 290);
    cr_assert_eq(ival(m, "status"), 200);
    json_decref(m);
    sxt_ws_close(w);
    /* jitter: uniform in [latency, latency + jitter) */
    sxt_sim_post(&t, "/sim/faults", "{\"latency_ms\":0,\"jitter_ms\":200}");
    double lo = 1e9, hi = 0;
    for (int i = 0; i < 10; i++) {
        sxt_http(&t, "GET", "/api/v3/ping", NULL, NULL, 0, &r);
        cr_assert_lt(r.secs, 0.35);
        lo = r.secs < lo ? r.secs : lo;
        hi = r.secs > hi ? r.secs : hi;
        sxt_http_free(&r);
    }
    cr_assert_gt(hi - lo, 0.03, "no jitter: %.3f..%.3f", lo, hi);
    sxt_stop(&t);
}

Test(faults, http_5xx_before_execution_replays_from_a_seed)
{
    struct sxt t;
    start(&t);
    struct sxt_http r;
    sxt_sim_post(&t, "/sim/faults", "{\"http_5xx_rate\":1}");
    sxt_http(&t, "GET", "/api/v3/ping", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 503);
    cr_assert_eq(sxt_code(&r), -1001);
    sxt_http_free(&r);
    sxt_signed(&t, "POST", "/api/v3/order", LIMIT_BUY, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 503);
    sxt_http_free(&r);
    cr_assert_eq(sim_order_count(&t), 0, "a 5xx before execution placed an order");
    /* half the requests, in a pattern fixed by the seed */
    char pattern[2][41];
    for (int run = 0; run < 2; run++) {
        sxt_sim_post(&t, "/sim/faults", "{\"http_5xx_rate\":0.5,\"seed\":42}");
        for (int i = 0; i < 40; i++) {
            sxt_http(&t, "GET", "/api/v3/time", NULL, NULL, 0, &r);
            cr_assert(r.status == 200 || r.status == 503);
            pattern[run][i] = r.status == 503 ? 'x' : '.';
            sxt_http_free(&r);
        }
        pattern[run][40] = '\0';
    }
    cr_assert_str_eq(pattern[0], pattern[1]);
    int fails = 0;
    for (int i = 0; i < 40; i++)
        fails += pattern[0][i] == 'x';
    cr_assert(fails >= 8 && fails <= 32, "%s", pattern[0]);
    sxt_stop(&t);
}

Test(faults, http_5xx_after_commit_executes_then_fails)
{
    struct sxt t;
    start(&t);
    struct sxt_http r;
    sxt_sim_post(&t, "/sim/faults", "{\"http_5xx_commit_rate\":1}");
    sxt_signed(&t, "POST", "/api/v3/order", LIMIT_BUY, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 503);
    cr_assert_eq(sxt_code(&r), -1006);
    sxt_http_free(&r);
    cr_assert_eq(sim_order_count(&t), 1, "the order must exist: the outcome was unknown");
    /* reads are not affected */
    sxt_signed(&t, "GET", "/api/v3/openOrders", "symbol=BTCUSDT", SXT_ALICE, SXT_ALICE_SECRET,
               false, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_eq(json_array_size(r.json), 1);
    int64_t id = ival(json_array_get(r.json, 0), "orderId");
    sxt_http_free(&r);
    /* a failed mutation (unknown order) is not committed, so answered as is */
    sxt_signed(&t, "DELETE", "/api/v3/order", "symbol=BTCUSDT&orderId=999999", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 400);
    cr_assert_eq(sxt_code(&r), -2011);
    sxt_http_free(&r);
    char p[128], st[32];
    snprintf(p, sizeof(p), "symbol=BTCUSDT&orderId=%" PRId64, id);
    sxt_signed(&t, "DELETE", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 503);
    sxt_http_free(&r);
    cr_assert_str_eq(sim_status(&t, id, st, sizeof(st)), "CANCELED");
    sxt_stop(&t);
}

Test(faults, timeout_after_commit_never_answers)
{
    struct sxt t;
    start(&t);
    struct sxt_ws *w = sxt_ws_open(t.port, "/ws-api/v3");
    cr_assert(w);
    struct sxt_http r;
    sxt_sim_post(&t, "/sim/faults", "{\"timeout_after_commit_rate\":1}");
    char payload[256], sig[65], url[512];
    snprintf(payload, sizeof(payload), "%s&newClientOrderId=lost-1&timestamp=%lld", LIMIT_BUY,
             (long long)sxt_now_ms());
    sxt_hmac(SXT_ALICE_SECRET, payload, sig);
    snprintf(url, sizeof(url), "/api/v3/order?%s&signature=%s", payload, sig);
    sxt_http(&t, "POST", url, NULL, SXT_ALICE, 600, &r);
    cr_assert_eq(r.curl_rc, CURLE_OPERATION_TIMEDOUT, "curl %d, status %ld", r.curl_rc, r.status);
    cr_assert_eq(r.status, 0);
    sxt_http_free(&r);
    sxt_sim_post(&t, "/sim/faults", "{\"timeout_after_commit_rate\":0}");
    /* the order exists and is open: query it by its client id */
    sxt_signed(&t, "GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=lost-1", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(sval(r.json, "status"), "NEW");
    sxt_http_free(&r);
    /* the held connection is closed after timeout_hold_ms: an empty reply */
    sxt_sim_post(&t, "/sim/faults", "{\"timeout_after_commit_rate\":1,\"timeout_hold_ms\":1000}");
    snprintf(payload, sizeof(payload), "%s&timestamp=%lld", LIMIT_BUY, (long long)sxt_now_ms());
    sxt_hmac(SXT_ALICE_SECRET, payload, sig);
    snprintf(url, sizeof(url), "/api/v3/order?%s&signature=%s", payload, sig);
    sxt_http(&t, "POST", url, NULL, SXT_ALICE, 4000, &r);
    cr_assert_eq(r.curl_rc, CURLE_GOT_NOTHING, "curl %d", r.curl_rc);
    cr_assert(r.secs > 0.9 && r.secs < 3.0, "closed after %.2f s", r.secs);
    sxt_http_free(&r);
    cr_assert_eq(sim_order_count(&t), 2);
    /* a WS-API order.place under the fault: no response at all */
    sxt_sim_post(&t, "/sim/faults", "{\"timeout_after_commit_rate\":1}");
    sxt_ws_send(w, "{\"id\":\"x\",\"method\":\"ping\"}");
    json_t *m = sxt_ws_recv_json(w, 1000);
    cr_assert(m, "a ping is not a commit: answered");
    json_decref(m);
    char params[512];
    snprintf(payload, sizeof(payload),
             "apiKey=%s&price=50000&quantity=0.001&side=BUY&symbol=BTCUSDT&timeInForce=GTC&"
             "timestamp=%lld&type=LIMIT",
             SXT_ALICE, (long long)sxt_now_ms());
    sxt_hmac(SXT_ALICE_SECRET, payload, sig);
    /* the same pairs as JSON params */
    json_t *pj = json_object();
    char *save = NULL, *copy = strdup(payload);
    for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        *eq = '\0';
        json_object_set_new(pj, kv, json_string(eq + 1));
    }
    free(copy);
    json_object_set_new(pj, "signature", json_string(sig));
    json_t *req = json_pack("{s:s, s:s, s:o}", "id", "p", "method", "order.place", "params", pj);
    char *txt = json_dumps(req, JSON_COMPACT);
    snprintf(params, sizeof(params), "%s", txt);
    free(txt);
    json_decref(req);
    sxt_ws_send(w, params);
    m = sxt_ws_recv_json(w, 1000);
    cr_assert_null(m, "order.place must not be answered");
    cr_assert_eq(sim_order_count(&t), 3, "but it was placed");
    sxt_ws_close(w);
    sxt_stop(&t);
}

Test(faults, cancel_of_a_young_order_is_unknown)
{
    struct sxt t;
    start(&t);
    struct sxt_http r;
    sxt_sim_post(&t, "/sim/faults", "{\"cancel_unknown_ms\":400}");
    int64_t id = place(&t, LIMIT_BUY);
    char p[128], st[32];
    snprintf(p, sizeof(p), "symbol=BTCUSDT&orderId=%" PRId64, id);
    sxt_signed(&t, "DELETE", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 400);
    cr_assert_eq(sxt_code(&r), -2011);
    cr_assert_str_eq(sval(r.json, "msg"), "Unknown order sent.");
    sxt_http_free(&r);
    cr_assert_str_eq(sim_status(&t, id, st, sizeof(st)), "NEW", "the order must still be open");
    sxt_sleep_ms(450);
    sxt_signed(&t, "DELETE", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    sxt_http_free(&r);
    cr_assert_str_eq(sim_status(&t, id, st, sizeof(st)), "CANCELED");
    sxt_stop(&t);
}

Test(faults, stale_reads_after_cancel)
{
    struct sxt t;
    start(&t);
    struct sxt_http r;
    sxt_sim_post(&t, "/sim/faults", "{\"stale_read_ms\":500}");
    int64_t id = place(&t, LIMIT_BUY);
    char p[128], st[32];
    snprintf(p, sizeof(p), "symbol=BTCUSDT&orderId=%" PRId64, id);
    sxt_signed(&t, "DELETE", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 200);
    cr_assert_str_eq(sval(r.json, "status"), "CANCELED");
    sxt_http_free(&r);
    sxt_signed(&t, "GET", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_str_eq(sval(r.json, "status"), "NEW", "a stale read shows the order still NEW");
    cr_assert(json_is_true(json_object_get(r.json, "isWorking")));
    sxt_http_free(&r);
    cr_assert_str_eq(sim_status(&t, id, st, sizeof(st)), "CANCELED");
    sxt_sleep_ms(550);
    sxt_signed(&t, "GET", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_str_eq(sval(r.json, "status"), "CANCELED");
    sxt_http_free(&r);
    sxt_stop(&t);
}

Test(faults, websockets_disconnect_every_n_ms)
{
    struct sxt t;
    start(&t);
    sxt_sim_post(&t, "/sim/faults", "{\"ws_disconnect_every_ms\":400}");
    struct sxt_ws *a = sxt_ws_open(t.port, "/ws/btcusdt@trade");
    struct sxt_ws *b = sxt_ws_open(t.port, "/ws-api/v3");
    cr_assert(a && b);
    int64_t t0 = sxt_now_ms();
    while (!sxt_ws_closed(a) && sxt_now_ms() - t0 < 3000)
        sxt_ws_pump(a, 20);
    int64_t dt = sxt_now_ms() - t0;
    cr_assert(sxt_ws_closed(a));
    cr_assert(dt >= 350 && dt < 1200, "closed after %" PRId64 " ms", dt);
    cr_assert_eq(sxt_ws_close_code(a), 1001);
    sxt_ws_pump(b, 600);
    cr_assert(sxt_ws_closed(b));
    sxt_ws_close(a);
    sxt_ws_close(b);
    struct sxt_http r;
    sxt_http(&t, "GET", "/sim/market", NULL, NULL, 0, &r);
    cr_assert_geq(ival(r.json, "wsDisconnects"), 2);
    sxt_http_free(&r);
    sxt_stop(&t);
}

Test(faults, dropped_depth_messages_leave_sequence_gaps)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.symbols[0].live = true;
    cfg.faults.depth_drop_rate = 0.5;
    sxt_start(&t, &cfg);
    struct sxt_ws *w = sxt_ws_open(t.port, "/ws/btcusdt@depth@100ms");
    cr_assert(w);
    uint64_t prev_u = 0;
    int gaps = 0, events = 0;
    int64_t until = sxt_now_ms() + 5000;
    while (events < 12 && sxt_now_ms() < until) {
        json_t *m = sxt_ws_recv_json(w, 500);
        if (!m)
            continue;
        uint64_t U = (uint64_t)ival(m, "U"), u = (uint64_t)ival(m, "u");
        if (prev_u && U != prev_u + 1) {
            cr_assert_gt(U, prev_u + 1);
            gaps++;
        }
        prev_u = u;
        events++;
        json_decref(m);
    }
    cr_assert_geq(events, 12);
    cr_assert_gt(gaps, 0);
    struct sxt_http r;
    sxt_http(&t, "GET", "/sim/market", NULL, NULL, 0, &r);
    cr_assert_gt(ival(r.json, "depthMessagesDropped"), 0);
    sxt_http_free(&r);
    sxt_ws_close(w);
    sxt_stop(&t);
}

Test(faults, server_shutdown_events_then_disconnect)
{
    struct sxt t;
    start(&t);
    struct sxt_ws *a = sxt_ws_open(t.port, "/stream?streams=btcusdt@trade");
    struct sxt_ws *b = sxt_ws_open(t.port, "/ws-api/v3");
    cr_assert(a && b);
    sxt_sim_post(&t, "/sim/faults", "{\"shutdown_grace_ms\":300,\"server_shutdown\":true}");
    json_t *m = sxt_ws_recv_json(a, 1000);
    cr_assert(m);
    cr_assert_str_eq(sval(m, "e"), "serverShutdown");
    cr_assert_gt(ival(m, "E"), 0);
    json_decref(m);
    m = sxt_ws_recv_json(b, 1000);
    cr_assert(m);
    cr_assert_str_eq(sval(json_object_get(m, "event"), "e"), "serverShutdown");
    json_decref(m);
    cr_assert_not(sxt_ws_closed(a));
    sxt_ws_pump(a, 700);
    sxt_ws_pump(b, 100);
    cr_assert(sxt_ws_closed(a));
    cr_assert(sxt_ws_closed(b));
    cr_assert_eq(sxt_ws_close_code(a), 1001);
    sxt_ws_close(a);
    sxt_ws_close(b);
    /* periodic */
    sxt_sim_post(&t, "/sim/faults", "{\"shutdown_every_ms\":300,\"shutdown_grace_ms\":5000}");
    a = sxt_ws_open(t.port, "/ws/btcusdt@trade");
    cr_assert(a);
    m = sxt_ws_recv_json(a, 1500);
    cr_assert(m);
    cr_assert_str_eq(sval(m, "e"), "serverShutdown");
    json_decref(m);
    sxt_ws_close(a);
    sxt_stop(&t);
}

Test(faults, clock_skew_moves_server_time_and_timestamp_checks)
{
    struct sxt t;
    start(&t);
    struct sxt_http r;
    sxt_sim_post(&t, "/sim/faults", "{\"clock_skew_ms\":-3000}");
    sxt_http(&t, "GET", "/api/v3/time", NULL, NULL, 0, &r);
    int64_t diff = ival(r.json, "serverTime") - sxt_now_ms();
    cr_assert(diff > -3200 && diff < -2800, "skew %" PRId64, diff);
    sxt_http_free(&r);
    /* the client's clock is now 3 s ahead of the server's */
    sxt_signed(&t, "GET", "/api/v3/account", "", SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(sxt_code(&r), -1021);
    cr_assert_str_eq(sval(r.json, "msg"),
                     "Timestamp for this request was 1000ms ahead of the server's time.");
    sxt_http_free(&r);
    /* a client that synchronised with /time passes */
    char p[64];
    snprintf(p, sizeof(p), "timestamp=%lld", (long long)(sxt_now_ms() + diff));
    sxt_signed(&t, "GET", "/api/v3/account", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    sxt_http_free(&r);
    sxt_sim_post(&t, "/sim/faults", "{\"clock_skew_ms\":7000}");
    sxt_signed(&t, "GET", "/api/v3/account", "", SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_str_eq(sval(r.json, "msg"), "Timestamp for this request is outside of the recvWindow.");
    sxt_http_free(&r);
    sxt_stop(&t);
}

/* ------------------------------------------------------------------------ */
/* Control routes                                                            */

Test(control, faults_route_validates_and_reset_restores)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.faults.stale_read_ms = 123;
    sxt_start(&t, &cfg);
    struct sxt_http r;
    sxt_http(&t, "POST", "/sim/faults", "{\"latncy_ms\":5}", NULL, 0, &r);
    cr_assert_eq(r.status, 400);
    cr_assert(strstr(sval(r.json, "msg"), "latncy_ms"));
    sxt_http_free(&r);
    sxt_http(&t, "POST", "/sim/faults", "{\"depth_drop_rate\":2}", NULL, 0, &r);
    cr_assert_eq(r.status, 400);
    sxt_http_free(&r);
    sxt_http(&t, "POST", "/sim/faults", "not json", NULL, 0, &r);
    cr_assert_eq(r.status, 400);
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/sim/nothing", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 404);
    sxt_http_free(&r);
    /* trade, then reset: fresh ledger, history, faults from the config */
    place(&t, "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=60000");
    sxt_signed(&t, "POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01",
               SXT_BOB, SXT_BOB_SECRET, false, &r);
    cr_assert_eq(r.status, 200);
    sxt_http_free(&r);
    sxt_sim_post(&t, "/sim/faults", "{\"latency_ms\":250}");
    struct sxt_ws *w = sxt_ws_open(t.port, "/ws/btcusdt@trade");
    cr_assert(w);
    sxt_sim_post(&t, "/sim/reset", "{\"seed\":5}");
    cr_assert_eq(sim_order_count(&t), 0);
    sxt_http(&t, "GET", "/sim/trades", NULL, NULL, 0, &r);
    cr_assert_eq(json_array_size(json_object_get(r.json, "trades")), 0);
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/sim/faults", NULL, NULL, 0, &r);
    cr_assert_eq(ival(r.json, "latency_ms"), 0);
    cr_assert_eq(ival(r.json, "stale_read_ms"), 123);
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/sim/accounts", NULL, NULL, 0, &r);
    json_t *bal = json_object_get(json_array_get(json_object_get(r.json, "accounts"), 1),
                                  "balances");
    cr_assert_str_eq(sval(json_array_get(bal, 0), "total"), "10.00000000");
    sxt_http_free(&r);
    sxt_ws_pump(w, 300);
    cr_assert(sxt_ws_closed(w), "reset closes every WebSocket");
    sxt_ws_close(w);
    /* the exchange still works after a reset */
    place(&t, LIMIT_BUY);
    sxt_stop(&t);
}

Test(control, generated_ids_and_fault_draws_follow_the_seed)
{
    char ids[2][64];
    for (int run = 0; run < 2; run++) {
        struct sxt t;
        start(&t);
        struct sxt_http r;
        sxt_signed(&t, "POST", "/api/v3/order", LIMIT_BUY, SXT_ALICE, SXT_ALICE_SECRET, false,
                   &r);
        snprintf(ids[run], sizeof(ids[run]), "%s", sval(r.json, "clientOrderId"));
        cr_assert_eq(strlen(ids[run]), 22);
        sxt_http_free(&r);
        sxt_stop(&t);
    }
    cr_assert_str_eq(ids[0], ids[1]);
}

Test(control, market_pause_freezes_the_book)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.symbols[1].live = true;
    sxt_start(&t, &cfg);
    sxt_sleep_ms(200);
    struct sxt_http r;
    sxt_http(&t, "POST", "/sim/market", "{\"paused\":true}", NULL, 0, &r);
    cr_assert(json_is_true(json_object_get(r.json, "paused")));
    int64_t id1 = ival(json_array_get(json_object_get(r.json, "symbols"), 1), "updateId");
    cr_assert_gt(id1, 0);
    sxt_http_free(&r);
    sxt_sleep_ms(400);
    sxt_http(&t, "GET", "/sim/market", NULL, NULL, 0, &r);
    cr_assert_eq(ival(json_array_get(json_object_get(r.json, "symbols"), 1), "updateId"), id1);
    sxt_http_free(&r);
    sxt_sim_post(&t, "/sim/market", "{\"paused\":false}");
    sxt_sleep_ms(400);
    sxt_http(&t, "GET", "/sim/market", NULL, NULL, 0, &r);
    cr_assert_gt(ival(json_array_get(json_object_get(r.json, "symbols"), 1), "updateId"), id1);
    sxt_http_free(&r);
    sxt_stop(&t);
}

static size_t sink(char *d, size_t s, size_t n, void *ud)
{
    (void)d;
    (void)ud;
    return s * n;
}

Test(control, tls_with_a_generated_certificate)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.tls = true;
    sxt_start(&t, &cfg);
    const char *cert = clb_simex_cert_path(t.sim);
    cr_assert(cert);
    CURL *c = curl_easy_init();
    char url[128];
    snprintf(url, sizeof(url), "https://localhost:%d/api/v3/ping", t.port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, cert);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    int rc = (int)curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    cr_assert_eq(rc, CURLE_OK, "curl: %s", curl_easy_strerror((CURLcode)rc));
    cr_assert_eq(status, 200);
    sxt_stop(&t);
}
