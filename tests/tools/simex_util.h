/*
 * simex_util.h — helpers for the colibri-simex tests: a simulator running
 * in-process on its own thread on an ephemeral port, blocking HTTP calls
 * through libcurl (with Binance signing done independently of the
 * simulator's code, with OpenSSL), and a small blocking WebSocket client on
 * libwebsockets.
 */
#ifndef SIMEX_UTIL_H
#define SIMEX_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "simex.h"

#define SXT_ALICE "alice-key"
#define SXT_ALICE_SECRET "alice-secret"
#define SXT_BOB "bob-key"
#define SXT_BOB_SECRET "bob-secret"

struct sxt {
    struct clb_simex *sim;
    pthread_t thread;
    int port;
};

/* Test defaults: port 0, quiet, accounts alice and bob, the background
 * market off (deterministic books), a one-hour weight window. */
void sxt_config(struct clb_simex_config *cfg);
/* Creates the simulator and runs it on a thread (asserts on failure). */
void sxt_start(struct sxt *t, const struct clb_simex_config *cfg);
void sxt_stop(struct sxt *t);

struct sxt_http {
    long status;
    char *body;   /* NUL-terminated */
    json_t *json; /* parsed body or NULL */
    char headers[4096];
    double secs;  /* total time */
    int curl_rc;  /* CURLE_OK, CURLE_OPERATION_TIMEDOUT, ... */
};

/* One request. body may be NULL; api_key NULL sends no X-MBX-APIKEY. */
void sxt_http(struct sxt *t, const char *method, const char *path_query, const char *body,
              const char *api_key, long timeout_ms, struct sxt_http *out);
/* A signed request: params (may be "") get "&timestamp=<now>" (unless they
 * hold one) and the signature; in_body puts everything in the body. */
void sxt_signed(struct sxt *t, const char *method, const char *path, const char *params,
                const char *key, const char *secret, bool in_body, struct sxt_http *out);
void sxt_http_free(struct sxt_http *r);
/* A response header's value (case-insensitive name) into buf, or NULL. */
const char *sxt_header(const struct sxt_http *r, const char *name, char *buf, size_t cap);
/* Binance error code of the body (0 when none). */
int sxt_code(const struct sxt_http *r);

/* POST /sim/... with a JSON body; asserts 200. */
void sxt_sim_post(struct sxt *t, const char *path, const char *json);

/* A trade of the simulator's /sim/trades list: its id as text into tid,
 * and the client order id of its order found in orders (/sim/orders'
 * list; NULL when absent, pointing into orders otherwise). */
const char *sxt_trade_ids(json_t *trade, json_t *orders, char tid[32]);

int64_t sxt_now_ms(void);
void sxt_sleep_ms(int ms);
/* Lower-case hex HMAC-SHA256 (OpenSSL). */
void sxt_hmac(const char *secret, const char *msg, char out[65]);

/* WebSocket client. */
struct sxt_ws;
struct sxt_ws *sxt_ws_open(int port, const char *path);
void sxt_ws_send(struct sxt_ws *w, const char *text);
void sxt_ws_ping(struct sxt_ws *w);
/* Next text message (caller frees) or NULL after timeout_ms / when closed. */
char *sxt_ws_recv(struct sxt_ws *w, int timeout_ms);
json_t *sxt_ws_recv_json(struct sxt_ws *w, int timeout_ms);
/* Services the connection for ms (messages queue up). */
void sxt_ws_pump(struct sxt_ws *w, int ms);
bool sxt_ws_closed(const struct sxt_ws *w);
int sxt_ws_close_code(const struct sxt_ws *w);
int sxt_ws_pongs(const struct sxt_ws *w);
void sxt_ws_close(struct sxt_ws *w);

#endif
