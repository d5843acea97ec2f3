/*
 * binance_internal.h — the Binance connector's state shared by its files:
 *   binance.c         lifecycle, connector ops, rules and quantization,
 *                     REST requests (signing, throttling, queue), startup,
 *                     housekeeping timer
 *   binance_orders.c  orders: create / cancel / status / trades answers,
 *                     REST reconciliation, the user-data stream (WS API)
 *   binance_market.c  market stream, book sync, snapshot polling, trades
 * Not part of the connector's interface.
 */
#ifndef CLB_BINANCE_INTERNAL_H
#define CLB_BINANCE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "binance.h"
#include "binance_book_sync.h"
#include "binance_md.h"
#include "binance_sign.h"
#include "binance_throttle.h"
#include "binance_time.h"
#include "decimal.h"
#include "market.h"
#include "order_book.h"
#include "order_tracker.h"

struct clb_http_resp;
struct clb_ws_client;

#define BN_MAX_REQS 512        /* REST requests in flight or waiting */
#define BN_URL_MAX 1024
#define BN_KEY_MAX 128
#define BN_PREFIX_MAX 9
#define BN_SYNC_EVENTS 512     /* depth diffs buffered per market during a sync */
#define BN_SYNC_LEVELS 65536   /* levels buffered per market during a sync */
#define BN_WS_RESULT_MAX 65536 /* "result" of a WS-API order answer */

enum bn_req_kind {
    BN_RQ_TIME = 0,
    BN_RQ_EXCHANGE_INFO,
    BN_RQ_ACCOUNT,
    BN_RQ_COMMISSION,
    BN_RQ_DEPTH,
    BN_RQ_ORDER_NEW,
    BN_RQ_ORDER_CANCEL,
    BN_RQ_ORDER_STATUS,
    BN_RQ_OPEN_ORDERS,
    BN_RQ_MY_TRADES,
    BN_RQ_ALL_ORDERS,
    BN_RQ_KIND_COUNT
};

/* One REST request, from the moment it is decided until its answer. The
 * small fields come first: bn_req_new clears only them (up to path), so a
 * WS-API order touches a few cache lines of its entry, not all of it. */
struct bn_req {
    struct clb_binance *owner;
    bool used;
    bool sent;         /* handed to the transport */
    enum bn_req_kind kind;
    uint32_t market;
    int weight;
    bool is_order;     /* counts in the ORDERS limit */
    bool is_signed;
    const char *method;
    char client_id[CLB_CLIENT_ID_MAX];
    /* a create's order (BN_RQ_ORDER_NEW, has_order): the WS-API request is
     * built from these; params are made from them only for REST */
    bool has_order;
    enum clb_side side;
    enum clb_order_type type;
    clb_dec price, amount;
    uint64_t http_id;
    int64_t queued_ns;   /* monotonic */
    int64_t sent_ns;     /* monotonic, when handed over */
    int64_t sent_wall_ns;
    int64_t timestamp_ms;/* server-time timestamp of a signed request */
    int64_t frame_recv_ns; /* market frame that caused it (tick-to-order), 0 = none */
    bool via_ws;         /* sent over the WebSocket API (orders), not REST */
    uint32_t ws_gen;     /* its WS-API id is "o<pool index>-<ws_gen>" */
    uint64_t ws_seq;     /* clb_ws_send sequence number (on_sent) */
    uint32_t next_wait;  /* FIFO of waiting requests */
    /* strings: NUL-terminated, not cleared beyond the NUL */
    char path[64];
    char params[512];  /* unsigned query (signed requests get timestamp + signature at send) */
    char url[BN_URL_MAX];
    char body[BN_URL_MAX];
    size_t body_len;
    char header[BN_KEY_MAX + 32];
};

/* Connector-side state of a tracked order, indexed like the tracker's pool. */
struct bn_oinfo {
    char client_id[CLB_CLIENT_ID_MAX];
    uint32_t market;
    bool create_pending;   /* create queued or in flight: no cancel / status yet */
    bool cancel_inflight;
    bool status_inflight;
    bool trades_inflight;
    bool cancel_wanted;    /* cancel requested while the create was in flight */
    bool need_status;      /* a status query is wanted (unknown create, -2011, poll) */
    bool need_trades;      /* the exchange shows more executed than our fills */
    bool resend_create;    /* refused for its timestamp (-1021): re-sent after the resync */
    bool adopted;          /* not placed by this run: cancelled once shown live */
    uint8_t time_retries;  /* such re-sends so far */
    uint32_t seen_open;    /* openOrders epoch that last listed it */
    int64_t next_trades_ns;
    int64_t create_ts_ms;  /* timestamp of the create (server ms) */
    int64_t next_status_ns;
    int64_t next_cancel_ns;
};

struct bn_market {
    struct clb_market_rules rules; /* symbol "BTC-USDT" */
    char xsym[CLB_SYMBOL_MAX];      /* "BTCUSDT" */
    char lower[CLB_SYMBOL_MAX];     /* "btcusdt" */
    clb_dec min_price, max_price, max_notional;
    bool rules_ok;
    int md_index;           /* in the parser, -1 until the rules are known */
    bool fees_ok;
    bool commission_asked;
    double maker_fee, taker_fee;
    struct clb_binance_book_sync sync; /* the book (binance_book_sync.h) */
    bool snapshot_inflight;
    int64_t next_snapshot_ns;
};

