/*
 * cli_data.c — `colibri data`: import Tardis CSV files, generate synthetic
 * markets and inspect .clbmd market-data files.
 *
 *   colibri data import --format tardis --book F --trades F --out F [...]
 *   colibri data synth --events N --seed S --out F [...]
 *   colibri data info FILE
 *
 * The conversions themselves live in core (tardis.h, synth.h,
 * market_data.h); this file owns the I/O around them: buffered line
 * reading (gzip-compressed input through a `gzip -dc` child process),
 * writing OUT.tmp then renaming it over OUT (a crash or an error never
 * leaves a partial OUT), progress on stderr when it is a terminal, and
 * error messages that name file:line or file@offset.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "decimal.h"
#include "error.h"
#include "market_data.h"
#include "md_file.h"
#include "synth.h"
#include "tardis.h"

#define CHUNK_RECORDS 65536

/* ---- options ---- */

struct opt {
    const char *name; /* "--out" */
    const char **val; /* where the value goes */
};

/* Parses "--name VALUE" / "--name=VALUE" pairs and up to max_pos
 * positional arguments. Returns 0, or 2 after printing a usage error. */
static int parse_opts(const char *cmd, int argc, char **argv, const struct opt *opts,
                      size_t n_opts, const char **pos, int max_pos)
{
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            if (n_pos >= max_pos) {
                fprintf(stderr, "colibri data %s: unexpected argument '%s'\n", cmd, a);
                return 2;
            }
            pos[n_pos++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const struct opt *o = NULL;
        for (size_t k = 0; k < n_opts; k++)
            if (strlen(opts[k].name) == nlen && strncmp(opts[k].name, a, nlen) == 0)
                o = &opts[k];
        if (!o) {
            fprintf(stderr, "colibri data %s: unknown option '%.*s' (see --help)\n", cmd,
                    (int)nlen, a);
            return 2;
        }
        if (eq) {
            *o->val = eq + 1;
        } else {
            if (i + 1 >= argc) {
                fprintf(stderr, "colibri data %s: option %s needs a value\n", cmd, o->name);
                return 2;
            }
            *o->val = argv[++i];
        }
    }
    return 0;
}

/* Unsigned integer with an optional k/M/G suffix (x1000). */
static bool parse_count(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    if (*s == '-' || *s == '+')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return false;
    uint64_t mul = 1;
    if (*end == 'k' || *end == 'K')
        mul = 1000, end++;
    else if (*end == 'M')
        mul = 1000000, end++;
    else if (*end == 'G')
        mul = 1000000000, end++;
    if (*end != '\0' || (mul > 1 && v > UINT64_MAX / mul))
        return false;
    *out = (uint64_t)v * mul;
    return true;
}

static bool parse_int_range(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end != '\0' || end == s || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* A decimal option at a scale: "0.01" at scale 2 -> 1. Prints the error. */
static int parse_scaled_opt(const char *cmd, const char *name, const char *s, int scale,
                            int64_t *out)
{
    clb_dec d;
    int rc = clb_dec_parse_cstr(s, &d);
    if (rc == CLB_OK && clb_dec_sign(d) <= 0)
        rc = CLB_ERANGE;
    if (rc == CLB_OK)
        rc = clb_dec_to_scaled(d, scale, out);
    if (rc == CLB_EPRECISION) {
        fprintf(stderr, "colibri data %s: %s %s has more decimals than the scale %d\n", cmd,
                name, s, scale);
        return 2;
    }
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri data %s: %s '%s' is not a positive decimal number\n", cmd,
                name, s);
        return 2;
    }
    return 0;
}

static void format_scaled(int64_t v, int scale, char *buf, size_t cap)
{
    if (clb_dec_format(clb_dec_make(v, scale), buf, cap) < 0)
        snprintf(buf, cap, "%" PRId64 "e-%d", v, scale);
}

/* ---- progress ---- */

