/*
 * rlp.h — Recursive Length Prefix, Ethereum's serialisation of byte
 * strings and nested lists.
 *
 * Encoder: a writer over a caller-supplied buffer. Items are appended in
 * order; a list is opened with clb_rlp_list_begin() and closed with
 * clb_rlp_list_end(), which moves the list's payload right by the size of
 * its length prefix (the length is only known at the end). Errors are
 * sticky: the first failure (CLB_EFULL when the buffer is too small,
 * CLB_ESTATE for unbalanced lists) is kept, later calls do nothing and
 * return it, and clb_rlp_finish() reports it. No allocation.
 *
 * Decoder: clb_rlp_decode() reads one item with strict canonical-form
 * checks (shortest length prefix, single bytes < 0x80 not wrapped, lengths
 * inside the input), so hostile input is rejected with CLB_EPARSE rather
 * than read past its end. A list's children are read by calling it again
 * on the list payload.
 */
#ifndef CLB_RLP_H
#define CLB_RLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLB_RLP_MAX_DEPTH 16

struct clb_rlp {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;                             /* first error, sticky */
    int depth;                           /* open lists */
    size_t open[CLB_RLP_MAX_DEPTH];      /* payload start of each open list */
};

/* Starts writing into buf[0..cap). */
void clb_rlp_init(struct clb_rlp *r, uint8_t *buf, size_t cap);

/* Appends a byte string (p may be NULL when n is 0). CLB_EFULL. */
int clb_rlp_bytes(struct clb_rlp *r, const void *p, size_t n);

/* Appends an unsigned integer as its minimal big-endian bytes (0 is the
 * empty string 0x80). CLB_EFULL. */
int clb_rlp_uint(struct clb_rlp *r, uint64_t v);

/* Appends a 32-byte big-endian integer with its leading zeros stripped. */
int clb_rlp_u256(struct clb_rlp *r, const uint8_t v[32]);

/* Appends bytes that are already RLP-encoded (one or more whole items),
 * as they are. CLB_EFULL. */
int clb_rlp_raw(struct clb_rlp *r, const void *p, size_t n);

/* Opens a list. CLB_ESTATE past CLB_RLP_MAX_DEPTH. */
int clb_rlp_list_begin(struct clb_rlp *r);

/* Closes the innermost open list. CLB_ESTATE if none is open, CLB_EFULL. */
int clb_rlp_list_end(struct clb_rlp *r);

/* Returns the sticky error, or CLB_ESTATE if lists are still open, else
 * CLB_OK with the encoded length in *len. */
int clb_rlp_finish(const struct clb_rlp *r, size_t *len);

/* One decoded item: a byte string or a list, pointing into the input. */
struct clb_rlp_item {
    bool is_list;
    const uint8_t *p; /* payload (string bytes, or the list's encoded children) */
    size_t len;       /* payload length */
};

/* Decodes the item at in[0..len): fills *item and sets *used to the bytes
 * the item occupies (prefix + payload). CLB_EPARSE for empty, truncated or
 * non-canonical input. */
int clb_rlp_decode(const uint8_t *in, size_t len, struct clb_rlp_item *item, size_t *used);

#endif
