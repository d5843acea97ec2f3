/*
 * net_test.c — connectors/net against real peers: colibri-simex started
 * in-process on an ephemeral port (plain and TLS), and, for behaviour a
 * well-behaved server never shows (a peer that stops answering, a message
 * split into fragments, an oversized one), a minimal raw WebSocket peer on
 * a thread. Every test drives one netloop on the test thread.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "error.h"
#include "http_client.h"
#include "net_url.h"
#include "netloop.h"
#include "simex.h"
#include "ws_client.h"

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */

struct sim {
    struct clb_simex *s;
    pthread_t th;
    int port;
};

static void *sim_thread(void *arg)
{
    clb_simex_run(arg);
    return NULL;
}

static void sim_start(struct sim *t, bool tls, bool live)
{
    struct clb_simex_config cfg;
    clb_simex_config_default(&cfg);
    cfg.port = 0;
    cfg.quiet = true;
    cfg.tls = tls;
    for (uint32_t i = 0; i < cfg.n_symbols; i++)
        cfg.symbols[i].live = live;
    char err[256];
    lws_set_log_level(LLL_ERR, NULL);
    cr_assert_eq(clb_simex_create(&cfg, &t->s, err, sizeof(err)), CLB_OK, "simex: %s", err);
    t->port = clb_simex_port(t->s);
    cr_assert_gt(t->port, 0);
    cr_assert_eq(pthread_create(&t->th, NULL, sim_thread, t->s), 0);
}

static void sim_stop(struct sim *t)
{
    clb_simex_stop(t->s);
    pthread_join(t->th, NULL);
    clb_simex_destroy(t->s);
}

/* The TLS simulator runs in a child process. libwebsockets 4.1 leaks a TLS
 * server context's SSL_CTX when another context created with
 * LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT (the netloop's client context) lives
 * in the same process at the same time; across processes nothing is
 * shared and ASan's leak check stays meaningful. */
struct simproc {
    pid_t pid;
    int port;
    char cert[512];
};

static struct clb_simex *child_sim;

static void child_term(int sig)
{
    (void)sig;
    if (child_sim)
        clb_simex_stop(child_sim);
}

static void simproc_start(struct simproc *p)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    p->pid = fork();
    cr_assert_geq(p->pid, 0);
    if (p->pid == 0) {
        close(fds[0]);
        struct clb_simex_config cfg;
        clb_simex_config_default(&cfg);
        cfg.port = 0;
        cfg.quiet = true;
        cfg.tls = true;
        char err[256], msg[600];
        lws_set_log_level(LLL_ERR, NULL);
        if (clb_simex_create(&cfg, &child_sim, err, sizeof(err)) != CLB_OK)
            _exit(2);
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = child_term;
        sigaction(SIGTERM, &sa, NULL);
        int n = snprintf(msg, sizeof(msg), "%d %s\n", clb_simex_port(child_sim),
                         clb_simex_cert_path(child_sim));
        if (write(fds[1], msg, (size_t)n) != n)
            _exit(3);
        close(fds[1]);
        clb_simex_run(child_sim);
        clb_simex_destroy(child_sim);
        _exit(0);
    }
    close(fds[1]);
    char buf[600] = "";
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(buf) - 1 && (r = read(fds[0], buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fds[0]);
    cr_assert_eq(sscanf(buf, "%d %511s", &p->port, p->cert), 2, "TLS simulator: '%s'", buf);
}

static void simproc_stop(struct simproc *p)
{
    kill(p->pid, SIGTERM);
    int st = 0;
    cr_expect_eq(waitpid(p->pid, &st, 0), p->pid);
    cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "TLS simulator exit status %d", st);
}

static struct clb_netloop *loop_new(const char *ca)
{
    struct clb_netloop_config cfg;
    clb_netloop_config_default(&cfg);
    cfg.ca_file = ca;
    struct clb_netloop *l = NULL;
    lws_set_log_level(LLL_ERR, NULL);
    cr_assert_eq(clb_netloop_create(&cfg, &l), CLB_OK);
    return l;
}

typedef bool (*pred_fn)(void *ud);

/* Polls until pred(ud) holds or ms elapse; returns pred's final value. */
static bool run_until(struct clb_netloop *l, pred_fn pred, void *ud, int ms)
{
    int64_t end = clb_netloop_mono_ns() + (int64_t)ms * 1000000;
    while (!pred(ud)) {
        if (clb_netloop_mono_ns() >= end)
            return false;
        cr_assert_geq(clb_netloop_poll(l, NULL, 0, 20), 0);
    }
    return true;
}

static void run_for(struct clb_netloop *l, int ms)
{
    int64_t end = clb_netloop_mono_ns() + (int64_t)ms * 1000000;
    while (clb_netloop_mono_ns() < end)
        cr_assert_geq(clb_netloop_poll(l, NULL, 0, 20), 0);
}

/* One REST answer, copied out of the callback. */
struct got {
    bool done;
    int calls;
    int rc, status;
    char body[8192];
    size_t body_len;
    char weight[32];
    char ctype[64];
    char error[256];
    long num_connects;
    bool absent_is_null;
    int64_t start_ns, sent_ns, done_ns;
};

static void on_done(void *ud, const struct clb_http_resp *r)
{
    struct got *g = ud;
    g->done = true;
    g->calls++;
    g->rc = r->rc;
    g->status = r->status;
    g->body_len = r->body_len;
    snprintf(g->body, sizeof(g->body), "%.*s", (int)r->body_len, r->body);
    const char *w = clb_http_resp_header(r, "x-mbx-used-weight-1m");
    snprintf(g->weight, sizeof(g->weight), "%s", w ? w : "");
    const char *ct = clb_http_resp_header(r, "CONTENT-TYPE");
    snprintf(g->ctype, sizeof(g->ctype), "%s", ct ? ct : "");
    snprintf(g->error, sizeof(g->error), "%s", r->error);
    g->num_connects = r->num_connects;
    g->absent_is_null = clb_http_resp_header(r, "x-not-sent") == NULL &&
                        clb_http_resp_header(r, "x-mbx-used-weight-1") == NULL &&
                        clb_http_resp_header(r, "") == NULL;
    g->start_ns = r->start_mono_ns;
    g->sent_ns = r->sent_mono_ns;
    g->done_ns = r->done_mono_ns;
}

static bool got_done(void *ud)
{
    return ((struct got *)ud)->done;
}

static void http_sync(struct clb_netloop *l, const char *method, const char *url,
                      const char *body, int timeout_ms, struct got *g)
{
    memset(g, 0, sizeof(*g));
    struct clb_http_req req = { .method = method, .url = url, .body = body,
                                .body_len = body ? strlen(body) : 0, .timeout_ms = timeout_ms };
    cr_assert_eq(clb_http_request(l, &req, on_done, g, NULL), CLB_OK);
    cr_assert(run_until(l, got_done, g, 15000), "request to %s never finished", url);
}

