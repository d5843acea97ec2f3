/*
 * eth_tx.c — keys, addresses, signatures and signed transactions (see
 * eth_tx.h).
 *
 * The key is passed straight to libsecp256k1 and never copied here; the
 * library wipes its own secret intermediates (the RFC 6979 nonce). The one
 * secret this file makes, the seed that randomizes the context's blinding,
 * is wiped with OPENSSL_cleanse. Transaction encodings are built with the
 * RLP writer into a heap buffer sized for the data (signing is not on a
 * hot path).
 */
#include "eth_tx.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "error.h"
#include "keccak.h"
#include "rlp.h"

/* A context for signing (blinding randomized) or for verification only. */
static secp256k1_context *ctx_new(bool signing)
{
    secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
    if (!ctx || !signing)
        return ctx;
    unsigned char seed[32];
    int ok = RAND_bytes(seed, sizeof(seed)) == 1 && secp256k1_context_randomize(ctx, seed) == 1;
    OPENSSL_cleanse(seed, sizeof(seed));
    if (!ok) { /* blinding is a side-channel defence; refuse to sign without it */
        secp256k1_context_destroy(ctx);
        return NULL;
    }
    return ctx;
}

static void pubkey_address(const secp256k1_context *ctx, const secp256k1_pubkey *pub,
                           uint8_t out[CLB_ETH_ADDR_LEN])
{
    unsigned char ser[65];
    size_t n = sizeof(ser);
    uint8_t h[32];
    secp256k1_ec_pubkey_serialize(ctx, ser, &n, pub, SECP256K1_EC_UNCOMPRESSED);
    clb_keccak256(ser + 1, 64, h);
    memcpy(out, h + 12, CLB_ETH_ADDR_LEN);
}

bool clb_eth_key_valid(const uint8_t key[CLB_ETH_KEY_LEN])
{
    return key && secp256k1_ec_seckey_verify(secp256k1_context_static, key) == 1;
}

int clb_eth_address_from_key(const uint8_t key[CLB_ETH_KEY_LEN], uint8_t out[CLB_ETH_ADDR_LEN])
{
    if (!clb_eth_key_valid(key))
        return CLB_EINVAL;
    secp256k1_context *ctx = ctx_new(true);
    if (!ctx)
        return CLB_ENOMEM;
    secp256k1_pubkey pub;
    int rc = CLB_EINVAL;
    if (secp256k1_ec_pubkey_create(ctx, &pub, key) == 1) {
        pubkey_address(ctx, &pub, out);
        rc = CLB_OK;
    }
    secp256k1_context_destroy(ctx);
    return rc;
}

/* ---- EIP-55 text ---- */

static const char hexdig[] = "0123456789abcdef";

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

void clb_eth_address_format(const uint8_t a[CLB_ETH_ADDR_LEN], char out[CLB_ETH_ADDR_TEXT])
{
    char lower[40];
    uint8_t h[32];
    for (int i = 0; i < 20; i++) {
        lower[2 * i] = hexdig[a[i] >> 4];
        lower[2 * i + 1] = hexdig[a[i] & 15];
    }
    clb_keccak256(lower, sizeof(lower), h);
    out[0] = '0';
    out[1] = 'x';
    for (int i = 0; i < 40; i++) {
        char c = lower[i];
        int nib = (h[i / 2] >> (i % 2 ? 0 : 4)) & 15;
        if (c >= 'a' && nib >= 8)
            c = (char)(c - 'a' + 'A');
        out[2 + i] = c;
    }
    out[42] = '\0';
}

