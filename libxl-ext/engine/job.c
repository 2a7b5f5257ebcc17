#include "engine/job.h"

#include <stdio.h>
#include <string.h>

static const char *const names[XLMIG_PHASE_COUNT] = {
    [XLMIG_PHASE_PREFLIGHT] = "preflight",
    [XLMIG_PHASE_PREPARE] = "prepare",
    [XLMIG_PHASE_PRECOPY] = "precopy",
    [XLMIG_PHASE_STOPCOPY] = "stop-and-copy",
    [XLMIG_PHASE_POSTCOPY] = "postcopy",
    [XLMIG_PHASE_HANDOVER] = "handover",
    [XLMIG_PHASE_COMMITTED] = "committed",
    [XLMIG_PHASE_ROLLEDBACK] = "rolled-back",
};

#define B(p) (1u << XLMIG_PHASE_##p)
/* The table in job.h, one bitmask of allowed targets per phase. */
static const unsigned allowed[XLMIG_PHASE_COUNT] = {
    [XLMIG_PHASE_PREFLIGHT] = B(PREPARE) | B(ROLLEDBACK),
    [XLMIG_PHASE_PREPARE] = B(PRECOPY) | B(STOPCOPY) | B(ROLLEDBACK),
    [XLMIG_PHASE_PRECOPY] = B(STOPCOPY) | B(POSTCOPY) | B(ROLLEDBACK),
    [XLMIG_PHASE_STOPCOPY] = B(HANDOVER) | B(ROLLEDBACK),
    [XLMIG_PHASE_POSTCOPY] = B(HANDOVER),
    [XLMIG_PHASE_HANDOVER] = B(COMMITTED) | B(ROLLEDBACK),
    [XLMIG_PHASE_COMMITTED] = 0,
    [XLMIG_PHASE_ROLLEDBACK] = 0,
};
#undef B

const char *xlmig_phase_name(enum xlmig_phase p)
{
    return (unsigned)p < XLMIG_PHASE_COUNT ? names[p] : "invalid";
}

int xlmig_phase_transition_ok(enum xlmig_phase from, enum xlmig_phase to)
{
    if ((unsigned)from >= XLMIG_PHASE_COUNT ||
        (unsigned)to >= XLMIG_PHASE_COUNT)
        return 0;
    return (allowed[from] >> to) & 1;
}

void xlmig_job_init(struct xlmig_job *job, xlmig_ctx *ctx, uint32_t id,
                    const char *domain)
{
    memset(job, 0, sizeof(*job));
    job->ctx = ctx;
    job->id = id;
    snprintf(job->domain, sizeof(job->domain), "%s", domain);
    job->phase = XLMIG_PHASE_PREFLIGHT;
    job->phase_since_ns = xlmig_now_ns();
}

int xlmig_job_set_phase(struct xlmig_job *job, enum xlmig_phase to)
{
    uint64_t now = xlmig_now_ns();

    if (!xlmig_phase_transition_ok(job->phase, to)) {
        LOG_ERR(job->ctx, "job %u dom %s: illegal phase change %s -> %s",
                job->id, job->domain, xlmig_phase_name(job->phase),
                xlmig_phase_name(to));
        return XLMIG_ERR_STATE;
    }
    LOG_INFO(job->ctx, "job %u dom %s: %s -> %s (%.1f ms in %s)", job->id,
             job->domain, xlmig_phase_name(job->phase),
             xlmig_phase_name(to), (double)(now - job->phase_since_ns) / 1e6,
             xlmig_phase_name(job->phase));
    {
        enum xlmig_phase from = job->phase;
        job->phase = to;
        job->phase_since_ns = now;
        if (job->published)
            job->published(job, from);
    }
    return 0;
}
