/*
 * store_writer.c — the writer thread, its rings and its spill file (see
 * store_writer.h for the contract).
 *
 * Rings. A ring is a power-of-two byte buffer with monotonically growing
 * head (producer) and tail (consumer) counters on separate cache lines.
 * Records are 8-byte aligned, never wrap: when the space left before the end
 * is too small the producer writes a PAD header (or, if even a header does
 * not fit, leaves the gap, which the consumer skips by the same rule). The
 * producer publishes with a release store of head; the consumer reads with
 * acquire. The consumer has two cursors: peek (records handed to the
 * current batch) and tail (committed): a failed batch rewinds peek to tail,
 * so its records are retried. The post ring is the same structure whose
 * producers are serialised by a mutex.
 *
 * Order. Every put record gets the next sequence number. Records live either
 * in the ring or (when the ring was full) in the spill file; each of the two
 * is in sequence order, and the writer always takes the lower head of the
 * two. Reading the ring's head before the spill file's size makes that
 * safe: a record the producer spilled before putting a later one into the
 * ring is visible once the later one is (release/acquire on head).
 *
 * Spill file. Appended by the producer (O_APPEND, one write() per record,
 * under spill.mu, which the writer takes only to truncate the file once it
 * has been replayed completely); read by the writer with pread through a
 * buffer. Each spilled record carries an FNV-1a checksum.
 */
#include "store_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "store_backend.h"

#define HDR_SIZE 32
#define REC_PAD 0xffffu
#define SPILL_MAGIC "CLBSPL01"
#define SPILL_HDR 24         /* magic, layout fingerprint, reserved, read offset */
#define SPILL_OFF_AT 16      /* where the read offset sits in the header */
#define FIXED_MAX (sizeof(((struct clb_store_rec *)0)->u))
#define REC_MAX (HDR_SIZE + FIXED_MAX + 2 * (CLB_STORE_JSON_MAX + 1) + 8)
#define SPILL_BUF (4 * REC_MAX)
#define CACHE_LINE 64

struct rec_hdr {
    uint32_t len;  /* bytes of the record, header included, multiple of 8 */
    uint16_t type; /* enum clb_store_rec_type, or REC_PAD */
    uint16_t flags;
    uint64_t seq;
    uint32_t blob[2]; /* JSON bytes including the NUL, 0 = NULL */
    uint64_t check;   /* spill file only: FNV-1a of the record with check = 0 */
};
_Static_assert(sizeof(struct rec_hdr) == HDR_SIZE, "record header layout");

struct ring {
    uint8_t *buf;
    uint64_t cap;
    uint64_t mask;
    /* a queue file's mapping (NULL: buf is heap memory) and its copies of
     * head and tail, stored after the in-memory ones */
    uint8_t *map;
    size_t map_len;
    _Atomic uint64_t *durable_head, *durable_tail;
    _Alignas(CACHE_LINE) _Atomic uint64_t head;
    _Alignas(CACHE_LINE) _Atomic uint64_t tail;
    _Alignas(CACHE_LINE) uint64_t p_head; /* producer side */
    uint64_t p_tail;                      /* producer's cached tail */
    _Alignas(CACHE_LINE) uint64_t c_peek; /* consumer side */
    uint64_t c_head;                      /* consumer's cached head */
    uint64_t c_tail;                      /* committed */
};

struct spill {
    char *path;
    uint64_t max_bytes;
    pthread_mutex_t mu;
    int fd;                   /* producer's O_APPEND descriptor, -1 until opened (under mu) */
    int rfd;                  /* writer's descriptor (reads, header, truncation), -1 until opened */
    _Atomic uint64_t size;    /* valid bytes, header included; 0 = no file yet */
    _Atomic uint64_t pending; /* records not yet written */
    _Atomic uint64_t total;   /* records ever spilled */
    /* writer side */
    uint64_t read;            /* committed offset */
    uint64_t peek;
    uint64_t peek_records;
    uint8_t *buf;
    uint64_t buf_off;
    size_t buf_len;
};

enum src { SRC_NONE = 0, SRC_POST, SRC_RING, SRC_SPILL };

struct clb_store_writer {
    struct ring ring;
    struct ring post;
    pthread_mutex_t post_mu;
    struct spill spill;

    /* producer-private */
    _Alignas(CACHE_LINE) uint64_t p_seq;
    uint64_t p_unsignaled;
    uint64_t p_unsignaled_bytes;
    uint8_t *p_scratch;

    /* shared state and counters */
    _Alignas(CACHE_LINE) _Atomic uint64_t put_seq; /* last sequence number given */
    _Atomic uint64_t post_enqueued;
    _Atomic uint64_t dropped;
    _Atomic int sleeping;
    _Atomic bool stopping;
    _Atomic bool stop_called;
    _Atomic bool connected;
    _Alignas(CACHE_LINE) _Atomic uint64_t written;
    _Atomic uint64_t failed;
    _Atomic uint64_t batches;
    _Atomic uint64_t reconnects;
    _Atomic int last_error;

    uint64_t seq_base;     /* put_seq at create (after a previous run's spill) */
    uint64_t old_spilled;  /* records found at create (spill file and queue file) */

    /* flush waiters, last error message */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t processed_seq;  /* under mu */
    uint64_t processed_post; /* under mu */
    char last_error_msg[CLB_STORE_ERR_MAX];

    /* writer thread */
    pthread_t thread;
    bool thread_started;
    int efd;
    struct clb_store_options sopts;
    char *url, *data_dir, *instance, *version;
    struct clb_store *store;
    uint8_t *w_scratch;
    uint32_t batch_max;
    int batch_ms;
    int reconnect_min_ms, reconnect_max_ms, ping_ms;
    bool migrate;
    int64_t stop_deadline_ms;
    int stop_rc;
    uint64_t rng;
    clb_store_log_fn log;
    void *log_ud;
};

/* ---- helpers ---- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void wlog(struct clb_store_writer *w, enum clb_store_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void wlog(struct clb_store_writer *w, enum clb_store_log_level lvl, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (w->log)
        w->log(w->log_ud, lvl, msg);
    else
        fprintf(stderr, "colibri store: %s\n", msg);
}

static void set_last_error(struct clb_store_writer *w, int code, const char *msg)
{
    pthread_mutex_lock(&w->mu);
    snprintf(w->last_error_msg, sizeof(w->last_error_msg), "%s", msg ? msg : "");
    pthread_mutex_unlock(&w->mu);
    atomic_store_explicit(&w->last_error, code, memory_order_relaxed);
}

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t fnv1a(const uint8_t *p, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* Checksum of a record, its check field counted as zero. */
static uint64_t rec_checksum(const uint8_t *rec, uint32_t len)
{
    uint64_t h = fnv1a(rec, offsetof(struct rec_hdr, check), 0xcbf29ce484222325ull);
    return fnv1a(rec + HDR_SIZE, len - HDR_SIZE, h);
}

static bool write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t k = write(fd, p, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return false;
        }
        p += k;
        n -= (size_t)k;
    }
    return true;
}

static bool pread_all(int fd, uint8_t *p, size_t n, uint64_t off, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = pread(fd, p + done, n - done, (off_t)(off + done));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            *got = done;
            return false;
        }
        if (k == 0)
            break;
        done += (size_t)k;
    }
    *got = done;
    return true;
}

/* ---- record encoding ---- */

