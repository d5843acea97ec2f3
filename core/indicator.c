/*
 * indicator.c — ring buffer, trailing-indicator base, instant and
 * historical volatility, EMA and trading intensity (see indicator.h).
 *
 * Speed: add_sample is a push into each ring plus O(1) work in the derived
 * `calculate`; the current value is computed when read. Running sums
 * (squared differences, Welford's mean/M2, the processing-buffer sum) are
 * updated with the newest term and the evicted one. Their rounding error
 * grows with the total magnitude of the terms applied since they were last
 * exact (tracked as `mass`), so each is recomputed from its buffer every
 * `capacity` updates (amortised O(1)) and, for the sums of squares, as soon
 * as mass exceeds DRIFT_RATIO times the sum (a spike leaving the window,
 * volatility collapsing): the relative error then stays of order
 * DRIFT_RATIO * DBL_EPSILON. A recompute's own rounding counts as mass too
 * (it is relative to the baseline and only shows when the sum later
 * shrinks): historical volatility recomputes with compensated summation
 * (mass = the baseline); instant volatility, whose recompute is on the
 * benchmarked path, with plain summation (mass = baseline * (1 + n / 4)).
 * The processing buffer's sum (values of any sign) is recomputed plainly
 * every processing_length pushes: its error stays a few ulps of the largest
 * value seen in the last two windows.
 *
 * Trading intensity: add_trade only pushes into two rings. A fit first
 * aggregates amounts by depth through a preallocated open-addressing hash
 * (generation-stamped, so it is never cleared), sorts the m distinct levels
 * with a stable merge sort (deterministic on every libc), and fits in
 * normalised units (depth / max depth, y / max y) so the 2x2 normal
 * equations stay well conditioned whatever the market's price scale.
 */
#include "indicator.h"

#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define DRIFT_RATIO 1e4
#define TI_DEFAULT_ITERATIONS 50u
#define TI_MAX_ITERATIONS 1000u
#define TI_MIN_KAPPA_NORM 1e-9   /* kappa * max depth below this: no decay seen */
#define TI_MAX_DEPTH_STEPS 4.5e15 /* depth / depth_step must stay an exact integer */

static bool sample_ok(double x)
{
    return fabs(x) <= CLB_INDICATOR_MAX_ABS; /* false for NaN and +-inf too */
}

/* Neumaier-compensated summation, for the exact recomputes: its error is a
 * few ulps of the result whatever the number of terms, so the baseline the
 * running sums restart from is as good as a from-scratch evaluation. */
struct ksum {
    double s, c;
};

static void ksum_add(struct ksum *k, double x)
{
    double t = k->s + x;
    if (fabs(k->s) >= fabs(x))
        k->c += (k->s - t) + x;
    else
        k->c += (x - t) + k->s;
    k->s = t;
}

static double ksum_value(const struct ksum *k)
{
    return k->s + k->c;
}

/* ------------------------------------------------------------------------ */
/* Ring                                                                      */
/* ------------------------------------------------------------------------ */

int clb_ring_init(struct clb_ring *r, uint32_t capacity)
{
    if (!r)
        return CLB_EINVAL;
    memset(r, 0, sizeof *r);
    if (capacity == 0 || capacity > CLB_RING_MAX_CAPACITY)
        return CLB_EINVAL;
    r->buf = malloc((size_t)capacity * sizeof *r->buf);
    if (!r->buf)
        return CLB_ENOMEM;
    r->cap = capacity;
    return CLB_OK;
}

