/*
 * The source side of a migration (docs/specs/protocol.md): one function
 * per mode (live, quick, quick through a file) over the steps they share
 * (check, connect, preflight, prepare, commit, roll back); the fourth
 * mode, to a stock xl receiver, is source_xl.c.
 *
 * The invariant, in code: the source never destroys its copy before
 * COMMITTED, and records that it will send COMMIT before sending it.
 * Every failure before COMMIT resumes the domain here.
 */
#include "engine/source.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "engine/channels.h"
#include "engine/fault.h"
#include "engine/quick.h"
#include "engine/records.h"
#include "engine/source_xl.h"
#include "proto/stream.h"

struct out_sink {
    struct xlmig_conn *c;
    struct xlmig_mjob *j;
    struct xlmig_pace pace;
};

static int out_writev(void *opaque, const struct iovec *iov, int n)
{
    struct out_sink *s = opaque;
    struct xlmig_mjob *j = s->j;
    uint64_t len = 0;
    int rc;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (xlmig_mjob_cancelled(j))
        return XLMIG_ERR_CANCELLED;
    rc = xlmig_conn_sendv(s->c, XLMIG_MSG_STREAM_DATA, iov, n);
    if (rc)
        return xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED : rc;
    xlmig_mjob_sent(j, &s->pace, len);
    return 0;
}

struct out_hooks {
    struct xlmig_mjob *j;
    struct xlmig_conn *c;
    struct xlmig_chans_out *chans;
    uint64_t sync_seq;
};

static int out_sync(void *opaque)
{
    struct out_hooks *h = opaque;
    uint8_t b[XLMIG_MSG_SYNC_SIZE];
    uint64_t seq = ++h->sync_seq;
    int rc;

    if (h->chans)
        xlmig_chans_sync_start(h->chans, seq);
    xlmig_put_u64(b, h->j->wire_id);
    xlmig_put_u64(b + 8, seq);
    rc = xlmig_conn_send(h->c, XLMIG_MSG_SYNC, b, sizeof(b));
    if (!rc)
        rc = xlmig_conn_expect(h->c, XLMIG_MSG_SYNC);
    if (!rc && xlmig_get_u64(h->c->body + 8) != seq) {
        LOG_ERR(h->c->ctx, "%s answered SYNC %" PRIu64 " as %" PRIu64,
                h->c->peer, seq, xlmig_get_u64(h->c->body + 8));
        rc = XLMIG_ERR_PEER;
    }
    if (!rc && h->chans)
        rc = xlmig_chans_sync_wait(h->chans);
    return rc && xlmig_mjob_cancelled(h->j) ? XLMIG_ERR_CANCELLED : rc;
}

static int out_round(void *opaque, const struct xlmig_round *r,
                     const struct xlmig_verdict *v)
{
    struct out_hooks *h = opaque;
    struct xlmig_mjob *j = h->j;
    struct xlmig_msg_round m = { r->round, r->pages_sent, r->bytes_sent,
                                 r->duration_ns };
    uint8_t b[XLMIG_MSG_ROUND_SIZE];
    int rc;

    xlmig_mjob_round(j, r, v);
    if (xlmig_mjob_cancelled(j))
        return XLMIG_ERR_CANCELLED;
    xlmig_msg_put_round(b, &m);
    rc = xlmig_conn_send(h->c, XLMIG_MSG_ROUND, b, sizeof(b));
    return rc && xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED : rc;
}

static void out_suspending(void *opaque)
{
    struct out_hooks *h = opaque;

    xlmig_mjob_suspending(h->j);
}

/* The last page is written: every data channel sends what it holds and
 * its CHANNEL_END, then END goes on the control connection. */
static int end_stream(struct xlmig_stream_writer *w,
                      struct xlmig_chans_out *chans, struct xlmig_mjob *j)
{
    int rc;

    xlmig_write_flush_pages(w);
    rc = w->err;
    if (!rc && chans)
        rc = xlmig_chans_finish(chans, w);
    if (!rc) {
        xlmig_write_end(w);
        rc = w->err;
    }
    return rc && xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED : rc;
}

/*
 * PREFLIGHT with the domain's needs; the destination's report is kept in
 * the job and published.  On return DOMAIN_INFO's body is at @di (for
 * PREPARE).  0 when every check passed, XLMIG_ERR_REFUSED when one
 * failed (the job's error names them), another error if it never ran.
 */
