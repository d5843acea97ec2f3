/*
 * simex_tls.c — a throw-away self-signed certificate for `--tls` without
 * certificate files: an EC P-256 key and an X.509 v3 certificate for
 * CN=localhost with subjectAltName DNS:localhost, IP:127.0.0.1, valid for
 * 30 days, written as PEM into a directory the caller created (the key
 * file 0600). Clients trust it with curl --cacert FILE (or -k).
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "error.h"
#include "simex_internal.h"

static int add_ext(X509 *cert, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

int sx_tls_generate(const char *dir, char *cert_path, size_t cert_cap, char *key_path,
                    size_t key_cap)
{
    int rc = CLB_EIO;
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    FILE *f = NULL;
    if ((size_t)snprintf(cert_path, cert_cap, "%s/cert.pem", dir) >= cert_cap ||
        (size_t)snprintf(key_path, key_cap, "%s/key.pem", dir) >= key_cap)
        return CLB_EINVAL;
    key = EVP_EC_gen("P-256");
    cert = X509_new();
    if (!key || !cert)
        goto done;
    X509_set_version(cert, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert), 30L * 24 * 3600);
    X509_set_pubkey(cert, key);
    X509_NAME *name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"colibri-simex",
                               -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                               -1, 0);
    X509_set_issuer_name(cert, name);
    if (add_ext(cert, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1") ||
        add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") ||
        !X509_sign(cert, key, EVP_sha256()))
        goto done;
    int fd = open(key_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        if (fd >= 0)
            close(fd);
        goto done;
    }
    if (!PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL))
        goto done;
    fclose(f);
    f = fopen(cert_path, "w");
    if (!f || !PEM_write_X509(f, cert))
        goto done;
    rc = CLB_OK;
done:
    if (f)
        fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
    return rc;
}