static void set_faults(struct clb_netloop *l, int port, const char *json)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/sim/faults", port);
    struct got g;
    http_sync(l, "POST", url, json, 5000, &g);
    cr_assert_eq(g.rc, CLB_OK, "%s", g.error);
    cr_assert_eq(g.status, 200, "faults: %d %s", g.status, g.body);
}

/* ------------------------------------------------------------------------ */
/* URL policy                                                                */

Test(net_url, policy)
{
    char err[256];
    const char *ok[] = {
        "https://api.binance.com",
        "https://api.binance.com/api/v3/depth?symbol=BTCUSDT&limit=100",
        "wss://stream.binance.com:9443/ws/btcusdt@depth@100ms",
        "wss://ws-api.binance.com:443/ws-api/v3",
        "http://127.0.0.1:9443/api/v3/ping",
        "http://127.1.2.3/x",
        "ws://localhost:8080/ws",
        "ws://LOCALHOST/ws",
        "http://[::1]:9000/api",
        "HTTPS://example.com/",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_expect_eq(clb_net_url_check(ok[i], err, sizeof(err)), CLB_OK, "%s: %s", ok[i], err);
    struct {
        const char *url, *needle;
    } bad[] = {
        { "http://api.binance.com/api/v3/ping", "loopback" },
        { "ws://10.0.0.1:9443/ws", "loopback" },
        { "ws://128.0.0.1/ws", "loopback" },
        { "http://[::2]/", "loopback" },
        { "http://localhost.evil.com/", "loopback" },
        { "ftp://127.0.0.1/", "must start with" },
        { "127.0.0.1:9443", "must start with" },
        { "", "empty" },
        { "https://", "no host" },
        { "https://:443/", "no host" },
        { "https://user:pw@api.binance.com/", "credentials" },
        { "https://api.binance.com:0/", "port 0" },
        { "https://api.binance.com:70000/", "65535" },
        { "https://api.binance.com:12a/", "not a number" },
        { "https://api.binance.com:/", "empty port" },
        { "https://api.binance.com/a b", "space" },
        { "https://api.binance.com/#frag", "fragment" },
        { "https://[::1/", "unterminated" },
        { "https://[zz]/", "IPv6" },
        { "https://a%2fb/", "host contains" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        cr_expect_eq(clb_net_url_check(bad[i].url, err, sizeof(err)), CLB_EINVAL, "%s",
                     bad[i].url);
        cr_expect(strstr(err, bad[i].needle) != NULL, "%s: '%s' lacks '%s'", bad[i].url, err,
                  bad[i].needle);
    }
    cr_expect_eq(clb_net_url_check(NULL, err, sizeof(err)), CLB_EINVAL);
}

Test(net_url, parse_fields)
{
    struct clb_net_url u;
    const char *s = "wss://stream.binance.com:9443/stream?streams=a@b/c@d";
    cr_assert_eq(clb_net_url_parse(s, &u, NULL, 0), CLB_OK);
    cr_expect_eq(u.scheme, CLB_NET_WSS);
    cr_expect(u.tls);
    cr_expect_str_eq(u.host, "stream.binance.com");
    cr_expect_eq(u.port, 9443);
    cr_expect_str_eq(u.path, "/stream?streams=a@b/c@d");
    cr_expect_not(u.loopback);
    cr_assert_eq(clb_net_url_parse("http://[::1]?x=1", &u, NULL, 0), CLB_OK);
    cr_expect_str_eq(u.host, "::1");
    cr_expect_eq(u.port, 80);
    cr_expect_str_eq(u.path, "?x=1");
    cr_expect(u.loopback);
    cr_assert_eq(clb_net_url_parse("https://h", &u, NULL, 0), CLB_OK);
    cr_expect_eq(u.port, 443);
    cr_expect_str_eq(u.path, "");
}

/* ------------------------------------------------------------------------ */
/* loop: timers and extra fds                                                */

struct tlog {
    int order[8];
    int n;
};

struct tctx {
    struct tlog *log;
    int tag;
    int64_t fired_ns;
};

static void tfire(void *ud)
{
    struct tctx *t = ud;
    t->fired_ns = clb_netloop_mono_ns();
    t->log->order[t->log->n++] = t->tag;
}

static bool log_has3(void *ud)
{
    return ((struct tlog *)ud)->n >= 3;
}

Test(netloop, timers_order_and_cancel)
{
    struct clb_netloop *l = loop_new(NULL);
    struct tlog log = { { 0 }, 0 };
    struct tctx a = { &log, 1, 0 }, b = { &log, 2, 0 }, c = { &log, 3, 0 }, d = { &log, 4, 0 };
    uint64_t ida, idb, idc, idd;
    int64_t t0 = clb_netloop_mono_ns();
    cr_assert_eq(clb_netloop_timer_add(l, 120, tfire, &c, &idc), CLB_OK);
    cr_assert_eq(clb_netloop_timer_add(l, 30, tfire, &a, &ida), CLB_OK);
    cr_assert_eq(clb_netloop_timer_add(l, 60, tfire, &d, &idd), CLB_OK);
    cr_assert_eq(clb_netloop_timer_add(l, 80, tfire, &b, &idb), CLB_OK);
    cr_expect_neq(ida, idb);
    cr_assert_eq(clb_netloop_timer_cancel(l, idd), CLB_OK);
    cr_expect_eq(clb_netloop_timer_cancel(l, idd), CLB_ENOTFOUND);
    cr_expect_eq(clb_netloop_timer_add(l, -1, tfire, &a, NULL), CLB_EINVAL);
    cr_expect_eq(clb_netloop_timer_add(l, 1, NULL, &a, NULL), CLB_EINVAL);
    cr_assert(run_until(l, log_has3, &log, 2000));
    cr_expect_eq(log.n, 3);
    cr_expect_eq(log.order[0], 1);
    cr_expect_eq(log.order[1], 2);
    cr_expect_eq(log.order[2], 3);
    cr_expect_geq(a.fired_ns - t0, 30 * 1000000LL);
    cr_expect_geq(b.fired_ns - t0, 80 * 1000000LL);
    cr_expect_geq(c.fired_ns - t0, 120 * 1000000LL);
    cr_expect_lt(c.fired_ns - t0, 600 * 1000000LL);
    cr_expect_eq(d.fired_ns, 0);
    cr_expect_eq(clb_netloop_timer_cancel(l, ida), CLB_ENOTFOUND);
    clb_netloop_destroy(l);
}

Test(netloop, timer_bound)
{
    struct clb_netloop_config cfg;
    clb_netloop_config_default(&cfg);
    cfg.max_timers = 3;
    struct clb_netloop *l = NULL;
    cr_assert_eq(clb_netloop_create(&cfg, &l), CLB_OK);
    struct tlog log = { { 0 }, 0 };
    struct tctx a = { &log, 1, 0 };
    for (int i = 0; i < 3; i++)
        cr_assert_eq(clb_netloop_timer_add(l, 1000, tfire, &a, NULL), CLB_OK);
    cr_expect_eq(clb_netloop_timer_add(l, 1000, tfire, &a, NULL), CLB_EFULL);
    clb_netloop_destroy(l);
}

Test(netloop, extra_fd_in_the_same_poll)
{
    struct clb_netloop *l = loop_new(NULL);
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    cr_assert_geq(efd, 0);
    struct pollfd pf[2] = { { efd, POLLIN, 0 }, { -1, 0, 0 } };
    /* nothing to do: polls return 0 (possibly early, after servicing the
     * loop's own sockets/timers) and the eventfd shows nothing */
    int64_t t0 = clb_netloop_mono_ns();
    int polls = 0;
    while (clb_netloop_mono_ns() - t0 < 80 * 1000000LL) {
        cr_expect_eq(clb_netloop_poll(l, pf, 2, 80), 0);
        cr_expect_eq(pf[0].revents, 0);
        polls++;
    }
    cr_expect_lt(polls, 20, "the loop spins: %d polls in 80 ms", polls);
    cr_expect_eq(pf[0].revents, 0);
    uint64_t one = 1;
    cr_assert_eq(write(efd, &one, sizeof(one)), (ssize_t)sizeof(one));
    t0 = clb_netloop_mono_ns();
    cr_expect_eq(clb_netloop_poll(l, pf, 2, 5000), 1);
    cr_expect_lt(clb_netloop_mono_ns() - t0, 1000 * 1000000LL);
    cr_expect(pf[0].revents & POLLIN);
    cr_expect_eq(pf[1].revents, 0);
    /* a timer shortens the wait even when the caller asks for longer */
    struct tlog log = { { 0 }, 0 };
    struct tctx a = { &log, 1, 0 };
    uint64_t v;
    cr_assert_eq(read(efd, &v, sizeof(v)), (ssize_t)sizeof(v));
    cr_assert_eq(clb_netloop_timer_add(l, 30, tfire, &a, NULL), CLB_OK);
    t0 = clb_netloop_mono_ns();
    for (int i = 0; i < 10 && log.n == 0; i++)
        cr_expect_eq(clb_netloop_poll(l, pf, 1, 5000), 0);
    cr_expect_eq(log.n, 1);
    cr_expect_lt(clb_netloop_mono_ns() - t0, 1000 * 1000000LL);
    cr_expect_eq(clb_netloop_poll(l, NULL, 1, 0), CLB_EINVAL);
    close(efd);
    clb_netloop_destroy(l);
}

/* ------------------------------------------------------------------------ */
/* REST                                                                      */

Test(http, get_status_body_headers_and_keepalive)
{
    struct sim sim;
    sim_start(&sim, false, false);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v3/time", sim.port);
    struct got g;
    http_sync(l, NULL, url, NULL, 5000, &g);
    cr_assert_eq(g.rc, CLB_OK, "%s", g.error);
    cr_expect_eq(g.status, 200);
    cr_expect(strstr(g.body, "\"serverTime\"") != NULL, "%s", g.body);
    cr_expect_eq(g.body_len, strlen(g.body));
    cr_expect_neq(g.weight[0], '\0', "no x-mbx-used-weight-1m header");
    cr_expect_gt(atoi(g.weight), 0);
    cr_expect(strstr(g.ctype, "application/json") != NULL, "%s", g.ctype);
    cr_expect(g.absent_is_null);
    cr_expect_eq(g.num_connects, 1);
    cr_expect_gt(g.sent_ns, 0);
    cr_expect_geq(g.sent_ns, g.start_ns);
    cr_expect_leq(g.sent_ns, g.done_ns);
    int w1 = atoi(g.weight);

    /* the second request reuses the connection; the weight counter grows */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v3/depth?symbol=BTCUSDT&limit=5",
             sim.port);
    http_sync(l, "GET", url, NULL, 5000, &g);
    cr_assert_eq(g.rc, CLB_OK, "%s", g.error);
    cr_expect_eq(g.status, 200);
    cr_expect(strstr(g.body, "\"lastUpdateId\"") != NULL, "%s", g.body);
    cr_expect_eq(g.num_connects, 0, "keep-alive: connection not reused");
    cr_expect_gt(atoi(g.weight), w1);

    /* an error status is an answer: rc OK, status and body kept */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v3/depth?symbol=NOPE", sim.port);
    http_sync(l, "GET", url, NULL, 5000, &g);
    cr_assert_eq(g.rc, CLB_OK, "%s", g.error);
    cr_expect_eq(g.status, 400);
    cr_expect(strstr(g.body, "\"code\"") != NULL, "%s", g.body);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/nothing/here", sim.port);
    http_sync(l, "DELETE", url, NULL, 5000, &g);
    cr_expect_eq(g.status, 404);
    clb_netloop_destroy(l);
    sim_stop(&sim);
}

/* A request on a kept-alive connection is written inside clb_http_request
 * (curl is kicked at once): after a pause without polling, the answer is
 * already there and ONE zero-timeout poll delivers it. Without the kick
 * that poll would only write the request. The callback never runs inside
 * clb_http_request itself. */
Test(http, request_written_inside_the_call)
{
    struct sim sim;
    sim_start(&sim, false, false);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v3/time", sim.port);
    struct got g;
    http_sync(l, NULL, url, NULL, 5000, &g); /* opens the connection */
    cr_assert_eq(g.status, 200);
    for (int i = 0; i < 3; i++) {
        memset(&g, 0, sizeof(g));
        struct clb_http_req req = { .url = url, .timeout_ms = 5000 };
        cr_assert_eq(clb_http_request(l, &req, on_done, &g, NULL), CLB_OK);
        cr_expect_not(g.done, "called back inside clb_http_request");
        nanosleep(&(struct timespec){ .tv_sec = 0, .tv_nsec = 200000000 }, NULL);
        cr_assert_geq(clb_netloop_poll(l, NULL, 0, 0), 0);
        cr_assert(g.done, "request %d: not answered after one poll", i);
        cr_expect_eq(g.status, 200);
        cr_expect_eq(g.num_connects, 0);
    }
    clb_netloop_destroy(l);
    sim_stop(&sim);
}

Test(http, refused_requests_never_call_back)
{
    struct clb_netloop *l = loop_new(NULL);
    struct got g;
    memset(&g, 0, sizeof(g));
    struct clb_http_req req = { .url = "http://example.com/api" };
    cr_expect_eq(clb_http_request(l, &req, on_done, &g, NULL), CLB_EINVAL);
    req.url = "https://example.com/api";
    req.method = "PATCH";
    cr_expect_eq(clb_http_request(l, &req, on_done, &g, NULL), CLB_EINVAL);
    req.method = "GET";
    const char *hdr[] = { "no colon here" };
    req.headers = hdr;
    req.n_headers = 1;
    cr_expect_eq(clb_http_request(l, &req, on_done, &g, NULL), CLB_EINVAL);
    run_for(l, 50);
    cr_expect_eq(g.calls, 0);
    cr_expect_eq(clb_http_in_flight(l), 0);
    clb_netloop_destroy(l);
}

Test(http, connection_refused_is_eio)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &al);
    int port = ntohs(a.sin_port);
    close(s); /* nothing listens there now */
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
    struct got g;
    http_sync(l, NULL, url, NULL, 3000, &g);
    cr_expect_eq(g.rc, CLB_EIO);
    cr_expect_eq(g.status, 0);
    cr_expect_neq(g.error[0], '\0');
    clb_netloop_destroy(l);
}

