/*
 * Tests for core/order_tracker.c: every (state, input) pair from a table of
 * expectations, the reliability rules (unknown create outcome, lost orders,
 * fill dedup, late fills, eviction), validation, the id generator, and a
 * property test against a naive reference state machine.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "event.h"
#include "order_tracker.h"

/* ---- fixture: tracker + bus + event recorder ---------------------------- */

#define REC_MAX 64

struct rec_ev {
    enum clb_event_type type;
    int state, prev;
    bool lost;
    int reason;
    clb_dec executed_base, executed_quote, fill_amount;
    int64_t ts;
    char cid[40], xid[64], tid[64], source[32], market[32];
};

struct rec {
    int n;
    int count[CLB_EV_COUNT_];
    struct rec_ev ev[REC_MAX];
    uint64_t digest;
};

static void on_event(void *ud, const struct clb_event *ev)
{
    struct rec *r = ud;
    const struct clb_order_event *o = &ev->u.order;
    r->count[ev->type]++;
    r->digest = (r->digest ^ (uint64_t)(ev->type * 31 + o->state * 7 + o->prev_state + 1)) *
                0x100000001b3ull;
    r->digest = (r->digest ^ (uint64_t)ev->ts_ns) * 0x100000001b3ull;
    if (r->n < REC_MAX) {
        struct rec_ev *e = &r->ev[r->n];
        e->type = ev->type;
        e->state = o->state;
        e->prev = o->prev_state;
        e->lost = o->lost;
        e->reason = o->reason;
        e->executed_base = o->executed_base;
        e->executed_quote = o->executed_quote;
        e->fill_amount = o->fill_amount;
        e->ts = ev->ts_ns;
        snprintf(e->cid, sizeof(e->cid), "%s", o->client_order_id);
        snprintf(e->xid, sizeof(e->xid), "%s", o->exchange_order_id);
        snprintf(e->tid, sizeof(e->tid), "%s", o->trade_id);
        snprintf(e->source, sizeof(e->source), "%s", ev->source);
        snprintf(e->market, sizeof(e->market), "%s", o->market);
    }
    r->n++;
}

static void rec_reset(struct rec *r)
{
    memset(r, 0, sizeof(*r));
}

struct fx {
    struct clb_order_tracker t;
    struct clb_event_bus bus;
    struct rec rec;
};

static void fx_init(struct fx *f, uint32_t max_orders)
{
    struct clb_tracker_config cfg;
    clb_tracker_config_defaults(&cfg);
    cfg.max_orders = max_orders;
    cfg.source = "test";
    cfg.bus = &f->bus;
    clb_event_bus_init(&f->bus);
    rec_reset(&f->rec);
    cr_assert_geq(clb_event_subscribe(&f->bus, CLB_EV_MASK_ALL, on_event, &f->rec), 0);
    cr_assert_eq(clb_tracker_init(&f->t, &cfg), CLB_OK);
}

static const int64_t SEC = 1000000000ll;

static clb_dec D(int64_t m, int scale)
{
    return clb_dec_make(m, scale);
}

static struct clb_order_params params(const char *id)
{
    return (struct clb_order_params){ .client_order_id = id, .market = "BTC-USDT",
                                      .side = CLB_SIDE_BUY, .type = CLB_ORDER_LIMIT,
                                      .price = D(1000, 1), .amount = D(10, 1) };
}

static int start(struct fx *f, const char *id, int64_t now)
{
    struct clb_order_params p = params(id);
    return clb_tracker_start_tracking(&f->t, &p, now);
}

/* A fill of amount m/10 at price 100.0, fee 0.001 * m/10 USDT. */
static int fill(struct fx *f, const char *id, const char *tid, int64_t m, int64_t now)
{
    struct clb_fill fl = { .trade_id = tid, .price = D(1000, 1), .amount = D(m, 1),
                           .fee = D(m, 4), .fee_asset = "USDT", .is_maker = true };
    return clb_tracker_on_fill(&f->t, id, &fl, now);
}

static const struct clb_tracked_order *get(struct fx *f, const char *id)
{
    return clb_tracker_get(&f->t, id);
}

/* ---- the state x input table --------------------------------------------- */

enum scenario {
    SC_PENDING_CREATE,
    SC_PENDING_CREATE_UNKNOWN,
    SC_OPEN,
    SC_OPEN_NO_XID, /* confirmed by a NEW status carrying no exchange id */
    SC_PARTIAL,
    SC_CANCEL_UNCONFIRMED,
    SC_CANCEL,
    SC_CANCEL_PARTIAL,
    SC_OPEN_XF,
    SC_PARTIAL_XF,
    SC_CANCEL_XF,
    SC_CANCELED,
    SC_CANCELED_UNREQUESTED, /* cancelled outside colibri before any ack */
    SC_FILLED,
    SC_FAILED,
    SC_FAILED_LOST,
    SC_COUNT
};

static const char *const k_sc_names[SC_COUNT] = {
    "pending_create", "pending_create_unknown", "open", "open_no_xid", "partial",
    "cancel_unconfirmed", "cancel", "cancel_partial", "open_xf", "partial_xf", "cancel_xf",
    "canceled", "canceled_unrequested", "filled", "failed", "failed_lost",
};

enum input {
    I_CR_SAME,  /* on_created "X1" */
    I_CR_OTHER, /* on_created "X9" */
    I_CFAIL,
    I_CUNK,
    I_CREQ,
    I_CREJ,
    I_CXLD,
    I_S_NEW,
    I_S_PART,
    I_S_FILL,
    I_S_CXL,
    I_S_EXP,
    I_S_REJ,
    I_NF,
    I_FILL_NEW,  /* new trade id, 0.1 */
    I_FILL_REST, /* new trade id, the rest of the amount (0.1 when nothing is left) */
    I_FILL_T1,   /* trade id t1 (a duplicate where t1 was applied), 0.1 */
    I_FILL_OVER, /* 1.1: more than the amount */
    I_COUNT
};

static const char *const k_in_names[I_COUNT] = {
    "created_same", "created_other", "create_failed", "create_unknown", "cancel_requested",
    "cancel_rejected", "cancelled", "status_new", "status_partial", "status_filled",
    "status_canceled", "status_expired", "status_rejected", "not_found", "fill_new",
    "fill_rest", "fill_t1", "fill_over",
};

/* "OK <state> <events>" or an error name. States: pc open part pcx cxl fill fail.
 * Events: S state, C created, F filled, M completed, X cancelled, A failed, - none. */
#define ROW_PENDING_CREATE                                                               \
    { "OK open C", "OK open C", "OK fail A", "OK pc -", "OK pcx S", "ESTATE", "OK cxl X", \
      "OK open C", "OK open C", "OK open C", "OK cxl X", "OK cxl X", "OK fail A",        \
      "OK pc -", "OK part F", "OK fill FM", "OK part F", "EINVAL" }
#define ROW_OPEN(cr_same, cr_other)                                                        \
    { cr_same, cr_other, "ESTATE", "ESTALE", "OK pcx S", "ESTATE", "OK cxl X", "OK open -", \
      "OK open -", "OK open -", "OK cxl X", "OK cxl X", "OK fail A", "OK open -",          \
      "OK part F", "OK fill FM", "OK part F", "EINVAL" }
#define ROW_XF(creq_rej, stay, fill_t1)                                                   \
    { "EDUPLICATE", "ESTATE", "ESTATE", "ESTALE", "ESTATE", creq_rej, "ESTATE", "ESTALE", \
      "ESTALE", "EDUPLICATE", "ESTATE", "ESTATE", "ESTATE", "ESTATE", "OK " stay " F",    \
      "OK fill FM", fill_t1, "EINVAL" }

static const char *const k_expect[SC_COUNT][I_COUNT] = {
    [SC_PENDING_CREATE] = ROW_PENDING_CREATE,
    [SC_PENDING_CREATE_UNKNOWN] = ROW_PENDING_CREATE,
    [SC_OPEN] = ROW_OPEN("EDUPLICATE", "ESTATE"),
    [SC_OPEN_NO_XID] = ROW_OPEN("OK open -", "OK open -"),
    [SC_PARTIAL] = { "EDUPLICATE", "ESTATE", "ESTATE", "ESTALE", "OK pcx S", "ESTATE",
                     "OK cxl X", "OK part -", "OK part -", "OK part -", "OK cxl X", "OK cxl X",
                     "OK fail A", "OK part -", "OK part F", "OK fill FM", "EDUPLICATE",
                     "EINVAL" },
    [SC_CANCEL_UNCONFIRMED] = { "OK pcx C", "OK pcx C", "OK fail A", "OK pcx -", "OK pcx -",
                                "OK pc S", "OK cxl X", "OK pcx C", "OK pcx C", "OK pcx C",
                                "OK cxl X", "OK cxl X", "OK fail A", "OK pcx -", "OK pcx F",
                                "OK fill FM", "OK pcx F", "EINVAL" },
    [SC_CANCEL] = { "EDUPLICATE", "ESTATE", "ESTATE", "ESTALE", "OK pcx -", "OK open S",
                    "OK cxl X", "OK pcx -", "OK pcx -", "OK pcx -", "OK cxl X", "OK cxl X",
                    "OK fail A", "OK pcx -", "OK pcx F", "OK fill FM", "OK pcx F", "EINVAL" },
    [SC_CANCEL_PARTIAL] = { "EDUPLICATE", "ESTATE", "ESTATE", "ESTALE", "OK pcx -",
                            "OK part S", "OK cxl X", "OK pcx -", "OK pcx -", "OK pcx -",
                            "OK cxl X", "OK cxl X", "OK fail A", "OK pcx -", "OK pcx F",
                            "OK fill FM", "EDUPLICATE", "EINVAL" },
    [SC_OPEN_XF] = ROW_XF("ESTATE", "part", "OK part F"),
    [SC_PARTIAL_XF] = ROW_XF("ESTATE", "part", "EDUPLICATE"),
    [SC_CANCEL_XF] = ROW_XF("OK open S", "pcx", "OK pcx F"),
    [SC_CANCELED] = { "EDUPLICATE", "ESTATE", "ESTATE", "ESTALE", "ESTATE", "ESTALE",
                      "EDUPLICATE", "ESTALE", "ESTALE", "ESTATE", "EDUPLICATE", "EDUPLICATE",
                      "ESTATE", "ESTALE", "OK cxl F", "OK fill FM", "EDUPLICATE", "EINVAL" },
    [SC_CANCELED_UNREQUESTED] = { "OK cxl -", "OK cxl -", "ESTATE", "ESTALE", "ESTATE",
                                  "ESTATE", "EDUPLICATE", "ESTALE", "ESTALE", "ESTATE",
                                  "EDUPLICATE", "EDUPLICATE", "ESTATE", "ESTALE", "OK cxl F",
                                  "OK fill FM", "OK cxl F", "EINVAL" },
    [SC_FILLED] = { "EDUPLICATE", "ESTATE", "ESTATE", "ESTALE", "ESTATE", "ESTATE", "ESTATE",
                    "ESTALE", "ESTALE", "EDUPLICATE", "ESTATE", "ESTATE", "ESTATE", "ESTALE",
                    "EINVAL", "EINVAL", "EDUPLICATE", "EINVAL" },
    [SC_FAILED] = { "ESTATE", "ESTATE", "EDUPLICATE", "ESTALE", "ESTATE", "ESTATE", "ESTATE",
                    "ESTATE", "ESTATE", "ESTATE", "ESTATE", "ESTATE", "EDUPLICATE", "ESTALE",
                    "OK fail F", "OK fill FM", "OK fail F", "EINVAL" },
    [SC_FAILED_LOST] = { "EDUPLICATE", "ESTATE", "EDUPLICATE", "ESTALE", "ESTATE", "ESTALE",
                         "ESTATE", "ESTATE", "ESTATE", "ESTATE", "ESTATE", "ESTATE",
                         "EDUPLICATE", "ESTALE", "OK fail F", "OK fill FM", "OK fail F",
                         "EINVAL" },
};

