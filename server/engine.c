/*
 * engine.c — the worker thread and its doors (see engine.h).
 *
 * Layout of the worker's world:
 *   - sources: one synthetic market generator (core/synth.h) per market
 *     symbol; each record due by the wall clock is handed to every paper
 *     connector trading that symbol (clb_paper_on_record);
 *   - connectors, each with its own event bus, added to the clock first so
 *     they tick before the strategies. The engine reaches every connector
 *     through core/connector.h (books, rules, balances, tracker, status,
 *     place, cancel); only what is the paper venue's own stays behind
 *     `ec->paper`: the simulated sources feeding it, deposits of the
 *     starting balances, its stats. Exchange connectors (binance, amm) live on
 *     one network loop (connectors/net) created with the engine;
 *   - strategies: created by type from the registry, each bound to its
 *     connector through a small proxy connector that forwards every hook
 *     and tags the orders the strategy places with its id (the connector
 *     interface carries the owner in the request, but order events do not);
 *     two-venue strategies (amm_arb) get a second proxy on their
 *     connector_2, and an amm connector there is amm_arb's quote source;
 *   - the engine's own listener on each bus keeps the order records (live
 *     orders plus a ring of finished ones), the fills ring, per-strategy
 *     accounting and the metrics counters, and appends feed events;
 *   - with a store writer, the same listener hands order, state and fill
 *     records to the writer's lock-free queue (never waiting on the
 *     database), balance snapshots go every CLB_ENGINE_BALANCE_SNAPSHOT_MS,
 *     and placements (strategies through their proxy, manual orders) are
 *     refused while the writer reports itself unavailable.
 *
 * The loop: feed the records that are due, run the clock tick if due, run
 * queued commands, publish snapshots and events, then wait on the command
 * eventfd until the next record, tick or publication is due: with exchange
 * connectors the wait is clb_netloop_poll, which services their sockets
 * and timers meanwhile (their callbacks run on the worker), else poll().
 * Wall time (CLOCK_REALTIME) is read
 * here only, and made monotonic (a clock stepping back repeats the latest
 * instant) because core's clock refuses to go backwards.
 *
 * Other threads touch three things only, each under its own mutex: the
 * command queue (calls are refcounted: a caller that timed out leaves, and
 * the worker's late reply is dropped with the last reference), the snapshot
 * table (pointer swaps) and the event feed (a ring of immutable events).
 */
#include "engine.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "connector.h"
#include "decimal.h"
#include "error.h"
#include "event.h"
#include "market.h"
#include "order_book.h"
#include "order_tracker.h"
#include "paper.h"
#ifdef COLIBRI_HAVE_NET
#include "net_url.h"
#include "netloop.h"
#endif
#ifdef COLIBRI_HAVE_BINANCE
#include "binance.h"
#endif
#ifdef COLIBRI_HAVE_AMM
#include "amm.h"
#endif
#include "amm_arb.h"
#include "param.h"
#include "performance.h"
#include "secrets.h"
#include "store/store_writer.h"
#include "strategy.h"
#include "synth.h"
#include "thread_cpu.h"

#ifndef COLIBRI_VERSION
#define COLIBRI_VERSION "unknown"
#endif

#define NS_PER_MS INT64_C(1000000)
#define NS_PER_S INT64_C(1000000000)

#define ENG_MAX_MARKETS 8        /* per connector (the paper connector's limit) */
#define ENG_MAX_ASSETS 16        /* per connector */
#define ENG_QUEUE_CAP 256        /* pending commands */
#define ENG_LIVE_MAX 65536       /* live order records */
#define ENG_RECORD_BUDGET 200000 /* market-data records fed per loop turn */
#define ENG_PUBLISH_NS (100 * NS_PER_MS) /* book / dirty snapshot pacing: 10 per second */
#define ENG_STATUS_NS NS_PER_S
#define ENG_MAX_METRICS 64       /* per strategy */
#define ENG_DEFAULT_LATENCY_MS 20
#define ENG_FEE_MAX 0.01
#define ENG_ERR 256
#define ENG_KEY_MAX 256          /* API key / secret, NUL included */

/* ------------------------------------------------------------------------ */
/* Simulated markets                                                         */
/* ------------------------------------------------------------------------ */

struct sim_preset {
    const char *symbol;
    const char *base;
    const char *quote;
    int price_scale;
    int qty_scale;
    int64_t start_price;     /* at price_scale */
    double volatility;       /* log mid per sqrt(s) */
    double depth_top;        /* steps */
    double trade_size_mean;  /* steps */
    int64_t min_notional;    /* at price_scale */
};

static const struct sim_preset presets[] = {
    { "BTC-USDT", "BTC", "USDT", 2, 5, 6000000, 1e-4, 20000.0, 5000.0, 500 },
    { "ETH-USDT", "ETH", "USDT", 2, 4, 300000, 1.3e-4, 40000.0, 10000.0, 500 },
};
#define N_PRESETS (sizeof(presets) / sizeof(presets[0]))

static const struct sim_preset *preset_find(const char *symbol)
{
    for (size_t i = 0; i < N_PRESETS; i++)
        if (strcmp(presets[i].symbol, symbol) == 0)
            return &presets[i];
    return NULL;
}

/* The ledger scale the paper connector gives an asset of this market. */
static int preset_asset_scale(const struct sim_preset *p, bool base)
{
    int s = base ? p->qty_scale : p->price_scale + p->qty_scale;
    return s < 8 ? 8 : s;
}

static void preset_rules(const struct sim_preset *p, struct clb_market_rules *r)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->symbol, sizeof(r->symbol), "%s", p->symbol);
    snprintf(r->base, sizeof(r->base), "%s", p->base);
    snprintf(r->quote, sizeof(r->quote), "%s", p->quote);
    r->price_scale = p->price_scale;
    r->qty_scale = p->qty_scale;
    r->tick_size = clb_dec_make(1, p->price_scale);
    r->step_size = clb_dec_make(1, p->qty_scale);
    r->min_qty = clb_dec_make(1, p->qty_scale);
    r->max_qty = clb_dec_make(0, 0);
    r->min_notional = clb_dec_make(p->min_notional, p->price_scale);
}

static void preset_synth_params(const struct sim_preset *p, int64_t start_ns,
                                struct clb_synth_params *sp)
{
    clb_synth_default_params(sp);
    snprintf(sp->exchange, sizeof(sp->exchange), "sim");
    snprintf(sp->symbol, sizeof(sp->symbol), "%s", p->symbol);
    sp->price_scale = p->price_scale;
    sp->qty_scale = p->qty_scale;
    sp->start_price = p->start_price;
    sp->start_ts_ns = start_ns;
    sp->volatility = p->volatility;
    sp->depth_top = p->depth_top;
    sp->trade_size_mean = p->trade_size_mean;
}

/* ------------------------------------------------------------------------ */
/* Configuration parsing (shared by check and create)                        */
/* ------------------------------------------------------------------------ */

enum eng_ctype { CT_PAPER = 0, CT_BINANCE, CT_AMM };

#define ENG_URL_MAX 512
#define ENG_PATH_MAX 1024
#define ENG_PREFIX_MAX 9 /* client order id prefix, NUL included (binance.h: <= 8) */

struct conn_spec {
    char name[32];
    enum eng_ctype type;
    char symbols[ENG_MAX_MARKETS][CLB_SYMBOL_MAX]; /* every type */
    const struct sim_preset *markets[ENG_MAX_MARKETS]; /* paper: the simulated markets */
    size_t n_markets;
    /* paper */
    double maker_fee, taker_fee;
    int64_t latency_ms;
    /* binance */
    char rest_url[ENG_URL_MAX], stream_url[ENG_URL_MAX], ws_api_url[ENG_URL_MAX];
    char client_id_prefix[ENG_PREFIX_MAX]; /* "" = the connector's default */
    bool orders_over_rest;                 /* true: never place/cancel over the WS API */
    bool keep_orphans;                     /* "cancel_orphans": false: adopted orders stay */
    char ca_file[ENG_PATH_MAX];            /* "" = system CAs */
    /* amm (gateway_url is kept in rest_url) */
    char network[64], address[64], dex[64];
    double fee;                            /* < 0: the connector's default */
    int amount_decimals, price_decimals;   /* < 0: the connector's default */
    int64_t price_poll_ms, balance_poll_ms, tx_poll_ms; /* 0: the connector's default */
};

struct bal_spec {
    char asset[CLB_ASSET_MAX];
    clb_dec amount;
};

struct engine_spec {
    struct conn_spec conns[CLB_ENGINE_MAX_CONNECTORS];
    size_t n_conns;
    size_t n_exchange;           /* connectors of other types than paper */
    char ca_file[ENG_PATH_MAX];  /* the exchange connectors' CA file ("" = system CAs) */
    struct bal_spec bal[ENG_MAX_ASSETS * CLB_ENGINE_MAX_CONNECTORS];
    size_t n_bal;
};

const char *clb_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

static bool valid_name(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n >= max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

static void known_markets(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_PRESETS && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", presets[i].symbol);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static int parse_fee(json_t *c, const char *key, size_t idx, double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(c, key);
    if (!v)
        return CLB_OK;
    if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) <= ENG_FEE_MAX))
        return clb_errf(err, errlen, CLB_EINVAL,
                     "connectors[%zu].%s: must be a fraction in [0, %g] (0.001 = 0.1 %%)", idx,
                     key, ENG_FEE_MAX);
    *out = json_number_value(v);
    return CLB_OK;
}

/* The keys each connector type accepts (the first three are common). */
static const char *const paper_keys[] = { "name", "type", "markets", "maker_fee", "taker_fee",
                                          "latency_ms", NULL };
static const char *const binance_keys[] = { "name", "type", "markets", "rest_url", "stream_url",
                                            "ws_api_url", "client_id_prefix", "ca_file",
                                            "orders_over_rest", "cancel_orphans", NULL };
static const char *const amm_keys[] = { "name", "type", "markets", "gateway_url", "network",
                                        "address", "dex", "fee", "amount_decimals",
                                        "price_decimals", "price_poll_ms", "balance_poll_ms",
                                        "tx_poll_ms", "ca_file", NULL };

static void key_list(const char *const *keys, char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; keys[i] && used < cap; i++) {
        int w = snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", keys[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

/* "BASE-QUOTE", each part 1-15 characters of A-Z 0-9. */
static bool valid_symbol(const char *s, char *base, char *quote)
{
    const char *dash = strchr(s, '-');
    if (!dash || strchr(dash + 1, '-'))
        return false;
    size_t nb = (size_t)(dash - s), nq = strlen(dash + 1);
    if (nb == 0 || nq == 0 || nb >= CLB_ASSET_MAX || nq >= CLB_ASSET_MAX)
        return false;
    for (const char *c = s; *c; c++)
        if (c != dash && !((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
            return false;
    if (base) {
        memcpy(base, s, nb);
        base[nb] = '\0';
    }
    if (quote)
        memcpy(quote, dash + 1, nq + 1);
    return true;
}

/* A required URL of a binance entry: a string, an allowed scheme of the
 * right kind (REST: http(s), streams: ws(s)), accepted by the URL policy. */
static int parse_url(json_t *c, const char *key, bool ws, size_t idx, char *out, size_t cap,
                     char *err, size_t errlen)
{
    json_t *v = json_object_get(c, key);
    const char *want = ws ? "wss://" : "https://";
    if (!json_is_string(v))
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].%s: required, a %s... URL%s",
                        idx, key, want, v ? "" : " (missing)");
    const char *url = json_string_value(v);
    if (strlen(url) >= cap)
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].%s: longer than %zu characters",
                        idx, key, cap - 1);
    bool kind = ws ? (strncmp(url, "wss://", 6) == 0 || strncmp(url, "ws://", 5) == 0)
                   : (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0);
    if (!kind)
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].%s: \"%.80s\" must start with "
                        "%s", idx, key, url, ws ? "wss:// (or ws:// to loopback)"
                                                : "https:// (or http:// to loopback)");
    char why[200] = "";
#ifdef COLIBRI_HAVE_NET
    int rc = clb_net_url_check(url, why, sizeof(why));
#else
    int rc = CLB_OK; /* no transport built: clb_engine_create refuses the connector */
#endif
    if (rc != CLB_OK)
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].%s: \"%.80s\": %s", idx, key,
                        url, why[0] ? why : clb_strerror(rc));
    memcpy(out, url, strlen(url) + 1);
    return CLB_OK;
}

static int parse_ca_file(json_t *c, size_t idx, struct conn_spec *cs, char *err, size_t errlen);

static int parse_binance(json_t *c, size_t idx, struct conn_spec *cs, char *err, size_t errlen)
{
    int rc;
    if ((rc = parse_url(c, "rest_url", false, idx, cs->rest_url, sizeof(cs->rest_url), err,
                        errlen)) != CLB_OK ||
        (rc = parse_url(c, "stream_url", true, idx, cs->stream_url, sizeof(cs->stream_url), err,
                        errlen)) != CLB_OK ||
        (rc = parse_url(c, "ws_api_url", true, idx, cs->ws_api_url, sizeof(cs->ws_api_url), err,
                        errlen)) != CLB_OK)
        return rc;
    json_t *v = json_object_get(c, "client_id_prefix");
    if (v) {
        const char *p = json_is_string(v) ? json_string_value(v) : "";
        bool ok = p[0] != '\0' && strlen(p) < sizeof(cs->client_id_prefix);
        for (const char *q = p; ok && *q; q++)
            ok = (*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z') ||
                 (*q >= '0' && *q <= '9') || *q == '-' || *q == '_' || *q == '.';
        if (!ok)
            return clb_errf(err, errlen, CLB_EINVAL,
                            "connectors[%zu].client_id_prefix: 1-%zu characters of A-Z a-z 0-9 "
                            "- _ .", idx, sizeof(cs->client_id_prefix) - 1);
        memcpy(cs->client_id_prefix, p, strlen(p) + 1);
    }
    static const char *const flags[] = { "orders_over_rest", "cancel_orphans" };
    for (size_t k = 0; k < 2; k++) {
        v = json_object_get(c, flags[k]);
        if (v && !json_is_boolean(v))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "connectors[%zu].%s: must be true or false, not %s", idx, flags[k],
                            clb_json_type_name(v));
    }
    cs->orders_over_rest = json_is_true(json_object_get(c, "orders_over_rest"));
    cs->keep_orphans = json_is_false(json_object_get(c, "cancel_orphans"));
    return parse_ca_file(c, idx, cs, err, errlen);
}

static int parse_ca_file(json_t *c, size_t idx, struct conn_spec *cs, char *err, size_t errlen)
{
    json_t *v = json_object_get(c, "ca_file");
    if (v) {
        if (!json_is_string(v) || json_string_value(v)[0] == '\0' ||
            strlen(json_string_value(v)) >= sizeof(cs->ca_file))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "connectors[%zu].ca_file: must be the path of a PEM file", idx);
        const char *path = json_string_value(v);
        if (access(path, R_OK) != 0)
            return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].ca_file: cannot read "
                            "%.200s: %s", idx, path, strerror(errno));
        memcpy(cs->ca_file, path, strlen(path) + 1);
    }
    return CLB_OK;
}

/* A string key of an amm entry: 1..cap-1 characters of A-Z a-z 0-9 _ - .,
 * or with `address` "0x" + 40 hex digits. */
static int parse_amm_str(json_t *c, const char *key, bool required, bool address, size_t idx,
                         char *out, size_t cap, char *err, size_t errlen)
{
    json_t *v = json_object_get(c, key);
    if (!v) {
        if (required)
            return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].%s: required%s", idx, key,
                            address ? ", the wallet address \"0x\" + 40 hex digits" : "");
        return CLB_OK;
    }
    const char *p = json_is_string(v) ? json_string_value(v) : "";
    bool ok;
    if (address) {
        ok = strlen(p) == 42 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X');
        for (size_t i = 2; ok && p[i]; i++)
            ok = (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
                 (p[i] >= 'A' && p[i] <= 'F');
    } else {
        ok = valid_name(p, cap);
    }
    if (!ok)
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].%s: %s", idx, key,
                        address ? "must be a wallet address \"0x\" + 40 hex digits"
                                : "must be 1-63 characters of A-Z a-z 0-9 _ - .");
    memcpy(out, p, strlen(p) + 1);
    return CLB_OK;
}

static int parse_amm_int(json_t *c, const char *key, int64_t lo, int64_t hi, size_t idx,
                         int64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(c, key);
    if (!v)
        return CLB_OK;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].%s: must be an integer in "
                        "[%" PRId64 ", %" PRId64 "]", idx, key, lo, hi);
    *out = json_integer_value(v);
    return CLB_OK;
}

static int parse_amm(json_t *c, size_t idx, struct conn_spec *cs, char *err, size_t errlen)
{
    int rc;
    cs->fee = -1;
    cs->amount_decimals = cs->price_decimals = -1;
    if ((rc = parse_url(c, "gateway_url", false, idx, cs->rest_url, sizeof(cs->rest_url), err,
                        errlen)) != CLB_OK ||
        (rc = parse_amm_str(c, "network", true, false, idx, cs->network, sizeof(cs->network), err,
                            errlen)) != CLB_OK ||
        (rc = parse_amm_str(c, "address", true, true, idx, cs->address, sizeof(cs->address), err,
                            errlen)) != CLB_OK ||
        (rc = parse_amm_str(c, "dex", false, false, idx, cs->dex, sizeof(cs->dex), err,
                            errlen)) != CLB_OK)
        return rc;
    json_t *v = json_object_get(c, "fee");
    if (v) {
        if (!json_is_number(v) || !(json_number_value(v) >= 0 && json_number_value(v) < 0.1))
            return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].fee: must be the pool fee "
                            "fraction in [0, 0.1) (Uniswap V2: 0.003)", idx);
        cs->fee = json_number_value(v);
    }
    int64_t ad = -1, pd = -1;
    if ((rc = parse_amm_int(c, "amount_decimals", 0, 18, idx, &ad, err, errlen)) != CLB_OK ||
        (rc = parse_amm_int(c, "price_decimals", 0, 18, idx, &pd, err, errlen)) != CLB_OK ||
        (rc = parse_amm_int(c, "price_poll_ms", 100, 3600000, idx, &cs->price_poll_ms, err,
                            errlen)) != CLB_OK ||
        (rc = parse_amm_int(c, "balance_poll_ms", 100, 3600000, idx, &cs->balance_poll_ms, err,
                            errlen)) != CLB_OK ||
        (rc = parse_amm_int(c, "tx_poll_ms", 50, 600000, idx, &cs->tx_poll_ms, err, errlen)) !=
            CLB_OK)
        return rc;
    cs->amount_decimals = (int)ad;
    cs->price_decimals = (int)pd;
    return parse_ca_file(c, idx, cs, err, errlen);
}

static int parse_paper(json_t *c, size_t idx, struct conn_spec *cs, char *err, size_t errlen)
{
    cs->maker_fee = 0.001;
    cs->taker_fee = 0.001;
    cs->latency_ms = ENG_DEFAULT_LATENCY_MS;
    int rc;
    if ((rc = parse_fee(c, "maker_fee", idx, &cs->maker_fee, err, errlen)) != CLB_OK ||
        (rc = parse_fee(c, "taker_fee", idx, &cs->taker_fee, err, errlen)) != CLB_OK)
        return rc;
    json_t *lat = json_object_get(c, "latency_ms");
    if (lat) {
        if (!json_is_integer(lat) || json_integer_value(lat) < 0 ||
            json_integer_value(lat) > 60000)
            return clb_errf(err, errlen, CLB_EINVAL,
                         "connectors[%zu].latency_ms: must be an integer in [0, 60000]", idx);
        cs->latency_ms = json_integer_value(lat);
    }
    return CLB_OK;
}

static int parse_conn(json_t *c, size_t idx, struct conn_spec *cs, char *err, size_t errlen)
{
    if (!json_is_object(c))
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu]: must be an object, not %s", idx,
                     clb_json_type_name(c));
    memset(cs, 0, sizeof(*cs));
    json_t *type = json_object_get(c, "type");
    const char *ts = json_is_string(type) ? json_string_value(type) : "";
    if (strcmp(ts, "paper") == 0)
        cs->type = CT_PAPER;
    else if (strcmp(ts, "binance") == 0)
        cs->type = CT_BINANCE;
    else if (strcmp(ts, "amm") == 0)
        cs->type = CT_AMM;
    else
        return clb_errf(err, errlen, CLB_EINVAL,
                     "connectors[%zu].type: required, \"paper\", \"binance\" or \"amm\"", idx);
    const char *const *keys = cs->type == CT_PAPER ? paper_keys
                              : cs->type == CT_AMM ? amm_keys : binance_keys;
    const char *k;
    json_t *v;
    json_object_foreach(c, k, v) {
        bool ok = false;
        for (size_t i = 0; keys[i]; i++)
            ok = ok || strcmp(k, keys[i]) == 0;
        if (!ok) {
            char list[256];
            key_list(keys, list, sizeof(list));
            return clb_errf(err, errlen, CLB_EINVAL,
                         "connectors[%zu].%.64s: unknown key (known for %s: %s)", idx, k, ts,
                         list);
        }
    }
    json_t *name = json_object_get(c, "name");
    if (!json_is_string(name) || !valid_name(json_string_value(name), sizeof(cs->name)))
        return clb_errf(err, errlen, CLB_EINVAL,
                     "connectors[%zu].name: required, 1-31 characters of A-Z a-z 0-9 _ - .", idx);
    snprintf(cs->name, sizeof(cs->name), "%s", json_string_value(name));
    json_t *mk = json_object_get(c, "markets");
    char known[128];
    if (cs->type == CT_PAPER)
        known_markets(known, sizeof(known));
    else if (cs->type == CT_AMM)
        snprintf(known, sizeof(known), "the network's token symbols, like \"WETH-USDC\"");
    else
        snprintf(known, sizeof(known), "like \"BTC-USDT\"");
    if (!json_is_array(mk) || json_array_size(mk) == 0)
        return clb_errf(err, errlen, CLB_EINVAL,
                     "connectors[%zu].markets: required, a non-empty array of market names (%s)",
                     idx, known);
    if (json_array_size(mk) > ENG_MAX_MARKETS)
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu].markets: at most %d markets", idx,
                     ENG_MAX_MARKETS);
    for (size_t i = 0; i < json_array_size(mk); i++) {
        json_t *m = json_array_get(mk, i);
        if (!json_is_string(m))
            return clb_errf(err, errlen, CLB_EINVAL,
                         "connectors[%zu].markets[%zu]: must be a string, not %s", idx, i,
                         clb_json_type_name(m));
        const char *sym = json_string_value(m);
        if (cs->type == CT_PAPER) {
            const struct sim_preset *p = preset_find(sym);
            if (!p)
                return clb_errf(err, errlen, CLB_EINVAL,
                             "connectors[%zu].markets[%zu]: unknown market \"%.40s\" (known: %s)",
                             idx, i, sym, known);
            cs->markets[cs->n_markets] = p;
        } else if (!valid_symbol(sym, NULL, NULL)) {
            return clb_errf(err, errlen, CLB_EINVAL,
                         "connectors[%zu].markets[%zu]: \"%.40s\" is not a market name like "
                         "\"BTC-USDT\" (BASE-QUOTE, A-Z 0-9)", idx, i, sym);
        }
        for (size_t j = 0; j < cs->n_markets; j++)
            if (strcmp(cs->symbols[j], sym) == 0)
                return clb_errf(err, errlen, CLB_EINVAL,
                             "connectors[%zu].markets[%zu]: \"%s\" is listed twice", idx, i, sym);
        snprintf(cs->symbols[cs->n_markets], sizeof(cs->symbols[0]), "%s", sym);
        cs->n_markets++;
    }
    if (cs->type == CT_AMM)
        return parse_amm(c, idx, cs, err, errlen);
    return cs->type == CT_PAPER ? parse_paper(c, idx, cs, err, errlen)
                                : parse_binance(c, idx, cs, err, errlen);
}

/* Scale of an asset across the configured paper connectors (balances are
 * theirs only), or -1 if no paper market trades it. */
