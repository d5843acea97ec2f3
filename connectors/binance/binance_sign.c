/*
 * binance_sign.c — query building and HMAC-SHA256 signing for Binance.
 *
 * Design: every builder runs twice over its input, first counting (a writer
 * with no buffer), then writing, so a too-small buffer is reported before
 * anything is written. HMAC is computed in streaming form over
 * EVP_MD_CTX (RFC 2104: H(K^opad || H(K^ipad || m))): a signer keeps the
 * digest states after the K^ipad and K^opad blocks and copies them per
 * signature, which lets the WS-API signature feed its sorted k=v pieces
 * without assembling them in a buffer and avoids OpenSSL 3's deprecated
 * HMAC_CTX. The one-shot functions build a signer per call.
 */
#include "binance_sign.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "error.h"
#include "hex.h"

/* ------------------------------------------------------------------------ */
/* Writer: counts when p is NULL                                             */

struct wr {
    char *p;
    size_t len;
};

static void wr_put(struct wr *w, const char *s, size_t n)
{
    if (w->p)
        memcpy(w->p + w->len, s, n);
    w->len += n;
}

static void wr_puts(struct wr *w, const char *s)
{
    wr_put(w, s, strlen(s));
}

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Runs of unreserved bytes are copied whole; the rest become %XX. */
static void wr_encoded(struct wr *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && unreserved((unsigned char)s[j]))
            j++;
        wr_put(w, s + i, j - i);
        if (j < n) {
            unsigned char c = (unsigned char)s[j];
            char e[3] = { '%', hex[c >> 4], hex[c & 15] };
            wr_put(w, e, 3);
            j++;
        }
        i = j;
    }
}

static void wr_i64(struct wr *w, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    wr_put(w, b, (size_t)n);
}

/* JSON string body (quotes included): escapes '"', '\\' and control bytes. */
static void wr_json_str(struct wr *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    wr_put(w, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = { '\\', (char)*p };
            wr_put(w, e, 2);
        } else if (*p < 0x20) {
            char e[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
            wr_put(w, e, 6);
        } else {
            wr_put(w, (const char *)p, 1);
        }
    }
    wr_put(w, "\"", 1);
}

/* ------------------------------------------------------------------------ */
/* HMAC-SHA256 over a prepared signer                                        */

#define SHA256_BLOCK 64
#define SHA256_LEN 32

int clb_bn_signer_init(struct clb_bn_signer *s, const char *secret)
{
    if (!s)
        return CLB_EINVAL;
    memset(s, 0, sizeof(*s));
    if (!secret || !secret[0])
        return CLB_EINVAL;
    unsigned char k[SHA256_BLOCK] = { 0 }, ikey[SHA256_BLOCK], okey[SHA256_BLOCK];
    size_t klen = strlen(secret);
    int rc = CLB_EIO;
    s->md_ = EVP_MD_fetch(NULL, "SHA256", NULL);
    s->inner_ = EVP_MD_CTX_new();
    s->outer_ = EVP_MD_CTX_new();
    s->work_ = EVP_MD_CTX_new();
    if (!s->md_ || !s->inner_ || !s->outer_ || !s->work_) {
        rc = CLB_ENOMEM;
        goto fail;
    }
    if (klen > SHA256_BLOCK) {
        unsigned int n = 0;
        if (!EVP_Digest(secret, klen, k, &n, s->md_, NULL))
            goto fail;
    } else {
        memcpy(k, secret, klen);
    }
    for (int i = 0; i < SHA256_BLOCK; i++) {
        ikey[i] = (unsigned char)(k[i] ^ 0x36);
        okey[i] = (unsigned char)(k[i] ^ 0x5c);
    }
    if (EVP_DigestInit_ex(s->inner_, s->md_, NULL) != 1 ||
        EVP_DigestUpdate(s->inner_, ikey, SHA256_BLOCK) != 1 ||
        EVP_DigestInit_ex(s->outer_, s->md_, NULL) != 1 ||
        EVP_DigestUpdate(s->outer_, okey, SHA256_BLOCK) != 1)
        goto fail;
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(ikey, sizeof(ikey));
    OPENSSL_cleanse(okey, sizeof(okey));
    return CLB_OK;
fail:
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(ikey, sizeof(ikey));
    OPENSSL_cleanse(okey, sizeof(okey));
    clb_bn_signer_deinit(s);
    return rc;
}

