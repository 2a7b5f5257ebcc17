/*
 * The xen backend's reach-ins into libxl's private parts (libxl_compat.h),
 * pinned to the libxl they were read from.  The libxl stream v2 envelope
 * xlmig writes around libxc's stream (proto/xen_stream.c) is not among
 * them: it is Xen's documented migration stream format
 * (docs/specs/libxl-migration-stream.pandoc in Xen; docs/specs/xen-stream.md
 * here).
 */
#include "backend/xen/libxl_compat.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The Makefile passes pkg-config's version of xenlight. */
#if !defined(XLMIG_XENLIGHT_MAJOR) || !defined(XLMIG_XENLIGHT_MINOR)
#error "build with the Makefile: it passes libxenlight's version"
#elif XLMIG_XENLIGHT_MAJOR != 4 || XLMIG_XENLIGHT_MINOR != 17
#error "libxl_compat.c is written against Xen 4.17's libxl: check every reach-in in it against this libxl before changing the pin"
#endif

/* tools/libs/light/libxl_internal.h of 4.17: XEN_LIB_DIR and XEN_RUN_DIR
 * as Debian configures them. */
#define LIBXL_LIB_DIR "/var/lib/xen"
#define LIBXL_RUN_DIR "/var/run/xen"

void xen_compat_qemu_save_file(char *buf, size_t len, uint32_t domid)
{
    snprintf(buf, len, "%s/qemu-save.%u", LIBXL_LIB_DIR, domid);
}

void xen_compat_qmp_socket(char *buf, size_t len, uint32_t domid)
{
    snprintf(buf, len, "%s/qmp-libxl-%u", LIBXL_RUN_DIR, domid);
}

uint32_t xen_compat_wait_created(libxl_ctx *lctx, const uint8_t uuid[16],
                                 uint64_t timeout_ns)
{
    uint64_t until = xlmig_now_ns() + timeout_ns;
    uint32_t domid = 0;

    while (!domid && xlmig_now_ns() < until) {
        int n = 0;
        libxl_dominfo *doms = libxl_list_domain(lctx, &n);
        for (int i = 0; doms && i < n; i++)
            if (doms[i].domid &&
                !memcmp(libxl_uuid_bytearray(&doms[i].uuid), uuid, 16))
                domid = doms[i].domid;
        if (doms)
            libxl_dominfo_list_free(doms, n);
        if (!domid)
            usleep(20000);
    }
    return domid;
}
