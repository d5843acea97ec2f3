/* Tests for server/metrics.c: naming, family grouping, HELP/TYPE once,
 * histogram +Inf == _count, escaping, duplicate series, clashes, malformed
 * input; a property test against a naive reference on random documents;
 * and `promtool check metrics` on a rendered sample when promtool exists. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "metrics.h"

/* ---- helpers ---- */

static char *render1(json_t *doc, size_t *skipped)
{
    char *out = NULL;
    size_t len = 0, sk = 0;
    int rc = clb_metrics_render(&doc, 1, &out, &len, &sk);
    cr_assert_eq(rc, CLB_OK, "render failed: %d", rc);
    cr_assert_eq(strlen(out), len);
    if (skipped)
        *skipped = sk;
    return out;
}

static json_t *parse(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    cr_assert_not_null(j, "bad test JSON: %s", e.text);
    return j;
}

static int count_occ(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* One sample line split up. */
struct sample {
    char name[256];
    char labels[1024]; /* without braces; le included */
    char value[64];
};

/* Splits "name{labels} value" / "name value". */
static void split_sample(const char *line, struct sample *s)
{
    const char *sp = strrchr(line, ' ');
    cr_assert_not_null(sp, "no value in '%s'", line);
    snprintf(s->value, sizeof(s->value), "%s", sp + 1);
    const char *br = strchr(line, '{');
    if (br && br < sp) {
        snprintf(s->name, sizeof(s->name), "%.*s", (int)(br - line), line);
        cr_assert_eq(sp[-1], '}', "labels not closed in '%s'", line);
        snprintf(s->labels, sizeof(s->labels), "%.*s", (int)(sp - 1 - br - 1), br + 1);
    } else {
        snprintf(s->name, sizeof(s->name), "%.*s", (int)(sp - line), line);
        s->labels[0] = '\0';
    }
}

static double value_of(const char *v)
{
    if (strcmp(v, "+Inf") == 0)
        return INFINITY;
    if (strcmp(v, "-Inf") == 0)
        return -INFINITY;
    if (strcmp(v, "NaN") == 0)
        return NAN;
    char *end;
    double d = strtod(v, &end);
    cr_assert_eq(*end, '\0', "bad value '%s'", v);
    return d;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

#define MAX_FAM 512
#define MAX_SER 8192

/* What check_exposition found: series (name + labels -> value). */
struct expo {
    struct sample ser[MAX_SER];
    size_t n;
    char fam[MAX_FAM][256];
    char type[MAX_FAM][32];
    size_t nfam;
};

/* Checks every structural rule of the text format and fills *e. */
static void check_exposition(const char *text, struct expo *e)
{
    memset(e, 0, sizeof(*e));
    size_t len = strlen(text);
    if (len)
        cr_assert_eq(text[len - 1], '\n', "text must end with a newline");
    char cur[256] = "", cur_type[32] = "";
    bool want_type = false;
    /* histogram bookkeeping for the current series */
    char hist_labels[1024] = "";
    double last_le = -INFINITY, last_cnt = -1, inf_cnt = -1;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        char line[2048];
        cr_assert_lt((size_t)(nl - p), sizeof(line));
        memcpy(line, p, (size_t)(nl - p));
        line[nl - p] = '\0';
        p = nl + 1;
        if (strncmp(line, "# HELP ", 7) == 0) {
            cr_assert(!want_type, "HELP without TYPE before '%s'", line);
            char name[256];
            cr_assert_eq(sscanf(line + 7, "%255s", name), 1);
            for (size_t i = 0; i < e->nfam; i++)
                cr_assert_str_neq(e->fam[i], name, "family %s appears twice", name);
            cr_assert_eq(strncmp(name, "colibri_", 8), 0, "no prefix: %s", name);
            snprintf(cur, sizeof(cur), "%s", name);
            want_type = true;
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            char name[256], type[32];
            cr_assert(want_type, "TYPE without HELP: '%s'", line);
            cr_assert_eq(sscanf(line + 7, "%255s %31s", name, type), 2);
            cr_assert_str_eq(name, cur);
            cr_assert(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                      strcmp(type, "histogram") == 0);
            if (strcmp(type, "counter") == 0)
                cr_assert(has_suffix(name, "_total"), "counter %s without _total", name);
            snprintf(cur_type, sizeof(cur_type), "%s", type);
            cr_assert_lt(e->nfam, MAX_FAM);
            snprintf(e->fam[e->nfam], sizeof(e->fam[0]), "%s", name);
            snprintf(e->type[e->nfam], sizeof(e->type[0]), "%s", type);
            e->nfam++;
            want_type = false;
            hist_labels[0] = '\0';
            last_cnt = -1;
            continue;
        }
        cr_assert_neq(line[0], '#', "unexpected comment '%s'", line);
        cr_assert(!want_type && cur[0], "sample before HELP/TYPE: '%s'", line);
        struct sample s;
        split_sample(line, &s);
        (void)value_of(s.value);
        if (strcmp(cur_type, "histogram") != 0) {
            cr_assert_str_eq(s.name, cur, "sample '%s' outside its family %s", line, cur);
        } else {
            char b[300], su[300], co[300];
            snprintf(b, sizeof(b), "%s_bucket", cur);
            snprintf(su, sizeof(su), "%s_sum", cur);
            snprintf(co, sizeof(co), "%s_count", cur);
            if (strcmp(s.name, b) == 0) {
                char *le = strstr(s.labels, "le=\"");
                cr_assert_not_null(le, "bucket without le: %s", line);
                cr_assert(le == s.labels || le[-1] == ',');
                char lev[64];
                cr_assert_eq(sscanf(le + 4, "%63[^\"]", lev), 1);
                cr_assert_eq(strchr(le + 4, '"')[1], '\0', "le must be the last label");
                char base[1024];
                snprintf(base, sizeof(base), "%.*s", (int)(le == s.labels ? 0 : le - s.labels - 1),
                         s.labels);
                double lv = value_of(lev), cv = value_of(s.value);
                if (last_cnt < 0 || strcmp(base, hist_labels) != 0) {
                    cr_assert(last_cnt < 0 || inf_cnt >= 0, "series before ended without +Inf");
                    snprintf(hist_labels, sizeof(hist_labels), "%s", base);
                    last_le = -INFINITY;
                    last_cnt = 0;
                    inf_cnt = -1;
                }
                cr_assert(inf_cnt < 0, "bucket after +Inf: %s", line);
                cr_assert_gt(lv, last_le, "buckets not ascending: %s", line);
                cr_assert_geq(cv, last_cnt, "bucket counts decrease: %s", line);
                last_le = lv;
                last_cnt = cv;
                if (isinf(lv))
                    inf_cnt = cv;
            } else if (strcmp(s.name, co) == 0) {
                cr_assert_str_eq(s.labels, hist_labels, "_count labels differ: %s", line);
                cr_assert(inf_cnt >= 0, "_count without +Inf bucket: %s", line);
                cr_assert_eq(value_of(s.value), inf_cnt, "+Inf != _count: %s", line);
            } else {
                cr_assert_str_eq(s.name, su, "sample '%s' outside family %s", line, cur);
                cr_assert_str_eq(s.labels, hist_labels, "_sum labels differ: %s", line);
            }
        }
        for (size_t i = 0; i < e->n; i++)
            cr_assert(strcmp(e->ser[i].name, s.name) != 0 ||
                          strcmp(e->ser[i].labels, s.labels) != 0,
                      "duplicate series %s{%s}", s.name, s.labels);
        cr_assert_lt(e->n, MAX_SER);
        e->ser[e->n++] = s;
    }
    cr_assert(!want_type, "HELP without TYPE at the end");
}

static const struct sample *find_series(const struct expo *e, const char *name,
                                        const char *labels)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->ser[i].name, name) == 0 && strcmp(e->ser[i].labels, labels) == 0)
            return &e->ser[i];
    return NULL;
}

