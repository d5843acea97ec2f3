/*
 * secrets.c — the encrypted secrets file (see secrets.h).
 *
 * File layout (JSON, binary fields as lowercase hex):
 *   { "version": 1,
 *     "kdf": { "algorithm": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": "..." },
 *     "cipher": "aes-256-gcm",
 *     "check": { "nonce": "...", "ciphertext": "...", "tag": "..." },
 *     "secrets": [ { "name": "binance.api_key", "nonce": "...",
 *                    "ciphertext": "...", "tag": "..." }, ... ] }
 * The check record seals "colibri-secrets-v1\n" followed by each entry's
 * name and "\n", in order; it is resealed with a fresh nonce on every save.
 *
 * Memory: entries keep only nonce, tag and ciphertext; plaintext exists
 * only in scratch buffers that are wiped before they are freed, and in the
 * caller's buffer for clb_secrets_get().
 */
#include "secrets.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "error.h"
#include "hex.h"

#define FILE_VERSION 1
#define SALT_LEN 16
#define KEY_LEN 32
#define NONCE_LEN 12
#define TAG_LEN 16
#define CHECK_MAGIC "colibri-secrets-v1\n"
#define CHECK_AAD "check"
#define ENTRY_AAD "secret:"
#define MAX_FILE_BYTES ((off_t)32 << 20) /* 1024 entries of 8 KiB in hex fit */
#define KDF_MAX_MEM ((uint64_t)256 << 20)

struct entry {
    char name[CLB_SECRET_NAME_MAX];
    uint8_t nonce[NONCE_LEN];
    uint8_t tag[TAG_LEN];
    uint8_t *ct; /* heap, ct_len bytes (NULL when 0) */
    size_t ct_len;
};

struct clb_secrets {
    char path[PATH_MAX];
    struct clb_secrets_kdf kdf;
    uint8_t salt[SALT_LEN];
    uint8_t key[KEY_LEN];
    bool is_new;
    /* what the file looked like when opened or last saved */
    bool file_present;
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtim;
    struct entry *e; /* CLB_SECRETS_MAX slots, sorted by name */
    size_t n;
};

/* ---- small helpers ---- */

bool clb_secret_name_valid(const char *name)
{
    if (!name || !name[0])
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-' || c == ':';
        if (!ok || n >= CLB_SECRET_NAME_MAX - 1)
            return false;
    }
    return true;
}

int clb_secrets_path(const char *data_dir, char *out, size_t cap)
{
    if (!data_dir || !out)
        return CLB_EINVAL;
    int n = snprintf(out, cap, "%s/%s", data_dir, CLB_SECRETS_FILE);
    return n < 0 || (size_t)n >= cap ? CLB_EINVAL : CLB_OK;
}

/* Decodes lowercase hex s (may be NULL: fails) of exactly `want` bytes, or
 * of any length up to `want` when exact is false; *n receives the length. */
static bool hex_get(const char *s, uint8_t *out, size_t want, bool exact, size_t *n)
{
    if (!s)
        return false;
    size_t len = strlen(s);
    if (len % 2 || len / 2 > want || (exact && len / 2 != want))
        return false;
    if (clb_hex_decode_lower(s, out, len / 2) != CLB_OK)
        return false;
    if (n)
        *n = len / 2;
    return true;
}

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char *s = malloc(2 * n + 1);
    if (!s)
        return NULL;
    clb_hex_encode_bare(b, n, s, 2 * n + 1);
    json_t *j = json_string(s);
    free(s);
    return j;
}

static bool kdf_valid(const struct clb_secrets_kdf *k)
{
    if (k->n < (1u << 10) || k->n > (1u << 20) || (k->n & (k->n - 1)) != 0)
        return false;
    if (k->r < 1 || k->r > 32 || k->p < 1 || k->p > 16)
        return false;
    return 128 * (uint64_t)k->r * k->n <= KDF_MAX_MEM;
}

static int derive_key(const char *pass, const uint8_t salt[SALT_LEN],
                      const struct clb_secrets_kdf *k, uint8_t key[KEY_LEN])
{
    /* room for V (128 r (N + 2)) and B (128 r p) plus slack */
    uint64_t maxmem = 128 * (uint64_t)k->r * (k->n + 2) + 128 * (uint64_t)k->r * k->p + (1u << 20);
    if (EVP_PBE_scrypt(pass, strlen(pass), salt, SALT_LEN, k->n, k->r, k->p, maxmem, key,
                       KEY_LEN) != 1)
        return CLB_EIO;
    return CLB_OK;
}