Test(http, timeout_cancel_and_body_bound)
{
    struct sim sim;
    sim_start(&sim, false, false);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    /* bound on the response body */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v3/exchangeInfo", sim.port);
    struct got g;
    memset(&g, 0, sizeof(g));
    struct clb_http_req req = { .url = url, .timeout_ms = 5000, .max_body = 64 };
    cr_assert_eq(clb_http_request(l, &req, on_done, &g, NULL), CLB_OK);
    cr_assert(run_until(l, got_done, &g, 5000));
    cr_expect_eq(g.rc, CLB_EFULL, "rc %d (%s)", g.rc, g.error);
    cr_expect_leq(g.body_len, 64);

    set_faults(l, sim.port, "{\"latency_ms\": 1500}");
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v3/ping", sim.port);
    http_sync(l, NULL, url, NULL, 300, &g);
    cr_expect_eq(g.rc, CLB_ETIMEDOUT, "rc %d (%s)", g.rc, g.error);
    cr_expect_eq(g.status, 0);
    int64_t took_ms = (g.done_ns - g.start_ns) / 1000000;
    cr_expect_geq(took_ms, 280);
    cr_expect_lt(took_ms, 1400);

    /* cancelled: the callback never fires, even when the answer comes */
    struct got c;
    memset(&c, 0, sizeof(c));
    struct clb_http_req r2 = { .url = url, .timeout_ms = 5000 };
    uint64_t id = 0;
    cr_assert_eq(clb_http_request(l, &r2, on_done, &c, &id), CLB_OK);
    cr_assert_neq(id, 0);
    run_for(l, 100);
    cr_expect_eq(clb_http_in_flight(l), 1);
    cr_expect_eq(clb_http_cancel(l, id), CLB_OK);
    cr_expect_eq(clb_http_cancel(l, id), CLB_ENOTFOUND);
    cr_expect_eq(clb_http_in_flight(l), 0);
    run_for(l, 1800);
    cr_expect_eq(c.calls, 0);

    /* a slow answer within the timeout is fine and its latency is visible */
    http_sync(l, NULL, url, NULL, 4000, &g);
    cr_expect_eq(g.rc, CLB_OK, "%s", g.error);
    cr_expect_eq(g.status, 200);
    cr_expect_geq((g.done_ns - g.sent_ns) / 1000000, 1400);
    set_faults(l, sim.port, "{\"latency_ms\": 0}");

    /* several in flight at once, all complete */
    struct got many[8];
    memset(many, 0, sizeof(many));
    for (int i = 0; i < 8; i++) {
        struct clb_http_req r = { .url = url };
        cr_assert_eq(clb_http_request(l, &r, on_done, &many[i], NULL), CLB_OK);
    }
    cr_expect_eq(clb_http_in_flight(l), 8);
    for (int i = 0; i < 8; i++) {
        cr_assert(run_until(l, got_done, &many[i], 5000));
        cr_expect_eq(many[i].status, 200);
        cr_expect_eq(many[i].calls, 1);
    }
    /* a request left in flight is released by destroy without a callback */
    memset(&c, 0, sizeof(c));
    cr_assert_eq(clb_http_request(l, &r2, on_done, &c, NULL), CLB_OK);
    clb_netloop_destroy(l);
    cr_expect_eq(c.calls, 0);
    sim_stop(&sim);
}

