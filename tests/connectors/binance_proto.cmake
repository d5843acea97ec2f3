# Binance protocol logic (connectors/binance/binance_{sign,throttle,time,msg}.c)
colibri_test(connectors_binance_sign_test SOURCES connectors/binance_sign_test.c
    LIBS colibri_binance_proto OpenSSL::Crypto)
colibri_test(connectors_binance_time_test SOURCES connectors/binance_time_test.c
    LIBS colibri_binance_proto)
colibri_test(connectors_binance_throttle_test SOURCES connectors/binance_throttle_test.c
    LIBS colibri_binance_proto)
colibri_test(connectors_binance_msg_test SOURCES connectors/binance_msg_test.c
    LIBS colibri_binance_proto PkgConfig::JANSSON)
# The same modules end to end against colibri-simex run in-process
# (tests/tools/simex_util.c: simulator thread, libcurl, a small lws client).
find_package(CURL REQUIRED)
colibri_test(connectors_binance_proto_simex_test SOURCES connectors/binance_proto_simex_test.c
    tools/simex_util.c LIBS colibri_binance_proto colibri_simex CURL::libcurl pthread)
target_include_directories(connectors_binance_proto_simex_test PRIVATE
    ${CMAKE_CURRENT_SOURCE_DIR}/tools)
