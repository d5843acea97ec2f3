/*
 * Tests of the DEX gateway (server/gateway/gateway.c, rpc.c, wallet.c) on a
 * real chain: each test starts anvil (npm @foundry-rs/anvil, pinned in
 * package.json) on a free port, deploys WETH9, two ERC20s, UniswapV2Factory
 * and Router02 and adds liquidity with tests/gateway/deploy_uniswap.mjs,
 * then drives the gateway's routes (clb_gateway_handle, the function the
 * HTTPS API calls) and checks the chain's state with its own JSON-RPC
 * calls. The trader is anvil's dev account #1, whose well-known key is
 * stored as an encrypted wallet.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>

#include "error.h"
#include "eth.h"
#include "gateway.h"
#include "harness.h"
#include "../gateway/chain_fixture.h"
#include "rpc.h"
#include "wallet.h"

/* anvil's dev account #1 (public test key, holds test ETH only). */
#define TRADER_KEY "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
#define TRADER "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"

static char g_dir[256];
static struct chain_fixture g_chain; /* anvil and the deployed addresses */
static struct clb_gateway *g_gw;
static struct clb_rpc *g_rpc;
static const char *g_hardfork; /* NULL: anvil's default (EIP-1559 fees) */
static pid_t g_serve;          /* a `colibri serve` child, killed by teardown */

/* Setup failures skip teardown: children go first, then the assertion. */
static void kill_children(void)
{
    if (g_serve > 0) {
        kill(g_serve, SIGKILL);
        waitpid(g_serve, NULL, 0);
        g_serve = 0;
    }
    chain_kill(&g_chain);
}

static const char *A(const char *k)
{
    return chain_addr(&g_chain, k);
}

/* The gateway configuration of the deployed contracts ("anvil" network);
 * extra (may be NULL) is merged into the network object. */
static json_t *config(const char *extra)
{
    json_t *cfg = json_pack("{s:{s:{s:s, s:s, s:i, s:{s:{s:s, s:i}, s:{s:s, s:i}, s:{s:s, s:i}}, "
                            "s:{s:s, s:s}}}}",
                            "networks", "anvil", "chain", "ethereum", "rpc_url", g_chain.url,
                            "chain_id", 31337, "tokens", "TKA", "address", A("base"),
                            "decimals", 18, "TKB", "address", A("quote"), "decimals", 18, "WETH",
                            "address", A("weth"), "decimals", 18, "uniswap_v2", "router",
                            A("router"), "factory", A("factory"));
    cr_assert_not_null(cfg);
    if (extra) {
        json_t *x = json_loads(extra, 0, NULL);
        cr_assert_not_null(x, "bad extra %s", extra);
        json_object_update(json_object_get(json_object_get(cfg, "networks"), "anvil"), x);
        json_decref(x);
    }
    return cfg;
}

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_gateway_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    setenv("COLIBRI_SECRETS_PASSPHRASE", "gateway test passphrase", 1);
    chain_start(&g_chain, g_dir, g_hardfork);
    chain_deploy(&g_chain, g_dir);
    json_t *cfg = config(NULL);
    char err[300] = "";
    cr_assert_eq(clb_gateway_create(cfg, g_dir, &g_gw, err, sizeof(err)), CLB_OK, "%s", err);
    json_decref(cfg);
    cr_assert_eq(clb_rpc_create(g_chain.url, 5000, &g_rpc), CLB_OK);
}

static void teardown(void)
{
    clb_gateway_destroy(g_gw);
    g_gw = NULL;
    clb_rpc_destroy(g_rpc);
    g_rpc = NULL;
    kill_children();
    chain_stop(&g_chain);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(gateway, .init = setup, .fini = teardown, .timeout = 60);

/* A chain before London: no base fee, so legacy (EIP-155) transactions. */
static void setup_legacy(void)
{
    g_hardfork = "berlin";
    setup();
}

TestSuite(gateway_legacy, .init = setup_legacy, .fini = teardown, .timeout = 60);

/* ---- helpers ---- */

struct ans {
    int status;
    json_t *j;
};

__attribute__((format(printf, 3, 4))) static struct ans call(const char *method,
                                                             const char *path,
                                                             const char *fmt, ...)
{
    char body[4096] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(body, sizeof(body), fmt, ap);
        va_end(ap);
    }
    struct ans a = { 0 };
    a.status = clb_gateway_handle(g_gw, method, path, body, strlen(body), &a.j);
    cr_assert_not_null(a.j, "%s %s: no answer", method, path);
    /* every exchange is recorded for the schema check */
    char rec[300];
    snprintf(rec, sizeof(rec), "%s/responses.jsonl", g_dir);
    FILE *f = fopen(rec, "a");
    cr_assert_not_null(f);
    json_t *line = json_pack("{s:s, s:s, s:i, s:s, s:O}", "method", method, "path", path,
                             "status", a.status, "content_type", "application/json", "body",
                             a.j);
    char *text = json_dumps(line, JSON_COMPACT);
    fprintf(f, "%s\n", text);
    free(text);
    json_decref(line);
    fclose(f);
    return a;
}

static const char *jstr(json_t *j, const char *k)
{
    const char *s = json_string_value(json_object_get(j, k));
    return s ? s : "";
}

static const char *err_code(const struct ans *a)
{
    return jstr(json_object_get(a->j, "error"), "code");
}

static char *dump(json_t *j)
{
    static char buf[4096];
    char *s = json_dumps(j, JSON_COMPACT);
    snprintf(buf, sizeof(buf), "%s", s ? s : "(null)");
    free(s);
    return buf;
}

/* ERC20 balanceOf(who) of token, via our own eth_call. */
static void token_balance(const char *tok, const char *who, uint8_t out[32])
{
    uint8_t t[20], w[20], data[64], ret[64];
    size_t len = 0, n = 0;
    cr_assert_eq(clb_hex_decode_exact(tok, t, 20), CLB_OK);
    cr_assert_eq(clb_hex_decode_exact(who, w, 20), CLB_OK);
    struct clb_abi_arg a = clb_abi_arg_address(w);
    cr_assert_eq(clb_abi_encode_call("balanceOf(address)", &a, 1, data, sizeof(data), &len),
                 CLB_OK);
    struct clb_rpc_error e;
    cr_assert_eq(clb_rpc_eth_call(g_rpc, NULL, t, data, len, ret, sizeof(ret), &n, &e), CLB_OK,
                 "%s", e.message);
    cr_assert_eq(clb_abi_decode_u256(ret, n, 0, out), CLB_OK);
}

