/*
 * debug_console.c — the operator's line console (see debug_console.h).
 *
 * One thread, one poll() over the listening socket, a self-pipe (stop) and
 * up to CLB_CONSOLE_MAX_CLIENTS sessions. Sockets are non-blocking; each
 * session has a fixed input line buffer and an output buffer capped at
 * CONSOLE_OUT_MAX (a session that lets more pile up unread is dropped).
 * Telnet option negotiation bytes (IAC ...) and carriage returns are
 * skipped, so both nc and telnet work.
 */
#include "debug_console.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "error.h"

#include "auth.h"

#define CONSOLE_OUT_MAX ((size_t)1 << 20)
#define CONSOLE_TOKEN_TIMEOUT_MS 30000
#define CONSOLE_CALL_TIMEOUT_MS 5000
#define CONSOLE_MAX_ROWS 200
#define CONSOLE_BOOK_DEFAULT 10
#define CONSOLE_BOOK_MAX 100
#define CONSOLE_ARGS_MAX 8

enum session_state { S_FREE = 0, S_TOKEN, S_READY };

enum iac_state { IAC_NONE = 0, IAC_CMD, IAC_OPT, IAC_SB, IAC_SB_IAC };

struct session {
    int fd;
    enum session_state state;
    bool discarding;    /* dropping the rest of an over-long line */
    bool close_after;   /* close once the output is flushed */
    bool overflow;      /* output cap hit: the session is being dropped */
    enum iac_state iac;
    int64_t deadline_ms; /* token must arrive before this */
    size_t in_len;
    char in[CLB_CONSOLE_LINE_MAX + 1];
    char *out;
    size_t out_len, out_cap;
};

struct clb_console {
    struct clb_engine *engine;
    int listen_fd;
    int wake[2];
    int port;
    pthread_t thread;
    bool started;
    struct clb_auth *auth;
    struct session s[CLB_CONSOLE_MAX_CLIENTS];
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen,
                                                          const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- output ----------------------------------------------------------- */

static void out_append(struct session *s, const char *p, size_t n)
{
    if (s->overflow)
        return;
    if (s->out_len + n > CONSOLE_OUT_MAX) {
        /* Not reading its output: drop what is pending and the session. */
        s->overflow = true;
        s->out_len = 0;
        s->close_after = true;
        return;
    }
    if (s->out_len + n > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap : 4096;
        while (cap < s->out_len + n)
            cap *= 2;
        char *q = realloc(s->out, cap);
        if (!q) {
            s->close_after = true;
            return;
        }
        s->out = q;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, p, n);
    s->out_len += n;
}

__attribute__((format(printf, 2, 3))) static void out_printf(struct session *s,
                                                             const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof buf)
        n = (int)sizeof buf - 1;
    out_append(s, buf, (size_t)n);
}

/* Writes what the socket takes. Returns -1 when the session must end. */
static int session_flush(struct session *s)
{
    size_t off = 0;
    while (off < s->out_len) {
        ssize_t w = send(s->fd, s->out + off, s->out_len - off, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            return -1;
        }
        off += (size_t)w;
    }
    if (off) {
        memmove(s->out, s->out + off, s->out_len - off);
        s->out_len -= off;
    }
    return (s->close_after && !s->out_len) ? -1 : 0;
}

static void session_end(struct session *s)
{
    if (s->fd >= 0)
        close(s->fd);
    free(s->out);
    memset(s, 0, sizeof *s);
    s->fd = -1;
}

/* ---- JSON formatting helpers ------------------------------------------ */

/* A scalar as text (strings bare); "-" for missing. */
static const char *jtext(const json_t *v, char *buf, size_t cap)
{
    if (!v || json_is_null(v))
        return "-";
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, cap, "%.10g", json_real_value(v));
        return buf;
    }
    if (json_is_boolean(v))
        return json_is_true(v) ? "true" : "false";
    char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    snprintf(buf, cap, "%s", t ? t : "?");
    free(t);
    return buf;
}

#define JT(obj, key, buf) jtext(json_object_get((obj), (key)), (buf), sizeof(buf))

static void out_json(struct session *s, const json_t *v)
{
    char *t = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (t) {
        out_append(s, t, strlen(t));
        out_append(s, "\n", 1);
        free(t);
    }
}

/* ---- commands --------------------------------------------------------- */

