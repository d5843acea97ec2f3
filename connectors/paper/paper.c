/*
 * paper.c — the paper connector (see paper.h). Layout: a ledger (account 0
 * is ours, fees leave the ledger), one matcher with an external L2 book per
 * market, an order tracker, and a small queue of requests sorted by due time
 * that models order-entry and cancel latency. Market data takes one loop
 * (paper_feed) whether it comes a record at a time or as a replay's run of
 * records (clb_paper_replay).
 */
#include "paper.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ledger.h"
#include "matching.h"
#include "order_book.h"
#include "order_tracker.h"

#define PAPER_MAX_MARKETS 8
#define PAPER_MAX_ASSETS 16
#define PAPER_MAX_PENDING 4096
#define PAPER_MIN_ASSET_SCALE 8

enum pending_kind { PENDING_PLACE, PENDING_CANCEL };

struct pending {
    int64_t due_ns;
    uint64_t seq; /* FIFO among equal due times */
    enum pending_kind kind;
    bool dropped; /* a PLACE whose cancel arrived first */
    uint32_t market;
    enum clb_side side;
    enum clb_order_type type;
    int64_t price;
    int64_t qty;
    char client_id[CLB_CLIENT_ID_MAX];
};

struct paper_market {
    struct clb_market_rules rules;
    struct clb_order_book book;
    uint32_t mx_market;
    uint32_t base_asset;
    uint32_t quote_asset;
};

struct clb_paper {
    struct clb_connector base; /* must stay first */
    struct clb_paper_config cfg;
    char prefix[16];
    struct clb_ledger ledger;
    struct clb_matcher mx;
    struct clb_order_tracker tracker;
    struct paper_market markets[PAPER_MAX_MARKETS];
    uint32_t n_markets;
    struct pending *pq; /* sorted by (due_ns, seq) */
    uint32_t n_pending;
    int64_t next_due_ns; /* pq[0].due_ns, INT64_MAX when empty */
    int64_t now_ns;
    uint64_t seq;
    uint64_t nonce;
    uint32_t account;
    bool delivering;
    struct clb_paper_stats stats;
};

static const struct clb_connector_ops paper_ops;

void clb_paper_config_default(struct clb_paper_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->name = "paper";
    cfg->maker_fee = 0.001;
    cfg->taker_fee = 0.001;
    cfg->queue_power = 3.0;
    cfg->client_id_prefix = "clb-";
    cfg->book_levels = 1000;
    cfg->max_orders = 4096;
}

/* ---- engine reports -> tracker inputs ------------------------------------ */

static struct paper_market *market_of_mx(struct clb_paper *p, uint32_t mx_market)
{
    for (uint32_t i = 0; i < p->n_markets; i++)
        if (p->markets[i].mx_market == mx_market)
            return &p->markets[i];
    return NULL;
}

static void on_engine_order(void *ud, const struct clb_order_report *o)
{
    struct clb_paper *p = ud;
    const char *cid = o->client_id;
    char exid[24];
    switch (o->status) {
    case CLB_EXEC_NEW:
        snprintf(exid, sizeof(exid), "%" PRIu64, o->order_id);
        clb_tracker_on_created(&p->tracker, cid, exid, o->ts_ns);
        break;
    case CLB_EXEC_CANCELED:
    case CLB_EXEC_EXPIRED:
        clb_tracker_on_cancelled(&p->tracker, cid, o->ts_ns);
        break;
    case CLB_EXEC_REJECTED:
        p->stats.orders_rejected++;
        clb_tracker_on_create_failed(&p->tracker, cid, true, CLB_EINVAL, o->ts_ns);
        break;
    case CLB_EXEC_PARTIALLY_FILLED:
    case CLB_EXEC_FILLED:
        break; /* the fills carry the amounts */
    }
}

static void on_engine_fill(void *ud, const struct clb_fill_report *f)
{
    struct clb_paper *p = ud;
    struct paper_market *m = market_of_mx(p, f->market);
    if (!m)
        return;
    char tid[24];
    snprintf(tid, sizeof(tid), "%" PRIu64, p->cfg.trade_id_base + f->trade_id);
    struct clb_fill fill = {
        .trade_id = tid,
        .price = clb_dec_make(f->price, m->rules.price_scale),
        .amount = clb_dec_make(f->qty, m->rules.qty_scale),
        .fee = clb_dec_make(f->fee, clb_ledger_asset_scale(&p->ledger, f->fee_asset)),
        .fee_asset = p->ledger.assets[f->fee_asset].name,
        .is_maker = f->is_maker,
    };
    p->stats.fills++;
    clb_tracker_on_fill(&p->tracker, f->client_id, &fill, f->ts_ns);
}

