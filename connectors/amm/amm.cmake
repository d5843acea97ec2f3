# colibri_amm — the AMM connector (connectors/amm/): core/connector.h over a
# colibri gateway's /gateway/... HTTPS routes, on the worker's netloop.
# Paths are relative to connectors/ (this file is include()d from there).
add_library(colibri_amm STATIC
    amm/amm.c
)
target_include_directories(colibri_amm PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/amm)
target_link_libraries(colibri_amm PUBLIC colibri_net colibri_core PkgConfig::JANSSON
    PRIVATE colibri_options m)
