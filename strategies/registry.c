/*
 * registry.c — the table of built-in strategy types. Adding a strategy is one
 * line here; the CLI, the REST API and the debug console list and create
 * strategies through clb_strategy_find / clb_strategy_types only.
 */
#include <string.h>

#include "amm_arb.h"
#include "avellaneda_market_making.h"
#include "pure_market_making.h"
#include "strategy.h"

static const struct clb_strategy_ops *const builtin[] = {
    &clb_pure_market_making_ops,
    &clb_avellaneda_market_making_ops,
    &clb_amm_arb_ops,
};

const struct clb_strategy_ops *clb_strategy_find(const char *type)
{
    if (!type)
        return NULL;
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        if (strcmp(builtin[i]->type, type) == 0)
            return builtin[i];
    }
    return NULL;
}

size_t clb_strategy_types(const struct clb_strategy_ops *const **out)
{
    if (out)
        *out = builtin;
    return sizeof(builtin) / sizeof(builtin[0]);
}
