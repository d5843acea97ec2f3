/*
 * ws_stream.c — the WebSocket status stream (see ws_stream.h for the
 * protocol).
 *
 * Design. Everything below runs on one service thread, except
 * clb_ws_start/clb_ws_stop (controlling thread), the optional forwarding
 * thread (CLB_WS_WAKE_THREAD) and the two atomic gauges.
 *
 *  - The feed is read with one server-wide cursor. Each event is serialised
 *    once into a reference-counted "blob" holding the message without its
 *    seq: `{"type":T,"topic":X,"seq":` + `,"ts":N,"data":D}`. Connections
 *    queue references; the per-connection seq is spliced in at write time,
 *    so seq is 1, 2, 3... on every connection whatever was coalesced or
 *    dropped (drops are announced with a gap message instead).
 *  - A connection's queue is a fixed ring of queue_max entries and at most
 *    WS_QUEUE_BYTES_MAX referenced bytes. The status topic and each book
 *    topic have a coalescing slot: a newer message replaces the waiting one
 *    and keeps its place in the queue.
 *  - Overflow: the queue is emptied, the client gets {"type":"gap"} before
 *    anything else; if it overflows again before that gap could even be
 *    written, the client is not reading at all and is closed with 4008.
 *    Memory per client is thus bounded by the ring, the byte cap, the
 *    kernel's socket buffers and lws's one partially sent message.
 *  - Writes: during a fan-out from the feed or a timer (outside any lws
 *    callback) a connection whose socket can take more is written at once
 *    (conn_want_write); otherwise, and for replies inside a connection's
 *    own callbacks, in LWS_CALLBACK_SERVER_WRITEABLE. Either way up to
 *    WS_WRITE_BURST messages while the socket is not choked, so lws never
 *    holds more than one partly sent message.
 *  - Closing a connection from outside its callback: mark it, ask for a
 *    writeable callback (which sends the close frame with the code), and arm
 *    a kill timeout in case the peer never lets us write again.
 *
 * Event loop: lws runs on a libuv (epoll) loop owned by this server and run
 * by the service thread (LWS_SERVER_OPTION_LIBUV with a foreign loop). The
 * feed's eventfd is a uv_poll_t, clb_ws_stop and the forwarding thread
 * wake the loop with a uv_async_t, timers are lws_sul (lws keeps them on a
 * uv timer). A wake-up costs the sockets that are ready, not a poll() over
 * all of them: the engine puts ~7 events on the feed per trade that nobody
 * here subscribes to, and each used to cost a walk over 1000 sockets.
 * Shutdown: srv_loop_close (lws's two-step destroy, then the loop).
 *
 * Wake-up, measured with bench/ws_fanout.c (one client, 200 trades, time
 * from the event entering the feed to the client's receive callback, TLS,
 * loaded 2-core box, poll() loop): CLB_WS_WAKE_FD p50 190 us / p99 1.4 ms,
 * CLB_WS_WAKE_THREAD p50 190 us / p99 0.5 ms (one more thread hop, no
 * measurable cost at this scale), CLB_WS_WAKE_TIMER (20 ms) p50 12 ms /
 * p99 20 ms. FD is the default: no extra thread, one wake per batch.
 *
 * Fan-out notes (1000 TLS clients in a child process, bench/ws_fanout.c,
 * 2-vCPU box shared with the clients):
 *  - Feed events for topics nobody subscribes to skip the walk over every
 *    connection (n_subs / n_book_subs counts).
 *  - epoll alone was no gain: asking for POLLOUT per client and message
 *    costs two epoll_ctl (on, off) and one more loop pass (the server
 *    process took ~20% more CPU than with poll()). Writing at once when
 *    the socket is not choked removes that round-trip: the server process
 *    now takes ~14% less CPU over the bench than on the poll() loop, and
 *    the fan-out no longer waits for the next loop pass.
 *  - lws_callback_on_writable_all_protocol would wake non-subscribers too;
 *    conn_enqueue asks per subscribed connection instead.
 *  What is left is lws_write itself: one TLS record and one loopback
 *  write per client and message, ~25 us of wall time each here (plus ~2
 *  us for lws_send_pipe_choked's poll()). The kernel's TCP path, which on
 *  loopback also runs the receiver's side and wakes the client process, is
 *  ~45% of the thread's samples, OpenSSL ~35% (handshakes included). So
 *  1000 clients take 15-25 ms of one core per message whatever the loop.
 */
#include "ws_stream.h"

#include <errno.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "engine.h"
#include "error.h"

#include "auth.h"

#define WS_PROTOCOL_NAME "colibri-stream"
#define WS_PATH "/ws"
#define WS_RX_MAX 4096                    /* largest client message */
#define WS_MAX_BOOKS 16                   /* book topics per connection */
#define WS_TOPIC_MAX 96                   /* bytes of a topic, with NUL */
#define WS_MSG_MAX ((size_t)1 << 20)      /* largest server message */
#define WS_QUEUE_BYTES_MAX ((size_t)4 << 20)
#define WS_WRITE_BURST 64
#define WS_AUTH_TIMEOUT_US (10 * LWS_USEC_PER_SEC)
#define WS_FEED_BATCH 256
#define WS_FEED_ROUNDS 16                 /* batches per wake before yielding */
#define WS_SHUTDOWN_GRACE_US (500 * 1000)
#define WS_CLOSE_KILL_S 3
#define WS_ORIGIN_MAX 256
#define WS_TOKEN_MAX 512

#define WS_CLOSE_AUTH 4001
#define WS_CLOSE_SLOW 4008

enum {
    TOPIC_STATUS = 1u << 0,
    TOPIC_ORDERS = 1u << 1,
    TOPIC_TRADES = 1u << 2,
    TOPIC_LOGS = 1u << 3,
};

#define SLOT_STATUS 0
#define SLOT_COUNT (1 + WS_MAX_BOOKS)
#define NO_SLOT (-1)

/* One serialised message minus its seq, shared by every queue holding it. */
struct ws_blob {
    unsigned refs;
    size_t head_len; /* bytes up to and including `"seq":` */
    size_t len;      /* head + tail */
    char bytes[];
};

struct ws_entry {
    struct ws_blob *blob; /* NULL when slot >= 0: the slot holds it */
    int slot;
};

struct ws_conn {
    struct clb_ws *srv;
    struct lws *wsi;
    struct ws_conn *prev, *next; /* established connections */
    bool established, authed, closing, hdr_seen;
    int hdr_auth;                /* 0 none, 1 valid, -1 invalid bearer header */
    int role;
    unsigned topics;
    size_t n_books;
    char books[WS_MAX_BOOKS][WS_TOPIC_MAX];
    struct ws_blob *slot[SLOT_COUNT];
    struct ws_entry *q;          /* ring of q_cap */
    size_t q_head, q_len, q_bytes;
    uint64_t seq;                /* last seq written */
    uint64_t dropped;            /* since the last gap message */
    bool gap_pending;
    bool gap_overflow;           /* the pending gap is from a queue overflow */
    const char *gap_reason;
    int close_code;
    char close_msg[64];
    size_t rx_len;
    char rx[WS_RX_MAX];
};

struct clb_ws {
    struct clb_engine *engine;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    SSL_CTX *client_ssl;         /* see clb_ws_start */
    pthread_t thread, fwd_thread;
    bool thread_started, fwd_started;
    int stop_pipe[2];            /* forwarding thread's stop signal */
    int feed_fd;                 /* the engine's, borrowed */
    int feed_dup;                /* CLB_WS_WAKE_FD: our dup of it, -1 = none */
    uv_loop_t loop;              /* the service thread's epoll loop */
    uv_poll_t feed_poll;         /* CLB_WS_WAKE_FD: feed_dup readable */
    uv_async_t async;            /* stop request, or CLB_WS_WAKE_THREAD's wake */
    bool loop_ok, feed_poll_ok, async_ok;
    atomic_int stop;
    atomic_int n_clients;
    atomic_size_t queued_bytes;
    int port;

