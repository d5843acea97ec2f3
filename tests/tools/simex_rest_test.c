/* Tests for colibri-simex's REST API (tools/simex): Binance's signing
 * vectors, every error path, the filters (with a property test against a
 * naive reference), rate limits and their headers, order placement and
 * matching between accounts, the inspection routes, and the configuration
 * and parameter parsers. Each test runs its own simulator in-process on an
 * ephemeral port, driven through libcurl. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "simex_internal.h"
#include "simex_util.h"

#define DOC_KEY "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
#define DOC_SECRET "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

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

/* Signed request as alice, asserting the HTTP status. */
static void alice(struct sxt *t, const char *method, const char *path, const char *params,
                  long status, struct sxt_http *r)
{
    sxt_signed(t, method, path, params, SXT_ALICE, SXT_ALICE_SECRET, false, r);
    cr_assert_eq(r->status, status, "%s %s %s -> %ld %s", method, path, params, r->status,
                 r->body);
}

static void bob(struct sxt *t, const char *method, const char *path, const char *params,
                long status, struct sxt_http *r)
{
    sxt_signed(t, method, path, params, SXT_BOB, SXT_BOB_SECRET, false, r);
    cr_assert_eq(r->status, status, "%s %s %s -> %ld %s", method, path, params, r->status,
                 r->body);
}

/* Expects a Binance error: HTTP status, code and (if non-NULL) message. */
static void expect_error(struct sxt_http *r, long status, int code, const char *msg)
{
    cr_assert_eq(r->status, status, "status %ld (want %ld): %s", r->status, status, r->body);
    cr_assert_eq(sxt_code(r), code, "code %d (want %d): %s", sxt_code(r), code, r->body);
    if (msg)
        cr_assert_str_eq(sval(r->json, "msg"), msg);
    sxt_http_free(r);
}

/* ------------------------------------------------------------------------ */
/* Signing                                                                   */

