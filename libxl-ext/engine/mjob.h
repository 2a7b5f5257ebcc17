/*
 * The migration job: one domain moving, in either direction.  It wraps
 * the phase state machine (engine/job.h) with what xlmigd shows of a job
 * (progress, the preflight report, the failure reason) and what it can do
 * to one (cancel, before the point of no return).  Every phase change
 * goes through xlmig_mjob_phase(), which checks the transition, logs it
 * and tells the job's watchers.
 */
#ifndef XLMIG_ENGINE_MJOB_H
#define XLMIG_ENGINE_MJOB_H

#include <pthread.h>
#include <stdbool.h>

#include "core/config.h"
#include "engine/announce.h"
#include "engine/job.h"
#include "engine/policy.h"
#include "proto/preflight.h"
#include "proto/message.h"

enum xlmig_job_dir {
    XLMIG_JOB_OUT = 0,          /* this host is the source */
    XLMIG_JOB_IN = 1,           /* this host is the destination */
    XLMIG_JOB_LOCAL = 2,        /* on this host alone: a storage move */
};

enum xlmig_job_event {
    XLMIG_EV_PHASE = 1,
    XLMIG_EV_ROUND = 2,         /* a pre-copy round ended: see last */
    XLMIG_EV_PROGRESS = 3,      /* periodic, while data moves */
    XLMIG_EV_DONE = 4,          /* the worker is finished: see rc */
    XLMIG_EV_PREFLIGHT = 5,     /* the destination's report: see pf */
    XLMIG_EV_WAITING = 6,       /* the destination is busy: tried again
                                 * in retry_ms; see error */
};

struct xlmig_progress {
    uint64_t started_ns;
    uint64_t memory_bytes;      /* the domain's memory */
    uint32_t round;             /* in progress (0 before pre-copy) */
    uint64_t round_bytes;       /* sent in this round so far */
    uint64_t round_target;      /* what this round has to send */
    uint64_t bytes_sent;        /* on the wire, whole job */
    uint64_t bandwidth;         /* bytes/s, recent */
    uint64_t dirty_rate;        /* bytes/s, last round */
    struct xlmig_round last;    /* the last finished round */
    struct xlmig_verdict verdict;       /* and what the policy said */
    uint64_t suspended_ns;      /* source: when suspended (monotonic) */
    uint64_t downtime_ns;       /* suspend to the destination's confirm */
    uint64_t total_ns;
    uint32_t rounds;
    uint32_t throttle_pct;      /* the most the guest was throttled */
    uint64_t disk_bytes;        /* --copy-storage: disk blocks sent */
    bool announced;             /* the announce ran (figures below) */
    struct xlmig_announce_report announce;      /* the destination's */
    struct xlmig_storage_progress {     /* a storage move (mode storage) */
        char disk[32];                  /* its vdev */
        char from[XLMIG_MIRROR_PATH_MAX + 1], to[XLMIG_MIRROR_PATH_MAX + 1];
        uint64_t size;                  /* octets to copy */
        uint64_t done;                  /* of them the copy has passed */
        uint64_t copied;                /* octets written to the new one */
        uint64_t mirrored;              /* guest writes sent to both */
        uint64_t write_p50_ns;          /* their latency, as the guest */
        uint64_t write_p99_ns;          /* ... saw it (0: not known) */
        bool switched;                  /* the domain is on the new one */
        bool kept;                      /* ... and the old one was kept */
    } storage;
};

struct xlmig_mjob {
    struct xlmig_job job;       /* phases; job.id is this host's number */
    enum xlmig_job_dir dir;
    uint64_t wire_id;           /* the source's id for the job */
    char peer[XLMIG_NAME_MAX];
    char mode[16];              /* "live", "quick", "quick-via" */
    uint64_t reserved_bytes;    /* destination: memory held for it */
    uint64_t need_bytes;        /* destination: what preflight counted */
    uint32_t need_vcpus;        /* destination: held with the memory */
    unsigned dead_peer_ms;      /* source: while suspended, the bound on a
                                 * silent link (0: io_timeout only) */
    bool slot;                  /* destination: holds one of max_incoming
                                 * (xlmigd's lock) */

