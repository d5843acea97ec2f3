/*
 * md_file.h — a .clbmd market-data file opened read-only as an in-place
 * view: the file is mmapped, validated (core/market_data.h) and its
 * records are used directly from the mapping. Used by `colibri data info`
 * and the backtester.
 *
 * Not thread-safe to open/close concurrently on one struct; the mapped
 * records are read-only and may be shared by any number of readers.
 */
#ifndef CLB_MD_FILE_H
#define CLB_MD_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "market_data.h"

struct clb_md_file {
    const void *map;                 /* whole file, or NULL when empty */
    size_t len;                      /* file size in bytes */
    struct clb_md_header hdr;        /* decoded header */
    const struct clb_md_record *rec; /* hdr.count records, in place */
};

/* Maps `path` and validates it: the whole file when `full` (one sequential
 * pass, the safe default), else the header and size only (count must match
 * the size; records are not checked). CLB_OK, or an error with *err filled
 * (CLB_EIO with the system's reason for open/stat/mmap failures, offset 0;
 * otherwise clb_md_validate's report). On failure nothing stays mapped.
 * Release with clb_md_file_close. */
int clb_md_file_open(struct clb_md_file *f, const char *path, bool full,
                     struct clb_md_error *err);

/* Unmaps the file; safe on a zeroed or already closed struct. */
void clb_md_file_close(struct clb_md_file *f);

#endif
