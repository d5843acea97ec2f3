/*
 * eth_test.c — Ethereum primitives (server/gateway): Keccak-256, RLP, ABI,
 * uint256, hex, addresses, signing and EIP-155 / EIP-1559 transactions.
 *
 * Known-answer vectors come from the specifications (Ethereum wiki RLP
 * examples, Solidity ABI docs, EIP-55, EIP-155) and ethereumjs's EIP-1559
 * test set; properties are checked on random inputs from a fixed-seed
 * splitmix64 against naive references (128-bit integers for arithmetic).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "eth.h"

__extension__ typedef unsigned __int128 u128;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void rand_bytes(uint64_t *s, uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)splitmix64(s);
}

/* Decodes hex (test helper; aborts the test on bad input). */
static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
    size_t n = 0;
    cr_assert_eq(clb_hex_decode(s, out, cap, &n), CLB_OK, "bad hex %s", s);
    return n;
}

static void hex_of(const uint8_t *p, size_t n, char *out, size_t cap)
{
    cr_assert_eq(clb_hex_encode(p, n, out, cap), CLB_OK);
}

static void assert_hex(const uint8_t *p, size_t n, const char *want)
{
    char buf[4096];
    hex_of(p, n, buf, sizeof(buf));
    cr_assert_str_eq(buf, want);
}

/* ---- keccak ---- */

static void keccak_hex(const char *msg, size_t len, char out[67])
{
    uint8_t h[32];
    clb_keccak256(msg, len, h);
    hex_of(h, 32, out, 67);
}