static struct expo g_expo;

/* ---- hand-picked cases ---- */

Test(metrics, empty_input_renders_empty_text)
{
    json_t *doc = json_object();
    size_t sk = 1;
    char *t = render1(doc, &sk);
    cr_assert_str_eq(t, "");
    cr_assert_eq(sk, 0);
    free(t);
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(clb_metrics_render(NULL, 0, &out, &len, NULL), CLB_OK);
    cr_assert_str_eq(out, "");
    free(out);
    json_decref(doc);
}

Test(metrics, names_get_prefix_and_counter_suffix)
{
    json_t *doc = parse("{\"counters\":[{\"name\":\"orders_placed\",\"help\":\"Orders sent\","
                        "\"labels\":{},\"value\":3}],"
                        "\"gauges\":[{\"name\":\"colibri_mid-price\",\"help\":\"Mid\","
                        "\"labels\":{\"market\":\"BTC-USDT\"},\"value\":0.1}]}");
    char *t = render1(doc, NULL);
    check_exposition(t, &g_expo);
    cr_assert_str_eq(t, "# HELP colibri_mid_price Mid\n"
                        "# TYPE colibri_mid_price gauge\n"
                        "colibri_mid_price{market=\"BTC-USDT\"} 0.1\n"
                        "# HELP colibri_orders_placed_total Orders sent\n"
                        "# TYPE colibri_orders_placed_total counter\n"
                        "colibri_orders_placed_total 3\n");
    free(t);
    json_decref(doc);
}

