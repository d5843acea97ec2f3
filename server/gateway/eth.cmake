# Ethereum primitives: Keccak-256, RLP, ABI, 256-bit values, secp256k1
# signing and EIP-155 / EIP-1559 transactions. Paths relative to server/.
pkg_check_modules(SECP256K1 REQUIRED IMPORTED_TARGET libsecp256k1)
add_library(colibri_eth STATIC
    gateway/keccak.c
    gateway/uint256.c
    gateway/rlp.c
    gateway/abi.c
    gateway/eth_tx.c
)
target_include_directories(colibri_eth PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/gateway)
target_link_libraries(colibri_eth PUBLIC colibri_core PRIVATE colibri_options
    PkgConfig::SECP256K1 OpenSSL::Crypto)
