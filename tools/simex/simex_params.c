/*
 * simex_params.c — request parameters and signatures, plus a bounded string
 * builder. Pure functions of their inputs (no simulator state), so tests
 * drive them directly.
 *
 * Signing, as Binance does it: REST signs the query string followed directly
 * by the body (totalParams), without the signature pair itself; WS-API signs
 * every parameter but the signature, sorted by name, joined as k=v&... The
 * HTTP layer (libwebsockets) hands the query over already %-decoded and split
 * on '&', so the exact bytes sent are not known: the verifier tries the
 * decoded text (what clients send when their values need no escaping — all
 * of Binance's own examples) and two re-encodings (form style with '+',
 * RFC 3986 with %20). The body is signed exactly as received.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "error.h"
#include "simex_internal.h"

/* ------------------------------------------------------------------------ */
/* String builder                                                            */

void sx_sb_init(struct sx_sb *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void sx_sb_free(struct sx_sb *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

static bool sb_reserve(struct sx_sb *b, size_t extra)
{
    if (b->failed)
        return false;
    if (b->len + extra + 1 <= b->cap)
        return true;
    if (b->len + extra + 1 > b->max) {
        b->failed = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    if (cap > b->max)
        cap = b->max;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->p = p;
    b->cap = cap;
    return true;
}

void sx_sb_put(struct sx_sb *b, const char *s, size_t n)
{
    if (!sb_reserve(b, n))
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void sx_sb_puts(struct sx_sb *b, const char *s)
{
    sx_sb_put(b, s, strlen(s));
}

void sx_sb_printf(struct sx_sb *b, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        sx_sb_put(b, tmp, (size_t)n);
        return;
    }
    if (!sb_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sx_sb_json_str(struct sx_sb *b, const char *s)
{
    sx_sb_put(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = { '\\', (char)*p };
            sx_sb_put(b, e, 2);
        } else if (*p < 0x20) {
            sx_sb_printf(b, "\\u%04x", *p);
        } else {
            sx_sb_put(b, (const char *)p, 1);
        }
    }
    sx_sb_put(b, "\"", 1);
}

void sx_fmt_scaled(int64_t v, int scale, int digits, char *buf)
{
    clb_dec d = clb_dec_make(v, scale), r;
    if (digits < scale)
        digits = scale;
    if (clb_dec_rescale(d, digits, CLB_ROUND_EXACT, &r) != CLB_OK)
        r = d;
    if (clb_dec_format(r, buf, CLB_DEC_STRLEN) < 0)
        snprintf(buf, CLB_DEC_STRLEN, "0");
}

void sx_fmt_amount(int64_t v, int scale, char *buf)
{
    sx_fmt_scaled(v, scale, scale > SX_MIN_ASSET_SCALE ? scale : SX_MIN_ASSET_SCALE, buf);
}

void sx_sb_amount(struct sx_sb *b, int64_t v, int scale)
{
    char buf[CLB_DEC_STRLEN];
    sx_fmt_amount(v, scale, buf);
    sx_sb_put(b, "\"", 1);
    sx_sb_puts(b, buf);
    sx_sb_put(b, "\"", 1);
}

/* ------------------------------------------------------------------------ */
/* Percent-encoding                                                          */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sx_url_decode(const char *src, size_t n, char *dst, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = hexval((unsigned char)src[i + 1]), l = hexval((unsigned char)src[i + 2]);
            if (h < 0 || l < 0)
                return -1;
            c = h * 16 + l;
            i += 2;
        } else if (c == '+') {
            c = ' ';
        }
        if (o + 1 >= cap)
            return -1;
        dst[o++] = (char)c;
    }
    if (o >= cap)
        return -1;
    dst[o] = '\0';
    return (int)o;
}

static bool unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

/* Encodes s into b: form style (space as '+') or RFC 3986 (space as %20). */
static void encode_into(struct sx_sb *b, const char *s, bool form)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (unreserved(*p)) {
            sx_sb_put(b, (const char *)p, 1);
        } else if (*p == ' ' && form) {
            sx_sb_put(b, "+", 1);
        } else {
            char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            sx_sb_put(b, e, 3);
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Parameters                                                                */

void sx_params_init(struct sx_params *ps)
{
    ps->n = 0;
    ps->used = 0;
    ps->duplicate = false;
    ps->too_many = false;
    ps->malformed = false;
    ps->n_payload = 0;
}

const char *sx_params_keep(struct sx_params *ps, const char *s, size_t n)
{
    if (ps->used + n + 1 > sizeof(ps->store)) {
        ps->too_many = true;
        return NULL;
    }
    char *d = ps->store + ps->used;
    memcpy(d, s, n);
    d[n] = '\0';
    ps->used += n + 1;
    return d;
}

static const char *keep_decoded(struct sx_params *ps, const char *s, size_t n, bool decoded)
{
    if (decoded)
        return sx_params_keep(ps, s, n);
    if (ps->used + n + 1 > sizeof(ps->store)) {
        ps->too_many = true;
        return NULL;
    }
    int len = sx_url_decode(s, n, ps->store + ps->used, sizeof(ps->store) - ps->used);
    if (len < 0) {
        ps->malformed = true;
        return NULL;
    }
    const char *d = ps->store + ps->used;
    ps->used += (size_t)len + 1;
    return d;
}

bool sx_params_add(struct sx_params *ps, const char *key, size_t klen, const char *val,
                   size_t vlen, uint8_t src, bool decoded)
{
    if (klen == 0) {
        ps->malformed = true;
        return false;
    }
    if (ps->n >= SX_MAX_PARAMS) {
        ps->too_many = true;
        return false;
    }
    const char *k = keep_decoded(ps, key, klen, decoded);
    const char *v = k ? keep_decoded(ps, val, vlen, decoded) : NULL;
    if (!k || !v)
        return false;
    for (uint32_t i = 0; i < ps->n; i++) {
        if (strcmp(ps->p[i].key, k) != 0)
            continue;
        if (ps->p[i].src == src) {
            ps->duplicate = true;
            return false;
        }
        /* in both query and body: the query's value is used */
        if (src == SX_SRC_QUERY) {
            ps->p[i].val = v;
            ps->p[i].src = src;
        }
        return true;
    }
    ps->p[ps->n++] = (struct sx_param){ .key = k, .val = v, .src = src, .used = false };
    return true;
}

void sx_params_add_form(struct sx_params *ps, const char *text, size_t len, uint8_t src)
{
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && text[j] != '&')
            j++;
        if (j > i) {
            const char *eq = memchr(text + i, '=', j - i);
            if (!eq)
                ps->malformed = true;
            else
                sx_params_add(ps, text + i, (size_t)(eq - (text + i)), eq + 1,
                              (size_t)(text + j - eq - 1), src, false);
        }
        i = j + 1;
    }
}

const char *sx_params_get(struct sx_params *ps, const char *key)
{
    for (uint32_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].key, key) == 0) {
            ps->p[i].used = true;
            return ps->p[i].val;
        }
    return NULL;
}

