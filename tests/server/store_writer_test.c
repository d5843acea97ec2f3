/* Tests for server/store/store_writer.c: batching, order, the database
 * going away (down at start, locked or cut off mid-run, a real PostgreSQL
 * server stopped and started) with spilling and exactly-once replay, the
 * queue-full behaviour, a producer that never blocks, the spill file across
 * restarts (torn tail, foreign file), poison records and posts from other
 * threads. Runs against SQLite and PostgreSQL (see store_testlib.h). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "store/store_writer.h"
#include "store_testlib.h"

/* A test that starts its own PostgreSQL cluster (in tl_dir/pg2) has it
 * stopped here too, should it fail half-way. */
static void writer_fini(void)
{
    char dir[600], cmd[1300];
    snprintf(dir, sizeof(dir), "%s/pg2", tl_dir);
    struct stat st;
    if (tl_dir[0] && stat(dir, &st) == 0) {
        snprintf(cmd, sizeof(cmd), "%s/scripts/pg-test-cluster.sh stop '%s' >/dev/null 2>&1",
                 COLIBRI_SOURCE_DIR, dir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not stop the cluster in %s\n", dir);
    }
    tl_db_drop();
}

TestSuite(writer, .init = tl_db_create, .fini = writer_fini, .timeout = 120);

static void sleep_us(long us)
{
    struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
    nanosleep(&ts, NULL);
}

static void quiet(void *ud, enum clb_store_log_level lvl, const char *msg)
{
    (void)ud;
    (void)lvl;
    (void)msg;
}

static char spill_path[512];

static void wopts(struct clb_store_writer_options *o)
{
    clb_store_writer_options_init(o);
    o->store.url = tl_url;
    o->batch_ms = 10;
    o->reconnect_min_ms = 10;
    o->reconnect_max_ms = 50;
    o->log = getenv("CLB_TEST_LOG") ? NULL : quiet;
    snprintf(spill_path, sizeof(spill_path), "%s/store-spill.bin", tl_dir);
    o->spill_path = spill_path;
}

static struct clb_store_writer *start(const struct clb_store_writer_options *o)
{
    struct clb_store_writer *w = NULL;
    char err[256];
    int rc = clb_store_writer_create(o, &w, err, sizeof(err));
    cr_assert_eq(rc, CLB_OK, "create: %s", err);
    return w;
}

static struct clb_store_writer_status status(struct clb_store_writer *w)
{
    struct clb_store_writer_status st;
    clb_store_writer_status(w, &st);
    return st;
}

/* Polls until pred holds or ms pass. */
typedef bool (*status_pred)(const struct clb_store_writer_status *);

static bool wait_for(struct clb_store_writer *w, status_pred pred, int ms)
{
    int64_t end = tl_now_ms() + ms;
    do {
        struct clb_store_writer_status st = status(w);
        if (pred(&st))
            return true;
        sleep_us(2000);
    } while (tl_now_ms() < end);
    return false;
}

static bool is_connected(const struct clb_store_writer_status *st)
{
    return st->connected;
}

static bool is_down(const struct clb_store_writer_status *st)
{
    return !st->connected;
}

static void put_fills(struct clb_store_writer *w, int from, int n)
{
    for (int i = from; i < from + n; i++) {
        char tid[32];
        snprintf(tid, sizeof(tid), "t%d", i);
        struct clb_store_rec r = tl_fill("c", tid, "BTC-USDT", i);
        cr_assert_eq(clb_store_writer_put(w, &r), CLB_OK, "put %d", i);
    }
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* ---- making the database unavailable ---- */

/* Mid-run: SQLite — another connection holds the write lock (the writer's
 * busy timeout is short); PostgreSQL — the database refuses connections and
 * its sessions are terminated. */
struct blocker {
    sqlite3 *db;
};

static void block_db(struct blocker *b)
{
    if (tl_pg()) {
        tl_pg_admin("ALTER DATABASE %s ALLOW_CONNECTIONS false", tl_dbname);
        tl_pg_admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '%s'",
                    tl_dbname);
        b->db = NULL;
    } else {
        cr_assert_eq(sqlite3_open(tl_url + strlen("sqlite:"), &b->db), SQLITE_OK);
        sqlite3_busy_timeout(b->db, 5000);
        cr_assert_eq(sqlite3_exec(b->db, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK,
                     "%s", sqlite3_errmsg(b->db));
    }
}

static void unblock_db(struct blocker *b)
{
    if (tl_pg()) {
        tl_pg_admin("ALTER DATABASE %s ALLOW_CONNECTIONS true", tl_dbname);
    } else {
        cr_assert_eq(sqlite3_exec(b->db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(b->db);
        b->db = NULL;
    }
}

/* At start: SQLite — the database's directory does not exist yet;
 * PostgreSQL — the database refuses connections. tl_url is adjusted. */
static void down_at_start(void)
{
    if (tl_pg()) {
        tl_pg_admin("ALTER DATABASE %s ALLOW_CONNECTIONS false", tl_dbname);
    } else {
        snprintf(tl_url, sizeof(tl_url), "sqlite:%s/later/t.db", tl_dir);
    }
}

static void back_after_start(void)
{
    if (tl_pg()) {
        tl_pg_admin("ALTER DATABASE %s ALLOW_CONNECTIONS true", tl_dbname);
    } else {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/later", tl_dir);
        cr_assert_eq(mkdir(dir, 0700), 0);
    }
}

/* ---- tests ---- */

Test(writer, writes_everything_in_batches)
{
    struct clb_store_writer_options o;
    wopts(&o);
    o.batch_max = 100;
    struct clb_store_writer *w = start(&o);
    cr_assert(wait_for(w, is_connected, 10000), "never connected: %s", status(w).last_error_msg);
    cr_assert(clb_store_writer_available(w));
    for (int i = 0; i < 500; i++) {
        char id[16];
        snprintf(id, sizeof(id), "o%d", i);
        struct clb_store_rec r = tl_order(id, CLB_ORDER_OPEN, i);
        cr_assert_eq(clb_store_writer_put(w, &r), CLB_OK);
        put_fills(w, i * 4, 4);
    }
    cr_assert_eq(clb_store_writer_flush(w, 20000), CLB_OK);
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.enqueued, 2500);
    cr_assert_eq(st.written, 2500);
    cr_assert_eq(st.queued, 0);
    cr_assert_eq(st.failed, 0);
    cr_assert_eq(st.spilled, 0);
    cr_assert_eq(st.dropped, 0);
    cr_assert_geq(st.batches, 25, "at most batch_max records per transaction (%llu)",
                  (unsigned long long)st.batches);
    cr_assert_leq(st.batches, 250, "records are batched (%llu batches)",
                  (unsigned long long)st.batches);
    cr_assert_eq(tl_count("fills"), 2000);
    cr_assert_eq(tl_count("orders"), 500);
    cr_assert_eq(tl_count("instances"), 1);
    cr_assert_eq(clb_store_writer_stop(w, 5000), CLB_OK);
    cr_assert_eq(file_size(spill_path), -1, "no spill file left behind");
    clb_store_writer_destroy(w);
}

Test(writer, small_trickle_is_batched_by_time)
{
    struct clb_store_writer_options o;
    wopts(&o);
    o.batch_ms = 200;
    struct clb_store_writer *w = start(&o);
    cr_assert(wait_for(w, is_connected, 10000));
    int64_t t0 = tl_now_ms();
    for (int i = 0; i < 5; i++) {
        put_fills(w, i, 1);
        sleep_us(1000);
    }
    /* Nobody flushes: the writer writes them by itself within ~batch_ms,
     * in one or two transactions. */
    while (status(w).written < 5 && tl_now_ms() - t0 < 5000)
        sleep_us(2000);
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.written, 5);
    cr_assert_leq(st.batches, 2, "%llu batches for 5 records 1 ms apart",
                  (unsigned long long)st.batches);
    cr_assert_lt(tl_now_ms() - t0, 3000);
    clb_store_writer_destroy(w);
}

struct hist {
    int n;
    int prev[8], state[8];
};

static int collect_hist(void *ud, const struct clb_store_order_state *st)
{
    struct hist *h = ud;
    if (h->n < 8) {
        h->prev[h->n] = st->prev_state;
        h->state[h->n] = st->state;
    }
    h->n++;
    return 0;
}

static struct clb_store_rec state_rec(const char *coid, int prev, int state, int64_t ts)
{
    struct clb_store_rec r;
    memset(&r, 0, sizeof(r));
    r.type = CLB_STORE_REC_ORDER_STATE;
    clb_store_strlcpy(r.u.order_state.client_order_id, CLB_STORE_COID_MAX, coid);
    r.u.order_state.prev_state = prev;
    r.u.order_state.state = state;
    r.u.order_state.executed_base = clb_dec_make(state, 0);
    r.u.order_state.executed_quote = clb_dec_make(0, 0);
    r.u.order_state.ts_ms = ts;
    return r;
}

/* Every change has the same timestamp, so only the order of the writes
 * decides the final state; a tiny ring also sends part of it through the
 * spill file while the database is away. */
static void order_kept(bool with_outage)
{
    struct clb_store_writer_options o;
    wopts(&o);
    o.ring_bytes = 16384;
    o.store.busy_timeout_ms = 20;
    struct clb_store_writer *w = start(&o);
    cr_assert(wait_for(w, is_connected, 10000));
    enum { N = 150 };
    static const int steps[4][2] = {
        { CLB_ORDER_PENDING_CREATE, CLB_ORDER_OPEN },
        { CLB_ORDER_OPEN, CLB_ORDER_PARTIALLY_FILLED },
        { CLB_ORDER_PARTIALLY_FILLED, CLB_ORDER_PENDING_CANCEL },
        { CLB_ORDER_PENDING_CANCEL, CLB_ORDER_CANCELED },
    };
    struct blocker b;
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "o%d", i);
        struct clb_store_rec r = tl_order(id, CLB_ORDER_PENDING_CREATE, 7);
        cr_assert_eq(clb_store_writer_put(w, &r), CLB_OK);
    }
    if (with_outage)
        block_db(&b);
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < N; i++) {
            char id[16];
            snprintf(id, sizeof(id), "o%d", i);
            struct clb_store_rec r = state_rec(id, steps[k][0], steps[k][1], 7);
            cr_assert_eq(clb_store_writer_put(w, &r), CLB_OK);
            if (with_outage && k == 1 && i == N / 2) {
                cr_assert(wait_for(w, is_down, 10000), "outage not noticed");
                cr_assert_not(clb_store_writer_available(w));
            }
        }
    if (with_outage) {
        cr_assert_gt(status(w).spilled, 0, "a 16 KiB ring overflows into the spill file");
        unblock_db(&b);
    }
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK, "%s", status(w).last_error_msg);
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.written, 5 * N, "written %llu", (unsigned long long)st.written);
    cr_assert_eq(st.failed, 0);
    cr_assert_eq(st.dropped, 0);
    cr_assert_eq(st.spill_pending, 0);
    cr_assert_eq(tl_count("orders WHERE state = 'canceled'"), N);
    cr_assert_eq(tl_count("order_state_history"), 4 * N);
    struct clb_store *s = tl_open(NULL);
    struct hist h = { 0 };
    cr_assert_eq(clb_store_order_history(s, "o77", collect_hist, &h), CLB_OK);
    cr_assert_eq(h.n, 4);
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(h.prev[k], steps[k][0]);
        cr_assert_eq(h.state[k], steps[k][1]);
    }
    clb_store_close(s);
    cr_assert_eq(clb_store_writer_stop(w, 5000), CLB_OK);
    clb_store_writer_destroy(w);
}

