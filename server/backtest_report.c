/*
 * backtest_report.c — report.json (jansson) and report.html (hand-written
 * SVG polylines; every number is formatted by us, no user string reaches the
 * HTML unescaped).
 */
#include "backtest_report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

int report_init(struct report *r)
{
    memset(r, 0, sizeof(*r));
    r->samples = malloc(sizeof(*r->samples) * REPORT_MAX_SAMPLES);
    r->fills = malloc(sizeof(*r->fills) * REPORT_MAX_FILLS);
    r->sample_stride = 1;
    if (!r->samples || !r->fills) {
        report_deinit(r);
        return CLB_ENOMEM;
    }
    return CLB_OK;
}

void report_deinit(struct report *r)
{
    free(r->samples);
    free(r->fills);
    memset(r, 0, sizeof(*r));
}

void report_add_sample(struct report *r, const struct report_sample *s)
{
    if (++r->sample_skip < r->sample_stride)
        return;
    r->sample_skip = 0;
    if (r->n_samples == REPORT_MAX_SAMPLES) {
        /* Halve the resolution: keep every other sample, double the stride. */
        for (size_t i = 0; i < REPORT_MAX_SAMPLES / 2; i++)
            r->samples[i] = r->samples[2 * i + 1];
        r->n_samples = REPORT_MAX_SAMPLES / 2;
        r->sample_stride *= 2;
    }
    r->samples[r->n_samples++] = *s;
}

void report_add_fill(struct report *r, const struct report_fill *f)
{
    r->fills_seen++;
    if (r->n_fills < REPORT_MAX_FILLS)
        r->fills[r->n_fills++] = *f;
}

double *report_equity(const struct report *r, double start_value)
{
    double *eq = malloc(sizeof(double) * (r->n_samples ? r->n_samples : 1));
    if (!eq)
        return NULL;
    for (size_t i = 0; i < r->n_samples; i++)
        eq[i] = start_value + r->samples[i].pnl;
    return eq;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

void *report_summary_json(const struct report_summary *s)
{
    json_t *o = json_object();
    json_object_set_new(o, "strategy", json_string(s->strategy ? s->strategy : ""));
    json_object_set_new(o, "data", json_string(s->data_file ? s->data_file : ""));
    json_object_set_new(o, "symbol", json_string(s->symbol ? s->symbol : ""));
    json_object_set_new(o, "events", json_integer((json_int_t)s->events));
    json_object_set_new(o, "wall_s", num(s->wall_s));
    json_object_set_new(o, "events_per_s", num(s->events_per_s));
    json_object_set_new(o, "fills", json_integer((json_int_t)s->fills));
    json_object_set_new(o, "volume_base", num(s->volume_base));
    json_object_set_new(o, "volume_quote", num(s->volume_quote));
    json_object_set_new(o, "fees_quote", num(s->fees_quote));
    json_object_set_new(o, "trade_pnl_quote", num(s->trade_pnl));
    json_object_set_new(o, "pnl_quote", num(s->pnl_quote));
    json_object_set_new(o, "return_pct", num(s->return_pct));
    json_object_set_new(o, "sharpe", num(s->sharpe));
    json_object_set_new(o, "max_drawdown_quote", num(s->max_drawdown));
    json_object_set_new(o, "max_drawdown_pct", num(s->max_drawdown_pct));
    json_object_set_new(o, "start_base", num(s->start_base));
    json_object_set_new(o, "start_quote", num(s->start_quote));
    json_object_set_new(o, "end_base", num(s->end_base));
    json_object_set_new(o, "end_quote", num(s->end_quote));
    json_object_set_new(o, "start_ns", json_integer(s->start_ns));
    json_object_set_new(o, "end_ns", json_integer(s->end_ns));
    return o;
}

/* ---- HTML ---------------------------------------------------------------- */

#define W 960.0
#define H 260.0
#define PAD 48.0

struct axis {
    double x0, x1, y0, y1;
};

static double sx(const struct axis *a, double x)
{
    return PAD + (a->x1 > a->x0 ? (x - a->x0) / (a->x1 - a->x0) : 0.5) * (W - 2 * PAD);
}

static double sy(const struct axis *a, double y)
{
    return H - PAD + -(a->y1 > a->y0 ? (y - a->y0) / (a->y1 - a->y0) : 0.5) * (H - 2 * PAD);
}

static void fit(double v, double *lo, double *hi)
{
    if (!isfinite(v))
        return;
    if (v < *lo)
        *lo = v;
    if (v > *hi)
        *hi = v;
}

/* Writes one polyline of field `off` (a double inside report_sample) for the
 * samples at stride `step`; NAN breaks the line. */
static void polyline(FILE *f, const struct report *r, size_t step, size_t off, const char *color,
                     const struct axis *a)
{
    bool open = false;
    for (size_t i = 0; i < r->n_samples; i += step) {
        const struct report_sample *s = &r->samples[i];
        double v = *(const double *)((const char *)s + off);
        if (!isfinite(v)) {
            if (open)
                fputs("\"/>\n", f);
            open = false;
            continue;
        }
        if (!open)
            fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\" points=\"", color);
        open = true;
        fprintf(f, "%.1f,%.1f ", sx(a, (double)s->ts_ns), sy(a, v));
    }
    if (open)
        fputs("\"/>\n", f);
}

