/* Tests for core/matching.c.
 *
 * 1. A naive reference engine (plain arrays, O(n^2), full L3, no external
 *    book) is fed the same long random order flow as the engine, for every
 *    self-trade-prevention mode: the report sequences (fills with trade ids,
 *    fees, maker flags; order statuses), the ledger balances and the open
 *    orders must be identical, the ledger must never go negative and each
 *    asset is conserved (fees go to a fee account).
 * 2. Hand cases: price-time priority, partial fills, IOC/FOK, LIMIT_MAKER,
 *    every reject reason leaving everything unchanged, cancel unlocks.
 * 3. Queue-model and external-book cases by hand, and a random paper-mode
 *    run checked for determinism and invariants.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "ledger.h"
#include "matching.h"
#include "order_book.h"

__extension__ typedef __int128 i128;

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static int64_t below(uint64_t *x, int64_t n)
{
    return (int64_t)(splitmix(x) % (uint64_t)n);
}

/* ------------------------------------------------------------------------ */
/* Report log shared by the engine's listener and the reference            */

enum { REC_FILL = 1, REC_ORDER = 2 };

struct rec {
    int kind;
    uint64_t order_id, trade_id, tag;
    uint32_t account, market, fee_asset;
    int side, status, reason, maker, external;
    int64_t price, qty, quote, fee, filled, fquote, remaining;
};

struct log {
    struct rec *r;
    size_t n, cap;
};

static struct rec *log_push(struct log *l)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 1024;
        l->r = realloc(l->r, l->cap * sizeof(*l->r));
        cr_assert_not_null(l->r);
    }
    struct rec *r = &l->r[l->n++];
    memset(r, 0, sizeof(*r));
    return r;
}

static void on_fill_log(void *ud, const struct clb_fill_report *f)
{
    struct rec *r = log_push(ud);
    r->kind = REC_FILL;
    r->order_id = f->order_id;
    r->trade_id = f->trade_id;
    r->tag = f->client_tag;
    r->account = f->account;
    r->market = f->market;
    r->fee_asset = f->fee_asset;
    r->side = f->side;
    r->maker = f->is_maker;
    r->external = f->external;
    r->price = f->price;
    r->qty = f->qty;
    r->quote = f->quote_qty;
    r->fee = f->fee;
}

static void on_order_log(void *ud, const struct clb_order_report *o)
{
    struct rec *r = log_push(ud);
    r->kind = REC_ORDER;
    r->order_id = o->order_id;
    r->tag = o->client_tag;
    r->account = o->account;
    r->market = o->market;
    r->side = o->side;
    r->status = o->status;
    r->reason = o->reason;
    r->price = o->price;
    r->qty = o->qty;
    r->filled = o->filled_qty;
    r->fquote = o->filled_quote;
    r->remaining = o->remaining;
}

static void assert_rec_eq(const struct rec *a, const struct rec *b, size_t i, const char *ctx)
{
#define EQ(f)                                                                               \
    cr_assert_eq(a->f, b->f, "%s: record %zu field " #f ": engine %lld, reference %lld", ctx, \
                 i, (long long)a->f, (long long)b->f)
    EQ(kind);
    EQ(order_id);
    EQ(trade_id);
    EQ(tag);
    EQ(account);
    EQ(market);
    EQ(fee_asset);
    EQ(side);
    EQ(status);
    EQ(reason);
    EQ(maker);
    EQ(external);
    EQ(price);
    EQ(qty);
    EQ(quote);
    EQ(fee);
    EQ(filled);
    EQ(fquote);
    EQ(remaining);
#undef EQ
}

/* ------------------------------------------------------------------------ */
/* The naive reference engine                                               */

#define R_ACC 8
#define R_AST 3
#define R_MKT 3

struct rord {
    uint64_t id, tag;
    uint32_t account, market;
    int side, type, tif;
    int64_t price, qty, rem, filled, fquote, locked;
    bool live;
};

struct rmkt {
    uint32_t base, quote;
    int64_t tick, step, min_qty, max_qty, min_notional, base_mult, quote_mult;
};

struct ref {
    struct rord *ord; /* ord[id - 1] */
    size_t n_ord, cap_ord;
    int64_t total[R_ACC][R_AST], locked[R_ACC][R_AST];
    struct rmkt mk[R_MKT];
    uint32_t n_mk, n_accounts, fee_account;
    int32_t maker[R_ACC], taker[R_ACC];
    int stp;
    uint64_t next_trade;
    struct log log;
};

static int64_t r_quote(const struct rmkt *mk, int64_t p, int64_t q)
{
    return (int64_t)((i128)p * q * mk->quote_mult);
}

static int64_t r_fee(int64_t amount, int32_t ppm)
{
    i128 x = (i128)amount * ppm;
    return (int64_t)(x / 1000000 + (x % 1000000 != 0));
}

static bool r_crosses(int taker_side, int64_t limit, int64_t p)
{
    return taker_side == CLB_SIDE_BUY ? p <= limit : p >= limit;
}

static void r_log_order(struct ref *r, const struct rord *o, int status)
{
    struct rec *x = log_push(&r->log);
    x->kind = REC_ORDER;
    x->order_id = o->id;
    x->tag = o->tag;
    x->account = o->account;
    x->market = o->market;
    x->side = o->side;
    x->status = status;
    x->price = o->price;
    x->qty = o->qty;
    x->filled = o->filled;
    x->fquote = o->fquote;
    x->remaining = status == CLB_EXEC_CANCELED || status == CLB_EXEC_EXPIRED ? 0 : o->rem;
}

static void r_log_fill(struct ref *r, const struct rord *o, uint64_t trade, int64_t price,
                       int64_t q, int64_t quote, int64_t fee, uint32_t fee_asset, bool maker)
{
    struct rec *x = log_push(&r->log);
    x->kind = REC_FILL;
    x->order_id = o->id;
    x->trade_id = trade;
    x->tag = o->tag;
    x->account = o->account;
    x->market = o->market;
    x->fee_asset = fee_asset;
    x->side = o->side;
    x->maker = maker;
    x->price = price;
    x->qty = q;
    x->quote = quote;
    x->fee = fee;
}

static uint32_t r_lock_asset(const struct ref *r, const struct rord *o)
{
    return o->side == CLB_SIDE_BUY ? r->mk[o->market].quote : r->mk[o->market].base;
}

/* Ends an order: unlock what it holds, report, dead. */
static void r_finish(struct ref *r, struct rord *o, int status)
{
    r->locked[o->account][r_lock_asset(r, o)] -= o->locked;
    o->locked = 0;
    o->live = false;
    r_log_order(r, o, status);
}

/* Opposite live orders crossing t, best price first then oldest. */
static size_t r_candidates(const struct ref *r, const struct rord *t, size_t *out)
{
    size_t n = 0;
    bool market = t->type == CLB_ORDER_MARKET;
    for (size_t i = 0; i < r->n_ord; i++) {
        const struct rord *o = &r->ord[i];
        if (!o->live || o->market != t->market || o->side == t->side || o == t)
            continue;
        if (!market && !r_crosses(t->side, t->price, o->price))
            continue;
        /* insertion sort: better price first, then lower id */
        size_t j = n++;
        while (j > 0) {
            const struct rord *p = &r->ord[out[j - 1]];
            bool before = o->side == CLB_SIDE_SELL ? o->price < p->price : o->price > p->price;
            if (!before && !(o->price == p->price && o->id < p->id))
                break;
            out[j] = out[j - 1];
            j--;
        }
        out[j] = i;
    }
    return n;
}

static void r_fill(struct ref *r, struct rord *t, struct rord *mo, int64_t q)
{
    const struct rmkt *mk = &r->mk[t->market];
    int64_t price = mo->price, quote = r_quote(mk, price, q), base = q * mk->base_mult;
    struct rord *b = t->side == CLB_SIDE_BUY ? t : mo;
    struct rord *s = t->side == CLB_SIDE_BUY ? mo : t;
    int64_t bfee = r_fee(base, b == t ? r->taker[b->account] : r->maker[b->account]);
    int64_t sfee = r_fee(quote, s == t ? r->taker[s->account] : r->maker[s->account]);
    int64_t bunlock = b->type == CLB_ORDER_MARKET ? quote : r_quote(mk, b->price, q);
    r->total[b->account][mk->quote] -= quote;
    r->locked[b->account][mk->quote] -= bunlock;
    r->total[b->account][mk->base] += base - bfee;
    r->total[s->account][mk->base] -= base;
    r->locked[s->account][mk->base] -= base;
    r->total[s->account][mk->quote] += quote - sfee;
    r->total[r->fee_account][mk->base] += bfee;
    r->total[r->fee_account][mk->quote] += sfee;
    uint64_t trade = r->next_trade++;
    b->rem -= q, b->filled += q, b->fquote += quote, b->locked -= bunlock;
    s->rem -= q, s->filled += q, s->fquote += quote, s->locked -= base;
    int ms = mo->rem ? CLB_EXEC_PARTIALLY_FILLED : CLB_EXEC_FILLED;
    int ts = t->rem ? CLB_EXEC_PARTIALLY_FILLED : CLB_EXEC_FILLED;
    r_log_fill(r, mo, trade, price, q, quote, mo == b ? bfee : sfee, mo == b ? mk->base : mk->quote,
               true);
    r_log_order(r, mo, ms);
    r_log_fill(r, t, trade, price, q, quote, t == b ? bfee : sfee, t == b ? mk->base : mk->quote,
               false);
    r_log_order(r, t, ts);
    if (mo->rem == 0)
        mo->live = false;
}

/* The walk; dry adds up, real fills. */
static void r_walk(struct ref *r, struct rord *t, bool dry, int64_t *filled, i128 *quote,
                   bool *stopped)
{
    size_t *c = malloc((r->n_ord + 1) * sizeof(*c));
    size_t n = r_candidates(r, t, c);
    int64_t rem = t->rem;
    for (size_t i = 0; i < n && rem > 0; i++) {
        struct rord *mo = &r->ord[c[i]];
        if (mo->account == t->account && r->stp != CLB_STP_NONE) {
            if (r->stp == CLB_STP_EXPIRE_MAKER) {
                if (!dry)
                    r_finish(r, mo, CLB_EXEC_EXPIRED);
                continue;
            }
            if (!dry) {
                if (r->stp == CLB_STP_EXPIRE_BOTH)
                    r_finish(r, mo, CLB_EXEC_EXPIRED);
                *stopped = true;
            }
            break;
        }
        int64_t q = rem < mo->rem ? rem : mo->rem;
        if (dry) {
            *filled += q;
            *quote += r_quote(&r->mk[t->market], mo->price, q);
            rem -= q;
        } else {
            r_fill(r, t, mo, q);
            rem = t->rem;
        }
    }
    free(c);
}

