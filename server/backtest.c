/*
 * backtest.c — the replay loop. Per record: deliver the clock ticks that are
 * due (connector first, then the strategy), then hand the record to the
 * paper connector. Everything per run lives on this function's stack or
 * heap; the data file is shared read-only.
 */
#include "backtest.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "error.h"
#include "event.h"
#include "order_book.h"
#include "order_tracker.h"
#include "paper.h"
#include "performance.h"
#include "strategy.h"

int bt_data_open(struct bt_data *d, const char *path, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    struct clb_md_error e;
    if (clb_md_file_open(&d->file, path, true, &e) != CLB_OK) {
        if (e.record >= 0)
            snprintf(err, errlen, "%s@%llu (record %lld): %s", path,
                     (unsigned long long)e.offset, (long long)e.record, e.msg);
        else
            snprintf(err, errlen, "%s@%llu: %s", path, (unsigned long long)e.offset, e.msg);
        return -1;
    }
    d->hdr = &d->file.hdr;
    d->recs = d->file.rec;
    d->n = d->file.hdr.count;
    return 0;
}

void bt_data_close(struct bt_data *d)
{
    clb_md_file_close(&d->file);
    memset(d, 0, sizeof(*d));
}

void bt_options_default(struct bt_options *o)
{
    memset(o, 0, sizeof(*o));
    o->strategy = "pure_market_making";
    o->base_balance = "1";
    o->quote_balance = "100000";
    o->maker_fee = 0.001;
    o->taker_fee = 0.001;
    o->order_latency_ns = 1000000;
    o->cancel_latency_ns = 1000000;
    o->tick_ns = 1000000000;
    o->queue_power = 3.0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- per-run state --------------------------------------------------------- */

struct run {
    struct clb_market_rules rules;
    struct clb_paper *paper;
    struct clb_connector *conn;
    struct clb_strategy *strategy;
    struct bt_result *res;
    bool keep_report;
    double price_unit; /* 10^-price_scale */
    /* exact running sums of what the fills moved, for reconciliation */
    clb_dec base_delta;
    clb_dec quote_delta;
    int reconcile_err;
    double fees_quote; /* fees valued in quote at the fill price */
    double volume_base, volume_quote;
    uint64_t fills;
};

static void on_fill_event(void *ud, const struct clb_event *ev)
{
    struct run *r = ud;
    const struct clb_order_event *o = &ev->u.order;
    double price = clb_dec_to_double(o->fill_price);
    double qty = clb_dec_to_double(o->fill_amount);
    double fee = clb_dec_to_double(o->fill_fee);
    bool fee_in_base = o->fee_asset && strcmp(o->fee_asset, r->rules.base) == 0;
    r->fills++;
    r->volume_base += qty;
    r->volume_quote += price * qty;
    r->fees_quote += fee_in_base ? fee * price : fee;
    clb_dec notional, t;
    int rc = clb_dec_mul(o->fill_price, o->fill_amount, &notional);
    if (o->side == CLB_SIDE_BUY) {
        rc = rc ? rc : clb_dec_add(r->base_delta, o->fill_amount, &r->base_delta);
        rc = rc ? rc : clb_dec_sub(r->quote_delta, notional, &r->quote_delta);
    } else {
        rc = rc ? rc : clb_dec_sub(r->base_delta, o->fill_amount, &r->base_delta);
        rc = rc ? rc : clb_dec_add(r->quote_delta, notional, &r->quote_delta);
    }
    if (!clb_dec_is_zero(o->fill_fee)) {
        clb_dec *acc = fee_in_base ? &r->base_delta : &r->quote_delta;
        rc = rc ? rc : clb_dec_sub(*acc, o->fill_fee, &t);
        if (rc == CLB_OK)
            *acc = t;
    }
    if (rc != CLB_OK)
        r->reconcile_err = rc;
    if (r->keep_report) {
        struct report_fill f = { .ts_ns = ev->ts_ns, .side = o->side, .price = price, .qty = qty };
        report_add_fill(&r->res->report, &f);
    }
}

struct quotes {
    const char *market;
    double bid, ask;
};

static void visit_quote(void *ud, const struct clb_tracked_order *o)
{
    struct quotes *q = ud;
    if (strcmp(o->market, q->market) != 0)
        return;
    double p = clb_dec_to_double(o->price);
    if (o->side == CLB_SIDE_BUY && (isnan(q->bid) || p > q->bid))
        q->bid = p;
    if (o->side == CLB_SIDE_SELL && (isnan(q->ask) || p < q->ask))
        q->ask = p;
}

static void balances(struct run *r, double *base, double *quote)
{
    clb_dec t, a;
    r->conn->ops->balance(r->conn, r->rules.base, &t, &a);
    *base = clb_dec_to_double(t);
    r->conn->ops->balance(r->conn, r->rules.quote, &t, &a);
    *quote = clb_dec_to_double(t);
}

static double mid_price(struct run *r, double fallback)
{
    double mid;
    const struct clb_order_book *b = r->conn->ops->book(r->conn, r->rules.symbol);
    return b && clb_book_mid(b, &mid) ? mid * r->price_unit : fallback;
}

static void sample(struct run *r, int64_t ts, double start_base, double start_quote,
                   double *last_mid)
{
    double mid = mid_price(r, *last_mid);
    *last_mid = mid;
    struct quotes q = { .market = r->rules.symbol, .bid = NAN, .ask = NAN };
    clb_tracker_foreach_live(r->conn->ops->tracker(r->conn), visit_quote, &q);
    double base, quote;
    balances(r, &base, &quote);
    struct report_sample s = { .ts_ns = ts, .mid = mid, .bid = q.bid, .ask = q.ask,
                               .base = base,
                               .pnl = (base - start_base) * mid + (quote - start_quote) };
    report_add_sample(&r->res->report, &s);
}

static void progress(uint64_t done, uint64_t total, double t0)
{
    double el = now_s() - t0;
    double rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    int w = 30, fill = total ? (int)((double)done / (double)total * w) : w;
    fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %6.1f M events/s  ETA %4.0f s", fill,
            "==============================", w - fill, "",
            total ? 100.0 * (double)done / (double)total : 100.0, rate / 1e6, eta);
}

