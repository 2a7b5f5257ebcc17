/* The xen backend: restoring (see backend_xen.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/xen/xen_private.h"

/* ---- restoring ---- */

struct restorer {
    libxl_ctx *lctx;
    struct xlmig_dom *d;
};

static void *restorer_main(void *arg)
{
    struct restorer *r = arg;
    libxl_domain_restore_params params;
    uint32_t domid = INVALID_DOMID;

    libxl_domain_restore_params_init(&params);
    params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
    params.stream_version = 2;
    r->d->restore_rc = libxl_domain_create_restore(r->lctx, &r->d->cfg,
                                                   &domid, r->d->rfd, -1,
                                                   &params, NULL, NULL);
    r->d->new_domid = r->d->restore_rc ? 0 : domid;
    libxl_domain_restore_params_dispose(&params);
    free(r);
    return NULL;
}

int xen_restore_create(xlmig_ctx *ctx,
                              const struct xlmig_domain_desc *desc,
                              uint32_t fmt, const void *cfg, size_t len,
                              struct xlmig_dom **out)
{
    struct xen_priv *x = ctx->backend_priv;
    struct xlmig_dom *d;
    struct restorer *r;
    int fds[2], rc;

    if (fmt != XLMIG_CONFIG_LIBXL_JSON) {
        LOG_ERR(ctx, "the xen backend restores libxl JSON configurations, "
                "not format %u", fmt);
        return XLMIG_ERR_INVAL;
    }
    if (memchr(cfg, '\0', len)) {
        LOG_ERR(ctx, "the domain's configuration holds a NUL byte");
        return XLMIG_ERR_STREAM;
    }
    d = calloc(1, sizeof(*d));
    r = calloc(1, sizeof(*r));
    if (!d || !r) {
        free(d);
        free(r);
        return XLMIG_ERR_NOMEM;
    }
    d->wfd = d->rfd = -1;
    libxl_domain_config_init(&d->cfg);
    d->cfg_init = true;
    /* The caller gave a NUL-terminated copy (quick.c). */
    rc = libxl_domain_config_from_json(x->lctx, &d->cfg, cfg);
    if (rc) {
        LOG_ERR(ctx, "the domain's libxl configuration does not parse "
                "(libxl error %d)", rc);
        rc = XLMIG_ERR_STREAM;
        goto fail;
    }
    free(d->cfg.c_info.name);
    d->cfg.c_info.name = strdup(desc->name);
    if (!d->cfg.c_info.name) {
        rc = XLMIG_ERR_NOMEM;
        goto fail;
    }
    d->type = d->cfg.c_info.type;
    d->info.nr_pages = desc->nr_pages;
    d->info.nr_vcpus = desc->nr_vcpus;
    d->info.page_shift = desc->page_shift;
    memcpy(d->info.uuid, desc->uuid, 16);
    snprintf(d->info.name, sizeof(d->info.name), "%s", desc->name);
    if (pipe2(fds, O_CLOEXEC)) {
        rc = XLMIG_ERR_IO;
        goto fail;
    }
    d->rfd = fds[0];
    d->wfd = fds[1];
    r->lctx = x->lctx;
    r->d = d;
    if (pthread_create(&d->restorer, NULL, restorer_main, r)) {
        close(fds[0]);
        close(fds[1]);
        d->rfd = d->wfd = -1;
        rc = XLMIG_ERR_NOMEM;
        goto fail;
    }
    d->restore = d->restoring = true;
    LOG_INFO(ctx, "restoring %s (%s) through libxl", desc->name,
             libxl_domain_type_to_string(d->type));
    *out = d;
    return 0;

fail:
    libxl_domain_config_dispose(&d->cfg);
    free(d);
    free(r);
    return rc;
}

/*
 * Claim the domain's memory from Xen (XENMEM_claim_pages) as soon as
 * libxl has created the new, empty domain and before its first page
 * arrives: while the stream fills it, no other domain and no other
 * toolstack can take that memory.  The claim shrinks as the restore
 * allocates; what is left of it is released when the restore ends.  Xen
 * refusing the claim for want of memory fails the restore at once rather
 * than half-way; a domain that does not show up in time is restored
 * without a claim (logged).
 */