static int spec_asset_scale(const struct engine_spec *s, const char *asset)
{
    int scale = -1;
    for (size_t i = 0; i < s->n_conns; i++) {
        if (s->conns[i].type != CT_PAPER)
            continue;
        for (size_t j = 0; j < s->conns[i].n_markets; j++) {
            const struct sim_preset *p = s->conns[i].markets[j];
            int sc = -1;
            if (strcmp(p->base, asset) == 0)
                sc = preset_asset_scale(p, true);
            else if (strcmp(p->quote, asset) == 0)
                sc = preset_asset_scale(p, false);
            if (sc >= 0 && (scale < 0 || sc < scale))
                scale = sc;
        }
    }
    return scale;
}

static int parse_spec(const struct clb_engine_config *cfg, struct engine_spec *s, char *err,
                      size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (cfg->tick_ms < 1 || cfg->tick_ms > 3600000)
        return clb_errf(err, errlen, CLB_EINVAL, "tick_ms: must be an integer in [1, 3600000]");
    if (cfg->event_feed_capacity != 0 &&
        (cfg->event_feed_capacity < 16 || cfg->event_feed_capacity > 1048576))
        return clb_errf(err, errlen, CLB_EINVAL, "event_feed_capacity: must be in [16, 1048576]");
    if (!cfg->connectors) {
        struct conn_spec *c = &s->conns[0];
        snprintf(c->name, sizeof(c->name), "paper");
        for (size_t i = 0; i < N_PRESETS; i++) {
            snprintf(c->symbols[c->n_markets], sizeof(c->symbols[0]), "%s", presets[i].symbol);
            c->markets[c->n_markets++] = &presets[i];
        }
        c->maker_fee = c->taker_fee = 0.001;
        c->latency_ms = ENG_DEFAULT_LATENCY_MS;
        s->n_conns = 1;
    } else {
        if (!json_is_array(cfg->connectors) || json_array_size(cfg->connectors) == 0)
            return clb_errf(err, errlen, CLB_EINVAL,
                         "connectors: must be a non-empty array of connector objects");
        if (json_array_size(cfg->connectors) > CLB_ENGINE_MAX_CONNECTORS)
            return clb_errf(err, errlen, CLB_EINVAL, "connectors: at most %d connectors",
                         CLB_ENGINE_MAX_CONNECTORS);
        for (size_t i = 0; i < json_array_size(cfg->connectors); i++) {
            int rc = parse_conn(json_array_get(cfg->connectors, i), i, &s->conns[i], err, errlen);
            if (rc != CLB_OK)
                return rc;
            for (size_t j = 0; j < i; j++)
                if (strcmp(s->conns[j].name, s->conns[i].name) == 0)
                    return clb_errf(err, errlen, CLB_EINVAL,
                                 "connectors[%zu].name: \"%s\" is already used by connectors[%zu]",
                                 i, s->conns[i].name, j);
            /* One network loop serves every exchange connector: one CA file. */
            const char *ca = s->conns[i].ca_file;
            if (s->conns[i].type != CT_PAPER && ca[0] && s->ca_file[0] &&
                strcmp(ca, s->ca_file) != 0)
                return clb_errf(err, errlen, CLB_EINVAL,
                                "connectors[%zu].ca_file: differs from an earlier connector's "
                                "(one CA file serves every exchange connector)", i);
            if (ca[0])
                memcpy(s->ca_file, ca, strlen(ca) + 1);
            s->n_exchange += s->conns[i].type != CT_PAPER;
            s->n_conns++;
        }
    }
    if (!cfg->balances) {
        static const struct {
            const char *asset;
            int64_t units;
        } defaults[] = { { "BTC", 10 }, { "ETH", 100 }, { "USDT", 1000000 } };
        for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
            if (spec_asset_scale(s, defaults[i].asset) < 0)
                continue;
            snprintf(s->bal[s->n_bal].asset, CLB_ASSET_MAX, "%s", defaults[i].asset);
            s->bal[s->n_bal++].amount = clb_dec_make(defaults[i].units, 0);
        }
        return CLB_OK;
    }
    if (!json_is_object(cfg->balances))
        return clb_errf(err, errlen, CLB_EINVAL,
                     "balances: must be an object like {\"USDT\": \"100000\"}, not %s",
                     clb_json_type_name(cfg->balances));
    const char *asset;
    json_t *v;
    json_object_foreach(cfg->balances, asset, v) {
        int scale = spec_asset_scale(s, asset);
        if (scale < 0)
            return clb_errf(err, errlen, CLB_EINVAL,
                         "balances.%.40s: no configured market trades this asset (balances "
                         "are the paper connectors' starting funds)", asset);
        clb_dec d;
        int64_t scaled;
        if (!json_is_string(v) || clb_dec_parse_cstr(json_string_value(v), &d) != CLB_OK ||
            clb_dec_sign(d) < 0)
            return clb_errf(err, errlen, CLB_EINVAL,
                         "balances.%s: must be a non-negative decimal string like \"1000.5\"",
                         asset);
        int rc = clb_dec_to_scaled(d, scale, &scaled);
        if (rc == CLB_EPRECISION)
            return clb_errf(err, errlen, CLB_EINVAL, "balances.%s: more than %d decimals", asset,
                         scale);
        if (rc != CLB_OK)
            return clb_errf(err, errlen, CLB_EINVAL, "balances.%s: too large", asset);
        if (s->n_bal == sizeof(s->bal) / sizeof(s->bal[0]))
            return clb_errf(err, errlen, CLB_EINVAL, "balances: too many assets");
        snprintf(s->bal[s->n_bal].asset, CLB_ASSET_MAX, "%s", asset);
        s->bal[s->n_bal++].amount = d;
    }
    return CLB_OK;
}

void clb_engine_config_default(struct clb_engine_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->tick_ms = 1000;
    cfg->seed = 1;
    cfg->event_feed_capacity = CLB_ENGINE_DEFAULT_FEED;
    cfg->worker_cpu = -1;
}

int clb_engine_check_config(const struct clb_engine_config *cfg, char *err, size_t errlen)
{
    if (!cfg)
        return clb_errf(err, errlen, CLB_EINVAL, "no configuration");
    struct engine_spec *s = malloc(sizeof(*s));
    if (!s)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    int rc = parse_spec(cfg, s, err, errlen);
    free(s);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The engine's state                                                        */
/* ------------------------------------------------------------------------ */

struct clb_engine;
struct eng_conn;

/* Per (connector, market): names, the paper index, the book topic and
 * counters. Trading rules and books are the connector's (ops->rules,
 * ops->book): an exchange connector has them only once it is ready. */
struct eng_market {
    char symbol[CLB_SYMBOL_MAX];
    char base[CLB_ASSET_MAX], quote[CLB_ASSET_MAX];
    const struct sim_preset *preset; /* paper only */
    uint32_t paper_idx;              /* paper only */
    uint64_t updates;     /* paper: records applied; others: the book's change count */
    uint64_t pub_updates; /* updates at the last book publication */
    int64_t last_pub_mono;
    size_t slot;          /* snapshot slot of "book:C:M" */
    char topic[80];
    uint64_t placed[2], cancelled[2], rejected[2], completed[2], fills[2];
};

struct eng_conn {
    struct clb_engine *e;
    uint8_t idx;
    char name[32];
    enum eng_ctype type;
    struct clb_event_bus bus;
    struct clb_paper *paper;     /* paper connectors only */
#ifdef COLIBRI_HAVE_BINANCE
    struct clb_binance *binance; /* binance connectors only */
#endif
#ifdef COLIBRI_HAVE_AMM
    struct clb_amm *amm;         /* amm connectors only */
#endif
    struct clb_connector *conn;  /* the connector interface (owned through the above) */
    struct eng_market markets[ENG_MAX_MARKETS];
    uint32_t n_markets;
    char assets[ENG_MAX_ASSETS][CLB_ASSET_MAX];
    uint32_t n_assets;
    double maker_fee, taker_fee; /* paper: configured */
    int64_t latency_ms;          /* paper only */
};

struct eng_sub {
    struct eng_conn *ec;
    uint32_t market; /* index in ec->markets */
};

/* One simulated market feeding every connector that trades it. */
struct eng_source {
    const struct sim_preset *preset;
    struct clb_synth synth;
    bool inited;
    struct clb_md_record next;
    struct eng_sub subs[CLB_ENGINE_MAX_CONNECTORS];
    size_t n_subs;
};

/* What the engine knows of one order (from the connector's events). */
struct eng_order {
    char cid[CLB_CLIENT_ID_MAX];
    char xid[CLB_EXCHANGE_ORDER_ID_MAX];
    uint8_t conn;
    uint8_t market;
    enum clb_side side;
    enum clb_order_type type;
    clb_dec price, amount, executed, executed_quote;
    int state;
    int reason;
    uint32_t owner;
    int64_t created_ns, updated_ns;
};

struct eng_trade {
    char trade_id[CLB_TRADE_ID_MAX];
    char cid[CLB_CLIENT_ID_MAX];
    uint8_t conn;
    uint8_t market;
    enum clb_side side;
    clb_dec price, amount, fee;
    char fee_asset[CLB_ASSET_MAX];
    bool is_maker;
    uint32_t owner;
    int64_t ts_ns;
};

enum eng_sstate { SS_CREATED = 0, SS_RUNNING, SS_STOPPED };

/* A strategy to resume (clb_engine_config.resume): its strategy.create
 * parameters, or NULL with why it cannot be (reported at the first try). */
struct eng_resume {
    uint32_t id;
    char name[64];
    json_t *create;
    char why[160];
    int64_t next_try_mono;
    bool waiting_logged;
};

struct eng_strategy;

/* The connector a strategy sees: forwards every hook to the real one and
 * tags placements with the strategy's id. */
struct eng_proxy {
    struct clb_connector base; /* must stay first */
    struct eng_strategy *es;
    struct eng_conn *ec;       /* the real connector's */
};

/* Accounting of a strategy's own fills (doubles: reports, not money). */
struct eng_perf {
    bool have_start;
    double start_base, start_quote;
    double base_delta, quote_delta;
    double fees_quote;
    double pos, avg_cost, realized;
    double volume_quote;
    uint64_t fills;
};

struct eng_strategy {
    struct clb_engine *e;
    uint32_t id;
    char name[64];
    const struct clb_strategy_ops *ops;
    struct clb_strategy *s;
    struct eng_proxy proxy;
    struct eng_conn *ec;
    uint32_t market;
    /* two-venue strategies (ops->attach_secondary): the second connector */
    struct eng_proxy proxy2;
    struct eng_conn *ec2;    /* NULL if none */
    uint32_t market2;
    enum eng_sstate state;
    int64_t created_ns, started_ns, stopped_ns;
    struct eng_perf pf;
};

struct eng_call {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done;
    bool abandoned;
    char method[64];
    json_t *params;
    json_t *result;
    int rc;
    char err[ENG_ERR];
};

struct snap_slot {
    char name[96];
    json_t *doc;
};

enum { SNAP_STATUS = 0, SNAP_CONNECTORS, SNAP_BALANCES, SNAP_STRATEGIES, SNAP_ORDERS,
       SNAP_TRADES, SNAP_PERFORMANCE, SNAP_METRICS, SNAP_FIXED_ };

static const char *const snap_names[SNAP_FIXED_] = {
    "status", "connectors", "balances", "strategies", "orders", "trades", "performance", "metrics",
};

static const double tick_buckets[] = { 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                       0.01,    0.025,  0.05,    0.1,    0.25,  1.0 };
#define N_TICK_BUCKETS (sizeof(tick_buckets) / sizeof(tick_buckets[0]))

enum eng_state { ES_RUNNING = 0, ES_STOPPING, ES_STOPPED };

struct clb_engine {
    struct clb_engine_config cfg;
    struct clb_log *log;
    bool own_log;

    /* ---- worker-only state ---- */
    int worker_cpu;       /* the one CPU the worker runs on, -1: several */
    uint64_t loop_passes; /* turns of the worker's loop */
    struct clb_clock clock;
    bool clock_inited;
    struct eng_conn *conns; /* [CLB_ENGINE_MAX_CONNECTORS] */
    size_t n_conns;
    struct eng_source sources[N_PRESETS];
    size_t n_sources;
    struct eng_strategy *strats[CLB_ENGINE_MAX_STRATEGIES];
    size_t n_strats;
    uint32_t next_id;
    struct eng_resume *resume; /* strategies still to resume */
    size_t n_resume;
    struct eng_order *live;
    size_t n_live, cap_live;
    struct eng_order *fin; /* ring of CLB_ENGINE_KEEP_FINISHED */
    size_t fin_head, fin_n;
    struct eng_trade *trades; /* ring of CLB_ENGINE_KEEP_TRADES */
    size_t tr_head, tr_n;
    uint32_t placing_owner;
    bool orders_dirty, trades_dirty;
    int64_t now_ns;        /* latest wall time seen (never decreasing) */
    int64_t start_mono_ns;
    int64_t started_ns;    /* wall */
    int64_t last_status_mono, last_fast_mono;
    uint64_t tick_counts[N_TICK_BUCKETS];
    uint64_t tick_count;
    double tick_sum_s;
    enum eng_state state;
    int64_t stop_begin_mono;
    int64_t stop_deadline_mono;
    uint64_t records_fed;
#ifdef COLIBRI_HAVE_NET
    struct clb_netloop *loop; /* exchange connectors' sockets and timers; NULL = paper only */
#endif
    uint64_t loop_errors;     /* failed clb_netloop_poll calls */
    struct engine_spec *spec; /* the parsed config, until the worker's setup is done */
    struct eng_keys {         /* exchange connectors' API keys, wiped after their setup */
        char key[ENG_KEY_MAX], secret[ENG_KEY_MAX];
    } keys[CLB_ENGINE_MAX_CONNECTORS];

    /* ---- persistence (worker; the writer itself is thread-safe) ---- */
    struct clb_store_writer *sw; /* borrowed, NULL = none */
    char store_backend[16];
    bool store_avail;            /* as last seen by the worker */
    bool store_was_avail;        /* it has been available once */
    int64_t last_balance_mono;
    uint64_t store_refused;      /* puts the writer refused */

    /* ---- lifecycle (life_mu) ---- */
    pthread_t worker;
    bool worker_started;
    pthread_mutex_t life_mu;
    pthread_cond_t life_cv;
    atomic_bool stop_requested;
    _Atomic int stop_timeout_ms;
    bool worker_done;
    bool joined;
    bool setup_done;          /* the worker's setup ended (setup_rc, setup_err) */
    /* the recovered starts of the exchange connectors, borrowed from the
     * config until the worker's setup is done */
    const struct clb_engine_conn_start *xstart[CLB_ENGINE_MAX_CONNECTORS];
    int setup_rc;
    char setup_err[ENG_ERR];

    /* ---- command queue (q_mu) ---- */
    pthread_mutex_t q_mu;
    struct eng_call *q[ENG_QUEUE_CAP];
    size_t q_head, q_n;
    bool q_closed;
    int cmd_efd;

    /* ---- snapshots (snap_mu) ---- */
    pthread_mutex_t snap_mu;
    struct snap_slot *slots;
    size_t n_slots;

    /* ---- event feed (feed_mu) ---- */
    pthread_mutex_t feed_mu;
    json_t **ring;
    size_t feed_cap;
    size_t feed_count;
    uint64_t feed_next_seq; /* seq of the next event; the oldest held is next - count */
    uint64_t feed_dropped;
    int feed_efd;
};

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* Wall time, never going back (core's clock refuses time going backwards). */
static int64_t wall_now(struct clb_engine *e)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t t = (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
    if (t > e->now_ns)
        e->now_ns = t;
    return e->now_ns;
}

/* Overwrites a secret in memory (a plain memset may be optimised away). */
static void wipe(void *p, size_t n)
{
    volatile unsigned char *v = p;
    while (n--)
        *v++ = 0;
}

static json_int_t to_ms(int64_t ns)
{
    return (json_int_t)(ns / NS_PER_MS);
}

/* ------------------------------------------------------------------------ */
/* JSON helpers                                                              */
/* ------------------------------------------------------------------------ */

static json_t *jnum(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jdec(clb_dec d)
{
    char buf[CLB_DEC_STRLEN];
    if (clb_dec_format(d, buf, sizeof(buf)) < 0)
        return json_null();
    return json_string(buf);
}

static json_t *jscaled(int64_t v, int scale)
{
    return jdec(clb_dec_make(v, scale));
}

static json_t *jowner(uint32_t owner)
{
    return owner ? json_integer(owner) : json_null();
}

/* ------------------------------------------------------------------------ */
/* Event feed                                                                */
/* ------------------------------------------------------------------------ */

static void feed_signal(struct clb_engine *e)
{
    uint64_t one = 1;
    ssize_t w = write(e->feed_efd, &one, sizeof(one));
    (void)w; /* EAGAIN: the counter is saturated, readers are woken anyway */
}

/* Appends {"seq", "type", "topic", "ts", "data"}; data is stolen. Any thread. */
static void feed_append(struct clb_engine *e, const char *topic, const char *type, json_t *data,
                        int64_t ts_ms)
{
    json_t *ev = json_object();
    if (!ev || !data) {
        json_decref(ev);
        json_decref(data);
        return;
    }
    json_object_set_new(ev, "type", json_string(type));
    json_object_set_new(ev, "topic", json_string(topic));
    json_object_set_new(ev, "ts", json_integer(ts_ms));
    json_object_set_new(ev, "data", data);
    json_t *old = NULL;
    pthread_mutex_lock(&e->feed_mu);
    json_object_set_new(ev, "seq", json_integer((json_int_t)e->feed_next_seq));
    size_t pos = (size_t)(e->feed_next_seq % e->feed_cap);
    if (e->feed_count == e->feed_cap) {
        old = e->ring[pos];
        e->feed_dropped++;
    } else {
        e->feed_count++;
    }
    e->ring[pos] = ev;
    e->feed_next_seq++;
    pthread_mutex_unlock(&e->feed_mu);
    json_decref(old);
    feed_signal(e);
}

size_t clb_engine_feed_read(struct clb_engine *e, uint64_t *cursor, json_t **out, size_t n,
                            bool *gap)
{
    if (gap)
        *gap = false;
    if (!e || !cursor || (!out && n))
        return 0;
    pthread_mutex_lock(&e->feed_mu);
    uint64_t oldest = e->feed_next_seq - e->feed_count;
    uint64_t from = *cursor;
    if (from < oldest) {
        if (gap && from > 0)
            *gap = true;
        from = oldest;
    }
    size_t k = 0;
    while (k < n && from < e->feed_next_seq) {
        json_t *ev = e->ring[from % e->feed_cap];
        out[k++] = json_incref(ev);
        from++;
    }
    *cursor = from;
    pthread_mutex_unlock(&e->feed_mu);
    return k;
}

uint64_t clb_engine_feed_head(struct clb_engine *e)
{
    pthread_mutex_lock(&e->feed_mu);
    uint64_t h = e->feed_next_seq;
    pthread_mutex_unlock(&e->feed_mu);
    return h;
}

int clb_engine_feed_fd(struct clb_engine *e)
{
    return e ? e->feed_efd : -1;
}

static void log_sink(void *ud, int64_t ts_ms, enum clb_log_level level, const char *msg)
{
    struct clb_engine *e = ud;
    json_t *d = json_object();
    if (!d)
        return;
    json_object_set_new(d, "ts_ms", json_integer(ts_ms));
    json_object_set_new(d, "level", json_string(clb_log_level_name(level)));
    json_object_set_new(d, "message", json_string(msg));
    feed_append(e, "logs", "log", d, ts_ms);
}

struct clb_log *clb_engine_log(struct clb_engine *e)
{
    return e ? e->log : NULL;
}

#define LOGD(e, ...) clb_logf((e)->log, CLB_LOG_DEBUG, __VA_ARGS__)
#define LOGI(e, ...) clb_logf((e)->log, CLB_LOG_INFO, __VA_ARGS__)
#define LOGW(e, ...) clb_logf((e)->log, CLB_LOG_WARN, __VA_ARGS__)
#define LOGE(e, ...) clb_logf((e)->log, CLB_LOG_ERROR, __VA_ARGS__)

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                 */
/* ------------------------------------------------------------------------ */

/* Replaces a slot's document (doc stolen). */
static void snap_publish(struct clb_engine *e, size_t slot, json_t *doc)
{
    if (!doc)
        return;
    pthread_mutex_lock(&e->snap_mu);
    json_t *old = e->slots[slot].doc;
    e->slots[slot].doc = doc;
    pthread_mutex_unlock(&e->snap_mu);
    json_decref(old);
}

json_t *clb_engine_snapshot(struct clb_engine *e, const char *name)
{
    if (!e || !name)
        return NULL;
    json_t *doc = NULL;
    pthread_mutex_lock(&e->snap_mu);
    for (size_t i = 0; i < e->n_slots; i++) {
        if (strcmp(e->slots[i].name, name) == 0) {
            doc = json_incref(e->slots[i].doc);
            break;
        }
    }
    pthread_mutex_unlock(&e->snap_mu);
    return doc;
}

/* ------------------------------------------------------------------------ */
/* Lookups                                                                   */
/* ------------------------------------------------------------------------ */

static struct eng_conn *conn_find(struct clb_engine *e, const char *name)
{
    for (size_t i = 0; i < e->n_conns; i++)
        if (strcmp(e->conns[i].name, name) == 0)
            return &e->conns[i];
    return NULL;
}

static int market_find(const struct eng_conn *ec, const char *symbol)
{
    for (uint32_t i = 0; i < ec->n_markets; i++)
        if (strcmp(ec->markets[i].symbol, symbol) == 0)
            return (int)i;
    return -1;
}

static struct eng_strategy *strat_find(struct clb_engine *e, uint32_t id)
{
    for (size_t i = 0; i < e->n_strats; i++)
        if (e->strats[i]->id == id)
            return e->strats[i];
    return NULL;
}

static struct eng_order *live_find(struct clb_engine *e, uint8_t conn, const char *cid)
{
    for (size_t i = 0; i < e->n_live; i++)
        if (e->live[i].conn == conn && strcmp(e->live[i].cid, cid) == 0)
            return &e->live[i];
    return NULL;
}

/* The i-th most recent finished order (0 = newest). */
static struct eng_order *fin_at(struct clb_engine *e, size_t i)
{
    size_t pos = (e->fin_head + CLB_ENGINE_KEEP_FINISHED - 1 - i) % CLB_ENGINE_KEEP_FINISHED;
    return &e->fin[pos];
}

static struct eng_order *fin_find(struct clb_engine *e, uint8_t conn, const char *cid)
{
    for (size_t i = 0; i < e->fin_n; i++) {
        struct eng_order *o = fin_at(e, i);
        if (o->conn == conn && strcmp(o->cid, cid) == 0)
            return o;
    }
    return NULL;
}

static struct eng_trade *trade_at(struct clb_engine *e, size_t i)
{
    size_t pos = (e->tr_head + CLB_ENGINE_KEEP_TRADES - 1 - i) % CLB_ENGINE_KEEP_TRADES;
    return &e->trades[pos];
}

/* The connector's trading rules and book of a market (NULL while an
 * exchange connector does not have them yet). */
static const struct clb_market_rules *market_rules(struct eng_conn *ec, uint32_t m)
{
    return ec->conn->ops->rules(ec->conn, ec->markets[m].symbol);
}

static const struct clb_order_book *market_book(struct eng_conn *ec, uint32_t m)
{
    return ec->conn->ops->book(ec->conn, ec->markets[m].symbol);
}

static double market_mid(struct eng_conn *ec, uint32_t m)
{
    const struct clb_order_book *b = market_book(ec, m);
    const struct clb_market_rules *r = market_rules(ec, m);
    double mid;
    if (!b || !r || !clb_book_mid(b, &mid))
        return NAN;
    return mid * pow(10.0, -(double)r->price_scale);
}

/* ------------------------------------------------------------------------ */
/* JSON of orders, trades, strategies                                        */
/* ------------------------------------------------------------------------ */

static const char *order_type_name(enum clb_order_type t)
{
    switch (t) {
    case CLB_ORDER_LIMIT:
        return "limit";
    case CLB_ORDER_LIMIT_MAKER:
        return "limit_maker";
    case CLB_ORDER_MARKET:
        return "market";
    }
    return "unknown";
}

static json_t *order_json(struct clb_engine *e, const struct eng_order *o)
{
    const struct eng_conn *ec = &e->conns[o->conn];
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "client_order_id", json_string(o->cid));
    json_object_set_new(j, "exchange_order_id", json_string(o->xid));
    json_object_set_new(j, "connector", json_string(ec->name));
    json_object_set_new(j, "market", json_string(ec->markets[o->market].symbol));
    json_object_set_new(j, "side", json_string(clb_side_name(o->side)));
    json_object_set_new(j, "type", json_string(order_type_name(o->type)));
    json_object_set_new(j, "price", jdec(o->price));
    json_object_set_new(j, "amount", jdec(o->amount));
    json_object_set_new(j, "executed", jdec(o->executed));
    json_object_set_new(j, "executed_quote", jdec(o->executed_quote));
    json_object_set_new(j, "state", json_string(clb_order_state_name(o->state)));
    json_object_set_new(j, "strategy", jowner(o->owner));
    json_object_set_new(j, "created_ms", json_integer(to_ms(o->created_ns)));
    json_object_set_new(j, "updated_ms", json_integer(to_ms(o->updated_ns)));
    json_object_set_new(j, "reason", o->reason ? json_string(clb_err_name(o->reason))
                                               : json_null());
    return j;
}

static json_t *trade_json(struct clb_engine *e, const struct eng_trade *t)
{
    const struct eng_conn *ec = &e->conns[t->conn];
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "trade_id", json_string(t->trade_id));
    json_object_set_new(j, "client_order_id", json_string(t->cid));
    json_object_set_new(j, "connector", json_string(ec->name));
    json_object_set_new(j, "market", json_string(ec->markets[t->market].symbol));
    json_object_set_new(j, "side", json_string(clb_side_name(t->side)));
    json_object_set_new(j, "price", jdec(t->price));
    json_object_set_new(j, "amount", jdec(t->amount));
    json_object_set_new(j, "fee", jdec(t->fee));
    json_object_set_new(j, "fee_asset", json_string(t->fee_asset));
    json_object_set_new(j, "is_maker", json_boolean(t->is_maker));
    json_object_set_new(j, "strategy", jowner(t->owner));
    json_object_set_new(j, "ts_ms", json_integer(to_ms(t->ts_ns)));
    return j;
}

static const char *sstate_name(enum eng_sstate s)
{
    switch (s) {
    case SS_CREATED:
        return "created";
    case SS_RUNNING:
        return "running";
    case SS_STOPPED:
        return "stopped";
    }
    return "unknown";
}

static json_t *params_json(const struct clb_strategy_ops *ops, const void *cfg)
{
    json_t *o = json_object();
    if (!o || !cfg)
        return o;
    for (size_t i = 0; i < ops->n_params; i++) {
        const struct clb_param_spec *p = &ops->params[i];
        const void *f = (const char *)cfg + p->offset;
        json_t *v = NULL;
        switch (p->type) {
        case CLB_PARAM_DOUBLE:
            v = jnum(*(const double *)f);
            break;
        case CLB_PARAM_INT:
            v = json_integer(*(const long long *)f);
            break;
        case CLB_PARAM_BOOL:
            v = json_boolean(*(const bool *)f);
            break;
        case CLB_PARAM_ENUM:
        case CLB_PARAM_STRING: {
            char buf[CLB_PARAM_STRMAX + 8];
            if (clb_params_format(p, cfg, buf, sizeof(buf)) >= 0)
                v = json_string(buf);
            break;
        }
        }
        if (v)
            json_object_set_new(o, p->name, v);
    }
    return o;
}

static json_t *strategy_metrics_json(const struct eng_strategy *es)
{
    json_t *o = json_object();
    if (!o || !es->ops->metrics)
        return o;
    struct clb_strategy_metric m[ENG_MAX_METRICS];
    size_t n = es->ops->metrics(es->s, m, ENG_MAX_METRICS);
    for (size_t i = 0; i < n && i < ENG_MAX_METRICS; i++)
        if (m[i].name)
            json_object_set_new(o, m[i].name, jnum(m[i].value));
    return o;
}

static json_t *strategy_json(struct clb_engine *e, const struct eng_strategy *es)
{
    (void)e;
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_object_set_new(j, "id", json_integer(es->id));
    json_object_set_new(j, "name", json_string(es->name));
    json_object_set_new(j, "type", json_string(es->ops->type));
    json_object_set_new(j, "connector", json_string(es->ec->name));
    json_object_set_new(j, "market", json_string(es->ec->markets[es->market].symbol));
    if (es->ec2) {
        json_object_set_new(j, "connector_2", json_string(es->ec2->name));
        json_object_set_new(j, "market_2", json_string(es->ec2->markets[es->market2].symbol));
    }
    json_object_set_new(j, "state", json_string(sstate_name(es->state)));
    json_object_set_new(j, "params",
                        params_json(es->ops, es->ops->config ? es->ops->config(es->s) : NULL));
    json_object_set_new(j, "metrics", strategy_metrics_json(es));
    json_object_set_new(j, "created_ms", json_integer(to_ms(es->created_ns)));
    json_object_set_new(j, "started_ms",
                        es->started_ns ? json_integer(to_ms(es->started_ns)) : json_null());
    json_object_set_new(j, "stopped_ms",
                        es->stopped_ns ? json_integer(to_ms(es->stopped_ns)) : json_null());
    json_object_set_new(j, "errors", json_integer((json_int_t)es->s->it.errors));
    json_object_set_new(j, "last_error", es->s->it.last_error
                                             ? json_string(clb_err_name(es->s->it.last_error))
                                             : json_null());
    return j;
}

/* ------------------------------------------------------------------------ */
/* Order events -> records, trades, accounting, metrics, feed                */
/* ------------------------------------------------------------------------ */

static struct eng_order *live_add(struct clb_engine *e)
{
    if (e->n_live == e->cap_live) {
        if (e->cap_live >= ENG_LIVE_MAX)
            return NULL;
        size_t cap = e->cap_live ? e->cap_live * 2 : 256;
        struct eng_order *n = realloc(e->live, cap * sizeof(*n));
        if (!n)
            return NULL;
        e->live = n;
        e->cap_live = cap;
    }
    struct eng_order *o = &e->live[e->n_live++];
    memset(o, 0, sizeof(*o));
    return o;
}

/* Moves a live record into the finished ring; returns its new address. */
static struct eng_order *live_finish(struct clb_engine *e, struct eng_order *o)
{
    struct eng_order *dst = &e->fin[e->fin_head];
    *dst = *o;
    e->fin_head = (e->fin_head + 1) % CLB_ENGINE_KEEP_FINISHED;
    if (e->fin_n < CLB_ENGINE_KEEP_FINISHED)
        e->fin_n++;
    size_t i = (size_t)(o - e->live);
    memmove(&e->live[i], &e->live[i + 1], (e->n_live - i - 1) * sizeof(*o));
    e->n_live--;
    return dst;
}

static void perf_on_fill(struct eng_strategy *es, const struct clb_order_event *oe)
{
    struct eng_perf *pf = &es->pf;
    const struct eng_market *r = &es->ec->markets[es->market];
    double px = clb_dec_to_double(oe->fill_price);
    double q = clb_dec_to_double(oe->fill_amount);
    double fee = clb_dec_to_double(oe->fill_fee);
    bool fee_base = oe->fee_asset && strcmp(oe->fee_asset, r->base) == 0;
    bool fee_quote = oe->fee_asset && strcmp(oe->fee_asset, r->quote) == 0;
    double fee_q = fee_base ? fee * px : fee_quote ? fee : 0.0;
    double signed_q = oe->side == CLB_SIDE_BUY ? q : -q;
    pf->fills++;
    pf->volume_quote += px * q;
    pf->base_delta += signed_q;
    pf->quote_delta -= signed_q * px;
    if (fee_base)
        pf->base_delta -= fee;
    else if (fee_quote)
        pf->quote_delta -= fee;
    pf->fees_quote += fee_q;
    pf->realized -= fee_q;
    /* average cost: closing part realizes, opening part moves the average */
    if (pf->pos == 0.0 || (pf->pos > 0) == (signed_q > 0)) {
        double npos = pf->pos + signed_q;
        pf->avg_cost = npos != 0.0 ? (pf->avg_cost * pf->pos + px * signed_q) / npos : 0.0;
        pf->pos = npos;
    } else {
        double closing = fabs(signed_q) < fabs(pf->pos) ? fabs(signed_q) : fabs(pf->pos);
        double dir = pf->pos > 0 ? 1.0 : -1.0;
        pf->realized += closing * (px - pf->avg_cost) * dir;
        pf->pos += signed_q;
        if (fabs(pf->pos) < 1e-12) {
            pf->pos = 0.0;
            pf->avg_cost = 0.0;
        } else if ((pf->pos > 0) != (dir > 0)) {
            pf->avg_cost = px; /* flipped: the rest opened at this price */
        }
    }
    if (fee_base)
        pf->pos -= fee;
}

static void record_trade(struct clb_engine *e, struct eng_conn *ec, int market,
                         const struct clb_event *ev, uint32_t owner)
{
    const struct clb_order_event *oe = &ev->u.order;
    struct eng_trade *t = &e->trades[e->tr_head];
    memset(t, 0, sizeof(*t));
    snprintf(t->trade_id, sizeof(t->trade_id), "%s", oe->trade_id ? oe->trade_id : "");
    snprintf(t->cid, sizeof(t->cid), "%s", oe->client_order_id);
    t->conn = ec->idx;
    t->market = (uint8_t)market;
    t->side = oe->side;
    t->price = oe->fill_price;
    t->amount = oe->fill_amount;
    t->fee = oe->fill_fee;
    snprintf(t->fee_asset, sizeof(t->fee_asset), "%s", oe->fee_asset ? oe->fee_asset : "");
    t->is_maker = oe->fill_is_maker;
    t->owner = owner;
    t->ts_ns = ev->ts_ns;
    e->tr_head = (e->tr_head + 1) % CLB_ENGINE_KEEP_TRADES;
    if (e->tr_n < CLB_ENGINE_KEEP_TRADES)
        e->tr_n++;
    e->trades_dirty = true;
    feed_append(e, "trades", "trade", trade_json(e, t), to_ms(ev->ts_ns));
    char p[CLB_DEC_STRLEN], q[CLB_DEC_STRLEN];
    clb_dec_format(t->price, p, sizeof(p));
    clb_dec_format(t->amount, q, sizeof(q));
    if (owner)
        LOGI(e, "fill %s %s %s %s @ %s (%s, strategy %" PRIu32 ")", ec->name,
             ec->markets[market].symbol, clb_side_name(t->side), q, p, t->cid, owner);
    else
        LOGI(e, "fill %s %s %s %s @ %s (%s, manual)", ec->name, ec->markets[market].symbol,
             clb_side_name(t->side), q, p, t->cid);
}

static const char *event_kind(enum clb_event_type t)
{
    switch (t) {
    case CLB_EV_ORDER_CREATED:
        return "created";
    case CLB_EV_ORDER_FILLED:
        return "filled";
    case CLB_EV_ORDER_CANCELLED:
        return "cancelled";
    case CLB_EV_ORDER_FAILED:
        return "failed";
    case CLB_EV_ORDER_COMPLETED:
        return "completed";
    default:
        return "state";
    }
}

/* ---- persistence (worker) ---- */

/* Hands one record to the writer; never blocks. A refusal (queue and spill
 * file full, or a record too long for its fields) is counted and logged
 * (the first one, then every 1000th). */
static void store_put(struct clb_engine *e, const struct clb_store_rec *r)
{
    int rc = clb_store_writer_put(e->sw, r);
    if (rc == CLB_OK)
        return;
    if (e->store_refused++ % 1000 == 0)
        LOGW(e, "store: %s record not queued: %s (%" PRIu64 " refused so far)",
             clb_store_rec_type_name(r->type), clb_strerror(rc), e->store_refused);
}

/* The records of one order event: the order row when its tracking starts,
 * its state change (COMPLETED repeats the last FILLED's change: skipped),
 * and the fill. */
static void store_order_event(struct clb_engine *e, const struct clb_event *ev, bool started,
                              uint32_t owner)
{
    if (!e->sw)
        return;
    char sid[16] = "";
    if (owner)
        snprintf(sid, sizeof(sid), "%" PRIu32, owner);
    struct clb_store_rec r;
    int rc = CLB_OK;
    if (started && (rc = clb_store_rec_order_from_event(ev, sid, &r)) == CLB_OK)
        store_put(e, &r);
    if (rc == CLB_OK && ev->type != CLB_EV_ORDER_COMPLETED &&
        (rc = clb_store_rec_order_state_from_event(ev, &r)) == CLB_OK)
        store_put(e, &r);
    if (rc == CLB_OK && ev->type == CLB_EV_ORDER_FILLED &&
        (rc = clb_store_rec_fill_from_event(ev, sid, &r)) == CLB_OK)
        store_put(e, &r);
    if (rc != CLB_OK && e->store_refused++ % 1000 == 0)
        LOGW(e, "store: order %s: cannot build its record: %s", ev->u.order.client_order_id,
             clb_strerror(rc));
}

/* A balance snapshot of every asset of every connector. */
static void store_balances(struct clb_engine *e)
{
    if (!e->sw)
        return;
    int64_t ts_ms = (int64_t)to_ms(wall_now(e));
    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
        struct clb_connector_status cst;
        ec->conn->ops->status(ec->conn, &cst);
        if (!cst.balances_ready)
            continue; /* an exchange account not read yet: no zeros in the history */
        for (uint32_t k = 0; k < ec->n_assets; k++) {
            struct clb_store_rec r;
            memset(&r, 0, sizeof(r));
            r.type = CLB_STORE_REC_BALANCE;
            struct clb_store_balance *b = &r.u.balance;
            if (clb_store_strlcpy(b->connector, sizeof(b->connector), ec->name) != CLB_OK ||
                clb_store_strlcpy(b->asset, sizeof(b->asset), ec->assets[k]) != CLB_OK)
                continue;
            if (ec->conn->ops->balance(ec->conn, ec->assets[k], &b->total, &b->available) !=
                CLB_OK)
                continue;
            b->ts_ms = ts_ms;
            store_put(e, &r);
        }
    }
    e->last_balance_mono = mono_ns();
}