static void cmd_help(struct session *s)
{
    static const char text[] =
        "commands:\n"
        "  help                         this list\n"
        "  status                       engine, clock and connectors\n"
        "  strategies                   strategies and their state\n"
        "  orders                       live and recent orders\n"
        "  book CONNECTOR MARKET [N]    top N levels of a book (default 10, max 100)\n"
        "  indicators STRATEGY          a strategy's indicators (id or name)\n"
        "  set STRATEGY PARAM VALUE     change one strategy parameter\n"
        "  log LEVEL                    debug | info | warn | error\n"
        "  quit                         end this session\n";
    out_append(s, text, sizeof text - 1);
}

static json_t *snapshot_or_error(struct clb_console *c, struct session *s, const char *name)
{
    json_t *snap = clb_engine_snapshot(c->engine, name);
    if (!snap)
        out_printf(s, "error: no %s published yet\n", name);
    return snap;
}

static void cmd_status(struct clb_console *c, struct session *s)
{
    char b1[64], b2[64], b3[64], b4[64];
    json_t *st = snapshot_or_error(c, s, "status");
    if (!st)
        return;
    json_t *clock = json_object_get(st, "clock");
    out_printf(s, "version %s  uptime %s s\n", JT(st, "version", b1), JT(st, "uptime_s", b2));
    if (clock)
        out_printf(s, "clock   mode %s  tick %s ms  now %s ms  ticks %s\n",
                   JT(clock, "mode", b1), JT(clock, "tick_ms", b2), JT(clock, "now_ms", b3),
                   JT(clock, "ticks", b4));
    json_t *conns = json_object_get(st, "connectors");
    size_t i;
    json_t *cn;
    out_printf(s, "connectors (%zu)\n", json_array_size(conns));
    json_array_foreach(conns, i, cn) {
        json_t *ready = json_object_get(cn, "ready");
        out_printf(s, "  %-16s %-10s %s\n", JT(cn, "name", b1), JT(cn, "type", b2),
                   json_is_true(ready) ? "ready" : "not ready");
    }
    json_t *strat = json_object_get(st, "strategies");
    if (strat)
        out_printf(s, "strategies  %s total, %s running\n", JT(strat, "total", b1),
                   JT(strat, "running", b2));
    json_decref(st);
}

static void cmd_strategies(struct clb_console *c, struct session *s)
{
    char b[6][64];
    json_t *list = snapshot_or_error(c, s, "strategies");
    if (!list)
        return;
    if (!json_array_size(list)) {
        out_printf(s, "no strategies\n");
        json_decref(list);
        return;
    }
    out_printf(s, "%-6s %-20s %-26s %-12s %-12s %s\n", "ID", "NAME", "TYPE", "CONNECTOR",
               "MARKET", "STATE");
    size_t i;
    json_t *st;
    json_array_foreach(list, i, st) {
        out_printf(s, "%-6s %-20s %-26s %-12s %-12s %s\n", JT(st, "id", b[0]),
                   JT(st, "name", b[1]), JT(st, "type", b[2]), JT(st, "connector", b[3]),
                   JT(st, "market", b[4]), JT(st, "state", b[5]));
    }
    json_decref(list);
}

static void cmd_orders(struct clb_console *c, struct session *s)
{
    char b[10][64];
    json_t *list = snapshot_or_error(c, s, "orders");
    if (!list)
        return;
    size_t n = json_array_size(list);
    if (!n) {
        out_printf(s, "no orders\n");
        json_decref(list);
        return;
    }
    out_printf(s, "%-32s %-10s %-12s %-4s %-6s %14s %14s %14s %-16s %s\n", "CLIENT_ORDER_ID",
               "CONNECTOR", "MARKET", "SIDE", "TYPE", "PRICE", "AMOUNT", "EXECUTED", "STATE",
               "STRATEGY");
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) {
        if (i == CONSOLE_MAX_ROWS) {
            out_printf(s, "... %zu more\n", n - i);
            break;
        }
        out_printf(s, "%-32s %-10s %-12s %-4s %-6s %14s %14s %14s %-16s %s\n",
                   JT(o, "client_order_id", b[0]), JT(o, "connector", b[1]),
                   JT(o, "market", b[2]), JT(o, "side", b[3]), JT(o, "type", b[4]),
                   JT(o, "price", b[5]), JT(o, "amount", b[6]), JT(o, "executed", b[7]),
                   JT(o, "state", b[8]), JT(o, "strategy", b[9]));
    }
    json_decref(list);
}

static bool parse_count(const char *t, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(t, &end, 10);
    if (errno || *end || end == t)
        return false;
    *out = v;
    return true;
}

