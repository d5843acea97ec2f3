/*
 * binance_orders.c — the Binance connector's orders (see binance.h for the
 * rules they follow): place and cancel, the answers to create / cancel /
 * status / myTrades / openOrders requests, the periodic order service
 * (status queries of unresolved orders, cancel retries, REST polling), and
 * the user-data stream on the WebSocket API (whose connection also carries
 * the WS-API order requests: their answers go to binance.c, bn_ws_answer).
 *
 * Every piece of news becomes a tracker input (order_tracker.h), which
 * publishes the events; the tracker decides what is stale or duplicate.
 * Per-order connector state (requests in flight, due times) is struct
 * bn_oinfo, indexed like the tracker's pool.
 *
 * Re-entrancy: tracker inputs publish events, and a listener (a strategy)
 * may place or cancel from inside them. So nothing here iterates the
 * tracker while feeding it: the live client ids are copied first.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binance_internal.h"
#include "binance_msg.h"
#include "binance_sign.h"
#include "error.h"
#include "http_client.h"
#include "netloop.h"
#include "ws_client.h"

#define NS_PER_MS INT64_C(1000000)
#define MAX_FILLS 64
#define MAX_OPEN 1024
#define SERVICE_BUDGET 32 /* new order requests per service pass */
#define REQ_RESERVE 16    /* pool entries kept for cancels and queries */

/* What an answer says about the request's effect. */
enum outcome {
    OUT_OK,       /* 200 */
    OUT_REJECTED, /* a 4xx with a Binance error: nothing was done */
    OUT_UNKNOWN   /* no answer, timeout, 5xx: maybe done, maybe not */
};

static enum outcome outcome_of(const struct clb_http_resp *r)
{
    if (r->rc != CLB_OK || r->status == 0 || r->status >= 500)
        return OUT_UNKNOWN;
    if (r->status == 200)
        return OUT_OK;
    return OUT_REJECTED;
}

/* ------------------------------------------------------------------------ */
/* Quantization                                                              */

/* d rounded to a multiple of step counted from base (Binance's filters:
 * (value - min) % step == 0), with mode. */
static int quantize_from(clb_dec d, clb_dec base, clb_dec step, enum clb_round mode, clb_dec *out)
{
    clb_dec rel, q;
    int rc;
    if (clb_dec_sign(base) <= 0)
        return clb_dec_quantize(d, step, mode, out);
    if ((rc = clb_dec_sub(d, base, &rel)) != CLB_OK ||
        (rc = clb_dec_quantize(rel, step, mode, &q)) != CLB_OK ||
        (rc = clb_dec_add(q, base, out)) != CLB_OK)
        return rc;
    *out = clb_dec_normalize(*out);
    return CLB_OK;
}

/* The price and amount Binance will accept for req, or CLB_ERANGE when no
 * such order exists (below a minimum after rounding). */
static int quantize_order(const struct bn_market *m, const struct clb_order_request *req,
                          clb_dec *price, clb_dec *amount)
{
    const struct clb_market_rules *ru = &m->rules;
    int rc;
    clb_dec p = clb_dec_make(0, 0), a;
    if (req->type != CLB_ORDER_MARKET) {
        enum clb_round mode = req->side == CLB_SIDE_BUY ? CLB_ROUND_DOWN : CLB_ROUND_UP;
        if ((rc = quantize_from(req->price, m->min_price, ru->tick_size, mode, &p)) != CLB_OK)
            return rc == CLB_EINVAL ? CLB_ERANGE : rc;
        if (clb_dec_sign(m->min_price) > 0 && clb_dec_cmp(p, m->min_price) < 0) {
            if (req->side == CLB_SIDE_BUY)
                return CLB_ERANGE;
            p = m->min_price; /* a sell raised to the minimum price */
        }
        if (clb_dec_sign(m->max_price) > 0 && clb_dec_cmp(p, m->max_price) > 0) {
            if (req->side == CLB_SIDE_SELL)
                return CLB_ERANGE;
            /* a buy lowered to the highest price on the grid */
            if ((rc = quantize_from(m->max_price, m->min_price, ru->tick_size, CLB_ROUND_DOWN,
                                    &p)) != CLB_OK)
                return rc;
        }
        if (clb_dec_sign(p) <= 0)
            return CLB_ERANGE;
    }
    if (clb_dec_sign(req->amount) <= 0)
        return CLB_ERANGE;
    clb_dec amt = req->amount;
    if (clb_dec_sign(ru->max_qty) > 0 && clb_dec_cmp(amt, ru->max_qty) > 0)
        amt = ru->max_qty;
    if ((rc = quantize_from(amt, ru->min_qty, ru->step_size, CLB_ROUND_DOWN, &a)) != CLB_OK)
        return rc == CLB_EINVAL ? CLB_ERANGE : rc;
    if (clb_dec_sign(a) <= 0 || clb_dec_cmp(a, ru->min_qty) < 0)
        return CLB_ERANGE;
    clb_dec ref = p;
    if (req->type == CLB_ORDER_MARKET) {
        /* notional checked at the price it would trade at now */
        struct clb_level lv;
        bool have = req->side == CLB_SIDE_BUY ? clb_book_best_ask(&m->sync.book, &lv)
                                              : clb_book_best_bid(&m->sync.book, &lv);
        ref = have ? clb_dec_make(lv.price, ru->price_scale) : clb_dec_make(0, 0);
    }
    if (clb_dec_sign(ref) > 0) {
        clb_dec notional;
        if (clb_dec_mul(ref, a, &notional) != CLB_OK)
            return CLB_ERANGE;
        if (clb_dec_sign(ru->min_notional) > 0 && clb_dec_cmp(notional, ru->min_notional) < 0)
            return CLB_ERANGE;
        if (clb_dec_sign(m->max_notional) > 0 && clb_dec_cmp(notional, m->max_notional) > 0)
            return CLB_ERANGE;
    }
    *price = clb_dec_normalize(p);
    *amount = clb_dec_normalize(a);
    return CLB_OK;
}

/* ------------------------------------------------------------------------ */
/* Requests about one order                                                  */