static void frame(FILE *f, const char *title, const struct axis *a, const char *unit)
{
    fprintf(f, "<svg viewBox=\"0 0 %.0f %.0f\" width=\"100%%\" role=\"img\">\n", W, H);
    fprintf(f, "<text x=\"%.0f\" y=\"18\" class=\"t\">%s</text>\n", PAD, title);
    fprintf(f, "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" class=\"fr\"/>\n", PAD,
            PAD, W - 2 * PAD, H - 2 * PAD);
    fprintf(f, "<text x=\"4\" y=\"%.0f\" class=\"l\">%.6g</text>\n", PAD + 4, a->y1);
    fprintf(f, "<text x=\"4\" y=\"%.0f\" class=\"l\">%.6g</text>\n", H - PAD, a->y0);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"l\">%s</text>\n", W - PAD, PAD - 6, unit);
    fprintf(f, "<text x=\"%.0f\" y=\"%.0f\" class=\"l\">%.0f s</text>\n", W - PAD - 40, H - PAD + 16,
            (a->x1 - a->x0) / 1e9);
}

static int write_html(const struct report *r, const struct report_summary *s, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    size_t step = r->n_samples > REPORT_MAX_POINTS ? r->n_samples / REPORT_MAX_POINTS : 1;
    struct axis ap = { INFINITY, -INFINITY, INFINITY, -INFINITY };
    struct axis ai = ap, an = ap;
    for (size_t i = 0; i < r->n_samples; i++) {
        const struct report_sample *x = &r->samples[i];
        fit((double)x->ts_ns, &ap.x0, &ap.x1);
        fit(x->mid, &ap.y0, &ap.y1);
        fit(x->bid, &ap.y0, &ap.y1);
        fit(x->ask, &ap.y0, &ap.y1);
        fit(x->base, &ai.y0, &ai.y1);
        fit(x->pnl, &an.y0, &an.y1);
    }
    if (r->n_samples == 0)
        ap = (struct axis){ 0, 1, 0, 1 }, an = ap, ai = ap;
    ai.x0 = an.x0 = ap.x0;
    ai.x1 = an.x1 = ap.x1;

    fputs("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
          "<title>colibri backtest report</title><style>"
          "body{font:14px system-ui,sans-serif;margin:1.5em;max-width:1000px;color:#222}"
          "table{border-collapse:collapse}td{padding:2px 12px 2px 0}"
          "td:nth-child(2){text-align:right;font-variant-numeric:tabular-nums}"
          ".t{font-weight:600;font-size:14px}.l{font-size:11px;fill:#555}"
          ".fr{fill:none;stroke:#ccc}</style></head><body>\n", f);
    fputs("<h1>colibri backtest report</h1>\n<table>\n", f);
    fprintf(f, "<tr><td>events</td><td>%llu</td></tr>\n", (unsigned long long)s->events);
    fprintf(f, "<tr><td>replay speed</td><td>%.3g events/s</td></tr>\n", s->events_per_s);
    fprintf(f, "<tr><td>simulated time</td><td>%.1f s</td></tr>\n",
            (double)(s->end_ns - s->start_ns) / 1e9);
    fprintf(f, "<tr><td>trades (fills)</td><td>%llu</td></tr>\n", (unsigned long long)s->fills);
    fprintf(f, "<tr><td>volume</td><td>%.8g base / %.2f quote</td></tr>\n", s->volume_base,
            s->volume_quote);
    fprintf(f, "<tr><td>fees</td><td>%.4f quote</td></tr>\n", s->fees_quote);
    fprintf(f, "<tr><td>PnL</td><td>%.4f quote</td></tr>\n", s->pnl_quote);
    fprintf(f, "<tr><td>return</td><td>%.4f %%</td></tr>\n", s->return_pct);
    fprintf(f, "<tr><td>Sharpe (annualised)</td><td>%.3f</td></tr>\n", s->sharpe);
    fprintf(f, "<tr><td>max drawdown</td><td>%.4f quote (%.4f %%)</td></tr>\n", s->max_drawdown,
            s->max_drawdown_pct);
    fputs("</table>\n", f);

    frame(f, "Mid price (grey), our bid (green) and ask (red) quotes, fills", &ap, "price");
    polyline(f, r, step, offsetof(struct report_sample, mid), "#888", &ap);
    polyline(f, r, step, offsetof(struct report_sample, bid), "#2a8", &ap);
    polyline(f, r, step, offsetof(struct report_sample, ask), "#d44", &ap);
    size_t fstep = r->n_fills > REPORT_MAX_POINTS ? r->n_fills / REPORT_MAX_POINTS : 1;
    for (size_t i = 0; i < r->n_fills; i += fstep) {
        const struct report_fill *x = &r->fills[i];
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"2.5\" fill=\"%s\"/>\n",
                sx(&ap, (double)x->ts_ns), sy(&ap, x->price), x->side == 0 ? "#083" : "#a00");
    }
    fputs("</svg>\n", f);
    frame(f, "Inventory", &ai, "base");
    polyline(f, r, step, offsetof(struct report_sample, base), "#36c", &ai);
    fputs("</svg>\n", f);
    frame(f, "PnL", &an, "quote");
    polyline(f, r, step, offsetof(struct report_sample, pnl), "#639", &an);
    fputs("</svg>\n</body></html>\n", f);
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    return rc;
}

