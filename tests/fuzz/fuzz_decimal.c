/*
 * fuzz_decimal.c — decimal text (core/decimal.c), the form every price,
 * amount and balance arrives in. What parses formats back to text that
 * parses to the same value and scale; a refusal leaves the output alone;
 * rescaling and quantizing what parsed keep their contracts.
 */
#include <string.h>

#include "decimal.h"
#include "error.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    clb_dec d = { 0x5a5a5a5a, -7 }, again;
    int rc = clb_dec_parse(s, size, &d);
    if (rc != CLB_OK) {
        FUZZ_CHECK(rc == CLB_EPARSE || rc == CLB_EOVERFLOW || rc == CLB_EPRECISION);
        FUZZ_CHECK(d.m == 0x5a5a5a5a && d.scale == -7);
        return 0;
    }
    FUZZ_CHECK(d.scale >= 0 && d.scale <= CLB_DEC_MAX_SCALE);
    char text[CLB_DEC_STRLEN];
    int n = clb_dec_format(d, text, sizeof(text));
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text) && text[n] == '\0');
    FUZZ_CHECK(clb_dec_parse(text, (size_t)n, &again) == CLB_OK);
    FUZZ_CHECK(again.m == d.m && again.scale == d.scale);
    /* rounding to fewer digits brackets the value */
    clb_dec lo, hi;
    int scale = d.scale / 2;
    if (clb_dec_rescale(d, scale, CLB_ROUND_DOWN, &lo) == CLB_OK &&
        clb_dec_rescale(d, scale, CLB_ROUND_UP, &hi) == CLB_OK) {
        FUZZ_CHECK(clb_dec_cmp(lo, d) <= 0 && clb_dec_cmp(d, hi) <= 0);
        FUZZ_CHECK(lo.scale == scale && hi.scale == scale);
    }
    /* quantizing to a step of 0.01 gives a multiple of it, not above d */
    clb_dec q, step = clb_dec_make(1, 2), rem;
    if (clb_dec_quantize(d, step, CLB_ROUND_DOWN, &q) == CLB_OK) {
        FUZZ_CHECK(clb_dec_cmp(q, d) <= 0);
        FUZZ_CHECK(clb_dec_sub(d, q, &rem) != CLB_OK || clb_dec_cmp(rem, step) < 0);
    }
    return 0;
}
