/*
 * wallet.c — wallet keys in the encrypted secrets file (wallet.h).
 *
 * A wallet is the secret "wallet.NETWORK.0xaddress" (lowercase hex) whose
 * value is the private key as 64 lowercase hex digits. The address is
 * derived from the key when it is added, so the name cannot lie about it.
 * Every buffer that held key material is wiped with OPENSSL_cleanse.
 */
#include "wallet.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "error.h"
#include "eth.h"
#include "secrets.h"

#define PREFIX "wallet."

static int open_store(const char *data_dir, const char *passphrase, struct clb_secrets **s,
                      char *err, size_t errlen)
{
    char path[4200];
    if (clb_secrets_path(data_dir, path, sizeof(path)) != CLB_OK)
        return clb_errf(err, errlen, CLB_EINVAL, "data directory path too long");
    const char *pw = passphrase ? passphrase : getenv(CLB_SECRETS_ENV);
    if (!pw || !*pw)
        return clb_errf(err, errlen, CLB_ESTATE,
                        "wallet keys are encrypted: set %s to the secrets passphrase",
                        CLB_SECRETS_ENV);
    int rc = clb_secrets_open(path, pw, s, err, errlen);
    if (rc == CLB_SECRETS_EPASSPHRASE && err && !err[0])
        clb_errf(err, errlen, rc, "wrong secrets passphrase");
    return rc;
}

static void secret_name(const char *network, const uint8_t addr[20], char *out, size_t cap)
{
    char hex[CLB_ETH_ADDR_TEXT];
    clb_hex_encode(addr, 20, hex, sizeof(hex));
    snprintf(out, cap, PREFIX "%s.%s", network, hex);
}

int clb_wallet_add(const char *data_dir, const char *passphrase, const char *network,
                   const char *key_text, uint8_t addr_out[20], char *err, size_t errlen)
{
    uint8_t key[32];
    char hex[67];
    char name[CLB_SECRET_NAME_MAX];
    int rc;
    struct clb_secrets *s = NULL;
    if (!network || !*network || strlen(network) > 64)
        return clb_errf(err, errlen, CLB_EINVAL, "bad network name");
    size_t n = key_text ? strlen(key_text) : 0;
    while (n > 0 && isspace((unsigned char)key_text[n - 1]))
        n--; /* a trailing newline from stdin */
    if (n != 64 && n != 66) {
        rc = clb_errf(err, errlen, CLB_EINVAL,
                      "a private key is 64 hex digits (optionally with 0x)");
        goto out;
    }
    memcpy(hex, key_text, n);
    hex[n] = '\0';
    if (clb_hex_decode_exact(hex, key, 32) != CLB_OK || !clb_eth_key_valid(key)) {
        rc = clb_errf(err, errlen, CLB_EINVAL, "not a valid secp256k1 private key");
        goto out;
    }
    uint8_t addr[20];
    if ((rc = clb_eth_address_from_key(key, addr)) != CLB_OK) {
        rc = clb_errf(err, errlen, CLB_EINVAL, "not a valid secp256k1 private key");
        goto out;
    }
    secret_name(network, addr, name, sizeof(name));
    if (!clb_secret_name_valid(name)) {
        rc = clb_errf(err, errlen, CLB_EINVAL, "network name '%.64s' cannot name a secret",
                      network);
        goto out;
    }
    if ((rc = open_store(data_dir, passphrase, &s, err, errlen)) != CLB_OK)
        goto out;
    clb_hex_encode(key, 32, hex, sizeof(hex));
    if ((rc = clb_secrets_set(s, name, hex + 2)) != CLB_OK) {
        clb_errf(err, errlen, rc, "cannot store the key: %s", clb_strerror(rc));
        goto out;
    }
    mkdir(data_dir, 0700); /* the store needs its directory; EEXIST is fine */
    if ((rc = clb_secrets_save(s, err, errlen)) != CLB_OK)
        goto out;
    memcpy(addr_out, addr, 20);
out:
    clb_secrets_close(s);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(hex, sizeof(hex));
    return rc;
}

int clb_wallet_key(const char *data_dir, const char *passphrase, const char *network,
                   const uint8_t addr[20], uint8_t key[32], char *err, size_t errlen)
{
    char name[CLB_SECRET_NAME_MAX];
    char hex[CLB_SECRET_VALUE_MAX];
    struct clb_secrets *s = NULL;
    secret_name(network, addr, name, sizeof(name));
    int rc = open_store(data_dir, passphrase, &s, err, errlen);
    if (rc != CLB_OK)
        return rc;
    rc = clb_secrets_get(s, name, hex, sizeof(hex), NULL);
    if (rc == CLB_ENOTFOUND) {
        clb_errf(err, errlen, rc, "no wallet for this address on network '%s'", network);
    } else if (rc != CLB_OK) {
        clb_errf(err, errlen, rc, "cannot read the key: %s", clb_strerror(rc));
    } else {
        uint8_t k[32], a[20];
        if (clb_hex_decode_exact(hex, k, 32) != CLB_OK ||
            clb_eth_address_from_key(k, a) != CLB_OK || memcmp(a, addr, 20) != 0)
            rc = clb_errf(err, errlen, CLB_EPARSE, "the stored key of %s is damaged", name);
        else
            memcpy(key, k, 32);
        OPENSSL_cleanse(k, sizeof(k));
    }
    OPENSSL_cleanse(hex, sizeof(hex));
    clb_secrets_close(s);
    return rc;
}

int clb_wallet_list(const char *data_dir, const char *passphrase, const char *network,
                    json_t **out, char *err, size_t errlen)
{
    *out = NULL;
    char path[4200];
    struct stat st;
    if (clb_secrets_path(data_dir, path, sizeof(path)) == CLB_OK && stat(path, &st) != 0) {
        *out = json_array();
        return *out ? CLB_OK : CLB_ENOMEM;
    }
    struct clb_secrets *s = NULL;
    int rc = open_store(data_dir, passphrase, &s, err, errlen);
    if (rc != CLB_OK)
        return rc;
    size_t n = 0;
    char (*names)[CLB_SECRET_NAME_MAX] = calloc(CLB_SECRETS_MAX, sizeof(*names));
    json_t *list = json_array();
    if (!names || !list) {
        rc = clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
        goto out;
    }
    clb_secrets_list(s, names, CLB_SECRETS_MAX, &n);
    for (size_t i = 0; i < n && i < CLB_SECRETS_MAX; i++) {
        if (strncmp(names[i], PREFIX, strlen(PREFIX)) != 0)
            continue;
        const char *net = names[i] + strlen(PREFIX);
        const char *dot = strrchr(net, '.');
        uint8_t addr[20];
        if (!dot || clb_hex_decode_exact(dot + 1, addr, 20) != CLB_OK)
            continue;
        char nw[CLB_SECRET_NAME_MAX];
        snprintf(nw, sizeof(nw), "%.*s", (int)(dot - net), net);
        if (network && strcmp(network, nw) != 0)
            continue;
        char t[CLB_ETH_ADDR_TEXT];
        clb_eth_address_format(addr, t);
        json_array_append_new(list, json_pack("{s:s, s:s}", "network", nw, "address", t));
    }
    *out = list;
    list = NULL;
out:
    json_decref(list);
    free(names);
    clb_secrets_close(s);
    return rc;
}