Test(metrics, family_lines_stay_together_across_documents)
{
    json_t *a = parse("{\"counters\":["
                      "{\"name\":\"fills_total\",\"help\":\"Fills\",\"labels\":{\"s\":\"1\"},\"value\":1},"
                      "{\"name\":\"cancels\",\"help\":\"Cancels\",\"labels\":{\"s\":\"1\"},\"value\":2},"
                      "{\"name\":\"fills\",\"help\":\"Fills\",\"labels\":{\"s\":\"2\"},\"value\":3}],"
                      "\"gauges\":[{\"name\":\"up\",\"labels\":{},\"value\":1}]}");
    json_t *b = parse("{\"counters\":["
                      "{\"name\":\"cancels\",\"help\":\"other help\",\"labels\":{\"s\":\"2\"},\"value\":4},"
                      "{\"name\":\"fills\",\"labels\":{\"s\":\"3\"},\"value\":5}]}");
    json_t *docs[3] = { a, NULL, b };
    char *t = NULL;
    size_t len = 0, sk = 0;
    cr_assert_eq(clb_metrics_render(docs, 3, &t, &len, &sk), CLB_OK);
    check_exposition(t, &g_expo);
    cr_assert_eq(g_expo.nfam, 3);
    cr_assert_eq(count_occ(t, "# HELP colibri_fills_total Fills\n"), 1);
    cr_assert_eq(count_occ(t, "# HELP colibri_cancels_total Cancels\n"), 1, "first help wins");
    cr_assert_eq(count_occ(t, "# HELP colibri_up colibri_up\n"), 1, "name stands in for help");
    cr_assert_not_null(find_series(&g_expo, "colibri_fills_total", "s=\"3\""));
    cr_assert_str_eq(find_series(&g_expo, "colibri_cancels_total", "s=\"2\"")->value, "4");
    cr_assert_eq(sk, 0);
    free(t);
    json_decref(a);
    json_decref(b);
}

Test(metrics, histogram_buckets_sorted_cumulative_and_inf_equals_count)
{
    json_t *doc = parse("{\"histograms\":[{\"name\":\"tick_seconds\",\"help\":\"Tick time\","
                        "\"labels\":{\"le\":\"x\",\"loop\":\"main\"},"
                        "\"buckets\":[[0.5,7],[0.001,1],[\"+Inf\",9],[0.01,6],[0.1,5]],"
                        "\"sum\":1.25,\"count\":9},"
                        "{\"name\":\"tick_seconds\",\"labels\":{\"loop\":\"aux\"},"
                        "\"buckets\":[[1,4]],\"sum\":2,\"count\":3},"
                        "{\"name\":\"tick_seconds\",\"labels\":{\"loop\":\"none\"},"
                        "\"buckets\":[[1,2]],\"sum\":2}]}");
    char *t = render1(doc, NULL);
    check_exposition(t, &g_expo);
    const char *want_main =
        "colibri_tick_seconds_bucket{loop=\"main\",le=\"0.001\"} 1\n"
        "colibri_tick_seconds_bucket{loop=\"main\",le=\"0.01\"} 6\n"
        "colibri_tick_seconds_bucket{loop=\"main\",le=\"0.1\"} 6\n"
        "colibri_tick_seconds_bucket{loop=\"main\",le=\"0.5\"} 7\n"
        "colibri_tick_seconds_bucket{loop=\"main\",le=\"+Inf\"} 9\n"
        "colibri_tick_seconds_sum{loop=\"main\"} 1.25\n"
        "colibri_tick_seconds_count{loop=\"main\"} 9\n";
    cr_assert_not_null(strstr(t, want_main), "got:\n%s", t);
    /* a count below the last bucket is raised to it */
    cr_assert_not_null(strstr(t, "colibri_tick_seconds_bucket{loop=\"aux\",le=\"+Inf\"} 4\n"));
    cr_assert_not_null(strstr(t, "colibri_tick_seconds_count{loop=\"aux\"} 4\n"));
    /* no count: the last bucket's */
    cr_assert_not_null(strstr(t, "colibri_tick_seconds_count{loop=\"none\"} 2\n"));
    cr_assert_eq(count_occ(t, "# TYPE colibri_tick_seconds histogram\n"), 1);
    free(t);
    json_decref(doc);
}

