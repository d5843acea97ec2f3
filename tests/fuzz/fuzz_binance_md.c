/*
 * fuzz_binance_md.c — Binance market-data messages (connectors/binance/
 * binance_md.c): a stream message (depthUpdate, trade, anything else, raw or
 * in a combined-stream envelope) and a REST depth snapshot, from the same
 * bytes. What parses must be sane (a registered market, prices > 0,
 * quantities >= 0, counts within the configured limit), and applying it to a
 * book (as the connector does) must keep the book's invariants.
 */
#include <stdbool.h>
#include <string.h>

#include "binance_md.h"
#include "error.h"
#include "fuzz.h"
#include "order_book.h"

#define LEVELS 64

static struct clb_binance_md g_md;
static struct clb_order_book g_book;
static int g_ready;

static void setup(void)
{
    struct clb_binance_md_config cfg = { .max_levels = LEVELS, .max_markets = 4 };
    FUZZ_CHECK(clb_binance_md_init(&g_md, &cfg) == CLB_OK);
    FUZZ_CHECK(clb_binance_md_add_market(&g_md, "BTCUSDT", 2, 5, NULL) == CLB_OK);
    FUZZ_CHECK(clb_binance_md_add_market(&g_md, "ETHUSDT", 2, 4, NULL) == CLB_OK);
    FUZZ_CHECK(clb_book_init(&g_book, 256) == CLB_OK);
    g_ready = 1;
}

static void check_levels(const struct clb_level *l, size_t n)
{
    FUZZ_CHECK(n <= LEVELS);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(l[i].price > 0 && l[i].qty >= 0);
}

/* Every input starts from the same small book (no state carries over). */
static void reset_book(void)
{
    static const struct clb_level bids[] = { { 6400000, 100000 }, { 6399000, 50000 } };
    static const struct clb_level asks[] = { { 6400100, 70000 }, { 6401000, 10000 } };
    clb_book_clear(&g_book);
    FUZZ_CHECK(clb_book_apply_snapshot(&g_book, 100, bids, 2, asks, 2) == CLB_OK);
}

static bool diff_outcome(int rc)
{
    return rc == CLB_OK || rc == CLB_EINVAL || rc == CLB_ESTALE || rc == CLB_EGAP;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_ready)
        setup();
    reset_book();
    const char *text = (const char *)data;
    struct clb_binance_md_msg m;
    if (clb_binance_md_parse(&g_md, text, size, &m) == CLB_OK) {
        if (m.type == CLB_BINANCE_MD_DEPTH) {
            FUZZ_CHECK(m.market >= 0 && m.market < 2);
            check_levels(m.u.depth.bids, m.u.depth.n_bids);
            check_levels(m.u.depth.asks, m.u.depth.n_asks);
            int rc = clb_book_apply_diff(&g_book, m.u.depth.first_update_id,
                                         m.u.depth.last_update_id, m.u.depth.bids,
                                         m.u.depth.n_bids, m.u.depth.asks, m.u.depth.n_asks);
            FUZZ_CHECK(diff_outcome(rc));
            rc = clb_book_apply_diff(&g_book, 0, 0, m.u.depth.bids, m.u.depth.n_bids,
                                     m.u.depth.asks, m.u.depth.n_asks);
            FUZZ_CHECK(diff_outcome(rc));
            FUZZ_CHECK(clb_book_check(&g_book) == CLB_OK);
        } else if (m.type == CLB_BINANCE_MD_TRADE) {
            FUZZ_CHECK(m.market >= 0 && m.market < 2);
            FUZZ_CHECK(m.u.trade.price > 0 && m.u.trade.qty > 0);
        } else {
            FUZZ_CHECK(m.type == CLB_BINANCE_MD_OTHER);
            FUZZ_CHECK(memchr(m.event, '\0', sizeof(m.event)) != NULL);
        }
    }
    struct clb_binance_md_snapshot s;
    if (clb_binance_md_parse_snapshot(&g_md, 0, text, size, &s) == CLB_OK) {
        reset_book();
        check_levels(s.bids, s.n_bids);
        check_levels(s.asks, s.n_asks);
        int rc = clb_book_apply_snapshot(&g_book, s.last_update_id, s.bids, s.n_bids, s.asks,
                                         s.n_asks);
        FUZZ_CHECK(rc == CLB_OK || rc == CLB_EINVAL);
        FUZZ_CHECK(clb_book_check(&g_book) == CLB_OK);
    }
    return 0;
}
