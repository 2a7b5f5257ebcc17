/*
 * xlmigd: the per-host migration daemon.
 *
 * The main loop only multiplexes: the TLS listener, the root-only control
 * socket and its clients.  Every job, incoming or outgoing, runs in a
 * worker thread of its own with its own library context, so a stuck peer
 * stalls one job, never the daemon or the CLI.  Workers publish events
 * (JSON lines, docs/specs/control.md) to the clients that watch them,
 * without blocking: a client that does not read loses progress lines.
 *
 * Domains never depend on the daemon: a sim domain is its own process,
 * and a restart reconciles what the last run left (migrate.h).
 */
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

#include "xlmigd/conf.h"
#include "xlmigd/ctl.h"
#include "engine/records.h"
#include "engine/serve.h"
#include "engine/source.h"

#define CLIENTS_MAX 64
#define SUBS_MAX 8
#define HISTORY_MAX 64

struct client {
    int fd;
    char buf[XLMIG_CTL_LINE_MAX + 2];
    size_t len;
    bool dead;
    struct client *next;
};

struct djob {
    struct xlmig_mjob m;
    struct djob *next;
    struct client *subs[SUBS_MAX];
    unsigned nsubs;
    bool hidden;                /* a QUERY connection, not a job */
    uint64_t finished_ns;
    /* outgoing */
    struct xlmig_out_opts oo;
    char via[XLMIG_CTL_VIA_MAX + 1];
    /* incoming */
    int fd;
    /* recover */
    uint32_t recover_job;
    bool is_recover;
};

static struct {
    struct xlmigd_config cfg;
    struct xlmig_tls *tls;
    xlmig_ctx *ctx;             /* the main loop's */
    pthread_mutex_t lock;       /* jobs, clients' subscriptions */
    struct djob *jobs;
    struct client *clients;
    unsigned nclients;
    unsigned workers;           /* running worker threads */
    int lfd, ufd;
    const char *allowed[XLMIGD_PEERS_MAX];
} D = { .lock = PTHREAD_MUTEX_INITIALIZER, .lfd = -1, .ufd = -1 };

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

/* ---- events ---- */

static void emit_raw(struct client *cl, const unsigned char *buf, size_t n)
{
    ssize_t r;

    if (!cl || cl->dead)
        return;
    r = send(cl->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0 && errno != EAGAIN)
        cl->dead = true;
}

static yajl_gen gen_open(const char *event)
{
    yajl_gen g = yajl_gen_alloc(NULL);

    if (!g)
        return NULL;
    yajl_gen_map_open(g);
    xlmig_json_str(g, "event", event);
    return g;
}

/* Close the object and send it, as one line, to @n clients; free @g. */
static void gen_send_to(yajl_gen g, struct client *const *cl, unsigned n)
{
    const unsigned char *out;
    size_t len;

    if (!g)
        return;
    yajl_gen_map_close(g);
    if (yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok) {
        unsigned char *line = malloc(len + 1);
        if (line) {
            memcpy(line, out, len);
            line[len] = '\n';
            for (unsigned i = 0; i < n; i++)
                emit_raw(cl[i], line, len + 1);
            free(line);
        }
    }
    yajl_gen_free(g);
}

static void gen_send(yajl_gen g, struct client *cl)
{
    gen_send_to(g, &cl, 1);
}

static const char *dir_name(enum xlmig_job_dir d)
{
    return d == XLMIG_JOB_OUT ? "out" : "in";
}

static const char *result_name(const struct xlmig_mjob *m)
{
    if (!m->done)
        return m->in_doubt ? "in-doubt" : "running";
    if (m->in_doubt)
        return "in-doubt";
    if (m->rc == 0)
        return "ok";
    if (m->rc == XLMIG_ERR_REFUSED)
        return "refused";
    if (m->rc == XLMIG_ERR_CANCELLED)
        return "cancelled";
    return "rolled-back";
}

