/*
 * Stream v1: golden bytes for every record type, and the ways a stream can
 * be wrong (truncated anywhere, any byte corrupted, wrong version, limits
 * exceeded, out-of-order or missing records), each of which must fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crc32c.h"
#include "proto/stream.h"
#include "proto/xen_stream.h"

/*
 * Checksums of the golden records.  They were produced by the writer once
 * and frozen: any change to the bytes a v1 writer emits shows up here.
 */
#define GOLDEN_HDR_CRC 0xeb, 0xf5, 0xae, 0x52
#define GOLDEN_INFO_CRC 0xe1, 0x51, 0xb7, 0xd6
#define GOLDEN_CONFIG_CRC 0x64, 0x7f, 0x6e, 0x5a
#define GOLDEN_PAGES_CRC 0x2b, 0x1d, 0x82, 0x9b
#define GOLDEN_VCPU_CRC 0xf7, 0x9f, 0xd4, 0x37
#define GOLDEN_DEV_CRC 0x4d, 0xbf, 0x22, 0x08
#define GOLDEN_END_CRC 0x30, 0xf2, 0xe7, 0xf6
#define GOLDEN_SRCINFO_CRC 0x97, 0x48, 0x08, 0x4e

static xlmig_ctx *ctx;
static FILE *devnull;

/* A 4-page, 1-vCPU domain: pfn 0 data (0xab), pfns 1-3 zero. */
static void build(struct xlmig_membuf *m)
{
    struct xlmig_stream_writer w;
    struct xlmig_sink sink;
    struct xlmig_domain_desc d = {
        .backend_id = XLMIG_STREAM_BACKEND_SIM, .page_shift = 12,
        .nr_pages = 4, .nr_vcpus = 1, .name = "g",
    };
    static uint8_t page[4096];
    static const uint8_t zero[4096];
    static const uint8_t vcpu[4] = { 1, 2, 3, 4 };
    static const uint8_t dev[8] = { 9, 8, 7, 6, 5, 4, 3, 2 };

    for (int i = 0; i < 16; i++)
        d.uuid[i] = (uint8_t)i;
    memset(page, 0xab, sizeof(page));
    memset(m, 0, sizeof(*m));
    xlmig_sink_mem(&sink, m);
    assert_int_equal(xlmig_writer_init(&w, ctx, &sink), 0);
    xlmig_write_header(&w);
    xlmig_write_domain_info(&w, &d);
    xlmig_write_config(&w, XLMIG_CONFIG_SIM_KV, "a=b\n", 4);
    xlmig_write_page(&w, 0, page);
    xlmig_write_page(&w, 1, zero);
    xlmig_write_zero_page(&w, 2);
    xlmig_write_zero_page(&w, 3);
    xlmig_write_flush_pages(&w);
    xlmig_write_vcpu(&w, 0, vcpu, sizeof(vcpu));
    xlmig_write_device(&w, 1, 0, dev, sizeof(dev));
    xlmig_write_end(&w);
    assert_int_equal(w.err, 0);
    xlmig_writer_dispose(&w);
}

/* Offsets of each record in the stream built above. */
enum {
    OFF_INFO = 24,
    OFF_CONFIG = OFF_INFO + 16 + 104,
    OFF_PAGES = OFF_CONFIG + 16 + 16,
    OFF_VCPU = OFF_PAGES + 16 + 8 + 32 + 4096,
    OFF_DEV = OFF_VCPU + 16 + 16,
    OFF_END = OFF_DEV + 16 + 16,
    STREAM_LEN = OFF_END + 16 + 24,
};

/* Read a whole stream; returns the first error or 0.  @checked: with the
 * backends' record checks, as restore and dump-stream read (the format
 * tests read without: their golden configuration is no sim domain's);
 * the reason of a refusal goes to @why when given. */
static int read_stream(const uint8_t *p, size_t len, unsigned *records,
                       bool checked, char *why, size_t wl)
{
    struct xlmig_membuf m = { .p = (uint8_t *)p, .len = len };
    struct xlmig_stream_reader r;
    struct xlmig_source src;
    struct xlmig_record rec;
    int rc;

    xlmig_source_mem(&src, &m);
    assert_int_equal(xlmig_reader_init(&r, ctx, &src), 0);
    r.formats_only = !checked;
    rc = xlmig_read_header(&r);
    while (!rc) {
        rc = xlmig_read_record(&r, &rec);
        if (!rc && rec.type == XLMIG_REC_END) {
            rc = xlmig_read_expect_eof(&r);
            break;
        }
    }
    if (records)
        *records = r.index;
    if (why)
        snprintf(why, wl, "%s", r.errmsg);
    xlmig_reader_dispose(&r);
    return rc;
}

static int read_all(const uint8_t *p, size_t len, unsigned *records)
{
    return read_stream(p, len, records, false, NULL, 0);
}

/* Recompute a record's checksum after a test edits it. */
static void reseal(uint8_t *p, size_t off)
{
    uint32_t len = xlmig_get_u32(p + off + 4);
    uint32_t crc;

    xlmig_put_u32(p + off + 8, 0);
    crc = xlmig_crc32c(xlmig_crc32c(0, p + off, 16), p + off + 16, len);
    xlmig_put_u32(p + off + 8, crc);
}

static const uint8_t golden_header[24] = {
    'X', 'L', 'M', 'I', 'G', 'S', 'T', 'R',
    0x01, 0x00, 0x00, 0x00,     /* version 1 */
    0x18, 0x00, 0x00, 0x00,     /* header size 24 */
    0x00, 0x00, 0x00, 0x00,     /* flags */
    GOLDEN_HDR_CRC
};

