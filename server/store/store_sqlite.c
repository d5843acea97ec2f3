/*
 * store_sqlite.c — the SQLite backend (the embedded default).
 *
 * One sqlite3 connection per store, opened in WAL mode with
 * synchronous=NORMAL (a crash of the process loses no committed
 * transaction; a power cut may lose the last ones) and a busy timeout, so
 * readers on other connections run beside the writer. A database file it
 * creates is made 0600 (it holds token hashes). Record statements are prepared once
 * per connection (SQLITE_PREPARE_PERSISTENT) and reused; "$N" parameters
 * are SQLite named parameters, numbered by first appearance: each statement
 * keeps a map from N to SQLite's index, built when it is prepared.
 *
 * The page cache is 16 MiB per connection (SQLite's default is 2 MiB), which
 * keeps the fills indexes in memory during bursts.
 *
 * Failures that mean "the database cannot be used now" — busy/locked past
 * the timeout, I/O errors, a full disk, a file that cannot be opened or is
 * read-only, corruption — are CLB_EIO; a violated uniqueness constraint is
 * CLB_EEXIST; anything else the statement's fault, CLB_EINVAL.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "store_backend.h"

/* map[N - 1] = SQLite's index of parameter "$N". */
struct sq_map {
    int n;
    unsigned char idx[DB_MAX_PARAMS];
};

struct sq {
    sqlite3 *db;
    sqlite3_stmt *stmts[ST_COUNT_];
    struct sq_map maps[ST_COUNT_];
};

static int sq_code(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_NOMEM:
        return CLB_EIO;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return CLB_EEXIST;
        return CLB_EINVAL;
    default:
        return CLB_EINVAL;
    }
}

