# DEX gateway: routes against a real chain (anvil from npm, contracts
# from @uniswap/v2-core and v2-periphery; `npm ci` installs them).
find_package(CURL REQUIRED)
colibri_test(server_gateway_test SOURCES server/gateway_test.c
    LIBS colibri_gateway PkgConfig::JANSSON)
target_include_directories(server_gateway_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/server)
add_dependencies(server_gateway_test colibri) # the end-to-end test runs `colibri serve`
# The gateway's static arithmetic (the test includes gateway.c).
colibri_test(server_gateway_math_test SOURCES server/gateway_math_test.c
    LIBS colibri_gateway PkgConfig::JANSSON OpenSSL::Crypto)
