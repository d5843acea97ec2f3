/*
 * Tests for connectors/binance/binance_sign.c: Binance's documented signing
 * examples (REST query, query + body, WS-API), RFC 4231 HMAC vectors,
 * percent-encoding, buffer limits and argument checks, and a random
 * cross-check of the streaming HMAC against OpenSSL's one-shot HMAC().
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "binance_sign.h"
#include "error.h"

#define DOC_SECRET "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
#define DOC_KEY "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"

static const struct clb_bn_param doc_params[] = {
    { "symbol", "LTCBTC" }, { "side", "BUY" },   { "type", "LIMIT" },
    { "timeInForce", "GTC" }, { "quantity", "1" }, { "price", "0.1" },
};

Test(binance_sign, documented_rest_example)
{
    char out[512];
    int n = clb_bn_sign_query(DOC_SECRET, doc_params, 6, 1499827319559LL, 5000, out, sizeof(out));
    const char *want = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&"
                       "recvWindow=5000&timestamp=1499827319559&signature="
                       "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71";
    cr_assert_eq(n, (int)strlen(want));
    cr_assert_str_eq(out, want);
}

Test(binance_sign, documented_query_and_body_example)
{
    const char *q = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC";
    const char *b = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
    char sig[65];
    cr_assert_eq(clb_bn_sign_payload(DOC_SECRET, q, strlen(q), b, strlen(b), sig), CLB_OK);
    cr_assert_str_eq(sig, "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77");
    /* all of it in the body gives the first example's signature */
    const char *all = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&"
                      "recvWindow=5000&timestamp=1499827319559";
    cr_assert_eq(clb_bn_sign_payload(DOC_SECRET, NULL, 0, all, strlen(all), sig), CLB_OK);
    cr_assert_str_eq(sig, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
}

Test(binance_sign, documented_ws_api_example_sorted)
{
    /* given in no particular order: the signature sorts them */
    const struct clb_bn_param p[] = {
        { "symbol", "BTCUSDT" },  { "side", "SELL" },         { "type", "LIMIT" },
        { "timeInForce", "GTC" }, { "quantity", "0.01000000" }, { "price", "52000.00" },
        { "newOrderRespType", "ACK" }, { "recvWindow", "100" }, { "timestamp", "1645423376532" },
        { "apiKey", DOC_KEY },
    };
    char sig[65];
    cr_assert_eq(clb_bn_ws_sign(DOC_SECRET, p, 10, sig), CLB_OK);
    cr_assert_str_eq(sig, "cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb454ddbd08a");
}

Test(binance_sign, ws_signed_request_json)
{
    const struct clb_bn_param p[] = {
        { "symbol", "BTCUSDT" },  { "side", "SELL" },         { "type", "LIMIT" },
        { "timeInForce", "GTC" }, { "quantity", "0.01000000" }, { "price", "52000.00" },
        { "newOrderRespType", "ACK" },
    };
    char out[1024];
    int n = clb_bn_ws_signed_request("4885f793", "order.place", p, 7, DOC_KEY, DOC_SECRET,
                                     1645423376532LL, 100, out, sizeof(out));
    cr_assert_gt(n, 0);
    cr_assert_eq((size_t)n, strlen(out));
    cr_assert(strstr(out, "{\"id\":\"4885f793\",\"method\":\"order.place\",\"params\":{"));
    cr_assert(strstr(out, "\"apiKey\":\"" DOC_KEY "\",\"recvWindow\":100,"
                          "\"timestamp\":1645423376532,"
                          "\"signature\":\"cc15477742bd704c29492d96c7ead9414dfd8e0ec4a00f947bb5bb4"
                          "54ddbd08a\"}}"));
    /* exact size fits, one less does not and leaves the buffer alone */
    char small[1024];
    memset(small, 'x', sizeof(small));
    cr_assert_eq(clb_bn_ws_signed_request("4885f793", "order.place", p, 7, DOC_KEY, DOC_SECRET,
                                          1645423376532LL, 100, small, (size_t)n),
                 CLB_ERANGE);
    cr_assert_eq(small[0], 'x');
    cr_assert_eq(clb_bn_ws_signed_request("4885f793", "order.place", p, 7, DOC_KEY, DOC_SECRET,
                                          1645423376532LL, 100, small, (size_t)n + 1),
                 n);
    cr_assert_str_eq(small, out);
    /* reserved keys are refused */
    const struct clb_bn_param bad[] = { { "timestamp", "1" } };
    cr_assert_eq(clb_bn_ws_signed_request("1", "m", bad, 1, DOC_KEY, DOC_SECRET, 1, 0, out,
                                          sizeof(out)),
                 CLB_EINVAL);
}

