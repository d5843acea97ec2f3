/*
 * simex_config.c — the simulator's configuration: defaults (Binance-like
 * BTCUSDT and ETHUSDT), the JSON document that overrides them, fault
 * documents (also used by POST /sim/faults), and the small CLI specs
 * ("HOST:PORT", "KEY:SECRET").
 *
 * The JSON reader is strict: an unknown key or a value of the wrong type is
 * an error naming the key, so a typo in a fault name cannot silently leave
 * the fault off.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "simex_internal.h"

static clb_dec dec_of(const char *s)
{
    clb_dec d = { 0, 0 };
    clb_dec_parse_cstr(s, &d);
    return d;
}

static void symbol_default(struct clb_simex_symbol *y, const char *sym, const char *base,
                           const char *quote, const char *step, const char *start,
                           const char *depth_top, const char *trade)
{
    memset(y, 0, sizeof(*y));
    snprintf(y->symbol, sizeof(y->symbol), "%s", sym);
    snprintf(y->base, sizeof(y->base), "%s", base);
    snprintf(y->quote, sizeof(y->quote), "%s", quote);
    y->tick_size = dec_of("0.01");
    y->min_price = dec_of("0.01");
    y->max_price = dec_of("1000000");
    y->step_size = dec_of(step);
    y->min_qty = dec_of(step);
    y->max_qty = dec_of("9000");
    y->min_notional = dec_of("5");
    y->max_notional = dec_of("9000000");
    y->live = true;
    y->start_price = dec_of(start);
    y->depth_top = dec_of(depth_top);
    y->trade_size = dec_of(trade);
    clb_synth_default_params(&y->market);
    snprintf(y->market.exchange, sizeof(y->market.exchange), "simex");
    snprintf(y->market.symbol, sizeof(y->market.symbol), "%s", sym);
}

void clb_simex_config_default(struct clb_simex_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->host, sizeof(cfg->host), "127.0.0.1");
    cfg->port = 9443;
    cfg->seed = 1;
    symbol_default(&cfg->symbols[0], "BTCUSDT", "BTC", "USDT", "0.00001", "60000", "0.2", "0.05");
    symbol_default(&cfg->symbols[1], "ETHUSDT", "ETH", "USDT", "0.0001", "3000", "3", "0.5");
    cfg->n_symbols = 2;
    const char *bal[][2] = { { "BTC", "10" }, { "ETH", "10" }, { "USDT", "1000000" } };
    for (int i = 0; i < 3; i++) {
        snprintf(cfg->balances[i].asset, sizeof(cfg->balances[i].asset), "%s", bal[i][0]);
        cfg->balances[i].amount = dec_of(bal[i][1]);
    }
    cfg->n_balances = 3;
    cfg->maker_fee_ppm = 1000;
    cfg->taker_fee_ppm = 1000;
    cfg->max_orders = 100000;
    cfg->max_trades = 262144;
    cfg->limits = (struct clb_simex_limits){ .request_weight = 6000, .window_ms = 60000,
                                             .orders_10s = 100, .orders_day = 200000,
                                             .ban_after_429 = 5, .ban_ms = 120000,
                                             .max_open_orders = 200 };
    cfg->faults.timeout_hold_ms = 30000;
    cfg->faults.shutdown_grace_ms = 1000;
}

/* ------------------------------------------------------------------------ */
/* JSON helpers                                                              */

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return CLB_EPARSE;
}

