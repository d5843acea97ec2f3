/*
 * cli_sweep.c — `colibri sweep`: backtests every combination of a parameter
 * grid on worker threads (one per core by default) and writes one row per
 * combination. --shard I/N keeps only the combinations whose index is I
 * modulo N, so a batch system (a Kubernetes Indexed Job, a Slurm array) can
 * split one sweep across machines; every shard writes its own files.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backtest.h"
#include "cli.h"

#define MAX_DIMS 8
#define MAX_VALUES 64
#define MAX_COMBOS 100000

struct dim {
    char name[64];
    char *values[MAX_VALUES];
    size_t n;
};

struct row {
    size_t combo;
    char kv[MAX_DIMS][160];
    struct report_summary s;
    bool ok;
    char err[256];
};

struct sweep {
    const struct bt_data *data;
    const char *data_path;
    struct bt_options base;
    struct dim dims[MAX_DIMS];
    size_t n_dims;
    size_t *combos; /* combination indices of this shard */
    size_t n_combos;
    struct row *rows;
    size_t next;
    size_t done;
    bool progress;
    pthread_mutex_t mu;
};

static void usage(FILE *f)
{
    fprintf(f,
        "usage: colibri sweep --data FILE --strategy NAME --grid 'k=v1,v2;k2=w1,w2'\n"
        "                     --out DIR [--shard I/N] [--metric NAME] [--jobs N]\n"
        "                     [--param k=v ...] [--base-balance X] [--quote-balance Y]\n"
        "\n"
        "Backtests every combination of the grid (the cartesian product of the listed\n"
        "values) and writes DIR/sweep.csv and DIR/sweep.json (with --shard I/N:\n"
        "DIR/sweep-I-of-N.csv/.json), one row per combination: a column per parameter\n"
        "plus fills, volume_quote, fees_quote, pnl_quote, return_pct, sharpe,\n"
        "max_drawdown_quote and events_per_s. Prints the best combination by --metric\n"
        "(default pnl_quote; max_drawdown_quote is minimised, the others maximised).\n"
        "\n"
        "  --shard I/N   run only combinations whose index modulo N is I (0 <= I < N);\n"
        "                e.g. I = $JOB_COMPLETION_INDEX in a Kubernetes Indexed Job or\n"
        "                $SLURM_ARRAY_TASK_ID in a Slurm array of N tasks\n"
        "  --jobs N      worker threads (default: the number of cores)\n"
        "  --param k=v   a parameter fixed for every combination\n");
}

static int parse_grid(struct sweep *sw, char *grid)
{
    char *save = NULL;
    for (char *part = strtok_r(grid, ";", &save); part; part = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(part, '=');
        if (!eq || eq == part || !eq[1]) {
            fprintf(stderr, "colibri sweep: --grid: '%s' is not NAME=V1,V2,...\n", part);
            return -1;
        }
        if (sw->n_dims == MAX_DIMS) {
            fprintf(stderr, "colibri sweep: --grid: at most %d parameters\n", MAX_DIMS);
            return -1;
        }
        struct dim *d = &sw->dims[sw->n_dims++];
        *eq = '\0';
        if (strlen(part) >= sizeof(d->name)) {
            fprintf(stderr, "colibri sweep: --grid: parameter name too long\n");
            return -1;
        }
        strcpy(d->name, part);
        char *vs = NULL;
        for (char *v = strtok_r(eq + 1, ",", &vs); v; v = strtok_r(NULL, ",", &vs)) {
            if (d->n == MAX_VALUES) {
                fprintf(stderr, "colibri sweep: --grid: at most %d values for %s\n", MAX_VALUES,
                        d->name);
                return -1;
            }
            d->values[d->n++] = v;
        }
        if (d->n == 0) {
            fprintf(stderr, "colibri sweep: --grid: no values for %s\n", d->name);
            return -1;
        }
    }
    if (sw->n_dims == 0) {
        fprintf(stderr, "colibri sweep: --grid is empty\n");
        return -1;
    }
    return 0;
}

static void *worker(void *arg)
{
    struct sweep *sw = arg;
    for (;;) {
        pthread_mutex_lock(&sw->mu);
        size_t k = sw->next < sw->n_combos ? sw->next++ : SIZE_MAX;
        pthread_mutex_unlock(&sw->mu);
        if (k == SIZE_MAX)
            return NULL;
        struct row *row = &sw->rows[k];
        struct bt_options o = sw->base;
        size_t c = sw->combos[k];
        row->combo = c;
        for (size_t i = 0; i < sw->n_dims; i++) {
            const struct dim *d = &sw->dims[i];
            snprintf(row->kv[i], sizeof(row->kv[i]), "%s=%s", d->name, d->values[c % d->n]);
            c /= d->n;
            if (o.n_params < BT_MAX_PARAMS)
                o.params[o.n_params++] = row->kv[i];
        }
        struct bt_result res;
        if (bt_run(sw->data, &o, sw->data_path, &res, row->err, sizeof(row->err)) == 0) {
            row->s = res.summary;
            row->ok = true;
            bt_result_free(&res);
        }
        pthread_mutex_lock(&sw->mu);
        sw->done++;
        if (sw->progress)
            fprintf(stderr, "\rcolibri sweep: %zu/%zu combinations", sw->done, sw->n_combos);
        pthread_mutex_unlock(&sw->mu);
    }
}

