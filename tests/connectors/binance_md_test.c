/*
 * binance_md_test.c — tests of connectors/binance/binance_md.c, the
 * zero-copy market-data parser.
 *
 * The reference is a second, naive parser built on jansson's tree
 * (ref_parse below) implementing the contract of binance_md.h. Random
 * messages (random key order, escapes, unknown members of every JSON type,
 * whitespace, envelopes, occasional semantic errors) must give the same
 * result code and the same output; mutated messages (truncated, flipped
 * bytes, garbage inserted) must never crash and must still agree.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binance_md.h"
#include "error.h"

#define MAX_LV 24

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint32_t rnd(uint64_t *s, uint32_t n)
{
    return (uint32_t)(splitmix64(s) % n);
}

struct mkt {
    const char *sym;
    int ps, qs;
};

static const struct mkt MARKETS[] = {
    { "BNBBTC", 8, 8 }, { "BTCUSDT", 2, 5 }, { "ETHUSDT", 2, 4 }
};
#define N_MARKETS 3

static void setup_parser(struct clb_binance_md *p)
{
    struct clb_binance_md_config cfg = { .max_levels = MAX_LV, .max_markets = 8 };
    cr_assert_eq(clb_binance_md_init(p, &cfg), CLB_OK);
    for (int i = 0; i < N_MARKETS; i++) {
        int idx = -1;
        cr_assert_eq(clb_binance_md_add_market(p, MARKETS[i].sym, MARKETS[i].ps, MARKETS[i].qs,
                                               &idx),
                     CLB_OK);
        cr_assert_eq(idx, i);
    }
}

/* ---- reference parser over jansson ----------------------------------------- */

struct ref_out {
    struct clb_binance_md_msg msg;
    struct clb_binance_md_snapshot snap;
    struct clb_level bids[MAX_LV], asks[MAX_LV];
};

static int ref_dec(json_t *v, int scale, int64_t *out)
{
    if (!json_is_string(v))
        return CLB_EPARSE;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    size_t i = 0, int_digits = 0, frac_digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, int_digits++;
    size_t dot = i;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, frac_digits++;
        if (frac_digits == 0)
            return CLB_EPARSE;
    }
    if (int_digits == 0 || i != n)
        return CLB_EPARSE;
    for (size_t k = (size_t)scale; k < frac_digits; k++)
        if (s[dot + 1 + k] != '0')
            return CLB_EPRECISION;
    __extension__ typedef unsigned __int128 u128;
    u128 v128 = 0;
    bool big = false;
    for (size_t k = 0; k < int_digits; k++) {
        v128 = v128 * 10 + (u128)(s[k] - '0');
        if (v128 > (u128)INT64_MAX)
            big = true, v128 = (u128)INT64_MAX + 1;
    }
    for (int k = 0; k < scale; k++) {
        int d = (size_t)k < frac_digits ? s[dot + 1 + k] - '0' : 0;
        v128 = v128 * 10 + (u128)d;
        if (v128 > (u128)INT64_MAX)
            big = true, v128 = (u128)INT64_MAX + 1;
    }
    if (big)
        return CLB_EOVERFLOW;
    *out = (int64_t)v128;
    return CLB_OK;
}

static int ref_uint(json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return CLB_EPARSE;
    *out = (uint64_t)json_integer_value(v);
    return CLB_OK;
}

static int ref_levels(json_t *arr, int ps, int qs, struct clb_level *out, size_t *n_out)
{
    if (!json_is_array(arr))
        return CLB_EPARSE;
    size_t n = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *el = json_array_get(arr, i);
        if (!json_is_array(el) || json_array_size(el) < 1)
            return CLB_EPARSE;
        struct clb_level lv;
        int rc = ref_dec(json_array_get(el, 0), ps, &lv.price);
        if (rc != CLB_OK)
            return rc;
        if (lv.price <= 0)
            return CLB_EPARSE;
        if (json_array_size(el) < 2)
            return CLB_EPARSE;
        rc = ref_dec(json_array_get(el, 1), qs, &lv.qty);
        if (rc != CLB_OK)
            return rc;
        if (n == MAX_LV)
            return CLB_ERANGE;
        out[n++] = lv;
    }
    *n_out = n;
    return CLB_OK;
}

static int ref_event(json_t *o, struct ref_out *r)
{
    struct clb_binance_md_msg *m = &r->msg;
    memset(m, 0, sizeof(*m));
    m->market = -1;
    m->type = CLB_BINANCE_MD_OTHER;
    json_t *e = json_object_get(o, "e");
    if (e) {
        if (!json_is_string(e))
            return CLB_EPARSE;
        const char *s = json_string_value(e);
        size_t n = json_string_length(e);
        if (n == 11 && memcmp(s, "depthUpdate", 11) == 0)
            m->type = CLB_BINANCE_MD_DEPTH;
        if (n == 5 && memcmp(s, "trade", 5) == 0)
            m->type = CLB_BINANCE_MD_TRADE;
        size_t k = n < CLB_BINANCE_MD_EVENT_MAX - 1 ? n : CLB_BINANCE_MD_EVENT_MAX - 1;
        memcpy(m->event, s, k);
        m->event[k] = '\0';
    }
    if (m->type == CLB_BINANCE_MD_OTHER)
        return CLB_OK;
    uint64_t v;
    int rc = ref_uint(json_object_get(o, "E"), &v);
    if (rc)
        return rc;
    m->event_time_ms = (int64_t)v;
    json_t *s = json_object_get(o, "s");
    if (!json_is_string(s))
        return CLB_EPARSE;
    int mi = -1;
    for (int i = 0; i < N_MARKETS; i++)
        if (strlen(MARKETS[i].sym) == json_string_length(s) &&
            memcmp(MARKETS[i].sym, json_string_value(s), json_string_length(s)) == 0)
            mi = i;
    if (mi < 0)
        return CLB_ENOTFOUND;
    m->market = mi;
    int ps = MARKETS[mi].ps, qs = MARKETS[mi].qs;
    if (m->type == CLB_BINANCE_MD_DEPTH) {
        struct clb_binance_md_depth *d = &m->u.depth;
        if ((rc = ref_uint(json_object_get(o, "U"), &d->first_update_id)) ||
            (rc = ref_uint(json_object_get(o, "u"), &d->last_update_id)) ||
            (rc = ref_levels(json_object_get(o, "b"), ps, qs, r->bids, &d->n_bids)) ||
            (rc = ref_levels(json_object_get(o, "a"), ps, qs, r->asks, &d->n_asks)))
            return rc;
        d->bids = r->bids;
        d->asks = r->asks;
        return CLB_OK;
    }
    struct clb_binance_md_trade *t = &m->u.trade;
    if ((rc = ref_uint(json_object_get(o, "t"), &t->trade_id)) ||
        (rc = ref_dec(json_object_get(o, "p"), ps, &t->price)) ||
        (rc = ref_dec(json_object_get(o, "q"), qs, &t->qty)))
        return rc;
    if (t->price <= 0 || t->qty <= 0)
        return CLB_EPARSE;
    if ((rc = ref_uint(json_object_get(o, "T"), &v)))
        return rc;
    t->trade_time_ms = (int64_t)v;
    json_t *mm = json_object_get(o, "m");
    if (!json_is_boolean(mm))
        return CLB_EPARSE;
    t->buyer_is_maker = json_is_true(mm);
    return CLB_OK;
}