    /* Service thread only. */
    bool stopping, done;
    lws_usec_t stop_deadline;
    lws_usec_t last_feed_status; /* when the feed last carried a status */
    uint64_t cursor;
    struct ws_conn *conns;
    size_t n_subs[4];            /* connections subscribed to each fixed topic */
    size_t n_book_subs;          /* book subscriptions over all connections */
    bool direct;                 /* in a fan-out outside lws callbacks: see conn_want_write */
    lws_sorted_usec_list_t sul_status, sul_heartbeat, sul_poll, sul_shutdown;
    unsigned char *tx;
    size_t tx_cap;

    /* Configuration (copied). */
    char *data_dir;
    char *store_url;
    char **origins;
    size_t n_origins;
    int heartbeat_ms, status_ms, poll_ms, sndbuf;
    size_t queue_max, max_clients;
    enum clb_ws_wake wake;
    struct clb_auth *auth;       /* token front over data_dir's store */
    struct lws_protocols protocols[2];
    lws_retry_bo_t retry;
};

static const char *const default_origins[] = {"https://127.0.0.1:*", "https://localhost:*"};

/* ---- small helpers ---------------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

static const char *role_name(int role)
{
    switch (role) {
    case 1:
        return "read";
    case 2:
        return "trade";
    case 3:
        return "admin";
    default:
        return "none";
    }
}

/* Appends s as a JSON string literal; returns bytes written or 0 when it
 * does not fit. */
static size_t json_quote(char *dst, size_t cap, const char *s)
{
    size_t n = 0;
    if (cap < 2)
        return 0;
    dst[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char esc[8];
        size_t el;
        if (*p == '"' || *p == '\\') {
            esc[0] = '\\';
            esc[1] = (char)*p;
            el = 2;
        } else if (*p < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", *p);
            el = 6;
        } else {
            esc[0] = (char)*p;
            el = 1;
        }
        if (n + el + 1 >= cap)
            return 0;
        memcpy(dst + n, esc, el);
        n += el;
    }
    dst[n++] = '"';
    return n;
}

/* ---- blobs ------------------------------------------------------------ */

/* Keeps w->n_subs in step with a connection whose fixed topics go from
 * `before` to `after` (0 when it closes). */
static void srv_count_topics(struct clb_ws *w, unsigned before, unsigned after)
{
    for (unsigned i = 0; i < 4; i++) {
        unsigned bit = 1u << i;
        if ((before & bit) && !(after & bit))
            w->n_subs[i]--;
        else if (!(before & bit) && (after & bit))
            w->n_subs[i]++;
    }
}

/* Builds a message; data is a compact JSON text (NULL = {}). */
static struct ws_blob *blob_make_raw(const char *type, const char *topic, int64_t ts_ms,
                                     const char *data)
{
    char head[2 * WS_TOPIC_MAX + 64];
    size_t h = 0, q;
    if (!data)
        data = "{}";
    memcpy(head, "{\"type\":", 8);
    h = 8;
    q = json_quote(head + h, sizeof head - h - 32, type);
    if (!q)
        return NULL;
    h += q;
    if (topic) {
        memcpy(head + h, ",\"topic\":", 9);
        h += 9;
        q = json_quote(head + h, sizeof head - h - 16, topic);
        if (!q)
            return NULL;
        h += q;
    }
    memcpy(head + h, ",\"seq\":", 7);
    h += 7;

    char tsbuf[40];
    int tl = snprintf(tsbuf, sizeof tsbuf, ",\"ts\":%lld,\"data\":", (long long)ts_ms);
    size_t dl = strlen(data);
    size_t len = h + (size_t)tl + dl + 1;
    if (len > WS_MSG_MAX)
        return NULL;
    struct ws_blob *b = malloc(sizeof *b + len);
    if (!b)
        return NULL;
    b->refs = 1;
    b->head_len = h;
    b->len = len;
    memcpy(b->bytes, head, h);
    memcpy(b->bytes + h, tsbuf, (size_t)tl);
    memcpy(b->bytes + h + (size_t)tl, data, dl);
    b->bytes[len - 1] = '}';
    return b;
}

static struct ws_blob *blob_make(const char *type, const char *topic, int64_t ts_ms,
                                 const json_t *data)
{
    char *txt = NULL;
    if (data) {
        txt = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!txt)
            return NULL;
    }
    struct ws_blob *b = blob_make_raw(type, topic, ts_ms, txt);
    free(txt);
    return b;
}

static void blob_unref(struct ws_blob *b)
{
    if (b && --b->refs == 0)
        free(b);
}

/* ---- queues ----------------------------------------------------------- */

static void conn_account(struct ws_conn *c, size_t add, size_t sub)
{
    c->q_bytes = c->q_bytes + add - sub;
    if (add)
        atomic_fetch_add(&c->srv->queued_bytes, add);
    if (sub)
        atomic_fetch_sub(&c->srv->queued_bytes, sub);
}

/* Drops everything waiting; returns how many messages that was. */
static uint64_t conn_clear(struct ws_conn *c)
{
    uint64_t n = 0;
    while (c->q_len) {
        struct ws_entry *e = &c->q[c->q_head];
        if (e->slot == NO_SLOT) {
            conn_account(c, 0, e->blob->len);
            blob_unref(e->blob);
            n++;
        }
        c->q_head = (c->q_head + 1) % c->srv->queue_max;
        c->q_len--;
    }
    for (int s = 0; s < SLOT_COUNT; s++) {
        if (c->slot[s]) {
            conn_account(c, 0, c->slot[s]->len);
            blob_unref(c->slot[s]);
            c->slot[s] = NULL;
            n++;
        }
    }
    return n;
}

static void conn_close(struct ws_conn *c, int code, const char *msg, bool drop_queue)
{
    if (c->closing)
        return;
    c->closing = true;
    c->close_code = code;
    snprintf(c->close_msg, sizeof c->close_msg, "%s", msg);
    if (drop_queue) {
        conn_clear(c);
        c->gap_pending = false;
    }
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, WS_CLOSE_KILL_S);
    lws_callback_on_writable(c->wsi);
}

static void conn_overflow(struct ws_conn *c, const char *reason)
{
    if (c->gap_pending && c->gap_overflow) {
        /* The last gap message is still unsent: the peer reads nothing. */
        conn_close(c, WS_CLOSE_SLOW, "client too slow", true);
        return;
    }
    c->dropped += conn_clear(c);
    c->gap_pending = true;
    c->gap_overflow = true;
    c->gap_reason = reason;
    lws_callback_on_writable(c->wsi);
}

static void conn_want_write(struct ws_conn *c);

/* Queues a reference to b, into coalescing slot `slot` or the ring. */
static void conn_enqueue(struct ws_conn *c, struct ws_blob *b, int slot)
{
    if (c->closing)
        return;
    if (slot != NO_SLOT && c->slot[slot]) {
        /* Coalesce: replace the waiting message, keep its queue place. */
        conn_account(c, b->len, c->slot[slot]->len);
        blob_unref(c->slot[slot]);
        b->refs++;
        c->slot[slot] = b;
        return;
    }
    if (c->q_len == c->srv->queue_max || c->q_bytes + b->len > WS_QUEUE_BYTES_MAX) {
        /* Everything waiting goes; the gap announces it, the stream goes on
         * with this message. */
        conn_overflow(c, "slow_client");
        if (c->closing)
            return;
    }
    size_t tail = (c->q_head + c->q_len) % c->srv->queue_max;
    b->refs++;
    if (slot != NO_SLOT) {
        c->slot[slot] = b;
        c->q[tail] = (struct ws_entry){NULL, slot};
    } else {
        c->q[tail] = (struct ws_entry){b, NO_SLOT};
    }
    c->q_len++;
    conn_account(c, b->len, 0);
    conn_want_write(c);
}

