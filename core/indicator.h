/*
 * indicator.h — trailing indicators over a stream of samples (prices, trades).
 *
 * The shape is Hummingbot's BaseTrailingIndicator, made O(1) per sample:
 *
 *   add_sample(x) -> sampling buffer (last sampling_length samples)
 *                 -> ops->calculate(): one indicator value
 *                 -> processing buffer (last processing_length values)
 *   value()       -> ops->process(): the current value (default: their mean)
 *
 * As in Hummingbot, the current value is computed when it is read, so a
 * sample nobody reads costs no processing; the default mean is O(1) from a
 * running sum.
 *
 * struct clb_ring is the fixed-capacity double ring buffer both buffers are
 * made of. struct clb_indicator is the base every trailing indicator
 * extends: a derived indicator embeds it as its FIRST member, supplies a
 * const struct clb_indicator_ops and keeps whatever running state it needs
 * after the base (see clb_instant_vol below, or the custom indicator in
 * tests/core/indicator_test.c). `calculate` is told which sample the push
 * evicted, so it can update running sums instead of rescanning the buffer.
 *
 * The built-in indicators:
 *  - clb_instant_vol: sqrt(sum(diff(samples)^2) / number_of_diffs), O(1)
 *    with a running sum of squared differences.
 *  - clb_hist_vol: population standard deviation of the log returns
 *    ln(p_i / p_{i-1}) in the sampling buffer, O(1) with a sliding Welford
 *    mean/M2.
 *  - clb_ema: an exponential moving average (plain struct, no buffers).
 *  - clb_trading_intensity: Avellaneda-Stoikov order arrival intensity
 *    amount(depth) ~ alpha * exp(-kappa * depth), fitted from recent trades.
 * Running sums are recomputed exactly from the buffer every `capacity`
 * samples, and sooner when cancellation could have cost precision, so
 * floating-point drift never accumulates.
 *
 * Memory is allocated once, at init; adding a sample or fitting never
 * allocates. Samples must be finite with |x| <= CLB_INDICATOR_MAX_ABS; any
 * other input is CLB_EINVAL and changes nothing. Indicators are doubles by
 * design (DESIGN.md, "Money and time"). Not thread-safe: one owner thread
 * (the worker) per indicator; there is no shared state between indicators.
 */
#ifndef CLB_INDICATOR_H
#define CLB_INDICATOR_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest ring / buffer capacity accepted by any init function. */
#define CLB_RING_MAX_CAPACITY (1u << 24)
/* Largest sample magnitude accepted; beyond it sums of squares could
 * overflow, and no price or amount is ever that large. */
#define CLB_INDICATOR_MAX_ABS 1e100

/* ------------------------------------------------------------------------ */
/* Ring buffer of doubles                                                    */
/* ------------------------------------------------------------------------ */

struct clb_ring {
    double *buf;
    uint32_t cap;  /* fixed at init */
    uint32_t head; /* index of the oldest element */
    uint32_t n;    /* elements held, 0..cap */
};

/* Allocates room for `capacity` (1..CLB_RING_MAX_CAPACITY) doubles.
 * Returns CLB_OK, CLB_EINVAL (bad capacity, NULL ring) or CLB_ENOMEM; on
 * failure the ring is zeroed (deinit is still safe). The caller owns the
 * struct; release with clb_ring_deinit (idempotent). */
int clb_ring_init(struct clb_ring *r, uint32_t capacity);
void clb_ring_deinit(struct clb_ring *r);

static inline uint32_t clb_ring_size(const struct clb_ring *r) { return r->n; }
static inline uint32_t clb_ring_capacity(const struct clb_ring *r) { return r->cap; }
static inline bool clb_ring_full(const struct clb_ring *r) { return r->n == r->cap; }
static inline void clb_ring_clear(struct clb_ring *r)
{
    r->head = 0;
    r->n = 0;
}

/* Appends x. When the ring is full the oldest element is overwritten:
 * returns true and stores it in *evicted (if non-NULL); otherwise returns
 * false and leaves *evicted alone. Never allocates. */
static inline bool clb_ring_push(struct clb_ring *r, double x, double *evicted)
{
    if (r->n < r->cap) {
        uint32_t j = r->head + r->n;
        if (j >= r->cap)
            j -= r->cap;
        r->buf[j] = x;
        r->n++;
        return false;
    }
    if (evicted)
        *evicted = r->buf[r->head];
    r->buf[r->head] = x;
    if (++r->head == r->cap)
        r->head = 0;
    return true;
}

