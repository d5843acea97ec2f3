/*
 * Property tests of the gateway's exact amount arithmetic (static
 * functions of server/gateway/gateway.c, reached by including the file):
 * price_of (quote per base, 18 decimals, rounded down) and quote_for (quote
 * amount for a base amount at a price, rounded down) against a naive
 * reference in unsigned __int128, over random decimals and amounts with a
 * fixed seed; plus the slippage bound and hand-picked cases.
 */
#include "../../server/gateway/gateway.c"

#include <criterion/criterion.h>

__extension__ typedef unsigned __int128 u128;

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void from_u128(u128 x, uint8_t out[32])
{
    memset(out, 0, 32);
    for (int i = 31; i >= 16; i--) {
        out[i] = (uint8_t)(x & 0xff);
        x >>= 8;
    }
}

static u128 to_u128(const uint8_t v[32])
{
    u128 x = 0;
    for (int i = 0; i < 16; i++)
        cr_assert_eq(v[i], 0, "value above 2^128");
    for (int i = 16; i < 32; i++)
        x = (x << 8) | v[i];
    return x;
}

static u128 pow10_128(unsigned e)
{
    u128 x = 1;
    while (e--)
        x *= 10;
    return x;
}

Test(gateway_math, price_of_matches_reference)
{
    uint64_t seed = 42;
    for (int it = 0; it < 20000; it++) {
        unsigned bd = (unsigned)(splitmix64(&seed) % 19);
        unsigned qd = (unsigned)(splitmix64(&seed) % 19);
        /* p = bd + 18 - qd in [0, 36]: keep quote * 10^p below 2^127 */
        int p = (int)bd + 18 - (int)qd;
        int room = 126 - (p * 10 + 2) / 3; /* bits left beside 10^p (< 2^(3.33 p)) */
        unsigned qbits = room > 60 ? 60 : room < 1 ? 1 : (unsigned)room;
        uint64_t q = splitmix64(&seed) >> (64 - qbits);
        uint64_t b = (splitmix64(&seed) >> (splitmix64(&seed) % 63)) | 1;
        uint8_t qr[32], br[32], out[32];
        from_u128(q, qr);
        from_u128(b, br);
        cr_assert_eq(price_of(br, bd, qr, qd, out), CLB_OK);
        u128 want = (u128)q * pow10_128((unsigned)p) / b;
        cr_assert(to_u128(out) == want, "it %d: bd %u qd %u q %llu b %llu", it, bd, qd,
                  (unsigned long long)q, (unsigned long long)b);
    }
}

Test(gateway_math, quote_for_matches_reference_and_never_exceeds)
{
    uint64_t seed = 7;
    for (int it = 0; it < 20000; it++) {
        unsigned bd = (unsigned)(splitmix64(&seed) % 19);
        unsigned qd = (unsigned)(splitmix64(&seed) % 19);
        int p = (int)bd + 18 - (int)qd;
        uint64_t b = splitmix64(&seed) >> 8;          /* base amount, raw */
        uint64_t price = splitmix64(&seed) >> 12;     /* 18 decimals */
        uint8_t br[32], pr[32], out[32];
        from_u128(b, br);
        from_u128(price, pr);
        cr_assert_eq(quote_for(br, bd, pr, qd, out), CLB_OK);
        u128 prod = (u128)b * price; /* < 2^108 */
        u128 want = prod / pow10_128((unsigned)p);
        cr_assert(to_u128(out) == want, "it %d", it);
        /* round trip: the price of (b, quote_for(b, price)) is at most price */
        if (b > 0 && want > 0) {
            uint8_t back[32];
            cr_assert_eq(price_of(br, bd, out, qd, back), CLB_OK);
            cr_assert(to_u128(back) <= (u128)price, "it %d: price rose", it);
        }
    }
}

