/*
 * tardis.c — Tardis.dev CSV rows to .clbmd records (rules in tardis.h).
 *
 * Each file is a source of lines. The importer keeps one parsed, converted
 * row of lookahead per file: it needs the next row of a file to know
 * whether the current one ends a batch, and the heads of both files to
 * merge them by local_timestamp. Rows are converted (scaled, checked) as
 * they are read, so a bad row is reported before anything after it is
 * produced, with its file and line.
 */
#include "tardis.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

static const char *const column_names[2][CLB_TARDIS_COLUMNS] = {
    { "exchange", "symbol", "timestamp", "local_timestamp", "is_snapshot", "side", "price",
      "amount" },
    { "exchange", "symbol", "timestamp", "local_timestamp", "id", "side", "price", "amount" },
};

const char *clb_tardis_stream_name(enum clb_tardis_stream st)
{
    return st == CLB_TARDIS_BOOK ? "incremental_book_L2" : "trades";
}

__attribute__((format(printf, 3, 4))) static int fail(struct clb_tardis_error *err, int code,
                                                      const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

static size_t strip_cr(const char *line, size_t len)
{
    return len > 0 && line[len - 1] == '\r' ? len - 1 : len;
}

static bool field_is(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(s, lit, m) == 0;
}

int clb_tardis_check_header(enum clb_tardis_stream st, const char *line, size_t len,
                            struct clb_tardis_error *err)
{
    len = strip_cr(line, len);
    const char *want = st == CLB_TARDIS_BOOK ? CLB_TARDIS_BOOK_HEADER : CLB_TARDIS_TRADES_HEADER;
    const char *other = st == CLB_TARDIS_BOOK ? CLB_TARDIS_TRADES_HEADER : CLB_TARDIS_BOOK_HEADER;
    if (field_is(line, len, want))
        return CLB_OK;
    if (field_is(line, len, other))
        return fail(err, CLB_EPARSE, "bad header: this is a %s file, expected %s",
                    clb_tardis_stream_name(st == CLB_TARDIS_BOOK ? CLB_TARDIS_TRADES
                                                                 : CLB_TARDIS_BOOK),
                    clb_tardis_stream_name(st));
    return fail(err, CLB_EPARSE, "bad header '%.*s': expected '%s'", (int)(len > 80 ? 80 : len),
                line, want);
}

/* Non-negative integer timestamp. */
static bool parse_u63(const char *s, size_t n, int64_t *out)
{
    if (n == 0 || n > 18)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

static uint32_t trade_id_of(const char *s, size_t n)
{
    if (n == 0)
        return 0;
    bool numeric = n <= 19;
    uint64_t v = 0;
    for (size_t i = 0; numeric && i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            numeric = false;
        else
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (numeric)
        return (uint32_t)v;
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

static int parse_number(enum clb_tardis_stream st, int col, const char *s, size_t n,
                        clb_dec *out, struct clb_tardis_error *err)
{
    int rc = clb_dec_parse(s, n, out);
    if (rc != CLB_OK)
        return fail(err, rc == CLB_EOVERFLOW ? CLB_EOVERFLOW : CLB_EPARSE,
                    "bad number in column %s: '%.*s' (%s)", column_names[st][col],
                    (int)(n > 40 ? 40 : n), s, clb_strerror(rc));
    return CLB_OK;
}

int clb_tardis_parse_row(enum clb_tardis_stream st, const char *line, size_t len,
                         struct clb_tardis_row *row, struct clb_tardis_error *err)
{
    len = strip_cr(line, len);
    const char *f[CLB_TARDIS_COLUMNS];
    size_t fl[CLB_TARDIS_COLUMNS];
    size_t cols = 0, start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || line[i] == ',') {
            if (cols < CLB_TARDIS_COLUMNS) {
                f[cols] = line + start;
                fl[cols] = i - start;
            }
            cols++;
            start = i + 1;
        }
    }
    if (cols != CLB_TARDIS_COLUMNS)
        return fail(err, CLB_EPARSE, "expected %d columns, found %zu", CLB_TARDIS_COLUMNS, cols);

    struct clb_tardis_row r;
    memset(&r, 0, sizeof(r));
    r.exchange = f[0];
    r.exchange_len = fl[0];
    r.symbol = f[1];
    r.symbol_len = fl[1];
    if (fl[0] == 0 || fl[1] == 0)
        return fail(err, CLB_EPARSE, "empty %s", fl[0] == 0 ? "exchange" : "symbol");
    for (int c = 2; c <= 3; c++) {
        int64_t *dst = c == 2 ? &r.ts_us : &r.local_ts_us;
        if (!parse_u63(f[c], fl[c], dst))
            return fail(err, CLB_EPARSE, "bad number in column %s: '%.*s' (microseconds)",
                        column_names[st][c], (int)(fl[c] > 40 ? 40 : fl[c]), f[c]);
    }
    if (st == CLB_TARDIS_BOOK) {
        if (field_is(f[4], fl[4], "true"))
            r.is_snapshot = true;
        else if (!field_is(f[4], fl[4], "false"))
            return fail(err, CLB_EPARSE, "bad is_snapshot '%.*s': expected true or false",
                        (int)(fl[4] > 40 ? 40 : fl[4]), f[4]);
        if (field_is(f[5], fl[5], "bid"))
            r.side = CLB_TARDIS_BID;
        else if (field_is(f[5], fl[5], "ask"))
            r.side = CLB_TARDIS_ASK;
        else
            return fail(err, CLB_EPARSE, "unknown side '%.*s': expected bid or ask",
                        (int)(fl[5] > 40 ? 40 : fl[5]), f[5]);
    } else {
        r.trade_id = trade_id_of(f[4], fl[4]);
        if (field_is(f[5], fl[5], "buy"))
            r.side = CLB_TARDIS_BUY;
        else if (field_is(f[5], fl[5], "sell"))
            r.side = CLB_TARDIS_SELL;
        else if (field_is(f[5], fl[5], "unknown"))
            r.side = CLB_TARDIS_UNKNOWN;
        else
            return fail(err, CLB_EPARSE, "unknown side '%.*s': expected buy, sell or unknown",
                        (int)(fl[5] > 40 ? 40 : fl[5]), f[5]);
    }
    int rc = parse_number(st, 6, f[6], fl[6], &r.price, err);
    if (rc != CLB_OK)
        return rc;
    rc = parse_number(st, 7, f[7], fl[7], &r.amount, err);
    if (rc != CLB_OK)
        return rc;
    if (clb_dec_sign(r.price) <= 0)
        return fail(err, CLB_EPARSE, "non-positive price '%.*s'", (int)(fl[6] > 40 ? 40 : fl[6]),
                    f[6]);
    if (clb_dec_sign(r.amount) < 0)
        return fail(err, CLB_EPARSE, "negative amount '%.*s'", (int)(fl[7] > 40 ? 40 : fl[7]),
                    f[7]);
    if (st == CLB_TARDIS_TRADES && clb_dec_is_zero(r.amount))
        return fail(err, CLB_EPARSE, "trade with amount 0");
    *row = r;
    return CLB_OK;
}

/* ---- importer ---- */

int clb_tardis_importer_init(struct clb_tardis_importer *im, int price_scale, int qty_scale,
                             clb_tardis_line_fn book_fn, void *book_ud,
                             clb_tardis_line_fn trades_fn, void *trades_ud)
{
    bool scan = price_scale == CLB_TARDIS_SCAN && qty_scale == CLB_TARDIS_SCAN;
    if (!book_fn && !trades_fn)
        return CLB_EINVAL;
    if (!scan && (price_scale < 0 || price_scale > CLB_MD_MAX_SCALE || qty_scale < 0 ||
                  qty_scale > CLB_MD_MAX_SCALE))
        return CLB_EINVAL;
    memset(im, 0, sizeof(*im));
    im->price_scale = price_scale;
    im->qty_scale = qty_scale;
    im->src[CLB_TARDIS_BOOK].fn = book_fn;
    im->src[CLB_TARDIS_BOOK].ud = book_ud;
    im->src[CLB_TARDIS_TRADES].fn = trades_fn;
    im->src[CLB_TARDIS_TRADES].ud = trades_ud;
    return CLB_OK;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int decimals_of(clb_dec d)
{
    return clb_dec_normalize(d).scale;
}

/* Fails the importer at a line of a stream (sticky). */
__attribute__((format(printf, 5, 6))) static int im_fail(struct clb_tardis_importer *im,
                                                         enum clb_tardis_stream st,
                                                         uint64_t line, int code,
                                                         const char *fmt, ...)
{
    im->err.code = code;
    im->err.stream = st;
    im->err.line = line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(im->err.msg, sizeof(im->err.msg), fmt, ap);
    va_end(ap);
    im->failed = code;
    return code;
}

static int scale_value(struct clb_tardis_importer *im, enum clb_tardis_stream st,
                       uint64_t line, const char *what, clb_dec d, int scale, int64_t *out)
{
    int rc = clb_dec_to_scaled(d, scale, out);
    if (rc == CLB_OK)
        return CLB_OK;
    char buf[CLB_DEC_STRLEN];
    clb_dec_format(d, buf, sizeof(buf));
    if (rc == CLB_EPRECISION)
        return im_fail(im, st, line, rc, "%s %s has more decimals than the %s scale %d", what,
                       buf, what, scale);
    return im_fail(im, st, line, rc, "%s %s does not fit at scale %d", what, buf, scale);
}

static int check_name(struct clb_tardis_importer *im, enum clb_tardis_stream st, uint64_t line,
                      const char *what, char *have, const char *s, size_t n)
{
    if (n >= CLB_MD_NAME_MAX)
        return im_fail(im, st, line, CLB_EPARSE, "%s '%.*s' longer than %d bytes", what,
                       (int)(n > 60 ? 60 : n), s, CLB_MD_NAME_MAX - 1);
    if (!im->have_names) {
        memcpy(have, s, n);
        have[n] = '\0';
        return CLB_OK;
    }
    if (strlen(have) != n || memcmp(have, s, n) != 0)
        return im_fail(im, st, line, CLB_EPARSE, "%s '%.*s' differs from '%s' seen before", what,
                       (int)n, s, have);
    return CLB_OK;
}

/* Reads the next data row of a stream into src->row (src->has = false at
 * the end). Checks the header first on the first call. */
static int advance(struct clb_tardis_importer *im, enum clb_tardis_stream st)
{
    struct clb_tardis_source_ *src = &im->src[st];
    src->has = false;
    if (!src->fn)
        return CLB_OK;
    struct clb_tardis_error perr;
    for (;;) {
        const char *line;
        size_t len;
        int rc = src->fn(src->ud, &line, &len);
        if (rc < 0)
            return im_fail(im, st, src->line + 1, rc, "read error: %s", clb_strerror(rc));
        if (rc == 0) {
            if (!src->started)
                return im_fail(im, st, 1, CLB_EPARSE, "empty file: no header");
            return CLB_OK;
        }
        src->line++;
        if (!src->started) {
            rc = clb_tardis_check_header(st, line, len, &perr);
            if (rc != CLB_OK)
                return im_fail(im, st, src->line, rc, "%s", perr.msg);
            src->started = true;
            continue;
        }
        struct clb_tardis_row row;
        rc = clb_tardis_parse_row(st, line, len, &row, &perr);
        if (rc != CLB_OK)
            return im_fail(im, st, src->line, rc, "%s", perr.msg);
        im->stats.rows[st]++;
        if (row.local_ts_us < src->prev_local_us)
            return im_fail(im, st, src->line, CLB_EPARSE,
                           "unsorted local_timestamp %lld after %lld", (long long)row.local_ts_us,
                           (long long)src->prev_local_us);
        src->prev_local_us = row.local_ts_us;
        if (row.local_ts_us > INT64_MAX / 1000)
            return im_fail(im, st, src->line, CLB_EOVERFLOW, "local_timestamp %lld out of range",
                           (long long)row.local_ts_us);
        rc = check_name(im, st, src->line, "exchange", im->exchange, row.exchange,
                        row.exchange_len);
        if (rc == CLB_OK)
            rc = check_name(im, st, src->line, "symbol", im->symbol, row.symbol, row.symbol_len);
        if (rc != CLB_OK)
            return rc;
        im->have_names = true;

        if (st == CLB_TARDIS_BOOK && !row.is_snapshot && !im->seen_snapshot) {
            im->stats.skipped_book_rows++;
            continue;
        }
        if (st == CLB_TARDIS_BOOK && row.is_snapshot)
            im->seen_snapshot = true;

        int pd = decimals_of(row.price), qd = decimals_of(row.amount);
        if (pd > im->stats.price_decimals)
            im->stats.price_decimals = pd;
        if (qd > im->stats.qty_decimals)
            im->stats.qty_decimals = qd;

        struct clb_tardis_pending_ *p = &src->row;
        memset(p, 0, sizeof(*p));
        p->ts_ns = row.local_ts_us * 1000;
        p->line = src->line;
        p->is_snapshot = row.is_snapshot;
        p->trade_id = row.trade_id;
        if (im->price_scale != CLB_TARDIS_SCAN) {
            rc = scale_value(im, st, src->line, "price", row.price, im->price_scale, &p->price);
            if (rc == CLB_OK)
                rc = scale_value(im, st, src->line, "amount", row.amount, im->qty_scale, &p->qty);
            if (rc != CLB_OK)
                return rc;
            im->stats.price_gcd = gcd64(im->stats.price_gcd, p->price);
            if (p->qty > 0)
                im->stats.qty_gcd = gcd64(im->stats.qty_gcd, p->qty);
        }
        switch (row.side) {
        case CLB_TARDIS_BID: p->kind = CLB_MD_BID; break;
        case CLB_TARDIS_ASK: p->kind = CLB_MD_ASK; break;
        case CLB_TARDIS_BUY: p->kind = CLB_MD_TRADE_BUY; break;
        case CLB_TARDIS_SELL: p->kind = CLB_MD_TRADE_SELL; break;
        case CLB_TARDIS_UNKNOWN: p->kind = 0; break; /* resolved when produced */
        }
        src->has = true;
        return CLB_OK;
    }
}

int clb_tardis_importer_next(struct clb_tardis_importer *im, struct clb_md_record *out,
                             struct clb_tardis_error *err)
{
    struct clb_tardis_source_ *b = &im->src[CLB_TARDIS_BOOK], *t = &im->src[CLB_TARDIS_TRADES];
    int rc = CLB_OK;
    if (im->failed)
        goto failed;
    for (int st = 0; st < 2; st++) {
        if (im->src[st].fn && !im->src[st].started) {
            rc = advance(im, (enum clb_tardis_stream)st);
            if (rc != CLB_OK)
                goto failed;
        }
    }
    if (!b->has && !t->has)
        return 0;
    enum clb_tardis_stream st =
        b->has && (!t->has || b->row.ts_ns <= t->row.ts_ns) ? CLB_TARDIS_BOOK : CLB_TARDIS_TRADES;
    struct clb_tardis_source_ *src = &im->src[st];
    struct clb_tardis_pending_ cur = src->row;
    rc = advance(im, st);
    if (rc != CLB_OK)
        goto failed;

    struct clb_md_record r;
    memset(&r, 0, sizeof(r));
    r.ts_ns = cur.ts_ns;
    r.price = cur.price;
    r.qty = cur.qty;
    r.kind = cur.kind;
    bool batch_end = !src->has || src->row.ts_ns != cur.ts_ns;
    if (st == CLB_TARDIS_BOOK) {
        if (cur.is_snapshot) {
            r.flags |= CLB_MD_F_SNAPSHOT;
            if (!im->last_book_snapshot) {
                r.flags |= CLB_MD_F_RESET;
                im->stats.snapshots++;
            }
        }
        im->last_book_snapshot = cur.is_snapshot;
        if (src->has && src->row.is_snapshot != cur.is_snapshot)
            batch_end = true;
    } else {
        r.trade_id = cur.trade_id;
        if (r.kind == 0) {
            im->stats.unknown_sides++;
            bool buy = !im->have_last_trade || cur.price > im->last_trade_price ||
                       (cur.price == im->last_trade_price && im->last_trade_buy);
            r.kind = buy ? CLB_MD_TRADE_BUY : CLB_MD_TRADE_SELL;
        }
        im->last_trade_price = cur.price;
        im->last_trade_buy = r.kind == CLB_MD_TRADE_BUY;
        im->have_last_trade = true;
    }
    if (batch_end)
        r.flags |= CLB_MD_F_BATCH_END;
    im->stats.records++;
    im->last_stream = st;
    im->last_line = cur.line;
    *out = r;
    return 1;

failed:
    if (err)
        *err = im->err;
    return im->failed;
}

int clb_tardis_importer_drain(struct clb_tardis_importer *im, struct clb_tardis_error *err)
{
    struct clb_md_record r;
    int rc;
    while ((rc = clb_tardis_importer_next(im, &r, err)) > 0) {
    }
    return rc;
}