Test(signing, binance_documented_vectors)
{
    char mac[65];
    const char *q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&"
                    "recvWindow=5000&timestamp=1499827319559";
    sx_hmac_sha256_hex(DOC_SECRET, q, strlen(q), mac);
    cr_assert_str_eq(mac, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
    const char *mixed = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTCquantity=1&price=0.1&"
                        "recvWindow=5000&timestamp=1499827319559";
    sx_hmac_sha256_hex(DOC_SECRET, mixed, strlen(mixed), mac);
    cr_assert_str_eq(mac, "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77");
    cr_assert(sx_sig_equal(mac, "0FD168B8DDB4876A0358A8D14D0C9F3DA0E9B20C5D52B2A00FCF7D1C602F9A77"));
    cr_assert_not(sx_sig_equal(mac, "0fd168"));
}

Test(signing, ws_api_documented_payload_and_vector)
{
    struct sx_params ps;
    sx_params_init(&ps);
    const char *kv[][2] = { { "symbol", "BTCUSDT" },       { "side", "SELL" },
                            { "type", "LIMIT" },           { "timeInForce", "GTC" },
                            { "quantity", "0.01000000" },  { "price", "52000.00" },
                            { "newOrderRespType", "ACK" }, { "recvWindow", "100" },
                            { "timestamp", "1645423376532" },
                            { "apiKey", DOC_KEY },         { "signature", "x" } };
    for (size_t i = 0; i < sizeof(kv) / sizeof(kv[0]); i++)
        cr_assert(sx_params_add(&ps, kv[i][0], strlen(kv[i][0]), kv[i][1], strlen(kv[i][1]),
                                SX_SRC_JSON, true));
    sx_params_ws_payload(&ps);
    cr_assert_eq(ps.n_payload, 1);
    cr_assert_str_eq(ps.payload[0],
                     "apiKey=" DOC_KEY "&newOrderRespType=ACK&price=52000.00&quantity=0.01000000&"
                     "recvWindow=100&side=SELL&symbol=BTCUSDT&timeInForce=GTC&"
                     "timestamp=1645423376532&type=LIMIT");
    char mac[65];
    sx_hmac_sha256_hex(DOC_SECRET, ps.payload[0], strlen(ps.payload[0]), mac);
    cr_assert_str_eq(mac, "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a");
}

/* A simulator whose clock reads Binance's documentation time, with LTCBTC. */
static void start_doc_exchange(struct sxt *t)
{
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    char err[256];
    const char *doc = "{\"symbols\":[{\"symbol\":\"LTCBTC\",\"base\":\"LTC\",\"quote\":\"BTC\","
                      "\"tick_size\":\"0.000001\",\"min_price\":\"0.000001\",\"step_size\":\"0.01\","
                      "\"min_qty\":\"0.01\",\"min_notional\":\"0.0001\",\"live\":false}],"
                      "\"balances\":{\"BTC\":\"10\",\"LTC\":\"10\"}}";
    cr_assert_eq(clb_simex_config_load_json(&cfg, doc, strlen(doc), err, sizeof(err)), CLB_OK,
                 "%s", err);
    cr_assert_eq(clb_simex_config_add_account(&cfg, DOC_KEY ":" DOC_SECRET), CLB_OK);
    cfg.faults.clock_skew_ms = INT64_C(1499827319559) + 100 - sxt_now_ms();
    sxt_start(t, &cfg);
}

Test(signing, documented_requests_verify_end_to_end)
{
    struct sxt t;
    start_doc_exchange(&t);
    struct sxt_http r;
    /* example 1: everything in the query string */
    sxt_http(&t, "POST",
             "/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&"
             "price=0.1&recvWindow=5000&timestamp=1499827319559&signature="
             "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
             NULL, DOC_KEY, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(sval(r.json, "status"), "NEW");
    cr_assert_str_eq(sval(r.json, "price"), "0.10000000");
    sxt_http_free(&r);
    /* example 2: everything in the body */
    sxt_http(&t, "POST", "/api/v3/order",
             "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&"
             "recvWindow=5000&timestamp=1499827319559&signature="
             "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
             DOC_KEY, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    sxt_http_free(&r);
    /* example 3: query and body mixed; the signature covers both, joined */
    sxt_http(&t, "POST", "/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
             "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature="
             "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77",
             DOC_KEY, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    sxt_http_free(&r);
    /* the first signature on the mixed request does not verify */
    sxt_http(&t, "POST", "/api/v3/order?symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC",
             "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559&signature="
             "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
             DOC_KEY, 0, &r);
    expect_error(&r, 400, -1022, "Signature for this request is not valid.");
    sxt_stop(&t);
}

Test(signing, percent_encoded_values_and_signature_position)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_http r;
    char sig[65], url[1024];
    /* the client signs the %-encoded text it sends */
    const char *enc = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&"
                      "price=10000&newClientOrderId=a%3Ab%2Fc";
    char payload[512];
    snprintf(payload, sizeof(payload), "%s&timestamp=%lld", enc, (long long)sxt_now_ms());
    sxt_hmac(SXT_ALICE_SECRET, payload, sig);
    snprintf(url, sizeof(url), "/api/v3/order?%s&signature=%s", payload, sig);
    sxt_http(&t, "POST", url, NULL, SXT_ALICE, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(sval(r.json, "clientOrderId"), "a:b/c");
    sxt_http_free(&r);
    /* or the decoded text (the characters need no escaping) */
    snprintf(payload, sizeof(payload),
             "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=10000&"
             "newClientOrderId=x:y&timestamp=%lld",
             (long long)sxt_now_ms());
    sxt_hmac(SXT_ALICE_SECRET, payload, sig);
    /* signature first in the query string: it is left out of the payload */
    snprintf(url, sizeof(url), "/api/v3/order?signature=%s&%s", sig, payload);
    sxt_http(&t, "POST", url, NULL, SXT_ALICE, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    sxt_http_free(&r);
    /* upper-case hex is accepted */
    snprintf(payload, sizeof(payload), "timestamp=%lld", (long long)sxt_now_ms());
    sxt_hmac(SXT_ALICE_SECRET, payload, sig);
    for (char *p = sig; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    snprintf(url, sizeof(url), "/api/v3/account?%s&signature=%s", payload, sig);
    sxt_http(&t, "GET", url, NULL, SXT_ALICE, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    sxt_http_free(&r);
    sxt_stop(&t);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

Test(errors, authentication_paths)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_http r;
    char url[512], sig[65], payload[256];
    /* no key, a malformed key, an unknown key */
    sxt_http(&t, "GET", "/api/v3/account?timestamp=1&signature=00", NULL, NULL, 0, &r);
    expect_error(&r, 401, -2014, "API-key format invalid.");
    sxt_http(&t, "GET", "/api/v3/account?timestamp=1&signature=00", NULL, "bad key!", 0, &r);
    expect_error(&r, 401, -2014, "API-key format invalid.");
    sxt_signed(&t, "GET", "/api/v3/account", "", "nobody", "x", false, &r);
    expect_error(&r, 401, -2015, "Invalid API-key, IP, or permissions for action.");
    /* timestamp and signature missing or malformed */
    sxt_http(&t, "GET", "/api/v3/account?signature=00", NULL, SXT_ALICE, 0, &r);
    expect_error(&r, 400, -1102,
                 "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.");
    snprintf(url, sizeof(url), "/api/v3/account?timestamp=%lld", (long long)sxt_now_ms());
    sxt_http(&t, "GET", url, NULL, SXT_ALICE, 0, &r);
    expect_error(&r, 400, -1102,
                 "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.");
    sxt_http(&t, "GET", "/api/v3/account?timestamp=12x&signature=00", NULL, SXT_ALICE, 0, &r);
    expect_error(&r, 400, -1100, NULL);
    /* timestamp ahead of the server, and outside recvWindow */
    snprintf(payload, sizeof(payload), "timestamp=%lld", (long long)sxt_now_ms() + 2000);
    sxt_signed(&t, "GET", "/api/v3/account", payload, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1021, "Timestamp for this request was 1000ms ahead of the server's time.");
    snprintf(payload, sizeof(payload), "timestamp=%lld", (long long)sxt_now_ms() - 6000);
    sxt_signed(&t, "GET", "/api/v3/account", payload, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1021, "Timestamp for this request is outside of the recvWindow.");
    /* a larger recvWindow lets it through; beyond 60000 is refused */
    snprintf(payload, sizeof(payload), "recvWindow=10000&timestamp=%lld",
             (long long)sxt_now_ms() - 6000);
    sxt_signed(&t, "GET", "/api/v3/account", payload, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    sxt_http_free(&r);
    sxt_signed(&t, "GET", "/api/v3/account", "recvWindow=60001", SXT_ALICE, SXT_ALICE_SECRET,
               false, &r);
    expect_error(&r, 400, -1130, NULL);
    /* a signature made with another secret */
    snprintf(payload, sizeof(payload), "timestamp=%lld", (long long)sxt_now_ms());
    sxt_hmac(SXT_BOB_SECRET, payload, sig);
    snprintf(url, sizeof(url), "/api/v3/account?%s&signature=%s", payload, sig);
    sxt_http(&t, "GET", url, NULL, SXT_ALICE, 0, &r);
    expect_error(&r, 400, -1022, "Signature for this request is not valid.");
    /* signatures cover the body too: tamper with it */
    snprintf(payload, sizeof(payload),
             "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=100&"
             "timestamp=%lld",
             (long long)sxt_now_ms());
    sxt_hmac(SXT_ALICE_SECRET, payload, sig);
    char body[512];
    snprintf(body, sizeof(body), "%s&signature=%s", payload, sig);
    char *q = strstr(body, "price=100");
    q[7] = '9';
    sxt_http(&t, "POST", "/api/v3/order", body, SXT_ALICE, 0, &r);
    expect_error(&r, 400, -1022, NULL);
    sxt_stop(&t);
}

Test(errors, parameter_paths)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_http r;
    const char *base = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001";
    char p[512];
    sxt_signed(&t, "POST", "/api/v3/order", "side=BUY&type=LIMIT", SXT_ALICE, SXT_ALICE_SECRET,
               false, &r);
    expect_error(&r, 400, -1102,
                 "Mandatory parameter 'symbol' was not sent, was empty/null, or malformed.");
    sxt_signed(&t, "POST", "/api/v3/order", "symbol=btc$usdt&side=BUY", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1100, NULL);
    sxt_signed(&t, "POST", "/api/v3/order", "symbol=DOGEUSDT&side=BUY", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1121, "Invalid symbol.");
    sxt_signed(&t, "POST", "/api/v3/order", "symbol=BTCUSDT&type=LIMIT", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1102,
                 "Mandatory parameter 'side' was not sent, was empty/null, or malformed.");
    sxt_signed(&t, "POST", "/api/v3/order", "symbol=BTCUSDT&side=HOLD&type=LIMIT", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1117, "Invalid side.");
    sxt_signed(&t, "POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=STOP", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1116, "Invalid orderType.");
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=1", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1102,
                 "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.");
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTD&quantity=1&price=1", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1115, "Invalid timeInForce.");
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=BUY&type=MARKET&timeInForce=GTC&quantity=1", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1106, "Parameter 'timeInForce' sent when not required.");
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&price=1", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1106, "Parameter 'price' sent when not required.");
    snprintf(p, sizeof(p), "%s&price=100&foo=bar", base);
    sxt_signed(&t, "POST", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1104,
                 "Not all sent parameters were read; read '8' parameter(s) but was sent '9'.");
    snprintf(p, sizeof(p), "%s&price=100&symbol=BTCUSDT", base);
    sxt_signed(&t, "POST", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1101, "Duplicate values for a parameter detected.");
    snprintf(p, sizeof(p), "%s", base);
    sxt_signed(&t, "POST", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1102,
                 "Mandatory parameter 'price' was not sent, was empty/null, or malformed.");
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1e3&price=100",
               SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1100, NULL);
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.000000001&"
               "price=100",
               SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1111, "Parameter 'quantity' has too much precision.");
    snprintf(p, sizeof(p), "%s&price=100&newClientOrderId=bad%%20id", base);
    sxt_signed(&t, "POST", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1100, NULL);
    snprintf(p, sizeof(p), "%s&price=100&newOrderRespType=ALL", base);
    sxt_signed(&t, "POST", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1130, NULL);
    sxt_signed(&t, "DELETE", "/api/v3/order", "symbol=BTCUSDT", SXT_ALICE, SXT_ALICE_SECRET,
               false, &r);
    expect_error(&r, 400, -1102,
                 "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!");
    sxt_signed(&t, "GET", "/api/v3/order", "symbol=BTCUSDT&orderId=x1", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect_error(&r, 400, -1100, NULL);
    sxt_http(&t, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=0", NULL, NULL, 0, &r);
    expect_error(&r, 400, -1100, NULL);
    sxt_http(&t, "GET", "/api/v3/depth?limit=5", NULL, NULL, 0, &r);
    expect_error(&r, 400, -1102, NULL);
    sxt_http(&t, "GET", "/api/v3/exchangeInfo?symbol=XYZ", NULL, NULL, 0, &r);
    expect_error(&r, 400, -1121, "Invalid symbol.");
    sxt_http(&t, "GET", "/api/v3/nothing", NULL, NULL, 0, &r);
    expect_error(&r, 404, -1020, NULL);
    sxt_http(&t, "PUT", "/api/v3/order", NULL, NULL, 0, &r);
    expect_error(&r, 405, -1020, NULL);
    sxt_stop(&t);
}

Test(errors, engine_paths)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_http r;
    alice(&t, "POST", "/api/v3/order",
          "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=100&price=60000", 400, &r);
    expect_error(&r, 400, -2010, "Account has insufficient balance for requested action.");
    alice(&t, "POST", "/api/v3/order",
          "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=60000&"
          "newClientOrderId=mine-1",
          200, &r);
    int64_t id = ival(r.json, "orderId");
    sxt_http_free(&r);
    alice(&t, "POST", "/api/v3/order",
          "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=3000&"
          "newClientOrderId=mine-1",
          400, &r);
    expect_error(&r, 400, -2010, "Duplicate order sent.");
    bob(&t, "POST", "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.01&price=60000", 400, &r);
    expect_error(&r, 400, -2010, "Order would immediately match and take.");
    char p[256];
    snprintf(p, sizeof(p), "symbol=BTCUSDT&orderId=%" PRId64, id + 1000);
    alice(&t, "DELETE", "/api/v3/order", p, 400, &r);
    expect_error(&r, 400, -2011, "Unknown order sent.");
    alice(&t, "GET", "/api/v3/order", p, 400, &r);
    expect_error(&r, 400, -2013, "Order does not exist.");
    /* bob cannot see or cancel alice's order */
    snprintf(p, sizeof(p), "symbol=BTCUSDT&orderId=%" PRId64, id);
    bob(&t, "DELETE", "/api/v3/order", p, 400, &r);
    expect_error(&r, 400, -2011, "Unknown order sent.");
    bob(&t, "GET", "/api/v3/order", p, 400, &r);
    expect_error(&r, 400, -2013, NULL);
    /* the wrong symbol does not find it either */
    snprintf(p, sizeof(p), "symbol=ETHUSDT&orderId=%" PRId64, id);
    alice(&t, "DELETE", "/api/v3/order", p, 400, &r);
    expect_error(&r, 400, -2011, NULL);
    /* cancelled once, unknown the second time */
    snprintf(p, sizeof(p), "symbol=BTCUSDT&origClientOrderId=mine-1");
    alice(&t, "DELETE", "/api/v3/order", p, 200, &r);
    cr_assert_str_eq(sval(r.json, "status"), "CANCELED");
    cr_assert_str_eq(sval(r.json, "origClientOrderId"), "mine-1");
    sxt_http_free(&r);
    alice(&t, "DELETE", "/api/v3/order", p, 400, &r);
    expect_error(&r, 400, -2011, "Unknown order sent.");
    /* DELETE openOrders with nothing open */
    alice(&t, "DELETE", "/api/v3/openOrders", "symbol=BTCUSDT", 400, &r);
    expect_error(&r, 400, -2011, NULL);
    alice(&t, "POST", "/api/v3/order",
          "symbol=BTCUSDT&side=BUY&type=MARKET&quoteOrderQty=100", 400, &r);
    expect_error(&r, 400, -2010, NULL);
    sxt_stop(&t);
}

/* ------------------------------------------------------------------------ */
/* Filters                                                                   */

Test(filters, each_filter_by_name)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.limits.max_open_orders = 3;
    sxt_start(&t, &cfg);
    struct sxt_http r;
    struct {
        const char *qty, *price, *filter;
    } cases[] = {
        { "0.001", "60000.005", "PRICE_FILTER" }, { "0.001", "0.001", "PRICE_FILTER" },
        { "0.001", "2000000", "PRICE_FILTER" },   { "0.001", "0", "PRICE_FILTER" },
        { "0.000015", "60000", "LOT_SIZE" },      { "0", "60000", "LOT_SIZE" },
        { "9000.00001", "1", "LOT_SIZE" },        { "0.00001", "60000", "NOTIONAL" },
        { "200", "60000", "NOTIONAL" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char p[256], msg[64];
        snprintf(p, sizeof(p),
                 "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=%s&price=%s",
                 cases[i].qty, cases[i].price);
        snprintf(msg, sizeof(msg), "Filter failure: %s", cases[i].filter);
        alice(&t, "POST", "/api/v3/order", p, 400, &r);
        expect_error(&r, 400, -1013, msg);
    }
    /* MARKET below minNotional on what it would fill: nothing to fill here
     * means no notional, so the order is refused by the engine */
    alice(&t, "POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.00001",
          400, &r);
    expect_error(&r, 400, -1013, "Filter failure: NOTIONAL");
    for (int i = 0; i < 3; i++) {
        alice(&t, "POST", "/api/v3/order",
              "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.001&price=70000",
              200, &r);
        sxt_http_free(&r);
    }
    alice(&t, "POST", "/api/v3/order",
          "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.001&price=70000", 400,
          &r);
    expect_error(&r, 400, -1013, "Filter failure: MAX_NUM_ORDERS");
    /* the limit is per symbol */
    alice(&t, "POST", "/api/v3/order",
          "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.01&price=3000", 200, &r);
    sxt_http_free(&r);
    sxt_stop(&t);
}

/* Naive reference for BTCUSDT's rules: everything at 10^-8 in 128 bits. */
static const char *ref_filter(int64_t price8, int64_t qty8)
{
    const int64_t tick = 1000000, min_p = 1000000, max_p = INT64_C(100000000000000);
    const int64_t step = 1000, min_q = 1000, max_q = INT64_C(900000000000);
    if (price8 <= 0 || price8 < min_p || price8 > max_p || (price8 - min_p) % tick)
        return "PRICE_FILTER";
    if (qty8 <= 0 || qty8 < min_q || qty8 > max_q || (qty8 - min_q) % step)
        return "LOT_SIZE";
    __extension__ __int128 n = (__int128)price8 * qty8; /* 10^-16 */
    __extension__ __int128 lo = (__int128)5 * 10000000000000000LL;
    __extension__ __int128 hi = (__int128)9000000 * 10000000000000000LL;
    if (n < lo || n > hi)
        return "NOTIONAL";
    return NULL;
}

static void fmt8(int64_t v, char *buf)
{
    snprintf(buf, 40, "%" PRId64 ".%08" PRId64, v / 100000000, v % 100000000);
}

Test(filters, random_orders_match_a_naive_reference)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.limits.orders_10s = 100000;
    sxt_start(&t, &cfg);
    uint64_t seed = 2024;
    int accepted = 0, rejected = 0;
    for (int i = 0; i < 300; i++) {
        /* prices around 1..200 on or off the 0.01 tick, quantities around
         * the 0.00001 step, so every filter is hit often */
        int64_t price8 = (int64_t)(splitmix(&seed) % 20000) * 1000000;
        if (splitmix(&seed) % 4 == 0)
            price8 += (int64_t)(splitmix(&seed) % 1000000);
        int64_t qty8 = (int64_t)(splitmix(&seed) % 500000) * 1000;
        if (splitmix(&seed) % 4 == 0)
            qty8 += (int64_t)(splitmix(&seed) % 1000);
        char ps[40], qs[40], p[256];
        fmt8(price8, ps);
        fmt8(qty8, qs);
        /* IOC against an empty book: accepted orders expire, nothing locks */
        snprintf(p, sizeof(p),
                 "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=%s&price=%s", qs, ps);
        struct sxt_http r;
        sxt_signed(&t, "POST", "/api/v3/order", p, SXT_ALICE, SXT_ALICE_SECRET, false, &r);
        const char *want = ref_filter(price8, qty8);
        if (!want) {
            cr_assert_eq(r.status, 200, "%s -> %s", p, r.body);
            cr_assert_str_eq(sval(r.json, "status"), "EXPIRED");
            accepted++;
        } else {
            char msg[64];
            snprintf(msg, sizeof(msg), "Filter failure: %s", want);
            cr_assert_eq(r.status, 400, "%s -> %s (want %s)", p, r.body, want);
            cr_assert_str_eq(sval(r.json, "msg"), msg, "%s", p);
            rejected++;
        }
        sxt_http_free(&r);
    }
    cr_assert_gt(accepted, 30);
    cr_assert_gt(rejected, 30);
    sxt_stop(&t);
}

/* ------------------------------------------------------------------------ */
/* Rate limits                                                               */

static int weight_header(const struct sxt_http *r)
{
    char buf[32];
    cr_assert(sxt_header(r, "x-mbx-used-weight-1m", buf, sizeof(buf)), "no weight header");
    return atoi(buf);
}

Test(ratelimit, weight_header_on_every_response)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_http r;
    int expect = 0;
    struct {
        const char *path;
        int w;
    } calls[] = { { "/api/v3/ping", 1 },
                  { "/api/v3/time", 1 },
                  { "/api/v3/depth?symbol=BTCUSDT", 5 },
                  { "/api/v3/depth?symbol=BTCUSDT&limit=500", 25 },
                  { "/api/v3/depth?symbol=BTCUSDT&limit=1000", 50 },
                  { "/api/v3/depth?symbol=BTCUSDT&limit=5000", 250 },
                  { "/api/v3/exchangeInfo", 20 },
                  { "/api/v3/depth?symbol=NOPE", 5 } };
    for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
        sxt_http(&t, "GET", calls[i].path, NULL, NULL, 0, &r);
        expect += calls[i].w;
        cr_assert_eq(weight_header(&r), expect, "%s", calls[i].path);
        sxt_http_free(&r);
    }
    /* signed endpoints: errors are charged too */
    sxt_signed(&t, "GET", "/api/v3/account", "", SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect += 20;
    cr_assert_eq(weight_header(&r), expect);
    sxt_http_free(&r);
    sxt_signed(&t, "GET", "/api/v3/openOrders", "", SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    expect += 80;
    cr_assert_eq(weight_header(&r), expect);
    sxt_http_free(&r);
    sxt_signed(&t, "GET", "/api/v3/openOrders", "symbol=BTCUSDT", SXT_ALICE, SXT_ALICE_SECRET,
               false, &r);
    expect += 6;
    cr_assert_eq(weight_header(&r), expect);
    sxt_http_free(&r);
    sxt_signed(&t, "GET", "/api/v3/myTrades", "symbol=BTCUSDT&orderId=1", SXT_ALICE,
               SXT_ALICE_SECRET, false, &r);
    expect += 5;
    cr_assert_eq(weight_header(&r), expect);
    sxt_http_free(&r);
    sxt_signed(&t, "GET", "/api/v3/account", "", "nobody", "x", false, &r);
    expect += 20;
    cr_assert_eq(r.status, 401);
    cr_assert_eq(weight_header(&r), expect);
    sxt_http_free(&r);
    /* /sim routes are free and carry no header */
    sxt_http(&t, "GET", "/sim/accounts", NULL, NULL, 0, &r);
    char buf[32];
    cr_assert_null(sxt_header(&r, "x-mbx-used-weight-1m", buf, sizeof(buf)));
    sxt_http_free(&r);
    sxt_stop(&t);
}

Test(ratelimit, over_the_limit_429_then_418_ban)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.limits.request_weight = 10;
    cfg.limits.ban_after_429 = 2;
    cfg.limits.ban_ms = 120000;
    sxt_start(&t, &cfg);
    struct sxt_http r;
    char buf[64];
    for (int i = 1; i <= 10; i++) {
        sxt_http(&t, "GET", "/api/v3/ping", NULL, NULL, 0, &r);
        cr_assert_eq(r.status, 200);
        cr_assert_eq(weight_header(&r), i);
        sxt_http_free(&r);
    }
    for (int i = 0; i < 2; i++) {
        sxt_http(&t, "GET", "/api/v3/ping", NULL, NULL, 0, &r);
        cr_assert_eq(r.status, 429, "%s", r.body);
        cr_assert_eq(sxt_code(&r), -1003);
        cr_assert(strstr(sval(r.json, "msg"), "current limit is 10 request weight per 60 MINUTE"),
                  "%s", r.body);
        cr_assert(sxt_header(&r, "retry-after", buf, sizeof(buf)));
        int ra = atoi(buf);
        cr_assert(ra >= 1 && ra <= 3600, "Retry-After %d", ra);
        cr_assert_eq(weight_header(&r), 11 + i);
        sxt_http_free(&r);
    }
    /* the third 429 in the window becomes a ban, and it sticks */
    for (int i = 0; i < 3; i++) {
        sxt_http(&t, "GET", "/api/v3/time", NULL, NULL, 0, &r);
        cr_assert_eq(r.status, 418, "%s", r.body);
        cr_assert_eq(sxt_code(&r), -1003);
        cr_assert(strstr(sval(r.json, "msg"), "IP banned until"), "%s", r.body);
        cr_assert(sxt_header(&r, "retry-after", buf, sizeof(buf)));
        int ra = atoi(buf);
        cr_assert(ra >= 118 && ra <= 120, "Retry-After %d", ra);
        sxt_http_free(&r);
    }
    /* a refused request did not run: no order was placed */
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=100",
               SXT_ALICE, SXT_ALICE_SECRET, false, &r);
    cr_assert_eq(r.status, 418);
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/sim/orders", NULL, NULL, 0, &r);
    cr_assert_eq(json_array_size(json_object_get(r.json, "orders")), 0);
    sxt_http_free(&r);
    sxt_stop(&t);
}

Test(ratelimit, orders_per_10s)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.limits.orders_10s = 3;
    sxt_start(&t, &cfg);
    /* keep clear of a 10 s window boundary */
    while (sxt_now_ms() % 10000 > 8000)
        sxt_sleep_ms(50);
    struct sxt_http r;
    char buf[32];
    for (int i = 1; i <= 3; i++) {
        alice(&t, "POST", "/api/v3/order",
              "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=10000", 200,
              &r);
        cr_assert(sxt_header(&r, "x-mbx-order-count-10s", buf, sizeof(buf)));
        cr_assert_eq(atoi(buf), i);
        cr_assert(sxt_header(&r, "x-mbx-order-count-1d", buf, sizeof(buf)));
        cr_assert_eq(atoi(buf), i);
        sxt_http_free(&r);
    }
    alice(&t, "POST", "/api/v3/order",
          "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=10000", 429, &r);
    cr_assert_eq(sxt_code(&r), -1015);
    cr_assert_str_eq(sval(r.json, "msg"),
                     "Too many new orders; current limit is 3 orders per 10 SECOND.");
    cr_assert(sxt_header(&r, "retry-after", buf, sizeof(buf)));
    sxt_http_free(&r);
    /* per account: bob still may */
    bob(&t, "POST", "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=10000", 200, &r);
    sxt_http_free(&r);
    sxt_stop(&t);
}

/* ------------------------------------------------------------------------ */
/* Orders                                                                    */

static const char *balance(json_t *account, const char *asset, const char *field)
{
    size_t i;
    json_t *b;
    json_array_foreach(json_object_get(account, "balances"), i, b)
        if (strcmp(sval(b, "asset"), asset) == 0)
            return sval(b, field);
    cr_assert_fail("no balance for %s", asset);
    return NULL;
}

Test(orders, two_accounts_trade_and_everything_agrees)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_http r;
    alice(&t, "POST", "/api/v3/order",
          "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.003&price=60000&"
          "newClientOrderId=ask-1",
          200, &r);
    int64_t ask_id = ival(r.json, "orderId");
    cr_assert_str_eq(sval(r.json, "status"), "NEW");
    cr_assert_eq(json_array_size(json_object_get(r.json, "fills")), 0);
    sxt_http_free(&r);
    /* the book shows it */
    sxt_http(&t, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=5", NULL, NULL, 0, &r);
    json_t *asks = json_object_get(r.json, "asks");
    cr_assert_eq(json_array_size(asks), 1);
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(asks, 0), 0)),
                     "60000.00000000");
    cr_assert_str_eq(json_string_value(json_array_get(json_array_get(asks, 0), 1)), "0.00300000");
    sxt_http_free(&r);
    /* bob buys 0.001 through it at a higher limit: fills at alice's price */
    bob(&t, "POST", "/api/v3/order",
        "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=61000", 200, &r);
    cr_assert_str_eq(sval(r.json, "status"), "FILLED");
    cr_assert_str_eq(sval(r.json, "executedQty"), "0.00100000");
    cr_assert_str_eq(sval(r.json, "cummulativeQuoteQty"), "60.00000000");
    json_t *fills = json_object_get(r.json, "fills");
    cr_assert_eq(json_array_size(fills), 1);
    json_t *f0 = json_array_get(fills, 0);
    cr_assert_str_eq(sval(f0, "price"), "60000.00000000");
    cr_assert_str_eq(sval(f0, "qty"), "0.00100000");
    cr_assert_str_eq(sval(f0, "commission"), "0.00000100");
    cr_assert_str_eq(sval(f0, "commissionAsset"), "BTC");
    int64_t trade_id = ival(f0, "tradeId");
    int64_t bob_id = ival(r.json, "orderId");
    sxt_http_free(&r);
    /* alice's order is partially filled */
    char p[128];
    snprintf(p, sizeof(p), "symbol=BTCUSDT&orderId=%" PRId64, ask_id);
    alice(&t, "GET", "/api/v3/order", p, 200, &r);
    cr_assert_str_eq(sval(r.json, "status"), "PARTIALLY_FILLED");
    cr_assert_str_eq(sval(r.json, "executedQty"), "0.00100000");
    cr_assert_str_eq(sval(r.json, "clientOrderId"), "ask-1");
    cr_assert(json_is_true(json_object_get(r.json, "isWorking")));
    sxt_http_free(&r);
    alice(&t, "GET", "/api/v3/order", "symbol=BTCUSDT&origClientOrderId=ask-1", 200, &r);
    cr_assert_eq(ival(r.json, "orderId"), ask_id);
    sxt_http_free(&r);
    /* trades on both sides share the trade id */
    alice(&t, "GET", "/api/v3/myTrades", "symbol=BTCUSDT", 200, &r);
    cr_assert_eq(json_array_size(r.json), 1);
    json_t *at = json_array_get(r.json, 0);
    cr_assert_eq(ival(at, "id"), trade_id);
    cr_assert_eq(ival(at, "orderId"), ask_id);
    cr_assert(json_is_true(json_object_get(at, "isMaker")));
    cr_assert(json_is_false(json_object_get(at, "isBuyer")));
    cr_assert_str_eq(sval(at, "commission"), "0.06000000");
    cr_assert_str_eq(sval(at, "commissionAsset"), "USDT");
    sxt_http_free(&r);
    snprintf(p, sizeof(p), "symbol=BTCUSDT&orderId=%" PRId64, bob_id);
    bob(&t, "GET", "/api/v3/myTrades", p, 200, &r);
    cr_assert_eq(json_array_size(r.json), 1);
    cr_assert(json_is_false(json_object_get(json_array_get(r.json, 0), "isMaker")));
    sxt_http_free(&r);
    /* balances: exact decimals, fees in the asset received */
    alice(&t, "GET", "/api/v3/account", "", 200, &r);
    cr_assert_str_eq(balance(r.json, "BTC", "free"), "9.99700000");
    cr_assert_str_eq(balance(r.json, "BTC", "locked"), "0.00200000");
    cr_assert_str_eq(balance(r.json, "USDT", "free"), "1000059.94000000");
    cr_assert_eq(ival(r.json, "makerCommission"), 10);
    sxt_http_free(&r);
    bob(&t, "GET", "/api/v3/account", "omitZeroBalances=true", 200, &r);
    cr_assert_str_eq(balance(r.json, "BTC", "free"), "10.00099900");
    cr_assert_str_eq(balance(r.json, "USDT", "free"), "999940.00000000");
    sxt_http_free(&r);
    /* open orders, then cancel them all */
    alice(&t, "POST", "/api/v3/order",
          "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=50000&"
          "newOrderRespType=ACK",
          200, &r);
    cr_assert_null(json_object_get(r.json, "status"));
    cr_assert_null(json_object_get(r.json, "fills"));
    sxt_http_free(&r);
    alice(&t, "GET", "/api/v3/openOrders", "symbol=BTCUSDT", 200, &r);
    cr_assert_eq(json_array_size(r.json), 2);
    cr_assert_eq(ival(json_array_get(r.json, 0), "orderId"), ask_id);
    sxt_http_free(&r);
    alice(&t, "DELETE", "/api/v3/openOrders", "symbol=BTCUSDT", 200, &r);
    cr_assert_eq(json_array_size(r.json), 2);
    cr_assert_str_eq(sval(json_array_get(r.json, 0), "status"), "CANCELED");
    cr_assert_str_eq(sval(json_array_get(r.json, 0), "executedQty"), "0.00100000");
    sxt_http_free(&r);
    alice(&t, "GET", "/api/v3/openOrders", "", 200, &r);
    cr_assert_eq(json_array_size(r.json), 0);
    sxt_http_free(&r);
    alice(&t, "GET", "/api/v3/account", "", 200, &r);
    cr_assert_str_eq(balance(r.json, "BTC", "locked"), "0.00000000");
    cr_assert_str_eq(balance(r.json, "USDT", "locked"), "0.00000000");
    sxt_http_free(&r);
    /* the simulator's own ledger agrees */
    sxt_http(&t, "GET", "/sim/orders?account=" SXT_ALICE, NULL, NULL, 0, &r);
    json_t *orders = json_object_get(r.json, "orders");
    cr_assert_eq(json_array_size(orders), 2);
    cr_assert_str_eq(sval(json_array_get(orders, 0), "status"), "CANCELED");
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/sim/trades", NULL, NULL, 0, &r);
    cr_assert_eq(json_array_size(json_object_get(r.json, "trades")), 2);
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/sim/accounts", NULL, NULL, 0, &r);
    json_t *acc = json_array_get(json_object_get(r.json, "accounts"), 0);
    cr_assert_str_eq(sval(acc, "api_key"), SXT_ALICE);
    cr_assert_str_eq(balance(acc, "USDT", "total"), "1000059.94000000");
    sxt_http_free(&r);
    sxt_stop(&t);
}

