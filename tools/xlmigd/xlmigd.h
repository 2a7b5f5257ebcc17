/*
 * xlmigd's internals, shared by its files: events.c (JSON events to
 * watchers), jobs.c (the job table, workers' contexts), admission.c
 * (memory and max_incoming, the destination's side of preflight),
 * drain.c (a drained host refuses incoming migrations), xsorch.c
 * (requests and job state through XenStore, xenstore/watcher.h),
 * workers.c (one thread per job), control.c (the control socket's
 * requests), listeners.c (sockets) and xlmigd.c (start-up, the main loop).
 *
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
#ifndef XLMIGD_H
#define XLMIGD_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <yajl/yajl_gen.h>

#include "engine/records.h"
#include "engine/serve.h"
#include "engine/source.h"
#include "engine/storage.h"
#include "xlmigd/conf.h"
#include "xlmigd/ctl.h"
#include "xenstore/watcher.h"


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
    struct xlmig_disk_map dmap[XLMIG_CTL_DISK_MAPS];
    /* a storage move */
    struct xlmig_storage_opts so;
    char so_disk[32];
    char so_path[XLMIG_CTL_VIA_MAX + 1];
    /* incoming */
    int fd;
    /* recover */
    uint32_t recover_job;
    bool is_recover;
    /* the queue of outgoing jobs (queue.c; D.lock) */
    bool queued;                /* waiting for a slot */
    bool started;               /* holds one (or did) */
    unsigned priority;          /* 0..9: higher leaves the queue first */
    uint64_t qseq;              /* the order asked in */
    uint64_t queued_ns;         /* time spent queued */
    /* XenStore (xsorch.c; D.lock) */
    unsigned xs_dirty;          /* 0; 1: progress to write; 2: a phase,
                                 * a result */
    uint64_t xs_last_ns;        /* written then */
    unsigned xs_progress;       /* permille shown: never goes back */
    const char *xs_phase, *xs_result;   /* as last written */
    unsigned xs_position;
    char xs_request[XLMIG_XS_ID_MAX + 1];      /* "" unless asked there */
};

/* Where a request came from and how it was answered: a control socket
 * client (events go to it), or XenStore (the watcher writes the answer). */
struct reply {
    struct client *cl;          /* or NULL */
    const char *xs_request;     /* the XenStore request's id, or NULL */
    uint32_t job;               /* the job it started */
    bool failed;
    char error[512];
};

#define XS_FORGOT_MAX 256

struct xlmigd_state {
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
    /* One request at a time, from the socket or XenStore. */
    pthread_mutex_t req_lock;
    struct xlmig_xs *xs;        /* XenStore orchestration, or NULL */
    xlmig_ctx *xs_ctx;          /* its thread's */
    uint32_t xs_forgot[XS_FORGOT_MAX];  /* jobs pruned: nodes to remove */
    unsigned nxs_forgot;
};
extern struct xlmigd_state D;

extern volatile sig_atomic_t stopping;


/* events.c */
yajl_gen gen_open(const char *event);
void gen_send(yajl_gen g, struct client *cl);
void gen_job(yajl_gen g, const struct djob *dj);
void send_to_watchers(yajl_gen g, struct djob *dj);
void publish(struct xlmig_mjob *m, enum xlmig_job_event ev);
const char *job_dir_name(enum xlmig_job_dir d);
const char *job_result_name(const struct xlmig_mjob *m);

/* jobs.c */
struct djob *job_new(enum xlmig_job_dir dir, const char *domain);
void jobs_prune(void);
struct djob *job_find(uint32_t id);
void subscribe(struct djob *dj, struct client *cl);
void job_finish(struct djob *dj, int rc);
xlmig_ctx *worker_ctx(struct djob *dj, bool open);

/* admission.c */
/* The callbacks of struct xlmig_in_env (engine/dest.h). */
int reserve(void *opaque, struct xlmig_mjob *j, uint64_t bytes,
            uint64_t *free_out, char *why, size_t len);
int admit(void *opaque, struct xlmig_mjob *j, bool claim, char *why,
          size_t len);
uint32_t vcpus_held(void *opaque, const struct xlmig_mjob *j);

/* workers.c */
void *incoming_worker(void *arg);
void *outgoing_worker(void *arg);
void *recover_worker(void *arg);
void *storage_worker(void *arg);
int spawn(struct djob *dj, void *(*fn)(void *));
/* control.c: run @fn for @dj in a worker thread, or fail the job. */
void start(struct djob *dj, void *(*fn)(void *));

/* queue.c */
/* A slot for outgoing @dj now (true), or it is queued (false). */
bool queue_admit(struct djob *dj);
/* Start queued jobs while slots are free (after a job ends). */
void queue_dispatch(void);
/* 1-based place of a queued job in the order they will start; 0 if
 * not queued.  D.lock. */
unsigned queue_position(const struct djob *dj);
unsigned queue_length(void);     /* D.lock */
/* Take @dj out of the queue and end it, cancelled: true if it was
 * queued. */
bool queue_cancel(struct djob *dj);
/* At shutdown: end every queued job. */
void queue_drop_all(void);

/* drain.c */
/* Read the drain mark the last run left (at start-up). */
void drain_load(void);
/* Drain (with @reason) or undrain the host, durably: 0, or XLMIG_ERR_IO
 * with why. */
int drain_set(bool on, const char *reason, char *why, size_t len);
/* Drained?  Since when, and why.  D.lock. */
bool drain_state(uint64_t *since, char *reason, size_t len);
/* Printable and at most XLMIG_CTL_REASON_MAX bytes. */
bool drain_reason_valid(const char *s);
/* The drained callback of struct xlmig_in_env (engine/dest.h). */
bool drained(void *opaque, char *why, size_t len);

/* control.c */
void reply_error(struct client *cl, const char *fmt, ...)
    XLMIG_PRINTF(2, 3);
void handle_request(struct client *cl, const char *line, size_t len);
/* Run a parsed request (D.req_lock taken here); a failure is in rp. */
void dispatch(struct reply *rp, const struct xlmig_ctl_req *r);

/* xsorch.c: XenStore orchestration (docs/specs/xenstore.md) */
/* Start it unless configured off: 0, or -1 when it must run and
 * cannot. */
int xsorch_start(void);
void xsorch_stop(void);
/* Something shown in XenStore changed (a job: @dj; the host: NULL). */
void xsorch_note(struct djob *dj, enum xlmig_job_event ev);

/* listeners.c */
int listen_tcp(void);
int listen_unix(void);
void accept_client(void);
void accept_peer(void);
void client_input(struct client *c);
void clients_reap(void);

#endif