static void dec(const uint8_t v[32], char out[CLB_U256_DEC_MAX])
{
    cr_assert_eq(clb_u256_to_dec(v, 18, out, CLB_U256_DEC_MAX), CLB_OK);
}

static void add_trader_wallet(void)
{
    uint8_t addr[20];
    char err[300] = "";
    cr_assert_eq(clb_wallet_add(g_dir, NULL, "anvil", TRADER_KEY, addr, err, sizeof(err)), CLB_OK,
                 "%s", err);
    char t[CLB_ETH_ADDR_TEXT];
    clb_eth_address_format(addr, t);
    cr_assert_str_eq(t, TRADER);
}

/* Polls a transaction until it is no longer pending; returns the answer. */
static struct ans poll_tx(const char *hash)
{
    for (int i = 0; i < 200; i++) {
        struct ans a = call("POST", "/gateway/chain/poll",
                            "{\"network\": \"anvil\", \"txHash\": \"%s\"}", hash);
        cr_assert_eq(a.status, 200, "%s", dump(a.j));
        if (strcmp(jstr(a.j, "status"), "pending") != 0 &&
            strcmp(jstr(a.j, "status"), "not_found") != 0)
            return a;
        json_decref(a.j);
        sleep_ms(20);
    }
    cr_assert_fail("transaction %s never mined", hash);
    return (struct ans){ 0 };
}

/* Checks every recorded answer against api-spec/openapi.yaml with
 * tests/server/validate_responses.mjs (documented status, schema). */
static void check_schemas(void)
{
    char cmd[2048], logp[300], log[16384];
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true "
             "npx --no-install redocly bundle api-spec/openapi.yaml --dereferenced "
             "--output '%s/openapi.json' >'%s/bundle.log' 2>&1 && "
             "node tests/server/validate_responses.mjs '%s/openapi.json' '%s/responses.jsonl' "
             ">'%s/validate.log' 2>&1",
             COLIBRI_SOURCE_DIR, g_dir, g_dir, g_dir, g_dir, g_dir);
    int st = system(cmd);
    snprintf(logp, sizeof(logp), "%s/validate.log", g_dir);
    slurp(logp, log, sizeof(log));
    if (!log[0]) {
        snprintf(logp, sizeof(logp), "%s/bundle.log", g_dir);
        slurp(logp, log, sizeof(log));
    }
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "schema check failed:\n%s", log);
    cr_assert_not_null(strstr(log, " 0 failed"), "%s", log);
}

/* ---- tests ---- */

Test(gateway, status_reports_block_and_chain)
{
    struct ans a = call("GET", "/gateway/status", NULL);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    json_t *n = json_array_get(json_object_get(a.j, "networks"), 0);
    cr_assert_str_eq(jstr(n, "network"), "anvil");
    cr_assert_str_eq(jstr(n, "status"), "ok", "%s", dump(a.j));
    cr_assert_eq(json_integer_value(json_object_get(n, "chainId")), 31337);
    cr_assert_gt(json_integer_value(json_object_get(n, "currentBlockNumber")), 5);
    json_decref(a.j);
    check_schemas();
}

Test(gateway, price_matches_the_constant_product_formula)
{
    /* Pool 1000 TKA / 2000 TKB, fee 0.3 %: selling 10 TKA gives
     * 10*997*2000 / (1000*1000 + 10*997) TKB (rounded down in wei). */
    struct ans a = call("POST", "/gateway/amm/price",
                        "{\"network\": \"anvil\", \"connector\": \"uniswap_v2\", \"base\": "
                        "\"TKA\", \"quote\": \"TKB\", \"amount\": \"10\", \"side\": \"SELL\"}");
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    uint8_t in[32], rin[32], rout[32], num[32], den[32], tmp[32], expect[32];
    clb_u256_from_dec("10", 18, in);
    clb_u256_from_dec("1000", 18, rin);
    clb_u256_from_dec("2000", 18, rout);
    uint8_t k997[32], k1000[32];
    clb_u256_from_u64(k997, 997);
    clb_u256_from_u64(k1000, 1000);
    clb_u256_mul(tmp, in, k997);       /* in * 997 */
    clb_u256_mul(num, tmp, rout);      /* * reserveOut */
    clb_u256_mul(den, rin, k1000);     /* reserveIn * 1000 */
    clb_u256_add(den, den, tmp);       /* + in * 997 */
    clb_u256_divmod(expect, NULL, num, den);
    char want[CLB_U256_DEC_MAX];
    dec(expect, want);
    cr_assert_str_eq(jstr(a.j, "expectedAmount"), want, "%s", dump(a.j));
    cr_assert_str_eq(jstr(a.j, "amount"), "10");
    cr_assert_str_eq(jstr(a.j, "rawAmount"), "10000000000000000000");
    /* price = expected / 10, a little under 2 */
    double p = atof(jstr(a.j, "price"));
    cr_assert(p > 1.9 && p < 2.0, "price %s", jstr(a.j, "price"));
    cr_assert_gt(json_integer_value(json_object_get(a.j, "gasLimit")), 100000);
    cr_assert(json_real_value(json_object_get(a.j, "gasPrice")) > 0);
    cr_assert_str_eq(jstr(a.j, "gasPriceToken"), "ETH");
    json_decref(a.j);

    /* BUY 10 TKA costs more than 20 TKB. */
    a = call("POST", "/gateway/amm/price",
             "{\"network\": \"anvil\", \"base\": \"TKA\", \"quote\": \"TKB\", \"amount\": "
             "\"10\", \"side\": \"BUY\"}");
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    cr_assert(atof(jstr(a.j, "expectedAmount")) > 20.0, "%s", dump(a.j));
    cr_assert(atof(jstr(a.j, "price")) > 2.0);
    json_decref(a.j);
    check_schemas();
}

