/* Tests for server/store/store.c and its backends: migrations, every table
 * round-tripped with exact decimals, fill dedup, order upserts and state
 * history, pagination against a naive reference, instances, tokens. The
 * same executable runs against SQLite and PostgreSQL (COLIBRI_TEST_STORE,
 * see store_testlib.h); every test gets a fresh database. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "error.h"
#include "store_testlib.h"

TestSuite(store, .init = tl_db_create, .fini = tl_db_drop, .timeout = 60);

static void dec_eq(clb_dec a, clb_dec b, const char *what)
{
    cr_assert(a.m == b.m && a.scale == b.scale, "%s: {%lld,%d} != {%lld,%d}", what,
              (long long)a.m, a.scale, (long long)b.m, b.scale);
}

/* ---- URLs (no database needed, but cheap) ---- */

Test(store, parse_url)
{
    enum clb_store_backend b;
    char t[256];
    cr_assert_eq(clb_store_parse_url("postgresql://u@h/db", NULL, &b, t, sizeof(t)), CLB_OK);
    cr_assert_eq(b, CLB_STORE_POSTGRES);
    cr_assert_str_eq(t, "postgresql://u@h/db");
    cr_assert_eq(clb_store_parse_url("postgres://h/db", NULL, &b, t, sizeof(t)), CLB_OK);
    cr_assert_eq(b, CLB_STORE_POSTGRES);
    cr_assert_eq(clb_store_parse_url("sqlite:///abs/x.db", NULL, &b, t, sizeof(t)), CLB_OK);
    cr_assert_eq(b, CLB_STORE_SQLITE);
    cr_assert_str_eq(t, "/abs/x.db");
    cr_assert_eq(clb_store_parse_url("sqlite:rel.db", NULL, &b, t, sizeof(t)), CLB_OK);
    cr_assert_str_eq(t, "rel.db");
    cr_assert_eq(clb_store_parse_url("plain/file.db", NULL, &b, t, sizeof(t)), CLB_OK);
    cr_assert_eq(b, CLB_STORE_SQLITE);
    cr_assert_str_eq(t, "plain/file.db");
    cr_assert_eq(clb_store_parse_url(NULL, "/data", &b, t, sizeof(t)), CLB_OK);
    cr_assert_str_eq(t, "/data/colibri.db");
    cr_assert_eq(clb_store_parse_url("", NULL, &b, t, sizeof(t)), CLB_OK);
    cr_assert_str_eq(t, "var/colibri.db");
    cr_assert_eq(clb_store_parse_url("mysql://h/db", NULL, &b, t, sizeof(t)), CLB_EUNSUPPORTED);
    cr_assert_eq(clb_store_parse_url("sqlite:", NULL, &b, t, sizeof(t)), CLB_EINVAL);
    cr_assert_eq(clb_store_parse_url("sqlite:abcdefgh", NULL, &b, t, 4), CLB_ERANGE);

    char r[256];
    clb_store_url_redact("postgresql://bob:s3cret@db:5432/x?sslmode=require", r, sizeof(r));
    cr_assert_str_eq(r, "postgresql://bob:***@db:5432/x?sslmode=require");
    clb_store_url_redact("postgresql:///x?host=/s&password=pw&user=u", r, sizeof(r));
    cr_assert_str_eq(r, "postgresql:///x?host=/s&password=***&user=u");
    clb_store_url_redact("postgresql://bob@db/x", r, sizeof(r));
    cr_assert_str_eq(r, "postgresql://bob@db/x");
}

Test(store, open_rejects_bad_options)
{
    struct clb_store_options o;
    clb_store_options_init(&o);
    o.url = tl_url;
    o.instance_id = "bad id with spaces";
    struct clb_store *s = (struct clb_store *)1;
    char err[256];
    cr_assert_eq(clb_store_open(&o, &s, err, sizeof(err)), CLB_EINVAL);
    cr_assert_null(s);
    o.instance_id = NULL;
    o.url = "ftp://x";
    cr_assert_eq(clb_store_open(&o, &s, err, sizeof(err)), CLB_EUNSUPPORTED);
    char url[1024];
    if (tl_pg()) {
        tl_pg_url_for("no_such_database_here", url, sizeof(url));
        o.url = url;
    } else {
        o.url = "sqlite:/nonexistent-dir-clb/x.db";
    }
    cr_assert_eq(clb_store_open(&o, &s, err, sizeof(err)), CLB_EIO);
    cr_assert_null(s);
    cr_assert_neq(err[0], '\0');
}

/* ---- migrations ---- */

struct mig_log {
    int calls, applied;
};

static void on_mig(void *ud, long version, const char *file, bool applied)
{
    struct mig_log *l = ud;
    cr_assert_gt(version, 0);
    cr_assert_not_null(strstr(file, ".sql"));
    l->calls++;
    l->applied += applied;
}