/* The i-th element, oldest first (0 = oldest, size-1 = newest); NaN when
 * i >= size. */
static inline double clb_ring_get(const struct clb_ring *r, uint32_t i)
{
    if (i >= r->n)
        return NAN;
    uint32_t j = r->head + i;
    if (j >= r->cap)
        j -= r->cap;
    return r->buf[j];
}

/* The newest element; NaN when empty. */
static inline double clb_ring_last(const struct clb_ring *r)
{
    return r->n ? clb_ring_get(r, r->n - 1) : NAN;
}

/* ------------------------------------------------------------------------ */
/* The trailing-indicator base                                               */
/* ------------------------------------------------------------------------ */

struct clb_indicator;

/* The hooks a derived indicator supplies. Only `calculate` is required. All
 * hooks run on the indicator's owner thread, inside the base's calls. */
struct clb_indicator_ops {
    const char *name; /* e.g. "instant_volatility" (for logs and metrics) */
    /* Optional. Vets sample x before anything changes (x is already known to
     * be finite and within CLB_INDICATOR_MAX_ABS). Returns CLB_OK or a
     * CLB_E* code, which add_sample returns with the state unchanged. */
    int (*validate)(const struct clb_indicator *ind, double x);
    /* Required. Called after x was pushed into ind->sampling. `evicted`
     * points to the sample that push overwrote, NULL while the buffer was
     * still filling. Returns this sample's indicator value, which goes into
     * ind->processing. Must not fail: reject bad samples in validate. */
    double (*calculate)(struct clb_indicator *ind, double x, const double *evicted);
    /* Optional. Computes the current value from ind->processing (which
     * holds at least one value), when clb_indicator_value() is called.
     * NULL = the mean of the processing buffer, O(1) from the base's running
     * sum (clb_indicator_processing_mean). */
    double (*process)(const struct clb_indicator *ind);
    /* Optional. Forgets derived running state (clb_indicator_clear). */
    void (*clear)(struct clb_indicator *ind);
    /* Optional. Releases what the derived init acquired; called first by
     * clb_indicator_deinit. Must be idempotent. */
    void (*deinit)(struct clb_indicator *ind);
};

struct clb_indicator {
    const struct clb_indicator_ops *ops;
    struct clb_ring sampling;   /* last sampling_length samples */
    struct clb_ring processing; /* last processing_length calculated values */
    bool ready;                 /* the sampling buffer is full */
    uint64_t samples;           /* samples accepted since init / clear */
    /* Base bookkeeping for the default mean (read-only for derived code). */
    double proc_sum_;     /* running sum of the processing buffer */
    double proc_inv_cap_; /* 1 / processing_length */
    uint32_t proc_since_recompute_;
};

/* Initialises the base of a (derived) indicator: `ops` (with calculate set)
 * must outlive it; 1 <= sampling_length, processing_length <=
 * CLB_RING_MAX_CAPACITY. Returns CLB_OK, CLB_EINVAL or CLB_ENOMEM; on
 * failure nothing stays allocated and deinit is still safe. The caller owns
 * the struct. A derived init calls this first, then sets up its own state. */
int clb_indicator_init(struct clb_indicator *ind, const struct clb_indicator_ops *ops,
                       uint32_t sampling_length, uint32_t processing_length);

/* Calls ops->deinit (if any), then frees both buffers. Idempotent; safe on a
 * struct whose init failed or that was zeroed. */
void clb_indicator_deinit(struct clb_indicator *ind);

/* Adds one sample: validates it (finite, |x| <= CLB_INDICATOR_MAX_ABS,
 * then ops->validate), pushes it, calculates, pushes the value into the
 * processing buffer and updates ready. Returns CLB_OK or CLB_EINVAL (or
 * validate's code) with the state unchanged. Never allocates. */
int clb_indicator_add_sample(struct clb_indicator *ind, double x);

/* Empties both buffers and the derived state (ops->clear): as after init. */
void clb_indicator_clear(struct clb_indicator *ind);

/* The current value: ops->process() over the processing buffer (default:
 * its mean, O(1)); 0 before any sample. */