static void cmd_book(struct clb_console *c, struct session *s, int argc, char **argv)
{
    long depth = CONSOLE_BOOK_DEFAULT;
    if (argc < 3 || argc > 4) {
        out_printf(s, "error: usage: book CONNECTOR MARKET [N]\n");
        return;
    }
    if (argc == 4 && (!parse_count(argv[3], &depth) || depth < 1 || depth > CONSOLE_BOOK_MAX)) {
        out_printf(s, "error: N must be an integer in [1, %d]\n", CONSOLE_BOOK_MAX);
        return;
    }
    char name[256];
    if ((size_t)snprintf(name, sizeof name, "book:%s:%s", argv[1], argv[2]) >= sizeof name) {
        out_printf(s, "error: names too long\n");
        return;
    }
    json_t *book = clb_engine_snapshot(c->engine, name);
    if (!book) {
        out_printf(s, "error: no book for %s %s\n", argv[1], argv[2]);
        return;
    }
    char b1[64], b2[64], b3[64], b4[64];
    json_t *bids = json_object_get(book, "bids"), *asks = json_object_get(book, "asks");
    out_printf(s, "book %s %s  update %s  ts %s ms\n", argv[1], argv[2],
               JT(book, "update_id", b1), JT(book, "ts_ms", b2));
    out_printf(s, "%16s %16s | %-16s %s\n", "BID QTY", "BID", "ASK", "ASK QTY");
    size_t nb = json_array_size(bids), na = json_array_size(asks);
    for (size_t i = 0; i < (size_t)depth && (i < nb || i < na); i++) {
        json_t *bl = json_array_get(bids, i), *al = json_array_get(asks, i);
        out_printf(s, "%16s %16s | %-16s %s\n",
                   bl ? jtext(json_array_get(bl, 1), b1, sizeof b1) : "",
                   bl ? jtext(json_array_get(bl, 0), b2, sizeof b2) : "",
                   al ? jtext(json_array_get(al, 0), b3, sizeof b3) : "",
                   al ? jtext(json_array_get(al, 1), b4, sizeof b4) : "");
    }
    if (!nb && !na)
        out_printf(s, "(empty)\n");
    json_decref(book);
}

static bool all_digits(const char *t)
{
    if (!*t)
        return false;
    for (; *t; t++)
        if (*t < '0' || *t > '9')
            return false;
    return true;
}

/* The engine's id for a strategy given by id or name (new reference), or
 * NULL after printing an error. */
static json_t *resolve_strategy(struct clb_console *c, struct session *s, const char *arg)
{
    json_t *list = clb_engine_snapshot(c->engine, "strategies");
    json_t *found = NULL;
    size_t i;
    json_t *st;
    json_array_foreach(list, i, st) {
        json_t *id = json_object_get(st, "id");
        const char *name = json_string_value(json_object_get(st, "name"));
        bool match = (json_is_string(id) && !strcmp(json_string_value(id), arg)) ||
                     (json_is_integer(id) && all_digits(arg) &&
                      json_integer_value(id) == strtoll(arg, NULL, 10)) ||
                     (name && !strcmp(name, arg));
        if (match) {
            found = json_incref(id);
            break;
        }
    }
    bool had_list = list != NULL;
    json_decref(list);
    if (found)
        return found;
    if (!had_list) /* nothing to check against: let the engine decide */
        return all_digits(arg) ? json_integer(strtoll(arg, NULL, 10)) : json_string(arg);
    out_printf(s, "error: no strategy '%s'\n", arg);
    return NULL;
}

/* Runs an engine command; prints the error and returns NULL on failure. */
static json_t *call_engine(struct clb_console *c, struct session *s, const char *method,
                           json_t *params)
{
    json_t *result = NULL;
    char err[256] = "";
    int rc = clb_engine_call(c->engine, method, params, &result, err, sizeof err,
                             CONSOLE_CALL_TIMEOUT_MS);
    if (rc != CLB_OK) {
        out_printf(s, "error: %s: %s\n", clb_err_name(rc), *err ? err : clb_strerror(rc));
        return NULL;
    }
    return result ? result : json_object();
}

