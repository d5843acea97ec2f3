/*
 * http_client.c — see http_client.h. One easy handle per request, attached
 * to the loop's multi handle (whose connection cache gives keep-alive). The
 * response body grows in a buffer capped at max_body (the write callback
 * refuses more, which ends the transfer with CLB_EFULL); response headers
 * are kept as "name\0value\0" pairs in a fixed buffer (oversized headers
 * are dropped, never the response). In-flight requests form a doubly linked
 * list hanging off the loop, so cancel and destroy find them. A new
 * request is started at once (curl_multi_socket_action on the timeout),
 * so it is written within clb_http_request on a kept-alive connection.
 */
#include "http_client.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "net_internal.h"
#include "net_url.h"

#define HDR_BUF 8192
#define DEFAULT_TIMEOUT_MS 10000

struct hreq {
    struct hreq *prev, *next;
    struct clb_netloop *loop;
    uint64_t id;
    CURL *easy;
    struct curl_slist *hdrs;
    clb_http_done_fn fn;
    void *ud;
    int64_t start_ns;
    char *body;
    size_t body_len, body_cap, max_body;
    bool body_overflow;
    char hdr[HDR_BUF];
    size_t hdr_len;
    char errbuf[CURL_ERROR_SIZE];
};

struct clb_http_state_ {
    struct hreq *head;
    uint32_t n;
    uint64_t next_id;
};

static struct clb_http_state_ *state(struct clb_netloop *l)
{
    struct clb_http_state_ **sp = clb_netloop_http_state_(l);
    if (!*sp) {
        *sp = calloc(1, sizeof(**sp));
        if (*sp)
            (*sp)->next_id = 1;
    }
    return *sp;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *ud)
{
    struct hreq *r = ud;
    size_t len = size * nmemb;
    if (r->body_len + len > r->max_body) {
        r->body_overflow = true;
        return 0;
    }
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + len + 1)
            cap *= 2;
        if (cap > r->max_body + 1)
            cap = r->max_body + 1;
        char *p = realloc(r->body, cap);
        if (!p)
            return 0;
        r->body = p;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    r->body[r->body_len] = '\0';
    return len;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
    struct hreq *r = ud;
    size_t len = size * nmemb;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        r->hdr_len = 0; /* a new response (after 100-continue): start over */
        return len;
    }
    const char *colon = memchr(data, ':', len);
    if (!colon)
        return len;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (nlen == 0 || r->hdr_len + nlen + vlen + 2 > sizeof(r->hdr))
        return len;
    memcpy(r->hdr + r->hdr_len, data, nlen);
    r->hdr_len += nlen;
    r->hdr[r->hdr_len++] = '\0';
    memcpy(r->hdr + r->hdr_len, v, vlen);
    r->hdr_len += vlen;
    r->hdr[r->hdr_len++] = '\0';
    return len;
}

static void unlink_req(struct clb_http_state_ *s, struct hreq *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    s->n--;
}

static void free_req(struct hreq *r)
{
    if (r->easy)
        curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    free(r->body);
    free(r);
}

static bool method_ok(const char *m)
{
    return strcmp(m, "GET") == 0 || strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0 ||
           strcmp(m, "DELETE") == 0;
}

int clb_http_request(struct clb_netloop *l, const struct clb_http_req *req, clb_http_done_fn fn,
                     void *ud, uint64_t *id_out)
{
    if (!l || !req || !fn || !req->url)
        return CLB_EINVAL;
    const char *method = req->method ? req->method : "GET";
    if (!method_ok(method) || (req->body_len && !req->body))
        return CLB_EINVAL;
    if (clb_net_url_check(req->url, NULL, 0) != CLB_OK)
        return CLB_EINVAL;
    struct clb_http_state_ *s = state(l);
    if (!s)
        return CLB_ENOMEM;
    if (s->n >= clb_netloop_cfg_(l)->max_requests)
        return CLB_EFULL;
    for (size_t i = 0; i < req->n_headers; i++)
        if (!req->headers[i] || !strchr(req->headers[i], ':'))
            return CLB_EINVAL;
    struct hreq *r = calloc(1, sizeof(*r));
    if (!r)
        return CLB_ENOMEM;
    int rc = CLB_ENOMEM;
    r->loop = l;
    r->fn = fn;
    r->ud = ud;
    r->max_body = req->max_body ? req->max_body : clb_netloop_cfg_(l)->max_http_body;
    r->easy = curl_easy_init();
    if (!r->easy)
        goto fail;
    for (size_t i = 0; i < req->n_headers; i++) {
        struct curl_slist *n = curl_slist_append(r->hdrs, req->headers[i]);
        if (!n)
            goto fail;
        r->hdrs = n;
    }
    /* no "Expect: 100-continue" round trip on POST bodies */
    struct curl_slist *n = curl_slist_append(r->hdrs, "Expect:");
    if (!n)
        goto fail;
    r->hdrs = n;
    CURL *e = r->easy;
    int64_t to = req->timeout_ms > 0 ? req->timeout_ms : DEFAULT_TIMEOUT_MS;
    bool ok = curl_easy_setopt(e, CURLOPT_URL, req->url) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)to) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) == CURLE_OK;
    const char *ca = clb_netloop_ca_file_(l);
    if (ca)
        ok = ok && curl_easy_setopt(e, CURLOPT_CAINFO, ca) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_WRITEDATA, r) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_HEADERDATA, r) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_PRIVATE, r) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)r->max_body) ==
                   CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L) == CURLE_OK;
    ok = ok && curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L) == CURLE_OK;
    if (strcmp(method, "POST") == 0 || req->body_len) {
        ok = ok && curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                                    (curl_off_t)req->body_len) == CURLE_OK;
        ok = ok && curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "") ==
                       CURLE_OK;
    }
    if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
        ok = ok && curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method) == CURLE_OK;
    if (!ok) {
        rc = CLB_EIO;
        goto fail;
    }
    r->id = s->next_id++;
    r->start_ns = clb_netloop_mono_ns();
    if (curl_multi_add_handle(clb_netloop_curlm_(l), e) != CURLM_OK) {
        rc = CLB_EIO;
        goto fail;
    }
    r->next = s->head;
    if (s->head)
        s->head->prev = r;
    s->head = r;
    s->n++;
    if (id_out)
        *id_out = r->id;
    /* Kick curl now rather than at the loop's next curl turn: on a reused
     * connection the request is written inside this call (from inside a
     * WebSocket callback the loop would first finish every pending frame).
     * Transfers this completes are reported by the loop as usual. */
    int running;
    curl_multi_socket_action(clb_netloop_curlm_(l), CURL_SOCKET_TIMEOUT, 0, &running);
    return CLB_OK;
