/*
 * Tests of server/tls_cert.c: the generated PEMs parse with OpenSSL, the
 * key matches the certificate, the names and extensions are right, and the
 * files land in DATA_DIR/tls with mode 0600 and are reused afterwards.
 */
#include <criterion/criterion.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "tls_cert.h"

TestSuite(tls_cert);

static X509 *parse_cert(const char *pem)
{
    BIO *b = BIO_new_mem_buf(pem, -1);
    X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
    BIO_free(b);
    return x;
}

Test(tls_cert, pem_parses_with_the_right_names)
{
    char *cert = NULL, *key = NULL, err[256] = "";
    cr_assert_eq(clb_tls_selfsigned_pem(&cert, &key, err, sizeof(err)), CLB_OK, "%s", err);
    cr_assert(strstr(cert, "-----BEGIN CERTIFICATE-----") == cert);
    cr_assert(strstr(key, "-----BEGIN PRIVATE KEY-----") == key);
    X509 *x = parse_cert(cert);
    cr_assert_not_null(x);
    BIO *kb = BIO_new_mem_buf(key, -1);
    EVP_PKEY *pk = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL);
    BIO_free(kb);
    cr_assert_not_null(pk);
    cr_assert_eq(X509_check_private_key(x, pk), 1, "key does not match the certificate");
    cr_assert_eq(X509_verify(x, pk), 1, "not self-signed by its key");
    /* names */
    cr_assert_eq(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    cr_assert_eq(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    cr_assert_eq(X509_check_ip_asc(x, "::1", 0), 1);
    cr_assert_neq(X509_check_host(x, "example.com", 0, 0, NULL), 1);
    cr_assert_neq(X509_check_ip_asc(x, "10.0.0.1", 0), 1);
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
    cr_assert_str_eq(cn, "localhost");
    /* SAN entries exactly DNS:localhost, IP:127.0.0.1, IP:::1 */
    GENERAL_NAMES *san = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    cr_assert_not_null(san);
    cr_assert_eq(sk_GENERAL_NAME_num(san), 3);
    int dns = 0, ip = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(san); i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(san, i);
        dns += g->type == GEN_DNS;
        ip += g->type == GEN_IPADD;
    }
    GENERAL_NAMES_free(san);
    cr_assert_eq(dns, 1);
    cr_assert_eq(ip, 2);
    /* a server certificate, not a CA; validity in the future */
    cr_assert_eq(X509_check_ca(x), 0);
    cr_assert(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    cr_assert(X509_cmp_current_time(X509_get0_notBefore(x)) < 0);
    cr_assert(X509_cmp_current_time(X509_get0_notAfter(x)) > 0);
    cr_assert_eq(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
    EVP_PKEY_free(pk);
    X509_free(x);
    /* every call makes a new key and serial */
    char *cert2 = NULL, *key2 = NULL;
    cr_assert_eq(clb_tls_selfsigned_pem(&cert2, &key2, err, sizeof(err)), CLB_OK);
    cr_assert_str_neq(cert, cert2);
    cr_assert_str_neq(key, key2);
    free(cert);
    free(key);
    free(cert2);
    free(key2);
}

Test(tls_cert, files_are_private_and_reused)
{
    char dir[] = "/tmp/clb_tls_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char cert[512], key[512], err[256] = "";
    bool created = false;
    cr_assert_eq(clb_tls_ensure_selfsigned(dir, cert, key, sizeof(cert), &created, err,
                                           sizeof(err)), CLB_OK, "%s", err);
    cr_assert(created);
    char want[600];
    snprintf(want, sizeof(want), "%s/tls/cert.pem", dir);
    cr_assert_str_eq(cert, want);
    struct stat st;
    cr_assert_eq(stat(key, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(cert, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    snprintf(want, sizeof(want), "%s/tls", dir);
    cr_assert_eq(stat(want, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    char fp1[128], fp2[128];
    cr_assert_eq(clb_tls_fingerprint(cert, fp1, sizeof(fp1), err, sizeof(err)), CLB_OK, "%s", err);
    cr_assert_eq(strlen(fp1), 32 * 3 - 1);
    /* the PEM on disk parses */
    FILE *f = fopen(cert, "rb");
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    cr_assert_not_null(x);
    cr_assert_eq(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    X509_free(x);
    /* second start: reused, not regenerated */
    cr_assert_eq(clb_tls_ensure_selfsigned(dir, cert, key, sizeof(cert), &created, err,
                                           sizeof(err)), CLB_OK);
    cr_assert_not(created);
    cr_assert_eq(clb_tls_fingerprint(cert, fp2, sizeof(fp2), err, sizeof(err)), CLB_OK);
    cr_assert_str_eq(fp1, fp2);
    /* a missing key regenerates the pair */
    unlink(key);
    cr_assert_eq(clb_tls_ensure_selfsigned(dir, cert, key, sizeof(cert), &created, err,
                                           sizeof(err)), CLB_OK);
    cr_assert(created);
    cr_assert_eq(clb_tls_fingerprint(cert, fp2, sizeof(fp2), err, sizeof(err)), CLB_OK);
    cr_assert_str_neq(fp1, fp2);
    /* errors */
    cr_assert_eq(clb_tls_fingerprint(key, fp2, sizeof(fp2), err, sizeof(err)), CLB_EIO);
    cr_assert_eq(clb_tls_ensure_selfsigned("/proc/nope", cert, key, sizeof(cert), &created, err,
                                           sizeof(err)), CLB_EIO);
    cr_assert(strstr(err, "/proc/nope/tls") != NULL, "%s", err);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}
