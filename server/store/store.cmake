# store.cmake — the store (server/store/): included by server/CMakeLists.txt
# after colibri_server is defined. Adds the store's sources, the migrations
# embedded at build time (embed_migrations.cmake turns the .sql files of migrations/ into
# store_migrations_gen.c; adding or editing a .sql file regenerates it), and
# links SQLite and libpq. `colibri migrate` (server/cli_migrate.c) comes along.
find_package(SQLite3 REQUIRED)
find_package(PostgreSQL REQUIRED)
# Tests (tests/server/store_*) talk to both databases directly too.
set_target_properties(SQLite::SQLite3 PostgreSQL::PostgreSQL PROPERTIES IMPORTED_GLOBAL TRUE)

file(GLOB CLB_MIGRATION_FILES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/migrations/*.sql")
set(CLB_MIGRATIONS_C "${CMAKE_CURRENT_BINARY_DIR}/store_migrations_gen.c")
add_custom_command(OUTPUT "${CLB_MIGRATIONS_C}"
    COMMAND "${CMAKE_COMMAND}" "-DMIGRATIONS_DIR=${PROJECT_SOURCE_DIR}/migrations"
            "-DOUTPUT=${CLB_MIGRATIONS_C}" -P "${CMAKE_CURRENT_LIST_DIR}/embed_migrations.cmake"
    DEPENDS ${CLB_MIGRATION_FILES} "${CMAKE_CURRENT_LIST_DIR}/embed_migrations.cmake"
    COMMENT "Embedding migrations/*.sql"
    VERBATIM)

target_sources(colibri_server PRIVATE
    "${CMAKE_CURRENT_LIST_DIR}/store.c"
    "${CMAKE_CURRENT_LIST_DIR}/store_sqlite.c"
    "${CMAKE_CURRENT_LIST_DIR}/store_pg.c"
    "${CMAKE_CURRENT_LIST_DIR}/store_writer.c"
    "${CLB_MIGRATIONS_C}"
    "${CMAKE_CURRENT_SOURCE_DIR}/cli_migrate.c")
target_include_directories(colibri_server PRIVATE "${CMAKE_CURRENT_LIST_DIR}")
target_link_libraries(colibri_server PRIVATE SQLite::SQLite3 PostgreSQL::PostgreSQL)
