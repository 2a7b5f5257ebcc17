/*
 * xlmig-save-helper's protocol.  As libxl runs libxenguest's save in
 * libxl-save-helper, the xen backend runs each job's xc_domain_save() in a
 * process of its own (tools/xlmig-save-helper/), so a libxc failure or hang
 * in one job cannot take down xlmigd or its other jobs.  The helper writes
 * Xen's stream into the pipe it is given; its callbacks (the pre-copy
 * policy, the suspend, QEMU's dirty log) and its log lines come back to
 * the backend as messages on a SOCK_SEQPACKET socket, one struct
 * xlmig_sh_msg each, every callback answered by one REPLY.
 *
 *   xlmig-save-helper DOMID LIVE STREAM_FD CONTROL_FD LOG_LEVEL
 *
 * Both ends check every message: exact size, magic, a known type; a
 * message that fails is fatal to the save (the helper is killed).
 */
#ifndef XLMIG_BACKEND_XEN_SAVE_HELPER_H
#define XLMIG_BACKEND_XEN_SAVE_HELPER_H

#include <stdint.h>

#define XLMIG_SH_MAGIC 0x584c5348u      /* "XLSH" */
#define XLMIG_SH_TEXT_MAX 472
#define XLMIG_SH_NAME "xlmig-save-helper"

enum xlmig_sh_type {
    XLMIG_SH_POLICY = 1,        /* precopy_policy: iteration,
                                 * total_written, dirty_count; answered */
    XLMIG_SH_SUSPEND = 2,       /* suspend: answered 1 (suspended) or 0 */
    XLMIG_SH_LOGDIRTY = 3,      /* switch_qemu_logdirty: value = enable;
                                 * answered 0 or -1 */
    XLMIG_SH_LOG = 4,           /* a libxc message: value = xlmig log
                                 * level, text; not answered */
    XLMIG_SH_DONE = 5,          /* xc_domain_save returned: value = its
                                 * return, err = errno; the last message */
    XLMIG_SH_REPLY = 6,         /* backend -> helper: value = the answer */
};

struct xlmig_sh_msg {
    uint32_t magic;
    uint32_t type;              /* enum xlmig_sh_type */
    int32_t value;
    int32_t err;
    uint32_t iteration;
    uint32_t reserved;          /* zero */
    uint64_t total_written;
    int64_t dirty_count;        /* -1: unknown */
    char text[XLMIG_SH_TEXT_MAX];       /* NUL-terminated */
};

_Static_assert(sizeof(struct xlmig_sh_msg) == 512,
               "xlmig_sh_msg is 512 octets on both ends");

#endif
