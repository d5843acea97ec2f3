/*
 * ws_client.h — a self-healing WebSocket client on the netloop.
 *
 * A client keeps one connection to one ws:// or wss:// URL alive for its
 * whole life: after any close or failure it reports on_close and reconnects
 * by itself, with exponential backoff and jitter (a delay drawn uniformly
 * from [d/2, d], d = min(backoff_max, backoff_min * 2^attempt); attempt
 * goes back to 0 when a connection opens). It pings every ping_interval_ms
 * and declares the connection dead (on_close 1006) when nothing — no data,
 * no pong — arrived for ping_interval_ms + pong_timeout_ms. It reconnects
 * ahead of max_age_ms (Binance drops connections after 24 h) and on demand
 * (clb_ws_reconnect, e.g. on Binance's serverShutdown event). Pings from
 * the server are answered by libwebsockets.
 *
 * Messages: fragments are reassembled (bounded by max_message: a bigger
 * message closes the connection with 1009); a single-frame message is
 * handed over straight from lws's buffer (no copy). Sends go through a
 * bounded queue of preallocated slots written when the socket is writable
 * (or, with write_now and nothing queued, are written at once);
 * what is still queued when a connection ends is dropped (the caller re-
 * subscribes from on_open).
 *
 * Callbacks run inside clb_netloop_poll() on the loop's thread. A handler
 * may call any function here, including clb_ws_client_destroy() on its own
 * client (the memory is released when the handler returns).
 */
#ifndef CLB_WS_CLIENT_H
#define CLB_WS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netloop.h"

struct clb_ws_client;

struct clb_ws_client_config {
    const char *url;            /* ws:// or wss:// with path and query (copied);
                                   must pass clb_net_url_check */
    int ping_interval_ms;       /* 0 = 20000; < 0 = never ping (no dead detection) */
    int pong_timeout_ms;        /* 0 = ping_interval_ms */
    int connect_timeout_ms;     /* TCP + TLS + upgrade; 0 = 10000 */
    int backoff_min_ms;         /* 0 = 250 */
    int backoff_max_ms;         /* 0 = 30000 (raised to backoff_min_ms if below) */
    int64_t max_age_ms;         /* reconnect a connection this old; 0 = never */
    size_t max_message;         /* reassembled message bound; 0 = 1 MiB */
    uint32_t send_queue_len;    /* queued outgoing messages; 0 = 64 */
    size_t max_send_bytes;      /* one outgoing message; 0 = 4096 */
    uint64_t seed;              /* jitter generator; 0 = derived from clock and address */
    const char *protocol;       /* Sec-WebSocket-Protocol, NULL = none (copied) */
    bool write_now;             /* clb_ws_send writes at once (lws_write) when nothing is
                                   queued, instead of at the next writable callback:
                                   lowest latency; false = always queue */
    int warm_interval_ms;       /* > 0: while open, on_warm every warm_interval_ms unless
                                   a message arrived in that time; 0 = never */
};

/* Fills *cfg with the defaults (zeros); set url before use. */
void clb_ws_client_config_default(struct clb_ws_client_config *cfg);

struct clb_ws_handlers {
    /* The connection is open; clb_ws_send works from here. */
    void (*on_open)(void *ud);
    /* One complete message (text or binary), len bytes, NOT NUL-terminated,
     * valid during the call. recv_mono_ns: when its first bytes were read
     * (for a message that came in the same socket read as the one before
     * it, the time that read was handed over: its handler's time counts). */
    void (*on_message)(void *ud, const char *data, size_t len, int64_t recv_mono_ns);
    /* The connection (or an attempt) ended: code is the peer's close code,
     * or 1006 (abnormal: connect failure, reset, dead), 1009 (message too
     * big), 1000 (reconnect asked / max age). why is a short text (never
     * NULL). A reconnect is already scheduled. */
    void (*on_close)(void *ud, int code, const char *why);
    /* Optional: message msg_seq (see clb_ws_send) was handed to the socket:
     * lws_write was called at write_mono_ns and returned at done_mono_ns
     * (on loopback the write itself includes waking the peer). With
     * write_now this may run inside clb_ws_send. */
    void (*on_sent)(void *ud, uint64_t msg_seq, int64_t write_mono_ns, int64_t done_mono_ns);
    /* Optional, with warm_interval_ms: the connection has been quiet for
     * warm_interval_ms. The owner runs its message path on something
     * harmless (parse a canned message, touch its tables) so that the next
     * real message finds code and data in cache; it must not act on it. */
    void (*on_warm)(void *ud);
};

struct clb_ws_stats {
    uint64_t opens;         /* connections opened */
    uint64_t closes;        /* on_close reports (failed attempts included) */
    uint64_t msgs_in;
    uint64_t bytes_in;
    uint64_t msgs_out;      /* written */
    uint64_t send_dropped;  /* queued but dropped when a connection ended */
    uint32_t attempt;       /* consecutive failed attempts (backoff exponent) */
    int64_t last_backoff_ms;/* the last reconnect delay drawn */
};

/* Creates a client and schedules its first connection attempt (the loop
 * makes it inside the next clb_netloop_poll). h and its on_message are
 * required; others may be NULL. Returns CLB_OK, CLB_EINVAL (bad config or
 * URL refused by clb_net_url_check), CLB_ENOMEM. The caller owns *out. */
int clb_ws_client_create(struct clb_netloop *l, const struct clb_ws_client_config *cfg,
                         const struct clb_ws_handlers *h, void *ud, struct clb_ws_client **out);

/* Closes the connection (no on_close), cancels timers and frees c. NULL is
 * a no-op. Allowed from inside c's own handlers. Before clb_netloop_destroy. */
void clb_ws_client_destroy(struct clb_ws_client *c);

/* Queues a message (text frame) for the open connection, or with
 * write_now and an empty queue writes it at once. Returns CLB_OK,
 * CLB_ENOTREADY (not open), CLB_EFULL (send_queue_len messages waiting),
 * CLB_ERANGE (len above max_send_bytes), CLB_EINVAL, CLB_EIO (write_now:
 * lws refused the write; nothing was sent). The n-th message
 * accepted by clb_ws_send() over the client's life has msg_seq n (from 1);
 * clb_ws_last_seq() gives it right after the call. */
int clb_ws_send(struct clb_ws_client *c, const char *data, size_t len);

/* msg_seq of the last message clb_ws_send accepted (0 = none yet). */
uint64_t clb_ws_last_seq(const struct clb_ws_client *c);

/* Drops the current connection (or cancels the backoff wait) and connects
 * again at once. on_close (code 1000, "reconnect requested") is reported
 * from the loop right after, not inside this call. CLB_OK. */
int clb_ws_reconnect(struct clb_ws_client *c);

/* True while a connection is open (between on_open and on_close). */
bool clb_ws_is_open(const struct clb_ws_client *c);

/* Counters since create. */
void clb_ws_get_stats(const struct clb_ws_client *c, struct clb_ws_stats *out);

#endif