struct progress {
    bool on;
    double next_s;
    double start_s;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void progress_init(struct progress *p)
{
    p->on = isatty(STDERR_FILENO) == 1;
    p->start_s = mono_s();
    p->next_s = p->start_s + 0.5;
}

static void progress_show(struct progress *p, const char *what, uint64_t done, uint64_t total)
{
    if (!p->on)
        return;
    double now = mono_s();
    if (now < p->next_s)
        return;
    p->next_s = now + 0.5;
    if (total)
        fprintf(stderr, "\r%s: %.1fM / %.1fM records (%.0f%%)   ", what, (double)done / 1e6,
                (double)total / 1e6, 100.0 * (double)done / (double)total);
    else
        fprintf(stderr, "\r%s: %.1fM records   ", what, (double)done / 1e6);
    fflush(stderr);
}

static void progress_end(struct progress *p)
{
    if (p->on && mono_s() > p->start_s + 0.5)
        fprintf(stderr, "\r\033[K");
}

/* ---- output file: OUT.tmp, renamed over OUT at commit ---- */

struct out_file {
    const char *path;
    char *tmp;
    int fd;
    int err; /* errno of the first failure */
};

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(fd, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int out_sink(void *ud, const void *bytes, size_t len)
{
    struct out_file *o = ud;
    int e = write_all(o->fd, bytes, len);
    if (e) {
        o->err = e;
        return CLB_EIO;
    }
    return CLB_OK;
}

static int out_open(struct out_file *o, const char *cmd, const char *path)
{
    memset(o, 0, sizeof(*o));
    o->fd = -1;
    o->path = path;
    size_t n = strlen(path);
    o->tmp = malloc(n + 5);
    if (!o->tmp) {
        fprintf(stderr, "colibri data %s: out of memory\n", cmd);
        return 1;
    }
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp", 5);
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (o->fd < 0) {
        fprintf(stderr, "colibri data %s: cannot create %s: %s\n", cmd, o->tmp, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        return 1;
    }
    unsigned char zero[CLB_MD_HEADER_SIZE] = { 0 }; /* placeholder until commit */
    int e = write_all(o->fd, zero, sizeof(zero));
    if (e) {
        fprintf(stderr, "colibri data %s: cannot write %s: %s\n", cmd, o->tmp, strerror(e));
        close(o->fd);
        unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
        return 1;
    }
    return 0;
}

static void out_abort(struct out_file *o)
{
    if (o->fd >= 0)
        close(o->fd);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    o->tmp = NULL;
    o->fd = -1;
}

/* Writes the final header, syncs and renames. 0 or 1 (error printed). */
static int out_commit(struct out_file *o, const char *cmd, const struct clb_md_header *h)
{
    unsigned char buf[CLB_MD_HEADER_SIZE];
    struct clb_md_error merr;
    if (clb_md_header_encode(h, buf, sizeof(buf), &merr) != CLB_OK) {
        fprintf(stderr, "colibri data %s: bad header: %s\n", cmd, merr.msg);
        out_abort(o);
        return 1;
    }
    const char *step = "write";
    const char *why = "short write";
    ssize_t w = pwrite(o->fd, buf, sizeof(buf), 0);
    if (w != (ssize_t)sizeof(buf)) {
        if (w < 0)
            why = strerror(errno);
        goto fail;
    }
    step = "sync";
    if (fsync(o->fd) != 0)
        goto fail_errno;
    step = "close";
    int fd = o->fd;
    o->fd = -1;
    if (close(fd) != 0)
        goto fail_errno;
    step = "rename";
    if (rename(o->tmp, o->path) != 0)
        goto fail_errno;
    free(o->tmp);
    o->tmp = NULL;
    return 0;
fail_errno:
    why = strerror(errno);
fail:
    fprintf(stderr, "colibri data %s: cannot %s %s: %s\n", cmd, step, o->tmp, why);
    out_abort(o);
    return 1;
}

/* ---- line reader (plain or gzip through a child `gzip -dc`) ---- */

#define READ_BUF (1u << 20)
#define LINE_MAX_BYTES (1u << 16)

struct line_reader {
    const char *path;
    int fd;
    pid_t child; /* gzip, or -1 */
    char *buf;
    size_t start, end;
    bool eof;
    char why[256]; /* reason of the last error returned */
};

static int reader_open(struct line_reader *r, const char *path)
{
    memset(r, 0, sizeof(*r));
    r->path = path;
    r->child = -1;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        snprintf(r->why, sizeof(r->why), "cannot open: %s", strerror(errno));
        return -1;
    }
    r->buf = malloc(READ_BUF);
    if (!r->buf) {
        snprintf(r->why, sizeof(r->why), "out of memory");
        close(r->fd);
        r->fd = -1;
        return -1;
    }
    unsigned char magic[2];
    if (pread(r->fd, magic, 2, 0) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        int p[2];
        if (pipe(p) != 0) {
            snprintf(r->why, sizeof(r->why), "pipe: %s", strerror(errno));
            goto fail;
        }
        pid_t pid = fork();
        if (pid < 0) {
            snprintf(r->why, sizeof(r->why), "fork: %s", strerror(errno));
            close(p[0]);
            close(p[1]);
            goto fail;
        }
        if (pid == 0) {
            dup2(r->fd, STDIN_FILENO);
            dup2(p[1], STDOUT_FILENO);
            execlp("gzip", "gzip", "-dc", (char *)NULL);
            _exit(127);
        }
        close(p[1]);
        close(r->fd);
        fcntl(p[0], F_SETFD, FD_CLOEXEC); /* not inherited by a second gzip */
        r->fd = p[0];
        r->child = pid;
    }
    return 0;
fail:
    close(r->fd);
    r->fd = -1;
    free(r->buf);
    r->buf = NULL;
    return -1;
}

static void reader_close(struct line_reader *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    if (r->child > 0) {
        kill(r->child, SIGTERM); /* harmless if it already exited */
        waitpid(r->child, NULL, 0);
        r->child = -1;
    }
    free(r->buf);
    r->buf = NULL;
}

static int reader_line(void *ud, const char **line, size_t *len)
{
    struct line_reader *r = ud;
    for (;;) {
        char *s = r->buf + r->start;
        size_t avail = r->end - r->start;
        char *nl = avail ? memchr(s, '\n', avail) : NULL;
        if (nl) {
            *line = s;
            *len = (size_t)(nl - s);
            r->start += *len + 1;
            return 1;
        }
        if (r->eof) {
            if (avail == 0)
                return 0;
            *line = s;
            *len = avail;
            r->start = r->end;
            return 1;
        }
        if (avail > LINE_MAX_BYTES) {
            snprintf(r->why, sizeof(r->why), "line longer than %u bytes", LINE_MAX_BYTES);
            return CLB_EFULL;
        }
        memmove(r->buf, s, avail);
        r->start = 0;
        r->end = avail;
        ssize_t n = read(r->fd, r->buf + r->end, READ_BUF - r->end);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(r->why, sizeof(r->why), "read failed: %s", strerror(errno));
            return CLB_EIO;
        }
        if (n == 0) {
            r->eof = true;
            if (r->child > 0) {
                int status = 0;
                pid_t child = r->child;
                r->child = -1;
                if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
                    WEXITSTATUS(status) != 0) {
                    snprintf(r->why, sizeof(r->why),
                             "gzip -dc failed (corrupt or truncated input, or no gzip)");
                    return CLB_EIO;
                }
            }
        }
        r->end += (size_t)n;
    }
}

