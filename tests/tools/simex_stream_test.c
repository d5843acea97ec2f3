/* Tests for colibri-simex's WebSocket side (tools/simex): the depth stream
 * against /depth snapshots with Binance's local-book algorithm, combined
 * streams, trades, bookTicker, live SUBSCRIBE, ping/pong, and the WebSocket
 * API: user-data subscription with executionReport sequences for partial
 * fills and cancels, order.place / order.cancel, errors. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "order_book.h"
#include "simex_internal.h"
#include "simex_util.h"

static const char *sval(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    cr_assert(v, "missing string '%s' in %s", k, json_dumps(o, JSON_COMPACT));
    return v;
}

static int64_t ival(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    cr_assert(json_is_integer(v), "missing integer '%s'", k);
    return json_integer_value(v);
}

static void live_config(struct clb_simex_config *cfg)
{
    sxt_config(cfg);
    cfg->symbols[0].live = true;
}

/* ------------------------------------------------------------------------ */
/* A local L2 book keyed by the price strings                                */

struct lv {
    char p[40];
    char q[40];
};

struct book {
    struct lv side[2][4096];
    int n[2];
};

static void book_set(struct book *b, int side, const char *p, const char *q)
{
    bool zero = atof(q) == 0.0;
    for (int i = 0; i < b->n[side]; i++)
        if (strcmp(b->side[side][i].p, p) == 0) {
            if (zero)
                b->side[side][i] = b->side[side][--b->n[side]];
            else
                snprintf(b->side[side][i].q, sizeof(b->side[side][i].q), "%s", q);
            return;
        }
    if (zero)
        return;
    cr_assert_lt(b->n[side], 4096);
    struct lv *l = &b->side[side][b->n[side]++];
    snprintf(l->p, sizeof(l->p), "%s", p);
    snprintf(l->q, sizeof(l->q), "%s", q);
}

static void book_apply_levels(struct book *b, int side, json_t *levels)
{
    size_t i;
    json_t *l;
    json_array_foreach(levels, i, l)
        book_set(b, side, json_string_value(json_array_get(l, 0)),
                 json_string_value(json_array_get(l, 1)));
}

static void book_from_snapshot(struct book *b, json_t *snap)
{
    b->n[0] = b->n[1] = 0;
    book_apply_levels(b, 0, json_object_get(snap, "bids"));
    book_apply_levels(b, 1, json_object_get(snap, "asks"));
}

/* Every level of a equals b's. */
static void book_assert_equal(struct book *a, struct book *b)
{
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(a->n[s], b->n[s], "side %d: %d levels vs %d", s, a->n[s], b->n[s]);
        for (int i = 0; i < a->n[s]; i++) {
            bool found = false;
            for (int j = 0; j < b->n[s] && !found; j++)
                if (strcmp(a->side[s][i].p, b->side[s][j].p) == 0) {
                    cr_assert_str_eq(a->side[s][i].q, b->side[s][j].q, "level %s",
                                     a->side[s][i].p);
                    found = true;
                }
            cr_assert(found, "level %s missing", a->side[s][i].p);
        }
    }
}

static struct book local, snap2;

