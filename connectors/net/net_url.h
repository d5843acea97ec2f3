/*
 * net_url.h — URL parsing and the transport's URL policy.
 *
 * Every URL the transport opens goes through clb_net_url_check(): https://
 * and wss:// may go anywhere; plain http:// and ws:// only to a loopback
 * host (127.0.0.0/8, ::1, localhost), so that a typo in a config file can
 * never send API keys or orders over an unencrypted link across a network.
 * The parser is a pure function from a string to a struct: no DNS, no I/O.
 */
#ifndef CLB_NET_URL_H
#define CLB_NET_URL_H

#include <stdbool.h>
#include <stddef.h>

#define CLB_NET_URL_MAX 2048   /* whole URL, NUL excluded */
#define CLB_NET_HOST_MAX 256   /* host name or address literal, NUL included */

enum clb_net_scheme {
    CLB_NET_HTTP = 0,
    CLB_NET_HTTPS,
    CLB_NET_WS,
    CLB_NET_WSS,
};

struct clb_net_url {
    enum clb_net_scheme scheme;
    bool tls;                     /* https or wss */
    char host[CLB_NET_HOST_MAX];  /* without the [] of an IPv6 literal */
    int port;                     /* explicit, or the scheme's default */
    const char *path;             /* points into the parsed string: "/..." with the
                                     query, or "" when the URL had no path */
    bool loopback;                /* host is 127.0.0.0/8, ::1 or localhost */
};

/* Parses an absolute http/https/ws/wss URL. No userinfo ("user@"), no
 * fragment, no whitespace or control characters, port 1..65535.
 * Returns CLB_OK, or CLB_EINVAL with a reason in err (when err != NULL).
 * out->path points into url: keep url alive while using it. Thread-safe. */
int clb_net_url_parse(const char *url, struct clb_net_url *out, char *err, size_t errlen);

/* True when host (no brackets) is a loopback name or address. */
bool clb_net_host_is_loopback(const char *host);

/* The transport's policy: CLB_OK for a well-formed https:// or wss:// URL,
 * or an http:// or ws:// URL whose host is loopback. CLB_EINVAL otherwise,
 * with a message naming the problem in err. Thread-safe, no I/O. */
int clb_net_url_check(const char *url, char *err, size_t errlen);

#endif