/* AES-256-GCM seal: ct has n bytes. */
static int seal(const uint8_t key[KEY_LEN], const uint8_t nonce[NONCE_LEN], const void *aad,
                size_t aad_len, const uint8_t *pt, size_t n, uint8_t *ct, uint8_t tag[TAG_LEN])
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int len = 0, ok = c != NULL && n <= INT_MAX && aad_len <= INT_MAX;
    ok = ok && EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1;
    ok = ok && EVP_EncryptInit_ex(c, NULL, NULL, key, nonce) == 1;
    ok = ok && EVP_EncryptUpdate(c, NULL, &len, aad, (int)aad_len) == 1;
    ok = ok && (n == 0 || EVP_EncryptUpdate(c, ct, &len, pt, (int)n) == 1);
    ok = ok && EVP_EncryptFinal_ex(c, ct + (n ? (size_t)len : 0), &len) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) == 1;
    EVP_CIPHER_CTX_free(c);
    return ok ? CLB_OK : CLB_EIO;
}

/* AES-256-GCM open: pt receives n bytes. CLB_EPARSE when authentication
 * fails (pt is then wiped). */
static int unseal(const uint8_t key[KEY_LEN], const uint8_t nonce[NONCE_LEN], const void *aad,
                  size_t aad_len, const uint8_t *ct, size_t n, const uint8_t tag[TAG_LEN],
                  uint8_t *pt)
{
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    uint8_t tagbuf[TAG_LEN];
    memcpy(tagbuf, tag, TAG_LEN);
    int len = 0, ok = c != NULL && n <= INT_MAX && aad_len <= INT_MAX;
    ok = ok && EVP_DecryptInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1;
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) == 1;
    ok = ok && EVP_DecryptInit_ex(c, NULL, NULL, key, nonce) == 1;
    ok = ok && EVP_DecryptUpdate(c, NULL, &len, aad, (int)aad_len) == 1;
    ok = ok && (n == 0 || EVP_DecryptUpdate(c, pt, &len, ct, (int)n) == 1);
    ok = ok && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tagbuf) == 1;
    ok = ok && EVP_DecryptFinal_ex(c, pt + (n ? (size_t)len : 0), &len) == 1;
    EVP_CIPHER_CTX_free(c);
    if (!ok) {
        if (n)
            OPENSSL_cleanse(pt, n);
        return CLB_EPARSE;
    }
    return CLB_OK;
}

/* "secret:" + name, the additional data of an entry. */
static size_t entry_aad(const char *name, char out[sizeof(ENTRY_AAD) + CLB_SECRET_NAME_MAX])
{
    size_t k = strlen(ENTRY_AAD), n = strlen(name);
    memcpy(out, ENTRY_AAD, k);
    memcpy(out + k, name, n);
    return k + n;
}

static void entry_wipe(struct entry *e)
{
    if (e->ct) {
        OPENSSL_cleanse(e->ct, e->ct_len);
        free(e->ct);
    }
    OPENSSL_cleanse(e, sizeof(*e));
}

/* Binary search: index of name, or -(insertion point) - 1. */
static ssize_t find(const struct clb_secrets *s, const char *name)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->e[mid].name, name);
        if (c == 0)
            return (ssize_t)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -(ssize_t)lo - 1;
}

/* The check plaintext for the current names (heap; caller wipes/frees). */
static uint8_t *check_text(const struct clb_secrets *s, size_t *len)
{
    size_t n = strlen(CHECK_MAGIC);
    for (size_t i = 0; i < s->n; i++)
        n += strlen(s->e[i].name) + 1;
    uint8_t *t = malloc(n ? n : 1);
    if (!t)
        return NULL;
    size_t o = strlen(CHECK_MAGIC);
    memcpy(t, CHECK_MAGIC, o);
    for (size_t i = 0; i < s->n; i++) {
        size_t k = strlen(s->e[i].name);
        memcpy(t + o, s->e[i].name, k);
        t[o + k] = '\n';
        o += k + 1;
    }
    *len = n;
    return t;
}

/* ---- open ---- */