int clb_eth_address_parse(const char *s, uint8_t out[CLB_ETH_ADDR_LEN])
{
    if (!s || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') || strlen(s) != 42)
        return CLB_EPARSE;
    uint8_t a[CLB_ETH_ADDR_LEN];
    bool has_lower = false, has_upper = false;
    for (int i = 0; i < 40; i++) {
        char c = s[2 + i];
        int v = hexval(c);
        if (v < 0)
            return CLB_EPARSE;
        has_lower |= c >= 'a' && c <= 'f';
        has_upper |= c >= 'A' && c <= 'F';
        if (i % 2 == 0)
            a[i / 2] = (uint8_t)(v << 4);
        else
            a[i / 2] |= (uint8_t)v;
    }
    if (has_lower && has_upper) {
        char want[CLB_ETH_ADDR_TEXT];
        clb_eth_address_format(a, want);
        if (memcmp(want + 2, s + 2, 40) != 0)
            return CLB_EPARSE;
    }
    memcpy(out, a, sizeof(a));
    return CLB_OK;
}

/* ---- signatures ---- */

int clb_eth_sign_hash(const uint8_t key[CLB_ETH_KEY_LEN], const uint8_t hash[32],
                      uint8_t sig[CLB_ETH_SIG_LEN])
{
    if (!clb_eth_key_valid(key) || !hash)
        return CLB_EINVAL;
    secp256k1_context *ctx = ctx_new(true);
    if (!ctx)
        return CLB_ENOMEM;
    secp256k1_ecdsa_recoverable_signature rs;
    unsigned char compact[64];
    int recid = 0, rc = CLB_EIO;
    /* NULL nonce function: RFC 6979; the library only outputs low-s */
    if (secp256k1_ecdsa_sign_recoverable(ctx, &rs, hash, key, NULL, NULL) == 1 &&
        secp256k1_ecdsa_recoverable_signature_serialize_compact(ctx, compact, &recid, &rs) ==
            1 &&
        (recid == 0 || recid == 1)) {
        memcpy(sig, compact, 64);
        sig[64] = (uint8_t)recid;
        rc = CLB_OK;
    }
    secp256k1_context_destroy(ctx);
    return rc;
}

int clb_eth_recover(const uint8_t hash[32], const uint8_t sig[CLB_ETH_SIG_LEN],
                    uint8_t out[CLB_ETH_ADDR_LEN])
{
    if (!hash || !sig || sig[64] > 1)
        return CLB_EINVAL;
    const secp256k1_context *ctx = secp256k1_context_static;
    secp256k1_ecdsa_recoverable_signature rs;
    secp256k1_ecdsa_signature plain;
    secp256k1_pubkey pub;
    if (secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rs, sig, sig[64]) != 1)
        return CLB_EINVAL;
    secp256k1_ecdsa_recoverable_signature_convert(ctx, &plain, &rs);
    if (secp256k1_ecdsa_signature_normalize(ctx, NULL, &plain) == 1)
        return CLB_EINVAL; /* high s: malleable, refused as Ethereum does */
    if (secp256k1_ecdsa_recover(ctx, &pub, &rs, hash) != 1)
        return CLB_EINVAL;
    pubkey_address(ctx, &pub, out);
    return CLB_OK;
}

/* ---- transactions ---- */

static bool tx_valid(const struct clb_eth_tx *tx)
{
    if (!tx || tx->chain_id == 0 || tx->gas_limit == 0)
        return false;
    if (tx->type != CLB_ETH_TX_LEGACY && tx->type != CLB_ETH_TX_EIP1559)
        return false;
    if (tx->data_len > CLB_ETH_TX_MAX_DATA || (!tx->data && tx->data_len))
        return false;
    /* v = chain_id * 2 + 36 must fit in 64 bits */
    if (tx->type == CLB_ETH_TX_LEGACY && tx->chain_id > (UINT64_MAX - 36) / 2)
        return false;
    return true;
}

/* Writes the transaction's RLP (with the 0x02 type byte for type 2). With
 * sig NULL: the signing payload; else the signed transaction. */
