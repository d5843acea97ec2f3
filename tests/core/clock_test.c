/*
 * Tests for core/clock.c: hook order, backtest and realtime tick delivery,
 * error isolation, add/remove while running, re-entrancy, end time, and
 * random property tests against naive references (tick timestamps, the
 * next-tick deadline, and iterator order under random add/remove).
 */
#include <criterion/criterion.h>
#include <string.h>

#include "clock.h"
#include "error.h"

#define MS INT64_C(1000000)
#define SEC INT64_C(1000000000)

/* ---- a recording iterator ------------------------------------------------ */

enum { EV_START = 1, EV_TICK, EV_STOP };

struct call {
    int id;
    int kind;
    int64_t ts;
};

struct log {
    struct call c[4096];
    int n;
};

struct probe;
typedef void (*probe_action)(struct probe *p, int64_t now_ns);

struct probe {
    struct clb_time_iterator base; /* first member */
    int id;
    struct log *log;
    int start_rc;
    int tick_rc;
    probe_action on_tick; /* optional extra behaviour inside the tick hook */
    struct clb_clock *clock;
    struct probe *other;
    int reentry_rc;
};

static void log_call(struct probe *p, int kind, int64_t ts)
{
    struct log *l = p->log;
    if (l && l->n < (int)(sizeof(l->c) / sizeof(l->c[0])))
        l->c[l->n++] = (struct call){ .id = p->id, .kind = kind, .ts = ts };
}

static int probe_start(struct clb_time_iterator *it, int64_t now_ns)
{
    struct probe *p = (struct probe *)it;
    log_call(p, EV_START, now_ns);
    return p->start_rc;
}

static int probe_tick(struct clb_time_iterator *it, int64_t now_ns)
{
    struct probe *p = (struct probe *)it;
    log_call(p, EV_TICK, now_ns);
    if (p->on_tick)
        p->on_tick(p, now_ns);
    return p->tick_rc;
}

static void probe_stop(struct clb_time_iterator *it, int64_t now_ns)
{
    struct probe *p = (struct probe *)it;
    log_call(p, EV_STOP, now_ns);
}

static const struct clb_time_iterator_ops probe_ops = {
    .name = "probe", .start = probe_start, .tick = probe_tick, .stop = probe_stop,
};

static void probe_init(struct probe *p, int id, struct log *log)
{
    memset(p, 0, sizeof(*p));
    clb_time_iterator_init(&p->base, &probe_ops);
    p->id = id;
    p->log = log;
}

static void clock_make(struct clb_clock *c, enum clb_clock_mode mode, int64_t tick_ns,
                       int64_t end_ns)
{
    struct clb_clock_config cfg = { .mode = mode, .tick_ns = tick_ns, .end_ns = end_ns };
    cr_assert_eq(clb_clock_init(c, &cfg), CLB_OK);
}

static void expect_call(const struct log *l, int i, int id, int kind, int64_t ts)
{
    cr_assert_lt(i, l->n, "call %d missing (only %d)", i, l->n);
    cr_assert_eq(l->c[i].id, id, "call %d: id %d, want %d", i, l->c[i].id, id);
    cr_assert_eq(l->c[i].kind, kind, "call %d: kind %d, want %d", i, l->c[i].kind, kind);
    cr_assert_eq(l->c[i].ts, ts, "call %d: ts %lld, want %lld", i, (long long)l->c[i].ts,
                 (long long)ts);
}

/* splitmix64 */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static int64_t rng_range(uint64_t *s, int64_t n) /* [0, n) */
{
    return (int64_t)(rng_next(s) % (uint64_t)n);
}

/* ---- configuration -------------------------------------------------------- */

Test(clock, init_validates_and_leaves_clock_untouched_on_error)
{
    struct clb_clock c;
    memset(&c, 0xAB, sizeof(c));
    struct clb_clock_config cfg = { .mode = CLB_CLOCK_BACKTEST, .tick_ns = MS - 1 };
    cr_assert_eq(clb_clock_init(&c, &cfg), CLB_EINVAL);
    cfg.tick_ns = 0;
    cr_assert_eq(clb_clock_init(&c, &cfg), CLB_EINVAL);
    cfg.tick_ns = -SEC;
    cr_assert_eq(clb_clock_init(&c, &cfg), CLB_EINVAL);
    cfg.tick_ns = SEC;
    cfg.end_ns = -1;
    cr_assert_eq(clb_clock_init(&c, &cfg), CLB_EINVAL);
    cfg.end_ns = 0;
    cfg.mode = (enum clb_clock_mode)7;
    cr_assert_eq(clb_clock_init(&c, &cfg), CLB_EINVAL);
    cr_assert_eq(clb_clock_init(&c, NULL), CLB_EINVAL);
    unsigned char pattern[sizeof(c)];
    memset(pattern, 0xAB, sizeof(pattern));
    cr_assert_eq(memcmp(&c, pattern, sizeof(c)), 0);

    cfg.mode = CLB_CLOCK_REALTIME;
    cfg.tick_ns = MS;
    cr_assert_eq(clb_clock_init(&c, &cfg), CLB_OK);
    cr_assert_eq(c.tick_ns, MS);
    cr_assert_not(clb_clock_running(&c));
    cr_assert_eq(clb_clock_next_tick_ns(&c), CLB_CLOCK_NEVER);
    cr_assert_eq(clb_clock_count(&c), 0);
    cr_assert_str_eq(clb_clock_mode_name(CLB_CLOCK_REALTIME), "realtime");
    cr_assert_str_eq(clb_clock_mode_name(CLB_CLOCK_BACKTEST), "backtest");
    cr_assert_str_eq(clb_clock_mode_name((enum clb_clock_mode)9), "unknown");
    clb_clock_deinit(&c);
}