static int r_submit(struct ref *r, const struct clb_match_request *rq)
{
    enum clb_reject_reason why = CLB_REJECT_NONE;
    int64_t dfilled = 0, lock = 0;
    i128 dquote = 0;
    bool have_dry = false;
    struct rord t;
    memset(&t, 0, sizeof(t));
    const struct rmkt *mk = rq->market < r->n_mk ? &r->mk[rq->market] : NULL;
    bool market = rq->type == CLB_ORDER_MARKET;
    if (!mk)
        why = CLB_REJECT_UNKNOWN_MARKET;
    else if (rq->account >= r->n_accounts)
        why = CLB_REJECT_UNKNOWN_ACCOUNT;
    else if (rq->type == CLB_ORDER_LIMIT_MAKER && rq->tif != CLB_TIF_GTC)
        why = CLB_REJECT_BAD_TYPE;
    else if (rq->qty <= 0)
        why = CLB_REJECT_QTY;
    else if (rq->qty % mk->step)
        why = CLB_REJECT_STEP;
    else if (rq->qty < mk->min_qty)
        why = CLB_REJECT_MIN_QTY;
    else if (mk->max_qty && rq->qty > mk->max_qty)
        why = CLB_REJECT_MAX_QTY;
    else if (!market && rq->price <= 0)
        why = CLB_REJECT_PRICE;
    else if (!market && rq->price % mk->tick)
        why = CLB_REJECT_TICK;
    if (why == CLB_REJECT_NONE) {
        t = (struct rord){ .tag = rq->client_tag, .account = rq->account, .market = rq->market,
                           .side = rq->side, .type = rq->type, .tif = rq->tif,
                           .price = market ? 0 : rq->price, .qty = rq->qty, .rem = rq->qty };
        if (!market && mk->min_notional && (i128)rq->price * rq->qty < mk->min_notional)
            why = CLB_REJECT_MIN_NOTIONAL;
        else if (market) {
            r_walk(r, &t, true, &dfilled, &dquote, NULL);
            have_dry = true;
            if (mk->min_notional && dquote < (i128)mk->min_notional * mk->quote_mult)
                why = CLB_REJECT_MIN_NOTIONAL;
        }
    }
    if (why == CLB_REJECT_NONE && rq->type == CLB_ORDER_LIMIT_MAKER) {
        for (size_t i = 0; i < r->n_ord; i++) {
            const struct rord *o = &r->ord[i];
            if (o->live && o->market == t.market && o->side != t.side &&
                r_crosses(t.side, t.price, o->price))
                why = CLB_REJECT_WOULD_TAKE;
        }
    }
    if (why == CLB_REJECT_NONE) {
        lock = rq->side == CLB_SIDE_BUY ? (market ? (int64_t)dquote
                                                  : r_quote(mk, rq->price, rq->qty))
                                        : rq->qty * mk->base_mult;
        uint32_t asset = rq->side == CLB_SIDE_BUY ? mk->quote : mk->base;
        if (r->total[rq->account][asset] - r->locked[rq->account][asset] < lock)
            why = CLB_REJECT_INSUFFICIENT_BALANCE;
    }
    if (why != CLB_REJECT_NONE) {
        struct rec *x = log_push(&r->log);
        x->kind = REC_ORDER;
        x->tag = rq->client_tag;
        x->account = rq->account;
        x->market = rq->market;
        x->side = rq->side;
        x->status = CLB_EXEC_REJECTED;
        x->reason = why;
        x->price = rq->price;
        x->qty = rq->qty;
        return CLB_EINVAL;
    }
    if (r->n_ord == r->cap_ord) {
        r->cap_ord = r->cap_ord ? r->cap_ord * 2 : 1024;
        r->ord = realloc(r->ord, r->cap_ord * sizeof(*r->ord));
    }
    struct rord *o = &r->ord[r->n_ord++];
    *o = t;
    o->id = r->n_ord;
    o->live = true;
    o->locked = lock;
    r->locked[o->account][r_lock_asset(r, o)] += lock;
    r_log_order(r, o, CLB_EXEC_NEW);
    if (o->tif == CLB_TIF_FOK) {
        if (!have_dry)
            r_walk(r, o, true, &dfilled, &dquote, NULL);
        if (dfilled < o->qty) {
            r_finish(r, o, CLB_EXEC_EXPIRED);
            return CLB_OK;
        }
    }
    bool stopped = false;
    r_walk(r, o, false, NULL, NULL, &stopped);
    if (o->rem == 0)
        o->live = false;
    else if (stopped || market || o->tif != CLB_TIF_GTC)
        r_finish(r, o, CLB_EXEC_EXPIRED);
    return CLB_OK;
}

static int r_cancel(struct ref *r, uint32_t account, uint64_t id)
{
    if (id == 0 || id > r->n_ord || !r->ord[id - 1].live || r->ord[id - 1].account != account)
        return CLB_ENOTFOUND;
    r_finish(r, &r->ord[id - 1], CLB_EXEC_CANCELED);
    return CLB_OK;
}

/* Live orders of (account, market) in the engine's listing order: by market,
 * bids then asks, best price first, then oldest. */
static size_t r_open(const struct ref *r, uint32_t account, uint32_t market, size_t *out)
{
    size_t n = 0;
    for (uint32_t mi = 0; mi < r->n_mk; mi++) {
        if (market != CLB_MATCHER_ANY && mi != market)
            continue;
        for (int side = 0; side < 2; side++) {
            size_t first = n;
            for (size_t i = 0; i < r->n_ord; i++) {
                const struct rord *o = &r->ord[i];
                if (!o->live || o->market != mi || o->side != side)
                    continue;
                if (account != CLB_MATCHER_ANY && o->account != account)
                    continue;
                size_t j = n++;
                while (j > first) {
                    const struct rord *p = &r->ord[out[j - 1]];
                    bool before = side == CLB_SIDE_BUY ? o->price > p->price : o->price < p->price;
                    if (!before)
                        break;
                    out[j] = out[j - 1];
                    j--;
                }
                out[j] = i;
            }
        }
    }
    return n;
}

static int r_cancel_all(struct ref *r, uint32_t account, uint32_t market)
{
    size_t *ids = malloc((r->n_ord + 1) * sizeof(*ids));
    size_t n = r_open(r, account, market, ids);
    for (size_t i = 0; i < n; i++)
        r_finish(r, &r->ord[ids[i]], CLB_EXEC_CANCELED);
    free(ids);
    return (int)n;
}

static size_t r_live_count(const struct ref *r)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_ord; i++)
        n += r->ord[i].live;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Fixture: 3 assets, 3 markets, 7 accounts (6 traders + fee account 6)     */

enum { A_BTC = 0, A_ETH = 1, A_USDT = 2 };
#define N_TRADERS 6
#define FEE_ACC 6

struct fx {
    struct clb_ledger l;
    struct clb_matcher m;
    struct log log;
    int64_t mid[R_MKT];
};

static const struct clb_matcher_market fx_markets[R_MKT] = {
    /* BTC-USDT: price 300.00, qty 0.0010 steps, notional >= 2 USDT */
    { .symbol = "BTC-USDT", .base_asset = A_BTC, .quote_asset = A_USDT, .price_scale = 2,
      .qty_scale = 4, .tick = 50, .step = 10, .min_qty = 10, .max_qty = 0,
      .min_notional = 2000000 },
    /* ETH-USDT: price 2000.00, qty 0.005 steps */
    { .symbol = "ETH-USDT", .base_asset = A_ETH, .quote_asset = A_USDT, .price_scale = 2,
      .qty_scale = 3, .tick = 1, .step = 5, .min_qty = 5, .max_qty = 0, .min_notional = 0 },
    /* ETH-BTC: price 0.06000, qty 0.01 steps, max 0.9 ETH, notional >= 0.0001 BTC */
    { .symbol = "ETH-BTC", .base_asset = A_ETH, .quote_asset = A_BTC, .price_scale = 5,
      .qty_scale = 3, .tick = 10, .step = 10, .min_qty = 10, .max_qty = 900,
      .min_notional = 10000 },
};
static const int64_t fx_mid[R_MKT] = { 30000, 200000, 6000 };

static void fx_init(struct fx *f, const struct clb_matcher_config *cfg_in, struct ref *r)
{
    memset(f, 0, sizeof(*f));
    uint32_t id;
    cr_assert_eq(clb_ledger_init(&f->l, 8, 4), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(&f->l, "BTC", 8, &id), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(&f->l, "ETH", 8, &id), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(&f->l, "USDT", 6, &id), CLB_OK);
    for (int i = 0; i < N_TRADERS + 1; i++)
        cr_assert_eq(clb_ledger_add_account(&f->l, &id), CLB_OK);
    struct clb_matcher_config cfg;
    if (cfg_in) {
        cfg = *cfg_in;
    } else {
        clb_matcher_config_default(&cfg);
        cfg.fee_account = FEE_ACC;
    }
    struct clb_matcher_listener ls = { on_fill_log, on_order_log, &f->log };
    cr_assert_eq(clb_matcher_init(&f->m, &f->l, &cfg, &ls), CLB_OK);
    for (uint32_t i = 0; i < R_MKT; i++) {
        cr_assert_eq(clb_matcher_add_market(&f->m, &fx_markets[i], &id), CLB_OK);
        cr_assert_eq(id, i);
        f->mid[i] = fx_mid[i];
    }
    if (r) {
        memset(r, 0, sizeof(*r));
        r->n_mk = R_MKT;
        r->n_accounts = N_TRADERS + 1;
        r->fee_account = cfg.fee_account;
        r->stp = cfg.stp;
        r->next_trade = 1;
        int scales[R_AST] = { 8, 8, 6 };
        for (uint32_t i = 0; i < R_MKT; i++) {
            const struct clb_matcher_market *d = &fx_markets[i];
            struct rmkt *x = &r->mk[i];
            x->base = d->base_asset;
            x->quote = d->quote_asset;
            x->tick = d->tick;
            x->step = d->step;
            x->min_qty = d->min_qty;
            x->max_qty = d->max_qty;
            x->min_notional = d->min_notional;
            x->base_mult = 1;
            for (int k = 0; k < scales[d->base_asset] - d->qty_scale; k++)
                x->base_mult *= 10;
            x->quote_mult = 1;
            for (int k = 0; k < scales[d->quote_asset] - d->price_scale - d->qty_scale; k++)
                x->quote_mult *= 10;
        }
        for (int a = 0; a < R_ACC; a++) {
            r->maker[a] = cfg.maker_fee_ppm;
            r->taker[a] = cfg.taker_fee_ppm;
        }
    }
}

static void fx_deinit(struct fx *f, struct ref *r)
{
    clb_matcher_deinit(&f->m);
    clb_ledger_deinit(&f->l);
    free(f->log.r);
    if (r) {
        free(r->ord);
        free(r->log.r);
    }
}

static void deposit(struct fx *f, struct ref *r, uint32_t acc, uint32_t asset, int64_t amt)
{
    cr_assert_eq(clb_ledger_deposit(&f->l, acc, asset, amt), CLB_OK);
    if (r)
        r->total[acc][asset] += amt;
}

static void compare_logs(struct fx *f, struct ref *r, size_t *seen, int step)
{
    char ctx[64];
    snprintf(ctx, sizeof(ctx), "step %d", step);
    cr_assert_eq(f->log.n, r->log.n, "%s: engine logged %zu records, reference %zu", ctx,
                 f->log.n, r->log.n);
    for (size_t i = *seen; i < f->log.n; i++)
        assert_rec_eq(&f->log.r[i], &r->log.r[i], i, ctx);
    *seen = f->log.n;
}

static void compare_balances(struct fx *f, struct ref *r, const int64_t *net, int step)
{
    for (uint32_t x = 0; x < R_AST; x++) {
        int64_t sum = 0;
        for (uint32_t a = 0; a < N_TRADERS + 1; a++) {
            int64_t t = clb_ledger_total(&f->l, a, x), k = clb_ledger_locked(&f->l, a, x);
            cr_assert(t >= 0 && k >= 0 && k <= t, "step %d: negative/over-locked balance", step);
            cr_assert_eq(t, r->total[a][x], "step %d: total acc %u asset %u: %lld vs %lld", step,
                         a, x, (long long)t, (long long)r->total[a][x]);
            cr_assert_eq(k, r->locked[a][x], "step %d: locked acc %u asset %u: %lld vs %lld",
                         step, a, x, (long long)k, (long long)r->locked[a][x]);
            sum += t;
        }
        cr_assert_eq(sum, net[x], "step %d: asset %u not conserved", step, x);
    }
}

/* Open orders, their locks and the aggregated depth agree with the
 * reference; locked balances equal the sum of live orders' locks. */
