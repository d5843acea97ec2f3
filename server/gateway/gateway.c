/*
 * gateway.c — the DEX gateway's networks and routes (gateway.h).
 *
 * Design:
 *  - The configuration is parsed once into fixed arrays (networks, tokens);
 *    tokens are identified by the configured address, never by on-chain
 *    symbol().
 *  - Each route handler parses its body against a field list (no unknown
 *    fields, required ones present), resolves network and tokens, and
 *    talks to the node through rpc.h. Failures become
 *    {"error": {"code", "message"}} with a 4xx for the client's mistakes
 *    (unknown token, zero amount, insufficient balance or allowance, a
 *    revert) and 502/504 for the node's failures.
 *  - Amounts are exact: decimal text <-> 256-bit integers with the token's
 *    decimals (uint256.h). Prices are quote per base with 18 fractional
 *    digits, rounded down.
 *  - Uniswap V2: quotes with Router02 getAmountsOut (SELL: exact base in)
 *    and getAmountsIn (BUY: exact base out); trades with
 *    swapExactTokensForTokens / swapTokensForExactTokens, the bound
 *    (amountOutMin / amountInMax) from limitPrice or from the quote and
 *    slippage_bps, a deadline deadline_s ahead.
 *  - Transactions: gas limit always explicit (eth_estimateGas plus
 *    gas_margin_pct), EIP-1559 fees when eth_feeHistory reports a base fee,
 *    else legacy eth_gasPrice; nonces from a per-address manager seeded by
 *    eth_getTransactionCount(pending), incremented locally and forgotten
 *    after any failed send (so the next one re-reads the node).
 *  - Wallet keys: decrypted from the secrets file (scrypt, ~0.1 s) at their
 *    first use and kept in a small mutex-guarded cache in the gateway,
 *    wiped at destroy; a wallet replaced through /gateway/wallet/add is
 *    forgotten (a key removed with `colibri secret rm` stays usable until
 *    the server restarts).
 *  - Poll answers list the receipt's ERC20 transfers of configured tokens
 *    ("tokenTransfers"): the amounts a swap really moved.
 */
#include "gateway.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "error.h"
#include "eth.h"
#include "rpc.h"
#include "wallet.h"

#define NAME_MAX_LEN 32
#define SYMBOL_MAX_LEN 16
#define MAX_NONCE_SLOTS 64
#define QUOTE_GAS_ESTIMATE 150000 /* typical 2-token swap, for quotes without a sender */
#define CALL_BUF 4096
#define NATIVE "ETH"

struct gw_token {
    char symbol[SYMBOL_MAX_LEN];
    uint8_t addr[20];
    unsigned decimals;
};

struct nonce_slot {
    uint8_t addr[20];
    uint64_t next;
    bool used;
};

struct gw_net {
    char name[NAME_MAX_LEN + 1];
    uint64_t chain_id;
    struct clb_rpc *rpc;
    struct gw_token tokens[CLB_GATEWAY_MAX_TOKENS];
    size_t n_tokens;
    bool has_uniswap;
    uint8_t router[20];
    uint8_t factory[20];
    int slippage_bps;
    int deadline_s;
    int gas_margin_pct;
    pthread_mutex_t lock; /* chain_checked, nonces */
    bool chain_checked;
    struct nonce_slot nonces[MAX_NONCE_SLOTS];
};

/* A wallet key decrypted once (opening the secrets file costs a scrypt,
 * ~0.1 s) and kept for the gateway's lifetime; wiped at destroy and when
 * the wallet is replaced through the gateway. */
struct key_slot {
    const struct gw_net *net;
    uint8_t addr[20];
    uint8_t key[32];
    bool used;
};

#define MAX_KEY_SLOTS 64

struct clb_gateway {
    struct gw_net nets[CLB_GATEWAY_MAX_NETWORKS];
    size_t n_nets;
    char *data_dir;
    pthread_mutex_t wallet_lock; /* serialises writes of the secrets file */
    pthread_mutex_t key_lock;    /* keys[] */
    struct key_slot keys[MAX_KEY_SLOTS];
};

/* ---- configuration ---- */

static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-' && s[i] != '.')
            return false;
    return true;
}

/* http:// only to a loopback host; https:// anywhere. */
static bool rpc_url_ok(const char *u)
{
    if (strncmp(u, "https://", 8) == 0)
        return strlen(u) > 8;
    if (strncmp(u, "http://", 7) != 0)
        return false;
    const char *h = u + 7;
    static const char *const loop[] = { "127.", "localhost:", "localhost/", "[::1]" };
    for (size_t i = 0; i < sizeof(loop) / sizeof(loop[0]); i++)
        if (strncmp(h, loop[i], strlen(loop[i])) == 0)
            return true;
    return strcmp(h, "localhost") == 0;
}

static int check_keys(const json_t *obj, const char *const *known, const char *where, char *err,
                      size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v) {
        bool ok = false;
        for (size_t i = 0; known[i] && !ok; i++)
            ok = strcmp(k, known[i]) == 0;
        if (!ok)
            return clb_errf(err, errlen, CLB_EINVAL, "%s.%.64s: unknown key", where, k);
    }
    return CLB_OK;
}

static int get_int(const json_t *o, const char *key, long lo, long hi, long dflt, long *out,
                   const char *where, char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    *out = dflt;
    if (!v)
        return CLB_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return clb_errf(err, errlen, CLB_EINVAL, "%s.%s: must be an integer in [%ld, %ld]", where,
                        key, lo, hi);
    *out = (long)json_integer_value(v);
    return CLB_OK;
}

static int get_addr(const json_t *o, const char *key, uint8_t out[20], const char *where,
                    char *err, size_t errlen)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_string(v))
        return clb_errf(err, errlen, CLB_EINVAL, "%s.%s: required, an address \"0x...\"",
                        where, key);
    if (clb_eth_address_parse(json_string_value(v), out) != CLB_OK)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "%s.%s: not an address (0x + 40 hex digits, EIP-55 checksum when "
                        "mixed case): \"%.64s\"", where, key, json_string_value(v));
    return CLB_OK;
}

