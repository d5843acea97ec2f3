/*
 * End-to-end test of /metrics against a real Prometheus server: the built
 * `colibri serve` runs on ephemeral ports in a temporary data directory with
 * authentication on (metrics not public); /usr/bin/prometheus scrapes it every
 * second over HTTPS, trusting colibri's self-signed certificate and sending
 * the admin token as a bearer credential. The test then reads the scraped
 * series back through Prometheus's query API (with the curl binary) and
 * checks colibri_build_info{version=COLIBRI_VERSION} == 1 and
 * colibri_connector_ready{connector="paper"} == 1. A second job scrapes the
 * same target without a token and must see it down with a 401, so the first
 * job's success really depends on the bearer token.
 *
 * Prometheus is a test dependency (scripts/install-deps.sh installs it); when
 * it is missing the test fails and says so rather than skipping silently.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define PROMETHEUS_BIN "/usr/bin/prometheus"

static char g_dir[256];
static pid_t g_colibri; /* running children, killed by teardown if a test failed */
static pid_t g_prom;

/* The last `cap - 1` bytes of a file (logs can be long; the end matters). */
static void slurp_tail(const char *file, char *dst, size_t cap)
{
    dst[0] = '\0';
    FILE *f = fopen(file, "rb");
    if (!f)
        return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long len = ftell(f);
        if (len > (long)cap - 1)
            fseek(f, len - ((long)cap - 1), SEEK_SET);
        else
            fseek(f, 0, SEEK_SET);
    }
    size_t n = fread(dst, 1, cap - 1, f);
    dst[n] = '\0';
    fclose(f);
}

/* SIGTERM, then SIGKILL after `timeout_s`; returns the exit code, 128+signal, or -1. */
static int stop_child(pid_t *pid, double timeout_s)
{
    if (*pid <= 0)
        return 0;
    kill(*pid, SIGTERM);
    double t0 = now_s();
    int st = 0;
    int rc = -1;
    while (now_s() - t0 < timeout_s) {
        if (waitpid(*pid, &st, WNOHANG) == *pid) {
            rc = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            break;
        }
        sleep_ms(20);
    }
    if (rc < 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, &st, 0);
    }
    *pid = 0;
    return rc;
}

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_prom_scrape_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
    if (g_prom > 0) {
        kill(g_prom, SIGKILL);
        waitpid(g_prom, NULL, 0);
        g_prom = 0;
    }
    if (g_colibri > 0) {
        kill(g_colibri, SIGKILL);
        waitpid(g_colibri, NULL, 0);
        g_colibri = 0;
    }
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(prometheus_scrape, .init = setup, .fini = teardown, .timeout = 60);

/* Runs argv[0] (an absolute path) in g_dir, stdout/stderr to the named files. */
static pid_t spawn(char *const *argv, const char *out_name, const char *err_name)
{
    char out[300], err[300];
    snprintf(out, sizeof(out), "%s/%s", g_dir, out_name);
    snprintf(err, sizeof(err), "%s/%s", g_dir, err_name);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        if (chdir(g_dir) != 0)
            _exit(126);
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (o < 0 || e < 0)
            _exit(126);
        dup2(o, 1);
        dup2(e, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    return pid;
}

/* Waits for a line starting with `prefix` in g_dir/out.txt; copies it. */
static bool wait_line(const char *prefix, char *line, size_t cap, double timeout_s)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/out.txt", g_dir);
    return wait_file_line(path, prefix, line, cap, timeout_s);
}

/* A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, close). */
static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0, "bind: %s", strerror(errno));
    socklen_t len = sizeof(a);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* Starts colibri serve (auth on); returns its REST port. */
static int start_colibri(void)
{
    char bin[512];
    snprintf(bin, sizeof(bin), "%s/colibri", COLIBRI_BINARY_DIR);
    char *argv[] = { bin, (char *)"serve", (char *)"--data-dir", (char *)"data",
                     (char *)"--listen", (char *)"127.0.0.1:0", (char *)"--ws-listen",
                     (char *)"127.0.0.1:0", NULL };
    g_colibri = spawn(argv, "out.txt", "err.txt");
    char line[256], err[16384], path[300];
    bool ready = wait_line("colibri serve ready", line, sizeof(line), 15);
    snprintf(path, sizeof(path), "%s/err.txt", g_dir);
    slurp_tail(path, err, sizeof(err));
    cr_assert(ready, "colibri serve not ready within 15 s; stderr:\n%s", err);
    int port = 0;
    cr_assert(wait_line("REST ", line, sizeof(line), 0), "no REST line; stderr:\n%s", err);
    cr_assert_eq(sscanf(line, "REST https://127.0.0.1:%d", &port), 1, "%s", line);
    cr_assert(port > 0);
    snprintf(path, sizeof(path), "%s/data/admin.token", g_dir);
    cr_assert_eq(access(path, R_OK), 0, "no admin token at %s", path);
    return port;
}

