/*
 * keccak.h — Keccak-256 as Ethereum uses it.
 *
 * Ethereum hashes with the original Keccak submission (rate 1088 bits,
 * capacity 512, padding byte 0x01), not with FIPS 202 SHA3-256 (padding
 * 0x06); the two give different digests. OpenSSL 3.0 only offers the
 * latter, so this is a small portable implementation of Keccak-f[1600].
 * Not on a hot path; no allocation, no global state.
 */
#ifndef CLB_KECCAK_H
#define CLB_KECCAK_H

#include <stddef.h>
#include <stdint.h>

#define CLB_KECCAK256_LEN 32

/* Incremental hashing state (caller-owned; no deinit needed). */
struct clb_keccak256 {
    uint64_t st[25];
    size_t pos; /* bytes absorbed into the current block */
};

/* Starts a hash. */
void clb_keccak256_init(struct clb_keccak256 *k);

/* Absorbs len bytes (data may be NULL when len is 0). */
void clb_keccak256_update(struct clb_keccak256 *k, const void *data, size_t len);

/* Writes the 32-byte digest and wipes the state. */
void clb_keccak256_final(struct clb_keccak256 *k, uint8_t out[CLB_KECCAK256_LEN]);

/* One-shot Keccak-256 of data[0..len) into out. Thread-safe. */
void clb_keccak256(const void *data, size_t len, uint8_t out[CLB_KECCAK256_LEN]);

#endif