/* ---- request queue ------------------------------------------------------- */

static int enqueue(struct clb_paper *p, const struct pending *rq)
{
    if (p->n_pending == PAPER_MAX_PENDING)
        return CLB_EFULL;
    uint32_t i = p->n_pending;
    while (i > 0 && p->pq[i - 1].due_ns > rq->due_ns)
        i--;
    memmove(&p->pq[i + 1], &p->pq[i], (p->n_pending - i) * sizeof(*p->pq));
    p->pq[i] = *rq;
    p->pq[i].seq = p->seq++;
    p->n_pending++;
    p->next_due_ns = p->pq[0].due_ns;
    return CLB_OK;
}

static void deliver_place(struct clb_paper *p, const struct pending *rq)
{
    if (rq->dropped) {
        clb_tracker_on_cancelled(&p->tracker, rq->client_id, p->now_ns);
        return;
    }
    struct paper_market *m = &p->markets[rq->market];
    struct clb_match_request mr = {
        .account = p->account,
        .market = m->mx_market,
        .side = rq->side,
        .type = rq->type,
        .tif = rq->type == CLB_ORDER_MARKET ? CLB_TIF_IOC : CLB_TIF_GTC,
        .price = rq->price,
        .qty = rq->qty,
        .client_id = rq->client_id,
    };
    p->stats.orders_submitted++;
    clb_matcher_submit(&p->mx, &mr, p->now_ns, NULL, NULL);
}

static void deliver_cancel(struct clb_paper *p, const struct pending *rq)
{
    p->stats.cancels++;
    const struct clb_tracked_order *o = clb_tracker_get(&p->tracker, rq->client_id);
    if (!o)
        return;
    if (o->exchange_order_id[0] == '\0') {
        /* Not yet at the engine: drop the placement still in the queue. */
        for (uint32_t i = 0; i < p->n_pending; i++) {
            struct pending *q = &p->pq[i];
            if (q->kind == PENDING_PLACE && strcmp(q->client_id, rq->client_id) == 0) {
                q->dropped = true;
                return;
            }
        }
        return;
    }
    uint64_t id = strtoull(o->exchange_order_id, NULL, 10);
    if (clb_matcher_cancel(&p->mx, p->account, id, p->now_ns) == CLB_ENOTFOUND)
        clb_tracker_on_cancel_rejected(&p->tracker, rq->client_id, p->now_ns);
}

void clb_paper_advance(struct clb_paper *p, int64_t now_ns)
{
    if (now_ns > p->now_ns)
        p->now_ns = now_ns;
    if (p->delivering)
        return;
    p->delivering = true;
    while (p->n_pending > 0 && p->pq[0].due_ns <= p->now_ns) {
        struct pending rq = p->pq[0];
        p->n_pending--;
        memmove(&p->pq[0], &p->pq[1], p->n_pending * sizeof(*p->pq));
        p->next_due_ns = p->n_pending ? p->pq[0].due_ns : INT64_MAX;
        if (rq.kind == PENDING_PLACE)
            deliver_place(p, &rq);
        else
            deliver_cancel(p, &rq);
    }
    p->delivering = false;
}

int64_t clb_paper_next_due_ns(const struct clb_paper *p)
{
    return p->n_pending ? p->next_due_ns : INT64_MAX;
}

/* ---- market data --------------------------------------------------------- */

static void publish_trade(struct clb_paper *p, struct paper_market *m,
                          const struct clb_md_record *r, enum clb_side taker)
{
    struct clb_event ev = {
        .type = CLB_EV_TRADE,
        .ts_ns = p->now_ns,
        .source = p->base.name,
        .u.trade = { .market = m->rules.symbol, .price = r->price, .qty = r->qty,
                     .taker_side = taker, .trade_id = r->trade_id },
    };
    clb_event_publish(p->base.bus, &ev);
}

/* A trade record (out of line: rare, and its event is large). */
static void paper_trade(struct clb_paper *p, struct paper_market *m, const struct clb_md_record *r)
{
    enum clb_side taker = r->kind == CLB_MD_TRADE_BUY ? CLB_SIDE_BUY : CLB_SIDE_SELL;
    if (r->price <= 0 || r->qty <= 0) {
        p->stats.bad_records++;
        return;
    }
    clb_matcher_on_trade(&p->mx, m->mx_market, r->price, r->qty, taker, p->now_ns);
    publish_trade(p, m, r, taker);
    if (r->flags & CLB_MD_F_BATCH_END)
        clb_matcher_sync_book(&p->mx, m->mx_market, p->now_ns);
}

