/*
 * The xen backend: real domains through libxl, libxenctrl, libxenguest and
 * libxenstore.
 *
 * Saving: the domain's libxl configuration goes as DOMAIN_CONFIG (libxl
 * JSON), then Xen's own migration stream, libxl stream v2 around the
 * libxc stream (docs/specs/xen-stream.md), in XEN_STREAM records.  The
 * libxl envelope is written here; the libxc stream comes from
 * xc_domain_save(), which runs in a helper process of the job's own
 * (xlmig-save-helper, as libxl runs libxl-save-helper: save_helper.h)
 * and writes into a pipe that a pump thread empties into the xlmig
 * stream; its callbacks come back to the job's thread as messages.  Its
 * precopy_policy callback parks the pump at the end of each log-dirty round, has the
 * destination confirm what it holds (SYNC), and asks xlmig's policy:
 * the same function, limits and logs as the sim backend.  Its suspend
 * callback suspends the way libxl does (libxl_domain_suspend_only: guest
 * cooperation for PV and PVH, the device model's state saved through QMP
 * for HVM); a failure after it resumes the domain cooperatively
 * (libxl_domain_resume).
 *
 * Restoring: libxl_domain_create_restore() from the JSON configuration,
 * reading Xen's stream from a pipe that XEN_STREAM records fill.  libxl
 * leaves the new domain paused; the engine unpauses it at COMMIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/xen/xen_private.h"

static const libxl_childproc_hooks child_hooks = {
    /* libxl reaps only the children it started (the save helper, the
     * device model), whatever else the daemon runs. */
    .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
};

static int xen_open(xlmig_ctx *ctx, void **priv)
{
    struct xen_priv *x = calloc(1, sizeof(*x));

    if (!x)
        return XLMIG_ERR_NOMEM;
    /* libxl and libxc log through the context: xlmigd's log, the job's
     * prefix, the configured level. */
    x->logger = xlmig_ctx_xtl(ctx);
    if (libxl_ctx_alloc(&x->lctx, LIBXL_VERSION, 0, x->logger)) {
        LOG_ERR(ctx, "cannot open libxl: is this a Xen dom0 with the "
                "toolstack running (xenstored, /proc/xen)?");
        free(x);
        return XLMIG_ERR_UNAVAIL;
    }
    libxl_childproc_setmode(x->lctx, &child_hooks, NULL);
    *priv = x;
    return 0;
}

static void xen_close(xlmig_ctx *ctx, void *priv)
{
    struct xen_priv *x = priv;

    (void)ctx;
    if (!x)
        return;
    libxl_ctx_free(x->lctx);
    free(x);
}

static void to_info(struct xen_priv *x, const libxl_dominfo *di,
                    struct xlmig_dominfo *out)
{
    char *name = libxl_domid_to_name(x->lctx, di->domid);

    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
    free(name);
    memcpy(out->uuid, libxl_uuid_bytearray_const(&di->uuid), 16);
    out->domid = di->domid;
    out->nr_vcpus = di->vcpu_online;
    out->nr_pages = di->max_memkb / 4;
    out->page_shift = XLMIG_PAGE_SHIFT;
    out->state = di->dying ? XLMIG_DOM_DYING :
                 di->shutdown ? XLMIG_DOM_SUSPENDED :
                 di->paused ? XLMIG_DOM_PAUSED : XLMIG_DOM_RUNNING;
}

static int xen_list(xlmig_ctx *ctx, struct xlmig_dominfo **out, unsigned *n)
{
    struct xen_priv *x = ctx->backend_priv;
    libxl_dominfo *di;
    int nb = 0;

    di = libxl_list_domain(x->lctx, &nb);
    if (!di) {
        LOG_ERR(ctx, "libxl_list_domain failed");
        return XLMIG_ERR_BACKEND;
    }
    *out = calloc(nb ? (size_t)nb : 1, sizeof(**out));
    if (!*out) {
        libxl_dominfo_list_free(di, nb);
        return XLMIG_ERR_NOMEM;
    }
    for (int i = 0; i < nb; i++)
        to_info(x, &di[i], &(*out)[i]);
    *n = (unsigned)nb;
    libxl_dominfo_list_free(di, nb);
    return 0;
}

