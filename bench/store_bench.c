/*
 * store_bench.c — colibri-store-bench: what the store costs.
 *
 *   store_put_ns              the worker thread's cost to hand one fill record
 *                             to the writer (clb_store_writer_put) in bursts of
 *                             1000 while the writer thread drains the ring
 *                             into SQLite; median burst (target <= 200 ns)
 *   store_put_queue_file_ns   store_put_ns with the ring in a queue file (a
 *                             shared file mapping that outlives a killed
 *                             process; what `colibri serve` uses), target 200
 *   store_put_sustained_ns    the same for 100 000 puts in a row into a cold
 *                             64 MiB ring (no target: memory bandwidth)
 *   store_sqlite_fills_per_s  fills persisted per second through the writer
 *                             (batched transactions) into SQLite, from the
 *                             first put to the end of the flush (>= 100 000)
 *   store_pg_fills_per_s      the same into PostgreSQL (>= 50 000)
 *
 * PostgreSQL: --pg URL (or $COLIBRI_BENCH_PG_URL) names a database; without
 * one the benchmark starts a private throw-away cluster with
 * scripts/pg-test-cluster.sh and stops it at the end (--no-pg skips it).
 *
 * Usage: colibri-store-bench [--json] [--filter S] [--fills N] [--pg URL | --no-pg]
 * Figures print like colibri-bench's, one JSON object per line with --json.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "store/store.h"
#include "store/store_writer.h"

#define TRIALS 7
#define PUTS_PER_TRIAL 100000

struct ctx {
    bool json;
    const char *filter; /* run only figures whose name contains this */
    int misses;
};

static bool selected(const struct ctx *c, const char *name)
{
    return !c->filter || strstr(name, c->filter) != NULL;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void report_ns(struct ctx *c, const char *name, double ns, uint64_t ops, double target)
{
    bool miss = target > 0 && ns > target;
    c->misses += miss;
    if (c->json)
        printf("{\"bench\": \"%s\", \"ns_per_op\": %.2f, \"ops\": %llu, \"target_ns\": %.0f}\n",
               name, ns, (unsigned long long)ops, target);
    else if (target > 0)
        printf("%-28s %10.2f ns/op  (%llu ops, target <= %.0f ns: %s)\n", name, ns,
               (unsigned long long)ops, target, miss ? "MISSED" : "met");
    else
        printf("%-28s %10.2f ns/op  (%llu ops)\n", name, ns, (unsigned long long)ops);
    fflush(stdout);
}

static void report_rate(struct ctx *c, const char *name, double per_s, uint64_t ops,
                        double target)
{
    bool miss = target > 0 && per_s < target;
    c->misses += miss;
    if (c->json)
        printf("{\"bench\": \"%s\", \"value\": %.4g, \"unit\": \"fills/s\", \"ops\": %llu, "
               "\"target\": %.0f}\n",
               name, per_s, (unsigned long long)ops, target);
    else
        printf("%-28s %14.4g fills/s  (%llu ops, target >= %.0f: %s)\n", name, per_s,
               (unsigned long long)ops, target, miss ? "MISSED" : "met");
    fflush(stdout);
}

static void quiet(void *ud, enum clb_store_log_level lvl, const char *msg)
{
    (void)ud;
    if (lvl != CLB_STORE_LOG_INFO)
        fprintf(stderr, "store: %s\n", msg);
}

static struct clb_store_rec fill(uint64_t i)
{
    struct clb_store_rec r;
    memset(&r, 0, sizeof(r));
    r.type = CLB_STORE_REC_FILL;
    struct clb_store_fill *f = &r.u.fill;
    memcpy(f->connector, "binance", 8);
    memcpy(f->market, "BTC-USDT", 9);
    snprintf(f->trade_id, sizeof(f->trade_id), "%llu", (unsigned long long)i);
    memcpy(f->client_order_id, "hb-BBCUT5f3a1b2c3d4e51a2b", 26);
    memcpy(f->fee_asset, "BNB", 4);
    f->side = (i & 1) ? CLB_SIDE_SELL : CLB_SIDE_BUY;
    f->is_maker = true;
    f->price = clb_dec_make(6543210 + (int64_t)(i % 1000), 2);
    f->amount = clb_dec_make(1500 + (int64_t)(i % 7), 6);
    f->fee = clb_dec_make(-12, 6);
    f->ts_ms = 1700000000000 + (int64_t)i;
    return r;
}

static struct clb_store_writer *writer(const char *url, size_t ring_bytes, const char *queue_path)
{
    struct clb_store_writer_options o;
    clb_store_writer_options_init(&o);
    o.store.url = url;
    o.ring_bytes = ring_bytes;
    o.queue_path = queue_path;
    o.log = quiet;
    struct clb_store_writer *w = NULL;
    char err[256];
    if (clb_store_writer_create(&o, &w, err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "colibri-store-bench: %s\n", err);
        return NULL;
    }
    /* wait for the connection (and migrations) */
    for (int i = 0; i < 3000 && !clb_store_writer_available(w); i++) {
        struct timespec ts = { 0, 10000000 };
        nanosleep(&ts, NULL);
    }
    if (!clb_store_writer_available(w)) {
        struct clb_store_writer_status st;
        clb_store_writer_status(w, &st);
        fprintf(stderr, "colibri-store-bench: cannot reach %s: %s\n", url, st.last_error_msg);
        clb_store_writer_destroy(w);
        return NULL;
    }
    return w;
}

/* The producer's cost per put. store_put_ns: bursts of BURST records (a
 * batch's worth) into the default 8 MiB ring while the writer drains into
 * SQLite, the writer catching up between bursts (untimed); the median burst.
 * store_put_sustained_ns: 100 000 puts in a row into a 64 MiB ring, far
 * faster than any database takes them (the ring's memory is cold), the
 * median of TRIALS runs; no target. */
#define BURST 1000
#define BURSTS 300

/* Median ns per put over BURSTS bursts into the default ring (in memory,
 * or in the queue file at queue_path), reported as name. */
static int put_bursts(struct ctx *c, const char *url, const char *queue_path, const char *name,
                      const struct clb_store_rec *recs)
{
    struct clb_store_writer *w = writer(url, 0, queue_path);
    if (!w)
        return -1;
    static double per_burst[BURSTS];
    int rc = 0;
    for (int b = 0; b < BURSTS && rc == 0; b++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < BURST; i++)
            if (clb_store_writer_put(w, &recs[(b * BURST + i) & 1023]) != CLB_OK)
                rc = -1;
        per_burst[b] = (double)(now_ns() - t0) / BURST;
        if (clb_store_writer_flush(w, 120000) != CLB_OK)
            rc = -1;
    }
    clb_store_writer_destroy(w);
    if (rc != 0) {
        fprintf(stderr, "colibri-store-bench: put or flush failed\n");
        return -1;
    }
    qsort(per_burst, BURSTS, sizeof(double), cmp_double);
    report_ns(c, name, per_burst[BURSTS / 2], (uint64_t)BURSTS * BURST, 200);
    return 0;
}

