# Binance market data (connectors/binance/binance_md.c, binance_book_sync.c):
# the zero-copy parser against a jansson reference, and the book sync
# state machine against a reference book.
colibri_test(connectors_binance_md_test SOURCES connectors/binance_md_test.c
    LIBS colibri_binance_md PkgConfig::JANSSON)
colibri_test(connectors_binance_book_sync_test SOURCES connectors/binance_book_sync_test.c
    LIBS colibri_binance_md)
