/*
 * Tests for connectors/binance/binance_throttle.c: a property test against a
 * naive reference (the list of every admitted request's time and cost)
 * over long random request sequences, with boundary margins and capacity
 * shares; hand cases for linked limits, Retry-After, used-weight sync,
 * limit reloads and malformed rateLimits (rejected with no state change).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "binance_throttle.h"
#include "error.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t fdiv(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

/* ------------------------------------------------------------------------ */
/* Naive reference                                                           */

struct rec {
    int64_t t;
    struct clb_bn_cost c;
};

#define REF_MAX 20000

struct ref {
    struct clb_bn_rate_limit l[CLB_BN_MAX_RATE_LIMITS];
    int64_t cap[CLB_BN_MAX_RATE_LIMITS];
    int64_t low_cap[CLB_BN_MAX_RATE_LIMITS]; /* for low-priority requests */
    size_t n;
    int64_t m;
    int64_t blocked_until;
    struct rec *r;
    size_t nr;
};

static int64_t ref_units(const struct clb_bn_rate_limit *l, struct clb_bn_cost c)
{
    return l->type == CLB_BN_LIMIT_REQUEST_WEIGHT ? c.weight
           : l->type == CLB_BN_LIMIT_ORDERS      ? c.orders
                                                 : 1;
}

/* Units counted in the window in force at `now` for limit i. */
static int64_t ref_count(const struct ref *f, size_t i, int64_t now)
{
    int64_t I = f->l[i].interval_ms, k = fdiv(now - f->m, I), sum = 0;
    /* records are in time order: the ones older than two windows cannot
     * count, stop there */
    for (size_t j = f->nr; j-- > 0;) {
        int64_t t = f->r[j].t;
        if (t < now - 2 * I - 2 * f->m)
            break;
        if (fdiv(t - f->m, I) == k || fdiv(t + f->m, I) == k)
            sum += ref_units(&f->l[i], f->r[j].c);
    }
    return sum;
}

static bool ref_ok(const struct ref *f, int64_t now, struct clb_bn_cost c)
{
    if (f->blocked_until > now)
        return false;
    for (size_t i = 0; i < f->n; i++) {
        int64_t u = ref_units(&f->l[i], c);
        if (u && ref_count(f, i, now) + u > (c.low_priority ? f->low_cap[i] : f->cap[i]))
            return false;
    }
    return true;
}

/* Smallest wait after which the request fits (nothing else recorded). */
static int64_t ref_wait(const struct ref *f, int64_t now, struct clb_bn_cost c)
{
    int64_t best = -1;
    int64_t cand[2 + 3 * CLB_BN_MAX_RATE_LIMITS];
    size_t nc = 0;
    cand[nc++] = now;
    if (f->blocked_until > now)
        cand[nc++] = f->blocked_until;
    for (size_t i = 0; i < f->n; i++) {
        int64_t I = f->l[i].interval_ms, k = fdiv(now - f->m, I);
        for (int d = 1; d <= 3; d++)
            cand[nc++] = (k + d) * I + f->m;
    }
    /* the answer is the latest of the per-limit and block earliest times;
     * check candidates in order and take the first that fits */
    for (;;) {
        int64_t lo = INT64_MAX;
        for (size_t j = 0; j < nc; j++)
            if (cand[j] > best && cand[j] < lo)
                lo = cand[j];
        if (lo == INT64_MAX)
            return -1;
        if (ref_ok(f, lo, c))
            return lo - now;
        best = lo;
    }
}

/* ------------------------------------------------------------------------ */
/* Property test                                                             */