static int setup_market(struct run *r, const struct clb_md_header *h, char *err, size_t errlen)
{
    struct clb_market_rules *ru = &r->rules;
    memset(ru, 0, sizeof(*ru));
    snprintf(ru->symbol, sizeof(ru->symbol), "%.*s", CLB_MD_NAME_MAX, h->symbol);
    const char *dash = strchr(ru->symbol, '-');
    if (!dash || dash == ru->symbol || dash[1] == '\0') {
        snprintf(err, errlen, "data file symbol '%s' is not BASE-QUOTE", ru->symbol);
        return -1;
    }
    snprintf(ru->base, sizeof(ru->base), "%.*s", (int)(dash - ru->symbol), ru->symbol);
    snprintf(ru->quote, sizeof(ru->quote), "%s", dash + 1);
    ru->price_scale = h->price_scale;
    ru->qty_scale = h->qty_scale;
    ru->tick_size = clb_dec_make(h->tick, h->price_scale);
    ru->step_size = clb_dec_make(h->step, h->qty_scale);
    ru->min_qty = ru->step_size;
    ru->max_qty = clb_dec_make(0, 0);
    ru->min_notional = clb_dec_make(0, 0);
    r->price_unit = pow(10.0, -(double)h->price_scale);
    return 0;
}

static json_t *params_json(const struct clb_strategy_ops *ops, const void *cfg)
{
    json_t *o = json_object();
    char buf[128];
    for (size_t i = 0; i < ops->n_params; i++) {
        if (clb_params_format(&ops->params[i], cfg, buf, sizeof(buf)) >= 0)
            json_object_set_new(o, ops->params[i].name, json_string(buf));
    }
    return o;
}

int bt_run(const struct bt_data *data, const struct bt_options *opt, const char *data_path,
           struct bt_result *res, char *err, size_t errlen)
{
    memset(res, 0, sizeof(*res));
    struct run r = { .res = res, .keep_report = opt->keep_report };
    struct clb_event_bus bus;
    struct clb_clock clock;
    void *cfg = NULL;
    int ret = -1, rc;
    bool clock_ok = false;
    clb_event_bus_init(&bus);
    r.base_delta = clb_dec_make(0, 0);
    r.quote_delta = clb_dec_make(0, 0);

    if (report_init(&res->report) != CLB_OK) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    const struct clb_strategy_ops *ops = clb_strategy_find(opt->strategy);
    if (!ops) {
        snprintf(err, errlen, "unknown strategy '%s'", opt->strategy);
        goto out;
    }
    cfg = calloc(1, ops->config_size ? ops->config_size : 1);
    if (!cfg) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    clb_params_defaults(ops->params, ops->n_params, cfg);
    for (size_t i = 0; i < opt->n_params; i++)
        if (clb_params_set_kv(ops->params, ops->n_params, cfg, opt->params[i], err, errlen) != CLB_OK)
            goto out;
    res->params_json = params_json(ops, cfg);

