/*
 * error.h — colibri's one error enumeration.
 *
 * Every fallible function in colibri returns an int: 0 (CLB_OK) on success or
 * a negative CLB_E* code. The list below is the single source of both the
 * enum and the messages returned by clb_strerror(). errno never carries an
 * error from one module to another.
 */
#ifndef CLB_ERROR_H
#define CLB_ERROR_H

#include <stddef.h>

/* X(name, message) */
#define CLB_ERRNO_MAP(X)                                                    \
    X(EINVAL, "invalid argument")                                           \
    X(EPARSE, "malformed input")                                            \
    X(ERANGE, "value out of range")                                         \
    X(EOVERFLOW, "arithmetic overflow")                                     \
    X(EPRECISION, "value not representable at this scale")                  \
    X(ENOMEM, "out of memory")                                              \
    X(EFULL, "capacity exhausted")                                          \
    X(ENOTFOUND, "not found")                                               \
    X(EEXIST, "already exists")                                             \
    X(ESTATE, "operation not allowed in the current state")                 \
    X(EGAP, "sequence gap: resynchronise")                                  \
    X(ESTALE, "stale update ignored")                                       \
    X(ENOTREADY, "not ready")                                               \
    X(EDUPLICATE, "duplicate ignored")                                      \
    X(EIO, "input/output error")                                            \
    X(ETIMEDOUT, "timed out")                                               \
    X(EUNSUPPORTED, "not supported")

enum clb_err {
    CLB_OK = 0,
#define CLB_ERR_ENUM_(name, msg) CLB_##name,
    CLB_ERR_FIRST_ = -1000,
    CLB_ERRNO_MAP(CLB_ERR_ENUM_)
#undef CLB_ERR_ENUM_
    CLB_ERR_LAST_
};

/* Returns a static, human-readable message for a CLB_* code (never NULL;
 * "unknown error" for codes outside the list). Thread-safe. */
const char *clb_strerror(int err);

/* Returns the symbolic name ("EGAP") of a CLB_* code, or "EUNKNOWN". */
const char *clb_err_name(int err);

/* Writes a printf-style reason into err (when err != NULL and errlen > 0)
 * and returns rc unchanged, so a failing path reads
 *   return clb_errf(err, errlen, CLB_EINVAL, "key: %s", why);
 * Thread-safe. */
int clb_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
