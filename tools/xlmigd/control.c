/* xlmigd: the control socket's requests (see xlmigd.h). */
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

/* ---- control requests ---- */

void reply_error(struct client *cl, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    yajl_gen g;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    g = gen_open("error");
    if (g)
        xlmig_json_str(g, "error", msg);
    gen_send(g, cl);
}

/* The request failed: tell its client, keep the reason for XenStore. */
static void fail_reply(struct reply *rp, const char *fmt, ...)
    XLMIG_PRINTF(2, 3);
static void fail_reply(struct reply *rp, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(rp->error, sizeof(rp->error), fmt, ap);
    va_end(ap);
    rp->failed = true;
    if (rp->cl)
        reply_error(rp->cl, "%s", rp->error);
}

/* Run @fn for @dj in a thread of its own; a job that cannot have one
 * fails at once. */
void start(struct djob *dj, void *(*fn)(void *))
{
    if (!spawn(dj, fn))
        return;
    xlmig_mjob_fail(&dj->m, XLMIG_ERR_NOMEM, "cannot start a worker");
    pthread_mutex_lock(&D.lock);
    D.workers++;
    pthread_mutex_unlock(&D.lock);
    job_finish(dj, XLMIG_ERR_NOMEM);
}

static void do_migrate(struct reply *rp, const struct xlmig_ctl_req *r)
{
    const struct xlmigd_peer *known;
    struct djob *dj;
    yajl_gen g;
    bool now;

    bool check = r->cmd == XLMIG_CTL_PREFLIGHT;

    pthread_mutex_lock(&D.lock);
    for (struct djob *j = D.jobs; j && !check; j = j->next) {
        if (!j->m.done && j->m.dir == XLMIG_JOB_LOCAL &&
            !strcmp(j->so.domain, r->domain)) {
            pthread_mutex_unlock(&D.lock);
            fail_reply(rp, "%s has a storage move running (job %u): "
                        "migrate it once that ends, or cancel it",
                        r->domain, j->m.job.id);
            return;
        }
        if (j->m.done || j->m.dir != XLMIG_JOB_OUT || j->is_recover ||
            j->oo.check_only)
            continue;
        if (!strcmp(j->oo.domain ? j->oo.domain : "", r->domain)) {
            pthread_mutex_unlock(&D.lock);
            fail_reply(rp, "%s is already being migrated (job %u)",
                        r->domain, j->m.job.id);
            return;
        }
    }
    pthread_mutex_unlock(&D.lock);
    dj = job_new(XLMIG_JOB_OUT, r->domain);
    if (!dj) {
        fail_reply(rp, "out of memory");
        return;
    }
    if (xlmigd_peer_parse(r->host, &dj->oo.dest)) {
        fail_reply(rp, "bad host %s", r->host);   /* checked by parser */
        dj->m.done = dj->hidden = true;
        return;
    }
    known = xlmigd_config_peer(&D.cfg, dj->oo.dest.name);
    if (known && !strchr(r->host, '@'))
        dj->oo.dest = *known;
    snprintf(dj->m.peer, sizeof(dj->m.peer), "%s", dj->oo.dest.name);
    dj->oo.domain = dj->m.job.domain;
    xlmig_limits_default(&dj->oo.lim);
    if (r->max_downtime_ms)
        dj->oo.lim.max_downtime_ns = r->max_downtime_ms * 1000000ull;
    if (r->max_rounds)
        dj->oo.lim.max_rounds = r->max_rounds;
    if (r->timeout_s)
        dj->oo.lim.max_total_ns = r->timeout_s * 1000000000ull;
    dj->oo.lim.bandwidth_cap = r->bandwidth_mib << 20;
    dj->oo.lim.allow_throttle = r->auto_converge;
    if (r->max_throttle_pct)
        dj->oo.lim.max_throttle_pct = r->max_throttle_pct;
    dj->oo.xl = r->xl;
    dj->oo.lim.fixed_downtime_ns = D.cfg.handover_ms * 1000000ull;
    dj->oo.quick = r->quick;
    snprintf(dj->via, sizeof(dj->via), "%s", r->via);
    dj->oo.via = dj->via[0] ? dj->via : NULL;
    dj->oo.channels = r->channels ? r->channels : D.cfg.channels;
    dj->oo.check_only = check;
    dj->oo.copy_storage = r->copy_storage;
    for (unsigned m = 0; m < r->ndisk_map; m++) {
        snprintf(dj->dmap[m].vdev, sizeof(dj->dmap[m].vdev), "%s",
                 r->disk_map[m].vdev);
        snprintf(dj->dmap[m].path, sizeof(dj->dmap[m].path), "%s",
                 r->disk_map[m].path);
    }
    dj->oo.disk_map = dj->dmap;
    dj->oo.ndisk_map = r->ndisk_map;
    if (check)
        snprintf(dj->m.mode, sizeof(dj->m.mode), "preflight");
    dj->priority = r->priority;
    pthread_mutex_lock(&D.lock);
    if (rp->xs_request)
        snprintf(dj->xs_request, sizeof(dj->xs_request), "%s",
                 rp->xs_request);
    pthread_mutex_unlock(&D.lock);
    rp->job = dj->m.job.id;
    /* Beyond max_outgoing the job waits its turn (queue.c). */
    now = check || queue_admit(dj);
    xsorch_note(dj, XLMIG_EV_PHASE);
    pthread_mutex_lock(&D.lock);
    subscribe(dj, rp->cl);
    g = gen_open("accepted");
    if (g) {
        xlmig_json_int(g, "job", dj->m.job.id);
        xlmig_json_str(g, "domain", r->domain);
        xlmig_json_str(g, "peer", dj->oo.dest.name);
        if (!now) {
            xlmig_json_bool(g, "queued", true);
            xlmig_json_int(g, "position", queue_position(dj));
            xlmig_json_int(g, "queue_length", queue_length());
        }
    }
    gen_send(g, rp->cl);
    pthread_mutex_unlock(&D.lock);
    if (now)
        start(dj, outgoing_worker);
    else
        /* A slot may have freed meanwhile. */
        queue_dispatch();
}

