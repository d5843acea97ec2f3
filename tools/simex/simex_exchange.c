/*
 * simex_exchange.c — the simulated exchange: one ledger and one matching
 * engine (core/matching.h, L3 with accounts) holding every order, user and
 * background alike.
 *
 * Background participants. Per symbol a synthetic market (core/synth.h)
 * produces level changes and trades at their timestamps. A "maker" account
 * mirrors the synthetic book with real resting orders: each level change
 * sets the level's target quantity; at the end of each synthetic message the
 * touched levels are reconciled — decreases first (the newest participant
 * orders at the level are cancelled, the last one re-placed smaller), then
 * increases (a new order joins the back of the queue). A "taker" account
 * turns each synthetic trade into an IOC limit order at the trade's price
 * for its quantity, so it takes whatever rests at or better than that price
 * first — user orders included. User orders therefore fill when the market
 * trades through their queue position or moves through their price.
 *
 * Reports. The engine's listener (synchronous, inside submit/cancel) keeps
 * the participants' order lists, the users' order and fill history, marks
 * touched price levels for the depth streams (each mark is one update id),
 * prints trades to the trade stream and user events to the user-data
 * stream. Balances changed by an operation go out as one
 * outboundAccountPosition per user after it (sx_after_op), with bookTicker.
 *
 * History. User orders live in a pool of cfg.max_orders records with an id
 * hash; finished orders are evicted oldest first when the pool is full
 * (live ones never are). User fills go to a ring of cfg.max_trades.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "simex_internal.h"

#define PART_BIG_BASE INT64_C(1000000000000000000) /* participant funds, asset units */
#define ADVANCE_BUDGET 50000                      /* synthetic records per timer call */

int64_t sx_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t sx_now_ms(const struct clb_simex *s)
{
    return sx_wall_ns() / 1000000 + s->faults.clock_skew_ms;
}

static int64_t now_ns(const struct clb_simex *s)
{
    return sx_now_ms(s) * 1000000;
}

const char *sx_status_name(int st)
{
    static const char *n[] = { "NEW", "PARTIALLY_FILLED", "FILLED", "CANCELED", "REJECTED",
                               "EXPIRED" };
    return st >= 0 && st < 6 ? n[st] : "NEW";
}

const char *sx_type_name(int t)
{
    return t == CLB_ORDER_MARKET ? "MARKET" : t == CLB_ORDER_LIMIT_MAKER ? "LIMIT_MAKER" : "LIMIT";
}

const char *sx_tif_name(int type, int t)
{
    if (type == CLB_ORDER_MARKET)
        return "GTC"; /* what Binance prints for MARKET orders */
    return t == CLB_TIF_IOC ? "IOC" : t == CLB_TIF_FOK ? "FOK" : "GTC";
}

const char *sx_side_name(int s)
{
    return s == CLB_SIDE_SELL ? "SELL" : "BUY";
}

void sx_gen_client_id(struct clb_simex *s, char out[CLB_CLIENT_ID_MAX])
{
    static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (int i = 0; i < 22; i++)
        out[i] = al[clb_rng_below(&s->id_rng, 62)];
    out[22] = '\0';
}

int sx_market_find(const struct clb_simex *s, const char *symbol)
{
    for (uint32_t i = 0; i < s->n_markets; i++)
        if (strcmp(s->markets[i].symbol, symbol) == 0)
            return (int)i;
    return -1;
}

int sx_user_find(const struct clb_simex *s, const char *api_key)
{
    for (uint32_t i = 0; i < s->n_users; i++)
        if (strcmp(s->users[i].acct.api_key, api_key) == 0)
            return (int)i;
    return -1;
}

static bool is_user(const struct clb_simex *s, uint32_t acct)
{
    return acct >= s->first_user_acct && acct < s->first_user_acct + s->n_users;
}

/* ------------------------------------------------------------------------ */
/* Order history: pool, id hash, finished list                               */

static uint32_t oh_hash(uint64_t id)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(x >> 32);
}

static uint32_t oh_find(const struct clb_simex *s, uint64_t id)
{
    for (uint32_t i = oh_hash(id) & s->oh_mask;; i = (i + 1) & s->oh_mask) {
        if (s->oh_ids[i] == 0)
            return SX_NIL;
        if (s->oh_ids[i] == id)
            return s->oh_slots[i];
    }
}

static void oh_insert(struct clb_simex *s, uint64_t id, uint32_t slot)
{
    uint32_t i = oh_hash(id) & s->oh_mask;
    while (s->oh_ids[i] != 0)
        i = (i + 1) & s->oh_mask;
    s->oh_ids[i] = id;
    s->oh_slots[i] = slot;
}

static void oh_remove(struct clb_simex *s, uint64_t id)
{
    uint32_t i = oh_hash(id) & s->oh_mask;
    while (s->oh_ids[i] != id) {
        if (s->oh_ids[i] == 0)
            return;
        i = (i + 1) & s->oh_mask;
    }
    /* backward-shift deletion */
    uint32_t j = i;
    for (;;) {
        j = (j + 1) & s->oh_mask;
        if (s->oh_ids[j] == 0)
            break;
        uint32_t home = oh_hash(s->oh_ids[j]) & s->oh_mask;
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (between)
            continue;
        s->oh_ids[i] = s->oh_ids[j];
        s->oh_slots[i] = s->oh_slots[j];
        i = j;
    }
    s->oh_ids[i] = 0;
}

static void fin_unlink(struct clb_simex *s, uint32_t slot)
{
    struct sx_order *o = &s->orders[slot];
    if (o->older != SX_NIL)
        s->orders[o->older].newer = o->newer;
    else
        s->fin_oldest = o->newer;
    if (o->newer != SX_NIL)
        s->orders[o->newer].older = o->older;
    else
        s->fin_newest = o->older;
    o->older = o->newer = SX_NIL;
}

static void fin_append(struct clb_simex *s, uint32_t slot)
{
    struct sx_order *o = &s->orders[slot];
    o->newer = SX_NIL;
    o->older = s->fin_newest;
    if (s->fin_newest != SX_NIL)
        s->orders[s->fin_newest].newer = slot;
    else
        s->fin_oldest = slot;
    s->fin_newest = slot;
}

static bool order_slot_available(const struct clb_simex *s)
{
    return s->free_head != SX_NIL || s->fin_oldest != SX_NIL;
}

