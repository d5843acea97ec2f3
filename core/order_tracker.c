/*
 * order_tracker.c — per-order state machines, a client-id hash map and the
 * events they publish.
 *
 * Storage: a pool of max_orders order structs allocated at init, a free list
 * through the pool, and an open-addressing map (linear probing, FNV-1a 64 of
 * the client id, size a power of two >= 2 * max_orders so probes stay short)
 * from client id to pool index. Removal shifts the following cluster back
 * (no tombstones), so lookups never degrade. Used orders are also on a
 * doubly-linked list in tracking order for iteration and eviction.
 *
 * Each pool slot owns a preallocated run of CLB_TRACKER_PREALLOC_FILLS
 * trade-id keys; an order with more fills moves to a heap array that doubles
 * up to max_fills_per_order and is freed when the order is evicted.
 *
 * Rules: every input is first mapped to a row ("phase": the state refined by
 * the confirmed and exchange_filled flags) and a column (the input), and the
 * one table below says what happens: the resulting state, or a refusal code.
 * The input functions only validate arguments, consult the table, apply the
 * bookkeeping of their input and publish. Every refusal returns before
 * anything is written.
 */
#include "order_tracker.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define NONE_ UINT32_MAX
#define MAX_ORDERS_LIMIT_ (1u << 24)

/* ---- the transition table ---------------------------------------------- */

enum tin {
    IN_CREATED,        /* on_created with an exchange id not yet known */
    IN_CREATE_FAILED,  /* on_create_failed, definite */
    IN_CREATE_UNKNOWN, /* on_create_failed, outcome unknown */
    IN_CANCEL_REQ,
    IN_CANCEL_REJ,
    IN_CANCELLED,
    IN_ST_LIVE, /* status NEW / PARTIALLY_FILLED */
    IN_ST_FILLED,
    IN_ST_CANCELED, /* status CANCELED / EXPIRED */
    IN_ST_REJECTED,
    IN_NOT_FOUND,
    IN_FILL,
    IN_COUNT_
};

enum phase {
    PH_PENDING_CREATE,
    PH_OPEN,
    PH_PARTIAL,
    PH_CANCEL_UNCONF, /* PENDING_CANCEL, existence not yet shown */
    PH_CANCEL,             /* PENDING_CANCEL, confirmed */
    PH_OPEN_XF,            /* ..._XF: exchange_filled (filled, awaiting fills) */
    PH_PARTIAL_XF,
    PH_CANCEL_XF,
    PH_CANCELED,
    PH_FILLED,
    PH_FAILED,
    PH_COUNT_
};

/* Cells >= 0 are the resulting state (the current one: stays, with the
 * input's bookkeeping). Negative cells: */
enum {
    R_ILLEGAL = -1, /* CLB_ESTATE */
    R_STALE = -2,   /* CLB_ESTALE */
    R_DUP = -3,     /* CLB_EDUPLICATE */
    R_LATE = -4,    /* CLB_ESTALE if a cancel was ever requested, else CLB_ESTATE */
    R_LIVE = -5,    /* back to the live state the facts give */
    R_NF = -6,      /* count; FAILED (lost) at the threshold */
    R_FILL = -7     /* state from the executed amount */
};

/* Short names so that the table reads as a grid: states, then the R_ codes. */
#define PCR_ CLB_ORDER_PENDING_CREATE
#define OPN_ CLB_ORDER_OPEN
#define PRT_ CLB_ORDER_PARTIALLY_FILLED
#define PCX_ CLB_ORDER_PENDING_CANCEL
#define CXL_ CLB_ORDER_CANCELED
#define FLD_ CLB_ORDER_FILLED
#define FAI_ CLB_ORDER_FAILED
#define ILL_ R_ILLEGAL
#define STL_ R_STALE
#define DUP_ R_DUP
#define LAT_ R_LATE
#define LIV_ R_LIVE
#define NF__ R_NF
#define FIL_ R_FILL

