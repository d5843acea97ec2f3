/*
 * amm_arb.h — Hummingbot's amm_arb strategy: arbitrage between a CEX
 * market (market_1, the strategy's primary connector and market) and an
 * AMM pool (market_2, bound with clb_strategy_attach_secondary).
 *
 * Each tick with no leg in flight:
 *   1. market_1 prices for order_amount from its book: the VWAP of buying
 *      it (walking the asks) and of selling it (walking the bids), and the
 *      worst level each walk reaches;
 *   2. market_2 prices for order_amount from the pool quote source (the
 *      AMM connector's cached /gateway/amm/price answers), BUY and SELL,
 *      with the gas cost of a swap (native token, converted to quote with
 *      gas_token_price);
 *   3. profitability of both directions (clb_amm_arb_profitability):
 *      buy on 1 / sell on 2 and buy on 2 / sell on 1, market_1's taker fee
 *      and the swap's gas counted (the pool's LP fee is already inside its
 *      quote);
 *   4. the better direction, if at least min_profitability and payable
 *      from both venues' available balances, becomes two
 *      LIMIT orders whose prices carry the slippage buffers (buy legs
 *      higher, sell legs lower than the quote: they must fill, not rest):
 *      market_1 at its worst level reached +- market_1_slippage_buffer,
 *      market_2 at the pool quote +- market_2_slippage_buffer.
 * concurrent_orders_submission true places both legs at once; false places
 * the AMM leg first and the CEX leg once the swap has filled (a failed
 * swap leaves nothing to hedge). A CEX leg that fails after its swap
 * filled, or rests unfilled for CLB_AMM_ARB_LEG_TIMEOUT_NS (then it is
 * cancelled and its unfilled rest re-placed), is placed again (up to 3
 * times) at the then current price, so
 * no filled swap is left unhedged silently; metrics count failures. A
 * position left unhedged (the CEX leg failed 3 more times, or in concurrent
 * mode the CEX leg filled and the swap failed) HALTS the strategy: no new
 * arbitrage until it is created again (metric "halted"), so a swap that
 * keeps failing (no allowance, no gas) cannot pile up one-sided trades.
 *
 * Every decision is a pure function of (config, prices) —
 * clb_amm_arb_propose — tested with hand-computed numbers; the glue only
 * reads the connectors and places orders.
 *
 * The quote source keeps this module free of I/O and of a link to the AMM
 * connector: the engine passes clb_amm_quote_price (connectors/amm/amm.h)
 * and the struct clb_amm * with clb_amm_arb_set_quote_source.
 *
 * Threads: pure functions any thread; the strategy on the worker thread.
 */
#ifndef CLB_AMM_ARB_H
#define CLB_AMM_ARB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "connector.h"
#include "param.h"
#include "strategy.h"

struct clb_amm_arb_config {
    double order_amount;             /* base, both legs */
    double min_profitability;        /* %  net of fees and gas */
    double market_1_slippage_buffer; /* %  added to the CEX leg's limit price */
    double market_2_slippage_buffer; /* %  added to the AMM leg's limit price */
    bool concurrent_orders_submission;
    double gas_token_price;          /* quote per native token (ETH) for gas; 0 = gas free */
};

extern const struct clb_param_spec clb_amm_arb_params[];
extern const size_t clb_amm_arb_n_params;

/* Every default: order_amount 1, min_profitability 1 %, buffers 0.05 % and
 * 1 %, concurrent true, gas_token_price 0. */
void clb_amm_arb_config_defaults(struct clb_amm_arb_config *cfg);

/* Ranges and order_amount > 0: CLB_OK or CLB_EINVAL naming the key. */
int clb_amm_arb_config_check(const struct clb_amm_arb_config *cfg, char *err, size_t errlen);

/* What the decision reads. NAN marks a price that is not known. */
struct clb_amm_arb_prices {
    double m1_buy_vwap;   /* average price of buying order_amount on market_1 */
    double m1_buy_worst;  /* the highest ask that buy reaches */
    double m1_sell_vwap;  /* average price of selling order_amount on market_1 */
    double m1_sell_worst; /* the lowest bid that sell reaches */
    double m2_buy;        /* pool price of buying order_amount (quote per base) */
    double m2_sell;       /* pool price of selling it */
    double m1_fee;        /* market_1 taker fee, fraction */
    double m2_gas_quote;  /* gas of one swap, in quote */
};

