/*
 * config.c — loading and validating the serve configuration (config.h).
 *
 * Validation builds a complete new configuration in a scratch struct and
 * swaps it in only when every key passed, so a bad file changes nothing.
 * The connectors/balances sections are checked by the engine's own
 * validator (one source of truth for what the engine accepts) and its
 * "key: why" message gets the file name in front.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "gateway.h"

static char *dupstr(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

void clb_serve_config_init(struct clb_serve_config *c)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->listen_host, sizeof(c->listen_host), "127.0.0.1");
    c->listen_port = 8443;
    snprintf(c->ws_host, sizeof(c->ws_host), "127.0.0.1");
    c->ws_port = 8444;
    c->tick_ms = 1000;
    c->debug_console_port = 8211;
    c->resume_strategies = true;
    c->worker_cpu = -1;
}

static void free_origins(char **o, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(o[i]);
    free(o);
}

void clb_serve_config_deinit(struct clb_serve_config *c)
{
    free(c->data_dir);
    free(c->tls_cert);
    free(c->tls_key);
    free(c->store_url);
    free_origins(c->allowed_origins, c->n_origins);
    json_decref(c->connectors);
    json_decref(c->balances);
    json_decref(c->gateway);
    memset(c, 0, sizeof(*c));
}

int clb_parse_host_port(const char *s, char *host, size_t cap, int *port, char *err,
                        size_t errlen)
{
    if (!s || !*s)
        return clb_errf(err, errlen, CLB_EINVAL, "expected HOST:PORT");
    const char *colon, *hs = s;
    size_t hlen;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (!close || close[1] != ':')
            return clb_errf(err, errlen, CLB_EINVAL, "expected [IPV6]:PORT, got \"%.64s\"", s);
        hs = s + 1;
        hlen = (size_t)(close - hs);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon)
            return clb_errf(err, errlen, CLB_EINVAL, "expected HOST:PORT, got \"%.64s\"", s);
        hlen = (size_t)(colon - s);
        if (memchr(s, ':', hlen))
            return clb_errf(err, errlen, CLB_EINVAL, "IPv6 hosts go in brackets: \"[::1]:8443\"");
    }
    if (hlen == 0 || hlen >= cap)
        return clb_errf(err, errlen, CLB_EINVAL, "missing or too long host in \"%.64s\"", s);
    const char *p = colon + 1;
    size_t plen = strlen(p);
    if (plen == 0 || plen > 5 || strspn(p, "0123456789") != plen || atoi(p) > 65535)
        return clb_errf(err, errlen, CLB_EINVAL, "port must be an integer in [0, 65535], got \"%.16s\"",
                    p);
    memcpy(host, hs, hlen);
    host[hlen] = '\0';
    *port = atoi(p);
    return CLB_OK;
}

int clb_serve_config_set_data_dir(struct clb_serve_config *c, const char *dir)
{
    if (!dir || !*dir)
        return CLB_EINVAL;
    char *d = dupstr(dir);
    if (!d)
        return CLB_ENOMEM;
    free(c->data_dir);
    c->data_dir = d;
    return CLB_OK;
}

/* Refuses keys of obj not in `known` (NULL-terminated); prefix is the
 * path of obj ("" for the top level). */
static int check_keys(json_t *obj, const char *const *known, const char *src, const char *prefix,
                      char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i]; i++)
            ok = ok || strcmp(k, known[i]) == 0;
        if (ok)
            continue;
        char list[400];
        size_t used = 0;
        list[0] = '\0';
        for (size_t i = 0; known[i] && used < sizeof(list); i++) {
            int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", known[i]);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        return clb_errf(err, errlen, CLB_EINVAL, "%s: %s%.64s: unknown key (known: %s)", src, prefix,
                    k, list);
    }
    return CLB_OK;
}

static int get_path(json_t *v, const char *src, const char *key, char **out, char *err,
                    size_t errlen)
{
    if (!json_is_string(v) || json_string_length(v) == 0)
        return clb_errf(err, errlen, CLB_EINVAL, "%s: %s: must be a non-empty string (a path)", src,
                    key);
    if (json_string_length(v) >= 4000)
        return clb_errf(err, errlen, CLB_EINVAL, "%s: %s: path too long", src, key);
    free(*out);
    *out = dupstr(json_string_value(v));
    return *out ? CLB_OK : clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
}

