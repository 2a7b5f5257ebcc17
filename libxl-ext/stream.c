/*
 * xlmig stream v1: writer and reader.  docs/specs/stream.md is the spec.
 *
 * The reader treats every byte as hostile: it caps each length before
 * reading, checks the checksum before looking inside a record, validates
 * counts and indices against DOMAIN_INFO before anything acts on them,
 * and enforces the record order (header, DOMAIN_INFO, DOMAIN_CONFIG, state
 * records, END, end of stream).
 */
#include "stream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crc32c.h"
#include "cursor.h"

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

static int lane_alloc(struct xlmig_wlane *l, const struct xlmig_sink *sink)
{
    memset(l, 0, sizeof(*l));
    l->sink = *sink;
    l->pfns = malloc(XLMIG_PAGE_BATCH_MAX * sizeof(uint64_t));
    l->data = malloc((size_t)XLMIG_PAGE_BATCH_MAX * XLMIG_PAGE_SIZE);
    return l->pfns && l->data ? 0 : XLMIG_ERR_NOMEM;
}

int xlmig_writer_init(struct xlmig_stream_writer *w, xlmig_ctx *ctx,
                      const struct xlmig_sink *sink)
{
    memset(w, 0, sizeof(*w));
    w->ctx = ctx;
    w->sink = *sink;
    w->batch = XLMIG_PAGE_BATCH_MAX;
    w->nlanes = 1;
    w->lane = calloc(1, sizeof(*w->lane));
    if (!w->lane || lane_alloc(&w->lane[0], sink)) {
        xlmig_writer_dispose(w);
        return XLMIG_ERR_NOMEM;
    }
    return 0;
}

int xlmig_writer_set_lanes(struct xlmig_stream_writer *w, unsigned n,
                           const struct xlmig_sink *sinks)
{
    struct xlmig_wlane *l;

    if (n < 1 || n > XLMIG_LANES_MAX || w->nlanes != 1 || w->lane[0].nr)
        return XLMIG_ERR_INVAL;
    l = realloc(w->lane, n * sizeof(*l));
    if (!l)
        return XLMIG_ERR_NOMEM;
    w->lane = l;
    for (unsigned i = 1; i < n; i++) {
        int rc = lane_alloc(&l[i], &sinks[i - 1]);
        w->nlanes = i + 1;      /* so that dispose frees what is there */
        if (rc)
            return rc;
    }
    return 0;
}

void xlmig_writer_dispose(struct xlmig_stream_writer *w)
{
    for (unsigned i = 0; w->lane && i < w->nlanes; i++) {
        free(w->lane[i].pfns);
        free(w->lane[i].data);
    }
    free(w->lane);
    w->lane = NULL;
    w->nlanes = 0;
}

static void writer_emit(struct xlmig_stream_writer *w, struct xlmig_wlane *l,
                        const struct iovec *iov, int iovcnt, size_t total)
{
    int rc;

    if (w->err)
        return;
    rc = l->sink.writev(l->sink.opaque, iov, iovcnt);
    if (rc) {
        LOG_ERR(w->ctx, "writing stream at offset %llu%s: %s",
                (unsigned long long)l->offset,
                l == w->lane ? "" : " of a data lane", xlmig_strerror(rc));
        w->err = rc;
        return;
    }
    l->offset += total;
    w->offset += total;
}

void xlmig_write_header(struct xlmig_stream_writer *w)
{
    uint8_t h[XLMIG_STREAM_HDR_SIZE] = { 0 };
    struct iovec iov = { h, sizeof(h) };

    memcpy(h, XLMIG_STREAM_MAGIC, 8);
    xlmig_put_u32(h + 8, XLMIG_STREAM_VERSION);
    xlmig_put_u32(h + 12, XLMIG_STREAM_HDR_SIZE);
    xlmig_put_u32(h + 16, 0);                       /* flags: reserved */
    xlmig_put_u32(h + 20, xlmig_crc32c(0, h, sizeof(h)));
    writer_emit(w, &w->lane[0], &iov, 1, sizeof(h));
}

static void lane_recordv(struct xlmig_stream_writer *w, struct xlmig_wlane *l,
                         uint32_t type, const struct iovec *iov, int iovcnt)
{
    static const uint8_t zeros[8];
    uint8_t h[XLMIG_REC_HDR_SIZE] = { 0 };
    struct iovec v[8];
    size_t len = 0;
    uint32_t crc;

    if (w->err)
        return;
    if (iovcnt > (int)ARRAY_SIZE(v) - 2) {
        w->err = XLMIG_ERR_INVAL;
        return;
    }
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (len > XLMIG_REC_BODY_MAX) {
        LOG_ERR(w->ctx, "record %s of %zu bytes exceeds the %u byte limit",
                xlmig_rec_type_name(type), len, XLMIG_REC_BODY_MAX);
        w->err = XLMIG_ERR_INVAL;
        return;
    }
    xlmig_put_u32(h, type);
    xlmig_put_u32(h + 4, (uint32_t)len);
    crc = xlmig_crc32c(0, h, sizeof(h));
    for (int i = 0; i < iovcnt; i++)
        crc = xlmig_crc32c(crc, iov[i].iov_base, iov[i].iov_len);
    xlmig_put_u32(h + 8, crc);

    v[0].iov_base = h;
    v[0].iov_len = sizeof(h);
    memcpy(&v[1], iov, iovcnt * sizeof(*iov));
    v[1 + iovcnt].iov_base = (void *)zeros;
    v[1 + iovcnt].iov_len = PAD8(len) - len;
    writer_emit(w, l, v, iovcnt + 2, sizeof(h) + PAD8(len));
    l->records++;
    if (l == w->lane)
        w->records++;
}

