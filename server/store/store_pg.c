/*
 * store_pg.c — the PostgreSQL backend, through libpq.
 *
 * One connection per store (connect_timeout from the options, TCP
 * keepalives on by libpq's default, notices silenced). Parameters travel as
 * text and the server infers their types from the statement, so one SQL
 * text serves both backends. Record statements are prepared once per
 * connection, just before the first batch (after migrations have created
 * the tables).
 *
 * Batches use libpq's pipeline mode: BEGIN, the records' statements and
 * COMMIT are sent without waiting for each answer; every PIPE_SYNC_EVERY
 * statements a sync point is sent and the answers up to it are read, which
 * bounds what the server buffers and keeps errors close to their cause. The
 * first error of a batch is kept; the statements after it are aborted by
 * the server, and the batch ends with ROLLBACK.
 *
 * A failure is CLB_EIO when the connection is gone or the server says it
 * cannot work now (SQLSTATE classes 08 connection, 53 resources, 57 operator
 * intervention, 58 system, and 40001/40P01/25006), CLB_EEXIST for a unique
 * violation (23505), CLB_EINVAL otherwise.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store_backend.h"

#define PIPE_SYNC_EVERY 256
#define FILL_GROUP 64
#define FILL_COLS 14
#define FILL_ARENA (FILL_GROUP * FILL_COLS * 80)
#define MIGRATION_LOCK_KEY "7165291463203123969" /* any constant shared by colibri */

struct pg {
    PGconn *c;
    bool prepared;
    bool in_batch;
    int batch_rc;  /* first error of the batch */
    int pending;   /* statements sent since the last sync */
    char last_status[32]; /* command tag of the last result read in a batch */
    /* fills waiting to be sent as one multi-row INSERT */
    int nfill;
    size_t arena_used;
    const char *fill_vals[FILL_GROUP * FILL_COLS];
    char arena[FILL_ARENA];
};

struct pg_params {
    const char *vals[DB_MAX_PARAMS];
    char ints[DB_MAX_PARAMS][24];
};

static void quiet_notices(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static void trim(char *m)
{
    size_t n = strlen(m);
    while (n > 0 && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
}

/* Classifies a failure (r may be NULL: a send or connection failure). */
static int pg_fail(struct clb_store *s, struct pg *p, const PGresult *r, const char *what)
{
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    if (!msg || !*msg)
        msg = p && p->c ? PQerrorMessage(p->c) : "no connection";
    store_set_err(s, "postgres: %s: %s", what, msg);
    trim(s->err);
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (!p || !p->c || PQstatus(p->c) != CONNECTION_OK || !state)
        return CLB_EIO;
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "53", 2) == 0 ||
        strncmp(state, "57", 2) == 0 || strncmp(state, "58", 2) == 0 ||
        strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
        strcmp(state, "25006") == 0)
        return CLB_EIO;
    if (strcmp(state, "23505") == 0)
        return CLB_EEXIST;
    return CLB_EINVAL;
}

static bool res_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

static void params_text(struct pg_params *pp, const struct db_param *p, int n)
{
    for (int i = 0; i < n; i++) {
        switch (p[i].kind) {
        case DB_TEXT:
            pp->vals[i] = p[i].s;
            break;
        case DB_INT:
            snprintf(pp->ints[i], sizeof(pp->ints[i]), "%lld", (long long)p[i].i);
            pp->vals[i] = pp->ints[i];
            break;
        default:
            pp->vals[i] = NULL;
            break;
        }
    }
}

static void pg_disconnect(struct clb_store *s)
{
    struct pg *p = s->conn;
    if (!p)
        return;
    PQfinish(p->c);
    free(p);
    s->conn = NULL;
}