/* A reply or notice for one connection. */
static void conn_send(struct ws_conn *c, const char *type, const json_t *data)
{
    struct ws_blob *b = blob_make(type, NULL, wall_ms(), data);
    if (!b) {
        conn_overflow(c, "server_error");
        return;
    }
    conn_enqueue(c, b, NO_SLOT);
    blob_unref(b);
}

/* A gap in the middle of the stream (the feed lost events, or one could not
 * be serialised): queued in order, after what was already waiting. */
static void conn_enqueue_gap(struct ws_conn *c, const char *reason, uint64_t dropped)
{
    json_t *d = json_pack("{s:I, s:s}", "dropped", (json_int_t)dropped, "reason", reason);
    conn_send(c, "gap", d);
    json_decref(d);
}

static void conn_error(struct ws_conn *c, const char *code, const char *message)
{
    json_t *d = json_pack("{s:s, s:s}", "code", code, "message", message);
    conn_send(c, "error", d);
    json_decref(d);
}

/* ---- writing ---------------------------------------------------------- */

static int srv_tx_reserve(struct clb_ws *w, size_t need)
{
    if (need <= w->tx_cap)
        return 0;
    size_t cap = w->tx_cap ? w->tx_cap : 4096;
    while (cap < need)
        cap *= 2;
    unsigned char *p = realloc(w->tx, cap);
    if (!p)
        return -1;
    w->tx = p;
    w->tx_cap = cap;
    return 0;
}

static int conn_write_blob(struct ws_conn *c, const struct ws_blob *b)
{
    struct clb_ws *w = c->srv;
    if (srv_tx_reserve(w, LWS_PRE + b->len + 24))
        return -1;
    unsigned char *p = w->tx + LWS_PRE;
    memcpy(p, b->bytes, b->head_len);
    int n = snprintf((char *)p + b->head_len, 24, "%llu", (unsigned long long)(c->seq + 1));
    memcpy(p + b->head_len + (size_t)n, b->bytes + b->head_len, b->len - b->head_len);
    size_t total = b->len + (size_t)n;
    if (lws_write(c->wsi, p, total, LWS_WRITE_TEXT) < (int)total)
        return -1;
    c->seq++;
    return 0;
}

/* lws's internal opcode for a close frame (private-lib-core.h; the public
 * enum skips 4 and sends closes through lws_close_reason). */
#define WS_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)
_Static_assert(LWS_WRITE_HTTP == 3 && LWS_WRITE_PING == 5,
               "libwebsockets renumbered its write opcodes: check WS_LWS_WRITE_CLOSE");

/* Sends the close frame with c's code and reason; the caller then returns
 * -1 and lws closes the socket (it sends no close of its own when no
 * reason was set). Not left to lws (lws_close_reason + return -1): on a
 * libuv loop lws 4.1 only queues its close frame then, and its debug
 * builds (Debian's) close the socket again at once ("uv repeat test"),
 * before the frame ever leaves. Nor by a timeout: that kills silently. */
static void conn_write_close(struct ws_conn *c)
{
    unsigned char buf[LWS_PRE + 2 + sizeof c->close_msg];
    unsigned char *p = buf + LWS_PRE;
    size_t ml = strlen(c->close_msg); /* < 64: the frame stays under 125 bytes */
    p[0] = (unsigned char)((unsigned)c->close_code >> 8);
    p[1] = (unsigned char)(c->close_code & 0xff);
    memcpy(p + 2, c->close_msg, ml);
    lws_write(c->wsi, p, 2 + ml, WS_LWS_WRITE_CLOSE);
}

/* Writes what is waiting. Returns -1 to close the connection. */
static int conn_writeable(struct ws_conn *c)
{
    for (int n = 0; n < WS_WRITE_BURST; n++) {
        /* Nothing more to write: no choke test (a poll() syscall) either. */
        if (!c->gap_pending && !c->q_len)
            break;
        if (n && lws_send_pipe_choked(c->wsi))
            break;
        if (c->gap_pending) {
            json_t *d = json_pack("{s:I, s:s}", "dropped", (json_int_t)c->dropped, "reason",
                                  c->gap_reason ? c->gap_reason : "slow_client");
            struct ws_blob *b = blob_make("gap", NULL, wall_ms(), d);
            json_decref(d);
            int rc = b ? conn_write_blob(c, b) : -1;
            blob_unref(b);
            if (rc)
                return -1;
            c->gap_pending = false;
            c->gap_overflow = false;
            c->dropped = 0;
            continue;
        }
        if (!c->q_len)
            break;
        struct ws_entry e = c->q[c->q_head];
        c->q_head = (c->q_head + 1) % c->srv->queue_max;
        c->q_len--;
        struct ws_blob *b = e.blob;
        if (e.slot != NO_SLOT) {
            b = c->slot[e.slot];
            c->slot[e.slot] = NULL;
        }
        if (!b) { /* its topic was unsubscribed, or a duplicate entry */
            n--;
            continue;
        }
        conn_account(c, 0, b->len);
        int rc = conn_write_blob(c, b);
        blob_unref(b);
        if (rc)
            return -1;
    }
    if (c->closing && !c->q_len && !c->gap_pending) {
        conn_write_close(c);
        return -1;
    }
    if (c->q_len || c->gap_pending || c->closing)
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* Gets c's queue moving. During a fan-out from the feed or a timer
 * (w->direct: outside any lws callback) a socket that can take more is
 * written at once; otherwise, or when it is choked (kernel buffer full, or
 * lws still holds part of an earlier message), lws is asked for a
 * writeable callback. Writing at once spares the loop a POLLOUT
 * round-trip per client and message: on epoll that is two epoll_ctl calls
 * and one more wake-up, on poll() one more walk over every socket. */
static void conn_want_write(struct ws_conn *c)
{
    if (!c->srv->direct || c->closing || lws_send_pipe_choked(c->wsi)) {
        lws_callback_on_writable(c->wsi);
        return;
    }
    if (conn_writeable(c) < 0) {
        /* The socket failed under us: let lws close it on its own path
         * (no close frame: nothing more can be written). */
        c->closing = true;
        c->close_code = LWS_CLOSE_STATUS_UNEXPECTED_CONDITION;
        snprintf(c->close_msg, sizeof c->close_msg, "write failed");
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
    }
}

/* ---- topics ----------------------------------------------------------- */

static bool topic_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.' || ch == '/';
}

