/*
 * auth.h — API tokens: roles, a token store interface, verification and a
 * per-address throttle for failed attempts.
 *
 * A token is "clb_" followed by 64 lowercase hex digits: 32 random bytes
 * from OpenSSL's RAND_bytes. It is shown once, when created; what is kept is
 * the SHA-256 of those 32 bytes (hex). Verifying a presented token hashes it
 * and compares the hash with every stored one using CRYPTO_memcmp, without
 * stopping at the first match, so the time taken does not depend on which
 * stored hash (if any) shares a prefix with it.
 *
 * Roles are ordered: admin implies trade implies read.
 *
 * Where records live is behind struct clb_token_store (a table of function
 * pointers plus a context). The server uses the database store (auth_db.c,
 * the api_tokens table, see clb_token_store_open); the file store keeps
 * DATA_DIR/tokens.json (mode 0600), rewritten atomically (temporary file,
 * fsync, rename) under an advisory lock (DATA_DIR/tokens.lock) so that
 * `colibri token ...` and a running server can both change it; the server
 * notices such changes (the file's inode, size or mtime moved) and reloads.
 *
 * struct clb_auth is what the HTTP layer holds: one store behind a mutex
 * plus the failure throttle. All of its functions are thread-safe.
 */
#ifndef CLB_AUTH_H
#define CLB_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum clb_role {
    CLB_ROLE_NONE = 0,
    CLB_ROLE_READ = 1,
    CLB_ROLE_TRADE = 2,
    CLB_ROLE_ADMIN = 3,
};

#define CLB_TOKEN_PREFIX "clb_"
#define CLB_TOKEN_TEXT_LEN 68   /* "clb_" + 64 hex digits */
#define CLB_TOKEN_NAME_MAX 64   /* bytes including the NUL: 1..63 of [A-Za-z0-9._-] */
#define CLB_TOKEN_HASH_HEX 65   /* 64 hex digits + NUL */
#define CLB_AUTH_MAX_TOKENS 1024

/* Failure throttle: after CLB_AUTH_FAIL_LIMIT failed attempts within
 * CLB_AUTH_FAIL_WINDOW_MS of the first one, an address is refused until the
 * window ends. CLB_AUTH_THROTTLE_SLOTS addresses are tracked (the least
 * recently failing one is forgotten when the table is full). */
#define CLB_AUTH_FAIL_LIMIT 5
#define CLB_AUTH_FAIL_WINDOW_MS 60000
#define CLB_AUTH_THROTTLE_SLOTS 256
#define CLB_AUTH_ADDR_MAX 64

struct clb_token_record {
    char name[CLB_TOKEN_NAME_MAX];
    enum clb_role role;
    char hash[CLB_TOKEN_HASH_HEX]; /* lowercase hex SHA-256 of the token's 32 bytes */
    int64_t created_s;             /* Unix seconds */
    int64_t last_used_s;           /* Unix seconds, 0 = never used */
};

/* "read", "trade", "admin" ("none" for CLB_ROLE_NONE). Static string. */
const char *clb_role_name(enum clb_role role);

/* Parses a role name. CLB_EINVAL for anything else; *out untouched then. */
int clb_role_parse(const char *s, enum clb_role *out);

/* True when `have` grants what `need` asks for (admin > trade > read). */
bool clb_role_allows(enum clb_role have, enum clb_role need);

/* True for a valid token name: 1..63 characters of [A-Za-z0-9._-]. */
bool clb_token_name_valid(const char *name);

/* Hashes a presented token text into hex_out (CLB_TOKEN_HASH_HEX bytes).
 * CLB_EINVAL if the text is not "clb_" + 64 hex digits (hex_out is then
 * still written, with the hash of nothing, so callers can compare it in
 * constant time anyway). */
int clb_token_hash(const char *token, char hex_out[CLB_TOKEN_HASH_HEX]);

/* ---- token store interface ---- */

/* Every hook returns CLB_OK or a negative CLB_E* code and leaves the store
 * unchanged on error. Hooks are called with the owner's lock held (one
 * caller at a time per store object); the backend protects itself against
 * other processes. */
struct clb_token_store_ops {
    const char *name;
    /* Copies up to cap records (in creation order) into out, sets *n to the
     * number of records the store holds (may exceed cap: then only cap are
     * copied and CLB_EFULL is returned). */
    int (*list)(void *ctx, struct clb_token_record *out, size_t cap, size_t *n);
    /* Finds the record whose hash equals hash_hex (compared in constant
     * time against every record). CLB_ENOTFOUND when none. */
    int (*find_by_hash)(void *ctx, const char *hash_hex, struct clb_token_record *out);
    /* Adds a record. CLB_EEXIST if the name is taken, CLB_EFULL past
     * CLB_AUTH_MAX_TOKENS, CLB_EIO when it cannot be persisted. */
    int (*add)(void *ctx, const struct clb_token_record *rec);
    /* Removes the record of that name. CLB_ENOTFOUND when none. */
    int (*remove)(void *ctx, const char *name);
    /* Notes a use. May persist lazily (the file store writes at most once a
     * minute per token). CLB_ENOTFOUND when none. */
    int (*touch)(void *ctx, const char *name, int64_t now_s);
    /* Frees the backend (persisting pending touches). */
    void (*destroy)(void *ctx);
};