static double metric(const struct report_summary *s, const char *name, bool *minimise)
{
    *minimise = false;
    if (!strcmp(name, "pnl_quote"))
        return s->pnl_quote;
    if (!strcmp(name, "return_pct"))
        return s->return_pct;
    if (!strcmp(name, "sharpe"))
        return s->sharpe;
    if (!strcmp(name, "fills"))
        return (double)s->fills;
    if (!strcmp(name, "volume_quote"))
        return s->volume_quote;
    if (!strcmp(name, "max_drawdown_quote")) {
        *minimise = true;
        return s->max_drawdown;
    }
    return 0;
}

static const char *const METRICS[] = { "pnl_quote", "return_pct", "sharpe", "fills",
                                       "volume_quote", "max_drawdown_quote", NULL };

static int write_results(struct sweep *sw, const char *dir, const char *stem, const char *metric_name,
                         size_t *best)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.csv", dir, stem);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "colibri sweep: %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "combination");
    for (size_t i = 0; i < sw->n_dims; i++)
        fprintf(f, ",%s", sw->dims[i].name);
    fprintf(f, ",fills,volume_quote,fees_quote,pnl_quote,return_pct,sharpe,max_drawdown_quote,"
               "events_per_s,error\n");
    json_t *arr = json_array();
    *best = SIZE_MAX;
    double best_v = 0;
    for (size_t k = 0; k < sw->n_combos; k++) {
        const struct row *r = &sw->rows[k];
        json_t *o = json_object();
        json_object_set_new(o, "combination", json_integer((json_int_t)r->combo));
        fprintf(f, "%zu", r->combo);
        for (size_t i = 0; i < sw->n_dims; i++) {
            const char *v = strchr(r->kv[i], '=') + 1;
            fprintf(f, ",%s", v);
            json_object_set_new(o, sw->dims[i].name, json_string(v));
        }
        if (r->ok) {
            const struct report_summary *s = &r->s;
            fprintf(f, ",%llu,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.0f,\n", (unsigned long long)s->fills,
                    s->volume_quote, s->fees_quote, s->pnl_quote, s->return_pct, s->sharpe,
                    s->max_drawdown, s->events_per_s);
            json_object_set_new(o, "fills", json_integer((json_int_t)s->fills));
            json_object_set_new(o, "volume_quote", json_real(s->volume_quote));
            json_object_set_new(o, "fees_quote", json_real(s->fees_quote));
            json_object_set_new(o, "pnl_quote", json_real(s->pnl_quote));
            json_object_set_new(o, "return_pct", json_real(s->return_pct));
            json_object_set_new(o, "sharpe", json_real(s->sharpe));
            json_object_set_new(o, "max_drawdown_quote", json_real(s->max_drawdown));
            json_object_set_new(o, "events_per_s", json_real(s->events_per_s));
            bool minimise;
            double v = metric(s, metric_name, &minimise);
            if (*best == SIZE_MAX || (minimise ? v < best_v : v > best_v)) {
                *best = k;
                best_v = v;
            }
        } else {
            /* CSV-safe error: no commas or quotes */
            char e[256];
            snprintf(e, sizeof(e), "%s", r->err);
            for (char *p = e; *p; p++)
                if (*p == ',' || *p == '"' || *p == '\n')
                    *p = ' ';
            fprintf(f, ",,,,,,,,,%s\n", e);
            json_object_set_new(o, "error", json_string(r->err));
        }
        json_array_append_new(arr, o);
    }
    int rc = fclose(f) == 0 ? 0 : -1;
    json_t *root = json_object();
    json_object_set_new(root, "metric", json_string(metric_name));
    json_object_set_new(root, "results", arr);
    if (*best != SIZE_MAX)
        json_object_set(root, "best", json_array_get(arr, *best));
    snprintf(path, sizeof(path), "%s/%s.json", dir, stem);
    if (json_dump_file(root, path, JSON_INDENT(1)) != 0)
        rc = -1;
    json_decref(root);
    if (rc != 0)
        fprintf(stderr, "colibri sweep: cannot write results into %s\n", dir);
    return rc;
}

