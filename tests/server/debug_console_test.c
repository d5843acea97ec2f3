/*
 * debug_console_test.c — the line console against a real engine (paper
 * market), spoken to over a plain TCP socket the way nc would.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "debug_console.h"
#include "engine.h"
#include "error.h"

#include "mutate.h"

struct fixture {
    char dir[64];
    char tok_read[CLB_TOKEN_TEXT_LEN + 1];
    char tok_admin[CLB_TOKEN_TEXT_LEN + 1];
    struct clb_engine *engine;
    struct clb_console *console;
    int port;
};

static void fixture_init(struct fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/clb-console-test-XXXXXX");
    cr_assert_not_null(mkdtemp(fx->dir));
    struct clb_token_store store;
    struct clb_auth *a;
    char err[256];
    cr_assert_eq(clb_token_store_open(fx->dir, NULL, &store, err, sizeof err), CLB_OK, "%s", err);
    cr_assert_eq(clb_auth_create(store, &a), CLB_OK);
    cr_assert_eq(clb_auth_token_create(a, "reader", CLB_ROLE_READ, time(NULL), fx->tok_read, NULL),
                 CLB_OK);
    cr_assert_eq(
        clb_auth_token_create(a, "boss", CLB_ROLE_ADMIN, time(NULL), fx->tok_admin, NULL),
        CLB_OK);
    clb_auth_destroy(a);

    struct clb_engine_config ec;
    clb_engine_config_default(&ec);
    cr_assert_eq(clb_engine_create(&ec, &fx->engine, err, sizeof err), CLB_OK, "%s", err);
    cr_assert_eq(clb_console_start(fx->engine, fx->dir, NULL, 0, &fx->console, err, sizeof err),
                 CLB_OK, "%s", err);
    fx->port = clb_console_port(fx->console);
    cr_assert_gt(fx->port, 0);
}

static void fixture_fini(struct fixture *fx)
{
    clb_console_stop(fx->console);
    clb_engine_shutdown(fx->engine, 2000);
    clb_engine_destroy(fx->engine);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", fx->dir);
    cr_assert_eq(system(cmd), 0);
}

/* ---- a tiny nc ---------------------------------------------------------- */

struct conn {
    int fd;
    char buf[1 << 16];
    size_t len;
    bool eof;
};