static int pg_connect(struct clb_store *s)
{
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%d", s->connect_timeout_s);
    const char *keys[] = { "dbname", "connect_timeout", "fallback_application_name", NULL };
    const char *vals[] = { s->target, timeout, "colibri", NULL };
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c) {
        store_set_err(s, "postgres: out of memory");
        return CLB_ENOMEM;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        store_set_err(s, "postgres: cannot connect: %s", PQerrorMessage(c));
        trim(s->err);
        PQfinish(c);
        return CLB_EIO;
    }
    PQsetNoticeProcessor(c, quiet_notices, NULL);
    struct pg *p = calloc(1, sizeof(*p));
    if (!p) {
        PQfinish(c);
        store_set_err(s, "out of memory");
        return CLB_ENOMEM;
    }
    p->c = c;
    s->conn = p;
    return CLB_OK;
}

/* Runs a parameterless command and checks it succeeded. */
static int pg_simple(struct clb_store *s, const char *sql)
{
    struct pg *p = s->conn;
    PGresult *r = PQexec(p->c, sql);
    int rc = res_ok(r) ? CLB_OK : pg_fail(s, p, r, sql);
    PQclear(r);
    return rc;
}

static int pg_exec_script(struct clb_store *s, const char *sql)
{
    struct pg *p = s->conn;
    PGresult *r = PQexec(p->c, sql);
    int rc = res_ok(r) ? CLB_OK : pg_fail(s, p, r, "script");
    PQclear(r);
    return rc;
}

static int64_t changes_of(PGresult *r)
{
    const char *t = PQcmdTuples(r);
    return t && *t ? strtoll(t, NULL, 10) : 0;
}

static int pg_exec(struct clb_store *s, const char *sql, const struct db_param *prm, int n,
                   int64_t *changes)
{
    struct pg *p = s->conn;
    struct pg_params pp;
    if (n > DB_MAX_PARAMS)
        return CLB_EINVAL;
    params_text(&pp, prm, n);
    PGresult *r = PQexecParams(p->c, sql, n, NULL, pp.vals, NULL, NULL, 0);
    int rc = res_ok(r) ? CLB_OK : pg_fail(s, p, r, "exec");
    if (rc == CLB_OK && changes)
        *changes = changes_of(r);
    PQclear(r);
    return rc;
}

static void stmt_name(enum store_stmt st, char *buf, size_t cap)
{
    snprintf(buf, cap, "clb_st%d", (int)st);
}

/* "INSERT INTO fills (...) VALUES ($1..$14), ($15..$28), ... ON CONFLICT ..."
 * built from the single-row statement. */
static char *fill_group_sql(void)
{
    const char *one = store_stmt_sql(ST_FILL_INSERT);
    const char *values = strstr(one, " VALUES ");
    const char *tail = strstr(one, " ON CONFLICT");
    if (!values || !tail)
        return NULL;
    size_t cap = (size_t)(values - one) + strlen(tail) + 16 + (size_t)FILL_GROUP * FILL_COLS * 8;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t n = (size_t)(values - one);
    memcpy(sql, one, n);
    n += (size_t)snprintf(sql + n, cap - n, " VALUES ");
    for (int r = 0; r < FILL_GROUP; r++) {
        n += (size_t)snprintf(sql + n, cap - n, r ? ", (" : "(");
        for (int c = 0; c < FILL_COLS; c++)
            n += (size_t)snprintf(sql + n, cap - n, c ? ", $%d" : "$%d", r * FILL_COLS + c + 1);
        n += (size_t)snprintf(sql + n, cap - n, ")");
    }
    snprintf(sql + n, cap - n, "%s", tail);
    return sql;
}