static int parse_listen(json_t *v, const char *src, const char *key, char *host, int *port,
                        char *err, size_t errlen)
{
    char why[200];
    if (!json_is_string(v))
        return clb_errf(err, errlen, CLB_EINVAL, "%s: %s: must be a \"HOST:PORT\" string, not %s", src,
                    key, clb_json_type_name(v));
    if (clb_parse_host_port(json_string_value(v), host, CLB_HOST_MAX, port, why, sizeof(why)) !=
        CLB_OK)
        return clb_errf(err, errlen, CLB_EINVAL, "%s: %s: %s", src, key, why);
    return CLB_OK;
}

/* Fills n (a copy of the current config) from root. */
static int parse_root(struct clb_serve_config *n, json_t *root, const char *src, char *err,
                      size_t errlen)
{
    static const char *const top[] = { "listen", "ws_listen", "data_dir", "tick_ms", "seed",
                                       "tls", "metrics", "debug_console", "ws", "connectors",
                                       "balances", "store", "gateway", "resume_strategies",
                                       "worker", NULL };
    int rc;
    if (!json_is_object(root))
        return clb_errf(err, errlen, CLB_EINVAL, "%s: the top level must be an object, not %s", src,
                    clb_json_type_name(root));
    if ((rc = check_keys(root, top, src, "", err, errlen)) != CLB_OK)
        return rc;
    json_t *v;
    if ((v = json_object_get(root, "listen")) &&
        (rc = parse_listen(v, src, "listen", n->listen_host, &n->listen_port, err, errlen)))
        return rc;
    if ((v = json_object_get(root, "ws_listen")) &&
        (rc = parse_listen(v, src, "ws_listen", n->ws_host, &n->ws_port, err, errlen)))
        return rc;
    if ((v = json_object_get(root, "data_dir")) &&
        (rc = get_path(v, src, "data_dir", &n->data_dir, err, errlen)))
        return rc;
    if ((v = json_object_get(root, "tick_ms"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 3600000)
            return clb_errf(err, errlen, CLB_EINVAL, "%s: tick_ms: must be an integer in [1, 3600000]",
                        src);
        n->tick_ms = json_integer_value(v);
    }
    if ((v = json_object_get(root, "seed"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return clb_errf(err, errlen, CLB_EINVAL, "%s: seed: must be an integer >= 0", src);
        n->seed = (uint64_t)json_integer_value(v);
        n->seed_set = true;
    }
    if ((v = json_object_get(root, "tls"))) {
        static const char *const keys[] = { "cert", "key", NULL };
        if (!json_is_object(v))
            return clb_errf(err, errlen, CLB_EINVAL,
                        "%s: tls: must be an object {\"cert\": PATH, \"key\": PATH}", src);
        if ((rc = check_keys(v, keys, src, "tls.", err, errlen)) != CLB_OK)
            return rc;
        json_t *c = json_object_get(v, "cert"), *k = json_object_get(v, "key");
        if (!c != !k)
            return clb_errf(err, errlen, CLB_EINVAL, "%s: tls.%s: required with tls.%s", src,
                        c ? "key" : "cert", c ? "cert" : "key");
        if (c && ((rc = get_path(c, src, "tls.cert", &n->tls_cert, err, errlen)) ||
                  (rc = get_path(k, src, "tls.key", &n->tls_key, err, errlen))))
            return rc;
    }
    if ((v = json_object_get(root, "metrics"))) {
        static const char *const keys[] = { "public", NULL };
        if (!json_is_object(v))
            return clb_errf(err, errlen, CLB_EINVAL,
                        "%s: metrics: must be an object {\"public\": BOOL}", src);
        if ((rc = check_keys(v, keys, src, "metrics.", err, errlen)) != CLB_OK)
            return rc;
        json_t *p = json_object_get(v, "public");
        if (p && !json_is_boolean(p))
            return clb_errf(err, errlen, CLB_EINVAL, "%s: metrics.public: must be true or false", src);
        if (p)
            n->metrics_public = json_is_true(p);
    }
    if ((v = json_object_get(root, "debug_console"))) {
        if (json_is_boolean(v)) {
            n->debug_console = json_is_true(v);
        } else if (json_is_integer(v) && json_integer_value(v) >= 0 &&
                   json_integer_value(v) <= 65535) {
            n->debug_console = true;
            n->debug_console_port = (int)json_integer_value(v);
        } else {
            return clb_errf(err, errlen, CLB_EINVAL,
                        "%s: debug_console: must be true, false or a port in [0, 65535]", src);
        }
    }
    if ((v = json_object_get(root, "resume_strategies"))) {
        if (!json_is_boolean(v))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "%s: resume_strategies: must be true or false, not %s", src,
                            clb_json_type_name(v));
        n->resume_strategies = json_is_true(v);
    }
    if ((v = json_object_get(root, "worker"))) {
        static const char *const keys[] = { "busy_poll", "cpu", NULL };
        if (!json_is_object(v))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "%s: worker: must be an object {\"busy_poll\": BOOL, \"cpu\": N}",
                            src);
        if ((rc = check_keys(v, keys, src, "worker.", err, errlen)) != CLB_OK)
            return rc;
        json_t *b = json_object_get(v, "busy_poll"), *c = json_object_get(v, "cpu");
        if (b && !json_is_boolean(b))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "%s: worker.busy_poll: must be true or false, not %s", src,
                            clb_json_type_name(b));
        if (c && !json_is_null(c) &&
            (!json_is_integer(c) || json_integer_value(c) < 0 || json_integer_value(c) > 1023))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "%s: worker.cpu: must be a CPU number in [0, 1023] or null", src);
        if (b)
            n->busy_poll = json_is_true(b);
        if (c)
            n->worker_cpu = json_is_null(c) ? -1 : (int)json_integer_value(c);
    }
    if ((v = json_object_get(root, "ws"))) {
        static const char *const keys[] = { "allowed_origins", NULL };
        if (!json_is_object(v))
            return clb_errf(err, errlen, CLB_EINVAL,
                        "%s: ws: must be an object {\"allowed_origins\": [...]}", src);
        if ((rc = check_keys(v, keys, src, "ws.", err, errlen)) != CLB_OK)
            return rc;
        json_t *o = json_object_get(v, "allowed_origins");
        if (o) {
            if (!json_is_array(o) || json_array_size(o) > CLB_CONFIG_MAX_ORIGINS)
                return clb_errf(err, errlen, CLB_EINVAL,
                            "%s: ws.allowed_origins: must be an array of at most %d origins", src,
                            CLB_CONFIG_MAX_ORIGINS);
            for (size_t i = 0; i < json_array_size(o); i++) {
                json_t *s = json_array_get(o, i);
                const char *t = json_is_string(s) ? json_string_value(s) : NULL;
                if (!t || (strncmp(t, "https://", 8) != 0 && strncmp(t, "http://", 7) != 0) ||
                    json_string_length(s) > 255)
                    return clb_errf(err, errlen, CLB_EINVAL,
                                "%s: ws.allowed_origins[%zu]: must be an origin string like "
                                "\"https://dash.example:443\"", src, i);
            }
            size_t cnt = json_array_size(o);
            char **list = calloc(cnt ? cnt : 1, sizeof(*list));
            if (!list)
                return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
            for (size_t i = 0; i < cnt; i++) {
                list[i] = dupstr(json_string_value(json_array_get(o, i)));
                if (!list[i]) {
                    free_origins(list, i);
                    return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
                }
            }
            free_origins(n->allowed_origins, n->n_origins);
            n->allowed_origins = list;
            n->n_origins = cnt;
        }
    }
    if ((v = json_object_get(root, "store"))) {
        static const char *const keys[] = { "url", NULL };
        if (!json_is_object(v))
            return clb_errf(err, errlen, CLB_EINVAL, "%s: store: must be an object {\"url\": URL}",
                        src);
        if ((rc = check_keys(v, keys, src, "store.", err, errlen)) != CLB_OK)
            return rc;
        json_t *u = json_object_get(v, "url");
        if (u && (!json_is_string(u) || json_string_length(u) == 0))
            return clb_errf(err, errlen, CLB_EINVAL, "%s: store.url: must be a non-empty string", src);
        if (u) {
            free(n->store_url);
            if (!(n->store_url = dupstr(json_string_value(u))))
                return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
        }
    }
    json_t *conns = json_object_get(root, "connectors");
    json_t *bals = json_object_get(root, "balances");
    json_t *gw = json_object_get(root, "gateway");
    if (gw) {
        char gwhy[300];
        if ((rc = clb_gateway_check_config(gw, gwhy, sizeof(gwhy))) != CLB_OK)
            return clb_errf(err, errlen, rc, "%s: %s", src, gwhy);
        json_decref(n->gateway);
        n->gateway = json_incref(gw);
    }
    if (conns) {
        json_decref(n->connectors);
        n->connectors = json_incref(conns);
    }
    if (bals) {
        json_decref(n->balances);
        n->balances = json_incref(bals);
    }
    struct clb_engine_config ec;
    clb_serve_config_engine(n, &ec);
    char why[300];
    if ((rc = clb_engine_check_config(&ec, why, sizeof(why))) != CLB_OK)
        return clb_errf(err, errlen, rc, "%s: %s", src, why);
    return CLB_OK;
}