Test(metrics, label_values_and_help_are_escaped)
{
    json_t *doc = json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:i}, s:f}]}", "gauges", "name", "g",
                            "help", "line1\nback\\slash \"q\"", "labels", "path",
                            "C:\\dir\n\"x\"", "bad-key", "v", "n", 5, "value", -2.5);
    char *t = render1(doc, NULL);
    check_exposition(t, &g_expo);
    cr_assert_not_null(strstr(t, "# HELP colibri_g line1\\nback\\\\slash \"q\"\n"), "%s", t);
    cr_assert_not_null(
        strstr(t, "colibri_g{bad_key=\"v\",n=\"5\",path=\"C:\\\\dir\\n\\\"x\\\"\"} -2.5\n"), "%s",
        t);
    free(t);
    json_decref(doc);
}

Test(metrics, duplicate_series_keep_the_first)
{
    json_t *doc = parse("{\"gauges\":["
                        "{\"name\":\"g\",\"labels\":{\"a\":\"1\",\"b\":\"2\"},\"value\":1},"
                        "{\"name\":\"g\",\"labels\":{\"b\":\"2\",\"a\":\"1\"},\"value\":2},"
                        "{\"name\":\"colibri_g\",\"labels\":{\"a\":\"1\",\"b\":\"2\"},\"value\":3},"
                        "{\"name\":\"g\",\"labels\":{\"a\":\"1\"},\"value\":4}]}");
    size_t sk = 0;
    char *t = render1(doc, &sk);
    check_exposition(t, &g_expo);
    cr_assert_eq(g_expo.n, 2);
    cr_assert_str_eq(find_series(&g_expo, "colibri_g", "a=\"1\",b=\"2\"")->value, "1");
    cr_assert_eq(sk, 2);
    free(t);
    json_decref(doc);
}

Test(metrics, clashing_families_keep_the_first_seen)
{
    /* counter x -> colibri_x_total; gauge x_total clashes (same name, other type);
     * histogram lat exposes colibri_lat_count, which gauge lat_count clashes with. */
    json_t *doc = parse("{\"counters\":[{\"name\":\"x\",\"labels\":{},\"value\":1}],"
                        "\"gauges\":[{\"name\":\"x_total\",\"labels\":{},\"value\":9},"
                        "{\"name\":\"lat_count\",\"labels\":{},\"value\":9}],"
                        "\"histograms\":[{\"name\":\"lat\",\"labels\":{},\"buckets\":[[1,1]],"
                        "\"sum\":1,\"count\":1}]}");
    size_t sk = 0;
    char *t = render1(doc, &sk);
    check_exposition(t, &g_expo);
    cr_assert_eq(count_occ(t, "# TYPE colibri_x_total counter"), 1);
    cr_assert_eq(count_occ(t, "gauge"), 1, "lat_count (first seen) stays:\n%s", t);
    cr_assert_eq(count_occ(t, "histogram"), 0, "histogram lat clashes with the gauge:\n%s", t);
    cr_assert_eq(sk, 2);
    free(t);
    json_decref(doc);
}

