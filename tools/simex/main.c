/*
 * main.c — the colibri-simex command: parses the command line over the
 * configuration file, starts the simulator and runs it until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "error.h"
#include "simex.h"

/* The one object a signal handler must reach; only main() writes it. */
static struct clb_simex *volatile running;

static void on_signal(int sig)
{
    (void)sig;
    if (running)
        clb_simex_stop(running);
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: colibri-simex [--listen HOST:PORT] [--config FILE] "
            "[--account API_KEY:SECRET ...]\n"
            "                     [--seed N] [--tls] [--cert FILE --key FILE] [--quiet]\n"
            "\n"
            "A Binance-compatible spot exchange simulator with fault injection.\n"
            "It serves Binance's REST API (/api/v3/...), market streams (/ws/<stream>,\n"
            "/stream?streams=a/b), the WebSocket API (/ws-api/v3) with the user data\n"
            "stream, and inspection/control routes under /sim/ (loopback only).\n"
            "Background participants keep a live, seeded market on every symbol.\n"
            "\n"
            "options:\n"
            "  --listen HOST:PORT   address to listen on (default 127.0.0.1:9443; port 0 picks\n"
            "                       a free port)\n"
            "  --config FILE        JSON configuration (symbols, balances, fees, limits,\n"
            "                       faults, accounts); command-line options override it\n"
            "  --account KEY:SECRET an API key and its HMAC secret; funded with the\n"
            "                       configuration's balances (repeatable)\n"
            "  --seed N             seed of the markets, faults and generated ids\n"
            "  --tls                serve HTTPS/WSS (a self-signed certificate is generated\n"
            "                       unless --cert/--key are given)\n"
            "  --cert FILE --key FILE  PEM certificate and key for TLS\n"
            "  --quiet              no log lines\n"
            "  --help               this text\n");
}

static int need_arg(int argc, char **argv, int i)
{
    if (i + 1 >= argc) {
        fprintf(stderr, "colibri-simex: %s needs a value\n", argv[i]);
        return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    struct clb_simex_config cfg;
    clb_simex_config_default(&cfg);
    char err[512];
    /* the configuration file first, so every other option overrides it */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0) {
            if (!need_arg(argc, argv, i))
                return 2;
            if (clb_simex_config_load_file(&cfg, argv[i + 1], err, sizeof(err)) != CLB_OK) {
                fprintf(stderr, "colibri-simex: %s: %s\n", argv[i + 1], err);
                return 2;
            }
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--config") == 0) {
            i++;
        } else if (strcmp(a, "--listen") == 0) {
            if (!need_arg(argc, argv, i))
                return 2;
            if (clb_simex_config_set_listen(&cfg, argv[++i]) != CLB_OK) {
                fprintf(stderr, "colibri-simex: bad --listen '%s' (want HOST:PORT)\n", argv[i]);
                return 2;
            }
        } else if (strcmp(a, "--account") == 0) {
            if (!need_arg(argc, argv, i))
                return 2;
            int rc = clb_simex_config_add_account(&cfg, argv[++i]);
            if (rc != CLB_OK) {
                fprintf(stderr,
                        "colibri-simex: bad --account (want KEY:SECRET, key of letters, digits, "
                        "'-', '_', distinct keys, at most %d): %s\n",
                        CLB_SIMEX_MAX_ACCOUNTS, clb_strerror(rc));
                return 2;
            }
        } else if (strcmp(a, "--seed") == 0) {
            if (!need_arg(argc, argv, i))
                return 2;
            char *end;
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (*end || errno || argv[i][0] == '-') {
                fprintf(stderr, "colibri-simex: bad --seed '%s'\n", argv[i]);
                return 2;
            }
            cfg.seed = v;
        } else if (strcmp(a, "--tls") == 0) {
            cfg.tls = true;
        } else if (strcmp(a, "--cert") == 0 || strcmp(a, "--key") == 0) {
            if (!need_arg(argc, argv, i))
                return 2;
            char *dst = a[2] == 'c' ? cfg.cert_path : cfg.key_path;
            snprintf(dst, CLB_SIMEX_PATH_MAX, "%s", argv[++i]);
            cfg.tls = true;
        } else if (strcmp(a, "--quiet") == 0) {
            cfg.quiet = true;
        } else {
            fprintf(stderr, "colibri-simex: unknown option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (cfg.tls && (!cfg.cert_path[0]) != (!cfg.key_path[0])) {
        fprintf(stderr, "colibri-simex: --cert and --key go together\n");
        return 2;
    }
    if (cfg.n_accounts == 0 && !cfg.quiet)
        fprintf(stderr, "colibri-simex: no accounts: signed endpoints will answer -2015 "
                        "(add --account KEY:SECRET)\n");
    lws_set_log_level(cfg.quiet ? LLL_ERR : LLL_ERR | LLL_WARN, NULL);
    struct clb_simex *s;
    if (clb_simex_create(&cfg, &s, err, sizeof(err)) != CLB_OK) {
        fprintf(stderr, "colibri-simex: %s\n", err);
        return 1;
    }
    running = s;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!cfg.quiet) {
        fprintf(stderr,
                "colibri-simex: listening on %s://%s:%d (REST /api/v3, streams /ws /stream, "
                "WS-API /ws-api/v3, control /sim), seed %llu, %u account(s)\n",
                cfg.tls ? "https" : "http", cfg.host, clb_simex_port(s),
                (unsigned long long)cfg.seed, cfg.n_accounts);
        if (clb_simex_cert_path(s))
            fprintf(stderr, "colibri-simex: TLS certificate %s\n", clb_simex_cert_path(s));
    }
    int rc = clb_simex_run(s);
    running = NULL;
    clb_simex_destroy(s);
    return rc == CLB_OK ? 0 : 1;
}