static size_t fixed_size(int type)
{
    switch (type) {
    case CLB_STORE_REC_ORDER: return sizeof(struct clb_store_order);
    case CLB_STORE_REC_ORDER_STATE: return sizeof(struct clb_store_order_state);
    case CLB_STORE_REC_FILL: return sizeof(struct clb_store_fill);
    case CLB_STORE_REC_BALANCE: return sizeof(struct clb_store_balance);
    case CLB_STORE_REC_STRATEGY: return sizeof(struct clb_store_strategy);
    case CLB_STORE_REC_TOKEN_ADD: return sizeof(struct clb_store_token);
    case CLB_STORE_REC_TOKEN_REVOKE:
    case CLB_STORE_REC_TOKEN_TOUCH: return sizeof(struct clb_store_token_ref);
    case CLB_STORE_REC_BT_RUN: return sizeof(struct clb_store_bt_run);
    case CLB_STORE_REC_BT_RESULT: return sizeof(struct clb_store_bt_result);
    default: return 0;
    }
}

/* A fingerprint of the record layout: spill files only replay into the
 * build that wrote them (or one with the same layout). */
static uint32_t layout_fingerprint(void)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int t = 1; t < CLB_STORE_REC_COUNT_; t++) {
        uint64_t sz = fixed_size(t);
        h = fnv1a((const uint8_t *)&sz, sizeof(sz), h);
    }
    uint64_t v = 1 + sizeof(struct rec_hdr) + CLB_STORE_JSON_MAX;
    h = fnv1a((const uint8_t *)&v, sizeof(v), h);
    return (uint32_t)(h ^ (h >> 32));
}

static void rec_blobs(const struct clb_store_rec *r, const char **b0, const char **b1)
{
    *b0 = *b1 = NULL;
    switch (r->type) {
    case CLB_STORE_REC_STRATEGY:
        *b0 = r->u.strategy.config_json;
        *b1 = r->u.strategy.state_json;
        break;
    case CLB_STORE_REC_BT_RUN:
        *b0 = r->u.bt_run.params_json;
        *b1 = r->u.bt_run.summary_json;
        break;
    case CLB_STORE_REC_BT_RESULT:
        *b0 = r->u.bt_result.params_json;
        *b1 = r->u.bt_result.metrics_json;
        break;
    default:
        break;
    }
}

static void rec_set_blobs(struct clb_store_rec *r, const char *b0, const char *b1)
{
    switch (r->type) {
    case CLB_STORE_REC_STRATEGY:
        r->u.strategy.config_json = b0;
        r->u.strategy.state_json = b1;
        break;
    case CLB_STORE_REC_BT_RUN:
        r->u.bt_run.params_json = b0;
        r->u.bt_run.summary_json = b1;
        break;
    case CLB_STORE_REC_BT_RESULT:
        r->u.bt_result.params_json = b0;
        r->u.bt_result.metrics_json = b1;
        break;
    default:
        break;
    }
}

/* Encoded size of a record (8-aligned); CLB_EINVAL for an unknown type or
 * an oversized JSON document. */
static int rec_size(const struct clb_store_rec *r, uint32_t bl[2], uint32_t *len)
{
    size_t fixed = r ? fixed_size((int)r->type) : 0;
    if (!fixed)
        return CLB_EINVAL;
    const char *b[2];
    rec_blobs(r, &b[0], &b[1]);
    for (int i = 0; i < 2; i++) {
        bl[i] = 0;
        if (b[i]) {
            size_t n = strnlen(b[i], CLB_STORE_JSON_MAX + 1);
            if (n > CLB_STORE_JSON_MAX)
                return CLB_EINVAL;
            bl[i] = (uint32_t)n + 1;
        }
    }
    size_t total = HDR_SIZE + fixed + bl[0] + bl[1];
    *len = (uint32_t)((total + 7) & ~(size_t)7);
    return CLB_OK;
}

static void rec_encode(uint8_t *dst, const struct clb_store_rec *r, uint64_t seq,
                       const uint32_t bl[2], uint32_t len)
{
    struct rec_hdr h = { .len = len, .type = (uint16_t)r->type, .seq = seq,
                         .blob = { bl[0], bl[1] } };
    size_t fixed = fixed_size((int)r->type);
    memcpy(dst, &h, HDR_SIZE);
    memcpy(dst + HDR_SIZE, &r->u, fixed);
    size_t off = HDR_SIZE + fixed;
    const char *b[2];
    rec_blobs(r, &b[0], &b[1]);
    for (int i = 0; i < 2; i++)
        if (bl[i]) {
            memcpy(dst + off, b[i], bl[i]);
            off += bl[i];
        }
    if (off < len)
        memset(dst + off, 0, len - off);
}

/* Checks a header read from a ring or file (avail: bytes readable there). */
static bool hdr_valid(const struct rec_hdr *h, uint64_t avail)
{
    size_t fixed = fixed_size(h->type);
    return fixed && h->len >= HDR_SIZE && h->len <= REC_MAX && (h->len & 7) == 0 &&
           h->len <= avail && h->blob[0] <= CLB_STORE_JSON_MAX + 1 &&
           h->blob[1] <= CLB_STORE_JSON_MAX + 1 &&
           (uint64_t)HDR_SIZE + fixed + h->blob[0] + h->blob[1] <= h->len;
}

/* Decodes a record in place: JSON pointers point into src. */
static int rec_decode(const uint8_t *src, struct clb_store_rec *out)
{
    struct rec_hdr h;
    memcpy(&h, src, HDR_SIZE);
    if (!hdr_valid(&h, h.len))
        return CLB_EPARSE;
    size_t fixed = fixed_size(h.type);
    memset(out, 0, sizeof(*out));
    out->type = (enum clb_store_rec_type)h.type;
    memcpy(&out->u, src + HDR_SIZE, fixed);
    const char *b[2] = { NULL, NULL };
    size_t off = HDR_SIZE + fixed;
    for (int i = 0; i < 2; i++)
        if (h.blob[i]) {
            b[i] = (const char *)src + off;
            if (b[i][h.blob[i] - 1] != '\0')
                return CLB_EPARSE;
            off += h.blob[i];
        }
    rec_set_blobs(out, b[0], b[1]);
    return CLB_OK;
}

static uint64_t rec_seq(const uint8_t *p)
{
    struct rec_hdr h;
    memcpy(&h, p, HDR_SIZE);
    return h.seq;
}

static uint32_t rec_len(const uint8_t *p)
{
    struct rec_hdr h;
    memcpy(&h, p, HDR_SIZE);
    return h.len;
}

/* ---- rings ---- */

/* A ring of cap bytes in heap memory (a queue file's ring: queue_open). */
static int ring_init(struct ring *r, size_t cap)
{
    r->buf = malloc(cap);
    if (!r->buf)
        return CLB_ENOMEM;
    memset(r->buf, 0, cap); /* fault the pages in now, not on the hot path */
    r->cap = cap;
    r->mask = cap - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    r->p_head = r->p_tail = r->c_peek = r->c_head = r->c_tail = 0;
    return CLB_OK;
}

