/*
 * event.c — the listener bus. Handles are slot indices; a removed listener
 * leaves a hole (fn == NULL) so that handles stay valid and a publish in
 * progress never skips or repeats a listener. Holes are reused by later
 * subscriptions only when no publish is running.
 */
#include "event.h"

#include <string.h>

#include "error.h"

void clb_event_bus_init(struct clb_event_bus *bus)
{
    memset(bus, 0, sizeof(*bus));
}

int clb_event_subscribe(struct clb_event_bus *bus, uint32_t mask, clb_event_fn fn, void *ud)
{
    if (!fn || (mask & CLB_EV_MASK_ALL) == 0)
        return CLB_EINVAL;
    int slot = -1;
    if (bus->publishing == 0) {
        for (int i = 0; i < bus->n; i++) {
            if (!bus->l[i].fn) {
                slot = i;
                break;
            }
        }
    }
    if (slot < 0) {
        if (bus->n == CLB_EVENT_MAX_LISTENERS)
            return CLB_EFULL;
        slot = bus->n++;
    }
    bus->l[slot] = (struct clb_event_listener_){ .fn = fn, .ud = ud, .mask = mask & CLB_EV_MASK_ALL };
    return slot;
}

int clb_event_unsubscribe(struct clb_event_bus *bus, int handle)
{
    if (handle < 0 || handle >= bus->n || !bus->l[handle].fn)
        return CLB_ENOTFOUND;
    bus->l[handle].fn = NULL;
    bus->l[handle].mask = 0;
    while (bus->publishing == 0 && bus->n > 0 && !bus->l[bus->n - 1].fn)
        bus->n--;
    return CLB_OK;
}

int clb_event_publish(struct clb_event_bus *bus, const struct clb_event *ev)
{
    uint32_t bit = CLB_EV_MASK(ev->type);
    int called = 0;
    int n = bus->n; /* listeners added during this publish are not called */
    bus->publishing++;
    for (int i = 0; i < n; i++) {
        struct clb_event_listener_ *l = &bus->l[i];
        if (l->fn && (l->mask & bit)) {
            l->fn(l->ud, ev);
            called++;
        }
    }
    bus->publishing--;
    return called;
}

const char *clb_event_type_name(enum clb_event_type t)
{
    static const char *const names[CLB_EV_COUNT_] = {
        "order_created", "order_filled", "order_cancelled", "order_failed",
        "order_completed", "order_state", "book_diff", "trade", "balance",
    };
    return (unsigned)t < CLB_EV_COUNT_ ? names[t] : "unknown";
}
