/*
 * decimal.c — exact fixed-point decimals (int64 mantissa, scale 0..18).
 *
 * Design:
 * - Every intermediate that could exceed int64 is computed in 128 bits
 *   (gcc's __int128): aligning two operands to a common scale needs at most
 *   2^63 * 10^18 < 2^127, and so does a product of two mantissas. Results are
 *   narrowed back to int64 with an explicit check (CLB_EOVERFLOW).
 * - Rounding is done once, on magnitudes, by round_div(): an unsigned
 *   quotient, its remainder and the sign decide floor / ceiling / nearest
 *   (ties away from zero) / exact.
 * - Parsing never uses strtod or the locale. A fast path takes the common
 *   [+-]digits[.digits] with at most 19 digits and 18 decimals in one plain
 *   multiply-add loop (no overflow is possible). Anything else is re-read by
 *   the general pass, where the mantissa accumulates in a uint64 while runs
 *   of zeros are only counted ("pending zeros") and multiplied in when a
 *   non-zero digit follows, so "0.1000000000000000000000" does not overflow.
 *   The written scale is (fractional digits - exponent); above 18, trailing
 *   zeros are dropped only as far as needed to reach 18 (CLB_EPRECISION if a
 *   non-zero digit would be lost); below 0 the value is scaled up to scale 0.
 *   So "5.000e3" is {5000, 0} and "10000000000.000000000" is CLB_EOVERFLOW
 *   (10^19 at scale 9) although 10^10 alone would fit. "1." and ".5" are
 *   rejected (Binance never sends them): a digit is required on both sides of
 *   the point and after the exponent marker. When both errors apply,
 *   CLB_EPRECISION wins over CLB_EOVERFLOW.
 * - clb_dec_to_double is correctly rounded: small mantissas use one IEEE
 *   division of two exact doubles; large ones divide in 128-bit integers and
 *   round to 53 bits by hand (half to even, with a sticky remainder).
 * - clb_dec_from_double decides on the shortest decimal that round-trips the
 *   double: it prints 15 significant digits ("%.14e") and keeps them if
 *   strtod gives back the same double, else tries 16, then 17 (which always
 *   round-trips). The 15-digit print is the nearest 15-digit decimal, and any
 *   shorter round-tripping decimal is that one with its zeros removed (a
 *   normal double's half-ulp is < 1.2e-16 relative, a 15-digit half-step
 *   >= 5e-16), so the result is the shortest. (Subnormals may keep extra
 *   digits; they lie far below 10^-18 and round the same.) The digits are
 *   read back by hand, skipping whatever radix character the locale printed,
 *   then rounded to the requested scale exactly in integers. So 0.1 is
 *   {1, 1}, and 0.1 + 0.2 (0.30000000000000004) at scale 2 is 0.30 with
 *   NEAREST. Rounding applies to that decimal, not to the binary value:
 *   2.675 (binary 2.67499999...) becomes 2.68 with NEAREST at scale 2.
 * - clb_dec_quantize always returns step.scale: a multiple of step never
 *   needs more fractional digits than step has, so nothing is lost.
 * - Arguments outside the contract (NULL pointers, a scale outside 0..18, an
 *   unknown rounding mode) give CLB_EINVAL from functions that return an
 *   error; the functions that cannot report one clamp the scale.
 */
#include "decimal.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

__extension__ typedef __int128 i128;
__extension__ typedef unsigned __int128 u128;

#define U63 ((uint64_t)1 << 63) /* |INT64_MIN| */

static const uint64_t p10[20] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
    10000000000000000ull,
    100000000000000000ull,
    1000000000000000000ull,
    10000000000000000000ull,
};

/* 10^e for 0 <= e <= 38. */
static u128 pow10_u128(int e)
{
    if (e <= 19)
        return p10[e];
    return (u128)p10[19] * pow10_u128(e - 19);
}

static bool scale_ok(int scale)
{
    return scale >= 0 && scale <= CLB_DEC_MAX_SCALE;
}

static bool mode_ok(enum clb_round mode)
{
    return (unsigned)mode <= (unsigned)CLB_ROUND_EXACT;
}

static int clamp_scale(int32_t scale)
{
    return scale < 0 ? 0 : scale > CLB_DEC_MAX_SCALE ? CLB_DEC_MAX_SCALE : (int)scale;
}