/* Copies the NUL-terminated s into dst (cap bytes), cut to fit. */
static void copy_id(char *dst, size_t cap, const char *s)
{
    size_t n = strnlen(s, cap - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static int send_create(struct clb_binance *b, uint32_t mi, const char *cid, enum clb_side side,
                       enum clb_order_type type, clb_dec price, clb_dec amount)
{
    struct bn_req *rq = bn_req_new(b, BN_RQ_ORDER_NEW, "POST", "/api/v3/order", true, 1);
    if (!rq)
        return CLB_EFULL;
    rq->is_order = true;
    rq->market = mi;
    rq->frame_recv_ns = b->frame_recv_ns;
    copy_id(rq->client_id, sizeof(rq->client_id), cid);
    rq->has_order = true;
    rq->side = side;
    rq->type = type;
    rq->price = price;
    rq->amount = amount;
    /* params: made only if the request goes over REST (bn_create_params) */
    b->stats.orders_placed++;
    return bn_req_submit(b, rq);
}

/* A request about one order by its client id (DELETE or GET
 * /api/v3/order): counts it in *sent, marks *inflight and its next retry
 * time while it is out, clears *inflight again when it cannot be
 * submitted. Nothing happens when the request pool is full. */
static void send_by_client_id(struct clb_binance *b, enum bn_req_kind kind, const char *method,
                              int weight, const char *cid, struct bn_oinfo *oi, uint64_t *sent,
                              bool *inflight, int64_t *next_ns, int32_t retry_ms)
{
    struct bn_req *rq = bn_req_new(b, kind, method, "/api/v3/order", true, weight);
    if (!rq)
        return;
    (*sent)++;
    rq->market = oi->market;
    copy_id(rq->client_id, sizeof(rq->client_id), cid);
    size_t n = 0;
    BN_PUT_LIT(rq->params, sizeof(rq->params), &n, "symbol=");
    bn_put_s(rq->params, sizeof(rq->params), &n, b->markets[oi->market].xsym);
    BN_PUT_LIT(rq->params, sizeof(rq->params), &n, "&origClientOrderId=");
    bn_put_s(rq->params, sizeof(rq->params), &n, cid);
    /* NUL-terminated even on overflow (ids and symbols are far shorter) */
    rq->params[n < sizeof(rq->params) ? n : sizeof(rq->params) - 1] = '\0';
    *inflight = true;
    *next_ns = bn_mono_ns() + retry_ms * NS_PER_MS;
    if (bn_req_submit(b, rq) != CLB_OK)
        *inflight = false;
}

static void send_cancel(struct clb_binance *b, const char *cid, struct bn_oinfo *oi)
{
    send_by_client_id(b, BN_RQ_ORDER_CANCEL, "DELETE", 1, cid, oi, &b->stats.cancels_sent,
                      &oi->cancel_inflight, &oi->next_cancel_ns, b->cfg.cancel_retry_ms);
}

static void send_status(struct clb_binance *b, const char *cid, struct bn_oinfo *oi)
{
    send_by_client_id(b, BN_RQ_ORDER_STATUS, "GET", 4, cid, oi, &b->stats.status_queries,
                      &oi->status_inflight, &oi->next_status_ns, b->cfg.status_retry_ms);
}

static void send_trades(struct clb_binance *b, const struct clb_tracked_order *o,
                        struct bn_oinfo *oi)
{
    if (!o->exchange_order_id[0]) {
        oi->need_status = true; /* the order id comes with the status */
        return;
    }
    struct bn_req *rq = bn_req_new(b, BN_RQ_MY_TRADES, "GET", "/api/v3/myTrades", true, 5);
    if (!rq)
        return;
    rq->market = oi->market;
    snprintf(rq->client_id, sizeof(rq->client_id), "%s", o->client_order_id);
    snprintf(rq->params, sizeof(rq->params), "symbol=%s&orderId=%s&limit=1000",
             b->markets[oi->market].xsym, o->exchange_order_id);
    oi->trades_inflight = true;
    oi->next_trades_ns = bn_mono_ns() + b->cfg.status_retry_ms * NS_PER_MS;
    if (bn_req_submit(b, rq) != CLB_OK)
        oi->trades_inflight = false;
}

/* ------------------------------------------------------------------------ */
/* Connector ops                                                             */

/* The checks of a place (has_out: the caller has somewhere to put the
 * client id) and the order Binance would accept: its market index,
 * quantized price and amount. The codes bn_place returns, in its order. */
static int place_prepare(struct clb_binance *b, const struct clb_order_request *req,
                         bool has_out, uint32_t *mi, clb_dec *price, clb_dec *amount)
{
    struct bn_market *m = req && req->market ? bn_market_by_symbol(b, req->market, mi) : NULL;
    if (!m)
        return CLB_ENOTFOUND;
    if ((req->side != CLB_SIDE_BUY && req->side != CLB_SIDE_SELL) ||
        (req->type != CLB_ORDER_LIMIT && req->type != CLB_ORDER_LIMIT_MAKER &&
         req->type != CLB_ORDER_MARKET) || !has_out)
        return CLB_EINVAL;
    if (!m->rules_ok || !b->time_ok)
        return CLB_ENOTREADY;
    return quantize_order(m, req, price, amount);
}

/* The next nonce: wall-clock microseconds, past last. */
static uint64_t next_nonce(uint64_t last)
{
    uint64_t us = (uint64_t)(bn_wall_ns() / 1000);
    return us > last ? us : last + 1;
}

int bn_warm_place(struct clb_binance *b, struct bn_req *rq)
{
    const struct bn_market *m = &b->markets[0];
    struct clb_level bid;
    if (b->n_markets == 0 || !m->rules_ok || !clb_book_best_bid(&m->sync.book, &bid))
        return CLB_ENOTREADY;
    /* a small LIMIT_MAKER buy at the best bid, as a strategy would size it */
    struct clb_order_request req = { .market = m->rules.symbol, .side = CLB_SIDE_BUY,
                                     .type = CLB_ORDER_LIMIT_MAKER,
                                     .price = clb_dec_make(bid.price, m->rules.price_scale) };
    clb_dec notional = clb_dec_sign(m->rules.min_notional) > 0 ? m->rules.min_notional
                                                               : clb_dec_make(10, 0);
    if (clb_dec_div(notional, req.price, m->rules.qty_scale, CLB_ROUND_UP, &req.amount) !=
        CLB_OK)
        return CLB_ERANGE;
    uint32_t mi;
    clb_dec price, amount;
    int rc = place_prepare(b, &req, true, &mi, &price, &amount);
    if (rc != CLB_OK)
        return rc;
    char cid[CLB_CLIENT_ID_MAX];
    rc = clb_tracker_make_client_id(cid, sizeof(cid), b->prefix, req.side, req.market,
                                    next_nonce(b->nonce), b->cfg.instance);
    if (rc < 0)
        return rc;
    clb_tracker_get(&b->tracker, cid); /* not tracked: hash and map probe only */
    rq->kind = BN_RQ_ORDER_NEW;
    rq->market = mi;
    copy_id(rq->client_id, sizeof(rq->client_id), cid);
    rq->has_order = true;
    rq->side = req.side;
    rq->type = req.type;
    rq->price = price;
    rq->amount = amount;
    return CLB_OK;
}

int bn_place(struct clb_connector *c, const struct clb_order_request *req,
             char client_id[CLB_CLIENT_ID_MAX])
{
    struct clb_binance *b = (struct clb_binance *)c;
    uint32_t mi;
    clb_dec price, amount;
    int rc = place_prepare(b, req, client_id != NULL, &mi, &price, &amount);
    if (rc != CLB_OK)
        return rc;
    if (bn_reqs_free(b) <= REQ_RESERVE)
        return CLB_EFULL;
    b->nonce = next_nonce(b->nonce);
    char cid[CLB_CLIENT_ID_MAX];
    rc = clb_tracker_make_client_id(cid, sizeof(cid), b->prefix, req->side, req->market,
                                    b->nonce, b->cfg.instance);
    if (rc < 0)
        return rc;
    struct clb_order_params op = { .client_order_id = cid, .market = req->market,
                                   .side = req->side, .type = req->type, .price = price,
                                   .amount = amount };
    if ((rc = clb_tracker_start_tracking(&b->tracker, &op, bn_wall_ns())) != CLB_OK)
        return rc;
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
    struct bn_oinfo *oi = bn_oinfo_of(b, o);
    if (oi) {
        oi->create_pending = true;
        oi->market = mi;
    }
    memcpy(client_id, cid, sizeof(cid));
    rc = send_create(b, mi, cid, req->side, req->type, price, amount);
    if (rc != CLB_OK) {
        /* nothing left the process: a definite failure */
        if (oi)
            oi->create_pending = false;
        clb_tracker_on_create_failed(&b->tracker, cid, true, rc, bn_wall_ns());
        return rc;
    }
    return CLB_OK;
}

int bn_cancel(struct clb_connector *c, const char *market, const char *client_id)
{
    struct clb_binance *b = (struct clb_binance *)c;
    (void)market;
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, client_id);
    if (!o)
        return CLB_ENOTFOUND;
    if (clb_order_state_is_terminal(o->state) || o->exchange_filled)
        return CLB_ESTATE;
    struct bn_oinfo *oi = bn_oinfo_of(b, o);
    if (o->state == CLB_ORDER_PENDING_CANCEL)
        return CLB_OK; /* already being cancelled; retried until confirmed */
    int rc = clb_tracker_on_cancel_requested(&b->tracker, client_id, bn_wall_ns());
    if (rc != CLB_OK)
        return rc;
    o = clb_tracker_get(&b->tracker, client_id);
    if (!o || !oi || clb_order_state_is_terminal(o->state))
        return CLB_OK;
    if (oi->create_pending || (!o->confirmed && o->creation_outcome_unknown)) {
        /* sent once the create is answered / the status resolves it */
        oi->cancel_wanted = true;
        return CLB_OK;
    }
    if (!oi->cancel_inflight)
        send_cancel(b, o->client_order_id, oi);
    return CLB_OK;
}

/* ------------------------------------------------------------------------ */
/* Answers                                                                   */

static int reason_of(int code, int status)
{
    switch (code) {
    case -1013: /* filter failure */
        return CLB_ERANGE;
    case -1003:
    case -1015: /* rate limits */
        return CLB_EFULL;
    case -1021:
        return CLB_ETIMEDOUT;
    case -2010: /* rejected: balance, would take, duplicate */
    default:
        return status == 429 || status == 418 ? CLB_EFULL : CLB_EINVAL;
    }
}

static void apply_fill(struct clb_binance *b, const char *cid, const char *trade_id,
                       clb_dec price, clb_dec qty, clb_dec fee, const char *fee_asset,
                       bool maker)
{
    struct clb_fill f = { .trade_id = trade_id, .price = price, .amount = qty, .fee = fee,
                          .fee_asset = fee_asset && *fee_asset ? fee_asset : NULL,
                          .is_maker = maker };
    if (clb_dec_sign(fee) == 0)
        f.fee_asset = f.fee_asset ? f.fee_asset : NULL;
    int rc = clb_tracker_on_fill(&b->tracker, cid, &f, bn_wall_ns());
    if (rc == CLB_OK)
        b->stats.fills++;
    else if (rc == CLB_EDUPLICATE)
        b->stats.fill_duplicates++;
    else {
        char p1[CLB_DEC_STRLEN], p2[CLB_DEC_STRLEN], p3[CLB_DEC_STRLEN];
        clb_dec_format(price, p1, sizeof(p1));
        clb_dec_format(qty, p2, sizeof(p2));
        clb_dec_format(fee, p3, sizeof(p3));
        bn_log(b, CLB_LOG_ERROR,
               "fill %s of %s (%s @ %s, fee %s %s) refused: %s", trade_id, cid, p2, p1, p3,
               fee_asset ? fee_asset : "-", clb_err_name(rc));
    }
}

/* After a status / stream report with cumulative quantity cum: fetch the
 * trades when our fills do not cover it. */
static void want_trades_if_behind(struct clb_binance *b, const char *cid, clb_dec cum)
{
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
    if (o && clb_dec_cmp(cum, o->executed_base) > 0) {
        struct bn_oinfo *oi = bn_oinfo_of(b, o);
        if (oi)
            oi->need_trades = true;
    }
}

/* An adopted order (restored, or found unknown) the exchange shows live:
 * cancelled once, when cancel_orphans asks for it. */
static void cancel_if_adopted(struct clb_binance *b, const char *cid)
{
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
    struct bn_oinfo *oi = bn_oinfo_of(b, o);
    if (!o || !oi || !oi->adopted || !o->confirmed || o->exchange_filled ||
        clb_order_state_is_terminal(o->state))
        return;
    oi->adopted = false;
    bn_cancel(&b->base, o->market, cid);
}

static void after_create_answer(struct clb_binance *b, const char *cid)
{
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
    struct bn_oinfo *oi = bn_oinfo_of(b, o);
    if (!o || !oi || !oi->cancel_wanted || clb_order_state_is_terminal(o->state))
        return;
    if (o->confirmed) {
        oi->cancel_wanted = false;
        if (!oi->cancel_inflight)
            send_cancel(b, cid, oi);
    }
}

static void on_create(struct clb_binance *b, struct bn_req *rq, const struct clb_http_resp *r,
                      int code)
{
    const char *cid = rq->client_id;
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
    struct bn_oinfo *oi = bn_oinfo_of(b, o);
    int64_t now = bn_wall_ns();
    if (oi) {
        oi->create_pending = false;
        oi->create_ts_ms = rq->timestamp_ms;
    }
    switch (outcome_of(r)) {
    case OUT_OK: {
        struct clb_bn_order ord;
        struct clb_bn_fill fills[MAX_FILLS];
        size_t nf = 0;
        char err[160];
        if (clb_bn_parse_order(r->body, r->body_len, &ord, fills, MAX_FILLS, &nf, err,
                               sizeof(err)) != CLB_OK) {
            /* accepted, but unreadable: resolve by status like a timeout */
            b->stats.bad_messages++;
            clb_tracker_on_create_failed(&b->tracker, cid, false, CLB_EPARSE, now);
            if (oi)
                oi->need_status = true;
            break;
        }
        clb_tracker_on_created(&b->tracker, cid, ord.order_id, now);
        for (size_t i = 0; i < nf; i++)
            apply_fill(b, cid, fills[i].trade_id, fills[i].price, fills[i].qty,
                       fills[i].commission, fills[i].commission_asset, false);
        if (ord.has_details && clb_bn_order_status_is_final(ord.status)) {
            clb_tracker_on_status(&b->tracker, cid, clb_bn_xorder_status(ord.status),
                                  ord.order_id, ord.executed_qty, now);
            want_trades_if_behind(b, cid, ord.executed_qty);
        } else if (ord.has_details && nf < ord.n_fills_total) {
            want_trades_if_behind(b, cid, ord.executed_qty);
        }
        break;
    }
    case OUT_REJECTED:
        if (code == -1021 && oi && oi->time_retries < 2) {
            /* refused for its timestamp: certainly not on the book, so the
             * same order (same client id) goes again once the clock is
             * resynced; it stays PENDING_CREATE meanwhile */
            oi->time_retries++;
            oi->resend_create = true;
            oi->create_pending = true;
            bn_log(b, CLB_LOG_WARN,
                   "order %s refused for its timestamp: re-sent after the clock resync", cid);
            return;
        }
        b->stats.orders_rejected++;
        bn_log(b, CLB_LOG_WARN, "order %s rejected: HTTP %d %.*s", cid, r->status,
               (int)(r->body_len < 200 ? r->body_len : 200), r->body ? r->body : "");
        clb_tracker_on_create_failed(&b->tracker, cid, true, reason_of(code, r->status), now);
        break;
    case OUT_UNKNOWN:
        b->stats.orders_unknown++;
        clb_tracker_on_create_failed(&b->tracker, cid, false, CLB_ETIMEDOUT, now);
        if (oi) {
            /* The exchange refuses a request older than its recvWindow: ask
             * once that has passed, so a "does not exist" is final. */
            int64_t wait_ms = rq->timestamp_ms + b->cfg.recv_window_ms + 1000 - bn_server_ms(b);
            oi->next_status_ns = bn_mono_ns() + (wait_ms > 0 ? wait_ms : 0) * NS_PER_MS;
            oi->need_status = true;
        }
        break;
    }
    after_create_answer(b, cid);
}

static void on_cancel_answer(struct clb_binance *b, struct bn_req *rq,
                             const struct clb_http_resp *r, int code)
{
    const char *cid = rq->client_id;
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
    struct bn_oinfo *oi = bn_oinfo_of(b, o);
    if (!o || !oi)
        return;
    oi->cancel_inflight = false;
    int64_t now = bn_wall_ns();
    switch (outcome_of(r)) {
    case OUT_OK: {
        struct clb_bn_order ord;
        if (clb_bn_parse_order(r->body, r->body_len, &ord, NULL, 0, NULL, NULL, 0) != CLB_OK) {
            b->stats.bad_messages++;
            oi->need_status = true;
            break;
        }
        if (ord.has_details && ord.status != CLB_BN_ST_CANCELED &&
            ord.status != CLB_BN_ST_EXPIRED) {
            oi->need_status = true;
            break;
        }
        if (!o->exchange_order_id[0])
            clb_tracker_on_created(&b->tracker, cid, ord.order_id, now);
        if (ord.has_details) {
            /* as a status: the executed quantity it reports keeps the
             * order tracked until its trades are in (order_tracker.h) */
            clb_tracker_on_status(&b->tracker, cid, clb_bn_xorder_status(ord.status),
                                  ord.order_id, ord.executed_qty, now);
            want_trades_if_behind(b, cid, ord.executed_qty);
        } else {
            clb_tracker_on_cancelled(&b->tracker, cid, now);
        }
        break;
    }
    case OUT_REJECTED:
        if (code == -2011) {
            /* "Unknown order sent": not proof of anything. Ask. */
            b->stats.cancel_unknown++;
            oi->need_status = true;
            oi->next_status_ns = 0;
        }
        /* other refusals (rate limit, clock): the cancel is retried */
        break;
    case OUT_UNKNOWN:
        oi->need_status = true;
        break;
    }
}

static void on_status_answer(struct clb_binance *b, struct bn_req *rq,
                             const struct clb_http_resp *r, int code)
{
    const char *cid = rq->client_id;
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
    struct bn_oinfo *oi = bn_oinfo_of(b, o);
    if (!o || !oi)
        return;
    oi->status_inflight = false;
    int64_t now = bn_wall_ns();
    enum outcome oc = outcome_of(r);
    if (oc == OUT_OK) {
        struct clb_bn_order ord;
        char err[160];
        if (clb_bn_parse_order(r->body, r->body_len, &ord, NULL, 0, NULL, err, sizeof(err)) !=
                CLB_OK ||
            !ord.has_details) {
            b->stats.bad_messages++;
            return;
        }
        oi->need_status = false;
        clb_tracker_on_status(&b->tracker, cid, clb_bn_xorder_status(ord.status), ord.order_id,
                              ord.executed_qty, now);
        want_trades_if_behind(b, cid, ord.executed_qty);
        after_create_answer(b, cid);
        cancel_if_adopted(b, cid);
        return;
    }
    if (oc == OUT_REJECTED && code == -2013) {
        /* definite: the exchange has no such order */
        b->stats.not_found++;
        oi->need_status = true;
        int rc = clb_tracker_on_not_found(&b->tracker, cid, now);
        o = clb_tracker_get(&b->tracker, cid);
        if (rc == CLB_OK && o && o->lost) {
            b->stats.orders_lost++;
            oi->need_status = false;
        } else if (o && clb_order_state_is_terminal(o->state)) {
            oi->need_status = false;
        }
        return;
    }
    oi->need_status = true; /* ask again later */
}

static void on_trades_answer(struct clb_binance *b, struct bn_req *rq,
                             const struct clb_http_resp *r)
{
    const char *cid = rq->client_id;
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
    struct bn_oinfo *oi = bn_oinfo_of(b, o);
    if (oi)
        oi->trades_inflight = false;
    if (!o || outcome_of(r) != OUT_OK)
        return;
    static const size_t cap = 1000;
    struct clb_bn_trade *t = malloc(cap * sizeof(*t));
    size_t n = 0;
    if (!t)
        return;
    char err[160];
    if (clb_bn_parse_my_trades(r->body, r->body_len, t, cap, &n, err, sizeof(err)) != CLB_OK) {
        b->stats.bad_messages++;
        free(t);
        return;
    }
    if (oi)
        oi->need_trades = false;
    for (size_t i = 0; i < n; i++) {
        if (o->exchange_order_id[0] && strcmp(t[i].order_id, o->exchange_order_id) != 0)
            continue;
        apply_fill(b, cid, t[i].trade_id, t[i].price, t[i].qty, t[i].commission,
                   t[i].commission_asset, t[i].is_maker);
        o = clb_tracker_get(&b->tracker, cid);
        if (!o)
            break;
    }
    free(t);
}

/* Tracks x, an order of ours the tracker does not know, from now on. Its
 * tracking start is news (the store records it). CLB_OK or the tracker's
 * refusal. */
static int adopt(struct clb_binance *b, uint32_t mi, const struct clb_bn_order *x,
                 const char *why, int64_t now)
{
    struct clb_order_params op = { .client_order_id = x->client_order_id,
                                   .market = b->markets[mi].rules.symbol,
                                   .side = x->side, .type = x->type, .price = x->price,
                                   .amount = x->orig_qty };
    int rc = clb_tracker_start_tracking(&b->tracker, &op, now);
    if (rc != CLB_OK) {
        bn_log(b, CLB_LOG_ERROR,
               "cannot adopt order %s (%s): %s", x->client_order_id, why, clb_err_name(rc));
        return rc;
    }
    b->stats.orphans_adopted++;
    bn_log(b, CLB_LOG_WARN, "adopted order %s (%s, %s)", x->client_order_id, why,
           clb_bn_order_status_name(x->status));
    struct bn_oinfo *oi = bn_oinfo_of(b, clb_tracker_get(&b->tracker, x->client_order_id));
    if (oi) {
        oi->market = mi;
        oi->adopted = b->cfg.cancel_orphans;
    }
    return CLB_OK;
}

/* The orders of a successful openOrders / allOrders answer (what names it
 * in the log), heap-allocated (free it), or NULL: no answer, a refused
 * body (counted as a bad message) or no memory. */
static struct clb_bn_order *order_list(struct clb_binance *b, const struct clb_http_resp *r,
                                       const char *what, size_t *n)
{
    if (outcome_of(r) != OUT_OK)
        return NULL;
    struct clb_bn_order *list = malloc(MAX_OPEN * sizeof(*list));
    if (!list)
        return NULL;
    char err[160];
    if (clb_bn_parse_open_orders(r->body, r->body_len, list, MAX_OPEN, n, err, sizeof(err)) !=
        CLB_OK) {
        b->stats.bad_messages++;
        bn_log(b, CLB_LOG_WARN, "%s refused: %s", what, err);
        free(list);
        return NULL;
    }
    return list;
}

/* Open orders of one market: confirm ours, adopt strangers carrying our
 * prefix, and query the status of every confirmed live order that is not
 * listed (filled or cancelled while we were not listening). */
static void on_open_orders(struct clb_binance *b, struct bn_req *rq,
                           const struct clb_http_resp *r)
{
    uint32_t mi = rq->market;
    b->open_inflight[mi] = false;
    size_t n = 0;
    struct clb_bn_order *list = order_list(b, r, "openOrders", &n);
    if (!list)
        return;
    b->stats.open_orders_polls++;
    int64_t now = bn_wall_ns();
    size_t plen = strlen(b->prefix);
    for (size_t i = 0; i < n; i++) {
        const struct clb_bn_order *x = &list[i];
        const char *cid = x->client_order_id;
        const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
        if (!o) {
            if (strncmp(cid, b->prefix, plen) != 0)
                continue; /* not ours */
            if (adopt(b, mi, x, "open, not tracked", now) != CLB_OK)
                continue;
        }
        clb_tracker_on_status(&b->tracker, cid, clb_bn_xorder_status(x->status), x->order_id,
                              x->executed_qty, now);
        want_trades_if_behind(b, cid, x->executed_qty);
        o = clb_tracker_get(&b->tracker, cid);
        struct bn_oinfo *oi = bn_oinfo_of(b, o);
        if (oi)
            oi->seen_open = b->open_epoch[mi];
        cancel_if_adopted(b, cid);
    }
    /* live confirmed orders of this market that the list did not show */
    uint32_t k = 0;
    for (const struct clb_tracked_order *o = clb_tracker_first(&b->tracker); o;
         o = clb_tracker_next(&b->tracker, o)) {
        if (clb_order_state_is_terminal(o->state) || !o->confirmed)
            continue;
        struct bn_oinfo *oi = bn_oinfo_of(b, o);
        if (!oi || oi->market != mi || oi->create_pending || oi->seen_open == b->open_epoch[mi])
            continue;
        /* confirmed after the list was made? its answer is newer than rq */
        if (o->updated_ns > rq->sent_wall_ns)
            continue;
        memcpy(b->scratch_ids + (size_t)k * CLB_CLIENT_ID_MAX, o->client_order_id,
               sizeof(o->client_order_id));
        k++;
    }
    for (uint32_t i = 0; i < k; i++) {
        const char *cid = b->scratch_ids + (size_t)i * CLB_CLIENT_ID_MAX;
        struct bn_oinfo *oi = bn_oinfo_of(b, clb_tracker_get(&b->tracker, cid));
        if (oi) {
            oi->need_status = true;
            oi->next_status_ns = 0;
        }
    }
    free(list);
}

/* ---- recovery --------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool is_known(const struct clb_binance *b, const char *cid)
{
    return b->n_known &&
           bsearch(cid, b->known, b->n_known, CLB_CLIENT_ID_MAX, cmp_id) != NULL;
}

int bn_orders_restore(struct clb_binance *b, const struct clb_binance_config *cfg)
{
    if (cfg->n_known) {
        b->known = calloc(cfg->n_known, CLB_CLIENT_ID_MAX);
        if (!b->known)
            return CLB_ENOMEM;
        for (size_t i = 0; i < cfg->n_known; i++)
            if (cfg->known_ids[i] && strlen(cfg->known_ids[i]) < CLB_CLIENT_ID_MAX)
                memcpy(b->known + b->n_known++ * CLB_CLIENT_ID_MAX, cfg->known_ids[i],
                       strlen(cfg->known_ids[i]) + 1);
        qsort(b->known, b->n_known, CLB_CLIENT_ID_MAX, cmp_id);
    }
    b->sweep_since_ms = cfg->adopt_since_ms;
    int64_t now = bn_wall_ns();
    for (size_t i = 0; i < cfg->n_restore; i++) {
        const struct clb_order_restore *r = &cfg->restore[i];
        const char *cid = r->params.client_order_id ? r->params.client_order_id : "";
        uint32_t mi;
        if (!r->params.market || !bn_market_by_symbol(b, r->params.market, &mi)) {
            bn_log(b, CLB_LOG_WARN,
                   "order %s of an earlier run not restored: market %s is not configured",
                   cid, r->params.market ? r->params.market : "(none)");
            continue;
        }
        int rc = clb_tracker_restore(&b->tracker, r, now);
        if (rc != CLB_OK) {
            bn_log(b, CLB_LOG_ERROR,
                   "order %s of an earlier run not restored: %s", cid, clb_err_name(rc));
            continue;
        }
        const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
        struct bn_oinfo *oi = bn_oinfo_of(b, o);
        b->stats.orders_restored++;
        if (!oi || clb_order_state_is_terminal(o->state))
            continue;
        oi->market = mi;
        oi->adopted = cfg->cancel_orphans;
        oi->need_status = true;
        /* a create sent just before the crash may still be accepted within
         * its recvWindow: ask once that has passed */
        oi->next_status_ns =
            o->confirmed ? 0
                         : bn_mono_ns() + (int64_t)(cfg->recv_window_ms + 1000) * NS_PER_MS;
    }
    if (b->stats.orders_restored)
        bn_log(b, CLB_LOG_INFO,
               "%" PRIu64 " live order(s) of an earlier run tracked again: their status is "
                  "queried", b->stats.orders_restored);
    return CLB_OK;
}

