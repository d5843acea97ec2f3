/* Tests for core/market_data.c: header/record layout, the chunked writer,
 * and one case per class of bad file with its reported offset. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "market_data.h"

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* An in-memory "file" the writer's sink appends to. */
struct membuf {
    unsigned char *p;
    size_t len, cap;
    int calls;
    int fail_at; /* sink call number that fails (0: never) */
};

static int mem_sink(void *ud, const void *bytes, size_t len)
{
    struct membuf *m = ud;
    m->calls++;
    if (m->fail_at && m->calls == m->fail_at)
        return CLB_EIO;
    if (m->len + len > m->cap) {
        size_t cap = (m->len + len) * 2;
        m->p = realloc(m->p, cap);
        cr_assert_not_null(m->p);
        m->cap = cap;
    }
    memcpy(m->p + m->len, bytes, len);
    m->len += len;
    return CLB_OK;
}

static struct clb_md_header test_header(void)
{
    struct clb_md_header h;
    cr_assert_eq(clb_md_header_init(&h, "binance", "BTC-USDT", 2, 5, 1, 1), CLB_OK);
    return h;
}

static struct clb_md_record rec(int64_t ts, int kind, int64_t price, int64_t qty, int flags)
{
    struct clb_md_record r = { .ts_ns = ts, .price = price, .qty = qty,
                               .kind = (uint8_t)kind, .flags = (uint8_t)flags };
    return r;
}

/* A valid 4-record image: snapshot of 2 levels, a trade + its level update. */
static size_t build_image(unsigned char *buf, size_t cap)
{
    struct clb_md_header h = test_header();
    struct clb_md_record r[4] = {
        rec(1000, CLB_MD_BID, 6000000, 150, CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET),
        rec(1000, CLB_MD_ASK, 6000001, 200, CLB_MD_F_SNAPSHOT | CLB_MD_F_BATCH_END),
        rec(2000, CLB_MD_TRADE_BUY, 6000001, 50, 0),
        rec(2000, CLB_MD_ASK, 6000001, 150, CLB_MD_F_BATCH_END),
    };
    r[2].trade_id = 77;
    h.count = 4;
    h.first_ts_ns = 1000;
    h.last_ts_ns = 2000;
    size_t len = CLB_MD_HEADER_SIZE + sizeof(r);
    cr_assert_geq(cap, len);
    cr_assert_eq(clb_md_header_encode(&h, buf, cap, NULL), CLB_OK);
    memcpy(buf + CLB_MD_HEADER_SIZE, r, sizeof(r));
    return len;
}

static struct clb_md_record *rec_at(unsigned char *buf, size_t i)
{
    return (struct clb_md_record *)(buf + CLB_MD_HEADER_SIZE + i * CLB_MD_RECORD_SIZE);
}

static struct clb_md_header *hdr_of(unsigned char *buf)
{
    return (struct clb_md_header *)buf;
}