static uint64_t mag64(int64_t m)
{
    return m < 0 ? 0 - (uint64_t)m : (uint64_t)m;
}

/* Narrows a sign and magnitude to int64. */
static int to_i64(u128 mag, bool neg, int64_t *m)
{
    if (neg) {
        if (mag > U63)
            return CLB_EOVERFLOW;
        *m = mag == U63 ? INT64_MIN : -(int64_t)mag;
    } else {
        if (mag > (u128)INT64_MAX)
            return CLB_EOVERFLOW;
        *m = (int64_t)mag;
    }
    return CLB_OK;
}

/* *q = |value| rounded, where value = (neg ? -1 : 1) * num / den, den > 0.
 * Returns CLB_EPRECISION under CLB_ROUND_EXACT when den does not divide num. */
static int round_div(u128 num, u128 den, bool neg, enum clb_round mode, u128 *q)
{
    u128 quot = num / den, rem = num % den;
    if (rem != 0) {
        switch (mode) {
        case CLB_ROUND_DOWN:
            quot += neg;
            break;
        case CLB_ROUND_UP:
            quot += !neg;
            break;
        case CLB_ROUND_NEAREST:
            quot += rem >= den - rem;
            break;
        default:
            return CLB_EPRECISION;
        }
    }
    *q = quot;
    return CLB_OK;
}

clb_dec clb_dec_make(int64_t m, int scale)
{
    assert(scale_ok(scale));
    return (clb_dec){ .m = m, .scale = scale };
}

/* ---- parsing ----------------------------------------------------------- */

/* The common case, tried first: [+-]digits[.digits] with at most 19 digits
 * in all (so the plain accumulator cannot overflow uint64) and at most 18
 * after the point. Returns false, writing nothing, for anything else. */
static bool parse_plain(const char *p, const char *end, bool neg, clb_dec *out)
{
    uint64_t acc = 0;
    const char *start = p;
    unsigned d;
    while (p < end && (d = (unsigned)(unsigned char)*p - '0') <= 9) {
        acc = acc * 10 + d; /* may wrap with > 19 digits: rejected below */
        p++;
    }
    ptrdiff_t nint = p - start, nfrac = 0;
    if (nint == 0)
        return false;
    if (p < end && *p == '.') {
        const char *frac = ++p;
        while (p < end && (d = (unsigned)(unsigned char)*p - '0') <= 9) {
            acc = acc * 10 + d;
            p++;
        }
        nfrac = p - frac;
        if (nfrac == 0)
            return false;
    }
    if (p != end || nint + nfrac > 19 || nfrac > CLB_DEC_MAX_SCALE)
        return false;
    if (acc > (neg ? U63 : (uint64_t)INT64_MAX))
        return false;
    out->m = neg ? (acc == U63 ? INT64_MIN : -(int64_t)acc) : (int64_t)acc;
    out->scale = (int32_t)nfrac;
    return true;
}

/* The general pass's mantissa: significant digits with the zeros since the
 * last non-zero digit held back. */
struct mantissa {
    uint64_t acc;  /* digits up to the last non-zero one */
    int64_t zeros; /* zeros seen since then, not yet in acc */
    bool ovf;      /* acc no longer fits: the result cannot either */
};

/* Feeds the digits at p into mt; returns the first non-digit. */
static const char *mantissa_digits(struct mantissa *mt, const char *p, const char *end)
{
    for (; p < end; p++) {
        unsigned d = (unsigned)(unsigned char)*p - '0';
        if (d > 9)
            break;
        if (d == 0) {
            mt->zeros++;
            continue;
        }
        if (mt->acc == 0) {
            mt->acc = d; /* leading zeros do not count */
        } else if (mt->zeros >= 19 ||
                   __builtin_mul_overflow(mt->acc, p10[mt->zeros + 1], &mt->acc) ||
                   __builtin_add_overflow(mt->acc, d, &mt->acc)) {
            mt->ovf = true;
            mt->acc = 1; /* any non-zero value: only `zeros` matters now */
        }
        mt->zeros = 0;
    }
    return p;
}

/* Exponent magnitudes are saturated here; anything this large already
 * guarantees CLB_EOVERFLOW or CLB_EPRECISION for a non-zero mantissa. */
#define EXP_SATURATE 1000000000000ll