static const uint8_t golden_info[16 + 104] = {
    0x01, 0x00, 0x00, 0x00,     /* DOMAIN_INFO */
    0x68, 0x00, 0x00, 0x00,     /* 104 bytes */
    GOLDEN_INFO_CRC,
    0x00, 0x00, 0x00, 0x00,     /* reserved */
    0x01, 0x00, 0x00, 0x00,     /* backend sim */
    0x0c, 0x00, 0x00, 0x00,     /* page shift 12 */
    0x04, 0, 0, 0, 0, 0, 0, 0,  /* 4 pages */
    0x01, 0x00, 0x00, 0x00,     /* 1 vCPU */
    0x00, 0x00, 0x00, 0x00,     /* reserved */
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    'g',                        /* name, NUL padded to 64 */
};

static const uint8_t golden_config[16 + 16] = {
    0x02, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, GOLDEN_CONFIG_CRC,
    0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     /* format 1 */
    'a', '=', 'b', '\n', 0, 0, 0, 0,                    /* + padding */
};

static const uint8_t golden_pages_head[16 + 8 + 32] = {
    0x03, 0x00, 0x00, 0x00, 0x28, 0x10, 0x00, 0x00,     /* 4136 bytes */
    GOLDEN_PAGES_CRC, 0x00, 0x00, 0x00, 0x00,
    0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     /* 4 entries */
    0, 0, 0, 0, 0, 0, 0, 0x00,                          /* pfn 0 data */
    1, 0, 0, 0, 0, 0, 0, 0x10,                          /* pfn 1 zero */
    2, 0, 0, 0, 0, 0, 0, 0x10,
    3, 0, 0, 0, 0, 0, 0, 0x10,
};

static const uint8_t golden_vcpu[16 + 16] = {
    0x04, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, GOLDEN_VCPU_CRC,
    0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     /* vCPU 0 */
    1, 2, 3, 4, 0, 0, 0, 0,
};

static const uint8_t golden_dev[16 + 16] = {
    0x05, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, GOLDEN_DEV_CRC,
    0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,     /* type 1 inst 0 */
    9, 8, 7, 6, 5, 4, 3, 2,
};

static const uint8_t golden_end[16 + 24] = {
    0x06, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, GOLDEN_END_CRC,
    0x00, 0x00, 0x00, 0x00,
    1, 0, 0, 0, 0, 0, 0, 0,     /* 1 data page */
    3, 0, 0, 0, 0, 0, 0, 0,     /* 3 zero pages */
    5, 0, 0, 0, 0, 0, 0, 0,     /* 5 records before END */
};

static void test_golden(void **state)
{
    struct xlmig_membuf m;
    uint8_t page[4096];

    (void)state;
    build(&m);
    assert_int_equal(m.len, STREAM_LEN);
    assert_memory_equal(m.p, golden_header, sizeof(golden_header));
    assert_memory_equal(m.p + OFF_INFO, golden_info, sizeof(golden_info));
    assert_memory_equal(m.p + OFF_CONFIG, golden_config,
                        sizeof(golden_config));
    assert_memory_equal(m.p + OFF_PAGES, golden_pages_head,
                        sizeof(golden_pages_head));
    memset(page, 0xab, sizeof(page));
    assert_memory_equal(m.p + OFF_PAGES + sizeof(golden_pages_head), page,
                        4096);
    assert_memory_equal(m.p + OFF_VCPU, golden_vcpu, sizeof(golden_vcpu));
    assert_memory_equal(m.p + OFF_DEV, golden_dev, sizeof(golden_dev));
    assert_memory_equal(m.p + OFF_END, golden_end, sizeof(golden_end));
    free(m.p);
}

/* SOURCE_INFO's framing (its usual body, host and time, varies). */
static void test_golden_source_info(void **state)
{
    static const uint8_t golden[16 + 8] = {
        0x01, 0x00, 0x00, 0x80,     /* SOURCE_INFO, optional bit */
        0x06, 0x00, 0x00, 0x00,     /* 6 bytes */
        GOLDEN_SRCINFO_CRC, 0x00, 0x00, 0x00, 0x00,
        'h', 'o', 's', 't', '=', 'a', 0, 0,
    };
    struct xlmig_stream_writer w;
    struct xlmig_membuf m = { 0 };
    struct xlmig_sink sink;

    (void)state;
    xlmig_sink_mem(&sink, &m);
    assert_int_equal(xlmig_writer_init(&w, ctx, &sink), 0);
    xlmig_write_record(&w, XLMIG_REC_SOURCE_INFO, "host=a", 6);
    assert_int_equal(w.err, 0);
    assert_int_equal(m.len, sizeof(golden));
    assert_memory_equal(m.p, golden, sizeof(golden));
    xlmig_writer_dispose(&w);
    free(m.p);
}

static void test_roundtrip(void **state)
{
    struct xlmig_membuf m;
    unsigned n = 0;

    (void)state;
    build(&m);
    assert_int_equal(read_all(m.p, m.len, &n), 0);
    assert_int_equal(n, 6);
    free(m.p);
}

/* Every proper prefix of a valid stream is refused. */
static void test_truncated_everywhere(void **state)
{
    struct xlmig_membuf m;

    (void)state;
    build(&m);
    for (size_t cut = 0; cut < m.len; cut++) {
        int rc = read_all(m.p, cut, NULL);
        if (rc != XLMIG_ERR_TRUNCATED)
            fail_msg("prefix of %zu bytes: rc %d, expected truncated", cut,
                     rc);
    }
    free(m.p);
}

