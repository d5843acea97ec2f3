/*
 * amm.c — the AMM connector (amm.h): core/connector.h over a colibri
 * gateway's HTTPS routes.
 *
 * Layout: an order tracker (the connector's truth about its swaps), a
 * fixed table of our own per-order bookkeeping (tx poll schedule, unknown
 * outcome deadline), a quote cache, balances, and a fixed pool of request
 * contexts: every request in flight holds one, so destroy can cancel them
 * all and a late answer never touches freed memory. JSON is built and read
 * with jansson (nothing here is on a latency-critical path: a swap takes a
 * block). Polls are scheduled from the clock's ticks; answers arrive in
 * clb_netloop_poll() between ticks and are applied at the latest tick time.
 */
#include "amm.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "http_client.h"
#include "net_url.h"
#include "order_tracker.h"

#define AMM_MAX_REQUESTS 64
#define AMM_MAX_ASSETS (2 * CLB_AMM_MAX_MARKETS + 1)
#define AMM_QUOTE_IDLE_POLLS 10
#define AMM_QUOTE_SCALE 10 /* decimals kept of quote amounts */
#define AMM_FEE_SCALE 18   /* ETH fee decimals */
#define AMM_ERR_MAX 300
#define AMM_NOT_FOUND_GRACE_NS (30 * INT64_C(1000000000))

enum rq_kind { RQ_TRADE, RQ_POLL, RQ_PRICE, RQ_BALANCES };

struct rq {
    struct clb_amm *a;
    enum rq_kind kind;
    bool used;
    uint64_t id;
    int idx; /* order slot (TRADE, POLL) or quote key (PRICE) */
};

struct amm_order {
    bool used;
    char cid[CLB_CLIENT_ID_MAX];
    char hash[67]; /* "0x" + 64 hex digits */
    uint32_t market;
    enum clb_side side;
    bool has_hash;
    bool unknown;         /* trade request unanswered: outcome unknown */
    bool poll_in_flight;
    int64_t next_poll_ns;
    int64_t placed_ns;
    int64_t sent_ns;      /* the gateway answered with the txHash */
    double expected;      /* trade answer's expectedAmount (fallback) */
};

struct amm_quote_key {
    bool used;
    bool in_flight;
    bool has_price;
    uint32_t market;
    enum clb_side side;
    double amount;
    int idle_polls; /* polls since it was last asked for */
    uint64_t sent_gen; /* a->quote_gen when the request in flight was sent */
    struct clb_amm_price p;
};

struct amm_balance {
    char asset[CLB_ASSET_MAX];
    clb_dec total;
    bool known;
};

struct clb_amm {
    struct clb_connector base; /* must stay first */
    struct clb_netloop *loop;
    char url[256];
    char auth[600];
    char network[64];
    char dex[64];
    char address[64];
    char prefix[16];
    double fee;
    int64_t price_poll_ns, balance_poll_ns, tx_poll_ns, lost_after_ns;
    int timeout_ms;
    struct clb_market_rules rules[CLB_AMM_MAX_MARKETS];
    uint32_t n_markets;
    struct clb_order_tracker tracker;
    struct amm_order *orders;
    uint32_t max_orders;
    struct amm_quote_key quotes[CLB_AMM_MAX_QUOTES];
    struct amm_balance bal[AMM_MAX_ASSETS];
    uint32_t n_bal;
    struct rq rqs[AMM_MAX_REQUESTS];
    int64_t now_ns;
    int64_t next_price_ns, next_balance_ns;
    bool balances_in_flight;
    bool balances_ready;
    bool connected;
    bool ever_answered;
    uint64_t quote_gen; /* bumped when one of our swaps is mined: older quotes are stale */
    uint64_t nonce;
    char last_error[AMM_ERR_MAX];
    struct clb_amm_stats stats;
};

static const struct clb_connector_ops amm_ops;

void clb_amm_config_default(struct clb_amm_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->name = "amm";
    cfg->dex = "uniswap_v2";
    cfg->fee = 0.003;
    cfg->price_decimals = 8;
    cfg->amount_decimals = 6;
    cfg->price_poll_ms = 1000;
    cfg->balance_poll_ms = 2000;
    cfg->tx_poll_ms = 250;
    cfg->lost_after_ms = 120000;
    cfg->request_timeout_ms = 15000;
    cfg->max_orders = 256;
    cfg->client_id_prefix = "amm-";
}

__attribute__((format(printf, 2, 3))) static void set_error(struct clb_amm *a, const char *fmt,
                                                            ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->last_error, sizeof(a->last_error), fmt, ap);
    va_end(ap);
}

/* ---- small helpers ---- */

/* Parses a decimal text keeping at most `scale` fractional digits
 * (truncated: amounts from the chain carry up to 18). */
static int parse_trunc(const char *s, int scale, clb_dec *out)
{
    char buf[96];
    if (!s || strlen(s) >= sizeof(buf))
        return CLB_EPARSE;
    snprintf(buf, sizeof(buf), "%s", s);
    char *dot = strchr(buf, '.');
    if (dot) {
        size_t frac = strlen(dot + 1);
        if (scale == 0)
            *dot = '\0';
        else if (frac > (size_t)scale)
            dot[1 + scale] = '\0';
    }
    return clb_dec_parse_cstr(buf, out);
}

