/*
 * eth.h — the Ethereum primitives in one include, plus the hex text helpers.
 *
 *   keccak.h   Keccak-256
 *   uint256.h  256-bit unsigned values (token amounts, JSON-RPC quantities)
 *   rlp.h      RLP encoder/decoder
 *   abi.h      contract ABI encoding/decoding
 *   eth_tx.h   keys, addresses, signing, EIP-155 / EIP-1559 transactions
 *   hex.h      (core) hex text: JSON-RPC carries byte strings ("DATA") as
 *              "0x" followed by two hex digits per byte
 */
#ifndef CLB_ETH_H
#define CLB_ETH_H

#include <stddef.h>
#include <stdint.h>

#include "abi.h"
#include "eth_tx.h"
#include "hex.h"
#include "keccak.h"
#include "rlp.h"
#include "uint256.h"

#endif
