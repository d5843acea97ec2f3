/*
 * recovery.c — start-up recovery of paper connectors from the store (see
 * recovery.h): closes their open orders, sums their stored fills into
 * balance deltas and finds the highest trade id and client-order-id nonce
 * so the restarted venue counts on from there.
 *
 * Design: three passes over the store on one connection, single-threaded,
 * before anything else writes. Open orders are collected first and closed
 * afterwards (no write while a read cursor is open). Fills and orders are
 * paged by row id (CLB_STORE_LIST_MAX rows a page), so memory stays
 * bounded whatever the history holds; only the list of open orders grows,
 * up to RECOVERY_MAX_OPEN.
 */
#include "recovery.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "order_tracker.h"

#define RECOVERY_MAX_OPEN 1000000 /* open orders closed in one start */
#define RECOVERY_WRITE_BATCH 1000 /* records per transaction */
/* Client ids of the paper venue: "clb-" + side + 4 letters + hex nonce + 4
 * hex digits of instance (clb_tracker_make_client_id, the paper default
 * prefix). */
#define RECOVERY_PAPER_PREFIX "clb-"

/* The paper connectors named by the engine config's "connectors" array
 * (NULL = the default "paper" connector). Entries without a string name or
 * of another type are skipped: the engine validates the config. */
static void collect_paper(json_t *connectors, struct clb_recovery *r)
{
    memset(r, 0, sizeof(*r));
    if (!connectors) {
        snprintf(r->names[0], sizeof(r->names[0]), "paper");
        r->n_conns = 1;
    } else {
        for (size_t i = 0; i < json_array_size(connectors) && r->n_conns < CLB_ENGINE_MAX_CONNECTORS;
             i++) {
            json_t *c = json_array_get(connectors, i);
            const char *name = json_string_value(json_object_get(c, "name"));
            const char *type = json_string_value(json_object_get(c, "type"));
            if (!name || !type || strlen(name) >= sizeof(r->names[0]))
                continue;
            if (strcmp(type, "binance") == 0 && r->n_xs < CLB_ENGINE_MAX_CONNECTORS)
                snprintf(r->xs[r->n_xs++].name, sizeof(r->xs[0].name), "%s", name);
            if (strcmp(type, "paper") != 0)
                continue;
            snprintf(r->names[r->n_conns++], sizeof(r->names[0]), "%s", name);
        }
    }
    for (size_t i = 0; i < r->n_conns; i++) {
        r->conns[i].connector = r->names[i];
        r->conns[i].deltas = r->deltas[i];
    }
}

static int exchange_index(const struct clb_recovery *r, const char *connector)
{
    for (size_t i = 0; i < r->n_xs; i++)
        if (strcmp(r->xs[i].name, connector) == 0)
            return (int)i;
    return -1;
}

static int paper_index(const struct clb_recovery *r, const char *connector)
{
    for (size_t i = 0; i < r->n_conns; i++)
        if (strcmp(r->names[i], connector) == 0)
            return (int)i;
    return -1;
}

/* ---- 1. open orders ----------------------------------------------------- */

/* A growable array of n elements of size bytes (capacity *cap), at most
 * max: makes room for one more. CLB_EFULL, CLB_ENOMEM. */
static int grow(void **v, size_t size, size_t n, size_t *cap, size_t max)
{
    if (n < *cap)
        return CLB_OK;
    size_t c = *cap ? *cap * 2 : 64;
    if (c > max)
        c = max;
    if (n >= c)
        return CLB_EFULL;
    void *p = realloc(*v, c * size);
    if (!p)
        return CLB_ENOMEM;
    *v = p;
    *cap = c;
    return CLB_OK;
}

struct open_list {
    struct clb_recovery *r;
    struct clb_store_order *v; /* paper orders to close */
    size_t n, cap;
    size_t xcap[CLB_ENGINE_MAX_CONNECTORS];
    int rc;
};