static void cmd_indicators(struct clb_console *c, struct session *s, int argc, char **argv)
{
    if (argc != 2) {
        out_printf(s, "error: usage: indicators STRATEGY\n");
        return;
    }
    json_t *id = resolve_strategy(c, s, argv[1]);
    if (!id)
        return;
    json_t *params = json_pack("{s:o}", "id", id);
    json_t *res = call_engine(c, s, "indicators", params);
    json_decref(params);
    if (!res)
        return;
    if (json_is_object(res)) {
        const char **keys = calloc(json_object_size(res) + 1, sizeof *keys);
        size_t n = 0;
        const char *k;
        json_t *v;
        json_object_foreach(res, k, v) {
            if (keys)
                keys[n++] = k;
        }
        /* Sorted for a stable display. */
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
                const char *t = keys[j];
                keys[j] = keys[j - 1];
                keys[j - 1] = t;
            }
        for (size_t i = 0; i < n; i++) {
            char b[128];
            out_printf(s, "%-28s %s\n", keys[i], JT(res, keys[i], b));
        }
        if (!n)
            out_printf(s, "no indicators\n");
        free(keys);
    } else {
        out_json(s, res);
    }
    json_decref(res);
}

static void cmd_set(struct clb_console *c, struct session *s, int argc, char **argv)
{
    if (argc != 4) {
        out_printf(s, "error: usage: set STRATEGY PARAM VALUE\n");
        return;
    }
    json_t *id = resolve_strategy(c, s, argv[1]);
    if (!id)
        return;
    json_t *value = json_loads(argv[3], JSON_DECODE_ANY, NULL);
    if (!value || json_is_object(value) || json_is_array(value) || json_is_null(value)) {
        json_decref(value);
        value = json_string(argv[3]);
    }
    json_t *params = json_pack("{s:o, s:{s:o}}", "id", id, "params", argv[2], value);
    json_t *res = params ? call_engine(c, s, "strategy.update", params) : NULL;
    json_decref(params);
    if (!res)
        return;
    json_t *p = json_object_get(json_object_get(res, "params"), argv[2]);
    char b[128];
    out_printf(s, "ok: %s %s = %s\n", argv[1], argv[2], p ? jtext(p, b, sizeof b) : argv[3]);
    json_decref(res);
}

static void cmd_log(struct clb_console *c, struct session *s, int argc, char **argv)
{
    if (argc != 2) {
        out_printf(s, "error: usage: log LEVEL (debug | info | warn | error)\n");
        return;
    }
    json_t *params = json_pack("{s:s}", "level", argv[1]);
    json_t *res = call_engine(c, s, "log.level", params);
    json_decref(params);
    if (!res)
        return;
    out_printf(s, "ok: log level %s\n", argv[1]);
    json_decref(res);
}

