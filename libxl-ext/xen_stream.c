/*
 * The libxl migration stream v2 envelope (xen_stream.h).
 */
#include <string.h>

#include "cursor.h"
#include "xen_stream.h"

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
    static const uint8_t zero[8];
    uint8_t h[16];
    size_t body = 8 + len;

    xlmig_put_u32(h, type);
    xlmig_put_u32(h + 4, (uint32_t)body);
    xlmig_put_u32(h + 8, XLMIG_LIBXL_EMULATOR_QEMU_UPSTREAM);
    xlmig_put_u32(h + 12, 0);               /* index */
    xlmig_write_xen_stream(w, h, sizeof(h));
    xlmig_write_xen_stream(w, data, len);
    if (body % 8)
        xlmig_write_xen_stream(w, zero, 8 - body % 8);
}

void xlmig_xen_write_end(struct xlmig_stream_writer *w)
{
    uint8_t h[XLMIG_LIBXL_REC_HDR_SIZE];

    xlmig_put_u32(h, XLMIG_LIBXL_REC_END);
    xlmig_put_u32(h + 4, 0);
    xlmig_write_xen_stream(w, h, sizeof(h));
}