/* ---- import ---- */

static void import_usage(FILE *f)
{
    fprintf(f,
            "usage: colibri data import --format tardis [--book FILE] [--trades FILE] --out FILE\n"
            "                           [--price-scale N] [--qty-scale N] [--tick D] [--step D]\n"
            "\n"
            "Converts Tardis.dev CSV datasets of one market (incremental_book_L2 and/or trades,\n"
            "plain or .gz) into a .clbmd market-data file, merged by local_timestamp.\n"
            "\n"
            "  --format tardis    input format (the only one so far)\n"
            "  --book FILE        incremental_book_L2 CSV\n"
            "  --trades FILE      trades CSV\n"
            "  --out FILE         output file (written to FILE.tmp, then renamed)\n"
            "  --price-scale N    decimals of prices (0..18); default: the most seen in the data\n"
            "  --qty-scale N      decimals of amounts (0..18); default: the most seen\n"
            "  --tick D           price tick, e.g. 0.01; default: gcd of all prices\n"
            "  --step D           quantity step; default: gcd of all amounts\n"
            "\n"
            "A value with more decimals than its scale is an error, never rounded.\n"
            "Without both scales the inputs are read twice (measure, then convert).\n");
}

static void print_tardis_error(const char *const paths[2], const struct clb_tardis_error *e,
                               const struct line_reader *readers)
{
    const char *why = e->msg;
    if ((e->code == CLB_EIO || e->code == CLB_EFULL) && readers[e->stream].why[0])
        why = readers[e->stream].why;
    fprintf(stderr, "colibri data import: %s:%" PRIu64 ": %s\n", paths[e->stream], e->line, why);
}

