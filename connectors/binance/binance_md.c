/*
 * binance_md.c — the zero-copy Binance market-data parser (binance_md.h).
 *
 * One pass over the bytes. The members of an event object are classified by
 * key; every known member's value start is remembered (a "span"), the value
 * is validated by skipping it, and the fields are interpreted once the
 * object is closed and its type ("e") is known. Two members are interpreted
 * during the pass because they are the bulk of the work: "s" (the symbol
 * gives the scales) and the level lists "b"/"a" ("bids"/"asks"), which are
 * converted straight into the parser's level arrays when the symbol is
 * already known (Binance sends "s" first). When they come before "s" they
 * are parsed from their span at the end: any key order works, the usual one
 * touches every byte once.
 *
 * Semantic errors inside a value (a bad price, too many levels) are
 * recorded, and the value is then skipped for syntax only: a syntax error
 * anywhere wins over every semantic error.
 *
 * Speed: a level written exactly as Binance writes it
 * (["67000.01000000","0.12345000"]) is read with 8-byte loads (SWAR digit
 * checks and conversion, little-endian only) and no per-byte bound checks;
 * anything else (spaces, escapes, other digit counts, any error) falls back
 * to the general byte-by-byte path, which alone decides what is an error.
 * Strings are scanned 8 bytes at a time, keys compared in place.
 */
#include "binance_md.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MAX_DEPTH 64
#define DEC_SLOW_MAX 256 /* decoded length of an escaped decimal string */

/* ---- JSON syntax --------------------------------------------------------- */

static inline const char *skip_ws(const char *c, const char *end)
{
    /* one compare in the usual case: every structural character is > ' ' */
    while (c < end && (unsigned char)*c <= ' ' &&
           (*c == ' ' || *c == '\n' || *c == '\r' || *c == '\t'))
        c++;
    return c;
}

static inline bool is_digit(char ch)
{
    return (unsigned)(ch - '0') < 10u;
}

static const uint64_t POW10[19] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull, 100000000ull,
    1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull, 10000000000000ull,
    100000000000000ull, 1000000000000000ull, 10000000000000000ull, 100000000000000000ull,
    1000000000000000000ull
};

/* Eight ASCII digits (first digit in the lowest byte) to their value. */
static inline uint64_t swar8(uint64_t v)
{
    v = (v & 0x0F0F0F0F0F0F0F0Full) * 2561 >> 8;
    v = (v & 0x00FF00FF00FF00FFull) * 6553601 >> 16;
    return (v & 0x0000FFFF0000FFFFull) * 42949672960001ull >> 32;
}