/* Producer: room for len contiguous bytes, or NULL when full. */
static uint8_t *ring_reserve(struct ring *r, uint32_t len)
{
    uint64_t pos = r->p_head & r->mask;
    uint64_t contig = r->cap - pos;
    uint64_t pad = contig < len ? contig : 0;
    uint64_t need = pad + len;
    if (r->p_head + need - r->p_tail > r->cap) {
        r->p_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (r->p_head + need - r->p_tail > r->cap)
            return NULL;
    }
    if (pad) {
        if (pad >= HDR_SIZE) {
            struct rec_hdr h = { .len = (uint32_t)pad, .type = REC_PAD };
            memcpy(r->buf + pos, &h, HDR_SIZE);
        }
        r->p_head += pad;
        pos = 0;
    }
    return r->buf + pos;
}

static void ring_publish(struct ring *r, uint32_t len)
{
    r->p_head += len;
    atomic_store_explicit(&r->head, r->p_head, memory_order_release);
    if (r->durable_head)
        atomic_store_explicit(r->durable_head, r->p_head, memory_order_release);
}

/* Consumer: the next unread record, or NULL. */
static const uint8_t *ring_peek(struct ring *r)
{
    for (;;) {
        if (r->c_peek == r->c_head) {
            r->c_head = atomic_load_explicit(&r->head, memory_order_acquire);
            if (r->c_peek == r->c_head)
                return NULL;
        }
        uint64_t pos = r->c_peek & r->mask;
        uint64_t contig = r->cap - pos;
        if (contig < HDR_SIZE) {
            r->c_peek += contig;
            continue;
        }
        struct rec_hdr h;
        memcpy(&h, r->buf + pos, HDR_SIZE);
        if (h.type == REC_PAD) {
            r->c_peek += h.len;
            continue;
        }
        return r->buf + pos;
    }
}

static void ring_commit(struct ring *r)
{
    r->c_tail = r->c_peek;
    atomic_store_explicit(&r->tail, r->c_peek, memory_order_release);
    if (r->durable_tail)
        atomic_store_explicit(r->durable_tail, r->c_peek, memory_order_release);
}

static void ring_rewind(struct ring *r)
{
    r->c_peek = r->c_tail;
}

static uint64_t ring_used(const struct ring *r)
{
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    return h - t;
}

/* ---- queue file (the ring in a shared file mapping) ---- */

#define QUEUE_HDR 4096 /* header page: magic, layout, cap, then head and tail */
#define QUEUE_MAGIC "CLBQUE01"
#define QUEUE_HEAD_AT 64
#define QUEUE_TAIL_AT 128

static void queue_header(uint8_t hdr[64], uint64_t cap)
{
    memset(hdr, 0, 64);
    memcpy(hdr, QUEUE_MAGIC, 8);
    uint32_t fp = layout_fingerprint();
    memcpy(hdr + 8, &fp, 4);
    memcpy(hdr + 16, &cap, 8);
}

/* Takes up the records a previous run left in the mapping: walks them from
 * its tail to its head as the consumer would, stops at the first one that
 * does not parse (cutting the rest), and sets r's counters there. Returns
 * the records found; *max_seq is raised to their highest sequence number. */
static uint64_t queue_adopt(struct ring *r, uint64_t head, uint64_t tail, uint64_t *max_seq)
{
    uint64_t pos = tail, count = 0;
    while (pos < head) {
        uint64_t at = pos & r->mask, contig = r->cap - at;
        if (contig < HDR_SIZE) {
            pos += contig;
            continue;
        }
        struct rec_hdr h;
        memcpy(&h, r->buf + at, HDR_SIZE);
        if (h.type == REC_PAD && h.len == contig) {
            pos += contig;
            continue;
        }
        if (head - pos < HDR_SIZE || !hdr_valid(&h, contig < head - pos ? contig : head - pos))
            break;
        if (h.seq > *max_seq)
            *max_seq = h.seq;
        count++;
        pos += h.len;
    }
    head = pos < head ? pos : head;
    atomic_init(&r->head, head);
    atomic_init(&r->tail, tail);
    atomic_store(r->durable_head, head);
    r->p_head = head;
    r->p_tail = r->c_peek = r->c_head = r->c_tail = tail;
    return count;
}

/* The ring of put() in the queue file at path (created, or taken up with
 * the records it holds: *adopted of them, the highest sequence raised into
 * *max_seq). CLB_OK, CLB_EIO (message in err). */
static int queue_open(struct clb_store_writer *w, struct ring *r, const char *path, size_t cap,
                      uint64_t *adopted, uint64_t *max_seq, char *err, size_t errlen);

/* ---- spill file ---- */

static void spill_header(uint8_t hdr[SPILL_HDR], uint64_t read_off)
{
    memset(hdr, 0, SPILL_HDR);
    memcpy(hdr, SPILL_MAGIC, 8);
    uint32_t fp = layout_fingerprint();
    memcpy(hdr + 8, &fp, 4);
    memcpy(hdr + SPILL_OFF_AT, &read_off, 8);
}

static int spill_write_header(int fd)
{
    uint8_t hdr[SPILL_HDR];
    spill_header(hdr, SPILL_HDR);
    return write_all(fd, hdr, SPILL_HDR) ? CLB_OK : CLB_EIO;
}

/* Producer (or the writer at stop, when no producer runs): appends one
 * encoded record whose check field is already set. */
static int spill_append(struct clb_store_writer *w, const uint8_t *rec, uint32_t len)
{
    struct spill *sp = &w->spill;
    if (!sp->path)
        return CLB_EFULL;
    int rc = CLB_OK;
    pthread_mutex_lock(&sp->mu);
    uint64_t size = atomic_load_explicit(&sp->size, memory_order_relaxed);
    if (sp->fd < 0) {
        /* A file validated at create is appended to; otherwise a new one. */
        int fd = size ? open(sp->path, O_WRONLY | O_APPEND | O_CLOEXEC)
                      : open(sp->path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) {
            rc = CLB_EIO;
            goto out;
        }
        if (!size) {
            if (spill_write_header(fd) != CLB_OK) {
                close(fd);
                rc = CLB_EIO;
                goto out;
            }
            size = SPILL_HDR;
        }
        sp->fd = fd;
        atomic_store_explicit(&sp->size, size, memory_order_release);
    }
    if (size + len > sp->max_bytes) {
        rc = CLB_EFULL;
        goto out;
    }
    if (!write_all(sp->fd, rec, len)) {
        if (ftruncate(sp->fd, (off_t)size) != 0) {
            /* the torn tail is cut at the next open by its checksum */
        }
        rc = CLB_EIO;
        goto out;
    }
    atomic_fetch_add_explicit(&sp->pending, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&sp->total, 1, memory_order_relaxed);
    atomic_store_explicit(&sp->size, size + len, memory_order_release);
out:
    pthread_mutex_unlock(&sp->mu);
    return rc;
}

/* Makes [off, off + n) of the file readable in sp->buf. */
static bool spill_ensure(struct spill *sp, uint64_t off, size_t n, uint64_t size)
{
    if (off >= sp->buf_off && off + n <= sp->buf_off + sp->buf_len)
        return true;
    if (off + n > size)
        return false;
    size_t want = size - off < SPILL_BUF ? (size_t)(size - off) : SPILL_BUF;
    size_t got = 0;
    if (!pread_all(sp->rfd, sp->buf, want, off, &got)) {
        sp->buf_len = 0;
        return false;
    }
    sp->buf_off = off;
    sp->buf_len = got;
    return got >= n;
}

/* Writer: the next unread spilled record, or NULL. A record that fails its
 * checks ends the readable part of the file (logged, counted). */