void xlmig_write_recordv(struct xlmig_stream_writer *w, uint32_t type,
                         const struct iovec *iov, int iovcnt)
{
    lane_recordv(w, &w->lane[0], type, iov, iovcnt);
}

void xlmig_write_record(struct xlmig_stream_writer *w, uint32_t type,
                        const void *body, size_t len)
{
    struct iovec iov = { (void *)body, len };

    xlmig_write_recordv(w, type, &iov, 1);
}

void xlmig_write_domain_info(struct xlmig_stream_writer *w,
                             const struct xlmig_domain_desc *d)
{
    uint8_t b[XLMIG_DOMAIN_INFO_SIZE] = { 0 };

    xlmig_put_u32(b, d->backend_id);
    xlmig_put_u32(b + 4, d->page_shift);
    xlmig_put_u64(b + 8, d->nr_pages);
    xlmig_put_u32(b + 16, d->nr_vcpus);
    xlmig_put_u32(b + 20, 0);
    memcpy(b + 24, d->uuid, 16);
    memcpy(b + 40, d->name, strnlen(d->name, XLMIG_NAME_MAX - 1));
    xlmig_write_record(w, XLMIG_REC_DOMAIN_INFO, b, sizeof(b));
}

void xlmig_write_config(struct xlmig_stream_writer *w, uint32_t format,
                        const void *cfg, size_t len)
{
    uint8_t h[8] = { 0 };
    struct iovec iov[2] = { { h, 8 }, { (void *)cfg, len } };

    xlmig_put_u32(h, format);
    xlmig_write_recordv(w, XLMIG_REC_DOMAIN_CONFIG, iov, 2);
}

static void write_blob(struct xlmig_stream_writer *w, uint32_t type,
                       uint32_t a, uint32_t b, const void *data, size_t len)
{
    uint8_t h[8];
    struct iovec iov[2] = { { h, 8 }, { (void *)data, len } };

    xlmig_put_u32(h, a);
    xlmig_put_u32(h + 4, b);
    xlmig_write_recordv(w, type, iov, 2);
}

void xlmig_write_vcpu(struct xlmig_stream_writer *w, uint32_t id,
                      const void *state, size_t len)
{
    write_blob(w, XLMIG_REC_VCPU_STATE, id, 0, state, len);
}

void xlmig_write_device(struct xlmig_stream_writer *w, uint32_t dtype,
                        uint32_t instance, const void *state, size_t len)
{
    write_blob(w, XLMIG_REC_DEVICE_STATE, dtype, instance, state, len);
}

void xlmig_write_xen_stream(struct xlmig_stream_writer *w, const void *data,
                            size_t len)
{
    const uint8_t *p = data;

    while (len && !w->err) {
        size_t n = len < XLMIG_XEN_CHUNK_MAX ? len : XLMIG_XEN_CHUNK_MAX;
        uint8_t off[8];
        struct iovec iov[2] = {
            { off, sizeof(off) },
            { (void *)p, n },
        };

        xlmig_put_u64(off, w->xen_bytes);
        xlmig_write_recordv(w, XLMIG_REC_XEN_STREAM, iov, 2);
        if (w->err)
            return;
        w->xen_bytes += n;
        p += n;
        len -= n;
    }
}

void xlmig_write_source_info(struct xlmig_stream_writer *w)
{
    char host[256] = "unknown", text[512];
    time_t now = time(NULL);
    struct tm tm;
    int n;

    if (gethostname(host, sizeof(host) - 1) < 0)
        strcpy(host, "unknown");
    host[sizeof(host) - 1] = '\0';
    gmtime_r(&now, &tm);
    n = snprintf(text, sizeof(text),
                 "host=%s\ntime=%04d-%02d-%02dT%02d:%02d:%02dZ\n"
                 "writer=xlmig %s\n",
                 host, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, XLMIG_VERSION);
    if (n < 0 || (size_t)n >= sizeof(text))
        n = 0;
    xlmig_write_record(w, XLMIG_REC_SOURCE_INFO, text, (size_t)n);
}

bool xlmig_page_is_zero(const void *page)
{
    const uint64_t *p = page;

    for (unsigned i = 0; i < XLMIG_PAGE_SIZE / 8; i += 8) {
        if (p[i] | p[i + 1] | p[i + 2] | p[i + 3] | p[i + 4] | p[i + 5] |
            p[i + 6] | p[i + 7])
            return false;
    }
    return true;
}

