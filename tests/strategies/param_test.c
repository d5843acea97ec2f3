/* Tests for strategies/param.c: every type, ranges, bad values, unknown keys,
 * the config left unchanged by every failure, formatting and round trips. */
#include <criterion/criterion.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "param.h"

struct tcfg {
    double spread;
    long long levels;
    bool enabled;
    int mode;
    char label[CLB_PARAM_STRMAX];
    double offset;
};

static const char *const modes[] = { "mid_price", "last_price", "best_bid", NULL };

static const struct clb_param_spec spec[] = {
    { "spread", CLB_PARAM_DOUBLE, offsetof(struct tcfg, spread), 0, 100, 0.5, NULL, NULL, "%",
      "spread" },
    { "levels", CLB_PARAM_INT, offsetof(struct tcfg, levels), 1, 20, 3, NULL, NULL, "",
      "levels" },
    { "enabled", CLB_PARAM_BOOL, offsetof(struct tcfg, enabled), 0, 1, 1, NULL, NULL, "",
      "flag" },
    { "mode", CLB_PARAM_ENUM, offsetof(struct tcfg, mode), 0, 0, 1, NULL, modes, "", "mode" },
    { "label", CLB_PARAM_STRING, offsetof(struct tcfg, label), 0, 0, 0, "hello", NULL, "",
      "label" },
    { "offset", CLB_PARAM_DOUBLE, offsetof(struct tcfg, offset), -5, 5, -1, NULL, NULL, "quote",
      "offset" },
};
#define NSPEC (sizeof(spec) / sizeof(spec[0]))

static void defaults(struct tcfg *c)
{
    memset(c, 0xA5, sizeof(*c)); /* defaults must overwrite everything they own */
    clb_params_defaults(spec, NSPEC, c);
}

/* Sets key=value expecting failure `rc`; checks cfg is untouched and the
 * message names the key (or the unknown key). */
static void expect_fail(const char *key, const char *value, int rc)
{
    struct tcfg c, before;
    defaults(&c);
    before = c;
    char err[200];
    int got = clb_params_set(spec, NSPEC, &c, key, value, err, sizeof(err));
    cr_assert_eq(got, rc, "%s=%s: got %d want %d (%s)", key, value, got, rc, err);
    cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0, "%s=%s changed the config", key, value);
    cr_assert_not_null(strstr(err, key), "message \"%s\" does not name %s", err, key);
}

Test(param, defaults_cover_every_type)
{
    struct tcfg c;
    defaults(&c);
    cr_assert_eq(c.spread, 0.5);
    cr_assert_eq(c.levels, 3);
    cr_assert_eq(c.enabled, true);
    cr_assert_eq(c.mode, 1);
    cr_assert_str_eq(c.label, "hello");
    cr_assert_eq(c.offset, -1.0);
    char err[128];
    cr_assert_eq(clb_params_check(spec, NSPEC, &c, err, sizeof(err)), CLB_OK);
}

Test(param, find)
{
    cr_assert_eq(clb_params_find(spec, NSPEC, "levels"), &spec[1]);
    cr_assert_null(clb_params_find(spec, NSPEC, "level"));
    cr_assert_null(clb_params_find(spec, NSPEC, "levelsx"));
    cr_assert_null(clb_params_find(spec, NSPEC, ""));
    cr_assert_null(clb_params_find(spec, NSPEC, NULL));
}

Test(param, doubles_parse_and_range)
{
    struct tcfg c;
    defaults(&c);
    char err[128];
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "spread", "1.25", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.spread, 1.25);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "spread", "0", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.spread, 0.0);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "spread", "100", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.spread, 100.0);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "spread", "5e-1", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.spread, 0.5);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "offset", "-4.5", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.offset, -4.5);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "offset", "+2", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.offset, 2.0);
}