static void compare_books(struct fx *f, struct ref *r, int step)
{
    static uint64_t ids[8192];
    static size_t rids[8192];
    size_t n = clb_matcher_open_orders(&f->m, CLB_MATCHER_ANY, CLB_MATCHER_ANY, ids, 8192);
    size_t rn = r_open(r, CLB_MATCHER_ANY, CLB_MATCHER_ANY, rids);
    cr_assert_eq(n, rn, "step %d: %zu open orders vs %zu", step, n, rn);
    cr_assert_eq(n, clb_matcher_live_orders(&f->m));
    int64_t lock_sum[R_ACC][R_AST];
    memset(lock_sum, 0, sizeof(lock_sum));
    for (size_t i = 0; i < n; i++) {
        const struct rord *o = &r->ord[rids[i]];
        cr_assert_eq(ids[i], o->id, "step %d: open order %zu", step, i);
        struct clb_order_info info;
        cr_assert_eq(clb_matcher_get_order(&f->m, ids[i], &info), CLB_OK);
        cr_assert_eq(info.remaining, o->rem);
        cr_assert_eq(info.locked, o->locked);
        cr_assert_eq(info.filled_quote, o->fquote);
        lock_sum[info.account][r_lock_asset(r, o)] += info.locked;
    }
    for (uint32_t a = 0; a < N_TRADERS + 1; a++)
        for (uint32_t x = 0; x < R_AST; x++)
            cr_assert_eq(lock_sum[a][x], clb_ledger_locked(&f->l, a, x),
                         "step %d: locks of acc %u asset %u", step, a, x);
    for (uint32_t mi = 0; mi < R_MKT; mi++) {
        for (int side = 0; side < 2; side++) {
            struct clb_level lv[64];
            size_t k = clb_matcher_depth(&f->m, mi, (enum clb_side)side, lv, 64);
            int64_t prev = side == CLB_SIDE_BUY ? INT64_MAX : 0;
            int64_t sum = 0, rsum = 0;
            for (size_t i = 0; i < k; i++) {
                cr_assert(side == CLB_SIDE_BUY ? lv[i].price < prev : lv[i].price > prev);
                prev = lv[i].price;
                sum += lv[i].qty;
            }
            for (size_t i = 0; i < r->n_ord; i++)
                if (r->ord[i].live && r->ord[i].market == mi && r->ord[i].side == side)
                    rsum += r->ord[i].rem;
            cr_assert_eq(sum, rsum);
        }
    }
}

static void gen_request(uint64_t *seed, struct clb_match_request *rq)
{
    memset(rq, 0, sizeof(*rq));
    rq->account = (uint32_t)below(seed, N_TRADERS);
    if (below(seed, 500) == 0)
        rq->account = 9; /* unknown */
    rq->market = (uint32_t)below(seed, R_MKT);
    const struct clb_matcher_market *d = &fx_markets[rq->market < R_MKT ? rq->market : 0];
    int64_t mid = fx_mid[rq->market];
    if (below(seed, 500) == 0)
        rq->market = 5; /* unknown */
    rq->side = (enum clb_side)below(seed, 2);
    int64_t t = below(seed, 100);
    rq->type = t < 70 ? CLB_ORDER_LIMIT : t < 90 ? CLB_ORDER_LIMIT_MAKER : CLB_ORDER_MARKET;
    t = below(seed, 100);
    rq->tif = t < 60 ? CLB_TIF_GTC : t < 80 ? CLB_TIF_IOC : CLB_TIF_FOK;
    if (rq->type == CLB_ORDER_LIMIT_MAKER && below(seed, 50) != 0)
        rq->tif = CLB_TIF_GTC;
    /* mostly on the own side of mid, sometimes through it */
    int64_t off = (below(seed, 16) - 2) * d->tick;
    rq->price = rq->side == CLB_SIDE_SELL ? mid + off : mid - off;
    if (below(seed, 100) == 0 && d->tick > 1)
        rq->price += 1;
    if (below(seed, 300) == 0)
        rq->price = -below(seed, 2) * d->tick;
    rq->qty = d->step * (1 + below(seed, 100));
    if (below(seed, 100) == 0)
        rq->qty += 1;
    if (below(seed, 300) == 0)
        rq->qty = 0;
    rq->client_tag = splitmix(seed);
}

static void run_reference_flow(enum clb_stp stp, uint64_t seed0, int steps)
{
    struct fx f;
    struct ref r;
    struct clb_matcher_config cfg;
    clb_matcher_config_default(&cfg);
    cfg.fee_account = FEE_ACC;
    cfg.stp = stp;
    cfg.max_orders = 4096;
    cfg.max_levels = 64;
    cfg.maker_fee_ppm = 100;
    cfg.taker_fee_ppm = 1000;
    fx_init(&f, &cfg, &r);
    int64_t net[R_AST] = { 0, 0, 0 };
    /* Balances: traders 0..4 rich enough for most orders, trader 5 poor. */
    for (uint32_t a = 0; a < N_TRADERS; a++) {
        int64_t k = a == 5 ? 1 : 100;
        deposit(&f, &r, a, A_BTC, k * 1000000);    /* 0.01 BTC per unit */
        deposit(&f, &r, a, A_ETH, k * 10000000);   /* 0.1 ETH */
        deposit(&f, &r, a, A_USDT, k * 20000000);  /* 20 USDT */
        net[A_BTC] += k * 1000000;
        net[A_ETH] += k * 10000000;
        net[A_USDT] += k * 20000000;
    }
    /* Per-account fees, including a zero-fee account. */
    for (uint32_t a = 0; a < N_TRADERS; a++) {
        int32_t mk = a == 3 ? 0 : (int32_t)a * 150, tk = a == 3 ? 0 : 1000 - (int32_t)a * 100;
        cr_assert_eq(clb_matcher_set_fees(&f.m, a, mk, tk), CLB_OK);
        r.maker[a] = mk;
        r.taker[a] = tk;
    }
    uint64_t seed = seed0;
    size_t seen = 0;
    int counts[8] = { 0 };
    int reasons[CLB_REJECT_COUNT_] = { 0 };
    size_t live_sum = 0, live_max = 0;
    for (int step = 0; step < steps; step++) {
        int64_t op = below(&seed, 100);
        size_t live = r_live_count(&r);
        live_sum += live;
        live_max = live > live_max ? live : live_max;
        if (live > 400 && op < 65)
            op = 70; /* keep the book from growing without bound */
        int64_t now = (int64_t)step * 1000;
        if (op < 65) {
            struct clb_match_request rq;
            gen_request(&seed, &rq);
            uint64_t id = 0;
            enum clb_reject_reason why = CLB_REJECT_NONE;
            int rc = clb_matcher_submit(&f.m, &rq, now, &id, &why);
            int rrc = r_submit(&r, &rq);
            cr_assert_eq(rc, rrc, "step %d: submit rc %d vs %d", step, rc, rrc);
            if (rc == CLB_OK)
                cr_assert_eq(id, r.n_ord);
            reasons[why]++;
            counts[0]++;
        } else if (op < 78) {
            /* cancel a random live order (sometimes a finished or unknown one,
             * sometimes with the wrong account) */
            uint64_t id = (uint64_t)below(&seed, (int64_t)r.n_ord + 2);
            if (live && below(&seed, 5) != 0) {
                size_t k = (size_t)below(&seed, (int64_t)live);
                for (size_t i = 0; i < r.n_ord; i++)
                    if (r.ord[i].live && k-- == 0) {
                        id = r.ord[i].id;
                        break;
                    }
            }
            uint32_t acc = id && id <= r.n_ord ? r.ord[id - 1].account : 0;
            if (below(&seed, 10) == 0)
                acc = (acc + 1) % N_TRADERS;
            int rc = clb_matcher_cancel(&f.m, acc, id, now);
            int rrc = r_cancel(&r, acc, id);
            cr_assert_eq(rc, rrc, "step %d: cancel rc", step);
            counts[rc == CLB_OK ? 1 : 2]++;
        } else if (op < 78 + (below(&seed, 4) == 0)) {
            uint32_t acc = below(&seed, 4) ? (uint32_t)below(&seed, N_TRADERS) : CLB_MATCHER_ANY;
            uint32_t mkt = below(&seed, 3) ? (uint32_t)below(&seed, R_MKT) : CLB_MATCHER_ANY;
            int n = clb_matcher_cancel_all(&f.m, acc, mkt, now);
            cr_assert_eq(n, r_cancel_all(&r, acc, mkt), "step %d: cancel_all", step);
            counts[3]++;
        } else if (op < 90) {
            uint32_t acc = (uint32_t)below(&seed, N_TRADERS), x = (uint32_t)below(&seed, R_AST);
            int64_t amt = 1 + below(&seed, 50000000);
            deposit(&f, &r, acc, x, amt);
            net[x] += amt;
            counts[4]++;
        } else {
            uint32_t acc = (uint32_t)below(&seed, N_TRADERS), x = (uint32_t)below(&seed, R_AST);
            int64_t amt = 1 + below(&seed, 50000000);
            int rc = clb_ledger_withdraw(&f.l, acc, x, amt);
            bool ok = r.total[acc][x] - r.locked[acc][x] >= amt;
            cr_assert_eq(rc, ok ? CLB_OK : CLB_ERANGE);
            if (ok) {
                r.total[acc][x] -= amt;
                net[x] -= amt;
            }
            counts[5]++;
        }
        compare_logs(&f, &r, &seen, step);
        compare_balances(&f, &r, net, step);
        if (step % 97 == 0)
            compare_books(&f, &r, step);
    }
    compare_books(&f, &r, steps);
    /* The flow exercised what it should. */
    size_t fills = 0, maker = 0, expired = 0, filled = 0;
    for (size_t i = 0; i < f.log.n; i++) {
        const struct rec *x = &f.log.r[i];
        if (x->kind == REC_FILL) {
            fills++;
            maker += x->maker;
        } else if (x->status == CLB_EXEC_EXPIRED) {
            expired++;
        } else if (x->status == CLB_EXEC_FILLED) {
            filled++;
        }
    }
    cr_log_info("stp %d: fills %zu expired %zu filled %zu submits %d cancels %d/%d "
                "cancel_all %d live avg %zu max %zu", stp, fills, expired, filled, counts[0],
                counts[1], counts[2], counts[3], live_sum / (size_t)steps, live_max);
    for (int i = 0; i < CLB_REJECT_COUNT_; i++)
        cr_log_info("  %s: %d", clb_reject_reason_name((enum clb_reject_reason)i), reasons[i]);
    cr_assert_gt(fills, 2000);
    cr_assert_eq(maker * 2, fills, "every internal match has one maker and one taker");
    cr_assert_gt(expired, 300);
    cr_assert_gt(filled, 500);
    cr_assert_gt(counts[1], 1000);
    cr_assert_gt(clb_ledger_total(&f.l, FEE_ACC, A_USDT), 0);
    cr_assert_gt(clb_ledger_total(&f.l, FEE_ACC, A_BTC), 0);
    cr_assert_gt(reasons[CLB_REJECT_NONE], steps / 4);
    cr_assert_gt(reasons[CLB_REJECT_WOULD_TAKE], 50);
    cr_assert_gt(reasons[CLB_REJECT_INSUFFICIENT_BALANCE], 10);
    cr_assert_gt(reasons[CLB_REJECT_MIN_NOTIONAL], 10);
    cr_assert_gt(reasons[CLB_REJECT_TICK] + reasons[CLB_REJECT_STEP], 10);
    cr_assert_eq(f.m.settle_errors, 0);
    fx_deinit(&f, &r);
}

Test(matching_ref, random_flow_expire_maker, .timeout = 120)
{
    run_reference_flow(CLB_STP_EXPIRE_MAKER, 1, 20000);
}

