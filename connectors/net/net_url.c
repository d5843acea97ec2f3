/*
 * net_url.c — see net_url.h. A small, strict parser: it accepts what
 * exchange and simulator URLs look like and rejects everything ambiguous
 * (userinfo, fragments, spaces, bad ports) instead of guessing.
 */
#include "net_url.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "error.h"

static const struct {
    const char *prefix;
    enum clb_net_scheme scheme;
    bool tls;
    int port;
} schemes[] = {
    { "https://", CLB_NET_HTTPS, true, 443 },
    { "http://", CLB_NET_HTTP, false, 80 },
    { "wss://", CLB_NET_WSS, true, 443 },
    { "ws://", CLB_NET_WS, false, 80 },
};

bool clb_net_host_is_loopback(const char *host)
{
    if (!host)
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return memcmp(&a6, &in6addr_loopback, sizeof(a6)) == 0;
    return false;
}

static bool host_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_';
}

int clb_net_url_parse(const char *url, struct clb_net_url *out, char *err, size_t errlen)
{
    if (!url || !out)
        return clb_errf(err, errlen, CLB_EINVAL, "URL missing");
    size_t len = strlen(url);
    if (len == 0)
        return clb_errf(err, errlen, CLB_EINVAL, "URL is empty");
    if (len > CLB_NET_URL_MAX)
        return clb_errf(err, errlen, CLB_EINVAL, "URL longer than %d characters", CLB_NET_URL_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return clb_errf(err, errlen, CLB_EINVAL,
                            "URL contains a space or control/non-ASCII character at offset %zu",
                            i);
    }
    struct clb_net_url u;
    memset(&u, 0, sizeof(u));
    const char *p = NULL;
    for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++) {
        size_t n = strlen(schemes[i].prefix);
        if (strncasecmp(url, schemes[i].prefix, n) == 0) {
            u.scheme = schemes[i].scheme;
            u.tls = schemes[i].tls;
            u.port = schemes[i].port;
            p = url + n;
            break;
        }
    }
    if (!p)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "URL '%.64s' must start with https://, wss://, http:// or ws://", url);
    /* authority ends at the first '/', '?' or end */
    const char *auth_end = p + strcspn(p, "/?#");
    if (*auth_end == '#' || strchr(p, '#'))
        return clb_errf(err, errlen, CLB_EINVAL, "URL must not contain a fragment ('#')");
    if (memchr(p, '@', (size_t)(auth_end - p)))
        return clb_errf(err, errlen, CLB_EINVAL,
                        "URL must not carry credentials (user@host); use the API key settings");
    const char *h = p, *h_end, *port_s = NULL;
    if (*h == '[') {
        const char *close = memchr(h, ']', (size_t)(auth_end - h));
        if (!close)
            return clb_errf(err, errlen, CLB_EINVAL, "URL has an unterminated IPv6 literal");
        size_t n = (size_t)(close - h - 1);
        if (n == 0 || n >= sizeof(u.host))
            return clb_errf(err, errlen, CLB_EINVAL, "URL has a bad IPv6 literal");
        memcpy(u.host, h + 1, n);
        u.host[n] = '\0';
        struct in6_addr a6;
        if (inet_pton(AF_INET6, u.host, &a6) != 1)
            return clb_errf(err, errlen, CLB_EINVAL, "URL host '[%s]' is not an IPv6 address",
                            u.host);
        h_end = close + 1;
        if (h_end < auth_end) {
            if (*h_end != ':')
                return clb_errf(err, errlen, CLB_EINVAL, "URL has junk after the IPv6 literal");
            port_s = h_end + 1;
        }
    } else {
        const char *colon = memchr(h, ':', (size_t)(auth_end - h));
        h_end = colon ? colon : auth_end;
        size_t n = (size_t)(h_end - h);
        if (n == 0)
            return clb_errf(err, errlen, CLB_EINVAL, "URL has no host");
        if (n >= sizeof(u.host))
            return clb_errf(err, errlen, CLB_EINVAL, "URL host is too long");
        for (size_t i = 0; i < n; i++)
            if (!host_char_ok(h[i]))
                return clb_errf(err, errlen, CLB_EINVAL, "URL host contains '%c'", h[i]);
        memcpy(u.host, h, n);
        u.host[n] = '\0';
        if (colon)
            port_s = colon + 1;
    }
    if (port_s) {
        if (port_s == auth_end)
            return clb_errf(err, errlen, CLB_EINVAL, "URL has an empty port");
        int32_t port = 0;
        for (const char *q = port_s; q < auth_end; q++) {
            if (*q < '0' || *q > '9')
                return clb_errf(err, errlen, CLB_EINVAL, "URL port is not a number");
            port = port * 10 + (*q - '0');
            if (port > 65535)
                return clb_errf(err, errlen, CLB_EINVAL, "URL port is above 65535");
        }
        if (port == 0)
            return clb_errf(err, errlen, CLB_EINVAL, "URL port 0 is not allowed");
        u.port = port;
    }
    u.path = auth_end;
    u.loopback = clb_net_host_is_loopback(u.host);
    *out = u;
    return CLB_OK;
}

int clb_net_url_check(const char *url, char *err, size_t errlen)
{
    struct clb_net_url u;
    int rc = clb_net_url_parse(url, &u, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (!u.tls && !u.loopback)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "plain %s:// is only allowed to a loopback host (127.0.0.0/8, ::1, "
                        "localhost), not '%s': use %s://",
                        u.scheme == CLB_NET_HTTP ? "http" : "ws", u.host,
                        u.scheme == CLB_NET_HTTP ? "https" : "wss");
    return CLB_OK;
}
