/* Tests for core/ledger.c: registration, deposits, locks, atomic settlement,
 * and a random operation sequence against a naive model with the invariants
 * (no negative balance, locked <= total, conservation) checked throughout. */
#include <criterion/criterion.h>
#include <string.h>

#include "error.h"
#include "ledger.h"

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t *x, uint64_t n)
{
    return splitmix(x) % n;
}

/* Snapshot of every cell, to prove a refused call changed nothing. */
struct snap {
    int64_t total[64];
    int64_t locked[64];
};

static void take_snap(const struct clb_ledger *l, struct snap *s)
{
    memset(s, 0, sizeof(*s));
    for (uint32_t a = 0; a < l->n_accounts; a++)
        for (uint32_t x = 0; x < l->n_assets; x++) {
            s->total[a * 8 + x] = clb_ledger_total(l, a, x);
            s->locked[a * 8 + x] = clb_ledger_locked(l, a, x);
        }
}

static void assert_snap_eq(const struct clb_ledger *l, const struct snap *s)
{
    struct snap now;
    take_snap(l, &now);
    cr_assert(memcmp(&now, s, sizeof(now)) == 0, "ledger changed by a refused call");
}

/* Ledger with accounts 0..n-1 and assets BTC (8), USDT (6). */
static void setup(struct clb_ledger *l, uint32_t accounts)
{
    uint32_t id;
    cr_assert_eq(clb_ledger_init(l, 8, 8), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(l, "BTC", 8, &id), CLB_OK);
    cr_assert_eq(id, 0);
    cr_assert_eq(clb_ledger_add_asset(l, "USDT", 6, &id), CLB_OK);
    cr_assert_eq(id, 1);
    for (uint32_t i = 0; i < accounts; i++) {
        cr_assert_eq(clb_ledger_add_account(l, &id), CLB_OK);
        cr_assert_eq(id, i);
    }
}

Test(ledger, registration_and_capacity)
{
    struct clb_ledger l;
    uint32_t id;
    cr_assert_eq(clb_ledger_init(&l, 0, 4), CLB_EINVAL);
    cr_assert_eq(clb_ledger_init(&l, 2, 2), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(&l, "", 8, &id), CLB_EINVAL);
    cr_assert_eq(clb_ledger_add_asset(&l, "BTC", 19, &id), CLB_EINVAL);
    cr_assert_eq(clb_ledger_add_asset(&l, "BTC", -1, &id), CLB_EINVAL);
    cr_assert_eq(clb_ledger_add_asset(&l, "ABCDEFGHIJKLMNOPQ", 2, &id), CLB_EINVAL);
    cr_assert_eq(clb_ledger_add_asset(&l, "BTC", 8, &id), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(&l, "BTC", 6, &id), CLB_EEXIST);
    cr_assert_eq(clb_ledger_add_asset(&l, "USDT", 6, &id), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(&l, "ETH", 18, &id), CLB_EFULL);
    cr_assert_eq(clb_ledger_find_asset(&l, "USDT", &id), CLB_OK);
    cr_assert_eq(id, 1);
    cr_assert_eq(clb_ledger_find_asset(&l, "ETH", &id), CLB_ENOTFOUND);
    cr_assert_eq(clb_ledger_asset_scale(&l, 1), 6);
    cr_assert_eq(clb_ledger_asset_scale(&l, 2), -1);
    cr_assert_eq(clb_ledger_add_account(&l, &id), CLB_OK);
    cr_assert_eq(clb_ledger_add_account(&l, &id), CLB_OK);
    cr_assert_eq(id, 1);
    cr_assert_eq(clb_ledger_add_account(&l, &id), CLB_EFULL);
    cr_assert_eq(clb_ledger_total(&l, 5, 0), 0);
    clb_ledger_deinit(&l);
}

