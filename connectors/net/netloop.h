/*
 * netloop.h — the worker thread's one event loop for exchange transports.
 *
 * A netloop owns a libcurl multi handle (REST, http_client.h), a
 * libwebsockets client context (WebSockets, ws_client.h) and a small set of
 * one-shot timers. clb_netloop_poll() waits in ONE poll() on every socket of
 * both libraries plus the caller's extra fds (the engine's command eventfd),
 * then services what is ready: callbacks of requests, WebSockets and timers
 * all run inside clb_netloop_poll(), on the calling thread.
 *
 * Design: libcurl is driven with CURLMOPT_SOCKETFUNCTION/TIMERFUNCTION (its
 * sockets go straight into the poll set). Debian's libwebsockets 4.1.6 is
 * built without LWS_WITH_EXTERNAL_POLL (the ADD/DEL/CHANGE_MODE_POLL_FD
 * callbacks are never delivered), so lws runs on a private libuv loop
 * ("foreign loop", LWS_SERVER_OPTION_LIBUV) whose epoll backend fd
 * (uv_backend_fd) sits in the same poll set and whose next timer
 * (uv_backend_timeout) bounds the poll timeout; uv_run(UV_RUN_NOWAIT)
 * then services lws. Nothing here blocks except the poll itself (REST
 * uses curl's threaded resolver; ws_client.c resolves names on a helper
 * thread because lws 4.1 would call getaddrinfo() inline).
 *
 * Runtime dependency: lws loads its libuv support as a plugin
 * (Debian package libwebsockets-evlib-uv, pulled in by libwebsockets-dev);
 * without it clb_netloop_create fails with CLB_EIO.
 *
 * Threading: a netloop and everything created on it belong to one thread.
 */
#ifndef CLB_NETLOOP_H
#define CLB_NETLOOP_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

struct clb_netloop;

struct clb_netloop_config {
    const char *ca_file;       /* PEM CA bundle for TLS (REST and WS); NULL = system CAs.
                                  Copied at create. */
    size_t max_http_body;      /* default response body bound (0 = 8 MiB) */
    uint32_t max_requests;     /* REST requests in flight (0 = 256) */
    uint32_t max_timers;       /* pending timers (0 = 1024) */
    uint32_t max_extra_fds;    /* bound on n_extra in clb_netloop_poll (0 = 64) */
};

/* Fills *cfg with the defaults (all zero/NULL). */
void clb_netloop_config_default(struct clb_netloop_config *cfg);

/* Creates a loop. cfg may be NULL (defaults). Returns CLB_OK, CLB_ENOMEM, or
 * CLB_EIO when libcurl, libuv or libwebsockets fail to initialise (also when
 * ca_file is set but unreadable: CLB_EINVAL). The caller owns *out. */
int clb_netloop_create(const struct clb_netloop_config *cfg, struct clb_netloop **out);

/* Cancels every pending request (their callbacks do not fire), closes every
 * socket and frees l. WebSocket clients must be destroyed first. NULL is a
 * no-op. Not from inside a callback of this loop. */
void clb_netloop_destroy(struct clb_netloop *l);

/* Waits up to timeout_ms (< 0: until something happens) on every socket of
 * the loop PLUS extra[0..n_extra) (events as set by the caller), services
 * whatever is ready (callbacks run inside this call, on this thread), fires
 * due timers and fills extra[i].revents. Returns the number of extra fds
 * with revents != 0 (>= 0), or CLB_EINVAL (n_extra above max_extra_fds,
 * extra NULL with n_extra > 0, or called recursively from a callback),
 * CLB_ENOMEM, CLB_EIO (poll failed for another reason than EINTR). One
 * call is one round: it may return 0 before timeout_ms when only the
 * loop's own sockets or timers were serviced (callers loop anyway). A
 * timeout or EINTR returns 0. */
int clb_netloop_poll(struct clb_netloop *l, struct pollfd *extra, size_t n_extra, int timeout_ms);

typedef void (*clb_netloop_timer_fn)(void *ud);

/* Schedules fn(ud) once, delay_ms (>= 0) from now, from inside a later
 * clb_netloop_poll(). Returns CLB_OK with a nonzero id in *id_out (may be
 * NULL), CLB_EINVAL (fn NULL, delay < 0) or CLB_EFULL (max_timers pending).
 * Timers added by a timer callback fire at the earliest in the next poll. */
int clb_netloop_timer_add(struct clb_netloop *l, int64_t delay_ms, clb_netloop_timer_fn fn,
                          void *ud, uint64_t *id_out);

/* Cancels a pending timer: CLB_OK, or CLB_ENOTFOUND (already fired,
 * cancelled, or never existed). Safe from inside callbacks. */
int clb_netloop_timer_cancel(struct clb_netloop *l, uint64_t id);

/* CLOCK_MONOTONIC in nanoseconds. Thread-safe. */
int64_t clb_netloop_mono_ns(void);

#endif
