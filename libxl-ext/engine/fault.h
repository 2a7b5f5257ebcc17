/*
 * Points in a migration where a test build can inject a fault or hold
 * the job still: moments that timing cannot reach (both copies of a
 * domain complete at the COMMIT gate; a destination dying with COMMIT
 * recorded).  The shipped library only calls through this table, which
 * is empty; tests/hooks/fault_hooks.c fills it in the daemon the
 * integration tests run (build/tests/xlmigd), never in an installed one.
 */
#ifndef XLMIG_ENGINE_FAULT_H
#define XLMIG_ENGINE_FAULT_H

#include "core/private.h"

struct xlmig_fault_hooks {
    /* Source: suspended, the stream complete, COMMIT not yet sent. */
    void (*before_commit)(xlmig_ctx *ctx);
    /* Destination: COMMIT received, not yet recorded. */
    void (*commit_received)(xlmig_ctx *ctx);
    /* Destination: COMMIT recorded durably, the domain not yet running. */
    void (*commit_recorded)(xlmig_ctx *ctx);
    /* Source: true to leave DONE unsent, as a source of an older version
     * does. */
    bool (*drop_done)(xlmig_ctx *ctx);
};

/* NULL in every build but the tests'. */
extern const struct xlmig_fault_hooks *xlmig_fault_hooks;

/* True where a test build asks for the fault at @point. */
#define XLMIG_FAULT_IF(point, ctx)                                      \
    (xlmig_fault_hooks && xlmig_fault_hooks->point &&                   \
     xlmig_fault_hooks->point(ctx))

#define XLMIG_FAULT(point, ctx)                                         \
    do {                                                                \
        if (xlmig_fault_hooks && xlmig_fault_hooks->point)              \
            xlmig_fault_hooks->point(ctx);                              \
    } while (0)

#endif
