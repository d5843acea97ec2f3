/*
 * test_cert.h — a self-signed certificate for the tests that run the HTTPS
 * API on 127.0.0.1 (http_api, the amm connector): one P-256 key and an
 * X.509 v3 CA certificate for localhost / 127.0.0.1, valid from an hour ago
 * for a day, written as PEM files the server serves and the client trusts.
 * Header-only like harness.h; the test links OpenSSL::Crypto.
 */
#ifndef CLB_TEST_TLS_CERT_H
#define CLB_TEST_TLS_CERT_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Writes dir/cert.pem and dir/key.pem (mode 0600) and stores their paths in
 * cert (cert_cap bytes) and key (key_cap bytes). Asserts on failure. */
static inline void make_self_signed_cert(const char *dir, char *cert, size_t cert_cap, char *key,
                                         size_t key_cap)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    cr_assert_not_null(pkey);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, pkey);
    X509_NAME *nm = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, nm);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    const char *exts[][2] = { { "subjectAltName", "DNS:localhost,IP:127.0.0.1" },
                              { "basicConstraints", "critical,CA:TRUE" },
                              { "keyUsage", "digitalSignature,keyCertSign" } };
    for (size_t i = 0; i < 3; i++) {
        X509_EXTENSION *ext = X509V3_EXT_nconf(NULL, &ctx, exts[i][0], exts[i][1]);
        cr_assert_not_null(ext);
        X509_add_ext(x, ext, -1);
        X509_EXTENSION_free(ext);
    }
    cr_assert_gt(X509_sign(x, pkey, EVP_sha256()), 0);
    snprintf(cert, cert_cap, "%s/cert.pem", dir);
    snprintf(key, key_cap, "%s/key.pem", dir);
    FILE *f = fopen(cert, "w");
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key, "w");
    PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    chmod(key, 0600);
    X509_free(x);
    EVP_PKEY_free(pkey);
}

#endif