static void do_storage_move(struct reply *rp, const struct xlmig_ctl_req *r)
{
    struct djob *dj;
    yajl_gen g;

    pthread_mutex_lock(&D.lock);
    for (struct djob *j = D.jobs; j; j = j->next) {
        const char *dom = j->m.dir == XLMIG_JOB_LOCAL ? j->so.domain :
                          j->m.dir == XLMIG_JOB_OUT && !j->is_recover &&
                          !j->oo.check_only ? j->oo.domain : NULL;
        if (j->m.done || !dom || strcmp(dom, r->domain))
            continue;
        pthread_mutex_unlock(&D.lock);
        fail_reply(rp, "%s is already %s (job %u): one storage move or "
                    "migration of a domain at a time", r->domain,
                    j->m.dir == XLMIG_JOB_LOCAL ? "having a disk moved" :
                    "being migrated", j->m.job.id);
        return;
    }
    pthread_mutex_unlock(&D.lock);
    dj = job_new(XLMIG_JOB_LOCAL, r->domain);
    if (!dj) {
        fail_reply(rp, "out of memory");
        return;
    }
    snprintf(dj->so_disk, sizeof(dj->so_disk), "%s", r->disk);
    snprintf(dj->so_path, sizeof(dj->so_path), "%s", r->path);
    dj->so.domain = dj->m.job.domain;
    dj->so.disk = dj->so_disk;
    dj->so.path = dj->so_path;
    dj->so.keep = r->keep;
    dj->so.rate = r->bandwidth_mib << 20;
    snprintf(dj->m.mode, sizeof(dj->m.mode), "storage");
    snprintf(dj->m.peer, sizeof(dj->m.peer), "%s", D.cfg.host_name);
    rp->job = dj->m.job.id;
    pthread_mutex_lock(&D.lock);
    if (rp->xs_request)
        snprintf(dj->xs_request, sizeof(dj->xs_request), "%s",
                 rp->xs_request);
    pthread_mutex_unlock(&D.lock);
    xsorch_note(dj, XLMIG_EV_PHASE);
    pthread_mutex_lock(&D.lock);
    subscribe(dj, rp->cl);
    g = gen_open("accepted");
    if (g) {
        xlmig_json_int(g, "job", dj->m.job.id);
        xlmig_json_str(g, "domain", r->domain);
        xlmig_json_str(g, "disk", r->disk);
        xlmig_json_str(g, "path", r->path);
    }
    gen_send(g, rp->cl);
    pthread_mutex_unlock(&D.lock);
    start(dj, storage_worker);
}

/* Drain or undrain: the mark is on disk before the answer. */
static void do_drain(struct reply *rp, const struct xlmig_ctl_req *r)
{
    bool on = r->cmd == XLMIG_CTL_DRAIN;
    char why[512], reason[XLMIG_CTL_REASON_MAX + 1];
    uint64_t since;
    bool was;
    yajl_gen g;

    pthread_mutex_lock(&D.lock);
    was = drain_state(NULL, NULL, 0);
    pthread_mutex_unlock(&D.lock);
    if (drain_set(on, r->reason, why, sizeof(why))) {
        fail_reply(rp, "%s", why);
        return;
    }
    xsorch_note(NULL, XLMIG_EV_PHASE);
    g = gen_open(on ? "drained" : "undrained");
    if (!g)
        return;
    pthread_mutex_lock(&D.lock);
    drain_state(&since, reason, sizeof(reason));
    xlmig_json_str(g, "host", D.cfg.host_name);
    xlmig_json_bool(g, "was_drained", was);
    if (on) {
        xlmig_json_int(g, "since", (long long)since);
        xlmig_json_str(g, "reason", reason);
    }
    gen_send(g, rp->cl);
    pthread_mutex_unlock(&D.lock);
}