static int on_open_order(void *ud, const struct clb_store_order *o)
{
    struct open_list *l = ud;
    int x = exchange_index(l->r, o->connector);
    if (x >= 0) {
        /* an exchange's: handed to its connector (item 4) */
        struct clb_recovery_exchange *xe = &l->r->xs[x];
        if ((l->rc = grow((void **)&xe->rows, sizeof(*xe->rows), xe->n_orders, &l->xcap[x],
                          RECOVERY_MAX_OPEN)) != CLB_OK)
            return 1;
        xe->rows[xe->n_orders++] = *o;
        return 0;
    }
    if (paper_index(l->r, o->connector) < 0)
        return 0; /* a connector no longer configured: left as it is */
    if ((l->rc = grow((void **)&l->v, sizeof(*l->v), l->n, &l->cap, RECOVERY_MAX_OPEN)) !=
        CLB_OK)
        return 1;
    l->v[l->n++] = *o;
    return 0;
}

static int close_open_orders(struct clb_store *st, struct clb_recovery *r, int64_t now_ms,
                             char *err, size_t errlen)
{
    struct open_list l = { .r = r };
    int rc = clb_store_orders_load_open(st, NULL, on_open_order, &l);
    if (rc == CLB_OK)
        rc = l.rc;
    if (rc != CLB_OK) {
        rc = clb_errf(err, errlen, rc, "loading open orders: %s",
                   l.rc ? clb_strerror(l.rc) : clb_store_errmsg(st));
        goto out;
    }
    struct clb_store_rec *recs = calloc(RECOVERY_WRITE_BATCH, sizeof(*recs));
    if (!recs && l.n) {
        rc = clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < l.n && rc == CLB_OK;) {
        size_t n = 0;
        for (; i < l.n && n < RECOVERY_WRITE_BATCH; i++, n++) {
            const struct clb_store_order *o = &l.v[i];
            struct clb_store_rec *rec = &recs[n];
            memset(rec, 0, sizeof(*rec));
            rec->type = CLB_STORE_REC_ORDER_STATE;
            struct clb_store_order_state *s = &rec->u.order_state;
            memcpy(s->client_order_id, o->client_order_id, sizeof(s->client_order_id));
            s->prev_state = o->state;
            s->state = CLB_ORDER_CANCELED;
            s->reason = CLB_ENOTFOUND; /* the restarted venue does not hold it */
            s->executed_base = o->executed_base;
            s->executed_quote = o->executed_quote;
            /* never older than the row, or the write would not apply */
            s->ts_ms = now_ms > o->updated_ms ? now_ms : o->updated_ms + 1;
        }
        rc = clb_store_write(st, recs, n);
        if (rc != CLB_OK)
            rc = clb_errf(err, errlen, rc, "closing open orders: %s", clb_store_errmsg(st));
        else
            r->orders_closed += n;
    }
    free(recs);
out:
    free(l.v);
    return rc;
}

/* ---- 2. fills -> balance deltas, highest trade id ------------------------ */

/* Adds v to the delta of asset in connector slot c. */
static int delta_add(struct clb_recovery *r, size_t c, const char *asset, clb_dec v)
{
    struct clb_engine_conn_start *cs = &r->conns[c];
    size_t k = 0;
    while (k < cs->n_deltas && strcmp(r->assets[c][k], asset) != 0)
        k++;
    if (k == cs->n_deltas) {
        if (k == CLB_RECOVERY_MAX_ASSETS)
            return CLB_EFULL;
        if (strlen(asset) >= CLB_ASSET_MAX)
            return CLB_EINVAL;
        snprintf(r->assets[c][k], CLB_ASSET_MAX, "%s", asset);
        r->deltas[c][k].asset = r->assets[c][k];
        r->deltas[c][k].amount = clb_dec_make(0, 0);
        cs->n_deltas++;
    }
    return clb_dec_add(r->deltas[c][k].amount, v, &r->deltas[c][k].amount);
}