/* Feeds n records of a known market (clb_paper_on_record after the market
 * check). The one copy of the record path, a loop so that it is not a
 * call per record; level records, nearly all of a feed, stay on the
 * straight path. */
static void paper_feed(struct clb_paper *p, struct paper_market *m, const struct clb_md_record *r,
                       size_t n)
{
    for (size_t i = 0; i < n; i++, r++) {
        if (r->ts_ns > p->now_ns)
            p->now_ns = r->ts_ns;
        if (p->next_due_ns <= p->now_ns)
            clb_paper_advance(p, p->now_ns);
        p->stats.records++;
        const unsigned kind = r->kind;
        if (kind - CLB_MD_BID >= 2u) {
            if (kind - CLB_MD_TRADE_BUY < 2u)
                paper_trade(p, m, r);
            else
                p->stats.bad_records++;
            continue;
        }
        enum clb_side side = kind == CLB_MD_BID ? CLB_SIDE_BUY : CLB_SIDE_SELL;
        if (r->flags & CLB_MD_F_RESET)
            clb_book_clear(&m->book);
        if (clb_book_set_level(&m->book, side, r->price, r->qty) != CLB_OK) {
            p->stats.bad_records++;
            continue;
        }
        clb_matcher_on_book_level(&p->mx, m->mx_market, side, r->price, r->qty, p->now_ns);
        if (r->flags & CLB_MD_F_BATCH_END)
            clb_matcher_sync_book(&p->mx, m->mx_market, p->now_ns);
    }
}

void clb_paper_on_record(struct clb_paper *p, uint32_t market, const struct clb_md_record *r)
{
    if (market < p->n_markets) {
        paper_feed(p, &p->markets[market], r, 1);
        return;
    }
    if (r->ts_ns > p->now_ns)
        p->now_ns = r->ts_ns;
    if (p->next_due_ns <= p->now_ns)
        clb_paper_advance(p, p->now_ns);
    p->stats.bad_records++;
}

/* clb_paper_replay works in blocks: a first pass over a block's timestamps
 * finds where it stops (and brings the block into L1: 8 KiB), then
 * paper_feed runs over it with no stop test. Records are read once, in
 * order, usually from a mapped file far larger than the caches, so the
 * first pass also prefetches 4 KiB ahead: that hides the memory latency
 * the hardware prefetcher leaves at page boundaries. */
#define REPLAY_BLOCK 256
#define REPLAY_PREFETCH 128

size_t clb_paper_replay(struct clb_paper *p, uint32_t market, const struct clb_md_record *r,
                        size_t n, int64_t stop_ns)
{
    size_t done = 0;
    while (done < n) {
        const struct clb_md_record *b = r + done;
        size_t lim = n - done < REPLAY_BLOCK ? n - done : REPLAY_BLOCK, k = 0;
        size_t ahead = n - done > REPLAY_PREFETCH ? n - done - REPLAY_PREFETCH : 0;
        for (; k < lim && b[k].ts_ns < stop_ns; k++)
            if (k < ahead && (k & 1) == 0) /* one prefetch per 64-byte line */
                __builtin_prefetch(&b[k + REPLAY_PREFETCH]);
        if (market < p->n_markets) {
            paper_feed(p, &p->markets[market], b, k);
        } else {
            for (size_t i = 0; i < k; i++)
                clb_paper_on_record(p, market, &b[i]);
        }
        done += k;
        if (k < lim)
            break;
    }
    return done;
}

/* ---- connector interface ------------------------------------------------- */

static struct paper_market *find_market(struct clb_paper *p, const char *symbol, uint32_t *idx)
{
    for (uint32_t i = 0; i < p->n_markets; i++) {
        if (strcmp(p->markets[i].rules.symbol, symbol) == 0) {
            if (idx)
                *idx = i;
            return &p->markets[i];
        }
    }
    return NULL;
}

