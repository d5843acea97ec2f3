/*
 * cli_serve.c — `colibri serve`: the long-running process. Loads and
 * validates the configuration (flags override the file), prepares the data
 * directory and the TLS certificate, starts the engine (paper trading on
 * the live simulated market by default), the admin-token bootstrap, the
 * HTTPS API and the WebSocket stream, prints where they listen, and waits
 * for SIGINT/SIGTERM.
 *
 * The store: config store.url, else $DATABASE_URL, else SQLite at
 * DATA_DIR/colibri.db. Before the engine starts, serve connects, applies
 * the embedded migrations (each applied one is logged; a failed migration
 * is fatal), registers this instance and closes that connection; then it
 * creates the store writer (its own connection, spill file
 * DATA_DIR/store-spill.bin) and hands it to the engine, whose worker is its
 * only producer. A database unreachable at start is not fatal: the writer
 * keeps retrying (and migrates when it connects) while the engine refuses
 * new orders. The writer stops after the engine, so the engine's final
 * records are written or saved to the spill file.
 *
 * Recovery (recovery.h): after migration and before the writer and the
 * engine, the paper connectors' open orders are recorded as cancelled (the
 * restarted venue does not hold them), their balances start from the
 * configured ones plus their stored fills, and their trade ids and client
 * order ids continue above the stored ones.
 *
 * Signals: SIGINT and SIGTERM are blocked in every thread (the mask is set
 * before any thread starts, so all inherit it) and the main thread takes
 * them with sigwait(): no async handler, no flag polling. Shutdown order:
 * stop accepting REST/console commands, close the WebSocket stream (clients
 * get 1001 "server stopping"), stop the engine (its strategies cancel their
 * orders and the cancels complete), then free everything; the sequence is
 * bounded well under 10 s (and an alarm ends the process if a component
 * hangs). SIGPIPE
 * is ignored: a peer closing a TLS socket must not kill the server.
 *
 * Output contract (tests parse it): stdout gets, in this order, "admin
 * token written to PATH" (first start only), "REST https://HOST:PORT",
 * "WebSocket wss://HOST:PORT/ws", optionally "debug console
 * 127.0.0.1:PORT", then "colibri serve ready"; logs go to stderr.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "engine.h"
#include "error.h"
#include "log.h"
#include "recovery.h"
#include "store/store.h"
#include "store/store_writer.h"
#include "tls_cert.h"

#include "auth.h"
#include "debug_console.h"
#include "gateway.h"
#include "http_api.h"
#include "ws_stream.h"

#define SERVE_ENGINE_STOP_MS 7000 /* engine share of the 10 s shutdown budget */
#define SERVE_STORE_STOP_MS 2000  /* writer: commit what is left, else spill it */
#define SERVE_WATCHDOG_S 12       /* last resort if a component hangs on stop */

#ifndef COLIBRI_VERSION
#define COLIBRI_VERSION "unknown"
#endif

