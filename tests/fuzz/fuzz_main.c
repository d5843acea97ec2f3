/*
 * fuzz_main.c — runs a fuzz target without libFuzzer: every file of the
 * given corpus directories (or files) once, then random mutations of them
 * (bit flips, byte changes, cuts, insertions, duplicated and spliced runs),
 * each passed to LLVMFuzzerTestOneInput. A failing check aborts, so the
 * sanitizers and ctest report it; the input that failed is written to
 * ./fuzz-crash-NAME for replay (`fuzz_NAME ./fuzz-crash-NAME`).
 *
 *   fuzz_NAME [--mutations N] [--seed S] PATH...
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define FUZZ_MAX_INPUT 65536
#define MAX_SEEDS 512

struct seed {
    uint8_t *data;
    size_t len;
};

static struct seed g_seeds[MAX_SEEDS];
static size_t g_n_seeds;
static const char *g_name = "fuzz";
static const uint8_t *g_current;
static size_t g_current_len;

static uint64_t rnd(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s: %s\n", g_name, path, strerror(errno));
        exit(2);
    }
    uint8_t *buf = malloc(FUZZ_MAX_INPUT);
    size_t n = buf ? fread(buf, 1, FUZZ_MAX_INPUT, f) : 0;
    fclose(f);
    if (!buf || g_n_seeds == MAX_SEEDS) {
        fprintf(stderr, "%s: too many seeds or out of memory\n", g_name);
        exit(2);
    }
    g_seeds[g_n_seeds++] = (struct seed){ buf, n };
}

static void add_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s: %s\n", g_name, path, strerror(errno));
        exit(2);
    }
    if (!S_ISDIR(st.st_mode)) {
        add_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d) {
        fprintf(stderr, "%s: %s: %s\n", g_name, path, strerror(errno));
        exit(2);
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", path, e->d_name);
        add_file(p);
    }
    closedir(d);
}

static char g_crash_path[256];

/* On a fatal signal (a failed check aborts; the sanitizers abort with
 * abort_on_error=1): the input being run, for replay, then the signal's
 * default action. Only async-signal-safe calls. */
static void save_current(int sig)
{
    if (g_current) {
        int fd = open(g_crash_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            ssize_t w = write(fd, g_current, g_current_len);
            (void)w;
            close(fd);
            static const char note[] = "fuzz: the failing input is in ./fuzz-crash-*\n";
            w = write(2, note, sizeof(note) - 1);
        }
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void run(const uint8_t *data, size_t len)
{
    /* a copy of exactly len bytes: reads past the end are caught */
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        exit(2);
    memcpy(copy, data, len);
    g_current = copy;
    g_current_len = len;
    LLVMFuzzerTestOneInput(copy, len);
    g_current = NULL;
    free(copy);
}

/* One mutation of buf (len bytes, capacity FUZZ_MAX_INPUT); returns the new length. */
static size_t mutate(uint8_t *buf, size_t len, uint64_t *r)
{
    static const char *const tokens[] = { "\"", "\\", ",", ":", "{", "}", "[", "]", "-",
                                          ".", "e", "0", "9", "null", "true", "1e999",
                                          "-0", "\"\\u0000\"", "18446744073709551616", " " };
    switch (rnd(r) % 8) {
    case 0: /* flip a bit */
        if (len)
            buf[rnd(r) % len] ^= (uint8_t)(1u << (rnd(r) % 8));
        return len;
    case 1: /* set a byte */
        if (len)
            buf[rnd(r) % len] = (uint8_t)rnd(r);
        return len;
    case 2: /* cut the end */
        return len ? (size_t)(rnd(r) % len) : 0;
    case 3: { /* delete a run */
        if (len < 2)
            return len;
        size_t at = rnd(r) % len, n = 1 + rnd(r) % (len - at);
        memmove(buf + at, buf + at + n, len - at - n);
        return len - n;
    }
    case 4: { /* insert a token */
        const char *t = tokens[rnd(r) % (sizeof(tokens) / sizeof(tokens[0]))];
        size_t n = strlen(t), at = len ? rnd(r) % (len + 1) : 0;
        if (len + n > FUZZ_MAX_INPUT)
            return len;
        memmove(buf + at + n, buf + at, len - at);
        memcpy(buf + at, t, n);
        return len + n;
    }
    case 5: { /* duplicate a run */
        if (!len)
            return len;
        size_t at = rnd(r) % len, n = 1 + rnd(r) % (len - at);
        if (n > 256 || len + n > FUZZ_MAX_INPUT)
            return len;
        size_t to = rnd(r) % (len + 1);
        uint8_t tmp[256];
        memcpy(tmp, buf + at, n);
        memmove(buf + to + n, buf + to, len - to);
        memcpy(buf + to, tmp, n);
        return len + n;
    }
    case 6: { /* splice in a part of another seed */
        const struct seed *o = &g_seeds[rnd(r) % g_n_seeds];
        if (!o->len)
            return len;
        size_t from = rnd(r) % o->len, n = 1 + rnd(r) % (o->len - from);
        size_t at = len ? rnd(r) % len : 0;
        if (at + n > FUZZ_MAX_INPUT)
            return len;
        memcpy(buf + at, o->data + from, n);
        return at + n > len ? at + n : len;
    }
    default: { /* replace a digit run's length: a longer number */
        if (!len)
            return len;
        size_t at = rnd(r) % len;
        if (buf[at] >= '0' && buf[at] <= '9' && len + 8 <= FUZZ_MAX_INPUT) {
            memmove(buf + at + 8, buf + at, len - at);
            memset(buf + at, '9', 8);
            return len + 8;
        }
        return len;
    }
    }
}

int main(int argc, char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    g_name = slash ? slash + 1 : argv[0];
    long mutations = 10000;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--mutations") == 0 && i + 1 < argc) {
            mutations = strtol(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--mutations N] [--seed S] PATH...\n"
                   "Runs this fuzz target on every file of PATH (directories are read\n"
                   "one level deep), then on N random mutations of them (default 10000).\n",
                   g_name);
            return 0;
        } else {
            add_path(argv[i]);
        }
    }
    if (g_n_seeds == 0) {
        fprintf(stderr, "%s: no inputs (see --help)\n", g_name);
        return 2;
    }
    snprintf(g_crash_path, sizeof(g_crash_path), "fuzz-crash-%s", g_name);
    signal(SIGABRT, save_current);
    signal(SIGSEGV, save_current);
    signal(SIGBUS, save_current);
    signal(SIGFPE, save_current);
    for (size_t i = 0; i < g_n_seeds; i++)
        run(g_seeds[i].data, g_seeds[i].len);
    uint8_t *buf = malloc(FUZZ_MAX_INPUT);
    if (!buf)
        return 2;
    uint64_t r = seed;
    for (long m = 0; m < mutations; m++) {
        const struct seed *s = &g_seeds[rnd(&r) % g_n_seeds];
        size_t len = s->len;
        memcpy(buf, s->data, len);
        int rounds = 1 + (int)(rnd(&r) % 4);
        for (int k = 0; k < rounds; k++)
            len = mutate(buf, len, &r);
        run(buf, len);
    }
    free(buf);
    printf("%s: %zu seed(s) and %ld mutation(s) passed\n", g_name, g_n_seeds, mutations);
    return 0;
}
