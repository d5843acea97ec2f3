/*
 * Tests for core/decimal.c: hand-picked cases for every function and error,
 * and property tests over long random sequences (fixed seed) against naive
 * references computed with __int128, snprintf and strtod.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "error.h"

__extension__ typedef __int128 i128;

#define SENTINEL ((clb_dec){ .m = 0x5A5A5A5A5A5A5A5All, .scale = 77 })
#define ITERS 200000

static bool same(clb_dec a, clb_dec b)
{
    return a.m == b.m && a.scale == b.scale;
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t pow10u(int e)
{
    uint64_t p = 1;
    while (e-- > 0)
        p *= 10;
    return p;
}

static i128 pow10i(int e)
{
    i128 p = 1;
    while (e-- > 0)
        p *= 10;
    return p;
}

/* A mantissa with a random number of digits (0..19) and sign, sometimes an
 * extreme, so small, large and overflowing operands all occur. */
static int64_t rand_m(uint64_t *s, int max_digits)
{
    uint64_t r = splitmix64(s);
    switch (r % 64) {
    case 0: return INT64_MIN;
    case 1: return INT64_MAX;
    case 2: return 0;
    default: break;
    }
    int nd = (int)(splitmix64(s) % (uint64_t)(max_digits + 1));
    uint64_t v = splitmix64(s);
    if (nd < 19)
        v %= pow10u(nd);
    else
        v >>= 1; /* up to INT64_MAX */
    return (r & 64) ? -(int64_t)v : (int64_t)v;
}

static clb_dec rand_dec(uint64_t *s, int max_digits, int max_scale)
{
    int64_t m = rand_m(s, max_digits);
    int scale = (int)(splitmix64(s) % (uint64_t)(max_scale + 1));
    return clb_dec_make(m, scale);
}

static bool fits64(i128 v)
{
    return v >= INT64_MIN && v <= INT64_MAX;
}

/* ---- parse -------------------------------------------------------------- */

struct parse_ok {
    const char *s;
    int64_t m;
    int scale;
};