static int ref_parse(const char *data, size_t len, struct ref_out *r)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    if (!root)
        return CLB_EPARSE;
    int rc;
    if (!json_is_object(root)) {
        rc = CLB_EPARSE;
    } else {
        json_t *d = json_object_get(root, "data");
        if (d)
            rc = json_is_object(d) ? ref_event(d, r) : CLB_EPARSE;
        else
            rc = ref_event(root, r);
    }
    json_decref(root);
    return rc;
}

static int ref_parse_snapshot(int mi, const char *data, size_t len, struct ref_out *r)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, 0, &jerr);
    if (!root)
        return CLB_EPARSE;
    int rc = CLB_EPARSE;
    struct clb_binance_md_snapshot *s = &r->snap;
    if (json_is_object(root) &&
        (rc = ref_uint(json_object_get(root, "lastUpdateId"), &s->last_update_id)) == CLB_OK &&
        (rc = ref_levels(json_object_get(root, "bids"), MARKETS[mi].ps, MARKETS[mi].qs, r->bids,
                         &s->n_bids)) == CLB_OK &&
        (rc = ref_levels(json_object_get(root, "asks"), MARKETS[mi].ps, MARKETS[mi].qs, r->asks,
                         &s->n_asks)) == CLB_OK) {
        s->bids = r->bids;
        s->asks = r->asks;
    }
    json_decref(root);
    return rc;
}

static bool levels_eq(const struct clb_level *a, const struct clb_level *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (a[i].price != b[i].price || a[i].qty != b[i].qty)
            return false;
    return true;
}

static bool msg_eq(const struct clb_binance_md_msg *a, const struct clb_binance_md_msg *b)
{
    if (a->type != b->type || a->market != b->market || strcmp(a->event, b->event) != 0 ||
        a->event_time_ms != b->event_time_ms)
        return false;
    if (a->type == CLB_BINANCE_MD_DEPTH) {
        const struct clb_binance_md_depth *x = &a->u.depth, *y = &b->u.depth;
        return x->first_update_id == y->first_update_id &&
               x->last_update_id == y->last_update_id && x->n_bids == y->n_bids &&
               x->n_asks == y->n_asks && levels_eq(x->bids, y->bids, x->n_bids) &&
               levels_eq(x->asks, y->asks, x->n_asks);
    }
    if (a->type == CLB_BINANCE_MD_TRADE) {
        const struct clb_binance_md_trade *x = &a->u.trade, *y = &b->u.trade;
        return x->price == y->price && x->qty == y->qty && x->trade_id == y->trade_id &&
               x->trade_time_ms == y->trade_time_ms && x->buyer_is_maker == y->buyer_is_maker;
    }
    return true;
}

static bool snap_eq(const struct clb_binance_md_snapshot *x,
                    const struct clb_binance_md_snapshot *y)
{
    return x->last_update_id == y->last_update_id && x->n_bids == y->n_bids &&
           x->n_asks == y->n_asks && levels_eq(x->bids, y->bids, x->n_bids) &&
           levels_eq(x->asks, y->asks, x->n_asks);
}

/* ---- random message generator ---------------------------------------------- */

struct sb {
    char buf[1 << 16];
    size_t n;
};

static void sb_put(struct sb *b, const char *s, size_t n)
{
    cr_assert(b->n + n < sizeof(b->buf));
    memcpy(b->buf + b->n, s, n);
    b->n += n;
}

static void sb_puts(struct sb *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->buf + b->n, sizeof(b->buf) - b->n, fmt, ap);
    va_end(ap);
    cr_assert(n >= 0 && b->n + (size_t)n < sizeof(b->buf));
    b->n += (size_t)n;
}

static void gen_ws(struct sb *b, uint64_t *r)
{
    if (rnd(r, 4) != 0)
        return;
    static const char W[] = " \t\n\r";
    for (uint32_t i = 0, n = 1 + rnd(r, 3); i < n; i++)
        sb_put(b, &W[rnd(r, 4)], 1);
}

/* A string with some characters written as \u escapes. */
static void gen_text(struct sb *b, uint64_t *r, const char *s, uint32_t esc_odds)
{
    sb_puts(b, "\"");
    for (; *s; s++) {
        if (esc_odds && rnd(r, esc_odds) == 0)
            sb_printf(b, "\\u%04x", (unsigned)(unsigned char)*s);
        else
            sb_put(b, s, 1);
    }
    sb_puts(b, "\"");
}

static void gen_junk(struct sb *b, uint64_t *r, int depth)
{
    static const char *STR[] = { "\"x\"", "\"\"", "\"a\\\"b\\\\c\\/\\n\\t\\r\\b\\f\"",
                                 "\"\\u00e9t\\u00E9\"", "\"\\ud83d\\ude00\"", "\"caf\xc3\xa9\"",
                                 "\"\xe2\x82\xac 1\"", "\"\xf0\x9f\x98\x80\"", "\"]}[{,:\"" };
    static const char *NUM[] = { "0", "-0", "17", "-42", "3.25", "-0.5e-3", "1E+9", "2e10",
                                 "9223372036854775807", "-9223372036854775808", "1e308",
                                 "123456789012345678901234567890.5" };
    uint32_t k = rnd(r, depth < 3 ? 8 : 6);
    switch (k) {
    case 0: case 1: sb_puts(b, STR[rnd(r, 9)]); break;
    case 2: case 3: sb_puts(b, NUM[rnd(r, 12)]); break;
    case 4: sb_puts(b, rnd(r, 2) ? "true" : "false"); break;
    case 5: sb_puts(b, "null"); break;
    case 6: {
        sb_puts(b, "[");
        for (uint32_t i = 0, n = rnd(r, 4); i < n; i++) {
            if (i)
                sb_puts(b, ",");
            gen_ws(b, r);
            gen_junk(b, r, depth + 1);
            gen_ws(b, r);
        }
        sb_puts(b, "]");
        break;
    }
    default: {
        static const char *KEYS[] = { "x", "b", "data", "e", "s", "lastUpdateId", "" };
        sb_puts(b, "{");
        for (uint32_t i = 0, n = rnd(r, 4); i < n; i++) {
            if (i)
                sb_puts(b, ",");
            gen_ws(b, r);
            gen_text(b, r, KEYS[rnd(r, 7)], 0);
            gen_ws(b, r);
            sb_puts(b, ":");
            gen_junk(b, r, depth + 1);
        }
        sb_puts(b, "}");
        break;
    }
    }
}