#define ID "o1"

static void build(struct fx *f, enum scenario sc)
{
    int64_t t = SEC;
    cr_assert_eq(start(f, ID, t++), CLB_OK);
    switch (sc) {
    case SC_PENDING_CREATE:
        break;
    case SC_PENDING_CREATE_UNKNOWN:
        cr_assert_eq(clb_tracker_on_create_failed(&f->t, ID, false, CLB_ETIMEDOUT, t++), CLB_OK);
        break;
    case SC_OPEN_NO_XID:
        cr_assert_eq(clb_tracker_on_status(&f->t, ID, CLB_XORDER_NEW, NULL, D(0, 0), t++), CLB_OK);
        break;
    case SC_CANCEL_UNCONFIRMED:
        cr_assert_eq(clb_tracker_on_cancel_requested(&f->t, ID, t++), CLB_OK);
        break;
    case SC_CANCELED_UNREQUESTED:
        cr_assert_eq(clb_tracker_on_cancelled(&f->t, ID, t++), CLB_OK);
        break;
    case SC_FAILED:
        cr_assert_eq(clb_tracker_on_create_failed(&f->t, ID, true, CLB_EINVAL, t++), CLB_OK);
        break;
    default:
        cr_assert_eq(clb_tracker_on_created(&f->t, ID, "X1", t++), CLB_OK);
        break;
    }
    switch (sc) {
    case SC_PARTIAL:
    case SC_CANCEL_PARTIAL:
    case SC_PARTIAL_XF:
    case SC_CANCELED:
        cr_assert_eq(fill(f, ID, "t1", 4, t++), CLB_OK);
        break;
    case SC_FILLED:
        cr_assert_eq(fill(f, ID, "t1", 10, t++), CLB_OK);
        break;
    default:
        break;
    }
    switch (sc) {
    case SC_CANCEL:
    case SC_CANCEL_PARTIAL:
    case SC_CANCEL_XF:
    case SC_CANCELED:
    case SC_FAILED_LOST:
        cr_assert_eq(clb_tracker_on_cancel_requested(&f->t, ID, t++), CLB_OK);
        break;
    default:
        break;
    }
    switch (sc) {
    case SC_OPEN_XF:
    case SC_PARTIAL_XF:
    case SC_CANCEL_XF:
        cr_assert_eq(clb_tracker_on_status(&f->t, ID, CLB_XORDER_FILLED, "X1", D(10, 1), t++),
                     CLB_OK);
        break;
    case SC_CANCELED:
        cr_assert_eq(clb_tracker_on_cancelled(&f->t, ID, t++), CLB_OK);
        break;
    case SC_FAILED_LOST:
        for (int i = 0; i < 3; i++)
            cr_assert_eq(clb_tracker_on_not_found(&f->t, ID, t++), CLB_OK);
        break;
    default:
        break;
    }
    rec_reset(&f->rec);
}

static int apply(struct fx *f, enum input in, int64_t now)
{
    const struct clb_tracked_order *o = get(f, ID);
    switch (in) {
    case I_CR_SAME:
        return clb_tracker_on_created(&f->t, ID, "X1", now);
    case I_CR_OTHER:
        return clb_tracker_on_created(&f->t, ID, "X9", now);
    case I_CFAIL:
        return clb_tracker_on_create_failed(&f->t, ID, true, CLB_EINVAL, now);
    case I_CUNK:
        return clb_tracker_on_create_failed(&f->t, ID, false, CLB_ETIMEDOUT, now);
    case I_CREQ:
        return clb_tracker_on_cancel_requested(&f->t, ID, now);
    case I_CREJ:
        return clb_tracker_on_cancel_rejected(&f->t, ID, now);
    case I_CXLD:
        return clb_tracker_on_cancelled(&f->t, ID, now);
    case I_S_NEW:
        return clb_tracker_on_status(&f->t, ID, CLB_XORDER_NEW, NULL, D(0, 0), now);
    case I_S_PART:
        return clb_tracker_on_status(&f->t, ID, CLB_XORDER_PARTIALLY_FILLED, NULL, D(5, 1), now);
    case I_S_FILL:
        return clb_tracker_on_status(&f->t, ID, CLB_XORDER_FILLED, NULL, D(1, 0), now);
    case I_S_CXL:
        return clb_tracker_on_status(&f->t, ID, CLB_XORDER_CANCELED, NULL, D(4, 1), now);
    case I_S_EXP:
        return clb_tracker_on_status(&f->t, ID, CLB_XORDER_EXPIRED, NULL, D(4, 1), now);
    case I_S_REJ:
        return clb_tracker_on_status(&f->t, ID, CLB_XORDER_REJECTED, NULL, D(0, 0), now);
    case I_NF:
        return clb_tracker_on_not_found(&f->t, ID, now);
    case I_FILL_NEW:
        return fill(f, ID, "t9", 1, now);
    case I_FILL_REST: {
        int64_t left = 10 - o->executed_base.m; /* executed is at scale 1 */
        return fill(f, ID, "t8", left > 0 ? left : 1, now);
    }
    case I_FILL_T1:
        return fill(f, ID, "t1", 1, now);
    case I_FILL_OVER:
        return fill(f, ID, "t7", 11, now);
    default:
        return CLB_EINVAL;
    }
}

static int state_by_abbrev(const char *s)
{
    static const char *const ab[] = { "pc", "open", "part", "pcx", "cxl", "fill", "fail" };
    for (int i = 0; i < CLB_ORDER_STATE_COUNT_; i++)
        if (strcmp(ab[i], s) == 0)
            return i;
    cr_assert_fail("bad state abbreviation %s", s);
    return -1;
}

static enum clb_event_type event_by_letter(char c)
{
    switch (c) {
    case 'S': return CLB_EV_ORDER_STATE;
    case 'C': return CLB_EV_ORDER_CREATED;
    case 'F': return CLB_EV_ORDER_FILLED;
    case 'M': return CLB_EV_ORDER_COMPLETED;
    case 'X': return CLB_EV_ORDER_CANCELLED;
    case 'A': return CLB_EV_ORDER_FAILED;
    default: cr_assert_fail("bad event letter %c", c); return CLB_EV_COUNT_;
    }
}

/* Byte-level snapshot of an order: its struct and its applied trade ids. */
struct snap {
    struct clb_tracked_order o;
    struct clb_fill_key_ fills[64];
    struct clb_order_tracker t;
};

static void take_snap(struct fx *f, const struct clb_tracked_order *o, struct snap *s)
{
    memcpy(&s->o, o, sizeof(*o));
    cr_assert_leq(o->n_fills, 64);
    memcpy(s->fills, o->fills_, o->n_fills * sizeof(*o->fills_));
    memcpy(&s->t, &f->t, sizeof(f->t));
}

static bool same_as_snap(struct fx *f, const struct clb_tracked_order *o, const struct snap *s)
{
    return memcmp(&s->o, o, sizeof(*o)) == 0 &&
           memcmp(s->fills, o->fills_, o->n_fills * sizeof(*o->fills_)) == 0 &&
           memcmp(&s->t, &f->t, sizeof(f->t)) == 0;
}

Test(order_tracker, every_state_input_pair_follows_the_table)
{
    int checked = 0, illegal = 0;
    for (int sc = 0; sc < SC_COUNT; sc++) {
        for (int in = 0; in < I_COUNT; in++) {
            struct fx f;
            fx_init(&f, 8);
            build(&f, (enum scenario)sc);
            const struct clb_tracked_order *o = get(&f, ID);
            cr_assert_not_null(o);
            struct snap before;
            take_snap(&f, o, &before);
            int live_before = (int)clb_tracker_count_live(&f.t);
            int rc = apply(&f, (enum input)in, 99 * SEC);
            const char *exp = k_expect[sc][in];
            char buf[32], st[8] = "", evs[8] = "";
            snprintf(buf, sizeof(buf), "%s", exp);
            if (strncmp(exp, "OK ", 3) == 0) {
                cr_assert_eq(sscanf(exp + 3, "%7s %7s", st, evs), 2);
                cr_assert_eq(rc, CLB_OK, "%s x %s: got %s, want %s", k_sc_names[sc],
                             k_in_names[in], clb_err_name(rc), exp);
                int want_state = state_by_abbrev(st);
                cr_assert_eq((int)o->state, want_state, "%s x %s: state %s, want %s",
                             k_sc_names[sc], k_in_names[in], clb_order_state_name(o->state),
                             exp);
                int nev = evs[0] == '-' ? 0 : (int)strlen(evs);
                cr_assert_eq(f.rec.n, nev, "%s x %s: %d events, want %s", k_sc_names[sc],
                             k_in_names[in], f.rec.n, exp);
                for (int i = 0; i < nev; i++) {
                    cr_assert_eq(f.rec.ev[i].type, event_by_letter(evs[i]), "%s x %s: event %d",
                                 k_sc_names[sc], k_in_names[in], i);
                    cr_assert_eq(f.rec.ev[i].state, want_state);
                    cr_assert_eq(f.rec.ev[i].prev, (int)before.o.state);
                    cr_assert_eq(f.rec.ev[i].ts, 99 * SEC);
                    cr_assert_str_eq(f.rec.ev[i].cid, ID);
                    cr_assert_str_eq(f.rec.ev[i].source, "test");
                }
                cr_assert_eq(o->updated_ns, 99 * SEC);
                int live_after = clb_order_state_is_terminal(want_state) ? 0 : 1;
                int live_was = clb_order_state_is_terminal(before.o.state) ? 0 : 1;
                cr_assert_eq((int)clb_tracker_count_live(&f.t),
                             live_before - live_was + live_after);
            } else {
                cr_assert_str_eq(clb_err_name(rc), exp, "%s x %s: got %s, want %s",
                                 k_sc_names[sc], k_in_names[in], clb_err_name(rc), exp);
                cr_assert(same_as_snap(&f, o, &before), "%s x %s changed the order",
                          k_sc_names[sc], k_in_names[in]);
                cr_assert_eq(f.rec.n, 0, "%s x %s published an event", k_sc_names[sc],
                             k_in_names[in]);
                illegal += rc == CLB_ESTATE;
            }
            checked++;
            clb_tracker_deinit(&f.t);
        }
    }
    cr_assert_eq(checked, SC_COUNT * I_COUNT);
    cr_assert_gt(illegal, 60);
}