static int sq_fail(struct clb_store *s, struct sq *q, int rc, const char *what)
{
    store_set_err(s, "sqlite: %s: %s", what,
                  q && q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
    return sq_code(rc);
}

static void sq_disconnect(struct clb_store *s)
{
    struct sq *q = s->conn;
    if (!q)
        return;
    for (int i = 0; i < ST_COUNT_; i++)
        sqlite3_finalize(q->stmts[i]);
    sqlite3_close_v2(q->db);
    free(q);
    s->conn = NULL;
}

static int sq_exec_plain(struct clb_store *s, struct sq *q, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        int code = sqlite3_extended_errcode(q->db);
        store_set_err(s, "sqlite: %s", msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
        return sq_code(code);
    }
    return CLB_OK;
}

/* Runs a setup statement, retrying while another connection holds a lock
 * SQLite's busy handler does not wait for (switching a new database to WAL
 * mode while another connection does the same), for up to busy_timeout_ms. */
static int sq_exec_retry(struct clb_store *s, struct sq *q, const char *sql)
{
    int waited_ms = 0;
    for (;;) {
        int rc = sqlite3_exec(q->db, sql, NULL, NULL, NULL);
        if (rc == SQLITE_OK)
            return CLB_OK;
        int code = sqlite3_extended_errcode(q->db);
        if (((code & 0xff) != SQLITE_BUSY && (code & 0xff) != SQLITE_LOCKED) ||
            waited_ms >= s->busy_timeout_ms) {
            store_set_err(s, "sqlite: %s: %s", sql, sqlite3_errmsg(q->db));
            return sq_code(code);
        }
        struct timespec ts = { 0, 5 * 1000000L };
        nanosleep(&ts, NULL);
        waited_ms += 5;
    }
}

static int sq_connect(struct clb_store *s)
{
    const char *path = s->target;
    bool memory = strcmp(path, ":memory:") == 0;
    struct stat st;
    bool existed = memory || stat(path, &st) == 0;
    struct sq *q = calloc(1, sizeof(*q));
    if (!q) {
        store_set_err(s, "out of memory");
        return CLB_ENOMEM;
    }
    /* A missing directory makes the open fail: "unavailable", it may appear
     * later. */
    int rc = sqlite3_open_v2(path, &q->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        store_set_err(s, "sqlite: cannot open %s: %s", path,
                      q->db ? sqlite3_errmsg(q->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(q->db);
        free(q);
        return CLB_EIO;
    }
    /* The file holds token hashes: 0600 rather than SQLite's 0644, set
     * before the WAL and shared-memory files (which copy its mode) exist.
     * (Never open()/close() the file ourselves: closing any descriptor of a
     * file drops every POSIX lock this process holds on it, SQLite's
     * included.) */
    if (!existed && chmod(path, 0600) != 0) {
        store_set_err(s, "sqlite: cannot chmod %s: %s", path, strerror(errno));
        sqlite3_close_v2(q->db);
        free(q);
        return CLB_EIO;
    }
    sqlite3_extended_result_codes(q->db, 1);
    sqlite3_busy_timeout(q->db, s->busy_timeout_ms);
    rc = sq_exec_retry(s, q, "PRAGMA journal_mode = WAL");
    if (rc == CLB_OK)
        rc = sq_exec_retry(s, q, "PRAGMA synchronous = NORMAL");
    if (rc == CLB_OK)
        rc = sq_exec_retry(s, q, "PRAGMA foreign_keys = OFF");
    if (rc == CLB_OK)
        rc = sq_exec_retry(s, q, "PRAGMA cache_size = -16384");
    if (rc != CLB_OK) {
        sqlite3_close_v2(q->db);
        free(q);
        return rc == CLB_EINVAL ? CLB_EIO : rc;
    }
    s->conn = q;
    return CLB_OK;
}

static int sq_exec_script(struct clb_store *s, const char *sql)
{
    return sq_exec_plain(s, s->conn, sql);
}

/* Prepares sql and maps its parameters "$1".."$n" (each must exist). */
static int sq_prepare(struct clb_store *s, struct sq *q, const char *sql, bool persistent,
                      sqlite3_stmt **out, struct sq_map *map)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v3(q->db, sql, -1, persistent ? SQLITE_PREPARE_PERSISTENT : 0, &st,
                                NULL);
    if (rc != SQLITE_OK)
        return sq_fail(s, q, sqlite3_extended_errcode(q->db), "prepare");
    int np = sqlite3_bind_parameter_count(st);
    if (np > DB_MAX_PARAMS) {
        store_set_err(s, "sqlite: too many parameters");
        sqlite3_finalize(st);
        return CLB_EINVAL;
    }
    map->n = np;
    for (int i = 1; i <= np; i++) {
        char name[16];
        snprintf(name, sizeof(name), "$%d", i);
        int idx = sqlite3_bind_parameter_index(st, name);
        if (idx <= 0) {
            store_set_err(s, "sqlite: statement lacks parameter %s", name);
            sqlite3_finalize(st);
            return CLB_EINVAL;
        }
        map->idx[i - 1] = (unsigned char)idx;
    }
    *out = st;
    return CLB_OK;
}

static int sq_bind(struct clb_store *s, sqlite3_stmt *st, const struct sq_map *map,
                   const struct db_param *p, int n)
{
    if (map->n != n) {
        store_set_err(s, "sqlite: %d parameters given, %d expected", n, map->n);
        return CLB_EINVAL;
    }
    for (int i = 0; i < n; i++) {
        int rc, k = map->idx[i];
        switch (p[i].kind) {
        case DB_TEXT:
            rc = p[i].s ? sqlite3_bind_text(st, k, p[i].s, -1, SQLITE_STATIC)
                        : sqlite3_bind_null(st, k);
            break;
        case DB_INT:
            rc = sqlite3_bind_int64(st, k, p[i].i);
            break;
        default:
            rc = sqlite3_bind_null(st, k);
            break;
        }
        if (rc != SQLITE_OK) {
            store_set_err(s, "sqlite: bind: %s", sqlite3_errstr(rc));
            return CLB_EINVAL;
        }
    }
    return CLB_OK;
}

/* Steps st to completion (rows ignored). */
static int sq_run(struct clb_store *s, struct sq *q, sqlite3_stmt *st, int64_t *changes)
{
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    int code = rc == SQLITE_DONE ? CLB_OK : sq_fail(s, q, sqlite3_extended_errcode(q->db), "step");
    sqlite3_reset(st); /* bindings stay: every call binds every parameter */
    if (code == CLB_OK && changes)
        *changes = sqlite3_changes64(q->db);
    return code;
}

static int sq_exec(struct clb_store *s, const char *sql, const struct db_param *p, int n,
                   int64_t *changes)
{
    struct sq *q = s->conn;
    sqlite3_stmt *st;
    struct sq_map map;
    int rc = sq_prepare(s, q, sql, false, &st, &map);
    if (rc != CLB_OK)
        return rc;
    rc = sq_bind(s, st, &map, p, n);
    if (rc == CLB_OK)
        rc = sq_run(s, q, st, changes);
    sqlite3_finalize(st);
    return rc;
}

static int sq_exec_stmt(struct clb_store *s, enum store_stmt id, const struct db_param *p, int n,
                        int64_t *changes)
{
    struct sq *q = s->conn;
    if ((unsigned)id >= ST_COUNT_)
        return CLB_EINVAL;
    if (!q->stmts[id]) {
        int rc = sq_prepare(s, q, store_stmt_sql(id), true, &q->stmts[id], &q->maps[id]);
        if (rc != CLB_OK)
            return rc;
    }
    int rc = sq_bind(s, q->stmts[id], &q->maps[id], p, n);
    if (rc != CLB_OK) {
        sqlite3_clear_bindings(q->stmts[id]);
        return rc;
    }
    return sq_run(s, q, q->stmts[id], changes);
}

static int sq_query(struct clb_store *s, const char *sql, const struct db_param *p, int n,
                    db_row_fn fn, void *ud)
{
    struct sq *q = s->conn;
    sqlite3_stmt *st;
    struct sq_map map;
    int rc = sq_prepare(s, q, sql, false, &st, &map);
    if (rc != CLB_OK)
        return rc;
    rc = sq_bind(s, st, &map, p, n);
    if (rc != CLB_OK) {
        sqlite3_finalize(st);
        return rc;
    }
    int ncols = sqlite3_column_count(st);
    if (ncols > DB_MAX_COLS) {
        sqlite3_finalize(st);
        store_set_err(s, "sqlite: too many columns");
        return CLB_EINVAL;
    }
    const char *vals[DB_MAX_COLS];
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        for (int i = 0; i < ncols; i++)
            vals[i] = (const char *)sqlite3_column_text(st, i);
        if (fn(ud, ncols, vals))
            break;
    }
    rc = (step == SQLITE_ROW || step == SQLITE_DONE)
             ? CLB_OK
             : sq_fail(s, q, sqlite3_extended_errcode(q->db), "query");
    sqlite3_finalize(st);
    return rc;
}

static int sq_begin(struct clb_store *s)
{
    return sq_exec_plain(s, s->conn, "BEGIN IMMEDIATE");
}

static int sq_commit(struct clb_store *s)
{
    struct sq *q = s->conn;
    int rc = sq_exec_plain(s, q, "COMMIT");
    if (rc != CLB_OK && !sqlite3_get_autocommit(q->db)) {
        char msg[CLB_STORE_ERR_MAX];
        snprintf(msg, sizeof(msg), "%s", s->err);
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
        store_set_err(s, "%s", msg);
    }
    return rc;
}

static void sq_rollback(struct clb_store *s)
{
    struct sq *q = s->conn;
    if (q && !sqlite3_get_autocommit(q->db))
        sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
}

static int sq_lock_migrations(struct clb_store *s)
{
    (void)s; /* BEGIN IMMEDIATE already holds the database's write lock */
    return CLB_OK;
}

static int sq_batch_begin(struct clb_store *s)
{
    return sq_begin(s);
}

static int sq_batch_add(struct clb_store *s, enum store_stmt st, const struct db_param *p, int n)
{
    return sq_exec_stmt(s, st, p, n, NULL);
}

static int sq_batch_end(struct clb_store *s, bool commit)
{
    if (!commit) {
        sq_rollback(s);
        return CLB_OK;
    }
    return sq_commit(s);
}

const struct store_backend_ops store_sqlite_ops = {
    .name = "sqlite",
    .connect = sq_connect,
    .disconnect = sq_disconnect,
    .exec_script = sq_exec_script,
    .exec = sq_exec,
    .exec_stmt = sq_exec_stmt,
    .query = sq_query,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .lock_migrations = sq_lock_migrations,
    .batch_begin = sq_batch_begin,
    .batch_add = sq_batch_add,
    .batch_end = sq_batch_end,
};