static void run_property(uint64_t seed, int capacity_pct, int64_t margin, int steps)
{
    struct clb_bn_rate_limits rl = {
        .l = { { CLB_BN_LIMIT_REQUEST_WEIGHT, 10000, 60, -1 },
               { CLB_BN_LIMIT_ORDERS, 1000, 5, -1 },
               { CLB_BN_LIMIT_ORDERS, 60000, 30, -1 },
               { CLB_BN_LIMIT_RAW_REQUESTS, 5000, 25, -1 } },
        .n = 4,
    };
    struct clb_bn_throttle_config cfg;
    clb_bn_throttle_config_defaults(&cfg);
    cfg.capacity_pct = capacity_pct;
    cfg.boundary_margin_ms = margin;
    struct clb_bn_throttle t;
    cr_assert_eq(clb_bn_throttle_init(&t, &cfg, &rl), CLB_OK);
    struct ref f = { .n = rl.n, .m = margin };
    f.r = calloc(REF_MAX, sizeof(struct rec));
    cr_assert(f.r);
    for (size_t i = 0; i < rl.n; i++) {
        f.l[i] = rl.l[i];
        f.cap[i] = rl.l[i].limit * capacity_pct / 100;
        if (f.cap[i] < 1)
            f.cap[i] = 1;
        f.low_cap[i] = f.cap[i] * cfg.low_priority_pct / 100;
        if (f.low_cap[i] < 1)
            f.low_cap[i] = 1;
    }
    int64_t now = 1700000000000LL + (int64_t)(splitmix64(&seed) % 100000);
    int admitted = 0, refused = 0, waited_ok = 0;
    for (int step = 0; step < steps && f.nr < REF_MAX; step++) {
        uint64_t r = splitmix64(&seed);
        /* time moves: mostly a little, sometimes across windows */
        switch (r % 8) {
        case 0: break;
        case 1: case 2: case 3: now += (int64_t)(splitmix64(&seed) % 50); break;
        case 4: case 5: now += (int64_t)(splitmix64(&seed) % 700); break;
        case 6: now += (int64_t)(splitmix64(&seed) % 4000); break;
        default: now += (int64_t)(splitmix64(&seed) % 70000); break;
        }
        if (splitmix64(&seed) % 500 == 0) {
            int64_t ra = (int64_t)(splitmix64(&seed) % 5000);
            clb_bn_throttle_on_retry_after(&t, now, ra, false);
            if (now + ra > f.blocked_until)
                f.blocked_until = now + ra;
        }
        struct clb_bn_cost c = { (int32_t)(splitmix64(&seed) % 13),
                                 splitmix64(&seed) % 3 == 0 ? 1 : 0,
                                 splitmix64(&seed) % 4 == 0 };
        int64_t wait = -7;
        int rc = clb_bn_throttle_acquire(&t, now, c, &wait);
        bool ok = ref_ok(&f, now, c);
        cr_assert_eq(rc == CLB_OK, ok, "seed step %d: rc %d ref %d at %lld", step, rc, ok,
                     (long long)now);
        if (ok) {
            cr_assert_eq(wait, 0);
            f.r[f.nr++] = (struct rec){ now, c };
            admitted++;
        } else {
            cr_assert_eq(rc, CLB_BN_EAGAIN);
            int64_t want = ref_wait(&f, now, c);
            cr_assert_eq(wait, want, "step %d: wait %lld, reference %lld", step,
                         (long long)wait, (long long)want);
            refused++;
            /* sometimes do what the caller would: wait exactly that long */
            if (splitmix64(&seed) % 2) {
                cr_assert_eq(clb_bn_throttle_check(&t, now + wait - 1, c, NULL), CLB_BN_EAGAIN);
                now += wait;
                cr_assert_eq(clb_bn_throttle_acquire(&t, now, c, &wait), CLB_OK);
                cr_assert(ref_ok(&f, now, c));
                f.r[f.nr++] = (struct rec){ now, c };
                waited_ok++;
            }
        }
        for (size_t i = 0; i < rl.n; i++)
            cr_assert_eq(clb_bn_throttle_used(&t, rl.l[i].type, rl.l[i].interval_ms, now),
                         ref_count(&f, i, now), "step %d limit %zu", step, i);
    }
    cr_assert_gt(admitted, steps / 10);
    cr_assert_gt(refused, steps / 20);
    cr_assert_gt(waited_ok, 10);
    free(f.r);
}

Test(binance_throttle, property_no_margin_full_capacity)
{
    run_property(1, 100, 0, 6000);
}

Test(binance_throttle, property_with_boundary_margin)
{
    run_property(2, 100, 200, 6000);
}

