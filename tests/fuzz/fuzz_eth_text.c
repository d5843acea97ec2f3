/*
 * fuzz_eth_text.c — the gateway's text and wire forms (server/gateway):
 * token amounts from API bodies ("0.25" scaled by the token's decimals),
 * JSON-RPC quantities ("0x1f"), addresses (EIP-55), and RLP items (signed
 * transactions). The first byte picks the decimals (0..36); the rest, cut
 * at the first NUL, is the text. What parses formats back to text that
 * parses to the same value; RLP items stay inside the input.
 */
#include <string.h>

#include "error.h"
#include "eth_tx.h"
#include "fuzz.h"
#include "rlp.h"
#include "uint256.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned decimals = data[0] % 37;
    char *s = malloc(size);
    FUZZ_CHECK(s != NULL);
    memcpy(s, data + 1, size - 1);
    s[size - 1] = '\0';

    uint8_t v[CLB_U256_LEN], again[CLB_U256_LEN];
    char text[CLB_U256_DEC_MAX > CLB_U256_HEX_MAX ? CLB_U256_DEC_MAX : CLB_U256_HEX_MAX];
    int rc = clb_u256_from_dec(s, decimals, v);
    FUZZ_CHECK(rc == CLB_OK || rc == CLB_EPARSE || rc == CLB_EPRECISION || rc == CLB_EOVERFLOW);
    if (rc == CLB_OK) {
        FUZZ_CHECK(clb_u256_to_dec(v, decimals, text, CLB_U256_DEC_MAX) == CLB_OK);
        FUZZ_CHECK(clb_u256_from_dec(text, decimals, again) == CLB_OK);
        FUZZ_CHECK(memcmp(v, again, sizeof(v)) == 0);
    }
    rc = clb_u256_from_hex(s, v);
    FUZZ_CHECK(rc == CLB_OK || rc == CLB_EPARSE);
    if (rc == CLB_OK) {
        FUZZ_CHECK(clb_u256_to_hex(v, text, CLB_U256_HEX_MAX) == CLB_OK);
        FUZZ_CHECK(clb_u256_from_hex(text, again) == CLB_OK);
        FUZZ_CHECK(memcmp(v, again, sizeof(v)) == 0);
    }
    uint8_t a[CLB_ETH_ADDR_LEN], b[CLB_ETH_ADDR_LEN];
    if (clb_eth_address_parse(s, a) == CLB_OK) {
        char at[CLB_ETH_ADDR_TEXT];
        clb_eth_address_format(a, at);
        FUZZ_CHECK(clb_eth_address_parse(at, b) == CLB_OK && memcmp(a, b, sizeof(a)) == 0);
    }
    /* RLP over the raw bytes: an item, then its list's children one by one */
    struct clb_rlp_item item;
    size_t used = 0;
    if (clb_rlp_decode(data + 1, size - 1, &item, &used) == CLB_OK) {
        FUZZ_CHECK(used >= 1 && used <= size - 1);
        FUZZ_CHECK(item.p >= data + 1 && item.p + item.len <= data + 1 + used);
        if (item.is_list) {
            const uint8_t *p = item.p, *end = item.p + item.len;
            struct clb_rlp_item child;
            size_t u;
            while (p < end && clb_rlp_decode(p, (size_t)(end - p), &child, &u) == CLB_OK) {
                FUZZ_CHECK(u >= 1 && p + u <= end);
                p += u;
            }
        }
    }
    free(s);
    return 0;
}
