/*
 * auth.c — API tokens (see auth.h): hashing, the file-backed token store,
 * the thread-safe front and the failed-attempt throttle.
 *
 * File store design: the records live in memory (`cur`), loaded from
 * DATA_DIR/tokens.json and reloaded whenever stat() shows the file changed
 * (another process rewrote it: a rename gives it a new inode). Every change
 * runs the same way: take the lock file (fcntl write lock), reload if
 * needed, apply the change to a scratch copy, write the copy to a temporary
 * file, fsync, rename over tokens.json, fsync the directory, then make the
 * copy current. A failure anywhere leaves both the file and `cur` as they
 * were. Uses are noted in memory and written at most once a minute per
 * token, so verifying a token does not write a file on every request.
 *
 * The fcntl lock excludes other processes but not other threads of this
 * one (POSIX record locks belong to the process), and one process may hold
 * several stores on the same directory (the HTTP API and the WebSocket
 * server each have one). So writers also take `write_lock`, the one
 * process-wide object in this file: a mutex, not state.
 */
#include "auth.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "error.h"
#include "hex.h"

#define TOUCH_PERSIST_S 60
#define TOKENS_FILE "tokens.json"
#define TOKENS_TMP "tokens.json.tmp"
#define TOKENS_LOCK "tokens.lock"
#define ADMIN_TOKEN_FILE "admin.token"

/* ---- roles, names, hashing ---- */

static const char *const role_names[] = { "none", "read", "trade", "admin" };

const char *clb_role_name(enum clb_role role)
{
    if ((int)role < 0 || (int)role > CLB_ROLE_ADMIN)
        return "none";
    return role_names[role];
}

int clb_role_parse(const char *s, enum clb_role *out)
{
    if (!s)
        return CLB_EINVAL;
    for (int r = CLB_ROLE_READ; r <= CLB_ROLE_ADMIN; r++) {
        if (strcmp(s, role_names[r]) == 0) {
            *out = (enum clb_role)r;
            return CLB_OK;
        }
    }
    return CLB_EINVAL;
}

bool clb_role_allows(enum clb_role have, enum clb_role need)
{
    return (int)have >= (int)need;
}

bool clb_token_name_valid(const char *name)
{
    if (!name || !name[0])
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok || n >= CLB_TOKEN_NAME_MAX - 1)
            return false;
    }
    return true;
}

/* 64 lowercase hex digits (a stored SHA-256 hash). */
static bool is_hash_hex(const char *s)
{
    uint8_t scratch[32];
    return clb_hex_decode_lower(s, scratch, sizeof(scratch)) == CLB_OK;
}

