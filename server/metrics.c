/*
 * metrics.c — Prometheus text format 0.0.4 from metric documents (see
 * metrics.h for the guarantees).
 *
 * Three passes over a flat list of series:
 *  1. collect: every entry of every document becomes one `struct series`
 *     with its normalised family name, its canonical label string (pairs
 *     sorted by name, values already escaped) and an input sequence number;
 *  2. sort by (family name, sequence) and decide per family: its type is the
 *     first entry's, entries of another type are dropped, and a family whose
 *     exposed names (histogram: name, _bucket, _sum, _count) clash with an
 *     earlier family's is dropped whole;
 *  3. sort each family's series by (labels, sequence), drop repeats of a
 *     label set, and print.
 * Memory is bounded by CLB_METRICS_MAX_SERIES and CLB_METRICS_MAX_BYTES.
 */
#include "metrics.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

#define MAX_BUCKETS 1024
#define MAX_LABELS 64

enum mtype { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };

static const char *const type_names[] = { "counter", "gauge", "histogram" };

struct series {
    char *family;     /* normalised name */
    const char *help; /* borrowed from the document (may be NULL) */
    char *labels;     /* canonical 'a="x",b="y"' or "" */
    enum mtype type;
    size_t seq;
    double value;     /* counter, gauge */
    double *le;       /* histogram: finite upper bounds, ascending */
    double *cum;      /* cumulative counts, non-decreasing */
    size_t n_buckets;
    double sum, count;
    bool dropped;
};

struct buf {
    char *p;
    size_t len, cap;
    int err;
};

/* ---- output buffer ---- */

static void buf_reserve(struct buf *b, size_t more)
{
    if (b->err)
        return;
    if (b->len + more + 1 > CLB_METRICS_MAX_BYTES) {
        b->err = CLB_EFULL;
        return;
    }
    if (b->len + more + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + more + 1)
        cap *= 2;
    if (cap > CLB_METRICS_MAX_BYTES)
        cap = CLB_METRICS_MAX_BYTES;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->err = CLB_ENOMEM;
        return;
    }
    b->p = p;
    b->cap = cap;
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
    buf_reserve(b, n);
    if (b->err)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void buf_str(struct buf *b, const char *s)
{
    buf_add(b, s, strlen(s));
}

/* ---- formatting ---- */

/* Shortest decimal text that reads back as v (integers below 1e15 without
 * an exponent); NaN, +Inf, -Inf spelled as Prometheus spells them. */