Test(metrics, malformed_entries_are_skipped)
{
    json_t *doc = parse("{\"counters\":[{\"labels\":{},\"value\":1},"
                        "{\"name\":\"\",\"value\":1},"
                        "{\"name\":\"a\",\"value\":\"abc\"},"
                        "{\"name\":\"b\",\"labels\":{\"k\":{}},\"value\":1},"
                        "{\"name\":\"c\",\"labels\":[1],\"value\":1},"
                        "17,"
                        "{\"name\":\"ok\",\"value\":\"12.5\"}],"
                        "\"histograms\":[{\"name\":\"h\",\"buckets\":[[\"x\",1]]},"
                        "{\"name\":\"h2\",\"buckets\":[[1,-1]]},"
                        "{\"name\":\"h3\",\"buckets\":{}}],"
                        "\"gauges\":{}}");
    size_t sk = 0;
    char *t = render1(doc, &sk);
    check_exposition(t, &g_expo);
    cr_assert_eq(sk, 9);
    cr_assert_str_eq(t, "# HELP colibri_ok_total colibri_ok_total\n"
                        "# TYPE colibri_ok_total counter\n"
                        "colibri_ok_total 12.5\n");
    free(t);
    json_decref(doc);
}

Test(metrics, non_object_document_is_rejected)
{
    json_t *doc = json_array();
    char *out = (char *)1;
    size_t len = 9;
    cr_assert_eq(clb_metrics_render(&doc, 1, &out, &len, NULL), CLB_EINVAL);
    cr_assert_null(out);
    json_decref(doc);
}

Test(metrics, values_use_shortest_exact_text)
{
    json_t *doc = json_pack("{s:[{s:s,s:{s:s},s:f},{s:s,s:{s:s},s:f},{s:s,s:{s:s},s:I},"
                            "{s:s,s:{s:s},s:f},{s:s,s:{s:s},s:f}]}",
                            "gauges", "name", "v", "labels", "k", "a", "value", 0.1, "name", "v",
                            "labels", "k", "b", "value", 1e21, "name", "v", "labels", "k", "c",
                            "value", (json_int_t)9007199254740993LL, "name", "v", "labels", "k",
                            "d", "value", 1.0 / 3, "name", "v", "labels", "k", "e", "value",
                            100000.0);
    char *t = render1(doc, NULL);
    check_exposition(t, &g_expo);
    cr_assert_str_eq(find_series(&g_expo, "colibri_v", "k=\"a\"")->value, "0.1");
    cr_assert_str_eq(find_series(&g_expo, "colibri_v", "k=\"b\"")->value, "1e+21");
    cr_assert_str_eq(find_series(&g_expo, "colibri_v", "k=\"c\"")->value, "9007199254740992");
    cr_assert_str_eq(find_series(&g_expo, "colibri_v", "k=\"e\"")->value, "100000");
    cr_assert_eq(strtod(find_series(&g_expo, "colibri_v", "k=\"d\"")->value, NULL), 1.0 / 3);
    free(t);
    json_decref(doc);
}

/* ---- property test against a naive reference ---- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static const char *const pool_names[] = { "m1", "m1_total", "m2", "m2_count", "m3_sum",
                                          "colibri_m4", "m4", "m5_bucket" };
static const char *const pool_keys[] = { "a", "b", "c" };
static const char *const pool_vals[] = { "x", "y\\z", "q\"", "n\nl", "" };

struct ref_series {
    char name[256];   /* family name */
    char labels[512]; /* canonical */
    int type;
    double value;     /* counter/gauge value, histogram count */
};

struct ref_fam {
    char name[256];
    int type;
    bool dropped;
};

static void ref_family_name(const char *raw, int type, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s", strncmp(raw, "colibri_", 8) == 0 ? "" : "colibri_", raw);
    if (type == 0 && !has_suffix(out, "_total"))
        strncat(out, "_total", cap - strlen(out) - 1);
}

static void ref_escape(const char *v, char *out, size_t cap)
{
    size_t k = 0;
    for (; *v && k + 3 < cap; v++) {
        if (*v == '\\' || *v == '"') {
            out[k++] = '\\';
            out[k++] = *v;
        } else if (*v == '\n') {
            out[k++] = '\\';
            out[k++] = 'n';
        } else {
            out[k++] = *v;
        }
    }
    out[k] = '\0';
}

