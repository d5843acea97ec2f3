/*
 * bench_md.c — Binance market data on the hot path (connectors/binance):
 *   md_depth_update               parse + apply one combined-stream
 *                                 depthUpdate of 10 levels (5 bids + 5 asks,
 *                                 Binance's 8-decimal strings, ~460 bytes)
 *                                 to a loaded book (1000 levels a side)
 *                                 through the book sync; target <= 1 us
 *   md_depth_update_10x10         the same with 10 bids + 10 asks (~770 bytes),
 *                                 no target
 *   md_depth_parse                the parse alone (5 + 5)
 *   md_depth_parse_10x10          the parse alone (10 + 10)
 *   md_depth_update_jansson       the 5 + 5 case with jansson instead
 *   md_depth_update_jansson_10x10 (json_loadb, clb_dec_parse, apply), for
 *                                 comparison
 *   md_depth_jsmn_tokenize_10x10  jsmn (Debian libjsmn-dev, header-only,
 *                                 built in when <jsmn.h> exists) tokenizing
 *                                 the 10 + 10 message, nothing converted: a
 *                                 lower bound for any parser built on jsmn
 * Messages are generated before timing from a fixed seed: levels within 20
 * ticks of the top, best first as Binance sends them, one in five a
 * deletion, consecutive update ids. When the timed loop wraps around its
 * message array the book's update id is rewound so the same messages apply
 * again.
 */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_include)
#if __has_include(<jsmn.h>)
#define JSMN_STATIC
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-function"
#include <jsmn.h>
#pragma GCC diagnostic pop
#define HAVE_JSMN 1
#endif
#endif

#include "bench.h"
#include "binance_book_sync.h"
#include "binance_md.h"
#include "decimal.h"
#include "error.h"

void bench_md(struct bench_ctx *ctx);

#define NMSG 64 /* power of two; 30-50 KB of text: cache-resident, as a frame just read is */
#define BOOK_LEVELS 1000
#define BEST_BID 6700000 /* 67000.00 at price scale 2 */
#define BEST_ASK 6700001
#define PRICE_SCALE 2
#define QTY_SCALE 8
#define FIRST_ID 1000000000ull

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct md_state {
    struct clb_binance_md p;
    struct clb_binance_book_sync s;
    char *text[NMSG];
    size_t len[NMSG];
    uint64_t errors;
};

/* Binance writes prices and quantities with 8 decimals. */
static int put_dec(char *o, size_t cap, int64_t m, int scale)
{
    int64_t p10 = 1;
    for (int i = 0; i < scale; i++)
        p10 *= 10;
    char frac[32];
    snprintf(frac, sizeof(frac), "%0*" PRId64, scale, m % p10);
    return snprintf(o, cap, "%" PRId64 ".%s%.*s", m / p10, frac, 8 - scale, "00000000");
}

static char *make_msg(uint64_t *seed, uint64_t id, int n_side, size_t *len_out)
{
    char *b = malloc(4096);
    if (!b)
        return NULL;
    size_t n = (size_t)snprintf(b, 4096,
                                "{\"stream\":\"btcusdt@depth@100ms\",\"data\":{"
                                "\"e\":\"depthUpdate\",\"E\":%" PRIu64 ",\"s\":\"BTCUSDT\","
                                "\"U\":%" PRIu64 ",\"u\":%" PRIu64 ",\"b\":[",
                                (uint64_t)1700000000000ull + id, id, id + 1);
    for (int side = 0; side < 2; side++) {
        if (side == 1)
            n += (size_t)snprintf(b + n, 4096 - n, "],\"a\":[");
        /* n_side distinct offsets among the top 20 ticks, best first as
         * Binance sends them */
        int used[20] = { 0 };
        for (int k = 0; k < n_side; k++) {
            int off;
            do
                off = (int)(splitmix64(seed) % 20);
            while (used[off]);
            used[off] = 1;
        }
        for (int k = 0, off = -1; k < n_side; k++) {
            do
                off++;
            while (!used[off]);
            int64_t price = side == 0 ? BEST_BID - off : BEST_ASK + off;
            int64_t qty = splitmix64(seed) % 5 == 0 ? 0
                                                    : 1 + (int64_t)(splitmix64(seed) % 200000000);
            char ps[48], qs[48];
            put_dec(ps, sizeof(ps), price, PRICE_SCALE);
            put_dec(qs, sizeof(qs), qty, QTY_SCALE);
            n += (size_t)snprintf(b + n, 4096 - n, "%s[\"%s\",\"%s\"]", k ? "," : "", ps, qs);
        }
    }
    n += (size_t)snprintf(b + n, 4096 - n, "]}}");
    *len_out = n;
    return b;
}