Test(ledger, deposit_withdraw_lock_unlock)
{
    struct clb_ledger l;
    struct snap s;
    setup(&l, 2);
    cr_assert_eq(clb_ledger_deposit(&l, 0, 1, 1000), CLB_OK);
    cr_assert_eq(clb_ledger_deposit(&l, 0, 1, 0), CLB_EINVAL);
    cr_assert_eq(clb_ledger_deposit(&l, 0, 1, -5), CLB_EINVAL);
    cr_assert_eq(clb_ledger_deposit(&l, 2, 1, 5), CLB_EINVAL);
    cr_assert_eq(clb_ledger_deposit(&l, 0, 2, 5), CLB_EINVAL);
    cr_assert_eq(clb_ledger_lock(&l, 0, 1, 300), CLB_OK);
    cr_assert_eq(clb_ledger_total(&l, 0, 1), 1000);
    cr_assert_eq(clb_ledger_locked(&l, 0, 1), 300);
    cr_assert_eq(clb_ledger_available(&l, 0, 1), 700);
    clb_dec d = clb_ledger_available_dec(&l, 0, 1);
    cr_assert_eq(d.m, 700);
    cr_assert_eq(d.scale, 6);
    cr_assert_eq(clb_ledger_total_dec(&l, 0, 1).m, 1000);

    take_snap(&l, &s);
    cr_assert_eq(clb_ledger_lock(&l, 0, 1, 701), CLB_ERANGE);
    cr_assert_eq(clb_ledger_unlock(&l, 0, 1, 301), CLB_ERANGE);
    cr_assert_eq(clb_ledger_withdraw(&l, 0, 1, 701), CLB_ERANGE);
    cr_assert_eq(clb_ledger_lock(&l, 0, 1, -1), CLB_EINVAL);
    cr_assert_eq(clb_ledger_withdraw(&l, 1, 1, 1), CLB_ERANGE);
    cr_assert_eq(clb_ledger_deposit(&l, 0, 1, INT64_MAX), CLB_EOVERFLOW);
    assert_snap_eq(&l, &s);

    cr_assert_eq(clb_ledger_withdraw(&l, 0, 1, 700), CLB_OK);
    cr_assert_eq(clb_ledger_available(&l, 0, 1), 0);
    cr_assert_eq(clb_ledger_unlock(&l, 0, 1, 300), CLB_OK);
    cr_assert_eq(clb_ledger_available(&l, 0, 1), 300);
    cr_assert_eq(clb_ledger_lock(&l, 0, 1, 0), CLB_OK);
    clb_ledger_deinit(&l);
}

Test(ledger, settle_moves_both_legs_and_fees)
{
    struct clb_ledger l;
    setup(&l, 3); /* 0 buyer, 1 seller, 2 fee account */
    cr_assert_eq(clb_ledger_deposit(&l, 0, 1, 50000000), CLB_OK); /* 50 USDT */
    cr_assert_eq(clb_ledger_deposit(&l, 1, 0, 100000000), CLB_OK); /* 1 BTC */
    cr_assert_eq(clb_ledger_lock(&l, 0, 1, 40000000), CLB_OK);
    cr_assert_eq(clb_ledger_lock(&l, 1, 0, 100000000), CLB_OK);
    struct clb_ledger_trade t = {
        .buyer = 0, .seller = 1, .base = 0, .quote = 1,
        .base_qty = 1000000, .quote_qty = 30000000, /* 0.01 BTC for 30 USDT */
        .buyer_unlock = 40000000, .seller_unlock = 1000000,
        .buyer_fee = 1000, .seller_fee = 30000, .fee_account = 2,
    };
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_OK);
    cr_assert_eq(clb_ledger_total(&l, 0, 1), 20000000);
    cr_assert_eq(clb_ledger_locked(&l, 0, 1), 0);
    cr_assert_eq(clb_ledger_total(&l, 0, 0), 999000);
    cr_assert_eq(clb_ledger_total(&l, 1, 0), 99000000);
    cr_assert_eq(clb_ledger_locked(&l, 1, 0), 99000000);
    cr_assert_eq(clb_ledger_total(&l, 1, 1), 29970000);
    cr_assert_eq(clb_ledger_total(&l, 2, 0), 1000);
    cr_assert_eq(clb_ledger_total(&l, 2, 1), 30000);
    /* conservation */
    cr_assert_eq(clb_ledger_total(&l, 0, 0) + clb_ledger_total(&l, 1, 0) +
                     clb_ledger_total(&l, 2, 0), 100000000);
    cr_assert_eq(clb_ledger_total(&l, 0, 1) + clb_ledger_total(&l, 1, 1) +
                     clb_ledger_total(&l, 2, 1), 50000000);
    clb_ledger_deinit(&l);
}

