/*
 * ws_fanout.c — colibri-ws-fanout: delivery latency of the WebSocket stream
 * with many subscribers.
 *
 * One process runs a real engine (paper market, no simulated exchange
 * latency), the WebSocket server (TLS) and N libwebsockets TLS clients on
 * one client thread, all subscribed to "status" and "trades". The main
 * thread then places K small market orders, one at a time; each produces a
 * trade event that every client must receive. Per order and client it
 * records the time from just before clb_engine_call("order.create") to the
 * client's receive callback; from the moment the trade event entered the
 * engine's feed (a watcher thread polls clb_engine_feed_read with its own
 * cursor, leaving the feed's eventfd to the server: every 50 us from just
 * before the order until its trade shows, every 5 ms otherwise, see
 * watch_main) to each receipt, which is the WebSocket server's share; and
 * the spread against the order's first receipt (the fan-out cost proper).
 * Status messages give a millisecond-resolution figure (receipt minus the
 * message's "ts").
 *
 * By default the clients run in a forked child process with their own lws
 * context on a libuv (epoll) loop; receipts go back through a shared
 * mapping, timestamps are CLOCK_REALTIME in both processes. So the server's
 * loop never waits behind theirs, and a client wake costs the sockets that
 * are ready rather than a poll() over all 1000 (with poll() the clients
 * burn ~30% more CPU, which on a 2-core box is taken from the server).
 * --client-poll keeps the child on lws's poll() loop; --inproc runs the
 * clients on a thread of the server's process with lws's poll() loop (the
 * original set-up, an upper bound). Either way the clients' receive work
 * competes with the server for the box's cores, and each client's receipt
 * time includes its own loop's share of the fan-out. So the program also
 * prints the CPU one trade delivery costs each side (the CPU used while
 * the orders are measured, less that of as long a time without orders)
 * and the bound it puts on the last client's latency on this machine.
 * First of all it measures the floor under any server here: plain write()s
 * of 200 bytes to as many loopback TCP sockets, one after another, read by
 * another process (no TLS, no WebSocket, no JSON).
 *
 * usage: colibri-ws-fanout [--clients N] [--orders K] [--wake fd|thread|timer]
 *                          [--inproc | --client-poll]
 */
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <libwebsockets.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "auth.h"
#include "engine.h"
#include "error.h"
#include "tls_cert.h"
#include "ws_stream.h"

struct bclient {
    struct lws *wsi;
    int state;       /* 0 connecting, 1 auth sent, 2 subscribe sent, 3 subscribed, -1 failed */
    bool want_write; /* auth or subscribe pending */
    size_t rx_len;
    char rx[8192];
};

