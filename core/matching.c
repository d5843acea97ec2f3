/*
 * matching.c — the matching engine (see matching.h for the contract).
 *
 * Layout. Orders live in a pool allocated at init; free slots form a singly
 * linked free list through `next`. An open-addressing hash (linear probing,
 * backward-shift deletion, ids never 0) maps order ids to slots. Each market
 * side is a sorted array of price levels with the best price at the END
 * (bids ascending, asks descending, like order_book.h), found by binary
 * search; each level is an intrusive FIFO (head/tail/prev/next slot
 * indices). Level arrays are preallocated (max_levels per side), so nothing
 * allocates after init.
 *
 * Matching. One walk (walk()) serves both the real match and the dry run
 * that prices MARKET buys and decides FOK: it merges our opposite levels and
 * the external book's levels best price first, our orders first at equal
 * prices, applying self-trade prevention; in dry mode it only adds up
 * quantity and quote, so both runs see exactly the same fills.
 *
 * Money. A fill of q at price p moves q * base_mult of the base asset and
 * p * q * quote_mult of the quote asset (both exact, checked at
 * add_market), fees rounded up. A limit buy locks quote at its limit price
 * and releases quote_amount(limit, q) per fill while paying
 * quote_amount(fill price, q): partial amounts add up exactly to the lock.
 *
 * Queue model and crossing: see matching.h. Queue positions are doubles in
 * qty units; fills derived from them are rounded down to the market step.
 *
 * The book hooks run once per market-data record in a replay, so their
 * common cases are cheap: on_book_level exits after two compares (its
 * rest is out of line), and sync_book skips looking our levels up in the
 * book when every change of the book since the last sync was a set_level
 * reported to on_book_level (the book counts its changes), and checks for
 * crossing in O(1) before walking anything.
 */
#include "matching.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

__extension__ typedef __int128 i128;

/* Keeps a rarely taken path out of line, so that the common path of its
 * caller needs no saved registers (an optimisation hint only). */
#if defined(__GNUC__)
#define MX_NOINLINE __attribute__((noinline))
#else
#define MX_NOINLINE
#endif

#define NIL UINT32_MAX
#define BUY CLB_SIDE_BUY
#define SELL CLB_SIDE_SELL

struct clb_mx_order {
    uint64_t id; /* 0 while the slot is free */
    uint64_t client_tag;
    int64_t price;
    int64_t qty;
    int64_t remaining;
    int64_t filled;
    int64_t filled_quote;
    int64_t locked;
    int64_t created_ns;
    double ahead;
    uint32_t prev;
    uint32_t next; /* FIFO link, or free-list link */
    uint32_t account;
    uint32_t market;
    uint8_t side;
    uint8_t type;
    uint8_t tif;
    uint8_t status;
    char client_id[CLB_CLIENT_ID_MAX];
};

struct mx_level {
    int64_t price;
    int64_t qty;     /* sum of our orders' remaining */
    int64_t ext_qty; /* external quantity at this price, as last seen */
    int64_t traded;  /* external trades at this price since the last level change */
    uint32_t head;
    uint32_t tail;
};

/* External level of this side partly used up by our crossing orders. */
struct mx_cross {
    int64_t price;
    int64_t ext_qty;
    int64_t used;
};

struct mx_side {
    struct mx_level *lv; /* worst first, best last */
    uint32_t n;
    uint32_t n_cross;
    struct mx_cross cross[CLB_MATCHER_MAX_CROSS];
};

struct clb_mx_market {
    struct clb_matcher_market def;
    int64_t base_mult;  /* qty -> base amount */
    int64_t quote_mult; /* price*qty -> quote amount */
    const struct clb_order_book *book;
    double power;
    struct mx_side side[2];
    /* The book as sync_book last left our levels (see sync_book): its
     * change count plus the on_book_level calls since, and its counters of
     * implicit changes. */
    bool book_synced;
    uint64_t book_changes;
    uint64_t book_dropped;
    uint64_t book_crossed;
};

