/*
 * eth.h — the Ethereum primitives in one include, plus hex text helpers.
 *
 *   keccak.h   Keccak-256
 *   uint256.h  256-bit unsigned values (token amounts, JSON-RPC quantities)
 *   rlp.h      RLP encoder/decoder
 *   abi.h      contract ABI encoding/decoding
 *   eth_tx.h   keys, addresses, signing, EIP-155 / EIP-1559 transactions
 *
 * Hex helpers: JSON-RPC carries byte strings ("DATA") as "0x" followed by
 * two hex digits per byte. Pure functions, thread-safe.
 */
#ifndef CLB_ETH_H
#define CLB_ETH_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "eth_tx.h"
#include "keccak.h"
#include "rlp.h"
#include "uint256.h"

/* Writes "0x" + lowercase hex of p[0..n) + NUL into out. Needs cap >=
 * 2 * n + 3; CLB_EFULL otherwise (out then holds "" if cap > 0). */
int clb_hex_encode(const void *p, size_t n, char *out, size_t cap);

/* Decodes hex text (optional "0x"/"0X" prefix, an even number of digits,
 * either case) into out[0..cap), length in *n. CLB_EPARSE for bad text,
 * CLB_EFULL when it does not fit. */
int clb_hex_decode(const char *s, uint8_t *out, size_t cap, size_t *n);

/* Like clb_hex_decode but the text must decode to exactly n bytes
 * (addresses, hashes, keys). CLB_EPARSE otherwise. */
int clb_hex_decode_exact(const char *s, uint8_t *out, size_t n);

#endif
