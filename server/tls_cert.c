/*
 * tls_cert.c — self-signed certificate generation and storage (see
 * tls_cert.h). One function builds the X.509 in memory with the EVP and
 * X509 APIs; the storage function writes both PEMs through temporary files
 * (open O_EXCL, mode 0600, fsync, rename) so a reader never sees a partial
 * or world-readable key.
 */
#include "tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

/* The latest OpenSSL error as text (and the queue cleared). */
static const char *ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (e == 0)
        snprintf(buf, cap, "unknown OpenSSL error");
    else
        ERR_error_string_n(e, buf, cap);
    ERR_clear_error();
    return buf;
}

/* Copies a memory BIO's contents into a NUL-terminated heap string. */
static char *bio_text(BIO *b)
{
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    if (n < 0)
        return NULL;
    char *s = malloc((size_t)n + 1);
    if (!s)
        return NULL;
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    return s;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ex = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    if (!ex)
        return 0;
    int ok = X509_add_ext(x, ex, -1);
    X509_EXTENSION_free(ex);
    return ok;
}

int clb_tls_selfsigned_pem(char **cert_pem, char **key_pem, char *err, size_t errlen)
{
    char why[256];
    int rc = CLB_EIO;
    EVP_PKEY *pkey = NULL;
    X509 *x = NULL;
    BIGNUM *serial = NULL;
    BIO *cb = NULL, *kb = NULL;
    *cert_pem = *key_pem = NULL;

    pkey = EVP_EC_gen("P-256");
    if (!pkey) {
        rc = clb_errf(err, errlen, CLB_EIO, "key generation: %s", ssl_reason(why, sizeof(why)));
        goto out;
    }
    x = X509_new();
    serial = BN_new();
    if (!x || !serial) {
        rc = clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
        goto out;
    }
    X509_NAME *name = X509_get_subject_name(x);
    X509V3_CTX ctx;
    if (!X509_set_version(x, X509_VERSION_3) || !BN_rand(serial, 128, BN_RAND_TOP_ANY,
                                                         BN_RAND_BOTTOM_ANY) ||
        !BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), (long)CLB_TLS_VALID_DAYS * 86400) ||
        !X509_set_pubkey(x, pkey) ||
        !X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"colibri",
                                    -1, -1, 0) ||
        !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                    (const unsigned char *)"localhost", -1, -1, 0) ||
        !X509_set_issuer_name(x, name)) {
        rc = clb_errf(err, errlen, CLB_EIO, "certificate fields: %s", ssl_reason(why, sizeof(why)));
        goto out;
    }
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    if (!add_ext(x, &ctx, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") ||
        !add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") ||
        !add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") ||
        !add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") ||
        !add_ext(x, &ctx, NID_subject_key_identifier, "hash")) {
        rc = clb_errf(err, errlen, CLB_EIO, "certificate extensions: %s",
                  ssl_reason(why, sizeof(why)));
        goto out;
    }
    if (!X509_sign(x, pkey, EVP_sha256())) {
        rc = clb_errf(err, errlen, CLB_EIO, "signing: %s", ssl_reason(why, sizeof(why)));
        goto out;
    }
    cb = BIO_new(BIO_s_mem());
    kb = BIO_new(BIO_s_mem());
    if (!cb || !kb || !PEM_write_bio_X509(cb, x) ||
        !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL)) {
        rc = clb_errf(err, errlen, CLB_EIO, "PEM encoding: %s", ssl_reason(why, sizeof(why)));
        goto out;
    }
    *cert_pem = bio_text(cb);
    *key_pem = bio_text(kb);
    if (!*cert_pem || !*key_pem) {
        free(*cert_pem);
        if (*key_pem)
            OPENSSL_cleanse(*key_pem, strlen(*key_pem));
        free(*key_pem);
        *cert_pem = *key_pem = NULL;
        rc = clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
        goto out;
    }
    rc = CLB_OK;
out:
    BIO_free(cb);
    BIO_free(kb);
    BN_free(serial);
    X509_free(x);
    EVP_PKEY_free(pkey);
    return rc;
}

/* Writes text to path through path.tmp (0600, exclusive, synced, renamed). */
static int write_private(const char *path, const char *text, char *err, size_t errlen)
{
    char tmp[4200];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return clb_errf(err, errlen, CLB_ERANGE, "%s: path too long", path);
    unlink(tmp); /* a leftover of an interrupted run */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return clb_errf(err, errlen, CLB_EIO, "%s: %s", tmp, strerror(errno));
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            return clb_errf(err, errlen, CLB_EIO, "%s: %s", tmp, strerror(e));
        }
        off += (size_t)w;
    }
    if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return clb_errf(err, errlen, CLB_EIO, "%s: %s", tmp, strerror(e));
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return clb_errf(err, errlen, CLB_EIO, "%s: %s", path, strerror(e));
    }
    return CLB_OK;
}

int clb_tls_ensure_selfsigned(const char *data_dir, char *cert_path, char *key_path, size_t cap,
                              bool *created, char *err, size_t errlen)
{
    char dir[4096];
    *created = false;
    if (!data_dir || !*data_dir)
        return clb_errf(err, errlen, CLB_EINVAL, "no data directory");
    if (snprintf(dir, sizeof(dir), "%s/tls", data_dir) >= (int)sizeof(dir) ||
        snprintf(cert_path, cap, "%s/cert.pem", dir) >= (int)cap ||
        snprintf(key_path, cap, "%s/key.pem", dir) >= (int)cap)
        return clb_errf(err, errlen, CLB_ERANGE, "%s: path too long", data_dir);
    if (access(cert_path, F_OK) == 0 && access(key_path, F_OK) == 0)
        return CLB_OK;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return clb_errf(err, errlen, CLB_EIO, "%s: %s", dir, strerror(errno));
    char *cert = NULL, *key = NULL;
    int rc = clb_tls_selfsigned_pem(&cert, &key, err, errlen);
    if (rc != CLB_OK)
        return rc;
    /* key first: a cert without its key is useless, the reverse is harmless */
    rc = write_private(key_path, key, err, errlen);
    if (rc == CLB_OK)
        rc = write_private(cert_path, cert, err, errlen);
    OPENSSL_cleanse(key, strlen(key));
    free(key);
    free(cert);
    if (rc == CLB_OK)
        *created = true;
    return rc;
}

int clb_tls_fingerprint(const char *cert_path, char *out, size_t cap, char *err, size_t errlen)
{
    FILE *f = fopen(cert_path, "rb");
    if (!f)
        return clb_errf(err, errlen, CLB_EIO, "%s: %s", cert_path, strerror(errno));
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) {
        char why[256];
        return clb_errf(err, errlen, CLB_EIO, "%s: not a PEM certificate (%s)", cert_path,
                    ssl_reason(why, sizeof(why)));
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = X509_digest(x, EVP_sha256(), md, &n);
    X509_free(x);
    if (!ok)
        return clb_errf(err, errlen, CLB_EIO, "%s: digest failed", cert_path);
    if (cap < (size_t)n * 3)
        return clb_errf(err, errlen, CLB_ERANGE, "fingerprint buffer too small");
    for (unsigned int i = 0; i < n; i++)
        snprintf(out + i * 3, cap - i * 3, "%02X%s", md[i], i + 1 < n ? ":" : "");
    return CLB_OK;
}