Test(writer, order_is_preserved)
{
    order_kept(false);
}

Test(writer, order_is_preserved_across_an_outage)
{
    order_kept(true);
}

Test(writer, database_down_at_start_spills_then_catches_up)
{
    down_at_start();
    struct clb_store_writer_options o;
    wopts(&o);
    o.ring_bytes = 16384;
    struct clb_store_writer *w = start(&o);
    sleep_us(50000);
    cr_assert_not(status(w).connected);
    cr_assert_not(clb_store_writer_available(w));
    put_fills(w, 0, 500);
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.enqueued, 500);
    cr_assert_eq(st.written, 0);
    cr_assert_gt(st.spilled, 400, "ring of 16 KiB: most records spilled (%llu)",
                 (unsigned long long)st.spilled);
    cr_assert_eq(st.spill_pending, st.spilled);
    cr_assert_eq(st.dropped, 0);
    cr_assert_eq(st.queued, 500);
    cr_assert_neq(st.last_error, 0);
    cr_assert_gt(file_size(spill_path), 24 + 400 * 300);
    cr_assert_eq(clb_store_writer_flush(w, 100), CLB_ETIMEDOUT);

    back_after_start();
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK, "%s", status(w).last_error_msg);
    st = status(w);
    cr_assert(st.connected);
    cr_assert_eq(st.written, 500);
    cr_assert_eq(st.queued, 0);
    cr_assert_eq(st.spill_pending, 0);
    cr_assert_eq(tl_count("fills"), 500);
    cr_assert_eq(file_size(spill_path), 24, "replayed spill file truncated to its header");
    cr_assert(clb_store_writer_available(w));
    clb_store_writer_destroy(w);
}

