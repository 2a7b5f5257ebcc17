/* xlmigd: the job table and the workers' library contexts (see xlmigd.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "xlmigd/xlmigd.h"

/* ---- the job table ---- */

struct djob *job_new(enum xlmig_job_dir dir, const char *domain)
{
    struct djob *dj = calloc(1, sizeof(*dj));
    uint32_t id;

    if (!dj)
        return NULL;
    id = xlmig_state_next_id(D.cfg.state_dir);
    xlmig_mjob_init(&dj->m, NULL, id, dir, domain);
    dj->m.notify = publish;
    dj->fd = -1;
    pthread_mutex_lock(&D.lock);
    dj->next = D.jobs;
    D.jobs = dj;
    pthread_mutex_unlock(&D.lock);
    return dj;
}

/* Forget finished jobs beyond the history kept for `status`.  D.lock. */
void jobs_prune(void)
{
    unsigned kept = 0;

    for (struct djob **pp = &D.jobs; *pp;) {
        struct djob *dj = *pp;
        bool finished = dj->m.done && !dj->m.in_doubt;
        /* Not before XenStore has its last state (xsorch.c). */
        if (finished && dj->xs_dirty && !dj->hidden &&
            xlmig_xs_running(D.xs)) {
            pp = &dj->next;
            continue;
        }
        if (finished && (dj->hidden || ++kept > HISTORY_MAX)) {
            if (!dj->hidden && D.xs && D.nxs_forgot < XS_FORGOT_MAX)
                D.xs_forgot[D.nxs_forgot++] = dj->m.job.id;
            *pp = dj->next;
            xlmig_mjob_dispose(&dj->m);
            free(dj);
            continue;
        }
        pp = &dj->next;
    }
}

struct djob *job_find(uint32_t id)
{
    for (struct djob *dj = D.jobs; dj; dj = dj->next)
        if (dj->m.job.id == id && !dj->hidden)
            return dj;
    return NULL;
}

void subscribe(struct djob *dj, struct client *cl)
{
    if (cl && dj->nsubs < SUBS_MAX)
        dj->subs[dj->nsubs++] = cl;
}

/*
 * The worker's last touch of @dj: once D.workers drops and the job is
 * marked done, the main loop may free it.
 */
void job_finish(struct djob *dj, int rc)
{
    pthread_mutex_lock(&dj->m.lock);
    dj->m.done = true;
    if (rc && !dj->m.rc)
        dj->m.rc = rc;
    dj->finished_ns = xlmig_now_ns();
    pthread_mutex_unlock(&dj->m.lock);
    publish(&dj->m, XLMIG_EV_DONE);
    pthread_mutex_lock(&D.lock);
    dj->nsubs = 0;
    D.workers--;
    pthread_mutex_unlock(&D.lock);
    /* A slot may have freed: the queue moves on. */
    if (dj->m.dir == XLMIG_JOB_OUT)
        queue_dispatch();
}

/* A worker's own library context; @open: with its backend open now
 * (an incoming connection opens it once it is known to be a job). */
xlmig_ctx *worker_ctx(struct djob *dj, bool open)
{
    xlmig_ctx *ctx;

    if (xlmig_ctx_new(&ctx, D.cfg.backend[0] ? D.cfg.backend : NULL,
                      D.cfg.log_level, stderr, NULL, open))
        return NULL;
    dj->m.job.ctx = ctx;
    return ctx;
}

