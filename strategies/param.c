/*
 * param.c — parsing, validation and formatting of strategy parameters
 * described by a clb_param_spec table (param.h).
 *
 * Every setter parses into a local value first and writes the config struct
 * only once the value has passed every check, so a failed set leaves the
 * config exactly as it was. Error messages are one line and always start
 * with the parameter's name, so a CLI or API user sees which key was wrong:
 *   "bid_spread: 150 is outside [0, 99] %"
 *   "order_levels: expected an integer, got \"two\""
 * Doubles must be finite: "nan", "inf" and overflowing literals are refused.
 */
#include "param.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"

static void *field(void *cfg, const struct clb_param_spec *p)
{
    return (char *)cfg + p->offset;
}

static const void *cfield(const void *cfg, const struct clb_param_spec *p)
{
    return (const char *)cfg + p->offset;
}

static size_t count_choices(const struct clb_param_spec *p)
{
    size_t n = 0;
    if (p->choices)
        while (p->choices[n])
            n++;
    return n;
}

void clb_params_defaults(const struct clb_param_spec *spec, size_t n, void *cfg)
{
    for (size_t i = 0; i < n; i++) {
        const struct clb_param_spec *p = &spec[i];
        void *f = field(cfg, p);
        switch (p->type) {
        case CLB_PARAM_DOUBLE:
            *(double *)f = p->def;
            break;
        case CLB_PARAM_INT:
            *(long long *)f = (long long)p->def;
            break;
        case CLB_PARAM_BOOL:
            *(bool *)f = p->def != 0.0;
            break;
        case CLB_PARAM_ENUM:
            *(int *)f = (int)p->def;
            break;
        case CLB_PARAM_STRING: {
            char *s = f;
            const char *d = p->def_str ? p->def_str : "";
            size_t len = strlen(d);
            if (len >= CLB_PARAM_STRMAX)
                len = CLB_PARAM_STRMAX - 1;
            memcpy(s, d, len);
            s[len] = '\0';
            break;
        }
        }
    }
}

static const struct clb_param_spec *find_n(const struct clb_param_spec *spec, size_t n,
                                           const char *key, size_t keylen)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(spec[i].name) == keylen && memcmp(spec[i].name, key, keylen) == 0)
            return &spec[i];
    }
    return NULL;
}

const struct clb_param_spec *clb_params_find(const struct clb_param_spec *spec, size_t n,
                                             const char *key)
{
    if (!spec || !key)
        return NULL;
    return find_n(spec, n, key, strlen(key));
}

/* " %" / " s" after a range in messages; nothing for unitless values. */
static const char *unit_sep(const struct clb_param_spec *p)
{
    return p->unit && p->unit[0] ? " " : "";
}

static const char *unit_of(const struct clb_param_spec *p)
{
    return p->unit ? p->unit : "";
}

static int parse_double(const struct clb_param_spec *p, const char *v, double *out, char *err,
                        size_t errlen)
{
    /* strtod would accept leading spaces, hex floats and "nan"/"inf":
     * insist on a plain decimal literal. */
    const char *s = v;
    if (*s == '+' || *s == '-')
        s++;
    bool digits = false;
    for (const char *c = s; *c; c++) {
        if (*c >= '0' && *c <= '9') {
            digits = true;
        } else if (*c != '.' && *c != 'e' && *c != 'E' && *c != '+' && *c != '-') {
            digits = false;
            break;
        }
    }
    if (!digits)
        return clb_errf(err, errlen, CLB_EPARSE, "%s: expected a number, got \"%s\"", p->name, v);
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end != '\0')
        return clb_errf(err, errlen, CLB_EPARSE, "%s: expected a number, got \"%s\"", p->name, v);
    if (!isfinite(x) || (errno == ERANGE && fabs(x) > 1.0))
        return clb_errf(err, errlen, CLB_ERANGE, "%s: %s is not a finite number", p->name, v);
    if (errno == ERANGE)
        x = 0.0; /* underflow to a denormal/zero: keep it, the range check follows */
    *out = x;
    return CLB_OK;
}