/* Flipping any bit of any byte that is not padding is detected. */
static void test_corrupt_everywhere(void **state)
{
    struct xlmig_membuf m;

    (void)state;
    build(&m);
    for (size_t i = 0; i < m.len; i++) {
        /* record padding is not covered, by the spec: the config and
         * vCPU bodies are 12 bytes, padded to 16 */
        if ((i >= OFF_CONFIG + 16 + 12 && i < OFF_CONFIG + 16 + 16) ||
            (i >= OFF_VCPU + 16 + 12 && i < OFF_VCPU + 16 + 16))
            continue;
        for (int bit = 0; bit < 8; bit += 3) {
            m.p[i] ^= (uint8_t)(1u << bit);
            if (read_all(m.p, m.len, NULL) == 0)
                fail_msg("bit %d of byte %zu flipped: stream accepted", bit,
                         i);
            m.p[i] ^= (uint8_t)(1u << bit);
        }
    }
    free(m.p);
}

static void test_wrong_version(void **state)
{
    struct xlmig_membuf m;

    (void)state;
    build(&m);
    xlmig_put_u32(m.p + 8, 2);
    xlmig_put_u32(m.p + 20, 0);
    xlmig_put_u32(m.p + 20, xlmig_crc32c(0, m.p, 24));
    assert_int_equal(read_all(m.p, m.len, NULL), XLMIG_ERR_VERSION);
    free(m.p);
}

static void test_bad_magic(void **state)
{
    struct xlmig_membuf m;

    (void)state;
    build(&m);
    m.p[0] = 'Q';
    assert_int_equal(read_all(m.p, m.len, NULL), XLMIG_ERR_STREAM);
    free(m.p);
}

static void test_oversized_length(void **state)
{
    struct xlmig_membuf m;

    (void)state;
    build(&m);
    xlmig_put_u32(m.p + OFF_PAGES + 4, XLMIG_REC_BODY_MAX + 8);
    assert_int_equal(read_all(m.p, m.len, NULL), XLMIG_ERR_STREAM);
    xlmig_put_u32(m.p + OFF_PAGES + 4, 0xffffffffu);
    assert_int_equal(read_all(m.p, m.len, NULL), XLMIG_ERR_STREAM);
    free(m.p);
}

/* Edit a record's body, fix its checksum, and expect @want. */
static void edit_expect(size_t off, size_t field, uint32_t v, int want)
{
    struct xlmig_membuf m;

    build(&m);
    xlmig_put_u32(m.p + off + 16 + field, v);
    reseal(m.p, off);
    assert_int_equal(read_all(m.p, m.len, NULL), want);
    free(m.p);
}

static void test_semantic_checks(void **state)
{
    (void)state;
    edit_expect(OFF_INFO, 0, 7, XLMIG_ERR_STREAM);       /* backend id */
    edit_expect(OFF_INFO, 4, 13, XLMIG_ERR_STREAM);      /* page shift */
    edit_expect(OFF_INFO, 8, 0, XLMIG_ERR_STREAM);       /* 0 pages */
    edit_expect(OFF_INFO, 16, 0, XLMIG_ERR_STREAM);      /* 0 vCPUs */
    edit_expect(OFF_INFO, 16, 2, XLMIG_ERR_STREAM);      /* vCPU 1 missing */
    edit_expect(OFF_INFO, 8, 5, XLMIG_ERR_STREAM);       /* pfn 4 missing */
    edit_expect(OFF_INFO, 40, 0x00002f2f, XLMIG_ERR_STREAM);  /* "//" */
    edit_expect(OFF_CONFIG, 0, 9, XLMIG_ERR_STREAM);     /* format */
    edit_expect(OFF_PAGES, 0, 0, XLMIG_ERR_STREAM);      /* count 0 */
    edit_expect(OFF_PAGES, 0, 5, XLMIG_ERR_STREAM);      /* count > data */
    edit_expect(OFF_PAGES, 0, 2000, XLMIG_ERR_STREAM);   /* over batch max */
    edit_expect(OFF_PAGES, 8, 4, XLMIG_ERR_STREAM);      /* pfn >= pages */
    edit_expect(OFF_PAGES, 12, 0x20000000, XLMIG_ERR_STREAM); /* type 2 */
    edit_expect(OFF_PAGES, 12, 0x00100000, XLMIG_ERR_STREAM); /* reserved */
    edit_expect(OFF_PAGES, 16, 0, XLMIG_ERR_STREAM);     /* zero->data */
    edit_expect(OFF_VCPU, 0, 1, XLMIG_ERR_STREAM);       /* vCPU 1 of 1 */
    edit_expect(OFF_END, 0, 2, XLMIG_ERR_STREAM);        /* page count */
    edit_expect(OFF_END, 16, 4, XLMIG_ERR_STREAM);       /* record count */
}

static void edit_type(size_t off, uint32_t type, int want)
{
    struct xlmig_membuf m;

    build(&m);
    xlmig_put_u32(m.p + off, type);
    reseal(m.p, off);
    assert_int_equal(read_all(m.p, m.len, NULL), want);
    free(m.p);
}

static void test_types_and_order(void **state)
{
    (void)state;
    edit_type(OFF_VCPU, 0, XLMIG_ERR_STREAM);            /* type 0 */
    edit_type(OFF_VCPU, 0x77, XLMIG_ERR_STREAM);         /* unknown mand. */
    edit_type(OFF_INFO, XLMIG_REC_DOMAIN_CONFIG, XLMIG_ERR_STREAM);
    edit_type(OFF_CONFIG, XLMIG_REC_DOMAIN_INFO, XLMIG_ERR_STREAM);
    edit_type(OFF_DEV, XLMIG_REC_DOMAIN_INFO, XLMIG_ERR_STREAM);
    edit_type(OFF_DEV, XLMIG_REC_VCPU_STATE, XLMIG_ERR_STREAM); /* twice */
    /* An unknown optional record is skipped, and END counts it like any
     * other record, so the stream is still valid: */
    edit_type(OFF_DEV, 0x80000077, 0);
}

