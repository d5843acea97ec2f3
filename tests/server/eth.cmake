# Ethereum primitives (server/gateway: keccak, rlp, abi, uint256, eth_tx)
colibri_test(server_eth_test SOURCES server/eth_test.c LIBS colibri_eth PkgConfig::JANSSON)
# keccak.c built with SHA-3's padding byte, compared with OpenSSL's SHA3-256
colibri_test(server_eth_sha3_test SOURCES server/eth_sha3_test.c
    ${PROJECT_SOURCE_DIR}/server/gateway/keccak.c LIBS OpenSSL::Crypto)
target_include_directories(server_eth_sha3_test PRIVATE ${PROJECT_SOURCE_DIR}/server/gateway)
target_compile_definitions(server_eth_sha3_test PRIVATE CLB_KECCAK_DOMAIN=0x06)
