/*
 * binance.c — the Binance spot connector's core (see binance.h): lifecycle,
 * the connector ops that read state (book, rules, balances, fees, status),
 * trading rules from exchangeInfo, time sync, the account, and the REST
 * request machinery every other part uses.
 *
 * Requests. Each REST call is a struct bn_req from a fixed pool (BN_MAX_REQS;
 * nothing allocates per request). bn_req_submit asks the throttler first: a
 * request that may not go yet (Retry-After, the weight window nearly used,
 * the ORDERS window full) waits in a FIFO that the housekeeping timer drains.
 * Signed requests are signed when they are actually sent, so a wait never
 * ages their timestamp. The answer comes back through one callback that
 * updates the throttler (X-MBX-USED-WEIGHT-1M, Retry-After), resyncs the
 * clock on -1021 and dispatches by kind.
 *
 * Orders over the WebSocket API. While the WS-API connection (the one that
 * carries the user-data stream) is open, creates and cancels go over it as
 * order.place / order.cancel, signed with the same pre-keyed HMAC, and are
 * written inside the call that places them (ws_client write_now): no HTTP
 * round and no wait for the loop. They keep their pool entry until the
 * answer (id "o<pool index>-<generation>"); one left unanswered for
 * request_timeout_ms, or whose connection ends, is finished as "no answer",
 * like a REST request that timed out. REST is the fallback (and the only
 * path with orders_over_rest).
 *
 * The tick-to-order path (a place from inside a market-data event, down to
 * the write) runs once per depth tick, so it runs cold: it avoids snprintf
 * (bounded appenders, bn_put_*), a create keeps its order fields and its
 * WS-API request is built and signed straight from them (its REST params
 * text is made only when it goes over REST), a free pool entry is found in
 * a bitmap, and bn_warm_orders runs the same code on scratch data every ms
 * while the streams are quiet.
 *
 * Housekeeping. A netloop timer every 100 ms (and the clock's tick) drives
 * everything periodic: startup steps and their retries, rules refresh, book
 * snapshots, order status queries and cancel retries, REST polling, and the
 * waiting requests. Every decision compares monotonic due times, so an extra
 * call is harmless.
 */
/* SHA256_Init & co: the midstate copy of the pre-keyed HMAC (below) */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "binance.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binance_internal.h"
#include "binance_msg.h"
#include "binance_sign.h"
#include "error.h"
#include "http_client.h"
#include "net_url.h"
#include "netloop.h"
#include "ws_client.h"

#define HOUSEKEEPING_MS 100
#define NS_PER_MS INT64_C(1000000)
#define WEIGHT_MARGIN 0.9 /* use at most 90 % of the weight window */