Test(decimal, parse_valid_forms)
{
    static const struct parse_ok cases[] = {
        { "0", 0, 0 },
        { "-0", 0, 0 },
        { "+7", 7, 0 },
        { "0.1", 1, 1 },
        { "1.50", 150, 2 },
        { "-0.0100", -100, 4 },
        { "007.50", 750, 2 },
        { "12345.678901", 12345678901ll, 6 },
        { "1e-5", 1, 5 },
        { "2.5E3", 2500, 0 },
        { "5.000e3", 5000, 0 },
        { "2.5e+3", 2500, 0 },
        { "1.50e1", 150, 1 },
        { "100e-2", 100, 2 },
        { "-1.5e-17", -15, 18 },
        { "0e5", 0, 0 },
        { "0.000e-50", 0, 18 },
        { "1e18", 1000000000000000000ll, 0 },
        { "0.123456789012345678", 123456789012345678ll, 18 },
        { "0.1000000000000000000000", 100000000000000000ll, 18 },
        { "1.2300000000000000000000000000000000000000", 1230000000000000000ll, 18 },
        { "9223372036854775807", INT64_MAX, 0 },
        { "-9223372036854775808", INT64_MIN, 0 },
        { "-9.223372036854775808", INT64_MIN, 18 },
        { "922337203685477580.7", INT64_MAX, 1 },
        { "9223372036854775807e-1", INT64_MAX, 1 },
        { "0.1000000000000000000", 100000000000000000ll, 18 },
        { "00000000000000000000001.5", 15, 1 },
        { "-000000000000000000000000000", 0, 0 },
        { "1234567890123456789", 1234567890123456789ll, 0 },
        { "0.00000000000000000000000000000000000000000000001e30", 1, 17 },
        { "1e0", 1, 0 },
        { "1e-0000000000000000000000000000018", 1, 18 },
        { "5000000000000000000000000000000000e-33", 5000000000000000000ll, 18 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clb_dec d = SENTINEL;
        int rc = clb_dec_parse_cstr(cases[i].s, &d);
        cr_assert_eq(rc, CLB_OK, "%s: rc %s", cases[i].s, clb_err_name(rc));
        cr_assert(same(d, clb_dec_make(cases[i].m, cases[i].scale)),
                  "%s: got {%" PRId64 ", %d}", cases[i].s, d.m, d.scale);
    }
}

struct parse_bad {
    const char *s;
    int rc;
};

Test(decimal, parse_rejects_and_leaves_out_untouched)
{
    static const struct parse_bad cases[] = {
        { "", CLB_EPARSE },
        { "-", CLB_EPARSE },
        { "+", CLB_EPARSE },
        { ".", CLB_EPARSE },
        { "1.", CLB_EPARSE },
        { ".5", CLB_EPARSE },
        { "-.5", CLB_EPARSE },
        { " 1", CLB_EPARSE },
        { "1 ", CLB_EPARSE },
        { "1 000", CLB_EPARSE },
        { "1,000", CLB_EPARSE },
        { "1,5", CLB_EPARSE },
        { "0x10", CLB_EPARSE },
        { "nan", CLB_EPARSE },
        { "NaN", CLB_EPARSE },
        { "inf", CLB_EPARSE },
        { "-inf", CLB_EPARSE },
        { "infinity", CLB_EPARSE },
        { "--1", CLB_EPARSE },
        { "+-1", CLB_EPARSE },
        { "-+1", CLB_EPARSE },
        { "1.2.3", CLB_EPARSE },
        { "1.5x", CLB_EPARSE },
        { "12a", CLB_EPARSE },
        { "1e", CLB_EPARSE },
        { "1e+", CLB_EPARSE },
        { "1e-", CLB_EPARSE },
        { "1e5e5", CLB_EPARSE },
        { "1e5.5", CLB_EPARSE },
        { "1e 5", CLB_EPARSE },
        { "e5", CLB_EPARSE },
        { "1.e5", CLB_EPARSE },
        { "1\xc2\xa0", CLB_EPARSE },
        { "\xd9\xa1", CLB_EPARSE }, /* Arabic-Indic digit one */
        { "9223372036854775808", CLB_EOVERFLOW },
        { "-9223372036854775809", CLB_EOVERFLOW },
        { "92233720368547758.08", CLB_EOVERFLOW },
        { "12345678901234567890123", CLB_EOVERFLOW },
        { "1234567890.1234567890123", CLB_EOVERFLOW },
        { "1e19", CLB_EOVERFLOW },
        { "10000000000000000000", CLB_EOVERFLOW },
        { "100000000000000000000e-3", CLB_EOVERFLOW },
        /* 5000 written with 30 fractional digits: kept at scale 18, too big */
        { "5000000000000000000000000000000000e-30", CLB_EOVERFLOW },
        { "10000000000.000000000", CLB_EOVERFLOW },
        { "92233720368547758070e-1", CLB_EOVERFLOW },
        { "9223372036854775.8070", CLB_EOVERFLOW },
        { "1e999999999999999999999999", CLB_EOVERFLOW },
        { "0.1234567890123456789", CLB_EPRECISION },
        { "1e-19", CLB_EPRECISION },
        { "0.00000000000000000000001", CLB_EPRECISION },
        { "0.12345678901234567890123", CLB_EPRECISION },
        { "1e-99999999999999999999999", CLB_EPRECISION },
        { "123456789012345678901234567890e-40", CLB_EPRECISION },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clb_dec d = SENTINEL;
        int rc = clb_dec_parse_cstr(cases[i].s, &d);
        cr_assert_eq(rc, cases[i].rc, "'%s': want %s got %s", cases[i].s,
                     clb_err_name(cases[i].rc), clb_err_name(rc));
        cr_assert(same(d, SENTINEL), "'%s' wrote *out", cases[i].s);
    }
}

Test(decimal, parse_respects_len_and_arguments)
{
    clb_dec d = SENTINEL;
    cr_assert_eq(clb_dec_parse("1.50xyz", 4, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(150, 2)));
    d = SENTINEL;
    cr_assert_eq(clb_dec_parse("1\0", 2, &d), CLB_EPARSE);
    cr_assert_eq(clb_dec_parse("1.5", 2, &d), CLB_EPARSE); /* "1." */
    cr_assert_eq(clb_dec_parse("", 0, &d), CLB_EPARSE);
    cr_assert_eq(clb_dec_parse(NULL, 0, &d), CLB_EPARSE);
    cr_assert_eq(clb_dec_parse(NULL, 3, &d), CLB_EINVAL);
    cr_assert_eq(clb_dec_parse_cstr(NULL, &d), CLB_EINVAL);
    cr_assert(same(d, SENTINEL));
    cr_assert_eq(clb_dec_parse("1", 1, NULL), CLB_EINVAL);
}

/* Every single-byte corruption of a valid string either parses to a value
 * or fails without touching *out; never anything else. */
Test(decimal, parse_mutations_never_write_on_error)
{
    uint64_t seed = 11;
    char buf[64];
    for (int i = 0; i < ITERS; i++) {
        clb_dec d = rand_dec(&seed, 19, 18);
        int n = clb_dec_format(d, buf, sizeof(buf));
        cr_assert_gt(n, 0);
        int pos = (int)(splitmix64(&seed) % (uint64_t)n);
        buf[pos] = (char)(splitmix64(&seed) & 0xff);
        clb_dec out = SENTINEL;
        int rc = clb_dec_parse(buf, (size_t)n, &out);
        if (rc != CLB_OK) {
            cr_assert(rc == CLB_EPARSE || rc == CLB_EOVERFLOW || rc == CLB_EPRECISION, "rc %d",
                      rc);
            cr_assert(same(out, SENTINEL));
        } else {
            cr_assert(out.scale >= 0 && out.scale <= CLB_DEC_MAX_SCALE);
        }
    }
}

/* Random strings over digits, signs, points and exponent markers, checked
 * against glibc's strtod: whatever parses is exactly the value strtod reads
 * (both round correctly from the same rational), everything strtod reads
 * whole is accepted unless it is one of the forms rejected on purpose, and
 * a rejection never writes *out. */
Test(decimal, property_random_strings_against_strtod)
{
    static const char alphabet[] = "0123456789012345678900000.-+eE.- x";
    uint64_t seed = 13;
    int accepted = 0;
    char str[32];
    for (int i = 0; i < ITERS; i++) {
        size_t len = (size_t)(splitmix64(&seed) % 24);
        for (size_t j = 0; j < len; j++)
            str[j] = alphabet[splitmix64(&seed) % (sizeof(alphabet) - 1)];
        str[len] = '\0';
        clb_dec d = SENTINEL;
        int rc = clb_dec_parse(str, len, &d);
        char *endp;
        double want = strtod(str, &endp);
        bool strtod_whole = len > 0 && str[0] != ' ' && endp == str + len;
        bool odd_form = strstr(str, ".e") || strstr(str, ".E") || str[0] == '.' ||
                        strstr(str, "-.") || strstr(str, "+.") || (len && str[len - 1] == '.') ||
                        strchr(str, 'x'); /* hex floats */
        if (rc == CLB_OK) {
            accepted++;
            cr_assert(strtod_whole, "'%s'", str);
            cr_assert_eq(clb_dec_to_double(d), want, "'%s'", str);
        } else {
            cr_assert(same(d, SENTINEL), "'%s'", str);
            if (rc == CLB_EPARSE)
                cr_assert(!strtod_whole || odd_form, "'%s'", str);
            else
                cr_assert(strtod_whole && (rc == CLB_EOVERFLOW || rc == CLB_EPRECISION),
                          "'%s' %s", str, clb_err_name(rc));
        }
    }
    cr_assert_gt(accepted, ITERS / 50);
}

/* ---- format ------------------------------------------------------------- */

static void check_format(int64_t m, int scale, const char *want)
{
    char buf[CLB_DEC_STRLEN];
    int n = clb_dec_format(clb_dec_make(m, scale), buf, sizeof(buf));
    cr_assert_eq(n, (int)strlen(want), "{%" PRId64 ",%d}: len %d", m, scale, n);
    cr_assert_str_eq(buf, want);
}

Test(decimal, format_hand_cases)
{
    check_format(0, 0, "0");
    check_format(0, 3, "0.000");
    check_format(1, 1, "0.1");
    check_format(150, 2, "1.50");
    check_format(-100, 4, "-0.0100");
    check_format(-5, 0, "-5");
    check_format(1, 18, "0.000000000000000001");
    check_format(INT64_MAX, 0, "9223372036854775807");
    check_format(INT64_MIN, 0, "-9223372036854775808");
    check_format(INT64_MIN, 18, "-9.223372036854775808");
    check_format(INT64_MIN, 3, "-9223372036854775.808");
    check_format(INT64_MIN + 1, 18, "-9.223372036854775807");
}

Test(decimal, format_capacity_and_arguments)
{
    char buf[CLB_DEC_STRLEN];
    memset(buf, 'x', sizeof(buf));
    clb_dec d = clb_dec_make(-150, 2); /* "-1.50": 5 chars + NUL */
    cr_assert_eq(clb_dec_format(d, buf, 5), CLB_ERANGE);
    cr_assert_eq(clb_dec_format(d, buf, 0), CLB_ERANGE);
    cr_assert_eq(clb_dec_format(d, NULL, 0), CLB_ERANGE);
    cr_assert_eq(buf[0], 'x');
    cr_assert_eq(clb_dec_format(d, buf, 6), 5);
    cr_assert_str_eq(buf, "-1.50");
    cr_assert_eq(clb_dec_format((clb_dec){ .m = 1, .scale = 19 }, buf, sizeof(buf)), CLB_EINVAL);
    cr_assert_eq(clb_dec_format((clb_dec){ .m = 1, .scale = -1 }, buf, sizeof(buf)), CLB_EINVAL);
    /* The longest outputs fit CLB_DEC_STRLEN. */
    cr_assert_lt(clb_dec_format(clb_dec_make(INT64_MIN, 18), buf, sizeof(buf)), CLB_DEC_STRLEN);
    cr_assert_lt(clb_dec_format(clb_dec_make(INT64_MIN, 0), buf, sizeof(buf)), CLB_DEC_STRLEN);
}

/* format against snprintf of integer and fraction parts, then parse back. */
Test(decimal, property_format_parse_round_trip)
{
    uint64_t seed = 1;
    char buf[CLB_DEC_STRLEN], ref[CLB_DEC_STRLEN];
    for (int i = 0; i < ITERS; i++) {
        clb_dec d = rand_dec(&seed, 19, 18);
        int n = clb_dec_format(d, buf, sizeof(buf));
        cr_assert_eq(n, (int)strlen(buf));
        uint64_t mag = d.m < 0 ? 0 - (uint64_t)d.m : (uint64_t)d.m;
        uint64_t p = pow10u(d.scale);
        if (d.scale == 0)
            snprintf(ref, sizeof(ref), "%s%" PRIu64, d.m < 0 ? "-" : "", mag);
        else
            snprintf(ref, sizeof(ref), "%s%" PRIu64 ".%0*" PRIu64, d.m < 0 ? "-" : "", mag / p,
                     d.scale, mag % p);
        cr_assert_str_eq(buf, ref);
        clb_dec back = SENTINEL;
        cr_assert_eq(clb_dec_parse(buf, (size_t)n, &back), CLB_OK, "%s", buf);
        cr_assert(same(back, d), "%s -> {%" PRId64 ",%d}", buf, back.m, back.scale);
        /* The same through the general (exponent) path. */
        char longer[CLB_DEC_STRLEN + 4];
        snprintf(longer, sizeof(longer), "%se+0", buf);
        back = SENTINEL;
        cr_assert_eq(clb_dec_parse_cstr(longer, &back), CLB_OK, "%s", longer);
        cr_assert(same(back, d), "%s", longer);
    }
}

/* The exponent form parses to the same value as the plain one. */
Test(decimal, property_exponent_form_matches_plain)
{
    uint64_t seed = 2;
    char buf[CLB_DEC_STRLEN + 16];
    for (int i = 0; i < ITERS; i++) {
        clb_dec d = rand_dec(&seed, 19, 18);
        if (d.scale == 0)
            continue;
        /* m e-scale: as many fractional digits as d had. */
        snprintf(buf, sizeof(buf), "%" PRId64 "e-%d", d.m, d.scale);
        clb_dec back = SENTINEL;
        cr_assert_eq(clb_dec_parse_cstr(buf, &back), CLB_OK, "%s", buf);
        cr_assert(same(back, d), "%s", buf);
    }
}

/* ---- cmp, neg, normalize ------------------------------------------------ */

Test(decimal, cmp_hand_cases)
{
    cr_assert_eq(clb_dec_cmp(clb_dec_make(1, 1), clb_dec_make(10, 2)), 0);
    cr_assert_eq(clb_dec_cmp(clb_dec_make(1, 1), clb_dec_make(11, 2)), -1);
    cr_assert_eq(clb_dec_cmp(clb_dec_make(-1, 0), clb_dec_make(-999, 3)), -1);
    cr_assert_eq(clb_dec_cmp(clb_dec_make(INT64_MAX, 0), clb_dec_make(INT64_MAX, 18)), 1);
    cr_assert_eq(clb_dec_cmp(clb_dec_make(INT64_MIN, 0), clb_dec_make(INT64_MIN, 18)), -1);
    cr_assert_eq(clb_dec_cmp(clb_dec_make(0, 0), clb_dec_make(0, 18)), 0);
    cr_assert(clb_dec_is_zero(clb_dec_make(0, 5)));
    cr_assert_eq(clb_dec_sign(clb_dec_make(-3, 5)), -1);
    cr_assert_eq(clb_dec_sign(clb_dec_make(3, 5)), 1);
}

static i128 at_scale(clb_dec d, int scale)
{
    return (i128)d.m * pow10i(scale - d.scale);
}

Test(decimal, property_cmp_against_int128)
{
    uint64_t seed = 3;
    for (int i = 0; i < ITERS; i++) {
        clb_dec a = rand_dec(&seed, 19, 18), b = rand_dec(&seed, 19, 18);
        if (splitmix64(&seed) % 8 == 0) /* equal values at other scales */
            b = clb_dec_normalize(a);
        i128 x = at_scale(a, 18), y = at_scale(b, 18);
        int want = (x > y) - (x < y);
        cr_assert_eq(clb_dec_cmp(a, b), want);
        cr_assert_eq(clb_dec_cmp(b, a), -want);
    }
}

Test(decimal, neg_and_normalize)
{
    clb_dec d = SENTINEL;
    cr_assert_eq(clb_dec_neg(clb_dec_make(150, 2), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-150, 2)));
    cr_assert_eq(clb_dec_neg(clb_dec_make(INT64_MAX, 2), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-INT64_MAX, 2)));
    d = SENTINEL;
    cr_assert_eq(clb_dec_neg(clb_dec_make(INT64_MIN, 2), &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_neg((clb_dec){ .m = 1, .scale = 40 }, &d), CLB_EINVAL);
    cr_assert(same(d, SENTINEL));
    cr_assert(same(clb_dec_normalize(clb_dec_make(1500, 3)), clb_dec_make(15, 1)));
    cr_assert(same(clb_dec_normalize(clb_dec_make(1500, 0)), clb_dec_make(1500, 0)));
    cr_assert(same(clb_dec_normalize(clb_dec_make(0, 9)), clb_dec_make(0, 0)));
    cr_assert(same(clb_dec_normalize(clb_dec_make(-120, 18)), clb_dec_make(-12, 17)));
    cr_assert(same(clb_dec_normalize(clb_dec_make(INT64_MIN, 18)), clb_dec_make(INT64_MIN, 18)));
    cr_assert(same(clb_dec_normalize(clb_dec_make(1000000000000000000ll, 18)),
                   clb_dec_make(1, 0)));
}