Test(depth, stream_and_snapshot_build_the_same_book)
{
    struct sxt t;
    struct clb_simex_config cfg;
    live_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_ws *w = sxt_ws_open(t.port, "/ws/btcusdt@depth@100ms");
    cr_assert(w);
    /* buffer events, then take the snapshot (Binance's recipe) */
    sxt_ws_pump(w, 350);
    struct sxt_http r;
    sxt_http(&t, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 200);
    uint64_t id = (uint64_t)ival(r.json, "lastUpdateId");
    book_from_snapshot(&local, r.json);
    sxt_http_free(&r);
    bool first = true;
    int applied = 0;
    uint64_t prev_u = 0;
    int64_t until = sxt_now_ms() + 1500;
    bool paused = false;
    for (;;) {
        json_t *ev = sxt_ws_recv_json(w, 400);
        if (!ev) {
            if (paused)
                break;
            continue;
        }
        cr_assert_str_eq(sval(ev, "e"), "depthUpdate");
        cr_assert_str_eq(sval(ev, "s"), "BTCUSDT");
        uint64_t U = (uint64_t)ival(ev, "U"), u = (uint64_t)ival(ev, "u");
        cr_assert_leq(U, u);
        if (prev_u)
            cr_assert_eq(U, prev_u + 1, "gap: U=%" PRIu64 " after u=%" PRIu64, U, prev_u);
        prev_u = u;
        if (u <= id) {
            json_decref(ev);
            continue;
        }
        if (first) {
            cr_assert(U <= id + 1 && id + 1 <= u, "first event [%" PRIu64 ",%" PRIu64
                      "] does not straddle %" PRIu64, U, u, id);
            first = false;
        }
        book_apply_levels(&local, 0, json_object_get(ev, "b"));
        book_apply_levels(&local, 1, json_object_get(ev, "a"));
        id = u;
        applied++;
        json_decref(ev);
        if (!paused && sxt_now_ms() > until) {
            sxt_sim_post(&t, "/sim/market", "{\"paused\":true}");
            paused = true;
        }
    }
    cr_assert_gt(applied, 5, "only %d events applied", applied);
    sxt_http(&t, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5000", NULL, NULL, 0, &r);
    cr_assert_eq((uint64_t)ival(r.json, "lastUpdateId"), id);
    book_from_snapshot(&snap2, r.json);
    sxt_http_free(&r);
    book_assert_equal(&local, &snap2);
    cr_assert_gt(local.n[0], 10);
    sxt_ws_close(w);
    sxt_stop(&t);
}

Test(depth, user_orders_appear_in_the_stream)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_ws *w = sxt_ws_open(t.port, "/ws/ethusdt@depth");
    cr_assert(w);
    struct sxt_http r;
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.5&price=2900",
               SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    int64_t oid = ival(r.json, "orderId");
    sxt_http_free(&r);
    json_t *ev = sxt_ws_recv_json(w, 2500); /* the 1000 ms stream */
    cr_assert(ev);
    cr_assert_eq(ival(ev, "U"), 1);
    json_t *b = json_object_get(ev, "b");
    cr_assert_eq(json_array_size(b), 1);
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(b, 0), 0)),
                     "2900.00000000");
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(b, 0), 1)), "0.50000000");
    json_decref(ev);
    char p[128];
    snprintf(p, sizeof(p), "symbol=ETHUSDT&orderId=%" PRId64, oid);
    sxt_signed(&t, "DELETE", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 200);
    sxt_http_free(&r);
    ev = sxt_ws_recv_json(w, 2500);
    cr_assert(ev);
    b = json_object_get(ev, "b");
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(b, 0), 1)), "0.00000000");
    json_decref(ev);
    sxt_ws_close(w);
    sxt_stop(&t);
}

/* ------------------------------------------------------------------------ */
/* Trades, bookTicker, combined streams, control messages                    */

Test(streams, combined_trade_and_book_ticker)
{
    struct sxt t;
    struct clb_simex_config cfg;
    live_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_ws *w = sxt_ws_open(t.port, "/stream?streams=btcusdt@trade/btcusdt@bookTicker");
    cr_assert(w);
    int trades = 0, tickers = 0;
    int64_t last_trade = -1;
    int64_t until = sxt_now_ms() + 8000;
    while ((trades < 3 || tickers < 3) && sxt_now_ms() < until) {
        json_t *m = sxt_ws_recv_json(w, 500);
        if (!m)
            continue;
        const char *stream = sval(m, "stream");
        json_t *d = json_object_get(m, "data");
        cr_assert(json_is_object(d));
        if (strcmp(stream, "btcusdt@trade") == 0) {
            cr_assert_str_eq(sval(d, "e"), "trade");
            cr_assert_str_eq(sval(d, "s"), "BTCUSDT");
            int64_t tid = ival(d, "t");
            cr_assert_gt(tid, last_trade);
            last_trade = tid;
            cr_assert_gt(atof(sval(d, "p")), 0);
            cr_assert_gt(atof(sval(d, "q")), 0);
            cr_assert(json_is_boolean(json_object_get(d, "m")));
            cr_assert_gt(ival(d, "T"), 0);
            trades++;
        } else {
            cr_assert_str_eq(stream, "btcusdt@bookTicker");
            cr_assert_str_eq(sval(d, "s"), "BTCUSDT");
            cr_assert_gt(ival(d, "u"), 0);
            cr_assert_lt(atof(sval(d, "b")), atof(sval(d, "a")));
            cr_assert_gt(atof(sval(d, "B")), 0);
            cr_assert_gt(atof(sval(d, "A")), 0);
            tickers++;
        }
        json_decref(m);
    }
    cr_assert_geq(trades, 3);
    cr_assert_geq(tickers, 3);
    sxt_ws_close(w);
    sxt_stop(&t);
}