const int64_t clb_binance_lat_bounds_ns[CLB_BINANCE_LAT_BUCKETS - 1] = {
    1000,    2000,    3000,    5000,    7500,     10000,    15000,    20000,
    30000,   50000,   75000,   100000,  150000,   200000,   300000,   500000,
    1000000, 2000000, 5000000, 10000000, 20000000, 50000000, 100000000,
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

int64_t bn_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bn_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t bn_server_ms(const struct clb_binance *b)
{
    return clb_bn_time_server_now_ms(&b->clk, bn_wall_ns());
}

void bn_log(const struct clb_binance *b, enum clb_log_level level, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (b->cfg.log)
        b->cfg.log(b->cfg.log_ud, level, msg);
    else
        fprintf(stderr, "binance[%s]: %s\n", b->base.name, msg);
}

json_t *bn_json(const char *body, size_t len)
{
    if (!body || len == 0)
        return NULL;
    return json_loadb(body, len, 0, NULL);
}

int bn_error_code(const char *body, size_t len)
{
    struct clb_bn_error e;
    return clb_bn_parse_error(body, len, &e, NULL, 0) == CLB_OK ? e.code : 0;
}

struct bn_market *bn_market_by_symbol(struct clb_binance *b, const char *market, uint32_t *idx)
{
    if (!market)
        return NULL;
    for (uint32_t i = 0; i < b->n_markets; i++)
        if (strcmp(b->markets[i].rules.symbol, market) == 0) {
            if (idx)
                *idx = i;
            return &b->markets[i];
        }
    return NULL;
}

struct bn_market *bn_market_by_xsym(struct clb_binance *b, const char *xsym, uint32_t *idx)
{
    if (!xsym)
        return NULL;
    for (uint32_t i = 0; i < b->n_markets; i++)
        if (strcmp(b->markets[i].xsym, xsym) == 0) {
            if (idx)
                *idx = i;
            return &b->markets[i];
        }
    return NULL;
}

struct bn_oinfo *bn_oinfo_of(struct clb_binance *b, const struct clb_tracked_order *o)
{
    if (!o)
        return NULL;
    size_t i = (size_t)(o - b->tracker.orders);
    if (i >= b->tracker.max_orders)
        return NULL;
    struct bn_oinfo *oi = &b->oinfo[i];
    if (strcmp(oi->client_id, o->client_order_id) != 0) {
        /* the pool slot was reused: fresh state */
        memset(oi, 0, sizeof(*oi));
        size_t n = strnlen(o->client_order_id, sizeof(oi->client_id) - 1);
        memcpy(oi->client_id, o->client_order_id, n);
        bn_market_by_symbol(b, o->market, &oi->market);
    }
    return oi;
}

/* ------------------------------------------------------------------------ */
/* Balances                                                                  */

void bn_set_balance(struct clb_binance *b, const char *asset, clb_dec free_, clb_dec locked,
                    int64_t rest_sent_ns, bool publish)
{
    uint32_t i;
    for (i = 0; i < b->n_assets; i++)
        if (strcmp(b->assets[i].name, asset) == 0)
            break;
    if (i == b->n_assets) {
        if (b->n_assets == sizeof(b->assets) / sizeof(b->assets[0]) ||
            strlen(asset) >= CLB_ASSET_MAX)
            return;
        memset(&b->assets[i], 0, sizeof(b->assets[i]));
        snprintf(b->assets[i].name, sizeof(b->assets[i].name), "%s", asset);
        b->n_assets++;
    }
    if (rest_sent_ns > 0 && rest_sent_ns < b->assets[i].stream_ns)
        return; /* the stream told us something newer meanwhile */
    clb_dec total;
    if (clb_dec_add(free_, locked, &total) != CLB_OK)
        return;
    bool changed = clb_dec_cmp(total, b->assets[i].total) != 0 ||
                   clb_dec_cmp(free_, b->assets[i].available) != 0;
    b->assets[i].total = total;
    b->assets[i].available = free_;
    if (rest_sent_ns == 0)
        b->assets[i].stream_ns = bn_mono_ns();
    if (publish && changed) {
        struct clb_event ev = { .type = CLB_EV_BALANCE, .ts_ns = bn_wall_ns(),
                                .source = b->base.name,
                                .u.balance = { .asset = b->assets[i].name, .total = total,
                                               .available = free_ } };
        clb_event_publish(b->base.bus, &ev);
    }
}

static void set_fees(struct bn_market *m, const struct clb_bn_commission *c)
{
    m->maker_fee = clb_dec_to_double(c->maker);
    m->taker_fee = clb_dec_to_double(c->taker);
    m->fees_ok = true;
}

/* GET /api/v3/account?omitZeroBalances=true: balances (and commission rates
 * while the dedicated endpoint has not answered: simulators may lack it).
 * Production accounts list hundreds of zero balances, so zeros are omitted
 * (and skipped again here): a known asset missing from the answer is zero. */
void bn_account_apply(struct clb_binance *b, const struct bn_req *rq,
                      const struct clb_http_resp *r)
{
    struct clb_bn_balance bal[64];
    struct clb_bn_commission comm;
    size_t n = 0;
    char err[160];
    bool has_comm = true;
    int rc = clb_bn_parse_account(r->body, r->body_len, true, bal, 64, &n, &comm, err,
                                  sizeof(err));
    if (rc == CLB_EPARSE) {
        has_comm = false;
        rc = clb_bn_parse_account(r->body, r->body_len, true, bal, 64, &n, NULL, err,
                                  sizeof(err));
    }
    if (rc != CLB_OK) {
        b->stats.bad_messages++;
        bn_log(b, CLB_LOG_WARN, "account answer refused: %s", err);
        return;
    }
    int64_t sent = rq->sent_ns > 0 ? rq->sent_ns : 1;
    for (size_t i = 0; i < n; i++)
        bn_set_balance(b, bal[i].asset, bal[i].free, bal[i].locked, sent, b->balances_ok);
    /* known assets the answer omitted: zero now (names copied first: the
     * publish may reach listeners) */
    char gone[sizeof(b->assets) / sizeof(b->assets[0])][CLB_ASSET_MAX];
    uint32_t ng = 0;
    for (uint32_t a = 0; a < b->n_assets; a++) {
        bool listed = false;
        for (size_t i = 0; i < n && !listed; i++)
            listed = strcmp(bal[i].asset, b->assets[a].name) == 0;
        if (!listed)
            memcpy(gone[ng++], b->assets[a].name, CLB_ASSET_MAX);
    }
    for (uint32_t k = 0; k < ng; k++)
        bn_set_balance(b, gone[k], clb_dec_make(0, 0), clb_dec_make(0, 0), sent,
                       b->balances_ok);
    b->balances_ok = true;
    if (has_comm && !b->commission_supported)
        for (uint32_t m = 0; m < b->n_markets; m++)
            set_fees(&b->markets[m], &comm);
}

/* ------------------------------------------------------------------------ */
/* Trading rules                                                             */

static void apply_rules(struct clb_binance *b, const struct clb_bn_symbol_info *si)
{
    uint32_t mi;
    struct bn_market *m = bn_market_by_symbol(b, si->rules.symbol, &mi);
    if (!m)
        return;
    if (!si->trading)
        bn_log(b, CLB_LOG_WARN, "%s: status %s", m->rules.symbol, si->status);
    if (clb_dec_sign(si->rules.tick_size) <= 0 || clb_dec_sign(si->rules.step_size) <= 0) {
        bn_log(b, CLB_LOG_ERROR, "%s: no tick or step size", m->rules.symbol);
        return;
    }
    if (m->rules_ok && (si->rules.price_scale != m->rules.price_scale ||
                        si->rules.qty_scale != m->rules.qty_scale)) {
        /* The parser and the book hold integers at the old scales: keep
         * them (a rules change of that kind needs a restart). */
        bn_log(b, CLB_LOG_ERROR,
               "%s: tick/step scale changed; restart the connector", m->rules.symbol);
        return;
    }
    bool first = !m->rules_ok;
    m->rules = si->rules;
    m->min_price = si->min_price;
    m->max_price = si->max_price;
    m->max_notional = si->max_notional;
    m->rules_ok = true;
    if (first)
        bn_market_rules_loaded(b, mi);
}

static void on_exchange_info(struct clb_binance *b, const struct clb_http_resp *r)
{
    struct clb_bn_symbol_info infos[CLB_BINANCE_MAX_MARKETS];
    const char *names[CLB_BINANCE_MAX_MARKETS];
    struct clb_bn_rate_limits lim;
    size_t n = 0;
    char err[160];
    for (uint32_t i = 0; i < b->n_markets; i++)
        names[i] = b->markets[i].rules.symbol;
    memset(&lim, 0, sizeof(lim));
    int rc = clb_bn_parse_exchange_info(r->body, r->body_len, names, b->n_markets, infos,
                                        CLB_BINANCE_MAX_MARKETS, &n, &lim, NULL, err,
                                        sizeof(err));
    if (rc != CLB_OK) {
        b->stats.bad_messages++;
        bn_log(b, CLB_LOG_WARN, "exchangeInfo refused: %s", err);
        return;
    }
    if (lim.n > 0 && clb_bn_throttle_set_limits(&b->thr, &lim) != CLB_OK)
        bn_log(b, CLB_LOG_WARN, "exchangeInfo rateLimits refused; keeping Binance's defaults");
    for (size_t i = 0; i < n; i++)
        apply_rules(b, &infos[i]);
    for (uint32_t i = 0; i < b->n_markets; i++)
        if (!b->markets[i].rules_ok)
            bn_log(b, CLB_LOG_ERROR, "%s: not in exchangeInfo", b->markets[i].rules.symbol);
}

/* ------------------------------------------------------------------------ */
/* Signing on the hot path                                                   */

/* HMAC-SHA256 with the key schedule done once: the inner and outer SHA-256
 * midstates after the padded key are kept and copied per request (a struct
 * copy: OpenSSL 3's EVP_MD_CTX_copy allocates, and its one-shot HMAC()
 * fetches the algorithm every call), so a signature costs two SHA-256
 * passes over the message and nothing else.
 * Same output as clb_bn_sign_payload (binance_sign.h), which create() checks
 * on Binance's documented example before this is used. */
struct bn_hmac {
    SHA256_CTX inner, outer; /* after the padded key blocks */
};

static int signer_init(struct clb_binance *b)
{
    unsigned char k0[64], pad[64];
    size_t klen = strlen(b->api_secret);
    memset(k0, 0, sizeof(k0));
    if (klen > sizeof(k0))
        SHA256((const unsigned char *)b->api_secret, klen, k0);
    else
        memcpy(k0, b->api_secret, klen);
    struct bn_hmac *h = calloc(1, sizeof(*h));
    int rc = CLB_ENOMEM;
    if (!h)
        goto out;
    rc = CLB_EIO;
    for (int i = 0; i < 64; i++)
        pad[i] = k0[i] ^ 0x36;
    if (SHA256_Init(&h->inner) != 1 || SHA256_Update(&h->inner, pad, 64) != 1)
        goto out;
    for (int i = 0; i < 64; i++)
        pad[i] = k0[i] ^ 0x5c;
    if (SHA256_Init(&h->outer) != 1 || SHA256_Update(&h->outer, pad, 64) != 1)
        goto out;
    b->hmac = h;
    h = NULL;
    b->ws_signer_ok = clb_bn_signer_init(&b->ws_signer, b->api_secret) == CLB_OK;
    rc = CLB_OK;
out:
    if (h) {
        OPENSSL_cleanse(h, sizeof(*h));
        free(h);
    }
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(pad, sizeof(pad));
    return rc;
}

static int signer_sign(struct clb_binance *b, const char *msg, size_t len,
                       char out[CLB_BN_SIG_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char ih[32], mac[32];
    SHA256_CTX c = b->hmac->inner;
    bool ok = SHA256_Update(&c, msg, len) == 1 && SHA256_Final(ih, &c) == 1;
    c = b->hmac->outer;
    ok = ok && SHA256_Update(&c, ih, sizeof(ih)) == 1 && SHA256_Final(mac, &c) == 1;
    OPENSSL_cleanse(&c, sizeof(c));
    if (!ok)
        return CLB_EIO;
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[64] = '\0';
    return CLB_OK;
}

static void signer_free(struct clb_binance *b)
{
    if (b->hmac) {
        OPENSSL_cleanse(b->hmac, sizeof(*b->hmac));
        free(b->hmac);
    }
    b->hmac = NULL;
    if (b->ws_signer_ok)
        clb_bn_signer_deinit(&b->ws_signer);
    b->ws_signer_ok = false;
}

/* The fast signer must agree with binance_sign.c on this key. */
static bool signer_agrees(struct clb_binance *b)
{
    static const char probe[] = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1"
                                "&price=0.1&recvWindow=5000&timestamp=1499827319559";
    char x[CLB_BN_SIG_HEX_LEN + 1], y[CLB_BN_SIG_HEX_LEN + 1];
    return signer_sign(b, probe, sizeof(probe) - 1, x) == CLB_OK &&
           clb_bn_sign_payload(b->api_secret, probe, sizeof(probe) - 1, NULL, 0, y) == CLB_OK &&
           strcmp(x, y) == 0;
}

/* ------------------------------------------------------------------------ */
/* Throttler (binance_throttle.h)                                            */

static struct clb_bn_cost cost_of(const struct bn_req *rq)
{
    return (struct clb_bn_cost){ .weight = rq->weight, .orders = rq->is_order ? 1 : 0 };
}

/* 0 when rq may go now, else the monotonic time to ask again. */
static int64_t throttle_wait(struct clb_binance *b, const struct bn_req *rq, int64_t now)
{
    int64_t wait_ms = 0;
    int rc = clb_bn_throttle_check(&b->thr, bn_server_ms(b), cost_of(rq), &wait_ms);
    if (rc != CLB_BN_EAGAIN)
        return 0; /* admitted, or a cost no window can hold: the server decides */
    return now + (wait_ms > 0 ? wait_ms : 1) * NS_PER_MS;
}

static void throttle_charge(struct clb_binance *b, const struct bn_req *rq)
{
    clb_bn_throttle_acquire(&b->thr, bn_server_ms(b), cost_of(rq), NULL);
}

static void throttle_on_response(struct clb_binance *b, const struct bn_req *rq,
                                 const struct clb_http_resp *r)
{
    if (r->rc != CLB_OK || r->status == 0)
        return;
    int64_t now_ms = bn_server_ms(b);
    int64_t sent_ms = clb_bn_time_server_now_ms(&b->clk, rq->sent_wall_ns);
    const char *w = clb_http_resp_header(r, "x-mbx-used-weight-1m");
    if (w)
        clb_bn_throttle_observe_used_weight(&b->thr, sent_ms, now_ms, strtoll(w, NULL, 10));
    if (r->status == 429 || r->status == 418) {
        b->stats.rest_throttled++;
        const char *ra = clb_http_resp_header(r, "retry-after");
        long long secs = ra ? strtoll(ra, NULL, 10) : -1;
        clb_bn_throttle_on_retry_after(&b->thr, now_ms, secs > 0 ? secs * 1000 : -1,
                                       r->status == 418);
        bn_log(b, CLB_LOG_WARN, "HTTP %d: requests paused (Retry-After %lld s)", r->status, secs);
    }
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */

/* The lowest free pool index (what a scan of the pool would find), or
 * BN_MAX_REQS when every entry is used: a look at the busy bitmap, not at
 * the (large, cold) entries. */
static uint32_t req_lowest_free(const struct clb_binance *b)
{
    for (uint32_t w = 0; w < BN_MAX_REQS / 64; w++)
        if (~b->req_busy[w])
            return w * 64 + (uint32_t)__builtin_ctzll(~b->req_busy[w]);
    return BN_MAX_REQS;
}

struct bn_req *bn_req_new(struct clb_binance *b, enum bn_req_kind kind, const char *method,
                          const char *path, bool is_signed, int weight)
{
    if (b->destroying)
        return NULL;
    uint32_t i = req_lowest_free(b);
    if (i >= BN_MAX_REQS)
        return NULL;
    struct bn_req *rq = &b->reqs[i];
    memset(rq, 0, offsetof(struct bn_req, path));
    rq->params[0] = rq->url[0] = rq->body[0] = '\0';
    rq->body_len = 0;
    rq->owner = b;
    rq->used = true;
    b->req_busy[i / 64] |= UINT64_C(1) << (i % 64);
    rq->kind = kind;
    rq->method = method;
    size_t pl = strnlen(path, sizeof(rq->path) - 1);
    memcpy(rq->path, path, pl);
    rq->path[pl] = '\0';
    rq->is_signed = is_signed;
    rq->weight = weight;
    rq->next_wait = UINT32_MAX;
    rq->queued_ns = bn_mono_ns();
    b->n_reqs++;
    return rq;
}

void bn_req_free(struct clb_binance *b, struct bn_req *rq)
{
    if (!rq->used)
        return;
    rq->used = false;
    uint32_t i = (uint32_t)(rq - b->reqs);
    b->req_busy[i / 64] &= ~(UINT64_C(1) << (i % 64));
    b->n_reqs--;
}

uint32_t bn_reqs_free(const struct clb_binance *b)
{
    return BN_MAX_REQS - b->n_reqs;
}

static void on_http_done(void *ud, const struct clb_http_resp *r);

static void latency_add(struct clb_binance_latency *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    uint32_t i = 0;
    while (i < CLB_BINANCE_LAT_BUCKETS - 1 && ns > clb_binance_lat_bounds_ns[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum_ns += ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
}

double clb_binance_latency_quantile(const struct clb_binance_latency *h, double q)
{
    if (!h || h->count == 0)
        return 0;
    if (q < 0)
        q = 0;
    if (q > 1)
        q = 1;
    double rank = q * (double)h->count, seen = 0;
    for (uint32_t i = 0; i < CLB_BINANCE_LAT_BUCKETS; i++) {
        if (h->buckets[i] == 0)
            continue;
        if (seen + (double)h->buckets[i] >= rank) {
            double lo = i == 0 ? 0 : (double)clb_binance_lat_bounds_ns[i - 1];
            double hi = i < CLB_BINANCE_LAT_BUCKETS - 1 ? (double)clb_binance_lat_bounds_ns[i]
                                                        : (double)h->max_ns;
            if (hi > (double)h->max_ns)
                hi = (double)h->max_ns;
            if (hi < lo)
                hi = lo;
            double frac = (rank - seen) / (double)h->buckets[i];
            return lo + (hi - lo) * frac;
        }
        seen += (double)h->buckets[i];
    }
    return (double)h->max_ns;
}

/* ---- orders over the WebSocket API ----
 * Creates and cancels go over the WS-API connection (the user-data one)
 * while it is open: no HTTP round of its own, and lws writes them at once.
 * A request keeps its pool entry until its answer (matched by the id
 * "o<pool index>-<generation>"), its expiry after request_timeout_ms, or
 * the end of the connection: the last two are answered as "no answer",
 * exactly like a REST request that timed out (the order stays tracked until
 * status queries confirm or deny it). REST is the fallback. */

static bool ws_usable(const struct clb_binance *b, const struct bn_req *rq)
{
    return (rq->kind == BN_RQ_ORDER_NEW || rq->kind == BN_RQ_ORDER_CANCEL) &&
           !b->cfg.orders_over_rest && b->ws_signer_ok && b->uws && clb_ws_is_open(b->uws);
}

/* "k=v&k=v" (values unencoded) split in place into ps; count or < 0. */
static int split_params(char *q, struct clb_bn_param *ps, size_t cap)
{
    size_t n = 0;
    for (char *p = q; *p;) {
        char *amp = strchr(p, '&'), *eq;
        if (amp)
            *amp = '\0';
        if (n == cap || !(eq = strchr(p, '=')))
            return CLB_EINVAL;
        *eq = '\0';
        ps[n].key = p;
        ps[n].value = eq + 1;
        n++;
        if (!amp)
            break;
        p = amp + 1;
    }
    return (int)n;
}

void bn_put_u64(char *buf, size_t cap, size_t *pos, uint64_t v)
{
    char d[20];
    size_t n = sizeof(d);
    do {
        d[--n] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    bn_put(buf, cap, pos, d + n, sizeof(d) - n);
}

void bn_put_i64(char *buf, size_t cap, size_t *pos, int64_t v)
{
    if (v < 0) {
        bn_put(buf, cap, pos, "-", 1);
        bn_put_u64(buf, cap, pos, (uint64_t)0 - (uint64_t)v);
    } else {
        bn_put_u64(buf, cap, pos, (uint64_t)v);
    }
}

void bn_put_dec(char *buf, size_t cap, size_t *pos, clb_dec d)
{
    char s[CLB_DEC_STRLEN];
    int n = clb_dec_format(d, s, sizeof(s));
    if (n < 0) {
        *pos = cap; /* unformattable: an overflow for the caller */
        return;
    }
    bn_put(buf, cap, pos, s, (size_t)n);
}

static bool json_plain(const char *s)
{
    for (; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20)
            return false;
    return true;
}

/* The end of every WS-API request: "apiKey":"..","recvWindow":N,
 * "timestamp":N,"signature":".."}} (sig: CLB_BN_SIG_HEX_LEN hex digits). */
static void ws_put_signed_tail(const struct clb_binance *b, char *out, size_t cap, size_t *o,
                               int64_t ts, const char *sig)
{
    BN_PUT_LIT(out, cap, o, "\"apiKey\":\"");
    bn_put_s(out, cap, o, b->api_key);
    BN_PUT_LIT(out, cap, o, "\",\"recvWindow\":");
    bn_put_i64(out, cap, o, b->cfg.recv_window_ms);
    BN_PUT_LIT(out, cap, o, ",\"timestamp\":");
    bn_put_i64(out, cap, o, ts);
    BN_PUT_LIT(out, cap, o, ",\"signature\":\"");
    bn_put(out, cap, o, sig, CLB_BN_SIG_HEX_LEN);
    BN_PUT_LIT(out, cap, o, "\"}}");
}

/* The signed WS-API request, fast: Binance's rule (every parameter but the
 * signature, sorted by name, k=v&..., values as they are) built straight
 * from the split parameters and signed with the pre-keyed HMAC; the same
 * text clb_bn_signer_ws_request makes (binance_sign.h), which remains the
 * path for values that would need JSON escaping. Length or < 0. */
static int ws_build(struct clb_binance *b, const char *id, const char *method,
                    struct clb_bn_param *ps, size_t n, int64_t ts, char *out, size_t cap)
{
    char tss[24], rws[24];
    size_t tl = 0, rl = 0;
    bn_put_i64(tss, sizeof(tss), &tl, ts);
    tss[tl] = '\0';
    bn_put_i64(rws, sizeof(rws), &rl, b->cfg.recv_window_ms);
    rws[rl] = '\0';
    bool plain = json_plain(b->api_key);
    for (size_t i = 0; i < n && plain; i++)
        plain = json_plain(ps[i].key) && json_plain(ps[i].value);
    if (!plain || n + 3 > CLB_BN_SIGN_MAX_PARAMS || b->cfg.recv_window_ms <= 0)
        return clb_bn_signer_ws_request(&b->ws_signer, id, method, ps, n, b->api_key, ts,
                                        b->cfg.recv_window_ms, out, cap);
    struct clb_bn_param all[CLB_BN_SIGN_MAX_PARAMS];
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        all[k++] = ps[i];
    all[k++] = (struct clb_bn_param){ "apiKey", b->api_key };
    all[k++] = (struct clb_bn_param){ "recvWindow", rws };
    all[k++] = (struct clb_bn_param){ "timestamp", tss };
    for (size_t i = 1; i < k; i++) { /* insertion sort: a dozen keys */
        struct clb_bn_param x = all[i];
        size_t j = i;
        for (; j > 0 && strcmp(all[j - 1].key, x.key) > 0; j--)
            all[j] = all[j - 1];
        all[j] = x;
    }
    for (size_t i = 1; i < k; i++)
        if (strcmp(all[i - 1].key, all[i].key) == 0)
            return CLB_EINVAL;
    char pay[1024];
    size_t pl = 0;
    for (size_t i = 0; i < k; i++) {
        if (i)
            BN_PUT_LIT(pay, sizeof(pay), &pl, "&");
        bn_put_s(pay, sizeof(pay), &pl, all[i].key);
        BN_PUT_LIT(pay, sizeof(pay), &pl, "=");
        bn_put_s(pay, sizeof(pay), &pl, all[i].value);
    }
    if (pl >= sizeof(pay))
        return CLB_ERANGE;
    char sig[CLB_BN_SIG_HEX_LEN + 1];
    int rc = signer_sign(b, pay, pl, sig);
    if (rc != CLB_OK)
        return rc;
    size_t o = 0;
    BN_PUT_LIT(out, cap, &o, "{\"id\":\"");
    bn_put_s(out, cap, &o, id);
    BN_PUT_LIT(out, cap, &o, "\",\"method\":\"");
    bn_put_s(out, cap, &o, method);
    BN_PUT_LIT(out, cap, &o, "\",\"params\":{");
    for (size_t i = 0; i < n; i++) {
        BN_PUT_LIT(out, cap, &o, "\"");
        bn_put_s(out, cap, &o, ps[i].key);
        BN_PUT_LIT(out, cap, &o, "\":\"");
        bn_put_s(out, cap, &o, ps[i].value);
        BN_PUT_LIT(out, cap, &o, "\",");
    }
    ws_put_signed_tail(b, out, cap, &o, ts, sig);
    if (o >= cap || o > INT32_MAX)
        return CLB_ERANGE;
    out[o] = '\0';
    return (int)o;
}

/* The fast builder must produce exactly what binance_sign.c makes. */
static bool ws_build_agrees(struct clb_binance *b)
{
    char q[] = "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=60000"
               "&newClientOrderId=x-1.y_2&newOrderRespType=FULL";
    struct clb_bn_param ps[16];
    int n = split_params(q, ps, 16);
    char x[2048], y[2048];
    int lx = n > 0 ? ws_build(b, "o1-1", "order.place", ps, (size_t)n, INT64_C(1499827319559),
                              x, sizeof(x))
                   : -1;
    int ly = n > 0 ? clb_bn_signer_ws_request(&b->ws_signer, "o1-1", "order.place", ps,
                                              (size_t)n, b->api_key, INT64_C(1499827319559),
                                              b->cfg.recv_window_ms, y, sizeof(y))
                   : -1;
    return lx > 0 && lx == ly && memcmp(x, y, (size_t)lx) == 0;
}

static const char *type_name(enum clb_order_type t)
{
    return t == CLB_ORDER_MARKET ? "MARKET" : t == CLB_ORDER_LIMIT_MAKER ? "LIMIT_MAKER" : "LIMIT";
}

/* The order.place request of a create, built straight from its fields:
 * the bytes ws_build makes from its params (bn_create_params: symbol,
 * side, type, [timeInForce], quantity, [price], newClientOrderId,
 * newOrderRespType), with the signed payload written in
 * the key order Binance sorts to (apiKey < newClientOrderId <
 * newOrderRespType < price < quantity < recvWindow < side < symbol <
 * timeInForce < timestamp < type), so nothing is split, copied or sorted.
 * Length, < 0 on error, or 0 when a value would need JSON escaping (the
 * caller then takes the generic path). ws_create_agrees checks it against
 * ws_build at create. */
static int ws_build_create(struct clb_binance *b, const char *id, const char *xsym,
                           enum clb_side side, enum clb_order_type type, clb_dec price,
                           clb_dec amount, const char *cid, int64_t ts, char *out, size_t cap)
{
    if (!b->ws_direct || b->cfg.recv_window_ms <= 0 || !json_plain(xsym) || !json_plain(cid))
        return 0;
    char qs[CLB_DEC_STRLEN], ps[CLB_DEC_STRLEN];
    int ql = clb_dec_format(amount, qs, sizeof(qs)), pl = 0;
    bool has_price = type != CLB_ORDER_MARKET, gtc = type == CLB_ORDER_LIMIT;
    if (has_price)
        pl = clb_dec_format(price, ps, sizeof(ps));
    if (ql < 0 || pl < 0)
        return 0;
    const char *sd = side == CLB_SIDE_BUY ? "BUY" : "SELL";
    const char *ty = type_name(type);
    char pay[1024];
    size_t n = 0;
    BN_PUT_LIT(pay, sizeof(pay), &n, "apiKey=");
    bn_put_s(pay, sizeof(pay), &n, b->api_key);
    BN_PUT_LIT(pay, sizeof(pay), &n, "&newClientOrderId=");
    bn_put_s(pay, sizeof(pay), &n, cid);
    BN_PUT_LIT(pay, sizeof(pay), &n, "&newOrderRespType=FULL");
    if (has_price) {
        BN_PUT_LIT(pay, sizeof(pay), &n, "&price=");
        bn_put(pay, sizeof(pay), &n, ps, (size_t)pl);
    }
    BN_PUT_LIT(pay, sizeof(pay), &n, "&quantity=");
    bn_put(pay, sizeof(pay), &n, qs, (size_t)ql);
    BN_PUT_LIT(pay, sizeof(pay), &n, "&recvWindow=");
    bn_put_i64(pay, sizeof(pay), &n, b->cfg.recv_window_ms);
    BN_PUT_LIT(pay, sizeof(pay), &n, "&side=");
    bn_put_s(pay, sizeof(pay), &n, sd);
    BN_PUT_LIT(pay, sizeof(pay), &n, "&symbol=");
    bn_put_s(pay, sizeof(pay), &n, xsym);
    if (gtc)
        BN_PUT_LIT(pay, sizeof(pay), &n, "&timeInForce=GTC");
    BN_PUT_LIT(pay, sizeof(pay), &n, "&timestamp=");
    bn_put_i64(pay, sizeof(pay), &n, ts);
    BN_PUT_LIT(pay, sizeof(pay), &n, "&type=");
    bn_put_s(pay, sizeof(pay), &n, ty);
    if (n >= sizeof(pay))
        return CLB_ERANGE;
    char sig[CLB_BN_SIG_HEX_LEN + 1];
    int rc = signer_sign(b, pay, n, sig);
    if (rc != CLB_OK)
        return rc;
    size_t o = 0;
    BN_PUT_LIT(out, cap, &o, "{\"id\":\"");
    bn_put_s(out, cap, &o, id);
    BN_PUT_LIT(out, cap, &o, "\",\"method\":\"order.place\",\"params\":{\"symbol\":\"");
    bn_put_s(out, cap, &o, xsym);
    BN_PUT_LIT(out, cap, &o, "\",\"side\":\"");
    bn_put_s(out, cap, &o, sd);
    BN_PUT_LIT(out, cap, &o, "\",\"type\":\"");
    bn_put_s(out, cap, &o, ty);
    if (gtc)
        BN_PUT_LIT(out, cap, &o, "\",\"timeInForce\":\"GTC");
    BN_PUT_LIT(out, cap, &o, "\",\"quantity\":\"");
    bn_put(out, cap, &o, qs, (size_t)ql);
    if (has_price) {
        BN_PUT_LIT(out, cap, &o, "\",\"price\":\"");
        bn_put(out, cap, &o, ps, (size_t)pl);
    }
    BN_PUT_LIT(out, cap, &o, "\",\"newClientOrderId\":\"");
    bn_put_s(out, cap, &o, cid);
    BN_PUT_LIT(out, cap, &o, "\",\"newOrderRespType\":\"FULL\",");
    ws_put_signed_tail(b, out, cap, &o, ts, sig);
    if (o >= cap || o > INT32_MAX)
        return CLB_ERANGE;
    out[o] = '\0';
    return (int)o;
}

int bn_create_params(const struct clb_binance *b, struct bn_req *rq)
{
    if (!rq->has_order)
        return CLB_EINVAL;
    char *out = rq->params;
    size_t cap = sizeof(rq->params), n = 0;
    enum clb_order_type type = rq->type;
    BN_PUT_LIT(out, cap, &n, "symbol=");
    bn_put_s(out, cap, &n, b->markets[rq->market].xsym);
    if (rq->side == CLB_SIDE_BUY)
        BN_PUT_LIT(out, cap, &n, "&side=BUY&type=");
    else
        BN_PUT_LIT(out, cap, &n, "&side=SELL&type=");
    bn_put_s(out, cap, &n, type_name(type));
    if (type == CLB_ORDER_LIMIT)
        BN_PUT_LIT(out, cap, &n, "&timeInForce=GTC");
    BN_PUT_LIT(out, cap, &n, "&quantity=");
    bn_put_dec(out, cap, &n, rq->amount);
    if (type != CLB_ORDER_MARKET) {
        BN_PUT_LIT(out, cap, &n, "&price=");
        bn_put_dec(out, cap, &n, rq->price);
    }
    BN_PUT_LIT(out, cap, &n, "&newClientOrderId=");
    bn_put_s(out, cap, &n, rq->client_id);
    BN_PUT_LIT(out, cap, &n, "&newOrderRespType=FULL");
    if (n >= cap || n > INT32_MAX) {
        out[0] = '\0';
        return CLB_ERANGE;
    }
    out[n] = '\0';
    return (int)n;
}

/* The direct builder must produce exactly what ws_build makes from the
 * params of the same create (a LIMIT with timeInForce, a MARKET without a
 * price). */
static bool ws_create_agrees(struct clb_binance *b)
{
    static const struct {
        const char *q;
        enum clb_side side;
        enum clb_order_type type;
    } cases[] = {
        { "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.001&price=60000.5"
          "&newClientOrderId=x-1.y_2&newOrderRespType=FULL",
          CLB_SIDE_BUY, CLB_ORDER_LIMIT },
        { "symbol=BTCUSDT&side=SELL&type=MARKET&quantity=0.001"
          "&newClientOrderId=x-1.y_2&newOrderRespType=FULL",
          CLB_SIDE_SELL, CLB_ORDER_MARKET },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char q[256], x[2048], y[2048];
        snprintf(q, sizeof(q), "%s", cases[i].q);
        struct clb_bn_param ps[16];
        int n = split_params(q, ps, 16);
        int lx = ws_build_create(b, "o1-1", "BTCUSDT", cases[i].side, cases[i].type,
                                 clb_dec_make(600005, 1), clb_dec_make(1, 3), "x-1.y_2",
                                 INT64_C(1499827319559), x, sizeof(x));
        int ly = n > 0 ? ws_build(b, "o1-1", "order.place", ps, (size_t)n,
                                  INT64_C(1499827319559), y, sizeof(y))
                       : -1;
        if (lx <= 0 || lx != ly || memcmp(x, y, (size_t)lx) != 0)
            return false;
    }
    return true;
}

/* Makes rq's create params when they are wanted and not there yet. */
static int ensure_params(const struct clb_binance *b, struct bn_req *rq)
{
    if (rq->kind != BN_RQ_ORDER_NEW || !rq->has_order || rq->params[0])
        return CLB_OK;
    int n = bn_create_params(b, rq);
    return n < 0 ? n : CLB_OK;
}

/* "o<idx>-<gen>", the WS-API id of pool entry idx. */
static void ws_id(char *id, size_t cap, uint32_t idx, uint32_t gen)
{
    size_t il = 0;
    BN_PUT_LIT(id, cap, &il, "o");
    bn_put_u64(id, cap, &il, idx);
    BN_PUT_LIT(id, cap, &il, "-");
    bn_put_u64(id, cap, &il, gen);
    id[il < cap ? il : cap - 1] = '\0';
}

static int ws_format_params(struct clb_binance *b, enum bn_req_kind kind, const char *params,
                            uint32_t idx, uint32_t gen, int64_t ts, char *out, size_t cap);

/* The WS-API request of rq as pool entry idx: a create straight from its
 * order, anything else (and a create whose values need escaping) from its
 * params. */
static int ws_format_req(struct clb_binance *b, struct bn_req *rq, uint32_t idx,
                         uint32_t gen, int64_t ts, char *out, size_t cap)
{
    if (rq->kind == BN_RQ_ORDER_NEW && rq->has_order) {
        char id[48];
        ws_id(id, sizeof(id), idx, gen);
        int n = ws_build_create(b, id, b->markets[rq->market].xsym, rq->side, rq->type,
                                rq->price, rq->amount, rq->client_id, ts, out, cap);
        if (n != 0)
            return n;
    }
    int rc = ensure_params(b, rq);
    if (rc != CLB_OK)
        return rc;
    return ws_format_params(b, rq->kind, rq->params, idx, gen, ts, out, cap);
}

/* The WS-API request of kind (BN_RQ_ORDER_NEW / BN_RQ_ORDER_CANCEL) for
 * params ("k=v&...") with id "o<idx>-<gen>" and timestamp ts into out.
 * Length or < 0. */
static int ws_format_params(struct clb_binance *b, enum bn_req_kind kind, const char *params,
                            uint32_t idx, uint32_t gen, int64_t ts, char *out, size_t cap)
{
    char q[sizeof(((struct bn_req *)NULL)->params)];
    size_t ql = strnlen(params, sizeof(q) - 1);
    memcpy(q, params, ql);
    q[ql] = '\0';
    struct clb_bn_param ps[16];
    int n = split_params(q, ps, sizeof(ps) / sizeof(ps[0]));
    if (n < 0)
        return n;
    char id[48];
    ws_id(id, sizeof(id), idx, gen);
    return ws_build(b, id, kind == BN_RQ_ORDER_NEW ? "order.place" : "order.cancel", ps,
                    (size_t)n, ts, out, cap);
}

/* Cache warming of the order path (the market stream's on_warm calls it
 * every ms while the streams are quiet; on a shared VM the caches forget
 * the path within a ms or two, and a depth tick every 100 ms then finds it
 * cold): the place path of binance_orders.c on a canned order of the first
 * market, written into the pool entry the next request will take (free,
 * and cleared again here; bn_req_new clears it anyway), the throttler's
 * check, the WS-API request built and signed with the id that entry would
 * get (into a scratch buffer), and a prefetch of the tracker slot and
 * connector state the next order will use. Nothing is sent, tracked or
 * counted. */
void bn_warm_orders(struct clb_binance *b)
{
    if (!b->hmac || !b->ws_signer_ok || b->n_markets == 0 || !b->time_ok || b->destroying)
        return;
    uint32_t idx = req_lowest_free(b);
    if (idx >= BN_MAX_REQS)
        return;
    struct bn_req *rq = &b->reqs[idx];
    memset(rq, 0, offsetof(struct bn_req, path)); /* free: nobody reads it */
    rq->params[0] = '\0';
    if (bn_warm_place(b, rq) >= 0) {
        int64_t ts = bn_server_ms(b), wait_ms = 0;
        clb_bn_throttle_check(&b->thr, ts, cost_of(rq), &wait_ms);
        char buf[2048];
        ws_format_req(b, rq, idx, b->ws_gen + 1, ts, buf, sizeof(buf));
    }
    memset(rq, 0, offsetof(struct bn_req, path));
    rq->params[0] = '\0';
    uint32_t slot = clb_tracker_next_slot(&b->tracker);
    if (slot < b->tracker.max_orders) {
        const char *o = (const char *)&b->tracker.orders[slot];
        for (size_t off = 0; off < sizeof(b->tracker.orders[0]); off += 64)
            __builtin_prefetch(o + off, 1);
        __builtin_prefetch(&b->oinfo[slot], 1);
    }
}

static int ws_send_req(struct clb_binance *b, struct bn_req *rq)
{
    char buf[2048];
    uint32_t idx = (uint32_t)(rq - b->reqs), gen = b->ws_gen + 1;
    int64_t ts = bn_server_ms(b);
    int len = ws_format_req(b, rq, idx, gen, ts, buf, sizeof(buf));
    if (len < 0)
        return len;
    b->ws_gen = gen;
    int64_t now = bn_mono_ns();
    if (rq->frame_recv_ns > 0)
        latency_add(&b->stats.tick_to_submit, now - rq->frame_recv_ns);
    /* in flight before the send: the write (and its on_sent report) may
     * happen inside clb_ws_send */
    rq->timestamp_ms = ts;
    rq->via_ws = true;
    rq->ws_gen = gen;
    rq->ws_seq = clb_ws_last_seq(b->uws) + 1;
    rq->sent = true;
    rq->sent_ns = now;
    rq->sent_wall_ns = bn_wall_ns();
    b->ws_inflight++;
    b->ws_last = idx;
    int rc = clb_ws_send(b->uws, buf, (size_t)len);
    if (rc != CLB_OK) {
        rq->via_ws = rq->sent = false;
        b->ws_inflight--;
        return rc;
    }
    throttle_charge(b, rq);
    b->stats.ws_api_requests++;
    return CLB_OK;
}

/* rq was written as message seq: closes its tick-to-order measure. */
static bool ws_sent_match(struct clb_binance *b, struct bn_req *rq, uint64_t seq, int64_t write_ns,
                          int64_t done_ns)
{
    if (!rq->used || !rq->sent || !rq->via_ws || rq->ws_seq != seq)
        return false;
    if (rq->frame_recv_ns > 0) {
        latency_add(&b->stats.tick_to_order, write_ns - rq->frame_recv_ns);
        latency_add(&b->stats.order_write, done_ns - write_ns);
    }
    rq->frame_recv_ns = 0;
    return true;
}

void bn_ws_sent(struct clb_binance *b, uint64_t seq, int64_t write_ns, int64_t done_ns)
{
    if (!b->ws_inflight)
        return;
    /* normally the request just handed to clb_ws_send (written at once) */
    if (b->ws_last < BN_MAX_REQS && ws_sent_match(b, &b->reqs[b->ws_last], seq, write_ns, done_ns))
        return;
    for (uint32_t i = 0; i < BN_MAX_REQS; i++)
        if (ws_sent_match(b, &b->reqs[i], seq, write_ns, done_ns))
            return;
}

static void ws_finish(struct clb_binance *b, struct bn_req *rq, const struct clb_http_resp *r,
                      int code)
{
    rq->via_ws = false;
    b->ws_inflight--;
    bn_req_finish(b, rq, r, code);
}

bool bn_ws_answer(struct clb_binance *b, const char *data, size_t len)
{
    struct clb_bn_ws_response resp;
    unsigned idx, gen;
    char nul, *result = b->ws_result;
    if (clb_bn_parse_ws_response(data, len, &resp, result, BN_WS_RESULT_MAX, NULL, 0) != CLB_OK ||
        sscanf(resp.id, "o%u-%u%c", &idx, &gen, &nul) != 2 || idx >= BN_MAX_REQS)
        return false;
    struct bn_req *rq = &b->reqs[idx];
    if (!rq->used || !rq->sent || !rq->via_ws || rq->ws_gen != gen)
        return true; /* expired meanwhile: status queries settle it */
    struct clb_http_resp r;
    memset(&r, 0, sizeof(r));
    r.rc = CLB_OK;
    r.status = resp.status;
    r.body = resp.has_result ? result : data;
    r.body_len = resp.has_result ? resp.result_len : len;
    r.error = "";
    int code = resp.has_error ? resp.error.code : 0;
    if ((resp.status == 429 || resp.status == 418) && resp.retry_after_ms > 0) {
        b->stats.rest_throttled++;
        clb_bn_throttle_on_retry_after(&b->thr, bn_server_ms(b),
                                       resp.retry_after_ms - bn_server_ms(b),
                                       resp.status == 418);
    }
    ws_finish(b, rq, &r, code);
    return true;
}

void bn_ws_expire(struct clb_binance *b, bool all)
{
    if (!b->ws_inflight)
        return;
    int64_t now = bn_mono_ns();
    int64_t limit = (int64_t)b->cfg.request_timeout_ms * NS_PER_MS;
    for (uint32_t i = 0; i < BN_MAX_REQS && b->ws_inflight; i++) {
        struct bn_req *rq = &b->reqs[i];
        if (!rq->used || !rq->sent || !rq->via_ws || (!all && now - rq->sent_ns < limit))
            continue;
        struct clb_http_resp r;
        memset(&r, 0, sizeof(r));
        r.rc = all ? CLB_EIO : CLB_ETIMEDOUT;
        r.body = "";
        r.error = all ? "WebSocket API connection lost" : "WebSocket API request timed out";
        b->stats.ws_api_timeouts++;
        ws_finish(b, rq, &r, 0);
    }
}

/* Hands a request to the transport now (the throttler said yes). */
static int req_send(struct clb_binance *b, struct bn_req *rq)
{
    if (ws_usable(b, rq) && ws_send_req(b, rq) == CLB_OK)
        return CLB_OK;
    int n = ensure_params(b, rq);
    if (n != CLB_OK)
        return n;
    if (rq->is_signed) {
        /* the params are already encoded "k=v&..." text: sign them as one
         * pre-built query by passing no params and prefixing */
        char q[sizeof(rq->params) + 256];
        rq->timestamp_ms = bn_server_ms(b);
        char sig[CLB_BN_SIG_HEX_LEN + 1];
        int ql = snprintf(q, sizeof(q), "%s%srecvWindow=%d&timestamp=%" PRId64, rq->params,
                          rq->params[0] ? "&" : "", b->cfg.recv_window_ms, rq->timestamp_ms);
        if (ql < 0 || (size_t)ql >= sizeof(q))
            return CLB_ERANGE;
        int rc = signer_sign(b, q, (size_t)ql, sig);
        if (rc != CLB_OK)
            return rc;
        if (strcmp(rq->method, "POST") == 0) {
            /* POST: the signed parameters go in the body (Binance accepts
             * them in the query string too) */
            n = snprintf(rq->url, sizeof(rq->url), "%s%s", b->rest_url, rq->path);
            int bl = snprintf(rq->body, sizeof(rq->body), "%s&signature=%s", q, sig);
            if (bl < 0 || (size_t)bl >= sizeof(rq->body))
                return CLB_ERANGE;
            rq->body_len = (size_t)bl;
        } else {
            n = snprintf(rq->url, sizeof(rq->url), "%s%s?%s&signature=%s", b->rest_url,
                         rq->path, q, sig);
        }
    } else {
        n = snprintf(rq->url, sizeof(rq->url), "%s%s%s%s", b->rest_url, rq->path,
                     rq->params[0] ? "?" : "", rq->params);
    }
    if (n < 0 || (size_t)n >= sizeof(rq->url))
        return CLB_ERANGE;
    snprintf(rq->header, sizeof(rq->header), "X-MBX-APIKEY: %s", b->api_key);
    const char *hdrs[1] = { rq->header };
    struct clb_http_req hr = {
        .method = rq->method,
        .url = rq->url,
        .headers = hdrs,
        .n_headers = rq->is_signed || rq->kind == BN_RQ_ORDER_NEW ? 1 : 0,
        .body = rq->body_len ? rq->body : NULL,
        .body_len = rq->body_len,
        .timeout_ms = b->cfg.request_timeout_ms,
    };
    throttle_charge(b, rq);
    rq->sent = true;
    rq->sent_ns = bn_mono_ns();
    rq->sent_wall_ns = bn_wall_ns();
    if (rq->frame_recv_ns > 0)
        latency_add(&b->stats.tick_to_submit, rq->sent_ns - rq->frame_recv_ns);
    int rc = clb_http_request(b->loop, &hr, on_http_done, rq, &rq->http_id);
    memset(rq->header, 0, sizeof(rq->header)); /* the key does not linger */
    if (rc != CLB_OK) {
        rq->sent = false;
        return rc;
    }
    b->stats.rest_requests++;
    return CLB_OK;
}

static void wait_push(struct clb_binance *b, struct bn_req *rq)
{
    uint32_t i = (uint32_t)(rq - b->reqs);
    rq->next_wait = UINT32_MAX;
    if (b->wait_tail == UINT32_MAX)
        b->wait_head = i;
    else
        b->reqs[b->wait_tail].next_wait = i;
    b->wait_tail = i;
}

/* Sends the waiting requests the throttler now allows, in FIFO order (a
 * request that still may not go stops the drain: order is kept). */
static void drain_waiting(struct clb_binance *b)
{
    int64_t now = bn_mono_ns();
    while (b->wait_head != UINT32_MAX) {
        struct bn_req *rq = &b->reqs[b->wait_head];
        if (throttle_wait(b, rq, now) != 0)
            return;
        b->wait_head = rq->next_wait;
        if (b->wait_head == UINT32_MAX)
            b->wait_tail = UINT32_MAX;
        rq->next_wait = UINT32_MAX;
        if (req_send(b, rq) != CLB_OK) {
            /* the transport refused: answer it as "no response" */
            struct clb_http_resp none;
            memset(&none, 0, sizeof(none));
            none.rc = CLB_EIO;
            on_http_done(rq, &none);
        }
    }
}

int bn_req_submit(struct clb_binance *b, struct bn_req *rq)
{
    int64_t now = bn_mono_ns();
    if (b->wait_head != UINT32_MAX || throttle_wait(b, rq, now) != 0) {
        b->stats.throttle_waits++;
        wait_push(b, rq);
        return CLB_OK;
    }
    int rc = req_send(b, rq);
    if (rc != CLB_OK)
        bn_req_free(b, rq);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Time sync (binance_time.h)                                                */

static void start_time_request(struct clb_binance *b)
{
    if (b->time_inflight)
        return;
    struct bn_req *rq = bn_req_new(b, BN_RQ_TIME, "GET", "/api/v3/time", false, 1);
    if (!rq)
        return;
    b->time_inflight = true;
    if (bn_req_submit(b, rq) != CLB_OK)
        b->time_inflight = false;
}

void bn_time_resync(struct clb_binance *b)
{
    clb_bn_time_invalidate(&b->clk);
    b->stats.time_syncs++;
    start_time_request(b);
}

static void on_time(struct clb_binance *b, struct bn_req *rq, const struct clb_http_resp *r,
                    json_t *j)
{
    b->time_inflight = false;
    if (r->status != 200 || !json_is_integer(json_object_get(j, "serverTime"))) {
        b->next_time_ns = bn_mono_ns() + 1000 * NS_PER_MS;
        return;
    }
    int64_t server = json_integer_value(json_object_get(j, "serverTime"));
    clb_bn_time_add_sample(&b->clk, rq->sent_wall_ns, server, bn_wall_ns());
    if (clb_bn_time_has_offset(&b->clk))
        b->time_ok = true;
    if (clb_bn_time_needs_resync(&b->clk, bn_wall_ns()))
        start_time_request(b);
}

/* ------------------------------------------------------------------------ */
/* Startup requests                                                          */

static void start_exchange_info(struct clb_binance *b)
{
    if (b->info_inflight)
        return;
    struct bn_req *rq = bn_req_new(b, BN_RQ_EXCHANGE_INFO, "GET", "/api/v3/exchangeInfo", false,
                                   20);
    if (!rq)
        return;
    char *p = rq->params;
    size_t cap = sizeof(rq->params);
    int n = snprintf(p, cap, "symbols=%%5B");
    for (uint32_t i = 0; i < b->n_markets && n > 0 && (size_t)n < cap; i++)
        n += snprintf(p + n, cap - (size_t)n, "%s%%22%s%%22", i ? "%2C" : "", b->markets[i].xsym);
    if (n > 0 && (size_t)n < cap)
        snprintf(p + n, cap - (size_t)n, "%%5D");
    b->info_inflight = true;
    if (bn_req_submit(b, rq) != CLB_OK)
        b->info_inflight = false;
}

static void start_account(struct clb_binance *b)
{
    if (b->account_inflight || !b->time_ok)
        return;
    struct bn_req *rq = bn_req_new(b, BN_RQ_ACCOUNT, "GET", "/api/v3/account", true, 20);
    if (!rq)
        return;
    snprintf(rq->params, sizeof(rq->params), "omitZeroBalances=true");
    b->account_inflight = true;
    if (bn_req_submit(b, rq) != CLB_OK)
        b->account_inflight = false;
}

static void start_commission(struct clb_binance *b, uint32_t mi)
{
    struct bn_req *rq = bn_req_new(b, BN_RQ_COMMISSION, "GET", "/api/v3/account/commission",
                                   true, 20);
    if (!rq)
        return;
    rq->market = mi;
    snprintf(rq->params, sizeof(rq->params), "symbol=%s", b->markets[mi].xsym);
    bn_req_submit(b, rq);
}

static void on_commission(struct clb_binance *b, struct bn_req *rq,
                          const struct clb_http_resp *r)
{
    struct clb_bn_commission c;
    if (r->status == 200 &&
        clb_bn_parse_commission(r->body, r->body_len, &c, NULL, 0) == CLB_OK) {
        b->commission_supported = true;
        set_fees(&b->markets[rq->market], &c);
    }
    /* 404 (no such endpoint, e.g. a simulator): the account's rates serve;
     * other failures: the account poll keeps the rates fresh meanwhile */
}

/* ------------------------------------------------------------------------ */
/* Answers                                                                   */

static void on_http_done(void *ud, const struct clb_http_resp *r)
{
    struct bn_req *rq = ud;
    int code = 0;
    if (r->rc == CLB_OK && r->status >= 400 && r->status < 500)
        code = bn_error_code(r->body, r->body_len);
    bn_req_finish(rq->owner, rq, r, code);
}

void bn_req_finish(struct clb_binance *b, struct bn_req *rq, const struct clb_http_resp *r,
                   int code)
{
    rq->sent = false;
    if (rq->frame_recv_ns > 0 && r->sent_mono_ns > 0)
        latency_add(&b->stats.tick_to_order, r->sent_mono_ns - rq->frame_recv_ns);
    throttle_on_response(b, rq, r);
    if (r->num_connects > 0)
        b->stats.rest_connects += (uint64_t)r->num_connects;
    if (r->rc != CLB_OK || r->status == 0) {
        b->stats.rest_timeouts++;
    } else if (r->status >= 500) {
        b->stats.rest_5xx++;
    } else if (r->status >= 400) {
        b->stats.rest_errors++;
        if (clb_bn_time_on_error_code(&b->clk, code)) {
            bn_log(b, CLB_LOG_WARN, "%d: timestamp outside recvWindow: resyncing the clock", code);
            b->stats.time_syncs++;
            start_time_request(b);
        }
    }
    switch (rq->kind) {
    case BN_RQ_TIME: {
        json_t *j = r->status == 200 ? bn_json(r->body, r->body_len) : NULL;
        on_time(b, rq, r, j);
        json_decref(j);
        break;
    }
    case BN_RQ_EXCHANGE_INFO:
        b->info_inflight = false;
        if (r->status == 200)
            on_exchange_info(b, r);
        break;
    case BN_RQ_ACCOUNT:
        b->account_inflight = false;
        if (r->status == 200) {
            bn_account_apply(b, rq, r);
            b->stats.account_polls++;
        }
        break;
    case BN_RQ_COMMISSION:
        on_commission(b, rq, r);
        break;
    case BN_RQ_DEPTH:
        bn_market_on_depth_snapshot(b, rq, r);
        break;
    default:
        bn_orders_on_response(b, rq, r, code);
        break;
    }
    bn_req_free(b, rq);
}

/* ------------------------------------------------------------------------ */
/* Connector ops (read side)                                                 */

static const struct clb_order_book *op_book(struct clb_connector *c, const char *market)
{
    struct bn_market *m = bn_market_by_symbol((struct clb_binance *)c, market, NULL);
    return m ? &m->sync.book : NULL;
}

static const struct clb_market_rules *op_rules(struct clb_connector *c, const char *market)
{
    struct bn_market *m = bn_market_by_symbol((struct clb_binance *)c, market, NULL);
    return m && m->rules_ok ? &m->rules : NULL;
}

static int op_balance(struct clb_connector *c, const char *asset, clb_dec *total,
                      clb_dec *available)
{
    struct clb_binance *b = (struct clb_binance *)c;
    *total = *available = clb_dec_make(0, 0);
    if (!asset)
        return CLB_EINVAL;
    for (uint32_t i = 0; i < b->n_assets; i++)
        if (strcmp(b->assets[i].name, asset) == 0) {
            *total = b->assets[i].total;
            *available = b->assets[i].available;
            break;
        }
    return CLB_OK;
}

static int op_fees(struct clb_connector *c, const char *market, double *maker, double *taker)
{
    struct clb_binance *b = (struct clb_binance *)c;
    struct bn_market *m = bn_market_by_symbol(b, market, NULL);
    if (!m)
        return CLB_ENOTFOUND;
    if (!m->fees_ok)
        return CLB_ENOTREADY;
    *maker = m->maker_fee;
    *taker = m->taker_fee;
    return CLB_OK;
}

static const struct clb_order_tracker *op_tracker(struct clb_connector *c)
{
    return &((struct clb_binance *)c)->tracker;
}

static void op_status(struct clb_connector *c, struct clb_connector_status *out)
{
    struct clb_binance *b = (struct clb_binance *)c;
    bool rules = b->n_markets > 0;
    for (uint32_t i = 0; i < b->n_markets; i++)
        rules = rules && b->markets[i].rules_ok && b->markets[i].fees_ok;
    *out = (struct clb_connector_status){
        .symbols_mapped = rules,
        .order_books_ready = bn_books_ready(b),
        .balances_ready = b->balances_ok,
        .trading_rules_ready = rules,
        .user_stream_ready = b->user_ever,
    };
}

static void op_destroy(struct clb_connector *c)
{
    clb_binance_destroy((struct clb_binance *)c);
}

static const struct clb_connector_ops binance_ops = {
    .type = "binance",
    .place = bn_place,
    .cancel = bn_cancel,
    .book = op_book,
    .rules = op_rules,
    .balance = op_balance,
    .fees = op_fees,
    .tracker = op_tracker,
    .status = op_status,
    .destroy = op_destroy,
};

/* ------------------------------------------------------------------------ */
/* Housekeeping                                                              */

static void service(struct clb_binance *b)
{
    if (b->destroying)
        return;
    int64_t now = bn_mono_ns();
    b->now_ns = bn_wall_ns();
    if (!b->time_inflight && now >= b->next_time_ns &&
        clb_bn_time_needs_resync(&b->clk, b->now_ns)) {
        b->next_time_ns = now + 500 * NS_PER_MS;
        start_time_request(b);
    }
    if (now >= b->next_info_ns && !b->info_inflight) {
        bool all = true;
        for (uint32_t i = 0; i < b->n_markets; i++)
            all = all && b->markets[i].rules_ok;
        start_exchange_info(b);
        b->next_info_ns = now + (all ? b->cfg.rules_refresh_ms : 2000) * NS_PER_MS;
    }
    if (b->time_ok && !b->account_inflight &&
        (now >= b->next_account_ns || b->reconcile_wanted)) {
        start_account(b);
        int32_t every = !b->balances_ok        ? 1000
                        : b->user_subscribed ? b->cfg.poll_slow_ms
                                             : b->cfg.poll_fast_ms;
        b->next_account_ns = now + every * NS_PER_MS;
    }
    if (b->time_ok)
        for (uint32_t i = 0; i < b->n_markets; i++)
            if (!b->markets[i].commission_asked && b->markets[i].rules_ok) {
                b->markets[i].commission_asked = true;
                start_commission(b, i);
            }
    bn_ws_expire(b, false);
    bn_market_service(b);
    if (b->time_ok) {
        bn_user_service(b);
        bn_orders_service(b);
    }
    drain_waiting(b);
    clb_tracker_tick(&b->tracker, b->now_ns);
}

static void timer_fired(void *ud);

static void arm_timer(struct clb_binance *b)
{
    b->timer_armed = clb_netloop_timer_add(b->loop, HOUSEKEEPING_MS, timer_fired, b,
                                           &b->timer_id) == CLB_OK;
}

static void timer_fired(void *ud)
{
    struct clb_binance *b = ud;
    b->timer_armed = false;
    service(b);
    if (!b->destroying)
        arm_timer(b);
}

static int it_tick(struct clb_time_iterator *it, int64_t now_ns)
{
    struct clb_binance *b = (struct clb_binance *)it;
    (void)now_ns;
    service(b);
    return CLB_OK;
}

static const struct clb_time_iterator_ops binance_it_ops = { .name = "binance",
                                                             .tick = it_tick };

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */

void clb_binance_config_default(struct clb_binance_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->name, sizeof(cfg->name), "binance");
    cfg->client_id_prefix = "clb-";
    cfg->book_levels = 1000;
    cfg->snapshot_limit = 1000;
    cfg->max_orders = 4096;
    cfg->lost_threshold = 3;
    cfg->recv_window_ms = 5000;
    cfg->request_timeout_ms = 10000;
    cfg->poll_fast_ms = 2000;
    cfg->poll_slow_ms = 30000;
    cfg->snapshot_poll_ms = 2000;
    cfg->status_retry_ms = 1000;
    cfg->cancel_retry_ms = 1000;
    cfg->rules_refresh_ms = 1800000;
    cfg->cancel_orphans = true;
    cfg->orders_over_rest = false;
}

static bool prefix_ok(const char *p)
{
    size_t n = strlen(p);
    if (n >= BN_PREFIX_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* "BTC-USDT": two non-empty alphanumeric parts. */
static bool market_ok(const char *m)
{
    const char *dash = m ? strchr(m, '-') : NULL;
    if (!dash || dash == m || dash[1] == '\0' || strlen(m) >= CLB_SYMBOL_MAX ||
        (size_t)(dash - m) >= CLB_ASSET_MAX || strlen(dash + 1) >= CLB_ASSET_MAX)
        return false;
    for (const char *c = m; *c; c++)
        if (c != dash && !((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')))
            return false;
    return true;
}

static int copy_url(char *dst, size_t cap, const char *url, const char *what, char *err,
                    size_t errlen)
{
    char why[160];
    if (!url || !*url)
        return clb_errf(err, errlen, CLB_EINVAL, "%s is required", what);
    if (clb_net_url_check(url, why, sizeof(why)) != CLB_OK)
        return clb_errf(err, errlen, CLB_EINVAL, "%s: %s", what, why);
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n >= cap)
        return clb_errf(err, errlen, CLB_EINVAL, "%s is too long", what);
    memcpy(dst, url, n);
    dst[n] = '\0';
    return CLB_OK;
}

static int check_config(const struct clb_binance_config *cfg, char *err, size_t errlen)
{
    if (cfg->n_markets == 0 || cfg->n_markets > CLB_BINANCE_MAX_MARKETS)
        return clb_errf(err, errlen, CLB_EINVAL, "markets: 1 to %d markets",
                        CLB_BINANCE_MAX_MARKETS);
    for (size_t i = 0; i < cfg->n_markets; i++) {
        if (!market_ok(cfg->markets[i]))
            return clb_errf(err, errlen, CLB_EINVAL,
                            "markets: '%s' is not BASE-QUOTE (uppercase letters and digits)",
                            cfg->markets[i] ? cfg->markets[i] : "(null)");
        for (size_t k = 0; k < i; k++)
            if (strcmp(cfg->markets[i], cfg->markets[k]) == 0)
                return clb_errf(err, errlen, CLB_EINVAL, "markets: '%s' is listed twice",
                                cfg->markets[i]);
    }
    if (!cfg->api_key || !*cfg->api_key || strlen(cfg->api_key) >= BN_KEY_MAX)
        return clb_errf(err, errlen, CLB_EINVAL, "an API key (1..%d characters) is required",
                        BN_KEY_MAX - 1);
    for (const char *p = cfg->api_key; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            return clb_errf(err, errlen, CLB_EINVAL, "the API key has invalid characters");
    if (!cfg->api_secret || !*cfg->api_secret || strlen(cfg->api_secret) >= BN_KEY_MAX)
        return clb_errf(err, errlen, CLB_EINVAL, "an API secret (1..%d characters) is required",
                        BN_KEY_MAX - 1);
    if (cfg->client_id_prefix && !prefix_ok(cfg->client_id_prefix))
        return clb_errf(err, errlen, CLB_EINVAL,
                        "client_id_prefix: up to %d characters of [A-Za-z0-9._-]",
                        BN_PREFIX_MAX - 1);
    if (cfg->book_levels == 0 || cfg->book_levels > CLB_BOOK_MAX_LEVELS ||
        cfg->snapshot_limit == 0 || cfg->snapshot_limit > 5000 || cfg->max_orders == 0 ||
        cfg->max_orders > (1u << 20) || cfg->lost_threshold == 0)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "book_levels, snapshot_limit (<= 5000), max_orders, lost_threshold "
                        "must be positive");
    if (cfg->recv_window_ms <= 0 || cfg->recv_window_ms > 60000 ||
        cfg->request_timeout_ms <= 0 || cfg->poll_fast_ms <= 0 || cfg->poll_slow_ms <= 0 ||
        cfg->snapshot_poll_ms <= 0 || cfg->status_retry_ms <= 0 || cfg->cancel_retry_ms <= 0 ||
        cfg->rules_refresh_ms <= 0)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "times must be positive (recv_window_ms at most 60000)");
    if ((cfg->n_restore && !cfg->restore) || (cfg->n_known && !cfg->known_ids) ||
        cfg->n_known > CLB_BINANCE_MAX_KNOWN || cfg->adopt_since_ms < 0)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "restore / known_ids: missing arrays, too many ids or a negative time");
    return CLB_OK;
}

int clb_binance_create(struct clb_netloop *loop, const struct clb_binance_config *cfg,
                       struct clb_event_bus *bus, struct clb_binance **out, char *err,
                       size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!loop || !cfg || !bus || !out)
        return clb_errf(err, errlen, CLB_EINVAL, "loop, config, bus and out are required");
    *out = NULL;
    int rc = check_config(cfg, err, errlen);
    if (rc != CLB_OK)
        return rc;
    struct clb_binance *b = calloc(1, sizeof(*b));
    if (!b)
        return CLB_ENOMEM;
    b->cfg = *cfg;
    /* the copy must not point at the caller's key strings */
    b->cfg.api_key = b->cfg.api_secret = NULL;
    b->cfg.rest_url = b->cfg.stream_url = b->cfg.ws_api_url = NULL;
    b->cfg.client_id_prefix = NULL;
    for (size_t i = 0; i < CLB_BINANCE_MAX_MARKETS; i++)
        b->cfg.markets[i] = NULL;
    b->loop = loop;
    b->wait_head = b->wait_tail = UINT32_MAX;
    snprintf(b->prefix, sizeof(b->prefix), "%s",
             cfg->client_id_prefix ? cfg->client_id_prefix : "clb-");
    if ((rc = copy_url(b->rest_url, sizeof(b->rest_url), cfg->rest_url, "rest_url", err,
                       errlen)) != CLB_OK ||
        (rc = copy_url(b->stream_url, sizeof(b->stream_url) / 2, cfg->stream_url, "stream_url",
                       err, errlen)) != CLB_OK ||
        (rc = copy_url(b->ws_api_url, sizeof(b->ws_api_url), cfg->ws_api_url, "ws_api_url", err,
                       errlen)) != CLB_OK) {
        free(b);
        return rc;
    }
    snprintf(b->api_key, sizeof(b->api_key), "%s", cfg->api_key);
    snprintf(b->api_secret, sizeof(b->api_secret), "%s", cfg->api_secret);
    if (signer_init(b) != CLB_OK || !signer_agrees(b)) {
        signer_free(b);
        memset(b->api_secret, 0, sizeof(b->api_secret));
        free(b);
        return clb_errf(err, errlen, CLB_EIO, "HMAC-SHA256 set-up failed (OpenSSL)");
    }
    clb_time_iterator_init(&b->base.it, &binance_it_ops);
    b->base.ops = &binance_ops;
    b->base.bus = bus;
    snprintf(b->base.name, sizeof(b->base.name), "%s", cfg->name[0] ? cfg->name : "binance");
    if (b->ws_signer_ok && !ws_build_agrees(b)) {
        bn_log(b, CLB_LOG_ERROR, "WebSocket API request signing check failed: orders go over REST");
        b->ws_signer_ok = false;
    }
    b->ws_direct = json_plain(b->api_key);
    if (b->ws_signer_ok && b->ws_direct && !ws_create_agrees(b)) {
        bn_log(b, CLB_LOG_WARN,
               "WebSocket API create builder check failed: creates built from params");
        b->ws_direct = false;
    }
    /* nonces: microseconds of the wall clock, so a restart never reuses an id */
    b->nonce = (uint64_t)(bn_wall_ns() / 1000);

    rc = CLB_ENOMEM;
    b->reqs = calloc(BN_MAX_REQS, sizeof(*b->reqs));
    b->oinfo = calloc(cfg->max_orders, sizeof(*b->oinfo));
    b->scratch_ids = calloc(cfg->max_orders, CLB_CLIENT_ID_MAX);
    b->ws_result = malloc(BN_WS_RESULT_MAX);
    if (!b->reqs || !b->oinfo || !b->scratch_ids || !b->ws_result)
        goto fail;
    struct clb_tracker_config tc;
    clb_tracker_config_defaults(&tc);
    tc.max_orders = cfg->max_orders;
    tc.lost_threshold = cfg->lost_threshold;
    tc.bus = bus;
    tc.source = b->base.name;
    if ((rc = clb_tracker_init(&b->tracker, &tc)) != CLB_OK)
        goto fail;
    struct clb_bn_throttle_config thc;
    clb_bn_throttle_config_defaults(&thc);
    struct clb_bn_rate_limits lim = {
        .l = { { CLB_BN_LIMIT_REQUEST_WEIGHT, 60000, 6000, -1 },
               { CLB_BN_LIMIT_ORDERS, 10000, 100, -1 },
               { CLB_BN_LIMIT_ORDERS, 86400000, 200000, -1 },
               { CLB_BN_LIMIT_RAW_REQUESTS, 300000, 61000, -1 } },
        .n = 4,
    };
    struct clb_bn_time_config tmc;
    clb_bn_time_config_defaults(&tmc);
    struct clb_binance_md_config mdc = { .max_levels = CLB_BINANCE_MD_MAX_LEVELS,
                                         .max_markets = CLB_BINANCE_MAX_MARKETS };
    if ((rc = clb_bn_throttle_init(&b->thr, &thc, &lim)) != CLB_OK ||
        (rc = clb_bn_time_init(&b->clk, &tmc)) != CLB_OK ||
        (rc = clb_binance_md_init(&b->md, &mdc)) != CLB_OK)
        goto fail_tracker;
    for (size_t i = 0; i < cfg->n_markets; i++) {
        struct bn_market *m = &b->markets[i];
        const char *s = cfg->markets[i], *dash = strchr(s, '-');
        snprintf(m->rules.symbol, sizeof(m->rules.symbol), "%s", s);
        snprintf(m->rules.base, sizeof(m->rules.base), "%.*s", (int)(dash - s), s);
        snprintf(m->rules.quote, sizeof(m->rules.quote), "%s", dash + 1);
        size_t k = 0;
        for (const char *p = s; *p; p++) /* "BTC-USDT" -> "BTCUSDT" and "btcusdt" */
            if (*p != '-') {
                m->xsym[k] = *p;
                m->lower[k] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
                k++;
            }
        m->xsym[k] = m->lower[k] = '\0';
        m->md_index = -1;
        b->n_markets++;
        struct clb_binance_book_sync_config sc = { .max_levels = cfg->book_levels,
                                                   .max_buffered = BN_SYNC_EVENTS,
                                                   .max_buffered_levels = BN_SYNC_LEVELS };
        if ((rc = clb_binance_book_sync_init(&m->sync, &sc)) != CLB_OK)
            goto fail_tracker;
    }
    b->cfg.restore = NULL; /* borrowed during create only */
    b->cfg.known_ids = NULL;
    b->cfg.n_restore = b->cfg.n_known = 0;
    if ((rc = bn_orders_restore(b, cfg)) != CLB_OK) {
        clb_errf(err, errlen, rc, "restoring orders: %s", clb_strerror(rc));
        goto fail_tracker;
    }
    if ((rc = bn_market_start(b)) != CLB_OK) {
        clb_errf(err, errlen, rc, "cannot open the market stream");
        goto fail_tracker;
    }
    if ((rc = bn_user_start(b)) != CLB_OK) {
        clb_errf(err, errlen, rc, "cannot open the WebSocket API");
        goto fail_tracker;
    }
    start_time_request(b);
    start_exchange_info(b);
    b->next_info_ns = bn_mono_ns() + 2000 * NS_PER_MS;
    arm_timer(b);
    *out = b;
    return CLB_OK;

fail_tracker:
    clb_binance_destroy(b);
    return rc;
fail:
    free(b->reqs);
    free(b->oinfo);
    free(b->scratch_ids);
    free(b->ws_result);
    signer_free(b);
    memset(b->api_secret, 0, sizeof(b->api_secret));
    free(b);
    return rc;
}

void clb_binance_destroy(struct clb_binance *b)
{
    if (!b)
        return;
    b->destroying = true;
    if (b->timer_armed)
        clb_netloop_timer_cancel(b->loop, b->timer_id);
    b->timer_armed = false;
    for (uint32_t i = 0; b->reqs && i < BN_MAX_REQS; i++)
        if (b->reqs[i].used && b->reqs[i].sent)
            clb_http_cancel(b->loop, b->reqs[i].http_id);
    bn_market_stop(b);
    bn_user_stop(b);
    for (uint32_t i = 0; i < b->n_markets; i++)
        clb_binance_book_sync_deinit(&b->markets[i].sync);
    clb_binance_md_deinit(&b->md);
    clb_tracker_deinit(&b->tracker);
    free(b->known);
    free(b->reqs);
    free(b->oinfo);
    free(b->scratch_ids);
    free(b->ws_result);
    signer_free(b);
    memset(b->api_secret, 0, sizeof(b->api_secret));
    memset(b->api_key, 0, sizeof(b->api_key));
    free(b);
}

struct clb_connector *clb_binance_connector(struct clb_binance *b)
{
    return &b->base;
}

void clb_binance_stats(const struct clb_binance *b, struct clb_binance_stats *out)
{
    *out = b->stats;
    op_status((struct clb_connector *)&b->base, &out->status);
    out->market_stream_up = b->market_up;
    out->user_stream_up = b->user_subscribed;
}

void clb_binance_reconcile_now(struct clb_binance *b)
{
    b->reconcile_wanted = true;
    b->next_poll_ns = 0;
    b->next_account_ns = 0;
}

bool clb_binance_idle(const struct clb_binance *b)
{
    for (uint32_t i = 0; b->sweep_since_ms > 0 && i < b->n_markets; i++)
        if (!b->sweep_done[i])
            return false;
    for (uint32_t i = 0; i < BN_MAX_REQS; i++) {
        const struct bn_req *rq = &b->reqs[i];
        if (rq->used && (rq->kind == BN_RQ_ORDER_NEW || rq->kind == BN_RQ_ORDER_CANCEL ||
                         rq->kind == BN_RQ_ORDER_STATUS || rq->kind == BN_RQ_MY_TRADES))
            return false;
    }
    for (const struct clb_tracked_order *o = clb_tracker_first(&b->tracker); o;
         o = clb_tracker_next(&b->tracker, o))
        if (!clb_order_state_is_terminal(o->state) &&
            (o->state == CLB_ORDER_PENDING_CREATE || o->state == CLB_ORDER_PENDING_CANCEL ||
             o->exchange_filled))
            return false;
    return true;
}

int clb_binance_cancel_all(struct clb_binance *b, const char *market)
{
    uint32_t n = 0;
    for (const struct clb_tracked_order *o = clb_tracker_first(&b->tracker); o;
         o = clb_tracker_next(&b->tracker, o)) {
        if (clb_order_state_is_terminal(o->state) || o->exchange_filled ||
            o->state == CLB_ORDER_PENDING_CANCEL || (market && strcmp(o->market, market) != 0))
            continue;
        memcpy(b->scratch_ids + (size_t)n * CLB_CLIENT_ID_MAX, o->client_order_id,
               sizeof(o->client_order_id));
        n++;
    }
    int done = 0;
    for (uint32_t i = 0; i < n; i++) {
        const char *cid = b->scratch_ids + (size_t)i * CLB_CLIENT_ID_MAX;
        const struct clb_tracked_order *o = clb_tracker_get(&b->tracker, cid);
        if (o && bn_cancel(&b->base, o->market, cid) == CLB_OK)
            done++;
    }
    return done;
}
