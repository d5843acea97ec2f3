/*
 * cli_secret.c — `colibri secret`: store, list and remove encrypted
 * secrets (secrets.h).
 *
 *   colibri secret set NAME [--data-dir DIR]   value read from stdin
 *   colibri secret list [--data-dir DIR]
 *   colibri secret rm NAME [--data-dir DIR]
 *   colibri secret passwd [--data-dir DIR]
 *
 * The value is never taken from the command line (it would show in ps and
 * shell history): it is read from standard input (one trailing newline
 * dropped), or asked for without echo when stdin is a terminal. The
 * passphrase comes from $COLIBRI_SECRETS_PASSPHRASE or a prompt on the
 * terminal (asked twice when the file is created). Values are never
 * printed. The data directory defaults to $COLIBRI_DATA_DIR, else ./var.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"
#include "error.h"
#include "secrets.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: colibri secret set NAME [--data-dir DIR]\n"
            "       colibri secret list [--data-dir DIR]\n"
            "       colibri secret rm NAME [--data-dir DIR]\n"
            "       colibri secret passwd [--data-dir DIR]\n\n"
            "Keeps secrets (exchange API keys, wallet keys) encrypted in DATA_DIR/secrets.json\n"
            "(mode 0600; scrypt-derived key, AES-256-GCM per entry).\n"
            "  set     stores NAME; the value is read from standard input (a trailing\n"
            "          newline is dropped), or asked for without echo on a terminal.\n"
            "          Never pass it as an argument.\n"
            "  list    prints the names, one per line (never the values).\n"
            "  rm      removes NAME.\n"
            "  passwd  re-encrypts every secret under a new passphrase (from\n"
            "          $COLIBRI_SECRETS_NEW_PASSPHRASE, else asked twice on the terminal).\n"
            "NAME: 1-127 characters of letters, digits, '.', '_', '-', ':' (for example\n"
            "binance.api_key, binance.api_secret).\n"
            "The passphrase is read from $%s, else asked for on the terminal.\n"
            "DATA_DIR defaults to $COLIBRI_DATA_DIR, else ./var.\n",
            CLB_SECRETS_ENV);
}

struct opts {
    const char *data_dir;
    const char *pos;
};

static int parse(int argc, char **argv, struct opts *o)
{
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--data-dir", 10) == 0 && (a[10] == '\0' || a[10] == '=')) {
            if (a[10] == '=') {
                o->data_dir = a + 11;
            } else if (i + 1 < argc) {
                o->data_dir = argv[++i];
            } else {
                fprintf(stderr, "colibri secret: option --data-dir needs a value\n");
                return 2;
            }
        } else if (strncmp(a, "--", 2) == 0) {
            fprintf(stderr, "colibri secret: unknown option '%s' (see --help)\n", a);
            return 2;
        } else if (!o->pos) {
            o->pos = a;
        } else {
            fprintf(stderr, "colibri secret: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!o->data_dir) {
        const char *env = getenv("COLIBRI_DATA_DIR");
        o->data_dir = env && *env ? env : "var";
    }
    return 0;
}

/* Opens the store, asking for the passphrase (confirmed when the file does
 * not exist yet). Returns 0 or 1 after a message. */
static int open_store(const char *cmd, const char *path, struct clb_secrets **s)
{
    char err[512], pass[CLB_SECRETS_PASSPHRASE_MAX];
    struct stat st;
    bool exists = stat(path, &st) == 0;
    int rc = clb_secrets_passphrase(!exists, pass, sizeof(pass), err, sizeof(err));
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri secret %s: %s\n", cmd, err);
        return 1;
    }
    rc = clb_secrets_open(path, pass, s, err, sizeof(err));
    OPENSSL_cleanse(pass, sizeof(pass));
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri secret %s: %s\n", cmd, err);
        return 1;
    }
    return 0;
}

/* Reads the value: hidden prompt on a terminal, else all of stdin. out
 * holds VALUE_BUF bytes: room for the longest value, a CR LF and the NUL. */
#define VALUE_BUF (CLB_SECRET_VALUE_MAX + 2)