Test(streams, a_user_trade_prints_on_the_raw_trade_stream)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_ws *w = sxt_ws_open(t.port, "/ws/ethusdt@trade");
    cr_assert(w);
    struct sxt_http r;
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.2&price=3000",
               SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    sxt_http_free(&r);
    sxt_signed(&t, "POST", "/api/v3/order", "symbol=ETHUSDT&side=BUY&type=MARKET&quantity=0.05",
               SXT_BOB, SXT_BOB_SECRET, false, &r);
    int64_t tid = ival(json_array_get(json_object_get(r.json, "fills"), 0), "tradeId");
    sxt_http_free(&r);
    json_t *ev = sxt_ws_recv_json(w, 2000);
    cr_assert(ev);
    cr_assert_str_eq(sval(ev, "e"), "trade");
    cr_assert_eq(ival(ev, "t"), tid);
    cr_assert_str_eq(sval(ev, "p"), "3000.00000000");
    cr_assert_str_eq(sval(ev, "q"), "0.05000000");
    cr_assert(json_is_false(json_object_get(ev, "m")), "the buyer took: not the maker");
    json_decref(ev);
    sxt_ws_close(w);
    sxt_stop(&t);
}

Test(streams, subscribe_list_unsubscribe_and_ping)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_ws *w = sxt_ws_open(t.port, "/ws");
    cr_assert(w);
    sxt_ws_send(w, "{\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@bookTicker\","
                   "\"ethusdt@trade\"],\"id\":1}");
    json_t *m = sxt_ws_recv_json(w, 2000);
    cr_assert(m);
    cr_assert(json_is_null(json_object_get(m, "result")));
    cr_assert_eq(ival(m, "id"), 1);
    json_decref(m);
    sxt_ws_send(w, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":2}");
    m = sxt_ws_recv_json(w, 2000);
    cr_assert_eq(json_array_size(json_object_get(m, "result")), 2);
    json_decref(m);
    sxt_ws_send(w, "{\"method\":\"SUBSCRIBE\",\"params\":[\"dogeusdt@trade\"],\"id\":3}");
    m = sxt_ws_recv_json(w, 2000);
    cr_assert(json_is_object(json_object_get(m, "error")));
    json_decref(m);
    sxt_ws_send(w, "{\"method\":\"UNSUBSCRIBE\",\"params\":[\"ethusdt@trade\"],\"id\":4}");
    m = sxt_ws_recv_json(w, 2000);
    cr_assert_eq(ival(m, "id"), 4);
    json_decref(m);
    sxt_ws_send(w, "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":5}");
    m = sxt_ws_recv_json(w, 2000);
    cr_assert_eq(json_array_size(json_object_get(m, "result")), 1);
    cr_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "result"), 0)),
                     "btcusdt@bookTicker");
    json_decref(m);
    /* a user order moves the top: bookTicker arrives */
    struct sxt_http r;
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=59000",
               SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    sxt_http_free(&r);
    m = sxt_ws_recv_json(w, 2000);
    cr_assert(m);
    cr_assert_str_eq(sval(m, "b"), "59000.00000000");
    cr_assert_str_eq(sval(m, "B"), "0.00100000");
    json_decref(m);
    /* ping: the server answers pong */
    int before = sxt_ws_pongs(w);
    sxt_ws_ping(w);
    sxt_ws_pump(w, 300);
    cr_assert_eq(sxt_ws_pongs(w), before + 1);
    cr_assert_not(sxt_ws_closed(w));
    sxt_ws_close(w);
    /* unknown paths are refused at the handshake */
    cr_assert_null(sxt_ws_open(t.port, "/nope"));
    sxt_stop(&t);
}

/* ------------------------------------------------------------------------ */
/* WebSocket API                                                             */

