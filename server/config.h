/*
 * config.h — the `colibri serve` configuration: a JSON file, validated
 * completely before anything starts, with errors that name the file, the
 * key and the reason ("serve.json: tick_ms: must be an integer in
 * [1, 3600000]"); command-line flags override it.
 *
 * Keys (all optional; unknown keys are errors):
 *   listen        "HOST:PORT" of the REST API       default "127.0.0.1:8443"
 *   ws_listen     "HOST:PORT" of the WebSocket      default "127.0.0.1:8444"
 *                 (IPv6 hosts in brackets: "[::1]:8443"; port 0 = ephemeral)
 *   data_dir      directory of tokens, TLS files     default "./var"
 *   tick_ms       clock tick                         default 1000 (1..3600000)
 *   seed          synthetic market seed (integer >= 0); default: chosen at
 *                 start from the time and pid, and logged
 *   tls           {"cert": PATH, "key": PATH} both or neither; default: a
 *                 self-signed pair generated in DATA_DIR/tls (tls_cert.h)
 *   metrics       {"public": BOOL}  /metrics without a token, default false
 *   debug_console false | true (port 8211) | PORT    default false
 *   resume_strategies  BOOL: at start, create and start again the strategies
 *                 that were running when the last run ended (recovery.h,
 *                 item 7)                            default true
 *   worker        {"busy_poll": BOOL, "cpu": N | null} the engine's worker
 *                 thread: poll without sleeping, pinned to CPU N (engine.h)
 *                                                    default false, null
 *   ws            {"allowed_origins": ["https://host:port", ...]}
 *   connectors    [{name, type: "paper", markets[], maker_fee, taker_fee,
 *                   latency_ms} | {name, type: "binance", markets[], rest_url,
 *                   stream_url, ws_api_url, client_id_prefix, ca_file}]
 *                   (checked by clb_engine_check_config; see engine.h)
 *   balances      {"ASSET": "decimal", ...}          (idem)
 *   store         {"url": "sqlite:..." | "postgres://..."} the database (default sqlite: DATA_DIR/colibri.db; DATABASE_URL also works)
 *   gateway       {"networks": {NAME: {chain, rpc_url, chain_id, tokens,
 *                   uniswap_v2, ...}}} DEX gateway (checked by
 *                   clb_gateway_check_config, see gateway/gateway.h)
 * Relative paths are relative to the current directory.
 *
 * Not thread-safe (one owner); no global state.
 */
#ifndef CLB_CONFIG_H
#define CLB_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"

#define CLB_HOST_MAX 256
#define CLB_CONFIG_MAX_ORIGINS 64

struct clb_serve_config {
    char listen_host[CLB_HOST_MAX];
    int listen_port;
    char ws_host[CLB_HOST_MAX];
    int ws_port;
    char *data_dir;           /* heap; NULL = the default "./var" */
    int64_t tick_ms;
    uint64_t seed;
    bool seed_set;
    char *tls_cert;           /* heap or NULL (generate) */
    char *tls_key;
    bool metrics_public;
    bool debug_console;
    int debug_console_port;
    bool resume_strategies;
    bool busy_poll;           /* "worker": {"busy_poll": BOOL, "cpu": N} (engine.h) */
    int worker_cpu;           /* -1: not pinned */
    char **allowed_origins;   /* heap array of heap strings, NULL when not configured */
    size_t n_origins;
    json_t *connectors;       /* owned reference or NULL (engine defaults) */
    json_t *balances;         /* owned reference or NULL */
    char *store_url;          /* heap or NULL */
    json_t *gateway;          /* owned reference or NULL: the DEX gateway's networks */
};

/* Fills *c with the defaults. Pair with clb_serve_config_deinit. */
void clb_serve_config_init(struct clb_serve_config *c);
void clb_serve_config_deinit(struct clb_serve_config *c);

/* Loads and validates a file over the defaults. CLB_OK, or CLB_EINVAL /
 * CLB_EIO / CLB_ENOMEM with "PATH: key: why" (or "PATH:LINE:COLUMN: why"
 * for malformed JSON) in err; on error *c is left as it was. */
int clb_serve_config_load(struct clb_serve_config *c, const char *path, char *err, size_t errlen);

/* The same from a JSON text; `source` names it in messages. */
int clb_serve_config_parse(struct clb_serve_config *c, const char *text, const char *source,
                           char *err, size_t errlen);

/* Parses "HOST:PORT" / "[V6]:PORT" (port 0..65535). CLB_OK or CLB_EINVAL
 * with the reason (without a key prefix) in err. */
int clb_parse_host_port(const char *s, char *host, size_t cap, int *port, char *err,
                        size_t errlen);

/* Replaces the data directory (CLI override). CLB_OK, CLB_EINVAL (empty),
 * CLB_ENOMEM. */
int clb_serve_config_set_data_dir(struct clb_serve_config *c, const char *dir);

/* The engine configuration this describes (borrowing c's JSON; c must
 * outlive the engine's creation). */
void clb_serve_config_engine(const struct clb_serve_config *c, struct clb_engine_config *out);

#endif
