/*
 * serve_child.h — the crash-recovery tests' rig: `colibri serve` as a child
 * process in a temporary directory (config.json, data/, out.txt with its
 * stdout, err.txt with every run's stderr appended), the REST API through
 * curl with the admin token, and the SQLite store read directly. Header-only
 * (static functions and state), included by one test file each.
 */
#ifndef CLB_TEST_SERVE_CHILD_H
#define CLB_TEST_SERVE_CHILD_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "order_tracker.h"
#include "store/store.h"

#include "harness.h"

#define SERVE_MAX_FILLS 20000
#define SERVE_MAX_OPEN 4096

static char g_dir[256];
static pid_t g_child;

static inline uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* `colibri serve` with the test's config, outputs in g_dir/out.txt, err.txt
 * (err.txt appended: every run's log is kept for failure messages). */
static inline pid_t spawn(void)
{
    static const char *const args[] = { "--config", "config.json", "--data-dir", "data",
                                        "--listen", "127.0.0.1:0", "--ws-listen",
                                        "127.0.0.1:0", NULL };
    pid_t pid = spawn_serve_in(g_dir, args, true);
    cr_assert(pid >= 0);
    g_child = pid;
    return pid;
}

static inline bool wait_line(const char *prefix, char *line, size_t cap, double timeout_s)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/out.txt", g_dir);
    return wait_file_line(path, prefix, line, cap, timeout_s);
}

static inline void err_tail(char *buf, size_t cap)
{
    char path[300];
    static char all[1 << 20];
    snprintf(path, sizeof(path), "%s/err.txt", g_dir);
    slurp(path, all, sizeof(all));
    size_t n = strlen(all);
    const char *from = n >= cap ? all + n - (cap - 1) : all;
    size_t len = strlen(from);
    memcpy(buf, from, len + 1);
}

/* Starts serve and returns the REST port. */
static inline int start_serve(void)
{
    spawn();
    char line[256];
    static char err[8192];
    bool ready = wait_line("colibri serve ready", line, sizeof(line), 20);
    err_tail(err, sizeof(err));
    cr_assert(ready, "serve not ready; stderr:\n%s", err);
    int port = 0;
    cr_assert(wait_line("REST ", line, sizeof(line), 0.1));
    cr_assert_eq(sscanf(line, "REST https://127.0.0.1:%d", &port), 1, "%s", line);
    return port;
}

/* curl against the REST API with the admin token; body into out. */
static inline int curl_api(int port, const char *method, const char *path, const char *json,
                           char *out, size_t cap)
{
    char tok[300], p[400], cmd[2048];
    snprintf(p, sizeof(p), "%s/data/admin.token", g_dir);
    slurp(p, tok, sizeof(tok));
    tok[strcspn(tok, "\r\n")] = '\0';
    snprintf(cmd, sizeof(cmd),
             "curl -sS --fail-with-body --cacert '%s/data/tls/cert.pem' "
             "-H 'Authorization: Bearer %s' -X %s %s%s%s 'https://127.0.0.1:%d%s' "
             ">'%s/curl.txt' 2>&1",
             g_dir, tok, method, json ? "-d '" : "", json ? json : "", json ? "'" : "", port,
             path, g_dir);
    int rc = system(cmd);
    snprintf(p, sizeof(p), "%s/curl.txt", g_dir);
    slurp(p, out, cap);
    return rc;
}

/* ---- the store, read directly ---- */

static inline struct clb_store *open_db(void)
{
    char path[400], err[256];
    snprintf(path, sizeof(path), "%s/data/colibri.db", g_dir);
    struct clb_store_options o;
    clb_store_options_init(&o);
    o.url = path;
    struct clb_store *st = NULL;
    int rc = clb_store_open(&o, &st, err, sizeof(err));
    cr_assert_eq(rc, CLB_OK, "open %s: %s", path, err);
    return st;
}

struct fills {
    struct clb_store_fill *v;
    size_t n;
};

static inline int on_fill(void *ud, const struct clb_store_fill *f)
{
    struct fills *fs = ud;
    if (fs->n < SERVE_MAX_FILLS)
        fs->v[fs->n++] = *f;
    return 0;
}

/* Every fill of the instance, oldest first (0 when the schema is not there
 * yet). */
static inline size_t load_fills(struct fills *fs)
{
    fs->n = 0;
    struct clb_store *st = open_db();
    struct clb_store_query q = { .limit = CLB_STORE_LIST_MAX, .ascending = true };
    for (;;) {
        int64_t next = 0;
        if (clb_store_fills_list(st, &q, on_fill, fs, &next) != CLB_OK || next == 0)
            break;
        q.cursor = next;
    }
    clb_store_close(st);
    cr_assert(fs->n < SERVE_MAX_FILLS);
    return fs->n;
}

struct open_orders {
    char ids[SERVE_MAX_OPEN][CLB_STORE_COID_MAX];
    size_t n;
};

static inline int on_open(void *ud, const struct clb_store_order *o)
{
    struct open_orders *oo = ud;
    if (oo->n < SERVE_MAX_OPEN)
        snprintf(oo->ids[oo->n++], CLB_STORE_COID_MAX, "%s", o->client_order_id);
    return 0;
}

static inline void load_open(struct open_orders *oo)
{
    oo->n = 0;
    struct clb_store *st = open_db();
    cr_assert_eq(clb_store_orders_load_open(st, NULL, on_open, oo), CLB_OK);
    clb_store_close(st);
}

struct last_state {
    int state, reason;
    size_t rows;
    size_t starts; /* rows with prev_state NONE: one per life of the id */
};

static inline int on_hist(void *ud, const struct clb_store_order_state *s)
{
    struct last_state *ls = ud;
    ls->state = s->state;
    ls->reason = s->reason;
    ls->rows++;
    ls->starts += s->prev_state == CLB_ORDER_STATE_NONE;
    return 0;
}

static inline int cmp_fill_key(const void *a, const void *b)
{
    const struct clb_store_fill *x = a, *y = b;
    int c = strcmp(x->connector, y->connector);
    if (!c)
        c = strcmp(x->market, y->market);
    return c ? c : strcmp(x->trade_id, y->trade_id);
}

/* A fresh temporary directory from tmpl ("/tmp/name_XXXXXX"). */
static inline void serve_child_setup(const char *tmpl)
{
    snprintf(g_dir, sizeof(g_dir), "%s", tmpl);
    cr_assert_not_null(mkdtemp(g_dir));
}

/* Kills the child if one runs and removes the directory. */
static inline void serve_child_teardown(void)
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

#endif