Test(clock, advance_and_stop_require_a_running_clock)
{
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_advance_to(&c, SEC), CLB_ESTATE);
    cr_assert_eq(clb_clock_stop(&c, SEC), CLB_ESTATE);
    cr_assert_eq(clb_clock_start(&c, -1), CLB_EINVAL);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_ESTATE);
    cr_assert(clb_clock_running(&c));
    clb_clock_deinit(&c);
}

/* ---- hook order ------------------------------------------------------------- */

Test(clock, start_tick_stop_order_across_iterators)
{
    struct log log = { .n = 0 };
    struct probe p[3];
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    for (int i = 0; i < 3; i++) {
        probe_init(&p[i], i, &log);
        cr_assert_eq(clb_clock_add(&c, &p[i].base), CLB_OK);
    }
    cr_assert_eq(clb_clock_count(&c), 3);
    cr_assert_eq(log.n, 0, "no hook runs before start");
    cr_assert_eq(clb_clock_start(&c, 10 * SEC), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, 11 * SEC), 2);
    cr_assert_eq(clb_clock_stop(&c, 11 * SEC + 5), CLB_OK);

    int i = 0;
    for (int k = 0; k < 3; k++)
        expect_call(&log, i++, k, EV_START, 10 * SEC);
    for (int64_t t = 10; t <= 11; t++)
        for (int k = 0; k < 3; k++)
            expect_call(&log, i++, k, EV_TICK, t * SEC);
    /* stop runs in reverse add order: consumers before producers */
    for (int k = 2; k >= 0; k--)
        expect_call(&log, i++, k, EV_STOP, 11 * SEC + 5);
    cr_assert_eq(log.n, i);
    cr_assert_eq(p[1].base.ticks, 2);
    cr_assert_eq(p[1].base.last_tick_ns, 11 * SEC);
    cr_assert_not(clb_clock_running(&c));
    cr_assert_eq(clb_clock_next_tick_ns(&c), CLB_CLOCK_NEVER);
    cr_assert_eq(clb_clock_advance_to(&c, 20 * SEC), CLB_ESTATE);
    clb_clock_deinit(&c);
    cr_assert_null(p[0].base.clock);
}

Test(clock, null_hooks_are_allowed)
{
    static const struct clb_time_iterator_ops none = { 0 };
    struct clb_time_iterator it;
    clb_time_iterator_init(&it, &none);
    cr_assert_str_eq(clb_time_iterator_name(&it), "iterator");
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_add(&c, &it), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, 3 * SEC), 4);
    cr_assert_eq(it.ticks, 4);
    cr_assert_eq(clb_clock_remove(&c, &it), CLB_OK);
    cr_assert_eq(clb_clock_stop(&c, 3 * SEC), CLB_OK);
    clb_clock_deinit(&c);
}

/* ---- backtest / realtime delivery ----------------------------------------- */

Test(clock, backtest_delivers_every_boundary_with_its_timestamp)
{
    struct log log = { .n = 0 };
    struct probe a;
    probe_init(&a, 0, &log);
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, SEC / 2), CLB_OK);
    cr_assert_eq(clb_clock_next_tick_ns(&c), SEC, "first boundary >= start");
    cr_assert_eq(clb_clock_advance_to(&c, SEC / 2), 0);
    cr_assert_eq(clb_clock_advance_to(&c, 4 * SEC + 200 * MS), 4);
    cr_assert_eq(clb_clock_now_ns(&c), 4 * SEC + 200 * MS);
    cr_assert_eq(clb_clock_next_tick_ns(&c), 5 * SEC);
    cr_assert_eq(clb_clock_advance_to(&c, 5 * SEC), 1, "boundary equal to now is due");
    cr_assert_eq(clb_clock_advance_to(&c, 5 * SEC), 0, "never twice");
    cr_assert_eq(log.n, 1 + 5);
    for (int k = 1; k <= 5; k++)
        expect_call(&log, k, 0, EV_TICK, k * SEC);
    cr_assert_eq(c.tick_count, 5);
    cr_assert_eq(c.ticks_skipped, 0);
    clb_clock_deinit(&c);
}

