/* xlmigd: one worker thread per job (see xlmigd.h). */
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

/* ---- workers ---- */

void *incoming_worker(void *arg)
{
    struct djob *dj = arg;
    struct xlmig_in_env env = {
        .cfg = &D.cfg, .reserve = reserve, .drained = drained,
        .admit = admit, .vcpus_held = vcpus_held,
    };
    struct xlmig_tls_conn *tc = NULL;
    char peer[XLMIG_NAME_MAX];
    xlmig_ctx *ctx = worker_ctx(dj, false);
    int rc;

    if (!ctx) {
        close(dj->fd);
        job_finish(dj, XLMIG_ERR_NOMEM);
        return NULL;
    }
    snprintf(ctx->log_prefix, sizeof(ctx->log_prefix), "in %u: ",
             dj->m.job.id);
    rc = xlmig_tls_accept(ctx, D.tls, dj->fd, D.allowed, D.cfg.npeers, peer,
                          sizeof(peer), &tc);
    dj->fd = -1;
    if (rc) {
        dj->hidden = true;              /* refused before any job began */
        dj->m.job.ctx = NULL;
        job_finish(dj, rc);
    } else {
        pthread_mutex_lock(&dj->m.lock);
        dj->m.sock = -1;
        pthread_mutex_unlock(&dj->m.lock);
        rc = xlmig_serve(ctx, tc, peer, &env, &dj->m);
        if (!dj->m.job.domain[0] ||
            (dj->m.wire_id == 0 && strcmp(dj->m.mode, "tunnel")))
            dj->hidden = true;
        pthread_mutex_lock(&D.lock);
        dj->m.reserved_bytes = 0;
        dj->m.slot = false;
        pthread_mutex_unlock(&D.lock);
        dj->m.job.ctx = NULL;
        job_finish(dj, rc);
    }
    xlmig_ctx_free(ctx);
    return NULL;
}

/*
 * The migration; while the destination refuses it only for its
 * max_incoming (nothing moved), try again, 1 s later and doubling up to
 * 10 s, for up to busy_wait seconds in all, unless cancelled.
 */
static int migrate_waiting(xlmig_ctx *ctx, struct djob *dj)
{
    struct xlmig_mjob *m = &dj->m;
    uint64_t t0 = xlmig_now_ns();
    unsigned wait_ms = 1000;
    int rc;

    for (;;) {
        char why[sizeof(m->error)];

        rc = xlmig_migrate_out(ctx, D.tls, &D.cfg, m, &dj->oo);
        if (rc != XLMIG_ERR_BUSY)
            return rc;
        if (stopping || xlmig_now_ns() - t0 + wait_ms * 1000000ull >
                            D.cfg.busy_wait_s * 1000000000ull) {
            if (D.cfg.busy_wait_s)
                LOG_INFO(ctx, "%s was busy for %u s: longer than busy_wait",
                         dj->oo.dest.name, (unsigned)((xlmig_now_ns() - t0) /
                                                      1000000000ull));
            xlmig_mjob_rollback(m, XLMIG_ERR_REFUSED);
            return XLMIG_ERR_REFUSED;
        }
        /* Nothing moved: the job is new again, and may be cancelled
         * while it waits. */
        pthread_mutex_lock(&m->lock);
        snprintf(why, sizeof(why), "%s", m->error);
        pthread_mutex_unlock(&m->lock);
        xlmig_mjob_retry(m);
        pthread_mutex_lock(&m->lock);
        snprintf(m->error, sizeof(m->error), "%s", why);
        m->retry_ms = wait_ms;
        pthread_mutex_unlock(&m->lock);
        LOG_INFO(ctx, "%s; trying again in %u s", why, wait_ms / 1000);
        xlmig_mjob_notify(m, XLMIG_EV_WAITING);
        pthread_mutex_lock(&m->lock);
        m->error[0] = '\0';
        pthread_mutex_unlock(&m->lock);
        for (unsigned t = 0; t < wait_ms; t += 100) {
            bool cancel;
            pthread_mutex_lock(&m->lock);
            cancel = m->cancel;
            pthread_mutex_unlock(&m->lock);
            if (cancel || stopping) {
                xlmig_mjob_fail(m, XLMIG_ERR_CANCELLED, "%s while waiting "
                                "for %s to take it", stopping ?
                                "xlmigd stopped" : "cancelled",
                                dj->oo.dest.name);
                xlmig_mjob_rollback(m, XLMIG_ERR_CANCELLED);
                return XLMIG_ERR_CANCELLED;
            }
            usleep(100000);
        }
        wait_ms = wait_ms * 2 > 10000 ? 10000 : wait_ms * 2;
    }
}