Test(writer, database_lost_mid_run_nothing_lost_nothing_twice)
{
    struct clb_store_writer_options o;
    wopts(&o);
    o.ring_bytes = 32768;
    o.store.busy_timeout_ms = 20;
    struct clb_store_writer *w = start(&o);
    cr_assert(wait_for(w, is_connected, 10000));
    put_fills(w, 0, 100);
    cr_assert_eq(clb_store_writer_flush(w, 10000), CLB_OK);
    struct blocker b;
    block_db(&b);
    put_fills(w, 100, 1000);
    cr_assert(wait_for(w, is_down, 10000), "the writer did not notice");
    cr_assert_not(clb_store_writer_available(w));
    put_fills(w, 1100, 500);
    struct clb_store_writer_status st = status(w);
    cr_assert_gt(st.spilled, 0);
    cr_assert_eq(st.dropped, 0);
    unblock_db(&b);
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK, "%s", status(w).last_error_msg);
    st = status(w);
    cr_assert_eq(st.written, 1600, "every record written exactly once (%llu)",
                 (unsigned long long)st.written);
    cr_assert_eq(st.failed, 0);
    cr_assert_eq(st.queued, 0);
    cr_assert_geq(st.reconnects, 1);
    cr_assert_eq(tl_count("fills"), 1600);
    clb_store_writer_destroy(w);
}

