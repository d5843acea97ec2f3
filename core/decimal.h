/*
 * decimal.h — exact fixed-point decimals for prices, amounts and balances.
 *
 * A clb_dec is an int64 mantissa and a decimal scale: value = m * 10^-scale,
 * 0 <= scale <= CLB_DEC_MAX_SCALE. "0.1" parses to {1, 1} and formats back
 * to "0.1"; nothing ever passes through a binary float unless the caller asks
 * (clb_dec_to_double / clb_dec_from_double, used once at an order proposal).
 *
 * Values are plain structs passed by value; no function allocates. Every
 * operation that could overflow or lose digits reports it (CLB_EOVERFLOW,
 * CLB_EPRECISION) and leaves *out untouched. Thread-safe: no shared state.
 *
 * Arguments outside a contract (NULL pointers, a scale outside
 * 0..CLB_DEC_MAX_SCALE, an unknown rounding mode) make the functions that
 * return an error code return CLB_EINVAL.
 */
#ifndef CLB_DECIMAL_H
#define CLB_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLB_DEC_MAX_SCALE 18
/* Longest string clb_dec_format can produce, including the NUL. */
#define CLB_DEC_STRLEN 48

typedef struct clb_dec {
    int64_t m;     /* mantissa */
    int32_t scale; /* digits after the decimal point, 0..CLB_DEC_MAX_SCALE */
} clb_dec;

/* How to round when digits must be dropped. */
enum clb_round {
    CLB_ROUND_DOWN,    /* toward negative infinity (floor) */
    CLB_ROUND_UP,      /* toward positive infinity (ceiling) */
    CLB_ROUND_NEAREST, /* to nearest, ties away from zero */
    CLB_ROUND_EXACT    /* fail with CLB_EPRECISION instead of rounding */
};

/* Builds a decimal; scale must be in 0..CLB_DEC_MAX_SCALE (asserted). */
clb_dec clb_dec_make(int64_t m, int scale);

/* Parses [+-]digits[.digits][(e|E)[+-]digits] from s[0..len). No spaces, no
 * thousands separators; at least one digit. The scale is the number of
 * fractional digits written ("1.50" -> {150, 2}), after applying the
 * exponent. Returns CLB_OK, CLB_EPARSE (malformed), CLB_EOVERFLOW (mantissa
 * beyond int64) or CLB_EPRECISION (more than 18 significant fractional
 * digits). *out is written only on success. */
int clb_dec_parse(const char *s, size_t len, clb_dec *out);

/* Parses a NUL-terminated string; same contract as clb_dec_parse. */
int clb_dec_parse_cstr(const char *s, clb_dec *out);

/* Writes the plain decimal form ("-0.0100") with exactly d.scale fractional
 * digits and a NUL into buf. Returns the length written (without NUL), or
 * CLB_ERANGE if cap is too small (CLB_DEC_STRLEN always suffices). */
int clb_dec_format(clb_dec d, char *buf, size_t cap);

/* -1, 0 or 1 comparing the values exactly, whatever the scales. */
int clb_dec_cmp(clb_dec a, clb_dec b);
static inline bool clb_dec_is_zero(clb_dec d) { return d.m == 0; }
static inline int clb_dec_sign(clb_dec d) { return (d.m > 0) - (d.m < 0); }

/* Exact arithmetic. The result's scale is max(a.scale, b.scale) for add/sub
 * and a.scale + b.scale (trailing zeros dropped down to 18) for mul.
 * Return CLB_OK, CLB_EOVERFLOW or CLB_EPRECISION. */
int clb_dec_add(clb_dec a, clb_dec b, clb_dec *out);
int clb_dec_sub(clb_dec a, clb_dec b, clb_dec *out);
int clb_dec_mul(clb_dec a, clb_dec b, clb_dec *out);
int clb_dec_neg(clb_dec a, clb_dec *out);

/* a / b rounded to `scale` fractional digits with `mode`. CLB_EINVAL when b
 * is zero or scale is out of range. */
int clb_dec_div(clb_dec a, clb_dec b, int scale, enum clb_round mode, clb_dec *out);

/* The same value at another scale, rounded with `mode` when digits are
 * dropped; CLB_EOVERFLOW when growing the scale overflows. */
int clb_dec_rescale(clb_dec d, int scale, enum clb_round mode, clb_dec *out);

/* Drops trailing fractional zeros ({1500, 3} -> {15, 1}). Never fails. */
clb_dec clb_dec_normalize(clb_dec d);

/* Rounds d to a multiple of step (> 0) with `mode`; the result has
 * step.scale (or d.scale if larger and the value needs it — never lossy).
 * CLB_EINVAL for a non-positive step. */
int clb_dec_quantize(clb_dec d, clb_dec step, enum clb_round mode, clb_dec *out);

/* True when d is an exact multiple of step (> 0). */
bool clb_dec_is_multiple(clb_dec d, clb_dec step);

/* The mantissa of d at a fixed scale, exactly: {123, 2} at scale 4 -> 12300.
 * CLB_EPRECISION if d has non-zero digits beyond `scale`, CLB_EOVERFLOW. */
int clb_dec_to_scaled(clb_dec d, int scale, int64_t *out);

/* Nearest double. */
double clb_dec_to_double(clb_dec d);

/* Converts a finite double to a decimal at `scale`, rounding with `mode`
 * (the conversion is decided on the shortest decimal that round-trips the
 * double, so 0.1 stays 0.1). CLB_EINVAL for NaN/inf, CLB_EOVERFLOW. */
int clb_dec_from_double(double v, int scale, enum clb_round mode, clb_dec *out);

#endif
