/*
 * eth_tx.h — Ethereum accounts and transactions: address from a private
 * key, EIP-55 address text, hash signing/recovery and signed raw
 * transactions (EIP-155 legacy, EIP-1559 type 2).
 *
 * Signing uses libsecp256k1: deterministic nonces (RFC 6979, the library's
 * default) and low-s signatures (libsecp256k1 only produces normalized
 * signatures; recovery here rejects high-s). Private keys are only
 * borrowed: every copy this module makes of a key or of secret
 * intermediates lives on the stack and is wiped with OPENSSL_cleanse before
 * returning. Each call creates and destroys its own secp256k1 context (no
 * global state), which costs well under a millisecond.
 *
 * Transactions: a legacy transaction is signed over
 *   keccak(rlp([nonce, gasPrice, gas, to, value, data, chainId, 0, 0]))
 * and sent as rlp([nonce, gasPrice, gas, to, value, data, v, r, s]) with
 * v = chainId * 2 + 35 + yParity (EIP-155). A type-2 transaction is signed
 * over keccak(0x02 || rlp([chainId, nonce, maxPriorityFeePerGas,
 * maxFeePerGas, gas, to, value, data, accessList])) and sent as
 * 0x02 || rlp([..., accessList, yParity, r, s]). The access list is always
 * empty. The transaction hash (what eth_sendRawTransaction returns) is
 * keccak of the raw bytes.
 *
 * All functions are thread-safe.
 */
#ifndef CLB_ETH_TX_H
#define CLB_ETH_TX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLB_ETH_KEY_LEN 32
#define CLB_ETH_ADDR_LEN 20
#define CLB_ETH_ADDR_TEXT 43 /* "0x" + 40 hex digits + NUL */
#define CLB_ETH_SIG_LEN 65   /* r (32) || s (32) || recovery id (0 or 1) */
/* Largest data field accepted by clb_eth_tx_sign (a contract deployment
 * fits; a node's own limit is 128 KiB for the whole transaction). */
#define CLB_ETH_TX_MAX_DATA (256 * 1024)
/* Output capacity that always suffices for a transaction with data_len
 * bytes of data. */
#define CLB_ETH_TX_RAW_MAX(data_len) ((size_t)(data_len) + 320)

enum clb_eth_tx_type {
    CLB_ETH_TX_LEGACY = 0,  /* EIP-155 replay-protected legacy transaction */
    CLB_ETH_TX_EIP1559 = 2, /* type 2 dynamic fee transaction */
};

struct clb_eth_tx {
    enum clb_eth_tx_type type;
    uint64_t chain_id;         /* must be >= 1 */
    uint64_t nonce;
    uint64_t gas_price;        /* wei per gas, legacy only */
    uint64_t max_fee;          /* maxFeePerGas, wei, type 2 only */
    uint64_t max_priority_fee; /* maxPriorityFeePerGas, wei, type 2 only */
    uint64_t gas_limit;        /* must be > 0: always explicit */
    bool create;               /* true: contract creation (to is ignored, sent empty) */
    uint8_t to[CLB_ETH_ADDR_LEN];
    uint8_t value[32];         /* wei, 32-byte big-endian */
    const uint8_t *data;       /* call data / init code (may be NULL when data_len is 0) */
    size_t data_len;
};

/* Derives the address (last 20 bytes of keccak256 of the uncompressed
 * public key without its 0x04 prefix). CLB_EINVAL when key is not a valid
 * secp256k1 secret key (0 or >= the group order). */
int clb_eth_address_from_key(const uint8_t key[CLB_ETH_KEY_LEN], uint8_t out[CLB_ETH_ADDR_LEN]);

/* True when key is a valid secp256k1 secret key. */
bool clb_eth_key_valid(const uint8_t key[CLB_ETH_KEY_LEN]);

/* Parses "0x" + 40 hex digits. All-lowercase and all-uppercase digits are
 * accepted as they are; mixed case must match the EIP-55 checksum.
 * CLB_EPARSE otherwise (including the checksum failing). */
int clb_eth_address_parse(const char *s, uint8_t out[CLB_ETH_ADDR_LEN]);

/* Writes the EIP-55 checksummed text ("0x9d8A62f6...") into out. */
void clb_eth_address_format(const uint8_t a[CLB_ETH_ADDR_LEN], char out[CLB_ETH_ADDR_TEXT]);

/* Signs a 32-byte hash: sig = r || s || recid, low-s, deterministic
 * (RFC 6979). CLB_EINVAL for an invalid key, CLB_EIO if the library fails. */
int clb_eth_sign_hash(const uint8_t key[CLB_ETH_KEY_LEN], const uint8_t hash[32],
                      uint8_t sig[CLB_ETH_SIG_LEN]);

/* Recovers the signer's address of hash from sig (r || s || recid 0/1).
 * CLB_EINVAL for a malformed or high-s signature or one that recovers no
 * key. */
int clb_eth_recover(const uint8_t hash[32], const uint8_t sig[CLB_ETH_SIG_LEN],
                    uint8_t out[CLB_ETH_ADDR_LEN]);

/* The hash a transaction's signature covers (see the file comment).
 * CLB_EINVAL for a bad field (unknown type, chain_id 0, gas_limit 0,
 * data_len > CLB_ETH_TX_MAX_DATA, NULL data with data_len > 0). */
int clb_eth_tx_signing_hash(const struct clb_eth_tx *tx, uint8_t out[32]);

/* Signs tx with key and writes the raw transaction (what
 * eth_sendRawTransaction takes, hex-encoded) into out[0..cap), its length
 * in *len and its hash in hash_out (may be NULL). CLB_EINVAL for a bad
 * field or key, CLB_EFULL when cap is too small (CLB_ETH_TX_RAW_MAX
 * suffices). Outputs are untouched on error. */
int clb_eth_tx_sign(const struct clb_eth_tx *tx, const uint8_t key[CLB_ETH_KEY_LEN],
                    uint8_t *out, size_t cap, size_t *len, uint8_t hash_out[32]);

/* Recovers the sender of a signed raw transaction (legacy EIP-155, legacy
 * pre-EIP-155 with v 27/28, or type 2) and, when chain_id is not NULL, its
 * chain id (0 for pre-EIP-155). CLB_EPARSE for malformed input,
 * CLB_EUNSUPPORTED for other transaction types, CLB_EINVAL for a bad
 * signature. */
int clb_eth_tx_sender(const uint8_t *raw, size_t len, uint8_t from[CLB_ETH_ADDR_LEN],
                      uint64_t *chain_id);

#endif