Test(http, tls_verification)
{
    struct simproc sim;
    simproc_start(&sim);
    char url[128];
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/v3/ping", sim.port);
    struct got g;

    struct clb_netloop *l = loop_new(sim.cert);
    http_sync(l, NULL, url, NULL, 5000, &g);
    cr_expect_eq(g.rc, CLB_OK, "%s", g.error);
    cr_expect_eq(g.status, 200);
    snprintf(url, sizeof(url), "https://localhost:%d/api/v3/ping", sim.port);
    http_sync(l, NULL, url, NULL, 5000, &g);
    cr_expect_eq(g.rc, CLB_OK, "%s", g.error);
    clb_netloop_destroy(l);

    l = loop_new(NULL); /* system CAs: the self-signed certificate is refused */
    http_sync(l, NULL, url, NULL, 5000, &g);
    cr_expect_eq(g.rc, CLB_EIO);
    cr_expect_eq(g.status, 0);
    cr_expect(strstr(g.error, "certificate") || strstr(g.error, "SSL"), "%s", g.error);
    clb_netloop_destroy(l);

    struct clb_netloop_config cfg;
    clb_netloop_config_default(&cfg);
    cfg.ca_file = "/nonexistent/ca.pem";
    cr_expect_eq(clb_netloop_create(&cfg, &l), CLB_EINVAL);
    simproc_stop(&sim);
}

/* ------------------------------------------------------------------------ */
/* WebSocket                                                                 */

struct wsr {
    struct clb_ws_client *c;
    int opens, closes, msgs, depth_msgs;
    int last_code;
    char last_why[160];
    int codes[32];
    int64_t open_ns[32], close_ns[32];
    bool in_api_call;
    bool close_inside_call;
    char last_msg[512];
    uint64_t sent_seq[16];
    int64_t sent_ns[16], sent_done_ns[16];
    int n_sent;
    bool destroy_on_msg;
    int64_t last_recv_ns;
};

static void w_open(void *ud)
{
    struct wsr *w = ud;
    if (w->opens < 32)
        w->open_ns[w->opens] = clb_netloop_mono_ns();
    w->opens++;
}

