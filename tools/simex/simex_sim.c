/*
 * simex_sim.c — the simulator's own routes under /sim/ (loopback peers only;
 * the HTTP layer checks): the truth tests reconcile against, and control.
 *
 *   GET  /sim/orders   [account=KEY] [symbol=SYM]  every remembered user order
 *   GET  /sim/trades   [account=KEY] [symbol=SYM]  every remembered user fill
 *   GET  /sim/accounts                             balances and open orders
 *   GET  /sim/faults                               the current faults
 *   POST /sim/faults   {fault: value, ..., "server_shutdown": true, "seed": N}
 *   POST /sim/reset    [{"seed": N}]   a fresh exchange: accounts re-funded,
 *                      history, markets and rate limits restarted, faults back
 *                      to the configuration's, every WebSocket closed (1012)
 *   GET  /sim/market                               paused flag, update ids, tops
 *   POST /sim/market   {"paused": bool}            stop / resume the participants
 * Views here are never subject to faults (no stale reads, no latency).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "simex_internal.h"

static void sim_fail(struct sx_resp *out, int status, const char *msg)
{
    json_decref(out->result);
    out->result = NULL;
    out->status = status;
    out->code = -1130;
    snprintf(out->msg, sizeof(out->msg), "%s", msg);
}

static json_t *amt(int64_t v, int scale)
{
    char buf[CLB_DEC_STRLEN];
    sx_fmt_amount(v, scale, buf);
    return json_string(buf);
}

/* Optional account and symbol filters; false after writing the error. */
static bool filters(struct clb_simex *s, struct sx_params *q, int *user, int *market,
                    struct sx_resp *out)
{
    const char *a = sx_params_get(q, "account"), *y = sx_params_get(q, "symbol");
    *user = -1;
    *market = -1;
    if (a && (*user = sx_user_find(s, a)) < 0) {
        sim_fail(out, 400, "unknown account");
        return false;
    }
    if (y && (*market = sx_market_find(s, y)) < 0) {
        sim_fail(out, 400, "unknown symbol");
        return false;
    }
    return true;
}

static int cmp_id(const void *a, const void *b)
{
    uint64_t x = (*(const struct sx_order *const *)a)->id;
    uint64_t y = (*(const struct sx_order *const *)b)->id;
    return (x > y) - (x < y);
}

static void sim_orders(struct clb_simex *s, struct sx_params *q, struct sx_resp *out)
{
    int user, market;
    if (!filters(s, q, &user, &market, out))
        return;
    struct sx_order **list = malloc((size_t)s->orders_cap * sizeof(*list));
    if (!list)
        {
        sim_fail(out, 500, "out of memory");
        return;
    }
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->orders_cap; i++) {
        struct sx_order *o = &s->orders[i];
        if (o->id && (user < 0 || o->user == (uint32_t)user) &&
            (market < 0 || o->market == (uint32_t)market))
            list[n++] = o;
    }
    qsort(list, n, sizeof(list[0]), cmp_id);
    json_t *arr = json_array();
    for (uint32_t i = 0; i < n; i++) {
        const struct sx_order *o = list[i];
        const struct sx_market *m = &s->markets[o->market];
        json_t *j = json_object();
        json_object_set_new(j, "orderId", json_integer((json_int_t)o->id));
        json_object_set_new(j, "account", json_string(s->users[o->user].acct.api_key));
        json_object_set_new(j, "symbol", json_string(m->symbol));
        json_object_set_new(j, "clientOrderId", json_string(o->client_id));
        json_object_set_new(j, "side", json_string(sx_side_name(o->side)));
        json_object_set_new(j, "type", json_string(sx_type_name(o->type)));
        json_object_set_new(j, "timeInForce", json_string(sx_tif_name(o->type, o->tif)));
        json_object_set_new(j, "price", amt(o->price, m->price_scale));
        json_object_set_new(j, "origQty", amt(o->qty, m->qty_scale));
        json_object_set_new(j, "executedQty", amt(o->executed, m->qty_scale));
        json_object_set_new(j, "cummulativeQuoteQty",
                            amt(o->cum_quote, clb_ledger_asset_scale(&s->ledger, m->quote)));
        json_object_set_new(j, "status", json_string(sx_status_name(o->status)));
        json_object_set_new(j, "time", json_integer(o->time_ms));
        json_object_set_new(j, "updateTime", json_integer(o->update_ms));
        json_array_append_new(arr, j);
    }
    free(list);
    out->result = json_pack("{s:o}", "orders", arr);
}