/* Parses one network into n (n->name set by the caller); rpc not created. */
static int parse_network(const json_t *o, struct gw_net *n, char *err, size_t errlen)
{
    static const char *const keys[] = { "chain", "rpc_url", "chain_id", "tokens", "uniswap_v2",
                                        "rpc_timeout_ms", "slippage_bps", "deadline_s",
                                        "gas_margin_pct", NULL };
    char where[96];
    snprintf(where, sizeof(where), "gateway.networks.%s", n->name);
    if (!json_is_object(o))
        return clb_errf(err, errlen, CLB_EINVAL, "%s: must be an object", where);
    int rc = check_keys(o, keys, where, err, errlen);
    if (rc != CLB_OK)
        return rc;
    json_t *chain = json_object_get(o, "chain");
    if (!json_is_string(chain) || strcmp(json_string_value(chain), "ethereum") != 0)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "%s.chain: required, and \"ethereum\" is the only chain supported",
                        where);
    json_t *url = json_object_get(o, "rpc_url");
    if (!json_is_string(url) || !rpc_url_ok(json_string_value(url)) ||
        json_string_length(url) >= CLB_RPC_URL_MAX)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "%s.rpc_url: required, an https:// URL (http:// only to 127.0.0.1, "
                        "localhost or [::1])", where);
    json_t *cid = json_object_get(o, "chain_id");
    if (!json_is_integer(cid) || json_integer_value(cid) < 1)
        return clb_errf(err, errlen, CLB_EINVAL, "%s.chain_id: required, an integer >= 1", where);
    n->chain_id = (uint64_t)json_integer_value(cid);
    long timeout, slip, deadline, margin;
    if ((rc = get_int(o, "rpc_timeout_ms", 100, 120000, CLB_RPC_DEFAULT_TIMEOUT_MS, &timeout,
                      where, err, errlen)) ||
        (rc = get_int(o, "slippage_bps", 0, 5000, 100, &slip, where, err, errlen)) ||
        (rc = get_int(o, "deadline_s", 1, 86400, 600, &deadline, where, err, errlen)) ||
        (rc = get_int(o, "gas_margin_pct", 0, 200, 20, &margin, where, err, errlen)))
        return rc;
    n->slippage_bps = (int)slip;
    n->deadline_s = (int)deadline;
    n->gas_margin_pct = (int)margin;
    json_t *toks = json_object_get(o, "tokens");
    if (toks) {
        if (!json_is_object(toks) || json_object_size(toks) > CLB_GATEWAY_MAX_TOKENS)
            return clb_errf(err, errlen, CLB_EINVAL,
                            "%s.tokens: must be an object of at most %d tokens", where,
                            CLB_GATEWAY_MAX_TOKENS);
        const char *sym;
        json_t *t;
        json_object_foreach(toks, sym, t) {
            char tw[160];
            snprintf(tw, sizeof(tw), "%s.tokens.%.32s", where, sym);
            static const char *const tkeys[] = { "address", "decimals", NULL };
            if (!name_ok(sym, SYMBOL_MAX_LEN - 1))
                return clb_errf(err, errlen, CLB_EINVAL,
                                "%s: a symbol is 1-15 letters, digits, '.', '_' or '-'", tw);
            if (strcasecmp(sym, NATIVE) == 0)
                return clb_errf(err, errlen, CLB_EINVAL,
                                "%s: \"ETH\" is the native currency, not a token (use WETH)",
                                tw);
            if (!json_is_object(t))
                return clb_errf(err, errlen, CLB_EINVAL,
                                "%s: must be an object {\"address\", \"decimals\"}", tw);
            if ((rc = check_keys(t, tkeys, tw, err, errlen)) != CLB_OK)
                return rc;
            struct gw_token *tk = &n->tokens[n->n_tokens];
            snprintf(tk->symbol, sizeof(tk->symbol), "%s", sym);
            if ((rc = get_addr(t, "address", tk->addr, tw, err, errlen)) != CLB_OK)
                return rc;
            json_t *d = json_object_get(t, "decimals");
            if (!json_is_integer(d) || json_integer_value(d) < 0 || json_integer_value(d) > 36)
                return clb_errf(err, errlen, CLB_EINVAL,
                                "%s.decimals: required, an integer in [0, 36]", tw);
            tk->decimals = (unsigned)json_integer_value(d);
            for (size_t i = 0; i < n->n_tokens; i++) {
                if (strcasecmp(n->tokens[i].symbol, sym) == 0)
                    return clb_errf(err, errlen, CLB_EINVAL,
                                    "%s: same symbol as %s (symbols are case-insensitive)", tw,
                                    n->tokens[i].symbol);
                if (memcmp(n->tokens[i].addr, tk->addr, 20) == 0)
                    return clb_errf(err, errlen, CLB_EINVAL, "%s.address: same as %s's", tw,
                                    n->tokens[i].symbol);
            }
            n->n_tokens++;
        }
    }
    json_t *uni = json_object_get(o, "uniswap_v2");
    if (uni) {
        static const char *const ukeys[] = { "router", "factory", NULL };
        char uw[120];
        snprintf(uw, sizeof(uw), "%s.uniswap_v2", where);
        if (!json_is_object(uni))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "%s: must be an object {\"router\", \"factory\"}", uw);
        if ((rc = check_keys(uni, ukeys, uw, err, errlen)) ||
            (rc = get_addr(uni, "router", n->router, uw, err, errlen)) ||
            (rc = get_addr(uni, "factory", n->factory, uw, err, errlen)))
            return rc;
        n->has_uniswap = true;
    }
    if (clb_rpc_create(json_string_value(url), (int)timeout, &n->rpc) != CLB_OK)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    return CLB_OK;
}

static void free_nets(struct gw_net *nets, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        clb_rpc_destroy(nets[i].rpc);
        pthread_mutex_destroy(&nets[i].lock);
    }
}

/* Parses cfg into nets[] (count in *n); on failure everything parsed is freed. */
static int parse_config(const json_t *cfg, struct gw_net *nets, size_t *n, char *err,
                        size_t errlen)
{
    *n = 0;
    if (!cfg)
        return CLB_OK;
    static const char *const keys[] = { "networks", NULL };
    if (!json_is_object(cfg))
        return clb_errf(err, errlen, CLB_EINVAL,
                        "gateway: must be an object {\"networks\": {...}}");
    int rc = check_keys(cfg, keys, "gateway", err, errlen);
    if (rc != CLB_OK)
        return rc;
    json_t *nw = json_object_get(cfg, "networks");
    if (!nw)
        return CLB_OK;
    if (!json_is_object(nw) || json_object_size(nw) > CLB_GATEWAY_MAX_NETWORKS)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "gateway.networks: must be an object of at most %d networks",
                        CLB_GATEWAY_MAX_NETWORKS);
    const char *name;
    json_t *o;
    json_object_foreach(nw, name, o) {
        if (!name_ok(name, NAME_MAX_LEN))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "gateway.networks.%.40s: a network name is 1-32 letters, digits, "
                            "'.', '_' or '-'", name);
        struct gw_net *net = &nets[*n];
        memset(net, 0, sizeof(*net));
        snprintf(net->name, sizeof(net->name), "%s", name);
        pthread_mutex_init(&net->lock, NULL);
        rc = parse_network(o, net, err, errlen);
        if (rc != CLB_OK) {
            clb_rpc_destroy(net->rpc);
            pthread_mutex_destroy(&net->lock);
            free_nets(nets, *n);
            *n = 0;
            return rc;
        }
        (*n)++;
    }
    return CLB_OK;
}

int clb_gateway_check_config(const json_t *cfg, char *err, size_t errlen)
{
    struct gw_net *nets = calloc(CLB_GATEWAY_MAX_NETWORKS, sizeof(*nets));
    if (!nets)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    size_t n = 0;
    int rc = parse_config(cfg, nets, &n, err, errlen);
    if (rc == CLB_OK)
        free_nets(nets, n);
    free(nets);
    return rc;
}

int clb_gateway_create(const json_t *cfg, const char *data_dir, struct clb_gateway **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    struct clb_gateway *g = calloc(1, sizeof(*g));
    if (!g)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    g->data_dir = strdup(data_dir && *data_dir ? data_dir : ".");
    if (!g->data_dir) {
        free(g);
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    }
    int rc = parse_config(cfg, g->nets, &g->n_nets, err, errlen);
    if (rc != CLB_OK) {
        free(g->data_dir);
        free(g);
        return rc;
    }
    pthread_mutex_init(&g->wallet_lock, NULL);
    pthread_mutex_init(&g->key_lock, NULL);
    *out = g;
    return CLB_OK;
}

void clb_gateway_destroy(struct clb_gateway *g)
{
    if (!g)
        return;
    free_nets(g->nets, g->n_nets);
    OPENSSL_cleanse(g->keys, sizeof(g->keys));
    pthread_mutex_destroy(&g->key_lock);
    pthread_mutex_destroy(&g->wallet_lock);
    free(g->data_dir);
    free(g);
}

/* ---- request plumbing ---- */

struct call {
    struct clb_gateway *g;
    json_t *body;
    struct gw_net *net;
    int status;
    json_t *out;
    struct timespec t0;
};

__attribute__((format(printf, 4, 5))) static void set_err(struct call *c, int status,
                                                          const char *code, const char *fmt,
                                                          ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_decref(c->out);
    c->status = status;
    c->out = json_pack("{s:{s:s, s:s}}", "error", "code", code, "message", msg);
}

/* Maps an RPC failure onto an answer; `what` says what was being done. */
static void rpc_fail(struct call *c, int rc, const struct clb_rpc_error *e, const char *what)
{
    if (rc == CLB_ETIMEDOUT)
        set_err(c, 504, "rpc_timeout", "%s: %s", what, e->message);
    else if (rc == CLB_ESTATE && e->reverted)
        set_err(c, 400, "reverted", "%s: %s", what, e->message);
    else if (rc == CLB_ESTATE)
        set_err(c, 502, "rpc_error", "%s: %s", what, e->message);
    else
        set_err(c, 502, "rpc_unavailable", "%s: %s", what, e->message);
}

enum ftype { F_STR, F_INT, F_AMOUNT, F_STRARRAY };

struct field {
    const char *name;
    enum ftype type;
    bool required;
};