static int paper_place(struct clb_connector *c, const struct clb_order_request *req,
                       char client_id[CLB_CLIENT_ID_MAX])
{
    struct clb_paper *p = (struct clb_paper *)c;
    uint32_t idx;
    struct paper_market *m = req && req->market ? find_market(p, req->market, &idx) : NULL;
    if (!m)
        return CLB_ENOTFOUND;
    if (req->side != CLB_SIDE_BUY && req->side != CLB_SIDE_SELL)
        return CLB_EINVAL;
    const struct clb_market_rules *ru = &m->rules;
    clb_dec price = clb_dec_make(0, 0), amount;
    int rc = clb_dec_quantize(req->amount, ru->step_size, CLB_ROUND_DOWN, &amount);
    if (rc != CLB_OK)
        return rc;
    if (req->type != CLB_ORDER_MARKET) {
        enum clb_round mode = req->side == CLB_SIDE_BUY ? CLB_ROUND_DOWN : CLB_ROUND_UP;
        if ((rc = clb_dec_quantize(req->price, ru->tick_size, mode, &price)) != CLB_OK)
            return rc;
        if (clb_dec_sign(price) <= 0)
            return CLB_ERANGE;
        clb_dec notional;
        if (clb_dec_sign(ru->min_notional) > 0 &&
            (clb_dec_mul(price, amount, &notional) != CLB_OK ||
             clb_dec_cmp(notional, ru->min_notional) < 0))
            return CLB_ERANGE;
    }
    if (clb_dec_sign(amount) <= 0 || clb_dec_cmp(amount, ru->min_qty) < 0)
        return CLB_ERANGE;
    struct pending rq = { .kind = PENDING_PLACE, .market = idx, .side = req->side,
                          .type = req->type, .due_ns = p->now_ns + p->cfg.order_latency_ns };
    if ((rc = clb_dec_to_scaled(amount, ru->qty_scale, &rq.qty)) != CLB_OK ||
        (rc = clb_dec_to_scaled(price, ru->price_scale, &rq.price)) != CLB_OK)
        return rc;
    if (p->n_pending == PAPER_MAX_PENDING)
        return CLB_EFULL;
    rc = clb_tracker_make_client_id(rq.client_id, sizeof(rq.client_id), p->prefix, req->side,
                                    req->market, ++p->nonce, 0);
    if (rc < 0)
        return rc;
    struct clb_order_params op = { .client_order_id = rq.client_id, .market = req->market,
                                   .side = req->side, .type = req->type, .price = price,
                                   .amount = amount };
    if ((rc = clb_tracker_start_tracking(&p->tracker, &op, p->now_ns)) != CLB_OK)
        return rc;
    enqueue(p, &rq);
    memcpy(client_id, rq.client_id, sizeof(rq.client_id));
    return CLB_OK;
}

static int paper_cancel(struct clb_connector *c, const char *market, const char *client_id)
{
    struct clb_paper *p = (struct clb_paper *)c;
    (void)market;
    const struct clb_tracked_order *o = clb_tracker_get(&p->tracker, client_id);
    if (!o)
        return CLB_ENOTFOUND;
    if (clb_order_state_is_terminal(o->state))
        return CLB_ESTATE;
    if (p->n_pending == PAPER_MAX_PENDING)
        return CLB_EFULL;
    int rc = clb_tracker_on_cancel_requested(&p->tracker, client_id, p->now_ns);
    if (rc != CLB_OK)
        return rc;
    struct pending rq = { .kind = PENDING_CANCEL, .due_ns = p->now_ns + p->cfg.cancel_latency_ns };
    snprintf(rq.client_id, sizeof(rq.client_id), "%s", client_id);
    return enqueue(p, &rq);
}

static const struct clb_order_book *paper_book(struct clb_connector *c, const char *market)
{
    struct paper_market *m = find_market((struct clb_paper *)c, market, NULL);
    return m ? &m->book : NULL;
}

static const struct clb_market_rules *paper_rules(struct clb_connector *c, const char *market)
{
    struct paper_market *m = find_market((struct clb_paper *)c, market, NULL);
    return m ? &m->rules : NULL;
}

static int paper_balance(struct clb_connector *c, const char *asset, clb_dec *total,
                         clb_dec *available)
{
    struct clb_paper *p = (struct clb_paper *)c;
    uint32_t id;
    if (clb_ledger_find_asset(&p->ledger, asset, &id) != CLB_OK) {
        *total = *available = clb_dec_make(0, 0);
        return CLB_OK;
    }
    *total = clb_ledger_total_dec(&p->ledger, p->account, id);
    *available = clb_ledger_available_dec(&p->ledger, p->account, id);
    return CLB_OK;
}

static int paper_fees(struct clb_connector *c, const char *market, double *maker, double *taker)
{
    struct clb_paper *p = (struct clb_paper *)c;
    (void)market;
    *maker = p->cfg.maker_fee;
    *taker = p->cfg.taker_fee;
    return CLB_OK;
}

