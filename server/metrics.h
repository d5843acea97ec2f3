/*
 * metrics.h — renders metric documents (JSON) as Prometheus text format
 * 0.0.4. A pure function: no I/O, no state, any thread.
 *
 * Input documents have the shape of the engine's "metrics" snapshot:
 *
 *   {"counters":   [{"name", "help", "labels": {k: v}, "value"}],
 *    "gauges":     [same],
 *    "histograms": [{"name", "help", "labels": {}, "buckets": [[le, count], ...],
 *                    "sum", "count"}]}
 *
 * Several documents (the engine's, the HTTP layer's) are merged into one
 * exposition. What the output guarantees, whatever the input:
 *  - every family name starts with "colibri_" (added when missing) and only
 *    has [a-zA-Z0-9_:] (other characters become '_'); counters end in
 *    "_total" (added when missing);
 *  - "# HELP" and "# TYPE" once per family, right before its samples, and a
 *    family's lines together; families sorted by name;
 *  - no duplicate series: the first series of a family with a given label
 *    set wins, later ones are dropped; a name used by two families of
 *    different types (or a counter/gauge that collides with a histogram's
 *    _bucket/_sum/_count) keeps the first family only;
 *  - label names are [a-zA-Z_][a-zA-Z0-9_]*, sorted; values escaped (\\, \",
 *    \n); "le" is reserved on histograms and dropped from their input labels;
 *  - histogram buckets are cumulative, ascending by le and end with
 *    le="+Inf" equal to _count (counts are made non-decreasing; an explicit
 *    +Inf bucket in the input is replaced; a _count below the last finite
 *    bucket is raised to it).
 * Malformed entries (no name, a non-numeric value, a label value that is
 * an object) are skipped and counted in *skipped.
 */
#ifndef CLB_METRICS_H
#define CLB_METRICS_H

#include <jansson.h>
#include <stddef.h>

#define CLB_METRICS_PREFIX "colibri_"
#define CLB_METRICS_MAX_BYTES ((size_t)16 << 20) /* output limit */
#define CLB_METRICS_MAX_SERIES 200000            /* series limit over all documents */

/* Renders docs[0..n_docs) (NULL entries are ignored). On success returns
 * CLB_OK with *out a malloc'd NUL-terminated text (caller frees) of *len
 * bytes and *skipped (may be NULL) the number of dropped entries. Errors:
 * CLB_EINVAL when a document is not a JSON object, CLB_EFULL past the
 * byte or series limit, CLB_ENOMEM; *out is NULL then. */
int clb_metrics_render(json_t *const *docs, size_t n_docs, char **out, size_t *len,
                       size_t *skipped);

#endif
