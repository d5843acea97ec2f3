# AMM connector and amm_arb (issue 8): the decision with hand-computed
# numbers, and both on a real chain (anvil + Uniswap V2 from npm, the
# gateway in-process behind the HTTPS API).
colibri_test(strategies_amm_arb_test SOURCES strategies/amm_arb_test.c
    LIBS colibri_strategies colibri_connectors m)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
colibri_test(connectors_amm_test SOURCES connectors/amm_test.c
    LIBS colibri_amm colibri_connectors colibri_strategies colibri_gateway colibri_server
         PkgConfig::JANSSON OpenSSL::Crypto m)
target_include_directories(connectors_amm_test PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/server)
