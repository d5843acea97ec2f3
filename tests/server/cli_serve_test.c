/*
 * End-to-end tests of `colibri serve`: the built binary starts on ephemeral
 * ports in a temporary data directory, prints its URLs, generates its
 * certificate and admin token, and exits 0 within 10 s on SIGTERM/SIGINT;
 * bad flags and bad configuration files fail with precise messages.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

static char g_dir[256];
static pid_t g_child; /* a running server, killed by teardown if a test failed */

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_cli_serve_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
    if (g_child > 0) {
        kill(g_child, SIGKILL);
        waitpid(g_child, NULL, 0);
        g_child = 0;
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli_serve, .init = setup, .fini = teardown, .timeout = 60);

/* Starts `colibri serve ARGS...` with stdout/stderr in files of g_dir. */
static pid_t spawn(const char *const *args)
{
    pid_t pid = spawn_serve_in(g_dir, args, false);
    cr_assert(pid >= 0);
    g_child = pid;
    return pid;
}

/* Waits for a line starting with `prefix` in out.txt; copies it. */
static bool wait_line(const char *prefix, char *line, size_t cap, double timeout_s)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/out.txt", g_dir);
    return wait_file_line(path, prefix, line, cap, timeout_s);
}

/* Waits for the child to exit; returns its status or -1 on timeout. */
static int wait_exit(pid_t pid, double timeout_s, double *took)
{
    double t0 = now_s();
    int st;
    while (now_s() - t0 < timeout_s) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            g_child = 0;
            *took = now_s() - t0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    g_child = 0;
    return -1;
}

static void err_text(char *buf, size_t cap)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/err.txt", g_dir);
    slurp(path, buf, cap);
}

static void start_stop(int sig)
{
    const char *args[] = { "--data-dir", "data", "--listen", "127.0.0.1:0", "--ws-listen",
                           "127.0.0.1:0", NULL };
    pid_t pid = spawn(args);
    char line[256], err[16384];
    bool ready = wait_line("colibri serve ready", line, sizeof(line), 15);
    err_text(err, sizeof(err));
    if (!ready)
        kill(pid, SIGKILL);
    cr_assert(ready, "not ready; stderr:\n%s", err);
    /* The URL lines, when the servers are built in, carry real ports. */
    int rest_port = 0;
    if (wait_line("REST ", line, sizeof(line), 0.1)) {
        cr_assert_eq(sscanf(line, "REST https://127.0.0.1:%d", &rest_port), 1, "%s", line);
        cr_assert(rest_port > 0 && rest_port != 8443);
    }
    if (wait_line("WebSocket ", line, sizeof(line), 0.1)) {
        int port = 0;
        cr_assert_eq(sscanf(line, "WebSocket wss://127.0.0.1:%d/ws", &port), 1, "%s", line);
        cr_assert(port > 0 && port != 8444);
    }
    /* First start: certificate (0600) and, with auth, the admin token. */
    char p[800];
    struct stat st;
    snprintf(p, sizeof(p), "%s/data/tls/key.pem", g_dir);
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    snprintf(p, sizeof(p), "%s/data", g_dir);
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    if (wait_line("admin token written to ", line, sizeof(line), 0.1)) {
        snprintf(p, sizeof(p), "%s/%s", g_dir, line + strlen("admin token written to "));
        cr_assert_eq(stat(p, &st), 0, "%s", p);
    }
    /* With the REST API and curl at hand, run a strategy through it: the
     * shutdown must stop it and cancel its orders. */
    bool strategy = false;
    char tok[300];
    snprintf(p, sizeof(p), "%s/data/admin.token", g_dir);
    slurp(p, tok, sizeof(tok));
    tok[strcspn(tok, "\r\n")] = '\0';
    if (rest_port > 0 && tok[0] && access("/usr/bin/curl", X_OK) == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof(cmd),
                 "curl -sS --fail-with-body --cacert '%s/data/tls/cert.pem' "
                 "-H 'Authorization: Bearer %s' "
                 "-X POST -d '{\"type\": \"pure_market_making\", \"market\": \"BTC-USDT\", "
                 "\"name\": \"cli-mm\", \"start\": true, \"params\": {\"bid_spread\": 1}}' "
                 "https://127.0.0.1:%d/api/v1/strategies >'%s/curl.txt' 2>&1", g_dir, tok,
                 rest_port, g_dir);
        int crc = system(cmd);
        char body[2048];
        snprintf(p, sizeof(p), "%s/curl.txt", g_dir);
        slurp(p, body, sizeof(body));
        if (crc != 0)
            kill(pid, SIGKILL);
        cr_assert_eq(crc, 0, "POST /api/v1/strategies failed (%d): %s", crc, body);
        strategy = true;
        sleep_ms(1500); /* one tick: the strategy quotes */
    }
    sleep_ms(300); /* let the market run a little */
    cr_assert_eq(kill(pid, sig), 0);
    double took = 0;
    int rc = wait_exit(pid, 10.0, &took);
    err_text(err, sizeof(err));
    cr_assert_eq(rc, 0, "exit status %d after signal %d; stderr:\n%s", rc, sig, err);
    cr_assert(took < 10.0);
    cr_assert(strstr(err, "engine stopped") != NULL, "%s", err);
    cr_assert(strstr(err, "received: shutting down") != NULL, "%s", err);
    if (strategy) {
        /* its id follows the ones an earlier start stored */
        cr_assert(strstr(err, " (cli-mm) stopped") != NULL, "%s", err);
        cr_assert(strstr(err, "still live") == NULL, "%s", err);
    }
}