Test(store, migrations_apply_once_and_are_recorded)
{
    struct clb_store_options o;
    clb_store_options_init(&o);
    o.url = tl_url;
    struct clb_store *s;
    char err[256];
    cr_assert_eq(clb_store_open(&o, &s, err, sizeof(err)), CLB_OK, "%s", err);
    long v = -1;
    cr_assert_eq(clb_store_schema_version(s, &v), CLB_OK);
    cr_assert_eq(v, 0);
    long emb = clb_store_embedded_version(clb_store_backend_of(s));
    cr_assert_geq(emb, 1);

    struct mig_log l = { 0, 0 };
    int n = -1;
    cr_assert_eq(clb_store_migrate(s, on_mig, &l, &n), CLB_OK, "%s", clb_store_errmsg(s));
    cr_assert_gt(n, 0);
    cr_assert_eq(l.applied, n);
    cr_assert_eq(l.calls, n);
    cr_assert_eq(clb_store_schema_version(s, &v), CLB_OK);
    cr_assert_eq(v, emb);
    cr_assert_eq(tl_count("schema_migrations"), n);

    /* Again, on the same and on a new connection: nothing applied. */
    struct mig_log l2 = { 0, 0 };
    cr_assert_eq(clb_store_migrate(s, on_mig, &l2, &n), CLB_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(l2.applied, 0);
    cr_assert_eq(l2.calls, l.calls);
    clb_store_close(s);
    s = tl_open(NULL);
    cr_assert_eq(clb_store_migrate(s, NULL, NULL, &n), CLB_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(tl_count("schema_migrations"), l.applied);
    cr_assert_eq(tl_count("schema_migrations WHERE sha256 <> '' AND applied_ms > 0"), l.applied);
    if (!tl_pg()) {
        struct stat st;
        cr_assert_eq(stat(tl_url + strlen("sqlite:"), &st), 0);
        cr_assert_eq(st.st_mode & 0777, 0600, "the database file holds token hashes");
    }
    clb_store_close(s);
}

static void *migrate_thread(void *arg)
{
    int *applied = arg;
    struct clb_store_options o;
    clb_store_options_init(&o);
    o.url = tl_url;
    o.busy_timeout_ms = 20000;
    struct clb_store *s;
    char err[256];
    if (clb_store_open(&o, &s, err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "open: %s\n", err);
        *applied = -100;
        return NULL;
    }
    if (clb_store_migrate(s, NULL, NULL, applied) != CLB_OK)
        *applied = -1;
    clb_store_close(s);
    return NULL;
}

Test(store, concurrent_migrations_apply_once)
{
    enum { N = 4 };
    pthread_t t[N];
    int applied[N];
    for (int i = 0; i < N; i++)
        pthread_create(&t[i], NULL, migrate_thread, &applied[i]);
    int total = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        cr_assert_geq(applied[i], 0, "migrator %d failed (%d)", i, applied[i]);
        total += applied[i];
    }
    cr_assert_eq(total, tl_count("schema_migrations"));
    cr_assert_gt(total, 0);
}

/* ---- orders ---- */

static int collect_order(void *ud, const struct clb_store_order *o)
{
    struct clb_store_order *out = ud;
    out[0].id++; /* count in the first slot's id... */
    out[out[0].id] = *o;
    return 0;
}

Test(store, order_round_trip_exact)
{
    struct clb_store *s = tl_open(NULL);
    struct clb_store_rec r = tl_order("cid-1", CLB_ORDER_OPEN, 1700000000123);
    struct clb_store_order *o = &r.u.order;
    clb_store_strlcpy(o->exchange_order_id, sizeof(o->exchange_order_id), "884422");
    clb_store_strlcpy(o->strategy_id, sizeof(o->strategy_id), "pmm-1");
    o->type = CLB_ORDER_LIMIT_MAKER;
    o->price = clb_dec_make(100, 4);                  /* 0.0100: trailing zeros kept */
    o->amount = clb_dec_make(123456789123456789, 18); /* 0.123456789123456789 */
    o->executed_base = clb_dec_make(0, 8);            /* 0.00000000 */
    o->executed_quote = clb_dec_make(-5, 0);
    o->created_ms = 1700000000000;
    cr_assert_eq(clb_store_write(s, &r, 1), CLB_OK, "%s", clb_store_errmsg(s));

    struct clb_store_order got;
    cr_assert_eq(clb_store_order_get(s, "cid-1", &got), CLB_OK, "%s", clb_store_errmsg(s));
    cr_assert_gt(got.id, 0);
    cr_assert_str_eq(got.client_order_id, "cid-1");
    cr_assert_str_eq(got.exchange_order_id, "884422");
    cr_assert_str_eq(got.connector, "paper");
    cr_assert_str_eq(got.market, "BTC-USDT");
    cr_assert_str_eq(got.strategy_id, "pmm-1");
    cr_assert_eq(got.side, CLB_SIDE_SELL);
    cr_assert_eq(got.type, CLB_ORDER_LIMIT_MAKER);
    cr_assert_eq(got.state, CLB_ORDER_OPEN);
    cr_assert_eq(got.fail_reason, 0);
    dec_eq(got.price, o->price, "price");
    dec_eq(got.amount, o->amount, "amount");
    dec_eq(got.executed_base, o->executed_base, "executed_base");
    dec_eq(got.executed_quote, o->executed_quote, "executed_quote");
    cr_assert_eq(got.created_ms, 1700000000000);
    cr_assert_eq(got.updated_ms, 1700000000123);
    cr_assert_eq(clb_store_order_get(s, "nope", &got), CLB_ENOTFOUND);
    clb_store_close(s);
}

static struct clb_store_rec state_rec(const char *coid, int prev, int state, int64_t ts,
                                      clb_dec exec_base)
{
    struct clb_store_rec r;
    memset(&r, 0, sizeof(r));
    r.type = CLB_STORE_REC_ORDER_STATE;
    struct clb_store_order_state *st = &r.u.order_state;
    clb_store_strlcpy(st->client_order_id, sizeof(st->client_order_id), coid);
    st->prev_state = prev;
    st->state = state;
    st->executed_base = exec_base;
    st->executed_quote = clb_dec_make(0, 0);
    st->ts_ms = ts;
    return r;
}

struct hist {
    int n;
    struct clb_store_order_state e[16];
};

static int collect_hist(void *ud, const struct clb_store_order_state *st)
{
    struct hist *h = ud;
    if (h->n < 16)
        h->e[h->n] = *st;
    h->n++;
    return 0;
}

Test(store, order_upsert_and_state_history)
{
    struct clb_store *s = tl_open(NULL);
    /* Intent: tracked before it is sent. */
    struct clb_store_rec recs[8];
    recs[0] = tl_order("c1", CLB_ORDER_PENDING_CREATE, 1000);
    recs[1] = state_rec("c1", CLB_ORDER_STATE_NONE, CLB_ORDER_PENDING_CREATE, 1000,
                        clb_dec_make(0, 0));
    cr_assert_eq(clb_store_write(s, recs, 2), CLB_OK, "%s", clb_store_errmsg(s));

    /* Acknowledged (exchange id), then partly filled, then cancelled. */
    recs[0] = state_rec("c1", CLB_ORDER_PENDING_CREATE, CLB_ORDER_OPEN, 1010, clb_dec_make(0, 0));
    clb_store_strlcpy(recs[0].u.order_state.exchange_order_id, CLB_STORE_XID_MAX, "X-77");
    recs[1] = state_rec("c1", CLB_ORDER_OPEN, CLB_ORDER_PARTIALLY_FILLED, 1020,
                        clb_dec_make(500, 6));
    /* A fill that leaves the state alone: no history row, amounts updated. */
    recs[2] = state_rec("c1", CLB_ORDER_PARTIALLY_FILLED, CLB_ORDER_PARTIALLY_FILLED, 1025,
                        clb_dec_make(700, 6));
    recs[3] = state_rec("c1", CLB_ORDER_PARTIALLY_FILLED, CLB_ORDER_PENDING_CANCEL, 1030,
                        clb_dec_make(700, 6));
    recs[4] = state_rec("c1", CLB_ORDER_PENDING_CANCEL, CLB_ORDER_CANCELED, 1040,
                        clb_dec_make(700, 6));
    cr_assert_eq(clb_store_write(s, recs, 5), CLB_OK, "%s", clb_store_errmsg(s));

    struct clb_store_order got;
    cr_assert_eq(clb_store_order_get(s, "c1", &got), CLB_OK);
    cr_assert_eq(got.state, CLB_ORDER_CANCELED);
    cr_assert_str_eq(got.exchange_order_id, "X-77");
    dec_eq(got.executed_base, clb_dec_make(700, 6), "executed");
    cr_assert_eq(got.created_ms, 1000);
    cr_assert_eq(got.updated_ms, 1040);

    /* A stale upsert (older) and a stale state change change nothing; a
     * replay of the same changes adds no history. */
    recs[0] = tl_order("c1", CLB_ORDER_OPEN, 1015);
    recs[1] = state_rec("c1", CLB_ORDER_OPEN, CLB_ORDER_PARTIALLY_FILLED, 1020,
                        clb_dec_make(500, 6));
    recs[2] = state_rec("c1", CLB_ORDER_PENDING_CANCEL, CLB_ORDER_CANCELED, 1040,
                        clb_dec_make(700, 6));
    cr_assert_eq(clb_store_write(s, recs, 3), CLB_OK, "%s", clb_store_errmsg(s));
    cr_assert_eq(clb_store_order_get(s, "c1", &got), CLB_OK);
    cr_assert_eq(got.state, CLB_ORDER_CANCELED);
    dec_eq(got.executed_base, clb_dec_make(700, 6), "executed after replay");
    cr_assert_str_eq(got.exchange_order_id, "X-77");

    struct hist h = { 0 };
    cr_assert_eq(clb_store_order_history(s, "c1", collect_hist, &h), CLB_OK);
    cr_assert_eq(h.n, 5);
    int want[5][2] = { { CLB_ORDER_STATE_NONE, CLB_ORDER_PENDING_CREATE },
                       { CLB_ORDER_PENDING_CREATE, CLB_ORDER_OPEN },
                       { CLB_ORDER_OPEN, CLB_ORDER_PARTIALLY_FILLED },
                       { CLB_ORDER_PARTIALLY_FILLED, CLB_ORDER_PENDING_CANCEL },
                       { CLB_ORDER_PENDING_CANCEL, CLB_ORDER_CANCELED } };
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(h.e[i].prev_state, want[i][0], "history %d prev", i);
        cr_assert_eq(h.e[i].state, want[i][1], "history %d state", i);
        cr_assert_str_eq(h.e[i].client_order_id, "c1");
    }
    cr_assert_eq(h.e[0].ts_ms, 1000);
    cr_assert_eq(h.e[4].ts_ms, 1040);

    /* A newer upsert with an empty exchange id keeps the known one; a
     * failure reason round-trips by name. */
    recs[0] = tl_order("c1", CLB_ORDER_FAILED, 2000);
    recs[0].u.order.fail_reason = CLB_ENOTFOUND;
    cr_assert_eq(clb_store_write(s, recs, 1), CLB_OK);
    cr_assert_eq(clb_store_order_get(s, "c1", &got), CLB_OK);
    cr_assert_eq(got.state, CLB_ORDER_FAILED);
    cr_assert_eq(got.fail_reason, CLB_ENOTFOUND);
    cr_assert_str_eq(got.exchange_order_id, "X-77");
    cr_assert_eq(tl_count("orders"), 1);
    clb_store_close(s);
}