void *outgoing_worker(void *arg)
{
    struct djob *dj = arg;
    xlmig_ctx *ctx = worker_ctx(dj, true);
    int rc;

    if (!ctx) {
        job_finish(dj, XLMIG_ERR_NOMEM);
        return NULL;
    }
    snprintf(ctx->log_prefix, sizeof(ctx->log_prefix), "job %u %s: ",
             dj->m.job.id, dj->oo.domain);
    rc = migrate_waiting(ctx, dj);
    if (rc == 0) {
        const struct xlmig_progress *p = &dj->m.prog;
        LOG_INFO(ctx, "migrated to %s: %.2f s, downtime %.1f ms, %u "
                 "rounds, %.1f MiB sent for %.1f MiB of memory",
                 dj->oo.dest.name, (double)p->total_ns / 1e9,
                 (double)p->downtime_ns / 1e6, p->rounds,
                 (double)p->bytes_sent / 1048576.0,
                 (double)p->memory_bytes / 1048576.0);
    }
    dj->m.job.ctx = NULL;
    job_finish(dj, rc);
    xlmig_ctx_free(ctx);
    return NULL;
}

void *storage_worker(void *arg)
{
    struct djob *dj = arg;
    xlmig_ctx *ctx = worker_ctx(dj, true);
    int rc;

    if (!ctx) {
        job_finish(dj, XLMIG_ERR_NOMEM);
        return NULL;
    }
    snprintf(ctx->log_prefix, sizeof(ctx->log_prefix), "job %u %s: ",
             dj->m.job.id, dj->so.domain);
    rc = xlmig_storage_move(ctx, &D.cfg, &dj->m, &dj->so);
    if (rc == 0) {
        const struct xlmig_progress *p = &dj->m.prog;
        LOG_INFO(ctx, "moved disk %s to %s: %.2f s, %.1f MiB copied of "
                 "%.1f MiB, %" PRIu64 " writes mirrored",
                 p->storage.disk, p->storage.to, (double)p->total_ns / 1e9,
                 (double)p->storage.copied / 1048576.0,
                 (double)p->storage.size / 1048576.0, p->storage.mirrored);
    }
    dj->m.job.ctx = NULL;
    job_finish(dj, rc);
    xlmig_ctx_free(ctx);
    return NULL;
}

void *recover_worker(void *arg)
{
    struct djob *dj = arg;
    struct xlmig_indoubt *list = NULL;
    xlmig_ctx *ctx = worker_ctx(dj, true);
    unsigned n = 0, settled = 0, found = 0;
    int rc = 0;

    if (!ctx) {
        job_finish(dj, XLMIG_ERR_NOMEM);
        return NULL;
    }
    rc = xlmig_state_out_list(ctx, D.cfg.state_dir, &list, &n);
    for (unsigned i = 0; !rc && i < n; i++) {
        char outcome[256];
        struct djob *orig;
        int r, there = XLMIG_JOBSTATE_UNKNOWN;
        yajl_gen g;

        if (dj->recover_job && list[i].id != dj->recover_job)
            continue;
        found++;
        r = xlmig_recover(ctx, D.tls, &D.cfg, &list[i], &there, outcome,
                          sizeof(outcome));
        pthread_mutex_lock(&D.lock);
        orig = job_find(list[i].id);
        pthread_mutex_unlock(&D.lock);
        /* A job in doubt is never pruned, so orig stays while it is. */
        if (orig && r == 0)
            xlmig_mjob_settle(&orig->m, there == XLMIG_JOBSTATE_RUNNING,
                              outcome);
        pthread_mutex_lock(&D.lock);
        g = gen_open("recovered");
        if (g) {
            xlmig_json_int(g, "job", list[i].id);
            xlmig_json_str(g, "domain", list[i].domain);
            xlmig_json_str(g, "peer", list[i].dest.name);
            xlmig_json_bool(g, "settled", r == 0);
            xlmig_json_str(g, "outcome", outcome);
        }
        send_to_watchers(g, dj);
        pthread_mutex_unlock(&D.lock);
        if (r == 0)
            settled++;
        else
            rc = r;
    }
    free(list);
    if (!rc && dj->recover_job && !found) {
        xlmig_mjob_fail(&dj->m, XLMIG_ERR_NOTFOUND, "job %u is not in "
                        "doubt", dj->recover_job);
        rc = XLMIG_ERR_NOTFOUND;
    }
    LOG_INFO(ctx, "recover: %u of %u job(s) settled", settled, found);
    dj->hidden = true;
    dj->m.job.ctx = NULL;
    job_finish(dj, rc);
    xlmig_ctx_free(ctx);
    return NULL;
}

int spawn(struct djob *dj, void *(*fn)(void *))
{
    pthread_attr_t a;
    pthread_t t;
    int r;

    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&D.lock);
    D.workers++;
    pthread_mutex_unlock(&D.lock);
    r = pthread_create(&t, &a, fn, dj);
    pthread_attr_destroy(&a);
    if (r) {
        pthread_mutex_lock(&D.lock);
        D.workers--;
        pthread_mutex_unlock(&D.lock);
        return -r;
    }
    return 0;
}