Test(binance_throttle, property_margin_and_capacity_share)
{
    run_property(3, 90, 250, 6000);
    run_property(4, 50, 37, 4000);
}

/* ------------------------------------------------------------------------ */
/* Hand cases                                                                */

static struct clb_bn_throttle make(int64_t margin, int pct)
{
    struct clb_bn_rate_limits rl = {
        .l = { { CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, 6000, -1 },
               { CLB_BN_LIMIT_ORDERS, 10000, 3, -1 },
               { CLB_BN_LIMIT_ORDERS, 86400000, 200000, -1 },
               { CLB_BN_LIMIT_RAW_REQUESTS, 300000, 61000, -1 } },
        .n = 4,
    };
    struct clb_bn_throttle_config cfg;
    clb_bn_throttle_config_defaults(&cfg);
    cfg.boundary_margin_ms = margin;
    cfg.capacity_pct = pct;
    struct clb_bn_throttle t;
    cr_assert_eq(clb_bn_throttle_init(&t, &cfg, &rl), CLB_OK);
    return t;
}

#define T0 1700000040000LL /* a multiple of 60 s and 10 s */

Test(binance_throttle, linked_limits_order_counts_in_weight_and_orders)
{
    struct clb_bn_throttle t = make(0, 100);
    struct clb_bn_cost order = clb_bn_endpoint_cost(CLB_BN_EP_ORDER_NEW, 0);
    cr_assert_eq(order.weight, 1);
    cr_assert_eq(order.orders, 1);
    int64_t wait;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 100 + i, order, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, T0 + 200), 3);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_ORDERS, 10000, T0 + 200), 3);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_ORDERS, 86400000, T0 + 200), 3);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_RAW_REQUESTS, 300000, T0 + 200), 3);
    /* a fourth order waits for the 10 s window; nothing is recorded */
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 2000, order, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(wait, 8000);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, T0 + 2000), 3);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_RAW_REQUESTS, 300000, T0 + 2000), 4 - 1);
    /* a status query is not an order: admitted meanwhile */
    struct clb_bn_cost q = clb_bn_endpoint_cost(CLB_BN_EP_ORDER_STATUS, 0);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 2000, q, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, T0 + 2000), 7);
    /* at the boundary the order goes */
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 9999, order, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(wait, 1);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 10000, order, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_ORDERS, 10000, T0 + 10000), 1);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_ORDERS, 86400000, T0 + 10000), 4);
}

Test(binance_throttle, full_weight_blocks_orders_too)
{
    struct clb_bn_throttle t = make(0, 100);
    int64_t wait;
    struct clb_bn_cost big = { .weight = 5990, .orders = 0 };
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 30000, big, &wait), CLB_OK);
    struct clb_bn_cost order = { .weight = 20, .orders = 1 };
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 30001, order, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(wait, 29999);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_ORDERS, 10000, T0 + 30001), 0);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 60000, order, &wait), CLB_OK);
    /* a cost above a limit never fits */
    struct clb_bn_cost huge = { .weight = 6001, .orders = 0 };
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 60000, huge, &wait), CLB_EINVAL);
    struct clb_bn_cost neg = { .weight = -1, .orders = 0 };
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 60000, neg, &wait), CLB_EINVAL);
}

Test(binance_throttle, capacity_share_keeps_a_reserve)
{
    struct clb_bn_throttle t = make(0, 95);
    int64_t wait;
    struct clb_bn_cost w = { .weight = 5700, .orders = 0 };
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0, w, &wait), CLB_OK);
    struct clb_bn_cost one = { .weight = 1, .orders = 0 };
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0, one, &wait), CLB_BN_EAGAIN);
    /* 3 * 95 % = 2 orders per 10 s */
    struct clb_bn_throttle t2 = make(0, 95);
    struct clb_bn_cost order = { .weight = 1, .orders = 1 };
    cr_assert_eq(clb_bn_throttle_acquire(&t2, T0, order, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_acquire(&t2, T0, order, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_acquire(&t2, T0, order, &wait), CLB_BN_EAGAIN);
}

Test(binance_throttle, boundary_margin_counts_near_boundary_requests_twice)
{
    struct clb_bn_throttle t = make(500, 100);
    int64_t wait;
    struct clb_bn_cost order = { .weight = 1, .orders = 1 };
    /* 3 orders 200 ms before the 10 s boundary: they may land after it */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 9800, order, &wait), CLB_OK);
    /* the old window lasts until boundary + margin */
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 10200, order, &wait), CLB_BN_EAGAIN);
    /* ... and the next one still holds those 3: wait for the one after */
    cr_assert_eq(wait, 10000 + 500 - 10200 + 10000);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_ORDERS, 10000, T0 + 10600), 3);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_ORDERS, 10000, T0 + 20600), 0);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 20500, order, &wait), CLB_OK);
}