Test(decimal, property_normalize)
{
    uint64_t seed = 4;
    for (int i = 0; i < ITERS; i++) {
        clb_dec d = rand_dec(&seed, 19, 18);
        clb_dec n = clb_dec_normalize(d);
        cr_assert_eq(clb_dec_cmp(n, d), 0);
        cr_assert(n.scale <= d.scale);
        cr_assert(n.scale == 0 || n.m % 10 != 0);
        if (n.m == 0)
            cr_assert_eq(n.scale, 0);
    }
}

/* ---- add, sub, mul ------------------------------------------------------ */

Test(decimal, add_sub_hand_cases)
{
    clb_dec d = SENTINEL;
    cr_assert_eq(clb_dec_add(clb_dec_make(1, 1), clb_dec_make(2, 1), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(3, 1)));
    cr_assert_eq(clb_dec_add(clb_dec_make(15, 1), clb_dec_make(-25, 2), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(125, 2)));
    cr_assert_eq(clb_dec_sub(clb_dec_make(1, 0), clb_dec_make(1, 18), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(999999999999999999ll, 18)));
    cr_assert_eq(clb_dec_sub(clb_dec_make(-1, 0), clb_dec_make(INT64_MAX, 0), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(INT64_MIN, 0)));
    d = SENTINEL;
    cr_assert_eq(clb_dec_add(clb_dec_make(INT64_MAX, 0), clb_dec_make(1, 0), &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_sub(clb_dec_make(INT64_MIN, 0), clb_dec_make(1, 0), &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_sub(clb_dec_make(0, 0), clb_dec_make(INT64_MIN, 0), &d), CLB_EOVERFLOW);
    /* Aligning to scale 18 overflows although the operand is small. */
    cr_assert_eq(clb_dec_add(clb_dec_make(10, 0), clb_dec_make(0, 18), &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_add((clb_dec){ .m = 1, .scale = 19 }, clb_dec_make(1, 0), &d),
                 CLB_EINVAL);
    cr_assert_eq(clb_dec_add(clb_dec_make(1, 0), clb_dec_make(1, 0), NULL), CLB_EINVAL);
    cr_assert(same(d, SENTINEL));
}

Test(decimal, mul_hand_cases)
{
    clb_dec d = SENTINEL;
    cr_assert_eq(clb_dec_mul(clb_dec_make(15, 1), clb_dec_make(2, 0), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(30, 1)));
    cr_assert_eq(clb_dec_mul(clb_dec_make(-12345, 2), clb_dec_make(1001, 3), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-12357345, 5)));
    /* scale 20 -> trailing zeros dropped down to 18 */
    cr_assert_eq(clb_dec_mul(clb_dec_make(100, 10), clb_dec_make(3, 10), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(3, 18)));
    /* 0.1 * 0.1 written with 18 digits each: 10^34 at scale 36 */
    cr_assert_eq(clb_dec_mul(clb_dec_make(100000000000000000ll, 18),
                             clb_dec_make(100000000000000000ll, 18), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(10000000000000000ll, 18)));
    d = SENTINEL;
    cr_assert_eq(clb_dec_mul(clb_dec_make(1, 10), clb_dec_make(1, 10), &d), CLB_EPRECISION);
    cr_assert_eq(clb_dec_mul(clb_dec_make(INT64_MAX, 0), clb_dec_make(2, 0), &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_mul(clb_dec_make(INT64_MIN, 0), clb_dec_make(-1, 0), &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_mul(clb_dec_make(INT64_MAX, 10), clb_dec_make(1000, 10), &d),
                 CLB_EOVERFLOW);
    cr_assert(same(d, SENTINEL));
    cr_assert_eq(clb_dec_mul(clb_dec_make(INT64_MIN, 0), clb_dec_make(1, 0), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(INT64_MIN, 0)));
    cr_assert_eq(clb_dec_mul(clb_dec_make(0, 18), clb_dec_make(0, 18), &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(0, 18)));
}

Test(decimal, property_add_sub_against_int128)
{
    uint64_t seed = 5;
    for (int i = 0; i < ITERS; i++) {
        clb_dec a = rand_dec(&seed, 19, 18), b = rand_dec(&seed, 19, 18);
        int s = a.scale > b.scale ? a.scale : b.scale;
        for (int op = 0; op < 2; op++) {
            i128 want = op == 0 ? at_scale(a, s) + at_scale(b, s) : at_scale(a, s) - at_scale(b, s);
            clb_dec r = SENTINEL;
            int rc = op == 0 ? clb_dec_add(a, b, &r) : clb_dec_sub(a, b, &r);
            if (fits64(want)) {
                cr_assert_eq(rc, CLB_OK);
                cr_assert(same(r, clb_dec_make((int64_t)want, s)));
            } else {
                cr_assert_eq(rc, CLB_EOVERFLOW);
                cr_assert(same(r, SENTINEL));
            }
        }
    }
}

Test(decimal, property_mul_against_int128)
{
    uint64_t seed = 6;
    int ok = 0;
    for (int i = 0; i < ITERS; i++) {
        clb_dec a = rand_dec(&seed, 12, 18), b = rand_dec(&seed, 12, 18);
        i128 p = (i128)a.m * b.m;
        int s = a.scale + b.scale;
        int want_rc = CLB_OK;
        if (s > 18) {
            i128 div = pow10i(s - 18);
            if (p % div != 0)
                want_rc = CLB_EPRECISION;
            p /= div;
            s = 18;
        }
        if (want_rc == CLB_OK && !fits64(p))
            want_rc = CLB_EOVERFLOW;
        clb_dec r = SENTINEL;
        int rc = clb_dec_mul(a, b, &r);
        cr_assert_eq(rc, want_rc, "%s vs %s", clb_err_name(rc), clb_err_name(want_rc));
        if (want_rc == CLB_OK) {
            ok++;
            cr_assert(same(r, clb_dec_make((int64_t)p, s)));
        } else {
            cr_assert(same(r, SENTINEL));
        }
    }
    cr_assert_gt(ok, ITERS / 10);
}

/* ---- div, rescale, to_scaled -------------------------------------------- */

Test(decimal, div_hand_cases)
{
    clb_dec d = SENTINEL;
    cr_assert_eq(clb_dec_div(clb_dec_make(1, 0), clb_dec_make(3, 0), 4, CLB_ROUND_DOWN, &d),
                 CLB_OK);
    cr_assert(same(d, clb_dec_make(3333, 4)));
    cr_assert_eq(clb_dec_div(clb_dec_make(1, 0), clb_dec_make(3, 0), 4, CLB_ROUND_UP, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(3334, 4)));
    cr_assert_eq(clb_dec_div(clb_dec_make(-1, 0), clb_dec_make(3, 0), 4, CLB_ROUND_DOWN, &d),
                 CLB_OK);
    cr_assert(same(d, clb_dec_make(-3334, 4)));
    cr_assert_eq(clb_dec_div(clb_dec_make(-1, 0), clb_dec_make(3, 0), 4, CLB_ROUND_UP, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-3333, 4)));
    cr_assert_eq(clb_dec_div(clb_dec_make(2, 0), clb_dec_make(3, 0), 0, CLB_ROUND_NEAREST, &d),
                 CLB_OK);
    cr_assert(same(d, clb_dec_make(1, 0)));
    /* ties away from zero */
    cr_assert_eq(clb_dec_div(clb_dec_make(5, 0), clb_dec_make(2, 0), 0, CLB_ROUND_NEAREST, &d),
                 CLB_OK);
    cr_assert(same(d, clb_dec_make(3, 0)));
    cr_assert_eq(clb_dec_div(clb_dec_make(-5, 0), clb_dec_make(2, 0), 0, CLB_ROUND_NEAREST, &d),
                 CLB_OK);
    cr_assert(same(d, clb_dec_make(-3, 0)));
    cr_assert_eq(clb_dec_div(clb_dec_make(15, 1), clb_dec_make(-5, 3), 2, CLB_ROUND_EXACT, &d),
                 CLB_OK);
    cr_assert(same(d, clb_dec_make(-30000, 2)));
    cr_assert_eq(clb_dec_div(clb_dec_make(INT64_MIN, 0), clb_dec_make(1, 0), 0, CLB_ROUND_EXACT,
                             &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(INT64_MIN, 0)));
    cr_assert_eq(clb_dec_div(clb_dec_make(1, 18), clb_dec_make(INT64_MAX, 0), 18,
                             CLB_ROUND_UP, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(1, 18)));
    d = SENTINEL;
    cr_assert_eq(clb_dec_div(clb_dec_make(1, 0), clb_dec_make(3, 0), 4, CLB_ROUND_EXACT, &d),
                 CLB_EPRECISION);
    cr_assert_eq(clb_dec_div(clb_dec_make(1, 0), clb_dec_make(0, 3), 4, CLB_ROUND_DOWN, &d),
                 CLB_EINVAL);
    cr_assert_eq(clb_dec_div(clb_dec_make(1, 0), clb_dec_make(1, 0), 19, CLB_ROUND_DOWN, &d),
                 CLB_EINVAL);
    cr_assert_eq(clb_dec_div(clb_dec_make(1, 0), clb_dec_make(1, 0), -1, CLB_ROUND_DOWN, &d),
                 CLB_EINVAL);
    cr_assert_eq(clb_dec_div(clb_dec_make(1, 0), clb_dec_make(1, 0), 1, (enum clb_round)9, &d),
                 CLB_EINVAL);
    cr_assert_eq(clb_dec_div(clb_dec_make(INT64_MIN, 0), clb_dec_make(-1, 0), 0, CLB_ROUND_DOWN,
                             &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_div(clb_dec_make(INT64_MAX, 0), clb_dec_make(1, 18), 18, CLB_ROUND_DOWN,
                             &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_div(clb_dec_make(10, 0), clb_dec_make(1, 18), 0, CLB_ROUND_DOWN, &d),
                 CLB_EOVERFLOW);
    cr_assert(same(d, SENTINEL));
}

/* Reference: floor division in signed 128 bits, then the mode's correction. */
static int ref_round(i128 num, i128 den, enum clb_round mode, i128 *q)
{
    if (den < 0) {
        num = -num;
        den = -den;
    }
    i128 f = num / den;
    if (num % den != 0 && num < 0)
        f--;
    i128 rem = num - f * den; /* 0 <= rem < den */
    switch (mode) {
    case CLB_ROUND_DOWN: *q = f; break;
    case CLB_ROUND_UP: *q = f + (rem != 0); break;
    case CLB_ROUND_NEAREST:
        if (2 * rem > den || (2 * rem == den && f >= 0))
            *q = f + 1;
        else
            *q = f;
        break;
    default:
        if (rem != 0)
            return CLB_EPRECISION;
        *q = f;
    }
    return CLB_OK;
}

Test(decimal, property_div_against_int128)
{
    uint64_t seed = 7;
    int ok = 0, n = 0;
    for (int i = 0; i < ITERS; i++) {
        clb_dec a = rand_dec(&seed, 19, 18), b = rand_dec(&seed, 12, 18);
        int s = (int)(splitmix64(&seed) % 19);
        enum clb_round mode = (enum clb_round)(splitmix64(&seed) % 4);
        if (b.m == 0)
            continue;
        int e = s + b.scale - a.scale;
        if (e > 19)
            continue; /* keep the reference inside 128 bits */
        i128 num = a.m, den = b.m;
        if (e >= 0)
            num *= pow10i(e);
        else
            den *= pow10i(-e);
        i128 q;
        int want_rc = ref_round(num, den, mode, &q);
        if (want_rc == CLB_OK && !fits64(q))
            want_rc = CLB_EOVERFLOW;
        clb_dec r = SENTINEL;
        int rc = clb_dec_div(a, b, s, mode, &r);
        n++;
        cr_assert_eq(rc, want_rc, "%s vs %s", clb_err_name(rc), clb_err_name(want_rc));
        if (rc == CLB_OK) {
            ok++;
            cr_assert(same(r, clb_dec_make((int64_t)q, s)));
        } else {
            cr_assert(same(r, SENTINEL));
        }
    }
    cr_assert_gt(ok, n / 4);
}

Test(decimal, rescale_and_to_scaled_hand_cases)
{
    clb_dec d = SENTINEL;
    int64_t v = 42;
    cr_assert_eq(clb_dec_rescale(clb_dec_make(123, 2), 4, CLB_ROUND_EXACT, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(12300, 4)));
    cr_assert_eq(clb_dec_rescale(clb_dec_make(125, 2), 1, CLB_ROUND_NEAREST, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(13, 1)));
    cr_assert_eq(clb_dec_rescale(clb_dec_make(-125, 2), 1, CLB_ROUND_NEAREST, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-13, 1)));
    cr_assert_eq(clb_dec_rescale(clb_dec_make(-125, 2), 1, CLB_ROUND_DOWN, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-13, 1)));
    cr_assert_eq(clb_dec_rescale(clb_dec_make(-125, 2), 1, CLB_ROUND_UP, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-12, 1)));
    cr_assert_eq(clb_dec_rescale(clb_dec_make(INT64_MIN, 18), 0, CLB_ROUND_DOWN, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-10, 0)));
    d = SENTINEL;
    cr_assert_eq(clb_dec_rescale(clb_dec_make(125, 2), 1, CLB_ROUND_EXACT, &d), CLB_EPRECISION);
    cr_assert_eq(clb_dec_rescale(clb_dec_make(10, 0), 18, CLB_ROUND_EXACT, &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_rescale(clb_dec_make(10, 0), 19, CLB_ROUND_EXACT, &d), CLB_EINVAL);
    cr_assert_eq(clb_dec_rescale(clb_dec_make(10, 0), 1, (enum clb_round)-1, &d), CLB_EINVAL);
    cr_assert(same(d, SENTINEL));

    cr_assert_eq(clb_dec_to_scaled(clb_dec_make(123, 2), 4, &v), CLB_OK);
    cr_assert_eq(v, 12300);
    cr_assert_eq(clb_dec_to_scaled(clb_dec_make(12300, 4), 2, &v), CLB_OK);
    cr_assert_eq(v, 123);
    v = 42;
    cr_assert_eq(clb_dec_to_scaled(clb_dec_make(12301, 4), 2, &v), CLB_EPRECISION);
    cr_assert_eq(clb_dec_to_scaled(clb_dec_make(INT64_MAX, 0), 1, &v), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_to_scaled(clb_dec_make(1, 0), 20, &v), CLB_EINVAL);
    cr_assert_eq(clb_dec_to_scaled(clb_dec_make(1, 0), 2, NULL), CLB_EINVAL);
    cr_assert_eq(v, 42);
}

/* rescale(d, s) is div(d, 1, s); to_scaled is rescale with EXACT. */
Test(decimal, property_rescale_against_int128)
{
    uint64_t seed = 8;
    for (int i = 0; i < ITERS; i++) {
        clb_dec d = rand_dec(&seed, 19, 18);
        int s = (int)(splitmix64(&seed) % 19);
        enum clb_round mode = (enum clb_round)(splitmix64(&seed) % 4);
        i128 q;
        int want_rc = s >= d.scale ? (q = (i128)d.m * pow10i(s - d.scale), CLB_OK)
                                   : ref_round(d.m, pow10i(d.scale - s), mode, &q);
        if (want_rc == CLB_OK && !fits64(q))
            want_rc = CLB_EOVERFLOW;
        clb_dec r = SENTINEL;
        cr_assert_eq(clb_dec_rescale(d, s, mode, &r), want_rc);
        if (want_rc == CLB_OK)
            cr_assert(same(r, clb_dec_make((int64_t)q, s)));
        else
            cr_assert(same(r, SENTINEL));
        int64_t v = 7;
        int rc = clb_dec_to_scaled(d, s, &v);
        if (mode == CLB_ROUND_EXACT || s >= d.scale) { /* growing ignores the mode */
            cr_assert_eq(rc, want_rc);
            cr_assert_eq(v, want_rc == CLB_OK ? (int64_t)q : 7);
        }
    }
}

/* ---- quantize, is_multiple ---------------------------------------------- */

Test(decimal, quantize_hand_cases)
{
    clb_dec d = SENTINEL, tick = clb_dec_make(5, 2); /* 0.05 */
    cr_assert_eq(clb_dec_quantize(clb_dec_make(12345, 4), tick, CLB_ROUND_DOWN, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(120, 2)));
    cr_assert_eq(clb_dec_quantize(clb_dec_make(12345, 4), tick, CLB_ROUND_UP, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(125, 2)));
    cr_assert_eq(clb_dec_quantize(clb_dec_make(12345, 4), tick, CLB_ROUND_NEAREST, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(125, 2)));
    cr_assert_eq(clb_dec_quantize(clb_dec_make(-12345, 4), tick, CLB_ROUND_DOWN, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-125, 2)));
    cr_assert_eq(clb_dec_quantize(clb_dec_make(-12345, 4), tick, CLB_ROUND_UP, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-120, 2)));
    /* tie at 1.225 between 1.20 and 1.25: away from zero */
    cr_assert_eq(clb_dec_quantize(clb_dec_make(1225, 3), tick, CLB_ROUND_NEAREST, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(125, 2)));
    cr_assert_eq(clb_dec_quantize(clb_dec_make(-1225, 3), tick, CLB_ROUND_NEAREST, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-125, 2)));
    cr_assert_eq(clb_dec_quantize(clb_dec_make(13, 1), tick, CLB_ROUND_EXACT, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(130, 2)));
    /* coarse step with a finer value: result at step.scale */
    cr_assert_eq(clb_dec_quantize(clb_dec_make(1234567, 3), clb_dec_make(25, 0), CLB_ROUND_DOWN,
                                  &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(1225, 0)));
    cr_assert_eq(clb_dec_quantize(clb_dec_make(INT64_MIN, 0), clb_dec_make(1, 0), CLB_ROUND_EXACT,
                                  &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(INT64_MIN, 0)));
    d = SENTINEL;
    cr_assert_eq(clb_dec_quantize(clb_dec_make(12345, 4), tick, CLB_ROUND_EXACT, &d),
                 CLB_EPRECISION);
    cr_assert_eq(clb_dec_quantize(clb_dec_make(1, 0), clb_dec_make(0, 2), CLB_ROUND_DOWN, &d),
                 CLB_EINVAL);
    cr_assert_eq(clb_dec_quantize(clb_dec_make(1, 0), clb_dec_make(-5, 2), CLB_ROUND_DOWN, &d),
                 CLB_EINVAL);
    cr_assert_eq(clb_dec_quantize(clb_dec_make(1, 0), tick, (enum clb_round)4, &d), CLB_EINVAL);
    /* k fits but k * step.m at step.scale does not */
    cr_assert_eq(clb_dec_quantize(clb_dec_make(INT64_MAX, 0), clb_dec_make(1, 1),
                                  CLB_ROUND_DOWN, &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_quantize(clb_dec_make(INT64_MAX, 0), clb_dec_make(2, 0),
                                  CLB_ROUND_UP, &d), CLB_EOVERFLOW);
    cr_assert(same(d, SENTINEL));

    cr_assert(clb_dec_is_multiple(clb_dec_make(130, 2), tick));
    cr_assert(clb_dec_is_multiple(clb_dec_make(-13, 1), tick));
    cr_assert(clb_dec_is_multiple(clb_dec_make(0, 0), tick));
    cr_assert_not(clb_dec_is_multiple(clb_dec_make(131, 2), tick));
    cr_assert_not(clb_dec_is_multiple(clb_dec_make(1, 3), tick));
    cr_assert_not(clb_dec_is_multiple(clb_dec_make(10, 0), clb_dec_make(0, 0)));
    cr_assert_not(clb_dec_is_multiple(clb_dec_make(10, 0), clb_dec_make(-5, 0)));
}

