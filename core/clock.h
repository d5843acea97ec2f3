/*
 * clock.h — the clock that drives connectors and strategies.
 *
 * A clock owns an ordered list of time iterators (connectors, strategies, the
 * paper exchange, ...) and calls their tick hook at every tick boundary. The
 * boundaries are the multiples of tick_ns (>= 1 ms); the first tick after
 * clb_clock_start(now) is at the first boundary >= now. Iterators tick in the
 * order they were added, so adding connectors before strategies makes data
 * producers tick before their consumers (the Hummingbot rule).
 *
 * core never reads the wall clock: the caller passes the time in.
 *   - REALTIME: the worker's event loop arms a timer at clb_clock_next_tick_ns()
 *     and calls clb_clock_advance_to(wall_now). If the process stalled across
 *     several boundaries they collapse into ONE tick at the latest boundary;
 *     the others are counted in ticks_skipped (a stall must not burst-run a
 *     hundred ticks against a market that has moved on).
 *   - BACKTEST: the replayer interleaves data events and ticks by calling
 *     clb_clock_advance_to(event_ts) before applying each event; every boundary
 *     in between is delivered, one by one, each with its own timestamp. The
 *     clock runs as fast as the caller feeds it.
 *
 * Errors: a tick hook that returns non-zero does not stop the others. The
 * error is recorded on the iterator (errors, last_error, last_error_ns), in
 * the clock's hook_errors, and reported to the optional error callback. (If
 * the failing hook removed its own iterator, only hook_errors counts it: the
 * iterator may already be freed.) Failed start hooks are recorded the same way.
 *
 * Lifecycle order: start hooks run in add order; stop hooks run in REVERSE add
 * order (Hummingbot stops in add order; we deliberately differ): strategies
 * stop before the connectors they trade through, so a strategy's stop hook can
 * still cancel its orders through a live connector.
 *
 * Iterators are not owned: the clock stores pointers, never allocates and
 * never frees. Fixed capacity CLB_CLOCK_MAX_ITERATORS. Single-threaded: every
 * function is called on the worker thread (or the backtester's thread).
 *
 * Re-entrancy: a tick hook may add or remove iterators, including itself. An
 * iterator added during a tick first ticks at the next boundary; one removed
 * during a tick is not ticked again (its stop hook runs at once); its slot
 * counts toward the capacity until that boundary is done. Start and
 * stop hooks may not add or remove; no hook may start, stop or advance the
 * clock (CLB_ESTATE).
 */
#ifndef CLB_CLOCK_H
#define CLB_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define CLB_CLOCK_MAX_ITERATORS 64
#define CLB_CLOCK_MIN_TICK_NS INT64_C(1000000) /* 1 ms */
#define CLB_CLOCK_NEVER INT64_MAX              /* "no tick due" */

enum clb_clock_mode {
    CLB_CLOCK_REALTIME = 0,
    CLB_CLOCK_BACKTEST
};

struct clb_time_iterator;

/* Hooks of one kind of iterator; any hook may be NULL. Hooks return 0 (CLB_OK)
 * or a negative CLB_E* code. `now_ns` is the clock time: for a tick, the
 * boundary being delivered. */
struct clb_time_iterator_ops {
    const char *name; /* for logs; may be NULL */
    int (*start)(struct clb_time_iterator *it, int64_t now_ns);
    int (*tick)(struct clb_time_iterator *it, int64_t now_ns);
    void (*stop)(struct clb_time_iterator *it, int64_t now_ns);
};

/* Base struct embedded as the FIRST member of a connector or strategy, so a
 * hook casts `it` back to its own type. Fields other than ops are maintained
 * by the clock; read them, do not write them. */
struct clb_time_iterator {
    const struct clb_time_iterator_ops *ops;
    struct clb_clock *clock; /* the clock holding it, NULL when not added */
    uint64_t ticks;          /* tick hook calls */
    uint64_t errors;         /* failed start/tick hook calls */
    int last_error;          /* code of the latest failure, 0 if none */
    int64_t last_error_ns;   /* clock time of that failure */
    int64_t last_tick_ns;    /* timestamp of the latest tick, -1 if none */
};

/* Called once per failed start or tick hook, after the failure is recorded on
 * `it`. Must not start, stop or advance the clock. */
typedef void (*clb_clock_error_fn)(void *ud, struct clb_time_iterator *it, int err,
                                   int64_t now_ns);

struct clb_clock_config {
    enum clb_clock_mode mode;
    int64_t tick_ns;             /* >= CLB_CLOCK_MIN_TICK_NS */
    int64_t end_ns;              /* no tick after this instant; 0 = no end */
    clb_clock_error_fn on_error; /* optional */
    void *error_ud;
};

/* Caller-owned; treat every field as private except through the accessors
 * below. Counters are public reading for metrics. */
