/*
 * store_writer.h — the store's writer thread: persists records off the hot
 * path, so the worker thread never waits on a database.
 *
 * The writer thread owns its database connection (a struct clb_store it
 * opens itself). Records reach it two ways:
 *
 *  - clb_store_writer_put(), from ONE producer thread (the worker): the
 *    record is copied into a lock-free single-producer/single-consumer byte
 *    ring. No lock, no allocation, no system call on the common path: the
 *    cost is copying ~420 bytes into memory the writer's core reads, about
 *    70-110 ns on a loaded 2-vCPU machine (bench/store_bench.c measures it).
 *    The writer is woken through an eventfd only once per batch_max records
 *    (or a quarter of the ring); otherwise it wakes every batch_ms by itself.
 *  - clb_store_writer_post(), from any other thread (HTTP token touches, a
 *    sweep's results): a second, smaller ring behind a mutex. A full post
 *    ring refuses the record (CLB_EFULL); nothing is spilled for posts.
 *
 * The writer takes records in the order they were put (every put record
 * carries a sequence number) and writes them in transactions of at most
 * batch_max records: it wakes every batch_ms, or earlier when woken, and
 * writes what is waiting; after a full batch it goes straight on.
 *
 * Database down. A failed connect, or a write failing with CLB_EIO, marks
 * the writer disconnected: it retries with exponential backoff (with
 * jitter) from reconnect_min_ms to reconnect_max_ms, migrating and
 * registering the instance on every (re)connect, and retries the failed
 * batch — nothing is lost, nothing is written twice (a batch is one
 * transaction; all writes are idempotent anyway). While it is down the ring
 * fills up; once full, put() appends records to the spill file
 * (DATA_DIR/store-spill.bin, spill_path) instead: a write() of one record,
 * a few microseconds, never a wait on the database. The writer merges ring
 * and spill by sequence number when it is back, so order is kept. A spill
 * file found at create (a previous run stopped while the database was down)
 * is replayed before anything new. At stop, records that could not be
 * written are saved to the spill file for the next run. Only when the spill
 * file cannot be written either (no spill_path, spill_max_bytes reached,
 * disk error) is a record refused: put() returns CLB_EFULL and counts it in
 * `dropped`.
 *
 * Poison records. A record the database rejects (CLB_EINVAL: a constraint,
 * malformed values) would fail its batch forever; the writer then retries
 * that batch record by record, writes the good ones, and drops the bad ones
 * with a log line (counted in `failed`).
 *
 * clb_store_writer_available() is false while the database is unreachable,
 * while spilled records wait, or while the ring is more than 3/4 full: the
 * engine should not place new orders then.
 *
 * Queue file. With queue_path, the ring of put() lives in a shared file
 * mapping (a 4 KiB header, then ring_bytes): the records and the head and
 * tail counters reach the kernel's page cache as they are written, with no
 * system call, so a process killed outright (SIGKILL, a crash) leaves every
 * record it had put and not yet committed in the file. The next create
 * with the same path takes them up where they were, merged with a previous
 * spill file by sequence number, before anything new; they are written
 * again from the last committed batch on (writes are idempotent). Only an
 * operating system crash or power loss can lose them (the file is not
 * synced). A file of another size or build is moved aside
 * (".incompatible") and reported.
 *
 * Spill file format: a 24-byte header ("CLBSPL01", a layout fingerprint, the
 * offset up to which records are written — updated after every batch, so a
 * crash replays at most one batch),
 * then records as they sit in the ring (a 32-byte header: length, type,
 * sequence, JSON lengths, FNV-1a checksum; the record's fixed struct; JSON
 * bytes). A torn record at the end (a crash mid-write) is cut off at open; a
 * file from a build with another record layout is renamed aside
 * (".incompatible") and reported.
 */
#ifndef CLB_STORE_WRITER_H
#define CLB_STORE_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct clb_store_writer;

enum clb_store_log_level { CLB_STORE_LOG_INFO = 0, CLB_STORE_LOG_WARN, CLB_STORE_LOG_ERROR };

/* Receives the writer's log lines (connection lost / back, dropped records,
 * spill replays), on the writer thread or the producer's. */
typedef void (*clb_store_log_fn)(void *ud, enum clb_store_log_level level, const char *msg);