Test(clock, start_on_a_boundary_ticks_at_the_start_time)
{
    struct log log = { .n = 0 };
    struct probe a;
    probe_init(&a, 0, &log);
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 7 * SEC), CLB_OK);
    cr_assert_eq(clb_clock_next_tick_ns(&c), 7 * SEC);
    cr_assert_eq(clb_clock_advance_to(&c, 7 * SEC), 1);
    expect_call(&log, 1, 0, EV_TICK, 7 * SEC);
    clb_clock_deinit(&c);
}

Test(clock, realtime_collapses_missed_boundaries_and_counts_them)
{
    struct log log = { .n = 0 };
    struct probe a, b;
    probe_init(&a, 0, &log);
    probe_init(&b, 1, &log);
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_REALTIME, SEC, 0);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    cr_assert_eq(clb_clock_add(&c, &b.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 100 * SEC + 1), CLB_OK);
    cr_assert_eq(clb_clock_next_tick_ns(&c), 101 * SEC);
    cr_assert_eq(clb_clock_advance_to(&c, 101 * SEC + 3), 1);
    cr_assert_eq(c.ticks_skipped, 0);
    /* a 10.5 s stall: boundaries 102..111 collapse into one tick at 111 */
    cr_assert_eq(clb_clock_advance_to(&c, 111 * SEC + SEC / 2), 1);
    cr_assert_eq(c.ticks_skipped, 9);
    cr_assert_eq(c.tick_count, 2);
    cr_assert_eq(clb_clock_next_tick_ns(&c), 112 * SEC);
    cr_assert_eq(clb_clock_advance_to(&c, 111 * SEC + 900 * MS), 0);
    cr_assert_eq(clb_clock_advance_to(&c, 112 * SEC), 1);
    cr_assert_eq(c.ticks_skipped, 9);
    int i = 2;
    expect_call(&log, i++, 0, EV_TICK, 101 * SEC);
    expect_call(&log, i++, 1, EV_TICK, 101 * SEC);
    expect_call(&log, i++, 0, EV_TICK, 111 * SEC);
    expect_call(&log, i++, 1, EV_TICK, 111 * SEC);
    expect_call(&log, i++, 0, EV_TICK, 112 * SEC);
    expect_call(&log, i++, 1, EV_TICK, 112 * SEC);
    cr_assert_eq(log.n, i);
    clb_clock_deinit(&c);
}

Test(clock, one_millisecond_ticks)
{
    struct log log = { .n = 0 };
    struct probe a;
    probe_init(&a, 0, &log);
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, MS, 0);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 1234567), CLB_OK);
    cr_assert_eq(clb_clock_next_tick_ns(&c), 2 * MS);
    cr_assert_eq(clb_clock_advance_to(&c, 5 * MS + 999999), 4);
    for (int k = 0; k < 4; k++)
        expect_call(&log, 1 + k, 0, EV_TICK, (2 + k) * MS);
    cr_assert_eq(clb_clock_next_tick_ns(&c), 6 * MS);
    /* one second of 1 ms ticks in one call */
    cr_assert_eq(clb_clock_advance_to(&c, 1005 * MS), 1000);
    cr_assert_eq(a.base.ticks, 1004);
    cr_assert_eq(a.base.last_tick_ns, 1005 * MS);
    clb_clock_deinit(&c);
}

Test(clock, end_time_bounds_the_backtest)
{
    struct log log = { .n = 0 };
    struct probe a;
    probe_init(&a, 0, &log);
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 3 * SEC);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 1), CLB_OK);
    cr_assert_not(clb_clock_finished(&c));
    cr_assert_eq(clb_clock_advance_to(&c, 10 * SEC), 3);
    expect_call(&log, 3, 0, EV_TICK, 3 * SEC);
    cr_assert_eq(clb_clock_next_tick_ns(&c), CLB_CLOCK_NEVER);
    cr_assert(clb_clock_finished(&c));
    cr_assert_eq(clb_clock_now_ns(&c), 10 * SEC);
    cr_assert_eq(clb_clock_advance_to(&c, 20 * SEC), 0);
    cr_assert_eq(a.base.ticks, 3);
    clb_clock_deinit(&c);
}

Test(clock, huge_times_do_not_overflow)
{
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    struct probe a;
    probe_init(&a, 0, NULL);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    int64_t last = (INT64_MAX / SEC) * SEC;
    cr_assert_eq(clb_clock_start(&c, last - SEC - 1), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, INT64_MAX), 2);
    cr_assert_eq(a.base.last_tick_ns, last);
    cr_assert_eq(clb_clock_next_tick_ns(&c), CLB_CLOCK_NEVER);
    clb_clock_deinit(&c);

    clock_make(&c, CLB_CLOCK_REALTIME, 3 * SEC, 0);
    cr_assert_eq(clb_clock_start(&c, INT64_MAX - 1), CLB_OK);
    cr_assert_eq(clb_clock_next_tick_ns(&c), CLB_CLOCK_NEVER);
    cr_assert_eq(clb_clock_advance_to(&c, INT64_MAX), 0);
    clb_clock_deinit(&c);
}

