/*
 * xlmig stream format v1: docs/specs/stream.md is the normative text; the
 * constants and layouts here mirror it and the static asserts in stream.c
 * pin their sizes.  All fields are little-endian.
 */
#ifndef XLMIG_STREAM_H
#define XLMIG_STREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/cursor.h"
#include "core/private.h"

#define XLMIG_STREAM_MAGIC "XLMIGSTR"      /* 8 bytes, no NUL */
#define XLMIG_STREAM_VERSION 1
#define XLMIG_STREAM_HDR_SIZE 24
#define XLMIG_REC_HDR_SIZE 16

/* Record types.  Bit 31 set: optional, a reader may skip it. */
#define XLMIG_REC_OPTIONAL 0x80000000u
enum xlmig_rec_type {
    XLMIG_REC_DOMAIN_INFO = 0x00000001,
    XLMIG_REC_DOMAIN_CONFIG = 0x00000002,
    XLMIG_REC_PAGE_DATA = 0x00000003,
    XLMIG_REC_VCPU_STATE = 0x00000004,
    XLMIG_REC_DEVICE_STATE = 0x00000005,
    XLMIG_REC_END = 0x00000006,
    XLMIG_REC_XEN_STREAM = 0x00000007,
    XLMIG_REC_DISK_IMAGE = 0x00000008,  /* a disk copied with the domain */
    XLMIG_REC_DISK_DATA = 0x00000009,   /* blocks of such a disk */
    XLMIG_REC_SOURCE_INFO = 0x80000001,
};

enum xlmig_stream_backend {
    XLMIG_STREAM_BACKEND_SIM = 1,
    XLMIG_STREAM_BACKEND_XEN = 2,
};

enum xlmig_config_format {
    XLMIG_CONFIG_SIM_KV = 1,    /* "key=value\n" lines */
    XLMIG_CONFIG_LIBXL_JSON = 2,
};

/* PAGE_DATA pfn entries: pfn in bits 0-51, type in bits 60-63. */
#define XLMIG_PFN_MASK ((UINT64_C(1) << 52) - 1)
#define XLMIG_PFN_TYPE_SHIFT 60
#define XLMIG_PFN_RESERVED_MASK (UINT64_C(0xff) << 52)
enum xlmig_pfn_type {
    XLMIG_PFN_NORMAL = 0,       /* page contents follow */
    XLMIG_PFN_ZERO = 1,         /* page is all zero; nothing follows */
};

/* Limits a reader enforces before it allocates or acts. */
#define XLMIG_PAGE_BATCH_MAX 1024
#define XLMIG_DOMAIN_INFO_SIZE 104
#define XLMIG_CONFIG_MAX (1u << 20)
#define XLMIG_VCPU_STATE_MAX (64u << 10)
#define XLMIG_DEVICE_STATE_MAX (16u << 20)
#define XLMIG_SOURCE_INFO_MAX 4096
#define XLMIG_END_SIZE 24
#define XLMIG_XEN_CHUNK_MAX (1u << 20)  /* bytes of Xen's stream per record */
#define XLMIG_VCPUS_MAX 4096
#ifndef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
#define XLMIG_NR_PAGES_MAX (UINT64_C(1) << 32)   /* 16 TiB of 4 KiB pages */
#else
/* The fuzz build reads domains of up to 4 GiB: tracking every page of a
 * 16 TiB one, input after input, would spend the fuzzer's time in calloc
 * and the END check instead of in the parser.  The checks are the same. */
#define XLMIG_NR_PAGES_MAX (UINT64_C(1) << 20)
#endif
/*
 * Disks copied with the domain (migrate --copy-storage; docs/specs/
 * stream.md): DISK_IMAGE {u32 disk, u32 flags 0, u64 size} announces
 * each before any of its blocks; DISK_DATA {u32 disk, u32 count, count
 * u64 entries, then 4 KiB of contents for each DATA entry} carries its
 * blocks.  An entry is a block number in bits 0-39 and a type in bits
 * 60-63; bits 40-59 are zero.
 */
#define XLMIG_DISKS_MAX 16
#define XLMIG_DISK_BLOCK 4096u
#define XLMIG_DISK_BATCH_MAX 256
#define XLMIG_DISK_BLOCK_MASK ((UINT64_C(1) << 40) - 1)
#define XLMIG_DISK_SIZE_MAX ((UINT64_C(1) << 40) * XLMIG_DISK_BLOCK)
enum xlmig_disk_entry_type {
    XLMIG_DISK_DATA = 0,        /* the block's contents follow */
    XLMIG_DISK_ZERO = 1,        /* the block is all zero now */
};

#define XLMIG_REC_BODY_MAX                                            \
    (8 + XLMIG_PAGE_BATCH_MAX * (8 + XLMIG_PAGE_SIZE))