void clb_ring_deinit(struct clb_ring *r)
{
    if (!r)
        return;
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* ------------------------------------------------------------------------ */
/* Base                                                                      */
/* ------------------------------------------------------------------------ */

int clb_indicator_init(struct clb_indicator *ind, const struct clb_indicator_ops *ops,
                       uint32_t sampling_length, uint32_t processing_length)
{
    int rc;
    if (!ind)
        return CLB_EINVAL;
    memset(ind, 0, sizeof *ind);
    if (!ops || !ops->calculate)
        return CLB_EINVAL;
    if ((rc = clb_ring_init(&ind->sampling, sampling_length)) != CLB_OK)
        goto fail;
    if ((rc = clb_ring_init(&ind->processing, processing_length)) != CLB_OK)
        goto fail;
    ind->proc_inv_cap_ = 1.0 / (double)processing_length;
    ind->ops = ops;
    return CLB_OK;
fail:
    clb_ring_deinit(&ind->sampling);
    clb_ring_deinit(&ind->processing);
    return rc;
}

void clb_indicator_deinit(struct clb_indicator *ind)
{
    if (!ind)
        return;
    if (ind->ops && ind->ops->deinit)
        ind->ops->deinit(ind);
    clb_ring_deinit(&ind->sampling);
    clb_ring_deinit(&ind->processing);
    memset(ind, 0, sizeof *ind);
}

static void proc_recompute(struct clb_indicator *ind)
{
    const struct clb_ring *p = &ind->processing;
    double s = 0.0;
    uint32_t end = p->head + p->n, stop = end <= p->cap ? end : p->cap;
    for (uint32_t j = p->head; j < stop; j++)
        s += p->buf[j];
    for (uint32_t j = 0; j + p->cap < end; j++)
        s += p->buf[j];
    ind->proc_sum_ = s;
    ind->proc_since_recompute_ = 0;
}

double clb_indicator_processing_mean(const struct clb_indicator *ind)
{
    uint32_t n = ind->processing.n;
    if (n == ind->processing.cap)
        return ind->proc_sum_ * ind->proc_inv_cap_;
    return n ? ind->proc_sum_ / (double)n : 0.0;
}

int clb_indicator_add_sample(struct clb_indicator *ind, double x)
{
    if (!ind || !ind->ops || !sample_ok(x))
        return CLB_EINVAL;
    const struct clb_indicator_ops *ops = ind->ops;
    if (ops->validate) {
        int rc = ops->validate(ind, x);
        if (rc != CLB_OK)
            return rc;
    }
    double ev;
    bool evicted = clb_ring_push(&ind->sampling, x, &ev);
    double v = ops->calculate(ind, x, evicted ? &ev : NULL);

    double pev;
    if (clb_ring_push(&ind->processing, v, &pev))
        ind->proc_sum_ += v - pev;
    else
        ind->proc_sum_ += v;
    if (++ind->proc_since_recompute_ >= ind->processing.cap)
        proc_recompute(ind);
    ind->ready = clb_ring_full(&ind->sampling);
    ind->samples++;
    return CLB_OK;
}

double clb_indicator_value(const struct clb_indicator *ind)
{
    if (!ind || !ind->ops || ind->processing.n == 0)
        return 0.0;
    return ind->ops->process ? ind->ops->process(ind) : clb_indicator_processing_mean(ind);
}

void clb_indicator_clear(struct clb_indicator *ind)
{
    if (!ind)
        return;
    clb_ring_clear(&ind->sampling);
    clb_ring_clear(&ind->processing);
    ind->ready = false;
    ind->samples = 0;
    ind->proc_sum_ = 0.0;
    ind->proc_since_recompute_ = 0;
    if (ind->ops && ind->ops->clear)
        ind->ops->clear(ind);
}

/* ------------------------------------------------------------------------ */
/* Instant volatility                                                        */
/* ------------------------------------------------------------------------ */

/* Sum of squared consecutive differences of buf[lo..hi), starting from
 * `prev`; the ring is walked as (at most) two contiguous segments. */
static double sq_diffs(const double *buf, uint32_t lo, uint32_t hi, double *prev, double acc)
{
    double p = *prev;
    for (uint32_t j = lo; j < hi; j++) {
        double d = buf[j] - p;
        acc += d * d;
        p = buf[j];
    }
    *prev = p;
    return acc;
}

static void ivol_recompute(struct clb_instant_vol *v)
{
    const struct clb_ring *s = &v->base.sampling;
    double sum = 0.0;
    if (s->n >= 2) {
        uint32_t first = s->head, end = s->head + s->n;
        double prev = s->buf[first];
        if (end <= s->cap) {
            sum = sq_diffs(s->buf, first + 1, end, &prev, 0.0);
        } else {
            sum = sq_diffs(s->buf, first + 1, s->cap, &prev, 0.0);
            sum = sq_diffs(s->buf, 0, end - s->cap, &prev, sum);
        }
    }
    v->sum_sq_ = sum;
    /* Plain summation of n non-negative terms is within ~n ulps of the
     * result: count that as mass, so the drift guard also covers it. */
    v->mass_ = sum * (1.0 + 0.25 * (double)s->n);
    v->since_recompute_ = 0;
}

static double ivol_calculate(struct clb_indicator *ind, double x, const double *evicted)
{
    struct clb_instant_vol *v = (struct clb_instant_vol *)ind;
    const struct clb_ring *s = &ind->sampling;
    uint32_t n = s->n;
    double prev = v->last_;
    v->last_ = x;
    if (evicted) {
        /* Full: the new oldest sample sits at head. */
        double d = x - prev;
        double e = s->buf[s->head] - *evicted;
        double t = d * d, u = e * e;
        v->sum_sq_ += t - u;
        v->mass_ += t + u;
    } else if (n >= 2) {
        double d = x - prev;
        double t = d * d;
        v->sum_sq_ += t;
        v->mass_ += t;
    }
    if (++v->since_recompute_ >= s->cap || v->mass_ > DRIFT_RATIO * v->sum_sq_)
        ivol_recompute(v);
    if (evicted)
        return sqrt(v->sum_sq_ * v->inv_diffs_full_);
    if (n < 2)
        return 0.0;
    return sqrt(v->sum_sq_ / (double)(n - 1));
}

static void ivol_clear(struct clb_indicator *ind)
{
    struct clb_instant_vol *v = (struct clb_instant_vol *)ind;
    v->sum_sq_ = 0.0;
    v->mass_ = 0.0;
    v->last_ = 0.0;
    v->since_recompute_ = 0;
}

static const struct clb_indicator_ops ivol_ops = {
    .name = "instant_volatility",
    .calculate = ivol_calculate,
    .clear = ivol_clear,
};

int clb_instant_vol_init(struct clb_instant_vol *v, uint32_t sampling_length,
                         uint32_t processing_length)
{
    if (!v)
        return CLB_EINVAL;
    memset(v, 0, sizeof *v);
    if (sampling_length < 2)
        return CLB_EINVAL;
    v->inv_diffs_full_ = 1.0 / (double)(sampling_length - 1);
    return clb_indicator_init(&v->base, &ivol_ops, sampling_length, processing_length);
}

/* ------------------------------------------------------------------------ */
/* Historical volatility                                                     */
/* ------------------------------------------------------------------------ */

static void hvol_recompute(struct clb_hist_vol *h)
{
    const struct clb_ring *r = &h->returns_;
    double mean = 0.0, m2 = 0.0;
    if (r->n) {
        struct ksum s = { 0, 0 }, q = { 0, 0 };
        for (uint32_t i = 0; i < r->n; i++)
            ksum_add(&s, clb_ring_get(r, i));
        mean = ksum_value(&s) / (double)r->n;
        for (uint32_t i = 0; i < r->n; i++) {
            double d = clb_ring_get(r, i) - mean;
            ksum_add(&q, d * d);
        }
        m2 = ksum_value(&q);
    }
    h->mean_ = mean;
    h->m2_ = m2;
    h->mass_ = m2;
    h->since_recompute_ = 0;
}

static int hvol_validate(const struct clb_indicator *ind, double x)
{
    if (!(x > 0.0))
        return CLB_EINVAL;
    if (ind->sampling.n) {
        double q = x / clb_ring_last(&ind->sampling);
        if (!(q > 0.0 && q <= DBL_MAX)) /* log(q) must be finite */
            return CLB_EINVAL;
    }
    return CLB_OK;
}

static double hvol_calculate(struct clb_indicator *ind, double x, const double *evicted)
{
    struct clb_hist_vol *h = (struct clb_hist_vol *)ind;
    const struct clb_ring *s = &ind->sampling;
    (void)evicted; /* the returns ring evicts in step with the sampling ring */
    if (s->n < 2)
        return 0.0;
    double r = log(x / clb_ring_get(s, s->n - 2));
    double old;
    double t, mag;
    if (clb_ring_push(&h->returns_, r, &old)) {
        /* Sliding Welford: replace `old` by `r` in a window of fixed size. */
        double d = r - old;
        double mean = h->mean_ + d / (double)h->returns_.n;
        t = d * ((r - mean) + (old - h->mean_));
        mag = fabs(d) * (fabs(r) + fabs(old) + 2.0 * fabs(h->mean_));
        h->mean_ = mean;
    } else {
        double d = r - h->mean_;
        mag = fabs(d) * (fabs(r) + fabs(h->mean_));
        h->mean_ += d / (double)h->returns_.n;
        t = d * (r - h->mean_);
    }
    /* The deviations above carry rounding of order eps * |returns|, not
     * eps * |deviation|: when the returns' mean dwarfs their spread (a
     * steady trend) that is what limits precision, so it is what `mass`
     * accumulates. */
    h->m2_ += t;
    h->mass_ += mag;
    if (++h->since_recompute_ >= h->returns_.cap || h->mass_ > DRIFT_RATIO * h->m2_)
        hvol_recompute(h);
    double m2 = h->m2_ > 0.0 ? h->m2_ : 0.0;
    if (clb_ring_full(&h->returns_))
        return sqrt(m2 * h->inv_returns_full_);
    return sqrt(m2 / (double)h->returns_.n);
}

static void hvol_clear(struct clb_indicator *ind)
{
    struct clb_hist_vol *h = (struct clb_hist_vol *)ind;
    clb_ring_clear(&h->returns_);
    h->mean_ = 0.0;
    h->m2_ = 0.0;
    h->mass_ = 0.0;
    h->since_recompute_ = 0;
}

static void hvol_deinit(struct clb_indicator *ind)
{
    struct clb_hist_vol *h = (struct clb_hist_vol *)ind;
    clb_ring_deinit(&h->returns_);
}

static const struct clb_indicator_ops hvol_ops = {
    .name = "historical_volatility",
    .validate = hvol_validate,
    .calculate = hvol_calculate,
    .clear = hvol_clear,
    .deinit = hvol_deinit,
};

int clb_hist_vol_init(struct clb_hist_vol *h, uint32_t sampling_length,
                      uint32_t processing_length)
{
    int rc;
    if (!h)
        return CLB_EINVAL;
    memset(h, 0, sizeof *h);
    if (sampling_length < 2)
        return CLB_EINVAL;
    if ((rc = clb_indicator_init(&h->base, &hvol_ops, sampling_length, processing_length)))
        return rc;
    if ((rc = clb_ring_init(&h->returns_, sampling_length - 1)))
        goto fail;
    h->inv_returns_full_ = 1.0 / (double)(sampling_length - 1);
    return CLB_OK;
fail:
    clb_indicator_deinit(&h->base);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* EMA                                                                       */
/* ------------------------------------------------------------------------ */

int clb_ema_init(struct clb_ema *e, uint32_t length)
{
    if (!e || length == 0 || length > CLB_RING_MAX_CAPACITY)
        return CLB_EINVAL;
    memset(e, 0, sizeof *e);
    e->alpha = 2.0 / ((double)length + 1.0);
    e->warmup = length;
    return CLB_OK;
}

int clb_ema_init_alpha(struct clb_ema *e, double alpha)
{
    if (!e || !(alpha > 0.0 && alpha <= 1.0))
        return CLB_EINVAL;
    memset(e, 0, sizeof *e);
    e->alpha = alpha;
    e->warmup = 1;
    return CLB_OK;
}

int clb_ema_add(struct clb_ema *e, double x)
{
    if (!e || !sample_ok(x))
        return CLB_EINVAL;
    if (e->count == 0)
        e->value = x;
    else
        e->value = e->alpha * x + (1.0 - e->alpha) * e->value;
    e->count++;
    e->ready = e->count >= e->warmup;
    return CLB_OK;
}

void clb_ema_clear(struct clb_ema *e)
{
    if (!e)
        return;
    e->value = 0.0;
    e->count = 0;
    e->ready = false;
}

/* ------------------------------------------------------------------------ */
/* Trading intensity                                                         */
/* ------------------------------------------------------------------------ */

typedef struct clb_trading_intensity_point_ ti_point;

int clb_trading_intensity_init(struct clb_trading_intensity *ti,
                               const struct clb_trading_intensity_params *params)
{
    int rc;
    if (!ti)
        return CLB_EINVAL;
    memset(ti, 0, sizeof *ti);
    if (!params || params->buffer_size < 2 || params->buffer_size > CLB_RING_MAX_CAPACITY ||
        !(params->depth_step >= 0.0 && params->depth_step <= CLB_INDICATOR_MAX_ABS) ||
        params->max_iterations > TI_MAX_ITERATIONS)
        return CLB_EINVAL;
    ti->params_ = *params;
    if (ti->params_.max_iterations == 0)
        ti->params_.max_iterations = TI_DEFAULT_ITERATIONS;
    if ((rc = clb_ring_init(&ti->depths_, params->buffer_size)))
        goto fail;
    if ((rc = clb_ring_init(&ti->amounts_, params->buffer_size)))
        goto fail;
    ti->work_ = malloc(2 * (size_t)params->buffer_size * sizeof *ti->work_);
    /* open addressing at load <= 1/2 */
    ti->slot_bits_ = 1;
    while ((1u << ti->slot_bits_) < 2 * params->buffer_size)
        ti->slot_bits_++;
    ti->slots_ = calloc((size_t)1 << ti->slot_bits_, sizeof *ti->slots_);
    if (!ti->work_ || !ti->slots_) {
        rc = CLB_ENOMEM;
        goto fail;
    }
    return CLB_OK;
fail:
    clb_trading_intensity_deinit(ti);
    return rc;
}

void clb_trading_intensity_deinit(struct clb_trading_intensity *ti)
{
    if (!ti)
        return;
    clb_ring_deinit(&ti->depths_);
    clb_ring_deinit(&ti->amounts_);
    free(ti->work_);
    free(ti->slots_);
    memset(ti, 0, sizeof *ti);
}

void clb_trading_intensity_clear(struct clb_trading_intensity *ti)
{
    if (!ti)
        return;
    clb_ring_clear(&ti->depths_);
    clb_ring_clear(&ti->amounts_);
    ti->alpha = 0.0;
    ti->kappa = 0.0;
    ti->ready = false;
    ti->fits = 0;
    ti->levels = 0;
}

int clb_trading_intensity_add_trade(struct clb_trading_intensity *ti, double price, double amount,
                                    double mid)
{
    if (!ti || !ti->work_ || !sample_ok(price) || !sample_ok(mid) || !sample_ok(amount) ||
        amount < 0.0)
        return CLB_EINVAL;
    double depth = fabs(price - mid);
    double step = ti->params_.depth_step;
    if (step > 0.0) {
        double q = depth / step;
        if (!(q <= TI_MAX_DEPTH_STEPS))
            return CLB_EINVAL;
        depth = round(q) * step;
    }
    if (!(depth <= DBL_MAX))
        return CLB_EINVAL;
    clb_ring_push(&ti->depths_, depth, NULL);
    clb_ring_push(&ti->amounts_, amount, NULL);
    return CLB_OK;
}

/* Adds (x, y) to the level of depth x among p[0..*m), creating it if new.
 * Equal depths are bit-equal doubles (depths are >= +0, never NaN). */
static void level_add(struct clb_trading_intensity *ti, ti_point *p, size_t *m, double x,
                      double y)
{
    uint64_t key;
    memcpy(&key, &x, sizeof key);
    uint32_t mask = (1u << ti->slot_bits_) - 1;
    uint32_t h = (uint32_t)((key * 0x9e3779b97f4a7c15ull) >> (64 - ti->slot_bits_)) & mask;
    struct clb_trading_intensity_slot_ *sl = ti->slots_;
    while (sl[h].gen == ti->level_gen_) {
        if (sl[h].key == key) {
            p[sl[h].idx].y += y;
            return;
        }
        h = (h + 1) & mask;
    }
    sl[h].key = key;
    sl[h].idx = (uint32_t)*m;
    sl[h].gen = ti->level_gen_;
    p[*m].x = x;
    p[*m].y = y;
    (*m)++;
}

/* Stable bottom-up merge sort of p[0..n) by x, using tmp[0..n). */
static void sort_points(ti_point *p, ti_point *tmp, size_t n)
{
    ti_point *src = p, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n;
            size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi)
                dst[k++] = src[j].x < src[i].x ? src[j++] : src[i++];
            while (i < mid)
                dst[k++] = src[i++];
            while (j < hi)
                dst[k++] = src[j++];
        }
        ti_point *t = src;
        src = dst;
        dst = t;
    }
    if (src != p)
        memcpy(p, src, n * sizeof *p);
}