static const struct clb_order_tracker *paper_tracker(struct clb_connector *c)
{
    return &((struct clb_paper *)c)->tracker;
}

static void paper_status(struct clb_connector *c, struct clb_connector_status *out)
{
    struct clb_paper *p = (struct clb_paper *)c;
    bool books = p->n_markets > 0;
    for (uint32_t i = 0; i < p->n_markets; i++)
        books = books && p->markets[i].book.bids.n > 0 && p->markets[i].book.asks.n > 0;
    *out = (struct clb_connector_status){ .symbols_mapped = p->n_markets > 0,
                                          .order_books_ready = books,
                                          .balances_ready = true,
                                          .trading_rules_ready = p->n_markets > 0,
                                          .user_stream_ready = true };
}

static void paper_destroy_op(struct clb_connector *c)
{
    clb_paper_destroy((struct clb_paper *)c);
}

static const struct clb_connector_ops paper_ops = {
    .type = "paper",
    .place = paper_place,
    .cancel = paper_cancel,
    .book = paper_book,
    .rules = paper_rules,
    .balance = paper_balance,
    .fees = paper_fees,
    .tracker = paper_tracker,
    .status = paper_status,
    .destroy = paper_destroy_op,
};

/* The connector ticks before strategies: deliver due requests, evict old
 * finished orders. */
static int paper_tick(struct clb_time_iterator *it, int64_t now_ns)
{
    struct clb_paper *p = (struct clb_paper *)it;
    clb_paper_advance(p, now_ns);
    clb_tracker_tick(&p->tracker, p->now_ns);
    return CLB_OK;
}

static const struct clb_time_iterator_ops paper_it_ops = { .name = "paper", .tick = paper_tick };

/* ---- lifecycle ----------------------------------------------------------- */

static int32_t to_ppm(double fee)
{
    return (int32_t)llround(fee * 1e6);
}

int clb_paper_create(const struct clb_paper_config *cfg, struct clb_paper **out)
{
    if (!cfg || !cfg->bus || !out || !(cfg->maker_fee >= 0 && cfg->maker_fee < 1) ||
        !(cfg->taker_fee >= 0 && cfg->taker_fee < 1) || cfg->order_latency_ns < 0 ||
        cfg->cancel_latency_ns < 0 || !(cfg->queue_power >= 0) || cfg->book_levels == 0 ||
        cfg->max_orders == 0 || cfg->trade_id_base > UINT64_MAX / 2 ||
        cfg->nonce_base > UINT64_MAX / 2)
        return CLB_EINVAL;
    const char *prefix = cfg->client_id_prefix ? cfg->client_id_prefix : "clb-";
    if (strlen(prefix) >= 16)
        return CLB_EINVAL;
    struct clb_paper *p = calloc(1, sizeof(*p));
    if (!p)
        return CLB_ENOMEM;
    int rc = CLB_ENOMEM;
    p->cfg = *cfg;
    snprintf(p->prefix, sizeof(p->prefix), "%s", prefix);
    clb_time_iterator_init(&p->base.it, &paper_it_ops);
    p->base.ops = &paper_ops;
    p->base.bus = cfg->bus;
    snprintf(p->base.name, sizeof(p->base.name), "%s", cfg->name ? cfg->name : "paper");
    p->next_due_ns = INT64_MAX;
    p->nonce = cfg->nonce_base;
    p->pq = calloc(PAPER_MAX_PENDING, sizeof(*p->pq));
    if (!p->pq)
        goto fail;
    if ((rc = clb_ledger_init(&p->ledger, 1, PAPER_MAX_ASSETS)) != CLB_OK)
        goto fail;
    if ((rc = clb_ledger_add_account(&p->ledger, &p->account)) != CLB_OK)
        goto fail_ledger;
    struct clb_matcher_config mc;
    clb_matcher_config_default(&mc);
    mc.max_markets = PAPER_MAX_MARKETS;
    mc.max_orders = cfg->max_orders;
    mc.max_levels = 1024;
    mc.fee_account = CLB_LEDGER_EXTERNAL;
    mc.queue_power = cfg->queue_power;
    mc.maker_fee_ppm = to_ppm(cfg->maker_fee);
    mc.taker_fee_ppm = to_ppm(cfg->taker_fee);
    struct clb_matcher_listener ml = { .on_fill = on_engine_fill, .on_order = on_engine_order,
                                       .ud = p };
    if ((rc = clb_matcher_init(&p->mx, &p->ledger, &mc, &ml)) != CLB_OK)
        goto fail_ledger;
    struct clb_tracker_config tc;
    clb_tracker_config_defaults(&tc);
    tc.max_orders = cfg->max_orders;
    tc.bus = cfg->bus;
    tc.source = p->base.name;
    if ((rc = clb_tracker_init(&p->tracker, &tc)) != CLB_OK)
        goto fail_matcher;
    *out = p;
    return CLB_OK;

fail_matcher:
    clb_matcher_deinit(&p->mx);
fail_ledger:
    clb_ledger_deinit(&p->ledger);
fail:
    free(p->pq);
    free(p);
    return rc;
}