void clb_bn_signer_deinit(struct clb_bn_signer *s)
{
    if (!s)
        return;
    EVP_MD_CTX_free(s->inner_);
    EVP_MD_CTX_free(s->outer_);
    EVP_MD_CTX_free(s->work_);
    EVP_MD_free(s->md_);
    memset(s, 0, sizeof(*s));
}

static bool signer_ok(const struct clb_bn_signer *s)
{
    return s && s->md_ && s->inner_ && s->outer_ && s->work_;
}

struct hmac {
    struct clb_bn_signer *s;
    bool ok;
};

static void hmac_begin(struct hmac *h, struct clb_bn_signer *s)
{
    h->s = s;
    h->ok = EVP_MD_CTX_copy_ex(s->work_, s->inner_) == 1;
}

static void hmac_update(struct hmac *h, const void *p, size_t n)
{
    if (h->ok && n > 0)
        h->ok = EVP_DigestUpdate(h->s->work_, p, n) == 1;
}

static void hmac_update_str(struct hmac *h, const char *s)
{
    hmac_update(h, s, strlen(s));
}

/* Finishes into 64 hex digits + NUL. */
static int hmac_final_hex(struct hmac *h, char out[CLB_BN_SIG_HEX_LEN + 1])
{
    unsigned char inner[SHA256_LEN], mac[SHA256_LEN];
    unsigned int n = 0;
    EVP_MD_CTX *w = h->s->work_;
    bool ok = h->ok && EVP_DigestFinal_ex(w, inner, &n) == 1 && n == SHA256_LEN &&
              EVP_MD_CTX_copy_ex(w, h->s->outer_) == 1 &&
              EVP_DigestUpdate(w, inner, SHA256_LEN) == 1 &&
              EVP_DigestFinal_ex(w, mac, &n) == 1 && n == SHA256_LEN;
    if (!ok)
        return CLB_EIO;
    return clb_hex_encode_bare(mac, SHA256_LEN, out, CLB_BN_SIG_HEX_LEN + 1);
}

/* ------------------------------------------------------------------------ */
/* Public                                                                    */

int clb_bn_url_encode(const char *s, size_t len, char *out, size_t cap)
{
    if ((!s && len) || !out)
        return CLB_EINVAL;
    struct wr w = { NULL, 0 };
    wr_encoded(&w, s, len);
    if (w.len + 1 > cap)
        return CLB_ERANGE;
    w = (struct wr){ out, 0 };
    wr_encoded(&w, s, len);
    out[w.len] = '\0';
    return (int)w.len;
}

static bool params_ok(const struct clb_bn_param *params, size_t n)
{
    if (n > CLB_BN_SIGN_MAX_PARAMS || (n && !params))
        return false;
    for (size_t i = 0; i < n; i++)
        if (!params[i].key || !params[i].key[0] || !params[i].value)
            return false;
    return true;
}

static void wr_params(struct wr *w, const struct clb_bn_param *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            wr_put(w, "&", 1);
        wr_encoded(w, params[i].key, strlen(params[i].key));
        wr_put(w, "=", 1);
        wr_encoded(w, params[i].value, strlen(params[i].value));
    }
}

int clb_bn_query_build(const struct clb_bn_param *params, size_t n, char *out, size_t cap)
{
    if (!out || !params_ok(params, n))
        return CLB_EINVAL;
    struct wr w = { NULL, 0 };
    wr_params(&w, params, n);
    if (w.len + 1 > cap || w.len > INT32_MAX)
        return CLB_ERANGE;
    w = (struct wr){ out, 0 };
    wr_params(&w, params, n);
    out[w.len] = '\0';
    return (int)w.len;
}

int clb_bn_signer_sign_payload(struct clb_bn_signer *s, const char *query, size_t query_len,
                               const char *body, size_t body_len,
                               char out[CLB_BN_SIG_HEX_LEN + 1])
{
    if (!signer_ok(s) || !out || (!query && query_len) || (!body && body_len))
        return CLB_EINVAL;
    struct hmac h;
    hmac_begin(&h, s);
    hmac_update(&h, query, query_len);
    hmac_update(&h, body, body_len);
    char sig[CLB_BN_SIG_HEX_LEN + 1];
    int rc = hmac_final_hex(&h, sig);
    if (rc == CLB_OK)
        memcpy(out, sig, sizeof(sig));
    return rc;
}

static void wr_signed_tail(struct wr *w, bool any_before, int64_t timestamp_ms,
                           int64_t recv_window_ms)
{
    if (recv_window_ms > 0) {
        wr_puts(w, any_before ? "&recvWindow=" : "recvWindow=");
        wr_i64(w, recv_window_ms);
        any_before = true;
    }
    wr_puts(w, any_before ? "&timestamp=" : "timestamp=");
    wr_i64(w, timestamp_ms);
}

