/*
 * xlmig stream v1 (docs/specs/stream.md is the spec): the names of its
 * records and the byte sinks and sources it is written to and read from
 * (a file descriptor, memory).  The writer is stream_write.c, the reader
 * stream_read.c.
 */
#include "proto/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/cursor.h"

#define PAD8(n) (((n) + 7) & ~(size_t)7)

BUILD_BUG_ON(sizeof(XLMIG_STREAM_MAGIC) - 1 != 8);
BUILD_BUG_ON(XLMIG_STREAM_HDR_SIZE != 8 + 4 + 4 + 4 + 4);
BUILD_BUG_ON(XLMIG_REC_HDR_SIZE != 4 + 4 + 4 + 4);
BUILD_BUG_ON(XLMIG_DOMAIN_INFO_SIZE != 4 + 4 + 8 + 4 + 4 + 16 + 64);
BUILD_BUG_ON(XLMIG_END_SIZE != 8 + 8 + 4 + 4);
BUILD_BUG_ON(XLMIG_NAME_MAX != 64);
BUILD_BUG_ON(XLMIG_REC_BODY_MAX % 8 != 0);
#define PAD8(n) (((n) + 7) & ~(size_t)7)

static const struct {
    uint32_t type;
    const char *name;
} rec_names[] = {
    { XLMIG_REC_DOMAIN_INFO, "DOMAIN_INFO" },
    { XLMIG_REC_DOMAIN_CONFIG, "DOMAIN_CONFIG" },
    { XLMIG_REC_PAGE_DATA, "PAGE_DATA" },
    { XLMIG_REC_VCPU_STATE, "VCPU_STATE" },
    { XLMIG_REC_DEVICE_STATE, "DEVICE_STATE" },
    { XLMIG_REC_END, "END" },
    { XLMIG_REC_XEN_STREAM, "XEN_STREAM" },
    { XLMIG_REC_DISK_IMAGE, "DISK_IMAGE" },
    { XLMIG_REC_DISK_DATA, "DISK_DATA" },
    { XLMIG_REC_SOURCE_INFO, "SOURCE_INFO" },
};

const char *xlmig_rec_type_name(uint32_t type)
{
    for (size_t i = 0; i < ARRAY_SIZE(rec_names); i++)
        if (rec_names[i].type == type)
            return rec_names[i].name;
    return type & XLMIG_REC_OPTIONAL ? "unknown optional" :
                                       "unknown mandatory";
}

const char *xlmig_stream_backend_name(uint32_t id)
{
    switch (id) {
    case XLMIG_STREAM_BACKEND_SIM: return "sim";
    case XLMIG_STREAM_BACKEND_XEN: return "xen";
    default: return "unknown";
    }
}

/* ---- file sink and source ---- */

static int fd_writev(void *opaque, const struct iovec *iov, int iovcnt)
{
    int fd = *(int *)opaque;
    struct iovec local[64];
    int n = 0;

    /* writev may write short; keep a private, advancing copy. */
    while (iovcnt > 0) {
        int chunk = iovcnt < (int)ARRAY_SIZE(local) ? iovcnt :
                                                      (int)ARRAY_SIZE(local);
        memcpy(local, iov, chunk * sizeof(*iov));
        iov += chunk;
        iovcnt -= chunk;
        struct iovec *v = local;
        n = chunk;
        while (n > 0) {
            ssize_t r = writev(fd, v, n);
            if (r < 0) {
                if (errno == EINTR)
                    continue;
                return xlmig_errno_rc(errno);
            }
            while (n > 0 && (size_t)r >= v->iov_len) {
                r -= v->iov_len;
                v++;
                n--;
            }
            if (n > 0) {
                v->iov_base = (uint8_t *)v->iov_base + r;
                v->iov_len -= r;
            }
        }
    }
    return 0;
}

static int fd_read(void *opaque, void *buf, size_t len, size_t *got)
{
    int r = xlmig_read_exact(*(int *)opaque, buf, len, got);

    if (r == 0)
        return 0;
    if (r == 1)
        return XLMIG_ERR_TRUNCATED;
    return xlmig_errno_rc(-r);
}

void xlmig_sink_fd(struct xlmig_sink *s, int *fd)
{
    s->writev = fd_writev;
    s->drain = NULL;
    s->opaque = fd;
}

void xlmig_source_fd(struct xlmig_source *s, int *fd)
{
    s->read = fd_read;
    s->borrow = NULL;
    s->opaque = fd;
}

static int mem_writev(void *opaque, const struct iovec *iov, int iovcnt)
{
    struct xlmig_membuf *m = opaque;

    for (int i = 0; i < iovcnt; i++) {
        if (m->len + iov[i].iov_len > m->cap) {
            size_t cap = m->cap ? m->cap : 4096;
            uint8_t *np;
            while (cap < m->len + iov[i].iov_len)
                cap *= 2;
            np = realloc(m->p, cap);
            if (!np)
                return XLMIG_ERR_NOMEM;
            m->p = np;
            m->cap = cap;
        }
        if (iov[i].iov_len)
            memcpy(m->p + m->len, iov[i].iov_base, iov[i].iov_len);
        m->len += iov[i].iov_len;
    }
    return 0;
}

static int mem_read(void *opaque, void *buf, size_t len, size_t *got)
{
    struct xlmig_membuf *m = opaque;
    size_t n = m->len - m->pos < len ? m->len - m->pos : len;

    if (n)
        memcpy(buf, m->p + m->pos, n);
    m->pos += n;
    *got = n;
    return n == len ? 0 : XLMIG_ERR_TRUNCATED;
}

void xlmig_sink_mem(struct xlmig_sink *s, struct xlmig_membuf *m)
{
    s->writev = mem_writev;
    s->drain = NULL;
    s->opaque = m;
}

static const void *mem_borrow(void *opaque, size_t len)
{
    struct xlmig_membuf *m = opaque;
    const uint8_t *p = m->p + m->pos;

    if (m->pos > m->len || m->len - m->pos < len)
        return NULL;
    m->pos += len;
    return p;
}

void xlmig_source_mem(struct xlmig_source *s, struct xlmig_membuf *m)
{
    s->read = mem_read;
    s->borrow = mem_borrow;
    s->opaque = m;
}

/* ---- writer ---- */

