/*
 * debug_console.h — an operator's line console on 127.0.0.1 (off unless
 * `serve` is asked for it), for `nc 127.0.0.1 8211` or telnet.
 *
 * A session starts with the prompt "token: "; an admin token (auth.h)
 * unlocks it, anything else gets "error: ..." and the connection is closed
 * (failed attempts are throttled like the REST API's). Then one command per
 * line, each answered with its output and the prompt "> ":
 *   help | status | strategies | orders | book CONNECTOR MARKET [N] |
 *   indicators STRATEGY | set STRATEGY PARAM VALUE | log LEVEL | quit
 * STRATEGY is a strategy's id or name. VALUE is sent as a JSON number,
 * true/false or quoted string when it parses as one, else as a string.
 * Failures answer "error: ..." on one line. Lines are at most
 * CLB_CONSOLE_LINE_MAX bytes (longer ones are discarded with an error), at
 * most CLB_CONSOLE_MAX_CLIENTS sessions exist at once, and a session that
 * has not sent its token within 30 s is closed.
 *
 * One thread serves every session with poll(); commands reach the engine
 * through clb_engine_call (commands) and clb_engine_snapshot (reads), so
 * a slow command delays the console only, never the engine.
 */
#ifndef CLB_DEBUG_CONSOLE_H
#define CLB_DEBUG_CONSOLE_H

#include <stddef.h>

#define CLB_CONSOLE_DEFAULT_PORT 8211
#define CLB_CONSOLE_LINE_MAX 4096
#define CLB_CONSOLE_MAX_CLIENTS 8

struct clb_engine;
struct clb_console;

/* Listens on 127.0.0.1:port (0 = an ephemeral port, see clb_console_port)
 * and starts the console thread. e is borrowed and must outlive the
 * console; data_dir and store_url name the token store (clb_token_store_open;
 * data_dir NULL: every token is refused).
 * CLB_EINVAL (bad port or NULL engine), CLB_EIO (cannot bind, or token store
 * unreadable), CLB_ENOMEM, with a one-line message in err; nothing is left
 * running on failure. */
int clb_console_start(struct clb_engine *e, const char *data_dir, const char *store_url, int port,
                      struct clb_console **out, char *err, size_t errlen);

/* The port actually listened on. Any thread. */
int clb_console_port(const struct clb_console *c);

/* Closes every session, stops the thread, frees everything. NULL is a
 * no-op. */
void clb_console_stop(struct clb_console *c);

#endif