static void w_msg(void *ud, const char *data, size_t len, int64_t recv_ns)
{
    struct wsr *w = ud;
    w->msgs++;
    w->last_recv_ns = recv_ns;
    snprintf(w->last_msg, sizeof(w->last_msg), "%.*s", (int)len, data);
    if (strstr(w->last_msg, "depthUpdate"))
        w->depth_msgs++;
    if (w->destroy_on_msg) {
        clb_ws_client_destroy(w->c);
        w->c = NULL;
    }
}

static void w_close(void *ud, int code, const char *why)
{
    struct wsr *w = ud;
    if (w->in_api_call)
        w->close_inside_call = true;
    if (w->closes < 32) {
        w->codes[w->closes] = code;
        w->close_ns[w->closes] = clb_netloop_mono_ns();
    }
    w->closes++;
    w->last_code = code;
    snprintf(w->last_why, sizeof(w->last_why), "%s", why);
}

static void w_sent(void *ud, uint64_t seq, int64_t ns, int64_t done_ns)
{
    struct wsr *w = ud;
    if (w->n_sent < 16) {
        w->sent_seq[w->n_sent] = seq;
        w->sent_ns[w->n_sent] = ns;
        w->sent_done_ns[w->n_sent] = done_ns;
    }
    w->n_sent++;
}

static const struct clb_ws_handlers W = { w_open, w_msg, w_close, w_sent, NULL };

static bool w_open1(void *ud)
{
    return ((struct wsr *)ud)->opens >= 1;
}
static bool w_open2(void *ud)
{
    return ((struct wsr *)ud)->opens >= 2;
}
static bool w_open3(void *ud)
{
    return ((struct wsr *)ud)->opens >= 3;
}
static bool w_depth3(void *ud)
{
    return ((struct wsr *)ud)->depth_msgs >= 3;
}
static bool w_closed4(void *ud)
{
    return ((struct wsr *)ud)->closes >= 4;
}
static bool w_closed1(void *ud)
{
    return ((struct wsr *)ud)->closes >= 1;
}

static struct clb_ws_client *ws_new(struct clb_netloop *l, const char *url, struct wsr *w,
                                    struct clb_ws_client_config *cfgp)
{
    struct clb_ws_client_config cfg;
    if (cfgp)
        cfg = *cfgp;
    else
        clb_ws_client_config_default(&cfg);
    cfg.url = url;
    if (!cfg.seed)
        cfg.seed = 42;
    struct clb_ws_client *c = NULL;
    cr_assert_eq(clb_ws_client_create(l, &cfg, &W, w, &c), CLB_OK);
    w->c = c;
    return c;
}

Test(ws, depth_stream_and_send)
{
    struct sim sim;
    sim_start(&sim, false, true);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/btcusdt@depth@100ms", sim.port);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    cfg.send_queue_len = 3;
    cfg.max_send_bytes = 256;
    struct clb_ws_client *c = ws_new(l, url, &w, &cfg);
    cr_expect_not(clb_ws_is_open(c));
    cr_expect_eq(clb_ws_send(c, "x", 1), CLB_ENOTREADY);
    cr_assert(run_until(l, w_open1, &w, 5000), "never opened");
    cr_expect(clb_ws_is_open(c));
    cr_assert(run_until(l, w_depth3, &w, 5000), "depth updates: %d of %d msgs", w.depth_msgs,
              w.msgs);
    cr_expect(strstr(w.last_msg, "\"s\":\"BTCUSDT\"") != NULL, "%s", w.last_msg);
    cr_expect_gt(w.last_recv_ns, 0);
    cr_expect_leq(w.last_recv_ns, clb_netloop_mono_ns());

    /* bounded send queue: three fit, the fourth does not, nor an oversized one */
    const char *sub = "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":7}";
    cr_expect_eq(clb_ws_send(c, sub, strlen(sub)), CLB_OK);
    cr_expect_eq(clb_ws_last_seq(c), 1);
    cr_expect_eq(clb_ws_send(c, sub, strlen(sub)), CLB_OK);
    cr_expect_eq(clb_ws_send(c, sub, strlen(sub)), CLB_OK);
    cr_expect_eq(clb_ws_send(c, sub, strlen(sub)), CLB_EFULL);
    char big[300];
    memset(big, 'x', sizeof(big));
    cr_expect_eq(clb_ws_send(c, big, sizeof(big)), CLB_ERANGE);
    cr_expect_eq(clb_ws_last_seq(c), 3);
    int64_t before = clb_netloop_mono_ns();
    for (int i = 0; i < 200 && w.n_sent < 3; i++)
        clb_netloop_poll(l, NULL, 0, 10);
    cr_assert_eq(w.n_sent, 3);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(w.sent_seq[i], (uint64_t)i + 1);
        cr_expect_geq(w.sent_ns[i], before);
    }
    /* the simulator answers each: the reply carries our id */
    int64_t end = clb_netloop_mono_ns() + 3000000000LL;
    while (!strstr(w.last_msg, "\"id\":7") && clb_netloop_mono_ns() < end)
        clb_netloop_poll(l, NULL, 0, 10);
    cr_expect(strstr(w.last_msg, "btcusdt@depth@100ms") != NULL, "%s", w.last_msg);
    cr_expect_eq(clb_ws_send(c, sub, strlen(sub)), CLB_OK); /* room again */
    struct clb_ws_stats st;
    clb_ws_get_stats(c, &st);
    cr_expect_eq(st.opens, 1);
    cr_expect_eq(st.closes, 0);
    cr_expect_geq(st.msgs_in, 4);
    cr_expect_geq(st.msgs_out, 3);
    clb_ws_client_destroy(c);
    cr_expect_eq(w.closes, 0, "destroy reports no on_close");
    clb_netloop_destroy(l);
    sim_stop(&sim);
}

/* write_now: with nothing queued a message is written inside clb_ws_send
 * (on_sent reported before it returns, in sequence), and it arrives. */