static int cmp_pair(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Sends a signed WS-API request; `params` are "k=v" pairs already sorted by
 * key WITHOUT apiKey/timestamp (inserted in order here). */
static void ws_signed(struct sxt_ws *w, const char *id, const char *method, const char *key,
                      const char *secret, const char *const *kv, size_t n)
{
    /* collect, add apiKey and timestamp, sort, sign */
    char pairs[24][160];
    size_t np = 0;
    snprintf(pairs[np++], sizeof(pairs[0]), "apiKey=%s", key);
    snprintf(pairs[np++], sizeof(pairs[0]), "timestamp=%lld", (long long)sxt_now_ms());
    for (size_t i = 0; i < n; i++)
        snprintf(pairs[np++], sizeof(pairs[0]), "%s", kv[i]);
    qsort(pairs, np, sizeof(pairs[0]), cmp_pair);
    char payload[2048] = "", sig[65];
    json_t *params = json_object();
    for (size_t i = 0; i < np; i++) {
        if (i)
            strcat(payload, "&");
        strcat(payload, pairs[i]);
        char *eq = strchr(pairs[i], '=');
        *eq = '\0';
        json_object_set_new(params, pairs[i], json_string(eq + 1));
        *eq = '=';
    }
    sxt_hmac(secret, payload, sig);
    json_object_set_new(params, "signature", json_string(sig));
    json_t *req = json_pack("{s:s, s:s, s:o}", "id", id, "method", method, "params", params);
    char *txt = json_dumps(req, JSON_COMPACT);
    sxt_ws_send(w, txt);
    free(txt);
    json_decref(req);
}

/* Messages read while looking for something else, in arrival order. */
static json_t *stash[256];
static int n_stash;

static json_t *next_msg(struct sxt_ws *w, int timeout_ms)
{
    if (n_stash > 0) {
        json_t *m = stash[0];
        memmove(stash, stash + 1, (size_t)(--n_stash) * sizeof(stash[0]));
        return m;
    }
    return sxt_ws_recv_json(w, timeout_ms);
}

/* The response with this id; other messages are kept for next_event. */
static json_t *ws_response(struct sxt_ws *w, const char *id)
{
    int64_t until = sxt_now_ms() + 3000;
    while (sxt_now_ms() < until) {
        json_t *m = sxt_ws_recv_json(w, 200);
        if (!m)
            continue;
        json_t *mid = json_object_get(m, "id");
        if (json_is_string(mid) && strcmp(json_string_value(mid), id) == 0)
            return m;
        cr_assert_lt(n_stash, 256);
        stash[n_stash++] = m;
    }
    cr_assert_fail("no response to %s", id);
    return NULL;
}

/* The next user-data event of type e (others are skipped); NULL on timeout. */
static json_t *next_event(struct sxt_ws *w, const char *e, int timeout_ms)
{
    int64_t until = sxt_now_ms() + timeout_ms;
    while (sxt_now_ms() < until || n_stash > 0) {
        json_t *m = next_msg(w, 200);
        if (!m)
            continue;
        json_t *ev = json_object_get(m, "event");
        if (ev && strcmp(sval(ev, "e"), e) == 0) {
            json_incref(ev);
            json_decref(m);
            return ev;
        }
        json_decref(m);
    }
    return NULL;
}

static struct sxt_ws *user_stream(struct sxt *t, const char *key, const char *secret)
{
    struct sxt_ws *w = sxt_ws_open(t->port, "/ws-api/v3");
    cr_assert(w);
    ws_signed(w, "sub", "userDataStream.subscribe.signature", key, secret, NULL, 0);
    json_t *m = ws_response(w, "sub");
    cr_assert_eq(ival(m, "status"), 200, "%s", json_dumps(m, 0));
    cr_assert_eq(ival(json_object_get(m, "result"), "subscriptionId"), 0);
    cr_assert(json_is_array(json_object_get(m, "rateLimits")));
    json_decref(m);
    return w;
}

Test(wsapi, execution_reports_for_partial_fill_and_cancel)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_ws *w = user_stream(&t, SXT_ALICE, SXT_ALICE_SECRET);
    struct sxt_http r;
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.003&price=60000&"
               "newClientOrderId=ask-1",
               SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    int64_t oid = ival(r.json, "orderId");
    sxt_http_free(&r);
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=60000",
               SXT_BOB, SXT_BOB_SECRET, false, &r);
    int64_t tid = ival(json_array_get(json_object_get(r.json, "fills"), 0), "tradeId");
    sxt_http_free(&r);
    char p[128];
    snprintf(p, sizeof(p), "symbol=BTCUSDT&orderId=%" PRId64 "&newClientOrderId=cxl-1", oid);
    sxt_signed(&t, "DELETE", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 200);
    sxt_http_free(&r);
    /* every message, in order */
    const char *want_x[] = { "NEW", "TRADE", "CANCELED" };
    const char *want_X[] = { "NEW", "PARTIALLY_FILLED", "CANCELED" };
    int reports = 0, positions = 0;
    bool position_after_each = true;
    int64_t until = sxt_now_ms() + 3000;
    while ((reports < 3 || positions < 3) && sxt_now_ms() < until) {
        json_t *m = next_msg(w, 300);
        if (!m)
            continue;
        cr_assert_eq(ival(m, "subscriptionId"), 0);
        json_t *ev = json_object_get(m, "event");
        const char *e = sval(ev, "e");
        if (strcmp(e, "outboundAccountPosition") == 0) {
            position_after_each = position_after_each && positions == reports - 1;
            positions++;
            json_t *bal = json_object_get(ev, "B");
            cr_assert_eq(json_array_size(bal), 2);
            json_t *btc = json_array_get(bal, 0);
            cr_assert_str_eq(sval(btc, "a"), "BTC");
            const char *want_locked[] = { "0.00300000", "0.00200000", "0.00000000" };
            cr_assert_str_eq(sval(btc, "l"), want_locked[positions - 1]);
            json_decref(m);
            continue;
        }
        cr_assert_str_eq(e, "executionReport");
        cr_assert_lt(reports, 3);
        cr_assert_str_eq(sval(ev, "s"), "BTCUSDT");
        cr_assert_eq(ival(ev, "i"), oid);
        cr_assert_str_eq(sval(ev, "S"), "SELL");
        cr_assert_str_eq(sval(ev, "o"), "LIMIT");
        cr_assert_str_eq(sval(ev, "f"), "GTC");
        cr_assert_str_eq(sval(ev, "q"), "0.00300000");
        cr_assert_str_eq(sval(ev, "p"), "60000.00000000");
        cr_assert_str_eq(sval(ev, "x"), want_x[reports]);
        cr_assert_str_eq(sval(ev, "X"), want_X[reports]);
        cr_assert_str_eq(sval(ev, "r"), "NONE");
        if (reports == 0) {
            cr_assert_str_eq(sval(ev, "c"), "ask-1");
            cr_assert_str_eq(sval(ev, "z"), "0.00000000");
            cr_assert_eq(ival(ev, "t"), -1);
            cr_assert(json_is_null(json_object_get(ev, "N")));
            cr_assert(json_is_true(json_object_get(ev, "w")));
        } else if (reports == 1) {
            cr_assert_str_eq(sval(ev, "l"), "0.00100000");
            cr_assert_str_eq(sval(ev, "z"), "0.00100000");
            cr_assert_str_eq(sval(ev, "L"), "60000.00000000");
            cr_assert_str_eq(sval(ev, "n"), "0.06000000");
            cr_assert_str_eq(sval(ev, "N"), "USDT");
            cr_assert_str_eq(sval(ev, "Y"), "60.00000000");
            cr_assert_str_eq(sval(ev, "Z"), "60.00000000");
            cr_assert_eq(ival(ev, "t"), tid);
            cr_assert(json_is_true(json_object_get(ev, "m")));
        } else {
            cr_assert_str_eq(sval(ev, "c"), "cxl-1");
            cr_assert_str_eq(sval(ev, "C"), "ask-1");
            cr_assert_str_eq(sval(ev, "z"), "0.00100000");
            cr_assert(json_is_false(json_object_get(ev, "w")));
        }
        reports++;
        json_decref(m);
    }
    cr_assert_eq(reports, 3);
    cr_assert_eq(positions, 3);
    cr_assert(position_after_each, "outboundAccountPosition follows each executionReport");
    /* bob's activity reached nobody else: nothing more queued for alice */
    cr_assert_null(sxt_ws_recv(w, 300));
    sxt_ws_close(w);
    sxt_stop(&t);
}

