/*
 * bench_backtest.c — the backtester's replay loop end to end:
 *   backtest_events_per_s  records per second through the paper connector
 *                          (L2 book, matching engine, queue model) with the
 *                          clock ticking avellaneda_market_making each
 *                          simulated second, as `colibri backtest` runs it
 *   backtest_scan_ratio    that rate over the rate of a bare sequential scan
 *                          of the same records (what `--scan` prints)
 * The records (~2 M, 64 MiB: more than the caches, as a file would be) come
 * from the synthetic market (core/synth.h, default params, fixed seed) and
 * are generated before timing. Each trial builds a fresh connector, strategy
 * and clock and replays every record; the figures are medians over trials.
 * The loop is the backtester's (server/backtest.c): clb_paper_replay up to
 * the next tick, tick, repeat. Targets (from the issue): >= 20 M events/s,
 * ratio >= 0.2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "clock.h"
#include "decimal.h"
#include "error.h"
#include "event.h"
#include "market.h"
#include "paper.h"
#include "param.h"
#include "strategy.h"
#include "synth.h"

#define BT_RECORDS 2000000u
#define BT_TRIALS 5
#define BT_SEED 1
#define BT_STRATEGY "avellaneda_market_making"
#define BT_TICK_NS 1000000000
#define BT_TARGET_EVENTS_PER_S 20e6
#define BT_TARGET_RATIO 0.2

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* Market rules from the data's header, as the backtester derives them. */
static int rules_of(const struct clb_md_header *h, struct clb_market_rules *ru)
{
    memset(ru, 0, sizeof(*ru));
    snprintf(ru->symbol, sizeof(ru->symbol), "%.*s", CLB_MD_NAME_MAX, h->symbol);
    const char *dash = strchr(ru->symbol, '-');
    if (!dash || dash == ru->symbol)
        return CLB_EINVAL;
    snprintf(ru->base, sizeof(ru->base), "%.*s", (int)(dash - ru->symbol), ru->symbol);
    snprintf(ru->quote, sizeof(ru->quote), "%s", dash + 1);
    ru->price_scale = h->price_scale;
    ru->qty_scale = h->qty_scale;
    ru->tick_size = clb_dec_make(h->tick, h->price_scale);
    ru->step_size = clb_dec_make(h->step, h->qty_scale);
    ru->min_qty = ru->step_size;
    ru->max_qty = clb_dec_make(0, 0);
    ru->min_notional = clb_dec_make(0, 0);
    return CLB_OK;
}

/* One replay of recs[0..n): returns the wall seconds of the replay (setup
 * excluded, as in bt_run), or a negative value on a setup failure. */
static double replay_once(const struct clb_md_header *h, const struct clb_md_record *recs,
                          size_t n, uint64_t *fills)
{
    struct clb_event_bus bus;
    struct clb_paper *paper = NULL;
    struct clb_strategy *strat = NULL;
    struct clb_clock clock;
    bool clock_ok = false;
    double secs = -1.0;
    void *cfg = NULL;
    clb_event_bus_init(&bus);

    const struct clb_strategy_ops *ops = clb_strategy_find(BT_STRATEGY);
    struct clb_market_rules ru;
    struct clb_paper_config pc;
    clb_paper_config_default(&pc);
    pc.bus = &bus;
    pc.order_latency_ns = pc.cancel_latency_ns = 1000000;
    if (!ops || rules_of(h, &ru) != CLB_OK || clb_paper_create(&pc, &paper) != CLB_OK)
        goto out;
    struct clb_connector *conn = clb_paper_connector(paper);
    if (clb_paper_add_market(paper, &ru, NULL) != CLB_OK ||
        clb_paper_deposit(paper, ru.base, clb_dec_make(1, 0)) != CLB_OK ||
        clb_paper_deposit(paper, ru.quote, clb_dec_make(100000, 0)) != CLB_OK)
        goto out;
    if (!(cfg = calloc(1, ops->config_size ? ops->config_size : 1)))
        goto out;
    clb_params_defaults(ops->params, ops->n_params, cfg);
    char err[160];
    if (ops->create(cfg, &strat, err, sizeof(err)) != CLB_OK)
        goto out;
    if (clb_strategy_attach(strat, conn, ru.symbol, 1, BT_STRATEGY) != CLB_OK)
        goto out;
    struct clb_clock_config cc = { .mode = CLB_CLOCK_BACKTEST, .tick_ns = BT_TICK_NS };
    if (clb_clock_init(&clock, &cc) != CLB_OK)
        goto out;
    clock_ok = true;

    uint64_t t0 = bench_now_ns();
    size_t i = 0;
    while (i < n) { /* the initial snapshot, up to its batch end */
        clb_paper_on_record(paper, 0, &recs[i]);
        if (recs[i++].flags & CLB_MD_F_BATCH_END)
            break;
    }
    if (clb_clock_add(&clock, &conn->it) != CLB_OK ||
        clb_clock_add(&clock, &strat->it) != CLB_OK ||
        clb_clock_start(&clock, i ? recs[i - 1].ts_ns : 0) != CLB_OK)
        goto out;
    int64_t next_tick = clb_clock_next_tick_ns(&clock);
    while (i < n) {
        i += clb_paper_replay(paper, 0, &recs[i], n - i, next_tick);
        if (i == n)
            break;
        clb_clock_advance_to(&clock, recs[i].ts_ns);
        next_tick = clb_clock_next_tick_ns(&clock);
        clb_paper_on_record(paper, 0, &recs[i++]);
    }
    int64_t end_ns = n ? recs[n - 1].ts_ns : 0;
    clb_clock_advance_to(&clock, end_ns);
    clb_clock_stop(&clock, end_ns);
    clb_paper_advance(paper, end_ns + 2 * pc.order_latency_ns);
    secs = (double)(bench_now_ns() - t0) / 1e9;
    struct clb_paper_stats st;
    clb_paper_stats(paper, &st);
    *fills = st.fills;

out:
    if (clock_ok)
        clb_clock_deinit(&clock);
    if (strat) {
        clb_strategy_detach(strat);
        strat->ops->destroy(strat);
    }
    clb_paper_destroy(paper);
    free(cfg);
    return secs;
}

