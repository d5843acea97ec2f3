/*
 * abi.c — contract ABI encoding and decoding (see abi.h).
 *
 * Every supported type takes exactly one head slot, so the head is 32 * n
 * bytes and a dynamic argument's offset (counted from the start of the
 * argument block) is the head size plus the tails written before it.
 * Decoding never trusts an offset or length from the data: each is checked
 * to fit in 64 bits and inside the buffer before it is used.
 */
#include "abi.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "keccak.h"

/* ---- argument constructors ---- */

struct clb_abi_arg clb_abi_arg_u256(const uint8_t v[32])
{
    struct clb_abi_arg a = { .type = CLB_ABI_UINT256, .u256 = v };
    return a;
}

struct clb_abi_arg clb_abi_arg_address(const uint8_t addr[20])
{
    struct clb_abi_arg a = { .type = CLB_ABI_ADDRESS, .addr = addr };
    return a;
}

struct clb_abi_arg clb_abi_arg_bool(bool b)
{
    struct clb_abi_arg a = { .type = CLB_ABI_BOOL, .b = b };
    return a;
}

struct clb_abi_arg clb_abi_arg_bytes32(const uint8_t v[32])
{
    struct clb_abi_arg a = { .type = CLB_ABI_BYTES32, .u256 = v };
    return a;
}

struct clb_abi_arg clb_abi_arg_bytes(const void *p, size_t len)
{
    struct clb_abi_arg a = { .type = CLB_ABI_BYTES, .bytes = p, .len = len };
    return a;
}

struct clb_abi_arg clb_abi_arg_string(const char *s)
{
    struct clb_abi_arg a = { .type = CLB_ABI_STRING, .bytes = (const uint8_t *)s,
                             .len = s ? strlen(s) : 0 };
    return a;
}

struct clb_abi_arg clb_abi_arg_address_array(const uint8_t (*addrs)[20], size_t n)
{
    struct clb_abi_arg a = { .type = CLB_ABI_ADDRESS_ARRAY, .addrs = addrs, .n = n };
    return a;
}

struct clb_abi_arg clb_abi_arg_u256_array(const uint8_t (*v)[32], size_t n)
{
    struct clb_abi_arg a = { .type = CLB_ABI_UINT256_ARRAY, .u256s = v, .n = n };
    return a;
}

void clb_abi_selector(const char *signature, uint8_t out[CLB_ABI_SELECTOR_LEN])
{
    uint8_t h[32];
    clb_keccak256(signature, signature ? strlen(signature) : 0, h);
    memcpy(out, h, CLB_ABI_SELECTOR_LEN);
}

/* ---- encoding ---- */

#define TOO_BIG ((size_t)1 << 40) /* any argument claiming more is refused */

static size_t pad32(size_t n)
{
    return (n + 31) / 32 * 32;
}

/* Tail bytes of one argument, or SIZE_MAX for a bad argument. */
static size_t tail_len(const struct clb_abi_arg *a)
{
    switch (a->type) {
    case CLB_ABI_UINT256:
    case CLB_ABI_BYTES32:
        return a->u256 ? 0 : SIZE_MAX;
    case CLB_ABI_ADDRESS:
        return a->addr ? 0 : SIZE_MAX;
    case CLB_ABI_BOOL:
        return 0;
    case CLB_ABI_BYTES:
    case CLB_ABI_STRING:
        if (a->len > TOO_BIG || (!a->bytes && a->len))
            return SIZE_MAX;
        return 32 + pad32(a->len);
    case CLB_ABI_ADDRESS_ARRAY:
        if (a->n > TOO_BIG / 32 || (!a->addrs && a->n))
            return SIZE_MAX;
        return 32 + 32 * a->n;
    case CLB_ABI_UINT256_ARRAY:
        if (a->n > TOO_BIG / 32 || (!a->u256s && a->n))
            return SIZE_MAX;
        return 32 + 32 * a->n;
    }
    return SIZE_MAX;
}

size_t clb_abi_encoded_len(const struct clb_abi_arg *args, size_t n)
{
    if (n > TOO_BIG / 32 || (!args && n))
        return SIZE_MAX;
    size_t total = 32 * n;
    for (size_t i = 0; i < n; i++) {
        size_t t = tail_len(&args[i]);
        if (t == SIZE_MAX || t > TOO_BIG * 2 - total)
            return SIZE_MAX;
        total += t;
    }
    return total;
}

