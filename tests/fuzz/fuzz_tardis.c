/*
 * fuzz_tardis.c — Tardis.dev CSV import (core/tardis.c). The input is split
 * at its first NUL byte into an incremental_book_L2 file and a trades file
 * (a missing part is an absent file); both are imported side by side at
 * scales 2/5, and every line is also parsed alone as a row of each stream.
 * Records must come out in time order with a known kind, positive prices and
 * trade quantities; a refusal names its file, line and reason and sticks.
 */
#include <string.h>

#include "error.h"
#include "fuzz.h"
#include "market_data.h"
#include "tardis.h"

struct lines {
    const char *p, *end;
};

static int next_line(void *ud, const char **line, size_t *len)
{
    struct lines *l = ud;
    if (l->p >= l->end)
        return 0;
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    const char *stop = nl ? nl : l->end;
    *line = l->p;
    *len = (size_t)(stop - l->p);
    l->p = nl ? nl + 1 : l->end;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data, *end = text + size;
    const char *cut = memchr(text, '\0', size);
    struct lines book = { text, cut ? cut : end }, trades = { cut ? cut + 1 : end, end };
    bool has_book = book.p < book.end, has_trades = trades.p < trades.end;

    /* every line alone, as a row of each stream */
    struct lines all = { text, end };
    const char *line;
    size_t len;
    while (next_line(&all, &line, &len) == 1) {
        for (int st = 0; st < 2; st++) {
            struct clb_tardis_row row;
            struct clb_tardis_error err = { 0 };
            int rc = clb_tardis_parse_row((enum clb_tardis_stream)st, line, len, &row, &err);
            if (rc == CLB_OK) {
                FUZZ_CHECK(clb_dec_sign(row.price) > 0 && clb_dec_sign(row.amount) >= 0);
                FUZZ_CHECK(row.ts_us >= 0 && row.local_ts_us >= 0);
                FUZZ_CHECK(row.exchange >= line && row.exchange + row.exchange_len <= line + len);
            } else {
                FUZZ_CHECK(err.msg[0] != '\0');
            }
            clb_tardis_check_header((enum clb_tardis_stream)st, line, len, &err);
        }
    }

    if (!has_book && !has_trades)
        return 0;
    struct clb_tardis_importer im;
    FUZZ_CHECK(clb_tardis_importer_init(&im, 2, 5, has_book ? next_line : NULL, &book,
                                        has_trades ? next_line : NULL, &trades) == CLB_OK);
    struct clb_md_record r;
    struct clb_tardis_error err;
    int64_t last_ts = INT64_MIN;
    int rc;
    for (int i = 0; i < 100000 && (rc = clb_tardis_importer_next(&im, &r, &err)) == 1; i++) {
        FUZZ_CHECK(r.ts_ns >= last_ts);
        last_ts = r.ts_ns;
        FUZZ_CHECK(r.price > 0 && r.qty >= 0 && r.reserved == 0);
        FUZZ_CHECK(r.kind == CLB_MD_BID || r.kind == CLB_MD_ASK || clb_md_is_trade(&r));
        if (clb_md_is_trade(&r))
            FUZZ_CHECK(r.qty > 0);
    }
    if (rc < 0) {
        FUZZ_CHECK(err.msg[0] != '\0');
        struct clb_tardis_error again;
        FUZZ_CHECK(clb_tardis_importer_next(&im, &r, &again) == rc); /* sticky */
    }
    return 0;
}
