/*
 * log.c — the server's logger (see log.h): level filter, one formatted line
 * per call, written and handed to the sink under one mutex.
 */
#include "log.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"

struct clb_log {
    pthread_mutex_t mu;
    FILE *out;
    _Atomic int level;
    clb_log_sink_fn sink;
    void *sink_ud;
};

static bool valid_level(int level)
{
    return level >= CLB_LOG_DEBUG && level <= CLB_LOG_ERROR;
}

int clb_log_create(FILE *out, enum clb_log_level level, struct clb_log **log)
{
    if (!log || !valid_level((int)level))
        return CLB_EINVAL;
    struct clb_log *l = calloc(1, sizeof(*l));
    if (!l)
        return CLB_ENOMEM;
    if (pthread_mutex_init(&l->mu, NULL) != 0) {
        free(l);
        return CLB_ENOMEM;
    }
    l->out = out;
    atomic_init(&l->level, (int)level);
    *log = l;
    return CLB_OK;
}

void clb_log_destroy(struct clb_log *log)
{
    if (!log)
        return;
    pthread_mutex_destroy(&log->mu);
    free(log);
}

void clb_log_set_sink(struct clb_log *log, clb_log_sink_fn fn, void *ud)
{
    if (!log)
        return;
    pthread_mutex_lock(&log->mu);
    log->sink = fn;
    log->sink_ud = ud;
    pthread_mutex_unlock(&log->mu);
}

void clb_log_set_level(struct clb_log *log, enum clb_log_level level)
{
    if (log && valid_level((int)level))
        atomic_store_explicit(&log->level, (int)level, memory_order_relaxed);
}

enum clb_log_level clb_log_get_level(const struct clb_log *log)
{
    if (!log)
        return CLB_LOG_INFO;
    return (enum clb_log_level)atomic_load_explicit(&((struct clb_log *)log)->level,
                                                    memory_order_relaxed);
}

const char *clb_log_level_name(enum clb_log_level level)
{
    switch (level) {
    case CLB_LOG_DEBUG:
        return "debug";
    case CLB_LOG_INFO:
        return "info";
    case CLB_LOG_WARN:
        return "warn";
    case CLB_LOG_ERROR:
        return "error";
    }
    return "unknown";
}

int clb_log_level_parse(const char *name, enum clb_log_level *out)
{
    static const struct {
        const char *name;
        enum clb_log_level level;
    } names[] = {
        { "debug", CLB_LOG_DEBUG }, { "info", CLB_LOG_INFO },   { "warn", CLB_LOG_WARN },
        { "warning", CLB_LOG_WARN }, { "error", CLB_LOG_ERROR },
    };
    if (!name || !out)
        return CLB_EINVAL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].level;
            return CLB_OK;
        }
    }
    return CLB_EINVAL;
}

int clb_log_format_time(int64_t ts_ms, char *buf, size_t cap)
{
    time_t secs = (time_t)(ts_ms / 1000);
    int ms = (int)(ts_ms % 1000);
    if (ms < 0) {
        ms += 1000;
        secs -= 1;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm))
        return CLB_ERANGE;
    int w = snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
    if (w < 0 || (size_t)w >= cap)
        return CLB_ERANGE;
    return w;
}

static const char *upper_name(enum clb_log_level level)
{
    static const char *const names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    return valid_level((int)level) ? names[level] : "?";
}

void clb_vlogf(struct clb_log *log, enum clb_log_level level, const char *fmt, va_list ap)
{
    if (!log || !valid_level((int)level) ||
        (int)level < atomic_load_explicit(&log->level, memory_order_relaxed))
        return;
    char msg[CLB_LOG_LINE_MAX];
    int w = vsnprintf(msg, sizeof(msg), fmt, ap);
    if (w < 0)
        return;
    /* One line per message: control characters would forge lines. */
    for (char *c = msg; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = ' ';
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ts_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    char when[32];
    if (clb_log_format_time(ts_ms, when, sizeof(when)) < 0)
        snprintf(when, sizeof(when), "%lld", (long long)ts_ms);
    pthread_mutex_lock(&log->mu);
    if (log->out) {
        fprintf(log->out, "%s %s %s\n", when, upper_name(level), msg);
        fflush(log->out);
    }
    if (log->sink)
        log->sink(log->sink_ud, ts_ms, level, msg);
    pthread_mutex_unlock(&log->mu);
}

void clb_logf(struct clb_log *log, enum clb_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    clb_vlogf(log, level, fmt, ap);
    va_end(ap);
}