static uint32_t order_alloc(struct clb_simex *s)
{
    uint32_t slot = s->free_head;
    if (slot != SX_NIL) {
        s->free_head = s->orders[slot].newer;
    } else {
        slot = s->fin_oldest;
        if (slot == SX_NIL)
            return SX_NIL;
        fin_unlink(s, slot);
        oh_remove(s, s->orders[slot].id);
    }
    memset(&s->orders[slot], 0, sizeof(s->orders[slot]));
    s->orders[slot].older = s->orders[slot].newer = SX_NIL;
    return slot;
}

struct sx_order *sx_order_get(struct clb_simex *s, uint64_t id)
{
    uint32_t slot = oh_find(s, id);
    return slot == SX_NIL ? NULL : &s->orders[slot];
}

struct sx_order *sx_order_by_client_id(struct clb_simex *s, uint32_t user, uint32_t market,
                                       const char *client_id)
{
    struct sx_order *best = NULL;
    for (uint32_t i = 0; i < s->orders_cap; i++) {
        struct sx_order *o = &s->orders[i];
        if (o->id && o->user == user && o->market == market &&
            strcmp(o->client_id, client_id) == 0 && (!best || o->id > best->id))
            best = o;
    }
    return best;
}

static int cmp_order_ptr(const void *a, const void *b)
{
    uint64_t x = (*(struct sx_order *const *)a)->id, y = (*(struct sx_order *const *)b)->id;
    return (x > y) - (x < y);
}

uint32_t sx_open_orders(struct clb_simex *s, uint32_t user, uint32_t market,
                        struct sx_order **out, uint32_t cap)
{
    static const uint32_t CHUNK = 4096;
    uint64_t ids[4096];
    size_t n = clb_matcher_open_orders(&s->mx, s->users[user].ledger,
                                       market == SX_NIL ? CLB_MATCHER_ANY : market, ids, CHUNK);
    if (n > CHUNK)
        n = CHUNK;
    uint32_t k = 0;
    for (size_t i = 0; i < n && k < cap; i++) {
        struct sx_order *o = sx_order_get(s, ids[i]);
        if (o)
            out[k++] = o;
    }
    qsort(out, k, sizeof(out[0]), cmp_order_ptr);
    return k;
}

uint32_t sx_fills_count(const struct clb_simex *s)
{
    return s->fills_total < s->fills_cap ? (uint32_t)s->fills_total : s->fills_cap;
}

const struct sx_fill *sx_fill_at(const struct clb_simex *s, uint32_t i)
{
    uint64_t first = s->fills_total - sx_fills_count(s);
    return &s->fills[(first + i) % s->fills_cap];
}

/* ------------------------------------------------------------------------ */
/* Depth bookkeeping                                                         */

static int touch_init(struct sx_touch *t)
{
    uint32_t slots = 1;
    while (slots < 2 * SX_TOUCH_CAP)
        slots <<= 1;
    t->slots = calloc(slots, sizeof(uint64_t));
    t->list = calloc(SX_TOUCH_CAP, sizeof(uint64_t));
    t->mask = slots - 1;
    t->n = 0;
    t->overflow = false;
    t->last_u = 0;
    return t->slots && t->list ? CLB_OK : CLB_ENOMEM;
}

static void touch_free(struct sx_touch *t)
{
    free(t->slots);
    free(t->list);
    t->slots = t->list = NULL;
}

static void touch_add(struct sx_touch *t, uint64_t key)
{
    uint32_t i = oh_hash(key) & t->mask;
    while (t->slots[i] != 0) {
        if (t->slots[i] == key)
            return;
        i = (i + 1) & t->mask;
    }
    if (t->n >= SX_TOUCH_CAP) {
        t->overflow = true;
        return;
    }
    t->slots[i] = key;
    t->list[t->n++] = key;
}

static void touch_clear(struct sx_touch *t)
{
    for (uint32_t k = 0; k < t->n; k++) {
        /* every listed key is present, so the probe ends even across the
         * slots already cleared */
        uint32_t i = oh_hash(t->list[k]) & t->mask;
        while (t->slots[i] != t->list[k])
            i = (i + 1) & t->mask;
        t->slots[i] = 0;
    }
    t->n = 0;
    t->overflow = false;
}

static void mark_level(struct clb_simex *s, uint32_t market, int side, int64_t price)
{
    struct sx_market *m = &s->markets[market];
    uint64_t key = (((uint64_t)price << 1) | (uint64_t)side) + 1;
    touch_add(&m->touch[0], key);
    touch_add(&m->touch[1], key);
    m->update_id++;
}

/* Quantity at a price in a best-first side copy. */
static int64_t qty_in(const struct clb_level *lv, size_t n, int side, int64_t price)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        bool before = side == CLB_SIDE_BUY ? lv[mid].price > price : lv[mid].price < price;
        if (before)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && lv[lo].price == price ? lv[lo].qty : 0;
}

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* One depthUpdate per market with touched levels, each side best first
 * (bids by price descending, asks ascending), as Binance sends them. */