struct clb_binance {
    struct clb_connector base; /* must stay first */
    struct clb_binance_config cfg;
    char prefix[BN_PREFIX_MAX];
    char rest_url[BN_URL_MAX / 2];
    char stream_url[BN_URL_MAX];
    char ws_api_url[BN_URL_MAX / 2];
    char api_key[BN_KEY_MAX];
    char api_secret[BN_KEY_MAX];
    struct bn_hmac *hmac;           /* pre-keyed HMAC-SHA256 (binance.c) */
    struct clb_bn_signer ws_signer; /* WS-API requests (binance_sign.h) */
    bool ws_signer_ok;
    bool ws_direct;                 /* creates' WS-API requests built from their fields
                                     * (the key needs no escaping, the check agreed) */
    uint32_t ws_gen;                /* WS-API order request ids */
    uint32_t ws_inflight;           /* requests sent over the WS API, unanswered */
    char *ws_result;                /* BN_WS_RESULT_MAX bytes: a WS-API answer's result */
    struct clb_netloop *loop;
    struct clb_order_tracker tracker;
    struct bn_oinfo *oinfo; /* max_orders */
    struct bn_market markets[CLB_BINANCE_MAX_MARKETS];
    uint32_t n_markets;
    /* assets */
    struct {
        char name[CLB_ASSET_MAX];
        clb_dec total, available;
        int64_t stream_ns; /* monotonic receive time of the last stream update */
    } assets[32];
    uint32_t n_assets;
    bool balances_ok;
    /* requests */
    struct bn_req *reqs;
    uint64_t req_busy[BN_MAX_REQS / 64]; /* bit i: reqs[i] used (lowest free found at once) */
    uint32_t ws_last;              /* pool index of the last request sent over the WS API */
    uint32_t wait_head, wait_tail; /* UINT32_MAX = empty */
    uint32_t n_reqs;
    /* throttling and server time (binance_throttle.h, binance_time.h) */
    struct clb_bn_throttle thr;
    struct clb_bn_time clk;
    bool time_ok;
    bool time_inflight;
    int64_t next_time_ns;
    /* market-data parser (binance_md.h) */
    struct clb_binance_md md;
    /* startup and polling */
    bool info_inflight, account_inflight;
    bool commission_supported;
    int64_t next_info_ns, next_account_ns, next_poll_ns;
    bool open_inflight[CLB_BINANCE_MAX_MARKETS];
    uint32_t open_epoch[CLB_BINANCE_MAX_MARKETS];
    bool reconcile_wanted;
    /* recovery sweep (allOrders since sweep_since_ms), per market */
    int64_t sweep_since_ms;     /* 0 = none */
    bool sweep_done[CLB_BINANCE_MAX_MARKETS];
    bool sweep_inflight[CLB_BINANCE_MAX_MARKETS];
    uint64_t sweep_from_id[CLB_BINANCE_MAX_MARKETS]; /* next page: orderId >= this, 0 = first */
    int64_t next_sweep_ns[CLB_BINANCE_MAX_MARKETS];
    char *known;                /* n_known sorted client ids, CLB_CLIENT_ID_MAX apart */
    size_t n_known;
    uint64_t nonce;
    /* streams */
    struct clb_ws_client *mws;  /* market streams */
    struct clb_ws_client *uws;  /* WS API (user data) */
    bool market_up;
    bool user_open;
    bool user_subscribed;
    bool user_ever;
    int64_t user_sub_sent_ns;   /* subscription request awaiting its answer, 0 = none */
    int64_t user_sub_retry_ns;
    uint32_t ws_req_seq;
    int64_t frame_recv_ns;      /* set while a market frame is being handled */
    /* timers */
    uint64_t timer_id;
    bool timer_armed;
    bool destroying;
    int64_t now_ns;
    struct clb_binance_stats stats;
    /* scratch */
    char *scratch_ids;          /* max_orders * CLB_CLIENT_ID_MAX */
};

/* ---- binance.c ---- */
/* Bounded appenders for the hot path (no snprintf): append to buf at *pos;
 * on overflow nothing more is written and *pos goes past cap, so a caller
 * checks *pos < cap once at the end (and then writes the NUL). Inline, so
 * that a literal's copy (BN_PUT_LIT) compiles to a few moves. */
static inline void bn_put(char *buf, size_t cap, size_t *pos, const char *s, size_t n)
{
    size_t at = *pos;
    if (at < cap && n < cap - at)
        memcpy(buf + at, s, n);
    *pos = at + n;
}

static inline void bn_put_s(char *buf, size_t cap, size_t *pos, const char *s)
{
    bn_put(buf, cap, pos, s, strlen(s));
}