static double ti_sse(const ti_point *p, size_t m, double a, double k)
{
    double s = 0.0;
    for (size_t i = 0; i < m; i++) {
        double r = p[i].y - a * exp(-k * p[i].x);
        s += r * r;
    }
    return s;
}

/* Weighted (w = y^2) least squares of ln y = ln a - k x over y > 0. False
 * when the positive points do not span two depths. */
static bool ti_loglinear(const ti_point *p, size_t m, double *a, double *k)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    size_t npos = 0;
    for (size_t i = 0; i < m; i++) {
        if (!(p[i].y > 0.0))
            continue;
        double w = p[i].y * p[i].y;
        double l = log(p[i].y);
        sw += w;
        sx += w * p[i].x;
        sy += w * l;
        sxx += w * p[i].x * p[i].x;
        sxy += w * p[i].x * l;
        npos++;
    }
    if (npos < 2 || !(sw > 0.0))
        return false;
    double den = sw * sxx - sx * sx;
    if (!(den > 1e-12 * sw * sxx))
        return false;
    double slope = (sw * sxy - sx * sy) / den;
    double icpt = (sy - slope * sx) / sw;
    *a = exp(icpt);
    *k = -slope;
    return isfinite(*a) && isfinite(*k);
}

/* Levenberg-Marquardt on (a, k) from the given start; returns the SSE. */
static double ti_lm(const ti_point *p, size_t m, double *a_io, double *k_io, uint32_t max_it)
{
    double a = *a_io, k = *k_io;
    double cur = ti_sse(p, m, a, k);
    double lambda = 1e-3;
    for (uint32_t it = 0; it < max_it && cur > 0.0; it++) {
        double h11 = 0, h12 = 0, h22 = 0, g1 = 0, g2 = 0;
        for (size_t i = 0; i < m; i++) {
            double e = exp(-k * p[i].x);
            double r = p[i].y - a * e;
            double ja = e, jk = -a * p[i].x * e;
            h11 += ja * ja;
            h12 += ja * jk;
            h22 += jk * jk;
            g1 += ja * r;
            g2 += jk * r;
        }
        bool accepted = false;
        double da = 0.0, dk = 0.0, prev = cur;
        for (int tries = 0; tries < 10 && !accepted; tries++) {
            double a11 = h11 + lambda * (h11 > 1e-300 ? h11 : 1e-300);
            double a22 = h22 + lambda * (h22 > 1e-300 ? h22 : 1e-300);
            double det = a11 * a22 - h12 * h12;
            if (det > 0.0 && isfinite(det)) {
                da = (g1 * a22 - g2 * h12) / det;
                dk = (a11 * g2 - h12 * g1) / det;
                double na = a + da, nk = k + dk;
                if (na > 0.0 && isfinite(na) && isfinite(nk)) {
                    double s = ti_sse(p, m, na, nk);
                    if (s < cur) {
                        a = na;
                        k = nk;
                        cur = s;
                        accepted = true;
                        lambda = lambda * 0.1 > 1e-12 ? lambda * 0.1 : 1e-12;
                        break;
                    }
                }
            }
            lambda *= 10.0;
        }
        if (!accepted)
            break; /* no step improves: at a minimum (to rounding) */
        if (prev - cur <= 1e-12 * prev)
            break; /* converged: the SSE no longer moves */
        if (fabs(da) <= 1e-13 * fabs(a) && fabs(dk) <= 1e-13 * (fabs(k) + 1e-3))
            break;
    }
    *a_io = a;
    *k_io = k;
    return cur;
}

