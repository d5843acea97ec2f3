/*
 * binance_msg.h — parsers of Binance spot REST answers, WebSocket-API
 * envelopes and user-data events (jansson based: none of these is on the
 * market-data hot path).
 *
 * Every parser is a function bytes -> caller-owned result struct:
 *  - CLB_OK: the result is complete;
 *  - CLB_EPARSE: malformed JSON, a missing field, a field of the wrong type,
 *    a decimal that does not parse or does not fit, a string too long for
 *    its buffer, an unknown enum value; a message naming the field goes to
 *    err (may be NULL);
 *  - CLB_EFULL: an array longer than the caller's capacity;
 *  - CLB_EINVAL: NULL arguments.
 * On any error NOTHING is written to the outputs (arrays are parsed twice:
 * validated, then written). Decimals are exact (clb_dec_parse) and must be
 * JSON strings, as Binance sends them; ids and times must be JSON integers.
 * Unknown extra fields are ignored. Thread-safe: no shared state.
 *
 * Names: Binance symbols are "BTCUSDT"; colibri's market names are
 * "BTC-USDT", built from exchangeInfo's baseAsset/quoteAsset.
 */
#ifndef CLB_BINANCE_MSG_H
#define CLB_BINANCE_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "binance_throttle.h"
#include "decimal.h"
#include "market.h"
#include "order_tracker.h"

#define CLB_BN_ERR_MSG_MAX 256
#define CLB_BN_NAME_MAX 32 /* status / type / reason strings, NUL included */

/* ------------------------------------------------------------------------ */
/* Names                                                                     */

/* "BTC-USDT" -> "BTCUSDT". CLB_EINVAL (not BASE-QUOTE with alphanumeric
 * parts) or CLB_ERANGE (cap too small); returns the length otherwise. */
int clb_bn_symbol_from_market(const char *market, char *out, size_t cap);

/* ------------------------------------------------------------------------ */
/* Errors: {"code":-1021,"msg":"..."}                                        */

struct clb_bn_error {
    int code;                      /* Binance's negative code */
    char msg[CLB_BN_ERR_MSG_MAX];  /* truncated if longer */
};

/* A REST error body (or a WS-API "error" object). code must be an integer
 * in int range, msg a string. */
int clb_bn_parse_error(const char *json, size_t len, struct clb_bn_error *out, char *err,
                       size_t errlen);

/* GET /api/v3/time: {"serverTime":1499827319559} (ms > 0). */
int clb_bn_parse_server_time(const char *json, size_t len, int64_t *server_time_ms, char *err,
                             size_t errlen);

/* ------------------------------------------------------------------------ */
/* exchangeInfo                                                              */

/* A bare rateLimits array or an object holding one ("rateLimits" of
 * exchangeInfo). Entries: {rateLimitType, interval SECOND|MINUTE|HOUR|DAY,
 * intervalNum, limit[, count]}; unknown rateLimitTypes are skipped; more
 * than CLB_BN_MAX_RATE_LIMITS known ones is CLB_EPARSE. */
int clb_bn_parse_rate_limits(const char *json, size_t len, struct clb_bn_rate_limits *out,
                             char *err, size_t errlen);

struct clb_bn_symbol_info {
    char symbol[CLB_SYMBOL_MAX];   /* "BTCUSDT" */
    char status[CLB_BN_NAME_MAX];  /* "TRADING", "BREAK", "HALT", ... */
    bool trading;                  /* status == "TRADING" */
    /* rules.symbol is the market name "BTC-USDT"; tick from PRICE_FILTER,
     * step/min/max qty from LOT_SIZE, min notional from NOTIONAL (or the
     * older MIN_NOTIONAL). Values are normalized ("0.01000000" -> 0.01);
     * price_scale/qty_scale are the digits of tick/step (when a rule is
     * 0 = off: quotePrecision / baseAssetPrecision, else 8). */
    struct clb_market_rules rules;
    clb_dec min_price, max_price; /* PRICE_FILTER (0 = off) */
    clb_dec max_notional;         /* NOTIONAL (0 = off or absent) */
};

