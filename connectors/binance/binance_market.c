/*
 * binance_market.c — the Binance connector's market data: one combined
 * market-stream connection (<symbol>@depth@100ms and <symbol>@trade for
 * every market), parsed by the zero-copy parser (binance_md.h) into each
 * market's book sync (binance_book_sync.h: buffer, snapshot, drop old,
 * apply, resync on any gap), REST depth snapshots when the sync asks for
 * one, and snapshot polling every snapshot_poll_ms while the stream is down.
 *
 * Each applied diff is published as a CLB_EV_BOOK_DIFF event and each trade
 * as CLB_EV_TRADE, on the connector's bus. While a frame is being handled,
 * b->frame_recv_ns holds the time it was read off the socket: an order a
 * listener places from inside these events carries it, and the request's
 * write time closes the tick-to-order measurement (binance.c).
 *
 * Warm path: while the stream is quiet, every MARKET_WARM_MS the market
 * stream's on_warm parses a canned depthUpdate of each synced market and
 * runs it through the book sync's scratch book (binance_md.h,
 * binance_book_sync.h: nothing real changes, nothing is published). On a
 * shared VM the caches forget the frame path within a few ms, and Binance's
 * 100 ms depth ticks then found it cold: parse and apply cost 3-10x their
 * warm time at the start of every tick.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binance_internal.h"
#include "error.h"
#include "http_client.h"
#include "netloop.h"
#include "ws_client.h"

#define NS_PER_MS INT64_C(1000000)
#define MARKET_WARM_MS 1 /* quiet time after which the frame path is warmed */

static struct bn_market *market_of_md(struct clb_binance *b, int md_index)
{
    for (uint32_t i = 0; i < b->n_markets; i++)
        if (b->markets[i].md_index == md_index && md_index >= 0)
            return &b->markets[i];
    return NULL;
}

bool bn_books_ready(const struct clb_binance *b)
{
    if (b->n_markets == 0)
        return false;
    for (uint32_t i = 0; i < b->n_markets; i++)
        if (!b->markets[i].rules_ok || !clb_binance_book_sync_in_sync(&b->markets[i].sync))
            return false;
    return true;
}

static void publish_book(struct clb_binance *b, struct bn_market *m, uint64_t first,
                         uint64_t last, const struct clb_level *bids, size_t nb,
                         const struct clb_level *asks, size_t na, bool snapshot)
{
    struct clb_event ev = {
        .type = CLB_EV_BOOK_DIFF,
        .ts_ns = bn_wall_ns(),
        .source = b->base.name,
        .u.book = { .market = m->rules.symbol, .first_update_id = first,
                    .last_update_id = last, .bids = bids, .n_bids = nb, .asks = asks,
                    .n_asks = na, .snapshot = snapshot },
    };
    clb_event_publish(b->base.bus, &ev);
}

/* The whole book as one snapshot event (after a sync). */
static void publish_whole_book(struct clb_binance *b, struct bn_market *m)
{
    const struct clb_order_book *bk = &m->sync.book;
    publish_book(b, m, 0, bk->update_id, bk->bids.lv, bk->bids.n, bk->asks.lv, bk->asks.n, true);
}

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                 */

static void request_snapshot(struct clb_binance *b, uint32_t mi)
{
    struct bn_market *m = &b->markets[mi];
    struct clb_bn_cost cost = clb_bn_endpoint_cost(CLB_BN_EP_DEPTH, (int)b->cfg.snapshot_limit);
    struct bn_req *rq = bn_req_new(b, BN_RQ_DEPTH, "GET", "/api/v3/depth", false, cost.weight);
    if (!rq)
        return;
    rq->market = mi;
    snprintf(rq->params, sizeof(rq->params), "symbol=%s&limit=%u", m->xsym,
             b->cfg.snapshot_limit);
    m->snapshot_inflight = true;
    clb_binance_book_sync_snapshot_requested(&m->sync);
    if (bn_req_submit(b, rq) != CLB_OK) {
        m->snapshot_inflight = false;
        clb_binance_book_sync_snapshot_failed(&m->sync);
    }
}