/* 0: fixed topic (bit in *bit); 1: book topic; -1: invalid. */
static int topic_parse(const char *t, unsigned *bit)
{
    static const struct {
        const char *name;
        unsigned bit;
    } fixed[] = {{"status", TOPIC_STATUS},
                 {"orders", TOPIC_ORDERS},
                 {"trades", TOPIC_TRADES},
                 {"logs", TOPIC_LOGS}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
        if (!strcmp(t, fixed[i].name)) {
            *bit = fixed[i].bit;
            return 0;
        }
    size_t len = strlen(t);
    if (len >= WS_TOPIC_MAX || strncmp(t, "book:", 5))
        return -1;
    const char *conn = t + 5, *colon = strchr(conn, ':');
    if (!colon || colon == conn || !colon[1] || strchr(colon + 1, ':'))
        return -1;
    for (const char *p = conn; *p; p++)
        if (p != colon && !topic_char_ok(*p))
            return -1;
    return 1;
}

/* True when the engine lists CONNECTOR with MARKET, or publishes no
 * connector list to check against. */
static bool book_known(struct clb_ws *w, const char *topic)
{
    json_t *snap = clb_engine_snapshot(w->engine, topic);
    if (snap) {
        json_decref(snap);
        return true;
    }
    json_t *conns = clb_engine_snapshot(w->engine, "connectors");
    if (!conns)
        return true;
    const char *cname = topic + 5, *colon = strchr(cname, ':');
    size_t clen = (size_t)(colon - cname);
    bool found = false;
    size_t i;
    json_t *c;
    json_array_foreach(conns, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!name || strlen(name) != clen || strncmp(name, cname, clen))
            continue;
        size_t j;
        json_t *m;
        json_array_foreach(json_object_get(c, "markets"), j, m) {
            const char *ms = json_is_string(m) ? json_string_value(m)
                                               : json_string_value(json_object_get(m, "name"));
            if (ms && !strcmp(ms, colon + 1))
                found = true;
        }
    }
    json_decref(conns);
    return found;
}

static int conn_book_index(const struct ws_conn *c, const char *topic)
{
    for (size_t i = 0; i < c->n_books; i++)
        if (!strcmp(c->books[i], topic))
            return (int)i;
    return -1;
}

/* Returns the slot (or NO_SLOT) for a subscribed topic, -2 when c does not
 * subscribe to it. Status and book messages are whole documents, so only
 * the latest one needs to wait. */
static int conn_match(const struct ws_conn *c, const char *topic, unsigned bit, bool book)
{
    if (book) {
        int i = conn_book_index(c, topic);
        return i < 0 ? -2 : 1 + i;
    }
    if (!(c->topics & bit))
        return -2;
    return bit == TOPIC_STATUS ? SLOT_STATUS : NO_SLOT;
}

/* A book message for a feed event: the event itself when it carries a full
 * book, else the engine's current book snapshot (a diff would be wrong to
 * coalesce). */
static struct ws_blob *book_blob(struct clb_ws *w, const char *type, const char *topic,
                                 int64_t ts, json_t *data)
{
    if (json_object_get(data, "bids") && json_object_get(data, "asks") &&
        !json_object_get(data, "diff"))
        return blob_make(type, topic, ts, data);
    json_t *snap = clb_engine_snapshot(w->engine, topic);
    if (!snap)
        return blob_make(type, topic, ts, data);
    struct ws_blob *b = blob_make("book", topic, ts, snap);
    json_decref(snap);
    return b;
}

static void srv_send_status(struct clb_ws *w, struct ws_conn *only)
{
    struct ws_blob *b = NULL;
    for (struct ws_conn *c = only ? only : w->conns; c; c = only ? NULL : c->next) {
        if (!c->authed || c->closing || !(c->topics & TOPIC_STATUS))
            continue;
        if (!b) {
            json_t *snap = clb_engine_snapshot(w->engine, "status");
            if (!snap)
                return;
            b = blob_make("status", "status", wall_ms(), snap);
            json_decref(snap);
            if (!b)
                return;
        }
        conn_enqueue(c, b, SLOT_STATUS);
    }
    blob_unref(b);
}

static void srv_send_book(struct clb_ws *w, struct ws_conn *c, const char *topic)
{
    json_t *snap = clb_engine_snapshot(w->engine, topic);
    if (!snap)
        return;
    int64_t ts = json_integer_value(json_object_get(snap, "ts_ms"));
    struct ws_blob *b = blob_make("book", topic, ts ? ts : wall_ms(), snap);
    json_decref(snap);
    if (b) {
        conn_enqueue(c, b, 1 + conn_book_index(c, topic));
        blob_unref(b);
    }
}

/* ---- the feed --------------------------------------------------------- */

static void srv_broadcast_gap(struct clb_ws *w, const char *reason)
{
    for (struct ws_conn *c = w->conns; c; c = c->next)
        if (c->authed && !c->closing)
            conn_enqueue_gap(c, reason, 0); /* 0: unknown how many */
}

static void srv_dispatch(struct clb_ws *w, json_t *ev)
{
    const char *topic = json_string_value(json_object_get(ev, "topic"));
    const char *type = json_string_value(json_object_get(ev, "type"));
    if (!topic)
        return;
    if (!type)
        type = topic;
    unsigned bit = 0;
    int kind = topic_parse(topic, &bit);
    if (kind < 0)
        return;
    if (bit == TOPIC_STATUS)
        w->last_feed_status = lws_now_usecs();
    /* Nobody subscribes to it: no walk over every connection. */
    if (kind == 1 ? !w->n_book_subs : !w->n_subs[__builtin_ctz(bit)])
        return;
    json_t *data = json_object_get(ev, "data");
    json_t *tsj = json_object_get(ev, "ts");
    int64_t ts = json_is_integer(tsj) ? json_integer_value(tsj) : wall_ms();
    struct ws_blob *b = NULL;
    bool failed = false;
    for (struct ws_conn *c = w->conns; c; c = c->next) {
        if (!c->authed || c->closing)
            continue;
        int slot = conn_match(c, topic, bit, kind == 1);
        if (slot == -2)
            continue;
        if (!b && !failed) {
            b = kind == 1 ? book_blob(w, type, topic, ts, data) : blob_make(type, topic, ts, data);
            failed = !b;
        }
        if (failed) { /* too large or out of memory: tell the subscriber */
            conn_enqueue_gap(c, "server_error", 1);
            continue;
        }
        conn_enqueue(c, b, slot);
    }
    blob_unref(b);
}

static void sul_poll_cb(lws_sorted_usec_list_t *sul);

/* Reads the feed and fans it out; after WS_FEED_ROUNDS batches it yields to
 * the sockets and comes back at once through sul_poll. */
static void srv_drain_feed(struct clb_ws *w)
{
    json_t *ev[WS_FEED_BATCH];
    for (int round = 0; round < WS_FEED_ROUNDS; round++) {
        bool gap = false;
        size_t n = clb_engine_feed_read(w->engine, &w->cursor, ev, WS_FEED_BATCH, &gap);
        if (gap)
            srv_broadcast_gap(w, "feed");
        for (size_t i = 0; i < n; i++) {
            if (w->conns)
                srv_dispatch(w, ev[i]);
            json_decref(ev[i]);
        }
        if (n < WS_FEED_BATCH) {
            if (w->wake == CLB_WS_WAKE_TIMER)
                lws_sul_schedule(w->ctx, 0, &w->sul_poll, sul_poll_cb,
                                 (lws_usec_t)w->poll_ms * LWS_US_PER_MS);
            return;
        }
    }
    lws_sul_schedule(w->ctx, 0, &w->sul_poll, sul_poll_cb, 1);
}

static void sul_poll_cb(lws_sorted_usec_list_t *sul)
{
    struct clb_ws *w = lws_container_of(sul, struct clb_ws, sul_poll);
    if (!w->stopping) {
        w->direct = true;
        srv_drain_feed(w);
        w->direct = false;
    }
}

static void srv_read_wake_fd(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    uint64_t v;
    if (poll(&p, 1, 0) == 1 && (p.revents & POLLIN)) {
        ssize_t r = read(fd, &v, sizeof v);
        (void)r;
    }
}

/* ---- timers ----------------------------------------------------------- */