Test(wsapi, order_place_cancel_status_and_errors)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_ws *w = user_stream(&t, SXT_BOB, SXT_BOB_SECRET);
    const char *place[] = { "newClientOrderId=ws-1", "price=2500", "quantity=1", "side=BUY",
                            "symbol=ETHUSDT", "timeInForce=GTC", "type=LIMIT" };
    ws_signed(w, "p1", "order.place", SXT_BOB, SXT_BOB_SECRET, place, 7);
    json_t *m = ws_response(w, "p1");
    cr_assert_eq(ival(m, "status"), 200, "%s", json_dumps(m, 0));
    json_t *res = json_object_get(m, "result");
    cr_assert_str_eq(sval(res, "clientOrderId"), "ws-1");
    cr_assert_str_eq(sval(res, "status"), "NEW");
    json_t *rl = json_object_get(m, "rateLimits");
    cr_assert_eq(json_array_size(rl), 3, "REQUEST_WEIGHT and two ORDERS entries");
    cr_assert_eq(ival(json_array_get(rl, 1), "count"), 1);
    json_decref(m);
    json_t *ev = next_event(w, "executionReport", 2000);
    cr_assert(ev);
    cr_assert_str_eq(sval(ev, "c"), "ws-1");
    cr_assert_str_eq(sval(ev, "x"), "NEW");
    json_decref(ev);
    const char *status[] = { "origClientOrderId=ws-1", "symbol=ETHUSDT" };
    ws_signed(w, "s1", "order.status", SXT_BOB, SXT_BOB_SECRET, status, 2);
    m = ws_response(w, "s1");
    cr_assert_str_eq(sval(json_object_get(m, "result"), "status"), "NEW");
    json_decref(m);
    ws_signed(w, "c1", "order.cancel", SXT_BOB, SXT_BOB_SECRET, status, 2);
    m = ws_response(w, "c1");
    cr_assert_eq(ival(m, "status"), 200);
    cr_assert_str_eq(sval(json_object_get(m, "result"), "status"), "CANCELED");
    json_decref(m);
    ev = next_event(w, "executionReport", 2000);
    cr_assert_str_eq(sval(ev, "x"), "CANCELED");
    json_decref(ev);
    /* errors carry Binance codes */
    ws_signed(w, "c2", "order.cancel", SXT_BOB, SXT_BOB_SECRET, status, 2);
    m = ws_response(w, "c2");
    cr_assert_eq(ival(m, "status"), 400);
    cr_assert_eq(ival(json_object_get(m, "error"), "code"), -2011);
    json_decref(m);
    ws_signed(w, "a1", "account.status", SXT_BOB, "wrong-secret", NULL, 0);
    m = ws_response(w, "a1");
    cr_assert_eq(ival(m, "status"), 400);
    cr_assert_eq(ival(json_object_get(m, "error"), "code"), -1022);
    json_decref(m);
    sxt_ws_send(w, "{\"id\":\"u1\",\"method\":\"order.teleport\",\"params\":{}}");
    m = ws_response(w, "u1");
    cr_assert_eq(ival(m, "status"), 400);
    json_decref(m);
    sxt_ws_send(w, "{\"id\":\"t1\",\"method\":\"time\"}");
    m = ws_response(w, "t1");
    cr_assert_gt(ival(json_object_get(m, "result"), "serverTime"), 0);
    json_decref(m);
    sxt_ws_send(w, "not json");
    m = sxt_ws_recv_json(w, 2000);
    cr_assert_eq(ival(m, "status"), 400);
    json_decref(m);
    sxt_ws_close(w);
    sxt_stop(&t);
}