int clb_bn_signer_sign_query(struct clb_bn_signer *s, const struct clb_bn_param *params,
                             size_t n, int64_t timestamp_ms, int64_t recv_window_ms, char *out,
                             size_t cap)
{
    if (!signer_ok(s) || !out || !params_ok(params, n) || timestamp_ms <= 0 ||
        recv_window_ms < 0 || recv_window_ms > 60000)
        return CLB_EINVAL;
    struct wr w = { NULL, 0 };
    wr_params(&w, params, n);
    wr_signed_tail(&w, n > 0, timestamp_ms, recv_window_ms);
    size_t payload = w.len;
    size_t total = payload + strlen("&signature=") + CLB_BN_SIG_HEX_LEN;
    if (total + 1 > cap || total > INT32_MAX)
        return CLB_ERANGE;
    char sig[CLB_BN_SIG_HEX_LEN + 1];
    w = (struct wr){ out, 0 };
    wr_params(&w, params, n);
    wr_signed_tail(&w, n > 0, timestamp_ms, recv_window_ms);
    int rc = clb_bn_signer_sign_payload(s, out, payload, NULL, 0, sig);
    if (rc != CLB_OK) {
        out[0] = '\0';
        return rc;
    }
    wr_puts(&w, "&signature=");
    wr_put(&w, sig, CLB_BN_SIG_HEX_LEN);
    out[w.len] = '\0';
    return (int)w.len;
}

/* Indices of params sorted by key; false on a duplicate key. */
static bool sort_params(const struct clb_bn_param *params, size_t n, size_t *idx)
{
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && strcmp(params[idx[j - 1]].key, params[i].key) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    for (size_t i = 1; i < n; i++)
        if (strcmp(params[idx[i - 1]].key, params[idx[i]].key) == 0)
            return false;
    return true;
}

int clb_bn_signer_ws_sign(struct clb_bn_signer *s, const struct clb_bn_param *params, size_t n,
                          char out[CLB_BN_SIG_HEX_LEN + 1])
{
    size_t idx[CLB_BN_SIGN_MAX_PARAMS];
    if (!signer_ok(s) || !out || !params_ok(params, n) || !sort_params(params, n, idx))
        return CLB_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(params[i].key, "signature") == 0)
            return CLB_EINVAL;
    struct hmac h;
    hmac_begin(&h, s);
    for (size_t i = 0; i < n; i++) {
        if (i)
            hmac_update(&h, "&", 1);
        hmac_update_str(&h, params[idx[i]].key);
        hmac_update(&h, "=", 1);
        hmac_update_str(&h, params[idx[i]].value);
    }
    char sig[CLB_BN_SIG_HEX_LEN + 1];
    int rc = hmac_final_hex(&h, sig);
    if (rc == CLB_OK)
        memcpy(out, sig, sizeof(sig));
    return rc;
}

static bool reserved_ws_key(const char *k)
{
    return strcmp(k, "apiKey") == 0 || strcmp(k, "timestamp") == 0 ||
           strcmp(k, "recvWindow") == 0 || strcmp(k, "signature") == 0;
}

static void wr_ws_request(struct wr *w, const char *id, const char *method,
                          const struct clb_bn_param *params, size_t n, const char *api_key,
                          int64_t timestamp_ms, int64_t recv_window_ms, const char *sig)
{
    wr_puts(w, "{\"id\":");
    wr_json_str(w, id);
    wr_puts(w, ",\"method\":");
    wr_json_str(w, method);
    wr_puts(w, ",\"params\":{");
    for (size_t i = 0; i < n; i++) {
        wr_json_str(w, params[i].key);
        wr_put(w, ":", 1);
        wr_json_str(w, params[i].value);
        wr_put(w, ",", 1);
    }
    wr_puts(w, "\"apiKey\":");
    wr_json_str(w, api_key);
    if (recv_window_ms > 0) {
        wr_puts(w, ",\"recvWindow\":");
        wr_i64(w, recv_window_ms);
    }
    wr_puts(w, ",\"timestamp\":");
    wr_i64(w, timestamp_ms);
    wr_puts(w, ",\"signature\":\"");
    wr_put(w, sig, CLB_BN_SIG_HEX_LEN);
    wr_puts(w, "\"}}");
}

