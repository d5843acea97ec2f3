/*
 * rlp.c — RLP encoder and decoder (see rlp.h).
 *
 * Prefixes: a single byte < 0x80 is itself; a string of 0..55 bytes is
 * 0x80+len then the bytes; a longer one is 0xb7+len(len) then the length
 * big-endian then the bytes. Lists use 0xc0 / 0xf7 the same way over the
 * concatenated encodings of their items.
 */
#include "rlp.h"

#include <string.h>

#include "error.h"

void clb_rlp_init(struct clb_rlp *r, uint8_t *buf, size_t cap)
{
    memset(r, 0, sizeof(*r));
    r->buf = buf;
    r->cap = buf ? cap : 0;
}

/* Bytes needed to write n big-endian without leading zeros (0 for 0). */
static size_t be_len(uint64_t n)
{
    size_t k = 0;
    while (n) {
        k++;
        n >>= 8;
    }
    return k;
}

/* Writes a prefix for a payload of n bytes with base 0x80 or 0xc0 into
 * out (at most 9 bytes); returns its length. */
static size_t prefix(uint8_t out[9], uint8_t base, uint64_t n)
{
    if (n <= 55) {
        out[0] = (uint8_t)(base + n);
        return 1;
    }
    size_t k = be_len(n);
    out[0] = (uint8_t)(base + 55 + k);
    for (size_t i = 0; i < k; i++)
        out[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
    return 1 + k;
}

static int fail(struct clb_rlp *r, int rc)
{
    if (r->err == CLB_OK)
        r->err = rc;
    return r->err;
}

static int put(struct clb_rlp *r, const void *p, size_t n)
{
    if (n > r->cap - r->len)
        return fail(r, CLB_EFULL);
    if (n)
        memcpy(r->buf + r->len, p, n);
    r->len += n;
    return CLB_OK;
}

int clb_rlp_bytes(struct clb_rlp *r, const void *p, size_t n)
{
    if (r->err)
        return r->err;
    if (!p && n)
        return fail(r, CLB_EINVAL);
    const uint8_t *b = p;
    if (n == 1 && b[0] < 0x80)
        return put(r, b, 1);
    uint8_t hdr[9];
    size_t h = prefix(hdr, 0x80, n);
    if (h + n < n || h + n > r->cap - r->len)
        return fail(r, CLB_EFULL);
    put(r, hdr, h);
    return put(r, p, n);
}

int clb_rlp_raw(struct clb_rlp *r, const void *p, size_t n)
{
    if (r->err)
        return r->err;
    if (!p && n)
        return fail(r, CLB_EINVAL);
    return put(r, p, n);
}

int clb_rlp_uint(struct clb_rlp *r, uint64_t v)
{
    uint8_t b[8];
    size_t k = be_len(v);
    for (size_t i = 0; i < k; i++)
        b[i] = (uint8_t)(v >> (8 * (k - 1 - i)));
    return clb_rlp_bytes(r, b, k);
}

int clb_rlp_u256(struct clb_rlp *r, const uint8_t v[32])
{
    size_t i = 0;
    while (i < 32 && v[i] == 0)
        i++;
    return clb_rlp_bytes(r, v + i, 32 - i);
}

int clb_rlp_list_begin(struct clb_rlp *r)
{
    if (r->err)
        return r->err;
    if (r->depth >= CLB_RLP_MAX_DEPTH)
        return fail(r, CLB_ESTATE);
    r->open[r->depth++] = r->len;
    return CLB_OK;
}

int clb_rlp_list_end(struct clb_rlp *r)
{
    if (r->err)
        return r->err;
    if (r->depth == 0)
        return fail(r, CLB_ESTATE);
    size_t start = r->open[r->depth - 1];
    size_t n = r->len - start;
    uint8_t hdr[9];
    size_t h = prefix(hdr, 0xc0, n);
    if (h > r->cap - r->len)
        return fail(r, CLB_EFULL);
    memmove(r->buf + start + h, r->buf + start, n);
    memcpy(r->buf + start, hdr, h);
    r->len += h;
    r->depth--;
    return CLB_OK;
}

int clb_rlp_finish(const struct clb_rlp *r, size_t *len)
{
    if (r->err)
        return r->err;
    if (r->depth)
        return CLB_ESTATE;
    *len = r->len;
    return CLB_OK;
}

int clb_rlp_decode(const uint8_t *in, size_t len, struct clb_rlp_item *item, size_t *used)
{
    if (!in || len == 0)
        return CLB_EPARSE;
    uint8_t b = in[0];
    size_t hdr, n;
    bool is_list;
    if (b < 0x80) {
        item->is_list = false;
        item->p = in;
        item->len = 1;
        *used = 1;
        return CLB_OK;
    }
    is_list = b >= 0xc0;
    uint8_t base = is_list ? 0xc0 : 0x80;
    if (b - base <= 55) {
        hdr = 1;
        n = (size_t)(b - base);
    } else {
        size_t k = (size_t)(b - base - 55);
        if (k > 8 || 1 + k > len || in[1] == 0) /* no leading zero in the length */
            return CLB_EPARSE;
        uint64_t v = 0;
        for (size_t i = 0; i < k; i++)
            v = (v << 8) | in[1 + i];
        if (v <= 55 || v > (uint64_t)SIZE_MAX)
            return CLB_EPARSE; /* must have used the short form */
        hdr = 1 + k;
        n = (size_t)v;
    }
    if (n > len - hdr)
        return CLB_EPARSE;
    if (!is_list && n == 1 && in[hdr] < 0x80)
        return CLB_EPARSE; /* single byte must encode itself */
    item->is_list = is_list;
    item->p = in + hdr;
    item->len = n;
    *used = hdr + n;
    return CLB_OK;
}
