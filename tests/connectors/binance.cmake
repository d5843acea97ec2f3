# The Binance connector against colibri-simex in-process: unit/fault
# tests, and the short soak (pure market making with faults on; the long one
# is scripts/binance-soak.sh).
colibri_test(connectors_binance_test SOURCES connectors/binance_test.c tools/simex_util.c
    LIBS colibri_binance colibri_simex CURL::libcurl pthread)
colibri_test(connectors_binance_soak_test SOURCES connectors/binance_soak_test.c
    tools/simex_util.c
    LIBS colibri_binance colibri_simex colibri_strategies CURL::libcurl pthread)
set_tests_properties(connectors_binance_soak_test PROPERTIES TIMEOUT 600
    ENVIRONMENT "COLIBRI_SOAK_SECONDS=60")
