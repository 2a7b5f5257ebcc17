/*
 * A minimal QMP client for the device model of an HVM domain: the xen
 * backend needs one command libxl has no public call for, QEMU's
 * xen-set-global-dirty-log (so that writes the device model makes to
 * guest memory are tracked during pre-copy, as libxl does for its own
 * saves).  It speaks to libxl's QMP socket (its path is a reach-in into
 * libxl, libxl_compat.h), which libxl itself opens only for the length of
 * one operation.
 */
#ifndef XLMIG_QMP_H
#define XLMIG_QMP_H

#include <stddef.h>

#include "core/private.h"

#define XLMIG_QMP_LINE_MAX 65536

enum xlmig_qmp_kind {
    XLMIG_QMP_GREETING = 1,     /* {"QMP": {...}} */
    XLMIG_QMP_RETURN,           /* {"return": ...} */
    XLMIG_QMP_ERROR,            /* {"error": {"class", "desc"}} */
    XLMIG_QMP_EVENT,            /* {"event": ...}: skipped by callers */
};

/*
 * Classify one line QEMU sent (outside input: any bytes).  Returns the
 * kind, or XLMIG_ERR_PEER with @why saying what was wrong.  For ERROR,
 * @why holds QEMU's class and description.
 */
int xlmig_qmp_parse(const char *line, size_t len, char *why, size_t whylen);

/*
 * Run @command (a complete QMP JSON object) on domain @domid's device
 * model, whose QMP socket is @socket_path: connect, read the greeting,
 * negotiate capabilities, send it and wait up to @timeout_ms for its
 * answer.  Commands to one domain run one at a time (QEMU takes one
 * client at a time), those to different domains at once.  0, or an
 * XLMIG_ERR_* code after logging what went wrong.
 */
int xlmig_qmp_run(xlmig_ctx *ctx, unsigned domid, const char *socket_path,
                  const char *command,
                  unsigned timeout_ms) XLMIG_MUST_CHECK;

#endif