/* true when new orders may be placed (no store, or the store keeps up). */
static bool store_accepts_orders(const struct clb_engine *e)
{
    return !e->sw || clb_store_writer_available(e->sw);
}

static void on_order_event(void *ud, const struct clb_event *ev)
{
    struct eng_conn *ec = ud;
    struct clb_engine *e = ec->e;
    const struct clb_order_event *oe = &ev->u.order;
    if (!oe->client_order_id || !oe->market)
        return;
    int m = market_find(ec, oe->market);
    if (m < 0)
        return;
    struct eng_market *mk = &ec->markets[m];
    int side = oe->side == CLB_SIDE_SELL ? 1 : 0;
    bool started = ev->type == CLB_EV_ORDER_STATE && oe->prev_state == CLB_ORDER_STATE_NONE;
    struct eng_order *o = started ? NULL : live_find(e, ec->idx, oe->client_order_id);
    bool finished = false;
    if (!o && !started) {
        o = fin_find(e, ec->idx, oe->client_order_id); /* a late fill */
        finished = o != NULL;
    }
    if (started) {
        o = live_add(e);
        if (!o) {
            LOGW(e, "too many live orders: %s is not listed", oe->client_order_id);
        } else {
            snprintf(o->cid, sizeof(o->cid), "%s", oe->client_order_id);
            o->conn = ec->idx;
            o->market = (uint8_t)m;
            o->owner = e->placing_owner;
            o->created_ns = ev->ts_ns;
        }
        mk->placed[side]++;
    }
    uint32_t owner = o ? o->owner : started ? e->placing_owner : 0;
    store_order_event(e, ev, started, owner);
    switch (ev->type) {
    case CLB_EV_ORDER_CANCELLED:
        mk->cancelled[side]++;
        break;
    case CLB_EV_ORDER_FAILED:
        mk->rejected[side]++;
        break;
    case CLB_EV_ORDER_COMPLETED:
        mk->completed[side]++;
        break;
    case CLB_EV_ORDER_FILLED: {
        mk->fills[side]++;
        struct eng_strategy *es = owner ? strat_find(e, owner) : NULL;
        if (es)
            perf_on_fill(es, oe);
        record_trade(e, ec, m, ev, owner);
        break;
    }
    default:
        break;
    }
    if (!o)
        return;
    snprintf(o->xid, sizeof(o->xid), "%s", oe->exchange_order_id ? oe->exchange_order_id : "");
    o->side = oe->side;
    o->type = oe->type;
    o->price = oe->price;
    o->amount = oe->amount;
    o->executed = oe->executed_base;
    o->executed_quote = oe->executed_quote;
    o->state = oe->state;
    if (ev->type == CLB_EV_ORDER_FAILED)
        o->reason = oe->reason ? oe->reason : CLB_EINVAL;
    o->updated_ns = ev->ts_ns;
    e->orders_dirty = true;
    json_t *d = order_json(e, o);
    if (d)
        json_object_set_new(d, "event", json_string(event_kind(ev->type)));
    feed_append(e, "orders", "order", d, to_ms(ev->ts_ns));
    if (ev->type == CLB_EV_ORDER_FAILED)
        LOGI(e, "order %s on %s %s failed: %s", o->cid, ec->name, mk->symbol,
             clb_strerror(o->reason));
    else
        LOGD(e, "order %s on %s %s: %s", o->cid, ec->name, mk->symbol,
             event_kind(ev->type));
    if (!finished && clb_order_state_is_terminal(o->state))
        live_finish(e, o);
}

/* ------------------------------------------------------------------------ */
/* The proxy connector strategies trade through                              */
/* ------------------------------------------------------------------------ */

static struct clb_connector *px_real(struct clb_connector *c)
{
    return ((struct eng_proxy *)c)->ec->conn;
}

static int px_place(struct clb_connector *c, const struct clb_order_request *req,
                    char client_id[CLB_CLIENT_ID_MAX])
{
    struct eng_strategy *es = ((struct eng_proxy *)c)->es;
    struct clb_connector *real = ((struct eng_proxy *)c)->ec->conn;
    if (!req)
        return CLB_EINVAL;
    if (!store_accepts_orders(es->e))
        return CLB_ENOTREADY; /* the store cannot record it: no new orders */
    struct clb_order_request r = *req;
    r.owner = es->id;
    uint32_t saved = es->e->placing_owner;
    es->e->placing_owner = es->id;
    int rc = real->ops->place(real, &r, client_id);
    es->e->placing_owner = saved;
    return rc;
}

static int px_cancel(struct clb_connector *c, const char *market, const char *client_id)
{
    struct clb_connector *real = px_real(c);
    return real->ops->cancel(real, market, client_id);
}

static const struct clb_order_book *px_book(struct clb_connector *c, const char *market)
{
    struct clb_connector *real = px_real(c);
    return real->ops->book(real, market);
}

static const struct clb_market_rules *px_rules(struct clb_connector *c, const char *market)
{
    struct clb_connector *real = px_real(c);
    return real->ops->rules(real, market);
}

static int px_balance(struct clb_connector *c, const char *asset, clb_dec *total,
                      clb_dec *available)
{
    struct clb_connector *real = px_real(c);
    return real->ops->balance(real, asset, total, available);
}

static int px_fees(struct clb_connector *c, const char *market, double *maker, double *taker)
{
    struct clb_connector *real = px_real(c);
    return real->ops->fees(real, market, maker, taker);
}

static const struct clb_order_tracker *px_tracker(struct clb_connector *c)
{
    struct clb_connector *real = px_real(c);
    return real->ops->tracker(real);
}

static void px_status(struct clb_connector *c, struct clb_connector_status *out)
{
    struct clb_connector *real = px_real(c);
    real->ops->status(real, out);
}

static void px_destroy(struct clb_connector *c)
{
    (void)c; /* owned by its eng_strategy */
}

static const struct clb_connector_ops proxy_ops = {
    .type = "proxy",
    .place = px_place,
    .cancel = px_cancel,
    .book = px_book,
    .rules = px_rules,
    .balance = px_balance,
    .fees = px_fees,
    .tracker = px_tracker,
    .status = px_status,
    .destroy = px_destroy,
};

static const struct clb_time_iterator_ops proxy_it_ops = { .name = "proxy" };

static void proxy_init(struct eng_strategy *es, struct eng_proxy *p, struct eng_conn *ec)
{
    memset(p, 0, sizeof(*p));
    clb_time_iterator_init(&p->base.it, &proxy_it_ops);
    p->base.ops = &proxy_ops;
    memcpy(p->base.name, ec->name, sizeof(p->base.name));
    p->base.bus = &ec->bus;
    p->es = es;
    p->ec = ec;
}

/* ------------------------------------------------------------------------ */
/* Snapshot builders (worker)                                                */
/* ------------------------------------------------------------------------ */

static const char *state_name(enum eng_state s)
{
    return s == ES_RUNNING ? "running" : s == ES_STOPPING ? "stopping" : "stopped";
}

static json_t *conn_status_json(struct eng_conn *ec, bool *ready)
{
    struct clb_connector_status st;
    ec->conn->ops->status(ec->conn, &st);
    *ready = st.symbols_mapped && st.order_books_ready && st.balances_ready &&
             st.trading_rules_ready && st.user_stream_ready;
    json_t *j = json_object();
    json_object_set_new(j, "symbols_mapped", json_boolean(st.symbols_mapped));
    json_object_set_new(j, "order_books_ready", json_boolean(st.order_books_ready));
    json_object_set_new(j, "balances_ready", json_boolean(st.balances_ready));
    json_object_set_new(j, "trading_rules_ready", json_boolean(st.trading_rules_ready));
    json_object_set_new(j, "user_stream_ready", json_boolean(st.user_stream_ready));
    return j;
}

static json_t *build_status(struct clb_engine *e)
{
    json_t *j = json_object();
    json_object_set_new(j, "version", json_string(COLIBRI_VERSION));
    json_object_set_new(j, "uptime_s", json_real((double)(mono_ns() - e->start_mono_ns) / 1e9));
    json_object_set_new(j, "started_ms", json_integer(to_ms(e->started_ns)));
    json_object_set_new(j, "state", json_string(state_name(e->state)));
    json_t *c = json_object();
    json_object_set_new(c, "mode", json_string(clb_clock_mode_name(e->clock.mode)));
    json_object_set_new(c, "tick_ms", json_integer(e->cfg.tick_ms));
    json_object_set_new(c, "now_ms", json_integer(to_ms(e->now_ns)));
    json_object_set_new(c, "ticks", json_integer((json_int_t)e->clock.tick_count));
    json_object_set_new(c, "ticks_skipped", json_integer((json_int_t)e->clock.ticks_skipped));
    json_object_set_new(c, "hook_errors", json_integer((json_int_t)e->clock.hook_errors));
    json_object_set_new(j, "clock", c);
    json_t *cs = json_array();
    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
        json_t *o = json_object();
        bool ready;
        json_t *st = conn_status_json(ec, &ready);
        json_object_set_new(o, "name", json_string(ec->name));
        json_object_set_new(o, "type", json_string(ec->conn->ops->type));
        json_object_set_new(o, "ready", json_boolean(ready));
        json_object_set_new(o, "status", st);
        json_array_append_new(cs, o);
    }
    json_object_set_new(j, "connectors", cs);
    size_t running = 0;
    for (size_t i = 0; i < e->n_strats; i++)
        running += e->strats[i]->state == SS_RUNNING;
    json_t *s = json_object();
    json_object_set_new(s, "total", json_integer((json_int_t)e->n_strats));
    json_object_set_new(s, "running", json_integer((json_int_t)running));
    json_object_set_new(j, "strategies", s);
    json_t *w = json_object();
    json_object_set_new(w, "busy_poll", json_boolean(e->cfg.busy_poll));
    json_object_set_new(w, "cpu", e->worker_cpu >= 0 ? json_integer(e->worker_cpu) : json_null());
    json_object_set_new(w, "loop_passes", json_integer((json_int_t)e->loop_passes));
    json_object_set_new(j, "worker", w);
    if (e->sw) {
        struct clb_store_writer_status ws;
        clb_store_writer_status(e->sw, &ws);
        json_t *st = json_object();
        json_object_set_new(st, "backend", json_string(e->store_backend));
        json_object_set_new(st, "connected", json_boolean(ws.connected));
        json_object_set_new(st, "available", json_boolean(ws.available));
        json_object_set_new(st, "queued", json_integer((json_int_t)ws.queued));
        json_object_set_new(st, "written", json_integer((json_int_t)ws.written));
        json_object_set_new(st, "spilled", json_integer((json_int_t)ws.spilled));
        json_object_set_new(st, "failed", json_integer((json_int_t)ws.failed));
        json_object_set_new(j, "store", st);
    }
    return j;
}