/* Decimal text of m at scale, written with between 0 and scale + 3
 * fractional digits (dropping only zeros), sometimes with a bad digit. */
static void gen_dec(struct sb *b, uint64_t *r, int64_t m, int scale, bool allow_bad)
{
    char digits[64];
    int n = snprintf(digits, sizeof(digits), "%0*lld", scale + 1, (long long)m);
    char txt[96];
    size_t t = 0;
    memcpy(txt, digits, (size_t)(n - scale));
    t = (size_t)(n - scale);
    int frac = scale;
    while (frac > 0 && digits[n - scale + frac - 1] == '0' && rnd(r, 2))
        frac--;
    int extra = rnd(r, 3) == 0 ? (int)rnd(r, 4) : 0;
    if (scale <= 8 && rnd(r, 3) == 0) { /* Binance's form: exactly 8 decimals */
        frac = scale;
        extra = 8 - scale;
    }
    if (frac + extra > 0) {
        txt[t++] = '.';
        memcpy(txt + t, digits + n - scale, (size_t)frac);
        t += (size_t)frac;
        for (int i = 0; i < extra; i++)
            txt[t++] = '0';
        if (allow_bad && rnd(r, 40) == 0)
            txt[t - 1] = '7'; /* beyond the scale when extra > 0 */
        if (allow_bad && extra > 1 && rnd(r, 40) == 0)
            txt[t - extra] = '1'; /* the first digit beyond the scale */
    }
    if (allow_bad && rnd(r, 200) == 0)
        txt[t++] = rnd(r, 2) ? 'x' : '-';
    txt[t] = '\0';
    gen_text(b, r, txt, rnd(r, 10) == 0 ? 6 : 0);
}

static void gen_levels(struct sb *b, uint64_t *r, const struct mkt *m, int side, bool bad)
{
    uint32_t n = rnd(r, 30) == 0 ? MAX_LV + 1 + rnd(r, 3) : rnd(r, 8);
    int64_t base = 1000000 + (int64_t)rnd(r, 1000);
    sb_puts(b, "[");
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            sb_puts(b, ",");
        gen_ws(b, r);
        sb_puts(b, "[");
        gen_ws(b, r);
        int64_t price = side == 0 ? base - (int64_t)i * 3 : base + 5 + (int64_t)i * 3;
        if (bad && rnd(r, 50) == 0)
            price = 0;
        gen_dec(b, r, price, m->ps, bad);
        gen_ws(b, r);
        sb_puts(b, ",");
        gen_ws(b, r);
        int64_t qty = rnd(r, 5) == 0 ? 0 : 1 + (int64_t)rnd(r, 100000000);
        if (rnd(r, 25) == 0) /* long integer parts, up to overflow */
            qty = (int64_t)(splitmix64(r) >> (1 + rnd(r, 30)));
        gen_dec(b, r, qty, m->qs, bad);
        if (rnd(r, 20) == 0) {
            sb_puts(b, ",");
            gen_junk(b, r, 2);
        }
        gen_ws(b, r);
        sb_puts(b, "]");
    }
    gen_ws(b, r);
    sb_puts(b, "]");
}

enum { K_DEPTH, K_TRADE, K_OTHER };

/* One member: key, colon, value. */
struct member {
    const char *key;
    int kind; /* what to write */
};

static void gen_event(struct sb *b, uint64_t *r, bool bad)
{
    int kind = rnd(r, 10) < 6 ? K_DEPTH : rnd(r, 3) ? K_TRADE : K_OTHER;
    const struct mkt *m = &MARKETS[rnd(r, N_MARKETS)];
    const char *keys[24];
    size_t nk = 0;
    if (kind == K_DEPTH) {
        const char *k[] = { "e", "E", "s", "U", "u", "b", "a" };
        for (size_t i = 0; i < 7; i++)
            keys[nk++] = k[i];
    } else if (kind == K_TRADE) {
        const char *k[] = { "e", "E", "s", "t", "p", "q", "T", "m", "M" };
        for (size_t i = 0; i < 9; i++)
            keys[nk++] = k[i];
    } else {
        const char *k[] = { "e", "u", "s", "b", "B", "a", "A" };
        for (size_t i = 0; i < 7; i++)
            keys[nk++] = k[i];
    }
    for (uint32_t i = 0, n = rnd(r, 3); i < n; i++)
        keys[nk++] = "junk";
    if (bad && rnd(r, 4) == 0)
        keys[rnd(r, (uint32_t)nk)] = "junk"; /* a missing field */
    if (rnd(r, 30) == 0) {
        const char *dup = keys[rnd(r, (uint32_t)nk)];
        keys[nk++] = dup; /* a repeated member */
    }
    /* Binance's order most of the time, shuffled otherwise. */
    if (rnd(r, 3) == 0) {
        for (size_t i = nk; i > 1; i--) {
            size_t j = rnd(r, (uint32_t)i);
            const char *t = keys[i - 1];
            keys[i - 1] = keys[j];
            keys[j] = t;
        }
    }
    uint64_t first = 1 + rnd(r, 1000000000);
    sb_puts(b, "{");
    for (size_t i = 0; i < nk; i++) {
        if (i)
            sb_puts(b, ",");
        gen_ws(b, r);
        const char *k = keys[i];
        if (strcmp(k, "junk") == 0)
            gen_text(b, r, rnd(r, 2) ? "x" : "pu", 0);
        else
            gen_text(b, r, k, rnd(r, 15) == 0 ? 1 : 0);
        gen_ws(b, r);
        sb_puts(b, ":");
        gen_ws(b, r);
        if (bad && rnd(r, 40) == 0) {
            gen_junk(b, r, 1); /* a mistyped field */
        } else if (strcmp(k, "e") == 0) {
            const char *ev = kind == K_DEPTH ? "depthUpdate" : kind == K_TRADE ? "trade"
                           : rnd(r, 2)       ? "serverShutdown"
                                             : "a_very_long_event_name_beyond_thirty_one_bytes";
            gen_text(b, r, ev, rnd(r, 10) == 0 ? 3 : 0);
        } else if (strcmp(k, "s") == 0) {
            gen_text(b, r, bad && rnd(r, 10) == 0 ? "NOPE" : m->sym, rnd(r, 10) == 0 ? 3 : 0);
        } else if (strcmp(k, "E") == 0 || strcmp(k, "T") == 0) {
            sb_printf(b, "%llu", 1700000000000ull + rnd(r, 1000000));
        } else if (strcmp(k, "U") == 0) {
            sb_printf(b, "%llu", (unsigned long long)first);
        } else if (strcmp(k, "u") == 0 || strcmp(k, "t") == 0) {
            sb_printf(b, "%llu", (unsigned long long)(first + rnd(r, 50)));
        } else if (kind == K_DEPTH && (strcmp(k, "b") == 0 || strcmp(k, "a") == 0)) {
            gen_levels(b, r, m, k[0] == 'b' ? 0 : 1, bad);
        } else if (strcmp(k, "p") == 0 || strcmp(k, "q") == 0) {
            gen_dec(b, r, 1 + (int64_t)rnd(r, 100000000), k[0] == 'p' ? m->ps : m->qs, bad);
        } else if (strcmp(k, "m") == 0 || strcmp(k, "M") == 0) {
            sb_puts(b, rnd(r, 2) ? "true" : "false");
        } else {
            gen_junk(b, r, 1);
        }
        gen_ws(b, r);
    }
    sb_puts(b, "}");
}

