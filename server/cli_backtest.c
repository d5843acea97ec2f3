/*
 * cli_backtest.c — `colibri backtest`: one strategy over one market-data
 * file, or the Avellaneda-Stoikov (2008) paper's own simulation.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "as2008.h"
#include "backtest.h"
#include "cli.h"
#include "error.h"
#include "strategy.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: colibri backtest --data FILE [--strategy NAME] [--param k=v ...]\n"
        "                        [--config FILE] [--report DIR] [--json] [--scan]\n"
        "                        [--base-balance X] [--quote-balance Y]\n"
        "                        [--maker-fee F] [--taker-fee F] [--latency-ms MS]\n"
        "                        [--tick-ms MS] [--queue-power N]\n"
        "       colibri backtest --model as2008 [--gamma G] [--paths N] [--seed S] [--json]\n"
        "\n"
        "Runs a strategy against the simulated venue (core's matching engine with a\n"
        "queue model) replaying a market-data file ('colibri data synth' or 'colibri\n"
        "data import' make one), in the clock's backtest mode, as fast as it can.\n"
        "\n"
        "  --data FILE         market-data file (.clbmd)\n"
        "  --strategy NAME     pure_market_making (default) or avellaneda_market_making\n"
        "  --param k=v         a strategy parameter (repeatable); see --list-params\n"
        "  --config FILE       JSON: {\"strategy\": NAME, \"params\": {k: v, ...}}\n"
        "  --report DIR        write DIR/report.json and DIR/report.html\n"
        "  --json              print one JSON object with the summary to stdout\n"
        "  --scan              also time a bare sequential scan of the file (ratio)\n"
        "  --base-balance X    starting base balance (default 1)\n"
        "  --quote-balance Y   starting quote balance (default 100000)\n"
        "  --maker-fee F       fee fraction (default 0.001 = 0.1 %%), --taker-fee too\n"
        "  --latency-ms MS     order entry and cancel latency (default 1)\n"
        "  --tick-ms MS        strategy clock tick (default 1000)\n"
        "  --queue-power N     queue model exponent (default 3; 0 = decreases behind us)\n"
        "  --list-params       print the strategy's parameters and exit\n"
        "\n"
        "The paper's model (--model as2008) runs section 3.3 of Avellaneda & Stoikov\n"
        "(2008): s0=100, T=1, sigma=2, dt=0.005, k=1.5, A=140; inventory vs symmetric\n"
        "strategy over N paths (default gamma 0.1, 1000 paths, seed 1).\n");
}

static void list_params(const struct clb_strategy_ops *ops)
{
    printf("%s — %s\n", ops->type, ops->summary ? ops->summary : "");
    void *cfg = calloc(1, ops->config_size ? ops->config_size : 1);
    if (!cfg)
        return;
    clb_params_defaults(ops->params, ops->n_params, cfg);
    for (size_t i = 0; i < ops->n_params; i++) {
        const struct clb_param_spec *p = &ops->params[i];
        char def[128] = "";
        clb_params_format(p, cfg, def, sizeof(def));
        printf("  %-32s default %-12s [%s] %s\n", p->name, def, p->unit ? p->unit : "",
               p->help ? p->help : "");
    }
    free(cfg);
}

static int run_model(double gamma, size_t paths, uint64_t seed, bool json)
{
    struct clb_as2008_result r;
    int rc = clb_as2008_run(gamma, paths, seed, &r);
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri backtest: as2008: %s\n", clb_strerror(rc));
        return 1;
    }
    const struct clb_as2008_stats *st[2] = { &r.inventory, &r.symmetric };
    const char *names[2] = { "inventory", "symmetric" };
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string("as2008"));
        json_object_set_new(o, "gamma", json_real(gamma));
        json_object_set_new(o, "paths", json_integer((json_int_t)paths));
        for (int i = 0; i < 2; i++) {
            json_t *s = json_object();
            json_object_set_new(s, "spread", json_real(st[i]->spread_mean));
            json_object_set_new(s, "profit_mean", json_real(st[i]->profit_mean));
            json_object_set_new(s, "profit_std", json_real(st[i]->profit_std));
            json_object_set_new(s, "q_mean", json_real(st[i]->q_mean));
            json_object_set_new(s, "q_std", json_real(st[i]->q_std));
            json_object_set_new(o, names[i], s);
        }
        char *txt = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(8));
        puts(txt);
        free(txt);
        json_decref(o);
        return 0;
    }
    printf("Avellaneda-Stoikov (2008) section 3.3, gamma %g, %zu paths\n", gamma, paths);
    printf("%-10s %8s %12s %12s %8s %8s\n", "strategy", "spread", "profit", "std(profit)",
           "mean(q)", "std(q)");
    for (int i = 0; i < 2; i++)
        printf("%-10s %8.3f %12.3f %12.3f %8.3f %8.3f\n", names[i], st[i]->spread_mean,
               st[i]->profit_mean, st[i]->profit_std, st[i]->q_mean, st[i]->q_std);
    return 0;
}

/* Reads {"strategy": "...", "params": {...}} into opt; values become "k=v"
 * strings kept alive in *keep (freed by the caller). */
