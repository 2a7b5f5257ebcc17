/*
 * The destination side of a migration (docs/specs/protocol.md): the
 * preflight, then PREPARE ... COMMITTED for one domain.
 *
 * The invariant, in code: the destination never unpauses before COMMIT
 * and records COMMIT durably before acting on it; every failure before
 * then destroys the copy here and tells the source to resume.
 */
#include "engine/dest.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/announce.h"
#include "engine/channels.h"
#include "engine/fault.h"
#include "engine/preflight.h"
#include "engine/quick.h"
#include "engine/records.h"
#include "engine/stream_conn.h"
#include "proto/stream.h"

static void result(struct xlmig_conn *c, bool ok, const char *fmt, ...)
    XLMIG_PRINTF(3, 4);
static void result(struct xlmig_conn *c, bool ok, const char *fmt, ...)
{
    uint8_t b[8 + XLMIG_PROTO_TEXT_MAX];
    char text[XLMIG_PROTO_TEXT_MAX + 1];
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    n = xlmig_msg_put_result(b, sizeof(b), ok, text);
    if (xlmig_conn_send(c, XLMIG_MSG_PREFLIGHT_RESULT, b, n))
        LOG_DEBUG(c->ctx, "could not send the preflight result");
}

static int get_desc(xlmig_ctx *ctx, const uint8_t *body,
                    struct xlmig_domain_desc *d)
{
    struct xlmig_record rec;
    char why[160];

    memset(&rec, 0, sizeof(rec));
    rec.type = XLMIG_REC_DOMAIN_INFO;
    rec.length = XLMIG_DOMAIN_INFO_SIZE;
    rec.body = body;
    if (xlmig_rec_get_domain_info(&rec, d, why, sizeof(why))) {
        LOG_ERR(ctx, "domain description: %s", why);
        return XLMIG_ERR_PEER;
    }
    return 0;
}

/* Rows: is a domain with this name, or this UUID, here already? */
static void identity_rows(xlmig_ctx *ctx, const struct xlmig_domain_desc *d,
                          struct xlmig_pf_report *r)
{
    struct xlmig_dominfo *all = NULL;
    char uuid[37], by_name[96] = "", by_uuid[96] = "";
    unsigned n = 0;

    xlmig_uuid_format(d->uuid, uuid);
    if (xlmig_domain_list(ctx, &all, &n)) {
        xlmig_pf_add(r, XLMIG_PF_FAIL, "name", d->name, "?", "cannot list "
                     "the domains of the destination");
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!strcmp(all[i].name, d->name))
            snprintf(by_name, sizeof(by_name), "domid %u", all[i].domid);
        if (!memcmp(all[i].uuid, d->uuid, 16))
            snprintf(by_uuid, sizeof(by_uuid), "domain %s", all[i].name);
    }
    free(all);
    if (by_name[0])
        xlmig_pf_add(r, XLMIG_PF_FAIL, "name", d->name, by_name, "a domain "
                     "named %s already exists on the destination (%s)",
                     d->name, by_name);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "name", d->name, "free", "no "
                     "domain of that name");
    if (by_uuid[0])
        xlmig_pf_add(r, XLMIG_PF_FAIL, "uuid", uuid, by_uuid, "%s on the "
                     "destination already has UUID %s", by_uuid, uuid);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "uuid", uuid, "free", "no domain "
                     "with that UUID");
}

static const char *free_text(char *buf, size_t len, uint64_t bytes)
{
    snprintf(buf, len, "%" PRIu64 " MiB free", bytes >> 20);
    return buf;
}

/*
 * The destination's preflight: every check, one row each, into @r.  The
 * memory counted for the domain (its maximum, or what it has now if that
 * is more) is kept in j->need_bytes.  Unless the source asked for the
 * check only, the job's slot under max_incoming and its memory are taken
 * here, each at once with its check, so that migrations arriving together
 * cannot all pass: a migration past preflight holds both until it ends.
 */