int xen_lookup(xlmig_ctx *ctx, const char *ident, libxl_dominfo *di)
{
    struct xen_priv *x = ctx->backend_priv;
    uint32_t domid;
    char *end;
    int rc;

    errno = 0;
    domid = (uint32_t)strtoul(ident, &end, 10);
    if (errno || *end || end == ident) {
        if (libxl_name_to_domid(x->lctx, ident, &domid))
            return XLMIG_ERR_NOTFOUND;
    }
    rc = libxl_domain_info(x->lctx, di, domid);
    if (rc)
        return rc == ERROR_DOMAIN_NOTFOUND ? XLMIG_ERR_NOTFOUND :
                                             XLMIG_ERR_BACKEND;
    return 0;
}

static int xen_find(xlmig_ctx *ctx, const char *ident,
                    struct xlmig_dominfo *out)
{
    libxl_dominfo di;
    int rc;

    libxl_dominfo_init(&di);
    rc = xen_lookup(ctx, ident, &di);
    if (!rc)
        to_info(ctx->backend_priv, &di, out);
    libxl_dominfo_dispose(&di);
    return rc;
}

static int xen_attach(xlmig_ctx *ctx, const struct xlmig_dominfo *info,
                      struct xlmig_dom **out)
{
    struct xlmig_dom *d = calloc(1, sizeof(*d));
    libxl_dominfo di;
    char id[16];
    int rc;

    if (!d)
        return XLMIG_ERR_NOMEM;
    d->info = *info;
    d->wfd = d->rfd = -1;
    d->logdirty_fd = -1;
    snprintf(id, sizeof(id), "%" PRIu32, info->domid);
    libxl_dominfo_init(&di);
    rc = xen_lookup(ctx, id, &di);
    d->type = di.domain_type;
    libxl_dominfo_dispose(&di);
    if (rc) {
        free(d);
        return rc;
    }
    if (d->type == LIBXL_DOMAIN_TYPE_HVM) {
        /* Xen's domain info calls PVH guests HVM; only the libxl
         * configuration tells them apart, and only HVM has a device
         * model to save and to switch to log-dirty. */
        struct xen_priv *x = ctx->backend_priv;
        libxl_domain_config cfg;

        libxl_domain_config_init(&cfg);
        if (!libxl_retrieve_domain_configuration(x->lctx, info->domid, &cfg,
                                                 NULL))
            d->type = cfg.c_info.type;
        else
            LOG_WARN(ctx, "cannot read domain %u's configuration: taken "
                     "as HVM", info->domid);
        libxl_domain_config_dispose(&cfg);
    }
    *out = d;
    return 0;
}

/* Wait for the restore thread; its libxl result. */
int xen_restore_join(struct xlmig_dom *d)
{
    if (!d->restoring)
        return d->restore_rc;
    if (d->wfd >= 0) {
        close(d->wfd);          /* libxl sees the end of its stream */
        d->wfd = -1;
    }
    pthread_join(d->restorer, NULL);
    d->restoring = false;
    close(d->rfd);
    d->rfd = -1;
    return d->restore_rc;
}

static void xen_detach(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    (void)ctx;
    if (!d)
        return;
    xen_logdirty_unlock(d->logdirty_fd);
    d->logdirty_fd = -1;
    xen_restore_join(d);
    if (d->cfg_init)
        libxl_domain_config_dispose(&d->cfg);
    free(d);
}

/* Is the domain shut down for suspend (by us or before)? */
bool xen_is_suspended(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    libxl_dominfo di;
    char id[16];
    bool s;

    snprintf(id, sizeof(id), "%" PRIu32, d->info.domid);
    libxl_dominfo_init(&di);
    s = !xen_lookup(ctx, id, &di) && di.shutdown &&
        di.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND;
    libxl_dominfo_dispose(&di);
    return s;
}

