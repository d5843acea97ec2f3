/*
 * Tests of the AMM connector (connectors/amm) and the amm_arb strategy on a
 * real chain. Each test starts anvil (npm @foundry-rs/anvil) on a free
 * port, deploys WETH9, two ERC20s (TKA, TKB), UniswapV2Factory and Router02
 * with tests/gateway/deploy_uniswap.mjs (pool: 1000 TKA / 2000 TKB, price
 * 2), runs the gateway in-process behind the HTTPS API (clb_http_start,
 * self-signed certificate, a trade token), stores anvil's dev key #1 as the
 * trader's wallet and approves the router for both tokens. The connector
 * then talks HTTPS to it on a netloop driven here together with a realtime
 * clock, exactly as the worker would.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "amm.h"
#include "amm_arb.h"
#include "auth.h"
#include "clock.h"
#include "error.h"
#include "eth.h"
#include "gateway.h"
#include "http_api.h"
#include "http_client.h"
#include "netloop.h"
#include "order_tracker.h"
#include "paper.h"
#include "rpc.h"
#include "strategy.h"
#include "wallet.h"

#include "../gateway/chain_fixture.h"
#include "../server/test_cert.h"

/* anvil's dev account #1 (public test key, holds test ETH only). */
#define TRADER_KEY "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
#define TRADER "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

static char g_dir[256], g_cert[300], g_key[300], g_token[128], g_base[64];
static struct chain_fixture g_chain; /* anvil and the deployed addresses */
static struct clb_gateway *g_gw;
static struct clb_http *g_http;
static struct clb_rpc *g_rpc;
static struct clb_netloop *g_loop;
static struct clb_event_bus g_bus;
static struct clb_clock g_clock;
static struct clb_amm *g_amm;

static const char *A(const char *k)
{
    return chain_addr(&g_chain, k);
}

/* A self-signed P-256 certificate for 127.0.0.1 (the netloop's CA file). */
static void make_cert(void)
{
    make_self_signed_cert(g_dir, g_cert, sizeof(g_cert), g_key, sizeof(g_key));
}

static void make_token(void)
{
    struct clb_token_store st;
    char err[256];
    struct clb_auth *a;
    cr_assert_eq(clb_token_store_open(g_dir, NULL, &st, err, sizeof(err)), CLB_OK, "%s", err);
    cr_assert_eq(clb_auth_create(st, &a), CLB_OK);
    cr_assert_eq(clb_auth_token_create(a, "amm", CLB_ROLE_TRADE, 1, g_token, NULL), CLB_OK);
    clb_auth_destroy(a);
}

static json_t *gw_call(const char *path, const char *body)
{
    json_t *out = NULL;
    int st = clb_gateway_handle(g_gw, "POST", path, body, strlen(body), &out);
    char *t = json_dumps(out, JSON_COMPACT);
    cr_assert_eq(st, 200, "%s: %s", path, t);
    free(t);
    return out;
}

static void approve(const char *token)
{
    char body[300];
    snprintf(body, sizeof(body),
             "{\"network\": \"anvil\", \"address\": \"%s\", \"token\": \"%s\"}", TRADER, token);
    json_decref(gw_call("/gateway/chain/approve", body));
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_amm_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    setenv("COLIBRI_SECRETS_PASSPHRASE", "amm test passphrase", 1);
    chain_start(&g_chain, g_dir, NULL);
    chain_deploy(&g_chain, g_dir);
    json_t *cfg = json_pack("{s:{s:{s:s, s:s, s:i, s:{s:{s:s, s:i}, s:{s:s, s:i}}, "
                            "s:{s:s, s:s}}}}",
                            "networks", "anvil", "chain", "ethereum", "rpc_url", g_chain.url,
                            "chain_id", 31337, "tokens", "TKA", "address", A("base"),
                            "decimals", 18, "TKB", "address", A("quote"), "decimals", 18,
                            "uniswap_v2", "router", A("router"), "factory", A("factory"));
    char err[300] = "";
    cr_assert_eq(clb_gateway_create(cfg, g_dir, &g_gw, err, sizeof(err)), CLB_OK, "%s", err);
    json_decref(cfg);
    uint8_t addr[20];
    cr_assert_eq(clb_wallet_add(g_dir, NULL, "anvil", TRADER_KEY, addr, err, sizeof(err)), CLB_OK,
                 "%s", err);
    approve("TKA");
    approve("TKB");
    make_cert();
    make_token();
    struct clb_http_config hc = { .host = "127.0.0.1", .port = 0, .cert_pem_path = g_cert,
                                  .key_pem_path = g_key, .data_dir = g_dir, .gateway = g_gw };
    cr_assert_eq(clb_http_start(&hc, &g_http, err, sizeof(err)), CLB_OK, "%s", err);
    snprintf(g_base, sizeof(g_base), "https://127.0.0.1:%d", clb_http_port(g_http));
    cr_assert_eq(clb_rpc_create(g_chain.url, 5000, &g_rpc), CLB_OK);
    struct clb_netloop_config lc;
    clb_netloop_config_default(&lc);
    lc.ca_file = g_cert;
    cr_assert_eq(clb_netloop_create(&lc, &g_loop), CLB_OK);
    clb_event_bus_init(&g_bus);
    struct clb_clock_config cc = { .mode = CLB_CLOCK_REALTIME, .tick_ns = 50 * 1000000LL };
    cr_assert_eq(clb_clock_init(&g_clock, &cc), CLB_OK);
}