/* The job's fields, inside an open map.  Called with m->lock held. */
static void gen_job(yajl_gen g, const struct djob *dj)
{
    const struct xlmig_mjob *m = &dj->m;
    const struct xlmig_progress *p = &m->prog;

    xlmig_json_int(g, "job", m->job.id);
    xlmig_json_str(g, "direction", dir_name(m->dir));
    xlmig_json_str(g, "domain", m->job.domain);
    xlmig_json_str(g, "peer", m->peer);
    xlmig_json_str(g, "mode", m->mode);
    xlmig_json_str(g, "phase", xlmig_phase_name(m->job.phase));
    xlmig_json_str(g, "result", result_name(m));
    xlmig_json_bool(g, "in_doubt", m->in_doubt);
    xlmig_json_int(g, "round", p->round);
    xlmig_json_int(g, "rounds", p->rounds);
    xlmig_json_int(g, "memory_bytes", (long long)p->memory_bytes);
    xlmig_json_int(g, "bytes_sent", (long long)p->bytes_sent);
    xlmig_json_int(g, "round_bytes", (long long)p->round_bytes);
    xlmig_json_int(g, "round_target", (long long)p->round_target);
    xlmig_json_int(g, "bandwidth", (long long)p->bandwidth);
    xlmig_json_int(g, "dirty_rate", (long long)p->dirty_rate);
    xlmig_json_num(g, "elapsed_ms",
                   (double)((m->done ? p->total_ns :
                             xlmig_now_ns() - p->started_ns)) / 1e6);
    if (m->done) {
        xlmig_json_num(g, "total_ms", (double)p->total_ns / 1e6);
        if (m->rc == 0 && m->dir == XLMIG_JOB_OUT)
            xlmig_json_num(g, "downtime_ms", (double)p->downtime_ns / 1e6);
        if (m->dir == XLMIG_JOB_OUT)
            xlmig_json_int(g, "throttle_pct", p->throttle_pct);
        xlmig_json_int(g, "rc", m->rc);
    }
    if (m->error[0])
        xlmig_json_str(g, "error", m->error);
}

/* The `preflight` event's keys, inside an open map.  m->lock held. */
static void gen_report(yajl_gen g, const struct xlmig_mjob *m)
{
    const struct xlmig_pf_report *r = m->pf;

    xlmig_json_int(g, "job", m->job.id);
    xlmig_json_str(g, "domain", m->job.domain);
    xlmig_json_str(g, "peer", m->peer);
    xlmig_json_str(g, "verdict", !r ? "unknown" : r->failed ? "refused" :
                   "accepted");
    xlmig_json_int(g, "failed", r ? r->failed : 0);
    xlmig_json_int(g, "warnings", r ? r->warned : 0);
    xlmig_json_key(g, "checks");
    yajl_gen_array_open(g);
    for (unsigned i = 0; r && i < r->n; i++) {
        const struct xlmig_pf_row *row = &r->rows[i];
        yajl_gen_map_open(g);
        xlmig_json_str(g, "check", row->check);
        xlmig_json_str(g, "source", row->src);
        xlmig_json_str(g, "destination", row->dst);
        xlmig_json_str(g, "verdict", row->verdict == XLMIG_PF_FAIL ? "fail" :
                       xlmig_pf_verdict_name(row->verdict));
        xlmig_json_str(g, "reason", row->reason);
        yajl_gen_map_close(g);
    }
    yajl_gen_array_close(g);
}

/* To everyone watching @dj.  D.lock held. */
static void send_to_watchers(yajl_gen g, struct djob *dj)
{
    gen_send_to(g, dj->subs, dj->nsubs);
}

