/* The migration job object: progress, cancel and the one phase setter. */
#include "engine/mjob.h"

#include "transport/conn.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PROGRESS_EVERY_NS 250000000ull  /* progress events, at most */

void xlmig_mjob_init(struct xlmig_mjob *j, xlmig_ctx *ctx, uint32_t id,
                     enum xlmig_job_dir dir, const char *domain)
{
    memset(j, 0, sizeof(*j));
    xlmig_job_init(&j->job, ctx, id, domain);
    j->dir = dir;
    j->sock = -1;
    for (unsigned i = 0; i < XLMIG_CHANNELS_MAX; i++)
        j->chan_sock[i] = -1;
    snprintf(j->mode, sizeof(j->mode), "live");
    pthread_mutex_init(&j->lock, NULL);
    j->prog.started_ns = xlmig_now_ns();
}

void xlmig_mjob_dispose(struct xlmig_mjob *j)
{
    free(j->pf);
    j->pf = NULL;
    pthread_mutex_destroy(&j->lock);
}

void xlmig_mjob_fail(struct xlmig_mjob *j, int rc, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&j->lock);
    if (!j->error[0]) {
        va_start(ap, fmt);
        vsnprintf(j->error, sizeof(j->error), fmt, ap);
        va_end(ap);
    }
    if (!j->rc)
        j->rc = rc;
    pthread_mutex_unlock(&j->lock);
}

void xlmig_mjob_notify(struct xlmig_mjob *j, enum xlmig_job_event ev)
{
    if (j->notify)
        j->notify(j, ev);
}

void xlmig_mjob_retry(struct xlmig_mjob *j)
{
    uint64_t started;

    pthread_mutex_lock(&j->lock);
    started = j->prog.started_ns;
    memset(&j->prog, 0, sizeof(j->prog));
    j->prog.started_ns = started;
    free(j->pf);
    j->pf = NULL;
    j->rc = 0;
    j->error[0] = '\0';
    j->in_doubt = false;
    j->job.phase = XLMIG_PHASE_PREFLIGHT;
    j->job.phase_since_ns = xlmig_now_ns();
    pthread_mutex_unlock(&j->lock);
}