/* ---- errors ---------------------------------------------------------------- */

struct err_seen {
    struct clb_time_iterator *it[16];
    int err[16];
    int64_t ts[16];
    int n;
};

static void on_error(void *ud, struct clb_time_iterator *it, int err, int64_t now_ns)
{
    struct err_seen *s = ud;
    if (s->n < 16) {
        s->it[s->n] = it;
        s->err[s->n] = err;
        s->ts[s->n] = now_ns;
        s->n++;
    }
}

Test(clock, failing_tick_is_recorded_and_others_still_tick)
{
    struct log log = { .n = 0 };
    struct err_seen seen = { .n = 0 };
    struct probe p[3];
    struct clb_clock c;
    struct clb_clock_config cfg = { .mode = CLB_CLOCK_BACKTEST, .tick_ns = SEC,
                                    .on_error = on_error, .error_ud = &seen };
    cr_assert_eq(clb_clock_init(&c, &cfg), CLB_OK);
    for (int i = 0; i < 3; i++) {
        probe_init(&p[i], i, &log);
        cr_assert_eq(clb_clock_add(&c, &p[i].base), CLB_OK);
    }
    p[1].tick_rc = CLB_EIO;
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, 2 * SEC), 3);
    int i = 3;
    for (int64_t t = 0; t <= 2; t++)
        for (int k = 0; k < 3; k++)
            expect_call(&log, i++, k, EV_TICK, t * SEC);
    cr_assert_eq(p[1].base.errors, 3);
    cr_assert_eq(p[1].base.last_error, CLB_EIO);
    cr_assert_eq(p[1].base.last_error_ns, 2 * SEC);
    cr_assert_eq(p[0].base.errors, 0);
    cr_assert_eq(p[2].base.errors, 0);
    cr_assert_eq(p[2].base.ticks, 3);
    cr_assert_eq(c.hook_errors, 3);
    cr_assert_eq(seen.n, 3);
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(seen.it[k], &p[1].base);
        cr_assert_eq(seen.err[k], CLB_EIO);
        cr_assert_eq(seen.ts[k], k * SEC);
    }
    /* it recovers: the count stays, no new errors */
    p[1].tick_rc = CLB_OK;
    cr_assert_eq(clb_clock_advance_to(&c, 3 * SEC), 1);
    cr_assert_eq(p[1].base.errors, 3);
    cr_assert_eq(seen.n, 3);
    clb_clock_deinit(&c);
}

Test(clock, time_going_backwards_is_rejected_and_changes_nothing)
{
    struct log log = { .n = 0 };
    struct probe a;
    probe_init(&a, 0, &log);
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, 5 * SEC + 1), 6);
    int n_before = log.n;
    cr_assert_eq(clb_clock_advance_to(&c, 5 * SEC), CLB_EINVAL);
    cr_assert_eq(clb_clock_advance_to(&c, -1), CLB_EINVAL);
    cr_assert_eq(clb_clock_stop(&c, 5 * SEC), CLB_EINVAL);
    cr_assert_eq(log.n, n_before, "no hook ran");
    cr_assert_eq(clb_clock_now_ns(&c), 5 * SEC + 1);
    cr_assert_eq(clb_clock_next_tick_ns(&c), 6 * SEC);
    cr_assert_eq(c.tick_count, 6);
    cr_assert_eq(a.base.ticks, 6);
    cr_assert(clb_clock_running(&c));
    cr_assert_eq(clb_clock_stop(&c, 6 * SEC), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 6 * SEC - 1), CLB_EINVAL, "restart in the past");
    clb_clock_deinit(&c);
}

Test(clock, failing_start_hook_rolls_back)
{
    struct log log = { .n = 0 };
    struct err_seen seen = { .n = 0 };
    struct probe p[3];
    struct clb_clock c;
    struct clb_clock_config cfg = { .mode = CLB_CLOCK_BACKTEST, .tick_ns = SEC,
                                    .on_error = on_error, .error_ud = &seen };
    cr_assert_eq(clb_clock_init(&c, &cfg), CLB_OK);
    for (int i = 0; i < 3; i++) {
        probe_init(&p[i], i, &log);
        cr_assert_eq(clb_clock_add(&c, &p[i].base), CLB_OK);
    }
    p[1].start_rc = CLB_ENOTREADY;
    cr_assert_eq(clb_clock_start(&c, 4 * SEC), CLB_ENOTREADY);
    expect_call(&log, 0, 0, EV_START, 4 * SEC);
    expect_call(&log, 1, 1, EV_START, 4 * SEC);
    expect_call(&log, 2, 0, EV_STOP, 4 * SEC);
    cr_assert_eq(log.n, 3, "p2 never started, p1 not stopped");
    cr_assert_not(clb_clock_running(&c));
    cr_assert_eq(clb_clock_advance_to(&c, 5 * SEC), CLB_ESTATE);
    cr_assert_eq(p[1].base.last_error, CLB_ENOTREADY);
    cr_assert_eq(seen.n, 1);
    cr_assert_eq(seen.it[0], &p[1].base);
    /* fixed, it starts */
    p[1].start_rc = CLB_OK;
    cr_assert_eq(clb_clock_start(&c, 4 * SEC), CLB_OK);
    cr_assert_eq(clb_clock_count(&c), 3);
    clb_clock_deinit(&c);
}

