/*
 * tick_to_order.c — colibri-tick-to-order: the Binance connector's
 * tick-to-order latency against colibri-simex run in-process.
 *
 * A listener on the connector's bus reacts to every book diff by placing a
 * LIMIT_MAKER buy well below the market (it never fills) and cancels each
 * order once the exchange has acknowledged it. The connector measures, for
 * every order placed from inside a market-data event, the time from the
 * moment the frame was read off the WebSocket (the transport's receive
 * time) to the moment the order request was written (the transport's send
 * time), into the histogram of clb_binance_stats (tick_to_order). This
 * program prints its count, p50, p99 and max, and the target (p99 <= 50 us).
 *
 *   colibri-tick-to-order [--seconds N] [--busy-poll] [--rest] [--exact-sizing] [--no-pin]
 *                         [--one-market] [--json] [--strict]
 * Before the run, a bare spin loop on the worker's CPU counts for 1 s how
 * often the CPU is taken away (gaps between two clock reads), printed as
 * stalls per second: on a shared VM these, not colibri, set the tail.
 * --strict exits 1 when the target is missed. Orders go over the WebSocket
 * API (the connector's default); --rest measures the REST path. The end of
 * the measure is the moment the write call starts (lws_write; for REST,
 * curl's pre-transfer time); the write call's own duration is printed
 * apart (on loopback it includes waking the simulator's thread).
 *
 * Frames that come in one socket read: the receive time of the second and
 * later ones is that read's (ws_client.h), so their measure includes the
 * handling of the frames before them in the read, orders written included.
 * The simulator sends every market's depth update at the same moment, so
 * with two markets about half the samples are such second frames
 * (--one-market trades BTC-USDT alone: no depth frame waits for another). The
 * listener's own decision (book and rules read, sizing, double -> decimal,
 * up to the place call) is timed here and printed apart. --exact-sizing
 * sizes the order with an exact decimal division (clb_dec_div) instead of
 * a double converted by clb_dec_from_double (tens of ns, unless the value
 * sits on a rounding boundary: then snprintf + strtod, ~1 us warm and
 * ~19 us cold on the reference VM), to compare the two.
 *
 * CPUs: the simulator runs in this process, so by default its thread is
 * pinned to the last online CPU and the worker (this thread) to the first.
 * Unpinned, the scheduler often wakes the simulator on the worker's CPU
 * when an order is written, and the simulator then preempts the worker
 * for up to milliseconds (measured on a 2-vCPU VM: the write call's p99
 * went from ~1.1 ms to ~0.12 ms with pinning): an exchange on our own
 * core, which no deployment has. --no-pin leaves placement to the
 * scheduler. Pinning needs sched_setaffinity, a Linux call that glibc
 * declares only under _GNU_SOURCE (this file alone).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binance.h"
#include "error.h"
#include "netloop.h"
#include "order_book.h"
#include "order_tracker.h"
#include "simex.h"

#define TARGET_P99_NS 50000.0
#define MAX_DECISIONS 65536

struct bench {
    struct clb_connector *c;
    uint64_t placed, refused, reacted;
    bool ready;
    bool exact_sizing;
    int64_t decision_ns[MAX_DECISIONS]; /* listener entry -> place call */
    uint32_t n_decisions;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Pins the calling thread to cpu; false when that is refused. */
static bool pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0;
}

struct sim_thread {
    struct clb_simex *sim;
    int cpu; /* < 0: not pinned */
};

static void *run_sim(void *arg)
{
    struct sim_thread *t = arg;
    if (t->cpu >= 0)
        pin_to(t->cpu);
    clb_simex_run(t->sim);
    return NULL;
}