static bool body_fields(struct call *c, const struct field *fs, size_t n)
{
    const char *k;
    json_t *v;
    json_object_foreach(c->body, k, v) {
        size_t i = 0;
        while (i < n && strcmp(fs[i].name, k) != 0)
            i++;
        if (i == n) {
            set_err(c, 400, "bad_request", "unknown field '%.64s'", k);
            return false;
        }
        bool ok = false;
        switch (fs[i].type) {
        case F_STR:
            ok = json_is_string(v) && json_string_length(v) > 0 && json_string_length(v) < 256;
            break;
        case F_INT:
            ok = json_is_integer(v) && json_integer_value(v) >= 0;
            break;
        case F_AMOUNT:
            ok = (json_is_string(v) && json_string_length(v) > 0 &&
                  json_string_length(v) < 100) ||
                 (json_is_integer(v) && json_integer_value(v) >= 0);
            break;
        case F_STRARRAY:
            ok = json_is_array(v) && json_array_size(v) <= CLB_GATEWAY_MAX_TOKENS + 1;
            for (size_t j = 0; ok && j < json_array_size(v); j++)
                ok = json_is_string(json_array_get(v, j));
            break;
        }
        if (!ok) {
            static const char *const tn[] = { "a non-empty string", "an integer >= 0",
                                              "a decimal string", "an array of strings" };
            set_err(c, 400, "bad_request", "field '%s' must be %s", k, tn[fs[i].type]);
            return false;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (fs[i].required && !json_object_get(c->body, fs[i].name)) {
            set_err(c, 400, "bad_request", "field '%s' is required", fs[i].name);
            return false;
        }
    }
    return true;
}

static const char *str(struct call *c, const char *key)
{
    return json_string_value(json_object_get(c->body, key));
}

/* Checks the chain id once per network (first use); false after an error. */
static bool ensure_chain(struct call *c)
{
    struct gw_net *n = c->net;
    pthread_mutex_lock(&n->lock);
    bool ok = n->chain_checked;
    pthread_mutex_unlock(&n->lock);
    if (ok)
        return true;
    struct clb_rpc_error e;
    uint64_t id = 0;
    int rc = clb_rpc_chain_id(n->rpc, &id, &e);
    if (rc != CLB_OK) {
        rpc_fail(c, rc, &e, "eth_chainId");
        return false;
    }
    if (id != n->chain_id) {
        set_err(c, 502, "chain_mismatch",
                "network '%s': the node at its rpc_url is on chain %llu, the configuration "
                "says chain_id %llu", n->name, (unsigned long long)id,
                (unsigned long long)n->chain_id);
        return false;
    }
    pthread_mutex_lock(&n->lock);
    n->chain_checked = true;
    pthread_mutex_unlock(&n->lock);
    return true;
}

/* Resolves "network" (and checks "chain" and "connector" when present). */
static bool resolve_network(struct call *c, bool need_uniswap)
{
    const char *chain = str(c, "chain");
    if (chain && strcmp(chain, "ethereum") != 0) {
        set_err(c, 400, "bad_request", "chain '%.64s' is not supported (only \"ethereum\")",
                chain);
        return false;
    }
    const char *conn = str(c, "connector");
    if (conn && strcmp(conn, "uniswap_v2") != 0 && strcmp(conn, "uniswap") != 0) {
        set_err(c, 400, "bad_request", "connector '%.64s' is not supported (only \"uniswap_v2\")",
                conn);
        return false;
    }
    const char *name = str(c, "network");
    for (size_t i = 0; name && i < c->g->n_nets; i++) {
        if (strcmp(c->g->nets[i].name, name) == 0) {
            c->net = &c->g->nets[i];
            break;
        }
    }
    if (!c->net) {
        char list[300] = "";
        size_t used = 0;
        for (size_t i = 0; i < c->g->n_nets && used < sizeof(list); i++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                     c->g->nets[i].name);
        set_err(c, 404, "unknown_network", "no network '%.64s' is configured (known: %s)",
                name ? name : "", c->g->n_nets ? list : "none");
        return false;
    }
    if (need_uniswap && !c->net->has_uniswap) {
        set_err(c, 400, "unsupported", "network '%s' has no uniswap_v2 configured", c->net->name);
        return false;
    }
    return ensure_chain(c);
}

static const struct gw_token *find_token(const struct gw_net *n, const char *sym)
{
    for (size_t i = 0; i < n->n_tokens; i++)
        if (strcasecmp(n->tokens[i].symbol, sym) == 0)
            return &n->tokens[i];
    return NULL;
}

static const struct gw_token *token(struct call *c, const char *sym)
{
    const struct gw_token *t = sym ? find_token(c->net, sym) : NULL;
    if (!t) {
        char list[400] = "";
        size_t used = 0;
        for (size_t i = 0; i < c->net->n_tokens && used < sizeof(list); i++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                     c->net->tokens[i].symbol);
        set_err(c, 400, "unknown_token", "network '%s' has no token '%.32s' (known: %s)",
                c->net->name, sym ? sym : "", c->net->n_tokens ? list : "none");
    }
    return t;
}

/* Parses an amount field (decimal string or integer) with decimals. */
static bool amount(struct call *c, const char *key, unsigned decimals, bool nonzero,
                   uint8_t out[32])
{
    json_t *v = json_object_get(c->body, key);
    char buf[100];
    if (json_is_integer(v))
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        snprintf(buf, sizeof(buf), "%s", json_string_value(v) ? json_string_value(v) : "");
    int rc = clb_u256_from_dec(buf, decimals, out);
    if (rc == CLB_EPRECISION) {
        set_err(c, 400, "invalid_amount", "%s '%s' has more than %u decimals", key, buf,
                decimals);
        return false;
    }
    if (rc != CLB_OK) {
        set_err(c, 400, "invalid_amount", "%s '%s' is not a non-negative decimal number%s", key,
                buf, rc == CLB_EOVERFLOW ? " that fits in 256 bits" : "");
        return false;
    }
    if (nonzero && clb_u256_is_zero(out)) {
        set_err(c, 400, "invalid_amount", "%s must be greater than zero", key);
        return false;
    }
    return true;
}

static bool address_field(struct call *c, const char *key, uint8_t out[20])
{
    const char *s = str(c, key);
    if (!s || clb_eth_address_parse(s, out) != CLB_OK) {
        set_err(c, 400, "invalid_address",
                "%s '%.64s' is not an address (0x + 40 hex digits; mixed case must match the "
                "EIP-55 checksum)", key, s ? s : "");
        return false;
    }
    return true;
}

static void dec_str(const uint8_t v[32], unsigned decimals, char out[CLB_U256_DEC_MAX])
{
    if (clb_u256_to_dec(v, decimals, out, CLB_U256_DEC_MAX) != CLB_OK)
        snprintf(out, CLB_U256_DEC_MAX, "?");
}

static void u256_str(const uint8_t v[32], char out[CLB_U256_DEC_MAX])
{
    dec_str(v, 0, out);
}

static void pow10_u256(unsigned e, uint8_t out[32])
{
    uint8_t ten[32];
    clb_u256_from_u64(ten, 10);
    clb_u256_from_u64(out, 1);
    for (unsigned i = 0; i < e; i++)
        clb_u256_mul(out, out, ten);
}

/* Scaled (18 decimals) quote-per-base price of raw amounts; CLB_EOVERFLOW/EINVAL. */
static int price_of(const uint8_t base_raw[32], unsigned base_dec, const uint8_t quote_raw[32],
                    unsigned quote_dec, uint8_t out[32])
{
    int p = (int)base_dec + 18 - (int)quote_dec;
    uint8_t scale[32];
    if (p >= 0) {
        pow10_u256((unsigned)p, scale);
        return clb_u256_mul_div(out, quote_raw, scale, base_raw);
    }
    uint8_t den[32];
    pow10_u256((unsigned)-p, scale);
    int rc = clb_u256_mul(den, base_raw, scale);
    if (rc != CLB_OK)
        return rc;
    return clb_u256_divmod(out, NULL, quote_raw, den);
}

/* quote raw amount for base_raw at a price scaled by 1e18, rounded down. */
static int quote_for(const uint8_t base_raw[32], unsigned base_dec, const uint8_t price[32],
                     unsigned quote_dec, uint8_t out[32])
{
    int p = (int)base_dec + 18 - (int)quote_dec;
    uint8_t scale[32];
    if (p >= 0) {
        pow10_u256((unsigned)p, scale);
        return clb_u256_mul_div(out, base_raw, price, scale);
    }
    pow10_u256((unsigned)-p, scale);
    uint8_t one[32];
    clb_u256_from_u64(one, 1);
    uint8_t t[32];
    int rc = clb_u256_mul(t, price, scale);
    return rc != CLB_OK ? rc : clb_u256_mul_div(out, base_raw, t, one);
}

static json_t *addr_text(const uint8_t a[20])
{
    char t[CLB_ETH_ADDR_TEXT];
    clb_eth_address_format(a, t);
    return json_string(t);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Adds network, timestamp and latency (seconds) to a success answer. */
static void finish(struct call *c, json_t *o)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double lat = (double)(t1.tv_sec - c->t0.tv_sec) + (double)(t1.tv_nsec - c->t0.tv_nsec) / 1e9;
    if (!o) {
        set_err(c, 500, "internal", "out of memory");
        return;
    }
    if (c->net)
        json_object_set_new(o, "network", json_string(c->net->name));
    json_object_set_new(o, "timestamp", json_integer(now_ms()));
    json_object_set_new(o, "latency", json_real(lat));
    json_decref(c->out);
    c->out = o;
    c->status = c->status ? c->status : 200;
}

/* ---- contract calls ---- */

/* eth_call of an encoded call into out (CALL_BUF). */
static bool contract_call(struct call *c, const uint8_t to[20], const char *sig,
                          const struct clb_abi_arg *args, size_t n, uint8_t *out, size_t *out_len,
                          const char *what)
{
    uint8_t data[CALL_BUF];
    size_t len = 0;
    if (clb_abi_encode_call(sig, args, n, data, sizeof(data), &len) != CLB_OK) {
        set_err(c, 500, "internal", "cannot encode %s", sig);
        return false;
    }
    struct clb_rpc_error e;
    int rc = clb_rpc_eth_call(c->net->rpc, NULL, to, data, len, out, CALL_BUF, out_len, &e);
    if (rc != CLB_OK) {
        rpc_fail(c, rc, &e, what);
        return false;
    }
    return true;
}

static bool erc20_u256(struct call *c, const struct gw_token *t, const char *sig,
                       const uint8_t *a1, const uint8_t *a2, uint8_t out[32])
{
    struct clb_abi_arg args[2];
    size_t n = 0;
    if (a1)
        args[n++] = clb_abi_arg_address(a1);
    if (a2)
        args[n++] = clb_abi_arg_address(a2);
    uint8_t buf[CALL_BUF];
    size_t len = 0;
    char what[96];
    snprintf(what, sizeof(what), "%s.%.*s", t->symbol, (int)strcspn(sig, "("), sig);
    if (!contract_call(c, t->addr, sig, args, n, buf, &len, what))
        return false;
    if (clb_abi_decode_u256(buf, len, 0, out) != CLB_OK) {
        set_err(c, 502, "rpc_error",
                "%s: the token contract at its address answered no uint256 (is it an ERC20?)",
                what);
        return false;
    }
    return true;
}

static bool balance_of(struct call *c, const char *sym, const uint8_t addr[20], uint8_t out[32],
                       unsigned *decimals)
{
    if (strcasecmp(sym, NATIVE) == 0) {
        struct clb_rpc_error e;
        int rc = clb_rpc_get_balance(c->net->rpc, addr, out, &e);
        if (rc != CLB_OK)
            rpc_fail(c, rc, &e, "eth_getBalance");
        *decimals = 18;
        return rc == CLB_OK;
    }
    const struct gw_token *t = token(c, sym);
    if (!t)
        return false;
    *decimals = t->decimals;
    return erc20_u256(c, t, "balanceOf(address)", addr, NULL, out);
}

/* Router02 getAmountsOut(amount, [in, out]) or getAmountsIn(amount, [in, out]):
 * the other side's amount. */
static bool router_amounts(struct call *c, bool exact_in, const uint8_t amount[32],
                           const struct gw_token *in, const struct gw_token *out,
                           uint8_t result[32])
{
    uint8_t path[2][20];
    memcpy(path[0], in->addr, 20);
    memcpy(path[1], out->addr, 20);
    struct clb_abi_arg args[2] = { clb_abi_arg_u256(amount),
                                   clb_abi_arg_address_array((const uint8_t(*)[20])path, 2) };
    uint8_t buf[CALL_BUF];
    size_t len = 0;
    const char *sig = exact_in ? "getAmountsOut(uint256,address[])"
                               : "getAmountsIn(uint256,address[])";
    char what[128];
    snprintf(what, sizeof(what), "uniswap_v2 %s %s -> %s", exact_in ? "getAmountsOut" :
             "getAmountsIn", in->symbol, out->symbol);
    if (!contract_call(c, c->net->router, sig, args, 2, buf, &len, what)) {
        /* The library's reverts for a missing pool are not telling. */
        json_t *e = json_object_get(c->out, "error");
        if (c->status == 400 && e)
            json_object_set_new(e, "code", json_string("no_liquidity"));
        return false;
    }
    uint8_t amounts[2][32];
    size_t n = 0;
    if (clb_abi_decode_u256_array(buf, len, 0, amounts, 2, &n) != CLB_OK || n != 2) {
        set_err(c, 502, "rpc_error", "%s: unexpected answer from the router", what);
        return false;
    }
    memcpy(result, exact_in ? amounts[1] : amounts[0], 32);
    return true;
}

/* ---- fees, nonces, sending ---- */

struct fees {
    struct clb_rpc_fees f;
    uint64_t gas_limit;
};

static bool get_fees(struct call *c, struct clb_rpc_fees *f)
{
    struct clb_rpc_error e;
    int rc = clb_rpc_fees(c->net->rpc, f, &e);
    if (rc != CLB_OK)
        rpc_fail(c, rc, &e, "fees");
    return rc == CLB_OK;
}

static void gas_fields(json_t *o, const struct clb_rpc_fees *f, uint64_t gas_limit)
{
    uint8_t gp[32], gl[32], cost[32];
    clb_u256_from_u64(gp, f->gas_price);
    clb_u256_from_u64(gl, gas_limit);
    char cs[CLB_U256_DEC_MAX] = "?";
    if (clb_u256_mul(cost, gp, gl) == CLB_OK)
        dec_str(cost, 18, cs);
    json_object_set_new(o, "gasPrice", json_real((double)f->gas_price / 1e9));
    json_object_set_new(o, "gasPriceToken", json_string(NATIVE));
    json_object_set_new(o, "gasLimit", json_integer((json_int_t)gas_limit));
    json_object_set_new(o, "gasCost", json_string(cs));
    if (f->eip1559) {
        json_object_set_new(o, "maxFeePerGas", json_real((double)f->max_fee / 1e9));
        json_object_set_new(o, "maxPriorityFeePerGas",
                            json_real((double)f->priority_fee / 1e9));
    }
}

static struct nonce_slot *nonce_slot(struct gw_net *n, const uint8_t addr[20])
{
    struct nonce_slot *free_slot = NULL;
    for (size_t i = 0; i < MAX_NONCE_SLOTS; i++) {
        if (n->nonces[i].used && memcmp(n->nonces[i].addr, addr, 20) == 0)
            return &n->nonces[i];
        if (!n->nonces[i].used && !free_slot)
            free_slot = &n->nonces[i];
    }
    if (!free_slot)
        free_slot = &n->nonces[addr[19] % MAX_NONCE_SLOTS]; /* evict: it re-reads the node */
    memset(free_slot, 0, sizeof(*free_slot));
    return free_slot;
}

/* Signs and sends (to, data) from addr with key. With the network lock
 * held: nonce allocation, signing, sending. Fills tx_hash, *nonce_out and
 * the answer's gas fields. */
static bool send_tx(struct call *c, const uint8_t key[32], const uint8_t from[20],
                    const uint8_t to[20], const uint8_t *data, size_t len, json_t *answer,
                    uint8_t tx_hash[32])
{
    struct gw_net *n = c->net;
    struct clb_rpc_error e;
    uint64_t est = 0;
    int rc = clb_rpc_estimate_gas(n->rpc, from, to, data, len, NULL, &est, &e);
    if (rc == CLB_ESTATE && !e.reverted) {
        /* e.g. "insufficient funds for gas * price + value" */
        set_err(c, 400, "transaction_rejected", "eth_estimateGas: %s", e.message);
        return false;
    }
    if (rc != CLB_OK) {
        rpc_fail(c, rc, &e, "eth_estimateGas");
        return false;
    }
    uint64_t gas_limit = est + est * (uint64_t)n->gas_margin_pct / 100;
    struct clb_rpc_fees f;
    if (!get_fees(c, &f))
        return false;
    json_t *req_nonce = json_object_get(c->body, "nonce");
    pthread_mutex_lock(&n->lock);
    struct nonce_slot *s = nonce_slot(n, from);
    uint64_t nonce;
    if (req_nonce) {
        nonce = (uint64_t)json_integer_value(req_nonce);
    } else {
        if (!s->used) {
            uint64_t pending = 0;
            rc = clb_rpc_get_nonce(n->rpc, from, &pending, &e);
            if (rc != CLB_OK) {
                pthread_mutex_unlock(&n->lock);
                rpc_fail(c, rc, &e, "eth_getTransactionCount");
                return false;
            }
            memcpy(s->addr, from, 20);
            s->next = pending;
            s->used = true;
        }
        nonce = s->next;
    }
    struct clb_eth_tx tx = {
        .type = f.eip1559 ? CLB_ETH_TX_EIP1559 : CLB_ETH_TX_LEGACY,
        .chain_id = n->chain_id,
        .nonce = nonce,
        .gas_price = f.gas_price,
        .max_fee = f.max_fee,
        .max_priority_fee = f.priority_fee,
        .gas_limit = gas_limit,
        .data = data,
        .data_len = len,
    };
    memcpy(tx.to, to, 20);
    uint8_t raw[CLB_ETH_TX_RAW_MAX(CALL_BUF)];
    size_t raw_len = 0;
    uint8_t hash[32];
    rc = clb_eth_tx_sign(&tx, key, raw, sizeof(raw), &raw_len, hash);
    if (rc != CLB_OK) {
        pthread_mutex_unlock(&n->lock);
        set_err(c, 500, "internal", "cannot sign the transaction: %s", clb_strerror(rc));
        return false;
    }
    rc = clb_rpc_send_raw(n->rpc, raw, raw_len, tx_hash, &e);
    if (rc == CLB_OK && !req_nonce)
        s->next = nonce + 1;
    else if (rc == CLB_OK && s->used && nonce >= s->next)
        s->next = nonce + 1;
    else if (rc != CLB_OK)
        s->used = false; /* re-read the node's pending count next time */
    pthread_mutex_unlock(&n->lock);
    if (rc == CLB_ESTATE) {
        bool nonce_err = strstr(e.message, "nonce") || strstr(e.message, "underpriced") ||
                         strstr(e.message, "already known");
        set_err(c, nonce_err ? 409 : 400, nonce_err ? "nonce_conflict" : "transaction_rejected",
                "the node refused the transaction (nonce %llu): %s", (unsigned long long)nonce,
                e.message);
        return false;
    }
    if (rc != CLB_OK) {
        rpc_fail(c, rc, &e, "eth_sendRawTransaction");
        return false;
    }
    char hx[67];
    clb_hex_encode(tx_hash, 32, hx, sizeof(hx));
    json_object_set_new(answer, "txHash", json_string(hx));
    json_object_set_new(answer, "nonce", json_integer((json_int_t)nonce));
    gas_fields(answer, &f, gas_limit);
    return true;
}

/* The cached key of addr on net into key; false when not cached. */
static bool cached_key(struct clb_gateway *g, const struct gw_net *net, const uint8_t addr[20],
                       uint8_t key[32])
{
    bool found = false;
    pthread_mutex_lock(&g->key_lock);
    for (size_t i = 0; i < MAX_KEY_SLOTS && !found; i++) {
        struct key_slot *k = &g->keys[i];
        if (k->used && k->net == net && memcmp(k->addr, addr, 20) == 0) {
            memcpy(key, k->key, 32);
            found = true;
        }
    }
    pthread_mutex_unlock(&g->key_lock);
    return found;
}

/* Remembers a key (evicting by address when every slot is used). */
static void cache_key(struct clb_gateway *g, const struct gw_net *net, const uint8_t addr[20],
                      const uint8_t key[32])
{
    pthread_mutex_lock(&g->key_lock);
    struct key_slot *slot = NULL;
    for (size_t i = 0; i < MAX_KEY_SLOTS && !slot; i++) {
        struct key_slot *k = &g->keys[i];
        if (!k->used || (k->net == net && memcmp(k->addr, addr, 20) == 0))
            slot = k;
    }
    if (!slot)
        slot = &g->keys[addr[19] % MAX_KEY_SLOTS];
    slot->net = net;
    memcpy(slot->addr, addr, 20);
    memcpy(slot->key, key, 32);
    slot->used = true;
    pthread_mutex_unlock(&g->key_lock);
}

/* Forgets the cached key of addr on net (the wallet was replaced). */
static void forget_key(struct clb_gateway *g, const struct gw_net *net, const uint8_t addr[20])
{
    pthread_mutex_lock(&g->key_lock);
    for (size_t i = 0; i < MAX_KEY_SLOTS; i++) {
        struct key_slot *k = &g->keys[i];
        if (k->used && k->net == net && memcmp(k->addr, addr, 20) == 0)
            OPENSSL_cleanse(k, sizeof(*k));
    }
    pthread_mutex_unlock(&g->key_lock);
}

/* The wallet key of the body's "address" on c->net: from the cache, else
 * from the secrets file (then cached). */
static bool wallet_key(struct call *c, const uint8_t addr[20], uint8_t key[32])
{
    if (cached_key(c->g, c->net, addr, key))
        return true;
    char err[300] = "";
    int rc = clb_wallet_key(c->g->data_dir, NULL, c->net->name, addr, key, err, sizeof(err));
    if (rc == CLB_OK)
        cache_key(c->g, c->net, addr, key);
    if (rc == CLB_ENOTFOUND) {
        char t[CLB_ETH_ADDR_TEXT];
        clb_eth_address_format(addr, t);
        set_err(c, 404, "wallet_not_found",
                "no wallet %s on network '%s' (add it with `colibri wallet add --network %s` "
                "or POST /gateway/wallet/add)", t, c->net->name, c->net->name);
        return false;
    }
    if (rc != CLB_OK) {
        set_err(c, 500, "wallet_error", "cannot read the wallet: %s",
                err[0] ? err : clb_strerror(rc));
        return false;
    }
    return true;
}

/* ---- routes ---- */

/* The node's URL without path, query or credentials: provider URLs often
 * carry an API key ("https://x.example/v3/KEY"), which read tokens must not
 * see. */
static void redacted_url(const char *url, char *out, size_t cap)
{
    const char *host = strstr(url, "://");
    host = host ? host + 3 : url;
    const char *at = strchr(host, '@');
    const char *end = host + strcspn(host, "/?#");
    if (at && at < end)
        host = at + 1;
    snprintf(out, cap, "%.*s%.*s%s", (int)(strstr(url, "://") ? strstr(url, "://") + 3 - url : 0),
             url, (int)(end - host), host, *end ? "/..." : "");
}

static void r_status(struct call *c)
{
    json_t *list = json_array();
    for (size_t i = 0; i < c->g->n_nets; i++) {
        struct gw_net *n = &c->g->nets[i];
        char url[CLB_RPC_URL_MAX];
        redacted_url(clb_rpc_url(n->rpc), url, sizeof(url));
        json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:i}", "chain", "ethereum", "network",
                              n->name, "chainId", (json_int_t)n->chain_id, "rpcUrl", url,
                              "nativeCurrency", NATIVE, "tokens", (int)n->n_tokens);
        json_t *conns = json_array();
        if (n->has_uniswap)
            json_array_append_new(conns, json_string("uniswap_v2"));
        json_object_set_new(o, "connectors", conns);
        struct clb_rpc_error e;
        uint64_t block = 0, id = 0;
        int rc = clb_rpc_chain_id(n->rpc, &id, &e);
        if (rc == CLB_OK && id != n->chain_id) {
            snprintf(e.message, sizeof(e.message), "the node is on chain %llu, not %llu",
                     (unsigned long long)id, (unsigned long long)n->chain_id);
            rc = CLB_ESTATE;
        }
        if (rc == CLB_OK)
            rc = clb_rpc_block_number(n->rpc, &block, &e);
        if (rc == CLB_OK) {
            json_object_set_new(o, "status", json_string("ok"));
            json_object_set_new(o, "currentBlockNumber", json_integer((json_int_t)block));
        } else {
            json_object_set_new(o, "status", json_string("error"));
            json_object_set_new(o, "error", json_string(e.message));
        }
        json_array_append_new(list, o);
    }
    finish(c, json_pack("{s:o}", "networks", list));
}