static const uint8_t *spill_peek(struct clb_store_writer *w)
{
    struct spill *sp = &w->spill;
    uint64_t size = atomic_load_explicit(&sp->size, memory_order_acquire);
    if (sp->peek >= size)
        return NULL;
    if (sp->rfd < 0 && (sp->rfd = open(sp->path, O_RDWR | O_CLOEXEC)) < 0) {
        wlog(w, CLB_STORE_LOG_ERROR, "cannot read spill file %s: %s", sp->path, strerror(errno));
        return NULL;
    }
    struct rec_hdr h;
    const uint8_t *p = NULL;
    if (spill_ensure(sp, sp->peek, HDR_SIZE, size)) {
        memcpy(&h, sp->buf + (sp->peek - sp->buf_off), HDR_SIZE);
        if (hdr_valid(&h, size - sp->peek) && spill_ensure(sp, sp->peek, h.len, size)) {
            p = sp->buf + (sp->peek - sp->buf_off);
            if (rec_checksum(p, h.len) != h.check)
                p = NULL;
        }
    }
    if (!p) {
        wlog(w, CLB_STORE_LOG_ERROR, "spill file %s unreadable at offset %llu: %llu bytes skipped",
             sp->path, (unsigned long long)sp->peek, (unsigned long long)(size - sp->peek));
        sp->peek = size;
        atomic_store_explicit(&sp->pending, 0, memory_order_relaxed);
        return NULL;
    }
    return p;
}

/* Writer: everything up to peek is written. Truncates the file once all of
 * it is; otherwise records the progress in the header, so that a crash
 * replays at most the batch being written (and writes are idempotent). */
static void spill_commit(struct clb_store_writer *w)
{
    struct spill *sp = &w->spill;
    if (sp->peek_records)
        atomic_fetch_sub_explicit(&sp->pending, sp->peek_records, memory_order_relaxed);
    sp->peek_records = 0;
    if (sp->peek == sp->read || sp->rfd < 0)
        return;
    sp->read = sp->peek;
    if (sp->read == atomic_load_explicit(&sp->size, memory_order_acquire)) {
        pthread_mutex_lock(&sp->mu);
        if (sp->read == atomic_load_explicit(&sp->size, memory_order_relaxed) &&
            ftruncate(sp->rfd, SPILL_HDR) == 0) {
            atomic_store_explicit(&sp->size, SPILL_HDR, memory_order_release);
            sp->read = sp->peek = SPILL_HDR;
            sp->buf_len = 0;
            sp->buf_off = 0;
        }
        pthread_mutex_unlock(&sp->mu);
    }
    uint64_t off = sp->read;
    if (pwrite(sp->rfd, &off, sizeof(off), SPILL_OFF_AT) != (ssize_t)sizeof(off))
        wlog(w, CLB_STORE_LOG_WARN, "spill file %s: cannot record progress: %s", sp->path,
             strerror(errno));
}

static void spill_rewind(struct spill *sp)
{
    sp->peek = sp->read;
    sp->peek_records = 0;
}

/* At create: validates an existing spill file (header, then every record
 * by its checksum), cuts a torn tail, resumes at the recorded read offset,
 * counts the records left and finds the highest sequence number. */
static int spill_open_existing(struct clb_store_writer *w, char *err, size_t errlen)
{
    struct spill *sp = &w->spill;
    int fd = open(sp->path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return CLB_OK;
        snprintf(err, errlen, "cannot open spill file %s: %s", sp->path, strerror(errno));
        return CLB_EIO;
    }
    struct stat st;
    uint8_t hdr[SPILL_HDR], want[SPILL_HDR];
    size_t got = 0;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat spill file %s: %s", sp->path, strerror(errno));
        close(fd);
        return CLB_EIO;
    }
    uint64_t fsize = (uint64_t)st.st_size;
    spill_header(want, SPILL_HDR);
    if (fsize == 0) {
        close(fd); /* an empty file: the producer starts it afresh */
        return CLB_OK;
    }
    if (fsize < SPILL_HDR || !pread_all(fd, hdr, SPILL_HDR, 0, &got) || got != SPILL_HDR ||
        memcmp(hdr, want, 12) != 0) {
        close(fd);
        char aside[1100];
        snprintf(aside, sizeof(aside), "%s.incompatible", sp->path);
        if (rename(sp->path, aside) != 0) {
            snprintf(err, errlen, "spill file %s is not ours and cannot be moved aside: %s",
                     sp->path, strerror(errno));
            return CLB_EIO;
        }
        wlog(w, CLB_STORE_LOG_ERROR,
             "spill file %s was written by another build or is not a spill file: moved to %s "
             "(its records are NOT replayed)", sp->path, aside);
        return CLB_OK;
    }
    uint64_t read_off;
    memcpy(&read_off, hdr + SPILL_OFF_AT, 8);
    uint64_t off = SPILL_HDR, count = 0, max_seq = 0;
    bool on_boundary = read_off == SPILL_HDR;
    while (off + HDR_SIZE <= fsize) {
        struct rec_hdr h;
        if (!pread_all(fd, (uint8_t *)&h, HDR_SIZE, off, &got) || got != HDR_SIZE ||
            !hdr_valid(&h, fsize - off))
            break;
        if (!pread_all(fd, w->w_scratch, h.len, off, &got) || got != h.len ||
            rec_checksum(w->w_scratch, h.len) != h.check)
            break;
        if (h.seq > max_seq)
            max_seq = h.seq;
        if (off >= read_off)
            count++;
        off += h.len;
        if (off == read_off)
            on_boundary = true;
    }
    if (off < fsize) {
        wlog(w, CLB_STORE_LOG_WARN, "spill file %s: cut %llu torn bytes at offset %llu",
             sp->path, (unsigned long long)(fsize - off), (unsigned long long)off);
        if (ftruncate(fd, (off_t)off) != 0) {
            snprintf(err, errlen, "cannot truncate spill file %s: %s", sp->path, strerror(errno));
            close(fd);
            return CLB_EIO;
        }
    }
    if (!on_boundary || read_off > off) {
        /* a read offset that is not a record boundary: replay everything
         * (writes are idempotent) */
        wlog(w, CLB_STORE_LOG_WARN, "spill file %s: bad read offset %llu, replaying all",
             sp->path, (unsigned long long)read_off);
        read_off = SPILL_HDR;
        count = 0;
        for (uint64_t o = SPILL_HDR; o < off;) {
            struct rec_hdr h;
            if (!pread_all(fd, (uint8_t *)&h, HDR_SIZE, o, &got) || got != HDR_SIZE)
                break;
            count++;
            o += h.len;
        }
    }
    if (count == 0 && off > SPILL_HDR) {
        /* everything was written before the previous run ended */
        uint64_t start = SPILL_HDR;
        if (ftruncate(fd, SPILL_HDR) != 0 ||
            pwrite(fd, &start, sizeof(start), SPILL_OFF_AT) != (ssize_t)sizeof(start)) {
            snprintf(err, errlen, "cannot reset spill file %s: %s", sp->path, strerror(errno));
            close(fd);
            return CLB_EIO;
        }
        off = read_off = SPILL_HDR;
    }
    sp->rfd = fd;
    atomic_store(&sp->size, off);
    atomic_store(&sp->pending, count);
    sp->read = sp->peek = read_off;
    w->p_seq = max_seq;
    w->old_spilled = count;
    if (count)
        wlog(w, CLB_STORE_LOG_INFO, "spill file %s: %llu records from a previous run to replay",
             sp->path, (unsigned long long)count);
    return CLB_OK;
}