/* ---- add / remove ----------------------------------------------------------- */

Test(clock, add_after_start_calls_start_at_the_current_time)
{
    struct log log = { .n = 0 };
    struct probe a, b;
    probe_init(&a, 0, &log);
    probe_init(&b, 1, &log);
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, 2 * SEC + 7), 3);
    int n = log.n;
    cr_assert_eq(clb_clock_add(&c, &b.base), CLB_OK);
    expect_call(&log, n, 1, EV_START, 2 * SEC + 7);
    cr_assert_eq(clb_clock_add(&c, &b.base), CLB_EEXIST);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_EEXIST);
    cr_assert_eq(log.n, n + 1, "a rejected add calls no hook");
    cr_assert_eq(clb_clock_advance_to(&c, 3 * SEC), 1);
    expect_call(&log, n + 1, 0, EV_TICK, 3 * SEC);
    expect_call(&log, n + 2, 1, EV_TICK, 3 * SEC);

    /* an iterator belongs to one clock at a time */
    struct clb_clock other;
    clock_make(&other, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_add(&other, &a.base), CLB_EEXIST);
    cr_assert_eq(clb_clock_remove(&other, &a.base), CLB_ENOTFOUND);
    cr_assert_eq(clb_clock_add(&c, NULL), CLB_EINVAL);
    clb_clock_deinit(&other);
    clb_clock_deinit(&c);
}

Test(clock, add_after_start_with_failing_start_is_not_added)
{
    struct log log = { .n = 0 };
    struct probe a;
    probe_init(&a, 0, &log);
    a.start_rc = CLB_EIO;
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_EIO);
    cr_assert_eq(clb_clock_count(&c), 0);
    cr_assert_null(a.base.clock);
    cr_assert_eq(clb_clock_advance_to(&c, SEC), 2);
    cr_assert_eq(a.base.ticks, 0);
    cr_assert_eq(c.hook_errors, 1);
    clb_clock_deinit(&c);
}

Test(clock, remove_calls_stop_and_preserves_order)
{
    struct log log = { .n = 0 };
    struct probe p[4];
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    for (int i = 0; i < 4; i++) {
        probe_init(&p[i], i, &log);
        cr_assert_eq(clb_clock_add(&c, &p[i].base), CLB_OK);
    }
    /* not running: no stop hook */
    cr_assert_eq(clb_clock_remove(&c, &p[3].base), CLB_OK);
    cr_assert_eq(log.n, 0);
    cr_assert_eq(clb_clock_remove(&c, &p[3].base), CLB_ENOTFOUND);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, SEC / 2), 1);
    int n = log.n;
    cr_assert_eq(clb_clock_remove(&c, &p[1].base), CLB_OK);
    expect_call(&log, n, 1, EV_STOP, SEC / 2);
    cr_assert_null(p[1].base.clock);
    cr_assert_eq(clb_clock_count(&c), 2);
    cr_assert_eq(clb_clock_advance_to(&c, SEC), 1);
    expect_call(&log, n + 1, 0, EV_TICK, SEC);
    expect_call(&log, n + 2, 2, EV_TICK, SEC);
    cr_assert_eq(log.n, n + 3);
    /* re-added iterators go to the back */
    cr_assert_eq(clb_clock_add(&c, &p[1].base), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, 2 * SEC), 1);
    expect_call(&log, n + 4, 0, EV_TICK, 2 * SEC);
    expect_call(&log, n + 5, 2, EV_TICK, 2 * SEC);
    expect_call(&log, n + 6, 1, EV_TICK, 2 * SEC);
    clb_clock_deinit(&c);
}

Test(clock, capacity_is_fixed)
{
    static struct probe p[CLB_CLOCK_MAX_ITERATORS + 1];
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    for (int i = 0; i <= CLB_CLOCK_MAX_ITERATORS; i++)
        probe_init(&p[i], i, NULL);
    for (int i = 0; i < CLB_CLOCK_MAX_ITERATORS; i++)
        cr_assert_eq(clb_clock_add(&c, &p[i].base), CLB_OK);
    cr_assert_eq(clb_clock_add(&c, &p[CLB_CLOCK_MAX_ITERATORS].base), CLB_EFULL);
    cr_assert_null(p[CLB_CLOCK_MAX_ITERATORS].base.clock);
    cr_assert_eq(clb_clock_count(&c), CLB_CLOCK_MAX_ITERATORS);
    cr_assert_eq(clb_clock_remove(&c, &p[10].base), CLB_OK);
    cr_assert_eq(clb_clock_add(&c, &p[CLB_CLOCK_MAX_ITERATORS].base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, 0), 1);
    cr_assert_eq(p[CLB_CLOCK_MAX_ITERATORS].base.ticks, 1);
    cr_assert_eq(p[10].base.ticks, 0);
    clb_clock_deinit(&c);
}

