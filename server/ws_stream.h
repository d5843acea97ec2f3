/*
 * ws_stream.h — the WebSocket status stream (wss://HOST:PORT/ws) that web
 * dashboards and scripts watch.
 *
 * One thread runs libwebsockets on a libuv (epoll) loop of its own (TLS
 * with the REST server's PEM cert/key). It reads the engine's event feed
 * with its own cursor and fans each event out to the connections
 * subscribed to its topic (the engine puts a status document on the feed
 * every second). The engine never waits for a client: every connection
 * has a bounded queue, book and status topics are coalesced (only the
 * latest message per topic waits), and a client that still falls behind
 * has its queue dropped and receives a {"type":"gap"}; one that makes no
 * progress at all is closed (4008).
 *
 * Tokens are the REST API's (auth.h, any role), checked against the store
 * in data_dir, with the same per-address throttle of failed attempts.
 *
 * Protocol (JSON text frames):
 *   client -> server
 *     {"type":"auth","token":"..."}            first message, unless the
 *                                              upgrade carried a valid
 *                                              "Authorization: Bearer" header
 *     {"type":"subscribe","topics":["status","orders","trades","logs",
 *                                   "book:CONNECTOR:MARKET"]}
 *     {"type":"unsubscribe","topics":[...]}
 *     {"type":"ping"}                          (an "id" member is echoed)
 *   server -> client, always {"type", "seq", "ts", "data"} (+ "topic" for
 *   topic messages); seq is 1, 2, 3... per connection, ts is milliseconds:
 *     auth {ok, role}  subscribed {topics}  unsubscribed {topics}  pong {id?}
 *     heartbeat {}  (every 15 s)  error {code, message}
 *     gap {dropped, reason}  messages were lost at this point (dropped: how
 *                            many, 0 = unknown); reason "slow_client" (this
 *                            client's queue overflowed), "feed" (the server
 *                            fell behind the engine's feed) or
 *                            "server_error": resynchronise from REST
 *     topic messages: status (the engine's status document: at
 *     subscription, then the feed's status events — once per second —, or a
 *     sample of the "status" snapshot every status_interval_ms when the
 *     feed carries none), book (the book at subscription, then the feed's
 *     book events), and the feed's events for orders/trades/logs; "type"
 *     and "data" are the feed event's.
 *   Close codes: 4001 authentication failed / required / timed out (10 s),
 *   4008 client too slow, 1009 message over 4 KiB, 1001 server stopping.
 *   Upgrades to other paths than /ws, from an Origin not on the allow-list,
 *   or beyond the client limit are refused at the handshake (the TCP
 *   connection is dropped before the 101 answer). Plain HTTP gets 404.
 *
 * Wake-up: by default the service loop watches a dup of the engine's feed
 * eventfd itself (a uv_poll_t), so an event costs one cross-thread wake.
 * CLB_WS_WAKE_THREAD instead runs a forwarding thread that polls the
 * eventfd and wakes the loop with uv_async_send(); CLB_WS_WAKE_TIMER
 * drains the feed every poll_ms on an lws timer. See bench/ws_fanout.c.
 * FD and THREAD read (reset) the engine's one eventfd: another reader of
 * that fd could take a wake-up away, which the once-a-second status timer
 * then catches up on (at most a second late).
 *
 * Threads: clb_ws_start / clb_ws_stop from one controlling thread;
 * clb_ws_port and clb_ws_clients from any thread.
 */
#ifndef CLB_WS_STREAM_H
#define CLB_WS_STREAM_H

#include <stddef.h>

struct clb_engine;
struct clb_ws;

enum clb_ws_wake {
    CLB_WS_WAKE_FD = 0, /* the loop polls a dup of clb_engine_feed_fd (default) */
    CLB_WS_WAKE_THREAD, /* forwarding thread + uv_async_send() */
    CLB_WS_WAKE_TIMER,  /* lws timer drains the feed every poll_ms */
};

struct clb_ws_config {
    const char *host;          /* listen address, e.g. "127.0.0.1" */
    int port;                  /* 0 = ephemeral (see clb_ws_port) */
    const char *cert_pem_path; /* TLS certificate chain (PEM); NULL = plain ws */
    const char *key_pem_path;  /* its private key (PEM) */
    const char *data_dir;      /* token store (auth.h); NULL = every token fails */
    const char *store_url;     /* database holding the tokens; NULL = DATA_DIR/colibri.db */
    const char *const *allowed_origins; /* NULL/0 = https://127.0.0.1:* and
                                         * https://localhost:* ; ":*" = any port */
    size_t n_origins;
    struct clb_engine *engine; /* borrowed; must outlive the server */

    /* Optional, 0 = default. */
    int heartbeat_ms;       /* default 15000 */
    int status_interval_ms; /* default 1000 */
    size_t queue_max;       /* messages waiting per client, default 1024 */
    size_t max_clients;     /* concurrent WebSocket clients, default 1024 */
    enum clb_ws_wake wake;  /* default CLB_WS_WAKE_FD */
    int poll_ms;            /* CLB_WS_WAKE_TIMER period, default 20 */
    int sndbuf_bytes;       /* SO_SNDBUF per client, default 0 = the kernel's
                             * autotuned buffer (bounded by tcp_wmem) */
};

/* Starts the server: binds host:port, loads the cert/key, starts the service
 * thread. On success *out is the server (stop it with clb_ws_stop). Errors:
 * CLB_EINVAL (missing engine/host, bad values), CLB_EIO (cannot read the
 * cert/key, cannot bind, thread creation failed), CLB_ENOMEM; a one-line
 * message in err; nothing is left running. */
int clb_ws_start(const struct clb_ws_config *cfg, struct clb_ws **out, char *err, size_t errlen);

/* The port actually listened on (useful when 0 was asked). Any thread. */
int clb_ws_port(const struct clb_ws *w);

/* Connected WebSocket clients (handshake done), for the metrics gauge. Any
 * thread. */
int clb_ws_clients(const struct clb_ws *w);

/* Bytes of messages waiting in all client queues (each queued reference
 * counted), for the metrics gauge and tests. Any thread. */
size_t clb_ws_queued_bytes(const struct clb_ws *w);

/* Closes every connection with 1001 (giving them up to 500 ms to go), stops
 * the thread and frees everything. NULL is a no-op. Not from the service
 * thread. */
void clb_ws_stop(struct clb_ws *w);

#endif