static void sul_status_cb(lws_sorted_usec_list_t *sul)
{
    struct clb_ws *w = lws_container_of(sul, struct clb_ws, sul_status);
    if (w->stopping)
        return;
    w->direct = true;
    if (w->wake != CLB_WS_WAKE_TIMER)
        srv_drain_feed(w); /* safety net should a wake-up ever be missed */
    /* The engine publishes a status on the feed every second; sample the
     * snapshot only when the feed has been quieter than the interval. */
    if (lws_now_usecs() - w->last_feed_status > (lws_usec_t)w->status_ms * 1500)
        srv_send_status(w, NULL);
    w->direct = false;
    lws_sul_schedule(w->ctx, 0, &w->sul_status, sul_status_cb,
                     (lws_usec_t)w->status_ms * LWS_US_PER_MS);
}

static void sul_heartbeat_cb(lws_sorted_usec_list_t *sul)
{
    struct clb_ws *w = lws_container_of(sul, struct clb_ws, sul_heartbeat);
    if (w->stopping)
        return;
    struct ws_blob *b = NULL;
    w->direct = true;
    for (struct ws_conn *c = w->conns; c; c = c->next) {
        if (!c->authed || c->closing)
            continue;
        if (!b && !(b = blob_make("heartbeat", NULL, wall_ms(), NULL)))
            break;
        conn_enqueue(c, b, NO_SLOT);
    }
    w->direct = false;
    blob_unref(b);
    lws_sul_schedule(w->ctx, 0, &w->sul_heartbeat, sul_heartbeat_cb,
                     (lws_usec_t)w->heartbeat_ms * LWS_US_PER_MS);
}

static void sul_shutdown_cb(lws_sorted_usec_list_t *sul)
{
    struct clb_ws *w = lws_container_of(sul, struct clb_ws, sul_shutdown);
    if (!w->conns || lws_now_usecs() >= w->stop_deadline) {
        w->done = true;
        uv_stop(&w->loop);
        return;
    }
    lws_sul_schedule(w->ctx, 0, &w->sul_shutdown, sul_shutdown_cb, 10 * LWS_US_PER_MS);
}

static void srv_begin_shutdown(struct clb_ws *w)
{
    if (w->stopping)
        return;
    w->stopping = true;
    w->stop_deadline = lws_now_usecs() + WS_SHUTDOWN_GRACE_US;
    lws_sul_cancel(&w->sul_status);
    lws_sul_cancel(&w->sul_heartbeat);
    lws_sul_cancel(&w->sul_poll);
    for (struct ws_conn *c = w->conns; c; c = c->next)
        conn_close(c, LWS_CLOSE_STATUS_GOINGAWAY, "server stopping", true);
    lws_sul_schedule(w->ctx, 0, &w->sul_shutdown, sul_shutdown_cb, 1);
}

/* ---- authentication and client messages -------------------------------- */

/* 0 and *role for a valid token; -1 (message in why) otherwise. Failed
 * attempts count against the peer address like the REST API's. */
static int srv_check_token(struct clb_ws *w, struct lws *wsi, const char *token, int *role,
                           char *why, size_t whylen)
{
    *role = 0;
    snprintf(why, whylen, "invalid token");
    char addr[CLB_AUTH_ADDR_MAX] = "";
    int64_t now = wall_ms(), retry_s = 0;
    int retry = 0;
    if (!w->auth)
        return -1;
    lws_get_peer_simple(wsi, addr, sizeof addr);
    if (clb_auth_throttle_check(w->auth, addr, now, &retry) != CLB_OK) {
        retry_s = retry;
        snprintf(why, whylen, "too many failed attempts: retry in %lld s", (long long)retry_s);
        return -1;
    }
    enum clb_role r = CLB_ROLE_NONE;
    if (token && strlen(token) < WS_TOKEN_MAX &&
        clb_auth_verify(w->auth, token, now / 1000, &r, NULL) == CLB_OK && r >= CLB_ROLE_READ) {
        *role = (int)r;
        return 0;
    }
    clb_auth_throttle_fail(w->auth, addr, now);
    return -1;
}

static void conn_authed(struct ws_conn *c, int role, const char *via)
{
    c->authed = true;
    c->role = role;
    lws_set_timer_usecs(c->wsi, LWS_SET_TIMER_USEC_CANCEL);
    json_t *d = json_pack("{s:b, s:s, s:s}", "ok", 1, "role", role_name(role), "via", via);
    conn_send(c, "auth", d);
    json_decref(d);
}

static void conn_reject(struct ws_conn *c, const char *message)
{
    conn_error(c, "unauthorized", message);
    conn_close(c, WS_CLOSE_AUTH, message, false);
}

static json_t *conn_topics_json(const struct ws_conn *c)
{
    static const char *const names[] = {"status", "orders", "trades", "logs"};
    json_t *a = json_array();
    for (unsigned i = 0; i < 4; i++)
        if (c->topics & (1u << i))
            json_array_append_new(a, json_string(names[i]));
    for (size_t i = 0; i < c->n_books; i++)
        json_array_append_new(a, json_string(c->books[i]));
    return a;
}

static void conn_subscribe(struct ws_conn *c, json_t *topics, bool sub)
{
    struct clb_ws *w = c->srv;
    char msg[160];
    if (!json_is_array(topics) || json_array_size(topics) == 0 ||
        json_array_size(topics) > 64) {
        conn_error(c, "bad_request", "\"topics\" must be a non-empty array of topic names");
        return;
    }
    /* Validate everything first: a bad request changes nothing. */
    size_t i, new_books = 0, n_new = 0, new_book[WS_MAX_BOOKS];
    bool new_status = false;
    json_t *t;
    json_array_foreach(topics, i, t) {
        const char *s = json_string_value(t);
        unsigned bit = 0;
        int kind = s ? topic_parse(s, &bit) : -1;
        if (kind < 0) {
            snprintf(msg, sizeof msg,
                     "unknown topic '%.60s' (status, orders, trades, logs, "
                     "book:CONNECTOR:MARKET)",
                     s ? s : "(not a string)");
            conn_error(c, "bad_topic", msg);
            return;
        }
        if (kind == 1 && sub && conn_book_index(c, s) < 0) {
            bool dup = false;
            for (size_t j = 0; j < i; j++)
                if (!strcmp(json_string_value(json_array_get(topics, j)), s))
                    dup = true;
            if (!dup)
                new_books++;
            if (!book_known(w, s)) {
                snprintf(msg, sizeof msg, "no such book '%.80s'", s);
                conn_error(c, "bad_topic", msg);
                return;
            }
        }
    }
    if (c->n_books + new_books > WS_MAX_BOOKS) {
        snprintf(msg, sizeof msg, "at most %d book topics per connection", WS_MAX_BOOKS);
        conn_error(c, "bad_topic", msg);
        return;
    }
    unsigned topics_before = c->topics;
    size_t books_before = c->n_books;
    json_array_foreach(topics, i, t) {
        const char *s = json_string_value(t);
        unsigned bit = 0;
        int kind = topic_parse(s, &bit);
        if (kind == 0) {
            bool had = c->topics & bit;
            if (sub) {
                c->topics |= bit;
                if (!had && bit == TOPIC_STATUS)
                    new_status = true;
            } else {
                c->topics &= ~bit;
                if (bit == TOPIC_STATUS && c->slot[SLOT_STATUS]) {
                    /* Its queue entry stays; an empty slot is skipped. */
                    conn_account(c, 0, c->slot[SLOT_STATUS]->len);
                    blob_unref(c->slot[SLOT_STATUS]);
                    c->slot[SLOT_STATUS] = NULL;
                }
            }
            continue;
        }
        int bi = conn_book_index(c, s);
        if (sub && bi < 0) {
            new_book[n_new++] = c->n_books;
            snprintf(c->books[c->n_books++], WS_TOPIC_MAX, "%s", s);
        } else if (!sub && bi >= 0) {
            /* Book slots are positional: drop the waiting message of every
             * book from bi on and shift the names down. */
            for (size_t k = (size_t)bi; k < c->n_books; k++) {
                struct ws_blob **sl = &c->slot[1 + k];
                if (*sl) {
                    conn_account(c, 0, (*sl)->len);
                    blob_unref(*sl);
                    *sl = NULL;
                }
            }
            for (size_t k = (size_t)bi; k + 1 < c->n_books; k++)
                memcpy(c->books[k], c->books[k + 1], WS_TOPIC_MAX);
            c->n_books--;
        }
    }
    srv_count_topics(w, topics_before, c->topics);
    w->n_book_subs = w->n_book_subs - books_before + c->n_books;
    json_t *d = json_pack("{s:o}", "topics", conn_topics_json(c));
    conn_send(c, sub ? "subscribed" : "unsubscribed", d);
    json_decref(d);
    /* Then the current state of what was added, so a dashboard can draw at
     * once instead of waiting for the next change. */
    if (new_status)
        srv_send_status(w, c);
    for (size_t k = 0; k < n_new; k++)
        srv_send_book(w, c, c->books[new_book[k]]);
}

