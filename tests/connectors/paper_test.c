/*
 * Tests for connectors/paper: the paper connector turns engine reports into
 * tracker states and events, models latency, quantizes orders, and keeps
 * balances exact.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "error.h"
#include "order_book.h"
#include "order_tracker.h"
#include "paper.h"

#define MS 1000000LL

struct fixture {
    struct clb_event_bus bus;
    struct clb_paper *p;
    struct clb_connector *c;
    int fills, created, cancelled, failed;
};

static void count(void *ud, const struct clb_event *ev)
{
    struct fixture *f = ud;
    switch (ev->type) {
    case CLB_EV_ORDER_FILLED: f->fills++; break;
    case CLB_EV_ORDER_CREATED: f->created++; break;
    case CLB_EV_ORDER_CANCELLED: f->cancelled++; break;
    case CLB_EV_ORDER_FAILED: f->failed++; break;
    default: break;
    }
}

static clb_dec D(const char *s)
{
    clb_dec d;
    cr_assert_eq(clb_dec_parse_cstr(s, &d), CLB_OK, "bad literal %s", s);
    return d;
}

/* BTC-USDT, tick 0.01, step 0.001; book 100.00 x 100.02 (qty 2 each). */
static void setup(struct fixture *f, int64_t latency_ns)
{
    memset(f, 0, sizeof(*f));
    clb_event_bus_init(&f->bus);
    clb_event_subscribe(&f->bus, CLB_EV_MASK_ORDERS, count, f);
    struct clb_paper_config cfg;
    clb_paper_config_default(&cfg);
    cfg.bus = &f->bus;
    cfg.order_latency_ns = latency_ns;
    cfg.cancel_latency_ns = latency_ns;
    cfg.maker_fee = 0.001;
    cfg.taker_fee = 0.002;
    cr_assert_eq(clb_paper_create(&cfg, &f->p), CLB_OK);
    f->c = clb_paper_connector(f->p);
    struct clb_market_rules r = { .symbol = "BTC-USDT", .base = "BTC", .quote = "USDT",
                                  .price_scale = 2, .qty_scale = 3 };
    r.tick_size = D("0.01");
    r.step_size = D("0.001");
    r.min_qty = D("0.001");
    r.max_qty = D("0");
    r.min_notional = D("1");
    cr_assert_eq(clb_paper_add_market(f->p, &r, NULL), CLB_OK);
    cr_assert_eq(clb_paper_deposit(f->p, "BTC", D("1")), CLB_OK);
    cr_assert_eq(clb_paper_deposit(f->p, "USDT", D("1000")), CLB_OK);
    struct clb_md_record snap[2] = {
        { .ts_ns = 1000 * MS, .price = 10000, .qty = 2000, .kind = CLB_MD_BID,
          .flags = CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET },
        { .ts_ns = 1000 * MS, .price = 10002, .qty = 2000, .kind = CLB_MD_ASK,
          .flags = CLB_MD_F_SNAPSHOT | CLB_MD_F_BATCH_END },
    };
    clb_paper_on_record(f->p, 0, &snap[0]);
    clb_paper_on_record(f->p, 0, &snap[1]);
}

static void feed(struct fixture *f, int64_t ts, int kind, int64_t price, int64_t qty)
{
    struct clb_md_record r = { .ts_ns = ts, .price = price, .qty = qty, .kind = (uint8_t)kind,
                               .flags = CLB_MD_F_BATCH_END };
    clb_paper_on_record(f->p, 0, &r);
}

static void balance(struct fixture *f, const char *asset, const char *total, const char *avail)
{
    clb_dec t, a;
    f->c->ops->balance(f->c, asset, &t, &a);
    char bt[CLB_DEC_STRLEN], ba[CLB_DEC_STRLEN];
    clb_dec_format(clb_dec_normalize(t), bt, sizeof(bt));
    clb_dec_format(clb_dec_normalize(a), ba, sizeof(ba));
    cr_assert_eq(clb_dec_cmp(t, D(total)), 0, "%s total %s, expected %s", asset, bt, total);
    cr_assert_eq(clb_dec_cmp(a, D(avail)), 0, "%s available %s, expected %s", asset, ba, avail);
}