static int get_i64(json_t *v, const char *key, int64_t lo, int64_t hi, int64_t *out, char *err,
                   size_t errlen)
{
    if (!json_is_integer(v))
        return fail(err, errlen, "'%s' must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return fail(err, errlen, "'%s' is out of range", key);
    *out = x;
    return CLB_OK;
}

static int get_i32(json_t *v, const char *key, int32_t lo, int32_t hi, int32_t *out, char *err,
                   size_t errlen)
{
    int64_t x = 0;
    int rc = get_i64(v, key, lo, hi, &x, err, errlen);
    if (rc == CLB_OK)
        *out = (int32_t)x;
    return rc;
}

static int get_rate(json_t *v, const char *key, double *out, char *err, size_t errlen)
{
    if (!json_is_number(v))
        return fail(err, errlen, "'%s' must be a number", key);
    double x = json_number_value(v);
    if (!(x >= 0.0 && x <= 1.0))
        return fail(err, errlen, "'%s' must be within 0..1", key);
    *out = x;
    return CLB_OK;
}

static int get_double(json_t *v, const char *key, double *out, char *err, size_t errlen)
{
    if (!json_is_number(v) || !isfinite(json_number_value(v)))
        return fail(err, errlen, "'%s' must be a number", key);
    *out = json_number_value(v);
    return CLB_OK;
}

/* A decimal given as a string ("0.01") or an integer. */
static int get_dec(json_t *v, const char *key, clb_dec *out, char *err, size_t errlen)
{
    if (json_is_integer(v)) {
        *out = clb_dec_make(json_integer_value(v), 0);
        return CLB_OK;
    }
    if (!json_is_string(v) || clb_dec_parse_cstr(json_string_value(v), out) != CLB_OK ||
        out->m < 0)
        return fail(err, errlen, "'%s' must be a non-negative decimal string", key);
    return CLB_OK;
}

static int get_name(json_t *v, const char *key, char *out, size_t cap, char *err, size_t errlen)
{
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) >= cap)
        return fail(err, errlen, "'%s' must be a non-empty short string", key);
    for (const char *p = json_string_value(v); *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            return fail(err, errlen, "'%s' must be upper-case letters and digits", key);
    snprintf(out, cap, "%s", json_string_value(v));
    return CLB_OK;
}

/* ------------------------------------------------------------------------ */
/* Faults                                                                    */

int sx_faults_apply_json(struct clb_simex_faults *f, json_t *obj, bool *shutdown_now,
                         bool *reseed, uint64_t *seed, char *err, size_t errlen)
{
    if (!json_is_object(obj))
        return fail(err, errlen, "%s must be an object", "faults");
    struct clb_simex_faults n = *f;
    const char *key;
    json_t *v;
    int rc = CLB_OK;
    json_object_foreach(obj, key, v) {
        const int32_t BIG = 86400000;
        if (strcmp(key, "latency_ms") == 0)
            rc = get_i32(v, key, 0, BIG, &n.latency_ms, err, errlen);
        else if (strcmp(key, "jitter_ms") == 0)
            rc = get_i32(v, key, 0, BIG, &n.jitter_ms, err, errlen);
        else if (strcmp(key, "http_5xx_rate") == 0)
            rc = get_rate(v, key, &n.http_5xx_rate, err, errlen);
        else if (strcmp(key, "http_5xx_commit_rate") == 0)
            rc = get_rate(v, key, &n.http_5xx_commit_rate, err, errlen);
        else if (strcmp(key, "timeout_after_commit_rate") == 0)
            rc = get_rate(v, key, &n.timeout_after_commit_rate, err, errlen);
        else if (strcmp(key, "timeout_hold_ms") == 0)
            rc = get_i32(v, key, 1, BIG, &n.timeout_hold_ms, err, errlen);
        else if (strcmp(key, "cancel_unknown_ms") == 0)
            rc = get_i32(v, key, 0, BIG, &n.cancel_unknown_ms, err, errlen);
        else if (strcmp(key, "stale_read_ms") == 0)
            rc = get_i32(v, key, 0, BIG, &n.stale_read_ms, err, errlen);
        else if (strcmp(key, "ws_disconnect_every_ms") == 0)
            rc = get_i32(v, key, 0, BIG, &n.ws_disconnect_every_ms, err, errlen);
        else if (strcmp(key, "depth_drop_rate") == 0)
            rc = get_rate(v, key, &n.depth_drop_rate, err, errlen);
        else if (strcmp(key, "shutdown_every_ms") == 0)
            rc = get_i32(v, key, 0, BIG, &n.shutdown_every_ms, err, errlen);
        else if (strcmp(key, "shutdown_grace_ms") == 0)
            rc = get_i32(v, key, 0, BIG, &n.shutdown_grace_ms, err, errlen);
        else if (strcmp(key, "clock_skew_ms") == 0)
            rc = get_i64(v, key, -(INT64_C(1) << 50), INT64_C(1) << 50, &n.clock_skew_ms, err,
                         errlen);
        else if (strcmp(key, "server_shutdown") == 0 && shutdown_now) {
            if (!json_is_boolean(v))
                rc = fail(err, errlen, "'%s' must be a boolean", key);
            else
                *shutdown_now = json_is_true(v);
        } else if (strcmp(key, "seed") == 0 && reseed) {
            int64_t x = 0;
            rc = get_i64(v, key, 0, INT64_MAX, &x, err, errlen);
            if (rc == CLB_OK) {
                *reseed = true;
                *seed = (uint64_t)x;
            }
        } else
            rc = fail(err, errlen, "unknown fault '%s'", key);
        if (rc != CLB_OK)
            return rc;
    }
    *f = n;
    return CLB_OK;
}