static int check_range(const struct clb_param_spec *p, double x, const char *v, char *err,
                       size_t errlen)
{
    if (x < p->min || x > p->max)
        return clb_errf(err, errlen, CLB_ERANGE, "%s: %s is outside [%.10g, %.10g]%s%s", p->name, v,
                    p->min, p->max, unit_sep(p), unit_of(p));
    return CLB_OK;
}

static int parse_int(const struct clb_param_spec *p, const char *v, long long *out, char *err,
                     size_t errlen)
{
    const char *s = v;
    if (*s == '+' || *s == '-')
        s++;
    if (*s < '0' || *s > '9')
        return clb_errf(err, errlen, CLB_EPARSE, "%s: expected an integer, got \"%s\"", p->name, v);
    char *end = NULL;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (*end != '\0')
        return clb_errf(err, errlen, CLB_EPARSE, "%s: expected an integer, got \"%s\"", p->name, v);
    if (errno == ERANGE)
        return clb_errf(err, errlen, CLB_ERANGE, "%s: %s is outside [%.10g, %.10g]%s%s", p->name, v,
                    p->min, p->max, unit_sep(p), unit_of(p));
    *out = x;
    return CLB_OK;
}

static int parse_bool(const struct clb_param_spec *p, const char *v, bool *out, char *err,
                      size_t errlen)
{
    static const char *const yes[] = { "true", "1", "yes", "on" };
    static const char *const no[] = { "false", "0", "no", "off" };
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return CLB_OK;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return CLB_OK;
        }
    }
    return clb_errf(err, errlen, CLB_EPARSE, "%s: expected true or false, got \"%s\"", p->name, v);
}

static int parse_enum(const struct clb_param_spec *p, const char *v, int *out, char *err,
                      size_t errlen)
{
    size_t n = count_choices(p);
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v, p->choices[i]) == 0) {
            *out = (int)i;
            return CLB_OK;
        }
    }
    /* List the choices in the message: "one of: mid_price, last_price". */
    char list[256];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof(list); i++) {
        int w = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", p->choices[i]);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return clb_errf(err, errlen, CLB_EPARSE, "%s: \"%s\" is not one of: %s", p->name, v, list);
}

int clb_params_set(const struct clb_param_spec *spec, size_t n, void *cfg, const char *key,
                   const char *value, char *err, size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
    if (!spec || !cfg || !key || !value)
        return clb_errf(err, errlen, CLB_EINVAL, "invalid arguments");
    const struct clb_param_spec *p = clb_params_find(spec, n, key);
    if (!p)
        return clb_errf(err, errlen, CLB_ENOTFOUND, "unknown parameter \"%s\"", key);

    switch (p->type) {
    case CLB_PARAM_DOUBLE: {
        double x = 0.0;
        int rc = parse_double(p, value, &x, err, errlen);
        if (rc == CLB_OK)
            rc = check_range(p, x, value, err, errlen);
        if (rc != CLB_OK)
            return rc;
        *(double *)field(cfg, p) = x;
        return CLB_OK;
    }
    case CLB_PARAM_INT: {
        long long x = 0;
        int rc = parse_int(p, value, &x, err, errlen);
        if (rc == CLB_OK)
            rc = check_range(p, (double)x, value, err, errlen);
        if (rc != CLB_OK)
            return rc;
        *(long long *)field(cfg, p) = x;
        return CLB_OK;
    }
    case CLB_PARAM_BOOL: {
        bool x = false;
        int rc = parse_bool(p, value, &x, err, errlen);
        if (rc != CLB_OK)
            return rc;
        *(bool *)field(cfg, p) = x;
        return CLB_OK;
    }
    case CLB_PARAM_ENUM: {
        int x = 0;
        int rc = parse_enum(p, value, &x, err, errlen);
        if (rc != CLB_OK)
            return rc;
        *(int *)field(cfg, p) = x;
        return CLB_OK;
    }
    case CLB_PARAM_STRING: {
        size_t len = strlen(value);
        if (len >= CLB_PARAM_STRMAX)
            return clb_errf(err, errlen, CLB_ERANGE, "%s: value longer than %d characters", p->name,
                        CLB_PARAM_STRMAX - 1);
        memcpy(field(cfg, p), value, len + 1);
        return CLB_OK;
    }
    }
    return clb_errf(err, errlen, CLB_EINVAL, "%s: unsupported parameter type", p->name);
}