int clb_trading_intensity_fit(struct clb_trading_intensity *ti)
{
    if (!ti || !ti->work_)
        return CLB_EINVAL;
    ti_point *p = ti->work_, *tmp = ti->work_ + ti->params_.buffer_size;

    /* Aggregate equal depths (oldest trade first: deterministic sums), then
     * sort the levels by depth. A new generation empties the hash. */
    if (++ti->level_gen_ == 0) {
        memset(ti->slots_, 0, ((size_t)1 << ti->slot_bits_) * sizeof *ti->slots_);
        ti->level_gen_ = 1;
    }
    size_t m = 0;
    const struct clb_ring *dr = &ti->depths_, *ar = &ti->amounts_;
    for (uint32_t i = 0, j = dr->head; i < dr->n; i++) {
        level_add(ti, p, &m, dr->buf[j], ar->buf[j]);
        if (++j == dr->cap)
            j = 0;
    }
    sort_points(p, tmp, m);
    ti->levels = (uint32_t)m;
    if (ti->params_.cumulative) /* lambda(d) = amount traded at depth >= d */
        for (size_t i = m; i-- > 1;)
            p[i - 1].y += p[i].y;

    /* Normalise to [0, 1] in both axes. */
    double xmax = 0.0, ymax = 0.0;
    for (size_t i = 0; i < m; i++) {
        if (p[i].x > xmax)
            xmax = p[i].x;
        if (p[i].y > ymax)
            ymax = p[i].y;
    }
    if (m < 2 || !(xmax > 0.0) || !(ymax > 0.0) || !isfinite(ymax))
        goto not_ready;
    for (size_t i = 0; i < m; i++) {
        p[i].x /= xmax;
        p[i].y /= ymax;
    }

    double a, k;
    if (!ti_loglinear(p, m, &a, &k))
        goto not_ready;
    if (ti->fits) {
        double pa = ti->alpha / ymax, pk = ti->kappa * xmax;
        if (isfinite(pa) && isfinite(pk) && ti_sse(p, m, pa, pk) < ti_sse(p, m, a, k)) {
            a = pa;
            k = pk;
        }
    }
    ti_lm(p, m, &a, &k, ti->params_.max_iterations);
    /* k is kappa * max depth: below TI_MIN_KAPPA_NORM the curve is flat over
     * the data and kappa means nothing. */
    double alpha = a * ymax, kappa = k / xmax;
    if (!(k > TI_MIN_KAPPA_NORM) || !(alpha > 0.0 && alpha <= DBL_MAX && kappa <= DBL_MAX))
        goto not_ready;
    ti->alpha = alpha;
    ti->kappa = kappa;
    ti->ready = true;
    ti->fits++;
    return CLB_OK;
not_ready:
    ti->ready = false;
    return CLB_ENOTREADY;
}