/* Writes prometheus.yml: job "colibri" with the token, job "colibri_noauth" without. */
static void write_prom_config(int colibri_port)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/prometheus.yml", g_dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "global:\n"
            "  scrape_interval: 1s\n"
            "  scrape_timeout: 1s\n"
            "  evaluation_interval: 1s\n"
            "scrape_configs:\n"
            "  - job_name: colibri\n"
            "    scheme: https\n"
            "    metrics_path: /metrics\n"
            "    authorization:\n"
            "      type: Bearer\n"
            "      credentials_file: %s/data/admin.token\n"
            "    tls_config:\n"
            "      ca_file: %s/data/tls/cert.pem\n"
            "    static_configs:\n"
            "      - targets: ['127.0.0.1:%d']\n"
            "  - job_name: colibri_noauth\n"
            "    scheme: https\n"
            "    metrics_path: /metrics\n"
            "    tls_config:\n"
            "      ca_file: %s/data/tls/cert.pem\n"
            "    static_configs:\n"
            "      - targets: ['127.0.0.1:%d']\n",
            g_dir, g_dir, colibri_port, g_dir, colibri_port);
    cr_assert_eq(fclose(f), 0);
}

static void start_prometheus(int prom_port)
{
    char cfg[400], tsdb[400], listen[64];
    snprintf(cfg, sizeof(cfg), "--config.file=%s/prometheus.yml", g_dir);
    snprintf(tsdb, sizeof(tsdb), "--storage.tsdb.path=%s/tsdb", g_dir);
    snprintf(listen, sizeof(listen), "--web.listen-address=127.0.0.1:%d", prom_port);
    char *argv[] = { (char *)PROMETHEUS_BIN, cfg, tsdb, listen, NULL };
    g_prom = spawn(argv, "prom.out", "prom.err");
}

/* GETs an URL on Prometheus into `body`; returns curl's exit status. */
static int http_get(const char *url, char *body, size_t cap)
{
    char cmd[1024], path[300];
    snprintf(path, sizeof(path), "%s/query.json", g_dir);
    snprintf(cmd, sizeof(cmd), "curl -sS --max-time 2 -g '%s' >'%s' 2>&1", url, path);
    int rc = system(cmd);
    slurp(path, body, cap);
    return rc;
}

/*
 * Runs an instant query; on a one-sample result copies the sample's value
 * and (when `label` is set) that label's value, and returns true.
 */
static bool query_one(int prom_port, const char *query_enc, const char *label, double *value,
                      char *label_value, size_t label_cap, char *body, size_t body_cap)
{
    char url[512];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/query?query=%s", prom_port,
             query_enc);
    if (http_get(url, body, body_cap) != 0)
        return false;
    json_error_t jerr;
    json_t *root = json_loads(body, 0, &jerr);
    if (!root)
        return false;
    bool ok = false;
    const char *status = json_string_value(json_object_get(root, "status"));
    json_t *result = json_object_get(json_object_get(root, "data"), "result");
    if (status && strcmp(status, "success") == 0 && json_is_array(result) &&
        json_array_size(result) == 1) {
        json_t *sample = json_array_get(result, 0);
        json_t *val = json_object_get(sample, "value");
        const char *v = json_string_value(json_array_get(val, 1));
        if (v) {
            *value = strtod(v, NULL);
            ok = true;
            if (label) {
                const char *lv =
                    json_string_value(json_object_get(json_object_get(sample, "metric"), label));
                snprintf(label_value, label_cap, "%s", lv ? lv : "");
            }
        }
    }
    json_decref(root);
    return ok;
}

/* The scrape status Prometheus reports for one job (health and lastError). */
static void target_status(int prom_port, const char *job, char *health, size_t hcap,
                          char *last_error, size_t ecap)
{
    char url[256], body[32768];
    health[0] = '\0';
    last_error[0] = '\0';
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/api/v1/targets?state=active", prom_port);
    if (http_get(url, body, sizeof(body)) != 0)
        return;
    json_t *root = json_loads(body, 0, NULL);
    if (!root)
        return;
    json_t *targets = json_object_get(json_object_get(root, "data"), "activeTargets");
    for (size_t i = 0; i < json_array_size(targets); i++) {
        json_t *t = json_array_get(targets, i);
        const char *j = json_string_value(json_object_get(t, "scrapePool"));
        if (!j || strcmp(j, job) != 0)
            continue;
        const char *h = json_string_value(json_object_get(t, "health"));
        const char *e = json_string_value(json_object_get(t, "lastError"));
        snprintf(health, hcap, "%s", h ? h : "");
        snprintf(last_error, ecap, "%s", e ? e : "");
    }
    json_decref(root);
}