static int read_file(int fd, size_t size, char **out)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return CLB_ENOMEM;
    size_t got = 0;
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            free(buf);
            return CLB_EIO;
        }
        got += (size_t)r;
    }
    buf[size] = '\0';
    *out = buf;
    return CLB_OK;
}

/* Reads nonce/ciphertext/tag of a JSON record. ct is malloc'd. */
static bool record_get(json_t *rec, uint8_t nonce[NONCE_LEN], uint8_t tag[TAG_LEN], uint8_t **ct,
                       size_t *ct_len, size_t max_ct)
{
    const char *hn = json_string_value(json_object_get(rec, "nonce"));
    const char *hc = json_string_value(json_object_get(rec, "ciphertext"));
    const char *ht = json_string_value(json_object_get(rec, "tag"));
    if (!json_is_object(rec) || !hex_get(hn, nonce, NONCE_LEN, true, NULL) ||
        !hex_get(ht, tag, TAG_LEN, true, NULL) || !hc || strlen(hc) / 2 > max_ct)
        return false;
    uint8_t *b = malloc(strlen(hc) / 2 + 1);
    if (!b)
        return false;
    if (!hex_get(hc, b, strlen(hc) / 2, true, ct_len)) {
        free(b);
        return false;
    }
    *ct = b;
    return true;
}