/* The bare scan: every field of every record summed, as bt_scan_rate does. */
static double scan_once(const struct clb_md_record *recs, size_t n)
{
    uint64_t acc = 0, t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++)
        acc += (uint64_t)recs[i].ts_ns + (uint64_t)recs[i].price + (uint64_t)recs[i].qty +
               recs[i].kind + recs[i].flags;
    uint64_t dt = bench_now_ns() - t0;
    bench_sink(acc);
    return (double)dt / 1e9;
}

void bench_backtest(struct bench_ctx *ctx)
{
    if (!bench_selected(ctx, "backtest_events_per_s") &&
        !bench_selected(ctx, "backtest_scan_ratio"))
        return;
    struct clb_synth_params sp;
    clb_synth_default_params(&sp);
    struct clb_synth syn;
    struct clb_md_header h;
    /* Cache-line aligned, as the records of a mapped file are. */
    struct clb_md_record *recs = aligned_alloc(64, BT_RECORDS * sizeof(*recs));
    if (!recs || clb_synth_init(&syn, &sp, BT_SEED) != CLB_OK) {
        fprintf(stderr, "backtest: setup failed\n");
        free(recs);
        return;
    }
    clb_synth_fill(&syn, recs, BT_RECORDS);
    int rc = clb_synth_header(&syn, &h);
    clb_synth_deinit(&syn);
    if (rc != CLB_OK) {
        fprintf(stderr, "backtest: setup failed\n");
        free(recs);
        return;
    }

    double rate[BT_TRIALS], scan[BT_TRIALS];
    uint64_t fills = 0;
    for (int t = 0; t < BT_TRIALS; t++) {
        double s = replay_once(&h, recs, BT_RECORDS, &fills);
        if (s < 0) {
            fprintf(stderr, "backtest: setup failed\n");
            free(recs);
            return;
        }
        rate[t] = s > 0 ? BT_RECORDS / s : 0;
        s = scan_once(recs, BT_RECORDS);
        scan[t] = s > 0 ? BT_RECORDS / s : 0;
    }
    double r = median(rate, BT_TRIALS), sc = median(scan, BT_TRIALS);
    double ratio = sc > 0 ? r / sc : 0;
    uint64_t ops = (uint64_t)BT_RECORDS * BT_TRIALS;
    if (r < BT_TARGET_EVENTS_PER_S || ratio < BT_TARGET_RATIO)
        ctx->failures++;
    bench_report(ctx, "backtest_events_per_s", r, "events/s", ops);
    bench_report(ctx, "backtest_scan_ratio", ratio, "ratio", ops);
    if (!ctx->json)
        printf("  (scan %.4g records/s, %llu fills a replay; targets >= %.0f M events/s, "
               "ratio >= %.1f)\n",
               sc, (unsigned long long)fills, BT_TARGET_EVENTS_PER_S / 1e6, BT_TARGET_RATIO);
    free(recs);
}
