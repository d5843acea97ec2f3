/*
 * clock.c — tick scheduling over an ordered array of iterator pointers.
 *
 * Times are non-negative int64 nanoseconds; boundaries are multiples of
 * tick_ns. The clock keeps the next boundary due (next_ns_) rather than the
 * last time seen, so "first boundary >= start" and "every boundary in
 * (last, now]" are the same rule: deliver every b with next_ns_ <= b <= now.
 * A boundary that would overflow int64, or lie beyond end_ns, becomes
 * CLB_CLOCK_NEVER.
 *
 * Removal during a tick leaves a hole (NULL) so the tick loop's index stays
 * valid and nobody is skipped or ticked twice; holes are squeezed out, order
 * preserved, as soon as the current boundary has been delivered. Outside a
 * tick, removal shifts the array at once. Appending is the only way in, so
 * array order is add order.
 */
#include "clock.h"

#include <stddef.h>
#include <string.h>

#include "error.h"

void clb_time_iterator_init(struct clb_time_iterator *it,
                            const struct clb_time_iterator_ops *ops)
{
    memset(it, 0, sizeof(*it));
    it->ops = ops;
    it->last_tick_ns = -1;
}

const char *clb_time_iterator_name(const struct clb_time_iterator *it)
{
    if (it && it->ops && it->ops->name)
        return it->ops->name;
    return "iterator";
}

int clb_clock_init(struct clb_clock *c, const struct clb_clock_config *cfg)
{
    if (!c || !cfg)
        return CLB_EINVAL;
    if (cfg->mode != CLB_CLOCK_REALTIME && cfg->mode != CLB_CLOCK_BACKTEST)
        return CLB_EINVAL;
    if (cfg->tick_ns < CLB_CLOCK_MIN_TICK_NS || cfg->end_ns < 0)
        return CLB_EINVAL;
    memset(c, 0, sizeof(*c));
    c->mode = cfg->mode;
    c->tick_ns = cfg->tick_ns;
    c->end_ns = cfg->end_ns;
    c->on_error = cfg->on_error;
    c->error_ud = cfg->error_ud;
    c->next_ns_ = CLB_CLOCK_NEVER;
    c->last_tick_ns_ = -1;
    return CLB_OK;
}

void clb_clock_deinit(struct clb_clock *c)
{
    for (int i = 0; i < c->n_; i++) {
        if (c->its_[i])
            c->its_[i]->clock = NULL;
    }
    c->n_ = 0;
    c->holes_ = 0;
    c->running_ = false;
    c->next_ns_ = CLB_CLOCK_NEVER;
}

/* The boundary `b` as the next one due, or NEVER when past the end. */
static int64_t clamp_end(const struct clb_clock *c, int64_t b)
{
    if (b == CLB_CLOCK_NEVER || (c->end_ns > 0 && b > c->end_ns))
        return CLB_CLOCK_NEVER;
    return b;
}

/* First boundary >= t (t >= 0), NEVER on overflow. */
static int64_t boundary_at_or_after(int64_t tick_ns, int64_t t)
{
    int64_t q = t / tick_ns;
    if (q * tick_ns == t)
        return t;
    if (q + 1 > INT64_MAX / tick_ns)
        return CLB_CLOCK_NEVER;
    return (q + 1) * tick_ns;
}

/* The boundary after `b`, NEVER on overflow. */
static int64_t boundary_after(int64_t tick_ns, int64_t b)
{
    if (b > INT64_MAX - tick_ns)
        return CLB_CLOCK_NEVER;
    return b + tick_ns;
}

static void record_error(struct clb_clock *c, struct clb_time_iterator *it, int err,
                         int64_t now_ns)
{
    c->hook_errors++;
    if (!it)
        return;
    it->errors++;
    it->last_error = err;
    it->last_error_ns = now_ns;
    if (c->on_error)
        c->on_error(c->error_ud, it, err, now_ns);
}

static int call_start(struct clb_clock *c, struct clb_time_iterator *it, int64_t now_ns)
{
    if (!it->ops->start)
        return CLB_OK;
    bool saved = c->in_lifecycle_;
    c->in_lifecycle_ = true;
    int rc = it->ops->start(it, now_ns);
    c->in_lifecycle_ = saved;
    if (rc != CLB_OK)
        record_error(c, it, rc, now_ns);
    return rc;
}

static void call_stop(struct clb_clock *c, struct clb_time_iterator *it, int64_t now_ns)
{
    if (!it->ops->stop)
        return;
    bool saved = c->in_lifecycle_;
    c->in_lifecycle_ = true;
    it->ops->stop(it, now_ns);
    c->in_lifecycle_ = saved;
}

static void compact(struct clb_clock *c)
{
    if (c->holes_ == 0)
        return;
    int w = 0;
    for (int r = 0; r < c->n_; r++) {
        if (c->its_[r])
            c->its_[w++] = c->its_[r];
    }
    for (int i = w; i < c->n_; i++)
        c->its_[i] = NULL;
    c->n_ = w;
    c->holes_ = 0;
}

int clb_clock_add(struct clb_clock *c, struct clb_time_iterator *it)
{
    if (!c || !it || !it->ops)
        return CLB_EINVAL;
    if (c->in_lifecycle_)
        return CLB_ESTATE;
    if (it->clock)
        return CLB_EEXIST;
    if (c->n_ == CLB_CLOCK_MAX_ITERATORS)
        return CLB_EFULL;
    if (c->running_) {
        /* Mark it as ours while its start hook runs, so that a second add of
         * the same iterator from elsewhere is still refused. */
        it->clock = c;
        int rc = call_start(c, it, c->now_ns);
        if (rc != CLB_OK) {
            it->clock = NULL;
            return rc;
        }
    }
    it->clock = c;
    c->its_[c->n_++] = it;
    return CLB_OK;
}