/* Unsigned decimal digits only (the paper venue's trade ids), else false. */
static bool parse_u64(const char *s, int base, uint64_t *out)
{
    uint64_t v = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        int d;
        if (*s >= '0' && *s <= '9')
            d = *s - '0';
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = *s - 'a' + 10;
        else
            return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *out = v;
    return true;
}

struct fill_pass {
    struct clb_recovery *r;
    size_t c;
    int rc;
    char why[160];
};

static int apply_fill(struct fill_pass *fp, const struct clb_store_fill *f)
{
    char base[CLB_ASSET_MAX], quote[CLB_ASSET_MAX];
    const char *dash = strchr(f->market, '-');
    size_t bl = dash ? (size_t)(dash - f->market) : 0;
    if (!dash || bl == 0 || bl >= sizeof(base) || strlen(dash + 1) == 0 ||
        strlen(dash + 1) >= sizeof(quote))
        return CLB_EINVAL;
    memcpy(base, f->market, bl);
    base[bl] = '\0';
    snprintf(quote, sizeof(quote), "%s", dash + 1);
    clb_dec notional, amount = f->amount;
    int rc = clb_dec_mul(f->price, f->amount, &notional);
    if (rc != CLB_OK)
        return rc;
    if (f->side == CLB_SIDE_SELL) {
        if ((rc = clb_dec_neg(amount, &amount)) != CLB_OK)
            return rc;
    } else if ((rc = clb_dec_neg(notional, &notional)) != CLB_OK) {
        return rc;
    }
    if ((rc = delta_add(fp->r, fp->c, base, amount)) != CLB_OK ||
        (rc = delta_add(fp->r, fp->c, quote, notional)) != CLB_OK)
        return rc;
    if (!clb_dec_is_zero(f->fee) && f->fee_asset[0]) {
        clb_dec fee;
        if ((rc = clb_dec_neg(f->fee, &fee)) != CLB_OK ||
            (rc = delta_add(fp->r, fp->c, f->fee_asset, fee)) != CLB_OK)
            return rc;
    }
    uint64_t tid;
    if (parse_u64(f->trade_id, 10, &tid) && tid > fp->r->conns[fp->c].trade_id_base)
        fp->r->conns[fp->c].trade_id_base = tid;
    fp->r->fills++;
    return CLB_OK;
}

static int on_fill(void *ud, const struct clb_store_fill *f)
{
    struct fill_pass *fp = ud;
    int rc = apply_fill(fp, f);
    if (rc != CLB_OK) {
        fp->rc = rc;
        snprintf(fp->why, sizeof(fp->why), "fill %.40s %.40s trade %.40s: %s", f->connector,
                 f->market, f->trade_id, clb_strerror(rc));
        return 1;
    }
    return 0;
}

/* ---- 3. highest client-order-id nonce ------------------------------------ */

static int on_order(void *ud, const struct clb_store_order *o)
{
    uint64_t *max = ud;
    const char *id = o->client_order_id;
    size_t plen = strlen(RECOVERY_PAPER_PREFIX), len = strlen(id);
    /* prefix, side + 4 letters, >= 1 hex digit of nonce, 4 of instance */
    if (len < plen + 5 + 1 + 4 || strncmp(id, RECOVERY_PAPER_PREFIX, plen) != 0)
        return 0;
    char hex[CLB_STORE_COID_MAX];
    size_t n = len - 4 - (plen + 5);
    memcpy(hex, id + plen + 5, n);
    hex[n] = '\0';
    uint64_t nonce;
    if (parse_u64(hex, 16, &nonce) && nonce > *max)
        *max = nonce;
    return 0;
}