static void conn_open(struct conn *c, int port)
{
    memset(c, 0, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(c->fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s", strerror(errno));
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

static void conn_write(struct conn *c, const char *s, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(c->fd, s + off, n - off, MSG_NOSIGNAL);
        cr_assert_gt(w, 0, "send: %s", strerror(errno));
        off += (size_t)w;
    }
}

static void conn_send(struct conn *c, const char *line)
{
    conn_write(c, line, strlen(line));
    conn_write(c, "\n", 1);
}

/* Reads until buf ends with `end` (or EOF, or 5 s). Returns the text read
 * (valid until the next read); the buffer is then emptied. */
static const char *conn_until(struct conn *c, const char *end)
{
    static char out[1 << 16];
    size_t el = strlen(end);
    for (;;) {
        if (c->len >= el && !memcmp(c->buf + c->len - el, end, el))
            break;
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (poll(&p, 1, 5000) != 1)
            cr_assert_fail("timed out waiting for '%s'; got '%.*s'", end, (int)c->len, c->buf);
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len - 1, 0);
        if (r <= 0) {
            c->eof = true;
            break;
        }
        c->len += (size_t)r;
    }
    memcpy(out, c->buf, c->len);
    out[c->len] = '\0';
    c->len = 0;
    return out;
}

/* Expects the peer to close (after sending whatever it had). */
static const char *conn_until_eof(struct conn *c)
{
    return conn_until(c, "\x01never\x01");
}

static void login(struct fixture *fx, struct conn *c)
{
    conn_open(c, fx->port);
    cr_assert_str_eq(conn_until(c, "token: "), "token: ");
    conn_send(c, fx->tok_admin);
    const char *banner = conn_until(c, "> ");
    cr_assert(strstr(banner, "help"), "%s", banner);
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- tests -------------------------------------------------------------- */

Test(debug_console, wrong_token_refused)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn c;

    conn_open(&c, fx.port);
    cr_assert_str_eq(conn_until(&c, "token: "), "token: ");
    conn_send(&c, "clb_0000000000000000000000000000000000000000000000000000000000000000");
    const char *r = conn_until_eof(&c);
    cr_assert(c.eof);
    cr_assert(strstr(r, "error: invalid token"), "%s", r);
    conn_close(&c);

    /* A valid token without the admin role. */
    conn_open(&c, fx.port);
    conn_until(&c, "token: ");
    conn_send(&c, fx.tok_read);
    r = conn_until_eof(&c);
    cr_assert(c.eof);
    cr_assert(strstr(r, "admin"), "%s", r);
    conn_close(&c);

    /* Commands before the token are just a wrong token. */
    conn_open(&c, fx.port);
    conn_until(&c, "token: ");
    conn_send(&c, "status");
    r = conn_until_eof(&c);
    cr_assert(strstr(r, "error:") && !strstr(r, "version"), "%s", r);
    conn_close(&c);
    fixture_fini(&fx);
}

Test(debug_console, help_status_strategies_book)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn c;
    login(&fx, &c);

    conn_send(&c, "help");
    const char *r = conn_until(&c, "> ");
    cr_assert(strstr(r, "book CONNECTOR MARKET [N]") && strstr(r, "set STRATEGY PARAM VALUE"),
              "%s", r);

    conn_send(&c, "status");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "version") && strstr(r, "clock") && strstr(r, "paper"), "%s", r);

    conn_send(&c, "strategies");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "no strategies"), "%s", r);

    /* With a strategy: listed, its indicators shown, a parameter set. */
    json_t *res = NULL;
    char err[256];
    json_t *p = json_loads("{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\","
                           " \"name\": \"mm\", \"start\": true, \"params\": {\"bid_spread\": 0.01,"
                           " \"ask_spread\": 0.01, \"order_amount\": 0.01}}",
                           0, NULL);
    cr_assert_eq(clb_engine_call(fx.engine, "strategy.create", p, &res, err, sizeof err, 5000),
                 CLB_OK, "%s", err);
    json_decref(p);
    json_decref(res);
    r = NULL;
    for (int i = 0; i < 50; i++) { /* the snapshot follows the command */
        conn_send(&c, "strategies");
        r = conn_until(&c, "> ");
        if (strstr(r, "mm"))
            break;
    }
    cr_assert(strstr(r, "NAME") && strstr(r, "mm") && strstr(r, "pure_market_making"), "%s", r);

    conn_send(&c, "indicators mm");
    r = conn_until(&c, "> ");
    cr_assert(!strstr(r, "error:") && count_lines(r) >= 1, "%s", r);
    conn_send(&c, "indicators 999");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "error: no strategy '999'"), "%s", r);

    conn_send(&c, "set mm bid_spread 0.02");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "ok: mm bid_spread = 0.02"), "%s", r);
    conn_send(&c, "set mm no_such_param 1");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "error: EINVAL") && strstr(r, "no_such_param"), "%s", r);
    conn_send(&c, "set ghost bid_spread 0.02");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "error: no strategy 'ghost'"), "%s", r);

    conn_send(&c, "book paper BTC-USDT 5");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "BID") && strstr(r, "ASK") && strstr(r, " | "), "%s", r);
    cr_assert_leq(count_lines(r), 2 + 5, "%s", r);
    cr_assert_geq(count_lines(r), 3, "%s", r);
    conn_send(&c, "book paper NOPE-USDT");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "error: no book"), "%s", r);
    conn_send(&c, "book paper BTC-USDT 0");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "error: N must be"), "%s", r);

    conn_send(&c, "orders");
    r = conn_until(&c, "> ");
    cr_assert(!strstr(r, "error:"), "%s", r);

    conn_send(&c, "log debug");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "ok: log level debug"), "%s", r);
    conn_send(&c, "log loud");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "error: EINVAL"), "%s", r);

    conn_send(&c, "launch rockets");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "error: unknown command 'launch'"), "%s", r);

    conn_send(&c, "quit");
    r = conn_until_eof(&c);
    cr_assert(c.eof && strstr(r, "bye"), "%s", r);
    conn_close(&c);
    fixture_fini(&fx);
}

Test(debug_console, long_line_rejected_session_survives)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn c;
    login(&fx, &c);

    char *big = malloc(10000);
    memset(big, 'a', 9999);
    big[9999] = '\0';
    conn_send(&c, big);
    const char *r = conn_until(&c, "> ");
    cr_assert(strstr(r, "error: line too long (max 4096 bytes)"), "%s", r);
    cr_assert(!strstr(r, "unknown command"), "the tail ran as a command: %s", r);
    conn_send(&c, "help");
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "commands:"), "%s", r);

    /* Exactly the maximum is fine (an unknown command, not a long line). */
    big[CLB_CONSOLE_LINE_MAX] = '\0';
    conn_send(&c, big);
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "unknown command") && !strstr(r, "too long"), "%s", r);

    /* Telnet negotiation bytes and CRLF are ignored. */
    conn_write(&c, "\xff\xfb\x01\xff\xfd\x03help\r\n", 12);
    r = conn_until(&c, "> ");
    cr_assert(strstr(r, "commands:"), "%s", r);
    free(big);

    /* A long token line ends an unauthenticated session. */
    struct conn t;
    conn_open(&t, fx.port);
    conn_until(&t, "token: ");
    char *tok = malloc(6000);
    memset(tok, 'x', 5999);
    tok[5999] = '\0';
    conn_send(&t, tok);
    r = conn_until_eof(&t);
    cr_assert(t.eof && strstr(r, "too long"), "%s", r);
    free(tok);
    conn_close(&t);
    conn_close(&c);
    fixture_fini(&fx);
}

