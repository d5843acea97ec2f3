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
 * Fills, the bulk of what a busy engine writes, are gathered into one
 * INSERT ... SELECT FROM unnest($1::text[], ...) per FILL_BATCH rows: one
 * statement and fourteen array parameters instead of a statement (or a
 * group of VALUES rows) with fourteen parameters per fill. PostgreSQL then
 * plans and initialises once per batch and parses each array in one go;
 * measured with colibri-store-bench on this 2-core box, fills went from
 * ~40 000/s (64-row VALUES groups) to the figure in the closing notes.
 *
 * A failure is CLB_EIO when the connection is gone or the server says it
 * cannot work now (SQLSTATE classes 08 connection, 53 resources, 57 operator
 * intervention, 58 system, and 40001/40P01/25006), CLB_EEXIST for a unique
 * violation (23505), CLB_EINVAL otherwise.
 */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "store_backend.h"

#define PIPE_SYNC_EVERY 256
#define FILL_BATCH 1000               /* fills per INSERT ... unnest */
#define FILL_COLS 14
#define FILL_COL_MAX (1024 * 1024)    /* bytes of one column's array literal */
#define FILL_KEY_MAX 192              /* connector, market and trade id of a fill */
#define FILL_SLOTS (2 * FILL_BATCH)   /* the batch's key set (open addressing) */
#define MIGRATION_LOCK_KEY "7165291463203123969" /* any constant shared by colibri */