static void word_u64(uint8_t w[32], uint64_t v)
{
    memset(w, 0, 32);
    for (int i = 0; i < 8; i++)
        w[31 - i] = (uint8_t)(v >> (8 * i));
}

static void word_addr(uint8_t w[32], const uint8_t a[20])
{
    memset(w, 0, 12);
    memcpy(w + 12, a, 20);
}

int clb_abi_encode(const struct clb_abi_arg *args, size_t n, uint8_t *out, size_t cap,
                   size_t *len)
{
    size_t total = clb_abi_encoded_len(args, n);
    if (total == SIZE_MAX)
        return CLB_EINVAL;
    if (!out || total > cap)
        return CLB_EFULL;
    size_t tail = 32 * n;
    for (size_t i = 0; i < n; i++) {
        const struct clb_abi_arg *a = &args[i];
        uint8_t *head = out + 32 * i;
        switch (a->type) {
        case CLB_ABI_UINT256:
        case CLB_ABI_BYTES32:
            memcpy(head, a->u256, 32);
            break;
        case CLB_ABI_ADDRESS:
            word_addr(head, a->addr);
            break;
        case CLB_ABI_BOOL:
            word_u64(head, a->b ? 1 : 0);
            break;
        case CLB_ABI_BYTES:
        case CLB_ABI_STRING:
            word_u64(head, tail);
            word_u64(out + tail, a->len);
            if (a->len)
                memcpy(out + tail + 32, a->bytes, a->len);
            memset(out + tail + 32 + a->len, 0, pad32(a->len) - a->len);
            tail += 32 + pad32(a->len);
            break;
        case CLB_ABI_ADDRESS_ARRAY:
            word_u64(head, tail);
            word_u64(out + tail, a->n);
            for (size_t j = 0; j < a->n; j++)
                word_addr(out + tail + 32 + 32 * j, a->addrs[j]);
            tail += 32 + 32 * a->n;
            break;
        case CLB_ABI_UINT256_ARRAY:
            word_u64(head, tail);
            word_u64(out + tail, a->n);
            for (size_t j = 0; j < a->n; j++)
                memcpy(out + tail + 32 + 32 * j, a->u256s[j], 32);
            tail += 32 + 32 * a->n;
            break;
        }
    }
    *len = total;
    return CLB_OK;
}

/* True when the type name t[0..n) accepts an argument of type `want`. */
static bool type_matches(const char *t, size_t n, enum clb_abi_type want)
{
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(t, lit, n) == 0)
    switch (want) {
    case CLB_ABI_UINT256:
        if (n > 4 && memcmp(t, "uint", 4) == 0 && n <= 7) {
            unsigned bits = 0;
            for (size_t i = 4; i < n; i++) {
                if (t[i] < '0' || t[i] > '9')
                    return false;
                bits = bits * 10 + (unsigned)(t[i] - '0');
            }
            return t[4] != '0' && bits >= 8 && bits <= 256 && bits % 8 == 0;
        }
        return false;
    case CLB_ABI_ADDRESS:
        return IS("address");
    case CLB_ABI_BOOL:
        return IS("bool");
    case CLB_ABI_BYTES32:
        return IS("bytes32");
    case CLB_ABI_BYTES:
        return IS("bytes");
    case CLB_ABI_STRING:
        return IS("string");
    case CLB_ABI_ADDRESS_ARRAY:
        return IS("address[]");
    case CLB_ABI_UINT256_ARRAY:
        return IS("uint256[]");
    }
    return false;
#undef IS
}

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '$';
}

/* Checks "name(t1,t2,...)" against args. */
static bool signature_matches(const char *sig, const struct clb_abi_arg *args, size_t n)
{
    const char *p = sig;
    if (!p || !ident_char(*p) || (*p >= '0' && *p <= '9'))
        return false;
    while (ident_char(*p))
        p++;
    if (*p++ != '(')
        return false;
    size_t i = 0;
    if (*p == ')')
        return n == 0 && p[1] == '\0';
    for (;;) {
        const char *t = p;
        while (*p && *p != ',' && *p != ')')
            p++;
        if (i >= n || !type_matches(t, (size_t)(p - t), args[i].type))
            return false;
        i++;
        if (*p == ')')
            return i == n && p[1] == '\0';
        if (*p != ',')
            return false;
        p++;
    }
}