/* Opens the readers of the files given; prints the error. */
static int open_readers(const char *const paths[2], struct line_reader r[2])
{
    memset(r, 0, 2 * sizeof(*r));
    r[0].fd = r[1].fd = -1;
    r[0].child = r[1].child = -1;
    for (int k = 0; k < 2; k++) {
        if (!paths[k])
            continue;
        if (reader_open(&r[k], paths[k]) != 0) {
            fprintf(stderr, "colibri data import: %s: %s\n", paths[k], r[k].why);
            if (k == 1)
                reader_close(&r[0]);
            return 1;
        }
    }
    return 0;
}

static void close_readers(struct line_reader r[2])
{
    reader_close(&r[0]);
    reader_close(&r[1]);
}

static int data_import(int argc, char **argv)
{
    const char *format = NULL, *book = NULL, *trades = NULL, *out = NULL, *ps_s = NULL,
               *qs_s = NULL, *tick_s = NULL, *step_s = NULL;
    const struct opt opts[] = {
        { "--format", &format }, { "--book", &book },         { "--trades", &trades },
        { "--out", &out },       { "--price-scale", &ps_s }, { "--qty-scale", &qs_s },
        { "--tick", &tick_s },   { "--step", &step_s },
    };
    if (cli_wants_help(argc, argv)) {
        import_usage(stdout);
        return 0;
    }
    int rc = parse_opts("import", argc, argv, opts, sizeof(opts) / sizeof(opts[0]), NULL, 0);
    if (rc)
        return rc;
    if (!format || strcmp(format, "tardis") != 0) {
        fprintf(stderr, "colibri data import: %s (see --help)\n",
                format ? "unsupported --format (expected tardis)" : "--format tardis is required");
        return 2;
    }
    if (!book && !trades) {
        fprintf(stderr, "colibri data import: give --book and/or --trades (see --help)\n");
        return 2;
    }
    if (!out) {
        fprintf(stderr, "colibri data import: --out FILE is required (see --help)\n");
        return 2;
    }
    long ps = -1, qs = -1;
    if (ps_s && !parse_int_range(ps_s, 0, CLB_MD_MAX_SCALE, &ps)) {
        fprintf(stderr, "colibri data import: --price-scale '%s' is not in 0..18\n", ps_s);
        return 2;
    }
    if (qs_s && !parse_int_range(qs_s, 0, CLB_MD_MAX_SCALE, &qs)) {
        fprintf(stderr, "colibri data import: --qty-scale '%s' is not in 0..18\n", qs_s);
        return 2;
    }
    const char *const paths[2] = { book, trades };
    struct line_reader rd[2];
    struct clb_tardis_importer im;
    struct clb_tardis_error terr;
    struct progress prog;
    bool inferred_scale[2] = { ps < 0, qs < 0 };

    /* pass 1: measure the decimals (also checks the whole input) */
    if (ps < 0 || qs < 0) {
        if (open_readers(paths, rd))
            return 1;
        clb_tardis_importer_init(&im, CLB_TARDIS_SCAN, CLB_TARDIS_SCAN,
                                 book ? reader_line : NULL, &rd[0], trades ? reader_line : NULL,
                                 &rd[1]);
        progress_init(&prog);
        struct clb_md_record r;
        while ((rc = clb_tardis_importer_next(&im, &r, &terr)) > 0)
            if ((im.stats.records & 0xffff) == 0)
                progress_show(&prog, "import: measuring", im.stats.records, 0);
        progress_end(&prog);
        if (rc < 0) {
            print_tardis_error(paths, &terr, rd);
            close_readers(rd);
            return 1;
        }
        close_readers(rd);
        if (ps < 0)
            ps = im.stats.price_decimals;
        if (qs < 0)
            qs = im.stats.qty_decimals;
    }

    int64_t tick = 0, step = 0;
    if (tick_s && parse_scaled_opt("import", "--tick", tick_s, (int)ps, &tick))
        return 2;
    if (step_s && parse_scaled_opt("import", "--step", step_s, (int)qs, &step))
        return 2;

    /* pass 2: convert */
    if (open_readers(paths, rd))
        return 1;
    clb_tardis_importer_init(&im, (int)ps, (int)qs, book ? reader_line : NULL, &rd[0],
                             trades ? reader_line : NULL, &rd[1]);
    struct clb_md_header hdr;
    clb_md_header_init(&hdr, "", "", (int)ps, (int)qs, tick ? tick : 1, step ? step : 1);
    struct out_file of;
    if (out_open(&of, "import", out)) {
        close_readers(rd);
        return 1;
    }
    struct clb_md_writer w;
    if (clb_md_writer_init(&w, &hdr, CHUNK_RECORDS, out_sink, &of) != CLB_OK) {
        fprintf(stderr, "colibri data import: out of memory\n");
        out_abort(&of);
        close_readers(rd);
        return 1;
    }
    progress_init(&prog);
    struct clb_md_record r;
    int status = 0;
    while ((rc = clb_tardis_importer_next(&im, &r, &terr)) > 0) {
        int wrc = clb_md_writer_add(&w, &r);
        if (wrc == CLB_EIO) {
            fprintf(stderr, "colibri data import: cannot write %s: %s\n", of.tmp,
                    strerror(of.err));
            status = 1;
            break;
        }
        if (wrc != CLB_OK) {
            fprintf(stderr, "colibri data import: %s:%" PRIu64 ": %s\n",
                    paths[im.last_stream], im.last_line, w.err.msg);
            status = 1;
            break;
        }
        if ((im.stats.records & 0xffff) == 0)
            progress_show(&prog, "import", im.stats.records, 0);
    }
    progress_end(&prog);
    if (rc < 0) {
        print_tardis_error(paths, &terr, rd);
        status = 1;
    }
    close_readers(rd);
    if (status == 0 && clb_md_writer_finish(&w, &hdr) != CLB_OK) {
        fprintf(stderr, "colibri data import: cannot write %s: %s\n", of.tmp, strerror(of.err));
        status = 1;
    }
    clb_md_writer_deinit(&w);
    if (status) {
        out_abort(&of);
        return status;
    }
    snprintf(hdr.exchange, sizeof(hdr.exchange), "%s", clb_tardis_exchange(&im));
    snprintf(hdr.symbol, sizeof(hdr.symbol), "%s", clb_tardis_symbol(&im));
    if (!tick && im.stats.price_gcd > 0)
        hdr.tick = im.stats.price_gcd;
    if (!step && im.stats.qty_gcd > 0)
        hdr.step = im.stats.qty_gcd;
    if (out_commit(&of, "import", &hdr))
        return 1;

    char tb[CLB_DEC_STRLEN], sb[CLB_DEC_STRLEN];
    format_scaled(hdr.tick, (int)ps, tb, sizeof(tb));
    format_scaled(hdr.step, (int)qs, sb, sizeof(sb));
    printf("wrote %s: %" PRIu64 " records (%" PRIu64 " book rows, %" PRIu64 " trade rows)\n", out,
           hdr.count, im.stats.rows[0], im.stats.rows[1]);
    printf("  %s %s, price scale %ld%s, tick %s%s, qty scale %ld%s, step %s%s\n",
           hdr.exchange[0] ? hdr.exchange : "-", hdr.symbol[0] ? hdr.symbol : "-", ps,
           inferred_scale[0] ? " (inferred)" : "", tb, tick ? "" : " (inferred)", qs,
           inferred_scale[1] ? " (inferred)" : "", sb, step ? "" : " (inferred)");
    printf("  %" PRIu64 " snapshots", im.stats.snapshots);
    if (im.stats.skipped_book_rows)
        printf(", %" PRIu64 " book rows before the first snapshot skipped",
               im.stats.skipped_book_rows);
    if (im.stats.unknown_sides)
        printf(", %" PRIu64 " trade sides inferred (tick rule)", im.stats.unknown_sides);
    printf("\n");
    return 0;
}