bool sx_params_has(const struct sx_params *ps, const char *key)
{
    for (uint32_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].key, key) == 0)
            return true;
    return false;
}

static void add_payload(struct sx_params *ps, struct sx_sb *b)
{
    if (b->failed || ps->n_payload >= 3)
        return;
    const char *p = sx_params_keep(ps, b->p ? b->p : "", b->len);
    if (!p)
        return;
    for (uint32_t i = 0; i < ps->n_payload; i++)
        if (strcmp(ps->payload[i], p) == 0)
            return;
    ps->payload[ps->n_payload++] = p;
}

/* The body without its signature pair, as received. */
static void body_without_signature(struct sx_sb *b, const char *body, size_t len)
{
    size_t i = 0;
    bool first = true;
    while (i < len) {
        size_t j = i;
        while (j < len && body[j] != '&')
            j++;
        bool sig = j - i >= 10 && memcmp(body + i, "signature=", 10) == 0;
        if (!sig) {
            if (!first)
                sx_sb_put(b, "&", 1);
            sx_sb_put(b, body + i, j - i);
            first = false;
        }
        i = j + 1;
    }
}

void sx_params_rest_payloads(struct sx_params *ps, const char *const *query_pairs,
                             uint32_t n_query, const char *body, size_t body_len)
{
    for (int style = 0; style < 3; style++) {
        struct sx_sb b;
        sx_sb_init(&b, SX_REQ_STORE);
        bool first = true;
        for (uint32_t i = 0; i < n_query; i++) {
            const char *q = query_pairs[i];
            if (strncmp(q, "signature=", 10) == 0)
                continue;
            if (!first)
                sx_sb_put(&b, "&", 1);
            first = false;
            if (style == 0) {
                sx_sb_puts(&b, q);
            } else {
                const char *eq = strchr(q, '=');
                size_t kl = eq ? (size_t)(eq - q) : strlen(q);
                char key[256];
                if (kl >= sizeof(key))
                    kl = sizeof(key) - 1;
                memcpy(key, q, kl);
                key[kl] = '\0';
                encode_into(&b, key, style == 1);
                if (eq) {
                    sx_sb_put(&b, "=", 1);
                    encode_into(&b, eq + 1, style == 1);
                }
            }
        }
        if (body && body_len)
            body_without_signature(&b, body, body_len);
        if (!b.p)
            sx_sb_put(&b, "", 0);
        add_payload(ps, &b);
        sx_sb_free(&b);
    }
}

static int cmp_param_key(const void *a, const void *b)
{
    const struct sx_param *x = *(const struct sx_param *const *)a;
    const struct sx_param *y = *(const struct sx_param *const *)b;
    return strcmp(x->key, y->key);
}

void sx_params_ws_payload(struct sx_params *ps)
{
    const struct sx_param *sorted[SX_MAX_PARAMS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < ps->n; i++)
        if (strcmp(ps->p[i].key, "signature") != 0)
            sorted[n++] = &ps->p[i];
    qsort(sorted, n, sizeof(sorted[0]), cmp_param_key);
    struct sx_sb b;
    sx_sb_init(&b, SX_REQ_STORE);
    sx_sb_put(&b, "", 0);
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            sx_sb_put(&b, "&", 1);
        sx_sb_puts(&b, sorted[i]->key);
        sx_sb_put(&b, "=", 1);
        sx_sb_puts(&b, sorted[i]->val);
    }
    add_payload(ps, &b);
    sx_sb_free(&b);
}

/* ------------------------------------------------------------------------ */
/* HMAC                                                                      */

void sx_hmac_sha256_hex(const char *secret, const char *msg, size_t len, char out[65])
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    static const char hex[] = "0123456789abcdef";
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, len, mac,
              &mlen))
        mlen = 0;
    for (unsigned int i = 0; i < mlen && i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[2 * (mlen < 32 ? mlen : 32)] = '\0';
}

bool sx_sig_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb || la != 64)
        return false;
    unsigned diff = 0;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned)(tolower((unsigned char)a[i]) ^ tolower((unsigned char)b[i]));
    return diff == 0;
}