/* ---- lifecycle and events ------------------------------------------------ */

Test(order_tracker, happy_path_publishes_full_events)
{
    struct fx f;
    fx_init(&f, 8);
    cr_assert_eq(start(&f, "hb-1", 10), CLB_OK);
    cr_assert_eq(f.rec.n, 1);
    cr_assert_eq(f.rec.ev[0].type, CLB_EV_ORDER_STATE);
    cr_assert_eq(f.rec.ev[0].prev, CLB_ORDER_STATE_NONE);
    cr_assert_eq(f.rec.ev[0].state, CLB_ORDER_PENDING_CREATE);
    cr_assert_str_eq(f.rec.ev[0].market, "BTC-USDT");
    cr_assert_str_eq(f.rec.ev[0].xid, "");

    cr_assert_eq(clb_tracker_on_created(&f.t, "hb-1", "12345", 20), CLB_OK);
    cr_assert_eq(f.rec.ev[1].type, CLB_EV_ORDER_CREATED);
    cr_assert_str_eq(f.rec.ev[1].xid, "12345");
    cr_assert_eq(clb_tracker_on_created(&f.t, "hb-1", "12345", 21), CLB_EDUPLICATE);
    cr_assert_eq(f.rec.n, 2);

    cr_assert_eq(fill(&f, "hb-1", "T100", 3, 30), CLB_OK);
    cr_assert_eq(f.rec.ev[2].type, CLB_EV_ORDER_FILLED);
    cr_assert_eq(f.rec.ev[2].prev, CLB_ORDER_OPEN);
    cr_assert_eq(f.rec.ev[2].state, CLB_ORDER_PARTIALLY_FILLED);
    cr_assert_str_eq(f.rec.ev[2].tid, "T100");
    cr_assert_eq(clb_dec_cmp(f.rec.ev[2].fill_amount, D(3, 1)), 0);
    cr_assert_eq(clb_dec_cmp(f.rec.ev[2].executed_base, D(3, 1)), 0);
    cr_assert_eq(clb_dec_cmp(f.rec.ev[2].executed_quote, D(30, 0)), 0);

    cr_assert_eq(fill(&f, "hb-1", "T101", 7, 40), CLB_OK);
    cr_assert_eq(f.rec.n, 5);
    cr_assert_eq(f.rec.ev[3].type, CLB_EV_ORDER_FILLED);
    cr_assert_eq(f.rec.ev[4].type, CLB_EV_ORDER_COMPLETED);
    cr_assert_eq(f.rec.ev[4].state, CLB_ORDER_FILLED);
    cr_assert_eq(f.rec.ev[4].ts, 40);

    const struct clb_tracked_order *o = get(&f, "hb-1");
    cr_assert_eq(o->state, CLB_ORDER_FILLED);
    cr_assert_eq(o->n_fills, 2);
    cr_assert_eq(clb_dec_cmp(o->executed_quote, D(100, 0)), 0);
    cr_assert_eq(o->n_fee_assets, 1);
    cr_assert_str_eq(o->fees[0].asset, "USDT");
    cr_assert_eq(clb_dec_cmp(o->fees[0].amount, D(10, 4)), 0);
    cr_assert_eq(o->created_ns, 10);
    cr_assert_eq(o->finished_ns, 40);
    cr_assert_eq(clb_tracker_count_live(&f.t), 0);
    cr_assert_eq(clb_tracker_count(&f.t), 1);
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, works_without_a_bus)
{
    struct clb_order_tracker t;
    struct clb_tracker_config cfg;
    clb_tracker_config_defaults(&cfg);
    cr_assert_eq(clb_tracker_init(&t, &cfg), CLB_OK);
    struct clb_order_params p = params("a");
    cr_assert_eq(clb_tracker_start_tracking(&t, &p, 1), CLB_OK);
    cr_assert_eq(clb_tracker_on_created(&t, "a", "1", 2), CLB_OK);
    cr_assert_eq(clb_tracker_on_cancel_requested(&t, "a", 3), CLB_OK);
    cr_assert_eq(clb_tracker_on_cancelled(&t, "a", 4), CLB_OK);
    cr_assert_eq(clb_tracker_get(&t, "a")->state, CLB_ORDER_CANCELED);
    clb_tracker_deinit(&t);
}

/* ---- unknown create outcome and lost orders ------------------------------ */

Test(order_tracker, unknown_create_outcome_stays_tracked_until_a_status)
{
    struct fx f;
    fx_init(&f, 8);
    cr_assert_eq(start(&f, "u1", 0), CLB_OK);
    rec_reset(&f.rec);
    cr_assert_eq(clb_tracker_on_create_failed(&f.t, "u1", false, CLB_ETIMEDOUT, SEC), CLB_OK);
    const struct clb_tracked_order *o = get(&f, "u1");
    cr_assert(o->creation_outcome_unknown);
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CREATE);
    cr_assert_eq(f.rec.n, 0);
    /* Hours pass: a live order is never evicted. */
    cr_assert_eq(clb_tracker_tick(&f.t, 3600 * SEC), 0);
    cr_assert_eq(get(&f, "u1"), o);
    cr_assert_eq(clb_tracker_count_live(&f.t), 1);
    /* The exchange confirms it (Binance query by origClientOrderId). */
    cr_assert_eq(clb_tracker_on_status(&f.t, "u1", CLB_XORDER_NEW, "777", D(0, 0), 3601 * SEC),
                 CLB_OK);
    cr_assert_eq(o->state, CLB_ORDER_OPEN);
    cr_assert(!o->creation_outcome_unknown);
    cr_assert_str_eq(o->exchange_order_id, "777");
    cr_assert_eq(f.rec.n, 1);
    cr_assert_eq(f.rec.ev[0].type, CLB_EV_ORDER_CREATED);
    cr_assert_eq(f.rec.ev[0].prev, CLB_ORDER_PENDING_CREATE);
    /* A different exchange id in a later status is a contradiction. */
    cr_assert_eq(clb_tracker_on_status(&f.t, "u1", CLB_XORDER_NEW, "778", D(0, 0), 3602 * SEC),
                 CLB_ESTATE);
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, unknown_create_outcome_resolved_by_not_found_answers)
{
    struct fx f;
    fx_init(&f, 8);
    cr_assert_eq(start(&f, "u2", 0), CLB_OK);
    cr_assert_eq(clb_tracker_on_create_failed(&f.t, "u2", false, CLB_EIO, 1), CLB_OK);
    rec_reset(&f.rec);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "u2", 2), CLB_OK);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "u2", 3), CLB_OK);
    const struct clb_tracked_order *o = get(&f, "u2");
    cr_assert_eq(o->not_found_count, 2);
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CREATE);
    cr_assert_eq(f.rec.n, 0);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "u2", 4), CLB_OK);
    cr_assert_eq(o->state, CLB_ORDER_FAILED);
    cr_assert(o->lost);
    cr_assert_eq(o->fail_reason, CLB_ENOTFOUND);
    cr_assert_eq(f.rec.n, 1);
    cr_assert_eq(f.rec.ev[0].type, CLB_EV_ORDER_FAILED);
    cr_assert(f.rec.ev[0].lost);
    cr_assert_eq(f.rec.ev[0].reason, CLB_ENOTFOUND);
    /* Late fills of a lost order still count. */
    cr_assert_eq(fill(&f, "u2", "late", 2, 5), CLB_OK);
    cr_assert_eq(o->state, CLB_ORDER_FAILED);
    cr_assert_eq(clb_dec_cmp(o->executed_base, D(2, 1)), 0);
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, network_errors_never_make_an_order_lost)
{
    struct fx f;
    fx_init(&f, 8);
    cr_assert_eq(start(&f, "n1", 0), CLB_OK);
    /* Repeated timeouts of the create call: still in flight, never lost. */
    for (int i = 0; i < 100; i++)
        cr_assert_eq(clb_tracker_on_create_failed(&f.t, "n1", false, CLB_ETIMEDOUT, i + 1),
                     CLB_OK);
    const struct clb_tracked_order *o = get(&f, "n1");
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CREATE);
    cr_assert(!o->lost);
    cr_assert_eq(o->not_found_count, 0);
    /* Two not-founds, then a successful status in between resets the count. */
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "n1", 200), CLB_OK);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "n1", 201), CLB_OK);
    cr_assert_eq(clb_tracker_on_status(&f.t, "n1", CLB_XORDER_NEW, NULL, D(0, 0), 202), CLB_OK);
    cr_assert_eq(o->not_found_count, 0);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "n1", 203), CLB_OK);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "n1", 204), CLB_OK);
    cr_assert_eq(o->state, CLB_ORDER_OPEN);
    /* A fill is a confirmation too. */
    cr_assert_eq(fill(&f, "n1", "f1", 1, 205), CLB_OK);
    cr_assert_eq(o->not_found_count, 0);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "n1", 206), CLB_OK);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "n1", 207), CLB_OK);
    cr_assert(!o->lost);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, "n1", 208), CLB_OK);
    cr_assert(o->lost);
    cr_assert_eq(o->state, CLB_ORDER_FAILED);
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, lost_threshold_is_configurable)
{
    struct clb_order_tracker t;
    struct clb_tracker_config cfg;
    clb_tracker_config_defaults(&cfg);
    cfg.lost_threshold = 1;
    cr_assert_eq(clb_tracker_init(&t, &cfg), CLB_OK);
    struct clb_order_params p = params("a");
    cr_assert_eq(clb_tracker_start_tracking(&t, &p, 1), CLB_OK);
    cr_assert_eq(clb_tracker_on_not_found(&t, "a", 2), CLB_OK);
    cr_assert(clb_tracker_get(&t, "a")->lost);
    clb_tracker_deinit(&t);
}

