/*
 * rpc.c — Ethereum JSON-RPC over libcurl (rpc.h).
 *
 * Design: one easy handle per call (thread-safe without locks; the
 * gateway's few calls per request do not need connection reuse), body
 * capped while it is received, request ids from an atomic counter. A
 * JSON-RPC error object becomes CLB_ESTATE with "RPC error CODE: MESSAGE";
 * when its data holds revert bytes they are decoded with
 * clb_abi_decode_revert() so a client sees the contract's reason.
 */
#include "rpc.h"

#include <curl/curl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "eth.h"

struct clb_rpc {
    char url[CLB_RPC_URL_MAX];
    long timeout_ms;
    atomic_uint_fast64_t next_id;
};

struct body {
    char *p;
    size_t len;
    bool too_big;
};

__attribute__((format(printf, 4, 5))) static int fail(struct clb_rpc_error *e, int rc,
                                                       int rpc_code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        e->rpc_code = rpc_code;
    }
    return rc;
}

int clb_rpc_create(const char *url, int timeout_ms, struct clb_rpc **out)
{
    *out = NULL;
    if (!url || timeout_ms <= 0 || strlen(url) >= CLB_RPC_URL_MAX ||
        (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0))
        return CLB_EINVAL;
    /* Reference-counted; here (on the creating thread) rather than
     * implicitly inside the first curl_easy_init on some HTTP thread. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return CLB_ENOMEM;
    struct clb_rpc *c = calloc(1, sizeof(*c));
    if (!c) {
        curl_global_cleanup();
        return CLB_ENOMEM;
    }
    snprintf(c->url, sizeof(c->url), "%s", url);
    c->timeout_ms = timeout_ms;
    atomic_init(&c->next_id, 1);
    *out = c;
    return CLB_OK;
}

void clb_rpc_destroy(struct clb_rpc *c)
{
    if (!c)
        return;
    free(c);
    curl_global_cleanup();
}

const char *clb_rpc_url(const struct clb_rpc *c)
{
    return c->url;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct body *b = ud;
    size_t n = size * nmemb;
    if (b->len + n > CLB_RPC_MAX_RESPONSE) {
        b->too_big = true;
        return 0; /* aborts the transfer */
    }
    char *p = realloc(b->p, b->len + n + 1);
    if (!p)
        return 0;
    memcpy(p + b->len, data, n);
    b->p = p;
    b->len += n;
    b->p[b->len] = '\0';
    return n;
}

/* Fills e from a JSON-RPC error object. */
static int rpc_error(const char *method, json_t *err, struct clb_rpc_error *e)
{
    json_t *code = json_object_get(err, "code");
    json_t *msg = json_object_get(err, "message");
    json_t *data = json_object_get(err, "data");
    int icode = json_is_integer(code) ? (int)json_integer_value(code) : 0;
    const char *m = json_is_string(msg) ? json_string_value(msg) : "(no message)";
    /* Revert data: a hex string in data (geth, anvil) or data.data (some nodes). */
    if (json_is_object(data))
        data = json_object_get(data, "data");
    char reason[256] = "";
    bool has_revert_data = false;
    if (json_is_string(data)) {
        uint8_t buf[1024];
        size_t n = 0;
        if (clb_hex_decode(json_string_value(data), buf, sizeof(buf), &n) == CLB_OK) {
            has_revert_data = true;
            if (clb_abi_decode_revert(buf, n, reason, sizeof(reason)) != CLB_OK)
                reason[0] = '\0';
        }
    }
    bool reverted = has_revert_data || strstr(m, "revert") != NULL || icode == 3;
    if (e) {
        e->reverted = reverted;
        e->rpc_code = icode;
    }
    if (reverted && reason[0])
        return fail(e, CLB_ESTATE, icode, "execution reverted: %s", reason);
    if (reverted)
        return fail(e, CLB_ESTATE, icode, "%.300s", m);
    return fail(e, CLB_ESTATE, icode, "%s: RPC error %d: %.300s", method, icode, m);
}