static int tx_encode(const struct clb_eth_tx *tx, const uint8_t *sig, uint8_t *buf, size_t cap,
                     size_t *len)
{
    struct clb_rlp r;
    size_t off = 0;
    if (tx->type == CLB_ETH_TX_EIP1559) {
        if (cap < 1)
            return CLB_EFULL;
        buf[0] = 0x02;
        off = 1;
    }
    clb_rlp_init(&r, buf + off, cap - off);
    clb_rlp_list_begin(&r);
    if (tx->type == CLB_ETH_TX_EIP1559) {
        clb_rlp_uint(&r, tx->chain_id);
        clb_rlp_uint(&r, tx->nonce);
        clb_rlp_uint(&r, tx->max_priority_fee);
        clb_rlp_uint(&r, tx->max_fee);
    } else {
        clb_rlp_uint(&r, tx->nonce);
        clb_rlp_uint(&r, tx->gas_price);
    }
    clb_rlp_uint(&r, tx->gas_limit);
    clb_rlp_bytes(&r, tx->to, tx->create ? 0 : CLB_ETH_ADDR_LEN);
    clb_rlp_u256(&r, tx->value);
    clb_rlp_bytes(&r, tx->data, tx->data_len);
    if (tx->type == CLB_ETH_TX_EIP1559) {
        clb_rlp_list_begin(&r); /* empty access list */
        clb_rlp_list_end(&r);
        if (sig) {
            clb_rlp_uint(&r, sig[64]);
            clb_rlp_u256(&r, sig);
            clb_rlp_u256(&r, sig + 32);
        }
    } else if (sig) {
        clb_rlp_uint(&r, tx->chain_id * 2 + 35 + sig[64]);
        clb_rlp_u256(&r, sig);
        clb_rlp_u256(&r, sig + 32);
    } else {
        clb_rlp_uint(&r, tx->chain_id);
        clb_rlp_uint(&r, 0);
        clb_rlp_uint(&r, 0);
    }
    clb_rlp_list_end(&r);
    size_t n = 0;
    int rc = clb_rlp_finish(&r, &n);
    if (rc != CLB_OK)
        return rc;
    *len = off + n;
    return CLB_OK;
}

int clb_eth_tx_signing_hash(const struct clb_eth_tx *tx, uint8_t out[32])
{
    if (!tx_valid(tx))
        return CLB_EINVAL;
    size_t cap = CLB_ETH_TX_RAW_MAX(tx->data_len), n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return CLB_ENOMEM;
    int rc = tx_encode(tx, NULL, buf, cap, &n);
    if (rc == CLB_OK)
        clb_keccak256(buf, n, out);
    free(buf);
    return rc;
}

int clb_eth_tx_sign(const struct clb_eth_tx *tx, const uint8_t key[CLB_ETH_KEY_LEN],
                    uint8_t *out, size_t cap, size_t *len, uint8_t hash_out[32])
{
    if (!tx_valid(tx) || !clb_eth_key_valid(key) || !len)
        return CLB_EINVAL;
    uint8_t h[32], sig[CLB_ETH_SIG_LEN];
    int rc = clb_eth_tx_signing_hash(tx, h);
    if (rc == CLB_OK)
        rc = clb_eth_sign_hash(key, h, sig);
    if (rc != CLB_OK)
        return rc;
    size_t tmp_cap = CLB_ETH_TX_RAW_MAX(tx->data_len), n = 0;
    uint8_t *tmp = malloc(tmp_cap);
    if (!tmp)
        return CLB_ENOMEM;
    rc = tx_encode(tx, sig, tmp, tmp_cap, &n);
    if (rc == CLB_OK && (!out || n > cap))
        rc = CLB_EFULL;
    if (rc == CLB_OK) {
        memcpy(out, tmp, n);
        *len = n;
        if (hash_out)
            clb_keccak256(tmp, n, hash_out);
    }
    free(tmp);
    return rc;
}

/* ---- recovering the sender of a raw transaction ---- */

#define MAX_FIELDS 12

struct field {
    const uint8_t *enc; /* the whole encoded item */
    size_t enc_len;
    struct clb_rlp_item it;
};

/* Splits the top-level list at in[0..len) (which must be exactly one
 * list) into its items. */
static int split_list(const uint8_t *in, size_t len, struct field *f, size_t *n)
{
    struct clb_rlp_item top;
    size_t used;
    if (clb_rlp_decode(in, len, &top, &used) != CLB_OK || !top.is_list || used != len)
        return CLB_EPARSE;
    size_t k = 0, pos = 0;
    while (pos < top.len) {
        if (k == MAX_FIELDS)
            return CLB_EPARSE;
        if (clb_rlp_decode(top.p + pos, top.len - pos, &f[k].it, &used) != CLB_OK)
            return CLB_EPARSE;
        f[k].enc = top.p + pos;
        f[k].enc_len = used;
        pos += used;
        k++;
    }
    *n = k;
    return CLB_OK;
}

/* An integer field: a string of at most `max` bytes without a leading zero. */
static int field_uint(const struct field *f, size_t max, uint8_t *be, size_t be_len)
{
    if (f->it.is_list || f->it.len > max || f->it.len > be_len ||
        (f->it.len > 0 && f->it.p[0] == 0))
        return CLB_EPARSE;
    memset(be, 0, be_len);
    memcpy(be + be_len - f->it.len, f->it.p, f->it.len);
    return CLB_OK;
}

