/*
 * XenStore orchestration's watcher (docs/specs/xenstore.md): a thread of
 * xlmigd's own with its own XenStore connection, so a slow xenstored
 * stalls neither the daemon's main loop nor a job.  It
 *
 *   - makes /xlmig dom0's alone (owner dom0, no access for any other
 *     domain) and keeps /xlmig/host up to date;
 *   - watches /xlmig/request, claims each new request in a transaction
 *     (retried on EAGAIN), refuses a malformed one with an error node,
 *     hands a valid one to the daemon and answers in the request;
 *   - writes every job's state under /xlmig/job/<N>/ as the daemon
 *     reports it (phase changes at once, progress at most once a
 *     second), with a "cancel" node while the job can be cancelled:
 *     removing it cancels the job;
 *   - removes a finished job's node when its request is removed, or when
 *     the daemon forgets the job.
 *
 * The daemon gives it callbacks (struct xlmig_xs_ops), called from the
 * watcher's thread, and wakes it when a job changes (xlmig_xs_wake(),
 * safe from any thread).
 */
#ifndef XLMIG_XENSTORE_WATCHER_H
#define XLMIG_XENSTORE_WATCHER_H

#include <stdbool.h>
#include <stdint.h>

#include "libxlmig.h"
#include "xenstore/request.h"

/* What the watcher writes under /xlmig/host/. */
struct xlmig_xs_host {
    char name[XLMIG_NAME_MAX];
    bool drained;
    uint64_t drained_since;
    char drained_reason[XLMIG_CTL_REASON_MAX + 1];
    unsigned max_outgoing, max_incoming, queued;
};

struct xlmig_xs_ops {
    void *opaque;
    /*
     * Run @r, asked by request @id: 0, with the job it started in @job
     * (0 for a command that starts none: cancel, drain, undrain); or an
     * error with what was wrong in @why.
     */
    int (*submit)(void *opaque, const struct xlmig_ctl_req *r,
                  const char *id, uint32_t *job, char *why, size_t len);
    /* Cancel job @job: its cancel node is gone.  0, or why not. */
    int (*cancel)(void *opaque, uint32_t job, char *why, size_t len);
    /*
     * Up to @max jobs whose state changed and is due to be written, into
     * @out (at most one a second while only progress changed); @next_ms:
     * in how many ms the next one is due (UINT32_MAX: none waits).
     */
    size_t (*collect)(void *opaque, struct xlmig_xs_job *out, size_t max,
                      uint32_t *next_ms);
    /* Up to @max jobs the daemon forgot (their nodes may go). */
    size_t (*forgotten)(void *opaque, uint32_t *ids, size_t max);
    void (*host)(void *opaque, struct xlmig_xs_host *h);
};

struct xlmig_xs;

/*
 * Connect to XenStore, set /xlmig up, settle what an earlier run left
 * (jobs and requests it did not finish are marked interrupted) and start
 * the thread.  XLMIG_ERR_UNAVAIL when XenStore cannot be reached (no
 * Xen here), with why.
 */
int xlmig_xs_start(xlmig_ctx *ctx, const struct xlmig_xs_ops *ops,
                   struct xlmig_xs **out, char *why, size_t len)
    XLMIG_MUST_CHECK;
/* Is the thread still at work (its connection did not break)? */
bool xlmig_xs_running(struct xlmig_xs *x);
/* Something changed: a job, the host's state. */
void xlmig_xs_wake(struct xlmig_xs *x);
/* Write what is left, stop the thread, close. */
void xlmig_xs_stop(struct xlmig_xs *x);

#endif