/* parse_trunc at the largest scale <= max_scale whose mantissa fits in 64
 * bits (balances: 10000 ETH do not fit at 18 decimals). */
static int parse_fit(const char *s, int max_scale, clb_dec *out)
{
    int rc = CLB_EPARSE;
    for (int sc = max_scale; sc >= 0; sc--)
        if ((rc = parse_trunc(s, sc, out)) == CLB_OK || rc == CLB_EPARSE)
            return rc;
    return rc;
}

static double jnum(const json_t *v)
{
    if (json_is_string(v))
        return strtod(json_string_value(v), NULL);
    if (json_is_number(v))
        return json_number_value(v);
    return NAN;
}

static struct clb_market_rules *find_market(struct clb_amm *a, const char *symbol, uint32_t *idx)
{
    for (uint32_t i = 0; symbol && i < a->n_markets; i++) {
        if (strcmp(a->rules[i].symbol, symbol) == 0) {
            if (idx)
                *idx = i;
            return &a->rules[i];
        }
    }
    return NULL;
}

/* Decodes the gateway's {"error": {"code", "message"}} into a->last_error. */
static void record_answer_error(struct clb_amm *a, const char *what, const struct clb_http_resp *r)
{
    if (r->rc != CLB_OK) {
        set_error(a, "%s: gateway %s unreachable: %s (%s)", what, a->url, clb_strerror(r->rc),
                  r->error && r->error[0] ? r->error : "no answer");
        return;
    }
    json_t *j = json_loadb(r->body ? r->body : "", r->body_len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    set_error(a, "%s: HTTP %d %s: %s", what, r->status, code ? code : "",
              msg ? msg : "(no message)");
    json_decref(j);
}

/* Connection state from one answer. */
static void note_answer(struct clb_amm *a, const struct clb_http_resp *r)
{
    bool ok = r->rc == CLB_OK && r->status > 0 && r->status < 500 && r->status != 401 &&
              r->status != 403;
    a->connected = ok;
    if (ok)
        a->ever_answered = true;
    else
        a->stats.request_errors++;
}

/* ---- requests ---- */

static void on_done(void *ud, const struct clb_http_resp *r);

/* Sends POST path with a JSON body (stolen). Returns the slot or NULL. */
static struct rq *post(struct clb_amm *a, enum rq_kind kind, int idx, const char *path,
                       json_t *body)
{
    struct rq *q = NULL;
    for (size_t i = 0; i < AMM_MAX_REQUESTS && !q; i++)
        if (!a->rqs[i].used)
            q = &a->rqs[i];
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!q || !text) {
        free(text);
        set_error(a, "%s: too many requests in flight", path);
        return NULL;
    }
    char url[512];
    snprintf(url, sizeof(url), "%s%s", a->url, path);
    const char *headers[2] = { "Content-Type: application/json", a->auth };
    struct clb_http_req req = {
        .method = "POST",
        .url = url,
        .headers = headers,
        .n_headers = a->auth[0] ? 2 : 1,
        .body = text,
        .body_len = strlen(text),
        .timeout_ms = a->timeout_ms,
    };
    *q = (struct rq){ .a = a, .kind = kind, .used = true, .idx = idx };
    int rc = clb_http_request(a->loop, &req, on_done, q, &q->id);
    free(text);
    if (rc != CLB_OK) {
        q->used = false;
        set_error(a, "%s: cannot send: %s", path, clb_strerror(rc));
        return NULL;
    }
    a->stats.requests++;
    return q;
}

static json_t *base_body(struct clb_amm *a)
{
    return json_pack("{s:s, s:s}", "chain", "ethereum", "network", a->network);
}

/* ---- balances ---- */

static struct amm_balance *balance_slot(struct clb_amm *a, const char *asset, bool add)
{
    for (uint32_t i = 0; i < a->n_bal; i++)
        if (strcmp(a->bal[i].asset, asset) == 0)
            return &a->bal[i];
    if (!add || a->n_bal == AMM_MAX_ASSETS || strlen(asset) >= CLB_ASSET_MAX)
        return NULL;
    struct amm_balance *b = &a->bal[a->n_bal++];
    memset(b, 0, sizeof(*b));
    snprintf(b->asset, sizeof(b->asset), "%s", asset);
    return b;
}

static void send_balances(struct clb_amm *a)
{
    if (a->balances_in_flight)
        return;
    json_t *b = base_body(a);
    json_t *syms = json_array();
    for (uint32_t i = 0; i < a->n_bal; i++)
        json_array_append_new(syms, json_string(a->bal[i].asset));
    json_object_set_new(b, "address", json_string(a->address));
    json_object_set_new(b, "tokenSymbols", syms);
    if (post(a, RQ_BALANCES, 0, "/gateway/chain/balances", b))
        a->balances_in_flight = true;
}

