/* xlmig dump-stream: explain a stream record by record, validating it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>

#include "core/cursor.h"
#include "proto/stream.h"

static void print_text(FILE *out, const uint8_t *p, size_t len,
                       const char *indent)
{
    fputs(indent, out);
    for (size_t i = 0; i < len; i++) {
        uint8_t c = p[i];
        if (c == '\n') {
            if (i + 1 < len) {
                fputc('\n', out);
                fputs(indent, out);
            }
        } else if (c >= 0x20 && c < 0x7f) {
            fputc(c, out);
        } else {
            fprintf(out, "\\x%02x", c);
        }
    }
    fputc('\n', out);
}

static void dump_pages(FILE *out, const struct xlmig_record *rec,
                       int verbose)
{
    struct xlmig_rec_pages pg;
    uint64_t lo = UINT64_MAX, hi = 0;

    xlmig_rec_get_pages(rec, &pg);
    for (uint32_t i = 0; i < pg.count; i++) {
        uint64_t pfn = xlmig_get_u64(pg.pfns + 8 * i) & XLMIG_PFN_MASK;
        lo = pfn < lo ? pfn : lo;
        hi = pfn > hi ? pfn : hi;
    }
    fprintf(out, "  %u pages: %u data, %u zero; pfns 0x%" PRIx64
            "-0x%" PRIx64 "\n", pg.count, pg.nr_data, pg.count - pg.nr_data,
            lo, hi);
    if (verbose > 1) {
        for (uint32_t i = 0; i < pg.count; i++) {
            uint64_t e = xlmig_get_u64(pg.pfns + 8 * i);
            fprintf(out, "    pfn 0x%" PRIx64 " %s\n", e & XLMIG_PFN_MASK,
                    e >> XLMIG_PFN_TYPE_SHIFT ? "zero" : "data");
        }
    }
}

int xlmig_stream_dump(xlmig_ctx *ctx, const char *path, FILE *out,
                      int verbose)
{
    struct xlmig_stream_reader rd;
    struct xlmig_record rec;
    uint64_t page_records = 0;
    int rc;

    rc = xlmig_reader_open_file(&rd, ctx, path);
    if (rc)
        goto out;
    fprintf(out, "%s: xlmig stream version %u\n", path, rd.version);
    for (;;) {
        rc = xlmig_read_record(&rd, &rec);
        if (rc)
            goto out;
        if (rec.type == XLMIG_REC_PAGE_DATA && verbose == 0) {
            /* Page batches are summarised unless asked for. */
            page_records++;
            continue;
        }
        if (page_records) {
            fprintf(out, "  ... %" PRIu64 " PAGE_DATA records (-v shows "
                    "them)\n", page_records);
            page_records = 0;
        }
        fprintf(out, "@%-10" PRIu64 " #%-6u %-13s type 0x%08x, %u bytes\n",
                rec.offset, rec.index, xlmig_rec_type_name(rec.type),
                rec.type, rec.length);
        switch (rec.type) {
        case XLMIG_REC_DOMAIN_INFO: {
            char u[37];
            xlmig_uuid_format(rd.desc.uuid, u);
            fprintf(out, "  name %s, uuid %s\n  backend %s, %" PRIu64
                    " pages of %u bytes (%" PRIu64 " MiB), %u vCPUs\n",
                    rd.desc.name, u,
                    xlmig_stream_backend_name(rd.desc.backend_id),
                    rd.desc.nr_pages, 1u << rd.desc.page_shift,
                    (rd.desc.nr_pages << rd.desc.page_shift) >> 20,
                    rd.desc.nr_vcpus);
            break;
        }
        case XLMIG_REC_DOMAIN_CONFIG:
            fprintf(out, "  format %u (%s)\n", xlmig_get_u32(rec.body),
                    xlmig_get_u32(rec.body) == XLMIG_CONFIG_SIM_KV ?
                    "sim key=value" : "libxl JSON");
            print_text(out, rec.body + 8, rec.length - 8, "  | ");
            break;
        case XLMIG_REC_PAGE_DATA:
            dump_pages(out, &rec, verbose);
            break;
        case XLMIG_REC_VCPU_STATE:
        case XLMIG_REC_DEVICE_STATE: {
            struct xlmig_rec_blob b;
            xlmig_rec_get_blob(&rec, &b);
            if (rec.type == XLMIG_REC_VCPU_STATE)
                fprintf(out, "  vCPU %u, %u bytes of state\n", b.id, b.len);
            else
                fprintf(out, "  device type %u instance %u, %u bytes\n",
                        b.id, b.instance, b.len);
            break;
        }
        case XLMIG_REC_SOURCE_INFO:
            print_text(out, rec.body, rec.length, "  | ");
            break;
        case XLMIG_REC_DISK_IMAGE: {
            struct xlmig_rec_disk_image di;
            xlmig_rec_get_disk_image(&rec, &di);
            fprintf(out, "  disk %u (the config's disk line %u): %" PRIu64
                    " octets, %" PRIu64 " blocks of %u\n", di.disk,
                    di.disk + 1, di.size,
                    (di.size + XLMIG_DISK_BLOCK - 1) / XLMIG_DISK_BLOCK,
                    XLMIG_DISK_BLOCK);
            break;
        }
        case XLMIG_REC_DISK_DATA: {
            struct xlmig_rec_disk_data dd;
            uint64_t lo = UINT64_MAX, hi = 0;
            uint32_t nd = 0;
            xlmig_rec_get_disk_data(&rec, &dd);
            for (uint32_t i = 0; i < dd.count; i++) {
                uint64_t e = xlmig_get_u64(dd.entries + 8 * (size_t)i);
                uint64_t b = e & XLMIG_DISK_BLOCK_MASK;
                nd += (e >> 60) == XLMIG_DISK_DATA;
                lo = b < lo ? b : lo;
                hi = b > hi ? b : hi;
                if (verbose > 1)
                    fprintf(out, "    block %" PRIu64 " %s\n", b,
                            (e >> 60) == XLMIG_DISK_DATA ? "data" : "zero");
            }
            fprintf(out, "  disk %u: %u blocks: %u data, %u zero; blocks %"
                    PRIu64 "-%" PRIu64 "\n", dd.disk, dd.count, nd,
                    dd.count - nd, lo, hi);
            break;
        }
        case XLMIG_REC_END: {
            struct xlmig_rec_end e;
            xlmig_rec_get_end(&rec, &e);
            fprintf(out, "  %" PRIu64 " data pages, %" PRIu64
                    " zero pages, %u records before END\n", e.pages_data,
                    e.pages_zero, e.records);
            break;
        }
        default:
            fprintf(out, "  (skipped: optional record unknown to this "
                    "reader)\n");
            break;
        }
        if (rec.type == XLMIG_REC_END)
            break;
    }
    rc = xlmig_read_expect_eof(&rd);
    if (rc)
        goto out;
    fprintf(out, "valid: %u records, %" PRIu64 " bytes, every page and "
            "vCPU present\n", rd.index, rd.offset);
out:
    if (rc && rd.errmsg[0])
        fprintf(out, "INVALID: %s\n", rd.errmsg);
    xlmig_reader_dispose(&rd);
    return rc;
}