static void lane_flush(struct xlmig_stream_writer *w, struct xlmig_wlane *l)
{
    uint8_t h[8] = { 0 };
    struct iovec iov[3];

    if (!l->nr)
        return;
    xlmig_put_u32(h, l->nr);
    iov[0].iov_base = h;
    iov[0].iov_len = 8;
    iov[1].iov_base = l->pfns;
    iov[1].iov_len = (size_t)l->nr * 8;
    iov[2].iov_base = l->data;
    iov[2].iov_len = (size_t)l->nr_data * XLMIG_PAGE_SIZE;
    lane_recordv(w, l, XLMIG_REC_PAGE_DATA, iov, 3);
    l->nr = 0;
    l->nr_data = 0;
}

void xlmig_write_flush_pages(struct xlmig_stream_writer *w)
{
    for (unsigned i = 0; i < w->nlanes; i++)
        lane_flush(w, &w->lane[i]);
    for (unsigned i = 0; i < w->nlanes && !w->err; i++) {
        struct xlmig_sink *s = &w->lane[i].sink;
        int rc = s->drain ? s->drain(s->opaque) : 0;
        if (rc) {
            LOG_ERR(w->ctx, "data lane %u failed: %s", i, xlmig_strerror(rc));
            w->err = rc;
        }
    }
}

static struct xlmig_wlane *lane_for(struct xlmig_stream_writer *w,
                                    uint64_t pfn)
{
    return &w->lane[xlmig_lane_of(w->nlanes, pfn)];
}

static void queue_pfn(struct xlmig_stream_writer *w, struct xlmig_wlane *l,
                      uint64_t pfn, enum xlmig_pfn_type t)
{
    uint8_t *e = (uint8_t *)&l->pfns[l->nr++];

    xlmig_put_u64(e, (pfn & XLMIG_PFN_MASK) |
                     (uint64_t)t << XLMIG_PFN_TYPE_SHIFT);
    if (t == XLMIG_PFN_ZERO) {
        w->pages_zero++;
        l->pages_zero++;
    } else {
        w->pages_data++;
        l->pages_data++;
    }
    if (l->nr >= w->batch)
        lane_flush(w, l);
}

void xlmig_write_zero_page(struct xlmig_stream_writer *w, uint64_t pfn)
{
    queue_pfn(w, lane_for(w, pfn), pfn, XLMIG_PFN_ZERO);
}

void xlmig_write_page(struct xlmig_stream_writer *w, uint64_t pfn,
                      const void *page)
{
    struct xlmig_wlane *l = lane_for(w, pfn);
    uint8_t *dst = l->data + (size_t)l->nr_data * XLMIG_PAGE_SIZE;

    /* Copy first, test the copy: the guest may write the source under us
     * (live migration), and what we checksum must be what we send. */
    memcpy(dst, page, XLMIG_PAGE_SIZE);
    if (xlmig_page_is_zero(dst)) {
        queue_pfn(w, l, pfn, XLMIG_PFN_ZERO);
        return;
    }
    l->nr_data++;
    queue_pfn(w, l, pfn, XLMIG_PFN_NORMAL);
}

uint8_t *xlmig_write_pages_reserve(struct xlmig_stream_writer *w,
                                   uint64_t pfn, unsigned *n)
{
    struct xlmig_wlane *l = lane_for(w, pfn);
    unsigned room = w->batch > l->nr ? w->batch - l->nr : 1;

    if (w->nlanes > 1) {
        unsigned left = XLMIG_LANE_CHUNK - (unsigned)(pfn &
                                                      (XLMIG_LANE_CHUNK - 1));
        if (room > left)
            room = left;
    }
    if (*n > room)
        *n = room;
    return l->data + (size_t)l->nr_data * XLMIG_PAGE_SIZE;
}

void xlmig_write_pages_commit(struct xlmig_stream_writer *w, uint64_t pfn,
                              unsigned n)
{
    struct xlmig_wlane *l = lane_for(w, pfn);
    uint8_t *base = l->data + (size_t)l->nr_data * XLMIG_PAGE_SIZE;

    /* The batch cannot fill before the last page: reserve capped n. */
    for (unsigned i = 0; i < n; i++) {
        uint8_t *src = base + (size_t)i * XLMIG_PAGE_SIZE;
        uint8_t *dst = l->data + (size_t)l->nr_data * XLMIG_PAGE_SIZE;

        if (xlmig_page_is_zero(src)) {
            queue_pfn(w, l, pfn + i, XLMIG_PFN_ZERO);
            continue;
        }
        if (src != dst)         /* close the gap a zero page left */
            memmove(dst, src, XLMIG_PAGE_SIZE);
        l->nr_data++;
        queue_pfn(w, l, pfn + i, XLMIG_PFN_NORMAL);
    }
}