static void on_balances(struct clb_amm *a, const struct clb_http_resp *r)
{
    a->balances_in_flight = false;
    if (r->rc != CLB_OK || r->status != 200) {
        record_answer_error(a, "balances", r);
        return;
    }
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    json_t *bals = json_object_get(j, "balances");
    if (!json_is_object(bals)) {
        set_error(a, "balances: malformed answer");
        json_decref(j);
        return;
    }
    bool all = true;
    for (uint32_t i = 0; i < a->n_bal; i++) {
        struct amm_balance *b = &a->bal[i];
        clb_dec v;
        const char *txt = json_string_value(json_object_get(bals, b->asset));
        if (parse_fit(txt, AMM_FEE_SCALE, &v) != CLB_OK) {
            set_error(a, "balances: no usable %s balance in the answer (%.40s)", b->asset,
                      txt ? txt : "missing");
            all = false;
            continue;
        }
        if (!b->known || clb_dec_cmp(v, b->total) != 0) {
            b->total = v;
            b->known = true;
            struct clb_event ev = { .type = CLB_EV_BALANCE, .ts_ns = a->now_ns,
                                    .source = a->base.name,
                                    .u.balance = { .asset = b->asset, .total = v, .available = v } };
            clb_event_publish(a->base.bus, &ev);
        }
    }
    json_decref(j);
    a->stats.balance_answers++;
    if (all)
        a->balances_ready = true;
}

/* ---- quotes ---- */

static void send_price(struct clb_amm *a, int k)
{
    struct amm_quote_key *q = &a->quotes[k];
    if (q->in_flight)
        return;
    const struct clb_market_rules *ru = &a->rules[q->market];
    char amount[64];
    snprintf(amount, sizeof(amount), "%.*f", ru->qty_scale, q->amount);
    json_t *b = base_body(a);
    json_object_set_new(b, "connector", json_string(a->dex));
    json_object_set_new(b, "base", json_string(ru->base));
    json_object_set_new(b, "quote", json_string(ru->quote));
    json_object_set_new(b, "amount", json_string(amount));
    json_object_set_new(b, "side", json_string(q->side == CLB_SIDE_BUY ? "BUY" : "SELL"));
    if (post(a, RQ_PRICE, k, "/gateway/amm/price", b)) {
        q->in_flight = true;
        q->sent_gen = a->quote_gen;
    }
}

static void on_price(struct clb_amm *a, int k, const struct clb_http_resp *r)
{
    struct amm_quote_key *q = &a->quotes[k];
    q->in_flight = false;
    if (!q->used)
        return;
    if (q->sent_gen != a->quote_gen) {
        send_price(a, k); /* asked before our last swap was mined: ask again */
        return;
    }
    if (r->rc != CLB_OK || r->status != 200) {
        record_answer_error(a, "price", r);
        q->has_price = false; /* no stale price after a failure */
        return;
    }
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    double price = jnum(json_object_get(j, "price"));
    double expected = jnum(json_object_get(j, "expectedAmount"));
    double gas = jnum(json_object_get(j, "gasCost"));
    json_decref(j);
    if (!(price > 0) || !(expected > 0)) {
        set_error(a, "price: malformed answer");
        q->has_price = false;
        return;
    }
    q->p = (struct clb_amm_price){ .price = price, .expected = expected,
                                   .gas_cost = gas >= 0 ? gas : 0, .ts_ns = a->now_ns };
    q->has_price = true;
    a->stats.price_answers++;
}

int clb_amm_quote(struct clb_amm *a, const char *market, enum clb_side side, double amount,
                  struct clb_amm_price *out)
{
    uint32_t m;
    if (!find_market(a, market, &m))
        return CLB_ENOTFOUND;
    if (!(amount > 0) || !isfinite(amount) || (side != CLB_SIDE_BUY && side != CLB_SIDE_SELL))
        return CLB_EINVAL;
    int free_k = -1;
    for (int k = 0; k < CLB_AMM_MAX_QUOTES; k++) {
        struct amm_quote_key *q = &a->quotes[k];
        if (!q->used) {
            if (free_k < 0)
                free_k = k;
            continue;
        }
        if (q->market == m && q->side == side &&
            fabs(q->amount - amount) <= 1e-12 * fmax(q->amount, amount)) {
            q->idle_polls = 0;
            if (!q->has_price)
                return CLB_ENOTREADY;
            *out = q->p;
            return CLB_OK;
        }
    }
    if (free_k < 0)
        return CLB_EFULL;
    a->quotes[free_k] = (struct amm_quote_key){ .used = true, .market = m, .side = side,
                                                .amount = amount };
    send_price(a, free_k);
    return CLB_ENOTREADY;
}

int clb_amm_quote_price(void *ud, const char *market, enum clb_side side, double amount,
                        double *price, double *gas_native)
{
    struct clb_amm_price q;
    int rc = clb_amm_quote(ud, market, side, amount, &q);
    if (rc == CLB_OK) {
        *price = q.price;
        *gas_native = q.gas_cost;
    }
    return rc;
}

/* ---- orders ---- */