static int sha256_hex(const unsigned char *b, size_t n, char hex_out[CLB_TOKEN_HASH_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(b, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        memset(hex_out, '0', 64);
        hex_out[64] = '\0';
        return CLB_EIO;
    }
    clb_hex_encode_bare(md, 32, hex_out, CLB_TOKEN_HASH_HEX);
    return CLB_OK;
}

int clb_token_hash(const char *token, char hex_out[CLB_TOKEN_HASH_HEX])
{
    unsigned char raw[32];
    size_t plen = strlen(CLB_TOKEN_PREFIX);
    bool ok = token && strlen(token) == CLB_TOKEN_TEXT_LEN &&
              strncmp(token, CLB_TOKEN_PREFIX, plen) == 0;
    if (ok && clb_hex_decode_lower(token + plen, raw, sizeof(raw)) != CLB_OK)
        ok = false;
    if (!ok) {
        sha256_hex(raw, 0, hex_out);
        return CLB_EINVAL;
    }
    int rc = sha256_hex(raw, sizeof(raw), hex_out);
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

/* Draws a new token: its text and the hash that is stored. */
static int token_new(char text[CLB_TOKEN_TEXT_LEN + 1], char hash[CLB_TOKEN_HASH_HEX])
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return CLB_EIO;
    memcpy(text, CLB_TOKEN_PREFIX, strlen(CLB_TOKEN_PREFIX));
    clb_hex_encode_bare(raw, sizeof(raw), text + strlen(CLB_TOKEN_PREFIX),
                        CLB_TOKEN_TEXT_LEN + 1 - strlen(CLB_TOKEN_PREFIX));
    int rc = sha256_hex(raw, sizeof(raw), hash);
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

/* ---- small file helpers ---- */

static int join_path(char *out, size_t cap, const char *dir, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", dir, name);
    return n < 0 || (size_t)n >= cap ? CLB_EINVAL : CLB_OK;
}

static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return CLB_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return CLB_OK;
}

/* Writes data to path atomically with mode 0600: tmp_path, fsync, rename,
 * fsync(dir). On failure the old file (if any) is untouched. */
static int write_file_atomic(const char *dir, const char *path, const char *tmp_path,
                             const char *data, size_t len)
{
    (void)unlink(tmp_path);
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (fd < 0)
        return CLB_EIO;
    int rc = write_all(fd, data, len);
    if (rc == CLB_OK && fchmod(fd, 0600) != 0)
        rc = CLB_EIO;
    if (rc == CLB_OK && fsync(fd) != 0)
        rc = CLB_EIO;
    if (close(fd) != 0 && rc == CLB_OK)
        rc = CLB_EIO;
    if (rc == CLB_OK && rename(tmp_path, path) != 0)
        rc = CLB_EIO;
    if (rc != CLB_OK) {
        (void)unlink(tmp_path);
        return rc;
    }
    fsync_dir(dir);
    return CLB_OK;
}

static int ensure_dir(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "%s is not a directory", dir);
            return CLB_EIO;
        }
        return CLB_OK;
    }
    if (errno != ENOENT || mkdir(dir, 0700) != 0) {
        snprintf(err, errlen, "cannot create data directory %s: %s", dir, strerror(errno));
        return CLB_EIO;
    }
    return CLB_OK;
}

/* ---- the file store ---- */

struct recset {
    struct clb_token_record r[CLB_AUTH_MAX_TOKENS];
    int64_t persisted_last_used_s[CLB_AUTH_MAX_TOKENS];
    size_t n;
};

struct file_store {
    char dir[PATH_MAX];
    char path[PATH_MAX];
    char tmp_path[PATH_MAX];
    char lock_path[PATH_MAX];
    struct recset cur;
    struct recset scratch;
    bool seen;   /* the stat fields below describe the loaded file */
    bool absent; /* the file did not exist at the last look */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
};

static ssize_t recset_find(const struct recset *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->r[i].name, name) == 0)
            return (ssize_t)i;
    return -1;
}

/* Parses tokens.json text into *out. CLB_EPARSE with a message. */
static int recset_parse(const char *text, size_t len, struct recset *out, char *err,
                        size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf(err, errlen, "tokens.json:%d: %s", jerr.line, jerr.text);
        return CLB_EPARSE;
    }
    int rc = CLB_OK;
    json_t *arr = json_object_get(doc, "tokens");
    if (!json_is_object(doc) || !json_is_array(arr)) {
        snprintf(err, errlen, "tokens.json: expected {\"tokens\": [...]}");
        rc = CLB_EPARSE;
        goto done;
    }
    if (json_array_size(arr) > CLB_AUTH_MAX_TOKENS) {
        snprintf(err, errlen, "tokens.json: more than %d tokens", CLB_AUTH_MAX_TOKENS);
        rc = CLB_EPARSE;
        goto done;
    }
    out->n = 0;
    size_t i;
    json_t *t;
    json_array_foreach(arr, i, t) {
        struct clb_token_record *r = &out->r[out->n];
        memset(r, 0, sizeof(*r));
        const char *name = json_string_value(json_object_get(t, "name"));
        const char *role = json_string_value(json_object_get(t, "role"));
        const char *hash = json_string_value(json_object_get(t, "hash"));
        json_t *created = json_object_get(t, "created");
        json_t *used = json_object_get(t, "last_used");
        const char *why = NULL;
        if (!json_is_object(t))
            why = "not an object";
        else if (!clb_token_name_valid(name))
            why = "bad name";
        else if (clb_role_parse(role, &r->role) != CLB_OK)
            why = "bad role";
        else if (!hash || !is_hash_hex(hash))
            why = "bad hash";
        else if (!json_is_integer(created) || json_integer_value(created) < 0)
            why = "bad created";
        else if (used && !json_is_null(used) &&
                 (!json_is_integer(used) || json_integer_value(used) < 0))
            why = "bad last_used";
        else if (recset_find(out, name) >= 0)
            why = "duplicate name";
        if (why) {
            snprintf(err, errlen, "tokens.json: token %zu: %s", i + 1, why);
            rc = CLB_EPARSE;
            goto done;
        }
        snprintf(r->name, sizeof(r->name), "%s", name);
        memcpy(r->hash, hash, CLB_TOKEN_HASH_HEX);
        r->created_s = json_integer_value(created);
        r->last_used_s = json_is_integer(used) ? json_integer_value(used) : 0;
        out->persisted_last_used_s[out->n] = r->last_used_s;
        out->n++;
    }