static int out_preflight(xlmig_ctx *ctx, struct xlmig_conn *c,
                         struct xlmig_mjob *j, const struct xlmig_out_opts *o,
                         struct xlmig_dom *dom, const struct xlmig_dominfo *info,
                         const struct xlmig_domain_desc *desc,
                         uint8_t di[XLMIG_DOMAIN_INFO_SIZE])
{
    struct xlmig_needs *n = calloc(1, sizeof(*n));
    struct xlmig_pf_report *r = malloc(sizeof(*r));
    uint8_t *b = malloc(XLMIG_MSG_PREFLIGHT_SIZE + XLMIG_PF_NEEDS_MAX);
    struct xlmig_msg_text txt;
    char why[256];
    long len;
    int rc;

    if (!n || !r || !b) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    {
        struct xlmig_membuf mb = { b, 0, XLMIG_REC_HDR_SIZE +
                                   XLMIG_DOMAIN_INFO_SIZE + 8, 0 };
        struct xlmig_sink ms;
        struct xlmig_stream_writer tw;
        /* DOMAIN_INFO's body as the stream encodes it. */
        xlmig_sink_mem(&ms, &mb);
        if (xlmig_writer_init(&tw, ctx, &ms)) {
            rc = XLMIG_ERR_NOMEM;
            goto out;
        }
        xlmig_write_domain_info(&tw, desc);
        rc = tw.err;
        xlmig_writer_dispose(&tw);
        if (rc)
            goto out;
        memcpy(di, b + XLMIG_REC_HDR_SIZE, XLMIG_DOMAIN_INFO_SIZE);
    }
    rc = ctx->ops->needs(ctx, dom, n);
    if (rc) {
        xlmig_mjob_fail(j, rc, "cannot read what %s needs of a host (see "
                        "the log)", info->name);
        goto out;
    }
    n->flags = (o->check_only ? XLMIG_PF_CHECK_ONLY : 0) |
               (o->copy_storage ? XLMIG_PF_COPY_STORAGE : 0);
    /* --disk-map names disks that are copied, or it is refused before
     * anything is asked of the destination. */
    for (unsigned m = 0; m < o->ndisk_map; m++) {
        char names[160] = "";
        size_t off = 0;
        unsigned i;

        for (i = 0; i < n->ndisks; i++)
            if (!strcmp(n->disks[i].vdev, o->disk_map[m].vdev))
                break;
        if (i < n->ndisks && !(n->disks[i].flags & (XLMIG_PF_DISK_RO |
                                                    XLMIG_PF_DISK_CDROM |
                                                    XLMIG_PF_DISK_EMPTY)))
            continue;
        if (i < n->ndisks) {
            rc = XLMIG_ERR_INVAL;
            xlmig_mjob_fail(j, rc, "--disk-map %s: disk %s of %s is %s: "
                            "only writable disks are copied (a read-only "
                            "one must be on both hosts)", o->disk_map[m].vdev,
                            o->disk_map[m].vdev, info->name,
                            n->disks[i].flags & XLMIG_PF_DISK_RO ?
                                "read-only" : "a removable drive");
            goto out;
        }
        for (i = 0; i < n->ndisks && off < sizeof(names); i++) {
            int w = snprintf(names + off, sizeof(names) - off, "%s%s",
                             i ? ", " : "", n->disks[i].vdev);
            off += w > 0 ? (size_t)w : 0;
        }
        rc = XLMIG_ERR_NOTFOUND;
        xlmig_mjob_fail(j, rc, "--disk-map %s: %s has no such disk (its "
                        "disks: %s)", o->disk_map[m].vdev, info->name,
                        n->ndisks ? names : "none");
        goto out;
    }
    /* Copied disks are checked where they would go. */
    for (unsigned i = 0; o->copy_storage && i < n->ndisks; i++)
        for (unsigned m = 0; m < o->ndisk_map; m++)
            if (!strcmp(n->disks[i].vdev, o->disk_map[m].vdev))
                snprintf(n->disks[i].target, sizeof(n->disks[i].target),
                         "%s", o->disk_map[m].path);
    n->stream_version = XLMIG_STREAM_VERSION;
    memcpy(b, di, XLMIG_DOMAIN_INFO_SIZE);
    xlmig_put_u64(b + XLMIG_DOMAIN_INFO_SIZE,
                  info->nr_pages << XLMIG_PAGE_SHIFT);
    xlmig_put_u32(b + XLMIG_DOMAIN_INFO_SIZE + 8, n->flags);
    xlmig_put_u32(b + XLMIG_DOMAIN_INFO_SIZE + 12, 0);
    len = xlmig_needs_encode(n, b + XLMIG_MSG_PREFLIGHT_SIZE,
                             XLMIG_PF_NEEDS_MAX);
    if (len < 0) {
        xlmig_mjob_fail(j, XLMIG_ERR_INVAL, "what %s needs of a host does "
                        "not fit a PREFLIGHT", info->name);
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    rc = xlmig_conn_send(c, XLMIG_MSG_PREFLIGHT, b,
                         XLMIG_MSG_PREFLIGHT_SIZE + (size_t)len);
    if (!rc)
        rc = xlmig_conn_expect(c, XLMIG_MSG_PREFLIGHT_REPORT);
    if (rc)
        goto out;
    rc = xlmig_pf_report_decode(c->body, c->f.length, r, why, sizeof(why));
    if (rc) {
        LOG_ERR(ctx, "%s sent a bad preflight report: %s", o->dest.name,
                why);
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    pthread_mutex_lock(&j->lock);
    free(j->pf);
    j->pf = r;
    pthread_mutex_unlock(&j->lock);
    r = NULL;
    xlmig_mjob_notify(j, XLMIG_EV_PREFLIGHT);
    rc = xlmig_conn_expect(c, XLMIG_MSG_PREFLIGHT_RESULT);
    if (rc)
        goto out;
    xlmig_msg_get_text(c->f.type, c->body, c->f.length, &txt);
    if (txt.code != 1) {
        LOG_ERR(ctx, "%s refused %s: %s", o->dest.name, info->name,
                txt.text);
        xlmig_mjob_fail(j, XLMIG_ERR_REFUSED, "%s refused: %s",
                        o->dest.name, txt.text);
        rc = XLMIG_ERR_REFUSED;
        /* Refused only for its max_incoming: busy, worth waiting for. */
        pthread_mutex_lock(&j->lock);
        if (j->pf && j->pf->failed == 1)
            for (unsigned i = 0; i < j->pf->n; i++)
                if (j->pf->rows[i].verdict == XLMIG_PF_FAIL &&
                    !strcmp(j->pf->rows[i].check, "incoming"))
                    rc = XLMIG_ERR_BUSY;
        pthread_mutex_unlock(&j->lock);
        goto out;
    }
    LOG_INFO(ctx, "preflight on %s: %s", o->dest.name, txt.text);
out:
    free(n);
    free(r);
    free(b);
    return rc;
}

/* One outgoing job, as its steps share it. */
struct out {
    xlmig_ctx *ctx;
    struct xlmig_tls *tls;
    const struct xlmigd_config *cfg;
    struct xlmig_mjob *j;
    const struct xlmig_out_opts *o;
    unsigned nchan;
    int fd;                     /* the socket, until the connection has it */
    struct xlmig_conn c;
    struct xlmig_dominfo info;
    struct xlmig_dom *dom;
    struct xlmig_domain_desc desc;
    uint8_t prepare[XLMIG_MSG_PREPARE_SIZE];
    struct xlmig_limits lim;    /* the job's, with the measured handover */
    struct xlmig_stream_writer w;
    struct xlmig_sink fsink, sink, lanes[XLMIG_CHANNELS_MAX];
    struct xlmig_chans_out *chans;
    struct xlmig_ratelimit rl;
    struct out_sink os;
    /* What was done, for the roll-back. */
    bool conn_ok, writer_ok, recorded, suspended, via_made, committed;
};

/* The options make sense, the domain runs here; the job learns its
 * domain, peer and wire id. */
static int out_check(struct out *s)
{
    const struct xlmig_out_opts *o = s->o;
    struct xlmig_mjob *j = s->j;
    int rc;

    if (o->via) {
        snprintf(j->mode, sizeof(j->mode), "quick-via");
        if (o->via[0] != '/' || strlen(o->via) > XLMIG_PROTO_TEXT_MAX) {
            xlmig_mjob_fail(j, XLMIG_ERR_INVAL, "--via needs an absolute "
                            "path of at most %d characters",
                            XLMIG_PROTO_TEXT_MAX);
            return XLMIG_ERR_INVAL;
        }
    } else if (o->quick) {
        snprintf(j->mode, sizeof(j->mode), "quick");
    }
    if (o->copy_storage && !o->check_only && (o->quick || o->via || o->xl)) {
        xlmig_mjob_fail(j, XLMIG_ERR_INVAL, "--copy-storage copies the disks "
                        "live, with the memory: not with --quick, --via or "
                        "--xl");
        return XLMIG_ERR_INVAL;
    }
    if (o->copy_storage && !o->check_only && !s->ctx->ops->copy_storage) {
        xlmig_mjob_fail(j, XLMIG_ERR_NOTIMPL, "the %s backend cannot copy "
                        "disks with a domain yet (preflight --copy-storage "
                        "checks the destination)", s->ctx->ops->name);
        return XLMIG_ERR_NOTIMPL;
    }
    s->nchan = o->via || !o->channels ? 1 : o->channels;
    if (s->nchan > XLMIG_CHANNELS_MAX) {
        xlmig_mjob_fail(j, XLMIG_ERR_INVAL, "%u data channels asked for; "
                        "at most %u", s->nchan, XLMIG_CHANNELS_MAX);
        return XLMIG_ERR_INVAL;
    }
    rc = xlmig_domain_find(s->ctx, o->domain, &s->info);
    if (rc) {
        xlmig_mjob_fail(j, rc, "no domain %s on this host", o->domain);
        return rc;
    }
    if (s->info.state != XLMIG_DOM_RUNNING) {
        xlmig_mjob_fail(j, XLMIG_ERR_STATE, "domain %s is %s, not running",
                        s->info.name, xlmig_dom_state_name(s->info.state));
        return XLMIG_ERR_STATE;
    }
    pthread_mutex_lock(&j->lock);
    snprintf(j->job.domain, sizeof(j->job.domain), "%s", s->info.name);
    snprintf(j->peer, sizeof(j->peer), "%s", o->dest.name);
    j->dead_peer_ms = s->cfg->dead_peer_ms;
    j->prog.memory_bytes = s->info.nr_pages << XLMIG_PAGE_SHIFT;
    pthread_mutex_unlock(&j->lock);
    if (getrandom(&j->wire_id, sizeof(j->wire_id), 0) !=
        sizeof(j->wire_id))
        return XLMIG_ERR_IO;
    return 0;
}

/* Connect, authenticate, HELLO. */
static int out_connect(struct out *s)
{
    const struct xlmig_out_opts *o = s->o;
    struct xlmig_mjob *j = s->j;
    struct xlmig_tls_conn *tc = NULL;
    int rc;

    s->fd = xlmig_dial(s->ctx, &o->dest, s->cfg->io_timeout_s);
    if (s->fd < 0) {
        rc = s->fd;
        s->fd = -1;
        xlmig_mjob_fail(j, rc, "cannot connect to %s", o->dest.name);
        return rc;
    }
    pthread_mutex_lock(&j->lock);
    j->sock = s->fd;
    rc = j->cancel ? XLMIG_ERR_CANCELLED : 0;
    pthread_mutex_unlock(&j->lock);
    if (rc)
        return rc;
    rc = xlmig_tls_connect(s->ctx, s->tls, s->fd, o->dest.name, &tc);
    if (rc) {
        pthread_mutex_lock(&j->lock);
        j->sock = -1;                   /* closed by the TLS layer */
        pthread_mutex_unlock(&j->lock);
        s->fd = -1;
        xlmig_mjob_fail(j, rc, "TLS authentication with %s failed (see "
                        "the log for which check)", o->dest.name);
        return rc;
    }
    s->fd = -1;                         /* the TLS connection owns it */
    rc = xlmig_conn_init(&s->c, s->ctx, tc, o->dest.name);
    if (rc) {
        xlmig_tls_close(tc);
        return rc;
    }
    s->conn_ok = true;
    rc = xlmig_hello(&s->c, false, s->cfg->host_name, s->ctx->ops->name);
    if (rc)
        xlmig_mjob_fail(j, rc, "%s refused the connection (see the log)",
                        o->dest.name);
    return rc;
}

/*
 * PREPARE and READY, then the job record and the stream writer (over its
 * data channels): everything the transfer needs, before the first page.
 */
static int out_prepare(struct out *s)
{
    const struct xlmig_out_opts *o = s->o;
    struct xlmig_mjob *j = s->j;
    xlmig_ctx *ctx = s->ctx;
    uint8_t *b = s->prepare;
    uint64_t t_prep;
    int rc;

    rc = xlmig_mjob_phase(j, XLMIG_PHASE_PREPARE);
    if (rc)
        return rc;
    xlmig_put_u64(b, j->wire_id);
    xlmig_put_u32(b + 8, s->nchan);
    xlmig_put_u32(b + 12, 0);
    /* DOMAIN_INFO's body is at b + 16 already (out_preflight). */
    t_prep = xlmig_now_ns();
    rc = xlmig_conn_send(&s->c, XLMIG_MSG_PREPARE, b, XLMIG_MSG_PREPARE_SIZE);
    if (!rc)
        rc = xlmig_conn_expect(&s->c, XLMIG_MSG_READY);
    if (rc)
        return rc;
    /* PREPARE -> READY costs what COMMIT -> COMMITTED will (a round trip
     * and a durable record there): part of the downtime the policy must
     * predict, beyond the pages. */
    s->lim = o->lim;
    if (s->lim.fixed_downtime_ns < xlmig_now_ns() - t_prep)
        s->lim.fixed_downtime_ns = xlmig_now_ns() - t_prep;
    if (xlmig_msg_get_u64(s->c.body) != j->wire_id) {
        LOG_ERR(ctx, "%s answered READY for another job", o->dest.name);
        return XLMIG_ERR_PEER;
    }
    /*
     * The record that lets a restarted daemon settle the job: written
     * now, outside the downtime, and removed on every outcome but "in
     * doubt".  A record for a job that never sent COMMIT is harmless:
     * recovery asks the destination, which answers rolled back.
     */
    rc = xlmig_state_out_record(ctx, s->cfg, j, &o->dest, s->info.uuid);
    if (rc) {
        xlmig_mjob_fail(j, rc, "cannot record the job in %s",
                        s->cfg->state_dir);
        return rc;
    }
    s->recorded = true;

    s->os.c = &s->c;
    s->os.j = j;
    s->os.pace.last_ns = 0;
    s->os.pace.last_bytes = 0;
    s->fsink.writev = out_writev;
    s->fsink.drain = NULL;
    s->fsink.opaque = &s->os;
    xlmig_sink_ratelimit(&s->sink, &s->rl, &s->fsink, o->lim.bandwidth_cap);
    rc = xlmig_writer_init(&s->w, ctx, &s->sink);
    if (rc)
        return rc;
    s->writer_ok = true;
    if (s->nchan > 1) {
        rc = xlmig_chans_open(ctx, s->tls, s->cfg, j, &o->dest, s->nchan,
                              &s->rl, &s->chans, s->lanes);
        if (!rc)
            rc = xlmig_writer_set_lanes(&s->w, s->nchan, s->lanes);
        if (rc) {
            if (xlmig_mjob_cancelled(j))
                rc = XLMIG_ERR_CANCELLED;
            else
                xlmig_mjob_fail(j, rc, "cannot open %u data channels to "
                                "%s (see the log)", s->nchan, o->dest.name);
            return rc;
        }
    }
    return 0;
}

/* The source documents' quick migration through shared storage: the
 * state goes to a file both hosts see, the connection carries its name. */
static int send_via(struct out *s)
{
    struct xlmig_mjob *j = s->j;
    struct xlmig_save_stats ss;
    uint8_t b[16 + XLMIG_PROTO_TEXT_MAX];
    size_t n;
    int rc;

    xlmig_mjob_suspending(j);
    if (j->job.phase != XLMIG_PHASE_STOPCOPY)
        return XLMIG_ERR_STATE;
    rc = xlmig_save_dom(s->ctx, s->dom, s->info.name, s->o->via, NULL, &ss);
    if (rc) {
        xlmig_mjob_fail(j, rc, "saving %s to %s failed", s->info.name,
                        s->o->via);
        return rc;
    }
    s->suspended = s->via_made = true;
    n = xlmig_msg_put_restore_file(b, sizeof(b), j->wire_id, s->o->via);
    rc = xlmig_conn_send(&s->c, XLMIG_MSG_RESTORE_FILE, b, n);
    if (rc)
        return rc;
    pthread_mutex_lock(&j->lock);
    j->prog.rounds = 1;
    j->prog.bytes_sent = ss.bytes_written;
    pthread_mutex_unlock(&j->lock);
    return 0;
}

/* Quick migration over the connection: suspend, then send everything. */
static int send_quick(struct out *s)
{
    struct xlmig_mjob *j = s->j;
    xlmig_ctx *ctx = s->ctx;
    int rc;

    pthread_mutex_lock(&j->lock);
    j->prog.round = 1;
    j->prog.round_target = j->prog.memory_bytes;
    pthread_mutex_unlock(&j->lock);
    xlmig_mjob_suspending(j);
    if (j->job.phase != XLMIG_PHASE_STOPCOPY)
        return XLMIG_ERR_STATE;
    rc = ctx->ops->suspend(ctx, s->dom);
    if (rc)
        return rc;
    s->suspended = true;
    xlmig_write_header(&s->w);
    xlmig_write_domain_info(&s->w, &s->desc);
    rc = ctx->ops->save(ctx, s->dom, &s->w);
    if (!rc)
        rc = end_stream(&s->w, s->chans, j);
    if (rc)
        return rc;
    pthread_mutex_lock(&j->lock);
    j->prog.rounds = 1;
    pthread_mutex_unlock(&j->lock);
    return 0;
}

/* Live: pre-copy rounds under the policy, then stop-and-copy. */
static int send_live(struct out *s)
{
    struct xlmig_mjob *j = s->j;
    xlmig_ctx *ctx = s->ctx;
    struct xlmig_live_hooks hooks;
    struct xlmig_live_stats st;
    struct out_hooks oh;
    int rc;

    rc = xlmig_mjob_phase(j, XLMIG_PHASE_PRECOPY);
    if (rc)
        return rc;
    pthread_mutex_lock(&j->lock);
    j->prog.round = 1;
    j->prog.round_target = j->prog.memory_bytes;
    pthread_mutex_unlock(&j->lock);
    oh.j = j;
    oh.c = &s->c;
    oh.chans = s->chans;
    oh.sync_seq = 0;
    hooks.opaque = &oh;
    hooks.round = out_round;
    hooks.sync = out_sync;
    hooks.suspending = out_suspending;
    if (s->o->copy_storage) {
        char why[512];
        rc = ctx->ops->copy_storage ?
             ctx->ops->copy_storage(ctx, s->dom, s->o->disk_map,
                                    s->o->ndisk_map, why, sizeof(why)) :
             xlmig_why(why, sizeof(why), XLMIG_ERR_NOTIMPL, "the %s backend "
                       "cannot copy disks with a domain yet",
                       ctx->ops->name);
        if (rc) {
            xlmig_mjob_fail(j, rc, "%s", why);
            return rc;
        }
    }
    xlmig_write_header(&s->w);
    xlmig_write_domain_info(&s->w, &s->desc);
    rc = s->w.err;
    if (rc)
        return rc;
    rc = ctx->ops->live_save(ctx, s->dom, &s->w, &s->lim, &hooks, &st);
    if (rc)
        /* The engine resumed the domain and stopped log-dirty. */
        return xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED : rc;
    s->suspended = true;
    rc = end_stream(&s->w, s->chans, j);
    if (rc)
        return rc;
    pthread_mutex_lock(&j->lock);
    j->prog.rounds = st.rounds;
    j->prog.throttle_pct = st.throttle_pct;
    j->prog.disk_bytes = st.disk_blocks * XLMIG_DISK_BLOCK;
    pthread_mutex_unlock(&j->lock);
    return 0;
}

/* The destination's announce, for the job's figures: it comes once the
 * last round is out (under a second with the default schedule).  The
 * migration is done whatever comes. */
static void await_announced(struct out *s)
{
    struct xlmig_msg_announced m;
    struct xlmig_mjob *j = s->j;

    if (xlmig_conn_expect(&s->c, XLMIG_MSG_ANNOUNCED) ||
        (xlmig_msg_get_announced(s->c.body, &m), m.job_id != j->wire_id)) {
        LOG_DEBUG(s->ctx, "no announce figures from %s", s->o->dest.name);
        return;
    }
    pthread_mutex_lock(&j->lock);
    j->prog.announced = m.vifs || m.dm_nics;
    j->prog.announce.vifs = m.vifs;
    j->prog.announce.frames = m.frames;
    j->prog.announce.rarp = m.rarp;
    j->prog.announce.garp = m.garp;
    j->prog.announce.na = m.na;
    j->prog.announce.dm_nics = m.dm_nics;
    j->prog.announce.errors = m.errors;
    j->prog.announce.first_ns = m.first_ns;
    j->prog.announce.last_ns = m.last_ns;
    pthread_mutex_unlock(&j->lock);
    if (m.vifs || m.dm_nics)
        LOG_INFO(s->ctx, "%s announced %s on %u vifs: %u frames, the first "
                 "%.1f ms after the unpause%s", s->o->dest.name,
                 s->info.name, m.vifs, m.frames, m.first_ns / 1e6,
                 m.dm_nics ? ", and its device model's NICs" : "");
}

/*
 * The handover: past the point of no return, COMMIT, and the source copy
 * goes once the destination confirms it runs the domain.  No answer
 * leaves the job in doubt (XLMIG_ERR_INDOUBT), the domain suspended here.
 */
static int out_commit(struct out *s)
{
    const struct xlmig_out_opts *o = s->o;
    struct xlmig_mjob *j = s->j;
    xlmig_ctx *ctx = s->ctx;
    uint8_t b[8];
    int rc;

    XLMIG_FAULT(before_commit, ctx);
    rc = xlmig_mjob_handover(j);
    if (rc)
        return rc;
    s->committed = true;
    xlmig_put_u64(b, j->wire_id);
    rc = xlmig_conn_send(&s->c, XLMIG_MSG_COMMIT, b, 8);
    if (!rc)
        rc = xlmig_conn_expect(&s->c, XLMIG_MSG_COMMITTED);
    if (rc == XLMIG_ERR_PEER && s->c.f.type == XLMIG_MSG_ABORT) {
        /* The destination refused the COMMIT and destroyed its copy:
         * that is an answer, so the source may resume. */
        xlmig_state_out_remove(s->cfg, j->job.id);
        s->recorded = false;
        s->committed = false;
        return rc;
    }
    if (rc) {
        pthread_mutex_lock(&j->lock);
        j->in_doubt = true;
        pthread_mutex_unlock(&j->lock);
        LOG_ERR(ctx, "COMMIT sent to %s but no confirmation came: job %u "
                "is in doubt; %s stays suspended here until `xlmig "
                "recover` settles it", o->dest.name, j->job.id,
                s->info.name);
        xlmig_mjob_fail(j, XLMIG_ERR_INDOUBT, "COMMIT sent, no "
                        "confirmation from %s: run xlmig recover",
                        o->dest.name);
        return XLMIG_ERR_INDOUBT;
    }
    pthread_mutex_lock(&j->lock);
    j->prog.downtime_ns = xlmig_now_ns() - j->prog.suspended_ns;
    pthread_mutex_unlock(&j->lock);
    /* The destination runs the domain: the source copy goes. */
    if (ctx->ops->destroy(ctx, s->dom))
        LOG_ERR(ctx, "%s runs on %s, but destroying the suspended source "
                "copy failed: destroy it by hand", s->info.name,
                o->dest.name);
    if (s->via_made && unlink(o->via) < 0)
        LOG_WARN(ctx, "cannot remove %s: %s", o->via, strerror(errno));
    xlmig_state_out_remove(s->cfg, j->job.id);
    s->recorded = false;
    /* Our record is gone, so we will never ask about the job: the
     * destination may forget it (best effort: it keeps it otherwise). */
    xlmig_put_u64(b, j->wire_id);
    if (XLMIG_FAULT_IF(drop_done, ctx) ||
        xlmig_conn_send(&s->c, XLMIG_MSG_DONE, b, 8)) {
        LOG_DEBUG(ctx, "DONE did not reach %s: it keeps its record of "
                  "job %u", o->dest.name, j->job.id);
        return xlmig_mjob_phase(j, XLMIG_PHASE_COMMITTED);
    }
    rc = xlmig_mjob_phase(j, XLMIG_PHASE_COMMITTED);
    if (s->c.peer_caps & XLMIG_CAP_ANNOUNCE)
        await_announced(s);
    return rc;
}

/* Before COMMIT: tell the peer, resume the domain, forget the job. */
static void out_rollback(struct out *s, int rc)
{
    const struct xlmig_out_opts *o = s->o;
    struct xlmig_mjob *j = s->j;
    xlmig_ctx *ctx = s->ctx;
    char why[256];

    /* The domain first: the destination never runs it without COMMIT,
     * so it may resume before the peer hears of it, and a dead link's
     * ABORT must not keep it stopped. */
    if (s->suspended && s->dom && ctx->ops->resume(ctx, s->dom))
        LOG_ERR(ctx, "could not resume %s after the failed migration",
                s->info.name);
    /* A send the destination cut short: its ABORT, the reason, was on
     * the way and stays readable even after the connection's reset. */
    if (rc == XLMIG_ERR_IO && s->conn_ok && !s->c.aborted[0] && !o->xl) {
        struct timeval tv = { 2, 0 };
        int fd = xlmig_tls_fd(s->c.tls);

        if (fd >= 0 &&
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0)
            for (int k = 0; k < 8 && xlmig_conn_recv(&s->c) == 0; k++)
                ;
    }
    if ((rc == XLMIG_ERR_PEER || rc == XLMIG_ERR_IO) && s->conn_ok &&
        s->c.aborted[0])
        xlmig_mjob_fail(j, rc, "%s aborted: %s", o->dest.name,
                        s->c.aborted);
    snprintf(why, sizeof(why), "%s", j->error[0] ? j->error :
             xlmig_strerror(rc));
    /* (Inside a tunnel the connection is shut already: xl's receiver
     * learns from its input's end.) */
    if (s->conn_ok && rc != XLMIG_ERR_PEER && !o->xl)
        xlmig_send_abort(&s->c, j->wire_id, rc, why);
    if (s->via_made && unlink(o->via) < 0)
        LOG_WARN(ctx, "cannot remove %s: %s", o->via, strerror(errno));
    /* A busy destination may be tried again: its caller ends the job. */
    if (rc != XLMIG_ERR_BUSY)
        xlmig_mjob_rollback(j, rc);
    if (s->dom)
        LOG_INFO(ctx, "rolled back: %s runs on this host", s->info.name);
    if (s->recorded)
        xlmig_state_out_remove(s->cfg, j->job.id);
}

int xlmig_migrate_out(xlmig_ctx *ctx, struct xlmig_tls *tls,
                      const struct xlmigd_config *cfg, struct xlmig_mjob *j,
                      const struct xlmig_out_opts *o)
{
    struct out *s = calloc(1, sizeof(*s));
    int rc;

    if (!s) {
        xlmig_mjob_fail(j, XLMIG_ERR_NOMEM, "out of memory");
        return XLMIG_ERR_NOMEM;
    }
    s->ctx = ctx;
    s->tls = tls;
    s->cfg = cfg;
    s->j = j;
    s->o = o;
    s->fd = -1;
    rc = out_check(s);
    if (!rc)
        rc = out_connect(s);
    if (!rc)
        rc = ctx->ops->attach(ctx, &s->info, &s->dom);
    if (!rc && o->xl) {
        /* A stock receiver: xl's protocol inside a tunnel, its own
         * checks, no job record (nothing there to ask after a crash). */
        rc = xlmig_xl_migrate(ctx, cfg, j, o, &s->c, s->dom, &o->lim,
                              &s->suspended, &s->committed);
    } else if (!rc) {
        ctx->ops->describe(ctx, s->dom, &s->desc);
        rc = out_preflight(ctx, &s->c, j, o, s->dom, &s->info, &s->desc,
                           s->prepare + 16);
        if (!rc && !o->check_only) {
            rc = out_prepare(s);
            if (!rc)
                rc = o->via ? send_via(s) : o->quick ? send_quick(s) :
                                                       send_live(s);
            if (!rc)
                rc = out_commit(s);
        }
    }
    if (rc && rc != XLMIG_ERR_INDOUBT && !s->committed)
        out_rollback(s, rc);

    pthread_mutex_lock(&j->lock);
    j->sock = -1;
    j->prog.total_ns = xlmig_now_ns() - j->prog.started_ns;
    if (rc)
        j->rc = rc;
    pthread_mutex_unlock(&j->lock);
    xlmig_chans_close(s->chans);
    if (s->writer_ok)
        xlmig_writer_dispose(&s->w);
    if (s->conn_ok)
        xlmig_conn_dispose(&s->c);
    else if (s->fd >= 0)
        close(s->fd);
    if (s->dom)
        ctx->ops->detach(ctx, s->dom);
    free(s);
    return rc;
}