Test(order_tracker, cancel_before_ack_then_ack_then_reject)
{
    struct fx f;
    fx_init(&f, 8);
    cr_assert_eq(start(&f, "c1", 0), CLB_OK);
    cr_assert_eq(clb_tracker_on_cancel_requested(&f.t, "c1", 1), CLB_OK);
    cr_assert_eq(clb_tracker_on_cancel_requested(&f.t, "c1", 2), CLB_OK); /* retry */
    const struct clb_tracked_order *o = get(&f, "c1");
    cr_assert_eq(o->cancel_requests, 2);
    cr_assert_eq(o->last_cancel_request_ns, 2);
    cr_assert_eq(clb_tracker_on_created(&f.t, "c1", "55", 3), CLB_OK);
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CANCEL);
    cr_assert(o->confirmed);
    /* Now the create can no longer be "failed": it exists. */
    cr_assert_eq(clb_tracker_on_create_failed(&f.t, "c1", true, CLB_EINVAL, 4), CLB_ESTATE);
    cr_assert_eq(clb_tracker_on_cancel_rejected(&f.t, "c1", 5), CLB_OK);
    cr_assert_eq(o->state, CLB_ORDER_OPEN);
    /* A second rejection answering the retry is stale, not illegal. */
    cr_assert_eq(clb_tracker_on_cancel_rejected(&f.t, "c1", 6), CLB_ESTALE);
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, exchange_filled_waits_for_fills)
{
    struct fx f;
    fx_init(&f, 8);
    cr_assert_eq(start(&f, "x1", 0), CLB_OK);
    cr_assert_eq(clb_tracker_on_created(&f.t, "x1", "9", 1), CLB_OK);
    cr_assert_eq(fill(&f, "x1", "a", 3, 2), CLB_OK);
    rec_reset(&f.rec);
    cr_assert_eq(clb_tracker_on_status(&f.t, "x1", CLB_XORDER_FILLED, "9", D(10, 1), 3), CLB_OK);
    const struct clb_tracked_order *o = get(&f, "x1");
    cr_assert(o->exchange_filled);
    cr_assert_eq(o->state, CLB_ORDER_PARTIALLY_FILLED);
    cr_assert_eq(clb_dec_cmp(o->executed_base, D(3, 1)), 0); /* not from the status */
    cr_assert_eq(clb_dec_cmp(o->exchange_executed_base, D(10, 1)), 0);
    cr_assert_eq(f.rec.n, 0);
    cr_assert_eq(clb_tracker_on_cancel_requested(&f.t, "x1", 4), CLB_ESTATE);
    /* FILLED must report the whole amount. */
    cr_assert_eq(clb_tracker_on_status(&f.t, "x1", CLB_XORDER_FILLED, "9", D(9, 1), 5),
                 CLB_EINVAL);
    cr_assert_eq(fill(&f, "x1", "b", 7, 6), CLB_OK);
    cr_assert_eq(o->state, CLB_ORDER_FILLED);
    cr_assert_eq(f.rec.n, 2);
    cr_assert_eq(f.rec.ev[1].type, CLB_EV_ORDER_COMPLETED);
    clb_tracker_deinit(&f.t);
}

/* ---- fills ---------------------------------------------------------------- */

Test(order_tracker, duplicate_late_and_over_fills)
{
    struct fx f;
    fx_init(&f, 8);
    cr_assert_eq(start(&f, "d1", 0), CLB_OK);
    cr_assert_eq(clb_tracker_on_created(&f.t, "d1", "1", 1), CLB_OK);
    cr_assert_eq(fill(&f, "d1", "100", 2, 2), CLB_OK);
    cr_assert_eq(fill(&f, "d1", "100", 2, 3), CLB_EDUPLICATE);
    cr_assert_eq(fill(&f, "d1", "100", 5, 3), CLB_EDUPLICATE); /* same id, other amount */
    cr_assert_eq(clb_tracker_on_cancel_requested(&f.t, "d1", 4), CLB_OK);
    cr_assert_eq(clb_tracker_on_cancelled(&f.t, "d1", 5), CLB_OK);
    rec_reset(&f.rec);
    /* A fill that happened before the cancel arrives after it: applied once. */
    cr_assert_eq(fill(&f, "d1", "101", 3, 6), CLB_OK);
    cr_assert_eq(fill(&f, "d1", "101", 3, 7), CLB_EDUPLICATE);
    const struct clb_tracked_order *o = get(&f, "d1");
    cr_assert_eq(o->state, CLB_ORDER_CANCELED);
    cr_assert_eq(clb_dec_cmp(o->executed_base, D(5, 1)), 0);
    cr_assert_eq(o->n_fills, 2);
    cr_assert_eq(f.rec.n, 1);
    cr_assert_eq(f.rec.ev[0].type, CLB_EV_ORDER_FILLED);
    cr_assert_eq(f.rec.ev[0].prev, CLB_ORDER_CANCELED);
    /* Overfill: 0.5 + 0.6 > 1.0. */
    cr_assert_eq(fill(&f, "d1", "102", 6, 8), CLB_EINVAL);
    cr_assert_eq(o->n_fills, 2);
    cr_assert_eq(fill(&f, "d1", "102", 5, 8), CLB_OK);
    cr_assert_eq(o->state, CLB_ORDER_FILLED);
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, fill_ids_grow_to_the_limit_and_fees_sum_per_asset)
{
    struct clb_order_tracker t;
    struct clb_tracker_config cfg;
    clb_tracker_config_defaults(&cfg);
    cfg.max_fills_per_order = 40;
    cr_assert_eq(clb_tracker_init(&t, &cfg), CLB_OK);
    struct clb_order_params p = params("g");
    p.amount = D(1000, 0);
    cr_assert_eq(clb_tracker_start_tracking(&t, &p, 0), CLB_OK);
    static const char *const assets[] = { "BNB", "USDT", "BTC", "ETH", "XRP" };
    for (int i = 0; i < 40; i++) {
        char tid[16];
        snprintf(tid, sizeof(tid), "%d", 5000 + i);
        struct clb_fill fl = { .trade_id = tid, .price = D(1, 0), .amount = D(1, 0),
                               .fee = D(1, 2), .fee_asset = assets[i % 4] };
        cr_assert_eq(clb_tracker_on_fill(&t, "g", &fl, i), CLB_OK, "fill %d", i);
    }
    const struct clb_tracked_order *o = clb_tracker_get(&t, "g");
    cr_assert_eq(o->n_fills, 40);
    cr_assert_eq(o->n_fee_assets, 4);
    cr_assert_str_eq(o->fees[0].asset, "BNB");
    cr_assert_eq(clb_dec_cmp(o->fees[1].amount, D(10, 2)), 0);
    /* Every id is still recognised after the list grew. */
    for (int i = 0; i < 40; i++) {
        char tid[16];
        snprintf(tid, sizeof(tid), "%d", 5000 + i);
        struct clb_fill fl = { .trade_id = tid, .price = D(1, 0), .amount = D(1, 0) };
        cr_assert_eq(clb_tracker_on_fill(&t, "g", &fl, 100), CLB_EDUPLICATE);
    }
    struct clb_fill more = { .trade_id = "x", .price = D(1, 0), .amount = D(1, 0) };
    cr_assert_eq(clb_tracker_on_fill(&t, "g", &more, 100), CLB_EFULL);
    clb_tracker_deinit(&t);

    /* A fifth fee asset does not fit. */
    cr_assert_eq(clb_tracker_init(&t, &cfg), CLB_OK);
    cr_assert_eq(clb_tracker_start_tracking(&t, &p, 0), CLB_OK);
    for (int i = 0; i < 5; i++) {
        char tid[16];
        snprintf(tid, sizeof(tid), "f%d", i);
        struct clb_fill fl = { .trade_id = tid, .price = D(1, 0), .amount = D(1, 0),
                               .fee = D(-1, 3), .fee_asset = assets[i] };
        cr_assert_eq(clb_tracker_on_fill(&t, "g", &fl, i), i < 4 ? CLB_OK : CLB_EFULL);
    }
    clb_tracker_deinit(&t);
}

Test(order_tracker, fill_validation)
{
    struct fx f;
    fx_init(&f, 4);
    cr_assert_eq(start(&f, "v", 0), CLB_OK);
    struct clb_fill ok = { .trade_id = "1", .price = D(1, 0), .amount = D(1, 1) };
    struct clb_fill bad = ok;
    bad.trade_id = "";
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &bad, 1), CLB_EINVAL);
    bad = ok;
    bad.trade_id = NULL;
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &bad, 1), CLB_EINVAL);
    bad = ok;
    bad.amount = D(0, 0);
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &bad, 1), CLB_EINVAL);
    bad = ok;
    bad.price = D(-1, 0);
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &bad, 1), CLB_EINVAL);
    bad = ok;
    bad.fee = D(1, 3); /* a fee without its asset */
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &bad, 1), CLB_EINVAL);
    bad = ok;
    bad.amount.scale = 40;
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &bad, 1), CLB_EINVAL);
    char long_id[80];
    memset(long_id, '7', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    bad = ok;
    bad.trade_id = long_id;
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &bad, 1), CLB_EINVAL);
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", NULL, 1), CLB_EINVAL);
    bad = ok;
    bad.fee = D(1, 3);
    bad.fee_asset = "AVERYLONGASSETNAME";
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &bad, 1), CLB_EINVAL);
    /* Sums that do not fit an int64 mantissa are refused, nothing changes. */
    bad = ok;
    bad.price = D(INT64_MAX / 2, 0);
    bad.amount = D(3, 1);
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &bad, 1), CLB_EOVERFLOW);
    cr_assert_eq(clb_tracker_on_fill(&f.t, "nope", &ok, 1), CLB_ENOTFOUND);
    cr_assert_eq(get(&f, "v")->n_fills, 0);
    cr_assert_eq(clb_tracker_on_fill(&f.t, "v", &ok, 1), CLB_OK);
    clb_tracker_deinit(&f.t);
}

/* ---- eviction, capacity, iteration -------------------------------------- */