static const signed char k_rules[PH_COUNT_][IN_COUNT_] = {
    /*              CREATED CFAIL CUNK  CREQ  CREJ  CXLD  S_LIVE S_FILL S_CXL S_REJ NOTFND FILL */
    [PH_PENDING_CREATE] = { OPN_, FAI_, PCR_, PCX_, LAT_, CXL_, OPN_, OPN_, CXL_, FAI_, NF__, FIL_ },
    [PH_OPEN]           = { OPN_, ILL_, STL_, PCX_, LAT_, CXL_, OPN_, OPN_, CXL_, FAI_, NF__, FIL_ },
    [PH_PARTIAL]        = { PRT_, ILL_, STL_, PCX_, LAT_, CXL_, PRT_, PRT_, CXL_, FAI_, NF__, FIL_ },
    [PH_CANCEL_UNCONF]  = { PCX_, FAI_, PCX_, PCX_, LIV_, CXL_, PCX_, PCX_, CXL_, FAI_, NF__, FIL_ },
    [PH_CANCEL]         = { PCX_, ILL_, STL_, PCX_, LIV_, CXL_, PCX_, PCX_, CXL_, FAI_, NF__, FIL_ },
    [PH_OPEN_XF]        = { OPN_, ILL_, STL_, ILL_, LAT_, ILL_, STL_, DUP_, ILL_, ILL_, ILL_, FIL_ },
    [PH_PARTIAL_XF]     = { PRT_, ILL_, STL_, ILL_, LAT_, ILL_, STL_, DUP_, ILL_, ILL_, ILL_, FIL_ },
    [PH_CANCEL_XF]      = { PCX_, ILL_, STL_, ILL_, LIV_, ILL_, STL_, DUP_, ILL_, ILL_, ILL_, FIL_ },
    [PH_CANCELED]       = { CXL_, ILL_, STL_, ILL_, LAT_, DUP_, STL_, ILL_, DUP_, ILL_, STL_, FIL_ },
    [PH_FILLED]         = { FLD_, ILL_, STL_, ILL_, LAT_, ILL_, STL_, DUP_, ILL_, ILL_, STL_, FIL_ },
    [PH_FAILED]         = { ILL_, DUP_, STL_, ILL_, LAT_, ILL_, ILL_, ILL_, ILL_, DUP_, STL_, FIL_ },
};

static enum phase phase_of(const struct clb_tracked_order *o)
{
    switch (o->state) {
    case CLB_ORDER_PENDING_CREATE:
        return PH_PENDING_CREATE;
    case CLB_ORDER_OPEN:
        return o->exchange_filled ? PH_OPEN_XF : PH_OPEN;
    case CLB_ORDER_PARTIALLY_FILLED:
        return o->exchange_filled ? PH_PARTIAL_XF : PH_PARTIAL;
    case CLB_ORDER_PENDING_CANCEL:
        if (o->exchange_filled)
            return PH_CANCEL_XF;
        return o->confirmed ? PH_CANCEL : PH_CANCEL_UNCONF;
    case CLB_ORDER_CANCELED:
        return PH_CANCELED;
    case CLB_ORDER_FILLED:
        return PH_FILLED;
    default:
        return PH_FAILED;
    }
}

/* The table's cell for (o, in); *err is the refusal code or CLB_OK. */
static int rule(const struct clb_tracked_order *o, enum tin in, int *err)
{
    int cell = k_rules[phase_of(o)][in];
    switch (cell) {
    case R_ILLEGAL:
        *err = CLB_ESTATE;
        break;
    case R_STALE:
        *err = CLB_ESTALE;
        break;
    case R_DUP:
        *err = CLB_EDUPLICATE;
        break;
    case R_LATE:
        *err = o->cancel_requests > 0 ? CLB_ESTALE : CLB_ESTATE;
        break;
    default:
        *err = CLB_OK;
        break;
    }
    return cell;
}

/* ---- names and validation ---------------------------------------------- */

