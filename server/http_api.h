/*
 * http_api.h — the HTTPS control API: REST under /api/v1 (JSON), /health,
 * /metrics (Prometheus text), bearer-token auth with roles.
 *
 * libmicrohttpd serves it with one thread per connection (connections are
 * capped, so threads are too); handlers answer from the engine's published
 * snapshots and send commands through clb_engine_call(), never touching
 * engine state. The routes and bodies are described in api-spec/openapi.yaml.
 * The DEX gateway's /gateway/... routes are answered by gateway/gateway.h
 * (given in the config; they block their connection thread on the node).
 *
 * It also serves the dashboard's static files (web/, copied into build/web)
 * without a token: GET / is index.html, GET /web/PATH and /assets/PATH are
 * files under the web directory; the page holds no data, it asks the API
 * (with the token the user types) and GET /api/v1/config/stream tells it
 * where the WebSocket stream listens.
 */
#ifndef CLB_HTTP_API_H
#define CLB_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>

struct clb_engine;
struct clb_gateway;
struct clb_http;

#define CLB_HTTP_MAX_BODY (64 * 1024)   /* request bodies above this: 413 */
#define CLB_HTTP_MAX_CONNECTIONS 64     /* concurrent connections (threads) */
#define CLB_HTTP_MAX_PER_IP 32          /* concurrent connections per client address */
#define CLB_HTTP_TIMEOUT_S 30           /* idle connection timeout */
#define CLB_HTTP_ENGINE_TIMEOUT_MS 5000 /* wait for an engine command */

struct clb_http_config {
    const char *host;          /* address to bind ("127.0.0.1", "::"); NULL = 127.0.0.1 */
    int port;                  /* 0 = any free port (see clb_http_port) */
    const char *cert_pem_path; /* TLS certificate chain (PEM); NULL with key NULL = plain HTTP */
    const char *key_pem_path;  /* TLS private key (PEM) */
    const char *data_dir;      /* token store's offline copy, default SQLite (required) */
    const char *store_url;     /* database holding the tokens; NULL = DATA_DIR/colibri.db */
    bool metrics_public;       /* /metrics without a token */
    struct clb_engine *engine; /* borrowed; NULL = no engine: its routes answer 503 */
    const char *web_dir;       /* dashboard files (copied); NULL or "" = no static routes */
    struct clb_gateway *gateway; /* borrowed; NULL = the /gateway routes answer 503 */
};

#define CLB_HTTP_STATIC_MAX_BYTES (8 * 1024 * 1024) /* larger static files: 404 */

/* Starts the server (its threads run until clb_http_stop). Reads the PEM
 * files and opens the token store now. Returns CLB_OK and *out, or
 * CLB_EINVAL (bad host/port, one of cert/key missing, no data_dir),
 * CLB_EIO (unreadable PEM, token store, bind failure, TLS unsupported) with
 * a one-line message in err. The engine must outlive the server. Any thread. */
int clb_http_start(const struct clb_http_config *cfg, struct clb_http **out, char *err,
                   size_t errlen);

/* Records where the WebSocket stream listens (url like
 * "wss://127.0.0.1:8444/ws", its port), served by GET /api/v1/config/stream;
 * until it is called that route answers 503. Copies url (truncated at 255
 * bytes). Any thread; NULL-safe. */
void clb_http_set_stream(struct clb_http *h, const char *url, int port);

/* The port actually bound (useful when 0 was asked). */
int clb_http_port(const struct clb_http *h);

/* Stops accepting, waits for running requests, frees everything. NULL-safe.
 * Not from a request handler. */
void clb_http_stop(struct clb_http *h);

#endif