Test(order_tracker, finished_orders_take_late_fills_until_evicted)
{
    struct fx f;
    fx_init(&f, 4);
    int64_t t0 = 1000 * SEC;
    cr_assert_eq(start(&f, "e1", t0), CLB_OK);
    cr_assert_eq(clb_tracker_on_created(&f.t, "e1", "1", t0), CLB_OK);
    cr_assert_eq(clb_tracker_on_cancelled(&f.t, "e1", t0 + SEC), CLB_OK);
    cr_assert_eq(clb_tracker_tick(&f.t, t0 + 30 * SEC), 0);
    cr_assert_eq(fill(&f, "e1", "late", 4, t0 + 30 * SEC), CLB_OK);
    cr_assert_eq(clb_tracker_tick(&f.t, t0 + 31 * SEC - 1), 0);
    cr_assert_eq(clb_tracker_tick(&f.t, t0 + 31 * SEC), 1);
    cr_assert_null(get(&f, "e1"));
    cr_assert_eq(fill(&f, "e1", "later", 1, t0 + 32 * SEC), CLB_ENOTFOUND);
    cr_assert_eq(clb_tracker_on_cancelled(&f.t, "e1", t0 + 32 * SEC), CLB_ENOTFOUND);
    cr_assert_eq(clb_tracker_count(&f.t), 0);
    /* The id may be used again once evicted. */
    cr_assert_eq(start(&f, "e1", t0 + 33 * SEC), CLB_OK);
    cr_assert_eq(get(&f, "e1")->n_fills, 0);
    clb_tracker_deinit(&f.t);
}

/* A CANCELED status reporting more executed than the fills keeps the order
 * (awaiting fills, 24 h by default) past the 30 s, so its trades still land
 * after an outage; once they cover it, it goes at the next tick. Another
 * one whose fills never come goes after the 24 h. */
Test(order_tracker, cancelled_orders_awaiting_fills_stay_until_they_come)
{
    struct fx f;
    fx_init(&f, 4);
    const int64_t t0 = 1000 * SEC, hour = 3600 * SEC;
    cr_assert_eq(start(&f, "w1", t0), CLB_OK); /* amount 1.0 */
    cr_assert_eq(start(&f, "w2", t0), CLB_OK);
    cr_assert_eq(clb_tracker_on_created(&f.t, "w1", "1", t0), CLB_OK);
    cr_assert_eq(clb_tracker_on_created(&f.t, "w2", "2", t0), CLB_OK);
    cr_assert_eq(clb_tracker_on_status(&f.t, "w1", CLB_XORDER_CANCELED, "1", D(4, 1), t0 + SEC),
                 CLB_OK);
    cr_assert_eq(clb_tracker_on_status(&f.t, "w2", CLB_XORDER_CANCELED, "2", D(3, 1), t0 + SEC),
                 CLB_OK);
    cr_assert_eq(get(&f, "w1")->state, CLB_ORDER_CANCELED);
    cr_assert_eq(clb_tracker_tick(&f.t, t0 + 31 * SEC), 0);
    cr_assert_eq(clb_tracker_tick(&f.t, t0 + hour), 0);
    /* w1's trades come an hour later, in two parts */
    cr_assert_eq(fill(&f, "w1", "a", 1, t0 + hour), CLB_OK);
    cr_assert_eq(clb_tracker_tick(&f.t, t0 + hour + 1), 0); /* 0.1 of 0.4 */
    cr_assert_eq(fill(&f, "w1", "b", 3, t0 + hour + 2), CLB_OK);
    cr_assert_eq(clb_dec_cmp(get(&f, "w1")->executed_base, D(4, 1)), 0);
    cr_assert_eq(clb_tracker_tick(&f.t, t0 + hour + 3), 1);
    cr_assert_null(get(&f, "w1"));
    /* w2's never do */
    cr_assert_eq(clb_tracker_tick(&f.t, t0 + SEC + 24 * hour - 1), 0);
    cr_assert_not_null(get(&f, "w2"));
    cr_assert_eq(clb_tracker_tick(&f.t, t0 + SEC + 24 * hour), 1);
    cr_assert_null(get(&f, "w2"));
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, capacity_duplicates_and_remove)
{
    struct fx f;
    fx_init(&f, 3);
    cr_assert_eq(start(&f, "a", 0), CLB_OK);
    cr_assert_eq(start(&f, "a", 0), CLB_EEXIST);
    cr_assert_eq(start(&f, "b", 0), CLB_OK);
    cr_assert_eq(start(&f, "c", 0), CLB_OK);
    cr_assert_eq(start(&f, "d", 0), CLB_EFULL);
    cr_assert_eq(clb_tracker_remove(&f.t, "b"), CLB_ESTATE);
    cr_assert_eq(clb_tracker_on_create_failed(&f.t, "b", true, CLB_EINVAL, 1), CLB_OK);
    cr_assert_eq(start(&f, "d", 2), CLB_EFULL); /* finished orders count until evicted */
    cr_assert_eq(clb_tracker_remove(&f.t, "b"), CLB_OK);
    cr_assert_eq(clb_tracker_remove(&f.t, "b"), CLB_ENOTFOUND);
    cr_assert_eq(start(&f, "d", 3), CLB_OK);
    cr_assert_not_null(get(&f, "a"));
    cr_assert_not_null(get(&f, "c"));
    cr_assert_not_null(get(&f, "d"));
    cr_assert_eq(clb_tracker_count(&f.t), 3);
    clb_tracker_deinit(&f.t);
}

/* next_slot names the slot each start fills, a freed one included, and
 * UINT32_MAX when the pool is full. */
Test(order_tracker, next_slot_is_the_slot_the_next_start_fills)
{
    struct fx f;
    fx_init(&f, 3);
    const char *ids[] = { "a", "b", "c" };
    for (int i = 0; i < 3; i++) {
        uint32_t slot = clb_tracker_next_slot(&f.t);
        cr_assert_lt(slot, 3u);
        cr_assert_eq(start(&f, ids[i], 0), CLB_OK);
        cr_assert_eq(get(&f, ids[i]), &f.t.orders[slot], "%s went elsewhere", ids[i]);
    }
    cr_assert_eq(clb_tracker_next_slot(&f.t), UINT32_MAX);
    const struct clb_tracked_order *b = get(&f, "b");
    cr_assert_eq(clb_tracker_on_create_failed(&f.t, "b", true, CLB_EINVAL, 1), CLB_OK);
    cr_assert_eq(clb_tracker_next_slot(&f.t), UINT32_MAX); /* finished, not evicted */
    cr_assert_eq(clb_tracker_remove(&f.t, "b"), CLB_OK);
    cr_assert_eq(clb_tracker_next_slot(&f.t), (uint32_t)(b - f.t.orders));
    cr_assert_eq(start(&f, "d", 2), CLB_OK);
    cr_assert_eq(get(&f, "d"), b);
    cr_assert_eq(clb_tracker_next_slot(NULL), UINT32_MAX);
    clb_tracker_deinit(&f.t);
}

static void collect(void *ud, const struct clb_tracked_order *o)
{
    char *s = ud;
    strcat(s, o->client_order_id);
}

Test(order_tracker, iteration_in_tracking_order)
{
    struct fx f;
    fx_init(&f, 8);
    const char *ids[] = { "p", "q", "r", "s", "t" };
    for (int i = 0; i < 5; i++)
        cr_assert_eq(start(&f, ids[i], i), CLB_OK);
    cr_assert_eq(clb_tracker_on_cancelled(&f.t, "r", 10), CLB_OK);
    cr_assert_eq(clb_tracker_remove(&f.t, "r"), CLB_OK);
    cr_assert_eq(clb_tracker_on_cancelled(&f.t, "p", 11), CLB_OK);
    cr_assert_eq(start(&f, "u", 12), CLB_OK);
    char all[16] = "";
    for (const struct clb_tracked_order *o = clb_tracker_first(&f.t); o;
         o = clb_tracker_next(&f.t, o))
        strcat(all, o->client_order_id);
    cr_assert_str_eq(all, "pqstu");
    char live[16] = "";
    cr_assert_eq(clb_tracker_foreach_live(&f.t, collect, live), 4);
    cr_assert_str_eq(live, "qstu");
    cr_assert_eq(clb_tracker_count_live(&f.t), 4);
    cr_assert_eq(clb_tracker_count(&f.t), 5);
    clb_tracker_deinit(&f.t);
}

/* ---- validation ------------------------------------------------------------ */

Test(order_tracker, start_tracking_validates_everything)
{
    struct fx f;
    fx_init(&f, 4);
    struct clb_order_params p = params("ok");
    p.client_order_id = "";
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p.client_order_id = "abcdefghijabcdefghijabcdefghijabcdefg"; /* 37 */
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p.client_order_id = "abcdefghijabcdefghijabcdefghijabcdef"; /* 36 */
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_OK);
    p.client_order_id = "has space";
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p.client_order_id = "semi;colon";
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p.client_order_id = NULL;
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p = params("x");
    p.market = "";
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p.market = "AVERYLONGBASEASSETNAME-ANDQUOTE1"; /* 32 bytes: no room for the NUL */
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p = params("x");
    p.amount = D(0, 0);
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p = params("x");
    p.price = D(0, 0);
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p.type = CLB_ORDER_MARKET;
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_OK);
    p = params("y");
    p.side = (enum clb_side)7;
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p = params("y");
    p.type = (enum clb_order_type)9;
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    p = params("y");
    p.price.scale = -1;
    cr_assert_eq(clb_tracker_start_tracking(&f.t, &p, 0), CLB_EINVAL);
    cr_assert_eq(clb_tracker_start_tracking(&f.t, NULL, 0), CLB_EINVAL);
    cr_assert_eq(clb_tracker_count(&f.t), 2);

    /* Inputs validate their arguments before the lookup. */
    cr_assert_eq(clb_tracker_on_created(&f.t, "x", "", 1), CLB_EINVAL);
    cr_assert_eq(clb_tracker_on_created(&f.t, "x", "a b", 1), CLB_EINVAL);
    cr_assert_eq(clb_tracker_on_created(&f.t, "zz", "1", 1), CLB_ENOTFOUND);
    cr_assert_eq(clb_tracker_on_created(&f.t, NULL, "1", 1), CLB_EINVAL);
    cr_assert_eq(clb_tracker_on_create_failed(&f.t, "x", true, 0, 1), CLB_EINVAL);
    cr_assert_eq(clb_tracker_on_create_failed(&f.t, "x", true, 5, 1), CLB_EINVAL);
    cr_assert_eq(clb_tracker_on_status(&f.t, "x", (enum clb_xorder_status)17, NULL, D(0, 0), 1),
                 CLB_EINVAL);
    cr_assert_eq(clb_tracker_on_status(&f.t, "x", CLB_XORDER_NEW, NULL, D(-1, 0), 1),
                 CLB_EINVAL);
    cr_assert_eq(clb_tracker_on_status(&f.t, "x", CLB_XORDER_NEW, NULL, D(11, 1), 1),
                 CLB_EINVAL);
    cr_assert_eq(clb_tracker_on_cancel_requested(&f.t, "zz", 1), CLB_ENOTFOUND);
    cr_assert_eq(clb_tracker_on_not_found(&f.t, NULL, 1), CLB_EINVAL);
    cr_assert_eq(get(&f, "x")->state, CLB_ORDER_PENDING_CREATE);
    cr_assert_null(clb_tracker_get(&f.t, NULL));
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, init_rejects_bad_configs)
{
    struct clb_order_tracker t;
    struct clb_tracker_config cfg;
    clb_tracker_config_defaults(&cfg);
    cfg.max_orders = 0;
    cr_assert_eq(clb_tracker_init(&t, &cfg), CLB_EINVAL);
    clb_tracker_config_defaults(&cfg);
    cfg.lost_threshold = 0;
    cr_assert_eq(clb_tracker_init(&t, &cfg), CLB_EINVAL);
    clb_tracker_config_defaults(&cfg);
    cfg.finished_ttl_ns = -1;
    cr_assert_eq(clb_tracker_init(&t, &cfg), CLB_EINVAL);
    clb_tracker_config_defaults(&cfg);
    cfg.source = "a-source-name-that-is-far-too-long-to-fit";
    cr_assert_eq(clb_tracker_init(&t, &cfg), CLB_EINVAL);
    cr_assert_eq(clb_tracker_init(&t, NULL), CLB_EINVAL);
    cr_assert_null(clb_tracker_first(&t));
    cr_assert_null(clb_tracker_get(&t, "a"));
    cr_assert_str_eq(clb_order_state_name(CLB_ORDER_PENDING_CANCEL), "pending_cancel");
    cr_assert_str_eq(clb_order_state_name(CLB_ORDER_STATE_NONE), "none");
    cr_assert_str_eq(clb_order_state_name(42), "unknown");
}

