/*
 * binance_throttle.c — fixed-window rate limiting with linked limits.
 *
 * Each limit keeps two counters: `count`, the units in the window in force
 * (index win = floor((now - m) / I)), and `next`, the units recorded close
 * enough to the window's end (t + m >= (win + 1) * I) that they may belong
 * to the next one. When the window in force advances by one, next becomes
 * count; by more, both start at zero. With m <= I/4 a request can only
 * straddle two adjacent windows, so these two counters are the whole state
 * (tests/connectors/binance_throttle_test.c checks them against a list of
 * every request's timestamp).
 */
#include "binance_throttle.h"

#include <string.h>

#include "binance_msg.h"

#define MAX_INTERVAL_MS (31LL * 86400000LL)

static int64_t floordiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

struct clb_bn_cost clb_bn_endpoint_cost(enum clb_bn_endpoint ep, int arg)
{
    struct clb_bn_cost c = { .weight = 1 };
    switch (ep) {
    case CLB_BN_EP_PING:
    case CLB_BN_EP_TIME:
    case CLB_BN_EP_ORDER_CANCEL:
    case CLB_BN_EP_CANCEL_ALL:
        break;
    case CLB_BN_EP_EXCHANGE_INFO:
    case CLB_BN_EP_ACCOUNT:
    case CLB_BN_EP_COMMISSION:
        c.weight = 20;
        break;
    case CLB_BN_EP_DEPTH:
        c.weight = arg <= 100 ? 5 : arg <= 500 ? 25 : arg <= 1000 ? 50 : 250;
        break;
    case CLB_BN_EP_ORDER_NEW:
        c.orders = 1;
        break;
    case CLB_BN_EP_ORDER_STATUS:
        c.weight = 4;
        break;
    case CLB_BN_EP_OPEN_ORDERS:
        c.weight = arg ? 80 : 6;
        break;
    case CLB_BN_EP_MY_TRADES:
        c.weight = arg ? 5 : 20;
        break;
    case CLB_BN_EP_WS_CONNECT:
    case CLB_BN_EP_USER_STREAM_SUBSCRIBE:
        c.weight = 2;
        break;
    default:
        break;
    }
    return c;
}

void clb_bn_throttle_config_defaults(struct clb_bn_throttle_config *cfg)
{
    cfg->capacity_pct = 95;
    cfg->low_priority_pct = 80;
    cfg->boundary_margin_ms = 250;
    cfg->default_retry_429_ms = 10000;
    cfg->default_retry_418_ms = 120000;
}

static bool config_ok(const struct clb_bn_throttle_config *cfg)
{
    return cfg->capacity_pct >= 1 && cfg->capacity_pct <= 100 && cfg->low_priority_pct >= 1 &&
           cfg->low_priority_pct <= 100 && cfg->boundary_margin_ms >= 0 &&
           cfg->default_retry_429_ms > 0 && cfg->default_retry_418_ms > 0;
}

static bool limits_ok(const struct clb_bn_throttle_config *cfg,
                      const struct clb_bn_rate_limits *limits)
{
    if (!limits || limits->n == 0 || limits->n > CLB_BN_MAX_RATE_LIMITS)
        return false;
    for (size_t i = 0; i < limits->n; i++) {
        const struct clb_bn_rate_limit *l = &limits->l[i];
        if (l->type != CLB_BN_LIMIT_REQUEST_WEIGHT && l->type != CLB_BN_LIMIT_ORDERS &&
            l->type != CLB_BN_LIMIT_RAW_REQUESTS)
            return false;
        if (l->limit <= 0 || l->limit > INT64_MAX / 200 || l->interval_ms <= 0 ||
            l->interval_ms > MAX_INTERVAL_MS || cfg->boundary_margin_ms * 4 > l->interval_ms)
            return false;
    }
    return true;
}

static void load_windows(struct clb_bn_throttle *t, const struct clb_bn_rate_limits *limits)
{
    struct clb_bn_window_ old[CLB_BN_MAX_RATE_LIMITS];
    size_t n_old = t->n;
    memcpy(old, t->w, sizeof(old));
    for (size_t i = 0; i < limits->n; i++) {
        struct clb_bn_window_ *w = &t->w[i];
        memset(w, 0, sizeof(*w));
        w->rl = limits->l[i];
        w->rl.count = -1;
        w->cap = w->rl.limit * t->cfg.capacity_pct / 100;
        if (w->cap < 1)
            w->cap = 1;
        w->low_cap = w->cap * t->cfg.low_priority_pct / 100;
        if (w->low_cap < 1)
            w->low_cap = 1;
        for (size_t j = 0; j < n_old; j++)
            if (old[j].rl.type == w->rl.type && old[j].rl.interval_ms == w->rl.interval_ms) {
                w->win = old[j].win;
                w->count = old[j].count;
                w->next = old[j].next;
                w->started = old[j].started;
                break;
            }
    }
    t->n = limits->n;
}

