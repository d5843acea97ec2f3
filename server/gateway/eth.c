/*
 * eth.c — hex text helpers of eth.h (the other primitives live in their
 * own files).
 */
#include "eth.h"

#include <string.h>

#include "error.h"

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

int clb_hex_encode(const void *p, size_t n, char *out, size_t cap)
{
    static const char dig[] = "0123456789abcdef";
    const uint8_t *b = p;
    if (!out || (!p && n) || n > (SIZE_MAX - 3) / 2 || cap < 2 * n + 3) {
        if (out && cap)
            out[0] = '\0';
        return CLB_EFULL;
    }
    out[0] = '0';
    out[1] = 'x';
    for (size_t i = 0; i < n; i++) {
        out[2 + 2 * i] = dig[b[i] >> 4];
        out[3 + 2 * i] = dig[b[i] & 15];
    }
    out[2 + 2 * n] = '\0';
    return CLB_OK;
}

int clb_hex_decode(const char *s, uint8_t *out, size_t cap, size_t *n)
{
    if (!s)
        return CLB_EPARSE;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    size_t len = strlen(s);
    if (len % 2)
        return CLB_EPARSE;
    for (size_t i = 0; i < len; i++)
        if (hexval(s[i]) < 0)
            return CLB_EPARSE;
    if (len / 2 > cap || (!out && len))
        return CLB_EFULL;
    for (size_t i = 0; i < len / 2; i++)
        out[i] = (uint8_t)(hexval(s[2 * i]) << 4 | hexval(s[2 * i + 1]));
    *n = len / 2;
    return CLB_OK;
}

int clb_hex_decode_exact(const char *s, uint8_t *out, size_t n)
{
    if (!s)
        return CLB_EPARSE;
    const char *d = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? s + 2 : s;
    if (strlen(d) != 2 * n)
        return CLB_EPARSE;
    size_t got = 0;
    return clb_hex_decode(s, out, n, &got) == CLB_OK ? CLB_OK : CLB_EPARSE;
}