static void teardown(void)
{
    if (clb_clock_running(&g_clock))
        clb_clock_stop(&g_clock, clb_netloop_mono_ns());
    clb_clock_deinit(&g_clock);
    clb_amm_destroy(g_amm);
    g_amm = NULL;
    clb_netloop_destroy(g_loop);
    g_loop = NULL;
    clb_http_stop(g_http);
    g_http = NULL;
    clb_gateway_destroy(g_gw);
    g_gw = NULL;
    clb_rpc_destroy(g_rpc);
    g_rpc = NULL;
    chain_stop(&g_chain);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(amm, .init = setup, .fini = teardown, .timeout = 120);

/* ---- driving ---- */

static void make_amm(const char *base_url)
{
    static const char *const markets[] = { "TKA-TKB" };
    struct clb_amm_config c;
    clb_amm_config_default(&c);
    c.bus = &g_bus;
    c.base_url = base_url;
    c.token = g_token;
    c.network = "anvil";
    c.address = TRADER;
    c.markets = markets;
    c.n_markets = 1;
    c.tx_poll_ms = 50;
    c.balance_poll_ms = 200;
    c.price_poll_ms = 100;
    c.request_timeout_ms = 15000; /* ASan under load: a trade can take seconds */
    char err[300] = "";
    cr_assert_eq(clb_amm_create(g_loop, &c, &g_amm, err, sizeof(err)), CLB_OK, "%s", err);
    cr_assert_eq(clb_clock_add(&g_clock, &clb_amm_connector(g_amm)->it), CLB_OK);
}

/* Runs clock and loop until done(ud) or `seconds` pass; returns done's last value. */
static bool run_until(bool (*done)(void *ud), void *ud, double seconds)
{
    if (!clb_clock_running(&g_clock))
        cr_assert_eq(clb_clock_start(&g_clock, clb_netloop_mono_ns()), CLB_OK);
    double t0 = now_s();
    while (now_s() - t0 < seconds) {
        clb_clock_advance_to(&g_clock, clb_netloop_mono_ns());
        if (done && done(ud))
            return true;
        cr_assert_geq(clb_netloop_poll(g_loop, NULL, 0, 10), 0);
    }
    return done ? done(ud) : true;
}

static bool amm_ready(void *ud)
{
    (void)ud;
    return clb_connector_ready(clb_amm_connector(g_amm));
}

/* Order events of the AMM connector. */
#define MAX_EVS 256
struct rec {
    enum clb_event_type type;
    char cid[CLB_CLIENT_ID_MAX];
    char exid[CLB_EXCHANGE_ORDER_ID_MAX];
    char fee_asset[CLB_ASSET_MAX];
    double fill_price, fill_amount, fill_fee;
    int reason;
    char source[32];
};
static struct rec g_ev[MAX_EVS];
static int g_nev;
static int g_nbal;

static void recorder(void *ud, const struct clb_event *ev)
{
    (void)ud;
    if (ev->type == CLB_EV_BALANCE) {
        g_nbal++;
        return;
    }
    if (g_nev == MAX_EVS)
        return;
    struct rec *r = &g_ev[g_nev++];
    memset(r, 0, sizeof(*r));
    r->type = ev->type;
    snprintf(r->source, sizeof(r->source), "%s", ev->source ? ev->source : "");
    snprintf(r->cid, sizeof(r->cid), "%s", ev->u.order.client_order_id);
    snprintf(r->exid, sizeof(r->exid), "%s",
             ev->u.order.exchange_order_id ? ev->u.order.exchange_order_id : "");
    if (ev->type == CLB_EV_ORDER_FILLED) {
        r->fill_price = clb_dec_to_double(ev->u.order.fill_price);
        r->fill_amount = clb_dec_to_double(ev->u.order.fill_amount);
        r->fill_fee = clb_dec_to_double(ev->u.order.fill_fee);
        snprintf(r->fee_asset, sizeof(r->fee_asset), "%s",
                 ev->u.order.fee_asset ? ev->u.order.fee_asset : "");
    }
    r->reason = ev->u.order.reason;
}

static const struct rec *find_ev(const char *cid, enum clb_event_type t)
{
    for (int i = 0; i < g_nev; i++)
        if (g_ev[i].type == t && strcmp(g_ev[i].cid, cid) == 0)
            return &g_ev[i];
    return NULL;
}

static bool order_finished(void *ud)
{
    const char *cid = ud;
    return find_ev(cid, CLB_EV_ORDER_COMPLETED) || find_ev(cid, CLB_EV_ORDER_FAILED);
}

/* ERC20 balanceOf(who) as a double (18 decimals). */
static double token_balance(const char *tok, const char *who)
{
    uint8_t t[20], w[20], data[64], ret[64], v[32];
    size_t len = 0, n = 0;
    cr_assert_eq(clb_hex_decode_exact(tok, t, 20), CLB_OK);
    cr_assert_eq(clb_hex_decode_exact(who, w, 20), CLB_OK);
    struct clb_abi_arg a = clb_abi_arg_address(w);
    cr_assert_eq(clb_abi_encode_call("balanceOf(address)", &a, 1, data, sizeof(data), &len),
                 CLB_OK);
    struct clb_rpc_error e;
    cr_assert_eq(clb_rpc_eth_call(g_rpc, NULL, t, data, len, ret, sizeof(ret), &n, &e), CLB_OK,
                 "%s", e.message);
    cr_assert_eq(clb_abi_decode_u256(ret, n, 0, v), CLB_OK);
    char txt[CLB_U256_DEC_MAX];
    cr_assert_eq(clb_u256_to_dec(v, 18, txt, sizeof(txt)), CLB_OK);
    return strtod(txt, NULL);
}

static double pool_price(void)
{
    return token_balance(A("quote"), A("pair")) / token_balance(A("base"), A("pair"));
}

/* ---- connector ---- */

Test(amm, sell_then_buy_fill_with_onchain_amounts)
{
    make_amm(g_base);
    cr_assert_geq(clb_event_subscribe(&g_bus, CLB_EV_MASK_ALL, recorder, NULL), 0);
    struct clb_connector *c = clb_amm_connector(g_amm);
    bool rdy = run_until(amm_ready, NULL, 20);
    struct clb_amm_stats st0;
    clb_amm_stats(g_amm, &st0);
    cr_assert(rdy, "not ready: %s (requests %llu, errors %llu, ticks %llu, in flight %u)",
              clb_amm_last_error(g_amm), (unsigned long long)st0.requests,
              (unsigned long long)st0.request_errors,
              (unsigned long long)clb_amm_connector(g_amm)->it.ticks, clb_http_in_flight(g_loop));
    cr_assert_gt(g_nbal, 0, "balance events");
    clb_dec tot, avail;
    cr_assert_eq(c->ops->balance(c, "TKA", &tot, &avail), CLB_OK);
    cr_assert_float_eq(clb_dec_to_double(tot), 100, 1e-9);
    cr_assert_null(c->ops->book(c, "TKA-TKB"));

    /* a quote: selling 1 TKA into 1000/2000 gives 1994/1000.997 (0.3 % fee) */
    struct clb_amm_price q;
    cr_assert_eq(clb_amm_quote(g_amm, "TKA-TKB", CLB_SIDE_SELL, 1, &q), CLB_ENOTREADY);
    double t0 = now_s();
    while (clb_amm_quote(g_amm, "TKA-TKB", CLB_SIDE_SELL, 1, &q) != CLB_OK && now_s() - t0 < 10)
        run_until(NULL, NULL, 0.05);
    double want = 997.0 * 2000 / (1000.0 * 1000 + 997);
    cr_assert_float_eq(q.price, want, 1e-9, "%.12f vs %.12f", q.price, want);
    cr_assert_float_eq(q.expected, want, 1e-9);
    cr_assert_gt(q.gas_cost, 0);

    double tkb0 = token_balance(A("quote"), TRADER), tka0 = token_balance(A("base"), TRADER);
    char cid[CLB_CLIENT_ID_MAX];
    struct clb_order_request req = { .market = "TKA-TKB", .side = CLB_SIDE_SELL,
                                     .type = CLB_ORDER_MARKET,
                                     .amount = clb_dec_make(1500000, 6) };
    cr_assert_eq(c->ops->place(c, &req, cid), CLB_OK, "%s", clb_amm_last_error(g_amm));
    const struct clb_tracked_order *o = clb_tracker_get(c->ops->tracker(c), cid);
    cr_assert_not_null(o, "tracked before anything is sent");
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CREATE);
    cr_assert(run_until(order_finished, cid, 20), "%s", clb_amm_last_error(g_amm));
    const struct rec *cr = find_ev(cid, CLB_EV_ORDER_CREATED);
    const struct rec *fi = find_ev(cid, CLB_EV_ORDER_FILLED);
    cr_assert_not_null(cr);
    cr_assert_eq(strlen(cr->exid), 63, "txHash as exchange id: %s", cr->exid);
    cr_assert_eq(strncmp(cr->exid, "0x", 2), 0);
    cr_assert_not_null(fi);
    cr_assert_not_null(find_ev(cid, CLB_EV_ORDER_COMPLETED));
    cr_assert_str_eq(fi->source, "amm");
    cr_assert_float_eq(fi->fill_amount, 1.5, 1e-12);
    double tkb1 = token_balance(A("quote"), TRADER), tka1 = token_balance(A("base"), TRADER);
    cr_assert_float_eq(tka0 - tka1, 1.5, 1e-9);
    /* the fill's quote is what the chain moved (10 decimals kept) */
    cr_assert_float_eq(fi->fill_price * fi->fill_amount, tkb1 - tkb0, 1e-8, "%.12f vs %.12f",
                       fi->fill_price * fi->fill_amount, tkb1 - tkb0);
    cr_assert_str_eq(fi->fee_asset, "ETH");
    cr_assert_gt(fi->fill_fee, 0);
    cr_assert_lt(fi->fill_fee, 0.01);

    /* a BUY with a reachable limit */
    req = (struct clb_order_request){ .market = "TKA-TKB", .side = CLB_SIDE_BUY,
                                      .type = CLB_ORDER_LIMIT, .price = clb_dec_make(25, 1),
                                      .amount = clb_dec_make(2, 0) };
    cr_assert_eq(c->ops->place(c, &req, cid), CLB_OK);
    cr_assert(run_until(order_finished, cid, 20));
    fi = find_ev(cid, CLB_EV_ORDER_FILLED);
    cr_assert_not_null(fi, "%s", clb_amm_last_error(g_amm));
    cr_assert_float_eq(fi->fill_amount, 2, 1e-12);
    cr_assert_float_eq(token_balance(A("base"), TRADER) - tka1, 2, 1e-9);
    cr_assert_float_eq(fi->fill_price * 2, tkb1 - token_balance(A("quote"), TRADER), 1e-8);
    cr_assert_eq(c->ops->cancel(c, "TKA-TKB", cid), CLB_EUNSUPPORTED);
    cr_assert_eq(c->ops->cancel(c, "TKA-TKB", "nope"), CLB_ENOTFOUND);
    struct clb_amm_stats st;
    clb_amm_stats(g_amm, &st);
    cr_assert_eq(st.fills, 2);
    cr_assert_eq(st.trades_sent, 2);
}

