/*
 * secrets.h — named secrets (exchange API keys, wallet private keys)
 * encrypted at rest in DATA_DIR/secrets.json.
 *
 * Design: one key per file, derived from a passphrase with scrypt
 * (EVP_PBE_scrypt; N = 2^15, r = 8, p = 1 by default, ~32 MiB, the
 * parameters and a random 16-byte salt stored in the file). Each value is
 * sealed with AES-256-GCM under that key with its own random 12-byte nonce
 * and the additional data "secret:" + name, so a ciphertext moved to
 * another name fails authentication. A "check" record seals the list of
 * names (under additional data "check"): it tells a wrong passphrase
 * (CLB_SECRETS_EPASSPHRASE) from a damaged file (CLB_EPARSE), and an entry
 * added, removed or renamed outside colibri is detected. Every entry is
 * authenticated when the file is opened, so tampering surfaces at once.
 *
 * In memory a store holds the derived key and the sealed entries, never a
 * plaintext value: clb_secrets_get() decrypts into the caller's buffer.
 * clb_secrets_close() wipes the key and all buffers (OPENSSL_cleanse).
 * Writes go to a temporary file (0600), fsync, rename over secrets.json,
 * fsync of the directory, under an fcntl lock on secrets.json.lock; save
 * refuses (CLB_ESTATE) when the file changed since it was opened, so two
 * concurrent `colibri secret set` never lose an update silently.
 *
 * Values are text: 1..CLB_SECRET_VALUE_MAX-1 bytes, no NUL. Names are
 * 1..CLB_SECRET_NAME_MAX-1 characters of [A-Za-z0-9._:-], e.g.
 * "binance.api_key", "wallet.mainnet.0x9d8A62f6...".
 *
 * Threads: the read-only calls (get, has, list, count, is_new) may run
 * concurrently on one store from several threads as long as nothing
 * modifies it; set, remove, rekey, save and close need exclusive access.
 * Opening costs 0.1-0.5 s of CPU and 32 MiB (scrypt with the default
 * parameters), so a long-running process should open the store once and
 * keep the handle (it holds only ciphertexts and the derived key) rather
 * than reopen it per request.
 */
#ifndef CLB_SECRETS_H
#define CLB_SECRETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define CLB_SECRETS_FILE "secrets.json"
#define CLB_SECRET_NAME_MAX 128   /* bytes including the NUL */
#define CLB_SECRET_VALUE_MAX 8192 /* bytes including the NUL */
#define CLB_SECRETS_MAX 1024      /* entries per file */
#define CLB_SECRETS_PASSPHRASE_MAX 1024
#define CLB_SECRETS_ENV "COLIBRI_SECRETS_PASSPHRASE"

/* Returned by clb_secrets_open() for a wrong passphrase. core/error.h has
 * no permission-denied code yet; when CLB_EPERM is added this becomes
 * CLB_EPERM. Until then it is CLB_EINVAL, which open otherwise only
 * returns for NULL/empty arguments. */
#define CLB_SECRETS_EPASSPHRASE CLB_EINVAL

/* scrypt parameters. n: a power of two in [2^10, 2^20]; r in [1, 32];
 * p in [1, 16]; 128 * r * n bytes may not exceed 256 MiB. */
struct clb_secrets_kdf {
    uint64_t n;
    uint32_t r;
    uint32_t p;
};

#define CLB_SECRETS_KDF_DEFAULT ((struct clb_secrets_kdf){ .n = 1u << 15, .r = 8, .p = 1 })

struct clb_secrets;

/* True for a valid secret name (see the file comment). */
bool clb_secret_name_valid(const char *name);

/* Writes DATA_DIR/secrets.json into out. CLB_EINVAL if it does not fit. */
int clb_secrets_path(const char *data_dir, char *out, size_t cap);