static int read_value(const char *name, char *out)
{
    const size_t cap = VALUE_BUF;
    size_t n = 0;
    if (isatty(STDIN_FILENO)) {
        struct termios old, quiet;
        bool restore = tcgetattr(STDIN_FILENO, &old) == 0;
        if (restore) {
            quiet = old;
            quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
            (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
        fprintf(stderr, "Value for %s: ", name);
        fflush(stderr);
        int c;
        bool too_long = false;
        while ((c = getchar()) != EOF && c != '\n') {
            if (n + 1 < cap)
                out[n++] = (char)c;
            else
                too_long = true;
        }
        if (restore)
            (void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
        if (too_long)
            n = cap;
    } else {
        size_t r;
        while (n < cap && (r = fread(out + n, 1, cap - n, stdin)) > 0)
            n += r;
        if (ferror(stdin)) {
            fprintf(stderr, "colibri secret set: cannot read stdin: %s\n", strerror(errno));
            return 1;
        }
    }
    if (n < cap) {
        if (n && out[n - 1] == '\n')
            n--;
        if (n && out[n - 1] == '\r')
            n--;
    }
    if (n >= CLB_SECRET_VALUE_MAX) {
        fprintf(stderr, "colibri secret set: the value is longer than %d bytes\n",
                CLB_SECRET_VALUE_MAX - 1);
        return 1;
    }
    out[n] = '\0';
    if (n == 0) {
        fprintf(stderr, "colibri secret set: empty value (give it on standard input)\n");
        return 1;
    }
    if (strlen(out) != n) {
        fprintf(stderr, "colibri secret set: the value contains a NUL byte\n");
        return 1;
    }
    return 0;
}

static int ensure_dir(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0)
        return S_ISDIR(st.st_mode) ? 0 : -1;
    return mkdir(dir, 0700);
}

static int cmd_set(const struct opts *o, const char *path)
{
    if (!o->pos || !clb_secret_name_valid(o->pos)) {
        fprintf(stderr, "colibri secret set: NAME must be 1-127 characters of letters, "
                        "digits, '.', '_', '-', ':'\n");
        return 2;
    }
    if (ensure_dir(o->data_dir) != 0) {
        fprintf(stderr, "colibri secret set: cannot create data directory %s: %s\n",
                o->data_dir, strerror(errno));
        return 1;
    }
    char *value = malloc(VALUE_BUF);
    if (!value)
        return 1;
    int ret = read_value(o->pos, value);
    struct clb_secrets *s = NULL;
    if (ret == 0)
        ret = open_store("set", path, &s);
    if (ret == 0) {
        char err[512];
        bool existed = clb_secrets_has(s, o->pos);
        int rc = clb_secrets_set(s, o->pos, value);
        if (rc == CLB_OK)
            rc = clb_secrets_save(s, err, sizeof(err));
        else
            snprintf(err, sizeof(err), "%s", clb_strerror(rc));
        if (rc != CLB_OK) {
            fprintf(stderr, "colibri secret set: %s\n", err);
            ret = 1;
        } else {
            fprintf(stderr, "colibri: secret '%s' %s in %s\n", o->pos,
                    existed ? "replaced" : "stored", path);
        }
    }
    clb_secrets_close(s);
    OPENSSL_cleanse(value, VALUE_BUF);
    free(value);
    return ret;
}

static int cmd_list(const struct opts *o, const char *path)
{
    if (o->pos) {
        fprintf(stderr, "colibri secret list: takes only --data-dir\n");
        return 2;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "colibri: no secrets yet (%s does not exist)\n", path);
        return 0;
    }
    struct clb_secrets *s = NULL;
    if (open_store("list", path, &s))
        return 1;
    size_t n = clb_secrets_count(s);
    char (*names)[CLB_SECRET_NAME_MAX] = malloc((n ? n : 1) * sizeof(*names));
    int ret = 0;
    if (!names || clb_secrets_list(s, names, n, &n) != CLB_OK) {
        fprintf(stderr, "colibri secret list: out of memory\n");
        ret = 1;
    } else {
        for (size_t i = 0; i < n; i++)
            printf("%s\n", names[i]);
    }
    free(names);
    clb_secrets_close(s);
    return ret;
}

static int cmd_rm(const struct opts *o, const char *path)
{
    if (!o->pos) {
        fprintf(stderr, "colibri secret rm: usage: colibri secret rm NAME\n");
        return 2;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "colibri secret rm: no secret named '%s' (%s does not exist)\n", o->pos,
                path);
        return 1;
    }
    struct clb_secrets *s = NULL;
    if (open_store("rm", path, &s))
        return 1;
    char err[512];
    int ret = 0, rc = clb_secrets_remove(s, o->pos);
    if (rc == CLB_ENOTFOUND) {
        fprintf(stderr, "colibri secret rm: no secret named '%s'\n", o->pos);
        ret = 1;
    } else if (rc != CLB_OK) {
        fprintf(stderr, "colibri secret rm: %s\n", clb_strerror(rc));
        ret = 1;
    } else if ((rc = clb_secrets_save(s, err, sizeof(err))) != CLB_OK) {
        fprintf(stderr, "colibri secret rm: %s\n", err);
        ret = 1;
    } else {
        fprintf(stderr, "colibri: secret '%s' removed\n", o->pos);
    }
    clb_secrets_close(s);
    return ret;
}

