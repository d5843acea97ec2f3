/*
 * simex.h — colibri-simex, a Binance-compatible spot exchange simulator with
 * fault injection, as a library (the colibri-simex binary is main.c on top;
 * tests start it in-process on an ephemeral port).
 *
 * What it serves, on one HTTP/WebSocket listener (libwebsockets, optional
 * TLS): Binance's spot REST API (/api/v3/...), market streams (/ws/...,
 * /stream?streams=...), the WebSocket API (/ws-api/v3) with the user data
 * stream, and inspection/control routes under /sim/ (loopback peers only).
 * Every symbol has a live market: background participant accounts place and
 * cancel real orders in core's one matching engine (matching.h), driven by
 * core's synthetic market generator (synth.h), so user orders really trade
 * against them. Faults (latency, 5xx, timeouts after commit, unknown-order
 * cancels, stale reads, WebSocket disconnects, dropped depth messages,
 * serverShutdown events, clock skew) are drawn from one seeded generator.
 *
 * Threading: everything runs on the thread that calls clb_simex_run() (the
 * libwebsockets service loop plus its timers); the only call allowed from
 * another thread is clb_simex_stop(). Create, run and destroy on one thread,
 * or create, then hand the object to the thread that runs it.
 */
#ifndef CLB_SIMEX_H
#define CLB_SIMEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decimal.h"
#include "synth.h"

#define CLB_SIMEX_MAX_SYMBOLS 8
#define CLB_SIMEX_MAX_ACCOUNTS 64
#define CLB_SIMEX_MAX_ASSETS 16
#define CLB_SIMEX_NAME_MAX 16  /* symbol / asset names, NUL included */
#define CLB_SIMEX_KEY_MAX 128  /* API key / secret, NUL included */
#define CLB_SIMEX_PATH_MAX 512

/* Faults. Every probability is drawn from the simulator's seeded fault
 * generator, in the order requests arrive. Zero turns a fault off. */
struct clb_simex_faults {
    int32_t latency_ms;             /* every REST and WS-API response delayed by this */
    int32_t jitter_ms;              /* ... plus uniform [0, jitter_ms) */
    double http_5xx_rate;           /* REST request answered 503 -1001, not executed */
    double http_5xx_commit_rate;    /* order/cancel executed, then answered 503 -1006 */
    double timeout_after_commit_rate; /* order/cancel executed, response never sent */
    int32_t timeout_hold_ms;        /* such a connection is closed after this (30000) */
    int32_t cancel_unknown_ms;      /* cancel of an order younger than this: -2011 */
    int32_t stale_read_ms;          /* GET order within this after a cancel: pre-cancel view */
    int32_t ws_disconnect_every_ms; /* each WebSocket closed (1001) this long after opening */
    double depth_drop_rate;         /* a depthUpdate is not sent to a connection */
    int32_t shutdown_every_ms;      /* serverShutdown to all WebSockets this often */
    int32_t shutdown_grace_ms;      /* ... and they are closed this long after (1000) */
    int64_t clock_skew_ms;          /* server clock = wall clock + skew */
};

/* Rate limits (exchangeInfo rateLimits). The weight window is window_ms long
 * and aligned to multiples of it in server time (Binance: one minute); the
 * headers keep Binance's names whatever the window. */
struct clb_simex_limits {
    int32_t request_weight;  /* per IP per window (6000) */
    int32_t window_ms;       /* 60000 */
    int32_t orders_10s;      /* new orders per account per 10 s (100) */
    int32_t orders_day;      /* per account per UTC day (200000) */
    int32_t ban_after_429;   /* 429 answers in one window before an IP ban (5) */
    int32_t ban_ms;          /* ban length (120000, Binance's shortest) */
    int32_t max_open_orders; /* per account and symbol: MAX_NUM_ORDERS (200) */
};

/* One symbol: trading rules (Binance filters; a zero rule is off) and the
 * background market. price/qty scales are the digits of tick/step. */
struct clb_simex_symbol {
    char symbol[CLB_SIMEX_NAME_MAX]; /* "BTCUSDT" */
    char base[CLB_SIMEX_NAME_MAX];
    char quote[CLB_SIMEX_NAME_MAX];
    clb_dec tick_size, min_price, max_price;
    clb_dec step_size, min_qty, max_qty;
    clb_dec min_notional, max_notional;
    bool live;           /* background participants on (default true) */
    clb_dec start_price; /* of the synthetic mid */
    clb_dec depth_top;   /* mean quantity at the best level, base units */
    clb_dec trade_size;  /* mean trade quantity, base units */
    /* The generator's remaining knobs (synth.h); scales, tick, step, start
     * price and time are filled from the fields above at start. */
    struct clb_synth_params market;
};