/* A real server going away: stop the PostgreSQL cluster, start it again. */
Test(writer, postgres_server_stopped_and_restarted)
{
    if (!tl_pg()) {
        tl_db_drop(); /* a skipped test's fini does not run */
        cr_skip_test("PostgreSQL only");
    }
    char dir[600], cmd[1200], url[1024];
    snprintf(dir, sizeof(dir), "%s/pg2", tl_dir);
    snprintf(cmd, sizeof(cmd), "%s/scripts/pg-test-cluster.sh start '%s' >/dev/null",
             COLIBRI_SOURCE_DIR, dir);
    cr_assert_eq(system(cmd), 0);
    snprintf(cmd, sizeof(cmd), "%s/url", dir);
    FILE *f = fopen(cmd, "r");
    cr_assert_not_null(f);
    cr_assert_not_null(fgets(url, sizeof(url), f));
    fclose(f);
    url[strcspn(url, "\n")] = '\0';

    struct clb_store_writer_options o;
    wopts(&o);
    o.store.url = url;
    o.ring_bytes = 32768;
    struct clb_store_writer *w = start(&o);
    cr_assert(wait_for(w, is_connected, 10000), "%s", status(w).last_error_msg);
    put_fills(w, 0, 100);
    cr_assert_eq(clb_store_writer_flush(w, 10000), CLB_OK);
    snprintf(cmd, sizeof(cmd), "%s/scripts/pg-test-cluster.sh halt '%s'", COLIBRI_SOURCE_DIR,
             dir);
    cr_assert_eq(system(cmd), 0);
    put_fills(w, 100, 1000);
    cr_assert(wait_for(w, is_down, 10000));
    cr_assert_gt(status(w).spilled, 0);
    snprintf(cmd, sizeof(cmd), "%s/scripts/pg-test-cluster.sh resume '%s'", COLIBRI_SOURCE_DIR,
             dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK, "%s", status(w).last_error_msg);
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.written, 1100);
    cr_assert_eq(st.failed, 0);
    clb_store_writer_destroy(w);
    /* count on the private cluster */
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, "SELECT COUNT(*) FROM fills");
    cr_assert_str_eq(PQgetvalue(r, 0, 0), "1100");
    PQclear(r);
    PQfinish(c);
    snprintf(cmd, sizeof(cmd), "%s/scripts/pg-test-cluster.sh stop '%s'", COLIBRI_SOURCE_DIR, dir);
    cr_assert_eq(system(cmd), 0);
}