static void sim_trades(struct clb_simex *s, struct sx_params *q, struct sx_resp *out)
{
    int user, market;
    if (!filters(s, q, &user, &market, out))
        return;
    json_t *arr = json_array();
    uint32_t n = sx_fills_count(s);
    for (uint32_t i = 0; i < n; i++) {
        const struct sx_fill *f = sx_fill_at(s, i);
        if ((user >= 0 && f->user != (uint32_t)user) ||
            (market >= 0 && f->market != (uint32_t)market))
            continue;
        const struct sx_market *m = &s->markets[f->market];
        json_t *j = json_object();
        json_object_set_new(j, "tradeId", json_integer((json_int_t)f->trade_id));
        json_object_set_new(j, "orderId", json_integer((json_int_t)f->order_id));
        json_object_set_new(j, "account", json_string(s->users[f->user].acct.api_key));
        json_object_set_new(j, "symbol", json_string(m->symbol));
        json_object_set_new(j, "side", json_string(sx_side_name(f->side)));
        json_object_set_new(j, "price", amt(f->price, m->price_scale));
        json_object_set_new(j, "qty", amt(f->qty, m->qty_scale));
        json_object_set_new(j, "quoteQty",
                            amt(f->quote, clb_ledger_asset_scale(&s->ledger, m->quote)));
        json_object_set_new(j, "commission",
                            amt(f->fee, clb_ledger_asset_scale(&s->ledger, f->fee_asset)));
        json_object_set_new(j, "commissionAsset",
                            json_string(s->ledger.assets[f->fee_asset].name));
        json_object_set_new(j, "isMaker", json_boolean(f->maker));
        json_object_set_new(j, "time", json_integer(f->time_ms));
        json_array_append_new(arr, j);
    }
    out->result = json_pack("{s:o}", "trades", arr);
}

static void sim_accounts(struct clb_simex *s, struct sx_resp *out)
{
    json_t *arr = json_array();
    for (uint32_t u = 0; u < s->n_users; u++) {
        uint32_t acct = s->users[u].ledger;
        json_t *bal = json_array();
        for (uint32_t a = 0; a < s->ledger.n_assets; a++) {
            int sc = clb_ledger_asset_scale(&s->ledger, a);
            json_array_append_new(
                bal, json_pack("{s:s, s:o, s:o, s:o}", "asset", s->ledger.assets[a].name, "total",
                               amt(clb_ledger_total(&s->ledger, acct, a), sc), "free",
                               amt(clb_ledger_available(&s->ledger, acct, a), sc), "locked",
                               amt(clb_ledger_locked(&s->ledger, acct, a), sc)));
        }
        uint64_t none[1];
        size_t open = clb_matcher_open_orders(&s->mx, acct, CLB_MATCHER_ANY, none, 0);
        json_array_append_new(arr, json_pack("{s:s, s:o, s:I}", "api_key",
                                             s->users[u].acct.api_key, "balances", bal,
                                             "open_orders", (json_int_t)open));
    }
    out->result = json_pack("{s:o}", "accounts", arr);
}

static void sim_market(struct clb_simex *s, struct sx_resp *out)
{
    json_t *arr = json_array();
    for (uint32_t i = 0; i < s->n_markets; i++) {
        struct sx_market *m = &s->markets[i];
        struct clb_level bid = { 0, 0 }, ask = { 0, 0 };
        clb_matcher_depth(&s->mx, i, CLB_SIDE_BUY, &bid, 1);
        clb_matcher_depth(&s->mx, i, CLB_SIDE_SELL, &ask, 1);
        json_array_append_new(arr, json_pack("{s:s, s:b, s:I, s:o, s:o}", "symbol", m->symbol,
                                             "live", m->live, "updateId",
                                             (json_int_t)m->update_id, "bestBid",
                                             amt(bid.price, m->price_scale), "bestAsk",
                                             amt(ask.price, m->price_scale)));
    }
    out->result = json_pack("{s:b, s:I, s:I, s:o}", "paused", s->market_paused,
                            "depthMessagesDropped", (json_int_t)s->stat_depth_dropped,
                            "wsDisconnects", (json_int_t)s->stat_ws_disconnects, "symbols", arr);
}