int clb_dec_parse(const char *s, size_t len, clb_dec *out)
{
    if (!out || (!s && len))
        return CLB_EINVAL;
    if (len == 0)
        return CLB_EPARSE;
    const char *p = s, *end = s + len;
    bool neg = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
    }
    if (parse_plain(p, end, neg, out))
        return CLB_OK;
    struct mantissa mt = { 0, 0, false };
    int64_t nfrac = 0;
    const char *digits = p;
    p = mantissa_digits(&mt, p, end);
    if (p == digits)
        return CLB_EPARSE;
    if (p < end && *p == '.') {
        digits = ++p;
        p = mantissa_digits(&mt, p, end);
        nfrac = p - digits;
        if (nfrac == 0)
            return CLB_EPARSE;
    }

    int64_t exp = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < end && (*p == '-' || *p == '+')) {
            eneg = *p == '-';
            p++;
        }
        digits = p;
        for (; p < end; p++) {
            unsigned d = (unsigned)(unsigned char)*p - '0';
            if (d > 9)
                break;
            if (exp < EXP_SATURATE)
                exp = exp * 10 + d;
        }
        if (p == digits)
            return CLB_EPARSE;
        if (eneg)
            exp = -exp;
    }
    if (p != end)
        return CLB_EPARSE;

    int64_t written = nfrac - exp; /* scale as written, after the exponent */
    int64_t scale = written < 0 ? 0 : written > CLB_DEC_MAX_SCALE ? CLB_DEC_MAX_SCALE : written;
    if (mt.acc == 0) {
        *out = (clb_dec){ .m = 0, .scale = (int32_t)scale };
        return CLB_OK;
    }
    int64_t min_scale = written - mt.zeros; /* all trailing zeros dropped */
    if (min_scale > CLB_DEC_MAX_SCALE)
        return CLB_EPRECISION;
    if (mt.ovf)
        return CLB_EOVERFLOW;
    int64_t grow = scale - min_scale; /* zeros to put back (>= 0) */
    uint64_t mag;
    if (grow > 19 || __builtin_mul_overflow(mt.acc, p10[grow], &mag))
        return CLB_EOVERFLOW;
    if (mag > (neg ? U63 : (uint64_t)INT64_MAX))
        return CLB_EOVERFLOW;
    out->m = neg ? (mag == U63 ? INT64_MIN : -(int64_t)mag) : (int64_t)mag;
    out->scale = (int32_t)scale;
    return CLB_OK;
}

int clb_dec_parse_cstr(const char *s, clb_dec *out)
{
    if (!s)
        return CLB_EINVAL;
    return clb_dec_parse(s, strlen(s), out);
}

/* ---- formatting -------------------------------------------------------- */

static const char digit_pairs[201] = "00010203040506070809"
                                     "10111213141516171819"
                                     "20212223242526272829"
                                     "30313233343536373839"
                                     "40414243444546474849"
                                     "50515253545556575859"
                                     "60616263646566676869"
                                     "70717273747576777879"
                                     "80818283848586878889"
                                     "90919293949596979899";

int clb_dec_format(clb_dec d, char *buf, size_t cap)
{
    if (!scale_ok(d.scale) || (!buf && cap))
        return CLB_EINVAL;
    /* The magnitude's digits, two at a time, zero-padded to scale + 1. */
    char digits[24];
    char *p = digits + sizeof(digits);
    uint64_t mag = mag64(d.m);
    while (mag >= 100) {
        const char *pair = digit_pairs + (mag % 100) * 2;
        mag /= 100;
        *--p = pair[1];
        *--p = pair[0];
    }
    if (mag >= 10) {
        *--p = digit_pairs[mag * 2 + 1];
        *--p = digit_pairs[mag * 2];
    } else {
        *--p = (char)('0' + mag);
    }
    int nd = (int)(digits + sizeof(digits) - p);
    while (nd <= d.scale) {
        *--p = '0';
        nd++;
    }
    int nint = nd - d.scale;
    size_t len = (size_t)(d.m < 0) + (size_t)nint + (d.scale ? 1 + (size_t)d.scale : 0);
    if (len + 1 > cap)
        return CLB_ERANGE;
    char *o = buf;
    if (d.m < 0)
        *o++ = '-';
    memcpy(o, p, (size_t)nint);
    o += nint;
    if (d.scale) {
        *o++ = '.';
        memcpy(o, p + nint, (size_t)d.scale);
        o += d.scale;
    }
    *o = '\0';
    return (int)len;
}

/* ---- comparison and arithmetic ------------------------------------------ */

