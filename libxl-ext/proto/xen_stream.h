/*
 * The libxl migration stream v2 envelope (Xen's
 * docs/specs/libxl-migration-stream; docs/specs/xen-stream.md here): a
 * header in big-endian, then records of { u32 type, u32 length } in the
 * host's order, bodies padded to 8 bytes.  The libxc stream follows the
 * LIBXC_CONTEXT record directly.  The xen backend writes the envelope
 * itself because it runs xc_domain_save() under its own policy rather
 * than libxl's save.
 */
#ifndef XLMIG_XEN_STREAM_H
#define XLMIG_XEN_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "proto/stream.h"

#define XLMIG_LIBXL_IDENT UINT64_C(0x4c6962786c466d74)     /* "LibxlFmt" */
#define XLMIG_LIBXL_VERSION 2
#define XLMIG_LIBXL_HDR_SIZE 16
#define XLMIG_LIBXL_REC_HDR_SIZE 8

enum xlmig_libxl_rec {
    XLMIG_LIBXL_REC_END = 0,
    XLMIG_LIBXL_REC_LIBXC_CONTEXT = 1,
    XLMIG_LIBXL_REC_EMULATOR_XENSTORE_DATA = 2,
    XLMIG_LIBXL_REC_EMULATOR_CONTEXT = 3,
};

#define XLMIG_LIBXL_EMULATOR_QEMU_UPSTREAM 2
#define XLMIG_LIBXL_EMULATOR_MAX (16u << 20)

/* The stream header and the LIBXC_CONTEXT record that the libxc stream
 * follows. */
void xlmig_xen_write_header(struct xlmig_stream_writer *w);
/* An EMULATOR_* record for QEMU (upstream), instance 0. */
void xlmig_xen_write_emulator(struct xlmig_stream_writer *w, uint32_t type,
                              const void *data, size_t len);
void xlmig_xen_write_end(struct xlmig_stream_writer *w);

/* The same, into a buffer (tests): bytes written, or 0 if @cap is short. */
size_t xlmig_xen_put_header(uint8_t *buf, size_t cap);

#endif