Test(wsapi, market_fill_reported_live)
{
    struct sxt t;
    struct clb_simex_config cfg;
    live_config(&cfg);
    sxt_start(&t, &cfg);
    sxt_sleep_ms(300);
    struct sxt_ws *w = user_stream(&t, SXT_ALICE, SXT_ALICE_SECRET);
    const char *place[] = { "quantity=0.01", "side=SELL", "symbol=BTCUSDT", "type=MARKET" };
    ws_signed(w, "m1", "order.place", SXT_ALICE, SXT_ALICE_SECRET, place, 4);
    json_t *m = ws_response(w, "m1");
    cr_assert_eq(ival(m, "status"), 200, "%s", json_dumps(m, 0));
    cr_assert_str_eq(sval(json_object_get(m, "result"), "status"), "FILLED");
    json_decref(m);
    json_t *ev = next_event(w, "executionReport", 2000);
    cr_assert_str_eq(sval(ev, "x"), "NEW");
    json_decref(ev);
    const char *last = NULL;
    char lastbuf[32] = "";
    while ((ev = next_event(w, "executionReport", 1000))) {
        cr_assert_str_eq(sval(ev, "x"), "TRADE");
        cr_assert(json_is_false(json_object_get(ev, "m")));
        cr_assert_str_eq(sval(ev, "N"), "USDT");
        snprintf(lastbuf, sizeof(lastbuf), "%s", sval(ev, "X"));
        last = lastbuf;
        json_decref(ev);
        if (strcmp(last, "FILLED") == 0)
            break;
    }
    cr_assert(last && strcmp(last, "FILLED") == 0);
    sxt_ws_close(w);
    sxt_stop(&t);
}

/* ------------------------------------------------------------------------ */
/* The background market                                                     */

/* After minutes of synthetic activity, the book in the matching engine (the
 * participants' real orders) equals, level for level, an L2 book fed the
 * same synthetic records (same parameters and seed) up to the same point. */
