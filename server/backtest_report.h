/*
 * backtest_report.h — what a backtest leaves behind: report.json and a
 * self-contained report.html (inline SVG, no script, no network) with the
 * mid price, our quotes and fills, inventory, PnL over time and a summary.
 *
 * The backtester appends samples (one per clock tick at most) and fills; the
 * series are downsampled to at most REPORT_MAX_POINTS when written, so a
 * day-long run still produces a small file. Buffers are bounded: past
 * REPORT_MAX_SAMPLES samples every other one is dropped (the stride doubles),
 * past REPORT_MAX_FILLS fills only the count grows.
 */
#ifndef CLB_BACKTEST_REPORT_H
#define CLB_BACKTEST_REPORT_H

#include <stddef.h>
#include <stdint.h>

#define REPORT_MAX_SAMPLES 200000
#define REPORT_MAX_FILLS 100000
#define REPORT_MAX_POINTS 1500

struct report_sample {
    int64_t ts_ns;
    double mid;
    double bid;   /* our best bid quote, NAN when none */
    double ask;   /* our best ask quote, NAN when none */
    double base;  /* inventory, base units */
    double pnl;   /* total PnL in quote */
};

struct report_fill {
    int64_t ts_ns;
    int side; /* enum clb_side */
    double price;
    double qty;
};

struct report_summary {
    const char *strategy;
    const char *data_file;
    const char *symbol;
    uint64_t events;
    double wall_s;
    double events_per_s;
    uint64_t fills;
    double volume_base;
    double volume_quote;
    double fees_quote;
    double trade_pnl;
    double pnl_quote;
    double return_pct;
    double sharpe;
    double max_drawdown;
    double max_drawdown_pct;
    double start_base, start_quote, end_base, end_quote;
    int64_t start_ns, end_ns;
};

struct report {
    struct report_sample *samples;
    size_t n_samples;
    size_t sample_stride; /* keep one sample in sample_stride */
    size_t sample_skip;
    struct report_fill *fills;
    size_t n_fills;
    uint64_t fills_seen;
};

/* Allocates the buffers. Returns 0 or CLB_ENOMEM. */
int report_init(struct report *r);
void report_deinit(struct report *r);

void report_add_sample(struct report *r, const struct report_sample *s);
void report_add_fill(struct report *r, const struct report_fill *f);

/* The equity curve (start value + PnL) of the kept samples, for Sharpe and
 * drawdown; returns a malloc'd array of r->n_samples doubles or NULL. */
double *report_equity(const struct report *r, double start_value);

/* Writes DIR/report.json and DIR/report.html (DIR is created if missing).
 * `params_json` is a jansson json_t* object of the strategy parameters
 * (borrowed). Returns 0, or -1 with a message in err. */
int report_write(const struct report *r, const struct report_summary *s, void *params_json,
                 const char *dir, char *err, size_t errlen);

/* The summary as a jansson object (new reference). */
void *report_summary_json(const struct report_summary *s);

#endif