void clb_paper_destroy(struct clb_paper *p)
{
    if (!p)
        return;
    for (uint32_t i = 0; i < p->n_markets; i++)
        clb_book_deinit(&p->markets[i].book);
    clb_tracker_deinit(&p->tracker);
    clb_matcher_deinit(&p->mx);
    clb_ledger_deinit(&p->ledger);
    free(p->pq);
    free(p);
}

struct clb_connector *clb_paper_connector(struct clb_paper *p)
{
    return &p->base;
}

static int asset_for(struct clb_paper *p, const char *name, int scale, uint32_t *id)
{
    if (clb_ledger_find_asset(&p->ledger, name, id) == CLB_OK)
        return clb_ledger_asset_scale(&p->ledger, *id) >= scale ? CLB_OK : CLB_EPRECISION;
    return clb_ledger_add_asset(&p->ledger, name, scale, id);
}

int clb_paper_add_market(struct clb_paper *p, const struct clb_market_rules *rules,
                         uint32_t *market)
{
    if (!rules || rules->symbol[0] == '\0')
        return CLB_EINVAL;
    if (find_market(p, rules->symbol, NULL))
        return CLB_EEXIST;
    if (p->n_markets == PAPER_MAX_MARKETS)
        return CLB_EFULL;
    struct paper_market *m = &p->markets[p->n_markets];
    memset(m, 0, sizeof(*m));
    m->rules = *rules;
    /* Balances are kept to at least 8 decimals, like the exchange's own
     * commission precision, and always exactly enough for price * qty. */
    int base_scale = rules->qty_scale > PAPER_MIN_ASSET_SCALE ? rules->qty_scale
                                                              : PAPER_MIN_ASSET_SCALE;
    int quote_scale = rules->price_scale + rules->qty_scale;
    if (quote_scale < PAPER_MIN_ASSET_SCALE)
        quote_scale = PAPER_MIN_ASSET_SCALE;
    int rc = asset_for(p, rules->base, base_scale, &m->base_asset);
    if (rc == CLB_OK)
        rc = asset_for(p, rules->quote, quote_scale, &m->quote_asset);
    if (rc != CLB_OK)
        return rc;
    struct clb_matcher_market mm;
    if ((rc = clb_matcher_market_from_rules(rules, m->base_asset, m->quote_asset, &mm)) != CLB_OK)
        return rc;
    if ((rc = clb_book_init(&m->book, p->cfg.book_levels)) != CLB_OK)
        return rc;
    if ((rc = clb_matcher_add_market(&p->mx, &mm, &m->mx_market)) != CLB_OK ||
        (rc = clb_matcher_attach_book(&p->mx, m->mx_market, &m->book)) != CLB_OK) {
        clb_book_deinit(&m->book);
        return rc;
    }
    if (market)
        *market = p->n_markets;
    p->n_markets++;
    return CLB_OK;
}

int clb_paper_deposit(struct clb_paper *p, const char *asset, clb_dec amount)
{
    uint32_t id;
    if (!asset || clb_ledger_find_asset(&p->ledger, asset, &id) != CLB_OK)
        return CLB_EINVAL;
    int64_t v;
    int rc = clb_dec_to_scaled(amount, clb_ledger_asset_scale(&p->ledger, id), &v);
    if (rc != CLB_OK)
        return rc == CLB_EPRECISION ? CLB_EINVAL : rc;
    return clb_ledger_deposit(&p->ledger, p->account, id, v);
}

void clb_paper_stats(const struct clb_paper *p, struct clb_paper_stats *out)
{
    *out = p->stats;
}

const struct clb_order_book *clb_paper_book(const struct clb_paper *p, uint32_t market)
{
    return market < p->n_markets ? &p->markets[market].book : NULL;
}
