# Binance protocol logic: signing, throttler, server-time sync and the
# REST / user-data message parsers. Pure code: no sockets, threads or clocks.
find_package(OpenSSL REQUIRED)
add_library(colibri_binance_proto STATIC
    binance/binance_sign.c
    binance/binance_time.c
    binance/binance_throttle.c
    binance/binance_msg.c
)
target_include_directories(colibri_binance_proto PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/binance)
target_link_libraries(colibri_binance_proto PUBLIC colibri_core PkgConfig::JANSSON
    PRIVATE colibri_options OpenSSL::Crypto)