/* Deep enough copy of c for a scratch parse (strings and arrays owned). */
static int copy_config(struct clb_serve_config *dst, const struct clb_serve_config *src)
{
    *dst = *src;
    dst->data_dir = src->data_dir ? dupstr(src->data_dir) : NULL;
    dst->tls_cert = src->tls_cert ? dupstr(src->tls_cert) : NULL;
    dst->tls_key = src->tls_key ? dupstr(src->tls_key) : NULL;
    dst->store_url = src->store_url ? dupstr(src->store_url) : NULL;
    dst->allowed_origins = NULL;
    dst->n_origins = 0;
    json_incref(dst->connectors);
    json_incref(dst->balances);
    json_incref(dst->gateway);
    bool ok = (!src->data_dir || dst->data_dir) && (!src->tls_cert || dst->tls_cert) &&
              (!src->tls_key || dst->tls_key) && (!src->store_url || dst->store_url);
    if (ok && src->allowed_origins) {
        dst->allowed_origins = calloc(src->n_origins ? src->n_origins : 1, sizeof(char *));
        ok = dst->allowed_origins != NULL;
        for (size_t i = 0; ok && i < src->n_origins; i++) {
            dst->allowed_origins[i] = dupstr(src->allowed_origins[i]);
            ok = dst->allowed_origins[i] != NULL;
            dst->n_origins = i + 1;
        }
    }
    if (!ok) {
        clb_serve_config_deinit(dst);
        return CLB_ENOMEM;
    }
    return CLB_OK;
}