void bn_market_on_depth_snapshot(struct clb_binance *b, struct bn_req *rq,
                                 const struct clb_http_resp *r)
{
    struct bn_market *m = &b->markets[rq->market];
    m->snapshot_inflight = false;
    int64_t now = bn_mono_ns();
    struct clb_binance_md_snapshot snap;
    if (r->rc != CLB_OK || r->status != 200 || m->md_index < 0 ||
        clb_binance_md_parse_snapshot(&b->md, m->md_index, r->body, r->body_len, &snap) !=
            CLB_OK) {
        if (r->status == 200)
            b->stats.bad_messages++;
        clb_binance_book_sync_snapshot_failed(&m->sync);
        m->next_snapshot_ns = now + 1000 * NS_PER_MS;
        return;
    }
    int rc = clb_binance_book_sync_apply_snapshot(&m->sync, snap.last_update_id, snap.bids,
                                                  snap.n_bids, snap.asks, snap.n_asks);
    if (rc == CLB_OK) {
        b->stats.snapshots++;
        publish_whole_book(b, m);
        if (!b->market_up)
            m->next_snapshot_ns = now + b->cfg.snapshot_poll_ms * NS_PER_MS;
        return;
    }
    /* too old for the buffered diffs, or refused: ask again shortly (the
     * sync says so through needs_snapshot) */
    m->next_snapshot_ns = now + (rc == CLB_ESTALE ? 200 : 1000) * NS_PER_MS;
}

/* ------------------------------------------------------------------------ */
/* The market stream                                                         */

static void on_depth(struct clb_binance *b, struct bn_market *m, const struct clb_binance_md_msg *msg)
{
    const struct clb_binance_md_depth *d = &msg->u.depth;
    b->stats.depth_msgs++;
    bool was_synced = m->sync.state == CLB_BOOK_SYNC_SYNCED;
    int rc = clb_binance_book_sync_on_depth(&m->sync, d);
    if (rc == CLB_OK) {
        if (m->sync.state == CLB_BOOK_SYNC_SYNCED)
            publish_book(b, m, d->first_update_id, d->last_update_id, d->bids, d->n_bids,
                         d->asks, d->n_asks, false);
        return;
    }
    if (rc == CLB_EGAP || rc == CLB_EINVAL || rc == CLB_ERANGE) {
        if (was_synced || rc == CLB_ERANGE)
            b->stats.book_resyncs++;
        m->next_snapshot_ns = 0;
    }
}

static void on_trade(struct clb_binance *b, struct bn_market *m, const struct clb_binance_md_msg *msg)
{
    const struct clb_binance_md_trade *t = &msg->u.trade;
    struct clb_event ev = {
        .type = CLB_EV_TRADE,
        .ts_ns = bn_wall_ns(),
        .source = b->base.name,
        .u.trade = { .market = m->rules.symbol, .price = t->price, .qty = t->qty,
                     .taker_side = t->buyer_is_maker ? CLB_SIDE_SELL : CLB_SIDE_BUY,
                     .trade_id = t->trade_id },
    };
    clb_event_publish(b->base.bus, &ev);
}

static void market_on_message(void *ud, const char *data, size_t len, int64_t recv_mono_ns)
{
    struct clb_binance *b = ud;
    struct clb_binance_md_msg msg;
    int rc = clb_binance_md_parse(&b->md, data, len, &msg);
    if (rc != CLB_OK) {
        if (rc != CLB_ENOTFOUND) /* a market whose rules are not known yet */
            b->stats.bad_messages++;
        return;
    }
    if (msg.type == CLB_BINANCE_MD_OTHER) {
        if (strcmp(msg.event, "serverShutdown") == 0) {
            b->stats.server_shutdowns++;
            clb_ws_reconnect(b->mws);
        }
        return;
    }
    struct bn_market *m = market_of_md(b, msg.market);
    if (!m)
        return;
    b->frame_recv_ns = recv_mono_ns;
    if (msg.type == CLB_BINANCE_MD_DEPTH)
        on_depth(b, m, &msg);
    else if (msg.type == CLB_BINANCE_MD_TRADE)
        on_trade(b, m, &msg);
    b->frame_recv_ns = 0;
}

static void market_on_warm(void *ud)
{
    struct clb_binance *b = ud;
    for (uint32_t i = 0; i < b->n_markets; i++) {
        struct bn_market *m = &b->markets[i];
        struct clb_binance_md_msg msg;
        if (!m->rules_ok || m->md_index < 0 || m->sync.state != CLB_BOOK_SYNC_SYNCED ||
            clb_binance_md_warm(&b->md, m->md_index, &msg) != CLB_OK)
            continue;
        clb_binance_book_sync_warm(&m->sync, &msg.u.depth);
    }
    bn_warm_orders(b);
}

