/*
 * xlmig-simdom's internals, shared by its files: workload.c (the vCPU
 * threads and their self-checking writes), dirty.c (log-dirty through
 * userfaultfd write-protection), server.c (the domain process: its
 * control socket and requests) and xlmig-simdom.c (the administrator's
 * commands).
 */
#ifndef XLMIG_SIMDOM_H
#define XLMIG_SIMDOM_H

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/private.h"
#include "backend/host_probe.h"
#include "backend/sim/sim_config.h"
#include "backend/sim/sim_host.h"
#include "backend/sim/sim_ipc.h"
#include "backend/sim/sim_layout.h"
#include "proto/stream.h"
#include "backend/sim/uffd_compat.h"

/* ---- the domain process ---- */

enum ld_mode { LD_OFF, LD_ASYNC, LD_SYNC };

struct vcpu {
    struct dom *d;
    uint32_t id;
    pthread_t thread;
    struct sim_vcpu_state st;
    uint64_t share;             /* data pages this vCPU owns */
    uint64_t epoch_ns;          /* pacing: when the current run began */
    uint64_t epoch_writes;
    uint64_t slice_ns;          /* throttle: when this time slice began */
};

/* Guest write latencies (disk.c): log-linear buckets, 8 per power of
 * two of nanoseconds, so a percentile is known within 12.5%. */
#define LAT_BUCKETS 512
struct lat_hist {
    uint64_t n;
    uint64_t b[LAT_BUCKETS];
};
void lat_add(struct lat_hist *h, uint64_t ns);
/* The @pct-th percentile (0-100), in ns: its bucket's upper bound. */
uint64_t lat_pct(const struct lat_hist *h, double pct);

/* A storage move's mirror of one disk (mirror.c), under its disk's io. */
enum { MIRROR_COPYING = 1, MIRROR_READY, MIRROR_FAILED };
struct smirror {
    int fd;                     /* the new copy; holds its lease */
    char path[SIM_PATH_MAX + 1];
    int state;                  /* MIRROR_* */
    uint64_t size;              /* octets to copy: the image's at start */
    uint64_t pos;               /* the bulk copy has done [0, pos) */
    uint64_t copied;            /* octets it wrote (holes, zeros skipped) */
    uint64_t mirrored;          /* guest writes that went to both */
    uint64_t rate;              /* the bulk copy's cap, octets/s; 0 none */
    uint64_t started_ns;
    char error[SIM_PATH_MAX + 128];     /* why it failed */
    pthread_t thread;           /* the bulk copy */
    bool joined;                /* ... has been joined */
    bool stop;
};

/* One of the guest's disks (disk.c). */
struct sdisk {
    struct dom *d;
    unsigned idx;               /* in cfg.disks and the superblock */
    pthread_mutex_t io;         /* one guest I/O, copy chunk or switch at
                                 * a time; guards fd and m */
    unsigned io_waiting;        /* guest I/O waiting for io (atomic): the
                                 * bulk copy lets it go first */
    struct smirror *m;          /* a storage move's mirror, or NULL */
    uint8_t *dirty;             /* --copy-storage: blocks written since
                                 * the last peek, or NULL (under io) */
    struct lat_hist wlat;       /* guest writes since the last mirror
                                 * started or ended (under io) */
    int fd;                     /* -1 while released; holds the lease */
    uint64_t size;              /* a domain being made: the image's */
    bool zero;                  /* ... and whether it was all zeros */
    bool failed;                /* an I/O error stopped it */
    bool running;               /* its I/O thread exists */
    pthread_t thread;
    uint64_t epoch_ns, epoch_w, epoch_r;        /* pacing */
};

struct dom {
    char dir[256];
    struct sim_config cfg;
    int ramfd;
    uint8_t *ram;
    size_t ram_len;
    struct sim_sb *sb;
    uint64_t *ledger;
    uint64_t data_start;
    uint64_t nr_data;
    struct vcpu *vcpus;
    uint32_t domid;

    pthread_mutex_t lock;
    pthread_cond_t cond;        /* vCPUs wait here when parked or idle */
    pthread_cond_t parked_cond; /* pauser waits here */
    bool pause_req;
    bool quit;
    unsigned parked;
    unsigned nthreads;          /* vCPU and I/O threads that park */
    bool started;               /* restored domains start with no vCPUs */
    char err[300];              /* why the last unpause failed */

