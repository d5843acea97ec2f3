/*
 * tardis.h — import of Tardis.dev CSV datasets into .clbmd records.
 *
 * Two datasets of one market are read side by side:
 *  - incremental_book_L2:
 *      exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount
 *    side bid|ask, is_snapshot true|false, amount 0 deletes the level;
 *  - trades:
 *      exchange,symbol,timestamp,local_timestamp,id,side,price,amount
 *    side buy|sell|unknown is the taker's side; id may be empty, numeric or
 *    any string.
 * Timestamps are microseconds since the epoch; local_timestamp (arrival
 * time) becomes the record's ts_ns and must not decrease within a file.
 * Numbers are parsed exactly (decimal.h); a value with more decimals than
 * the chosen scale is an error, never rounded.
 *
 * Conversion rules (Tardis's own reconstruction rules):
 *  - Book rows before the first snapshot row are skipped (buffered updates
 *    from before a reconnect's snapshot; counted in stats.skipped_book_rows).
 *  - A snapshot row following a non-snapshot row (or the first snapshot)
 *    starts a new snapshot: its record carries RESET|SNAPSHOT, and every
 *    snapshot row carries SNAPSHOT.
 *  - Batches: consecutive rows of ONE file with the same local_timestamp
 *    (and, for the book, the same is_snapshot) are one exchange message; the
 *    last of them carries BATCH_END. Batches never mix the two files.
 *  - The two files are merged by local_timestamp; at equal local_timestamp
 *    book rows come first, then trades (a trade is then seen against the
 *    book as of that instant).
 *  - trade_id: the id's value modulo 2^32 when it is a decimal number,
 *    otherwise the FNV-1a hash of its text; 0 when empty.
 *  - Taker side "unknown" is inferred by the tick rule: above the previous
 *    trade price BUY, below SELL, equal: the previous side (BUY at first);
 *    counted in stats.unknown_sides.
 *  - Both files must name the same exchange and symbol on every row.
 *
 * core does no I/O: the caller supplies each file as a line source
 * callback. Parsing is a pure function of the line (clb_tardis_parse_row),
 * so a fuzzer can drive it directly. Errors carry the file (stream) and the
 * 1-based line number (the header is line 1). Not thread-safe per importer.
 */
#ifndef CLB_TARDIS_H
#define CLB_TARDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decimal.h"
#include "market_data.h"

#define CLB_TARDIS_BOOK_HEADER                                                  \
    "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount"
#define CLB_TARDIS_TRADES_HEADER "exchange,symbol,timestamp,local_timestamp,id,side,price,amount"
#define CLB_TARDIS_COLUMNS 8

enum clb_tardis_stream { CLB_TARDIS_BOOK = 0, CLB_TARDIS_TRADES = 1 };

/* Sides as parsed. Book: BID / ASK; trades: BUY / SELL / UNKNOWN (taker). */
enum clb_tardis_side {
    CLB_TARDIS_BID = 0,
    CLB_TARDIS_ASK,
    CLB_TARDIS_BUY,
    CLB_TARDIS_SELL,
    CLB_TARDIS_UNKNOWN,
};

/* One parsed data row. exchange/symbol point into the parsed line. */
struct clb_tardis_row {
    const char *exchange;
    size_t exchange_len;
    const char *symbol;
    size_t symbol_len;
    int64_t ts_us;          /* exchange timestamp */
    int64_t local_ts_us;    /* arrival timestamp */
    bool is_snapshot;       /* book rows */
    enum clb_tardis_side side;
    clb_dec price;
    clb_dec amount;
    uint32_t trade_id;      /* trades; see the rule above */
};

struct clb_tardis_error {
    int code;                     /* CLB_EPARSE, CLB_EPRECISION, CLB_EOVERFLOW, or a source's */
    enum clb_tardis_stream stream; /* which file */
    uint64_t line;                /* 1-based; 0 when not tied to a line */
    char msg[200];
};

/* "incremental_book_L2" / "trades". */
const char *clb_tardis_stream_name(enum clb_tardis_stream st);

/* Checks a header line (a trailing '\r' is ignored). CLB_OK or CLB_EPARSE
 * with err->msg (err->line is left to the caller). */
int clb_tardis_check_header(enum clb_tardis_stream st, const char *line, size_t len,
                            struct clb_tardis_error *err);