struct clb_clock {
    enum clb_clock_mode mode;
    int64_t tick_ns;
    int64_t start_ns;       /* time passed to the latest clb_clock_start */
    int64_t end_ns;         /* 0 = none */
    int64_t now_ns;         /* current clock time (the boundary, during a tick) */
    int64_t next_ns_;       /* next boundary due, CLB_CLOCK_NEVER if none */
    int64_t last_tick_ns_;  /* latest boundary delivered, -1 if none */
    uint64_t tick_count;    /* boundaries delivered */
    uint64_t ticks_skipped; /* REALTIME boundaries collapsed away */
    uint64_t hook_errors;   /* failed start/tick hook calls, all iterators */
    clb_clock_error_fn on_error;
    void *error_ud;
    struct clb_time_iterator *its_[CLB_CLOCK_MAX_ITERATORS]; /* NULL = hole */
    int n_;                 /* used slots, holes included */
    int holes_;
    bool started_;          /* clb_clock_start was ever called */
    bool running_;
    bool ticking_;          /* inside the tick loop */
    bool in_lifecycle_;     /* inside a start or stop hook */
};

/* Sets the hooks and zeroes the bookkeeping of an iterator that is not in a
 * clock. Call before the first clb_clock_add. */
void clb_time_iterator_init(struct clb_time_iterator *it,
                            const struct clb_time_iterator_ops *ops);

/* ops->name, or "iterator" when there is none. Never NULL. */
const char *clb_time_iterator_name(const struct clb_time_iterator *it);

/* Initialises a stopped clock with no iterators. Returns CLB_OK, or CLB_EINVAL
 * (unknown mode, tick_ns < 1 ms, negative end_ns) leaving *c untouched. */
int clb_clock_init(struct clb_clock *c, const struct clb_clock_config *cfg);

/* Detaches every iterator (their `clock` becomes NULL) WITHOUT calling any
 * hook: call clb_clock_stop first to give them their stop. Not from a hook. */
void clb_clock_deinit(struct clb_clock *c);

/* Appends an iterator (initialised by clb_time_iterator_init). If the clock is
 * running, the iterator's start hook is called at once with the current time;
 * if that hook fails, its error is recorded and returned and the iterator is
 * not added. Returns CLB_OK, CLB_EINVAL (NULL or no ops), CLB_EEXIST (already
 * in this or another clock), CLB_EFULL, CLB_ESTATE (from a start/stop hook),
 * or the start hook's error. */
int clb_clock_add(struct clb_clock *c, struct clb_time_iterator *it);

/* Removes an iterator; if the clock is running its stop hook is called at once
 * with the current time. The caller may free it after this returns (or in its
 * stop hook). Returns CLB_OK, CLB_ENOTFOUND (not in this clock), CLB_ESTATE
 * (from a start/stop hook). */
int clb_clock_remove(struct clb_clock *c, struct clb_time_iterator *it);

/* Starts the clock at `now_ns` (>= 0; on a restart, >= the current time) and
 * calls every start hook in add order. The first tick is due at the first
 * boundary >= now_ns (never a boundary already delivered before a stop).
 * All-or-nothing: if a start hook fails, the iterators already started get
 * their stop hooks (in reverse), the clock stays stopped and the hook's error
 * is returned. Other errors: CLB_ESTATE (running, or from a hook), CLB_EINVAL
 * (bad time). */
int clb_clock_start(struct clb_clock *c, int64_t now_ns);

/* Stops the clock at `now_ns` (>= current time) and calls every stop hook in
 * REVERSE add order; pending boundaries are not delivered. Iterators stay
 * added; the clock may be started again. Returns CLB_OK, CLB_ESTATE (not
 * running, or from a hook), CLB_EINVAL (time going backwards). */
int clb_clock_stop(struct clb_clock *c, int64_t now_ns);

/* Moves the clock to `now_ns` and delivers the boundaries b with
 * next_tick_ns() <= b <= min(now_ns, end_ns): all of them in BACKTEST mode,
 * only the latest in REALTIME mode (the rest are added to ticks_skipped).
 * At each delivered boundary every iterator's tick hook runs, in add order.
 * Returns the number of boundaries delivered (>= 0), or CLB_ESTATE (not
 * running, or from a hook) or CLB_EINVAL (now_ns < current time); on error
 * nothing runs and nothing changes. */
int64_t clb_clock_advance_to(struct clb_clock *c, int64_t now_ns);

/* Timestamp of the next boundary due, or CLB_CLOCK_NEVER when the clock is not
 * running or the end has passed. A REALTIME loop arms its timer for it; a
 * backtester ticks before applying any event at or after it. */
int64_t clb_clock_next_tick_ns(const struct clb_clock *c);

/* Current clock time (during a tick: the boundary being delivered). */
int64_t clb_clock_now_ns(const struct clb_clock *c);

bool clb_clock_running(const struct clb_clock *c);

/* Number of iterators currently added. */
int clb_clock_count(const struct clb_clock *c);

/* True when end_ns is set and the clock has reached it (backtest finished). */
bool clb_clock_finished(const struct clb_clock *c);

/* "realtime" / "backtest" / "unknown". */
const char *clb_clock_mode_name(enum clb_clock_mode mode);

#endif
