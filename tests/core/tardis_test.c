/* Tests for core/tardis.c: row parsing by hand, malformed rows with their
 * line numbers, the two-file merge rules, and a synth -> CSV -> import
 * round trip. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "synth.h"
#include "tardis.h"

#define BOOK_HDR CLB_TARDIS_BOOK_HEADER "\n"
#define TRADES_HDR CLB_TARDIS_TRADES_HEADER "\n"

/* A line source over a NUL-terminated text (lines split at '\n'). */
struct text_src {
    const char *p;
    const char *end;
};

static int text_line(void *ud, const char **line, size_t *len)
{
    struct text_src *t = ud;
    if (t->p >= t->end)
        return 0;
    const char *nl = memchr(t->p, '\n', (size_t)(t->end - t->p));
    const char *stop = nl ? nl : t->end;
    *line = t->p;
    *len = (size_t)(stop - t->p);
    t->p = nl ? nl + 1 : t->end;
    return 1;
}

static struct text_src src_of(const char *s)
{
    return (struct text_src){ s, s + strlen(s) };
}

static int failing_line(void *ud, const char **line, size_t *len)
{
    (void)ud;
    (void)line;
    (void)len;
    return CLB_EIO;
}

static struct clb_tardis_row parse_ok(enum clb_tardis_stream st, const char *line)
{
    struct clb_tardis_row r;
    struct clb_tardis_error err = { 0 };
    int rc = clb_tardis_parse_row(st, line, strlen(line), &r, &err);
    cr_assert_eq(rc, CLB_OK, "'%s': %s", line, err.msg);
    return r;
}

static void parse_bad(enum clb_tardis_stream st, const char *line, int code, const char *needle)
{
    struct clb_tardis_row r;
    memset(&r, 0x5a, sizeof(r));
    struct clb_tardis_error err = { 0 };
    int rc = clb_tardis_parse_row(st, line, strlen(line), &r, &err);
    cr_assert_eq(rc, code, "'%s': rc %d (%s)", line, rc, err.msg);
    cr_assert(strstr(err.msg, needle), "'%s': message '%s' lacks '%s'", line, err.msg, needle);
    cr_assert_eq(r.ts_us, (int64_t)0x5a5a5a5a5a5a5a5a, "row written on failure");
}

Test(tardis, parse_book_rows)
{
    struct clb_tardis_row r = parse_ok(
        CLB_TARDIS_BOOK, "binance,BTCUSDT,1599868800206000,1599868800253274,true,ask,10396.79,0.001");
    cr_assert_eq(r.exchange_len, 7);
    cr_assert_eq(memcmp(r.exchange, "binance", 7), 0);
    cr_assert_eq(r.symbol_len, 7);
    cr_assert_eq(r.ts_us, 1599868800206000);
    cr_assert_eq(r.local_ts_us, 1599868800253274);
    cr_assert(r.is_snapshot);
    cr_assert_eq(r.side, CLB_TARDIS_ASK);
    cr_assert_eq(r.price.m, 1039679);
    cr_assert_eq(r.price.scale, 2);
    cr_assert_eq(r.amount.m, 1);
    cr_assert_eq(r.amount.scale, 3);

    r = parse_ok(CLB_TARDIS_BOOK, "deribit,BTC-PERPETUAL,1,2,false,bid,9000,0\r");
    cr_assert(!r.is_snapshot);
    cr_assert_eq(r.side, CLB_TARDIS_BID);
    cr_assert(clb_dec_is_zero(r.amount));
    /* exponent notation as some exporters print tiny amounts */
    r = parse_ok(CLB_TARDIS_BOOK, "x,Y,1,2,false,bid,0.5,1e-7");
    int64_t q;
    cr_assert_eq(clb_dec_to_scaled(r.amount, 8, &q), CLB_OK);
    cr_assert_eq(q, 10);
}