Test(ws, write_now_writes_inside_the_send_call)
{
    struct sim sim;
    sim_start(&sim, false, true);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/btcusdt@depth@100ms", sim.port);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    cfg.write_now = true;
    struct clb_ws_client *c = ws_new(l, url, &w, &cfg);
    cr_expect_eq(clb_ws_send(c, "x", 1), CLB_ENOTREADY);
    cr_assert(run_until(l, w_open1, &w, 5000), "never opened");
    for (int i = 0; i < 5; i++) {
        char m[64];
        int n = snprintf(m, sizeof(m), "{\"method\":\"LIST_SUBSCRIPTIONS\",\"id\":%d}", 100 + i);
        int64_t before = clb_netloop_mono_ns();
        cr_assert_eq(clb_ws_send(c, m, (size_t)n), CLB_OK);
        cr_assert_eq(w.n_sent, i + 1, "written inside the call");
        cr_expect_eq(w.sent_seq[i], (uint64_t)i + 1);
        cr_expect_eq(clb_ws_last_seq(c), (uint64_t)i + 1);
        cr_expect_geq(w.sent_ns[i], before);
        cr_expect_geq(w.sent_done_ns[i], w.sent_ns[i]);
        cr_expect_leq(w.sent_done_ns[i], clb_netloop_mono_ns());
    }
    /* every one is answered, the last one last */
    int64_t end = clb_netloop_mono_ns() + 3000000000LL;
    while (!strstr(w.last_msg, "\"id\":104") && clb_netloop_mono_ns() < end)
        clb_netloop_poll(l, NULL, 0, 10);
    cr_expect(strstr(w.last_msg, "\"id\":104") != NULL, "%s", w.last_msg);
    struct clb_ws_stats st;
    clb_ws_get_stats(c, &st);
    cr_expect_eq(st.msgs_out, 5);
    cr_expect_eq(st.closes, 0);
    clb_ws_client_destroy(c);
    clb_netloop_destroy(l);
    sim_stop(&sim);
}

/* on_warm: called while the connection is open and quiet (the depth stream
 * is quiet ~100 ms between updates, the warm interval is 5 ms), never
 * before it opens; receive times never run ahead of the handler nor back. */
struct warmr {
    struct wsr w;
    int warms;
    int warms_before_open;
    int64_t prev_recv_ns;
    bool recv_order_ok;
};

static void wm_msg(void *ud, const char *data, size_t len, int64_t recv_ns)
{
    struct warmr *x = ud;
    if (recv_ns < x->prev_recv_ns || recv_ns > clb_netloop_mono_ns())
        x->recv_order_ok = false;
    x->prev_recv_ns = recv_ns;
    w_msg(&x->w, data, len, recv_ns);
}

static void wm_open(void *ud)
{
    w_open(&((struct warmr *)ud)->w);
}

static void wm_warm(void *ud)
{
    struct warmr *x = ud;
    x->warms++;
    if (x->w.opens == 0)
        x->warms_before_open++;
}

Test(ws, warm_hook_runs_while_quiet)
{
    struct sim sim;
    sim_start(&sim, false, true);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/btcusdt@depth@100ms", sim.port);
    struct warmr x;
    memset(&x, 0, sizeof(x));
    x.recv_order_ok = true;
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    cfg.url = url;
    cfg.seed = 7;
    cfg.warm_interval_ms = -1;
    struct clb_ws_handlers h = { .on_open = wm_open, .on_message = wm_msg, .on_warm = wm_warm };
    struct clb_ws_client *c = NULL;
    cr_assert_eq(clb_ws_client_create(l, &cfg, &h, &x, &c), CLB_EINVAL);
    cfg.warm_interval_ms = 5;
    cr_assert_eq(clb_ws_client_create(l, &cfg, &h, &x, &c), CLB_OK);
    cr_assert(run_until(l, w_open1, &x.w, 5000), "never opened");
    int64_t end = clb_netloop_mono_ns() + 600000000LL;
    while (clb_netloop_mono_ns() < end)
        clb_netloop_poll(l, NULL, 0, 50);
    cr_expect_eq(x.warms_before_open, 0);
    cr_expect_geq(x.w.depth_msgs, 3);
    /* ~600 ms at 5 ms: a hundred or so, fewer when messages came through */
    cr_expect_geq(x.warms, 20, "%d warms", x.warms);
    cr_expect_leq(x.warms, 125, "%d warms", x.warms);
    cr_expect(x.recv_order_ok);
    clb_ws_client_destroy(c);
    clb_netloop_destroy(l);
    sim_stop(&sim);
}

Test(ws, reconnects_after_server_drops_with_backoff)
{
    struct sim sim;
    sim_start(&sim, false, true);
    struct clb_netloop *l = loop_new(NULL);
    set_faults(l, sim.port, "{\"ws_disconnect_every_ms\": 400}");
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/btcusdt@depth@100ms", sim.port);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    cfg.backoff_min_ms = 200;
    cfg.backoff_max_ms = 800;
    struct clb_ws_client *c = ws_new(l, url, &w, &cfg);
    cr_assert(run_until(l, w_open3, &w, 10000), "opens %d closes %d (%s)", w.opens, w.closes,
              w.last_why);
    cr_expect_geq(w.closes, 2);
    for (int i = 0; i < 2; i++) {
        cr_expect_eq(w.codes[i], 1001, "close %d: code %d (%s)", i, w.codes[i], w.last_why);
        /* the simulator closes ~400 ms after the open */
        cr_expect_geq(w.close_ns[i] - w.open_ns[i], 300 * 1000000LL);
        /* backoff with jitter: at least backoff_min / 2 before the next open */
        int64_t gap = w.open_ns[i + 1] - w.close_ns[i];
        cr_expect_geq(gap, 100 * 1000000LL, "reconnected after %lld ms", (long long)(gap / 1000000));
        cr_expect_lt(gap, 2000 * 1000000LL);
    }
    int before = w.depth_msgs;
    set_faults(l, sim.port, "{\"ws_disconnect_every_ms\": 0}");
    cr_assert(run_until(l, w_depth3, &w, 5000));
    w.depth_msgs = 0;
    cr_assert(run_until(l, w_depth3, &w, 5000), "data flows after reconnect (%d)", before);
    clb_ws_client_destroy(c);
    clb_netloop_destroy(l);
    sim_stop(&sim);
}

Test(ws, reconnect_on_demand_and_max_age)
{
    struct sim sim;
    sim_start(&sim, false, true);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/btcusdt@trade", sim.port);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    cfg.backoff_min_ms = 5000; /* reconnect-on-demand must not wait for this */
    cfg.backoff_max_ms = 5000;
    struct clb_ws_client *c = ws_new(l, url, &w, &cfg);
    cr_assert(run_until(l, w_open1, &w, 5000));
    w.in_api_call = true;
    cr_expect_eq(clb_ws_reconnect(c), CLB_OK);
    w.in_api_call = false;
    cr_expect_not(w.close_inside_call, "on_close ran inside clb_ws_reconnect");
    cr_expect_not(clb_ws_is_open(c));
    cr_expect_eq(clb_ws_send(c, "{}", 2), CLB_ENOTREADY);
    int64_t t0 = clb_netloop_mono_ns();
    cr_assert(run_until(l, w_open2, &w, 3000), "no reopen after clb_ws_reconnect");
    cr_expect_lt(clb_netloop_mono_ns() - t0, 2000 * 1000000LL);
    cr_expect_eq(w.closes, 1);
    cr_expect_eq(w.codes[0], 1000);
    cr_expect(strstr(w.last_why, "reconnect") != NULL, "%s", w.last_why);
    clb_ws_client_destroy(c);

    /* max age: the client replaces an old connection by itself */
    memset(&w, 0, sizeof(w));
    cfg.max_age_ms = 300;
    c = ws_new(l, url, &w, &cfg);
    cr_assert(run_until(l, w_open3, &w, 5000), "opens %d", w.opens);
    cr_expect_geq(w.closes, 2);
    cr_expect_eq(w.codes[0], 1000);
    cr_expect_geq(w.close_ns[0] - w.open_ns[0], 290 * 1000000LL);
    cr_expect_lt(w.open_ns[1] - w.close_ns[0], 1000 * 1000000LL, "max-age reconnect waited");
    clb_ws_client_destroy(c);
    clb_netloop_destroy(l);
    sim_stop(&sim);
}

