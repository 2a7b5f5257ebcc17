/*
 * xlmig stream v1: the writer (docs/specs/stream.md).  Records are
 * written through a sink, pages batched per lane (one lane per data
 * channel); the first error latches in w->err and every later write is a
 * no-op, so callers check at flush points.
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

void xlmig_write_disk_image(struct xlmig_stream_writer *w, uint32_t disk,
                            uint64_t size)
{
    uint8_t b[16];

    xlmig_put_u32(b, disk);
    xlmig_put_u32(b + 4, 0);
    xlmig_put_u64(b + 8, size);
    xlmig_write_record(w, XLMIG_REC_DISK_IMAGE, b, sizeof(b));
}

void xlmig_write_disk_data(struct xlmig_stream_writer *w, uint32_t disk,
                           const uint64_t *blocks, uint32_t count,
                           const uint8_t *data, uint32_t nr_data)
{
    uint8_t hdr[8], ent[XLMIG_DISK_BATCH_MAX * 8];
    struct iovec iov[3] = {
        { hdr, sizeof(hdr) },
        { ent, (size_t)count * 8 },
        { (void *)data, (size_t)nr_data * XLMIG_DISK_BLOCK },
    };

    if (count == 0 || count > XLMIG_DISK_BATCH_MAX || nr_data > count) {
        w->err = w->err ? w->err : XLMIG_ERR_INVAL;
        return;
    }
    /* With lanes, each run of entries goes on its blocks' lane, so
     * every version of a block travels on one lane, in order. */
    for (uint32_t i = 0; i < count && !w->err;) {
        unsigned lane = xlmig_disk_lane_of(w->nlanes, disk,
                                           blocks[i] & XLMIG_DISK_BLOCK_MASK);
        uint32_t n = 0, nd = 0;

        while (i + n < count &&
               xlmig_disk_lane_of(w->nlanes, disk, blocks[i + n] &
                                  XLMIG_DISK_BLOCK_MASK) == lane) {
            xlmig_put_u64(ent + 8 * n, blocks[i + n]);
            nd += (blocks[i + n] >> 60) == XLMIG_DISK_DATA;
            n++;
        }
        if (nd > nr_data) {
            w->err = XLMIG_ERR_INVAL;
            return;
        }
        xlmig_put_u32(hdr, disk);
        xlmig_put_u32(hdr + 4, n);
        iov[1].iov_len = (size_t)n * 8;
        iov[2].iov_base = (void *)data;
        iov[2].iov_len = (size_t)nd * XLMIG_DISK_BLOCK;
        lane_recordv(w, &w->lane[lane], XLMIG_REC_DISK_DATA, iov,
                     nd ? 3 : 2);
        data += (size_t)nd * XLMIG_DISK_BLOCK;
        nr_data -= nd;
        i += n;
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