Test(tardis, parse_trade_rows)
{
    struct clb_tardis_row r =
        parse_ok(CLB_TARDIS_TRADES, "binance,BTCUSDT,1,2,123456789012,buy,60000.10,0.5");
    cr_assert_eq(r.side, CLB_TARDIS_BUY);
    cr_assert_eq(r.trade_id, (uint32_t)123456789012ull);
    r = parse_ok(CLB_TARDIS_TRADES, "okex,BTC-USDT,1,2,,sell,1,1");
    cr_assert_eq(r.side, CLB_TARDIS_SELL);
    cr_assert_eq(r.trade_id, 0);
    r = parse_ok(CLB_TARDIS_TRADES, "coinbase,BTC-USD,1,2,6f1c-9a2e,unknown,1,1");
    cr_assert_eq(r.side, CLB_TARDIS_UNKNOWN);
    uint32_t h1 = r.trade_id;
    cr_assert_neq(h1, 0);
    r = parse_ok(CLB_TARDIS_TRADES, "coinbase,BTC-USD,1,2,6f1c-9a2f,unknown,1,1");
    cr_assert_neq(r.trade_id, h1);
}

Test(tardis, malformed_rows)
{
    const enum clb_tardis_stream B = CLB_TARDIS_BOOK, T = CLB_TARDIS_TRADES;
    parse_bad(B, "", CLB_EPARSE, "expected 8 columns, found 1");
    parse_bad(B, "a,b,1,2,true,bid,1", CLB_EPARSE, "found 7");
    parse_bad(B, "a,b,1,2,true,bid,1,1,9", CLB_EPARSE, "found 9");
    parse_bad(B, ",b,1,2,true,bid,1,1", CLB_EPARSE, "empty exchange");
    parse_bad(B, "a,,1,2,true,bid,1,1", CLB_EPARSE, "empty symbol");
    parse_bad(B, "a,b,12x,2,true,bid,1,1", CLB_EPARSE, "column timestamp");
    parse_bad(B, "a,b,1,-2,true,bid,1,1", CLB_EPARSE, "column local_timestamp");
    parse_bad(B, "a,b,1,,true,bid,1,1", CLB_EPARSE, "column local_timestamp");
    parse_bad(B, "a,b,1,99999999999999999999,true,bid,1,1", CLB_EPARSE, "local_timestamp");
    parse_bad(B, "a,b,1,2,yes,bid,1,1", CLB_EPARSE, "bad is_snapshot 'yes'");
    parse_bad(B, "a,b,1,2,true,buy,1,1", CLB_EPARSE, "unknown side 'buy'");
    parse_bad(B, "a,b,1,2,true,BID,1,1", CLB_EPARSE, "unknown side 'BID'");
    parse_bad(B, "a,b,1,2,true,bid,1.2.3,1", CLB_EPARSE, "column price: '1.2.3'");
    parse_bad(B, "a,b,1,2,true,bid,,1", CLB_EPARSE, "column price");
    parse_bad(B, "a,b,1,2,true,bid,1, 1", CLB_EPARSE, "column amount");
    parse_bad(B, "a,b,1,2,true,bid,0,1", CLB_EPARSE, "non-positive price");
    parse_bad(B, "a,b,1,2,true,bid,-5,1", CLB_EPARSE, "non-positive price");
    parse_bad(B, "a,b,1,2,false,ask,5,-0.1", CLB_EPARSE, "negative amount");
    parse_bad(B, "a,b,1,2,false,ask,99999999999999999999,1", CLB_EOVERFLOW, "column price");
    parse_bad(T, "a,b,1,2,7,bid,1,1", CLB_EPARSE, "unknown side 'bid'");
    parse_bad(T, "a,b,1,2,7,buy,1,0", CLB_EPARSE, "trade with amount 0");
    parse_bad(T, "a,b,1,2,7,buy,1,1,", CLB_EPARSE, "found 9");
}

