/*
 * binance_md.h — zero-copy parser of Binance spot market data: depthUpdate
 * and trade stream events (raw `/ws/<stream>` form or the combined-stream
 * envelope {"stream": ..., "data": {...}}) and the REST depth snapshot
 * (GET /api/v3/depth: {"lastUpdateId", "bids", "asks"}).
 *
 * Design: one pass over the bytes, no allocation, no tree. The input is a
 * (pointer, length) pair and need not be NUL-terminated. Prices and
 * quantities go straight from their decimal strings into int64 mantissas at
 * the market's price/qty scales (registered with clb_binance_md_add_market);
 * level lists land in two arrays owned by the parser (max_levels each),
 * which the result points into until the next parse call.
 *
 * The whole input must be valid JSON (RFC 8259, with the limits of jansson,
 * which the tests use as the reference: integers within int64, reals that do
 * not overflow a double, no \u0000, valid UTF-8, nesting up to 64 levels
 * here). Keys may come in any order, unknown keys are skipped whatever their
 * value, a repeated key's last value wins. Syntax errors always win over
 * the semantic errors below; among semantic errors the first field in the
 * fixed order listed for each type wins, and inside a level list the first
 * failing level in document order.
 *
 * Fields (types are checked only for the fields of the message's type):
 *   depthUpdate: "e" "depthUpdate", "E" ms, "s" symbol, "U", "u" (integers
 *                0..INT64_MAX), "b", "a" level lists.
 *   trade:       "e" "trade", "E", "s", "t" trade id, "p", "q" decimal
 *                strings (both > 0), "T" ms, "m" true/false (buyer is maker).
 *   snapshot:    "lastUpdateId", "bids", "asks".
 * A level is an array of at least two decimal strings [price, qty] (more
 * elements are skipped); price > 0, qty >= 0 (0 removes the level).
 * Decimal strings are digits with an optional '.' and digits: no sign,
 * exponent or spaces; digits beyond the scale must be zeros.
 *
 * Errors: CLB_EPARSE (malformed JSON, a missing or mistyped field, a bad
 * decimal string, a non-positive price, "data" not an object), CLB_ENOTFOUND
 * (symbol not registered), CLB_EPRECISION (non-zero digits beyond the
 * scale), CLB_EOVERFLOW (value beyond int64 at the scale), CLB_ERANGE (more
 * than max_levels levels on a side). On any error *out must not be used.
 *
 * Not thread-safe: one parser per thread (the worker). Parsing never
 * allocates; init allocates the level arrays once.
 */
#ifndef CLB_BINANCE_MD_H
#define CLB_BINANCE_MD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h" /* struct clb_level */

/* Largest max_levels accepted (Binance's REST depth limit). */
#define CLB_BINANCE_MD_MAX_LEVELS 5000u
/* Longest exchange symbol ("BTCUSDT"), NUL included. */
#define CLB_BINANCE_MD_SYMBOL_MAX 32
/* Event names of CLB_BINANCE_MD_OTHER messages are truncated to this - 1. */
#define CLB_BINANCE_MD_EVENT_MAX 32

struct clb_binance_md_config {
    uint32_t max_levels;  /* per side of one message, 1..CLB_BINANCE_MD_MAX_LEVELS */
    uint32_t max_markets; /* symbols that can be registered, 1..1024 */
};

struct clb_binance_md_market {
    char symbol[CLB_BINANCE_MD_SYMBOL_MAX]; /* exchange form, "BTCUSDT" */
    size_t symbol_len;
    int price_scale; /* 0..18 */
    int qty_scale;   /* 0..18 */
};

struct clb_binance_md {
    struct clb_level *bids; /* max_levels each */
    struct clb_level *asks;
    uint32_t max_levels;
    struct clb_binance_md_market *markets;
    uint32_t n_markets;
    uint32_t max_markets;
    char *warm_msg; /* clb_binance_md_warm's canned message (CLB_BINANCE_MD_WARM_MAX) */
};

enum clb_binance_md_type {
    CLB_BINANCE_MD_DEPTH = 1, /* depthUpdate */
    CLB_BINANCE_MD_TRADE,     /* trade */
    CLB_BINANCE_MD_OTHER      /* any other event ("e" absent or unknown): not interpreted */
};