int clb_params_set_kv(const struct clb_param_spec *spec, size_t n, void *cfg, const char *kv,
                      char *err, size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
    if (!spec || !cfg || !kv)
        return clb_errf(err, errlen, CLB_EINVAL, "invalid arguments");
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv)
        return clb_errf(err, errlen, CLB_EPARSE, "expected key=value, got \"%s\"", kv);
    size_t keylen = (size_t)(eq - kv);
    const struct clb_param_spec *p = find_n(spec, n, kv, keylen);
    if (!p)
        return clb_errf(err, errlen, CLB_ENOTFOUND, "unknown parameter \"%.*s\"",
                    keylen > INT_MAX ? INT_MAX : (int)keylen, kv);
    return clb_params_set(spec, n, cfg, p->name, eq + 1, err, errlen);
}

int clb_params_format(const struct clb_param_spec *p, const void *cfg, char *buf, size_t cap)
{
    if (!p || !cfg || !buf)
        return CLB_EINVAL;
    const void *f = cfield(cfg, p);
    int w;
    switch (p->type) {
    case CLB_PARAM_DOUBLE:
        w = snprintf(buf, cap, "%.10g", *(const double *)f);
        break;
    case CLB_PARAM_INT:
        w = snprintf(buf, cap, "%lld", *(const long long *)f);
        break;
    case CLB_PARAM_BOOL:
        w = snprintf(buf, cap, "%s", *(const bool *)f ? "true" : "false");
        break;
    case CLB_PARAM_ENUM: {
        int idx = *(const int *)f;
        size_t nc = count_choices(p);
        if (idx >= 0 && (size_t)idx < nc)
            w = snprintf(buf, cap, "%s", p->choices[idx]);
        else
            w = snprintf(buf, cap, "%d", idx);
        break;
    }
    case CLB_PARAM_STRING: {
        const char *s = f;
        w = snprintf(buf, cap, "%.*s", CLB_PARAM_STRMAX - 1, s);
        break;
    }
    default:
        return CLB_EINVAL;
    }
    if (w < 0 || (size_t)w >= cap) {
        if (cap > 0)
            buf[0] = '\0';
        return CLB_ERANGE;
    }
    return w;
}

int clb_params_check(const struct clb_param_spec *spec, size_t n, const void *cfg, char *err,
                     size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
    if (!spec || !cfg)
        return clb_errf(err, errlen, CLB_EINVAL, "invalid arguments");
    for (size_t i = 0; i < n; i++) {
        const struct clb_param_spec *p = &spec[i];
        const void *f = cfield(cfg, p);
        switch (p->type) {
        case CLB_PARAM_DOUBLE: {
            double x = *(const double *)f;
            if (!isfinite(x) || x < p->min || x > p->max)
                return clb_errf(err, errlen, CLB_ERANGE, "%s: %.10g is outside [%.10g, %.10g]%s%s",
                            p->name, x, p->min, p->max, unit_sep(p), unit_of(p));
            break;
        }
        case CLB_PARAM_INT: {
            long long x = *(const long long *)f;
            if ((double)x < p->min || (double)x > p->max)
                return clb_errf(err, errlen, CLB_ERANGE, "%s: %lld is outside [%.10g, %.10g]%s%s",
                            p->name, x, p->min, p->max, unit_sep(p), unit_of(p));
            break;
        }
        case CLB_PARAM_BOOL:
            break;
        case CLB_PARAM_ENUM: {
            int x = *(const int *)f;
            if (x < 0 || (size_t)x >= count_choices(p))
                return clb_errf(err, errlen, CLB_ERANGE, "%s: %d is not a valid choice", p->name, x);
            break;
        }
        case CLB_PARAM_STRING: {
            const char *s = f;
            if (memchr(s, '\0', CLB_PARAM_STRMAX) == NULL)
                return clb_errf(err, errlen, CLB_ERANGE, "%s: value longer than %d characters",
                            p->name, CLB_PARAM_STRMAX - 1);
            break;
        }
        }
    }
    return CLB_OK;
}