    pthread_mutex_t lock;       /* guards everything below */
    bool cancel;                /* asked to stop before COMMIT */
    bool in_doubt;              /* COMMIT sent, outcome not known */
    bool done;                  /* worker finished */
    int sock;                   /* shut down on cancel; -1 */
    int chan_sock[XLMIG_CHANNELS_MAX];  /* data channels' sockets, or -1;
                                         * shut down on cancel too */
    struct xlmig_progress prog;
    struct xlmig_pf_report *pf; /* the preflight report, once there */
    int rc;
    char error[256];
    unsigned retry_ms;          /* XLMIG_EV_WAITING: the wait before the
                                 * next try */

    /* Called without the lock held. */
    void (*notify)(struct xlmig_mjob *j, enum xlmig_job_event ev);
    void *owner;
};

void xlmig_mjob_init(struct xlmig_mjob *j, xlmig_ctx *ctx, uint32_t id,
                     enum xlmig_job_dir dir, const char *domain);
void xlmig_mjob_dispose(struct xlmig_mjob *j);
/* Record a failure reason for status and events (first one wins). */
void xlmig_mjob_fail(struct xlmig_mjob *j, int rc, const char *fmt, ...)
    XLMIG_PRINTF(3, 4);
/*
 * Ask the job to stop.  Allowed before the point of no return (COMMIT);
 * returns XLMIG_ERR_STATE after it, naming the phase in @why.
 */
int xlmig_mjob_cancel(struct xlmig_mjob *j, char *why, size_t len);
/*
 * Make a job that failed in preflight (nothing moved) new again, to try
 * once more: back to preflight, no error, no report; its figures from
 * the start.  A cancel asked meanwhile stays.
 */
void xlmig_mjob_retry(struct xlmig_mjob *j);
bool xlmig_mjob_cancelled(struct xlmig_mjob *j);
/* Tell j->notify, if set. */
void xlmig_mjob_notify(struct xlmig_mjob *j, enum xlmig_job_event ev);

/* What an outgoing job was asked to do. */
struct xlmig_out_opts {
    const char *domain;
    struct xlmigd_peer dest;
    struct xlmig_limits lim;
    bool quick;                 /* suspend first, then send */
    const char *via;            /* quick through this shared file */
    unsigned channels;
    bool xl;                    /* to a stock xl migrate-receive */
    bool check_only;            /* preflight, then stop */
    bool copy_storage;          /* copy the writable disks with it */
    const struct xlmig_disk_map *disk_map;      /* where they go there */
    unsigned ndisk_map;
};

/* The source's progress, for the job's watchers.  Count @len octets sent
 * (a progress event at most every 250 ms; @pace holds the last sample of
 * the bandwidth); record a finished round and its verdict; note the
 * suspend and enter stop-and-copy. */
struct xlmig_pace {
    uint64_t last_ns, last_bytes;
};
void xlmig_mjob_sent(struct xlmig_mjob *j, struct xlmig_pace *pace,
                     uint64_t len);
void xlmig_mjob_round(struct xlmig_mjob *j, const struct xlmig_round *r,
                      const struct xlmig_verdict *v);
void xlmig_mjob_suspending(struct xlmig_mjob *j);

/* Move @j to phase @to and tell its watchers; an illegal move fails. */
int xlmig_mjob_phase(struct xlmig_mjob *j, enum xlmig_phase to)
    XLMIG_MUST_CHECK;

/*
 * The point of no return: fails with XLMIG_ERR_CANCELLED if a cancel came
 * first; otherwise the job enters handover and cancel is refused from
 * then on.
 */
int xlmig_mjob_handover(struct xlmig_mjob *j) XLMIG_MUST_CHECK;

/* Roll the job back (if its phase still can) and record @rc as its
 * failure. */
void xlmig_mjob_rollback(struct xlmig_mjob *j, int rc);

/*
 * A job in doubt is settled (xlmig recover): the domain runs on the
 * destination (@ran_there: committed) or never will (rolled back, with
 * @outcome as the reason).
 */
void xlmig_mjob_settle(struct xlmig_mjob *j, bool ran_there,
                       const char *outcome);

#endif
