# The Binance spot connector: core's connector interface over the
# transport (colibri_net), the protocol rules (colibri_binance_proto) and
# the market-data parser and book sync (colibri_binance_md).
find_package(OpenSSL REQUIRED)
add_library(colibri_binance STATIC
    binance/binance.c
    binance/binance_orders.c
    binance/binance_market.c
)
target_include_directories(colibri_binance PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/binance)
target_link_libraries(colibri_binance PUBLIC colibri_net colibri_binance_proto
    colibri_binance_md colibri_core PkgConfig::JANSSON PRIVATE colibri_options OpenSSL::Crypto)