/* Opens the store at path with passphrase (non-empty). A missing file
 * gives an empty store (new salt, default KDF parameters) that is only
 * written by clb_secrets_save(). On success *out owns the store.
 * Failures (message in err): CLB_SECRETS_EPASSPHRASE "wrong passphrase",
 * CLB_EPARSE for a malformed or tampered file, CLB_EUNSUPPORTED for a newer
 * file version or unknown algorithm, CLB_EIO when unreadable, CLB_ENOMEM,
 * CLB_EINVAL for NULL/empty arguments. Takes 0.1-0.5 s of CPU (scrypt). */
int clb_secrets_open(const char *path, const char *passphrase, struct clb_secrets **out,
                     char *err, size_t errlen);

/* Like clb_secrets_open() but a store created because the file is missing
 * uses kdf (NULL: the defaults). Existing files keep their parameters.
 * CLB_EINVAL for parameters outside the limits. */
int clb_secrets_open_kdf(const char *path, const char *passphrase,
                         const struct clb_secrets_kdf *kdf, struct clb_secrets **out,
                         char *err, size_t errlen);

/* True when the store was created by open (no file existed). */
bool clb_secrets_is_new(const struct clb_secrets *s);

/* Number of entries. */
size_t clb_secrets_count(const struct clb_secrets *s);

/* Decrypts the value of name into buf (NUL-terminated), its length in
 * *len (may be NULL). CLB_ENOTFOUND, CLB_EFULL when cap < length + 1
 * (buf then holds ""), CLB_EPARSE if the entry fails authentication.
 * The caller should OPENSSL_cleanse(buf) when done. */
int clb_secrets_get(const struct clb_secrets *s, const char *name, char *buf, size_t cap,
                    size_t *len);

/* True when name exists. */
bool clb_secrets_has(const struct clb_secrets *s, const char *name);

/* Adds or replaces name = value (in memory; clb_secrets_save() writes).
 * CLB_EINVAL for a bad name or a value that is empty, too long or holds a
 * NUL; CLB_EFULL past CLB_SECRETS_MAX; CLB_EIO if encryption fails. */
int clb_secrets_set(struct clb_secrets *s, const char *name, const char *value);

/* Removes name (in memory). CLB_ENOTFOUND. */
int clb_secrets_remove(struct clb_secrets *s, const char *name);

/* Copies up to cap names, in byte order, into names and sets *n to the
 * number of entries (CLB_EFULL when more than cap: only cap copied). Never
 * exposes values. */
int clb_secrets_list(const struct clb_secrets *s, char (*names)[CLB_SECRET_NAME_MAX], size_t cap,
                     size_t *n);

/* Re-encrypts every entry under a key derived from new_passphrase with a
 * fresh salt and kdf (NULL: keep the current parameters), in memory;
 * clb_secrets_save() writes. CLB_EINVAL, CLB_EPARSE (an entry fails
 * authentication), CLB_EIO. On error the store is unchanged. */
int clb_secrets_rekey(struct clb_secrets *s, const char *new_passphrase,
                      const struct clb_secrets_kdf *kdf);

/* Writes the store to its path atomically with mode 0600 (the directory
 * must exist). CLB_ESTATE when the file was changed by someone else since
 * open (reopen and retry), CLB_EIO, CLB_ENOMEM. */
int clb_secrets_save(struct clb_secrets *s, char *err, size_t errlen);

/* Wipes the key and every buffer and frees the store. NULL-safe. */
void clb_secrets_close(struct clb_secrets *s);

/* Gets the passphrase: $COLIBRI_SECRETS_PASSPHRASE when set and non-empty,
 * else a prompt on the controlling terminal (/dev/tty) without echo; with
 * confirm, asked twice and compared (for a new file). CLB_ENOTFOUND with a
 * message when there is neither (no terminal), CLB_EINVAL when the
 * entries differ or are empty, CLB_EFULL when longer than cap - 1. The
 * caller wipes out after use. */
int clb_secrets_passphrase(bool confirm, char *out, size_t cap, char *err, size_t errlen);

#endif