void bn_put_u64(char *buf, size_t cap, size_t *pos, uint64_t v);
void bn_put_i64(char *buf, size_t cap, size_t *pos, int64_t v);
void bn_put_dec(char *buf, size_t cap, size_t *pos, clb_dec d);
#define BN_PUT_LIT(buf, cap, pos, lit) bn_put((buf), (cap), (pos), "" lit "", sizeof(lit) - 1)
/* A create's params ("symbol=..&side=..&type=..[&timeInForce=GTC]
 * &quantity=..[&price=..]&newClientOrderId=..&newOrderRespType=FULL", values
 * unencoded) from its order fields (has_order) into rq->params: the REST
 * form, and the WS-API one's fallback. Length, or CLB_ERANGE / CLB_EINVAL. */
int bn_create_params(const struct clb_binance *b, struct bn_req *rq);
/* Warms the order path while the streams are quiet (binance_market.c):
 * runs the real code of a place (bn_warm_place, binance_orders.c) on
 * scratch data, then formats and signs its request the way ws_send_req
 * does, into a scratch buffer. Nothing is sent, tracked or counted. */
void bn_warm_orders(struct clb_binance *b);
int64_t bn_mono_ns(void);
int64_t bn_wall_ns(void);
int64_t bn_server_ms(const struct clb_binance *b);
struct bn_market *bn_market_by_symbol(struct clb_binance *b, const char *market, uint32_t *idx);
struct bn_market *bn_market_by_xsym(struct clb_binance *b, const char *xsym, uint32_t *idx);
/* A new request of kind, or NULL when the pool is full. */
struct bn_req *bn_req_new(struct clb_binance *b, enum bn_req_kind kind, const char *method,
                          const char *path, bool is_signed, int weight);
/* Sends or queues (throttler) the request; CLB_OK, or an error (the request
 * is then released). */
int bn_req_submit(struct clb_binance *b, struct bn_req *rq);
void bn_req_free(struct clb_binance *b, struct bn_req *rq);
uint32_t bn_reqs_free(const struct clb_binance *b);
/* Finishes a request with its answer r (REST, or a WS-API answer / the lack
 * of one dressed as one): throttler, clock, dispatch by kind, release.
 * code: the Binance error code of the answer (0 = none). */
void bn_req_finish(struct clb_binance *b, struct bn_req *rq, const struct clb_http_resp *r,
                   int code);
/* WS-API order requests: the answer to id (binance_orders.c routes the
 * user connection's responses here), the write report, and the expiry of
 * unanswered ones (timeout, or every one when the connection is lost). */
bool bn_ws_answer(struct clb_binance *b, const char *data, size_t len);
void bn_ws_sent(struct clb_binance *b, uint64_t seq, int64_t write_ns, int64_t done_ns);
void bn_ws_expire(struct clb_binance *b, bool all);
/* Binance error code of a body ({code,msg}), 0 when none. */
int bn_error_code(const char *body, size_t len);
json_t *bn_json(const char *body, size_t len);
void bn_time_resync(struct clb_binance *b);
/* A balance from the user stream (rest_sent_ns 0: always newest) or from a
 * REST account answer to a request sent at rest_sent_ns (monotonic): that
 * one is ignored for an asset the stream updated after it was sent. */
void bn_set_balance(struct clb_binance *b, const char *asset, clb_dec free_, clb_dec locked,
                    int64_t rest_sent_ns, bool publish);
struct bn_oinfo *bn_oinfo_of(struct clb_binance *b, const struct clb_tracked_order *o);
void bn_log(const struct clb_binance *b, enum clb_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- binance_orders.c ---- */
/* The place path on a canned order of the first market (quantize, client id,
 * tracker lookup) without tracking or sending anything: the create request
 * goes into rq, a FREE pool entry used as scratch (kind, market, client
 * id, order). CLB_OK, or < 0 when nothing was made. */
int bn_warm_place(struct clb_binance *b, struct bn_req *rq);
int bn_place(struct clb_connector *c, const struct clb_order_request *req,
             char client_id[CLB_CLIENT_ID_MAX]);
int bn_cancel(struct clb_connector *c, const char *market, const char *client_id);
void bn_orders_on_response(struct clb_binance *b, struct bn_req *rq,
                           const struct clb_http_resp *r, int code);
void bn_orders_service(struct clb_binance *b);
/* At create: tracks config.restore again and copies known_ids (CLB_ENOMEM). */
int bn_orders_restore(struct clb_binance *b, const struct clb_binance_config *cfg);
int bn_user_start(struct clb_binance *b);
void bn_user_stop(struct clb_binance *b);
void bn_user_service(struct clb_binance *b);
void bn_account_apply(struct clb_binance *b, const struct bn_req *rq,
                      const struct clb_http_resp *r);

/* ---- binance_market.c ---- */
int bn_market_start(struct clb_binance *b);
void bn_market_stop(struct clb_binance *b);
void bn_market_service(struct clb_binance *b);
void bn_market_on_depth_snapshot(struct clb_binance *b, struct bn_req *rq,
                                 const struct clb_http_resp *r);
void bn_market_rules_loaded(struct clb_binance *b, uint32_t mi);
bool bn_books_ready(const struct clb_binance *b);

#endif