struct clb_binance_md_depth {
    uint64_t first_update_id; /* U */
    uint64_t last_update_id;  /* u */
    const struct clb_level *bids; /* into the parser's arrays, message order */
    size_t n_bids;
    const struct clb_level *asks;
    size_t n_asks;
};

struct clb_binance_md_trade {
    int64_t price;   /* at price_scale, > 0 */
    int64_t qty;     /* at qty_scale, > 0 */
    uint64_t trade_id;
    int64_t trade_time_ms; /* T */
    bool buyer_is_maker;   /* m: true means the seller took liquidity */
};

struct clb_binance_md_msg {
    enum clb_binance_md_type type;
    int market;            /* index from clb_binance_md_add_market; -1 for OTHER */
    int64_t event_time_ms; /* E; 0 for OTHER */
    char event[CLB_BINANCE_MD_EVENT_MAX]; /* the "e" value ("" when absent), truncated */
    union {
        struct clb_binance_md_depth depth;
        struct clb_binance_md_trade trade;
    } u;
};

struct clb_binance_md_snapshot {
    uint64_t last_update_id;
    const struct clb_level *bids; /* into the parser's arrays, message order */
    size_t n_bids;
    const struct clb_level *asks;
    size_t n_asks;
};

/* Allocates the level arrays and the market table. CLB_EINVAL (bad config),
 * CLB_ENOMEM (the struct is then zeroed). Release with clb_binance_md_deinit,
 * harmless on a zeroed struct. */
int clb_binance_md_init(struct clb_binance_md *p, const struct clb_binance_md_config *cfg);
void clb_binance_md_deinit(struct clb_binance_md *p);

/* Registers an exchange symbol ("BTCUSDT", case-sensitive, as Binance sends
 * it in "s") with its scales; *index_out (may be NULL) receives its index,
 * the `market` of parsed messages. CLB_EINVAL (empty or too long symbol, a
 * scale outside 0..18), CLB_EEXIST (already registered), CLB_EFULL. */
int clb_binance_md_add_market(struct clb_binance_md *p, const char *symbol, int price_scale,
                              int qty_scale, int *index_out);

/* Index of a registered symbol, or -1. */
int clb_binance_md_find_market(const struct clb_binance_md *p, const char *symbol, size_t len);

/* Parses one stream message (raw event or combined-stream envelope: a
 * top-level "data" member makes it an envelope; its other members are then
 * ignored). Returns CLB_OK with *out filled, or an error above (*out
 * undefined). For CLB_BINANCE_MD_DEPTH the level pointers stay valid until
 * the next parse call on p. */
int clb_binance_md_parse(struct clb_binance_md *p, const char *data, size_t len,
                         struct clb_binance_md_msg *out);

/* Parses a REST depth snapshot body for the registered market `market`.
 * Same errors, plus CLB_EINVAL for a bad market index. */
int clb_binance_md_parse_snapshot(struct clb_binance_md *p, int market, const char *data,
                                  size_t len, struct clb_binance_md_snapshot *out);

/* Bytes of the canned message clb_binance_md_warm parses. */
#define CLB_BINANCE_MD_WARM_MAX 1024

/* Cache warming between messages: parses a canned combined-stream
 * depthUpdate of the registered market `market` (Binance's form, 10 bids
 * at prices 1..10 and 10 asks at 11..20 in whole units, one level in four
 * a deletion, U = 1, u = 2) through clb_binance_md_parse, so the parser's
 * code, its level arrays and the market table are in cache for the next
 * real message. *out is the parse's result (the levels point into the
 * parser's arrays, as after any parse); it is not market data and must not
 * be applied to a real book. CLB_OK, CLB_EINVAL (bad market, or fewer than
 * 10 levels allowed per side), or a parse error (CLB_EOVERFLOW when 20 at
 * the market's scales exceeds int64). Never allocates. */
int clb_binance_md_warm(struct clb_binance_md *p, int market, struct clb_binance_md_msg *out);

#endif