static struct amm_order *order_of(struct clb_amm *a, int idx)
{
    return idx >= 0 && (uint32_t)idx < a->max_orders && a->orders[idx].used ? &a->orders[idx]
                                                                            : NULL;
}

static void order_done(struct clb_amm *a, struct amm_order *o)
{
    o->used = false;
    /* Our swap (mined or not) may have moved the pool: drop the quotes of
     * its market until fresh ones arrive. */
    a->quote_gen++;
    for (int k = 0; k < CLB_AMM_MAX_QUOTES; k++)
        if (a->quotes[k].used && a->quotes[k].market == o->market)
            a->quotes[k].has_price = false;
    send_balances(a); /* the swap moved them */
}

/* Maps a refused trade's error code onto a CLB_E* reason. */
static int reason_of(const char *code)
{
    if (!code)
        return CLB_EIO;
    if (strcmp(code, "price_limit") == 0)
        return CLB_ERANGE;
    if (strcmp(code, "insufficient_balance") == 0 || strcmp(code, "insufficient_allowance") == 0)
        return CLB_EFULL;
    if (strcmp(code, "reverted") == 0 || strcmp(code, "transaction_rejected") == 0)
        return CLB_ESTATE;
    if (strcmp(code, "unknown_token") == 0 || strcmp(code, "bad_request") == 0 ||
        strcmp(code, "invalid_amount") == 0)
        return CLB_EINVAL;
    return CLB_EIO;
}

static void on_trade(struct clb_amm *a, int idx, const struct clb_http_resp *r)
{
    struct amm_order *o = order_of(a, idx);
    if (!o)
        return;
    if (r->rc != CLB_OK || r->status >= 500 || r->status == 0) {
        /* 5xx: the gateway says what failed; a 502/504 after sending is
         * possible in principle (eth_sendRawTransaction timing out), so
         * only answers naming a failure before sending are definite. */
        record_answer_error(a, "trade", r);
        json_t *j = r->rc == CLB_OK ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
        const char *code = json_string_value(json_object_get(json_object_get(j, "error"),
                                                             "code"));
        bool definite = code && strstr(a->last_error, "eth_sendRawTransaction") == NULL;
        if (definite) {
            a->stats.trades_refused++;
            clb_tracker_on_create_failed(&a->tracker, o->cid, true, reason_of(code), a->now_ns);
            order_done(a, o);
        } else {
            o->unknown = true;
            clb_tracker_on_create_failed(&a->tracker, o->cid, false, CLB_EIO, a->now_ns);
        }
        json_decref(j);
        return;
    }
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    if (r->status != 200) {
        record_answer_error(a, "trade", r);
        const char *code = json_string_value(json_object_get(json_object_get(j, "error"),
                                                             "code"));
        a->stats.trades_refused++;
        clb_tracker_on_create_failed(&a->tracker, o->cid, true, reason_of(code), a->now_ns);
        json_decref(j);
        order_done(a, o);
        return;
    }
    const char *hash = json_string_value(json_object_get(j, "txHash"));
    if (!hash || strlen(hash) != 66) {
        set_error(a, "trade: answer without txHash");
        o->unknown = true;
        clb_tracker_on_create_failed(&a->tracker, o->cid, false, CLB_EPARSE, a->now_ns);
        json_decref(j);
        return;
    }
    o->expected = jnum(json_object_get(j, "expectedAmount"));
    memcpy(o->hash, hash, sizeof(o->hash));
    o->sent_ns = a->now_ns;
    o->has_hash = true;
    o->unknown = false;
    o->next_poll_ns = a->now_ns; /* first poll at the next tick */
    a->stats.trades_sent++;
    /* The tracker holds exchange ids of up to CLB_EXCHANGE_ORDER_ID_MAX - 1
     * (63) characters, a txHash has 66: it records the hash's first 63
     * ("0x" + 61 digits: still unique in practice); the full hash is ours
     * (clb_amm_tx_hash). */
    char exid[CLB_EXCHANGE_ORDER_ID_MAX];
    snprintf(exid, sizeof(exid), "%.*s", CLB_EXCHANGE_ORDER_ID_MAX - 1, hash);
    clb_tracker_on_created(&a->tracker, o->cid, exid, a->now_ns);
    json_decref(j);
}

static void send_poll(struct clb_amm *a, int idx)
{
    struct amm_order *o = &a->orders[idx];
    json_t *b = base_body(a);
    json_object_set_new(b, "txHash", json_string(o->hash));
    if (post(a, RQ_POLL, idx, "/gateway/chain/poll", b))
        o->poll_in_flight = true;
}

/* Sums the receipt's transfers of `asset` into and out of our wallet. */
static void transfer_sums(struct clb_amm *a, json_t *transfers, const char *asset, int scale,
                          clb_dec *in, clb_dec *out)
{
    *in = *out = clb_dec_make(0, 0);
    size_t i;
    json_t *t;
    json_array_foreach(transfers, i, t) {
        const char *tok = json_string_value(json_object_get(t, "token"));
        const char *from = json_string_value(json_object_get(t, "from"));
        const char *to = json_string_value(json_object_get(t, "to"));
        clb_dec v;
        if (!tok || !from || !to || strcasecmp(tok, asset) != 0 ||
            parse_fit(json_string_value(json_object_get(t, "amount")), scale, &v) != CLB_OK)
            continue;
        if (strcasecmp(to, a->address) == 0)
            clb_dec_add(*in, v, in);
        if (strcasecmp(from, a->address) == 0)
            clb_dec_add(*out, v, out);
    }
}