/* a and b as 128-bit mantissas at the common scale max(a.scale, b.scale).
 * Scales must be valid (or clamped). */
static int align(clb_dec a, clb_dec b, i128 *x, i128 *y)
{
    int sa = clamp_scale(a.scale), sb = clamp_scale(b.scale);
    *x = a.m;
    *y = b.m;
    if (sa < sb)
        *x *= (i128)p10[sb - sa];
    else if (sb < sa)
        *y *= (i128)p10[sa - sb];
    return sa > sb ? sa : sb;
}

int clb_dec_cmp(clb_dec a, clb_dec b)
{
    if (a.scale == b.scale)
        return (a.m > b.m) - (a.m < b.m);
    i128 x, y;
    align(a, b, &x, &y);
    return (x > y) - (x < y);
}

static int narrow(i128 v, int scale, clb_dec *out)
{
    if (v > INT64_MAX || v < INT64_MIN)
        return CLB_EOVERFLOW;
    out->m = (int64_t)v;
    out->scale = scale;
    return CLB_OK;
}

int clb_dec_add(clb_dec a, clb_dec b, clb_dec *out)
{
    if (!out || !scale_ok(a.scale) || !scale_ok(b.scale))
        return CLB_EINVAL;
    if (a.scale == b.scale) {
        int64_t r;
        if (__builtin_add_overflow(a.m, b.m, &r))
            return CLB_EOVERFLOW;
        *out = (clb_dec){ .m = r, .scale = a.scale };
        return CLB_OK;
    }
    i128 x, y;
    int scale = align(a, b, &x, &y);
    return narrow(x + y, scale, out);
}

int clb_dec_sub(clb_dec a, clb_dec b, clb_dec *out)
{
    if (!out || !scale_ok(a.scale) || !scale_ok(b.scale))
        return CLB_EINVAL;
    if (a.scale == b.scale) {
        int64_t r;
        if (__builtin_sub_overflow(a.m, b.m, &r))
            return CLB_EOVERFLOW;
        *out = (clb_dec){ .m = r, .scale = a.scale };
        return CLB_OK;
    }
    i128 x, y;
    int scale = align(a, b, &x, &y);
    return narrow(x - y, scale, out);
}

int clb_dec_mul(clb_dec a, clb_dec b, clb_dec *out)
{
    if (!out || !scale_ok(a.scale) || !scale_ok(b.scale))
        return CLB_EINVAL;
    int scale = a.scale + b.scale;
    int64_t r;
    if (scale <= CLB_DEC_MAX_SCALE) {
        if (__builtin_mul_overflow(a.m, b.m, &r))
            return CLB_EOVERFLOW;
        *out = (clb_dec){ .m = r, .scale = scale };
        return CLB_OK;
    }
    /* Scale above 18: drop trailing zeros, but only down to 18. */
    bool neg = (a.m < 0) != (b.m < 0);
    u128 mag = (u128)mag64(a.m) * mag64(b.m);
    int drop = scale - CLB_DEC_MAX_SCALE;
    u128 q = mag / p10[drop];
    if (q * p10[drop] != mag)
        return CLB_EPRECISION;
    int rc = to_i64(q, neg, &r);
    if (rc != CLB_OK)
        return rc;
    *out = (clb_dec){ .m = r, .scale = CLB_DEC_MAX_SCALE };
    return CLB_OK;
}

int clb_dec_neg(clb_dec a, clb_dec *out)
{
    if (!out || !scale_ok(a.scale))
        return CLB_EINVAL;
    if (a.m == INT64_MIN)
        return CLB_EOVERFLOW;
    *out = (clb_dec){ .m = -a.m, .scale = a.scale };
    return CLB_OK;
}

int clb_dec_div(clb_dec a, clb_dec b, int scale, enum clb_round mode, clb_dec *out)
{
    if (!out || b.m == 0 || !scale_ok(scale) || !scale_ok(a.scale) || !scale_ok(b.scale) ||
        !mode_ok(mode))
        return CLB_EINVAL;
    /* result mantissa = a.m * 10^(scale + b.scale - a.scale) / b.m */
    int e = scale + b.scale - a.scale; /* -18..36 */
    u128 num = mag64(a.m), den = mag64(b.m);
    if (e >= 0) {
        u128 f = pow10_u128(e);
        /* num * f beyond 2^128 means a quotient beyond 2^128 / 2^63. */
        if (num != 0 && num > ~(u128)0 / f)
            return CLB_EOVERFLOW;
        num *= f;
    } else {
        den *= p10[-e];
    }
    bool neg = (a.m < 0) != (b.m < 0);
    u128 q;
    int64_t r;
    int rc = round_div(num, den, neg, mode, &q);
    if (rc == CLB_OK)
        rc = to_i64(q, neg, &r);
    if (rc != CLB_OK)
        return rc;
    *out = (clb_dec){ .m = r, .scale = scale };
    return CLB_OK;
}