Test(market, participants_mirror_the_synthetic_book)
{
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.symbols[0].live = true;
    cfg.symbols[1].live = true;
    struct clb_simex *s = NULL;
    char err[256];
    lws_set_log_level(LLL_ERR, NULL);
    cr_assert_eq(clb_simex_create(&cfg, &s, err, sizeof(err)), CLB_OK, "%s", err);
    /* 180 s of synthetic market, without the loop */
    int64_t syn = s->markets[0].next.ts_ns + INT64_C(180) * 1000000000;
    for (int i = 0; i < 10; i++)
        sx_market_advance_to(s, syn);
    static struct clb_level got[4096];
    for (uint32_t mi = 0; mi < 2; mi++) {
        struct sx_market *m = &s->markets[mi];
        cr_assert_gt(m->update_id, 10000, "%s: only %" PRIu64 " updates", m->symbol,
                     m->update_id);
        struct clb_synth replay;
        struct clb_order_book ref;
        cr_assert_eq(clb_synth_init(&replay, &m->synth.p, m->synth_seed), CLB_OK);
        cr_assert_eq(clb_book_init(&ref, 4096), CLB_OK);
        struct clb_md_record r;
        for (uint64_t k = 0; k < m->n_records; k++) {
            clb_synth_next(&replay, &r);
            if (r.flags & CLB_MD_F_RESET)
                clb_book_clear(&ref);
            if (r.kind == CLB_MD_BID || r.kind == CLB_MD_ASK)
                clb_book_set_level(&ref, r.kind == CLB_MD_BID ? CLB_SIDE_BUY : CLB_SIDE_SELL,
                                   r.price, r.qty);
        }
        cr_assert(r.flags & CLB_MD_F_BATCH_END, "the last record applied ends a batch");
        clb_synth_next(&replay, &r);
        cr_assert_eq(r.ts_ns, m->next.ts_ns);
        for (int side = 0; side < 2; side++) {
            size_t k = clb_matcher_depth(&s->mx, mi, (enum clb_side)side, got, 4096);
            cr_assert_eq(k, clb_book_depth(&ref, (enum clb_side)side), "%s side %d", m->symbol,
                         side);
            for (uint32_t i = 0; i < k; i++) {
                const struct clb_level *g = clb_book_level(&ref, (enum clb_side)side, i);
                cr_assert_eq(got[i].price, g->price, "%s side %d level %u price", m->symbol,
                             side, i);
                cr_assert_eq(got[i].qty, g->qty, "%s side %d level %u qty", m->symbol, side, i);
            }
        }
        clb_book_deinit(&ref);
        clb_synth_deinit(&replay);
    }
    clb_simex_destroy(s);
}

static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Random user orders and cancels among the participants, checked against
 * naive recomputations: no asset is created or lost (fees leave), every
 * order's executed quantity and quote are the sums of its fills, the
 * history's live orders are exactly the engine's, and each user's locked
 * balance is the sum of its live orders' locks. */
