/*
 * ledger.c — balances of simulated accounts (see ledger.h).
 *
 * Two flat int64 arrays (total, locked) indexed account * max_assets +
 * asset. Every mutation computes the new cell values first, checks the
 * invariants (0 <= locked <= total, no overflow) on all of them, and only
 * then writes: a refused call changes nothing. clb_ledger_settle gathers the
 * up to six cell changes of a trade, merges those that hit the same cell (a
 * self-trade, a trader who is also the fee account) and applies them in one
 * step.
 */
#include "ledger.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

static size_t cell(const struct clb_ledger *l, uint32_t account, uint32_t asset)
{
    return (size_t)account * l->max_assets + asset;
}

int clb_ledger_init(struct clb_ledger *l, uint32_t max_accounts, uint32_t max_assets)
{
    if (!l || max_accounts == 0 || max_assets == 0)
        return CLB_EINVAL;
    memset(l, 0, sizeof(*l));
    size_t cells = (size_t)max_accounts * max_assets;
    l->assets = calloc(max_assets, sizeof(*l->assets));
    l->total = calloc(cells, sizeof(*l->total));
    l->locked = calloc(cells, sizeof(*l->locked));
    if (!l->assets || !l->total || !l->locked) {
        clb_ledger_deinit(l);
        return CLB_ENOMEM;
    }
    l->max_accounts = max_accounts;
    l->max_assets = max_assets;
    return CLB_OK;
}

void clb_ledger_deinit(struct clb_ledger *l)
{
    if (!l)
        return;
    free(l->assets);
    free(l->total);
    free(l->locked);
    memset(l, 0, sizeof(*l));
}

int clb_ledger_add_asset(struct clb_ledger *l, const char *name, int scale, uint32_t *asset)
{
    if (!l || !name || !asset || scale < 0 || scale > CLB_DEC_MAX_SCALE)
        return CLB_EINVAL;
    size_t len = strlen(name);
    if (len == 0 || len >= CLB_ASSET_MAX)
        return CLB_EINVAL;
    uint32_t dup;
    if (clb_ledger_find_asset(l, name, &dup) == CLB_OK)
        return CLB_EEXIST;
    if (l->n_assets >= l->max_assets)
        return CLB_EFULL;
    struct clb_ledger_asset *a = &l->assets[l->n_assets];
    memcpy(a->name, name, len + 1);
    a->scale = scale;
    *asset = l->n_assets++;
    return CLB_OK;
}

int clb_ledger_find_asset(const struct clb_ledger *l, const char *name, uint32_t *asset)
{
    if (!l || !name)
        return CLB_ENOTFOUND;
    for (uint32_t i = 0; i < l->n_assets; i++) {
        if (strcmp(l->assets[i].name, name) == 0) {
            if (asset)
                *asset = i;
            return CLB_OK;
        }
    }
    return CLB_ENOTFOUND;
}

int clb_ledger_asset_scale(const struct clb_ledger *l, uint32_t asset)
{
    return asset < l->n_assets ? l->assets[asset].scale : -1;
}

int clb_ledger_add_account(struct clb_ledger *l, uint32_t *account)
{
    if (!l || !account)
        return CLB_EINVAL;
    if (l->n_accounts >= l->max_accounts)
        return CLB_EFULL;
    /* Cells of a new account are zero: init zeroed them and nothing writes
     * cells of accounts that do not exist yet. */
    *account = l->n_accounts++;
    return CLB_OK;
}

int clb_ledger_deposit(struct clb_ledger *l, uint32_t account, uint32_t asset, int64_t amount)
{
    if (!l || !clb_ledger_valid(l, account, asset) || amount <= 0)
        return CLB_EINVAL;
    int64_t *t = &l->total[cell(l, account, asset)];
    int64_t nt;
    if (__builtin_add_overflow(*t, amount, &nt))
        return CLB_EOVERFLOW;
    *t = nt;
    return CLB_OK;
}

int clb_ledger_withdraw(struct clb_ledger *l, uint32_t account, uint32_t asset, int64_t amount)
{
    if (!l || !clb_ledger_valid(l, account, asset) || amount <= 0)
        return CLB_EINVAL;
    size_t c = cell(l, account, asset);
    if (l->total[c] - l->locked[c] < amount)
        return CLB_ERANGE;
    l->total[c] -= amount;
    return CLB_OK;
}

int clb_ledger_lock(struct clb_ledger *l, uint32_t account, uint32_t asset, int64_t amount)
{
    if (!l || !clb_ledger_valid(l, account, asset) || amount < 0)
        return CLB_EINVAL;
    size_t c = cell(l, account, asset);
    if (l->total[c] - l->locked[c] < amount)
        return CLB_ERANGE;
    l->locked[c] += amount;
    return CLB_OK;
}