int xlmig_mjob_cancel(struct xlmig_mjob *j, char *why, size_t len)
{
    int rc = 0;

    pthread_mutex_lock(&j->lock);
    if (j->done) {
        snprintf(why, len, "job %u has finished", j->job.id);
        rc = XLMIG_ERR_STATE;
    } else if (j->job.phase >= XLMIG_PHASE_HANDOVER) {
        snprintf(why, len, "job %u is past COMMIT (%s%s): it can no longer "
                 "be cancelled", j->job.id, xlmig_phase_name(j->job.phase),
                 j->in_doubt ? ", in doubt" : "");
        rc = XLMIG_ERR_STATE;
    } else {
        j->cancel = true;
        /* Wake a worker blocked on the network. */
        if (j->sock >= 0)
            shutdown(j->sock, SHUT_RDWR);
        for (unsigned i = 0; i < XLMIG_CHANNELS_MAX; i++)
            if (j->chan_sock[i] >= 0)
                shutdown(j->chan_sock[i], SHUT_RDWR);
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

bool xlmig_mjob_cancelled(struct xlmig_mjob *j)
{
    bool c;

    pthread_mutex_lock(&j->lock);
    c = j->cancel;
    pthread_mutex_unlock(&j->lock);
    return c;
}

int xlmig_mjob_phase(struct xlmig_mjob *j, enum xlmig_phase to)
{
    int rc;

    pthread_mutex_lock(&j->lock);
    rc = xlmig_job_set_phase(&j->job, to);
    pthread_mutex_unlock(&j->lock);
    if (!rc)
        xlmig_mjob_notify(j, XLMIG_EV_PHASE);
    return rc;
}

void xlmig_mjob_sent(struct xlmig_mjob *j, struct xlmig_pace *p,
                     uint64_t len)
{
    uint64_t now = xlmig_now_ns();
    bool tell = false;

    pthread_mutex_lock(&j->lock);
    j->prog.bytes_sent += len;
    j->prog.round_bytes += len;
    if (now - p->last_ns >= PROGRESS_EVERY_NS) {
        if (p->last_ns)
            j->prog.bandwidth = (uint64_t)((double)(j->prog.bytes_sent -
                                                    p->last_bytes) * 1e9 /
                                           (double)(now - p->last_ns));
        p->last_ns = now;
        p->last_bytes = j->prog.bytes_sent;
        tell = true;
    }
    pthread_mutex_unlock(&j->lock);
    if (tell)
        xlmig_mjob_notify(j, XLMIG_EV_PROGRESS);
}

void xlmig_mjob_round(struct xlmig_mjob *j, const struct xlmig_round *r,
                      const struct xlmig_verdict *v)
{
    pthread_mutex_lock(&j->lock);
    j->prog.last = *r;
    j->prog.verdict = *v;
    j->prog.rounds = r->round;
    j->prog.dirty_rate = v->dirty_rate;
    j->prog.round = r->round + 1;
    j->prog.round_bytes = 0;
    j->prog.round_target = r->pages_dirtied * (XLMIG_PAGE_SIZE + 8);
    pthread_mutex_unlock(&j->lock);
    xlmig_mjob_notify(j, XLMIG_EV_ROUND);
}

void xlmig_mjob_suspending(struct xlmig_mjob *j)
{
    pthread_mutex_lock(&j->lock);
    j->prog.suspended_ns = xlmig_now_ns();
    /* From now on the domain runs nowhere: a dead link must be noticed
     * in dead_peer_ms, not io_timeout, so the source resumes it soon. */
    if (j->dead_peer_ms) {
        if (j->sock >= 0)
            xlmig_sock_suspended(j->sock, j->dead_peer_ms);
        for (unsigned i = 0; i < XLMIG_CHANNELS_MAX; i++)
            if (j->chan_sock[i] >= 0)
                xlmig_sock_suspended(j->chan_sock[i], j->dead_peer_ms);
    }
    pthread_mutex_unlock(&j->lock);
    if (xlmig_mjob_phase(j, XLMIG_PHASE_STOPCOPY))
        LOG_ERR(j->job.ctx, "internal: phase change refused");
}


int xlmig_mjob_handover(struct xlmig_mjob *j)
{
    int rc;

    pthread_mutex_lock(&j->lock);
    rc = j->cancel ? XLMIG_ERR_CANCELLED :
                     xlmig_job_set_phase(&j->job, XLMIG_PHASE_HANDOVER);
    pthread_mutex_unlock(&j->lock);
    if (!rc)
        xlmig_mjob_notify(j, XLMIG_EV_PHASE);
    return rc;
}

void xlmig_mjob_rollback(struct xlmig_mjob *j, int rc)
{
    if (j->job.phase != XLMIG_PHASE_ROLLEDBACK &&
        xlmig_phase_transition_ok(j->job.phase, XLMIG_PHASE_ROLLEDBACK))
        if (xlmig_mjob_phase(j, XLMIG_PHASE_ROLLEDBACK))
            LOG_ERR(j->job.ctx, "internal: job %u cannot roll back",
                    j->job.id);
    xlmig_mjob_fail(j, rc, "%s", xlmig_strerror(rc));
}

void xlmig_mjob_settle(struct xlmig_mjob *j, bool ran_there,
                       const char *outcome)
{
    pthread_mutex_lock(&j->lock);
    j->in_doubt = false;
    j->rc = ran_there ? 0 : XLMIG_ERR_PEER;
    snprintf(j->error, sizeof(j->error), "%s", ran_there ? "" : outcome);
    pthread_mutex_unlock(&j->lock);
    if (xlmig_mjob_phase(j, ran_there ? XLMIG_PHASE_COMMITTED :
                                        XLMIG_PHASE_ROLLEDBACK))
        LOG_ERR(j->job.ctx, "job %u: cannot record the outcome", j->job.id);
}