json_t *sx_faults_to_json(const struct clb_simex_faults *f)
{
    return json_pack("{s:i, s:i, s:f, s:f, s:f, s:i, s:i, s:i, s:i, s:f, s:i, s:i, s:I}",
                     "latency_ms", f->latency_ms, "jitter_ms", f->jitter_ms, "http_5xx_rate",
                     f->http_5xx_rate, "http_5xx_commit_rate", f->http_5xx_commit_rate,
                     "timeout_after_commit_rate", f->timeout_after_commit_rate,
                     "timeout_hold_ms", f->timeout_hold_ms, "cancel_unknown_ms",
                     f->cancel_unknown_ms, "stale_read_ms", f->stale_read_ms,
                     "ws_disconnect_every_ms", f->ws_disconnect_every_ms, "depth_drop_rate",
                     f->depth_drop_rate, "shutdown_every_ms", f->shutdown_every_ms,
                     "shutdown_grace_ms", f->shutdown_grace_ms, "clock_skew_ms",
                     (json_int_t)f->clock_skew_ms);
}

int sx_dec_digits(clb_dec d)
{
    return clb_dec_normalize(d).scale;
}

/* ------------------------------------------------------------------------ */
/* The document                                                              */

static int load_limits(struct clb_simex_limits *l, json_t *obj, char *err, size_t errlen)
{
    if (!json_is_object(obj))
        return fail(err, errlen, "%s must be an object", "limits");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int32_t *dst = NULL;
        int32_t lo = 1;
        if (strcmp(key, "request_weight") == 0)
            dst = &l->request_weight;
        else if (strcmp(key, "window_ms") == 0)
            dst = &l->window_ms;
        else if (strcmp(key, "orders_10s") == 0)
            dst = &l->orders_10s;
        else if (strcmp(key, "orders_day") == 0)
            dst = &l->orders_day;
        else if (strcmp(key, "ban_after_429") == 0)
            dst = &l->ban_after_429, lo = 0;
        else if (strcmp(key, "ban_ms") == 0)
            dst = &l->ban_ms;
        else if (strcmp(key, "max_open_orders") == 0)
            dst = &l->max_open_orders;
        else
            return fail(err, errlen, "unknown limit '%s'", key);
        int rc = get_i32(v, key, lo, 1000000000, dst, err, errlen);
        if (rc != CLB_OK)
            return rc;
    }
    return CLB_OK;
}

static int load_market_params(struct clb_synth_params *p, json_t *obj, char *err, size_t errlen)
{
    if (!json_is_object(obj))
        return fail(err, errlen, "%s must be an object", "market");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int rc;
        double *d = NULL;
        if (strcmp(key, "levels") == 0) {
            int64_t x = 0;
            if ((rc = get_i64(v, key, 1, CLB_SYNTH_MAX_LEVELS, &x, err, errlen)) != CLB_OK)
                return rc;
            p->levels = (uint32_t)x;
            continue;
        }
        if (strcmp(key, "trade_max_levels") == 0) {
            int64_t x = 0;
            if ((rc = get_i64(v, key, 1, 1000, &x, err, errlen)) != CLB_OK)
                return rc;
            p->trade_max_levels = (uint32_t)x;
            continue;
        }
        if (strcmp(key, "level_gap_ticks") == 0)
            d = &p->level_gap_ticks;
        else if (strcmp(key, "book_msgs_per_sec") == 0)
            d = &p->book_msgs_per_sec;
        else if (strcmp(key, "volatility") == 0)
            d = &p->volatility;
        else if (strcmp(key, "spread_mean_ticks") == 0)
            d = &p->spread_mean_ticks;
        else if (strcmp(key, "spread_reversion") == 0)
            d = &p->spread_reversion;
        else if (strcmp(key, "spread_vol_ticks") == 0)
            d = &p->spread_vol_ticks;
        else if (strcmp(key, "depth_growth") == 0)
            d = &p->depth_growth;
        else if (strcmp(key, "depth_noise") == 0)
            d = &p->depth_noise;
        else if (strcmp(key, "trade_base_rate") == 0)
            d = &p->trade_base_rate;
        else if (strcmp(key, "trade_excitation") == 0)
            d = &p->trade_excitation;
        else if (strcmp(key, "trade_decay") == 0)
            d = &p->trade_decay;
        else if (strcmp(key, "trade_size_sigma") == 0)
            d = &p->trade_size_sigma;
        else
            return fail(err, errlen, "unknown market parameter '%s'", key);
        if ((rc = get_double(v, key, d, err, errlen)) != CLB_OK)
            return rc;
    }
    return CLB_OK;
}

