/* Tests for server/cli_data.c: runs the built `colibri data ...` on small
 * generated Tardis CSV files, on broken inputs and on .clbmd files, and
 * checks exit codes, messages and output files. COLIBRI_TEST_BINARY may
 * point the test at another build of the binary. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "market_data.h"

#include "md_file.h"

#include "harness.h"

static char g_dir[256];
static char g_out[8192];
static char g_err[8192];

static const char *binary(void)
{
    const char *b = getenv("COLIBRI_TEST_BINARY");
    return b && *b ? b : COLIBRI_BINARY_DIR "/colibri";
}

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/clb_cli_data_XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(cli_data, .init = setup, .fini = teardown);

static const char *path(const char *name)
{
    static char buf[8][512];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

/* Runs `colibri ARGS` (a shell-quoted string), captures stdout/stderr into
 * g_out/g_err and returns the exit status. */
__attribute__((format(printf, 1, 2))) static int run(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "'%s' %s >'%s/stdout' 2>'%s/stderr' </dev/null", binary(), args,
             g_dir, g_dir);
    int st = system(cmd);
    cr_assert(WIFEXITED(st), "'%s' did not exit normally", cmd);
    slurp(path("stdout"), g_out, sizeof(g_out));
    slurp(path("stderr"), g_err, sizeof(g_err));
    return WEXITSTATUS(st);
}