static int field_u64(const struct field *f, uint64_t *v)
{
    uint8_t b[8];
    int rc = field_uint(f, 8, b, 8);
    if (rc != CLB_OK)
        return rc;
    uint64_t x = 0;
    for (int i = 0; i < 8; i++)
        x = (x << 8) | b[i];
    *v = x;
    return CLB_OK;
}

/* keccak(prefix || rlp(list of fields[0..n) || extra items)). */
static int hash_fields(uint8_t type_byte, const struct field *f, size_t n, const uint8_t *extra,
                       size_t extra_len, uint8_t out[32])
{
    size_t payload = extra_len;
    for (size_t i = 0; i < n; i++)
        payload += f[i].enc_len;
    size_t cap = payload + 16, len = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        return CLB_ENOMEM;
    struct clb_rlp r;
    size_t off = 0;
    if (type_byte) {
        buf[0] = type_byte;
        off = 1;
    }
    clb_rlp_init(&r, buf + off, cap - off);
    clb_rlp_list_begin(&r);
    for (size_t i = 0; i < n; i++)
        clb_rlp_raw(&r, f[i].enc, f[i].enc_len);
    clb_rlp_raw(&r, extra, extra_len);
    clb_rlp_list_end(&r);
    int rc = clb_rlp_finish(&r, &len);
    if (rc == CLB_OK)
        clb_keccak256(buf, off + len, out);
    free(buf);
    return rc;
}

int clb_eth_tx_sender(const uint8_t *raw, size_t len, uint8_t from[CLB_ETH_ADDR_LEN],
                      uint64_t *chain_id)
{
    struct field f[MAX_FIELDS];
    size_t n = 0;
    uint8_t h[32], sig[CLB_ETH_SIG_LEN];
    uint64_t chain = 0;
    int rc;
    if (!raw || len == 0)
        return CLB_EPARSE;
    if (raw[0] >= 0xc0) { /* legacy */
        if (split_list(raw, len, f, &n) != CLB_OK || n != 9)
            return CLB_EPARSE;
        uint64_t v;
        if (field_u64(&f[6], &v) != CLB_OK)
            return CLB_EPARSE;
        if (v == 27 || v == 28) {
            sig[64] = (uint8_t)(v - 27);
            rc = hash_fields(0, f, 6, NULL, 0, h);
        } else if (v >= 35) {
            chain = (v - 35) / 2;
            sig[64] = (uint8_t)((v - 35) % 2);
            uint8_t extra[12];
            struct clb_rlp r;
            size_t elen = 0;
            clb_rlp_init(&r, extra, sizeof(extra));
            clb_rlp_uint(&r, chain);
            clb_rlp_uint(&r, 0);
            clb_rlp_uint(&r, 0);
            if (clb_rlp_finish(&r, &elen) != CLB_OK)
                return CLB_EPARSE;
            rc = hash_fields(0, f, 6, extra, elen, h);
        } else {
            return CLB_EINVAL;
        }
        if (rc != CLB_OK)
            return rc;
        if (field_uint(&f[7], 32, sig, 32) != CLB_OK ||
            field_uint(&f[8], 32, sig + 32, 32) != CLB_OK)
            return CLB_EPARSE;
    } else if (raw[0] == 0x02) {
        if (split_list(raw + 1, len - 1, f, &n) != CLB_OK || n != 12)
            return CLB_EPARSE;
        uint64_t parity;
        if (field_u64(&f[0], &chain) != CLB_OK || field_u64(&f[9], &parity) != CLB_OK ||
            parity > 1 || !f[8].it.is_list)
            return CLB_EPARSE;
        sig[64] = (uint8_t)parity;
        if (field_uint(&f[10], 32, sig, 32) != CLB_OK ||
            field_uint(&f[11], 32, sig + 32, 32) != CLB_OK)
            return CLB_EPARSE;
        rc = hash_fields(0x02, f, 9, NULL, 0, h);
        if (rc != CLB_OK)
            return rc;
    } else if (raw[0] <= 0x7f) {
        return CLB_EUNSUPPORTED;
    } else {
        return CLB_EPARSE;
    }
    rc = clb_eth_recover(h, sig, from);
    if (rc == CLB_OK && chain_id)
        *chain_id = chain;
    return rc;
}