#define SWEEP_PAGE 1000
#define SWEEP_MAX_AGE_MS (23 * 3600 * INT64_C(1000)) /* allOrders looks 24 h back at most */

static void start_sweep(struct clb_binance *b, uint32_t mi)
{
    struct bn_req *rq = bn_req_new(b, BN_RQ_ALL_ORDERS, "GET", "/api/v3/allOrders", true, 20);
    if (!rq)
        return;
    rq->market = mi;
    if (b->sweep_from_id[mi]) {
        snprintf(rq->params, sizeof(rq->params), "symbol=%s&orderId=%" PRIu64 "&limit=%d",
                 b->markets[mi].xsym, b->sweep_from_id[mi], SWEEP_PAGE);
    } else {
        int64_t since = b->sweep_since_ms, oldest = bn_server_ms(b) - SWEEP_MAX_AGE_MS;
        if (since < oldest) {
            bn_log(b, CLB_LOG_WARN,
                   "recovery: orders older than 23 h (before %" PRId64 ") are not swept",
                   oldest);
            since = oldest;
        }
        snprintf(rq->params, sizeof(rq->params), "symbol=%s&startTime=%" PRId64 "&limit=%d",
                 b->markets[mi].xsym, since, SWEEP_PAGE);
    }
    b->sweep_inflight[mi] = true;
    b->next_sweep_ns[mi] = bn_mono_ns() + b->cfg.status_retry_ms * NS_PER_MS;
    if (bn_req_submit(b, rq) != CLB_OK)
        b->sweep_inflight[mi] = false;
}

