/*
 * market.h — the vocabulary shared by every part that trades: sides, order
 * types and a market's trading rules (tick, step, minimum notional).
 *
 * Inside core, prices and quantities of a market are int64 integers at the
 * market's fixed scales (price_scale, qty_scale): "price ticks" in the widest
 * sense. Decimals (decimal.h) are used at the edges: parsing, orders sent to
 * an exchange, balances and the store.
 */
#ifndef CLB_MARKET_H
#define CLB_MARKET_H

#include <stdint.h>

#include "decimal.h"

enum clb_side { CLB_SIDE_BUY = 0, CLB_SIDE_SELL = 1 };

enum clb_order_type {
    CLB_ORDER_LIMIT = 0,
    CLB_ORDER_LIMIT_MAKER, /* rejected instead of taking liquidity */
    CLB_ORDER_MARKET
};

#define CLB_SYMBOL_MAX 32 /* "BTC-USDT", NUL included */
#define CLB_ASSET_MAX 16
#define CLB_CLIENT_ID_MAX 40 /* client order id buffer, NUL included (Binance allows 36) */

/* Trading rules of one market (Binance's PRICE_FILTER, LOT_SIZE, NOTIONAL).
 * A zero rule is off. price_scale/qty_scale are the scales of tick_size and
 * step_size: every price/quantity of this market is an integer at them. */
struct clb_market_rules {
    char symbol[CLB_SYMBOL_MAX]; /* "BTC-USDT" */
    char base[CLB_ASSET_MAX];    /* "BTC" */
    char quote[CLB_ASSET_MAX];   /* "USDT" */
    clb_dec tick_size;
    clb_dec step_size;
    clb_dec min_qty;
    clb_dec max_qty;
    clb_dec min_notional;
    int price_scale;
    int qty_scale;
};

static inline const char *clb_side_name(enum clb_side s)
{
    return s == CLB_SIDE_BUY ? "buy" : "sell";
}

#endif