/*
 * A copied disk's records: DISK_IMAGE before the memory, DISK_DATA with a
 * data block and a zero block, read back as written; then each check of
 * the reader, every one of which must refuse its edit.
 */
enum { DOFF_IMAGE = OFF_CONFIG + 16 + 16, DOFF_DATA = DOFF_IMAGE + 16 + 16 };

static void build_disk(struct xlmig_membuf *m, uint64_t size,
                       bool image_late)
{
    struct xlmig_stream_writer w;
    struct xlmig_sink sink;
    struct xlmig_domain_desc d = {
        .backend_id = XLMIG_STREAM_BACKEND_SIM, .page_shift = 12,
        .nr_pages = 1, .nr_vcpus = 1, .name = "g",
    };
    static uint8_t block[XLMIG_DISK_BLOCK], page[4096];
    static const uint8_t vcpu[4] = { 1, 2, 3, 4 };
    uint64_t e[2] = { 5, ((uint64_t)XLMIG_DISK_ZERO << 60) | 9 };

    memset(block, 0x5a, sizeof(block));
    memset(m, 0, sizeof(*m));
    xlmig_sink_mem(&sink, m);
    assert_int_equal(xlmig_writer_init(&w, ctx, &sink), 0);
    xlmig_write_header(&w);
    xlmig_write_domain_info(&w, &d);
    xlmig_write_config(&w, XLMIG_CONFIG_SIM_KV, "a=b\n", 4);
    if (!image_late)
        xlmig_write_disk_image(&w, 2, size);
    xlmig_write_disk_data(&w, 2, e, 2, block, 1);
    xlmig_write_page(&w, 0, page);
    xlmig_write_flush_pages(&w);
    if (image_late)
        xlmig_write_disk_image(&w, 2, size);
    xlmig_write_vcpu(&w, 0, vcpu, sizeof(vcpu));
    xlmig_write_end(&w);
    assert_int_equal(w.err, 0);
    xlmig_writer_dispose(&w);
}

static void disk_expect(size_t off, size_t field, uint32_t v,
                        const char *why)
{
    struct xlmig_membuf m;
    char got[256];

    build_disk(&m, 40960, false);
    xlmig_put_u32(m.p + off + 16 + field, v);
    reseal(m.p, off);
    assert_int_equal(read_stream(m.p, m.len, NULL, false, got, sizeof(got)),
                     XLMIG_ERR_STREAM);
    if (!strstr(got, why))
        fail_msg("edit at %zu+%zu: \"%s\", wanted \"%s\"", off, field,
                 got, why);
    free(m.p);
}

static void test_disk_records(void **state)
{
    struct xlmig_membuf m, src;
    struct xlmig_stream_reader r;
    struct xlmig_source so;
    struct xlmig_record rec;
    struct xlmig_rec_disk_image di;
    struct xlmig_rec_disk_data dd;
    unsigned seen = 0;
    char got[256];

    (void)state;
    build_disk(&m, 40960, false);
    src = (struct xlmig_membuf){ .p = m.p, .len = m.len };
    xlmig_source_mem(&so, &src);
    assert_int_equal(xlmig_reader_init(&r, ctx, &so), 0);
    r.formats_only = true;
    assert_int_equal(xlmig_read_header(&r), 0);
    while (xlmig_read_record(&r, &rec) == 0 && rec.type != XLMIG_REC_END) {
        if (rec.type == XLMIG_REC_DISK_IMAGE) {
            xlmig_rec_get_disk_image(&rec, &di);
            assert_int_equal(di.disk, 2);
            assert_int_equal(di.size, 40960);
            seen |= 1;
        } else if (rec.type == XLMIG_REC_DISK_DATA) {
            xlmig_rec_get_disk_data(&rec, &dd);
            assert_int_equal(dd.disk, 2);
            assert_int_equal(dd.count, 2);
            assert_int_equal(xlmig_get_u64(dd.entries), 5);
            assert_int_equal(xlmig_get_u64(dd.entries + 8) >> 60,
                             XLMIG_DISK_ZERO);
            assert_int_equal(xlmig_get_u64(dd.entries + 8) &
                             XLMIG_DISK_BLOCK_MASK, 9);
            assert_int_equal(dd.data[0], 0x5a);
            assert_int_equal(dd.data[XLMIG_DISK_BLOCK - 1], 0x5a);
            assert_int_equal(rec.length, 8 + 16 + XLMIG_DISK_BLOCK);
            seen |= 2;
        }
    }
    assert_int_equal(rec.type, XLMIG_REC_END);
    assert_int_equal(seen, 3);
    xlmig_reader_dispose(&r);
    free(m.p);

    disk_expect(DOFF_IMAGE, 0, XLMIG_DISKS_MAX, "at most");
    disk_expect(DOFF_IMAGE, 4, 1, "none are defined");
    disk_expect(DOFF_IMAGE, 8, 0, "not from 1 to 4 PiB");  /* size 0 */
    disk_expect(DOFF_DATA, 0, 3, "has no DISK_IMAGE before it");
    disk_expect(DOFF_DATA, 4, 0, "from 1 to 256");
    disk_expect(DOFF_DATA, 4, 1, "1 entries with 1 blocks of data make 4112");
    disk_expect(DOFF_DATA, 8, 10, "past the end of disk 2");  /* block 10 */
    disk_expect(DOFF_DATA, 12, 0x20000000, "unknown block type 2");
    disk_expect(DOFF_DATA, 12, 0x00000100, "reserved bits");
    disk_expect(DOFF_DATA, 20, 0, "entries with 2 blocks of data");
    /* Announced after the memory began: too late to make the image. */
    build_disk(&m, 40960, true);
    assert_int_equal(read_stream(m.p, m.len, NULL, false, got, sizeof(got)),
                     XLMIG_ERR_STREAM);
    free(m.p);
    /* Announced twice. */
    build_disk(&m, 40960, false);
    xlmig_put_u32(m.p + DOFF_DATA, XLMIG_REC_DISK_IMAGE);
    xlmig_put_u32(m.p + DOFF_DATA + 4, 16);
    xlmig_put_u32(m.p + DOFF_DATA + 16, 2);
    xlmig_put_u32(m.p + DOFF_DATA + 20, 0);
    xlmig_put_u64(m.p + DOFF_DATA + 24, 4096);
    reseal(m.p, DOFF_DATA);
    assert_int_equal(read_stream(m.p, m.len, NULL, false, got, sizeof(got)),
                     XLMIG_ERR_STREAM);
    assert_non_null(strstr(got, "announced twice"));
    free(m.p);
}

