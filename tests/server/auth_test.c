/* Tests for server/auth.c and server/cli_token.c: roles and names, token
 * hashing, the file store (0600, atomic, hash only, shared between
 * instances and processes), last-use persistence, the failure throttle,
 * the first-start admin token, a random operation sequence against a naive
 * reference, and the `colibri token` command. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "error.h"

static char g_dir[256];

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_auth_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(auth, .init = setup, .fini = teardown);

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

static struct clb_auth *open_auth(const char *dir)
{
    struct clb_token_store st;
    char err[256];
    cr_assert_eq(clb_token_store_open_file(dir, &st, err, sizeof(err)), CLB_OK, "%s", err);
    struct clb_auth *a = NULL;
    cr_assert_eq(clb_auth_create(st, &a), CLB_OK);
    return a;
}

/* ---- roles, names, hashing ---- */

Test(auth, roles_parse_and_imply)
{
    enum clb_role r = CLB_ROLE_NONE;
    cr_assert_eq(clb_role_parse("read", &r), CLB_OK);
    cr_assert_eq(r, CLB_ROLE_READ);
    cr_assert_eq(clb_role_parse("admin", &r), CLB_OK);
    cr_assert_eq(r, CLB_ROLE_ADMIN);
    cr_assert_eq(clb_role_parse("Admin", &r), CLB_EINVAL);
    cr_assert_eq(clb_role_parse("none", &r), CLB_EINVAL);
    cr_assert_eq(clb_role_parse(NULL, &r), CLB_EINVAL);
    cr_assert_eq(r, CLB_ROLE_ADMIN, "untouched on error");
    cr_assert(clb_role_allows(CLB_ROLE_ADMIN, CLB_ROLE_TRADE));
    cr_assert(clb_role_allows(CLB_ROLE_TRADE, CLB_ROLE_READ));
    cr_assert(clb_role_allows(CLB_ROLE_READ, CLB_ROLE_READ));
    cr_assert_not(clb_role_allows(CLB_ROLE_READ, CLB_ROLE_TRADE));
    cr_assert_not(clb_role_allows(CLB_ROLE_TRADE, CLB_ROLE_ADMIN));
    cr_assert_str_eq(clb_role_name(CLB_ROLE_TRADE), "trade");
}

Test(auth, token_names)
{
    cr_assert(clb_token_name_valid("grafana-ro_1.x"));
    cr_assert_not(clb_token_name_valid(""));
    cr_assert_not(clb_token_name_valid(NULL));
    cr_assert_not(clb_token_name_valid("a b"));
    cr_assert_not(clb_token_name_valid("a/b"));
    cr_assert_not(clb_token_name_valid("é"));
    char longname[80];
    memset(longname, 'a', 63);
    longname[63] = '\0';
    cr_assert(clb_token_name_valid(longname));
    longname[63] = 'a';
    longname[64] = '\0';
    cr_assert_not(clb_token_name_valid(longname));
}

Test(auth, token_hash_is_sha256_of_the_32_bytes)
{
    /* 32 zero bytes: SHA-256 = 66687aad...f925 */
    char tok[CLB_TOKEN_TEXT_LEN + 1];
    snprintf(tok, sizeof(tok), "clb_%064d", 0);
    char hex[CLB_TOKEN_HASH_HEX];
    cr_assert_eq(clb_token_hash(tok, hex), CLB_OK);
    cr_assert_str_eq(hex, "66687aadf862bd776c8fc18b8e9f8e20089714856ee233b3902a591d0d5f2925");
    const char *bad[] = { "clb_", "xyz_0000000000000000000000000000000000000000000000000000000000000000",
                          "clb_000000000000000000000000000000000000000000000000000000000000000",
                          "clb_00000000000000000000000000000000000000000000000000000000000000000",
                          "clb_000000000000000000000000000000000000000000000000000000000000000G",
                          "clb_000000000000000000000000000000000000000000000000000000000000000A",
                          "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_assert_eq(clb_token_hash(bad[i], hex), CLB_EINVAL, "%s", bad[i]);
        cr_assert_eq(strlen(hex), 64, "hash still written for constant-time compare");
    }
    cr_assert_eq(clb_token_hash(NULL, hex), CLB_EINVAL);
}

