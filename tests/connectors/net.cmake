# Transport tests (connectors/net): real libcurl, libwebsockets and an
# in-process colibri-simex, plus a tiny raw WebSocket peer for what simex
# cannot do (silence, fragmentation). OpenSSL hashes the handshake key.
find_package(OpenSSL REQUIRED)
colibri_test(connectors_net_test SOURCES connectors/net_test.c
    LIBS colibri_net colibri_simex OpenSSL::Crypto pthread)
set_tests_properties(connectors_net_test PROPERTIES TIMEOUT 120)