Test(paper, resting_bid_queues_then_fills_on_trades_with_exact_balances)
{
    struct fixture f;
    setup(&f, 0);
    cr_assert(clb_connector_ready(f.c));
    char id[CLB_CLIENT_ID_MAX];
    struct clb_order_request rq = { .market = "BTC-USDT", .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT, .price = D("100.009"),
                                    .amount = D("1.0009") };
    cr_assert_eq(f.c->ops->place(f.c, &rq, id), CLB_OK);
    const struct clb_tracked_order *o = clb_tracker_get(f.c->ops->tracker(f.c), id);
    cr_assert_not_null(o);
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CREATE); /* tracked before it reaches the engine */
    cr_assert_eq(clb_dec_cmp(o->price, D("100.00")), 0);  /* buy price quantized down */
    cr_assert_eq(clb_dec_cmp(o->amount, D("1.000")), 0);  /* amount quantized down */
    feed(&f, 1001 * MS, CLB_MD_ASK, 10003, 1000);          /* unrelated update delivers it */
    cr_assert_eq(o->state, CLB_ORDER_OPEN);
    cr_assert_eq(f.created, 1);
    balance(&f, "USDT", "1000", "900");
    /* 2.000 ahead of us: a sell trade of 1.5 fills nothing, the next 1.0 fills 0.5. */
    feed(&f, 1002 * MS, CLB_MD_TRADE_SELL, 10000, 1500);
    cr_assert_eq(f.fills, 0);
    feed(&f, 1003 * MS, CLB_MD_TRADE_SELL, 10000, 1000);
    cr_assert_eq(f.fills, 1);
    cr_assert_eq(o->state, CLB_ORDER_PARTIALLY_FILLED);
    cr_assert_eq(clb_dec_cmp(o->executed_base, D("0.5")), 0);
    /* Maker fee 0.1 % of the 0.5 BTC received = 0.0005 BTC. */
    balance(&f, "BTC", "1.4995", "1.4995");
    balance(&f, "USDT", "950", "900");
    /* A trade through our price fills the rest. */
    feed(&f, 1004 * MS, CLB_MD_TRADE_SELL, 9999, 3000);
    cr_assert_eq(o->state, CLB_ORDER_FILLED);
    balance(&f, "BTC", "1.999", "1.999");
    balance(&f, "USDT", "900", "900");
    clb_paper_destroy(f.p);
}

Test(paper, latency_order_crosses_the_book_as_it_is_on_arrival)
{
    struct fixture f;
    setup(&f, 10 * MS);
    char id[CLB_CLIENT_ID_MAX];
    /* A buy at 100.02 would take the ask now; before it arrives the ask moves up. */
    struct clb_order_request rq = { .market = "BTC-USDT", .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT, .price = D("100.02"),
                                    .amount = D("0.5") };
    cr_assert_eq(f.c->ops->place(f.c, &rq, id), CLB_OK);
    feed(&f, 1005 * MS, CLB_MD_ASK, 10002, 0);
    feed(&f, 1006 * MS, CLB_MD_ASK, 10005, 1000);
    const struct clb_tracked_order *o = clb_tracker_get(f.c->ops->tracker(f.c), id);
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CREATE);
    feed(&f, 1011 * MS, CLB_MD_BID, 10000, 2000);
    cr_assert_eq(o->state, CLB_ORDER_OPEN, "arrived and rests: nothing to take at 100.02");
    cr_assert_eq(f.fills, 0);
    clb_paper_destroy(f.p);
}

/* A live driver asks when the next request is due and delivers it then,
 * without waiting for a record. */
Test(paper, next_due_time_lets_a_driver_deliver_between_records)
{
    struct fixture f;
    setup(&f, 10 * MS);
    cr_assert_eq(clb_paper_next_due_ns(f.p), INT64_MAX, "nothing pending");
    char id[CLB_CLIENT_ID_MAX];
    struct clb_order_request rq = { .market = "BTC-USDT", .side = CLB_SIDE_SELL,
                                    .type = CLB_ORDER_LIMIT, .price = D("100.00"),
                                    .amount = D("0.5") };
    cr_assert_eq(f.c->ops->place(f.c, &rq, id), CLB_OK);
    /* sent at the venue's time (the last record's, 1000 ms) + 10 ms */
    cr_assert_eq(clb_paper_next_due_ns(f.p), 1010 * MS);
    const struct clb_tracked_order *o = clb_tracker_get(f.c->ops->tracker(f.c), id);
    clb_paper_advance(f.p, 1009 * MS);
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CREATE, "not due yet");
    clb_paper_advance(f.p, 1010 * MS);
    cr_assert_eq(o->state, CLB_ORDER_FILLED, "delivered when due, no record needed");
    cr_assert_eq(clb_paper_next_due_ns(f.p), INT64_MAX);
    clb_paper_destroy(f.p);
}