Test(store, open_orders_for_recovery)
{
    struct clb_store *s = tl_open(NULL);
    int states[] = { CLB_ORDER_PENDING_CREATE, CLB_ORDER_OPEN, CLB_ORDER_PARTIALLY_FILLED,
                     CLB_ORDER_PENDING_CANCEL, CLB_ORDER_CANCELED, CLB_ORDER_FILLED,
                     CLB_ORDER_FAILED };
    struct clb_store_rec recs[14];
    for (int i = 0; i < 14; i++) {
        char id[16];
        snprintf(id, sizeof(id), "o%02d", i);
        recs[i] = tl_order(id, states[i % 7], 100 + i);
        if (i >= 7)
            clb_store_strlcpy(recs[i].u.order.connector, CLB_STORE_CONNECTOR_MAX, "binance");
    }
    cr_assert_eq(clb_store_write(s, recs, 14), CLB_OK, "%s", clb_store_errmsg(s));
    struct clb_store_order got[32];
    got[0].id = 0;
    cr_assert_eq(clb_store_orders_load_open(s, NULL, collect_order, got), CLB_OK);
    cr_assert_eq(got[0].id, 8);
    for (int i = 1; i <= 8; i++) {
        cr_assert(!clb_order_state_is_terminal(got[i].state));
        if (i > 1)
            cr_assert_gt(got[i].id, got[i - 1].id, "oldest first");
    }
    got[0].id = 0;
    cr_assert_eq(clb_store_orders_load_open(s, "binance", collect_order, got), CLB_OK);
    cr_assert_eq(got[0].id, 4);
    for (int i = 1; i <= 4; i++)
        cr_assert_str_eq(got[i].connector, "binance");
    clb_store_close(s);
}

/* ---- fills ---- */

struct fills {
    int n;
    struct clb_store_fill f[64];
};

static int collect_fill(void *ud, const struct clb_store_fill *f)
{
    struct fills *c = ud;
    if (c->n < 64)
        c->f[c->n] = *f;
    c->n++;
    return 0;
}

Test(store, fill_dedup_and_round_trip)
{
    struct clb_store *s = tl_open(NULL);
    struct clb_store_rec r = tl_fill("c1", "t-1", "BTC-USDT", 5000);
    struct clb_store_fill *f = &r.u.fill;
    f->is_maker = true;
    f->price = clb_dec_make(999999999999999999, 9);
    f->amount = clb_dec_make(1, 18);
    f->fee = clb_dec_make(-250, 5);
    clb_store_strlcpy(f->exchange_order_id, sizeof(f->exchange_order_id), "E1");
    clb_store_strlcpy(f->strategy_id, sizeof(f->strategy_id), "s1");
    cr_assert_eq(clb_store_write(s, &r, 1), CLB_OK, "%s", clb_store_errmsg(s));
    /* The same fill again (a replay, a second report): a no-op, even with
     * other values. */
    struct clb_store_rec again = r;
    again.u.fill.amount = clb_dec_make(5, 0);
    cr_assert_eq(clb_store_write(s, &again, 1), CLB_OK);
    struct clb_store_rec batch[3] = { r, again, tl_fill("c1", "t-2", "BTC-USDT", 5001) };
    cr_assert_eq(clb_store_write(s, batch, 3), CLB_OK, "%s", clb_store_errmsg(s));
    /* Same trade id on another market or connector is another fill. */
    batch[0] = tl_fill("c2", "t-1", "ETH-USDT", 5002);
    batch[1] = tl_fill("c3", "t-1", "BTC-USDT", 5003);
    clb_store_strlcpy(batch[1].u.fill.connector, CLB_STORE_CONNECTOR_MAX, "binance");
    cr_assert_eq(clb_store_write(s, batch, 2), CLB_OK);
    cr_assert_eq(tl_count("fills"), 4);

    struct fills c = { 0 };
    cr_assert_eq(clb_store_fills_load_order(s, "c1", collect_fill, &c), CLB_OK);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.f[0].trade_id, "t-1");
    cr_assert_str_eq(c.f[1].trade_id, "t-2");
    const struct clb_store_fill *g = &c.f[0];
    dec_eq(g->price, f->price, "price");
    dec_eq(g->amount, f->amount, "amount (first write wins)");
    dec_eq(g->fee, f->fee, "fee");
    cr_assert(g->is_maker);
    cr_assert_eq(g->side, CLB_SIDE_BUY);
    cr_assert_str_eq(g->fee_asset, "USDT");
    cr_assert_str_eq(g->exchange_order_id, "E1");
    cr_assert_str_eq(g->strategy_id, "s1");
    cr_assert_str_eq(g->connector, "paper");
    cr_assert_eq(g->ts_ms, 5000);
    clb_store_close(s);
}

