/*
 * gateway.h — the DEX gateway: EVM networks from the serve configuration,
 * Uniswap V2 quotes and swaps, balances, allowances, approvals and
 * transaction polling, answered as JSON for the HTTPS API's /gateway/...
 * routes (Hummingbot Gateway's classic route names and fields).
 *
 * Configuration (the serve config's "gateway" object):
 *   {"networks": {"NAME": {
 *       "chain": "ethereum",                     required
 *       "rpc_url": "https://...",                required (http:// only to loopback)
 *       "chain_id": 1,                           required, checked against eth_chainId
 *                                                at the first use of the network
 *       "tokens": {"SYMBOL": {"address": "0x..", "decimals": 18}},   optional
 *       "uniswap_v2": {"router": "0x..", "factory": "0x.."},          optional
 *       "rpc_timeout_ms": 10000, "slippage_bps": 100, "deadline_s": 600,
 *       "gas_margin_pct": 20                     optional
 *   }}}
 * "ETH" always names the native currency and cannot be a token symbol.
 *
 * Threads: clb_gateway_handle() is called from any number of HTTP threads
 * at once; RPC calls block the calling thread (with timeouts). A per-network
 * lock guards the chain-id check and the nonce manager; a trade or approval
 * holds it from nonce allocation until the node has accepted (or refused)
 * the transaction, so transactions of one network are sent one at a time.
 */
#ifndef CLB_GATEWAY_H
#define CLB_GATEWAY_H

#include <jansson.h>
#include <stddef.h>

struct clb_gateway;

#define CLB_GATEWAY_MAX_NETWORKS 16
#define CLB_GATEWAY_MAX_TOKENS 64

/* Validates a "gateway" configuration object without contacting any node.
 * CLB_OK, or CLB_EINVAL with "gateway.networks.NAME.KEY: why" in err. */
int clb_gateway_check_config(const json_t *cfg, char *err, size_t errlen);

/* Creates the gateway for a validated configuration (cfg may be NULL: no
 * networks). data_dir holds the encrypted wallet file (see wallet.h); it is
 * copied. CLB_EINVAL (bad configuration, message in err), CLB_ENOMEM. No
 * network is contacted here. */
int clb_gateway_create(const json_t *cfg, const char *data_dir, struct clb_gateway **out,
                       char *err, size_t errlen);

/* NULL-safe. No call of clb_gateway_handle may be running. */
void clb_gateway_destroy(struct clb_gateway *g);

/* Answers one request: method "GET"/"POST", path one of
 *   GET  /gateway/status             POST /gateway/amm/price
 *   POST /gateway/amm/trade          POST /gateway/chain/balances
 *   POST /gateway/chain/allowances   POST /gateway/chain/approve
 *   POST /gateway/chain/poll         GET  /gateway/wallet
 *   POST /gateway/wallet/add
 * with the request body (may be NULL when len is 0). Returns the HTTP
 * status and sets *out to the JSON answer (new reference): the route's
 * result, or {"error": {"code", "message"}} for 4xx/5xx. Roles are the
 * caller's business. Any thread. */
int clb_gateway_handle(struct clb_gateway *g, const char *method, const char *path,
                       const char *body, size_t len, json_t **out);

#endif