Test(ledger, settle_refusals_change_nothing)
{
    struct clb_ledger l;
    struct snap s;
    setup(&l, 3);
    cr_assert_eq(clb_ledger_deposit(&l, 0, 1, 1000), CLB_OK);
    cr_assert_eq(clb_ledger_deposit(&l, 1, 0, 1000), CLB_OK);
    cr_assert_eq(clb_ledger_lock(&l, 0, 1, 500), CLB_OK);
    cr_assert_eq(clb_ledger_lock(&l, 1, 0, 100), CLB_OK);
    struct clb_ledger_trade ok = {
        .buyer = 0, .seller = 1, .base = 0, .quote = 1, .base_qty = 100, .quote_qty = 500,
        .buyer_unlock = 500, .seller_unlock = 100, .fee_account = 2,
    };
    take_snap(&l, &s);
    struct clb_ledger_trade t = ok;
    t.buyer_unlock = 501; /* more than locked */
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_ERANGE);
    t = ok;
    t.seller_unlock = 101;
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_ERANGE);
    t = ok;
    t.quote_qty = 1001; /* pays more than its total */
    t.buyer_unlock = 500;
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_ERANGE);
    t = ok;
    t.buyer_unlock = 0; /* would pay 600 out of 500 available: eats others' locks */
    t.quote_qty = 600;
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_ERANGE);
    t = ok;
    t.buyer_fee = 101;
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_EINVAL);
    t = ok;
    t.base_qty = -1;
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_EINVAL);
    t = ok;
    t.quote = 0;
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_EINVAL);
    t = ok;
    t.fee_account = 7;
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_EINVAL);
    t = ok;
    t.buyer = t.seller = CLB_LEDGER_EXTERNAL;
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_EINVAL);
    cr_assert_eq(clb_ledger_settle(&l, NULL), CLB_EINVAL);
    assert_snap_eq(&l, &s);
    /* Overflow of the receiving side. */
    cr_assert_eq(clb_ledger_deposit(&l, 0, 0, INT64_MAX - 50), CLB_OK);
    take_snap(&l, &s);
    cr_assert_eq(clb_ledger_settle(&l, &ok), CLB_EOVERFLOW);
    assert_snap_eq(&l, &s);
    clb_ledger_deinit(&l);
}

Test(ledger, self_trade_external_and_fee_account_as_trader)
{
    struct clb_ledger l;
    setup(&l, 2);
    cr_assert_eq(clb_ledger_deposit(&l, 0, 1, 1000), CLB_OK);
    cr_assert_eq(clb_ledger_deposit(&l, 0, 0, 100), CLB_OK);
    cr_assert_eq(clb_ledger_lock(&l, 0, 1, 500), CLB_OK);
    cr_assert_eq(clb_ledger_lock(&l, 0, 0, 100), CLB_OK);
    /* Account 0 trades with itself and is also the fee account. */
    struct clb_ledger_trade t = {
        .buyer = 0, .seller = 0, .base = 0, .quote = 1, .base_qty = 100, .quote_qty = 500,
        .buyer_unlock = 500, .seller_unlock = 100, .buyer_fee = 1, .seller_fee = 5,
        .fee_account = 0,
    };
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_OK);
    cr_assert_eq(clb_ledger_total(&l, 0, 1), 1000);
    cr_assert_eq(clb_ledger_total(&l, 0, 0), 100);
    cr_assert_eq(clb_ledger_locked(&l, 0, 0), 0);
    cr_assert_eq(clb_ledger_locked(&l, 0, 1), 0);

    /* Against the external market: only our leg is booked; fees leave. */
    cr_assert_eq(clb_ledger_lock(&l, 0, 1, 300), CLB_OK);
    t = (struct clb_ledger_trade){
        .buyer = 0, .seller = CLB_LEDGER_EXTERNAL, .base = 0, .quote = 1, .base_qty = 50,
        .quote_qty = 250, .buyer_unlock = 300, .buyer_fee = 2,
        .fee_account = CLB_LEDGER_EXTERNAL,
    };
    cr_assert_eq(clb_ledger_settle(&l, &t), CLB_OK);
    cr_assert_eq(clb_ledger_total(&l, 0, 1), 750);
    cr_assert_eq(clb_ledger_locked(&l, 0, 1), 0);
    cr_assert_eq(clb_ledger_total(&l, 0, 0), 148);
    cr_assert_eq(clb_ledger_total(&l, 1, 0), 0);
    clb_ledger_deinit(&l);
}

/* Naive model of the ledger: the same arithmetic, written plainly. */
struct model {
    int64_t total[4][3];
    int64_t locked[4][3];
};

