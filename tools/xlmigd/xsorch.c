/*
 * xlmigd: orchestration through XenStore (docs/specs/xenstore.md).  The
 * watcher (xenstore/watcher.c) does the XenStore side in its own thread;
 * this is the daemon's side of it: requests run through dispatch(), as
 * the control socket's do, and the job events every job publishes
 * (events.c) mark it for the watcher to write.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/private.h"
#include "xlmigd/xlmigd.h"

#define NS_PER_S 1000000000ull

void xsorch_note(struct djob *dj, enum xlmig_job_event ev)
{
    if (!D.xs)
        return;
    if (dj) {
        bool urgent = ev != XLMIG_EV_PROGRESS && ev != XLMIG_EV_ROUND;
        pthread_mutex_lock(&D.lock);
        if (urgent)
            dj->xs_dirty = 2;
        else if (!dj->xs_dirty)
            dj->xs_dirty = 1;
        pthread_mutex_unlock(&D.lock);
    }
    xlmig_xs_wake(D.xs);
}

static int xs_submit(void *opaque, const struct xlmig_ctl_req *r,
                     const char *id, uint32_t *job, char *why, size_t len)
{
    struct reply rp = { .xs_request = id };

    (void)opaque;
    dispatch(&rp, r);
    if (rp.failed)
        return xlmig_why(why, len, XLMIG_ERR_REFUSED, "%s", rp.error);
    *job = r->cmd == XLMIG_CTL_MIGRATE || r->cmd == XLMIG_CTL_PREFLIGHT ||
           r->cmd == XLMIG_CTL_STORAGE_MOVE ? rp.job : 0;
    return 0;
}

static int xs_cancel(void *opaque, uint32_t job, char *why, size_t len)
{
    struct xlmig_ctl_req r = { .cmd = XLMIG_CTL_CANCEL, .job = job };
    struct reply rp = { .cl = NULL };

    (void)opaque;
    dispatch(&rp, &r);
    if (rp.failed)
        return xlmig_why(why, len, XLMIG_ERR_STATE, "%s", rp.error);
    return 0;
}

/* @dj's state for XenStore.  D.lock and dj->m.lock held. */
static void snapshot(struct djob *dj, struct xlmig_xs_job *s,
                     const char *phase, const char *result, unsigned pos)
{
    const struct xlmig_mjob *m = &dj->m;
    const struct xlmig_progress *p = &m->prog;
    unsigned prog;

    memset(s, 0, sizeof(*s));
    s->id = m->job.id;
    snprintf(s->request, sizeof(s->request), "%s", dj->xs_request);
    s->direction = job_dir_name(m->dir);
    snprintf(s->domain, sizeof(s->domain), "%s", m->job.domain);
    snprintf(s->peer, sizeof(s->peer), "%s", m->peer);
    snprintf(s->mode, sizeof(s->mode), "%s", m->mode);
    s->phase = phase;
    s->result = result;
    prog = xlmig_xs_progress((int)m->job.phase, dj->queued, m->done, m->rc,
                             m->dir == XLMIG_JOB_LOCAL, p->round,
                             p->round_bytes, p->round_target,
                             p->storage.done, p->storage.size);
    /* Never backwards: a new round starts lower than the last ended. */
    if (prog > dj->xs_progress)
        dj->xs_progress = prog;
    s->progress = dj->xs_progress;
    s->position = pos;
    s->round = p->round;
    s->rounds = p->rounds;
    s->memory_bytes = p->memory_bytes;
    s->bytes_sent = p->bytes_sent;
    s->round_bytes = p->round_bytes;
    s->round_target = p->round_target;
    s->bandwidth = p->bandwidth;
    s->dirty_rate = p->dirty_rate;
    s->disk_bytes = p->disk_bytes;
    s->elapsed_ms = (m->done ? p->total_ns :
                     p->started_ns ? xlmig_now_ns() - p->started_ns : 0) /
                    1000000;
    s->total_ms = p->total_ns / 1000000;
    s->downtime_us = p->downtime_ns / 1000;
    s->rc = m->rc;
    s->done = m->done;
    s->cancellable = !m->done && !m->in_doubt &&
                     m->job.phase < XLMIG_PHASE_HANDOVER &&
                     m->dir != XLMIG_JOB_IN;
    snprintf(s->error, sizeof(s->error), "%s", m->error);
}

