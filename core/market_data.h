/*
 * market_data.h — colibri's binary market-data file (".clbmd"): one market's
 * order-book level changes and trades, in the order they were received.
 *
 * The file is a 128-byte header followed by `count` records of 32 bytes,
 * little-endian, no padding between them. The structs below ARE the on-disk
 * layout (static asserts pin sizes and offsets, and the host must be
 * little-endian), so a reader mmaps the file, validates it once with
 * clb_md_validate() and then uses the records in place: a replay is a
 * sequential walk over an array.
 *
 * Record semantics (a replay applies records in file order):
 *  - BID / ASK: the level at `price` now holds `qty` (0 deletes it).
 *  - TRADE_BUY / TRADE_SELL: a trade of `qty` at `price`; the name is the
 *    taker's side (TRADE_BUY: a buyer lifted an ask). Trades do not change
 *    the book by themselves; feeds that know the consequence follow a trade
 *    with the level update in the same batch.
 *  - flags SNAPSHOT: the level belongs to a full snapshot; RESET (always with
 *    SNAPSHOT, on the snapshot's first record): clear the book first.
 *  - flags BATCH_END: last record of one exchange message. The book is only
 *    coherent at batch ends, so consumers run strategy logic there only.
 *  - ts_ns is the local receive time (ns since the Unix epoch), never
 *    decreasing along the file; all records of a batch share it.
 *  - price > 0 and qty >= 0 are integers at the header's price_scale /
 *    qty_scale, multiples of its tick / step; a trade has qty > 0.
 *
 * Everything here works on memory only: the caller reads, writes or maps
 * files (server/md_file.h). Thread-safe: no shared state.
 */
#ifndef CLB_MARKET_DATA_H
#define CLB_MARKET_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLB_MD_MAGIC "CLBMD" /* 5 bytes, no NUL in the file */
#define CLB_MD_VERSION 1
#define CLB_MD_HEADER_SIZE 128
#define CLB_MD_RECORD_SIZE 32
#define CLB_MD_NAME_MAX 32 /* exchange / symbol field size, NUL-padded */
#define CLB_MD_MAX_SCALE 18

/* Header flags. */
#define CLB_MD_HDR_SYNTHETIC 0x1u /* produced by the synthetic generator */
#define CLB_MD_HDR_KNOWN_FLAGS CLB_MD_HDR_SYNTHETIC

/* The 128-byte file header, little-endian, used in place. */
struct clb_md_header {
    char magic[5];        /*   0 "CLBMD" */
    uint8_t version;      /*   5 CLB_MD_VERSION */
    uint16_t header_size; /*   6 CLB_MD_HEADER_SIZE */
    uint8_t price_scale;  /*   8 0..18 */
    uint8_t qty_scale;    /*   9 0..18 */
    uint8_t reserved0[2]; /*  10 zero */
    uint32_t flags;       /*  12 CLB_MD_HDR_* */
    int64_t tick;         /*  16 price tick at price_scale, > 0 */
    int64_t step;         /*  24 quantity step at qty_scale, > 0 */
    uint64_t count;       /*  32 number of records */
    int64_t first_ts_ns;  /*  40 ts of the first record (0 when empty) */
    int64_t last_ts_ns;   /*  48 ts of the last record (0 when empty) */
    uint8_t reserved1[8]; /*  56 zero */
    char exchange[CLB_MD_NAME_MAX]; /*  64 e.g. "binance", NUL-padded */
    char symbol[CLB_MD_NAME_MAX];   /*  96 e.g. "BTC-USDT", NUL-padded */
};

enum clb_md_kind {
    CLB_MD_BID = 1,        /* bid level set / deleted */
    CLB_MD_ASK = 2,        /* ask level set / deleted */
    CLB_MD_TRADE_BUY = 3,  /* trade, taker bought */
    CLB_MD_TRADE_SELL = 4, /* trade, taker sold */
};
#define CLB_MD_KIND_COUNT 5 /* kinds are 1..4; handy for per-kind arrays */

/* Record flags. */
#define CLB_MD_F_SNAPSHOT 0x1u
#define CLB_MD_F_RESET 0x2u
#define CLB_MD_F_BATCH_END 0x4u
#define CLB_MD_F_KNOWN (CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET | CLB_MD_F_BATCH_END)

/* One 32-byte record, little-endian, used in place. */
struct clb_md_record {
    int64_t ts_ns;     /*  0 local receive time, ns since the epoch */
    int64_t price;     /*  8 at price_scale */
    int64_t qty;       /* 16 at qty_scale */
    uint8_t kind;      /* 24 enum clb_md_kind */
    uint8_t flags;     /* 25 CLB_MD_F_* */
    uint16_t reserved; /* 26 zero */
    uint32_t trade_id; /* 28 low 32 bits of the exchange trade id; 0 for levels */
};

static inline bool clb_md_is_trade(const struct clb_md_record *r)
{
    return r->kind == CLB_MD_TRADE_BUY || r->kind == CLB_MD_TRADE_SELL;
}