static int parse_and_verify(struct clb_secrets *s, const char *text, size_t len,
                            const char *pass, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    uint8_t *check_ct = NULL, *check_pt = NULL, *want = NULL, *scratch = NULL;
    size_t check_len = 0, want_len = 0;
    uint8_t check_nonce[NONCE_LEN], check_tag[TAG_LEN];
    int rc = CLB_OK;
    if (!doc)
        return clb_errf(err, errlen, CLB_EPARSE, "%s:%d: %s", s->path, jerr.line, jerr.text);
    json_t *ver = json_object_get(doc, "version");
    json_t *kdf = json_object_get(doc, "kdf");
    json_t *arr = json_object_get(doc, "secrets");
    if (!json_is_object(doc) || !json_is_integer(ver) || !json_is_object(kdf) ||
        !json_is_array(arr)) {
        rc = clb_errf(err, errlen, CLB_EPARSE, "%s: not a colibri secrets file", s->path);
        goto done;
    }
    if (json_integer_value(ver) != FILE_VERSION) {
        rc = clb_errf(err, errlen, CLB_EUNSUPPORTED, "%s: unsupported version %lld", s->path,
                      (long long)json_integer_value(ver));
        goto done;
    }
    const char *alg = json_string_value(json_object_get(kdf, "algorithm"));
    const char *cipher = json_string_value(json_object_get(doc, "cipher"));
    if (!alg || strcmp(alg, "scrypt") != 0 || !cipher || strcmp(cipher, "aes-256-gcm") != 0) {
        rc = clb_errf(err, errlen, CLB_EUNSUPPORTED, "%s: unsupported kdf or cipher", s->path);
        goto done;
    }
    json_t *jn = json_object_get(kdf, "n"), *jr = json_object_get(kdf, "r");
    json_t *jp = json_object_get(kdf, "p");
    if (!json_is_integer(jn) || !json_is_integer(jr) || !json_is_integer(jp) ||
        json_integer_value(jn) <= 0 || json_integer_value(jr) <= 0 ||
        json_integer_value(jp) <= 0 || json_integer_value(jr) > 1000 ||
        json_integer_value(jp) > 1000) {
        rc = clb_errf(err, errlen, CLB_EPARSE, "%s: bad kdf parameters", s->path);
        goto done;
    }
    s->kdf.n = (uint64_t)json_integer_value(jn);
    s->kdf.r = (uint32_t)json_integer_value(jr);
    s->kdf.p = (uint32_t)json_integer_value(jp);
    if (!kdf_valid(&s->kdf) ||
        !hex_get(json_string_value(json_object_get(kdf, "salt")), s->salt, SALT_LEN, true, NULL)) {
        rc = clb_errf(err, errlen, CLB_EPARSE, "%s: bad kdf parameters or salt", s->path);
        goto done;
    }
    if (!record_get(json_object_get(doc, "check"), check_nonce, check_tag, &check_ct, &check_len,
                    (size_t)MAX_FILE_BYTES)) {
        rc = clb_errf(err, errlen, CLB_EPARSE, "%s: bad check record", s->path);
        goto done;
    }
    if (json_array_size(arr) > CLB_SECRETS_MAX) {
        rc = clb_errf(err, errlen, CLB_EPARSE, "%s: more than %d secrets", s->path,
                      CLB_SECRETS_MAX);
        goto done;
    }
    /* entries, structurally */
    size_t i;
    json_t *rec;
    json_array_foreach(arr, i, rec) {
        const char *name = json_string_value(json_object_get(rec, "name"));
        if (!clb_secret_name_valid(name)) {
            rc = clb_errf(err, errlen, CLB_EPARSE, "%s: secret %zu: bad name", s->path, i + 1);
            goto done;
        }
        ssize_t at = find(s, name);
        if (at >= 0) {
            rc = clb_errf(err, errlen, CLB_EPARSE, "%s: duplicate secret '%s'", s->path, name);
            goto done;
        }
        struct entry e = { 0 };
        if (!record_get(rec, e.nonce, e.tag, &e.ct, &e.ct_len, CLB_SECRET_VALUE_MAX - 1) ||
            e.ct_len == 0) {
            if (e.ct)
                free(e.ct);
            rc = clb_errf(err, errlen, CLB_EPARSE, "%s: secret '%s': bad record", s->path, name);
            goto done;
        }
        snprintf(e.name, sizeof(e.name), "%s", name);
        size_t pos = (size_t)(-at - 1);
        memmove(&s->e[pos + 1], &s->e[pos], (s->n - pos) * sizeof(s->e[0]));
        s->e[pos] = e;
        s->n++;
    }
    /* key and passphrase check */
    rc = derive_key(pass, s->salt, &s->kdf, s->key);
    if (rc != CLB_OK) {
        clb_errf(err, errlen, rc, "%s: key derivation failed", s->path);
        goto done;
    }
    check_pt = malloc(check_len ? check_len : 1);
    if (!check_pt) {
        rc = CLB_ENOMEM;
        goto done;
    }
    if (unseal(s->key, check_nonce, CHECK_AAD, strlen(CHECK_AAD), check_ct, check_len, check_tag,
               check_pt) != CLB_OK) {
        rc = clb_errf(err, errlen, CLB_SECRETS_EPASSPHRASE, "wrong passphrase for %s", s->path);
        goto done;
    }
    want = check_text(s, &want_len);
    if (!want) {
        rc = CLB_ENOMEM;
        goto done;
    }
    if (want_len != check_len || memcmp(want, check_pt, want_len) != 0) {
        rc = clb_errf(err, errlen, CLB_EPARSE,
                      "%s: the list of secrets was changed outside colibri (entries added, "
                      "removed or renamed)", s->path);
        goto done;
    }
    /* authenticate every entry now */
    scratch = malloc(CLB_SECRET_VALUE_MAX);
    if (!scratch) {
        rc = CLB_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < s->n; k++) {
        char aad[sizeof(ENTRY_AAD) + CLB_SECRET_NAME_MAX];
        size_t alen = entry_aad(s->e[k].name, aad);
        const struct entry *e = &s->e[k];
        if (unseal(s->key, e->nonce, aad, alen, e->ct, e->ct_len, e->tag, scratch) != CLB_OK) {
            rc = clb_errf(err, errlen, CLB_EPARSE,
                          "%s: secret '%s' fails authentication (file damaged or tampered)",
                          s->path, e->name);
            goto done;
        }
        OPENSSL_cleanse(scratch, e->ct_len);
    }
done:
    if (check_pt) {
        OPENSSL_cleanse(check_pt, check_len);
        free(check_pt);
    }
    free(check_ct);
    free(want);
    free(scratch);
    json_decref(doc);
    return rc;
}

static void remember_stat(struct clb_secrets *s, const struct stat *st)
{
    s->file_present = true;
    s->dev = st->st_dev;
    s->ino = st->st_ino;
    s->size = st->st_size;
    s->mtim = st->st_mtim;
}