static int load_symbol(struct clb_simex_symbol *y, json_t *obj, char *err, size_t errlen)
{
    if (!json_is_object(obj))
        return fail(err, errlen, "%s entries must be objects", "symbols");
    json_t *sym = json_object_get(obj, "symbol");
    int rc = get_name(sym, "symbol", y->symbol, sizeof(y->symbol), err, errlen);
    if (rc != CLB_OK)
        return rc;
    /* start from the BTCUSDT-like defaults with this name */
    char name[CLB_SIMEX_NAME_MAX];
    snprintf(name, sizeof(name), "%s", y->symbol);
    symbol_default(y, name, "", "", "0.00001", "100", "1", "0.1");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (strcmp(key, "symbol") == 0)
            continue;
        if (strcmp(key, "base") == 0)
            rc = get_name(v, key, y->base, sizeof(y->base), err, errlen);
        else if (strcmp(key, "quote") == 0)
            rc = get_name(v, key, y->quote, sizeof(y->quote), err, errlen);
        else if (strcmp(key, "tick_size") == 0)
            rc = get_dec(v, key, &y->tick_size, err, errlen);
        else if (strcmp(key, "min_price") == 0)
            rc = get_dec(v, key, &y->min_price, err, errlen);
        else if (strcmp(key, "max_price") == 0)
            rc = get_dec(v, key, &y->max_price, err, errlen);
        else if (strcmp(key, "step_size") == 0)
            rc = get_dec(v, key, &y->step_size, err, errlen);
        else if (strcmp(key, "min_qty") == 0)
            rc = get_dec(v, key, &y->min_qty, err, errlen);
        else if (strcmp(key, "max_qty") == 0)
            rc = get_dec(v, key, &y->max_qty, err, errlen);
        else if (strcmp(key, "min_notional") == 0)
            rc = get_dec(v, key, &y->min_notional, err, errlen);
        else if (strcmp(key, "max_notional") == 0)
            rc = get_dec(v, key, &y->max_notional, err, errlen);
        else if (strcmp(key, "start_price") == 0)
            rc = get_dec(v, key, &y->start_price, err, errlen);
        else if (strcmp(key, "depth_top") == 0)
            rc = get_dec(v, key, &y->depth_top, err, errlen);
        else if (strcmp(key, "trade_size") == 0)
            rc = get_dec(v, key, &y->trade_size, err, errlen);
        else if (strcmp(key, "live") == 0) {
            if (!json_is_boolean(v))
                rc = fail(err, errlen, "'%s' must be a boolean", key);
            else
                y->live = json_is_true(v);
        } else if (strcmp(key, "market") == 0)
            rc = load_market_params(&y->market, v, err, errlen);
        else
            rc = fail(err, errlen, "unknown symbol key '%s'", key);
        if (rc != CLB_OK)
            return rc;
    }
    if (!y->base[0] || !y->quote[0])
        return fail(err, errlen, "symbol %s needs 'base' and 'quote'", y->symbol);
    /* the smallest price and quantity default to one tick and one step */
    if (!json_object_get(obj, "min_price"))
        y->min_price = y->tick_size;
    if (!json_object_get(obj, "min_qty"))
        y->min_qty = y->step_size;
    return CLB_OK;
}