/* Parses one data row of the given stream (without its '\n'; a trailing
 * '\r' is ignored): 8 comma-separated columns, non-negative integer
 * timestamps, a known side, decimal price > 0 and amount >= 0 (> 0 for
 * trades). CLB_OK, or CLB_EPARSE / CLB_EOVERFLOW / CLB_EPRECISION with
 * err->msg naming the column; *row is written only on success. */
int clb_tardis_parse_row(enum clb_tardis_stream st, const char *line, size_t len,
                         struct clb_tardis_row *row, struct clb_tardis_error *err);

/* A line source: sets *line / *len to the next line without its '\n' and
 * returns 1, returns 0 at the end of the input, or a negative CLB_E* code
 * (passed through). The line must stay valid until the next call. */
typedef int (*clb_tardis_line_fn)(void *ud, const char **line, size_t *len);

/* Scale value meaning "measure only" (see clb_tardis_importer_init). */
#define CLB_TARDIS_SCAN (-1)

struct clb_tardis_stats {
    uint64_t rows[2];          /* data rows read per stream */
    uint64_t records;          /* records produced */
    uint64_t skipped_book_rows; /* non-snapshot rows before the first snapshot */
    uint64_t snapshots;        /* RESET records produced */
    uint64_t unknown_sides;    /* trades whose side came from the tick rule */
    int price_decimals;        /* most fractional digits seen (trailing zeros ignored) */
    int qty_decimals;
    int64_t price_gcd;         /* gcd of all prices at the scale (0: scan mode / none) */
    int64_t qty_gcd;           /* gcd of all non-zero quantities */
};

/* One buffered row of a stream, already converted. Private. */
struct clb_tardis_pending_ {
    int64_t ts_ns;
    int64_t price;
    int64_t qty;
    uint64_t line;
    uint32_t trade_id;
    uint8_t kind;     /* enum clb_md_kind */
    bool is_snapshot;
};

struct clb_tardis_source_ {
    clb_tardis_line_fn fn; /* NULL: this file is not imported */
    void *ud;
    uint64_t line;         /* lines read so far */
    int64_t prev_local_us;
    bool started;          /* header checked */
    bool has;              /* `row` holds the next row */
    struct clb_tardis_pending_ row;
};

struct clb_tardis_importer {
    int price_scale; /* CLB_TARDIS_SCAN or 0..18 */
    int qty_scale;
    struct clb_tardis_source_ src[2];
    char exchange[CLB_MD_NAME_MAX];
    char symbol[CLB_MD_NAME_MAX];
    bool have_names;
    bool seen_snapshot;      /* a snapshot row was read (earlier rows are skipped) */
    bool last_book_snapshot; /* the last book record produced was a snapshot row */
    int64_t last_trade_price;
    bool last_trade_buy;
    bool have_last_trade;
    enum clb_tardis_stream last_stream; /* file and line of the last record produced */
    uint64_t last_line;
    int failed;              /* sticky error */
    struct clb_tardis_error err;
    struct clb_tardis_stats stats;
};

/* Sets up an importer over a book source and/or a trades source (either fn
 * may be NULL, not both). price_scale / qty_scale are the output scales
 * (0..18), or both CLB_TARDIS_SCAN to only measure: a scanning importer
 * checks everything and fills stats.price_decimals / qty_decimals but its
 * records carry price = qty = 0. CLB_OK or CLB_EINVAL. Nothing to deinit. */
int clb_tardis_importer_init(struct clb_tardis_importer *im, int price_scale, int qty_scale,
                             clb_tardis_line_fn book_fn, void *book_ud,
                             clb_tardis_line_fn trades_fn, void *trades_ud);

/* Produces the next record: 1 (record in *out), 0 (both files done) or a
 * negative code with *err filled (stream, line, message). Errors are
 * sticky: later calls return the same error. */
int clb_tardis_importer_next(struct clb_tardis_importer *im, struct clb_md_record *out,
                             struct clb_tardis_error *err);

/* Runs the importer to the end, discarding records (for a scanning pass).
 * CLB_OK or the first error. */
int clb_tardis_importer_drain(struct clb_tardis_importer *im, struct clb_tardis_error *err);

/* Exchange and symbol from the first data row ("" before any). */
static inline const char *clb_tardis_exchange(const struct clb_tardis_importer *im)
{
    return im->exchange;
}

static inline const char *clb_tardis_symbol(const struct clb_tardis_importer *im)
{
    return im->symbol;
}

#endif