/* Many fills in one transaction (PostgreSQL sends them as multi-row
 * INSERTs), with repeats inside one statement and across statements. */
Test(store, fill_dedup_in_bulk)
{
    struct clb_store *s = tl_open(NULL);
    enum { N = 1000 };
    static struct clb_store_rec recs[N];
    for (int i = 0; i < N; i++) {
        char tid[32];
        snprintf(tid, sizeof(tid), "t%d", i % 3 == 2 ? i - 1 : i); /* every third repeats */
        recs[i] = tl_fill("bulk", tid, "BTC-USDT", i);
    }
    cr_assert_eq(clb_store_write(s, recs, N), CLB_OK, "%s", clb_store_errmsg(s));
    long distinct = N - N / 3;
    cr_assert_eq(tl_count("fills"), distinct);
    /* the first of two wins */
    cr_assert_eq(tl_count("fills WHERE trade_id = 't1' AND ts_ms = 1"), 1);
    cr_assert_eq(clb_store_write(s, recs, N), CLB_OK);
    cr_assert_eq(tl_count("fills"), distinct);
    clb_store_close(s);
}

/* Random decimals of every scale survive the trip digit for digit. */
Test(store, decimals_exact_property)
{
    struct clb_store *s = tl_open(NULL);
    uint64_t seed = 42;
    enum { N = 300 };
    struct clb_store_rec recs[N];
    for (int i = 0; i < N; i++) {
        char tid[32];
        snprintf(tid, sizeof(tid), "p%d", i);
        recs[i] = tl_fill("prop", tid, "BTC-USDT", i);
        struct clb_store_fill *f = &recs[i].u.fill;
        uint64_t r = tl_rand(&seed);
        int64_t m = (int64_t)(tl_rand(&seed) >> (1 + r % 63));
        f->price = clb_dec_make(m ? m : 1, (int)(r % 19));
        f->amount = clb_dec_make((int64_t)(tl_rand(&seed) >> (1 + (r >> 8) % 63)) + 1,
                                 (int)((r >> 16) % 19));
        int64_t fee = (int64_t)(tl_rand(&seed) >> (1 + (r >> 24) % 63));
        f->fee = clb_dec_make((r >> 40) & 1 ? -fee : fee, (int)((r >> 32) % 19));
    }
    cr_assert_eq(clb_store_write(s, recs, N), CLB_OK, "%s", clb_store_errmsg(s));
    struct fills c;
    for (int i = 0; i < N; i += 64) {
        c.n = 0;
        struct clb_store_query q = { .client_order_id = "prop", .ascending = true,
                                     .limit = 64, .since_ms = i, .until_ms = i + 64 };
        q.since_ms = i; /* ts 0 means "no filter": start the first page at 0 anyway */
        cr_assert_eq(clb_store_fills_list(s, &q, collect_fill, &c, NULL), CLB_OK,
                     "%s", clb_store_errmsg(s));
        int want = N - i < 64 ? N - i : 64;
        cr_assert_eq(c.n, want);
        for (int k = 0; k < c.n; k++) {
            const struct clb_store_fill *w = &recs[c.f[k].ts_ms].u.fill;
            dec_eq(c.f[k].price, w->price, "price");
            dec_eq(c.f[k].amount, w->amount, "amount");
            dec_eq(c.f[k].fee, w->fee, "fee");
        }
    }
    clb_store_close(s);
}

/* ---- pagination against a naive reference ---- */

struct ids {
    int n;
    int64_t id[CLB_STORE_LIST_MAX + 1];
    int64_t ts[CLB_STORE_LIST_MAX + 1];
    char market[CLB_STORE_LIST_MAX + 1][CLB_SYMBOL_MAX];
};

static int collect_ids(void *ud, const struct clb_store_fill *f)
{
    struct ids *c = ud;
    c->id[c->n] = f->id;
    c->ts[c->n] = f->ts_ms;
    snprintf(c->market[c->n], CLB_SYMBOL_MAX, "%s", f->market);
    c->n++;
    return 0;
}

Test(store, fills_pagination_matches_reference)
{
    struct clb_store *s = tl_open(NULL);
    enum { N = 600 };
    static struct clb_store_rec recs[N];
    static const char *markets[] = { "BTC-USDT", "ETH-USDT", "SOL-USDT" };
    uint64_t seed = 7;
    int ref_market[N];
    int64_t ref_ts[N];
    for (int i = 0; i < N; i++) {
        char tid[32];
        snprintf(tid, sizeof(tid), "t%d", i);
        ref_market[i] = (int)(tl_rand(&seed) % 3);
        ref_ts[i] = 1000 + (int64_t)(tl_rand(&seed) % 5000);
        recs[i] = tl_fill("c", tid, markets[ref_market[i]], ref_ts[i]);
    }
    cr_assert_eq(clb_store_write(s, recs, N), CLB_OK, "%s", clb_store_errmsg(s));
    /* Ids are assigned in insertion order: fill i has the i-th smallest id. */
    struct ids *page = malloc(sizeof(*page));
    page->n = 0;
    struct clb_store_query all = { .ascending = true, .limit = 1000 };
    cr_assert_eq(clb_store_fills_list(s, &all, collect_ids, page, NULL), CLB_OK);
    cr_assert_eq(page->n, N);
    int64_t ids[N];
    for (int i = 0; i < N; i++) {
        ids[i] = page->id[i];
        cr_assert_eq(page->ts[i], ref_ts[i]);
    }

    for (int round = 0; round < 40; round++) {
        uint64_t r = tl_rand(&seed);
        struct clb_store_query q = { 0 };
        int mk = (int)(r % 4) - 1; /* -1 = any */
        if (mk >= 0)
            q.market = markets[mk];
        if ((r >> 4) & 1)
            q.since_ms = 1000 + (int64_t)((r >> 8) % 4000);
        if ((r >> 5) & 1)
            q.until_ms = q.since_ms + 1 + (int64_t)((r >> 20) % 3000);
        q.ascending = (r >> 6) & 1;
        q.limit = 1 + (uint32_t)((r >> 32) % 150);
        /* reference */
        int want[N], nwant = 0;
        for (int k = 0; k < N; k++) {
            int i = q.ascending ? k : N - 1 - k;
            if (mk >= 0 && ref_market[i] != mk)
                continue;
            if (q.since_ms > 0 && ref_ts[i] < q.since_ms)
                continue;
            if (q.until_ms > 0 && ref_ts[i] >= q.until_ms)
                continue;
            want[nwant++] = i;
        }
        int got = 0, pages = 0;
        int64_t cursor = 0;
        do {
            q.cursor = cursor;
            page->n = 0;
            cr_assert_eq(clb_store_fills_list(s, &q, collect_ids, page, &cursor), CLB_OK,
                         "%s", clb_store_errmsg(s));
            cr_assert_leq(page->n, (int)q.limit);
            for (int k = 0; k < page->n; k++) {
                cr_assert_lt(got, nwant, "round %d: more rows than the reference", round);
                cr_assert_eq(page->id[k], ids[want[got]], "round %d row %d", round, got);
                got++;
            }
            if (cursor)
                cr_assert_eq(page->n, (int)q.limit, "a page before the last is full");
            pages++;
            cr_assert_lt(pages, 1000);
        } while (cursor);
        cr_assert_eq(got, nwant, "round %d: %d rows, reference %d", round, got, nwant);
    }

    struct clb_store_query bad = { .limit = CLB_STORE_LIST_MAX + 1 };
    cr_assert_eq(clb_store_fills_list(s, &bad, collect_ids, page, NULL), CLB_EINVAL);
    bad = (struct clb_store_query){ .cursor = -1 };
    cr_assert_eq(clb_store_fills_list(s, &bad, collect_ids, page, NULL), CLB_EINVAL);
    free(page);
    clb_store_close(s);
}