Test(orders, market_orders_and_time_in_force)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_http r;
    alice(&t, "POST", "/api/v3/order",
          "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=3000", 200, &r);
    sxt_http_free(&r);
    alice(&t, "POST", "/api/v3/order",
          "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=3001", 200, &r);
    sxt_http_free(&r);
    /* FOK for more than the book holds: expires, nothing filled */
    bob(&t, "POST", "/api/v3/order",
        "symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=FOK&quantity=3&price=3001", 200, &r);
    cr_assert_str_eq(sval(r.json, "status"), "EXPIRED");
    cr_assert_str_eq(sval(r.json, "executedQty"), "0.00000000");
    sxt_http_free(&r);
    /* IOC takes what it can */
    bob(&t, "POST", "/api/v3/order",
        "symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=IOC&quantity=0.5&price=3000", 200, &r);
    cr_assert_str_eq(sval(r.json, "status"), "FILLED");
    sxt_http_free(&r);
    /* a market buy walks two levels */
    bob(&t, "POST", "/api/v3/order", "symbol=ETHUSDT&side=BUY&type=MARKET&quantity=1", 200, &r);
    cr_assert_str_eq(sval(r.json, "status"), "FILLED");
    cr_assert_str_eq(sval(r.json, "type"), "MARKET");
    cr_assert_str_eq(sval(r.json, "cummulativeQuoteQty"), "3000.50000000");
    cr_assert_eq(json_array_size(json_object_get(r.json, "fills")), 2);
    sxt_http_free(&r);
    /* a market buy larger than the book: partly filled, then expired */
    bob(&t, "POST", "/api/v3/order",
        "symbol=ETHUSDT&side=BUY&type=MARKET&quantity=2&newOrderRespType=RESULT", 200, &r);
    cr_assert_str_eq(sval(r.json, "status"), "EXPIRED");
    cr_assert_str_eq(sval(r.json, "executedQty"), "0.50000000");
    cr_assert_null(json_object_get(r.json, "fills"));
    sxt_http_free(&r);
    sxt_stop(&t);
}