void xlmig_write_end(struct xlmig_stream_writer *w)
{
    uint8_t b[XLMIG_END_SIZE] = { 0 };

    xlmig_write_flush_pages(w);
    xlmig_put_u64(b, w->pages_data);
    xlmig_put_u64(b + 8, w->pages_zero);
    xlmig_put_u32(b + 16, w->records);   /* records before END */
    xlmig_write_record(w, XLMIG_REC_END, b, sizeof(b));
}

/* ---- reader ---- */

int xlmig_reader_init(struct xlmig_stream_reader *r, xlmig_ctx *ctx,
                      const struct xlmig_source *src)
{
    memset(r, 0, sizeof(*r));
    r->ctx = ctx;
    r->src = *src;
    r->own_fd = -1;
    r->phase = XLMIG_RD_HEADER;
    r->buf = malloc(XLMIG_REC_BODY_MAX);
    if (!r->buf)
        return XLMIG_ERR_NOMEM;
    return 0;
}

int xlmig_reader_init_channel(struct xlmig_stream_reader *r, xlmig_ctx *ctx,
                              const struct xlmig_source *src,
                              const struct xlmig_stream_reader *main)
{
    int rc = xlmig_reader_init(r, ctx, src);

    if (rc)
        return rc;
    if (!main->seen_pfn)
        return XLMIG_ERR_STATE;
    r->channel = true;
    r->seen_borrowed = true;
    r->seen_pfn = main->seen_pfn;
    r->desc = main->desc;
    r->version = main->version;
    r->phase = XLMIG_RD_BODY;
    return 0;
}

void xlmig_reader_dispose(struct xlmig_stream_reader *r)
{
    free(r->buf);
    if (!r->seen_borrowed)
        free(r->seen_pfn);
    free(r->seen_vcpu);
    if (r->own_fd >= 0)
        close(r->own_fd);
    r->own_fd = -1;
    r->buf = NULL;
    r->seen_pfn = NULL;
    r->seen_vcpu = NULL;
}

int xlmig_reader_open_file(struct xlmig_stream_reader *r, xlmig_ctx *ctx,
                           const char *path)
{
    struct xlmig_source src;
    int fd, rc;

    /* "-": standard input (a stream piped in) */
    fd = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) :
                             fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0);
    xlmig_source_fd(&src, &r->own_fd);
    rc = xlmig_reader_init(r, ctx, &src);
    r->own_fd = fd;
    if (fd < 0) {
        LOG_ERR(ctx, "cannot open %s: %s", path, strerror(errno));
        return xlmig_errno_rc(errno);
    }
    if (rc)
        return rc;
    return xlmig_read_header(r);
}

/* Record the failure, with where it was found, and log it. */
XLMIG_PRINTF(4, 5)
static int bad(struct xlmig_stream_reader *r, int rc,
               const struct xlmig_record *rec, const char *fmt, ...)
{
    char what[192];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    if (rec)
        snprintf(r->errmsg, sizeof(r->errmsg),
                 "record %u (%s) at offset %llu: %s", rec->index,
                 xlmig_rec_type_name(rec->type),
                 (unsigned long long)rec->offset, what);
    else
        snprintf(r->errmsg, sizeof(r->errmsg), "at offset %llu: %s",
                 (unsigned long long)r->offset, what);
    LOG_ERR(r->ctx, "invalid stream: %s", r->errmsg);
    return rc;
}

static int src_read(struct xlmig_stream_reader *r, void *buf, size_t len,
                    size_t *got)
{
    size_t g = 0;
    int rc = r->src.read(r->src.opaque, buf, len, &g);

    r->offset += rc ? g : len;
    if (got)
        *got = rc ? g : len;
    return rc;
}

