/*
 * hex.h — hex text encoding of byte strings, shared by the gateway
 * (JSON-RPC "DATA": "0x" + two digits per byte), the API tokens, the
 * encrypted secrets file and the Binance request signatures.
 *
 * Design: pure functions over caller-owned buffers; no allocation, no I/O,
 * thread-safe. Encoding is always lowercase. The general decoders accept
 * either case and an optional "0x"/"0X" prefix; clb_hex_decode_lower is the
 * strict form for formats this program writes itself (bare lowercase).
 */
#ifndef CLB_HEX_H
#define CLB_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Value of one hex digit ('0'-'9', 'a'-'f', 'A'-'F'), or -1. */
int clb_hex_digit(char c);

/* Writes the bare lowercase hex of p[0..n) + NUL into out (no prefix).
 * Needs cap >= 2 * n + 1; CLB_EFULL otherwise (out then holds "" if
 * cap > 0). */
int clb_hex_encode_bare(const void *p, size_t n, char *out, size_t cap);

/* Writes "0x" + lowercase hex of p[0..n) + NUL into out. Needs cap >=
 * 2 * n + 3; CLB_EFULL otherwise (out then holds "" if cap > 0). */
int clb_hex_encode(const void *p, size_t n, char *out, size_t cap);

/* Decodes hex text (optional "0x"/"0X" prefix, an even number of digits,
 * either case) into out[0..cap), length in *n. CLB_EPARSE for bad text,
 * CLB_EFULL when it does not fit. out is unchanged on failure. */
int clb_hex_decode(const char *s, uint8_t *out, size_t cap, size_t *n);

/* Like clb_hex_decode but the text must decode to exactly n bytes
 * (addresses, hashes, keys). CLB_EPARSE otherwise. */
int clb_hex_decode_exact(const char *s, uint8_t *out, size_t n);

/* Strict decoder: s (may be NULL: fails) must be exactly 2 * n lowercase
 * hex digits, no prefix. CLB_OK or CLB_EPARSE; out[0..n) may hold a
 * partial result on failure. */
int clb_hex_decode_lower(const char *s, uint8_t *out, size_t n);

#endif