Test(clock, restart_never_repeats_a_delivered_boundary)
{
    struct log log = { .n = 0 };
    struct probe a;
    probe_init(&a, 0, &log);
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, 2 * SEC), 3);
    cr_assert_eq(clb_clock_stop(&c, 2 * SEC), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 2 * SEC), CLB_OK);
    cr_assert_eq(clb_clock_next_tick_ns(&c), 3 * SEC);
    cr_assert_eq(clb_clock_advance_to(&c, 3 * SEC), 1);
    cr_assert_eq(a.base.ticks, 4);
    cr_assert_eq(a.base.last_tick_ns, 3 * SEC);
    clb_clock_deinit(&c);
}

/* ---- re-entrancy from hooks ----------------------------------------------- */

static void act_remove_other_then_self(struct probe *p, int64_t now_ns)
{
    (void)now_ns;
    cr_assert_eq(clb_clock_remove(p->clock, &p->other->base), CLB_OK);
    cr_assert_eq(clb_clock_remove(p->clock, &p->base), CLB_OK);
    cr_assert_eq(clb_clock_remove(p->clock, &p->base), CLB_ENOTFOUND);
}

static void act_add_other(struct probe *p, int64_t now_ns)
{
    (void)now_ns;
    if (!p->other->base.clock)
        cr_assert_eq(clb_clock_add(p->clock, &p->other->base), CLB_OK);
}

Test(clock, tick_hooks_may_add_and_remove)
{
    struct log log = { .n = 0 };
    struct probe p[5];
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    for (int i = 0; i < 5; i++) {
        probe_init(&p[i], i, &log);
        p[i].clock = &c;
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(clb_clock_add(&c, &p[i].base), CLB_OK);
    /* p1 removes p3 (later) and itself, failing; p2 adds p4 */
    p[1].on_tick = act_remove_other_then_self;
    p[1].other = &p[3];
    p[1].tick_rc = CLB_EIO;
    p[2].on_tick = act_add_other;
    p[2].other = &p[4];
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    int n = log.n;
    cr_assert_eq(clb_clock_advance_to(&c, SEC), 2);
    int i = n;
    expect_call(&log, i++, 0, EV_TICK, 0);
    expect_call(&log, i++, 1, EV_TICK, 0);
    expect_call(&log, i++, 3, EV_STOP, 0);
    expect_call(&log, i++, 1, EV_STOP, 0);
    expect_call(&log, i++, 2, EV_TICK, 0);
    expect_call(&log, i++, 4, EV_START, 0); /* added during the tick at 0 ... */
    expect_call(&log, i++, 0, EV_TICK, SEC);
    expect_call(&log, i++, 2, EV_TICK, SEC);
    expect_call(&log, i++, 4, EV_TICK, SEC); /* ... first ticks at the next one */
    cr_assert_eq(log.n, i);
    cr_assert_eq(clb_clock_count(&c), 3);
    cr_assert_eq(c.hook_errors, 1, "the self-removed iterator's error still counts");
    cr_assert_eq(p[1].base.errors, 0, "but is not written into a removed iterator");
    clb_clock_deinit(&c);
}

static void act_reenter(struct probe *p, int64_t now_ns)
{
    p->reentry_rc = 0;
    if (clb_clock_advance_to(p->clock, now_ns + SEC) != CLB_ESTATE)
        p->reentry_rc = 1;
    if (clb_clock_stop(p->clock, now_ns) != CLB_ESTATE)
        p->reentry_rc = 2;
    if (clb_clock_start(p->clock, now_ns) != CLB_ESTATE)
        p->reentry_rc = 3;
}

static int start_adds_other(struct clb_time_iterator *it, int64_t now_ns)
{
    struct probe *p = (struct probe *)it;
    (void)now_ns;
    p->reentry_rc = clb_clock_add(p->clock, &p->other->base);
    return CLB_OK;
}

Test(clock, hooks_cannot_drive_the_clock)
{
    struct probe a, b;
    probe_init(&a, 0, NULL);
    probe_init(&b, 1, NULL);
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_REALTIME, SEC, 0);
    a.clock = &c;
    a.on_tick = act_reenter;
    a.reentry_rc = -1;
    cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(clb_clock_advance_to(&c, 0), 1);
    cr_assert_eq(a.reentry_rc, 0);
    cr_assert_eq(clb_clock_stop(&c, 0), CLB_OK);
    clb_clock_deinit(&c);

    static const struct clb_time_iterator_ops adder_ops = { .start = start_adds_other };
    struct probe d;
    probe_init(&d, 2, NULL);
    d.base.ops = &adder_ops;
    d.clock = &c;
    d.other = &b;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    cr_assert_eq(clb_clock_add(&c, &d.base), CLB_OK);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    cr_assert_eq(d.reentry_rc, CLB_ESTATE);
    cr_assert_eq(clb_clock_count(&c), 1);
    clb_clock_deinit(&c);
}

