/*
 * market_data.c — header and record checks, the whole-file validation pass
 * and the chunked writer of the .clbmd format (market_data.h).
 *
 * The on-disk layout is the in-memory layout of two plain structs; the
 * static asserts below are what make "decode" a memcpy and an mmap usable
 * in place. Validation is one sequential pass that stops at the first
 * problem and names its byte offset.
 */
#include "market_data.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
               "the .clbmd format is used in place: little-endian hosts only");
_Static_assert(sizeof(struct clb_md_header) == CLB_MD_HEADER_SIZE, "header is 128 bytes");
_Static_assert(sizeof(struct clb_md_record) == CLB_MD_RECORD_SIZE, "record is 32 bytes");
_Static_assert(offsetof(struct clb_md_header, tick) == 16, "header layout");
_Static_assert(offsetof(struct clb_md_header, count) == 32, "header layout");
_Static_assert(offsetof(struct clb_md_header, exchange) == 64, "header layout");
_Static_assert(offsetof(struct clb_md_header, symbol) == 96, "header layout");
_Static_assert(offsetof(struct clb_md_record, kind) == 24, "record layout");
_Static_assert(offsetof(struct clb_md_record, trade_id) == 28, "record layout");

/* printf-style error filler; returns code so callers can `return fail(...)`. */
__attribute__((format(printf, 5, 6))) static int fail(struct clb_md_error *err, int code,
                                                      uint64_t offset, int64_t record,
                                                      const char *fmt, ...)
{
    if (err) {
        err->code = code;
        err->offset = offset;
        err->record = record;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* A NUL-padded name: a NUL within the field and only NULs after it. */
static bool name_ok(const char *s, size_t n)
{
    size_t len = strnlen(s, n);
    if (len == n)
        return false;
    return all_zero((const uint8_t *)s + len, n - len);
}

static void copy_name(char *dst, const char *src)
{
    memset(dst, 0, CLB_MD_NAME_MAX);
    size_t len = strnlen(src, CLB_MD_NAME_MAX - 1);
    memcpy(dst, src, len);
}

int clb_md_header_init(struct clb_md_header *h, const char *exchange, const char *symbol,
                       int price_scale, int qty_scale, int64_t tick, int64_t step)
{
    if (!exchange || !symbol || price_scale < 0 || price_scale > CLB_MD_MAX_SCALE ||
        qty_scale < 0 || qty_scale > CLB_MD_MAX_SCALE || tick <= 0 || step <= 0)
        return CLB_EINVAL;
    memset(h, 0, sizeof(*h));
    memcpy(h->magic, CLB_MD_MAGIC, sizeof(h->magic));
    h->version = CLB_MD_VERSION;
    h->header_size = CLB_MD_HEADER_SIZE;
    h->price_scale = (uint8_t)price_scale;
    h->qty_scale = (uint8_t)qty_scale;
    h->tick = tick;
    h->step = step;
    copy_name(h->exchange, exchange);
    copy_name(h->symbol, symbol);
    return CLB_OK;
}

#define HOFF(field) ((uint64_t)offsetof(struct clb_md_header, field))

int clb_md_header_check(const struct clb_md_header *h, struct clb_md_error *err)
{
    if (memcmp(h->magic, CLB_MD_MAGIC, sizeof(h->magic)) != 0)
        return fail(err, CLB_EPARSE, 0, -1, "bad magic: not a colibri market-data file");
    if (h->version != CLB_MD_VERSION)
        return fail(err, CLB_EUNSUPPORTED, HOFF(version), -1,
                    "unsupported version %u (this build reads %u)", h->version, CLB_MD_VERSION);
    if (h->header_size != CLB_MD_HEADER_SIZE)
        return fail(err, CLB_EPARSE, HOFF(header_size), -1, "header size %u, expected %u",
                    h->header_size, CLB_MD_HEADER_SIZE);
    if (h->price_scale > CLB_MD_MAX_SCALE)
        return fail(err, CLB_EPARSE, HOFF(price_scale), -1, "price scale %u out of range 0..18",
                    h->price_scale);
    if (h->qty_scale > CLB_MD_MAX_SCALE)
        return fail(err, CLB_EPARSE, HOFF(qty_scale), -1, "qty scale %u out of range 0..18",
                    h->qty_scale);
    if (!all_zero(h->reserved0, sizeof(h->reserved0)))
        return fail(err, CLB_EPARSE, HOFF(reserved0), -1, "reserved header bytes not zero");
    if (h->flags & ~CLB_MD_HDR_KNOWN_FLAGS)
        return fail(err, CLB_EPARSE, HOFF(flags), -1, "unknown header flags 0x%x",
                    (unsigned)h->flags);
    if (h->tick <= 0)
        return fail(err, CLB_EPARSE, HOFF(tick), -1, "tick %lld not positive",
                    (long long)h->tick);
    if (h->step <= 0)
        return fail(err, CLB_EPARSE, HOFF(step), -1, "step %lld not positive",
                    (long long)h->step);
    if (h->count == 0 && (h->first_ts_ns != 0 || h->last_ts_ns != 0))
        return fail(err, CLB_EPARSE, HOFF(first_ts_ns), -1, "empty file with a time span");
    if (h->first_ts_ns > h->last_ts_ns)
        return fail(err, CLB_EPARSE, HOFF(first_ts_ns), -1, "first ts after last ts");
    if (!all_zero(h->reserved1, sizeof(h->reserved1)))
        return fail(err, CLB_EPARSE, HOFF(reserved1), -1, "reserved header bytes not zero");
    if (!name_ok(h->exchange, sizeof(h->exchange)))
        return fail(err, CLB_EPARSE, HOFF(exchange), -1, "exchange name not NUL-padded");
    if (!name_ok(h->symbol, sizeof(h->symbol)))
        return fail(err, CLB_EPARSE, HOFF(symbol), -1, "symbol not NUL-padded");
    return CLB_OK;
}

int clb_md_header_encode(const struct clb_md_header *h, void *out, size_t cap,
                         struct clb_md_error *err)
{
    if (cap < CLB_MD_HEADER_SIZE)
        return fail(err, CLB_ERANGE, 0, -1, "output buffer smaller than the header");
    int rc = clb_md_header_check(h, err);
    if (rc != CLB_OK)
        return rc;
    memcpy(out, h, CLB_MD_HEADER_SIZE);
    return CLB_OK;
}

int clb_md_header_decode(const void *buf, size_t len, struct clb_md_header *h,
                         struct clb_md_error *err)
{
    struct clb_md_header tmp;
    if (len < sizeof(tmp.magic) || memcmp(buf, CLB_MD_MAGIC, sizeof(tmp.magic)) != 0)
        return fail(err, CLB_EPARSE, 0, -1, "bad magic: not a colibri market-data file");
    if (len < CLB_MD_HEADER_SIZE)
        return fail(err, CLB_EPARSE, len, -1, "truncated header: %zu of %d bytes", len,
                    CLB_MD_HEADER_SIZE);
    memcpy(&tmp, buf, sizeof(tmp));
    int rc = clb_md_header_check(&tmp, err);
    if (rc != CLB_OK)
        return rc;
    *h = tmp;
    return CLB_OK;
}

const char *clb_md_kind_name(int kind)
{
    switch (kind) {
    case CLB_MD_BID: return "bid";
    case CLB_MD_ASK: return "ask";
    case CLB_MD_TRADE_BUY: return "trade_buy";
    case CLB_MD_TRADE_SELL: return "trade_sell";
    default: return "unknown";
    }
}

/* The cheap conditions every good record meets, as one branch. */
static inline bool record_plain_ok(const struct clb_md_header *h, const struct clb_md_record *r)
{
    unsigned kind = r->kind, flags = r->flags;
    bool level = kind == CLB_MD_BID || kind == CLB_MD_ASK;
    bool trade = kind == CLB_MD_TRADE_BUY || kind == CLB_MD_TRADE_SELL;
    return (level || (trade && (flags & (CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET)) == 0 &&
                      r->qty > 0)) &&
           (flags & ~CLB_MD_F_KNOWN) == 0 &&
           ((flags & CLB_MD_F_RESET) == 0 || (flags & CLB_MD_F_SNAPSHOT) != 0) &&
           r->reserved == 0 && (!level || r->trade_id == 0) && r->price > 0 && r->qty >= 0 &&
           (h->tick == 1 || r->price % h->tick == 0) && (h->step == 1 || r->qty % h->step == 0);
}

int clb_md_record_check(const struct clb_md_header *h, const struct clb_md_record *r,
                        struct clb_md_error *err)
{
    if (record_plain_ok(h, r))
        return CLB_OK;
    /* Slow path: say exactly what is wrong, in a fixed order. */
    bool trade = clb_md_is_trade(r);
    if (r->kind < CLB_MD_BID || r->kind > CLB_MD_TRADE_SELL)
        return fail(err, CLB_EPARSE, 0, 0, "unknown kind %u", r->kind);
    if (r->flags & ~CLB_MD_F_KNOWN)
        return fail(err, CLB_EPARSE, 0, 0, "unknown flags 0x%02x", r->flags);
    if (trade && (r->flags & (CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET)))
        return fail(err, CLB_EPARSE, 0, 0, "trade flagged as snapshot/reset");
    if ((r->flags & CLB_MD_F_RESET) && !(r->flags & CLB_MD_F_SNAPSHOT))
        return fail(err, CLB_EPARSE, 0, 0, "RESET without SNAPSHOT");
    if (r->reserved != 0)
        return fail(err, CLB_EPARSE, 0, 0, "reserved record bytes not zero");
    if (!trade && r->trade_id != 0)
        return fail(err, CLB_EPARSE, 0, 0, "level record with a trade id");
    if (r->price <= 0)
        return fail(err, CLB_EPARSE, 0, 0, "non-positive price %lld", (long long)r->price);
    if (r->qty < 0)
        return fail(err, CLB_EPARSE, 0, 0, "negative qty %lld", (long long)r->qty);
    if (trade && r->qty == 0)
        return fail(err, CLB_EPARSE, 0, 0, "trade with qty 0");
    if (r->price % h->tick != 0)
        return fail(err, CLB_EPARSE, 0, 0, "price %lld not a multiple of tick %lld",
                    (long long)r->price, (long long)h->tick);
    return fail(err, CLB_EPARSE, 0, 0, "qty %lld not a multiple of step %lld",
                (long long)r->qty, (long long)h->step);
}

int clb_md_validate(const void *buf, size_t len, struct clb_md_error *err)
{
    struct clb_md_header h;
    int rc = clb_md_header_decode(buf, len, &h, err);
    if (rc != CLB_OK)
        return rc;
    uint64_t body = len - CLB_MD_HEADER_SIZE;
    if (body % CLB_MD_RECORD_SIZE != 0)
        return fail(err, CLB_EPARSE, CLB_MD_HEADER_SIZE + body / CLB_MD_RECORD_SIZE *
                                                         CLB_MD_RECORD_SIZE,
                    (int64_t)(body / CLB_MD_RECORD_SIZE),
                    "truncated: %llu trailing bytes after the last whole record",
                    (unsigned long long)(body % CLB_MD_RECORD_SIZE));
    uint64_t n = body / CLB_MD_RECORD_SIZE;
    if (n != h.count)
        return fail(err, CLB_EPARSE, n < h.count ? len : HOFF(count),
                    (int64_t)(n < h.count ? n : h.count),
                    "header says %llu records, file holds %llu%s", (unsigned long long)h.count,
                    (unsigned long long)n, n < h.count ? " (truncated)" : "");
    const unsigned char *base = (const unsigned char *)buf + CLB_MD_HEADER_SIZE;
    int64_t prev_ts = INT64_MIN;
    for (uint64_t i = 0; i < n; i++) {
        struct clb_md_record r;
        memcpy(&r, base + i * CLB_MD_RECORD_SIZE, sizeof(r)); /* alignment-agnostic */
        uint64_t off = CLB_MD_HEADER_SIZE + i * CLB_MD_RECORD_SIZE;
        if (!record_plain_ok(&h, &r)) {
            rc = clb_md_record_check(&h, &r, err);
            if (err) {
                err->offset = off;
                err->record = (int64_t)i;
            }
            return rc;
        }
        if (r.ts_ns < prev_ts)
            return fail(err, CLB_EPARSE, off, (int64_t)i,
                        "unsorted timestamps: ts %lld before previous %lld",
                        (long long)r.ts_ns, (long long)prev_ts);
        prev_ts = r.ts_ns;
    }
    if (n > 0) {
        struct clb_md_record first, last;
        memcpy(&first, base, sizeof(first));
        memcpy(&last, base + (n - 1) * CLB_MD_RECORD_SIZE, sizeof(last));
        if (first.ts_ns != h.first_ts_ns || last.ts_ns != h.last_ts_ns)
            return fail(err, CLB_EPARSE, HOFF(first_ts_ns), -1,
                        "header time span [%lld, %lld] differs from the records' [%lld, %lld]",
                        (long long)h.first_ts_ns, (long long)h.last_ts_ns,
                        (long long)first.ts_ns, (long long)last.ts_ns);
    }
    return CLB_OK;
}

/* ---- writer ---- */

int clb_md_writer_init(struct clb_md_writer *w, const struct clb_md_header *hdr,
                       size_t chunk_records, clb_md_sink_fn sink, void *ud)
{
    if (chunk_records == 0)
        chunk_records = 65536;
    if (!sink || chunk_records > CLB_MD_WRITER_MAX_CHUNK)
        return CLB_EINVAL;
    struct clb_md_header h = *hdr;
    h.count = 0;
    h.first_ts_ns = 0;
    h.last_ts_ns = 0;
    if (clb_md_header_check(&h, NULL) != CLB_OK)
        return CLB_EINVAL;
    struct clb_md_record *chunk = malloc(chunk_records * sizeof(*chunk));
    if (!chunk)
        return CLB_ENOMEM;
    memset(w, 0, sizeof(*w));
    w->hdr = h;
    w->chunk = chunk;
    w->cap = chunk_records;
    w->sink = sink;
    w->ud = ud;
    return CLB_OK;
}

void clb_md_writer_deinit(struct clb_md_writer *w)
{
    free(w->chunk);
    w->chunk = NULL;
    w->n = w->cap = 0;
}

static int writer_flush(struct clb_md_writer *w)
{
    if (w->failed)
        return w->failed;
    if (w->n == 0)
        return CLB_OK;
    int rc = w->sink(w->ud, w->chunk, w->n * sizeof(*w->chunk));
    w->n = 0;
    if (rc != CLB_OK) {
        w->failed = rc < 0 ? rc : CLB_EIO;
        return w->failed;
    }
    return CLB_OK;
}

int clb_md_writer_add_n(struct clb_md_writer *w, const struct clb_md_record *r, size_t n)
{
    if (w->failed)
        return w->failed;
    for (size_t i = 0; i < n; i++) {
        const struct clb_md_record *x = &r[i];
        uint64_t index = w->hdr.count;
        uint64_t off = CLB_MD_HEADER_SIZE + index * CLB_MD_RECORD_SIZE;
        if (!record_plain_ok(&w->hdr, x)) {
            int rc = clb_md_record_check(&w->hdr, x, &w->err);
            w->err.offset = off;
            w->err.record = (int64_t)index;
            return rc;
        }
        if (index > 0 && x->ts_ns < w->hdr.last_ts_ns)
            return fail(&w->err, CLB_EPARSE, off, (int64_t)index,
                        "unsorted timestamps: ts %lld before previous %lld",
                        (long long)x->ts_ns, (long long)w->hdr.last_ts_ns);
        if (w->n == w->cap) {
            int rc = writer_flush(w);
            if (rc != CLB_OK)
                return rc;
        }
        w->chunk[w->n++] = *x;
        if (index == 0)
            w->hdr.first_ts_ns = x->ts_ns;
        w->hdr.last_ts_ns = x->ts_ns;
        w->hdr.count++;
    }
    return CLB_OK;
}

int clb_md_writer_add(struct clb_md_writer *w, const struct clb_md_record *r)
{
    return clb_md_writer_add_n(w, r, 1);
}

int clb_md_writer_finish(struct clb_md_writer *w, struct clb_md_header *out)
{
    int rc = writer_flush(w);
    if (rc != CLB_OK)
        return rc;
    *out = w->hdr;
    return CLB_OK;
}