Test(paper, taker_order_fills_at_arrival_with_taker_fee)
{
    struct fixture f;
    setup(&f, 0);
    char id[CLB_CLIENT_ID_MAX];
    struct clb_order_request rq = { .market = "BTC-USDT", .side = CLB_SIDE_SELL,
                                    .type = CLB_ORDER_LIMIT, .price = D("99.995"),
                                    .amount = D("0.5") };
    cr_assert_eq(f.c->ops->place(f.c, &rq, id), CLB_OK);
    const struct clb_tracked_order *o = clb_tracker_get(f.c->ops->tracker(f.c), id);
    cr_assert_eq(clb_dec_cmp(o->price, D("100.00")), 0); /* sell price quantized up */
    feed(&f, 1001 * MS, CLB_MD_ASK, 10003, 1000);
    cr_assert_eq(o->state, CLB_ORDER_FILLED);
    /* 0.5 * 100 = 50 USDT, taker fee 0.2 % = 0.1 USDT. */
    balance(&f, "BTC", "0.5", "0.5");
    balance(&f, "USDT", "1049.9", "1049.9");
    clb_paper_destroy(f.p);
}

Test(paper, cancel_of_an_order_in_flight_cancels_it)
{
    struct fixture f;
    setup(&f, 5 * MS);
    char id[CLB_CLIENT_ID_MAX];
    struct clb_order_request rq = { .market = "BTC-USDT", .side = CLB_SIDE_BUY,
                                    .type = CLB_ORDER_LIMIT, .price = D("99"),
                                    .amount = D("1") };
    cr_assert_eq(f.c->ops->place(f.c, &rq, id), CLB_OK);
    cr_assert_eq(f.c->ops->cancel(f.c, "BTC-USDT", id), CLB_OK);
    const struct clb_tracked_order *o = clb_tracker_get(f.c->ops->tracker(f.c), id);
    cr_assert_eq(o->state, CLB_ORDER_PENDING_CANCEL);
    feed(&f, 1010 * MS, CLB_MD_BID, 10000, 2000);
    cr_assert_eq(o->state, CLB_ORDER_CANCELED);
    cr_assert_eq(f.cancelled, 1);
    balance(&f, "USDT", "1000", "1000");
    cr_assert_eq(f.c->ops->cancel(f.c, "BTC-USDT", id), CLB_ESTATE);
    cr_assert_eq(f.c->ops->cancel(f.c, "BTC-USDT", "nope"), CLB_ENOTFOUND);
    clb_paper_destroy(f.p);
}

Test(paper, resting_cancel_unlocks_and_bad_requests_change_nothing)
{
    struct fixture f;
    setup(&f, 0);
    char id[CLB_CLIENT_ID_MAX];
    struct clb_order_request rq = { .market = "BTC-USDT", .side = CLB_SIDE_SELL,
                                    .type = CLB_ORDER_LIMIT, .price = D("101"),
                                    .amount = D("0.25") };
    cr_assert_eq(f.c->ops->place(f.c, &rq, id), CLB_OK);
    feed(&f, 1001 * MS, CLB_MD_BID, 10000, 2000);
    balance(&f, "BTC", "1", "0.75");
    cr_assert_eq(f.c->ops->cancel(f.c, "BTC-USDT", id), CLB_OK);
    feed(&f, 1002 * MS, CLB_MD_BID, 10000, 2000);
    balance(&f, "BTC", "1", "1");
    uint32_t before = clb_tracker_count(f.c->ops->tracker(f.c));
    struct clb_order_request bad = rq;
    bad.market = "ETH-USDT";
    cr_assert_eq(f.c->ops->place(f.c, &bad, id), CLB_ENOTFOUND);
    bad = rq;
    bad.amount = D("0.0004"); /* below the step after quantization */
    cr_assert_eq(f.c->ops->place(f.c, &bad, id), CLB_ERANGE);
    bad = rq;
    bad.amount = D("0.005"); /* 0.5 USDT < min notional 1 */
    cr_assert_eq(f.c->ops->place(f.c, &bad, id), CLB_ERANGE);
    cr_assert_eq(clb_tracker_count(f.c->ops->tracker(f.c)), before);
    /* More than the balance: tracked, then rejected by the engine (FAILED). */
    bad = rq;
    bad.amount = D("5");
    cr_assert_eq(f.c->ops->place(f.c, &bad, id), CLB_OK);
    feed(&f, 1003 * MS, CLB_MD_BID, 10000, 2000);
    cr_assert_eq(clb_tracker_get(f.c->ops->tracker(f.c), id)->state, CLB_ORDER_FAILED);
    cr_assert_eq(f.failed, 1);
    balance(&f, "BTC", "1", "1");
    clb_paper_destroy(f.p);
}