static void fmt_double(double v, char *out, size_t cap)
{
    if (isnan(v)) {
        snprintf(out, cap, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, cap, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) { /* integers as integers: 10, not 1e+01 */
        snprintf(out, cap, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(out, cap, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Escapes a label value (\\, \", \n) or, with is_help, help text (\\, \n). */
static void buf_escaped(struct buf *b, const char *s, bool is_help)
{
    for (; *s; s++) {
        if (*s == '\\')
            buf_add(b, "\\\\", 2);
        else if (*s == '\n')
            buf_add(b, "\\n", 2);
        else if (*s == '"' && !is_help)
            buf_add(b, "\\\"", 2);
        else
            buf_add(b, s, 1);
    }
}

/* ---- normalisation ---- */

static bool name_char(char c, bool first)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (!first && c >= '0' && c <= '9');
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* "colibri_" + sanitised name (+ "_total" for counters). NULL for an empty
 * or absent name. */
static char *family_name(const char *raw, enum mtype type)
{
    if (!raw || !*raw)
        return NULL;
    size_t plen = strlen(CLB_METRICS_PREFIX);
    bool has_prefix = strncmp(raw, CLB_METRICS_PREFIX, plen) == 0;
    size_t n = strlen(raw);
    char *out = malloc(plen + n + sizeof("_total"));
    if (!out)
        return NULL;
    size_t k = 0;
    if (!has_prefix) {
        memcpy(out, CLB_METRICS_PREFIX, plen);
        k = plen;
    }
    for (size_t i = 0; i < n; i++)
        out[k++] = name_char(raw[i], false) ? raw[i] : '_';
    out[k] = '\0';
    if (type == MT_COUNTER && !ends_with(out, "_total"))
        strcat(out, "_total");
    return out;
}

struct label {
    char name[128];
    const char *value; /* a string value (escaped later), or NULL: see num */
    char num[40];      /* text of a numeric/bool/null value */
    size_t order;
};

static int label_cmp(const void *pa, const void *pb)
{
    const struct label *a = pa, *b = pb;
    int c = strcmp(a->name, b->name);
    if (c)
        return c;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* Canonical label string of a labels object; NULL (and *bad) when a value
 * is not a scalar, NULL with *bad false only for out-of-memory. */
static char *canonical_labels(json_t *labels, enum mtype type, bool *bad)
{
    struct label ls[MAX_LABELS];
    size_t n = 0;
    *bad = false;
    if (labels && !json_is_null(labels)) {
        if (!json_is_object(labels)) {
            *bad = true;
            return NULL;
        }
        const char *key;
        json_t *v;
        json_object_foreach(labels, key, v) {
            if (n >= MAX_LABELS) {
                *bad = true;
                return NULL;
            }
            struct label *l = &ls[n];
            size_t k = 0;
            for (const char *p = key; *p && k < sizeof(l->name) - 1; p++, k++)
                l->name[k] = name_char(*p, k == 0) ? *p : '_';
            l->name[k] = '\0';
            if (k == 0 || strncmp(l->name, "__", 2) == 0 ||
                (type == MT_HISTOGRAM && strcmp(l->name, "le") == 0))
                continue;
            l->order = n;
            l->value = NULL;
            l->num[0] = '\0';
            if (json_is_string(v))
                l->value = json_string_value(v);
            else if (json_is_integer(v))
                snprintf(l->num, sizeof(l->num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
            else if (json_is_real(v))
                fmt_double(json_real_value(v), l->num, sizeof(l->num));
            else if (json_is_boolean(v))
                snprintf(l->num, sizeof(l->num), "%s", json_is_true(v) ? "true" : "false");
            else if (!json_is_null(v)) {
                *bad = true;
                return NULL;
            }
            n++;
        }
    }
    if (n == 0)
        return strdup("");
    qsort(ls, n, sizeof(ls[0]), label_cmp);
    struct buf b = { 0 };
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(ls[i].name, ls[i - 1].name) == 0)
            continue; /* two keys sanitised to the same name: the first wins */
        if (b.len)
            buf_add(&b, ",", 1);
        buf_str(&b, ls[i].name);
        buf_add(&b, "=\"", 2);
        buf_escaped(&b, ls[i].value ? ls[i].value : ls[i].num, false);
        buf_add(&b, "\"", 1);
    }
    if (b.err) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

/* A number from a JSON number or a numeric string. */
static bool json_number_of(json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return true;
    }
    const char *s = json_string_value(v);
    if (!s || !*s)
        return false;
    if (strcmp(s, "+Inf") == 0 || strcmp(s, "Inf") == 0 || strcmp(s, "inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(s, "-Inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    if (strcmp(s, "NaN") == 0) {
        *out = NAN;
        return true;
    }
    char *end;
    double d = strtod(s, &end);
    if (*end != '\0' || isnan(d) || isinf(d))
        return false;
    *out = d;
    return true;
}

struct bucket {
    double le, count;
};

static int bucket_cmp(const void *pa, const void *pb)
{
    const struct bucket *a = pa, *b = pb;
    return a->le < b->le ? -1 : a->le > b->le;
}

/* Fills the histogram fields of s from an entry. false when malformed. */
static bool parse_histogram(json_t *e, struct series *s)
{
    json_t *arr = json_object_get(e, "buckets");
    if (!json_is_array(arr) || json_array_size(arr) > MAX_BUCKETS)
        return false;
    struct bucket *bs = malloc((json_array_size(arr) + 1) * sizeof(*bs));
    if (!bs)
        return false;
    size_t n = 0, i;
    json_t *pair;
    double inf_count = -1;
    json_array_foreach(arr, i, pair) {
        double le, c;
        if (!json_is_array(pair) || json_array_size(pair) != 2 ||
            !json_number_of(json_array_get(pair, 0), &le) ||
            !json_number_of(json_array_get(pair, 1), &c) || isnan(le) || isnan(c) || c < 0) {
            free(bs);
            return false;
        }
        if (isinf(le)) {
            if (le > 0)
                inf_count = c;
            continue;
        }
        bs[n].le = le;
        bs[n].count = c;
        n++;
    }
    qsort(bs, n, sizeof(*bs), bucket_cmp);
    s->le = malloc((n ? n : 1) * sizeof(double));
    s->cum = malloc((n ? n : 1) * sizeof(double));
    if (!s->le || !s->cum) {
        free(bs);
        return false;
    }
    size_t k = 0;
    double run = 0;
    for (size_t j = 0; j < n; j++) {
        double c = bs[j].count > run ? bs[j].count : run;
        if (k > 0 && s->le[k - 1] == bs[j].le) {
            s->cum[k - 1] = c; /* repeated bound: the larger count */
        } else {
            s->le[k] = bs[j].le;
            s->cum[k] = c;
            k++;
        }
        run = c;
    }
    free(bs);
    s->n_buckets = k;
    double count;
    json_t *jc = json_object_get(e, "count");
    if (jc) {
        if (!json_number_of(jc, &count) || isnan(count) || count < 0)
            return false;
    } else {
        count = inf_count >= 0 ? inf_count : run;
    }
    s->count = count > run ? count : run;
    json_t *js = json_object_get(e, "sum");
    s->sum = 0;
    if (js && !json_number_of(js, &s->sum))
        return false;
    return true;
}

static void series_free(struct series *s)
{
    free(s->family);
    free(s->labels);
    free(s->le);
    free(s->cum);
}

/* ---- passes ---- */

struct ctx {
    struct series *v;
    size_t n, cap;
    size_t seq;
    size_t skipped;
    int err;
};

static void collect(struct ctx *c, json_t *arr, enum mtype type)
{
    if (!json_is_array(arr))
        return;
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        if (c->err)
            return;
        struct series s = { .type = type, .seq = c->seq++ };
        bool bad = false;
        if (!json_is_object(e)) {
            c->skipped++;
            continue;
        }
        s.family = family_name(json_string_value(json_object_get(e, "name")), type);
        if (!s.family) {
            c->skipped++;
            continue;
        }
        s.help = json_string_value(json_object_get(e, "help"));
        s.labels = canonical_labels(json_object_get(e, "labels"), type, &bad);
        bool ok = s.labels != NULL;
        if (ok && type == MT_HISTOGRAM)
            ok = parse_histogram(e, &s);
        else if (ok)
            ok = json_number_of(json_object_get(e, "value"), &s.value);
        if (!ok) {
            series_free(&s);
            c->skipped++;
            continue;
        }
        if (c->n >= CLB_METRICS_MAX_SERIES) {
            series_free(&s);
            c->err = CLB_EFULL;
            return;
        }
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 256;
            struct series *v = realloc(c->v, cap * sizeof(*v));
            if (!v) {
                series_free(&s);
                c->err = CLB_ENOMEM;
                return;
            }
            c->v = v;
            c->cap = cap;
        }
        c->v[c->n++] = s;
    }
}

static int by_family_seq(const void *pa, const void *pb)
{
    const struct series *a = pa, *b = pb;
    int r = strcmp(a->family, b->family);
    if (r)
        return r;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int by_labels_seq(const void *pa, const void *pb)
{
    const struct series *a = pa, *b = pb;
    int r = strcmp(a->labels, b->labels);
    if (r)
        return r;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

struct fam {
    size_t start, end; /* range in the sorted series array */
    size_t first_seq;
    enum mtype type;
    bool dropped;
};

static int fam_by_seq(const void *pa, const void *pb)
{
    const struct fam *a = pa, *b = pb;
    return a->first_seq < b->first_seq ? -1 : a->first_seq > b->first_seq;
}

static int fam_by_start(const void *pa, const void *pb)
{
    const struct fam *a = pa, *b = pb;
    return a->start < b->start ? -1 : a->start > b->start;
}

/* The i-th character of a + s (a has length al). */
static char cat_at(const char *a, size_t al, const char *s, size_t i)
{
    return i < al ? a[i] : s[i - al];
}

/* Does a name exposed by family x equal one exposed by family y? */
static bool names_clash(const struct series *v, const struct fam *x, const struct fam *y)
{
    static const char *const hsuffix[] = { "", "_bucket", "_sum", "_count" };
    const char *xn = v[x->start].family, *yn = v[y->start].family;
    size_t nx = x->type == MT_HISTOGRAM ? 4 : 1, ny = y->type == MT_HISTOGRAM ? 4 : 1;
    size_t xl = strlen(xn), yl = strlen(yn);
    for (size_t i = 0; i < nx; i++) {
        for (size_t j = 0; j < ny; j++) {
            size_t a = xl + strlen(hsuffix[i]), b = yl + strlen(hsuffix[j]);
            if (a != b)
                continue;
            size_t k = 0;
            while (k < a && cat_at(xn, xl, hsuffix[i], k) == cat_at(yn, yl, hsuffix[j], k))
                k++;
            if (k == a)
                return true;
        }
    }
    return false;
}

static void print_family(struct buf *b, struct series *v, const struct fam *f)
{
    const char *name = v[f->start].family;
    const char *help = NULL;
    for (size_t i = f->start; i < f->end && !help; i++)
        if (!v[i].dropped && v[i].help && *v[i].help)
            help = v[i].help;
    buf_str(b, "# HELP ");
    buf_str(b, name);
    buf_add(b, " ", 1);
    buf_escaped(b, help ? help : name, true);
    buf_str(b, "\n# TYPE ");
    buf_str(b, name);
    buf_add(b, " ", 1);
    buf_str(b, type_names[f->type]);
    buf_add(b, "\n", 1);
    char num[64];
    for (size_t i = f->start; i < f->end; i++) {
        struct series *s = &v[i];
        if (s->dropped)
            continue;
        if (f->type != MT_HISTOGRAM) {
            buf_str(b, name);
            if (*s->labels) {
                buf_add(b, "{", 1);
                buf_str(b, s->labels);
                buf_add(b, "}", 1);
            }
            fmt_double(s->value, num, sizeof(num));
            buf_add(b, " ", 1);
            buf_str(b, num);
            buf_add(b, "\n", 1);
            continue;
        }
        for (size_t k = 0; k <= s->n_buckets; k++) {
            buf_str(b, name);
            buf_str(b, "_bucket{");
            if (*s->labels) {
                buf_str(b, s->labels);
                buf_add(b, ",", 1);
            }
            buf_str(b, "le=\"");
            if (k < s->n_buckets)
                fmt_double(s->le[k], num, sizeof(num));
            else
                snprintf(num, sizeof(num), "+Inf");
            buf_str(b, num);
            buf_str(b, "\"} ");
            fmt_double(k < s->n_buckets ? s->cum[k] : s->count, num, sizeof(num));
            buf_str(b, num);
            buf_add(b, "\n", 1);
        }
        const char *tail[2] = { "_sum", "_count" };
        double val[2] = { s->sum, s->count };
        for (int t = 0; t < 2; t++) {
            buf_str(b, name);
            buf_str(b, tail[t]);
            if (*s->labels) {
                buf_add(b, "{", 1);
                buf_str(b, s->labels);
                buf_add(b, "}", 1);
            }
            fmt_double(val[t], num, sizeof(num));
            buf_add(b, " ", 1);
            buf_str(b, num);
            buf_add(b, "\n", 1);
        }
    }
}

int clb_metrics_render(json_t *const *docs, size_t n_docs, char **out, size_t *len,
                       size_t *skipped)
{
    *out = NULL;
    *len = 0;
    struct ctx c = { 0 };
    struct fam *fams = NULL;
    struct buf b = { 0 };
    int rc = CLB_OK;
    for (size_t d = 0; d < n_docs; d++) {
        if (docs[d] && !json_is_object(docs[d])) {
            rc = CLB_EINVAL;
            goto done;
        }
    }
    for (size_t d = 0; d < n_docs && !c.err; d++) {
        if (!docs[d])
            continue;
        collect(&c, json_object_get(docs[d], "counters"), MT_COUNTER);
        collect(&c, json_object_get(docs[d], "gauges"), MT_GAUGE);
        collect(&c, json_object_get(docs[d], "histograms"), MT_HISTOGRAM);
    }
    if (c.err) {
        rc = c.err;
        goto done;
    }
    if (c.n)
        qsort(c.v, c.n, sizeof(*c.v), by_family_seq);

    /* families: runs of one name; the first entry's type rules */
    size_t n_fams = 0;
    fams = malloc((c.n ? c.n : 1) * sizeof(*fams));
    if (!fams) {
        rc = CLB_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < c.n;) {
        size_t j = i;
        while (j < c.n && strcmp(c.v[j].family, c.v[i].family) == 0)
            j++;
        struct fam *f = &fams[n_fams++];
        *f = (struct fam){ .start = i, .end = j, .first_seq = c.v[i].seq, .type = c.v[i].type };
        for (size_t k = i; k < j; k++) {
            if (c.v[k].type != f->type) {
                c.v[k].dropped = true;
                c.skipped++;
            }
        }
        i = j;
    }
    /* clashes between families: the one seen first stays */
    qsort(fams, n_fams, sizeof(*fams), fam_by_seq);
    for (size_t i = 0; i < n_fams; i++) {
        for (size_t j = 0; j < i && !fams[i].dropped; j++) {
            if (!fams[j].dropped && names_clash(c.v, &fams[j], &fams[i])) {
                fams[i].dropped = true;
                c.skipped += fams[i].end - fams[i].start;
            }
        }
    }
    qsort(fams, n_fams, sizeof(*fams), fam_by_start);
    /* within a family: sorted label sets, the first of each set wins */
    for (size_t i = 0; i < n_fams; i++) {
        struct fam *f = &fams[i];
        if (f->dropped)
            continue;
        qsort(c.v + f->start, f->end - f->start, sizeof(*c.v), by_labels_seq);
        const char *prev = NULL;
        bool any = false;
        for (size_t k = f->start; k < f->end; k++) {
            if (c.v[k].dropped)
                continue;
            if (prev && strcmp(prev, c.v[k].labels) == 0) {
                c.v[k].dropped = true;
                c.skipped++;
                continue;
            }
            prev = c.v[k].labels;
            any = true;
        }
        if (any)
            print_family(&b, c.v, f);
    }
    buf_str(&b, "");
    if (b.err) {
        rc = b.err;
        goto done;
    }
    *out = b.p;
    *len = b.len;
    b.p = NULL;
    if (skipped)
        *skipped = c.skipped;
done:
    for (size_t i = 0; i < c.n; i++)
        series_free(&c.v[i]);
    free(c.v);
    free(fams);
    free(b.p);
    return rc;
}