static void test_trailing_data(void **state)
{
    struct xlmig_membuf m;

    (void)state;
    build(&m);
    m.p = realloc(m.p, m.len + 1);
    assert_non_null(m.p);
    m.p[m.len] = 0;
    assert_int_equal(read_all(m.p, m.len + 1, NULL), XLMIG_ERR_STREAM);
    free(m.p);
}

/* ---- data lanes ---- */

#define LANES 3
#define LANE_PAGES (4 * XLMIG_LANE_CHUNK + 100)

struct lane_check {
    struct xlmig_membuf *bufs;          /* [LANES]; [0] unused */
    int rc;
    int before_end_calls;
    unsigned disk_blocks;               /* DISK_DATA entries, all lanes */
};

/* A DISK_DATA record read on lane @k: every entry is of that lane, and
 * each DATA block holds its number's low octet. */
static void check_disk_lane(const struct xlmig_record *rec, unsigned k,
                            struct lane_check *lc)
{
    struct xlmig_rec_disk_data dd;
    const uint8_t *data;

    xlmig_rec_get_disk_data(rec, &dd);
    data = dd.data;
    for (uint32_t i = 0; i < dd.count; i++) {
        uint64_t e = xlmig_get_u64(dd.entries + 8 * (size_t)i);
        uint64_t b = e & XLMIG_DISK_BLOCK_MASK;
        assert_int_equal(xlmig_disk_lane_of(LANES, dd.disk, b), k);
        if ((e >> 60) == XLMIG_DISK_DATA) {
            assert_int_equal(data[0], (uint8_t)b);
            data += XLMIG_DISK_BLOCK;
        }
        lc->disk_blocks++;
    }
}

/* The main reader's before_end: read every channel the way a
 * destination's channel threads do, and add their counts. */
static int read_lanes(void *opaque, struct xlmig_stream_reader *main)
{
    struct lane_check *lc = opaque;

    lc->before_end_calls++;
    for (unsigned k = 1; k < LANES; k++) {
        struct xlmig_membuf m = lc->bufs[k];
        struct xlmig_stream_reader r;
        struct xlmig_source src;
        struct xlmig_record rec;
        int rc;

        m.pos = 0;
        xlmig_source_mem(&src, &m);
        assert_int_equal(xlmig_reader_init_channel(&r, ctx, &src, main), 0);
        r.formats_only = true;
        do {
            rc = xlmig_read_record(&r, &rec);
            if (!rc && rec.type == XLMIG_REC_PAGE_DATA) {
                struct xlmig_rec_pages pg;
                xlmig_rec_get_pages(&rec, &pg);
                for (uint32_t i = 0; i < pg.count; i++) {
                    uint64_t pfn = xlmig_get_u64(pg.pfns + 8 * i) &
                                   XLMIG_PFN_MASK;
                    assert_int_equal(xlmig_lane_of(LANES, pfn), k);
                }
            }
            if (!rc && rec.type == XLMIG_REC_DISK_DATA)
                check_disk_lane(&rec, k, lc);
        } while (!rc && r.phase != XLMIG_RD_DONE);
        if (!rc) {
            main->pages_data += r.pages_data;
            main->pages_zero += r.pages_zero;
        }
        xlmig_reader_dispose(&r);
        if (rc)
            return lc->rc = rc;
    }
    return 0;
}

/* Write a domain over LANES lanes: runs across chunk boundaries, single
 * pages, zero pages, a page written twice.  @bufs[0] is the main stream. */