const char *xlmig_rec_type_name(uint32_t type);
const char *xlmig_stream_backend_name(uint32_t id);

/*
 * Byte sink and source.  The file implementations live in stream.c; the
 * TLS transport adds its own.  writev returns 0 or an XLMIG_ERR_* code;
 * read returns 0, XLMIG_ERR_TRUNCATED on a short read (with *got set), or
 * another XLMIG_ERR_* code.
 */
struct xlmig_sink {
    int (*writev)(void *opaque, const struct iovec *iov, int iovcnt);
    /* Optional: return once everything written has left (a sink that
     * queues for another thread); 0 or the first error. */
    int (*drain)(void *opaque);
    void *opaque;
};
struct xlmig_source {
    int (*read)(void *opaque, void *buf, size_t len, size_t *got);
    /* Optional: the next @len bytes in place, if the source holds them
     * contiguously (consumed; valid until the next call), else NULL and
     * nothing consumed.  Saves the reader a copy of every record body. */
    const void *(*borrow)(void *opaque, size_t len);
    void *opaque;
};
void xlmig_sink_fd(struct xlmig_sink *s, int *fd);
void xlmig_source_fd(struct xlmig_source *s, int *fd);

/* In-memory sink and source (tests, fuzzing).  The sink grows p with
 * realloc (caller frees); the source reads p[pos..len). */
struct xlmig_membuf {
    uint8_t *p;
    size_t len;
    size_t cap;
    size_t pos;
};
void xlmig_sink_mem(struct xlmig_sink *s, struct xlmig_membuf *m);
void xlmig_source_mem(struct xlmig_source *s, struct xlmig_membuf *m);

/* ---- writer ---- */

/*
 * Data lanes (docs/specs/protocol.md, "Data channels"): with more than one,
 * PAGE_DATA records are spread over them by pfn in chunks of
 * XLMIG_LANE_CHUNK pages, so every version of a page travels, in order, on
 * the same lane.  Lane 0 is the writer's own sink, which also carries
 * every other record.
 */
#define XLMIG_LANES_MAX 64
#define XLMIG_LANE_CHUNK_SHIFT 9        /* 512 pages: 2 MiB */
#define XLMIG_LANE_CHUNK (1u << XLMIG_LANE_CHUNK_SHIFT)

struct xlmig_wlane {
    struct xlmig_sink sink;
    uint64_t offset;            /* bytes written on this lane */
    uint32_t records;
    uint64_t pages_data;
    uint64_t pages_zero;
    /* page batch being built */
    uint64_t *pfns;
    uint8_t *data;
    unsigned nr;
    unsigned nr_data;
};

struct xlmig_stream_writer {
    xlmig_ctx *ctx;
    struct xlmig_sink sink;     /* lane 0 */
    int err;                    /* sticky: first failure, then no-ops */
    uint64_t offset;            /* bytes written, all lanes */
    uint32_t records;           /* records on lane 0 (END counts these) */
    uint64_t pages_data;        /* all lanes */
    uint64_t pages_zero;
    uint64_t xen_bytes;         /* of Xen's stream, in XEN_STREAM records */
    unsigned batch;             /* pages per PAGE_DATA record, at most
                                 * XLMIG_PAGE_BATCH_MAX (the default) */
    unsigned nlanes;            /* 1 unless xlmig_writer_set_lanes */
    struct xlmig_wlane *lane;   /* [nlanes]; lane[0].sink == sink */
};

int xlmig_writer_init(struct xlmig_stream_writer *w, xlmig_ctx *ctx,
                      const struct xlmig_sink *sink) XLMIG_MUST_CHECK;
void xlmig_writer_dispose(struct xlmig_stream_writer *w);
/*
 * Spread pages over @n lanes: @sinks[0] .. @sinks[n - 2] are lanes 1 to
 * n - 1.  Call before the first page.
 */
int xlmig_writer_set_lanes(struct xlmig_stream_writer *w, unsigned n,
                           const struct xlmig_sink *sinks) XLMIG_MUST_CHECK;
/* The lane that carries @pfn. */
static inline unsigned xlmig_lane_of(unsigned nlanes, uint64_t pfn)
{
    return nlanes > 1 ?
           (unsigned)((pfn >> XLMIG_LANE_CHUNK_SHIFT) % nlanes) : 0;
}
/* The lane that carries block @block of disk @disk: chunks of 512
 * blocks (2 MiB), like pages, the disks' chunks offset so that small
 * disks do not all start on one lane. */