/* Naive reference: look at the multiples of step around an estimate from
 * doubles and pick per mode with exact 128-bit comparisons. */
static int ref_quantize(clb_dec d, clb_dec step, enum clb_round mode, clb_dec *out)
{
    i128 x = at_scale(d, 18), y = at_scale(step, 18);
    i128 k0 = x / y; /* within one of the answer */
    i128 below = 0, above = 0; /* largest multiple <= x, smallest >= x */
    bool have_below = false, have_above = false;
    for (i128 k = k0 - 3; k <= k0 + 3; k++) {
        i128 v = k * y;
        if (v <= x && (!have_below || v > below * y)) {
            below = k;
            have_below = true;
        }
        if (v >= x && (!have_above || v < above * y)) {
            above = k;
            have_above = true;
        }
    }
    cr_assert(have_below && have_above && above - below <= 1);
    i128 k;
    switch (mode) {
    case CLB_ROUND_DOWN: k = below; break;
    case CLB_ROUND_UP: k = above; break;
    case CLB_ROUND_NEAREST: {
        i128 dl = x - below * y, du = above * y - x;
        k = dl < du ? below : du < dl ? above : (x > 0 ? above : below);
        break;
    }
    default:
        if (below != above)
            return CLB_EPRECISION;
        k = below;
    }
    if (k > INT64_MAX || k < INT64_MIN)
        return CLB_EOVERFLOW;
    i128 m = k * step.m;
    if (!fits64(m))
        return CLB_EOVERFLOW;
    *out = clb_dec_make((int64_t)m, step.scale);
    return CLB_OK;
}