static void on_event(void *ud, const struct clb_event *ev)
{
    struct bench *b = ud;
    struct clb_connector *c = b->c;
    int64_t t0 = clb_netloop_mono_ns();
    if (ev->type == CLB_EV_ORDER_CREATED) {
        c->ops->cancel(c, ev->u.order.market, ev->u.order.client_order_id);
        return;
    }
    if (ev->type != CLB_EV_BOOK_DIFF || ev->u.book.snapshot || !b->ready)
        return;
    const struct clb_order_book *bk = c->ops->book(c, ev->u.book.market);
    const struct clb_market_rules *r = c->ops->rules(c, ev->u.book.market);
    struct clb_level bid;
    if (!bk || !r || !clb_book_best_bid(bk, &bid))
        return;
    b->reacted++;
    /* 10 % below the best bid, a notional of ~20 quote */
    int64_t px = bid.price - bid.price / 10;
    struct clb_order_request rq = { .market = ev->u.book.market, .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT_MAKER,
                                    .price = clb_dec_make(px, r->price_scale) };
    if (b->exact_sizing) {
        if (clb_dec_div(clb_dec_make(20, 0), rq.price, r->qty_scale, CLB_ROUND_UP, &rq.amount) !=
            CLB_OK)
            return;
    } else {
        double qty = 20.0 / clb_dec_to_double(clb_dec_make(px, r->price_scale));
        if (clb_dec_from_double(qty, r->qty_scale, CLB_ROUND_UP, &rq.amount) != CLB_OK)
            return;
    }
    char cid[CLB_CLIENT_ID_MAX];
    if (b->n_decisions < MAX_DECISIONS)
        b->decision_ns[b->n_decisions++] = clb_netloop_mono_ns() - t0;
    if (c->ops->place(c, &rq, cid) == CLB_OK)
        b->placed++;
    else
        b->refused++;
}

/* The machine's own stalls, for reading the tail: spins on this thread's
 * CPU for the given time reading the clock and counts the gaps between two
 * reads (time the thread did not run: the host or the kernel took the
 * CPU). Nothing of colibri runs meanwhile. */
struct gaps {
    double per_s_25, per_s_50, per_s_100; /* gaps longer than 25/50/100 us, per second */
    double lost_pct;                      /* time in gaps longer than 2 us */
};

static struct gaps spin_gaps(int64_t ns)
{
    uint64_t n25 = 0, n50 = 0, n100 = 0;
    int64_t lost = 0, start = clb_netloop_mono_ns(), prev = start, t;
    while ((t = clb_netloop_mono_ns()) - start < ns) {
        int64_t d = t - prev;
        prev = t;
        if (d > 2000)
            lost += d;
        n25 += d > 25000;
        n50 += d > 50000;
        n100 += d > 100000;
    }
    double secs = (double)(t - start) / 1e9;
    return (struct gaps){ (double)n25 / secs, (double)n50 / secs, (double)n100 / secs,
                          100.0 * (double)lost / (double)(t - start) };
}

static void usage(FILE *out)
{
    fprintf(out, "usage: colibri-tick-to-order [--seconds N] [--busy-poll] [--rest] "
                 "[--exact-sizing] [--no-pin] [--one-market] [--json] [--strict]\n"
                 "Measures the Binance connector's tick-to-order latency (market-data frame\n"
                 "read -> order request written) against colibri-simex run in-process.\n"
                 "  --seconds N  how long to trade (default 20)\n"
                 "  --busy-poll  poll the loop without sleeping (timeout 0) instead of 10 ms\n"
                 "  --rest       orders over REST only (default: the WebSocket API)\n"
                 "  --exact-sizing  size orders with clb_dec_div, not double -> decimal\n"
                 "  --no-pin     do not pin the simulator and the worker to separate CPUs\n"
                 "  --one-market trade BTC-USDT only (default: BTC-USDT and ETH-USDT)\n"
                 "  --json       one JSON object instead of text\n"
                 "  --strict     exit 1 when p99 > 50 us\n");
}