int clb_dec_rescale(clb_dec d, int scale, enum clb_round mode, clb_dec *out)
{
    if (!out || !scale_ok(scale) || !scale_ok(d.scale) || !mode_ok(mode))
        return CLB_EINVAL;
    int64_t r;
    if (scale >= d.scale) {
        if (__builtin_mul_overflow(d.m, (int64_t)p10[scale - d.scale], &r))
            return CLB_EOVERFLOW;
    } else {
        bool neg = d.m < 0;
        u128 q;
        int rc = round_div(mag64(d.m), p10[d.scale - scale], neg, mode, &q);
        if (rc == CLB_OK)
            rc = to_i64(q, neg, &r);
        if (rc != CLB_OK)
            return rc;
    }
    *out = (clb_dec){ .m = r, .scale = scale };
    return CLB_OK;
}

clb_dec clb_dec_normalize(clb_dec d)
{
    int scale = clamp_scale(d.scale);
    int64_t m = d.m;
    if (m == 0)
        return (clb_dec){ .m = 0, .scale = 0 };
    while (scale > 0 && m % 10 == 0) {
        m /= 10;
        scale--;
    }
    return (clb_dec){ .m = m, .scale = scale };
}

int clb_dec_quantize(clb_dec d, clb_dec step, enum clb_round mode, clb_dec *out)
{
    if (!out || step.m <= 0 || !scale_ok(d.scale) || !scale_ok(step.scale) || !mode_ok(mode))
        return CLB_EINVAL;
    /* k = d / step rounded; result = k * step at step.scale, which holds any
     * multiple of step exactly. */
    i128 x, y;
    align(d, step, &x, &y);
    bool neg = x < 0;
    u128 k;
    int64_t r;
    int rc = round_div(neg ? (u128)0 - (u128)x : (u128)x, (u128)y, neg, mode, &k);
    if (rc != CLB_OK)
        return rc;
    if (k > UINT64_MAX)
        return CLB_EOVERFLOW;
    rc = to_i64(k * (uint64_t)step.m, neg, &r);
    if (rc != CLB_OK)
        return rc;
    *out = (clb_dec){ .m = r, .scale = step.scale };
    return CLB_OK;
}

bool clb_dec_is_multiple(clb_dec d, clb_dec step)
{
    if (step.m <= 0)
        return false;
    i128 x, y;
    align(d, step, &x, &y);
    return x % y == 0;
}

int clb_dec_to_scaled(clb_dec d, int scale, int64_t *out)
{
    if (!out)
        return CLB_EINVAL;
    clb_dec r;
    int rc = clb_dec_rescale(d, scale, CLB_ROUND_EXACT, &r);
    if (rc == CLB_OK)
        *out = r.m;
    return rc;
}

/* ---- doubles ------------------------------------------------------------ */

static const double p10d[CLB_DEC_MAX_SCALE + 1] = {
    1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
    1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18,
};

double clb_dec_to_double(clb_dec d)
{
    int scale = clamp_scale(d.scale);
    uint64_t q = mag64(d.m);
    /* Both operands exact: one correctly rounded IEEE operation. The int64
     * to double conversion alone is correctly rounded at scale 0. */
    if (q <= (1ull << 53) || scale == 0)
        return (double)d.m / p10d[scale];
    /* q / 10^scale with q >= 2^53: a 128-bit quotient of at least 58 bits,
     * rounded to 53 bits, half to even, the remainder acting as sticky bit. */
    u128 num = (u128)q << 64;
    u128 quot = num / p10[scale];
    bool sticky = num % p10[scale] != 0;
    uint64_t hi = (uint64_t)(quot >> 64);
    int bits = hi ? 128 - __builtin_clzll(hi) : 64 - __builtin_clzll((uint64_t)quot);
    int shift = bits - 53;
    uint64_t top = (uint64_t)(quot >> shift);
    u128 rest = quot & (((u128)1 << shift) - 1);
    u128 half = (u128)1 << (shift - 1);
    if (rest > half || (rest == half && (sticky || (top & 1))))
        top++;
    double v = ldexp((double)top, shift - 64);
    return d.m < 0 ? -v : v;
}