static void conn_message(struct ws_conn *c, const char *buf, size_t len)
{
    json_error_t je;
    json_t *m = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    const char *type = json_string_value(json_object_get(m, "type"));
    if (!c->authed) {
        if (!type || strcmp(type, "auth")) {
            conn_reject(c, "authentication required: send {\"type\":\"auth\",\"token\":\"...\"}");
        } else {
            int role = 0;
            char why[96];
            const char *token = json_string_value(json_object_get(m, "token"));
            if (srv_check_token(c->srv, c->wsi, token, &role, why, sizeof why) == 0)
                conn_authed(c, role, "message");
            else
                conn_reject(c, why);
        }
        json_decref(m);
        return;
    }
    if (!json_is_object(m)) {
        conn_error(c, "bad_request", "malformed JSON message");
    } else if (!type) {
        conn_error(c, "bad_request", "missing \"type\"");
    } else if (!strcmp(type, "subscribe") || !strcmp(type, "unsubscribe")) {
        conn_subscribe(c, json_object_get(m, "topics"), type[0] == 's');
    } else if (!strcmp(type, "ping")) {
        json_t *d = json_object();
        json_t *id = json_object_get(m, "id");
        if (id)
            json_object_set(d, "id", id);
        conn_send(c, "pong", d);
        json_decref(d);
    } else if (!strcmp(type, "auth")) {
        conn_error(c, "bad_request", "already authenticated");
    } else {
        char msg[120];
        snprintf(msg, sizeof msg, "unknown message type '%.40s'", type);
        conn_error(c, "bad_request", msg);
    }
    json_decref(m);
}

/* ---- handshake -------------------------------------------------------- */

static bool origin_match(const char *pattern, const char *origin)
{
    size_t pl = strlen(pattern);
    if (!strcmp(pattern, "*"))
        return true;
    if (pl >= 2 && !strcmp(pattern + pl - 2, ":*")) {
        size_t base = pl - 2;
        if (strncasecmp(pattern, origin, base))
            return false;
        const char *rest = origin + base;
        if (!*rest)
            return true; /* default port */
        if (*rest != ':' || !rest[1])
            return false;
        size_t digits = 0;
        for (rest++; *rest; rest++, digits++)
            if (*rest < '0' || *rest > '9')
                return false;
        return digits <= 5;
    }
    return !strcasecmp(pattern, origin);
}

static bool srv_origin_ok(struct clb_ws *w, struct lws *wsi)
{
    int len = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
    if (len <= 0)
        return true; /* not a browser: CLI clients send no Origin */
    char origin[WS_ORIGIN_MAX];
    if (len >= (int)sizeof origin ||
        lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) < 0)
        return false;
    for (size_t i = 0; i < w->n_origins; i++)
        if (origin_match(w->origins[i], origin))
            return true;
    return false;
}

static int conn_filter(struct clb_ws *w, struct ws_conn *c, struct lws *wsi)
{
    char path[64];
    if (w->stopping)
        return -1;
    if (lws_hdr_copy(wsi, path, sizeof path, WSI_TOKEN_GET_URI) <= 0 ||
        (strcmp(path, WS_PATH) && strcmp(path, WS_PATH "/")))
        return -1;
    if (!srv_origin_ok(w, wsi))
        return -1;
    if ((size_t)atomic_load(&w->n_clients) >= w->max_clients)
        return -1;
    memset(c, 0, sizeof *c);
    int alen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (alen > 0) {
        char hdr[WS_TOKEN_MAX + 16];
        c->hdr_auth = -1;
        if (alen < (int)sizeof hdr &&
            lws_hdr_copy(wsi, hdr, sizeof hdr, WSI_TOKEN_HTTP_AUTHORIZATION) > 0 &&
            !strncasecmp(hdr, "Bearer ", 7)) {
            const char *tok = hdr + 7;
            while (*tok == ' ')
                tok++;
            int role = 0;
            char why[96];
            if (srv_check_token(w, wsi, tok, &role, why, sizeof why) == 0) {
                c->hdr_auth = 1;
                c->role = role;
            }
        }
    }
    c->hdr_seen = true;
    return 0;
}

static int conn_established(struct clb_ws *w, struct ws_conn *c, struct lws *wsi)
{
    int hdr_auth = c->hdr_seen ? c->hdr_auth : 0, role = c->role;
    memset(c, 0, offsetof(struct ws_conn, rx));
    c->srv = w;
    c->wsi = wsi;
    c->q = calloc(w->queue_max, sizeof *c->q);
    if (!c->q)
        return -1;
    c->established = true;
    if (w->sndbuf > 0)
        setsockopt(lws_get_socket_fd(wsi), SOL_SOCKET, SO_SNDBUF, &w->sndbuf, sizeof w->sndbuf);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    atomic_fetch_add(&w->n_clients, 1);
    if (hdr_auth == 1)
        conn_authed(c, role, "header");
    else if (hdr_auth == -1)
        conn_reject(c, "invalid token");
    else
        lws_set_timer_usecs(wsi, WS_AUTH_TIMEOUT_US);
    return 0;
}

static void conn_closed(struct clb_ws *w, struct ws_conn *c)
{
    if (!c->established)
        return;
    conn_clear(c);
    srv_count_topics(w, c->topics, 0);
    w->n_book_subs -= c->n_books;
    free(c->q);
    c->q = NULL;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->established = false;
    atomic_fetch_sub(&w->n_clients, 1);
}

static int conn_receive(struct ws_conn *c, struct lws *wsi, const void *in, size_t len)
{
    if (c->closing)
        return 0;
    if (lws_frame_is_binary(wsi)) {
        conn_error(c, "bad_request", "binary frames are not supported");
        c->rx_len = 0;
        return 0;
    }
    if (c->rx_len + len > WS_RX_MAX) {
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
                         (unsigned char *)"message over 4096 bytes", 23);
        return -1;
    }
    memcpy(c->rx + c->rx_len, in, len);
    c->rx_len += len;
    if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
        conn_message(c, c->rx, c->rx_len);
        c->rx_len = 0;
    }
    return 0;
}