/* Splits on spaces and tabs in place. Returns argc, or -1 if too many. */
static int split_args(char *line, char **argv)
{
    int argc = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return argc;
        if (argc == CONSOLE_ARGS_MAX)
            return -1;
        argv[argc++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static void session_command(struct clb_console *c, struct session *s, char *line)
{
    char *argv[CONSOLE_ARGS_MAX];
    int argc = split_args(line, argv);
    if (argc < 0) {
        out_printf(s, "error: too many arguments\n> ");
        return;
    }
    if (argc == 0) {
        out_printf(s, "> ");
        return;
    }
    const char *cmd = argv[0];
    if (!strcmp(cmd, "quit") || !strcmp(cmd, "exit")) {
        out_printf(s, "bye\n");
        s->close_after = true;
        return;
    } else if (!strcmp(cmd, "help") || !strcmp(cmd, "?")) {
        cmd_help(s);
    } else if (!strcmp(cmd, "status")) {
        cmd_status(c, s);
    } else if (!strcmp(cmd, "strategies")) {
        cmd_strategies(c, s);
    } else if (!strcmp(cmd, "orders")) {
        cmd_orders(c, s);
    } else if (!strcmp(cmd, "book")) {
        cmd_book(c, s, argc, argv);
    } else if (!strcmp(cmd, "indicators")) {
        cmd_indicators(c, s, argc, argv);
    } else if (!strcmp(cmd, "set")) {
        cmd_set(c, s, argc, argv);
    } else if (!strcmp(cmd, "log")) {
        cmd_log(c, s, argc, argv);
    } else {
        out_printf(s, "error: unknown command '%.64s' (try 'help')\n", cmd);
    }
    out_printf(s, "> ");
}

static void session_token(struct clb_console *c, struct session *s, char *line)
{
    char *tok = line;
    while (*tok == ' ' || *tok == '\t')
        tok++;
    size_t n = strlen(tok);
    while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
        tok[--n] = '\0';
    int retry = 0;
    enum clb_role role = CLB_ROLE_NONE;
    int64_t now = wall_ms();
    if (!c->auth) {
        out_printf(s, "error: no token store configured\n");
    } else if (clb_auth_throttle_check(c->auth, "console", now, &retry) != CLB_OK) {
        out_printf(s, "error: too many failed attempts: retry in %d s\n", retry);
    } else if (clb_auth_verify(c->auth, tok, now / 1000, &role, NULL) != CLB_OK) {
        clb_auth_throttle_fail(c->auth, "console", now);
        out_printf(s, "error: invalid token\n");
    } else if (role != CLB_ROLE_ADMIN) {
        out_printf(s, "error: an admin token is required\n");
    } else {
        s->state = S_READY;
        out_printf(s, "colibri debug console: type 'help' for commands\n> ");
        return;
    }
    s->close_after = true;
}

/* Feeds received bytes through the telnet filter into lines. */
static void session_input(struct clb_console *c, struct session *s, const unsigned char *p,
                          size_t n)
{
    for (size_t i = 0; i < n && !s->close_after; i++) {
        unsigned char ch = p[i];
        switch (s->iac) {
        case IAC_CMD:
            s->iac = (ch >= 251 && ch <= 254) ? IAC_OPT : ch == 250 ? IAC_SB : IAC_NONE;
            continue;
        case IAC_OPT:
            s->iac = IAC_NONE;
            continue;
        case IAC_SB:
            if (ch == 255)
                s->iac = IAC_SB_IAC;
            continue;
        case IAC_SB_IAC:
            s->iac = ch == 240 ? IAC_NONE : IAC_SB;
            continue;
        case IAC_NONE:
            break;
        }
        if (ch == 255) {
            s->iac = IAC_CMD;
            continue;
        }
        if (ch == '\r' || ch == '\0')
            continue;
        if (ch == 4 && s->in_len == 0) { /* Ctrl-D on an empty line */
            s->close_after = true;
            return;
        }
        if (ch != '\n') {
            if (s->discarding)
                continue;
            if (s->in_len == CLB_CONSOLE_LINE_MAX) {
                out_printf(s, "error: line too long (max %d bytes)\n", CLB_CONSOLE_LINE_MAX);
                s->in_len = 0;
                if (s->state == S_TOKEN) {
                    s->close_after = true;
                    return;
                }
                s->discarding = true;
                continue;
            }
            s->in[s->in_len++] = (char)ch;
            continue;
        }
        if (s->discarding) {
            s->discarding = false;
            out_printf(s, "> ");
            continue;
        }
        s->in[s->in_len] = '\0';
        s->in_len = 0;
        if (s->state == S_TOKEN)
            session_token(c, s, s->in);
        else
            session_command(c, s, s->in);
    }
}

/* ---- the loop --------------------------------------------------------- */

static void console_accept(struct clb_console *c)
{
    for (;;) {
        int fd = accept(c->listen_fd, NULL, NULL);
        if (fd < 0)
            return; /* EAGAIN or a transient error: poll will tell again */
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
            close(fd);
            continue;
        }
        struct session *s = NULL;
        for (int i = 0; i < CLB_CONSOLE_MAX_CLIENTS && !s; i++)
            if (c->s[i].state == S_FREE && c->s[i].fd < 0)
                s = &c->s[i];
        if (!s) {
            static const char busy[] = "error: too many console sessions\n";
            ssize_t w = send(fd, busy, sizeof busy - 1, MSG_NOSIGNAL);
            (void)w;
            close(fd);
            continue;
        }
        s->fd = fd;
        s->state = S_TOKEN;
        s->deadline_ms = mono_ms() + CONSOLE_TOKEN_TIMEOUT_MS;
        out_printf(s, "token: ");
        if (session_flush(s))
            session_end(s);
    }
}

static void *console_main(void *arg)
{
    struct clb_console *c = arg;
    struct pollfd pf[2 + CLB_CONSOLE_MAX_CLIENTS];
    for (;;) {
        int n = 0, map[CLB_CONSOLE_MAX_CLIENTS];
        pf[n++] = (struct pollfd){.fd = c->wake[0], .events = POLLIN};
        pf[n++] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
        for (int i = 0; i < CLB_CONSOLE_MAX_CLIENTS; i++) {
            struct session *s = &c->s[i];
            if (s->fd < 0)
                continue;
            map[n - 2] = i;
            pf[n++] = (struct pollfd){
                .fd = s->fd, .events = (short)(POLLIN | (s->out_len ? POLLOUT : 0))};
        }
        int r = poll(pf, (nfds_t)n, 1000);
        if (r < 0 && errno != EINTR)
            break;
        if (pf[0].revents)
            break;
        if (r > 0 && (pf[1].revents & POLLIN))
            console_accept(c);
        int64_t now = mono_ms();
        for (int k = 2; k < n; k++) {
            struct session *s = &c->s[map[k - 2]];
            if (s->fd != pf[k].fd)
                continue;
            bool end = false;
            if (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) {
                unsigned char buf[4096];
                ssize_t got = recv(s->fd, buf, sizeof buf, 0);
                if (got > 0)
                    session_input(c, s, buf, (size_t)got);
                else if (got == 0 || (errno != EAGAIN && errno != EINTR))
                    end = true;
            }
            if (!end && s->state == S_TOKEN && now > s->deadline_ms) {
                out_printf(s, "\nerror: no token within %d s\n", CONSOLE_TOKEN_TIMEOUT_MS / 1000);
                s->close_after = true;
            }
            if (end || session_flush(s))
                session_end(s);
        }
    }
    return NULL;
}

static void console_free(struct clb_console *c)
{
    for (int i = 0; i < CLB_CONSOLE_MAX_CLIENTS; i++)
        if (c->s[i].fd >= 0)
            session_end(&c->s[i]);
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->wake[0] >= 0)
        close(c->wake[0]);
    if (c->wake[1] >= 0)
        close(c->wake[1]);
    clb_auth_destroy(c->auth);
    free(c);
}

