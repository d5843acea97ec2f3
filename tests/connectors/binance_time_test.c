/*
 * Tests for connectors/binance/binance_time.c: the server-clock offset from
 * synthetic samples with skew, jitter and asymmetric outliers; resync on
 * -1021 and after the interval; refused samples change nothing.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "binance_time.h"
#include "error.h"

#define MS 1000000LL

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static struct clb_bn_time fresh(void)
{
    struct clb_bn_time_config cfg;
    clb_bn_time_config_defaults(&cfg);
    struct clb_bn_time t;
    cr_assert_eq(clb_bn_time_init(&t, &cfg), CLB_OK);
    return t;
}

/* One request at local time `send`: out/back one-way delays in ns; the
 * server (clock = local + skew) answers with its time in whole ms. */
static int sample(struct clb_bn_time *t, int64_t send, int64_t skew, int64_t out, int64_t back)
{
    int64_t server_ns = send + out + skew;
    return clb_bn_time_add_sample(t, send, server_ns / MS, send + out + back);
}

Test(binance_time, no_estimate_means_local_time_and_resync)
{
    struct clb_bn_time t = fresh();
    cr_assert(!clb_bn_time_has_offset(&t));
    cr_assert(clb_bn_time_needs_resync(&t, 0));
    cr_assert_eq(clb_bn_time_offset_ms(&t), 0);
    cr_assert_eq(clb_bn_time_server_now_ms(&t, 1700000000123456789LL), 1700000000123LL);
}

Test(binance_time, symmetric_samples_give_the_skew)
{
    struct clb_bn_time t = fresh();
    int64_t local = 1700000000000LL * MS, skew = 1234 * MS;
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(sample(&t, local, skew, 5 * MS, 5 * MS), CLB_OK);
        local += 1000 * MS;
    }
    cr_assert(!clb_bn_time_needs_resync(&t, local));
    /* server ms truncation costs at most 1 ms */
    cr_assert(llabs(clb_bn_time_offset_ms(&t) - 1234) <= 1, "%lld",
              (long long)clb_bn_time_offset_ms(&t));
    int64_t now = clb_bn_time_server_now_ms(&t, local);
    cr_assert(llabs(now - (local + skew) / MS) <= 1);
}

Test(binance_time, negative_skew)
{
    struct clb_bn_time t = fresh();
    int64_t local = 1700000000000LL * MS, skew = -73456 * MS;
    for (int i = 0; i < 4; i++, local += 500 * MS)
        cr_assert_eq(sample(&t, local, skew, 2 * MS, 2 * MS), CLB_OK);
    cr_assert(llabs(clb_bn_time_offset_ms(&t) + 73456) <= 1);
}

Test(binance_time, jitter_and_outliers_do_not_move_the_estimate)
{
    /* many rounds of: 8 samples, most with large asymmetric delays, a few
     * quick ones; the estimate stays within the quick ones' error while
     * the plain mean of all offsets would be far off */
    uint64_t seed = 7;
    for (int round = 0; round < 200; round++) {
        struct clb_bn_time t = fresh();
        int64_t skew = (int64_t)(splitmix64(&seed) % 20000000000ull) - 10000000000LL;
        int64_t local = 1700000000000LL * MS;
        double mean = 0;
        int quick_left = 3;
        for (int i = 0; i < 8; i++) {
            int64_t out, back;
            bool quick = quick_left > 0 && (splitmix64(&seed) % 3 == 0 || 8 - i <= quick_left);
            if (quick) {
                quick_left--;
                out = (int64_t)(splitmix64(&seed) % (2 * MS)) + MS / 2;
                back = (int64_t)(splitmix64(&seed) % (2 * MS)) + MS / 2;
            } else {
                out = (int64_t)(splitmix64(&seed) % (800 * MS)) + 50 * MS;
                back = (int64_t)(splitmix64(&seed) % (30 * MS)) + 20 * MS;
            }
            cr_assert_eq(sample(&t, local, skew, out, back), CLB_OK);
            mean += (double)((local + out + skew) / MS * MS - (local + (out + back) / 2));
            local += 200 * MS;
        }
        mean /= 8;
        int64_t err = clb_bn_time_offset_ms(&t) * MS - skew;
        cr_assert(llabs(err) <= 3 * MS, "round %d: error %lld ns", round, (long long)err);
        cr_assert(llabs((int64_t)mean - skew) > llabs(err), "round %d", round);
    }
}

Test(binance_time, old_samples_leave_the_ring)
{
    struct clb_bn_time t = fresh();
    int64_t local = 1000000 * MS;
    /* 8 very quick samples at skew 100 ms, then 8 slower ones at 900 ms:
     * only the last 8 count */
    for (int i = 0; i < 8; i++, local += 100 * MS)
        cr_assert_eq(sample(&t, local, 100 * MS, MS / 10, MS / 10), CLB_OK);
    cr_assert(llabs(clb_bn_time_offset_ms(&t) - 100) <= 1);
    for (int i = 0; i < 8; i++, local += 100 * MS)
        cr_assert_eq(sample(&t, local, 900 * MS, 10 * MS, 10 * MS), CLB_OK);
    cr_assert(llabs(clb_bn_time_offset_ms(&t) - 900) <= 1);
}

