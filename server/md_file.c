/*
 * md_file.c — mmap-open and validate a .clbmd file (md_file.h).
 */
#include "md_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static int io_fail(struct clb_md_error *err, const char *what, int e)
{
    if (err) {
        err->code = CLB_EIO;
        err->offset = 0;
        err->record = -1;
        snprintf(err->msg, sizeof(err->msg), "%s: %s", what, strerror(e));
    }
    return CLB_EIO;
}

int clb_md_file_open(struct clb_md_file *f, const char *path, bool full,
                     struct clb_md_error *err)
{
    memset(f, 0, sizeof(*f));
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return io_fail(err, "cannot open", errno);
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return io_fail(err, "cannot stat", e);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return io_fail(err, "not a regular file", EINVAL);
    }
    size_t len = (size_t)st.st_size;
    const void *map = NULL;
    if (len > 0) {
        void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int e = errno;
            close(fd);
            return io_fail(err, "cannot map", e);
        }
        map = m;
    }
    close(fd); /* the mapping keeps the file */

    static const unsigned char empty[1];
    const void *buf = map ? map : empty;
    int rc;
    if (full) {
        if (map)
            posix_madvise((void *)map, len, POSIX_MADV_SEQUENTIAL);
        rc = clb_md_validate(buf, len, err);
    } else {
        struct clb_md_header h;
        rc = clb_md_header_decode(buf, len, &h, err);
        if (rc == CLB_OK) {
            uint64_t body = len - CLB_MD_HEADER_SIZE;
            if (body % CLB_MD_RECORD_SIZE != 0 || body / CLB_MD_RECORD_SIZE != h.count) {
                rc = CLB_EPARSE;
                if (err) {
                    err->code = rc;
                    err->offset = len;
                    err->record = -1;
                    snprintf(err->msg, sizeof(err->msg),
                             "truncated: %llu bytes do not hold the %llu records of the header",
                             (unsigned long long)len, (unsigned long long)h.count);
                }
            }
        }
    }
    if (rc != CLB_OK) {
        if (map)
            munmap((void *)map, len);
        return rc;
    }
    f->map = map;
    f->len = len;
    memcpy(&f->hdr, buf, sizeof(f->hdr));
    f->rec = clb_md_records(buf);
    return CLB_OK;
}

void clb_md_file_close(struct clb_md_file *f)
{
    if (f->map)
        munmap((void *)f->map, f->len);
    memset(f, 0, sizeof(*f));
}