Test(amm, impossible_limit_fails_the_order)
{
    make_amm(g_base);
    cr_assert_geq(clb_event_subscribe(&g_bus, CLB_EV_MASK_ALL, recorder, NULL), 0);
    struct clb_connector *c = clb_amm_connector(g_amm);
    cr_assert(run_until(amm_ready, NULL, 20), "not ready: %s", clb_amm_last_error(g_amm));
    double tka0 = token_balance(A("base"), TRADER);
    char cid[CLB_CLIENT_ID_MAX];
    /* buy 1 TKA for at most 0.5 TKB while the pool asks ~2 */
    struct clb_order_request req = { .market = "TKA-TKB", .side = CLB_SIDE_BUY,
                                     .type = CLB_ORDER_LIMIT, .price = clb_dec_make(5, 1),
                                     .amount = clb_dec_make(1, 0) };
    cr_assert_eq(c->ops->place(c, &req, cid), CLB_OK);
    cr_assert(run_until(order_finished, cid, 20));
    const struct rec *f = find_ev(cid, CLB_EV_ORDER_FAILED);
    cr_assert_not_null(f);
    cr_assert_eq(f->reason, CLB_ERANGE);
    cr_assert_null(find_ev(cid, CLB_EV_ORDER_FILLED));
    cr_assert_not_null(strstr(clb_amm_last_error(g_amm), "price_limit"), "%s",
                       clb_amm_last_error(g_amm));
    cr_assert_float_eq(token_balance(A("base"), TRADER), tka0, 1e-12);
    /* more than the wallet holds */
    req.price = clb_dec_make(0, 0);
    req.type = CLB_ORDER_MARKET;
    req.amount = clb_dec_make(500, 0);
    cr_assert_eq(c->ops->place(c, &req, cid), CLB_OK);
    cr_assert(run_until(order_finished, cid, 20));
    cr_assert_not_null(find_ev(cid, CLB_EV_ORDER_FAILED));
    cr_assert_not_null(strstr(clb_amm_last_error(g_amm), "insufficient_balance"), "%s",
                       clb_amm_last_error(g_amm));
    /* unknown market, below the step */
    req.market = "TKB-TKA";
    cr_assert_eq(c->ops->place(c, &req, cid), CLB_ENOTFOUND);
    req.market = "TKA-TKB";
    req.amount = clb_dec_make(1, 9);
    cr_assert_eq(c->ops->place(c, &req, cid), CLB_ERANGE);
}

