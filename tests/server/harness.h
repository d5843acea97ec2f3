/*
 * harness.h — small helpers shared by the tests that drive processes and
 * files (colibri serve, the CLI): sleeping, a monotonic clock, reading a
 * whole file and waiting for a line in one. Header-only so each test executable stays self-contained.
 */
#ifndef CLB_TEST_HARNESS_H
#define CLB_TEST_HARNESS_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

#endif