static void md_free(struct md_state *m)
{
    for (int i = 0; i < NMSG; i++)
        free(m->text[i]);
    clb_binance_book_sync_deinit(&m->s);
    clb_binance_md_deinit(&m->p);
    free(m);
}

static struct md_state *md_setup(int n_side)
{
    struct md_state *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    struct clb_binance_md_config pc = { .max_levels = 64, .max_markets = 4 };
    struct clb_binance_book_sync_config sc = {
        .max_levels = BOOK_LEVELS, .max_buffered = 1024, .max_buffered_levels = 65536
    };
    uint64_t seed = 0x3d3d3d;
    if (clb_binance_md_init(&m->p, &pc) != CLB_OK ||
        clb_binance_md_add_market(&m->p, "BTCUSDT", PRICE_SCALE, QTY_SCALE, NULL) != CLB_OK ||
        clb_binance_book_sync_init(&m->s, &sc) != CLB_OK) {
        md_free(m);
        return NULL;
    }
    static struct clb_level bids[BOOK_LEVELS], asks[BOOK_LEVELS];
    for (int i = 0; i < BOOK_LEVELS; i++) {
        bids[i] = (struct clb_level){ BEST_BID - i, 1 + (int64_t)(splitmix64(&seed) % 100000000) };
        asks[i] = (struct clb_level){ BEST_ASK + i, 1 + (int64_t)(splitmix64(&seed) % 100000000) };
    }
    clb_binance_book_sync_stream_up(&m->s);
    if (clb_binance_book_sync_apply_snapshot(&m->s, FIRST_ID - 1, bids, BOOK_LEVELS, asks,
                                             BOOK_LEVELS) != CLB_OK) {
        md_free(m);
        return NULL;
    }
    for (int i = 0; i < NMSG; i++) {
        m->text[i] = make_msg(&seed, FIRST_ID + 2 * (uint64_t)i, n_side, &m->len[i]);
        if (!m->text[i]) {
            md_free(m);
            return NULL;
        }
    }
    return m;
}

static void run_update(void *state, uint64_t iters)
{
    struct md_state *m = state;
    uint64_t errors = 0;
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t j = (uint32_t)(i & (NMSG - 1));
        if (j == 0)
            m->s.book.update_id = FIRST_ID - 1; /* replay the same messages */
        struct clb_binance_md_msg msg;
        int rc = clb_binance_md_parse(&m->p, m->text[j], m->len[j], &msg);
        if (rc == CLB_OK)
            rc = clb_binance_book_sync_on_depth(&m->s, &msg.u.depth);
        errors += rc != CLB_OK;
    }
    m->errors += errors;
}

static void run_parse(void *state, uint64_t iters)
{
    struct md_state *m = state;
    uint64_t errors = 0;
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t j = (uint32_t)(i & (NMSG - 1));
        struct clb_binance_md_msg msg;
        errors += clb_binance_md_parse(&m->p, m->text[j], m->len[j], &msg) != CLB_OK;
        bench_sink(msg.u.depth.n_bids);
    }
    m->errors += errors;
}