#ifdef COLIBRI_HAVE_BINANCE
/* Integer counters into stats (the API's Connector schema: integers
 * only); the stream flags and the tick-to-order summary beside it, into o. */
static void binance_stats_json(struct eng_conn *ec, json_t *o, json_t *sj)
{
    struct clb_binance_stats st;
    clb_binance_stats(ec->binance, &st);
    static const struct {
        const char *name;
        size_t off;
    } counters[] = {
#define BS(f) { #f, offsetof(struct clb_binance_stats, f) }
        BS(rest_requests),  BS(rest_errors),       BS(rest_5xx),          BS(rest_timeouts),
        BS(rest_throttled), BS(throttle_waits),    BS(time_syncs),        BS(orders_placed),
        BS(orders_rejected), BS(orders_unknown),   BS(orders_lost),       BS(cancels_sent),
        BS(cancel_unknown), BS(status_queries),    BS(not_found),         BS(fills),
        BS(fill_duplicates), BS(orphans_adopted),  BS(depth_msgs),        BS(book_resyncs),
        BS(snapshots),      BS(market_reconnects), BS(user_reconnects),   BS(server_shutdowns),
        BS(user_events),    BS(bad_messages),
#undef BS
    };
    json_t *streams = json_object();
    json_object_set_new(streams, "market", json_boolean(st.market_stream_up));
    json_object_set_new(streams, "user", json_boolean(st.user_stream_up));
    json_object_set_new(o, "streams", streams);
    for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]); k++) {
        uint64_t v;
        memcpy(&v, (const char *)&st + counters[k].off, sizeof(v));
        json_object_set_new(sj, counters[k].name, json_integer((json_int_t)v));
    }
    const struct clb_binance_latency *h = &st.tick_to_order;
    json_t *t = json_object();
    json_object_set_new(t, "count", json_integer((json_int_t)h->count));
    json_object_set_new(t, "p50_us", jnum(clb_binance_latency_quantile(h, 0.5) / 1e3));
    json_object_set_new(t, "p99_us", jnum(clb_binance_latency_quantile(h, 0.99) / 1e3));
    json_object_set_new(t, "max_us", jnum((double)h->max_ns / 1e3));
    json_object_set_new(o, "tick_to_order", t);
}
#endif

static const char *conn_source(const struct eng_conn *ec)
{
    return ec->type == CT_PAPER ? "sim" : "exchange";
}

/* The connector's own figures into o: "stats" (integers) from the paper
 * venue or an exchange connector (requests, reconnects, resyncs...), and
 * an exchange connector's "streams" and "tick_to_order". */
static void conn_stats_json(struct eng_conn *ec, json_t *o)
{
    json_t *sj = json_object();
    if (ec->paper) {
        struct clb_paper_stats ps;
        clb_paper_stats(ec->paper, &ps);
        json_object_set_new(sj, "records", json_integer((json_int_t)ps.records));
        json_object_set_new(sj, "fills", json_integer((json_int_t)ps.fills));
        json_object_set_new(sj, "orders_submitted", json_integer((json_int_t)ps.orders_submitted));
        json_object_set_new(sj, "orders_rejected", json_integer((json_int_t)ps.orders_rejected));
        json_object_set_new(sj, "cancels", json_integer((json_int_t)ps.cancels));
    }
#ifdef COLIBRI_HAVE_BINANCE
    if (ec->binance)
        binance_stats_json(ec, o, sj);
#endif
    json_object_set_new(o, "stats", sj);
}

static json_t *build_connectors(struct clb_engine *e)
{
    json_t *a = json_array();
    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
        json_t *o = json_object();
        bool ready;
        json_t *st = conn_status_json(ec, &ready);
        json_object_set_new(o, "name", json_string(ec->name));
        json_object_set_new(o, "type", json_string(ec->conn->ops->type));
        json_object_set_new(o, "source", json_string(conn_source(ec)));
        json_t *mk = json_array();
        for (uint32_t m = 0; m < ec->n_markets; m++)
            json_array_append_new(mk, json_string(ec->markets[m].symbol));
        json_object_set_new(o, "markets", mk);
        json_object_set_new(o, "ready", json_boolean(ready));
        json_object_set_new(o, "status", st);
        double maker = ec->maker_fee, taker = ec->taker_fee;
        bool fees = ec->paper || (ec->conn->ops->fees &&
                                  ec->conn->ops->fees(ec->conn, ec->markets[0].symbol, &maker,
                                                      &taker) == CLB_OK);
        if (fees) { /* an exchange's are known once it answered */
            json_object_set_new(o, "maker_fee", jnum(maker));
            json_object_set_new(o, "taker_fee", jnum(taker));
        }
        if (ec->paper)
            json_object_set_new(o, "latency_ms", json_integer(ec->latency_ms));
        conn_stats_json(ec, o);
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *build_balances(struct clb_engine *e)
{
    json_t *a = json_array();
    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
        for (uint32_t k = 0; k < ec->n_assets; k++) {
            clb_dec total, avail, locked;
            ec->conn->ops->balance(ec->conn, ec->assets[k], &total, &avail);
            if (clb_dec_sub(total, avail, &locked) != CLB_OK)
                locked = clb_dec_make(0, 0);
            json_t *o = json_object();
            json_object_set_new(o, "connector", json_string(ec->name));
            json_object_set_new(o, "asset", json_string(ec->assets[k]));
            json_object_set_new(o, "total", jdec(total));
            json_object_set_new(o, "available", jdec(avail));
            json_object_set_new(o, "locked", jdec(locked));
            json_array_append_new(a, o);
        }
    }
    return a;
}

static json_t *build_strategies(struct clb_engine *e)
{
    json_t *a = json_array();
    for (size_t i = 0; i < e->n_strats; i++)
        json_array_append_new(a, strategy_json(e, e->strats[i]));
    return a;
}

static json_t *build_orders(struct clb_engine *e)
{
    json_t *a = json_array();
    for (size_t i = 0; i < e->n_live; i++)
        json_array_append_new(a, order_json(e, &e->live[i]));
    for (size_t i = 0; i < e->fin_n; i++)
        json_array_append_new(a, order_json(e, fin_at(e, i)));
    return a;
}

static json_t *build_trades(struct clb_engine *e)
{
    json_t *a = json_array();
    for (size_t i = 0; i < e->tr_n; i++)
        json_array_append_new(a, trade_json(e, trade_at(e, i)));
    return a;
}

struct perf_view {
    struct clb_perf perf;
    double price, unrealized;
};

static void perf_view(struct eng_strategy *es, struct perf_view *v)
{
    const struct eng_perf *pf = &es->pf;
    double price = market_mid(es->ec, es->market);
    struct clb_perf_input in = {
        .start_base = pf->start_base,
        .start_quote = pf->start_quote,
        .cur_base = pf->start_base + pf->base_delta,
        .cur_quote = pf->start_quote + pf->quote_delta,
        .price = isfinite(price) ? price : 0.0,
        .fees_quote = pf->fees_quote,
    };
    clb_perf_compute(&in, &v->perf);
    v->price = price;
    v->unrealized = isfinite(price) && pf->pos != 0.0 ? pf->pos * (price - pf->avg_cost) : 0.0;
}

static json_t *build_performance(struct clb_engine *e)
{
    json_t *o = json_object();
    for (size_t i = 0; i < e->n_strats; i++) {
        struct eng_strategy *es = e->strats[i];
        struct perf_view v;
        perf_view(es, &v);
        json_t *j = json_object();
        json_object_set_new(j, "strategy", json_string(es->name));
        json_object_set_new(j, "market", json_string(es->ec->markets[es->market].symbol));
        json_object_set_new(j, "hold_value", jnum(v.perf.hold_value));
        json_object_set_new(j, "current_value", jnum(v.perf.current_value));
        json_object_set_new(j, "trade_pnl", jnum(v.perf.trade_pnl));
        json_object_set_new(j, "fees_quote", jnum(v.perf.fees_quote));
        json_object_set_new(j, "total_pnl", jnum(v.perf.total_pnl));
        json_object_set_new(j, "return_pct", jnum(v.perf.return_pct));
        json_object_set_new(j, "realized_pnl", jnum(es->pf.realized));
        json_object_set_new(j, "unrealized_pnl", jnum(v.unrealized));
        json_object_set_new(j, "inventory_base", jnum(es->pf.base_delta));
        json_object_set_new(j, "fills", json_integer((json_int_t)es->pf.fills));
        json_object_set_new(j, "volume_quote", jnum(es->pf.volume_quote));
        json_object_set_new(j, "price", jnum(v.price));
        char key[16];
        snprintf(key, sizeof(key), "%" PRIu32, es->id);
        json_object_set_new(o, key, j);
    }
    return o;
}

static json_t *build_book(struct clb_engine *e, struct eng_conn *ec, uint32_t m)
{
    struct eng_market *mk = &ec->markets[m];
    const struct clb_order_book *b = market_book(ec, m);
    const struct clb_market_rules *r = market_rules(ec, m);
    if (!r)
        b = NULL; /* no scales yet: an empty book */
    json_t *j = json_object();
    json_object_set_new(j, "connector", json_string(ec->name));
    json_object_set_new(j, "market", json_string(mk->symbol));
    for (int s = 0; s < 2; s++) {
        json_t *a = json_array();
        enum clb_side side = s == 0 ? CLB_SIDE_BUY : CLB_SIDE_SELL;
        struct clb_level lv[CLB_ENGINE_BOOK_DEPTH];
        size_t n = b ? clb_book_top(b, side, lv, CLB_ENGINE_BOOK_DEPTH) : 0;
        for (size_t i = 0; i < n; i++) {
            json_t *l = json_array();
            json_array_append_new(l, jscaled(lv[i].price, r->price_scale));
            json_array_append_new(l, jscaled(lv[i].qty, r->qty_scale));
            json_array_append_new(a, l);
        }
        json_object_set_new(j, s == 0 ? "bids" : "asks", a);
    }
    json_object_set_new(j, "update_id", json_integer((json_int_t)mk->updates));
    json_object_set_new(j, "ts_ms", json_integer(to_ms(e->now_ns)));
    return j;
}

/* ---- metrics ---- */

static json_t *labels(const char *k1, const char *v1, const char *k2, const char *v2,
                      const char *k3, const char *v3)
{
    json_t *l = json_object();
    if (k1)
        json_object_set_new(l, k1, json_string(v1));
    if (k2)
        json_object_set_new(l, k2, json_string(v2));
    if (k3)
        json_object_set_new(l, k3, json_string(v3));
    return l;
}

static void metric(json_t *arr, const char *name, const char *help, json_t *lab, double value)
{
    json_t *m = json_object();
    json_object_set_new(m, "name", json_string(name));
    json_object_set_new(m, "help", json_string(help));
    json_object_set_new(m, "labels", lab ? lab : json_object());
    json_object_set_new(m, "value", isfinite(value) ? json_real(value) : json_real(0.0));
    json_array_append_new(arr, m);
}

#ifdef COLIBRI_HAVE_BINANCE
/* Book resyncs are counted per connector (binance.h): one series without a
 * market label. */
static uint64_t binance_resyncs(struct eng_conn *ec)
{
    struct clb_binance_stats st;
    clb_binance_stats(ec->binance, &st);
    return st.book_resyncs;
}

static uint64_t binance_reconnects(struct eng_conn *ec)
{
    struct clb_binance_stats st;
    clb_binance_stats(ec->binance, &st);
    return st.market_reconnects + st.user_reconnects;
}

static void binance_metrics(struct eng_conn *ec, json_t *counters, json_t *gauges, json_t *hists)
{
    struct clb_binance_stats st;
    clb_binance_stats(ec->binance, &st);
    const char *c = ec->name;
    metric(counters, "colibri_exchange_requests_total", "REST requests sent to the exchange",
           labels("connector", c, NULL, NULL, NULL, NULL), (double)st.rest_requests);
    static const char *const kinds[] = { "error", "5xx", "timeout", "throttled" };
    uint64_t kv[] = { st.rest_errors, st.rest_5xx, st.rest_timeouts, st.rest_throttled };
    for (size_t k = 0; k < 4; k++)
        metric(counters, "colibri_exchange_request_failures_total",
               "REST requests answered with an error, 5xx, none (timeout) or a rate limit",
               labels("connector", c, "kind", kinds[k], NULL, NULL), (double)kv[k]);
    metric(counters, "colibri_orders_unknown_total",
           "Order creates whose outcome was unknown (timeout or 5xx) until resolved",
           labels("connector", c, NULL, NULL, NULL, NULL), (double)st.orders_unknown);
    metric(counters, "colibri_orders_lost_total",
           "Orders declared lost after repeated definite not-found answers",
           labels("connector", c, NULL, NULL, NULL, NULL), (double)st.orders_lost);
    metric(counters, "colibri_time_syncs_total", "Server clock synchronisations",
           labels("connector", c, NULL, NULL, NULL, NULL), (double)st.time_syncs);
    metric(gauges, "colibri_stream_up", "1 while the exchange stream is connected",
           labels("connector", c, "stream", "market", NULL, NULL), st.market_stream_up ? 1 : 0);
    metric(gauges, "colibri_stream_up", "1 while the exchange stream is connected",
           labels("connector", c, "stream", "user", NULL, NULL), st.user_stream_up ? 1 : 0);
    const struct clb_binance_latency *lat = &st.tick_to_order;
    json_t *h = json_object();
    json_object_set_new(h, "name", json_string("colibri_tick_to_order_seconds"));
    json_object_set_new(h, "help", json_string("From a market-data frame read to the order "
                                               "request it caused written to the socket"));
    json_object_set_new(h, "labels", labels("connector", c, NULL, NULL, NULL, NULL));
    json_t *b = json_array();
    uint64_t cum = 0;
    for (size_t i = 0; i + 1 < CLB_BINANCE_LAT_BUCKETS; i++) {
        cum += lat->buckets[i];
        json_t *pair = json_array();
        json_array_append_new(pair, json_real((double)clb_binance_lat_bounds_ns[i] / 1e9));
        json_array_append_new(pair, json_integer((json_int_t)cum));
        json_array_append_new(b, pair);
    }
    json_object_set_new(h, "buckets", b);
    json_object_set_new(h, "sum", json_real((double)lat->sum_ns / 1e9));
    json_object_set_new(h, "count", json_integer((json_int_t)lat->count));
    json_array_append_new(hists, h);
}
#endif

static void side_counters(json_t *arr, struct clb_engine *e, const char *name, const char *help,
                          size_t off)
{
    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
        for (uint32_t m = 0; m < ec->n_markets; m++) {
            const uint64_t *v = (const uint64_t *)((const char *)&ec->markets[m] + off);
            for (int s = 0; s < 2; s++)
                metric(arr, name, help,
                       labels("connector", ec->name, "market", ec->markets[m].symbol, "side",
                              s == 0 ? "buy" : "sell"),
                       (double)v[s]);
        }
    }
}

/* Stream reconnections of a connector (0 for the paper venue). */
static uint64_t conn_reconnects(struct eng_conn *ec)
{
#ifdef COLIBRI_HAVE_BINANCE
    if (ec->binance)
        return binance_reconnects(ec);
#endif
    (void)ec;
    return 0;
}

static json_t *strategy_labels(const struct eng_strategy *es)
{
    char id[16];
    snprintf(id, sizeof(id), "%" PRIu32, es->id);
    return labels("strategy_id", id, "strategy", es->name, "market",
                  es->ec->markets[es->market].symbol);
}

static json_t *build_metrics(struct clb_engine *e)
{
    json_t *counters = json_array(), *gauges = json_array(), *hists = json_array();
    side_counters(counters, e, "colibri_orders_placed_total", "Orders placed (tracked)",
                  offsetof(struct eng_market, placed));
    side_counters(counters, e, "colibri_orders_cancelled_total", "Orders cancelled",
                  offsetof(struct eng_market, cancelled));
    side_counters(counters, e, "colibri_orders_rejected_total", "Orders rejected or failed",
                  offsetof(struct eng_market, rejected));
    side_counters(counters, e, "colibri_orders_filled_total", "Orders completely filled",
                  offsetof(struct eng_market, completed));
    side_counters(counters, e, "colibri_fills_total", "Fills of our orders",
                  offsetof(struct eng_market, fills));
    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
#ifdef COLIBRI_HAVE_BINANCE
        if (ec->binance) {
            metric(counters, "colibri_book_resyncs_total", "Order book resynchronisations",
                   labels("connector", ec->name, NULL, NULL, NULL, NULL),
                   (double)binance_resyncs(ec));
            continue;
        }
#endif
        for (uint32_t m = 0; m < ec->n_markets; m++)
            metric(counters, "colibri_book_resyncs_total", "Order book resynchronisations",
                   labels("connector", ec->name, "market", ec->markets[m].symbol, NULL,
                          NULL),
                   0.0);
    }
    for (size_t i = 0; i < e->n_conns; i++)
        metric(counters, "colibri_reconnects_total", "Exchange stream reconnections",
               labels("connector", e->conns[i].name, NULL, NULL, NULL, NULL),
               (double)conn_reconnects(&e->conns[i]));
#ifdef COLIBRI_HAVE_BINANCE
    for (size_t i = 0; i < e->n_conns; i++)
        if (e->conns[i].binance)
            binance_metrics(&e->conns[i], counters, gauges, hists);
#endif
    metric(counters, "colibri_ticks_total", "Clock ticks delivered", NULL,
           (double)e->clock.tick_count);
    metric(counters, "colibri_ticks_skipped_total", "Clock ticks collapsed after a stall", NULL,
           (double)e->clock.ticks_skipped);
    for (size_t i = 0; i < e->n_strats; i++)
        metric(counters, "colibri_strategy_errors_total", "Failed strategy hook calls",
               strategy_labels(e->strats[i]), (double)e->strats[i]->s->it.errors);
    pthread_mutex_lock(&e->feed_mu);
    double dropped = (double)e->feed_dropped;
    pthread_mutex_unlock(&e->feed_mu);
    metric(counters, "colibri_events_dropped_total", "Events dropped from the stream feed", NULL,
           dropped);
    struct clb_store_writer_status ws;
    if (e->sw) {
        clb_store_writer_status(e->sw, &ws);
        metric(counters, "colibri_store_written_total", "Records committed to the store", NULL,
               (double)ws.written);
        metric(counters, "colibri_store_spilled_total",
               "Records written to the spill file while the store was behind", NULL,
               (double)ws.spilled);
    }

    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
        for (uint32_t k = 0; k < ec->n_assets; k++) {
            clb_dec total, avail;
            ec->conn->ops->balance(ec->conn, ec->assets[k], &total, &avail);
            metric(gauges, "colibri_balance", "Total balance",
                   labels("connector", ec->name, "asset", ec->assets[k], NULL, NULL),
                   clb_dec_to_double(total));
            metric(gauges, "colibri_balance_available", "Balance not locked by open orders",
                   labels("connector", ec->name, "asset", ec->assets[k], NULL, NULL),
                   clb_dec_to_double(avail));
        }
        for (uint32_t m = 0; m < ec->n_markets; m++) {
            size_t open = 0;
            for (size_t k = 0; k < e->n_live; k++)
                open += e->live[k].conn == ec->idx && e->live[k].market == m;
            metric(gauges, "colibri_open_orders", "Live orders",
                   labels("connector", ec->name, "market", ec->markets[m].symbol, NULL,
                          NULL),
                   (double)open);
        }
        bool ready = clb_connector_ready(ec->conn);
        metric(gauges, "colibri_connector_ready", "1 when the connector is ready to trade",
               labels("connector", ec->name, NULL, NULL, NULL, NULL), ready ? 1.0 : 0.0);
    }
    for (size_t i = 0; i < e->n_strats; i++) {
        struct eng_strategy *es = e->strats[i];
        struct perf_view v;
        perf_view(es, &v);
        metric(gauges, "colibri_strategy_running", "1 while the strategy runs",
               strategy_labels(es), es->state == SS_RUNNING ? 1.0 : 0.0);
        metric(gauges, "colibri_strategy_inventory_base",
               "Base bought minus sold by the strategy's fills", strategy_labels(es),
               es->pf.base_delta);
        metric(gauges, "colibri_strategy_realized_pnl", "Realized PnL in quote (average cost)",
               strategy_labels(es), es->pf.realized);
        metric(gauges, "colibri_strategy_unrealized_pnl", "Unrealized PnL in quote at the mid",
               strategy_labels(es), v.unrealized);
    }
    metric(gauges, "colibri_build_info", "Build information",
           labels("version", COLIBRI_VERSION, NULL, NULL, NULL, NULL), 1.0);
    metric(gauges, "colibri_uptime_seconds", "Seconds since the engine started", NULL,
           (double)(mono_ns() - e->start_mono_ns) / 1e9);
    if (e->sw) {
        metric(gauges, "colibri_store_available",
               "1 when the store keeps up (new orders are accepted)", NULL,
               ws.available ? 1.0 : 0.0);
        metric(gauges, "colibri_store_queued", "Records waiting to be written to the store", NULL,
               (double)ws.queued);
    }

    json_t *h = json_object();
    json_object_set_new(h, "name", json_string("colibri_tick_duration_seconds"));
    json_object_set_new(h, "help", json_string("Duration of one clock tick (all iterators)"));
    json_object_set_new(h, "labels", json_object());
    json_t *b = json_array();
    uint64_t cum = 0;
    for (size_t i = 0; i < N_TICK_BUCKETS; i++) {
        cum += e->tick_counts[i];
        json_t *pair = json_array();
        json_array_append_new(pair, json_real(tick_buckets[i]));
        json_array_append_new(pair, json_integer((json_int_t)cum));
        json_array_append_new(b, pair);
    }
    json_object_set_new(h, "buckets", b);
    json_object_set_new(h, "sum", json_real(e->tick_sum_s));
    json_object_set_new(h, "count", json_integer((json_int_t)e->tick_count));
    json_array_append_new(hists, h);

    json_t *j = json_object();
    json_object_set_new(j, "counters", counters);
    json_object_set_new(j, "gauges", gauges);
    json_object_set_new(j, "histograms", hists);
    return j;
}

/* ---- publication ---- */

static void publish_fast(struct clb_engine *e)
{
    if (e->orders_dirty) {
        snap_publish(e, SNAP_ORDERS, build_orders(e));
        snap_publish(e, SNAP_BALANCES, build_balances(e));
        snap_publish(e, SNAP_METRICS, build_metrics(e));
        e->orders_dirty = false;
    }
    if (e->trades_dirty) {
        snap_publish(e, SNAP_TRADES, build_trades(e));
        snap_publish(e, SNAP_PERFORMANCE, build_performance(e));
        e->trades_dirty = false;
    }
    e->last_fast_mono = mono_ns();
}

static void publish_all(struct clb_engine *e)
{
    e->orders_dirty = e->trades_dirty = true;
    publish_fast(e);
    snap_publish(e, SNAP_STATUS, build_status(e));
    snap_publish(e, SNAP_CONNECTORS, build_connectors(e));
    snap_publish(e, SNAP_STRATEGIES, build_strategies(e));
}

static void publish_status_event(struct clb_engine *e)
{
    json_t *st = build_status(e);
    if (!st)
        return;
    snap_publish(e, SNAP_STATUS, json_incref(st));
    feed_append(e, "status", "status", st, to_ms(e->now_ns));
    e->last_status_mono = mono_ns();
}

static void publish_book(struct clb_engine *e, struct eng_conn *ec, uint32_t m, int64_t mono)
{
    struct eng_market *mk = &ec->markets[m];
    json_t *b = build_book(e, ec, m);
    if (!b)
        return;
    snap_publish(e, mk->slot, json_incref(b));
    feed_append(e, mk->topic, "book", b, to_ms(e->now_ns));
    mk->pub_updates = mk->updates;
    mk->last_pub_mono = mono;
}

/* ------------------------------------------------------------------------ */
/* Commands (worker)                                                         */
/* ------------------------------------------------------------------------ */

