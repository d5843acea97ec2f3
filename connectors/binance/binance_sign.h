/*
 * binance_sign.h — request signing for Binance spot: query strings with
 * RFC 3986 percent-encoding, HMAC-SHA256 signatures of REST payloads
 * ("totalParams" = query string followed directly by the body) and of
 * WebSocket-API requests (every parameter but the signature, sorted by name,
 * joined as k=v&... with the values as they are).
 *
 * Pure functions: no clock (the caller passes the timestamp, normally
 * clb_bn_time_server_now_ms from binance_time.h), no allocation, no global
 * state; every output goes to a caller buffer with a capacity. Thread-safe.
 * On CLB_EINVAL / CLB_ERANGE the output buffers are left untouched (sizes
 * are checked before writing); after CLB_EIO (OpenSSL failed) they hold no
 * valid result.
 */
#ifndef CLB_BINANCE_SIGN_H
#define CLB_BINANCE_SIGN_H

#include <stddef.h>
#include <stdint.h>

#define CLB_BN_SIG_HEX_LEN 64   /* hex characters of a signature, NUL excluded */
#define CLB_BN_SIGN_MAX_PARAMS 32 /* parameters of one request */

/* One request parameter; both strings NUL-terminated and not NULL. */
struct clb_bn_param {
    const char *key;
    const char *value;
};

/* A secret prepared once for repeated signing: the HMAC key blocks are
 * hashed at init, so a signature costs two digest finalizations (the
 * one-shot functions below redo that work on every call). Holds no copy of
 * the secret itself. Not thread-safe: one owner thread (it has a scratch
 * digest context); init/deinit, caller-owned. */
struct evp_md_st;
struct evp_md_ctx_st;
struct clb_bn_signer {
    struct evp_md_st *md_;
    struct evp_md_ctx_st *inner_, *outer_, *work_;
};

/* CLB_OK, CLB_EINVAL (NULL or empty secret), CLB_ENOMEM / CLB_EIO (OpenSSL).
 * On failure nothing needs releasing (deinit is still harmless). */
int clb_bn_signer_init(struct clb_bn_signer *s, const char *secret);
void clb_bn_signer_deinit(struct clb_bn_signer *s);

/* Same contracts as the one-shot functions below, with a prepared signer. */
int clb_bn_signer_sign_payload(struct clb_bn_signer *s, const char *query, size_t query_len,
                               const char *body, size_t body_len,
                               char out[CLB_BN_SIG_HEX_LEN + 1]);
int clb_bn_signer_sign_query(struct clb_bn_signer *s, const struct clb_bn_param *params,
                             size_t n, int64_t timestamp_ms, int64_t recv_window_ms, char *out,
                             size_t cap);
int clb_bn_signer_ws_sign(struct clb_bn_signer *s, const struct clb_bn_param *params, size_t n,
                          char out[CLB_BN_SIG_HEX_LEN + 1]);
int clb_bn_signer_ws_request(struct clb_bn_signer *s, const char *id, const char *method,
                             const struct clb_bn_param *params, size_t n, const char *api_key,
                             int64_t timestamp_ms, int64_t recv_window_ms, char *out, size_t cap);

/* Percent-encodes s[0..len) as RFC 3986 does: A-Z a-z 0-9 - . _ ~ are kept,
 * every other byte becomes %XX (uppercase hex, so a space is %20). Writes a
 * NUL-terminated string into out. Returns the length written (NUL
 * excluded), CLB_EINVAL (NULL pointer) or CLB_ERANGE (cap too small). */
int clb_bn_url_encode(const char *s, size_t len, char *out, size_t cap);

/* Builds "k1=v1&k2=v2..." from params in the given order, keys and values
 * percent-encoded. n may be 0 (empty string). Returns the length written,
 * CLB_EINVAL (NULL pointer, empty key, n > CLB_BN_SIGN_MAX_PARAMS) or
 * CLB_ERANGE (cap too small). */
int clb_bn_query_build(const struct clb_bn_param *params, size_t n, char *out, size_t cap);

/* Lowercase hex HMAC-SHA256(secret, msg[0..len)) into out (65 bytes: 64 hex
 * digits and a NUL). Returns CLB_OK, CLB_EINVAL (NULL, empty secret) or
 * CLB_EIO (OpenSSL failed). */
int clb_bn_hmac_sha256_hex(const char *secret, const char *msg, size_t len,
                           char out[CLB_BN_SIG_HEX_LEN + 1]);

/* Signature of a REST request: HMAC over the query string followed directly
 * by the body (either may be NULL / empty). Same returns as above. */
int clb_bn_sign_payload(const char *secret, const char *query, size_t query_len,
                        const char *body, size_t body_len, char out[CLB_BN_SIG_HEX_LEN + 1]);

/* A complete SIGNED query string for Binance REST:
 *   <params, encoded, in order>&recvWindow=<recv_window_ms>&timestamp=<timestamp_ms>
 *   &signature=<hex>
 * recvWindow is left out when recv_window_ms is 0 (the server's default,
 * 5000, applies); otherwise it must be 1..60000. The signature covers
 * everything before it (the request then has no body). Returns the length
 * written, CLB_EINVAL (bad argument, timestamp_ms <= 0, recv window out of
 * range), CLB_ERANGE (cap too small) or CLB_EIO. */
int clb_bn_sign_query(const char *secret, const struct clb_bn_param *params, size_t n,
                      int64_t timestamp_ms, int64_t recv_window_ms, char *out, size_t cap);

/* WS-API signature: the params (which must already include apiKey and
 * timestamp, and no "signature") sorted by key (byte order), joined as
 * k=v&k=v with the values unencoded, signed with HMAC-SHA256. Returns
 * CLB_OK, CLB_EINVAL (bad argument, duplicate key, too many params) or
 * CLB_EIO. */
int clb_bn_ws_sign(const char *secret, const struct clb_bn_param *params, size_t n,
                   char out[CLB_BN_SIG_HEX_LEN + 1]);

/* A complete signed WS-API request as compact JSON:
 *   {"id":"<id>","method":"<method>","params":{<params as JSON strings>,
 *    "apiKey":"<api_key>","recvWindow":<ms>,"timestamp":<ms>,"signature":"<hex>"}}
 * recvWindow is left out when recv_window_ms is 0. params must not contain
 * apiKey, timestamp, recvWindow or signature. Returns the length written,
 * CLB_EINVAL, CLB_ERANGE or CLB_EIO. */
int clb_bn_ws_signed_request(const char *id, const char *method,
                             const struct clb_bn_param *params, size_t n, const char *api_key,
                             const char *secret, int64_t timestamp_ms, int64_t recv_window_ms,
                             char *out, size_t cap);

#endif