/* Pages through every fill (fills = true) or order of connector slot c. */
static int scan(struct clb_store *st, struct clb_recovery *r, size_t c, bool fills, char *err,
                size_t errlen)
{
    struct clb_store_query q = { .connector = r->names[c], .limit = CLB_STORE_LIST_MAX,
                                 .ascending = true };
    struct fill_pass fp = { .r = r, .c = c };
    for (;;) {
        int64_t next = 0;
        int rc = fills ? clb_store_fills_list(st, &q, on_fill, &fp, &next)
                       : clb_store_orders_list(st, &q, on_order, &r->conns[c].nonce_base, &next);
        if (rc != CLB_OK)
            return clb_errf(err, errlen, rc, "reading the %s of %s: %s", fills ? "fills" : "orders",
                         r->names[c], clb_store_errmsg(st));
        if (fp.rc != CLB_OK)
            return clb_errf(err, errlen, fp.rc == CLB_EFULL ? CLB_EFULL : CLB_EINVAL, "%s",
                         fp.why);
        if (next == 0)
            return CLB_OK;
        q.cursor = next;
    }
}

/* ---- 4. and 5. exchange connectors ------------------------------------------ */

struct fill_list {
    struct clb_recovery_exchange *xe;
    size_t cap;
    int rc;
};

static int on_order_fill(void *ud, const struct clb_store_fill *f)
{
    struct fill_list *fl = ud;
    struct clb_recovery_exchange *xe = fl->xe;
    if ((fl->rc = grow((void **)&xe->fill_rows, sizeof(*xe->fill_rows), xe->n_fills, &fl->cap,
                       RECOVERY_MAX_OPEN)) != CLB_OK)
        return 1;
    xe->fill_rows[xe->n_fills++] = *f;
    return 0;
}

struct known_list {
    struct clb_recovery_exchange *xe;
    size_t cap;
    int rc;
};

static int on_known(void *ud, const struct clb_store_order *o)
{
    struct known_list *kl = ud;
    struct clb_recovery_exchange *xe = kl->xe;
    if ((kl->rc = grow((void **)&xe->known, sizeof(*xe->known), xe->n_known, &kl->cap,
                       RECOVERY_MAX_OPEN)) != CLB_OK)
        return 1;
    memcpy(xe->known[xe->n_known++], o->client_order_id, sizeof(xe->known[0]));
    return 0;
}

static int on_newest(void *ud, const struct clb_store_order *o)
{
    *(int64_t *)ud = o->created_ms;
    return 1;
}

/* The fills of every open order, the restore entries over them, and the
 * sweep window with the ids stored in it. */
