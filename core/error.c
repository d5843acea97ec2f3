/* error.c — messages for the CLB_ERRNO_MAP list in error.h. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

const char *clb_strerror(int err)
{
    switch (err) {
    case CLB_OK: return "ok";
#define CLB_ERR_MSG_(name, msg) case CLB_##name: return msg;
    CLB_ERRNO_MAP(CLB_ERR_MSG_)
#undef CLB_ERR_MSG_
    default: return "unknown error";
    }
}

const char *clb_err_name(int err)
{
    switch (err) {
    case CLB_OK: return "OK";
#define CLB_ERR_NAME_(name, msg) case CLB_##name: return #name;
    CLB_ERRNO_MAP(CLB_ERR_NAME_)
#undef CLB_ERR_NAME_
    default: return "EUNKNOWN";
    }
}

int clb_errf(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