Test(keccak, known_vectors)
{
    char h[67];
    keccak_hex("", 0, h);
    cr_assert_str_eq(h, "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
    keccak_hex("abc", 3, h);
    cr_assert_str_eq(h, "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
    const char *fox = "The quick brown fox jumps over the lazy dog";
    keccak_hex(fox, strlen(fox), h);
    cr_assert_str_eq(h, "0x4d741b6f1eb29cb2a9b9911c82f56fa8d73b04959d3d9d222895df6c0b28aa15");
}

/* Multi-block: Uniswap V2's pair init code hash (keccak of the ~11 KB
 * creation bytecode shipped in @uniswap/v2-core), when npm ci has run. */
Test(keccak, uniswap_pair_init_code_hash)
{
    const char *path = COLIBRI_SOURCE_DIR "/node_modules/@uniswap/v2-core/build/UniswapV2Pair.json";
    json_error_t jerr;
    json_t *doc = json_load_file(path, 0, &jerr);
    if (!doc)
        cr_skip_test("%s missing (npm ci)", path);
    const char *hex = json_string_value(json_object_get(doc, "bytecode"));
    cr_assert(hex);
    size_t cap = strlen(hex) / 2 + 1, n = 0;
    uint8_t *code = malloc(cap);
    cr_assert_eq(clb_hex_decode(hex, code, cap, &n), CLB_OK);
    cr_assert_gt(n, 4 * 136);
    uint8_t h[32];
    clb_keccak256(code, n, h);
    assert_hex(h, 32, "0x96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f");
    free(code);
    json_decref(doc);
}

Test(keccak, incremental_equals_oneshot)
{
    uint64_t seed = 1;
    uint8_t msg[1000];
    rand_bytes(&seed, msg, sizeof(msg));
    for (int iter = 0; iter < 300; iter++) {
        size_t len = splitmix64(&seed) % sizeof(msg);
        uint8_t a[32], b[32];
        clb_keccak256(msg, len, a);
        struct clb_keccak256 k;
        clb_keccak256_init(&k);
        size_t pos = 0;
        while (pos < len) {
            size_t step = 1 + splitmix64(&seed) % 200;
            if (step > len - pos)
                step = len - pos;
            clb_keccak256_update(&k, msg + pos, step);
            pos += step;
        }
        clb_keccak256_final(&k, b);
        cr_assert(memcmp(a, b, 32) == 0, "len %zu", len);
    }
}

/* ---- RLP ---- */

static void rlp_check(void (*build)(struct clb_rlp *), const char *want)
{
    uint8_t buf[256];
    struct clb_rlp r;
    size_t n = 0;
    clb_rlp_init(&r, buf, sizeof(buf));
    build(&r);
    cr_assert_eq(clb_rlp_finish(&r, &n), CLB_OK);
    assert_hex(buf, n, want);
}

static void b_dog(struct clb_rlp *r) { clb_rlp_bytes(r, "dog", 3); }
static void b_catdog(struct clb_rlp *r)
{
    clb_rlp_list_begin(r);
    clb_rlp_bytes(r, "cat", 3);
    clb_rlp_bytes(r, "dog", 3);
    clb_rlp_list_end(r);
}
static void b_empty(struct clb_rlp *r) { clb_rlp_bytes(r, NULL, 0); }
static void b_empty_list(struct clb_rlp *r)
{
    clb_rlp_list_begin(r);
    clb_rlp_list_end(r);
}
static void b_zero(struct clb_rlp *r) { clb_rlp_uint(r, 0); }
static void b_byte0(struct clb_rlp *r) { clb_rlp_bytes(r, "\x00", 1); }
static void b_15(struct clb_rlp *r) { clb_rlp_uint(r, 15); }
static void b_1024(struct clb_rlp *r) { clb_rlp_uint(r, 1024); }
static void b_set_theory(struct clb_rlp *r)
{
    /* [ [], [[]], [ [], [[]] ] ] */
    clb_rlp_list_begin(r);
    clb_rlp_list_begin(r);
    clb_rlp_list_end(r);
    clb_rlp_list_begin(r);
    clb_rlp_list_begin(r);
    clb_rlp_list_end(r);
    clb_rlp_list_end(r);
    clb_rlp_list_begin(r);
    clb_rlp_list_begin(r);
    clb_rlp_list_end(r);
    clb_rlp_list_begin(r);
    clb_rlp_list_begin(r);
    clb_rlp_list_end(r);
    clb_rlp_list_end(r);
    clb_rlp_list_end(r);
    clb_rlp_list_end(r);
}
static const char lorem[] = "Lorem ipsum dolor sit amet, consectetur adipisicing elit";
static void b_lorem(struct clb_rlp *r) { clb_rlp_bytes(r, lorem, strlen(lorem)); }
static void b_u256(struct clb_rlp *r)
{
    uint8_t v[32] = { 0 };
    v[30] = 0x04;
    clb_rlp_u256(r, v);
}

Test(rlp, wiki_vectors)
{
    rlp_check(b_dog, "0x83646f67");
    rlp_check(b_catdog, "0xc88363617483646f67");
    rlp_check(b_empty, "0x80");
    rlp_check(b_empty_list, "0xc0");
    rlp_check(b_zero, "0x80");
    rlp_check(b_byte0, "0x00");
    rlp_check(b_15, "0x0f");
    rlp_check(b_1024, "0x820400");
    rlp_check(b_set_theory, "0xc7c0c1c0c3c0c1c0");
    rlp_check(b_u256, "0x820400");
    char want[200] = "0xb838";
    hex_of((const uint8_t *)lorem, strlen(lorem), want + 6, sizeof(want) - 6);
    memmove(want + 6, want + 8, strlen(want + 8) + 1); /* drop the inner "0x" */
    rlp_check(b_lorem, want);
}

Test(rlp, long_list_and_errors)
{
    uint8_t buf[2000], payload[1000];
    memset(payload, 'x', sizeof(payload));
    struct clb_rlp r;
    size_t n = 0;
    clb_rlp_init(&r, buf, sizeof(buf));
    clb_rlp_list_begin(&r);
    clb_rlp_bytes(&r, payload, 1000); /* b9 03e8 + 1000 */
    clb_rlp_list_end(&r);             /* f9 03eb */
    cr_assert_eq(clb_rlp_finish(&r, &n), CLB_OK);
    cr_assert_eq(n, 1006);
    cr_assert_eq(buf[0], 0xf9);
    cr_assert_eq(buf[1], 0x03);
    cr_assert_eq(buf[2], 0xeb);
    cr_assert_eq(buf[3], 0xb9);
    /* decode it back */
    struct clb_rlp_item it, child;
    size_t used;
    cr_assert_eq(clb_rlp_decode(buf, n, &it, &used), CLB_OK);
    cr_assert(it.is_list);
    cr_assert_eq(used, n);
    cr_assert_eq(clb_rlp_decode(it.p, it.len, &child, &used), CLB_OK);
    cr_assert(!child.is_list);
    cr_assert_eq(child.len, 1000);

    /* overflow is sticky */
    clb_rlp_init(&r, buf, 3);
    cr_assert_eq(clb_rlp_bytes(&r, "dog", 3), CLB_EFULL);
    cr_assert_eq(clb_rlp_uint(&r, 1), CLB_EFULL);
    cr_assert_eq(clb_rlp_finish(&r, &n), CLB_EFULL);
    /* list prefix does not fit */
    clb_rlp_init(&r, buf, 4);
    clb_rlp_list_begin(&r);
    clb_rlp_bytes(&r, "dog", 3);
    cr_assert_eq(clb_rlp_list_end(&r), CLB_EFULL);
    /* unbalanced */
    clb_rlp_init(&r, buf, sizeof(buf));
    cr_assert_eq(clb_rlp_list_end(&r), CLB_ESTATE);
    clb_rlp_init(&r, buf, sizeof(buf));
    clb_rlp_list_begin(&r);
    cr_assert_eq(clb_rlp_finish(&r, &n), CLB_ESTATE);
    clb_rlp_init(&r, buf, sizeof(buf));
    for (int i = 0; i < CLB_RLP_MAX_DEPTH; i++)
        cr_assert_eq(clb_rlp_list_begin(&r), CLB_OK);
    cr_assert_eq(clb_rlp_list_begin(&r), CLB_ESTATE);
}

Test(rlp, decoder_rejects_bad_input)
{
    struct clb_rlp_item it;
    size_t used;
    static const char *bad[] = {
        "0x",           /* empty */
        "0x83646f",     /* truncated string */
        "0x8100",       /* single byte < 0x80 wrapped */
        "0x817f",       /* same */
        "0xb800",       /* long form for a short length */
        "0xb837" ,      /* long form for 55 */
        "0xb90000",     /* leading zero in the length */
        "0xbf",         /* length of length 8, missing */
        "0xbfffffffffffffffff", /* huge length */
        "0xc883636174", /* truncated list */
        "0xf800",       /* long list form for a short length */
    };
    uint8_t buf[64];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t n = unhex(bad[i], buf, sizeof(buf));
        cr_assert_eq(clb_rlp_decode(buf, n, &it, &used), CLB_EPARSE, "%s", bad[i]);
    }
    cr_assert_eq(clb_rlp_decode(NULL, 0, &it, &used), CLB_EPARSE);
    /* 0x8180 is fine: one byte >= 0x80 */
    size_t n = unhex("0x8180", buf, sizeof(buf));
    cr_assert_eq(clb_rlp_decode(buf, n, &it, &used), CLB_OK);
    cr_assert_eq(it.len, 1);
    cr_assert_eq(it.p[0], 0x80);
}

/* Random nested structures encode and decode back to the same shape. */
static void rlp_random_build(struct clb_rlp *r, uint64_t *s, int depth, uint64_t *digest)
{
    int n = (int)(splitmix64(s) % 5);
    for (int i = 0; i < n; i++) {
        if (depth < 4 && splitmix64(s) % 3 == 0) {
            clb_rlp_list_begin(r);
            *digest = *digest * 31 + 1000;
            rlp_random_build(r, s, depth + 1, digest);
            clb_rlp_list_end(r);
            *digest = *digest * 31 + 2000;
        } else {
            uint8_t b[80];
            size_t len = splitmix64(s) % 80;
            rand_bytes(s, b, len);
            clb_rlp_bytes(r, b, len);
            for (size_t k = 0; k < len; k++)
                *digest = *digest * 31 + b[k];
            *digest = *digest * 31 + 3000 + len;
        }
    }
}

static int rlp_walk(const uint8_t *p, size_t len, uint64_t *digest)
{
    size_t pos = 0;
    while (pos < len) {
        struct clb_rlp_item it;
        size_t used;
        if (clb_rlp_decode(p + pos, len - pos, &it, &used) != CLB_OK)
            return -1;
        if (it.is_list) {
            *digest = *digest * 31 + 1000;
            if (rlp_walk(it.p, it.len, digest))
                return -1;
            *digest = *digest * 31 + 2000;
        } else {
            for (size_t k = 0; k < it.len; k++)
                *digest = *digest * 31 + it.p[k];
            *digest = *digest * 31 + 3000 + it.len;
        }
        pos += used;
    }
    return 0;
}

Test(rlp, random_round_trip)
{
    uint64_t seed = 7;
    static uint8_t buf[1 << 16];
    for (int iter = 0; iter < 500; iter++) {
        struct clb_rlp r;
        uint64_t d1 = 0, d2 = 0;
        size_t n = 0;
        clb_rlp_init(&r, buf, sizeof(buf));
        clb_rlp_list_begin(&r);
        rlp_random_build(&r, &seed, 0, &d1);
        clb_rlp_list_end(&r);
        cr_assert_eq(clb_rlp_finish(&r, &n), CLB_OK);
        struct clb_rlp_item top;
        size_t used;
        cr_assert_eq(clb_rlp_decode(buf, n, &top, &used), CLB_OK);
        cr_assert_eq(used, n);
        cr_assert_eq(rlp_walk(top.p, top.len, &d2), 0);
        cr_assert_eq(d1, d2);
        /* every truncation is rejected, never over-read (ASan) */
        for (size_t cut = 0; cut < n; cut++)
            cr_assert_eq(clb_rlp_decode(buf, cut, &top, &used) == CLB_OK && used == n, 0);
    }
}

/* ---- uint256 ---- */

static void u(uint8_t v[32], const char *dec)
{
    cr_assert_eq(clb_u256_from_dec(dec, 0, v), CLB_OK, "%s", dec);
}

static const char *MAX_DEC =
    "115792089237316195423570985008687907853269984665640564039457584007913129639935";

Test(uint256, decimal_conversions)
{
    uint8_t v[32], w[32];
    char s[CLB_U256_DEC_MAX];
    cr_assert_eq(clb_u256_from_dec("1.5", 18, v), CLB_OK);
    uint64_t x;
    cr_assert_eq(clb_u256_to_u64(v, &x), CLB_OK);
    cr_assert_eq(x, 1500000000000000000ULL);
    cr_assert_eq(clb_u256_to_dec(v, 18, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "1.5");
    cr_assert_eq(clb_u256_to_dec(v, 0, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "1500000000000000000");
    cr_assert_eq(clb_u256_to_dec(v, 20, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "0.015");
    cr_assert_eq(clb_u256_from_dec("0.000001", 6, v), CLB_OK);
    cr_assert_eq(clb_u256_to_u64(v, &x), CLB_OK);
    cr_assert_eq(x, 1);
    cr_assert_eq(clb_u256_from_dec(".5", 1, v), CLB_OK);
    cr_assert_eq(clb_u256_to_u64(v, &x), CLB_OK);
    cr_assert_eq(x, 5);
    cr_assert_eq(clb_u256_from_dec("7.", 2, v), CLB_OK);
    cr_assert_eq(clb_u256_to_u64(v, &x), CLB_OK);
    cr_assert_eq(x, 700);
    cr_assert_eq(clb_u256_from_dec("1.2300", 2, v), CLB_OK); /* extra zeros fine */
    cr_assert_eq(clb_u256_to_u64(v, &x), CLB_OK);
    cr_assert_eq(x, 123);
    cr_assert_eq(clb_u256_from_dec("0", 18, v), CLB_OK);
    cr_assert(clb_u256_is_zero(v));
    cr_assert_eq(clb_u256_to_dec(v, 18, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "0");

    cr_assert_eq(clb_u256_from_dec("1.234", 2, w), CLB_EPRECISION);
    cr_assert_eq(clb_u256_from_dec("", 2, w), CLB_EPARSE);
    cr_assert_eq(clb_u256_from_dec(".", 2, w), CLB_EPARSE);
    cr_assert_eq(clb_u256_from_dec("-1", 2, w), CLB_EPARSE);
    cr_assert_eq(clb_u256_from_dec("1e5", 2, w), CLB_EPARSE);
    cr_assert_eq(clb_u256_from_dec("1.2.3", 2, w), CLB_EPARSE);
    cr_assert_eq(clb_u256_from_dec(" 1", 2, w), CLB_EPARSE);
    cr_assert_eq(clb_u256_from_dec(NULL, 2, w), CLB_EPARSE);
    cr_assert_eq(clb_u256_from_dec("1", 78, w), CLB_EINVAL);

    /* the maximum, and one past it */
    cr_assert_eq(clb_u256_from_dec(MAX_DEC, 0, v), CLB_OK);
    for (int i = 0; i < 32; i++)
        cr_assert_eq(v[i], 0xff);
    cr_assert_eq(clb_u256_to_dec(v, 0, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, MAX_DEC);
    cr_assert_eq(clb_u256_to_dec(v, 77, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "1.15792089237316195423570985008687907853269984665640564039457584007913129639935");
    cr_assert_eq(clb_u256_from_dec(
                     "115792089237316195423570985008687907853269984665640564039457584007913129639936",
                     0, w),
                 CLB_EOVERFLOW);
    cr_assert_eq(clb_u256_from_dec("115792089237316195423570985008687907853269984665640564039457584"
                                   "007913129639935", 1, w),
                 CLB_EOVERFLOW);
    cr_assert_eq(clb_u256_to_dec(v, 0, s, 10), CLB_EFULL);
    cr_assert_str_eq(s, "");
    cr_assert_eq(clb_u256_to_u64(v, &x), CLB_ERANGE);
}

Test(uint256, hex_quantities)
{
    uint8_t v[32];
    char s[CLB_U256_HEX_MAX];
    cr_assert_eq(clb_u256_from_hex("0x0", v), CLB_OK);
    cr_assert(clb_u256_is_zero(v));
    cr_assert_eq(clb_u256_to_hex(v, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "0x0");
    cr_assert_eq(clb_u256_from_hex("0x1BC16d674ec80000", v), CLB_OK);
    cr_assert_eq(clb_u256_to_hex(v, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "0x1bc16d674ec80000");
    uint64_t x;
    cr_assert_eq(clb_u256_to_u64(v, &x), CLB_OK);
    cr_assert_eq(x, 2000000000000000000ULL);
    cr_assert_eq(clb_u256_from_hex("0x00ff", v), CLB_OK);
    cr_assert_eq(clb_u256_to_hex(v, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "0xff");
    cr_assert_eq(clb_u256_from_hex(
                     "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", v),
                 CLB_OK);
    cr_assert_eq(clb_u256_to_hex(v, s, sizeof(s)), CLB_OK);
    cr_assert_eq(strlen(s), 66);
    cr_assert_eq(clb_u256_to_hex(v, s, 66), CLB_EFULL);
    cr_assert_eq(clb_u256_from_hex(
                     "0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", v),
                 CLB_EPARSE);
    cr_assert_eq(clb_u256_from_hex("0x", v), CLB_EPARSE);
    cr_assert_eq(clb_u256_from_hex("12", v), CLB_EPARSE);
    cr_assert_eq(clb_u256_from_hex("0xg", v), CLB_EPARSE);
}

static u128 load128(const uint8_t v[32])
{
    u128 x = 0;
    for (int i = 16; i < 32; i++)
        x = (x << 8) | v[i];
    return x;
}

static void store128(uint8_t v[32], u128 x)
{
    memset(v, 0, 32);
    for (int i = 31; i >= 16; i--) {
        v[i] = (uint8_t)x;
        x >>= 8;
    }
}

/* Arithmetic against unsigned __int128 on values below 2^127 / 2^63. */
Test(uint256, arithmetic_against_int128)
{
    uint64_t seed = 42;
    for (int iter = 0; iter < 20000; iter++) {
        u128 a = ((u128)splitmix64(&seed) << 64 | splitmix64(&seed)) >> (1 + splitmix64(&seed) % 127);
        u128 b = ((u128)splitmix64(&seed) << 64 | splitmix64(&seed)) >> (1 + splitmix64(&seed) % 127);
        uint8_t va[32], vb[32], r[32], q[32], m[32];
        store128(va, a);
        store128(vb, b);
        cr_assert_eq(clb_u256_add(r, va, vb), CLB_OK);
        cr_assert(load128(r) == a + b);
        cr_assert_eq(clb_u256_cmp(va, vb), a < b ? -1 : a > b ? 1 : 0);
        int rc = clb_u256_sub(r, va, vb);
        if (a >= b) {
            cr_assert_eq(rc, CLB_OK);
            cr_assert(load128(r) == a - b);
        } else {
            cr_assert_eq(rc, CLB_EOVERFLOW);
        }
        uint64_t a64 = (uint64_t)a, b64 = (uint64_t)b;
        uint8_t x[32], y[32];
        clb_u256_from_u64(x, a64);
        clb_u256_from_u64(y, b64);
        cr_assert_eq(clb_u256_mul(r, x, y), CLB_OK);
        cr_assert(load128(r) == (u128)a64 * b64);
        if (b) {
            cr_assert_eq(clb_u256_divmod(q, m, va, vb), CLB_OK);
            cr_assert(load128(q) == a / b);
            cr_assert(load128(m) == a % b);
        } else {
            cr_assert_eq(clb_u256_divmod(q, m, va, vb), CLB_EINVAL);
        }
        /* mul_div: a64 * b64 / c64 */
        uint64_t c64 = splitmix64(&seed) >> (splitmix64(&seed) % 64);
        uint8_t z[32];
        clb_u256_from_u64(z, c64);
        if (c64) {
            cr_assert_eq(clb_u256_mul_div(r, x, y, z), CLB_OK);
            cr_assert(load128(r) == (u128)a64 * b64 / c64);
        } else {
            cr_assert_eq(clb_u256_mul_div(r, x, y, z), CLB_EINVAL);
        }
        /* decimal round trip */
        char s[CLB_U256_DEC_MAX];
        unsigned dec = (unsigned)(splitmix64(&seed) % 40);
        cr_assert_eq(clb_u256_to_dec(va, dec, s, sizeof(s)), CLB_OK);
        cr_assert_eq(clb_u256_from_dec(s, dec, r), CLB_OK);
        cr_assert_eq(memcmp(r, va, 32), 0, "%s", s);
        char h[CLB_U256_HEX_MAX];
        cr_assert_eq(clb_u256_to_hex(va, h, sizeof(h)), CLB_OK);
        cr_assert_eq(clb_u256_from_hex(h, r), CLB_OK);
        cr_assert_eq(memcmp(r, va, 32), 0);
    }
}

Test(uint256, wide_values)
{
    uint8_t max[32], one[32], two[32], r[32];
    u(max, MAX_DEC);
    u(one, "1");
    u(two, "2");
    cr_assert_eq(clb_u256_add(r, max, one), CLB_EOVERFLOW);
    cr_assert_eq(clb_u256_mul(r, max, two), CLB_EOVERFLOW);
    cr_assert_eq(clb_u256_mul_div(r, max, max, max), CLB_OK); /* 512-bit intermediate */
    cr_assert_eq(memcmp(r, max, 32), 0);
    cr_assert_eq(clb_u256_mul_div(r, max, two, one), CLB_EOVERFLOW);
    /* 2^128 * 2^127 = 2^255 */
    uint8_t a[32], b[32];
    u(a, "340282366920938463463374607431768211456");
    u(b, "170141183460469231731687303715884105728");
    cr_assert_eq(clb_u256_mul(r, a, b), CLB_OK);
    char s[CLB_U256_DEC_MAX];
    cr_assert_eq(clb_u256_to_dec(r, 0, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "57896044618658097711785492504343953926634992332820282019728792003956564819968");
    uint8_t q[32], m[32];
    cr_assert_eq(clb_u256_divmod(q, m, r, b), CLB_OK);
    cr_assert_eq(memcmp(q, a, 32), 0);
    cr_assert(clb_u256_is_zero(m));
    /* max / 10^18 */
    uint8_t e18[32];
    u(e18, "1000000000000000000");
    cr_assert_eq(clb_u256_divmod(q, m, max, e18), CLB_OK);
    cr_assert_eq(clb_u256_to_dec(q, 0, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "115792089237316195423570985008687907853269984665640564039457");
    cr_assert_eq(clb_u256_to_dec(m, 0, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "584007913129639935");
    /* slippage: 1000 * 9950 / 10000 */
    uint8_t amt[32], num[32], den[32];
    u(amt, "1000");
    u(num, "9950");
    u(den, "10000");
    cr_assert_eq(clb_u256_mul_div(r, amt, num, den), CLB_OK);
    cr_assert_eq(clb_u256_to_dec(r, 0, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "995");
}

/* ---- hex ---- */

Test(hex, encode_decode)
{
    uint8_t b[8];
    size_t n = 0;
    char s[32];
    cr_assert_eq(clb_hex_decode("0xDEADbeef", b, sizeof(b), &n), CLB_OK);
    cr_assert_eq(n, 4);
    cr_assert_eq(b[0], 0xde);
    cr_assert_eq(clb_hex_encode(b, n, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "0xdeadbeef");
    cr_assert_eq(clb_hex_encode(b, n, s, 10), CLB_EFULL);
    cr_assert_eq(clb_hex_decode("0x", b, sizeof(b), &n), CLB_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(clb_hex_decode("abc", b, sizeof(b), &n), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode("0xzz", b, sizeof(b), &n), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode("0x001122334455667788", b, sizeof(b), &n), CLB_EFULL);
    cr_assert_eq(clb_hex_decode_exact("0x0011", b, 2), CLB_OK);
    cr_assert_eq(clb_hex_decode_exact("0x0011", b, 3), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode_exact("001122", b, 3), CLB_OK);
}

/* ---- ABI ---- */

Test(abi, selectors)
{
    uint8_t sel[4];
    struct { const char *sig, *hex; } v[] = {
        { "transfer(address,uint256)", "0xa9059cbb" },
        { "balanceOf(address)", "0x70a08231" },
        { "approve(address,uint256)", "0x095ea7b3" },
        { "allowance(address,address)", "0xdd62ed3e" },
        { "getAmountsOut(uint256,address[])", "0xd06ca61f" },
        { "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)", "0x38ed1739" },
        { "decimals()", "0x313ce567" },
        { "symbol()", "0x95d89b41" },
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        clb_abi_selector(v[i].sig, sel);
        assert_hex(sel, 4, v[i].hex);
    }
}

/* The Solidity documentation's examples. */
Test(abi, solidity_doc_examples)
{
    uint8_t out[512];
    size_t n = 0;
    uint8_t v69[32], one[32];
    clb_u256_from_u64(v69, 69);
    struct clb_abi_arg a1[] = { clb_abi_arg_u256(v69), clb_abi_arg_bool(true) };
    cr_assert_eq(clb_abi_encode_call("baz(uint32,bool)", a1, 2, out, sizeof(out), &n), CLB_OK);
    assert_hex(out, n,
               "0xcdcd77c0"
               "0000000000000000000000000000000000000000000000000000000000000045"
               "0000000000000000000000000000000000000000000000000000000000000001");

    uint8_t arr[3][32];
    for (int i = 0; i < 3; i++)
        clb_u256_from_u64(arr[i], (uint64_t)i + 1);
    clb_u256_from_u64(one, 1);
    struct clb_abi_arg a2[] = { clb_abi_arg_bytes("dave", 4), clb_abi_arg_bool(true),
                                clb_abi_arg_u256_array((const uint8_t(*)[32])arr, 3) };
    cr_assert_eq(clb_abi_encode_call("sam(bytes,bool,uint256[])", a2, 3, out, sizeof(out), &n),
                 CLB_OK);
    assert_hex(out, n,
               "0xa5643bf2"
               "0000000000000000000000000000000000000000000000000000000000000060"
               "0000000000000000000000000000000000000000000000000000000000000001"
               "00000000000000000000000000000000000000000000000000000000000000a0"
               "0000000000000000000000000000000000000000000000000000000000000004"
               "6461766500000000000000000000000000000000000000000000000000000000"
               "0000000000000000000000000000000000000000000000000000000000000003"
               "0000000000000000000000000000000000000000000000000000000000000001"
               "0000000000000000000000000000000000000000000000000000000000000002"
               "0000000000000000000000000000000000000000000000000000000000000003");
    cr_assert_eq(clb_abi_encoded_len(a2, 3), n - 4);
    /* output too small, by one byte */
    cr_assert_eq(clb_abi_encode_call("sam(bytes,bool,uint256[])", a2, 3, out, n - 1, &n),
                 CLB_EFULL);
}

Test(abi, swap_call_and_signature_checks)
{
    uint8_t out[512], amt[32], min[32], dl[32], path[2][20], to[20];
    size_t n = 0;
    clb_u256_from_u64(amt, 1000);
    clb_u256_from_u64(min, 990);
    clb_u256_from_u64(dl, 1700000000);
    memset(path[0], 0x11, 20);
    memset(path[1], 0x22, 20);
    memset(to, 0x33, 20);
    struct clb_abi_arg a[] = { clb_abi_arg_u256(amt), clb_abi_arg_u256(min),
                               clb_abi_arg_address_array((const uint8_t(*)[20])path, 2),
                               clb_abi_arg_address(to), clb_abi_arg_u256(dl) };
    const char *sig = "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)";
    cr_assert_eq(clb_abi_encode_call(sig, a, 5, out, sizeof(out), &n), CLB_OK);
    cr_assert_eq(n, 4 + 32 * 5 + 32 * 3);
    /* the address[] offset is 0xa0, its length 2 */
    const uint8_t *body = out + 4;
    cr_assert_eq(body[2 * 32 + 31], 0xa0);
    cr_assert_eq(body[5 * 32 + 31], 2);
    uint8_t got[2][20];
    size_t cnt = 0;
    cr_assert_eq(clb_abi_decode_address_array(body, n - 4, 2, got, 2, &cnt), CLB_OK);
    cr_assert_eq(cnt, 2);
    cr_assert_eq(memcmp(got, path, 40), 0);
    uint8_t addr[20];
    cr_assert_eq(clb_abi_decode_address(body, n - 4, 3, addr), CLB_OK);
    cr_assert_eq(memcmp(addr, to, 20), 0);

    /* mismatched or malformed signatures */
    cr_assert_eq(clb_abi_encode_call("swapExactTokensForTokens(uint256,uint256,address,address,uint256)",
                                     a, 5, out, sizeof(out), &n), CLB_EINVAL);
    cr_assert_eq(clb_abi_encode_call("f(uint256,uint256)", a, 5, out, sizeof(out), &n), CLB_EINVAL);
    cr_assert_eq(clb_abi_encode_call("f(uint)", a, 1, out, sizeof(out), &n), CLB_EINVAL);
    cr_assert_eq(clb_abi_encode_call("f(uint7)", a, 1, out, sizeof(out), &n), CLB_EINVAL);
    cr_assert_eq(clb_abi_encode_call("f(uint264)", a, 1, out, sizeof(out), &n), CLB_EINVAL);
    cr_assert_eq(clb_abi_encode_call("f(uint256", a, 1, out, sizeof(out), &n), CLB_EINVAL);
    cr_assert_eq(clb_abi_encode_call("f(uint256)x", a, 1, out, sizeof(out), &n), CLB_EINVAL);
    cr_assert_eq(clb_abi_encode_call("f( uint256)", a, 1, out, sizeof(out), &n), CLB_EINVAL);
    cr_assert_eq(clb_abi_encode_call("(uint256)", a, 1, out, sizeof(out), &n), CLB_EINVAL);
    cr_assert_eq(clb_abi_encode_call("f(uint8)", a, 1, out, sizeof(out), &n), CLB_OK);
    cr_assert_eq(clb_abi_encode_call("decimals()", NULL, 0, out, sizeof(out), &n), CLB_OK);
    cr_assert_eq(n, 4);
    struct clb_abi_arg bad = clb_abi_arg_bytes(NULL, 5);
    cr_assert_eq(clb_abi_encode_call("f(bytes)", &bad, 1, out, sizeof(out), &n), CLB_EINVAL);
}

static void word(uint8_t *w, uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

Test(abi, decode_hostile)
{
    uint8_t d[256], v[4][32], o[32];
    size_t n = 0;
    char s[64];
    bool b;
    /* uint256[] with an offset past the end */
    word(d, 0x1000);
    cr_assert_eq(clb_abi_decode_u256_array(d, 32, 0, v, 4, &n), CLB_EPARSE);
    /* offset with high bits set */
    memset(d, 0xff, 32);
    cr_assert_eq(clb_abi_decode_u256_array(d, 32, 0, v, 4, &n), CLB_EPARSE);
    cr_assert_eq(clb_abi_decode_string(d, 32, 0, s, sizeof(s)), CLB_EPARSE);
    /* length larger than the data */
    word(d, 32);
    word(d + 32, 3);
    word(d + 64, 1);
    cr_assert_eq(clb_abi_decode_u256_array(d, 96, 0, v, 4, &n), CLB_EPARSE);
    word(d + 32, 0x7fffffffffffffffULL);
    cr_assert_eq(clb_abi_decode_u256_array(d, 96, 0, v, 4, &n), CLB_EPARSE);
    cr_assert_eq(clb_abi_decode_bytes(d, 96, 0, o, sizeof(o), &n), CLB_EPARSE);
    /* a valid one, and too many elements for the output */
    word(d + 32, 1);
    cr_assert_eq(clb_abi_decode_u256_array(d, 96, 0, v, 4, &n), CLB_OK);
    cr_assert_eq(n, 1);
    cr_assert_eq(v[0][31], 1);
    cr_assert_eq(clb_abi_decode_u256_array(d, 96, 0, v, 0, &n), CLB_EFULL);
    cr_assert_eq(n, 1);
    /* slot out of range; huge slot index must not overflow */
    cr_assert_eq(clb_abi_decode_u256(d, 96, 3, o), CLB_EPARSE);
    cr_assert_eq(clb_abi_decode_u256(d, 96, SIZE_MAX / 16, o), CLB_EPARSE);
    cr_assert_eq(clb_abi_decode_u256(d, 95, 2, o), CLB_EPARSE);
    cr_assert_eq(clb_abi_decode_u256(d, 96, 2, o), CLB_OK);
    /* addresses with dirty upper bytes, bools other than 0/1 */
    memset(d, 0, 32);
    d[0] = 1;
    uint8_t addr[20];
    cr_assert_eq(clb_abi_decode_address(d, 32, 0, addr), CLB_EPARSE);
    word(d, 2);
    cr_assert_eq(clb_abi_decode_bool(d, 32, 0, &b), CLB_EPARSE);
    word(d, 1);
    cr_assert_eq(clb_abi_decode_bool(d, 32, 0, &b), CLB_OK);
    cr_assert(b);
    /* strings: ok, NUL inside, too small an output */
    word(d, 32);
    word(d + 32, 3);
    memset(d + 64, 0, 32);
    memcpy(d + 64, "ETH", 3);
    cr_assert_eq(clb_abi_decode_string(d, 96, 0, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "ETH");
    cr_assert_eq(clb_abi_decode_string(d, 96, 0, s, 3), CLB_EFULL);
    cr_assert_eq(clb_abi_decode_string_or_bytes32(d, 96, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "ETH");
    d[65] = 0;
    cr_assert_eq(clb_abi_decode_string(d, 96, 0, s, sizeof(s)), CLB_EPARSE);
    /* bytes32 symbol (MKR style) */
    memset(d, 0, 32);
    memcpy(d, "MKR", 3);
    cr_assert_eq(clb_abi_decode_string_or_bytes32(d, 32, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "MKR");
    d[10] = 'x';
    cr_assert_eq(clb_abi_decode_string_or_bytes32(d, 32, s, sizeof(s)), CLB_EPARSE);
    /* NULL data */
    cr_assert_eq(clb_abi_decode_u256(NULL, 0, 0, o), CLB_EPARSE);
}

/* Random garbage into every decoder: must return cleanly (ASan watches). */
Test(abi, decode_fuzz)
{
    uint64_t seed = 99;
    uint8_t d[300], v[8][32], a[8][20], o[64];
    char s[64];
    for (int iter = 0; iter < 20000; iter++) {
        size_t len = splitmix64(&seed) % sizeof(d);
        rand_bytes(&seed, d, len);
        /* make offsets/lengths small often, so the deep paths run */
        for (size_t w = 0; w + 32 <= len; w += 32)
            if (splitmix64(&seed) % 2) {
                memset(d + w, 0, 31);
                d[w + 31] = (uint8_t)(splitmix64(&seed) % 200);
            }
        uint8_t *p = len ? malloc(len) : NULL; /* exact size for ASan */
        if (len)
            memcpy(p, d, len);
        size_t n, slot = splitmix64(&seed) % 10;
        bool b;
        (void)clb_abi_decode_u256(p, len, slot, o);
        (void)clb_abi_decode_address(p, len, slot, o);
        (void)clb_abi_decode_bool(p, len, slot, &b);
        (void)clb_abi_decode_u256_array(p, len, slot, v, 8, &n);
        (void)clb_abi_decode_address_array(p, len, slot, a, 8, &n);
        (void)clb_abi_decode_bytes(p, len, slot, o, sizeof(o), &n);
        (void)clb_abi_decode_string(p, len, slot, s, sizeof(s));
        (void)clb_abi_decode_string_or_bytes32(p, len, s, sizeof(s));
        (void)clb_abi_decode_revert(p, len, s, sizeof(s));
        free(p);
    }
    cr_assert(true);
}

Test(abi, round_trip_random)
{
    uint64_t seed = 5;
    static uint8_t out[8192];
    for (int iter = 0; iter < 2000; iter++) {
        uint8_t nums[6][32], addrs[6][20], x[32], ad[20], bytes[100];
        size_t nn = splitmix64(&seed) % 7, na = splitmix64(&seed) % 7;
        size_t nb = splitmix64(&seed) % 100;
        rand_bytes(&seed, (uint8_t *)nums, sizeof(nums));
        rand_bytes(&seed, (uint8_t *)addrs, sizeof(addrs));
        rand_bytes(&seed, x, 32);
        rand_bytes(&seed, ad, 20);
        for (size_t i = 0; i < nb; i++)
            bytes[i] = (uint8_t)('a' + splitmix64(&seed) % 26);
        bool flag = splitmix64(&seed) & 1;
        struct clb_abi_arg args[] = {
            clb_abi_arg_u256_array((const uint8_t(*)[32])nums, nn),
            clb_abi_arg_u256(x),
            clb_abi_arg_bytes(bytes, nb),
            clb_abi_arg_address(ad),
            clb_abi_arg_address_array((const uint8_t(*)[20])addrs, na),
            clb_abi_arg_bool(flag),
        };
        size_t n = 0;
        cr_assert_eq(clb_abi_encode(args, 6, out, sizeof(out), &n), CLB_OK);
        uint8_t gn[6][32], ga[6][20], gx[32], gad[20], gb[100];
        size_t cnt;
        bool gf;
        cr_assert_eq(clb_abi_decode_u256_array(out, n, 0, gn, 6, &cnt), CLB_OK);
        cr_assert_eq(cnt, nn);
        cr_assert_eq(memcmp(gn, nums, 32 * nn), 0);
        cr_assert_eq(clb_abi_decode_u256(out, n, 1, gx), CLB_OK);
        cr_assert_eq(memcmp(gx, x, 32), 0);
        cr_assert_eq(clb_abi_decode_bytes(out, n, 2, gb, sizeof(gb), &cnt), CLB_OK);
        cr_assert_eq(cnt, nb);
        cr_assert_eq(memcmp(gb, bytes, nb), 0);
        char str[101];
        cr_assert_eq(clb_abi_decode_string(out, n, 2, str, sizeof(str)), CLB_OK);
        cr_assert_eq(strlen(str), nb);
        cr_assert_eq(clb_abi_decode_address(out, n, 3, gad), CLB_OK);
        cr_assert_eq(memcmp(gad, ad, 20), 0);
        cr_assert_eq(clb_abi_decode_address_array(out, n, 4, ga, 6, &cnt), CLB_OK);
        cr_assert_eq(cnt, na);
        cr_assert_eq(memcmp(ga, addrs, 20 * na), 0);
        cr_assert_eq(clb_abi_decode_bool(out, n, 5, &gf), CLB_OK);
        cr_assert_eq(gf, flag);
    }
}

Test(abi, revert_reasons)
{
    uint8_t d[200];
    char s[64];
    /* Error("UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT") built by the encoder */
    const char *msg = "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT";
    struct clb_abi_arg a = clb_abi_arg_string(msg);
    size_t n = 0;
    cr_assert_eq(clb_abi_encode_call("Error(string)", &a, 1, d, sizeof(d), &n), CLB_OK);
    assert_hex(d, 4, "0x08c379a0");
    cr_assert_eq(clb_abi_decode_revert(d, n, s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, msg);
    cr_assert_eq(clb_abi_decode_revert(d, n, s, 8), CLB_OK); /* truncated */
    cr_assert_str_eq(s, "Uniswap");
    uint8_t p[36];
    memcpy(p, "\x4e\x48\x7b\x71", 4);
    word(p + 4, 0x11);
    cr_assert_eq(clb_abi_decode_revert(p, sizeof(p), s, sizeof(s)), CLB_OK);
    cr_assert_str_eq(s, "panic 0x11");
    cr_assert_eq(clb_abi_decode_revert(p, 3, s, sizeof(s)), CLB_ENOTFOUND);
    cr_assert_str_eq(s, "");
    cr_assert_eq(clb_abi_decode_revert(d, 40, s, sizeof(s)), CLB_ENOTFOUND);
}

/* ---- keys, addresses, signatures ---- */

static const char *K46 = "0x4646464646464646464646464646464646464646464646464646464646464646";

Test(eth, address_from_key)
{
    uint8_t key[32], addr[20];
    char text[CLB_ETH_ADDR_TEXT];
    cr_assert_eq(clb_hex_decode_exact(K46, key, 32), CLB_OK);
    cr_assert_eq(clb_eth_address_from_key(key, addr), CLB_OK);
    clb_eth_address_format(addr, text);
    cr_assert_str_eq(text, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
    /* private key 1 -> the generator's address */
    memset(key, 0, 32);
    key[31] = 1;
    cr_assert_eq(clb_eth_address_from_key(key, addr), CLB_OK);
    clb_eth_address_format(addr, text);
    cr_assert_str_eq(text, "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf");
    /* invalid keys */
    memset(key, 0, 32);
    cr_assert_eq(clb_eth_address_from_key(key, addr), CLB_EINVAL);
    memset(key, 0xff, 32);
    cr_assert(!clb_eth_key_valid(key));
    cr_assert_eq(clb_eth_address_from_key(key, addr), CLB_EINVAL);
}

Test(eth, eip55)
{
    static const char *good[] = {
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    };
    uint8_t a[20];
    char t[CLB_ETH_ADDR_TEXT];
    for (size_t i = 0; i < 4; i++) {
        cr_assert_eq(clb_eth_address_parse(good[i], a), CLB_OK);
        clb_eth_address_format(a, t);
        cr_assert_str_eq(t, good[i]);
    }
    cr_assert_eq(clb_eth_address_parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", a), CLB_OK);
    cr_assert_eq(clb_eth_address_parse("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED", a), CLB_OK);
    cr_assert_eq(clb_eth_address_parse("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD", a),
                 CLB_EPARSE); /* checksum broken */
    cr_assert_eq(clb_eth_address_parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea", a), CLB_EPARSE);
    cr_assert_eq(clb_eth_address_parse("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00", a), CLB_EPARSE);
    cr_assert_eq(clb_eth_address_parse("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg", a), CLB_EPARSE);
    cr_assert_eq(clb_eth_address_parse(NULL, a), CLB_EPARSE);
}

static const uint8_t SECP_N[32] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
    0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
};

Test(eth, sign_recover_low_s_deterministic)
{
    uint64_t seed = 3;
    uint8_t half[32], two[32];
    clb_u256_from_u64(two, 2);
    cr_assert_eq(clb_u256_divmod(half, NULL, SECP_N, two), CLB_OK);
    for (int iter = 0; iter < 200; iter++) {
        uint8_t key[32], hash[32], addr[20], rec[20], sig[65], sig2[65];
        do
            rand_bytes(&seed, key, 32);
        while (!clb_eth_key_valid(key));
        rand_bytes(&seed, hash, 32);
        cr_assert_eq(clb_eth_address_from_key(key, addr), CLB_OK);
        cr_assert_eq(clb_eth_sign_hash(key, hash, sig), CLB_OK);
        cr_assert_eq(clb_eth_sign_hash(key, hash, sig2), CLB_OK);
        cr_assert_eq(memcmp(sig, sig2, 65), 0, "RFC 6979 is deterministic");
        cr_assert(sig[64] <= 1);
        cr_assert_leq(clb_u256_cmp(sig + 32, half), 0, "low s");
        cr_assert_eq(clb_eth_recover(hash, sig, rec), CLB_OK);
        cr_assert_eq(memcmp(rec, addr, 20), 0);
        /* the malleable twin (n - s, flipped parity) is refused */
        uint8_t hi[65];
        memcpy(hi, sig, 65);
        cr_assert_eq(clb_u256_sub(hi + 32, SECP_N, sig + 32), CLB_OK);
        hi[64] ^= 1;
        cr_assert_eq(clb_eth_recover(hash, hi, rec), CLB_EINVAL);
        /* another hash recovers someone else */
        hash[0] ^= 1;
        if (clb_eth_recover(hash, sig, rec) == CLB_OK)
            cr_assert_neq(memcmp(rec, addr, 20), 0);
    }
    uint8_t sig[65] = { 0 }, h[32] = { 0 }, a[20];
    sig[64] = 2;
    cr_assert_eq(clb_eth_recover(h, sig, a), CLB_EINVAL);
}

/* ---- transactions ---- */

static void tx_hex(const struct clb_eth_tx *tx, const uint8_t key[32], char *out, size_t cap,
                   uint8_t hash[32])
{
    uint8_t raw[1024];
    size_t n = 0;
    cr_assert_eq(clb_eth_tx_sign(tx, key, raw, sizeof(raw), &n, hash), CLB_OK);
    hex_of(raw, n, out, cap);
}

Test(eth_tx, eip155_example)
{
    uint8_t key[32], hash[32], from[20], want_from[20];
    cr_assert_eq(clb_hex_decode_exact(K46, key, 32), CLB_OK);
    struct clb_eth_tx tx = {
        .type = CLB_ETH_TX_LEGACY, .chain_id = 1, .nonce = 9, .gas_price = 20000000000ULL,
        .gas_limit = 21000,
    };
    memset(tx.to, 0x35, 20);
    cr_assert_eq(clb_u256_from_dec("1", 18, tx.value), CLB_OK);
    /* the signing payload's hash, as given in EIP-155 */
    uint8_t sh[32];
    cr_assert_eq(clb_eth_tx_signing_hash(&tx, sh), CLB_OK);
    assert_hex(sh, 32, "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53");
    char out[1024];
    tx_hex(&tx, key, out, sizeof(out), hash);
    cr_assert_str_eq(out, "0xf86c098504a817c800825208943535353535353535353535353535353535353535"
                          "880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff"
                          "63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b29"
                          "7fb1966a3b6d83");
    /* the tx hash is keccak(raw) */
    uint8_t raw[200], h2[32];
    size_t n = unhex(out, raw, sizeof(raw));
    clb_keccak256(raw, n, h2);
    cr_assert_eq(memcmp(hash, h2, 32), 0);
    /* sender and chain recovered from the raw bytes */
    uint64_t chain = 0;
    cr_assert_eq(clb_eth_tx_sender(raw, n, from, &chain), CLB_OK);
    cr_assert_eq(clb_eth_address_from_key(key, want_from), CLB_OK);
    cr_assert_eq(memcmp(from, want_from, 20), 0);
    cr_assert_eq(chain, 1);
    /* a flipped bit in the payload gives another sender (or none) */
    raw[5] ^= 1;
    if (clb_eth_tx_sender(raw, n, from, &chain) == CLB_OK)
        cr_assert_neq(memcmp(from, want_from, 20), 0);
}

/* ethereumjs's eip1559.json vectors (as used by MEW's wallet kits). */
struct v1559 {
    uint64_t nonce, value, prio, max_fee, gas;
    const char *raw;
    const char *hash; /* NULL when not given */
};

static const struct v1559 ejs[] = {
    { 819, 43203529, 75853, 121212, 35552,
      "0x02f870821e8e8203338301284d8301d97c828ae094000000000000000000000000000000000000aaaa8402"
      "933bc980c080a0d067f2167008c59219652f91cbf8788dbca5f771f6e91e2b7657e85b78b472e0a01d305af9"
      "fe81fdba43f0dfcd400ed24dcace0a7e30d4e85701dcaaf484cd079e",
      "0xa3bf78ff247cad934aa5fb13e05f11e59c93511523ff8a622e59c3a34700e5c8" },
    { 353, 61901619, 38850, 136295, 32593,
      "0x02f86f821e8e8201618297c283021467827f5194000000000000000000000000000000000000aaaa8403b0"
      "8b3380c001a004205678f13fc1d7b10feea6513dfa76e24418b6e08097d95c6f93a3b64e536da01d45ad61bf"
      "ece43862de2cce7d2575a8c1d08c26c87f3cb5f26d7b0be54a91b2",
      NULL },
    { 985, 32531825, 66377, 136097, 68541,
      "0x02f871821e8e8203d983010349830213a183010bbd94000000000000000000000000000000000000aaaa84"
      "01f0657180c001a0e6d23c5ecc0f388a4d41a9523c3ad171e98083a61288c340b968dfe0903a6741a07319e8"
      "d54a4fd8f0c081d3ce093d869f9df598481991c8534bfd8f2c163884b4",
      NULL },
    { 119, 65456115, 24721, 107729, 62341,
      "0x02f86d821e8e778260918301a4d182f38594000000000000000000000000000000000000aaaa8403e6c7f3"
      "80c001a0e38e239770801eb995498c821e55ac9c19ae09184bb27b34be105e02fe3b7615a067c64ca6bd6d91"
      "07e85fd581ab2e70a14b637eb36505bb40861ef9d6e800cab6",
      NULL },
};

Test(eth_tx, eip1559_ethereumjs_vectors)
{
    uint8_t key[32], addr[20], from[20], hash[32];
    cr_assert_eq(clb_hex_decode_exact(
                     "0x8f2a55949038a9610f50fb23b5883af3b4ecb3c3bb792cbcefbd1542c692be63", key, 32),
                 CLB_OK);
    cr_assert_eq(clb_eth_address_from_key(key, addr), CLB_OK);
    for (size_t i = 0; i < sizeof(ejs) / sizeof(ejs[0]); i++) {
        struct clb_eth_tx tx = {
            .type = CLB_ETH_TX_EIP1559, .chain_id = 7822, .nonce = ejs[i].nonce,
            .max_priority_fee = ejs[i].prio, .max_fee = ejs[i].max_fee, .gas_limit = ejs[i].gas,
        };
        memset(tx.to, 0, 20);
        tx.to[18] = 0xaa;
        tx.to[19] = 0xaa;
        clb_u256_from_u64(tx.value, ejs[i].value);
        char out[1024];
        tx_hex(&tx, key, out, sizeof(out), hash);
        cr_assert_str_eq(out, ejs[i].raw, "vector %zu", i);
        if (ejs[i].hash)
            assert_hex(hash, 32, ejs[i].hash);
        uint8_t raw[300];
        size_t n = unhex(out, raw, sizeof(raw));
        uint64_t chain = 0;
        cr_assert_eq(clb_eth_tx_sender(raw, n, from, &chain), CLB_OK);
        cr_assert_eq(memcmp(from, addr, 20), 0);
        cr_assert_eq(chain, 7822);
    }
}

/* MEW's "real transaction": chain 123, a self-transfer of 0.1 ether. */
Test(eth_tx, eip1559_real_transaction)
{
    uint8_t key[32], hash[32];
    cr_assert_eq(clb_hex_decode_exact(
                     "e3046226c9d5f6b7fda49b00123fe96ab2fac359315f27169b5c984059b3540f", key, 32),
                 CLB_OK);
    struct clb_eth_tx tx = {
        .type = CLB_ETH_TX_EIP1559, .chain_id = 123, .nonce = 0, .max_priority_fee = 7,
        .max_fee = 7, .gas_limit = 21000,
    };
    cr_assert_eq(clb_eth_address_from_key(key, tx.to), CLB_OK);
    cr_assert_eq(clb_u256_from_dec("0.1", 18, tx.value), CLB_OK);
    char out[1024];
    tx_hex(&tx, key, out, sizeof(out), hash);
    cr_assert_str_eq(out, "0x02f86a7b8007078252089461fac28c810253ea3a42ebbb1a5cf8687765e4ee880163"
                          "45785d8a000080c001a01f75fb4ae321bb55c0e7569d940ce133e775fb4494500ac6de"
                          "9aeb16f45f20d1a05bf9b98c50422e3ada79a6920b1007bc36a1c36d178dbc1b44dfbd"
                          "97fc56cf13");
    assert_hex(hash, 32, "0xbe76a9ae424fe7a42da7db0f42db0ced82929710d9c19cfdaa7e18c634e6ae54");
}

/* Random transactions of both types, with data and contract creation:
 * the sender recovered from the raw bytes is the signer. */
Test(eth_tx, random_sign_and_recover)
{
    uint64_t seed = 11;
    static uint8_t data[3000], raw[4000];
    for (int iter = 0; iter < 100; iter++) {
        uint8_t key[32], addr[20], from[20], hash[32];
        do
            rand_bytes(&seed, key, 32);
        while (!clb_eth_key_valid(key));
        cr_assert_eq(clb_eth_address_from_key(key, addr), CLB_OK);
        struct clb_eth_tx tx = {
            .type = iter % 2 ? CLB_ETH_TX_EIP1559 : CLB_ETH_TX_LEGACY,
            .chain_id = 1 + splitmix64(&seed) % 100000,
            .nonce = splitmix64(&seed) >> (splitmix64(&seed) % 64),
            .gas_price = splitmix64(&seed) >> 20,
            .max_fee = splitmix64(&seed) >> 20,
            .max_priority_fee = splitmix64(&seed) >> 30,
            .gas_limit = 21000 + splitmix64(&seed) % 1000000,
            .create = splitmix64(&seed) % 5 == 0,
            .data = data,
            .data_len = splitmix64(&seed) % sizeof(data),
        };
        rand_bytes(&seed, tx.to, 20);
        rand_bytes(&seed, tx.value, 32);
        tx.value[0] = 0;
        rand_bytes(&seed, data, tx.data_len);
        size_t n = 0;
        cr_assert_eq(clb_eth_tx_sign(&tx, key, raw, CLB_ETH_TX_RAW_MAX(tx.data_len), &n, hash),
                     CLB_OK);
        uint64_t chain = 0;
        cr_assert_eq(clb_eth_tx_sender(raw, n, from, &chain), CLB_OK);
        cr_assert_eq(memcmp(from, addr, 20), 0);
        cr_assert_eq(chain, tx.chain_id);
        /* too small an output: refused, untouched length */
        size_t n2 = 12345;
        cr_assert_eq(clb_eth_tx_sign(&tx, key, raw, n - 1, &n2, NULL), CLB_EFULL);
        cr_assert_eq(n2, 12345);
        /* every truncation of the raw transaction is rejected */
        for (size_t cut = 0; cut < n; cut += 1 + n / 50)
            cr_assert_neq(clb_eth_tx_sender(raw, cut, from, &chain), CLB_OK);
    }
}

Test(eth_tx, invalid_fields)
{
    uint8_t key[32], raw[512], h[32];
    size_t n = 0;
    cr_assert_eq(clb_hex_decode_exact(K46, key, 32), CLB_OK);
    struct clb_eth_tx ok = { .type = CLB_ETH_TX_EIP1559, .chain_id = 1, .gas_limit = 21000 };
    cr_assert_eq(clb_eth_tx_sign(&ok, key, raw, sizeof(raw), &n, h), CLB_OK);
    struct clb_eth_tx t = ok;
    t.chain_id = 0;
    cr_assert_eq(clb_eth_tx_sign(&t, key, raw, sizeof(raw), &n, h), CLB_EINVAL);
    t = ok;
    t.gas_limit = 0;
    cr_assert_eq(clb_eth_tx_sign(&t, key, raw, sizeof(raw), &n, h), CLB_EINVAL);
    t = ok;
    t.type = (enum clb_eth_tx_type)1;
    cr_assert_eq(clb_eth_tx_sign(&t, key, raw, sizeof(raw), &n, h), CLB_EINVAL);
    t = ok;
    t.data_len = 5;
    cr_assert_eq(clb_eth_tx_sign(&t, key, raw, sizeof(raw), &n, h), CLB_EINVAL);
    t = ok;
    t.type = CLB_ETH_TX_LEGACY;
    t.chain_id = UINT64_MAX / 2;
    cr_assert_eq(clb_eth_tx_sign(&t, key, raw, sizeof(raw), &n, h), CLB_EINVAL);
    uint8_t zero[32] = { 0 };
    cr_assert_eq(clb_eth_tx_sign(&ok, zero, raw, sizeof(raw), &n, h), CLB_EINVAL);
    /* sender: other types and garbage */
    uint8_t from[20];
    uint8_t t1[] = { 0x01, 0xc0 };
    cr_assert_eq(clb_eth_tx_sender(t1, 2, from, NULL), CLB_EUNSUPPORTED);
    uint8_t g[] = { 0x02, 0xc0 };
    cr_assert_eq(clb_eth_tx_sender(g, 2, from, NULL), CLB_EPARSE);
    cr_assert_eq(clb_eth_tx_sender(g, 0, from, NULL), CLB_EPARSE);
}

/* Bit flips and random bytes into the raw-transaction reader: errors or
 * some other sender, never a crash or an over-read (ASan). */
Test(eth_tx, sender_mutation_fuzz)
{
    uint64_t seed = 77;
    uint8_t key[32], addr[20], from[20], data[64];
    cr_assert_eq(clb_hex_decode_exact(K46, key, 32), CLB_OK);
    cr_assert_eq(clb_eth_address_from_key(key, addr), CLB_OK);
    rand_bytes(&seed, data, sizeof(data));
    for (int type = 0; type <= 2; type += 2) {
        struct clb_eth_tx tx = { .type = (enum clb_eth_tx_type)type, .chain_id = 31337,
                                 .nonce = 5, .gas_price = 1000, .max_fee = 2000,
                                 .max_priority_fee = 10, .gas_limit = 100000, .data = data,
                                 .data_len = sizeof(data) };
        uint8_t raw[512];
        size_t n = 0;
        cr_assert_eq(clb_eth_tx_sign(&tx, key, raw, sizeof(raw), &n, NULL), CLB_OK);
        for (int iter = 0; iter < 3000; iter++) {
            uint8_t *m = malloc(n);
            memcpy(m, raw, n);
            int flips = 1 + (int)(splitmix64(&seed) % 3);
            for (int f = 0; f < flips; f++)
                m[splitmix64(&seed) % n] ^= (uint8_t)(1u << (splitmix64(&seed) % 8));
            uint64_t chain = 0;
            if (clb_eth_tx_sender(m, n, from, &chain) == CLB_OK && memcmp(m, raw, n) != 0)
                cr_assert(memcmp(from, addr, 20) != 0,
                          "a changed transaction still recovers the signer");
            free(m);
        }
    }
    for (int iter = 0; iter < 3000; iter++) {
        size_t n = 1 + splitmix64(&seed) % 200;
        uint8_t *m = malloc(n);
        rand_bytes(&seed, m, n);
        if (iter % 2)
            m[0] = iter % 4 == 1 ? 0x02 : (uint8_t)(0xc0 + splitmix64(&seed) % 64);
        (void)clb_eth_tx_sender(m, n, from, NULL);
        struct clb_rlp_item it;
        size_t used;
        if (clb_rlp_decode(m, n, &it, &used) == CLB_OK) {
            cr_assert_leq(used, n);
            cr_assert(it.p >= m && it.p + it.len <= m + n);
        }
        free(m);
    }
}