/* A page of allOrders: adopt ours that nothing knows, whatever their state
 * (the store learns them, their fills are fetched); the next page follows. */
static void on_all_orders(struct clb_binance *b, struct bn_req *rq,
                          const struct clb_http_resp *r)
{
    uint32_t mi = rq->market;
    b->sweep_inflight[mi] = false;
    size_t n = 0;
    struct clb_bn_order *list = order_list(b, r, "allOrders", &n);
    if (!list)
        return; /* asked again at next_sweep_ns */
    b->stats.sweeps++;
    int64_t now = bn_wall_ns();
    size_t plen = strlen(b->prefix);
    uint64_t last = 0;
    for (size_t i = 0; i < n; i++) {
        const struct clb_bn_order *x = &list[i];
        const char *cid = x->client_order_id;
        char *end = NULL;
        unsigned long long id = strtoull(x->order_id, &end, 10);
        if (end && *end == '\0' && id > last)
            last = id;
        if (strncmp(cid, b->prefix, plen) != 0 || clb_tracker_get(&b->tracker, cid) ||
            is_known(b, cid))
            continue;
        if (adopt(b, mi, x, "not recorded before the restart", now) != CLB_OK)
            continue;
        clb_tracker_on_status(&b->tracker, cid, clb_bn_xorder_status(x->status), x->order_id,
                              x->executed_qty, now);
        want_trades_if_behind(b, cid, x->executed_qty);
        cancel_if_adopted(b, cid);
    }
    free(list);
    if (n >= SWEEP_PAGE && last > 0) {
        b->sweep_from_id[mi] = last + 1;
        b->next_sweep_ns[mi] = 0;
    } else {
        b->sweep_done[mi] = true;
    }
}

