/* store_testlib.c — shared helpers of the store test suites (see the header). */
#include "store_testlib.h"

#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

char tl_url[1024];
char tl_dir[256];
char tl_dbname[64];

bool tl_pg(void)
{
    const char *b = getenv("COLIBRI_TEST_STORE");
    return b && strcmp(b, "postgres") == 0;
}

int64_t tl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t tl_rand(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void cluster_url(char *out, size_t cap)
{
    const char *u = getenv("COLIBRI_TEST_PG_URL");
    if (u && *u) {
        snprintf(out, cap, "%s", u);
        return;
    }
    const char *dir = getenv("COLIBRI_TEST_PG_DIR");
    char path[512];
    snprintf(path, sizeof(path), "%s/url", dir && *dir ? dir : COLIBRI_BINARY_DIR "/pg-test");
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "no PostgreSQL test cluster: %s missing (run through ctest, which "
                          "starts it with scripts/pg-test-cluster.sh)", path);
    cr_assert_not_null(fgets(out, (int)cap, f));
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
}

/* postgresql://AUTH@HOST/DB?PARAMS: replaces DB. */
void tl_pg_url_for(const char *dbname, char *out, size_t cap)
{
    char base[1024];
    cluster_url(base, sizeof(base));
    char *scheme = strstr(base, "://");
    cr_assert_not_null(scheme);
    char *slash = strchr(scheme + 3, '/');
    cr_assert_not_null(slash, "cluster URL without a database: %s", base);
    char *q = strchr(slash, '?');
    snprintf(out, cap, "%.*s/%s%s", (int)(slash - base), base, dbname, q ? q : "");
}

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

void tl_pg_admin(const char *fmt, ...)
{
    char sql[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(sql, sizeof(sql), fmt, ap);
    va_end(ap);
    char url[1024];
    tl_pg_url_for("postgres", url, sizeof(url));
    PGconn *c = PQconnectdb(url);
    cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    PGresult *r = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(r);
    cr_assert(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
              PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
}

void tl_db_create(void)
{
    static int counter;
    if (tl_pg()) {
        snprintf(tl_dbname, sizeof(tl_dbname), "clb_t_%d_%d", (int)getpid(), counter++);
        tl_pg_admin("DROP DATABASE IF EXISTS %s", tl_dbname);
        tl_pg_admin("CREATE DATABASE %s TEMPLATE template0", tl_dbname);
        tl_pg_url_for(tl_dbname, tl_url, sizeof(tl_url));
        tl_dir[0] = '\0';
        snprintf(tl_dir, sizeof(tl_dir), "/tmp/clb_store_XXXXXX");
        cr_assert_not_null(mkdtemp(tl_dir));
    } else {
        snprintf(tl_dir, sizeof(tl_dir), "/tmp/clb_store_XXXXXX");
        cr_assert_not_null(mkdtemp(tl_dir));
        snprintf(tl_url, sizeof(tl_url), "sqlite:%s/t.db", tl_dir);
    }
}

void tl_db_drop(void)
{
    if (tl_pg() && tl_dbname[0])
        tl_pg_admin("DROP DATABASE IF EXISTS %s WITH (FORCE)", tl_dbname);
    tl_dbname[0] = '\0';
    if (tl_dir[0]) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tl_dir);
        tl_dir[0] = '\0';
        cr_assert_eq(system(cmd), 0);
    }
}

struct clb_store *tl_open(const char *instance)
{
    struct clb_store_options o;
    clb_store_options_init(&o);
    o.url = tl_url;
    o.instance_id = instance;
    struct clb_store *s = NULL;
    char err[256];
    int rc = clb_store_open(&o, &s, err, sizeof(err));
    cr_assert_eq(rc, 0, "open %s: %s", tl_url, err);
    rc = clb_store_migrate(s, NULL, NULL, NULL);
    cr_assert_eq(rc, 0, "migrate: %s", clb_store_errmsg(s));
    return s;
}

long tl_count(const char *from_where)
{
    char sql[1024];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", from_where);
    long n = -1;
    if (tl_pg()) {
        PGconn *c = PQconnectdb(tl_url);
        cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
        PGresult *r = PQexec(c, sql);
        cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQresultErrorMessage(r));
        n = strtol(PQgetvalue(r, 0, 0), NULL, 10);
        PQclear(r);
        PQfinish(c);
    } else {
        sqlite3 *db;
        cr_assert_eq(sqlite3_open(tl_url + strlen("sqlite:"), &db), SQLITE_OK);
        sqlite3_busy_timeout(db, 5000);
        sqlite3_stmt *st;
        cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                     sqlite3_errmsg(db));
        cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
        n = (long)sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    return n;
}

struct clb_store_rec tl_fill(const char *coid, const char *trade_id, const char *market,
                             int64_t ts_ms)
{
    struct clb_store_rec r;
    memset(&r, 0, sizeof(r));
    r.type = CLB_STORE_REC_FILL;
    struct clb_store_fill *f = &r.u.fill;
    clb_store_strlcpy(f->connector, sizeof(f->connector), "paper");
    clb_store_strlcpy(f->market, sizeof(f->market), market);
    clb_store_strlcpy(f->trade_id, sizeof(f->trade_id), trade_id);
    clb_store_strlcpy(f->client_order_id, sizeof(f->client_order_id), coid);
    clb_store_strlcpy(f->fee_asset, sizeof(f->fee_asset), "USDT");
    f->side = CLB_SIDE_BUY;
    f->price = clb_dec_make(6543210, 2);
    f->amount = clb_dec_make(1500, 6);
    f->fee = clb_dec_make(-12, 4);
    f->ts_ms = ts_ms;
    return r;
}

struct clb_store_rec tl_order(const char *coid, int state, int64_t ts_ms)
{
    struct clb_store_rec r;
    memset(&r, 0, sizeof(r));
    r.type = CLB_STORE_REC_ORDER;
    struct clb_store_order *o = &r.u.order;
    clb_store_strlcpy(o->client_order_id, sizeof(o->client_order_id), coid);
    clb_store_strlcpy(o->connector, sizeof(o->connector), "paper");
    clb_store_strlcpy(o->market, sizeof(o->market), "BTC-USDT");
    o->side = CLB_SIDE_SELL;
    o->type = CLB_ORDER_LIMIT;
    o->state = state;
    o->price = clb_dec_make(6543210, 2);
    o->amount = clb_dec_make(1500, 6);
    o->executed_base = clb_dec_make(0, 0);
    o->executed_quote = clb_dec_make(0, 0);
    o->created_ms = o->updated_ms = ts_ms;
    return r;
}