static void build_lanes(struct xlmig_membuf *bufs, unsigned batch)
{
    struct xlmig_stream_writer w;
    struct xlmig_sink sinks[LANES];
    struct xlmig_domain_desc d = {
        .backend_id = XLMIG_STREAM_BACKEND_SIM, .page_shift = 12,
        .nr_pages = LANE_PAGES, .nr_vcpus = 1, .name = "lanes",
    };
    static const uint8_t vcpu[4] = { 1, 2, 3, 4 };
    static uint8_t page[4096];
    uint64_t pfn = 0;

    memset(bufs, 0, LANES * sizeof(*bufs));
    for (unsigned k = 0; k < LANES; k++)
        xlmig_sink_mem(&sinks[k], &bufs[k]);
    assert_int_equal(xlmig_writer_init(&w, ctx, &sinks[0]), 0);
    assert_int_equal(xlmig_writer_set_lanes(&w, LANES, sinks + 1), 0);
    w.batch = batch;
    xlmig_write_header(&w);
    xlmig_write_domain_info(&w, &d);
    xlmig_write_config(&w, XLMIG_CONFIG_SIM_KV, "a=b\n", 4);
    /* A copied disk's blocks 400-655 (every fourth one zero), across a
     * chunk end: the writer splits the batch by lane. */
    xlmig_write_disk_image(&w, 1, (uint64_t)LANES * XLMIG_LANE_CHUNK *
                                  XLMIG_DISK_BLOCK);
    {
        static uint8_t blk[256 * XLMIG_DISK_BLOCK];
        uint64_t e[256];
        uint32_t nd = 0;
        for (unsigned i = 0; i < 256; i++) {
            uint64_t b = 400 + i;
            if (i % 4 == 3) {
                e[i] = ((uint64_t)XLMIG_DISK_ZERO << 60) | b;
                continue;
            }
            e[i] = b;
            memset(blk + (size_t)nd++ * XLMIG_DISK_BLOCK, (int)(uint8_t)b,
                   XLMIG_DISK_BLOCK);
        }
        xlmig_write_disk_data(&w, 1, e, 256, blk, nd);
    }
    /* Runs of 300 pages: the writer cuts them at chunk ends. */
    while (pfn < LANE_PAGES - 10) {
        unsigned n = 300;
        uint8_t *p;
        if (pfn + n > LANE_PAGES - 10)
            n = (unsigned)(LANE_PAGES - 10 - pfn);
        p = xlmig_write_pages_reserve(&w, pfn, &n);
        assert_true(n >= 1);
        if (w.nlanes > 1)
            assert_true((pfn >> XLMIG_LANE_CHUNK_SHIFT) ==
                        ((pfn + n - 1) >> XLMIG_LANE_CHUNK_SHIFT));
        for (unsigned i = 0; i < n; i++)
            memset(p + (size_t)i * 4096, (pfn + i) % 7 ? (int)(pfn + i) : 0,
                   4096);
        xlmig_write_pages_commit(&w, pfn, n);
        pfn += n;
    }
    for (; pfn < LANE_PAGES; pfn++) {
        memset(page, 0x5a, sizeof(page));
        xlmig_write_page(&w, pfn, page);
    }
    memset(page, 0xa5, sizeof(page));
    xlmig_write_page(&w, XLMIG_LANE_CHUNK + 1, page);   /* a second version */
    xlmig_write_flush_pages(&w);
    xlmig_write_vcpu(&w, 0, vcpu, sizeof(vcpu));
    xlmig_write_end(&w);
    assert_int_equal(w.err, 0);
    for (unsigned k = 0; k < LANES; k++)
        assert_true(w.lane[k].pages_data + w.lane[k].pages_zero > 0);
    assert_int_equal(w.lane[0].records, w.records);
    xlmig_writer_dispose(&w);
}

static int read_main(struct xlmig_membuf *bufs, struct lane_check *lc)
{
    struct xlmig_membuf m = bufs[0];
    struct xlmig_reader_hooks hooks = { lc, NULL, read_lanes, NULL };
    struct xlmig_stream_reader r;
    struct xlmig_source src;
    struct xlmig_record rec;
    int rc;

    m.pos = 0;
    lc->bufs = bufs;
    xlmig_source_mem(&src, &m);
    assert_int_equal(xlmig_reader_init(&r, ctx, &src), 0);
    r.formats_only = true;      /* the stream layer alone: no sim config */
    r.hooks = &hooks;
    rc = xlmig_read_header(&r);
    while (!rc) {
        rc = xlmig_read_record(&r, &rec);
        if (!rc && rec.type == XLMIG_REC_PAGE_DATA) {
            struct xlmig_rec_pages pg;
            xlmig_rec_get_pages(&rec, &pg);
            for (uint32_t i = 0; i < pg.count; i++)
                assert_int_equal(xlmig_lane_of(LANES,
                                               xlmig_get_u64(pg.pfns + 8 * i) &
                                               XLMIG_PFN_MASK), 0);
        }
        if (!rc && rec.type == XLMIG_REC_DISK_DATA)
            check_disk_lane(&rec, 0, lc);
        if (!rc && rec.type == XLMIG_REC_END) {
            rc = xlmig_read_expect_eof(&r);
            break;
        }
    }
    xlmig_reader_dispose(&r);
    return rc;
}

/* Where the second version of a page lands after the first: on one lane,
 * in order. */
static void check_order(const struct xlmig_membuf *lane, uint64_t pfn)
{
    size_t off = 0;
    int seen = 0;

    while (off < lane->len) {
        uint32_t len = xlmig_get_u32(lane->p + off + 4);
        uint32_t count = xlmig_get_u32(lane->p + off + 16);
        const uint8_t *pfns = lane->p + off + 24, *data = pfns + 8 * count;
        for (uint32_t i = 0; i < count; i++) {
            uint64_t e = xlmig_get_u64(pfns + 8 * i);
            if ((e & XLMIG_PFN_MASK) == pfn) {
                assert_int_equal(data[0], seen ? 0xa5 : (uint8_t)pfn);
                seen++;
            }
            if (!(e >> XLMIG_PFN_TYPE_SHIFT))
                data += 4096;
        }
        off += 16 + ((len + 7) & ~7u);
    }
    assert_int_equal(seen, 2);
}

static void test_lanes(void **state)
{
    struct xlmig_membuf bufs[LANES];
    struct lane_check lc = { 0 };

    (void)state;
    build_lanes(bufs, XLMIG_PAGE_BATCH_MAX);
    assert_int_equal(read_main(bufs, &lc), 0);
    assert_int_equal(lc.before_end_calls, 1);
    assert_int_equal(lc.disk_blocks, 256);
    check_order(&bufs[xlmig_lane_of(LANES, XLMIG_LANE_CHUNK + 1)],
                XLMIG_LANE_CHUNK + 1);

    /* A lane that lost its last record: END finds the hole. */
    {
        size_t off = 0, last = 0;
        while (off < bufs[2].len) {
            last = off;
            off += 16 + ((xlmig_get_u32(bufs[2].p + off + 4) + 7) & ~7u);
        }
        bufs[2].len = last;
    }
    lc.before_end_calls = 0;
    assert_int_equal(read_main(bufs, &lc), XLMIG_ERR_STREAM);
    for (unsigned k = 0; k < LANES; k++)
        free(bufs[k].p);

    /* Smaller batches: the same stream in more records. */
    build_lanes(bufs, 100);
    assert_int_equal(read_main(bufs, &lc), 0);
    for (unsigned k = 0; k < LANES; k++)
        free(bufs[k].p);
}