Test(orders, market_data_endpoints)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.symbols[0].live = true;
    sxt_start(&t, &cfg);
    sxt_sleep_ms(300);
    struct sxt_http r;
    sxt_http(&t, "GET", "/api/v3/exchangeInfo?symbol=BTCUSDT", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 200);
    json_t *syms = json_object_get(r.json, "symbols");
    cr_assert_eq(json_array_size(syms), 1);
    json_t *s0 = json_array_get(syms, 0);
    cr_assert_str_eq(sval(s0, "symbol"), "BTCUSDT");
    cr_assert_str_eq(sval(s0, "baseAsset"), "BTC");
    json_t *filters = json_object_get(s0, "filters");
    cr_assert_str_eq(sval(json_array_get(filters, 0), "filterType"), "PRICE_FILTER");
    cr_assert_str_eq(sval(json_array_get(filters, 0), "tickSize"), "0.01000000");
    cr_assert_str_eq(sval(json_array_get(filters, 1), "filterType"), "LOT_SIZE");
    cr_assert_str_eq(sval(json_array_get(filters, 1), "stepSize"), "0.00001000");
    cr_assert_str_eq(sval(json_array_get(filters, 2), "filterType"), "NOTIONAL");
    cr_assert_str_eq(sval(json_array_get(filters, 2), "minNotional"), "5.00000000");
    json_t *rl = json_object_get(r.json, "rateLimits");
    cr_assert_str_eq(sval(json_array_get(rl, 0), "rateLimitType"), "REQUEST_WEIGHT");
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/api/v3/exchangeInfo?symbols=%5B%22ETHUSDT%22,%22BTCUSDT%22%5D", NULL,
             NULL, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_eq(json_array_size(json_object_get(r.json, "symbols")), 2);
    sxt_http_free(&r);
    /* the live market: a sorted, uncrossed book */
    sxt_http(&t, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=20", NULL, NULL, 0, &r);
    json_t *bids = json_object_get(r.json, "bids"), *asks = json_object_get(r.json, "asks");
    cr_assert_eq(json_array_size(bids), 20);
    cr_assert_eq(json_array_size(asks), 20);
    cr_assert_gt(ival(r.json, "lastUpdateId"), 0);
    double prev = 1e18;
    for (size_t i = 0; i < 20; i++) {
        double px = atof(json_string_value(json_array_get(json_array_get(bids, i), 0)));
        cr_assert_lt(px, prev);
        prev = px;
    }
    double best_bid = atof(json_string_value(json_array_get(json_array_get(bids, 0), 0)));
    double best_ask = atof(json_string_value(json_array_get(json_array_get(asks, 0), 0)));
    cr_assert_lt(best_bid, best_ask);
    cr_assert(best_bid > 50000 && best_ask < 70000);
    sxt_http_free(&r);
    int64_t before = sxt_now_ms();
    sxt_http(&t, "GET", "/api/v3/time", NULL, NULL, 0, &r);
    int64_t st = ival(r.json, "serverTime");
    cr_assert(st >= before - 5 && st <= sxt_now_ms() + 5);
    sxt_http_free(&r);
    sxt_stop(&t);
}