struct bench {
    int n;
    struct bclient *c;
    struct lws_context *ctx;
    SSL_CTX *ssl;
    uv_loop_t *loop;        /* client process: its epoll loop (NULL = lws's poll) */
    lws_sorted_usec_list_t tick;
    atomic_int port;        /* set by the parent once the server listens */
    int next_connect;
    char token[CLB_TOKEN_TEXT_LEN + 1];
    atomic_int subscribed, failed;
    atomic_int stop;
    pid_t parent;           /* client process: stop when this parent is gone */
    bool client_poll;       /* client process: lws's poll() loop, not libuv */
    double client_cpu_s;
    /* Current order: receipts of its first trade message, per client. */
    atomic_int armed;       /* order index + 1, 0 = none */
    _Atomic int64_t *recv_ns; /* [n] for the armed order, 0 = not yet */
    atomic_int received;    /* clients that got the armed order's trade */
    _Atomic int64_t feed_ns; /* when the armed order's trade entered the feed */
    atomic_int watching;    /* the watcher polls fast for this armed value */
    struct clb_engine *engine;
    size_t feed_events[3];  /* watcher only: trades, status, other topics */
    /* Status lag samples (ms), client side only until the end. */
    int64_t *status_lag;
    size_t n_status, cap_status;
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t pct(const int64_t *sorted, size_t n, double p)
{
    if (!n)
        return 0;
    size_t i = (size_t)(p * (double)(n - 1) + 0.5);
    return sorted[i];
}

static void client_message(struct bench *b, struct bclient *c, int64_t t)
{
    c->rx[c->rx_len] = '\0';
    if (c->state == 1 && strstr(c->rx, "\"type\":\"auth\"")) {
        c->state = 2;
        c->want_write = true;
        lws_callback_on_writable(c->wsi);
        return;
    }
    if (c->state == 2 && strstr(c->rx, "\"type\":\"subscribed\"")) {
        c->state = 3;
        atomic_fetch_add(&b->subscribed, 1);
        return;
    }
    if (!strncmp(c->rx, "{\"type\":\"trade\"", 15)) {
        int armed = atomic_load(&b->armed);
        size_t idx = (size_t)(c - b->c);
        if (armed && !atomic_load(&b->recv_ns[idx])) {
            atomic_store(&b->recv_ns[idx], t);
            atomic_fetch_add(&b->received, 1);
        }
        return;
    }
    if (!strncmp(c->rx, "{\"type\":\"status\"", 16)) {
        const char *ts = strstr(c->rx, ",\"ts\":");
        if (ts && b->n_status < b->cap_status)
            b->status_lag[b->n_status++] = t / 1000000 - strtoll(ts + 6, NULL, 10);
    }
}

static int client_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    struct bclient *c = user;
    struct bench *b = c ? lws_context_user(lws_get_context(wsi)) : NULL;
    if (!c)
        return 0;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        c->want_write = true;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_CLIENT_WRITEABLE: {
        if (!c->want_write)
            return 0;
        char msg[256];
        unsigned char buf[LWS_PRE + 256];
        int n = c->state == 0
                    ? snprintf(msg, sizeof msg, "{\"type\":\"auth\",\"token\":\"%s\"}", b->token)
                    : snprintf(msg, sizeof msg,
                               "{\"type\":\"subscribe\",\"topics\":[\"status\",\"trades\"]}");
        memcpy(buf + LWS_PRE, msg, (size_t)n);
        if (lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_TEXT) < n)
            return -1;
        if (c->state == 0)
            c->state = 1;
        c->want_write = false;
        return 0;
    }
    case LWS_CALLBACK_CLIENT_RECEIVE: {
        int64_t t = now_ns();
        if (c->rx_len + len < sizeof c->rx) {
            memcpy(c->rx + c->rx_len, in, len);
            c->rx_len += len;
        }
        if (lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi)) {
            client_message(b, c, t);
            c->rx_len = 0;
        }
        return 0;
    }
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (c->state != -1) {
            if (c->state == 3)
                atomic_fetch_sub(&b->subscribed, 1);
            atomic_fetch_add(&b->failed, 1);
        }
        c->state = -1;
        c->wsi = NULL;
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"bench", client_cb, 0, 8192, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Opens connections 50 at a time so the listen backlog never overflows. */
static void tick_cb(lws_sorted_usec_list_t *sul)
{
    struct bench *b = lws_container_of(sul, struct bench, tick);
    for (int k = 0; k < 50 && b->next_connect < b->n; k++) {
        struct bclient *c = &b->c[b->next_connect++];
        struct lws_client_connect_info ci;
        memset(&ci, 0, sizeof ci);
        ci.context = b->ctx;
        ci.address = "127.0.0.1";
        ci.port = b->port;
        ci.path = "/ws";
        ci.host = "127.0.0.1";
        ci.ssl_connection = LCCSCF_USE_SSL | LCCSCF_ALLOW_SELFSIGNED |
                            LCCSCF_SKIP_SERVER_CERT_HOSTNAME_CHECK | LCCSCF_ALLOW_INSECURE;
        ci.userdata = c;
        ci.pwsi = &c->wsi;
        if (!lws_client_connect_via_info(&ci)) {
            c->state = -1;
            atomic_fetch_add(&b->failed, 1);
        }
    }
    if (b->parent && getppid() != b->parent)
        atomic_store(&b->stop, 1);
    lws_sul_schedule(b->ctx, 0, &b->tick, tick_cb, 10 * LWS_US_PER_MS);
}

/* Zeroed memory that a forked child shares with its parent (an unlinked
 * temporary file mapped MAP_SHARED: MAP_ANONYMOUS is not POSIX). Never
 * unmapped: it lives as long as the process. */
