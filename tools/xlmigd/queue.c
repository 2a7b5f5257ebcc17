/*
 * xlmigd: the queue of outgoing migrations (docs/orchestration.md).
 *
 * A migration asked for while max_outgoing run (or, with
 * max_outgoing_per_destination, while that many run to its destination)
 * waits here instead of being refused, and starts when a slot frees:
 * higher priority first, then in the order asked.  Every decision (is
 * there a slot, who takes it) is made under D.lock in one step, so two
 * jobs never take one slot.  The queue lives in memory: a restart of
 * xlmigd ends the jobs queued in it (their clients are told) and moves
 * nothing.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "xlmigd/xlmigd.h"

static uint64_t next_seq = 1;

/* An outgoing migration that holds a slot: started, not finished.
 * Preflight-only jobs and recoveries take none. */
static bool holds_slot(const struct djob *j)
{
    return !j->m.done && j->m.dir == XLMIG_JOB_OUT && !j->queued &&
           !j->is_recover && !j->oo.check_only && j->started;
}

/* Whether @dj could start now, by the limits alone.  D.lock. */
static bool room_for(const struct djob *dj)
{
    unsigned all = 0, here = 0;

    for (const struct djob *j = D.jobs; j; j = j->next) {
        if (j == dj || !holds_slot(j))
            continue;
        all++;
        if (!strcmp(j->oo.dest.name, dj->oo.dest.name))
            here++;
    }
    return all < D.cfg.max_outgoing &&
           (!D.cfg.max_outgoing_per_destination ||
            here < D.cfg.max_outgoing_per_destination);
}

/* Does @a go before @b? */
static bool before(const struct djob *a, const struct djob *b)
{
    return a->priority != b->priority ? a->priority > b->priority :
                                        a->qseq < b->qseq;
}

bool queue_admit(struct djob *dj)
{
    bool now;

    pthread_mutex_lock(&D.lock);
    /* A job queued to the same destination with the same or a higher
     * priority goes first: no overtaking in the FIFO. */
    now = room_for(dj);
    for (const struct djob *j = D.jobs; now && j; j = j->next)
        if (j->queued && !j->m.done && j->priority >= dj->priority &&
            (!D.cfg.max_outgoing_per_destination ||
             !strcmp(j->oo.dest.name, dj->oo.dest.name)))
            now = false;
    dj->qseq = next_seq++;
    dj->queued = !now;
    dj->started = now;
    pthread_mutex_unlock(&D.lock);
    return now;
}

unsigned queue_position(const struct djob *dj)
{
    unsigned pos = 1;

    if (!dj->queued)
        return 0;
    for (const struct djob *j = D.jobs; j; j = j->next)
        if (j != dj && j->queued && !j->m.done && before(j, dj))
            pos++;
    return pos;
}

unsigned queue_length(void)
{
    unsigned n = 0;

    for (const struct djob *j = D.jobs; j; j = j->next)
        n += j->queued && !j->m.done;
    return n;
}

void queue_dispatch(void)
{
    struct djob *go[64];
    unsigned n = 0;

    if (stopping)
        return;
    pthread_mutex_lock(&D.lock);
    while (n < sizeof(go) / sizeof(go[0])) {
        struct djob *best = NULL;
        for (struct djob *j = D.jobs; j; j = j->next)
            if (j->queued && !j->m.done && room_for(j) &&
                (!best || before(j, best)))
                best = j;
        if (!best)
            break;
        best->queued = false;
        best->started = true;
        /* The wait is not the migration's time. */
        pthread_mutex_lock(&best->m.lock);
        best->queued_ns = xlmig_now_ns() - best->m.prog.started_ns;
        best->m.prog.started_ns = xlmig_now_ns();
        pthread_mutex_unlock(&best->m.lock);
        go[n++] = best;
    }
    pthread_mutex_unlock(&D.lock);
    for (unsigned i = 0; i < n; i++)
        start(go[i], outgoing_worker);
}

/* End a job that never started (it holds no worker). */
static void finish_unstarted(struct djob *dj, int rc, const char *why)
{
    xlmig_mjob_fail(&dj->m, rc, "%s", why);
    pthread_mutex_lock(&D.lock);
    D.workers++;                        /* job_finish counts one down */
    pthread_mutex_unlock(&D.lock);
    job_finish(dj, rc);
}

bool queue_cancel(struct djob *dj)
{
    bool was;

    pthread_mutex_lock(&D.lock);
    was = dj->queued && !dj->m.done;
    dj->queued = false;
    pthread_mutex_unlock(&D.lock);
    if (was)
        finish_unstarted(dj, XLMIG_ERR_CANCELLED, "cancelled by the "
                         "administrator while queued");
    return was;
}

void queue_drop_all(void)
{
    for (;;) {
        struct djob *dj = NULL;

        pthread_mutex_lock(&D.lock);
        for (struct djob *j = D.jobs; j && !dj; j = j->next)
            if (j->queued && !j->m.done)
                dj = j;
        if (dj)
            dj->queued = false;
        pthread_mutex_unlock(&D.lock);
        if (!dj)
            return;
        finish_unstarted(dj, XLMIG_ERR_CANCELLED, "xlmigd stopped before "
                         "the job left the queue (a queue does not survive "
                         "a restart); nothing was moved");
    }
}
