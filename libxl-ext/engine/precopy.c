/*
 * Live pre-copy (docs/policy.md).  Round 1 sends every page with log-dirty
 * already on; each later round sends what the round before dirtied.  After
 * every round the policy decides; on stop-and-copy the guest is suspended,
 * the pages dirtied since the last round are read from the log and sent,
 * then the vCPU and device state.  Every page written after it was last
 * sent is in a later bitmap, so the final image is exactly the memory at
 * suspend.
 */
#include "engine/precopy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t popcount(const uint8_t *bm, size_t len)
{
    uint64_t n = 0;

    for (size_t i = 0; i < len; i++)
        n += (uint64_t)__builtin_popcount(bm[i]);
    return n;
}

int xlmig_live_decide(xlmig_ctx *ctx, const struct xlmig_limits *lim,
                      const struct xlmig_round *r,
                      const struct xlmig_live_hooks *hooks,
                      struct xlmig_live_stats *st)
{
    int rc;

    xlmig_policy_decide(lim, r, XLMIG_PAGE_SIZE + 8, &st->last);
    st->rounds = r->round;
    LOG_INFO(ctx, "round %u: sent %llu pages, %.1f MiB in %.1f ms "
             "(%.0f MiB/s); %llu dirtied (%.0f MiB/s); -> %s: %s",
             r->round, (unsigned long long)r->pages_sent,
             (double)r->bytes_sent / 1048576.0,
             (double)r->duration_ns / 1e6,
             (double)st->last.bandwidth / 1048576.0,
             (unsigned long long)r->pages_dirtied,
             (double)st->last.dirty_rate / 1048576.0,
             xlmig_decision_name(st->last.decision), st->last.reason);
    if (hooks && hooks->round) {
        rc = hooks->round(hooks->opaque, r, &st->last);
        if (rc) {
            LOG_ERR(ctx, "pre-copy abandoned after round %u: %s", r->round,
                    xlmig_strerror(rc));
            return rc;
        }
    }
    return 0;
}

int xlmig_precopy(xlmig_ctx *ctx, struct xlmig_dom *dom, uint64_t nr_pages,
                  struct xlmig_stream_writer *w,
                  const struct xlmig_precopy_ops *ops,
                  const struct xlmig_limits *lim,
                  const struct xlmig_live_hooks *hooks,
                  struct xlmig_live_stats *st)
{
    size_t bmlen = (nr_pages + 7) / 8;
    uint8_t *bm = calloc(bmlen ? bmlen : 1, 1);
    uint8_t *tail = calloc(bmlen ? bmlen : 1, 1);
    bool logdirty = false, suspended = false, disks = false;
    uint64_t t0 = xlmig_now_ns(), ts;
    uint32_t throttle = 0;
    int rc;

    memset(st, 0, sizeof(*st));
    if (!bm || !tail) {
        free(bm);
        free(tail);
        return XLMIG_ERR_NOMEM;
    }
    rc = ops->save_config(ctx, dom, w);
    if (rc)
        goto out;
    if (ops->disks_start) {
        /* Before any page: a disk's blocks are tracked from here on. */
        rc = ops->disks_start(ctx, dom, w);
        if (rc)
            goto out;
        disks = true;
    }
    rc = ops->logdirty_start(ctx, dom);
    if (rc)
        goto out;
    logdirty = true;
    rc = ops->logdirty_peek(ctx, dom, bm);      /* start from a clean log */
    if (rc)
        goto out;

    for (uint32_t round = 1;; round++) {
        uint64_t r0 = xlmig_now_ns(), off0 = w->offset;
        uint64_t p0 = w->pages_data + w->pages_zero;
        uint64_t blocks = 0, bdirty = 0;
        struct xlmig_round r;

        rc = ops->send_pages(ctx, dom, w, round == 1 ? NULL : bm);
        if (!rc && disks)
            rc = ops->disks_send(ctx, dom, w, round == 1, &blocks);
        if (!rc && hooks && hooks->sync)
            rc = hooks->sync(hooks->opaque);
        if (rc)
            goto out;
        rc = ops->logdirty_peek(ctx, dom, bm);
        if (!rc && disks)
            rc = ops->disks_peek(ctx, dom, &bdirty);
        if (rc)
            goto out;
        st->disk_blocks += blocks;
        memset(&r, 0, sizeof(r));
        r.round = round;
        /* A disk block is 4 KiB, as a page: the policy weighs both. */
        r.pages_sent = w->pages_data + w->pages_zero - p0 + blocks;
        r.bytes_sent = w->offset - off0;
        r.duration_ns = xlmig_now_ns() - r0;
        r.pages_dirtied = popcount(bm, bmlen) + bdirty;
        r.elapsed_ns = xlmig_now_ns() - t0;
        r.throttle_pct = throttle;
        rc = xlmig_live_decide(ctx, lim, &r, hooks, st);
        if (rc)
            goto out;
        if (st->last.decision == XLMIG_DECIDE_STOP)
            break;
        if (st->last.decision == XLMIG_DECIDE_ABORT) {
            LOG_ERR(ctx, "pre-copy abandoned: %s", st->last.reason);
            rc = XLMIG_ERR_TIMEOUT;
            goto out;
        }
        if (st->last.decision == XLMIG_DECIDE_THROTTLE) {
            /* A guest that cannot be slowed goes on as it is: the verdict
             * is then a CONTINUE, and the round limit or the timeout ends
             * the pre-copy. */
            if (ops->throttle &&
                !ops->throttle(ctx, dom, st->last.throttle_pct))
                throttle = st->throttle_pct = st->last.throttle_pct;
        }
    }