int xen_suspend(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;
    int rc;

    if (xen_is_suspended(ctx, d))
        return 0;
    rc = libxl_domain_suspend_only(x->lctx, d->info.domid, NULL);
    if (rc) {
        LOG_ERR(ctx, "domain %u did not suspend (libxl error %d)%s",
                d->info.domid, rc, rc == ERROR_GUEST_TIMEDOUT ?
                ": the guest did not answer the suspend request" : "");
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

int xen_resume(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;

    /* Cooperative (suspend_cancel): the guest's suspend call returns as
     * cancelled and it carries on with its devices as they were. */
    if (libxl_domain_resume(x->lctx, d->info.domid, 1, NULL)) {
        LOG_ERR(ctx, "libxl_domain_resume(%u) failed", d->info.domid);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

static int xen_unpause(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;

    if (libxl_domain_unpause(x->lctx, d->info.domid, NULL)) {
        LOG_ERR(ctx, "libxl_domain_unpause(%u) failed", d->info.domid);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

static int xen_destroy(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;

    if (d->restore) {
        /* libxl destroys what it built when its restore fails (a stream
         * ended early is one way); a restore it finished leaves a domain
         * the caller no longer wants. */
        if (xen_restore_join(d))
            return 0;
        d->info.domid = d->new_domid;
    }
    if (d->info.domid == 0) {
        LOG_ERR(ctx, "internal: refusing to destroy domain 0");
        return XLMIG_ERR_STATE;
    }
    if (libxl_domain_destroy(x->lctx, d->info.domid, NULL)) {
        LOG_ERR(ctx, "libxl_domain_destroy(%u) failed", d->info.domid);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

static int xen_info(xlmig_ctx *ctx, struct xlmig_dom *d,
                    struct xlmig_dominfo *out)
{
    char id[16];

    snprintf(id, sizeof(id), "%" PRIu32, d->info.domid);
    return xen_find(ctx, id, out);
}

static int xen_host_free(xlmig_ctx *ctx, uint64_t *bytes)
{
    struct xen_priv *x = ctx->backend_priv;
    libxl_physinfo pi;
    uint64_t pages;

    /* Free and to-be-scrubbed pages, less what domains have claimed
     * (libxl_get_free_memory leaves claims out). */
    libxl_physinfo_init(&pi);
    if (libxl_get_physinfo(x->lctx, &pi)) {
        LOG_ERR(ctx, "libxl_get_physinfo failed");
        libxl_physinfo_dispose(&pi);
        return XLMIG_ERR_BACKEND;
    }
    pages = pi.free_pages + pi.scrub_pages;
    pages = pages > pi.outstanding_pages ? pages - pi.outstanding_pages : 0;
    libxl_physinfo_dispose(&pi);
    *bytes = pages << XLMIG_PAGE_SHIFT;
    return 0;
}

/*
 * A dirty-rate sample outside any migration (xlmig_dirty_rates): Xen's
 * log-dirty mode on, the count of pages dirtied since, off again.  PV
 * and PVH only: an HVM domain's device model may hold log-dirty for its
 * VRAM, which turning it off would break.  When log-dirty is on already
 * (a migration's, or the device model's), Xen refuses to enable it again
 * and nothing changes.
 */
static int xen_dirty_sample(xlmig_ctx *ctx, struct xlmig_dom *d, int what,
                            uint64_t *pages)
{
    struct xen_priv *x = ctx->backend_priv;
    xc_shadow_op_stats_t st;
    xen_pfn_t max_gpfn = 0;
    xc_interface *xch;
    int rc = 0;

    if (d->type == LIBXL_DOMAIN_TYPE_HVM) {
        if (what == XLMIG_DIRTY_START)
            LOG_INFO(ctx, "%s: not sampled: an HVM domain's log-dirty may "
                     "be its device model's", d->info.name);
        return XLMIG_ERR_NOTIMPL;
    }
    if (what == XLMIG_DIRTY_START) {
        /* Not while a save of it runs, nor one starting meanwhile. */
        d->logdirty_fd = xen_logdirty_lock(ctx, d->info.domid, 0);
        if (d->logdirty_fd < 0) {
            LOG_INFO(ctx, "%s: not sampled: %s", d->info.name,
                     errno == EWOULDBLOCK ? "it is being saved or "
                     "migrated" : strerror(errno));
            return XLMIG_ERR_BUSY;
        }
    }
    xch = xc_interface_open(x->logger, x->logger, 0);
    if (!xch) {
        LOG_ERR(ctx, "xc_interface_open failed");
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    switch (what) {
    case XLMIG_DIRTY_START:
        if (xc_shadow_control(xch, d->info.domid,
                              XEN_DOMCTL_SHADOW_OP_ENABLE_LOGDIRTY, NULL,
                              0) < 0) {
            rc = errno == EINVAL ? XLMIG_ERR_BUSY : XLMIG_ERR_BACKEND;
            LOG_INFO(ctx, "%s: log-dirty cannot be enabled (%s)%s",
                     d->info.name, strerror(errno), errno == EINVAL ?
                     ": it is on already" : "");
        }
        break;
    case XLMIG_DIRTY_COUNT:
        /* The count and a clean; no bitmap is copied out. */
        memset(&st, 0, sizeof(st));
        if (xc_domain_maximum_gpfn(xch, d->info.domid, &max_gpfn) < 0 ||
            xc_logdirty_control(xch, d->info.domid,
                                XEN_DOMCTL_SHADOW_OP_CLEAN, NULL,
                                (unsigned long)max_gpfn + 1, 0, &st) < 0) {
            LOG_ERR(ctx, "%s: reading the log-dirty count: %s",
                    d->info.name, strerror(errno));
            rc = XLMIG_ERR_BACKEND;
        } else {
            *pages = st.dirty_count;
        }
        break;
    case XLMIG_DIRTY_STOP:
        if (xc_shadow_control(xch, d->info.domid, XEN_DOMCTL_SHADOW_OP_OFF,
                              NULL, 0) < 0) {
            LOG_ERR(ctx, "%s: turning log-dirty off: %s", d->info.name,
                    strerror(errno));
            rc = XLMIG_ERR_BACKEND;
        }
        break;
    default:
        rc = XLMIG_ERR_INVAL;
    }
    xc_interface_close(xch);
out:
    if ((what == XLMIG_DIRTY_START && rc) || what == XLMIG_DIRTY_STOP) {
        xen_logdirty_unlock(d->logdirty_fd);
        d->logdirty_fd = -1;
    }
    return rc;
}

int xen_logdirty_lock(xlmig_ctx *ctx, uint32_t domid, unsigned wait_s)
{
    char path[64];
    int fd, e;

    if (mkdir("/run/xlmig", 0700) && errno != EEXIST) {
        LOG_ERR(ctx, "cannot make /run/xlmig: %s", strerror(errno));
        return -1;
    }
    snprintf(path, sizeof(path), "/run/xlmig/logdirty.%" PRIu32, domid);
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        LOG_ERR(ctx, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    for (unsigned i = 0;; i++) {
        if (!flock(fd, LOCK_EX | LOCK_NB))
            return fd;
        if (errno != EWOULDBLOCK && errno != EINTR)
            break;
        if (i >= wait_s * 10) {
            errno = EWOULDBLOCK;
            break;
        }
        usleep(100000);
    }
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

void xen_logdirty_unlock(int fd)
{
    if (fd >= 0)
        close(fd);              /* the lock goes with it */
}

const struct xlmig_backend_ops xlmig_backend_xen = {
    .name = "xen",
    .stream_id = XLMIG_STREAM_BACKEND_XEN,
    .open = xen_open,
    .close = xen_close,
    .list = xen_list,
    .find = xen_find,
    .attach = xen_attach,
    .detach = xen_detach,
    .suspend = xen_suspend,
    .resume = xen_resume,
    .unpause = xen_unpause,
    .destroy = xen_destroy,
    .save = xen_save,
    .live_save = xen_live_save,
    .describe = xen_describe,
    .restore_create = xen_restore_create,
    .restore_record = xen_restore_record,
    .restore_finish = xen_restore_finish,
    .info = xen_info,
    .host_free = xen_host_free,
    .needs = xen_needs,
    .offer = xen_offer,
    .vifs = xen_vifs,
    .dm_announce = xen_dm_announce,
    .dirty_sample = xen_dirty_sample,
};