Test(binance_time, error_1021_drops_samples_and_resyncs)
{
    struct clb_bn_time t = fresh();
    int64_t local = 1000000 * MS;
    for (int i = 0; i < 5; i++, local += 100 * MS)
        cr_assert_eq(sample(&t, local, 50 * MS, MS, MS), CLB_OK);
    cr_assert(!clb_bn_time_needs_resync(&t, local));
    cr_assert(!clb_bn_time_on_error_code(&t, -1022));
    cr_assert(!clb_bn_time_needs_resync(&t, local));
    /* the server clock jumps by +2 s and a request gets -1021 */
    cr_assert(clb_bn_time_on_error_code(&t, -1021));
    cr_assert(clb_bn_time_needs_resync(&t, local));
    /* the old estimate stays in use meanwhile */
    cr_assert(clb_bn_time_has_offset(&t));
    cr_assert(llabs(clb_bn_time_offset_ms(&t) - 50) <= 1);
    /* fresh samples, slower than the old ones: they alone decide */
    for (int i = 0; i < 2; i++, local += 100 * MS) {
        cr_assert_eq(sample(&t, local, 2050 * MS, 20 * MS, 20 * MS), CLB_OK);
        cr_assert(clb_bn_time_needs_resync(&t, local));
    }
    cr_assert_eq(sample(&t, local, 2050 * MS, 20 * MS, 20 * MS), CLB_OK);
    cr_assert(!clb_bn_time_needs_resync(&t, local));
    cr_assert(llabs(clb_bn_time_offset_ms(&t) - 2050) <= 1);
}

Test(binance_time, resync_interval)
{
    struct clb_bn_time t = fresh();
    int64_t local = 1000000 * MS;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(sample(&t, local, 0, MS, MS), CLB_OK);
    int64_t last_recv = local + 2 * MS;
    cr_assert(!clb_bn_time_needs_resync(&t, last_recv + 599999 * MS));
    cr_assert(clb_bn_time_needs_resync(&t, last_recv + 600000 * MS));
    cr_assert_eq(sample(&t, last_recv + 600000 * MS, 0, MS, MS), CLB_OK);
    cr_assert(!clb_bn_time_needs_resync(&t, last_recv + 600010 * MS));
}

Test(binance_time, refused_samples_change_nothing)
{
    struct clb_bn_time t = fresh();
    cr_assert_eq(sample(&t, 1000 * MS, 5 * MS, MS, MS), CLB_OK);
    struct clb_bn_time before;
    memcpy(&before, &t, sizeof(t));
    cr_assert_eq(clb_bn_time_add_sample(&t, 2000 * MS, 2000, 1999 * MS), CLB_EINVAL);
    cr_assert_eq(clb_bn_time_add_sample(&t, 2000 * MS, 0, 2001 * MS), CLB_EINVAL);
    cr_assert_eq(clb_bn_time_add_sample(&t, 2000 * MS, -5, 2001 * MS), CLB_EINVAL);
    cr_assert_eq(clb_bn_time_add_sample(&t, 2000 * MS, INT64_MAX, 2001 * MS), CLB_EINVAL);
    cr_assert_eq(clb_bn_time_add_sample(&t, 2000 * MS, 2000, 7001 * MS), CLB_ERANGE);
    cr_assert_eq(memcmp(&before, &t, sizeof(t)), 0);
}

Test(binance_time, config_checks)
{
    struct clb_bn_time_config cfg;
    struct clb_bn_time t;
    clb_bn_time_config_defaults(&cfg);
    cfg.keep = CLB_BN_TIME_SAMPLES + 1;
    cr_assert_eq(clb_bn_time_init(&t, &cfg), CLB_EINVAL);
    clb_bn_time_config_defaults(&cfg);
    cfg.best = cfg.keep + 1;
    cr_assert_eq(clb_bn_time_init(&t, &cfg), CLB_EINVAL);
    clb_bn_time_config_defaults(&cfg);
    cfg.min_samples = 0;
    cr_assert_eq(clb_bn_time_init(&t, &cfg), CLB_EINVAL);
    clb_bn_time_config_defaults(&cfg);
    cfg.resync_interval_ms = 0;
    cr_assert_eq(clb_bn_time_init(&t, &cfg), CLB_EINVAL);
    /* best = 2 takes the mean of the two medians */
    clb_bn_time_config_defaults(&cfg);
    cfg.best = 2;
    cfg.min_samples = 1;
    cr_assert_eq(clb_bn_time_init(&t, &cfg), CLB_OK);
    cr_assert_eq(clb_bn_time_add_sample(&t, 0, 10, 0), CLB_OK);
    cr_assert_eq(clb_bn_time_add_sample(&t, 0, 20, 0), CLB_OK);
    cr_assert_eq(clb_bn_time_offset_ms(&t), 15);
}
