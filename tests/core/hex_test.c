/*
 * Tests of core/hex: a round-trip property test over random byte strings
 * (encode, decode in both forms and both cases, against the input and a
 * naive reference encoder), plus hand-picked good and bad inputs.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "hex.h"

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Naive reference: snprintf per byte. */
static void ref_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    out[2 * n] = '\0';
}

Test(core_hex, round_trip_property)
{
    uint64_t seed = 42;
    uint8_t in[200], back[200];
    char enc[2 * 200 + 3], bare[2 * 200 + 1], ref[2 * 200 + 1], upper[2 * 200 + 3];
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = (size_t)(splitmix64(&seed) % 201);
        for (size_t i = 0; i < n; i++)
            in[i] = (uint8_t)splitmix64(&seed);
        ref_hex(in, n, ref);
        cr_assert_eq(clb_hex_encode(in, n, enc, sizeof(enc)), CLB_OK);
        cr_assert_eq(clb_hex_encode_bare(in, n, bare, 2 * n + 1), CLB_OK);
        cr_assert(enc[0] == '0' && enc[1] == 'x');
        cr_assert_str_eq(enc + 2, ref);
        cr_assert_str_eq(bare, ref);
        size_t got = 999;
        memset(back, 0xAA, sizeof(back));
        cr_assert_eq(clb_hex_decode(enc, back, n, &got), CLB_OK);
        cr_assert_eq(got, n);
        cr_assert(memcmp(back, in, n) == 0);
        memset(back, 0xAA, sizeof(back));
        cr_assert_eq(clb_hex_decode_exact(bare, back, n), CLB_OK);
        cr_assert(memcmp(back, in, n) == 0);
        memset(back, 0xAA, sizeof(back));
        cr_assert_eq(clb_hex_decode_lower(bare, back, n), CLB_OK);
        cr_assert(memcmp(back, in, n) == 0);
        /* Uppercase: the general decoders accept it, the strict one not. */
        strcpy(upper, enc);
        int has_letter = 0;
        for (size_t i = 0; upper[i]; i++)
            if (upper[i] >= 'a' && upper[i] <= 'f') {
                upper[i] = (char)(upper[i] - 'a' + 'A');
                has_letter = 1;
            }
        upper[1] = 'X';
        cr_assert_eq(clb_hex_decode_exact(upper, back, n), CLB_OK);
        cr_assert(memcmp(back, in, n) == 0);
        cr_assert_eq(clb_hex_decode_lower(upper + 2, back, n),
                     has_letter ? CLB_EPARSE : CLB_OK);
        /* One byte too small a buffer. */
        if (n > 0) {
            cr_assert_eq(clb_hex_decode(enc, back, n - 1, &got), CLB_EFULL);
            cr_assert_eq(clb_hex_decode_exact(enc, back, n - 1), CLB_EPARSE);
            cr_assert_eq(clb_hex_encode(in, n, enc, 2 * n + 2), CLB_EFULL);
            cr_assert_str_eq(enc, "");
            cr_assert_eq(clb_hex_encode_bare(in, n, bare, 2 * n), CLB_EFULL);
            cr_assert_str_eq(bare, "");
        }
    }
}

Test(core_hex, known_values)
{
    const uint8_t b[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
    char out[32];
    cr_assert_eq(clb_hex_encode(b, sizeof(b), out, sizeof(out)), CLB_OK);
    cr_assert_str_eq(out, "0x00017f80abff");
    cr_assert_eq(clb_hex_encode_bare(b, sizeof(b), out, sizeof(out)), CLB_OK);
    cr_assert_str_eq(out, "00017f80abff");
    cr_assert_eq(clb_hex_encode(NULL, 0, out, 3), CLB_OK);
    cr_assert_str_eq(out, "0x");
    uint8_t d[8];
    size_t n = 99;
    cr_assert_eq(clb_hex_decode("0x", d, sizeof(d), &n), CLB_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(clb_hex_decode("", d, sizeof(d), &n), CLB_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(clb_hex_decode("DeadBEEF", d, sizeof(d), &n), CLB_OK);
    cr_assert_eq(n, 4);
    cr_assert(d[0] == 0xde && d[1] == 0xad && d[2] == 0xbe && d[3] == 0xef);
    cr_assert_eq(clb_hex_digit('7'), 7);
    cr_assert_eq(clb_hex_digit('F'), 15);
    cr_assert_eq(clb_hex_digit('g'), -1);
}

Test(core_hex, bad_input)
{
    uint8_t d[8];
    memset(d, 0x55, sizeof(d));
    size_t n = 77;
    const char *bad[] = { "0x0", "abc", "0xzz", "12 4", "0x12g4", "-1", "0x0x12", "12\n" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(clb_hex_decode(bad[i], d, sizeof(d), &n), CLB_EPARSE, "%s", bad[i]);
        cr_assert_eq(clb_hex_decode_exact(bad[i], d, 2), CLB_EPARSE, "%s", bad[i]);
    }
    /* Failures leave the output and the length untouched. */
    cr_assert_eq(n, 77);
    for (size_t i = 0; i < sizeof(d); i++)
        cr_assert_eq(d[i], 0x55);
    cr_assert_eq(clb_hex_decode(NULL, d, sizeof(d), &n), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode_exact(NULL, d, 1), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode_lower(NULL, d, 1), CLB_EPARSE);
    /* Wrong lengths for the exact forms. */
    cr_assert_eq(clb_hex_decode_exact("0x0102", d, 3), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode_exact("010203", d, 2), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode_lower("0102", d, 1), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode_lower("0x01", d, 2), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode_lower("0A", d, 1), CLB_EPARSE);
    cr_assert_eq(clb_hex_decode_lower("0a", d, 1), CLB_OK);
    cr_assert_eq(d[0], 0x0a);
    /* Too long to fit; NULL out with digits. */
    cr_assert_eq(clb_hex_decode("0x010203040506070809", d, sizeof(d), &n), CLB_EFULL);
    cr_assert_eq(clb_hex_decode("0x01", NULL, 0, &n), CLB_EFULL);
    char out[4] = "xyz";
    cr_assert_eq(clb_hex_encode(NULL, 1, out, sizeof(out)), CLB_EFULL);
    cr_assert_str_eq(out, "");
    cr_assert_eq(clb_hex_encode_bare("a", 1, NULL, 3), CLB_EFULL);
}