Test(param, doubles_rejected_with_key_and_unchanged)
{
    expect_fail("spread", "100.0001", CLB_ERANGE);
    expect_fail("spread", "-0.1", CLB_ERANGE);
    expect_fail("offset", "-5.5", CLB_ERANGE);
    expect_fail("spread", "1e999", CLB_ERANGE);
    expect_fail("spread", "nan", CLB_EPARSE);
    expect_fail("spread", "NaN", CLB_EPARSE);
    expect_fail("spread", "inf", CLB_EPARSE);
    expect_fail("spread", "-infinity", CLB_EPARSE);
    expect_fail("spread", "0x10", CLB_EPARSE);
    expect_fail("spread", "", CLB_EPARSE);
    expect_fail("spread", " 1", CLB_EPARSE);
    expect_fail("spread", "1 ", CLB_EPARSE);
    expect_fail("spread", "1.2.3", CLB_EPARSE);
    expect_fail("spread", "abc", CLB_EPARSE);
    expect_fail("spread", "1e", CLB_EPARSE);
    expect_fail("spread", ".", CLB_EPARSE);
    expect_fail("spread", "-", CLB_EPARSE);
}

Test(param, range_message_is_precise)
{
    struct tcfg c;
    defaults(&c);
    char err[128];
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "spread", "150", err, sizeof(err)), CLB_ERANGE);
    cr_assert_str_eq(err, "spread: 150 is outside [0, 100] %");
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "levels", "two", err, sizeof(err)), CLB_EPARSE);
    cr_assert_str_eq(err, "levels: expected an integer, got \"two\"");
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "nope", "1", err, sizeof(err)), CLB_ENOTFOUND);
    cr_assert_str_eq(err, "unknown parameter \"nope\"");
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "mode", "vwap", err, sizeof(err)), CLB_EPARSE);
    cr_assert_str_eq(err, "mode: \"vwap\" is not one of: mid_price, last_price, best_bid");
}

Test(param, ints)
{
    struct tcfg c;
    defaults(&c);
    char err[128];
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "levels", "20", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.levels, 20);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "levels", "+1", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.levels, 1);
    expect_fail("levels", "0", CLB_ERANGE);
    expect_fail("levels", "21", CLB_ERANGE);
    expect_fail("levels", "-3", CLB_ERANGE);
    expect_fail("levels", "99999999999999999999999", CLB_ERANGE);
    expect_fail("levels", "1.5", CLB_EPARSE);
    expect_fail("levels", "1e1", CLB_EPARSE);
    expect_fail("levels", "", CLB_EPARSE);
    expect_fail("levels", " 2", CLB_EPARSE);
    expect_fail("levels", "0x2", CLB_EPARSE);
}

Test(param, bools)
{
    struct tcfg c;
    defaults(&c);
    char err[128];
    const char *t[] = { "true", "TRUE", "1", "yes", "Yes", "on" };
    const char *f[] = { "false", "False", "0", "no", "NO", "off" };
    for (size_t i = 0; i < 6; i++) {
        cr_assert_eq(clb_params_set(spec, NSPEC, &c, "enabled", f[i], err, sizeof(err)), CLB_OK);
        cr_assert_eq(c.enabled, false, "%s", f[i]);
        cr_assert_eq(clb_params_set(spec, NSPEC, &c, "enabled", t[i], err, sizeof(err)), CLB_OK);
        cr_assert_eq(c.enabled, true, "%s", t[i]);
    }
    expect_fail("enabled", "2", CLB_EPARSE);
    expect_fail("enabled", "", CLB_EPARSE);
    expect_fail("enabled", "truee", CLB_EPARSE);
}

Test(param, enums)
{
    struct tcfg c;
    defaults(&c);
    char err[128];
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "mode", "best_bid", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.mode, 2);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "mode", "mid_price", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.mode, 0);
    expect_fail("mode", "MID_PRICE", CLB_EPARSE);
    expect_fail("mode", "", CLB_EPARSE);
    expect_fail("mode", "0", CLB_EPARSE);
}