static inline unsigned xlmig_disk_lane_of(unsigned nlanes, uint32_t disk,
                                          uint64_t block)
{
    return nlanes > 1 ?
           (unsigned)(((block >> XLMIG_LANE_CHUNK_SHIFT) + disk) % nlanes) :
           0;
}
void xlmig_write_header(struct xlmig_stream_writer *w);
/* Write one record; errors latch in w->err. */
void xlmig_write_record(struct xlmig_stream_writer *w, uint32_t type,
                        const void *body, size_t len);
/* Same, with a body given in pieces. */
void xlmig_write_recordv(struct xlmig_stream_writer *w, uint32_t type,
                         const struct iovec *iov, int iovcnt);
void xlmig_write_domain_info(struct xlmig_stream_writer *w,
                             const struct xlmig_domain_desc *d);
void xlmig_write_config(struct xlmig_stream_writer *w, uint32_t format,
                        const void *cfg, size_t len);
void xlmig_write_vcpu(struct xlmig_stream_writer *w, uint32_t id,
                      const void *state, size_t len);
void xlmig_write_device(struct xlmig_stream_writer *w, uint32_t dtype,
                        uint32_t instance, const void *state, size_t len);
void xlmig_write_source_info(struct xlmig_stream_writer *w);
/* The next @len bytes of Xen's own migration stream (xen backend), split
 * into records of at most XLMIG_XEN_CHUNK_MAX; w->xen_bytes counts them. */
void xlmig_write_xen_stream(struct xlmig_stream_writer *w, const void *data,
                            size_t len);
/* Queue one page (copied now, so the source may change after); a full
 * batch is written out.  All-zero contents are sent as a ZERO pfn. */
void xlmig_write_page(struct xlmig_stream_writer *w, uint64_t pfn,
                      const void *page);
void xlmig_write_zero_page(struct xlmig_stream_writer *w, uint64_t pfn);
/* A copied disk: its DISK_IMAGE record, then DISK_DATA records of up to
 * XLMIG_DISK_BATCH_MAX blocks, each an entry in @blocks (XLMIG_DISK_ZERO
 * in bits 60-63, or DATA with its 4 KiB in @data, in order). */
void xlmig_write_disk_image(struct xlmig_stream_writer *w, uint32_t disk,
                            uint64_t size);
void xlmig_write_disk_data(struct xlmig_stream_writer *w, uint32_t disk,
                           const uint64_t *blocks, uint32_t count,
                           const uint8_t *data, uint32_t nr_data);
/*
 * Zero-copy variant for a run of consecutive pfns from @pfn: reserve room
 * for up to *n pages in the batch of @pfn's lane (*n is lowered to what
 * fits, and to the end of the lane's chunk), fill it (e.g. with pread),
 * then commit the first *n pfns from @pfn.  Zero pages among them are
 * sent as ZERO entries.
 */
uint8_t *xlmig_write_pages_reserve(struct xlmig_stream_writer *w,
                                   uint64_t pfn, unsigned *n);
void xlmig_write_pages_commit(struct xlmig_stream_writer *w, uint64_t pfn,
                              unsigned n);
/* Write out every lane's partial batch and drain the lanes. */
void xlmig_write_flush_pages(struct xlmig_stream_writer *w);
void xlmig_write_end(struct xlmig_stream_writer *w);

bool xlmig_page_is_zero(const void *page);

/* ---- reader ---- */

struct xlmig_record {
    uint32_t type;
    uint32_t length;
    uint64_t offset;            /* of the record header in the stream */
    uint32_t index;             /* 0-based record number */
    const uint8_t *body;        /* valid until the next read */
};

struct xlmig_rec_pages {
    uint32_t count;
    const uint8_t *pfns;        /* count little-endian u64 entries */
    const uint8_t *data;        /* contents of the NORMAL entries, in order */
    uint32_t nr_data;
};

struct xlmig_rec_disk_image {
    uint32_t disk;
    uint64_t size;
};

struct xlmig_rec_disk_data {
    uint32_t disk;
    uint32_t count;
    const uint8_t *entries;     /* count little-endian u64 */
    const uint8_t *data;        /* the DATA entries' contents, in order */
};

struct xlmig_rec_blob {
    uint32_t id;                /* vcpu id, or device type */
    uint32_t instance;          /* device instance (0 for vcpus) */
    const uint8_t *data;
    uint32_t len;
};

struct xlmig_rec_xen {
    uint64_t offset;            /* of data within Xen's stream */
    const uint8_t *data;
    uint32_t len;
};

struct xlmig_rec_end {
    uint64_t pages_data;
    uint64_t pages_zero;
    uint32_t records;
};

enum xlmig_reader_phase {
    XLMIG_RD_HEADER,            /* expecting the stream header */
    XLMIG_RD_INFO,              /* expecting DOMAIN_INFO */
    XLMIG_RD_CONFIG,            /* expecting DOMAIN_CONFIG */
    XLMIG_RD_BODY,              /* state records */
    XLMIG_RD_DONE,              /* END seen */
};