static int count_orders(void *ud, const struct clb_store_order *o)
{
    (void)o;
    (*(int *)ud)++;
    return 0;
}

Test(store, orders_list_filters_and_pages)
{
    struct clb_store *s = tl_open(NULL);
    enum { N = 70 };
    struct clb_store_rec recs[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "o%d", i);
        recs[i] = tl_order(id, i % 7, 100 + i);
        recs[i].u.order.side = i % 2 ? CLB_SIDE_BUY : CLB_SIDE_SELL;
        if (i % 5 == 0)
            clb_store_strlcpy(recs[i].u.order.strategy_id, CLB_STORE_ID_MAX, "s5");
    }
    cr_assert_eq(clb_store_write(s, recs, N), CLB_OK, "%s", clb_store_errmsg(s));
    int n = 0;
    struct clb_store_query q = { .state_mask = CLB_STORE_STATES_LIVE, .limit = 1000 };
    cr_assert_eq(clb_store_orders_list(s, &q, count_orders, &n, NULL), CLB_OK);
    cr_assert_eq(n, 40);
    n = 0;
    q = (struct clb_store_query){ .state_mask = 1u << CLB_ORDER_PENDING_CREATE };
    cr_assert_eq(clb_store_orders_list(s, &q, count_orders, &n, NULL), CLB_OK);
    cr_assert_eq(n, 10);
    n = 0;
    q = (struct clb_store_query){ .side = CLB_STORE_SIDE_BUY, .strategy_id = "s5" };
    cr_assert_eq(clb_store_orders_list(s, &q, count_orders, &n, NULL), CLB_OK);
    cr_assert_eq(n, 7);
    /* pages of 30: 30, 30, 10 */
    int64_t cur = 0;
    int sizes[4], np = 0;
    do {
        n = 0;
        q = (struct clb_store_query){ .limit = 30, .cursor = cur };
        cr_assert_eq(clb_store_orders_list(s, &q, count_orders, &n, &cur), CLB_OK);
        sizes[np++] = n;
    } while (cur && np < 4);
    cr_assert_eq(np, 3);
    cr_assert_eq(sizes[0] + sizes[1] + sizes[2], N);
    cr_assert_eq(sizes[2], 10);
    q = (struct clb_store_query){ .state_mask = 1u << 30 };
    cr_assert_eq(clb_store_orders_list(s, &q, count_orders, &n, NULL), CLB_EINVAL);
    clb_store_close(s);
}

/* ---- instances ---- */

Test(store, instances_are_separate)
{
    struct clb_store *a = tl_open("engine-a");
    struct clb_store *b = tl_open("engine-b");
    cr_assert_str_eq(clb_store_instance(a), "engine-a");
    cr_assert_eq(clb_store_instance_register(a, "0.1.0", 10), CLB_OK);
    cr_assert_eq(clb_store_instance_register(b, "0.1.0", 11), CLB_OK);
    cr_assert_eq(clb_store_instance_register(a, "0.2.0", 12), CLB_OK);
    cr_assert_eq(tl_count("instances"), 2);
    cr_assert_eq(tl_count("instances WHERE id = 'engine-a' AND version = '0.2.0' AND "
                          "created_ms = 10 AND last_seen_ms = 12"), 1);
    /* The same client order id and trade id in two instances: two rows each. */
    struct clb_store_rec r[2] = { tl_order("same", CLB_ORDER_OPEN, 1),
                                  tl_fill("same", "t1", "BTC-USDT", 1) };
    cr_assert_eq(clb_store_write(a, r, 2), CLB_OK);
    cr_assert_eq(clb_store_write(b, r, 2), CLB_OK);
    cr_assert_eq(tl_count("orders"), 2);
    cr_assert_eq(tl_count("fills"), 2);
    r[0].u.order.state = CLB_ORDER_FILLED;
    r[0].u.order.updated_ms = 2;
    cr_assert_eq(clb_store_write(b, r, 1), CLB_OK);
    struct clb_store_order o;
    cr_assert_eq(clb_store_order_get(a, "same", &o), CLB_OK);
    cr_assert_eq(o.state, CLB_ORDER_OPEN);
    cr_assert_eq(clb_store_order_get(b, "same", &o), CLB_OK);
    cr_assert_eq(o.state, CLB_ORDER_FILLED);
    int n = 0;
    struct clb_store_query q = { .instance_id = "engine-b" };
    cr_assert_eq(clb_store_orders_list(a, &q, count_orders, &n, NULL), CLB_OK);
    cr_assert_eq(n, 1);
    clb_store_close(a);
    clb_store_close(b);
}

/* ---- balances, strategies, tokens, backtests ---- */

struct bals {
    int n;
    struct clb_store_balance b[8];
};

static int collect_bal(void *ud, const struct clb_store_balance *b)
{
    struct bals *c = ud;
    if (c->n < 8)
        c->b[c->n] = *b;
    c->n++;
    return 0;
}