/* Common part of price and trade: tokens, amount, side and the quote. */
struct quote {
    const struct gw_token *base, *quote;
    bool sell;
    uint8_t amount[32];   /* base, raw */
    uint8_t expected[32]; /* SELL: quote out; BUY: quote in */
    uint8_t price[32];    /* 18 decimals */
};

static bool get_quote(struct call *c, struct quote *q)
{
    const char *side = str(c, "side");
    if (!side || (strcasecmp(side, "BUY") != 0 && strcasecmp(side, "SELL") != 0)) {
        set_err(c, 400, "bad_request", "field 'side' must be \"BUY\" or \"SELL\"");
        return false;
    }
    q->sell = strcasecmp(side, "SELL") == 0;
    if (!(q->base = token(c, str(c, "base"))) || !(q->quote = token(c, str(c, "quote"))))
        return false;
    if (q->base == q->quote) {
        set_err(c, 400, "bad_request", "base and quote are the same token");
        return false;
    }
    if (!amount(c, "amount", q->base->decimals, true, q->amount))
        return false;
    if (q->sell) {
        if (!router_amounts(c, true, q->amount, q->base, q->quote, q->expected))
            return false;
    } else if (!router_amounts(c, false, q->amount, q->quote, q->base, q->expected)) {
        return false;
    }
    if (price_of(q->amount, q->base->decimals, q->expected, q->quote->decimals, q->price) !=
        CLB_OK)
        memset(q->price, 0, 32);
    return true;
}

