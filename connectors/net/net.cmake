# colibri_net — transport shared by exchange connectors (connectors/net/):
# the worker's event loop (libcurl multi + libwebsockets on a private libuv
# loop, one poll set), REST client, self-healing WebSocket client, URL policy.
# Paths are relative to connectors/ (this file is include()d from there).
pkg_check_modules(NET_LWS REQUIRED IMPORTED_TARGET libwebsockets)
pkg_check_modules(NET_UV REQUIRED IMPORTED_TARGET libuv)
find_package(CURL REQUIRED)
find_package(Threads REQUIRED)

add_library(colibri_net STATIC
    net/net_url.c
    net/netloop.c
    net/http_client.c
    net/ws_client.c
)
target_include_directories(colibri_net PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/net)
target_link_libraries(colibri_net PUBLIC colibri_core PkgConfig::NET_LWS CURL::libcurl
    PRIVATE colibri_options PkgConfig::NET_UV Threads::Threads)