static void apply_receipt(struct clb_amm *a, struct amm_order *o, json_t *j)
{
    const struct clb_tracked_order *t = clb_tracker_get(&a->tracker, o->cid);
    const struct clb_market_rules *ru = &a->rules[o->market];
    if (!t)
        return;
    json_t *tr = json_object_get(j, "tokenTransfers");
    clb_dec b_in, b_out, q_in, q_out;
    transfer_sums(a, tr, ru->base, ru->qty_scale, &b_in, &b_out);
    transfer_sums(a, tr, ru->quote, AMM_QUOTE_SCALE, &q_in, &q_out);
    bool buy = o->side == CLB_SIDE_BUY;
    clb_dec base = buy ? b_in : b_out, quote = buy ? q_out : q_in;
    if (clb_dec_sign(base) <= 0 || clb_dec_cmp(base, t->amount) > 0)
        base = t->amount; /* exact-in/exact-out: the order's amount */
    if (clb_dec_sign(quote) <= 0 && o->expected > 0)
        clb_dec_from_double(o->expected, AMM_QUOTE_SCALE, CLB_ROUND_NEAREST, &quote);
    clb_dec price = clb_dec_make(0, 0), fee = clb_dec_make(0, 0);
    if (clb_dec_div(quote, base, ru->price_scale + 4, CLB_ROUND_NEAREST, &price) != CLB_OK ||
        clb_dec_sign(price) <= 0) {
        set_error(a, "poll: cannot price the fill of %s", o->cid);
        return;
    }
    parse_fit(json_string_value(json_object_get(j, "fee")), AMM_FEE_SCALE, &fee);
    struct clb_fill f = { .trade_id = t->exchange_order_id, .price = price, .amount = base,
                          .fee = fee, .fee_asset = "ETH", .is_maker = false };
    if (clb_tracker_on_fill(&a->tracker, o->cid, &f, a->now_ns) == CLB_OK)
        a->stats.fills++;
}

static void on_poll(struct clb_amm *a, int idx, const struct clb_http_resp *r)
{
    struct amm_order *o = order_of(a, idx);
    if (!o)
        return;
    o->poll_in_flight = false;
    o->next_poll_ns = a->now_ns + a->tx_poll_ns;
    if (r->rc != CLB_OK || r->status != 200) {
        record_answer_error(a, "poll", r);
        return; /* proves nothing: poll again */
    }
    json_t *j = json_loadb(r->body, r->body_len, 0, NULL);
    const char *st = json_string_value(json_object_get(j, "status"));
    if (st && strcmp(st, "confirmed") == 0) {
        apply_receipt(a, o, j);
        order_done(a, o);
    } else if (st && strcmp(st, "failed") == 0) {
        set_error(a, "swap %s (%s) reverted on chain", o->cid, o->hash);
        a->stats.reverted++;
        clb_tracker_on_status(&a->tracker, o->cid, CLB_XORDER_REJECTED, NULL,
                              clb_dec_make(0, 0), a->now_ns);
        order_done(a, o);
    } else if (st && strcmp(st, "not_found") == 0 &&
               a->now_ns - o->sent_ns >= AMM_NOT_FOUND_GRACE_NS) {
        /* A node may not show a transaction it has just accepted; after
         * the grace period, lost_threshold answers in a row declare it
         * lost (dropped or replaced). */
        if (clb_tracker_on_not_found(&a->tracker, o->cid, a->now_ns) == CLB_OK) {
            const struct clb_tracked_order *t = clb_tracker_get(&a->tracker, o->cid);
            if (t && t->state == CLB_ORDER_FAILED) {
                a->stats.lost++;
                order_done(a, o);
            }
        }
    }
    json_decref(j);
}

static void on_done(void *ud, const struct clb_http_resp *r)
{
    struct rq *q = ud;
    struct clb_amm *a = q->a;
    enum rq_kind kind = q->kind;
    int idx = q->idx;
    q->used = false;
    note_answer(a, r);
    switch (kind) {
    case RQ_TRADE:
        on_trade(a, idx, r);
        break;
    case RQ_POLL:
        on_poll(a, idx, r);
        break;
    case RQ_PRICE:
        on_price(a, idx, r);
        break;
    case RQ_BALANCES:
        on_balances(a, r);
        break;
    }
}

/* ---- connector interface ---- */

static void amm_status(struct clb_connector *c, struct clb_connector_status *out)
{
    struct clb_amm *a = (struct clb_amm *)c;
    *out = (struct clb_connector_status){ .symbols_mapped = a->n_markets > 0,
                                          .order_books_ready = a->connected,
                                          .balances_ready = a->balances_ready,
                                          .trading_rules_ready = a->n_markets > 0,
                                          .user_stream_ready = a->connected };
}

