/*
 * auth_db.c — the database token store: API tokens in the store's
 * api_tokens table (SQLite by default, PostgreSQL for fleets), behind the
 * same struct clb_token_store the HTTP, WebSocket and console layers use.
 *
 * Design:
 *   - The database is the source of truth. Every process keeps the active
 *     tokens of its instance in memory and re-reads them at most every
 *     REFRESH_MS (so a revocation made by `colibri token revoke` or by
 *     another process applies within that), and at most every RETRY_MS
 *     again when a presented hash is unknown (so a token created a moment
 *     ago elsewhere works at once).
 *   - Verifying never waits on the network beyond those refreshes: the
 *     lookup compares the hash with every cached one in constant time.
 *   - DATA_DIR/tokens.json (the file store) is an offline copy, rewritten
 *     when the set changes: when the database is unreachable the API keeps
 *     authenticating from it (read-only: creating or revoking then fails
 *     with CLB_EIO). It is also the import path: a database holding no token
 *     rows at all takes every token of an existing tokens.json once.
 *   - last_used is kept in memory and written at most once a minute per
 *     token (and at close).
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "auth.h"
#include "error.h"
#include "store.h"

#define REFRESH_MS 2000
#define RETRY_MS 250
#define TOUCH_PERSIST_S 60
#define DOWN_RETRY_MS 30000 /* an unreachable database is tried again after this */
#define CONNECT_TIMEOUT_S 2