static int prepare_exchange(struct clb_store *st, struct clb_recovery_exchange *xe, char *err,
                            size_t errlen)
{
    struct fill_list fl = { .xe = xe };
    size_t *first = calloc(xe->n_orders + 1, sizeof(*first));
    if (!first)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    int rc = CLB_OK;
    for (size_t i = 0; i < xe->n_orders && rc == CLB_OK; i++) {
        first[i] = xe->n_fills;
        rc = clb_store_fills_load_order(st, xe->rows[i].client_order_id, on_order_fill, &fl);
        if (rc == CLB_OK)
            rc = fl.rc;
    }
    first[xe->n_orders] = xe->n_fills;
    if (rc != CLB_OK) {
        free(first);
        return clb_errf(err, errlen, rc, "loading the fills of %s's open orders: %s", xe->name,
                        fl.rc ? clb_strerror(fl.rc) : clb_store_errmsg(st));
    }
    xe->orders = calloc(xe->n_orders ? xe->n_orders : 1, sizeof(*xe->orders));
    xe->owners = calloc(xe->n_orders ? xe->n_orders : 1, sizeof(*xe->owners));
    xe->fills = calloc(xe->n_fills ? xe->n_fills : 1, sizeof(*xe->fills));
    if (!xe->orders || !xe->owners || !xe->fills) {
        free(first);
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < xe->n_fills; k++) {
        const struct clb_store_fill *f = &xe->fill_rows[k];
        xe->fills[k] = (struct clb_fill){ .trade_id = f->trade_id, .price = f->price,
                                          .amount = f->amount, .fee = f->fee,
                                          .fee_asset = f->fee_asset[0] ? f->fee_asset : NULL,
                                          .is_maker = f->is_maker };
    }
    for (size_t i = 0; i < xe->n_orders; i++) {
        const struct clb_store_order *o = &xe->rows[i];
        xe->orders[i] = (struct clb_order_restore){
            .params = { .client_order_id = o->client_order_id, .market = o->market,
                        .side = o->side, .type = o->type, .price = o->price,
                        .amount = o->amount },
            .exchange_order_id = o->exchange_order_id,
            .state = (enum clb_order_state)o->state,
            .fills = xe->fills + first[i],
            .n_fills = first[i + 1] - first[i] };
        uint64_t sid;
        if (parse_u64(o->strategy_id, 10, &sid) && sid < (UINT64_C(1) << 31))
            xe->owners[i] = (uint32_t)sid;
    }
    free(first);

    /* the sweep window: from shortly before the newest stored order */
    struct clb_store_query q = { .connector = xe->name, .limit = 1 };
    int64_t newest = 0, next = 0;
    if ((rc = clb_store_orders_list(st, &q, on_newest, &newest, &next)) != CLB_OK)
        return clb_errf(err, errlen, rc, "reading the orders of %s: %s", xe->name,
                        clb_store_errmsg(st));
    if (newest <= 0)
        return CLB_OK; /* nothing ever stored: nothing to sweep for */
    xe->since_ms = newest > CLB_RECOVERY_SWEEP_MARGIN_MS ? newest - CLB_RECOVERY_SWEEP_MARGIN_MS
                                                          : 1;
    struct known_list kl = { .xe = xe };
    q = (struct clb_store_query){ .connector = xe->name, .since_ms = xe->since_ms,
                                  .limit = CLB_STORE_LIST_MAX, .ascending = true };
    for (;;) {
        next = 0;
        rc = clb_store_orders_list(st, &q, on_known, &kl, &next);
        if (rc == CLB_OK)
            rc = kl.rc;
        if (rc != CLB_OK)
            return clb_errf(err, errlen, rc, "reading the recent orders of %s: %s", xe->name,
                            kl.rc ? clb_strerror(kl.rc) : clb_store_errmsg(st));
        if (next == 0)
            break;
        q.cursor = next;
    }
    xe->known_ptrs = calloc(xe->n_known ? xe->n_known : 1, sizeof(*xe->known_ptrs));
    if (!xe->known_ptrs)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    for (size_t k = 0; k < xe->n_known; k++)
        xe->known_ptrs[k] = xe->known[k];
    return CLB_OK;
}

/* ---- 6. strategy ids -------------------------------------------------------- */

/* connector_2 and market_2 of a two-venue strategy, from its stored state
 * (the engine writes them there); left "" when absent. */
static void second_venue(const char *state_json, struct clb_recovery_strategy *rs)
{
    json_t *st = state_json ? json_loads(state_json, 0, NULL) : NULL;
    const char *c = json_string_value(json_object_get(st, "connector_2"));
    const char *m = json_string_value(json_object_get(st, "market_2"));
    if (c && m && strlen(c) < sizeof(rs->connector_2) && strlen(m) < sizeof(rs->market_2)) {
        memcpy(rs->connector_2, c, strlen(c) + 1);
        memcpy(rs->market_2, m, strlen(m) + 1);
    }
    json_decref(st);
}

struct strat_scan {
    struct clb_recovery *r;
    int rc; /* CLB_ENOMEM when a copy failed (the read stops) */
};