static void usage(FILE *f)
{
    fprintf(f,
        "usage: colibri serve [--config FILE] [--data-dir DIR] [--listen HOST:PORT]\n"
        "                     [--ws-listen HOST:PORT] [--log-level LEVEL] [--web-dir DIR]\n"
        "\n"
        "Runs the engine: paper trading on a live simulated market (BTC-USDT and\n"
        "ETH-USDT) by default, an HTTPS API and a WebSocket stream. Stops cleanly on\n"
        "SIGINT/SIGTERM: strategies stop, their orders are cancelled, exit status 0.\n"
        "Strategies running when a run ends (shutdown or crash) resume at the next\n"
        "start, with their ids and parameters (resume_strategies: false to not).\n"
        "\n"
        "  --config FILE         JSON configuration (see below); flags override it\n"
        "  --data-dir DIR        tokens, TLS certificate, state (default ./var)\n"
        "  --listen HOST:PORT    REST API (default 127.0.0.1:8443; port 0 = any free)\n"
        "  --ws-listen HOST:PORT WebSocket stream (default 127.0.0.1:8444)\n"
        "  --log-level LEVEL     debug, info (default), warn or error\n"
        "  --web-dir DIR         dashboard files served at / (default: web next to\n"
        "                        the colibri executable, as the build copies them)\n"
        "\n"
        "Configuration keys: listen, ws_listen, data_dir, tick_ms, seed,\n"
        "tls {cert, key}, metrics {public}, debug_console, resume_strategies,\n"
        "worker {busy_poll, cpu} (poll without sleeping, pinned to that CPU),\n"
        "ws {allowed_origins},\n"
        "connectors [{name, type: \"paper\", markets, maker_fee, taker_fee, latency_ms} |\n"
        "            {name, type: \"binance\", markets, rest_url, stream_url, ws_api_url,\n"
        "             client_id_prefix, ca_file, orders_over_rest, cancel_orphans}]\n"
        "            (binance API keys: env\n"
        "            COLIBRI_<NAME>_API_KEY/_API_SECRET or COLIBRI_BINANCE_API_KEY/_SECRET),\n"
        "balances {ASSET: \"decimal\"}, store {url},\n"
        "gateway {networks: {NAME: {chain: \"ethereum\", rpc_url, chain_id, tokens\n"
        "         {SYMBOL: {address, decimals}}, uniswap_v2 {router, factory}}}}\n"
        "(DEX routes under /gateway/; wallets: colibri wallet add). Example:\n"
        "  {\"listen\": \"127.0.0.1:8443\", \"tick_ms\": 1000,\n"
        "   \"connectors\": [{\"name\": \"paper\", \"type\": \"paper\",\n"
        "                   \"markets\": [\"BTC-USDT\"], \"maker_fee\": 0.001}],\n"
        "   \"balances\": {\"BTC\": \"1\", \"USDT\": \"100000\"}}\n"
        "\n"
        "Without tls, a self-signed certificate for localhost is generated on the\n"
        "first start into DATA_DIR/tls (trust it with curl --cacert DATA_DIR/tls/cert.pem).\n"
        "On the first start an admin API token is written to DATA_DIR/admin.token.\n"
        "\n"
        "Orders, fills and balance snapshots are stored in store.url, else $DATABASE_URL\n"
        "(postgresql://...), else SQLite at DATA_DIR/colibri.db; migrations are applied on\n"
        "start. While the database is unreachable new orders are refused.\n");
}

/* mkdir -p with mode 0700 for the directories it creates. */
static int make_dirs(const char *path, char *err, size_t errlen)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(buf)) {
        snprintf(err, errlen, "%.300s: bad directory name", path);
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) {
            snprintf(err, errlen, "%.300s: %s", buf, strerror(errno));
            return -1;
        }
        buf[i] = c;
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%.300s: not a directory", path);
        return -1;
    }
    return 0;
}

/* "HOST" or "[HOST]" for IPv6 literals, for URLs. */
static void url_host(const char *host, char *out, size_t cap)
{
    if (strchr(host, ':'))
        snprintf(out, cap, "[%s]", host);
    else
        snprintf(out, cap, "%s", host);
}

static uint64_t pick_seed(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = ((uint64_t)ts.tv_sec << 30) ^ (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 16);
    /* splitmix64 finaliser, and keep it a non-negative JSON integer */
    x ^= x >> 30;
    x *= UINT64_C(0xbf58476d1ce4e5b9);
    x ^= x >> 27;
    x *= UINT64_C(0x94d049bb133111eb);
    x ^= x >> 31;
    return x >> 1;
}

/* Value of "--opt VALUE" or "--opt=VALUE" at argv[*i]; NULL if argv[*i] is
 * not this option. Sets *missing when the value is absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *name, bool *missing)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void store_log(void *ud, enum clb_store_log_level level, const char *msg)
{
    enum clb_log_level l = level == CLB_STORE_LOG_ERROR  ? CLB_LOG_ERROR
                           : level == CLB_STORE_LOG_WARN ? CLB_LOG_WARN
                                                         : CLB_LOG_INFO;
    clb_logf(ud, l, "store: %s", msg);
}

static void migrate_log(void *ud, long version, const char *file, bool applied)
{
    if (applied)
        clb_logf(ud, CLB_LOG_INFO, "store: applied migration %ld (%s)", version, file);
}

/* Creates the store writer on DATA_DIR's spill and queue files. 0, or -1
 * with the reason printed. */