/* ---- store ---- */

Test(auth, create_verify_list_revoke)
{
    struct clb_auth *a = open_auth(g_dir);
    char tok[CLB_TOKEN_TEXT_LEN + 1];
    struct clb_token_record rec;
    cr_assert_eq(clb_auth_token_create(a, "ops", CLB_ROLE_TRADE, 1000, tok, &rec), CLB_OK);
    cr_assert_eq(strlen(tok), CLB_TOKEN_TEXT_LEN);
    cr_assert_eq(strncmp(tok, "clb_", 4), 0);
    char hex[CLB_TOKEN_HASH_HEX];
    cr_assert_eq(clb_token_hash(tok, hex), CLB_OK);
    cr_assert_str_eq(rec.hash, hex);
    cr_assert_eq(rec.created_s, 1000);

    /* stored: hash yes, token no, mode 0600 */
    char file[8192];
    slurp(path("tokens.json"), file, sizeof(file));
    cr_assert_not_null(strstr(file, hex));
    cr_assert_null(strstr(file, tok + 4));
    cr_assert_not_null(strstr(file, "\"role\": \"trade\""));
    struct stat st;
    cr_assert_eq(stat(path("tokens.json"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_neq(access(path("tokens.json.tmp"), F_OK), 0, "no temporary file left");

    enum clb_role role = CLB_ROLE_NONE;
    char name[CLB_TOKEN_NAME_MAX];
    cr_assert_eq(clb_auth_verify(a, tok, 2000, &role, name), CLB_OK);
    cr_assert_eq(role, CLB_ROLE_TRADE);
    cr_assert_str_eq(name, "ops");
    char wrong[CLB_TOKEN_TEXT_LEN + 1];
    memcpy(wrong, tok, sizeof(wrong));
    wrong[10] = wrong[10] == 'a' ? 'b' : 'a';
    role = CLB_ROLE_NONE;
    cr_assert_eq(clb_auth_verify(a, wrong, 2000, &role, NULL), CLB_ENOTFOUND);
    cr_assert_eq(clb_auth_verify(a, "nonsense", 2000, &role, NULL), CLB_ENOTFOUND);
    cr_assert_eq(clb_auth_verify(a, "", 2000, &role, NULL), CLB_ENOTFOUND);
    cr_assert_eq(role, CLB_ROLE_NONE);

    struct clb_token_record list[4];
    size_t n = 0;
    cr_assert_eq(clb_auth_token_list(a, list, 4, &n), CLB_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(list[0].name, "ops");
    cr_assert_eq(list[0].last_used_s, 2000);

    cr_assert_eq(clb_auth_token_revoke(a, "ops"), CLB_OK);
    cr_assert_eq(clb_auth_verify(a, tok, 2001, &role, NULL), CLB_ENOTFOUND);
    cr_assert_eq(clb_auth_token_revoke(a, "ops"), CLB_ENOTFOUND);
    cr_assert_eq(clb_auth_token_list(a, list, 4, &n), CLB_OK);
    cr_assert_eq(n, 0);
    clb_auth_destroy(a);
}

Test(auth, bad_requests_change_nothing)
{
    struct clb_auth *a = open_auth(g_dir);
    char tok[CLB_TOKEN_TEXT_LEN + 1];
    cr_assert_eq(clb_auth_token_create(a, "one", CLB_ROLE_READ, 1, tok, NULL), CLB_OK);
    char before[8192], after[8192];
    slurp(path("tokens.json"), before, sizeof(before));
    cr_assert_eq(clb_auth_token_create(a, "one", CLB_ROLE_ADMIN, 2, tok, NULL), CLB_EEXIST);
    cr_assert_eq(clb_auth_token_create(a, "bad name", CLB_ROLE_READ, 2, tok, NULL), CLB_EINVAL);
    cr_assert_eq(clb_auth_token_create(a, "x", CLB_ROLE_NONE, 2, tok, NULL), CLB_EINVAL);
    cr_assert_eq(clb_auth_token_create(a, "x", (enum clb_role)7, 2, tok, NULL), CLB_EINVAL);
    cr_assert_eq(clb_auth_token_revoke(a, "missing"), CLB_ENOTFOUND);
    cr_assert_eq(clb_auth_token_revoke(a, "../etc"), CLB_ENOTFOUND);
    slurp(path("tokens.json"), after, sizeof(after));
    cr_assert_str_eq(before, after);
    clb_auth_destroy(a);
}

Test(auth, second_instance_sees_changes)
{
    struct clb_auth *server = open_auth(g_dir);
    struct clb_auth *cli = open_auth(g_dir);
    char tok[CLB_TOKEN_TEXT_LEN + 1];
    enum clb_role role;
    cr_assert_eq(clb_auth_token_create(cli, "late", CLB_ROLE_ADMIN, 5, tok, NULL), CLB_OK);
    cr_assert_eq(clb_auth_verify(server, tok, 6, &role, NULL), CLB_OK);
    cr_assert_eq(role, CLB_ROLE_ADMIN);
    /* the server's noted use survives the other instance's rewrite */
    char tok2[CLB_TOKEN_TEXT_LEN + 1];
    cr_assert_eq(clb_auth_token_create(cli, "other", CLB_ROLE_READ, 7, tok2, NULL), CLB_OK);
    cr_assert_eq(clb_auth_token_revoke(cli, "late"), CLB_OK);
    cr_assert_eq(clb_auth_verify(server, tok, 8, &role, NULL), CLB_ENOTFOUND);
    cr_assert_eq(clb_auth_verify(server, tok2, 8, &role, NULL), CLB_OK);
    cr_assert_eq(role, CLB_ROLE_READ);
    clb_auth_destroy(server);
    clb_auth_destroy(cli);
}

Test(auth, last_use_is_persisted_lazily)
{
    struct clb_auth *a = open_auth(g_dir);
    char tok[CLB_TOKEN_TEXT_LEN + 1];
    enum clb_role role;
    cr_assert_eq(clb_auth_token_create(a, "t", CLB_ROLE_READ, 100, tok, NULL), CLB_OK);
    cr_assert_eq(clb_auth_verify(a, tok, 1000, &role, NULL), CLB_OK); /* first use: written */
    char file[8192];
    slurp(path("tokens.json"), file, sizeof(file));
    cr_assert_not_null(strstr(file, "\"last_used\": 1000"), "%s", file);
    cr_assert_eq(clb_auth_verify(a, tok, 1010, &role, NULL), CLB_OK); /* within a minute */
    slurp(path("tokens.json"), file, sizeof(file));
    cr_assert_not_null(strstr(file, "\"last_used\": 1000"));
    cr_assert_eq(clb_auth_verify(a, tok, 1070, &role, NULL), CLB_OK); /* a minute later */
    slurp(path("tokens.json"), file, sizeof(file));
    cr_assert_not_null(strstr(file, "\"last_used\": 1070"));
    cr_assert_eq(clb_auth_verify(a, tok, 1075, &role, NULL), CLB_OK);
    clb_auth_destroy(a); /* pending use flushed */
    slurp(path("tokens.json"), file, sizeof(file));
    cr_assert_not_null(strstr(file, "\"last_used\": 1075"));
}

Test(auth, malformed_store_is_refused_and_kept_state_survives)
{
    struct clb_auth *a = open_auth(g_dir);
    char tok[CLB_TOKEN_TEXT_LEN + 1];
    enum clb_role role;
    cr_assert_eq(clb_auth_token_create(a, "t", CLB_ROLE_READ, 1, tok, NULL), CLB_OK);
    const char *broken[] = {
        "{", "[]", "{\"tokens\": 3}", "{\"tokens\": [{\"name\": \"x\"}]}",
        "{\"tokens\": [{\"name\": \"x\", \"role\": \"read\", \"hash\": \"zz\", \"created\": 1}]}",
        "{\"tokens\": [{\"name\": \"x\", \"role\": \"god\", \"hash\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\", \"created\": 1}]}",
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        char dir[300];
        snprintf(dir, sizeof(dir), "%s/b%zu", g_dir, i);
        cr_assert_eq(mkdir(dir, 0700), 0);
        char file[400];
        snprintf(file, sizeof(file), "%s/tokens.json", dir);
        FILE *f = fopen(file, "w");
        fputs(broken[i], f);
        fclose(f);
        struct clb_token_store st;
        char err[256] = "";
        cr_assert_eq(clb_token_store_open_file(dir, &st, err, sizeof(err)), CLB_EPARSE, "%s",
                     broken[i]);
        cr_assert_not_null(strstr(err, "tokens.json"), "message names the file: %s", err);
    }
    /* a running instance keeps its last good state if the file turns bad */
    FILE *f = fopen(path("tokens.json"), "w");
    fputs("{ garbage", f);
    fclose(f);
    cr_assert_eq(clb_auth_verify(a, tok, 2, &role, NULL), CLB_OK);
    /* but refuses to change it */
    char tok2[CLB_TOKEN_TEXT_LEN + 1];
    cr_assert_neq(clb_auth_token_create(a, "u", CLB_ROLE_READ, 3, tok2, NULL), CLB_OK);
    char file[256];
    slurp(path("tokens.json"), file, sizeof(file));
    cr_assert_str_eq(file, "{ garbage");
    clb_auth_destroy(a);
}

struct writer {
    struct clb_auth *a;
    char prefix;
};

static void *write_many(void *arg)
{
    struct writer *w = arg;
    char tok[CLB_TOKEN_TEXT_LEN + 1], name[16];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "%c%d", w->prefix, i);
        if (clb_auth_token_create(w->a, name, CLB_ROLE_READ, i, tok, NULL) != CLB_OK)
            return (void *)1;
        enum clb_role role;
        /* uses far apart in time: each one is written at once */
        if (clb_auth_verify(w->a, tok, 1000 + 100 * i, &role, NULL) != CLB_OK)
            return (void *)1;
    }
    return NULL;
}

Test(auth, concurrent_instances_in_one_process_lose_nothing)
{
    struct writer w[2] = { { open_auth(g_dir), 'a' }, { open_auth(g_dir), 'b' } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        cr_assert_eq(pthread_create(&t[i], NULL, write_many, &w[i]), 0);
    for (int i = 0; i < 2; i++) {
        void *res;
        pthread_join(t[i], &res);
        cr_assert_null(res, "writer %d failed", i);
    }
    static struct clb_token_record list[128];
    size_t n = 0;
    cr_assert_eq(clb_auth_token_list(w[0].a, list, 128, &n), CLB_OK);
    cr_assert_eq(n, 80);
    clb_auth_destroy(w[0].a);
    clb_auth_destroy(w[1].a);
    struct clb_auth *a = open_auth(g_dir);
    cr_assert_eq(clb_auth_token_list(a, list, 128, &n), CLB_OK);
    cr_assert_eq(n, 80, "all on disk");
    clb_auth_destroy(a);
}

/* ---- throttle ---- */

Test(auth, throttle_locks_out_after_five_failures_for_the_window)
{
    struct clb_auth *a = open_auth(g_dir);
    int retry = 0;
    int64_t t0 = 1000000;
    for (int i = 0; i < CLB_AUTH_FAIL_LIMIT; i++) {
        cr_assert_eq(clb_auth_throttle_check(a, "10.0.0.1", t0 + i * 1000, &retry), CLB_OK);
        clb_auth_throttle_fail(a, "10.0.0.1", t0 + i * 1000);
    }
    cr_assert_eq(clb_auth_throttle_check(a, "10.0.0.1", t0 + 5000, &retry), CLB_EFULL);
    cr_assert_eq(retry, 55);
    cr_assert_eq(clb_auth_throttle_check(a, "10.0.0.1", t0 + 59500, &retry), CLB_EFULL);
    cr_assert_eq(retry, 1);
    cr_assert_eq(clb_auth_throttle_check(a, "10.0.0.2", t0 + 5000, &retry), CLB_OK,
                 "other addresses unaffected");
    cr_assert_eq(clb_auth_throttle_check(a, "10.0.0.1", t0 + 60000, &retry), CLB_OK,
                 "window over");
    /* failures spread wider than the window never lock out */
    for (int i = 0; i < 20; i++) {
        clb_auth_throttle_fail(a, "10.0.0.3", t0 + i * 16000);
        cr_assert_eq(clb_auth_throttle_check(a, "10.0.0.3", t0 + i * 16000, &retry), CLB_OK,
                     "i=%d", i);
    }
    clb_auth_destroy(a);
}

Test(auth, throttle_table_is_bounded)
{
    struct clb_auth *a = open_auth(g_dir);
    int retry;
    char addr[32];
    for (int i = 0; i < CLB_AUTH_THROTTLE_SLOTS * 3; i++) {
        snprintf(addr, sizeof(addr), "192.0.2.%d/%d", i % 250, i);
        for (int k = 0; k < CLB_AUTH_FAIL_LIMIT; k++)
            clb_auth_throttle_fail(a, addr, 1000 + i);
        cr_assert_eq(clb_auth_throttle_check(a, addr, 1000 + i, &retry), CLB_EFULL);
    }
    /* the latest ones are still tracked */
    cr_assert_eq(clb_auth_throttle_check(a, addr, 2000, &retry), CLB_EFULL);
    clb_auth_destroy(a);
}

/* ---- first start ---- */

Test(auth, bootstrap_creates_one_admin_token_once)
{
    char p[512] = "";
    cr_assert_eq(clb_auth_bootstrap_admin(g_dir, NULL, p, sizeof(p)), 1);
    cr_assert_str_eq(p, path("admin.token"));
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char tok[128];
    slurp(p, tok, sizeof(tok));
    cr_assert_eq(strlen(tok), CLB_TOKEN_TEXT_LEN + 1);
    cr_assert_eq(tok[CLB_TOKEN_TEXT_LEN], '\n');
    tok[CLB_TOKEN_TEXT_LEN] = '\0';
    char file[8192];
    slurp(path("tokens.json"), file, sizeof(file));
    cr_assert_null(strstr(file, tok + 4), "only the hash is stored");

    struct clb_auth *a = open_auth(g_dir);
    enum clb_role role;
    char name[CLB_TOKEN_NAME_MAX];
    cr_assert_eq(clb_auth_verify(a, tok, 1, &role, name), CLB_OK);
    cr_assert_eq(role, CLB_ROLE_ADMIN);
    cr_assert_str_eq(name, "admin");
    clb_auth_destroy(a);

    char again[512] = "untouched";
    cr_assert_eq(clb_auth_bootstrap_admin(g_dir, NULL, again, sizeof(again)), 0);
    cr_assert_str_eq(again, "untouched");
    char tok2[128];
    slurp(p, tok2, sizeof(tok2));
    tok2[CLB_TOKEN_TEXT_LEN] = '\0';
    cr_assert_str_eq(tok, tok2);
}

Test(auth, bootstrap_fails_cleanly_on_a_bad_directory)
{
    FILE *f = fopen(path("file"), "w");
    fclose(f);
    char p[512] = "";
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/file/sub", g_dir);
    cr_assert_lt(clb_auth_bootstrap_admin(dir, NULL, p, sizeof(p)), 0);
    snprintf(dir, sizeof(dir), "%s/missing/sub", g_dir);
    cr_assert_lt(clb_auth_bootstrap_admin(dir, NULL, p, sizeof(p)), 0);
    cr_assert_str_eq(p, "");
    /* existing tokens: nothing is created */
    struct clb_auth *a = open_auth(g_dir);
    char tok[CLB_TOKEN_TEXT_LEN + 1];
    cr_assert_eq(clb_auth_token_create(a, "ro", CLB_ROLE_READ, 1, tok, NULL), CLB_OK);
    clb_auth_destroy(a);
    cr_assert_eq(clb_auth_bootstrap_admin(g_dir, NULL, p, sizeof(p)), 0);
    cr_assert_neq(access(path("admin.token"), F_OK), 0);
}

/* ---- random operations against a naive reference ---- */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

struct ref_tok {
    char name[8];
    char token[CLB_TOKEN_TEXT_LEN + 1];
    enum clb_role role;
    bool live;
};

Test(auth, random_operations_match_reference)
{
    static struct ref_tok ref[16]; /* name "t0".."t15"; revoked ones keep their old token */
    uint64_t seed = 7;
    struct clb_auth *a = open_auth(g_dir);
    struct clb_auth *b = open_auth(g_dir); /* a second reader of the same directory */
    for (int i = 0; i < 16; i++)
        snprintf(ref[i].name, sizeof(ref[i].name), "t%d", i);
    for (int step = 0; step < 1500; step++) {
        int k = (int)(splitmix64(&seed) % 16);
        int op = (int)(splitmix64(&seed) % 4);
        struct clb_auth *who = splitmix64(&seed) % 2 ? a : b;
        char tok[CLB_TOKEN_TEXT_LEN + 1];
        enum clb_role role = CLB_ROLE_NONE;
        if (op == 0) {
            enum clb_role r = (enum clb_role)(1 + splitmix64(&seed) % 3);
            int rc = clb_auth_token_create(who, ref[k].name, r, step, tok, NULL);
            cr_assert_eq(rc, ref[k].live ? CLB_EEXIST : CLB_OK, "step %d", step);
            if (rc == CLB_OK) {
                memcpy(ref[k].token, tok, sizeof(tok));
                ref[k].role = r;
                ref[k].live = true;
            }
        } else if (op == 1) {
            cr_assert_eq(clb_auth_token_revoke(who, ref[k].name),
                         ref[k].live ? CLB_OK : CLB_ENOTFOUND, "step %d", step);
            ref[k].live = false;
        } else {
            if (!ref[k].token[0])
                continue;
            int rc = clb_auth_verify(who, ref[k].token, step, &role, NULL);
            cr_assert_eq(rc, ref[k].live ? CLB_OK : CLB_ENOTFOUND, "step %d", step);
            if (rc == CLB_OK)
                cr_assert_eq(role, ref[k].role);
        }
        if (step % 50 == 0) {
            struct clb_token_record list[32];
            size_t n = 0, live = 0;
            cr_assert_eq(clb_auth_token_list(who, list, 32, &n), CLB_OK);
            for (int i = 0; i < 16; i++) {
                if (!ref[i].live)
                    continue;
                live++;
                bool found = false;
                for (size_t j = 0; j < n; j++)
                    found |= strcmp(list[j].name, ref[i].name) == 0 && list[j].role == ref[i].role;
                cr_assert(found, "step %d: %s missing", step, ref[i].name);
            }
            cr_assert_eq(n, live);
        }
    }
    clb_auth_destroy(a);
    clb_auth_destroy(b);
}

/* ---- the CLI ---- */

static char g_out[8192], g_err[8192];

__attribute__((format(printf, 1, 2))) static int run(const char *fmt, ...)
{
    char args[2048], cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    const char *bin = getenv("COLIBRI_TEST_BINARY");
    snprintf(cmd, sizeof(cmd), "'%s' %s >'%s/out' 2>'%s/err' </dev/null",
             bin && *bin ? bin : COLIBRI_BINARY_DIR "/colibri", args, g_dir, g_dir);
    int st = system(cmd);
    cr_assert(WIFEXITED(st));
    slurp(path("out"), g_out, sizeof(g_out));
    slurp(path("err"), g_err, sizeof(g_err));
    return WEXITSTATUS(st);
}

Test(auth, cli_token_create_list_revoke)
{
    char dd[300];
    snprintf(dd, sizeof(dd), "%s/data", g_dir);
    cr_assert_eq(run("token create --role trade --name bot --data-dir '%s'", dd), 0, "%s", g_err);
    cr_assert_eq(strlen(g_out), CLB_TOKEN_TEXT_LEN + 1, "token alone on stdout: %s", g_out);
    char tok[CLB_TOKEN_TEXT_LEN + 1];
    memcpy(tok, g_out, CLB_TOKEN_TEXT_LEN);
    tok[CLB_TOKEN_TEXT_LEN] = '\0';
    cr_assert_not_null(strstr(g_err, "only this once"));

    struct clb_auth *a = open_auth(dd);
    enum clb_role role;
    cr_assert_eq(clb_auth_verify(a, tok, 1, &role, NULL), CLB_OK);
    cr_assert_eq(role, CLB_ROLE_TRADE);

    cr_assert_eq(run("token create --role=trade --name=bot --data-dir='%s'", dd), 1);
    cr_assert_not_null(strstr(g_err, "exists"));
    cr_assert_eq(run("token create --role root --name x --data-dir '%s'", dd), 2);
    cr_assert_eq(run("token create --role read --name 'a b' --data-dir '%s'", dd), 2);
    cr_assert_eq(run("token create --role read --data-dir '%s'", dd), 2);
    cr_assert_eq(run("token frobnicate --data-dir '%s'", dd), 2);

    cr_assert_eq(run("token list --data-dir '%s'", dd), 0);
    cr_assert_not_null(strstr(g_out, "bot"));
    cr_assert_not_null(strstr(g_out, "trade"));
    cr_assert_null(strstr(g_out, tok + 4), "list never shows tokens");

    cr_assert_eq(run("token revoke bot --data-dir '%s'", dd), 0, "%s", g_err);
    cr_assert_eq(clb_auth_verify(a, tok, 2, &role, NULL), CLB_ENOTFOUND);
    cr_assert_eq(run("token revoke bot --data-dir '%s'", dd), 1);
    cr_assert_eq(run("token --help"), 0);
    cr_assert_not_null(strstr(g_out, "usage: colibri token create"));
    clb_auth_destroy(a);
}

/* ---- the database store (auth_db.c) ---- */

static struct clb_auth *open_auth_db(const char *dir, const char *url)
{
    struct clb_token_store st;
    char err[256];
    cr_assert_eq(clb_token_store_open(dir, url, &st, err, sizeof(err)), CLB_OK, "%s", err);
    struct clb_auth *a = NULL;
    cr_assert_eq(clb_auth_create(st, &a), CLB_OK);
    return a;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

Test(auth, db_store_shares_tokens_between_instances_within_seconds)
{
    struct clb_auth *a = open_auth_db(g_dir, NULL);
    struct clb_auth *b = open_auth_db(g_dir, NULL);
    char tok[CLB_TOKEN_TEXT_LEN + 1];
    cr_assert_eq(clb_auth_token_create(a, "bot", CLB_ROLE_TRADE, 100, tok, NULL), CLB_OK);
    struct stat st;
    cr_assert_eq(stat(path("colibri.db"), &st), 0, "tokens live in the default SQLite store");
    sleep_ms(300); /* past the unknown-hash retry interval */
    enum clb_role role = CLB_ROLE_NONE;
    char name[CLB_TOKEN_NAME_MAX];
    cr_assert_eq(clb_auth_verify(b, tok, 101, &role, name), CLB_OK);
    cr_assert_eq(role, CLB_ROLE_TRADE);
    cr_assert_str_eq(name, "bot");
    cr_assert_eq(clb_auth_token_create(b, "bot", CLB_ROLE_READ, 102, tok, NULL), CLB_EEXIST,
                 "names are unique across instances");

    cr_assert_eq(clb_auth_token_revoke(a, "bot"), CLB_OK);
    cr_assert_eq(clb_auth_verify(a, tok, 103, &role, NULL), CLB_ENOTFOUND);
    sleep_ms(2100); /* b re-reads the table every 2 s */
    cr_assert_eq(clb_auth_verify(b, tok, 104, &role, NULL), CLB_ENOTFOUND,
                 "a revocation elsewhere applies within the refresh interval");
    cr_assert_eq(clb_auth_token_revoke(b, "bot"), CLB_ENOTFOUND);
    clb_auth_destroy(a);
    clb_auth_destroy(b);
}

Test(auth, db_store_imports_tokens_json_once_and_keeps_it_as_offline_copy)
{
    /* tokens made by an older version: only tokens.json */
    struct clb_auth *f = open_auth(g_dir);
    char old[CLB_TOKEN_TEXT_LEN + 1], fresh[CLB_TOKEN_TEXT_LEN + 1];
    cr_assert_eq(clb_auth_token_create(f, "old", CLB_ROLE_ADMIN, 50, old, NULL), CLB_OK);
    clb_auth_destroy(f);

    struct clb_auth *a = open_auth_db(g_dir, NULL);
    enum clb_role role = CLB_ROLE_NONE;
    cr_assert_eq(clb_auth_verify(a, old, 60, &role, NULL), CLB_OK, "imported");
    cr_assert_eq(role, CLB_ROLE_ADMIN);
    cr_assert_eq(clb_auth_token_create(a, "fresh", CLB_ROLE_READ, 61, fresh, NULL), CLB_OK);
    cr_assert_eq(clb_auth_token_revoke(a, "old"), CLB_OK);
    clb_auth_destroy(a);

    /* the offline copy follows the database */
    f = open_auth(g_dir);
    cr_assert_eq(clb_auth_verify(f, fresh, 62, &role, NULL), CLB_OK);
    cr_assert_eq(clb_auth_verify(f, old, 62, &role, NULL), CLB_ENOTFOUND);
    clb_auth_destroy(f);

    /* the table has rows now: a revoked token is not imported again */
    a = open_auth_db(g_dir, NULL);
    cr_assert_eq(clb_auth_verify(a, old, 63, &role, NULL), CLB_ENOTFOUND);
    struct clb_token_record recs[4];
    size_t n = 0;
    cr_assert_eq(clb_auth_token_list(a, recs, 4, &n), CLB_OK);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(recs[0].name, "fresh");
    clb_auth_destroy(a);
}

Test(auth, db_store_unreachable_verifies_from_the_offline_copy_read_only)
{
    struct clb_auth *a = open_auth_db(g_dir, NULL);
    char tok[CLB_TOKEN_TEXT_LEN + 1], t2[CLB_TOKEN_TEXT_LEN + 1];
    cr_assert_eq(clb_auth_token_create(a, "ops", CLB_ROLE_TRADE, 10, tok, NULL), CLB_OK);
    clb_auth_destroy(a);

    /* nothing listens on port 1: the database is unreachable */
    a = open_auth_db(g_dir, "postgresql://colibri@127.0.0.1:1/colibri?connect_timeout=1");
    enum clb_role role = CLB_ROLE_NONE;
    cr_assert_eq(clb_auth_verify(a, tok, 11, &role, NULL), CLB_OK);
    cr_assert_eq(role, CLB_ROLE_TRADE);
    cr_assert_eq(clb_auth_token_create(a, "new", CLB_ROLE_READ, 12, t2, NULL), CLB_EIO);
    cr_assert_eq(clb_auth_token_revoke(a, "ops"), CLB_EIO);
    clb_auth_destroy(a);

    struct clb_token_store st;
    char err[256];
    cr_assert_eq(clb_token_store_open(g_dir, "mysql://x", &st, err, sizeof(err)), CLB_EINVAL);
    cr_assert_not_null(strstr(err, "store URL"));
    cr_assert_eq(clb_token_store_open("", NULL, &st, err, sizeof(err)), CLB_EINVAL);
}