static void *shared_calloc(size_t n, size_t size)
{
    char path[] = "/tmp/clb-ws-fanout-shm-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    unlink(path);
    void *p = MAP_FAILED;
    if (ftruncate(fd, (off_t)(n * size)) == 0)
        p = mmap(NULL, n * size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    return p == MAP_FAILED ? NULL : p;
}

static void sleep_us(int us)
{
    struct timespec ts = {0, (long)us * 1000};
    nanosleep(&ts, NULL);
}

/* Notes when the armed order's first trade event appears in the feed.
 * It polls every WATCH_ARMED_US only while an order is armed and its trade
 * has not been seen yet (the order's own round trip, ~10 ms); otherwise
 * every WATCH_IDLE_US, just to count the feed's events. The main thread
 * waits for the watcher to switch to fast polling before it places the
 * order, so no trade is seen late. Polling every 50 us all the time
 * (20,000 wake-ups a second) took ~10% of the box's CPU samples under
 * perf, and ~1 s of the server process's CPU per run, from the very
 * server and clients it measures; the fan-out itself (after the trade is
 * seen) now runs with the watcher asleep. */
#define WATCH_ARMED_US 50
#define WATCH_IDLE_US 5000

static void *watch_main(void *arg)
{
    struct bench *b = arg;
    uint64_t cursor = clb_engine_feed_head(b->engine);
    json_t *ev[64];
    while (!atomic_load(&b->stop)) {
        bool gap;
        int armed = atomic_load(&b->armed);
        bool waiting = armed && !atomic_load(&b->feed_ns);
        if (waiting)
            atomic_store(&b->watching, armed);
        size_t n = clb_engine_feed_read(b->engine, &cursor, ev, 64, &gap);
        int64_t t = now_ns();
        for (size_t i = 0; i < n; i++) {
            const char *topic = json_string_value(json_object_get(ev[i], "topic"));
            b->feed_events[topic && !strcmp(topic, "trades")   ? 0
                           : topic && !strcmp(topic, "status") ? 1
                                                               : 2]++;
            if (topic && !strcmp(topic, "trades") && atomic_load(&b->armed) &&
                !atomic_load(&b->feed_ns))
                atomic_store(&b->feed_ns, t);
            json_decref(ev[i]);
        }
        if (!n)
            sleep_us(waiting ? WATCH_ARMED_US : WATCH_IDLE_US);
    }
    return NULL;
}

/* The clients' lws context (in whichever process runs them). */
static int client_ctx_create(struct bench *b)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    info.user = b;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    b->ssl = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(b->ssl, SSL_VERIFY_NONE, NULL);
    info.provided_client_ssl_ctx = b->ssl;
    void *foreign[1] = {b->loop};
    if (b->loop) {
        info.options |= LWS_SERVER_OPTION_LIBUV;
        info.foreign_loops = foreign;
    }
    b->ctx = lws_create_context(&info);
    if (!b->ctx)
        return -1;
    lws_sul_schedule(b->ctx, 0, &b->tick, tick_cb, 1);
    return 0;
}

static void *client_main(void *arg)
{
    struct bench *b = arg;
    while (!atomic_load(&b->stop)) {
        if (b->loop)
            uv_run(b->loop, UV_RUN_ONCE);
        else
            lws_service(b->ctx, 0);
    }
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    b->client_cpu_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    return NULL;
}

/* The forked client process: waits for the server's port, runs the
 * clients on a libuv (epoll) loop until the parent says stop (tick_cb wakes
 * the loop every 10 ms), then exits without tearing down: the process ends. */