/* Reads "[-]d<radix>ddd...e[+-]xx" as printed by "%.*e": the significant
 * digits into *digits (at most 17), their count, and the exponent. The radix
 * character is whatever the locale printed: any non-digit before 'e'. */
static void read_sci(const char *s, uint64_t *digits, int *ndigits, int *exp10)
{
    uint64_t acc = 0;
    int n = 0;
    if (*s == '-')
        s++;
    for (; *s && *s != 'e' && *s != 'E'; s++) {
        if (*s >= '0' && *s <= '9') {
            acc = acc * 10 + (uint64_t)(*s - '0');
            n++;
        }
    }
    int e = 0;
    bool eneg = false;
    if (*s)
        s++;
    if (*s == '-' || *s == '+')
        eneg = *s++ == '-';
    for (; *s >= '0' && *s <= '9'; s++)
        e = e * 10 + (*s - '0');
    *digits = acc;
    *ndigits = n;
    *exp10 = eneg ? -e : e;
}

/* The common case of clb_dec_from_double without printf/strtod (~1 us warm,
 * ~20 us cold, where this is a few ns): x = v * 10^scale in double
 * arithmetic. The decimal D the slow path decides on (the shortest that
 * round-trips v) and the product each differ from the exact value by at
 * most half an ulp, so |x - D * 10^scale| <= 2.3e-16 |x|. When x's
 * fractional part is farther than that from every point where the mode's
 * answer changes (the integers for DOWN and UP, the half-way point for
 * NEAREST), D rounds to the same integer as x; otherwise, and for EXACT,
 * scales above 15 or |x| >= 4e15, the slow path decides. */
static bool from_double_fast(double v, int scale, enum clb_round mode, clb_dec *out)
{
    if (mode == CLB_ROUND_EXACT || scale > 15)
        return false;
    double x = v * p10d[scale];
    double ax = fabs(x);
    if (!(ax < 4e15))
        return false;
    double fl = floor(x), frac = x - fl; /* both exact below 2^52 */
    double tol = ax * 4e-16 + 1e-9;
    double m;
    if (mode == CLB_ROUND_NEAREST) {
        if (fabs(frac - 0.5) <= tol)
            return false;
        m = frac < 0.5 ? fl : fl + 1;
    } else {
        if (frac <= tol || frac >= 1 - tol)
            return false;
        m = mode == CLB_ROUND_DOWN ? fl : fl + 1;
    }
    *out = (clb_dec){ .m = (int64_t)m, .scale = scale };
    return true;
}

int clb_dec_from_double(double v, int scale, enum clb_round mode, clb_dec *out)
{
    if (!out || !isfinite(v) || !scale_ok(scale) || !mode_ok(mode))
        return CLB_EINVAL;
    if (from_double_fast(v, scale, mode, out))
        return CLB_OK;
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof(buf), "%.*e", prec - 1, v);
        if (prec == 17 || strtod(buf, NULL) == v)
            break;
    }
    uint64_t digits;
    int nd, e10;
    read_sci(buf, &digits, &nd, &e10);
    bool neg = v < 0;
    int64_t r;
    if (digits == 0) {
        *out = (clb_dec){ .m = 0, .scale = scale };
        return CLB_OK;
    }
    while (digits % 10 == 0) {
        digits /= 10;
        nd--;
    }
    /* value = digits * 10^(e10 - nd + 1); mantissa at `scale`: */
    int k = e10 - nd + 1 + scale;
    u128 mag;
    if (k >= 0) {
        if (k > 19)
            return CLB_EOVERFLOW; /* digits >= 1 */
        mag = (u128)digits * p10[k];
    } else {
        /* digits < 10^17: any k below -38 rounds exactly like k = -38. */
        int rc = round_div(digits, pow10_u128(k < -38 ? 38 : -k), neg, mode, &mag);
        if (rc != CLB_OK)
            return rc;
    }
    int rc = to_i64(mag, neg, &r);
    if (rc != CLB_OK)
        return rc;
    *out = (clb_dec){ .m = r, .scale = scale };
    return CLB_OK;
}