void sx_depth_emit(struct clb_simex *s, int cadence)
{
    int kind = cadence ? SX_ST_DEPTH1000 : SX_ST_DEPTH100;
    for (uint32_t mi = 0; mi < s->n_markets; mi++) {
        struct sx_market *m = &s->markets[mi];
        struct sx_touch *t = &m->touch[cadence];
        if (m->update_id == t->last_u && t->n == 0)
            continue;
        if (m->subs[kind] == 0 || m->update_id == t->last_u) {
            t->last_u = m->update_id;
            touch_clear(t);
            continue;
        }
        size_t nb = clb_matcher_depth(&s->mx, mi, CLB_SIDE_BUY, m->depth[0], SX_MATCH_LEVELS);
        size_t na = clb_matcher_depth(&s->mx, mi, CLB_SIDE_SELL, m->depth[1], SX_MATCH_LEVELS);
        uint64_t first = t->last_u + 1 + (t->overflow ? 1 : 0);
        struct sx_sb b;
        sx_sb_init(&b, 4u << 20);
        sx_sb_printf(&b, "{\"e\":\"depthUpdate\",\"E\":%" PRId64 ",\"s\":\"%s\",\"U\":%" PRIu64
                         ",\"u\":%" PRIu64 ",\"b\":[",
                     sx_now_ms(s), m->symbol, first, m->update_id);
        char pb[CLB_DEC_STRLEN], qb[CLB_DEC_STRLEN];
        int qscale = m->qty_scale;
        /* keys ascend with the price within a side */
        qsort(t->list, t->n, sizeof(t->list[0]), cmp_key);
        for (int side = 0; side < 2; side++) {
            if (side == 1)
                sx_sb_puts(&b, "],\"a\":[");
            bool firstlv = true;
            for (uint32_t j = 0; j < t->n; j++) {
                uint32_t k = side == 0 ? t->n - 1 - j : j;
                uint64_t key = t->list[k] - 1;
                if ((int)(key & 1) != side)
                    continue;
                int64_t price = (int64_t)(key >> 1);
                int64_t q = side == 0 ? qty_in(m->depth[0], nb, 0, price)
                                      : qty_in(m->depth[1], na, 1, price);
                sx_fmt_amount(price, m->price_scale, pb);
                sx_fmt_amount(q, qscale, qb);
                sx_sb_printf(&b, "%s[\"%s\",\"%s\"]", firstlv ? "" : ",", pb, qb);
                firstlv = false;
            }
        }
        sx_sb_puts(&b, "]}");
        if (!b.failed)
            sx_publish_market(s, mi, kind, b.p, b.len);
        sx_sb_free(&b);
        t->last_u = m->update_id;
        touch_clear(t);
    }
}

/* ------------------------------------------------------------------------ */
/* Participant levels                                                        */

static struct sx_plevel *pl_find(struct sx_pside *ps, int64_t price, uint32_t *pos)
{
    uint32_t lo = 0, hi = ps->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ps->lv[mid].price < price)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return lo < ps->n && ps->lv[lo].price == price ? &ps->lv[lo] : NULL;
}

static struct sx_plevel *pl_get(struct sx_pside *ps, int64_t price)
{
    uint32_t pos;
    struct sx_plevel *l = pl_find(ps, price, &pos);
    if (l)
        return l;
    if (ps->n >= ps->cap)
        return NULL;
    memmove(&ps->lv[pos + 1], &ps->lv[pos], (ps->n - pos) * sizeof(ps->lv[0]));
    ps->n++;
    l = &ps->lv[pos];
    memset(l, 0, sizeof(*l));
    l->price = price;
    return l;
}

static int64_t pl_actual(const struct sx_plevel *l)
{
    int64_t a = 0;
    for (uint32_t i = 0; i < l->n; i++)
        a += l->o[i].rem;
    return a;
}

static void pl_remove_order(struct sx_plevel *l, uint64_t id)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->o[i].id == id) {
            memmove(&l->o[i], &l->o[i + 1], (l->n - i - 1) * sizeof(l->o[0]));
            l->n--;
            return;
        }
}

static void part_order_report(struct clb_simex *s, const struct clb_order_report *o)
{
    struct sx_market *m = &s->markets[o->market];
    struct sx_plevel *l = pl_find(&m->ps[o->side], o->price, NULL);
    if (!l)
        return;
    switch (o->status) {
    case CLB_EXEC_NEW:
        if (l->n < SX_PL_ORDERS)
            l->o[l->n++] = (struct sx_porder){ o->order_id, o->remaining };
        break;
    case CLB_EXEC_PARTIALLY_FILLED:
        for (uint32_t i = 0; i < l->n; i++)
            if (l->o[i].id == o->order_id)
                l->o[i].rem = o->remaining;
        break;
    default:
        pl_remove_order(l, o->order_id);
        break;
    }
}

static int part_submit(struct clb_simex *s, uint32_t acct, uint32_t market, enum clb_side side,
                       enum clb_tif tif, int64_t price, int64_t qty)
{
    struct clb_match_request rq = { .account = acct, .market = market, .side = side,
                                    .type = CLB_ORDER_LIMIT, .tif = tif, .price = price,
                                    .qty = qty };
    enum clb_reject_reason why = CLB_REJECT_NONE;
    int rc = clb_matcher_submit(&s->mx, &rq, now_ns(s), NULL, &why);
    if (rc == CLB_EINVAL && why == CLB_REJECT_INSUFFICIENT_BALANCE) {
        /* participants have bottomless pockets */
        struct sx_market *m = &s->markets[market];
        clb_ledger_deposit(&s->ledger, acct, m->base, PART_BIG_BASE);
        clb_ledger_deposit(&s->ledger, acct, m->quote, PART_BIG_BASE);
        rc = clb_matcher_submit(&s->mx, &rq, now_ns(s), NULL, &why);
    }
    return rc;
}

/* Brings one participant level to its target. */
static void pl_reconcile(struct clb_simex *s, uint32_t market, int side, int64_t price,
                         bool decrease_pass)
{
    struct sx_market *m = &s->markets[market];
    struct sx_plevel *l = pl_find(&m->ps[side], price, NULL);
    if (!l)
        return;
    int64_t actual = pl_actual(l);
    if (decrease_pass) {
        while (actual > l->target && l->n > 0) {
            struct sx_porder last = l->o[l->n - 1];
            int64_t excess = actual - l->target;
            clb_matcher_cancel(&s->mx, s->maker_acct, last.id, now_ns(s));
            l = pl_find(&m->ps[side], price, NULL);
            if (!l)
                return;
            pl_remove_order(l, last.id); /* in case the report was missed */
            if (last.rem > excess) {
                part_submit(s, s->maker_acct, market, side, CLB_TIF_GTC, price, last.rem - excess);
                l = pl_find(&m->ps[side], price, NULL);
                if (!l)
                    return;
            }
            actual = pl_actual(l);
        }
        return;
    }
    if (actual >= l->target)
        return;
    int64_t add = l->target - actual;
    if (l->n >= SX_PL_ORDERS) {
        struct sx_porder last = l->o[l->n - 1];
        clb_matcher_cancel(&s->mx, s->maker_acct, last.id, now_ns(s));
        l = pl_find(&m->ps[side], price, NULL);
        if (!l)
            return;
        pl_remove_order(l, last.id);
        add += last.rem;
    }
    part_submit(s, s->maker_acct, market, side, CLB_TIF_GTC, price, add);
}