Test(writer, queue_full_without_spill_refuses_and_counts)
{
    down_at_start();
    struct clb_store_writer_options o;
    wopts(&o);
    o.spill_path = NULL;
    o.ring_bytes = 4096;
    struct clb_store_writer *w = start(&o);
    int ok = 0, full = 0;
    for (int i = 0; i < 100; i++) {
        char tid[32];
        snprintf(tid, sizeof(tid), "t%d", i);
        struct clb_store_rec r = tl_fill("c", tid, "BTC-USDT", i);
        int rc = clb_store_writer_put(w, &r);
        cr_assert(rc == CLB_OK || rc == CLB_EFULL);
        if (rc == CLB_OK) {
            cr_assert_eq(full, 0, "accepted after a refusal: the ring is FIFO");
            ok++;
        } else {
            full++;
        }
    }
    cr_assert_gt(ok, 4);
    cr_assert_lt(ok, 12, "a 4 KiB ring holds ~9 fills");
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.dropped, (uint64_t)full);
    cr_assert_eq(st.enqueued, (uint64_t)ok);
    back_after_start();
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK);
    cr_assert_eq(status(w).written, (uint64_t)ok);
    cr_assert_eq(tl_count("fills"), ok);
    clb_store_writer_destroy(w);
}

/* The writer is stuck inside a database call (SQLite: waiting for a lock
 * for 3 s; PostgreSQL: an INSERT waiting behind LOCK TABLE): the producer
 * goes on at full speed, spilling. */
Test(writer, producer_never_blocks_on_a_stuck_database)
{
    struct clb_store_writer_options o;
    wopts(&o);
    o.ring_bytes = 65536;
    o.store.busy_timeout_ms = 3000;
    struct clb_store_writer *w = start(&o);
    cr_assert(wait_for(w, is_connected, 10000));
    sqlite3 *lite = NULL;
    PGconn *pg = NULL;
    if (tl_pg()) {
        pg = PQconnectdb(tl_url);
        cr_assert_eq(PQstatus(pg), CONNECTION_OK);
        PGresult *r = PQexec(pg, "BEGIN; LOCK TABLE fills IN ACCESS EXCLUSIVE MODE");
        cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQresultErrorMessage(r));
        PQclear(r);
    } else {
        cr_assert_eq(sqlite3_open(tl_url + strlen("sqlite:"), &lite), SQLITE_OK);
        cr_assert_eq(sqlite3_exec(lite, "BEGIN EXCLUSIVE", NULL, NULL, NULL), SQLITE_OK);
    }
    put_fills(w, 0, 10); /* gets the writer stuck */
    sleep_us(100000);
    enum { N = 20000 };
    int64_t worst = 0, total = 0;
    for (int i = 10; i < 10 + N; i++) {
        char tid[32];
        snprintf(tid, sizeof(tid), "t%d", i);
        struct clb_store_rec r = tl_fill("c", tid, "BTC-USDT", i);
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        cr_assert_eq(clb_store_writer_put(w, &r), CLB_OK);
        clock_gettime(CLOCK_MONOTONIC, &b);
        int64_t ns = (b.tv_sec - a.tv_sec) * 1000000000LL + (b.tv_nsec - a.tv_nsec);
        total += ns;
        if (ns > worst)
            worst = ns;
    }
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.written, 0, "the writer is stuck");
    cr_assert_gt(st.spilled, N / 2);
    cr_assert_lt(worst, 50 * 1000000LL, "one put took %lld ns", (long long)worst);
    cr_assert_lt(total / N, 100000, "mean put %lld ns", (long long)(total / N));
    if (pg) {
        PQclear(PQexec(pg, "ROLLBACK"));
        PQfinish(pg);
    } else {
        sqlite3_exec(lite, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(lite);
    }
    cr_assert_eq(clb_store_writer_flush(w, 60000), CLB_OK, "%s", status(w).last_error_msg);
    st = status(w);
    cr_assert_eq(st.written, N + 10);
    cr_assert_eq(tl_count("fills"), N + 10);
    clb_store_writer_destroy(w);
}

Test(writer, spill_file_survives_a_restart_in_order)
{
    down_at_start();
    struct clb_store_writer_options o;
    wopts(&o);
    o.ring_bytes = 8192;
    struct clb_store_writer *w = start(&o);
    struct clb_store_rec r = tl_order("keep", CLB_ORDER_OPEN, 5);
    cr_assert_eq(clb_store_writer_put(w, &r), CLB_OK);
    put_fills(w, 0, 300);
    cr_assert_eq(clb_store_writer_stop(w, 200), CLB_ETIMEDOUT);
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.spill_pending, 301, "everything saved for the next start");
    clb_store_writer_destroy(w);
    cr_assert_gt(file_size(spill_path), 24);

    back_after_start();
    w = start(&o);
    st = status(w);
    cr_assert_eq(st.enqueued, 301);
    cr_assert_eq(st.spill_pending, 301);
    /* Put after the restart: applied after the old records (same ts). */
    r = state_rec("keep", CLB_ORDER_OPEN, CLB_ORDER_CANCELED, 5);
    cr_assert_eq(clb_store_writer_put(w, &r), CLB_OK);
    put_fills(w, 300, 50);
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK, "%s", status(w).last_error_msg);
    st = status(w);
    cr_assert_eq(st.written, 352);
    cr_assert_eq(st.queued, 0);
    cr_assert_eq(tl_count("fills"), 350);
    cr_assert_eq(tl_count("orders WHERE state = 'canceled'"), 1);
    cr_assert_eq(clb_store_writer_stop(w, 5000), CLB_OK);
    clb_store_writer_destroy(w);
    cr_assert_eq(file_size(spill_path), -1, "an empty spill file is removed at stop");
}