static void write_text(const char *name, const char *text)
{
    FILE *f = fopen(path(name), "wb");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static bool exists(const char *name)
{
    struct stat st;
    return stat(path(name), &st) == 0;
}

/* Reads a whole file into a malloc'd buffer. */
static unsigned char *read_file(const char *name, size_t *len)
{
    FILE *f = fopen(path(name), "rb");
    cr_assert_not_null(f, "cannot open %s", name);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static uint64_t mix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A small, consistent Tardis pair: a 5+5 level snapshot then random
 * updates and trades; prices with 2 decimals, amounts with up to 4. */
static void write_tardis_pair(int *book_rows, int *trade_rows)
{
    FILE *b = fopen(path("book.csv"), "wb"), *t = fopen(path("trades.csv"), "wb");
    cr_assert(b && t);
    fprintf(b, "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n");
    fprintf(t, "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n");
    long long us = 1700000000000000LL;
    int nb = 0, nt = 0;
    for (int i = 0; i < 5; i++, nb += 2) {
        fprintf(b, "binance,BTCUSDT,%lld,%lld,true,bid,%d.%02d,1.5\n", us, us + 7, 100 - i, 10);
        fprintf(b, "binance,BTCUSDT,%lld,%lld,true,ask,%d.%02d,2\n", us, us + 7, 100 + i, 20);
    }
    uint64_t seed = 1;
    for (int i = 0; i < 200; i++) {
        us += 1000 + (long long)(mix(&seed) % 1000);
        if (mix(&seed) % 4 == 0) {
            fprintf(t, "binance,BTCUSDT,%lld,%lld,%d,%s,100.%02d,0.%04d\n", us, us + 5, 1000 + i,
                    mix(&seed) % 2 ? "buy" : "sell", (int)(mix(&seed) % 100),
                    1 + (int)(mix(&seed) % 9999));
            nt++;
        } else {
            int lvl = (int)(mix(&seed) % 5);
            bool bid = mix(&seed) % 2;
            fprintf(b, "binance,BTCUSDT,%lld,%lld,false,%s,%d.%02d,%d.%03d\n", us, us + 5,
                    bid ? "bid" : "ask", bid ? 100 - lvl : 100 + lvl, bid ? 10 : 20,
                    (int)(mix(&seed) % 5), (int)(mix(&seed) % 1000));
            nb++;
        }
    }
    fclose(b);
    fclose(t);
    *book_rows = nb;
    *trade_rows = nt;
}

static struct clb_md_header check_md_file(const char *name)
{
    size_t len;
    unsigned char *buf = read_file(name, &len);
    struct clb_md_error err;
    cr_assert_eq(clb_md_validate(buf, len, &err), CLB_OK, "%s invalid: %s", name, err.msg);
    struct clb_md_header h;
    memcpy(&h, buf, sizeof(h));
    free(buf);
    return h;
}

Test(cli_data, help_and_usage_errors)
{
    cr_assert_eq(run("data --help"), 0);
    cr_assert(strstr(g_out, "usage: colibri data"), "%s", g_out);
    cr_assert_eq(run("data import --help"), 0);
    cr_assert(strstr(g_out, "--price-scale"));
    cr_assert_eq(run("data synth --help"), 0);
    cr_assert(strstr(g_out, "--events"));
    cr_assert_eq(run("data info --help"), 0);
    cr_assert(strstr(g_out, "usage: colibri data info"));
    cr_assert_eq(run("data"), 2);
    cr_assert_eq(run("data frobnicate"), 2);
    cr_assert(strstr(g_err, "unknown subcommand 'frobnicate'"));
    cr_assert_eq(run("data import --book x --out y"), 2);
    cr_assert(strstr(g_err, "--format tardis is required"), "%s", g_err);
    cr_assert_eq(run("data import --format csv --book x --out y"), 2);
    cr_assert_eq(run("data import --format tardis --out y"), 2);
    cr_assert(strstr(g_err, "--book and/or --trades"));
    cr_assert_eq(run("data import --format tardis --book x --out y --bogus 1"), 2);
    cr_assert(strstr(g_err, "unknown option '--bogus'"));
    cr_assert_eq(run("data import --format tardis --book x --out y --price-scale 19"), 2);
    cr_assert_eq(run("data synth --out y"), 2);
    cr_assert(strstr(g_err, "--events"));
    cr_assert_eq(run("data synth --events 10 --out y --start-price 60000.001"), 2);
    cr_assert(strstr(g_err, "more decimals than the scale 2"), "%s", g_err);
    cr_assert_eq(run("data synth --events 10 --out y --levels 0"), 2);
    cr_assert_eq(run("data info"), 2);
    cr_assert_eq(run("data info a b"), 2);
}

Test(cli_data, import_tardis_pair_with_inferred_scales)
{
    int nb, nt;
    write_tardis_pair(&nb, &nt);
    int rc = run("data import --format tardis --book '%s' --trades '%s' --out '%s'",
                 path("book.csv"), path("trades.csv"), path("out.clbmd"));
    cr_assert_eq(rc, 0, "stderr: %s", g_err);
    cr_assert(strstr(g_out, "wrote"), "%s", g_out);
    cr_assert(!exists("out.clbmd.tmp"));
    struct clb_md_header h = check_md_file("out.clbmd");
    cr_assert_eq(h.count, (uint64_t)(nb + nt));
    cr_assert_eq(h.price_scale, 2);
    cr_assert_eq(h.qty_scale, 4);
    cr_assert_str_eq(h.exchange, "binance");
    cr_assert_str_eq(h.symbol, "BTCUSDT");
    cr_assert_eq(h.first_ts_ns, (1700000000000000LL + 7) * 1000);

    /* info on the result */
    cr_assert_eq(run("data info '%s'", path("out.clbmd")), 0, "%s", g_err);
    cr_assert(strstr(g_out, "symbol:       BTCUSDT"), "%s", g_out);
    cr_assert(strstr(g_out, "snapshots:    1"), "%s", g_out);
    char want[64];
    snprintf(want, sizeof(want), "records:      %d", nb + nt);
    cr_assert(strstr(g_out, want), "%s", g_out);
}

Test(cli_data, import_with_explicit_scales_and_gzip_input)
{
    int nb, nt;
    write_tardis_pair(&nb, &nt);
    cr_assert_eq(run("data import --format tardis --book '%s' --trades '%s' --out '%s' "
                     "--price-scale 4 --qty-scale 8 --tick 0.01 --step 0.0001",
                     path("book.csv"), path("trades.csv"), path("a.clbmd")),
                 0, "%s", g_err);
    struct clb_md_header h = check_md_file("a.clbmd");
    cr_assert_eq(h.price_scale, 4);
    cr_assert_eq(h.qty_scale, 8);
    cr_assert_eq(h.tick, 100);
    cr_assert_eq(h.step, 10000);

    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "gzip -c '%s' > '%s'", path("book.csv"), path("book.csv.gz"));
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(run("data import --format tardis --book '%s' --trades '%s' --out '%s' "
                     "--price-scale 4 --qty-scale 8 --tick 0.01 --step 0.0001",
                     path("book.csv.gz"), path("trades.csv"), path("b.clbmd")),
                 0, "%s", g_err);
    size_t la, lb;
    unsigned char *a = read_file("a.clbmd", &la), *b = read_file("b.clbmd", &lb);
    cr_assert_eq(la, lb);
    cr_assert_eq(memcmp(a, b, la), 0);
    free(a);
    free(b);

    /* a truncated .gz is an error, not a short import */
    snprintf(cmd, sizeof(cmd), "head -c 300 '%s' > '%s'", path("book.csv.gz"), path("cut.gz"));
    cr_assert_eq(system(cmd), 0);
    cr_assert_eq(run("data import --format tardis --book '%s' --out '%s' --price-scale 2 "
                     "--qty-scale 4",
                     path("cut.gz"), path("c.clbmd")),
                 1);
    cr_assert(strstr(g_err, "gzip"), "%s", g_err);
    cr_assert(!exists("c.clbmd") && !exists("c.clbmd.tmp"));
}

/* Runs an import expected to fail with `needle` in stderr, and checks that
 * neither OUT nor OUT.tmp was left behind. */
static void import_fails(const char *book, const char *trades, const char *extra,
                         const char *needle)
{
    char files[1024] = "";
    size_t n = 0;
    if (book)
        n += (size_t)snprintf(files + n, sizeof(files) - n, " --book '%s'", path(book));
    if (trades)
        snprintf(files + n, sizeof(files) - n, " --trades '%s'", path(trades));
    int rc = run("data import --format tardis%s --out '%s' %s", files, path("bad.clbmd"),
                 extra ? extra : "");
    cr_assert_eq(rc, 1, "exit %d for '%s' (stderr: %s)", rc, needle, g_err);
    cr_assert(strstr(g_err, needle), "stderr '%s' lacks '%s'", g_err, needle);
    cr_assert(!exists("bad.clbmd"), "OUT left behind for '%s'", needle);
    cr_assert(!exists("bad.clbmd.tmp"), "OUT.tmp left behind for '%s'", needle);
}

#define BOOK_HDR "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
#define TRADES_HDR "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"

Test(cli_data, import_reports_broken_files_with_lines)
{
    char want[600];
    write_text("hdr.csv", "exchange,symbol,ts\n");
    snprintf(want, sizeof(want), "%s:1: bad header", path("hdr.csv"));
    import_fails("hdr.csv", NULL, NULL, want);

    write_text("cols.csv", BOOK_HDR "e,S,1,1,true,bid,1,1\ne,S,2,2,false,bid,1\n");
    snprintf(want, sizeof(want), "%s:3: expected 8 columns, found 7", path("cols.csv"));
    import_fails("cols.csv", NULL, NULL, want);

    write_text("side.csv", BOOK_HDR "e,S,1,1,true,bid,1,1\ne,S,1,1,true,bod,1,1\n");
    snprintf(want, sizeof(want), "%s:3: unknown side 'bod'", path("side.csv"));
    import_fails("side.csv", NULL, "--price-scale 2 --qty-scale 2", want);

    write_text("num.csv", BOOK_HDR "e,S,1,1,true,bid,1,1\ne,S,1,1,true,ask,2,1x\n");
    snprintf(want, sizeof(want), "%s:3: bad number in column amount: '1x'", path("num.csv"));
    import_fails("num.csv", NULL, NULL, want);

    write_text("neg.csv", BOOK_HDR "e,S,1,1,true,bid,1,-1\n");
    snprintf(want, sizeof(want), "%s:2: negative amount", path("neg.csv"));
    import_fails("neg.csv", NULL, NULL, want);

    write_text("ok_book.csv", BOOK_HDR "e,S,1,1,true,bid,1.25,1\n");
    write_text("unsorted.csv", TRADES_HDR "e,S,1,9,1,buy,1,1\ne,S,1,10,2,buy,1,1\n"
                               "e,S,1,8,3,sell,1,1\n");
    snprintf(want, sizeof(want), "%s:4: unsorted local_timestamp 8 after 10",
             path("unsorted.csv"));
    import_fails("ok_book.csv", "unsorted.csv", NULL, want);

    /* a value finer than the requested scale */
    snprintf(want, sizeof(want), "%s:2: price 1.25 has more decimals than the price scale 1",
             path("ok_book.csv"));
    import_fails("ok_book.csv", NULL, "--price-scale 1 --qty-scale 0", want);
    /* a tick the data does not respect */
    snprintf(want, sizeof(want), "%s:2: price 125 not a multiple of tick 10",
             path("ok_book.csv"));
    import_fails("ok_book.csv", NULL, "--tick 0.1", want);

    snprintf(want, sizeof(want), "%s: cannot open", path("missing.csv"));
    import_fails("missing.csv", NULL, NULL, want);
}

Test(cli_data, failed_import_keeps_the_previous_output)
{
    write_text("bad.clbmd", "previous contents");
    write_text("side.csv", BOOK_HDR "e,S,1,1,true,bid,1,1\ne,S,1,1,true,bod,1,1\n");
    int rc = run("data import --format tardis --book '%s' --out '%s'", path("side.csv"),
                 path("bad.clbmd"));
    cr_assert_eq(rc, 1);
    char buf[64];
    slurp(path("bad.clbmd"), buf, sizeof(buf));
    cr_assert_str_eq(buf, "previous contents");
    cr_assert(!exists("bad.clbmd.tmp"));
}

Test(cli_data, synth_is_deterministic_and_valid)
{
    cr_assert_eq(run("data synth --events 20k --seed 3 --out '%s'", path("a.clbmd")), 0, "%s",
                 g_err);
    cr_assert(strstr(g_out, "seed 3"), "%s", g_out);
    cr_assert_eq(run("data synth --events 20000 --seed 3 --out '%s'", path("b.clbmd")), 0);
    cr_assert_eq(run("data synth --events 20000 --seed 4 --out '%s' --symbol ETH-USDT "
                     "--start-price 3000.5 --levels 10",
                     path("c.clbmd")),
                 0, "%s", g_err);
    size_t la, lb, lc;
    unsigned char *a = read_file("a.clbmd", &la), *b = read_file("b.clbmd", &lb),
                  *c = read_file("c.clbmd", &lc);
    cr_assert_eq(la, lb);
    cr_assert_eq(memcmp(a, b, la), 0);
    cr_assert(la != lc || memcmp(a, c, la) != 0);
    struct clb_md_header h = check_md_file("a.clbmd");
    cr_assert_geq(h.count, 20000);
    cr_assert_lt(h.count, 20000 + 1000);
    /* the file ends at a batch end */
    const struct clb_md_record *last = clb_md_records(a) + (h.count - 1);
    cr_assert(last->flags & CLB_MD_F_BATCH_END);
    cr_assert(h.flags & CLB_MD_HDR_SYNTHETIC);
    struct clb_md_header hc = check_md_file("c.clbmd");
    cr_assert_str_eq(hc.symbol, "ETH-USDT");
    const struct clb_md_record *first = clb_md_records(c);
    cr_assert_lt(first->price, 300050); /* best bid just under the 3000.50 mid */
    cr_assert_gt(first->price, 299900);
    free(a);
    free(b);
    free(c);

    cr_assert_eq(run("data info '%s'", path("a.clbmd")), 0, "%s", g_err);
    cr_assert(strstr(g_out, "synthetic"), "%s", g_out);
    cr_assert(strstr(g_out, "trade_buy"));
    cr_assert(strstr(g_out, "first:        2024-01-01T00:00:00.000000000Z"), "%s", g_out);
}

Test(cli_data, info_reports_offsets_of_bad_files)
{
    cr_assert_eq(run("data synth --events 1000 --seed 1 --out '%s'", path("good.clbmd")), 0);
    size_t len;
    unsigned char *buf = read_file("good.clbmd", &len);
    char want[600];

    /* record 7 gets an unknown kind */
    unsigned char *bad = malloc(len);
    memcpy(bad, buf, len);
    bad[128 + 7 * 32 + 24] = 9;
    FILE *f = fopen(path("kind.clbmd"), "wb");
    fwrite(bad, 1, len, f);
    fclose(f);
    cr_assert_eq(run("data info '%s'", path("kind.clbmd")), 1);
    snprintf(want, sizeof(want), "%s@%d: record 7: unknown kind 9", path("kind.clbmd"),
             128 + 7 * 32);
    cr_assert(strstr(g_err, want), "stderr '%s' lacks '%s'", g_err, want);

    /* truncated in the middle of a record */
    f = fopen(path("cut.clbmd"), "wb");
    fwrite(buf, 1, len - 10, f);
    fclose(f);
    cr_assert_eq(run("data info '%s'", path("cut.clbmd")), 1);
    cr_assert(strstr(g_err, "truncated"), "%s", g_err);

    /* not a market-data file at all */
    write_text("text.clbmd", "hello");
    cr_assert_eq(run("data info '%s'", path("text.clbmd")), 1);
    snprintf(want, sizeof(want), "%s@0: bad magic", path("text.clbmd"));
    cr_assert(strstr(g_err, want), "%s", g_err);

    cr_assert_eq(run("data info '%s'", path("nope.clbmd")), 1);
    cr_assert(strstr(g_err, "cannot open"), "%s", g_err);
    free(bad);
    free(buf);
}

Test(cli_data, md_file_open_full_and_header_only)
{
    cr_assert_eq(run("data synth --events 500 --seed 2 --out '%s'", path("m.clbmd")), 0);
    struct clb_md_file f;
    struct clb_md_error err;
    cr_assert_eq(clb_md_file_open(&f, path("m.clbmd"), true, &err), CLB_OK, "%s", err.msg);
    cr_assert_geq(f.hdr.count, 500);
    cr_assert_eq(f.len, 128 + f.hdr.count * 32);
    cr_assert_eq(f.rec[0].flags, CLB_MD_F_SNAPSHOT | CLB_MD_F_RESET);
    uint64_t count = f.hdr.count;
    clb_md_file_close(&f);
    clb_md_file_close(&f); /* idempotent */

    /* a bad record: found by the full pass only */
    size_t len;
    unsigned char *buf = read_file("m.clbmd", &len);
    buf[128 + 3 * 32 + 16] = 0xff; /* qty of record 3 goes negative */
    buf[128 + 3 * 32 + 23] = 0xff;
    FILE *fp = fopen(path("bad.clbmd"), "wb");
    fwrite(buf, 1, len, fp);
    fclose(fp);
    cr_assert_eq(clb_md_file_open(&f, path("bad.clbmd"), false, &err), CLB_OK);
    cr_assert_eq(f.hdr.count, count);
    clb_md_file_close(&f);
    cr_assert_eq(clb_md_file_open(&f, path("bad.clbmd"), true, &err), CLB_EPARSE);
    cr_assert_eq(err.record, 3);
    cr_assert_eq(err.offset, 128 + 3 * 32);
    cr_assert_null(f.map);

    /* the size check holds in header-only mode too */
    fp = fopen(path("short.clbmd"), "wb");
    fwrite(buf, 1, len - 32, fp);
    fclose(fp);
    cr_assert_eq(clb_md_file_open(&f, path("short.clbmd"), false, &err), CLB_EPARSE);
    cr_assert(strstr(err.msg, "truncated"), "%s", err.msg);
    cr_assert_eq(clb_md_file_open(&f, path("none.clbmd"), false, &err), CLB_EIO);
    cr_assert(strstr(err.msg, "cannot open"), "%s", err.msg);
    cr_assert_eq(clb_md_file_open(&f, g_dir, true, &err), CLB_EIO); /* a directory */
    write_text("empty.clbmd", "");
    cr_assert_eq(clb_md_file_open(&f, path("empty.clbmd"), true, &err), CLB_EPARSE);
    free(buf);
}