/* Parses exchangeInfo. markets (n_markets names "BTC-USDT") selects the
 * symbols written to out, in exchangeInfo's order; markets = NULL selects
 * all. Every symbol entry must have string symbol/status/baseAsset/
 * quoteAsset; selected ones also need PRICE_FILTER and LOT_SIZE. Symbols
 * whose asset names are not alphanumeric or do not fit colibri's buffers
 * are skipped (they cannot be one of colibri's markets). A selected market
 * absent from the answer is not an error (compare *n_out).
 * limits and server_time_ms may be NULL. CLB_EFULL when more than cap
 * symbols are selected. */
int clb_bn_parse_exchange_info(const char *json, size_t len, const char *const *markets,
                               size_t n_markets, struct clb_bn_symbol_info *out, size_t cap,
                               size_t *n_out, struct clb_bn_rate_limits *limits,
                               int64_t *server_time_ms, char *err, size_t errlen);

/* The market name ("BTC-USDT") of a Binance symbol in a parsed list, or
 * NULL. */
const char *clb_bn_market_of_symbol(const struct clb_bn_symbol_info *infos, size_t n,
                                    const char *symbol);

/* ------------------------------------------------------------------------ */
/* Orders                                                                    */

enum clb_bn_order_status {
    CLB_BN_ST_NEW = 0,
    CLB_BN_ST_PENDING_NEW,
    CLB_BN_ST_PARTIALLY_FILLED,
    CLB_BN_ST_FILLED,
    CLB_BN_ST_CANCELED,
    CLB_BN_ST_PENDING_CANCEL,
    CLB_BN_ST_REJECTED,
    CLB_BN_ST_EXPIRED,
    CLB_BN_ST_EXPIRED_IN_MATCH,
    CLB_BN_ST_COUNT_
};

/* "NEW" -> CLB_BN_ST_NEW ...; CLB_EPARSE for anything else. */
int clb_bn_order_status_parse(const char *s, enum clb_bn_order_status *out);
/* "NEW", ...; "UNKNOWN" outside the enum. Never NULL. */
const char *clb_bn_order_status_name(enum clb_bn_order_status s);

/* For clb_tracker_on_status: NEW, PENDING_NEW, PENDING_CANCEL -> NEW
 * (alive); PARTIALLY_FILLED; FILLED; CANCELED; REJECTED; EXPIRED and
 * EXPIRED_IN_MATCH -> EXPIRED (treated as cancelled). */
enum clb_xorder_status clb_bn_xorder_status(enum clb_bn_order_status s);

/* The tracker state an order in this exchange status is in: PENDING_NEW ->
 * PENDING_CREATE, NEW -> OPEN, PARTIALLY_FILLED, FILLED, PENDING_CANCEL,
 * CANCELED / EXPIRED / EXPIRED_IN_MATCH -> CANCELED, REJECTED -> FAILED. */
enum clb_order_state clb_bn_order_state(enum clb_bn_order_status s);

/* FILLED, CANCELED, REJECTED, EXPIRED, EXPIRED_IN_MATCH. */
bool clb_bn_order_status_is_final(enum clb_bn_order_status s);

/* An order as POST/DELETE/GET /api/v3/order and openOrders show it (and
 * the WS-API order.place / order.cancel / order.status results). */
struct clb_bn_order {
    char symbol[CLB_SYMBOL_MAX];
    char order_id[CLB_EXCHANGE_ORDER_ID_MAX];           /* orderId in decimal */
    char client_order_id[CLB_CLIENT_ORDER_ID_MAX + 1];  /* cancel: the cancel's own id */
    char orig_client_order_id[CLB_CLIENT_ORDER_ID_MAX + 1]; /* cancel: the order's id; else "" */
    /* false for an ACK answer (only the ids and transactTime); the fields
     * below are then zero */
    bool has_details;
    enum clb_bn_order_status status;
    enum clb_side side;
    /* LIMIT, LIMIT_MAKER, MARKET; other Binance types map to LIMIT
     * (..._LIMIT) or MARKET (STOP_LOSS, TAKE_PROFIT): type_name has the
     * original */
    enum clb_order_type type;
    char type_name[CLB_BN_NAME_MAX];
    char time_in_force[8];
    clb_dec price, orig_qty, executed_qty, cum_quote_qty;
    int64_t time_ms;        /* transactTime (place/cancel) or time (status) */
    int64_t update_time_ms; /* updateTime, 0 when absent */
    size_t n_fills_total;   /* FULL answers: fills in the message */
};