Test(market, random_user_flow_keeps_the_books_exact)
{
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.symbols[0].live = true;
    cfg.symbols[1].live = true;
    cfg.limits.max_open_orders = 50;
    struct clb_simex *s = NULL;
    char err[256];
    lws_set_log_level(LLL_ERR, NULL);
    cr_assert_eq(clb_simex_create(&cfg, &s, err, sizeof(err)), CLB_OK, "%s", err);
    uint32_t na = s->ledger.n_assets;
    __extension__ __int128 start[16] = { 0 }, now[16] = { 0 }, fees[16] = { 0 };
    for (uint32_t a = 0; a < na; a++)
        for (uint32_t acct = 0; acct < s->ledger.n_accounts; acct++)
            start[a] += clb_ledger_total(&s->ledger, acct, a);
    uint64_t seed = 77;
    int placed = 0, cancelled = 0, rejected = 0;
    int64_t syn = s->markets[0].next.ts_ns; /* the generators' start */
    for (int step = 0; step < 4000; step++) {
        syn += (int64_t)(5 + mix(&seed) % 45) * 1000000;
        sx_market_advance_to(s, syn);
        uint32_t user = (uint32_t)(mix(&seed) % 2), mi = (uint32_t)(mix(&seed) % 2);
        struct sx_market *m = &s->markets[mi];
        if (mix(&seed) % 3 == 0) {
            struct sx_order *open[64];
            uint32_t n = sx_open_orders(s, user, mi, open, 64);
            if (n) {
                cr_assert_eq(sx_order_cancel(s, user, open[mix(&seed) % n]->id, "c"), CLB_OK);
                cancelled++;
            }
            continue;
        }
        struct clb_level bid = { 0, 0 }, ask = { 0, 0 };
        clb_matcher_depth(&s->mx, mi, CLB_SIDE_BUY, &bid, 1);
        clb_matcher_depth(&s->mx, mi, CLB_SIDE_SELL, &ask, 1);
        if (!bid.price || !ask.price)
            continue;
        struct sx_place p = { .user = user, .market = mi };
        p.side = mix(&seed) % 2 ? CLB_SIDE_BUY : CLB_SIDE_SELL;
        int kind = (int)(mix(&seed) % 10);
        p.type = kind == 0 ? CLB_ORDER_MARKET : kind == 1 ? CLB_ORDER_LIMIT_MAKER : CLB_ORDER_LIMIT;
        p.tif = p.type == CLB_ORDER_MARKET ? CLB_TIF_IOC
                : p.type == CLB_ORDER_LIMIT && kind == 2 ? CLB_TIF_IOC
                : p.type == CLB_ORDER_LIMIT && kind == 3 ? CLB_TIF_FOK
                                                         : CLB_TIF_GTC;
        int64_t off = (int64_t)(mix(&seed) % 11) - 3; /* ticks through the touch .. inside */
        p.price = p.side == CLB_SIDE_BUY ? bid.price + off * m->tick : ask.price - off * m->tick;
        if (p.price <= 0)
            continue;
        p.qty = (int64_t)(1 + mix(&seed) % 300) * 100 * m->step;
        uint64_t id;
        enum clb_reject_reason why;
        if (sx_order_place(s, &p, &id, &why) == CLB_OK)
            placed++;
        else
            rejected++;
        sx_after_op(s);
    }
    cr_assert_gt(placed, 1000, "placed %d", placed);
    cr_assert_gt(cancelled, 200, "cancelled %d", cancelled);
    cr_assert_gt(rejected, 10, "rejected %d", rejected);
    /* conservation */
    uint32_t nf = sx_fills_count(s);
    cr_assert_gt(nf, 500);
    for (uint32_t i = 0; i < nf; i++)
        fees[sx_fill_at(s, i)->fee_asset] += sx_fill_at(s, i)->fee;
    for (uint32_t a = 0; a < na; a++) {
        for (uint32_t acct = 0; acct < s->ledger.n_accounts; acct++)
            now[a] += clb_ledger_total(&s->ledger, acct, a);
        cr_assert(now[a] + fees[a] == start[a], "asset %u not conserved", a);
    }
    /* per order: executed = sum of fills; live orders = the engine's */
    uint32_t live = 0;
    for (uint32_t i = 0; i < s->orders_cap; i++) {
        struct sx_order *o = &s->orders[i];
        if (!o->id)
            continue;
        int64_t q = 0, quote = 0;
        for (uint32_t k = 0; k < nf; k++)
            if (sx_fill_at(s, k)->order_id == o->id) {
                q += sx_fill_at(s, k)->qty;
                quote += sx_fill_at(s, k)->quote;
            }
        cr_assert_eq(o->executed, q, "order %" PRIu64, o->id);
        cr_assert_eq(o->cum_quote, quote, "order %" PRIu64, o->id);
        struct clb_order_info info;
        int rc = clb_matcher_get_order(&s->mx, o->id, &info);
        cr_assert_eq(rc == CLB_OK, o->live, "order %" PRIu64 " live %d", o->id, o->live);
        if (o->live) {
            cr_assert_eq(info.filled_qty, o->executed);
            live++;
        } else {
            cr_assert(o->status == CLB_EXEC_FILLED || o->status == CLB_EXEC_CANCELED ||
                      o->status == CLB_EXEC_EXPIRED);
        }
    }
    uint32_t engine_live = 0;
    for (uint32_t u = 0; u < 2; u++) {
        uint64_t ids[512];
        size_t n = clb_matcher_open_orders(&s->mx, s->users[u].ledger, CLB_MATCHER_ANY, ids, 512);
        engine_live += (uint32_t)n;
        int64_t locked[16] = { 0 };
        for (size_t k = 0; k < n; k++) {
            struct clb_order_info info;
            cr_assert_eq(clb_matcher_get_order(&s->mx, ids[k], &info), CLB_OK);
            const struct sx_market *m = &s->markets[info.market];
            locked[info.side == CLB_SIDE_BUY ? m->quote : m->base] += info.locked;
        }
        for (uint32_t a = 0; a < na; a++)
            cr_assert_eq(clb_ledger_locked(&s->ledger, s->users[u].ledger, a), locked[a],
                         "user %u asset %u", u, a);
    }
    cr_assert_eq(live, engine_live);
    clb_simex_destroy(s);
}