Test(decimal, property_quantize_against_naive)
{
    uint64_t seed = 9;
    int ok = 0;
    for (int i = 0; i < ITERS; i++) {
        clb_dec d = rand_dec(&seed, 19, 18);
        clb_dec step = rand_dec(&seed, 1 + (int)(splitmix64(&seed) % 6), 18);
        if (step.m <= 0)
            step.m = step.m == INT64_MIN || step.m == 0 ? 1 : -step.m;
        if (step.m < 1000000000 && splitmix64(&seed) % 4 == 0) /* land on a multiple */
            d = clb_dec_make(step.m * (int64_t)(splitmix64(&seed) % 2001) - step.m * 1000,
                             step.scale);
        enum clb_round mode = (enum clb_round)(splitmix64(&seed) % 4);
        clb_dec want = SENTINEL, got = SENTINEL;
        int want_rc = ref_quantize(d, step, mode, &want);
        int rc = clb_dec_quantize(d, step, mode, &got);
        cr_assert_eq(rc, want_rc, "%s vs %s", clb_err_name(rc), clb_err_name(want_rc));
        cr_assert(same(got, want));
        cr_assert_eq(clb_dec_is_multiple(d, step), ref_quantize(d, step, CLB_ROUND_EXACT, &want)
                     != CLB_EPRECISION);
        if (rc == CLB_OK) {
            ok++;
            cr_assert(clb_dec_is_multiple(got, step));
        }
    }
    cr_assert_gt(ok, ITERS / 2);
}