double clb_indicator_value(const struct clb_indicator *ind);
static inline bool clb_indicator_ready(const struct clb_indicator *ind) { return ind->ready; }
static inline bool clb_indicator_processing_full(const struct clb_indicator *ind)
{
    return clb_ring_full(&ind->processing);
}
/* The value calculated for the newest sample; NaN before any. */
static inline double clb_indicator_last_calculated(const struct clb_indicator *ind)
{
    return clb_ring_last(&ind->processing);
}
/* Mean of the processing buffer (the default process), O(1); 0 when empty.
 * Its error is a few ulps of the largest value in the last two processing
 * windows (a running sum, recomputed every processing_length pushes). */
double clb_indicator_processing_mean(const struct clb_indicator *ind);

/* ------------------------------------------------------------------------ */
/* Instant volatility (Hummingbot InstantVolatilityIndicator)                */
/* ------------------------------------------------------------------------ */

/* calculate = sqrt(sum of squared consecutive differences / their count)
 * over the sampling buffer (0 with fewer than two samples); process = mean.
 * (Hummingbot divides by the number of samples instead: its figure is this
 * one times sqrt((n - 1) / n).) Release with clb_indicator_deinit(&v->base). */
struct clb_instant_vol {
    struct clb_indicator base; /* first member */
    double sum_sq_;            /* running sum of squared differences */
    double mass_;              /* sum of |terms| applied since the last exact recompute */
    double inv_diffs_full_;    /* 1 / (sampling_length - 1) */
    double last_;              /* the newest sample (valid when the buffer is not empty) */
    uint32_t since_recompute_;
};

/* sampling_length >= 2. CLB_OK, CLB_EINVAL, CLB_ENOMEM (nothing allocated). */
int clb_instant_vol_init(struct clb_instant_vol *v, uint32_t sampling_length,
                         uint32_t processing_length);

/* ------------------------------------------------------------------------ */
/* Historical volatility                                                     */
/* ------------------------------------------------------------------------ */

/* calculate = population standard deviation of ln(p_i / p_{i-1}) over the
 * sampling buffer (0 with fewer than two prices); process = mean. Prices
 * must be > 0 (and the ratio to the previous price representable):
 * otherwise CLB_EINVAL, state unchanged. Keeps a ring of the log returns so
 * each sample costs one log(). Release with clb_indicator_deinit(&h->base). */
struct clb_hist_vol {
    struct clb_indicator base; /* first member */
    struct clb_ring returns_;  /* the sampling_length - 1 latest log returns */
    double mean_;              /* sliding Welford state over returns_ */
    double m2_;
    double mass_;
    double inv_returns_full_;  /* 1 / (sampling_length - 1) */
    uint32_t since_recompute_;
};

/* sampling_length >= 2. CLB_OK, CLB_EINVAL, CLB_ENOMEM (nothing allocated). */
int clb_hist_vol_init(struct clb_hist_vol *h, uint32_t sampling_length,
                      uint32_t processing_length);

/* ------------------------------------------------------------------------ */
/* Exponential moving average                                                */
/* ------------------------------------------------------------------------ */

/* value <- alpha * x + (1 - alpha) * value; the first sample seeds value.
 * No buffers: init/clear only, nothing to release. */
struct clb_ema {
    double alpha;    /* smoothing factor, 0 < alpha <= 1 */
    double value;    /* 0 before any sample */
    uint64_t count;  /* samples added */
    uint64_t warmup; /* samples needed before `ready` */
    bool ready;      /* count >= warmup */
};

/* alpha = 2 / (length + 1); ready after `length` samples. length >= 1 and
 * <= CLB_RING_MAX_CAPACITY, else CLB_EINVAL. */
int clb_ema_init(struct clb_ema *e, uint32_t length);
/* Explicit alpha in (0, 1]; ready after the first sample. CLB_EINVAL. */
int clb_ema_init_alpha(struct clb_ema *e, double alpha);
/* CLB_OK, or CLB_EINVAL (non-finite or |x| > CLB_INDICATOR_MAX_ABS) with
 * the state unchanged. */
int clb_ema_add(struct clb_ema *e, double x);
/* Forgets the samples (keeps alpha and warmup). */
void clb_ema_clear(struct clb_ema *e);
static inline double clb_ema_value(const struct clb_ema *e) { return e->value; }