/* The same work through jansson: tree, decimal strings, apply. */
static int jansson_levels(json_t *arr, struct clb_level *out, size_t *n)
{
    size_t k = json_array_size(arr);
    if (!json_is_array(arr) || k > 64)
        return CLB_EPARSE;
    for (size_t i = 0; i < k; i++) {
        json_t *el = json_array_get(arr, i);
        const char *ps = json_string_value(json_array_get(el, 0));
        const char *qs = json_string_value(json_array_get(el, 1));
        clb_dec p, q;
        if (!ps || !qs || clb_dec_parse_cstr(ps, &p) != CLB_OK ||
            clb_dec_parse_cstr(qs, &q) != CLB_OK ||
            clb_dec_to_scaled(p, PRICE_SCALE, &out[i].price) != CLB_OK ||
            clb_dec_to_scaled(q, QTY_SCALE, &out[i].qty) != CLB_OK)
            return CLB_EPARSE;
    }
    *n = k;
    return CLB_OK;
}

static void run_jansson(void *state, uint64_t iters)
{
    struct md_state *m = state;
    uint64_t errors = 0;
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t j = (uint32_t)(i & (NMSG - 1));
        if (j == 0)
            m->s.book.update_id = FIRST_ID - 1;
        json_error_t err;
        json_t *root = json_loadb(m->text[j], m->len[j], 0, &err);
        json_t *d = json_object_get(root, "data");
        struct clb_level bids[64], asks[64];
        size_t nb = 0, na = 0;
        const char *e = json_string_value(json_object_get(d, "e"));
        int rc = CLB_EPARSE;
        if (e && strcmp(e, "depthUpdate") == 0 &&
            jansson_levels(json_object_get(d, "b"), bids, &nb) == CLB_OK &&
            jansson_levels(json_object_get(d, "a"), asks, &na) == CLB_OK)
            rc = clb_binance_book_sync_on_diff(
                &m->s, (uint64_t)json_integer_value(json_object_get(d, "U")),
                (uint64_t)json_integer_value(json_object_get(d, "u")), bids, nb, asks, na);
        errors += rc != CLB_OK;
        json_decref(root);
    }
    m->errors += errors;
}

#ifdef HAVE_JSMN
static void run_jsmn(void *state, uint64_t iters)
{
    struct md_state *m = state;
    uint64_t errors = 0;
    for (uint64_t i = 0; i < iters; i++) {
        uint32_t j = (uint32_t)(i & (NMSG - 1));
        jsmn_parser jp;
        jsmntok_t tok[128];
        jsmn_init(&jp);
        int n = jsmn_parse(&jp, m->text[j], m->len[j], tok, 128);
        errors += n <= 0;
        bench_sink((uint64_t)tok[n > 0 ? n - 1 : 0].end);
    }
    m->errors += errors;
}
#endif

static void one(struct bench_ctx *ctx, const char *name, int n_side, bench_fn fn, double target)
{
    if (!bench_selected(ctx, name))
        return;
    struct md_state *m = md_setup(n_side);
    if (!m) {
        fprintf(stderr, "%s: setup failed\n", name);
        return;
    }
    bench_run(ctx, name, fn, m, target);
    if (m->errors)
        fprintf(stderr, "%s: %" PRIu64 " messages failed\n", name, m->errors);
    if (clb_book_check(&m->s.book) != CLB_OK)
        fprintf(stderr, "%s: book invariants broken\n", name);
    md_free(m);
}

void bench_md(struct bench_ctx *ctx)
{
    one(ctx, "md_depth_update", 5, run_update, 1000.0);
    one(ctx, "md_depth_update_10x10", 10, run_update, 0);
    one(ctx, "md_depth_parse", 5, run_parse, 0);
    one(ctx, "md_depth_parse_10x10", 10, run_parse, 0);
    one(ctx, "md_depth_update_jansson", 5, run_jansson, 0);
    one(ctx, "md_depth_update_jansson_10x10", 10, run_jansson, 0);
#ifdef HAVE_JSMN
    one(ctx, "md_depth_jsmn_tokenize_10x10", 10, run_jsmn, 0);
#endif
}