static void market_on_open(void *ud)
{
    struct clb_binance *b = ud;
    b->market_up = true;
    for (uint32_t i = 0; i < b->n_markets; i++) {
        struct bn_market *m = &b->markets[i];
        if (!m->rules_ok)
            continue;
        clb_binance_book_sync_stream_up(&m->sync);
        m->next_snapshot_ns = 0;
    }
}

static void market_on_close(void *ud, int code, const char *why)
{
    struct clb_binance *b = ud;
    (void)code, (void)why;
    if (!b->market_up)
        return; /* a failed reconnect attempt: polling is already on */
    b->stats.market_reconnects++;
    b->market_up = false;
    for (uint32_t i = 0; i < b->n_markets; i++) {
        struct bn_market *m = &b->markets[i];
        clb_binance_book_sync_stream_down(&m->sync);
        m->next_snapshot_ns = 0; /* poll at once */
    }
}

void bn_market_rules_loaded(struct clb_binance *b, uint32_t mi)
{
    struct bn_market *m = &b->markets[mi];
    int idx = -1;
    int rc = clb_binance_md_add_market(&b->md, m->xsym, m->rules.price_scale, m->rules.qty_scale,
                                       &idx);
    if (rc != CLB_OK && rc != CLB_EEXIST) {
        bn_log(b, CLB_LOG_ERROR, "%s: market-data parser refused the market: %s", m->rules.symbol,
               clb_err_name(rc));
        return;
    }
    if (rc == CLB_EEXIST)
        idx = clb_binance_md_find_market(&b->md, m->xsym, strlen(m->xsym));
    m->md_index = idx;
    m->next_snapshot_ns = 0;
    if (b->market_up)
        clb_binance_book_sync_stream_up(&m->sync);
}

void bn_market_service(struct clb_binance *b)
{
    int64_t now = bn_mono_ns();
    for (uint32_t i = 0; i < b->n_markets; i++) {
        struct bn_market *m = &b->markets[i];
        if (!m->rules_ok || m->md_index < 0 || m->snapshot_inflight || now < m->next_snapshot_ns)
            continue;
        if (b->market_up) {
            if (clb_binance_book_sync_needs_snapshot(&m->sync))
                request_snapshot(b, i);
        } else {
            /* stream down: poll snapshots */
            request_snapshot(b, i);
            m->next_snapshot_ns = now + b->cfg.snapshot_poll_ms * NS_PER_MS;
        }
    }
}

int bn_market_start(struct clb_binance *b)
{
    /* stream_url holds the base; the combined-stream path goes after it */
    size_t cap = sizeof(b->stream_url), n = strlen(b->stream_url);
    int w = snprintf(b->stream_url + n, cap - n, "/stream?streams=");
    if (w < 0 || (size_t)w >= cap - n)
        return CLB_ERANGE;
    n += (size_t)w;
    for (uint32_t i = 0; i < b->n_markets; i++) {
        w = snprintf(b->stream_url + n, cap - n, "%s%s@depth@100ms/%s@trade", i ? "/" : "",
                     b->markets[i].lower, b->markets[i].lower);
        if (w < 0 || (size_t)w >= cap - n)
            return CLB_ERANGE;
        n += (size_t)w;
    }
    struct clb_ws_client_config wc;
    clb_ws_client_config_default(&wc);
    wc.url = b->stream_url;
    wc.ping_interval_ms = 20000;
    wc.backoff_min_ms = 250;
    wc.backoff_max_ms = 30000;
    wc.max_age_ms = INT64_C(23) * 3600 * 1000; /* ahead of Binance's 24 h limit */
    wc.warm_interval_ms = MARKET_WARM_MS;
    struct clb_ws_handlers h = { .on_open = market_on_open, .on_message = market_on_message,
                                 .on_close = market_on_close, .on_warm = market_on_warm };
    return clb_ws_client_create(b->loop, &wc, &h, b, &b->mws);
}

void bn_market_stop(struct clb_binance *b)
{
    if (b->mws)
        clb_ws_client_destroy(b->mws);
    b->mws = NULL;
}
