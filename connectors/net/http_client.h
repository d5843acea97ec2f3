/*
 * http_client.h — asynchronous REST requests over the netloop's libcurl
 * multi handle.
 *
 * A request is started with clb_http_request() and finishes exactly once
 * with its callback, called from inside clb_netloop_poll() — unless it is
 * cancelled (clb_http_cancel) or the loop destroyed first, in which case
 * the callback never fires. Connections are kept alive and reused by the
 * multi handle's connection cache; TLS peers and host names are always
 * verified (the loop's ca_file, or the system CAs). Only URLs that pass
 * clb_net_url_check() are accepted. Responses are bounded (max_body).
 */
#ifndef CLB_HTTP_CLIENT_H
#define CLB_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "netloop.h"

struct clb_http_req {
    const char *method;          /* "GET" (NULL = GET), "POST", "PUT", "DELETE" */
    const char *url;             /* absolute, with the query string */
    const char *const *headers;  /* "Name: value" lines (copied) */
    size_t n_headers;
    const char *body;            /* request body (copied), may be NULL */
    size_t body_len;
    int timeout_ms;              /* whole request; 0 = 10000 */
    size_t max_body;             /* response bound; 0 = the loop's max_http_body */
};

struct clb_http_resp {
    uint64_t id;           /* as returned by clb_http_request */
    int rc;                /* CLB_OK (an HTTP answer arrived, any status),
                              CLB_ETIMEDOUT, CLB_EFULL (body above max_body),
                              CLB_EIO (connect/TLS/protocol failure) */
    int status;            /* HTTP status, 0 when no answer */
    const char *body;      /* NUL-terminated, body_len bytes; valid during the callback */
    size_t body_len;
    const char *error;     /* libcurl's message when rc != CLB_OK, else "" */
    int64_t start_mono_ns; /* clb_http_request() was called */
    int64_t sent_mono_ns;  /* the request was about to be written (start + curl's
                              pretransfer time); 0 when never sent */
    int64_t done_mono_ns;  /* the response was complete */
    long num_connects;     /* new connections this request made (0 = reused) */
    const void *priv_;     /* header storage, for clb_http_resp_header */
};

/* r is valid only during the callback; copy what you keep. */
typedef void (*clb_http_done_fn)(void *ud, const struct clb_http_resp *r);

/* Starts a request. Returns CLB_OK with a nonzero id in *id_out (may be
 * NULL), or CLB_EINVAL (bad method, URL refused by clb_net_url_check,
 * header line without ':'), CLB_EFULL (max_requests in flight),
 * CLB_ENOMEM, CLB_EIO. On error fn never fires. Loop thread only;
 * may be called from inside any callback of the loop. */
int clb_http_request(struct clb_netloop *l, const struct clb_http_req *req, clb_http_done_fn fn,
                     void *ud, uint64_t *id_out);

/* Aborts a request in flight: its callback will not fire. CLB_OK, or
 * CLB_ENOTFOUND (finished, cancelled, unknown). Loop thread only. */
int clb_http_cancel(struct clb_netloop *l, uint64_t id);

/* Value of the response header `name` (case-insensitive, without ':'),
 * whitespace-trimmed, or NULL. The last one wins when repeated. Valid
 * during the callback. */
const char *clb_http_resp_header(const struct clb_http_resp *r, const char *name);

/* Requests in flight. */
uint32_t clb_http_in_flight(struct clb_netloop *l);

#endif
