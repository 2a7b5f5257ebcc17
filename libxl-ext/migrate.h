/*
 * Live migration between hosts: the two ends of the conversation in
 * docs/specs/protocol.md, over a mutually authenticated TLS connection.
 * xlmigd runs each side in a worker thread of its own; this module knows
 * nothing of the daemon beyond the job it is given and the callbacks in
 * struct xlmig_in_env.
 *
 * Durable records (docs/specs/state.md) make the handover survive a
 * daemon restart: the source writes one before it sends COMMIT, the
 * destination one at PREPARE and again, durably, before it acts on
 * COMMIT.
 */
#ifndef XLMIG_MIGRATE_H
#define XLMIG_MIGRATE_H

#include <pthread.h>
#include <stdbool.h>

#include "conf.h"
#include "job.h"
#include "live.h"
#include "preflight.h"
#include "proto.h"
#include "stream.h"
#include "tls.h"

/* ---- framed messages over one TLS connection ---- */

struct xlmig_conn {
    xlmig_ctx *ctx;
    struct xlmig_tls_conn *tls;
    uint16_t version;           /* agreed by HELLO; 1 before */
    char peer[XLMIG_NAME_MAX];  /* the authenticated name */
    struct xlmig_frame f;       /* the frame last received */
    uint8_t *body;              /* its body (XLMIG_PROTO_BODY_MAX + 8) */
    uint64_t bytes_in, bytes_out;
};

int xlmig_conn_init(struct xlmig_conn *c, xlmig_ctx *ctx,
                    struct xlmig_tls_conn *tls, const char *peer)
    XLMIG_MUST_CHECK;
/* Close the TLS connection and free the buffer. */
void xlmig_conn_dispose(struct xlmig_conn *c);
int xlmig_conn_sendv(struct xlmig_conn *c, uint32_t type,
                     const struct iovec *iov, int n) XLMIG_MUST_CHECK;
int xlmig_conn_send(struct xlmig_conn *c, uint32_t type, const void *body,
                    size_t len) XLMIG_MUST_CHECK;
/*
 * Receive the next frame into c->f and c->body, checked against the spec.
 * Unknown optional frames are skipped.  An ABORT is logged with its
 * reason and returned as XLMIG_ERR_PEER.
 */
int xlmig_conn_recv(struct xlmig_conn *c) XLMIG_MUST_CHECK;
/* The same, requiring @type. */
int xlmig_conn_expect(struct xlmig_conn *c, uint32_t type) XLMIG_MUST_CHECK;

/* ---- jobs ---- */

enum xlmig_job_dir {
    XLMIG_JOB_OUT = 0,          /* this host is the source */
    XLMIG_JOB_IN = 1,           /* this host is the destination */
};

