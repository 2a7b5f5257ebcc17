/* xlmigd: JSON events to the clients that watch a job (see xlmigd.h). */
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

yajl_gen gen_open(const char *event)
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

void gen_send(yajl_gen g, struct client *cl)
{
    gen_send_to(g, &cl, 1);
}

const char *job_dir_name(enum xlmig_job_dir d)
{
    return d == XLMIG_JOB_OUT ? "out" : d == XLMIG_JOB_LOCAL ? "local" :
                                                         "in";
}

const char *job_result_name(const struct xlmig_mjob *m)
{
    if (!m->done)
        return m->in_doubt ? "in-doubt" : "running";
    if (m->in_doubt)
        return "in-doubt";
    if (m->rc == 0)
        return "ok";
    if (m->rc == XLMIG_ERR_REFUSED || m->rc == XLMIG_ERR_BUSY)
        return "refused";
    if (m->rc == XLMIG_ERR_CANCELLED)
        return "cancelled";
    return "rolled-back";
}

/* The job's fields, inside an open map.  Called with m->lock held. */
void gen_job(yajl_gen g, const struct djob *dj)
{
    const struct xlmig_mjob *m = &dj->m;
    const struct xlmig_progress *p = &m->prog;

    xlmig_json_int(g, "job", m->job.id);
    xlmig_json_str(g, "direction", job_dir_name(m->dir));
    xlmig_json_str(g, "domain", m->job.domain);
    xlmig_json_str(g, "peer", m->peer);
    xlmig_json_str(g, "mode", m->mode);
    xlmig_json_str(g, "phase", dj->queued ? "queued" :
                   xlmig_phase_name(m->job.phase));
    xlmig_json_str(g, "result", job_result_name(m));
    xlmig_json_bool(g, "in_doubt", m->in_doubt);
    if (dj->queued) {
        xlmig_json_int(g, "position", queue_position(dj));
        xlmig_json_int(g, "priority", dj->priority);
    } else if (dj->queued_ns) {
        xlmig_json_num(g, "queued_ms", (double)dj->queued_ns / 1e6);
    }
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
        if (m->dir == XLMIG_JOB_OUT && p->disk_bytes)
            xlmig_json_int(g, "disk_bytes", (long long)p->disk_bytes);
        if (p->announced) {
            /* The destination's announce (docs/network.md). */
            const struct xlmig_announce_report *a = &p->announce;
            xlmig_json_key(g, "announce");
            yajl_gen_map_open(g);
            xlmig_json_int(g, "vifs", a->vifs);
            xlmig_json_int(g, "frames", a->frames);
            xlmig_json_int(g, "rarp", a->rarp);
            xlmig_json_int(g, "garp", a->garp);
            xlmig_json_int(g, "na", a->na);
            xlmig_json_int(g, "device_model_nics", a->dm_nics);
            xlmig_json_int(g, "errors", a->errors);
            xlmig_json_num(g, "first_ms", (double)a->first_ns / 1e6);
            xlmig_json_num(g, "last_ms", (double)a->last_ns / 1e6);
            yajl_gen_map_close(g);
        }
        xlmig_json_int(g, "rc", m->rc);
    }
    if (m->dir == XLMIG_JOB_LOCAL) {
        const struct xlmig_storage_progress *s = &p->storage;
        xlmig_json_key(g, "storage");
        yajl_gen_map_open(g);
        xlmig_json_str(g, "disk", s->disk);
        xlmig_json_str(g, "from", s->from);
        xlmig_json_str(g, "to", s->to);
        xlmig_json_int(g, "size_bytes", (long long)s->size);
        xlmig_json_int(g, "done_bytes", (long long)s->done);
        xlmig_json_int(g, "copied_bytes", (long long)s->copied);
        xlmig_json_int(g, "mirrored_writes", (long long)s->mirrored);
        xlmig_json_num(g, "write_p50_ms", (double)s->write_p50_ns / 1e6);
        xlmig_json_num(g, "write_p99_ms", (double)s->write_p99_ns / 1e6);
        xlmig_json_bool(g, "switched", s->switched);
        xlmig_json_str(g, "old_image", !s->switched ? "in use" :
                       s->kept ? "kept" : "deleted");
        yajl_gen_map_close(g);
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
    {
        /* Refused for its max_incoming alone: worth waiting for. */
        bool busy = r && r->failed == 1;
        for (unsigned i = 0; busy && i < r->n; i++)
            if (r->rows[i].verdict == XLMIG_PF_FAIL &&
                strcmp(r->rows[i].check, "incoming"))
                busy = false;
        if (busy)
            xlmig_json_bool(g, "busy", true);
    }
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
void send_to_watchers(yajl_gen g, struct djob *dj)
{
    gen_send_to(g, dj->subs, dj->nsubs);
}

void publish(struct xlmig_mjob *m, enum xlmig_job_event ev)
{
    struct djob *dj = (struct djob *)m;
    yajl_gen g;

    /* The same event for XenStore (xsorch.c). */
    xsorch_note(dj, ev);
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
    case XLMIG_EV_WAITING:
        g = gen_open("waiting");
        xlmig_json_int(g, "job", m->job.id);
        xlmig_json_str(g, "domain", m->job.domain);
        xlmig_json_str(g, "peer", m->peer);
        xlmig_json_str(g, "error", m->error);
        xlmig_json_int(g, "retry_ms", m->retry_ms);
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