int clb_rpc_call(struct clb_rpc *c, const char *method, json_t *params, json_t **result,
                 struct clb_rpc_error *e)
{
    *result = NULL;
    if (e) {
        e->rpc_code = 0;
        e->reverted = false;
        e->message[0] = '\0';
    }
    if (!params)
        return fail(e, CLB_ENOMEM, 0, "out of memory");
    uint64_t id = atomic_fetch_add(&c->next_id, 1);
    json_t *req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", (json_int_t)id,
                            "method", method, "params", params);
    char *text = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!text)
        return fail(e, CLB_ENOMEM, 0, "out of memory");

    struct body b = { 0 };
    CURL *h = curl_easy_init();
    struct curl_slist *hs = curl_slist_append(NULL, "Content-Type: application/json");
    int rc = CLB_OK;
    if (!h || !hs) {
        rc = fail(e, CLB_ENOMEM, 0, "out of memory");
        goto out;
    }
    curl_easy_setopt(h, CURLOPT_URL, c->url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hs);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, text);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(text));
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->timeout_ms < 5000 ? c->timeout_ms : 5000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    CURLcode cc = curl_easy_perform(h);
    if (cc == CURLE_OPERATION_TIMEDOUT) {
        rc = fail(e, CLB_ETIMEDOUT, 0, "%s: no answer from the node within %ld ms", method,
                  c->timeout_ms);
        goto out;
    }
    if (b.too_big) {
        rc = fail(e, CLB_EIO, 0, "%s: answer larger than %d bytes", method,
                  CLB_RPC_MAX_RESPONSE);
        goto out;
    }
    if (cc != CURLE_OK) {
        rc = fail(e, CLB_EIO, 0, "%s: node unreachable: %s", method, curl_easy_strerror(cc));
        goto out;
    }
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    json_error_t je;
    json_t *doc = b.p ? json_loadb(b.p, b.len, 0, &je) : NULL;
    if (!doc && status != 200) {
        rc = fail(e, CLB_EIO, 0, "%s: node answered HTTP %ld", method, status);
        goto out;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        rc = fail(e, CLB_EPARSE, 0, "%s: the node's answer is not a JSON-RPC response", method);
        goto out;
    }
    json_t *err = json_object_get(doc, "error");
    if (err && !json_is_null(err)) {
        rc = rpc_error(method, err, e);
        json_decref(doc);
        goto out;
    }
    json_t *res = json_object_get(doc, "result");
    if (!res) {
        json_decref(doc);
        rc = fail(e, CLB_EPARSE, 0, "%s: the node's answer has no result", method);
        goto out;
    }
    *result = json_incref(res);
    json_decref(doc);
out:
    curl_slist_free_all(hs);
    if (h)
        curl_easy_cleanup(h);
    free(b.p);
    free(text);
    return rc;
}

int clb_rpc_quantity_u64(const json_t *v, uint64_t *out)
{
    uint8_t w[32];
    if (!json_is_string(v) || clb_u256_from_hex(json_string_value(v), w) != CLB_OK)
        return CLB_EPARSE;
    return clb_u256_to_u64(w, out) == CLB_OK ? CLB_OK : CLB_ERANGE;
}

/* A call whose result is a quantity fitting in 64 bits. */
static int call_u64(struct clb_rpc *c, const char *method, json_t *params, uint64_t *out,
                    struct clb_rpc_error *e)
{
    json_t *res;
    int rc = clb_rpc_call(c, method, params, &res, e);
    if (rc != CLB_OK)
        return rc;
    rc = clb_rpc_quantity_u64(res, out);
    json_decref(res);
    if (rc != CLB_OK)
        return fail(e, CLB_EPARSE, 0, "%s: the result is not a 64-bit quantity", method);
    return CLB_OK;
}