Test(gateway_math, hand_picked)
{
    uint8_t a[32], q[32], out[32];
    char t[CLB_U256_DEC_MAX];
    /* 10 TKA (18 dec) for 19.5 USDC (6 dec): 1.95 */
    clb_u256_from_dec("10", 18, a);
    clb_u256_from_dec("19.5", 6, q);
    cr_assert_eq(price_of(a, 18, q, 6, out), CLB_OK);
    dec_str(out, 18, t);
    cr_assert_str_eq(t, "1.95");
    /* 3 units for 1: 0.333... rounded down at 18 digits */
    clb_u256_from_dec("3", 0, a);
    clb_u256_from_dec("1", 0, q);
    cr_assert_eq(price_of(a, 0, q, 0, out), CLB_OK);
    dec_str(out, 18, t);
    cr_assert_str_eq(t, "0.333333333333333333");
    /* 2.5 base (8 dec) at 1.9 quote/base (18 dec quote): 4.75 */
    clb_u256_from_dec("2.5", 8, a);
    clb_u256_from_dec("1.9", 18, q);
    cr_assert_eq(quote_for(a, 8, q, 18, out), CLB_OK);
    dec_str(out, 18, t);
    cr_assert_str_eq(t, "4.75");
    /* p < 0: a 0-decimal base priced in a 30-decimal quote */
    clb_u256_from_dec("4", 0, a);
    clb_u256_from_dec("2", 30, q);
    cr_assert_eq(price_of(a, 0, q, 30, out), CLB_OK);
    dec_str(out, 18, t);
    cr_assert_str_eq(t, "0.5");
    cr_assert_eq(quote_for(a, 0, out, 30, q), CLB_OK);
    dec_str(q, 30, t);
    cr_assert_str_eq(t, "2");
    /* a zero base amount cannot be priced */
    memset(a, 0, 32);
    cr_assert_neq(price_of(a, 18, q, 18, out), CLB_OK);
}

Test(gateway_math, config_rpc_url_policy)
{
    cr_assert(rpc_url_ok("https://mainnet.example/v3/key"));
    cr_assert(rpc_url_ok("http://127.0.0.1:8545"));
    cr_assert(rpc_url_ok("http://localhost:8545"));
    cr_assert(rpc_url_ok("http://localhost"));
    cr_assert(rpc_url_ok("http://[::1]:8545"));
    cr_assert_not(rpc_url_ok("http://localhost.evil.example:8545"));
    cr_assert_not(rpc_url_ok("http://10.0.0.1:8545"));
    cr_assert_not(rpc_url_ok("ws://127.0.0.1:8545"));
    cr_assert_not(rpc_url_ok("https://"));
}

Test(gateway_math, nonce_slots_are_per_address_and_bounded)
{
    struct gw_net *n = calloc(1, sizeof(*n));
    cr_assert_not_null(n);
    uint8_t a[20] = { 1 }, b[20] = { 2 };
    struct nonce_slot *sa = nonce_slot(n, a);
    memcpy(sa->addr, a, 20);
    sa->used = true;
    sa->next = 5;
    struct nonce_slot *sb = nonce_slot(n, b);
    cr_assert_neq(sa, sb);
    cr_assert_not(sb->used);
    cr_assert_eq(nonce_slot(n, a), sa);
    cr_assert_eq(nonce_slot(n, a)->next, 5);
    /* fill every slot: a new address evicts one (which re-reads the node) */
    for (int i = 0; i < MAX_NONCE_SLOTS + 5; i++) {
        uint8_t x[20] = { 0 };
        x[0] = 0xee;
        x[18] = (uint8_t)i;
        x[19] = (uint8_t)(i * 7);
        struct nonce_slot *s = nonce_slot(n, x);
        cr_assert(s >= n->nonces && s < n->nonces + MAX_NONCE_SLOTS);
        memcpy(s->addr, x, 20);
        s->used = true;
        s->next = (uint64_t)i;
    }
    size_t used = 0;
    for (size_t i = 0; i < MAX_NONCE_SLOTS; i++)
        used += n->nonces[i].used;
    cr_assert_eq(used, MAX_NONCE_SLOTS);
    free(n);
}

Test(gateway_math, status_hides_the_rpc_url_path_and_credentials)
{
    char out[CLB_RPC_URL_MAX];
    redacted_url("https://mainnet.example/v3/0123secretkey", out, sizeof(out));
    cr_assert_str_eq(out, "https://mainnet.example/...");
    redacted_url("https://user:pw@node.example:8545/?k=1", out, sizeof(out));
    cr_assert_str_eq(out, "https://node.example:8545/...");
    redacted_url("http://127.0.0.1:8545", out, sizeof(out));
    cr_assert_str_eq(out, "http://127.0.0.1:8545");
}