struct clb_token_store {
    const struct clb_token_store_ops *ops;
    void *ctx;
};

/* Opens the file store on DATA_DIR/tokens.json, creating DATA_DIR (0700) if
 * it does not exist. A missing file is an empty store; a malformed one is
 * CLB_EPARSE with a message in err. CLB_EIO for unreadable directories. */
int clb_token_store_open_file(const char *data_dir, struct clb_token_store *out, char *err,
                              size_t errlen);

/* Opens the database store (auth_db.c), what the server and `colibri token`
 * use: tokens live in the api_tokens table of the store at store_url (NULL
 * or "" = SQLite at DATA_DIR/colibri.db; migrated if needed), cached in
 * memory and re-read every 2 s (and on an unknown hash, at most every
 * 250 ms), so tokens created or revoked by other processes of the same
 * instance apply within seconds. DATA_DIR/tokens.json is kept as an offline
 * copy: while the database is unreachable verification uses it (creating
 * and revoking fail with CLB_EIO), and a database without any token row
 * imports it once. CLB_EINVAL (no data_dir, bad URL), CLB_EIO, CLB_ENOMEM,
 * CLB_EPARSE (malformed tokens.json); an unreachable database is not an
 * error here. */
int clb_token_store_open(const char *data_dir, const char *store_url,
                         struct clb_token_store *out, char *err, size_t errlen);

/* Calls the backend's destroy and clears *s. NULL-safe. */
void clb_token_store_close(struct clb_token_store *s);

/* ---- clb_auth: the thread-safe front ---- */

struct clb_auth;

/* Creates the front around a store, taking ownership of it (also on
 * failure: the store is closed then). CLB_ENOMEM. */
int clb_auth_create(struct clb_token_store store, struct clb_auth **out);

/* Closes the store and frees everything. NULL-safe. */
void clb_auth_destroy(struct clb_auth *a);

/* Creates a token: draws 32 random bytes, stores name/role/hash and writes
 * the token text (CLB_TOKEN_TEXT_LEN + 1 bytes) into token_out. rec_out (may
 * be NULL) receives the stored record. CLB_EINVAL for a bad name or role,
 * CLB_EEXIST for a taken name, CLB_EIO when the randomness source or the
 * store fails. The token text is never kept anywhere. */
int clb_auth_token_create(struct clb_auth *a, const char *name, enum clb_role role,
                          int64_t now_s, char token_out[CLB_TOKEN_TEXT_LEN + 1],
                          struct clb_token_record *rec_out);

/* Lists records (see the store's list hook). */
int clb_auth_token_list(struct clb_auth *a, struct clb_token_record *out, size_t cap,
                        size_t *n);

/* Revokes (deletes) a token by name. CLB_ENOTFOUND. */
int clb_auth_token_revoke(struct clb_auth *a, const char *name);

/* Verifies a presented token. CLB_OK with *role and name_out (may be NULL,
 * else CLB_TOKEN_NAME_MAX bytes) filled and the use noted at now_s;
 * CLB_ENOTFOUND for an unknown or malformed token (outputs untouched). */
int clb_auth_verify(struct clb_auth *a, const char *token, int64_t now_s, enum clb_role *role,
                    char *name_out);

/* Throttle: CLB_OK when addr may try to authenticate at now_ms, or
 * CLB_EFULL while it is locked out, with the wait (ceil, >= 1 s) in
 * *retry_after_s. */
int clb_auth_throttle_check(struct clb_auth *a, const char *addr, int64_t now_ms,
                            int *retry_after_s);

/* Records one failed attempt from addr at now_ms. */
void clb_auth_throttle_fail(struct clb_auth *a, const char *addr, int64_t now_ms);

/* First start: when the token store (clb_token_store_open: data_dir,
 * store_url) holds no token, creates an
 * admin token named "admin", stores only its hash, writes the token text to
 * DATA_DIR/admin.token (mode 0600; path copied to path_out) and returns 1.
 * Returns 0 (touching nothing) when tokens exist, a negative CLB_E* code on
 * error (CLB_EIO: unwritable directory; no token is then stored). */
int clb_auth_bootstrap_admin(const char *data_dir, const char *store_url, char *path_out,
                             size_t cap);

#endif