static void gen_message(struct sb *b, uint64_t *r, bool bad)
{
    b->n = 0;
    gen_ws(b, r);
    if (rnd(r, 3) == 0) {
        /* combined-stream envelope, members in any order */
        int order = (int)rnd(r, 4);
        sb_puts(b, "{");
        gen_ws(b, r);
        if (order == 0) {
            sb_puts(b, "\"stream\":\"bnbbtc@depth@100ms\",");
            gen_ws(b, r);
        }
        if (order == 3) /* event members before "data": ignored, levels overwritten */
            sb_puts(b, "\"s\":\"ETHUSDT\",\"b\":[[\"1\",\"1\"],[\"2\",\"2\"]],"
                       "\"a\":[[\"1.001\",\"1\"]],\"e\":\"depthUpdate\",");
        sb_puts(b, "\"data\":");
        gen_ws(b, r);
        gen_event(b, r, bad);
        gen_ws(b, r);
        if (order == 1)
            sb_puts(b, ",\"stream\":\"bnbbtc@depth@100ms\"");
        if (order == 2)
            sb_puts(b, ",\"e\":\"depthUpdate\",\"b\":[[\"1\",\"1\"]],\"s\":\"BNBBTC\"");
        sb_puts(b, "}");
    } else {
        gen_event(b, r, bad);
    }
    gen_ws(b, r);
}