int clb_secrets_open_kdf(const char *path, const char *passphrase,
                         const struct clb_secrets_kdf *kdf, struct clb_secrets **out,
                         char *err, size_t errlen)
{
    if (!path || !*path || !passphrase || !*passphrase || !out)
        return clb_errf(err, errlen, CLB_EINVAL, "secrets: path and passphrase are required");
    if (strlen(passphrase) >= CLB_SECRETS_PASSPHRASE_MAX)
        return clb_errf(err, errlen, CLB_EINVAL, "secrets: passphrase too long");
    struct clb_secrets_kdf k = kdf ? *kdf : CLB_SECRETS_KDF_DEFAULT;
    if (!kdf_valid(&k))
        return clb_errf(err, errlen, CLB_EINVAL, "secrets: scrypt parameters out of range");
    struct clb_secrets *s = calloc(1, sizeof(*s));
    if (!s || !(s->e = calloc(CLB_SECRETS_MAX, sizeof(s->e[0])))) {
        free(s);
        return clb_errf(err, errlen, CLB_ENOMEM, "secrets: out of memory");
    }
    int rc = CLB_OK;
    if (strlen(path) >= sizeof(s->path)) {
        rc = clb_errf(err, errlen, CLB_EINVAL, "secrets: path too long");
        goto fail;
    }
    memcpy(s->path, path, strlen(path) + 1);
    int fd = open(path, O_RDONLY | O_NOFOLLOW);
    if (fd < 0) {
        if (errno != ENOENT) {
            rc = clb_errf(err, errlen, CLB_EIO, "%s: %s", path, strerror(errno));
            goto fail;
        }
        /* a new store */
        s->kdf = k;
        s->is_new = true;
        if (RAND_bytes(s->salt, SALT_LEN) != 1) {
            rc = clb_errf(err, errlen, CLB_EIO, "secrets: no randomness");
            goto fail;
        }
        rc = derive_key(passphrase, s->salt, &s->kdf, s->key);
        if (rc != CLB_OK) {
            clb_errf(err, errlen, rc, "secrets: key derivation failed");
            goto fail;
        }
        *out = s;
        return CLB_OK;
    }
    struct stat st;
    char *text = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        rc = clb_errf(err, errlen, CLB_EIO, "%s: not a regular file", path);
        goto fail;
    }
    if (st.st_size > MAX_FILE_BYTES) {
        close(fd);
        rc = clb_errf(err, errlen, CLB_EPARSE, "%s: too large", path);
        goto fail;
    }
    rc = read_file(fd, (size_t)st.st_size, &text);
    close(fd);
    if (rc != CLB_OK) {
        clb_errf(err, errlen, rc, "%s: cannot read", path);
        goto fail;
    }
    remember_stat(s, &st);
    rc = parse_and_verify(s, text, (size_t)st.st_size, passphrase, err, errlen);
    free(text);
    if (rc != CLB_OK)
        goto fail;
    *out = s;
    return CLB_OK;
fail:
    clb_secrets_close(s);
    return rc;
}

int clb_secrets_open(const char *path, const char *passphrase, struct clb_secrets **out,
                     char *err, size_t errlen)
{
    return clb_secrets_open_kdf(path, passphrase, NULL, out, err, errlen);
}

bool clb_secrets_is_new(const struct clb_secrets *s)
{
    return s && s->is_new;
}

size_t clb_secrets_count(const struct clb_secrets *s)
{
    return s ? s->n : 0;
}

/* ---- entries ---- */

int clb_secrets_get(const struct clb_secrets *s, const char *name, char *buf, size_t cap,
                    size_t *len)
{
    if (buf && cap)
        buf[0] = '\0';
    if (!s || !name)
        return CLB_EINVAL;
    ssize_t at = find(s, name);
    if (at < 0)
        return CLB_ENOTFOUND;
    const struct entry *e = &s->e[at];
    if (!buf || cap < e->ct_len + 1)
        return CLB_EFULL;
    char aad[sizeof(ENTRY_AAD) + CLB_SECRET_NAME_MAX];
    size_t alen = entry_aad(e->name, aad);
    int rc = unseal(s->key, e->nonce, aad, alen, e->ct, e->ct_len, e->tag, (uint8_t *)buf);
    if (rc != CLB_OK) {
        buf[0] = '\0';
        return rc;
    }
    buf[e->ct_len] = '\0';
    if (len)
        *len = e->ct_len;
    return CLB_OK;
}

bool clb_secrets_has(const struct clb_secrets *s, const char *name)
{
    return s && name && find(s, name) >= 0;
}