void bn_orders_on_response(struct clb_binance *b, struct bn_req *rq,
                           const struct clb_http_resp *r, int code)
{
    switch (rq->kind) {
    case BN_RQ_ORDER_NEW:
        on_create(b, rq, r, code);
        break;
    case BN_RQ_ORDER_CANCEL:
        on_cancel_answer(b, rq, r, code);
        break;
    case BN_RQ_ORDER_STATUS:
        on_status_answer(b, rq, r, code);
        break;
    case BN_RQ_MY_TRADES:
        on_trades_answer(b, rq, r);
        break;
    case BN_RQ_OPEN_ORDERS:
        on_open_orders(b, rq, r);
        break;
    case BN_RQ_ALL_ORDERS:
        on_all_orders(b, rq, r);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------------------ */
/* Periodic service                                                          */

static void start_open_orders(struct clb_binance *b, uint32_t mi)
{
    if (b->open_inflight[mi])
        return;
    struct bn_req *rq = bn_req_new(b, BN_RQ_OPEN_ORDERS, "GET", "/api/v3/openOrders", true, 6);
    if (!rq)
        return;
    rq->market = mi;
    snprintf(rq->params, sizeof(rq->params), "symbol=%s", b->markets[mi].xsym);
    b->open_inflight[mi] = true;
    b->open_epoch[mi]++;
    if (bn_req_submit(b, rq) != CLB_OK)
        b->open_inflight[mi] = false;
}

void bn_orders_service(struct clb_binance *b)
{
    int64_t now = bn_mono_ns();
    /* REST polling: fast while the user stream is down, slow otherwise */
    if (now >= b->next_poll_ns || b->reconcile_wanted) {
        bool all_rules = true;
        for (uint32_t i = 0; i < b->n_markets; i++)
            all_rules = all_rules && b->markets[i].rules_ok;
        if (all_rules && bn_reqs_free(b) > REQ_RESERVE * 2) {
            for (uint32_t i = 0; i < b->n_markets; i++)
                start_open_orders(b, i);
            b->reconcile_wanted = false;
            b->next_poll_ns = now + (b->user_subscribed ? b->cfg.poll_slow_ms
                                                        : b->cfg.poll_fast_ms) *
                                        NS_PER_MS;
        }
    }
    /* the recovery sweep, once per market */
    for (uint32_t i = 0; b->sweep_since_ms > 0 && i < b->n_markets; i++)
        if (!b->sweep_done[i] && !b->sweep_inflight[i] && now >= b->next_sweep_ns[i] &&
            bn_reqs_free(b) > REQ_RESERVE * 2)
            start_sweep(b, i);
    /* per-order work */
    uint32_t n = 0;
    for (const struct clb_tracked_order *o = clb_tracker_first(&b->tracker); o;
         o = clb_tracker_next(&b->tracker, o)) {
        if (clb_order_state_is_terminal(o->state)) {
            /* a finished order may still miss fills (late trades) */
            struct bn_oinfo *oi = bn_oinfo_of(b, o);
            if (!oi || !oi->need_trades)
                continue;
        }
        memcpy(b->scratch_ids + (size_t)n * CLB_CLIENT_ID_MAX, o->client_order_id,
               sizeof(o->client_order_id));
        n++;
    }
    int budget = SERVICE_BUDGET;
    for (uint32_t i = 0; i < n && budget > 0; i++) {
        if (bn_reqs_free(b) <= REQ_RESERVE / 2)
            break;
        const char *cid = b->scratch_ids + (size_t)i * CLB_CLIENT_ID_MAX;
        const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
        struct bn_oinfo *oi = bn_oinfo_of(b, o);
        if (o && oi && oi->resend_create &&
            !clb_bn_time_needs_resync(&b->clk, bn_wall_ns())) {
            oi->resend_create = false;
            if (clb_order_state_is_terminal(o->state)) {
                oi->create_pending = false;
                continue;
            }
            if (send_create(b, oi->market, cid, o->side, o->type, o->price, o->amount) !=
                CLB_OK) {
                oi->create_pending = false;
                clb_tracker_on_create_failed(&b->tracker, cid, true, CLB_EFULL, bn_wall_ns());
            }
            budget--;
            continue;
        }
        if (!o || !oi || oi->create_pending)
            continue;
        bool live = !clb_order_state_is_terminal(o->state);
        /* unresolved creates: status by client id, after the recvWindow */
        if (live && !o->confirmed && o->creation_outcome_unknown)
            oi->need_status = true;
        if (oi->need_status && !oi->status_inflight && now >= oi->next_status_ns && live) {
            send_status(b, cid, oi);
            budget--;
            continue;
        }
        if (oi->need_status && !live)
            oi->need_status = false;
        /* cancels are retried until the exchange confirms */
        if (live && o->state == CLB_ORDER_PENDING_CANCEL && o->confirmed && !o->exchange_filled &&
            !oi->cancel_inflight && !oi->need_status && now >= oi->next_cancel_ns) {
            if (clb_tracker_on_cancel_requested(&b->tracker, cid, bn_wall_ns()) == CLB_OK) {
                oi->cancel_wanted = false;
                send_cancel(b, cid, oi);
                budget--;
            }
            continue;
        }
        /* fills the status showed but we have not seen */
        if ((oi->need_trades || o->exchange_filled) && !oi->trades_inflight &&
            now >= oi->next_trades_ns) {
            o = clb_tracker_get(&b->tracker, cid);
            if (o) {
                send_trades(b, o, oi);
                budget--;
            }
        }
    }
}

/* ------------------------------------------------------------------------ */
/* User data stream (WebSocket API)                                          */

static void user_subscribe(struct clb_binance *b)
{
    char id[32], buf[1024];
    snprintf(id, sizeof(id), "sub-%u", ++b->ws_req_seq);
    int n = clb_bn_ws_signed_request(id, "userDataStream.subscribe.signature", NULL, 0,
                                     b->api_key, b->api_secret, bn_server_ms(b), 0, buf,
                                     sizeof(buf));
    if (n < 0) {
        bn_log(b, CLB_LOG_ERROR, "cannot sign the user-data subscription: %s", clb_err_name(n));
        return;
    }
    b->user_sub_sent_ns = bn_mono_ns();
    if (clb_ws_send(b->uws, buf, (size_t)n) != CLB_OK)
        b->user_sub_sent_ns = 0;
}

static void user_on_open(void *ud)
{
    struct clb_binance *b = ud;
    b->user_open = true;
    if (b->time_ok)
        user_subscribe(b);
    else
        b->user_sub_sent_ns = 0; /* the service subscribes once the clock is known */
}

static void user_on_exec(struct clb_binance *b, const struct clb_bn_exec_report *x)
{
    const char *cid = clb_bn_exec_report_order_client_id(x);
    const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
    if (!o) {
        if (strncmp(cid, b->prefix, strlen(b->prefix)) == 0)
            b->reconcile_wanted = true; /* ours but unknown: the poll adopts it */
        return;
    }
    int64_t now = bn_wall_ns();
    switch (x->exec_type) {
    case CLB_BN_EXEC_NEW:
        clb_tracker_on_created(&b->tracker, cid, x->order_id, now);
        break;
    case CLB_BN_EXEC_TRADE:
        if (!o->exchange_order_id[0])
            clb_tracker_on_created(&b->tracker, cid, x->order_id, now);
        if (x->has_trade)
            apply_fill(b, cid, x->trade_id, x->last_price, x->last_qty, x->commission,
                       x->commission_asset, x->is_maker);
        want_trades_if_behind(b, cid, x->cum_qty);
        break;
    case CLB_BN_EXEC_CANCELED:
    case CLB_BN_EXEC_EXPIRED:
    case CLB_BN_EXEC_REJECTED:
    case CLB_BN_EXEC_TRADE_PREVENTION:
        clb_tracker_on_status(&b->tracker, cid, clb_bn_xorder_status(x->status), x->order_id,
                              x->cum_qty, now);
        want_trades_if_behind(b, cid, x->cum_qty);
        break;
    default:
        break;
    }
    after_create_answer(b, cid);
}

static void user_on_message(void *ud, const char *data, size_t len, int64_t recv_mono_ns)
{
    struct clb_binance *b = ud;
    (void)recv_mono_ns;
    int kind = clb_bn_ws_message_kind(data, len);
    if (kind == CLB_BN_WS_RESPONSE) {
        struct clb_bn_ws_response resp;
        if (clb_bn_parse_ws_response(data, len, &resp, NULL, 0, NULL, 0) != CLB_OK) {
            b->stats.bad_messages++;
            return;
        }
        if (resp.id[0] == 'o') {
            if (!bn_ws_answer(b, data, len))
                b->stats.bad_messages++;
            return;
        }
        if (strncmp(resp.id, "sub-", 4) != 0)
            return;
        if (resp.status == 200 && !resp.has_error) {
            b->user_subscribed = true;
            b->user_ever = true;
            b->reconcile_wanted = true; /* events may have been missed meanwhile */
            b->user_sub_sent_ns = 0;
            return;
        }
        bn_log(b, CLB_LOG_WARN,
               "user-data subscription refused: %d %s", resp.error.code, resp.error.msg);
        if (clb_bn_time_on_error_code(&b->clk, resp.error.code))
            bn_time_resync(b);
        if (resp.retry_after_ms > 0)
            clb_bn_throttle_on_retry_after(&b->thr, bn_server_ms(b),
                                           resp.retry_after_ms - bn_server_ms(b),
                                           resp.status == 418);
        b->user_sub_retry_ns = bn_mono_ns() + 2000 * NS_PER_MS;
        b->user_sub_sent_ns = 0;
        return;
    }
    struct clb_bn_user_event ev;
    char err[160];
    if (clb_bn_parse_user_event(data, len, &ev, err, sizeof(err)) != CLB_OK) {
        b->stats.bad_messages++;
        return;
    }
    b->stats.user_events++;
    switch (ev.kind) {
    case CLB_BN_UE_EXECUTION_REPORT:
        user_on_exec(b, &ev.u.exec);
        break;
    case CLB_BN_UE_ACCOUNT_POSITION:
        for (size_t i = 0; i < ev.u.position.n; i++)
            bn_set_balance(b, ev.u.position.b[i].asset, ev.u.position.b[i].free,
                           ev.u.position.b[i].locked, 0, true);
        break;
    case CLB_BN_UE_SERVER_SHUTDOWN:
        b->stats.server_shutdowns++;
        b->user_subscribed = false;
        clb_ws_reconnect(b->uws);
        break;
    case CLB_BN_UE_STREAM_TERMINATED:
        b->user_subscribed = false;
        user_subscribe(b);
        break;
    default:
        break;
    }
}

static void user_on_close(void *ud, int code, const char *why)
{
    struct clb_binance *b = ud;
    (void)code, (void)why;
    b->user_subscribed = false;
    b->user_sub_sent_ns = 0;
    bn_ws_expire(b, true); /* orders sent on it: outcome unknown */
    if (!b->user_open)
        return; /* a failed reconnect attempt: polling is already on */
    b->stats.user_reconnects++;
    b->user_open = false;
    b->next_poll_ns = 0; /* REST polling takes over at once */
    b->next_account_ns = 0;
}

static void user_on_sent(void *ud, uint64_t msg_seq, int64_t write_ns, int64_t done_ns)
{
    bn_ws_sent(ud, msg_seq, write_ns, done_ns);
}

/* Called from the service: (re)subscribe when the connection is open and
 * no subscription is in force or in flight. */
void bn_user_service(struct clb_binance *b)
{
    int64_t now = bn_mono_ns();
    if (!b->uws || b->user_subscribed || !b->time_ok || !clb_ws_is_open(b->uws))
        return;
    if (b->user_sub_sent_ns && now - b->user_sub_sent_ns < 10000 * NS_PER_MS)
        return; /* an answer is awaited */
    if (now < b->user_sub_retry_ns)
        return;
    user_subscribe(b);
}

int bn_user_start(struct clb_binance *b)
{
    struct clb_ws_client_config wc;
    clb_ws_client_config_default(&wc);
    wc.url = b->ws_api_url;
    wc.ping_interval_ms = 20000;
    wc.backoff_min_ms = 250;
    wc.backoff_max_ms = 30000;
    wc.max_age_ms = INT64_C(23) * 3600 * 1000; /* ahead of Binance's 24 h limit */
    wc.write_now = true; /* orders leave inside the call that places them */
    struct clb_ws_handlers h = { .on_open = user_on_open, .on_message = user_on_message,
                                 .on_close = user_on_close, .on_sent = user_on_sent };
    return clb_ws_client_create(b->loop, &wc, &h, b, &b->uws);
}

void bn_user_stop(struct clb_binance *b)
{
    if (b->uws)
        clb_ws_client_destroy(b->uws);
    b->uws = NULL;
}