/* Refuses keys outside `allowed` (NULL-terminated). */
static int check_keys(json_t *params, const char *const *allowed, char *err, size_t errlen)
{
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v) {
        bool ok = false;
        for (size_t i = 0; allowed[i]; i++)
            ok = ok || strcmp(allowed[i], k) == 0;
        if (!ok) {
            char list[256];
            size_t used = 0;
            list[0] = '\0';
            for (size_t i = 0; allowed[i] && used < sizeof(list); i++) {
                int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                 allowed[i]);
                if (w < 0)
                    break;
                used += (size_t)w;
            }
            return clb_errf(err, errlen, CLB_EINVAL, "%.64s: unknown field (expected: %s)", k, list);
        }
    }
    return CLB_OK;
}

/* Optional string field: NULL when absent, CLB_EINVAL when not a string. */
static int get_str(json_t *params, const char *key, bool required, const char **out, char *err,
                   size_t errlen)
{
    json_t *v = json_object_get(params, key);
    *out = NULL;
    if (!v) {
        if (required)
            return clb_errf(err, errlen, CLB_EINVAL, "%s: required", key);
        return CLB_OK;
    }
    if (!json_is_string(v))
        return clb_errf(err, errlen, CLB_EINVAL, "%s: must be a string, not %s", key,
                     clb_json_type_name(v));
    *out = json_string_value(v);
    return CLB_OK;
}

static int get_strategy(struct clb_engine *e, json_t *params, struct eng_strategy **out,
                        char *err, size_t errlen)
{
    json_t *v = json_object_get(params, "id");
    long long id = -1;
    if (!v)
        return clb_errf(err, errlen, CLB_EINVAL, "id: required");
    if (json_is_integer(v)) {
        id = json_integer_value(v);
    } else if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        bool digits = n > 0 && n <= 10;
        for (size_t i = 0; i < n && digits; i++)
            digits = s[i] >= '0' && s[i] <= '9';
        if (digits)
            id = strtoll(s, NULL, 10);
    } else {
        return clb_errf(err, errlen, CLB_EINVAL, "id: must be a positive integer, not %s",
                     clb_json_type_name(v));
    }
    if (id <= 0 || id > (long long)UINT32_MAX)
        return clb_errf(err, errlen, CLB_EINVAL, "id: must be a positive integer");
    *out = strat_find(e, (uint32_t)id);
    if (!*out)
        return clb_errf(err, errlen, CLB_ENOTFOUND, "id: no strategy %lld", id);
    return CLB_OK;
}

/* Shortest "%.Ng" that reads back as the same double. */
static void format_double(double x, char *buf, size_t cap)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            return;
    }
}

/* Converts a JSON value to the text clb_params_set parses, by the declared
 * type; a wrong JSON type is CLB_EINVAL naming the key. */
static int param_text(const struct clb_param_spec *p, json_t *v, char *buf, size_t cap,
                      char *err, size_t errlen)
{
    switch (p->type) {
    case CLB_PARAM_DOUBLE:
        if (json_is_integer(v)) {
            snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            return CLB_OK;
        }
        if (json_is_real(v)) {
            format_double(json_real_value(v), buf, cap);
            return CLB_OK;
        }
        return clb_errf(err, errlen, CLB_EINVAL, "params.%s: expected a number, not %s", p->name,
                     clb_json_type_name(v));
    case CLB_PARAM_INT:
        if (json_is_integer(v)) {
            snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            return CLB_OK;
        }
        if (json_is_real(v) && isfinite(json_real_value(v)) &&
            json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 1e15) {
            snprintf(buf, cap, "%.0f", json_real_value(v));
            return CLB_OK;
        }
        return clb_errf(err, errlen, CLB_EINVAL, "params.%s: expected an integer, not %s", p->name,
                     json_is_real(v) ? "a fractional number" : clb_json_type_name(v));
    case CLB_PARAM_BOOL:
        if (json_is_boolean(v)) {
            snprintf(buf, cap, "%s", json_is_true(v) ? "true" : "false");
            return CLB_OK;
        }
        return clb_errf(err, errlen, CLB_EINVAL, "params.%s: expected true or false, not %s",
                     p->name, clb_json_type_name(v));
    case CLB_PARAM_ENUM:
    case CLB_PARAM_STRING:
        if (json_is_string(v)) {
            if (strlen(json_string_value(v)) >= cap)
                return clb_errf(err, errlen, CLB_EINVAL, "params.%s: value too long", p->name);
            snprintf(buf, cap, "%s", json_string_value(v));
            return CLB_OK;
        }
        return clb_errf(err, errlen, CLB_EINVAL, "params.%s: expected a string, not %s", p->name,
                     clb_json_type_name(v));
    }
    return clb_errf(err, errlen, CLB_EINVAL, "params.%s: unsupported parameter type", p->name);
}

/* Applies a JSON params object onto cfg (all or nothing: cfg is changed
 * only when every key is valid). */
static int apply_params(const struct clb_strategy_ops *ops, void *cfg, json_t *params, char *err,
                        size_t errlen)
{
    if (!params)
        return CLB_OK;
    if (!json_is_object(params))
        return clb_errf(err, errlen, CLB_EINVAL, "params: must be an object, not %s",
                     clb_json_type_name(params));
    size_t sz = ops->config_size ? ops->config_size : 1;
    void *tmp = malloc(sz);
    if (!tmp)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    memcpy(tmp, cfg, sz);
    int rc = CLB_OK;
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v) {
        const struct clb_param_spec *p = clb_params_find(ops->params, ops->n_params, k);
        if (!p) {
            rc = clb_errf(err, errlen, CLB_EINVAL, "params.%.64s: unknown parameter of %s", k,
                       ops->type);
            break;
        }
        char text[128], why[200];
        if ((rc = param_text(p, v, text, sizeof(text), err, errlen)) != CLB_OK)
            break;
        if (clb_params_set(ops->params, ops->n_params, tmp, k, text, why, sizeof(why)) != CLB_OK) {
            rc = clb_errf(err, errlen, CLB_EINVAL, "params.%s", why);
            break;
        }
    }
    if (rc == CLB_OK)
        memcpy(cfg, tmp, sz);
    free(tmp);
    return rc;
}

/* The strategy's row of the strategies table: who it is, its status
 * ("created", "running", "stopped", or what status says: "deleted", or
 * "running" for one stopped by the engine's shutdown, which the next start
 * resumes), its parameters and, as its state, its figures plus, for a
 * two-venue strategy, connector_2 and market_2 (what a resume needs).
 * Written at every change of status or parameters (commands, not the hot
 * path). */
static void store_strategy(struct clb_engine *e, const struct eng_strategy *es,
                           const char *status)
{
    if (!e->sw)
        return;
    struct clb_store_rec r;
    memset(&r, 0, sizeof(r));
    r.type = CLB_STORE_REC_STRATEGY;
    struct clb_store_strategy *st = &r.u.strategy;
    snprintf(st->id, sizeof(st->id), "%" PRIu32, es->id);
    json_t *cfg = params_json(es->ops, es->ops->config ? es->ops->config(es->s) : NULL);
    json_t *state = strategy_metrics_json(es);
    if (state && es->ec2) {
        json_object_set_new(state, "connector_2", json_string(es->ec2->name));
        json_object_set_new(state, "market_2",
                            json_string(es->ec2->markets[es->market2].symbol));
    }
    char *c = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
    char *sj = state ? json_dumps(state, JSON_COMPACT) : NULL;
    if (clb_store_strlcpy(st->name, sizeof(st->name), es->name) == CLB_OK &&
        clb_store_strlcpy(st->type, sizeof(st->type), es->ops->type) == CLB_OK &&
        clb_store_strlcpy(st->connector, sizeof(st->connector), es->ec->name) == CLB_OK &&
        clb_store_strlcpy(st->market, sizeof(st->market),
                          es->ec->markets[es->market].symbol) == CLB_OK &&
        clb_store_strlcpy(st->status, sizeof(st->status),
                          status ? status : sstate_name(es->state)) == CLB_OK) {
        st->config_json = c ? c : "{}";
        st->state_json = sj ? sj : "{}";
        st->created_ms = (int64_t)to_ms(es->created_ns);
        st->updated_ms = (int64_t)to_ms(wall_now(e));
        store_put(e, &r);
    }
    free(c);
    free(sj);
    json_decref(cfg);
    json_decref(state);
}

static int strat_start(struct clb_engine *e, struct eng_strategy *es, char *err, size_t errlen)
{
    const struct eng_market *r = &es->ec->markets[es->market];
    if (!es->ec->paper && !clb_connector_ready(es->ec->conn))
        return clb_errf(err, errlen, CLB_ENOTREADY,
                        "connector \"%s\" is not ready yet (see its status): start the strategy "
                        "when it is", es->ec->name);
    if (es->ec2 && !es->ec2->paper && !clb_connector_ready(es->ec2->conn))
        return clb_errf(err, errlen, CLB_ENOTREADY,
                        "connector \"%s\" (connector_2) is not ready yet (see its status): start "
                        "the strategy when it is", es->ec2->name);
    if (!es->pf.have_start) {
        clb_dec total, avail;
        es->ec->conn->ops->balance(es->ec->conn, r->base, &total, &avail);
        es->pf.start_base = clb_dec_to_double(total);
        es->ec->conn->ops->balance(es->ec->conn, r->quote, &total, &avail);
        es->pf.start_quote = clb_dec_to_double(total);
        es->pf.have_start = true;
    }
    int rc = clb_clock_add(&e->clock, &es->s->it);
    if (rc != CLB_OK)
        return clb_errf(err, errlen, rc == CLB_EFULL ? CLB_EFULL : CLB_ESTATE,
                     "strategy %" PRIu32 " failed to start: %s", es->id, clb_strerror(rc));
    es->state = SS_RUNNING;
    es->started_ns = e->now_ns;
    es->stopped_ns = 0;
    LOGI(e, "strategy %" PRIu32 " (%s, %s on %s %s) started", es->id, es->name, es->ops->type,
         es->ec->name, r->symbol);
    store_strategy(e, es, NULL);
    return CLB_OK;
}

/* Stops es; stored_status is what its row says afterwards (NULL:
 * "stopped"; the shutdown keeps "running" so the next start resumes it). */
static void strat_stop(struct clb_engine *e, struct eng_strategy *es, const char *stored_status)
{
    clb_clock_remove(&e->clock, &es->s->it); /* its stop hook cancels its orders */
    es->state = SS_STOPPED;
    es->stopped_ns = e->now_ns;
    LOGI(e, "strategy %" PRIu32 " (%s) stopped", es->id, es->name);
    store_strategy(e, es, stored_status);
}

static void strat_free(struct eng_strategy *es)
{
    if (!es)
        return;
    if (es->s) {
        clb_strategy_detach(es->s);
        es->s->ops->destroy(es->s);
    }
    free(es);
}

/* The common start of the commands that address one strategy: only `keys`
 * are allowed, and "id" names an existing strategy. */
static int strategy_args(struct clb_engine *e, json_t *params, const char *const *keys,
                         struct eng_strategy **es, char *err, size_t errlen)
{
    int rc = check_keys(params, keys, err, errlen);
    return rc != CLB_OK ? rc : get_strategy(e, params, es, err, errlen);
}

/* Binds the second venue of a two-venue strategy instance s (es->ec2,
 * after clb_strategy_attach) through es->proxy2; an amm connector is also
 * amm_arb's quote source. */
static int attach_second(struct eng_strategy *es, struct clb_strategy *s, char *err,
                         size_t errlen)
{
    const char *m2 = es->ec2->markets[es->market2].symbol;
    int rc = clb_strategy_attach_secondary(s, &es->proxy2.base, m2);
    if (rc != CLB_OK)
        return clb_errf(err, errlen, rc == CLB_EFULL ? CLB_EFULL : CLB_EINVAL,
                        "cannot bind the strategy to %s %s (connector_2, market_2): %s",
                        es->ec2->name, m2, clb_strerror(rc));
    const struct clb_connector *real = es->ec2->conn;
    if (real && real->ops->type && strcmp(real->ops->type, "amm") == 0 &&
        es->ops == &clb_amm_arb_ops) {
#ifdef COLIBRI_HAVE_AMM
        rc = clb_amm_arb_set_quote_source(s, clb_amm_quote_price, es->ec2->amm);
#else
        rc = CLB_EUNSUPPORTED;
#endif
        if (rc != CLB_OK)
            return clb_errf(err, errlen, CLB_EINVAL, "connector_2 (%s): cannot use its pool "
                            "quotes: %s", es->ec2->name, clb_strerror(rc));
    }
    return CLB_OK;
}

/* Creates a strategy from the strategy.create parameters, numbered
 * forced_id when it is not 0 (a resumed strategy keeps its id) and the next
 * id otherwise. */
static int strategy_create(struct clb_engine *e, json_t *params, uint32_t forced_id,
                           json_t **result, char *err, size_t errlen)
{
    static const char *const keys[] = { "name", "type", "connector", "market", "connector_2",
                                        "market_2", "params", "start", NULL };
    const char *type, *conn, *market, *name, *conn2, *market2;
    int rc;
    if ((rc = check_keys(params, keys, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "type", true, &type, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "connector", false, &conn, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "market", true, &market, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "name", false, &name, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "connector_2", false, &conn2, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "market_2", false, &market2, err, errlen)) != CLB_OK)
        return rc;
    const struct clb_strategy_ops *ops = clb_strategy_find(type);
    if (!ops) {
        const struct clb_strategy_ops *const *all;
        size_t n = clb_strategy_types(&all);
        char list[256];
        size_t used = 0;
        list[0] = '\0';
        for (size_t i = 0; i < n && used < sizeof(list); i++) {
            int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                             all[i]->type);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        return clb_errf(err, errlen, CLB_EINVAL, "type: unknown strategy type \"%.64s\" (known: %s)",
                     type, list);
    }
    struct eng_conn *ec = conn ? conn_find(e, conn) : &e->conns[0];
    if (!ec)
        return clb_errf(err, errlen, CLB_EINVAL, "connector: no connector named \"%.64s\"", conn);
    int m = market_find(ec, market);
    if (m < 0)
        return clb_errf(err, errlen, CLB_EINVAL, "market: connector \"%s\" has no market \"%.64s\"",
                     ec->name, market);
    /* The second venue: required by two-venue types, refused by the others. */
    struct eng_conn *ec2 = NULL;
    int m2 = -1;
    if (!ops->attach_secondary && (conn2 || market2))
        return clb_errf(err, errlen, CLB_EINVAL, "%s: not used by %s (it trades one market)",
                        conn2 ? "connector_2" : "market_2", ops->type);
    if (ops->attach_secondary) {
        if (!conn2 || !market2)
            return clb_errf(err, errlen, CLB_EINVAL,
                            "%s: required: %s trades two venues (connector and market: the "
                            "first, connector_2 and market_2: the second, e.g. an amm "
                            "connector)", conn2 ? "market_2" : "connector_2", ops->type);
        if (!(ec2 = conn_find(e, conn2)))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "connector_2: no connector named \"%.64s\"", conn2);
        if (ec2 == ec)
            return clb_errf(err, errlen, CLB_EINVAL,
                            "connector_2: must differ from connector (\"%s\")", ec->name);
        if (ops == &clb_amm_arb_ops && ec2->type != CT_AMM)
            return clb_errf(err, errlen, CLB_EINVAL,
                            "connector_2: %s needs an amm connector (its pool quotes), and \"%s\" "
                            "is not one", ops->type, ec2->name);
        if ((m2 = market_find(ec2, market2)) < 0)
            return clb_errf(err, errlen, CLB_EINVAL,
                            "market_2: connector \"%s\" has no market \"%.64s\"", ec2->name,
                            market2);
    }
    if (name && (strlen(name) == 0 || strlen(name) >= 64))
        return clb_errf(err, errlen, CLB_EINVAL, "name: must be 1 to 63 characters");
    if (name) {
        for (const char *c = name; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return clb_errf(err, errlen, CLB_EINVAL, "name: control characters are not allowed");
    }
    json_t *start = json_object_get(params, "start");
    if (start && !json_is_boolean(start))
        return clb_errf(err, errlen, CLB_EINVAL, "start: must be true or false, not %s",
                     clb_json_type_name(start));
    if (e->n_strats == CLB_ENGINE_MAX_STRATEGIES)
        return clb_errf(err, errlen, CLB_EFULL, "at most %d strategies may exist at once",
                     CLB_ENGINE_MAX_STRATEGIES);
    void *cfg = calloc(1, ops->config_size ? ops->config_size : 1);
    if (!cfg)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    clb_params_defaults(ops->params, ops->n_params, cfg);
    struct eng_strategy *es = NULL;
    if ((rc = apply_params(ops, cfg, json_object_get(params, "params"), err, errlen)) != CLB_OK)
        goto fail;
    es = calloc(1, sizeof(*es));
    if (!es) {
        rc = clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
        goto fail;
    }
    es->e = e;
    es->id = forced_id ? forced_id : e->next_id;
    es->ops = ops;
    es->ec = ec;
    es->market = (uint32_t)m;
    es->created_ns = e->now_ns;
    if (name)
        snprintf(es->name, sizeof(es->name), "%s", name);
    else
        snprintf(es->name, sizeof(es->name), "%.40s-%" PRIu32, ops->type, es->id);
    proxy_init(es, &es->proxy, ec);
    if (ec2) {
        es->ec2 = ec2;
        es->market2 = (uint32_t)m2;
        proxy_init(es, &es->proxy2, ec2);
    }
    char why[200] = "";
    if ((rc = ops->create(cfg, &es->s, why, sizeof(why))) != CLB_OK) {
        es->s = NULL;
        rc = clb_errf(err, errlen, rc == CLB_ENOMEM ? CLB_ENOMEM : CLB_EINVAL, "params: %s",
                   why[0] ? why : clb_strerror(rc));
        goto fail;
    }
    if (!market_rules(ec, (uint32_t)m)) {
        rc = clb_errf(err, errlen, CLB_ENOTREADY, "connector \"%s\" has no trading rules for %s "
                      "yet (not ready): create the strategy when it is", ec->name, market);
        goto fail;
    }
    if (ec2 && !market_rules(ec2, (uint32_t)m2)) {
        rc = clb_errf(err, errlen, CLB_ENOTREADY, "connector \"%s\" has no trading rules for %s "
                      "yet (not ready): create the strategy when it is", ec2->name, market2);
        goto fail;
    }
    if ((rc = clb_strategy_attach(es->s, &es->proxy.base, market, es->id, es->name)) != CLB_OK) {
        rc = clb_errf(err, errlen, rc == CLB_EFULL ? CLB_EFULL : CLB_EINVAL,
                   "cannot bind the strategy to %s %s: %s", ec->name, market, clb_strerror(rc));
        goto fail;
    }
    if (ec2 && (rc = attach_second(es, es->s, err, errlen)) != CLB_OK)
        goto fail;
    if (start && json_is_true(start) && (rc = strat_start(e, es, err, errlen)) != CLB_OK)
        goto fail;
    free(cfg);
    e->strats[e->n_strats++] = es;
    if (!forced_id)
        e->next_id++;
    if (es->state != SS_RUNNING) {
        LOGI(e, "strategy %" PRIu32 " (%s, %s on %s %s) created", es->id, es->name, ops->type,
             ec->name, market);
        store_strategy(e, es, NULL);
    }
    *result = strategy_json(e, es);
    return CLB_OK;
fail:
    free(cfg);
    strat_free(es);
    return rc;
}

static int cmd_strategy_create(struct clb_engine *e, json_t *params, json_t **result, char *err,
                               size_t errlen)
{
    return strategy_create(e, params, 0, result, err, errlen);
}