Test(binance_sign, ws_request_escapes_json_strings)
{
    const struct clb_bn_param p[] = { { "note", "a\"b\\c\n" } };
    char out[512];
    int n = clb_bn_ws_signed_request("x\"y", "m", p, 1, "K", "S", 5, 0, out, sizeof(out));
    cr_assert_gt(n, 0);
    cr_assert(strstr(out, "{\"id\":\"x\\\"y\",\"method\":\"m\",\"params\":{\"note\":"
                          "\"a\\\"b\\\\c\\u000a\",\"apiKey\":\"K\",\"timestamp\":5,"));
    /* the signature covers the raw value */
    const struct clb_bn_param raw[] = { { "note", "a\"b\\c\n" }, { "apiKey", "K" },
                                        { "timestamp", "5" } };
    char sig[65];
    cr_assert_eq(clb_bn_ws_sign("S", raw, 3, sig), CLB_OK);
    cr_assert(strstr(out, sig));
}

Test(binance_sign, ws_sign_rejects_duplicates_and_signature)
{
    const struct clb_bn_param dup[] = { { "a", "1" }, { "b", "2" }, { "a", "3" } };
    const struct clb_bn_param sig_in[] = { { "a", "1" }, { "signature", "x" } };
    char sig[65] = "untouched";
    cr_assert_eq(clb_bn_ws_sign("S", dup, 3, sig), CLB_EINVAL);
    cr_assert_eq(clb_bn_ws_sign("S", sig_in, 2, sig), CLB_EINVAL);
    cr_assert_eq(clb_bn_ws_sign("", dup, 1, sig), CLB_EINVAL);
    cr_assert_str_eq(sig, "untouched");
}