static void gen_snapshot(struct sb *b, uint64_t *r, int mi, bool bad)
{
    b->n = 0;
    const char *keys[] = { "lastUpdateId", "bids", "asks", "x" };
    int order[4] = { 0, 1, 2, 3 };
    for (int i = 3; i > 0; i--) {
        int j = (int)rnd(r, (uint32_t)i + 1), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    sb_puts(b, "{");
    for (int i = 0; i < 4; i++) {
        if (i)
            sb_puts(b, ",");
        gen_ws(b, r);
        gen_text(b, r, keys[order[i]], 0);
        sb_puts(b, ":");
        gen_ws(b, r);
        if (order[i] == 0)
            sb_printf(b, "%llu", 1000 + (unsigned long long)rnd(r, 1000000));
        else if (order[i] == 3)
            gen_junk(b, r, 1);
        else
            gen_levels(b, r, &MARKETS[mi], order[i] == 1 ? 0 : 1, bad);
    }
    sb_puts(b, "}");
}

/* ---- comparison driver ----------------------------------------------------- */

static struct ref_out REF;

/* Parses with both and checks agreement; returns the code. The input is
 * copied to a heap block of exactly len bytes so that ASan sees any read
 * past the end. */
/* jansson silently drops a NUL byte that ends a number or a literal
 * ({"a":1\0} loads); the parser refuses it (CLB_EPARSE). The only case
 * where the two may differ: the input holds a NUL and jansson refuses it
 * once the NULs are replaced by another invalid byte. */
static bool jansson_nul_quirk(const char *data, size_t len)
{
    if (!memchr(data, '\0', len))
        return false;
    char *copy = malloc(len);
    cr_assert(copy);
    for (size_t i = 0; i < len; i++)
        copy[i] = data[i] ? data[i] : 'x';
    json_error_t jerr;
    json_t *j = json_loadb(copy, len, 0, &jerr);
    free(copy);
    json_decref(j);
    return j == NULL;
}

static void dump(const char *data, size_t len)
{
    FILE *f = fopen("binance_md_disagreement.json", "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
}

static int check_event(struct clb_binance_md *p, const char *data, size_t len)
{
    char *copy = malloc(len ? len : 1);
    cr_assert(copy);
    memcpy(copy, data, len);
    struct clb_binance_md_msg msg;
    int rc = clb_binance_md_parse(p, copy, len, &msg);
    int rrc = ref_parse(copy, len, &REF);
    if (rc == CLB_EPARSE && rrc != CLB_EPARSE && jansson_nul_quirk(data, len))
        rrc = rc;
    if (rc != rrc || (rc == CLB_OK && !msg_eq(&msg, &REF.msg)))
        dump(data, len);
    cr_assert(rc == rrc && (rc != CLB_OK || msg_eq(&msg, &REF.msg)),
              "disagreement: parser %s, reference %s on:\n%.*s", clb_err_name(rc),
                clb_err_name(rrc), (int)len, data);
    free(copy);
    return rc;
}

static int check_snapshot(struct clb_binance_md *p, int mi, const char *data, size_t len)
{
    char *copy = malloc(len ? len : 1);
    cr_assert(copy);
    memcpy(copy, data, len);
    struct clb_binance_md_snapshot s;
    int rc = clb_binance_md_parse_snapshot(p, mi, copy, len, &s);
    int rrc = ref_parse_snapshot(mi, copy, len, &REF);
    if (rc == CLB_EPARSE && rrc != CLB_EPARSE && jansson_nul_quirk(data, len))
        rrc = rc;
    if (rc != rrc || (rc == CLB_OK && !snap_eq(&s, &REF.snap)))
        dump(data, len);
    cr_assert(rc == rrc && (rc != CLB_OK || snap_eq(&s, &REF.snap)),
              "snapshot disagreement: parser %s, reference %s on:\n%.*s", clb_err_name(rc),
                clb_err_name(rrc), (int)len, data);
    free(copy);
    return rc;
}

static struct sb SB;

Test(binance_md, property_random_messages_match_reference)
{
    struct clb_binance_md p;
    setup_parser(&p);
    uint64_t r = 0x5eed0001;
    int counts[8] = { 0 };
    int ok_types[4] = { 0 };
    for (int i = 0; i < 30000; i++) {
        bool bad = rnd(&r, 4) == 0;
        gen_message(&SB, &r, bad);
        int rc = check_event(&p, SB.buf, SB.n);
        counts[rc == CLB_OK ? 0 : rc == CLB_EPARSE ? 1 : rc == CLB_ERANGE ? 2
               : rc == CLB_EPRECISION            ? 3 : rc == CLB_ENOTFOUND ? 4 : 5]++;
        if (rc == CLB_OK) {
            struct clb_binance_md_msg m;
            clb_binance_md_parse(&p, SB.buf, SB.n, &m);
            ok_types[m.type]++;
        }
    }
    /* The generator must exercise every outcome. */
    for (int k = 0; k < 5; k++)
        cr_assert_gt(counts[k], 20, "outcome %d seen %d times", k, counts[k]);
    cr_assert_gt(ok_types[CLB_BINANCE_MD_DEPTH], 5000);
    cr_assert_gt(ok_types[CLB_BINANCE_MD_TRADE], 1000);
    cr_assert_gt(ok_types[CLB_BINANCE_MD_OTHER], 500);
    clb_binance_md_deinit(&p);
}

Test(binance_md, property_random_snapshots_match_reference)
{
    struct clb_binance_md p;
    setup_parser(&p);
    uint64_t r = 0x5eed0002;
    int ok = 0;
    for (int i = 0; i < 5000; i++) {
        int mi = (int)rnd(&r, N_MARKETS);
        gen_snapshot(&SB, &r, mi, rnd(&r, 4) == 0);
        ok += check_snapshot(&p, mi, SB.buf, SB.n) == CLB_OK;
    }
    cr_assert_gt(ok, 2500);
    clb_binance_md_deinit(&p);
}

static size_t mutate(char *buf, size_t n, size_t cap, uint64_t *r)
{
    static const char G[] = "{}[]\",:\\0123456789.-+eEtrufalsn \t\x01\x7f\x80\xc3\xa9\xff u";
    uint32_t k = rnd(r, 6);
    size_t pos = n ? rnd(r, (uint32_t)n) : 0;
    switch (k) {
    case 0: /* truncate */
        return pos;
    case 1: /* flip bits */
        if (n)
            buf[pos] ^= (char)(1u << rnd(r, 8));
        return n;
    case 2: /* replace with an interesting byte */
        if (n)
            buf[pos] = G[rnd(r, sizeof(G) - 1)];
        return n;
    case 3: { /* insert garbage */
        uint32_t m = 1 + rnd(r, 4);
        if (n + m > cap)
            return n;
        memmove(buf + pos + m, buf + pos, n - pos);
        for (uint32_t i = 0; i < m; i++)
            buf[pos + i] = G[rnd(r, sizeof(G) - 1)];
        return n + m;
    }
    case 4: { /* delete a span */
        uint32_t m = 1 + rnd(r, 8);
        if (pos + m > n)
            m = (uint32_t)(n - pos);
        memmove(buf + pos, buf + pos + m, n - pos - m);
        return n - m;
    }
    default: { /* duplicate a span */
        uint32_t m = 1 + rnd(r, 12);
        if (pos + m > n || n + m > cap)
            return n;
        memmove(buf + pos + m, buf + pos, n - pos);
        return n + m;
    }
    }
}

Test(binance_md, mutation_fuzz_never_crashes_and_agrees)
{
    struct clb_binance_md p;
    setup_parser(&p);
    uint64_t r = 0x5eed0003;
    int ok = 0, failed = 0;
    for (int i = 0; i < 40000; i++) {
        bool snap = rnd(&r, 5) == 0;
        int mi = (int)rnd(&r, N_MARKETS);
        if (snap)
            gen_snapshot(&SB, &r, mi, false);
        else
            gen_message(&SB, &r, false);
        for (uint32_t k = 0, n = 1 + rnd(&r, 3); k < n; k++)
            SB.n = mutate(SB.buf, SB.n, sizeof(SB.buf) - 16, &r);
        int rc = snap ? check_snapshot(&p, mi, SB.buf, SB.n) : check_event(&p, SB.buf, SB.n);
        if (rc == CLB_OK)
            ok++;
        else
            failed++;
    }
    cr_assert_gt(ok, 2000);
    cr_assert_gt(failed, 10000);
    clb_binance_md_deinit(&p);
}

/* ---- hand cases --------------------------------------------------------------- */

static int parse(struct clb_binance_md *p, const char *s, struct clb_binance_md_msg *m)
{
    return clb_binance_md_parse(p, s, strlen(s), m);
}

Test(binance_md, documented_depth_update)
{
    struct clb_binance_md p;
    setup_parser(&p);
    const char *s = "{\"e\":\"depthUpdate\",\"E\":1672515782136,\"s\":\"BNBBTC\",\"U\":157,"
                    "\"u\":160,\"b\":[[\"0.0024\",\"10\"]],\"a\":[[\"0.0026\",\"100\"]]}";
    struct clb_binance_md_msg m;
    cr_assert_eq(parse(&p, s, &m), CLB_OK);
    cr_assert_eq(m.type, CLB_BINANCE_MD_DEPTH);
    cr_assert_eq(m.market, 0);
    cr_assert_str_eq(m.event, "depthUpdate");
    cr_assert_eq(m.event_time_ms, 1672515782136);
    cr_assert_eq(m.u.depth.first_update_id, 157);
    cr_assert_eq(m.u.depth.last_update_id, 160);
    cr_assert_eq(m.u.depth.n_bids, 1);
    cr_assert_eq(m.u.depth.bids[0].price, 240000);      /* 0.0024 at scale 8 */
    cr_assert_eq(m.u.depth.bids[0].qty, 1000000000);    /* 10 at scale 8 */
    cr_assert_eq(m.u.depth.n_asks, 1);
    cr_assert_eq(m.u.depth.asks[0].price, 260000);
    cr_assert_eq(m.u.depth.asks[0].qty, 10000000000);
    clb_binance_md_deinit(&p);
}

Test(binance_md, combined_stream_and_key_order)
{
    struct clb_binance_md p;
    setup_parser(&p);
    /* data before stream, levels before the symbol, qty 0 removes, extra level element */
    const char *s = " {\"data\" : {\"b\":[[\"30000.10\",\"0.00000\",[]],[\"29999.9\",\"1.5\"]],"
                    "\"a\":[],\"u\":9,\"U\":7,\"pu\":6,\"x\":{\"y\":[1,{\"z\":\"\\\"}\"}]},"
                    "\"s\":\"BTCUSDT\",\"E\":5,\"e\":\"depthUpdate\"},"
                    "\"stream\":\"btcusdt@depth@100ms\"}\n";
    struct clb_binance_md_msg m;
    cr_assert_eq(parse(&p, s, &m), CLB_OK);
    cr_assert_eq(m.type, CLB_BINANCE_MD_DEPTH);
    cr_assert_eq(m.market, 1);
    cr_assert_eq(m.u.depth.n_bids, 2);
    cr_assert_eq(m.u.depth.bids[0].price, 3000010);
    cr_assert_eq(m.u.depth.bids[0].qty, 0);
    cr_assert_eq(m.u.depth.bids[1].price, 2999990);
    cr_assert_eq(m.u.depth.bids[1].qty, 150000);
    cr_assert_eq(m.u.depth.n_asks, 0);
    cr_assert_eq(m.u.depth.first_update_id, 7);
    cr_assert_eq(m.u.depth.last_update_id, 9);
    clb_binance_md_deinit(&p);
}

Test(binance_md, trade_event)
{
    struct clb_binance_md p;
    setup_parser(&p);
    const char *s = "{\"e\":\"trade\",\"E\":1672515782136,\"s\":\"BNBBTC\",\"t\":12345,"
                    "\"p\":\"0.001\",\"q\":\"100\",\"T\":1672515782136,\"m\":true,\"M\":true}";
    struct clb_binance_md_msg m;
    cr_assert_eq(parse(&p, s, &m), CLB_OK);
    cr_assert_eq(m.type, CLB_BINANCE_MD_TRADE);
    cr_assert_eq(m.u.trade.price, 100000);
    cr_assert_eq(m.u.trade.qty, 10000000000);
    cr_assert_eq(m.u.trade.trade_id, 12345);
    cr_assert_eq(m.u.trade.trade_time_ms, 1672515782136);
    cr_assert(m.u.trade.buyer_is_maker);
    clb_binance_md_deinit(&p);
}

Test(binance_md, other_events)
{
    struct clb_binance_md p;
    setup_parser(&p);
    struct clb_binance_md_msg m;
    cr_assert_eq(parse(&p, "{\"e\":\"serverShutdown\",\"E\":1}", &m), CLB_OK);
    cr_assert_eq(m.type, CLB_BINANCE_MD_OTHER);
    cr_assert_str_eq(m.event, "serverShutdown");
    /* bookTicker: no "e", "b" is a string */
    cr_assert_eq(parse(&p, "{\"u\":400900217,\"s\":\"BNBUSDT\",\"b\":\"25.35190000\","
                           "\"B\":\"31.21000000\",\"a\":\"25.36520000\",\"A\":\"40.66000000\"}",
                       &m),
                 CLB_OK);
    cr_assert_eq(m.type, CLB_BINANCE_MD_OTHER);
    cr_assert_str_eq(m.event, "");
    cr_assert_eq(parse(&p, "{\"result\":null,\"id\":1}", &m), CLB_OK);
    cr_assert_eq(m.type, CLB_BINANCE_MD_OTHER);
    clb_binance_md_deinit(&p);
}

Test(binance_md, semantic_errors)
{
    struct clb_binance_md p;
    setup_parser(&p);
    struct clb_binance_md_msg m;
#define DEPTH(B)                                                                      \
    "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\",\"U\":1,\"u\":2,\"b\":" B ",\"a\":[]}"
    cr_assert_eq(parse(&p, DEPTH("[[\"1.001\",\"1\"]]"), &m), CLB_EPRECISION);
    cr_assert_eq(parse(&p, DEPTH("[[\"1.000\",\"1\"]]"), &m), CLB_OK);
    cr_assert_eq(parse(&p, DEPTH("[[\"1\",\"0.000001\"]]"), &m), CLB_EPRECISION);
    cr_assert_eq(parse(&p, DEPTH("[[\"0.00\",\"1\"]]"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("[[\"-1\",\"1\"]]"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("[[\"1e3\",\"1\"]]"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("[[\"1.\",\"1\"]]"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("[[\".5\",\"1\"]]"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("[[\"\",\"1\"]]"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("[[1,\"1\"]]"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("[[\"1\"]]"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("[\"1\"]"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("{}"), &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, DEPTH("[[\"99999999999999999\",\"1\"]]"), &m), CLB_EOVERFLOW);
    /* an escaped digit is still a digit */
    cr_assert_eq(parse(&p, DEPTH("[[\"\\u0031.5\",\"1\"]]"), &m), CLB_OK);
    cr_assert_eq(m.u.depth.bids[0].price, 150);
    /* a syntax error wins over any semantic error before it */
    cr_assert_eq(parse(&p, DEPTH("[[\"1.001\",\"1\"],]"), &m), CLB_EPARSE);
    /* too many levels */
    char big[4096];
    size_t n = (size_t)snprintf(big, sizeof(big),
                                "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\","
                                "\"U\":1,\"u\":2,\"a\":[],\"b\":[");
    for (int i = 0; i < MAX_LV + 1; i++)
        n += (size_t)snprintf(big + n, sizeof(big) - n, "%s[\"%d\",\"1\"]", i ? "," : "", 100 + i);
    snprintf(big + n, sizeof(big) - n, "]}");
    cr_assert_eq(parse(&p, big, &m), CLB_ERANGE);
    /* unknown symbol, missing or mistyped fields */
    cr_assert_eq(parse(&p, "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"NOPE\",\"U\":1,\"u\":2,"
                           "\"b\":[],\"a\":[]}", &m), CLB_ENOTFOUND);
    cr_assert_eq(parse(&p, "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\",\"U\":1,"
                           "\"b\":[],\"a\":[]}", &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\",\"U\":-1,\"u\":2,"
                           "\"b\":[],\"a\":[]}", &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, "{\"e\":\"depthUpdate\",\"E\":1,\"s\":\"BTCUSDT\",\"U\":1.0,\"u\":2,"
                           "\"b\":[],\"a\":[]}", &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, "{\"e\":5}", &m), CLB_EPARSE);
    cr_assert_eq(parse(&p, "{\"data\":[]}", &m), CLB_EPARSE);
    clb_binance_md_deinit(&p);
}

Test(binance_md, syntax_errors)
{
    struct clb_binance_md p;
    setup_parser(&p);
    struct clb_binance_md_msg m;
    const char *bad[] = {
        "", " ", "[]", "null", "{", "{\"e\"}", "{\"e\":}", "{\"e\":\"trade\",}", "{} {}", "{}x",
        "{\"x\":01}", "{\"x\":1.}", "{\"x\":-}", "{\"x\":tru}", "{\"x\":\"\\x\"}",
        "{\"x\":\"\\u12\"}", "{\"x\":\"\\ud800\"}", "{\"x\":\"\\udc00\"}", "{\"x\":\"\\u0000\"}",
        "{\"x\":\"\xc3\"}", "{\"x\":\"\xc0\xaf\"}", "{\"x\":\"\xed\xa0\x80\"}",
        "{\"x\":\"a\tb\"}", "{\"x\":9223372036854775808}", "{\"x\":1e400}", "{'x':1}",
        "{\"x\":[1,]}", "{\"x\":[1 2]}", "{\"x\":{\"a\" 1}}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(parse(&p, bad[i], &m), CLB_EPARSE, "accepted: %s", bad[i]);
        cr_assert_eq(ref_parse(bad[i], strlen(bad[i]), &REF), CLB_EPARSE, "ref accepted: %s",
                     bad[i]);
    }
    /* nesting deeper than 64 levels is refused */
    char deep[300];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof(deep), "{\"x\":");
    for (int i = 0; i < 100; i++)
        deep[n++] = '[';
    for (int i = 0; i < 100; i++)
        deep[n++] = ']';
    deep[n++] = '}';
    cr_assert_eq(clb_binance_md_parse(&p, deep, n, &m), CLB_EPARSE);
    /* length is honoured: no NUL needed, nothing read past it */
    const char *s = "{\"e\":\"serverShutdown\"}garbage";
    cr_assert_eq(clb_binance_md_parse(&p, s, 22, &m), CLB_OK);
    cr_assert_eq(clb_binance_md_parse(&p, s, 21, &m), CLB_EPARSE);
    clb_binance_md_deinit(&p);
}

Test(binance_md, snapshot_hand_case)
{
    struct clb_binance_md p;
    setup_parser(&p);
    const char *s = "{\"lastUpdateId\":1027024,\"bids\":[[\"4.00000000\",\"431.00000000\"]],"
                    "\"asks\":[[\"4.00000200\",\"12.00000000\"],[\"4.1\",\"0\"]]}";
    struct clb_binance_md_snapshot snap;
    cr_assert_eq(clb_binance_md_parse_snapshot(&p, 0, s, strlen(s), &snap), CLB_OK);
    cr_assert_eq(snap.last_update_id, 1027024);
    cr_assert_eq(snap.n_bids, 1);
    cr_assert_eq(snap.bids[0].price, 400000000);
    cr_assert_eq(snap.bids[0].qty, 43100000000);
    cr_assert_eq(snap.n_asks, 2);
    cr_assert_eq(snap.asks[0].price, 400000200);
    cr_assert_eq(snap.asks[1].qty, 0);
    cr_assert_eq(clb_binance_md_parse_snapshot(&p, 1, s, strlen(s), &snap), CLB_EPRECISION);
    cr_assert_eq(clb_binance_md_parse_snapshot(&p, 7, s, strlen(s), &snap), CLB_EINVAL);
    cr_assert_eq(clb_binance_md_parse_snapshot(&p, 0, "{\"bids\":[],\"asks\":[]}", 21, &snap),
                 CLB_EPARSE);
    clb_binance_md_deinit(&p);
}

Test(binance_md, markets_and_config)
{
    struct clb_binance_md p;
    struct clb_binance_md_config cfg = { .max_levels = 0, .max_markets = 1 };
    cr_assert_eq(clb_binance_md_init(&p, &cfg), CLB_EINVAL);
    clb_binance_md_deinit(&p);
    cfg.max_levels = 10;
    cr_assert_eq(clb_binance_md_init(&p, &cfg), CLB_OK);
    cr_assert_eq(clb_binance_md_add_market(&p, "", 2, 2, NULL), CLB_EINVAL);
    cr_assert_eq(clb_binance_md_add_market(&p, "BTCUSDT", 19, 2, NULL), CLB_EINVAL);
    cr_assert_eq(clb_binance_md_add_market(&p, "BTCUSDT", 2, 2, NULL), CLB_OK);
    cr_assert_eq(clb_binance_md_add_market(&p, "BTCUSDT", 2, 2, NULL), CLB_EEXIST);
    cr_assert_eq(clb_binance_md_add_market(&p, "ETHUSDT", 2, 2, NULL), CLB_EFULL);
    cr_assert_eq(clb_binance_md_find_market(&p, "BTCUSDT", 7), 0);
    cr_assert_eq(clb_binance_md_find_market(&p, "BTCUSD", 6), -1);
    clb_binance_md_deinit(&p);
}

/* ---- Binance's exact form (the parser's fast path) --------------------------- */

/* A decimal string as Binance writes it: integer digits, '.', 8 decimals
 * (m at scale s <= 8). Now and then something close but different: a
 * non-zero digit beyond the scale, a long integer part, a zero, 7 or 9
 * decimals, or a leading zero. */
static void put_binance_dec(struct sb *b, uint64_t *r, int64_t m, int s, bool vary)
{
    int64_t p10 = 1;
    for (int i = 0; i < s; i++)
        p10 *= 10;
    char frac[16];
    snprintf(frac, sizeof(frac), "%0*lld", s, (long long)(m % p10));
    char txt[64];
    int n = snprintf(txt, sizeof(txt), "\"%lld.%s%.*s\"", (long long)(m / p10), s ? frac : "",
                     8 - s, "00000000");
    if (vary) {
        switch (rnd(r, 6)) {
        case 0: /* a digit beyond the scale (EPRECISION when s < 8) */
            txt[n - 2] = '7';
            break;
        case 1:
            n = snprintf(txt, sizeof(txt), "\"%lld.%08d\"", 1000000000000LL + m, 0);
            break;
        case 2:
            n = snprintf(txt, sizeof(txt), "\"0.00000000\"");
            break;
        case 3:
            txt[n - 2] = '"';
            n--;
            break;
        case 4:
            n = snprintf(txt, sizeof(txt), "\"%lld.000000000\"", (long long)(m / p10));
            break;
        default:
            n = snprintf(txt, sizeof(txt), "\"0%lld.00000000\"", (long long)(m / p10));
            break;
        }
    }
    sb_put(b, txt, (size_t)n);
}

static void put_binance_int(struct sb *b, uint64_t *r, uint64_t v, bool vary)
{
    char txt[48];
    int n;
    switch (vary ? rnd(r, 5) : 9) {
    case 0:
        n = snprintf(txt, sizeof(txt), "0%llu", (unsigned long long)v);
        break;
    case 1:
        n = snprintf(txt, sizeof(txt), "%llu", 9223372036854775807ULL - rnd(r, 2));
        break;
    case 2:
        n = snprintf(txt, sizeof(txt), "9223372036854775808");
        break;
    case 3:
        n = snprintf(txt, sizeof(txt), "-%llu", (unsigned long long)v);
        break;
    case 4:
        n = snprintf(txt, sizeof(txt), "%llu.0", (unsigned long long)v);
        break;
    default:
        n = snprintf(txt, sizeof(txt), "%llu", (unsigned long long)v);
        break;
    }
    sb_put(b, txt, (size_t)n);
}

static void gen_binance_depth(struct sb *b, uint64_t *r, bool bad)
{
    b->n = 0;
    const struct mkt *m = &MARKETS[rnd(r, N_MARKETS)];
    bool wrapped = rnd(r, 3) != 0;
    if (wrapped)
        sb_puts(b, rnd(r, 2) ? "{\"stream\":\"btcusdt@depth@100ms\",\"data\":"
                             : "{\"stream\":\"x\",\"data\":");
    sb_puts(b, "{\"e\":\"depthUpdate\",\"E\":");
    put_binance_int(b, r, 1700000000000ULL + rnd(r, 1000000), bad && rnd(r, 8) == 0);
    sb_puts(b, ",\"s\":\"");
    sb_puts(b, bad && rnd(r, 10) == 0 ? "XYZUSDT" : m->sym);
    sb_puts(b, "\",\"U\":");
    uint64_t first = 1 + rnd(r, 1000000000);
    put_binance_int(b, r, first, bad && rnd(r, 8) == 0);
    sb_puts(b, ",\"u\":");
    put_binance_int(b, r, first + rnd(r, 50), bad && rnd(r, 8) == 0);
    for (int side = 0; side < 2; side++) {
        sb_puts(b, side ? ",\"a\":[" : ",\"b\":[");
        uint32_t n = bad && rnd(r, 20) == 0 ? MAX_LV + 1 : rnd(r, 12);
        int ps = m->ps > 8 ? 8 : m->ps, qs = m->qs > 8 ? 8 : m->qs;
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                sb_puts(b, bad && rnd(r, 60) == 0 ? ", " : ",");
            sb_puts(b, "[");
            int64_t px = side ? 6700001 + (int64_t)i : 6700000 - (int64_t)i;
            put_binance_dec(b, r, px * (ps > 2 ? 1000 : 1), ps, bad && rnd(r, 25) == 0);
            sb_puts(b, ",");
            int64_t q = rnd(r, 5) == 0 ? 0 : 1 + (int64_t)rnd(r, 200000000);
            put_binance_dec(b, r, rnd(r, 3) == 0 ? q % 10 : q, qs, bad && rnd(r, 25) == 0);
            sb_puts(b, "]");
        }
        sb_puts(b, "]");
    }
    sb_puts(b, wrapped ? "}}" : "}");
    if (bad && rnd(r, 15) == 0)
        sb_puts(b, rnd(r, 2) ? " \n" : "x");
}

Test(binance_md, binance_exact_form_matches_reference)
{
    struct clb_binance_md p;
    setup_parser(&p);
    uint64_t r = 0x5eed0b1a;
    int ok = 0, errors = 0;
    for (int i = 0; i < 40000; i++) {
        bool bad = rnd(&r, 3) == 0;
        gen_binance_depth(&SB, &r, bad);
        int rc = check_event(&p, SB.buf, SB.n);
        if (rc == CLB_OK)
            ok++;
        else
            errors++;
    }
    cr_assert_gt(ok, 25000);
    cr_assert_gt(errors, 3000);
    clb_binance_md_deinit(&p);
}

Test(binance_md, warm_parses_a_canned_depth_update)
{
    struct clb_binance_md p;
    setup_parser(&p);
    struct clb_binance_md_msg msg;
    for (int mi = 0; mi < N_MARKETS; mi++) {
        cr_assert_eq(clb_binance_md_warm(&p, mi, &msg), CLB_OK);
        cr_assert_eq(msg.type, CLB_BINANCE_MD_DEPTH);
        cr_assert_eq(msg.market, mi);
        cr_assert_eq(msg.u.depth.n_bids, 10);
        cr_assert_eq(msg.u.depth.n_asks, 10);
        int64_t unit = 1;
        for (int k = 0; k < MARKETS[mi].ps; k++)
            unit *= 10;
        for (size_t i = 0; i < 10; i++) {
            cr_assert_eq(msg.u.depth.bids[i].price, (int64_t)(10 - i) * unit);
            cr_assert_eq(msg.u.depth.asks[i].price, (int64_t)(11 + i) * unit);
            cr_assert_eq(msg.u.depth.bids[i].qty == 0, i % 4 == 3);
        }
        cr_assert_eq(msg.u.depth.first_update_id, 1);
        cr_assert_eq(msg.u.depth.last_update_id, 2);
    }
    cr_assert_eq(clb_binance_md_warm(&p, N_MARKETS, &msg), CLB_EINVAL);
    cr_assert_eq(clb_binance_md_warm(&p, -1, &msg), CLB_EINVAL);
    clb_binance_md_deinit(&p);
}