enum xlmig_job_event {
    XLMIG_EV_PHASE = 1,
    XLMIG_EV_ROUND = 2,         /* a pre-copy round ended: see last */
    XLMIG_EV_PROGRESS = 3,      /* periodic, while data moves */
    XLMIG_EV_DONE = 4,          /* the worker is finished: see rc */
    XLMIG_EV_PREFLIGHT = 5,     /* the destination's report: see pf */
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
bool xlmig_mjob_cancelled(struct xlmig_mjob *j);
/* Tell j->notify, if set. */
void xlmig_mjob_notify(struct xlmig_mjob *j, enum xlmig_job_event ev);

/* ---- pieces of the conversation, shared with channel.c ---- */

/* Connect to @p within @secs; returns the socket or XLMIG_ERR_*. */
int xlmig_dial(xlmig_ctx *ctx, const struct xlmigd_peer *p, unsigned secs);
/* HELLO both ways (@first: we speak first, as the destination does). */
int xlmig_hello(struct xlmig_conn *c, bool first, const char *host,
                const char *backend) XLMIG_MUST_CHECK;
/*
 * The incoming stream as a byte source: the bodies of STREAM_DATA frames
 * on @c, counted in @j's progress.  The stream ends (a short read) at the
 * first other frame, which stays in c->f with stashed set; ROUND frames
 * update the progress on the way, except on a data @channel.
 */
struct xlmig_in_source {
    struct xlmig_conn *c;
    struct xlmig_mjob *j;
    const uint8_t *p;
    size_t left;
    bool stashed;
    bool channel;
};
void xlmig_source_in(struct xlmig_source *src, struct xlmig_in_source *s,
                     struct xlmig_conn *c, struct xlmig_mjob *j,
                     bool channel);
/* Best effort: tell the peer why the job ends. */
void xlmig_send_abort(struct xlmig_conn *c, uint64_t job, int code,
                      const char *why);

/* ---- the source ---- */

struct xlmig_out_opts {
    const char *domain;
    struct xlmigd_peer dest;
    struct xlmig_limits lim;
    bool quick;                 /* suspend first, then send */
    const char *via;            /* quick through this shared file */
    unsigned channels;
    bool xl;                    /* to a stock xl migrate-receive */
    bool check_only;            /* preflight, then stop */
    bool copy_storage;          /* preflight as if disks would be copied */
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
 * Migrate a domain of this host to @o->dest.  Returns 0 when the
 * destination confirmed it runs the domain (the source copy is gone),
 * XLMIG_ERR_INDOUBT when COMMIT went out and no answer came (the source
 * copy stays suspended and a record in the state directory says so), or
 * another error after rolling back (the domain runs here as before).
 */
int xlmig_migrate_out(xlmig_ctx *ctx, struct xlmig_tls *tls,
                      const struct xlmigd_config *cfg, struct xlmig_mjob *j,
                      const struct xlmig_out_opts *o) XLMIG_MUST_CHECK;

/* ---- the destination ---- */

struct xlmig_in_env {
    const struct xlmigd_config *cfg;
    void *opaque;
    /*
     * Hold @bytes of memory for @j: 0, or XLMIG_ERR_* with the reason in
     * @why.  Called at PREFLIGHT (with @j NULL: check only) and PREPARE.
     */
    int (*reserve)(void *opaque, struct xlmig_mjob *j, uint64_t bytes,
                   char *why, size_t whylen);
    /* A limit on incoming jobs: 0, or XLMIG_ERR_BUSY with the reason.
     * Either callback also describes, in @why, what it counted when it
     * accepts. */
    int (*admit)(void *opaque, struct xlmig_mjob *j, char *why,
                 size_t whylen);
    /* vCPUs of the other incoming migrations that hold a reservation and
     * whose domain is not on this host yet (may be NULL). */
    uint32_t (*vcpus_held)(void *opaque, const struct xlmig_mjob *j);
};

/*
 * Serve one authenticated connection: HELLO, then either a migration
 * into @j (PREFLIGHT ... COMMITTED) or a QUERY about an earlier one.
 */
int xlmig_serve(xlmig_ctx *ctx, struct xlmig_tls_conn *tls, const char *peer,
                const struct xlmig_in_env *env, struct xlmig_mjob *j);

/* ---- durable records and recovery ---- */

/* Job states a destination records, as JOB_STATE reports them. */
int xlmig_state_in_read(const char *dir, const char *peer, uint64_t wire,
                        char *domain, size_t len) XLMIG_MUST_CHECK;

/*
 * Destination, at start-up: finish what a dead daemon left.  Prepared
 * copies are destroyed (their source rolled back or will, on QUERY);
 * committed ones are unpaused.
 */
void xlmig_state_reconcile_in(xlmig_ctx *ctx, const char *dir);

struct xlmig_indoubt {
    uint32_t id;
    uint64_t wire_id;
    char domain[XLMIG_NAME_MAX];
    struct xlmigd_peer dest;
};

/* Source: the jobs in doubt recorded in @dir (malloc'd array). */
int xlmig_state_out_list(xlmig_ctx *ctx, const char *dir,
                         struct xlmig_indoubt **out, unsigned *n)
    XLMIG_MUST_CHECK;

/*
 * Settle a job in doubt by asking its destination: the source copy is
 * destroyed if the domain runs there, resumed if it never will.  Returns
 * 0 when settled (*there is the destination's XLMIG_JOBSTATE_*, *outcome
 * says what was done), XLMIG_ERR_INDOUBT while the
 * destination cannot say yet, another error if it cannot be reached.
 */
int xlmig_recover(xlmig_ctx *ctx, struct xlmig_tls *tls,
                  const struct xlmigd_config *cfg,
                  const struct xlmig_indoubt *d, int *there, char *outcome,
                  size_t len) XLMIG_MUST_CHECK;

/* Timeouts (@secs), keepalive and no Nagle delay on a peer socket. */
void xlmig_sock_setup(int fd, unsigned secs);

/* Job ids: persistent counter in the state directory. */
uint32_t xlmig_state_next_id(const char *dir);

#endif