int clb_console_start(struct clb_engine *e, const char *data_dir, const char *store_url, int port,
                      struct clb_console **out, char *err, size_t errlen)
{
    int rc = CLB_OK;
    if (!e || !out || port < 0 || port > 65535) {
        set_err(err, errlen, "console: invalid engine or port");
        return CLB_EINVAL;
    }
    *out = NULL;
    struct clb_console *c = calloc(1, sizeof *c);
    if (!c) {
        set_err(err, errlen, "console: out of memory");
        return CLB_ENOMEM;
    }
    c->engine = e;
    c->listen_fd = c->wake[0] = c->wake[1] = -1;
    for (int i = 0; i < CLB_CONSOLE_MAX_CLIENTS; i++)
        c->s[i].fd = -1;

    if (data_dir) {
        struct clb_token_store store;
        char serr[160] = "";
        rc = clb_token_store_open(data_dir, store_url, &store, serr, sizeof serr);
        if (rc == CLB_OK)
            rc = clb_auth_create(store, &c->auth);
        if (rc != CLB_OK) {
            set_err(err, errlen, "console: token store: %s",
                     rc == CLB_ENOMEM ? "out of memory" : serr);
            goto fail;
        }
    }

    c->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->listen_fd < 0) {
        set_err(err, errlen, "console: socket: %s", strerror(errno));
        rc = CLB_EIO;
        goto fail;
    }
    int one = 1;
    setsockopt(c->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(c->listen_fd, (struct sockaddr *)&sa, sizeof sa) ||
        listen(c->listen_fd, CLB_CONSOLE_MAX_CLIENTS)) {
        set_err(err, errlen, "console: cannot listen on 127.0.0.1:%d: %s", port,
                 strerror(errno));
        rc = CLB_EIO;
        goto fail;
    }
    socklen_t sl = sizeof sa;
    getsockname(c->listen_fd, (struct sockaddr *)&sa, &sl);
    c->port = ntohs(sa.sin_port);
    if (pipe(c->wake)) {
        c->wake[0] = c->wake[1] = -1;
        set_err(err, errlen, "console: pipe: %s", strerror(errno));
        rc = CLB_EIO;
        goto fail;
    }
    if (pthread_create(&c->thread, NULL, console_main, c)) {
        set_err(err, errlen, "console: cannot start its thread");
        rc = CLB_EIO;
        goto fail;
    }
    c->started = true;
    *out = c;
    return CLB_OK;

fail:
    console_free(c);
    return rc;
}

int clb_console_port(const struct clb_console *c)
{
    return c ? c->port : -1;
}

void clb_console_stop(struct clb_console *c)
{
    if (!c)
        return;
    if (c->started) {
        ssize_t w = write(c->wake[1], "x", 1);
        (void)w;
        pthread_join(c->thread, NULL);
    }
    console_free(c);
}