static void pl_reconcile_touched(struct clb_simex *s, uint32_t market)
{
    struct sx_market *m = &s->markets[market];
    for (int pass = 0; pass < 2; pass++)
        for (int side = 0; side < 2; side++) {
            /* iterate by price, since levels may shift while orders move */
            struct sx_pside *ps = &m->ps[side];
            for (uint32_t i = 0; i < ps->n; i++) {
                if (!ps->lv[i].touched)
                    continue;
                int64_t price = ps->lv[i].price;
                pl_reconcile(s, market, side, price, pass == 0);
            }
        }
    /* compact: drop finished empty levels, clear marks */
    for (int side = 0; side < 2; side++) {
        struct sx_pside *ps = &m->ps[side];
        uint32_t k = 0;
        for (uint32_t i = 0; i < ps->n; i++) {
            ps->lv[i].touched = false;
            if (ps->lv[i].target == 0 && ps->lv[i].n == 0)
                continue;
            if (k != i)
                ps->lv[k] = ps->lv[i];
            k++;
        }
        ps->n = k;
    }
    m->n_touched_pl = 0;
}

static void apply_record(struct clb_simex *s, uint32_t market, const struct clb_md_record *r)
{
    struct sx_market *m = &s->markets[market];
    if (r->flags & CLB_MD_F_RESET)
        for (int side = 0; side < 2; side++)
            for (uint32_t i = 0; i < m->ps[side].n; i++) {
                m->ps[side].lv[i].target = 0;
                m->ps[side].lv[i].touched = true;
            }
    switch (r->kind) {
    case CLB_MD_BID:
    case CLB_MD_ASK: {
        int side = r->kind == CLB_MD_BID ? CLB_SIDE_BUY : CLB_SIDE_SELL;
        struct sx_plevel *l = r->qty > 0 ? pl_get(&m->ps[side], r->price)
                                         : pl_find(&m->ps[side], r->price, NULL);
        if (l) {
            l->target = r->qty;
            l->touched = true;
            m->n_touched_pl++;
        }
        break;
    }
    case CLB_MD_TRADE_BUY:
    case CLB_MD_TRADE_SELL:
        part_submit(s, s->taker_acct, market,
                    r->kind == CLB_MD_TRADE_BUY ? CLB_SIDE_BUY : CLB_SIDE_SELL, CLB_TIF_IOC,
                    r->price, r->qty);
        break;
    default:
        break;
    }
    if (r->flags & CLB_MD_F_BATCH_END)
        pl_reconcile_touched(s, market);
}

int64_t sx_market_advance_to(struct clb_simex *s, int64_t syn_now)
{
    int64_t next_due = INT64_MAX;
    for (uint32_t i = 0; i < s->n_markets; i++) {
        struct sx_market *m = &s->markets[i];
        if (!m->live)
            continue;
        int budget = ADVANCE_BUDGET;
        while (m->next.ts_ns <= syn_now && budget-- > 0) {
            apply_record(s, i, &m->next);
            m->n_records++;
            clb_synth_next(&m->synth, &m->next);
        }
        if (m->next.ts_ns < next_due)
            next_due = m->next.ts_ns;
    }
    sx_after_op(s);
    return next_due;
}

int64_t sx_market_advance(struct clb_simex *s)
{
    if (s->market_paused)
        return 100000;
    int64_t syn_now = sx_wall_ns() - s->market_clock_offset_ns;
    int64_t next_due = sx_market_advance_to(s, syn_now);
    if (next_due == INT64_MAX)
        return 100000;
    /* whole milliseconds, at least 2: the poll() under lws waits in ms, so a
     * sub-millisecond timer would spin until it is ripe */
    int64_t ms = (next_due - syn_now + 999999) / 1000000;
    return (ms < 2 ? 2 : ms > 100 ? 100 : ms) * 1000;
}

void sx_market_pause(struct clb_simex *s, bool paused)
{
    if (paused == s->market_paused)
        return;
    if (paused) {
        s->paused_at_ns = sx_wall_ns();
    } else {
        s->market_clock_offset_ns += sx_wall_ns() - s->paused_at_ns;
    }
    s->market_paused = paused;
}

/* ------------------------------------------------------------------------ */
/* User events                                                               */

static void mark_dirty(struct clb_simex *s, uint32_t user, uint32_t market, int64_t ms)
{
    struct sx_market *m = &s->markets[market];
    s->users[user].dirty |= (UINT64_C(1) << m->base) | (UINT64_C(1) << m->quote);
    s->users[user].update_ms = ms;
}

static void exec_report(struct clb_simex *s, const struct sx_order *o, const char *x,
                        const struct sx_fill *f, const char *c_override, int64_t ts_ms)
{
    const struct sx_market *m = &s->markets[o->market];
    int qs = clb_ledger_asset_scale(&s->ledger, m->quote);
    struct sx_sb b;
    sx_sb_init(&b, 8192);
    sx_sb_printf(&b, "{\"e\":\"executionReport\",\"E\":%" PRId64 ",\"s\":\"%s\",\"c\":",
                 sx_now_ms(s), m->symbol);
    sx_sb_json_str(&b, c_override ? c_override : o->client_id);
    sx_sb_printf(&b, ",\"S\":\"%s\",\"o\":\"%s\",\"f\":\"%s\",\"q\":", sx_side_name(o->side),
                 sx_type_name(o->type), sx_tif_name(o->type, o->tif));
    sx_sb_amount(&b, o->qty, m->qty_scale);
    sx_sb_puts(&b, ",\"p\":");
    sx_sb_amount(&b, o->type == CLB_ORDER_MARKET ? 0 : o->price, m->price_scale);
    sx_sb_puts(&b, ",\"P\":\"0.00000000\",\"F\":\"0.00000000\",\"g\":-1,\"C\":");
    sx_sb_json_str(&b, c_override ? o->client_id : "");
    sx_sb_printf(&b, ",\"x\":\"%s\",\"X\":\"%s\",\"r\":\"NONE\",\"i\":%" PRIu64 ",\"l\":", x,
                 sx_status_name(o->status), o->id);
    sx_sb_amount(&b, f ? f->qty : 0, m->qty_scale);
    sx_sb_puts(&b, ",\"z\":");
    sx_sb_amount(&b, o->executed, m->qty_scale);
    sx_sb_puts(&b, ",\"L\":");
    sx_sb_amount(&b, f ? f->price : 0, m->price_scale);
    sx_sb_puts(&b, ",\"n\":");
    if (f) {
        sx_sb_amount(&b, f->fee, clb_ledger_asset_scale(&s->ledger, f->fee_asset));
        sx_sb_puts(&b, ",\"N\":");
        sx_sb_json_str(&b, s->ledger.assets[f->fee_asset].name);
    } else {
        sx_sb_puts(&b, "\"0\",\"N\":null");
    }
    bool working = o->live && o->type != CLB_ORDER_MARKET && o->tif == CLB_TIF_GTC;
    sx_sb_printf(&b, ",\"T\":%" PRId64 ",\"t\":%" PRId64 ",\"I\":%" PRIu64
                     ",\"w\":%s,\"m\":%s,\"M\":false,\"O\":%" PRId64 ",\"Z\":",
                 ts_ms, f ? (int64_t)f->trade_id : -1, ++s->exec_event_seq,
                 working ? "true" : "false", f && f->maker ? "true" : "false", o->time_ms);
    sx_sb_amount(&b, o->cum_quote, qs);
    sx_sb_puts(&b, ",\"Y\":");
    sx_sb_amount(&b, f ? f->quote : 0, qs);
    sx_sb_puts(&b, ",\"Q\":\"0.00000000\"");
    if (working)
        sx_sb_printf(&b, ",\"W\":%" PRId64, o->working_ms ? o->working_ms : o->time_ms);
    sx_sb_puts(&b, ",\"V\":\"EXPIRE_MAKER\"}");
    if (!b.failed)
        sx_publish_user(s, o->user, b.p, b.len);
    sx_sb_free(&b);
}