/* ---- synth ---- */

static void synth_usage(FILE *f)
{
    fprintf(f,
            "usage: colibri data synth --events N --out FILE [--seed S] [--symbol SYM]\n"
            "                          [--exchange NAME] [--start-price P] [--levels N]\n"
            "\n"
            "Writes a synthetic market (colibri's one generator: random-walk mid, mean-reverting\n"
            "spread, clustered trades, %s-like defaults) as a .clbmd file.\n"
            "The same seed always gives the same bytes.\n"
            "\n"
            "  --events N         number of records (k/M/G suffixes: 20M); the file is extended\n"
            "                     to the end of the last batch\n"
            "  --seed S           random seed (default 1)\n"
            "  --out FILE         output file (written to FILE.tmp, then renamed)\n"
            "  --symbol SYM       symbol name (default BTC-USDT)\n"
            "  --exchange NAME    exchange name (default synth)\n"
            "  --start-price P    initial mid, at most 2 decimals (default 60000.00)\n"
            "  --levels N         book levels per side (default 50, max %d)\n",
            "BTC-USDT", CLB_SYNTH_MAX_LEVELS);
}

static int data_synth(int argc, char **argv)
{
    const char *events_s = NULL, *seed_s = NULL, *out = NULL, *symbol = NULL, *exchange = NULL,
               *price_s = NULL, *levels_s = NULL;
    const struct opt opts[] = {
        { "--events", &events_s }, { "--seed", &seed_s },          { "--out", &out },
        { "--symbol", &symbol },   { "--exchange", &exchange },    { "--start-price", &price_s },
        { "--levels", &levels_s },
    };
    if (cli_wants_help(argc, argv)) {
        synth_usage(stdout);
        return 0;
    }
    int rc = parse_opts("synth", argc, argv, opts, sizeof(opts) / sizeof(opts[0]), NULL, 0);
    if (rc)
        return rc;
    uint64_t events = 0, seed = 1;
    if (!events_s || !parse_count(events_s, &events) || events == 0) {
        fprintf(stderr, "colibri data synth: --events N (a positive count) is required\n");
        return 2;
    }
    if (seed_s && !parse_count(seed_s, &seed)) {
        fprintf(stderr, "colibri data synth: --seed '%s' is not a non-negative integer\n",
                seed_s);
        return 2;
    }
    if (!out) {
        fprintf(stderr, "colibri data synth: --out FILE is required (see --help)\n");
        return 2;
    }
    struct clb_synth_params p;
    clb_synth_default_params(&p);
    if (symbol) {
        if (!*symbol || strlen(symbol) >= sizeof(p.symbol)) {
            fprintf(stderr, "colibri data synth: --symbol must be 1..31 bytes\n");
            return 2;
        }
        snprintf(p.symbol, sizeof(p.symbol), "%s", symbol);
    }
    if (exchange) {
        if (!*exchange || strlen(exchange) >= sizeof(p.exchange)) {
            fprintf(stderr, "colibri data synth: --exchange must be 1..31 bytes\n");
            return 2;
        }
        snprintf(p.exchange, sizeof(p.exchange), "%s", exchange);
    }
    if (price_s && parse_scaled_opt("synth", "--start-price", price_s, p.price_scale,
                                    &p.start_price))
        return 2;
    if (levels_s) {
        long lv;
        if (!parse_int_range(levels_s, 1, CLB_SYNTH_MAX_LEVELS, &lv)) {
            fprintf(stderr, "colibri data synth: --levels '%s' is not in 1..%d\n", levels_s,
                    CLB_SYNTH_MAX_LEVELS);
            return 2;
        }
        p.levels = (uint32_t)lv;
    }
    struct clb_synth s;
    rc = clb_synth_init(&s, &p, seed);
    if (rc != CLB_OK) {
        fprintf(stderr, "colibri data synth: bad parameters: %s\n", clb_strerror(rc));
        return rc == CLB_EINVAL ? 2 : 1;
    }
    struct clb_md_header hdr;
    clb_synth_header(&s, &hdr);
    struct out_file of;
    if (out_open(&of, "synth", out)) {
        clb_synth_deinit(&s);
        return 1;
    }
    struct clb_md_writer w;
    struct clb_md_record *buf = malloc(CHUNK_RECORDS * sizeof(*buf));
    if (!buf || clb_md_writer_init(&w, &hdr, CHUNK_RECORDS, out_sink, &of) != CLB_OK) {
        fprintf(stderr, "colibri data synth: out of memory\n");
        free(buf);
        out_abort(&of);
        clb_synth_deinit(&s);
        return 1;
    }
    struct progress prog;
    progress_init(&prog);
    uint64_t done = 0;
    int status = 0;
    while (done < events || !clb_synth_at_batch_end(&s)) {
        size_t k;
        if (done < events) {
            k = events - done < CHUNK_RECORDS ? (size_t)(events - done) : CHUNK_RECORDS;
            clb_synth_fill(&s, buf, k);
        } else {
            k = 1; /* finish the open batch */
            clb_synth_next(&s, buf);
        }
        rc = clb_md_writer_add_n(&w, buf, k);
        if (rc != CLB_OK) {
            if (rc == CLB_EIO)
                fprintf(stderr, "colibri data synth: cannot write %s: %s\n", of.tmp,
                        strerror(of.err));
            else
                fprintf(stderr, "colibri data synth: internal error at record %" PRId64 ": %s\n",
                        w.err.record, w.err.msg);
            status = 1;
            break;
        }
        done += k;
        progress_show(&prog, "synth", done, events);
    }
    progress_end(&prog);
    if (status == 0 && clb_md_writer_finish(&w, &hdr) != CLB_OK) {
        fprintf(stderr, "colibri data synth: cannot write %s: %s\n", of.tmp, strerror(of.err));
        status = 1;
    }
    clb_md_writer_deinit(&w);
    clb_synth_deinit(&s);
    free(buf);
    if (status) {
        out_abort(&of);
        return status;
    }
    if (out_commit(&of, "synth", &hdr))
        return 1;
    printf("wrote %s: %" PRIu64 " records, %.3f simulated seconds (seed %" PRIu64 ")\n", out,
           hdr.count, (double)(hdr.last_ts_ns - hdr.first_ts_ns) / 1e9, seed);
    return 0;
}