Test(matching_ref, random_flow_expire_taker, .timeout = 120)
{
    run_reference_flow(CLB_STP_EXPIRE_TAKER, 2, 15000);
}

Test(matching_ref, random_flow_expire_both, .timeout = 120)
{
    run_reference_flow(CLB_STP_EXPIRE_BOTH, 3, 15000);
}

Test(matching_ref, random_flow_self_trade_allowed, .timeout = 120)
{
    run_reference_flow(CLB_STP_NONE, 4, 15000);
}

/* ------------------------------------------------------------------------ */
/* Hand cases (internal book, market 0 = BTC-USDT: price 300.00 = 30000)    */

static uint64_t submit_ok(struct fx *f, uint32_t acc, uint32_t mkt, enum clb_side side,
                          enum clb_order_type type, enum clb_tif tif, int64_t price,
                          int64_t qty)
{
    struct clb_match_request rq = { .account = acc, .market = mkt, .side = side, .type = type,
                                    .tif = tif, .price = price, .qty = qty, .client_tag = 77 };
    uint64_t id = 0;
    enum clb_reject_reason why;
    int rc = clb_matcher_submit(&f->m, &rq, 5, &id, &why);
    cr_assert_eq(rc, CLB_OK, "rejected: %s", clb_reject_reason_name(why));
    return id;
}

static struct fx *new_fx(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    fx_init(f, NULL, NULL);
    for (uint32_t a = 0; a < N_TRADERS; a++) {
        deposit(f, NULL, a, A_BTC, 1000000000);   /* 10 BTC */
        deposit(f, NULL, a, A_ETH, 10000000000);  /* 100 ETH */
        deposit(f, NULL, a, A_USDT, 1000000000);  /* 1000 USDT */
    }
    return f;
}

static void free_fx(struct fx *f)
{
    fx_deinit(f, NULL);
    free(f);
}

/* The fills of the log from index `from`, as (order id, price, qty, maker). */
static size_t fills_from(const struct fx *f, size_t from, const struct rec **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = from; i < f->log.n && n < cap; i++)
        if (f->log.r[i].kind == REC_FILL)
            out[n++] = &f->log.r[i];
    return n;
}

static const struct rec *last_order_rec(const struct fx *f, uint64_t id)
{
    for (size_t i = f->log.n; i-- > 0;)
        if (f->log.r[i].kind == REC_ORDER && f->log.r[i].order_id == id)
            return &f->log.r[i];
    return NULL;
}

Test(matching, price_time_priority)
{
    struct fx *f = new_fx();
    uint64_t s1 = submit_ok(f, 1, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30050, 100);
    uint64_t s2 = submit_ok(f, 2, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30050, 100);
    uint64_t s3 = submit_ok(f, 3, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30000, 100);
    uint64_t s4 = submit_ok(f, 4, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30100, 100);
    size_t from = f->log.n;
    uint64_t b = submit_ok(f, 0, 0, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30050, 250);
    const struct rec *fl[16];
    size_t n = fills_from(f, from, fl, 16);
    cr_assert_eq(n, 6);
    /* maker then taker per match; better price first, then time */
    uint64_t expect_maker[3] = { s3, s1, s2 };
    int64_t expect_px[3] = { 30000, 30050, 30050 };
    int64_t expect_qty[3] = { 100, 100, 50 };
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(fl[2 * i]->order_id, expect_maker[i]);
        cr_assert(fl[2 * i]->maker);
        cr_assert_eq(fl[2 * i + 1]->order_id, b);
        cr_assert(!fl[2 * i + 1]->maker);
        cr_assert_eq(fl[2 * i]->price, expect_px[i]);
        cr_assert_eq(fl[2 * i + 1]->price, expect_px[i]);
        cr_assert_eq(fl[2 * i]->qty, expect_qty[i]);
        cr_assert_eq(fl[2 * i]->trade_id, fl[2 * i + 1]->trade_id);
        cr_assert_eq(fl[2 * i]->trade_id, (uint64_t)i + 1);
    }
    /* s2 keeps 50 at the front of 300.50; s4 untouched */
    struct clb_order_info info;
    cr_assert_eq(clb_matcher_get_order(&f->m, s2, &info), CLB_OK);
    cr_assert_eq(info.remaining, 50);
    cr_assert_eq(info.status, CLB_EXEC_PARTIALLY_FILLED);
    cr_assert_eq(clb_matcher_get_order(&f->m, s1, &info), CLB_ENOTFOUND);
    cr_assert_eq(clb_matcher_get_order(&f->m, s4, &info), CLB_OK);
    cr_assert_eq(last_order_rec(f, b)->status, CLB_EXEC_FILLED);
    free_fx(f);
}

Test(matching, partial_fills_and_resting_remainder)
{
    struct fx *f = new_fx();
    /* Fees: account 1 maker 0.1%, account 0 taker 0.2%. */
    cr_assert_eq(clb_matcher_set_fees(&f->m, 1, 1000, 1000), CLB_OK);
    cr_assert_eq(clb_matcher_set_fees(&f->m, 0, 2000, 2000), CLB_OK);
    uint64_t s = submit_ok(f, 1, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30000, 300);
    int64_t usdt0 = clb_ledger_total(&f->l, 0, A_USDT), btc0 = clb_ledger_total(&f->l, 0, A_BTC);
    int64_t usdt1 = clb_ledger_total(&f->l, 1, A_USDT), btc1 = clb_ledger_total(&f->l, 1, A_BTC);
    uint64_t b = submit_ok(f, 0, 0, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30000, 100);
    const struct rec *r = last_order_rec(f, s);
    cr_assert_eq(r->status, CLB_EXEC_PARTIALLY_FILLED);
    cr_assert_eq(r->filled, 100);
    cr_assert_eq(r->remaining, 200);
    /* 0.01 BTC at 300 = 3 USDT = 3000000 */
    cr_assert_eq(r->fquote, 3000000);
    cr_assert_eq(last_order_rec(f, b)->status, CLB_EXEC_FILLED);
    /* buyer: -3 USDT, +0.01 BTC less 0.2% (2000 sat); seller: +3 USDT less 0.1% */
    cr_assert_eq(clb_ledger_total(&f->l, 0, A_USDT), usdt0 - 3000000);
    cr_assert_eq(clb_ledger_total(&f->l, 0, A_BTC), btc0 + 1000000 - 2000);
    cr_assert_eq(clb_ledger_total(&f->l, 1, A_USDT), usdt1 + 3000000 - 3000);
    cr_assert_eq(clb_ledger_total(&f->l, 1, A_BTC), btc1 - 1000000);
    cr_assert_eq(clb_ledger_locked(&f->l, 1, A_BTC), 2000000);
    cr_assert_eq(clb_ledger_total(&f->l, FEE_ACC, A_BTC), 2000);
    cr_assert_eq(clb_ledger_total(&f->l, FEE_ACC, A_USDT), 3000);
    /* A bigger buy takes the rest and rests its remainder. */
    uint64_t b2 = submit_ok(f, 0, 0, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30000, 300);
    cr_assert_eq(last_order_rec(f, s)->status, CLB_EXEC_FILLED);
    struct clb_order_info info;
    cr_assert_eq(clb_matcher_get_order(&f->m, b2, &info), CLB_OK);
    cr_assert_eq(info.status, CLB_EXEC_PARTIALLY_FILLED);
    cr_assert_eq(info.remaining, 100);
    cr_assert_eq(info.locked, 3000000); /* 0.01 BTC at 300.00 */
    cr_assert_eq(clb_ledger_locked(&f->l, 0, A_USDT), 3000000);
    struct clb_level lv[4];
    cr_assert_eq(clb_matcher_depth(&f->m, 0, CLB_SIDE_BUY, lv, 4), 1);
    cr_assert_eq(lv[0].price, 30000);
    cr_assert_eq(lv[0].qty, 100);
    cr_assert_eq(clb_matcher_depth(&f->m, 0, CLB_SIDE_SELL, lv, 4), 0);
    free_fx(f);
}

Test(matching, fee_rounds_up_in_exchange_favour)
{
    struct fx *f = new_fx();
    cr_assert_eq(clb_matcher_set_fees(&f->m, 0, 1, 1), CLB_OK); /* 1 ppm */
    submit_ok(f, 1, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30000, 70);
    size_t from = f->log.n;
    submit_ok(f, 0, 0, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_IOC, 30000, 70);
    const struct rec *fl[4];
    cr_assert_eq(fills_from(f, from, fl, 4), 2);
    /* 0.007 BTC = 700000 sat; 1 ppm = 0.7 sat, rounded up to 1 */
    cr_assert_eq(fl[1]->fee, 1);
    cr_assert_eq(fl[1]->fee_asset, A_BTC);
    cr_assert_eq(fl[0]->fee, 0); /* account 1 pays no fee by default */
    cr_assert_eq(fl[0]->fee_asset, A_USDT);
    free_fx(f);
}

Test(matching, buy_filled_below_limit_releases_difference)
{
    struct fx *f = new_fx();
    submit_ok(f, 1, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 29000, 100);
    int64_t usdt = clb_ledger_total(&f->l, 0, A_USDT);
    uint64_t b = submit_ok(f, 0, 0, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30000, 200);
    /* paid 0.01 * 290 = 2.9 USDT; 0.01 still locked at 300 = 3 USDT */
    cr_assert_eq(clb_ledger_total(&f->l, 0, A_USDT), usdt - 2900000);
    cr_assert_eq(clb_ledger_locked(&f->l, 0, A_USDT), 3000000);
    cr_assert_eq(clb_matcher_cancel(&f->m, 0, b, 9), CLB_OK);
    cr_assert_eq(clb_ledger_locked(&f->l, 0, A_USDT), 0);
    cr_assert_eq(clb_ledger_available(&f->l, 0, A_USDT), usdt - 2900000);
    const struct rec *r = last_order_rec(f, b);
    cr_assert_eq(r->status, CLB_EXEC_CANCELED);
    cr_assert_eq(r->filled, 100);
    cr_assert_eq(r->fquote, 2900000);
    cr_assert_eq(clb_matcher_cancel(&f->m, 0, b, 9), CLB_ENOTFOUND);
    free_fx(f);
}

Test(matching, ioc_and_fok)
{
    struct fx *f = new_fx();
    submit_ok(f, 1, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 30);
    submit_ok(f, 2, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200010, 30);
    /* IOC: takes what crosses, expires the rest, never rests */
    uint64_t i1 = submit_ok(f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_IOC, 200000, 50);
    const struct rec *r = last_order_rec(f, i1);
    cr_assert_eq(r->status, CLB_EXEC_EXPIRED);
    cr_assert_eq(r->filled, 30);
    cr_assert_eq(r->remaining, 0);
    cr_assert_eq(clb_ledger_locked(&f->l, 0, A_USDT), 0);
    cr_assert_eq(clb_matcher_depth(&f->m, 1, CLB_SIDE_BUY, NULL, 0), 0);
    /* FOK that cannot fill entirely: NEW, EXPIRED, nothing traded */
    size_t from = f->log.n;
    int64_t usdt = clb_ledger_total(&f->l, 0, A_USDT);
    uint64_t k1 = submit_ok(f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_FOK, 200010, 40);
    cr_assert_eq(f->log.n - from, 2);
    cr_assert_eq(f->log.r[from].status, CLB_EXEC_NEW);
    cr_assert_eq(f->log.r[from + 1].status, CLB_EXEC_EXPIRED);
    cr_assert_eq(f->log.r[from + 1].order_id, k1);
    cr_assert_eq(clb_ledger_total(&f->l, 0, A_USDT), usdt);
    cr_assert_eq(clb_ledger_locked(&f->l, 0, A_USDT), 0);
    struct clb_level lv[2];
    cr_assert_eq(clb_matcher_depth(&f->m, 1, CLB_SIDE_SELL, lv, 2), 1);
    cr_assert_eq(lv[0].qty, 30);
    /* FOK that can: filled */
    uint64_t k2 = submit_ok(f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_FOK, 200010, 30);
    cr_assert_eq(last_order_rec(f, k2)->status, CLB_EXEC_FILLED);
    /* MARKET on an empty side: accepted, expired without fills */
    uint64_t mk = submit_ok(f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_MARKET, CLB_TIF_IOC, 0, 5);
    cr_assert_eq(last_order_rec(f, mk)->status, CLB_EXEC_EXPIRED);
    /* MARKET FOK: all or nothing too */
    submit_ok(f, 1, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 199990, 20);
    uint64_t mf = submit_ok(f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_MARKET, CLB_TIF_FOK, 0, 25);
    cr_assert_eq(last_order_rec(f, mf)->status, CLB_EXEC_EXPIRED);
    cr_assert_eq(last_order_rec(f, mf)->filled, 0);
    mf = submit_ok(f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_MARKET, CLB_TIF_FOK, 0, 20);
    cr_assert_eq(last_order_rec(f, mf)->status, CLB_EXEC_FILLED);
    free_fx(f);
}