static int load_config(const char *path, struct bt_options *opt, json_t **keep)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        fprintf(stderr, "colibri backtest: %s:%d:%d: %s\n", path, je.line, je.column, je.text);
        return -1;
    }
    if (!json_is_object(root)) {
        fprintf(stderr, "colibri backtest: %s: the top level must be an object\n", path);
        json_decref(root);
        return -1;
    }
    json_t *st = json_object_get(root, "strategy");
    if (st && !json_is_string(st)) {
        fprintf(stderr, "colibri backtest: %s: key 'strategy' must be a string\n", path);
        json_decref(root);
        return -1;
    }
    if (st)
        opt->strategy = json_string_value(st);
    json_t *params = json_object_get(root, "params");
    if (params && !json_is_object(params)) {
        fprintf(stderr, "colibri backtest: %s: key 'params' must be an object\n", path);
        json_decref(root);
        return -1;
    }
    json_t *strs = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(params, k, v) {
        char buf[256];
        if (json_is_string(v))
            snprintf(buf, sizeof(buf), "%s=%s", k, json_string_value(v));
        else if (json_is_integer(v))
            snprintf(buf, sizeof(buf), "%s=%lld", k, (long long)json_integer_value(v));
        else if (json_is_real(v))
            snprintf(buf, sizeof(buf), "%s=%.17g", k, json_real_value(v));
        else if (json_is_boolean(v))
            snprintf(buf, sizeof(buf), "%s=%s", k, json_is_true(v) ? "true" : "false");
        else {
            fprintf(stderr, "colibri backtest: %s: params.%s: must be a string, number or boolean\n",
                    path, k);
            json_decref(strs);
            json_decref(root);
            return -1;
        }
        if (opt->n_params == BT_MAX_PARAMS) {
            fprintf(stderr, "colibri backtest: %s: too many params\n", path);
            json_decref(strs);
            json_decref(root);
            return -1;
        }
        json_array_append_new(strs, json_string(buf));
        opt->params[opt->n_params++] = json_string_value(json_array_get(strs, json_array_size(strs) - 1));
    }
    json_object_set_new(root, "_kv", strs);
    *keep = root;
    return 0;
}

static bool parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end)
        return false;
    *out = v;
    return true;
}

int cli_backtest_main(int argc, char **argv)
{
    struct bt_options opt;
    bt_options_default(&opt);
    const char *data = NULL, *report = NULL, *config = NULL, *model = NULL;
    bool json = false, scan = false, list = false;
    double gamma = 0.1, d;
    long long paths = 1000, seed = 1;
    const char *cli_params[BT_MAX_PARAMS];
    size_t n_cli = 0;
    const char *cli_strategy = NULL;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE()                                                               \
    do {                                                                           \
        if (!v) {                                                                  \
            fprintf(stderr, "colibri backtest: %s needs a value\n", a);           \
            return 2;                                                              \
        }                                                                          \
        i++;                                                                       \
    } while (0)
#define NUM(dst, lo, hi)                                                           \
    do {                                                                           \
        NEED_VALUE();                                                              \
        if (!parse_double(v, &d) || d < (lo) || d > (hi)) {                        \
            fprintf(stderr, "colibri backtest: %s: '%s' is not a number in [%g, %g]\n", a, v, \
                    (double)(lo), (double)(hi));                                   \
            return 2;                                                              \
        }                                                                          \
        dst;                                                                       \
    } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--data")) {
            NEED_VALUE();
            data = v;
        } else if (!strcmp(a, "--strategy")) {
            NEED_VALUE();
            cli_strategy = v;
        } else if (!strcmp(a, "--param")) {
            NEED_VALUE();
            if (n_cli == BT_MAX_PARAMS) {
                fprintf(stderr, "colibri backtest: too many --param\n");
                return 2;
            }
            cli_params[n_cli++] = v;
        } else if (!strcmp(a, "--config")) {
            NEED_VALUE();
            config = v;
        } else if (!strcmp(a, "--report")) {
            NEED_VALUE();
            report = v;
        } else if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--scan")) {
            scan = true;
        } else if (!strcmp(a, "--list-params")) {
            list = true;
        } else if (!strcmp(a, "--base-balance")) {
            NEED_VALUE();
            opt.base_balance = v;
        } else if (!strcmp(a, "--quote-balance")) {
            NEED_VALUE();
            opt.quote_balance = v;
        } else if (!strcmp(a, "--maker-fee")) {
            NUM(opt.maker_fee = d, 0, 0.1);
        } else if (!strcmp(a, "--taker-fee")) {
            NUM(opt.taker_fee = d, 0, 0.1);
        } else if (!strcmp(a, "--latency-ms")) {
            NUM(opt.order_latency_ns = opt.cancel_latency_ns = (int64_t)(d * 1e6), 0, 60000);
        } else if (!strcmp(a, "--tick-ms")) {
            NUM(opt.tick_ns = (int64_t)(d * 1e6), 1, 3600000);
        } else if (!strcmp(a, "--queue-power")) {
            NUM(opt.queue_power = d, 0, 100);
        } else if (!strcmp(a, "--model")) {
            NEED_VALUE();
            model = v;
        } else if (!strcmp(a, "--gamma")) {
            NUM(gamma = d, 1e-9, 1e9);
        } else if (!strcmp(a, "--paths")) {
            NUM(paths = (long long)d, 2, 1e8);
        } else if (!strcmp(a, "--seed")) {
            NUM(seed = (long long)d, 0, 9e18);
        } else {
            fprintf(stderr, "colibri backtest: unknown option '%s' (see --help)\n", a);
            return 2;
        }
