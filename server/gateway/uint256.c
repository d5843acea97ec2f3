/*
 * uint256.c — 256-bit unsigned arithmetic and text conversions (see
 * uint256.h).
 *
 * Values are loaded into four 64-bit limbs, least significant first;
 * products use the compiler's 128-bit integers. Division is plain binary
 * long division (256 or 512 steps): amounts are converted a handful of
 * times per request, never on a hot path.
 */
#include "uint256.h"

#include <string.h>

#include "error.h"

__extension__ typedef unsigned __int128 u128;

struct u256 {
    uint64_t l[4]; /* l[0] least significant */
};

static void load(struct u256 *x, const uint8_t v[CLB_U256_LEN])
{
    for (int i = 0; i < 4; i++) {
        uint64_t w = 0;
        for (int j = 0; j < 8; j++)
            w = (w << 8) | v[(3 - i) * 8 + j];
        x->l[i] = w;
    }
}

static void store(const struct u256 *x, uint8_t v[CLB_U256_LEN])
{
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++)
            v[(3 - i) * 8 + j] = (uint8_t)(x->l[i] >> (8 * (7 - j)));
}

static int cmp(const struct u256 *a, const struct u256 *b)
{
    for (int i = 3; i >= 0; i--)
        if (a->l[i] != b->l[i])
            return a->l[i] < b->l[i] ? -1 : 1;
    return 0;
}

static bool is_zero(const struct u256 *a)
{
    return (a->l[0] | a->l[1] | a->l[2] | a->l[3]) == 0;
}

/* a += b; returns the carry out. */
static uint64_t add_in(struct u256 *a, const struct u256 *b)
{
    uint64_t carry = 0;
    for (int i = 0; i < 4; i++) {
        u128 s = (u128)a->l[i] + b->l[i] + carry;
        a->l[i] = (uint64_t)s;
        carry = (uint64_t)(s >> 64);
    }
    return carry;
}

/* a -= b (mod 2^256); returns the borrow out. */
static uint64_t sub_in(struct u256 *a, const struct u256 *b)
{
    uint64_t borrow = 0;
    for (int i = 0; i < 4; i++) {
        uint64_t x = a->l[i], y = b->l[i];
        uint64_t d = x - y - borrow;
        borrow = (x < y) || (x == y && borrow) ? 1 : 0;
        a->l[i] = d;
    }
    return borrow;
}

/* a = a * m + add (small factors); returns the limb that overflowed. */
static uint64_t mul_small_add(struct u256 *a, uint64_t m, uint64_t add)
{
    uint64_t carry = add;
    for (int i = 0; i < 4; i++) {
        u128 p = (u128)a->l[i] * m + carry;
        a->l[i] = (uint64_t)p;
        carry = (uint64_t)(p >> 64);
    }
    return carry;
}

/* a /= d; returns the remainder. d != 0. */
static uint64_t div_small(struct u256 *a, uint64_t d)
{
    u128 rem = 0;
    for (int i = 3; i >= 0; i--) {
        u128 cur = (rem << 64) | a->l[i];
        a->l[i] = (uint64_t)(cur / d);
        rem = cur % d;
    }
    return (uint64_t)rem;
}

