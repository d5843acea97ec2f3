/*
 * Tests of server/config.c: every key's defaults and validation, with
 * errors that name the file and the key; a bad file changes nothing.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

TestSuite(config);

Test(config, defaults)
{
    struct clb_serve_config c;
    clb_serve_config_init(&c);
    cr_assert_str_eq(c.listen_host, "127.0.0.1");
    cr_assert_eq(c.listen_port, 8443);
    cr_assert_str_eq(c.ws_host, "127.0.0.1");
    cr_assert_eq(c.ws_port, 8444);
    cr_assert_null(c.data_dir);
    cr_assert_eq(c.tick_ms, 1000);
    cr_assert_not(c.seed_set);
    cr_assert_null(c.tls_cert);
    cr_assert_not(c.metrics_public);
    cr_assert_not(c.debug_console);
    cr_assert(c.resume_strategies);
    cr_assert_not(c.busy_poll);
    cr_assert_eq(c.worker_cpu, -1);
    cr_assert_null(c.connectors);
    clb_serve_config_deinit(&c);
}

Test(config, full_file)
{
    const char *text =
        "{\"listen\": \"0.0.0.0:9443\", \"ws_listen\": \"[::1]:0\", \"data_dir\": \"/tmp/x\","
        " \"tick_ms\": 250, \"seed\": 42, \"tls\": {\"cert\": \"c.pem\", \"key\": \"k.pem\"},"
        " \"metrics\": {\"public\": true}, \"debug_console\": 9211, \"resume_strategies\": false,"
        " \"worker\": {\"busy_poll\": true, \"cpu\": 1},"
        " \"ws\": {\"allowed_origins\": [\"https://dash.example\", \"http://localhost:3000\"]},"
        " \"connectors\": [{\"name\": \"p1\", \"type\": \"paper\", \"markets\": [\"ETH-USDT\"],"
        "   \"maker_fee\": 0, \"taker_fee\": 0.0005, \"latency_ms\": 0}],"
        " \"balances\": {\"ETH\": \"12.5\", \"USDT\": \"1000\"},"
        " \"store\": {\"url\": \"sqlite:var/colibri.db\"}}";
    struct clb_serve_config c;
    clb_serve_config_init(&c);
    char err[256] = "";
    cr_assert_eq(clb_serve_config_parse(&c, text, "t.json", err, sizeof(err)), CLB_OK, "%s", err);
    cr_assert_str_eq(c.listen_host, "0.0.0.0");
    cr_assert_eq(c.listen_port, 9443);
    cr_assert_str_eq(c.ws_host, "::1");
    cr_assert_eq(c.ws_port, 0);
    cr_assert_str_eq(c.data_dir, "/tmp/x");
    cr_assert_eq(c.tick_ms, 250);
    cr_assert(c.seed_set);
    cr_assert_eq(c.seed, 42);
    cr_assert_str_eq(c.tls_cert, "c.pem");
    cr_assert_str_eq(c.tls_key, "k.pem");
    cr_assert(c.metrics_public);
    cr_assert(c.debug_console);
    cr_assert_eq(c.debug_console_port, 9211);
    cr_assert_not(c.resume_strategies);
    cr_assert_eq(c.n_origins, 2);
    cr_assert_str_eq(c.allowed_origins[1], "http://localhost:3000");
    cr_assert_str_eq(c.store_url, "sqlite:var/colibri.db");
    struct clb_engine_config ec;
    clb_serve_config_engine(&c, &ec);
    cr_assert_eq(ec.tick_ms, 250);
    cr_assert_eq(ec.seed, 42);
    cr_assert(ec.busy_poll);
    cr_assert_eq(ec.worker_cpu, 1);
    cr_assert_eq(json_array_size(ec.connectors), 1);
    cr_assert_str_eq(json_string_value(json_object_get(ec.balances, "ETH")), "12.5");
    clb_serve_config_deinit(&c);
}

Test(config, errors_name_file_and_key)
{
    static const struct {
        const char *text;
        const char *msg; /* the whole message must start with it */
    } cases[] = {
        { "{\"listen\": 8443}", "t.json: listen: must be a \"HOST:PORT\" string" },
        { "{\"listen\": \"localhost\"}", "t.json: listen: expected HOST:PORT" },
        { "{\"listen\": \"localhost:99999\"}", "t.json: listen: port must be an integer" },
        { "{\"listen\": \":8443\"}", "t.json: listen: missing or too long host" },
        { "{\"ws_listen\": \"::1:8444\"}", "t.json: ws_listen: IPv6 hosts go in brackets" },
        { "{\"data_dir\": \"\"}", "t.json: data_dir: must be a non-empty string" },
        { "{\"tick_ms\": 0}", "t.json: tick_ms: must be an integer in [1, 3600000]" },
        { "{\"tick_ms\": 1.5}", "t.json: tick_ms: must be an integer" },
        { "{\"seed\": -1}", "t.json: seed: must be an integer >= 0" },
        { "{\"tls\": {\"cert\": \"c.pem\"}}", "t.json: tls.key: required with tls.cert" },
        { "{\"tls\": {\"key\": \"k.pem\"}}", "t.json: tls.cert: required with tls.key" },
        { "{\"tls\": {\"cert\": \"c\", \"key\": \"k\", \"ca\": \"x\"}}",
          "t.json: tls.ca: unknown key" },
        { "{\"tls\": \"auto\"}", "t.json: tls: must be an object" },
        { "{\"metrics\": {\"public\": \"yes\"}}", "t.json: metrics.public: must be true or false" },
        { "{\"debug_console\": \"on\"}", "t.json: debug_console: must be true, false or a port" },
        { "{\"resume_strategies\": 1}", "t.json: resume_strategies: must be true or false, not an integer" },
        { "{\"worker\": true}", "t.json: worker: must be an object" },
        { "{\"worker\": {\"busy_poll\": \"yes\"}}",
          "t.json: worker.busy_poll: must be true or false, not a string" },
        { "{\"worker\": {\"cpu\": -1}}", "t.json: worker.cpu: must be a CPU number in [0, 1023]" },
        { "{\"worker\": {\"cpu\": 1.5}}", "t.json: worker.cpu: must be a CPU number" },
        { "{\"worker\": {\"threads\": 2}}", "t.json: worker.threads: unknown key" },
        { "{\"ws\": {\"allowed_origins\": [\"dash.example\"]}}",
          "t.json: ws.allowed_origins[0]: must be an origin" },
        { "{\"ws\": {\"allowed_origins\": \"*\"}}",
          "t.json: ws.allowed_origins: must be an array" },
        { "{\"store\": {\"url\": 5}}", "t.json: store.url: must be a non-empty string" },
        { "{\"colour\": \"blue\"}", "t.json: colour: unknown key (known: listen" },
        { "[]", "t.json: the top level must be an object" },
        { "{\"connectors\": [{\"name\": \"p\", \"type\": \"paper\", "
          "\"markets\": [\"DOGE-USDT\"]}]}",
          "t.json: connectors[0].markets[0]: unknown market \"DOGE-USDT\"" },
        { "{\"connectors\": [{\"name\": \"p\", \"type\": \"paper\", \"markets\": [\"BTC-USDT\"], "
          "\"taker_fee\": -0.1}]}", "t.json: connectors[0].taker_fee: must be a fraction" },
        { "{\"balances\": {\"USDT\": 100}}", "t.json: balances.USDT: must be a non-negative" },
        { "{\"balances\": {\"DOGE\": \"1\"}}", "t.json: balances.DOGE: no configured market" },
        { "{\"tick_ms\": 5, \"tick_ms\": 6}", "t.json:1:" },
        { "{\"tick_ms\": ", "t.json:1:" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct clb_serve_config c;
        clb_serve_config_init(&c);
        char err[300] = "";
        int rc = clb_serve_config_parse(&c, cases[i].text, "t.json", err, sizeof(err));
        cr_expect_eq(rc, CLB_EINVAL, "case %zu: %s", i, cases[i].text);
        cr_expect(strncmp(err, cases[i].msg, strlen(cases[i].msg)) == 0,
                  "case %zu: got \"%s\", want \"%s...\"", i, err, cases[i].msg);
        /* nothing changed */
        cr_expect_eq(c.listen_port, 8443);
        cr_expect_eq(c.tick_ms, 1000);
        cr_expect_null(c.connectors);
        cr_expect_null(c.tls_cert);
        clb_serve_config_deinit(&c);
    }
}