int clb_rpc_chain_id(struct clb_rpc *c, uint64_t *out, struct clb_rpc_error *e)
{
    return call_u64(c, "eth_chainId", json_array(), out, e);
}

int clb_rpc_block_number(struct clb_rpc *c, uint64_t *out, struct clb_rpc_error *e)
{
    return call_u64(c, "eth_blockNumber", json_array(), out, e);
}

int clb_rpc_gas_price(struct clb_rpc *c, uint64_t *out, struct clb_rpc_error *e)
{
    return call_u64(c, "eth_gasPrice", json_array(), out, e);
}

int clb_rpc_fees(struct clb_rpc *c, struct clb_rpc_fees *out, struct clb_rpc_error *e)
{
    memset(out, 0, sizeof(*out));
    json_t *res = NULL;
    int rc = clb_rpc_call(c, "eth_feeHistory", json_pack("[s, s, [i]]", "0x1", "latest", 50),
                          &res, e);
    if (rc == CLB_OK) {
        /* baseFeePerGas has one more entry than blocks: the next block's. */
        json_t *bases = json_object_get(res, "baseFeePerGas");
        json_t *rewards = json_object_get(res, "reward");
        size_t nb = json_array_size(bases);
        uint64_t base = 0, tip = 0;
        if (nb > 0 && clb_rpc_quantity_u64(json_array_get(bases, nb - 1), &base) == CLB_OK &&
            base > 0) {
            json_t *last = json_array_get(rewards, json_array_size(rewards) - 1);
            if (json_array_size(rewards) == 0 ||
                clb_rpc_quantity_u64(json_array_get(last, 0), &tip) != CLB_OK)
                tip = 0;
            if (tip == 0)
                tip = 1000000000ULL; /* 1 gwei when the last block carried no tips */
            out->eip1559 = true;
            out->base_fee = base;
            out->priority_fee = tip;
            if (base > (UINT64_MAX - tip) / 2)
                out->max_fee = UINT64_MAX;
            else
                out->max_fee = 2 * base + tip;
            out->gas_price = base + tip;
        }
        json_decref(res);
        if (out->eip1559)
            return CLB_OK;
    } else if (rc == CLB_EIO || rc == CLB_ETIMEDOUT) {
        return rc;
    }
    /* Legacy node (no fee history or no base fee). */
    rc = clb_rpc_gas_price(c, &out->gas_price, e);
    out->max_fee = out->gas_price;
    return rc;
}

static json_t *addr_json(const uint8_t a[20])
{
    char t[CLB_ETH_ADDR_TEXT];
    clb_hex_encode(a, 20, t, sizeof(t));
    return json_string(t);
}

static json_t *data_json(const uint8_t *p, size_t n)
{
    size_t cap = 2 * n + 3;
    char *t = malloc(cap);
    if (!t)
        return NULL;
    json_t *s = clb_hex_encode(p, n, t, cap) == CLB_OK ? json_string(t) : NULL;
    free(t);
    return s;
}

int clb_rpc_get_balance(struct clb_rpc *c, const uint8_t addr[20], uint8_t out[32],
                        struct clb_rpc_error *e)
{
    json_t *res;
    int rc = clb_rpc_call(c, "eth_getBalance", json_pack("[o, s]", addr_json(addr), "latest"),
                          &res, e);
    if (rc != CLB_OK)
        return rc;
    if (!json_is_string(res) || clb_u256_from_hex(json_string_value(res), out) != CLB_OK)
        rc = fail(e, CLB_EPARSE, 0, "eth_getBalance: the result is not a quantity");
    json_decref(res);
    return rc;
}

int clb_rpc_get_nonce(struct clb_rpc *c, const uint8_t addr[20], uint64_t *out,
                      struct clb_rpc_error *e)
{
    return call_u64(c, "eth_getTransactionCount",
                    json_pack("[o, s]", addr_json(addr), "pending"), out, e);
}