int clb_ledger_unlock(struct clb_ledger *l, uint32_t account, uint32_t asset, int64_t amount)
{
    if (!l || !clb_ledger_valid(l, account, asset) || amount < 0)
        return CLB_EINVAL;
    size_t c = cell(l, account, asset);
    if (l->locked[c] < amount)
        return CLB_ERANGE;
    l->locked[c] -= amount;
    return CLB_OK;
}

int64_t clb_ledger_total(const struct clb_ledger *l, uint32_t account, uint32_t asset)
{
    return clb_ledger_valid(l, account, asset) ? l->total[cell(l, account, asset)] : 0;
}

int64_t clb_ledger_locked(const struct clb_ledger *l, uint32_t account, uint32_t asset)
{
    return clb_ledger_valid(l, account, asset) ? l->locked[cell(l, account, asset)] : 0;
}

int64_t clb_ledger_available(const struct clb_ledger *l, uint32_t account, uint32_t asset)
{
    if (!clb_ledger_valid(l, account, asset))
        return 0;
    size_t c = cell(l, account, asset);
    return l->total[c] - l->locked[c];
}

clb_dec clb_ledger_total_dec(const struct clb_ledger *l, uint32_t account, uint32_t asset)
{
    if (!clb_ledger_valid(l, account, asset))
        return (clb_dec){ 0, 0 };
    return (clb_dec){ clb_ledger_total(l, account, asset), l->assets[asset].scale };
}

clb_dec clb_ledger_available_dec(const struct clb_ledger *l, uint32_t account, uint32_t asset)
{
    if (!clb_ledger_valid(l, account, asset))
        return (clb_dec){ 0, 0 };
    return (clb_dec){ clb_ledger_available(l, account, asset), l->assets[asset].scale };
}

/* One pending cell change of a settlement. */
struct delta {
    size_t cell;
    __extension__ __int128 dtotal;
    __extension__ __int128 dlocked;
};

static int add_delta(struct delta *d, int *n, size_t c, int64_t dtotal, int64_t dlocked)
{
    for (int i = 0; i < *n; i++) {
        if (d[i].cell == c) {
            d[i].dtotal += dtotal;
            d[i].dlocked += dlocked;
            return i;
        }
    }
    d[*n] = (struct delta){ c, dtotal, dlocked };
    return (*n)++;
}

int clb_ledger_settle(struct clb_ledger *l, const struct clb_ledger_trade *t)
{
    if (!l || !t)
        return CLB_EINVAL;
    bool buyer_in = t->buyer != CLB_LEDGER_EXTERNAL;
    bool seller_in = t->seller != CLB_LEDGER_EXTERNAL;
    bool fee_in = t->fee_account != CLB_LEDGER_EXTERNAL;
    if (!buyer_in && !seller_in)
        return CLB_EINVAL;
    if (t->base >= l->n_assets || t->quote >= l->n_assets || t->base == t->quote)
        return CLB_EINVAL;
    if ((buyer_in && t->buyer >= l->n_accounts) || (seller_in && t->seller >= l->n_accounts) ||
        (fee_in && t->fee_account >= l->n_accounts))
        return CLB_EINVAL;
    if (t->base_qty < 0 || t->quote_qty < 0 || t->buyer_unlock < 0 || t->seller_unlock < 0 ||
        t->buyer_fee < 0 || t->seller_fee < 0 || t->buyer_fee > t->base_qty ||
        t->seller_fee > t->quote_qty)
        return CLB_EINVAL;

    struct delta d[6];
    int n = 0;
    if (buyer_in) {
        add_delta(d, &n, cell(l, t->buyer, t->quote), -t->quote_qty, -t->buyer_unlock);
        add_delta(d, &n, cell(l, t->buyer, t->base), t->base_qty - t->buyer_fee, 0);
        if (fee_in && t->buyer_fee)
            add_delta(d, &n, cell(l, t->fee_account, t->base), t->buyer_fee, 0);
    }
    if (seller_in) {
        add_delta(d, &n, cell(l, t->seller, t->base), -t->base_qty, -t->seller_unlock);
        add_delta(d, &n, cell(l, t->seller, t->quote), t->quote_qty - t->seller_fee, 0);
        if (fee_in && t->seller_fee)
            add_delta(d, &n, cell(l, t->fee_account, t->quote), t->seller_fee, 0);
    }

    __extension__ __int128 nt[6], nl[6];
    for (int i = 0; i < n; i++) {
        nt[i] = l->total[d[i].cell] + d[i].dtotal;
        nl[i] = l->locked[d[i].cell] + d[i].dlocked;
        if (nt[i] > INT64_MAX || nl[i] > INT64_MAX)
            return CLB_EOVERFLOW;
        if (nl[i] < 0 || nt[i] < 0 || nl[i] > nt[i])
            return CLB_ERANGE;
    }
    for (int i = 0; i < n; i++) {
        l->total[d[i].cell] = (int64_t)nt[i];
        l->locked[d[i].cell] = (int64_t)nl[i];
    }
    return CLB_OK;
}
