/*
 * hex.c — hex text encoding (see hex.h). Table-driven encoding; decoding
 * validates the whole text before writing, except the strict lowercase
 * decoder, whose callers discard out on failure.
 */
#include "hex.h"

#include <string.h>

#include "error.h"

static const char dig[] = "0123456789abcdef";

int clb_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int lower_digit(char c)
{
    return c >= 'A' && c <= 'F' ? -1 : clb_hex_digit(c);
}

int clb_hex_encode_bare(const void *p, size_t n, char *out, size_t cap)
{
    const uint8_t *b = p;
    if (!out || (!p && n) || n > (SIZE_MAX - 1) / 2 || cap < 2 * n + 1) {
        if (out && cap)
            out[0] = '\0';
        return CLB_EFULL;
    }
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = dig[b[i] >> 4];
        out[2 * i + 1] = dig[b[i] & 15];
    }
    out[2 * n] = '\0';
    return CLB_OK;
}

int clb_hex_encode(const void *p, size_t n, char *out, size_t cap)
{
    if (!out || (!p && n) || n > (SIZE_MAX - 3) / 2 || cap < 2 * n + 3) {
        if (out && cap)
            out[0] = '\0';
        return CLB_EFULL;
    }
    out[0] = '0';
    out[1] = 'x';
    return clb_hex_encode_bare(p, n, out + 2, cap - 2);
}

static const char *skip_prefix(const char *s)
{
    return s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? s + 2 : s;
}

int clb_hex_decode(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    if (!s)
        return CLB_EPARSE;
    s = skip_prefix(s);
    size_t len = strlen(s);
    if (len % 2)
        return CLB_EPARSE;
    for (size_t i = 0; i < len; i++)
        if (clb_hex_digit(s[i]) < 0)
            return CLB_EPARSE;
    if (len / 2 > cap || (!out && len))
        return CLB_EFULL;
    for (size_t i = 0; i < len / 2; i++)
        out[i] = (uint8_t)(clb_hex_digit(s[2 * i]) << 4 | clb_hex_digit(s[2 * i + 1]));
    *n = len / 2;
    return CLB_OK;
}

int clb_hex_decode_exact(const char *s, uint8_t *out, size_t n)
{
    if (!s)
        return CLB_EPARSE;
    if (strlen(skip_prefix(s)) != 2 * n)
        return CLB_EPARSE;
    size_t got = 0;
    return clb_hex_decode(s, out, n, &got) == CLB_OK ? CLB_OK : CLB_EPARSE;
}

int clb_hex_decode_lower(const char *s, uint8_t *out, size_t n)
{
    if (!s || strlen(s) != 2 * n)
        return CLB_EPARSE;
    for (size_t i = 0; i < n; i++) {
        int hi = lower_digit(s[2 * i]), lo = lower_digit(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return CLB_EPARSE;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return CLB_OK;
}