static int queue_open(struct clb_store_writer *w, struct ring *r, const char *path, size_t cap,
                      uint64_t *adopted, uint64_t *max_seq, char *err, size_t errlen)
{
    size_t len = QUEUE_HDR + cap;
    uint8_t want[64];
    queue_header(want, cap);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open queue file %s: %s", path, strerror(errno));
        return CLB_EIO;
    }
    struct stat st;
    uint8_t have[64];
    size_t got = 0;
    bool fresh = fstat(fd, &st) == 0 && st.st_size == 0;
    bool ours = !fresh && (uint64_t)st.st_size == len && pread_all(fd, have, 64, 0, &got) &&
                got == 64 && memcmp(have, want, 64) == 0;
    if (!fresh && !ours) {
        close(fd);
        char aside[1100];
        snprintf(aside, sizeof(aside), "%s.incompatible", path);
        if (rename(path, aside) != 0) {
            snprintf(err, errlen, "queue file %s is not ours and cannot be moved aside: %s", path,
                     strerror(errno));
            return CLB_EIO;
        }
        wlog(w, CLB_STORE_LOG_ERROR,
             "queue file %s was written by another build or ring size: moved to %s (its "
             "records are NOT replayed)", path, aside);
        if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
            snprintf(err, errlen, "cannot create queue file %s: %s", path, strerror(errno));
            return CLB_EIO;
        }
        fresh = true;
    }
    if (fresh && (ftruncate(fd, (off_t)len) != 0 || pwrite(fd, want, 64, 0) != 64)) {
        snprintf(err, errlen, "cannot size queue file %s: %s", path, strerror(errno));
        close(fd);
        return CLB_EIO;
    }
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd); /* the mapping keeps the file */
    if (m == MAP_FAILED) {
        snprintf(err, errlen, "cannot map queue file %s: %s", path, strerror(errno));
        return CLB_EIO;
    }
    /* fault every page in for writing now, not on the hot path */
    for (size_t off = 0; off < len; off += 4096) {
        volatile uint8_t *b = (volatile uint8_t *)m + off;
        *b = *b;
    }
    r->cap = cap;
    r->mask = cap - 1;
    r->map = m;
    r->map_len = len;
    r->buf = r->map + QUEUE_HDR;
    r->durable_head = (_Atomic uint64_t *)(void *)(r->map + QUEUE_HEAD_AT);
    r->durable_tail = (_Atomic uint64_t *)(void *)(r->map + QUEUE_TAIL_AT);
    uint64_t head = atomic_load(r->durable_head), tail = atomic_load(r->durable_tail);
    if (head < tail || head - tail > cap) {
        wlog(w, CLB_STORE_LOG_WARN, "queue file %s: bad counters, its records are dropped", path);
        head = tail;
    }
    *adopted = queue_adopt(r, head, tail, max_seq);
    if (*adopted)
        wlog(w, CLB_STORE_LOG_INFO, "queue file %s: %llu records from a previous run to write",
             path, (unsigned long long)*adopted);
    return CLB_OK;
}

/* ---- producer ---- */

static void wake(struct clb_store_writer *w)
{
    uint64_t one = 1;
    ssize_t k = write(w->efd, &one, sizeof(one));
    (void)k; /* EAGAIN: the counter is already non-zero, the writer will wake */
}

int clb_store_writer_put(struct clb_store_writer *w, const struct clb_store_rec *rec)
{
    uint32_t bl[2], len;
    if (!w || rec_size(rec, bl, &len) != CLB_OK)
        return CLB_EINVAL;
    if (atomic_load_explicit(&w->stopping, memory_order_relaxed))
        return CLB_ESTATE;
    uint64_t seq = w->p_seq + 1;
    uint8_t *dst = len <= w->ring.cap / 2 ? ring_reserve(&w->ring, len) : NULL;
    if (dst) {
        rec_encode(dst, rec, seq, bl, len);
        ring_publish(&w->ring, len);
    } else {
        rec_encode(w->p_scratch, rec, seq, bl, len);
        struct rec_hdr *h = (struct rec_hdr *)(void *)w->p_scratch;
        h->check = rec_checksum(w->p_scratch, len);
        int rc = spill_append(w, w->p_scratch, len);
        if (rc != CLB_OK) {
            atomic_fetch_add_explicit(&w->dropped, 1, memory_order_relaxed);
            return CLB_EFULL;
        }
    }
    w->p_seq = seq;
    atomic_store_explicit(&w->put_seq, seq, memory_order_release);
    w->p_unsignaled++;
    w->p_unsignaled_bytes += len;
    if (w->p_unsignaled >= w->batch_max || w->p_unsignaled_bytes >= w->ring.cap / 4) {
        if (atomic_load_explicit(&w->sleeping, memory_order_relaxed))
            wake(w);
        w->p_unsignaled = 0;
        w->p_unsignaled_bytes = 0;
    }
    return CLB_OK;
}

int clb_store_writer_post(struct clb_store_writer *w, const struct clb_store_rec *rec)
{
    uint32_t bl[2], len;
    if (!w || rec_size(rec, bl, &len) != CLB_OK)
        return CLB_EINVAL;
    if (atomic_load_explicit(&w->stopping, memory_order_relaxed))
        return CLB_ESTATE;
    int rc = CLB_OK;
    pthread_mutex_lock(&w->post_mu);
    uint8_t *dst = len <= w->post.cap / 2 ? ring_reserve(&w->post, len) : NULL;
    if (dst) {
        rec_encode(dst, rec, 0, bl, len);
        ring_publish(&w->post, len);
        atomic_fetch_add_explicit(&w->post_enqueued, 1, memory_order_relaxed);
    } else {
        rc = CLB_EFULL;
    }
    pthread_mutex_unlock(&w->post_mu);
    if (rc != CLB_OK)
        atomic_fetch_add_explicit(&w->dropped, 1, memory_order_relaxed);
    else if (atomic_load_explicit(&w->sleeping, memory_order_relaxed) &&
             ring_used(&w->post) >= w->post.cap / 4)
        wake(w);
    return rc;
}

/* ---- status ---- */

bool clb_store_writer_available(const struct clb_store_writer *w)
{
    return w && atomic_load_explicit(&w->connected, memory_order_relaxed) &&
           atomic_load_explicit(&w->spill.pending, memory_order_relaxed) == 0 &&
           ring_used(&w->ring) <= w->ring.cap / 4 * 3;
}

void clb_store_writer_status(struct clb_store_writer *w, struct clb_store_writer_status *st)
{
    memset(st, 0, sizeof(*st));
    if (!w)
        return;
    st->connected = atomic_load(&w->connected);
    st->available = clb_store_writer_available(w);
    st->enqueued = atomic_load(&w->put_seq) - w->seq_base + w->old_spilled +
                   atomic_load(&w->post_enqueued);
    st->written = atomic_load(&w->written);
    st->failed = atomic_load(&w->failed);
    uint64_t done = st->written + st->failed;
    st->queued = st->enqueued > done ? st->enqueued - done : 0;
    st->spilled = atomic_load(&w->spill.total);
    st->spill_pending = atomic_load(&w->spill.pending);
    st->dropped = atomic_load(&w->dropped);
    st->batches = atomic_load(&w->batches);
    st->reconnects = atomic_load(&w->reconnects);
    st->ring_used_bytes = ring_used(&w->ring);
    st->ring_bytes = w->ring.cap;
    st->last_error = atomic_load(&w->last_error);
    pthread_mutex_lock(&w->mu);
    snprintf(st->last_error_msg, sizeof(st->last_error_msg), "%s", w->last_error_msg);
    pthread_mutex_unlock(&w->mu);
}