#undef NUM
#undef NEED_VALUE
    }
    if (model) {
        if (strcmp(model, "as2008") != 0) {
            fprintf(stderr, "colibri backtest: unknown model '%s' (known: as2008)\n", model);
            return 2;
        }
        return run_model(gamma, (size_t)paths, (uint64_t)seed, json);
    }
    json_t *keep = NULL;
    if (config && load_config(config, &opt, &keep) != 0)
        return 2;
    if (cli_strategy)
        opt.strategy = cli_strategy;
    for (size_t i = 0; i < n_cli && opt.n_params < BT_MAX_PARAMS; i++)
        opt.params[opt.n_params++] = cli_params[i];
    if (list) {
        const struct clb_strategy_ops *ops = clb_strategy_find(opt.strategy);
        if (!ops) {
            fprintf(stderr, "colibri backtest: unknown strategy '%s'\n", opt.strategy);
            json_decref(keep);
            return 2;
        }
        list_params(ops);
        json_decref(keep);
        return 0;
    }
    if (!data) {
        fprintf(stderr, "colibri backtest: --data FILE is required (see --help)\n");
        json_decref(keep);
        return 2;
    }
    char err[512];
    struct bt_data bd;
    if (bt_data_open(&bd, data, err, sizeof(err)) != 0) {
        fprintf(stderr, "colibri backtest: %s\n", err);
        json_decref(keep);
        return 1;
    }
    double scan_rate = 0;
    if (scan) {
        bt_scan_rate(&bd); /* warm the page cache */
        scan_rate = bt_scan_rate(&bd);
    }
    opt.progress = isatty(STDERR_FILENO) && !json;
    opt.keep_report = true;
    struct bt_result res;
    int status = 0;
    if (bt_run(&bd, &opt, data, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "colibri backtest: %s\n", err);
        bt_data_close(&bd);
        json_decref(keep);
        return 2;
    }
    if (report && report_write(&res.report, &res.summary, res.params_json, report, err,
                               sizeof(err)) != 0) {
        fprintf(stderr, "colibri backtest: %s\n", err);
        status = 1;
    }
    const struct report_summary *s = &res.summary;
    if (json) {
        json_t *o = report_summary_json(s);
        json_object_set_new(o, "reconciled", json_boolean(res.reconciled));
        json_object_set(o, "params", res.params_json);
        if (scan) {
            json_object_set_new(o, "scan_events_per_s", json_real(scan_rate));
            json_object_set_new(o, "scan_ratio",
                                json_real(scan_rate > 0 ? s->events_per_s / scan_rate : 0));
        }
        char *txt = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
        puts(txt);
        free(txt);
        json_decref(o);
    } else {
        printf("%s on %s: %llu events in %.3f s (%.1f M events/s)\n", s->strategy, s->symbol,
               (unsigned long long)s->events, s->wall_s, s->events_per_s / 1e6);
        printf("fills %llu, volume %.8g %s, fees %.4f, PnL %.4f (%.4f %%), Sharpe %.3f, "
               "max drawdown %.4f\n",
               (unsigned long long)s->fills, s->volume_base, "base", s->fees_quote, s->pnl_quote,
               s->return_pct, s->sharpe, s->max_drawdown);
        if (scan)
            printf("bare scan %.1f M events/s, ratio %.3f\n", scan_rate / 1e6,
                   scan_rate > 0 ? s->events_per_s / scan_rate : 0);
        if (report)
            printf("report: %s/report.html\n", report);
    }
    if (!res.reconciled) {
        fprintf(stderr, "colibri backtest: fills do not reconcile with balances: %s\n",
                res.reconcile_msg);
        status = 1;
    }
    bt_result_free(&res);
    bt_data_close(&bd);
    json_decref(keep);
    return status;
}
