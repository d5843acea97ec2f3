/*
 * End-to-end tests of `colibri backtest` and `colibri sweep`: the built
 * binary runs real strategies over a synthetic data file made by `colibri
 * data synth`; the JSON it prints, the report files and the sweep tables are
 * checked, and fills must reconcile exactly with the ledger.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "harness.h"

static char g_dir[256];
static char g_out[1 << 16];
static char g_err[1 << 14];

/* Runs `colibri ARGS` in the test directory; returns the exit status. */
static int run(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s/colibri' %s >out.txt 2>err.txt", g_dir,
             COLIBRI_BINARY_DIR, args);
    int st = system(cmd);
    char p[512];
    snprintf(p, sizeof(p), "%s/out.txt", g_dir);
    slurp(p, g_out, sizeof(g_out));
    snprintf(p, sizeof(p), "%s/err.txt", g_dir);
    slurp(p, g_err, sizeof(g_err));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_cli_bt_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
    cr_assert_eq(run("data synth --events 300000 --seed 11 --out md.clbmd"), 0, "%s", g_err);
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli_backtest, .init = setup, .fini = teardown, .timeout = 120);

static json_t *parse_out(void)
{
    json_error_t e;
    json_t *o = json_loads(g_out, 0, &e);
    cr_assert_not_null(o, "stdout is not JSON (%s): %s", e.text, g_out);
    return o;
}

static double num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_number(v), "key %s missing or not a number", key);
    return json_number_value(v);
}

static void check_run(const char *strategy, const char *extra)
{
    char args[512];
    snprintf(args, sizeof(args), "backtest --data md.clbmd --strategy %s --json %s", strategy,
             extra);
    cr_assert_eq(run(args), 0, "%s", g_err);
    json_t *o = parse_out();
    cr_assert_gt(num(o, "events"), 299000);
    cr_assert_gt(num(o, "wall_s"), 0);
    cr_assert_gt(num(o, "events_per_s"), 0);
    cr_assert_gt(num(o, "fills"), 0, "%s made no fills: %s", strategy, g_out);
    cr_assert(json_is_true(json_object_get(o, "reconciled")), "fills do not reconcile: %s", g_err);
    /* Every fee is 0.1 % of what the fill received (default maker and taker
     * fee), valued in quote: fees = 0.001 * volume, up to the ledger's
     * rounding of each fee up to 1e-8. */
    double fees = num(o, "fees_quote"), volume = num(o, "volume_quote");
    double fills = num(o, "fills");
    cr_assert_gt(volume, 0);
    cr_assert_leq(fabs(fees - 0.001 * volume), fills * 1e-3, "fees %.8f for volume %.8f", fees,
                  volume);
    /* PnL is the value of the end balances minus that of the start ones at
     * the same price: with no fee outside the pair it is the trade PnL. */
    cr_assert_float_eq(num(o, "pnl_quote"), num(o, "trade_pnl_quote"), 1e-9);
    json_decref(o);
}

Test(cli_backtest, pure_market_making_trades_and_reconciles)
{
    check_run("pure_market_making", "--param bid_spread=0.01 --param ask_spread=0.01");
}

Test(cli_backtest, avellaneda_market_making_trades_and_reconciles)
{
    check_run("avellaneda_market_making", "");
}

Test(cli_backtest, same_data_same_result)
{
    cr_assert_eq(run("backtest --data md.clbmd --strategy avellaneda_market_making --json"), 0);
    json_t *a = parse_out();
    cr_assert_eq(run("backtest --data md.clbmd --strategy avellaneda_market_making --json"), 0);
    json_t *b = parse_out();
    cr_assert_eq(num(a, "fills"), num(b, "fills"));
    cr_assert_eq(num(a, "pnl_quote"), num(b, "pnl_quote"));
    cr_assert_eq(num(a, "end_quote"), num(b, "end_quote"));
    json_decref(a);
    json_decref(b);
}

Test(cli_backtest, report_files_are_written)
{
    cr_assert_eq(run("backtest --data md.clbmd --strategy pure_market_making "
                     "--param bid_spread=0.01 --param ask_spread=0.01 --report rep"),
                 0, "%s", g_err);
    char p[512];
    static char html[1 << 20];
    snprintf(p, sizeof(p), "%s/rep/report.html", g_dir);
    slurp(p, html, sizeof(html));
    cr_assert(strstr(html, "<svg") != NULL);
    cr_assert(strstr(html, "<polyline") != NULL);
    cr_assert(strstr(html, "http") == NULL, "the report must not load anything");
    snprintf(p, sizeof(p), "%s/rep/report.json", g_dir);
    json_error_t e;
    json_t *r = json_load_file(p, 0, &e);
    cr_assert_not_null(r);
    cr_assert(json_is_object(json_object_get(r, "summary")));
    cr_assert_gt(json_array_size(json_object_get(r, "series")), 10);
    cr_assert_gt(json_array_size(json_object_get(r, "fills")), 0);
    cr_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "params"), "bid_spread")),
                     "0.01");
    json_decref(r);
}