static int fee_ppm(json_t *v, const char *key, int32_t *out, char *err, size_t errlen)
{
    clb_dec d;
    int64_t ppm;
    int rc = get_dec(v, key, &d, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (clb_dec_to_scaled(d, 6, &ppm) != CLB_OK || ppm > 1000000)
        return fail(err, errlen, "'%s' must be a fraction with at most 6 decimals", key);
    *out = (int32_t)ppm;
    return CLB_OK;
}

static int load_doc(struct clb_simex_config *cfg, json_t *root, char *err, size_t errlen)
{
    if (!json_is_object(root))
        return fail(err, errlen, "%s: the configuration must be a JSON object", "config");
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        int rc = CLB_OK;
        if (strcmp(key, "listen") == 0) {
            if (!json_is_string(v) ||
                clb_simex_config_set_listen(cfg, json_string_value(v)) != CLB_OK)
                rc = fail(err, errlen, "'%s' must be \"HOST:PORT\"", key);
        } else if (strcmp(key, "seed") == 0) {
            int64_t x = 0;
            rc = get_i64(v, key, 0, INT64_MAX, &x, err, errlen);
            cfg->seed = (uint64_t)x;
        } else if (strcmp(key, "quiet") == 0) {
            cfg->quiet = json_is_true(v);
        } else if (strcmp(key, "tls") == 0) {
            if (json_is_boolean(v)) {
                cfg->tls = json_is_true(v);
            } else if (json_is_object(v)) {
                json_t *c = json_object_get(v, "cert"), *k = json_object_get(v, "key");
                if (!json_is_string(c) || !json_is_string(k) || json_object_size(v) != 2)
                    rc = fail(err, errlen, "'%s' must be true or {\"cert\":..,\"key\":..}", key);
                else {
                    cfg->tls = true;
                    snprintf(cfg->cert_path, sizeof(cfg->cert_path), "%s",
                             json_string_value(c));
                    snprintf(cfg->key_path, sizeof(cfg->key_path), "%s", json_string_value(k));
                }
            } else
                rc = fail(err, errlen, "'%s' must be true or {\"cert\":..,\"key\":..}", key);
        } else if (strcmp(key, "fees") == 0) {
            json_t *mk = json_object_get(v, "maker"), *tk = json_object_get(v, "taker");
            if (!json_is_object(v) || !mk || !tk || json_object_size(v) != 2)
                rc = fail(err, errlen, "'%s' must be {\"maker\":..,\"taker\":..}", key);
            else if ((rc = fee_ppm(mk, "maker", &cfg->maker_fee_ppm, err, errlen)) == CLB_OK)
                rc = fee_ppm(tk, "taker", &cfg->taker_fee_ppm, err, errlen);
        } else if (strcmp(key, "balances") == 0) {
            if (!json_is_object(v) || json_object_size(v) > CLB_SIMEX_MAX_ASSETS) {
                rc = fail(err, errlen, "'%s' must be an object of asset: amount", key);
            } else {
                cfg->n_balances = 0;
                const char *a;
                json_t *amt;
                json_object_foreach(v, a, amt) {
                    struct clb_simex_balance *b = &cfg->balances[cfg->n_balances];
                    json_t *name = json_string(a);
                    rc = get_name(name, "balances", b->asset, sizeof(b->asset), err, errlen);
                    json_decref(name);
                    if (rc == CLB_OK)
                        rc = get_dec(amt, a, &b->amount, err, errlen);
                    if (rc != CLB_OK)
                        break;
                    cfg->n_balances++;
                }
            }
        } else if (strcmp(key, "accounts") == 0) {
            if (!json_is_array(v)) {
                rc = fail(err, errlen, "'%s' must be an array", key);
            } else {
                cfg->n_accounts = 0;
                size_t i;
                json_t *a;
                json_array_foreach(v, i, a) {
                    json_t *k = json_object_get(a, "api_key"), *s = json_object_get(a, "secret");
                    char spec[2 * CLB_SIMEX_KEY_MAX + 2];
                    if (!json_is_string(k) || !json_is_string(s) || json_object_size(a) != 2) {
                        rc = fail(err, errlen, "'%s' entries are {\"api_key\":..,\"secret\":..}",
                                  key);
                        break;
                    }
                    snprintf(spec, sizeof(spec), "%s:%s", json_string_value(k),
                             json_string_value(s));
                    if (clb_simex_config_add_account(cfg, spec) != CLB_OK) {
                        rc = fail(err, errlen, "bad or duplicate account in '%s'", key);
                        break;
                    }
                }
            }
        } else if (strcmp(key, "symbols") == 0) {
            if (!json_is_array(v) || json_array_size(v) == 0 ||
                json_array_size(v) > CLB_SIMEX_MAX_SYMBOLS) {
                rc = fail(err, errlen, "'%s' must be an array of 1..8 symbols", key);
            } else {
                cfg->n_symbols = 0;
                size_t i;
                json_t *y;
                json_array_foreach(v, i, y) {
                    if ((rc = load_symbol(&cfg->symbols[i], y, err, errlen)) != CLB_OK)
                        break;
                    cfg->n_symbols++;
                }
            }
        } else if (strcmp(key, "max_orders") == 0 || strcmp(key, "max_trades") == 0) {
            int64_t x = 0;
            rc = get_i64(v, key, 1024, 1 << 24, &x, err, errlen);
            if (key[4] == 'o')
                cfg->max_orders = (uint32_t)x;
            else
                cfg->max_trades = (uint32_t)x;
        } else if (strcmp(key, "limits") == 0) {
            rc = load_limits(&cfg->limits, v, err, errlen);
        } else if (strcmp(key, "faults") == 0) {
            rc = sx_faults_apply_json(&cfg->faults, v, NULL, NULL, NULL, err, errlen);
        } else {
            rc = fail(err, errlen, "unknown configuration key '%s'", key);
        }
        if (rc != CLB_OK)
            return rc;
    }
    return CLB_OK;
}

