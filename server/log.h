/*
 * log.h — the server's logger: one line per message,
 *
 *     2024-05-01T12:00:00.123Z INFO strategy 1 (pmm-btc) started
 *
 * written to a stream (stderr in `colibri serve`) and handed to an optional
 * sink (the engine appends every line to its "logs" event topic, so
 * dashboards can follow the log over WebSocket).
 *
 * A logger is a heap object passed explicitly (no global logger). Every
 * function is thread-safe: the worker, HTTP and WebSocket threads log
 * through the same instance. One mutex serialises the write and the sink
 * call, so lines never interleave; messages are truncated to
 * CLB_LOG_LINE_MAX bytes. The level check before formatting is a relaxed
 * atomic read, so a disabled debug line costs almost nothing.
 */
#ifndef CLB_LOG_H
#define CLB_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log_hook.h" /* enum clb_log_level */

#define CLB_LOG_LINE_MAX 1024 /* message bytes kept, NUL included */

struct clb_log;

/* Receives each line that passed the level filter: the wall time in ms
 * since the epoch, the level and the message (without timestamp, level or
 * newline). Called with the logger's mutex held, on the logging thread:
 * it must not log itself. */
typedef void (*clb_log_sink_fn)(void *ud, int64_t ts_ms, enum clb_log_level level,
                                const char *msg);

/* Creates a logger writing to `out` (borrowed, may be NULL for no stream
 * output) at `level` and above. CLB_OK, CLB_EINVAL (bad level), CLB_ENOMEM. */
int clb_log_create(FILE *out, enum clb_log_level level, struct clb_log **log);
void clb_log_destroy(struct clb_log *log);

/* Replaces the sink (fn NULL removes it). Returns only once no call of the
 * previous sink is running. */
void clb_log_set_sink(struct clb_log *log, clb_log_sink_fn fn, void *ud);

void clb_log_set_level(struct clb_log *log, enum clb_log_level level);
enum clb_log_level clb_log_get_level(const struct clb_log *log);

/* Logs one message (printf format). A NULL logger is accepted and ignored,
 * so optional loggers need no checks at call sites. */
void clb_logf(struct clb_log *log, enum clb_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void clb_vlogf(struct clb_log *log, enum clb_log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/* "debug" / "info" / "warn" / "error" ("unknown" otherwise). */
const char *clb_log_level_name(enum clb_log_level level);

/* Parses a level name ("warning" is accepted for warn), case-sensitive.
 * CLB_OK or CLB_EINVAL (*out untouched). */
int clb_log_level_parse(const char *name, enum clb_log_level *out);

/* Formats ts_ms as "2024-05-01T12:00:00.123Z" into buf (cap >= 25).
 * Returns the length, or CLB_ERANGE. */
int clb_log_format_time(int64_t ts_ms, char *buf, size_t cap);

#endif