int cli_sweep_main(int argc, char **argv)
{
    struct sweep sw;
    memset(&sw, 0, sizeof(sw));
    bt_options_default(&sw.base);
    const char *data = NULL, *out = NULL, *metric_name = "pnl_quote";
    char *grid = NULL;
    const char *grid_arg = NULL;
    long shard_i = 0, shard_n = 1, jobs = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        }
        if (!v) {
            fprintf(stderr, "colibri sweep: %s: unknown option or missing value (see --help)\n", a);
            return 2;
        }
        i++;
        if (!strcmp(a, "--data"))
            data = v;
        else if (!strcmp(a, "--strategy"))
            sw.base.strategy = v;
        else if (!strcmp(a, "--grid"))
            grid_arg = v;
        else if (!strcmp(a, "--out"))
            out = v;
        else if (!strcmp(a, "--metric"))
            metric_name = v;
        else if (!strcmp(a, "--base-balance"))
            sw.base.base_balance = v;
        else if (!strcmp(a, "--quote-balance"))
            sw.base.quote_balance = v;
        else if (!strcmp(a, "--param")) {
            if (sw.base.n_params == BT_MAX_PARAMS - MAX_DIMS) {
                fprintf(stderr, "colibri sweep: too many --param\n");
                return 2;
            }
            sw.base.params[sw.base.n_params++] = v;
        } else if (!strcmp(a, "--jobs")) {
            char *end;
            jobs = strtol(v, &end, 10);
            if (*end || jobs < 1 || jobs > 256) {
                fprintf(stderr, "colibri sweep: --jobs: '%s' is not in 1..256\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--shard")) {
            char extra;
            if (sscanf(v, "%ld/%ld%c", &shard_i, &shard_n, &extra) != 2 || shard_n < 1 ||
                shard_i < 0 || shard_i >= shard_n) {
                fprintf(stderr, "colibri sweep: --shard: '%s' is not I/N with 0 <= I < N\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "colibri sweep: unknown option '%s' (see --help)\n", a);
            return 2;
        }
    }
    bool known = false;
    for (int i = 0; METRICS[i]; i++)
        known = known || !strcmp(metric_name, METRICS[i]);
    if (!known) {
        fprintf(stderr, "colibri sweep: unknown --metric '%s'\n", metric_name);
        return 2;
    }
    if (!data || !grid_arg || !out) {
        fprintf(stderr, "colibri sweep: --data, --grid and --out are required (see --help)\n");
        return 2;
    }
    grid = strdup(grid_arg);
    if (!grid)
        return 1;
    int status = 2;
    if (parse_grid(&sw, grid) != 0)
        goto done_grid;
    size_t total = 1;
    for (size_t i = 0; i < sw.n_dims; i++) {
        total *= sw.dims[i].n;
        if (total > MAX_COMBOS) {
            fprintf(stderr, "colibri sweep: more than %d combinations\n", MAX_COMBOS);
            goto done_grid;
        }
    }
    sw.combos = calloc(total, sizeof(*sw.combos));
    sw.rows = calloc(total, sizeof(*sw.rows));
    if (!sw.combos || !sw.rows)
        goto done_grid;
    for (size_t c = (size_t)shard_i; c < total; c += (size_t)shard_n)
        sw.combos[sw.n_combos++] = c;
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "colibri sweep: %s: %s\n", out, strerror(errno));
        goto done_grid;
    }
    char err[512];
    struct bt_data bd;
    if (bt_data_open(&bd, data, err, sizeof(err)) != 0) {
        fprintf(stderr, "colibri sweep: %s\n", err);
        status = 1;
        goto done_grid;
    }
    sw.data = &bd;
    sw.data_path = data;
    sw.progress = isatty(STDERR_FILENO);
    pthread_mutex_init(&sw.mu, NULL);
    pthread_t th[256];
    long started = 0;
    for (long j = 0; j < jobs && (size_t)j < sw.n_combos; j++)
        if (pthread_create(&th[started], NULL, worker, &sw) == 0)
            started++;
    if (started == 0 && sw.n_combos > 0)
        worker(&sw);
    for (long j = 0; j < started; j++)
        pthread_join(th[j], NULL);
    pthread_mutex_destroy(&sw.mu);
    if (sw.progress)
        fputc('\n', stderr);
    char stem[64];
    if (shard_n > 1)
        snprintf(stem, sizeof(stem), "sweep-%ld-of-%ld", shard_i, shard_n);
    else
        snprintf(stem, sizeof(stem), "sweep");
    size_t best = SIZE_MAX;
    status = write_results(&sw, out, stem, metric_name, &best) == 0 ? 0 : 1;
    size_t failed = 0;
    for (size_t k = 0; k < sw.n_combos; k++)
        failed += !sw.rows[k].ok;
    printf("%zu combinations (shard %ld/%ld of %zu), %zu failed; results in %s/%s.csv\n",
           sw.n_combos, shard_i, shard_n, total, failed, out, stem);
    if (failed) {
        for (size_t k = 0; k < sw.n_combos; k++)
            if (!sw.rows[k].ok) {
                fprintf(stderr, "colibri sweep: combination %zu: %s\n", sw.rows[k].combo,
                        sw.rows[k].err);
                break;
            }
        status = 1;
    }
    if (best != SIZE_MAX) {
        printf("best by %s:", metric_name);
        for (size_t i = 0; i < sw.n_dims; i++)
            printf(" %s", sw.rows[best].kv[i]);
        bool minimise;
        printf(" -> %.6f\n", metric(&sw.rows[best].s, metric_name, &minimise));
    }
    bt_data_close(&bd);
done_grid:
    free(sw.combos);
    free(sw.rows);
    free(grid);
    return status;
}