static void preflight(xlmig_ctx *ctx, const struct xlmig_in_env *env,
                      struct xlmig_mjob *j, const struct xlmig_domain_desc *d,
                      uint64_t now_bytes, const struct xlmig_needs *n,
                      struct xlmig_pf_report *r)
{
    const char *src_backend = xlmig_stream_backend_name(d->backend_id);
    struct xlmig_offer *o;
    char why[XLMIG_PF_REASON_MAX + 1], mem[48], avail_s[48];
    uint64_t need = n->memory > now_bytes ? n->memory : now_bytes;
    int rc;

    if (d->backend_id != ctx->ops->stream_id) {
        xlmig_pf_add(r, XLMIG_PF_FAIL, "backend", src_backend,
                     ctx->ops->name, "the domain is a %s domain; this host "
                     "runs the %s backend", src_backend, ctx->ops->name);
        return;         /* nothing else compares across backends */
    }
    xlmig_pf_add(r, XLMIG_PF_PASS, "backend", src_backend, ctx->ops->name,
                 "same backend");
    bool claim = !(n->flags & XLMIG_PF_CHECK_ONLY);
    uint64_t avail = 0;

    why[0] = '\0';
    if (env->drained && env->drained(env->opaque, why, sizeof(why)))
        xlmig_pf_add(r, XLMIG_PF_FAIL, "drained", "", "drained", "%s", why);
    why[0] = '\0';
    if (env->admit &&
        (rc = env->admit(env->opaque, j, claim, why, sizeof(why))))
        xlmig_pf_add(r, XLMIG_PF_FAIL, "incoming", "", "busy", "%s", why);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "incoming", "", "admitted", "%s",
                     why[0] ? why : "within max_incoming");
    identity_rows(ctx, d, r);

    j->need_bytes = need;
    j->need_vcpus = n->vcpus;
    snprintf(mem, sizeof(mem), "%" PRIu64 " MiB", need >> 20);
    why[0] = '\0';
    if (env->reserve &&
        (rc = env->reserve(env->opaque, claim ? j : NULL, need, &avail, why,
                           sizeof(why))))
        xlmig_pf_add(r, XLMIG_PF_FAIL, "memory", mem,
                     free_text(avail_s, sizeof(avail_s), avail), "%s", why);
    else if (env->reserve)
        xlmig_pf_add(r, XLMIG_PF_PASS, "memory", mem,
                     free_text(avail_s, sizeof(avail_s), avail), "%s", why);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "memory", mem, "enough",
                     "not counted here");

    o = calloc(1, sizeof(*o));
    if (!o || ctx->ops->offer(ctx, n, o)) {
        xlmig_pf_add(r, XLMIG_PF_FAIL, "host", "", "?", "the destination "
                     "cannot read its own resources (see its log)");
        free(o);
        return;
    }
    o->stream_min = 1;
    o->stream_max = XLMIG_STREAM_VERSION;
    o->overcommit = env->cfg->vcpu_overcommit_pct / 100.0;
    if (env->vcpus_held)
        o->vcpus_held = env->vcpus_held(env->opaque, j);
    xlmig_pf_eval(n, o, r);
    free(o);
}

/*
 * Answer PREFLIGHT (in c->body): the report, then the verdict.  0 when
 * every check passed; XLMIG_ERR_REFUSED (the job failed with the reasons)
 * otherwise.
 */
