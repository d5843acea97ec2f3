/*
 * ledger.h — balances of simulated accounts: accounts × assets, each cell a
 * total and a locked part (available = total - locked), as int64 integers at
 * the asset's scale chosen when the asset is registered.
 *
 * The matching engine (matching.h) locks funds when an order is accepted,
 * unlocks them when it is cancelled or expires, and settles each trade
 * through clb_ledger_settle(), which moves both legs and the fees at once or
 * not at all. The exchange simulator, the paper connector and the backtester
 * all keep their balances here.
 *
 * Invariants, for every cell, after every call: 0 <= locked <= total. No
 * call ever leaves a negative balance: an operation that would is refused
 * with CLB_ERANGE and changes nothing. Amounts that would overflow int64 are
 * CLB_EOVERFLOW, also without change.
 *
 * Capacities (accounts, assets) are fixed at init; one allocation is made
 * there and none afterwards. Ids are dense and assigned in registration
 * order from 0. Not thread-safe; owned by one thread (the worker).
 */
#ifndef CLB_LEDGER_H
#define CLB_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "decimal.h"
#include "market.h" /* CLB_ASSET_MAX */

/* Counterparty of a trade that is outside the ledger (the external market
 * of the paper connector and the backtester): its leg is not booked. Also
 * accepted as fee_account, meaning fees leave the ledger. */
#define CLB_LEDGER_EXTERNAL UINT32_MAX

struct clb_ledger_asset {
    char name[CLB_ASSET_MAX];
    int scale; /* amounts of this asset are integers at 10^-scale */
};

struct clb_ledger {
    struct clb_ledger_asset *assets; /* [max_assets] */
    int64_t *total;                  /* [max_accounts * max_assets], account-major */
    int64_t *locked;
    uint32_t max_accounts;
    uint32_t max_assets;
    uint32_t n_accounts;
    uint32_t n_assets;
};

/* One trade to settle. The buyer pays quote_qty of `quote` and receives
 * base_qty - buyer_fee of `base`; the seller pays base_qty of `base` and
 * receives quote_qty - seller_fee of `quote`; fee_account receives both fees
 * (fees are charged in the asset received, Binance's default).
 * buyer_unlock / seller_unlock are the parts of each side's locked balance
 * that this trade releases (the order's lock for the filled part: it may
 * exceed what is paid, e.g. a buy locked at its limit price and filled
 * lower). buyer or seller may be CLB_LEDGER_EXTERNAL, not both. */
struct clb_ledger_trade {
    uint32_t buyer;
    uint32_t seller;
    uint32_t base;  /* asset ids */
    uint32_t quote;
    int64_t base_qty;      /* >= 0, at base's scale */
    int64_t quote_qty;     /* >= 0, at quote's scale */
    int64_t buyer_unlock;  /* >= 0, quote asset */
    int64_t seller_unlock; /* >= 0, base asset */
    int64_t buyer_fee;     /* 0 <= fee <= base_qty, base asset */
    int64_t seller_fee;    /* 0 <= fee <= quote_qty, quote asset */
    uint32_t fee_account;  /* a ledger account or CLB_LEDGER_EXTERNAL */
};

/* Allocates room for max_accounts × max_assets cells (both >= 1).
 * CLB_EINVAL, CLB_ENOMEM. The caller owns the struct; release with deinit. */
int clb_ledger_init(struct clb_ledger *l, uint32_t max_accounts, uint32_t max_assets);
void clb_ledger_deinit(struct clb_ledger *l);

/* Registers an asset: name is 1..CLB_ASSET_MAX-1 characters, scale in
 * 0..CLB_DEC_MAX_SCALE. Writes its id to *asset. CLB_EINVAL, CLB_EEXIST
 * (same name registered), CLB_EFULL. */
int clb_ledger_add_asset(struct clb_ledger *l, const char *name, int scale, uint32_t *asset);

/* Looks an asset up by name. CLB_OK or CLB_ENOTFOUND. */
int clb_ledger_find_asset(const struct clb_ledger *l, const char *name, uint32_t *asset);

/* Scale of an asset, or -1 for an unknown id. */
int clb_ledger_asset_scale(const struct clb_ledger *l, uint32_t asset);

/* Opens an account with all balances zero; writes its id. CLB_EFULL. */
int clb_ledger_add_account(struct clb_ledger *l, uint32_t *account);

static inline bool clb_ledger_valid(const struct clb_ledger *l, uint32_t account, uint32_t asset)
{
    return account < l->n_accounts && asset < l->n_assets;
}

/* Adds amount (> 0) to the total. CLB_EINVAL (bad id, amount <= 0),
 * CLB_EOVERFLOW. */
int clb_ledger_deposit(struct clb_ledger *l, uint32_t account, uint32_t asset, int64_t amount);

/* Removes amount (> 0) from the available balance. CLB_EINVAL, CLB_ERANGE
 * (amount > available). */
int clb_ledger_withdraw(struct clb_ledger *l, uint32_t account, uint32_t asset, int64_t amount);

/* Moves amount (>= 0) from available to locked, or back. CLB_EINVAL (bad id,
 * negative amount), CLB_ERANGE (more than available / locked). Nothing
 * changes on failure. */
int clb_ledger_lock(struct clb_ledger *l, uint32_t account, uint32_t asset, int64_t amount);
int clb_ledger_unlock(struct clb_ledger *l, uint32_t account, uint32_t asset, int64_t amount);

/* Balances; 0 for unknown ids. */
int64_t clb_ledger_total(const struct clb_ledger *l, uint32_t account, uint32_t asset);
int64_t clb_ledger_locked(const struct clb_ledger *l, uint32_t account, uint32_t asset);
int64_t clb_ledger_available(const struct clb_ledger *l, uint32_t account, uint32_t asset);

/* The same as exact decimals at the asset's scale ({0, 0} for unknown ids),
 * for the edges (REST balances, store). */
clb_dec clb_ledger_total_dec(const struct clb_ledger *l, uint32_t account, uint32_t asset);
clb_dec clb_ledger_available_dec(const struct clb_ledger *l, uint32_t account, uint32_t asset);

/* Settles one trade atomically (see struct clb_ledger_trade). Every cell it
 * touches is checked first; buyer == seller (a self-trade) is allowed.
 * CLB_EINVAL (bad ids, negative amounts, fee above the amount received, base
 * == quote, both sides external), CLB_ERANGE (a side lacks the locked or
 * total balance: a cell would end with locked < 0, locked > total or total
 * < 0), CLB_EOVERFLOW. Nothing changes on failure. */
int clb_ledger_settle(struct clb_ledger *l, const struct clb_ledger_trade *t);

#endif