static bool model_settle(struct model *md, const struct clb_ledger_trade *t)
{
    struct model n = *md;
    n.total[t->buyer][t->quote] -= t->quote_qty;
    n.locked[t->buyer][t->quote] -= t->buyer_unlock;
    n.total[t->buyer][t->base] += t->base_qty - t->buyer_fee;
    n.total[t->seller][t->base] -= t->base_qty;
    n.locked[t->seller][t->base] -= t->seller_unlock;
    n.total[t->seller][t->quote] += t->quote_qty - t->seller_fee;
    n.total[t->fee_account][t->base] += t->buyer_fee;
    n.total[t->fee_account][t->quote] += t->seller_fee;
    for (int a = 0; a < 4; a++)
        for (int x = 0; x < 3; x++)
            if (n.total[a][x] < 0 || n.locked[a][x] < 0 || n.locked[a][x] > n.total[a][x])
                return false;
    *md = n;
    return true;
}

Test(ledger, random_operations_match_model_and_keep_invariants)
{
    struct clb_ledger l;
    uint32_t id;
    cr_assert_eq(clb_ledger_init(&l, 4, 3), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(&l, "A", 8, &id), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(&l, "B", 8, &id), CLB_OK);
    cr_assert_eq(clb_ledger_add_asset(&l, "C", 2, &id), CLB_OK);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(clb_ledger_add_account(&l, &id), CLB_OK);
    struct model md;
    memset(&md, 0, sizeof(md));
    int64_t net[3] = { 0, 0, 0 }; /* deposits - withdrawals */
    uint64_t seed = 42;
    int ok_settles = 0, refused = 0;
    for (int step = 0; step < 200000; step++) {
        uint32_t a = (uint32_t)below(&seed, 4), x = (uint32_t)below(&seed, 3);
        int64_t amt = (int64_t)below(&seed, 1000) + 1;
        int op = (int)below(&seed, 6);
        int rc;
        switch (op) {
        case 0:
            rc = clb_ledger_deposit(&l, a, x, amt);
            cr_assert_eq(rc, CLB_OK);
            md.total[a][x] += amt;
            net[x] += amt;
            break;
        case 1:
            rc = clb_ledger_withdraw(&l, a, x, amt);
            cr_assert_eq(rc == CLB_OK, md.total[a][x] - md.locked[a][x] >= amt);
            if (rc == CLB_OK) {
                md.total[a][x] -= amt;
                net[x] -= amt;
            }
            break;
        case 2:
            rc = clb_ledger_lock(&l, a, x, amt);
            cr_assert_eq(rc == CLB_OK, md.total[a][x] - md.locked[a][x] >= amt);
            if (rc == CLB_OK)
                md.locked[a][x] += amt;
            break;
        case 3:
            rc = clb_ledger_unlock(&l, a, x, amt);
            cr_assert_eq(rc == CLB_OK, md.locked[a][x] >= amt);
            if (rc == CLB_OK)
                md.locked[a][x] -= amt;
            break;
        default: {
            uint32_t base = (uint32_t)below(&seed, 3);
            uint32_t quote = (base + 1 + (uint32_t)below(&seed, 2)) % 3;
            int64_t bq = (int64_t)below(&seed, 500), qq = (int64_t)below(&seed, 500);
            struct clb_ledger_trade t = {
                .buyer = (uint32_t)below(&seed, 4),
                .seller = (uint32_t)below(&seed, 4),
                .base = base,
                .quote = quote,
                .base_qty = bq,
                .quote_qty = qq,
                .buyer_unlock = qq + (int64_t)below(&seed, 50),
                .seller_unlock = bq,
                .buyer_fee = bq / 100,
                .seller_fee = qq / 100,
                .fee_account = (uint32_t)below(&seed, 4),
            };
            bool expect = model_settle(&md, &t);
            rc = clb_ledger_settle(&l, &t);
            cr_assert_eq(rc, expect ? CLB_OK : CLB_ERANGE, "step %d", step);
            if (expect)
                ok_settles++;
            else
                refused++;
        }
        }
        int64_t sum[3] = { 0, 0, 0 };
        for (uint32_t i = 0; i < 4; i++)
            for (uint32_t j = 0; j < 3; j++) {
                int64_t t = clb_ledger_total(&l, i, j), k = clb_ledger_locked(&l, i, j);
                cr_assert(t >= 0 && k >= 0 && k <= t, "invariant broken at step %d", step);
                cr_assert_eq(t, md.total[i][j]);
                cr_assert_eq(k, md.locked[i][j]);
                sum[j] += t;
            }
        for (int j = 0; j < 3; j++)
            cr_assert_eq(sum[j], net[j], "asset %d not conserved at step %d", j, step);
    }
    cr_assert_gt(ok_settles, 1000);
    cr_assert_gt(refused, 1000);
    clb_ledger_deinit(&l);
}
