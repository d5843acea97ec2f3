/*
 * chain_fixture.h — a real Ethereum chain for the tests that need one
 * (gateway, amm connector): starts anvil (npm @foundry-rs/anvil, pinned in
 * package.json; `npm ci` installs it) on a free port, waits until it
 * listens, deploys WETH9, two ERC20s, UniswapV2Factory and Router02 with
 * tests/gateway/deploy_uniswap.mjs, reads the deployed addresses JSON and
 * kills the child at teardown. Header-only like tests/server/harness.h so
 * each test executable stays self-contained; needs COLIBRI_SOURCE_DIR.
 */
#ifndef CLB_TEST_CHAIN_FIXTURE_H
#define CLB_TEST_CHAIN_FIXTURE_H

#include <criterion/criterion.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../server/harness.h"

struct chain_fixture {
    pid_t anvil;    /* the anvil child, 0 when none */
    int port;       /* its JSON-RPC port, 0 before it listens */
    char url[64];   /* http://127.0.0.1:port */
    json_t *addrs;  /* deploy_uniswap.mjs output (owned), NULL before deploy */
};

/* Kills anvil (SIGTERM, then reaps it); idempotent. Keeps addrs. */
static inline void chain_kill(struct chain_fixture *c)
{
    if (c->anvil > 0) {
        kill(c->anvil, SIGTERM);
        waitpid(c->anvil, NULL, 0);
        c->anvil = 0;
    }
}

/* Starts anvil on a free port with its output in dir/anvil.out; hardfork
 * (may be NULL: anvil's default) is passed as --hardfork. Asserts on
 * failure, after killing the child (a failed setup skips teardown). */
static inline void chain_start(struct chain_fixture *c, const char *dir, const char *hardfork)
{
    char bin[512], out[300];
    snprintf(bin, sizeof(bin), "%s/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil",
             COLIBRI_SOURCE_DIR);
    if (access(bin, X_OK) != 0)
        snprintf(bin, sizeof(bin), "%s/node_modules/.bin/anvil", COLIBRI_SOURCE_DIR);
    cr_assert(access(bin, X_OK) == 0, "anvil is missing: run `npm ci` in %s",
              COLIBRI_SOURCE_DIR);
    snprintf(out, sizeof(out), "%s/anvil.out", dir);
    c->port = 0;
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(o, 1);
        dup2(o, 2);
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a killed test */
        if (hardfork)
            execl(bin, bin, "--port", "0", "--host", "127.0.0.1", "--hardfork", hardfork,
                  (char *)NULL);
        else
            execl(bin, bin, "--port", "0", "--host", "127.0.0.1", (char *)NULL);
        _exit(127);
    }
    c->anvil = pid;
    char buf[16384];
    double t0 = now_s();
    while (now_s() - t0 < 20) {
        slurp(out, buf, sizeof(buf));
        char *p = strstr(buf, "Listening on 127.0.0.1:");
        if (p && strchr(p, '\n')) {
            c->port = atoi(p + strlen("Listening on 127.0.0.1:"));
            break;
        }
        sleep_ms(10);
    }
    if (c->port <= 0)
        chain_kill(c);
    cr_assert(c->port > 0, "anvil did not start: %s", buf);
    snprintf(c->url, sizeof(c->url), "http://127.0.0.1:%d", c->port);
}

/* Runs deploy_uniswap.mjs against the started chain (output kept in
 * dir/deploy.json) and loads its addresses into c->addrs. Asserts on
 * failure, after killing anvil. */
static inline void chain_deploy(struct chain_fixture *c, const char *dir)
{
    char cmd[1024], out[300];
    snprintf(out, sizeof(out), "%s/deploy.json", dir);
    snprintf(cmd, sizeof(cmd), "node %s/tests/gateway/deploy_uniswap.mjs %s > %s",
             COLIBRI_SOURCE_DIR, c->url, out);
    int st = system(cmd);
    if (st != 0)
        chain_kill(c);
    cr_assert_eq(st, 0, "deploy_uniswap.mjs failed");
    json_error_t je;
    c->addrs = json_load_file(out, 0, &je);
    cr_assert_not_null(c->addrs, "deploy output: %s", je.text);
}

/* The deployed address under key k ("weth", "base", "quote", "factory",
 * "router"); asserts it is present. Borrowed from c->addrs. */
static inline const char *chain_addr(const struct chain_fixture *c, const char *k)
{
    const char *s = json_string_value(json_object_get(c->addrs, k));
    cr_assert_not_null(s, "no %s in the deploy output", k);
    return s;
}

/* Teardown: frees the addresses and kills anvil; idempotent. */
static inline void chain_stop(struct chain_fixture *c)
{
    json_decref(c->addrs);
    c->addrs = NULL;
    chain_kill(c);
    c->port = 0;
}

#endif
