/*
 * cli_token.c — `colibri token`: create, list and revoke API tokens.
 *
 *   colibri token create --role read|trade|admin --name NAME [--data-dir DIR]
 *   colibri token list [--data-dir DIR]
 *   colibri token revoke NAME [--data-dir DIR]
 *
 * Works on the same token store the server uses (auth.h), so a running
 * server sees the change at its next request. `create` prints the token on
 * stdout, alone on its line, once: only its hash is kept.
 * The data directory defaults to $COLIBRI_DATA_DIR, else ./var.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "cli.h"
#include "error.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: colibri token create --role read|trade|admin --name NAME [OPTIONS]\n"
            "       colibri token list [OPTIONS]\n"
            "       colibri token revoke NAME [OPTIONS]\n\n"
            "Manages the bearer tokens of the REST API. Roles: read (GET routes), trade\n"
            "(also orders and strategies), admin (also tokens and configuration).\n"
            "'create' prints the new token once; only its SHA-256 is stored, in the\n"
            "api_tokens table of the database (a running server sees changes within 2 s).\n\n"
            "Options:\n"
            "  --data-dir DIR    default $COLIBRI_DATA_DIR, else ./var\n"
            "  --store-url URL   the server's database (its store.url); default\n"
            "                    $DATABASE_URL, else SQLite at DATA_DIR/colibri.db\n");
}

struct opts {
    const char *role;
    const char *name;
    const char *data_dir;
    const char *store_url;
    const char *pos;
};

/* Parses --role/--name/--data-dir (as "--x V" or "--x=V") and one
 * positional argument. Returns 0 or 2 after a usage message. */
static int parse(int argc, char **argv, struct opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        size_t nlen = 0;
        if (strncmp(a, "--role", 6) == 0 && (a[6] == '\0' || a[6] == '=')) {
            dst = &o->role;
            nlen = 6;
        } else if (strncmp(a, "--name", 6) == 0 && (a[6] == '\0' || a[6] == '=')) {
            dst = &o->name;
            nlen = 6;
        } else if (strncmp(a, "--data-dir", 10) == 0 && (a[10] == '\0' || a[10] == '=')) {
            dst = &o->data_dir;
            nlen = 10;
        } else if (strncmp(a, "--store-url", 11) == 0 && (a[11] == '\0' || a[11] == '=')) {
            dst = &o->store_url;
            nlen = 11;
        } else if (strncmp(a, "--", 2) == 0) {
            fprintf(stderr, "colibri token: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!o->pos) {
            o->pos = a;
            continue;
        } else {
            fprintf(stderr, "colibri token: unexpected argument '%s'\n", a);
            return 2;
        }
        if (a[nlen] == '=') {
            *dst = a + nlen + 1;
        } else if (i + 1 < argc) {
            *dst = argv[++i];
        } else {
            fprintf(stderr, "colibri token: option %s needs a value\n", a);
            return 2;
        }
    }
    if (!o->data_dir) {
        const char *env = getenv("COLIBRI_DATA_DIR");
        o->data_dir = env && *env ? env : "var";
    }
    if (!o->store_url)
        o->store_url = getenv("DATABASE_URL");
    return 0;
}

static int open_auth(const struct opts *o, struct clb_auth **a)
{
    char err[512];
    struct clb_token_store store;
    int rc = clb_token_store_open(o->data_dir, o->store_url, &store, err, sizeof(err));
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri token: %s\n", err);
        return 1;
    }
    if (clb_auth_create(store, a) != CLB_OK) {
        fprintf(stderr, "colibri token: out of memory\n");
        return 1;
    }
    return 0;
}

static void fmt_time(int64_t s, char *out, size_t cap)
{
    time_t t = (time_t)s;
    struct tm tm;
    if (s <= 0 || !gmtime_r(&t, &tm) || !strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, cap, "-");
}

static int cmd_create(const struct opts *o)
{
    enum clb_role role;
    if (o->pos) {
        fprintf(stderr, "colibri token create: unexpected argument '%s'\n", o->pos);
        return 2;
    }
    if (!o->role || clb_role_parse(o->role, &role) != CLB_OK) {
        fprintf(stderr, "colibri token create: --role must be read, trade or admin\n");
        return 2;
    }
    if (!o->name || !clb_token_name_valid(o->name)) {
        fprintf(stderr, "colibri token create: --name must be 1-63 characters of letters, "
                        "digits, '.', '_', '-'\n");
        return 2;
    }
    struct clb_auth *a;
    if (open_auth(o, &a))
        return 1;
    char token[CLB_TOKEN_TEXT_LEN + 1];
    int rc = clb_auth_token_create(a, o->name, role, (int64_t)time(NULL), token, NULL);
    clb_auth_destroy(a);
    if (rc == CLB_EEXIST) {
        fprintf(stderr, "colibri token create: a token named '%s' exists (revoke it first)\n",
                o->name);
        return 1;
    }
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri token create: cannot store the token in %s: %s\n",
                o->data_dir, clb_strerror(rc));
        return 1;
    }
    printf("%s\n", token);
    fflush(stdout);
    memset(token, 0, sizeof(token));
    fprintf(stderr, "colibri: token '%s' (role %s) created; it is shown only this once\n",
            o->name, clb_role_name(role));
    return 0;
}

static int cmd_list(const struct opts *o)
{
    if (o->pos || o->role || o->name) {
        fprintf(stderr, "colibri token list: takes only --data-dir\n");
        return 2;
    }
    struct clb_auth *a;
    if (open_auth(o, &a))
        return 1;
    struct clb_token_record *recs = malloc(CLB_AUTH_MAX_TOKENS * sizeof(*recs));
    size_t n = 0;
    int rc = recs ? clb_auth_token_list(a, recs, CLB_AUTH_MAX_TOKENS, &n) : CLB_ENOMEM;
    clb_auth_destroy(a);
    if (rc != CLB_OK && rc != CLB_EFULL) {
        fprintf(stderr, "colibri token list: %s\n", clb_strerror(rc));
        free(recs);
        return 1;
    }
    printf("%-24s %-6s %-21s %s\n", "NAME", "ROLE", "CREATED", "LAST USED");
    for (size_t i = 0; i < n && i < CLB_AUTH_MAX_TOKENS; i++) {
        char c[32], u[32];
        fmt_time(recs[i].created_s, c, sizeof(c));
        fmt_time(recs[i].last_used_s, u, sizeof(u));
        printf("%-24s %-6s %-21s %s\n", recs[i].name, clb_role_name(recs[i].role), c, u);
    }
    free(recs);
    return 0;
}

static int cmd_revoke(const struct opts *o)
{
    const char *name = o->pos ? o->pos : o->name;
    if (!name || o->role) {
        fprintf(stderr, "colibri token revoke: usage: colibri token revoke NAME\n");
        return 2;
    }
    struct clb_auth *a;
    if (open_auth(o, &a))
        return 1;
    int rc = clb_auth_token_revoke(a, name);
    clb_auth_destroy(a);
    if (rc == CLB_ENOTFOUND) {
        fprintf(stderr, "colibri token revoke: no token named '%s'\n", name);
        return 1;
    }
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri token revoke: %s\n", clb_strerror(rc));
        return 1;
    }
    fprintf(stderr, "colibri: token '%s' revoked\n", name);
    return 0;
}

int cli_token_main(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    struct opts o = { 0 };
    if (parse(argc, argv, &o))
        return 2;
    if (strcmp(argv[1], "create") == 0)
        return cmd_create(&o);
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(&o);
    if (strcmp(argv[1], "revoke") == 0)
        return cmd_revoke(&o);
    fprintf(stderr, "colibri token: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