/* A channel carries PAGE_DATA only, and a truncated channel fails. */
static void test_lane_refusals(void **state)
{
    struct xlmig_membuf bufs[LANES], bad = { 0 };
    struct xlmig_stream_writer w;
    struct xlmig_sink sink;
    struct lane_check lc = { 0 };
    static const uint8_t vcpu[4] = { 1, 2, 3, 4 };
    struct xlmig_membuf keep;

    (void)state;
    build_lanes(bufs, XLMIG_PAGE_BATCH_MAX);
    /* lane 1 gets a VCPU_STATE record after its pages */
    xlmig_sink_mem(&sink, &bad);
    assert_int_equal(xlmig_writer_init(&w, ctx, &sink), 0);
    xlmig_write_vcpu(&w, 0, vcpu, sizeof(vcpu));
    xlmig_writer_dispose(&w);
    keep = bufs[1];
    bufs[1].p = malloc(keep.len + bad.len);
    memcpy(bufs[1].p, keep.p, keep.len);
    memcpy(bufs[1].p + keep.len, bad.p, bad.len);
    bufs[1].len = keep.len + bad.len;
    assert_int_equal(read_main(bufs, &lc), XLMIG_ERR_STREAM);
    /* lane 1 cut inside a record */
    bufs[1].len = keep.len - 100;
    assert_int_equal(read_main(bufs, &lc), XLMIG_ERR_TRUNCATED);
    free(bufs[1].p);
    bufs[1] = keep;
    for (unsigned k = 0; k < LANES; k++)
        free(bufs[k].p);
    free(bad.p);
}

static void test_zero_detection(void **state)
{
    uint8_t page[4096] = { 0 };

    (void)state;
    assert_true(xlmig_page_is_zero(page));
    for (size_t i = 0; i < sizeof(page); i += 511) {
        page[i] = 1;
        assert_false(xlmig_page_is_zero(page));
        page[i] = 0;
    }
    page[4095] = 0x80;
    assert_false(xlmig_page_is_zero(page));
}


/* ---- backend xen: Xen's stream in XEN_STREAM records ---- */

/* A xen stream: the libxl envelope around @n octets standing in for
 * libxc's stream (the reader does not look inside), then END. */
static void build_xen(struct xlmig_membuf *m, size_t n)
{
    struct xlmig_stream_writer w;
    struct xlmig_sink sink;
    struct xlmig_domain_desc d = {
        .backend_id = XLMIG_STREAM_BACKEND_XEN, .page_shift = 12,
        .nr_pages = 32768, .nr_vcpus = 2, .name = "guest-pv",
    };
    uint8_t *libxc = malloc(n);
    static const uint8_t qemu[5] = { 'Q', 'E', 'V', 'M', 0 };

    assert_non_null(libxc);
    for (size_t i = 0; i < n; i++)
        libxc[i] = (uint8_t)(i * 7);
    memset(m, 0, sizeof(*m));
    xlmig_sink_mem(&sink, m);
    assert_int_equal(xlmig_writer_init(&w, ctx, &sink), 0);
    xlmig_write_header(&w);
    xlmig_write_domain_info(&w, &d);
    xlmig_write_config(&w, XLMIG_CONFIG_LIBXL_JSON, "{}", 2);
    xlmig_xen_write_header(&w);
    xlmig_write_xen_stream(&w, libxc, n);
    xlmig_xen_write_emulator(&w, XLMIG_LIBXL_REC_EMULATOR_CONTEXT, qemu,
                             sizeof(qemu));
    xlmig_xen_write_end(&w);
    xlmig_write_end(&w);
    assert_int_equal(w.err, 0);
    /* envelope 24 + libxc n + emulator 8 + 8 + 5 padded to 8 + end 8 */
    assert_int_equal(w.xen_bytes, 24 + n + 8 + 16 + 8);
    xlmig_writer_dispose(&w);
    free(libxc);
}

/* Xen's stream, reassembled from the XEN_STREAM records of @m. */
static int xen_bytes_of(struct xlmig_membuf *m, uint8_t **out, size_t *len)
{
    struct xlmig_membuf src = { .p = m->p, .len = m->len };
    struct xlmig_stream_reader r;
    struct xlmig_source s;
    struct xlmig_record rec;
    int rc;

    *out = NULL;
    *len = 0;
    xlmig_source_mem(&s, &src);
    assert_int_equal(xlmig_reader_init(&r, ctx, &s), 0);
    r.formats_only = true;
    rc = xlmig_read_header(&r);
    while (!rc) {
        rc = xlmig_read_record(&r, &rec);
        if (rc || rec.type == XLMIG_REC_END)
            break;
        if (rec.type == XLMIG_REC_XEN_STREAM) {
            struct xlmig_rec_xen x;
            xlmig_rec_get_xen(&rec, &x);
            assert_int_equal(x.offset, *len);
            *out = realloc(*out, *len + x.len);
            memcpy(*out + *len, x.data, x.len);
            *len += x.len;
        }
    }
    xlmig_reader_dispose(&r);
    return rc;
}