int clb_simex_config_load_json(struct clb_simex_config *cfg, const char *json, size_t len,
                               char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (err && errlen)
            snprintf(err, errlen, "JSON error at line %d: %s", je.line, je.text);
        return CLB_EPARSE;
    }
    int rc = load_doc(cfg, root, err, errlen);
    json_decref(root);
    return rc;
}

int clb_simex_config_load_file(struct clb_simex_config *cfg, const char *path, char *err,
                               size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (err && errlen)
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return CLB_EIO;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = CLB_OK;
    for (;;) {
        if (len + 4096 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > (16u << 20)) {
                rc = CLB_ERANGE;
                break;
            }
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = CLB_ENOMEM;
                break;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(f) && rc == CLB_OK)
        rc = CLB_EIO;
    fclose(f);
    if (rc == CLB_OK)
        rc = clb_simex_config_load_json(cfg, buf, len, err, errlen);
    else if (err && errlen)
        snprintf(err, errlen, "%s: %s", path, clb_strerror(rc));
    free(buf);
    return rc;
}

int clb_simex_config_add_account(struct clb_simex_config *cfg, const char *spec)
{
    const char *colon = spec ? strchr(spec, ':') : NULL;
    if (!colon || colon == spec || !colon[1])
        return CLB_EINVAL;
    size_t kl = (size_t)(colon - spec), sl = strlen(colon + 1);
    if (kl >= CLB_SIMEX_KEY_MAX || sl >= CLB_SIMEX_KEY_MAX)
        return CLB_EINVAL;
    for (size_t i = 0; i < kl; i++) {
        char c = spec[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_'))
            return CLB_EINVAL;
    }
    for (uint32_t i = 0; i < cfg->n_accounts; i++)
        if (strlen(cfg->accounts[i].api_key) == kl &&
            memcmp(cfg->accounts[i].api_key, spec, kl) == 0)
            return CLB_EINVAL;
    if (cfg->n_accounts >= CLB_SIMEX_MAX_ACCOUNTS)
        return CLB_EFULL;
    struct clb_simex_account *a = &cfg->accounts[cfg->n_accounts++];
    memcpy(a->api_key, spec, kl);
    a->api_key[kl] = '\0';
    memcpy(a->secret, colon + 1, sl + 1);
    return CLB_OK;
}

int clb_simex_config_set_listen(struct clb_simex_config *cfg, const char *spec)
{
    const char *colon = strrchr(spec, ':');
    const char *port = colon ? colon + 1 : spec;
    char *end;
    errno = 0;
    long p = strtol(port, &end, 10);
    if (!*port || *end || errno || p < 0 || p > 65535)
        return CLB_EINVAL;
    if (colon && colon != spec) {
        size_t hl = (size_t)(colon - spec);
        if (hl >= sizeof(cfg->host))
            return CLB_EINVAL;
        memcpy(cfg->host, spec, hl);
        cfg->host[hl] = '\0';
    }
    cfg->port = (int)p;
    return CLB_OK;
}
