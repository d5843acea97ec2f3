/*
 * harness.h — small helpers shared by the tests that drive processes and
 * files (colibri serve, the CLI): sleeping, a monotonic clock and reading a
 * whole file. Header-only so each test executable stays self-contained.
 */
#ifndef CLB_TEST_HARNESS_H
#define CLB_TEST_HARNESS_H

#include <stdio.h>
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

#endif