/* ---- writer thread ---- */

static const uint8_t *next_record(struct clb_store_writer *w, enum src *from)
{
    const uint8_t *p = ring_peek(&w->post);
    if (p) {
        *from = SRC_POST;
        return p;
    }
    /* The ring's head first, then the spill file's size (see the header). */
    const uint8_t *r = ring_peek(&w->ring);
    const uint8_t *s = spill_peek(w);
    if (r && s) {
        bool ring_first = rec_seq(r) < rec_seq(s);
        *from = ring_first ? SRC_RING : SRC_SPILL;
        return ring_first ? r : s;
    }
    *from = r ? SRC_RING : s ? SRC_SPILL : SRC_NONE;
    return r ? r : s;
}

static void consume(struct clb_store_writer *w, enum src from, uint32_t len)
{
    switch (from) {
    case SRC_POST: w->post.c_peek += len; break;
    case SRC_RING: w->ring.c_peek += len; break;
    case SRC_SPILL:
        w->spill.peek += len;
        w->spill.peek_records++;
        break;
    default: break;
    }
}

static void rewind_all(struct clb_store_writer *w)
{
    ring_rewind(&w->post);
    ring_rewind(&w->ring);
    spill_rewind(&w->spill);
}

struct batch_result {
    uint32_t taken;  /* records taken from the queues (written + skipped) */
    uint32_t added;  /* records handed to the database */
    uint32_t skipped; /* malformed (or rejected, when skipping) records */
    uint32_t posts;
    uint64_t last_seq;
};

static void commit_all(struct clb_store_writer *w, const struct batch_result *b, bool txn)
{
    if (txn)
        atomic_fetch_add_explicit(&w->batches, 1, memory_order_relaxed);
    ring_commit(&w->post);
    ring_commit(&w->ring);
    spill_commit(w);
    if (b->added)
        atomic_fetch_add_explicit(&w->written, b->added, memory_order_relaxed);
    if (b->skipped)
        atomic_fetch_add_explicit(&w->failed, b->skipped, memory_order_relaxed);
    pthread_mutex_lock(&w->mu);
    if (b->last_seq > w->processed_seq)
        w->processed_seq = b->last_seq;
    w->processed_post += b->posts;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* One transaction of up to limit records. With skip_rejected (limit 1), a
 * record the database rejects is dropped instead of failing the batch.
 * CLB_OK (b filled, committed), CLB_EIO (rewound), or the rejection code
 * (rewound; b->taken = records in the failed batch). */
static int write_batch(struct clb_store_writer *w, uint32_t limit, bool skip_rejected,
                       struct batch_result *b)
{
    memset(b, 0, sizeof(*b));
    enum src from = SRC_NONE;
    const uint8_t *p = next_record(w, &from);
    if (!p)
        return CLB_OK;
    struct clb_store *s = w->store;
    int rc = store_batch_begin(s);
    if (rc != CLB_OK)
        return rc == CLB_EIO ? CLB_EIO : rc;
    while (p && b->taken < limit) {
        struct clb_store_rec rec;
        uint32_t len = rec_len(p);
        uint64_t seq = rec_seq(p);
        int rrc = rec_decode(p, &rec);
        if (rrc == CLB_OK)
            rrc = store_batch_add(s, &rec);
        else
            store_set_err(s, "undecodable record");
        if (rrc == CLB_EPARSE) {
            wlog(w, CLB_STORE_LOG_ERROR, "dropping a malformed record: %s", clb_store_errmsg(s));
            b->skipped++;
        } else if (rrc != CLB_OK) {
            rc = rrc;
            break;
        } else {
            b->added++;
        }
        b->taken++;
        if (from == SRC_POST)
            b->posts++;
        else
            b->last_seq = seq;
        consume(w, from, len);
        if (b->taken < limit)
            p = next_record(w, &from);
    }
    if (rc == CLB_OK) {
        rc = store_batch_end(s, true);
    } else {
        char msg[CLB_STORE_ERR_MAX];
        snprintf(msg, sizeof(msg), "%s", clb_store_errmsg(s));
        store_batch_end(s, false);
        store_set_err(s, "%s", msg);
        if (rc != CLB_EIO)
            b->taken++; /* the rejected record belongs to the batch */
    }
    if (rc == CLB_OK) {
        commit_all(w, b, true);
        return CLB_OK;
    }
    if (rc != CLB_EIO && skip_rejected) {
        /* A single record the database refuses: drop it, keep the rest. */
        wlog(w, CLB_STORE_LOG_ERROR, "dropping a record the database rejects: %s",
             clb_store_errmsg(s));
        set_last_error(w, rc, clb_store_errmsg(s));
        rewind_all(w);
        struct batch_result skip = { 0 };
        p = next_record(w, &from);
        if (p) {
            skip.taken = 1;
            skip.skipped = 1;
            if (from == SRC_POST)
                skip.posts = 1;
            else
                skip.last_seq = rec_seq(p);
            consume(w, from, rec_len(p));
            commit_all(w, &skip, false);
        }
        *b = skip;
        return CLB_OK;
    }
    rewind_all(w);
    return rc;
}

/* Writes one batch, isolating rejected records. Returns the records taken
 * (>= 0) or CLB_EIO. */
static int write_some(struct clb_store_writer *w)
{
    struct batch_result b;
    int rc = write_batch(w, w->batch_max, false, &b);
    if (rc == CLB_OK)
        return (int)b.taken;
    if (rc == CLB_EIO)
        return CLB_EIO;
    /* The database rejected a record of the batch: redo it one by one. */
    uint32_t n = b.taken ? b.taken : 1;
    int total = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct batch_result one;
        rc = write_batch(w, 1, true, &one);
        if (rc == CLB_EIO)
            return CLB_EIO;
        if (one.taken == 0)
            break;
        total += (int)one.taken;
    }
    return total;
}

static int writer_connect(struct clb_store_writer *w)
{
    char err[CLB_STORE_ERR_MAX] = "";
    int rc;
    if (!w->store) {
        rc = clb_store_open(&w->sopts, &w->store, err, sizeof(err));
    } else {
        rc = clb_store_reconnect(w->store);
        snprintf(err, sizeof(err), "%s", clb_store_errmsg(w->store));
    }
    if (rc == CLB_OK && w->migrate) {
        rc = clb_store_migrate(w->store, NULL, NULL, NULL);
        if (rc != CLB_OK)
            snprintf(err, sizeof(err), "%s", clb_store_errmsg(w->store));
    }
    if (rc == CLB_OK) {
        rc = clb_store_instance_register(w->store, w->version, wall_ms());
        if (rc != CLB_OK)
            snprintf(err, sizeof(err), "%s", clb_store_errmsg(w->store));
    }
    if (rc != CLB_OK) {
        if (w->store)
            w->store->ops->disconnect(w->store);
        set_last_error(w, rc, err);
    }
    return rc;
}

static void writer_disconnect(struct clb_store_writer *w, const char *why)
{
    if (atomic_load(&w->connected))
        wlog(w, CLB_STORE_LOG_WARN, "database unavailable (%s): queueing, will retry", why);
    set_last_error(w, CLB_EIO, why);
    atomic_store(&w->connected, false);
    if (w->store)
        w->store->ops->disconnect(w->store);
}