static void user_order_report(struct clb_simex *s, const struct clb_order_report *r)
{
    uint32_t user = r->account - s->first_user_acct;
    int64_t ts_ms = r->ts_ns / 1000000;
    mark_dirty(s, user, r->market, ts_ms);
    if (r->status == CLB_EXEC_REJECTED)
        return;
    struct sx_order *o;
    if (r->status == CLB_EXEC_NEW) {
        uint32_t slot = order_alloc(s);
        if (slot == SX_NIL)
            return; /* cannot happen: place() checked for room */
        o = &s->orders[slot];
        o->id = r->order_id;
        o->user = user;
        o->market = r->market;
        snprintf(o->client_id, sizeof(o->client_id), "%s", r->client_id ? r->client_id : "");
        o->side = (uint8_t)r->side;
        o->type = (uint8_t)r->type;
        o->tif = (uint8_t)r->tif;
        o->status = CLB_EXEC_NEW;
        o->live = true;
        o->price = r->price;
        o->qty = r->qty;
        o->time_ms = o->update_ms = o->working_ms = ts_ms;
        oh_insert(s, o->id, slot);
        if (s->capturing && s->cap_order == 0)
            s->cap_order = o->id;
        exec_report(s, o, "NEW", NULL, NULL, ts_ms);
        return;
    }
    o = sx_order_get(s, r->order_id);
    if (!o)
        return;
    uint8_t before = o->status;
    o->status = (uint8_t)r->status;
    o->executed = r->filled_qty;
    o->cum_quote = r->filled_quote;
    o->prev_update_ms = o->update_ms;
    o->update_ms = ts_ms;
    bool finished = r->status == CLB_EXEC_FILLED || r->status == CLB_EXEC_CANCELED ||
                    r->status == CLB_EXEC_EXPIRED;
    if (finished && o->live) {
        o->live = false;
        fin_append(s, (uint32_t)(o - s->orders));
    }
    switch (r->status) {
    case CLB_EXEC_PARTIALLY_FILLED:
    case CLB_EXEC_FILLED: {
        const struct sx_fill *f = s->has_pending_fill && s->pending_fill.order_id == o->id
                                      ? &s->pending_fill
                                      : NULL;
        exec_report(s, o, "TRADE", f, NULL, ts_ms);
        s->has_pending_fill = false;
        break;
    }
    case CLB_EXEC_CANCELED:
        o->prev_status = before;
        o->cancel_ms = ts_ms;
        exec_report(s, o, "CANCELED", NULL, s->cancel_cid, ts_ms);
        break;
    case CLB_EXEC_EXPIRED:
        o->prev_status = before;
        o->cancel_ms = ts_ms;
        exec_report(s, o, "EXPIRED", NULL, NULL, ts_ms);
        break;
    default:
        break;
    }
}

static void on_order(void *ud, const struct clb_order_report *r)
{
    struct clb_simex *s = ud;
    if (r->type != CLB_ORDER_MARKET && r->price > 0 && r->status != CLB_EXEC_REJECTED)
        mark_level(s, r->market, r->side, r->price);
    if (r->account == s->maker_acct)
        part_order_report(s, r);
    else if (is_user(s, r->account))
        user_order_report(s, r);
}

static void trade_event(struct clb_simex *s, const struct clb_fill_report *f)
{
    struct sx_market *m = &s->markets[f->market];
    if (m->subs[SX_ST_TRADE] == 0)
        return;
    char pb[CLB_DEC_STRLEN], qb[CLB_DEC_STRLEN], buf[512];
    sx_fmt_amount(f->price, m->price_scale, pb);
    sx_fmt_amount(f->qty, m->qty_scale, qb);
    int n = snprintf(buf, sizeof(buf),
                     "{\"e\":\"trade\",\"E\":%" PRId64 ",\"s\":\"%s\",\"t\":%" PRIu64
                     ",\"p\":\"%s\",\"q\":\"%s\",\"T\":%" PRId64 ",\"m\":%s,\"M\":true}",
                     sx_now_ms(s), m->symbol, f->trade_id, pb, qb, f->ts_ns / 1000000,
                     f->side == CLB_SIDE_SELL ? "true" : "false");
    if (n > 0 && (size_t)n < sizeof(buf))
        sx_publish_market(s, f->market, SX_ST_TRADE, buf, (size_t)n);
}