    /* Stop-and-copy. */
    ts = xlmig_now_ns();
    st->precopy_ns = ts - t0;
    if (hooks && hooks->suspending)
        hooks->suspending(hooks->opaque);
    /* The guest stops at full speed: a throttled one would take longer
     * to reach its suspend point.  What it writes meanwhile is in the
     * tail read after the suspend. */
    if (throttle && !ops->throttle(ctx, dom, 0))
        throttle = 0;
    rc = ops->suspend(ctx, dom);
    if (rc)
        goto out;
    suspended = true;
    st->suspended_at_ns = ts;
    /* Still to send: what the last round dirtied (in bm) and whatever was
     * written between that peek and the suspend. */
    rc = ops->logdirty_peek(ctx, dom, tail);
    if (!rc && disks) {
        uint64_t bdirty = 0;
        rc = ops->disks_peek(ctx, dom, &bdirty);
    }
    if (rc)
        goto out;
    for (size_t i = 0; i < bmlen; i++)
        bm[i] |= tail[i];
    st->final_pages = popcount(bm, bmlen);
    /* Smaller records while the guest is stopped: the receiver loads
     * one while the next is on the wire, rather than waiting for 4 MiB. */
    w->batch = XLMIG_PAGE_BATCH_MAX / 8;
    rc = ops->send_pages(ctx, dom, w, bm);
    if (!rc && disks) {
        /* The disks' last blocks: the guest's writes all completed when
         * it stopped, and each image was flushed. */
        rc = ops->disks_send(ctx, dom, w, false, &st->final_blocks);
        st->disk_blocks += st->final_blocks;
    }
    if (rc)
        goto out;
    rc = ops->send_state(ctx, dom, w);
    if (rc)
        goto out;
    st->stopcopy_ns = xlmig_now_ns() - ts;
    LOG_INFO(ctx, "stop-and-copy: %llu pages, %llu disk blocks and the "
             "vCPU/device state in %.1f ms (policy predicted %.1f ms)",
             (unsigned long long)st->final_pages,
             (unsigned long long)st->final_blocks,
             (double)st->stopcopy_ns / 1e6,
             (double)st->last.predicted_downtime_ns / 1e6);
    rc = 0;
out:
    /* On success log-dirty stays on: turning it off costs time while the
     * guest is suspended, and the domain is about to be destroyed, or
     * resumed (which turns it off) if the handover fails. */
    if (rc && logdirty && ops->logdirty_stop(ctx, dom))
        LOG_ERR(ctx, "could not switch log-dirty off");
    if (rc && disks)
        ops->disks_stop(ctx, dom);
    /* The guest gets its CPU back whatever happened: a suspended one is
     * about to be destroyed or resumed. */
    if (throttle && ops->throttle(ctx, dom, 0))
        LOG_ERR(ctx, "the domain stays throttled to %u%%", throttle);
    if (rc && suspended && ops->resume(ctx, dom))
        LOG_ERR(ctx, "could not resume the domain after the failure");
    st->pages_sent = w->pages_data + w->pages_zero;
    st->bytes_sent = w->offset;
    free(bm);
    free(tail);
    return rc;
}

void xlmig_ratelimit_pace(struct xlmig_ratelimit *rl, size_t len)
{
    uint64_t due, now;

    if (!rl->rate)
        return;
    if (!rl->start_ns)
        rl->start_ns = xlmig_now_ns();
    rl->bytes += len;
    /* When these bytes are due at the capped rate; sleep until then. */
    due = rl->start_ns + (uint64_t)((double)rl->bytes * 1e9 /
                                    (double)rl->rate);
    now = xlmig_now_ns();
    if (due > now) {
        struct timespec d = { (time_t)((due - now) / 1000000000u),
                              (long)((due - now) % 1000000000u) };
        while (nanosleep(&d, &d) < 0 && errno == EINTR)
            ;
    }
}

static int rl_writev(void *opaque, const struct iovec *iov, int n)
{
    struct xlmig_ratelimit *rl = opaque;
    size_t len = 0;
    int rc;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    rc = rl->inner.writev(rl->inner.opaque, iov, n);
    if (!rc)
        xlmig_ratelimit_pace(rl, len);
    return rc;
}

void xlmig_sink_ratelimit(struct xlmig_sink *s, struct xlmig_ratelimit *rl,
                          const struct xlmig_sink *inner,
                          uint64_t bytes_per_sec)
{
    memset(rl, 0, sizeof(*rl));
    rl->inner = *inner;
    rl->rate = bytes_per_sec;
    s->writev = rl_writev;
    s->drain = NULL;
    s->opaque = rl;
}