Test(store, balances_round_trip)
{
    struct clb_store *s = tl_open(NULL);
    struct clb_store_rec r[3];
    for (int i = 0; i < 3; i++) {
        memset(&r[i], 0, sizeof(r[i]));
        r[i].type = CLB_STORE_REC_BALANCE;
        clb_store_strlcpy(r[i].u.balance.connector, CLB_STORE_CONNECTOR_MAX, "paper");
        clb_store_strlcpy(r[i].u.balance.asset, CLB_ASSET_MAX, i == 2 ? "USDT" : "BTC");
        r[i].u.balance.total = clb_dec_make(150000000 + i, 8);
        r[i].u.balance.available = clb_dec_make(12, 1);
        r[i].u.balance.ts_ms = 100 + i;
    }
    cr_assert_eq(clb_store_write(s, r, 3), CLB_OK, "%s", clb_store_errmsg(s));
    cr_assert_eq(clb_store_write(s, r, 3), CLB_OK); /* replay: no duplicates */
    cr_assert_eq(tl_count("balance_snapshots"), 3);
    struct bals c = { 0 };
    struct clb_store_query q = { .asset = "BTC", .ascending = true };
    cr_assert_eq(clb_store_balances_list(s, &q, collect_bal, &c, NULL), CLB_OK);
    cr_assert_eq(c.n, 2);
    dec_eq(c.b[0].total, clb_dec_make(150000000, 8), "total");
    dec_eq(c.b[1].available, clb_dec_make(12, 1), "available");
    cr_assert_eq(c.b[1].ts_ms, 101);
    clb_store_close(s);
}

struct strats {
    int n;
    char id[4][64], cfg[4][256], state[4][256], status[4][32];
    int64_t updated[4];
};

static int collect_strat(void *ud, const struct clb_store_strategy *st)
{
    struct strats *c = ud;
    if (c->n < 4) {
        snprintf(c->id[c->n], 64, "%s", st->id);
        snprintf(c->cfg[c->n], 256, "%s", st->config_json);
        snprintf(c->state[c->n], 256, "%s", st->state_json);
        snprintf(c->status[c->n], 32, "%s", st->status);
        c->updated[c->n] = st->updated_ms;
    }
    c->n++;
    return 0;
}

static struct clb_store_rec strat(const char *id, const char *status, const char *cfg,
                                  const char *state, int64_t ts)
{
    struct clb_store_rec r;
    memset(&r, 0, sizeof(r));
    r.type = CLB_STORE_REC_STRATEGY;
    struct clb_store_strategy *st = &r.u.strategy;
    clb_store_strlcpy(st->id, sizeof(st->id), id);
    clb_store_strlcpy(st->name, sizeof(st->name), "my pmm");
    clb_store_strlcpy(st->type, sizeof(st->type), "pure_market_making");
    clb_store_strlcpy(st->connector, sizeof(st->connector), "paper");
    clb_store_strlcpy(st->market, sizeof(st->market), "BTC-USDT");
    clb_store_strlcpy(st->status, sizeof(st->status), status);
    st->config_json = cfg;
    st->state_json = state;
    st->created_ms = 1;
    st->updated_ms = ts;
    return r;
}

Test(store, strategies_round_trip_json_exact)
{
    struct clb_store *s = tl_open(NULL);
    const char *cfg = "{\"bid_spread\": \"0.10\", \"order_levels\": 3,  \"x\": [1.50, null]}";
    struct clb_store_rec r[2] = { strat("s1", "running", cfg, NULL, 10),
                                  strat("s2", "stopped", NULL, "{\"inventory\":\"0.5\"}", 10) };
    cr_assert_eq(clb_store_write(s, r, 2), CLB_OK, "%s", clb_store_errmsg(s));
    r[0] = strat("s1", "stopped", "{}", "{}", 9); /* older: ignored */
    cr_assert_eq(clb_store_write(s, r, 1), CLB_OK);
    struct strats c = { 0 };
    cr_assert_eq(clb_store_strategies_load(s, collect_strat, &c), CLB_OK);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.id[0], "s1");
    cr_assert_str_eq(c.cfg[0], cfg);
    cr_assert_str_eq(c.state[0], "{}");
    cr_assert_str_eq(c.status[0], "running");
    cr_assert_str_eq(c.cfg[1], "{}");
    cr_assert_str_eq(c.state[1], "{\"inventory\":\"0.5\"}");
    r[0] = strat("s1", "stopped", cfg, "{\"n\":1}", 20);
    cr_assert_eq(clb_store_write(s, r, 1), CLB_OK);
    c.n = 0;
    cr_assert_eq(clb_store_strategies_load(s, collect_strat, &c), CLB_OK);
    cr_assert_str_eq(c.status[0], "stopped");
    cr_assert_eq(c.updated[0], 20);
    /* Malformed JSON is refused before anything is written. */
    r[0] = strat("s3", "running", "{not json", NULL, 30);
    cr_assert_eq(clb_store_write(s, r, 1), CLB_EINVAL);
    cr_assert_eq(tl_count("strategies"), 2);
    clb_store_close(s);
}

struct toks {
    int n;
    struct clb_store_token t[8];
};

static int collect_tok(void *ud, const struct clb_store_token *t)
{
    struct toks *c = ud;
    if (c->n < 8)
        c->t[c->n] = *t;
    c->n++;
    return 0;
}

static struct clb_store_token token(const char *name, char hashc, const char *role, int64_t ts)
{
    struct clb_store_token t;
    memset(&t, 0, sizeof(t));
    clb_store_strlcpy(t.name, sizeof(t.name), name);
    memset(t.hash, hashc, 64);
    t.hash[64] = '\0';
    clb_store_strlcpy(t.role, sizeof(t.role), role);
    t.created_ms = ts;
    return t;
}

