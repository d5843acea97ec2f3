# Binance market data on the hot path: the zero-copy depthUpdate / trade /
# depth snapshot parser and the local order book sync (Binance's documented
# buffer, snapshot, drop old, apply, resync-on-gap procedure).
add_library(colibri_binance_md STATIC
    binance/binance_md.c
    binance/binance_book_sync.c
)
target_include_directories(colibri_binance_md PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/binance)
target_link_libraries(colibri_binance_md PUBLIC colibri_core PRIVATE colibri_options)
