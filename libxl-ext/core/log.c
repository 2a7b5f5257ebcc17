/*
 * Logging: every message of the library, and of libxl and libxc under
 * it, is one line "xlmig: LEVEL: PREFIX MESSAGE" written with one call,
 * so concurrent jobs do not interleave.  With a caller's xentoollog
 * logger (xlmig_ctx_alloc_logger) the lines go to it instead, at the
 * matching xentoollog level, and it does the filtering.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/private.h"

static const char *const names[] = { "error", "warning", "info", "debug" };

static xentoollog_level to_xtl(enum xlmig_log_level l)
{
    switch (l) {
    case XLMIG_LOG_ERROR: return XTL_ERROR;
    case XLMIG_LOG_WARN: return XTL_WARN;
    case XLMIG_LOG_INFO: return XTL_INFO;
    case XLMIG_LOG_DEBUG: break;
    }
    return XTL_DEBUG;
}

static enum xlmig_log_level from_xtl(xentoollog_level l)
{
    if (l >= XTL_ERROR)
        return XLMIG_LOG_ERROR;
    if (l == XTL_WARN)
        return XLMIG_LOG_WARN;
    if (l >= XTL_PROGRESS)
        return XLMIG_LOG_INFO;
    return XLMIG_LOG_DEBUG;
}

static void xtl_emit(xentoollog_logger *lg, xentoollog_level l,
                     const char *fmt, ...) XLMIG_PRINTF(3, 4);
static void xtl_emit(xentoollog_logger *lg, xentoollog_level l,
                     const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    lg->vmessage(lg, l, -1, "xlmig", fmt, ap);
    va_end(ap);
}

void xlmig_log(xlmig_ctx *ctx, enum xlmig_log_level lvl, const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (ctx && lvl > ctx->level)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (ctx && ctx->lg) {
        xtl_emit(ctx->lg, to_xtl(lvl), "%s%s", ctx->log_prefix, line);
        return;
    }
    fprintf(ctx && ctx->logf ? ctx->logf : stderr, "xlmig: %s: %s%s\n",
            names[lvl], ctx ? ctx->log_prefix : "", line);
}

/* libxl's and libxc's messages, into xlmig_log() with the context's
 * prefix: "libxl: ..." or "xc: ...", with the errno they name. */
static void xtl_vmessage(xentoollog_logger *vt, xentoollog_level level,
                         int errnoval, const char *context,
                         const char *format, va_list al)
{
    struct xlmig_xtl *x = (struct xlmig_xtl *)vt;
    enum xlmig_log_level lvl = from_xtl(level);
    char msg[900];

    if (lvl > x->ctx->level)
        return;
    vsnprintf(msg, sizeof(msg), format, al);
    if (errnoval >= 0)
        xlmig_log(x->ctx, lvl, "%s%s%s: %s", context ? context : "",
                  context ? ": " : "", msg, strerror(errnoval));
    else
        xlmig_log(x->ctx, lvl, "%s%s%s", context ? context : "",
                  context ? ": " : "", msg);
}

static void xtl_destroy(xentoollog_logger *vt)
{
    (void)vt;                   /* part of its context */
}

xentoollog_logger *xlmig_ctx_xtl(xlmig_ctx *ctx)
{
    ctx->xtl.vt.vmessage = xtl_vmessage;
    ctx->xtl.vt.progress = NULL;
    ctx->xtl.vt.destroy = xtl_destroy;
    ctx->xtl.ctx = ctx;
    return &ctx->xtl.vt;
}