static int start_writer(const struct clb_store_options *so, const char *data_dir,
                        struct clb_log *log, struct clb_store_writer **out)
{
    char err[512], spill[4200], queue[4200];
    snprintf(spill, sizeof(spill), "%s/store-spill.bin", data_dir);
    snprintf(queue, sizeof(queue), "%s/store-queue.bin", data_dir);
    struct clb_store_writer_options wo;
    clb_store_writer_options_init(&wo);
    wo.store = *so;
    wo.spill_path = spill;
    wo.queue_path = queue; /* what a killed run had queued is written at this start */
    wo.version = COLIBRI_VERSION;
    wo.log = store_log;
    wo.log_ud = log;
    if (clb_store_writer_create(&wo, out, err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "colibri serve: store writer: %s\n", err);
        return -1;
    }
    return 0;
}

/* Opens the store, migrates it, registers the instance, starts the writer
 * and lets it write what a previous run left queued (its spill and queue
 * files), then recovers the connectors from the complete store
 * (recovery.h; when the store is unreachable, only fresh id bases). 0, or
 * -1 with the reason printed (fatal). */
static int open_store(const char *url, const char *data_dir, struct clb_log *log,
                      json_t *connectors, struct clb_recovery *rec,
                      struct clb_store_writer **out, const char **backend_name)
{
    char err[512], target[1024], shown[1024];
    enum clb_store_backend backend;
    int rc = clb_store_parse_url(url, data_dir, &backend, target, sizeof(target));
    clb_store_url_redact(url && *url ? url : target, shown, sizeof(shown));
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri serve: store: %s: %s\n", shown,
                rc == CLB_EUNSUPPORTED ? "unsupported URL (postgresql://..., sqlite:PATH or a path)"
                                       : clb_strerror(rc));
        return -1;
    }
    *backend_name = clb_store_backend_name(backend);
    struct clb_store_options so;
    clb_store_options_init(&so);
    so.url = url;
    so.data_dir = data_dir;
    struct clb_store *st = NULL;
    rc = clb_store_open(&so, &st, err, sizeof(err));
    if (rc == CLB_EIO) {
        clb_logf(log, CLB_LOG_WARN,
                 "store: %s %s is unreachable (%s): new orders are refused until it connects",
                 *backend_name, shown, err);
        clb_logf(log, CLB_LOG_WARN, "recovery skipped: paper balances start from the "
                 "configuration, stored orders stay as they are");
        clb_recovery_fallback(connectors, wall_ms(), rec);
        return start_writer(&so, data_dir, log, out);
    }
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri serve: store: %s: %s\n", shown, err);
        return -1;
    }
    int n = 0;
    rc = clb_store_migrate(st, migrate_log, log, &n);
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri serve: store: %s: migration failed: %s\n", shown,
                clb_store_errmsg(st));
        clb_store_close(st);
        return -1;
    }
    if (clb_store_errmsg(st)[0])
        clb_logf(log, CLB_LOG_WARN, "store: %s", clb_store_errmsg(st));
    long version = 0;
    clb_store_schema_version(st, &version);
    clb_logf(log, CLB_LOG_INFO, "store: %s %s, schema version %ld (%d migration(s) applied)",
             *backend_name, shown, version, n);
    rc = clb_store_instance_register(st, COLIBRI_VERSION, wall_ms());
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri serve: store: %s: cannot register the instance: %s\n", shown,
                clb_store_errmsg(st));
        clb_store_close(st);
        return -1;
    }
    if (start_writer(&so, data_dir, log, out) != 0) {
        clb_store_close(st);
        return -1;
    }
    /* A previous run's records first, so recovery sees them. */
    struct clb_store_writer_status ws;
    clb_store_writer_status(*out, &ws);
    bool behind = false;
    if (ws.enqueued > 0) {
        clb_logf(log, CLB_LOG_INFO, "store: writing %llu record(s) a previous run left queued",
                 (unsigned long long)ws.enqueued);
        behind = clb_store_writer_flush(*out, 15000) != CLB_OK;
    }
    rc = clb_recovery_run(st, connectors, wall_ms(), log, rec, err, sizeof(err));
    clb_store_close(st);
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri serve: store: %s: recovery failed: %s\n", shown, err);
        clb_store_writer_destroy(*out);
        *out = NULL;
        return -1;
    }
    if (behind) {
        /* Written after recovery: their fills are not in the recovered
         * balances, and new ids must not collide with theirs. */
        clb_logf(log, CLB_LOG_WARN, "recovery: records of a previous run could not be written "
                 "first: paper balances may miss their fills");
        clb_recovery_fresh_ids(rec, wall_ms());
    }
    return 0;
}