/* ---- doubles ------------------------------------------------------------ */

Test(decimal, to_double_hand_cases)
{
    cr_assert_eq(clb_dec_to_double(clb_dec_make(1, 1)), 0.1);
    cr_assert_eq(clb_dec_to_double(clb_dec_make(-150, 2)), -1.5);
    cr_assert_eq(clb_dec_to_double(clb_dec_make(0, 7)), 0.0);
    cr_assert_eq(clb_dec_to_double(clb_dec_make(INT64_MAX, 0)), 9223372036854775807.0);
    cr_assert_eq(clb_dec_to_double(clb_dec_make(INT64_MIN, 18)), -9.223372036854775808);
    cr_assert_eq(clb_dec_to_double(clb_dec_make(1, 18)), 1e-18);
    cr_assert_eq(clb_dec_to_double(clb_dec_make(9007199254740993ll, 0)), 9007199254740992.0);
    cr_assert_eq(clb_dec_to_double(clb_dec_make(123456789012345678ll, 5)),
                 1234567890123.45678);
}

Test(decimal, property_to_double_is_correctly_rounded)
{
    uint64_t seed = 10;
    char buf[CLB_DEC_STRLEN];
    for (int i = 0; i < ITERS; i++) {
        clb_dec d = rand_dec(&seed, 19, 18);
        cr_assert_gt(clb_dec_format(d, buf, sizeof(buf)), 0);
        double want = strtod(buf, NULL); /* correctly rounded in glibc */
        cr_assert_eq(clb_dec_to_double(d), want, "%s", buf);
    }
}