/* Finds the highest numeric id, and keeps the running strategies (item 7). */
static int on_strategy(void *ud, const struct clb_store_strategy *st)
{
    struct strat_scan *sc = ud;
    struct clb_recovery *r = sc->r;
    uint64_t id;
    /* ids above 2^31 are not the engine's: ignored rather than wrapping */
    if (!parse_u64(st->id, 10, &id) || id == 0 || id >= (UINT64_C(1) << 31))
        return 0;
    if (id > r->strategy_id_base)
        r->strategy_id_base = (uint32_t)id;
    if (strcmp(st->status, "running") != 0 || r->n_resume >= CLB_ENGINE_MAX_STRATEGIES)
        return 0;
    if (!r->strats && !(r->strats = calloc(CLB_ENGINE_MAX_STRATEGIES, sizeof(*r->strats)))) {
        sc->rc = CLB_ENOMEM;
        return 1;
    }
    struct clb_recovery_strategy *rs = &r->strats[r->n_resume];
    memset(rs, 0, sizeof(*rs));
    rs->id = (uint32_t)id;
    memcpy(rs->name, st->name, sizeof(rs->name));
    memcpy(rs->type, st->type, sizeof(rs->type));
    memcpy(rs->connector, st->connector, sizeof(rs->connector));
    memcpy(rs->market, st->market, sizeof(rs->market));
    second_venue(st->state_json, rs);
    if (!(rs->params_json = strdup(st->config_json ? st->config_json : "{}"))) {
        sc->rc = CLB_ENOMEM;
        return 1;
    }
    r->n_resume++;
    return 0;
}

/* r->resume from r->strats, once they no longer move. */
static int index_resume(struct clb_recovery *r)
{
    if (!r->n_resume)
        return CLB_OK;
    if (!(r->resume = calloc(r->n_resume, sizeof(*r->resume))))
        return CLB_ENOMEM;
    for (size_t i = 0; i < r->n_resume; i++) {
        const struct clb_recovery_strategy *rs = &r->strats[i];
        r->resume[i] = (struct clb_engine_resume){
            .id = rs->id, .name = rs->name, .type = rs->type, .connector = rs->connector,
            .market = rs->market, .connector_2 = rs->connector_2[0] ? rs->connector_2 : NULL,
            .market_2 = rs->market_2[0] ? rs->market_2 : NULL, .params_json = rs->params_json };
    }
    return CLB_OK;
}

/* ---- public ---------------------------------------------------------------- */

int clb_recovery_run(struct clb_store *st, json_t *connectors, int64_t now_ms,
                     struct clb_log *log, struct clb_recovery *r, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!st || !r)
        return clb_errf(err, errlen, CLB_EINVAL, "invalid arguments");
    collect_paper(connectors, r);
    int rc = close_open_orders(st, r, now_ms, err, errlen);
    for (size_t x = 0; x < r->n_xs && rc == CLB_OK; x++) {
        rc = prepare_exchange(st, &r->xs[x], err, errlen);
        r->orders_handed += r->xs[x].n_orders;
        if (rc == CLB_OK && (r->xs[x].n_orders || r->xs[x].since_ms))
            clb_logf(log, CLB_LOG_INFO,
                     "recovery: %s: %zu open order(s) (%zu recorded fill(s)) handed to the "
                     "connector to reconcile; orders since %lld swept for unrecorded ones",
                     r->xs[x].name, r->xs[x].n_orders, r->xs[x].n_fills,
                     (long long)r->xs[x].since_ms);
    }
    struct strat_scan sc = { .r = r, .rc = CLB_OK };
    if (rc == CLB_OK && (rc = clb_store_strategies_load(st, on_strategy, &sc)) != CLB_OK)
        rc = clb_errf(err, errlen, rc, "reading the strategies: %s", clb_store_errmsg(st));
    if (rc == CLB_OK && sc.rc != CLB_OK)
        rc = clb_errf(err, errlen, sc.rc, "reading the strategies: out of memory");
    if (rc == CLB_OK && (rc = index_resume(r)) != CLB_OK)
        rc = clb_errf(err, errlen, rc, "out of memory");
    if (rc == CLB_OK && r->n_resume)
        clb_logf(log, CLB_LOG_INFO, "recovery: %zu strategy(ies) were running when the last run "
                 "ended", r->n_resume);
    if (rc != CLB_OK) {
        clb_recovery_free(r);
        return rc;
    }
    if (r->orders_closed)
        clb_logf(log, CLB_LOG_WARN,
                 "recovery: %llu open paper order(s) recorded as cancelled (venue restarted)",
                 (unsigned long long)r->orders_closed);
    for (size_t c = 0; c < r->n_conns; c++) {
        uint64_t fills0 = r->fills;
        if ((rc = scan(st, r, c, true, err, errlen)) != CLB_OK ||
            (rc = scan(st, r, c, false, err, errlen)) != CLB_OK)
            return rc;
        struct clb_engine_conn_start *cs = &r->conns[c];
        for (size_t k = 0; k < cs->n_deltas; k++)
            r->deltas[c][k].amount = clb_dec_normalize(r->deltas[c][k].amount);
        if (r->fills == fills0 && cs->nonce_base == 0)
            continue;
        clb_logf(log, CLB_LOG_INFO,
                 "recovery: %s: %llu stored fill(s) applied to the start balances; trade ids "
                 "continue after %llu, order nonces after %llu",
                 r->names[c], (unsigned long long)(r->fills - fills0),
                 (unsigned long long)cs->trade_id_base, (unsigned long long)cs->nonce_base);
    }
    return CLB_OK;
}