Test(binance_throttle, retry_after_blocks_everything)
{
    struct clb_bn_throttle t = make(0, 100);
    int64_t wait;
    struct clb_bn_cost ping = clb_bn_endpoint_cost(CLB_BN_EP_PING, 0);
    clb_bn_throttle_on_retry_after(&t, T0, 5000, false);
    cr_assert_eq(clb_bn_throttle_blocked_until(&t), T0 + 5000);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1000, ping, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(wait, 4000);
    /* a shorter block does not shorten it */
    clb_bn_throttle_on_retry_after(&t, T0 + 1000, 1000, false);
    cr_assert_eq(clb_bn_throttle_blocked_until(&t), T0 + 5000);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 5000, ping, &wait), CLB_OK);
    /* 418 without a header: the configured ban length */
    clb_bn_throttle_on_retry_after(&t, T0 + 6000, -1, true);
    cr_assert(t.banned);
    cr_assert_eq(clb_bn_throttle_blocked_until(&t), T0 + 6000 + 120000);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 7000, ping, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(wait, 119000);
    /* 429 without a header: its default */
    struct clb_bn_throttle t2 = make(0, 100);
    clb_bn_throttle_on_retry_after(&t2, T0, -1, false);
    cr_assert_eq(clb_bn_throttle_blocked_until(&t2), T0 + 10000);
    /* the block and a full window: the later of the two */
    struct clb_bn_throttle t3 = make(0, 100);
    struct clb_bn_cost order = { .weight = 1, .orders = 1 };
    for (int i = 0; i < 3; i++)
        cr_assert_eq(clb_bn_throttle_acquire(&t3, T0, order, &wait), CLB_OK);
    clb_bn_throttle_on_retry_after(&t3, T0, 3000, false);
    cr_assert_eq(clb_bn_throttle_acquire(&t3, T0 + 1, order, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(wait, 9999);
    cr_assert_eq(clb_bn_throttle_acquire(&t3, T0 + 1, ping, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(wait, 2999);
}

Test(binance_throttle, used_weight_header_raises_the_count)
{
    struct clb_bn_throttle t = make(100, 100);
    int64_t wait;
    struct clb_bn_cost c = { .weight = 10, .orders = 0 };
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1000, c, &wait), CLB_OK);
    /* another process on the same IP used weight too */
    cr_assert_eq(clb_bn_throttle_observe_used_weight(&t, T0 + 1000, T0 + 1050, 5990), CLB_OK);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, T0 + 1100), 5990);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1100, c, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1100, c, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(wait, 60000 + 100 - 1100);
    /* never lowered */
    cr_assert_eq(clb_bn_throttle_observe_used_weight(&t, T0 + 1100, T0 + 1200, 12), CLB_ESTALE);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, T0 + 1200), 6000);
    /* a request sent before the boundary, answered after: ambiguous, ignored */
    struct clb_bn_throttle t2 = make(100, 100);
    cr_assert_eq(clb_bn_throttle_observe_used_weight(&t2, T0 + 59950, T0 + 60300, 4000),
                 CLB_ESTALE);
    cr_assert_eq(clb_bn_throttle_used(&t2, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, T0 + 60300), 0);
    cr_assert_eq(clb_bn_throttle_observe_used_weight(&t2, T0 + 60150, T0 + 60300, 4000), CLB_OK);
    /* order count headers and WS-API rateLimits */
    cr_assert_eq(clb_bn_throttle_observe_count(&t2, CLB_BN_LIMIT_ORDERS, 10000, T0 + 60200,
                                               T0 + 60300, 3),
                 CLB_OK);
    struct clb_bn_cost order = { .weight = 1, .orders = 1 };
    cr_assert_eq(clb_bn_throttle_acquire(&t2, T0 + 60400, order, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(clb_bn_throttle_observe_count(&t2, CLB_BN_LIMIT_RAW_REQUESTS, 1000, T0, T0, 3),
                 CLB_ENOTFOUND);
    struct clb_bn_rate_limits counts = {
        .l = { { CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, 6000, 4500 },
               { CLB_BN_LIMIT_ORDERS, 86400000, 200000, 17 } },
        .n = 2,
    };
    clb_bn_throttle_observe_limits(&t2, T0 + 61000, T0 + 61100, &counts);
    cr_assert_eq(clb_bn_throttle_used(&t2, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, T0 + 61100), 4500);
    cr_assert_eq(clb_bn_throttle_used(&t2, CLB_BN_LIMIT_ORDERS, 86400000, T0 + 61100), 17);
}

static const char *SIMEX_INFO =
    "{\"timezone\":\"UTC\",\"serverTime\":1700000000000,\"rateLimits\":["
    "{\"rateLimitType\":\"REQUEST_WEIGHT\",\"interval\":\"MINUTE\",\"intervalNum\":1,"
    "\"limit\":6000},"
    "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":10,\"limit\":100},"
    "{\"rateLimitType\":\"ORDERS\",\"interval\":\"DAY\",\"intervalNum\":1,\"limit\":200000},"
    "{\"rateLimitType\":\"RAW_REQUESTS\",\"interval\":\"MINUTE\",\"intervalNum\":5,"
    "\"limit\":61000}],\"exchangeFilters\":[],\"symbols\":[]}";

Test(binance_throttle, loads_exchange_info_limits)
{
    struct clb_bn_throttle t = make(0, 100);
    char err[128];
    cr_assert_eq(clb_bn_throttle_load_json(&t, SIMEX_INFO, strlen(SIMEX_INFO), err, sizeof(err)),
                 CLB_OK, "%s", err);
    cr_assert_eq(t.n, 4);
    cr_assert_eq(t.w[1].rl.type, CLB_BN_LIMIT_ORDERS);
    cr_assert_eq(t.w[1].rl.interval_ms, 10000);
    cr_assert_eq(t.w[1].rl.limit, 100);
    cr_assert_eq(t.w[3].rl.interval_ms, 300000);
    /* a bare array works too */
    const char *arr = "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":1,"
                      "\"limit\":2},{\"rateLimitType\":\"CONNECTIONS\",\"interval\":\"MINUTE\","
                      "\"intervalNum\":1,\"limit\":300}]";
    cr_assert_eq(clb_bn_throttle_load_json(&t, arr, strlen(arr), err, sizeof(err)), CLB_OK);
    cr_assert_eq(t.n, 1);
}

Test(binance_throttle, reload_keeps_counts_of_the_same_limits)
{
    struct clb_bn_throttle t = make(0, 100);
    int64_t wait;
    struct clb_bn_cost order = { .weight = 1, .orders = 1 };
    for (int i = 0; i < 3; i++)
        cr_assert_eq(clb_bn_throttle_acquire(&t, T0, order, &wait), CLB_OK);
    char err[128];
    cr_assert_eq(clb_bn_throttle_load_json(&t, SIMEX_INFO, strlen(SIMEX_INFO), err, sizeof(err)),
                 CLB_OK);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_ORDERS, 10000, T0), 3);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, T0), 3);
}

