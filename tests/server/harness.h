/*
 * harness.h — small helpers shared by the tests that drive processes and
 * files (colibri serve, the CLI): sleeping, a monotonic clock, reading a
 * whole file, waiting for a line in one, and starting `colibri serve`.
 * Header-only so each test executable stays self-contained.
 */
#ifndef CLB_TEST_HARNESS_H
#define CLB_TEST_HARNESS_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static inline void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* Monotonic seconds. */
static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads up to cap-1 bytes of `file` into dst, NUL-terminated ("" if absent). */
static inline void slurp(const char *file, char *dst, size_t cap)
{
    dst[0] = '\0';
    FILE *f = fopen(file, "rb");
    if (!f)
        return;
    size_t n = fread(dst, 1, cap - 1, f);
    dst[n] = '\0';
    fclose(f);
}

/* Waits until `file` holds a complete line starting with `prefix` (read
 * every 20 ms, at least once, for up to timeout_s), and copies that line
 * without its newline into line. false on timeout. Only the file's first
 * 8 KiB are searched. */
static inline bool wait_file_line(const char *file, const char *prefix, char *line, size_t cap,
                                  double timeout_s)
{
    char buf[8192];
    double t0 = now_s();
    do {
        slurp(file, buf, sizeof(buf));
        for (char *l = buf; l && *l;) {
            char *nl = strchr(l, '\n');
            if (nl && strncmp(l, prefix, strlen(prefix)) == 0) {
                *nl = '\0';
                snprintf(line, cap, "%s", l);
                return true;
            }
            l = nl ? nl + 1 : NULL;
        }
        sleep_ms(20);
    } while (now_s() - t0 < timeout_s);
    return false;
}

#ifdef COLIBRI_BINARY_DIR
/* Starts the built `colibri serve ARGS...` (args NULL-terminated, at most
 * 29) in dir, without DATABASE_URL (a test's store is its own), stdout in
 * dir/out.txt (removed first, so a reader never sees an earlier run's) and
 * stderr in dir/err.txt: appended when keep_err (every run's log kept for
 * failure messages), else started afresh. The child's pid, -1 when fork
 * fails. */
static inline pid_t spawn_serve_in(const char *dir, const char *const *args, bool keep_err)
{
    char bin[512], out[600], err[600];
    snprintf(bin, sizeof(bin), "%s/colibri", COLIBRI_BINARY_DIR);
    snprintf(out, sizeof(out), "%s/out.txt", dir);
    snprintf(err, sizeof(err), "%s/err.txt", dir);
    unlink(out);
    if (!keep_err)
        unlink(err);
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    if (chdir(dir) != 0)
        _exit(126);
    int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int e = open(err, O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(o, 1);
    dup2(e, 2);
    unsetenv("DATABASE_URL");
    char *argv[32];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = (char *)"serve";
    for (size_t i = 0; args[i] && n < 31; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    execv(bin, argv);
    _exit(127);
}
#endif

#endif