Test(tardis, headers)
{
    struct clb_tardis_error err;
    const char *b = CLB_TARDIS_BOOK_HEADER, *t = CLB_TARDIS_TRADES_HEADER;
    cr_assert_eq(clb_tardis_check_header(CLB_TARDIS_BOOK, b, strlen(b), &err), CLB_OK);
    cr_assert_eq(clb_tardis_check_header(CLB_TARDIS_TRADES, t, strlen(t), &err), CLB_OK);
    const char *bcr = CLB_TARDIS_BOOK_HEADER "\r";
    cr_assert_eq(clb_tardis_check_header(CLB_TARDIS_BOOK, bcr, strlen(bcr), &err), CLB_OK);
    cr_assert_eq(clb_tardis_check_header(CLB_TARDIS_BOOK, t, strlen(t), &err), CLB_EPARSE);
    cr_assert(strstr(err.msg, "this is a trades file"), "%s", err.msg);
    cr_assert_eq(clb_tardis_check_header(CLB_TARDIS_TRADES, "a,b,c", 5, &err), CLB_EPARSE);
    cr_assert(strstr(err.msg, "bad header 'a,b,c'"), "%s", err.msg);
}

/* Runs an import to the end into an array; returns the count or the error. */
static int import_all(const char *book, const char *trades, int ps, int qs,
                      struct clb_md_record *out, size_t cap, struct clb_tardis_error *err,
                      struct clb_tardis_stats *stats)
{
    struct text_src bs = book ? src_of(book) : (struct text_src){ 0 };
    struct text_src ts = trades ? src_of(trades) : (struct text_src){ 0 };
    struct clb_tardis_importer im;
    cr_assert_eq(clb_tardis_importer_init(&im, ps, qs, book ? text_line : NULL, &bs,
                                          trades ? text_line : NULL, &ts),
                 CLB_OK);
    size_t n = 0;
    int rc;
    struct clb_md_record r;
    while ((rc = clb_tardis_importer_next(&im, &r, err)) > 0) {
        cr_assert_lt(n, cap);
        out[n++] = r;
    }
    if (stats)
        *stats = im.stats;
    if (rc < 0) {
        /* sticky */
        struct clb_tardis_error again;
        cr_assert_eq(clb_tardis_importer_next(&im, &r, &again), rc);
        cr_assert_eq(again.line, err->line);
        return rc;
    }
    return (int)n;
}

static void expect_rec(const struct clb_md_record *r, int64_t ts_us, int kind, int64_t price,
                       int64_t qty, int flags)
{
    cr_assert_eq(r->ts_ns, ts_us * 1000);
    cr_assert_eq(r->kind, kind, "kind %d != %d", r->kind, kind);
    cr_assert_eq(r->price, price, "price %lld != %lld", (long long)r->price, (long long)price);
    cr_assert_eq(r->qty, qty, "qty %lld != %lld", (long long)r->qty, (long long)qty);
    cr_assert_eq(r->flags, flags, "flags 0x%x != 0x%x at ts %lld", r->flags, flags,
                 (long long)ts_us);
}