/* ---- the protocol callback -------------------------------------------- */

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct clb_ws *w = ctx ? lws_context_user(ctx) : NULL;
    struct ws_conn *c = user;

    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return conn_filter(w, c, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        return conn_established(w, c, wsi);
    case LWS_CALLBACK_CLOSED:
        conn_closed(w, c);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return conn_receive(c, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (!c->established)
            return 0;
        return conn_writeable(c);
    case LWS_CALLBACK_TIMER:
        if (c && c->established && !c->authed)
            conn_reject(c, "authentication timed out");
        return 0;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        return 0;
    case LWS_CALLBACK_HTTP:
        /* Only /ws is served here; plain HTTP gets a 404. */
        if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
            return -1;
        return lws_http_transaction_completed(wsi);
    default:
        break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* ---- threads and lifecycle -------------------------------------------- */

/* The engine's feed eventfd (our dup) is readable. */
static void feed_poll_cb(uv_poll_t *h, int status, int events)
{
    struct clb_ws *w = h->data;
    (void)events;
    if (status < 0 || w->stopping)
        return;
    srv_read_wake_fd(w->feed_dup);
    w->direct = true;
    srv_drain_feed(w);
    w->direct = false;
}

/* clb_ws_stop asked us to stop, or the forwarding thread saw the feed's
 * eventfd (uv_async_send coalesces: one call for any number of sends). */
static void wake_cb(uv_async_t *h)
{
    struct clb_ws *w = h->data;
    if (atomic_load(&w->stop)) {
        srv_begin_shutdown(w);
        return;
    }
    if (w->wake == CLB_WS_WAKE_THREAD && !w->stopping) {
        w->direct = true;
        srv_drain_feed(w);
        w->direct = false;
    }
}

/* Tears the loop down on the thread that last ran it (the service thread,
 * or the controlling thread when that never started). On a foreign loop
 * lws 4.1 destroys its context in two calls: the first closes its handles,
 * which completes as the loop runs; the second (once the loop has nothing
 * left) frees the rest and clears w->ctx through info.pcontext. */
static void srv_loop_close(struct clb_ws *w)
{
    if (!w->loop_ok)
        return;
    if (w->ctx)
        lws_context_destroy(w->ctx);
    if (w->feed_poll_ok)
        uv_close((uv_handle_t *)&w->feed_poll, NULL);
    if (w->async_ok)
        uv_close((uv_handle_t *)&w->async, NULL);
    w->feed_poll_ok = w->async_ok = false;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    if (w->ctx) {
        lws_context_destroy(w->ctx);
        uv_run(&w->loop, UV_RUN_DEFAULT);
    }
    if (uv_loop_close(&w->loop) == 0)
        w->loop_ok = false;
}

static void *ws_service_main(void *arg)
{
    struct clb_ws *w = arg;
    while (!w->done)
        uv_run(&w->loop, UV_RUN_DEFAULT);
    srv_loop_close(w);
    return NULL;
}

static void *ws_forward_main(void *arg)
{
    struct clb_ws *w = arg;
    struct pollfd p[2] = {{.fd = w->feed_fd, .events = POLLIN},
                          {.fd = w->stop_pipe[0], .events = POLLIN}};
    for (;;) {
        int n = poll(p, 2, -1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 || p[1].revents)
            break;
        if (p[0].revents & POLLIN) {
            srv_read_wake_fd(w->feed_fd);
            uv_async_send(&w->async);
        }
    }
    return NULL;
}

static void srv_free(struct clb_ws *w)
{
    if (!w)
        return;
    srv_loop_close(w); /* no-op when the service thread did it */
    if (w->loop_ok) {
        /* uv_loop_close failed: something is still open on it. Leak it
         * rather than free memory the loop may still point into. */
        return;
    }
    if (w->feed_dup >= 0)
        close(w->feed_dup);
    SSL_CTX_free(w->client_ssl);
    if (w->stop_pipe[0] >= 0)
        close(w->stop_pipe[0]);
    if (w->stop_pipe[1] >= 0)
        close(w->stop_pipe[1]);
    clb_auth_destroy(w->auth);
    for (size_t i = 0; i < w->n_origins; i++)
        free(w->origins[i]);
    free(w->origins);
    free(w->data_dir);
    free(w->store_url);
    free(w->tx);
    free(w);
}

static int srv_copy_config(struct clb_ws *w, const struct clb_ws_config *cfg)
{
    const char *const *src = cfg->allowed_origins;
    size_t n = cfg->n_origins;
    if (!src || !n) {
        src = default_origins;
        n = sizeof default_origins / sizeof default_origins[0];
    }
    w->origins = calloc(n, sizeof *w->origins);
    if (!w->origins)
        return CLB_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!src[i])
            return CLB_EINVAL;
        if (!(w->origins[i] = strdup(src[i])))
            return CLB_ENOMEM;
        w->n_origins++;
    }
    if (cfg->store_url && !(w->store_url = strdup(cfg->store_url)))
        return CLB_ENOMEM;
    if (cfg->data_dir && !(w->data_dir = strdup(cfg->data_dir)))
        return CLB_ENOMEM;
    w->heartbeat_ms = cfg->heartbeat_ms > 0 ? cfg->heartbeat_ms : 15000;
    w->status_ms = cfg->status_interval_ms > 0 ? cfg->status_interval_ms : 1000;
    w->poll_ms = cfg->poll_ms > 0 ? cfg->poll_ms : 20;
    w->queue_max = cfg->queue_max ? cfg->queue_max : 1024;
    w->max_clients = cfg->max_clients ? cfg->max_clients : 1024;
    w->wake = cfg->wake;
    w->sndbuf = cfg->sndbuf_bytes;
    return CLB_OK;
}

/* Checks the PEM files before lws sees them: clearer messages, and lws
 * 4.1 leaks a little on its own failure path. */
static int check_tls_files(const char *cert, const char *key, char *msg, size_t cap)
{
    int rc = -1;
    X509 *x = NULL;
    EVP_PKEY *k = NULL;
    FILE *f = fopen(cert, "r");
    if (!f) {
        snprintf(msg, cap, "ws: cannot read TLS certificate %s: %s", cert, strerror(errno));
        goto out;
    }
    x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    if (!x) {
        snprintf(msg, cap, "ws: %s: not a PEM certificate", cert);
        goto out;
    }
    if (!(f = fopen(key, "r"))) {
        snprintf(msg, cap, "ws: cannot read TLS key %s: %s", key, strerror(errno));
        goto out;
    }
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!k) {
        snprintf(msg, cap, "ws: %s: not an unencrypted PEM private key", key);
        goto out;
    }
    if (X509_check_private_key(x, k) != 1) {
        snprintf(msg, cap, "ws: TLS key %s does not match certificate %s", key, cert);
        goto out;
    }
    rc = 0;
out:
    EVP_PKEY_free(k);
    X509_free(x);
    ERR_clear_error();
    return rc;
}

/* Tries to bind host:port (numeric hosts only; lws resolves the rest) so
 * that "address in use" gets its own message. */
static int check_bind(const char *host, int port, char *msg, size_t cap)
{
    char ps[16];
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    if (port == 0)
        return 0;
    snprintf(ps, sizeof ps, "%d", port);
    if (getaddrinfo(host, ps, &hints, &ai) || !ai)
        return 0;
    int rc = 0, fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd >= 0) {
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen)) {
            snprintf(msg, cap, "ws: cannot listen on %s:%d: %s", host, port, strerror(errno));
            rc = -1;
        }
        close(fd);
    }
    freeaddrinfo(ai);
    return rc;
}

