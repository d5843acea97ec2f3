/* Tests for core/event.c: listener order, masks, removal during publish. */
#include <criterion/criterion.h>

#include "error.h"
#include "event.h"

struct rec {
    int calls[8];
    int n;
    int id;
    struct clb_event_bus *bus;
    int remove_handle;
};

static struct rec *g_log[16];
static int g_nlog;

static void on_ev(void *ud, const struct clb_event *ev)
{
    struct rec *r = ud;
    (void)ev;
    r->n++;
    g_log[g_nlog++] = r;
    if (r->remove_handle >= 0) {
        clb_event_unsubscribe(r->bus, r->remove_handle);
        r->remove_handle = -1;
    }
}

Test(event, listeners_called_in_subscription_order_by_mask)
{
    struct clb_event_bus bus;
    clb_event_bus_init(&bus);
    g_nlog = 0;
    struct rec a = { .remove_handle = -1 }, b = { .remove_handle = -1 }, c = { .remove_handle = -1 };
    cr_assert_geq(clb_event_subscribe(&bus, CLB_EV_MASK(CLB_EV_TRADE), on_ev, &a), 0);
    cr_assert_geq(clb_event_subscribe(&bus, CLB_EV_MASK_ORDERS, on_ev, &b), 0);
    cr_assert_geq(clb_event_subscribe(&bus, CLB_EV_MASK_ALL, on_ev, &c), 0);
    struct clb_event ev = { .type = CLB_EV_TRADE };
    cr_assert_eq(clb_event_publish(&bus, &ev), 2);
    cr_assert_eq(g_log[0], &a);
    cr_assert_eq(g_log[1], &c);
    ev.type = CLB_EV_ORDER_FILLED;
    cr_assert_eq(clb_event_publish(&bus, &ev), 2);
    cr_assert_eq(g_log[2], &b);
    cr_assert_eq(g_log[3], &c);
}

Test(event, unsubscribe_during_publish_skips_later_listener)
{
    struct clb_event_bus bus;
    clb_event_bus_init(&bus);
    g_nlog = 0;
    struct rec a = { .remove_handle = -1 }, b = { .remove_handle = -1 };
    int ha = clb_event_subscribe(&bus, CLB_EV_MASK_ALL, on_ev, &a);
    int hb = clb_event_subscribe(&bus, CLB_EV_MASK_ALL, on_ev, &b);
    a.bus = &bus;
    a.remove_handle = hb;
    struct clb_event ev = { .type = CLB_EV_BALANCE };
    cr_assert_eq(clb_event_publish(&bus, &ev), 1);
    cr_assert_eq(b.n, 0);
    cr_assert_eq(clb_event_unsubscribe(&bus, hb), CLB_ENOTFOUND);
    cr_assert_eq(clb_event_unsubscribe(&bus, ha), CLB_OK);
    cr_assert_eq(clb_event_publish(&bus, &ev), 0);
}

Test(event, rejects_bad_subscriptions_and_fills_up)
{
    struct clb_event_bus bus;
    clb_event_bus_init(&bus);
    struct rec a = { .remove_handle = -1 };
    cr_assert_eq(clb_event_subscribe(&bus, 0, on_ev, &a), CLB_EINVAL);
    cr_assert_eq(clb_event_subscribe(&bus, CLB_EV_MASK_ALL, NULL, &a), CLB_EINVAL);
    for (int i = 0; i < CLB_EVENT_MAX_LISTENERS; i++)
        cr_assert_eq(clb_event_subscribe(&bus, CLB_EV_MASK_ALL, on_ev, &a), i);
    cr_assert_eq(clb_event_subscribe(&bus, CLB_EV_MASK_ALL, on_ev, &a), CLB_EFULL);
    cr_assert_eq(clb_event_unsubscribe(&bus, 5), CLB_OK);
    cr_assert_eq(clb_event_subscribe(&bus, CLB_EV_MASK_ALL, on_ev, &a), 5);
    cr_assert_str_eq(clb_event_type_name(CLB_EV_TRADE), "trade");
    cr_assert_str_eq(clb_strerror(CLB_EGAP), "sequence gap: resynchronise");
    cr_assert_str_eq(clb_err_name(CLB_EFULL), "EFULL");
}