static json_t *call_object(const uint8_t *from, const uint8_t to[20], const uint8_t *data,
                           size_t len, const uint8_t *value)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (from)
        json_object_set_new(o, "from", addr_json(from));
    json_object_set_new(o, "to", addr_json(to));
    json_object_set_new(o, "data", data_json(data, len));
    if (value) {
        char q[CLB_U256_HEX_MAX];
        clb_u256_to_hex(value, q, sizeof(q));
        json_object_set_new(o, "value", json_string(q));
    }
    return o;
}

int clb_rpc_eth_call(struct clb_rpc *c, const uint8_t *from, const uint8_t to[20],
                     const uint8_t *data, size_t len, uint8_t *out, size_t cap, size_t *n,
                     struct clb_rpc_error *e)
{
    json_t *res;
    int rc = clb_rpc_call(c, "eth_call",
                          json_pack("[o, s]", call_object(from, to, data, len, NULL), "latest"),
                          &res, e);
    if (rc != CLB_OK)
        return rc;
    if (!json_is_string(res)) {
        rc = fail(e, CLB_EPARSE, 0, "eth_call: the result is not hex data");
    } else {
        rc = clb_hex_decode(json_string_value(res), out, cap, n);
        if (rc == CLB_EFULL)
            fail(e, rc, 0, "eth_call: the result is larger than %zu bytes", cap);
        else if (rc != CLB_OK)
            rc = fail(e, CLB_EPARSE, 0, "eth_call: the result is not hex data");
    }
    json_decref(res);
    return rc;
}

int clb_rpc_estimate_gas(struct clb_rpc *c, const uint8_t from[20], const uint8_t to[20],
                         const uint8_t *data, size_t len, const uint8_t *value,
                         uint64_t *gas, struct clb_rpc_error *e)
{
    return call_u64(c, "eth_estimateGas",
                    json_pack("[o]", call_object(from, to, data, len, value)), gas, e);
}

static int hash_result(json_t *res, uint8_t out[32])
{
    return json_is_string(res) ? clb_hex_decode_exact(json_string_value(res), out, 32)
                               : CLB_EPARSE;
}

int clb_rpc_send_raw(struct clb_rpc *c, const uint8_t *raw, size_t len, uint8_t hash_out[32],
                     struct clb_rpc_error *e)
{
    json_t *res;
    int rc = clb_rpc_call(c, "eth_sendRawTransaction", json_pack("[o]", data_json(raw, len)),
                          &res, e);
    if (rc != CLB_OK)
        return rc;
    if (hash_result(res, hash_out) != CLB_OK)
        rc = fail(e, CLB_EPARSE, 0, "eth_sendRawTransaction: the result is not a hash");
    json_decref(res);
    return rc;
}

static int get_by_hash(struct clb_rpc *c, const char *method, const uint8_t hash[32],
                       json_t **out, struct clb_rpc_error *e)
{
    *out = NULL;
    json_t *res;
    int rc = clb_rpc_call(c, method, json_pack("[o]", data_json(hash, 32)), &res, e);
    if (rc != CLB_OK)
        return rc;
    if (json_is_null(res)) {
        json_decref(res);
        return CLB_OK;
    }
    if (!json_is_object(res)) {
        json_decref(res);
        return fail(e, CLB_EPARSE, 0, "%s: the result is not an object", method);
    }
    *out = res;
    return CLB_OK;
}

int clb_rpc_get_receipt(struct clb_rpc *c, const uint8_t hash[32], json_t **receipt,
                        struct clb_rpc_error *e)
{
    return get_by_hash(c, "eth_getTransactionReceipt", hash, receipt, e);
}

int clb_rpc_get_transaction(struct clb_rpc *c, const uint8_t hash[32], json_t **tx,
                            struct clb_rpc_error *e)
{
    return get_by_hash(c, "eth_getTransactionByHash", hash, tx, e);
}
