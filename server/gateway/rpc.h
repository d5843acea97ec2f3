/*
 * rpc.h — Ethereum JSON-RPC client over libcurl (blocking).
 *
 * The gateway's routes run on libmicrohttpd's connection threads, never on
 * the engine's worker, so each call here is a plain blocking HTTP POST with
 * a hard timeout (connect and total). Every call uses its own curl easy
 * handle, so one struct clb_rpc may be used by many threads at once; it
 * holds only the URL and the timeout (immutable after create).
 *
 * Errors: every function returns CLB_OK or
 *   CLB_EIO        transport failure or a non-200 HTTP answer
 *   CLB_ETIMEDOUT  no complete answer within the timeout
 *   CLB_EPARSE     the answer is not a JSON-RPC response, or a result has
 *                  the wrong shape
 *   CLB_ESTATE     the node answered with a JSON-RPC error (e->rpc_code,
 *                  e->message); e->reverted is set when it is an EVM
 *                  revert, with the decoded reason (Error(string) or
 *                  Panic(uint256)) in e->message ("execution reverted:
 *                  UniswapV2Router: EXPIRED")
 * and fills `e` (may be NULL) with a one-line message on failure. Response
 * bodies are capped at CLB_RPC_MAX_RESPONSE bytes (CLB_EIO beyond).
 */
#ifndef CLB_RPC_H
#define CLB_RPC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLB_RPC_MAX_RESPONSE (4 * 1024 * 1024)
#define CLB_RPC_URL_MAX 512
#define CLB_RPC_DEFAULT_TIMEOUT_MS 10000

struct clb_rpc;

struct clb_rpc_error {
    int rpc_code;      /* JSON-RPC error code; 0 when the failure is not the node's answer */
    bool reverted;     /* an EVM revert (eth_call / eth_estimateGas / send) */
    char message[400]; /* one line, never empty after a failure */
};

/* Suggested fees (wei). eip1559: the node reports a base fee; then
 * max_fee = 2 * base_fee + priority_fee, else gas_price holds
 * eth_gasPrice. */
struct clb_rpc_fees {
    bool eip1559;
    uint64_t base_fee;
    uint64_t priority_fee;
    uint64_t max_fee;
    uint64_t gas_price;
};

/* Creates a client for url (http:// or https://; copied) with a per-call
 * timeout (ms, > 0). CLB_EINVAL (bad url or timeout), CLB_ENOMEM. Any
 * thread. */
int clb_rpc_create(const char *url, int timeout_ms, struct clb_rpc **out);

/* NULL-safe. No call may be running. */
void clb_rpc_destroy(struct clb_rpc *c);

/* The URL given to create. */
const char *clb_rpc_url(const struct clb_rpc *c);

/* One raw JSON-RPC call: params (a JSON array) is stolen, even on failure;
 * *result (new reference) is the "result" member (JSON null included) on
 * CLB_OK, NULL otherwise. */
int clb_rpc_call(struct clb_rpc *c, const char *method, json_t *params, json_t **result,
                 struct clb_rpc_error *e);

/* eth_chainId / eth_blockNumber / eth_gasPrice. */
int clb_rpc_chain_id(struct clb_rpc *c, uint64_t *out, struct clb_rpc_error *e);
int clb_rpc_block_number(struct clb_rpc *c, uint64_t *out, struct clb_rpc_error *e);
int clb_rpc_gas_price(struct clb_rpc *c, uint64_t *out, struct clb_rpc_error *e);

/* eth_feeHistory over the last block (50th percentile reward) when the
 * node supports it (EIP-1559), else eth_gasPrice. */
int clb_rpc_fees(struct clb_rpc *c, struct clb_rpc_fees *out, struct clb_rpc_error *e);

/* eth_getBalance(addr, "latest") in wei, 32-byte big-endian. */
int clb_rpc_get_balance(struct clb_rpc *c, const uint8_t addr[20], uint8_t out[32],
                        struct clb_rpc_error *e);

/* eth_getTransactionCount(addr, "pending"). */
int clb_rpc_get_nonce(struct clb_rpc *c, const uint8_t addr[20], uint64_t *out,
                      struct clb_rpc_error *e);

/* eth_call({from?, to, data}, "latest"): the return data is copied into
 * out[0..cap) with its length in *n (CLB_EFULL when larger than cap).
 * from may be NULL. */
int clb_rpc_eth_call(struct clb_rpc *c, const uint8_t *from, const uint8_t to[20],
                     const uint8_t *data, size_t len, uint8_t *out, size_t cap, size_t *n,
                     struct clb_rpc_error *e);

/* eth_estimateGas({from, to, data, value?}) (value may be NULL = 0). */
int clb_rpc_estimate_gas(struct clb_rpc *c, const uint8_t from[20], const uint8_t to[20],
                         const uint8_t *data, size_t len, const uint8_t *value,
                         uint64_t *gas, struct clb_rpc_error *e);

/* eth_sendRawTransaction; the node's transaction hash in hash_out. */
int clb_rpc_send_raw(struct clb_rpc *c, const uint8_t *raw, size_t len, uint8_t hash_out[32],
                     struct clb_rpc_error *e);

/* eth_getTransactionReceipt: *receipt is the receipt object (new
 * reference), or NULL when the node has none yet (pending or unknown). */
int clb_rpc_get_receipt(struct clb_rpc *c, const uint8_t hash[32], json_t **receipt,
                        struct clb_rpc_error *e);

/* eth_getTransactionByHash: *tx is the object or NULL when unknown. */
int clb_rpc_get_transaction(struct clb_rpc *c, const uint8_t hash[32], json_t **tx,
                            struct clb_rpc_error *e);

/* Parses a JSON-RPC quantity (a "0x..." string) that must fit in 64 bits. */
int clb_rpc_quantity_u64(const json_t *v, uint64_t *out);

#endif