int main(int argc, char **argv)
{
    int seconds = 20;
    bool json = false, strict = false, busy_poll = false, rest = false, exact = false;
    bool pin = true, one_market = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
            seconds = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--json") == 0) {
            json = true;
        } else if (strcmp(argv[i], "--strict") == 0) {
            strict = true;
        } else if (strcmp(argv[i], "--busy-poll") == 0) {
            busy_poll = true;
        } else if (strcmp(argv[i], "--rest") == 0) {
            rest = true;
        } else if (strcmp(argv[i], "--exact-sizing") == 0) {
            exact = true;
        } else if (strcmp(argv[i], "--no-pin") == 0) {
            pin = false;
        } else if (strcmp(argv[i], "--one-market") == 0) {
            one_market = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (seconds <= 0) {
        usage(stderr);
        return 2;
    }
    struct clb_simex_config sc;
    clb_simex_config_default(&sc);
    sc.port = 0;
    sc.quiet = true;
    sc.limits.request_weight = 10000000;
    sc.limits.orders_10s = 1000000;
    sc.limits.orders_day = 100000000;
    clb_simex_config_add_account(&sc, "bench-key:bench-secret");
    char err[256];
    struct clb_simex *sim;
    if (clb_simex_create(&sc, &sim, err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "colibri-tick-to-order: simulator: %s\n", err);
        return 1;
    }
    long n_cpus = sysconf(_SC_NPROCESSORS_ONLN);
    struct sim_thread simt = { .sim = sim, .cpu = pin && n_cpus >= 2 ? (int)n_cpus - 1 : -1 };
    if (simt.cpu >= 0 && !pin_to(0))
        simt.cpu = -1;
    struct gaps idle_gaps = spin_gaps(INT64_C(1000000000));
    pthread_t th;
    pthread_create(&th, NULL, run_sim, &simt);
    int port = clb_simex_port(sim);

    struct clb_netloop *loop;
    if (clb_netloop_create(NULL, &loop) != CLB_OK) {
        fprintf(stderr, "colibri-tick-to-order: netloop\n");
        return 1;
    }
    struct clb_event_bus bus;
    clb_event_bus_init(&bus);
    char u0[64], u1[64], u2[80];
    snprintf(u0, sizeof(u0), "http://127.0.0.1:%d", port);
    snprintf(u1, sizeof(u1), "ws://127.0.0.1:%d", port);
    snprintf(u2, sizeof(u2), "ws://127.0.0.1:%d/ws-api/v3", port);
    struct clb_binance_config bc;
    clb_binance_config_default(&bc);
    bc.markets[0] = "BTC-USDT";
    bc.markets[1] = "ETH-USDT";
    bc.n_markets = one_market ? 1 : 2;
    bc.rest_url = u0;
    bc.stream_url = u1;
    bc.ws_api_url = u2;
    bc.api_key = "bench-key";
    bc.api_secret = "bench-secret";
    bc.orders_over_rest = rest;
    struct clb_binance *bn;
    if (clb_binance_create(loop, &bc, &bus, &bn, err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "colibri-tick-to-order: connector: %s\n", err);
        return 1;
    }
    struct bench *st = calloc(1, sizeof(*st));
    if (!st) {
        fprintf(stderr, "colibri-tick-to-order: out of memory\n");
        return 1;
    }
    st->c = clb_binance_connector(bn);
    st->exact_sizing = exact;
    clb_event_subscribe(&bus, CLB_EV_MASK(CLB_EV_BOOK_DIFF) | CLB_EV_MASK(CLB_EV_ORDER_CREATED),
                        on_event, st);
    int64_t end = clb_netloop_mono_ns() + INT64_C(20000000000);
    while (!clb_connector_ready(st->c) && clb_netloop_mono_ns() < end)
        clb_netloop_poll(loop, NULL, 0, 10);
    if (!clb_connector_ready(st->c)) {
        fprintf(stderr, "colibri-tick-to-order: connector not ready after 20 s\n");
        return 1;
    }
    st->ready = true;
    end = clb_netloop_mono_ns() + (int64_t)seconds * 1000000000;
    while (clb_netloop_mono_ns() < end)
        clb_netloop_poll(loop, NULL, 0, busy_poll ? 0 : 10);
    st->ready = false;
    clb_binance_cancel_all(bn, NULL);
    end = clb_netloop_mono_ns() + INT64_C(3000000000);
    while (!clb_binance_idle(bn) && clb_netloop_mono_ns() < end)
        clb_netloop_poll(loop, NULL, 0, 10);

    struct clb_binance_stats s;
    clb_binance_stats(bn, &s);
    const struct clb_binance_latency *h = &s.tick_to_order;
    double p50 = clb_binance_latency_quantile(h, 0.5), p99 = clb_binance_latency_quantile(h, 0.99);
    bool met = h->count > 0 && p99 <= TARGET_P99_NS;
    if (json)
        printf("{\"bench\":\"tick_to_order\",\"samples\":%llu,\"p50_ns\":%.0f,\"p99_ns\":%.0f,"
               "\"max_ns\":%lld,\"mean_ns\":%.0f,\"target_p99_ns\":%.0f,\"placed\":%llu,"
               "\"cpu_stalls_per_s\":{\"over_25us\":%.0f,\"over_50us\":%.0f,\"over_100us\":%.0f}}\n",
               (unsigned long long)h->count, p50, p99, (long long)h->max_ns,
               h->count ? (double)h->sum_ns / (double)h->count : 0.0, TARGET_P99_NS,
               (unsigned long long)st->placed, idle_gaps.per_s_25, idle_gaps.per_s_50,
               idle_gaps.per_s_100);
    else
        printf("tick_to_order  samples %llu  p50 %.1f us  p99 %.1f us  max %.1f us  "
               "(target p99 <= %.0f us: %s)  placed %llu refused %llu\n",
               (unsigned long long)h->count, p50 / 1e3, p99 / 1e3, (double)h->max_ns / 1e3,
               TARGET_P99_NS / 1e3, met ? "met" : "MISSED", (unsigned long long)st->placed,
               (unsigned long long)st->refused);
    if (!json)
        printf("  %s\n  this CPU before the run, a bare spin loop for 1 s: stalls > 25 us %.0f/s, "
               "> 50 us %.0f/s, > 100 us %.0f/s (%.1f%% of the time lost)\n",
               simt.cpu >= 0 ? "worker pinned to CPU 0, simulator to the last CPU"
                             : "threads not pinned",
               idle_gaps.per_s_25, idle_gaps.per_s_50, idle_gaps.per_s_100, idle_gaps.lost_pct);
    fflush(stdout);
    const struct clb_binance_latency *hs = &s.tick_to_submit;
    if (!json)
        printf("  of which frame read -> request handed to the transport: p50 %.1f us  p99 %.1f "
               "us\n  the write call itself (WS API, after the end of the measure): p50 %.1f us"
               "  p99 %.1f us\n  orders over the WS API %llu, REST requests %llu, new "
               "connections %llu\n",
               clb_binance_latency_quantile(hs, 0.5) / 1e3,
               clb_binance_latency_quantile(hs, 0.99) / 1e3,
               clb_binance_latency_quantile(&s.order_write, 0.5) / 1e3,
               clb_binance_latency_quantile(&s.order_write, 0.99) / 1e3,
               (unsigned long long)s.ws_api_requests, (unsigned long long)s.rest_requests,
               (unsigned long long)s.rest_connects);
    if (!json && st->n_decisions) {
        qsort(st->decision_ns, st->n_decisions, sizeof(st->decision_ns[0]), cmp_i64);
        printf("  the listener's own decision (inside the measure): p50 %.1f us  p99 %.1f us\n",
               (double)st->decision_ns[st->n_decisions / 2] / 1e3,
               (double)st->decision_ns[(uint32_t)((double)st->n_decisions * 0.99)] / 1e3);
    }
    clb_binance_destroy(bn);
    clb_netloop_destroy(loop);
    clb_simex_stop(sim);
    pthread_join(th, NULL);
    clb_simex_destroy(sim);
    free(st);
    return strict && !met ? 1 : 0;
}