int clb_abi_encode_call(const char *signature, const struct clb_abi_arg *args, size_t n,
                        uint8_t *out, size_t cap, size_t *len)
{
    if (!signature_matches(signature, args, n))
        return CLB_EINVAL;
    size_t total = clb_abi_encoded_len(args, n);
    if (total == SIZE_MAX)
        return CLB_EINVAL;
    if (!out || cap < CLB_ABI_SELECTOR_LEN || total > cap - CLB_ABI_SELECTOR_LEN)
        return CLB_EFULL;
    size_t body = 0;
    int rc = clb_abi_encode(args, n, out + CLB_ABI_SELECTOR_LEN, cap - CLB_ABI_SELECTOR_LEN,
                            &body);
    if (rc != CLB_OK)
        return rc;
    clb_abi_selector(signature, out);
    *len = CLB_ABI_SELECTOR_LEN + body;
    return CLB_OK;
}

/* ---- decoding ---- */

/* The word at byte offset off, or NULL if it does not fit. */
static const uint8_t *word_at(const uint8_t *data, size_t len, size_t off)
{
    if (!data || off > len || len - off < 32)
        return NULL;
    return data + off;
}

/* Reads a word that must hold a value < 2^63 (offsets, lengths). */
static int word_size(const uint8_t *w, size_t *out)
{
    for (int i = 0; i < 24; i++)
        if (w[i])
            return CLB_EPARSE;
    uint64_t v = 0;
    for (int i = 24; i < 32; i++)
        v = (v << 8) | w[i];
    if (v > (uint64_t)SIZE_MAX / 2)
        return CLB_EPARSE;
    *out = (size_t)v;
    return CLB_OK;
}

static const uint8_t *slot_word(const uint8_t *data, size_t len, size_t slot)
{
    if (slot > len / 32)
        return NULL;
    return word_at(data, len, slot * 32);
}

/* Locates a dynamic value: *body points just after its length word, *count
 * is the length word; checks that count * elem bytes fit in the data. */
static int dyn_locate(const uint8_t *data, size_t len, size_t slot, size_t elem,
                      const uint8_t **body, size_t *count)
{
    const uint8_t *w = slot_word(data, len, slot);
    size_t off, cnt;
    if (!w || word_size(w, &off) != CLB_OK)
        return CLB_EPARSE;
    const uint8_t *lw = word_at(data, len, off);
    if (!lw || word_size(lw, &cnt) != CLB_OK)
        return CLB_EPARSE;
    size_t avail = len - off - 32;
    if (cnt > avail / elem)
        return CLB_EPARSE;
    *body = lw + 32;
    *count = cnt;
    return CLB_OK;
}

static bool addr_word_ok(const uint8_t *w)
{
    for (int i = 0; i < 12; i++)
        if (w[i])
            return false;
    return true;
}

int clb_abi_decode_u256(const uint8_t *data, size_t len, size_t slot, uint8_t out[32])
{
    const uint8_t *w = slot_word(data, len, slot);
    if (!w)
        return CLB_EPARSE;
    memcpy(out, w, 32);
    return CLB_OK;
}

int clb_abi_decode_address(const uint8_t *data, size_t len, size_t slot, uint8_t out[20])
{
    const uint8_t *w = slot_word(data, len, slot);
    if (!w || !addr_word_ok(w))
        return CLB_EPARSE;
    memcpy(out, w + 12, 20);
    return CLB_OK;
}

int clb_abi_decode_bool(const uint8_t *data, size_t len, size_t slot, bool *out)
{
    const uint8_t *w = slot_word(data, len, slot);
    if (!w)
        return CLB_EPARSE;
    for (int i = 0; i < 31; i++)
        if (w[i])
            return CLB_EPARSE;
    if (w[31] > 1)
        return CLB_EPARSE;
    *out = w[31] == 1;
    return CLB_OK;
}

