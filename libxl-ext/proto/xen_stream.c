/*
 * The libxl migration stream v2 envelope (xen_stream.h).
 */
#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"
#include "proto/xen_stream.h"

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t xlmig_xen_put_header(uint8_t *buf, size_t cap)
{
    if (cap < XLMIG_LIBXL_HDR_SIZE + XLMIG_LIBXL_REC_HDR_SIZE)
        return 0;
    put_be32(buf, (uint32_t)(XLMIG_LIBXL_IDENT >> 32));
    put_be32(buf + 4, (uint32_t)XLMIG_LIBXL_IDENT);
    put_be32(buf + 8, XLMIG_LIBXL_VERSION);
    put_be32(buf + 12, 0);                  /* options: little-endian */
    xlmig_put_u32(buf + 16, XLMIG_LIBXL_REC_LIBXC_CONTEXT);
    xlmig_put_u32(buf + 20, 0);
    return XLMIG_LIBXL_HDR_SIZE + XLMIG_LIBXL_REC_HDR_SIZE;
}

void xlmig_xen_write_header(struct xlmig_stream_writer *w)
{
    uint8_t b[XLMIG_LIBXL_HDR_SIZE + XLMIG_LIBXL_REC_HDR_SIZE];

    xlmig_write_xen_stream(w, b, xlmig_xen_put_header(b, sizeof(b)));
}

void xlmig_xen_write_emulator(struct xlmig_stream_writer *w, uint32_t type,
                              const void *data, size_t len)
{
    size_t body = 8 + len, total = 8 + body + (8 - body % 8) % 8;
    uint8_t *rec;

    if (len > XLMIG_LIBXL_EMULATOR_MAX) {
        if (!w->err)
            w->err = XLMIG_ERR_INVAL;
        return;
    }
    rec = calloc(1, total);
    if (!rec) {
        if (!w->err)
            w->err = XLMIG_ERR_NOMEM;
        return;
    }
    xlmig_put_u32(rec, type);
    xlmig_put_u32(rec + 4, (uint32_t)body);
    xlmig_put_u32(rec + 8, XLMIG_LIBXL_EMULATOR_QEMU_UPSTREAM);
    xlmig_put_u32(rec + 12, 0);             /* index */
    memcpy(rec + 16, data, len);            /* the rest is zero padding */
    xlmig_write_xen_stream(w, rec, total);
    free(rec);
}

void xlmig_xen_write_end(struct xlmig_stream_writer *w)
{
    uint8_t h[XLMIG_LIBXL_REC_HDR_SIZE];

    xlmig_put_u32(h, XLMIG_LIBXL_REC_END);
    xlmig_put_u32(h + 4, 0);
    xlmig_write_xen_stream(w, h, sizeof(h));
}