static void publish(struct xlmig_mjob *m, enum xlmig_job_event ev)
{
    struct djob *dj = (struct djob *)m;
    yajl_gen g;

    pthread_mutex_lock(&D.lock);
    if (!dj->nsubs) {
        pthread_mutex_unlock(&D.lock);
        return;
    }
    pthread_mutex_lock(&m->lock);
    switch (ev) {
    case XLMIG_EV_PHASE:
        g = gen_open("phase");
        gen_job(g, dj);
        break;
    case XLMIG_EV_ROUND: {
        const struct xlmig_round *r = &m->prog.last;
        const struct xlmig_verdict *v = &m->prog.verdict;
        g = gen_open("round");
        xlmig_json_int(g, "job", m->job.id);
        xlmig_json_int(g, "round", r->round);
        xlmig_json_int(g, "pages_sent", (long long)r->pages_sent);
        xlmig_json_int(g, "bytes_sent", (long long)r->bytes_sent);
        xlmig_json_num(g, "duration_ms", (double)r->duration_ns / 1e6);
        xlmig_json_int(g, "pages_dirtied", (long long)r->pages_dirtied);
        xlmig_json_int(g, "bandwidth", (long long)v->bandwidth);
        xlmig_json_int(g, "dirty_rate", (long long)v->dirty_rate);
        xlmig_json_num(g, "predicted_downtime_ms",
                       v->predicted_downtime_ns == UINT64_MAX ? -1.0 :
                       (double)v->predicted_downtime_ns / 1e6);
        xlmig_json_int(g, "throttle_pct", r->throttle_pct);
        xlmig_json_str(g, "decision", xlmig_decision_name(v->decision));
        xlmig_json_str(g, "reason", v->reason);
        break;
    }
    case XLMIG_EV_PROGRESS:
        g = gen_open("progress");
        gen_job(g, dj);
        break;
    case XLMIG_EV_PREFLIGHT:
        g = gen_open("preflight");
        gen_report(g, m);
        break;
    case XLMIG_EV_DONE:
    default:
        g = gen_open("done");
        gen_job(g, dj);
        break;
    }
    pthread_mutex_unlock(&m->lock);
    send_to_watchers(g, dj);
    pthread_mutex_unlock(&D.lock);
}

/* ---- the job table ---- */

static struct djob *job_new(enum xlmig_job_dir dir, const char *domain)
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
static void jobs_prune(void)
{
    unsigned kept = 0;

    for (struct djob **pp = &D.jobs; *pp;) {
        struct djob *dj = *pp;
        bool finished = dj->m.done && !dj->m.in_doubt;
        if (finished && (dj->hidden || ++kept > HISTORY_MAX)) {
            *pp = dj->next;
            xlmig_mjob_dispose(&dj->m);
            free(dj);
            continue;
        }
        pp = &dj->next;
    }
}

static struct djob *job_find(uint32_t id)
{
    for (struct djob *dj = D.jobs; dj; dj = dj->next)
        if (dj->m.job.id == id && !dj->hidden)
            return dj;
    return NULL;
}

static void subscribe(struct djob *dj, struct client *cl)
{
    if (dj->nsubs < SUBS_MAX)
        dj->subs[dj->nsubs++] = cl;
}

/*
 * The worker's last touch of @dj: once D.workers drops and the job is
 * marked done, the main loop may free it.
 */
static void job_finish(struct djob *dj, int rc)
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
}

/* A worker's own library context; @open: with its backend open now
 * (an incoming connection opens it once it is known to be a job). */
static xlmig_ctx *worker_ctx(struct djob *dj, bool open)
{
    xlmig_ctx *ctx;

    if (xlmig_ctx_new(&ctx, D.cfg.backend[0] ? D.cfg.backend : NULL,
                      D.cfg.log_level, stderr, open))
        return NULL;
    dj->m.job.ctx = ctx;
    return ctx;
}

/* ---- memory and admission (the destination's preflight) ---- */

static uint64_t host_available(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[128];
    unsigned long long kb = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb << 10;
}

