/*
 * fuzz_strategy_params.c — strategy parameters as users send them (strategies/
 * param.c: the CLI's --param k=v, the API's params, the debug console's
 * `set`). The first byte picks a strategy type; the rest is lines of "k=v"
 * applied in turn to its defaults. A refusal names the reason and leaves
 * the config byte for byte as it was; an accepted value passes the spec's
 * check, and its formatted text sets the same value again. Whatever the
 * values, create() either builds the strategy or refuses with a reason.
 */
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "param.h"
#include "strategy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct clb_strategy_ops *const *types;
    size_t n_types = clb_strategy_types(&types);
    if (size < 1 || n_types == 0)
        return 0;
    const struct clb_strategy_ops *ops = types[data[0] % n_types];
    uint8_t *cfg = malloc(ops->config_size), *before = malloc(ops->config_size);
    FUZZ_CHECK(cfg && before);
    memset(cfg, 0, ops->config_size); /* padding compares equal */
    clb_params_defaults(ops->params, ops->n_params, cfg);
    char err[256];
    FUZZ_CHECK(clb_params_check(ops->params, ops->n_params, cfg, err, sizeof(err)) == CLB_OK);

    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)((nl ? nl : end) - p);
        char kv[512];
        if (len < sizeof(kv)) {
            memcpy(kv, p, len);
            kv[len] = '\0';
            memcpy(before, cfg, ops->config_size);
            err[0] = '\0';
            int rc = clb_params_set_kv(ops->params, ops->n_params, cfg, kv, err, sizeof(err));
            if (rc != CLB_OK) {
                FUZZ_CHECK(rc == CLB_ENOTFOUND || rc == CLB_EPARSE || rc == CLB_ERANGE);
                FUZZ_CHECK(err[0] != '\0');
                FUZZ_CHECK(memcmp(before, cfg, ops->config_size) == 0);
            } else {
                FUZZ_CHECK(clb_params_check(ops->params, ops->n_params, cfg, err,
                                            sizeof(err)) == CLB_OK);
                /* the value's text sets it again, to the same bytes */
                const char *eq = strchr(kv, '=');
                FUZZ_CHECK(eq != NULL);
                char key[256];
                size_t kl = (size_t)(eq - kv);
                if (kl < sizeof(key)) {
                    memcpy(key, kv, kl);
                    key[kl] = '\0';
                    const struct clb_param_spec *s =
                        clb_params_find(ops->params, ops->n_params, key);
                    char text[CLB_PARAM_STRMAX + 64];
                    if (s && s->type != CLB_PARAM_DOUBLE &&
                        clb_params_format(s, cfg, text, sizeof(text)) >= 0) {
                        memcpy(before, cfg, ops->config_size);
                        FUZZ_CHECK(clb_params_set(ops->params, ops->n_params, cfg, key, text, err,
                                                  sizeof(err)) == CLB_OK);
                        FUZZ_CHECK(memcmp(before, cfg, ops->config_size) == 0);
                    }
                }
            }
        }
        p = nl ? nl + 1 : end;
    }
    struct clb_strategy *st = NULL;
    err[0] = '\0';
    int rc = ops->create(cfg, &st, err, sizeof(err));
    if (rc == CLB_OK) {
        FUZZ_CHECK(st != NULL);
        ops->destroy(st);
    } else {
        FUZZ_CHECK(err[0] != '\0' || rc == CLB_ENOMEM);
    }
    free(cfg);
    free(before);
    return 0;
}