Test(tardis, merge_snapshots_and_batches)
{
    const char *book = BOOK_HDR
        "bin,BTCUSDT,90,90,false,bid,99.5,1\n"    /* before the first snapshot: skipped */
        "bin,BTCUSDT,100,100,true,bid,100.5,2\n"  /* snapshot 1 */
        "bin,BTCUSDT,100,100,true,ask,101,3\n"
        "bin,BTCUSDT,110,110,false,ask,101,1.5\n" /* update batch of two rows */
        "bin,BTCUSDT,110,110,false,bid,100.5,0\n"
        "bin,BTCUSDT,120,120,false,bid,100,4\n"   /* same local ts as a trade */
        "bin,BTCUSDT,130,130,true,bid,99,1\n"     /* snapshot 2 (after updates): RESET */
        "bin,BTCUSDT,130,130,true,ask,102,1\n";
    const char *trades = TRADES_HDR
        "bin,BTCUSDT,105,105,1,buy,101,0.5\n"
        "bin,BTCUSDT,119,120,2,sell,100,0.25\n"
        "bin,BTCUSDT,119,120,3,unknown,100.5,0.25\n" /* above the last price: BUY */
        "bin,BTCUSDT,125,125,4,unknown,100.5,0.25\n" /* equal: previous side */
        "bin,BTCUSDT,126,126,5,unknown,100,1\n";     /* below: SELL */
    struct clb_md_record r[32];
    struct clb_tardis_error err;
    struct clb_tardis_stats st;
    int n = import_all(book, trades, 1, 2, r, 32, &err, &st);
    cr_assert_eq(n, 12, "n %d (%s)", n, err.msg);
    const int S = CLB_MD_F_SNAPSHOT, R = CLB_MD_F_RESET, E = CLB_MD_F_BATCH_END;
    expect_rec(&r[0], 100, CLB_MD_BID, 1005, 200, S | R);
    expect_rec(&r[1], 100, CLB_MD_ASK, 1010, 300, S | E);
    expect_rec(&r[2], 105, CLB_MD_TRADE_BUY, 1010, 50, E);
    cr_assert_eq(r[2].trade_id, 1);
    expect_rec(&r[3], 110, CLB_MD_ASK, 1010, 150, 0);
    expect_rec(&r[4], 110, CLB_MD_BID, 1005, 0, E);
    expect_rec(&r[5], 120, CLB_MD_BID, 1000, 400, E); /* book first at equal time */
    expect_rec(&r[6], 120, CLB_MD_TRADE_SELL, 1000, 25, 0);
    expect_rec(&r[7], 120, CLB_MD_TRADE_BUY, 1005, 25, E);
    expect_rec(&r[8], 125, CLB_MD_TRADE_BUY, 1005, 25, E);
    expect_rec(&r[9], 126, CLB_MD_TRADE_SELL, 1000, 100, E);
    expect_rec(&r[10], 130, CLB_MD_BID, 990, 100, S | R);
    expect_rec(&r[11], 130, CLB_MD_ASK, 1020, 100, S | E);
    cr_assert_eq(st.rows[0], 8);
    cr_assert_eq(st.rows[1], 5);
    cr_assert_eq(st.records, 12);
    cr_assert_eq(st.skipped_book_rows, 1);
    cr_assert_eq(st.snapshots, 2);
    cr_assert_eq(st.unknown_sides, 3);
    cr_assert_eq(st.price_decimals, 1);
    cr_assert_eq(st.qty_decimals, 2);
    cr_assert_eq(st.price_gcd, 5);  /* 100.5 / 101 / 99 ... at scale 1 */
    cr_assert_eq(st.qty_gcd, 25);
}

Test(tardis, consecutive_snapshot_rows_are_one_snapshot)
{
    /* Tardis: reset only when a snapshot row follows a non-snapshot row */
    const char *book = BOOK_HDR
        "e,S,1,1,true,bid,1,1\n"
        "e,S,2,2,true,bid,2,1\n"
        "e,S,3,3,false,bid,2,0\n";
    struct clb_md_record r[8];
    struct clb_tardis_error err;
    int n = import_all(book, NULL, 0, 0, r, 8, &err, NULL);
    cr_assert_eq(n, 3, "%s", err.msg);
    const int S = CLB_MD_F_SNAPSHOT, R = CLB_MD_F_RESET, E = CLB_MD_F_BATCH_END;
    expect_rec(&r[0], 1, CLB_MD_BID, 1, 1, S | R | E);
    expect_rec(&r[1], 2, CLB_MD_BID, 2, 1, S | E);
    expect_rec(&r[2], 3, CLB_MD_BID, 2, 0, E);
}

Test(tardis, snapshot_and_update_at_the_same_instant_are_two_batches)
{
    const char *book = BOOK_HDR
        "e,S,1,1,true,bid,1,1\n"
        "e,S,1,1,false,bid,1,2\n";
    struct clb_md_record r[8];
    struct clb_tardis_error err;
    int n = import_all(book, NULL, 0, 0, r, 8, &err, NULL);
    cr_assert_eq(n, 2, "%s", err.msg);
    cr_assert_eq(r[0].flags, CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET | CLB_MD_F_BATCH_END);
    cr_assert_eq(r[1].flags, CLB_MD_F_BATCH_END);
}