/* Names a family exposes. */
static size_t exposed(const char *name, int type, char out[4][300])
{
    snprintf(out[0], 300, "%.250s", name);
    if (type != 2)
        return 1;
    snprintf(out[1], 300, "%.250s_bucket", name);
    snprintf(out[2], 300, "%.250s_sum", name);
    snprintf(out[3], 300, "%.250s_count", name);
    return 4;
}

Test(metrics, random_documents_match_naive_reference)
{
    static struct ref_series ref[4096];
    static struct ref_fam fams[64];
    uint64_t seed = 20240601;
    for (int round = 0; round < 300; round++) {
        size_t nref = 0, nfam = 0;
        int ndocs = 1 + (int)(splitmix64(&seed) % 3);
        json_t *docs[3] = { 0 };
        for (int d = 0; d < ndocs; d++)
            docs[d] = json_pack("{s:[], s:[], s:[]}", "counters", "gauges", "histograms");
        /* entries are generated in document order: counters, gauges, histograms per doc,
         * which is also the order the renderer sees them in */
        int n_entries[3][3];
        for (int d = 0; d < ndocs; d++)
            for (int t = 0; t < 3; t++)
                n_entries[d][t] = (int)(splitmix64(&seed) % 12);
        for (int d = 0; d < ndocs; d++) {
            for (int t = 0; t < 3; t++) {
                static const char *const arr_names[] = { "counters", "gauges", "histograms" };
                json_t *arr = json_object_get(docs[d], arr_names[t]);
                for (int i = 0; i < n_entries[d][t]; i++) {
                    const char *raw = pool_names[splitmix64(&seed) % 8];
                    json_t *labels = json_object();
                    /* canonical labels: keys in sorted order (pool is sorted) */
                    char canon[512] = "";
                    for (int k = 0; k < 3; k++) {
                        if (splitmix64(&seed) % 2)
                            continue;
                        const char *v = pool_vals[splitmix64(&seed) % 5];
                        json_object_set_new(labels, pool_keys[k], json_string(v));
                        char esc[64];
                        ref_escape(v, esc, sizeof(esc));
                        size_t cl = strlen(canon);
                        snprintf(canon + cl, sizeof(canon) - cl, "%s%s=\"%s\"", cl ? "," : "",
                                 pool_keys[k], esc);
                    }
                    double value = (double)(splitmix64(&seed) % 1000) / 4;
                    json_t *e;
                    if (t < 2) {
                        e = json_pack("{s:s, s:s, s:o, s:f}", "name", raw, "help", "h",
                                      "labels", labels, "value", value);
                    } else {
                        json_t *b = json_array();
                        double cum = 0;
                        int nb = (int)(splitmix64(&seed) % 4);
                        for (int k = 0; k < nb; k++) {
                            cum += (double)(splitmix64(&seed) % 5);
                            json_array_append_new(b, json_pack("[f, f]", 0.5 * (k + 1), cum));
                        }
                        value = cum + (double)(splitmix64(&seed) % 3);
                        e = json_pack("{s:s, s:s, s:o, s:o, s:f, s:f}", "name", raw, "help", "h",
                                      "labels", labels, "buckets", b, "sum", 1.5, "count", value);
                    }
                    json_array_append_new(arr, e);
                    /* reference */
                    char fname[256];
                    ref_family_name(raw, t, fname, sizeof(fname));
                    size_t f = 0;
                    while (f < nfam && strcmp(fams[f].name, fname) != 0)
                        f++;
                    if (f == nfam) {
                        snprintf(fams[f].name, sizeof(fams[f].name), "%s", fname);
                        fams[f].type = t;
                        fams[f].dropped = false;
                        char mine[4][300], theirs[4][300];
                        size_t nm = exposed(fname, t, mine);
                        for (size_t g = 0; g < nfam && !fams[f].dropped; g++) {
                            if (fams[g].dropped)
                                continue;
                            size_t nt = exposed(fams[g].name, fams[g].type, theirs);
                            for (size_t x = 0; x < nm; x++)
                                for (size_t y = 0; y < nt; y++)
                                    if (strcmp(mine[x], theirs[y]) == 0)
                                        fams[f].dropped = true;
                        }
                        nfam++;
                    }
                    if (fams[f].dropped || fams[f].type != t)
                        continue;
                    bool dup = false;
                    for (size_t r = 0; r < nref && !dup; r++)
                        dup = strcmp(ref[r].name, fname) == 0 && strcmp(ref[r].labels, canon) == 0;
                    if (dup)
                        continue;
                    snprintf(ref[nref].name, sizeof(ref[nref].name), "%s", fname);
                    snprintf(ref[nref].labels, sizeof(ref[nref].labels), "%s", canon);
                    ref[nref].type = t;
                    ref[nref].value = value;
                    nref++;
                }
            }
        }
        char *text = NULL;
        size_t len = 0;
        cr_assert_eq(clb_metrics_render(docs, (size_t)ndocs, &text, &len, NULL), CLB_OK);
        check_exposition(text, &g_expo);
        /* every reference series is there with its value, and nothing else */
        size_t expected_lines = 0;
        for (size_t r = 0; r < nref; r++) {
            char sname[300];
            snprintf(sname, sizeof(sname), "%s%s", ref[r].name, ref[r].type == 2 ? "_count" : "");
            const struct sample *s = find_series(&g_expo, sname, ref[r].labels);
            cr_assert_not_null(s, "round %d: missing %s{%s}\n%s", round, sname, ref[r].labels,
                               text);
            cr_assert_eq(value_of(s->value), ref[r].value, "round %d: %s{%s}", round, sname,
                         ref[r].labels);
            if (ref[r].type == 2) {
                size_t nb = 0;
                char bname[300];
                snprintf(bname, sizeof(bname), "%s_bucket", ref[r].name);
                for (size_t i = 0; i < g_expo.n; i++)
                    if (strcmp(g_expo.ser[i].name, bname) == 0 &&
                        strncmp(g_expo.ser[i].labels, ref[r].labels, strlen(ref[r].labels)) ==
                            0 &&
                        strncmp(g_expo.ser[i].labels + strlen(ref[r].labels),
                                *ref[r].labels ? ",le=" : "le=", *ref[r].labels ? 4 : 3) == 0)
                        nb++;
                expected_lines += nb + 2;
            } else {
                expected_lines++;
            }
        }
        cr_assert_eq(g_expo.n, expected_lines, "round %d: extra series\n%s", round, text);
        free(text);
        for (int d = 0; d < ndocs; d++)
            json_decref(docs[d]);
    }
}