static void test_xen_stream(void **state)
{
    static const uint8_t libxl_hdr[24] = {
        'L', 'i', 'b', 'x', 'l', 'F', 'm', 't',     /* ident, big-endian */
        0x00, 0x00, 0x00, 0x02,                     /* version 2 */
        0x00, 0x00, 0x00, 0x00,                     /* options */
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* LIBXC_CONTEXT */
    };
    static const uint8_t emu_hdr[16] = {
        0x03, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x00, 0x00, /* EMULATOR_CONTEXT,
                                                         * 8 + 5 octets */
        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* QEMU upstream, 0 */
    };
    struct xlmig_membuf m;
    uint8_t *x;
    size_t len, n = 3 * XLMIG_XEN_CHUNK_MAX + 100;
    unsigned records;

    (void)state;
    build_xen(&m, n);
    /* The writer splits Xen's stream at the chunk limit. */
    assert_int_equal(read_all(m.p, m.len, &records), 0);
    assert_int_equal(records, 2 + 1 + 4 + 1 + 1 + 1);
    assert_int_equal(xen_bytes_of(&m, &x, &len), 0);
    assert_int_equal(len, 24 + n + 32);
    assert_memory_equal(x, libxl_hdr, sizeof(libxl_hdr));
    for (size_t i = 0; i < n; i += 4093)
        assert_int_equal(x[24 + i], (uint8_t)(i * 7));
    assert_memory_equal(x + 24 + n, emu_hdr, sizeof(emu_hdr));
    assert_memory_equal(x + 24 + n + 16, "QEVM\0\0\0\0", 8);
    assert_memory_equal(x + 24 + n + 24, "\0\0\0\0\0\0\0\0", 8);
    free(x);
    free(m.p);
}

static void test_xen_stream_refusals(void **state)
{
    struct xlmig_membuf m;
    size_t off_x1, off_x2, off_end;
    uint8_t *p;

    (void)state;
    build_xen(&m, 100);
    /* records: INFO at 24, CONFIG (10 octets, padded), XEN (24 octets of
     * envelope), XEN (100), XEN (the emulator's 24), XEN (8), END */
    off_x1 = 24 + 16 + 104 + 16 + 16;
    off_x2 = off_x1 + 16 + 8 + 24;
    off_end = m.len - 16 - 24;
    p = malloc(m.len);

    /* an offset that leaves a gap */
    memcpy(p, m.p, m.len);
    xlmig_put_u64(p + off_x2 + 16, 25);
    reseal(p, off_x2);
    assert_int_equal(read_all(p, m.len, NULL), XLMIG_ERR_STREAM);
    /* no octets after the offset */
    memcpy(p, m.p, m.len);
    xlmig_put_u32(p + off_x1 + 4, 8);
    memmove(p + off_x1 + 16 + 8, p + off_x1 + 16 + 8 + 24,
            m.len - (off_x1 + 48));
    reseal(p, off_x1);
    assert_int_equal(read_all(p, m.len - 24, NULL), XLMIG_ERR_STREAM);
    /* XEN_STREAM in a sim stream */
    memcpy(p, m.p, m.len);
    xlmig_put_u32(p + 24 + 16, XLMIG_STREAM_BACKEND_SIM);
    reseal(p, 24);
    assert_int_equal(read_all(p, m.len, NULL), XLMIG_ERR_STREAM);
    /* a sim record (PAGE_DATA) in a xen stream */
    memcpy(p, m.p, m.len);
    xlmig_put_u32(p + off_x1, XLMIG_REC_PAGE_DATA);
    reseal(p, off_x1);
    assert_int_equal(read_all(p, m.len, NULL), XLMIG_ERR_STREAM);
    /* END with no Xen stream before it: config straight to END */
    {
        size_t cut = off_x1, n = m.len - off_end;
        memcpy(p, m.p, cut);
        memcpy(p + cut, m.p + off_end, n);
        xlmig_put_u32(p + cut + 16 + 16, 2);      /* records before END */
        reseal(p, cut);
        assert_int_equal(read_all(p, cut + n, NULL), XLMIG_ERR_STREAM);
    }
    free(p);
    free(m.p);
}

/* The sim backend's own checks, in the reader: the golden stream's
 * configuration ("a=b") is not a sim domain's, and the refusal names the
 * record and its offset. */
static void test_backend_checks(void **state)
{
    struct xlmig_membuf m;
    char why[256];

    (void)state;
    build(&m);
    assert_int_equal(read_stream(m.p, m.len, NULL, true, why, sizeof(why)),
                     XLMIG_ERR_STREAM);
    if (!strstr(why, "record 1 (DOMAIN_CONFIG) at offset 144: the domain's "
                     "configuration:"))
        fail_msg("refusal: %s", why);
    free(m.p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_golden_source_info),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_corrupt_everywhere),
        cmocka_unit_test(test_wrong_version),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_oversized_length),
        cmocka_unit_test(test_semantic_checks),
        cmocka_unit_test(test_types_and_order),
        cmocka_unit_test(test_trailing_data),
        cmocka_unit_test(test_disk_records),
        cmocka_unit_test(test_zero_detection),
        cmocka_unit_test(test_lanes),
        cmocka_unit_test(test_lane_refusals),
        cmocka_unit_test(test_xen_stream),
        cmocka_unit_test(test_xen_stream_refusals),
        cmocka_unit_test(test_backend_checks),
    };
    int rc;

    devnull = fopen("/dev/null", "w");
    if (xlmig_ctx_alloc(&ctx, "sim", XLMIG_LOG_ERROR, devnull))
        return 1;
    rc = cmocka_run_group_tests_name("stream", tests, NULL, NULL);
    xlmig_ctx_free(ctx);
    fclose(devnull);
    return rc;
}