Test(amm, unreachable_gateway_is_not_ready)
{
    /* a port nobody listens on: the HTTPS server's, once stopped */
    char url[64];
    snprintf(url, sizeof(url), "%s", g_base);
    clb_http_stop(g_http);
    g_http = NULL;
    make_amm(url);
    struct clb_connector *c = clb_amm_connector(g_amm);
    run_until(NULL, NULL, 1.0);
    struct clb_connector_status s;
    c->ops->status(c, &s);
    cr_assert(!s.balances_ready);
    cr_assert(!s.order_books_ready);
    cr_assert(!clb_connector_ready(c));
    char cid[CLB_CLIENT_ID_MAX];
    struct clb_order_request req = { .market = "TKA-TKB", .side = CLB_SIDE_SELL,
                                     .type = CLB_ORDER_MARKET, .amount = clb_dec_make(1, 0) };
    cr_assert_eq(c->ops->place(c, &req, cid), CLB_ENOTREADY);
    cr_assert_not_null(strstr(clb_amm_last_error(g_amm), "unreachable"), "%s",
                       clb_amm_last_error(g_amm));
    cr_assert_eq(clb_tracker_count(c->ops->tracker(c)), 0, "nothing tracked");
    struct clb_amm_stats st;
    clb_amm_stats(g_amm, &st);
    cr_assert_gt(st.request_errors, 0);
}