done:
    json_decref(doc);
    return rc;
}

static char *recset_dump(const struct recset *s)
{
    json_t *arr = json_array();
    json_t *doc = json_pack("{s:i, s:o}", "version", 1, "tokens", arr);
    if (!doc)
        return NULL;
    for (size_t i = 0; i < s->n; i++) {
        const struct clb_token_record *r = &s->r[i];
        json_t *used = r->last_used_s > 0 ? json_integer(r->last_used_s) : json_null();
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I, s:o}", "name", r->name,
                                             "role", clb_role_name(r->role), "hash", r->hash,
                                             "created", (json_int_t)r->created_s, "last_used",
                                             used));
    }
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    return text;
}

/* Reloads `cur` when tokens.json changed since it was read. On a read or
 * parse error `cur` is kept and the error returned. */
static int fs_refresh(struct file_store *fs, char *err, size_t errlen)
{
    struct stat st;
    if (stat(fs->path, &st) != 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "%s: %s", fs->path, strerror(errno));
            return CLB_EIO;
        }
        if (!fs->absent) {
            fs->cur.n = 0;
            fs->absent = true;
            fs->seen = false;
        }
        return CLB_OK;
    }
    if (fs->seen && st.st_dev == fs->dev && st.st_ino == fs->ino && st.st_size == fs->size &&
        st.st_mtim.tv_sec == fs->mtim.tv_sec && st.st_mtim.tv_nsec == fs->mtim.tv_nsec)
        return CLB_OK;
    if (st.st_size > (off_t)4 << 20) {
        snprintf(err, errlen, "%s: too large", fs->path);
        return CLB_EPARSE;
    }
    int fd = open(fs->path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", fs->path, strerror(errno));
        return CLB_EIO;
    }
    struct stat fst;
    char *buf = NULL;
    int rc = CLB_OK;
    if (fstat(fd, &fst) != 0 || !(buf = malloc((size_t)fst.st_size + 1))) {
        rc = CLB_EIO;
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)fst.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)fst.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    rc = recset_parse(buf, got, &fs->scratch, err, errlen);
    if (rc != CLB_OK)
        goto out;
    /* Keep uses noted in memory but not yet written. */
    for (size_t i = 0; i < fs->scratch.n; i++) {
        ssize_t j = recset_find(&fs->cur, fs->scratch.r[i].name);
        if (j >= 0 && strcmp(fs->cur.r[j].hash, fs->scratch.r[i].hash) == 0 &&
            fs->cur.r[j].last_used_s > fs->scratch.r[i].last_used_s)
            fs->scratch.r[i].last_used_s = fs->cur.r[j].last_used_s;
    }
    fs->cur = fs->scratch;
    fs->seen = true;
    fs->absent = false;
    fs->dev = fst.st_dev;
    fs->ino = fst.st_ino;
    fs->size = fst.st_size;
    fs->mtim = fst.st_mtim;