int xlmig_read_header(struct xlmig_stream_reader *r)
{
    uint8_t h[XLMIG_STREAM_HDR_SIZE];
    uint32_t version, hsize, crc;
    size_t got;
    int rc;

    rc = src_read(r, h, sizeof(h), &got);
    if (rc == XLMIG_ERR_TRUNCATED)
        return bad(r, rc, NULL,
                   "stream header truncated: expected %d bytes, got %zu",
                   XLMIG_STREAM_HDR_SIZE, got);
    if (rc)
        return bad(r, rc, NULL, "reading stream header: %s",
                   xlmig_strerror(rc));
    r->offset = 0;      /* errors below are about the header itself */
    if (memcmp(h, XLMIG_STREAM_MAGIC, 8))
        return bad(r, XLMIG_ERR_STREAM, NULL,
                   "not an xlmig stream: bad magic %02x%02x%02x%02x"
                   "%02x%02x%02x%02x, expected \"" XLMIG_STREAM_MAGIC "\"",
                   h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
    version = xlmig_get_u32(h + 8);
    hsize = xlmig_get_u32(h + 12);
    if (version != XLMIG_STREAM_VERSION)
        return bad(r, XLMIG_ERR_VERSION, NULL,
                   "stream version %u not supported (this reader reads "
                   "version %u)", version, XLMIG_STREAM_VERSION);
    if (hsize != XLMIG_STREAM_HDR_SIZE)
        return bad(r, XLMIG_ERR_STREAM, NULL,
                   "header size: expected %u, got %u",
                   XLMIG_STREAM_HDR_SIZE, hsize);
    crc = xlmig_get_u32(h + 20);
    xlmig_put_u32(h + 20, 0);
    if (crc != xlmig_crc32c(0, h, sizeof(h)))
        return bad(r, XLMIG_ERR_CHECKSUM, NULL,
                   "header checksum: expected 0x%08x, got 0x%08x",
                   xlmig_crc32c(0, h, sizeof(h)), crc);
    r->version = version;
    r->offset = XLMIG_STREAM_HDR_SIZE;
    r->phase = XLMIG_RD_INFO;
    return 0;
}

static bool name_ok(const char *s)
{
    if (!*s || *s == '-' || *s == '.')
        return false;
    for (; *s; s++) {
        char c = *s;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

int xlmig_rec_get_domain_info(const struct xlmig_record *rec,
                              struct xlmig_domain_desc *d, char *why,
                              size_t whylen)
{
    struct xlmig_cursor c;
    const uint8_t *name;

    xlmig_cursor_init(&c, rec->body, rec->length);
    memset(d, 0, sizeof(*d));
    d->backend_id = xlmig_cursor_u32(&c);
    d->page_shift = xlmig_cursor_u32(&c);
    d->nr_pages = xlmig_cursor_u64(&c);
    d->nr_vcpus = xlmig_cursor_u32(&c);
    (void)xlmig_cursor_u32(&c);                 /* reserved */
    xlmig_cursor_copy(&c, d->uuid, 16);
    name = xlmig_cursor_take(&c, XLMIG_NAME_MAX);
    if (c.bad || rec->length != XLMIG_DOMAIN_INFO_SIZE) {
        snprintf(why, whylen, "length: expected %u, got %u",
                 XLMIG_DOMAIN_INFO_SIZE, rec->length);
        return XLMIG_ERR_STREAM;
    }
    if (d->backend_id != XLMIG_STREAM_BACKEND_SIM &&
        d->backend_id != XLMIG_STREAM_BACKEND_XEN) {
        snprintf(why, whylen, "unknown backend id %u", d->backend_id);
        return XLMIG_ERR_STREAM;
    }
    if (d->page_shift != XLMIG_PAGE_SHIFT) {
        snprintf(why, whylen, "page shift: expected %u, got %u",
                 XLMIG_PAGE_SHIFT, d->page_shift);
        return XLMIG_ERR_STREAM;
    }
    if (d->nr_pages == 0 || d->nr_pages > XLMIG_NR_PAGES_MAX) {
        snprintf(why, whylen,
                 "page count: expected 1 to %llu, got %llu",
                 (unsigned long long)XLMIG_NR_PAGES_MAX,
                 (unsigned long long)d->nr_pages);
        return XLMIG_ERR_STREAM;
    }
    if (d->nr_vcpus == 0 || d->nr_vcpus > XLMIG_VCPUS_MAX) {
        snprintf(why, whylen, "vCPU count: expected 1 to %u, got %u",
                 XLMIG_VCPUS_MAX, d->nr_vcpus);
        return XLMIG_ERR_STREAM;
    }
    if (!memchr(name, '\0', XLMIG_NAME_MAX)) {
        snprintf(why, whylen, "domain name is not NUL-terminated");
        return XLMIG_ERR_STREAM;
    }
    memcpy(d->name, name, XLMIG_NAME_MAX);
    if (!name_ok(d->name)) {
        snprintf(why, whylen, "domain name \"%.63s\" has characters "
                 "outside [A-Za-z0-9_.-] or is empty", d->name);
        return XLMIG_ERR_STREAM;
    }
    return 0;
}

static int check_pages(struct xlmig_stream_reader *r,
                       const struct xlmig_record *rec)
{
    struct xlmig_cursor c;
    uint32_t count, nr_data = 0;
    const uint8_t *pfns;

    xlmig_cursor_init(&c, rec->body, rec->length);
    count = xlmig_cursor_u32(&c);
    (void)xlmig_cursor_u32(&c);
    if (c.bad)
        return bad(r, XLMIG_ERR_STREAM, rec,
                   "length %u is less than the 8 byte batch header",
                   rec->length);
    if (count == 0 || count > XLMIG_PAGE_BATCH_MAX)
        return bad(r, XLMIG_ERR_STREAM, rec,
                   "page count: expected 1 to %u, got %u",
                   XLMIG_PAGE_BATCH_MAX, count);
    pfns = xlmig_cursor_take(&c, (size_t)count * 8);
    if (!pfns)
        return bad(r, XLMIG_ERR_STREAM, rec,
                   "length %u too short for %u pfn entries",
                   rec->length, count);
    for (uint32_t i = 0; i < count; i++) {
        uint64_t e = xlmig_get_u64(pfns + 8 * i);
        uint64_t pfn = e & XLMIG_PFN_MASK;
        unsigned t = (unsigned)(e >> XLMIG_PFN_TYPE_SHIFT);

        if (e & XLMIG_PFN_RESERVED_MASK)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "entry %u: reserved bits set in 0x%016llx", i,
                       (unsigned long long)e);
        if (t != XLMIG_PFN_NORMAL && t != XLMIG_PFN_ZERO)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "entry %u: unknown page type %u", i, t);
        if (pfn >= r->desc.nr_pages)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "entry %u: pfn 0x%llx beyond the domain's %llu "
                       "pages", i, (unsigned long long)pfn,
                       (unsigned long long)r->desc.nr_pages);
        if (t == XLMIG_PFN_NORMAL)
            nr_data++;
    }
    if (xlmig_cursor_left(&c) != (size_t)nr_data * XLMIG_PAGE_SIZE)
        return bad(r, XLMIG_ERR_STREAM, rec,
                   "page data: expected %llu bytes for %u pages, got %zu",
                   (unsigned long long)nr_data * XLMIG_PAGE_SIZE, nr_data,
                   xlmig_cursor_left(&c));
    /* Valid: now account for it. */
    for (uint32_t i = 0; i < count; i++) {
        uint64_t pfn = xlmig_get_u64(pfns + 8 * i) & XLMIG_PFN_MASK;
        r->seen_pfn[pfn >> 3] |= (uint8_t)(1u << (pfn & 7));
    }
    r->pages_data += nr_data;
    r->pages_zero += count - nr_data;
    return 0;
}