Test(matching, market_buy_locks_exact_cost)
{
    struct fx *f = new_fx();
    /* account 5 gets exactly what a market buy of 0.02 BTC costs */
    submit_ok(f, 1, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30000, 100);
    submit_ok(f, 1, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 31000, 100);
    int64_t cost = 3000000 + 3100000; /* 0.01*300 + 0.01*310 USDT */
    cr_assert_eq(clb_ledger_withdraw(&f->l, 5, A_USDT, clb_ledger_available(&f->l, 5, A_USDT)),
                 CLB_OK);
    cr_assert_eq(clb_ledger_deposit(&f->l, 5, A_USDT, cost - 1), CLB_OK);
    struct clb_match_request rq = { .account = 5, .market = 0, .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_MARKET, .tif = CLB_TIF_IOC, .qty = 200 };
    enum clb_reject_reason why;
    cr_assert_eq(clb_matcher_submit(&f->m, &rq, 1, NULL, &why), CLB_EINVAL);
    cr_assert_eq(why, CLB_REJECT_INSUFFICIENT_BALANCE);
    cr_assert_eq(clb_ledger_deposit(&f->l, 5, A_USDT, 1), CLB_OK);
    uint64_t id;
    cr_assert_eq(clb_matcher_submit(&f->m, &rq, 1, &id, &why), CLB_OK);
    cr_assert_eq(last_order_rec(f, id)->status, CLB_EXEC_FILLED);
    cr_assert_eq(clb_ledger_total(&f->l, 5, A_USDT), 0);
    cr_assert_eq(clb_ledger_locked(&f->l, 5, A_USDT), 0);
    cr_assert_eq(clb_ledger_total(&f->l, 5, A_BTC), 1000000000 + 2000000);
    free_fx(f);
}

Test(matching, limit_maker)
{
    struct fx *f = new_fx();
    submit_ok(f, 1, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200010, 30);
    struct clb_match_request rq = { .account = 0, .market = 1, .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT_MAKER, .tif = CLB_TIF_GTC,
                                    .price = 200010, .qty = 10 };
    enum clb_reject_reason why;
    cr_assert_eq(clb_matcher_submit(&f->m, &rq, 1, NULL, &why), CLB_EINVAL);
    cr_assert_eq(why, CLB_REJECT_WOULD_TAKE);
    rq.price = 200000;
    uint64_t id;
    cr_assert_eq(clb_matcher_submit(&f->m, &rq, 1, &id, &why), CLB_OK);
    struct clb_order_info info;
    cr_assert_eq(clb_matcher_get_order(&f->m, id, &info), CLB_OK);
    cr_assert_eq(info.status, CLB_EXEC_NEW);
    /* It is a maker when hit. */
    size_t from = f->log.n;
    submit_ok(f, 2, 1, CLB_SIDE_SELL, CLB_ORDER_MARKET, CLB_TIF_IOC, 0, 10);
    const struct rec *fl[2];
    cr_assert_eq(fills_from(f, from, fl, 2), 2);
    cr_assert_eq(fl[0]->order_id, id);
    cr_assert(fl[0]->maker);
    free_fx(f);
}

/* Everything observable, to prove a reject changed nothing. */
struct state {
    int64_t total[R_ACC][R_AST], locked[R_ACC][R_AST];
    uint64_t ids[64];
    size_t n_ids;
    struct clb_level lv[R_MKT][2][16];
    size_t n_lv[R_MKT][2];
    uint64_t next_order_id, next_trade_id;
};

static void grab(const struct fx *f, struct state *s)
{
    memset(s, 0, sizeof(*s));
    for (uint32_t a = 0; a < R_ACC; a++)
        for (uint32_t x = 0; x < R_AST; x++) {
            s->total[a][x] = clb_ledger_total(&f->l, a, x);
            s->locked[a][x] = clb_ledger_locked(&f->l, a, x);
        }
    s->n_ids = clb_matcher_open_orders(&f->m, CLB_MATCHER_ANY, CLB_MATCHER_ANY, s->ids, 64);
    for (uint32_t mi = 0; mi < R_MKT; mi++)
        for (int side = 0; side < 2; side++)
            s->n_lv[mi][side] = clb_matcher_depth(&f->m, mi, (enum clb_side)side, s->lv[mi][side],
                                                  16);
    s->next_order_id = f->m.next_order_id;
    s->next_trade_id = f->m.next_trade_id;
}

Test(matching, every_reject_reason_changes_nothing)
{
    struct fx *f = new_fx();
    submit_ok(f, 1, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30050, 100);
    submit_ok(f, 2, 0, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 29500, 100);
    cr_assert_eq(clb_ledger_withdraw(&f->l, 5, A_USDT, clb_ledger_available(&f->l, 5, A_USDT)),
                 CLB_OK);
    const struct clb_match_request base = { .account = 0, .market = 0, .side = CLB_SIDE_BUY,
                                            .type = CLB_ORDER_LIMIT, .tif = CLB_TIF_GTC,
                                            .price = 30000, .qty = 100, .client_tag = 9,
                                            .client_id = "abc" };
    struct {
        enum clb_reject_reason why;
        struct clb_match_request rq;
    } cases[16];
    int n = 0;
#define CASE(reason, field, value)                                                          \
    do {                                                                                    \
        cases[n].why = reason;                                                              \
        cases[n].rq = base;                                                                 \
        cases[n].rq.field = value;                                                          \
        n++;                                                                                \
    } while (0)
    CASE(CLB_REJECT_UNKNOWN_MARKET, market, 3);
    CASE(CLB_REJECT_UNKNOWN_ACCOUNT, account, 7);
    CASE(CLB_REJECT_BAD_TYPE, side, (enum clb_side)2);
    CASE(CLB_REJECT_BAD_TYPE, tif, (enum clb_tif)7);
    CASE(CLB_REJECT_BAD_CLIENT_ID, client_id, "0123456789012345678901234567890123456789x");
    CASE(CLB_REJECT_QTY, qty, -10);
    CASE(CLB_REJECT_STEP, qty, 105);
    CASE(CLB_REJECT_MIN_QTY, qty, 0); /* 0 is QTY; min_qty needs market 1 below */
    cases[n - 1].why = CLB_REJECT_QTY;
    CASE(CLB_REJECT_PRICE, price, 0);
    CASE(CLB_REJECT_TICK, price, 30010);
    CASE(CLB_REJECT_MIN_NOTIONAL, qty, 60); /* 0.006 * 300 = 1.8 < 2 USDT */
    CASE(CLB_REJECT_WOULD_TAKE, type, CLB_ORDER_LIMIT_MAKER);
    cases[n - 1].rq.price = 30050;
    CASE(CLB_REJECT_INSUFFICIENT_BALANCE, account, 5);
    CASE(CLB_REJECT_MAX_QTY, market, 2); /* ETH-BTC: max 0.9 ETH */
    cases[n - 1].rq.qty = 910;
    cases[n - 1].rq.price = 6000;
    CASE(CLB_REJECT_OVERFLOW, price, INT64_MAX - INT64_MAX % 50);
    CASE(CLB_REJECT_MIN_QTY, market, 2);
    cases[n - 1].rq.qty = 0;
    cases[n - 1].why = CLB_REJECT_QTY;
#undef CASE
    for (int i = 0; i < n; i++) {
        struct state before, after;
        grab(f, &before);
        size_t from = f->log.n;
        uint64_t id = 1234;
        enum clb_reject_reason why = CLB_REJECT_NONE;
        int rc = clb_matcher_submit(&f->m, &cases[i].rq, 1, &id, &why);
        cr_assert_eq(rc, CLB_EINVAL, "case %d", i);
        cr_assert_eq(why, cases[i].why, "case %d: %s, expected %s", i, clb_reject_reason_name(why),
                     clb_reject_reason_name(cases[i].why));
        cr_assert_eq(id, 1234, "order id written on reject");
        grab(f, &after);
        cr_assert(memcmp(&before, &after, sizeof(before)) == 0, "case %d changed state", i);
        cr_assert_eq(f->log.n, from + 1);
        cr_assert_eq(f->log.r[from].status, CLB_EXEC_REJECTED);
        cr_assert_eq(f->log.r[from].reason, (int)cases[i].why);
        cr_assert_eq(f->log.r[from].order_id, 0);
        cr_assert_eq(f->log.r[from].tag, 9);
    }
    free_fx(f);
}

Test(matching, min_qty_and_market_min_notional)
{
    struct fx *f = new_fx();
    struct clb_matcher_market mk = fx_markets[0];
    strcpy(mk.symbol, "BTC-USDT2");
    mk.min_qty = 50;
    uint32_t id;
    cr_assert_eq(clb_matcher_add_market(&f->m, &mk, &id), CLB_OK);
    struct clb_match_request rq = { .account = 0, .market = id, .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT, .price = 30000, .qty = 40 };
    enum clb_reject_reason why;
    cr_assert_eq(clb_matcher_submit(&f->m, &rq, 1, NULL, &why), CLB_EINVAL);
    cr_assert_eq(why, CLB_REJECT_MIN_QTY);
    /* MARKET orders are checked against the notional they would fill. */
    submit_ok(f, 1, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30000, 100);
    rq = (struct clb_match_request){ .account = 0, .market = 0, .side = CLB_SIDE_BUY,
                                     .type = CLB_ORDER_MARKET, .qty = 60 };
    cr_assert_eq(clb_matcher_submit(&f->m, &rq, 1, NULL, &why), CLB_EINVAL);
    cr_assert_eq(why, CLB_REJECT_MIN_NOTIONAL);
    rq.qty = 70; /* 2.1 USDT */
    cr_assert_eq(clb_matcher_submit(&f->m, &rq, 1, NULL, &why), CLB_OK);
    free_fx(f);
}