enum clb_amm_arb_direction {
    CLB_AMM_ARB_NONE = 0,
    CLB_AMM_ARB_BUY_1_SELL_2, /* buy on the CEX, sell into the pool */
    CLB_AMM_ARB_BUY_2_SELL_1  /* buy from the pool, sell on the CEX */
};

struct clb_amm_arb_proposal {
    enum clb_amm_arb_direction direction; /* NONE: nothing worth doing */
    double profit_1_2; /* fraction, buy 1 / sell 2; NAN when a price is missing */
    double profit_2_1; /* fraction, buy 2 / sell 1 */
    double amount;
    enum clb_side m1_side;
    double m1_price;   /* limit price of the market_1 leg (buffer applied) */
    enum clb_side m2_side;
    double m2_price;   /* limit price of the market_2 leg */
};

/* Net profitability (fraction) of buying `amount` at buy_price and selling
 * it at sell_price:
 *   cost     = amount * buy_price * (1 + buy_fee) + buy_gas
 *   proceeds = amount * sell_price * (1 - sell_fee) - sell_gas
 *   (proceeds - cost) / cost
 * NAN when an input is NAN or cost <= 0. Gas in quote. */
double clb_amm_arb_profitability(double amount, double buy_price, double buy_fee, double buy_gas,
                                 double sell_price, double sell_fee, double sell_gas);

/* The decision of one tick (steps 3-4 above). */
void clb_amm_arb_propose(const struct clb_amm_arb_config *cfg, const struct clb_amm_arb_prices *in,
                         struct clb_amm_arb_proposal *out);

/* Hummingbot's budget check of a proposal: true when both legs can be paid
 * from the available balances (market_1: m1_base / m1_quote, the buy leg
 * costing amount * price * (1 + m1_fee); market_2: m2_base / m2_quote, the
 * buy leg costing amount * price). NONE proposals are never affordable. */
bool clb_amm_arb_affordable(const struct clb_amm_arb_proposal *p, double m1_fee, double m1_base,
                            double m1_quote, double m2_base, double m2_quote);

/* The pool quote source: the price (quote per base) of trading `amount` on
 * `market` on that side and the gas of a swap in the native token.
 * CLB_OK, or an error (CLB_ENOTREADY while no quote has arrived). */
typedef int (*clb_amm_arb_quote_fn)(void *ud, const char *market, enum clb_side side,
                                    double amount, double *price, double *gas_native);

/* Sets the quote source of an amm_arb instance. CLB_EINVAL when s is not
 * an amm_arb strategy or fn is NULL. */
int clb_amm_arb_set_quote_source(struct clb_strategy *s, clb_amm_arb_quote_fn fn, void *ud);

/* One leg of an arbitrage. */
struct clb_amm_arb_leg {
    char client_id[CLB_CLIENT_ID_MAX];
    bool active;
    bool cancel_requested;
    enum clb_side side;
    double price;
    double amount;
    double executed;   /* base filled so far */
    int64_t placed_ns;
};

/* A CEX leg still open this long after it was placed (the book moved away
 * from its limit) is cancelled and what it did not fill is placed again at
 * the current price (a retry). */
#define CLB_AMM_ARB_LEG_TIMEOUT_NS (10 * INT64_C(1000000000))

/* The strategy instance. */
struct clb_amm_arb {
    struct clb_strategy base; /* first member */
    struct clb_amm_arb_config cfg;
    struct clb_connector *conn2; /* not owned */
    char market2[CLB_SYMBOL_MAX];
    int bus2_handle;
    clb_amm_arb_quote_fn quote;
    void *quote_ud;
    struct clb_amm_arb_leg leg1, leg2; /* market_1, market_2 */
    bool leg1_pending;                 /* sequential: CEX leg waits for the swap */
    int leg1_retries;
    bool leg1_filled;                  /* the CEX leg of this arbitrage filled */
    struct clb_amm_arb_proposal last;
    int64_t now_ns;
    /* metrics */
    uint64_t arbs_started, legs_filled, legs_failed, ticks_not_ready, unhedged;
    uint64_t ticks_no_budget; /* a profitable proposal the balances could not pay */
    bool halted; /* a leg was left unhedged: no new arbitrage until restarted */
};

/* The strategy type ("amm_arb"); config is struct clb_amm_arb_config. */
extern const struct clb_strategy_ops clb_amm_arb_ops;

#endif