Test(orders, user_order_trades_with_the_background_market)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.symbols[0].live = true;
    sxt_start(&t, &cfg);
    sxt_sleep_ms(300);
    struct sxt_http r;
    /* a marketable buy takes from the participants' asks */
    alice(&t, "POST", "/api/v3/order", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.01", 200,
          &r);
    cr_assert_str_eq(sval(r.json, "status"), "FILLED", "%s", r.body);
    cr_assert_gt(json_array_size(json_object_get(r.json, "fills")), 0);
    sxt_http_free(&r);
    /* a bid at the best bid eventually fills as the market trades through */
    int filled = 0;
    for (int round = 0; round < 40 && !filled; round++) {
        sxt_http(&t, "GET", "/api/v3/depth?symbol=BTCUSDT&limit=1", NULL, NULL, 0, &r);
        const char *ask = json_string_value(
            json_array_get(json_array_get(json_object_get(r.json, "asks"), 0), 0));
        char p[256];
        snprintf(p, sizeof(p),
                 "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=%s",
                 ask);
        sxt_http_free(&r);
        alice(&t, "POST", "/api/v3/order", p, 200, &r);
        filled = strcmp(sval(r.json, "status"), "NEW") != 0;
        sxt_http_free(&r);
    }
    cr_assert(filled, "a bid at the best ask never traded");
    sxt_stop(&t);
}

