/*
 * xlmig stream v1: the reader (docs/specs/stream.md).
 *
 * The reader treats every byte as hostile: it caps each length before
 * reading, checks the checksum before looking inside a record, validates
 * counts and indices against DOMAIN_INFO before anything acts on them,
 * and enforces the record order (header, DOMAIN_INFO, DOMAIN_CONFIG, state
 * records, END, end of stream).
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

int xlmig_reader_init(struct xlmig_stream_reader *r, xlmig_ctx *ctx,
                      const struct xlmig_source *src)
{
    memset(r, 0, sizeof(*r));
    r->ctx = ctx;
    r->src = *src;
    r->own_fd = -1;
    r->phase = XLMIG_RD_HEADER;
    return 0;
}

/* Room for a body of @len octets (padded) in r->buf: it grows by
 * doubling, so a stream of small records never holds a full page batch's
 * buffer, and one of page batches grows it once. */
static int buf_reserve(struct xlmig_stream_reader *r, size_t len)
{
    size_t cap = r->buf_cap ? r->buf_cap : 4096;
    uint8_t *nb;

    if (len <= r->buf_cap)
        return 0;
    while (cap < len)
        cap *= 2;
    nb = realloc(r->buf, cap);
    if (!nb)
        return XLMIG_ERR_NOMEM;
    r->buf = nb;
    r->buf_cap = cap;
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
    /* The disks the control stream announced (all of them: the channel
     * starts once its DISK_IMAGE records are read). */
    memcpy(r->disk_size, main->disk_size, sizeof(r->disk_size));
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
    r->buf_cap = 0;
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

/* The stream's backend's own checks of @rec (core/private.h). */
static int backend_check(struct xlmig_stream_reader *r,
                         const struct xlmig_record *rec)
{
    char why[256];
    int rc;

    if (r->formats_only)
        return 0;
    for (size_t i = 0; xlmig_record_checks[i]; i++) {
        if (xlmig_record_checks[i]->stream_id != r->desc.backend_id)
            continue;
        rc = xlmig_record_checks[i]->check(&r->desc, rec, why, sizeof(why));
        return rc ? bad(r, rc, rec, "%s", why) : 0;
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
        rc = backend_check(r, rec);
        if (rc)
            return rc;
        r->phase = XLMIG_RD_BODY;
        return 0;
    case XLMIG_RD_BODY:
        break;
    case XLMIG_RD_DONE:
        return bad(r, XLMIG_ERR_STREAM, rec, "record after END");
    case XLMIG_RD_HEADER:
        return bad(r, XLMIG_ERR_STATE, rec, "header not read yet");
    }

    if (r->channel && rec->type != XLMIG_REC_PAGE_DATA &&
        rec->type != XLMIG_REC_DISK_DATA)
        return bad(r, XLMIG_ERR_STREAM, rec, "a data channel carries "
                   "PAGE_DATA and DISK_DATA records only");
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
    case XLMIG_REC_DISK_IMAGE: {
        uint32_t disk;
        uint64_t size;
        if (rec->length != 16)
            return bad(r, XLMIG_ERR_STREAM, rec, "length %u, not 16",
                       rec->length);
        disk = xlmig_get_u32(rec->body);
        size = xlmig_get_u64(rec->body + 8);
        if (disk >= XLMIG_DISKS_MAX)
            return bad(r, XLMIG_ERR_STREAM, rec, "disk %u: at most %u",
                       disk, XLMIG_DISKS_MAX);
        if (xlmig_get_u32(rec->body + 4))
            return bad(r, XLMIG_ERR_STREAM, rec, "flags 0x%x: none are "
                       "defined", xlmig_get_u32(rec->body + 4));
        if (size == 0 || size > XLMIG_DISK_SIZE_MAX)
            return bad(r, XLMIG_ERR_STREAM, rec, "disk %u: size %llu is "
                       "not from 1 to 4 PiB", disk,
                       (unsigned long long)size);
        if (r->disk_size[disk])
            return bad(r, XLMIG_ERR_STREAM, rec, "disk %u announced twice",
                       disk);
        if (r->pages_data + r->pages_zero || r->xen_bytes)
            return bad(r, XLMIG_ERR_STREAM, rec, "disk %u announced after "
                       "the domain's memory began", disk);
        r->disk_size[disk] = size;
        return 0;
    }
    case XLMIG_REC_DISK_DATA: {
        uint32_t disk, count, nd = 0;
        if (rec->length < 8)
            return bad(r, XLMIG_ERR_STREAM, rec, "length %u is less than 8",
                       rec->length);
        disk = xlmig_get_u32(rec->body);
        count = xlmig_get_u32(rec->body + 4);
        if (disk >= XLMIG_DISKS_MAX || !r->disk_size[disk])
            return bad(r, XLMIG_ERR_STREAM, rec, "disk %u has no "
                       "DISK_IMAGE before it", disk);
        if (count == 0 || count > XLMIG_DISK_BATCH_MAX)
            return bad(r, XLMIG_ERR_STREAM, rec, "%u blocks: from 1 to %u",
                       count, XLMIG_DISK_BATCH_MAX);
        if ((rec->length - 8) / 8 < count)
            return bad(r, XLMIG_ERR_STREAM, rec, "length %u is too short "
                       "for %u entries", rec->length, count);
        for (uint32_t i = 0; i < count; i++) {
            uint64_t e = xlmig_get_u64(rec->body + 8 + 8 * (size_t)i);
            uint64_t b = e & XLMIG_DISK_BLOCK_MASK;
            unsigned t = (unsigned)(e >> 60);
            if (e & (UINT64_C(0xfffff) << 40))
                return bad(r, XLMIG_ERR_STREAM, rec, "entry %u: reserved "
                           "bits set", i);
            if (t != XLMIG_DISK_DATA && t != XLMIG_DISK_ZERO)
                return bad(r, XLMIG_ERR_STREAM, rec, "entry %u: unknown "
                           "block type %u", i, t);
            if (b >= (r->disk_size[disk] + XLMIG_DISK_BLOCK - 1) /
                         XLMIG_DISK_BLOCK)
                return bad(r, XLMIG_ERR_STREAM, rec, "entry %u: block "
                           "%llu is past the end of disk %u (%llu octets)",
                           i, (unsigned long long)b, disk,
                           (unsigned long long)r->disk_size[disk]);
            nd += t == XLMIG_DISK_DATA;
        }
        if (rec->length != 8 + 8 * (uint64_t)count +
                              (uint64_t)nd * XLMIG_DISK_BLOCK)
            return bad(r, XLMIG_ERR_STREAM, rec, "length %u, but %u "
                       "entries with %u blocks of data make %llu",
                       rec->length, count, nd,
                       (unsigned long long)(8 + 8 * (uint64_t)count +
                                            (uint64_t)nd *
                                                XLMIG_DISK_BLOCK));
        return 0;
    }
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
        rc = backend_check(r, rec);
        if (rc)
            return rc;
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
        return backend_check(r, rec);
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
        rc = buf_reserve(r, padded ? padded : 8);
        if (rc)
            return bad(r, rc, rec, "no memory for a %zu byte body", padded);
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

void xlmig_rec_get_disk_image(const struct xlmig_record *rec,
                              struct xlmig_rec_disk_image *out)
{
    out->disk = xlmig_get_u32(rec->body);
    out->size = xlmig_get_u64(rec->body + 8);
}

void xlmig_rec_get_disk_data(const struct xlmig_record *rec,
                             struct xlmig_rec_disk_data *out)
{
    out->disk = xlmig_get_u32(rec->body);
    out->count = xlmig_get_u32(rec->body + 4);
    out->entries = rec->body + 8;
    out->data = rec->body + 8 + 8 * (size_t)out->count;
}

void xlmig_rec_get_end(const struct xlmig_record *rec,
                       struct xlmig_rec_end *out)
{
    out->pages_data = xlmig_get_u64(rec->body);
    out->pages_zero = xlmig_get_u64(rec->body + 8);
    out->records = xlmig_get_u32(rec->body + 16);
}

