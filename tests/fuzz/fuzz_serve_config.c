/*
 * fuzz_serve_config.c — the `colibri serve` configuration file (server/
 * config.c, which also checks connectors through the engine and the DEX
 * gateway's networks): every input is accepted or refused with a message
 * that starts with the file's name, and a refused one leaves the
 * configuration as it was.
 */
#include <string.h>

#include "config.h"
#include "error.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    struct clb_serve_config c, fresh;
    clb_serve_config_init(&c);
    clb_serve_config_init(&fresh);
    char err[512] = "";
    int rc = clb_serve_config_parse(&c, text, "f.json", err, sizeof(err));
    if (rc != CLB_OK) {
        FUZZ_CHECK(rc == CLB_EINVAL || rc == CLB_ENOMEM);
        FUZZ_CHECK(strncmp(err, "f.json", 6) == 0);
        /* left as it was */
        FUZZ_CHECK(c.tick_ms == fresh.tick_ms && c.listen_port == fresh.listen_port &&
                   c.ws_port == fresh.ws_port && c.data_dir == NULL && c.connectors == NULL &&
                   c.balances == NULL && c.store_url == NULL && c.busy_poll == fresh.busy_poll &&
                   c.worker_cpu == fresh.worker_cpu && c.n_origins == 0 &&
                   strcmp(c.listen_host, fresh.listen_host) == 0);
    } else {
        FUZZ_CHECK(c.tick_ms >= 1 && c.tick_ms <= 3600000);
        FUZZ_CHECK(c.listen_port >= 0 && c.listen_port <= 65535);
        FUZZ_CHECK(c.worker_cpu >= -1 && c.worker_cpu <= 1023);
    }
    clb_serve_config_deinit(&c);
    clb_serve_config_deinit(&fresh);
    free(text);
    return 0;
}