static int pg_prepare_all(struct clb_store *s)
{
    struct pg *p = s->conn;
    if (p->prepared)
        return CLB_OK;
    char *group = fill_group_sql();
    if (!group) {
        store_set_err(s, "out of memory");
        return CLB_ENOMEM;
    }
    PGresult *gr = PQprepare(p->c, "clb_fills_group", group, 0, NULL);
    free(group);
    if (!res_ok(gr)) {
        int rc = pg_fail(s, p, gr, "prepare");
        PQclear(gr);
        PQclear(PQexec(p->c, "DEALLOCATE ALL"));
        return rc;
    }
    PQclear(gr);
    for (int i = 0; i < ST_COUNT_; i++) {
        char name[32];
        stmt_name((enum store_stmt)i, name, sizeof(name));
        PGresult *r = PQprepare(p->c, name, store_stmt_sql((enum store_stmt)i), 0, NULL);
        if (!res_ok(r)) {
            int rc = pg_fail(s, p, r, "prepare");
            PQclear(r);
            PQclear(PQexec(p->c, "DEALLOCATE ALL"));
            return rc;
        }
        PQclear(r);
    }
    p->prepared = true;
    return CLB_OK;
}

static int pg_exec_stmt(struct clb_store *s, enum store_stmt st, const struct db_param *prm, int n,
                        int64_t *changes)
{
    struct pg *p = s->conn;
    if ((unsigned)st >= ST_COUNT_ || n > DB_MAX_PARAMS)
        return CLB_EINVAL;
    int rc = pg_prepare_all(s);
    if (rc != CLB_OK)
        return rc;
    struct pg_params pp;
    params_text(&pp, prm, n);
    char name[32];
    stmt_name(st, name, sizeof(name));
    PGresult *r = PQexecPrepared(p->c, name, n, pp.vals, NULL, NULL, 0);
    rc = res_ok(r) ? CLB_OK : pg_fail(s, p, r, "exec");
    if (rc == CLB_OK && changes)
        *changes = changes_of(r);
    PQclear(r);
    return rc;
}

static int pg_query(struct clb_store *s, const char *sql, const struct db_param *prm, int n,
                    db_row_fn fn, void *ud)
{
    struct pg *p = s->conn;
    if (n > DB_MAX_PARAMS)
        return CLB_EINVAL;
    struct pg_params pp;
    params_text(&pp, prm, n);
    PGresult *r = PQexecParams(p->c, sql, n, NULL, pp.vals, NULL, NULL, 0);
    if (!res_ok(r)) {
        int rc = pg_fail(s, p, r, "query");
        PQclear(r);
        return rc;
    }
    int ncols = PQnfields(r);
    if (ncols > DB_MAX_COLS) {
        PQclear(r);
        store_set_err(s, "postgres: too many columns");
        return CLB_EINVAL;
    }
    const char *vals[DB_MAX_COLS];
    int rows = PQntuples(r);
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < ncols; j++)
            vals[j] = PQgetisnull(r, i, j) ? NULL : PQgetvalue(r, i, j);
        if (fn(ud, ncols, vals))
            break;
    }
    PQclear(r);
    return CLB_OK;
}

static int pg_begin(struct clb_store *s)
{
    return pg_simple(s, "BEGIN");
}

static int pg_commit(struct clb_store *s)
{
    struct pg *p = s->conn;
    PGresult *r = PQexec(p->c, "COMMIT");
    int rc;
    if (!res_ok(r))
        rc = pg_fail(s, p, r, "commit");
    else if (strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
        store_set_err(s, "postgres: the transaction was rolled back");
        rc = CLB_EINVAL;
    } else
        rc = CLB_OK;
    PQclear(r);
    return rc;
}

static void pg_rollback(struct clb_store *s)
{
    struct pg *p = s->conn;
    if (p && PQtransactionStatus(p->c) != PQTRANS_IDLE)
        PQclear(PQexec(p->c, "ROLLBACK"));
}

static int pg_lock_migrations(struct clb_store *s)
{
    return pg_simple(s, "SELECT pg_advisory_xact_lock(" MIGRATION_LOCK_KEY ")");
}