/* ---- property tests against naive references -------------------------------- */

/* Naive: smallest multiple of tick that is >= lo, by stepping. */
static int64_t naive_first_multiple_at_or_after(int64_t tick, int64_t lo)
{
    int64_t m = (lo / tick) * tick;
    while (m < lo)
        m += tick;
    return m;
}

Test(clock, property_backtest_ticks_are_all_multiples_in_range)
{
    static const int64_t ticks[] = { MS, 7 * MS, 250 * MS, SEC, 3 * SEC + 1 };
    uint64_t seed = 0xC10CC10Cull;
    for (int round = 0; round < 40; round++) {
        int64_t tick = ticks[round % 5];
        struct clb_clock c;
        clock_make(&c, CLB_CLOCK_BACKTEST, tick, 0);
        struct probe a;
        probe_init(&a, 0, NULL);
        cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
        int64_t start = rng_range(&seed, 50 * tick);
        if (round % 3 == 0)
            start -= start % tick; /* on a boundary */
        cr_assert_eq(clb_clock_start(&c, start), CLB_OK);
        int64_t now = start;
        for (int step = 0; step < 300; step++) {
            /* increments: zero, tiny, to an exact boundary, or several ticks */
            int64_t inc;
            switch (rng_range(&seed, 4)) {
            case 0: inc = 0; break;
            case 1: inc = rng_range(&seed, tick / 3 + 1); break;
            case 2: inc = (now / tick + 1) * tick - now; break;
            default: inc = rng_range(&seed, 5 * tick); break;
            }
            int64_t target = now + inc;
            int64_t before = a.base.ticks;
            int64_t ran = clb_clock_advance_to(&c, target);
            cr_assert_geq(ran, 0);
            cr_assert_eq((int64_t)a.base.ticks - before, ran);
            /* naive list of boundaries in the newly covered range */
            int64_t lo = step == 0 ? start : now + 1;
            int64_t expect_n = 0;
            for (int64_t m = naive_first_multiple_at_or_after(tick, lo); m <= target; m += tick)
                expect_n++;
            cr_assert_eq(ran, expect_n, "round %d step %d: ran %lld want %lld", round, step,
                         (long long)ran, (long long)expect_n);
            if (ran > 0)
                cr_assert_eq(a.base.last_tick_ns, target - target % tick);
            now = target;
            cr_assert_eq(clb_clock_now_ns(&c), now);
            cr_assert_eq(clb_clock_next_tick_ns(&c),
                         naive_first_multiple_at_or_after(tick, now + 1));
        }
        /* total ticks == every multiple in [start, now] */
        int64_t total = 0;
        for (int64_t m = naive_first_multiple_at_or_after(tick, start); m <= now; m += tick)
            total++;
        cr_assert_eq((int64_t)a.base.ticks, total);
        cr_assert_eq((int64_t)c.tick_count, total);
        clb_clock_deinit(&c);
    }
}

/* Exact list comparison: every tick's own timestamp, not just the count. */

struct ts_rec {
    struct clb_time_iterator base;
    int64_t *ts;
    int n;
    int cap;
};

static int ts_tick(struct clb_time_iterator *it, int64_t now_ns)
{
    struct ts_rec *r = (struct ts_rec *)it;
    cr_assert_eq(clb_clock_now_ns(it->clock), now_ns, "clock time during a tick");
    if (r->n < r->cap)
        r->ts[r->n++] = now_ns;
    return CLB_OK;
}

Test(clock, property_backtest_timestamp_list_equals_naive_list)
{
    static int64_t got[200000];
    static int64_t want[200000];
    static const struct clb_time_iterator_ops ops = { .name = "ts", .tick = ts_tick };
    uint64_t seed = 42;
    for (int round = 0; round < 20; round++) {
        int64_t tick = MS * (1 + rng_range(&seed, 1000));
        struct clb_clock c;
        clock_make(&c, CLB_CLOCK_BACKTEST, tick, 0);
        struct ts_rec r = { .ts = got, .n = 0, .cap = 200000 };
        clb_time_iterator_init(&r.base, &ops);
        cr_assert_eq(clb_clock_add(&c, &r.base), CLB_OK);
        int64_t start = rng_range(&seed, INT64_C(1) << 50);
        cr_assert_eq(clb_clock_start(&c, start), CLB_OK);
        int64_t now = start;
        int nwant = 0;
        /* naive reference: walk every candidate multiple, in order */
        int64_t m = (start / tick) * tick;
        for (int step = 0; step < 2000; step++) {
            int64_t target = now + rng_range(&seed, 4 * tick);
            cr_assert_geq(clb_clock_advance_to(&c, target), 0);
            for (; m <= target; m += tick) {
                if (m >= start)
                    want[nwant++] = m;
            }
            now = target;
        }
        cr_assert_eq(r.n, nwant);
        for (int i = 0; i < nwant; i++)
            cr_assert_eq(got[i], want[i], "round %d tick %d", round, i);
        clb_clock_deinit(&c);
    }
}