Test(prometheus_scrape, real_prometheus_scrapes_metrics_with_bearer_token)
{
    cr_assert_eq(access(PROMETHEUS_BIN, X_OK), 0,
                 "%s is missing: install the Debian package `prometheus` "
                 "(scripts/install-deps.sh --with-tests, or `make test`)", PROMETHEUS_BIN);
    cr_assert_eq(access("/usr/bin/curl", X_OK), 0, "/usr/bin/curl is missing");

    int colibri_port = start_colibri();
    write_prom_config(colibri_port);
    int prom_port = free_port();
    start_prometheus(prom_port);

    /* Poll until the authenticated job has produced colibri_build_info. */
    char body[16384], version[64] = "", perr[8192], path[300];
    double value = 0;
    bool found = false;
    double t0 = now_s();
    while (now_s() - t0 < 30) {
        int st;
        if (waitpid(g_prom, &st, WNOHANG) == g_prom) {
            g_prom = 0;
            snprintf(path, sizeof(path), "%s/prom.err", g_dir);
            slurp_tail(path, perr, sizeof(perr));
            cr_assert_fail("prometheus exited early; its log:\n%s", perr);
        }
        if (query_one(prom_port, "colibri_build_info%7Bjob%3D%22colibri%22%7D", "version",
                      &value, version, sizeof(version), body, sizeof(body))) {
            found = true;
            break;
        }
        sleep_ms(250);
    }
    if (!found) {
        char health[32], lerr[1024];
        target_status(prom_port, "colibri", health, sizeof(health), lerr, sizeof(lerr));
        snprintf(path, sizeof(path), "%s/prom.err", g_dir);
        slurp_tail(path, perr, sizeof(perr));
        cr_assert_fail("no colibri_build_info in Prometheus after 30 s; target health \"%s\", "
                "last error \"%s\"; last query answer: %s\nprometheus log tail:\n%s",
                health, lerr, body, perr);
    }
    cr_assert_eq(value, 1.0, "colibri_build_info = %g: %s", value, body);
    cr_assert_str_eq(version, COLIBRI_VERSION, "version label: %s", body);

    bool ready = query_one(prom_port,
                           "colibri_connector_ready%7Bjob%3D%22colibri%22%2C"
                           "connector%3D%22paper%22%7D",
                           NULL, &value, NULL, 0, body, sizeof(body));
    cr_assert(ready, "no colibri_connector_ready{connector=\"paper\"}: %s", body);
    cr_assert_eq(value, 1.0, "colibri_connector_ready = %g: %s", value, body);

    /* The same target without the token: scraped, but down with a 401. */
    bool up_seen = false;
    double up = -1;
    char health[32] = "", lerr[1024] = "";
    t0 = now_s();
    while (now_s() - t0 < 10) {
        up_seen = query_one(prom_port, "up%7Bjob%3D%22colibri_noauth%22%7D", NULL, &up, NULL,
                            0, body, sizeof(body));
        target_status(prom_port, "colibri_noauth", health, sizeof(health), lerr,
                      sizeof(lerr));
        if (up_seen && strcmp(health, "down") == 0)
            break;
        sleep_ms(250);
    }
    cr_assert(up_seen, "no up{job=\"colibri_noauth\"}: %s", body);
    cr_assert_eq(up, 0.0, "/metrics answered without a token (up = %g)", up);
    cr_assert_str_eq(health, "down");
    cr_assert(strstr(lerr, "401") != NULL, "unauthenticated scrape error: \"%s\"", lerr);
    double none = 0;
    cr_assert_not(query_one(prom_port, "colibri_build_info%7Bjob%3D%22colibri_noauth%22%7D",
                            NULL, &none, NULL, 0, body, sizeof(body)),
                  "metrics leaked to the unauthenticated job: %s", body);

    /* Both stop cleanly on SIGTERM. */
    int prc = stop_child(&g_prom, 10);
    snprintf(path, sizeof(path), "%s/prom.err", g_dir);
    slurp_tail(path, perr, sizeof(perr));
    cr_assert_eq(prc, 0, "prometheus exit status %d; log tail:\n%s", prc, perr);
    int crc = stop_child(&g_colibri, 10);
    char cerr[16384];
    snprintf(path, sizeof(path), "%s/err.txt", g_dir);
    slurp_tail(path, cerr, sizeof(cerr));
    cr_assert_eq(crc, 0, "colibri exit status %d; stderr tail:\n%s", crc, cerr);
    cr_assert(strstr(cerr, "engine stopped") != NULL, "%s", cerr);
}