static int cmd_strategy_start(struct clb_engine *e, json_t *params, json_t **result, char *err,
                              size_t errlen)
{
    static const char *const keys[] = { "id", NULL };
    struct eng_strategy *es;
    int rc = strategy_args(e, params, keys, &es, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (es->state == SS_RUNNING)
        return clb_errf(err, errlen, CLB_ESTATE, "strategy %" PRIu32 " is already running", es->id);
    if ((rc = strat_start(e, es, err, errlen)) != CLB_OK)
        return rc;
    *result = strategy_json(e, es);
    return CLB_OK;
}

static int cmd_strategy_stop(struct clb_engine *e, json_t *params, json_t **result, char *err,
                             size_t errlen)
{
    static const char *const keys[] = { "id", NULL };
    struct eng_strategy *es;
    int rc = strategy_args(e, params, keys, &es, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (es->state != SS_RUNNING)
        return clb_errf(err, errlen, CLB_ESTATE, "strategy %" PRIu32 " is not running (%s)", es->id,
                     sstate_name(es->state));
    strat_stop(e, es, NULL);
    *result = strategy_json(e, es);
    return CLB_OK;
}

static int cmd_strategy_update(struct clb_engine *e, json_t *params, json_t **result, char *err,
                               size_t errlen)
{
    static const char *const keys[] = { "id", "params", NULL };
    struct eng_strategy *es;
    int rc = strategy_args(e, params, keys, &es, err, errlen);
    if (rc != CLB_OK)
        return rc;
    json_t *p = json_object_get(params, "params");
    if (!p)
        return clb_errf(err, errlen, CLB_EINVAL, "params: required");
    const struct clb_strategy_ops *ops = es->ops;
    const void *cur = ops->config ? ops->config(es->s) : NULL;
    if (!cur)
        return clb_errf(err, errlen, CLB_ESTATE, "%s does not expose its parameters", ops->type);
    size_t sz = ops->config_size ? ops->config_size : 1;
    void *cfg = malloc(sz);
    if (!cfg)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    memcpy(cfg, cur, sz);
    if ((rc = apply_params(ops, cfg, p, err, errlen)) != CLB_OK)
        goto out;
    char why[200] = "";
    if (ops->update_config) {
        if ((rc = ops->update_config(es->s, cfg, why, sizeof(why))) != CLB_OK) {
            rc = clb_errf(err, errlen, CLB_EINVAL, "params: %s", why[0] ? why : clb_strerror(rc));
            goto out;
        }
    } else if (es->state == SS_RUNNING) {
        rc = clb_errf(err, errlen, CLB_ESTATE, "%s parameters cannot change while it runs",
                   ops->type);
        goto out;
    } else {
        /* fixed parameters: replace the stopped instance */
        struct clb_strategy *ns = NULL;
        if ((rc = ops->create(cfg, &ns, why, sizeof(why))) != CLB_OK) {
            rc = clb_errf(err, errlen, CLB_EINVAL, "params: %s", why[0] ? why : clb_strerror(rc));
            goto out;
        }
        if ((rc = clb_strategy_attach(ns, &es->proxy.base, es->ec->markets[es->market].symbol,
                                      es->id, es->name)) != CLB_OK) {
            ops->destroy(ns);
            rc = clb_errf(err, errlen, CLB_EFULL, "cannot bind the strategy: %s", clb_strerror(rc));
            goto out;
        }
        if (es->ec2 && (rc = attach_second(es, ns, err, errlen)) != CLB_OK) {
            clb_strategy_detach(ns);
            ops->destroy(ns);
            goto out;
        }
        clb_strategy_detach(es->s);
        ops->destroy(es->s);
        es->s = ns;
    }
    LOGI(e, "strategy %" PRIu32 " (%s) parameters updated", es->id, es->name);
    store_strategy(e, es, NULL);
    *result = strategy_json(e, es);
out:
    free(cfg);
    return rc;
}

static int cmd_strategy_delete(struct clb_engine *e, json_t *params, json_t **result, char *err,
                               size_t errlen)
{
    static const char *const keys[] = { "id", NULL };
    struct eng_strategy *es;
    int rc = strategy_args(e, params, keys, &es, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (es->state == SS_RUNNING)
        strat_stop(e, es, NULL);
    size_t i = 0;
    while (e->strats[i] != es)
        i++;
    memmove(&e->strats[i], &e->strats[i + 1], (e->n_strats - i - 1) * sizeof(e->strats[0]));
    e->n_strats--;
    uint32_t id = es->id;
    LOGI(e, "strategy %" PRIu32 " (%s) deleted", id, es->name);
    store_strategy(e, es, "deleted");
    strat_free(es);
    json_t *r = json_object();
    json_object_set_new(r, "id", json_integer(id));
    json_object_set_new(r, "deleted", json_true());
    *result = r;
    return CLB_OK;
}

static int cmd_indicators(struct clb_engine *e, json_t *params, json_t **result, char *err,
                          size_t errlen)
{
    static const char *const keys[] = { "id", NULL };
    struct eng_strategy *es;
    int rc = strategy_args(e, params, keys, &es, err, errlen);
    if (rc != CLB_OK)
        return rc;
    *result = strategy_metrics_json(es);
    return CLB_OK;
}

/* A decimal from a JSON string or number. */
static int get_dec(json_t *params, const char *key, clb_dec *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(params, key);
    char buf[64];
    const char *text;
    if (json_is_string(v)) {
        text = json_string_value(v);
    } else if (json_is_integer(v)) {
        snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        text = buf;
    } else if (json_is_real(v) && isfinite(json_real_value(v))) {
        format_double(json_real_value(v), buf, sizeof(buf));
        text = buf;
    } else {
        return clb_errf(err, errlen, CLB_EINVAL, "%s: must be a decimal string like \"0.01\", not %s",
                     key, clb_json_type_name(v));
    }
    clb_dec d;
    int rc = clb_dec_parse_cstr(text, &d);
    if (rc != CLB_OK)
        return clb_errf(err, errlen, CLB_EINVAL, "%s: \"%.40s\" is not a decimal (%s)", key, text,
                     clb_strerror(rc));
    if (clb_dec_sign(d) <= 0)
        return clb_errf(err, errlen, CLB_EINVAL, "%s: must be > 0", key);
    *out = d;
    return CLB_OK;
}

static int cmd_order_create(struct clb_engine *e, json_t *params, json_t **result, char *err,
                            size_t errlen)
{
    static const char *const keys[] = { "connector", "market", "side", "type", "price", "amount",
                                        NULL };
    const char *conn, *market, *side_s, *type_s;
    int rc;
    if ((rc = check_keys(params, keys, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "connector", false, &conn, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "market", true, &market, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "side", true, &side_s, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "type", false, &type_s, err, errlen)) != CLB_OK)
        return rc;
    struct eng_conn *ec = conn ? conn_find(e, conn) : &e->conns[0];
    if (!ec)
        return clb_errf(err, errlen, CLB_EINVAL, "connector: no connector named \"%.64s\"", conn);
    int m = market_find(ec, market);
    if (m < 0)
        return clb_errf(err, errlen, CLB_EINVAL, "market: connector \"%s\" has no market \"%.64s\"",
                     ec->name, market);
    enum clb_side side;
    if (strcmp(side_s, "buy") == 0)
        side = CLB_SIDE_BUY;
    else if (strcmp(side_s, "sell") == 0)
        side = CLB_SIDE_SELL;
    else
        return clb_errf(err, errlen, CLB_EINVAL, "side: must be \"buy\" or \"sell\"");
    enum clb_order_type type = CLB_ORDER_LIMIT;
    if (!type_s)
        return clb_errf(err, errlen, CLB_EINVAL,
                     "type: required (\"limit\", \"limit_maker\" or \"market\")");
    if (strcmp(type_s, "limit") == 0)
        type = CLB_ORDER_LIMIT;
    else if (strcmp(type_s, "limit_maker") == 0)
        type = CLB_ORDER_LIMIT_MAKER;
    else if (strcmp(type_s, "market") == 0)
        type = CLB_ORDER_MARKET;
    else
        return clb_errf(err, errlen, CLB_EINVAL,
                     "type: must be \"limit\", \"limit_maker\" or \"market\"");
    clb_dec price = clb_dec_make(0, 0), amount;
    if (type == CLB_ORDER_MARKET) {
        if (json_object_get(params, "price"))
            return clb_errf(err, errlen, CLB_EINVAL, "price: not allowed for a market order");
    } else {
        if (!json_object_get(params, "price"))
            return clb_errf(err, errlen, CLB_EINVAL, "price: required for a %s order", type_s);
        if ((rc = get_dec(params, "price", &price, err, errlen)) != CLB_OK)
            return rc;
    }
    if (!json_object_get(params, "amount"))
        return clb_errf(err, errlen, CLB_EINVAL, "amount: required");
    if ((rc = get_dec(params, "amount", &amount, err, errlen)) != CLB_OK)
        return rc;
    if (!clb_connector_ready(ec->conn))
        return clb_errf(err, errlen, CLB_ENOTREADY, "connector \"%s\" is not ready", ec->name);
    if (!store_accepts_orders(e))
        return clb_errf(err, errlen, CLB_ENOTREADY,
                     "the store is unavailable (database unreachable or its queue backed up): "
                     "new orders are refused until it is back");
    /* Funds check (the venue would reject it later anyway). */
    const struct clb_market_rules *r = market_rules(ec, (uint32_t)m);
    if (!r)
        return clb_errf(err, errlen, CLB_ENOTREADY, "connector \"%s\" has no trading rules for "
                        "%s yet", ec->name, ec->markets[m].symbol);
    clb_dec total, avail, need;
    if (side == CLB_SIDE_SELL) {
        ec->conn->ops->balance(ec->conn, r->base, &total, &avail);
        if (clb_dec_cmp(amount, avail) > 0)
            return clb_errf(err, errlen, CLB_EINVAL, "amount: exceeds the available %s balance",
                         r->base);
    } else if (type != CLB_ORDER_MARKET) {
        ec->conn->ops->balance(ec->conn, r->quote, &total, &avail);
        if (clb_dec_mul(price, amount, &need) != CLB_OK || clb_dec_cmp(need, avail) > 0)
            return clb_errf(err, errlen, CLB_EINVAL,
                         "amount: price * amount exceeds the available %s balance", r->quote);
    }
    struct clb_order_request req = { .market = r->symbol, .side = side, .type = type,
                                     .price = price, .amount = amount, .owner = 0 };
    char cid[CLB_CLIENT_ID_MAX];
    uint32_t saved = e->placing_owner;
    e->placing_owner = 0;
    rc = ec->conn->ops->place(ec->conn, &req, cid);
    e->placing_owner = saved;
    if (rc == CLB_ERANGE) {
        char q[CLB_DEC_STRLEN], n[CLB_DEC_STRLEN];
        clb_dec_format(r->min_qty, q, sizeof(q));
        clb_dec_format(r->min_notional, n, sizeof(n));
        return clb_errf(err, errlen, CLB_EINVAL,
                     "amount: below the market's minimum after rounding to its step (min amount "
                     "%s, min notional %s %s)", q, n, r->quote);
    }
    if (rc == CLB_EPRECISION || rc == CLB_EOVERFLOW)
        return clb_errf(err, errlen, CLB_EINVAL, "price/amount: %s", clb_strerror(rc));
    if (rc != CLB_OK)
        return clb_errf(err, errlen, rc, "order rejected by %s: %s", ec->name, clb_strerror(rc));
    LOGI(e, "manual order %s placed on %s %s (%s %s)", cid, ec->name, r->symbol, side_s, type_s);
    json_t *res = json_object();
    json_object_set_new(res, "client_order_id", json_string(cid));
    json_object_set_new(res, "connector", json_string(ec->name));
    json_object_set_new(res, "market", json_string(r->symbol));
    *result = res;
    return CLB_OK;
}

static int cmd_order_cancel(struct clb_engine *e, json_t *params, json_t **result, char *err,
                            size_t errlen)
{
    static const char *const keys[] = { "connector", "client_order_id", NULL };
    const char *conn, *cid;
    int rc;
    if ((rc = check_keys(params, keys, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "connector", false, &conn, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "client_order_id", true, &cid, err, errlen)) != CLB_OK)
        return rc;
    struct eng_conn *ec = conn ? conn_find(e, conn) : &e->conns[0];
    if (!ec)
        return clb_errf(err, errlen, CLB_ENOTFOUND, "connector: no connector named \"%.64s\"", conn);
    struct eng_order *o = live_find(e, ec->idx, cid);
    if (!o) {
        struct eng_order *f = fin_find(e, ec->idx, cid);
        if (f)
            return clb_errf(err, errlen, CLB_ESTATE, "order %s is already %s", cid,
                         clb_order_state_name(f->state));
        return clb_errf(err, errlen, CLB_ENOTFOUND, "client_order_id: no order \"%.64s\" on %s", cid,
                     ec->name);
    }
    char id[CLB_CLIENT_ID_MAX];
    snprintf(id, sizeof(id), "%s", o->cid);
    rc = ec->conn->ops->cancel(ec->conn, ec->markets[o->market].symbol, id);
    if (rc == CLB_ENOTFOUND)
        return clb_errf(err, errlen, CLB_ENOTFOUND, "client_order_id: no order \"%s\" on %s", id,
                     ec->name);
    if (rc != CLB_OK)
        return clb_errf(err, errlen, rc == CLB_EFULL ? CLB_EFULL : CLB_ESTATE,
                     "order %s cannot be cancelled: %s", id, clb_strerror(rc));
    LOGI(e, "cancel of %s requested on %s", id, ec->name);
    o = live_find(e, ec->idx, id);
    if (!o)
        o = fin_find(e, ec->idx, id);
    json_t *res = json_object();
    json_object_set_new(res, "client_order_id", json_string(id));
    json_object_set_new(res, "state",
                        json_string(o ? clb_order_state_name(o->state) : "pending_cancel"));
    *result = res;
    return CLB_OK;
}

static int cmd_log_level(struct clb_engine *e, json_t *params, json_t **result, char *err,
                         size_t errlen)
{
    static const char *const keys[] = { "level", NULL };
    const char *lv;
    int rc;
    if ((rc = check_keys(params, keys, err, errlen)) != CLB_OK ||
        (rc = get_str(params, "level", true, &lv, err, errlen)) != CLB_OK)
        return rc;
    enum clb_log_level level;
    if (clb_log_level_parse(lv, &level) != CLB_OK)
        return clb_errf(err, errlen, CLB_EINVAL,
                     "level: must be \"debug\", \"info\", \"warn\" or \"error\"");
    clb_log_set_level(e->log, level);
    LOGI(e, "log level set to %s", clb_log_level_name(level));
    json_t *res = json_object();
    json_object_set_new(res, "level", json_string(clb_log_level_name(level)));
    *result = res;
    return CLB_OK;
}

typedef int (*cmd_fn)(struct clb_engine *e, json_t *params, json_t **result, char *err,
                      size_t errlen);

static const struct {
    const char *method;
    cmd_fn fn;
} commands[] = {
    { "strategy.create", cmd_strategy_create }, { "strategy.start", cmd_strategy_start },
    { "strategy.stop", cmd_strategy_stop },     { "strategy.update", cmd_strategy_update },
    { "strategy.delete", cmd_strategy_delete }, { "order.create", cmd_order_create },
    { "order.cancel", cmd_order_cancel },       { "indicators", cmd_indicators },
    { "log.level", cmd_log_level },
};

static void run_call(struct clb_engine *e, struct eng_call *c)
{
    c->rc = CLB_EUNSUPPORTED;
    snprintf(c->err, sizeof(c->err), "unknown method \"%.64s\"", c->method);
    if (e->state != ES_RUNNING) {
        c->rc = clb_errf(c->err, sizeof(c->err), CLB_ESTATE, "the engine is shutting down");
        return;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(commands[i].method, c->method) != 0)
            continue;
        if (!json_is_object(c->params)) {
            c->rc = clb_errf(c->err, sizeof(c->err), CLB_EINVAL, "params: must be an object, not %s",
                          clb_json_type_name(c->params));
            return;
        }
        c->err[0] = '\0';
        json_t *res = NULL;
        c->rc = commands[i].fn(e, c->params, &res, c->err, sizeof(c->err));
        if (c->rc == CLB_OK) {
            c->result = res ? res : json_object();
        } else {
            json_decref(res);
            if (!c->err[0])
                snprintf(c->err, sizeof(c->err), "%s", clb_strerror(c->rc));
        }
        return;
    }
}

/* ------------------------------------------------------------------------ */
/* Command queue                                                             */
/* ------------------------------------------------------------------------ */

static void call_release(struct eng_call *c)
{
    pthread_mutex_lock(&c->mu);
    int refs = --c->refs;
    pthread_mutex_unlock(&c->mu);
    if (refs > 0)
        return;
    json_decref(c->params);
    json_decref(c->result);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* Marks a call answered (rc/result/err already set) and wakes its caller. */
static void call_finish(struct eng_call *c)
{
    pthread_mutex_lock(&c->mu);
    c->done = true;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
    call_release(c);
}

static struct eng_call *queue_pop(struct clb_engine *e)
{
    struct eng_call *c = NULL;
    pthread_mutex_lock(&e->q_mu);
    if (e->q_n > 0) {
        c = e->q[e->q_head];
        e->q_head = (e->q_head + 1) % ENG_QUEUE_CAP;
        e->q_n--;
    }
    pthread_mutex_unlock(&e->q_mu);
    return c;
}

/* Runs the queued commands (a batch at a time), publishes the snapshots
 * they changed, and only then answers them: when a call returns, the
 * snapshots already show its effect. Returns how many ran. */
static size_t drain_commands(struct clb_engine *e)
{
    size_t total = 0;
    for (;;) {
        struct eng_call *batch[32];
        size_t n = 0, ran = 0;
        while (n < 32 && (batch[n] = queue_pop(e)) != NULL)
            n++;
        if (n == 0)
            return total;
        for (size_t i = 0; i < n; i++) {
            struct eng_call *c = batch[i];
            pthread_mutex_lock(&c->mu);
            bool abandoned = c->abandoned;
            pthread_mutex_unlock(&c->mu);
            if (abandoned) {
                /* The caller gave up before we started: do not run it. */
                c->rc = CLB_ETIMEDOUT;
            } else {
                run_call(e, c);
                ran++;
            }
        }
        if (ran > 0)
            publish_all(e);
        for (size_t i = 0; i < n; i++)
            call_finish(batch[i]);
        total += ran;
    }
}

/* Closes the queue and answers whatever is left with CLB_ESTATE. */
static void close_queue(struct clb_engine *e)
{
    pthread_mutex_lock(&e->q_mu);
    e->q_closed = true;
    pthread_mutex_unlock(&e->q_mu);
    struct eng_call *c;
    while ((c = queue_pop(e)) != NULL) {
        c->rc = CLB_ESTATE;
        snprintf(c->err, sizeof(c->err), "the engine is stopped");
        call_finish(c);
    }
}

static bool on_worker(struct clb_engine *e)
{
    return e->worker_started && pthread_equal(pthread_self(), e->worker);
}

int clb_engine_call(struct clb_engine *e, const char *method, json_t *params, json_t **result,
                    char *err, size_t errlen, int timeout_ms)
{
    if (result)
        *result = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!e || !method || !result)
        return clb_errf(err, errlen, CLB_EINVAL, "invalid arguments");
    if (on_worker(e))
        return clb_errf(err, errlen, CLB_ESTATE, "clb_engine_call from the worker thread");
    if (strlen(method) >= sizeof(((struct eng_call *)0)->method))
        return clb_errf(err, errlen, CLB_EUNSUPPORTED, "unknown method");
    struct eng_call *c = calloc(1, sizeof(*c));
    if (!c)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        pthread_condattr_destroy(&ca);
        free(c);
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    }
    if (pthread_cond_init(&c->cv, &ca) != 0) {
        pthread_condattr_destroy(&ca);
        pthread_mutex_destroy(&c->mu);
        free(c);
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    }
    pthread_condattr_destroy(&ca);
    snprintf(c->method, sizeof(c->method), "%s", method);
    c->params = params ? json_deep_copy(params) : json_object();
    if (!c->params) {
        c->refs = 1;
        call_release(c);
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    }
    c->refs = 2; /* caller + worker */
    pthread_mutex_lock(&e->q_mu);
    int rc = CLB_OK;
    if (e->q_closed)
        rc = CLB_ESTATE;
    else if (e->q_n == ENG_QUEUE_CAP)
        rc = CLB_EFULL;
    else
        e->q[(e->q_head + e->q_n++) % ENG_QUEUE_CAP] = c;
    pthread_mutex_unlock(&e->q_mu);
    if (rc != CLB_OK) {
        c->refs = 1;
        call_release(c);
        return clb_errf(err, errlen, rc, rc == CLB_ESTATE ? "the engine is stopped"
                                                        : "the engine's command queue is full");
    }
    uint64_t one = 1;
    ssize_t w = write(e->cmd_efd, &one, sizeof(one));
    (void)w;

    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t t = (int64_t)dl.tv_sec * NS_PER_S + dl.tv_nsec +
                (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * NS_PER_MS;
    dl.tv_sec = (time_t)(t / NS_PER_S);
    dl.tv_nsec = (long)(t % NS_PER_S);
    pthread_mutex_lock(&c->mu);
    while (!c->done) {
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) == ETIMEDOUT && !c->done)
            break;
    }
    if (c->done) {
        rc = c->rc;
        if (rc == CLB_OK) {
            *result = c->result;
            c->result = NULL;
        } else {
            clb_errf(err, errlen, rc, "%s", c->err[0] ? c->err : clb_strerror(rc));
        }
    } else {
        c->abandoned = true;
        rc = clb_errf(err, errlen, CLB_ETIMEDOUT, "the engine did not answer within %d ms",
                   timeout_ms);
    }
    pthread_mutex_unlock(&c->mu);
    call_release(c);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The worker loop                                                           */
/* ------------------------------------------------------------------------ */

static void on_clock_error(void *ud, struct clb_time_iterator *it, int err, int64_t now_ns)
{
    struct clb_engine *e = ud;
    (void)now_ns;
    if (it->errors != 1 && it->errors % 60 != 0)
        return; /* first failure, then one line a minute at 1 s ticks */
    for (size_t i = 0; i < e->n_strats; i++) {
        if (&e->strats[i]->s->it == it) {
            LOGW(e, "strategy %" PRIu32 " (%s): tick failed: %s (%" PRIu64 " failures)",
                 e->strats[i]->id, e->strats[i]->name, clb_strerror(err), it->errors);
            return;
        }
    }
    LOGW(e, "%s: tick failed: %s (%" PRIu64 " failures)", clb_time_iterator_name(it),
         clb_strerror(err), it->errors);
}

/* Hands every due record to the connectors trading its market. Returns
 * false when the budget ran out (more are due). */
static bool feed_sources(struct clb_engine *e, int64_t now)
{
    size_t budget = ENG_RECORD_BUDGET;
    for (size_t i = 0; i < e->n_sources; i++) {
        struct eng_source *src = &e->sources[i];
        while (src->next.ts_ns <= now) {
            if (budget-- == 0)
                return false;
            for (size_t k = 0; k < src->n_subs; k++) {
                struct eng_conn *ec = src->subs[k].ec;
                struct eng_market *mk = &ec->markets[src->subs[k].market];
                clb_paper_on_record(ec->paper, mk->paper_idx, &src->next);
                mk->updates++;
            }
            e->records_fed++;
            clb_synth_next(&src->synth, &src->next);
        }
    }
    return true;
}

static void do_tick(struct clb_engine *e, int64_t now)
{
    int64_t t0 = mono_ns();
    clb_clock_advance_to(&e->clock, now);
    double dt = (double)(mono_ns() - t0) / 1e9;
    size_t b = 0;
    while (b < N_TICK_BUCKETS && dt > tick_buckets[b])
        b++;
    if (b < N_TICK_BUCKETS)
        e->tick_counts[b]++;
    e->tick_count++;
    e->tick_sum_s += dt;
}

static bool strategy_orders_live(struct clb_engine *e)
{
    for (size_t i = 0; i < e->n_live; i++)
        if (e->live[i].owner != 0)
            return true;
    return false;
}

/* ---- resuming the strategies of an earlier run ---- */

static json_t *resume_str(const char *v)
{
    return v ? json_string(v) : NULL;
}

/* Copies cfg->resume into e->resume as strategy.create parameters. Only
 * allocation fails here (CLB_ENOMEM); an entry that cannot be turned into
 * parameters keeps why, reported by the worker. */
static int resume_prepare(struct clb_engine *e, const struct clb_engine_config *cfg)
{
    if (!cfg->resume || cfg->n_resume == 0)
        return CLB_OK;
    e->resume = calloc(cfg->n_resume, sizeof(*e->resume));
    if (!e->resume)
        return CLB_ENOMEM;
    for (size_t i = 0; i < cfg->n_resume; i++) {
        const struct clb_engine_resume *r = &cfg->resume[i];
        struct eng_resume *er = &e->resume[e->n_resume++];
        er->id = r->id;
        snprintf(er->name, sizeof(er->name), "%s", r->name ? r->name : "");
        if (r->id == 0 || r->id > cfg->strategy_id_base) {
            snprintf(er->why, sizeof(er->why), "its id is not below the next id (%" PRIu32 ")",
                     cfg->strategy_id_base + 1);
            continue;
        }
        json_error_t je;
        json_t *params = r->params_json ? json_loads(r->params_json, 0, &je) : json_object();
        if (!json_is_object(params)) {
            json_decref(params);
            snprintf(er->why, sizeof(er->why), "its stored parameters are not a JSON object");
            continue;
        }
        json_t *c = json_object();
        if (!c) {
            json_decref(params);
            return CLB_ENOMEM;
        }
        json_object_set_new(c, "name", resume_str(r->name));
        json_object_set_new(c, "type", resume_str(r->type));
        json_object_set_new(c, "connector", resume_str(r->connector));
        json_object_set_new(c, "market", resume_str(r->market));
        if (r->connector_2)
            json_object_set_new(c, "connector_2", json_string(r->connector_2));
        if (r->market_2)
            json_object_set_new(c, "market_2", json_string(r->market_2));
        json_object_set_new(c, "params", params);
        json_object_set_new(c, "start", json_true());
        er->create = c;
    }
    return CLB_OK;
}

/* Worker, while running: creates and starts the strategies left to resume
 * whose connectors are ready; the others are tried again a second later. */
static void resume_strategies(struct clb_engine *e, int64_t mono)
{
    size_t keep = 0;
    for (size_t i = 0; i < e->n_resume; i++) {
        struct eng_resume *er = &e->resume[i];
        if (er->create && mono < er->next_try_mono) {
            e->resume[keep++] = *er;
            continue;
        }
        char err[ENG_ERR] = "";
        int rc = CLB_EINVAL;
        if (!er->create)
            snprintf(err, sizeof(err), "%s", er->why);
        else if (strat_find(e, er->id))
            snprintf(err, sizeof(err), "id %" PRIu32 " is taken", er->id);
        else {
            json_t *res = NULL;
            rc = strategy_create(e, er->create, er->id, &res, err, sizeof(err));
            json_decref(res);
        }
        if (rc == CLB_ENOTREADY) {
            if (!er->waiting_logged)
                LOGI(e, "strategy %" PRIu32 " (%s) resumes when it can: %s", er->id, er->name,
                     err);
            er->waiting_logged = true;
            er->next_try_mono = mono + NS_PER_S;
            e->resume[keep++] = *er;
            continue;
        }
        if (rc == CLB_OK)
            LOGI(e, "strategy %" PRIu32 " (%s) resumed: it was running when the last run ended",
                 er->id, er->name);
        else
            LOGE(e, "strategy %" PRIu32 " (%s) not resumed: %s", er->id, er->name, err);
        json_decref(er->create);
    }
    if (keep != e->n_resume) {
        e->n_resume = keep;
        snap_publish(e, SNAP_STRATEGIES, build_strategies(e));
    }
}

static void begin_stop(struct clb_engine *e)
{
    e->state = ES_STOPPING;
    int t = atomic_load(&e->stop_timeout_ms);
    if (t < 1)
        t = 1;
    e->stop_begin_mono = mono_ns();
    e->stop_deadline_mono = e->stop_begin_mono + (int64_t)t * NS_PER_MS * 8 / 10;
    LOGI(e, "engine stopping: stopping strategies and cancelling their orders");
    for (size_t i = 0; i < e->n_strats; i++)
        if (e->strats[i]->state == SS_RUNNING)
            strat_stop(e, e->strats[i], "running");
    publish_all(e);
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

/* Milliseconds to sleep until the next thing is due (rounded up). */
static int next_timeout_ms(struct clb_engine *e, int64_t now, int64_t mono)
{
    int64_t wait = NS_PER_S; /* never sleep longer than the status period */
    wait = min64(wait, clb_clock_next_tick_ns(&e->clock) - now);
    for (size_t i = 0; i < e->n_sources; i++)
        wait = min64(wait, e->sources[i].next.ts_ns - now);
    wait = min64(wait, e->last_status_mono + ENG_STATUS_NS - mono);
    for (size_t i = 0; i < e->n_conns; i++)
        if (e->conns[i].paper) {
            int64_t due = clb_paper_next_due_ns(e->conns[i].paper);
            if (due != INT64_MAX)
                wait = min64(wait, due - now);
        }
    if (e->orders_dirty || e->trades_dirty)
        wait = min64(wait, e->last_fast_mono + ENG_PUBLISH_NS - mono);
    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
        for (uint32_t m = 0; m < ec->n_markets; m++)
            if (ec->markets[m].updates != ec->markets[m].pub_updates)
                wait = min64(wait, ec->markets[m].last_pub_mono + ENG_PUBLISH_NS - mono);
    }
    if (e->state == ES_STOPPING)
        wait = min64(wait, 20 * NS_PER_MS);
    if (wait <= 0)
        return 0;
    return (int)((wait + NS_PER_MS - 1) / NS_PER_MS);
}

/* Logs availability changes of the store (worker, once per loop turn). */
static void store_watch(struct clb_engine *e)
{
    if (!e->sw)
        return;
    bool avail = clb_store_writer_available(e->sw);
    if (avail == e->store_avail)
        return;
    e->store_avail = avail;
    if (avail) {
        LOGI(e, "store %s: new orders are accepted", e->store_was_avail ? "available again"
                                                                          : "ready");
        e->store_was_avail = true;
    } else {
        struct clb_store_writer_status st;
        clb_store_writer_status(e->sw, &st);
        LOGW(e, "store unavailable (%s%s%s): new orders are refused until it is back; "
             "existing orders are still tracked and cancelled",
             st.connected ? "queue backed up" : "database unreachable",
             st.last_error_msg[0] ? ": " : "", st.last_error_msg);
    }
    publish_status_event(e);
    snap_publish(e, SNAP_METRICS, build_metrics(e));
}

static void periodic(struct clb_engine *e, int64_t mono)
{
    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
        for (uint32_t m = 0; m < ec->n_markets; m++) {
            struct eng_market *mk = &ec->markets[m];
            if (mk->updates != mk->pub_updates && mono - mk->last_pub_mono >= ENG_PUBLISH_NS)
                publish_book(e, ec, m, mono);
        }
    }
    if ((e->orders_dirty || e->trades_dirty) && mono - e->last_fast_mono >= ENG_PUBLISH_NS)
        publish_fast(e);
    if (mono - e->last_status_mono >= ENG_STATUS_NS)
        publish_status_event(e);
    store_watch(e);
    if (e->sw && mono - e->last_balance_mono >= CLB_ENGINE_BALANCE_SNAPSHOT_MS * NS_PER_MS)
        store_balances(e);
}