static json_t *quote_json(const struct quote *q)
{
    char amt[CLB_U256_DEC_MAX], raw[CLB_U256_DEC_MAX], exp[CLB_U256_DEC_MAX],
        price[CLB_U256_DEC_MAX];
    dec_str(q->amount, q->base->decimals, amt);
    u256_str(q->amount, raw);
    dec_str(q->expected, q->quote->decimals, exp);
    dec_str(q->price, 18, price);
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:s, s:s, s:s, s:s, s:s}", "base",
                          q->base->symbol, "quote", q->quote->symbol, "baseToken",
                          addr_text(q->base->addr), "quoteToken", addr_text(q->quote->addr),
                          "side", q->sell ? "SELL" : "BUY", "amount", amt, "rawAmount", raw,
                          "expectedAmount", exp, "price", price);
    json_object_set_new(o, q->sell ? "expectedOut" : "expectedIn", json_string(exp));
    return o;
}

static void r_price(struct call *c)
{
    static const struct field fs[] = {
        { "chain", F_STR, false },  { "network", F_STR, true }, { "connector", F_STR, false },
        { "base", F_STR, true },    { "quote", F_STR, true },   { "amount", F_AMOUNT, true },
        { "side", F_STR, true },    { "allowedSlippage", F_STR, false },
    };
    if (!body_fields(c, fs, sizeof(fs) / sizeof(fs[0])) || !resolve_network(c, true))
        return;
    struct quote q;
    if (!get_quote(c, &q))
        return;
    struct clb_rpc_fees f;
    if (!get_fees(c, &f))
        return;
    json_t *o = quote_json(&q);
    uint64_t gl = QUOTE_GAS_ESTIMATE + QUOTE_GAS_ESTIMATE * (uint64_t)c->net->gas_margin_pct / 100;
    gas_fields(o, &f, gl);
    finish(c, o);
}