struct clb_store_writer_options {
    struct clb_store_options store; /* the database (strings copied at create) */
    const char *spill_path;   /* NULL = no spill file: a full ring refuses records */
    const char *queue_path;   /* NULL = the ring lives in memory only (see "Queue file") */
    uint64_t spill_max_bytes; /* 0 = 1 GiB */
    size_t ring_bytes;        /* power of two, 4 KiB .. 1 GiB; 0 = 8 MiB */
    size_t post_ring_bytes;   /* power of two, 4 KiB .. 64 MiB; 0 = 1 MiB */
    uint32_t batch_max;       /* records per transaction, 1..100000; 0 = 1000 */
    int batch_ms;             /* longest wait before writing, 1..10000; 0 = 50 */
    int reconnect_min_ms;     /* 0 = 100 */
    int reconnect_max_ms;     /* 0 = 5000 */
    int ping_ms;              /* idle connection check interval; 0 = 5000, < 0 never */
    bool no_migrate;          /* do not migrate on (re)connect */
    const char *version;      /* recorded in the instances table (copied); NULL = "" */
    clb_store_log_fn log;     /* NULL = stderr */
    void *log_ud;
};

/* Zeroes *o: every default, SQLite at var/colibri.db, no spill file. */
void clb_store_writer_options_init(struct clb_store_writer_options *o);

/* Checks the options, opens (and validates) an existing spill file, and
 * starts the writer thread, which connects in the background: create never
 * waits for the database. CLB_EINVAL / CLB_EUNSUPPORTED (bad options or
 * URL, message in err), CLB_EIO (the spill file cannot be opened), CLB_ENOMEM.
 * Free with clb_store_writer_destroy. */
int clb_store_writer_create(const struct clb_store_writer_options *o,
                            struct clb_store_writer **out, char *err, size_t errlen);

/* Producer thread only (one thread for the writer's life). Copies the record
 * (JSON documents included) and returns at once: CLB_OK when it was queued
 * (in the ring, or in the spill file), CLB_EINVAL for an unknown type or a
 * JSON document over CLB_STORE_JSON_MAX (checked only for size here; the
 * writer checks content and counts bad records in `failed`), CLB_EFULL when
 * neither the ring nor the spill file could take it (counted in `dropped`),
 * CLB_ESTATE after stop. Never blocks: in the spill case it performs one
 * write() under a mutex the writer holds only for instants. */
int clb_store_writer_put(struct clb_store_writer *w, const struct clb_store_rec *rec);

/* Any thread. Same as put but through the post ring (behind a mutex):
 * CLB_EFULL when it is full (nothing is spilled). */
int clb_store_writer_post(struct clb_store_writer *w, const struct clb_store_rec *rec);

/* Any thread, lock-free: true while the database is connected, nothing
 * waits in the spill file and the ring is at most 3/4 full. */
bool clb_store_writer_available(const struct clb_store_writer *w);

struct clb_store_writer_status {
    bool connected;          /* the last connect / write succeeded */
    bool available;          /* clb_store_writer_available() */
    uint64_t enqueued;       /* records accepted (put + post + a previous run's files) */
    uint64_t queued;         /* accepted and not yet written or failed */
    uint64_t written;        /* committed to the database */
    uint64_t failed;         /* rejected by the database or malformed: dropped */
    uint64_t spilled;        /* records ever written to the spill file */
    uint64_t spill_pending;  /* records in the spill file waiting to be written */
    uint64_t dropped;        /* refused by put/post (ring and spill full) */
    uint64_t batches;        /* transactions committed */
    uint64_t reconnects;     /* successful connects after the first */
    uint64_t ring_used_bytes;
    uint64_t ring_bytes;
    int last_error;          /* CLB_E* of the last failure, 0 if none */
    char last_error_msg[CLB_STORE_ERR_MAX];
};

/* Any thread: a snapshot of the counters (each read atomically). */
void clb_store_writer_status(struct clb_store_writer *w, struct clb_store_writer_status *st);

/* Any thread but the writer's: waits until every record put or posted
 * before the call has been written (or failed), for at most timeout_ms
 * (< 0: no limit). Wakes the writer at once. CLB_OK, CLB_ETIMEDOUT (e.g. the
 * database is down), CLB_ESTATE after stop. */
int clb_store_writer_flush(struct clb_store_writer *w, int timeout_ms);

/* Stops the writer: writes what is queued while the database answers, for
 * at most timeout_ms, then saves whatever is left to the spill file and ends
 * the thread. Call it from the producer thread (or once the producer is
 * done): no put may run concurrently. CLB_OK when everything was written,
 * CLB_ETIMEDOUT when records were left in the spill file, CLB_EIO when some
 * could not be saved (no spill file, or it failed: counted in `dropped`).
 * A second call returns CLB_ESTATE. */
int clb_store_writer_stop(struct clb_store_writer *w, int timeout_ms);

/* Stops (if not yet, with a 5 s timeout) and frees. NULL-safe. */
void clb_store_writer_destroy(struct clb_store_writer *w);

#endif