/* A process killed while replaying its spill file: the next start replays
 * only what was not committed yet (the read offset kept in the header, at
 * most one batch behind). */
Test(writer, spill_replay_resumes_after_a_crash)
{
    down_at_start();
    struct clb_store_writer_options o;
    wopts(&o);
    o.ring_bytes = 4096;
    struct clb_store_writer *w = start(&o);
    put_fills(w, 0, 300);
    cr_assert_eq(clb_store_writer_stop(w, 100), CLB_ETIMEDOUT);
    clb_store_writer_destroy(w);
    back_after_start();

    o.batch_max = 10;
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct clb_store_writer *cw = NULL;
        if (clb_store_writer_create(&o, &cw, NULL, 0) != CLB_OK)
            _exit(3);
        int64_t end = tl_now_ms() + 20000;
        while (status(cw).written < 100 && tl_now_ms() < end)
            sleep_us(100);
        raise(SIGKILL);
        _exit(4);
    }
    int wst = 0;
    cr_assert_eq(waitpid(pid, &wst, 0), pid);
    cr_assert(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL, "child status %d", wst);
    long done = tl_count("fills");
    cr_assert_geq(done, 100);

    o.batch_max = 0;
    w = start(&o);
    struct clb_store_writer_status st = status(w);
    cr_assert_leq(st.spill_pending, 300 - 100, "pending %llu",
                  (unsigned long long)st.spill_pending);
    cr_assert_geq((long)st.spill_pending, 300 - done, "nothing committed is skipped");
    cr_assert_leq((long)st.spill_pending, 300 - done + 10, "at most one batch again");
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK);
    cr_assert_eq(tl_count("fills"), 300);
    clb_store_writer_destroy(w);
}

/* With a queue file, a process killed outright keeps what it had put: the
 * records waiting in its ring (the database was down) and those it spilled
 * when the small ring was full are written at the next start, merged in
 * sequence order, then what is put after the restart. */