Test(binance_throttle, bad_rate_limits_rejected_without_change)
{
    static const char *bad[] = {
        "",
        "{",
        "[1,2]",
        "{\"rateLimits\":{}}",
        "{\"symbols\":[]}",
        "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"WEEK\",\"intervalNum\":1,\"limit\":2}]",
        "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":\"1\","
        "\"limit\":2}]",
        "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":1,\"limit\":0}]",
        "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":1,\"limit\":-5}]",
        "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":0,\"limit\":5}]",
        "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":1,"
        "\"limit\":99999999999999999999999}]",
        "[{\"rateLimitType\":7,\"interval\":\"SECOND\",\"intervalNum\":1,\"limit\":5}]",
        "[{\"interval\":\"SECOND\",\"intervalNum\":1,\"limit\":5}]",
        "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":1,\"limit\":5,"
        "\"limit\":6}]",
        "[]", /* no limits at all */
        "[{\"rateLimitType\":\"CONNECTIONS\",\"interval\":\"SECOND\",\"intervalNum\":1,"
        "\"limit\":5}]",
        /* too many */
        "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":1,\"limit\":5},"
        "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":2,\"limit\":5},"
        "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":3,\"limit\":5},"
        "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":4,\"limit\":5},"
        "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":5,\"limit\":5},"
        "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":6,\"limit\":5},"
        "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":7,\"limit\":5},"
        "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":8,\"limit\":5},"
        "{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\",\"intervalNum\":9,\"limit\":5}]",
    };
    struct clb_bn_throttle t = make(250, 100);
    int64_t wait;
    struct clb_bn_cost order = { .weight = 1, .orders = 1 };
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0, order, &wait), CLB_OK);
    struct clb_bn_throttle before;
    memcpy(&before, &t, sizeof(t));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[128] = "";
        int rc = clb_bn_throttle_load_json(&t, bad[i], strlen(bad[i]), err, sizeof(err));
        cr_assert(rc == CLB_EPARSE || rc == CLB_EINVAL, "case %zu: rc %d", i, rc);
        cr_assert(err[0], "case %zu: no message", i);
        cr_assert_eq(memcmp(&before, &t, sizeof(t)), 0, "case %zu changed the throttler", i);
    }
    /* an interval shorter than 4 x the margin is refused as a limit */
    const char *short_iv = "[{\"rateLimitType\":\"ORDERS\",\"interval\":\"SECOND\","
                           "\"intervalNum\":1,\"limit\":5}]";
    char err[128] = "";
    cr_assert_eq(clb_bn_throttle_load_json(&t, short_iv, strlen(short_iv), err, sizeof(err)),
                 CLB_OK);
    struct clb_bn_throttle t2 = make(300, 100);
    memcpy(&before, &t2, sizeof(t2));
    cr_assert_eq(clb_bn_throttle_load_json(&t2, short_iv, strlen(short_iv), err, sizeof(err)),
                 CLB_EINVAL);
    cr_assert_eq(memcmp(&before, &t2, sizeof(t2)), 0);
}

