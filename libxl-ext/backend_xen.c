/*
 * The xen backend: real domains through libxl, libxenctrl, libxenguest and
 * libxenstore.  Listing and lookup are done through libxl now; saving and
 * restoring through xc_domain_save()/libxl_domain_create_restore() inside
 * xlmig streams are not implemented yet and say so.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenguest.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "stream.h"

struct xen_priv {
    xentoollog_logger_stdiostream *logger;
    libxl_ctx *lctx;
};

struct xlmig_dom {
    struct xlmig_dominfo info;
};

static int xen_open(xlmig_ctx *ctx, void **priv)
{
    struct xen_priv *x = calloc(1, sizeof(*x));

    if (!x)
        return XLMIG_ERR_NOMEM;
    x->logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (!x->logger ||
        libxl_ctx_alloc(&x->lctx, LIBXL_VERSION, 0,
                        (xentoollog_logger *)x->logger)) {
        LOG_ERR(ctx, "cannot open libxl: is this a Xen dom0 with the "
                "toolstack running (xenstored, /proc/xen)?");
        if (x->logger)
            xtl_logger_destroy((xentoollog_logger *)x->logger);
        free(x);
        return XLMIG_ERR_UNAVAIL;
    }
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
    xtl_logger_destroy((xentoollog_logger *)x->logger);
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

static int xen_find(xlmig_ctx *ctx, const char *ident,
                    struct xlmig_dominfo *out)
{
    struct xen_priv *x = ctx->backend_priv;
    libxl_dominfo di;
    uint32_t domid;
    char *end;
    int rc;

    errno = 0;
    domid = (uint32_t)strtoul(ident, &end, 10);
    if (errno || *end || end == ident) {
        if (libxl_name_to_domid(x->lctx, ident, &domid))
            return XLMIG_ERR_NOTFOUND;
    }
    libxl_dominfo_init(&di);
    rc = libxl_domain_info(x->lctx, &di, domid);
    if (rc) {
        libxl_dominfo_dispose(&di);
        return rc == ERROR_DOMAIN_NOTFOUND ? XLMIG_ERR_NOTFOUND :
                                             XLMIG_ERR_BACKEND;
    }
    to_info(x, &di, out);
    libxl_dominfo_dispose(&di);
    return 0;
}

static int notimpl(xlmig_ctx *ctx, const char *op)
{
    LOG_ERR(ctx, "xen backend: %s is not implemented yet", op);
    return XLMIG_ERR_NOTIMPL;
}

static int xen_attach(xlmig_ctx *ctx, const struct xlmig_dominfo *info,
                      struct xlmig_dom **out)
{
    struct xlmig_dom *d = calloc(1, sizeof(*d));

    (void)ctx;
    if (!d)
        return XLMIG_ERR_NOMEM;
    d->info = *info;
    *out = d;
    return 0;
}

static void xen_detach(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    (void)ctx;
    free(d);
}

static int xen_suspend(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    (void)d;
    return notimpl(ctx, "suspend");
}

static int xen_resume(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    (void)d;
    return notimpl(ctx, "resume");
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

    if (libxl_domain_destroy(x->lctx, d->info.domid, NULL)) {
        LOG_ERR(ctx, "libxl_domain_destroy(%u) failed", d->info.domid);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

static int xen_save(xlmig_ctx *ctx, struct xlmig_dom *d,
                    struct xlmig_stream_writer *w)
{
    (void)d;
    (void)w;
    /* Will run xc_domain_save() with an xlmig precopy_policy. */
    (void)xc_domain_save;
    return notimpl(ctx, "save");
}

static int xen_live_save(xlmig_ctx *ctx, struct xlmig_dom *d,
                         struct xlmig_stream_writer *w,
                         const struct xlmig_limits *lim,
                         const struct xlmig_live_hooks *hooks,
                         struct xlmig_live_stats *st)
{
    (void)d;
    (void)w;
    (void)lim;
    (void)hooks;
    (void)st;
    return notimpl(ctx, "live save");
}

static void xen_describe(xlmig_ctx *ctx, struct xlmig_dom *d,
                         struct xlmig_domain_desc *desc)
{
    (void)ctx;
    xlmig_desc_from_info(&d->info, XLMIG_STREAM_BACKEND_XEN, desc);
}

static int xen_restore_create(xlmig_ctx *ctx,
                              const struct xlmig_domain_desc *desc,
                              uint32_t fmt, const void *cfg, size_t len,
                              struct xlmig_dom **out)
{
    (void)desc;
    (void)fmt;
    (void)cfg;
    (void)len;
    (void)out;
    return notimpl(ctx, "restore");
}

static int xen_restore_record(xlmig_ctx *ctx, struct xlmig_dom *d,
                              const struct xlmig_record *rec)
{
    (void)d;
    (void)rec;
    return notimpl(ctx, "restore");
}

static int xen_restore_finish(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    (void)d;
    return notimpl(ctx, "restore");
}

static int xen_info(xlmig_ctx *ctx, struct xlmig_dom *d,
                    struct xlmig_dominfo *out)
{
    char id[16];

    snprintf(id, sizeof(id), "%" PRIu32, d->info.domid);
    return xen_find(ctx, id, out);
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
};