int clb_bn_throttle_init(struct clb_bn_throttle *t, const struct clb_bn_throttle_config *cfg,
                         const struct clb_bn_rate_limits *limits)
{
    if (!t || !cfg || !config_ok(cfg) || !limits_ok(cfg, limits))
        return CLB_EINVAL;
    memset(t, 0, sizeof(*t));
    t->cfg = *cfg;
    load_windows(t, limits);
    return CLB_OK;
}

int clb_bn_throttle_set_limits(struct clb_bn_throttle *t, const struct clb_bn_rate_limits *limits)
{
    if (!t || !limits_ok(&t->cfg, limits))
        return CLB_EINVAL;
    load_windows(t, limits);
    return CLB_OK;
}

int clb_bn_throttle_load_json(struct clb_bn_throttle *t, const char *json, size_t len,
                              char *err, size_t errlen)
{
    struct clb_bn_rate_limits rl;
    if (!t)
        return CLB_EINVAL;
    int rc = clb_bn_parse_rate_limits(json, len, &rl, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (!limits_ok(&t->cfg, &rl))
        return clb_errf(err, errlen, CLB_EINVAL,
                        "rateLimits: no usable limits, or an interval shorter than 4 x the "
                        "boundary margin");
    load_windows(t, &rl);
    return CLB_OK;
}

/* Brings a window to the one in force at now (never backwards). */
static void roll(struct clb_bn_window_ *w, int64_t m, int64_t now)
{
    int64_t k = floordiv(now - m, w->rl.interval_ms);
    if (!w->started) {
        w->started = true;
        w->win = k;
        w->count = w->next = 0;
    } else if (k > w->win) {
        w->count = k == w->win + 1 ? w->next : 0;
        w->next = 0;
        w->win = k;
    }
}

static int64_t units_of(const struct clb_bn_window_ *w, struct clb_bn_cost c)
{
    switch (w->rl.type) {
    case CLB_BN_LIMIT_REQUEST_WEIGHT:
        return c.weight;
    case CLB_BN_LIMIT_ORDERS:
        return c.orders;
    case CLB_BN_LIMIT_RAW_REQUESTS:
        return 1;
    }
    return 0;
}

/* CLB_OK or CLB_BN_EAGAIN with the wait, CLB_EINVAL; records nothing. */
static int evaluate(const struct clb_bn_throttle *t, int64_t now, struct clb_bn_cost cost,
                    int64_t *wait_out)
{
    if (cost.weight < 0 || cost.orders < 0)
        return CLB_EINVAL;
    int64_t m = t->cfg.boundary_margin_ms, wait = 0;
    for (size_t i = 0; i < t->n; i++) {
        struct clb_bn_window_ w = t->w[i];
        int64_t u = units_of(&w, cost);
        if (u == 0)
            continue;
        int64_t cap = cost.low_priority ? w.low_cap : w.cap;
        if (u > cap)
            return CLB_EINVAL;
        roll(&w, m, now);
        if (w.count + u <= cap)
            continue;
        int64_t I = w.rl.interval_ms;
        int64_t wl = (w.win + 1) * I + m - now;
        if (w.next + u > cap)
            wl += I;
        if (wl > wait)
            wait = wl;
    }
    if (t->blocked_until_ms > now && t->blocked_until_ms - now > wait)
        wait = t->blocked_until_ms - now;
    *wait_out = wait;
    return wait > 0 ? CLB_BN_EAGAIN : CLB_OK;
}

int clb_bn_throttle_check(const struct clb_bn_throttle *t, int64_t now_ms,
                          struct clb_bn_cost cost, int64_t *wait_ms)
{
    if (!t)
        return CLB_EINVAL;
    int64_t wait = 0;
    int rc = evaluate(t, now_ms, cost, &wait);
    if (wait_ms && rc != CLB_EINVAL)
        *wait_ms = wait;
    return rc;
}

int clb_bn_throttle_acquire(struct clb_bn_throttle *t, int64_t now_ms, struct clb_bn_cost cost,
                            int64_t *wait_ms)
{
    if (!t)
        return CLB_EINVAL;
    int64_t wait = 0;
    int rc = evaluate(t, now_ms, cost, &wait);
    if (wait_ms && rc != CLB_EINVAL)
        *wait_ms = wait;
    if (rc != CLB_OK) {
        if (rc == CLB_BN_EAGAIN)
            t->refused++;
        return rc;
    }
    int64_t m = t->cfg.boundary_margin_ms;
    for (size_t i = 0; i < t->n; i++) {
        struct clb_bn_window_ *w = &t->w[i];
        int64_t u = units_of(w, cost);
        roll(w, m, now_ms);
        if (u == 0)
            continue;
        w->count += u;
        if (floordiv(now_ms + m, w->rl.interval_ms) > w->win)
            w->next += u;
    }
    t->admitted++;
    return CLB_OK;
}

static struct clb_bn_window_ *find(struct clb_bn_throttle *t, enum clb_bn_limit_type type,
                                   int64_t interval_ms)
{
    struct clb_bn_window_ *best = NULL;
    for (size_t i = 0; i < t->n; i++) {
        struct clb_bn_window_ *w = &t->w[i];
        if (w->rl.type != type)
            continue;
        if (interval_ms > 0 && w->rl.interval_ms == interval_ms)
            return w;
        if (interval_ms == 0 && (!best || w->rl.interval_ms < best->rl.interval_ms))
            best = w;
    }
    return best;
}

int clb_bn_throttle_observe_count(struct clb_bn_throttle *t, enum clb_bn_limit_type type,
                                  int64_t interval_ms, int64_t sent_ms, int64_t now_ms,
                                  int64_t count)
{
    if (!t || count < 0 || interval_ms < 0 || sent_ms > now_ms)
        return CLB_EINVAL;
    struct clb_bn_window_ *w = find(t, type, interval_ms);
    if (!w)
        return CLB_ENOTFOUND;
    int64_t m = t->cfg.boundary_margin_ms, I = w->rl.interval_ms;
    roll(w, m, now_ms);
    if (floordiv(sent_ms - m, I) != w->win || floordiv(sent_ms + m, I) != w->win ||
        floordiv(now_ms + m, I) != w->win || floordiv(now_ms - m, I) != w->win)
        return CLB_ESTALE;
    if (count <= w->count)
        return CLB_ESTALE;
    w->count = count;
    return CLB_OK;
}

int clb_bn_throttle_observe_used_weight(struct clb_bn_throttle *t, int64_t sent_ms,
                                        int64_t now_ms, int64_t used)
{
    return clb_bn_throttle_observe_count(t, CLB_BN_LIMIT_REQUEST_WEIGHT, 0, sent_ms, now_ms,
                                         used);
}

void clb_bn_throttle_observe_limits(struct clb_bn_throttle *t, int64_t sent_ms, int64_t now_ms,
                                    const struct clb_bn_rate_limits *counts)
{
    if (!t || !counts)
        return;
    for (size_t i = 0; i < counts->n && i < CLB_BN_MAX_RATE_LIMITS; i++)
        if (counts->l[i].count >= 0)
            clb_bn_throttle_observe_count(t, counts->l[i].type, counts->l[i].interval_ms,
                                          sent_ms, now_ms, counts->l[i].count);
}

void clb_bn_throttle_on_retry_after(struct clb_bn_throttle *t, int64_t now_ms,
                                    int64_t retry_after_ms, bool ban)
{
    if (!t)
        return;
    if (retry_after_ms < 0)
        retry_after_ms = ban ? t->cfg.default_retry_418_ms : t->cfg.default_retry_429_ms;
    if (retry_after_ms > MAX_INTERVAL_MS * 4)
        retry_after_ms = MAX_INTERVAL_MS * 4;
    int64_t until = now_ms + retry_after_ms;
    if (until > t->blocked_until_ms) {
        t->blocked_until_ms = until;
        t->banned = ban;
    }
}

int clb_bn_parse_retry_after(const char *value, int64_t *ms)
{
    if (!value || !ms)
        return CLB_EPARSE;
    while (*value == ' ' || *value == '\t')
        value++;
    int64_t v = 0;
    int digits = 0;
    for (; *value >= '0' && *value <= '9'; value++, digits++)
        v = v * 10 + (*value - '0');
    while (*value == ' ' || *value == '\t')
        value++;
    if (digits < 1 || digits > 10 || *value)
        return CLB_EPARSE;
    *ms = v * 1000;
    return CLB_OK;
}

int64_t clb_bn_throttle_used(const struct clb_bn_throttle *t, enum clb_bn_limit_type type,
                             int64_t interval_ms, int64_t now_ms)
{
    for (size_t i = 0; i < t->n; i++) {
        if (t->w[i].rl.type != type || t->w[i].rl.interval_ms != interval_ms)
            continue;
        struct clb_bn_window_ w = t->w[i];
        roll(&w, t->cfg.boundary_margin_ms, now_ms);
        return w.count;
    }
    return -1;
}