static json_t *series_json(const struct report *r)
{
    json_t *a = json_array();
    size_t step = r->n_samples > REPORT_MAX_POINTS ? r->n_samples / REPORT_MAX_POINTS : 1;
    for (size_t i = 0; i < r->n_samples; i += step) {
        const struct report_sample *s = &r->samples[i];
        json_t *o = json_object();
        json_object_set_new(o, "ts_ns", json_integer(s->ts_ns));
        json_object_set_new(o, "mid", num(s->mid));
        json_object_set_new(o, "bid", num(s->bid));
        json_object_set_new(o, "ask", num(s->ask));
        json_object_set_new(o, "inventory_base", num(s->base));
        json_object_set_new(o, "pnl_quote", num(s->pnl));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *fills_json(const struct report *r)
{
    json_t *a = json_array();
    for (size_t i = 0; i < r->n_fills; i++) {
        const struct report_fill *x = &r->fills[i];
        json_t *o = json_object();
        json_object_set_new(o, "ts_ns", json_integer(x->ts_ns));
        json_object_set_new(o, "side", json_string(x->side == 0 ? "buy" : "sell"));
        json_object_set_new(o, "price", num(x->price));
        json_object_set_new(o, "amount", num(x->qty));
        json_array_append_new(a, o);
    }
    return a;
}

int report_write(const struct report *r, const struct report_summary *s, void *params_json,
                 const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create directory: %s", dir, strerror(errno));
        return -1;
    }
    char path[4096];
    json_t *root = json_object();
    json_object_set_new(root, "summary", report_summary_json(s));
    json_object_set_new(root, "params",
                        params_json ? json_incref((json_t *)params_json) : json_object());
    json_object_set_new(root, "series", series_json(r));
    json_object_set_new(root, "fills", fills_json(r));
    snprintf(path, sizeof(path), "%s/report.json", dir);
    int rc = json_dump_file(root, path, JSON_INDENT(1) | JSON_REAL_PRECISION(12));
    json_decref(root);
    if (rc != 0) {
        snprintf(err, errlen, "%s: cannot write", path);
        return -1;
    }
    snprintf(path, sizeof(path), "%s/report.html", dir);
    if (write_html(r, s, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