Test(store, tokens_add_find_touch_revoke)
{
    struct clb_store *s = tl_open(NULL);
    struct clb_store_token a = token("admin", 'a', "admin", 100);
    struct clb_store_token b = token("ci", 'b', "read", 101);
    cr_assert_eq(clb_store_token_add(s, &a), CLB_OK, "%s", clb_store_errmsg(s));
    cr_assert_eq(clb_store_token_add(s, &b), CLB_OK);
    struct clb_store_token dup = token("admin", 'c', "read", 102);
    cr_assert_eq(clb_store_token_add(s, &dup), CLB_EEXIST);
    struct clb_store_token samehash = token("other", 'a', "read", 103);
    cr_assert_eq(clb_store_token_add(s, &samehash), CLB_EEXIST);

    struct clb_store_token got;
    cr_assert_eq(clb_store_token_find_by_hash(s, a.hash, &got), CLB_OK);
    cr_assert_str_eq(got.name, "admin");
    cr_assert_str_eq(got.role, "admin");
    cr_assert_eq(got.created_ms, 100);
    cr_assert_eq(got.last_used_ms, 0);
    cr_assert_eq(clb_store_token_touch(s, "admin", 500), CLB_OK);
    cr_assert_eq(clb_store_token_touch(s, "admin", 400), CLB_OK); /* never goes back */
    cr_assert_eq(clb_store_token_find_by_hash(s, a.hash, &got), CLB_OK);
    cr_assert_eq(got.last_used_ms, 500);

    cr_assert_eq(clb_store_token_revoke(s, "admin", 600), CLB_OK);
    cr_assert_eq(clb_store_token_revoke(s, "admin", 601), CLB_ENOTFOUND);
    cr_assert_eq(clb_store_token_revoke(s, "nobody", 601), CLB_ENOTFOUND);
    cr_assert_eq(clb_store_token_find_by_hash(s, a.hash, &got), CLB_ENOTFOUND);
    cr_assert_eq(clb_store_token_touch(s, "admin", 700), CLB_OK);
    struct toks c = { 0 };
    cr_assert_eq(clb_store_tokens_list(s, collect_tok, &c), CLB_OK);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.t[0].name, "admin");
    cr_assert_eq(c.t[0].revoked_ms, 600);
    cr_assert_eq(c.t[0].last_used_ms, 500);
    cr_assert_eq(c.t[1].revoked_ms, 0);

    /* The name is free again for a token created after the revocation; a
     * replayed add of the old one does not resurrect it. */
    struct clb_store_token a2 = token("admin", 'd', "trade", 800);
    cr_assert_eq(clb_store_token_add(s, &a2), CLB_OK, "%s", clb_store_errmsg(s));
    cr_assert_eq(clb_store_token_find_by_hash(s, a2.hash, &got), CLB_OK);
    cr_assert_str_eq(got.role, "trade");
    cr_assert_eq(clb_store_token_revoke(s, "admin", 900), CLB_OK);
    struct clb_store_rec replay = { .type = CLB_STORE_REC_TOKEN_ADD };
    replay.u.token = a2;
    cr_assert_eq(clb_store_write(s, &replay, 1), CLB_OK);
    cr_assert_eq(clb_store_token_find_by_hash(s, a2.hash, &got), CLB_ENOTFOUND);
    clb_store_close(s);
}

struct runs {
    int n;
    char id[4][64], params[4][128], summary[4][128], status[4][32];
    int32_t shard[4];
};

static int collect_run(void *ud, const struct clb_store_bt_run *r)
{
    struct runs *c = ud;
    if (c->n < 4) {
        snprintf(c->id[c->n], 64, "%s", r->run_id);
        snprintf(c->params[c->n], 128, "%s", r->params_json);
        snprintf(c->summary[c->n], 128, "%s", r->summary_json);
        snprintf(c->status[c->n], 32, "%s", r->status);
        c->shard[c->n] = r->shard_index;
    }
    c->n++;
    return 0;
}

struct results {
    int n;
    int64_t combo[8];
    char metrics[8][128];
};

static int collect_result(void *ud, const struct clb_store_bt_result *r)
{
    struct results *c = ud;
    if (c->n < 8) {
        c->combo[c->n] = r->combo;
        snprintf(c->metrics[c->n], 128, "%s", r->metrics_json);
    }
    c->n++;
    return 0;
}

Test(store, backtest_runs_and_results)
{
    struct clb_store *s = tl_open(NULL);
    struct clb_store_rec r[4];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 2; i++) {
        r[i].type = CLB_STORE_REC_BT_RUN;
        struct clb_store_bt_run *run = &r[i].u.bt_run;
        clb_store_strlcpy(run->run_id, sizeof(run->run_id), "sweep-1");
        run->shard_index = i;
        run->shard_count = 2;
        clb_store_strlcpy(run->kind, sizeof(run->kind), "sweep");
        clb_store_strlcpy(run->strategy, sizeof(run->strategy), "pure_market_making");
        clb_store_strlcpy(run->data_file, sizeof(run->data_file), "/data/day.clbmd");
        clb_store_strlcpy(run->status, sizeof(run->status), "running");
        run->params_json = "{\"grid\":\"bid_spread=0.1,0.2\"}";
        run->started_ms = 1000 + i;
        run->updated_ms = 1000 + i;
    }
    for (int i = 2; i < 4; i++) {
        r[i].type = CLB_STORE_REC_BT_RESULT;
        struct clb_store_bt_result *res = &r[i].u.bt_result;
        clb_store_strlcpy(res->run_id, sizeof(res->run_id), "sweep-1");
        res->combo = 5 - i;
        res->shard_index = i - 2;
        res->params_json = "{\"bid_spread\":\"0.1\"}";
        res->metrics_json = i == 2 ? "{\"pnl_quote\":\"12.50\"}" : "{\"pnl_quote\":\"-3\"}";
        res->created_ms = 2000;
    }
    cr_assert_eq(clb_store_write(s, r, 4), CLB_OK, "%s", clb_store_errmsg(s));
    /* Shard 0 finishes; a rerun of a result replaces it. */
    clb_store_strlcpy(r[0].u.bt_run.status, CLB_STORE_TYPE_MAX, "done");
    r[0].u.bt_run.summary_json = "{\"fills\":12}";
    r[0].u.bt_run.finished_ms = r[0].u.bt_run.updated_ms = 3000;
    r[2].u.bt_result.metrics_json = "{\"pnl_quote\":\"13\"}";
    cr_assert_eq(clb_store_write(s, (struct clb_store_rec[]){ r[0], r[2] }, 2), CLB_OK);

    struct runs c = { 0 };
    cr_assert_eq(clb_store_bt_runs_list(s, 0, collect_run, &c), CLB_OK);
    cr_assert_eq(c.n, 2);
    cr_assert_str_eq(c.id[0], "sweep-1");
    cr_assert_eq(c.shard[0], 1); /* most recently started first */
    cr_assert_str_eq(c.status[1], "done");
    cr_assert_str_eq(c.summary[1], "{\"fills\":12}");
    cr_assert_str_eq(c.params[1], "{\"grid\":\"bid_spread=0.1,0.2\"}");
    struct results rs = { 0 };
    cr_assert_eq(clb_store_bt_results_load(s, "sweep-1", collect_result, &rs), CLB_OK);
    cr_assert_eq(rs.n, 2);
    cr_assert_eq(rs.combo[0], 2);
    cr_assert_eq(rs.combo[1], 3);
    cr_assert_str_eq(rs.metrics[1], "{\"pnl_quote\":\"13\"}");
    clb_store_close(s);
}

/* ---- checks and atomicity ---- */