static int check_end(struct xlmig_stream_reader *r,
                     const struct xlmig_record *rec)
{
    struct xlmig_rec_end e;

    if (rec->length != XLMIG_END_SIZE)
        return bad(r, XLMIG_ERR_STREAM, rec, "length: expected %u, got %u",
                   XLMIG_END_SIZE, rec->length);
    xlmig_rec_get_end(rec, &e);
    if (r->desc.backend_id == XLMIG_STREAM_BACKEND_XEN && !r->xen_bytes)
        return bad(r, XLMIG_ERR_STREAM, rec, "a xen stream ended without "
                   "any XEN_STREAM record");
    if (e.records != rec->index)
        return bad(r, XLMIG_ERR_STREAM, rec,
                   "record count: END says %u, stream had %u", e.records,
                   rec->index);
    if (e.pages_data != r->pages_data || e.pages_zero != r->pages_zero)
        return bad(r, XLMIG_ERR_STREAM, rec,
                   "page count: END says %llu data + %llu zero, stream "
                   "had %llu + %llu",
                   (unsigned long long)e.pages_data,
                   (unsigned long long)e.pages_zero,
                   (unsigned long long)r->pages_data,
                   (unsigned long long)r->pages_zero);
    if (r->desc.backend_id == XLMIG_STREAM_BACKEND_XEN)
        return 0;       /* memory and vCPUs are inside Xen's stream */
    for (uint64_t i = 0; i < (r->desc.nr_pages + 7) / 8; i++) {
        uint64_t pfn;

        if (r->seen_pfn[i] == 0xff)
            continue;
        for (pfn = i * 8; pfn < r->desc.nr_pages && pfn < i * 8 + 8; pfn++)
            if (!(r->seen_pfn[i] & (1u << (pfn & 7))))
                return bad(r, XLMIG_ERR_STREAM, rec,
                           "pfn 0x%llx was never sent (a stream must "
                           "carry every page)", (unsigned long long)pfn);
    }
    for (uint32_t v = 0; v < r->desc.nr_vcpus; v++) {
        if (!(r->seen_vcpu[v >> 3] & (1u << (v & 7))))
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "vCPU %u state was never sent", v);
    }
    return 0;
}

