/*
 * A job migrates one domain.  Its phases form one state machine and every
 * change goes through xlmig_job_set_phase(), which refuses an illegal
 * transition, logs the change and (later) publishes it.
 *
 *   from \ to      prepare precopy stopcopy postcopy handover committed rolledback
 *   preflight        x                                                    x
 *   prepare                  x       x                                    x
 *   precopy                          x        x                           x
 *   stop-and-copy                                      x                  x
 *   postcopy                                           x
 *   handover                                                    x         x
 *
 * Quick migration (save/restore through a file) goes
 * preflight -> prepare -> stop-and-copy -> handover -> committed.
 * Post-copy is past the point of no return: it cannot roll back.
 */
#ifndef XLMIG_JOB_H
#define XLMIG_JOB_H

#include "core/private.h"

enum xlmig_phase {
    XLMIG_PHASE_PREFLIGHT = 0,
    XLMIG_PHASE_PREPARE,
    XLMIG_PHASE_PRECOPY,
    XLMIG_PHASE_STOPCOPY,
    XLMIG_PHASE_POSTCOPY,
    XLMIG_PHASE_HANDOVER,
    XLMIG_PHASE_COMMITTED,
    XLMIG_PHASE_ROLLEDBACK,
    XLMIG_PHASE_COUNT,
};

struct xlmig_job {
    xlmig_ctx *ctx;
    uint32_t id;
    char domain[XLMIG_NAME_MAX];
    enum xlmig_phase phase;
    uint64_t phase_since_ns;
    /* Told of every phase change, after it is made (may be NULL). */
    void (*published)(struct xlmig_job *job, enum xlmig_phase from);
};

const char *xlmig_phase_name(enum xlmig_phase p);
void xlmig_job_init(struct xlmig_job *job, xlmig_ctx *ctx, uint32_t id,
                    const char *domain);
/* Returns XLMIG_ERR_STATE (and changes nothing) on an illegal move. */
int xlmig_job_set_phase(struct xlmig_job *job, enum xlmig_phase to)
    XLMIG_MUST_CHECK;
int xlmig_phase_transition_ok(enum xlmig_phase from, enum xlmig_phase to);

#endif
