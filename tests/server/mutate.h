/*
 * mutate.h — deterministic mutations of JSON text, for the hostile-input
 * tests that drive a live server (ws_stream_test, http_api_test): a
 * character changed, the end cut, a run deleted, or a JSON token inserted
 * (quotes, brackets, huge numbers, an escaped NUL...), and mut_rand, the
 * random numbers they draw from (debug_console_test mutates its command
 * lines with it too). Header-only; each test file includes it once.
 */
#ifndef CLB_TEST_MUTATE_H
#define CLB_TEST_MUTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* splitmix64: the tests' deterministic random numbers. */
static inline uint64_t mut_rand(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* One mutation of the NUL-terminated text m (cap bytes). printable keeps
 * every byte in ' '..'~' (a WebSocket text frame); otherwise a changed
 * character may be any byte but NUL. */
static inline void mutate_json_text(char *m, size_t cap, uint64_t *r, bool printable)
{
    static const char *const tokens[] = { "\"", "\\", ",", ":", "{", "}", "[", "]", "null",
                                          "true", "1e999", "-1", "-0", "0", "\"\\u0000\"",
                                          "18446744073709551616", "\"NaN\"", "\"book:\"",
                                          "\"*\"", " " };
    size_t len = strlen(m);
    switch (mut_rand(r) % 4) {
    case 0:
        if (len)
            m[mut_rand(r) % len] = printable ? (char)(' ' + mut_rand(r) % 95)
                                             : (char)(1 + mut_rand(r) % 255);
        break;
    case 1:
        m[len ? mut_rand(r) % len : 0] = '\0';
        break;
    case 2:
        if (len > 1) {
            size_t at = mut_rand(r) % len, n = 1 + mut_rand(r) % (len - at);
            memmove(m + at, m + at + n, len - at - n + 1);
        }
        break;
    default: {
        const char *t = tokens[mut_rand(r) % (sizeof(tokens) / sizeof(tokens[0]))];
        size_t n = strlen(t), at = len ? mut_rand(r) % (len + 1) : 0;
        if (len + n + 1 <= cap) {
            memmove(m + at + n, m + at, len - at + 1);
            memcpy(m + at, t, n);
        }
        break;
    }
    }
}

#endif