/*
 * A stream whose pages also arrive on data channels (migrate.c) tells
 * its channels through these.  Every member may be NULL.
 */
struct xlmig_stream_reader;
struct xlmig_reader_hooks {
    void *opaque;
    /* The domain exists: the channels may load pages into it. */
    void (*created)(void *opaque, struct xlmig_dom *dom);
    /* END is next: wait until every channel has ended and add its page
     * counts to @r; 0 or the error that failed a channel. */
    int (*before_end)(void *opaque, struct xlmig_stream_reader *r);
    /* The restore failed: return once no channel touches the domain. */
    void (*stop)(void *opaque);
};

struct xlmig_stream_reader {
    xlmig_ctx *ctx;
    struct xlmig_source src;
    enum xlmig_reader_phase phase;
    uint32_t version;
    uint64_t offset;
    uint32_t index;
    uint8_t *buf;               /* bodies read (not borrowed), grown on */
    bool formats_only;          /* skip the backends' record checks:
                                 * tests of the format alone */
    size_t buf_cap;             /* demand up to XLMIG_REC_BODY_MAX + 8 */
    struct xlmig_domain_desc desc;
    uint64_t pages_data;
    uint64_t pages_zero;
    uint64_t xen_bytes;         /* of Xen's stream so far */
    uint8_t *seen_pfn;          /* bitmap: pfn sent at least once */
    uint8_t *seen_vcpu;         /* bitmap: vcpu state received */
    uint64_t disk_size[XLMIG_DISKS_MAX];        /* DISK_IMAGE's; 0 none */
    int own_fd;                 /* xlmig_reader_open_file's, or -1 */
    bool channel;               /* a data channel: PAGE_DATA only */
    bool seen_borrowed;         /* seen_pfn is the main reader's */
    const struct xlmig_reader_hooks *hooks;
    /* set when the last error was found, for callers that report it */
    char errmsg[256];
};

int xlmig_reader_init(struct xlmig_stream_reader *r, xlmig_ctx *ctx,
                      const struct xlmig_source *src) XLMIG_MUST_CHECK;
void xlmig_reader_dispose(struct xlmig_stream_reader *r);
/*
 * A reader for one data channel of the stream @main is reading (past its
 * DOMAIN_INFO): it takes PAGE_DATA records only, checks them against
 * @main's domain and marks their pfns in @main's bitmap.  A clean end of
 * the channel, at a record boundary, is returned as 0 with rec->type 0
 * and the reader's phase XLMIG_RD_DONE.
 */
int xlmig_reader_init_channel(struct xlmig_stream_reader *r, xlmig_ctx *ctx,
                              const struct xlmig_source *src,
                              const struct xlmig_stream_reader *main)
    XLMIG_MUST_CHECK;
/*
 * Open the stream file @path and read its header.  Whatever it returns,
 * @r is initialised and must be disposed (which closes the file).
 */
int xlmig_reader_open_file(struct xlmig_stream_reader *r, xlmig_ctx *ctx,
                           const char *path) XLMIG_MUST_CHECK;
int xlmig_read_header(struct xlmig_stream_reader *r) XLMIG_MUST_CHECK;
/*
 * Read and validate the next record: framing, checksum, the record's own
 * layout, its place in the stream and its values against DOMAIN_INFO.
 * Unknown optional records are returned so a dumper can show them;
 * consumers ignore them.  After END, *rec has type END and a further call
 * checks that nothing follows.
 */
int xlmig_read_record(struct xlmig_stream_reader *r, struct xlmig_record *rec)
    XLMIG_MUST_CHECK;
/* After END: fail unless the source is at its end. */
int xlmig_read_expect_eof(struct xlmig_stream_reader *r) XLMIG_MUST_CHECK;

/* Decoders for a record already validated by xlmig_read_record(). */
void xlmig_rec_get_pages(const struct xlmig_record *rec,
                         struct xlmig_rec_pages *out);
void xlmig_rec_get_blob(const struct xlmig_record *rec,
                        struct xlmig_rec_blob *out);
void xlmig_rec_get_end(const struct xlmig_record *rec,
                       struct xlmig_rec_end *out);
void xlmig_rec_get_xen(const struct xlmig_record *rec,
                       struct xlmig_rec_xen *out);
void xlmig_rec_get_disk_image(const struct xlmig_record *rec,
                              struct xlmig_rec_disk_image *out);
void xlmig_rec_get_disk_data(const struct xlmig_record *rec,
                             struct xlmig_rec_disk_data *out);
int xlmig_rec_get_domain_info(const struct xlmig_record *rec,
                              struct xlmig_domain_desc *out, char *why,
                              size_t whylen) XLMIG_MUST_CHECK;

#endif