Test(param, strings)
{
    struct tcfg c;
    defaults(&c);
    char err[128];
    char v[CLB_PARAM_STRMAX + 1];
    memset(v, 'x', CLB_PARAM_STRMAX - 1);
    v[CLB_PARAM_STRMAX - 1] = '\0';
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "label", v, err, sizeof(err)), CLB_OK);
    cr_assert_str_eq(c.label, v);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "label", "", err, sizeof(err)), CLB_OK);
    cr_assert_str_eq(c.label, "");
    v[CLB_PARAM_STRMAX - 1] = 'x';
    v[CLB_PARAM_STRMAX] = '\0';
    expect_fail("label", v, CLB_ERANGE);
}

Test(param, unknown_key_and_kv_form)
{
    expect_fail("bogus", "1", CLB_ENOTFOUND);
    expect_fail("Spread", "1", CLB_ENOTFOUND);
    struct tcfg c, before;
    defaults(&c);
    before = c;
    char err[128];
    cr_assert_eq(clb_params_set_kv(spec, NSPEC, &c, "spread=2.5", err, sizeof(err)), CLB_OK);
    cr_assert_eq(c.spread, 2.5);
    cr_assert_eq(clb_params_set_kv(spec, NSPEC, &c, "label=a=b", err, sizeof(err)), CLB_OK);
    cr_assert_str_eq(c.label, "a=b");
    c = before;
    cr_assert_eq(clb_params_set_kv(spec, NSPEC, &c, "spread", err, sizeof(err)), CLB_EPARSE);
    cr_assert_not_null(strstr(err, "key=value"));
    cr_assert_eq(clb_params_set_kv(spec, NSPEC, &c, "=3", err, sizeof(err)), CLB_EPARSE);
    cr_assert_eq(clb_params_set_kv(spec, NSPEC, &c, "sprea=3", err, sizeof(err)), CLB_ENOTFOUND);
    cr_assert_str_eq(err, "unknown parameter \"sprea\"");
    cr_assert_eq(clb_params_set_kv(spec, NSPEC, &c, "spread=", err, sizeof(err)), CLB_EPARSE);
    cr_assert_eq(clb_params_set_kv(spec, NSPEC, &c, "spread=200", err, sizeof(err)), CLB_ERANGE);
    cr_assert_not_null(strstr(err, "spread"));
    cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0);
}

Test(param, tiny_or_missing_error_buffer_is_safe)
{
    struct tcfg c;
    defaults(&c);
    char err[8];
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "spread", "999", err, sizeof(err)), CLB_ERANGE);
    cr_assert_eq(strlen(err), 7);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "spread", "999", NULL, 0), CLB_ERANGE);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "spread", "999", err, 0), CLB_ERANGE);
    cr_assert_eq(clb_params_set(spec, NSPEC, NULL, "spread", "1", err, sizeof(err)), CLB_EINVAL);
    cr_assert_eq(clb_params_set(spec, NSPEC, &c, "spread", NULL, err, sizeof(err)), CLB_EINVAL);
}

Test(param, format_every_type)
{
    struct tcfg c;
    defaults(&c);
    char buf[96];
    cr_assert_eq(clb_params_format(&spec[0], &c, buf, sizeof(buf)), 3);
    cr_assert_str_eq(buf, "0.5");
    cr_assert_eq(clb_params_format(&spec[1], &c, buf, sizeof(buf)), 1);
    cr_assert_str_eq(buf, "3");
    clb_params_format(&spec[2], &c, buf, sizeof(buf));
    cr_assert_str_eq(buf, "true");
    clb_params_format(&spec[3], &c, buf, sizeof(buf));
    cr_assert_str_eq(buf, "last_price");
    clb_params_format(&spec[4], &c, buf, sizeof(buf));
    cr_assert_str_eq(buf, "hello");
    c.spread = 1.0 / 3.0;
    clb_params_format(&spec[0], &c, buf, sizeof(buf));
    cr_assert_str_eq(buf, "0.3333333333");
    cr_assert_eq(clb_params_format(&spec[4], &c, buf, 5), CLB_ERANGE);
    cr_assert_eq(clb_params_format(&spec[4], &c, buf, 6), 5);
}