/* ---- promtool ---- */

Test(metrics, promtool_accepts_the_output)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        cr_log_warn("promtool not installed (Debian package prometheus): lint skipped");
        return;
    }
    json_t *doc = parse(
        "{\"counters\":[{\"name\":\"orders_placed_total\",\"help\":\"Orders placed\","
        "\"labels\":{\"strategy\":\"pmm \\\"1\\\"\",\"connector\":\"paper\"},\"value\":12}],"
        "\"gauges\":[{\"name\":\"balance\",\"help\":\"Balance by asset\","
        "\"labels\":{\"asset\":\"BTC\"},\"value\":1.5},"
        "{\"name\":\"balance\",\"help\":\"Balance by asset\",\"labels\":{\"asset\":\"USDT\"},"
        "\"value\":100000}],"
        "\"histograms\":[{\"name\":\"tick_duration_seconds\",\"help\":\"Tick time\","
        "\"labels\":{},\"buckets\":[[0.001,3],[0.01,5]],\"sum\":0.02,\"count\":6}]}");
    char *t = render1(doc, NULL);
    char path[] = "/tmp/clb_metrics_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, t, strlen(t)), (ssize_t)strlen(t));
    close(fd);
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s.out 2>&1", path, path);
    int st = system(cmd);
    char out[4096] = "";
    snprintf(cmd, sizeof(cmd), "%s.out", path);
    FILE *f = fopen(cmd, "r");
    if (f) {
        size_t n = fread(out, 1, sizeof(out) - 1, f);
        out[n] = '\0';
        fclose(f);
    }
    unlink(cmd);
    unlink(path);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool complained:\n%s\n---\n%s", out, t);
    free(t);
    json_decref(doc);
}
