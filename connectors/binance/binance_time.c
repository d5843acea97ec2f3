/*
 * binance_time.c — server clock offset from (send, server, receive) samples.
 *
 * The estimate after every sample: copy the kept samples, sort by round
 * trip (insertion sort, at most 16), take the median offset of the first
 * `best` (the lower median's and upper median's mean for an even count).
 */
#include "binance_time.h"

#include <string.h>

#include "error.h"

void clb_bn_time_config_defaults(struct clb_bn_time_config *cfg)
{
    cfg->keep = 8;
    cfg->best = 3;
    cfg->min_samples = 3;
    cfg->resync_interval_ms = 600000;
    cfg->max_rtt_ms = 5000;
}

int clb_bn_time_init(struct clb_bn_time *t, const struct clb_bn_time_config *cfg)
{
    if (!t || !cfg || cfg->keep < 1 || cfg->keep > CLB_BN_TIME_SAMPLES || cfg->best < 1 ||
        cfg->best > cfg->keep || cfg->min_samples < 1 || cfg->min_samples > cfg->keep ||
        cfg->resync_interval_ms <= 0 || cfg->max_rtt_ms <= 0)
        return CLB_EINVAL;
    memset(t, 0, sizeof(*t));
    t->cfg = *cfg;
    return CLB_OK;
}

static void sort_i64(int64_t *v, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        int64_t x = v[i];
        uint32_t j = i;
        while (j > 0 && v[j - 1] > x) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
}

static void estimate(struct clb_bn_time *t)
{
    struct clb_bn_time_sample_ s[CLB_BN_TIME_SAMPLES];
    memcpy(s, t->s, t->n * sizeof(s[0]));
    /* by round trip; ties keep ring order */
    for (uint32_t i = 1; i < t->n; i++) {
        struct clb_bn_time_sample_ x = s[i];
        uint32_t j = i;
        while (j > 0 && s[j - 1].rtt_ns > x.rtt_ns) {
            s[j] = s[j - 1];
            j--;
        }
        s[j] = x;
    }
    uint32_t k = t->n < t->cfg.best ? t->n : t->cfg.best;
    int64_t off[CLB_BN_TIME_SAMPLES];
    for (uint32_t i = 0; i < k; i++)
        off[i] = s[i].offset_ns;
    sort_i64(off, k);
    if (k % 2)
        t->offset_ns = off[k / 2];
    else
        t->offset_ns = off[k / 2 - 1] + (off[k / 2] - off[k / 2 - 1]) / 2;
    t->have_offset = true;
}

int clb_bn_time_add_sample(struct clb_bn_time *t, int64_t local_send_ns, int64_t server_ms,
                           int64_t local_recv_ns)
{
    if (!t || local_recv_ns < local_send_ns || server_ms <= 0 ||
        server_ms > INT64_MAX / 1000000 / 2)
        return CLB_EINVAL;
    int64_t rtt = local_recv_ns - local_send_ns;
    if (rtt > t->cfg.max_rtt_ms * 1000000)
        return CLB_ERANGE;
    int64_t mid = local_send_ns + rtt / 2;
    struct clb_bn_time_sample_ x = { server_ms * 1000000 - mid, rtt };
    /* the ring keeps the last `keep` samples */
    uint32_t keep = t->cfg.keep;
    t->s[t->head] = x;
    t->head = (t->head + 1) % keep;
    if (t->n < keep)
        t->n++;
    t->fresh++;
    if (t->resync_flag && t->fresh >= t->cfg.min_samples)
        t->resync_flag = false;
    t->last_sync_local_ns = local_recv_ns;
    estimate(t);
    return CLB_OK;
}

bool clb_bn_time_needs_resync(const struct clb_bn_time *t, int64_t local_now_ns)
{
    if (!t->have_offset || t->resync_flag || t->fresh < t->cfg.min_samples)
        return true;
    return local_now_ns - t->last_sync_local_ns >= t->cfg.resync_interval_ms * 1000000;
}

void clb_bn_time_invalidate(struct clb_bn_time *t)
{
    t->n = 0;
    t->head = 0;
    t->fresh = 0;
    t->resync_flag = true;
}

bool clb_bn_time_on_error_code(struct clb_bn_time *t, int code)
{
    if (code != -1021)
        return false;
    clb_bn_time_invalidate(t);
    return true;
}

int64_t clb_bn_time_offset_ms(const struct clb_bn_time *t)
{
    if (!t->have_offset)
        return 0;
    int64_t o = t->offset_ns;
    return o >= 0 ? (o + 500000) / 1000000 : -((-o + 500000) / 1000000);
}

int64_t clb_bn_time_server_now_ms(const struct clb_bn_time *t, int64_t local_now_ns)
{
    int64_t ns = local_now_ns + (t->have_offset ? t->offset_ns : 0);
    return ns >= 0 ? ns / 1000000 : -((-ns + 999999) / 1000000);
}