Test(binance_throttle, config_and_limit_checks)
{
    struct clb_bn_throttle_config cfg;
    struct clb_bn_throttle t;
    struct clb_bn_rate_limits rl = { .l = { { CLB_BN_LIMIT_ORDERS, 10000, 5, -1 } }, .n = 1 };
    clb_bn_throttle_config_defaults(&cfg);
    cfg.capacity_pct = 0;
    cr_assert_eq(clb_bn_throttle_init(&t, &cfg, &rl), CLB_EINVAL);
    clb_bn_throttle_config_defaults(&cfg);
    cfg.low_priority_pct = 101;
    cr_assert_eq(clb_bn_throttle_init(&t, &cfg, &rl), CLB_EINVAL);
    clb_bn_throttle_config_defaults(&cfg);
    cfg.boundary_margin_ms = -1;
    cr_assert_eq(clb_bn_throttle_init(&t, &cfg, &rl), CLB_EINVAL);
    clb_bn_throttle_config_defaults(&cfg);
    struct clb_bn_rate_limits none = { .n = 0 };
    cr_assert_eq(clb_bn_throttle_init(&t, &cfg, &none), CLB_EINVAL);
    rl.l[0].interval_ms = 0;
    cr_assert_eq(clb_bn_throttle_init(&t, &cfg, &rl), CLB_EINVAL);
    rl.l[0].interval_ms = 10000;
    rl.l[0].limit = 0;
    cr_assert_eq(clb_bn_throttle_init(&t, &cfg, &rl), CLB_EINVAL);
    rl.l[0].limit = 5;
    rl.l[0].type = (enum clb_bn_limit_type)9;
    cr_assert_eq(clb_bn_throttle_init(&t, &cfg, &rl), CLB_EINVAL);
}

