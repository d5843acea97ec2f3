/*
 * secrets_test.c — server/secrets.c and `colibri secret` (cli_secret.c):
 * round trips, wrong passphrase, tampering (ciphertext, tag, nonce, names
 * swapped between entries, entries removed), corrupt files, permissions,
 * concurrent writers, re-keying, a random operation sequence against a
 * naive reference, and the CLI through the built binary.
 *
 * Most tests use small scrypt parameters (N = 2^10) to stay fast; the
 * default ones are checked where the file is created with them and by the
 * CLI tests.
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "secrets.h"

static char g_dir[256];
static char g_out[16384], g_err[16384];
static const struct clb_secrets_kdf FAST = { .n = 1024, .r = 8, .p = 1 };

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_secrets_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(secrets, .init = setup, .fini = teardown, .timeout = 120);

static const char *path(const char *name)
{
    static char buf[4][512];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

static size_t slurp(const char *file, char *dst, size_t cap)
{
    dst[0] = '\0';
    FILE *f = fopen(file, "rb");
    if (!f)
        return 0;
    size_t n = fread(dst, 1, cap - 1, f);
    dst[n] = '\0';
    fclose(f);
    return n;
}

static void spit(const char *file, const char *text)
{
    FILE *f = fopen(file, "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static struct clb_secrets *open_ok(const char *file, const char *pass)
{
    struct clb_secrets *s = NULL;
    char err[512] = "";
    cr_assert_eq(clb_secrets_open_kdf(file, pass, &FAST, &s, err, sizeof(err)), CLB_OK, "%s",
                 err);
    return s;
}

static int open_rc(const char *file, const char *pass, char *err, size_t errlen)
{
    struct clb_secrets *s = NULL;
    int rc = clb_secrets_open_kdf(file, pass, &FAST, &s, err, errlen);
    if (rc == CLB_OK)
        clb_secrets_close(s);
    else
        cr_assert_null(s);
    return rc;
}

static void save_ok(struct clb_secrets *s)
{
    char err[512] = "";
    cr_assert_eq(clb_secrets_save(s, err, sizeof(err)), CLB_OK, "%s", err);
}

static void expect_value(const struct clb_secrets *s, const char *name, const char *want)
{
    char buf[CLB_SECRET_VALUE_MAX];
    size_t n = 0;
    cr_assert_eq(clb_secrets_get(s, name, buf, sizeof(buf), &n), CLB_OK, "%s", name);
    cr_assert_str_eq(buf, want);
    cr_assert_eq(n, strlen(want));
}

/* A store with three secrets, saved at path("secrets.json"). */
static const char *make_three(void)
{
    const char *f = path("secrets.json");
    struct clb_secrets *s = open_ok(f, "correct horse");
    cr_assert(clb_secrets_is_new(s));
    cr_assert_eq(clb_secrets_set(s, "binance.api_key", "AKEY-123"), CLB_OK);
    cr_assert_eq(clb_secrets_set(s, "binance.api_secret", "S3CR3T-value"), CLB_OK);
    cr_assert_eq(clb_secrets_set(s, "wallet.mainnet.0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F",
                                 "0x4646464646464646464646464646464646464646464646464646464646464646"),
                 CLB_OK);
    save_ok(s);
    cr_assert(!clb_secrets_is_new(s));
    clb_secrets_close(s);
    return f;
}