/* Validates and checks the error's code, offset, record and message. */
static void expect_bad(const unsigned char *buf, size_t len, int code, uint64_t offset,
                       int64_t record, const char *needle)
{
    struct clb_md_error err;
    memset(&err, 0, sizeof(err));
    int rc = clb_md_validate(buf, len, &err);
    cr_assert_eq(rc, code, "rc %d != %d (%s)", rc, code, err.msg);
    cr_assert_eq(err.code, code);
    cr_assert_eq(err.offset, offset, "offset %llu != %llu (%s)",
                 (unsigned long long)err.offset, (unsigned long long)offset, err.msg);
    cr_assert_eq(err.record, record, "record %lld != %lld (%s)", (long long)err.record,
                 (long long)record, err.msg);
    cr_assert(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
}

Test(market_data, layout_is_fixed)
{
    cr_assert_eq(sizeof(struct clb_md_header), 128);
    cr_assert_eq(sizeof(struct clb_md_record), 32);
    unsigned char buf[256];
    size_t len = build_image(buf, sizeof(buf));
    /* little-endian fields at their documented offsets */
    cr_assert_eq(memcmp(buf, "CLBMD", 5), 0);
    cr_assert_eq(buf[5], CLB_MD_VERSION);
    cr_assert_eq(buf[6] | buf[7] << 8, 128);
    cr_assert_eq(buf[8], 2);
    cr_assert_eq(buf[9], 5);
    cr_assert_eq(buf[32], 4); /* count */
    cr_assert_eq(buf[40] | buf[41] << 8, 1000);
    cr_assert_str_eq((const char *)buf + 64, "binance");
    cr_assert_str_eq((const char *)buf + 96, "BTC-USDT");
    const unsigned char *r2 = buf + 128 + 2 * 32;
    cr_assert_eq(r2[24], CLB_MD_TRADE_BUY);
    cr_assert_eq(r2[28], 77);
    cr_assert_eq(clb_md_validate(buf, len, NULL), CLB_OK);
}

Test(market_data, header_round_trip)
{
    struct clb_md_header h = test_header(), back;
    h.flags = CLB_MD_HDR_SYNTHETIC;
    h.tick = 10;
    h.step = 1000;
    unsigned char buf[128];
    cr_assert_eq(clb_md_header_encode(&h, buf, sizeof(buf), NULL), CLB_OK);
    cr_assert_eq(clb_md_header_decode(buf, sizeof(buf), &back, NULL), CLB_OK);
    cr_assert_eq(memcmp(&h, &back, sizeof(h)), 0);
    cr_assert_eq(back.tick, 10);
    cr_assert_eq(back.step, 1000);
    cr_assert_eq(clb_md_header_encode(&h, buf, 127, NULL), CLB_ERANGE);
}

Test(market_data, header_init_rejects_bad_arguments)
{
    struct clb_md_header h;
    cr_assert_eq(clb_md_header_init(&h, "x", "y", 19, 5, 1, 1), CLB_EINVAL);
    cr_assert_eq(clb_md_header_init(&h, "x", "y", 2, -1, 1, 1), CLB_EINVAL);
    cr_assert_eq(clb_md_header_init(&h, "x", "y", 2, 5, 0, 1), CLB_EINVAL);
    cr_assert_eq(clb_md_header_init(&h, "x", "y", 2, 5, 1, -3), CLB_EINVAL);
    cr_assert_eq(clb_md_header_init(&h, NULL, "y", 2, 5, 1, 1), CLB_EINVAL);
    /* over-long names are truncated and stay NUL-terminated */
    cr_assert_eq(clb_md_header_init(&h, "a-very-long-exchange-name-beyond-32-bytes", "y", 2, 5,
                                    1, 1), CLB_OK);
    cr_assert_eq(strlen(h.exchange), 31);
    cr_assert_eq(clb_md_header_check(&h, NULL), CLB_OK);
}

Test(market_data, writer_round_trip_in_chunks)
{
    struct clb_md_header h = test_header(), fin;
    struct membuf m = { 0 };
    struct clb_md_writer w;
    cr_assert_eq(clb_md_writer_init(&w, &h, 3, mem_sink, &m), CLB_OK);
    /* the caller writes the placeholder header itself */
    unsigned char zero[CLB_MD_HEADER_SIZE] = { 0 };
    mem_sink(&m, zero, sizeof(zero));
    m.calls = 0;
    uint64_t seed = 42;
    struct clb_md_record want[10];
    int64_t ts = 5000;
    for (int i = 0; i < 10; i++) {
        ts += (int64_t)(splitmix(&seed) % 3);
        want[i] = rec(ts, i % 2 ? CLB_MD_ASK : CLB_MD_BID, 100 + i, (int64_t)(splitmix(&seed) % 9),
                      CLB_MD_F_BATCH_END);
        cr_assert_eq(clb_md_writer_add(&w, &want[i]), CLB_OK);
    }
    cr_assert_eq(m.calls, 3); /* three full chunks of 3 so far */
    cr_assert_eq(clb_md_writer_finish(&w, &fin), CLB_OK);
    cr_assert_eq(m.calls, 4);
    cr_assert_eq(fin.count, 10);
    cr_assert_eq(fin.first_ts_ns, want[0].ts_ns);
    cr_assert_eq(fin.last_ts_ns, want[9].ts_ns);
    cr_assert_eq(clb_md_header_encode(&fin, m.p, m.len, NULL), CLB_OK);
    cr_assert_eq(m.len, 128 + 10 * 32);
    struct clb_md_error err;
    cr_assert_eq(clb_md_validate(m.p, m.len, &err), CLB_OK, "%s", err.msg);
    const struct clb_md_record *got = clb_md_records(m.p);
    cr_assert_eq(memcmp(got, want, sizeof(want)), 0);
    clb_md_writer_deinit(&w);
    free(m.p);
}

Test(market_data, writer_rejects_bad_records_with_index)
{
    struct clb_md_header h = test_header(), fin;
    struct membuf m = { 0 };
    struct clb_md_writer w;
    cr_assert_eq(clb_md_writer_init(&w, &h, 0, mem_sink, &m), CLB_OK);
    struct clb_md_record a = rec(10, CLB_MD_BID, 5, 1, 0), b = rec(9, CLB_MD_BID, 5, 1, 0);
    cr_assert_eq(clb_md_writer_add(&w, &a), CLB_OK);
    cr_assert_eq(clb_md_writer_add(&w, &b), CLB_EPARSE);
    cr_assert_eq(w.err.record, 1);
    cr_assert_eq(w.err.offset, 128 + 32);
    cr_assert(strstr(w.err.msg, "unsorted"));
    struct clb_md_record c = rec(11, CLB_MD_TRADE_SELL, 5, 0, 0);
    cr_assert_eq(clb_md_writer_add(&w, &c), CLB_EPARSE);
    cr_assert(strstr(w.err.msg, "trade with qty 0"), "%s", w.err.msg);
    /* the good record is still the only one */
    cr_assert_eq(clb_md_writer_finish(&w, &fin), CLB_OK);
    cr_assert_eq(fin.count, 1);
    cr_assert_eq(m.len, 32);
    clb_md_writer_deinit(&w);
    free(m.p);
}

Test(market_data, writer_sink_error_is_sticky)
{
    struct clb_md_header h = test_header(), fin;
    struct membuf m = { .fail_at = 1 };
    struct clb_md_writer w;
    cr_assert_eq(clb_md_writer_init(&w, &h, 2, mem_sink, &m), CLB_OK);
    struct clb_md_record a = rec(10, CLB_MD_BID, 5, 1, 0);
    cr_assert_eq(clb_md_writer_add(&w, &a), CLB_OK);
    cr_assert_eq(clb_md_writer_add(&w, &a), CLB_OK);
    cr_assert_eq(clb_md_writer_add(&w, &a), CLB_EIO); /* flush of the full chunk fails */
    cr_assert_eq(clb_md_writer_add(&w, &a), CLB_EIO);
    cr_assert_eq(clb_md_writer_finish(&w, &fin), CLB_EIO);
    clb_md_writer_deinit(&w);
    free(m.p);
}

Test(market_data, writer_init_rejects_bad_input)
{
    struct clb_md_header h = test_header();
    struct clb_md_writer w;
    struct membuf m = { 0 };
    cr_assert_eq(clb_md_writer_init(&w, &h, 0, NULL, &m), CLB_EINVAL);
    cr_assert_eq(clb_md_writer_init(&w, &h, CLB_MD_WRITER_MAX_CHUNK + 1, mem_sink, &m),
                 CLB_EINVAL);
    h.magic[0] = 'X';
    cr_assert_eq(clb_md_writer_init(&w, &h, 0, mem_sink, &m), CLB_EINVAL);
}

Test(market_data, empty_file_is_valid)
{
    struct clb_md_header h = test_header();
    unsigned char buf[128];
    cr_assert_eq(clb_md_header_encode(&h, buf, sizeof(buf), NULL), CLB_OK);
    cr_assert_eq(clb_md_validate(buf, sizeof(buf), NULL), CLB_OK);
    h.first_ts_ns = 5;
    h.last_ts_ns = 5;
    memcpy(buf, &h, sizeof(h));
    expect_bad(buf, sizeof(buf), CLB_EPARSE, 40, -1, "empty file with a time span");
}

Test(market_data, bad_header_classes)
{
    unsigned char buf[256];
    size_t len = build_image(buf, sizeof(buf));

    buf[0] = 'X';
    expect_bad(buf, len, CLB_EPARSE, 0, -1, "bad magic");
    expect_bad(buf, 3, CLB_EPARSE, 0, -1, "bad magic");
    len = build_image(buf, sizeof(buf));
    expect_bad(buf, 100, CLB_EPARSE, 100, -1, "truncated header");

    hdr_of(buf)->version = 2;
    expect_bad(buf, len, CLB_EUNSUPPORTED, 5, -1, "unsupported version 2");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->header_size = 64;
    expect_bad(buf, len, CLB_EPARSE, 6, -1, "header size 64");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->price_scale = 19;
    expect_bad(buf, len, CLB_EPARSE, 8, -1, "price scale 19");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->qty_scale = 40;
    expect_bad(buf, len, CLB_EPARSE, 9, -1, "qty scale 40");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->reserved0[1] = 1;
    expect_bad(buf, len, CLB_EPARSE, 10, -1, "reserved");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->flags = 0x80;
    expect_bad(buf, len, CLB_EPARSE, 12, -1, "unknown header flags");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->tick = 0;
    expect_bad(buf, len, CLB_EPARSE, 16, -1, "tick 0");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->step = -5;
    expect_bad(buf, len, CLB_EPARSE, 24, -1, "step -5");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->reserved1[7] = 9;
    expect_bad(buf, len, CLB_EPARSE, 56, -1, "reserved");
    len = build_image(buf, sizeof(buf));
    memset(hdr_of(buf)->symbol, 'A', CLB_MD_NAME_MAX);
    expect_bad(buf, len, CLB_EPARSE, 96, -1, "symbol");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->exchange[20] = 'z'; /* junk after the NUL */
    expect_bad(buf, len, CLB_EPARSE, 64, -1, "exchange");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->first_ts_ns = 3000;
    expect_bad(buf, len, CLB_EPARSE, 40, -1, "first ts after last ts");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->first_ts_ns = 999;
    expect_bad(buf, len, CLB_EPARSE, 40, -1, "time span");
}

Test(market_data, truncation_and_count_mismatch)
{
    unsigned char buf[256];
    size_t len = build_image(buf, sizeof(buf));
    /* a partial last record */
    expect_bad(buf, len - 5, CLB_EPARSE, 128 + 3 * 32, 3, "27 trailing bytes");
    /* whole records missing: the header promises 4 */
    expect_bad(buf, len - 32, CLB_EPARSE, len - 32, 3, "truncated");
    /* more records than the header says */
    hdr_of(buf)->count = 2;
    expect_bad(buf, len, CLB_EPARSE, 32, 2, "header says 2 records, file holds 4");
}

Test(market_data, bad_record_classes)
{
    unsigned char buf[256];
    size_t len;
#define CASE(idx, mutate, needle)                                                 \
    do {                                                                          \
        len = build_image(buf, sizeof(buf));                                      \
        struct clb_md_record *r = rec_at(buf, (idx));                             \
        mutate;                                                                   \
        expect_bad(buf, len, CLB_EPARSE, 128 + (idx) * 32, (idx), (needle));      \
    } while (0)
    CASE(2, r->ts_ns = 500, "unsorted timestamps");
    CASE(1, r->ts_ns = 999, "unsorted timestamps");
    CASE(1, r->qty = -1, "negative qty");
    CASE(0, r->price = 0, "non-positive price");
    CASE(3, r->price = -6000001, "non-positive price");
    CASE(2, r->qty = 0, "trade with qty 0");
    CASE(1, r->kind = 0, "unknown kind 0");
    CASE(3, r->kind = 9, "unknown kind 9");
    CASE(3, r->flags = 0x10, "unknown flags");
    CASE(3, r->flags = CLB_MD_F_RESET, "RESET without SNAPSHOT");
    CASE(2, r->flags = CLB_MD_F_SNAPSHOT, "trade flagged");
    CASE(1, r->reserved = 1, "reserved");
    CASE(1, r->trade_id = 5, "trade id");
#undef CASE
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->tick = 2;
    expect_bad(buf, len, CLB_EPARSE, 128 + 32, 1, "not a multiple of tick");
    len = build_image(buf, sizeof(buf));
    hdr_of(buf)->step = 100;
    expect_bad(buf, len, CLB_EPARSE, 128, 0, "qty 150 not a multiple of step 100");
    /* the first error wins */
    len = build_image(buf, sizeof(buf));
    rec_at(buf, 3)->qty = -1;
    rec_at(buf, 1)->kind = 7;
    expect_bad(buf, len, CLB_EPARSE, 128 + 32, 1, "unknown kind 7");
}

Test(market_data, record_check_alone)
{
    struct clb_md_header h = test_header();
    struct clb_md_error err;
    struct clb_md_record r = rec(1, CLB_MD_ASK, 10, 0, CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET);
    cr_assert_eq(clb_md_record_check(&h, &r, &err), CLB_OK); /* a snapshot delete is legal */
    r.kind = CLB_MD_TRADE_BUY;
    r.flags = 0;
    cr_assert_eq(clb_md_record_check(&h, &r, &err), CLB_EPARSE);
    cr_assert_str_eq(err.msg, "trade with qty 0");
    cr_assert_str_eq(clb_md_kind_name(CLB_MD_TRADE_SELL), "trade_sell");
    cr_assert_str_eq(clb_md_kind_name(0), "unknown");
}

/* Random corruption never crashes the validator and any error it reports
 * points inside the file (run under ASan in the asan preset). */
Test(market_data, random_corruption_is_reported_in_bounds)
{
    unsigned char good[256], buf[256];
    size_t len = build_image(good, sizeof(good));
    uint64_t seed = 7;
    int bad = 0;
    for (int iter = 0; iter < 20000; iter++) {
        memcpy(buf, good, len);
        size_t cut = len;
        int flips = 1 + (int)(splitmix(&seed) % 3);
        for (int k = 0; k < flips; k++)
            buf[splitmix(&seed) % len] ^= (unsigned char)(1u << (splitmix(&seed) % 8));
        if (splitmix(&seed) % 8 == 0)
            cut = splitmix(&seed) % (len + 1);
        struct clb_md_error err = { 0 };
        int rc = clb_md_validate(buf, cut, &err);
        if (rc != CLB_OK) {
            bad++;
            cr_assert_leq(err.offset, cut);
            cr_assert(err.msg[0] != '\0');
            cr_assert(err.record >= -1 && err.record <= 4);
        }
    }
    cr_assert_gt(bad, 5000); /* many single-bit flips are caught */
}