    if (setup_market(&r, data->hdr, err, errlen) != 0)
        goto out;
    struct clb_paper_config pc;
    clb_paper_config_default(&pc);
    pc.bus = &bus;
    pc.maker_fee = opt->maker_fee;
    pc.taker_fee = opt->taker_fee;
    pc.order_latency_ns = opt->order_latency_ns;
    pc.cancel_latency_ns = opt->cancel_latency_ns;
    pc.queue_power = opt->queue_power;
    if ((rc = clb_paper_create(&pc, &r.paper)) != CLB_OK) {
        snprintf(err, errlen, "paper connector: %s", clb_strerror(rc));
        goto out;
    }
    r.conn = clb_paper_connector(r.paper);
    if ((rc = clb_paper_add_market(r.paper, &r.rules, NULL)) != CLB_OK) {
        snprintf(err, errlen, "market %s: %s", r.rules.symbol, clb_strerror(rc));
        goto out;
    }
    clb_dec start_base, start_quote;
    if (clb_dec_parse_cstr(opt->base_balance, &start_base) != CLB_OK ||
        clb_dec_parse_cstr(opt->quote_balance, &start_quote) != CLB_OK ||
        clb_dec_sign(start_base) < 0 || clb_dec_sign(start_quote) < 0) {
        snprintf(err, errlen, "balances must be non-negative decimals (got '%s' %s, '%s' %s)",
                 opt->base_balance, r.rules.base, opt->quote_balance, r.rules.quote);
        goto out;
    }
    if ((clb_dec_sign(start_base) > 0 &&
         (rc = clb_paper_deposit(r.paper, r.rules.base, start_base)) != CLB_OK) ||
        (clb_dec_sign(start_quote) > 0 &&
         (rc = clb_paper_deposit(r.paper, r.rules.quote, start_quote)) != CLB_OK)) {
        snprintf(err, errlen, "cannot deposit the starting balances: %s", clb_strerror(rc));
        goto out;
    }
    clb_event_subscribe(&bus, CLB_EV_MASK(CLB_EV_ORDER_FILLED), on_fill_event, &r);

    char serr[160] = "";
    if ((rc = ops->create(cfg, &r.strategy, serr, sizeof(serr))) != CLB_OK) {
        snprintf(err, errlen, "strategy %s: %s", opt->strategy, serr[0] ? serr : clb_strerror(rc));
        goto out;
    }
    if ((rc = clb_strategy_attach(r.strategy, r.conn, r.rules.symbol, 1, opt->strategy)) != CLB_OK) {
        snprintf(err, errlen, "strategy %s: %s", opt->strategy, clb_strerror(rc));
        goto out;
    }

    struct clb_clock_config cc = { .mode = CLB_CLOCK_BACKTEST, .tick_ns = opt->tick_ns };
    if ((rc = clb_clock_init(&clock, &cc)) != CLB_OK) {
        snprintf(err, errlen, "clock: %s", clb_strerror(rc));
        goto out;
    }
    clock_ok = true;

    const struct clb_md_record *recs = data->recs;
    const uint64_t n = data->n;
    uint64_t i = 0;
    double t0 = now_s();
    /* Prime the book with everything up to the first batch end (the initial
     * snapshot), then start the clock there. */
    while (i < n) {
        clb_paper_on_record(r.paper, 0, &recs[i]);
        if (recs[i++].flags & CLB_MD_F_BATCH_END)
            break;
    }
    int64_t start_ns = i ? recs[i - 1].ts_ns : 0;
    if (clb_clock_add(&clock, &r.conn->it) != CLB_OK ||
        clb_clock_add(&clock, &r.strategy->it) != CLB_OK ||
        clb_clock_start(&clock, start_ns) != CLB_OK) {
        snprintf(err, errlen, "cannot start the strategy");
        goto out;
    }
    double sb = clb_dec_to_double(start_base), sq = clb_dec_to_double(start_quote);
    double last_mid = mid_price(&r, 0.0);
    double start_mid = last_mid;
    int64_t next_tick = clb_clock_next_tick_ns(&clock);
    const uint64_t chunk = 1u << 20;
    while (i < n) {
        uint64_t end = n - i > chunk ? i + chunk : n;
        while (i < end) {
            /* Everything before the next tick in one call, then the tick and
             * the record that is due with it. */
            i += clb_paper_replay(r.paper, 0, &recs[i], end - i, next_tick);
            if (i == end)
                break;
            const struct clb_md_record *rec = &recs[i++];
            clb_clock_advance_to(&clock, rec->ts_ns);
            next_tick = clb_clock_next_tick_ns(&clock);
            if (r.keep_report)
                sample(&r, rec->ts_ns, sb, sq, &last_mid);
            clb_paper_on_record(r.paper, 0, rec);
        }
        if (opt->progress)
            progress(i, n, t0);
    }
    int64_t end_ns = n ? recs[n - 1].ts_ns : start_ns;
    clb_clock_advance_to(&clock, end_ns);
    clb_clock_stop(&clock, end_ns); /* the strategy cancels its orders */
    clb_paper_advance(r.paper, end_ns + opt->cancel_latency_ns + opt->order_latency_ns);
    double wall = now_s() - t0;
    if (opt->progress)
        fputc('\n', stderr);