/* ------------------------------------------------------------------------ */
/* Configuration and parameters                                              */

Test(config, json_document_and_errors)
{
    struct clb_simex_config cfg;
    clb_simex_config_default(&cfg);
    char err[256];
    const char *doc =
        "{\"listen\":\"0.0.0.0:8443\",\"seed\":99,\"fees\":{\"maker\":\"0.0002\",\"taker\":"
        "\"0.0004\"},\"balances\":{\"BTC\":\"1.5\",\"USDT\":\"500\"},"
        "\"accounts\":[{\"api_key\":\"k1\",\"secret\":\"s1\"}],"
        "\"limits\":{\"request_weight\":1200,\"orders_10s\":50},"
        "\"faults\":{\"latency_ms\":20,\"jitter_ms\":5,\"http_5xx_rate\":0.01,"
        "\"depth_drop_rate\":0.1,\"clock_skew_ms\":-250},"
        "\"symbols\":[{\"symbol\":\"SOLUSDT\",\"base\":\"SOL\",\"quote\":\"USDT\","
        "\"tick_size\":\"0.01\",\"step_size\":\"0.001\",\"start_price\":\"150\","
        "\"market\":{\"levels\":20,\"volatility\":0.0002}}]}";
    cr_assert_eq(clb_simex_config_load_json(&cfg, doc, strlen(doc), err, sizeof(err)), CLB_OK,
                 "%s", err);
    cr_assert_str_eq(cfg.host, "0.0.0.0");
    cr_assert_eq(cfg.port, 8443);
    cr_assert_eq(cfg.seed, 99);
    cr_assert_eq(cfg.maker_fee_ppm, 200);
    cr_assert_eq(cfg.taker_fee_ppm, 400);
    cr_assert_eq(cfg.n_balances, 2);
    cr_assert_eq(cfg.n_accounts, 1);
    cr_assert_eq(cfg.limits.request_weight, 1200);
    cr_assert_eq(cfg.limits.orders_10s, 50);
    cr_assert_eq(cfg.limits.window_ms, 60000);
    cr_assert_eq(cfg.faults.latency_ms, 20);
    cr_assert_eq(cfg.faults.clock_skew_ms, -250);
    cr_assert_eq(cfg.n_symbols, 1);
    cr_assert_str_eq(cfg.symbols[0].symbol, "SOLUSDT");
    cr_assert_eq(cfg.symbols[0].market.levels, 20);
    const char *bad[] = {
        "{\"faults\":{\"latncy_ms\":5}}",        "{\"faults\":{\"http_5xx_rate\":1.5}}",
        "{\"symbols\":[{\"symbol\":\"X\"}]}",     "{\"fees\":{\"maker\":\"0.0000001\","
                                                  "\"taker\":\"0\"}}",
        "{\"limits\":{\"request_weight\":0}}",   "{\"listen\":\"host:99999\"}",
        "{\"seed\":\"x\"}",                      "[1,2]",
        "{\"symbols\":[{\"symbol\":\"ab\",\"base\":\"A\",\"quote\":\"B\"}]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        clb_simex_config_default(&cfg);
        err[0] = '\0';
        cr_assert_eq(clb_simex_config_load_json(&cfg, bad[i], strlen(bad[i]), err, sizeof(err)),
                     CLB_EPARSE, "%s accepted", bad[i]);
        cr_assert_neq(err[0], '\0');
    }
    clb_simex_config_default(&cfg);
    clb_simex_config_load_json(&cfg, bad[0], strlen(bad[0]), err, sizeof(err));
    cr_assert(strstr(err, "latncy_ms"), "%s", err);
    cr_assert_eq(clb_simex_config_load_file(&cfg, "/nonexistent/simex.json", err, sizeof(err)),
                 CLB_EIO);
}