/* ---- client order ids ---------------------------------------------------- */

Test(order_tracker, client_id_generator_follows_hummingbot)
{
    char id[40];
    int n = clb_tracker_make_client_id(id, sizeof(id), "hb-", CLB_SIDE_BUY, "BTC-USDT",
                                       0x5f3a1b2c3d4e5ull, 0x1a2b);
    cr_assert_str_eq(id, "hb-BBCUT5f3a1b2c3d4e51a2b");
    cr_assert_eq(n, (int)strlen(id));
    n = clb_tracker_make_client_id(id, sizeof(id), NULL, CLB_SIDE_SELL, "eth-btc", 0, 7);
    cr_assert_str_eq(id, "SEHBC00007");
    cr_assert_eq(n, 10);
    /* Deterministic, and distinct for distinct nonces. */
    char a[40], b[40];
    clb_tracker_make_client_id(a, sizeof(a), "x", CLB_SIDE_BUY, "1INCH-USDT", 1000, 1);
    clb_tracker_make_client_id(b, sizeof(b), "x", CLB_SIDE_BUY, "1INCH-USDT", 1000, 1);
    cr_assert_str_eq(a, b);
    cr_assert_str_eq(a, "xB1HUT3e80001");
    clb_tracker_make_client_id(b, sizeof(b), "x", CLB_SIDE_BUY, "1INCH-USDT", 1001, 1);
    cr_assert_str_neq(a, b);
    /* The result is a valid trackable id. */
    struct fx f;
    fx_init(&f, 2);
    cr_assert_eq(start(&f, a, 0), CLB_OK);
    clb_tracker_deinit(&f.t);
    /* Limits. */
    n = clb_tracker_make_client_id(id, sizeof(id), "a-prefix-long-", CLB_SIDE_BUY, "BTC-USDT",
                                   UINT64_MAX, 0);
    cr_assert_eq(n, CLB_ERANGE); /* 14 + 5 + 16 + 4 = 39 > 32 */
    n = clb_tracker_make_client_id(id, sizeof(id), "pre-", CLB_SIDE_BUY, "BTC-USDT",
                                   UINT64_MAX, 0);
    cr_assert_eq(n, 29);
    cr_assert_eq(clb_tracker_make_client_id(id, 11, "", CLB_SIDE_BUY, "BTC-USDT", 1, 0), 10);
    cr_assert_str_eq(id, "BBCUT10000");
    cr_assert_eq(clb_tracker_make_client_id(id, 10, "", CLB_SIDE_BUY, "BTC-USDT", 0x10, 0),
                 CLB_ERANGE);
    cr_assert_eq(clb_tracker_make_client_id(id, sizeof(id), "", CLB_SIDE_BUY, "BTCUSDT", 1, 0),
                 CLB_EINVAL);
    cr_assert_eq(clb_tracker_make_client_id(id, sizeof(id), "", CLB_SIDE_BUY, "-USDT", 1, 0),
                 CLB_EINVAL);
    cr_assert_eq(clb_tracker_make_client_id(id, sizeof(id), "", CLB_SIDE_BUY, "BTC-", 1, 0),
                 CLB_EINVAL);
    cr_assert_eq(clb_tracker_make_client_id(id, sizeof(id), "", CLB_SIDE_BUY, "BT/C-USDT", 1, 0),
                 CLB_EINVAL);
    cr_assert_eq(clb_tracker_make_client_id(id, sizeof(id), "b d", CLB_SIDE_BUY, "BTC-USDT", 1,
                                            0),
                 CLB_EINVAL);
    cr_assert_eq(clb_tracker_make_client_id(id, sizeof(id), "", (enum clb_side)3, "BTC-USDT", 1,
                                            0),
                 CLB_EINVAL);
}

/* ---- listeners may call back in ------------------------------------------ */

struct reentrant {
    struct clb_order_tracker *t;
    int cancels;
};

static void cancel_on_created(void *ud, const struct clb_event *ev)
{
    struct reentrant *r = ud;
    if (ev->type == CLB_EV_ORDER_CREATED) {
        cr_assert_eq(clb_tracker_on_cancel_requested(r->t, ev->u.order.client_order_id,
                                                     ev->ts_ns),
                     CLB_OK);
        r->cancels++;
    }
}

Test(order_tracker, listener_can_act_on_the_order_it_hears_about)
{
    struct fx f;
    fx_init(&f, 4);
    struct reentrant r = { .t = &f.t };
    cr_assert_geq(clb_event_subscribe(&f.bus, CLB_EV_MASK_ORDERS, cancel_on_created, &r), 0);
    cr_assert_eq(start(&f, "r1", 0), CLB_OK);
    rec_reset(&f.rec);
    cr_assert_eq(clb_tracker_on_created(&f.t, "r1", "8", 1), CLB_OK);
    cr_assert_eq(r.cancels, 1);
    cr_assert_eq(get(&f, "r1")->state, CLB_ORDER_PENDING_CANCEL);
    cr_assert_eq(f.rec.n, 2);
    cr_assert_eq(f.rec.ev[0].type, CLB_EV_ORDER_CREATED);
    cr_assert_eq(f.rec.ev[0].state, CLB_ORDER_OPEN);
    cr_assert_eq(f.rec.ev[1].type, CLB_EV_ORDER_STATE);
    cr_assert_eq(f.rec.ev[1].prev, CLB_ORDER_OPEN);
    clb_tracker_deinit(&f.t);
}

/* ---- restore from an earlier run -------------------------------------------- */

static struct clb_fill mkfill(const char *tid, int64_t m)
{
    return (struct clb_fill){ .trade_id = tid, .price = D(1000, 1), .amount = D(m, 1),
                              .fee = D(m, 4), .fee_asset = "USDT", .is_maker = true };
}

Test(order_tracker, restore_is_silent_and_only_news_publishes)
{
    struct fx f;
    fx_init(&f, 8);
    struct clb_fill fl[2] = { mkfill("t1", 3), mkfill("t2", 2) };
    struct clb_order_restore r = { .params = params("r1"), .exchange_order_id = "77",
                                   .state = CLB_ORDER_PARTIALLY_FILLED, .fills = fl,
                                   .n_fills = 2 };
    cr_assert_eq(clb_tracker_restore(&f.t, &r, 5), CLB_OK);
    cr_assert_eq(f.rec.n, 0, "restore published %d event(s)", f.rec.n);
    const struct clb_tracked_order *o = get(&f, "r1");
    cr_assert_not_null(o);
    cr_assert_eq(o->state, CLB_ORDER_PARTIALLY_FILLED);
    cr_assert(o->confirmed);
    cr_assert_str_eq(o->exchange_order_id, "77");
    cr_assert_eq(clb_dec_cmp(o->executed_base, D(5, 1)), 0);
    cr_assert_eq(o->n_fills, 2);
    /* a recorded trade reported again is a duplicate; a new one is news */
    cr_assert_eq(fill(&f, "r1", "t2", 2, 6), CLB_EDUPLICATE);
    cr_assert_eq(f.rec.n, 0);
    cr_assert_eq(fill(&f, "r1", "t3", 5, 7), CLB_OK);
    cr_assert_eq(get(&f, "r1")->state, CLB_ORDER_FILLED);
    cr_assert_eq(f.rec.n, 2);
    cr_assert_eq(f.rec.ev[0].type, CLB_EV_ORDER_FILLED);
    cr_assert_eq(f.rec.ev[1].type, CLB_EV_ORDER_COMPLETED);
    cr_assert_eq(clb_tracker_count_live(&f.t), 0);
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, restore_without_exchange_id_is_an_unknown_create)
{
    struct fx f;
    fx_init(&f, 8);
    struct clb_order_restore r = { .params = params("u1"), .state = CLB_ORDER_PENDING_CREATE };
    cr_assert_eq(clb_tracker_restore(&f.t, &r, 5), CLB_OK);
    const struct clb_tracked_order *o = get(&f, "u1");
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CREATE);
    cr_assert(!o->confirmed);
    cr_assert(o->creation_outcome_unknown);
    /* the exchange never got it: lost after the threshold, with an event */
    for (int i = 0; i < 3; i++)
        cr_assert_eq(clb_tracker_on_not_found(&f.t, "u1", 10 + i), CLB_OK);
    cr_assert_eq(get(&f, "u1")->state, CLB_ORDER_FAILED);
    cr_assert(get(&f, "u1")->lost);
    cr_assert_eq(f.rec.n, 1);
    cr_assert_eq(f.rec.ev[0].type, CLB_EV_ORDER_FAILED);

    /* a pending cancel without an id: unconfirmed, one cancel counted; a
     * CANCELED status ends it with one event */
    r = (struct clb_order_restore){ .params = params("u2"), .state = CLB_ORDER_PENDING_CANCEL };
    rec_reset(&f.rec);
    cr_assert_eq(clb_tracker_restore(&f.t, &r, 20), CLB_OK);
    cr_assert_eq(get(&f, "u2")->state, CLB_ORDER_PENDING_CANCEL);
    cr_assert_eq(get(&f, "u2")->cancel_requests, 1);
    cr_assert_eq(clb_tracker_on_status(&f.t, "u2", CLB_XORDER_CANCELED, "9", D(0, 1), 21),
                 CLB_OK);
    cr_assert_eq(get(&f, "u2")->state, CLB_ORDER_CANCELED);
    cr_assert_eq(f.rec.n, 1);
    cr_assert_eq(f.rec.ev[0].type, CLB_EV_ORDER_CANCELLED);
    clb_tracker_deinit(&f.t);
}

