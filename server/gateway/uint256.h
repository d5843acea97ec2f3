/*
 * uint256.h — unsigned 256-bit integers as Ethereum carries them.
 *
 * A value is 32 bytes, big-endian (uint8_t[32]), which is the layout of an
 * ABI word, so values move between ABI, RLP and these helpers without
 * conversion. Arithmetic works on four 64-bit limbs internally and reports
 * overflow instead of wrapping.
 *
 * Token amounts: a decimal string with up to `decimals` fractional digits
 * ("1.5" with 18 decimals) maps to the integer amount * 10^decimals
 * (1500000000000000000). JSON-RPC quantities are "0x"-prefixed hex without
 * leading zeros ("0x0", "0x1bc16d674ec80000").
 *
 * All functions are pure and thread-safe; outputs are untouched on error
 * unless said otherwise.
 */
#ifndef CLB_UINT256_H
#define CLB_UINT256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLB_U256_LEN 32
/* Largest decimal text: 78 digits, a '.', a leading "0" and the NUL. */
#define CLB_U256_DEC_MAX 82
/* Largest quantity text: "0x" + 64 hex digits + NUL. */
#define CLB_U256_HEX_MAX 67
/* Token decimals accepted by the decimal conversions. */
#define CLB_U256_MAX_DECIMALS 77

/* Sets v to the 64-bit value x. */
void clb_u256_from_u64(uint8_t v[CLB_U256_LEN], uint64_t x);

/* Reads v into *x. CLB_ERANGE if v does not fit in 64 bits. */
int clb_u256_to_u64(const uint8_t v[CLB_U256_LEN], uint64_t *x);

/* True when v is 0. */
bool clb_u256_is_zero(const uint8_t v[CLB_U256_LEN]);

/* -1, 0 or 1 as a <, ==, > b. */
int clb_u256_cmp(const uint8_t a[CLB_U256_LEN], const uint8_t b[CLB_U256_LEN]);

/* out = a + b. CLB_EOVERFLOW past 2^256-1. out may alias a or b. */
int clb_u256_add(uint8_t out[CLB_U256_LEN], const uint8_t a[CLB_U256_LEN],
                 const uint8_t b[CLB_U256_LEN]);

/* out = a - b. CLB_EOVERFLOW when b > a. out may alias a or b. */
int clb_u256_sub(uint8_t out[CLB_U256_LEN], const uint8_t a[CLB_U256_LEN],
                 const uint8_t b[CLB_U256_LEN]);

/* out = a * b. CLB_EOVERFLOW past 2^256-1. out may alias a or b. */
int clb_u256_mul(uint8_t out[CLB_U256_LEN], const uint8_t a[CLB_U256_LEN],
                 const uint8_t b[CLB_U256_LEN]);

/* q = a / b, r = a % b (either may be NULL; may alias a or b).
 * CLB_EINVAL when b is 0. */
int clb_u256_divmod(uint8_t q[CLB_U256_LEN], uint8_t r[CLB_U256_LEN],
                    const uint8_t a[CLB_U256_LEN], const uint8_t b[CLB_U256_LEN]);

/* out = a * num / den, rounded down, with a 512-bit intermediate product so
 * a * num may exceed 2^256 (slippage: amount * (10000 - bps) / 10000).
 * CLB_EINVAL when den is 0, CLB_EOVERFLOW when the quotient does not fit. */
int clb_u256_mul_div(uint8_t out[CLB_U256_LEN], const uint8_t a[CLB_U256_LEN],
                     const uint8_t num[CLB_U256_LEN], const uint8_t den[CLB_U256_LEN]);

/* Parses a non-negative decimal amount ("12", "0.25", "1.", ".5" are
 * accepted; no sign, exponent, spaces or separators) scaled by 10^decimals.
 * CLB_EPARSE for bad syntax or empty input, CLB_EPRECISION when it has more
 * than `decimals` fractional digits that are not all zero, CLB_EOVERFLOW
 * when the scaled value exceeds 2^256-1, CLB_EINVAL for decimals >
 * CLB_U256_MAX_DECIMALS. */
int clb_u256_from_dec(const char *s, unsigned decimals, uint8_t out[CLB_U256_LEN]);

/* Formats v / 10^decimals as a decimal string without trailing fractional
 * zeros ("1.5", "0.000001", "42"; no '.' for a whole number). cap should be
 * CLB_U256_DEC_MAX. CLB_EFULL when it does not fit (out then holds ""),
 * CLB_EINVAL for decimals > CLB_U256_MAX_DECIMALS. */
int clb_u256_to_dec(const uint8_t v[CLB_U256_LEN], unsigned decimals, char *out, size_t cap);

/* Parses a JSON-RPC quantity: "0x" followed by 1..64 hex digits (either
 * case). Leading zeros are accepted ("0x00ff") for leniency. CLB_EPARSE
 * otherwise. */
int clb_u256_from_hex(const char *s, uint8_t out[CLB_U256_LEN]);

/* Formats a JSON-RPC quantity ("0x0", "0x1f"). cap should be
 * CLB_U256_HEX_MAX; CLB_EFULL when smaller than needed. */
int clb_u256_to_hex(const uint8_t v[CLB_U256_LEN], char *out, size_t cap);

#endif