static int in_preflight(xlmig_ctx *ctx, struct xlmig_conn *c,
                        const struct xlmig_in_env *env, struct xlmig_mjob *j,
                        const struct xlmig_domain_desc *d, uint64_t need,
                        uint32_t flags)
{
    struct xlmig_needs *n = calloc(1, sizeof(*n));
    struct xlmig_pf_report *r = malloc(sizeof(*r));
    uint8_t *b = malloc(XLMIG_MSG_REPORT_MAX);
    char why[XLMIG_PROTO_TEXT_MAX];
    long len;
    int rc;

    if (!n || !r || !b) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    rc = xlmig_needs_decode(c->body + XLMIG_MSG_PREFLIGHT_SIZE,
                            c->f.length - XLMIG_MSG_PREFLIGHT_SIZE, n, why,
                            sizeof(why));
    if (rc) {
        LOG_ERR(ctx, "%s's PREFLIGHT for %s: %s", c->peer, d->name, why);
        xlmig_send_abort(c, 0, XLMIG_ERR_PEER, why);
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    n->flags = flags;
    xlmig_pf_report_init(r);
    preflight(ctx, env, j, d, need, n, r);
    len = xlmig_pf_report_encode(r, b, XLMIG_MSG_REPORT_MAX);
    if (len < 0) {
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    rc = xlmig_conn_send(c, XLMIG_MSG_PREFLIGHT_REPORT, b, (size_t)len);
    if (rc)
        goto out;
    if (r->failed) {
        xlmig_pf_failures(r, why, sizeof(why));
        result(c, false, "%s", why);
        LOG_WARN(ctx, "refused %s from %s: %s", d->name, c->peer, why);
        xlmig_mjob_fail(j, XLMIG_ERR_REFUSED, "refused: %s", why);
        rc = XLMIG_ERR_REFUSED;
    } else {
        result(c, true, "%s can run %s: %u checks passed, %u with a "
               "warning", env->cfg->host_name, d->name, r->n - r->warned,
               r->warned);
        LOG_INFO(ctx, "preflight%s for %s from %s: %u checks passed",
                 flags & XLMIG_PF_CHECK_ONLY ? " (only)" : "", d->name,
                 c->peer, r->n);
    }
    pthread_mutex_lock(&j->lock);
    free(j->pf);
    j->pf = r;
    pthread_mutex_unlock(&j->lock);
    r = NULL;
out:
    free(n);
    free(r);
    free(b);
    return rc;
}

/* The domid of the instance a restore made (0: none, or unknown). */
static uint32_t instance(xlmig_ctx *ctx, struct xlmig_dom *dom)
{
    struct xlmig_dominfo info;

    if (!dom || ctx->ops->info(ctx, dom, &info))
        return 0;
    return info.domid;
}

/* The domain's vifs, each attached here (the backend attached them as
 * it made the domain); the first that is not, in @why. */
static int net_check(xlmig_ctx *ctx, struct xlmig_dom *dom, const char *name,
                     struct xlmig_vif *v, unsigned *n, char *why,
                     size_t whylen)
{
    int rc;

    *n = 0;
    if (!ctx->ops->vifs)
        return 0;
    rc = ctx->ops->vifs(ctx, dom, v, n, why, whylen);
    if (rc) {
        LOG_ERR(ctx, "%s: %s: rolling back", name, why);
        return rc;
    }
    for (unsigned i = 0; i < *n; i++) {
        char m[18];
        xlmig_mac_format(v[i].mac, m);
        LOG_INFO(ctx, "%s: vif %u %s (%s) attached%s%s", name, i, v[i].dev,
                 m, v[i].bridge[0] ? " to " : "", v[i].bridge);
    }
    return 0;
}

/* Once the last round is out: the figures into the job, and to a source
 * that said it waits for them (after its DONE, so never before it has
 * forgotten the job). */
static void report_announce(struct xlmig_conn *c, struct xlmig_mjob *j,
                            struct xlmig_announce *an, unsigned dm_nics,
                            bool done)
{
    struct xlmig_announce_report r;
    struct xlmig_msg_announced m;
    uint8_t b[XLMIG_MSG_ANNOUNCED_SIZE];

    xlmig_announce_finish(an, &r);
    r.dm_nics = dm_nics;
    pthread_mutex_lock(&j->lock);
    j->prog.announce = r;
    j->prog.announced = an != NULL || dm_nics;
    pthread_mutex_unlock(&j->lock);
    if (!done || !(c->peer_caps & XLMIG_CAP_ANNOUNCE))
        return;
    memset(&m, 0, sizeof(m));
    m.job_id = j->wire_id;
    m.vifs = r.vifs;
    m.frames = r.frames;
    m.rarp = r.rarp;
    m.garp = r.garp;
    m.na = r.na;
    m.dm_nics = r.dm_nics;
    m.errors = r.errors;
    m.first_ns = r.first_ns;
    m.last_ns = r.last_ns;
    xlmig_msg_put_announced(b, &m);
    if (xlmig_conn_send(c, XLMIG_MSG_ANNOUNCED, b, sizeof(b)))
        LOG_DEBUG(c->ctx, "ANNOUNCED did not reach %s", c->peer);
}

int xlmig_dest_job(xlmig_ctx *ctx, struct xlmig_conn *c,
                   const struct xlmig_in_env *env, struct xlmig_mjob *j)
{
    const struct xlmigd_config *cfg = env->cfg;
    const char *peer = c->peer;
    struct xlmig_domain_desc d, d2;
    struct xlmig_stream_reader rd;
    struct xlmig_source src;
    struct xlmig_in_source is;
    struct xlmig_dom *dom = NULL;
    struct xlmig_restore_opts ro = { 1, NULL };
    struct xlmig_chans_in *chans = NULL;
    char why[XLMIG_PROTO_TEXT_MAX];
    uint8_t b[16];
    bool reader_ok = false, prepared = false, committed = false;
    bool aborted = false, sent = false, done = false;
    struct xlmig_vif vifs[XLMIG_VIFS_MAX];
    unsigned nvifs = 0, dm_nics = 0;
    struct xlmig_announce_conf ann;
    struct xlmig_announce *an = NULL;
    uint64_t need;
    uint32_t flags, domid = 0;
    int rc;

    memset(&d, 0, sizeof(d));
    xlmig_announce_conf_of(cfg, &ann);
    rc = get_desc(ctx, c->body, &d);
    if (rc)
        goto out;
    need = xlmig_get_u64(c->body + XLMIG_DOMAIN_INFO_SIZE);
    flags = xlmig_get_u32(c->body + XLMIG_DOMAIN_INFO_SIZE + 8);
    pthread_mutex_lock(&j->lock);
    snprintf(j->job.domain, sizeof(j->job.domain), "%s", d.name);
    j->prog.memory_bytes = d.nr_pages << XLMIG_PAGE_SHIFT;
    pthread_mutex_unlock(&j->lock);
    rc = in_preflight(ctx, c, env, j, &d, need, flags);
    if (rc || (flags & XLMIG_PF_CHECK_ONLY))
        goto out;
    rc = xlmig_mjob_phase(j, XLMIG_PHASE_PREPARE);
    if (rc)
        goto out;

    rc = xlmig_conn_expect(c, XLMIG_MSG_PREPARE);
    if (rc)
        goto out;
    j->wire_id = xlmig_get_u64(c->body);
    rc = get_desc(ctx, c->body + 16, &d2);
    if (rc)
        goto out;
    if (memcmp(&d, &d2, sizeof(d))) {
        snprintf(why, sizeof(why), "PREPARE describes another domain than "
                 "PREFLIGHT");
        xlmig_send_abort(c, j->wire_id, XLMIG_ERR_PEER, why);
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    if (xlmig_get_u32(c->body + 8) > 1) {
        rc = xlmig_chans_in_open(ctx, j, peer, j->wire_id,
                                 xlmig_get_u32(c->body + 8), cfg->io_timeout_s,
                                 xlmig_tls_fd(c->tls), &rd, &chans);
        if (rc) {
            xlmig_send_abort(c, j->wire_id, rc, "cannot take data "
                             "channels");
            goto out;
        }
    }
    if (env->reserve &&
        (rc = env->reserve(env->opaque, j, j->need_bytes, NULL, why,
                           sizeof(why)))) {
        xlmig_send_abort(c, j->wire_id, rc, why);
        xlmig_mjob_fail(j, rc, "%s", why);
        goto out;
    }
    rc = xlmig_state_in_record(ctx, cfg, peer, j, XLMIG_JOBSTATE_PREPARED,
                               d.uuid, 0);
    if (rc) {
        xlmig_send_abort(c, j->wire_id, rc, "the destination cannot record "
                   "the job");
        goto out;
    }
    prepared = true;
    xlmig_put_u64(b, j->wire_id);
    rc = xlmig_conn_send(c, XLMIG_MSG_READY, b, 8);
    if (rc)
        goto out;

    /* The stream, or a file on shared storage; the domain stays paused. */
    xlmig_source_in(&src, &is, c, j, false);
    rc = xlmig_conn_recv(c);
    if (rc)
        goto out;
    if (c->f.type == XLMIG_MSG_RESTORE_FILE) {
        struct xlmig_msg_text m;
        xlmig_msg_get_text(c->f.type, c->body, c->f.length, &m);
        snprintf(j->mode, sizeof(j->mode), "quick-via");
        rc = xlmig_mjob_phase(j, XLMIG_PHASE_STOPCOPY);
        if (rc)
            goto out;
        LOG_INFO(ctx, "restoring %s from %s", d.name, m.text);
        rc = xlmig_reader_open_file(&rd, ctx, m.text);
        reader_ok = true;
        if (!rc)
            rc = xlmig_restore_stream(ctx, &rd, m.text, &ro, &dom, NULL);
        if (rc)
            goto out;
        if (memcmp(&rd.desc, &d, sizeof(d))) {
            LOG_ERR(ctx, "%s holds another domain than the one prepared",
                    m.text);
            rc = XLMIG_ERR_PEER;
            goto out;
        }
        rc = xlmig_conn_recv(c);
        if (rc)
            goto out;
        is.stashed = true;
    } else if (c->f.type == XLMIG_MSG_STREAM_DATA) {
        is.p = c->body;
        is.left = c->f.length;
        rc = xlmig_mjob_phase(j, XLMIG_PHASE_PRECOPY);
        if (rc)
            goto out;
        rc = xlmig_reader_init(&rd, ctx, &src);
        reader_ok = true;
        if (chans)
            rd.hooks = xlmig_chans_in_hooks(chans);
        if (!rc)
            rc = xlmig_read_header(&rd);
        if (!rc)
            rc = xlmig_restore_stream(ctx, &rd, "the incoming stream", &ro,
                                      &dom, NULL);
        if (rc)
            goto out;
        if (memcmp(&rd.desc, &d, sizeof(d))) {
            LOG_ERR(ctx, "the stream holds another domain than the one "
                    "prepared");
            rc = XLMIG_ERR_PEER;
            goto out;
        }
    } else {
        LOG_ERR(ctx, "%s sent %s where STREAM_DATA or RESTORE_FILE was "
                "due", peer, xlmig_msg_name(c->f.type));
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    /* The stream ended at a frame that is not data: it must be COMMIT. */
    if (!is.stashed || c->f.type != XLMIG_MSG_COMMIT) {
        LOG_ERR(ctx, "%s sent %s after the stream; COMMIT was due", peer,
                xlmig_msg_name(c->f.type));
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    if (xlmig_msg_get_u64(c->body) != j->wire_id) {
        LOG_ERR(ctx, "COMMIT for another job");
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    if (j->job.phase == XLMIG_PHASE_PRECOPY &&
        (rc = xlmig_mjob_phase(j, XLMIG_PHASE_STOPCOPY)))
        goto out;
    /* Its network attachments exist here, each on its bridge (the
     * backend attached them as it made the domain): before COMMIT, so a
     * vif that cannot be attached costs a roll-back, not an outage. */
    if ((rc = net_check(ctx, dom, d.name, vifs, &nvifs, why, sizeof(why)))) {
        xlmig_send_abort(c, j->wire_id, rc, why);
        aborted = true;
        goto out;
    }
    /* Its disks, last: the source flushed them and gave their leases
     * back as it suspended, so they are free now unless something else
     * holds them, and then the domain must not run here. */
    if (ctx->ops->attach_disks &&
        (rc = ctx->ops->attach_disks(ctx, dom, why, sizeof(why)))) {
        LOG_ERR(ctx, "cannot attach the disks of %s: %s", d.name, why);
        xlmig_send_abort(c, j->wire_id, rc, why);
        aborted = true;
        goto out;
    }
    rc = xlmig_mjob_phase(j, XLMIG_PHASE_HANDOVER);
    if (rc)
        goto out;

    /* COMMIT: durable first, then run. */
    XLMIG_FAULT(commit_received, ctx);
    domid = instance(ctx, dom);
    rc = xlmig_state_in_record(ctx, cfg, peer, j, XLMIG_JOBSTATE_RUNNING,
                               d.uuid, domid);
    if (rc) {
        xlmig_send_abort(c, j->wire_id, rc, "cannot record the COMMIT");
        aborted = true;
        goto out;
    }
    committed = true;
    XLMIG_FAULT(commit_recorded, ctx);
    rc = ctx->ops->unpause(ctx, dom);
    if (rc) {
        /* We have not confirmed: tell the source to resume, durably. */
        LOG_ERR(ctx, "cannot start %s after COMMIT: rolling back", d.name);
        if (xlmig_state_in_record(ctx, cfg, peer, j,
                                  XLMIG_JOBSTATE_ROLLEDBACK, d.uuid,
                                  domid) == 0) {
            committed = false;
            xlmig_send_abort(c, j->wire_id, rc, "the destination could not "
                       "start the domain");
            aborted = true;
        }
        goto out;
    }
    /* It runs: tell the network where it is now (the first round goes
     * before the confirmation, the rest on their schedule). */
    an = xlmig_announce_start(ctx, d.name, vifs, nvifs, &ann, xlmig_now_ns());
    xlmig_put_u64(b, j->wire_id);
    sent = xlmig_conn_send(c, XLMIG_MSG_COMMITTED, b, 8) == 0;
    if (!sent)
        LOG_WARN(ctx, "%s runs here, but the confirmation did not reach "
                 "%s; its job is in doubt until it asks", d.name, peer);
    rc = xlmig_mjob_phase(j, XLMIG_PHASE_COMMITTED);
    LOG_INFO(ctx, "%s from %s runs here", d.name, peer);
    if (ann.enabled && ctx->ops->dm_announce && nvifs &&
        ctx->ops->dm_announce(ctx, dom, &ann, &dm_nics))
        LOG_WARN(ctx, "%s: the device model did not announce its NICs",
                 d.name);
    /* A source that says it sends DONE does so once its own record is
     * gone: then it will never ask, and this record can go too.  Without
     * DONE (an older source, a lost link) the record stays, to answer. */
    if (sent && (c->peer_caps & XLMIG_CAP_DONE)) {
        if (!xlmig_conn_recv(c) && c->f.type == XLMIG_MSG_DONE &&
            xlmig_msg_get_u64(c->body) == j->wire_id) {
            xlmig_state_in_retire(ctx, cfg, peer, j->wire_id);
            LOG_DEBUG(ctx, "job %016" PRIx64 " done on %s: record retired",
                      j->wire_id, peer);
            done = true;
        } else {
            LOG_INFO(ctx, "no DONE from %s: the record of %s stays, to "
                     "answer if it asks", peer, d.name);
        }
    }

    /* The announce's figures, to the source that waits for them. */
    report_announce(c, j, an, dm_nics, done);
    an = NULL;

out:
    if (an) {
        struct xlmig_announce_report r;
        xlmig_announce_finish(an, &r);
    }
    /* No data channel touches the domain after this. */
    xlmig_chans_in_close(chans);
    if (rc && !committed) {
        if (dom) {
            LOG_INFO(ctx, "destroying the incomplete copy of %s", d.name);
            if (ctx->ops->destroy(ctx, dom))
                LOG_ERR(ctx, "could not destroy the copy of %s", d.name);
        }
        if (prepared &&
            xlmig_state_in_record(ctx, cfg, peer, j,
                                  XLMIG_JOBSTATE_ROLLEDBACK, d.uuid,
                                  instance(ctx, dom)))
            LOG_ERR(ctx, "cannot record the roll-back");
        /* Recorded first, so that a QUERY gives the same answer: the
         * copy here is gone, the source may resume.  (Best effort: the
         * connection may be what failed.) */
        if (prepared && !aborted) {
            char t[160];
            snprintf(t, sizeof(t), "the destination rolled back: %s (see "
                     "its log)", xlmig_strerror(rc));
            xlmig_send_abort(c, j->wire_id, rc, t);
        }
        xlmig_mjob_rollback(j, rc);
    }
    if (dom)
        ctx->ops->detach(ctx, dom);
    if (reader_ok)
        xlmig_reader_dispose(&rd);
    return rc;
}