Test(secrets, round_trip_and_permissions)
{
    const char *f = make_three();
    struct stat st;
    cr_assert_eq(stat(f, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
    /* no plaintext in the file */
    char text[65536];
    slurp(f, text, sizeof(text));
    cr_assert_null(strstr(text, "AKEY-123"));
    cr_assert_null(strstr(text, "S3CR3T"));
    cr_assert_null(strstr(text, "46464646"));
    cr_assert_not_null(strstr(text, "binance.api_key")); /* names are not secret */
    /* no temporary left behind */
    cr_assert_neq(access(path("secrets.json.tmp"), F_OK), 0);

    struct clb_secrets *s = open_ok(f, "correct horse");
    cr_assert(!clb_secrets_is_new(s));
    cr_assert_eq(clb_secrets_count(s), 3);
    expect_value(s, "binance.api_key", "AKEY-123");
    expect_value(s, "binance.api_secret", "S3CR3T-value");
    expect_value(s, "wallet.mainnet.0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F",
                 "0x4646464646464646464646464646464646464646464646464646464646464646");
    char names[4][CLB_SECRET_NAME_MAX];
    size_t n = 0;
    cr_assert_eq(clb_secrets_list(s, names, 4, &n), CLB_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(names[0], "binance.api_key"); /* byte order */
    cr_assert_str_eq(names[1], "binance.api_secret");
    cr_assert_eq(clb_secrets_list(s, names, 2, &n), CLB_EFULL);
    cr_assert_eq(n, 3);

    /* get: errors */
    char small[4];
    cr_assert_eq(clb_secrets_get(s, "binance.api_key", small, sizeof(small), NULL), CLB_EFULL);
    cr_assert_str_eq(small, "");
    cr_assert_eq(clb_secrets_get(s, "nope", small, sizeof(small), NULL), CLB_ENOTFOUND);

    /* replace, remove, save, reopen */
    cr_assert_eq(clb_secrets_set(s, "binance.api_key", "AKEY-456"), CLB_OK);
    cr_assert_eq(clb_secrets_remove(s, "binance.api_secret"), CLB_OK);
    cr_assert_eq(clb_secrets_remove(s, "binance.api_secret"), CLB_ENOTFOUND);
    save_ok(s);
    clb_secrets_close(s);
    cr_assert_eq(stat(f, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    s = open_ok(f, "correct horse");
    cr_assert_eq(clb_secrets_count(s), 2);
    expect_value(s, "binance.api_key", "AKEY-456");
    cr_assert(!clb_secrets_has(s, "binance.api_secret"));
    clb_secrets_close(s);
}

Test(secrets, file_mode_forced_to_0600)
{
    const char *f = make_three();
    cr_assert_eq(chmod(f, 0644), 0);
    struct clb_secrets *s = open_ok(f, "correct horse");
    cr_assert_eq(clb_secrets_set(s, "x", "y"), CLB_OK);
    save_ok(s);
    clb_secrets_close(s);
    struct stat st;
    cr_assert_eq(stat(f, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(secrets, default_kdf_parameters_and_fresh_salt)
{
    struct clb_secrets *s = NULL;
    char err[256];
    cr_assert_eq(clb_secrets_open(path("a.json"), "pw", &s, err, sizeof(err)), CLB_OK, "%s", err);
    cr_assert_eq(clb_secrets_set(s, "k", "same value"), CLB_OK);
    save_ok(s);
    clb_secrets_close(s);
    s = open_ok(path("b.json"), "pw");
    cr_assert_eq(clb_secrets_set(s, "k", "same value"), CLB_OK);
    save_ok(s);
    clb_secrets_close(s);

    json_error_t je;
    json_t *a = json_load_file(path("a.json"), 0, &je), *b = json_load_file(path("b.json"), 0, &je);
    cr_assert(a && b);
    json_t *kdf = json_object_get(a, "kdf");
    cr_assert_eq(json_integer_value(json_object_get(kdf, "n")), 32768);
    cr_assert_eq(json_integer_value(json_object_get(kdf, "r")), 8);
    cr_assert_eq(json_integer_value(json_object_get(kdf, "p")), 1);
    cr_assert_str_eq(json_string_value(json_object_get(kdf, "algorithm")), "scrypt");
    cr_assert_str_eq(json_string_value(json_object_get(a, "cipher")), "aes-256-gcm");
    const char *sa = json_string_value(json_object_get(kdf, "salt"));
    const char *sb = json_string_value(json_object_get(json_object_get(b, "kdf"), "salt"));
    cr_assert_eq(strlen(sa), 32);
    cr_assert_str_neq(sa, sb);
    json_t *ea = json_array_get(json_object_get(a, "secrets"), 0);
    cr_assert_eq(strlen(json_string_value(json_object_get(ea, "nonce"))), 24);
    cr_assert_eq(strlen(json_string_value(json_object_get(ea, "tag"))), 32);
    json_decref(a);
    json_decref(b);
    /* the default-parameter file reopens */
    cr_assert_eq(clb_secrets_open(path("a.json"), "pw", &s, err, sizeof(err)), CLB_OK, "%s", err);
    expect_value(s, "k", "same value");
    clb_secrets_close(s);
}

Test(secrets, same_value_twice_gives_different_ciphertexts)
{
    const char *f = path("s.json");
    struct clb_secrets *s = open_ok(f, "pw");
    cr_assert_eq(clb_secrets_set(s, "a", "v"), CLB_OK);
    cr_assert_eq(clb_secrets_set(s, "b", "v"), CLB_OK);
    save_ok(s);
    clb_secrets_close(s);
    json_error_t je;
    json_t *d = json_load_file(f, 0, &je);
    json_t *arr = json_object_get(d, "secrets");
    const char *n0 = json_string_value(json_object_get(json_array_get(arr, 0), "nonce"));
    const char *n1 = json_string_value(json_object_get(json_array_get(arr, 1), "nonce"));
    const char *c0 = json_string_value(json_object_get(json_array_get(arr, 0), "tag"));
    const char *c1 = json_string_value(json_object_get(json_array_get(arr, 1), "tag"));
    cr_assert_str_neq(n0, n1);
    cr_assert_str_neq(c0, c1);
    json_decref(d);
}

Test(secrets, wrong_passphrase)
{
    const char *f = make_three();
    char err[512] = "";
    cr_assert_eq(open_rc(f, "Correct horse", err, sizeof(err)), CLB_SECRETS_EPASSPHRASE);
    cr_assert_not_null(strstr(err, "wrong passphrase"), "%s", err);
    cr_assert_eq(open_rc(f, "", err, sizeof(err)), CLB_EINVAL);
    cr_assert_eq(open_rc(f, NULL, err, sizeof(err)), CLB_EINVAL);
}

/* Rewrites one field of the file through jansson. */
static void edit_json(const char *f, void (*fn)(json_t *doc))
{
    json_error_t je;
    json_t *d = json_load_file(f, 0, &je);
    cr_assert_not_null(d, "%s", je.text);
    fn(d);
    cr_assert_eq(json_dump_file(d, f, JSON_INDENT(2)), 0);
    json_decref(d);
}

static void flip_hex(json_t *obj, const char *key, size_t at)
{
    const char *s = json_string_value(json_object_get(obj, key));
    cr_assert_not_null(s);
    char buf[20000];
    snprintf(buf, sizeof(buf), "%s", s);
    cr_assert_lt(at, strlen(buf));
    buf[at] = buf[at] == '0' ? '1' : '0';
    json_object_set_new(obj, key, json_string(buf));
}

static json_t *entry_of(json_t *d, size_t i)
{
    return json_array_get(json_object_get(d, "secrets"), i);
}

static void t_ct(json_t *d) { flip_hex(entry_of(d, 1), "ciphertext", 3); }
static void t_tag(json_t *d) { flip_hex(entry_of(d, 0), "tag", 31); }
static void t_nonce(json_t *d) { flip_hex(entry_of(d, 2), "nonce", 0); }
static void t_check(json_t *d) { flip_hex(json_object_get(d, "check"), "ciphertext", 0); }
static void t_salt(json_t *d) { flip_hex(json_object_get(d, "kdf"), "salt", 5); }
static void t_swap(json_t *d)
{
    /* swap the names of two entries: same set of names, wrong AAD */
    json_t *a = entry_of(d, 0), *b = entry_of(d, 1);
    json_t *na = json_deep_copy(json_object_get(a, "name"));
    json_object_set(a, "name", json_object_get(b, "name"));
    json_object_set_new(b, "name", na);
}
static void t_drop(json_t *d) { json_array_remove(json_object_get(d, "secrets"), 1); }
static void t_rename(json_t *d)
{
    json_object_set_new(entry_of(d, 0), "name", json_string("binance.api_kez"));
}
static void t_version(json_t *d) { json_object_set_new(d, "version", json_integer(2)); }
static void t_kdf_huge(json_t *d)
{
    json_object_set_new(json_object_get(d, "kdf"), "n", json_integer(1LL << 30));
}
static void t_kdf_odd(json_t *d)
{
    json_object_set_new(json_object_get(d, "kdf"), "n", json_integer(1000));
}
static void t_cipher(json_t *d) { json_object_set_new(d, "cipher", json_string("aes-128-cbc")); }
static void t_badhex(json_t *d) { json_object_set_new(entry_of(d, 0), "tag", json_string("zz")); }
static void t_dup(json_t *d)
{
    json_array_append(json_object_get(d, "secrets"), entry_of(d, 0));
}

struct tamper {
    const char *what;
    void (*fn)(json_t *);
    int rc;
    const char *msg;
};

Test(secrets, tampering_detected)
{
    const struct tamper cases[] = {
        { "ciphertext", t_ct, CLB_EPARSE, "fails authentication" },
        { "tag", t_tag, CLB_EPARSE, "fails authentication" },
        { "nonce", t_nonce, CLB_EPARSE, "fails authentication" },
        { "names swapped", t_swap, CLB_EPARSE, "fails authentication" },
        { "entry removed", t_drop, CLB_EPARSE, "changed outside colibri" },
        { "entry renamed", t_rename, CLB_EPARSE, "changed outside colibri" },
        { "check record", t_check, CLB_SECRETS_EPASSPHRASE, "wrong passphrase" },
        { "salt", t_salt, CLB_SECRETS_EPASSPHRASE, "wrong passphrase" },
        { "version", t_version, CLB_EUNSUPPORTED, "version" },
        { "cipher", t_cipher, CLB_EUNSUPPORTED, "cipher" },
        { "kdf n huge", t_kdf_huge, CLB_EPARSE, "kdf" },
        { "kdf n not a power of two", t_kdf_odd, CLB_EPARSE, "kdf" },
        { "bad hex", t_badhex, CLB_EPARSE, "bad record" },
        { "duplicate", t_dup, CLB_EPARSE, "duplicate" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *f = make_three();
        edit_json(f, cases[i].fn);
        char err[512] = "";
        cr_assert_eq(open_rc(f, "correct horse", err, sizeof(err)), cases[i].rc, "%s: %s",
                     cases[i].what, err);
        cr_assert_not_null(strstr(err, cases[i].msg), "%s: %s", cases[i].what, err);
        unlink(f);
    }
}

Test(secrets, corrupt_files)
{
    const char *f = path("secrets.json");
    const char *bad[] = {
        "",
        "not json",
        "{\"version\": 1",
        "[]",
        "{\"version\": 1}",
        "{\"version\": \"1\", \"kdf\": {}, \"secrets\": []}",
        "{\"version\": 1, \"kdf\": {\"algorithm\": \"scrypt\", \"n\": 1024, \"r\": 8, \"p\": 1,"
        " \"salt\": \"00\"}, \"cipher\": \"aes-256-gcm\", \"secrets\": []}",
        "{\"version\": 1, \"kdf\": {\"algorithm\": \"scrypt\", \"n\": 1024, \"r\": 8, \"p\": 1,"
        " \"salt\": \"000102030405060708090a0b0c0d0e0f\"}, \"cipher\": \"aes-256-gcm\","
        " \"secrets\": []}",
        "{\"version\": 1, \"kdf\": {\"algorithm\": \"scrypt\", \"n\": -5, \"r\": 8, \"p\": 1,"
        " \"salt\": \"000102030405060708090a0b0c0d0e0f\"}, \"cipher\": \"aes-256-gcm\","
        " \"secrets\": []}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        spit(f, bad[i]);
        char err[512] = "";
        cr_assert_eq(open_rc(f, "pw", err, sizeof(err)), CLB_EPARSE, "case %zu: %s", i, err);
    }
    /* truncations of a valid file */
    unlink(f);
    make_three();
    char text[65536];
    size_t n = slurp(f, text, sizeof(text));
    for (size_t cut = 0; cut < n - 2; cut += 97) {
        FILE *o = fopen(f, "wb");
        fwrite(text, 1, cut, o);
        fclose(o);
        char err[512] = "";
        cr_assert_eq(open_rc(f, "correct horse", err, sizeof(err)), CLB_EPARSE, "cut %zu", cut);
    }
    /* a directory where the file should be */
    cr_assert_eq(mkdir(path("dir.json"), 0700), 0);
    char err[512] = "";
    cr_assert_eq(open_rc(path("dir.json"), "pw", err, sizeof(err)), CLB_EIO, "%s", err);
}

Test(secrets, set_validation)
{
    struct clb_secrets *s = open_ok(path("s.json"), "pw");
    cr_assert_eq(clb_secrets_set(s, "", "v"), CLB_EINVAL);
    cr_assert_eq(clb_secrets_set(s, "has space", "v"), CLB_EINVAL);
    cr_assert_eq(clb_secrets_set(s, "slash/name", "v"), CLB_EINVAL);
    cr_assert_eq(clb_secrets_set(s, NULL, "v"), CLB_EINVAL);
    cr_assert_eq(clb_secrets_set(s, "ok", ""), CLB_EINVAL);
    cr_assert_eq(clb_secrets_set(s, "ok", NULL), CLB_EINVAL);
    char name[CLB_SECRET_NAME_MAX + 1];
    memset(name, 'a', sizeof(name));
    name[CLB_SECRET_NAME_MAX] = '\0';
    cr_assert_eq(clb_secrets_set(s, name, "v"), CLB_EINVAL); /* 128 chars */
    name[CLB_SECRET_NAME_MAX - 1] = '\0';
    cr_assert_eq(clb_secrets_set(s, name, "v"), CLB_OK); /* 127 */
    char *big = malloc(CLB_SECRET_VALUE_MAX + 1);
    memset(big, 'x', CLB_SECRET_VALUE_MAX);
    big[CLB_SECRET_VALUE_MAX] = '\0';
    cr_assert_eq(clb_secrets_set(s, "big", big), CLB_EINVAL);
    big[CLB_SECRET_VALUE_MAX - 1] = '\0';
    cr_assert_eq(clb_secrets_set(s, "big", big), CLB_OK);
    char *buf = malloc(CLB_SECRET_VALUE_MAX);
    cr_assert_eq(clb_secrets_get(s, "big", buf, CLB_SECRET_VALUE_MAX, NULL), CLB_OK);
    cr_assert_eq(strlen(buf), CLB_SECRET_VALUE_MAX - 1);
    save_ok(s);
    clb_secrets_close(s);
    s = open_ok(path("s.json"), "pw");
    cr_assert_eq(clb_secrets_get(s, "big", buf, CLB_SECRET_VALUE_MAX, NULL), CLB_OK);
    cr_assert_eq(strcmp(buf, big), 0);
    cr_assert(clb_secret_name_valid("wallet.mainnet.0xABC:1_x-y"));
    free(big);
    free(buf);
    clb_secrets_close(s);
}

Test(secrets, concurrent_writer_refused)
{
    const char *f = make_three();
    struct clb_secrets *a = open_ok(f, "correct horse"), *b = open_ok(f, "correct horse");
    cr_assert_eq(clb_secrets_set(a, "a", "1"), CLB_OK);
    save_ok(a);
    cr_assert_eq(clb_secrets_set(b, "b", "2"), CLB_OK);
    char err[512] = "";
    cr_assert_eq(clb_secrets_save(b, err, sizeof(err)), CLB_ESTATE);
    cr_assert_not_null(strstr(err, "changed"), "%s", err);
    /* a can keep saving: it tracks its own writes */
    cr_assert_eq(clb_secrets_set(a, "c", "3"), CLB_OK);
    save_ok(a);
    clb_secrets_close(a);
    clb_secrets_close(b);
    /* two new stores on the same missing path: the second save is refused */
    struct clb_secrets *x = open_ok(path("n.json"), "pw"), *y = open_ok(path("n.json"), "pw");
    cr_assert_eq(clb_secrets_set(x, "a", "1"), CLB_OK);
    cr_assert_eq(clb_secrets_set(y, "a", "1"), CLB_OK);
    save_ok(x);
    cr_assert_eq(clb_secrets_save(y, err, sizeof(err)), CLB_ESTATE);
    clb_secrets_close(x);
    clb_secrets_close(y);
    /* a missing directory */
    x = open_ok(path("nodir/s.json"), "pw");
    cr_assert_eq(clb_secrets_set(x, "a", "1"), CLB_OK);
    cr_assert_eq(clb_secrets_save(x, err, sizeof(err)), CLB_EIO);
    clb_secrets_close(x);
}

Test(secrets, rekey)
{
    const char *f = make_three();
    struct clb_secrets *s = open_ok(f, "correct horse");
    struct clb_secrets_kdf k = { .n = 2048, .r = 4, .p = 2 };
    cr_assert_eq(clb_secrets_rekey(s, "battery staple", &k), CLB_OK);
    expect_value(s, "binance.api_key", "AKEY-123");
    save_ok(s);
    clb_secrets_close(s);
    char err[512];
    cr_assert_eq(open_rc(f, "correct horse", err, sizeof(err)), CLB_SECRETS_EPASSPHRASE);
    s = open_ok(f, "battery staple");
    expect_value(s, "binance.api_secret", "S3CR3T-value");
    struct clb_secrets_kdf bad = { .n = 1000, .r = 8, .p = 1 };
    cr_assert_eq(clb_secrets_rekey(s, "x", &bad), CLB_EINVAL);
    cr_assert_eq(clb_secrets_rekey(s, "", NULL), CLB_EINVAL);
    expect_value(s, "binance.api_key", "AKEY-123");
    clb_secrets_close(s);
    json_error_t je;
    json_t *d = json_load_file(f, 0, &je);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(d, "kdf"), "n")), 2048);
    cr_assert_eq(json_integer_value(json_object_get(json_object_get(d, "kdf"), "p")), 2);
    json_decref(d);
}

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Random set/remove/save/reopen against a plain array. */
Test(secrets, random_operations_against_reference)
{
    enum { NAMES = 12 };
    char ref[NAMES][64];
    bool has[NAMES] = { false };
    uint64_t seed = 2024;
    const char *f = path("r.json");
    struct clb_secrets *s = open_ok(f, "pw");
    for (int step = 0; step < 600; step++) {
        int k = (int)(splitmix64(&seed) % NAMES);
        char name[32];
        snprintf(name, sizeof(name), "n%02d.key", k);
        uint64_t op = splitmix64(&seed) % 10;
        if (op < 5) {
            snprintf(ref[k], sizeof(ref[k]), "v%llu", (unsigned long long)splitmix64(&seed));
            cr_assert_eq(clb_secrets_set(s, name, ref[k]), CLB_OK);
            has[k] = true;
        } else if (op < 8) {
            cr_assert_eq(clb_secrets_remove(s, name), has[k] ? CLB_OK : CLB_ENOTFOUND);
            has[k] = false;
        } else if (op == 8) {
            save_ok(s);
        } else {
            save_ok(s);
            clb_secrets_close(s);
            s = open_ok(f, "pw");
        }
        size_t count = 0;
        for (int i = 0; i < NAMES; i++)
            count += has[i];
        cr_assert_eq(clb_secrets_count(s), count);
        char buf[64];
        for (int i = 0; i < NAMES; i++) {
            snprintf(name, sizeof(name), "n%02d.key", i);
            int rc = clb_secrets_get(s, name, buf, sizeof(buf), NULL);
            if (has[i]) {
                cr_assert_eq(rc, CLB_OK);
                cr_assert_str_eq(buf, ref[i]);
            } else {
                cr_assert_eq(rc, CLB_ENOTFOUND);
            }
        }
        char names[NAMES][CLB_SECRET_NAME_MAX];
        size_t n = 0;
        cr_assert_eq(clb_secrets_list(s, names, NAMES, &n), CLB_OK);
        for (size_t i = 1; i < n; i++)
            cr_assert_lt(strcmp(names[i - 1], names[i]), 0);
    }
    clb_secrets_close(s);
}

/* ---- the CLI, through the built binary ---- */

/* Runs `colibri ARGS` detached from any terminal (setsid), with stdin
 * from `input` (NULL: /dev/null) and env prefix `env` (may be ""). */
__attribute__((format(printf, 3, 4))) static int run(const char *env, const char *input,
                                                     const char *fmt, ...)
{
    char args[2048], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    if (input)
        spit(path("in"), input);
    const char *bin = getenv("COLIBRI_TEST_BINARY");
    snprintf(cmd, sizeof(cmd), "env -u COLIBRI_SECRETS_PASSPHRASE %s setsid -w '%s' %s "
             ">'%s/out' 2>'%s/err' <'%s'",
             env, bin && *bin ? bin : COLIBRI_BINARY_DIR "/colibri", args, g_dir, g_dir,
             input ? path("in") : "/dev/null");
    int st = system(cmd);
    cr_assert(WIFEXITED(st));
    slurp(path("out"), g_out, sizeof(g_out));
    slurp(path("err"), g_err, sizeof(g_err));
    return WEXITSTATUS(st);
}

#define PW "COLIBRI_SECRETS_PASSPHRASE='open sesame'"

Test(secrets, cli_set_list_rm)
{
    char dd[300];
    snprintf(dd, sizeof(dd), "%s/data", g_dir);
    cr_assert_eq(run(PW, "hunter2-api-key\n", "secret set binance.api_key --data-dir '%s'", dd), 0,
                 "%s", g_err);
    cr_assert_not_null(strstr(g_err, "stored"), "%s", g_err);
    cr_assert_null(strstr(g_err, "hunter2"));
    cr_assert_null(strstr(g_out, "hunter2"));
    cr_assert_eq(run(PW, "s3cr3t\r\n", "secret set --data-dir='%s' binance.api_secret", dd), 0,
                 "%s", g_err);
    char file[400];
    snprintf(file, sizeof(file), "%s/secrets.json", dd);
    struct stat st;
    cr_assert_eq(stat(file, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(dd, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);

    /* the library reads what the CLI wrote (newline and CR stripped) */
    struct clb_secrets *s = NULL;
    char err[256];
    cr_assert_eq(clb_secrets_open(file, "open sesame", &s, err, sizeof(err)), CLB_OK, "%s", err);
    expect_value(s, "binance.api_key", "hunter2-api-key");
    expect_value(s, "binance.api_secret", "s3cr3t");
    clb_secrets_close(s);

    cr_assert_eq(run(PW, NULL, "secret list --data-dir '%s'", dd), 0, "%s", g_err);
    cr_assert_str_eq(g_out, "binance.api_key\nbinance.api_secret\n");
    /* replace */
    cr_assert_eq(run(PW, "other", "secret set binance.api_key --data-dir '%s'", dd), 0);
    cr_assert_not_null(strstr(g_err, "replaced"));
    /* wrong passphrase */
    cr_assert_eq(run("COLIBRI_SECRETS_PASSPHRASE=nope", NULL, "secret list --data-dir '%s'", dd),
                 1);
    cr_assert_not_null(strstr(g_err, "wrong passphrase"), "%s", g_err);
    cr_assert_str_eq(g_out, "");
    /* no passphrase and no terminal */
    int rc = run("", NULL, "secret list --data-dir '%s'", dd);
    cr_assert_eq(rc, 1, "rc %d: %s", rc, g_err);
    cr_assert_not_null(strstr(g_err, "COLIBRI_SECRETS_PASSPHRASE"), "%s", g_err);
    /* rm */
    cr_assert_eq(run(PW, NULL, "secret rm binance.api_secret --data-dir '%s'", dd), 0, "%s",
                 g_err);
    cr_assert_eq(run(PW, NULL, "secret rm binance.api_secret --data-dir '%s'", dd), 1);
    cr_assert_not_null(strstr(g_err, "no secret named"));
    cr_assert_eq(run(PW, NULL, "secret list --data-dir '%s'", dd), 0);
    cr_assert_str_eq(g_out, "binance.api_key\n");
    /* COLIBRI_DATA_DIR */
    char env[600];
    snprintf(env, sizeof(env), PW " COLIBRI_DATA_DIR='%s'", dd);
    cr_assert_eq(run(env, NULL, "secret list"), 0, "%s", g_err);
    cr_assert_str_eq(g_out, "binance.api_key\n");
}

Test(secrets, cli_errors_and_help)
{
    char dd[300];
    snprintf(dd, sizeof(dd), "%s/data", g_dir);
    cr_assert_eq(run(PW, NULL, "secret --help"), 0);
    cr_assert_not_null(strstr(g_out, "usage: colibri secret set NAME"));
    cr_assert_eq(run(PW, NULL, "secret set --help"), 0);
    cr_assert_not_null(strstr(g_out, "standard input"));
    cr_assert_eq(run(PW, NULL, "secret list -h"), 0);
    cr_assert_eq(run(PW, NULL, "secret rm --help"), 0);
    cr_assert_eq(run(PW, NULL, "secret"), 2);
    cr_assert_eq(run(PW, NULL, "secret frob --data-dir '%s'", dd), 2);
    cr_assert_eq(run(PW, NULL, "secret set --data-dir '%s'", dd), 2);
    cr_assert_eq(run(PW, "v", "secret set 'bad name' --data-dir '%s'", dd), 2);
    cr_assert_eq(run(PW, "v", "secret set a b --data-dir '%s'", dd), 2);
    cr_assert_eq(run(PW, "v", "secret set a --bogus --data-dir '%s'", dd), 2);
    cr_assert_eq(run(PW, NULL, "secret set a --data-dir"), 2);
    /* empty value on stdin */
    cr_assert_eq(run(PW, "", "secret set a --data-dir '%s'", dd), 1);
    cr_assert_not_null(strstr(g_err, "empty value"), "%s", g_err);
    cr_assert_eq(run(PW, "\n", "secret set a --data-dir '%s'", dd), 1);
    /* list without a file: nothing, success */
    cr_assert_eq(run(PW, NULL, "secret list --data-dir '%s'", dd), 0);
    cr_assert_str_eq(g_out, "");
    cr_assert_eq(run(PW, NULL, "secret rm a --data-dir '%s'", dd), 1);
    /* too long a value */
    char *big = malloc(CLB_SECRET_VALUE_MAX + 10);
    memset(big, 'x', CLB_SECRET_VALUE_MAX + 9);
    big[CLB_SECRET_VALUE_MAX + 9] = '\0';
    cr_assert_eq(run(PW, big, "secret set a --data-dir '%s'", dd), 1);
    cr_assert_not_null(strstr(g_err, "longer than"), "%s", g_err);
    /* the longest value, with and without CR LF; one byte more fails */
    memset(big, 'y', CLB_SECRET_VALUE_MAX - 1);
    strcpy(big + CLB_SECRET_VALUE_MAX - 1, "\r\n");
    cr_assert_eq(run(PW, big, "secret set longest --data-dir '%s'", dd), 0, "%s", g_err);
    big[CLB_SECRET_VALUE_MAX - 1] = '\0';
    cr_assert_eq(run(PW, big, "secret set longest --data-dir '%s'", dd), 0, "%s", g_err);
    strcpy(big + CLB_SECRET_VALUE_MAX - 1, "z\n");
    cr_assert_eq(run(PW, big, "secret set longest --data-dir '%s'", dd), 1);
    free(big);
    /* the top-level usage lists the command */
    cr_assert_eq(run("", NULL, "--help"), 0);
    cr_assert_not_null(strstr(g_out, "secret"));
}

Test(secrets, cli_passwd)
{
    char dd[300];
    snprintf(dd, sizeof(dd), "%s/data", g_dir);
    cr_assert_eq(run(PW, NULL, "secret passwd --data-dir '%s'", dd), 1); /* no file yet */
    cr_assert_eq(run(PW, "v1", "secret set a.b --data-dir '%s'", dd), 0, "%s", g_err);
    /* the new passphrase must come from somewhere */
    cr_assert_eq(run(PW, NULL, "secret passwd --data-dir '%s'", dd), 1);
    cr_assert_not_null(strstr(g_err, "COLIBRI_SECRETS_NEW_PASSPHRASE"), "%s", g_err);
    cr_assert_eq(run(PW " COLIBRI_SECRETS_NEW_PASSPHRASE='new one'", NULL,
                     "secret passwd --data-dir '%s'", dd),
                 0, "%s", g_err);
    cr_assert_eq(run(PW, NULL, "secret list --data-dir '%s'", dd), 1);
    cr_assert_not_null(strstr(g_err, "wrong passphrase"));
    cr_assert_eq(run("COLIBRI_SECRETS_PASSPHRASE='new one'", NULL, "secret list --data-dir '%s'",
                     dd),
                 0, "%s", g_err);
    cr_assert_str_eq(g_out, "a.b\n");
    char file[400];
    snprintf(file, sizeof(file), "%s/secrets.json", dd);
    struct clb_secrets *s = NULL;
    char err[256];
    cr_assert_eq(clb_secrets_open(file, "new one", &s, err, sizeof(err)), CLB_OK, "%s", err);
    expect_value(s, "a.b", "v1");
    clb_secrets_close(s);
}