static int parse_doc(struct clb_serve_config *c, json_t *root, const char *src, char *err,
                     size_t errlen)
{
    struct clb_serve_config n;
    if (copy_config(&n, c) != CLB_OK)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    int rc = parse_root(&n, root, src, err, errlen);
    if (rc != CLB_OK) {
        clb_serve_config_deinit(&n);
        return rc;
    }
    clb_serve_config_deinit(c);
    *c = n;
    return CLB_OK;
}

int clb_serve_config_parse(struct clb_serve_config *c, const char *text, const char *source,
                           char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!root)
        return clb_errf(err, errlen, CLB_EINVAL, "%s:%d:%d: %s", source, je.line, je.column, je.text);
    int rc = parse_doc(c, root, source, err, errlen);
    json_decref(root);
    return rc;
}

int clb_serve_config_load(struct clb_serve_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return clb_errf(err, errlen, CLB_EIO, "%s: %s", path, strerror(errno));
    json_error_t je;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &je);
    fclose(f);
    if (!root)
        return clb_errf(err, errlen, CLB_EINVAL, "%s:%d:%d: %s", path, je.line, je.column, je.text);
    int rc = parse_doc(c, root, path, err, errlen);
    json_decref(root);
    return rc;
}

void clb_serve_config_engine(const struct clb_serve_config *c, struct clb_engine_config *out)
{
    clb_engine_config_default(out);
    out->tick_ms = c->tick_ms;
    out->seed = c->seed;
    out->connectors = c->connectors;
    out->balances = c->balances;
    out->busy_poll = c->busy_poll;
    out->worker_cpu = c->worker_cpu;
}