/* Totals of a (dry) walk. */
struct walk_sum {
    int64_t filled;
    i128 quote;
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static bool crosses(int taker_side, int64_t limit, int64_t level_price)
{
    return taker_side == BUY ? level_price <= limit : level_price >= limit;
}

/* True when a is a better price than b for the given resting side. */
static bool better(int side, int64_t a, int64_t b)
{
    return side == BUY ? a > b : a < b;
}

static int64_t key_of(int side, int64_t price)
{
    return side == BUY ? price : -price;
}

static bool pow10_i64(int e, int64_t *out)
{
    if (e < 0 || e > 18)
        return false;
    int64_t v = 1;
    for (int i = 0; i < e; i++)
        v *= 10;
    *out = v;
    return true;
}

/* price * qty at the quote asset's scale; false when beyond int64. */
static bool quote_amount(const struct clb_mx_market *mk, int64_t price, int64_t qty, int64_t *out)
{
    i128 pq = (i128)price * qty;
    if (pq > INT64_MAX || pq < 0)
        return false;
    pq *= mk->quote_mult;
    if (pq > INT64_MAX)
        return false;
    *out = (int64_t)pq;
    return true;
}

static bool base_amount(const struct clb_mx_market *mk, int64_t qty, int64_t *out)
{
    return !__builtin_mul_overflow(qty, mk->base_mult, out);
}

/* Fee on an amount received, rounded up. */
static int64_t fee_of(int64_t amount, int32_t ppm)
{
    return (int64_t)(((i128)amount * ppm + 999999) / 1000000);
}

static int64_t floor_step(int64_t q, int64_t step)
{
    return q <= 0 ? 0 : q - q % step;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    return __builtin_add_overflow(a, b, &r) ? INT64_MAX : r;
}

/* Lower bound of price in a side's array, whose key (price for bids, -price
 * for asks) ascends from the worst level to the best. */
static uint32_t lower_bound(const struct mx_level *lv, uint32_t n, int side, int64_t price)
{
    int64_t k = key_of(side, price);
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_of(side, lv[mid].price) < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct mx_level *find_level(struct mx_side *s, int side, int64_t price)
{
    uint32_t i = lower_bound(s->lv, s->n, side, price);
    return i < s->n && s->lv[i].price == price ? &s->lv[i] : NULL;
}

/* Quantity of the external book at exactly (side, price). The book keeps
 * bids ascending and asks descending (order_book.h): the same key order. */
static int64_t ext_qty_at(const struct clb_order_book *b, int side, int64_t price)
{
    if (!b)
        return 0;
    const struct clb_book_side *s = side == BUY ? &b->bids : &b->asks;
    int64_t k = key_of(side, price);
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (key_of(side, s->lv[mid].price) < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < s->n && s->lv[lo].price == price ? s->lv[lo].qty : 0;
}

static struct mx_cross *cross_find(struct mx_side *s, int64_t price)
{
    for (uint32_t i = 0; i < s->n_cross; i++)
        if (s->cross[i].price == price)
            return &s->cross[i];
    return NULL;
}

static int64_t cross_used(const struct mx_side *s, int64_t price)
{
    for (uint32_t i = 0; i < s->n_cross; i++)
        if (s->cross[i].price == price)
            return s->cross[i].used;
    return 0;
}

/* Remembers `take` more of the external level (price, ext_qty) as used. */
static void cross_add(struct mx_side *s, int64_t price, int64_t ext_qty, int64_t take)
{
    struct mx_cross *c = cross_find(s, price);
    if (!c) {
        if (s->n_cross >= CLB_MATCHER_MAX_CROSS)
            return;
        c = &s->cross[s->n_cross++];
        *c = (struct mx_cross){ price, ext_qty, 0 };
    }
    c->ext_qty = ext_qty;
    c->used = sat_add(c->used, take);
}

/* The external level (price) of this side now holds new_qty. Used
 * liquidity cannot exceed what the level still holds (what left the level
 * is assumed to be the part we had not taken). */
static void cross_level_update(struct mx_side *s, int64_t price, int64_t new_qty)
{
    for (uint32_t i = 0; i < s->n_cross; i++) {
        struct mx_cross *c = &s->cross[i];
        if (c->price != price)
            continue;
        if (new_qty == 0) {
            s->cross[i] = s->cross[--s->n_cross];
        } else {
            c->ext_qty = new_qty;
            if (c->used > new_qty)
                c->used = new_qty;
        }
        return;
    }
}

/* Usable quantity of an external level for our orders, at the step. */
static int64_t ext_avail(const struct clb_mx_market *mk, int ext_side, const struct clb_level *e)
{
    int64_t q = e->qty;
    const struct mx_side *s = &mk->side[ext_side];
    if (s->n_cross)
        q -= cross_used(s, e->price);
    return floor_step(q, mk->def.step);
}

/* ------------------------------------------------------------------------ */
/* Order pool and id hash                                                    */

static uint32_t hash_home(const struct clb_matcher *m, uint64_t id)
{
    return (uint32_t)((id * 0x9e3779b97f4a7c15ull) >> 32) & m->hash_mask;
}

static void hash_put(struct clb_matcher *m, uint64_t id, uint32_t slot)
{
    uint32_t i = hash_home(m, id);
    while (m->hash_ids[i] != 0)
        i = (i + 1) & m->hash_mask;
    m->hash_ids[i] = id;
    m->hash_slots[i] = slot;
}

static uint32_t hash_find(const struct clb_matcher *m, uint64_t id)
{
    if (id == 0)
        return NIL;
    for (uint32_t i = hash_home(m, id);; i = (i + 1) & m->hash_mask) {
        if (m->hash_ids[i] == id)
            return m->hash_slots[i];
        if (m->hash_ids[i] == 0)
            return NIL;
    }
}

static void hash_del(struct clb_matcher *m, uint64_t id)
{
    uint32_t i = hash_home(m, id);
    while (m->hash_ids[i] != id) {
        if (m->hash_ids[i] == 0)
            return;
        i = (i + 1) & m->hash_mask;
    }
    /* Backward shift: pull later entries of the probe run into the hole. */
    for (uint32_t j = (i + 1) & m->hash_mask; m->hash_ids[j] != 0; j = (j + 1) & m->hash_mask) {
        uint32_t home = hash_home(m, m->hash_ids[j]);
        if (((j - home) & m->hash_mask) >= ((j - i) & m->hash_mask)) {
            m->hash_ids[i] = m->hash_ids[j];
            m->hash_slots[i] = m->hash_slots[j];
            i = j;
        }
    }
    m->hash_ids[i] = 0;
}

static uint32_t pool_take(struct clb_matcher *m)
{
    uint32_t s = m->free_head;
    if (s != NIL) {
        m->free_head = m->orders[s].next;
        m->n_live++;
    }
    return s;
}

/* Forgets a finished order: hash entry and slot. */
static void order_free(struct clb_matcher *m, struct clb_mx_order *o)
{
    uint32_t slot = (uint32_t)(o - m->orders);
    if (o->id)
        hash_del(m, o->id);
    o->id = 0;
    o->next = m->free_head;
    m->free_head = slot;
    m->n_live--;
}

/* ------------------------------------------------------------------------ */
/* Levels                                                                    */

/* The level at price, created (empty, unqueued) if missing; NULL if the side
 * is full. Creating may move other levels: pointers into lv are invalidated. */
static struct mx_level *level_get(struct clb_matcher *m, struct clb_mx_market *mk, int side,
                                  int64_t price, bool *created)
{
    struct mx_side *s = &mk->side[side];
    uint32_t i = lower_bound(s->lv, s->n, side, price);
    *created = false;
    if (i < s->n && s->lv[i].price == price)
        return &s->lv[i];
    if (s->n >= m->cfg.max_levels)
        return NULL;
    memmove(&s->lv[i + 1], &s->lv[i], (size_t)(s->n - i) * sizeof(*s->lv));
    s->n++;
    s->lv[i] = (struct mx_level){ .price = price, .head = NIL, .tail = NIL };
    *created = true;
    return &s->lv[i];
}

static void level_append(struct clb_matcher *m, struct mx_level *L, uint32_t slot)
{
    struct clb_mx_order *o = &m->orders[slot];
    o->prev = L->tail;
    o->next = NIL;
    if (L->tail != NIL)
        m->orders[L->tail].next = slot;
    else
        L->head = slot;
    L->tail = slot;
    L->qty += o->remaining;
}

/* Takes a resting order off its level (removing the level when empty) and
 * frees it. */
static void order_remove(struct clb_matcher *m, struct clb_mx_order *o)
{
    struct clb_mx_market *mk = &m->markets[o->market];
    struct mx_side *s = &mk->side[o->side];
    uint32_t i = lower_bound(s->lv, s->n, o->side, o->price);
    struct mx_level *L = &s->lv[i];
    if (o->prev != NIL)
        m->orders[o->prev].next = o->next;
    else
        L->head = o->next;
    if (o->next != NIL)
        m->orders[o->next].prev = o->prev;
    else
        L->tail = o->prev;
    L->qty -= o->remaining;
    if (L->head == NIL) {
        memmove(&s->lv[i], &s->lv[i + 1], (size_t)(s->n - i - 1) * sizeof(*s->lv));
        s->n--;
    }
    order_free(m, o);
}

/* ------------------------------------------------------------------------ */
/* Queue model                                                               */

/* Probability that a decrease happens ahead of us: f(front)/(f(front)+f(back))
 * with f(x) = x^n, written as 1/(1 + (back/front)^n) so it never overflows. */
static double prob_front(double n, double front, double back)
{
    if (n <= 0.0 || front <= 0.0)
        return 0.0;
    if (back <= 0.0)
        return 1.0;
    double r = back / front;
    double rn = n == 3.0 ? r * r * r : pow(r, n);
    return 1.0 / (1.0 + rn);
}

/* The external quantity at our level L changed to new_qty. */
static void level_ext_change(struct clb_matcher *m, struct clb_mx_market *mk, struct mx_level *L,
                             int64_t new_qty)
{
    double prev = (double)L->ext_qty;
    double nq = (double)new_qty;
    double chg = prev - nq - (double)L->traded;
    L->ext_qty = new_qty;
    L->traded = 0;
    double floor_ahead = 0.0; /* ahead of the previous own order (time priority) */
    for (uint32_t h = L->head; h != NIL; h = m->orders[h].next) {
        struct clb_mx_order *o = &m->orders[h];
        double est = o->ahead;
        if (chg > 0.0) {
            double front = o->ahead;
            double back = prev - front;
            if (back < 0.0)
                back = 0.0;
            double p = prob_front(mk->power, front, back);
            double over = back - chg * (1.0 - p);
            est = front - chg * p + (over < 0.0 ? over : 0.0);
        }
        if (est > nq)
            est = nq;
        if (est < floor_ahead)
            est = floor_ahead;
        if (est < 0.0)
            est = 0.0;
        o->ahead = est;
        floor_ahead = est;
    }
}

/* ------------------------------------------------------------------------ */
/* Reports                                                                   */

static void emit_order(struct clb_matcher *m, const struct clb_mx_order *o, int status,
                       int64_t now_ns)
{
    if (!m->listener.on_order)
        return;
    struct clb_order_report r = {
        .order_id = o->id,
        .client_tag = o->client_tag,
        .client_id = o->client_id,
        .account = o->account,
        .market = o->market,
        .side = (enum clb_side)o->side,
        .type = (enum clb_order_type)o->type,
        .tif = (enum clb_tif)o->tif,
        .status = (enum clb_exec_status)status,
        .reason = CLB_REJECT_NONE,
        .price = o->price,
        .qty = o->qty,
        .filled_qty = o->filled,
        .filled_quote = o->filled_quote,
        .remaining = o->remaining,
        .ts_ns = now_ns,
    };
    if (status == CLB_EXEC_CANCELED || status == CLB_EXEC_EXPIRED)
        r.remaining = 0;
    m->busy++;
    m->listener.on_order(m->listener.ud, &r);
    m->busy--;
}

static void emit_fill(struct clb_matcher *m, const struct clb_mx_order *o, uint64_t trade_id,
                      int64_t price, int64_t qty, int64_t quote, int64_t fee, uint32_t fee_asset,
                      bool maker, bool external, int64_t now_ns)
{
    if (!m->listener.on_fill)
        return;
    struct clb_fill_report f = {
        .trade_id = trade_id,
        .order_id = o->id,
        .client_tag = o->client_tag,
        .client_id = o->client_id,
        .account = o->account,
        .market = o->market,
        .side = (enum clb_side)o->side,
        .price = price,
        .qty = qty,
        .quote_qty = quote,
        .fee = fee,
        .fee_asset = fee_asset,
        .is_maker = maker,
        .external = external,
        .ts_ns = now_ns,
    };
    m->busy++;
    m->listener.on_fill(m->listener.ud, &f);
    m->busy--;
}

/* ------------------------------------------------------------------------ */
/* Fills                                                                     */

/* Quote released from a buy's lock when q of it fills at `price`. */
static int64_t buy_unlock(const struct clb_mx_market *mk, const struct clb_mx_order *o, int64_t q,
                          int64_t paid)
{
    int64_t u;
    if (o->type == CLB_ORDER_MARKET || !quote_amount(mk, o->price, q, &u))
        return paid;
    return u;
}

/* Books q at price on order o (the order side of a fill). */
static void order_apply(struct clb_mx_order *o, int64_t q, int64_t quote, int64_t unlock)
{
    o->remaining -= q;
    o->filled += q;
    o->filled_quote = sat_add(o->filled_quote, quote);
    o->locked -= unlock;
    if (o->locked < 0)
        o->locked = 0;
    o->status = o->remaining == 0 ? CLB_EXEC_FILLED : CLB_EXEC_PARTIALLY_FILLED;
}

/* Internal match of q between taker t and resting maker mo at mo's price.
 * Removes mo when it is done. Returns CLB_OK or the ledger's error. */
static int fill_internal(struct clb_matcher *m, struct clb_mx_market *mk, struct clb_mx_order *t,
                         struct clb_mx_order *mo, int64_t q, int64_t now_ns)
{
    int64_t price = mo->price, quote, base;
    if (!quote_amount(mk, price, q, &quote) || !base_amount(mk, q, &base))
        return CLB_EOVERFLOW;
    struct clb_mx_order *b = t->side == BUY ? t : mo;
    struct clb_mx_order *s = t->side == BUY ? mo : t;
    int32_t bppm = b == t ? m->taker_ppm[b->account] : m->maker_ppm[b->account];
    int32_t sppm = s == t ? m->taker_ppm[s->account] : m->maker_ppm[s->account];
    struct clb_ledger_trade tr = {
        .buyer = b->account,
        .seller = s->account,
        .base = mk->def.base_asset,
        .quote = mk->def.quote_asset,
        .base_qty = base,
        .quote_qty = quote,
        .buyer_unlock = buy_unlock(mk, b, q, quote),
        .seller_unlock = base,
        .buyer_fee = fee_of(base, bppm),
        .seller_fee = fee_of(quote, sppm),
        .fee_account = m->cfg.fee_account,
    };
    int rc = clb_ledger_settle(m->ledger, &tr);
    if (rc != CLB_OK) {
        m->settle_errors++;
        return rc;
    }
    uint64_t trade_id = m->next_trade_id++;
    order_apply(b, q, quote, tr.buyer_unlock);
    order_apply(s, q, quote, tr.seller_unlock);
    struct mx_level *L = find_level(&mk->side[mo->side], mo->side, mo->price);
    L->qty -= q;
    int64_t mfee = mo == b ? tr.buyer_fee : tr.seller_fee;
    int64_t tfee = t == b ? tr.buyer_fee : tr.seller_fee;
    uint32_t mfa = mo == b ? tr.base : tr.quote;
    uint32_t tfa = t == b ? tr.base : tr.quote;
    emit_fill(m, mo, trade_id, price, q, quote, mfee, mfa, true, false, now_ns);
    emit_order(m, mo, mo->status, now_ns);
    emit_fill(m, t, trade_id, price, q, quote, tfee, tfa, false, false, now_ns);
    emit_order(m, t, t->status, now_ns);
    if (mo->remaining == 0)
        order_remove(m, mo);
    return CLB_OK;
}

/* Fill of order o against the external market: q at price, maker or taker.
 * A resting (maker) order is removed when done. */
static int fill_external(struct clb_matcher *m, struct clb_mx_market *mk, struct clb_mx_order *o,
                         int64_t price, int64_t q, bool maker, int64_t now_ns)
{
    int64_t quote, base;
    if (!quote_amount(mk, price, q, &quote) || !base_amount(mk, q, &base))
        return CLB_EOVERFLOW;
    int32_t ppm = maker ? m->maker_ppm[o->account] : m->taker_ppm[o->account];
    bool buy = o->side == BUY;
    struct clb_ledger_trade tr = {
        .buyer = buy ? o->account : CLB_LEDGER_EXTERNAL,
        .seller = buy ? CLB_LEDGER_EXTERNAL : o->account,
        .base = mk->def.base_asset,
        .quote = mk->def.quote_asset,
        .base_qty = base,
        .quote_qty = quote,
        .buyer_unlock = buy ? buy_unlock(mk, o, q, quote) : 0,
        .seller_unlock = buy ? 0 : base,
        .buyer_fee = buy ? fee_of(base, ppm) : 0,
        .seller_fee = buy ? 0 : fee_of(quote, ppm),
        .fee_account = m->cfg.fee_account,
    };
    int rc = clb_ledger_settle(m->ledger, &tr);
    if (rc != CLB_OK) {
        m->settle_errors++;
        return rc;
    }
    uint64_t trade_id = m->next_trade_id++;
    order_apply(o, q, quote, buy ? tr.buyer_unlock : tr.seller_unlock);
    if (maker)
        find_level(&mk->side[o->side], o->side, o->price)->qty -= q;
    emit_fill(m, o, trade_id, price, q, quote, buy ? tr.buyer_fee : tr.seller_fee,
              buy ? tr.base : tr.quote, maker, true, now_ns);
    emit_order(m, o, o->status, now_ns);
    if (maker && o->remaining == 0)
        order_remove(m, o);
    return CLB_OK;
}

/* Ends a live order that is not resting (a taker) or is (a maker): unlocks
 * what it still holds, reports `status` and frees it. */
static void order_finish(struct clb_matcher *m, struct clb_mx_order *o, int status, bool resting,
                         int64_t now_ns)
{
    struct clb_mx_market *mk = &m->markets[o->market];
    if (o->locked > 0) {
        uint32_t asset = o->side == BUY ? mk->def.quote_asset : mk->def.base_asset;
        if (clb_ledger_unlock(m->ledger, o->account, asset, o->locked) != CLB_OK)
            m->settle_errors++;
        o->locked = 0;
    }
    o->status = (uint8_t)status;
    emit_order(m, o, status, now_ns);
    if (resting)
        order_remove(m, o);
    else
        order_free(m, o);
}

/* ------------------------------------------------------------------------ */
/* The walk                                                                  */

/* Matches taker t (t->remaining) against our opposite resting orders and the
 * external book, best price first. dry: changes nothing, adds the fills to
 * *sum. Real: fills and, on a self-trade stop or a ledger refusal, sets
 * *stopped. */
static void walk(struct clb_matcher *m, struct clb_mx_market *mk, struct clb_mx_order *t,
                 bool dry, struct walk_sum *sum, bool *stopped, int64_t now_ns)
{
    int side = t->side, opp = !side;
    struct mx_side *os = &mk->side[opp];
    const struct clb_order_book *b = mk->book;
    bool market = t->type == CLB_ORDER_MARKET;
    enum clb_stp stp = m->cfg.stp;
    int64_t rem = t->remaining;
    uint32_t li = os->n; /* dry: levels not yet passed (current = li - 1) */
    uint32_t cur = NIL;  /* dry: next order within the current level */
    uint32_t ei = 0;     /* external level index, 0 = best */

    while (rem > 0) {
        if (!dry)
            li = os->n;
        struct mx_level *L = li ? &os->lv[li - 1] : NULL;
        if (L && !market && !crosses(side, t->price, L->price))
            L = NULL;
        const struct clb_level *E = NULL;
        int64_t avail = 0;
        while (b && (E = clb_book_level(b, (enum clb_side)opp, ei)) != NULL) {
            if (!market && !crosses(side, t->price, E->price)) {
                E = NULL;
                break;
            }
            avail = ext_avail(mk, opp, E);
            if (avail > 0)
                break;
            ei++;
        }
        if (!L && !E)
            break;
        if (L && (!E || L->price == E->price || better(opp, L->price, E->price))) {
            uint32_t h = dry && cur != NIL ? cur : L->head;
            struct clb_mx_order *mo = &m->orders[h];
            if (mo->account == t->account && stp != CLB_STP_NONE) {
                if (stp == CLB_STP_EXPIRE_MAKER) {
                    if (dry) {
                        cur = mo->next;
                        if (cur == NIL)
                            li--;
                    } else {
                        order_finish(m, mo, CLB_EXEC_EXPIRED, true, now_ns);
                    }
                    continue;
                }
                if (!dry) {
                    if (stp == CLB_STP_EXPIRE_BOTH)
                        order_finish(m, mo, CLB_EXEC_EXPIRED, true, now_ns);
                    *stopped = true;
                }
                break;
            }
            int64_t q = rem < mo->remaining ? rem : mo->remaining;
            if (dry) {
                int64_t quote;
                if (!quote_amount(mk, L->price, q, &quote))
                    break;
                sum->filled += q;
                sum->quote += quote;
                rem -= q;
                cur = mo->next;
                if (cur == NIL)
                    li--;
            } else {
                if (fill_internal(m, mk, t, mo, q, now_ns) != CLB_OK) {
                    *stopped = true;
                    break;
                }
                rem = t->remaining;
            }
        } else {
            int64_t q = rem < avail ? rem : avail;
            if (dry) {
                int64_t quote;
                if (!quote_amount(mk, E->price, q, &quote))
                    break;
                sum->filled += q;
                sum->quote += quote;
                rem -= q;
            } else {
                int64_t eprice = E->price, eqty = E->qty;
                int rc = fill_external(m, mk, t, eprice, q, false, now_ns);
                if (rc == CLB_EOVERFLOW)
                    break;
                if (rc != CLB_OK) {
                    *stopped = true;
                    break;
                }
                cross_add(&mk->side[opp], eprice, eqty, q);
                rem = t->remaining;
            }
            ei++; /* one order takes a level once: the book is not modified */
        }
    }
}

/* True when a LIMIT_MAKER at t would take liquidity. */
static bool would_take(const struct clb_mx_market *mk, const struct clb_mx_order *t)
{
    int opp = !t->side;
    const struct mx_side *os = &mk->side[opp];
    if (os->n && crosses(t->side, t->price, os->lv[os->n - 1].price))
        return true;
    const struct clb_order_book *b = mk->book;
    if (!b)
        return false;
    const struct clb_level *E;
    for (uint32_t i = 0; (E = clb_book_level(b, (enum clb_side)opp, i)) != NULL; i++) {
        if (!crosses(t->side, t->price, E->price))
            return false;
        if (ext_avail(mk, opp, E) > 0)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */

void clb_matcher_config_default(struct clb_matcher_config *cfg)
{
    *cfg = (struct clb_matcher_config){
        .max_markets = 16,
        .max_orders = 65536,
        .max_levels = 4096,
        .fee_account = CLB_LEDGER_EXTERNAL,
        .maker_fee_ppm = 0,
        .taker_fee_ppm = 0,
        .stp = CLB_STP_EXPIRE_MAKER,
        .queue_power = 3.0,
    };
}

static bool fee_ok(int32_t ppm)
{
    return ppm >= 0 && ppm <= 1000000;
}

int clb_matcher_init(struct clb_matcher *m, struct clb_ledger *ledger,
                     const struct clb_matcher_config *cfg,
                     const struct clb_matcher_listener *listener)
{
    if (!m || !ledger || !cfg)
        return CLB_EINVAL;
    if (cfg->max_markets == 0 || cfg->max_orders == 0 || cfg->max_levels == 0 ||
        cfg->max_orders > (1u << 30) || !fee_ok(cfg->maker_fee_ppm) ||
        !fee_ok(cfg->taker_fee_ppm) || (unsigned)cfg->stp > CLB_STP_NONE ||
        !(cfg->queue_power >= 0.0) || !isfinite(cfg->queue_power) ||
        (cfg->fee_account != CLB_LEDGER_EXTERNAL && cfg->fee_account >= ledger->n_accounts))
        return CLB_EINVAL;
    memset(m, 0, sizeof(*m));
    m->ledger = ledger;
    m->cfg = *cfg;
    if (listener)
        m->listener = *listener;
    uint32_t hcap = 16;
    while (hcap < 2 * cfg->max_orders)
        hcap <<= 1;
    m->hash_mask = hcap - 1;
    size_t nlevels = (size_t)cfg->max_markets * 2 * cfg->max_levels;
    m->orders = calloc(cfg->max_orders, sizeof(*m->orders));
    m->hash_ids = calloc(hcap, sizeof(*m->hash_ids));
    m->hash_slots = calloc(hcap, sizeof(*m->hash_slots));
    m->markets = calloc(cfg->max_markets, sizeof(*m->markets));
    m->level_mem = calloc(nlevels, sizeof(struct mx_level));
    m->maker_ppm = calloc(ledger->max_accounts, sizeof(*m->maker_ppm));
    m->taker_ppm = calloc(ledger->max_accounts, sizeof(*m->taker_ppm));
    if (!m->orders || !m->hash_ids || !m->hash_slots || !m->markets || !m->level_mem ||
        !m->maker_ppm || !m->taker_ppm) {
        clb_matcher_deinit(m);
        return CLB_ENOMEM;
    }
    for (uint32_t i = 0; i < cfg->max_orders; i++)
        m->orders[i].next = i + 1 < cfg->max_orders ? i + 1 : NIL;
    m->free_head = 0;
    struct mx_level *lm = m->level_mem;
    for (uint32_t i = 0; i < cfg->max_markets; i++)
        for (int s = 0; s < 2; s++)
            m->markets[i].side[s].lv = lm + ((size_t)i * 2 + (size_t)s) * cfg->max_levels;
    for (uint32_t a = 0; a < ledger->max_accounts; a++) {
        m->maker_ppm[a] = cfg->maker_fee_ppm;
        m->taker_ppm[a] = cfg->taker_fee_ppm;
    }
    m->next_order_id = 1;
    m->next_trade_id = 1;
    return CLB_OK;
}

void clb_matcher_deinit(struct clb_matcher *m)
{
    if (!m)
        return;
    free(m->orders);
    free(m->hash_ids);
    free(m->hash_slots);
    free(m->markets);
    free(m->level_mem);
    free(m->maker_ppm);
    free(m->taker_ppm);
    memset(m, 0, sizeof(*m));
}

int clb_matcher_add_market(struct clb_matcher *m, const struct clb_matcher_market *mk,
                           uint32_t *market)
{
    if (!m || !mk || !market)
        return CLB_EINVAL;
    size_t len = strnlen(mk->symbol, CLB_SYMBOL_MAX);
    const struct clb_ledger *l = m->ledger;
    if (len == 0 || len >= CLB_SYMBOL_MAX || mk->base_asset >= l->n_assets ||
        mk->quote_asset >= l->n_assets || mk->base_asset == mk->quote_asset ||
        mk->price_scale < 0 || mk->price_scale > CLB_DEC_MAX_SCALE || mk->qty_scale < 0 ||
        mk->qty_scale > CLB_DEC_MAX_SCALE || mk->tick <= 0 || mk->step <= 0 || mk->min_qty < 0 ||
        mk->max_qty < 0 || mk->min_notional < 0)
        return CLB_EINVAL;
    int bs = l->assets[mk->base_asset].scale, qs = l->assets[mk->quote_asset].scale;
    int64_t bm, qm;
    if (!pow10_i64(bs - mk->qty_scale, &bm) ||
        !pow10_i64(qs - mk->price_scale - mk->qty_scale, &qm))
        return CLB_EPRECISION;
    uint32_t dup;
    if (clb_matcher_find_market(m, mk->symbol, &dup) == CLB_OK)
        return CLB_EEXIST;
    if (m->n_markets >= m->cfg.max_markets)
        return CLB_EFULL;
    struct clb_mx_market *x = &m->markets[m->n_markets];
    x->def = *mk;
    memset(x->def.symbol, 0, sizeof(x->def.symbol));
    memcpy(x->def.symbol, mk->symbol, len);
    x->base_mult = bm;
    x->quote_mult = qm;
    x->book = NULL;
    x->power = m->cfg.queue_power;
    x->side[0].n = x->side[1].n = 0;
    x->side[0].n_cross = x->side[1].n_cross = 0;
    x->book_synced = false;
    *market = m->n_markets++;
    return CLB_OK;
}

/* A decimal rule as an integer at `scale`, exactly. */
static int dec_scaled(clb_dec d, int scale, int64_t *out)
{
    if (d.scale < 0 || d.scale > CLB_DEC_MAX_SCALE || scale < 0 || scale > CLB_DEC_MAX_SCALE)
        return CLB_EINVAL;
    int64_t p;
    if (scale >= d.scale) {
        pow10_i64(scale - d.scale, &p);
        return __builtin_mul_overflow(d.m, p, out) ? CLB_EOVERFLOW : CLB_OK;
    }
    pow10_i64(d.scale - scale, &p);
    if (d.m % p != 0)
        return CLB_EPRECISION;
    *out = d.m / p;
    return CLB_OK;
}

int clb_matcher_market_from_rules(const struct clb_market_rules *rules, uint32_t base_asset,
                                  uint32_t quote_asset, struct clb_matcher_market *out)
{
    if (!rules || !out || rules->price_scale + rules->qty_scale > CLB_DEC_MAX_SCALE)
        return CLB_EINVAL;
    struct clb_matcher_market mk = { .base_asset = base_asset,
                                     .quote_asset = quote_asset,
                                     .price_scale = rules->price_scale,
                                     .qty_scale = rules->qty_scale };
    size_t len = strnlen(rules->symbol, CLB_SYMBOL_MAX);
    if (len == 0 || len >= CLB_SYMBOL_MAX)
        return CLB_EINVAL;
    memcpy(mk.symbol, rules->symbol, len);
    int rc;
    if ((rc = dec_scaled(rules->tick_size, rules->price_scale, &mk.tick)) != CLB_OK ||
        (rc = dec_scaled(rules->step_size, rules->qty_scale, &mk.step)) != CLB_OK ||
        (rc = dec_scaled(rules->min_qty, rules->qty_scale, &mk.min_qty)) != CLB_OK ||
        (rc = dec_scaled(rules->max_qty, rules->qty_scale, &mk.max_qty)) != CLB_OK ||
        (rc = dec_scaled(rules->min_notional, rules->price_scale + rules->qty_scale,
                         &mk.min_notional)) != CLB_OK)
        return rc;
    if (mk.tick <= 0 || mk.step <= 0 || mk.min_qty < 0 || mk.max_qty < 0 || mk.min_notional < 0)
        return CLB_EINVAL;
    *out = mk;
    return CLB_OK;
}

int clb_matcher_find_market(const struct clb_matcher *m, const char *symbol, uint32_t *market)
{
    if (!m || !symbol)
        return CLB_EINVAL;
    for (uint32_t i = 0; i < m->n_markets; i++) {
        if (strcmp(m->markets[i].def.symbol, symbol) == 0) {
            if (market)
                *market = i;
            return CLB_OK;
        }
    }
    return CLB_ENOTFOUND;
}

const struct clb_matcher_market *clb_matcher_market(const struct clb_matcher *m,
                                                    uint32_t market)
{
    return m && market < m->n_markets ? &m->markets[market].def : NULL;
}

int clb_matcher_set_fees(struct clb_matcher *m, uint32_t account, int32_t maker_ppm,
                         int32_t taker_ppm)
{
    if (!m || account >= m->ledger->max_accounts || !fee_ok(maker_ppm) || !fee_ok(taker_ppm))
        return CLB_EINVAL;
    if (m->busy)
        return CLB_ESTATE;
    m->maker_ppm[account] = maker_ppm;
    m->taker_ppm[account] = taker_ppm;
    return CLB_OK;
}

/* ------------------------------------------------------------------------ */
/* Submit and cancel                                                         */

/* Validates rq against rules and balance. On success fills *t (a template of
 * the order), *lock and *dry (when a dry run was needed). */
static enum clb_reject_reason validate(struct clb_matcher *m, const struct clb_match_request *rq,
                                       struct clb_mx_order *t, int64_t *lock,
                                       struct walk_sum *dry, bool *have_dry)
{
    if (rq->market >= m->n_markets)
        return CLB_REJECT_UNKNOWN_MARKET;
    if (rq->account >= m->ledger->n_accounts)
        return CLB_REJECT_UNKNOWN_ACCOUNT;
    if ((unsigned)rq->side > CLB_SIDE_SELL || (unsigned)rq->type > CLB_ORDER_MARKET ||
        (unsigned)rq->tif > CLB_TIF_FOK ||
        (rq->type == CLB_ORDER_LIMIT_MAKER && rq->tif != CLB_TIF_GTC))
        return CLB_REJECT_BAD_TYPE;
    if (rq->client_id && strnlen(rq->client_id, CLB_CLIENT_ID_MAX) >= CLB_CLIENT_ID_MAX)
        return CLB_REJECT_BAD_CLIENT_ID;
    struct clb_mx_market *mk = &m->markets[rq->market];
    const struct clb_matcher_market *d = &mk->def;
    bool market = rq->type == CLB_ORDER_MARKET;
    if (rq->qty <= 0)
        return CLB_REJECT_QTY;
    if (rq->qty % d->step != 0)
        return CLB_REJECT_STEP;
    if (rq->qty < d->min_qty)
        return CLB_REJECT_MIN_QTY;
    if (d->max_qty && rq->qty > d->max_qty)
        return CLB_REJECT_MAX_QTY;
    if (!market) {
        if (rq->price <= 0)
            return CLB_REJECT_PRICE;
        if (rq->price % d->tick != 0)
            return CLB_REJECT_TICK;
    }
    int64_t base, quote = 0;
    if (!base_amount(mk, rq->qty, &base) ||
        (!market && !quote_amount(mk, rq->price, rq->qty, &quote)))
        return CLB_REJECT_OVERFLOW;

    memset(t, 0, sizeof(*t));
    t->price = market ? 0 : rq->price;
    t->qty = t->remaining = rq->qty;
    t->account = rq->account;
    t->market = rq->market;
    t->side = (uint8_t)rq->side;
    t->type = (uint8_t)rq->type;
    t->tif = (uint8_t)rq->tif;
    t->prev = t->next = NIL;

    if (!market && d->min_notional && (i128)rq->price * rq->qty < d->min_notional)
        return CLB_REJECT_MIN_NOTIONAL;
    if (market) {
        walk(m, mk, t, true, dry, NULL, 0);
        *have_dry = true;
        if (d->min_notional && dry->quote < (i128)d->min_notional * mk->quote_mult)
            return CLB_REJECT_MIN_NOTIONAL;
        if (dry->quote > INT64_MAX)
            return CLB_REJECT_OVERFLOW;
    }
    if (rq->type == CLB_ORDER_LIMIT_MAKER && would_take(mk, t))
        return CLB_REJECT_WOULD_TAKE;
    if (m->free_head == NIL)
        return CLB_REJECT_CAPACITY;
    if (!market && rq->tif == CLB_TIF_GTC) {
        struct mx_side *s = &mk->side[rq->side];
        if (s->n >= m->cfg.max_levels && !find_level(s, rq->side, rq->price))
            return CLB_REJECT_CAPACITY;
    }
    if (rq->side == CLB_SIDE_BUY)
        *lock = market ? (int64_t)dry->quote : quote;
    else
        *lock = base;
    uint32_t asset = rq->side == CLB_SIDE_BUY ? d->quote_asset : d->base_asset;
    if (clb_ledger_available(m->ledger, rq->account, asset) < *lock)
        return CLB_REJECT_INSUFFICIENT_BALANCE;
    return CLB_REJECT_NONE;
}

/* Puts the remainder of an accepted order on its level (capacity was
 * checked by validate) and gives it its queue position. */
static void order_rest(struct clb_matcher *m, struct clb_mx_market *mk, uint32_t slot)
{
    struct clb_mx_order *o = &m->orders[slot];
    bool created;
    struct mx_level *L = level_get(m, mk, o->side, o->price, &created);
    if (mk->book) {
        int64_t q = ext_qty_at(mk->book, o->side, o->price);
        if (created)
            L->ext_qty = q;
        else if (q != L->ext_qty)
            level_ext_change(m, mk, L, q);
    }
    o->ahead = (double)L->ext_qty;
    level_append(m, L, slot);
}

int clb_matcher_submit(struct clb_matcher *m, const struct clb_match_request *rq, int64_t now_ns,
                       uint64_t *order_id, enum clb_reject_reason *reason)
{
    if (!m || !rq)
        return CLB_EINVAL;
    if (m->busy)
        return CLB_ESTATE;
    struct clb_mx_order t;
    struct walk_sum dry = { 0, 0 };
    bool have_dry = false;
    int64_t lock = 0;
    enum clb_reject_reason why = validate(m, rq, &t, &lock, &dry, &have_dry);
    if (reason)
        *reason = why;
    if (why != CLB_REJECT_NONE) {
        if (m->listener.on_order) {
            struct clb_order_report r = {
                .client_tag = rq->client_tag,
                .client_id = rq->client_id && why != CLB_REJECT_BAD_CLIENT_ID ? rq->client_id
                                                                              : "",
                .account = rq->account,
                .market = rq->market,
                .side = rq->side,
                .type = rq->type,
                .tif = rq->tif,
                .status = CLB_EXEC_REJECTED,
                .reason = why,
                .price = rq->price,
                .qty = rq->qty,
                .ts_ns = now_ns,
            };
            m->busy++;
            m->listener.on_order(m->listener.ud, &r);
            m->busy--;
        }
        return CLB_EINVAL;
    }

    struct clb_mx_market *mk = &m->markets[rq->market];
    uint32_t slot = pool_take(m);
    struct clb_mx_order *o = &m->orders[slot];
    *o = t;
    o->id = m->next_order_id++;
    o->client_tag = rq->client_tag;
    if (rq->client_id)
        strcpy(o->client_id, rq->client_id);
    o->created_ns = now_ns;
    o->locked = lock;
    o->status = CLB_EXEC_NEW;
    hash_put(m, o->id, slot);
    uint32_t asset = o->side == BUY ? mk->def.quote_asset : mk->def.base_asset;
    clb_ledger_lock(m->ledger, o->account, asset, lock); /* cannot fail: validated */
    if (order_id)
        *order_id = o->id;
    emit_order(m, o, CLB_EXEC_NEW, now_ns);

    if (o->tif == CLB_TIF_FOK) {
        if (!have_dry)
            walk(m, mk, o, true, &dry, NULL, now_ns);
        if (dry.filled < o->qty) {
            order_finish(m, o, CLB_EXEC_EXPIRED, false, now_ns);
            return CLB_OK;
        }
    }
    bool stopped = false;
    walk(m, mk, o, false, NULL, &stopped, now_ns);
    if (o->remaining == 0) {
        if (o->locked > 0) /* cannot happen with exact amounts; never keep a lock */
            clb_ledger_unlock(m->ledger, o->account, asset, o->locked);
        order_free(m, o);
    } else if (stopped || o->type == CLB_ORDER_MARKET || o->tif != CLB_TIF_GTC) {
        order_finish(m, o, CLB_EXEC_EXPIRED, false, now_ns);
    } else {
        order_rest(m, mk, slot);
    }
    return CLB_OK;
}

int clb_matcher_cancel(struct clb_matcher *m, uint32_t account, uint64_t order_id,
                       int64_t now_ns)
{
    if (!m)
        return CLB_EINVAL;
    if (m->busy)
        return CLB_ESTATE;
    uint32_t slot = hash_find(m, order_id);
    if (slot == NIL || m->orders[slot].account != account)
        return CLB_ENOTFOUND;
    order_finish(m, &m->orders[slot], CLB_EXEC_CANCELED, true, now_ns);
    return CLB_OK;
}

int clb_matcher_cancel_all(struct clb_matcher *m, uint32_t account, uint32_t market,
                           int64_t now_ns)
{
    if (!m || (market != CLB_MATCHER_ANY && market >= m->n_markets))
        return CLB_EINVAL;
    if (m->busy)
        return CLB_ESTATE;
    int n = 0;
    for (uint32_t mi = 0; mi < m->n_markets; mi++) {
        if (market != CLB_MATCHER_ANY && mi != market)
            continue;
        for (int side = 0; side < 2; side++) {
            struct mx_side *s = &m->markets[mi].side[side];
            /* Removing level i only moves levels above it, already visited. */
            for (uint32_t i = s->n; i-- > 0;) {
                uint32_t h = s->lv[i].head;
                while (h != NIL) {
                    struct clb_mx_order *o = &m->orders[h];
                    h = o->next;
                    if (account == CLB_MATCHER_ANY || o->account == account) {
                        order_finish(m, o, CLB_EXEC_CANCELED, true, now_ns);
                        n++;
                    }
                }
            }
        }
    }
    return n;
}

int clb_matcher_get_order(const struct clb_matcher *m, uint64_t order_id,
                          struct clb_order_info *out)
{
    if (!m || !out)
        return CLB_EINVAL;
    uint32_t slot = hash_find(m, order_id);
    if (slot == NIL)
        return CLB_ENOTFOUND;
    const struct clb_mx_order *o = &m->orders[slot];
    *out = (struct clb_order_info){
        .order_id = o->id,
        .client_tag = o->client_tag,
        .account = o->account,
        .market = o->market,
        .side = (enum clb_side)o->side,
        .type = (enum clb_order_type)o->type,
        .tif = (enum clb_tif)o->tif,
        .status = (enum clb_exec_status)o->status,
        .price = o->price,
        .qty = o->qty,
        .filled_qty = o->filled,
        .filled_quote = o->filled_quote,
        .remaining = o->remaining,
        .locked = o->locked,
        .queue_ahead = o->ahead,
        .created_ns = o->created_ns,
    };
    memcpy(out->client_id, o->client_id, sizeof(out->client_id));
    return CLB_OK;
}

size_t clb_matcher_open_orders(const struct clb_matcher *m, uint32_t account, uint32_t market,
                               uint64_t *ids, size_t cap)
{
    size_t n = 0;
    if (!m)
        return 0;
    for (uint32_t mi = 0; mi < m->n_markets; mi++) {
        if (market != CLB_MATCHER_ANY && mi != market)
            continue;
        for (int side = 0; side < 2; side++) {
            const struct mx_side *s = &m->markets[mi].side[side];
            for (uint32_t i = s->n; i-- > 0;) {
                for (uint32_t h = s->lv[i].head; h != NIL; h = m->orders[h].next) {
                    if (account != CLB_MATCHER_ANY && m->orders[h].account != account)
                        continue;
                    if (ids && n < cap)
                        ids[n] = m->orders[h].id;
                    n++;
                }
            }
        }
    }
    return n;
}

size_t clb_matcher_depth(const struct clb_matcher *m, uint32_t market, enum clb_side side,
                         struct clb_level *out, size_t n)
{
    if (!m || market >= m->n_markets || (unsigned)side > CLB_SIDE_SELL)
        return 0;
    const struct mx_side *s = &m->markets[market].side[side];
    size_t k = 0;
    for (uint32_t i = s->n; i-- > 0 && k < n;)
        out[k++] = (struct clb_level){ s->lv[i].price, s->lv[i].qty };
    return k;
}

/* ------------------------------------------------------------------------ */
/* External liquidity                                                        */

int clb_matcher_attach_book(struct clb_matcher *m, uint32_t market,
                            const struct clb_order_book *book)
{
    if (!m || market >= m->n_markets)
        return CLB_EINVAL;
    if (m->busy)
        return CLB_ESTATE;
    struct clb_mx_market *mk = &m->markets[market];
    mk->book = book;
    mk->book_synced = false;
    for (int side = 0; side < 2; side++) {
        struct mx_side *s = &mk->side[side];
        s->n_cross = 0;
        for (uint32_t i = 0; i < s->n; i++) {
            struct mx_level *L = &s->lv[i];
            L->ext_qty = book ? ext_qty_at(book, side, L->price) : 0;
            L->traded = 0;
            for (uint32_t h = L->head; h != NIL; h = m->orders[h].next)
                m->orders[h].ahead = (double)L->ext_qty;
        }
    }
    return CLB_OK;
}

int clb_matcher_set_queue_power(struct clb_matcher *m, uint32_t market, double n)
{
    if (!m || market >= m->n_markets || !(n >= 0.0) || !isfinite(n))
        return CLB_EINVAL;
    m->markets[market].power = n;
    return CLB_OK;
}

/* The part of on_book_level past the early exit: crossing memory, then
 * the queue of our level at that price, if any. */
MX_NOINLINE static void book_level_change(struct clb_matcher *m, struct clb_mx_market *mk,
                                          int side, int64_t price, int64_t new_qty)
{
    struct mx_side *s = &mk->side[side];
    if (s->n_cross)
        cross_level_update(s, price, new_qty);
    uint32_t n = s->n;
    if (n == 0)
        return;
    int64_t k = key_of(side, price);
    if (k < key_of(side, s->lv[0].price) || k > key_of(side, s->lv[n - 1].price))
        return;
    struct mx_level *L = find_level(s, side, price);
    if (L && L->ext_qty != new_qty)
        level_ext_change(m, mk, L, new_qty);
}

int clb_matcher_on_book_level(struct clb_matcher *m, uint32_t market, enum clb_side side,
                              int64_t price, int64_t new_qty, int64_t now_ns)
{
    (void)now_ns;
    if (!m || market >= m->n_markets || (unsigned)side > CLB_SIDE_SELL || price <= 0 ||
        new_qty < 0)
        return CLB_EINVAL;
    if (m->busy)
        return CLB_ESTATE;
    struct clb_mx_market *mk = &m->markets[market];
    const struct mx_side *s = &mk->side[side];
    mk->book_changes++; /* one more book change we were told of */
    /* The usual case, kept a leaf: no crossing memory on this side and the
     * price outside [our worst, our best] there (worst at lv[0]). */
    if (s->n_cross == 0) {
        uint32_t n = s->n;
        if (n == 0)
            return CLB_OK;
        int64_t k = key_of(side, price);
        if (k < key_of(side, s->lv[0].price) || k > key_of(side, s->lv[n - 1].price))
            return CLB_OK;
    }
    book_level_change(m, mk, side, price, new_qty);
    return CLB_OK;
}

/* Queue fill of our level L at the trade price for a trade of qty. */
static void queue_fill(struct clb_matcher *m, struct clb_mx_market *mk, struct mx_level *L,
                       int64_t qty, int64_t now_ns)
{
    double Q = (double)qty;
    double own_ahead = 0.0;   /* our earlier orders' remaining before the trade */
    double fills_ahead = 0.0; /* what they got from it */
    double floor_ahead = 0.0;
    uint32_t h = L->head;
    while (h != NIL) {
        struct clb_mx_order *o = &m->orders[h];
        h = o->next; /* o may be removed below, and L with it */
        double E = o->ahead > floor_ahead ? o->ahead : floor_ahead;
        floor_ahead = E;
        double P = E + own_ahead;
        int64_t r = o->remaining, q = 0;
        if (Q > P) {
            double x = Q - P;
            q = x >= (double)r ? r : floor_step((int64_t)x, mk->def.step);
        }
        double ne = Q >= P ? 0.0 : E - (Q - fills_ahead);
        o->ahead = ne > 0.0 ? ne : 0.0;
        own_ahead += (double)r;
        fills_ahead += (double)q;
        if (q > 0)
            fill_external(m, mk, o, o->price, q, true, now_ns);
    }
}

int clb_matcher_on_trade(struct clb_matcher *m, uint32_t market, int64_t price, int64_t qty,
                         enum clb_side taker_side, int64_t now_ns)
{
    if (!m || market >= m->n_markets || (unsigned)taker_side > CLB_SIDE_SELL || price <= 0 ||
        qty <= 0)
        return CLB_EINVAL;
    if (m->busy)
        return CLB_ESTATE;
    struct clb_mx_market *mk = &m->markets[market];
    int ours = !taker_side;
    struct mx_side *s = &mk->side[ours];
    /* Traded through: our orders strictly better than the trade price. */
    while (s->n && better(ours, s->lv[s->n - 1].price, price)) {
        struct clb_mx_order *o = &m->orders[s->lv[s->n - 1].head];
        if (fill_external(m, mk, o, o->price, o->remaining, true, now_ns) != CLB_OK)
            order_finish(m, o, CLB_EXEC_EXPIRED, true, now_ns); /* ledger refused: drop it */
    }
    struct mx_level *L = s->n ? &s->lv[s->n - 1] : NULL;
    if (L && L->price == price) {
        L->traded = sat_add(L->traded, qty);
        queue_fill(m, mk, L, qty, now_ns);
    } else {
        L = find_level(s, ours, price);
        if (L)
            L->traded = sat_add(L->traded, qty);
    }
    return CLB_OK;
}

/* Crossing check for our side `ours` against the external opposite side. */
static void sync_cross(struct clb_matcher *m, struct clb_mx_market *mk, int ours, int64_t now_ns)
{
    int ext = !ours;
    struct mx_side *s = &mk->side[ours];
    struct mx_side *es = &mk->side[ext]; /* memory of used external levels */
    const struct clb_order_book *b = mk->book;
    const struct clb_level *E = clb_book_level(b, (enum clb_side)ext, 0);
    if (!s->n || !E || !crosses(ours, s->lv[s->n - 1].price, E->price)) {
        es->n_cross = 0;
        return;
    }
    uint32_t ei = 0;
    while (s->n && (E = clb_book_level(b, (enum clb_side)ext, ei)) != NULL) {
        struct mx_level *L = &s->lv[s->n - 1];
        if (!crosses(ours, L->price, E->price))
            break;
        int64_t avail = ext_avail(mk, ext, E);
        if (avail <= 0) {
            ei++;
            continue;
        }
        struct clb_mx_order *o = &m->orders[L->head];
        int64_t q = o->remaining < avail ? o->remaining : avail;
        int64_t eprice = E->price, eqty = E->qty;
        if (fill_external(m, mk, o, o->price, q, true, now_ns) != CLB_OK) {
            order_finish(m, o, CLB_EXEC_EXPIRED, true, now_ns);
            continue;
        }
        cross_add(es, eprice, eqty, q);
        if (q == avail)
            ei++;
    }
}

int clb_matcher_sync_book(struct clb_matcher *m, uint32_t market, int64_t now_ns)
{
    if (!m || market >= m->n_markets)
        return CLB_EINVAL;
    struct clb_mx_market *mk = &m->markets[market];
    if (m->busy || !mk->book)
        return CLB_ESTATE;
    const struct clb_order_book *b = mk->book;
    /* Step 1 looks every level of ours up in the book. It can be skipped
     * when the book changed only through set_level calls each reported to
     * on_book_level (which keeps our levels and the crossing memory up to
     * date): as many changes as reports since the last sync, and none of
     * the implicit ones a set_level may add (crossed levels removed, a
     * level dropped or evicted). Then every lookup would find the quantity
     * we hold already, and step 1 would change nothing. */
    bool clean = mk->book_synced && b->changes == mk->book_changes &&
                 b->dropped_levels == mk->book_dropped &&
                 b->crossed_levels_removed == mk->book_crossed;
    for (int side = 0; side < 2 && !clean; side++) {
        struct mx_side *s = &mk->side[side];
        for (uint32_t i = 0; i < s->n; i++) {
            int64_t q = ext_qty_at(b, side, s->lv[i].price);
            if (q != s->lv[i].ext_qty)
                level_ext_change(m, mk, &s->lv[i], q);
        }
        for (uint32_t i = s->n_cross; i-- > 0;)
            cross_level_update(s, s->cross[i].price, ext_qty_at(b, side, s->cross[i].price));
    }
    mk->book_synced = true;
    mk->book_changes = b->changes;
    mk->book_dropped = b->dropped_levels;
    mk->book_crossed = b->crossed_levels_removed;
    /* Step 2, in O(1) when nothing crosses (the usual case): our best bid
     * below the book's best ask and our best ask above its best bid. Then
     * sync_cross would only forget the crossing memory. */
    const struct mx_side *sb = &mk->side[BUY], *sa = &mk->side[SELL];
    if (sb->n && b->asks.n && sb->lv[sb->n - 1].price >= b->asks.lv[b->asks.n - 1].price)
        sync_cross(m, mk, BUY, now_ns);
    else
        mk->side[SELL].n_cross = 0;
    if (sa->n && b->bids.n && sa->lv[sa->n - 1].price <= b->bids.lv[b->bids.n - 1].price)
        sync_cross(m, mk, SELL, now_ns);
    else
        mk->side[BUY].n_cross = 0;
    return CLB_OK;
}

/* ------------------------------------------------------------------------ */

const char *clb_reject_reason_name(enum clb_reject_reason r)
{
    static const char *const names[] = {
        [CLB_REJECT_NONE] = "NONE",
        [CLB_REJECT_UNKNOWN_MARKET] = "UNKNOWN_MARKET",
        [CLB_REJECT_UNKNOWN_ACCOUNT] = "UNKNOWN_ACCOUNT",
        [CLB_REJECT_BAD_TYPE] = "BAD_TYPE",
        [CLB_REJECT_BAD_CLIENT_ID] = "BAD_CLIENT_ID",
        [CLB_REJECT_QTY] = "QTY",
        [CLB_REJECT_STEP] = "STEP",
        [CLB_REJECT_MIN_QTY] = "MIN_QTY",
        [CLB_REJECT_MAX_QTY] = "MAX_QTY",
        [CLB_REJECT_PRICE] = "PRICE",
        [CLB_REJECT_TICK] = "TICK",
        [CLB_REJECT_OVERFLOW] = "OVERFLOW",
        [CLB_REJECT_MIN_NOTIONAL] = "MIN_NOTIONAL",
        [CLB_REJECT_WOULD_TAKE] = "WOULD_TAKE",
        [CLB_REJECT_CAPACITY] = "CAPACITY",
        [CLB_REJECT_INSUFFICIENT_BALANCE] = "INSUFFICIENT_BALANCE",
    };
    return (unsigned)r < CLB_REJECT_COUNT_ ? names[r] : "UNKNOWN";
}

const char *clb_exec_status_name(enum clb_exec_status s)
{
    static const char *const names[] = { "NEW", "PARTIALLY_FILLED", "FILLED",
                                         "CANCELED", "REJECTED", "EXPIRED" };
    return (unsigned)s <= CLB_EXEC_EXPIRED ? names[s] : "UNKNOWN";
}