Test(clock, property_realtime_one_tick_at_latest_boundary)
{
    uint64_t seed = 7;
    for (int round = 0; round < 20; round++) {
        int64_t tick = MS * (1 + rng_range(&seed, 2000));
        struct clb_clock c;
        clock_make(&c, CLB_CLOCK_REALTIME, tick, 0);
        struct probe a;
        probe_init(&a, 0, NULL);
        cr_assert_eq(clb_clock_add(&c, &a.base), CLB_OK);
        int64_t start = rng_range(&seed, INT64_C(1) << 55);
        cr_assert_eq(clb_clock_start(&c, start), CLB_OK);
        int64_t now = start;
        uint64_t boundaries = 0;
        for (int step = 0; step < 3000; step++) {
            int64_t inc = rng_range(&seed, 2) ? rng_range(&seed, tick + 1)
                                              : rng_range(&seed, 50 * tick);
            int64_t target = now + inc;
            int64_t lo = step == 0 ? start : now + 1;
            uint64_t k = 0;
            int64_t latest = -1;
            for (int64_t m = naive_first_multiple_at_or_after(tick, lo); m <= target; m += tick) {
                k++;
                latest = m;
            }
            int64_t ran = clb_clock_advance_to(&c, target);
            cr_assert_eq(ran, k ? 1 : 0);
            if (k)
                cr_assert_eq(a.base.last_tick_ns, latest);
            boundaries += k;
            now = target;
            cr_assert_eq(c.tick_count + c.ticks_skipped, boundaries);
            cr_assert_eq(clb_clock_next_tick_ns(&c), (now / tick + 1) * tick);
        }
        clb_clock_deinit(&c);
    }
}

Test(clock, property_tick_order_follows_add_order_under_random_add_remove)
{
    enum { NP = 24 };
    static struct probe p[NP];
    static struct log log;
    uint64_t seed = 99;
    struct clb_clock c;
    clock_make(&c, CLB_CLOCK_BACKTEST, SEC, 0);
    int model[NP]; /* naive reference: ids in add order */
    int nm = 0;
    for (int i = 0; i < NP; i++)
        probe_init(&p[i], i, &log);
    cr_assert_eq(clb_clock_start(&c, 0), CLB_OK);
    int64_t now = 0;
    for (int step = 0; step < 5000; step++) {
        int id = (int)rng_range(&seed, NP);
        int pos = -1;
        for (int j = 0; j < nm; j++)
            if (model[j] == id)
                pos = j;
        log.n = 0;
        switch (rng_range(&seed, 3)) {
        case 0:
            if (pos < 0) {
                cr_assert_eq(clb_clock_add(&c, &p[id].base), CLB_OK);
                model[nm++] = id;
                expect_call(&log, 0, id, EV_START, now);
            } else {
                cr_assert_eq(clb_clock_add(&c, &p[id].base), CLB_EEXIST);
                cr_assert_eq(log.n, 0);
            }
            break;
        case 1:
            if (pos >= 0) {
                cr_assert_eq(clb_clock_remove(&c, &p[id].base), CLB_OK);
                memmove(&model[pos], &model[pos + 1], (size_t)(nm - pos - 1) * sizeof(int));
                nm--;
                expect_call(&log, 0, id, EV_STOP, now);
            } else {
                cr_assert_eq(clb_clock_remove(&c, &p[id].base), CLB_ENOTFOUND);
                cr_assert_eq(log.n, 0);
            }
            break;
        default: {
            int64_t target = now + rng_range(&seed, 3 * SEC);
            int64_t ran = clb_clock_advance_to(&c, target);
            cr_assert_geq(ran, 0);
            cr_assert_eq(log.n, (int)ran * nm);
            for (int64_t t = 0; t < ran; t++)
                for (int j = 0; j < nm; j++)
                    cr_assert_eq(log.c[t * nm + j].id, model[j], "step %d", step);
            now = target;
            break;
        }
        }
        cr_assert_eq(clb_clock_count(&c), nm);
    }
    log.n = 0;
    cr_assert_eq(clb_clock_stop(&c, now), CLB_OK);
    cr_assert_eq(log.n, nm);
    for (int j = 0; j < nm; j++)
        expect_call(&log, j, model[nm - 1 - j], EV_STOP, now);
    clb_clock_deinit(&c);
}