int clb_abi_decode_u256_array(const uint8_t *data, size_t len, size_t slot,
                              uint8_t (*out)[32], size_t cap, size_t *n)
{
    const uint8_t *body;
    size_t cnt;
    int rc = dyn_locate(data, len, slot, 32, &body, &cnt);
    if (rc != CLB_OK)
        return rc;
    *n = cnt;
    if (cnt > cap)
        return CLB_EFULL;
    for (size_t i = 0; i < cnt; i++)
        memcpy(out[i], body + 32 * i, 32);
    return CLB_OK;
}

int clb_abi_decode_address_array(const uint8_t *data, size_t len, size_t slot,
                                 uint8_t (*out)[20], size_t cap, size_t *n)
{
    const uint8_t *body;
    size_t cnt;
    int rc = dyn_locate(data, len, slot, 32, &body, &cnt);
    if (rc != CLB_OK)
        return rc;
    for (size_t i = 0; i < cnt; i++)
        if (!addr_word_ok(body + 32 * i))
            return CLB_EPARSE;
    *n = cnt;
    if (cnt > cap)
        return CLB_EFULL;
    for (size_t i = 0; i < cnt; i++)
        memcpy(out[i], body + 32 * i + 12, 20);
    return CLB_OK;
}

int clb_abi_decode_bytes(const uint8_t *data, size_t len, size_t slot, uint8_t *out,
                         size_t cap, size_t *n)
{
    const uint8_t *body;
    size_t cnt;
    int rc = dyn_locate(data, len, slot, 1, &body, &cnt);
    if (rc != CLB_OK)
        return rc;
    *n = cnt;
    if (cnt > cap)
        return CLB_EFULL;
    if (cnt)
        memcpy(out, body, cnt);
    return CLB_OK;
}

int clb_abi_decode_string(const uint8_t *data, size_t len, size_t slot, char *out,
                          size_t cap)
{
    const uint8_t *body;
    size_t cnt;
    int rc = dyn_locate(data, len, slot, 1, &body, &cnt);
    if (rc != CLB_OK)
        return rc;
    if (cnt && memchr(body, 0, cnt))
        return CLB_EPARSE;
    if (!out || cnt >= cap)
        return CLB_EFULL;
    memcpy(out, body, cnt);
    out[cnt] = '\0';
    return CLB_OK;
}

int clb_abi_decode_string_or_bytes32(const uint8_t *data, size_t len, char *out, size_t cap)
{
    if (len != 32)
        return clb_abi_decode_string(data, len, 0, out, cap);
    size_t n = 0;
    while (n < 32 && data[n])
        n++;
    for (size_t i = n; i < 32; i++)
        if (data[i])
            return CLB_EPARSE; /* text then padding, nothing after */
    if (!out || n >= cap)
        return CLB_EFULL;
    memcpy(out, data, n);
    out[n] = '\0';
    return CLB_OK;
}

int clb_abi_decode_revert(const uint8_t *data, size_t len, char *out, size_t cap)
{
    static const uint8_t error_sel[4] = { 0x08, 0xc3, 0x79, 0xa0 };
    static const uint8_t panic_sel[4] = { 0x4e, 0x48, 0x7b, 0x71 };
    if (out && cap)
        out[0] = '\0';
    if (!data || len < 4)
        return CLB_ENOTFOUND;
    const uint8_t *args = data + 4;
    size_t alen = len - 4;
    if (memcmp(data, error_sel, 4) == 0) {
        const uint8_t *body;
        size_t cnt;
        if (dyn_locate(args, alen, 0, 1, &body, &cnt) != CLB_OK)
            return CLB_ENOTFOUND;
        if (out && cap) {
            size_t k = 0;
            while (k < cnt && k + 1 < cap && body[k])
                k++;
            memcpy(out, body, k);
            out[k] = '\0';
        }
        return CLB_OK;
    }
    if (memcmp(data, panic_sel, 4) == 0) {
        const uint8_t *w = word_at(args, alen, 0);
        size_t code;
        if (!w || word_size(w, &code) != CLB_OK)
            return CLB_ENOTFOUND;
        if (out && cap)
            snprintf(out, cap, "panic 0x%zx", code);
        return CLB_OK;
    }
    return CLB_ENOTFOUND;
}