struct pg {
    PGconn *c;
    bool prepared;
    bool in_batch;
    int batch_rc;  /* first error of the batch */
    int pending;   /* statements sent since the last sync */
    char last_status[32]; /* command tag of the last result read in a batch */
    /* fills waiting to be sent as one INSERT: an array literal per column,
     * "{" then the quoted elements separated by commas */
    int nfill;
    char *col[FILL_COLS];
    size_t col_len[FILL_COLS], col_cap[FILL_COLS];
    /* the keys of the waiting fills: a trade repeated within the batch is
     * left out (the first copy wins, as ON CONFLICT DO NOTHING would) */
    char (*keys)[FILL_KEY_MAX];
    int16_t slots[FILL_SLOTS]; /* fill index + 1, 0 = free */
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
    for (int c = 0; c < FILL_COLS; c++)
        free(p->col[c]);
    free(p->keys);
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

/* "INSERT INTO fills (columns) SELECT * FROM unnest($1::text[], ...) AS
 * u(columns) WHERE NOT EXISTS (the same key in fills)", built from the
 * single-row statement's column list. The casts follow the columns:
 * instance_id, connector, market, trade_id, client_order_id,
 * exchange_order_id, strategy_id, side, price, amount, fee, fee_asset,
 * is_maker, ts_ms.
 *
 * NOT EXISTS instead of ON CONFLICT DO NOTHING: an arbiter index makes
 * every row a speculative insertion (insert, then confirm), about a third
 * of the cost of a fill here. Only this instance's writer inserts this
 * instance's fills, so nothing slips in between the check and the insert;
 * if something did, the unique key refuses it, the batch fails with
 * CLB_EEXIST and the writer redoes it one record at a time,
 * where the check sees the first copy. Repeats within one batch are left
 * out before sending (pg_queue_fill), so that only happens when two
 * processes write the same instance's fills at once. */
static char *fill_batch_sql(void)
{
    static const char *const types[FILL_COLS] = { "text",    "text",    "text",    "text",
                                                  "text",    "text",    "text",    "text",
                                                  "numeric", "numeric", "numeric", "text",
                                                  "smallint", "bigint" };
    const char *one = store_stmt_sql(ST_FILL_INSERT);
    const char *cols = strchr(one, '(');
    const char *values = strstr(one, " VALUES ");
    if (!cols || !values || cols > values)
        return NULL;
    size_t cap = 2 * (size_t)(values - one) + 512 + FILL_COLS * 24;
    char *sql = malloc(cap);
    if (!sql)
        return NULL;
    size_t n = (size_t)(values - one);
    memcpy(sql, one, n);
    n += (size_t)snprintf(sql + n, cap - n, " SELECT * FROM unnest(");
    for (int c = 0; c < FILL_COLS; c++)
        n += (size_t)snprintf(sql + n, cap - n, "%s$%d::%s[]", c ? ", " : "", c + 1, types[c]);
    n += (size_t)snprintf(sql + n, cap - n, ") AS u%.*s", (int)(values - cols), cols);
    snprintf(sql + n, cap - n,
             " WHERE NOT EXISTS (SELECT 1 FROM fills f WHERE f.trade_id = u.trade_id"
             " AND f.market = u.market AND f.connector = u.connector"
             " AND f.instance_id = u.instance_id)");
    return sql;
}

static int pg_prepare_all(struct clb_store *s)
{
    struct pg *p = s->conn;
    if (p->prepared)
        return CLB_OK;
    char *group = fill_batch_sql();
    if (!group) {
        store_set_err(s, "out of memory");
        return CLB_ENOMEM;
    }
    PGresult *gr = PQprepare(p->c, "clb_fills_batch", group, 0, NULL);
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
    memset(p->slots, 0, sizeof(p->slots));
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

/* Sends the waiting fills as one INSERT ... unnest. */
static int pg_flush_fills(struct clb_store *s)
{
    struct pg *p = s->conn;
    if (p->nfill == 0)
        return CLB_OK;
    const char *vals[FILL_COLS];
    for (int c = 0; c < FILL_COLS; c++) {
        p->col[c][p->col_len[c]] = '}'; /* room kept by col_append */
        p->col[c][p->col_len[c] + 1] = '\0';
        vals[c] = p->col[c];
    }
    int rc = pg_send(s, "clb_fills_batch", FILL_COLS, vals);
    p->nfill = 0;
    memset(p->slots, 0, sizeof(p->slots));
    return rc;
}

/* FNV-1a. */
static uint64_t key_hash(const char *k)
{
    uint64_t h = 1469598103934665603ull;
    for (; *k; k++)
        h = (h ^ (unsigned char)*k) * 1099511628211ull;
    return h;
}

/* True when a fill with key k already waits in this batch; otherwise
 * records k as the next fill's. */
static bool key_seen(struct pg *p, const char *k)
{
    uint32_t i = (uint32_t)(key_hash(k) % FILL_SLOTS);
    for (; p->slots[i]; i = (i + 1) % FILL_SLOTS)
        if (strcmp(p->keys[p->slots[i] - 1], k) == 0)
            return true;
    p->slots[i] = (int16_t)(p->nfill + 1);
    memcpy(p->keys[p->nfill], k, strlen(k) + 1);
    return false;
}

/* Appends element v (NULL: SQL NULL) to column c's array literal, quoted
 * with " and \ escaped, keeping room for the closing brace. */
static int col_append(struct pg *p, int c, const char *v)
{
    size_t need = 4 + (v ? 2 * strlen(v) + 2 : 4); /* ",", quotes/escapes, "}\0" */
    if (p->col_len[c] + need > p->col_cap[c]) {
        size_t cap = p->col_cap[c] ? p->col_cap[c] * 2 : 4096;
        while (cap < p->col_len[c] + need)
            cap *= 2;
        if (cap > FILL_COL_MAX)
            return CLB_EFULL;
        char *n = realloc(p->col[c], cap);
        if (!n)
            return CLB_ENOMEM;
        p->col[c] = n;
        p->col_cap[c] = cap;
    }
    char *d = p->col[c] + p->col_len[c];
    *d++ = p->nfill ? ',' : '{';
    if (!v) {
        memcpy(d, "NULL", 4);
        d += 4;
    } else {
        *d++ = '"';
        for (; *v; v++) {
            if (*v == '"' || *v == '\\')
                *d++ = '\\';
            *d++ = *v;
        }
        *d++ = '"';
    }
    p->col_len[c] = (size_t)(d - p->col[c]);
    return CLB_OK;
}

/* Adds one fill to the waiting batch (sent when FILL_BATCH are waiting or
 * a column would outgrow FILL_COL_MAX). */
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
        size_t len = v[i] ? 2 * strlen(v[i]) + 8 : 8;
        if (len > FILL_COL_MAX / 2)
            return CLB_EINVAL;
        if (p->col_len[i] + len > FILL_COL_MAX)
            need = 1;
    }
    /* connector, market, trade id (the instance is the store's own) */
    char key[FILL_KEY_MAX];
    if (!v[1] || !v[2] || !v[3] ||
        snprintf(key, sizeof(key), "%s\x1f%s\x1f%s", v[1], v[2], v[3]) >= (int)sizeof(key))
        return CLB_EINVAL;
    if (!p->keys && !(p->keys = malloc((size_t)FILL_BATCH * sizeof(*p->keys))))
        return CLB_ENOMEM;
    int rc;
    if (need && (rc = pg_flush_fills(s)) != CLB_OK)
        return rc;
    if (p->nfill == 0)
        for (int c = 0; c < FILL_COLS; c++)
            p->col_len[c] = 0;
    if (key_seen(p, key))
        return CLB_OK; /* a repeat within the batch: the first copy stands */
    for (int c = 0; c < FILL_COLS; c++)
        if ((rc = col_append(p, c, v[c])) != CLB_OK) {
            store_set_err(s, "postgres: fill batch: %s", clb_strerror(rc));
            return p->batch_rc = rc; /* a half-added row: the batch must not commit */
        }
    if (++p->nfill == FILL_BATCH)
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
    memset(p->slots, 0, sizeof(p->slots));
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
