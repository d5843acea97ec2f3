/*
 * fuzz_abi.c — Ethereum ABI return data (server/gateway/abi.c), what an
 * RPC node answers for the gateway's calls. The first byte picks the head
 * slot, the rest is the data. Decoders stay within the data and their
 * buffers: a count never exceeds what fits, strings are terminated, and a
 * refusal is one of the documented codes.
 */
#include <string.h>

#include "abi.h"
#include "error.h"
#include "fuzz.h"

#define CAP 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t slot = data[0] % 8;
    const uint8_t *d = data + 1;
    size_t len = size - 1;
    uint8_t word[32], addr[20], words[CAP][32], addrs[CAP][20], bytes[64];
    char text[64];
    bool b;
    size_t n = 0;
    int rc = clb_abi_decode_u256(d, len, slot, word);
    FUZZ_CHECK(rc == CLB_OK || rc == CLB_EPARSE);
    FUZZ_CHECK(rc != CLB_OK || len >= (slot + 1) * 32);
    rc = clb_abi_decode_address(d, len, slot, addr);
    FUZZ_CHECK(rc == CLB_OK || rc == CLB_EPARSE);
    rc = clb_abi_decode_bool(d, len, slot, &b);
    FUZZ_CHECK(rc == CLB_OK || rc == CLB_EPARSE);
    rc = clb_abi_decode_u256_array(d, len, slot, words, CAP, &n);
    FUZZ_CHECK(rc == CLB_OK || rc == CLB_EPARSE || rc == CLB_EFULL);
    FUZZ_CHECK(rc != CLB_OK || n <= CAP);
    rc = clb_abi_decode_address_array(d, len, slot, addrs, CAP, &n);
    FUZZ_CHECK(rc == CLB_OK || rc == CLB_EPARSE || rc == CLB_EFULL);
    FUZZ_CHECK(rc != CLB_OK || n <= CAP);
    rc = clb_abi_decode_bytes(d, len, slot, bytes, sizeof(bytes), &n);
    FUZZ_CHECK(rc == CLB_OK || rc == CLB_EPARSE || rc == CLB_EFULL);
    FUZZ_CHECK(rc != CLB_OK || n <= sizeof(bytes));
    rc = clb_abi_decode_string(d, len, slot, text, sizeof(text));
    FUZZ_CHECK(rc == CLB_OK || rc == CLB_EPARSE || rc == CLB_EFULL);
    FUZZ_CHECK(rc != CLB_OK || memchr(text, '\0', sizeof(text)) != NULL);
    rc = clb_abi_decode_string_or_bytes32(d, len, text, sizeof(text));
    FUZZ_CHECK(rc != CLB_OK || memchr(text, '\0', sizeof(text)) != NULL);
    rc = clb_abi_decode_revert(d, len, text, sizeof(text));
    FUZZ_CHECK(memchr(text, '\0', sizeof(text)) != NULL);
    FUZZ_CHECK(rc != CLB_ENOTFOUND || text[0] == '\0');
    return 0;
}