const char *clb_order_state_name(int state)
{
    static const char *const names[CLB_ORDER_STATE_COUNT_] = {
        "pending_create", "open", "partially_filled", "pending_cancel",
        "canceled", "filled", "failed",
    };
    if (state == CLB_ORDER_STATE_NONE)
        return "none";
    return state >= 0 && state < CLB_ORDER_STATE_COUNT_ ? names[state] : "unknown";
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static bool is_id_char(char c)
{
    return is_alnum(c) || c == '.' || c == '_' || c == ':' || c == '/' || c == '-';
}

/* Length of s if it is 1..max bytes of printable non-space ASCII, else 0. */
static size_t printable_len(const char *s, size_t max)
{
    if (!s)
        return 0;
    size_t n = 0;
    while (s[n]) {
        if (n == max || s[n] <= ' ' || s[n] > '~')
            return 0;
        n++;
    }
    return n;
}

static bool valid_dec(clb_dec d)
{
    return d.scale >= 0 && d.scale <= CLB_DEC_MAX_SCALE;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Validates a client id (1..CLB_CLIENT_ORDER_ID_MAX of [A-Za-z0-9._:/-]) and
 * hashes it (fnv1a) in one pass, on the order path: true with *h the hash
 * and *len the length when s is valid. */
static bool client_id_hash(const char *s, uint64_t *h, size_t *len)
{
    if (!s)
        return false;
    uint64_t x = 0xcbf29ce484222325ull;
    size_t n = 0;
    for (; s[n]; n++) {
        if (n == CLB_CLIENT_ORDER_ID_MAX || !is_id_char(s[n]))
            return false; /* id characters are all printable, non-space */
        x ^= (unsigned char)s[n];
        x *= 0x100000001b3ull;
    }
    *h = x;
    *len = n;
    return n > 0;
}

/* ---- map, pool and list ------------------------------------------------ */

/* Map position holding the id, or NONE_. */
static uint32_t map_find(const struct clb_order_tracker *t, const char *id, uint64_t h)
{
    uint32_t i = (uint32_t)h & t->map_mask;
    for (;;) {
        uint32_t idx = t->map[i];
        if (idx == NONE_)
            return NONE_;
        const struct clb_tracked_order *o = &t->orders[idx];
        if (o->hash_ == h && strcmp(o->client_order_id, id) == 0)
            return i;
        i = (i + 1) & t->map_mask;
    }
}

static void map_insert(struct clb_order_tracker *t, uint64_t h, uint32_t idx)
{
    uint32_t i = (uint32_t)h & t->map_mask;
    while (t->map[i] != NONE_)
        i = (i + 1) & t->map_mask;
    t->map[i] = idx;
}

/* Empties map position i and shifts the rest of its cluster back so that
 * every entry stays reachable from its home position. */
static void map_erase_at(struct clb_order_tracker *t, uint32_t i)
{
    uint32_t j = i;
    t->map[i] = NONE_;
    for (;;) {
        j = (j + 1) & t->map_mask;
        uint32_t idx = t->map[j];
        if (idx == NONE_)
            return;
        uint32_t home = (uint32_t)t->orders[idx].hash_ & t->map_mask;
        /* Entry j may move to the hole at i unless its home lies in (i, j]. */
        bool home_between = (i <= j) ? (home > i && home <= j) : (home > i || home <= j);
        if (!home_between) {
            t->map[i] = idx;
            t->map[j] = NONE_;
            i = j;
        }
    }
}

static struct clb_tracked_order *find(const struct clb_order_tracker *t, const char *id)
{
    if (!id || !t->map)
        return NULL;
    uint32_t pos = map_find(t, id, fnv1a(id));
    return pos == NONE_ ? NULL : &t->orders[t->map[pos]];
}

static struct clb_fill_key_ *prealloc_of(const struct clb_order_tracker *t, uint32_t idx)
{
    return &t->prealloc_fills[(size_t)idx * CLB_TRACKER_PREALLOC_FILLS];
}

static void evict(struct clb_order_tracker *t, struct clb_tracked_order *o)
{
    uint32_t idx = (uint32_t)(o - t->orders);
    map_erase_at(t, map_find(t, o->client_order_id, o->hash_));
    if (o->prev_ != NONE_)
        t->orders[o->prev_].next_ = o->next_;
    else
        t->head = o->next_;
    if (o->next_ != NONE_)
        t->orders[o->next_].prev_ = o->prev_;
    else
        t->tail = o->prev_;
    if (!clb_order_state_is_terminal(o->state))
        t->n_live--;
    t->n_orders--;
    struct clb_fill_key_ *pre = prealloc_of(t, idx);
    if (o->fills_ != pre)
        free(o->fills_);
    memset(o, 0, sizeof(*o));
    o->fills_ = pre;
    o->fill_cap_ = CLB_TRACKER_PREALLOC_FILLS;
    o->prev_ = NONE_;
    o->next_ = t->free_head;
    t->free_head = idx;
}

/* ---- init ---------------------------------------------------------------- */

void clb_tracker_config_defaults(struct clb_tracker_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->max_orders = 1024;
    cfg->lost_threshold = 3;
    cfg->finished_ttl_ns = 30ll * 1000 * 1000 * 1000;
    cfg->awaiting_fills_ttl_ns = 24ll * 3600 * 1000 * 1000 * 1000;
    cfg->max_fills_per_order = 10000;
}

int clb_tracker_init(struct clb_order_tracker *t, const struct clb_tracker_config *cfg)
{
    memset(t, 0, sizeof(*t));
    if (!cfg || cfg->max_orders == 0 || cfg->max_orders > MAX_ORDERS_LIMIT_ ||
        cfg->lost_threshold == 0 || cfg->finished_ttl_ns < 0 || cfg->max_fills_per_order == 0)
        return CLB_EINVAL;
    if (cfg->source && strlen(cfg->source) >= CLB_TRACKER_SOURCE_MAX)
        return CLB_EINVAL;

    uint32_t map_size = 2;
    while (map_size < 2 * cfg->max_orders)
        map_size *= 2;
    t->orders = calloc(cfg->max_orders, sizeof(*t->orders));
    t->map = malloc((size_t)map_size * sizeof(*t->map));
    t->prealloc_fills = calloc((size_t)cfg->max_orders * CLB_TRACKER_PREALLOC_FILLS,
                               sizeof(*t->prealloc_fills));
    if (!t->orders || !t->map || !t->prealloc_fills) {
        clb_tracker_deinit(t);
        return CLB_ENOMEM;
    }
    memset(t->map, 0xff, (size_t)map_size * sizeof(*t->map));
    t->map_mask = map_size - 1;
    t->max_orders = cfg->max_orders;
    for (uint32_t i = 0; i < cfg->max_orders; i++) {
        struct clb_tracked_order *o = &t->orders[i];
        o->fills_ = prealloc_of(t, i);
        o->fill_cap_ = CLB_TRACKER_PREALLOC_FILLS;
        o->prev_ = NONE_;
        o->next_ = i + 1 < cfg->max_orders ? i + 1 : NONE_;
    }
    t->free_head = 0;
    t->head = t->tail = NONE_;
    t->lost_threshold = cfg->lost_threshold;
    t->max_fills_per_order = cfg->max_fills_per_order;
    t->finished_ttl_ns = cfg->finished_ttl_ns;
    t->awaiting_fills_ttl_ns = cfg->awaiting_fills_ttl_ns > cfg->finished_ttl_ns
                                   ? cfg->awaiting_fills_ttl_ns
                                   : cfg->finished_ttl_ns;
    t->bus = cfg->bus;
    if (cfg->source)
        strcpy(t->source, cfg->source);
    return CLB_OK;
}

void clb_tracker_deinit(struct clb_order_tracker *t)
{
    if (t->orders && t->prealloc_fills) {
        for (uint32_t i = 0; i < t->max_orders; i++)
            if (t->orders[i].fills_ != prealloc_of(t, i))
                free(t->orders[i].fills_);
    }
    free(t->orders);
    free(t->map);
    free(t->prealloc_fills);
    memset(t, 0, sizeof(*t));
}

/* ---- events and shared bookkeeping -------------------------------------- */

static void make_event(const struct clb_order_tracker *t, const struct clb_tracked_order *o,
                       enum clb_event_type type, int prev_state, const struct clb_fill *f,
                       int64_t now_ns, struct clb_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = type;
    ev->ts_ns = now_ns;
    ev->source = t->source;
    struct clb_order_event *e = &ev->u.order;
    e->client_order_id = o->client_order_id;
    e->exchange_order_id = o->exchange_order_id;
    e->market = o->market;
    e->side = o->side;
    e->type = o->type;
    e->price = o->price;
    e->amount = o->amount;
    e->executed_base = o->executed_base;
    e->executed_quote = o->executed_quote;
    e->state = (int)o->state;
    e->prev_state = prev_state;
    e->reason = type == CLB_EV_ORDER_FAILED ? o->fail_reason : 0;
    e->lost = o->lost;
    e->trade_id = "";
    e->fee_asset = "";
    if (f) {
        e->trade_id = f->trade_id;
        e->fill_price = f->price;
        e->fill_amount = f->amount;
        e->fill_fee = f->fee;
        e->fee_asset = f->fee_asset ? f->fee_asset : "";
        e->fill_is_maker = f->is_maker;
    }
}

static void emit(struct clb_order_tracker *t, const struct clb_tracked_order *o,
                 enum clb_event_type type, int prev_state, int64_t now_ns)
{
    if (!t->bus)
        return;
    struct clb_event ev;
    make_event(t, o, type, prev_state, NULL, now_ns, &ev);
    clb_event_publish(t->bus, &ev);
}

static void set_state(struct clb_order_tracker *t, struct clb_tracked_order *o,
                      enum clb_order_state s, int64_t now_ns)
{
    if (!clb_order_state_is_terminal(o->state) && clb_order_state_is_terminal(s)) {
        t->n_live--;
        o->finished_ns = now_ns;
    }
    o->state = s;
    o->updated_ns = now_ns;
}

static void confirm(struct clb_tracked_order *o)
{
    o->confirmed = true;
    o->creation_outcome_unknown = false;
    o->not_found_count = 0;
}

/* The event for a transition into `s` made by a non-fill input. */
static enum clb_event_type transition_event(enum clb_order_state s)
{
    switch (s) {
    case CLB_ORDER_CANCELED:
        return CLB_EV_ORDER_CANCELLED;
    case CLB_ORDER_FAILED:
        return CLB_EV_ORDER_FAILED;
    default:
        return CLB_EV_ORDER_STATE;
    }
}

static int lookup(const struct clb_order_tracker *t, const char *id,
                  struct clb_tracked_order **out)
{
    if (!id)
        return CLB_EINVAL;
    *out = find(t, id);
    return *out ? CLB_OK : CLB_ENOTFOUND;
}

/* ---- inputs -------------------------------------------------------------- */

int clb_tracker_start_tracking(struct clb_order_tracker *t, const struct clb_order_params *p,
                               int64_t now_ns)
{
    uint64_t h = 0;
    size_t id_len = 0, market_len = 0;
    if (!p || !client_id_hash(p->client_order_id, &h, &id_len) ||
        (market_len = printable_len(p->market, CLB_SYMBOL_MAX - 1)) == 0 ||
        (p->side != CLB_SIDE_BUY && p->side != CLB_SIDE_SELL) ||
        (p->type != CLB_ORDER_LIMIT && p->type != CLB_ORDER_LIMIT_MAKER &&
         p->type != CLB_ORDER_MARKET) ||
        !valid_dec(p->price) || !valid_dec(p->amount) || clb_dec_sign(p->amount) <= 0 ||
        clb_dec_sign(p->price) < 0 || (p->type != CLB_ORDER_MARKET && clb_dec_is_zero(p->price)))
        return CLB_EINVAL;
    if (map_find(t, p->client_order_id, h) != NONE_)
        return CLB_EEXIST;
    if (t->free_head == NONE_)
        return CLB_EFULL;

    uint32_t idx = t->free_head;
    struct clb_tracked_order *o = &t->orders[idx];
    t->free_head = o->next_;
    /* The slot is clean (zeroed at init / eviction) apart from its links. */
    memcpy(o->client_order_id, p->client_order_id, id_len + 1);
    memcpy(o->market, p->market, market_len + 1);
    o->side = p->side;
    o->type = p->type;
    o->price = p->price;
    o->amount = p->amount;
    o->executed_base = clb_dec_make(0, p->amount.scale);
    o->executed_quote = clb_dec_make(0, 0);
    o->exchange_executed_base = clb_dec_make(0, p->amount.scale);
    o->state = CLB_ORDER_PENDING_CREATE;
    o->created_ns = o->updated_ns = now_ns;
    o->hash_ = h;
    o->prev_ = t->tail;
    o->next_ = NONE_;
    if (t->tail != NONE_)
        t->orders[t->tail].next_ = idx;
    else
        t->head = idx;
    t->tail = idx;
    map_insert(t, h, idx);
    t->n_orders++;
    t->n_live++;
    emit(t, o, CLB_EV_ORDER_STATE, CLB_ORDER_STATE_NONE, now_ns);
    return CLB_OK;
}

int clb_tracker_on_created(struct clb_order_tracker *t, const char *client_order_id,
                           const char *exchange_order_id, int64_t now_ns)
{
    struct clb_tracked_order *o;
    if (printable_len(exchange_order_id, CLB_EXCHANGE_ORDER_ID_MAX - 1) == 0)
        return CLB_EINVAL;
    int rc = lookup(t, client_order_id, &o);
    if (rc != CLB_OK)
        return rc;
    if (o->exchange_order_id[0])
        return strcmp(o->exchange_order_id, exchange_order_id) == 0 ? CLB_EDUPLICATE : CLB_ESTATE;
    int cell = rule(o, IN_CREATED, &rc);
    if (rc != CLB_OK)
        return rc;

    int prev = (int)o->state;
    bool first = !o->confirmed && !clb_order_state_is_terminal(o->state);
    strcpy(o->exchange_order_id, exchange_order_id);
    confirm(o);
    set_state(t, o, (enum clb_order_state)cell, now_ns);
    if (first)
        emit(t, o, CLB_EV_ORDER_CREATED, prev, now_ns);
    return CLB_OK;
}

int clb_tracker_on_create_failed(struct clb_order_tracker *t, const char *client_order_id,
                                 bool definite, int reason, int64_t now_ns)
{
    struct clb_tracked_order *o;
    if (definite && (reason <= CLB_ERR_FIRST_ || reason >= CLB_ERR_LAST_))
        return CLB_EINVAL;
    int rc = lookup(t, client_order_id, &o);
    if (rc != CLB_OK)
        return rc;
    int cell = rule(o, definite ? IN_CREATE_FAILED : IN_CREATE_UNKNOWN, &rc);
    if (rc != CLB_OK)
        return rc;

    int prev = (int)o->state;
    if (!definite) {
        o->creation_outcome_unknown = true;
        o->updated_ns = now_ns;
        return CLB_OK;
    }
    o->fail_reason = reason;
    set_state(t, o, (enum clb_order_state)cell, now_ns);
    emit(t, o, CLB_EV_ORDER_FAILED, prev, now_ns);
    return CLB_OK;
}

int clb_tracker_on_cancel_requested(struct clb_order_tracker *t, const char *client_order_id,
                                    int64_t now_ns)
{
    struct clb_tracked_order *o;
    int rc = lookup(t, client_order_id, &o);
    if (rc != CLB_OK)
        return rc;
    int cell = rule(o, IN_CANCEL_REQ, &rc);
    if (rc != CLB_OK)
        return rc;

    int prev = (int)o->state;
    o->cancel_requests++;
    o->last_cancel_request_ns = now_ns;
    set_state(t, o, (enum clb_order_state)cell, now_ns);
    if (prev != cell)
        emit(t, o, CLB_EV_ORDER_STATE, prev, now_ns);
    return CLB_OK;
}

int clb_tracker_on_cancel_rejected(struct clb_order_tracker *t, const char *client_order_id,
                                   int64_t now_ns)
{
    struct clb_tracked_order *o;
    int rc = lookup(t, client_order_id, &o);
    if (rc != CLB_OK)
        return rc;
    int cell = rule(o, IN_CANCEL_REJ, &rc);
    if (rc != CLB_OK)
        return rc;

    enum clb_order_state s = (enum clb_order_state)cell;
    if (cell == R_LIVE) {
        if (!o->confirmed)
            s = CLB_ORDER_PENDING_CREATE;
        else if (clb_dec_is_zero(o->executed_base))
            s = CLB_ORDER_OPEN;
        else
            s = CLB_ORDER_PARTIALLY_FILLED;
    }
    int prev = (int)o->state;
    set_state(t, o, s, now_ns);
    if (prev != (int)s)
        emit(t, o, CLB_EV_ORDER_STATE, prev, now_ns);
    return CLB_OK;
}

int clb_tracker_on_cancelled(struct clb_order_tracker *t, const char *client_order_id,
                             int64_t now_ns)
{
    struct clb_tracked_order *o;
    int rc = lookup(t, client_order_id, &o);
    if (rc != CLB_OK)
        return rc;
    int cell = rule(o, IN_CANCELLED, &rc);
    if (rc != CLB_OK)
        return rc;

    int prev = (int)o->state;
    set_state(t, o, (enum clb_order_state)cell, now_ns);
    if (prev != cell)
        emit(t, o, transition_event((enum clb_order_state)cell), prev, now_ns);
    return CLB_OK;
}

int clb_tracker_on_status(struct clb_order_tracker *t, const char *client_order_id,
                          enum clb_xorder_status status, const char *exchange_order_id,
                          clb_dec cum_executed, int64_t now_ns)
{
    static const enum tin k_status_input[] = {
        [CLB_XORDER_NEW] = IN_ST_LIVE,
        [CLB_XORDER_PARTIALLY_FILLED] = IN_ST_LIVE,
        [CLB_XORDER_FILLED] = IN_ST_FILLED,
        [CLB_XORDER_CANCELED] = IN_ST_CANCELED,
        [CLB_XORDER_REJECTED] = IN_ST_REJECTED,
        [CLB_XORDER_EXPIRED] = IN_ST_CANCELED,
    };
    struct clb_tracked_order *o;
    bool has_xid = exchange_order_id && exchange_order_id[0];
    if ((unsigned)status > CLB_XORDER_EXPIRED || !valid_dec(cum_executed) ||
        clb_dec_sign(cum_executed) < 0 ||
        (has_xid && printable_len(exchange_order_id, CLB_EXCHANGE_ORDER_ID_MAX - 1) == 0))
        return CLB_EINVAL;
    int rc = lookup(t, client_order_id, &o);
    if (rc != CLB_OK)
        return rc;
    int c = clb_dec_cmp(cum_executed, o->amount);
    if (c > 0 || (status == CLB_XORDER_FILLED && c != 0))
        return CLB_EINVAL;
    if (has_xid && o->exchange_order_id[0] && strcmp(o->exchange_order_id, exchange_order_id))
        return CLB_ESTATE;
    enum tin in = k_status_input[status];
    int cell = rule(o, in, &rc);
    if (rc != CLB_OK)
        return rc;

    int prev = (int)o->state;
    bool first = !o->confirmed;
    if (has_xid && !o->exchange_order_id[0])
        strcpy(o->exchange_order_id, exchange_order_id);
    o->exchange_executed_base = cum_executed;
    if (in == IN_ST_LIVE || in == IN_ST_FILLED) {
        confirm(o);
        if (in == IN_ST_FILLED)
            o->exchange_filled = true;
        set_state(t, o, (enum clb_order_state)cell, now_ns);
        if (first)
            emit(t, o, CLB_EV_ORDER_CREATED, prev, now_ns);
        return CLB_OK;
    }
    if (in == IN_ST_REJECTED)
        o->fail_reason = CLB_EINVAL;
    set_state(t, o, (enum clb_order_state)cell, now_ns);
    emit(t, o, transition_event((enum clb_order_state)cell), prev, now_ns);
    return CLB_OK;
}

int clb_tracker_on_not_found(struct clb_order_tracker *t, const char *client_order_id,
                             int64_t now_ns)
{
    struct clb_tracked_order *o;
    int rc = lookup(t, client_order_id, &o);
    if (rc != CLB_OK)
        return rc;
    rule(o, IN_NOT_FOUND, &rc);
    if (rc != CLB_OK)
        return rc;

    int prev = (int)o->state;
    o->not_found_count++;
    o->updated_ns = now_ns;
    if (o->not_found_count < t->lost_threshold)
        return CLB_OK;
    o->lost = true;
    o->fail_reason = CLB_ENOTFOUND;
    set_state(t, o, CLB_ORDER_FAILED, now_ns);
    emit(t, o, CLB_EV_ORDER_FAILED, prev, now_ns);
    return CLB_OK;
}

static bool valid_fill(const struct clb_fill *f)
{
    if (!f || printable_len(f->trade_id, CLB_TRADE_ID_MAX - 1) == 0 || !valid_dec(f->price) ||
        !valid_dec(f->amount) || !valid_dec(f->fee) || clb_dec_sign(f->price) <= 0 ||
        clb_dec_sign(f->amount) <= 0)
        return false;
    if (f->fee_asset && strlen(f->fee_asset) >= CLB_ASSET_MAX)
        return false;
    if (!clb_dec_is_zero(f->fee) && printable_len(f->fee_asset, CLB_ASSET_MAX - 1) == 0)
        return false;
    return true;
}

int clb_tracker_on_fill(struct clb_order_tracker *t, const char *client_order_id,
                        const struct clb_fill *f, int64_t now_ns)
{
    struct clb_tracked_order *o;
    if (!valid_fill(f))
        return CLB_EINVAL;
    int rc = lookup(t, client_order_id, &o);
    if (rc != CLB_OK)
        return rc;
    rule(o, IN_FILL, &rc);
    if (rc != CLB_OK)
        return rc;

    uint64_t h = fnv1a(f->trade_id);
    for (uint32_t i = 0; i < o->n_fills; i++)
        if (o->fills_[i].hash == h && strcmp(o->fills_[i].id, f->trade_id) == 0)
            return CLB_EDUPLICATE;

    /* Everything is computed into locals first; nothing is written until
     * every step has succeeded. */
    clb_dec base, quote, notional;
    if ((rc = clb_dec_add(o->executed_base, f->amount, &base)) != CLB_OK)
        return rc;
    int full = clb_dec_cmp(base, o->amount);
    if (full > 0)
        return CLB_EINVAL;
    if (o->n_fills >= t->max_fills_per_order)
        return CLB_EFULL;
    if ((rc = clb_dec_mul(f->price, f->amount, &notional)) != CLB_OK ||
        (rc = clb_dec_add(o->executed_quote, notional, &quote)) != CLB_OK)
        return rc;
    bool has_fee = !clb_dec_is_zero(f->fee);
    uint32_t fi = 0;
    clb_dec fee_sum = f->fee;
    if (has_fee) {
        while (fi < o->n_fee_assets && strcmp(o->fees[fi].asset, f->fee_asset) != 0)
            fi++;
        if (fi == CLB_TRACKER_FEE_ASSETS)
            return CLB_EFULL;
        if (fi < o->n_fee_assets && (rc = clb_dec_add(o->fees[fi].amount, f->fee, &fee_sum)))
            return rc;
    }
    if (o->n_fills == o->fill_cap_) {
        uint32_t cap = o->fill_cap_ * 2;
        if (cap > t->max_fills_per_order)
            cap = t->max_fills_per_order;
        struct clb_fill_key_ *grown = malloc((size_t)cap * sizeof(*grown));
        if (!grown)
            return CLB_ENOMEM;
        memcpy(grown, o->fills_, (size_t)o->n_fills * sizeof(*grown));
        if (o->fills_ != prealloc_of(t, (uint32_t)(o - t->orders)))
            free(o->fills_);
        o->fills_ = grown;
        o->fill_cap_ = cap;
    }

    struct clb_fill_key_ *k = &o->fills_[o->n_fills++];
    k->hash = h;
    memset(k->id, 0, sizeof(k->id));
    strcpy(k->id, f->trade_id);
    o->executed_base = base;
    o->executed_quote = quote;
    if (has_fee) {
        if (fi == o->n_fee_assets) {
            strcpy(o->fees[fi].asset, f->fee_asset);
            o->n_fee_assets++;
        }
        o->fees[fi].amount = fee_sum;
    }
    int prev = (int)o->state;
    enum clb_order_state s = o->state;
    if (!clb_order_state_is_terminal(s))
        confirm(o);
    if (full == 0)
        s = CLB_ORDER_FILLED;
    else if (s == CLB_ORDER_PENDING_CREATE || s == CLB_ORDER_OPEN)
        s = CLB_ORDER_PARTIALLY_FILLED;
    set_state(t, o, s, now_ns);

    if (t->bus) {
        /* Both events are built before either is published: a listener
         * cannot change what the second one reports. */
        struct clb_event filled, completed;
        make_event(t, o, CLB_EV_ORDER_FILLED, prev, f, now_ns, &filled);
        make_event(t, o, CLB_EV_ORDER_COMPLETED, prev, NULL, now_ns, &completed);
        clb_event_publish(t->bus, &filled);
        if (full == 0)
            clb_event_publish(t->bus, &completed);
    }
    return CLB_OK;
}

/* ---- eviction, lookup, iteration ---------------------------------------- */

/* ---- restore --------------------------------------------------------------- */

/* The public inputs in sequence with the bus detached: every rule of the
 * table applies as for live news, and nothing is published. */
static int restore_steps(struct clb_order_tracker *t, const struct clb_order_restore *r,
                         int64_t now_ns)
{
    const char *cid = r->params.client_order_id;
    int rc;
    if (r->exchange_order_id && r->exchange_order_id[0] &&
        (rc = clb_tracker_on_created(t, cid, r->exchange_order_id, now_ns)) != CLB_OK)
        return rc;
    /* without an exchange id, whatever state was recorded: let the exchange
     * say (a fill below confirms it) */
    if ((!r->exchange_order_id || !r->exchange_order_id[0]) &&
        (rc = clb_tracker_on_create_failed(t, cid, false, CLB_ETIMEDOUT, now_ns)) != CLB_OK)
        return rc;
    for (size_t i = 0; i < r->n_fills; i++)
        if ((rc = clb_tracker_on_fill(t, cid, &r->fills[i], now_ns)) != CLB_OK)
            return rc;
    const struct clb_tracked_order *o = find(t, cid);
    if (r->state == CLB_ORDER_PENDING_CANCEL && !clb_order_state_is_terminal(o->state) &&
        (rc = clb_tracker_on_cancel_requested(t, cid, now_ns)) != CLB_OK)
        return rc;
    return CLB_OK;
}

int clb_tracker_restore(struct clb_order_tracker *t, const struct clb_order_restore *r,
                        int64_t now_ns)
{
    if (!r || (r->n_fills && !r->fills) ||
        (r->state != CLB_ORDER_PENDING_CREATE && r->state != CLB_ORDER_OPEN &&
         r->state != CLB_ORDER_PARTIALLY_FILLED && r->state != CLB_ORDER_PENDING_CANCEL))
        return CLB_EINVAL;
    struct clb_event_bus *bus = t->bus;
    t->bus = NULL;
    int rc = clb_tracker_start_tracking(t, &r->params, now_ns);
    if (rc == CLB_OK && (rc = restore_steps(t, r, now_ns)) != CLB_OK) {
        struct clb_tracked_order *o = find(t, r->params.client_order_id);
        if (o)
            evict(t, o);
    }
    t->bus = bus;
    return rc;
}

int clb_tracker_tick(struct clb_order_tracker *t, int64_t now_ns)
{
    int n = 0;
    uint32_t i = t->head;
    while (i != NONE_) {
        struct clb_tracked_order *o = &t->orders[i];
        i = o->next_;
        if (!clb_order_state_is_terminal(o->state))
            continue;
        /* a status reported more executed than the fills: they may come */
        bool awaiting = clb_dec_cmp(o->exchange_executed_base, o->executed_base) > 0;
        if (now_ns - o->finished_ns >= (awaiting ? t->awaiting_fills_ttl_ns
                                                 : t->finished_ttl_ns)) {
            evict(t, o);
            n++;
        }
    }
    return n;
}

int clb_tracker_remove(struct clb_order_tracker *t, const char *client_order_id)
{
    struct clb_tracked_order *o;
    int rc = lookup(t, client_order_id, &o);
    if (rc != CLB_OK)
        return rc;
    if (!clb_order_state_is_terminal(o->state))
        return CLB_ESTATE;
    evict(t, o);
    return CLB_OK;
}

const struct clb_tracked_order *clb_tracker_get(const struct clb_order_tracker *t,
                                                const char *client_order_id)
{
    return find(t, client_order_id);
}

uint32_t clb_tracker_next_slot(const struct clb_order_tracker *t)
{
    return !t || !t->orders || t->free_head == NONE_ ? UINT32_MAX : t->free_head;
}

const struct clb_tracked_order *clb_tracker_first(const struct clb_order_tracker *t)
{
    return t->head == NONE_ || !t->orders ? NULL : &t->orders[t->head];
}

const struct clb_tracked_order *clb_tracker_next(const struct clb_order_tracker *t,
                                                 const struct clb_tracked_order *o)
{
    return !o || o->next_ == NONE_ ? NULL : &t->orders[o->next_];
}

uint32_t clb_tracker_foreach_live(const struct clb_order_tracker *t, clb_tracker_visit_fn fn,
                                  void *ud)
{
    uint32_t n = 0;
    for (const struct clb_tracked_order *o = clb_tracker_first(t); o; o = clb_tracker_next(t, o)) {
        if (!clb_order_state_is_terminal(o->state)) {
            fn(ud, o);
            n++;
        }
    }
    return n;
}

/* ---- client order ids ---------------------------------------------------- */

static char upper(char c)
{
    return (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
}

int clb_tracker_make_client_id(char *out, size_t cap, const char *prefix, enum clb_side side,
                               const char *market, uint64_t nonce, uint16_t instance)
{
    static const char hex[] = "0123456789abcdef";
    if (!out || !market || (side != CLB_SIDE_BUY && side != CLB_SIDE_SELL))
        return CLB_EINVAL;
    if (!prefix)
        prefix = "";
    size_t plen = strlen(prefix);
    for (size_t i = 0; i < plen; i++)
        if (!is_id_char(prefix[i]))
            return CLB_EINVAL;
    const char *dash = strchr(market, '-');
    if (!dash || dash == market || dash[1] == '\0')
        return CLB_EINVAL;
    for (const char *c = market; *c; c++)
        if (c != dash && !is_alnum(*c))
            return CLB_EINVAL;
    const char *quote = dash + 1;
    size_t qlen = strlen(quote);

    char nonce_hex[16];
    size_t nlen = 0;
    do {
        nonce_hex[nlen++] = hex[nonce & 0xf];
        nonce >>= 4;
    } while (nonce);

    size_t len = plen + 1 + 4 + nlen + 4;
    if (plen > CLB_CLIENT_ORDER_ID_GEN_MAX || len > CLB_CLIENT_ORDER_ID_GEN_MAX || len >= cap)
        return CLB_ERANGE;
    char *p = out;
    memcpy(p, prefix, plen);
    p += plen;
    *p++ = side == CLB_SIDE_BUY ? 'B' : 'S';
    *p++ = upper(market[0]);
    *p++ = upper(dash[-1]);
    *p++ = upper(quote[0]);
    *p++ = upper(quote[qlen - 1]);
    while (nlen > 0)
        *p++ = nonce_hex[--nlen];
    for (int shift = 12; shift >= 0; shift -= 4)
        *p++ = hex[(instance >> shift) & 0xf];
    *p = '\0';
    return (int)len;
}
