/*
 * store_backend.h — what a database backend provides to the store, and the
 * store's private parts shared with its backends and the writer thread.
 *
 * A backend is a table of function pointers (struct store_backend_ops) over
 * one connection: connect/disconnect, statements with positional text or
 * integer parameters ($1, $2, ... — PostgreSQL's syntax; SQLite binds them as
 * named parameters), queries calling back per row with text columns,
 * transactions, and a batch interface that lets PostgreSQL pipeline a whole
 * transaction (one round trip per few hundred statements instead of one per
 * statement). store.c owns the SQL and the records; backends only execute.
 *
 * Every backend function returns CLB_OK, CLB_EIO (the database is unreachable
 * or unusable: retry after reconnecting), or CLB_EINVAL (the statement was
 * rejected), and writes a message into s->err on failure.
 */
#ifndef CLB_STORE_BACKEND_H
#define CLB_STORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* Statements written by records: backends prepare each once per connection. */
enum store_stmt {
    ST_ORDER_UPSERT = 0,
    ST_HISTORY_INSERT,
    ST_ORDER_STATE_UPDATE,
    ST_FILL_INSERT,
    ST_BALANCE_INSERT,
    ST_STRATEGY_UPSERT,
    ST_TOKEN_ADD,
    ST_TOKEN_REVOKE,
    ST_TOKEN_TOUCH,
    ST_BT_RUN_UPSERT,
    ST_BT_RESULT_UPSERT,
    ST_COUNT_
};

/* The SQL of a statement (shared by every backend). */
const char *store_stmt_sql(enum store_stmt st);

enum db_kind { DB_NULL = 0, DB_TEXT, DB_INT };

struct db_param {
    enum db_kind kind;
    const char *s; /* DB_TEXT, borrowed for the call */
    int64_t i;     /* DB_INT */
};

#define DB_MAX_PARAMS 24
#define DB_MAX_COLS 24

/* One result row: vals[i] is column i as text (NULL for SQL NULL), valid
 * during the call. Return 0 to go on, non-zero to stop. */
typedef int (*db_row_fn)(void *ud, int ncols, const char *const *vals);

struct store_backend_ops {
    const char *name;
    /* Connects to s->target (s->conn must be NULL); sets s->conn. */
    int (*connect)(struct clb_store *s);
    /* Closes s->conn (NULL-safe) and sets it to NULL. */
    void (*disconnect)(struct clb_store *s);
    /* Runs a script of ';'-separated statements without parameters. */
    int (*exec_script)(struct clb_store *s, const char *sql);
    /* Runs one statement; *changes (may be NULL) = rows it changed. */
    int (*exec)(struct clb_store *s, const char *sql, const struct db_param *p, int n,
                int64_t *changes);
    /* Runs a prepared record statement; *changes as above. */
    int (*exec_stmt)(struct clb_store *s, enum store_stmt st, const struct db_param *p, int n,
                     int64_t *changes);
    /* Runs a query and calls fn per row. fn's non-zero return stops it (CLB_OK). */
    int (*query)(struct clb_store *s, const char *sql, const struct db_param *p, int n,
                 db_row_fn fn, void *ud);
    /* Transactions. begin takes the write lock at once where the database
     * has one (SQLite BEGIN IMMEDIATE). rollback never fails. */
    int (*begin)(struct clb_store *s);
    int (*commit)(struct clb_store *s);
    void (*rollback)(struct clb_store *s);
    /* Inside a transaction: waits for the cluster-wide migration lock
     * (PostgreSQL advisory lock; SQLite: a no-op, begin holds the lock). */
    int (*lock_migrations)(struct clb_store *s);
    /* Batches: begin a transaction, queue record statements, then end with a
     * commit (commit = true) or a rollback. An error of a queued statement may
     * only surface at batch_end; after any error, batch_end(false) must still
     * be called. */
    int (*batch_begin)(struct clb_store *s);
    int (*batch_add)(struct clb_store *s, enum store_stmt st, const struct db_param *p, int n);
    int (*batch_end)(struct clb_store *s, bool commit);
};

extern const struct store_backend_ops store_sqlite_ops;
extern const struct store_backend_ops store_pg_ops;

struct clb_store {
    const struct store_backend_ops *ops;
    enum clb_store_backend backend;
    void *conn; /* the backend's connection state, NULL when disconnected */
    char target[1024];
    char instance[CLB_STORE_ID_MAX];
    int connect_timeout_s;
    int busy_timeout_ms;
    char err[CLB_STORE_ERR_MAX];
};

/* printf into s->err. */
void store_set_err(struct clb_store *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record writes for the writer thread: begin a batch, add records, end it.
 * store_batch_add checks the record first (clb_store_rec_check): a malformed
 * one is CLB_EPARSE, not added, and the batch stays usable. Otherwise the
 * backend's codes. */
int store_batch_begin(struct clb_store *s);
int store_batch_add(struct clb_store *s, const struct clb_store_rec *rec);
int store_batch_end(struct clb_store *s, bool commit);

/* A cheap round trip ("SELECT 1"): CLB_OK or CLB_EIO. */
int store_ping(struct clb_store *s);

/* True when the store has a live connection object (not a proof the server
 * is reachable). */
bool store_connected(const struct clb_store *s);

#endif