Test(config, failed_load_keeps_previous_values)
{
    struct clb_serve_config c;
    clb_serve_config_init(&c);
    char err[300];
    cr_assert_eq(clb_serve_config_parse(&c, "{\"tick_ms\": 20, \"ws\": {\"allowed_origins\": "
                                            "[\"https://a\"]}}", "a.json", err, sizeof(err)),
                 CLB_OK);
    cr_assert_eq(clb_serve_config_parse(&c, "{\"tick_ms\": 30, \"seed\": \"x\"}", "b.json", err,
                                        sizeof(err)),
                 CLB_EINVAL);
    cr_assert_eq(c.tick_ms, 20);
    cr_assert_eq(c.n_origins, 1);
    cr_assert_str_eq(c.allowed_origins[0], "https://a");
    clb_serve_config_deinit(&c);
}

Test(config, load_from_file)
{
    char path[] = "/tmp/clb_cfg_XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *text = "{\n  \"tick_ms\": 100,\n  \"metrics\": {\"public\": 1}\n}\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    struct clb_serve_config c;
    clb_serve_config_init(&c);
    char err[300] = "";
    cr_assert_eq(clb_serve_config_load(&c, path, err, sizeof(err)), CLB_EINVAL);
    char want[128];
    snprintf(want, sizeof(want), "%s: metrics.public:", path);
    cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
    cr_assert_eq(clb_serve_config_load(&c, "/nonexistent/x.json", err, sizeof(err)), CLB_EIO);
    cr_assert(strstr(err, "/nonexistent/x.json: ") == err);
    unlink(path);
    clb_serve_config_deinit(&c);
}

Test(config, host_port)
{
    char host[64], err[128];
    int port = -1;
    cr_assert_eq(clb_parse_host_port("example.org:443", host, sizeof(host), &port, err,
                                     sizeof(err)), CLB_OK);
    cr_assert_str_eq(host, "example.org");
    cr_assert_eq(port, 443);
    cr_assert_eq(clb_parse_host_port("[::]:0", host, sizeof(host), &port, err, sizeof(err)),
                 CLB_OK);
    cr_assert_str_eq(host, "::");
    cr_assert_eq(port, 0);
    const char *bad[] = { "", "host", "host:", "host:-1", "host:65536", "host:1x", "[::1]8443",
                          "[::1", ":1", "a:b:1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_eq(clb_parse_host_port(bad[i], host, sizeof(host), &port, err, sizeof(err)),
                     CLB_EINVAL, "%s accepted", bad[i]);
}