out:
    if (rc == CLB_EIO)
        snprintf(err, errlen, "%s: read failed", fs->path);
    free(buf);
    close(fd);
    return rc;
}

enum fs_op { FS_ADD, FS_REMOVE, FS_FLUSH };

static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

/* Applies one change under the lock and persists it (see the file comment). */
static int fs_mutate(struct file_store *fs, enum fs_op op, const struct clb_token_record *rec,
                     const char *name)
{
    char err[256];
    pthread_mutex_lock(&write_lock);
    int lfd = open(fs->lock_path, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    if (lfd < 0) {
        pthread_mutex_unlock(&write_lock);
        return CLB_EIO;
    }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    while (fcntl(lfd, F_SETLKW, &fl) != 0) {
        if (errno != EINTR) {
            close(lfd);
            pthread_mutex_unlock(&write_lock);
            return CLB_EIO;
        }
    }
    fs->seen = false; /* under the lock, always read what is on disk */
    int rc = fs_refresh(fs, err, sizeof(err));
    if (rc != CLB_OK)
        goto out;
    fs->scratch = fs->cur;
    struct recset *s = &fs->scratch;
    switch (op) {
    case FS_ADD:
        if (recset_find(s, rec->name) >= 0) {
            rc = CLB_EEXIST;
            goto out;
        }
        if (s->n >= CLB_AUTH_MAX_TOKENS) {
            rc = CLB_EFULL;
            goto out;
        }
        s->r[s->n] = *rec;
        s->n++;
        break;
    case FS_REMOVE: {
        ssize_t j = recset_find(s, name);
        if (j < 0) {
            rc = CLB_ENOTFOUND;
            goto out;
        }
        memmove(&s->r[j], &s->r[j + 1], (s->n - (size_t)j - 1) * sizeof(s->r[0]));
        memmove(&s->persisted_last_used_s[j], &s->persisted_last_used_s[j + 1],
                (s->n - (size_t)j - 1) * sizeof(s->persisted_last_used_s[0]));
        s->n--;
        break;
    }
    case FS_FLUSH:
        break;
    }
    char *text = recset_dump(s);
    if (!text) {
        rc = CLB_ENOMEM;
        goto out;
    }
    rc = write_file_atomic(fs->dir, fs->path, fs->tmp_path, text, strlen(text));
    free(text);
    if (rc != CLB_OK)
        goto out;
    for (size_t i = 0; i < s->n; i++)
        s->persisted_last_used_s[i] = s->r[i].last_used_s;
    fs->cur = fs->scratch;
    struct stat st;
    if (stat(fs->path, &st) == 0) {
        fs->seen = true;
        fs->absent = false;
        fs->dev = st.st_dev;
        fs->ino = st.st_ino;
        fs->size = st.st_size;
        fs->mtim = st.st_mtim;
    } else {
        fs->seen = false;
    }
out:
    fl.l_type = F_UNLCK;
    (void)fcntl(lfd, F_SETLK, &fl);
    close(lfd);
    pthread_mutex_unlock(&write_lock);
    return rc;
}

static int fs_list(void *ctx, struct clb_token_record *out, size_t cap, size_t *n)
{
    struct file_store *fs = ctx;
    char err[256];
    (void)fs_refresh(fs, err, sizeof(err)); /* on error: the last good state */
    size_t k = fs->cur.n < cap ? fs->cur.n : cap;
    if (k)
        memcpy(out, fs->cur.r, k * sizeof(*out));
    *n = fs->cur.n;
    return fs->cur.n > cap ? CLB_EFULL : CLB_OK;
}

static int fs_find_by_hash(void *ctx, const char *hash_hex, struct clb_token_record *out)
{
    struct file_store *fs = ctx;
    char err[256];
    (void)fs_refresh(fs, err, sizeof(err));
    if (strlen(hash_hex) != 64)
        return CLB_ENOTFOUND;
    size_t match = SIZE_MAX;
    for (size_t i = 0; i < fs->cur.n; i++) {
        /* no early exit: every stored hash is compared */
        if (CRYPTO_memcmp(hash_hex, fs->cur.r[i].hash, 64) == 0)
            match = i;
    }
    if (match == SIZE_MAX)
        return CLB_ENOTFOUND;
    *out = fs->cur.r[match];
    return CLB_OK;
}

static int fs_add(void *ctx, const struct clb_token_record *rec)
{
    return fs_mutate(ctx, FS_ADD, rec, NULL);
}

static int fs_remove(void *ctx, const char *name)
{
    return fs_mutate(ctx, FS_REMOVE, NULL, name);
}

static int fs_touch(void *ctx, const char *name, int64_t now_s)
{
    struct file_store *fs = ctx;
    ssize_t j = recset_find(&fs->cur, name);
    if (j < 0)
        return CLB_ENOTFOUND;
    if (now_s > fs->cur.r[j].last_used_s)
        fs->cur.r[j].last_used_s = now_s;
    if (fs->cur.r[j].last_used_s - fs->cur.persisted_last_used_s[j] >= TOUCH_PERSIST_S)
        return fs_mutate(fs, FS_FLUSH, NULL, NULL);
    return CLB_OK;
}

static void fs_destroy(void *ctx)
{
    struct file_store *fs = ctx;
    bool pending = false;
    for (size_t i = 0; i < fs->cur.n; i++)
        if (fs->cur.r[i].last_used_s != fs->cur.persisted_last_used_s[i])
            pending = true;
    if (pending)
        (void)fs_mutate(fs, FS_FLUSH, NULL, NULL);
    free(fs);
}

static const struct clb_token_store_ops file_store_ops = {
    .name = "file",
    .list = fs_list,
    .find_by_hash = fs_find_by_hash,
    .add = fs_add,
    .remove = fs_remove,
    .touch = fs_touch,
    .destroy = fs_destroy,
};

int clb_token_store_open_file(const char *data_dir, struct clb_token_store *out, char *err,
                              size_t errlen)
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
    int rc = ensure_dir(data_dir, err, errlen);
    if (rc != CLB_OK)
        return rc;
    struct file_store *fs = calloc(1, sizeof(*fs));
    if (!fs) {
        snprintf(err, errlen, "out of memory");
        return CLB_ENOMEM;
    }
    if (snprintf(fs->dir, sizeof(fs->dir), "%s", data_dir) >= (int)sizeof(fs->dir) ||
        join_path(fs->path, sizeof(fs->path), data_dir, TOKENS_FILE) != CLB_OK ||
        join_path(fs->tmp_path, sizeof(fs->tmp_path), data_dir, TOKENS_TMP) != CLB_OK ||
        join_path(fs->lock_path, sizeof(fs->lock_path), data_dir, TOKENS_LOCK) != CLB_OK) {
        snprintf(err, errlen, "data directory path too long");
        free(fs);
        return CLB_EINVAL;
    }
    rc = fs_refresh(fs, err, errlen);
    if (rc != CLB_OK) {
        free(fs);
        return rc;
    }
    out->ops = &file_store_ops;
    out->ctx = fs;
    return CLB_OK;
}

