/*
 * Live pre-copy, generic over a backend's page-level operations: the
 * engine runs the log-dirty rounds, asks the policy after each, logs each
 * round's figures and verdict, and does the stop-and-copy.
 */
#ifndef XLMIG_LIVE_H
#define XLMIG_LIVE_H

#include "engine/policy.h"
#include "core/private.h"
#include "proto/stream.h"

struct xlmig_live_stats {
    uint32_t rounds;            /* pre-copy rounds, the first full pass
                                 * included */
    uint64_t pages_sent;        /* all rounds and the final copy */
    uint64_t bytes_sent;
    uint64_t final_pages;       /* sent while suspended */
    uint64_t disk_blocks;       /* disk blocks sent, all rounds */
    uint64_t final_blocks;      /* ... of them while suspended */
    uint64_t precopy_ns;        /* start to suspend */
    uint64_t stopcopy_ns;       /* suspend to the last state written */
    uint64_t suspended_at_ns;   /* monotonic time of the suspend */
    uint32_t throttle_pct;      /* the highest throttle the guest was under */
    struct xlmig_verdict last;  /* the verdict that ended pre-copy */
};

/*
 * What the caller (a migration job) hears from the engine.  Every member
 * may be NULL.
 */
struct xlmig_live_hooks {
    void *opaque;
    /* After each round's verdict.  Nonzero (an XLMIG_ERR_*, such as
     * CANCELLED) abandons pre-copy: the domain runs on. */
    int (*round)(void *opaque, const struct xlmig_round *r,
                 const struct xlmig_verdict *v);
    /* After each pre-copy round's pages: return once the receiver has
     * loaded everything written so far, so that the round's time and
     * bandwidth are end to end and nothing is in flight when the guest
     * is suspended.  Nonzero abandons pre-copy. */
    int (*sync)(void *opaque);
    /* The guest is about to be suspended for stop-and-copy. */
    void (*suspending)(void *opaque);
};

/* What the generic engine needs from a backend. */
struct xlmig_precopy_ops {
    int (*save_config)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                       struct xlmig_stream_writer *w);
    /* @bm NULL: every page; else the pages whose bit is set. */
    int (*send_pages)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                      struct xlmig_stream_writer *w, const uint8_t *bm);
    int (*send_state)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                      struct xlmig_stream_writer *w);
    int (*logdirty_start)(xlmig_ctx *ctx, struct xlmig_dom *dom);
    /* Pages written since the last call (one bit per pfn); re-arms. */
    int (*logdirty_peek)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                         uint8_t *bm);
    int (*logdirty_stop)(xlmig_ctx *ctx, struct xlmig_dom *dom);
    int (*suspend)(xlmig_ctx *ctx, struct xlmig_dom *dom);
    int (*resume)(xlmig_ctx *ctx, struct xlmig_dom *dom);
    /* Optional: take @pct percent of the guest's CPU time away (0: none,
     * as before the migration). */
    int (*throttle)(xlmig_ctx *ctx, struct xlmig_dom *dom, uint32_t pct);
    /*
     * Optional: disks copied with the domain (migrate --copy-storage,
     * docs/storage.md), in 4 KiB blocks that count as pages do.
     * disks_start announces each disk (DISK_IMAGE) and starts tracking
     * the blocks the guest writes; disks_send writes the blocks due (all
     * the data the first time, then what the last peeks found) and adds
     * how many to *@blocks; disks_peek collects what the guest wrote
     * since the last one, its count in *@dirty; disks_stop ends the
     * tracking.  A backend with no disk to copy does nothing in each.
     */
    int (*disks_start)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                       struct xlmig_stream_writer *w);
    int (*disks_send)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                      struct xlmig_stream_writer *w, bool all,
                      uint64_t *blocks);
    int (*disks_peek)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                      uint64_t *dirty);
    void (*disks_stop)(xlmig_ctx *ctx, struct xlmig_dom *dom);
};

/*
 * Run pre-copy and stop-and-copy for @dom into @w (after the caller wrote
 * the header and DOMAIN_INFO; the caller writes END).  On success the
 * domain is suspended with log-dirty still on (resuming it turns
 * log-dirty off; destroying it needs nothing); on failure (including a
 * policy abort, returned as XLMIG_ERR_TIMEOUT, or a hook's error) it runs
 * as before and log-dirty is off.
 */
int xlmig_precopy(xlmig_ctx *ctx, struct xlmig_dom *dom, uint64_t nr_pages,
                  struct xlmig_stream_writer *w,
                  const struct xlmig_precopy_ops *ops,
                  const struct xlmig_limits *lim,
                  const struct xlmig_live_hooks *hooks,
                  struct xlmig_live_stats *st) XLMIG_MUST_CHECK;

/*
 * One round is over: ask the policy (verdict in st->last, st->rounds
 * set), log the round's figures and the verdict, and tell hooks->round.
 * Returns the hook's error, else 0; the caller acts on the verdict.
 * Both the generic engine and the xen backend's precopy_policy use it.
 */
int xlmig_live_decide(xlmig_ctx *ctx, const struct xlmig_limits *lim,
                      const struct xlmig_round *r,
                      const struct xlmig_live_hooks *hooks,
                      struct xlmig_live_stats *st) XLMIG_MUST_CHECK;

/*
 * Wrap @inner so that no more than @bytes_per_sec pass on average (0: no
 * cap).  @rl must outlive the sink.
 */
struct xlmig_ratelimit {
    struct xlmig_sink inner;
    uint64_t rate;
    uint64_t start_ns;
    uint64_t bytes;
};
void xlmig_sink_ratelimit(struct xlmig_sink *s, struct xlmig_ratelimit *rl,
                          const struct xlmig_sink *inner,
                          uint64_t bytes_per_sec);
/* Count @len more bytes against @rl and sleep until they are due (one
 * thread at a time). */
void xlmig_ratelimit_pace(struct xlmig_ratelimit *rl, size_t len);

#endif