/* Sends a sync point and reads every answer up to it. */
static int pg_sync_drain(struct clb_store *s)
{
    struct pg *p = s->conn;
    if (!PQpipelineSync(p->c)) {
        if (p->batch_rc == CLB_OK)
            p->batch_rc = pg_fail(s, p, NULL, "pipeline sync");
        return p->batch_rc;
    }
    int nulls = 0;
    for (;;) {
        PGresult *r = PQgetResult(p->c);
        if (!r) {
            /* One NULL ends each statement's results; two in a row mean
             * nothing more will come (the connection is gone). */
            if (++nulls >= 2 || PQstatus(p->c) != CONNECTION_OK) {
                if (p->batch_rc == CLB_OK)
                    p->batch_rc = pg_fail(s, p, NULL, "pipeline");
                break;
            }
            continue;
        }
        nulls = 0;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            break;
        }
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            snprintf(p->last_status, sizeof(p->last_status), "%s", PQcmdStatus(r));
        } else if (st != PGRES_PIPELINE_ABORTED && p->batch_rc == CLB_OK) {
            p->batch_rc = pg_fail(s, p, r, "batch");
        }
        PQclear(r);
    }
    p->pending = 0;
    return p->batch_rc;
}

static int pg_batch_begin(struct clb_store *s)
{
    struct pg *p = s->conn;
    int rc = pg_prepare_all(s);
    if (rc != CLB_OK)
        return rc;
    if (!PQenterPipelineMode(p->c))
        return pg_fail(s, p, NULL, "pipeline mode");
    p->in_batch = true;
    p->batch_rc = CLB_OK;
    p->pending = 0;
    p->nfill = 0;
    p->arena_used = 0;
    p->last_status[0] = '\0';
    if (!PQsendQueryParams(p->c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0)) {
        p->batch_rc = pg_fail(s, p, NULL, "begin");
        return p->batch_rc;
    }
    p->pending = 1;
    return CLB_OK;
}

static int pg_send(struct clb_store *s, const char *name, int n, const char *const *vals)
{
    struct pg *p = s->conn;
    if (!PQsendQueryPrepared(p->c, name, n, vals, NULL, NULL, 0)) {
        p->batch_rc = pg_fail(s, p, NULL, "send");
        return p->batch_rc;
    }
    if (++p->pending >= PIPE_SYNC_EVERY)
        return pg_sync_drain(s);
    return CLB_OK;
}

/* Sends the waiting fills: one multi-row INSERT for a full group, else one
 * INSERT per row. */
static int pg_flush_fills(struct clb_store *s)
{
    struct pg *p = s->conn;
    int rc = CLB_OK;
    if (p->nfill == FILL_GROUP) {
        rc = pg_send(s, "clb_fills_group", FILL_GROUP * FILL_COLS, p->fill_vals);
    } else {
        char name[32];
        stmt_name(ST_FILL_INSERT, name, sizeof(name));
        for (int i = 0; i < p->nfill && rc == CLB_OK; i++)
            rc = pg_send(s, name, FILL_COLS, p->fill_vals + i * FILL_COLS);
    }
    p->nfill = 0;
    p->arena_used = 0;
    return rc;
}

/* Copies one fill's parameters into the arena. */
static int pg_queue_fill(struct clb_store *s, const struct db_param *prm)
{
    struct pg *p = s->conn;
    char ints[FILL_COLS][24];
    const char *v[FILL_COLS];
    size_t need = 0;
    for (int i = 0; i < FILL_COLS; i++) {
        v[i] = NULL;
        if (prm[i].kind == DB_TEXT) {
            v[i] = prm[i].s;
        } else if (prm[i].kind == DB_INT) {
            snprintf(ints[i], sizeof(ints[i]), "%lld", (long long)prm[i].i);
            v[i] = ints[i];
        }
        need += v[i] ? strlen(v[i]) + 1 : 0;
    }
    if (need > FILL_ARENA)
        return CLB_EINVAL;
    if (p->arena_used + need > FILL_ARENA) {
        int rc = pg_flush_fills(s);
        if (rc != CLB_OK)
            return rc;
    }
    const char **vals = p->fill_vals + p->nfill * FILL_COLS;
    for (int i = 0; i < FILL_COLS; i++) {
        if (!v[i]) {
            vals[i] = NULL;
            continue;
        }
        size_t len = strlen(v[i]) + 1;
        memcpy(p->arena + p->arena_used, v[i], len);
        vals[i] = p->arena + p->arena_used;
        p->arena_used += len;
    }
    if (++p->nfill == FILL_GROUP)
        return pg_flush_fills(s);
    return CLB_OK;
}