    uint32_t throttle_pct;      /* share of CPU time taken away, 0-99 */

    uint64_t clock_base_ns;     /* guest time accumulated while paused */
    uint64_t run_since_ns;      /* 0 while paused */

    /* log-dirty */
    enum ld_mode ld;
    int uffd;
    int pagemap_fd;
    pthread_t ld_thread;
    int ld_stop_pipe[2];
    pthread_mutex_t ld_lock;
    uint8_t *ld_bitmap;         /* sync mode: pages written since peek */

    /* disks (disk.c) */
    struct sdisk disks[SIM_DISKS_MAX];
    bool disks_attached;

    /* network (net.c) */
    int tap[SIM_VIFS_MAX];
    char tap_name[SIM_VIFS_MAX][16];
    int net_pipe[2];
    pthread_t net_thread;
    bool net_started;
};

/* The one domain this process runs (server.c). */
extern struct dom D;

void dom_log(const char *fmt, ...) XLMIG_PRINTF(1, 2);

/* workload.c */
void dom_runlog(struct dom *d, const char *what);
void dom_shares(struct dom *d);
uint64_t rng_next(uint64_t *s);
/* The next of @n pages or blocks to write, by the domain's pattern. */
uint64_t dom_pick(const struct dom *d, uint64_t n, uint64_t *rng,
                  uint64_t *seq);
void vcpu_write(struct vcpu *v, uint64_t idx);
void wait_until(struct dom *d, uint64_t abs_mono_ns);
uint64_t guest_time(struct dom *d);
bool dom_pause(struct dom *d);
int dom_unpause(struct dom *d);

/* dirty.c */
int ld_start(struct dom *d, const char **mode);
void ld_stop(struct dom *d);
int ld_peek_clear(struct dom *d, uint8_t *bm);

/* disk.c */
bool disk_io(const struct dom *d, unsigned i);
/* A domain resumed after a failed migration waits this long for its
 * leases: the destination's copy may still be exiting. */
#define DISK_LEASE_WAIT_MS 3000
int disk_attach(struct dom *d, bool fresh, unsigned wait_ms, char *why,
                size_t whylen);
int disk_release(struct dom *d, char *why, size_t whylen);
uint64_t disk_layout(struct dom *d, uint64_t data_start, char *why,
                     size_t whylen);
int disk_geometry_check(struct dom *d, char *why, size_t whylen);
int disk_start_io(struct dom *d);
void disk_stop_io(struct dom *d);
uint64_t disk_verify(struct dom *d, char *text, size_t len, int *n);
void disk_info(struct dom *d, char *text, size_t len, int *n);

/* mirror.c: a storage move's mirror (docs/storage.md).  Each takes
 * d->lock, then the disk's io; the reason for a refusal in @why. */
int lease_take(int fd, bool write, unsigned wait_ms);
int mirror_start(struct dom *d, unsigned i, const char *path,
                 uint64_t rate, char *why, size_t whylen);
int mirror_status(struct dom *d, unsigned i, char *text, size_t len);
int mirror_pivot(struct dom *d, unsigned i, char *why, size_t whylen);
int mirror_cancel(struct dom *d, unsigned i, char *why, size_t whylen);
/* The domain is going away: every mirror stops (its copy is the
 * toolstack's to delete). */
void mirror_stop_all(struct dom *d);
/* A guest write of @len octets at @off went to the disk: the same to
 * the mirror, if any (io held).  A failed mirror write fails the mirror,
 * never the guest's write. */
void mirror_write(struct sdisk *k, const void *buf, size_t len, off_t off);

/* disk.c: a migration's dirty-block tracking (SIM_MSG_DISK_TRACK_*);
 * peek returns the bitmap's length, or -errno, with *@bm malloc'd. */
int disk_track_start(struct dom *d, unsigned i);
long disk_track_peek(struct dom *d, unsigned i, uint8_t **bm);
void disk_track_stop(struct dom *d, unsigned i);

/* net.c */
struct sim_nic_counters;
int net_open(struct dom *d, char *why, size_t whylen);
int net_start(struct dom *d);
void net_stop(struct dom *d);
void net_counters(struct dom *d, unsigned i, struct sim_nic_counters *out);

/* server.c */
int cmd_run(int argc, char **argv);

#endif
