/*
 * store_migrations.h — the schema migrations compiled into the binary.
 *
 * store_migrations_gen.c is generated at build time from the .sql files of migrations/ by
 * embed_migrations.cmake (see there for the file naming rules); store.c
 * applies the entries for its backend in version order. Private to the store.
 */
#ifndef CLB_STORE_MIGRATIONS_H
#define CLB_STORE_MIGRATIONS_H

#include <stddef.h>

struct clb_store_migration {
    long version;        /* NNN of the file name; 0 only in the empty table */
    const char *name;    /* "init" */
    const char *backend; /* "" (every backend), "sqlite" or "postgres" */
    const char *file;    /* "001_init.sqlite.sql" */
    const char *sha256;  /* of the file, hex */
    const char *sql;     /* the file's text: statements separated by ';' */
};

extern const struct clb_store_migration clb_store_migrations[];
extern const size_t clb_store_n_migrations;

#endif