static void on_fill(void *ud, const struct clb_fill_report *f)
{
    struct clb_simex *s = ud;
    if (f->is_maker) {
        mark_level(s, f->market, f->side, f->price);
    } else {
        s->markets[f->market].last_price = f->price;
        trade_event(s, f);
    }
    if (!is_user(s, f->account))
        return;
    uint32_t user = f->account - s->first_user_acct;
    struct sx_fill x = { .trade_id = f->trade_id, .order_id = f->order_id, .user = user,
                         .market = f->market, .side = (uint8_t)f->side, .maker = f->is_maker,
                         .price = f->price, .qty = f->qty, .quote = f->quote_qty,
                         .fee = f->fee, .fee_asset = f->fee_asset,
                         .time_ms = f->ts_ns / 1000000 };
    s->fills[s->fills_total % s->fills_cap] = x;
    s->fills_total++;
    s->pending_fill = x;
    s->has_pending_fill = true;
    if (s->capturing && f->order_id == s->cap_order && s->n_cap < SX_CAPTURE_MAX)
        s->cap[s->n_cap++] = x;
    mark_dirty(s, user, f->market, x.time_ms);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */

int sx_order_place(struct clb_simex *s, const struct sx_place *p, uint64_t *order_id,
                   enum clb_reject_reason *reason)
{
    if (!order_slot_available(s)) {
        *reason = CLB_REJECT_CAPACITY;
        return CLB_EINVAL;
    }
    struct clb_match_request rq = { .account = s->users[p->user].ledger, .market = p->market,
                                    .side = p->side, .type = p->type, .tif = p->tif,
                                    .price = p->price, .qty = p->qty, .client_id = p->client_id };
    s->capturing = true;
    s->cap_order = 0;
    s->n_cap = 0;
    s->has_pending_fill = false;
    int rc = clb_matcher_submit(&s->mx, &rq, now_ns(s), order_id, reason);
    s->capturing = false;
    return rc;
}

int sx_order_cancel(struct clb_simex *s, uint32_t user, uint64_t order_id, const char *cancel_cid)
{
    s->cancel_cid = cancel_cid;
    int rc = clb_matcher_cancel(&s->mx, s->users[user].ledger, order_id, now_ns(s));
    s->cancel_cid = NULL;
    return rc;
}

void sx_after_op(struct clb_simex *s)
{
    int64_t now = sx_now_ms(s);
    for (uint32_t u = 0; u < s->n_users; u++) {
        struct sx_user *us = &s->users[u];
        if (!us->dirty)
            continue;
        struct sx_sb b;
        sx_sb_init(&b, 8192);
        sx_sb_printf(&b,
                     "{\"e\":\"outboundAccountPosition\",\"E\":%" PRId64 ",\"u\":%" PRId64
                     ",\"B\":[",
                     now, us->update_ms);
        bool first = true;
        for (uint32_t a = 0; a < s->ledger.n_assets && a < 64; a++) {
            if (!(us->dirty & (UINT64_C(1) << a)))
                continue;
            int sc = clb_ledger_asset_scale(&s->ledger, a);
            sx_sb_printf(&b, "%s{\"a\":", first ? "" : ",");
            sx_sb_json_str(&b, s->ledger.assets[a].name);
            sx_sb_puts(&b, ",\"f\":");
            sx_sb_amount(&b, clb_ledger_available(&s->ledger, us->ledger, a), sc);
            sx_sb_puts(&b, ",\"l\":");
            sx_sb_amount(&b, clb_ledger_locked(&s->ledger, us->ledger, a), sc);
            sx_sb_puts(&b, "}");
            first = false;
        }
        sx_sb_puts(&b, "]}");
        if (!b.failed)
            sx_publish_user(s, u, b.p, b.len);
        sx_sb_free(&b);
        us->dirty = 0;
    }
    for (uint32_t mi = 0; mi < s->n_markets; mi++) {
        struct sx_market *m = &s->markets[mi];
        struct clb_level bid = { 0, 0 }, ask = { 0, 0 };
        clb_matcher_depth(&s->mx, mi, CLB_SIDE_BUY, &bid, 1);
        clb_matcher_depth(&s->mx, mi, CLB_SIDE_SELL, &ask, 1);
        if (bid.price == m->bt_bid.price && bid.qty == m->bt_bid.qty &&
            ask.price == m->bt_ask.price && ask.qty == m->bt_ask.qty)
            continue;
        m->bt_bid = bid;
        m->bt_ask = ask;
        if (m->subs[SX_ST_BOOKTICKER] == 0)
            continue;
        char bp[CLB_DEC_STRLEN], bq[CLB_DEC_STRLEN], ap[CLB_DEC_STRLEN], aq[CLB_DEC_STRLEN];
        char buf[512];
        sx_fmt_amount(bid.price, m->price_scale, bp);
        sx_fmt_amount(bid.qty, m->qty_scale, bq);
        sx_fmt_amount(ask.price, m->price_scale, ap);
        sx_fmt_amount(ask.qty, m->qty_scale, aq);
        int n = snprintf(buf, sizeof(buf),
                         "{\"u\":%" PRIu64 ",\"s\":\"%s\",\"b\":\"%s\",\"B\":\"%s\",\"a\":\"%s\","
                         "\"A\":\"%s\"}",
                         m->update_id, m->symbol, bp, bq, ap, aq);
        if (n > 0 && (size_t)n < sizeof(buf))
            sx_publish_market(s, mi, SX_ST_BOOKTICKER, buf, (size_t)n);
    }
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

static int asset_id(struct clb_simex *s, const char *name, uint32_t *id)
{
    return clb_ledger_find_asset(&s->ledger, name, id);
}

static int scaled(clb_dec d, int scale, int64_t *out)
{
    return clb_dec_to_scaled(d, scale, out);
}

static int market_init(struct clb_simex *s, uint32_t i, char *err, size_t errlen)
{
    const struct clb_simex_symbol *y = &s->cfg.symbols[i];
    struct sx_market *m = &s->markets[i];
    memset(m, 0, sizeof(*m));
    snprintf(m->symbol, sizeof(m->symbol), "%s", y->symbol);
    for (size_t k = 0; k < sizeof(m->lower) && y->symbol[k]; k++)
        m->lower[k] = (char)(y->symbol[k] >= 'A' && y->symbol[k] <= 'Z' ? y->symbol[k] + 32
                                                                        : y->symbol[k]);
    if (asset_id(s, y->base, &m->base) != CLB_OK || asset_id(s, y->quote, &m->quote) != CLB_OK)
        return errf(err, errlen, CLB_EINVAL, "%s: unknown asset", y->symbol);
    if (y->tick_size.m <= 0 || y->step_size.m <= 0)
        return errf(err, errlen, CLB_EINVAL, "%s: tick_size and step_size must be > 0",
                    y->symbol);
    m->price_scale = sx_dec_digits(y->tick_size);
    m->qty_scale = sx_dec_digits(y->step_size);
    int ns = m->price_scale + m->qty_scale;
    if (ns > 18 || scaled(y->tick_size, m->price_scale, &m->tick) ||
        scaled(y->min_price, m->price_scale, &m->min_price) ||
        scaled(y->max_price, m->price_scale, &m->max_price) ||
        scaled(y->step_size, m->qty_scale, &m->step) ||
        scaled(y->min_qty, m->qty_scale, &m->min_qty) ||
        scaled(y->max_qty, m->qty_scale, &m->max_qty) ||
        scaled(y->min_notional, ns, &m->min_notional) ||
        scaled(y->max_notional, ns, &m->max_notional))
        return errf(err, errlen, CLB_EINVAL,
                    "%s: a price rule has more digits than tick_size, a quantity rule more than "
                    "step_size, or a value is too large",
                    y->symbol);
    struct clb_matcher_market mm = { 0 };
    snprintf(mm.symbol, sizeof(mm.symbol), "%s", y->symbol);
    mm.base_asset = m->base;
    mm.quote_asset = m->quote;
    mm.price_scale = m->price_scale;
    mm.qty_scale = m->qty_scale;
    mm.tick = m->tick;
    mm.step = m->step;
    mm.min_qty = m->min_qty;
    mm.max_qty = m->max_qty;
    mm.min_notional = m->min_notional;
    uint32_t id;
    int rc = clb_matcher_add_market(&s->mx, &mm, &id);
    if (rc != CLB_OK || id != i)
        return errf(err, errlen, CLB_EINVAL, "%s: the matching engine refused the market",
                    y->symbol);
    for (int c = 0; c < 2; c++)
        if (touch_init(&m->touch[c]) != CLB_OK)
            return errf(err, errlen, CLB_ENOMEM, "%s: out of memory", y->symbol);
    for (int side = 0; side < 2; side++) {
        m->depth[side] = calloc(SX_MATCH_LEVELS, sizeof(struct clb_level));
        if (!m->depth[side])
            return errf(err, errlen, CLB_ENOMEM, "%s: out of memory", y->symbol);
    }
    m->live = y->live;
    if (!m->live)
        return CLB_OK;
    struct clb_synth_params p = y->market;
    p.price_scale = m->price_scale;
    p.qty_scale = m->qty_scale;
    p.tick = m->tick;
    p.step = m->step;
    clb_dec q;
    int64_t start;
    if (clb_dec_quantize(y->start_price, y->tick_size, CLB_ROUND_NEAREST, &q) != CLB_OK ||
        scaled(q, m->price_scale, &start) != CLB_OK || start <= 0)
        return errf(err, errlen, CLB_EINVAL, "%s: bad start_price", y->symbol);
    p.start_price = start;
    p.start_ts_ns = sx_wall_ns() - s->market_clock_offset_ns;
    p.depth_top = clb_dec_to_double(y->depth_top) / clb_dec_to_double(y->step_size);
    p.trade_size_mean = clb_dec_to_double(y->trade_size) / clb_dec_to_double(y->step_size);
    p.snapshot_interval_ns = 0;
    if (clb_synth_params_check(&p) != CLB_OK)
        return errf(err, errlen, CLB_EINVAL, "%s: bad market parameters", y->symbol);
    uint64_t x = s->seed ^ (0x5eedull * (i + 1));
    m->synth_seed = clb_splitmix64(&x);
    if (clb_synth_init(&m->synth, &p, m->synth_seed) != CLB_OK)
        return errf(err, errlen, CLB_ENOMEM, "%s: cannot start the market", y->symbol);
    m->synth_ok = true;
    for (int side = 0; side < 2; side++) {
        m->ps[side].cap = 2 * p.levels + 64;
        m->ps[side].lv = calloc(m->ps[side].cap, sizeof(struct sx_plevel));
        if (!m->ps[side].lv)
            return errf(err, errlen, CLB_ENOMEM, "%s: out of memory", y->symbol);
    }
    clb_synth_next(&m->synth, &m->next);
    return CLB_OK;
}

/* Largest scale an asset needs: base >= qty_scale, quote >= price + qty. */
static int needed_scale(const struct clb_simex_config *cfg, const char *asset)
{
    int need = SX_MIN_ASSET_SCALE;
    for (uint32_t i = 0; i < cfg->n_symbols; i++) {
        const struct clb_simex_symbol *y = &cfg->symbols[i];
        int ps = sx_dec_digits(y->tick_size), qs = sx_dec_digits(y->step_size);
        if (strcmp(y->base, asset) == 0 && qs > need)
            need = qs;
        if (strcmp(y->quote, asset) == 0 && ps + qs > need)
            need = ps + qs;
    }
    for (uint32_t i = 0; i < cfg->n_balances; i++)
        if (strcmp(cfg->balances[i].asset, asset) == 0 &&
            sx_dec_digits(cfg->balances[i].amount) > need)
            need = sx_dec_digits(cfg->balances[i].amount);
    return need > CLB_DEC_MAX_SCALE ? CLB_DEC_MAX_SCALE : need;
}

static int add_asset(struct clb_simex *s, const char *name)
{
    uint32_t id;
    if (!name[0] || clb_ledger_find_asset(&s->ledger, name, &id) == CLB_OK)
        return CLB_OK;
    return clb_ledger_add_asset(&s->ledger, name, needed_scale(&s->cfg, name), &id);
}

int sx_exchange_init(struct clb_simex *s, char *err, size_t errlen)
{
    const struct clb_simex_config *cfg = &s->cfg;
    int rc;
    if (cfg->n_symbols == 0 || cfg->n_symbols > CLB_SIMEX_MAX_SYMBOLS)
        return errf(err, errlen, CLB_EINVAL, "%s: need 1..8 symbols", "config");
    if (cfg->max_orders < 1024 || cfg->max_trades < 1024)
        return errf(err, errlen, CLB_EINVAL, "%s: max_orders/max_trades below 1024", "config");
    s->n_users = cfg->n_accounts;
    if ((rc = clb_ledger_init(&s->ledger, 2 + s->n_users, CLB_SIMEX_MAX_ASSETS * 2)) != CLB_OK)
        return errf(err, errlen, rc, "%s: out of memory", "ledger");
    for (uint32_t i = 0; i < cfg->n_symbols; i++)
        if (add_asset(s, cfg->symbols[i].base) != CLB_OK ||
            add_asset(s, cfg->symbols[i].quote) != CLB_OK)
            return errf(err, errlen, CLB_EINVAL, "%s: too many assets", cfg->symbols[i].symbol);
    for (uint32_t i = 0; i < cfg->n_balances; i++)
        if (add_asset(s, cfg->balances[i].asset) != CLB_OK)
            return errf(err, errlen, CLB_EINVAL, "%s: too many assets", cfg->balances[i].asset);
    clb_ledger_add_account(&s->ledger, &s->maker_acct);
    clb_ledger_add_account(&s->ledger, &s->taker_acct);
    s->first_user_acct = s->taker_acct + 1;
    for (uint32_t a = 0; a < s->ledger.n_assets; a++) {
        clb_ledger_deposit(&s->ledger, s->maker_acct, a, PART_BIG_BASE);
        clb_ledger_deposit(&s->ledger, s->taker_acct, a, PART_BIG_BASE);
    }
    for (uint32_t u = 0; u < s->n_users; u++) {
        struct sx_user *us = &s->users[u];
        memset(us, 0, sizeof(*us));
        us->acct = cfg->accounts[u];
        clb_ledger_add_account(&s->ledger, &us->ledger);
        for (uint32_t i = 0; i < cfg->n_balances; i++) {
            uint32_t a;
            int64_t v;
            clb_ledger_find_asset(&s->ledger, cfg->balances[i].asset, &a);
            if (clb_dec_to_scaled(cfg->balances[i].amount, clb_ledger_asset_scale(&s->ledger, a),
                                  &v) != CLB_OK)
                return errf(err, errlen, CLB_EINVAL, "%s: balance too large",
                            cfg->balances[i].asset);
            if (v > 0)
                clb_ledger_deposit(&s->ledger, us->ledger, a, v);
        }
    }
    struct clb_matcher_config mc;
    clb_matcher_config_default(&mc);
    mc.max_markets = cfg->n_symbols;
    uint32_t part_orders = 0;
    for (uint32_t i = 0; i < cfg->n_symbols; i++)
        part_orders += 2 * (2 * cfg->symbols[i].market.levels + 64) * SX_PL_ORDERS;
    uint64_t user_orders = (uint64_t)cfg->limits.max_open_orders * (s->n_users ? s->n_users : 1) *
                           cfg->n_symbols;
    uint64_t mo = part_orders + user_orders + 64;
    mc.max_orders = mo > (1u << 22) ? (1u << 22) : (uint32_t)mo;
    mc.max_levels = SX_MATCH_LEVELS;
    mc.fee_account = CLB_LEDGER_EXTERNAL;
    mc.maker_fee_ppm = cfg->maker_fee_ppm;
    mc.taker_fee_ppm = cfg->taker_fee_ppm;
    mc.stp = CLB_STP_EXPIRE_MAKER;
    struct clb_matcher_listener ml = { .on_fill = on_fill, .on_order = on_order, .ud = s };
    if ((rc = clb_matcher_init(&s->mx, &s->ledger, &mc, &ml)) != CLB_OK)
        return errf(err, errlen, rc, "%s: cannot start the matching engine", "matcher");
    s->ex_ok = true;
    clb_matcher_set_fees(&s->mx, s->maker_acct, 0, 0);
    clb_matcher_set_fees(&s->mx, s->taker_acct, 0, 0);
    s->orders_cap = cfg->max_orders;
    s->orders = calloc(s->orders_cap, sizeof(struct sx_order));
    uint32_t hcap = 1;
    while (hcap < 2 * s->orders_cap)
        hcap <<= 1;
    s->oh_ids = calloc(hcap, sizeof(uint64_t));
    s->oh_slots = calloc(hcap, sizeof(uint32_t));
    s->oh_mask = hcap - 1;
    s->fills_cap = cfg->max_trades;
    s->fills = calloc(s->fills_cap, sizeof(struct sx_fill));
    if (!s->orders || !s->oh_ids || !s->oh_slots || !s->fills)
        return errf(err, errlen, CLB_ENOMEM, "%s: out of memory", "history");
    for (uint32_t i = 0; i < s->orders_cap; i++) {
        s->orders[i].newer = i + 1 < s->orders_cap ? i + 1 : SX_NIL;
        s->orders[i].older = SX_NIL;
    }
    s->free_head = 0;
    s->fin_oldest = s->fin_newest = SX_NIL;
    s->fills_total = 0;
    s->n_markets = 0;
    for (uint32_t i = 0; i < cfg->n_symbols; i++) {
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(cfg->symbols[i].symbol, cfg->symbols[j].symbol) == 0)
                return errf(err, errlen, CLB_EINVAL, "%s: duplicate symbol",
                            cfg->symbols[i].symbol);
        s->n_markets = i + 1;
        if ((rc = market_init(s, i, err, errlen)) != CLB_OK)
            return rc;
    }
    return CLB_OK;
}

void sx_exchange_deinit(struct clb_simex *s)
{
    for (uint32_t i = 0; i < s->n_markets; i++) {
        struct sx_market *m = &s->markets[i];
        if (m->synth_ok)
            clb_synth_deinit(&m->synth);
        for (int k = 0; k < 2; k++) {
            touch_free(&m->touch[k]);
            free(m->ps[k].lv);
            free(m->depth[k]);
        }
        memset(m, 0, sizeof(*m));
    }
    s->n_markets = 0;
    if (s->ex_ok)
        clb_matcher_deinit(&s->mx);
    s->ex_ok = false;
    clb_ledger_deinit(&s->ledger);
    memset(&s->ledger, 0, sizeof(s->ledger));
    free(s->orders);
    free(s->oh_ids);
    free(s->oh_slots);
    free(s->fills);
    s->orders = NULL;
    s->oh_ids = NULL;
    s->oh_slots = NULL;
    s->fills = NULL;
    s->n_users = 0;
}
