# DEX gateway: JSON-RPC client, networks, Uniswap V2 routes, wallets,
# `colibri wallet`. Paths relative to server/. The HTTPS API
# (colibri_server) dispatches /gateway/... to it, and wallet.c keeps keys in
# the secrets file (secrets.c, part of colibri_server): the two static
# libraries depend on each other, which CMake links by repeating them.
find_package(CURL REQUIRED)
add_library(colibri_gateway STATIC
    gateway/rpc.c
    gateway/gateway.c
    gateway/wallet.c
    gateway/cli_wallet.c
)
target_include_directories(colibri_gateway PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/gateway)
target_link_libraries(colibri_gateway PUBLIC colibri_eth colibri_core CURL::libcurl
    PkgConfig::JANSSON Threads::Threads colibri_server PRIVATE colibri_options OpenSSL::Crypto)
target_link_libraries(colibri_server PUBLIC colibri_gateway)