static int amm_place(struct clb_connector *c, const struct clb_order_request *req,
                     char client_id[CLB_CLIENT_ID_MAX])
{
    struct clb_amm *a = (struct clb_amm *)c;
    uint32_t m;
    const struct clb_market_rules *ru = req && req->market ? find_market(a, req->market, &m)
                                                           : NULL;
    if (!ru)
        return CLB_ENOTFOUND;
    if ((req->side != CLB_SIDE_BUY && req->side != CLB_SIDE_SELL) ||
        (req->type != CLB_ORDER_MARKET && req->type != CLB_ORDER_LIMIT))
        return CLB_EINVAL;
    if (!clb_connector_ready(c)) {
        if (!a->last_error[0] || a->connected)
            set_error(a, "not ready: %s", a->connected ? "balances not yet known"
                                                       : "gateway not answering");
        return CLB_ENOTREADY;
    }
    clb_dec amount, price = clb_dec_make(0, 0);
    int rc = clb_dec_quantize(req->amount, ru->step_size, CLB_ROUND_DOWN, &amount);
    if (rc != CLB_OK)
        return rc;
    if (clb_dec_sign(amount) <= 0 || clb_dec_cmp(amount, ru->min_qty) < 0)
        return CLB_ERANGE;
    if (req->type == CLB_ORDER_LIMIT) {
        enum clb_round mode = req->side == CLB_SIDE_BUY ? CLB_ROUND_DOWN : CLB_ROUND_UP;
        if ((rc = clb_dec_quantize(req->price, ru->tick_size, mode, &price)) != CLB_OK)
            return rc;
        if (clb_dec_sign(price) <= 0)
            return CLB_ERANGE;
    }
    int slot = -1;
    for (uint32_t i = 0; i < a->max_orders && slot < 0; i++)
        if (!a->orders[i].used)
            slot = (int)i;
    if (slot < 0)
        return CLB_EFULL;
    char cid[CLB_CLIENT_ID_MAX];
    rc = clb_tracker_make_client_id(cid, sizeof(cid), a->prefix, req->side, req->market,
                                    ++a->nonce, 0);
    if (rc < 0)
        return rc;
    struct clb_order_params op = { .client_order_id = cid, .market = req->market,
                                   .side = req->side, .type = req->type, .price = price,
                                   .amount = amount };
    if ((rc = clb_tracker_start_tracking(&a->tracker, &op, a->now_ns)) != CLB_OK)
        return rc;
    struct amm_order *o = &a->orders[slot];
    *o = (struct amm_order){ .used = true, .market = m, .side = req->side,
                             .placed_ns = a->now_ns };
    memcpy(o->cid, cid, sizeof(cid));
    char amt[CLB_DEC_STRLEN], lim[CLB_DEC_STRLEN];
    clb_dec_format(amount, amt, sizeof(amt));
    json_t *b = base_body(a);
    json_object_set_new(b, "connector", json_string(a->dex));
    json_object_set_new(b, "address", json_string(a->address));
    json_object_set_new(b, "base", json_string(ru->base));
    json_object_set_new(b, "quote", json_string(ru->quote));
    json_object_set_new(b, "amount", json_string(amt));
    json_object_set_new(b, "side", json_string(req->side == CLB_SIDE_BUY ? "BUY" : "SELL"));
    if (req->type == CLB_ORDER_LIMIT) {
        clb_dec_format(price, lim, sizeof(lim));
        json_object_set_new(b, "limitPrice", json_string(lim));
    }
    if (!post(a, RQ_TRADE, slot, "/gateway/amm/trade", b)) {
        /* never sent: a definite failure */
        clb_tracker_on_create_failed(&a->tracker, cid, true, CLB_EFULL, a->now_ns);
        o->used = false;
    }
    memcpy(client_id, cid, sizeof(cid));
    return CLB_OK;
}

static int amm_cancel(struct clb_connector *c, const char *market, const char *client_id)
{
    struct clb_amm *a = (struct clb_amm *)c;
    (void)market;
    return clb_tracker_get(&a->tracker, client_id) ? CLB_EUNSUPPORTED : CLB_ENOTFOUND;
}

static const struct clb_order_book *amm_book(struct clb_connector *c, const char *market)
{
    (void)c;
    (void)market;
    return NULL;
}

static const struct clb_market_rules *amm_rules(struct clb_connector *c, const char *market)
{
    return find_market((struct clb_amm *)c, market, NULL);
}

static int amm_balance(struct clb_connector *c, const char *asset, clb_dec *total,
                       clb_dec *available)
{
    struct amm_balance *b = asset ? balance_slot((struct clb_amm *)c, asset, false) : NULL;
    *total = *available = b && b->known ? b->total : clb_dec_make(0, 0);
    return CLB_OK;
}

static int amm_fees(struct clb_connector *c, const char *market, double *maker, double *taker)
{
    (void)market;
    *maker = *taker = ((struct clb_amm *)c)->fee;
    return CLB_OK;
}

