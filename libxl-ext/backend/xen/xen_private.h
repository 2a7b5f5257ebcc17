/*
 * The xen backend's internals, shared by its four files: lifecycle
 * (backend_xen.c), saving (xen_save.c), restoring (xen_restore.c) and
 * preflight (xen_preflight.c), as Xen splits xg_sr_save.c from
 * xg_sr_restore.c.
 */
#ifndef XLMIG_BACKEND_XEN_PRIVATE_H
#define XLMIG_BACKEND_XEN_PRIVATE_H

#include <pthread.h>
#include <stdbool.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenguest.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "backend/host_probe.h"
#include "backend/xen/libxl_compat.h"
#include "backend/xen/qmp.h"
#include "backend/xen/xen_cpu.h"
#include "engine/precopy.h"
#include "proto/stream.h"
#include "proto/xen_stream.h"

#define QMP_TIMEOUT_MS 10000

struct xen_priv {
    xentoollog_logger *logger;  /* the context's (xlmig_ctx_xtl) */
    libxl_ctx *lctx;
};

struct xlmig_dom {
    struct xlmig_dominfo info;
    libxl_domain_type type;
    /* a handle from restore_create (destination) */
    bool restore;
    bool restoring;             /* libxl is still reading the stream */
    int wfd;                    /* Xen's stream goes in here */
    int rfd;                    /* libxl reads it from here */
    pthread_t restorer;
    int restore_rc;             /* libxl's */
    uint32_t new_domid;
    libxl_domain_config cfg;
    bool cfg_init;
    bool claim_tried;           /* restore: memory claimed (or tried) */
    uint32_t claim_domid;       /* the domain holding the claim, or 0 */
    int logdirty_fd;            /* the log-dirty lock held, or -1 */
};

/*
 * Log-dirty belongs to one user at a time: a save (xc_domain_save turns
 * it on, and off again, in its helper) or a dirty-rate sample (which
 * may run in another process, xlmig evacuate).  Xen cannot tell them
 * apart, and libxc takes log-dirty over when it finds it on, so they
 * exclude each other with a lock (flock) on a file per domain under
 * /run/xlmig.  @wait_s: how long to wait for it (0: not at all).  The
 * lock's descriptor, or -1 with errno (EWOULDBLOCK: someone holds it).
 */
int xen_logdirty_lock(xlmig_ctx *ctx, uint32_t domid, unsigned wait_s);
void xen_logdirty_unlock(int fd);

/* Lifecycle (backend_xen.c). */
int xen_lookup(xlmig_ctx *ctx, const char *ident, libxl_dominfo *di);
int xen_suspend(xlmig_ctx *ctx, struct xlmig_dom *d);
int xen_resume(xlmig_ctx *ctx, struct xlmig_dom *d);
bool xen_is_suspended(xlmig_ctx *ctx, struct xlmig_dom *d);
/* Wait for a restore's libxl thread; nonzero when the domain it was
 * making is gone. */
int xen_restore_join(struct xlmig_dom *d);

/* Saving (xen_save.c). */
int xen_save(xlmig_ctx *ctx, struct xlmig_dom *d,
             struct xlmig_stream_writer *w);
int xen_live_save(xlmig_ctx *ctx, struct xlmig_dom *d,
                  struct xlmig_stream_writer *w,
                  const struct xlmig_limits *lim,
                  const struct xlmig_live_hooks *hooks,
                  struct xlmig_live_stats *st);
void xen_describe(xlmig_ctx *ctx, struct xlmig_dom *d,
                  struct xlmig_domain_desc *desc);

/* Restoring (xen_restore.c). */
int xen_restore_create(xlmig_ctx *ctx, const struct xlmig_domain_desc *desc,
                       uint32_t config_format, const void *config,
                       size_t config_len, struct xlmig_dom **out);
int xen_restore_record(xlmig_ctx *ctx, struct xlmig_dom *d,
                       const struct xlmig_record *rec);
int xen_restore_finish(xlmig_ctx *ctx, struct xlmig_dom *d);
void xen_restore_unclaim(xlmig_ctx *ctx, struct xlmig_dom *d);

/* Preflight (xen_preflight.c). */
int xen_needs(xlmig_ctx *ctx, struct xlmig_dom *d, struct xlmig_needs *n);
int xen_offer(xlmig_ctx *ctx, const struct xlmig_needs *n,
              struct xlmig_offer *o);

/* xen_net.c */
int xen_vifs(xlmig_ctx *ctx, struct xlmig_dom *d, struct xlmig_vif *v,
             unsigned *n, char *why, size_t whylen);
int xen_dm_announce(xlmig_ctx *ctx, struct xlmig_dom *d,
                    const struct xlmig_announce_conf *a, unsigned *nics);

#endif