/* At stop: saves every record not written (ring, spill, post ring) into a
 * new spill file, in sequence order. Returns the records saved, or -1 when
 * some could not be saved. */
static int64_t save_rest(struct clb_store_writer *w)
{
    struct spill *sp = &w->spill;
    rewind_all(w);
    enum src from;
    if (!next_record(w, &from)) {
        rewind_all(w);
        uint64_t size = atomic_load(&sp->size);
        if (sp->path && size > 0 && size <= SPILL_HDR)
            unlink(sp->path); /* everything replayed: no file left behind */
        return 0;
    }
    rewind_all(w);
    int64_t saved = 0, lost = 0;
    FILE *f = NULL;
    char tmp[1100];
    if (sp->path) {
        snprintf(tmp, sizeof(tmp), "%s.tmp", sp->path);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        f = fd >= 0 ? fdopen(fd, "wb") : NULL;
        if (!f && fd >= 0)
            close(fd);
    }
    uint8_t hdr[SPILL_HDR];
    spill_header(hdr, SPILL_HDR);
    bool ok = f && fwrite(hdr, 1, SPILL_HDR, f) == SPILL_HDR;
    uint64_t seq = w->p_seq;
    uint64_t from_memory = 0;
    const uint8_t *p;
    /* Put records (ring and spill merged by sequence), then posts. */
    while ((p = next_record(w, &from)) != NULL) {
        uint32_t len = rec_len(p);
        memcpy(w->w_scratch, p, len);
        struct rec_hdr *h = (struct rec_hdr *)(void *)w->w_scratch;
        if (from == SRC_POST)
            h->seq = ++seq;
        h->check = rec_checksum(w->w_scratch, len);
        if (ok && fwrite(w->w_scratch, 1, len, f) == len)
            saved++;
        else
            lost++;
        if (from != SRC_SPILL)
            from_memory++;
        consume(w, from, len);
    }
    /* Posts were taken first by next_record; the file stays ordered for put
     * records, which is what matters (posts carry no ordering). */
    if (f) {
        ok = ok && fflush(f) == 0 && fsync(fileno(f)) == 0;
        if (fclose(f) != 0)
            ok = false;
    }
    if (ok && lost == 0 && rename(tmp, sp->path) == 0) {
        ring_commit(&w->ring); /* the queue file's records are in the spill file now */
        atomic_fetch_add(&sp->total, from_memory);
        atomic_store(&sp->pending, (uint64_t)saved);
        wlog(w, CLB_STORE_LOG_WARN,
             "stopped with %lld records not written: saved to %s for the next start",
             (long long)saved, sp->path);
        return saved;
    }
    if (sp->path)
        unlink(tmp);
    /* Could not save: the old spill file (if any) still holds its records;
     * the in-memory ones are lost. */
    atomic_fetch_add(&w->dropped, from_memory);
    wlog(w, CLB_STORE_LOG_ERROR, "stopped with %llu records not written and not saved (%s)",
         (unsigned long long)from_memory, sp->path ? "spill file write failed" : "no spill file");
    return -1;
}

static void sleep_until_woken(struct clb_store_writer *w, int timeout_ms)
{
    if (timeout_ms < 0)
        timeout_ms = 0;
    atomic_store(&w->sleeping, 1);
    struct pollfd pfd = { .fd = w->efd, .events = POLLIN };
    if (poll(&pfd, 1, timeout_ms) > 0) {
        uint64_t v;
        ssize_t k = read(w->efd, &v, sizeof(v));
        (void)k;
    }
    atomic_store(&w->sleeping, 0);
}

static int backoff_jitter(struct clb_store_writer *w, int ms)
{
    /* 80 % .. 120 % of ms */
    uint64_t r = splitmix64(&w->rng) % 401;
    return (int)((int64_t)ms * (800 + (int64_t)r) / 1000);
}

static void *writer_main(void *arg)
{
    struct clb_store_writer *w = arg;
    int backoff = w->reconnect_min_ms;
    int64_t next_try = 0;
    int64_t last_io = mono_ms();
    bool ever_connected = false, reported_down = false;
    for (;;) {
        int64_t now = mono_ms();
        bool stopping = atomic_load(&w->stopping);
        if (stopping && now >= w->stop_deadline_ms)
            break;
        bool connected = atomic_load(&w->connected);
        if (!connected && now >= next_try) {
            if (writer_connect(w) == CLB_OK) {
                atomic_store(&w->connected, true);
                connected = true;
                backoff = w->reconnect_min_ms;
                if (ever_connected)
                    atomic_fetch_add(&w->reconnects, 1);
                if (reported_down)
                    wlog(w, CLB_STORE_LOG_INFO, "database available again");
                ever_connected = true;
                reported_down = false;
                last_io = now;
            } else {
                if (!reported_down) {
                    char msg[CLB_STORE_ERR_MAX];
                    pthread_mutex_lock(&w->mu);
                    snprintf(msg, sizeof(msg), "%s", w->last_error_msg);
                    pthread_mutex_unlock(&w->mu);
                    wlog(w, CLB_STORE_LOG_WARN, "cannot reach the database (%s): queueing, "
                         "retrying with backoff", msg);
                    reported_down = true;
                }
                next_try = now + backoff_jitter(w, backoff);
                backoff = backoff * 2 > w->reconnect_max_ms ? w->reconnect_max_ms : backoff * 2;
            }
        }
        int n = 0;
        if (connected) {
            n = write_some(w);
            if (n == CLB_EIO) {
                writer_disconnect(w, clb_store_errmsg(w->store));
                reported_down = true;
                next_try = mono_ms() + backoff_jitter(w, backoff);
                continue;
            }
            now = mono_ms();
            if (n > 0) {
                last_io = now;
            } else if (stopping) {
                break; /* everything written */
            } else if (w->ping_ms > 0 && now - last_io >= w->ping_ms) {
                last_io = now;
                if (store_ping(w->store) == CLB_EIO) {
                    writer_disconnect(w, clb_store_errmsg(w->store));
                    reported_down = true;
                    next_try = now;
                    continue;
                }
            }
            if ((uint32_t)n >= w->batch_max || (stopping && n > 0))
                continue;
        }
        int timeout = connected ? w->batch_ms : (int)(next_try - now);
        if (!connected && timeout > w->reconnect_max_ms)
            timeout = w->reconnect_max_ms;
        if (stopping && w->stop_deadline_ms - now < timeout)
            timeout = (int)(w->stop_deadline_ms - now);
        sleep_until_woken(w, timeout);
    }
    int64_t saved = save_rest(w);
    w->stop_rc = saved == 0 ? CLB_OK : saved > 0 ? CLB_ETIMEDOUT : CLB_EIO;
    atomic_store(&w->connected, false);
    pthread_mutex_lock(&w->mu);
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    clb_store_close(w->store);
    w->store = NULL;
    return NULL;
}

/* ---- lifecycle ---- */