Test(decimal, from_double_hand_cases)
{
    clb_dec d = SENTINEL;
    cr_assert_eq(clb_dec_from_double(0.1, 1, CLB_ROUND_EXACT, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(1, 1)));
    cr_assert_eq(clb_dec_from_double(0.1, 8, CLB_ROUND_EXACT, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(10000000, 8)));
    double third = 0.1 + 0.2; /* 0.30000000000000004 */
    cr_assert_eq(clb_dec_from_double(third, 2, CLB_ROUND_NEAREST, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(30, 2)));
    cr_assert_eq(clb_dec_from_double(third, 2, CLB_ROUND_DOWN, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(30, 2)));
    cr_assert_eq(clb_dec_from_double(third, 2, CLB_ROUND_UP, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(31, 2)));
    cr_assert_eq(clb_dec_from_double(third, 18, CLB_ROUND_EXACT, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(300000000000000040ll, 18)));
    cr_assert_eq(clb_dec_from_double(-third, 2, CLB_ROUND_DOWN, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-31, 2)));
    cr_assert_eq(clb_dec_from_double(-third, 2, CLB_ROUND_UP, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-30, 2)));
    cr_assert_eq(clb_dec_from_double(2.675, 2, CLB_ROUND_NEAREST, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(268, 2)));
    cr_assert_eq(clb_dec_from_double(-2.5, 0, CLB_ROUND_NEAREST, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-3, 0)));
    cr_assert_eq(clb_dec_from_double(-0.0, 3, CLB_ROUND_EXACT, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(0, 3)));
    cr_assert_eq(clb_dec_from_double(1e-20, 18, CLB_ROUND_UP, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(1, 18)));
    cr_assert_eq(clb_dec_from_double(1e-20, 18, CLB_ROUND_NEAREST, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(0, 18)));
    cr_assert_eq(clb_dec_from_double(-1e-300, 0, CLB_ROUND_DOWN, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(-1, 0)));
    cr_assert_eq(clb_dec_from_double(5e-324, 18, CLB_ROUND_DOWN, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(0, 18)));
    cr_assert_eq(clb_dec_from_double(1e18, 0, CLB_ROUND_EXACT, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(1000000000000000000ll, 0)));
    cr_assert_eq(clb_dec_from_double(9007199254740993.0, 0, CLB_ROUND_EXACT, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(9007199254740992ll, 0)));
    cr_assert_eq(clb_dec_from_double(123456.789, 3, CLB_ROUND_EXACT, &d), CLB_OK);
    cr_assert(same(d, clb_dec_make(123456789, 3)));
    d = SENTINEL;
    cr_assert_eq(clb_dec_from_double(third, 2, CLB_ROUND_EXACT, &d), CLB_EPRECISION);
    cr_assert_eq(clb_dec_from_double(9223372036854775808.0, 0, CLB_ROUND_EXACT, &d),
                 CLB_EOVERFLOW);
    /* -2^63's shortest decimal is -9223372036854776000: beyond int64 */
    cr_assert_eq(clb_dec_from_double(-9223372036854775808.0, 0, CLB_ROUND_EXACT, &d),
                 CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_from_double(1e300, 0, CLB_ROUND_DOWN, &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_from_double(10.0, 18, CLB_ROUND_DOWN, &d), CLB_EOVERFLOW);
    cr_assert_eq(clb_dec_from_double(NAN, 2, CLB_ROUND_DOWN, &d), CLB_EINVAL);
    cr_assert_eq(clb_dec_from_double(INFINITY, 2, CLB_ROUND_DOWN, &d), CLB_EINVAL);
    cr_assert_eq(clb_dec_from_double(-INFINITY, 2, CLB_ROUND_DOWN, &d), CLB_EINVAL);
    cr_assert_eq(clb_dec_from_double(1.0, 19, CLB_ROUND_DOWN, &d), CLB_EINVAL);
    cr_assert_eq(clb_dec_from_double(1.0, 2, (enum clb_round)7, &d), CLB_EINVAL);
    cr_assert(same(d, SENTINEL));
    cr_assert_eq(clb_dec_from_double(1.0, 2, CLB_ROUND_DOWN, NULL), CLB_EINVAL);
}