/* ------------------------------------------------------------------------ */
/* Trading intensity (Hummingbot TradingIntensityIndicator)                  */
/* ------------------------------------------------------------------------ */

/* Feed it trades with the mid price at the time of each trade; it keeps the
 * last buffer_size (depth, amount) observations, depth = |price - mid| in
 * price units. clb_trading_intensity_fit() aggregates the amounts by depth
 * level and fits y(depth) ~ alpha * exp(-kappa * depth) by least squares,
 * where y is either the amount traded at that level (default) or, with
 * `cumulative`, Hummingbot's lambda: the amount traded at that depth or
 * deeper (what would have reached a quote placed at that depth).
 *
 * The fit is self-contained (no maths library beyond libm): a log-linear
 * weighted least-squares fit on the positive levels gives the first guess,
 * Levenberg-Marquardt iterations refine it (warm-started from the previous
 * estimate when that is closer). Degenerate data — fewer than two distinct
 * depth levels with a positive amount, all amounts zero, or a fit that does
 * not produce finite alpha > 0 and kappa > 0 — keeps the previous alpha and
 * kappa and reports not ready. */
struct clb_trading_intensity_params {
    uint32_t buffer_size;    /* observations kept, 2..CLB_RING_MAX_CAPACITY */
    double depth_step;       /* > 0: depths rounded to multiples of it; 0: exact */
    bool cumulative;         /* fit Hummingbot's cumulative lambda(depth) */
    uint32_t max_iterations; /* Levenberg-Marquardt cap, <= 1000; 0 = 50 */
};

struct clb_trading_intensity_point_ {
    double x, y;
};

struct clb_trading_intensity_slot_ {
    uint64_t key;  /* the depth's bits */
    uint32_t idx;  /* its level in work_ */
    uint32_t gen;  /* slot in use when == level_gen_ */
};

struct clb_trading_intensity {
    double alpha;   /* last good estimate (0 before the first) */
    double kappa;   /* last good estimate, > 0 once fitted */
    bool ready;     /* the last fit succeeded */
    uint64_t fits;  /* successful fits since init / clear */
    uint32_t levels; /* distinct depth levels seen by the last fit */
    /* Private. */
    struct clb_trading_intensity_params params_;
    struct clb_ring depths_;
    struct clb_ring amounts_;
    struct clb_trading_intensity_point_ *work_; /* 2 * buffer_size, fit scratch */
    struct clb_trading_intensity_slot_ *slots_; /* depth -> level hash, fit scratch */
    uint32_t slot_bits_;
    uint32_t level_gen_;
};

/* Returns CLB_OK, CLB_EINVAL (bad params) or CLB_ENOMEM; on failure nothing
 * stays allocated and deinit is safe. The caller owns the struct; release
 * with clb_trading_intensity_deinit (idempotent). */
int clb_trading_intensity_init(struct clb_trading_intensity *ti,
                               const struct clb_trading_intensity_params *params);
void clb_trading_intensity_deinit(struct clb_trading_intensity *ti);

/* Records one trade: `price` and `mid` finite with |.| <=
 * CLB_INDICATOR_MAX_ABS, 0 <= amount <= CLB_INDICATOR_MAX_ABS (a depth that
 * the depth_step cannot represent is rejected too). CLB_OK or CLB_EINVAL
 * with the state unchanged. O(1); does not refit. */
int clb_trading_intensity_add_trade(struct clb_trading_intensity *ti, double price, double amount,
                                    double mid);

/* Refits alpha and kappa from the observations held. Returns CLB_OK (ready
 * = true, alpha/kappa updated) or CLB_ENOTREADY (degenerate data: ready =
 * false, alpha/kappa unchanged). O(n + m log m) for n observations over m
 * depth levels, plus m exp() per Levenberg-Marquardt evaluation; never
 * allocates. */
int clb_trading_intensity_fit(struct clb_trading_intensity *ti);

/* Forgets the observations and the estimates (as after init). */
void clb_trading_intensity_clear(struct clb_trading_intensity *ti);

static inline uint32_t clb_trading_intensity_count(const struct clb_trading_intensity *ti)
{
    return clb_ring_size(&ti->depths_);
}
static inline bool clb_trading_intensity_full(const struct clb_trading_intensity *ti)
{
    return clb_ring_full(&ti->depths_);
}

#endif
