/*
 * backtest.h — runs a real strategy against the paper connector fed from a
 * market-data file, in the clock's backtest mode, as fast as the records can
 * be read. Shared by `colibri backtest` and `colibri sweep` (which runs one
 * backtest per parameter combination, several at once: a run touches no
 * global state and only reads the mapped file).
 */
#ifndef CLB_BACKTEST_H
#define CLB_BACKTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backtest_report.h"
#include "market_data.h"
#include "md_file.h"

/* A validated, read-only market-data file in memory. */
struct bt_data {
    struct clb_md_file file;
    const struct clb_md_header *hdr;
    const struct clb_md_record *recs;
    uint64_t n;
};

/* Maps and fully validates a .clbmd file. Returns 0, or -1 with the reason
 * (path, offset, record) in err. */
int bt_data_open(struct bt_data *d, const char *path, char *err, size_t errlen);
void bt_data_close(struct bt_data *d);

#define BT_MAX_PARAMS 64

struct bt_options {
    const char *strategy;              /* type name */
    const char *params[BT_MAX_PARAMS]; /* "k=v" */
    size_t n_params;
    const char *base_balance;  /* decimal string, default "1" */
    const char *quote_balance; /* decimal string, default "100000" */
    double maker_fee;          /* fraction, default 0.001 */
    double taker_fee;
    int64_t order_latency_ns;  /* default 1 ms */
    int64_t cancel_latency_ns; /* default 1 ms */
    int64_t tick_ns;           /* clock tick, default 1 s */
    double queue_power;        /* default 3 */
    bool progress;             /* progress bar on stderr */
    bool keep_report;          /* collect series and fills for report files */
};

void bt_options_default(struct bt_options *o);

struct bt_result {
    struct report_summary summary;
    struct report report;  /* filled when keep_report */
    void *params_json;     /* jansson object of the effective parameters */
    /* Exact reconciliation: start balances + every fill == end balances. */
    bool reconciled;
    char reconcile_msg[256];
};

/* Runs one backtest. Returns 0, or -1 with a message in err (unknown
 * strategy or parameter, bad balances). Free the result with bt_result_free. */
int bt_run(const struct bt_data *data, const struct bt_options *opt, const char *data_path,
           struct bt_result *res, char *err, size_t errlen);
void bt_result_free(struct bt_result *res);

/* Times a bare sequential scan of the records (sums every field), in
 * records per second. */
double bt_scan_rate(const struct bt_data *data);

#endif
