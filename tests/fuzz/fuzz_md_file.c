/*
 * fuzz_md_file.c — .clbmd market-data files (core/market_data.c), which
 * backtests map straight into memory: clb_md_validate must refuse every
 * malformed image with a reason, and every image it accepts must hold what
 * it promises (each record passes clb_md_record_check against the decoded
 * header, times do not decrease, the count and time span match the header).
 */
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "market_data.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an mmap is page-aligned; records are read in place */
    uint64_t *image = malloc((size / 8 + 1) * 8);
    FUZZ_CHECK(image != NULL);
    memcpy(image, data, size);
    struct clb_md_error err;
    memset(&err, 0, sizeof(err));
    int rc = clb_md_validate(image, size, &err);
    if (rc != CLB_OK) {
        FUZZ_CHECK(err.msg[0] != '\0');
        free(image);
        return 0;
    }
    struct clb_md_header h;
    FUZZ_CHECK(clb_md_header_decode(image, size, &h, &err) == CLB_OK);
    FUZZ_CHECK(size == CLB_MD_HEADER_SIZE + h.count * sizeof(struct clb_md_record));
    const struct clb_md_record *r = clb_md_records(image);
    for (uint64_t i = 0; i < h.count; i++) {
        FUZZ_CHECK(clb_md_record_check(&h, &r[i], &err) == CLB_OK);
        if (i > 0)
            FUZZ_CHECK(r[i].ts_ns >= r[i - 1].ts_ns);
    }
    if (h.count > 0)
        FUZZ_CHECK(r[0].ts_ns == h.first_ts_ns && r[h.count - 1].ts_ns == h.last_ts_ns);
    free(image);
    return 0;
}