static int bench_put(struct ctx *c, const char *url, const char *queue_path)
{
    static struct clb_store_rec recs[1024];
    for (int i = 0; i < 1024; i++)
        recs[i] = fill((uint64_t)i);
    if (put_bursts(c, url, NULL, "store_put_ns", recs) != 0 ||
        put_bursts(c, url, queue_path, "store_put_queue_file_ns", recs) != 0)
        return -1;
    int rc = 0;
    struct clb_store_writer *w = writer(url, (size_t)64 << 20, NULL);
    if (!w)
        return -1;
    double per_op[TRIALS];
    for (int t = 0; t < TRIALS && rc == 0; t++) {
        uint64_t t0 = now_ns();
        for (int i = 0; i < PUTS_PER_TRIAL; i++)
            if (clb_store_writer_put(w, &recs[i & 1023]) != CLB_OK)
                rc = -1;
        per_op[t] = (double)(now_ns() - t0) / PUTS_PER_TRIAL;
        if (clb_store_writer_flush(w, 120000) != CLB_OK)
            rc = -1;
    }
    struct clb_store_writer_status st;
    clb_store_writer_status(w, &st);
    clb_store_writer_destroy(w);
    if (rc != 0) {
        fprintf(stderr, "colibri-store-bench: put or flush failed\n");
        return -1;
    }
    if (st.spilled)
        fprintf(stderr, "colibri-store-bench: %llu records spilled during the put benchmark\n",
                (unsigned long long)st.spilled);
    qsort(per_op, TRIALS, sizeof(double), cmp_double);
    report_ns(c, "store_put_sustained_ns", per_op[TRIALS / 2], (uint64_t)TRIALS * PUTS_PER_TRIAL,
              0);
    return 0;
}