static void r_trade(struct call *c)
{
    static const struct field fs[] = {
        { "chain", F_STR, false },      { "network", F_STR, true },
        { "connector", F_STR, false },  { "address", F_STR, true },
        { "base", F_STR, true },        { "quote", F_STR, true },
        { "amount", F_AMOUNT, true },   { "side", F_STR, true },
        { "limitPrice", F_AMOUNT, false }, { "nonce", F_INT, false },
    };
    if (!body_fields(c, fs, sizeof(fs) / sizeof(fs[0])) || !resolve_network(c, true))
        return;
    uint8_t from[20];
    if (!address_field(c, "address", from))
        return;
    struct quote q;
    if (!get_quote(c, &q))
        return;
    struct gw_net *n = c->net;
    /* The bound: amountOutMin (SELL) or amountInMax (BUY). */
    uint8_t bound[32];
    char limit_text[CLB_U256_DEC_MAX] = "";
    if (json_object_get(c->body, "limitPrice")) {
        uint8_t limit[32];
        if (!amount(c, "limitPrice", 18, true, limit))
            return;
        dec_str(limit, 18, limit_text);
        if (quote_for(q.amount, q.base->decimals, limit, q.quote->decimals, bound) != CLB_OK) {
            set_err(c, 400, "invalid_amount", "limitPrice %s is too large", limit_text);
            return;
        }
        int cmp = clb_u256_cmp(q.expected, bound);
        if ((q.sell && cmp < 0) || (!q.sell && cmp > 0)) {
            char price[CLB_U256_DEC_MAX];
            dec_str(q.price, 18, price);
            set_err(c, 400, "price_limit",
                    "the pool's price %s %s per %s is %s than limitPrice %s", price,
                    q.quote->symbol, q.base->symbol, q.sell ? "lower" : "higher", limit_text);
            return;
        }
    } else {
        uint8_t num[32], den[32];
        clb_u256_from_u64(num, (uint64_t)(q.sell ? 10000 - n->slippage_bps
                                                 : 10000 + n->slippage_bps));
        clb_u256_from_u64(den, 10000);
        if (clb_u256_mul_div(bound, q.expected, num, den) != CLB_OK) {
            set_err(c, 400, "invalid_amount", "amount too large");
            return;
        }
    }
    /* What the wallet pays, checked before a transaction is built. */
    const struct gw_token *in = q.sell ? q.base : q.quote;
    const uint8_t *need = q.sell ? q.amount : q.expected;
    uint8_t bal[32], allowance[32];
    unsigned dec;
    if (!balance_of(c, in->symbol, from, bal, &dec) ||
        !erc20_u256(c, in, "allowance(address,address)", from, n->router, allowance))
        return;
    char need_s[CLB_U256_DEC_MAX], have_s[CLB_U256_DEC_MAX];
    dec_str(need, in->decimals, need_s);
    if (clb_u256_cmp(bal, need) < 0) {
        dec_str(bal, in->decimals, have_s);
        set_err(c, 400, "insufficient_balance", "the trade needs %s %s, the wallet holds %s",
                need_s, in->symbol, have_s);
        return;
    }
    if (clb_u256_cmp(allowance, need) < 0) {
        dec_str(allowance, in->decimals, have_s);
        set_err(c, 400, "insufficient_allowance",
                "the trade needs %s %s, the router may spend %s: approve it first "
                "(POST /gateway/chain/approve)", need_s, in->symbol, have_s);
        return;
    }
    uint8_t key[32];
    if (!wallet_key(c, from, key))
        return;
    uint8_t path[2][20], deadline[32];
    memcpy(path[0], in->addr, 20);
    memcpy(path[1], (q.sell ? q.quote : q.base)->addr, 20);
    clb_u256_from_u64(deadline, (uint64_t)time(NULL) + (uint64_t)n->deadline_s);
    struct clb_abi_arg args[5] = {
        clb_abi_arg_u256(q.amount), clb_abi_arg_u256(bound),
        clb_abi_arg_address_array((const uint8_t(*)[20])path, 2), clb_abi_arg_address(from),
        clb_abi_arg_u256(deadline),
    };
    const char *sig = q.sell
                          ? "swapExactTokensForTokens(uint256,uint256,address[],address,uint256)"
                          : "swapTokensForExactTokens(uint256,uint256,address[],address,uint256)";
    uint8_t data[CALL_BUF];
    size_t len = 0;
    if (clb_abi_encode_call(sig, args, 5, data, sizeof(data), &len) != CLB_OK) {
        OPENSSL_cleanse(key, sizeof(key));
        set_err(c, 500, "internal", "cannot encode the swap");
        return;
    }
    json_t *o = quote_json(&q);
    char bound_s[CLB_U256_DEC_MAX];
    dec_str(bound, q.quote->decimals, bound_s);
    json_object_set_new(o, q.sell ? "amountOutMin" : "amountInMax", json_string(bound_s));
    if (limit_text[0])
        json_object_set_new(o, "limitPrice", json_string(limit_text));
    json_object_set_new(o, "address", addr_text(from));
    uint8_t hash[32];
    bool ok = send_tx(c, key, from, n->router, data, len, o, hash);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok) {
        json_decref(o);
        return;
    }
    finish(c, o);
}