static int reserve(void *opaque, struct xlmig_mjob *j, uint64_t bytes,
                   char *why, size_t len)
{
    uint64_t need = bytes + bytes / 64, held = 0, used = 0, avail = 0;
    struct xlmig_dominfo *doms = NULL;
    unsigned n = 0;
    bool hv_counts;
    int rc = 0;

    (void)opaque;
    /* Xen counts its own free memory, running domains already out. */
    hv_counts = !D.cfg.domain_memory &&
                !xlmig_host_free_memory(j && j->job.ctx ? j->job.ctx : D.ctx,
                                        &avail);
    {
        xlmig_ctx *ctx = j ? j->job.ctx : D.ctx;
        if (xlmig_domain_list(ctx ? ctx : D.ctx, &doms, &n)) {
            snprintf(why, len, "cannot list this host's domains");
            return XLMIG_ERR_BACKEND;
        }
    }
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj; dj = dj->next) {
        bool here = false;
        if (dj->m.done || &dj->m == j)
            continue;
        /* Xen counts a domain being restored itself, once it exists:
         * the pages it has and the claim on the rest (backend_xen.c). */
        for (unsigned i = 0; hv_counts && dj->m.dir == XLMIG_JOB_IN &&
                             i < n; i++)
            if (!strcmp(dj->m.job.domain, doms[i].name))
                here = true;
        if (!here)
            held += dj->m.reserved_bytes;
    }
    for (unsigned i = 0; i < n && D.cfg.domain_memory; i++) {
        bool incoming = false;
        /* A domain being restored is counted by its reservation. */
        for (struct djob *dj = D.jobs; dj; dj = dj->next)
            if (!dj->m.done && dj->m.dir == XLMIG_JOB_IN &&
                dj->m.reserved_bytes && &dj->m != j &&
                !strcmp(dj->m.job.domain, doms[i].name))
                incoming = true;
        if (!incoming)
            used += doms[i].nr_pages << doms[i].page_shift;
    }
    if (D.cfg.domain_memory)
        avail = D.cfg.domain_memory > used ? D.cfg.domain_memory - used : 0;
    else if (!hv_counts)
        avail = host_available();
    avail = avail > held ? avail - held : 0;
    if (need > avail) {
        snprintf(why, len, "not enough memory: the domain needs %" PRIu64
                 " MiB (with 1/64 overhead), %" PRIu64 " MiB is free for "
                 "domains (%" PRIu64 " MiB held by incoming migrations)",
                 need >> 20, avail >> 20, held >> 20);
        rc = XLMIG_ERR_NOSPACE;
    } else {
        snprintf(why, len, "%" PRIu64 " MiB with 1/64 overhead; %" PRIu64
                 " MiB free for domains (%" PRIu64 " MiB held by incoming "
                 "migrations)", need >> 20, avail >> 20, held >> 20);
        if (j)
            j->reserved_bytes = need;
    }
    pthread_mutex_unlock(&D.lock);
    free(doms);
    return rc;
}

static int admit(void *opaque, struct xlmig_mjob *j, char *why, size_t len)
{
    unsigned active = 0;

    (void)opaque;
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj; dj = dj->next)
        if (!dj->m.done && dj->m.dir == XLMIG_JOB_IN && &dj->m != j &&
            dj->m.job.phase != XLMIG_PHASE_PREFLIGHT)
            active++;
    pthread_mutex_unlock(&D.lock);
    if (active >= D.cfg.max_incoming) {
        snprintf(why, len, "busy: %u incoming migrations already "
                 "(max_incoming = %u)", active, D.cfg.max_incoming);
        return XLMIG_ERR_BUSY;
    }
    snprintf(why, len, "%u incoming migrations running (max_incoming = "
             "%u)", active, D.cfg.max_incoming);
    return 0;
}

static uint32_t vcpus_held(void *opaque, const struct xlmig_mjob *j)
{
    struct xlmig_dominfo *doms = NULL;
    xlmig_ctx *ctx = j && j->job.ctx ? j->job.ctx : D.ctx;
    uint32_t held = 0;
    unsigned n = 0;

    (void)opaque;
    if (xlmig_domain_list(ctx, &doms, &n))
        return 0;               /* the offer's own count still stands */
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj; dj = dj->next) {
        bool here = false;
        if (dj->m.done || &dj->m == j || dj->m.dir != XLMIG_JOB_IN ||
            !dj->m.reserved_bytes)
            continue;
        /* Once restored (even paused) it is among the domains counted. */
        for (unsigned i = 0; i < n; i++)
            if (!strcmp(dj->m.job.domain, doms[i].name))
                here = true;
        if (!here)
            held += dj->m.need_vcpus;
    }
    pthread_mutex_unlock(&D.lock);
    free(doms);
    return held;
}

/* ---- workers ---- */

static void *incoming_worker(void *arg)
{
    struct djob *dj = arg;
    struct xlmig_in_env env = { &D.cfg, NULL, reserve, admit, vcpus_held };
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
        pthread_mutex_unlock(&D.lock);
        dj->m.job.ctx = NULL;
        job_finish(dj, rc);
    }
    xlmig_ctx_free(ctx);
    return NULL;
}

static void *outgoing_worker(void *arg)
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
    rc = xlmig_migrate_out(ctx, D.tls, &D.cfg, &dj->m, &dj->oo);
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

static void *recover_worker(void *arg)
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

