/*
 * log_hook.h — the levels of a log line, and the hook through which a
 * component outside the server (a connector) logs without knowing the
 * server's logger (server/log.h).
 *
 * The owner passes a hook and its user data in the component's config; the
 * component formats its message (without a trailing newline) and calls the
 * hook on its own thread. With no hook, components write to stderr.
 */
#ifndef CLB_LOG_HOOK_H
#define CLB_LOG_HOOK_H

enum clb_log_level {
    CLB_LOG_DEBUG = 0,
    CLB_LOG_INFO,
    CLB_LOG_WARN,
    CLB_LOG_ERROR
};

typedef void (*clb_log_hook_fn)(void *ud, enum clb_log_level level, const char *msg);

#endif