Test(writer, queue_file_keeps_the_records_of_a_killed_process)
{
    down_at_start();
    struct clb_store_writer_options o;
    wopts(&o);
    o.ring_bytes = 16384;
    char queue_path[600];
    snprintf(queue_path, sizeof(queue_path), "%s/store-queue.bin", tl_dir);
    o.queue_path = queue_path;
    enum { N = 60 };
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        struct clb_store_writer *cw = NULL;
        if (clb_store_writer_create(&o, &cw, NULL, 0) != CLB_OK)
            _exit(3);
        for (int i = 0; i < N; i++) {
            char id[16];
            snprintf(id, sizeof(id), "q%d", i);
            struct clb_store_rec r = tl_order(id, CLB_ORDER_PENDING_CREATE, 7);
            if (clb_store_writer_put(cw, &r) != CLB_OK)
                _exit(5);
        }
        for (int i = 0; i < N; i++) {
            char id[16];
            snprintf(id, sizeof(id), "q%d", i);
            struct clb_store_rec r = state_rec(id, CLB_ORDER_PENDING_CREATE, CLB_ORDER_OPEN, 7);
            if (clb_store_writer_put(cw, &r) != CLB_OK)
                _exit(5);
        }
        for (int i = 0; i < 100; i++) {
            char tid[32];
            snprintf(tid, sizeof(tid), "k%d", i);
            struct clb_store_rec r = tl_fill("c", tid, "BTC-USDT", i);
            if (clb_store_writer_put(cw, &r) != CLB_OK)
                _exit(5);
        }
        struct clb_store_writer_status cs;
        clb_store_writer_status(cw, &cs);
        if (cs.spilled == 0 || cs.ring_used_bytes == 0)
            _exit(6); /* both the ring and the spill file must hold some */
        raise(SIGKILL);
        _exit(4);
    }
    int wst = 0;
    cr_assert_eq(waitpid(pid, &wst, 0), pid);
    cr_assert(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGKILL, "child status %d", wst);
    cr_assert_eq(file_size(queue_path), 4096 + 16384);

    back_after_start();
    struct clb_store_writer *w = start(&o);
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.enqueued, 2 * N + 100, "records of the killed process: %llu",
                 (unsigned long long)st.enqueued);
    /* put after the restart: applied after the old ones (same timestamp) */
    struct clb_store_rec r = state_rec("q7", CLB_ORDER_OPEN, CLB_ORDER_CANCELED, 7);
    cr_assert_eq(clb_store_writer_put(w, &r), CLB_OK);
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK, "%s", status(w).last_error_msg);
    st = status(w);
    cr_assert_eq(st.written, 2 * N + 101);
    cr_assert_eq(st.failed, 0);
    cr_assert_eq(tl_count("fills"), 100);
    cr_assert_eq(tl_count("orders WHERE state = 'open'"), N - 1);
    cr_assert_eq(tl_count("orders WHERE state = 'canceled'"), 1);
    cr_assert_eq(clb_store_writer_stop(w, 5000), CLB_OK);
    clb_store_writer_destroy(w);

    /* nothing is written twice by a third start */
    w = start(&o);
    cr_assert_eq(status(w).enqueued, 0);
    clb_store_writer_destroy(w);

    /* a file of another ring size is moved aside, not misread */
    o.ring_bytes = 32768;
    w = start(&o);
    cr_assert_eq(status(w).enqueued, 0);
    clb_store_writer_destroy(w);
    char aside[700];
    snprintf(aside, sizeof(aside), "%s.incompatible", queue_path);
    cr_assert_eq(file_size(aside), 4096 + 16384);
    cr_assert_eq(file_size(queue_path), 4096 + 32768);
}

Test(writer, torn_and_foreign_spill_files)
{
    down_at_start();
    struct clb_store_writer_options o;
    wopts(&o);
    o.ring_bytes = 4096;
    struct clb_store_writer *w = start(&o);
    put_fills(w, 0, 40);
    cr_assert_eq(clb_store_writer_stop(w, 100), CLB_ETIMEDOUT);
    clb_store_writer_destroy(w);
    long good = file_size(spill_path);
    /* A crash mid-write leaves half a record. */
    FILE *f = fopen(spill_path, "ab");
    cr_assert_not_null(f);
    fwrite("\x90\x01\x00\x00\x03\x00\x00\x00garbage", 1, 15, f);
    fclose(f);
    back_after_start();
    w = start(&o);
    cr_assert_eq(file_size(spill_path), good, "torn tail cut");
    cr_assert_eq(status(w).spill_pending, 40);
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK);
    cr_assert_eq(status(w).written, 40);
    clb_store_writer_destroy(w);

    /* Not a spill file of ours: moved aside, never replayed. */
    f = fopen(spill_path, "wb");
    fputs("this is not a spill file", f);
    fclose(f);
    w = start(&o);
    char aside[600];
    snprintf(aside, sizeof(aside), "%s.incompatible", spill_path);
    cr_assert_gt(file_size(aside), 0);
    cr_assert_eq(status(w).spill_pending, 0);
    put_fills(w, 1000, 3);
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK);
    cr_assert_eq(tl_count("fills"), 43);
    clb_store_writer_destroy(w);
}