static json_t *body_json(const char *body, size_t len, struct sx_resp *out)
{
    if (len == 0)
        return json_object();
    json_t *j = json_loadb(body, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        sim_fail(out, 400, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static void sim_reset(struct clb_simex *s, const char *body, size_t len, struct sx_resp *out)
{
    json_t *j = body_json(body, len, out);
    if (!j)
        return;
    uint64_t seed = s->cfg.seed;
    json_t *sv = json_object_get(j, "seed");
    if (sv && (!json_is_integer(sv) || json_integer_value(sv) < 0 || json_object_size(j) != 1)) {
        json_decref(j);
        {
        sim_fail(out, 400, "the body is {\"seed\": N} or empty");
        return;
    }
    }
    if (!sv && json_object_size(j) != 0) {
        json_decref(j);
        {
        sim_fail(out, 400, "the body is {\"seed\": N} or empty");
        return;
    }
    }
    if (sv)
        seed = (uint64_t)json_integer_value(sv);
    json_decref(j);
    sx_server_close_all(s, LWS_CLOSE_STATUS_GOINGAWAY);
    sx_exchange_deinit(s);
    s->seed = seed;
    uint64_t x = seed;
    clb_rng_seed(&s->fault_rng, clb_splitmix64(&x) ^ 0xfa017ull);
    clb_rng_seed(&s->id_rng, clb_splitmix64(&x) ^ 0x1d5ull);
    s->faults = s->cfg.faults;
    memset(s->ips, 0, sizeof(s->ips));
    s->market_paused = false;
    s->market_clock_offset_ns = 0;
    s->exec_event_seq = 0;
    s->next_shutdown_ms = 0;
    s->shutdown_close_ms = 0;
    char err[256];
    if (sx_exchange_init(s, err, sizeof(err)) != CLB_OK) {
        sx_log(s, "reset failed: %s", err);
        {
        sim_fail(out, 500, err);
        return;
    }
    }
    /* connections still open until their close frame goes: drop their
     * subscription counts' dependence on the old markets */
    for (uint32_t i = 0; i < s->n_conns; i++) {
        struct sx_conn *c = s->conns[i];
        for (uint32_t k = 0; k < c->n_subs; k++)
            s->markets[c->subs[k].market].subs[c->subs[k].kind]++;
        c->n_usubs = 0;
    }
    sx_log(s, "reset with seed %" PRIu64, seed);
    out->result = json_pack("{s:b, s:I}", "ok", 1, "seed", (json_int_t)seed);
}

void sx_sim_handle(struct clb_simex *s, const char *method, const char *path,
                   struct sx_params *query, const char *body, size_t body_len,
                   struct sx_resp *out)
{
    sx_resp_init(out);
    bool get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    if (strcmp(path, "/sim/orders") == 0 && get)
        {
        sim_orders(s, query, out);
        return;
    }
    if (strcmp(path, "/sim/trades") == 0 && get)
        {
        sim_trades(s, query, out);
        return;
    }
    if (strcmp(path, "/sim/accounts") == 0 && get)
        {
        sim_accounts(s, out);
        return;
    }
    if (strcmp(path, "/sim/faults") == 0 && (get || post)) {
        if (post) {
            json_t *j = body_json(body, body_len, out);
            if (!j)
                return;
            bool shutdown = false, reseed = false;
            uint64_t seed = 0;
            char err[200];
            int rc = sx_faults_apply_json(&s->faults, j, &shutdown, &reseed, &seed, err,
                                          sizeof(err));
            json_decref(j);
            if (rc != CLB_OK)
                {
        sim_fail(out, 400, err);
        return;
    }
            if (reseed)
                clb_rng_seed(&s->fault_rng, seed);
            if (shutdown)
                sx_server_shutdown_event(s);
        }
        out->result = sx_faults_to_json(&s->faults);
        return;
    }
    if (strcmp(path, "/sim/reset") == 0 && post)
        {
        sim_reset(s, body, body_len, out);
        return;
    }
    if (strcmp(path, "/sim/market") == 0 && (get || post)) {
        if (post) {
            json_t *j = body_json(body, body_len, out);
            if (!j)
                return;
            json_t *p = json_object_get(j, "paused");
            if (!json_is_boolean(p) || json_object_size(j) != 1) {
                json_decref(j);
                {
        sim_fail(out, 400, "the body is {\"paused\": true|false}");
        return;
    }
            }
            sx_market_pause(s, json_is_true(p));
            json_decref(j);
        }
        {
        sim_market(s, out);
        return;
    }
    }
    sim_fail(out, 404, "unknown /sim route");
}