static void r_balances(struct call *c)
{
    static const struct field fs[] = {
        { "chain", F_STR, false },   { "network", F_STR, true },
        { "address", F_STR, true },  { "tokenSymbols", F_STRARRAY, false },
        { "connector", F_STR, false },
    };
    if (!body_fields(c, fs, sizeof(fs) / sizeof(fs[0])) || !resolve_network(c, false))
        return;
    uint8_t addr[20];
    if (!address_field(c, "address", addr))
        return;
    json_t *syms = json_object_get(c->body, "tokenSymbols");
    json_t *want = json_array();
    if (json_array_size(syms) > 0) {
        json_array_extend(want, syms);
    } else {
        json_array_append_new(want, json_string(NATIVE));
        for (size_t i = 0; i < c->net->n_tokens; i++)
            json_array_append_new(want, json_string(c->net->tokens[i].symbol));
    }
    /* Unknown symbols first, so nothing is asked of the node for a bad request. */
    size_t i;
    json_t *s;
    json_array_foreach(want, i, s) {
        if (strcasecmp(json_string_value(s), NATIVE) != 0 && !token(c, json_string_value(s))) {
            json_decref(want);
            return;
        }
    }
    json_t *bals = json_object();
    json_array_foreach(want, i, s) {
        uint8_t v[32];
        unsigned dec;
        if (!balance_of(c, json_string_value(s), addr, v, &dec)) {
            json_decref(bals);
            json_decref(want);
            return;
        }
        char t[CLB_U256_DEC_MAX];
        dec_str(v, dec, t);
        const struct gw_token *tk = find_token(c->net, json_string_value(s));
        json_object_set_new(bals, tk ? tk->symbol : NATIVE, json_string(t));
    }
    json_decref(want);
    finish(c, json_pack("{s:o, s:o}", "address", addr_text(addr), "balances", bals));
}

/* "spender": "uniswap_v2" (the router) or an address. */
static bool spender(struct call *c, uint8_t out[20])
{
    const char *s = str(c, "spender");
    if (!s || strcmp(s, "uniswap_v2") == 0 || strcmp(s, "uniswap") == 0) {
        if (!c->net->has_uniswap) {
            set_err(c, 400, "unsupported", "network '%s' has no uniswap_v2 configured",
                    c->net->name);
            return false;
        }
        memcpy(out, c->net->router, 20);
        return true;
    }
    return address_field(c, "spender", out);
}

static void r_allowances(struct call *c)
{
    static const struct field fs[] = {
        { "chain", F_STR, false },    { "network", F_STR, true },
        { "address", F_STR, true },   { "spender", F_STR, false },
        { "tokenSymbols", F_STRARRAY, true }, { "connector", F_STR, false },
    };
    if (!body_fields(c, fs, sizeof(fs) / sizeof(fs[0])) || !resolve_network(c, false))
        return;
    uint8_t addr[20], sp[20];
    if (!address_field(c, "address", addr) || !spender(c, sp))
        return;
    json_t *syms = json_object_get(c->body, "tokenSymbols");
    size_t i;
    json_t *s;
    json_array_foreach(syms, i, s) {
        if (!token(c, json_string_value(s)))
            return;
    }
    json_t *out = json_object();
    json_array_foreach(syms, i, s) {
        const struct gw_token *t = find_token(c->net, json_string_value(s));
        uint8_t v[32];
        if (!erc20_u256(c, t, "allowance(address,address)", addr, sp, v)) {
            json_decref(out);
            return;
        }
        char txt[CLB_U256_DEC_MAX];
        dec_str(v, t->decimals, txt);
        json_object_set_new(out, t->symbol, json_string(txt));
    }
    finish(c, json_pack("{s:o, s:o, s:o}", "address", addr_text(addr), "spender", addr_text(sp),
                        "approvals", out));
}

static void r_approve(struct call *c)
{
    static const struct field fs[] = {
        { "chain", F_STR, false },   { "network", F_STR, true }, { "address", F_STR, true },
        { "spender", F_STR, false }, { "token", F_STR, true },   { "amount", F_AMOUNT, false },
        { "nonce", F_INT, false },   { "connector", F_STR, false },
    };
    if (!body_fields(c, fs, sizeof(fs) / sizeof(fs[0])) || !resolve_network(c, false))
        return;
    uint8_t from[20], sp[20];
    const struct gw_token *t;
    if (!address_field(c, "address", from) || !spender(c, sp) || !(t = token(c, str(c, "token"))))
        return;
    uint8_t amt[32];
    if (json_object_get(c->body, "amount")) {
        if (!amount(c, "amount", t->decimals, false, amt))
            return;
    } else {
        memset(amt, 0xff, sizeof(amt)); /* unlimited, as Hummingbot does */
    }
    uint8_t key[32];
    if (!wallet_key(c, from, key))
        return;
    struct clb_abi_arg args[2] = { clb_abi_arg_address(sp), clb_abi_arg_u256(amt) };
    uint8_t data[CALL_BUF];
    size_t len = 0;
    clb_abi_encode_call("approve(address,uint256)", args, 2, data, sizeof(data), &len);
    char amt_s[CLB_U256_DEC_MAX];
    dec_str(amt, t->decimals, amt_s);
    json_t *o = json_pack("{s:s, s:o, s:o, s:o, s:s}", "token", t->symbol, "tokenAddress",
                          addr_text(t->addr), "address", addr_text(from), "spender",
                          addr_text(sp), "amount", amt_s);
    uint8_t hash[32];
    bool ok = send_tx(c, key, from, t->addr, data, len, o, hash);
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok) {
        json_decref(o);
        return;
    }
    finish(c, o);
}

/* keccak256("Transfer(address,address,uint256)") */
#define TRANSFER_TOPIC "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

/* The ERC20 Transfer events of a receipt's logs whose token is configured
 * on the network: [{"token", "from", "to", "amount"}] (amount with the
 * token's decimals). What a swap really moved, for the AMM connector's
 * fills. Logs of other contracts or other shapes are skipped. */
static json_t *token_transfers(const struct gw_net *n, const json_t *logs)
{
    json_t *out = json_array();
    size_t i;
    json_t *lg;
    json_array_foreach(logs, i, lg) {
        json_t *topics = json_object_get(lg, "topics");
        const char *a = json_string_value(json_object_get(lg, "address"));
        const char *d = json_string_value(json_object_get(lg, "data"));
        const char *t0 = json_string_value(json_array_get(topics, 0));
        const char *t1 = json_string_value(json_array_get(topics, 1));
        const char *t2 = json_string_value(json_array_get(topics, 2));
        uint8_t addr[20], from[32], to[32], amt[32];
        if (!a || !d || !t0 || !t1 || !t2 || json_array_size(topics) != 3 ||
            strcasecmp(t0, TRANSFER_TOPIC) != 0 || clb_hex_decode_exact(a, addr, 20) != CLB_OK ||
            clb_hex_decode_exact(t1, from, 32) != CLB_OK ||
            clb_hex_decode_exact(t2, to, 32) != CLB_OK ||
            clb_hex_decode_exact(d, amt, 32) != CLB_OK)
            continue;
        const struct gw_token *tk = NULL;
        for (size_t k = 0; k < n->n_tokens && !tk; k++)
            if (memcmp(n->tokens[k].addr, addr, 20) == 0)
                tk = &n->tokens[k];
        if (!tk)
            continue;
        char amount_s[CLB_U256_DEC_MAX];
        dec_str(amt, tk->decimals, amount_s);
        json_array_append_new(out, json_pack("{s:s, s:o, s:o, s:s}", "token", tk->symbol, "from",
                                             addr_text(from + 12), "to", addr_text(to + 12),
                                             "amount", amount_s));
    }
    return out;
}

