/*
 * cli_migrate.c — `colibri migrate`: applies the schema migrations embedded
 * in the binary (migrations/NNN_name[.backend].sql, see
 * server/store/embed_migrations.cmake) to a database and prints what it
 * applied. The database is --database URL, else $DATABASE_URL, else the
 * SQLite file DATA_DIR/colibri.db. Re-running is a no-op; several processes
 * may migrate one PostgreSQL database at once (they are serialised).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "error.h"
#include "store/store.h"

static void usage(FILE *f)
{
    fprintf(f,
        "usage: colibri migrate [--database URL] [--data-dir DIR] [--status]\n"
        "\n"
        "Applies the schema migrations this binary carries (embedded from\n"
        "migrations/*.sql at build time) that the database lacks, in order, each in\n"
        "its own transaction, recording them in the schema_migrations table, and\n"
        "prints each one it applied. Running it again applies nothing. `colibri\n"
        "serve` does the same when it starts.\n"
        "\n"
        "  --database URL  postgresql://USER@HOST/DB (or postgres://, any libpq URI),\n"
        "                  sqlite:PATH or a plain SQLite file path; default:\n"
        "                  $DATABASE_URL, else DATA_DIR/colibri.db\n"
        "  --data-dir DIR  where the default SQLite database lives (default ./var)\n"
        "  --status        print the database's schema version and the migrations\n"
        "                  it lacks, apply nothing\n");
}

struct progress {
    int applied;
    bool status_only;
};

static void on_migration(void *ud, long version, const char *file, bool applied)
{
    struct progress *p = ud;
    (void)version;
    if (applied) {
        printf("applied %s\n", file);
        p->applied++;
    }
}

int cli_migrate_main(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *url = NULL, *data_dir = NULL;
    bool status_only = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((strcmp(a, "--database") == 0 || strcmp(a, "--data-dir") == 0) && i + 1 < argc) {
            if (strcmp(a, "--database") == 0)
                url = argv[++i];
            else
                data_dir = argv[++i];
        } else if (strcmp(a, "--status") == 0) {
            status_only = true;
        } else {
            fprintf(stderr, "colibri migrate: unexpected argument '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!url || !*url) {
        const char *env = getenv("DATABASE_URL");
        if (env && *env)
            url = env;
    }

    struct clb_store_options o;
    clb_store_options_init(&o);
    o.url = url;
    o.data_dir = data_dir ? data_dir : "./var";
    char err[512];
    enum clb_store_backend backend;
    char target[1024];
    int rc = clb_store_parse_url(o.url, o.data_dir, &backend, target, sizeof(target));
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri migrate: %s database URL\n",
                rc == CLB_EUNSUPPORTED ? "unsupported" : "invalid");
        return 2;
    }
    char shown[1024];
    clb_store_url_redact(target, shown, sizeof(shown));
    printf("database: %s %s\n", clb_store_backend_name(backend), shown);

    struct clb_store *s = NULL;
    rc = clb_store_open(&o, &s, err, sizeof(err));
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri migrate: %s\n", err);
        return 1;
    }
    long version = 0;
    long embedded = clb_store_embedded_version(backend);
    if (status_only) {
        rc = clb_store_schema_version(s, &version);
        if (rc != CLB_OK) {
            fprintf(stderr, "colibri migrate: %s\n", clb_store_errmsg(s));
            clb_store_close(s);
            return 1;
        }
        printf("schema version %ld; this binary carries up to %ld%s\n", version, embedded,
               version < embedded ? " (run 'colibri migrate' to apply)" : "");
        clb_store_close(s);
        return 0;
    }
    struct progress p = { 0, false };
    rc = clb_store_migrate(s, on_migration, &p, NULL);
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri migrate: %s\n", clb_store_errmsg(s));
        clb_store_close(s);
        return 1;
    }
    if (clb_store_errmsg(s)[0])
        fprintf(stderr, "colibri migrate: %s\n", clb_store_errmsg(s));
    if (clb_store_schema_version(s, &version) != CLB_OK)
        version = embedded;
    if (p.applied == 0)
        printf("nothing to apply: schema version %ld\n", version);
    else
        printf("schema version %ld (%d migration%s applied)\n", version, p.applied,
               p.applied == 1 ? "" : "s");
    clb_store_close(s);
    return 0;
}
