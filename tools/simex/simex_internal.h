/*
 * simex_internal.h — the simulator's shared state and the functions its
 * modules call on each other. Not part of the library's interface (tests
 * of the simulator may use the pure helpers: params, signing, strings).
 *
 * Modules:
 *   simex_config.c   defaults, JSON configuration, fault documents
 *   simex_params.c   query/body parsing, percent-decoding, HMAC signing,
 *                    a bounded string builder
 *   simex_exchange.c ledger + matching engine, background participants
 *                    driven by the synthetic market, order and fill
 *                    history, stream and user-data events
 *   simex_api.c      the Binance endpoints (REST and WS-API share them),
 *                    authentication, rate limits, request-level faults
 *   simex_server.c   libwebsockets: HTTP, WebSockets, timers, delivery
 *                    faults; create/run/stop/destroy
 *   simex_tls.c      a self-signed certificate for --tls without files
 *
 * One thread owns everything (see simex.h).
 */
#ifndef CLB_SIMEX_INTERNAL_H
#define CLB_SIMEX_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libwebsockets.h>

#include "ledger.h"
#include "matching.h"
#include "rng.h"
#include "simex.h"
#include "synth.h"

#define SX_MIN_ASSET_SCALE 8   /* Binance prints 8 decimals */
#define SX_MAX_CONNS 256       /* WebSocket connections */
#define SX_MAX_SUBS 64         /* market streams per connection */
#define SX_MAX_USER_SUBS 4     /* user-data subscriptions per WS-API connection */
#define SX_MAX_IPS 64          /* rate-limit buckets */
#define SX_MAX_PARAMS 32
#define SX_REQ_STORE 8192      /* decoded parameter bytes per request */
#define SX_BODY_MAX 8192       /* request body bytes */
#define SX_RX_MAX 65536        /* WebSocket message bytes */
#define SX_OUTQ_MAX (16u << 20) /* queued bytes per WebSocket before it is dropped */
#define SX_PL_ORDERS 8         /* participant orders per price level */
#define SX_CAPTURE_MAX 256     /* fills reported in one FULL order response */
#define SX_TOUCH_CAP 16384     /* depth levels touched per stream interval */
#define SX_DEPTH_MAX 5000      /* /depth limit */
#define SX_MATCH_LEVELS 4096   /* price levels per market side */
#define SX_NIL UINT32_MAX

/* ------------------------------------------------------------------------ */
/* Strings and parameters (simex_params.c)                                   */

/* A growable string with a hard maximum; a failed append sets `failed` and
 * every later append is a no-op (the caller checks once at the end). */
struct sx_sb {
    char *p;
    size_t len;
    size_t cap;
    size_t max;
    bool failed;
};