Test(matching, capacity_rejects)
{
    struct fx f;
    struct clb_matcher_config cfg;
    clb_matcher_config_default(&cfg);
    cfg.max_orders = 3;
    cfg.max_levels = 2;
    fx_init(&f, &cfg, NULL);
    deposit(&f, NULL, 0, A_USDT, 1000000000);
    struct clb_match_request rq = { .account = 0, .market = 0, .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT, .price = 30000, .qty = 100 };
    enum clb_reject_reason why;
    cr_assert_eq(clb_matcher_submit(&f.m, &rq, 1, NULL, &why), CLB_OK);
    rq.price = 29950;
    cr_assert_eq(clb_matcher_submit(&f.m, &rq, 1, NULL, &why), CLB_OK);
    rq.price = 29900; /* a third level on a side of two */
    cr_assert_eq(clb_matcher_submit(&f.m, &rq, 1, NULL, &why), CLB_EINVAL);
    cr_assert_eq(why, CLB_REJECT_CAPACITY);
    rq.tif = CLB_TIF_IOC; /* never rests: fine */
    cr_assert_eq(clb_matcher_submit(&f.m, &rq, 1, NULL, &why), CLB_OK);
    rq.tif = CLB_TIF_GTC;
    rq.price = 30000; /* an existing level */
    cr_assert_eq(clb_matcher_submit(&f.m, &rq, 1, NULL, &why), CLB_OK);
    cr_assert_eq(clb_matcher_submit(&f.m, &rq, 1, NULL, &why), CLB_EINVAL); /* pool full */
    cr_assert_eq(why, CLB_REJECT_CAPACITY);
    cr_assert_eq(clb_matcher_live_orders(&f.m), 3);
    cr_assert_eq(clb_matcher_cancel_all(&f.m, 0, CLB_MATCHER_ANY, 2), 3);
    cr_assert_eq(clb_ledger_locked(&f.l, 0, A_USDT), 0);
    cr_assert_eq(clb_matcher_submit(&f.m, &rq, 1, NULL, &why), CLB_OK);
    fx_deinit(&f, NULL);
}

Test(matching, cancel_unlocks_exactly_and_checks_owner)
{
    struct fx *f = new_fx();
    int64_t btc = clb_ledger_available(&f->l, 1, A_BTC);
    uint64_t s = submit_ok(f, 1, 0, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 30000, 120);
    cr_assert_eq(clb_ledger_available(&f->l, 1, A_BTC), btc - 1200000);
    cr_assert_eq(clb_matcher_cancel(&f->m, 2, s, 3), CLB_ENOTFOUND);
    cr_assert_eq(clb_matcher_cancel(&f->m, 1, 999, 3), CLB_ENOTFOUND);
    cr_assert_eq(clb_matcher_cancel(&f->m, 1, 0, 3), CLB_ENOTFOUND);
    submit_ok(f, 0, 0, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_IOC, 30000, 70);
    cr_assert_eq(clb_ledger_locked(&f->l, 1, A_BTC), 500000);
    cr_assert_eq(clb_matcher_cancel(&f->m, 1, s, 3), CLB_OK);
    cr_assert_eq(clb_ledger_locked(&f->l, 1, A_BTC), 0);
    cr_assert_eq(clb_ledger_available(&f->l, 1, A_BTC), btc - 700000);
    const struct rec *r = last_order_rec(f, s);
    cr_assert_eq(r->status, CLB_EXEC_CANCELED);
    cr_assert_eq(r->filled, 70);
    cr_assert_eq(clb_matcher_cancel(&f->m, 1, s, 3), CLB_ENOTFOUND);
    free_fx(f);
}

Test(matching, self_trade_prevention_modes)
{
    enum clb_stp modes[4] = { CLB_STP_EXPIRE_MAKER, CLB_STP_EXPIRE_TAKER, CLB_STP_EXPIRE_BOTH,
                              CLB_STP_NONE };
    for (int k = 0; k < 4; k++) {
        struct fx f;
        struct clb_matcher_config cfg;
        clb_matcher_config_default(&cfg);
        cfg.stp = modes[k];
        fx_init(&f, &cfg, NULL);
        for (uint32_t a = 0; a < 2; a++) {
            deposit(&f, NULL, a, A_ETH, 100000000);
            deposit(&f, NULL, a, A_USDT, 1000000000);
        }
        uint64_t own = submit_ok(&f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 10);
        uint64_t other =
            submit_ok(&f, 1, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 10);
        uint64_t t = submit_ok(&f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 20);
        struct clb_order_info info;
        const struct rec *ro = last_order_rec(&f, own), *rt = last_order_rec(&f, t);
        switch (modes[k]) {
        case CLB_STP_EXPIRE_MAKER: /* own maker expired, other filled, taker rests 10 */
            cr_assert_eq(ro->status, CLB_EXEC_EXPIRED);
            cr_assert_eq(last_order_rec(&f, other)->status, CLB_EXEC_FILLED);
            cr_assert_eq(clb_matcher_get_order(&f.m, t, &info), CLB_OK);
            cr_assert_eq(info.remaining, 10);
            break;
        case CLB_STP_EXPIRE_TAKER: /* taker expired at once, makers untouched */
            cr_assert_eq(rt->status, CLB_EXEC_EXPIRED);
            cr_assert_eq(rt->filled, 0);
            cr_assert_eq(clb_matcher_get_order(&f.m, own, &info), CLB_OK);
            cr_assert_eq(clb_matcher_get_order(&f.m, other, &info), CLB_OK);
            break;
        case CLB_STP_EXPIRE_BOTH:
            cr_assert_eq(rt->status, CLB_EXEC_EXPIRED);
            cr_assert_eq(ro->status, CLB_EXEC_EXPIRED);
            cr_assert_eq(clb_matcher_get_order(&f.m, other, &info), CLB_OK);
            break;
        default: /* self-trade then the other */
            cr_assert_eq(ro->status, CLB_EXEC_FILLED);
            cr_assert_eq(rt->status, CLB_EXEC_FILLED);
            cr_assert_eq(last_order_rec(&f, other)->status, CLB_EXEC_FILLED);
            break;
        }
        for (uint32_t x = 0; x < R_AST; x++)
            cr_assert_eq(clb_ledger_total(&f.l, 0, x) + clb_ledger_total(&f.l, 1, x) +
                             clb_ledger_total(&f.l, FEE_ACC, x),
                         x == A_ETH ? 200000000 : x == A_USDT ? 2000000000 : 0);
        fx_deinit(&f, NULL);
    }
}

/* A callback that tries to re-enter the engine. */
struct reenter {
    struct clb_matcher *m;
    int rc;
};

static void on_order_reenter(void *ud, const struct clb_order_report *o)
{
    struct reenter *r = ud;
    struct clb_match_request rq = { .account = o->account, .market = 0, .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT, .price = 30000, .qty = 10 };
    r->rc = clb_matcher_submit(r->m, &rq, 0, NULL, NULL);
}

Test(matching, callbacks_cannot_reenter_and_carry_client_id)
{
    struct fx *f = new_fx();
    struct reenter re = { &f->m, 0 };
    f->m.listener = (struct clb_matcher_listener){ NULL, on_order_reenter, &re };
    struct clb_match_request rq = { .account = 0, .market = 0, .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT, .price = 30000, .qty = 100,
                                    .client_id = "my-order-1" };
    uint64_t id;
    cr_assert_eq(clb_matcher_submit(&f->m, &rq, 0, &id, NULL), CLB_OK);
    cr_assert_eq(re.rc, CLB_ESTATE);
    cr_assert_eq(clb_matcher_live_orders(&f->m), 1);
    struct clb_order_info info;
    cr_assert_eq(clb_matcher_get_order(&f->m, id, &info), CLB_OK);
    cr_assert_str_eq(info.client_id, "my-order-1");
    free_fx(f);
}

Test(matching, market_configuration_checks)
{
    struct fx *f = new_fx();
    uint32_t id;
    struct clb_matcher_market mk = fx_markets[0];
    cr_assert_eq(clb_matcher_add_market(&f->m, &mk, &id), CLB_EEXIST);
    strcpy(mk.symbol, "X");
    mk.qty_scale = 5; /* 2 + 5 > USDT's 6: not exact */
    cr_assert_eq(clb_matcher_add_market(&f->m, &mk, &id), CLB_EPRECISION);
    mk.qty_scale = 9; /* beyond BTC's 8 */
    mk.price_scale = 0;
    cr_assert_eq(clb_matcher_add_market(&f->m, &mk, &id), CLB_EPRECISION);
    mk = fx_markets[0];
    strcpy(mk.symbol, "X");
    mk.tick = 0;
    cr_assert_eq(clb_matcher_add_market(&f->m, &mk, &id), CLB_EINVAL);
    mk.tick = 1;
    mk.quote_asset = mk.base_asset;
    cr_assert_eq(clb_matcher_add_market(&f->m, &mk, &id), CLB_EINVAL);
    cr_assert_eq(clb_matcher_find_market(&f->m, "ETH-BTC", &id), CLB_OK);
    cr_assert_eq(id, 2);
    cr_assert_str_eq(clb_matcher_market(&f->m, 2)->symbol, "ETH-BTC");
    cr_assert_null(clb_matcher_market(&f->m, 9));
    cr_assert_eq(clb_matcher_set_fees(&f->m, 0, -1, 0), CLB_EINVAL);
    cr_assert_eq(clb_matcher_set_fees(&f->m, 0, 0, 1000001), CLB_EINVAL);

    struct clb_market_rules rules = { .symbol = "BTC-USDT", .base = "BTC", .quote = "USDT",
                                      .tick_size = { 1, 2 }, .step_size = { 1, 5 },
                                      .min_qty = { 1, 5 }, .max_qty = { 9000, 0 },
                                      .min_notional = { 5, 0 }, .price_scale = 2,
                                      .qty_scale = 5 };
    struct clb_matcher_market out;
    cr_assert_eq(clb_matcher_market_from_rules(&rules, A_BTC, A_USDT, &out), CLB_OK);
    cr_assert_eq(out.tick, 1);
    cr_assert_eq(out.step, 1);
    cr_assert_eq(out.max_qty, 900000000);
    cr_assert_eq(out.min_notional, 5 * 10000000); /* scale 7 */
    rules.tick_size = (clb_dec){ 1, 3 };
    cr_assert_eq(clb_matcher_market_from_rules(&rules, A_BTC, A_USDT, &out), CLB_EPRECISION);
    free_fx(f);
}

/* ------------------------------------------------------------------------ */
/* External book: queue model, trades, crossing                             */

/* Market 1 (ETH-USDT: price scale 2, qty scale 3, tick 1, step 5) with an
 * external book; our account 0, zero fees. */
struct px {
    struct fx *f;
    struct clb_order_book book;
};

static void px_init(struct px *p)
{
    p->f = new_fx();
    cr_assert_eq(clb_book_init(&p->book, 64), CLB_OK);
    cr_assert_eq(clb_matcher_attach_book(&p->f->m, 1, &p->book), CLB_OK);
}

static void px_deinit(struct px *p)
{
    clb_book_deinit(&p->book);
    free_fx(p->f);
}

/* Sets an external level in the book and tells the engine. */
static void px_level(struct px *p, enum clb_side side, int64_t price, int64_t qty)
{
    cr_assert_eq(clb_book_set_level(&p->book, side, price, qty), CLB_OK);
    cr_assert_eq(clb_matcher_on_book_level(&p->f->m, 1, side, price, qty, 0), CLB_OK);
}

static double ahead_of(struct px *p, uint64_t id)
{
    struct clb_order_info info;
    cr_assert_eq(clb_matcher_get_order(&p->f->m, id, &info), CLB_OK);
    return info.queue_ahead;
}

static int64_t remaining_of(struct px *p, uint64_t id)
{
    struct clb_order_info info;
    if (clb_matcher_get_order(&p->f->m, id, &info) != CLB_OK)
        return 0;
    return info.remaining;
}

