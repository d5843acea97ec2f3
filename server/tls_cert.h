/*
 * tls_cert.h — the self-signed certificate `colibri serve` makes on its first
 * start when no certificate is configured, so HTTPS and WSS work out of the
 * box on localhost.
 *
 * The certificate: EC P-256 key, SHA-256 signature, subject and issuer
 * CN=localhost (O=colibri), SAN DNS:localhost, IP:127.0.0.1, IP:::1,
 * basicConstraints CA:FALSE, keyUsage digitalSignature, extendedKeyUsage
 * serverAuth, a random 128-bit serial, valid from one hour ago for 825 days
 * (the longest validity clients accept for a server certificate). Clients
 * trust it with e.g. `curl --cacert DATA_DIR/tls/cert.pem`.
 *
 * Files: DATA_DIR/tls/cert.pem and DATA_DIR/tls/key.pem, both mode 0600 in a
 * 0700 directory, written to temporary names and renamed into place (a
 * crash never leaves a half-written pair). Everything here is OpenSSL 3 EVP
 * APIs and is thread-safe (no shared state).
 */
#ifndef CLB_TLS_CERT_H
#define CLB_TLS_CERT_H

#include <stdbool.h>
#include <stddef.h>

#define CLB_TLS_VALID_DAYS 825

/* Generates a new key and self-signed certificate as PEM text (see above).
 * On success *cert_pem and *key_pem are NUL-terminated heap strings the
 * caller frees with free(). CLB_OK, or CLB_EIO / CLB_ENOMEM with the
 * OpenSSL reason in err (nothing allocated). */
int clb_tls_selfsigned_pem(char **cert_pem, char **key_pem, char *err, size_t errlen);

/* Makes sure DATA_DIR/tls/{cert,key}.pem exist: when either is missing a
 * new pair is generated and written (0600), and *created is set. The paths
 * are written to cert_path / key_path (cap bytes each). An existing pair is
 * reused as is (not parsed). CLB_OK, CLB_ERANGE (path too long), CLB_EIO
 * (directory or file not writable, with the path and errno text in err),
 * CLB_ENOMEM. */
int clb_tls_ensure_selfsigned(const char *data_dir, char *cert_path, char *key_path, size_t cap,
                              bool *created, char *err, size_t errlen);

/* SHA-256 fingerprint of the first certificate in a PEM file, as
 * "AB:CD:...". out needs 96 bytes. CLB_OK, CLB_EIO (unreadable / not a
 * certificate), CLB_ERANGE (out too small). */
int clb_tls_fingerprint(const char *cert_path, char *out, size_t cap, char *err, size_t errlen);

#endif