/* Seals value into a new entry record. */
static int entry_seal(const uint8_t key[KEY_LEN], const char *name, const uint8_t *value,
                      size_t n, struct entry *e)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->ct = malloc(n);
    if (!e->ct)
        return CLB_ENOMEM;
    e->ct_len = n;
    char aad[sizeof(ENTRY_AAD) + CLB_SECRET_NAME_MAX];
    size_t alen = entry_aad(name, aad);
    int rc = RAND_bytes(e->nonce, NONCE_LEN) == 1 ? CLB_OK : CLB_EIO;
    if (rc == CLB_OK)
        rc = seal(key, e->nonce, aad, alen, value, n, e->ct, e->tag);
    if (rc != CLB_OK)
        entry_wipe(e);
    return rc;
}

int clb_secrets_set(struct clb_secrets *s, const char *name, const char *value)
{
    if (!s || !clb_secret_name_valid(name) || !value)
        return CLB_EINVAL;
    size_t n = strnlen(value, CLB_SECRET_VALUE_MAX);
    if (n == 0 || n >= CLB_SECRET_VALUE_MAX)
        return CLB_EINVAL;
    ssize_t at = find(s, name);
    if (at < 0 && s->n >= CLB_SECRETS_MAX)
        return CLB_EFULL;
    struct entry e;
    int rc = entry_seal(s->key, name, (const uint8_t *)value, n, &e);
    if (rc != CLB_OK)
        return rc;
    if (at >= 0) {
        entry_wipe(&s->e[at]);
        s->e[at] = e;
    } else {
        size_t pos = (size_t)(-at - 1);
        memmove(&s->e[pos + 1], &s->e[pos], (s->n - pos) * sizeof(s->e[0]));
        s->e[pos] = e;
        s->n++;
    }
    return CLB_OK;
}

int clb_secrets_remove(struct clb_secrets *s, const char *name)
{
    if (!s || !name)
        return CLB_EINVAL;
    ssize_t at = find(s, name);
    if (at < 0)
        return CLB_ENOTFOUND;
    entry_wipe(&s->e[at]);
    memmove(&s->e[at], &s->e[at + 1], (s->n - (size_t)at - 1) * sizeof(s->e[0]));
    s->n--;
    memset(&s->e[s->n], 0, sizeof(s->e[0]));
    return CLB_OK;
}

int clb_secrets_list(const struct clb_secrets *s, char (*names)[CLB_SECRET_NAME_MAX], size_t cap,
                     size_t *n)
{
    if (!s || !n || (!names && cap))
        return CLB_EINVAL;
    for (size_t i = 0; i < s->n && i < cap; i++)
        memcpy(names[i], s->e[i].name, CLB_SECRET_NAME_MAX);
    *n = s->n;
    return s->n > cap ? CLB_EFULL : CLB_OK;
}

int clb_secrets_rekey(struct clb_secrets *s, const char *new_passphrase,
                      const struct clb_secrets_kdf *kdf)
{
    if (!s || !new_passphrase || !*new_passphrase ||
        strlen(new_passphrase) >= CLB_SECRETS_PASSPHRASE_MAX)
        return CLB_EINVAL;
    struct clb_secrets_kdf k = kdf ? *kdf : s->kdf;
    if (!kdf_valid(&k))
        return CLB_EINVAL;
    uint8_t salt[SALT_LEN], key[KEY_LEN];
    struct entry *fresh = calloc(CLB_SECRETS_MAX, sizeof(*fresh));
    uint8_t *scratch = malloc(CLB_SECRET_VALUE_MAX);
    int rc = fresh && scratch ? CLB_OK : CLB_ENOMEM;
    if (rc == CLB_OK && RAND_bytes(salt, SALT_LEN) != 1)
        rc = CLB_EIO;
    if (rc == CLB_OK)
        rc = derive_key(new_passphrase, salt, &k, key);
    size_t done = 0;
    for (; rc == CLB_OK && done < s->n; done++) {
        const struct entry *e = &s->e[done];
        char aad[sizeof(ENTRY_AAD) + CLB_SECRET_NAME_MAX];
        size_t alen = entry_aad(e->name, aad);
        rc = unseal(s->key, e->nonce, aad, alen, e->ct, e->ct_len, e->tag, scratch);
        if (rc == CLB_OK)
            rc = entry_seal(key, e->name, scratch, e->ct_len, &fresh[done]);
        OPENSSL_cleanse(scratch, CLB_SECRET_VALUE_MAX);
        if (rc != CLB_OK)
            break;
    }
    if (rc == CLB_OK) {
        for (size_t i = 0; i < s->n; i++)
            entry_wipe(&s->e[i]);
        free(s->e);
        s->e = fresh;
        fresh = NULL;
        memcpy(s->salt, salt, SALT_LEN);
        memcpy(s->key, key, KEY_LEN);
        s->kdf = k;
    } else if (fresh) {
        for (size_t i = 0; i < done; i++)
            entry_wipe(&fresh[i]);
    }
    OPENSSL_cleanse(key, sizeof(key));
    free(fresh);
    free(scratch);
    return rc;
}