static int cmd_passwd(const struct opts *o, const char *path)
{
    if (o->pos) {
        fprintf(stderr, "colibri secret passwd: takes only --data-dir\n");
        return 2;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "colibri secret passwd: %s does not exist\n", path);
        return 1;
    }
    struct clb_secrets *s = NULL;
    if (open_store("passwd", path, &s))
        return 1;
    char err[512], pass[CLB_SECRETS_PASSPHRASE_MAX];
    int ret = 0, rc;
    const char *env = getenv("COLIBRI_SECRETS_NEW_PASSPHRASE");
    if (env && *env) {
        rc = snprintf(pass, sizeof(pass), "%s", env) < (int)sizeof(pass) ? CLB_OK : CLB_EFULL;
        if (rc != CLB_OK)
            snprintf(err, sizeof(err), "COLIBRI_SECRETS_NEW_PASSPHRASE is too long");
    } else {
        /* the prompt helper reads the environment first: hide it */
        const char *old = getenv(CLB_SECRETS_ENV);
        if (old && *old) {
            fprintf(stderr, "colibri secret passwd: set COLIBRI_SECRETS_NEW_PASSPHRASE too "
                            "(or unset %s to be asked on the terminal)\n", CLB_SECRETS_ENV);
            clb_secrets_close(s);
            return 1;
        }
        rc = clb_secrets_passphrase(true, pass, sizeof(pass), err, sizeof(err));
    }
    if (rc == CLB_OK) {
        rc = clb_secrets_rekey(s, pass, NULL);
        if (rc != CLB_OK)
            snprintf(err, sizeof(err), "%s", clb_strerror(rc));
    }
    if (rc == CLB_OK)
        rc = clb_secrets_save(s, err, sizeof(err));
    OPENSSL_cleanse(pass, sizeof(pass));
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri secret passwd: %s\n", err);
        ret = 1;
    } else {
        fprintf(stderr, "colibri: passphrase of %s changed\n", path);
    }
    clb_secrets_close(s);
    return ret;
}

int cli_secret_main(int argc, char **argv)
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
    char path[4096];
    if (clb_secrets_path(o.data_dir, path, sizeof(path)) != CLB_OK) {
        fprintf(stderr, "colibri secret: data directory path too long\n");
        return 2;
    }
    if (strcmp(argv[1], "set") == 0)
        return cmd_set(&o, path);
    if (strcmp(argv[1], "list") == 0)
        return cmd_list(&o, path);
    if (strcmp(argv[1], "rm") == 0)
        return cmd_rm(&o, path);
    if (strcmp(argv[1], "passwd") == 0)
        return cmd_passwd(&o, path);
    fprintf(stderr, "colibri secret: unknown subcommand '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