Test(amm, bad_config_is_refused)
{
    static const char *const bad_markets[] = { "TKATKB" };
    struct clb_amm_config c;
    clb_amm_config_default(&c);
    c.bus = &g_bus;
    c.base_url = "http://10.0.0.1:1"; /* plain http off loopback */
    c.network = "anvil";
    c.address = TRADER;
    c.markets = bad_markets;
    c.n_markets = 1;
    char err[300] = "";
    struct clb_amm *a = NULL;
    cr_assert_eq(clb_amm_create(g_loop, &c, &a, err, sizeof(err)), CLB_EINVAL);
    c.base_url = "https://127.0.0.1:1";
    err[0] = '\0';
    cr_assert_eq(clb_amm_create(g_loop, &c, &a, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "BASE-QUOTE"), "%s", err);
    cr_assert_null(a);
}

/* ---- amm_arb on the chain ---- */

struct arb_env {
    struct clb_paper *paper;
    struct clb_strategy *s;
};

static bool arb_idle_and_flat(void *ud)
{
    struct arb_env *e = ud;
    struct clb_amm_arb *p = (struct clb_amm_arb *)(void *)e->s;
    /* idle, and the latest look found nothing worth doing with fresh prices */
    return !p->leg1.active && !p->leg2.active && !p->leg1_pending && p->arbs_started > 0 &&
           p->last.direction == CLB_AMM_ARB_NONE && !isnan(p->last.profit_2_1);
}