static int check_record(struct xlmig_stream_reader *r,
                        const struct xlmig_record *rec)
{
    char why[160];
    int rc;

    /* Optional records may stand anywhere between header and END. */
    if ((rec->type & XLMIG_REC_OPTIONAL) && r->phase != XLMIG_RD_DONE &&
        r->phase != XLMIG_RD_HEADER) {
        if (rec->type == XLMIG_REC_SOURCE_INFO &&
            rec->length > XLMIG_SOURCE_INFO_MAX)
            return bad(r, XLMIG_ERR_STREAM, rec, "%u bytes exceeds %u",
                       rec->length, XLMIG_SOURCE_INFO_MAX);
        return 0;       /* unknown optional: the caller skips it */
    }

    switch (r->phase) {
    case XLMIG_RD_INFO:
        if (rec->type != XLMIG_REC_DOMAIN_INFO)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "expected DOMAIN_INFO as the first record");
        rc = xlmig_rec_get_domain_info(rec, &r->desc, why, sizeof(why));
        if (rc)
            return bad(r, rc, rec, "%s", why);
        r->seen_pfn = calloc((r->desc.nr_pages + 7) / 8, 1);
        r->seen_vcpu = calloc((r->desc.nr_vcpus + 7) / 8, 1);
        if (!r->seen_pfn || !r->seen_vcpu)
            return bad(r, XLMIG_ERR_NOMEM, rec,
                       "cannot track %llu pages",
                       (unsigned long long)r->desc.nr_pages);
        r->phase = XLMIG_RD_CONFIG;
        return 0;
    case XLMIG_RD_CONFIG:
        if (rec->type != XLMIG_REC_DOMAIN_CONFIG)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "expected DOMAIN_CONFIG after DOMAIN_INFO");
        if (rec->length < 8)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "length %u is less than 8", rec->length);
        if (xlmig_get_u32(rec->body) != XLMIG_CONFIG_SIM_KV &&
            xlmig_get_u32(rec->body) != XLMIG_CONFIG_LIBXL_JSON)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "unknown configuration format %u",
                       xlmig_get_u32(rec->body));
        if (rec->length - 8 > XLMIG_CONFIG_MAX)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "configuration of %u bytes exceeds %u",
                       rec->length - 8, XLMIG_CONFIG_MAX);
        r->phase = XLMIG_RD_BODY;
        return 0;
    case XLMIG_RD_BODY:
        break;
    case XLMIG_RD_DONE:
        return bad(r, XLMIG_ERR_STREAM, rec, "record after END");
    case XLMIG_RD_HEADER:
        return bad(r, XLMIG_ERR_STATE, rec, "header not read yet");
    }

    if (r->channel && rec->type != XLMIG_REC_PAGE_DATA)
        return bad(r, XLMIG_ERR_STREAM, rec, "a data channel carries "
                   "PAGE_DATA records only");
    if (r->desc.backend_id == XLMIG_STREAM_BACKEND_XEN &&
        (rec->type == XLMIG_REC_PAGE_DATA ||
         rec->type == XLMIG_REC_VCPU_STATE ||
         rec->type == XLMIG_REC_DEVICE_STATE))
        return bad(r, XLMIG_ERR_STREAM, rec, "a xen stream carries the "
                   "domain's state in XEN_STREAM records only");
    switch (rec->type) {
    case XLMIG_REC_XEN_STREAM: {
        struct xlmig_rec_xen x;

        if (r->desc.backend_id != XLMIG_STREAM_BACKEND_XEN)
            return bad(r, XLMIG_ERR_STREAM, rec, "XEN_STREAM in a stream "
                       "of backend %s",
                       xlmig_stream_backend_name(r->desc.backend_id));
        if (rec->length <= 8)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "length %u: no data after the offset", rec->length);
        if (rec->length - 8 > XLMIG_XEN_CHUNK_MAX)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "%u bytes of Xen's stream exceed %u",
                       rec->length - 8, XLMIG_XEN_CHUNK_MAX);
        xlmig_rec_get_xen(rec, &x);
        if (x.offset != r->xen_bytes)
            return bad(r, XLMIG_ERR_STREAM, rec, "Xen stream offset %llu, "
                       "but %llu bytes came before",
                       (unsigned long long)x.offset,
                       (unsigned long long)r->xen_bytes);
        r->xen_bytes += x.len;
        return 0;
    }
    case XLMIG_REC_PAGE_DATA:
        return check_pages(r, rec);
    case XLMIG_REC_VCPU_STATE: {
        uint32_t id, len = rec->length - 8;
        if (rec->length < 8)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "length %u is less than 8", rec->length);
        id = xlmig_get_u32(rec->body);
        if (id >= r->desc.nr_vcpus)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "vCPU %u: the domain has %u vCPUs", id,
                       r->desc.nr_vcpus);
        if (len > XLMIG_VCPU_STATE_MAX)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "vCPU state of %u bytes exceeds %u", len,
                       XLMIG_VCPU_STATE_MAX);
        if (r->seen_vcpu[id >> 3] & (1u << (id & 7)))
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "second state record for vCPU %u", id);
        r->seen_vcpu[id >> 3] |= (uint8_t)(1u << (id & 7));
        return 0;
    }
    case XLMIG_REC_DEVICE_STATE:
        if (rec->length < 8)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "length %u is less than 8", rec->length);
        if (rec->length - 8 > XLMIG_DEVICE_STATE_MAX)
            return bad(r, XLMIG_ERR_STREAM, rec,
                       "device state of %u bytes exceeds %u",
                       rec->length - 8, XLMIG_DEVICE_STATE_MAX);
        return 0;
    case XLMIG_REC_END:
        if (r->hooks && r->hooks->before_end &&
            (rc = r->hooks->before_end(r->hooks->opaque, r)))
            return bad(r, rc, rec, "a data channel failed: %s",
                       xlmig_strerror(rc));
        rc = check_end(r, rec);
        if (!rc)
            r->phase = XLMIG_RD_DONE;
        return rc;
    case XLMIG_REC_DOMAIN_INFO:
    case XLMIG_REC_DOMAIN_CONFIG:
        return bad(r, XLMIG_ERR_STREAM, rec, "appears twice");
    default:
        return bad(r, XLMIG_ERR_STREAM, rec,
                   "unknown mandatory record type 0x%08x", rec->type);
    }
}