Test(config, accounts_and_listen_specs)
{
    struct clb_simex_config cfg;
    clb_simex_config_default(&cfg);
    cr_assert_eq(clb_simex_config_add_account(&cfg, "key1:secret:with:colons"), CLB_OK);
    cr_assert_str_eq(cfg.accounts[0].secret, "secret:with:colons");
    cr_assert_eq(clb_simex_config_add_account(&cfg, "key1:other"), CLB_EINVAL);
    cr_assert_eq(clb_simex_config_add_account(&cfg, "nosecret"), CLB_EINVAL);
    cr_assert_eq(clb_simex_config_add_account(&cfg, ":x"), CLB_EINVAL);
    cr_assert_eq(clb_simex_config_add_account(&cfg, "bad key:x"), CLB_EINVAL);
    cr_assert_eq(clb_simex_config_set_listen(&cfg, "127.0.0.2:1234"), CLB_OK);
    cr_assert_str_eq(cfg.host, "127.0.0.2");
    cr_assert_eq(cfg.port, 1234);
    cr_assert_eq(clb_simex_config_set_listen(&cfg, ":0"), CLB_OK);
    cr_assert_eq(cfg.port, 0);
    cr_assert_eq(clb_simex_config_set_listen(&cfg, "x:"), CLB_EINVAL);
    cr_assert_eq(clb_simex_config_set_listen(&cfg, "x:-1"), CLB_EINVAL);
    /* a bad symbol rule is refused at create, with a message */
    sxt_config(&cfg);
    cfg.symbols[0].min_price = clb_dec_make(1, 3); /* finer than the 0.01 tick */
    struct clb_simex *s = NULL;
    char err[256];
    cr_assert_eq(clb_simex_create(&cfg, &s, err, sizeof(err)), CLB_EINVAL);
    cr_assert_null(s);
    cr_assert(strstr(err, "BTCUSDT"), "%s", err);
}

Test(params, decoding_duplicates_and_payloads)
{
    char out[64];
    cr_assert_eq(sx_url_decode("a%3Ab+c%2f", 10, out, sizeof(out)), 6);
    cr_assert_str_eq(out, "a:b c/");
    cr_assert_eq(sx_url_decode("%4", 2, out, sizeof(out)), -1);
    cr_assert_eq(sx_url_decode("%zz", 3, out, sizeof(out)), -1);
    cr_assert_eq(sx_url_decode("abcdef", 6, out, 4), -1);
    struct sx_params ps;
    sx_params_init(&ps);
    const char *body = "quantity=1&price=0.1&signature=abc&symbol=ETHBTC";
    const char *query[] = { "symbol=LTCBTC", "side=BUY" };
    for (int i = 0; i < 2; i++) {
        const char *eq = strchr(query[i], '=');
        sx_params_add(&ps, query[i], (size_t)(eq - query[i]), eq + 1, strlen(eq + 1),
                      SX_SRC_QUERY, true);
    }
    sx_params_add_form(&ps, body, strlen(body), SX_SRC_BODY);
    cr_assert_not(ps.duplicate);
    /* in both query and body: the query's value wins */
    cr_assert_str_eq(sx_params_get(&ps, "symbol"), "LTCBTC");
    cr_assert_str_eq(sx_params_get(&ps, "price"), "0.1");
    sx_params_rest_payloads(&ps, query, 2, body, strlen(body));
    cr_assert_geq(ps.n_payload, 1);
    cr_assert_str_eq(ps.payload[0], "symbol=LTCBTC&side=BUYquantity=1&price=0.1&symbol=ETHBTC");
    sx_params_add_form(&ps, "side=SELL", 9, SX_SRC_QUERY);
    cr_assert(ps.duplicate);
    sx_params_init(&ps);
    sx_params_add_form(&ps, "a=1&b&c=3", 9, SX_SRC_BODY);
    cr_assert(ps.malformed);
    sx_params_init(&ps);
    for (int i = 0; i < SX_MAX_PARAMS + 1; i++) {
        char kv[16];
        int n = snprintf(kv, sizeof(kv), "k%d=v", i);
        sx_params_add_form(&ps, kv, (size_t)n, SX_SRC_QUERY);
    }
    cr_assert(ps.too_many);
    /* the re-encoded payload of a value with reserved characters */
    sx_params_init(&ps);
    const char *q2[] = { "newClientOrderId=a:b c" };
    sx_params_rest_payloads(&ps, q2, 1, NULL, 0);
    cr_assert_eq(ps.n_payload, 3);
    cr_assert_str_eq(ps.payload[0], "newClientOrderId=a:b c");
    cr_assert_str_eq(ps.payload[1], "newClientOrderId=a%3Ab+c");
    cr_assert_str_eq(ps.payload[2], "newClientOrderId=a%3Ab%20c");
}

Test(params, string_builder_bounds_and_amounts)
{
    struct sx_sb b;
    sx_sb_init(&b, 16);
    sx_sb_puts(&b, "0123456789");
    cr_assert_not(b.failed);
    sx_sb_puts(&b, "0123456789");
    cr_assert(b.failed);
    cr_assert_eq(b.len, 10);
    sx_sb_free(&b);
    sx_sb_init(&b, 256);
    sx_sb_json_str(&b, "a\"b\\c\n");
    cr_assert_str_eq(b.p, "\"a\\\"b\\\\c\\u000a\"");
    sx_sb_free(&b);
    char buf[CLB_DEC_STRLEN];
    sx_fmt_amount(123, 2, buf);
    cr_assert_str_eq(buf, "1.23000000");
    sx_fmt_amount(-5, 0, buf);
    cr_assert_str_eq(buf, "-5.00000000");
    sx_fmt_amount(1, 10, buf);
    cr_assert_str_eq(buf, "0.0000000001");
}