Test(tardis, trades_only_and_empty_data)
{
    struct clb_md_record r[8];
    struct clb_tardis_error err;
    int n = import_all(NULL, TRADES_HDR "e,S,1,5,9,sell,3,2\n", 0, 0, r, 8, &err, NULL);
    cr_assert_eq(n, 1, "%s", err.msg);
    expect_rec(&r[0], 5, CLB_MD_TRADE_SELL, 3, 2, CLB_MD_F_BATCH_END);
    /* a header alone is a valid, empty import */
    n = import_all(BOOK_HDR, TRADES_HDR, 0, 0, r, 8, &err, NULL);
    cr_assert_eq(n, 0);
}

/* Imports and expects an error at a stream and line with a message. */
static void import_bad(const char *book, const char *trades, int ps, int qs, int code,
                       enum clb_tardis_stream stream, uint64_t line, const char *needle)
{
    struct clb_md_record r[64];
    struct clb_tardis_error err = { 0 };
    int rc = import_all(book, trades, ps, qs, r, 64, &err, NULL);
    cr_assert_eq(rc, code, "rc %d != %d (%s)", rc, code, err.msg);
    cr_assert_eq(err.code, code);
    cr_assert_eq(err.stream, stream, "stream %d (%s)", err.stream, err.msg);
    cr_assert_eq(err.line, line, "line %llu != %llu (%s)", (unsigned long long)err.line,
                 (unsigned long long)line, err.msg);
    cr_assert(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
}

Test(tardis, import_errors_carry_file_and_line)
{
    const enum clb_tardis_stream B = CLB_TARDIS_BOOK, T = CLB_TARDIS_TRADES;
    import_bad("", NULL, 2, 2, CLB_EPARSE, B, 1, "empty file");
    import_bad(TRADES_HDR, NULL, 2, 2, CLB_EPARSE, B, 1, "this is a trades file");
    import_bad(BOOK_HDR, "exchange,symbol\n", 2, 2, CLB_EPARSE, T, 1, "bad header");
    import_bad(BOOK_HDR "e,S,1,1,true,bid,1,1\ne,S,2,2,true,bid,1\n", NULL, 2, 2, CLB_EPARSE, B,
               3, "expected 8 columns, found 7");
    import_bad(BOOK_HDR "e,S,1,1,true,bid,1,1\ne,S,1,1,true,bid,x,1\n", NULL, 2, 2, CLB_EPARSE,
               B, 3, "bad number in column price: 'x'");
    import_bad(BOOK_HDR "e,S,1,1,true,bid,1,1\ne,S,1,1,true,bid,1,-1\n", NULL, 2, 2, CLB_EPARSE,
               B, 3, "negative amount");
    import_bad(BOOK_HDR "e,S,1,1,true,bid,1,1\ne,S,1,1,true,side,1,1\n", NULL, 2, 2, CLB_EPARSE,
               B, 3, "unknown side 'side'");
    import_bad(BOOK_HDR "e,S,1,5,true,bid,1,1\ne,S,1,6,true,bid,1,1\ne,S,1,4,true,bid,1,1\n",
               NULL, 2, 2, CLB_EPARSE, B, 4, "unsorted local_timestamp 4 after 6");
    import_bad(BOOK_HDR, TRADES_HDR "e,S,1,5,1,buy,1,1\ne,S,1,3,2,buy,1,1\n", 2, 2, CLB_EPARSE, T,
               3, "unsorted local_timestamp");
    import_bad(BOOK_HDR "e,S,1,1,true,bid,1.123,1\n", NULL, 2, 2, CLB_EPRECISION, B, 2,
               "price 1.123 has more decimals than the price scale 2");
    import_bad(BOOK_HDR "e,S,1,1,true,bid,1.12,0.001\n", NULL, 2, 2, CLB_EPRECISION, B, 2,
               "amount 0.001 has more decimals");
    import_bad(BOOK_HDR "e,S,1,1,true,bid,92233720368547759,1\n", NULL, 2, 2, CLB_EOVERFLOW, B, 2,
               "does not fit");
    import_bad(BOOK_HDR "e,S,1,1,true,bid,1,1\n", TRADES_HDR "e,T,1,2,1,buy,1,1\n", 2, 2,
               CLB_EPARSE, T, 2, "symbol 'T' differs from 'S'");
    import_bad(BOOK_HDR "e,S,1,1,true,bid,1,1\nf,S,1,1,true,bid,1,1\n", NULL, 2, 2, CLB_EPARSE, B,
               3, "exchange 'f' differs");
    import_bad(BOOK_HDR "e,SYMBOL-THAT-IS-FAR-TOO-LONG-FOR-THE-FILE,1,1,true,bid,1,1\n", NULL, 2,
               2, CLB_EPARSE, B, 2, "longer than 31 bytes");
    /* the first row after the header is line 2, even when rows are skipped */
    import_bad(BOOK_HDR "e,S,1,1,false,bid,1,1\ne,S,1,1,false,bid,1,1\ne,S,1,1,false,bod,1,1\n",
               NULL, 2, 2, CLB_EPARSE, B, 4, "unknown side 'bod'");
    /* errors in the lookahead are reported before the row before them is produced */
    import_bad(BOOK_HDR "e,S,1,1,true,bid,1,1\n", TRADES_HDR "e,S,1,2,1,buy,1,1\ne,S,1,2,1,buy\n",
               2, 2, CLB_EPARSE, T, 3, "columns");
}

Test(tardis, source_errors_and_bad_init)
{
    struct clb_tardis_importer im;
    cr_assert_eq(clb_tardis_importer_init(&im, 2, 2, NULL, NULL, NULL, NULL), CLB_EINVAL);
    cr_assert_eq(clb_tardis_importer_init(&im, 19, 2, failing_line, NULL, NULL, NULL),
                 CLB_EINVAL);
    cr_assert_eq(clb_tardis_importer_init(&im, CLB_TARDIS_SCAN, 2, failing_line, NULL, NULL,
                                          NULL),
                 CLB_EINVAL);
    cr_assert_eq(clb_tardis_importer_init(&im, 2, 2, failing_line, NULL, NULL, NULL), CLB_OK);
    struct clb_md_record r;
    struct clb_tardis_error err;
    cr_assert_eq(clb_tardis_importer_next(&im, &r, &err), CLB_EIO);
    cr_assert_eq(err.line, 1);
    cr_assert(strstr(err.msg, "read error"));
}

Test(tardis, scan_mode_measures_decimals)
{
    const char *book = BOOK_HDR
        "e,S,1,1,true,bid,60000.10,0.00100\n" /* trailing zeros do not count */
        "e,S,1,1,true,ask,60000.25,2\n";
    const char *trades = TRADES_HDR "e,S,1,2,1,buy,60000.5,0.123456\n";
    struct text_src bs = src_of(book), ts = src_of(trades);
    struct clb_tardis_importer im;
    cr_assert_eq(clb_tardis_importer_init(&im, CLB_TARDIS_SCAN, CLB_TARDIS_SCAN, text_line, &bs,
                                          text_line, &ts),
                 CLB_OK);
    struct clb_tardis_error err;
    cr_assert_eq(clb_tardis_importer_drain(&im, &err), 0);
    cr_assert_eq(im.stats.price_decimals, 2);
    cr_assert_eq(im.stats.qty_decimals, 6);
    cr_assert_eq(im.stats.records, 3);
    cr_assert_str_eq(clb_tardis_exchange(&im), "e");
    cr_assert_str_eq(clb_tardis_symbol(&im), "S");
}

/* ---- round trip: synth records -> Tardis CSV text -> import ---- */

static void put_scaled(char **p, int64_t v, int scale)
{
    char buf[CLB_DEC_STRLEN];
    cr_assert_gt(clb_dec_format(clb_dec_make(v, scale), buf, sizeof(buf)), 0);
    /* Tardis prints numbers without trailing zeros */
    char *dot = strchr(buf, '.');
    if (dot) {
        char *e = buf + strlen(buf) - 1;
        while (*e == '0')
            *e-- = '\0';
        if (*e == '.')
            *e = '\0';
    }
    *p += sprintf(*p, "%s", buf);
}

Test(tardis, synth_round_trip)
{
    struct clb_synth_params p;
    clb_synth_default_params(&p);
    struct clb_synth s;
    cr_assert_eq(clb_synth_init(&s, &p, 11), CLB_OK);
    size_t n = 30000;
    struct clb_md_record *src = malloc(n * sizeof(*src));
    clb_synth_fill(&s, src, n);
    clb_synth_deinit(&s);
    char *book = malloc(n * 100 + 200), *trades = malloc(n * 100 + 200);
    char *bp = book + sprintf(book, BOOK_HDR), *tp = trades + sprintf(trades, TRADES_HDR);
    size_t nb = 0, nt = 0;
    for (size_t i = 0; i < n; i++) {
        const struct clb_md_record *r = &src[i];
        long long us = (long long)(r->ts_ns / 1000);
        if (clb_md_is_trade(r)) {
            tp += sprintf(tp, "synth,BTC-USDT,%lld,%lld,%u,%s,", us, us, r->trade_id,
                          r->kind == CLB_MD_TRADE_BUY ? "buy" : "sell");
            put_scaled(&tp, r->price, 2);
            *tp++ = ',';
            put_scaled(&tp, r->qty, 5);
            *tp++ = '\n';
            nt++;
        } else {
            bp += sprintf(bp, "synth,BTC-USDT,%lld,%lld,%s,%s,", us, us,
                          (r->flags & CLB_MD_F_SNAPSHOT) ? "true" : "false",
                          r->kind == CLB_MD_BID ? "bid" : "ask");
            put_scaled(&bp, r->price, 2);
            *bp++ = ',';
            put_scaled(&bp, r->qty, 5);
            *bp++ = '\n';
            nb++;
        }
    }
    *bp = *tp = '\0';
    struct clb_md_record *got = malloc(n * sizeof(*got));
    struct clb_tardis_error err;
    struct clb_tardis_stats st;
    int m = import_all(book, trades, 2, 5, got, n, &err, &st);
    cr_assert_eq(m, (int)n, "imported %d of %zu (%s line %llu)", m, n, err.msg,
                 (unsigned long long)err.line);
    cr_assert_eq(st.rows[0], nb);
    cr_assert_eq(st.rows[1], nt);
    cr_assert_eq(st.price_decimals, 2);
    /* each stream's sequence comes back exactly (the interleaving may differ
     * only where two messages share a microsecond) */
    size_t gi[2] = { 0, 0 };
    for (size_t i = 0; i < n; i++) {
        const struct clb_md_record *a = &src[i];
        int k = clb_md_is_trade(a);
        while (gi[k] < n && clb_md_is_trade(&got[gi[k]]) != k)
            gi[k]++;
        cr_assert_lt(gi[k], n);
        const struct clb_md_record *b = &got[gi[k]++];
        cr_assert_eq(b->kind, a->kind, "record %zu", i);
        cr_assert_eq(b->price, a->price, "record %zu", i);
        cr_assert_eq(b->qty, a->qty, "record %zu", i);
        cr_assert_eq(b->ts_ns, a->ts_ns / 1000 * 1000, "record %zu", i);
        cr_assert_eq(b->trade_id, a->trade_id, "record %zu", i);
        cr_assert_eq(b->flags & (CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET),
                     a->flags & (CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET), "record %zu", i);
    }
    /* and the result is a valid file body */
    struct clb_md_header h;
    cr_assert_eq(clb_md_header_init(&h, "synth", "BTC-USDT", 2, 5, 1, 1), CLB_OK);
    struct clb_md_error merr;
    for (int i = 0; i < m; i++) {
        cr_assert_eq(clb_md_record_check(&h, &got[i], &merr), CLB_OK, "%s", merr.msg);
        if (i > 0)
            cr_assert_geq(got[i].ts_ns, got[i - 1].ts_ns);
    }
    free(src);
    free(got);
    free(book);
    free(trades);
}