Test(cli_serve, sigterm_exits_zero_quickly)
{
    start_stop(SIGTERM);
}

Test(cli_serve, sigint_exits_zero_and_second_start_reuses_files)
{
    start_stop(SIGINT);
    char cert1[4096], cert2[4096], p[400];
    snprintf(p, sizeof(p), "%s/data/tls/cert.pem", g_dir);
    slurp(p, cert1, sizeof(cert1));
    start_stop(SIGTERM);
    slurp(p, cert2, sizeof(cert2));
    cr_assert_str_eq(cert1, cert2, "the certificate was regenerated");
    char line[256];
    cr_assert_not(wait_line("admin token written to ", line, sizeof(line), 0.1),
                  "a second admin token was written");
}

static int run_sync(const char *const *args, char *err, size_t cap)
{
    pid_t pid = spawn(args);
    double took;
    int rc = wait_exit(pid, 10, &took);
    err_text(err, cap);
    return rc;
}

Test(cli_serve, help_and_usage_errors)
{
    char err[4096], out[4096], p[300];
    const char *help[] = { "--help", NULL };
    cr_assert_eq(run_sync(help, err, sizeof(err)), 0);
    snprintf(p, sizeof(p), "%s/out.txt", g_dir);
    slurp(p, out, sizeof(out));
    cr_assert(strstr(out, "usage: colibri serve") != NULL);
    cr_assert(strstr(out, "--ws-listen") != NULL);
    const char *unknown[] = { "--frobnicate", NULL };
    cr_assert_eq(run_sync(unknown, err, sizeof(err)), 2);
    cr_assert(strstr(err, "--frobnicate") != NULL, "%s", err);
    const char *bad_listen[] = { "--listen", "localhost", NULL };
    cr_assert_eq(run_sync(bad_listen, err, sizeof(err)), 2);
    cr_assert(strstr(err, "--listen: expected HOST:PORT") != NULL, "%s", err);
    const char *missing[] = { "--config", NULL };
    cr_assert_eq(run_sync(missing, err, sizeof(err)), 2);
    const char *bad_level[] = { "--log-level", "chatty", NULL };
    cr_assert_eq(run_sync(bad_level, err, sizeof(err)), 2);
}

Test(cli_serve, bad_config_names_file_and_key)
{
    char path[300], err[4096];
    snprintf(path, sizeof(path), "%s/serve.json", g_dir);
    FILE *f = fopen(path, "w");
    fputs("{\"tick_ms\": 100, \"connectors\": [{\"name\": \"paper\", \"type\": \"paper\", "
          "\"markets\": [\"BTC-USDT\", \"SOL-USDT\"]}]}\n", f);
    fclose(f);
    const char *args[] = { "--config", "serve.json", "--data-dir", "data", NULL };
    cr_assert_eq(run_sync(args, err, sizeof(err)), 1);
    cr_assert(strstr(err, "serve.json: connectors[0].markets[1]: unknown market \"SOL-USDT\"") !=
                  NULL, "%s", err);
    /* nothing was started or created */
    char d[300];
    snprintf(d, sizeof(d), "%s/data", g_dir);
    cr_assert_neq(access(d, F_OK), 0);
    const char *missing[] = { "--config", "nope.json", NULL };
    cr_assert_eq(run_sync(missing, err, sizeof(err)), 1);
    cr_assert(strstr(err, "nope.json: ") != NULL, "%s", err);
}

Test(cli_serve, config_file_listen_is_overridden_by_flags)
{
    char path[300], err[16384], line[256];
    snprintf(path, sizeof(path), "%s/serve.json", g_dir);
    FILE *f = fopen(path, "w");
    fputs("{\"listen\": \"127.0.0.1:1\", \"ws_listen\": \"127.0.0.1:2\", \"data_dir\": \"d2\","
          " \"tick_ms\": 200, \"seed\": 5, \"balances\": {\"USDT\": \"10\"}}\n", f);
    fclose(f);
    const char *args[] = { "--config", "serve.json", "--listen", "127.0.0.1:0", "--ws-listen",
                           "127.0.0.1:0", NULL };
    pid_t pid = spawn(args);
    bool ready = wait_line("colibri serve ready", line, sizeof(line), 15);
    if (!ready)
        kill(pid, SIGKILL);
    err_text(err, sizeof(err));
    cr_assert(ready, "%s", err);
    cr_assert(strstr(err, "seed 5 ") != NULL, "%s", err);
    char d[300];
    snprintf(d, sizeof(d), "%s/d2/tls/cert.pem", g_dir);
    cr_assert_eq(access(d, R_OK), 0, "data_dir from the file not used");
    kill(pid, SIGTERM);
    double took;
    cr_assert_eq(wait_exit(pid, 10, &took), 0);
}