/* Where and why a buffer is invalid. */
struct clb_md_error {
    int code;        /* CLB_E*: EPARSE (malformed), EUNSUPPORTED (version) */
    uint64_t offset; /* byte offset of the offending field / record */
    int64_t record;  /* record index, -1 for the header */
    char msg[160];   /* human-readable reason, NUL-terminated */
};

/* Fills *h with a valid header for an empty file: magic, version, size,
 * scales, tick, step, names (truncated to 31 bytes), everything else zero.
 * Returns CLB_EINVAL for a scale beyond 18, tick/step <= 0 or NULL names
 * (h untouched). */
int clb_md_header_init(struct clb_md_header *h, const char *exchange, const char *symbol,
                       int price_scale, int qty_scale, int64_t tick, int64_t step);

/* Checks a header's fields (magic, version, size, scales, tick/step,
 * reserved bytes, NUL-terminated names, count vs timestamps). CLB_OK or the
 * error with err filled (err may be NULL). */
int clb_md_header_check(const struct clb_md_header *h, struct clb_md_error *err);

/* Writes the header's 128 bytes into out[0..cap). CLB_OK, CLB_ERANGE when
 * cap < 128, or the clb_md_header_check error (nothing written). */
int clb_md_header_encode(const struct clb_md_header *h, void *out, size_t cap,
                         struct clb_md_error *err);

/* Reads and checks a header from buf[0..len). CLB_OK, or CLB_EPARSE /
 * CLB_EUNSUPPORTED with err filled; *h is written only on success. Does not
 * look at the records (see clb_md_validate). */
int clb_md_header_decode(const void *buf, size_t len, struct clb_md_header *h,
                         struct clb_md_error *err);

/* Checks one record against a header: known kind and flags, zero reserved,
 * price > 0 and a multiple of tick, qty >= 0 and a multiple of step, trade
 * qty > 0, trades without SNAPSHOT/RESET, RESET only with SNAPSHOT. Does
 * not check ordering. CLB_OK or CLB_EPARSE with err->msg set (offset and
 * record left to the caller). */
int clb_md_record_check(const struct clb_md_header *h, const struct clb_md_record *r,
                        struct clb_md_error *err);

/* Validates a whole file image: header, size == 128 + count * 32, every
 * record (clb_md_record_check), non-decreasing ts_ns, first/last ts as in
 * the header. Reports the FIRST problem with its byte offset and record
 * index. CLB_OK or the error code. O(len), no allocation. */
int clb_md_validate(const void *buf, size_t len, struct clb_md_error *err);

/* The records of a validated image, in place (buf must be 8-byte aligned,
 * as an mmap is). */
static inline const struct clb_md_record *clb_md_records(const void *buf)
{
    return (const struct clb_md_record *)((const unsigned char *)buf + CLB_MD_HEADER_SIZE);
}

/* Short names: "bid", "ask", "trade_buy", "trade_sell", "unknown". */
const char *clb_md_kind_name(int kind);

/*
 * Streaming writer. Buffers records into a chunk of `chunk_records` and
 * hands each full chunk (and the rest at finish) to the caller's sink;
 * core does no I/O. The sink receives record bytes only: the caller writes
 * CLB_MD_HEADER_SIZE placeholder bytes before the first chunk and the final
 * header (from clb_md_writer_finish) over them at the end.
 *
 * Every record is checked (clb_md_record_check against the header given at
 * init, and ts order) before it is buffered.
 */
typedef int (*clb_md_sink_fn)(void *ud, const void *bytes, size_t len);

#define CLB_MD_WRITER_MAX_CHUNK (1u << 22) /* records per chunk (128 MiB) */

struct clb_md_writer {
    struct clb_md_header hdr;    /* count / first / last ts grow as records come */
    struct clb_md_record *chunk; /* owned */
    size_t n;
    size_t cap;
    clb_md_sink_fn sink;
    void *ud;
    int failed;                  /* sticky sink error */
    struct clb_md_error err;     /* why the last add failed */
};

/* Allocates a chunk of chunk_records (1..CLB_MD_WRITER_MAX_CHUNK; 0 picks
 * 65536) and copies hdr (count/first/last are reset). CLB_EINVAL (bad
 * header, no sink, chunk too large), CLB_ENOMEM. Release with deinit. */
int clb_md_writer_init(struct clb_md_writer *w, const struct clb_md_header *hdr,
                       size_t chunk_records, clb_md_sink_fn sink, void *ud);
void clb_md_writer_deinit(struct clb_md_writer *w);

/* Appends records. CLB_EPARSE (bad record or ts decreasing: w->err says
 * which, with record = its index in the file; nothing from the bad record
 * on is added), or the sink's error (sticky: every later call returns it). */
int clb_md_writer_add(struct clb_md_writer *w, const struct clb_md_record *r);
int clb_md_writer_add_n(struct clb_md_writer *w, const struct clb_md_record *r, size_t n);

/* Flushes the buffered records and copies the final header (count and ts
 * span filled) to *out. The caller may still adjust tick/step (e.g. to a
 * value inferred from the data) before encoding it. Returns the sink's error
 * if any. */
int clb_md_writer_finish(struct clb_md_writer *w, struct clb_md_header *out);

#endif