static int spawn(struct djob *dj, void *(*fn)(void *))
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

/* ---- control requests ---- */

static void reply_error(struct client *cl, const char *fmt, ...)
    XLMIG_PRINTF(2, 3);
static void reply_error(struct client *cl, const char *fmt, ...)
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

static void do_migrate(struct client *cl, const struct xlmig_ctl_req *r)
{
    unsigned active = 0;
    const struct xlmigd_peer *known;
    struct djob *dj;
    yajl_gen g;

    bool check = r->cmd == XLMIG_CTL_PREFLIGHT;

    pthread_mutex_lock(&D.lock);
    for (struct djob *j = D.jobs; j && !check; j = j->next) {
        if (j->m.done || j->m.dir != XLMIG_JOB_OUT || j->is_recover ||
            j->oo.check_only)
            continue;
        active++;
        if (!strcmp(j->oo.domain ? j->oo.domain : "", r->domain)) {
            pthread_mutex_unlock(&D.lock);
            reply_error(cl, "%s is already being migrated (job %u)",
                        r->domain, j->m.job.id);
            return;
        }
    }
    pthread_mutex_unlock(&D.lock);
    if (!check && active >= D.cfg.max_outgoing) {
        reply_error(cl, "busy: %u outgoing migrations already "
                    "(max_outgoing = %u)", active, D.cfg.max_outgoing);
        return;
    }
    dj = job_new(XLMIG_JOB_OUT, r->domain);
    if (!dj) {
        reply_error(cl, "out of memory");
        return;
    }
    if (xlmigd_peer_parse(r->host, &dj->oo.dest)) {
        reply_error(cl, "bad host %s", r->host);   /* checked by parser */
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
    if (check)
        snprintf(dj->m.mode, sizeof(dj->m.mode), "preflight");
    pthread_mutex_lock(&D.lock);
    subscribe(dj, cl);
    g = gen_open("accepted");
    if (g) {
        xlmig_json_int(g, "job", dj->m.job.id);
        xlmig_json_str(g, "domain", r->domain);
        xlmig_json_str(g, "peer", dj->oo.dest.name);
    }
    gen_send(g, cl);
    pthread_mutex_unlock(&D.lock);
    if (spawn(dj, outgoing_worker)) {
        xlmig_mjob_fail(&dj->m, XLMIG_ERR_NOMEM, "cannot start a worker");
        pthread_mutex_lock(&D.lock);
        D.workers++;
        pthread_mutex_unlock(&D.lock);
        job_finish(dj, XLMIG_ERR_NOMEM);
    }
}

static void do_status(struct client *cl)
{
    yajl_gen g = gen_open("status");

    if (!g)
        return;
    pthread_mutex_lock(&D.lock);
    xlmig_json_str(g, "host", D.cfg.host_name);
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
    gen_send(g, cl);
    pthread_mutex_unlock(&D.lock);
}

static void do_cancel(struct client *cl, uint32_t id)
{
    char why[256];
    struct djob *dj;
    yajl_gen g;

    pthread_mutex_lock(&D.lock);
    dj = job_find(id);
    if (!dj) {
        pthread_mutex_unlock(&D.lock);
        reply_error(cl, "no job %u on this host", id);
        return;
    }
    if (xlmig_mjob_cancel(&dj->m, why, sizeof(why))) {
        pthread_mutex_unlock(&D.lock);
        reply_error(cl, "%s", why);
        return;
    }
    xlmig_mjob_fail(&dj->m, XLMIG_ERR_CANCELLED, "cancelled by the "
                    "administrator");
    g = gen_open("cancelling");
    if (g) {
        xlmig_json_int(g, "job", id);
        xlmig_json_str(g, "domain", dj->m.job.domain);
    }
    gen_send(g, cl);
    /* The canceller sees the job end, too. */
    subscribe(dj, cl);
    pthread_mutex_unlock(&D.lock);
}

static void do_recover(struct client *cl, uint32_t id)
{
    struct djob *dj = job_new(XLMIG_JOB_OUT, "");

    if (!dj) {
        reply_error(cl, "out of memory");
        return;
    }
    dj->is_recover = true;
    dj->hidden = true;
    dj->recover_job = id;
    pthread_mutex_lock(&D.lock);
    subscribe(dj, cl);
    pthread_mutex_unlock(&D.lock);
    if (spawn(dj, recover_worker)) {
        pthread_mutex_lock(&D.lock);
        D.workers++;
        pthread_mutex_unlock(&D.lock);
        job_finish(dj, XLMIG_ERR_NOMEM);
    }
}

static void handle_request(struct client *cl, const char *line, size_t len)
{
    struct xlmig_ctl_req r;
    char why[256];

    if (xlmig_ctl_parse(line, len, &r, why, sizeof(why))) {
        reply_error(cl, "bad request: %s", why);
        return;
    }
    if (stopping && (r.cmd == XLMIG_CTL_MIGRATE ||
                     r.cmd == XLMIG_CTL_PREFLIGHT)) {
        reply_error(cl, "xlmigd is shutting down");
        return;
    }
    switch (r.cmd) {
    case XLMIG_CTL_MIGRATE:
    case XLMIG_CTL_PREFLIGHT:
        do_migrate(cl, &r);
        break;
    case XLMIG_CTL_STATUS:
        do_status(cl);
        break;
    case XLMIG_CTL_CANCEL:
        do_cancel(cl, r.job);
        break;
    case XLMIG_CTL_RECOVER:
        do_recover(cl, r.job);
        break;
    }
}

/* ---- sockets ---- */

static int listen_tcp(void)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int fd = -1, one = 1, r;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    hints.ai_family = D.cfg.listen[0] ? AF_UNSPEC : AF_INET6;
    snprintf(port, sizeof(port), "%u", D.cfg.port);
    r = getaddrinfo(D.cfg.listen[0] ? D.cfg.listen : NULL, port, &hints,
                    &res);
    if (r) {
        fprintf(stderr, "xlmigd: listen address %s: %s\n", D.cfg.listen,
                gai_strerror(r));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6) {
            int zero = 0;               /* also IPv4, when listening on :: */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, 16) == 0)
            break;
        fprintf(stderr, "xlmigd: cannot listen on %s port %u: %s\n",
                D.cfg.listen[0] ? D.cfg.listen : "*", D.cfg.port,
                strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int listen_unix(void)
{
    struct sockaddr_un sa;
    char dir[sizeof(sa.sun_path)];
    char *slash;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", D.cfg.socket_path);
    snprintf(dir, sizeof(dir), "%s", D.cfg.socket_path);
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            fprintf(stderr, "xlmigd: cannot create %s: %s\n", dir,
                    strerror(errno));
            return -1;
        }
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* A live daemon answers on the socket; a stale file does not. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        fprintf(stderr, "xlmigd: another xlmigd is running on %s\n",
                sa.sun_path);
        close(fd);
        return -1;
    }
    unlink(sa.sun_path);
    {
        mode_t old = umask(0177);       /* the socket is 0600 */
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, 16) < 0) {
            fprintf(stderr, "xlmigd: cannot listen on %s: %s\n",
                    sa.sun_path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void accept_client(void)
{
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    struct client *c;
    int fd = accept4(D.ufd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    /* Root, or the user the daemon runs as (tests run unprivileged). */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
        (cred.uid != 0 && cred.uid != geteuid())) {
        const char msg[] = "{\"event\":\"error\",\"error\":\"permission "
                           "denied: the control socket is for root\"}\n";
        if (write(fd, msg, sizeof(msg) - 1) < 0)
            (void)0;
        close(fd);
        return;
    }
    if (D.nclients >= CLIENTS_MAX) {
        close(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    pthread_mutex_lock(&D.lock);
    c->next = D.clients;
    D.clients = c;
    D.nclients++;
    pthread_mutex_unlock(&D.lock);
}

static void accept_peer(void)
{
    struct djob *dj;
    int fd = accept4(D.lfd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    if (stopping) {
        close(fd);
        return;
    }
    xlmig_sock_setup(fd, D.cfg.io_timeout_s);
    dj = job_new(XLMIG_JOB_IN, "");
    if (!dj) {
        close(fd);
        return;
    }
    dj->fd = fd;
    pthread_mutex_lock(&dj->m.lock);
    dj->m.sock = fd;
    pthread_mutex_unlock(&dj->m.lock);
    if (spawn(dj, incoming_worker)) {
        close(fd);
        dj->hidden = true;
        pthread_mutex_lock(&D.lock);
        D.workers++;
        pthread_mutex_unlock(&D.lock);
        job_finish(dj, XLMIG_ERR_NOMEM);
    }
}

/* Read from a client; handle each complete line. */
static void client_input(struct client *c)
{
    ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
    char *nl;

    if (r <= 0) {
        c->dead = true;
        return;
    }
    c->len += (size_t)r;
    while ((nl = memchr(c->buf, '\n', c->len))) {
        size_t n = (size_t)(nl - c->buf);
        handle_request(c, c->buf, n);
        memmove(c->buf, nl + 1, c->len - n - 1);
        c->len -= n + 1;
    }
    if (c->len >= sizeof(c->buf) - 1) {
        reply_error(c, "request longer than %d bytes", XLMIG_CTL_LINE_MAX);
        c->dead = true;
    }
}

static void clients_reap(void)
{
    pthread_mutex_lock(&D.lock);
    for (struct client **pp = &D.clients; *pp;) {
        struct client *c = *pp;
        if (!c->dead) {
            pp = &c->next;
            continue;
        }
        for (struct djob *dj = D.jobs; dj; dj = dj->next)
            for (unsigned i = 0; i < dj->nsubs;)
                if (dj->subs[i] == c)
                    dj->subs[i] = dj->subs[--dj->nsubs];
                else
                    i++;
        *pp = c->next;
        close(c->fd);
        free(c);
        D.nclients--;
    }
    jobs_prune();
    pthread_mutex_unlock(&D.lock);
}

static void load_in_doubt(void)
{
    struct xlmig_indoubt *list = NULL;
    unsigned n = 0;

    if (xlmig_state_out_list(D.ctx, D.cfg.state_dir, &list, &n))
        return;
    for (unsigned i = 0; i < n; i++) {
        struct djob *dj = calloc(1, sizeof(*dj));
        if (!dj)
            break;
        xlmig_mjob_init(&dj->m, NULL, list[i].id, XLMIG_JOB_OUT,
                        list[i].domain);
        dj->m.notify = publish;
        dj->m.job.phase = XLMIG_PHASE_HANDOVER;
        dj->m.in_doubt = true;
        dj->m.done = true;
        dj->m.wire_id = list[i].wire_id;
        dj->m.rc = XLMIG_ERR_INDOUBT;
        snprintf(dj->m.peer, sizeof(dj->m.peer), "%s", list[i].dest.name);
        snprintf(dj->m.error, sizeof(dj->m.error), "COMMIT was sent to %s "
                 "before a restart; run xlmig recover", list[i].dest.name);
        dj->fd = -1;
        dj->next = D.jobs;
        D.jobs = dj;
        fprintf(stderr, "xlmigd: job %u (%s to %s) is in doubt: run "
                "`xlmig recover %u`\n", list[i].id, list[i].domain,
                list[i].dest.name, list[i].id);
    }
    free(list);
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: xlmigd [-f CONFIG] [-t]\n"
"  -f, --config FILE   configuration (default " XLMIGD_CONF ")\n"
"  -t, --test          check the configuration and the certificates, "
"then exit\n"
"xlmigd runs in the foreground and logs to standard error.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'f' },
        { "test", no_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *conf = XLMIGD_CONF;
    struct xlmig_tls_config tc;
    struct sigaction sa;
    bool test = false;
    int c, rc = 1;

    while ((c = getopt_long(argc, argv, "f:th", opts, NULL)) != -1) {
        switch (c) {
        case 'f': conf = optarg; break;
        case 't': test = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    xlmigd_config_default(&D.cfg);
    if (xlmig_ctx_alloc(&D.ctx, NULL, XLMIG_LOG_INFO, stderr))
        return 1;
    if (xlmigd_config_load(D.ctx, conf, &D.cfg))
        goto out;
    if (!D.cfg.host_name[0] &&
        gethostname(D.cfg.host_name, sizeof(D.cfg.host_name) - 1)) {
        fprintf(stderr, "xlmigd: no host_name and gethostname failed\n");
        goto out;
    }
    if (!D.cfg.cert[0] || !D.cfg.key[0] || !D.cfg.ca[0]) {
        fprintf(stderr, "xlmigd: %s: certificate, key and ca are required "
                "(there is no plaintext mode)\n", conf);
        goto out;
    }
    if (!D.cfg.npeers) {
        fprintf(stderr, "xlmigd: %s: peers is empty: no host could "
                "migrate here\n", conf);
        goto out;
    }
    if (D.cfg.sim_dir[0])
        setenv("XLMIG_SIM_DIR", D.cfg.sim_dir, 1);
    xlmig_ctx_free(D.ctx);
    if (xlmig_ctx_alloc(&D.ctx, D.cfg.backend[0] ? D.cfg.backend : NULL,
                        D.cfg.log_level, stderr)) {
        D.ctx = NULL;
        goto out;
    }
    for (unsigned i = 0; i < D.cfg.npeers; i++)
        D.allowed[i] = D.cfg.peers[i].name;
    tc.cert = D.cfg.cert;
    tc.key = D.cfg.key;
    tc.ca = D.cfg.ca;
    if (xlmig_tls_new(D.ctx, &tc, &D.tls))
        goto out;
    if (test) {
        printf("xlmigd: %s is valid: host %s, port %u, %u peers, backend "
               "%s\n", conf, D.cfg.host_name, D.cfg.port, D.cfg.npeers,
               xlmig_ctx_backend(D.ctx));
        rc = 0;
        goto out;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    xlmig_state_reconcile_in(D.ctx, D.cfg.state_dir);
    load_in_doubt();
    D.lfd = listen_tcp();
    if (D.lfd < 0)
        goto out;
    D.ufd = listen_unix();
    if (D.ufd < 0)
        goto out;
    fprintf(stderr, "xlmigd: %s listening on %s port %u, control socket "
            "%s, backend %s\n", D.cfg.host_name,
            D.cfg.listen[0] ? D.cfg.listen : "*", D.cfg.port,
            D.cfg.socket_path, xlmig_ctx_backend(D.ctx));

    while (!stopping) {
        struct pollfd p[2 + CLIENTS_MAX];
        struct client *cl[CLIENTS_MAX];
        nfds_t n = 2;

        p[0].fd = D.lfd;
        p[0].events = POLLIN;
        p[1].fd = D.ufd;
        p[1].events = POLLIN;
        pthread_mutex_lock(&D.lock);
        for (struct client *x = D.clients; x && n < 2 + CLIENTS_MAX;
             x = x->next) {
            cl[n - 2] = x;
            p[n].fd = x->fd;
            p[n].events = POLLIN;
            n++;
        }
        pthread_mutex_unlock(&D.lock);
        if (poll(p, n, 1000) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents & POLLIN)
            accept_peer();
        if (p[1].revents & POLLIN)
            accept_client();
        for (nfds_t i = 2; i < n; i++)
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
                client_input(cl[i - 2]);
        clients_reap();
    }

    /* Shutting down: roll back what can be, wait for the workers. */
    fprintf(stderr, "xlmigd: stopping; cancelling jobs before COMMIT\n");
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj; dj = dj->next) {
        char why[256];
        if (!dj->m.done && !xlmig_mjob_cancel(&dj->m, why, sizeof(why)))
            xlmig_mjob_fail(&dj->m, XLMIG_ERR_CANCELLED, "xlmigd stopped");
    }
    pthread_mutex_unlock(&D.lock);
    for (int i = 0; i < 600; i++) {
        unsigned w;
        pthread_mutex_lock(&D.lock);
        w = D.workers;
        pthread_mutex_unlock(&D.lock);
        if (!w)
            break;
        usleep(50000);
    }
    rc = 0;
out:
    if (D.ufd >= 0) {
        close(D.ufd);
        unlink(D.cfg.socket_path);
    }
    if (D.lfd >= 0)
        close(D.lfd);
    if (D.workers == 0) {
        while (D.jobs) {
            struct djob *dj = D.jobs;
            D.jobs = dj->next;
            xlmig_mjob_dispose(&dj->m);
            free(dj);
        }
        while (D.clients) {
            struct client *x = D.clients;
            D.clients = x->next;
            close(x->fd);
            free(x);
        }
        xlmig_tls_free(D.tls);
    }
    if (D.ctx)
        xlmig_ctx_free(D.ctx);
    return rc;
}