Test(queue, arrival_behind_existing_qty_and_increase_does_not_move_us)
{
    struct px p;
    px_init(&p);
    px_level(&p, CLB_SIDE_BUY, 200000, 500);
    px_level(&p, CLB_SIDE_SELL, 200010, 500);
    uint64_t a = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 100);
    cr_assert_float_eq(ahead_of(&p, a), 500.0, 1e-12);
    uint64_t b = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200005, 100);
    cr_assert_float_eq(ahead_of(&p, b), 0.0, 1e-12); /* a price the book does not hold */
    px_level(&p, CLB_SIDE_BUY, 200000, 800);
    cr_assert_float_eq(ahead_of(&p, a), 500.0, 1e-12);
    px_level(&p, CLB_SIDE_BUY, 200005, 300); /* joins behind b */
    cr_assert_float_eq(ahead_of(&p, b), 0.0, 1e-12);
    /* Updates elsewhere are ignored (fast path). */
    px_level(&p, CLB_SIDE_BUY, 100000, 5);
    px_level(&p, CLB_SIDE_SELL, 200000 + 50, 5);
    cr_assert_float_eq(ahead_of(&p, a), 500.0, 1e-12);
    px_deinit(&p);
}

Test(queue, decrease_splits_by_power_model)
{
    struct px p;
    px_init(&p);
    /* n = 3, front 50, back 30 (prev 80), d = 20:
     * p = 50^3/(50^3+30^3) = 125000/152000; ahead = 50 - 20p */
    px_level(&p, CLB_SIDE_BUY, 200000, 50);
    uint64_t a = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 100);
    px_level(&p, CLB_SIDE_BUY, 200000, 80);
    px_level(&p, CLB_SIDE_BUY, 200000, 60);
    double pf = 125000.0 / 152000.0;
    cr_assert_float_eq(ahead_of(&p, a), 50.0 - 20.0 * pf, 1e-9); /* 33.5526... */
    cr_assert_float_eq(ahead_of(&p, a), 33.552631578947, 1e-9);

    /* Favours the back: front 10 of 100, d = 10 -> almost all behind us. */
    px_level(&p, CLB_SIDE_SELL, 200100, 10);
    uint64_t s = submit_ok(p.f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200100, 100);
    px_level(&p, CLB_SIDE_SELL, 200100, 100);
    px_level(&p, CLB_SIDE_SELL, 200100, 90);
    double pb = 1000.0 / (1000.0 + 729000.0);
    cr_assert_float_eq(ahead_of(&p, s), 10.0 - 10.0 * pb, 1e-9); /* 9.9863 */
    cr_assert_gt(ahead_of(&p, s), 9.98);

    /* Favours the front: front 90 of 100, d = 10 -> almost all ahead of us. */
    px_level(&p, CLB_SIDE_SELL, 200200, 90);
    uint64_t s2 = submit_ok(p.f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200200, 100);
    px_level(&p, CLB_SIDE_SELL, 200200, 100);
    px_level(&p, CLB_SIDE_SELL, 200200, 90);
    double pfr = 729000.0 / 730000.0;
    cr_assert_float_eq(ahead_of(&p, s2), 90.0 - 10.0 * pfr, 1e-9); /* 80.0137 */
    cr_assert_lt(ahead_of(&p, s2), 80.02);

    /* Clamped to the new quantity: the level shrinks below our ahead. */
    px_level(&p, CLB_SIDE_SELL, 200200, 30);
    cr_assert_leq(ahead_of(&p, s2), 30.0);
    px_level(&p, CLB_SIDE_SELL, 200200, 0);
    cr_assert_float_eq(ahead_of(&p, s2), 0.0, 1e-12);
    px_deinit(&p);
}

Test(queue, power_zero_means_decreases_behind_us)
{
    struct px p;
    px_init(&p);
    cr_assert_eq(clb_matcher_set_queue_power(&p.f->m, 1, 0.0), CLB_OK);
    cr_assert_eq(clb_matcher_set_queue_power(&p.f->m, 1, -1.0), CLB_EINVAL);
    px_level(&p, CLB_SIDE_BUY, 200000, 50);
    uint64_t a = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 100);
    px_level(&p, CLB_SIDE_BUY, 200000, 80);
    px_level(&p, CLB_SIDE_BUY, 200000, 60); /* 20 of the 30 behind */
    cr_assert_float_eq(ahead_of(&p, a), 50.0, 1e-12);
    px_level(&p, CLB_SIDE_BUY, 200000, 45); /* 10 behind left: 5 come off the front */
    cr_assert_float_eq(ahead_of(&p, a), 45.0, 1e-12);
    px_deinit(&p);
}

Test(queue, trades_consume_ahead_then_fill_partially)
{
    struct px p;
    px_init(&p);
    px_level(&p, CLB_SIDE_BUY, 200000, 500);
    uint64_t a = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 300);
    int64_t usdt = clb_ledger_total(&p.f->l, 0, A_USDT);
    size_t from = p.f->log.n;
    cr_assert_eq(clb_matcher_on_trade(&p.f->m, 1, 200000, 400, CLB_SIDE_SELL, 1), CLB_OK);
    cr_assert_eq(p.f->log.n, from); /* no fill: 400 of the 500 ahead traded */
    cr_assert_float_eq(ahead_of(&p, a), 100.0, 1e-12);
    /* The book then shows the trade (500 -> 100): already accounted, no split. */
    px_level(&p, CLB_SIDE_BUY, 200000, 100);
    cr_assert_float_eq(ahead_of(&p, a), 100.0, 1e-12);
    /* A trade of 250: 100 ahead, then 150 of ours. */
    cr_assert_eq(clb_matcher_on_trade(&p.f->m, 1, 200000, 250, CLB_SIDE_SELL, 2), CLB_OK);
    const struct rec *fl[4];
    cr_assert_eq(fills_from(p.f, from, fl, 4), 1);
    cr_assert_eq(fl[0]->order_id, a);
    cr_assert_eq(fl[0]->qty, 150);
    cr_assert_eq(fl[0]->price, 200000);
    cr_assert(fl[0]->maker);
    cr_assert(fl[0]->external);
    cr_assert_eq(remaining_of(&p, a), 150);
    cr_assert_float_eq(ahead_of(&p, a), 0.0, 1e-12);
    /* 0.15 ETH at 2000 = 300 USDT */
    cr_assert_eq(clb_ledger_total(&p.f->l, 0, A_USDT), usdt - 300000000);
    cr_assert_eq(clb_ledger_locked(&p.f->l, 0, A_USDT), 300000000);
    /* A trade on the other side (taker BUY) does not touch our bid. */
    cr_assert_eq(clb_matcher_on_trade(&p.f->m, 1, 200000, 999, CLB_SIDE_BUY, 3), CLB_OK);
    cr_assert_eq(remaining_of(&p, a), 150);
    /* Fills are whole steps: a trade of 7 (step 5) fills 5. */
    cr_assert_eq(clb_matcher_on_trade(&p.f->m, 1, 200000, 7, CLB_SIDE_SELL, 4), CLB_OK);
    cr_assert_eq(remaining_of(&p, a), 145);
    px_deinit(&p);
}

Test(queue, trade_through_our_price_fills_us_fully)
{
    struct px p;
    px_init(&p);
    px_level(&p, CLB_SIDE_SELL, 200100, 1000);
    uint64_t s = submit_ok(p.f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200100, 200);
    uint64_t s2 = submit_ok(p.f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200150, 200);
    cr_assert_float_eq(ahead_of(&p, s), 1000.0, 1e-12);
    size_t from = p.f->log.n;
    /* a buyer paid 2001.20: both our asks were traded through */
    cr_assert_eq(clb_matcher_on_trade(&p.f->m, 1, 200120, 5, CLB_SIDE_BUY, 1), CLB_OK);
    const struct rec *fl[4];
    cr_assert_eq(fills_from(p.f, from, fl, 4), 1);
    cr_assert_eq(fl[0]->order_id, s);
    cr_assert_eq(fl[0]->qty, 200);
    cr_assert_eq(fl[0]->price, 200100); /* at our price */
    cr_assert_eq(last_order_rec(p.f, s)->status, CLB_EXEC_FILLED);
    cr_assert_eq(remaining_of(&p, s2), 200);
    px_deinit(&p);
}

Test(queue, crossing_book_fills_at_our_price_once)
{
    struct px p;
    px_init(&p);
    px_level(&p, CLB_SIDE_BUY, 200000, 100);
    px_level(&p, CLB_SIDE_SELL, 200050, 100);
    uint64_t b = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200020, 300);
    /* The market drops through our bid: asks at 2000.10 (50) and 2000.20 (100). */
    cr_assert_eq(clb_book_set_level(&p.book, CLB_SIDE_SELL, 200010, 50), CLB_OK);
    cr_assert_eq(clb_book_set_level(&p.book, CLB_SIDE_SELL, 200020, 100), CLB_OK);
    cr_assert_eq(clb_book_set_level(&p.book, CLB_SIDE_SELL, 200030, 100), CLB_OK);
    size_t from = p.f->log.n;
    cr_assert_eq(clb_matcher_sync_book(&p.f->m, 1, 7), CLB_OK);
    const struct rec *fl[8];
    cr_assert_eq(fills_from(p.f, from, fl, 8), 2);
    cr_assert_eq(fl[0]->qty, 50);
    cr_assert_eq(fl[1]->qty, 100);
    cr_assert_eq(fl[0]->price, 200020);
    cr_assert_eq(fl[1]->price, 200020);
    cr_assert(fl[0]->maker && fl[1]->maker);
    cr_assert_neq(fl[0]->trade_id, fl[1]->trade_id);
    cr_assert_eq(remaining_of(&p, b), 150);
    /* The stale crossed levels do not fill us again. */
    from = p.f->log.n;
    cr_assert_eq(clb_matcher_sync_book(&p.f->m, 1, 8), CLB_OK);
    cr_assert_eq(fills_from(p.f, from, fl, 8), 0);
    /* New liquidity at 2000.10 (50 -> 80) is 30 more for us. */
    cr_assert_eq(clb_book_set_level(&p.book, CLB_SIDE_SELL, 200010, 80), CLB_OK);
    cr_assert_eq(clb_matcher_sync_book(&p.f->m, 1, 9), CLB_OK);
    cr_assert_eq(fills_from(p.f, from, fl, 8), 1);
    cr_assert_eq(fl[0]->qty, 30);
    cr_assert_eq(remaining_of(&p, b), 120);
    /* Same for an ask crossed by bids. */
    uint64_t s = submit_ok(p.f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200500, 40);
    cr_assert_eq(clb_book_set_level(&p.book, CLB_SIDE_BUY, 200600, 100), CLB_OK);
    from = p.f->log.n;
    cr_assert_eq(clb_matcher_sync_book(&p.f->m, 1, 10), CLB_OK);
    cr_assert_eq(fills_from(p.f, from, fl, 8), 1);
    cr_assert_eq(fl[0]->order_id, s);
    cr_assert_eq(fl[0]->qty, 40);
    cr_assert_eq(fl[0]->price, 200500);
    px_deinit(&p);
}

Test(queue, two_own_orders_at_one_price_keep_time_priority)
{
    struct px p;
    px_init(&p);
    px_level(&p, CLB_SIDE_BUY, 200000, 10);
    uint64_t o1 = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 5);
    px_level(&p, CLB_SIDE_BUY, 200000, 20);
    uint64_t o2 = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 5);
    cr_assert_float_eq(ahead_of(&p, o1), 10.0, 1e-12);
    cr_assert_float_eq(ahead_of(&p, o2), 20.0, 1e-12);
    /* Trade 12: 10 ahead of o1, then 2 of... o1 would get 2 but step is 5 ->
     * 0; use 15: o1 fills 5, o2 (20 external + 5 own ahead) nothing. */
    cr_assert_eq(clb_matcher_on_trade(&p.f->m, 1, 200000, 15, CLB_SIDE_SELL, 1), CLB_OK);
    cr_assert_eq(remaining_of(&p, o1), 0);
    cr_assert_eq(remaining_of(&p, o2), 5);
    /* External consumed ahead of o2: 15 - 5 (o1's fill) = 10 -> 10 left. */
    cr_assert_float_eq(ahead_of(&p, o2), 10.0, 1e-12);
    /* Two fresh orders with equal external queue: the first in time fills first. */
    px_level(&p, CLB_SIDE_SELL, 200100, 10);
    uint64_t a1 = submit_ok(p.f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200100, 10);
    uint64_t a2 = submit_ok(p.f, 0, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200100, 10);
    cr_assert_eq(clb_matcher_on_trade(&p.f->m, 1, 200100, 25, CLB_SIDE_BUY, 2), CLB_OK);
    cr_assert_eq(remaining_of(&p, a1), 0);
    cr_assert_eq(remaining_of(&p, a2), 5);
    /* A decrease keeps o2's order among ours: never ahead less than before it. */
    px_level(&p, CLB_SIDE_BUY, 200000, 20);
    px_level(&p, CLB_SIDE_BUY, 200000, 12);
    cr_assert_leq(ahead_of(&p, o2), 12.0);
    px_deinit(&p);
}

