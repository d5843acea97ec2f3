/*
 * param.h — strategy parameters declared once.
 *
 * A strategy describes its parameters in one table of clb_param_spec: name
 * (Hummingbot's), type, unit, range, default and help. The CLI's --param
 * k=v, the REST API's JSON params, the debug console's `set`, validation and
 * documentation all read that same table; nothing else lists parameters.
 * Values live in the strategy's own config struct at the declared offsets.
 */
#ifndef CLB_PARAM_H
#define CLB_PARAM_H

#include <stdbool.h>
#include <stddef.h>

enum clb_param_type {
    CLB_PARAM_DOUBLE, /* stored as double */
    CLB_PARAM_INT,    /* stored as long long */
    CLB_PARAM_BOOL,   /* stored as bool; "true"/"false"/"1"/"0" */
    CLB_PARAM_ENUM,   /* stored as int: index into choices */
    CLB_PARAM_STRING  /* stored as char[CLB_PARAM_STRMAX] */
};

#define CLB_PARAM_STRMAX 64

struct clb_param_spec {
    const char *name;
    enum clb_param_type type;
    size_t offset;              /* offsetof(config struct, field) */
    double min, max;            /* inclusive range for DOUBLE/INT */
    double def;                 /* default for DOUBLE/INT/BOOL/ENUM (index) */
    const char *def_str;        /* default for STRING */
    const char *const *choices; /* NULL-terminated, for ENUM */
    const char *unit;           /* "%", "s", "base", "quote", "" ... */
    const char *help;
};

/* Writes every default into cfg. */
void clb_params_defaults(const struct clb_param_spec *spec, size_t n, void *cfg);

/* The spec named key, or NULL. */
const struct clb_param_spec *clb_params_find(const struct clb_param_spec *spec, size_t n,
                                             const char *key);

/* Parses `value` for parameter `key` and stores it in cfg. On failure returns
 * CLB_ENOTFOUND (unknown key), CLB_EPARSE (not a value of that type) or
 * CLB_ERANGE (outside [min, max]), writes a one-line reason naming the key
 * into err (if errlen > 0) and leaves cfg unchanged. */
int clb_params_set(const struct clb_param_spec *spec, size_t n, void *cfg, const char *key,
                   const char *value, char *err, size_t errlen);

/* Parses "k=v" (the CLI form); same contract as clb_params_set. */
int clb_params_set_kv(const struct clb_param_spec *spec, size_t n, void *cfg, const char *kv,
                      char *err, size_t errlen);

/* Checks every value of a config against its spec (added for strategies'
 * create/update_config, whose configs may come from code or JSON rather than
 * clb_params_set): doubles finite and in [min, max], ints in range, enums a
 * valid index, strings NUL-terminated within CLB_PARAM_STRMAX. Returns CLB_OK
 * or CLB_ERANGE with a one-line reason naming the key. */
int clb_params_check(const struct clb_param_spec *spec, size_t n, const void *cfg, char *err,
                     size_t errlen);

/* Formats the current value of one parameter as text (doubles with %.10g).
 * Returns the length or CLB_ERANGE if buf is too small. */
int clb_params_format(const struct clb_param_spec *p, const void *cfg, char *buf, size_t cap);

#endif