fail:
    free_req(r);
    return rc;
}

static int map_result(const struct hreq *r, CURLcode res)
{
    if (res == CURLE_OK)
        return CLB_OK;
    if (res == CURLE_OPERATION_TIMEDOUT)
        return CLB_ETIMEDOUT;
    if (r->body_overflow || res == CURLE_FILESIZE_EXCEEDED)
        return CLB_EFULL;
    return CLB_EIO;
}

void clb_http_done_(struct clb_netloop *l, CURL *easy, CURLcode result)
{
    char *priv = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv)
        return;
    struct hreq *r = (struct hreq *)(void *)priv;
    struct clb_http_state_ *s = state(l);
    curl_multi_remove_handle(clb_netloop_curlm_(l), easy);
    unlink_req(s, r);
    struct clb_http_resp resp;
    memset(&resp, 0, sizeof(resp));
    resp.id = r->id;
    resp.rc = map_result(r, result);
    long status = 0;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    resp.status = (int)status;
    if (resp.rc == CLB_OK && status == 0)
        resp.rc = CLB_EIO;
    resp.body = r->body ? r->body : "";
    resp.body_len = r->body_len;
    resp.error = resp.rc == CLB_OK ? ""
                 : r->errbuf[0] ? r->errbuf
                                : curl_easy_strerror(result);
    if (resp.rc == CLB_EFULL)
        resp.error = "response body larger than max_body";
    resp.start_mono_ns = r->start_ns;
    curl_off_t pre = 0;
    if (curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK && pre > 0)
        resp.sent_mono_ns = r->start_ns + (int64_t)pre * 1000;
    resp.done_mono_ns = clb_netloop_mono_ns();
    long nc = 0;
    curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &nc);
    resp.num_connects = nc;
    resp.priv_ = r;
    r->fn(r->ud, &resp);
    free_req(r);
}

int clb_http_cancel(struct clb_netloop *l, uint64_t id)
{
    if (!l)
        return CLB_ENOTFOUND;
    struct clb_http_state_ *s = *clb_netloop_http_state_(l);
    if (!s)
        return CLB_ENOTFOUND;
    for (struct hreq *r = s->head; r; r = r->next)
        if (r->id == id) {
            curl_multi_remove_handle(clb_netloop_curlm_(l), r->easy);
            unlink_req(s, r);
            free_req(r);
            return CLB_OK;
        }
    return CLB_ENOTFOUND;
}

void clb_http_cancel_all_(struct clb_netloop *l)
{
    struct clb_http_state_ **sp = clb_netloop_http_state_(l);
    struct clb_http_state_ *s = *sp;
    if (!s)
        return;
    while (s->head) {
        struct hreq *r = s->head;
        curl_multi_remove_handle(clb_netloop_curlm_(l), r->easy);
        unlink_req(s, r);
        free_req(r);
    }
    free(s);
    *sp = NULL;
}

uint32_t clb_http_in_flight(struct clb_netloop *l)
{
    struct clb_http_state_ *s = l ? *clb_netloop_http_state_(l) : NULL;
    return s ? s->n : 0;
}

const char *clb_http_resp_header(const struct clb_http_resp *r, const char *name)
{
    if (!r || !name || !r->priv_)
        return NULL;
    const struct hreq *q = r->priv_;
    const char *found = NULL;
    size_t i = 0;
    while (i < q->hdr_len) {
        const char *n = q->hdr + i;
        size_t nl = strlen(n);
        const char *v = n + nl + 1;
        size_t vl = strlen(v);
        if (strcasecmp(n, name) == 0)
            found = v;
        i += nl + 1 + vl + 1;
    }
    return found;
}