int xlmig_read_record(struct xlmig_stream_reader *r, struct xlmig_record *rec)
{
    const uint8_t *body;
    uint8_t h[XLMIG_REC_HDR_SIZE];
    uint32_t crc, want;
    size_t got, padded;
    int rc;

    memset(rec, 0, sizeof(*rec));
    rec->offset = r->offset;
    rec->index = r->index;
    if (r->phase == XLMIG_RD_HEADER)
        return bad(r, XLMIG_ERR_STATE, NULL, "header not read yet");
    if (r->phase == XLMIG_RD_DONE)
        return bad(r, XLMIG_ERR_STATE, NULL, "END already read");

    rc = src_read(r, h, sizeof(h), &got);
    if (rc == XLMIG_ERR_TRUNCATED && got == 0 && r->channel) {
        r->phase = XLMIG_RD_DONE;       /* the channel's clean end */
        return 0;
    }
    if (rc == XLMIG_ERR_TRUNCATED && got == 0)
        return bad(r, rc, NULL,
                   "stream ends after %u records without an END record",
                   r->index);
    if (rc == XLMIG_ERR_TRUNCATED)
        return bad(r, rc, NULL,
                   "record %u header truncated: expected %d bytes, got %zu",
                   r->index, XLMIG_REC_HDR_SIZE, got);
    if (rc)
        return bad(r, rc, NULL, "reading record %u: %s", r->index,
                   xlmig_strerror(rc));
    rec->type = xlmig_get_u32(h);
    rec->length = xlmig_get_u32(h + 4);
    crc = xlmig_get_u32(h + 8);
    if (rec->type == 0)
        return bad(r, XLMIG_ERR_STREAM, rec, "record type 0 is invalid");
    if (rec->length > XLMIG_REC_BODY_MAX)
        return bad(r, XLMIG_ERR_STREAM, rec,
                   "length %u exceeds the %u byte limit", rec->length,
                   XLMIG_REC_BODY_MAX);
    padded = PAD8(rec->length);
    body = r->src.borrow && padded ?
           r->src.borrow(r->src.opaque, padded) : NULL;
    if (body) {
        r->offset += padded;
    } else {
        rc = src_read(r, r->buf, padded, &got);
        if (rc == XLMIG_ERR_TRUNCATED)
            return bad(r, rc, rec, "body truncated: expected %zu bytes, "
                       "got %zu", padded, got);
        if (rc)
            return bad(r, rc, rec, "reading body: %s", xlmig_strerror(rc));
        body = r->buf;
    }
    xlmig_put_u32(h + 8, 0);
    want = xlmig_crc32c(xlmig_crc32c(0, h, sizeof(h)), body, rec->length);
    if (want != crc)
        return bad(r, XLMIG_ERR_CHECKSUM, rec,
                   "checksum: computed 0x%08x, record says 0x%08x", want,
                   crc);
    rec->body = body;
    rc = check_record(r, rec);
    if (rc)
        return rc;
    r->index++;
    return 0;
}

int xlmig_read_expect_eof(struct xlmig_stream_reader *r)
{
    uint8_t b;
    size_t got = 0;
    int rc = r->src.read(r->src.opaque, &b, 1, &got);

    if (rc == XLMIG_ERR_TRUNCATED && got == 0)
        return 0;
    if (rc && rc != XLMIG_ERR_TRUNCATED)
        return bad(r, rc, NULL, "after END: %s", xlmig_strerror(rc));
    return bad(r, XLMIG_ERR_STREAM, NULL, "data follows the END record");
}

void xlmig_rec_get_pages(const struct xlmig_record *rec,
                         struct xlmig_rec_pages *out)
{
    out->count = xlmig_get_u32(rec->body);
    out->pfns = rec->body + 8;
    out->data = out->pfns + (size_t)out->count * 8;
    out->nr_data = (uint32_t)((rec->length - 8 - (size_t)out->count * 8) /
                              XLMIG_PAGE_SIZE);
}

void xlmig_rec_get_blob(const struct xlmig_record *rec,
                        struct xlmig_rec_blob *out)
{
    out->id = xlmig_get_u32(rec->body);
    out->instance = xlmig_get_u32(rec->body + 4);
    out->data = rec->body + 8;
    out->len = rec->length - 8;
}

void xlmig_rec_get_xen(const struct xlmig_record *rec,
                       struct xlmig_rec_xen *out)
{
    out->offset = xlmig_get_u64(rec->body);
    out->data = rec->body + 8;
    out->len = rec->length - 8;
}

void xlmig_rec_get_end(const struct xlmig_record *rec,
                       struct xlmig_rec_end *out)
{
    out->pages_data = xlmig_get_u64(rec->body);
    out->pages_zero = xlmig_get_u64(rec->body + 8);
    out->records = xlmig_get_u32(rec->body + 16);
}