Test(cli_backtest, bad_input_gets_a_clear_error)
{
    cr_assert_eq(run("backtest --data nope.clbmd"), 1);
    cr_assert(strstr(g_err, "nope.clbmd") != NULL, "%s", g_err);
    cr_assert_eq(run("backtest --data md.clbmd --strategy nosuch"), 2);
    cr_assert(strstr(g_err, "unknown strategy") != NULL, "%s", g_err);
    cr_assert_eq(run("backtest --data md.clbmd --param bid_spread=-5"), 2);
    cr_assert(strstr(g_err, "bid_spread") != NULL, "%s", g_err);
    cr_assert_eq(run("backtest --data md.clbmd --param nosuch=1"), 2);
    cr_assert(strstr(g_err, "nosuch") != NULL, "%s", g_err);
    cr_assert_eq(run("backtest --data md.clbmd --latency-ms abc"), 2);
    /* A truncated file: cut the last record in half. */
    cr_assert_eq(run("data synth --events 1000 --seed 1 --out t.clbmd"), 0);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "truncate -s -16 '%s/t.clbmd'", g_dir);
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(run("backtest --data t.clbmd"), 1);
    cr_assert(strstr(g_err, "t.clbmd@") != NULL, "%s", g_err);
    cr_assert_eq(run("backtest --help"), 0);
    cr_assert(strstr(g_out, "usage: colibri backtest") != NULL);
}

Test(cli_backtest, config_file_sets_strategy_and_params)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/cfg.json", g_dir);
    FILE *f = fopen(p, "w");
    fputs("{\"strategy\": \"pure_market_making\", \"params\": {\"bid_spread\": 0.02, "
          "\"order_levels\": 2, \"ping_pong_enabled\": false}}",
          f);
    fclose(f);
    cr_assert_eq(run("backtest --data md.clbmd --config cfg.json --json"), 0, "%s", g_err);
    json_t *o = parse_out();
    json_t *params = json_object_get(o, "params");
    cr_assert_str_eq(json_string_value(json_object_get(params, "bid_spread")), "0.02");
    cr_assert_str_eq(json_string_value(json_object_get(params, "order_levels")), "2");
    json_decref(o);
    f = fopen(p, "w");
    fputs("{\"params\": {\"bid_spread\": [1]}}", f);
    fclose(f);
    cr_assert_eq(run("backtest --data md.clbmd --config cfg.json"), 2);
    cr_assert(strstr(g_err, "params.bid_spread") != NULL, "%s", g_err);
}

Test(cli_backtest, as2008_model_prints_both_strategies)
{
    cr_assert_eq(run("backtest --model as2008 --gamma 0.1 --paths 200 --seed 3 --json"), 0, "%s",
                 g_err);
    json_t *o = parse_out();
    cr_assert_str_eq(json_string_value(json_object_get(o, "model")), "as2008");
    cr_assert_eq(num(o, "paths"), 200);
    json_t *inv = json_object_get(o, "inventory"), *sym = json_object_get(o, "symmetric");
    cr_assert_not_null(inv);
    cr_assert_not_null(sym);
    /* The paper's qualitative result: the inventory strategy is less risky. */
    cr_assert_lt(num(inv, "profit_std"), num(sym, "profit_std"));
    cr_assert_lt(num(inv, "q_std"), num(sym, "q_std"));
    json_decref(o);
}

Test(cli_backtest, sweep_runs_every_combination_and_shards_split_them)
{
    cr_assert_eq(run("sweep --data md.clbmd --strategy pure_market_making "
                     "--grid 'bid_spread=0.01,0.05;order_amount=0.01,0.02' --out sw"),
                 0, "%s", g_err);
    cr_assert(strstr(g_out, "best by pnl_quote") != NULL, "%s", g_out);
    char p[512];
    snprintf(p, sizeof(p), "%s/sw/sweep.json", g_dir);
    json_error_t e;
    json_t *r = json_load_file(p, 0, &e);
    cr_assert_not_null(r);
    json_t *rows = json_object_get(r, "results");
    cr_assert_eq(json_array_size(rows), 4);
    cr_assert_not_null(json_object_get(r, "best"));
    double best = num(json_object_get(r, "best"), "pnl_quote");
    for (size_t i = 0; i < 4; i++)
        cr_assert_geq(best, num(json_array_get(rows, i), "pnl_quote"));
    json_decref(r);
    static char csv[1 << 14];
    snprintf(p, sizeof(p), "%s/sw/sweep.csv", g_dir);
    slurp(p, csv, sizeof(csv));
    cr_assert(strncmp(csv, "combination,bid_spread,order_amount,fills,", 42) == 0, "%s", csv);
    int lines = 0;
    for (char *c = csv; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 5);
    /* Two shards cover the four combinations exactly once. */
    cr_assert_eq(run("sweep --data md.clbmd --grid 'bid_spread=0.01,0.05;order_amount=0.01,0.02' "
                     "--out sw --shard 0/2"), 0, "%s", g_err);
    cr_assert_eq(run("sweep --data md.clbmd --grid 'bid_spread=0.01,0.05;order_amount=0.01,0.02' "
                     "--out sw --shard 1/2"), 0, "%s", g_err);
    int seen[4] = { 0 };
    for (int s = 0; s < 2; s++) {
        snprintf(p, sizeof(p), "%s/sw/sweep-%d-of-2.json", g_dir, s);
        r = json_load_file(p, 0, &e);
        cr_assert_not_null(r, "%s", p);
        rows = json_object_get(r, "results");
        cr_assert_eq(json_array_size(rows), 2);
        for (size_t i = 0; i < 2; i++)
            seen[json_integer_value(json_object_get(json_array_get(rows, i), "combination"))]++;
        json_decref(r);
    }
    for (int i = 0; i < 4; i++)
        cr_assert_eq(seen[i], 1);
    cr_assert_eq(run("sweep --data md.clbmd --grid 'bid_spread' --out sw"), 2);
    cr_assert_eq(run("sweep --data md.clbmd --grid 'x=1' --out sw --shard 2/2"), 2);
}