int clb_clock_remove(struct clb_clock *c, struct clb_time_iterator *it)
{
    if (!c || !it)
        return CLB_ENOTFOUND;
    if (c->in_lifecycle_)
        return CLB_ESTATE;
    if (it->clock != c)
        return CLB_ENOTFOUND;
    int idx = -1;
    for (int i = 0; i < c->n_; i++) {
        if (c->its_[i] == it) {
            idx = i;
            break;
        }
    }
    if (idx < 0)
        return CLB_ENOTFOUND;
    if (c->ticking_) {
        c->its_[idx] = NULL;
        c->holes_++;
    } else {
        memmove(&c->its_[idx], &c->its_[idx + 1],
                (size_t)(c->n_ - idx - 1) * sizeof(c->its_[0]));
        c->its_[--c->n_] = NULL;
    }
    it->clock = NULL;
    /* Last: the stop hook may free `it`. */
    if (c->running_)
        call_stop(c, it, c->now_ns);
    return CLB_OK;
}

int clb_clock_start(struct clb_clock *c, int64_t now_ns)
{
    if (c->running_ || c->ticking_ || c->in_lifecycle_)
        return CLB_ESTATE;
    if (now_ns < 0 || (c->started_ && now_ns < c->now_ns))
        return CLB_EINVAL;
    for (int i = 0; i < c->n_; i++) {
        int rc = call_start(c, c->its_[i], now_ns);
        if (rc != CLB_OK) {
            for (int j = i - 1; j >= 0; j--)
                call_stop(c, c->its_[j], now_ns);
            return rc;
        }
    }
    int64_t first = boundary_at_or_after(c->tick_ns, now_ns);
    if (c->last_tick_ns_ >= 0 && first != CLB_CLOCK_NEVER && first <= c->last_tick_ns_)
        first = boundary_after(c->tick_ns, c->last_tick_ns_);
    c->started_ = true;
    c->running_ = true;
    c->start_ns = now_ns;
    c->now_ns = now_ns;
    c->next_ns_ = clamp_end(c, first);
    return CLB_OK;
}

int clb_clock_stop(struct clb_clock *c, int64_t now_ns)
{
    if (!c->running_ || c->ticking_ || c->in_lifecycle_)
        return CLB_ESTATE;
    if (now_ns < c->now_ns)
        return CLB_EINVAL;
    c->now_ns = now_ns;
    for (int i = c->n_ - 1; i >= 0; i--)
        call_stop(c, c->its_[i], now_ns);
    c->running_ = false;
    c->next_ns_ = CLB_CLOCK_NEVER;
    return CLB_OK;
}

/* Delivers boundary b to every iterator present when it began, in order. */
static void tick_all(struct clb_clock *c, int64_t b)
{
    c->now_ns = b;
    c->ticking_ = true;
    int n = c->n_; /* iterators added by a tick hook wait for the next boundary */
    for (int i = 0; i < n; i++) {
        struct clb_time_iterator *it = c->its_[i];
        if (!it)
            continue;
        it->ticks++;
        it->last_tick_ns = b;
        if (!it->ops->tick)
            continue;
        int rc = it->ops->tick(it, b);
        if (rc != CLB_OK) {
            /* If the hook removed its own iterator, `it` may be freed: count
             * the failure on the clock only. */
            record_error(c, c->its_[i] == it ? it : NULL, rc, b);
        }
    }
    c->ticking_ = false;
    compact(c);
    c->last_tick_ns_ = b;
    c->tick_count++;
}

int64_t clb_clock_advance_to(struct clb_clock *c, int64_t now_ns)
{
    if (!c->running_ || c->ticking_ || c->in_lifecycle_)
        return CLB_ESTATE;
    if (now_ns < c->now_ns)
        return CLB_EINVAL;
    int64_t limit = now_ns;
    if (c->end_ns > 0 && limit > c->end_ns)
        limit = c->end_ns;
    int64_t ran = 0;
    if (c->next_ns_ != CLB_CLOCK_NEVER && c->next_ns_ <= limit) {
        if (c->mode == CLB_CLOCK_BACKTEST) {
            while (c->next_ns_ != CLB_CLOCK_NEVER && c->next_ns_ <= limit) {
                int64_t b = c->next_ns_;
                c->next_ns_ = clamp_end(c, boundary_after(c->tick_ns, b));
                tick_all(c, b);
                ran++;
            }
        } else {
            int64_t latest = limit - limit % c->tick_ns; /* >= next_ns_ */
            c->ticks_skipped += (uint64_t)((latest - c->next_ns_) / c->tick_ns);
            c->next_ns_ = clamp_end(c, boundary_after(c->tick_ns, latest));
            tick_all(c, latest);
            ran = 1;
        }
    }
    c->now_ns = now_ns;
    return ran;
}

int64_t clb_clock_next_tick_ns(const struct clb_clock *c)
{
    return c->running_ ? c->next_ns_ : CLB_CLOCK_NEVER;
}

int64_t clb_clock_now_ns(const struct clb_clock *c)
{
    return c->now_ns;
}

bool clb_clock_running(const struct clb_clock *c)
{
    return c->running_;
}

int clb_clock_count(const struct clb_clock *c)
{
    return c->n_ - c->holes_;
}

bool clb_clock_finished(const struct clb_clock *c)
{
    return c->started_ && c->end_ns > 0 && c->now_ns >= c->end_ns;
}

const char *clb_clock_mode_name(enum clb_clock_mode mode)
{
    switch (mode) {
    case CLB_CLOCK_REALTIME:
        return "realtime";
    case CLB_CLOCK_BACKTEST:
        return "backtest";
    }
    return "unknown";
}