Test(ws, backoff_grows_on_refused_connections)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    socklen_t al = sizeof(a);
    getsockname(s, (struct sockaddr *)&a, &al);
    int port = ntohs(a.sin_port);
    close(s);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/x", port);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    cfg.backoff_min_ms = 40;
    cfg.backoff_max_ms = 320;
    struct clb_ws_client *c = ws_new(l, url, &w, &cfg);
    cr_assert(run_until(l, w_closed4, &w, 5000), "closes %d", w.closes);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(w.codes[i], 1006);
    }
    /* failure i is followed by a wait in [d/2, d], d = 40 * 2^i */
    for (int i = 0; i < 3; i++) {
        int64_t gap_ms = (w.close_ns[i + 1] - w.close_ns[i]) / 1000000;
        int64_t d = 40LL << i;
        cr_expect_geq(gap_ms, d / 2, "gap %d: %lld ms", i, (long long)gap_ms);
        cr_expect_leq(gap_ms, d + 150, "gap %d: %lld ms", i, (long long)gap_ms);
    }
    struct clb_ws_stats st;
    clb_ws_get_stats(c, &st);
    cr_expect_geq(st.attempt, 4);
    cr_expect_eq(st.opens, 0);
    cr_expect(strstr(w.last_why, "connect") != NULL, "%s", w.last_why);
    /* the cap holds */
    memset(&w, 0, sizeof(w));
    run_until(l, w_closed4, &w, 5000);
    clb_ws_get_stats(c, &st);
    cr_expect_leq(st.last_backoff_ms, 320);
    cr_expect_geq(st.last_backoff_ms, 160);
    clb_ws_client_destroy(c);
    clb_netloop_destroy(l);
}

Test(ws, tls_with_ca)
{
    struct simproc sim;
    simproc_start(&sim);
    char url[128];
    snprintf(url, sizeof(url), "wss://localhost:%d/ws/btcusdt@depth@100ms", sim.port);
    struct clb_netloop *l = loop_new(sim.cert);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client *c = ws_new(l, url, &w, NULL);
    cr_assert(run_until(l, w_depth3, &w, 8000), "opens %d closes %d (%s)", w.opens, w.closes,
              w.last_why);
    cr_expect_eq(w.closes, 0);
    clb_ws_client_destroy(c);
    clb_netloop_destroy(l);
    simproc_stop(&sim);
}

Test(ws, tls_without_ca_is_refused)
{
    struct simproc sim;
    simproc_start(&sim);
    char url[128];
    snprintf(url, sizeof(url), "wss://localhost:%d/ws/btcusdt@depth@100ms", sim.port);
    struct clb_netloop *l = loop_new(NULL);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client *c = ws_new(l, url, &w, NULL);
    cr_assert(run_until(l, w_closed1, &w, 8000));
    cr_expect_eq(w.opens, 0);
    cr_expect_eq(w.msgs, 0);
    cr_expect_eq(w.last_code, 1006);
    cr_expect(strstr(w.last_why, "connect failed") != NULL, "%s", w.last_why);
    clb_ws_client_destroy(c);
    clb_netloop_destroy(l);
    simproc_stop(&sim);
}

Test(ws, destroy_from_inside_a_handler)
{
    struct sim sim;
    sim_start(&sim, false, true);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws/btcusdt@depth@100ms", sim.port);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    w.destroy_on_msg = true;
    ws_new(l, url, &w, NULL);
    cr_assert(run_until(l, w_open1, &w, 5000));
    run_for(l, 600);
    cr_expect_eq(w.msgs, 1);
    cr_expect_null(w.c);
    clb_netloop_destroy(l);
    sim_stop(&sim);
}

Test(ws, create_rejects_bad_config)
{
    struct clb_netloop *l = loop_new(NULL);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    struct clb_ws_client *c = NULL;
    cfg.url = "ws://stream.binance.com/ws";
    cr_expect_eq(clb_ws_client_create(l, &cfg, &W, &w, &c), CLB_EINVAL);
    cfg.url = "https://stream.binance.com/ws";
    cr_expect_eq(clb_ws_client_create(l, &cfg, &W, &w, &c), CLB_EINVAL);
    cfg.url = "wss://stream.binance.com/ws";
    struct clb_ws_handlers none = { 0 };
    cr_expect_eq(clb_ws_client_create(l, &cfg, &none, &w, &c), CLB_EINVAL);
    cfg.backoff_min_ms = -1;
    cr_expect_eq(clb_ws_client_create(l, &cfg, &W, &w, &c), CLB_EINVAL);
    cr_expect_null(c);
    clb_netloop_destroy(l);
}

/* ------------------------------------------------------------------------ */
/* A raw WebSocket peer: accepts one connection, completes the handshake,
 * then either stays silent (never answers pings) or sends fragmented and
 * oversized messages. Blocking sockets on its own thread.                  */

enum peer_mode { PEER_SILENT, PEER_FRAGMENTS };

struct peer {
    int lfd, port;
    enum peer_mode mode;
    pthread_t th;
};

static void send_frame(int fd, int fin, int opcode, const char *data, size_t len)
{
    unsigned char h[2] = { (unsigned char)((fin ? 0x80 : 0) | opcode), (unsigned char)len };
    cr_assert_lt(len, 126);
    cr_assert_eq(write(fd, h, 2), 2);
    if (len)
        cr_assert_eq(write(fd, data, len), (ssize_t)len);
}