struct serve_args {
    const char *config;
    const char *data_dir;
    const char *listen;
    const char *ws_listen;
    const char *log_level;
    const char *web_dir;
};

/* The dashboard directory: --web-dir, else `web` next to /proc/self/exe. */
static void web_dir_path(const char *flag, char *out, size_t cap)
{
    out[0] = '\0';
    if (flag) {
        snprintf(out, cap, "%s", flag);
        return;
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return;
    *slash = '\0';
    snprintf(out, cap, "%s/web", exe);
}

static int parse_args(int argc, char **argv, struct serve_args *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        bool missing = false;
        const char *v;
        if ((v = opt_value(argc, argv, &i, "--config", &missing)))
            a->config = v;
        else if ((v = opt_value(argc, argv, &i, "--data-dir", &missing)))
            a->data_dir = v;
        else if ((v = opt_value(argc, argv, &i, "--listen", &missing)))
            a->listen = v;
        else if ((v = opt_value(argc, argv, &i, "--ws-listen", &missing)))
            a->ws_listen = v;
        else if ((v = opt_value(argc, argv, &i, "--log-level", &missing)))
            a->log_level = v;
        else if ((v = opt_value(argc, argv, &i, "--web-dir", &missing)))
            a->web_dir = v;
        if (missing) {
            fprintf(stderr, "colibri serve: %s needs a value\n", argv[i]);
            return -1;
        }
        if (!v) {
            fprintf(stderr, "colibri serve: unknown argument '%s' (see --help)\n", argv[i]);
            return -1;
        }
    }
    return 0;
}