static void run_arb(bool concurrent)
{
    make_amm(g_base);
    /* the CEX: a fixed book around P = 2.2 (the pool is at 2, 9 % below) */
    struct clb_paper_config pc;
    clb_paper_config_default(&pc);
    pc.bus = &g_bus;
    struct arb_env e = { 0 };
    cr_assert_eq(clb_paper_create(&pc, &e.paper), CLB_OK);
    struct clb_market_rules r = { .symbol = "TKA-TKB", .base = "TKA", .quote = "TKB",
                                  .tick_size = clb_dec_make(1, 4), .step_size = clb_dec_make(1, 3),
                                  .min_qty = clb_dec_make(1, 3), .max_qty = clb_dec_make(1000000, 0),
                                  .min_notional = clb_dec_make(0, 0), .price_scale = 4,
                                  .qty_scale = 3 };
    uint32_t m;
    cr_assert_eq(clb_paper_add_market(e.paper, &r, &m), CLB_OK);
    cr_assert_eq(clb_paper_deposit(e.paper, "TKA", clb_dec_make(1000, 0)), CLB_OK);
    cr_assert_eq(clb_paper_deposit(e.paper, "TKB", clb_dec_make(1000, 0)), CLB_OK);
    int64_t t = clb_netloop_mono_ns();
    struct clb_md_record bid = { .ts_ns = t, .price = 22000, .qty = 1000000000,
                                 .kind = CLB_MD_BID };
    struct clb_md_record ask = { .ts_ns = t, .price = 22100, .qty = 1000000000,
                                 .kind = CLB_MD_ASK, .flags = CLB_MD_F_BATCH_END };
    clb_paper_on_record(e.paper, m, &bid);
    clb_paper_on_record(e.paper, m, &ask);
    struct clb_connector *cex = clb_paper_connector(e.paper);
    cr_assert_eq(clb_clock_add(&g_clock, &cex->it), CLB_OK);

    struct clb_amm_arb_config ac;
    clb_amm_arb_config_defaults(&ac);
    ac.order_amount = 4;
    ac.min_profitability = 1;
    ac.gas_token_price = 100; /* gas ~0.0002 ETH -> ~0.02 TKB a swap */
    ac.concurrent_orders_submission = concurrent;
    char err[200] = "";
    cr_assert_eq(clb_amm_arb_ops.create(&ac, &e.s, err, sizeof(err)), CLB_OK, "%s", err);
    cr_assert_eq(clb_strategy_attach(e.s, cex, "TKA-TKB", 7, "arb"), CLB_OK);
    cr_assert_eq(clb_strategy_attach_secondary(e.s, clb_amm_connector(g_amm), "TKA-TKB"), CLB_OK);
    cr_assert_eq(clb_amm_arb_set_quote_source(e.s, clb_amm_quote_price, g_amm), CLB_OK);
    cr_assert_eq(clb_clock_add(&g_clock, &e.s->it), CLB_OK);

    double pool0 = pool_price();
    cr_assert_float_eq(pool0, 2, 1e-12);
    double tka_chain0 = token_balance(A("base"), TRADER);
    bool flat = run_until(arb_idle_and_flat, &e, 90);
    struct clb_amm_arb *p = (struct clb_amm_arb *)(void *)e.s;
    double pool1 = pool_price();
    cr_assert(flat, "did not converge: pool %.6f, arbs %llu, filled %llu, failed %llu: %s",
              pool1, (unsigned long long)p->arbs_started, (unsigned long long)p->legs_filled,
              (unsigned long long)p->legs_failed, clb_amm_last_error(g_amm));
    /* the pool moved toward P and stopped within min_profitability + fees of it */
    /* P / (1 + 1 % min_profitability + 0.3 % LP fee + 0.1 % CEX fee + ~0.8 % impact of 4 TKA
     * + ~0.3 % for the last step of 4 TKA) = 2.14 */
    cr_assert_gt(pool1, 2.14, "pool price %.6f", pool1);
    cr_assert_lt(pool1, 2.2, "pool price %.6f", pool1);
    cr_assert_lt(p->last.profit_2_1, 0.01);
    /* every arbitrage filled both legs; nothing failed or left unhedged */
    cr_assert_eq(p->legs_failed, 0, "%s", clb_amm_last_error(g_amm));
    cr_assert_eq(p->unhedged, 0);
    cr_assert_eq(p->legs_filled, 2 * p->arbs_started);
    cr_assert_geq(p->arbs_started, 2);
    /* the swaps bought exactly what the CEX legs sold */
    double bought = token_balance(A("base"), TRADER) - tka_chain0;
    clb_dec tot, avail;
    cex->ops->balance(cex, "TKA", &tot, &avail);
    double sold = 1000 - clb_dec_to_double(tot);
    cr_assert_float_eq(bought, 4.0 * (double)p->arbs_started, 1e-9);
    cr_assert_float_eq(sold, bought, 1e-9, "CEX sold %.6f, chain bought %.6f", sold, bought);
    struct clb_paper_stats ps;
    clb_paper_stats(e.paper, &ps);
    cr_assert_eq(ps.fills, p->arbs_started);
    fprintf(stderr, "amm_arb (%s): %llu arbitrages, pool %.4f -> %.4f, last profit %.3f %%\n",
            concurrent ? "concurrent" : "sequential", (unsigned long long)p->arbs_started, pool0,
            pool1, p->last.profit_2_1 * 100);

    clb_clock_stop(&g_clock, clb_netloop_mono_ns());
    clb_clock_remove(&g_clock, &e.s->it);
    clb_clock_remove(&g_clock, &cex->it);
    clb_amm_arb_ops.destroy(e.s);
    clb_paper_destroy(e.paper);
}