static void do_status(struct reply *rp)
{
    char reason[XLMIG_CTL_REASON_MAX + 1];
    yajl_gen g = gen_open("status");
    uint64_t since;

    if (!g)
        return;
    pthread_mutex_lock(&D.lock);
    xlmig_json_str(g, "host", D.cfg.host_name);
    xlmig_json_bool(g, "drained", drain_state(&since, reason,
                                              sizeof(reason)));
    if (drain_state(NULL, NULL, 0)) {
        xlmig_json_int(g, "drained_since", (long long)since);
        xlmig_json_str(g, "drained_reason", reason);
    }
    xlmig_json_bool(g, "xenstore", D.xs != NULL);
    xlmig_json_int(g, "max_outgoing", D.cfg.max_outgoing);
    xlmig_json_int(g, "max_outgoing_per_destination",
                   D.cfg.max_outgoing_per_destination);
    xlmig_json_key(g, "peers");
    yajl_gen_array_open(g);
    for (unsigned i = 0; i < D.cfg.npeers; i++)
        yajl_gen_string(g, (const unsigned char *)D.cfg.peers[i].name,
                        strlen(D.cfg.peers[i].name));
    yajl_gen_array_close(g);
    xlmig_json_key(g, "jobs");
    yajl_gen_array_open(g);
    for (struct djob *dj = D.jobs; dj; dj = dj->next) {
        if (dj->hidden || dj->is_recover)
            continue;
        yajl_gen_map_open(g);
        pthread_mutex_lock(&dj->m.lock);
        gen_job(g, dj);
        pthread_mutex_unlock(&dj->m.lock);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
    gen_send(g, rp->cl);
    pthread_mutex_unlock(&D.lock);
}

static void do_cancel(struct reply *rp, uint32_t id)
{
    char why[256];
    struct djob *dj;
    bool unqueued = false;
    yajl_gen g;

    pthread_mutex_lock(&D.lock);
    dj = job_find(id);
    if (!dj) {
        pthread_mutex_unlock(&D.lock);
        fail_reply(rp, "no job %u on this host", id);
        return;
    }
    if (dj->queued) {
        /* Never started: it ends here, nothing moved (unless it left
         * the queue meanwhile: then as any running job). */
        pthread_mutex_unlock(&D.lock);
        unqueued = queue_cancel(dj);
        pthread_mutex_lock(&D.lock);
    }
    if (!unqueued) {
        if (xlmig_mjob_cancel(&dj->m, why, sizeof(why))) {
            pthread_mutex_unlock(&D.lock);
            fail_reply(rp, "%s", why);
            return;
        }
        xlmig_mjob_fail(&dj->m, XLMIG_ERR_CANCELLED, "cancelled by the "
                        "administrator");
    }
    g = gen_open("cancelling");
    if (g) {
        xlmig_json_int(g, "job", id);
        xlmig_json_str(g, "domain", dj->m.job.domain);
        if (unqueued)
            xlmig_json_bool(g, "queued", true);
    }
    gen_send(g, rp->cl);
    /* The canceller sees the job end, too (a queued one has ended). */
    if (!unqueued)
        subscribe(dj, rp->cl);
    pthread_mutex_unlock(&D.lock);
}

static void do_recover(struct reply *rp, uint32_t id)
{
    struct djob *dj = job_new(XLMIG_JOB_OUT, "");

    if (!dj) {
        fail_reply(rp, "out of memory");
        return;
    }
    dj->is_recover = true;
    dj->hidden = true;
    dj->recover_job = id;
    pthread_mutex_lock(&D.lock);
    subscribe(dj, rp->cl);
    pthread_mutex_unlock(&D.lock);
    start(dj, recover_worker);
}

void dispatch(struct reply *rp, const struct xlmig_ctl_req *r)
{
    pthread_mutex_lock(&D.req_lock);
    if (stopping && (r->cmd == XLMIG_CTL_MIGRATE ||
                     r->cmd == XLMIG_CTL_PREFLIGHT ||
                     r->cmd == XLMIG_CTL_STORAGE_MOVE)) {
        fail_reply(rp, "xlmigd is shutting down");
        pthread_mutex_unlock(&D.req_lock);
        return;
    }
    switch (r->cmd) {
    case XLMIG_CTL_MIGRATE:
    case XLMIG_CTL_PREFLIGHT:
        do_migrate(rp, r);
        break;
    case XLMIG_CTL_STATUS:
        do_status(rp);
        break;
    case XLMIG_CTL_CANCEL:
        do_cancel(rp, r->job);
        break;
    case XLMIG_CTL_RECOVER:
        do_recover(rp, r->job);
        break;
    case XLMIG_CTL_STORAGE_MOVE:
        do_storage_move(rp, r);
        break;
    case XLMIG_CTL_DRAIN:
    case XLMIG_CTL_UNDRAIN:
        do_drain(rp, r);
        break;
    }
    pthread_mutex_unlock(&D.req_lock);
}

void handle_request(struct client *cl, const char *line, size_t len)
{
    struct reply rp = { .cl = cl };
    struct xlmig_ctl_req r;
    char why[256];

    if (xlmig_ctl_parse(line, len, &r, why, sizeof(why))) {
        reply_error(cl, "bad request: %s", why);
        return;
    }
    dispatch(&rp, &r);
}