/* Hostile command lines: 200 mutations of every command (characters
 * changed, runs deleted or doubled, words cut) each get an answer and a new
 * prompt; the session and the console survive and still answer `help`.
 * (quit/exit, which end a session by design, are skipped.) */
Test(debug_console, mutated_commands_each_get_an_answer, .timeout = 60)
{
    static const char *const seeds[] = {
        "help", "status", "strategies", "orders", "book paper BTC-USDT 5",
        "indicators 1", "set 1 bid_spread 0.5", "log debug", "log info", "book paper ETH-USDT",
    };
    struct fixture fx;
    fixture_init(&fx);
    struct conn c;
    login(&fx, &c);
    uint64_t r = 5;
    int sent = 0;
    while (sent < 200) {
        char line[256];
        snprintf(line, sizeof line, "%s", seeds[mut_rand(&r) % (sizeof seeds / sizeof *seeds)]);
        int rounds = 1 + (int)(mut_rand(&r) % 3);
        for (int k = 0; k < rounds; k++) {
            size_t len = strlen(line);
            size_t at = len ? mut_rand(&r) % len : 0;
            switch (mut_rand(&r) % 4) {
            case 0: /* a character changed (printable, or a tab) */
                if (len)
                    line[at] = mut_rand(&r) % 8 ? (char)(' ' + mut_rand(&r) % 95) : '\t';
                break;
            case 1: /* a run deleted */
                if (len > 1) {
                    size_t n = 1 + mut_rand(&r) % (len - at);
                    memmove(line + at, line + at + n, len - at - n + 1);
                }
                break;
            case 2: /* a run doubled */
                if (len && 2 * len < sizeof line) {
                    size_t n = 1 + mut_rand(&r) % (len - at);
                    memmove(line + at + n, line + at, len - at + 1);
                }
                break;
            default: /* cut */
                line[at] = '\0';
                break;
            }
        }
        char first[16] = "";
        sscanf(line, "%15s", first);
        if (!strcmp(first, "quit") || !strcmp(first, "exit"))
            continue;
        conn_send(&c, line);
        const char *out = conn_until(&c, "> ");
        cr_assert(!c.eof, "the console closed the session after '%s'", line);
        cr_assert(strlen(out) >= 2, "no answer to '%s'", line);
        sent++;
    }
    conn_send(&c, "help");
    const char *out = conn_until(&c, "> ");
    cr_assert(strstr(out, "commands:"), "%s", out);
    struct conn d;
    login(&fx, &d);
    conn_close(&d);
    conn_close(&c);
    fixture_fini(&fx);
}

Test(debug_console, bounded_sessions_and_stop)
{
    struct fixture fx;
    fixture_init(&fx);
    struct conn c[CLB_CONSOLE_MAX_CLIENTS + 1];
    for (int i = 0; i < CLB_CONSOLE_MAX_CLIENTS; i++) {
        conn_open(&c[i], fx.port);
        conn_until(&c[i], "token: ");
    }
    conn_open(&c[CLB_CONSOLE_MAX_CLIENTS], fx.port);
    const char *r = conn_until_eof(&c[CLB_CONSOLE_MAX_CLIENTS]);
    cr_assert(strstr(r, "too many"), "%s", r);
    conn_close(&c[CLB_CONSOLE_MAX_CLIENTS]);

    /* A freed slot is reusable. */
    conn_close(&c[0]);
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
    login(&fx, &c[0]);

    /* Stop closes every session. */
    clb_console_stop(fx.console);
    fx.console = NULL;
    for (int i = 0; i < CLB_CONSOLE_MAX_CLIENTS; i++) {
        conn_until_eof(&c[i]);
        cr_assert(c[i].eof);
        conn_close(&c[i]);
    }
    fixture_fini(&fx);
}

Test(debug_console, start_errors)
{
    struct clb_console *con = NULL;
    char err[256];
    cr_assert_eq(clb_console_start(NULL, NULL, NULL, 0, &con, err, sizeof err), CLB_EINVAL);
    struct fixture fx;
    fixture_init(&fx);
    cr_assert_eq(clb_console_start(fx.engine, fx.dir, NULL, -1, &con, err, sizeof err), CLB_EINVAL);
    cr_assert_eq(clb_console_start(fx.engine, fx.dir, NULL, fx.port, &con, err, sizeof err), CLB_EIO);
    cr_assert(strstr(err, "cannot listen"), "%s", err);
    cr_assert_null(con);
    fixture_fini(&fx);
}