Test(order_tracker, restore_refuses_bad_input_and_leaves_nothing)
{
    struct fx f;
    fx_init(&f, 8);
    struct clb_fill over[2] = { mkfill("t1", 6), mkfill("t2", 6) }; /* 1.2 of 1.0 */
    struct clb_order_restore r = { .params = params("b1"), .exchange_order_id = "1",
                                   .state = CLB_ORDER_OPEN, .fills = over, .n_fills = 2 };
    cr_assert_eq(clb_tracker_restore(&f.t, &r, 1), CLB_EINVAL);
    cr_assert_null(get(&f, "b1"));
    cr_assert_eq(clb_tracker_count(&f.t), 0);
    r.n_fills = 0;
    r.state = CLB_ORDER_FILLED; /* terminal: nothing to restore */
    cr_assert_eq(clb_tracker_restore(&f.t, &r, 1), CLB_EINVAL);
    r.state = CLB_ORDER_OPEN;
    r.params.amount = D(0, 1);
    cr_assert_eq(clb_tracker_restore(&f.t, &r, 1), CLB_EINVAL);
    r.params = params("b1");
    cr_assert_eq(clb_tracker_restore(&f.t, &r, 1), CLB_OK);
    cr_assert_eq(clb_tracker_restore(&f.t, &r, 1), CLB_EEXIST);
    cr_assert_eq(clb_tracker_count(&f.t), 1);
    cr_assert_eq(f.rec.n, 0);
    /* the bus is attached again afterwards */
    cr_assert_eq(clb_tracker_on_cancelled(&f.t, "b1", 2), CLB_OK);
    cr_assert_eq(f.rec.n, 1);
    clb_tracker_deinit(&f.t);
}

/* ---- property test against a naive reference ----------------------------- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

#define P_IDS 48
#define P_MAX 32
#define P_TIDS 24
#define P_TTL (10 * SEC)
#define P_AWAIT_TTL (35 * SEC) /* finished orders awaiting fills */

/* The reference: plain arrays and if/else, no table. Amounts are integers at
 * scale 1 (tenths), quote sums at scale 2 (price at scale 1 * amount). */
struct ref {
    bool tracked;
    int64_t seq; /* tracking order */
    int state;
    bool conf, unknown, xf, lost;
    int nf, cancel_reqs;
    int64_t amount, exec, quote, xcum;
    char xid[16];
    bool tid_used[P_TIDS];
    int n_fills;
    int64_t finished;
};

struct model {
    struct ref r[P_IDS];
    int count[CLB_EV_COUNT_];
    int n_tracked;
};

static bool ref_live(const struct ref *r)
{
    return !clb_order_state_is_terminal(r->state);
}

static void ref_set(struct ref *r, int s, int64_t now)
{
    if (ref_live(r) && clb_order_state_is_terminal(s))
        r->finished = now;
    r->state = s;
}

static void ref_confirm(struct ref *r)
{
    r->conf = true;
    r->unknown = false;
    r->nf = 0;
}

enum p_op { P_START, P_CREATED, P_CFAIL, P_CUNK, P_CREQ, P_CREJ, P_CXLD, P_STATUS, P_NF,
            P_FILL, P_TICK, P_REMOVE, P_OPS };

struct p_in {
    enum p_op op;
    int id;
    int64_t now;
    int64_t amount;        /* START: tenths; FILL: tenths */
    int64_t price;         /* FILL: tenths */
    int tid;               /* FILL */
    int xid_kind;          /* CREATED/STATUS: 0 none (status), 1 "X<id>", 2 "Y<id>" */
    enum clb_xorder_status st;
    int64_t cum;           /* STATUS: tenths */
};

static int ref_apply(struct model *m, const struct p_in *in)
{
    struct ref *r = &m->r[in->id];
    char xid[16] = "";
    if (in->xid_kind)
        snprintf(xid, sizeof(xid), "%c%d", in->xid_kind == 1 ? 'X' : 'Y', in->id);

    if (in->op == P_TICK) {
        for (int i = 0; i < P_IDS; i++) {
            /* a status said more was executed than the fills: kept longer */
            int64_t ttl = m->r[i].xcum > m->r[i].exec ? P_AWAIT_TTL : P_TTL;
            if (m->r[i].tracked && !ref_live(&m->r[i]) && in->now - m->r[i].finished >= ttl) {
                m->r[i].tracked = false;
                m->n_tracked--;
            }
        }
        return CLB_OK;
    }
    if (in->op == P_START) {
        if (r->tracked)
            return CLB_EEXIST;
        if (m->n_tracked == P_MAX)
            return CLB_EFULL;
        memset(r, 0, sizeof(*r));
        r->tracked = true;
        r->amount = in->amount;
        r->state = CLB_ORDER_PENDING_CREATE;
        m->n_tracked++;
        m->count[CLB_EV_ORDER_STATE]++;
        return CLB_OK;
    }
    if (!r->tracked)
        return CLB_ENOTFOUND;
    int s = r->state;
    bool term = !ref_live(r);
    switch (in->op) {
    case P_CREATED: {
        if (r->xid[0])
            return strcmp(r->xid, xid) == 0 ? CLB_EDUPLICATE : CLB_ESTATE;
        if (s == CLB_ORDER_FAILED)
            return CLB_ESTATE;
        bool first = !r->conf && !term;
        strcpy(r->xid, xid);
        ref_confirm(r);
        if (s == CLB_ORDER_PENDING_CREATE)
            r->state = CLB_ORDER_OPEN;
        if (first)
            m->count[CLB_EV_ORDER_CREATED]++;
        return CLB_OK;
    }
    case P_CFAIL:
        if (s == CLB_ORDER_PENDING_CREATE || (s == CLB_ORDER_PENDING_CANCEL && !r->conf)) {
            ref_set(r, CLB_ORDER_FAILED, in->now);
            m->count[CLB_EV_ORDER_FAILED]++;
            return CLB_OK;
        }
        return s == CLB_ORDER_FAILED ? CLB_EDUPLICATE : CLB_ESTATE;
    case P_CUNK:
        if (s == CLB_ORDER_PENDING_CREATE || (s == CLB_ORDER_PENDING_CANCEL && !r->conf)) {
            r->unknown = true;
            return CLB_OK;
        }
        return CLB_ESTALE;
    case P_CREQ:
        if (term || r->xf)
            return CLB_ESTATE;
        r->cancel_reqs++;
        if (s != CLB_ORDER_PENDING_CANCEL) {
            r->state = CLB_ORDER_PENDING_CANCEL;
            m->count[CLB_EV_ORDER_STATE]++;
        }
        return CLB_OK;
    case P_CREJ:
        if (s != CLB_ORDER_PENDING_CANCEL)
            return r->cancel_reqs > 0 ? CLB_ESTALE : CLB_ESTATE;
        r->state = !r->conf ? CLB_ORDER_PENDING_CREATE
                 : r->exec > 0 ? CLB_ORDER_PARTIALLY_FILLED : CLB_ORDER_OPEN;
        m->count[CLB_EV_ORDER_STATE]++;
        return CLB_OK;
    case P_CXLD:
        if (s == CLB_ORDER_CANCELED)
            return CLB_EDUPLICATE;
        if (term || r->xf)
            return CLB_ESTATE;
        ref_set(r, CLB_ORDER_CANCELED, in->now);
        m->count[CLB_EV_ORDER_CANCELLED]++;
        return CLB_OK;
    case P_STATUS: {
        if (in->cum > r->amount || (in->st == CLB_XORDER_FILLED && in->cum != r->amount))
            return CLB_EINVAL;
        if (xid[0] && r->xid[0] && strcmp(xid, r->xid) != 0)
            return CLB_ESTATE;
        bool live_st = in->st == CLB_XORDER_NEW || in->st == CLB_XORDER_PARTIALLY_FILLED;
        bool cxl_st = in->st == CLB_XORDER_CANCELED || in->st == CLB_XORDER_EXPIRED;
        if (live_st) {
            if (s == CLB_ORDER_FAILED)
                return CLB_ESTATE;
            if (term || r->xf)
                return CLB_ESTALE;
        } else if (in->st == CLB_XORDER_FILLED) {
            if (s == CLB_ORDER_FILLED || r->xf)
                return CLB_EDUPLICATE;
            if (term)
                return CLB_ESTATE;
        } else if (cxl_st) {
            if (s == CLB_ORDER_CANCELED)
                return CLB_EDUPLICATE;
            if (term || r->xf)
                return CLB_ESTATE;
        } else {
            if (s == CLB_ORDER_FAILED)
                return CLB_EDUPLICATE;
            if (term || r->xf)
                return CLB_ESTATE;
        }
        if (xid[0] && !r->xid[0])
            strcpy(r->xid, xid);
        r->xcum = in->cum;
        if (live_st || in->st == CLB_XORDER_FILLED) {
            bool first = !r->conf;
            ref_confirm(r);
            if (in->st == CLB_XORDER_FILLED)
                r->xf = true;
            if (s == CLB_ORDER_PENDING_CREATE)
                r->state = CLB_ORDER_OPEN;
            if (first)
                m->count[CLB_EV_ORDER_CREATED]++;
        } else if (cxl_st) {
            ref_set(r, CLB_ORDER_CANCELED, in->now);
            m->count[CLB_EV_ORDER_CANCELLED]++;
        } else {
            ref_set(r, CLB_ORDER_FAILED, in->now);
            m->count[CLB_EV_ORDER_FAILED]++;
        }
        return CLB_OK;
    }
    case P_NF:
        if (term)
            return CLB_ESTALE;
        if (r->xf)
            return CLB_ESTATE;
        if (++r->nf >= 3) {
            r->lost = true;
            ref_set(r, CLB_ORDER_FAILED, in->now);
            m->count[CLB_EV_ORDER_FAILED]++;
        }
        return CLB_OK;
    case P_FILL:
        if (r->tid_used[in->tid])
            return CLB_EDUPLICATE;
        if (r->exec + in->amount > r->amount)
            return CLB_EINVAL;
        r->tid_used[in->tid] = true;
        r->n_fills++;
        r->exec += in->amount;
        r->quote += in->amount * in->price;
        if (!term)
            ref_confirm(r);
        m->count[CLB_EV_ORDER_FILLED]++;
        if (r->exec == r->amount) {
            ref_set(r, CLB_ORDER_FILLED, in->now);
            m->count[CLB_EV_ORDER_COMPLETED]++;
        } else if (s == CLB_ORDER_PENDING_CREATE || s == CLB_ORDER_OPEN) {
            r->state = CLB_ORDER_PARTIALLY_FILLED;
        }
        return CLB_OK;
    case P_REMOVE:
        if (!term)
            return CLB_ESTATE;
        r->tracked = false;
        m->n_tracked--;
        return CLB_OK;
    default:
        return CLB_EINVAL;
    }
}

