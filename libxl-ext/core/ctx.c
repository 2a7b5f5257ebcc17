/* Contexts: backend selection and the calls that go straight to it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/private.h"

int xlmig_ctx_new(xlmig_ctx **ctx_out, const char *backend,
                  enum xlmig_log_level level, FILE *logf,
                  xentoollog_logger *lg, bool open)
{
    xlmig_ctx *ctx = calloc(1, sizeof(*ctx));
    int rc;

    *ctx_out = NULL;
    if (!ctx)
        return XLMIG_ERR_NOMEM;
    /* A caller's logger filters for itself. */
    ctx->level = lg ? XLMIG_LOG_DEBUG : level;
    ctx->logf = logf;
    ctx->lg = lg;
    if (!backend || !*backend)
        backend = getenv("XLMIG_BACKEND");
    if (!backend || !*backend)
        backend = access("/proc/xen/privcmd", F_OK) == 0 ? "xen" : "sim";
    for (size_t i = 0; xlmig_backends[i]; i++)
        if (!strcmp(xlmig_backends[i]->name, backend))
            ctx->ops = xlmig_backends[i];
    if (!ctx->ops) {
        char known[64] = "";
        for (size_t i = 0; xlmig_backends[i]; i++)
            snprintf(known + strlen(known), sizeof(known) - strlen(known),
                     "%s%s", i ? ", " : "", xlmig_backends[i]->name);
        LOG_ERR(ctx, "unknown backend \"%s\" (known here: %s)", backend,
                known);
        free(ctx);
        return XLMIG_ERR_INVAL;
    }
    rc = open ? xlmig_ctx_backend_open(ctx) : 0;
    if (rc) {
        free(ctx);
        return rc;
    }
    *ctx_out = ctx;
    return 0;
}

int xlmig_ctx_alloc(xlmig_ctx **ctx_out, const char *backend,
                    enum xlmig_log_level level, FILE *logf)
{
    return xlmig_ctx_new(ctx_out, backend, level, logf, NULL, true);
}

int xlmig_ctx_alloc_logger(xlmig_ctx **ctx_out, const char *backend,
                           struct xentoollog_logger *lg)
{
    if (!lg)
        return XLMIG_ERR_INVAL;
    return xlmig_ctx_new(ctx_out, backend, XLMIG_LOG_DEBUG, NULL, lg, true);
}

int xlmig_ctx_backend_open(xlmig_ctx *ctx)
{
    int rc;

    if (ctx->backend_open)
        return 0;
    rc = ctx->ops->open(ctx, &ctx->backend_priv);
    if (!rc)
        ctx->backend_open = true;
    return rc;
}

void xlmig_ctx_free(xlmig_ctx *ctx)
{
    if (!ctx)
        return;
    if (ctx->backend_open)
        ctx->ops->close(ctx, ctx->backend_priv);
    free(ctx);
}

const char *xlmig_ctx_backend(const xlmig_ctx *ctx)
{
    return ctx->ops->name;
}

int xlmig_domain_list(xlmig_ctx *ctx, struct xlmig_dominfo **out,
                      unsigned *n)
{
    return ctx->ops->list(ctx, out, n);
}

int xlmig_host_free_memory(xlmig_ctx *ctx, uint64_t *bytes)
{
    if (!ctx->ops->host_free)
        return XLMIG_ERR_NOTIMPL;
    return ctx->ops->host_free(ctx, bytes);
}

int xlmig_dirty_rates(xlmig_ctx *ctx, const char *const *idents, unsigned n,
                      unsigned window_ms, uint64_t *rates)
{
    struct xlmig_dom **dom;
    uint32_t *shift;
    uint64_t t0, dt;
    unsigned on = 0;

    for (unsigned i = 0; i < n; i++)
        rates[i] = UINT64_MAX;
    if (!ctx->ops->dirty_sample) {
        LOG_WARN(ctx, "the %s backend cannot sample dirty rates",
                 ctx->ops->name);
        return XLMIG_ERR_NOTIMPL;
    }
    dom = calloc(n ? n : 1, sizeof(*dom));
    shift = calloc(n ? n : 1, sizeof(*shift));
    if (!dom || !shift) {
        free(dom);
        free(shift);
        return XLMIG_ERR_NOMEM;
    }
    for (unsigned i = 0; i < n; i++) {
        struct xlmig_dominfo info;
        if (ctx->ops->find(ctx, idents[i], &info) ||
            ctx->ops->attach(ctx, &info, &dom[i]))
            continue;
        shift[i] = info.page_shift;
        if (ctx->ops->dirty_sample(ctx, dom[i], XLMIG_DIRTY_START, NULL)) {
            LOG_INFO(ctx, "%s: no dirty-rate sample", idents[i]);
            ctx->ops->detach(ctx, dom[i]);
            dom[i] = NULL;
            continue;
        }
        on++;
    }
    t0 = xlmig_now_ns();
    if (on)
        usleep(window_ms * 1000u);
    dt = xlmig_now_ns() - t0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t pages = 0;
        if (!dom[i])
            continue;
        if (!ctx->ops->dirty_sample(ctx, dom[i], XLMIG_DIRTY_COUNT, &pages)
            && dt)
            rates[i] = (uint64_t)((double)(pages << shift[i])
                                  * 1e9 / (double)dt);
        (void)ctx->ops->dirty_sample(ctx, dom[i], XLMIG_DIRTY_STOP, NULL);
        ctx->ops->detach(ctx, dom[i]);
    }
    free(dom);
    free(shift);
    return on || !n ? 0 : XLMIG_ERR_NOTFOUND;
}

int xlmig_domain_find(xlmig_ctx *ctx, const char *ident,
                      struct xlmig_dominfo *out)
{
    int rc = ctx->ops->find(ctx, ident, out);

    if (rc == XLMIG_ERR_NOTFOUND)
        LOG_ERR(ctx, "no domain \"%s\" on this host (%s backend)", ident,
                ctx->ops->name);
    return rc;
}