int cli_serve_main(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    struct serve_args args;
    if (parse_args(argc, argv, &args) != 0)
        return 2;

    int status = 1;
    char err[512];
    struct clb_serve_config cfg;
    struct clb_log *log = NULL;
    struct clb_engine *engine = NULL;
    struct clb_store_writer *writer = NULL;
    clb_serve_config_init(&cfg);
    struct clb_http *http = NULL;
    struct clb_ws *ws = NULL;
    struct clb_console *console = NULL;
    struct clb_gateway *gateway = NULL;

    enum clb_log_level level = CLB_LOG_INFO;
    if (args.log_level && clb_log_level_parse(args.log_level, &level) != CLB_OK) {
        fprintf(stderr, "colibri serve: --log-level: must be debug, info, warn or error\n");
        status = 2;
        goto out;
    }
    if (args.config && clb_serve_config_load(&cfg, args.config, err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "colibri serve: %s\n", err);
        goto out;
    }
    if (args.listen && clb_parse_host_port(args.listen, cfg.listen_host, sizeof(cfg.listen_host),
                                           &cfg.listen_port, err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "colibri serve: --listen: %s\n", err);
        status = 2;
        goto out;
    }
    if (args.ws_listen && clb_parse_host_port(args.ws_listen, cfg.ws_host, sizeof(cfg.ws_host),
                                              &cfg.ws_port, err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "colibri serve: --ws-listen: %s\n", err);
        status = 2;
        goto out;
    }
    if (args.data_dir && clb_serve_config_set_data_dir(&cfg, args.data_dir) != CLB_OK) {
        fprintf(stderr, "colibri serve: --data-dir: must be a non-empty path\n");
        status = 2;
        goto out;
    }
    const char *data_dir = cfg.data_dir ? cfg.data_dir : "./var";
    if (make_dirs(data_dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "colibri serve: data directory %s\n", err);
        goto out;
    }
    if (clb_log_create(stderr, level, &log) != CLB_OK) {
        fprintf(stderr, "colibri serve: out of memory\n");
        goto out;
    }

    /* Before any thread exists: every thread inherits this mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* TLS material. */
    char cert[4200], key[4200];
    if (cfg.tls_cert) {
        snprintf(cert, sizeof(cert), "%s", cfg.tls_cert);
        snprintf(key, sizeof(key), "%s", cfg.tls_key);
        if (access(cert, R_OK) != 0 || access(key, R_OK) != 0) {
            fprintf(stderr, "colibri serve: tls: cannot read %s: %s\n",
                    access(cert, R_OK) != 0 ? cert : key, strerror(errno));
            goto out;
        }
    } else {
        bool created = false;
        if (clb_tls_ensure_selfsigned(data_dir, cert, key, sizeof(cert), &created, err,
                                      sizeof(err)) != CLB_OK) {
            fprintf(stderr, "colibri serve: TLS certificate: %s\n", err);
            goto out;
        }
        char fp[128] = "";
        clb_tls_fingerprint(cert, fp, sizeof(fp), err, sizeof(err));
        clb_logf(log, CLB_LOG_INFO, "%s self-signed certificate %s (SHA-256 %s)",
                 created ? "generated a" : "using the", cert, fp);
    }

    if (!cfg.seed_set)
        cfg.seed = pick_seed();
    clb_logf(log, CLB_LOG_INFO, "simulated market seed %llu (set \"seed\" to replay it)",
             (unsigned long long)cfg.seed);
    const char *store_url = cfg.store_url ? cfg.store_url : getenv("DATABASE_URL");
    const char *backend_name = NULL;
    struct clb_engine_config ec;
    clb_serve_config_engine(&cfg, &ec);
    struct clb_recovery rec;
    if (open_store(store_url && *store_url ? store_url : NULL, data_dir, log, ec.connectors,
                   &rec, &writer, &backend_name) != 0)
        goto out;
    clb_recovery_apply(&rec, &ec);
    if (!cfg.resume_strategies && ec.n_resume) {
        clb_logf(log, CLB_LOG_INFO, "resume_strategies is false: the %zu strategy(ies) running "
                 "when the last run ended stay stopped", ec.n_resume);
        ec.resume = NULL;
        ec.n_resume = 0;
    }
    ec.log = log;
    ec.store_writer = writer;
    ec.store_backend = backend_name;
    ec.data_dir = data_dir; /* exchange API keys from DATA_DIR/secrets.json */
    int erc = clb_engine_create(&ec, &engine, err, sizeof(err));
    clb_recovery_free(&rec); /* handed over: the connectors copied what they keep */
    if (erc != CLB_OK) {
        fprintf(stderr, "colibri serve: engine: %s\n", err);
        goto out;
    }

    {
        char tok[4200];
        int rc = clb_auth_bootstrap_admin(data_dir, store_url, tok, sizeof(tok));
        if (rc < 0) {
            fprintf(stderr, "colibri serve: admin token: %s\n", clb_strerror(rc));
            goto out;
        }
        if (rc == 1)
            printf("admin token written to %s\n", tok);
    }
    char host[CLB_HOST_MAX + 2];
    {
        char web_dir[PATH_MAX + 8];
        web_dir_path(args.web_dir, web_dir, sizeof(web_dir));
        struct stat wst;
        if (web_dir[0] && (stat(web_dir, &wst) != 0 || !S_ISDIR(wst.st_mode)))
            clb_logf(log, CLB_LOG_WARN, "dashboard directory %s not found: / answers 404",
                     web_dir);
        struct clb_http_config hc = {
            .host = cfg.listen_host,
            .port = cfg.listen_port,
            .cert_pem_path = cert,
            .key_pem_path = key,
            .data_dir = data_dir,
            .store_url = store_url,
            .metrics_public = cfg.metrics_public,
            .engine = engine,
            .web_dir = web_dir[0] ? web_dir : NULL,
        };
        if (clb_gateway_create(cfg.gateway, data_dir, &gateway, err, sizeof(err)) != CLB_OK) {
            fprintf(stderr, "colibri serve: gateway: %s\n", err);
            goto out;
        }
        hc.gateway = gateway;
        if (cfg.gateway)
            clb_logf(log, CLB_LOG_INFO, "gateway: %zu network(s) under /gateway/",
                     json_object_size(json_object_get(cfg.gateway, "networks")));
        if (clb_http_start(&hc, &http, err, sizeof(err)) != CLB_OK) {
            fprintf(stderr, "colibri serve: REST API on %s:%d: %s\n", cfg.listen_host,
                    cfg.listen_port, err);
            goto out;
        }
        url_host(cfg.listen_host, host, sizeof(host));
        printf("REST https://%s:%d\n", host, clb_http_port(http));
    }
    {
        struct clb_ws_config wc = {
            .host = cfg.ws_host,
            .port = cfg.ws_port,
            .cert_pem_path = cert,
            .key_pem_path = key,
            .data_dir = data_dir,
            .store_url = store_url,
            .allowed_origins = (const char *const *)cfg.allowed_origins,
            .n_origins = cfg.n_origins,
            .engine = engine,
        };
        if (clb_ws_start(&wc, &ws, err, sizeof(err)) != CLB_OK) {
            fprintf(stderr, "colibri serve: WebSocket on %s:%d: %s\n", cfg.ws_host, cfg.ws_port,
                    err);
            goto out;
        }
        url_host(cfg.ws_host, host, sizeof(host));
        printf("WebSocket wss://%s:%d/ws\n", host, clb_ws_port(ws));
        char ws_url[CLB_HOST_MAX + 32];
        snprintf(ws_url, sizeof(ws_url), "wss://%s:%d/ws", host, clb_ws_port(ws));
        clb_http_set_stream(http, ws_url, clb_ws_port(ws)); /* for the dashboard */
    }
    if (cfg.debug_console) {
        if (clb_console_start(engine, data_dir, store_url, cfg.debug_console_port, &console, err,
                              sizeof(err)) != CLB_OK) {
            fprintf(stderr, "colibri serve: debug console: %s\n", err);
            goto out;
        }
        printf("debug console 127.0.0.1:%d\n", clb_console_port(console));
    }
    (void)host;
    printf("colibri serve ready\n");
    fflush(stdout);
    clb_logf(log, CLB_LOG_INFO, "ready (pid %ld); SIGINT or SIGTERM stops", (long)getpid());

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0 || (sig != SIGINT && sig != SIGTERM))
        ;
    clb_logf(log, CLB_LOG_INFO, "%s received: shutting down",
             sig == SIGINT ? "SIGINT" : "SIGTERM");
    alarm(SERVE_WATCHDOG_S);
    status = 0;

out:
    clb_console_stop(console);
    clb_http_stop(http);
    clb_gateway_destroy(gateway); /* after the API: no request is running */
    /* The stream stops before the engine: its service loop is woken by the
     * engine's events, which end with the engine. */
    clb_ws_stop(ws);
    if (engine)
        clb_engine_shutdown(engine, SERVE_ENGINE_STOP_MS);
    clb_engine_destroy(engine);
    /* After the engine (its only producer): commit what is left, else save
     * it to the spill file for the next start. */
    if (writer) {
        int rc = clb_store_writer_stop(writer, SERVE_STORE_STOP_MS);
        if (rc != CLB_OK)
            clb_logf(log, CLB_LOG_WARN, "store: %s",
                     rc == CLB_ETIMEDOUT ? "records left in the spill file for the next start"
                                         : "some records could not be saved");
        clb_store_writer_destroy(writer);
    }
    if (status == 0)
        clb_logf(log, CLB_LOG_INFO, "stopped");
    clb_log_destroy(log);
    clb_serve_config_deinit(&cfg);
    fflush(stdout);
    return status;
}