Test(writer, poison_and_malformed_records_are_dropped_alone)
{
    struct clb_store *s = tl_open(NULL);
    struct clb_store_token t;
    memset(&t, 0, sizeof(t));
    clb_store_strlcpy(t.name, sizeof(t.name), "admin");
    memset(t.hash, 'f', 64);
    clb_store_strlcpy(t.role, sizeof(t.role), "admin");
    cr_assert_eq(clb_store_token_add(s, &t), CLB_OK);
    clb_store_close(s);

    struct clb_store_writer_options o;
    wopts(&o);
    struct clb_store_writer *w = start(&o);
    cr_assert(wait_for(w, is_connected, 10000));
    put_fills(w, 0, 50);
    /* the database refuses it: another token has this hash */
    struct clb_store_rec bad = { .type = CLB_STORE_REC_TOKEN_ADD };
    bad.u.token = t;
    clb_store_strlcpy(bad.u.token.name, CLB_STORE_ID_MAX, "thief");
    cr_assert_eq(clb_store_writer_put(w, &bad), CLB_OK);
    put_fills(w, 50, 50);
    /* malformed: caught before it reaches the database */
    struct clb_store_rec strat = { .type = CLB_STORE_REC_STRATEGY };
    clb_store_strlcpy(strat.u.strategy.id, CLB_STORE_ID_MAX, "s1");
    clb_store_strlcpy(strat.u.strategy.type, CLB_STORE_TYPE_MAX, "pmm");
    clb_store_strlcpy(strat.u.strategy.status, CLB_STORE_TYPE_MAX, "running");
    strat.u.strategy.config_json = "{broken";
    cr_assert_eq(clb_store_writer_put(w, &strat), CLB_OK);
    put_fills(w, 100, 50);
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK);
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.written, 150);
    cr_assert_eq(st.failed, 2);
    cr_assert_eq(st.queued, 0);
    cr_assert(st.connected);
    cr_assert_eq(tl_count("fills"), 150);
    cr_assert_eq(tl_count("api_tokens"), 1);
    clb_store_writer_destroy(w);
}

struct poster {
    struct clb_store_writer *w;
    int id;
};

static void *post_thread(void *arg)
{
    struct poster *p = arg;
    for (int i = 0; i < 200; i++) {
        struct clb_store_rec r = { .type = CLB_STORE_REC_BT_RESULT };
        snprintf(r.u.bt_result.run_id, CLB_STORE_ID_MAX, "run-%d", p->id);
        r.u.bt_result.combo = i;
        r.u.bt_result.metrics_json = "{\"pnl_quote\":\"1.5\"}";
        while (clb_store_writer_post(p->w, &r) == CLB_EFULL)
            sleep_us(1000);
    }
    return NULL;
}

Test(writer, posts_from_other_threads)
{
    struct clb_store_writer_options o;
    wopts(&o);
    o.post_ring_bytes = 16384;
    struct clb_store_writer *w = start(&o);
    pthread_t t[4];
    struct poster p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = (struct poster){ w, i };
        pthread_create(&t[i], NULL, post_thread, &p[i]);
    }
    put_fills(w, 0, 500);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_assert_eq(clb_store_writer_flush(w, 30000), CLB_OK);
    struct clb_store_writer_status st = status(w);
    cr_assert_eq(st.written + st.dropped, 1300 + st.dropped);
    cr_assert_eq(st.written, 1300);
    cr_assert_eq(tl_count("backtest_results"), 800);
    cr_assert_eq(tl_count("fills"), 500);
    clb_store_writer_destroy(w);
}

Test(writer, contract_errors)
{
    struct clb_store_writer_options o;
    wopts(&o);
    struct clb_store_writer *w = NULL;
    char err[128];
    o.ring_bytes = 5000; /* not a power of two */
    cr_assert_eq(clb_store_writer_create(&o, &w, err, sizeof(err)), CLB_EINVAL);
    cr_assert_null(w);
    wopts(&o);
    o.store.url = "redis://nope";
    cr_assert_eq(clb_store_writer_create(&o, &w, err, sizeof(err)), CLB_EUNSUPPORTED);
    wopts(&o);
    w = start(&o);
    struct clb_store_rec r = { .type = (enum clb_store_rec_type)0 };
    cr_assert_eq(clb_store_writer_put(w, &r), CLB_EINVAL);
    cr_assert_eq(clb_store_writer_put(w, NULL), CLB_EINVAL);
    char *big = malloc(CLB_STORE_JSON_MAX + 2);
    memset(big, ' ', CLB_STORE_JSON_MAX + 1);
    big[CLB_STORE_JSON_MAX + 1] = '\0';
    r = (struct clb_store_rec){ .type = CLB_STORE_REC_STRATEGY };
    r.u.strategy.config_json = big;
    cr_assert_eq(clb_store_writer_put(w, &r), CLB_EINVAL);
    free(big);
    cr_assert_eq(clb_store_writer_stop(w, 5000), CLB_OK);
    cr_assert_eq(clb_store_writer_stop(w, 5000), CLB_ESTATE);
    r = tl_fill("c", "t", "BTC-USDT", 1);
    cr_assert_eq(clb_store_writer_put(w, &r), CLB_ESTATE);
    cr_assert_eq(clb_store_writer_post(w, &r), CLB_ESTATE);
    cr_assert_eq(clb_store_writer_flush(w, 10), CLB_ESTATE);
    clb_store_writer_destroy(w);
    clb_store_writer_destroy(NULL);
}