void clb_recovery_fresh_ids(struct clb_recovery *r, int64_t now_ms)
{
    uint64_t base = now_ms > 0 ? (uint64_t)now_ms * 1000u : 0;
    for (size_t c = 0; c < r->n_conns; c++) {
        if (r->conns[c].trade_id_base < base)
            r->conns[c].trade_id_base = base;
        if (r->conns[c].nonce_base < base)
            r->conns[c].nonce_base = base;
    }
    /* strategies: the seconds since 2020 (below 2^31 until 2088) */
    int64_t s2020 = now_ms / 1000 - INT64_C(1577836800);
    uint32_t sbase = s2020 > 0 && s2020 < (INT64_C(1) << 31) ? (uint32_t)s2020 : 0;
    if (r->strategy_id_base < sbase)
        r->strategy_id_base = sbase;
}

void clb_recovery_fallback(json_t *connectors, int64_t now_ms, struct clb_recovery *r)
{
    collect_paper(connectors, r);
    clb_recovery_fresh_ids(r, now_ms);
}

void clb_recovery_apply(struct clb_recovery *r, struct clb_engine_config *cfg)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_conns; i++)
        r->all[n++] = r->conns[i];
    for (size_t x = 0; x < r->n_xs; x++) {
        const struct clb_recovery_exchange *xe = &r->xs[x];
        r->all[n++] = (struct clb_engine_conn_start){
            .connector = xe->name, .restore = xe->orders, .restore_owner = xe->owners,
            .n_restore = xe->n_orders,
            .known_ids = xe->known_ptrs, .n_known = xe->known_ptrs ? xe->n_known : 0,
            .adopt_since_ms = xe->since_ms };
    }
    cfg->conn_start = r->all;
    cfg->n_conn_start = n;
    cfg->strategy_id_base = r->strategy_id_base;
    cfg->resume = r->resume;
    cfg->n_resume = r->resume ? r->n_resume : 0;
}

void clb_recovery_free(struct clb_recovery *r)
{
    if (r && r->strats)
        for (size_t i = 0; i < r->n_resume; i++)
            free(r->strats[i].params_json);
    if (r) {
        free(r->strats);
        free(r->resume);
        r->strats = NULL;
        r->resume = NULL;
        r->n_resume = 0;
    }
    for (size_t x = 0; r && x < CLB_ENGINE_MAX_CONNECTORS; x++) {
        struct clb_recovery_exchange *xe = &r->xs[x];
        free(xe->rows);
        free(xe->orders);
        free(xe->owners);
        free(xe->fill_rows);
        free(xe->fills);
        free(xe->known);
        free(xe->known_ptrs);
        char name[sizeof(xe->name)];
        memcpy(name, xe->name, sizeof(name));
        memset(xe, 0, sizeof(*xe));
        memcpy(xe->name, name, sizeof(name));
    }
}