static inline bool swar8_all_digits(uint64_t v)
{
    return ((v & 0xF0F0F0F0F0F0F0F0ull) |
            (((v + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) ==
           0x3333333333333333ull;
}

/* Marks (0x80) the bytes of w that end a run of plain string characters:
 * '"', '\\', control (< 0x20) and non-ASCII (>= 0x80) bytes. Borrows can
 * mark bytes after the first marked one, never before: the lowest mark is
 * exact. */
static inline uint64_t swar_special(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
    return (((q - ones) & ~q) | ((b - ones) & ~b) | ((w - ones * 0x20) & ~w) | w) &
           0x8080808080808080ull;
}

/* The first byte at or after p that ends a plain run (end if none). */
static inline const char *plain_run_end(const char *p, const char *end)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (end - p >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t m = swar_special(w);
        if (m)
            return p + (__builtin_ctzll(m) >> 3);
        p += 8;
    }
#endif
    while (p < end) {
        unsigned u = (unsigned char)*p;
        if (u < 0x20 || u >= 0x80 || u == '"' || u == '\\')
            break;
        p++;
    }
    return p;
}

static int hex4(const char *c, const char *end, uint32_t *out)
{
    if (end - c < 4)
        return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = c[i];
        uint32_t d;
        if (ch >= '0' && ch <= '9')
            d = (uint32_t)(ch - '0');
        else if (ch >= 'a' && ch <= 'f')
            d = (uint32_t)(ch - 'a' + 10);
        else if (ch >= 'A' && ch <= 'F')
            d = (uint32_t)(ch - 'A' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Validates one UTF-8 sequence starting at a byte >= 0x80; returns its end
 * or NULL (overlong forms, surrogates and code points beyond U+10FFFF are
 * invalid). */
static const char *utf8_skip(const char *c, const char *end, uint32_t *cp_out)
{
    unsigned b0 = (unsigned char)*c;
    uint32_t cp;
    int n;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
        n = 1;
        cp = b0 & 0x1F;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
        n = 2;
        cp = b0 & 0x0F;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
        n = 3;
        cp = b0 & 0x07;
    } else {
        return NULL;
    }
    if (end - c <= n)
        return NULL;
    for (int i = 1; i <= n; i++) {
        unsigned b = (unsigned char)c[i];
        if ((b & 0xC0) != 0x80)
            return NULL;
        cp = cp << 6 | (b & 0x3F);
    }
    if (n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF)))
        return NULL;
    if (n == 3 && (cp < 0x10000 || cp > 0x10FFFF))
        return NULL;
    *cp_out = cp;
    return c + n + 1;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Scans the string starting at the quote at c; returns the byte after the
 * closing quote or NULL (syntax error). When buf is not NULL the decoded
 * bytes are written to it up to cap (the first min(len, cap) bytes of the
 * decoded string, a UTF-8 sequence may be cut); *len_out gets the full
 * decoded length. */
static const char *scan_string(const char *c, const char *end, char *buf, size_t cap,
                               size_t *len_out)
{
    size_t len = 0;
    c++;
    for (;;) {
        /* a run of plain ASCII characters */
        const char *run = c;
        c = plain_run_end(c, end);
        if (c != run) {
            size_t k = (size_t)(c - run);
            if (buf && len < cap)
                memcpy(buf + len, run, k < cap - len ? k : cap - len);
            len += k;
        }
        if (c >= end)
            return NULL;
        unsigned ch = (unsigned char)*c;
        if (ch == '"')
            break;
        if (ch < 0x20)
            return NULL;
        uint32_t cp;
        if (ch >= 0x80) {
            const char *n = utf8_skip(c, end, &cp);
            if (!n)
                return NULL;
            for (; c < n; c++, len++)
                if (buf && len < cap)
                    buf[len] = *c;
            continue;
        }
        /* backslash */
        if (end - c < 2)
            return NULL;
        char e = c[1];
        c += 2;
        switch (e) {
        case '"': cp = '"'; break;
        case '\\': cp = '\\'; break;
        case '/': cp = '/'; break;
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u':
            if (hex4(c, end, &cp) != 0)
                return NULL;
            c += 4;
            if (cp == 0)
                return NULL; /* jansson rejects \u0000 */
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return NULL;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (end - c < 6 || c[0] != '\\' || c[1] != 'u' || hex4(c + 2, end, &lo) != 0 ||
                    lo < 0xDC00 || lo > 0xDFFF)
                    return NULL;
                c += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            break;
        default:
            return NULL;
        }
        char tmp[4];
        size_t k = put_utf8(tmp, cp);
        for (size_t i = 0; i < k; i++, len++)
            if (buf && len < cap)
                buf[len] = tmp[i];
    }
    if (len_out)
        *len_out = len;
    return c + 1;
}

/* A string at c read in place when it has no escape or non-ASCII byte
 * (*str points into the input), else decoded into buf (as scan_string; *str
 * = buf). Returns the end or NULL. */
static inline const char *scan_string_view(const char *c, const char *end, char *buf, size_t cap,
                                           const char **str, size_t *len)
{
    const char *p = plain_run_end(c + 1, end);
    if (p < end && *p == '"') {
        *str = c + 1;
        *len = (size_t)(p - c - 1);
        return p + 1;
    }
    *str = buf;
    return scan_string(c, end, buf, cap, len);
}

/* A real that overflows a double is an error in jansson (strtod ERANGE). */
static bool real_fits(const char *s, const char *e)
{
    size_t n = (size_t)(e - s);
    if (n < 128) {
        char tmp[128];
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        errno = 0;
        double v = strtod(tmp, NULL);
        return !((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE);
    }
    /* Long tokens: safe when there is no exponent and fewer than 300
     * integer digits; anything else is refused (jansson may accept it). */
    size_t int_digits = 0;
    for (const char *c = s; c < e; c++) {
        if (*c == 'e' || *c == 'E')
            return false;
        if (*c == '.')
            break;
        if (is_digit(*c))
            int_digits++;
    }
    return int_digits < 300;
}

/* Scans a JSON number; *is_int and *ival are set for integers (which must
 * fit int64, as in jansson). Returns the end or NULL. */
static const char *scan_number(const char *c, const char *end, bool *is_int, int64_t *ival)
{
    const char *s = c;
    bool neg = false;
    if (c < end && *c == '-') {
        neg = true;
        c++;
    }
    if (c >= end || !is_digit(*c))
        return NULL;
    uint64_t mag = 0;
    bool big = false;
    if (*c == '0') {
        c++;
    } else {
        const char *ds = c;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t w;
        if (end - c >= 8 && (memcpy(&w, c, 8), swar8_all_digits(w))) {
            mag = swar8(w); /* ids and times: 10 to 13 digits */
            c += 8;
        }
#endif
        while (c < end && is_digit(*c) && c - ds < 19)
            mag = mag * 10 + (uint64_t)(*c++ - '0'); /* < 10^19: no overflow */
        while (c < end && is_digit(*c)) {
            uint64_t d = (uint64_t)(*c - '0');
            if (mag > (UINT64_MAX - d) / 10)
                big = true;
            else
                mag = mag * 10 + d;
            c++;
        }
    }
    bool real = false;
    if (c < end && *c == '.') {
        real = true;
        c++;
        if (c >= end || !is_digit(*c))
            return NULL;
        while (c < end && is_digit(*c))
            c++;
    }
    if (c < end && (*c == 'e' || *c == 'E')) {
        real = true;
        c++;
        if (c < end && (*c == '+' || *c == '-'))
            c++;
        if (c >= end || !is_digit(*c))
            return NULL;
        while (c < end && is_digit(*c))
            c++;
    }
    if (!real) {
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (big || mag > limit)
            return NULL;
        *is_int = true;
        *ival = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        return c;
    }
    if (!real_fits(s, c))
        return NULL;
    *is_int = false;
    *ival = 0;
    return c;
}

static const char *skip_lit(const char *c, const char *end, const char *lit, size_t n)
{
    if ((size_t)(end - c) < n || memcmp(c, lit, n) != 0)
        return NULL;
    return c + n;
}

static const char *skip_value(const char *c, const char *end, int depth);

static const char *skip_object(const char *c, const char *end, int depth)
{
    if (depth > MAX_DEPTH)
        return NULL;
    c = skip_ws(c + 1, end);
    if (c < end && *c == '}')
        return c + 1;
    for (;;) {
        if (c >= end || *c != '"')
            return NULL;
        c = scan_string(c, end, NULL, 0, NULL);
        if (!c)
            return NULL;
        c = skip_ws(c, end);
        if (c >= end || *c != ':')
            return NULL;
        c = skip_value(skip_ws(c + 1, end), end, depth);
        if (!c)
            return NULL;
        c = skip_ws(c, end);
        if (c >= end)
            return NULL;
        if (*c == '}')
            return c + 1;
        if (*c != ',')
            return NULL;
        c = skip_ws(c + 1, end);
    }
}

static const char *skip_array(const char *c, const char *end, int depth)
{
    if (depth > MAX_DEPTH)
        return NULL;
    c = skip_ws(c + 1, end);
    if (c < end && *c == ']')
        return c + 1;
    for (;;) {
        c = skip_value(c, end, depth);
        if (!c)
            return NULL;
        c = skip_ws(c, end);
        if (c >= end)
            return NULL;
        if (*c == ']')
            return c + 1;
        if (*c != ',')
            return NULL;
        c = skip_ws(c + 1, end);
    }
}

/* Skips one value at c (no leading whitespace); depth is that of the
 * enclosing container. */
static const char *skip_value(const char *c, const char *end, int depth)
{
    if (c >= end)
        return NULL;
    switch (*c) {
    case '"':
        return scan_string(c, end, NULL, 0, NULL);
    case '{':
        return skip_object(c, end, depth + 1);
    case '[':
        return skip_array(c, end, depth + 1);
    case 't':
        return skip_lit(c, end, "true", 4);
    case 'f':
        return skip_lit(c, end, "false", 5);
    case 'n':
        return skip_lit(c, end, "null", 4);
    default: {
        bool is_int;
        int64_t v;
        return scan_number(c, end, &is_int, &v);
    }
    }
}

/* ---- decimal strings --------------------------------------------------- */

/* Converts decimal text (no quotes) at `scale`: format, then precision,
 * then overflow decide the error. */
static int dec_from_bytes(const char *s, size_t n, int scale, int64_t *out)
{
    uint64_t m = 0;
    int frac = -1, nd = 0;
    bool fmt = false, prec = false, ovf = false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (is_digit(ch)) {
            uint64_t d = (uint64_t)(ch - '0');
            nd++;
            if (frac >= 0) {
                if (frac >= scale) {
                    prec |= d != 0;
                    continue;
                }
                frac++;
            }
            if (m > ((uint64_t)INT64_MAX - d) / 10)
                ovf = true;
            else
                m = m * 10 + d;
        } else if (ch == '.' && frac < 0 && nd > 0) {
            frac = 0;
            nd = 0;
        } else {
            fmt = true;
        }
    }
    if (nd == 0 || fmt)
        return CLB_EPARSE;
    if (prec)
        return CLB_EPRECISION;
    if (ovf)
        return CLB_EOVERFLOW;
    for (int f = frac < 0 ? 0 : frac; f < scale; f++) {
        if (m > (uint64_t)INT64_MAX / 10)
            return CLB_EOVERFLOW;
        m *= 10;
    }
    *out = (int64_t)m;
    return CLB_OK;
}

static const char *parse_dec_str_slow(const char *c, const char *end, int scale, int64_t *out,
                                      int *err);

/* Parses the decimal string value at c (a quote expected). Returns the end
 * of the string; on a semantic error NULL with *err set; on a syntax error
 * NULL with *err = 0. The fast path takes the exchange's usual form
 * ("67000.01000000": up to 18 digits at the scale, no escapes) and hands
 * everything else to the general path, which decides every error. */
static inline __attribute__((always_inline)) const char *
parse_dec_str(const char *c, const char *end, int scale, int64_t *out, int *err)
{
    if (c >= end || *c != '"') {
        *err = CLB_EPARSE;
        return NULL;
    }
    const char *p = c + 1;
    uint64_t m = 0;
    const char *s = p;
    if (end - p >= 2 && is_digit(p[0]) && !is_digit(p[1])) {
        m = (uint64_t)(p[0] - '0'); /* one digit, as in most quantities */
        p++;
    }
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    else if (end - p >= 8) {
        /* Integer part of up to 7 digits in one load: per byte 0x33 where
         * the byte is a digit (carries only corrupt bytes after the first
         * non-digit, which are not used). */
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t cls = (w & 0xF0F0F0F0F0F0F0F0ull) |
                       (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4);
        uint64_t nd = cls ^ 0x3333333333333333ull;
        if (nd != 0) {
            int n = __builtin_ctzll(nd) >> 3; /* digits before the first non-digit */
            if (n > 0)
                m = swar8(w << (8 * (8 - n)));
            p += n;
        }
    }
#endif
    while (p < end && is_digit(*p))
        m = m * 10 + (uint64_t)(*p++ - '0');
    int int_len = (int)(p - s);
    if (int_len == 0 || int_len + scale > 18 || p >= end)
        return parse_dec_str_slow(c, end, scale, out, err);
    int taken = 0;
    if (*p == '.') {
        p++;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t w;
        if (end - p > 8 && (memcpy(&w, p, 8), swar8_all_digits(w)) && p[8] == '"') {
            /* exactly eight fractional digits: Binance's form */
            if (scale < 8) {
                uint64_t beyond = ~0ull << (8 * scale); /* digits at positions >= scale */
                if (((w - 0x3030303030303030ull) & beyond) != 0)
                    return parse_dec_str_slow(c, end, scale, out, err);
                w = scale ? w << (8 * (8 - scale)) : 0;
                m = m * POW10[scale] + (scale ? swar8(w) : 0);
            } else {
                m = m * POW10[8] + swar8(w) ;
                m *= POW10[scale - 8];
            }
            *out = (int64_t)m;
            return p + 9;
        }
#endif
        const char *f = p;
        while (p < end && is_digit(*p) && taken < scale) {
            m = m * 10 + (uint64_t)(*p++ - '0');
            taken++;
        }
        while (p < end && *p == '0')
            p++;
        if (p == f || p >= end)
            return parse_dec_str_slow(c, end, scale, out, err);
    }
    if (*p != '"')
        return parse_dec_str_slow(c, end, scale, out, err);
    *out = (int64_t)(m * POW10[scale - taken]);
    return p + 1;
}

static const char *parse_dec_str_slow(const char *c, const char *end, int scale, int64_t *out,
                                      int *err)
{
    if (c >= end || *c != '"') {
        *err = CLB_EPARSE;
        return NULL;
    }
    const char *q = c;
    c++;
    uint64_t m = 0;
    int frac = -1, nd = 0;
    bool fmt = false, prec = false, ovf = false;
    for (;; c++) {
        if (c >= end) {
            *err = 0;
            return NULL;
        }
        unsigned ch = (unsigned char)*c;
        uint64_t d = ch - '0';
        if (d < 10) {
            nd++;
            if (frac >= 0) {
                if (frac >= scale) {
                    prec |= d != 0;
                    continue;
                }
                frac++;
            }
            if (m > ((uint64_t)INT64_MAX - d) / 10)
                ovf = true;
            else
                m = m * 10 + d;
            continue;
        }
        if (ch == '"')
            break;
        if (ch == '.' && frac < 0 && nd > 0) {
            frac = 0;
            nd = 0;
            continue;
        }
        if (ch == '\\' || ch >= 0x80 || ch < 0x20) {
            /* Rare: decode the string, then convert the decoded text. */
            char buf[DEC_SLOW_MAX];
            size_t len;
            const char *e = scan_string(q, end, buf, sizeof(buf), &len);
            if (!e) {
                *err = 0;
                return NULL;
            }
            int rc = len > sizeof(buf) ? CLB_EPARSE : dec_from_bytes(buf, len, scale, out);
            if (rc != CLB_OK) {
                *err = rc;
                return NULL;
            }
            return e;
        }
        fmt = true;
    }
    int rc = CLB_OK;
    if (nd == 0 || fmt)
        rc = CLB_EPARSE;
    else if (prec)
        rc = CLB_EPRECISION;
    else if (ovf)
        rc = CLB_EOVERFLOW;
    for (int f = frac < 0 ? 0 : frac; rc == CLB_OK && f < scale; f++) {
        if (m > (uint64_t)INT64_MAX / 10)
            rc = CLB_EOVERFLOW;
        m *= 10;
    }
    if (rc != CLB_OK) {
        *err = rc;
        return NULL;
    }
    *out = (int64_t)m;
    return c + 1;
}

/* ---- level lists --------------------------------------------------------- */

/* One level [price, qty, ...] at c. Returns its end; NULL with *err set on
 * a semantic error, NULL with *err = 0 on a syntax error. */
static inline __attribute__((always_inline)) const char *
parse_level(const char *c, const char *end, int ps, int qs, struct clb_level *lv, int *err)
{
    if (*c != '[') {
        *err = CLB_EPARSE;
        return NULL;
    }
    c = skip_ws(c + 1, end);
    c = parse_dec_str(c, end, ps, &lv->price, err);
    if (!c)
        return NULL;
    if (lv->price <= 0) {
        *err = CLB_EPARSE;
        return NULL;
    }
    c = skip_ws(c, end);
    if (c >= end || *c != ',') {
        *err = CLB_EPARSE; /* fewer than two elements (or a syntax error) */
        return NULL;
    }
    c = parse_dec_str(skip_ws(c + 1, end), end, qs, &lv->qty, err);
    if (!c)
        return NULL;
    c = skip_ws(c, end);
    while (c < end && *c == ',') {
        c = skip_value(skip_ws(c + 1, end), end, 2);
        if (!c) {
            *err = 0;
            return NULL;
        }
        c = skip_ws(c, end);
    }
    if (c >= end || *c != ']') {
        *err = 0;
        return NULL;
    }
    return c + 1;
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
/* Binance's exact decimal form at p (after the opening quote): 1 to 7
 * integer digits, '.', exactly 8 digits, the closing quote; digits beyond
 * `scale` zeros. 18 readable bytes at p. Returns the byte after the quote,
 * or NULL for anything else (the general path then decides). */
static inline __attribute__((always_inline)) const char *
dec_binance(const char *p, int scale, int64_t *out)
{
    uint64_t w, f;
    memcpy(&w, p, 8);
    uint64_t nd = ((w & 0xF0F0F0F0F0F0F0F0ull) |
                   (((w + 0x0606060606060606ull) & 0xF0F0F0F0F0F0F0F0ull) >> 4)) ^
                  0x3333333333333333ull;
    if (nd == 0)
        return NULL;
    int n = __builtin_ctzll(nd) >> 3;
    if (n == 0 || p[n] != '.' || n + scale > 18)
        return NULL;
    memcpy(&f, p + n + 1, 8);
    if (!swar8_all_digits(f) || p[n + 9] != '"')
        return NULL;
    uint64_t frac;
    if (scale < 8) {
        if (((f - 0x3030303030303030ull) & (~0ull << (8 * scale))) != 0)
            return NULL;
        frac = scale ? swar8(f << (8 * (8 - scale))) : 0;
    } else {
        frac = swar8(f) * POW10[scale - 8];
    }
    *out = (int64_t)(swar8(w << (8 * (8 - n))) * POW10[scale] + frac);
    return p + n + 10;
}

/* A level written exactly as Binance does, ["p.pppppppp","q.qqqqqqqq"],
 * with 48 readable bytes at c: no bound checks. NULL for anything else
 * (including a zero price), and the general parse_level takes over. */
static inline const char *parse_level_binance(const char *c, int ps, int qs,
                                              struct clb_level *lv)
{
    if (c[0] != '[' || c[1] != '"')
        return NULL;
    const char *p = dec_binance(c + 2, ps, &lv->price);
    if (!p || p[0] != ',' || p[1] != '"' || lv->price <= 0)
        return NULL;
    p = dec_binance(p + 2, qs, &lv->qty);
    if (!p || p[0] != ']')
        return NULL;
    return p + 1;
}
#endif

/* Parses the level list at c ('[' expected, checked by the caller) into
 * out[0..max). Returns the end, or NULL on a syntax error; *err gets the
 * first semantic error (0 when none) and *n_out the levels stored. */
static const char *parse_levels(const char *c, const char *end, int ps, int qs,
                                struct clb_level *out, uint32_t max, uint32_t *n_out, int *err)
{
    uint32_t n = 0;
    int e = 0;
    c = skip_ws(c + 1, end);
    if (c < end && *c == ']') {
        *n_out = 0;
        *err = 0;
        return c + 1;
    }
    for (;;) {
        if (c >= end)
            return NULL;
        if (e == 0) {
            /* Parsed in place (a copy through a local would stall on
             * store forwarding: two 8-byte stores, one 16-byte load). */
            struct clb_level spare;
            struct clb_level *dst = n < max ? &out[n] : &spare;
            int le = 0;
            const char *nx = NULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            if (end - c >= 48)
                nx = parse_level_binance(c, ps, qs, dst);
            if (!nx)
#endif
                nx = parse_level(c, end, ps, qs, dst, &le);
            if (nx) {
                if (n < max)
                    n++;
                else
                    e = CLB_ERANGE;
                c = nx;
            } else {
                c = skip_value(c, end, 1);
                if (!c)
                    return NULL;
                e = le ? le : CLB_EPARSE;
            }
        } else {
            c = skip_value(c, end, 1);
            if (!c)
                return NULL;
        }
        c = skip_ws(c, end);
        if (c >= end)
            return NULL;
        if (*c == ']')
            break;
        if (*c != ',')
            return NULL;
        c = skip_ws(c + 1, end);
    }
    *n_out = n;
    *err = e;
    return c + 1;
}

/* ---- objects --------------------------------------------------------------- */

enum field {
    F_E,      /* e */
    F_ETIME,  /* E */
    F_S,      /* s */
    F_FIRST,  /* U */
    F_LAST,   /* u */
    F_B,      /* b, bids */
    F_A,      /* a, asks */
    F_TID,    /* t */
    F_P,      /* p */
    F_Q,      /* q */
    F_TTIME,  /* T */
    F_M,      /* m */
    F_LASTID, /* lastUpdateId */
    F_DATA,   /* data (top level of a stream message) */
    F_COUNT,
    F_NONE = F_COUNT
};

enum obj_mode { M_TOP, M_INNER, M_SNAPSHOT };

struct obj_state {
    uint32_t seen;             /* fields present: span[f] is valid when bit f is set */
    const char *span[F_COUNT]; /* start of each member's (last) value */
    int market;                /* from "s": registered index, -1 otherwise */
    int lv_market[2];          /* scales the levels were parsed at, -1 = parse at the end */
    uint32_t lv_n[2];
    int lv_err[2];
    bool data_seen;
    int data_rc;               /* M_TOP: outcome of the (last) "data" object */
    uint32_t int_mask;         /* fields whose (last) value is a JSON integer */
    int64_t ival[F_COUNT];     /* ... and that integer */
};

static inline const char *span_of(const struct obj_state *st, enum field f)
{
    return st->seen & (1u << f) ? st->span[f] : NULL;
}

static enum field classify(const char *k, size_t n, enum obj_mode mode)
{
    if (mode == M_SNAPSHOT) {
        if (n == 4 && memcmp(k, "bids", 4) == 0)
            return F_B;
        if (n == 4 && memcmp(k, "asks", 4) == 0)
            return F_A;
        if (n == 12 && memcmp(k, "lastUpdateId", 12) == 0)
            return F_LASTID;
        return F_NONE;
    }
    if (n == 1) {
        switch (k[0]) {
        case 'e': return F_E;
        case 'E': return F_ETIME;
        case 's': return F_S;
        case 'U': return F_FIRST;
        case 'u': return F_LAST;
        case 'b': return F_B;
        case 'a': return F_A;
        case 't': return F_TID;
        case 'p': return F_P;
        case 'q': return F_Q;
        case 'T': return F_TTIME;
        case 'm': return F_M;
        default: return F_NONE;
        }
    }
    if (mode == M_TOP && n == 4 && memcmp(k, "data", 4) == 0)
        return F_DATA;
    return F_NONE;
}

int clb_binance_md_find_market(const struct clb_binance_md *p, const char *symbol, size_t len)
{
    for (uint32_t i = 0; i < p->n_markets; i++) {
        const struct clb_binance_md_market *m = &p->markets[i];
        if (m->symbol_len == len && memcmp(m->symbol, symbol, len) == 0)
            return (int)i;
    }
    return -1;
}

/* The non-negative integer value of field f (read during the pass). */
static int field_uint(const struct obj_state *st, enum field f, uint64_t *out)
{
    if (!(st->seen & st->int_mask & (1u << f)) || st->ival[f] < 0)
        return CLB_EPARSE;
    *out = (uint64_t)st->ival[f];
    return CLB_OK;
}

static int span_levels(struct clb_binance_md *p, struct obj_state *st, int side, const char *end)
{
    const char *s = span_of(st, side == 0 ? F_B : F_A);
    if (!s || *s != '[')
        return CLB_EPARSE;
    if (st->lv_market[side] != st->market) {
        const struct clb_binance_md_market *m = &p->markets[st->market];
        struct clb_level *out = side == 0 ? p->bids : p->asks;
        if (!parse_levels(s, end, m->price_scale, m->qty_scale, out, p->max_levels,
                          &st->lv_n[side], &st->lv_err[side]))
            return CLB_EPARSE; /* cannot happen: the span was validated */
        st->lv_market[side] = st->market;
    }
    return st->lv_err[side];
}

static int span_dec(const char *s, const char *end, int scale, int64_t *out)
{
    if (!s)
        return CLB_EPARSE;
    int err = 0;
    if (!parse_dec_str(s, end, scale, out, &err))
        return err ? err : CLB_EPARSE;
    return CLB_OK;
}

/* Interprets a closed event object. */
static int finish_event(struct clb_binance_md *p, struct obj_state *st, const char *end,
                        struct clb_binance_md_msg *out)
{
    memset(out, 0, sizeof(*out));
    out->market = -1;
    out->type = CLB_BINANCE_MD_OTHER;
    const char *e = span_of(st, F_E);
    if (e) {
        if (*e != '"')
            return CLB_EPARSE;
        char name[CLB_BINANCE_MD_EVENT_MAX];
        size_t len;
        scan_string(e, end, name, sizeof(name) - 1, &len);
        if (len == 11 && memcmp(name, "depthUpdate", 11) == 0)
            out->type = CLB_BINANCE_MD_DEPTH;
        else if (len == 5 && memcmp(name, "trade", 5) == 0)
            out->type = CLB_BINANCE_MD_TRADE;
        size_t k = len < sizeof(name) - 1 ? len : sizeof(name) - 1;
        memcpy(out->event, name, k);
        out->event[k] = '\0';
    }
    if (out->type == CLB_BINANCE_MD_OTHER)
        return CLB_OK;
    uint64_t v;
    int rc = field_uint(st, F_ETIME, &v);
    if (rc != CLB_OK)
        return rc;
    out->event_time_ms = (int64_t)v;
    if (!span_of(st, F_S) || *span_of(st, F_S) != '"')
        return CLB_EPARSE;
    if (st->market < 0)
        return CLB_ENOTFOUND;
    out->market = st->market;
    if (out->type == CLB_BINANCE_MD_DEPTH) {
        struct clb_binance_md_depth *d = &out->u.depth;
        if ((rc = field_uint(st, F_FIRST, &d->first_update_id)) != CLB_OK ||
            (rc = field_uint(st, F_LAST, &d->last_update_id)) != CLB_OK ||
            (rc = span_levels(p, st, 0, end)) != CLB_OK ||
            (rc = span_levels(p, st, 1, end)) != CLB_OK)
            return rc;
        d->bids = p->bids;
        d->n_bids = st->lv_n[0];
        d->asks = p->asks;
        d->n_asks = st->lv_n[1];
        return CLB_OK;
    }
    struct clb_binance_md_trade *t = &out->u.trade;
    const struct clb_binance_md_market *m = &p->markets[st->market];
    if ((rc = field_uint(st, F_TID, &t->trade_id)) != CLB_OK ||
        (rc = span_dec(span_of(st, F_P), end, m->price_scale, &t->price)) != CLB_OK ||
        (rc = span_dec(span_of(st, F_Q), end, m->qty_scale, &t->qty)) != CLB_OK)
        return rc;
    if (t->price <= 0 || t->qty <= 0)
        return CLB_EPARSE;
    if ((rc = field_uint(st, F_TTIME, &v)) != CLB_OK)
        return rc;
    t->trade_time_ms = (int64_t)v;
    const char *mm = span_of(st, F_M);
    if (!mm || (*mm != 't' && *mm != 'f'))
        return CLB_EPARSE;
    t->buyer_is_maker = *mm == 't';
    return CLB_OK;
}

static void state_reset(struct obj_state *st, int market)
{
    /* field by field: a memset of the whole struct (ival included) costs
     * more than the rest of a small message's header */
    st->seen = 0;
    st->market = market;
    st->lv_market[0] = st->lv_market[1] = -1;
    st->lv_n[0] = st->lv_n[1] = 0;
    st->lv_err[0] = st->lv_err[1] = 0;
    st->data_seen = false;
    st->data_rc = CLB_OK;
    st->int_mask = 0;
}

/* Parses the object at c ('{' expected) member by member. In M_TOP the
 * "data" member is parsed as an event object into *msg (its outcome in
 * st->data_rc). Returns the end or NULL on a syntax error. */
static const char *parse_object(struct clb_binance_md *p, const char *c, const char *end,
                                enum obj_mode mode, struct obj_state *st,
                                struct clb_binance_md_msg *msg)
{
    int depth = mode == M_INNER ? 2 : 1;
    c = skip_ws(c + 1, end);
    if (c < end && *c == '}')
        return c + 1;
    for (;;) {
        if (c >= end || *c != '"')
            return NULL;
        char kbuf[16];
        const char *key;
        size_t klen;
        if (end - c >= 3 && c[2] == '"' && (unsigned char)c[1] >= 0x20 &&
            (unsigned char)c[1] < 0x80 && c[1] != '"' && c[1] != '\\') {
            key = c + 1; /* a one-character key, as in every Binance event */
            klen = 1;
            c += 3;
        } else {
            c = scan_string_view(c, end, kbuf, sizeof(kbuf), &key, &klen);
            if (!c)
                return NULL;
        }
        enum field f = klen <= sizeof(kbuf) ? classify(key, klen, mode) : F_NONE;
        c = skip_ws(c, end);
        if (c >= end || *c != ':')
            return NULL;
        c = skip_ws(c + 1, end);
        if (c >= end)
            return NULL;
        const char *v = c;
        if (f == F_DATA) {
            st->data_seen = true;
            if (*v == '{') {
                struct obj_state in;
                state_reset(&in, -1);
                c = parse_object(p, v, end, M_INNER, &in, NULL);
                if (!c)
                    return NULL;
                st->data_rc = finish_event(p, &in, end, msg);
            } else {
                c = skip_value(v, end, depth);
                st->data_rc = CLB_EPARSE;
            }
        } else if (f == F_S && *v == '"') {
            char sbuf[CLB_BINANCE_MD_SYMBOL_MAX];
            const char *sym;
            size_t len;
            c = scan_string_view(v, end, sbuf, sizeof(sbuf), &sym, &len);
            st->market = c && len <= sizeof(sbuf) ? clb_binance_md_find_market(p, sym, len) : -1;
        } else if ((f == F_B || f == F_A) && *v == '[' && st->market >= 0 &&
                   !(mode == M_TOP && st->data_seen)) {
            int side = f == F_B ? 0 : 1;
            const struct clb_binance_md_market *m = &p->markets[st->market];
            c = parse_levels(v, end, m->price_scale, m->qty_scale, side == 0 ? p->bids : p->asks,
                             p->max_levels, &st->lv_n[side], &st->lv_err[side]);
            st->lv_market[side] = st->market;
        } else {
            bool is_int = false;
            if (f != F_NONE && (*v == '-' || is_digit(*v)))
                c = scan_number(v, end, &is_int, &st->ival[f]); /* ids, times: kept */
            else
                c = skip_value(v, end, depth);
            if (f != F_NONE) {
                if (is_int)
                    st->int_mask |= 1u << f;
                else
                    st->int_mask &= ~(1u << f);
            }
            if (f == F_S)
                st->market = -1;
            else if (f == F_B || f == F_A)
                st->lv_market[f == F_B ? 0 : 1] = -1;
        }
        if (!c)
            return NULL;
        if (f != F_NONE) {
            st->span[f] = v;
            st->seen |= 1u << f;
        }
        c = skip_ws(c, end);
        if (c >= end)
            return NULL;
        if (*c == '}')
            return c + 1;
        if (*c != ',')
            return NULL;
        c = skip_ws(c + 1, end);
    }
}

/* ---- the exact form Binance sends ------------------------------------------ */

/* The literal lit at c, or NULL. */
static inline const char *expect(const char *c, const char *end, const char *lit, size_t n)
{
    return (size_t)(end - c) >= n && memcmp(c, lit, n) == 0 ? c + n : NULL;
}

/* A JSON integer 0..INT64_MAX written plainly (no sign, no leading zero)
 * and followed by `,`: its end (at the comma) or NULL. */
static inline const char *fast_uint(const char *c, const char *end, int64_t *out)
{
    const char *s = c;
    uint64_t v = 0;
    while (c < end && is_digit(*c) && c - s < 18)
        v = v * 10 + (uint64_t)(*c++ - '0');
    if (c == s || c >= end || *c != ',' || (*s == '0' && c - s > 1))
        return NULL; /* 19 digits and more, reals, exponents: the general path */
    *out = (int64_t)v;
    return c;
}

/* A level list at c ('[' checked by the caller) in Binance's form: levels
 * separated by bare commas, no whitespace. Its end or NULL. */
static inline const char *fast_levels(const char *c, const char *end, int ps, int qs,
                                      struct clb_level *out, uint32_t max, size_t *n_out)
{
    uint32_t n = 0;
    c++;
    if (c < end && *c == ']') {
        *n_out = 0;
        return c + 1;
    }
    for (;;) {
        if (n == max || c >= end)
            return NULL;
        const char *nx = NULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        if (end - c >= 48)
            nx = parse_level_binance(c, ps, qs, &out[n]);
        if (!nx)
#endif
        {
            int err = 0;
            nx = parse_level(c, end, ps, qs, &out[n], &err);
            if (!nx)
                return NULL;
        }
        n++;
        c = nx;
        if (c >= end)
            return NULL;
        if (*c == ']')
            break;
        if (*c != ',')
            return NULL;
        c++;
    }
    *n_out = n;
    return c + 1;
}

/* A depthUpdate exactly as Binance writes it, raw or in the combined-stream
 * envelope: {"stream":"...","data":{"e":"depthUpdate","E":..,"s":"..","U":..,
 * "u":..,"b":[..],"a":[..]}} with no whitespace, plain strings, plain
 * integers and Binance's decimal strings. Fills *out and returns true when
 * the whole message is that and valid; false for anything else (another
 * layout, an unknown symbol, any error), and the general parser, which
 * alone reports errors, then reads it from the start. What it accepts the
 * general parser reads the same way. */
static bool parse_depth_fast(struct clb_binance_md *p, const char *c, const char *end,
                             struct clb_binance_md_msg *out)
{
    static const char env[] = "{\"stream\":\"";
    static const char ev[] = "{\"e\":\"depthUpdate\",\"E\":";
    bool wrapped = false;
    const char *q = expect(c, end, env, sizeof(env) - 1);
    if (q) {
        q = plain_run_end(q, end);
        if (q >= end || *q != '"' ||
            !(q = expect(q, end, "\",\"data\":", 9)))
            return false;
        wrapped = true;
    } else {
        q = c;
    }
    int64_t etime, first, last;
    if (!(q = expect(q, end, ev, sizeof(ev) - 1)) || !(q = fast_uint(q, end, &etime)) ||
        !(q = expect(q, end, ",\"s\":\"", 6)))
        return false;
    const char *sym = q;
    q = plain_run_end(q, end);
    if (q >= end || *q != '"')
        return false;
    int market = clb_binance_md_find_market(p, sym, (size_t)(q - sym));
    if (market < 0 || !(q = expect(q, end, "\",\"U\":", 6)) ||
        !(q = fast_uint(q, end, &first)) || !(q = expect(q, end, ",\"u\":", 5)) ||
        !(q = fast_uint(q, end, &last)) || !(q = expect(q, end, ",\"b\":[", 6)))
        return false;
    const struct clb_binance_md_market *m = &p->markets[market];
    size_t nb, na;
    if (!(q = fast_levels(q - 1, end, m->price_scale, m->qty_scale, p->bids, p->max_levels,
                          &nb)) ||
        !(q = expect(q, end, ",\"a\":[", 6)) ||
        !(q = fast_levels(q - 1, end, m->price_scale, m->qty_scale, p->asks, p->max_levels,
                          &na)) ||
        !(q = expect(q, end, "}", 1)) || (wrapped && !(q = expect(q, end, "}", 1))) ||
        skip_ws(q, end) != end)
        return false;
    memset(out, 0, sizeof(*out));
    out->type = CLB_BINANCE_MD_DEPTH;
    out->market = market;
    out->event_time_ms = etime;
    memcpy(out->event, "depthUpdate", 12);
    out->u.depth.first_update_id = (uint64_t)first;
    out->u.depth.last_update_id = (uint64_t)last;
    out->u.depth.bids = p->bids;
    out->u.depth.n_bids = nb;
    out->u.depth.asks = p->asks;
    out->u.depth.n_asks = na;
    return true;
}

int clb_binance_md_parse(struct clb_binance_md *p, const char *data, size_t len,
                         struct clb_binance_md_msg *out)
{
    if (!p || !data || !out)
        return CLB_EINVAL;
    const char *end = data + len;
    const char *c = skip_ws(data, end);
    if (c >= end || *c != '{')
        return CLB_EPARSE;
    if (parse_depth_fast(p, c, end, out))
        return CLB_OK;
    struct obj_state st;
    state_reset(&st, -1);
    c = parse_object(p, c, end, M_TOP, &st, out);
    if (!c || skip_ws(c, end) != end)
        return CLB_EPARSE;
    if (st.data_seen)
        return st.data_rc;
    return finish_event(p, &st, end, out);
}

int clb_binance_md_parse_snapshot(struct clb_binance_md *p, int market, const char *data,
                                  size_t len, struct clb_binance_md_snapshot *out)
{
    if (!p || !data || !out || market < 0 || (uint32_t)market >= p->n_markets)
        return CLB_EINVAL;
    const char *end = data + len;
    const char *c = skip_ws(data, end);
    if (c >= end || *c != '{')
        return CLB_EPARSE;
    struct obj_state st;
    state_reset(&st, market);
    c = parse_object(p, c, end, M_SNAPSHOT, &st, NULL);
    if (!c || skip_ws(c, end) != end)
        return CLB_EPARSE;
    int rc;
    if ((rc = field_uint(&st, F_LASTID, &out->last_update_id)) != CLB_OK ||
        (rc = span_levels(p, &st, 0, end)) != CLB_OK ||
        (rc = span_levels(p, &st, 1, end)) != CLB_OK)
        return rc;
    out->bids = p->bids;
    out->n_bids = st.lv_n[0];
    out->asks = p->asks;
    out->n_asks = st.lv_n[1];
    return CLB_OK;
}

/* ---- lifecycle ------------------------------------------------------------- */

int clb_binance_md_init(struct clb_binance_md *p, const struct clb_binance_md_config *cfg)
{
    if (!p)
        return CLB_EINVAL;
    memset(p, 0, sizeof(*p));
    if (!cfg || cfg->max_levels < 1 || cfg->max_levels > CLB_BINANCE_MD_MAX_LEVELS ||
        cfg->max_markets < 1 || cfg->max_markets > 1024)
        return CLB_EINVAL;
    p->bids = calloc(cfg->max_levels, sizeof(*p->bids));
    p->asks = calloc(cfg->max_levels, sizeof(*p->asks));
    p->markets = calloc(cfg->max_markets, sizeof(*p->markets));
    p->warm_msg = malloc(CLB_BINANCE_MD_WARM_MAX);
    if (!p->bids || !p->asks || !p->markets || !p->warm_msg) {
        clb_binance_md_deinit(p);
        return CLB_ENOMEM;
    }
    p->max_levels = cfg->max_levels;
    p->max_markets = cfg->max_markets;
    return CLB_OK;
}

void clb_binance_md_deinit(struct clb_binance_md *p)
{
    if (!p)
        return;
    free(p->bids);
    free(p->asks);
    free(p->markets);
    free(p->warm_msg);
    memset(p, 0, sizeof(*p));
}

int clb_binance_md_add_market(struct clb_binance_md *p, const char *symbol, int price_scale,
                              int qty_scale, int *index_out)
{
    if (!p || !symbol || price_scale < 0 || price_scale > 18 || qty_scale < 0 || qty_scale > 18)
        return CLB_EINVAL;
    size_t len = strlen(symbol);
    if (len == 0 || len >= CLB_BINANCE_MD_SYMBOL_MAX)
        return CLB_EINVAL;
    if (clb_binance_md_find_market(p, symbol, len) >= 0)
        return CLB_EEXIST;
    if (p->n_markets >= p->max_markets)
        return CLB_EFULL;
    struct clb_binance_md_market *m = &p->markets[p->n_markets];
    memcpy(m->symbol, symbol, len + 1);
    m->symbol_len = len;
    m->price_scale = price_scale;
    m->qty_scale = qty_scale;
    if (index_out)
        *index_out = (int)p->n_markets;
    p->n_markets++;
    return CLB_OK;
}

/* ---- cache warming --------------------------------------------------------- */

static size_t put_bytes(char *o, size_t at, const char *s, size_t n)
{
    memcpy(o + at, s, n);
    return at + n;
}

/* One level ["<units>.00000000","<q>.00000000"], units 1..99. */
static size_t put_warm_level(char *o, size_t at, int units, bool gone)
{
    char lv[] = "[\"00.00000000\",\"1.00000000\"]";
    size_t skip = units < 10 ? 1 : 0; /* no leading zero */
    lv[2] = (char)('0' + units / 10);
    lv[3] = (char)('0' + units % 10);
    if (gone)
        lv[16] = '0';
    o[at++] = '[';
    o[at++] = '"';
    return put_bytes(o, at, lv + 2 + skip, sizeof(lv) - 1 - 2 - skip);
}

int clb_binance_md_warm(struct clb_binance_md *p, int market, struct clb_binance_md_msg *out)
{
    if (!p || !out || !p->warm_msg || market < 0 || (uint32_t)market >= p->n_markets ||
        p->max_levels < 10)
        return CLB_EINVAL;
    static const char head[] = "{\"stream\":\"warm@depth@100ms\",\"data\":{\"e\":"
                               "\"depthUpdate\",\"E\":1700000000000,\"s\":\"";
    static const char ids[] = "\",\"U\":1,\"u\":2,\"b\":[";
    const struct clb_binance_md_market *m = &p->markets[market];
    char *o = p->warm_msg;
    size_t at = put_bytes(o, 0, head, sizeof(head) - 1);
    at = put_bytes(o, at, m->symbol, m->symbol_len);
    at = put_bytes(o, at, ids, sizeof(ids) - 1);
    for (int i = 0; i < 10; i++) { /* best first, as Binance sends them */
        if (i)
            o[at++] = ',';
        at = put_warm_level(o, at, 10 - i, i % 4 == 3);
    }
    at = put_bytes(o, at, "],\"a\":[", 7);
    for (int i = 0; i < 10; i++) {
        if (i)
            o[at++] = ',';
        at = put_warm_level(o, at, 11 + i, i % 4 == 3);
    }
    at = put_bytes(o, at, "]}}", 3);
    return clb_binance_md_parse(p, o, at, out);
}