struct db_store {
    char url[1024];
    char data_dir[1024];
    struct clb_store *st;        /* NULL while the database is unreachable */
    struct clb_token_store copy; /* the offline copy (file store) */
    struct clb_token_record cache[CLB_AUTH_MAX_TOKENS];
    int64_t persisted_used_s[CLB_AUTH_MAX_TOKENS];
    size_t n;
    int64_t refreshed_ms; /* monotonic, 0 = never */
    int64_t down_since_ms; /* monotonic time of the last failed connect, 0 = none */
    /* scratch for a refresh */
    struct clb_token_record next[CLB_AUTH_MAX_TOKENS];
    size_t n_next;
    size_t rows; /* every row seen, revoked ones included */
    bool overflow;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ssize_t cache_find(const struct db_store *ds, const char *name)
{
    for (size_t i = 0; i < ds->n; i++)
        if (strcmp(ds->cache[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

/* The api_tokens row of a record (seconds -> milliseconds, role by name). */
static void row_of(const struct clb_token_record *r, struct clb_store_token *t)
{
    memset(t, 0, sizeof(*t));
    t->created_ms = r->created_s * 1000;
    t->last_used_ms = r->last_used_s * 1000;
    (void)clb_store_strlcpy(t->name, sizeof(t->name), r->name);
    (void)clb_store_strlcpy(t->hash, sizeof(t->hash), r->hash);
    (void)clb_store_strlcpy(t->role, sizeof(t->role), clb_role_name(r->role));
}

static int collect(void *ud, const struct clb_store_token *t)
{
    struct db_store *ds = ud;
    ds->rows++;
    if (t->revoked_ms != 0)
        return 0;
    struct clb_token_record r = { 0 };
    if (clb_role_parse(t->role, &r.role) != CLB_OK || !clb_token_name_valid(t->name) ||
        strlen(t->hash) != CLB_TOKEN_HASH_HEX - 1)
        return 0; /* a row another version wrote: not usable here */
    if (ds->n_next == CLB_AUTH_MAX_TOKENS) {
        ds->overflow = true;
        return 0;
    }
    snprintf(r.name, sizeof(r.name), "%s", t->name);
    memcpy(r.hash, t->hash, CLB_TOKEN_HASH_HEX);
    r.created_s = t->created_ms / 1000;
    r.last_used_s = t->last_used_ms / 1000;
    ds->next[ds->n_next++] = r;
    return 0;
}

/* Makes the offline copy hold exactly the cached set (names and hashes). */
static void copy_sync(struct db_store *ds)
{
    if (!ds->copy.ops)
        return;
    struct clb_token_record *have = ds->next; /* free after a refresh */
    size_t n = 0;
    int rc = ds->copy.ops->list(ds->copy.ctx, have, CLB_AUTH_MAX_TOKENS, &n);
    if (rc != CLB_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        ssize_t j = cache_find(ds, have[i].name);
        if (j < 0 || strcmp(ds->cache[j].hash, have[i].hash) != 0 ||
            ds->cache[j].role != have[i].role)
            (void)ds->copy.ops->remove(ds->copy.ctx, have[i].name);
    }
    for (size_t j = 0; j < ds->n; j++) {
        bool present = false;
        for (size_t i = 0; i < n && !present; i++)
            present = strcmp(have[i].name, ds->cache[j].name) == 0 &&
                      strcmp(have[i].hash, ds->cache[j].hash) == 0 &&
                      have[i].role == ds->cache[j].role;
        if (!present)
            (void)ds->copy.ops->add(ds->copy.ctx, &ds->cache[j]);
    }
}

static int connect_db(struct db_store *ds)
{
    if (ds->st)
        return CLB_OK;
    if (ds->down_since_ms && mono_ms() - ds->down_since_ms < DOWN_RETRY_MS)
        return CLB_EIO;
    struct clb_store_options so;
    clb_store_options_init(&so);
    so.connect_timeout_s = CONNECT_TIMEOUT_S;
    so.url = ds->url[0] ? ds->url : NULL;
    so.data_dir = ds->data_dir;
    char err[256];
    struct clb_store *st = NULL;
    int rc = clb_store_open(&so, &st, err, sizeof(err));
    if (rc == CLB_OK) {
        rc = clb_store_migrate(st, NULL, NULL, NULL);
        if (rc != CLB_OK)
            clb_store_close(st);
    }
    if (rc != CLB_OK) {
        ds->down_since_ms = mono_ms();
        return rc;
    }
    ds->down_since_ms = 0;
    ds->st = st;
    return CLB_OK;
}

/* Imports the offline copy into an empty table (no row ever). */
static void import_copy(struct db_store *ds)
{
    if (!ds->copy.ops)
        return;
    struct clb_token_record *have = ds->next; /* refresh() refills it afterwards */
    size_t n = 0;
    if (ds->copy.ops->list(ds->copy.ctx, have, CLB_AUTH_MAX_TOKENS, &n) != CLB_OK)
        return;
    for (size_t i = 0; i < n; i++) {
        struct clb_store_token t;
        row_of(&have[i], &t);
        (void)clb_store_token_add(ds->st, &t);
    }
}

/* Re-reads the active tokens. On failure the cache stays as it was (the
 * offline view) and the connection is dropped, to be made again later. */
static int refresh(struct db_store *ds)
{
    ds->refreshed_ms = mono_ms();
    int rc = connect_db(ds);
    if (rc != CLB_OK)
        return rc;
    for (int pass = 0; pass < 2; pass++) {
        ds->n_next = 0;
        ds->rows = 0;
        ds->overflow = false;
        rc = clb_store_tokens_list(ds->st, collect, ds);
        if (rc != CLB_OK) {
            clb_store_close(ds->st);
            ds->st = NULL;
            ds->down_since_ms = mono_ms();
            return rc;
        }
        if (pass == 0 && ds->rows == 0 && ds->copy.ops) {
            import_copy(ds);
            continue;
        }
        break;
    }
    /* carry last-use figures not yet persisted */
    for (size_t i = 0; i < ds->n_next; i++) {
        ssize_t j = cache_find(ds, ds->next[i].name);
        int64_t persisted = ds->next[i].last_used_s;
        if (j >= 0 && strcmp(ds->cache[j].hash, ds->next[i].hash) == 0 &&
            ds->cache[j].last_used_s > ds->next[i].last_used_s)
            ds->next[i].last_used_s = ds->cache[j].last_used_s;
        ds->persisted_used_s[i] = persisted;
    }
    memcpy(ds->cache, ds->next, ds->n_next * sizeof(ds->cache[0]));
    ds->n = ds->n_next;
    copy_sync(ds);
    return CLB_OK;
}

static void maybe_refresh(struct db_store *ds, int64_t max_age_ms)
{
    if (ds->refreshed_ms == 0 || mono_ms() - ds->refreshed_ms >= max_age_ms)
        (void)refresh(ds);
}

static int db_list(void *ctx, struct clb_token_record *out, size_t cap, size_t *n)
{
    struct db_store *ds = ctx;
    maybe_refresh(ds, RETRY_MS);
    size_t k = ds->n < cap ? ds->n : cap;
    memcpy(out, ds->cache, k * sizeof(*out));
    *n = ds->n;
    return k < ds->n ? CLB_EFULL : CLB_OK;
}

static ssize_t hash_find(const struct db_store *ds, const char *hash_hex)
{
    ssize_t found = -1;
    for (size_t i = 0; i < ds->n; i++) /* every record, no early exit */
        if (CRYPTO_memcmp(ds->cache[i].hash, hash_hex, CLB_TOKEN_HASH_HEX - 1) == 0)
            found = (ssize_t)i;
    return found;
}

static int db_find_by_hash(void *ctx, const char *hash_hex, struct clb_token_record *out)
{
    struct db_store *ds = ctx;
    maybe_refresh(ds, REFRESH_MS);
    ssize_t i = hash_find(ds, hash_hex);
    if (i < 0 && mono_ms() - ds->refreshed_ms >= RETRY_MS) {
        (void)refresh(ds);
        i = hash_find(ds, hash_hex);
    }
    if (i < 0)
        return CLB_ENOTFOUND;
    *out = ds->cache[i];
    return CLB_OK;
}

static int db_add(void *ctx, const struct clb_token_record *rec)
{
    struct db_store *ds = ctx;
    int rc = connect_db(ds);
    if (rc != CLB_OK)
        return CLB_EIO;
    maybe_refresh(ds, 0);
    if (cache_find(ds, rec->name) >= 0)
        return CLB_EEXIST;
    if (ds->n == CLB_AUTH_MAX_TOKENS)
        return CLB_EFULL;
    struct clb_store_token t;
    row_of(rec, &t);
    rc = clb_store_token_add(ds->st, &t);
    if (rc == CLB_EEXIST || rc == CLB_EINVAL)
        return rc;
    if (rc != CLB_OK)
        return CLB_EIO;
    (void)refresh(ds);
    return CLB_OK;
}

static int db_remove(void *ctx, const char *name)
{
    struct db_store *ds = ctx;
    int rc = connect_db(ds);
    if (rc != CLB_OK)
        return CLB_EIO;
    rc = clb_store_token_revoke(ds->st, name, wall_ms());
    if (rc == CLB_ENOTFOUND)
        return rc;
    if (rc != CLB_OK)
        return CLB_EIO;
    (void)refresh(ds);
    return CLB_OK;
}

static int db_touch(void *ctx, const char *name, int64_t now_s)
{
    struct db_store *ds = ctx;
    ssize_t j = cache_find(ds, name);
    if (j < 0)
        return CLB_ENOTFOUND;
    if (now_s > ds->cache[j].last_used_s)
        ds->cache[j].last_used_s = now_s;
    if (ds->st && ds->cache[j].last_used_s - ds->persisted_used_s[j] >= TOUCH_PERSIST_S) {
        if (clb_store_token_touch(ds->st, name, ds->cache[j].last_used_s * 1000) == CLB_OK)
            ds->persisted_used_s[j] = ds->cache[j].last_used_s;
    }
    return CLB_OK;
}

static void db_destroy(void *ctx)
{
    struct db_store *ds = ctx;
    for (size_t i = 0; ds->st && i < ds->n; i++)
        if (ds->cache[i].last_used_s > ds->persisted_used_s[i])
            (void)clb_store_token_touch(ds->st, ds->cache[i].name,
                                        ds->cache[i].last_used_s * 1000);
    clb_store_close(ds->st);
    clb_token_store_close(&ds->copy);
    OPENSSL_cleanse(ds, sizeof(*ds));
    free(ds);
}

static const struct clb_token_store_ops db_store_ops = {
    .name = "database",
    .list = db_list,
    .find_by_hash = db_find_by_hash,
    .add = db_add,
    .remove = db_remove,
    .touch = db_touch,
    .destroy = db_destroy,
};

int clb_token_store_open(const char *data_dir, const char *store_url,
                         struct clb_token_store *out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (!data_dir || !*data_dir) {
        snprintf(err, errlen, "no data directory");
        return CLB_EINVAL;
    }
    struct db_store *ds = calloc(1, sizeof(*ds));
    if (!ds) {
        snprintf(err, errlen, "out of memory");
        return CLB_ENOMEM;
    }
    if (snprintf(ds->url, sizeof(ds->url), "%s", store_url ? store_url : "") >=
            (int)sizeof(ds->url) ||
        snprintf(ds->data_dir, sizeof(ds->data_dir), "%s", data_dir) >=
            (int)sizeof(ds->data_dir)) {
        free(ds);
        snprintf(err, errlen, "store URL or data directory too long");
        return CLB_EINVAL;
    }
    enum clb_store_backend backend;
    char target[1024];
    int rc = clb_store_parse_url(ds->url[0] ? ds->url : NULL, data_dir, &backend, target,
                                 sizeof(target));
    if (rc != CLB_OK) {
        free(ds);
        snprintf(err, errlen, "unsupported store URL (postgresql://..., sqlite:PATH or a path)");
        return rc == CLB_EUNSUPPORTED ? CLB_EINVAL : rc;
    }
    rc = clb_token_store_open_file(data_dir, &ds->copy, err, errlen);
    if (rc != CLB_OK) {
        free(ds);
        return rc;
    }
    /* Unreachable database: start from the offline copy, retry later. */
    if (refresh(ds) != CLB_OK) {
        size_t n = 0;
        if (ds->copy.ops->list(ds->copy.ctx, ds->cache, CLB_AUTH_MAX_TOKENS, &n) == CLB_OK) {
            ds->n = n;
            for (size_t i = 0; i < n; i++)
                ds->persisted_used_s[i] = ds->cache[i].last_used_s;
        }
    }
    out->ops = &db_store_ops;
    out->ctx = ds;
    return CLB_OK;
}