Test(binance_sign, rfc4231_vectors)
{
    char sig[65];
    /* test case 2 */
    cr_assert_eq(clb_bn_hmac_sha256_hex("Jefe", "what do ya want for nothing?", 28, sig), CLB_OK);
    cr_assert_str_eq(sig, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* test case 6: a key longer than the block is hashed first */
    char key[132];
    memset(key, 0xaa, 131);
    key[131] = '\0';
    const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
    cr_assert_eq(clb_bn_hmac_sha256_hex(key, msg, strlen(msg), sig), CLB_OK);
    cr_assert_str_eq(sig, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

Test(binance_sign, streaming_hmac_matches_openssl_one_shot)
{
    uint64_t seed = 42;
    for (int round = 0; round < 500; round++) {
        char key[200], msg[600];
        size_t kl = 1 + splitmix64(&seed) % 150, ml = splitmix64(&seed) % 600;
        for (size_t i = 0; i < kl; i++)
            key[i] = (char)(1 + splitmix64(&seed) % 255);
        key[kl] = '\0';
        for (size_t i = 0; i < ml; i++)
            msg[i] = (char)(splitmix64(&seed) % 256);
        size_t split = ml ? splitmix64(&seed) % ml : 0;
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mlen = 0;
        cr_assert(HMAC(EVP_sha256(), key, (int)kl, (const unsigned char *)msg, ml, mac, &mlen));
        char want[65];
        for (unsigned i = 0; i < 32; i++)
            snprintf(want + 2 * i, 3, "%02x", mac[i]);
        char got[65];
        cr_assert_eq(clb_bn_sign_payload(key, msg, split, msg + split, ml - split, got), CLB_OK);
        cr_assert_str_eq(got, want, "round %d", round);
    }
}

Test(binance_sign, percent_encoding)
{
    char out[256];
    cr_assert_eq(clb_bn_url_encode("AZaz09-._~", 10, out, sizeof(out)), 10);
    cr_assert_str_eq(out, "AZaz09-._~");
    cr_assert_eq(clb_bn_url_encode("a b+c", 5, out, sizeof(out)), 9);
    cr_assert_str_eq(out, "a%20b%2Bc");
    const char *s = "&=/?#%:@!$'()*,;[]\"";
    cr_assert_gt(clb_bn_url_encode(s, strlen(s), out, sizeof(out)), 0);
    cr_assert_str_eq(out, "%26%3D%2F%3F%23%25%3A%40%21%24%27%28%29%2A%2C%3B%5B%5D%22");
    cr_assert_eq(clb_bn_url_encode("\xc3\xa9\x01\xff", 4, out, sizeof(out)), 12);
    cr_assert_str_eq(out, "%C3%A9%01%FF");
    /* embedded NUL bytes are encoded, the length is what counts */
    cr_assert_eq(clb_bn_url_encode("a\0b", 3, out, sizeof(out)), 5);
    cr_assert_str_eq(out, "a%00b");
    cr_assert_eq(clb_bn_url_encode("", 0, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "");
    /* capacity: exactly enough, then one short (untouched) */
    char small[10];
    memset(small, 'x', sizeof(small));
    cr_assert_eq(clb_bn_url_encode("a b", 3, small, 5), CLB_ERANGE);
    cr_assert_eq(small[0], 'x');
    cr_assert_eq(clb_bn_url_encode("a b", 3, small, 6), 5);
    cr_assert_str_eq(small, "a%20b");
    cr_assert_eq(clb_bn_url_encode(NULL, 1, small, 6), CLB_EINVAL);
}

Test(binance_sign, query_build_encodes_keys_and_values)
{
    const struct clb_bn_param p[] = {
        { "symbols", "[\"BTCUSDT\",\"ETHUSDT\"]" },
        { "newClientOrderId", "hb-BBCUT:1/2" },
        { "note", "x y" },
    };
    char out[256];
    int n = clb_bn_query_build(p, 3, out, sizeof(out));
    const char *want = "symbols=%5B%22BTCUSDT%22%2C%22ETHUSDT%22%5D"
                       "&newClientOrderId=hb-BBCUT%3A1%2F2&note=x%20y";
    cr_assert_str_eq(out, want);
    cr_assert_eq(n, (int)strlen(want));
    cr_assert_eq(clb_bn_query_build(p, 0, out, sizeof(out)), 0);
    cr_assert_str_eq(out, "");
    const struct clb_bn_param empty_key[] = { { "", "v" } };
    cr_assert_eq(clb_bn_query_build(empty_key, 1, out, sizeof(out)), CLB_EINVAL);
    const struct clb_bn_param null_val[] = { { "k", NULL } };
    cr_assert_eq(clb_bn_query_build(null_val, 1, out, sizeof(out)), CLB_EINVAL);
    cr_assert_eq(clb_bn_query_build(p, CLB_BN_SIGN_MAX_PARAMS + 1, out, sizeof(out)),
                 CLB_EINVAL);
}

Test(binance_sign, signed_query_signs_the_encoded_text)
{
    const struct clb_bn_param p[] = { { "newClientOrderId", "a b" } };
    char out[256];
    int n = clb_bn_sign_query("secret", p, 1, 1700000000000LL, 0, out, sizeof(out));
    cr_assert_gt(n, 0);
    const char *payload = "newClientOrderId=a%20b&timestamp=1700000000000";
    char sig[65];
    cr_assert_eq(clb_bn_hmac_sha256_hex("secret", payload, strlen(payload), sig), CLB_OK);
    char want[256];
    snprintf(want, sizeof(want), "%s&signature=%s", payload, sig);
    cr_assert_str_eq(out, want);
    /* no params: timestamp alone */
    n = clb_bn_sign_query("secret", NULL, 0, 1700000000000LL, 60000, out, sizeof(out));
    cr_assert_gt(n, 0);
    cr_assert_eq(strncmp(out, "recvWindow=60000&timestamp=1700000000000&signature=", 51), 0);
    cr_assert_eq(strlen(out), 51u + 64u);
}

Test(binance_sign, signed_query_argument_checks)
{
    char out[512];
    memset(out, 'x', sizeof(out));
    cr_assert_eq(clb_bn_sign_query("", doc_params, 6, 1, 0, out, sizeof(out)), CLB_EINVAL);
    cr_assert_eq(clb_bn_sign_query("s", doc_params, 6, 0, 0, out, sizeof(out)), CLB_EINVAL);
    cr_assert_eq(clb_bn_sign_query("s", doc_params, 6, 1, 60001, out, sizeof(out)), CLB_EINVAL);
    cr_assert_eq(clb_bn_sign_query("s", doc_params, 6, 1, -1, out, sizeof(out)), CLB_EINVAL);
    cr_assert_eq(clb_bn_sign_query("s", doc_params, 6, 1499827319559LL, 5000, out, 100),
                 CLB_ERANGE);
    cr_assert_eq(out[0], 'x');
}

Test(binance_sign, prepared_signer_matches_one_shot_and_is_reusable)
{
    struct clb_bn_signer s;
    cr_assert_eq(clb_bn_signer_init(&s, ""), CLB_EINVAL);
    clb_bn_signer_deinit(&s);
    cr_assert_eq(clb_bn_signer_init(&s, NULL), CLB_EINVAL);
    cr_assert_eq(clb_bn_signer_init(&s, DOC_SECRET), CLB_OK);
    char a[512], b[512];
    for (int i = 0; i < 50; i++) {
        int64_t ts = 1499827319559LL + i;
        int na = clb_bn_signer_sign_query(&s, doc_params, 6, ts, 5000, a, sizeof(a));
        int nb = clb_bn_sign_query(DOC_SECRET, doc_params, 6, ts, 5000, b, sizeof(b));
        cr_assert_gt(na, 0);
        cr_assert_eq(na, nb);
        cr_assert_str_eq(a, b);
        /* an error in between does not disturb the next signature */
        cr_assert_eq(clb_bn_signer_sign_query(&s, doc_params, 6, ts, 5000, a, 10), CLB_ERANGE);
    }
    cr_assert_eq(clb_bn_signer_sign_query(&s, doc_params, 6, 1499827319559LL, 5000, a,
                                          sizeof(a)),
                 (int)strlen(a));
    cr_assert(strstr(a, "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"));
    const struct clb_bn_param p[] = { { "symbol", "BTCUSDT" } };
    cr_assert_gt(clb_bn_signer_ws_request(&s, "1", "order.status", p, 1, DOC_KEY, 5, 0, a,
                                          sizeof(a)),
                 0);
    cr_assert_gt(clb_bn_ws_signed_request("1", "order.status", p, 1, DOC_KEY, DOC_SECRET, 5, 0,
                                          b, sizeof(b)),
                 0);
    cr_assert_str_eq(a, b);
    char sig[65];
    cr_assert_eq(clb_bn_signer_sign_payload(&s, "abc", 3, NULL, 0, sig), CLB_OK);
    cr_assert_eq(clb_bn_hmac_sha256_hex(DOC_SECRET, "abc", 3, b), CLB_OK);
    cr_assert_str_eq(sig, b);
    clb_bn_signer_deinit(&s);
    clb_bn_signer_deinit(&s);
    /* a deinitialized signer refuses to sign */
    cr_assert_eq(clb_bn_signer_sign_payload(&s, "abc", 3, NULL, 0, sig), CLB_EINVAL);
}