void clb_store_writer_options_init(struct clb_store_writer_options *o)
{
    memset(o, 0, sizeof(*o));
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static bool pow2(size_t v)
{
    return v && (v & (v - 1)) == 0;
}

static void writer_free(struct clb_store_writer *w)
{
    if (!w)
        return;
    if (w->ring.map)
        munmap(w->ring.map, w->ring.map_len);
    else
        free(w->ring.buf);
    free(w->post.buf);
    free(w->spill.buf);
    free(w->spill.path);
    if (w->spill.fd >= 0)
        close(w->spill.fd);
    if (w->spill.rfd >= 0)
        close(w->spill.rfd);
    free(w->p_scratch);
    free(w->w_scratch);
    free(w->url);
    free(w->data_dir);
    free(w->instance);
    free(w->version);
    if (w->efd >= 0)
        close(w->efd);
    pthread_mutex_destroy(&w->spill.mu);
    pthread_mutex_destroy(&w->post_mu);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}

int clb_store_writer_create(const struct clb_store_writer_options *o,
                            struct clb_store_writer **out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (!o || !out) {
        snprintf(err, errlen, "invalid arguments");
        return CLB_EINVAL;
    }
    *out = NULL;
    size_t ring_bytes = o->ring_bytes ? o->ring_bytes : (size_t)8 << 20;
    size_t post_bytes = o->post_ring_bytes ? o->post_ring_bytes : (size_t)1 << 20;
    uint32_t batch_max = o->batch_max ? o->batch_max : 1000;
    int batch_ms = o->batch_ms ? o->batch_ms : 50;
    int rmin = o->reconnect_min_ms ? o->reconnect_min_ms : 100;
    int rmax = o->reconnect_max_ms ? o->reconnect_max_ms : 5000;
    if (!pow2(ring_bytes) || ring_bytes < 4096 || ring_bytes > ((size_t)1 << 30) ||
        !pow2(post_bytes) || post_bytes < 4096 || post_bytes > ((size_t)64 << 20) ||
        batch_max > 100000 || batch_ms < 1 || batch_ms > 10000 || rmin < 1 || rmax < rmin) {
        snprintf(err, errlen, "invalid writer options (ring sizes, batch, reconnect)");
        return CLB_EINVAL;
    }
    enum clb_store_backend be;
    char target[1024];
    int rc = clb_store_parse_url(o->store.url, o->store.data_dir, &be, target, sizeof(target));
    if (rc != CLB_OK) {
        snprintf(err, errlen, "invalid database URL");
        return rc;
    }

    void *mem = NULL;
    if (posix_memalign(&mem, CACHE_LINE, sizeof(struct clb_store_writer)) != 0) {
        snprintf(err, errlen, "out of memory");
        return CLB_ENOMEM;
    }
    struct clb_store_writer *w = mem;
    memset(w, 0, sizeof(*w));
    w->efd = -1;
    w->spill.fd = -1;
    w->spill.rfd = -1;
    pthread_mutex_init(&w->spill.mu, NULL);
    pthread_mutex_init(&w->post_mu, NULL);
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->batch_max = batch_max;
    w->batch_ms = batch_ms;
    w->reconnect_min_ms = rmin;
    w->reconnect_max_ms = rmax;
    w->ping_ms = o->ping_ms == 0 ? 5000 : o->ping_ms;
    w->migrate = !o->no_migrate;
    w->log = o->log;
    w->log_ud = o->log_ud;
    w->rng = (uint64_t)mono_ms() ^ (uint64_t)(uintptr_t)w;
    w->spill.max_bytes = o->spill_max_bytes ? o->spill_max_bytes : (uint64_t)1 << 30;
    w->spill.read = w->spill.peek = SPILL_HDR; /* a spill file always starts with its header */

    rc = CLB_ENOMEM;
    if ((!o->queue_path && ring_init(&w->ring, ring_bytes) != CLB_OK) ||
        ring_init(&w->post, post_bytes) != CLB_OK)
        goto fail;
    if (!(w->p_scratch = malloc(REC_MAX)) || !(w->w_scratch = malloc(REC_MAX)) ||
        !(w->spill.buf = malloc(SPILL_BUF)))
        goto fail;
    w->url = dup_or_null(o->store.url);
    w->data_dir = dup_or_null(o->store.data_dir);
    w->instance = dup_or_null(o->store.instance_id);
    w->version = strdup(o->version ? o->version : "");
    if ((o->store.url && !w->url) || (o->store.data_dir && !w->data_dir) ||
        (o->store.instance_id && !w->instance) || !w->version)
        goto fail;
    w->sopts = o->store;
    w->sopts.url = w->url;
    w->sopts.data_dir = w->data_dir;
    w->sopts.instance_id = w->instance;
    if (o->spill_path) {
        if (!(w->spill.path = strdup(o->spill_path)))
            goto fail;
        rc = spill_open_existing(w, err, errlen);
        if (rc != CLB_OK)
            goto fail;
    }
    if (o->queue_path) {
        uint64_t adopted = 0;
        rc = queue_open(w, &w->ring, o->queue_path, ring_bytes, &adopted, &w->p_seq, err,
                        errlen);
        if (rc != CLB_OK)
            goto fail;
        w->old_spilled += adopted;
    }
    w->seq_base = w->p_seq;
    atomic_store(&w->put_seq, w->p_seq);
    w->processed_seq = 0;
    w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        rc = CLB_EIO;
        goto fail;
    }
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        snprintf(err, errlen, "cannot start the writer thread");
        rc = CLB_ENOMEM;
        goto fail;
    }
    w->thread_started = true;
    *out = w;
    return CLB_OK;
fail:
    if (rc == CLB_ENOMEM && !err[0])
        snprintf(err, errlen, "out of memory");
    writer_free(w);
    return rc;
}

int clb_store_writer_flush(struct clb_store_writer *w, int timeout_ms)
{
    if (!w)
        return CLB_EINVAL;
    if (atomic_load(&w->stopping))
        return CLB_ESTATE;
    uint64_t target = atomic_load_explicit(&w->put_seq, memory_order_acquire);
    uint64_t post_target = atomic_load(&w->post_enqueued);
    wake(w);
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    if (timeout_ms >= 0) {
        deadline.tv_sec += timeout_ms / 1000;
        deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
        if (deadline.tv_nsec >= 1000000000L) {
            deadline.tv_sec++;
            deadline.tv_nsec -= 1000000000L;
        }
    }
    int rc = CLB_OK;
    pthread_mutex_lock(&w->mu);
    while (w->processed_seq < target || w->processed_post < post_target) {
        if (atomic_load(&w->stopping)) {
            rc = CLB_ESTATE;
            break;
        }
        int e = timeout_ms >= 0 ? pthread_cond_timedwait(&w->cv, &w->mu, &deadline)
                                : pthread_cond_wait(&w->cv, &w->mu);
        if (e == ETIMEDOUT) {
            if (w->processed_seq < target || w->processed_post < post_target)
                rc = CLB_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int clb_store_writer_stop(struct clb_store_writer *w, int timeout_ms)
{
    if (!w)
        return CLB_EINVAL;
    if (atomic_exchange(&w->stop_called, true))
        return CLB_ESTATE;
    w->stop_deadline_ms = mono_ms() + (timeout_ms < 0 ? (int64_t)1 << 40 : timeout_ms);
    atomic_store(&w->stopping, true);
    wake(w);
    if (w->thread_started) {
        pthread_join(w->thread, NULL);
        w->thread_started = false;
    }
    return w->stop_rc;
}

void clb_store_writer_destroy(struct clb_store_writer *w)
{
    if (!w)
        return;
    if (!atomic_load(&w->stop_called))
        clb_store_writer_stop(w, 5000);
    writer_free(w);
}