/* 512-bit product of a and b into p[0..8). */
static void mul_full(const struct u256 *a, const struct u256 *b, uint64_t p[8])
{
    memset(p, 0, 8 * sizeof(p[0]));
    for (int i = 0; i < 4; i++) {
        uint64_t carry = 0;
        for (int j = 0; j < 4; j++) {
            u128 t = (u128)a->l[i] * b->l[j] + p[i + j] + carry;
            p[i + j] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        p[i + 4] = carry;
    }
}

/* Long division of the nlimbs-limb numerator n by d (non-zero): quotient
 * limbs into q (nlimbs), remainder into *r. */
static void long_div(const uint64_t *n, int nlimbs, const struct u256 *d, uint64_t *q,
                     struct u256 *r)
{
    memset(r, 0, sizeof(*r));
    memset(q, 0, (size_t)nlimbs * sizeof(q[0]));
    for (int bit = nlimbs * 64 - 1; bit >= 0; bit--) {
        uint64_t top = r->l[3] >> 63;
        for (int i = 3; i > 0; i--)
            r->l[i] = (r->l[i] << 1) | (r->l[i - 1] >> 63);
        r->l[0] = (r->l[0] << 1) | ((n[bit / 64] >> (bit % 64)) & 1);
        if (top || cmp(r, d) >= 0) {
            sub_in(r, d); /* wraps correctly when top was set */
            q[bit / 64] |= (uint64_t)1 << (bit % 64);
        }
    }
}

void clb_u256_from_u64(uint8_t v[CLB_U256_LEN], uint64_t x)
{
    memset(v, 0, CLB_U256_LEN);
    for (int i = 0; i < 8; i++)
        v[31 - i] = (uint8_t)(x >> (8 * i));
}

int clb_u256_to_u64(const uint8_t v[CLB_U256_LEN], uint64_t *x)
{
    struct u256 a;
    load(&a, v);
    if (a.l[1] | a.l[2] | a.l[3])
        return CLB_ERANGE;
    *x = a.l[0];
    return CLB_OK;
}

bool clb_u256_is_zero(const uint8_t v[CLB_U256_LEN])
{
    uint8_t acc = 0;
    for (int i = 0; i < CLB_U256_LEN; i++)
        acc |= v[i];
    return acc == 0;
}

int clb_u256_cmp(const uint8_t a[CLB_U256_LEN], const uint8_t b[CLB_U256_LEN])
{
    int c = memcmp(a, b, CLB_U256_LEN);
    return c < 0 ? -1 : c > 0 ? 1 : 0;
}

int clb_u256_add(uint8_t out[CLB_U256_LEN], const uint8_t a[CLB_U256_LEN],
                 const uint8_t b[CLB_U256_LEN])
{
    struct u256 x, y;
    load(&x, a);
    load(&y, b);
    if (add_in(&x, &y))
        return CLB_EOVERFLOW;
    store(&x, out);
    return CLB_OK;
}

int clb_u256_sub(uint8_t out[CLB_U256_LEN], const uint8_t a[CLB_U256_LEN],
                 const uint8_t b[CLB_U256_LEN])
{
    struct u256 x, y;
    load(&x, a);
    load(&y, b);
    if (sub_in(&x, &y))
        return CLB_EOVERFLOW;
    store(&x, out);
    return CLB_OK;
}

int clb_u256_mul(uint8_t out[CLB_U256_LEN], const uint8_t a[CLB_U256_LEN],
                 const uint8_t b[CLB_U256_LEN])
{
    struct u256 x, y, z;
    uint64_t p[8];
    load(&x, a);
    load(&y, b);
    mul_full(&x, &y, p);
    if (p[4] | p[5] | p[6] | p[7])
        return CLB_EOVERFLOW;
    memcpy(z.l, p, sizeof(z.l));
    store(&z, out);
    return CLB_OK;
}

int clb_u256_divmod(uint8_t q[CLB_U256_LEN], uint8_t r[CLB_U256_LEN],
                    const uint8_t a[CLB_U256_LEN], const uint8_t b[CLB_U256_LEN])
{
    struct u256 x, d, qq, rr;
    load(&x, a);
    load(&d, b);
    if (is_zero(&d))
        return CLB_EINVAL;
    long_div(x.l, 4, &d, qq.l, &rr);
    if (q)
        store(&qq, q);
    if (r)
        store(&rr, r);
    return CLB_OK;
}

int clb_u256_mul_div(uint8_t out[CLB_U256_LEN], const uint8_t a[CLB_U256_LEN],
                     const uint8_t num[CLB_U256_LEN], const uint8_t den[CLB_U256_LEN])
{
    struct u256 x, y, d, r, z;
    uint64_t p[8], q[8];
    load(&x, a);
    load(&y, num);
    load(&d, den);
    if (is_zero(&d))
        return CLB_EINVAL;
    mul_full(&x, &y, p);
    long_div(p, 8, &d, q, &r);
    if (q[4] | q[5] | q[6] | q[7])
        return CLB_EOVERFLOW;
    memcpy(z.l, q, sizeof(z.l));
    store(&z, out);
    return CLB_OK;
}

int clb_u256_from_dec(const char *s, unsigned decimals, uint8_t out[CLB_U256_LEN])
{
    if (decimals > CLB_U256_MAX_DECIMALS)
        return CLB_EINVAL;
    if (!s)
        return CLB_EPARSE;
    struct u256 x = { { 0 } };
    size_t ndigits = 0;
    unsigned frac = 0;
    bool seen_point = false, lost = false;
    for (const char *p = s; *p; p++) {
        if (*p == '.') {
            if (seen_point)
                return CLB_EPARSE;
            seen_point = true;
            continue;
        }
        if (*p < '0' || *p > '9')
            return CLB_EPARSE;
        ndigits++;
        if (seen_point) {
            if (frac == decimals) {
                if (*p != '0')
                    lost = true;
                continue;
            }
            frac++;
        }
        if (mul_small_add(&x, 10, (uint64_t)(*p - '0')))
            return CLB_EOVERFLOW;
    }
    if (ndigits == 0)
        return CLB_EPARSE;
    if (lost)
        return CLB_EPRECISION;
    for (; frac < decimals; frac++)
        if (mul_small_add(&x, 10, 0))
            return CLB_EOVERFLOW;
    store(&x, out);
    return CLB_OK;
}

int clb_u256_to_dec(const uint8_t v[CLB_U256_LEN], unsigned decimals, char *out, size_t cap)
{
    if (decimals > CLB_U256_MAX_DECIMALS)
        return CLB_EINVAL;
    char digits[80];
    size_t n = 0;
    struct u256 x;
    load(&x, v);
    do {
        digits[n++] = (char)('0' + div_small(&x, 10));
    } while (!is_zero(&x));
    while (n <= decimals) /* at least one integer digit */
        digits[n++] = '0';
    /* digits[] is least significant first: drop trailing fractional zeros */
    size_t skip = 0;
    while (skip < decimals && digits[skip] == '0')
        skip++;
    size_t int_digits = n - decimals, frac_digits = decimals - skip;
    size_t need = int_digits + (frac_digits ? frac_digits + 1 : 0) + 1;
    if (!out || cap < need) {
        if (out && cap)
            out[0] = '\0';
        return CLB_EFULL;
    }
    size_t o = 0;
    for (size_t i = n; i > decimals; i--)
        out[o++] = digits[i - 1];
    if (frac_digits) {
        out[o++] = '.';
        for (size_t i = decimals; i > skip; i--)
            out[o++] = digits[i - 1];
    }
    out[o] = '\0';
    return CLB_OK;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int clb_u256_from_hex(const char *s, uint8_t out[CLB_U256_LEN])
{
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
        return CLB_EPARSE;
    s += 2;
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return CLB_EPARSE;
    uint8_t v[CLB_U256_LEN] = { 0 };
    for (size_t i = 0; i < n; i++) {
        int d = hexval(s[n - 1 - i]);
        if (d < 0)
            return CLB_EPARSE;
        v[31 - i / 2] |= (uint8_t)(d << (4 * (i % 2)));
    }
    memcpy(out, v, CLB_U256_LEN);
    return CLB_OK;
}

int clb_u256_to_hex(const uint8_t v[CLB_U256_LEN], char *out, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    char buf[CLB_U256_HEX_MAX];
    size_t o = 0;
    buf[o++] = '0';
    buf[o++] = 'x';
    bool started = false;
    for (int i = 0; i < 64; i++) {
        int d = (v[i / 2] >> (i % 2 ? 0 : 4)) & 15;
        if (d || started || i == 63) {
            buf[o++] = hex[d];
            started = true;
        }
    }
    buf[o] = '\0';
    if (!out || cap < o + 1) {
        if (out && cap)
            out[0] = '\0';
        return CLB_EFULL;
    }
    memcpy(out, buf, o + 1);
    return CLB_OK;
}
