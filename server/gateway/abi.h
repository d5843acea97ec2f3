/*
 * abi.h — Solidity contract ABI: call data encoding and return data
 * decoding for the types the gateway needs.
 *
 * Encoding: a call is the 4-byte selector (first bytes of the Keccak-256 of
 * the canonical signature, e.g. "transfer(address,uint256)") followed by
 * the head/tail encoding of the arguments: static values (uint256, address,
 * bool, bytes32) sit in their 32-byte head slot; dynamic ones (bytes,
 * string, address[], uint256[]) have an offset in the head slot and their
 * length + contents in the tail. clb_abi_encode_call() checks that the
 * signature's parameter types match the argument list.
 *
 * Decoding: return data is read slot by slot with every offset and length
 * checked against the data's size (hostile or truncated data from a node
 * gives CLB_EPARSE, never an out-of-bounds read), addresses must have
 * zero upper bytes and bools must be 0 or 1.
 *
 * Pure functions, no allocation, thread-safe.
 */
#ifndef CLB_ABI_H
#define CLB_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLB_ABI_WORD 32
#define CLB_ABI_SELECTOR_LEN 4

enum clb_abi_type {
    CLB_ABI_UINT256,       /* u256 (32 bytes big-endian); also fits uint8..uint256 */
    CLB_ABI_ADDRESS,       /* addr */
    CLB_ABI_BOOL,          /* b */
    CLB_ABI_BYTES32,       /* u256 used as 32 raw bytes */
    CLB_ABI_BYTES,         /* bytes, len */
    CLB_ABI_STRING,        /* bytes, len (UTF-8, not checked) */
    CLB_ABI_ADDRESS_ARRAY, /* addrs, n */
    CLB_ABI_UINT256_ARRAY, /* u256s, n */
};

/* One argument. Build with the clb_abi_arg_* helpers below; pointers must
 * stay valid until the encode call returns. */
struct clb_abi_arg {
    enum clb_abi_type type;
    const uint8_t *u256;           /* 32 bytes */
    const uint8_t *addr;           /* 20 bytes */
    bool b;
    const uint8_t *bytes;          /* BYTES / STRING contents */
    size_t len;
    const uint8_t (*addrs)[20];    /* ADDRESS_ARRAY */
    const uint8_t (*u256s)[32];    /* UINT256_ARRAY */
    size_t n;                      /* array elements */
};

struct clb_abi_arg clb_abi_arg_u256(const uint8_t v[32]);
struct clb_abi_arg clb_abi_arg_address(const uint8_t a[20]);
struct clb_abi_arg clb_abi_arg_bool(bool b);
struct clb_abi_arg clb_abi_arg_bytes32(const uint8_t v[32]);
struct clb_abi_arg clb_abi_arg_bytes(const void *p, size_t len);
struct clb_abi_arg clb_abi_arg_string(const char *s); /* strlen(s) bytes */
struct clb_abi_arg clb_abi_arg_address_array(const uint8_t (*a)[20], size_t n);
struct clb_abi_arg clb_abi_arg_u256_array(const uint8_t (*v)[32], size_t n);

/* Selector of a canonical signature: keccak256(sig)[0..4). Does not
 * validate the signature. */
void clb_abi_selector(const char *signature, uint8_t out[CLB_ABI_SELECTOR_LEN]);

/* Encodes args (head/tail, no selector) into out[0..cap), length in *len.
 * CLB_EFULL when cap is too small, CLB_EINVAL for a NULL pointer with a
 * non-zero length or an unknown type. */
int clb_abi_encode(const struct clb_abi_arg *args, size_t n, uint8_t *out, size_t cap,
                   size_t *len);

/* Encodes selector(signature) + args. The signature must be canonical
 * ("name(type,type)", no spaces, uint256 not uint) and its parameter
 * types must match args one by one: uintN (N = 8..256) takes
 * CLB_ABI_UINT256, "address", "bool", "bytes32", "bytes", "string",
 * "address[]", "uint256[]" their own type. CLB_EINVAL on a mismatch or a
 * malformed signature, CLB_EFULL. */
int clb_abi_encode_call(const char *signature, const struct clb_abi_arg *args, size_t n,
                        uint8_t *out, size_t cap, size_t *len);

/* Size of the encoding of args (head + tail), without the selector. */
size_t clb_abi_encoded_len(const struct clb_abi_arg *args, size_t n);

/* ---- decoding return data; `slot` is the index of the head word ---- */

/* A static uint (any uintN) in head slot `slot`. CLB_EPARSE if out of bounds. */
int clb_abi_decode_u256(const uint8_t *data, size_t len, size_t slot, uint8_t out[32]);

/* An address in head slot `slot`; CLB_EPARSE if out of bounds or the upper
 * 12 bytes are not zero. */
int clb_abi_decode_address(const uint8_t *data, size_t len, size_t slot, uint8_t out[20]);

/* A bool in head slot `slot`; CLB_EPARSE unless the word is 0 or 1. */
int clb_abi_decode_bool(const uint8_t *data, size_t len, size_t slot, bool *out);

/* A uint256[] whose offset is in head slot `slot`: copies up to cap
 * elements into out and sets *n to the array's length. CLB_EPARSE for a
 * bad offset/length, CLB_EFULL when the array has more than cap elements
 * (then nothing is copied but *n is set). */
int clb_abi_decode_u256_array(const uint8_t *data, size_t len, size_t slot,
                              uint8_t (*out)[32], size_t cap, size_t *n);

/* An address[] likewise (each element checked like clb_abi_decode_address). */
int clb_abi_decode_address_array(const uint8_t *data, size_t len, size_t slot,
                                 uint8_t (*out)[20], size_t cap, size_t *n);

/* A bytes value whose offset is in head slot `slot`: copies it into out
 * (cap bytes) and sets *n to its length. CLB_EPARSE, CLB_EFULL (nothing
 * copied, *n set). */
int clb_abi_decode_bytes(const uint8_t *data, size_t len, size_t slot, uint8_t *out,
                         size_t cap, size_t *n);

/* A string likewise, NUL-terminated: needs cap >= length + 1 (CLB_EFULL
 * otherwise). CLB_EPARSE if it contains a NUL byte. Some old tokens (MKR)
 * return bytes32 for symbol(): clb_abi_decode_string_or_bytes32() accepts
 * both (a 32-byte answer is read as NUL-padded text). */
int clb_abi_decode_string(const uint8_t *data, size_t len, size_t slot, char *out,
                          size_t cap);
int clb_abi_decode_string_or_bytes32(const uint8_t *data, size_t len, char *out, size_t cap);

/* Revert data of a failed call or transaction: Error(string) (selector
 * 0x08c379a0) gives its message; Panic(uint256) (0x4e487b71) gives
 * "panic 0x11"; anything else (including empty data) gives CLB_ENOTFOUND
 * and out "". out is always NUL-terminated (truncated to cap). */
int clb_abi_decode_revert(const uint8_t *data, size_t len, char *out, size_t cap);

#endif