/* ---- save ---- */

static char *dump(const struct clb_secrets *s, char *err, size_t errlen)
{
    size_t clen = 0;
    uint8_t *ctext = check_text(s, &clen);
    uint8_t *cct = ctext ? malloc(clen) : NULL;
    uint8_t nonce[NONCE_LEN], tag[TAG_LEN];
    char *out = NULL;
    json_t *doc = NULL;
    if (!cct || RAND_bytes(nonce, NONCE_LEN) != 1 ||
        seal(s->key, nonce, CHECK_AAD, strlen(CHECK_AAD), ctext, clen, cct, tag) != CLB_OK) {
        clb_errf(err, errlen, CLB_EIO, "secrets: cannot seal the check record");
        goto done;
    }
    json_t *arr = json_array();
    doc = json_pack("{s:i, s:{s:s, s:I, s:i, s:i, s:o}, s:s, s:{s:o, s:o, s:o}, s:o}",
                    "version", FILE_VERSION, "kdf", "algorithm", "scrypt", "n",
                    (json_int_t)s->kdf.n, "r", (int)s->kdf.r, "p", (int)s->kdf.p, "salt",
                    hex_json(s->salt, SALT_LEN), "cipher", "aes-256-gcm", "check", "nonce",
                    hex_json(nonce, NONCE_LEN), "ciphertext", hex_json(cct, clen), "tag",
                    hex_json(tag, TAG_LEN), "secrets", arr);
    if (!doc) {
        clb_errf(err, errlen, CLB_ENOMEM, "secrets: out of memory");
        goto done;
    }
    for (size_t i = 0; i < s->n; i++) {
        const struct entry *e = &s->e[i];
        json_t *rec = json_pack("{s:s, s:o, s:o, s:o}", "name", e->name, "nonce",
                                hex_json(e->nonce, NONCE_LEN), "ciphertext",
                                hex_json(e->ct, e->ct_len), "tag", hex_json(e->tag, TAG_LEN));
        if (!rec || json_array_append_new(arr, rec) != 0) {
            clb_errf(err, errlen, CLB_ENOMEM, "secrets: out of memory");
            goto done;
        }
    }
    out = json_dumps(doc, JSON_INDENT(2));
    if (!out)
        clb_errf(err, errlen, CLB_ENOMEM, "secrets: out of memory");
done:
    if (ctext) {
        OPENSSL_cleanse(ctext, clen);
        free(ctext);
    }
    free(cct);
    json_decref(doc);
    return out;
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

static void dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int clb_secrets_save(struct clb_secrets *s, char *err, size_t errlen)
{
    if (!s)
        return CLB_EINVAL;
    char tmp[PATH_MAX + 8], lock[PATH_MAX + 8], dir[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
    snprintf(lock, sizeof(lock), "%s.lock", s->path);
    dir_of(s->path, dir, sizeof(dir));
    char *text = dump(s, err, errlen);
    if (!text)
        return CLB_EIO;
    int rc = CLB_OK, tfd = -1;
    int lfd = open(lock, O_RDWR | O_CREAT | O_NOFOLLOW, 0600);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (lfd < 0) {
        rc = clb_errf(err, errlen, CLB_EIO, "%s: %s", lock, strerror(errno));
        goto done;
    }
    while (fcntl(lfd, F_SETLKW, &fl) != 0) {
        if (errno != EINTR) {
            rc = clb_errf(err, errlen, CLB_EIO, "%s: cannot lock: %s", lock, strerror(errno));
            goto done;
        }
    }
    /* refuse to overwrite a change made since we read the file */
    struct stat st;
    bool present = stat(s->path, &st) == 0;
    if (!present && errno != ENOENT) {
        rc = clb_errf(err, errlen, CLB_EIO, "%s: %s", s->path, strerror(errno));
        goto done;
    }
    if (present != s->file_present ||
        (present && (st.st_dev != s->dev || st.st_ino != s->ino || st.st_size != s->size ||
                     st.st_mtim.tv_sec != s->mtim.tv_sec ||
                     st.st_mtim.tv_nsec != s->mtim.tv_nsec))) {
        rc = clb_errf(err, errlen, CLB_ESTATE,
                      "%s changed since it was opened (another writer?): reopen and retry",
                      s->path);
        goto done;
    }
    (void)unlink(tmp);
    tfd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    if (tfd < 0) {
        rc = clb_errf(err, errlen, CLB_EIO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    size_t len = strlen(text);
    if (write_all(tfd, text, len) != CLB_OK || write_all(tfd, "\n", 1) != CLB_OK ||
        fchmod(tfd, 0600) != 0 || fsync(tfd) != 0) {
        rc = clb_errf(err, errlen, CLB_EIO, "%s: %s", tmp, strerror(errno));
        close(tfd);
        (void)unlink(tmp);
        goto done;
    }
    if (close(tfd) != 0 || rename(tmp, s->path) != 0) {
        rc = clb_errf(err, errlen, CLB_EIO, "%s: %s", s->path, strerror(errno));
        (void)unlink(tmp);
        goto done;
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    if (stat(s->path, &st) == 0)
        remember_stat(s, &st);
    s->is_new = false;
done:
    if (lfd >= 0)
        close(lfd); /* releases the lock */
    free(text);
    return rc;
}

void clb_secrets_close(struct clb_secrets *s)
{
    if (!s)
        return;
    if (s->e) {
        for (size_t i = 0; i < s->n; i++)
            entry_wipe(&s->e[i]);
        free(s->e);
    }
    OPENSSL_cleanse(s, sizeof(*s));
    free(s);
}

/* ---- passphrase ---- */

/* Reads one line from the terminal without echo. */
static int tty_read_hidden(const char *prompt, char *out, size_t cap, char *err, size_t errlen)
{
    int fd = open("/dev/tty", O_RDWR | O_NOCTTY);
    if (fd < 0)
        return clb_errf(err, errlen, CLB_ENOTFOUND,
                        "no terminal to ask for the passphrase: set %s", CLB_SECRETS_ENV);
    struct termios old, quiet;
    bool restore = tcgetattr(fd, &old) == 0;
    if (restore) {
        quiet = old;
        quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
        quiet.c_lflag |= ICANON;
        (void)tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    (void)write_all(fd, prompt, strlen(prompt));
    size_t n = 0;
    int rc = CLB_OK;
    for (;;) {
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || c == '\n')
            break;
        if (n + 1 >= cap) {
            rc = CLB_EFULL;
            continue; /* drain the line */
        }
        out[n++] = c;
    }
    if (n && out[n - 1] == '\r')
        n--;
    out[n] = '\0';
    if (restore)
        (void)tcsetattr(fd, TCSAFLUSH, &old);
    (void)write_all(fd, "\n", 1);
    close(fd);
    if (rc != CLB_OK) {
        OPENSSL_cleanse(out, cap);
        return clb_errf(err, errlen, rc, "passphrase too long");
    }
    return CLB_OK;
}

int clb_secrets_passphrase(bool confirm, char *out, size_t cap, char *err, size_t errlen)
{
    if (!out || cap < 2)
        return CLB_EINVAL;
    out[0] = '\0';
    const char *env = getenv(CLB_SECRETS_ENV);
    if (env && *env) {
        if (strlen(env) >= cap)
            return clb_errf(err, errlen, CLB_EFULL, "%s is too long", CLB_SECRETS_ENV);
        memcpy(out, env, strlen(env) + 1);
        return CLB_OK;
    }
    int rc = tty_read_hidden(confirm ? "New secrets passphrase: " : "Secrets passphrase: ", out,
                             cap, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (!out[0])
        return clb_errf(err, errlen, CLB_EINVAL, "empty passphrase");
    if (confirm) {
        char *again = malloc(cap);
        if (!again)
            return CLB_ENOMEM;
        rc = tty_read_hidden("Repeat the passphrase: ", again, cap, err, errlen);
        if (rc == CLB_OK && strcmp(again, out) != 0)
            rc = clb_errf(err, errlen, CLB_EINVAL, "the passphrases differ");
        OPENSSL_cleanse(again, cap);
        free(again);
        if (rc != CLB_OK)
            OPENSSL_cleanse(out, cap);
    }
    return rc;
}