    /* Summary. */
    struct report_summary *s = &res->summary;
    double base, quote;
    balances(&r, &base, &quote);
    double mid = mid_price(&r, last_mid);
    struct clb_perf_input pin = { .start_base = sb, .start_quote = sq, .cur_base = base,
                                  .cur_quote = quote, .price = mid, .fees_quote = r.fees_quote };
    struct clb_perf perf;
    clb_perf_compute(&pin, &perf);
    if (r.keep_report)
        sample(&r, end_ns, sb, sq, &last_mid);
    double *eq = report_equity(&res->report, sb * start_mid + sq);
    struct clb_equity_stats es = { 0 };
    double period_s = (double)opt->tick_ns / 1e9 * (double)res->report.sample_stride;
    if (eq)
        clb_equity_stats(eq, res->report.n_samples, 365.0 * 86400.0 / period_s, &es);
    free(eq);
    s->strategy = opt->strategy;
    s->data_file = data_path;
    s->symbol = data->hdr->symbol;
    s->events = n;
    s->wall_s = wall;
    s->events_per_s = wall > 0 ? (double)n / wall : 0;
    s->fills = r.fills;
    s->volume_base = r.volume_base;
    s->volume_quote = r.volume_quote;
    s->fees_quote = r.fees_quote;
    s->trade_pnl = perf.trade_pnl;
    s->pnl_quote = perf.total_pnl;
    s->return_pct = perf.return_pct;
    s->sharpe = es.sharpe;
    s->max_drawdown = es.max_drawdown;
    s->max_drawdown_pct = es.max_drawdown_pct;
    s->start_base = sb;
    s->start_quote = sq;
    s->end_base = base;
    s->end_quote = quote;
    s->start_ns = start_ns;
    s->end_ns = end_ns;

    /* Exact reconciliation of fills against the ledger. */
    clb_dec tb, tq, a, eb, eqt;
    r.conn->ops->balance(r.conn, r.rules.base, &tb, &a);
    r.conn->ops->balance(r.conn, r.rules.quote, &tq, &a);
    if (r.reconcile_err || clb_dec_add(start_base, r.base_delta, &eb) != CLB_OK ||
        clb_dec_add(start_quote, r.quote_delta, &eqt) != CLB_OK) {
        snprintf(res->reconcile_msg, sizeof(res->reconcile_msg), "arithmetic error");
    } else if (clb_dec_cmp(eb, tb) != 0 || clb_dec_cmp(eqt, tq) != 0) {
        char x[CLB_DEC_STRLEN], y[CLB_DEC_STRLEN], z[CLB_DEC_STRLEN], w[CLB_DEC_STRLEN];
        clb_dec_format(eb, x, sizeof(x));
        clb_dec_format(tb, y, sizeof(y));
        clb_dec_format(eqt, z, sizeof(z));
        clb_dec_format(tq, w, sizeof(w));
        snprintf(res->reconcile_msg, sizeof(res->reconcile_msg),
                 "fills say %.24s %.8s / %.24s %.8s, ledger says %.24s / %.24s", x, r.rules.base,
                 z, r.rules.quote, y, w);
    } else {
        res->reconciled = true;
        snprintf(res->reconcile_msg, sizeof(res->reconcile_msg), "ok");
    }
    ret = 0;

out:
    if (clock_ok)
        clb_clock_deinit(&clock);
    if (r.strategy) {
        clb_strategy_detach(r.strategy);
        r.strategy->ops->destroy(r.strategy);
    }
    if (r.paper)
        clb_paper_destroy(r.paper);
    free(cfg);
    if (ret != 0)
        bt_result_free(res);
    return ret;
}

void bt_result_free(struct bt_result *res)
{
    report_deinit(&res->report);
    if (res->params_json)
        json_decref(res->params_json);
    res->params_json = NULL;
}

double bt_scan_rate(const struct bt_data *data)
{
    const struct clb_md_record *recs = data->recs;
    uint64_t n = data->n, acc = 0;
    double t0 = now_s();
    for (uint64_t i = 0; i < n; i++)
        acc += (uint64_t)recs[i].ts_ns + (uint64_t)recs[i].price + (uint64_t)recs[i].qty +
               recs[i].kind + recs[i].flags;
    double dt = now_s() - t0;
    __asm__ __volatile__("" : : "r"(acc) : "memory");
    return dt > 0 ? (double)n / dt : 0;
}