/* Fills persisted per second, through the writer. */
static int bench_fills(struct ctx *c, const char *name, const char *url, uint64_t n,
                       double target)
{
    struct clb_store_writer *w = writer(url, (size_t)256 << 20, NULL);
    if (!w)
        return -1;
    /* trade ids never seen before, also in a reused database */
    uint64_t base = now_ns() / 1000;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < n; i++) {
        struct clb_store_rec r = fill(base + i);
        if (clb_store_writer_put(w, &r) != CLB_OK) {
            fprintf(stderr, "colibri-store-bench: put failed\n");
            clb_store_writer_destroy(w);
            return -1;
        }
    }
    int rc = clb_store_writer_flush(w, 600000);
    uint64_t dt = now_ns() - t0;
    struct clb_store_writer_status st;
    clb_store_writer_status(w, &st);
    clb_store_writer_destroy(w);
    if (rc != CLB_OK || st.written != n) {
        fprintf(stderr, "colibri-store-bench: %s: %llu of %llu written (%s)\n", name,
                (unsigned long long)st.written, (unsigned long long)n, st.last_error_msg);
        return -1;
    }
    report_rate(c, name, (double)n / ((double)dt / 1e9), n, target);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: colibri-store-bench [--json] [--filter S] [--fills N] [--pg URL | --no-pg]\n"
               "Measures the store: the producer's cost per handed-over record and the\n"
               "fills persisted per second into SQLite and PostgreSQL.\n"
               "  --json      one JSON object per line\n"
               "  --filter S  only the figures whose name contains S\n"
               "  --fills N   fills per throughput run (default 200000)\n"
               "  --pg URL    PostgreSQL database to use (default $COLIBRI_BENCH_PG_URL, else\n"
               "              a private cluster started with scripts/pg-test-cluster.sh)\n"
               "  --no-pg     skip PostgreSQL\n");
}

int main(int argc, char **argv)
{
    struct ctx c = { 0 };
    const char *pg_url = getenv("COLIBRI_BENCH_PG_URL");
    bool no_pg = false;
    uint64_t n = 200000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            c.json = true;
        } else if (strcmp(argv[i], "--fills") == 0 && i + 1 < argc) {
            n = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--pg") == 0 && i + 1 < argc) {
            pg_url = argv[++i];
        } else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc) {
            c.filter = argv[++i];
        } else if (strcmp(argv[i], "--no-pg") == 0) {
            no_pg = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "colibri-store-bench: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (n == 0 || n > 5000000) {
        fprintf(stderr, "colibri-store-bench: --fills 1..5000000\n");
        return 2;
    }

    char dir[] = "/tmp/colibri-store-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("colibri-store-bench: mkdtemp");
        return 1;
    }
    char url[600], cmd[2048];
    int failures = 0;
    snprintf(url, sizeof(url), "sqlite:%s/put.db", dir);
    char queue[600];
    snprintf(queue, sizeof(queue), "%s/store-queue.bin", dir);
    if (selected(&c, "store_put"))
        failures += bench_put(&c, url, queue) != 0;
    snprintf(url, sizeof(url), "sqlite:%s/fills.db", dir);
    if (selected(&c, "store_sqlite_fills_per_s"))
        failures += bench_fills(&c, "store_sqlite_fills_per_s", url, n, 100000) != 0;
    if (!selected(&c, "store_pg_fills_per_s"))
        no_pg = true;

    bool own_cluster = false;
    char pg[1024] = "";
    if (!no_pg && pg_url && *pg_url) {
        snprintf(pg, sizeof(pg), "%s", pg_url);
    } else if (!no_pg) {
        snprintf(cmd, sizeof(cmd), "'%s/scripts/pg-test-cluster.sh' start '%s/pg' 2>&1",
                 COLIBRI_SOURCE_DIR, dir);
        FILE *p = popen(cmd, "r");
        if (p && fgets(pg, sizeof(pg), p))
            pg[strcspn(pg, "\n")] = '\0';
        int st = p ? pclose(p) : -1;
        if (st != 0 || strncmp(pg, "postgresql://", 13) != 0) {
            fprintf(stderr, "colibri-store-bench: could not start a PostgreSQL cluster (%s); "
                            "use --pg URL or --no-pg\n", pg);
            pg[0] = '\0';
            failures++;
        }
        own_cluster = true;
    }
    if (pg[0])
        failures += bench_fills(&c, "store_pg_fills_per_s", pg, n, 50000) != 0;
    if (own_cluster) {
        snprintf(cmd, sizeof(cmd), "'%s/scripts/pg-test-cluster.sh' stop '%s/pg' >/dev/null 2>&1",
                 COLIBRI_SOURCE_DIR, dir);
        if (system(cmd) != 0)
            fprintf(stderr, "colibri-store-bench: stopping the cluster failed\n");
    }
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "colibri-store-bench: could not remove %s\n", dir);
    if (!c.json && c.misses)
        printf("%d figure(s) missed their target\n", c.misses);
    return failures ? 1 : 0;
}