struct clb_bn_fill {
    char trade_id[CLB_TRADE_ID_MAX];
    clb_dec price, qty, commission;
    char commission_asset[CLB_ASSET_MAX];
};

/* One order object. fills (may be NULL with fills_cap 0) receives the
 * first fills_cap entries of a FULL answer's "fills"; *n_fills (may be
 * NULL) how many were written; out->n_fills_total how many there are. */
int clb_bn_parse_order(const char *json, size_t len, struct clb_bn_order *out,
                       struct clb_bn_fill *fills, size_t fills_cap, size_t *n_fills, char *err,
                       size_t errlen);

/* GET /api/v3/openOrders, or the array DELETE /api/v3/openOrders answers:
 * order objects (CLB_EFULL above cap). */
int clb_bn_parse_open_orders(const char *json, size_t len, struct clb_bn_order *out, size_t cap,
                             size_t *n_out, char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* Trades, balances, fees                                                    */

/* One entry of GET /api/v3/myTrades. */
struct clb_bn_trade {
    char symbol[CLB_SYMBOL_MAX];
    char trade_id[CLB_TRADE_ID_MAX];           /* id */
    char order_id[CLB_EXCHANGE_ORDER_ID_MAX];  /* orderId */
    clb_dec price, qty, quote_qty, commission; /* quote_qty 0 when absent */
    char commission_asset[CLB_ASSET_MAX];
    int64_t time_ms;
    bool is_buyer, is_maker;
};

/* GET /api/v3/myTrades: an array of trades (CLB_EFULL above cap). */
int clb_bn_parse_my_trades(const char *json, size_t len, struct clb_bn_trade *out, size_t cap,
                           size_t *n_out, char *err, size_t errlen);

struct clb_bn_balance {
    char asset[CLB_ASSET_MAX];
    clb_dec free, locked;
};

/* Maker / taker commission rates as fractions (0.001 = 0.1 %). */
struct clb_bn_commission {
    clb_dec maker, taker;
};

/* GET /api/v3/account: balances (entries with free = locked = 0 skipped
 * when skip_zero), commissionRates into *comm when comm != NULL (CLB_EPARSE
 * if absent then). */
int clb_bn_parse_account(const char *json, size_t len, bool skip_zero,
                         struct clb_bn_balance *out, size_t cap, size_t *n_out,
                         struct clb_bn_commission *comm, char *err, size_t errlen);

/* GET /api/v3/account/commission ({"standardCommission":{maker,taker..}})
 * or an account answer ({"commissionRates":{maker,taker..}}). */
int clb_bn_parse_commission(const char *json, size_t len, struct clb_bn_commission *out,
                            char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* User data stream                                                          */

enum clb_bn_exec_type {
    CLB_BN_EXEC_NEW = 0,
    CLB_BN_EXEC_CANCELED,
    CLB_BN_EXEC_REPLACED,
    CLB_BN_EXEC_REJECTED,
    CLB_BN_EXEC_TRADE,
    CLB_BN_EXEC_EXPIRED,
    CLB_BN_EXEC_TRADE_PREVENTION,
    CLB_BN_EXEC_OTHER /* a type added after this code (e.g. AMENDMENT) */
};

struct clb_bn_exec_report {
    char symbol[CLB_SYMBOL_MAX];                         /* s */
    char client_order_id[CLB_CLIENT_ORDER_ID_MAX + 1];   /* c */
    char orig_client_order_id[CLB_CLIENT_ORDER_ID_MAX + 1]; /* C: "" unless a cancel */
    enum clb_side side;                                  /* S */
    enum clb_order_type type;                            /* o (see clb_bn_order) */
    char type_name[CLB_BN_NAME_MAX];
    char time_in_force[8];                               /* f, "" if absent */
    enum clb_bn_exec_type exec_type;                     /* x */
    enum clb_bn_order_status status;                     /* X */
    char reject_reason[CLB_BN_NAME_MAX];                 /* r, "NONE" normally */
    char order_id[CLB_EXCHANGE_ORDER_ID_MAX];            /* i */
    clb_dec price, orig_qty;                             /* p, q */
    clb_dec last_qty, cum_qty, last_price;               /* l, z, L */
    clb_dec commission;                                  /* n */
    char commission_asset[CLB_ASSET_MAX];                /* N, "" when null */
    clb_dec cum_quote;                                   /* Z */
    int64_t transact_time_ms;                            /* T */
    bool has_trade;                                      /* t != -1 */
    char trade_id[CLB_TRADE_ID_MAX];                     /* t, "" when -1 */
    bool is_maker;                                       /* m */
};

/* The client id of the order an execution report is about: C for a cancel
 * (c is then the cancel request's own id), else c. */
const char *clb_bn_exec_report_order_client_id(const struct clb_bn_exec_report *r);

#define CLB_BN_MAX_POSITION_BALANCES 32

struct clb_bn_account_position {
    int64_t update_time_ms; /* u */
    struct clb_bn_balance b[CLB_BN_MAX_POSITION_BALANCES]; /* B: a, f, l */
    size_t n;
};

struct clb_bn_balance_update {
    char asset[CLB_ASSET_MAX]; /* a */
    clb_dec delta;             /* d */
    int64_t clear_time_ms;     /* T */
};

enum clb_bn_user_event_kind {
    CLB_BN_UE_EXECUTION_REPORT = 0,
    CLB_BN_UE_ACCOUNT_POSITION,
    CLB_BN_UE_BALANCE_UPDATE,
    CLB_BN_UE_STREAM_TERMINATED, /* eventStreamTerminated: resubscribe */
    CLB_BN_UE_SERVER_SHUTDOWN,   /* serverShutdown: reconnect */
    CLB_BN_UE_OTHER              /* anything else: event_type says what */
};

struct clb_bn_user_event {
    enum clb_bn_user_event_kind kind;
    char event_type[CLB_BN_NAME_MAX]; /* e */
    int64_t event_time_ms;            /* E (0 when absent for OTHER) */
    bool has_subscription_id;
    int64_t subscription_id;          /* the WS-API wrapper's subscriptionId */
    union {
        struct clb_bn_exec_report exec;
        struct clb_bn_account_position position;
        struct clb_bn_balance_update balance;
    } u;
};

/* A user-data event, bare or wrapped as the WS-API sends it:
 * {"subscriptionId":0,"event":{...}}. CLB_EPARSE when "e" is missing. */
int clb_bn_parse_user_event(const char *json, size_t len, struct clb_bn_user_event *out,
                            char *err, size_t errlen);

/* ------------------------------------------------------------------------ */
/* WebSocket API                                                             */

enum clb_bn_ws_kind {
    CLB_BN_WS_RESPONSE = 0, /* {id, status, result|error, rateLimits} */
    CLB_BN_WS_EVENT,        /* {"subscriptionId", "event"} or a bare {"e":...} */
    CLB_BN_WS_UNKNOWN
};

/* What a WS-API connection message is; CLB_EPARSE when it is not a JSON
 * object. Returns the kind (>= 0) otherwise. */
int clb_bn_ws_message_kind(const char *json, size_t len);

#define CLB_BN_WS_ID_MAX 64

struct clb_bn_ws_response {
    char id[CLB_BN_WS_ID_MAX]; /* string ids as they are, integer ids in decimal, "" for null */
    int status;                /* HTTP-like: 200, 400, 403, 409, 418, 429, 5xx */
    bool has_error;
    struct clb_bn_error error; /* when has_error */
    int64_t retry_after_ms;    /* error.data.retryAfter (absolute server ms), else 0 */
    int64_t server_time_ms;    /* error.data.serverTime, else 0 */
    struct clb_bn_rate_limits rate_limits; /* with count; n = 0 when absent */
    bool has_result;
    size_t result_len;         /* bytes written to the result buffer */
};

/* Parses a WS-API response. The "result" value is written as compact JSON
 * (NUL-terminated) into result / result_cap for the matching parser above
 * (clb_bn_parse_order, ...); result may be NULL to skip it. CLB_EFULL when
 * the result does not fit. A response with neither result nor error is
 * CLB_EPARSE. */
int clb_bn_parse_ws_response(const char *json, size_t len, struct clb_bn_ws_response *out,
                             char *result, size_t result_cap, char *err, size_t errlen);

#endif