static const struct clb_order_tracker *amm_tracker(struct clb_connector *c)
{
    return &((struct clb_amm *)c)->tracker;
}

static void amm_destroy_op(struct clb_connector *c)
{
    clb_amm_destroy((struct clb_amm *)c);
}

static const struct clb_connector_ops amm_ops = {
    .type = "amm",
    .place = amm_place,
    .cancel = amm_cancel,
    .book = amm_book,
    .rules = amm_rules,
    .balance = amm_balance,
    .fees = amm_fees,
    .tracker = amm_tracker,
    .status = amm_status,
    .destroy = amm_destroy_op,
};

/* The clock tick: schedule balance, price and transaction polls; declare
 * unanswered trades lost after lost_after; evict old finished orders. */
static int amm_tick(struct clb_time_iterator *it, int64_t now_ns)
{
    struct clb_amm *a = (struct clb_amm *)it;
    if (now_ns > a->now_ns)
        a->now_ns = now_ns;
    if (a->now_ns >= a->next_balance_ns) {
        a->next_balance_ns = a->now_ns + a->balance_poll_ns;
        send_balances(a);
    }
    if (a->now_ns >= a->next_price_ns) {
        a->next_price_ns = a->now_ns + a->price_poll_ns;
        for (int k = 0; k < CLB_AMM_MAX_QUOTES; k++) {
            struct amm_quote_key *q = &a->quotes[k];
            if (!q->used)
                continue;
            if (++q->idle_polls > AMM_QUOTE_IDLE_POLLS && !q->in_flight) {
                q->used = false;
                continue;
            }
            send_price(a, k);
        }
    }
    for (uint32_t i = 0; i < a->max_orders; i++) {
        struct amm_order *o = &a->orders[i];
        if (!o->used)
            continue;
        if (o->has_hash && !o->poll_in_flight && a->now_ns >= o->next_poll_ns) {
            send_poll(a, (int)i);
        } else if (o->unknown && a->now_ns - o->placed_ns >= a->lost_after_ns) {
            set_error(a, "trade %s: no answer from the gateway, declared lost", o->cid);
            for (int k = 0; k < 64; k++) {
                const struct clb_tracked_order *t = clb_tracker_get(&a->tracker, o->cid);
                if (!t || t->state == CLB_ORDER_FAILED ||
                    clb_tracker_on_not_found(&a->tracker, o->cid, a->now_ns) != CLB_OK)
                    break;
            }
            a->stats.lost++;
            order_done(a, o);
        }
    }
    clb_tracker_tick(&a->tracker, a->now_ns);
    return CLB_OK;
}

static const struct clb_time_iterator_ops amm_it_ops = { .name = "amm", .tick = amm_tick };

/* ---- lifecycle ---- */

static int add_market(struct clb_amm *a, const char *symbol, int pdec, int qdec, char *err,
                      size_t errlen)
{
    const char *dash = symbol ? strchr(symbol, '-') : NULL;
    size_t len = symbol ? strlen(symbol) : 0;
    if (!dash || dash == symbol || !dash[1] || len >= CLB_SYMBOL_MAX ||
        (size_t)(dash - symbol) >= CLB_ASSET_MAX || strlen(dash + 1) >= CLB_ASSET_MAX ||
        strchr(dash + 1, '-'))
        return clb_errf(err, errlen, CLB_EINVAL, "amm market '%.40s': expected BASE-QUOTE",
                        symbol ? symbol : "");
    if (find_market(a, symbol, NULL))
        return clb_errf(err, errlen, CLB_EINVAL, "amm market '%s' listed twice", symbol);
    struct clb_market_rules *r = &a->rules[a->n_markets];
    memset(r, 0, sizeof(*r));
    snprintf(r->symbol, sizeof(r->symbol), "%s", symbol);
    snprintf(r->base, sizeof(r->base), "%.*s", (int)(dash - symbol), symbol);
    snprintf(r->quote, sizeof(r->quote), "%s", dash + 1);
    r->price_scale = pdec;
    r->qty_scale = qdec;
    r->tick_size = clb_dec_make(1, pdec);
    r->step_size = clb_dec_make(1, qdec);
    r->min_qty = clb_dec_make(1, qdec);
    r->max_qty = clb_dec_make(INT64_MAX / 10, qdec);
    r->min_notional = clb_dec_make(0, 0);
    a->n_markets++;
    if (!balance_slot(a, r->base, true) || !balance_slot(a, r->quote, true))
        return clb_errf(err, errlen, CLB_EFULL, "amm: too many assets");
    return CLB_OK;
}