/* The example configuration in the README's colibri-simex section loads and starts. */
Test(config, readme_example_configuration_starts)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/README.md", COLIBRI_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    cr_assert(f, "%s", path);
    static char doc[1 << 20];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *section = strstr(doc, "## colibri-simex");
    cr_assert(section, "README.md has no colibri-simex section");
    char *start = strstr(section, "```json\n");
    cr_assert(start);
    start += 8;
    char *end = strstr(start, "```");
    cr_assert(end);
    struct clb_simex_config cfg;
    clb_simex_config_default(&cfg);
    char err[256];
    cr_assert_eq(clb_simex_config_load_json(&cfg, start, (size_t)(end - start), err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(cfg.n_symbols, 2);
    cr_assert_eq(cfg.n_accounts, 1);
    cfg.port = 0;
    cfg.quiet = true;
    struct sxt t;
    sxt_start(&t, &cfg);
    struct sxt_http r;
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=ETHUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=2000",
               "demo-key", "demo-secret", true, &r);
    /* the example's faults may answer 503 (1 %): either way the call is judged */
    cr_assert(r.status == 200 || r.status == 503, "%s", r.body);
    sxt_http_free(&r);
    sxt_stop(&t);
}

Test(orders, tickers)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    struct sxt_http r;
    alice(&t, "POST", "/api/v3/order",
          "symbol=ETHUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=1&price=3001.5", 200, &r);
    sxt_http_free(&r);
    bob(&t, "POST", "/api/v3/order", "symbol=ETHUSDT&side=BUY&type=MARKET&quantity=0.25", 200, &r);
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/api/v3/ticker/price?symbol=ETHUSDT", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_str_eq(sval(r.json, "price"), "3001.50000000");
    cr_assert_eq(weight_header(&r), 1 + 1 + 2);
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/api/v3/ticker/price", NULL, NULL, 0, &r);
    cr_assert_eq(json_array_size(r.json), 2);
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/api/v3/ticker/bookTicker?symbols=%5B%22ETHUSDT%22%5D", NULL, NULL, 0,
             &r);
    cr_assert_eq(json_array_size(r.json), 1);
    json_t *b = json_array_get(r.json, 0);
    cr_assert_str_eq(sval(b, "askPrice"), "3001.50000000");
    cr_assert_str_eq(sval(b, "askQty"), "0.75000000");
    cr_assert_str_eq(sval(b, "bidPrice"), "0.00000000");
    sxt_http_free(&r);
    sxt_http(&t, "GET", "/api/v3/ticker/bookTicker?symbol=NOPE", NULL, NULL, 0, &r);
    expect_error(&r, 400, -1121, "Invalid symbol.");
    sxt_stop(&t);
}

/* Regression: a POST whose parameters are all in the query string, sent with
 * an empty body ("Content-Length: 0", which libcurl sends for empty
 * POSTFIELDS), must be executed exactly once (it was executed at
 * LWS_CALLBACK_HTTP and again at HTTP_BODY_COMPLETION: every order twice). */
Test(orders, empty_body_post_is_executed_once)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    sxt_start(&t, &cfg);
    for (int i = 0; i < 3; i++) {
        char payload[512], sig[65], full[1024];
        snprintf(payload, sizeof(payload),
                 "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.001&"
                 "price=%d&newClientOrderId=empty-%d&timestamp=%lld",
                 60000 + i, i, (long long)sxt_now_ms());
        sxt_hmac(SXT_ALICE_SECRET, payload, sig);
        snprintf(full, sizeof(full), "/api/v3/order?%s&signature=%s", payload, sig);
        struct sxt_http r;
        sxt_http(&t, "POST", full, "", SXT_ALICE, 0, &r);
        cr_assert_eq(r.status, 200, "%s", r.body);
        sxt_http_free(&r);
        /* the same with no Content-Length at all */
        snprintf(payload, sizeof(payload),
                 "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.001&"
                 "price=%d&newClientOrderId=none-%d&timestamp=%lld",
                 61000 + i, i, (long long)sxt_now_ms());
        sxt_hmac(SXT_ALICE_SECRET, payload, sig);
        snprintf(full, sizeof(full), "/api/v3/order?%s&signature=%s", payload, sig);
        sxt_http(&t, "POST", full, NULL, SXT_ALICE, 0, &r);
        cr_assert_eq(r.status, 200, "%s", r.body);
        sxt_http_free(&r);
    }
    struct sxt_http r;
    alice(&t, "GET", "/api/v3/openOrders", "symbol=BTCUSDT", 200, &r);
    cr_assert_eq(json_array_size(r.json), 6, "%s", r.body);
    sxt_http_free(&r);
    /* and an order whose parameters are in the body is placed once too */
    sxt_signed(&t, "POST", "/api/v3/order",
               "symbol=BTCUSDT&side=SELL&type=LIMIT&timeInForce=GTC&quantity=0.001&price=62000",
               SXT_ALICE, SXT_ALICE_SECRET, true, &r);
    cr_assert_eq(r.status, 200, "%s", r.body);
    sxt_http_free(&r);
    alice(&t, "GET", "/api/v3/openOrders", "symbol=BTCUSDT", 200, &r);
    cr_assert_eq(json_array_size(r.json), 7, "%s", r.body);
    sxt_http_free(&r);
    sxt_stop(&t);
}

/* GET /api/v3/account/commission: Binance's shape with the configured fees. */
Test(orders, account_commission)
{
    struct sxt t;
    struct clb_simex_config cfg;
    sxt_config(&cfg);
    cfg.maker_fee_ppm = 800;
    cfg.taker_fee_ppm = 1000;
    sxt_start(&t, &cfg);
    struct sxt_http r;
    alice(&t, "GET", "/api/v3/account/commission", "symbol=ETHUSDT", 200, &r);
    cr_assert(json_object_get(r.json, "symbol"), "%s", r.body);
    cr_assert_str_eq(sval(r.json, "symbol"), "ETHUSDT");
    json_t *sc = json_object_get(r.json, "standardCommission");
    cr_assert_str_eq(sval(sc, "maker"), "0.00080000");
    cr_assert_str_eq(sval(sc, "taker"), "0.00100000");
    cr_assert_str_eq(sval(sc, "buyer"), "0.00000000");
    cr_assert_str_eq(sval(json_object_get(r.json, "taxCommission"), "taker"), "0.00000000");
    cr_assert(json_is_false(json_object_get(json_object_get(r.json, "discount"),
                                            "enabledForAccount")));
    cr_assert_eq(weight_header(&r), 20);
    sxt_http_free(&r);
    alice(&t, "GET", "/api/v3/account/commission", "", 400, &r);
    expect_error(&r, 400, -1102, NULL);
    alice(&t, "GET", "/api/v3/account/commission", "symbol=NOPE", 400, &r);
    expect_error(&r, 400, -1121, "Invalid symbol.");
    sxt_http(&t, "GET", "/api/v3/account/commission?symbol=ETHUSDT", NULL, NULL, 0, &r);
    cr_assert_eq(r.status, 401, "%s", r.body);
    sxt_http_free(&r);
    sxt_stop(&t);
}