int clb_ws_start(const struct clb_ws_config *cfg, struct clb_ws **out, char *err, size_t errlen)
{
    char msg[256];
    int rc = CLB_OK;
    if (!cfg || !out || !cfg->engine || !cfg->host || cfg->port < 0 || cfg->port > 65535 ||
        (!cfg->cert_pem_path != !cfg->key_pem_path) || cfg->heartbeat_ms < 0 ||
        cfg->status_interval_ms < 0 || cfg->poll_ms < 0 || cfg->sndbuf_bytes < 0 ||
        cfg->wake > CLB_WS_WAKE_TIMER) {
        set_err(err, errlen, "ws: invalid configuration (engine, host, port, cert+key)");
        return CLB_EINVAL;
    }
    *out = NULL;
    if ((cfg->cert_pem_path &&
         check_tls_files(cfg->cert_pem_path, cfg->key_pem_path, msg, sizeof msg)) ||
        check_bind(cfg->host, cfg->port, msg, sizeof msg)) {
        set_err(err, errlen, msg);
        return CLB_EIO;
    }
    struct clb_ws *w = calloc(1, sizeof *w);
    if (!w) {
        set_err(err, errlen, "ws: out of memory");
        return CLB_ENOMEM;
    }
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    w->feed_dup = -1;
    w->engine = cfg->engine;
    if ((rc = srv_copy_config(w, cfg)) != CLB_OK) {
        set_err(err, errlen, rc == CLB_ENOMEM ? "ws: out of memory" : "ws: NULL origin");
        goto fail;
    }
    if (w->data_dir) {
        struct clb_token_store store;
        char serr[160] = "";
        rc = clb_token_store_open(w->data_dir, w->store_url, &store, serr, sizeof serr);
        if (rc == CLB_OK)
            rc = clb_auth_create(store, &w->auth);
        if (rc != CLB_OK) {
            snprintf(msg, sizeof msg, "ws: token store: %s", rc == CLB_ENOMEM ? "out of memory"
                                                                              : serr);
            set_err(err, errlen, msg);
            goto fail;
        }
    }
    w->feed_fd = clb_engine_feed_fd(w->engine);
    if (w->feed_fd < 0)
        w->wake = CLB_WS_WAKE_TIMER;

    /* Start from now: events published before we existed are nobody's. */
    w->cursor = clb_engine_feed_head(w->engine);

    w->protocols[0] = (struct lws_protocols){
        .name = WS_PROTOCOL_NAME,
        .callback = ws_callback,
        .per_session_data_size = sizeof(struct ws_conn),
        .rx_buffer_size = WS_RX_MAX,
    };
    /* protocols[1] stays all-zero: the list terminator. */
    w->retry = (lws_retry_bo_t){.secs_since_valid_ping = 30, .secs_since_valid_hangup = 70};

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = cfg->host;
    info.protocols = w->protocols;
    info.user = w;
    info.options = LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND | LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (strchr(cfg->host, '.') && !strchr(cfg->host, ':'))
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->cert_pem_path) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->cert_pem_path;
        info.ssl_private_key_filepath = cfg->key_pem_path;
        info.alpn = "http/1.1";
        /* lws 4.1 also gives every TLS vhost a client SSL_CTX (with the
         * system CA store), which it can fail to free (warmcat/
         * libwebsockets#2044). This server makes no client connections:
         * hand it a bare one that we own. */
        w->client_ssl = SSL_CTX_new(TLS_client_method());
        if (!w->client_ssl) {
            set_err(err, errlen, "ws: out of memory (TLS context)");
            rc = CLB_ENOMEM;
            goto fail;
        }
        info.provided_client_ssl_ctx = w->client_ssl;
    }
    info.retry_and_idle_policy = &w->retry;
    info.timeout_secs = 10;
    info.max_http_header_pool = 64;
    info.vhost_name = "colibri-ws";

    /* lws runs on a libuv (epoll) loop that this server owns and the
     * service thread runs: a wake costs the sockets that are ready, not a
     * poll() over every connection. */
    if (uv_loop_init(&w->loop)) {
        set_err(err, errlen, "ws: cannot create the event loop");
        rc = CLB_EIO;
        goto fail;
    }
    w->loop_ok = true;
    void *foreign_loops[1] = {&w->loop};
    info.options |= LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = foreign_loops;
    info.pcontext = &w->ctx; /* lws clears it when its teardown is complete */

    lws_set_log_level(LLL_ERR | LLL_WARN, NULL); /* no start-up notices on stderr */
    w->ctx = lws_create_context(&info);
    if (!w->ctx) {
        snprintf(msg, sizeof msg,
                 "ws: cannot listen on %s:%d (address in use, or bad TLS certificate/key)",
                 cfg->host, cfg->port);
        set_err(err, errlen, msg);
        rc = CLB_EIO;
        goto fail;
    }
    w->vhost = lws_get_vhost_by_name(w->ctx, "colibri-ws");
    w->port = w->vhost ? lws_get_vhost_listen_port(w->vhost) : cfg->port;

    if (uv_async_init(&w->loop, &w->async, wake_cb)) {
        set_err(err, errlen, "ws: cannot create the event loop's wake-up");
        rc = CLB_EIO;
        goto fail;
    }
    w->async.data = w;
    w->async_ok = true;
    if (w->wake == CLB_WS_WAKE_FD) {
        /* A dup, so that closing our watcher never closes the engine's fd. */
        w->feed_dup = dup(w->feed_fd);
        if (w->feed_dup >= 0 && uv_poll_init(&w->loop, &w->feed_poll, w->feed_dup) == 0) {
            w->feed_poll.data = w;
            w->feed_poll_ok = true;
            if (uv_poll_start(&w->feed_poll, UV_READABLE, feed_poll_cb))
                w->wake = CLB_WS_WAKE_THREAD; /* fall back to the forwarder */
        } else {
            w->wake = CLB_WS_WAKE_THREAD;
        }
    }
    if (w->wake == CLB_WS_WAKE_THREAD) {
        if (pipe(w->stop_pipe) ||
            pthread_create(&w->fwd_thread, NULL, ws_forward_main, w)) {
            set_err(err, errlen, "ws: cannot start the forwarding thread");
            rc = CLB_EIO;
            goto fail;
        }
        w->fwd_started = true;
    }
    lws_sul_schedule(w->ctx, 0, &w->sul_status, sul_status_cb,
                     (lws_usec_t)w->status_ms * LWS_US_PER_MS);
    lws_sul_schedule(w->ctx, 0, &w->sul_heartbeat, sul_heartbeat_cb,
                     (lws_usec_t)w->heartbeat_ms * LWS_US_PER_MS);
    if (w->wake == CLB_WS_WAKE_TIMER)
        lws_sul_schedule(w->ctx, 0, &w->sul_poll, sul_poll_cb,
                         (lws_usec_t)w->poll_ms * LWS_US_PER_MS);
    if (pthread_create(&w->thread, NULL, ws_service_main, w)) {
        set_err(err, errlen, "ws: cannot start the service thread");
        rc = CLB_EIO;
        goto fail;
    }
    w->thread_started = true;
    *out = w;
    return CLB_OK;

fail:
    if (w->fwd_started) {
        ssize_t r = write(w->stop_pipe[1], "x", 1);
        (void)r;
        pthread_join(w->fwd_thread, NULL);
    }
    srv_free(w);
    return rc;
}

int clb_ws_port(const struct clb_ws *w)
{
    return w ? w->port : -1;
}

int clb_ws_clients(const struct clb_ws *w)
{
    return w ? atomic_load(&((struct clb_ws *)w)->n_clients) : 0;
}

size_t clb_ws_queued_bytes(const struct clb_ws *w)
{
    return w ? atomic_load(&((struct clb_ws *)w)->queued_bytes) : 0;
}

void clb_ws_stop(struct clb_ws *w)
{
    if (!w)
        return;
    if (w->fwd_started) {
        ssize_t r = write(w->stop_pipe[1], "x", 1);
        (void)r;
        pthread_join(w->fwd_thread, NULL);
        w->fwd_started = false;
    }
    atomic_store(&w->stop, 1);
    uv_async_send(&w->async);
    if (w->thread_started)
        pthread_join(w->thread, NULL);
    srv_free(w);
}