int clb_amm_create(struct clb_netloop *loop, const struct clb_amm_config *cfg,
                   struct clb_amm **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!loop || !cfg || !cfg->bus)
        return clb_errf(err, errlen, CLB_EINVAL, "amm: loop and bus are required");
    if (!cfg->base_url || !cfg->network || !cfg->address || !cfg->markets ||
        cfg->n_markets == 0 || cfg->n_markets > CLB_AMM_MAX_MARKETS)
        return clb_errf(err, errlen, CLB_EINVAL,
                        "amm: base_url, network, address and 1..%d markets are required",
                        CLB_AMM_MAX_MARKETS);
    int rc = clb_net_url_check(cfg->base_url, err, errlen);
    if (rc != CLB_OK)
        return rc;
    if (strlen(cfg->base_url) >= 200 || strlen(cfg->network) >= 64 ||
        strlen(cfg->address) != 42 || (cfg->token && strlen(cfg->token) > 500) ||
        (cfg->dex && strlen(cfg->dex) >= 64))
        return clb_errf(err, errlen, CLB_EINVAL,
                        "amm: base_url, network, token or address too long (address: 0x + 40 "
                        "hex digits)");
    const char *prefix = cfg->client_id_prefix ? cfg->client_id_prefix : "amm-";
    if (cfg->price_decimals < 0 || cfg->price_decimals > 12 || cfg->amount_decimals < 0 ||
        cfg->amount_decimals > 12 || !(cfg->fee >= 0 && cfg->fee < 1) ||
        cfg->price_poll_ms <= 0 || cfg->balance_poll_ms <= 0 || cfg->tx_poll_ms <= 0 ||
        cfg->lost_after_ms <= 0 || cfg->request_timeout_ms <= 0 || cfg->max_orders == 0 ||
        cfg->max_orders > 65536 || strlen(prefix) >= 16)
        return clb_errf(err, errlen, CLB_EINVAL, "amm: a numeric setting is out of range");
    struct clb_amm *a = calloc(1, sizeof(*a));
    if (!a)
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    a->orders = calloc(cfg->max_orders, sizeof(*a->orders));
    if (!a->orders) {
        free(a);
        return clb_errf(err, errlen, CLB_ENOMEM, "out of memory");
    }
    a->max_orders = cfg->max_orders;
    a->loop = loop;
    clb_time_iterator_init(&a->base.it, &amm_it_ops);
    a->base.ops = &amm_ops;
    a->base.bus = cfg->bus;
    snprintf(a->base.name, sizeof(a->base.name), "%s", cfg->name ? cfg->name : "amm");
    snprintf(a->url, sizeof(a->url), "%s", cfg->base_url);
    size_t ul = strlen(a->url);
    while (ul > 0 && a->url[ul - 1] == '/')
        a->url[--ul] = '\0';
    if (cfg->token && cfg->token[0])
        snprintf(a->auth, sizeof(a->auth), "Authorization: Bearer %s", cfg->token);
    snprintf(a->network, sizeof(a->network), "%s", cfg->network);
    snprintf(a->dex, sizeof(a->dex), "%s", cfg->dex ? cfg->dex : "uniswap_v2");
    snprintf(a->address, sizeof(a->address), "%s", cfg->address);
    snprintf(a->prefix, sizeof(a->prefix), "%s", prefix);
    a->fee = cfg->fee;
    a->price_poll_ns = cfg->price_poll_ms * 1000000;
    a->balance_poll_ns = cfg->balance_poll_ms * 1000000;
    a->tx_poll_ns = cfg->tx_poll_ms * 1000000;
    a->lost_after_ns = cfg->lost_after_ms * 1000000;
    a->timeout_ms = cfg->request_timeout_ms;
    balance_slot(a, "ETH", true);
    for (size_t i = 0; i < cfg->n_markets; i++) {
        rc = add_market(a, cfg->markets[i], cfg->price_decimals, cfg->amount_decimals, err,
                        errlen);
        if (rc != CLB_OK) {
            free(a->orders);
            free(a);
            return rc;
        }
    }
    struct clb_tracker_config tc;
    clb_tracker_config_defaults(&tc);
    tc.max_orders = cfg->max_orders;
    tc.bus = cfg->bus;
    tc.source = a->base.name;
    if ((rc = clb_tracker_init(&a->tracker, &tc)) != CLB_OK) {
        free(a->orders);
        free(a);
        return clb_errf(err, errlen, rc, "amm: order tracker: %s", clb_strerror(rc));
    }
    *out = a;
    return CLB_OK;
}

void clb_amm_destroy(struct clb_amm *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < AMM_MAX_REQUESTS; i++)
        if (a->rqs[i].used)
            clb_http_cancel(a->loop, a->rqs[i].id);
    clb_tracker_deinit(&a->tracker);
    free(a->orders);
    free(a);
}

struct clb_connector *clb_amm_connector(struct clb_amm *a)
{
    return &a->base;
}

const char *clb_amm_tx_hash(const struct clb_amm *a, const char *client_id)
{
    for (uint32_t i = 0; client_id && i < a->max_orders; i++)
        if (a->orders[i].used && a->orders[i].has_hash &&
            strcmp(a->orders[i].cid, client_id) == 0)
            return a->orders[i].hash;
    return NULL;
}

const char *clb_amm_last_error(const struct clb_amm *a)
{
    return a->last_error;
}

void clb_amm_stats(const struct clb_amm *a, struct clb_amm_stats *out)
{
    *out = a->stats;
}