/* Any double, any rounding mode: the result is the shortest decimal that
 * round-trips the double (found here through printf / strtod and parsed),
 * rounded at the scale exactly (clb_dec_rescale). Doubles near the points
 * where rounding changes are drawn on purpose: v = (n + f) / 10^s with f
 * at or next to 0 and 0.5. */
Test(decimal, property_from_double_matches_shortest_decimal)
{
    uint64_t seed = 77;
    static const double fr[] = { 0.0, 0.5, 1e-12, -1e-12, 0.5 + 1e-12, 0.5 - 1e-12, 0.25 };
    for (int i = 0; i < 4 * ITERS; i++) {
        int s = (int)(splitmix64(&seed) % 19);
        int mag = (int)(splitmix64(&seed) % 16);
        double v;
        if (splitmix64(&seed) % 2) {
            double n = (double)(splitmix64(&seed) % 1000000007ull) * pow(10, mag % 8);
            double f = fr[splitmix64(&seed) % (sizeof(fr) / sizeof(fr[0]))];
            v = (n + f) / pow(10, s);
        } else {
            v = (double)(splitmix64(&seed) >> 11) / 9007199254740992.0 * pow(10, mag - 6);
        }
        if (splitmix64(&seed) % 2)
            v = -v;
        enum clb_round mode = (enum clb_round)(splitmix64(&seed) % 3);
        char buf[40];
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
            if (prec == 17 || strtod(buf, NULL) == v)
                break;
        }
        clb_dec d, want = SENTINEL, got = SENTINEL;
        int wrc = clb_dec_parse_cstr(buf, &d);
        if (wrc == CLB_OK)
            wrc = clb_dec_rescale(d, s, mode, &want);
        int grc = clb_dec_from_double(v, s, mode, &got);
        if (wrc != CLB_OK) {
            /* out of the reference's reach (more than 18 decimals): only
             * check that a success is at the scale */
            cr_assert(grc != CLB_OK || got.scale == s, "%s", buf);
            continue;
        }
        cr_assert_eq(grc, CLB_OK, "%.17g at %d (%d): %s", v, s, (int)mode, clb_strerror(grc));
        cr_assert(same(got, want), "%.17g at scale %d mode %d: {%" PRId64 ",%d}, want {%" PRId64
                  ",%d}", v, s, (int)mode, got.m, got.scale, want.m, want.scale);
    }
}

/* A decimal with at most 15 significant digits survives decimal -> double
 * -> decimal exactly; with more, the result is the nearest at the scale. */
Test(decimal, property_from_double_round_trip)
{
    uint64_t seed = 12;
    for (int i = 0; i < ITERS; i++) {
        clb_dec d = rand_dec(&seed, 15, 18);
        if (d.m >= 1000000000000000ll || d.m <= -1000000000000000ll)
            continue; /* the random extremes have 19 digits */
        double v = clb_dec_to_double(d);
        clb_dec back = SENTINEL;
        cr_assert_eq(clb_dec_from_double(v, d.scale, CLB_ROUND_EXACT, &back), CLB_OK);
        cr_assert(same(back, d), "{%" PRId64 ",%d} -> %.17g -> {%" PRId64 ",%d}", d.m, d.scale,
                  v, back.m, back.scale);
        /* Rounding to fewer digits agrees with exact decimal rounding. */
        int s = (int)(splitmix64(&seed) % (uint64_t)(d.scale + 1));
        enum clb_round mode = (enum clb_round)(splitmix64(&seed) % 3);
        clb_dec want = SENTINEL;
        back = SENTINEL;
        cr_assert_eq(clb_dec_rescale(d, s, mode, &want), CLB_OK);
        cr_assert_eq(clb_dec_from_double(v, s, mode, &back), CLB_OK);
        cr_assert(same(back, want));
    }
}