Test(param, check_reports_bad_values)
{
    struct tcfg c;
    char err[128];
    defaults(&c);
    c.spread = NAN;
    cr_assert_eq(clb_params_check(spec, NSPEC, &c, err, sizeof(err)), CLB_ERANGE);
    cr_assert_not_null(strstr(err, "spread"));
    defaults(&c);
    c.spread = INFINITY;
    cr_assert_eq(clb_params_check(spec, NSPEC, &c, err, sizeof(err)), CLB_ERANGE);
    defaults(&c);
    c.levels = 21;
    cr_assert_eq(clb_params_check(spec, NSPEC, &c, err, sizeof(err)), CLB_ERANGE);
    cr_assert_not_null(strstr(err, "levels"));
    defaults(&c);
    c.mode = 3;
    cr_assert_eq(clb_params_check(spec, NSPEC, &c, err, sizeof(err)), CLB_ERANGE);
    cr_assert_not_null(strstr(err, "mode"));
    defaults(&c);
    memset(c.label, 'y', sizeof(c.label));
    cr_assert_eq(clb_params_check(spec, NSPEC, &c, err, sizeof(err)), CLB_ERANGE);
    cr_assert_not_null(strstr(err, "label"));
}

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Property: for random values (in range or not, well-formed or not), a set
 * either succeeds and formats back to a value that parses to the same
 * double, or fails and leaves the config byte-for-byte unchanged. The
 * reference is a naive model: in range <=> success. */
Test(param, random_values_round_trip_or_leave_config_alone)
{
    uint64_t seed = 42;
    struct tcfg c;
    defaults(&c);
    for (int iter = 0; iter < 20000; iter++) {
        uint64_t r = splitmix(&seed);
        char v[64];
        double x = ((double)(r >> 11) * 0x1.0p-53) * 240.0 - 120.0; /* [-120, 120) */
        int kind = (int)(splitmix(&seed) % 4);
        if (kind == 0)
            snprintf(v, sizeof(v), "%.17g", x);
        else if (kind == 1)
            snprintf(v, sizeof(v), "%.3f", x);
        else if (kind == 2)
            snprintf(v, sizeof(v), "%lld", (long long)x);
        else
            snprintf(v, sizeof(v), "%.2fz", x); /* malformed */
        const char *key = splitmix(&seed) & 1 ? "spread" : "levels";
        struct tcfg before = c;
        char err[128];
        int rc = clb_params_set(spec, NSPEC, &c, key, v, err, sizeof(err));
        bool is_int = strchr(v, '.') == NULL && strchr(v, 'e') == NULL && kind != 3;
        double parsed = strtod(v, NULL);
        bool expect_ok;
        if (kind == 3)
            expect_ok = false;
        else if (key[0] == 's')
            expect_ok = parsed >= 0.0 && parsed <= 100.0;
        else
            expect_ok = is_int && parsed >= 1.0 && parsed <= 20.0;
        cr_assert_eq(rc == CLB_OK, expect_ok, "%s=%s rc %d", key, v, rc);
        if (rc != CLB_OK) {
            cr_assert_eq(memcmp(&c, &before, sizeof(c)), 0);
            cr_assert_not_null(strstr(err, key));
            continue;
        }
        char buf[64];
        const struct clb_param_spec *p = clb_params_find(spec, NSPEC, key);
        cr_assert_gt(clb_params_format(p, &c, buf, sizeof(buf)), 0);
        struct tcfg again = c;
        cr_assert_eq(clb_params_set(spec, NSPEC, &again, key, buf, err, sizeof(err)), CLB_OK);
        if (key[0] == 's') {
            cr_assert_eq(c.spread, parsed);
            cr_assert(fabs(again.spread - c.spread) <= 1e-9 * fmax(1.0, fabs(c.spread)));
        } else {
            cr_assert_eq(c.levels, (long long)parsed);
            cr_assert_eq(again.levels, c.levels);
        }
    }
}