static void r_poll(struct call *c)
{
    static const struct field fs[] = {
        { "chain", F_STR, false },  { "network", F_STR, true },
        { "txHash", F_STR, true },  { "connector", F_STR, false },
    };
    if (!body_fields(c, fs, sizeof(fs) / sizeof(fs[0])) || !resolve_network(c, false))
        return;
    uint8_t hash[32];
    if (clb_hex_decode_exact(str(c, "txHash"), hash, 32) != CLB_OK) {
        set_err(c, 400, "bad_request", "txHash must be 0x + 64 hex digits");
        return;
    }
    struct clb_rpc_error e;
    uint64_t block = 0;
    json_t *rec = NULL;
    int rc = clb_rpc_block_number(c->net->rpc, &block, &e);
    if (rc == CLB_OK)
        rc = clb_rpc_get_receipt(c->net->rpc, hash, &rec, &e);
    if (rc != CLB_OK) {
        rpc_fail(c, rc, &e, "eth_getTransactionReceipt");
        return;
    }
    char hx[67];
    clb_hex_encode(hash, 32, hx, sizeof(hx));
    json_t *o = json_pack("{s:s, s:I}", "txHash", hx, "currentBlock", (json_int_t)block);
    if (!rec) {
        json_t *tx = NULL;
        rc = clb_rpc_get_transaction(c->net->rpc, hash, &tx, &e);
        if (rc != CLB_OK) {
            json_decref(o);
            rpc_fail(c, rc, &e, "eth_getTransactionByHash");
            return;
        }
        json_object_set_new(o, "status", json_string(tx ? "pending" : "not_found"));
        json_object_set_new(o, "txStatus", json_integer(-1));
        json_object_set_new(o, "txBlock", json_integer(-1));
        json_object_set_new(o, "txReceipt", json_null());
        json_decref(tx);
        finish(c, o);
        return;
    }
    uint64_t st = 0, tx_block = 0, gas_used = 0, egp = 0;
    bool ok = clb_rpc_quantity_u64(json_object_get(rec, "status"), &st) == CLB_OK;
    clb_rpc_quantity_u64(json_object_get(rec, "blockNumber"), &tx_block);
    clb_rpc_quantity_u64(json_object_get(rec, "gasUsed"), &gas_used);
    clb_rpc_quantity_u64(json_object_get(rec, "effectiveGasPrice"), &egp);
    bool confirmed = ok && st == 1;
    json_object_set_new(o, "status", json_string(confirmed ? "confirmed" : "failed"));
    json_object_set_new(o, "txStatus", json_integer(confirmed ? 1 : 0));
    json_object_set_new(o, "txBlock", json_integer((json_int_t)tx_block));
    json_object_set_new(o, "confirmations",
                        json_integer(block >= tx_block ? (json_int_t)(block - tx_block + 1) : 0));
    json_object_set_new(o, "gasUsed", json_integer((json_int_t)gas_used));
    json_object_set_new(o, "effectiveGasPrice", json_real((double)egp / 1e9));
    uint8_t a[32], b[32], fee[32];
    clb_u256_from_u64(a, gas_used);
    clb_u256_from_u64(b, egp);
    char fee_s[CLB_U256_DEC_MAX] = "?";
    if (clb_u256_mul(fee, a, b) == CLB_OK)
        dec_str(fee, 18, fee_s);
    json_object_set_new(o, "fee", json_string(fee_s));
    json_t *logs = json_object_get(rec, "logs");
    json_object_set_new(o, "tokenTransfers", token_transfers(c->net, logs));
    json_t *r = json_pack("{s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:O?, s:I}", "blockNumber",
                          json_object_get(rec, "blockNumber"), "blockHash",
                          json_object_get(rec, "blockHash"), "from", json_object_get(rec, "from"),
                          "to", json_object_get(rec, "to"), "gasUsed",
                          json_object_get(rec, "gasUsed"), "status", json_object_get(rec, "status"),
                          "contractAddress", json_object_get(rec, "contractAddress"), "logs",
                          (json_int_t)json_array_size(logs));
    json_object_set_new(o, "txReceipt", r ? r : json_null());
    json_decref(rec);
    finish(c, o);
}

static void r_wallet_list(struct call *c)
{
    json_t *list = NULL;
    char err[300] = "";
    int rc = clb_wallet_list(c->g->data_dir, NULL, NULL, &list, err, sizeof(err));
    if (rc != CLB_OK) {
        set_err(c, 500, "wallet_error", "cannot list wallets: %s",
                err[0] ? err : clb_strerror(rc));
        return;
    }
    finish(c, json_pack("{s:o}", "wallets", list));
}

static void r_wallet_add(struct call *c)
{
    static const struct field fs[] = {
        { "chain", F_STR, false }, { "network", F_STR, true }, { "privateKey", F_STR, true },
    };
    if (!body_fields(c, fs, sizeof(fs) / sizeof(fs[0])))
        return;
    const char *name = str(c, "network");
    for (size_t i = 0; i < c->g->n_nets && !c->net; i++)
        if (strcmp(c->g->nets[i].name, name) == 0)
            c->net = &c->g->nets[i];
    if (!c->net) {
        set_err(c, 404, "unknown_network", "no network '%.64s' is configured", name);
        return;
    }
    uint8_t addr[20];
    char err[300] = "";
    pthread_mutex_lock(&c->g->wallet_lock);
    int rc = clb_wallet_add(c->g->data_dir, NULL, c->net->name, str(c, "privateKey"), addr, err,
                            sizeof(err));
    pthread_mutex_unlock(&c->g->wallet_lock);
    if (rc == CLB_OK)
        forget_key(c->g, c->net, addr);
    if (rc == CLB_EINVAL) {
        set_err(c, 400, "invalid_key", "%s", err[0] ? err : "not a private key");
        return;
    }
    if (rc != CLB_OK) {
        set_err(c, 500, "wallet_error", "cannot store the wallet: %s",
                err[0] ? err : clb_strerror(rc));
        return;
    }
    c->status = 201;
    finish(c, json_pack("{s:s, s:o}", "chain", "ethereum", "address", addr_text(addr)));
}

struct route {
    const char *method;
    const char *path;
    void (*fn)(struct call *c);
};

static const struct route routes[] = {
    { "GET", "/gateway/status", r_status },
    { "POST", "/gateway/amm/price", r_price },
    { "POST", "/gateway/amm/trade", r_trade },
    { "POST", "/gateway/chain/balances", r_balances },
    { "POST", "/gateway/chain/allowances", r_allowances },
    { "POST", "/gateway/chain/approve", r_approve },
    { "POST", "/gateway/chain/poll", r_poll },
    { "GET", "/gateway/wallet", r_wallet_list },
    { "POST", "/gateway/wallet/add", r_wallet_add },
};

int clb_gateway_handle(struct clb_gateway *g, const char *method, const char *path,
                       const char *body, size_t len, json_t **out)
{
    struct call c = { .g = g };
    clock_gettime(CLOCK_MONOTONIC, &c.t0);
    const struct route *rt = NULL;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]) && !rt; i++)
        if (strcmp(routes[i].path, path) == 0 &&
            (strcmp(routes[i].method, method) == 0 ||
             (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)))
            rt = &routes[i];
    if (!rt) {
        set_err(&c, 404, "not_found", "no gateway route %s %.100s", method, path);
    } else if (strcmp(rt->method, "POST") == 0) {
        json_error_t je;
        c.body = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, &je) : NULL;
        if (!len)
            set_err(&c, 400, "bad_request", "a JSON object body is required");
        else if (!c.body)
            set_err(&c, 400, "invalid_json", "malformed JSON at line %d column %d: %s", je.line,
                    je.column, je.text);
        else if (!json_is_object(c.body))
            set_err(&c, 400, "bad_request", "the body must be a JSON object");
        else
            rt->fn(&c);
    } else {
        rt->fn(&c);
    }
    json_decref(c.body);
    if (!c.out)
        set_err(&c, 500, "internal", "out of memory");
    *out = c.out;
    return c.status ? c.status : 500;
}