/* At stop, after the strategies' cancels: the last balances, then waits for
 * the writer to commit what was queued, within what is left of the
 * shutdown timeout (leaving a margin for the final publication). */
static void store_finish(struct clb_engine *e)
{
    if (!e->sw)
        return;
    store_balances(e);
    int t = atomic_load(&e->stop_timeout_ms);
    int64_t end = e->stop_begin_mono + (int64_t)(t > 1 ? t : 1) * NS_PER_MS * 95 / 100;
    int64_t left_ms = (end - mono_ns()) / NS_PER_MS;
    if (left_ms < 50)
        left_ms = 50;
    int rc = clb_store_writer_flush(e->sw, (int)left_ms);
    struct clb_store_writer_status ws;
    clb_store_writer_status(e->sw, &ws);
    if (rc == CLB_OK)
        LOGI(e, "store flushed (%" PRIu64 " records written)", ws.written);
    else
        LOGW(e, "store not flushed: %s (%" PRIu64 " records still queued; the writer keeps "
             "them or saves them to its spill file when it stops)", clb_strerror(rc), ws.queued);
}

/* Sleeps until the command eventfd is readable or timeout_ms passed; with
 * exchange connectors, their sockets and timers are serviced meanwhile
 * (their callbacks run here, on the worker). Returns the number of pfds
 * with revents (0 on timeout). A failing netloop is logged (rate-limited)
 * and the wait falls back to poll(). */
static int wait_events(struct clb_engine *e, struct pollfd *pfds, nfds_t nfds, int timeout)
{
    (void)e;
#ifdef COLIBRI_HAVE_NET
    if (e->loop) {
        int n = clb_netloop_poll(e->loop, pfds, (size_t)nfds, timeout);
        if (n >= 0)
            return n;
        if (e->loop_errors++ % 1000 == 0)
            LOGW(e, "network loop: %s (%" PRIu64 " failures)", clb_strerror(n), e->loop_errors);
    }
#endif
    int n = poll(pfds, nfds, timeout);
    return n < 0 ? 0 : n;
}

/* Exchange connectors update their books inside the netloop: their change
 * counters become the markets' update counts (publication pacing). */
static void refresh_books(struct clb_engine *e)
{
    for (size_t i = 0; i < e->n_conns; i++) {
        struct eng_conn *ec = &e->conns[i];
        if (ec->paper)
            continue;
        for (uint32_t m = 0; m < ec->n_markets; m++) {
            const struct clb_order_book *b = market_book(ec, m);
            if (b)
                ec->markets[m].updates = b->changes;
        }
    }
}

static int setup_exchanges(struct clb_engine *e, char *err, size_t errlen);
static void teardown_exchanges(struct clb_engine *e);

static void *worker_main(void *arg)
{
    struct clb_engine *e = arg;
    /* The command eventfd; exchange connectors' sockets are the netloop's,
     * serviced inside clb_netloop_poll (wait_events). */
    struct pollfd pfds[1] = { { .fd = e->cmd_efd, .events = POLLIN } };
    nfds_t nfds = 1;
    char err[ENG_ERR] = "";
    int rc = CLB_OK;
    if (e->cfg.worker_cpu >= 0) {
        char why[160];
        rc = clb_thread_pin_self(e->cfg.worker_cpu, why, sizeof(why));
        if (rc != CLB_OK)
            snprintf(err, sizeof(err), "worker_cpu: %s", why);
    }
    e->worker_cpu = clb_thread_pinned_cpu();
    if (rc == CLB_OK)
        rc = setup_exchanges(e, err, sizeof(err));
    free(e->spec);
    e->spec = NULL;
    int64_t now = wall_now(e);
    if (rc == CLB_OK) {
        /* The first snapshots, before clb_engine_create returns. */
        feed_sources(e, now);
        publish_all(e);
        for (size_t i = 0; i < e->n_conns; i++)
            for (uint32_t m = 0; m < e->conns[i].n_markets; m++)
                publish_book(e, &e->conns[i], m, mono_ns());
    } else {
        teardown_exchanges(e);
    }
    pthread_mutex_lock(&e->life_mu);
    e->setup_rc = rc;
    snprintf(e->setup_err, sizeof(e->setup_err), "%s", err);
    e->setup_done = true;
    pthread_cond_broadcast(&e->life_cv);
    pthread_mutex_unlock(&e->life_mu);
    if (rc != CLB_OK)
        return NULL; /* clb_engine_create joins and frees */
    rc = clb_clock_start(&e->clock, now);
    if (rc != CLB_OK)
        LOGW(e, "clock start failed: %s", clb_strerror(rc));
    publish_status_event(e);
    store_balances(e);
    LOGI(e, "engine running: %zu connector(s), %zu simulated market(s), tick %" PRId64 " ms",
         e->n_conns, e->n_sources, e->cfg.tick_ms);

    for (;;) {
        now = wall_now(e);
        bool caught_up = feed_sources(e, now);
        if (clb_clock_next_tick_ns(&e->clock) <= now) {
            do_tick(e, now);
            snap_publish(e, SNAP_STATUS, build_status(e));
            snap_publish(e, SNAP_STRATEGIES, build_strategies(e));
            snap_publish(e, SNAP_PERFORMANCE, build_performance(e));
            snap_publish(e, SNAP_METRICS, build_metrics(e));
            snap_publish(e, SNAP_CONNECTORS, build_connectors(e));
            /* an exchange account also changes without our orders */
            snap_publish(e, SNAP_BALANCES, build_balances(e));
        }
        drain_commands(e);
        /* paper requests (orders, cancels) go through when due, not at the
         * next market record */
        for (size_t i = 0; i < e->n_conns; i++)
            if (e->conns[i].paper && clb_paper_next_due_ns(e->conns[i].paper) <= now)
                clb_paper_advance(e->conns[i].paper, now);
        if (e->n_resume && e->state == ES_RUNNING)
            resume_strategies(e, mono_ns());
        if (e->state == ES_RUNNING && atomic_load(&e->stop_requested))
            begin_stop(e);
        if (e->state == ES_STOPPING) {
            for (size_t i = 0; i < e->n_conns; i++)
                if (e->conns[i].paper)
                    clb_paper_advance(e->conns[i].paper, now);
            if (!strategy_orders_live(e) || mono_ns() >= e->stop_deadline_mono)
                break;
        }
        int64_t mono = mono_ns();
        periodic(e, mono);
        int timeout = caught_up && !e->cfg.busy_poll ? next_timeout_ms(e, wall_now(e), mono) : 0;
        e->loop_passes++;
        if (wait_events(e, pfds, nfds, timeout) > 0 && (pfds[0].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(e->cmd_efd, &v, sizeof(v));
            (void)r;
        }
        refresh_books(e);
    }

    if (strategy_orders_live(e))
        LOGW(e, "engine stopped with strategy orders still live (cancels unconfirmed)");
    now = wall_now(e);
    if (clb_clock_running(&e->clock))
        clb_clock_stop(&e->clock, now);
    e->state = ES_STOPPED;
    close_queue(e);
    store_finish(e);
    publish_all(e);
    for (size_t i = 0; i < e->n_conns; i++)
        for (uint32_t m = 0; m < e->conns[i].n_markets; m++)
            publish_book(e, &e->conns[i], m, mono_ns());
    publish_status_event(e);
    teardown_exchanges(e);
    LOGI(e, "engine stopped");

    pthread_mutex_lock(&e->life_mu);
    e->worker_done = true;
    pthread_cond_broadcast(&e->life_cv);
    pthread_mutex_unlock(&e->life_mu);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Creation and teardown                                                     */
/* ------------------------------------------------------------------------ */

static void engine_free(struct clb_engine *e)
{
    wipe(e->keys, sizeof(e->keys));
    free(e->spec);
    if (e->log)
        clb_log_set_sink(e->log, NULL, NULL);
    if (e->clock_inited)
        clb_clock_deinit(&e->clock);
    for (size_t i = 0; i < e->n_strats; i++)
        strat_free(e->strats[i]);
    e->n_strats = 0;
    for (size_t i = 0; i < e->n_resume; i++)
        json_decref(e->resume[i].create);
    free(e->resume);
    e->resume = NULL;
    e->n_resume = 0;
    if (e->conns) {
        /* exchange connectors are gone already (teardown_exchanges) */
        for (size_t i = 0; i < CLB_ENGINE_MAX_CONNECTORS; i++)
            if (e->conns[i].paper)
                clb_paper_destroy(e->conns[i].paper);
        free(e->conns);
    }
    for (size_t i = 0; i < e->n_sources; i++)
        if (e->sources[i].inited)
            clb_synth_deinit(&e->sources[i].synth);
    if (e->slots) {
        for (size_t i = 0; i < e->n_slots; i++)
            json_decref(e->slots[i].doc);
        free(e->slots);
    }
    if (e->ring) {
        for (size_t i = 0; i < e->feed_cap; i++)
            json_decref(e->ring[i]);
        free(e->ring);
    }
    free(e->live);
    free(e->fin);
    free(e->trades);
    if (e->cmd_efd >= 0)
        close(e->cmd_efd);
    if (e->feed_efd >= 0)
        close(e->feed_efd);
    pthread_mutex_destroy(&e->life_mu);
    pthread_cond_destroy(&e->life_cv);
    pthread_mutex_destroy(&e->q_mu);
    pthread_mutex_destroy(&e->snap_mu);
    pthread_mutex_destroy(&e->feed_mu);
    if (e->own_log)
        clb_log_destroy(e->log);
    free(e);
}

static int add_asset(struct eng_conn *ec, const char *asset)
{
    for (uint32_t i = 0; i < ec->n_assets; i++)
        if (strcmp(ec->assets[i], asset) == 0)
            return CLB_OK;
    size_t len = strlen(asset);
    if (ec->n_assets == ENG_MAX_ASSETS || len >= CLB_ASSET_MAX)
        return CLB_EFULL;
    memmove(ec->assets[ec->n_assets++], asset, len + 1);
    return CLB_OK;
}

/* The recovered start override of a connector, or NULL. */
static const struct clb_engine_conn_start *find_conn_start(const struct clb_engine_config *cfg,
                                                           const char *name)
{
    for (size_t i = 0; cfg->conn_start && i < cfg->n_conn_start; i++)
        if (cfg->conn_start[i].connector && strcmp(cfg->conn_start[i].connector, name) == 0)
            return &cfg->conn_start[i];
    return NULL;
}

/* Deposits configured start + recovered deltas for every asset of ec. */
static int deposit_recovered(struct eng_conn *ec, const struct engine_spec *sp,
                             const struct clb_engine_conn_start *st, char *err, size_t errlen)
{
    for (size_t d = 0; d < st->n_deltas; d++) {
        bool has = false;
        for (uint32_t k = 0; st->deltas[d].asset && k < ec->n_assets; k++)
            has = has || strcmp(ec->assets[k], st->deltas[d].asset) == 0;
        if (!has)
            return clb_errf(err, errlen, CLB_EINVAL,
                         "recovered balances of %s: asset \"%.40s\" is not traded by it",
                         ec->name, st->deltas[d].asset ? st->deltas[d].asset : "");
    }
    for (uint32_t k = 0; k < ec->n_assets; k++) {
        clb_dec total = clb_dec_make(0, 0);
        int rc = CLB_OK;
        for (size_t b = 0; b < sp->n_bal && rc == CLB_OK; b++)
            if (strcmp(sp->bal[b].asset, ec->assets[k]) == 0)
                rc = clb_dec_add(total, sp->bal[b].amount, &total);
        for (size_t d = 0; d < st->n_deltas && rc == CLB_OK; d++)
            if (strcmp(st->deltas[d].asset, ec->assets[k]) == 0)
                rc = clb_dec_add(total, st->deltas[d].amount, &total);
        if (rc != CLB_OK)
            return clb_errf(err, errlen, CLB_EINVAL, "recovered balance %s.%s: %s", ec->name,
                         ec->assets[k], clb_strerror(rc));
        if (clb_dec_sign(total) < 0)
            return clb_errf(err, errlen, CLB_EINVAL, "recovered balance %s.%s is negative",
                         ec->name, ec->assets[k]);
        if (clb_dec_is_zero(total))
            continue;
        if ((rc = clb_paper_deposit(ec->paper, ec->assets[k], clb_dec_normalize(total))) !=
            CLB_OK)
            return clb_errf(err, errlen, CLB_EINVAL, "recovered balance %s.%s: cannot deposit: %s",
                         ec->name, ec->assets[k], clb_strerror(rc));
    }
    return CLB_OK;
}

/* The paper venue of a connector: markets from the presets, configured (or
 * recovered) starting balances. */
static int setup_paper(struct eng_conn *ec, const struct engine_spec *sp,
                       const struct clb_engine_conn_start *cs_start, size_t i, char *err,
                       size_t errlen)
{
    const struct conn_spec *cs = &sp->conns[i];
    ec->maker_fee = cs->maker_fee;
    ec->taker_fee = cs->taker_fee;
    ec->latency_ms = cs->latency_ms;
    struct clb_paper_config pc;
    clb_paper_config_default(&pc);
    pc.name = ec->name;
    pc.bus = &ec->bus;
    pc.maker_fee = cs->maker_fee;
    pc.taker_fee = cs->taker_fee;
    pc.order_latency_ns = cs->latency_ms * NS_PER_MS;
    pc.cancel_latency_ns = cs->latency_ms * NS_PER_MS;
    if (cs_start) {
        pc.trade_id_base = cs_start->trade_id_base;
        pc.nonce_base = cs_start->nonce_base;
    }
    int rc = clb_paper_create(&pc, &ec->paper);
    if (rc != CLB_OK)
        return clb_errf(err, errlen, rc, "connectors[%zu]: %s", i, clb_strerror(rc));
    ec->conn = clb_paper_connector(ec->paper);
    for (uint32_t m = 0; m < ec->n_markets; m++) {
        struct eng_market *mk = &ec->markets[m];
        struct clb_market_rules rules;
        mk->preset = cs->markets[m];
        preset_rules(mk->preset, &rules);
        if ((rc = clb_paper_add_market(ec->paper, &rules, &mk->paper_idx)) != CLB_OK)
            return clb_errf(err, errlen, rc, "connectors[%zu].markets[%u]: %s", i, m,
                         clb_strerror(rc));
    }
    if (cs_start)
        return deposit_recovered(ec, sp, cs_start, err, errlen);
    for (size_t b = 0; b < sp->n_bal; b++) {
        bool has = false;
        for (uint32_t k = 0; k < ec->n_assets; k++)
            has = has || strcmp(ec->assets[k], sp->bal[b].asset) == 0;
        if (!has || clb_dec_is_zero(sp->bal[b].amount))
            continue;
        if ((rc = clb_paper_deposit(ec->paper, sp->bal[b].asset, sp->bal[b].amount)) != CLB_OK)
            return clb_errf(err, errlen, CLB_EINVAL, "balances.%s: cannot deposit: %s",
                         sp->bal[b].asset, clb_strerror(rc));
    }
    return CLB_OK;
}

/* ---- exchange connectors ---- */

/* Opens the encrypted secrets file DATA_DIR/secrets.json (server/secrets.h)
 * with the passphrase in $COLIBRI_SECRETS_PASSPHRASE (never a prompt: the
 * engine must not block on a terminal); its path goes to path. CLB_ENOTFOUND
 * when there is no such file or no passphrase (why then says what was not
 * read, or is ""), CLB_EINVAL for a file that cannot be used (why says why). */
static int secrets_open(struct clb_engine *e, struct clb_secrets **sec, char *path,
                        size_t pathcap, char *why, size_t whylen)
{
    struct stat st;
    why[0] = '\0';
    if (!e->cfg.data_dir || clb_secrets_path(e->cfg.data_dir, path, pathcap) != CLB_OK ||
        stat(path, &st) != 0)
        return CLB_ENOTFOUND;
    const char *pass = getenv(CLB_SECRETS_ENV);
    if (!pass || !*pass) {
        snprintf(why, whylen, "; %.200s was not read: %s is not set", path, CLB_SECRETS_ENV);
        return CLB_ENOTFOUND;
    }
    char msg[200] = "";
    int rc = clb_secrets_open(path, pass, sec, msg, sizeof(msg));
    if (rc != CLB_OK)
        return clb_errf(why, whylen, CLB_EINVAL, "%.200s: %s", path,
                        msg[0] ? msg : clb_strerror(rc));
    return CLB_OK;
}

/* NAME.api_key / NAME.api_secret from the encrypted secrets file
 * (secrets_open). CLB_ENOTFOUND when there is no such file or entry (why
 * then says what was looked at, or is ""), CLB_EINVAL for a file or entry
 * that cannot be used (why says why). */
static int secret_keys(struct clb_engine *e, const char *name, char *key, char *secret, char *why,
                       size_t whylen)
{
    char path[4200];
    struct clb_secrets *sec = NULL;
    int rc = secrets_open(e, &sec, path, sizeof(path), why, whylen);
    if (rc != CLB_OK)
        return rc;
    char kn[CLB_SECRET_NAME_MAX], sn[CLB_SECRET_NAME_MAX];
    snprintf(kn, sizeof(kn), "%s.api_key", name);
    snprintf(sn, sizeof(sn), "%s.api_secret", name);
    bool hk = clb_secrets_has(sec, kn), hs = clb_secrets_has(sec, sn);
    if (!hk && !hs) {
        snprintf(why, whylen, "; %.200s holds neither %s nor %s", path, kn, sn);
        rc = CLB_ENOTFOUND;
    } else if (!hk || !hs) {
        rc = clb_errf(why, whylen, CLB_EINVAL, "%.200s holds %s but not %s", path,
                      hk ? kn : sn, hk ? sn : kn);
    } else if ((rc = clb_secrets_get(sec, kn, key, ENG_KEY_MAX, NULL)) != CLB_OK ||
               (rc = clb_secrets_get(sec, sn, secret, ENG_KEY_MAX, NULL)) != CLB_OK) {
        rc = clb_errf(why, whylen, CLB_EINVAL, "%.200s: %s / %s: %s", path, kn, sn,
                      rc == CLB_EFULL ? "too long" : clb_strerror(rc));
        wipe(key, ENG_KEY_MAX);
        wipe(secret, ENG_KEY_MAX);
    }
    clb_secrets_close(sec);
    return rc;
}

#ifdef COLIBRI_HAVE_BINANCE
/* The orders an exchange connector tracks again after a restart (it
 * publishes nothing for them: the store has them) join the live list, so
 * the API lists them and their news updates them. Their owner is the
 * earlier run's strategy id, which no strategy of this run has. */
static void list_restored(struct clb_engine *e, struct eng_conn *ec,
                          const struct clb_engine_conn_start *xs)
{
    const struct clb_order_tracker *tr = ec->conn->ops->tracker(ec->conn);
    for (size_t k = 0; tr && k < xs->n_restore; k++) {
        const struct clb_tracked_order *t =
            clb_tracker_get(tr, xs->restore[k].params.client_order_id);
        int m = t ? market_find(ec, t->market) : -1;
        if (m < 0 || clb_order_state_is_terminal(t->state) ||
            live_find(e, ec->idx, t->client_order_id))
            continue;
        struct eng_order *o = live_add(e);
        if (!o)
            return;
        snprintf(o->cid, sizeof(o->cid), "%s", t->client_order_id);
        snprintf(o->xid, sizeof(o->xid), "%s", t->exchange_order_id);
        o->conn = ec->idx;
        o->market = (uint8_t)m;
        o->side = t->side;
        o->type = t->type;
        o->price = t->price;
        o->amount = t->amount;
        o->executed = t->executed_base;
        o->executed_quote = t->executed_quote;
        o->state = t->state;
        /* the strategy of the earlier run that placed it (ids are never reused):
         * its news is recorded under that id */
        o->owner = xs->restore_owner ? xs->restore_owner[k] : 0;
        o->created_ns = o->updated_ns = t->created_ns;
        e->orders_dirty = true;
    }
}

/* A connector's log line, into the engine's log (and so its "logs" topic)
 * under the connector's name. */
static void conn_log(void *ud, enum clb_log_level level, const char *msg)
{
    struct eng_conn *ec = ud;
    clb_logf(ec->e->log, level, "connector %s: %s", ec->name, msg);
}

/* A Binance spot connector on the engine's network loop, publishing on the
 * connector's bus. It starts at once (time sync, exchangeInfo, account,
 * streams) and reports readiness through ops->status. */
static int setup_binance(struct clb_engine *e, struct eng_conn *ec, const struct conn_spec *cs,
                         size_t i, const char *key, const char *secret, char *err, size_t errlen)
{
    struct clb_binance_config bc;
    clb_binance_config_default(&bc);
    snprintf(bc.name, sizeof(bc.name), "%s", ec->name);
    for (uint32_t m = 0; m < ec->n_markets && bc.n_markets < CLB_BINANCE_MAX_MARKETS; m++)
        bc.markets[bc.n_markets++] = ec->markets[m].symbol;
    bc.rest_url = cs->rest_url;
    bc.stream_url = cs->stream_url;
    bc.ws_api_url = cs->ws_api_url;
    bc.api_key = key;
    bc.api_secret = secret;
    bc.client_id_prefix = cs->client_id_prefix[0] ? cs->client_id_prefix : NULL;
    bc.orders_over_rest = cs->orders_over_rest;
    bc.cancel_orphans = !cs->keep_orphans;
    bc.log = conn_log;
    bc.log_ud = ec;
    const struct clb_engine_conn_start *xs = e->xstart[i];
    if (xs) {
        bc.restore = xs->restore;
        bc.n_restore = xs->n_restore;
        bc.known_ids = xs->known_ids;
        bc.n_known = xs->n_known;
        bc.adopt_since_ms = xs->adopt_since_ms;
    }
    char why[256] = "";
    int rc = clb_binance_create(e->loop, &bc, &ec->bus, &ec->binance, why, sizeof(why));
    if (rc != CLB_OK) {
        ec->binance = NULL;
        return clb_errf(err, errlen, rc, "connectors[%zu] (%s): %s", i, ec->name,
                        why[0] ? why : clb_strerror(rc));
    }
    ec->conn = clb_binance_connector(ec->binance);
    if (xs)
        list_restored(e, ec, xs);
    LOGI(e, "connector %s: binance spot at %s (streams %s, WebSocket API %s), %u market(s)",
         ec->name, cs->rest_url, cs->stream_url, cs->ws_api_url, ec->n_markets);
    return CLB_OK;
}
#else
static int setup_binance(struct clb_engine *e, struct eng_conn *ec, const struct conn_spec *cs,
                         size_t i, const char *key, const char *secret, char *err, size_t errlen)
{
    (void)e;
    (void)ec;
    (void)cs;
    (void)key;
    (void)secret;
    return clb_errf(err, errlen, CLB_EUNSUPPORTED,
                    "connectors[%zu].type: \"binance\" is not built into this colibri", i);
}
#endif

#ifdef COLIBRI_HAVE_AMM
/* An AMM connector on the engine's network loop, publishing on the
 * connector's bus, trading through a colibri gateway with `token`. */
static int setup_amm(struct clb_engine *e, struct eng_conn *ec, const struct conn_spec *cs,
                     size_t i, const char *token, char *err, size_t errlen)
{
    struct clb_amm_config ac;
    clb_amm_config_default(&ac);
    const char *markets[ENG_MAX_MARKETS];
    for (uint32_t m = 0; m < ec->n_markets; m++)
        markets[m] = ec->markets[m].symbol;
    ac.name = ec->name;
    ac.bus = &ec->bus;
    ac.base_url = cs->rest_url;
    ac.token = token[0] ? token : NULL;
    ac.network = cs->network;
    if (cs->dex[0])
        ac.dex = cs->dex;
    ac.address = cs->address;
    ac.markets = markets;
    ac.n_markets = ec->n_markets < CLB_AMM_MAX_MARKETS ? ec->n_markets : CLB_AMM_MAX_MARKETS;
    if (cs->fee >= 0)
        ac.fee = cs->fee;
    if (cs->amount_decimals >= 0)
        ac.amount_decimals = cs->amount_decimals;
    if (cs->price_decimals >= 0)
        ac.price_decimals = cs->price_decimals;
    if (cs->price_poll_ms > 0)
        ac.price_poll_ms = cs->price_poll_ms;
    if (cs->balance_poll_ms > 0)
        ac.balance_poll_ms = cs->balance_poll_ms;
    if (cs->tx_poll_ms > 0)
        ac.tx_poll_ms = cs->tx_poll_ms;
    char why[256] = "";
    int rc = clb_amm_create(e->loop, &ac, &ec->amm, why, sizeof(why));
    if (rc != CLB_OK) {
        ec->amm = NULL;
        return clb_errf(err, errlen, rc, "connectors[%zu] (%s): %s", i, ec->name,
                        why[0] ? why : clb_strerror(rc));
    }
    ec->conn = clb_amm_connector(ec->amm);
    LOGI(e, "connector %s: amm (%s) through the gateway at %s, network %s, %u market(s)",
         ec->name, cs->dex[0] ? cs->dex : "default dex", cs->rest_url, cs->network,
         ec->n_markets);
    return CLB_OK;
}
#else
static int setup_amm(struct clb_engine *e, struct eng_conn *ec, const struct conn_spec *cs,
                     size_t i, const char *token, char *err, size_t errlen)
{
    (void)e;
    (void)ec;
    (void)cs;
    (void)token;
    return clb_errf(err, errlen, CLB_EUNSUPPORTED,
                    "connectors[%zu].type: \"amm\" is not built into this colibri", i);
}
#endif

/* NAME.gateway_token from the encrypted secrets file (as secret_keys).
 * CLB_ENOTFOUND (why: what was looked at, or ""), CLB_EINVAL. */
static int secret_token(struct clb_engine *e, const char *name, char *token, char *why,
                        size_t whylen)
{
    char path[4200];
    struct clb_secrets *sec = NULL;
    int rc = secrets_open(e, &sec, path, sizeof(path), why, whylen);
    if (rc != CLB_OK)
        return rc;
    char tn[CLB_SECRET_NAME_MAX];
    snprintf(tn, sizeof(tn), "%s.gateway_token", name);
    if (!clb_secrets_has(sec, tn)) {
        snprintf(why, whylen, "; %.200s holds no %s", path, tn);
        rc = CLB_ENOTFOUND;
    } else if ((rc = clb_secrets_get(sec, tn, token, ENG_KEY_MAX, NULL)) != CLB_OK) {
        rc = clb_errf(why, whylen, CLB_EINVAL, "%.200s: %s: %s", path, tn,
                      rc == CLB_EFULL ? "too long" : clb_strerror(rc));
        wipe(token, ENG_KEY_MAX);
    }
    clb_secrets_close(sec);
    return rc;
}

/* "COLIBRI_" + the connector name upper-cased (other characters than A-Z
 * 0-9 become '_') + suffix. */
static void env_var_name(const char *conn, const char *suffix, char *out, size_t cap)
{
    size_t k = (size_t)snprintf(out, cap, "COLIBRI_");
    for (const char *c = conn; *c && k + 1 < cap; c++) {
        char u = (*c >= 'a' && *c <= 'z') ? (char)(*c - 'a' + 'A') : *c;
        out[k++] = ((u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9')) ? u : '_';
    }
    out[k] = '\0';
    snprintf(out + k, cap - k, "%s", suffix);
}

/* One API key pair from the environment: both variables, one, or none
 * (CLB_ENOTFOUND). A lone half is CLB_EINVAL naming the missing one. */
static int env_key_pair(const char *key_var, const char *secret_var, char *key, size_t key_cap,
                        char *secret, size_t secret_cap, char *err, size_t errlen)
{
    const char *k = getenv(key_var), *s = getenv(secret_var);
    bool hk = k && *k, hs = s && *s;
    if (!hk && !hs)
        return CLB_ENOTFOUND;
    if (!hk || !hs)
        return clb_errf(err, errlen, CLB_EINVAL, "%s is set but %s is not", hk ? key_var
                        : secret_var, hk ? secret_var : key_var);
    if (strlen(k) >= key_cap || strlen(s) >= secret_cap)
        return clb_errf(err, errlen, CLB_EINVAL, "%s / %s: too long", key_var, secret_var);
    memcpy(key, k, strlen(k) + 1);
    memcpy(secret, s, strlen(s) + 1);
    return CLB_OK;
}

/* The API key pair of an exchange connector: COLIBRI_<NAME>_API_KEY /
 * _API_SECRET, else COLIBRI_BINANCE_API_KEY / _API_SECRET, else the
 * encrypted secrets file (NAME.api_key / NAME.api_secret). Never logged. */
static int api_keys(struct clb_engine *e, const struct eng_conn *ec, size_t i, char *key,
                    char *secret, char *err, size_t errlen)
{
    char kv[96], sv[96], why[600] = "";
    env_var_name(ec->name, "_API_KEY", kv, sizeof(kv));
    env_var_name(ec->name, "_API_SECRET", sv, sizeof(sv));
    int rc = env_key_pair(kv, sv, key, ENG_KEY_MAX, secret, ENG_KEY_MAX, why, sizeof(why));
    if (rc == CLB_ENOTFOUND && strcmp(kv, "COLIBRI_BINANCE_API_KEY") != 0)
        rc = env_key_pair("COLIBRI_BINANCE_API_KEY", "COLIBRI_BINANCE_API_SECRET", key,
                          ENG_KEY_MAX, secret, ENG_KEY_MAX, why, sizeof(why));
    if (rc == CLB_ENOTFOUND)
        rc = secret_keys(e, ec->name, key, secret, why, sizeof(why));
    if (rc == CLB_ENOTFOUND)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "connectors[%zu] (%s): no API key: set %s and %s (or "
                        "COLIBRI_BINANCE_API_KEY and COLIBRI_BINANCE_API_SECRET), or store "
                        "%s.api_key and %s.api_secret with `colibri secret set`%s", i, ec->name,
                        kv, sv, ec->name, ec->name, why);
    if (rc != CLB_OK)
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu] (%s): API key: %s", i,
                        ec->name, why);
    return CLB_OK;
}

/* The gateway token of an amm connector: COLIBRI_<NAME>_GATEWAY_TOKEN, else
 * NAME.gateway_token in the encrypted secrets file. Never logged. */
static int gateway_token(struct clb_engine *e, const struct eng_conn *ec, size_t i, char *token,
                         char *err, size_t errlen)
{
    char tv[96], why[600] = "";
    env_var_name(ec->name, "_GATEWAY_TOKEN", tv, sizeof(tv));
    const char *t = getenv(tv);
    if (t && *t) {
        if (strlen(t) >= ENG_KEY_MAX)
            return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu] (%s): %s: too long", i,
                            ec->name, tv);
        memcpy(token, t, strlen(t) + 1);
        return CLB_OK;
    }
    int rc = secret_token(e, ec->name, token, why, sizeof(why));
    if (rc == CLB_ENOTFOUND)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "connectors[%zu] (%s): no gateway token: set %s, or store "
                        "%s.gateway_token with `colibri secret set`%s", i, ec->name, tv,
                        ec->name, why);
    if (rc != CLB_OK)
        return clb_errf(err, errlen, CLB_EINVAL, "connectors[%zu] (%s): gateway token: %s", i,
                        ec->name, why);
    return CLB_OK;
}