Test(amm, arb_closes_the_mispricing_concurrent)
{
    run_arb(true);
}

Test(amm, arb_closes_the_mispricing_sequential)
{
    run_arb(false);
}

/* ---- gateway: wallet keys decrypted once, transfers in poll answers ---- */

Test(amm, gateway_keeps_wallet_keys_and_reports_transfers)
{
    /* setup's approvals already used the key: the secrets file is not
     * needed any more, not even its passphrase */
    setenv("COLIBRI_SECRETS_PASSPHRASE", "a wrong passphrase", 1);
    char body[400];
    snprintf(body, sizeof(body),
             "{\"network\": \"anvil\", \"address\": \"%s\", \"base\": \"TKA\", \"quote\": "
             "\"TKB\", \"amount\": \"1\", \"side\": \"SELL\"}", TRADER);
    double t0 = now_s();
    json_t *tr = gw_call("/gateway/amm/trade", body);
    double dt = now_s() - t0;
    const char *hash = json_string_value(json_object_get(tr, "txHash"));
    cr_assert_not_null(hash);
    snprintf(body, sizeof(body), "{\"network\": \"anvil\", \"txHash\": \"%s\"}", hash);
    json_t *p = NULL;
    for (int i = 0; i < 200; i++) { /* anvil mines right after the send, not within it */
        json_decref(p);
        p = gw_call("/gateway/chain/poll", body);
        const char *st = json_string_value(json_object_get(p, "status"));
        if (strcmp(st, "pending") != 0 && strcmp(st, "not_found") != 0)
            break;
        sleep_ms(20);
    }
    cr_assert_str_eq(json_string_value(json_object_get(p, "status")), "confirmed");
    json_t *x = json_object_get(p, "tokenTransfers");
    cr_assert_eq(json_array_size(x), 2, "the swap's two ERC20 transfers");
    json_t *t0j = json_array_get(x, 0);
    cr_assert_str_eq(json_string_value(json_object_get(t0j, "token")), "TKA");
    cr_assert_str_eq(json_string_value(json_object_get(t0j, "from")), TRADER);
    cr_assert_eq(strcasecmp(json_string_value(json_object_get(t0j, "to")), A("pair")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(t0j, "amount")), "1");
    json_t *t1j = json_array_get(x, 1);
    cr_assert_str_eq(json_string_value(json_object_get(t1j, "token")), "TKB");
    cr_assert_str_eq(json_string_value(json_object_get(t1j, "to")), TRADER);
    cr_assert_str_eq(json_string_value(json_object_get(t1j, "amount")),
                     json_string_value(json_object_get(tr, "expectedAmount")));
    json_decref(p);
    json_decref(tr);
    fprintf(stderr, "gateway trade with a cached key: %.1f ms\n", dt * 1e3);
}