static int restore_claim(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;
    xc_interface *xch;
    uint32_t domid = 0;
    int rc = 0, err;

    uint64_t until = xlmig_now_ns() + 10000000000ull;

    d->claim_tried = true;
    domid = xen_compat_wait_created(x->lctx, d->info.uuid, 10000000000ull);
    if (!domid) {
        LOG_WARN(ctx, "libxl has not created %s within 10 s: its memory is "
                 "not claimed from Xen", d->info.name);
        return 0;
    }
    xch = xc_interface_open(x->logger, x->logger, 0);
    if (!xch) {
        LOG_WARN(ctx, "xc_interface_open failed: %s's memory is not "
                 "claimed", d->info.name);
        return 0;
    }
    /* Xen refuses a claim above the domain's max_pages (EINVAL), which
     * libxl sets just after creating it: try again until it has. */
    for (;;) {
        if (!xc_domain_claim_pages(xch, domid, d->info.nr_pages)) {
            err = 0;
            break;
        }
        err = errno;
        if (err != EINVAL || xlmig_now_ns() >= until)
            break;
        usleep(20000);
    }
    if (!err) {
        d->claim_domid = domid;
        LOG_INFO(ctx, "claimed %" PRIu64 " MiB from Xen for %s (domain %u)",
                 d->info.nr_pages >> 8, d->info.name, domid);
    } else if (err == ENOMEM) {
        LOG_ERR(ctx, "Xen cannot claim %" PRIu64 " MiB for %s: not enough "
                "free memory (taken since the preflight?)",
                d->info.nr_pages >> 8, d->info.name);
        rc = XLMIG_ERR_NOSPACE;
    } else {
        LOG_WARN(ctx, "xc_domain_claim_pages(%u, %" PRIu64 " pages): %s: "
                 "restoring %s without a claim", domid, d->info.nr_pages,
                 strerror(err), d->info.name);
    }
    xc_interface_close(xch);
    return rc;
}

/* Release what is left of the claim (none once every page is in). */
void xen_restore_unclaim(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;
    xc_interface *xch;

    if (!d->claim_domid)
        return;
    xch = xc_interface_open(x->logger, x->logger, 0);
    if (xch) {
        if (xc_domain_claim_pages(xch, d->claim_domid, 0))
            LOG_DEBUG(ctx, "releasing domain %u's claim: %s",
                      d->claim_domid, strerror(errno));
        xc_interface_close(xch);
    }
    d->claim_domid = 0;
}

int xen_restore_record(xlmig_ctx *ctx, struct xlmig_dom *d,
                              const struct xlmig_record *rec)
{
    struct xlmig_rec_xen xr;
    int rc;

    if (rec->type != XLMIG_REC_XEN_STREAM) {
        LOG_ERR(ctx, "the xen backend does not restore %s records",
                xlmig_rec_type_name(rec->type));
        return XLMIG_ERR_STREAM;
    }
    if (!d->restoring || d->wfd < 0)
        return XLMIG_ERR_STATE;
    if (!d->claim_tried && (rc = restore_claim(ctx, d)))
        return rc;
    xlmig_rec_get_xen(rec, &xr);
    rc = xlmig_write_all(d->wfd, xr.data, xr.len);
    if (rc) {
        /* libxl stopped reading: it failed.  Its own log says why. */
        xen_restore_join(d);
        LOG_ERR(ctx, "libxl stopped reading Xen's stream at byte %" PRIu64
                " (libxl error %d)", xr.offset, d->restore_rc);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

int xen_restore_finish(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    int rc = xen_restore_join(d);

    xen_restore_unclaim(ctx, d);
    if (rc) {
        LOG_ERR(ctx, "libxl could not restore %s (libxl error %d)",
                d->info.name, rc);
        return XLMIG_ERR_BACKEND;
    }
    d->info.domid = d->new_domid;
    d->info.state = XLMIG_DOM_PAUSED;
    LOG_INFO(ctx, "%s restored as domain %u, paused", d->info.name,
             d->info.domid);
    return 0;
}

