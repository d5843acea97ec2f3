/*
 * binance_time.h — the offset between the local clock and Binance's server
 * clock, estimated from request samples (local send time, serverTime from
 * GET /api/v3/time or a response's data, local receive time).
 *
 * Each sample gives offset = server - (send + receive) / 2, accurate to half
 * its round trip. The estimate keeps the last CLB_BN_TIME_SAMPLES samples
 * and takes the median offset of the `best` samples with the smallest round
 * trips, so one slow or asymmetric answer cannot move it. A -1021 answer
 * ("timestamp outside recvWindow / ahead of server time") or an elapsed
 * resync interval marks the estimate as needing a resync: a -1021 also
 * drops the kept samples (the server clock moved), keeping the last offset
 * in use until min_samples fresh samples have come in.
 *
 * Pure: the caller passes every time (local times in ns on the clock it also
 * passes to server_now, normally CLOCK_REALTIME; server times in ms). No
 * allocation. Not thread-safe: one owner (the connector's worker thread).
 */
#ifndef CLB_BINANCE_TIME_H
#define CLB_BINANCE_TIME_H

#include <stdbool.h>
#include <stdint.h>

#define CLB_BN_TIME_SAMPLES 16

struct clb_bn_time_config {
    uint32_t keep;              /* samples kept, 1..CLB_BN_TIME_SAMPLES (8) */
    uint32_t best;              /* lowest-RTT samples the median is taken over, 1..keep (3) */
    uint32_t min_samples;       /* samples before the estimate is "synced", 1..keep (3) */
    int64_t resync_interval_ms; /* > 0: needs_resync after this long (600000 = 10 min) */
    int64_t max_rtt_ms;         /* > 0: samples with a longer round trip are refused (5000) */
};

/* Fills *cfg with the defaults given in parentheses above. */
void clb_bn_time_config_defaults(struct clb_bn_time_config *cfg);

struct clb_bn_time_sample_ {
    int64_t offset_ns;
    int64_t rtt_ns;
};

struct clb_bn_time {
    struct clb_bn_time_config cfg;
    struct clb_bn_time_sample_ s[CLB_BN_TIME_SAMPLES]; /* ring, most recent at head-1 */
    uint32_t n, head;
    uint32_t fresh;            /* samples since the last reset (a -1021) */
    bool have_offset;          /* an estimate exists (maybe from before a reset) */
    bool resync_flag;          /* set by a -1021 until min_samples fresh samples */
    int64_t offset_ns;         /* server - local */
    int64_t last_sync_local_ns; /* receive time of the sample that last updated the offset */
};

/* CLB_OK or CLB_EINVAL (config out of range). */
int clb_bn_time_init(struct clb_bn_time *t, const struct clb_bn_time_config *cfg);

/* Adds one sample: the request left at local_send_ns, the answer carried
 * server_ms and arrived at local_recv_ns. Recomputes the offset. CLB_EINVAL
 * (recv before send, server_ms <= 0) or CLB_ERANGE (round trip above
 * max_rtt_ms): refused, nothing changes. */
int clb_bn_time_add_sample(struct clb_bn_time *t, int64_t local_send_ns, int64_t server_ms,
                           int64_t local_recv_ns);

/* True when no estimate exists, fewer than min_samples samples were taken
 * since the last reset, or the last sample is older than resync_interval_ms
 * at local_now_ns. */
bool clb_bn_time_needs_resync(const struct clb_bn_time *t, int64_t local_now_ns);

/* Reports a Binance error code; -1021 (INVALID_TIMESTAMP) drops the samples
 * and sets the resync flag. Returns true if the code was a clock error. */
bool clb_bn_time_on_error_code(struct clb_bn_time *t, int code);

/* Forces a resync as a -1021 does. */
void clb_bn_time_invalidate(struct clb_bn_time *t);

/* True once any estimate exists. */
static inline bool clb_bn_time_has_offset(const struct clb_bn_time *t)
{
    return t->have_offset;
}

/* server - local in ms (rounded to nearest), 0 without an estimate. */
int64_t clb_bn_time_offset_ms(const struct clb_bn_time *t);

/* The server's clock now, in ms, for a local time (the local time itself
 * when there is no estimate yet): the value to send as `timestamp`. */
int64_t clb_bn_time_server_now_ms(const struct clb_bn_time *t, int64_t local_now_ns);

#endif
