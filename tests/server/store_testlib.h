/*
 * store_testlib.h — what the store test suites share: which backend they run
 * against (COLIBRI_TEST_STORE=sqlite|postgres, set per CTest registration),
 * a fresh database per test (a temporary SQLite file, or a new PostgreSQL
 * database in the private cluster of the `pg` fixture), and a few helpers.
 *
 * PostgreSQL: the cluster's URL comes from $COLIBRI_TEST_PG_URL, else the
 * file $COLIBRI_TEST_PG_DIR/url written by scripts/pg-test-cluster.sh
 * (default COLIBRI_BINARY_DIR/pg-test).
 */
#ifndef CLB_STORE_TESTLIB_H
#define CLB_STORE_TESTLIB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* true when the suite runs against PostgreSQL. */
bool tl_pg(void);

/* A fresh, empty database for one test: its URL in tl_url. SQLite: a file in
 * a new temporary directory (tl_dir); PostgreSQL: a new database (tl_dbname).
 * Call from the test's init; tl_db_drop from its fini. */
extern char tl_url[1024];
extern char tl_dir[256];
extern char tl_dbname[64];
void tl_db_create(void);
void tl_db_drop(void);

/* Opens tl_url (instance NULL = "default"), migrated. Asserts success. */
struct clb_store *tl_open(const char *instance);

/* PostgreSQL admin statement on the cluster's maintenance database. */
void tl_pg_admin(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The cluster URL with another database name. */
void tl_pg_url_for(const char *dbname, char *out, size_t cap);

/* Counts rows: SELECT COUNT(*) FROM <from_where> on tl_url. */
long tl_count(const char *from_where);

/* Deterministic PRNG for tests. */
uint64_t tl_rand(uint64_t *state);

/* Records with a few fields set. */
struct clb_store_rec tl_fill(const char *coid, const char *trade_id, const char *market,
                             int64_t ts_ms);
struct clb_store_rec tl_order(const char *coid, int state, int64_t ts_ms);

/* Wall-clock milliseconds (monotonic). */
int64_t tl_now_ms(void);

#endif