void clb_token_store_close(struct clb_token_store *s)
{
    if (s && s->ops && s->ops->destroy)
        s->ops->destroy(s->ctx);
    if (s) {
        s->ops = NULL;
        s->ctx = NULL;
    }
}

/* ---- the thread-safe front ---- */

struct throttle_slot {
    char addr[CLB_AUTH_ADDR_MAX];
    int64_t window_start_ms;
    int64_t last_ms;
    unsigned failures;
    bool used;
};

struct clb_auth {
    pthread_mutex_t lock;
    struct clb_token_store store;
    struct throttle_slot slots[CLB_AUTH_THROTTLE_SLOTS];
};

int clb_auth_create(struct clb_token_store store, struct clb_auth **out)
{
    struct clb_auth *a = calloc(1, sizeof(*a));
    if (!a || pthread_mutex_init(&a->lock, NULL) != 0) {
        free(a);
        clb_token_store_close(&store);
        return CLB_ENOMEM;
    }
    a->store = store;
    *out = a;
    return CLB_OK;
}

void clb_auth_destroy(struct clb_auth *a)
{
    if (!a)
        return;
    clb_token_store_close(&a->store);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

int clb_auth_token_create(struct clb_auth *a, const char *name, enum clb_role role,
                          int64_t now_s, char token_out[CLB_TOKEN_TEXT_LEN + 1],
                          struct clb_token_record *rec_out)
{
    if (!clb_token_name_valid(name) || role < CLB_ROLE_READ || role > CLB_ROLE_ADMIN)
        return CLB_EINVAL;
    struct clb_token_record rec = { .role = role, .created_s = now_s };
    snprintf(rec.name, sizeof(rec.name), "%s", name);
    char text[CLB_TOKEN_TEXT_LEN + 1];
    int rc = token_new(text, rec.hash);
    if (rc != CLB_OK)
        return rc;
    pthread_mutex_lock(&a->lock);
    rc = a->store.ops->add(a->store.ctx, &rec);
    pthread_mutex_unlock(&a->lock);
    if (rc == CLB_OK) {
        memcpy(token_out, text, sizeof(text));
        if (rec_out)
            *rec_out = rec;
    }
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

int clb_auth_token_list(struct clb_auth *a, struct clb_token_record *out, size_t cap,
                        size_t *n)
{
    pthread_mutex_lock(&a->lock);
    int rc = a->store.ops->list(a->store.ctx, out, cap, n);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int clb_auth_token_revoke(struct clb_auth *a, const char *name)
{
    if (!clb_token_name_valid(name))
        return CLB_ENOTFOUND;
    pthread_mutex_lock(&a->lock);
    int rc = a->store.ops->remove(a->store.ctx, name);
    pthread_mutex_unlock(&a->lock);
    return rc;
}

int clb_auth_verify(struct clb_auth *a, const char *token, int64_t now_s, enum clb_role *role,
                    char *name_out)
{
    char hash[CLB_TOKEN_HASH_HEX];
    bool well_formed = clb_token_hash(token, hash) == CLB_OK;
    struct clb_token_record rec;
    pthread_mutex_lock(&a->lock);
    /* Looked up even when malformed, so both paths take similar time. */
    int rc = a->store.ops->find_by_hash(a->store.ctx, hash, &rec);
    if (rc == CLB_OK && well_formed)
        (void)a->store.ops->touch(a->store.ctx, rec.name, now_s);
    pthread_mutex_unlock(&a->lock);
    if (rc != CLB_OK || !well_formed)
        return CLB_ENOTFOUND;
    *role = rec.role;
    if (name_out)
        memcpy(name_out, rec.name, CLB_TOKEN_NAME_MAX);
    return CLB_OK;
}

static struct throttle_slot *slot_find(struct clb_auth *a, const char *addr)
{
    for (size_t i = 0; i < CLB_AUTH_THROTTLE_SLOTS; i++)
        if (a->slots[i].used && strcmp(a->slots[i].addr, addr) == 0)
            return &a->slots[i];
    return NULL;
}

static bool window_over(const struct throttle_slot *s, int64_t now_ms)
{
    return now_ms - s->window_start_ms >= CLB_AUTH_FAIL_WINDOW_MS || now_ms < s->window_start_ms;
}

int clb_auth_throttle_check(struct clb_auth *a, const char *addr, int64_t now_ms,
                            int *retry_after_s)
{
    int rc = CLB_OK;
    pthread_mutex_lock(&a->lock);
    struct throttle_slot *s = slot_find(a, addr ? addr : "");
    if (s && window_over(s, now_ms)) {
        s->used = false;
    } else if (s && s->failures >= CLB_AUTH_FAIL_LIMIT) {
        int64_t left_ms = s->window_start_ms + CLB_AUTH_FAIL_WINDOW_MS - now_ms;
        int secs = (int)((left_ms + 999) / 1000);
        *retry_after_s = secs < 1 ? 1 : secs;
        rc = CLB_EFULL;
    }
    pthread_mutex_unlock(&a->lock);
    return rc;
}

void clb_auth_throttle_fail(struct clb_auth *a, const char *addr, int64_t now_ms)
{
    if (!addr)
        addr = "";
    pthread_mutex_lock(&a->lock);
    struct throttle_slot *s = slot_find(a, addr);
    if (!s) {
        /* a free or expired slot, else the one that failed longest ago */
        for (size_t i = 0; i < CLB_AUTH_THROTTLE_SLOTS; i++) {
            struct throttle_slot *c = &a->slots[i];
            if (!c->used || window_over(c, now_ms)) {
                s = c;
                break;
            }
            if (!s || c->last_ms < s->last_ms)
                s = c;
        }
        memset(s, 0, sizeof(*s));
        snprintf(s->addr, sizeof(s->addr), "%s", addr);
        s->used = true;
        s->window_start_ms = now_ms;
    } else if (window_over(s, now_ms)) {
        s->failures = 0;
        s->window_start_ms = now_ms;
    }
    s->failures++;
    s->last_ms = now_ms;
    pthread_mutex_unlock(&a->lock);
}

/* ---- first start ---- */

int clb_auth_bootstrap_admin(const char *data_dir, const char *store_url, char *path_out,
                             size_t cap)
{
    char err[256];
    struct clb_token_store store;
    int rc = clb_token_store_open(data_dir, store_url, &store, err, sizeof(err));
    if (rc != CLB_OK)
        return rc;
    struct clb_token_record one;
    size_t n = 0;
    int lrc = store.ops->list(store.ctx, &one, 1, &n);
    if ((lrc != CLB_OK && lrc != CLB_EFULL) || n > 0) {
        clb_token_store_close(&store);
        return n > 0 ? 0 : lrc;
    }
    char path[PATH_MAX], tmp[PATH_MAX];
    if (join_path(path, sizeof(path), data_dir, ADMIN_TOKEN_FILE) != CLB_OK ||
        join_path(tmp, sizeof(tmp), data_dir, ADMIN_TOKEN_FILE ".tmp") != CLB_OK) {
        clb_token_store_close(&store);
        return CLB_EINVAL;
    }
    char text[CLB_TOKEN_TEXT_LEN + 2];
    struct clb_token_record rec = { .role = CLB_ROLE_ADMIN, .created_s = (int64_t)time(NULL) };
    snprintf(rec.name, sizeof(rec.name), "admin");
    rc = token_new(text, rec.hash);
    if (rc == CLB_OK) {
        text[CLB_TOKEN_TEXT_LEN] = '\n';
        text[CLB_TOKEN_TEXT_LEN + 1] = '\0';
        /* The file first: a stored hash whose token nobody has would lock
         * the operator out; a stray file without a stored hash is harmless. */
        rc = write_file_atomic(data_dir, path, tmp, text, CLB_TOKEN_TEXT_LEN + 1);
    }
    OPENSSL_cleanse(text, sizeof(text));
    if (rc == CLB_OK) {
        rc = store.ops->add(store.ctx, &rec);
        if (rc != CLB_OK)
            (void)unlink(path);
        if (rc == CLB_EEXIST) /* another process bootstrapped first */
            rc = 0;
        else if (rc == CLB_OK)
            rc = 1;
    }
    clb_token_store_close(&store);
    if (rc == 1 && path_out && cap)
        snprintf(path_out, cap, "%s", path);
    return rc;
}