static void client_process(struct bench *b)
{
    static uv_loop_t loop;
    while (!atomic_load(&b->port) && !atomic_load(&b->stop) && getppid() == b->parent)
        sleep_us(1000);
    if (!b->client_poll && uv_loop_init(&loop) == 0)
        b->loop = &loop;
    if (atomic_load(&b->stop) || client_ctx_create(b)) {
        atomic_store(&b->failed, b->n);
        _exit(1);
    }
    client_main(b);
    _exit(0);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static long rss_kib(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* CPU time (user + system, seconds) process pid has used so far, from
 * /proc/PID/stat; -1 when it cannot be read. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    const char *p = strrchr(buf, ')'); /* the name may hold spaces */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double rusage_s(int who)
{
    struct rusage ru;
    if (getrusage(who, &ru) != 0)
        return 0;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* The floor under any WebSocket server on this machine: plain write()s
 * of a 200-byte message to n loopback TCP sockets, one after another (no
 * TLS, no framing, no JSON), read by a child process on an epoll loop.
 * Fills the writer's and the reader's CPU per message and the mean wall
 * time of one round of n writes; false when the sockets cannot be set up. */
struct floor {
    double write_us, read_us, round_ms;
};

static bool loopback_floor(int n, struct floor *out)
{
    enum { MSG = 200, ROUNDS = 50 };
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t al = sizeof a;
    int *cl = calloc((size_t)n, sizeof *cl), *sv = calloc((size_t)n, sizeof *sv);
    bool ok = ls >= 0 && cl && sv && bind(ls, (struct sockaddr *)&a, sizeof a) == 0 &&
              listen(ls, n) == 0 && getsockname(ls, (struct sockaddr *)&a, &al) == 0;
    int made = 0;
    for (; ok && made < n; made++) {
        cl[made] = socket(AF_INET, SOCK_STREAM, 0);
        ok = cl[made] >= 0 && connect(cl[made], (struct sockaddr *)&a, sizeof a) == 0 &&
             (sv[made] = accept(ls, NULL, NULL)) >= 0;
        if (ok)
            setsockopt(sv[made], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    pid_t child = ok ? fork() : -1;
    if (child == 0) {
        int ep = epoll_create1(0);
        for (int i = 0; i < n; i++) {
            close(sv[i]);
            struct epoll_event e = { .events = EPOLLIN, .data.fd = cl[i] };
            epoll_ctl(ep, EPOLL_CTL_ADD, cl[i], &e);
        }
        struct epoll_event ev[256];
        char buf[4096];
        long got = 0;
        while (got < (long)n * ROUNDS * MSG) {
            int k = epoll_wait(ep, ev, 256, 2000);
            if (k <= 0)
                break;
            for (int j = 0; j < k; j++) {
                ssize_t r = read(ev[j].data.fd, buf, sizeof buf);
                got += r > 0 ? r : 0;
            }
        }
        _exit(0);
    }
    if (child > 0) {
        char msg[MSG];
        memset(msg, 'x', sizeof msg);
        sleep_ms(100);
        double c0 = proc_cpu_s(getpid()), r0 = proc_cpu_s(child);
        int64_t wall = 0;
        for (int r = 0; r < ROUNDS && ok; r++) {
            int64_t t = now_ns();
            for (int i = 0; i < n && ok; i++)
                ok = write(sv[i], msg, MSG) == MSG;
            wall += now_ns() - t;
            sleep_ms(20);
        }
        double r1 = proc_cpu_s(child), c1 = proc_cpu_s(getpid());
        waitpid(child, NULL, 0);
        out->write_us = (c1 - c0) * 1e6 / ((double)n * ROUNDS);
        out->read_us = (r1 - r0) * 1e6 / ((double)n * ROUNDS);
        out->round_ms = (double)wall / ROUNDS / 1e6;
        ok = ok && c0 >= 0 && r0 >= 0 && r1 >= 0;
    }
    for (int i = 0; i < made; i++) {
        close(cl[i]);
        close(sv[i]);
    }
    if (ls >= 0)
        close(ls);
    free(cl);
    free(sv);
    return ok && child > 0;
}

int main(int argc, char **argv)
{
    int n = 1000, orders = 50;
    bool inproc = false, client_poll = false;
    enum clb_ws_wake wake = CLB_WS_WAKE_FD;
    const char *wake_name = "fd";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--clients") && i + 1 < argc)
            n = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--inproc"))
            inproc = true;
        else if (!strcmp(argv[i], "--client-poll"))
            client_poll = true;
        else if (!strcmp(argv[i], "--orders") && i + 1 < argc)
            orders = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--wake") && i + 1 < argc) {
            wake_name = argv[++i];
            wake = !strcmp(wake_name, "thread")  ? CLB_WS_WAKE_THREAD
                   : !strcmp(wake_name, "timer") ? CLB_WS_WAKE_TIMER
                                                 : CLB_WS_WAKE_FD;
        } else {
            fprintf(stderr, "usage: %s [--clients N] [--orders K] [--wake fd|thread|timer] "
                            "[--inproc | --client-poll]\n",
                    argv[0]);
            return 2;
        }
    }
    if (n < 1 || n > 1000 || orders < 1) {
        fprintf(stderr, "--clients must be in [1, 1000] (the server's default limit is 1024)\n");
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)(2 * n + 256)) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)(2 * n + 256) ? rl.rlim_max : (rlim_t)(2 * n + 256);
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    lws_set_log_level(LLL_ERR, NULL);
    struct floor fl = { 0 };
    if (loopback_floor(n, &fl))
        printf("floor: plain write() of 200 bytes to %d loopback TCP sockets in turn: %.1f us "
               "CPU per write,\n  %.1f us to read one (epoll, another process), %.2f ms for "
               "the %d writes\n",
               n, fl.write_us, fl.read_us, fl.round_ms, n);
    else
        fprintf(stderr, "floor: loopback sockets could not be set up: %s\n", strerror(errno));
    /* what the floor used is not the bench's */
    double floor_self_s = rusage_s(RUSAGE_SELF), floor_children_s = rusage_s(RUSAGE_CHILDREN);

    char dir[] = "/tmp/clb-ws-fanout-XXXXXX", cert[256], key[256], err[256];
    bool created;
    if (!mkdtemp(dir) ||
        clb_tls_ensure_selfsigned(dir, cert, key, sizeof cert, &created, err, sizeof err)) {
        fprintf(stderr, "setup: %s\n", err);
        return 1;
    }
    struct bench *bp = shared_calloc(1, sizeof *bp);
    if (!bp) {
        fprintf(stderr, "mmap failed\n");
        return 1;
    }
    struct bench *b = bp;
    b->n = n;
    b->client_poll = client_poll;
    struct clb_token_store store;
    struct clb_auth *auth;
    if (clb_token_store_open(dir, NULL, &store, err, sizeof err) ||
        clb_auth_create(store, &auth) ||
        clb_auth_token_create(auth, "bench", CLB_ROLE_READ, time(NULL), b->token, NULL)) {
        fprintf(stderr, "token: %s\n", err);
        return 1;
    }
    clb_auth_destroy(auth);

    /* What the clients write and the parent reads lives in shared memory. */
    b->c = shared_calloc((size_t)n, sizeof *b->c);
    b->recv_ns = shared_calloc((size_t)n, sizeof *b->recv_ns);
    b->cap_status = (size_t)n * 600;
    b->status_lag = shared_calloc(b->cap_status, sizeof *b->status_lag);
    if (!b->c || !b->recv_ns || !b->status_lag) {
        fprintf(stderr, "mmap failed\n");
        return 1;
    }
    pid_t child = -1;
    if (!inproc) {
        /* Before any thread exists: the child only ever runs lws. */
        fflush(NULL);
        b->parent = getpid();
        child = fork();
        if (child < 0) {
            fprintf(stderr, "fork: %s\n", strerror(errno));
            return 1;
        }
        if (child == 0)
            client_process(b);
    }

    struct clb_engine_config ec;
    struct clb_engine *engine;
    clb_engine_config_default(&ec);
    json_t *conns = json_loads("[{\"name\": \"paper\", \"type\": \"paper\", \"markets\": "
                               "[\"BTC-USDT\"], \"latency_ms\": 0}]",
                               0, NULL);
    ec.connectors = conns;
    if (clb_engine_create(&ec, &engine, err, sizeof err)) {
        fprintf(stderr, "engine: %s\n", err);
        return 1;
    }
    clb_log_set_level(clb_engine_log(engine), CLB_LOG_WARN);

    struct clb_ws_config wc = {.host = "127.0.0.1", .cert_pem_path = cert, .key_pem_path = key,
                               .data_dir = dir, .engine = engine, .wake = wake};
    struct clb_ws *ws;
    if (clb_ws_start(&wc, &ws, err, sizeof err)) {
        fprintf(stderr, "ws: %s\n", err);
        return 1;
    }
    int64_t *lat = calloc((size_t)n * (size_t)orders, sizeof *lat);
    int64_t *spread = calloc((size_t)n * (size_t)orders, sizeof *spread);
    int64_t *first = calloc((size_t)orders, sizeof *first);
    int64_t *from_feed = calloc((size_t)n * (size_t)orders, sizeof *from_feed);
    size_t n_feed = 0;
    b->engine = engine;

    long rss0 = rss_kib();
    int64_t t_conn = now_ns();
    pthread_t th, watch;
    atomic_store(&b->port, clb_ws_port(ws));
    if (inproc) {
        if (client_ctx_create(b)) {
            fprintf(stderr, "client context failed\n");
            return 1;
        }
        pthread_create(&th, NULL, client_main, b);
    }
    pthread_create(&watch, NULL, watch_main, b);

    for (int i = 0; i < 600 && atomic_load(&b->subscribed) + atomic_load(&b->failed) < n; i++)
        sleep_ms(50);
    double conn_s = (double)(now_ns() - t_conn) / 1e9;
    int subscribed = atomic_load(&b->subscribed);
    printf("clients: %d subscribed, %d failed, in %.2f s (server counts %d)\n", subscribed,
           atomic_load(&b->failed), conn_s, clb_ws_clients(ws));
    if (subscribed < n)
        fprintf(stderr, "warning: only %d of %d clients subscribed\n", subscribed, n);
    sleep_ms(1500); /* let the status stream settle */

    /* The CPU both sides spend on the trades' deliveries (printed at the
     * end): what they use while the orders are measured, less what they
     * use over as long a time without orders (the engine's ticks, the
     * market feed, status every second). */
    double idle_srv = proc_cpu_s(getpid()), idle_cli = inproc ? -1 : proc_cpu_s(child);
    int64_t idle_t0 = now_ns();
    sleep_ms(2000);
    int64_t idle_ns = now_ns() - idle_t0;
    idle_srv = proc_cpu_s(getpid()) - idle_srv;
    idle_cli = inproc ? -1 : proc_cpu_s(child) - idle_cli;
    double srv_cpu0 = proc_cpu_s(getpid()), cli_cpu0 = inproc ? -1 : proc_cpu_s(child);
    int64_t win_t0 = now_ns();
    size_t n_lat = 0, n_incomplete = 0;
    for (int k = 0; k < orders; k++) {
        for (int i = 0; i < n; i++)
            atomic_store(&b->recv_ns[i], 0);
        atomic_store(&b->received, 0);
        json_t *p = json_pack("{s:s, s:s, s:s, s:s, s:s}", "connector", "paper", "market",
                              "BTC-USDT", "side", k % 2 ? "sell" : "buy", "type", "market",
                              "amount", "0.001");
        json_t *res = NULL;
        atomic_store(&b->feed_ns, 0);
        atomic_store(&b->armed, k + 1);
        while (atomic_load(&b->watching) != k + 1)
            sleep_us(50);
        int64_t t0 = now_ns();
        int rc = clb_engine_call(engine, "order.create", p, &res, err, sizeof err, 5000);
        json_decref(p);
        json_decref(res);
        if (rc) {
            fprintf(stderr, "order.create: %s\n", err);
            break;
        }
        for (int i = 0; i < 500 && atomic_load(&b->received) < subscribed; i++)
            sleep_ms(2);
        atomic_store(&b->armed, 0);
        sleep_ms(20); /* no stragglers write into recv_ns while we read it */
        int64_t mn = INT64_MAX, tf = atomic_load(&b->feed_ns);
        for (int i = 0; i < n; i++)
            if (b->recv_ns[i] && b->recv_ns[i] < mn)
                mn = b->recv_ns[i];
        first[k] = mn == INT64_MAX ? 0 : mn - t0;
        for (int i = 0; i < n; i++) {
            if (!b->recv_ns[i]) {
                if (b->c[i].state == 3)
                    n_incomplete++;
                continue;
            }
            lat[n_lat] = b->recv_ns[i] - t0;
            spread[n_lat] = b->recv_ns[i] - mn;
            n_lat++;
            if (tf)
                from_feed[n_feed++] = b->recv_ns[i] - tf;
        }
        sleep_ms(80);
    }
    long rss1 = rss_kib();
    double srv_cpu1 = proc_cpu_s(getpid()), cli_cpu1 = inproc ? -1 : proc_cpu_s(child);
    double win_scale = (double)(now_ns() - win_t0) / (double)idle_ns;
    atomic_store(&b->stop, 1);
    double client_cpu_s = 0;
    if (inproc) {
        lws_cancel_service(b->ctx);
        pthread_join(th, NULL);
        client_cpu_s = b->client_cpu_s;
    } else {
        waitpid(child, NULL, 0);
        client_cpu_s = rusage_s(RUSAGE_CHILDREN) - floor_children_s;
    }
    pthread_join(watch, NULL);

    qsort(lat, n_lat, sizeof *lat, cmp_i64);
    qsort(spread, n_lat, sizeof *spread, cmp_i64);
    qsort(first, (size_t)orders, sizeof *first, cmp_i64);
    qsort(from_feed, n_feed, sizeof *from_feed, cmp_i64);
    qsort(b->status_lag, b->n_status, sizeof *b->status_lag, cmp_i64);
    printf("wake %s, %d clients, %d orders, %zu trade deliveries (%zu missing)\n", wake_name, n,
           orders, n_lat, n_incomplete);
    printf("order.create -> trade received, all clients (us): p50 %.0f  p90 %.0f  p99 %.0f  "
           "max %.0f\n",
           pct(lat, n_lat, 0.5) / 1e3, pct(lat, n_lat, 0.9) / 1e3, pct(lat, n_lat, 0.99) / 1e3,
           n_lat ? lat[n_lat - 1] / 1e3 : 0.0);
    printf("order.create -> first client (us):             p50 %.0f  p99 %.0f\n",
           pct(first, (size_t)orders, 0.5) / 1e3, pct(first, (size_t)orders, 0.99) / 1e3);
    printf("feed append -> trade received (us):            p50 %.0f  p90 %.0f  p99 %.0f  "
           "max %.0f\n",
           pct(from_feed, n_feed, 0.5) / 1e3, pct(from_feed, n_feed, 0.9) / 1e3,
           pct(from_feed, n_feed, 0.99) / 1e3, n_feed ? from_feed[n_feed - 1] / 1e3 : 0.0);
    printf("fan-out spread after the first client (us):    p50 %.0f  p90 %.0f  p99 %.0f  "
           "max %.0f\n",
           pct(spread, n_lat, 0.5) / 1e3, pct(spread, n_lat, 0.9) / 1e3,
           pct(spread, n_lat, 0.99) / 1e3, n_lat ? spread[n_lat - 1] / 1e3 : 0.0);
    printf("status receipt - ts (ms, %zu samples):        p50 %" PRId64 "  p99 %" PRId64
           "  max %" PRId64 "\n",
           b->n_status, pct(b->status_lag, b->n_status, 0.5), pct(b->status_lag, b->n_status, 0.99),
           b->n_status ? b->status_lag[b->n_status - 1] : 0);
    printf("feed events while measuring: %zu trades, %zu status, %zu on other topics\n",
           b->feed_events[0], b->feed_events[1], b->feed_events[2]);
    printf("%s RSS: %ld MiB before clients, %ld MiB with them\n",
           inproc ? "process" : "server process", rss0 / 1024, rss1 / 1024);
    printf("CPU: server process %.2f s, clients (%s) %.2f s\n",
           rusage_s(RUSAGE_SELF) - floor_self_s - (inproc ? client_cpu_s : 0),
           inproc ? "thread in-process" : "child process", client_cpu_s);
    if (!inproc && srv_cpu0 >= 0 && srv_cpu1 >= 0 && cli_cpu0 >= 0 && cli_cpu1 >= 0 &&
        idle_srv >= 0 && idle_cli >= 0 && n_lat > 0) {
        /* The server writes a broadcast to its clients one after another on
         * one thread, and server and clients share this machine's CPUs: the
         * last of n clients cannot have it before n x the server's cost per
         * delivery, nor before n x both sides' cost over the CPUs. (CPU
         * times come in 1/CLK_TCK steps: a few percent.) */
        double s_us = (srv_cpu1 - srv_cpu0 - idle_srv * win_scale) * 1e6 / (double)n_lat;
        double c_us = (cli_cpu1 - cli_cpu0 - idle_cli * win_scale) * 1e6 / (double)n_lat;
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        double both = (s_us + c_us) / (double)(cpus > 0 ? cpus : 1);
        double bound_ms = (double)n * (s_us > both ? s_us : both) / 1e3;
        printf("CPU per trade delivery (less the CPU of as long without orders): server %.1f "
               "us, clients %.1f us\n  so on %ld CPUs the last of %d clients gets a trade >= "
               "%.1f ms after it is published\n",
               s_us, c_us, cpus, n, bound_ms);
    }

    if (inproc) {
        lws_context_destroy(b->ctx);
        SSL_CTX_free(b->ssl);
    }
    clb_ws_stop(ws);
    clb_engine_shutdown(engine, 2000);
    clb_engine_destroy(engine);
    json_decref(conns);
    free(lat);
    free(spread);
    free(first);
    free(from_feed);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