Test(store, malformed_records_are_refused_whole_batch)
{
    struct clb_store *s = tl_open(NULL);
    struct clb_store_rec r[2] = { tl_fill("c", "ok", "BTC-USDT", 1),
                                  tl_fill("c", "bad", "BTC-USDT", 2) };
    memset(r[1].u.fill.market, 'x', sizeof(r[1].u.fill.market)); /* unterminated */
    char why[128];
    cr_assert_eq(clb_store_rec_check(&r[1], why, sizeof(why)), CLB_EINVAL);
    cr_assert_not_null(strstr(why, "market"));
    cr_assert_eq(clb_store_write(s, r, 2), CLB_EINVAL);
    cr_assert_eq(tl_count("fills"), 0);

    struct clb_store_rec o = tl_order("x", 99, 1);
    cr_assert_eq(clb_store_rec_check(&o, NULL, 0), CLB_EINVAL);
    o = tl_order("x", CLB_ORDER_OPEN, 1);
    o.u.order.price.scale = 19;
    cr_assert_eq(clb_store_rec_check(&o, NULL, 0), CLB_EINVAL);
    o = tl_order("", CLB_ORDER_OPEN, 1);
    cr_assert_eq(clb_store_rec_check(&o, NULL, 0), CLB_EINVAL);
    struct clb_store_rec f = tl_fill("c", "t", "BTC-USDT", 1);
    f.u.fill.amount = clb_dec_make(0, 0);
    cr_assert_eq(clb_store_rec_check(&f, NULL, 0), CLB_EINVAL);
    struct clb_store_rec u = { .type = (enum clb_store_rec_type)77 };
    cr_assert_eq(clb_store_rec_check(&u, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_store_write(s, r, 0), CLB_EINVAL);

    /* A record the database rejects (a token whose hash another token has)
     * rolls the whole transaction back. */
    struct clb_store_token t = token("a", 'e', "read", 1);
    cr_assert_eq(clb_store_token_add(s, &t), CLB_OK);
    struct clb_store_rec mix[2] = { tl_fill("c", "ok", "BTC-USDT", 1),
                                    { .type = CLB_STORE_REC_TOKEN_ADD } };
    mix[1].u.token = token("b", 'e', "read", 2);
    int rc = clb_store_write(s, mix, 2);
    cr_assert(rc == CLB_EEXIST || rc == CLB_EINVAL, "rc %d: %s", rc, clb_store_errmsg(s));
    cr_assert_eq(tl_count("fills"), 0);
    /* and the connection is still usable */
    cr_assert_eq(clb_store_write(s, mix, 1), CLB_OK, "%s", clb_store_errmsg(s));
    cr_assert_eq(tl_count("fills"), 1);
    clb_store_close(s);
}

Test(store, records_from_events)
{
    struct clb_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.type = CLB_EV_ORDER_FILLED;
    ev.ts_ns = 1700000000123456789;
    ev.source = "binance";
    ev.u.order.client_order_id = "hb-BBCUT1";
    ev.u.order.exchange_order_id = "123";
    ev.u.order.market = "BTC-USDT";
    ev.u.order.side = CLB_SIDE_BUY;
    ev.u.order.price = clb_dec_make(100, 0);
    ev.u.order.amount = clb_dec_make(2, 0);
    ev.u.order.executed_base = clb_dec_make(1, 0);
    ev.u.order.executed_quote = clb_dec_make(100, 0);
    ev.u.order.state = CLB_ORDER_PARTIALLY_FILLED;
    ev.u.order.prev_state = CLB_ORDER_OPEN;
    ev.u.order.trade_id = "T9";
    ev.u.order.fill_price = clb_dec_make(100, 0);
    ev.u.order.fill_amount = clb_dec_make(1, 0);
    ev.u.order.fill_fee = clb_dec_make(1, 3);
    ev.u.order.fee_asset = "BNB";
    struct clb_store_rec r[3];
    cr_assert_eq(clb_store_rec_fill_from_event(&ev, "s1", &r[0]), CLB_OK);
    cr_assert_eq(clb_store_rec_order_from_event(&ev, "s1", &r[1]), CLB_OK);
    cr_assert_eq(clb_store_rec_order_state_from_event(&ev, &r[2]), CLB_OK);
    cr_assert_str_eq(r[0].u.fill.trade_id, "T9");
    cr_assert_str_eq(r[0].u.fill.connector, "binance");
    cr_assert_eq(r[0].u.fill.ts_ms, 1700000000123);
    cr_assert_eq(r[1].u.order.state, CLB_ORDER_PARTIALLY_FILLED);
    cr_assert_eq(r[2].u.order_state.prev_state, CLB_ORDER_OPEN);
    struct clb_store *s = tl_open(NULL);
    cr_assert_eq(clb_store_write(s, r, 3), CLB_OK, "%s", clb_store_errmsg(s));
    cr_assert_eq(tl_count("order_state_history"), 1);
    clb_store_close(s);
    ev.type = CLB_EV_ORDER_CREATED;
    cr_assert_eq(clb_store_rec_fill_from_event(&ev, NULL, &r[0]), CLB_EINVAL);
    ev.u.order.market = "A-VERY-LONG-MARKET-NAME-THAT-DOES-NOT-FIT";
    cr_assert_eq(clb_store_rec_order_from_event(&ev, NULL, &r[0]), CLB_ERANGE);
}

/* ---- colibri migrate ---- */

static int run_cli(const char *args, char *out, size_t cap)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "%s/colibri migrate %s 2>&1", COLIBRI_BINARY_DIR, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(store, cli_migrate)
{
    char out[4096], args[1300];
    cr_assert_eq(run_cli("--help", out, sizeof(out)), 0);
    cr_assert_not_null(strstr(out, "usage: colibri migrate"));
    snprintf(args, sizeof(args), "--database '%s'", tl_url);
    cr_assert_eq(run_cli(args, out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, tl_pg() ? "applied 001_init.postgres.sql"
                                           : "applied 001_init.sqlite.sql"), "%s", out);
    cr_assert_not_null(strstr(out, tl_pg() ? "applied 002_fills_keys.postgres.sql"
                                           : "applied 002_fills_keys.sqlite.sql"), "%s", out);
    cr_assert_not_null(strstr(out, "schema version 2"), "%s", out);
    cr_assert_eq(run_cli(args, out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "nothing to apply"), "%s", out);
    cr_assert_null(strstr(out, "applied 0"), "%s", out);
    snprintf(args, sizeof(args), "--database '%s' --status", tl_url);
    cr_assert_eq(run_cli(args, out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "schema version 2;"), "%s", out);
    /* the default database under --data-dir */
    snprintf(args, sizeof(args), "--data-dir '%s/dd'", tl_dir);
    cr_assert_eq(run_cli(args, out, sizeof(out)), 0, "%s", out);
    cr_assert_not_null(strstr(out, "/dd/colibri.db"), "%s", out);
    cr_assert_eq(run_cli("--database mysql://x", out, sizeof(out)), 2);
    cr_assert_eq(run_cli("--bogus", out, sizeof(out)), 2);
    cr_assert_eq(run_cli("--database sqlite:/nonexistent-clb-dir/x.db", out, sizeof(out)), 1);
}