int clb_bn_signer_ws_request(struct clb_bn_signer *s, const char *id, const char *method,
                             const struct clb_bn_param *params, size_t n, const char *api_key,
                             int64_t timestamp_ms, int64_t recv_window_ms, char *out, size_t cap)
{
    if (!signer_ok(s) || !id || !method || !method[0] || !api_key || !api_key[0] || !out ||
        !params_ok(params, n) || n + 3 > CLB_BN_SIGN_MAX_PARAMS || timestamp_ms <= 0 ||
        recv_window_ms < 0 || recv_window_ms > 60000)
        return CLB_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (reserved_ws_key(params[i].key))
            return CLB_EINVAL;
    char sig[CLB_BN_SIG_HEX_LEN + 1];
    memset(sig, '0', CLB_BN_SIG_HEX_LEN);
    sig[CLB_BN_SIG_HEX_LEN] = '\0';
    struct wr w = { NULL, 0 };
    wr_ws_request(&w, id, method, params, n, api_key, timestamp_ms, recv_window_ms, sig);
    if (w.len + 1 > cap || w.len > INT32_MAX)
        return CLB_ERANGE;
    /* the signed set: params + apiKey + recvWindow + timestamp */
    struct clb_bn_param all[CLB_BN_SIGN_MAX_PARAMS];
    char ts[24], rw[24];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        all[k++] = params[i];
    snprintf(ts, sizeof(ts), "%" PRId64, timestamp_ms);
    snprintf(rw, sizeof(rw), "%" PRId64, recv_window_ms);
    all[k++] = (struct clb_bn_param){ "apiKey", api_key };
    if (recv_window_ms > 0)
        all[k++] = (struct clb_bn_param){ "recvWindow", rw };
    all[k++] = (struct clb_bn_param){ "timestamp", ts };
    int rc = clb_bn_signer_ws_sign(s, all, k, sig);
    if (rc != CLB_OK)
        return rc;
    w = (struct wr){ out, 0 };
    wr_ws_request(&w, id, method, params, n, api_key, timestamp_ms, recv_window_ms, sig);
    out[w.len] = '\0';
    return (int)w.len;
}

/* ------------------------------------------------------------------------ */
/* One-shot forms: a signer for the duration of the call                     */

int clb_bn_sign_payload(const char *secret, const char *query, size_t query_len,
                        const char *body, size_t body_len, char out[CLB_BN_SIG_HEX_LEN + 1])
{
    struct clb_bn_signer s;
    int rc = clb_bn_signer_init(&s, secret);
    if (rc == CLB_OK)
        rc = clb_bn_signer_sign_payload(&s, query, query_len, body, body_len, out);
    clb_bn_signer_deinit(&s);
    return rc;
}

int clb_bn_hmac_sha256_hex(const char *secret, const char *msg, size_t len,
                           char out[CLB_BN_SIG_HEX_LEN + 1])
{
    return clb_bn_sign_payload(secret, msg, len, NULL, 0, out);
}

int clb_bn_sign_query(const char *secret, const struct clb_bn_param *params, size_t n,
                      int64_t timestamp_ms, int64_t recv_window_ms, char *out, size_t cap)
{
    struct clb_bn_signer s;
    int rc = clb_bn_signer_init(&s, secret);
    if (rc == CLB_OK)
        rc = clb_bn_signer_sign_query(&s, params, n, timestamp_ms, recv_window_ms, out, cap);
    clb_bn_signer_deinit(&s);
    return rc;
}

int clb_bn_ws_sign(const char *secret, const struct clb_bn_param *params, size_t n,
                   char out[CLB_BN_SIG_HEX_LEN + 1])
{
    struct clb_bn_signer s;
    int rc = clb_bn_signer_init(&s, secret);
    if (rc == CLB_OK)
        rc = clb_bn_signer_ws_sign(&s, params, n, out);
    clb_bn_signer_deinit(&s);
    return rc;
}

int clb_bn_ws_signed_request(const char *id, const char *method,
                             const struct clb_bn_param *params, size_t n, const char *api_key,
                             const char *secret, int64_t timestamp_ms, int64_t recv_window_ms,
                             char *out, size_t cap)
{
    struct clb_bn_signer s;
    int rc = clb_bn_signer_init(&s, secret);
    if (rc == CLB_OK)
        rc = clb_bn_signer_ws_request(&s, id, method, params, n, api_key, timestamp_ms,
                                      recv_window_ms, out, cap);
    clb_bn_signer_deinit(&s);
    return rc;
}