void sx_sb_init(struct sx_sb *b, size_t max);
void sx_sb_free(struct sx_sb *b);
void sx_sb_put(struct sx_sb *b, const char *s, size_t n);
void sx_sb_puts(struct sx_sb *b, const char *s);
void sx_sb_printf(struct sx_sb *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends a JSON string literal (quotes and escapes). */
void sx_sb_json_str(struct sx_sb *b, const char *s);
/* Appends "v" formatted as a decimal at `scale` with max(scale, 8) digits. */
void sx_sb_amount(struct sx_sb *b, int64_t v, int scale);

/* Formats an integer at `scale` as a decimal string with `digits` fractional
 * digits (digits >= scale); buf holds CLB_DEC_STRLEN. */
void sx_fmt_scaled(int64_t v, int scale, int digits, char *buf);
/* The same with digits = max(scale, 8). */
void sx_fmt_amount(int64_t v, int scale, char *buf);

enum sx_param_src { SX_SRC_QUERY = 0, SX_SRC_BODY = 1, SX_SRC_JSON = 2 };

struct sx_param {
    const char *key; /* NUL-terminated, inside the request's store */
    const char *val;
    uint8_t src;
    bool used;
};

/* A request's parameters, decoded, and the texts its signature may cover. */
struct sx_params {
    struct sx_param p[SX_MAX_PARAMS];
    uint32_t n;
    char store[SX_REQ_STORE];
    size_t used;
    bool duplicate;  /* one source repeated a key */
    bool too_many;   /* more than SX_MAX_PARAMS, or the store overflowed */
    bool malformed;  /* a pair without '=' or a bad %-escape */
    /* signature payloads to try (REST: decoded query as received joined by
     * '&', re-encoded forms; WS-API: sorted k=v); inside store */
    const char *payload[3];
    uint32_t n_payload;
};

void sx_params_init(struct sx_params *ps);
/* Adds one raw (still %-encoded unless decoded is true) key=value pair.
 * Returns false when the pair was malformed or did not fit (flags set). */
bool sx_params_add(struct sx_params *ps, const char *key, size_t klen, const char *val,
                   size_t vlen, uint8_t src, bool decoded);
/* Splits an application/x-www-form-urlencoded text and adds its pairs. */
void sx_params_add_form(struct sx_params *ps, const char *text, size_t len, uint8_t src);
/* The value of a parameter, marking it read; NULL when absent. */
const char *sx_params_get(struct sx_params *ps, const char *key);
bool sx_params_has(const struct sx_params *ps, const char *key);
/* Copies a string into the store; NULL when it does not fit. */
const char *sx_params_keep(struct sx_params *ps, const char *s, size_t n);

/* Builds the REST signature payloads: the query pairs (decoded, as lws
 * hands them) and the raw body, each without the signature pair, joined
 * query + body; plus the same with the query re-encoded (form and RFC 3986
 * styles). query_pairs are "k=v" strings. */
void sx_params_rest_payloads(struct sx_params *ps, const char *const *query_pairs,
                             uint32_t n_query, const char *body, size_t body_len);
/* Builds the WS-API payload: every parameter but signature, sorted by key,
 * joined as k=v&... */
void sx_params_ws_payload(struct sx_params *ps);

/* Percent-decodes src[0..n) into dst (cap bytes incl. NUL); '+' becomes a
 * space. Returns the length or -1 (bad escape, no room). */
int sx_url_decode(const char *src, size_t n, char *dst, size_t cap);

/* Lower-case hex HMAC-SHA256(secret, msg) into out[65]. */
void sx_hmac_sha256_hex(const char *secret, const char *msg, size_t len, char out[65]);
/* Case-insensitive constant-time comparison of a hex signature. */
bool sx_sig_equal(const char *a, const char *b);

/* ------------------------------------------------------------------------ */
/* Configuration helpers (simex_config.c)                                    */

/* Applies a JSON faults object to *f (only the keys present). Recognises
 * the action keys "server_shutdown" (sets *shutdown_now) and "seed" (sets
 * *reseed and *seed) when those pointers are non-NULL. CLB_EPARSE with err. */
int sx_faults_apply_json(struct clb_simex_faults *f, json_t *obj, bool *shutdown_now,
                         bool *reseed, uint64_t *seed, char *err, size_t errlen);
json_t *sx_faults_to_json(const struct clb_simex_faults *f);
/* Derived integer scale of a decimal step (its digits). */
int sx_dec_digits(clb_dec d);

/* ------------------------------------------------------------------------ */
/* Exchange state (simex_exchange.c)                                         */

enum sx_stream_kind {
    SX_ST_DEPTH100 = 0,
    SX_ST_DEPTH1000,
    SX_ST_TRADE,
    SX_ST_BOOKTICKER,
    SX_ST_COUNT
};

/* Levels touched since the last depthUpdate of one cadence. */
struct sx_touch {
    uint64_t *slots; /* hash of keys (price << 1 | side) + 1, 0 = empty */
    uint64_t *list;  /* keys in insertion order */
    uint32_t n;
    uint32_t mask;
    bool overflow;   /* more than SX_TOUCH_CAP: the next event skips an id */
    uint64_t last_u; /* u of the last event (or the id when nobody listened) */
};

struct sx_porder {
    uint64_t id;
    int64_t rem;
};

/* A participant price level: the synthetic book's quantity (target) and the
 * orders that make it up, oldest first. */
struct sx_plevel {
    int64_t price;
    int64_t target;
    uint32_t n;
    bool touched;
    struct sx_porder o[SX_PL_ORDERS];
};

struct sx_pside {
    struct sx_plevel *lv; /* ascending price */
    uint32_t n;
    uint32_t cap;
};

struct sx_market {
    char symbol[CLB_SIMEX_NAME_MAX];
    char lower[CLB_SIMEX_NAME_MAX];
    uint32_t base; /* ledger assets */
    uint32_t quote;
    int price_scale;
    int qty_scale;
    int64_t tick, min_price, max_price;  /* price_scale */
    int64_t step, min_qty, max_qty;      /* qty_scale */
    int64_t min_notional, max_notional;  /* price_scale + qty_scale */
    /* background market */
    bool live;
    bool synth_ok;
    struct clb_synth synth;
    struct clb_md_record next; /* the next synthetic record, not yet applied */
    uint64_t synth_seed;       /* the generator's seed */
    uint64_t n_records;        /* synthetic records applied */
    int64_t last_price;        /* of the last trade, 0 before any */
    struct sx_pside ps[2];     /* by clb_side */
    uint32_t n_touched_pl;
    /* streams */
    uint64_t update_id;
    struct sx_touch touch[2];  /* 100 ms, 1000 ms */
    struct clb_level bt_bid, bt_ask;
    uint32_t subs[SX_ST_COUNT];
    struct clb_level *depth[2]; /* scratch: the whole book side, best first */
};

struct sx_order {
    uint64_t id; /* 0: free slot */
    uint32_t user;
    uint32_t market;
    char client_id[CLB_CLIENT_ID_MAX];
    uint8_t side, type, tif;
    uint8_t status, prev_status; /* enum clb_exec_status */
    bool live;
    int64_t price, qty, executed, cum_quote;
    int64_t time_ms, update_ms, prev_update_ms, working_ms, cancel_ms;
    uint32_t older, newer; /* finished list (eviction order), or free list */
};

struct sx_fill {
    uint64_t trade_id;
    uint64_t order_id;
    uint32_t user;
    uint32_t market;
    uint8_t side;
    bool maker;
    int64_t price, qty, quote, fee;
    uint32_t fee_asset;
    int64_t time_ms;
};

struct sx_user {
    struct clb_simex_account acct;
    uint32_t ledger;
    uint64_t dirty; /* assets changed since the last outboundAccountPosition */
    int64_t update_ms;
    int64_t o10_start, o10_count, oday_start, oday_count;
};

struct sx_ip {
    char ip[64];
    int64_t win_start;
    int32_t used;
    int32_t n429;
    int64_t banned_until;
    int64_t last_ms;
};

/* ------------------------------------------------------------------------ */
/* Connections (simex_server.c)                                              */

enum sx_conn_kind { SX_CONN_MARKET = 0, SX_CONN_WSAPI };

struct sx_msg {
    struct sx_msg *next;
    int64_t due_us; /* delayed messages: when they may go */
    size_t len;
    bool close_after;
    unsigned char data[]; /* LWS_PRE + len */
};

struct sx_sub {
    uint32_t market;
    uint8_t kind;
    char name[48];
};

struct sx_usub {
    uint32_t user;
    uint32_t id;
};

struct sx_conn {
    struct clb_simex *sim;
    struct lws *wsi;
    enum sx_conn_kind kind;
    bool combined;
    int64_t opened_ms;
    char ip[64];
    struct sx_sub subs[SX_MAX_SUBS];
    uint32_t n_subs;
    struct sx_usub usubs[SX_MAX_USER_SUBS];
    uint32_t n_usubs;
    uint32_t next_sub_id;
    struct sx_msg *head, *tail; /* ready */
    size_t queued;
    struct sx_msg *dhead, *dtail; /* delayed (latency), FIFO, due times ascending */
    lws_sorted_usec_list_t sul;
    bool closing;   /* close after the queue drains */
    bool close_now; /* close at the next writeable */
    int close_code;
    char *rx;
    size_t rx_len;
    bool rx_overflow;
};

/* ------------------------------------------------------------------------ */
/* The simulator                                                             */

struct clb_simex {
    struct clb_simex_config cfg;
    struct clb_simex_faults faults;
    uint64_t seed;
    struct clb_rng fault_rng;
    struct clb_rng id_rng;
    /* exchange */
    bool ex_ok;
    struct clb_ledger ledger;
    struct clb_matcher mx;
    struct sx_market markets[CLB_SIMEX_MAX_SYMBOLS];
    uint32_t n_markets;
    struct sx_user users[CLB_SIMEX_MAX_ACCOUNTS];
    uint32_t n_users;
    uint32_t maker_acct, taker_acct, first_user_acct;
    struct sx_order *orders;
    uint32_t orders_cap;
    uint32_t free_head;
    uint32_t fin_oldest, fin_newest; /* finished orders, oldest first */
    uint64_t *oh_ids;                 /* order id -> slot hash */
    uint32_t *oh_slots;
    uint32_t oh_mask;
    struct sx_fill *fills; /* ring */
    uint32_t fills_cap;
    uint64_t fills_total;
    /* reports captured during one submit / cancel */
    bool capturing;
    uint64_t cap_order; /* 0 until on_order(NEW) names it */
    struct sx_fill cap[SX_CAPTURE_MAX];
    uint32_t n_cap;
    struct sx_fill pending_fill; /* the fill an on_order(TRADE) report follows */
    bool has_pending_fill;
    const char *cancel_cid; /* "c" of CANCELED reports from a user cancel */
    uint64_t exec_event_seq;
    int64_t market_clock_offset_ns; /* synthetic ts = wall ns - offset */
    bool market_paused;
    int64_t paused_at_ns;
    struct sx_ip ips[SX_MAX_IPS];
    /* server */
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    int port;
    struct sx_conn *conns[SX_MAX_CONNS];
    uint32_t n_conns;
    lws_sorted_usec_list_t sul_tick;
    lws_sorted_usec_list_t sul_market;
    uint64_t ticks;
    int64_t next_shutdown_ms;   /* periodic serverShutdown */
    int64_t shutdown_close_ms;  /* pending close of every WebSocket, 0 = none */
    atomic_int stop;
    int loop_error;
    char tls_dir[CLB_SIMEX_PATH_MAX];
    char tls_cert[CLB_SIMEX_PATH_MAX];
    char tls_key[CLB_SIMEX_PATH_MAX];
    uint64_t stat_depth_dropped;
    uint64_t stat_ws_disconnects;
};

/* Server clock (wall clock + skew), ms and ns. */
int64_t sx_now_ms(const struct clb_simex *s);
int64_t sx_wall_ns(void);

/* Exchange lifecycle. init builds the ledger, matcher, accounts and markets
 * from s->cfg and s->seed; deinit frees them. CLB_EINVAL with err. */
int sx_exchange_init(struct clb_simex *s, char *err, size_t errlen);
void sx_exchange_deinit(struct clb_simex *s);

int sx_market_find(const struct clb_simex *s, const char *symbol);
int sx_user_find(const struct clb_simex *s, const char *api_key);

/* Advances every live market to the current time (timer callback); returns
 * the delay in us until the next synthetic record is due. */
int64_t sx_market_advance(struct clb_simex *s);
/* Applies every synthetic record due at synthetic time syn_now_ns (the
 * generator's clock, which starts at the wall clock at creation); returns
 * the next record's time. Deterministic: tests drive it directly. */
int64_t sx_market_advance_to(struct clb_simex *s, int64_t syn_now_ns);
void sx_market_pause(struct clb_simex *s, bool paused);

/* Emits the depthUpdate events of one cadence (0: 100 ms, 1: 1000 ms). */
void sx_depth_emit(struct clb_simex *s, int cadence);

/* A user order, validated by the API layer. */
struct sx_place {
    uint32_t user;
    uint32_t market;
    enum clb_side side;
    enum clb_order_type type;
    enum clb_tif tif;
    int64_t price;
    int64_t qty;
    const char *client_id;
};

/* Submits; on CLB_OK *order_id is set and the fills taken by the order are
 * in s->cap[0..n_cap). CLB_EINVAL with *reason when the engine refused. */
int sx_order_place(struct clb_simex *s, const struct sx_place *p, uint64_t *order_id,
                   enum clb_reject_reason *reason);
/* Cancels a live order. CLB_ENOTFOUND. */
int sx_order_cancel(struct clb_simex *s, uint32_t user, uint64_t order_id, const char *cancel_cid);
/* Lookups into the history; NULL when unknown. */
struct sx_order *sx_order_get(struct clb_simex *s, uint64_t id);
struct sx_order *sx_order_by_client_id(struct clb_simex *s, uint32_t user, uint32_t market,
                                       const char *client_id);
/* Live orders of a user (market SX_NIL = all), oldest first; returns count. */
uint32_t sx_open_orders(struct clb_simex *s, uint32_t user, uint32_t market,
                        struct sx_order **out, uint32_t cap);
/* Fills ring access: the i-th fill (0 = oldest kept), count. */
uint32_t sx_fills_count(const struct clb_simex *s);
const struct sx_fill *sx_fill_at(const struct clb_simex *s, uint32_t i);

/* After every operation: outboundAccountPosition for changed balances and
 * bookTicker for changed tops. */
void sx_after_op(struct clb_simex *s);

/* Generated client order id (22 characters, like Binance's). */
void sx_gen_client_id(struct clb_simex *s, char out[CLB_CLIENT_ID_MAX]);

/* Binance names. */
const char *sx_status_name(int status);
const char *sx_type_name(int type);
const char *sx_tif_name(int type, int tif);
const char *sx_side_name(int side);

/* ------------------------------------------------------------------------ */
/* Delivery (simex_server.c)                                                 */

/* Sends a market stream event (raw JSON payload) to every connection
 * subscribed to (market, kind); `is_depth` applies the drop fault. */
void sx_publish_market(struct clb_simex *s, uint32_t market, int kind, const char *payload,
                       size_t len);
/* Sends a user-data event (raw JSON) to every subscription of the user. */
void sx_publish_user(struct clb_simex *s, uint32_t user, const char *event, size_t len);
/* serverShutdown to every WebSocket; they close after the grace time. */
void sx_server_shutdown_event(struct clb_simex *s);
/* Closes every WebSocket with a close frame carrying `code`. */
void sx_server_close_all(struct clb_simex *s, int code);

/* ------------------------------------------------------------------------ */
/* API (simex_api.c)                                                         */

struct sx_req {
    bool ws;                /* WS-API (params from JSON) or REST */
    const char *method;     /* REST: "GET", "POST", "DELETE", "PUT" */
    const char *path;       /* REST path, or the WS-API method name */
    const char *ip;
    char api_key[CLB_SIMEX_KEY_MAX];
    bool has_api_key;
    bool api_key_too_long;
    struct sx_params params;
};

struct sx_resp {
    int status;     /* HTTP status (WS-API: "status") */
    json_t *result; /* owned; NULL for errors */
    int code;       /* Binance error code when result is NULL */
    char msg[256];
    int32_t used_weight;
    int64_t retry_after_ms; /* 429/418: when the client may retry (server ms) */
    bool has_orders;
    int64_t orders_10s, orders_1d;
    bool hold;       /* never answer (timeout after commit) */
    int64_t delay_ms; /* answer this much later */
    /* WS-API: a user-data subscription to attach to the connection */
    bool subscribe;
    int32_t subscribe_user;
    bool unsubscribe;
    int64_t unsubscribe_id; /* -1: all */
};

void sx_resp_init(struct sx_resp *r);
void sx_resp_free(struct sx_resp *r);
/* Handles one request (REST or WS-API). Never fails: errors are responses. */
void sx_api_handle(struct clb_simex *s, struct sx_req *rq, struct sx_resp *out);
/* Handles a /sim/ route (loopback already checked). body may be NULL. */
void sx_sim_handle(struct clb_simex *s, const char *method, const char *path,
                   struct sx_params *query, const char *body, size_t body_len,
                   struct sx_resp *out);
/* Weight charged when a WS-API connection opens (2); false when the IP is
 * banned or over its limit. */
bool sx_api_ws_connect_allowed(struct clb_simex *s, const char *ip);

/* JSON text of a REST response body (malloc'd), and of a WS-API response. */
char *sx_resp_rest_body(const struct sx_resp *r, size_t *len);
char *sx_resp_ws_body(struct clb_simex *s, const struct sx_resp *r, json_t *id, size_t *len);

/* TLS (simex_tls.c): writes a self-signed cert and key for CN=localhost
 * (SAN localhost, 127.0.0.1) into dir. CLB_EIO. */
int sx_tls_generate(const char *dir, char *cert_path, size_t cert_cap, char *key_path,
                    size_t key_cap);

/* Logging (stderr unless quiet). */
void sx_log(const struct clb_simex *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