Test(gateway, bad_price_requests_are_clear_4xx)
{
    static const struct {
        const char *body;
        int status;
        const char *code;
    } cases[] = {
        { "{\"network\": \"anvil\", \"base\": \"NOPE\", \"quote\": \"TKB\", \"amount\": \"1\", "
          "\"side\": \"SELL\"}", 400, "unknown_token" },
        { "{\"network\": \"anvil\", \"base\": \"TKA\", \"quote\": \"TKB\", \"amount\": \"0\", "
          "\"side\": \"SELL\"}", 400, "invalid_amount" },
        { "{\"network\": \"anvil\", \"base\": \"TKA\", \"quote\": \"TKB\", \"amount\": \"-1\", "
          "\"side\": \"SELL\"}", 400, "invalid_amount" },
        { "{\"network\": \"anvil\", \"base\": \"TKA\", \"quote\": \"TKB\", \"amount\": "
          "\"0.0000000000000000001\", \"side\": \"SELL\"}", 400, "invalid_amount" },
        { "{\"network\": \"anvil\", \"base\": \"TKA\", \"quote\": \"TKB\", \"amount\": \"1\", "
          "\"side\": \"HOLD\"}", 400, "bad_request" },
        { "{\"network\": \"mainnet\", \"base\": \"TKA\", \"quote\": \"TKB\", \"amount\": \"1\", "
          "\"side\": \"SELL\"}", 404, "unknown_network" },
        { "{\"network\": \"anvil\", \"base\": \"TKA\", \"quote\": \"TKA\", \"amount\": \"1\", "
          "\"side\": \"SELL\"}", 400, "bad_request" },
        { "{\"network\": \"anvil\", \"base\": \"TKA\", \"quote\": \"TKB\", \"amount\": \"1\", "
          "\"side\": \"SELL\", \"extra\": 1}", 400, "bad_request" },
        { "{\"network\": \"anvil\", \"connector\": \"sushiswap\", \"base\": \"TKA\", \"quote\": "
          "\"TKB\", \"amount\": \"1\", \"side\": \"SELL\"}", 400, "bad_request" },
        /* no TKA/WETH pool: the router reverts */
        { "{\"network\": \"anvil\", \"base\": \"TKA\", \"quote\": \"WETH\", \"amount\": \"1\", "
          "\"side\": \"SELL\"}", 400, "no_liquidity" },
        /* more than the pool holds */
        { "{\"network\": \"anvil\", \"base\": \"TKA\", \"quote\": \"TKB\", \"amount\": \"5000\", "
          "\"side\": \"BUY\"}", 400, "no_liquidity" },
        { "[1]", 400, "bad_request" },
        { "{", 400, "invalid_json" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct ans a = call("POST", "/gateway/amm/price", "%s", cases[i].body);
        cr_assert_eq(a.status, cases[i].status, "case %zu: %s", i, dump(a.j));
        cr_assert_str_eq(err_code(&a), cases[i].code, "case %zu: %s", i, dump(a.j));
        cr_assert_gt(strlen(jstr(json_object_get(a.j, "error"), "message")), 10);
        json_decref(a.j);
    }
    struct ans a = call("GET", "/gateway/nothing", NULL);
    cr_assert_eq(a.status, 404);
    json_decref(a.j);
    check_schemas();
}

Test(gateway, balances_of_tokens_and_eth)
{
    struct ans a = call("POST", "/gateway/chain/balances",
                        "{\"network\": \"anvil\", \"address\": \"%s\", \"tokenSymbols\": "
                        "[\"ETH\", \"TKA\", \"tkb\"]}", TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    json_t *b = json_object_get(a.j, "balances");
    cr_assert_str_eq(jstr(b, "TKA"), "100");
    cr_assert_str_eq(jstr(b, "TKB"), "100");
    cr_assert_str_eq(jstr(b, "ETH"), "10000");
    json_decref(a.j);

    /* all tokens when none are named */
    a = call("POST", "/gateway/chain/balances", "{\"network\": \"anvil\", \"address\": \"%s\"}",
             TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    cr_assert_eq(json_object_size(json_object_get(a.j, "balances")), 4);
    cr_assert_str_eq(jstr(json_object_get(a.j, "balances"), "WETH"), "0");
    json_decref(a.j);

    a = call("POST", "/gateway/chain/balances",
             "{\"network\": \"anvil\", \"address\": \"0x1234\", \"tokenSymbols\": [\"TKA\"]}");
    cr_assert_eq(a.status, 400);
    cr_assert_str_eq(err_code(&a), "invalid_address");
    json_decref(a.j);
    /* a wrong EIP-55 checksum is refused */
    a = call("POST", "/gateway/chain/balances",
             "{\"network\": \"anvil\", \"address\": "
             "\"0x70997970c51812dc3A010C7d01b50e0d17dc79C8\"}");
    cr_assert_eq(a.status, 400, "%s", dump(a.j));
    json_decref(a.j);
    a = call("POST", "/gateway/chain/balances",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"tokenSymbols\": [\"XYZ\"]}",
             TRADER);
    cr_assert_eq(a.status, 400);
    cr_assert_str_eq(err_code(&a), "unknown_token");
    json_decref(a.j);
}

Test(gateway, approve_then_sell_moves_balances_and_reserves)
{
    add_trader_wallet();
    /* Without an allowance the trade is refused before anything is sent. */
    struct ans a = call("POST", "/gateway/amm/trade",
                        "{\"network\": \"anvil\", \"address\": \"%s\", \"base\": \"TKA\", "
                        "\"quote\": \"TKB\", \"amount\": \"10\", \"side\": \"SELL\"}", TRADER);
    cr_assert_eq(a.status, 400, "%s", dump(a.j));
    cr_assert_str_eq(err_code(&a), "insufficient_allowance");
    json_decref(a.j);

    a = call("POST", "/gateway/chain/approve",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"spender\": \"uniswap_v2\", "
             "\"token\": \"TKA\"}", TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    char hash[80];
    snprintf(hash, sizeof(hash), "%s", jstr(a.j, "txHash"));
    cr_assert_eq(strlen(hash), 66);
    cr_assert_eq(json_integer_value(json_object_get(a.j, "nonce")), 0);
    json_decref(a.j);
    a = poll_tx(hash);
    cr_assert_str_eq(jstr(a.j, "status"), "confirmed", "%s", dump(a.j));
    cr_assert_eq(json_integer_value(json_object_get(a.j, "txStatus")), 1);
    json_decref(a.j);

    a = call("POST", "/gateway/chain/allowances",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"spender\": \"uniswap_v2\", "
             "\"tokenSymbols\": [\"TKA\", \"TKB\"]}", TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    cr_assert_gt(strlen(jstr(json_object_get(a.j, "approvals"), "TKA")), 50);
    cr_assert_str_eq(jstr(json_object_get(a.j, "approvals"), "TKB"), "0");
    json_decref(a.j);

    /* Quote, then sell 10 TKA: the trader gets exactly the quoted TKB (no
     * other trade in between) and the pair's balances move by the same. */
    uint8_t pair_a0[32], pair_b0[32], tr_b0[32];
    token_balance(A("base"), A("pair"), pair_a0);
    token_balance(A("quote"), A("pair"), pair_b0);
    token_balance(A("quote"), A("trader"), tr_b0);
    a = call("POST", "/gateway/amm/trade",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"base\": \"TKA\", \"quote\": "
             "\"TKB\", \"amount\": \"10\", \"side\": \"SELL\", \"limitPrice\": \"1.9\"}", TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    char expected[CLB_U256_DEC_MAX];
    snprintf(expected, sizeof(expected), "%s", jstr(a.j, "expectedAmount"));
    cr_assert_str_eq(jstr(a.j, "amountOutMin"), "19");
    cr_assert_eq(json_integer_value(json_object_get(a.j, "nonce")), 1);
    snprintf(hash, sizeof(hash), "%s", jstr(a.j, "txHash"));
    json_decref(a.j);
    a = poll_tx(hash);
    cr_assert_str_eq(jstr(a.j, "status"), "confirmed", "%s", dump(a.j));
    cr_assert_gt(json_integer_value(json_object_get(a.j, "gasUsed")), 50000);
    json_decref(a.j);

    uint8_t pair_a1[32], pair_b1[32], tr_b1[32], d[32];
    token_balance(A("base"), A("pair"), pair_a1);
    token_balance(A("quote"), A("pair"), pair_b1);
    token_balance(A("quote"), A("trader"), tr_b1);
    char t[CLB_U256_DEC_MAX];
    clb_u256_sub(d, tr_b1, tr_b0);
    dec(d, t);
    cr_assert_str_eq(t, expected);
    clb_u256_sub(d, pair_b0, pair_b1);
    dec(d, t);
    cr_assert_str_eq(t, expected);
    clb_u256_sub(d, pair_a1, pair_a0);
    dec(d, t);
    cr_assert_str_eq(t, "10");

    a = call("POST", "/gateway/chain/balances",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"tokenSymbols\": [\"TKA\"]}",
             TRADER);
    cr_assert_str_eq(jstr(json_object_get(a.j, "balances"), "TKA"), "90");
    json_decref(a.j);
    check_schemas();
}

Test(gateway, buy_exact_base_and_trade_errors)
{
    add_trader_wallet();
    struct ans a = call("POST", "/gateway/chain/approve",
                        "{\"network\": \"anvil\", \"address\": \"%s\", \"token\": \"TKB\", "
                        "\"amount\": \"50\"}", TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    cr_assert_str_eq(jstr(a.j, "amount"), "50");
    json_decref(a.j);

    /* limitPrice below the pool's price: refused, nothing sent */
    a = call("POST", "/gateway/amm/trade",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"base\": \"TKA\", \"quote\": "
             "\"TKB\", \"amount\": \"5\", \"side\": \"BUY\", \"limitPrice\": \"1.5\"}", TRADER);
    cr_assert_eq(a.status, 400, "%s", dump(a.j));
    cr_assert_str_eq(err_code(&a), "price_limit");
    json_decref(a.j);

    /* more TKB than the wallet holds (100) */
    a = call("POST", "/gateway/amm/trade",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"base\": \"TKA\", \"quote\": "
             "\"TKB\", \"amount\": \"60\", \"side\": \"BUY\"}", TRADER);
    cr_assert_eq(a.status, 400, "%s", dump(a.j));
    cr_assert_str_eq(err_code(&a), "insufficient_balance");
    json_decref(a.j);

    /* an address without a wallet */
    a = call("POST", "/gateway/amm/trade",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"base\": \"TKA\", \"quote\": "
             "\"TKB\", \"amount\": \"1\", \"side\": \"SELL\"}",
             "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC");
    cr_assert_eq(a.status, 400, "%s", dump(a.j)); /* holds no TKA: balance check first */
    json_decref(a.j);

    /* BUY 5 TKA: the trader receives exactly 5 */
    uint8_t before[32], after[32], d[32];
    token_balance(A("base"), A("trader"), before);
    a = call("POST", "/gateway/amm/trade",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"base\": \"TKA\", \"quote\": "
             "\"TKB\", \"amount\": \"5\", \"side\": \"BUY\", \"limitPrice\": \"2.2\"}", TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    cr_assert_str_eq(jstr(a.j, "amountInMax"), "11");
    char hash[80];
    snprintf(hash, sizeof(hash), "%s", jstr(a.j, "txHash"));
    json_decref(a.j);
    a = poll_tx(hash);
    cr_assert_str_eq(jstr(a.j, "status"), "confirmed", "%s", dump(a.j));
    json_decref(a.j);
    token_balance(A("base"), A("trader"), after);
    clb_u256_sub(d, after, before);
    char t[CLB_U256_DEC_MAX];
    dec(d, t);
    cr_assert_str_eq(t, "5");

    /* A stale explicit nonce is refused by the node: a clear 409. */
    a = call("POST", "/gateway/chain/approve",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"token\": \"TKA\", \"nonce\": 0}",
             TRADER);
    cr_assert_eq(a.status, 409, "%s", dump(a.j));
    cr_assert_str_eq(err_code(&a), "nonce_conflict");
    json_decref(a.j);
    /* and the manager recovers from the node's count */
    a = call("POST", "/gateway/chain/approve",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"token\": \"TKA\"}", TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    cr_assert_eq(json_integer_value(json_object_get(a.j, "nonce")), 2);
    json_decref(a.j);
    check_schemas();
}

Test(gateway, reverted_transaction_is_reported_by_poll)
{
    /* A transaction that reverts on chain, sent from anvil's unlocked
     * account #2 (a transfer of more TKA than it holds, with an explicit
     * gas limit so the node does not refuse it up front). */
    char data[200];
    snprintf(data, sizeof(data), "0xa9059cbb%064d%s%064d", 0, "", 1);
    memcpy(data + 10 + 24, "70997970c51812dc3a010c7d01b50e0d17dc79c8", 40);
    json_t *res = NULL;
    struct clb_rpc_error e;
    cr_assert_eq(clb_rpc_call(g_rpc, "eth_sendTransaction",
                              json_pack("[{s:s, s:s, s:s, s:s}]", "from",
                                        "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC", "to",
                                        A("base"), "gas", "0x30000", "data", data),
                              &res, &e),
                 CLB_OK, "%s", e.message);
    const char *hash = json_string_value(res);
    cr_assert(hash && strlen(hash) == 66);
    struct ans a = poll_tx(hash);
    cr_assert_str_eq(jstr(a.j, "status"), "failed", "%s", dump(a.j));
    cr_assert_eq(json_integer_value(json_object_get(a.j, "txStatus")), 0);
    json_decref(a.j);
    json_decref(res);

    a = call("POST", "/gateway/chain/poll",
             "{\"network\": \"anvil\", \"txHash\": \"0x%064d\"}", 7);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    cr_assert_str_eq(jstr(a.j, "status"), "not_found");
    json_decref(a.j);
    a = call("POST", "/gateway/chain/poll", "{\"network\": \"anvil\", \"txHash\": \"0x12\"}");
    cr_assert_eq(a.status, 400);
    json_decref(a.j);
}

Test(gateway, wallets_are_encrypted_and_listed_without_keys)
{
    struct ans a = call("POST", "/gateway/wallet/add",
                        "{\"network\": \"anvil\", \"privateKey\": \"%s\"}", TRADER_KEY);
    cr_assert_eq(a.status, 201, "%s", dump(a.j));
    cr_assert_str_eq(jstr(a.j, "address"), TRADER);
    json_decref(a.j);
    a = call("POST", "/gateway/wallet/add", "{\"network\": \"anvil\", \"privateKey\": \"0x12\"}");
    cr_assert_eq(a.status, 400, "%s", dump(a.j));
    json_decref(a.j);
    a = call("POST", "/gateway/wallet/add",
             "{\"network\": \"nowhere\", \"privateKey\": \"%s\"}", TRADER_KEY);
    cr_assert_eq(a.status, 404, "%s", dump(a.j));
    json_decref(a.j);
    a = call("GET", "/gateway/wallet", NULL);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    json_t *w = json_object_get(a.j, "wallets");
    cr_assert_eq(json_array_size(w), 1, "%s", dump(a.j));
    cr_assert_str_eq(jstr(json_array_get(w, 0), "network"), "anvil");
    cr_assert_eq(strcasecmp(jstr(json_array_get(w, 0), "address"), TRADER), 0);
    cr_assert_null(strstr(dump(a.j), "59c6995e"));
    json_decref(a.j);
    /* the key is nowhere in clear text in the data directory (anvil's own
     * output, which lists its dev keys, aside) */
    char cmd[512], path[300];
    snprintf(path, sizeof(path), "%s/secrets.json", g_dir);
    cr_assert_eq(access(path, R_OK), 0);
    snprintf(cmd, sizeof(cmd), "grep -rqi --exclude=anvil.out 59c6995e998f97a5 '%s'", g_dir);
    cr_assert_neq(system(cmd), 0, "the private key is stored in clear text");
    check_schemas();
}

Test(gateway, rpc_decodes_revert_reasons)
{
    /* Router02.getAmountsOut(0, [TKA, TKB]) reverts with a reason string. */
    uint8_t router[20], path[2][20], zero[32] = { 0 }, data[512], out[256];
    size_t len = 0, n = 0;
    cr_assert_eq(clb_hex_decode_exact(A("router"), router, 20), CLB_OK);
    cr_assert_eq(clb_hex_decode_exact(A("base"), path[0], 20), CLB_OK);
    cr_assert_eq(clb_hex_decode_exact(A("quote"), path[1], 20), CLB_OK);
    struct clb_abi_arg args[2] = { clb_abi_arg_u256(zero),
                                   clb_abi_arg_address_array((const uint8_t(*)[20])path, 2) };
    cr_assert_eq(clb_abi_encode_call("getAmountsOut(uint256,address[])", args, 2, data,
                                     sizeof(data), &len), CLB_OK);
    struct clb_rpc_error e;
    int rc = clb_rpc_eth_call(g_rpc, NULL, router, data, len, out, sizeof(out), &n, &e);
    cr_assert_eq(rc, CLB_ESTATE);
    cr_assert(e.reverted);
    cr_assert_str_eq(e.message, "execution reverted: UniswapV2Library: INSUFFICIENT_INPUT_AMOUNT");
    /* an unknown method is a plain RPC error */
    json_t *res = NULL;
    rc = clb_rpc_call(g_rpc, "eth_noSuchMethod", json_array(), &res, &e);
    cr_assert_eq(rc, CLB_ESTATE);
    cr_assert_not(e.reverted);
    cr_assert_neq(e.rpc_code, 0);
    cr_assert_null(res);
    uint64_t id = 0, block = 0, gp = 0;
    cr_assert_eq(clb_rpc_chain_id(g_rpc, &id, &e), CLB_OK);
    cr_assert_eq(id, 31337);
    cr_assert_eq(clb_rpc_block_number(g_rpc, &block, &e), CLB_OK);
    cr_assert_gt(block, 0);
    cr_assert_eq(clb_rpc_gas_price(g_rpc, &gp, &e), CLB_OK);
    struct clb_rpc_fees f;
    cr_assert_eq(clb_rpc_fees(g_rpc, &f, &e), CLB_OK);
    cr_assert(f.eip1559, "anvil reports a base fee");
    cr_assert_geq(f.max_fee, f.base_fee + f.priority_fee);
    /* bad URLs are refused at create */
    struct clb_rpc *bad = NULL;
    cr_assert_eq(clb_rpc_create("ftp://x", 1000, &bad), CLB_EINVAL);
    cr_assert_eq(clb_rpc_create("http://x", 0, &bad), CLB_EINVAL);
}

Test(gateway, node_down_wrong_chain_and_timeouts)
{
    /* A port nobody listens on. */
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
    cr_assert_eq(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
    socklen_t sl = sizeof(sa);
    getsockname(s, (struct sockaddr *)&sa, &sl);
    int silent_port = ntohs(sa.sin_port);
    cr_assert_eq(listen(s, 4), 0); /* accepts, never answers */

    char cfgtxt[1024];
    snprintf(cfgtxt, sizeof(cfgtxt),
             "{\"networks\": {\"down\": {\"chain\": \"ethereum\", \"rpc_url\": "
             "\"http://127.0.0.1:1\", \"chain_id\": 31337}, \"wrong\": {\"chain\": "
             "\"ethereum\", \"rpc_url\": \"%s\", \"chain_id\": 1}, \"silent\": {\"chain\": "
             "\"ethereum\", \"rpc_url\": \"http://127.0.0.1:%d\", \"chain_id\": 1, "
             "\"rpc_timeout_ms\": 300}}}", g_chain.url, silent_port);
    json_t *cfg = json_loads(cfgtxt, 0, NULL);
    struct clb_gateway *gw = NULL;
    char err[300];
    cr_assert_eq(clb_gateway_create(cfg, g_dir, &gw, err, sizeof(err)), CLB_OK, "%s", err);
    json_decref(cfg);
    struct {
        const char *net;
        int status;
        const char *code;
    } cases[] = { { "down", 502, "rpc_unavailable" }, { "wrong", 502, "chain_mismatch" },
                  { "silent", 504, "rpc_timeout" } };
    for (size_t i = 0; i < 3; i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"network\": \"%s\", \"address\": \"%s\"}", cases[i].net,
                 TRADER);
        json_t *out = NULL;
        double t0 = now_s();
        int st = clb_gateway_handle(gw, "POST", "/gateway/chain/balances", body, strlen(body),
                                    &out);
        cr_assert_eq(st, cases[i].status, "%s: %s", cases[i].net, dump(out));
        cr_assert_str_eq(jstr(json_object_get(out, "error"), "code"), cases[i].code);
        cr_assert_lt(now_s() - t0, 3.0);
        json_decref(out);
    }
    json_t *out = NULL;
    cr_assert_eq(clb_gateway_handle(gw, "GET", "/gateway/status", NULL, 0, &out), 200);
    json_t *nets = json_object_get(out, "networks");
    cr_assert_eq(json_array_size(nets), 3);
    for (size_t i = 0; i < 3; i++)
        cr_assert_str_eq(jstr(json_array_get(nets, i), "status"), "error", "%s", dump(out));
    json_decref(out);
    clb_gateway_destroy(gw);
    close(s);
}

Test(gateway, config_errors_name_the_key)
{
    static const struct {
        const char *cfg;
        const char *want;
    } cases[] = {
        { "[]", "gateway" },
        { "{\"nets\": {}}", "gateway.nets" },
        { "{\"networks\": {\"a\": {\"rpc_url\": \"https://x\", \"chain_id\": 1}}}",
          "gateway.networks.a.chain" },
        { "{\"networks\": {\"a\": {\"chain\": \"solana\", \"rpc_url\": \"https://x\", "
          "\"chain_id\": 1}}}", "gateway.networks.a.chain" },
        { "{\"networks\": {\"a\": {\"chain\": \"ethereum\", \"rpc_url\": "
          "\"http://example.com\", \"chain_id\": 1}}}", "gateway.networks.a.rpc_url" },
        { "{\"networks\": {\"a\": {\"chain\": \"ethereum\", \"rpc_url\": \"https://x\", "
          "\"chain_id\": 0}}}", "gateway.networks.a.chain_id" },
        { "{\"networks\": {\"a\": {\"chain\": \"ethereum\", \"rpc_url\": \"https://x\", "
          "\"chain_id\": 1, \"tokens\": {\"ETH\": {\"address\": "
          "\"0x0000000000000000000000000000000000000001\", \"decimals\": 18}}}}}",
          "gateway.networks.a.tokens.ETH" },
        { "{\"networks\": {\"a\": {\"chain\": \"ethereum\", \"rpc_url\": \"https://x\", "
          "\"chain_id\": 1, \"tokens\": {\"T\": {\"address\": \"0x12\", \"decimals\": 18}}}}}",
          "gateway.networks.a.tokens.T.address" },
        { "{\"networks\": {\"a\": {\"chain\": \"ethereum\", \"rpc_url\": \"https://x\", "
          "\"chain_id\": 1, \"tokens\": {\"T\": {\"address\": "
          "\"0x0000000000000000000000000000000000000001\", \"decimals\": 99}}}}}",
          "gateway.networks.a.tokens.T.decimals" },
        { "{\"networks\": {\"a\": {\"chain\": \"ethereum\", \"rpc_url\": \"https://x\", "
          "\"chain_id\": 1, \"uniswap_v2\": {\"router\": "
          "\"0x0000000000000000000000000000000000000001\"}}}}",
          "gateway.networks.a.uniswap_v2.factory" },
        { "{\"networks\": {\"a\": {\"chain\": \"ethereum\", \"rpc_url\": \"https://x\", "
          "\"chain_id\": 1, \"slippage_bps\": 100000}}}", "gateway.networks.a.slippage_bps" },
        { "{\"networks\": {\"a b\": {}}}", "gateway.networks.a b" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *cfg = json_loads(cases[i].cfg, JSON_DECODE_ANY, NULL);
        cr_assert_not_null(cfg, "case %zu", i);
        char err[300] = "";
        cr_assert_eq(clb_gateway_check_config(cfg, err, sizeof(err)), CLB_EINVAL, "case %zu", i);
        cr_assert(strncmp(err, cases[i].want, strlen(cases[i].want)) == 0,
                  "case %zu: '%s' does not start with '%s'", i, err, cases[i].want);
        json_decref(cfg);
    }
    json_t *good = config("{\"slippage_bps\": 50, \"deadline_s\": 60}");
    char err[300] = "";
    cr_assert_eq(clb_gateway_check_config(good, err, sizeof(err)), CLB_OK, "%s", err);
    json_decref(good);
}

/* ---- end to end: `colibri wallet add` and `colibri serve` over HTTPS ---- */

#include <curl/curl.h>

struct buf {
    char data[65536];
    size_t len;
};

static size_t on_data(char *p, size_t sz, size_t n, void *ud)
{
    struct buf *b = ud;
    size_t k = sz * n;
    if (b->len + k >= sizeof(b->data))
        return 0;
    memcpy(b->data + b->len, p, k);
    b->len += k;
    b->data[b->len] = '\0';
    return k;
}

/* Runs `colibri ARGS` with stdin from `input` (may be NULL); stdout into out. */
static int run_cli(const char *input, const char *const *args, char *out, size_t cap)
{
    char in_path[300], out_path[300];
    snprintf(in_path, sizeof(in_path), "%s/cli.in", g_dir);
    snprintf(out_path, sizeof(out_path), "%s/cli.out", g_dir);
    FILE *f = fopen(in_path, "w");
    cr_assert_not_null(f);
    fputs(input ? input : "", f);
    fclose(f);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int i = open(in_path, O_RDONLY);
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(i, 0);
        dup2(o, 1);
        dup2(o, 2);
        setsid(); /* no controlling terminal: no passphrase prompt */
        char bin[512];
        snprintf(bin, sizeof(bin), "%s/colibri", COLIBRI_BINARY_DIR);
        char *argv[16];
        int n = 0;
        argv[n++] = bin;
        for (size_t k = 0; args[k] && n < 15; k++)
            argv[n++] = (char *)args[k];
        argv[n] = NULL;
        execv(bin, argv);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    slurp(out_path, out, cap);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static long https(int port, const char *cert, const char *token, const char *method,
                  const char *path, const char *body, struct buf *out)
{
    char url[256], auth[300];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", port, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    CURL *c = curl_easy_init();
    struct curl_slist *hs = curl_slist_append(NULL, auth);
    hs = curl_slist_append(hs, "Content-Type: application/json");
    out->len = 0;
    out->data[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CAINFO, cert);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L); /* the certificate names localhost */
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (body)
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    CURLcode rc = curl_easy_perform(c);
    cr_assert_eq(rc, CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(hs);
    curl_easy_cleanup(c);
    return status;
}

Test(gateway, serve_routes_roles_and_wallet_cli)
{
    char data[300], cfgpath[300], out[8192];
    snprintf(data, sizeof(data), "%s/data", g_dir);
    snprintf(cfgpath, sizeof(cfgpath), "%s/serve.json", g_dir);
    json_t *gw = config(NULL);
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:i, s:o}", "listen", "127.0.0.1:0", "ws_listen",
                            "127.0.0.1:0", "data_dir", data, "tick_ms", 1000, "gateway", gw);
    cr_assert_eq(json_dump_file(cfg, cfgpath, 0), 0);
    json_decref(cfg);

    /* the CLI stores the key read from stdin and prints only the address */
    /* --config: the data directory is the config's, the network must be in it */
    const char *add[] = { "wallet", "add", "--network", "anvil", "--config", cfgpath, NULL };
    cr_assert_eq(run_cli(TRADER_KEY "\n", add, out, sizeof(out)), 0, "%s", out);
    cr_assert_str_eq(out, TRADER "\n");
    const char *list[] = { "wallet", "list", "--data-dir", data, NULL };
    cr_assert_eq(run_cli(NULL, list, out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, TRADER), "%s", out);
    cr_assert_null(strstr(out, "59c6995e"));
    cr_assert_eq(run_cli("0xnope\n", add, out, sizeof(out)), 1, "%s", out);
    cr_assert_not_null(strstr(out, "private key"), "%s", out);
    const char *add_bad[] = { "wallet", "add", "--network", "nope", "--config", cfgpath, NULL };
    cr_assert_eq(run_cli(TRADER_KEY "\n", add_bad, out, sizeof(out)), 1, "%s", out);
    cr_assert_not_null(strstr(out, "no network 'nope'"), "%s", out);

    /* a bad gateway section stops serve with the key named */
    char badpath[300];
    snprintf(badpath, sizeof(badpath), "%s/bad.json", g_dir);
    FILE *f = fopen(badpath, "w");
    fputs("{\"gateway\": {\"networks\": {\"x\": {\"chain\": \"ethereum\", \"rpc_url\": "
          "\"ftp://x\", \"chain_id\": 1}}}}", f);
    fclose(f);
    const char *bad[] = { "serve", "--config", badpath, NULL };
    cr_assert_neq(run_cli(NULL, bad, out, sizeof(out)), 0);
    cr_assert_not_null(strstr(out, "gateway.networks.x.rpc_url"), "%s", out);

    /* a read token, made before serve starts (the server reloads tokens
     * every 2 s) */
    char read_tok[256], admin[256];
    const char *mk[] = { "token", "create", "--role", "read", "--name", "reader", "--data-dir",
                         data, NULL };
    cr_assert_eq(run_cli(NULL, mk, out, sizeof(out)), 0, "%s", out);
    char *tk = strstr(out, "clb_"); /* the token's line; stderr shares the file */
    cr_assert_not_null(tk, "%s", out);
    snprintf(read_tok, sizeof(read_tok), "%.*s", (int)strcspn(tk, "\r\n"), tk);
    const char *mka[] = { "token", "create", "--role", "admin", "--name", "adm", "--data-dir",
                          data, NULL };
    cr_assert_eq(run_cli(NULL, mka, out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(tk = strstr(out, "clb_"), "%s", out);
    snprintf(admin, sizeof(admin), "%.*s", (int)strcspn(tk, "\r\n"), tk);
    /* serve */
    char out_path[300];
    snprintf(out_path, sizeof(out_path), "%s/serve.out", g_dir);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        dup2(o, 2);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        char bin[512];
        snprintf(bin, sizeof(bin), "%s/colibri", COLIBRI_BINARY_DIR);
        execl(bin, bin, "serve", "--config", cfgpath, (char *)NULL);
        _exit(127);
    }
    g_serve = pid;
    int port = 0;
    double t0 = now_s();
    while (now_s() - t0 < 20 && !port) {
        slurp(out_path, out, sizeof(out));
        char *p = strstr(out, "REST https://127.0.0.1:");
        if (p && strstr(out, "colibri serve ready"))
            port = atoi(p + strlen("REST https://127.0.0.1:"));
        else
            sleep_ms(20);
    }
    cr_assert_gt(port, 0, "serve did not start: %s", out);
    char cert[400];
    snprintf(cert, sizeof(cert), "%s/tls/cert.pem", data);

    struct buf *b = malloc(sizeof(*b));
    long st = https(port, cert, read_tok, "GET", "/gateway/status", NULL, b);
    cr_assert_eq(st, 200, "%s", b->data);
    cr_assert_not_null(strstr(b->data, "\"currentBlockNumber\""), "%s", b->data);
    char body[512];
    snprintf(body, sizeof(body),
             "{\"network\": \"anvil\", \"connector\": \"uniswap_v2\", \"base\": \"TKA\", "
             "\"quote\": \"TKB\", \"amount\": \"1\", \"side\": \"SELL\"}");
    st = https(port, cert, read_tok, "POST", "/gateway/amm/price", body, b);
    cr_assert_eq(st, 200, "%s", b->data);
    /* read may not trade, approve or add wallets */
    snprintf(body, sizeof(body),
             "{\"network\": \"anvil\", \"address\": \"%s\", \"token\": \"TKA\"}", TRADER);
    st = https(port, cert, read_tok, "POST", "/gateway/chain/approve", body, b);
    cr_assert_eq(st, 403, "%s", b->data);
    st = https(port, cert, read_tok, "POST", "/gateway/wallet/add", "{}", b);
    cr_assert_eq(st, 403, "%s", b->data);
    st = https(port, cert, read_tok, "GET", "/gateway/chain/balances", NULL, b);
    cr_assert_eq(st, 405, "%s", b->data);
    /* admin (implies trade) approves with the wallet the CLI stored */
    st = https(port, cert, admin, "POST", "/gateway/chain/approve", body, b);
    cr_assert_eq(st, 200, "%s", b->data);
    cr_assert_not_null(strstr(b->data, "\"txHash\""), "%s", b->data);
    st = https(port, cert, admin, "GET", "/gateway/wallet", NULL, b);
    cr_assert_eq(st, 200, "%s", b->data);
    cr_assert_not_null(strstr(b->data, TRADER), "%s", b->data);
    free(b);

    kill(pid, SIGTERM);
    int ws;
    waitpid(pid, &ws, 0);
    g_serve = 0;
    cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "serve exit status %d", ws);
}

Test(gateway_legacy, legacy_fees_and_transactions)
{
    struct clb_rpc_fees f;
    struct clb_rpc_error e;
    cr_assert_eq(clb_rpc_fees(g_rpc, &f, &e), CLB_OK, "%s", e.message);
    cr_assert_not(f.eip1559);
    cr_assert_gt(f.gas_price, 0);
    add_trader_wallet();
    struct ans a = call("POST", "/gateway/chain/approve",
                        "{\"network\": \"anvil\", \"address\": \"%s\", \"token\": \"TKA\"}",
                        TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    cr_assert_null(json_object_get(a.j, "maxFeePerGas"));
    char hash[80];
    snprintf(hash, sizeof(hash), "%s", jstr(a.j, "txHash"));
    json_decref(a.j);
    /* the node has it as a type-0 transaction with our gas price */
    uint8_t h[32];
    cr_assert_eq(clb_hex_decode_exact(hash, h, 32), CLB_OK);
    json_t *tx = NULL;
    cr_assert_eq(clb_rpc_get_transaction(g_rpc, h, &tx, &e), CLB_OK);
    cr_assert_not_null(tx);
    cr_assert_str_eq(jstr(tx, "type"), "0x0", "%s", dump(tx));
    json_decref(tx);
    a = poll_tx(hash);
    cr_assert_str_eq(jstr(a.j, "status"), "confirmed", "%s", dump(a.j));
    json_decref(a.j);
    a = call("POST", "/gateway/amm/trade",
             "{\"network\": \"anvil\", \"address\": \"%s\", \"base\": \"TKA\", \"quote\": "
             "\"TKB\", \"amount\": \"1\", \"side\": \"SELL\"}", TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    snprintf(hash, sizeof(hash), "%s", jstr(a.j, "txHash"));
    json_decref(a.j);
    a = poll_tx(hash);
    cr_assert_str_eq(jstr(a.j, "status"), "confirmed", "%s", dump(a.j));
    json_decref(a.j);
}

/* ---- nonce manager under concurrent requests ---- */

#include <pthread.h>

struct approve_job {
    int status;
    json_t *answer;
    int i;
};

static void *approve_thread(void *ud)
{
    struct approve_job *j = ud;
    char body[256];
    snprintf(body, sizeof(body),
             "{\"network\": \"anvil\", \"address\": \"%s\", \"token\": \"%s\", \"amount\": "
             "\"%d\"}", TRADER, j->i % 2 ? "TKA" : "TKB", j->i + 1);
    j->status = clb_gateway_handle(g_gw, "POST", "/gateway/chain/approve", body, strlen(body),
                                   &j->answer);
    return NULL;
}

Test(gateway, concurrent_transactions_get_distinct_nonces)
{
    add_trader_wallet();
    enum { N = 6 };
    struct approve_job jobs[N];
    pthread_t th[N];
    for (int i = 0; i < N; i++) {
        jobs[i] = (struct approve_job){ .i = i };
        cr_assert_eq(pthread_create(&th[i], NULL, approve_thread, &jobs[i]), 0);
    }
    bool seen[N] = { false };
    json_int_t last_nonce[2] = { -1, -1 };
    int last_amount[2] = { 0, 0 }; /* [0] TKB, [1] TKA */
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(jobs[i].status, 200, "%s", dump(jobs[i].answer));
        json_int_t n = json_integer_value(json_object_get(jobs[i].answer, "nonce"));
        cr_assert(n >= 0 && n < N && !seen[n], "nonce %lld twice or out of range",
                  (long long)n);
        seen[n] = true;
        if (n > last_nonce[i % 2]) {
            last_nonce[i % 2] = n;
            last_amount[i % 2] = i + 1;
        }
    }
    for (int i = 0; i < N; i++) {
        struct ans a = poll_tx(jstr(jobs[i].answer, "txHash"));
        cr_assert_str_eq(jstr(a.j, "status"), "confirmed", "%s", dump(a.j));
        json_decref(a.j);
        json_decref(jobs[i].answer);
    }
    /* the last approval of each token is what the chain holds */
    struct ans a = call("POST", "/gateway/chain/allowances",
                        "{\"network\": \"anvil\", \"address\": \"%s\", \"tokenSymbols\": "
                        "[\"TKA\", \"TKB\"]}", TRADER);
    cr_assert_eq(a.status, 200, "%s", dump(a.j));
    char want[16];
    snprintf(want, sizeof(want), "%d", last_amount[1]);
    cr_assert_str_eq(jstr(json_object_get(a.j, "approvals"), "TKA"), want, "%s", dump(a.j));
    snprintf(want, sizeof(want), "%d", last_amount[0]);
    cr_assert_str_eq(jstr(json_object_get(a.j, "approvals"), "TKB"), want, "%s", dump(a.j));
    json_decref(a.j);
}