struct clb_simex_account {
    char api_key[CLB_SIMEX_KEY_MAX];
    char secret[CLB_SIMEX_KEY_MAX];
};

struct clb_simex_balance {
    char asset[CLB_SIMEX_NAME_MAX];
    clb_dec amount;
};

struct clb_simex_config {
    char host[64];  /* "127.0.0.1" */
    int port;       /* 9443; 0 = ephemeral (see clb_simex_port) */
    uint64_t seed;  /* markets, faults, generated ids */
    bool tls;
    char cert_path[CLB_SIMEX_PATH_MAX]; /* PEM; both empty with tls: generated */
    char key_path[CLB_SIMEX_PATH_MAX];
    struct clb_simex_symbol symbols[CLB_SIMEX_MAX_SYMBOLS];
    uint32_t n_symbols;
    struct clb_simex_account accounts[CLB_SIMEX_MAX_ACCOUNTS];
    uint32_t n_accounts;
    struct clb_simex_balance balances[CLB_SIMEX_MAX_ASSETS]; /* every account's start */
    uint32_t n_balances;
    int32_t maker_fee_ppm; /* 1000 = 0.1 %, Binance's base rate */
    int32_t taker_fee_ppm;
    uint32_t max_orders;   /* user orders remembered (live + finished), 100000 */
    uint32_t max_trades;   /* user fills remembered, 262144 */
    struct clb_simex_limits limits;
    struct clb_simex_faults faults;
    bool quiet;            /* no log lines on stderr */
};

/* Defaults: 127.0.0.1:9443, seed 1, no TLS, BTCUSDT and ETHUSDT with
 * Binance-like rules, balances 10 BTC, 10 ETH, 1000000 USDT, fees 0.1 %,
 * Binance's rate limits, no faults, no accounts. */
void clb_simex_config_default(struct clb_simex_config *cfg);

/* Applies a JSON configuration document (see tools/simex/README-section.md)
 * on top of *cfg: keys present replace defaults, "symbols" and "accounts"
 * replace the lists. CLB_EPARSE (bad JSON, unknown key, bad value) with a
 * message in err; *cfg may then be partly updated. */
int clb_simex_config_load_json(struct clb_simex_config *cfg, const char *json, size_t len,
                               char *err, size_t errlen);
/* The same from a file. CLB_EIO (unreadable), or as above. */
int clb_simex_config_load_file(struct clb_simex_config *cfg, const char *path, char *err,
                               size_t errlen);

/* Adds an account from "API_KEY:SECRET". CLB_EINVAL (malformed, too long,
 * duplicate key), CLB_EFULL. */
int clb_simex_config_add_account(struct clb_simex_config *cfg, const char *spec);

/* Parses "HOST:PORT" (or ":PORT", "PORT") into cfg. CLB_EINVAL. */
int clb_simex_config_set_listen(struct clb_simex_config *cfg, const char *spec);

struct clb_simex;

/* Builds the exchange, opens the listener (and with tls and no paths, a
 * self-signed certificate in a temporary directory). CLB_EINVAL (bad
 * config, message in err), CLB_ENOMEM, CLB_EIO (cannot listen). The caller
 * owns *out; release with clb_simex_destroy. */
int clb_simex_create(const struct clb_simex_config *cfg, struct clb_simex **out, char *err,
                     size_t errlen);

/* The port listened on (the ephemeral one when cfg.port was 0). */
int clb_simex_port(const struct clb_simex *s);

/* The PEM certificate served with TLS (generated or given), NULL without. */
const char *clb_simex_cert_path(const struct clb_simex *s);

/* Runs the service loop until clb_simex_stop. Returns CLB_OK, or CLB_EIO
 * when the loop failed. */
int clb_simex_run(struct clb_simex *s);

/* Asks the loop to return. Thread-safe and async-signal-safe enough for a
 * SIGINT handler (an atomic store plus lws_cancel_service). */
void clb_simex_stop(struct clb_simex *s);

/* Closes everything and frees s (NULL is a no-op). Not while running. */
void clb_simex_destroy(struct clb_simex *s);

#endif