/* The engine listens to a connector's orders; the connector joins the clock
 * (before any strategy: producers tick first). */
static int attach_connector(struct clb_engine *e, struct eng_conn *ec, char *err, size_t errlen)
{
    if (clb_event_subscribe(&ec->bus, CLB_EV_MASK_ORDERS, on_order_event, ec) < 0)
        return clb_errf(err, errlen, CLB_EFULL, "connectors[%u]: event bus full", ec->idx);
    int rc = clb_clock_add(&e->clock, &ec->conn->it);
    if (rc != CLB_OK)
        return clb_errf(err, errlen, rc, "connectors[%u]: %s", ec->idx, clb_strerror(rc));
    return CLB_OK;
}

static int setup_connector(struct clb_engine *e, const struct engine_spec *sp,
                           const struct clb_engine_conn_start *cs_start, size_t i, char *err,
                           size_t errlen)
{
    const struct conn_spec *cs = &sp->conns[i];
    struct eng_conn *ec = &e->conns[i];
    ec->e = e;
    ec->idx = (uint8_t)i;
    ec->type = cs->type;
    snprintf(ec->name, sizeof(ec->name), "%s", cs->name);
    clb_event_bus_init(&ec->bus);
    int rc;
    for (size_t m = 0; m < cs->n_markets; m++) {
        struct eng_market *mk = &ec->markets[ec->n_markets];
        snprintf(mk->symbol, sizeof(mk->symbol), "%s", cs->symbols[m]);
        valid_symbol(mk->symbol, mk->base, mk->quote);
        char topic[sizeof(mk->topic)];
        snprintf(topic, sizeof(topic), "book:%s:%s", cs->name, mk->symbol);
        memcpy(mk->topic, topic, sizeof(topic));
        ec->n_markets++;
        if ((rc = add_asset(ec, mk->base)) != CLB_OK || (rc = add_asset(ec, mk->quote)) != CLB_OK)
            return clb_errf(err, errlen, rc, "connectors[%zu]: too many assets", i);
    }
    bool has_orders = cs_start && (cs_start->n_restore || cs_start->n_known ||
                                   cs_start->adopt_since_ms);
    if (has_orders && cs->type != CT_BINANCE)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "recovered orders of %s: not an exchange connector", ec->name);
    if (cs->type != CT_PAPER) {
        /* Created by the worker (setup_exchanges); its keys are read now,
         * so that missing ones fail clb_engine_create at once. */
        if (cs_start && cs_start->n_deltas > 0)
            return clb_errf(err, errlen, CLB_EINVAL,
                            "recovered balances of %s: not a paper connector", ec->name);
        e->xstart[i] = cs_start;
        if (cs->type == CT_AMM)
            return gateway_token(e, ec, i, e->keys[i].key, err, errlen);
        return api_keys(e, ec, i, e->keys[i].key, e->keys[i].secret, err, errlen);
    }
    if ((rc = setup_paper(ec, sp, cs_start, i, err, errlen)) != CLB_OK)
        return rc;
    return attach_connector(e, ec, err, errlen);
}

/* Worker, before anything else: the network loop and the exchange
 * connectors (their contract: created, driven and destroyed on the thread
 * that runs the loop). Their keys are wiped once used. */
static int setup_exchanges(struct clb_engine *e, char *err, size_t errlen)
{
    const struct engine_spec *sp = e->spec;
    int rc = CLB_OK;
    if (sp->n_exchange > 0) {
#ifdef COLIBRI_HAVE_NET
        struct clb_netloop_config lc;
        memset(&lc, 0, sizeof(lc));
        lc.ca_file = sp->ca_file[0] ? sp->ca_file : NULL;
        if ((rc = clb_netloop_create(&lc, &e->loop)) != CLB_OK) {
            e->loop = NULL;
            return clb_errf(err, errlen, rc, "network loop: %s", clb_strerror(rc));
        }
#endif
    }
    for (size_t i = 0; i < e->n_conns && rc == CLB_OK; i++) {
        struct eng_conn *ec = &e->conns[i];
        if (ec->type == CT_PAPER)
            continue;
        if (ec->type == CT_AMM)
            rc = setup_amm(e, ec, &sp->conns[i], i, e->keys[i].key, err, errlen);
        else
            rc = setup_binance(e, ec, &sp->conns[i], i, e->keys[i].key, e->keys[i].secret, err,
                               errlen);
        if (rc == CLB_OK)
            rc = attach_connector(e, ec, err, errlen);
    }
    wipe(e->keys, sizeof(e->keys[0]) * CLB_ENGINE_MAX_CONNECTORS);
    return rc;
}

/* Worker, at its end (the clock is stopped): the exchange connectors leave
 * the clock and are destroyed, then the loop. Also after a failed setup. */
static void teardown_exchanges(struct clb_engine *e)
{
    for (size_t i = 0; i < CLB_ENGINE_MAX_CONNECTORS; i++) {
        struct eng_conn *ec = &e->conns[i];
#ifdef COLIBRI_HAVE_BINANCE
        if (ec->binance) {
            clb_clock_remove(&e->clock, &ec->conn->it);
            clb_binance_destroy(ec->binance);
            ec->binance = NULL;
            ec->conn = NULL;
        }
#endif
#ifdef COLIBRI_HAVE_AMM
        if (ec->amm) {
            clb_clock_remove(&e->clock, &ec->conn->it);
            clb_amm_destroy(ec->amm);
            ec->amm = NULL;
            ec->conn = NULL;
        }
#endif
        (void)ec;
    }
#ifdef COLIBRI_HAVE_NET
    if (e->loop) {
        clb_netloop_destroy(e->loop);
        e->loop = NULL;
    }
#endif
}

static int setup_sources(struct clb_engine *e, int64_t start_ns, char *err, size_t errlen)
{
    for (size_t p = 0; p < N_PRESETS; p++) {
        struct eng_source *src = &e->sources[e->n_sources];
        for (size_t i = 0; i < e->n_conns; i++) {
            struct eng_conn *ec = &e->conns[i];
            for (uint32_t m = 0; m < ec->n_markets; m++)
                if (ec->markets[m].preset == &presets[p])
                    src->subs[src->n_subs++] = (struct eng_sub){ .ec = ec, .market = m };
        }
        if (src->n_subs == 0)
            continue;
        src->preset = &presets[p];
        struct clb_synth_params sp;
        preset_synth_params(src->preset, start_ns, &sp);
        uint64_t x = e->cfg.seed + UINT64_C(0x9e3779b97f4a7c15) * (p + 1);
        uint64_t seed = clb_splitmix64(&x);
        int rc = clb_synth_init(&src->synth, &sp, seed);
        if (rc != CLB_OK)
            return clb_errf(err, errlen, rc, "sim market %s: %s", src->preset->symbol,
                         clb_strerror(rc));
        src->inited = true;
        clb_synth_next(&src->synth, &src->next);
        e->n_sources++;
    }
    return CLB_OK;
}

int clb_engine_create(const struct clb_engine_config *cfg, struct clb_engine **out, char *err,
                      size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!cfg || !out)
        return clb_errf(err, errlen, CLB_EINVAL, "invalid arguments");
    struct engine_spec *sp = malloc(sizeof(*sp));
    if (!sp)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    int rc = parse_spec(cfg, sp, err, errlen);
    if (rc != CLB_OK) {
        free(sp);
        return rc;
    }
    struct clb_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        free(sp);
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    }
    e->cfg = *cfg;
    e->cfg.connectors = NULL; /* borrowed: not kept */
    e->cfg.balances = NULL;
    e->cfg.conn_start = NULL; /* borrowed during create only */
    e->cfg.n_conn_start = 0;   /* (data_dir too: cleared once the connectors are set up) */
    e->sw = cfg->store_writer;
    snprintf(e->store_backend, sizeof(e->store_backend), "%s",
             cfg->store_backend ? cfg->store_backend : "unknown");
    e->cfg.store_backend = NULL;
    e->store_avail = false; /* the first store_watch logs the state */
    if (!e->cfg.event_feed_capacity)
        e->cfg.event_feed_capacity = CLB_ENGINE_DEFAULT_FEED;
    e->cmd_efd = e->feed_efd = -1;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&e->life_mu, NULL);
    pthread_cond_init(&e->life_cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&e->q_mu, NULL);
    pthread_mutex_init(&e->snap_mu, NULL);
    pthread_mutex_init(&e->feed_mu, NULL);
    atomic_init(&e->stop_requested, false);
    atomic_init(&e->stop_timeout_ms, 0);
    e->next_id = cfg->strategy_id_base + 1;
    e->cfg.resume = NULL; /* copied below */
    e->cfg.n_resume = 0;
    e->start_mono_ns = mono_ns();
    e->started_ns = wall_now(e);
    e->feed_next_seq = 1;

    if (cfg->log) {
        e->log = cfg->log;
    } else if ((rc = clb_log_create(stderr, CLB_LOG_INFO, &e->log)) != CLB_OK) {
        rc = clb_errf(err, errlen, rc, "logger: %s", clb_strerror(rc));
        goto fail;
    } else {
        e->own_log = true;
    }
    if ((rc = resume_prepare(e, cfg)) != CLB_OK) {
        rc = clb_errf(err, errlen, rc, "out of memory");
        goto fail;
    }
    e->cmd_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->feed_efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (e->cmd_efd < 0 || e->feed_efd < 0) {
        rc = clb_errf(err, errlen, CLB_EIO, "eventfd: %s", strerror(errno));
        goto fail;
    }
    e->feed_cap = e->cfg.event_feed_capacity;
    e->ring = calloc(e->feed_cap, sizeof(*e->ring));
    e->fin = calloc(CLB_ENGINE_KEEP_FINISHED, sizeof(*e->fin));
    e->trades = calloc(CLB_ENGINE_KEEP_TRADES, sizeof(*e->trades));
    e->conns = calloc(CLB_ENGINE_MAX_CONNECTORS, sizeof(*e->conns));
    if (!e->ring || !e->fin || !e->trades || !e->conns) {
        rc = clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
        goto fail;
    }
    struct clb_clock_config cc = { .mode = CLB_CLOCK_REALTIME, .tick_ns = cfg->tick_ms * NS_PER_MS,
                                   .on_error = on_clock_error, .error_ud = e };
    if ((rc = clb_clock_init(&e->clock, &cc)) != CLB_OK) {
        rc = clb_errf(err, errlen, CLB_EINVAL, "tick_ms: %s", clb_strerror(rc));
        goto fail;
    }
    e->clock_inited = true;
    for (size_t i = 0; cfg->conn_start && i < cfg->n_conn_start; i++) {
        bool known = false;
        for (size_t c = 0; c < sp->n_conns; c++)
            known = known || (cfg->conn_start[i].connector &&
                              strcmp(cfg->conn_start[i].connector, sp->conns[c].name) == 0);
        if (!known) {
            rc = clb_errf(err, errlen, CLB_EINVAL, "conn_start[%zu]: not a configured connector", i);
            goto fail;
        }
    }
    for (size_t i = 0; i < sp->n_conns; i++) {
        if ((rc = setup_connector(e, sp, find_conn_start(cfg, sp->conns[i].name), i, err,
                                  errlen)) != CLB_OK)
            goto fail;
        e->n_conns++;
    }
    e->cfg.data_dir = NULL;
    if ((rc = setup_sources(e, e->started_ns, err, errlen)) != CLB_OK)
        goto fail;

    size_t n_books = 0;
    for (size_t i = 0; i < e->n_conns; i++)
        n_books += e->conns[i].n_markets;
    e->slots = calloc(SNAP_FIXED_ + n_books, sizeof(*e->slots));
    if (!e->slots) {
        rc = clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < SNAP_FIXED_; i++)
        snprintf(e->slots[i].name, sizeof(e->slots[i].name), "%s", snap_names[i]);
    e->n_slots = SNAP_FIXED_;
    for (size_t i = 0; i < e->n_conns; i++) {
        for (uint32_t m = 0; m < e->conns[i].n_markets; m++) {
            struct eng_market *mk = &e->conns[i].markets[m];
            mk->slot = e->n_slots;
            snprintf(e->slots[e->n_slots++].name, sizeof(e->slots[0].name), "%s", mk->topic);
        }
    }
    clb_log_set_sink(e->log, log_sink, e);
    /* The worker sets up the exchange connectors, publishes the first
     * snapshots and reports; they exist before create returns. */
    e->spec = sp;
    sp = NULL;
    if (pthread_create(&e->worker, NULL, worker_main, e) != 0) {
        rc = clb_errf(err, errlen, CLB_EIO, "cannot start the worker thread");
        goto fail;
    }
    e->worker_started = true;
    pthread_mutex_lock(&e->life_mu);
    while (!e->setup_done)
        pthread_cond_wait(&e->life_cv, &e->life_mu);
    rc = e->setup_rc;
    pthread_mutex_unlock(&e->life_mu);
    memset(e->xstart, 0, sizeof(e->xstart)); /* borrowed until here */
    if (rc != CLB_OK) {
        clb_errf(err, errlen, rc, "%s", e->setup_err);
        pthread_join(e->worker, NULL);
        e->joined = true;
        goto fail;
    }
    *out = e;
    return CLB_OK;
fail:
    free(sp);
    engine_free(e);
    return rc;
}

void clb_engine_shutdown(struct clb_engine *e, int timeout_ms)
{
    if (!e || on_worker(e))
        return;
    if (timeout_ms < 1)
        timeout_ms = 1;
    pthread_mutex_lock(&e->life_mu);
    if (!e->worker_started || e->joined) {
        pthread_mutex_unlock(&e->life_mu);
        return;
    }
    if (!atomic_load(&e->stop_requested)) {
        atomic_store(&e->stop_timeout_ms, timeout_ms);
        atomic_store(&e->stop_requested, true);
    }
    uint64_t one = 1;
    ssize_t w = write(e->cmd_efd, &one, sizeof(one));
    (void)w;
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t t = (int64_t)dl.tv_sec * NS_PER_S + dl.tv_nsec + (int64_t)timeout_ms * NS_PER_MS;
    dl.tv_sec = (time_t)(t / NS_PER_S);
    dl.tv_nsec = (long)(t % NS_PER_S);
    while (!e->worker_done) {
        if (pthread_cond_timedwait(&e->life_cv, &e->life_mu, &dl) == ETIMEDOUT)
            break;
    }
    if (e->worker_done && !e->joined) {
        pthread_join(e->worker, NULL);
        e->joined = true;
    }
    pthread_mutex_unlock(&e->life_mu);
}

void clb_engine_destroy(struct clb_engine *e)
{
    if (!e)
        return;
    if (e->worker_started) {
        clb_engine_shutdown(e, 5000);
        pthread_mutex_lock(&e->life_mu);
        bool joined = e->joined;
        pthread_mutex_unlock(&e->life_mu);
        if (!joined) {
            pthread_join(e->worker, NULL);
            e->joined = true;
        }
    }
    engine_free(e);
}