static void *peer_thread(void *arg)
{
    struct peer *p = arg;
    int fd = accept(p->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    char buf[4096];
    size_t n = 0;
    while (n < sizeof(buf) - 1) {
        ssize_t r = read(fd, buf + n, sizeof(buf) - 1 - n);
        if (r <= 0) {
            close(fd);
            return NULL;
        }
        n += (size_t)r;
        buf[n] = '\0';
        if (strstr(buf, "\r\n\r\n"))
            break;
    }
    const char *k = strstr(buf, "Sec-WebSocket-Key: ");
    char key[128] = "";
    if (k)
        sscanf(k + 19, "%100[^\r\n]", key);
    char cat[256];
    snprintf(cat, sizeof(cat), "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(cat, strlen(cat), md, &mdlen, EVP_sha1(), NULL);
    unsigned char acc[64];
    EVP_EncodeBlock(acc, md, (int)mdlen);
    char resp[512];
    int rl = snprintf(resp, sizeof(resp),
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                      (const char *)acc);
    if (write(fd, resp, (size_t)rl) != rl) {
        close(fd);
        return NULL;
    }
    if (p->mode == PEER_FRAGMENTS) {
        send_frame(fd, 0, 1, "hel", 3);
        send_frame(fd, 0, 0, "lo ", 3);
        send_frame(fd, 1, 0, "world", 5);
        send_frame(fd, 1, 1, "single", 6);
        char chunk[100];
        memset(chunk, 'z', sizeof(chunk));
        send_frame(fd, 0, 1, chunk, 100);
        send_frame(fd, 0, 0, chunk, 100);
        send_frame(fd, 1, 0, chunk, 100);
    }
    while (read(fd, buf, sizeof(buf)) > 0)
        ; /* swallow pings and frames, answer nothing, until the client leaves */
    close(fd);
    return NULL;
}

static void peer_start(struct peer *p, enum peer_mode mode)
{
    p->mode = mode;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    cr_assert_eq(bind(p->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(p->lfd, 4), 0);
    socklen_t al = sizeof(a);
    getsockname(p->lfd, (struct sockaddr *)&a, &al);
    p->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&p->th, NULL, peer_thread, p), 0);
}

static void peer_stop(struct peer *p)
{
    shutdown(p->lfd, SHUT_RDWR);
    pthread_join(p->th, NULL);
    close(p->lfd);
}

Test(ws, silent_peer_is_declared_dead)
{
    struct peer p;
    peer_start(&p, PEER_SILENT);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws", p.port);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    cfg.ping_interval_ms = 100;
    cfg.pong_timeout_ms = 150;
    cfg.backoff_min_ms = 5000;
    cfg.backoff_max_ms = 5000;
    struct clb_ws_client *c = ws_new(l, url, &w, &cfg);
    cr_assert(run_until(l, w_open1, &w, 3000), "handshake with the raw peer failed: %s",
              w.last_why);
    cr_assert(run_until(l, w_closed1, &w, 3000), "silent peer never declared dead");
    int64_t after_ms = (w.close_ns[0] - w.open_ns[0]) / 1000000;
    cr_expect_geq(after_ms, 250, "declared dead after %lld ms", (long long)after_ms);
    cr_expect_lt(after_ms, 1000, "declared dead after %lld ms", (long long)after_ms);
    cr_expect_eq(w.codes[0], 1006);
    cr_expect(strstr(w.last_why, "dead") != NULL, "%s", w.last_why);
    cr_expect_not(clb_ws_is_open(c));
    clb_ws_client_destroy(c);
    run_for(l, 50); /* lets lws close the killed socket: the peer thread ends */
    peer_stop(&p);
    clb_netloop_destroy(l);
}

static bool w_msgs2_closed(void *ud)
{
    struct wsr *w = ud;
    return w->msgs >= 2 && w->closes >= 1;
}

struct frag_log {
    struct wsr w;
    char first[64], second[64];
};

static void f_msg(void *ud, const char *data, size_t len, int64_t recv_ns)
{
    struct frag_log *f = ud;
    if (f->w.msgs == 0)
        snprintf(f->first, sizeof(f->first), "%.*s", (int)len, data);
    else if (f->w.msgs == 1)
        snprintf(f->second, sizeof(f->second), "%.*s", (int)len, data);
    w_msg(&f->w, data, len, recv_ns);
}

Test(ws, fragments_reassembled_and_bounded)
{
    struct peer p;
    peer_start(&p, PEER_FRAGMENTS);
    struct clb_netloop *l = loop_new(NULL);
    char url[128];
    snprintf(url, sizeof(url), "ws://127.0.0.1:%d/ws", p.port);
    struct frag_log f;
    memset(&f, 0, sizeof(f));
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    cfg.url = url;
    cfg.max_message = 250; /* the third message (300 bytes) is too big */
    cfg.backoff_min_ms = 5000;
    cfg.backoff_max_ms = 5000;
    struct clb_ws_handlers h = { w_open, f_msg, w_close, NULL, NULL };
    struct clb_ws_client *c = NULL;
    cr_assert_eq(clb_ws_client_create(l, &cfg, &h, &f, &c), CLB_OK);
    cr_assert(run_until(l, w_msgs2_closed, &f.w, 3000), "msgs %d closes %d", f.w.msgs,
              f.w.closes);
    cr_expect_str_eq(f.first, "hello world");
    cr_expect_str_eq(f.second, "single");
    cr_expect_eq(f.w.msgs, 2);
    cr_expect_eq(f.w.codes[0], 1009, "code %d (%s)", f.w.codes[0], f.w.last_why);
    clb_ws_client_destroy(c);
    run_for(l, 50);
    peer_stop(&p);
    clb_netloop_destroy(l);
}

Test(ws, name_resolution_never_blocks_the_loop)
{
    struct clb_netloop *l = loop_new(NULL);
    struct wsr w;
    memset(&w, 0, sizeof(w));
    struct clb_ws_client_config cfg;
    clb_ws_client_config_default(&cfg);
    cfg.connect_timeout_ms = 3000;
    cfg.backoff_min_ms = 5000;
    cfg.backoff_max_ms = 5000;
    struct clb_ws_client *c = ws_new(l, "wss://no-such-host.invalid/ws", &w, &cfg);
    int64_t worst = 0, end = clb_netloop_mono_ns() + 6000000000LL;
    while (w.closes == 0 && clb_netloop_mono_ns() < end) {
        int64_t t0 = clb_netloop_mono_ns();
        cr_assert_geq(clb_netloop_poll(l, NULL, 0, 10), 0);
        int64_t d = clb_netloop_mono_ns() - t0;
        if (d > worst)
            worst = d;
    }
    cr_assert_eq(w.closes, 1, "no failure reported");
    cr_expect_eq(w.opens, 0);
    cr_expect_eq(w.codes[0], 1006);
    cr_expect(strstr(w.last_why, "DNS") || strstr(w.last_why, "timeout"), "%s", w.last_why);
    cr_expect_lt(worst, 200 * 1000000LL, "one poll took %lld ms", (long long)(worst / 1000000));
    clb_ws_client_destroy(c);
    clb_netloop_destroy(l);
}