Test(binance_throttle, endpoint_costs)
{
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_EXCHANGE_INFO, 0).weight, 20);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_DEPTH, 100).weight, 5);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_DEPTH, 101).weight, 25);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_DEPTH, 1000).weight, 50);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_DEPTH, 5000).weight, 250);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_ORDER_CANCEL, 0).orders, 0);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_ORDER_STATUS, 0).weight, 4);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_OPEN_ORDERS, 0).weight, 6);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_OPEN_ORDERS, 1).weight, 80);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_MY_TRADES, 0).weight, 20);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_MY_TRADES, 1).weight, 5);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_ACCOUNT, 0).weight, 20);
    cr_assert_eq(clb_bn_endpoint_cost(CLB_BN_EP_USER_STREAM_SUBSCRIBE, 0).weight, 2);
}

Test(binance_throttle, low_priority_keeps_a_reserve_for_orders)
{
    struct clb_bn_throttle t = make(0, 100); /* weight 6000, low-priority share 80 % */
    int64_t wait;
    struct clb_bn_cost poll = clb_bn_endpoint_cost(CLB_BN_EP_OPEN_ORDERS, 1);
    poll.low_priority = true;
    int polls = 0;
    while (clb_bn_throttle_acquire(&t, T0 + 1000, poll, &wait) == CLB_OK)
        polls++;
    cr_assert_eq(polls, 4800 / 80);
    cr_assert_eq(wait, 59000);
    /* orders and cancels still go */
    struct clb_bn_cost order = clb_bn_endpoint_cost(CLB_BN_EP_ORDER_NEW, 0);
    struct clb_bn_cost cancel = clb_bn_endpoint_cost(CLB_BN_EP_ORDER_CANCEL, 0);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1000, order, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1000, cancel, &wait), CLB_OK);
    struct clb_bn_cost status = clb_bn_endpoint_cost(CLB_BN_EP_ORDER_STATUS, 0);
    for (int i = 0; i < 299; i++)
        cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1000, status, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_used(&t, CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, T0 + 1000), 5998);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1000, status, &wait), CLB_BN_EAGAIN);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1000, cancel, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1000, cancel, &wait), CLB_OK);
    cr_assert_eq(clb_bn_throttle_acquire(&t, T0 + 1000, cancel, &wait), CLB_BN_EAGAIN);
    /* a low-priority request above the share never fits */
    struct clb_bn_throttle t2 = make(0, 100);
    struct clb_bn_cost huge = { .weight = 4801, .low_priority = true };
    cr_assert_eq(clb_bn_throttle_acquire(&t2, T0, huge, &wait), CLB_EINVAL);
    huge.low_priority = false;
    cr_assert_eq(clb_bn_throttle_acquire(&t2, T0, huge, &wait), CLB_OK);
}

Test(binance_throttle, retry_after_header_values)
{
    int64_t ms = -1;
    cr_assert_eq(clb_bn_parse_retry_after("120", &ms), CLB_OK);
    cr_assert_eq(ms, 120000);
    cr_assert_eq(clb_bn_parse_retry_after(" 7 ", &ms), CLB_OK);
    cr_assert_eq(ms, 7000);
    cr_assert_eq(clb_bn_parse_retry_after("0", &ms), CLB_OK);
    cr_assert_eq(ms, 0);
    ms = -1;
    cr_assert_eq(clb_bn_parse_retry_after("", &ms), CLB_EPARSE);
    cr_assert_eq(clb_bn_parse_retry_after("-5", &ms), CLB_EPARSE);
    cr_assert_eq(clb_bn_parse_retry_after("1.5", &ms), CLB_EPARSE);
    cr_assert_eq(clb_bn_parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", &ms), CLB_EPARSE);
    cr_assert_eq(clb_bn_parse_retry_after("12345678901", &ms), CLB_EPARSE);
    cr_assert_eq(clb_bn_parse_retry_after(NULL, &ms), CLB_EPARSE);
    cr_assert_eq(ms, -1);
}