static size_t xs_collect(void *opaque, struct xlmig_xs_job *out, size_t max,
                         uint32_t *next_ms)
{
    uint64_t now = xlmig_now_ns();
    size_t n = 0;

    (void)opaque;
    *next_ms = UINT32_MAX;
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj && n < max; dj = dj->next) {
        const char *phase, *result;
        unsigned pos;
        bool changed, due;
        if (dj->hidden || dj->is_recover) {
            dj->xs_dirty = 0;
            continue;
        }
        pthread_mutex_lock(&dj->m.lock);
        phase = dj->queued ? "queued" : xlmig_phase_name(dj->m.job.phase);
        result = job_result_name(&dj->m);
        pos = queue_position(dj);
        changed = dj->xs_dirty == 2 || phase != dj->xs_phase ||
                  result != dj->xs_result || pos != dj->xs_position;
        due = dj->xs_dirty == 1 && now - dj->xs_last_ns >= NS_PER_S;
        if (!changed && !due) {
            if (dj->xs_dirty == 1) {
                uint64_t wait = (dj->xs_last_ns + NS_PER_S - now) /
                                1000000 + 1;
                if (wait < *next_ms)
                    *next_ms = (uint32_t)wait;
            }
            pthread_mutex_unlock(&dj->m.lock);
            continue;
        }
        snapshot(dj, &out[n++], phase, result, pos);
        pthread_mutex_unlock(&dj->m.lock);
        dj->xs_dirty = 0;
        dj->xs_last_ns = now;
        dj->xs_phase = phase;
        dj->xs_result = result;
        dj->xs_position = pos;
    }
    pthread_mutex_unlock(&D.lock);
    return n;
}

static size_t xs_forgotten(void *opaque, uint32_t *ids, size_t max)
{
    size_t n;

    (void)opaque;
    pthread_mutex_lock(&D.lock);
    n = D.nxs_forgot < max ? D.nxs_forgot : max;
    memcpy(ids, D.xs_forgot, n * sizeof(*ids));
    memmove(D.xs_forgot, D.xs_forgot + n,
            (D.nxs_forgot - n) * sizeof(*ids));
    D.nxs_forgot -= (unsigned)n;
    pthread_mutex_unlock(&D.lock);
    return n;
}

static void xs_host(void *opaque, struct xlmig_xs_host *h)
{
    (void)opaque;
    pthread_mutex_lock(&D.lock);
    snprintf(h->name, sizeof(h->name), "%s", D.cfg.host_name);
    h->drained = drain_state(&h->drained_since, h->drained_reason,
                             sizeof(h->drained_reason));
    h->max_outgoing = D.cfg.max_outgoing;
    h->max_incoming = D.cfg.max_incoming;
    h->queued = queue_length();
    pthread_mutex_unlock(&D.lock);
}

int xsorch_start(void)
{
    static const struct xlmig_xs_ops ops = {
        .submit = xs_submit,
        .cancel = xs_cancel,
        .collect = xs_collect,
        .forgotten = xs_forgotten,
        .host = xs_host,
    };
    struct xlmig_xs *xs;
    xlmig_ctx *ctx = NULL;
    char why[256];
    int rc;

    if (!strcmp(D.cfg.xenstore, "off")) {
        LOG_INFO(D.ctx, "XenStore orchestration is off (xenstore = "
                 "\"off\")");
        return 0;
    }
    /* Every job known at start (in doubt ones) is written once. */
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj; dj = dj->next)
        dj->xs_dirty = 2;
    pthread_mutex_unlock(&D.lock);
    /* The watcher's thread logs through a context of its own (no
     * backend), as every worker does. */
    if (xlmig_ctx_new(&ctx, D.cfg.backend[0] ? D.cfg.backend : NULL,
                      D.cfg.log_level, stderr, NULL, false)) {
        LOG_ERR(D.ctx, "XenStore orchestration: no library context");
        return strcmp(D.cfg.xenstore, "on") ? 0 : -1;
    }
    rc = xlmig_xs_start(ctx, &ops, &xs, why, sizeof(why));
    if (rc) {
        xlmig_ctx_free(ctx);
        if (!strcmp(D.cfg.xenstore, "on")) {
            LOG_ERR(D.ctx, "XenStore orchestration (xenstore = \"on\"): "
                    "%s", why);
            return -1;
        }
        LOG_INFO(D.ctx, "XenStore orchestration is off: %s", why);
        return 0;
    }
    D.xs = xs;
    D.xs_ctx = ctx;
    LOG_INFO(D.ctx, "XenStore orchestration on: requests under "
             XLMIG_XS_REQUESTS ", jobs under " XLMIG_XS_JOBS);
    return 0;
}

void xsorch_stop(void)
{
    struct xlmig_xs *xs = D.xs;

    if (!xs)
        return;
    xlmig_xs_stop(xs);
    D.xs = NULL;
    xlmig_ctx_free(D.xs_ctx);
    D.xs_ctx = NULL;
}