static int pg_batch_add(struct clb_store *s, enum store_stmt st, const struct db_param *prm, int n)
{
    struct pg *p = s->conn;
    if (!p->in_batch || (unsigned)st >= ST_COUNT_ || n > DB_MAX_PARAMS)
        return CLB_EINVAL;
    if (p->batch_rc != CLB_OK)
        return p->batch_rc;
    if (st == ST_FILL_INSERT && n == FILL_COLS)
        return pg_queue_fill(s, prm);
    int rc = p->nfill ? pg_flush_fills(s) : CLB_OK;
    if (rc != CLB_OK)
        return rc;
    struct pg_params pp;
    params_text(&pp, prm, n);
    char name[32];
    stmt_name(st, name, sizeof(name));
    return pg_send(s, name, n, pp.vals);
}

static int pg_batch_end(struct clb_store *s, bool commit)
{
    struct pg *p = s->conn;
    if (!p->in_batch)
        return CLB_EINVAL;
    if (p->nfill && commit && p->batch_rc == CLB_OK)
        pg_flush_fills(s);
    p->nfill = 0;
    p->arena_used = 0;
    bool do_commit = commit && p->batch_rc == CLB_OK;
    p->last_status[0] = '\0';
    if (PQstatus(p->c) == CONNECTION_OK &&
        PQsendQueryParams(p->c, do_commit ? "COMMIT" : "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0))
        pg_sync_drain(s);
    else if (p->batch_rc == CLB_OK)
        p->batch_rc = pg_fail(s, p, NULL, "end");
    if (do_commit && p->batch_rc == CLB_OK && strcmp(p->last_status, "COMMIT") != 0) {
        store_set_err(s, "postgres: the transaction was not committed (%s)", p->last_status);
        p->batch_rc = PQstatus(p->c) == CONNECTION_OK ? CLB_EINVAL : CLB_EIO;
    }
    if (!PQexitPipelineMode(p->c) && p->batch_rc == CLB_OK)
        p->batch_rc = pg_fail(s, p, NULL, "pipeline exit");
    p->in_batch = false;
    /* A COMMIT or ROLLBACK queued behind a failed statement was skipped by
     * the server: the transaction is still open (aborted). End it. */
    if (PQstatus(p->c) == CONNECTION_OK && PQtransactionStatus(p->c) != PQTRANS_IDLE) {
        char msg[CLB_STORE_ERR_MAX];
        snprintf(msg, sizeof(msg), "%s", s->err);
        PQclear(PQexec(p->c, "ROLLBACK"));
        store_set_err(s, "%s", msg);
    }
    int rc = p->batch_rc;
    p->batch_rc = CLB_OK;
    if (!commit)
        return PQstatus(p->c) == CONNECTION_OK ? CLB_OK : CLB_EIO;
    return rc;
}

const struct store_backend_ops store_pg_ops = {
    .name = "postgres",
    .connect = pg_connect,
    .disconnect = pg_disconnect,
    .exec_script = pg_exec_script,
    .exec = pg_exec,
    .exec_stmt = pg_exec_stmt,
    .query = pg_query,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .lock_migrations = pg_lock_migrations,
    .batch_begin = pg_batch_begin,
    .batch_add = pg_batch_add,
    .batch_end = pg_batch_end,
};
