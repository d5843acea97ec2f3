/*
 * wallet.h — wallet private keys at rest, encrypted, through the secrets
 * file (secrets.h: DATA_DIR/secrets.json, scrypt + AES-256-GCM, passphrase
 * from COLIBRI_SECRETS_PASSPHRASE). Each key is the secret named
 * "wallet.NETWORK.0xADDRESS" (lowercase address) holding the key as 64 hex
 * digits. Keys are never logged or returned; listing gives addresses only.
 *
 * Every call opens the secrets file (scrypt: ~0.1 s), does its work and
 * closes it, wiping its buffers. The gateway (gateway.c) calls
 * clb_wallet_key once per wallet and keeps the key in its own
 * mutex-guarded cache until clb_gateway_destroy wipes it. `passphrase` NULL means $COLIBRI_SECRETS_PASSPHRASE
 * (never a prompt: the server has no terminal). Any thread; concurrent
 * adds are refused by the secrets module (CLB_ESTATE) rather than lost.
 */
#ifndef CLB_WALLET_H
#define CLB_WALLET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Parses a private key (64 hex digits, optional 0x), checks it is a valid
 * secp256k1 key and stores it for network; the address in addr_out.
 * Replaces an existing entry for the same address. CLB_EINVAL (bad key or
 * network name), CLB_EIO / other codes from the secrets store with a
 * message in err. */
int clb_wallet_add(const char *data_dir, const char *passphrase, const char *network,
                   const char *key_text, uint8_t addr_out[20], char *err, size_t errlen);

/* Loads the key of addr on network into key (32 bytes; wipe after use).
 * CLB_ENOTFOUND when there is none. */
int clb_wallet_key(const char *data_dir, const char *passphrase, const char *network,
                   const uint8_t addr[20], uint8_t key[32], char *err, size_t errlen);

/* The wallets (network may be NULL for all) as a JSON array of
 * {"network", "address"} (new reference in *out). A missing secrets file
 * is an empty list. */
int clb_wallet_list(const char *data_dir, const char *passphrase, const char *network,
                    json_t **out, char *err, size_t errlen);

#endif