Test(queue, taker_walks_own_book_and_external_levels)
{
    struct px p;
    px_init(&p);
    px_level(&p, CLB_SIDE_SELL, 200000, 50);
    px_level(&p, CLB_SIDE_SELL, 200010, 50);
    px_level(&p, CLB_SIDE_SELL, 200020, 50);
    /* account 1 rests an ask at 2000.10 (inside the external queue) */
    uint64_t m1 = submit_ok(p.f, 1, 1, CLB_SIDE_SELL, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200010, 30);
    size_t from = p.f->log.n;
    uint64_t t = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200010, 200);
    const struct rec *fl[8];
    size_t n = fills_from(p.f, from, fl, 8);
    /* ext 2000.00 x50 (taker), then our ask 2000.10 x30 (maker + taker), then
     * ext 2000.10 x50; 70 rest at 2000.10 */
    cr_assert_eq(n, 4);
    cr_assert_eq(fl[0]->order_id, t);
    cr_assert(fl[0]->external && !fl[0]->maker);
    cr_assert_eq(fl[0]->price, 200000);
    cr_assert_eq(fl[0]->qty, 50);
    cr_assert_eq(fl[1]->order_id, m1);
    cr_assert(fl[1]->maker && !fl[1]->external);
    cr_assert_eq(fl[2]->order_id, t);
    cr_assert_eq(fl[1]->trade_id, fl[2]->trade_id);
    cr_assert_eq(fl[3]->price, 200010);
    cr_assert_eq(fl[3]->qty, 50);
    cr_assert_eq(fl[3]->trade_id, fl[2]->trade_id + 1);
    cr_assert_eq(remaining_of(&p, t), 70);
    /* The remainder rests through the level it took; sync does not take it twice. */
    from = p.f->log.n;
    cr_assert_eq(clb_matcher_sync_book(&p.f->m, 1, 3), CLB_OK);
    cr_assert_eq(fills_from(p.f, from, fl, 8), 0);
    /* LIMIT_MAKER is rejected when the external book would be taken. */
    struct clb_match_request rq = { .account = 2, .market = 1, .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT_MAKER, .price = 200020, .qty = 5 };
    enum clb_reject_reason why;
    cr_assert_eq(clb_matcher_submit(&p.f->m, &rq, 1, NULL, &why), CLB_EINVAL);
    cr_assert_eq(why, CLB_REJECT_WOULD_TAKE);
    px_deinit(&p);
}

Test(queue, bad_arguments)
{
    struct px p;
    px_init(&p);
    cr_assert_eq(clb_matcher_on_book_level(&p.f->m, 9, CLB_SIDE_BUY, 1, 1, 0), CLB_EINVAL);
    cr_assert_eq(clb_matcher_on_book_level(&p.f->m, 1, (enum clb_side)3, 1, 1, 0), CLB_EINVAL);
    cr_assert_eq(clb_matcher_on_book_level(&p.f->m, 1, CLB_SIDE_BUY, 0, 1, 0), CLB_EINVAL);
    cr_assert_eq(clb_matcher_on_book_level(&p.f->m, 1, CLB_SIDE_BUY, 1, -1, 0), CLB_EINVAL);
    cr_assert_eq(clb_matcher_on_trade(&p.f->m, 1, 100, 0, CLB_SIDE_BUY, 0), CLB_EINVAL);
    cr_assert_eq(clb_matcher_sync_book(&p.f->m, 0, 0), CLB_ESTATE); /* no book on market 0 */
    cr_assert_eq(clb_matcher_attach_book(&p.f->m, 7, &p.book), CLB_EINVAL);
    px_deinit(&p);
}

/* Paper mode at random: book updates, trades, syncs, submits and cancels.
 * Run twice with one seed: identical reports. Invariants throughout. */
static void paper_run(uint64_t seed, struct log *out, int64_t *balances)
{
    struct px p;
    px_init(&p);
    uint64_t s = seed;
    int64_t mid = 200000;
    for (int64_t i = 1; i <= 10; i++) {
        cr_assert_eq(clb_book_set_level(&p.book, CLB_SIDE_BUY, mid - i * 5, 100 * i), CLB_OK);
        cr_assert_eq(clb_book_set_level(&p.book, CLB_SIDE_SELL, mid + i * 5, 100 * i), CLB_OK);
    }
    for (int step = 0; step < 20000; step++) {
        int64_t op = below(&s, 100), now = step;
        if (op < 50) {
            enum clb_side side = (enum clb_side)below(&s, 2);
            int64_t px = mid + (below(&s, 41) - 20) * 5;
            int64_t q = below(&s, 400);
            cr_assert_eq(clb_book_set_level(&p.book, side, px, q), CLB_OK);
            cr_assert_eq(clb_matcher_on_book_level(&p.f->m, 1, side, px, q, now), CLB_OK);
        } else if (op < 60) {
            struct clb_level best;
            enum clb_side taker = (enum clb_side)below(&s, 2);
            bool ok = taker == CLB_SIDE_BUY ? clb_book_best_ask(&p.book, &best)
                                            : clb_book_best_bid(&p.book, &best);
            if (ok)
                cr_assert_eq(clb_matcher_on_trade(&p.f->m, 1, best.price, 1 + below(&s, 150),
                                                  taker, now), CLB_OK);
        } else if (op < 70) {
            cr_assert_eq(clb_matcher_sync_book(&p.f->m, 1, now), CLB_OK);
        } else if (op < 90) {
            struct clb_match_request rq = {
                .account = (uint32_t)below(&s, 3), .market = 1,
                .side = (enum clb_side)below(&s, 2),
                .type = (enum clb_order_type)below(&s, 3), .tif = CLB_TIF_GTC,
                .price = mid + (below(&s, 21) - 10) * 5, .qty = 5 * (1 + below(&s, 40)),
            };
            if (rq.type == CLB_ORDER_LIMIT)
                rq.tif = (enum clb_tif)below(&s, 3);
            clb_matcher_submit(&p.f->m, &rq, now, NULL, NULL);
        } else {
            uint64_t ids[256];
            size_t n = clb_matcher_open_orders(&p.f->m, CLB_MATCHER_ANY, 1, ids, 256);
            if (n) {
                uint64_t id = ids[below(&s, (int64_t)(n < 256 ? n : 256))];
                struct clb_order_info info;
                cr_assert_eq(clb_matcher_get_order(&p.f->m, id, &info), CLB_OK);
                cr_assert_eq(clb_matcher_cancel(&p.f->m, info.account, id, now), CLB_OK);
            }
        }
        /* invariants */
        int64_t locks[3][R_AST];
        memset(locks, 0, sizeof(locks));
        uint64_t ids[512];
        size_t n = clb_matcher_open_orders(&p.f->m, CLB_MATCHER_ANY, CLB_MATCHER_ANY, ids, 512);
        cr_assert_leq(n, 512);
        for (size_t i = 0; i < n; i++) {
            struct clb_order_info info;
            cr_assert_eq(clb_matcher_get_order(&p.f->m, ids[i], &info), CLB_OK);
            cr_assert(info.queue_ahead >= 0.0);
            cr_assert_gt(info.remaining, 0);
            cr_assert_eq(info.remaining % 5, 0);
            locks[info.account][info.side == CLB_SIDE_BUY ? A_USDT : A_ETH] += info.locked;
        }
        for (uint32_t a = 0; a < 3; a++)
            for (uint32_t x = 0; x < R_AST; x++) {
                int64_t t = clb_ledger_total(&p.f->l, a, x), k = clb_ledger_locked(&p.f->l, a, x);
                cr_assert(t >= 0 && k >= 0 && k <= t);
                cr_assert_eq(k, locks[a][x], "step %d", step);
            }
    }
    cr_assert_eq(p.f->m.settle_errors, 0);
    /* fills are whole steps */
    for (size_t i = 0; i < p.f->log.n; i++) {
        const struct rec *r = &p.f->log.r[i];
        if (r->kind == REC_FILL)
            cr_assert_eq(r->qty % 5, 0);
    }
    for (uint32_t a = 0; a < 3; a++)
        for (uint32_t x = 0; x < R_AST; x++)
            balances[a * R_AST + x] = clb_ledger_total(&p.f->l, a, x);
    *out = p.f->log;
    p.f->log = (struct log){ 0 };
    px_deinit(&p);
}

Test(queue, paper_mode_is_deterministic_and_keeps_invariants, .timeout = 120)
{
    struct log a, b;
    int64_t ba[3 * R_AST], bb[3 * R_AST];
    paper_run(77, &a, ba);
    paper_run(77, &b, bb);
    cr_assert_eq(a.n, b.n);
    size_t fills = 0, maker = 0;
    for (size_t i = 0; i < a.n; i++) {
        assert_rec_eq(&a.r[i], &b.r[i], i, "rerun");
        if (a.r[i].kind == REC_FILL) {
            fills++;
            maker += a.r[i].maker;
        }
    }
    cr_assert(memcmp(ba, bb, sizeof(ba)) == 0);
    cr_assert_gt(fills, 500);
    cr_assert_gt(maker, 100);
    free(a.r);
    free(b.r);
}

/* sync_book may skip re-reading our levels only when every book change was
 * reported: an unreported change at our price must still reach the queue. */
Test(queue, sync_sees_unreported_changes_after_reported_ones)
{
    struct px p;
    px_init(&p);
    px_level(&p, CLB_SIDE_BUY, 200000, 500);
    px_level(&p, CLB_SIDE_SELL, 200010, 500);
    uint64_t a = submit_ok(p.f, 0, 1, CLB_SIDE_BUY, CLB_ORDER_LIMIT, CLB_TIF_GTC, 200000, 100);
    cr_assert_eq(clb_matcher_sync_book(&p.f->m, 1, 1), CLB_OK);
    cr_assert_float_eq(ahead_of(&p, a), 500.0, 1e-12);
    px_level(&p, CLB_SIDE_BUY, 100000, 5);                                 /* reported */
    cr_assert_eq(clb_book_set_level(&p.book, CLB_SIDE_BUY, 200000, 200), CLB_OK); /* not */
    cr_assert_eq(clb_matcher_sync_book(&p.f->m, 1, 2), CLB_OK);
    cr_assert_leq(ahead_of(&p, a), 200.0, "the unreported decrease was missed");
    /* Only reported changes: the skip path keeps the same answer as a full read. */
    px_level(&p, CLB_SIDE_BUY, 200000, 150);
    double after_report = ahead_of(&p, a);
    cr_assert_eq(clb_matcher_sync_book(&p.f->m, 1, 3), CLB_OK);
    cr_assert_float_eq(ahead_of(&p, a), after_report, 1e-12);
    cr_assert_leq(after_report, 150.0);
    px_deinit(&p);
}