/* ---- info ---- */

static void info_usage(FILE *f)
{
    fprintf(f, "usage: colibri data info FILE\n"
               "\n"
               "Validates a .clbmd market-data file and prints its header, the number of\n"
               "records of each kind, batches, snapshots and the time span. Exits 1 and names\n"
               "the byte offset of the first problem if the file is invalid.\n");
}

static void format_ts(int64_t ts_ns, char *buf, size_t cap)
{
    time_t secs = (time_t)(ts_ns / 1000000000);
    long ns = (long)(ts_ns % 1000000000);
    if (ns < 0) {
        ns += 1000000000;
        secs--;
    }
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, cap, "?");
        return;
    }
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, cap, "%s.%09ldZ", day, ns);
}

static int data_info(int argc, char **argv)
{
    if (cli_wants_help(argc, argv)) {
        info_usage(stdout);
        return 0;
    }
    const char *pos[1] = { NULL };
    int rc = parse_opts("info", argc, argv, NULL, 0, pos, 1);
    if (rc)
        return rc;
    if (!pos[0]) {
        fprintf(stderr, "colibri data info: FILE is required (see --help)\n");
        return 2;
    }
    struct clb_md_file f;
    struct clb_md_error err;
    rc = clb_md_file_open(&f, pos[0], true, &err);
    if (rc != CLB_OK) {
        if (rc == CLB_EIO)
            fprintf(stderr, "colibri data info: %s: %s\n", pos[0], err.msg);
        else if (err.record >= 0)
            fprintf(stderr, "colibri data info: %s@%" PRIu64 ": record %" PRId64 ": %s\n",
                    pos[0], err.offset, err.record, err.msg);
        else
            fprintf(stderr, "colibri data info: %s@%" PRIu64 ": %s\n", pos[0], err.offset,
                    err.msg);
        return 1;
    }
    const struct clb_md_header *h = &f.hdr;
    uint64_t kinds[CLB_MD_KIND_COUNT] = { 0 }, batches = 0, snapshots = 0;
    int64_t min_px = INT64_MAX, max_px = 0;
    for (uint64_t i = 0; i < h->count; i++) {
        const struct clb_md_record *r = &f.rec[i];
        kinds[r->kind]++;
        batches += (r->flags & CLB_MD_F_BATCH_END) != 0;
        snapshots += (r->flags & CLB_MD_F_RESET) != 0;
        if (clb_md_is_trade(r)) {
            if (r->price < min_px)
                min_px = r->price;
            if (r->price > max_px)
                max_px = r->price;
        }
    }
    char tb[CLB_DEC_STRLEN], sb[CLB_DEC_STRLEN], t0[64], t1[64];
    format_scaled(h->tick, h->price_scale, tb, sizeof(tb));
    format_scaled(h->step, h->qty_scale, sb, sizeof(sb));
    printf("file:         %s (%zu bytes)\n", pos[0], f.len);
    printf("format:       CLBMD version %u%s\n", h->version,
           (h->flags & CLB_MD_HDR_SYNTHETIC) ? ", synthetic" : "");
    printf("exchange:     %s\n", h->exchange);
    printf("symbol:       %s\n", h->symbol);
    printf("price scale:  %u (tick %s)\n", h->price_scale, tb);
    printf("qty scale:    %u (step %s)\n", h->qty_scale, sb);
    printf("records:      %" PRIu64 "\n", h->count);
    for (int k = CLB_MD_BID; k <= CLB_MD_TRADE_SELL; k++)
        printf("  %-11s %" PRIu64 "\n", clb_md_kind_name(k), kinds[k]);
    printf("batches:      %" PRIu64 "%s\n", batches,
           h->count && !(f.rec[h->count - 1].flags & CLB_MD_F_BATCH_END)
               ? " (the last one is incomplete)"
               : "");
    printf("snapshots:    %" PRIu64 "\n", snapshots);
    if (h->count) {
        format_ts(h->first_ts_ns, t0, sizeof(t0));
        format_ts(h->last_ts_ns, t1, sizeof(t1));
        printf("first:        %s\n", t0);
        printf("last:         %s\n", t1);
        printf("span:         %.3f s\n", (double)(h->last_ts_ns - h->first_ts_ns) / 1e9);
    }
    if (max_px > 0) {
        char lo[CLB_DEC_STRLEN], hi[CLB_DEC_STRLEN];
        format_scaled(min_px, h->price_scale, lo, sizeof(lo));
        format_scaled(max_px, h->price_scale, hi, sizeof(hi));
        printf("trade prices: %s .. %s\n", lo, hi);
    }
    clb_md_file_close(&f);
    return 0;
}

/* ---- dispatch ---- */

static void data_usage(FILE *f)
{
    fprintf(f, "usage: colibri data SUBCOMMAND [ARGS...]\n"
               "\n"
               "Market-data files (.clbmd) for backtests and simulations.\n"
               "\n"
               "subcommands:\n"
               "  import     convert Tardis.dev CSV files into a .clbmd file\n"
               "  synth      generate a synthetic market into a .clbmd file\n"
               "  info       validate a .clbmd file and print a summary\n"
               "\n"
               "Run 'colibri data SUBCOMMAND --help' for its options.\n");
}

int cli_data_main(int argc, char **argv)
{
    if (argc < 2) {
        data_usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 || strcmp(sub, "help") == 0) {
        data_usage(stdout);
        return 0;
    }
    if (strcmp(sub, "import") == 0)
        return data_import(argc - 1, argv + 1);
    if (strcmp(sub, "synth") == 0)
        return data_synth(argc - 1, argv + 1);
    if (strcmp(sub, "info") == 0)
        return data_info(argc - 1, argv + 1);
    fprintf(stderr, "colibri data: unknown subcommand '%s'\n\n", sub);
    data_usage(stderr);
    return 2;
}
