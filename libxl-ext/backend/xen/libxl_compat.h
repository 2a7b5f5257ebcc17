/*
 * Everything the xen backend knows of libxl that libxl does not export:
 * each reach-in below stands in for an interface libxl lacks, says which,
 * and is written against the libxl of Xen 4.17 (the build refuses
 * another: see libxl_compat.c).  Nothing else in backend/xen/ may depend
 * on libxl's private files, paths or timing.
 */
#ifndef XLMIG_BACKEND_XEN_LIBXL_COMPAT_H
#define XLMIG_BACKEND_XEN_LIBXL_COMPAT_H

#include <stddef.h>
#include <stdint.h>

#include <libxl.h>

#include "core/private.h"

/*
 * The file QEMU saves an HVM domain's device state into when libxl asks
 * it to (libxl__device_model_savefile(), "qemu-save.DOMID" in
 * XEN_LIB_DIR), read back after the suspend.  Stands in for a device
 * model save that returns the state to its caller.
 */
void xen_compat_qemu_save_file(char *buf, size_t len, uint32_t domid);

/*
 * libxl's own QMP socket for a domain's device model ("qmp-libxl-DOMID"
 * in XEN_RUN_DIR, libxl_qmp.c), which xlmig also speaks to, one client at
 * a time.  Stands in for a libxl call that runs a QMP command for its
 * caller (libxl has none in its public API).
 */
void xen_compat_qmp_socket(char *buf, size_t len, uint32_t domid);

/*
 * The domid libxl_domain_create_restore() gave the domain with @uuid,
 * polled for up to @timeout_ns once the restore has started: 0 when it
 * did not show up.  Stands in for a callback libxl does not have, between
 * creating a domain and populating its memory, where the memory claim
 * (XENMEM_claim_pages) belongs.
 */
uint32_t xen_compat_wait_created(libxl_ctx *lctx, const uint8_t uuid[16],
                                 uint64_t timeout_ns);

#endif