static void id_name(int id, char *buf, size_t cap)
{
    snprintf(buf, cap, "ord-%02d", id);
}

static int real_apply(struct clb_order_tracker *t, const struct p_in *in)
{
    char id[16], xid[16] = "", tid[16];
    id_name(in->id, id, sizeof(id));
    if (in->xid_kind)
        snprintf(xid, sizeof(xid), "%c%d", in->xid_kind == 1 ? 'X' : 'Y', in->id);
    switch (in->op) {
    case P_START: {
        struct clb_order_params p = params(id);
        p.amount = D(in->amount, 1);
        return clb_tracker_start_tracking(t, &p, in->now);
    }
    case P_CREATED:
        return clb_tracker_on_created(t, id, xid, in->now);
    case P_CFAIL:
        return clb_tracker_on_create_failed(t, id, true, CLB_EINVAL, in->now);
    case P_CUNK:
        return clb_tracker_on_create_failed(t, id, false, CLB_ETIMEDOUT, in->now);
    case P_CREQ:
        return clb_tracker_on_cancel_requested(t, id, in->now);
    case P_CREJ:
        return clb_tracker_on_cancel_rejected(t, id, in->now);
    case P_CXLD:
        return clb_tracker_on_cancelled(t, id, in->now);
    case P_STATUS:
        return clb_tracker_on_status(t, id, in->st, in->xid_kind ? xid : NULL, D(in->cum, 1),
                                     in->now);
    case P_NF:
        return clb_tracker_on_not_found(t, id, in->now);
    case P_FILL: {
        snprintf(tid, sizeof(tid), "%d", 900000 + in->tid);
        struct clb_fill fl = { .trade_id = tid, .price = D(in->price, 1),
                               .amount = D(in->amount, 1), .fee = D(1, 5),
                               .fee_asset = "BNB" };
        return clb_tracker_on_fill(t, id, &fl, in->now);
    }
    case P_TICK:
        clb_tracker_tick(t, in->now);
        return CLB_OK;
    case P_REMOVE:
        return clb_tracker_remove(t, id);
    default:
        return CLB_EINVAL;
    }
}

static struct p_in random_input(uint64_t *s, const struct model *m, int64_t *now)
{
    struct p_in in = { 0 };
    *now += (int64_t)(splitmix64(s) % (2 * SEC));
    in.now = *now;
    uint64_t r = splitmix64(s);
    /* Weighted: starts and fills are common, ticks rarer. */
    static const enum p_op weights[] = {
        P_START, P_START, P_START, P_CREATED, P_CREATED, P_CFAIL, P_CUNK, P_CREQ, P_CREQ,
        P_CREJ, P_CXLD, P_STATUS, P_STATUS, P_STATUS, P_NF, P_NF, P_FILL, P_FILL, P_FILL,
        P_FILL, P_TICK, P_REMOVE,
    };
    in.op = weights[r % (sizeof(weights) / sizeof(weights[0]))];
    in.id = (int)(splitmix64(s) % P_IDS);
    in.amount = 1 + (int64_t)(splitmix64(s) % 20);
    if (in.op == P_FILL) {
        const struct ref *ref = &m->r[in.id];
        int64_t left = ref->amount - ref->exec;
        uint64_t k = splitmix64(s) % 4;
        /* Mostly fitting fills, sometimes exactly the rest, sometimes too much. */
        in.amount = left > 0 && k < 2 ? 1 + (int64_t)(splitmix64(s) % (uint64_t)left)
                  : left > 0 && k == 2 ? left
                  : 1 + (int64_t)(splitmix64(s) % 25);
        in.price = 990 + (int64_t)(splitmix64(s) % 20);
        in.tid = (int)(splitmix64(s) % P_TIDS);
    }
    in.xid_kind = (int)(splitmix64(s) % 8);
    in.xid_kind = in.xid_kind < 5 ? 1 : in.xid_kind < 7 ? 0 : 2;
    if (in.op == P_CREATED && in.xid_kind == 0)
        in.xid_kind = 1;
    in.st = (enum clb_xorder_status)(splitmix64(s) % 6);
    int64_t amount = m->r[in.id].amount > 0 ? m->r[in.id].amount : 10;
    in.cum = in.st == CLB_XORDER_FILLED && splitmix64(s) % 8 ? amount
           : (int64_t)(splitmix64(s) % (uint64_t)(amount + 2));
    return in;
}

static void compare(const struct clb_order_tracker *t, const struct model *m, const struct rec *rc,
                    int step)
{
    cr_assert_eq((int)clb_tracker_count(t), m->n_tracked, "step %d", step);
    int live = 0;
    for (int i = 0; i < P_IDS; i++) {
        char id[16];
        id_name(i, id, sizeof(id));
        const struct ref *r = &m->r[i];
        const struct clb_tracked_order *o = clb_tracker_get(t, id);
        cr_assert_eq(o != NULL, r->tracked, "step %d id %d tracked", step, i);
        if (!o)
            continue;
        live += ref_live(r);
        cr_assert_eq((int)o->state, r->state, "step %d id %d state %s want %s", step, i,
                     clb_order_state_name(o->state), clb_order_state_name(r->state));
        cr_assert_eq(clb_dec_cmp(o->executed_base, D(r->exec, 1)), 0, "step %d id %d", step, i);
        cr_assert_eq(clb_dec_cmp(o->executed_quote, D(r->quote, 2)), 0, "step %d id %d", step, i);
        cr_assert_eq(clb_dec_cmp(o->exchange_executed_base, D(r->xcum, 1)), 0, "step %d", step);
        cr_assert_eq(o->confirmed, r->conf, "step %d id %d", step, i);
        cr_assert_eq(o->creation_outcome_unknown, r->unknown, "step %d id %d", step, i);
        cr_assert_eq(o->exchange_filled, r->xf, "step %d id %d", step, i);
        cr_assert_eq(o->lost, r->lost, "step %d id %d", step, i);
        cr_assert_eq((int)o->not_found_count, r->nf, "step %d id %d", step, i);
        cr_assert_eq((int)o->cancel_requests, r->cancel_reqs, "step %d id %d", step, i);
        cr_assert_eq((int)o->n_fills, r->n_fills, "step %d id %d", step, i);
        cr_assert_str_eq(o->exchange_order_id, r->xid, "step %d id %d", step, i);
        if (!ref_live(r))
            cr_assert_eq(o->finished_ns, r->finished, "step %d id %d", step, i);
    }
    cr_assert_eq((int)clb_tracker_count_live(t), live, "step %d", step);
    for (int e = 0; e < CLB_EV_COUNT_; e++)
        cr_assert_eq(rc->count[e], m->count[e], "step %d event %s", step,
                     clb_event_type_name((enum clb_event_type)e));
}

/* Runs the random sequence; returns the digest of the published events. */
static uint64_t run_property(uint64_t seed, int steps, int *ok_count)
{
    struct fx *f = calloc(1, sizeof(*f));
    struct model *m = calloc(1, sizeof(*m));
    struct snap *sn = calloc(1, sizeof(*sn));
    struct clb_tracker_config cfg;
    clb_tracker_config_defaults(&cfg);
    cfg.max_orders = P_MAX;
    cfg.finished_ttl_ns = P_TTL;
    cfg.awaiting_fills_ttl_ns = P_AWAIT_TTL;
    cfg.source = "prop";
    cfg.bus = &f->bus;
    clb_event_bus_init(&f->bus);
    cr_assert_geq(clb_event_subscribe(&f->bus, CLB_EV_MASK_ALL, on_event, &f->rec), 0);
    cr_assert_eq(clb_tracker_init(&f->t, &cfg), CLB_OK);
    uint64_t s = seed;
    int64_t now = SEC;
    *ok_count = 0;
    for (int step = 0; step < steps; step++) {
        struct p_in in = random_input(&s, m, &now);
        char id[16];
        id_name(in.id, id, sizeof(id));
        const struct clb_tracked_order *o = clb_tracker_get(&f->t, id);
        if (o)
            take_snap(f, o, sn);
        int n_before = f->rec.n;
        int want = ref_apply(m, &in);
        int got = real_apply(&f->t, &in);
        cr_assert_eq(got, want, "step %d op %d id %d: got %s want %s", step, in.op, in.id,
                     clb_err_name(got), clb_err_name(want));
        if (got != CLB_OK) {
            cr_assert_eq(f->rec.n, n_before, "step %d: event on refusal", step);
            if (o)
                cr_assert(same_as_snap(f, o, sn), "step %d: refusal changed the order", step);
        } else {
            (*ok_count)++;
        }
        compare(&f->t, m, &f->rec, step);
    }
    uint64_t digest = f->rec.digest;
    clb_tracker_deinit(&f->t);
    free(sn);
    free(m);
    free(f);
    return digest;
}

Test(order_tracker, property_random_inputs_match_reference, .timeout = 120)
{
    int ok1 = 0, ok2 = 0;
    uint64_t d1 = run_property(0xC011B81ull, 50000, &ok1);
    uint64_t d2 = run_property(0xC011B81ull, 50000, &ok2);
    cr_assert_eq(d1, d2, "same seed, same events");
    cr_assert_eq(ok1, ok2);
    cr_assert_gt(ok1, 10000, "the sequence exercised the tracker (%d accepted)", ok1);
}
