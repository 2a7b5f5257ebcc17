/*
 * libxlmig internals shared by the engine's modules.
 *
 * Error convention (the whole library): functions return int rc, 0 or a
 * negative XLMIG_ERR_*; syscall results go in int r; resources start at a
 * sentinel (NULL, -1) and the single out: label releases what is set,
 * without looking at rc.  The detail of a failure is logged where it is
 * found, with what was expected and what was seen.
 */
#ifndef XLMIG_PRIVATE_H
#define XLMIG_PRIVATE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <xentoollog.h>          /* the logger interface only, no library */

#include "libxlmig.h"

#define XLMIG_PAGE_SHIFT 12
#define XLMIG_PAGE_SIZE (1u << XLMIG_PAGE_SHIFT)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define BUILD_BUG_ON(c) _Static_assert(!(c), #c)

struct xlmig_backend_ops;
struct xlmig_dom;
struct xlmig_stream_writer;
struct xlmig_record;
struct xlmig_limits;
struct xlmig_live_stats;
struct xlmig_live_hooks;
struct xlmig_needs;
struct xlmig_offer;

/*
 * The logger libxl and libxc are given (xlmig_ctx_xtl): their messages
 * come back through xlmig_log(), so they carry this context's prefix and
 * level and end where xlmig's own do.
 */
struct xlmig_xtl {
    xentoollog_logger vt;
    struct xlmig_ctx *ctx;
};

struct xlmig_ctx {
    const struct xlmig_backend_ops *ops;
    void *backend_priv;
    bool backend_open;          /* backend_priv is the backend's */
    enum xlmig_log_level level;
    FILE *logf;                 /* without @lg: where lines go */
    xentoollog_logger *lg;      /* the caller's logger, or NULL */
    struct xlmig_xtl xtl;
    char log_prefix[96];        /* "job 3 dom web1: ", set while one runs */
};

/* The logger to hand libxl_ctx_alloc() and xc_interface_open(). */
xentoollog_logger *xlmig_ctx_xtl(xlmig_ctx *ctx);

/*
 * xlmig_ctx_alloc(), with the backend opened now (@open) or on first
 * need by xlmig_ctx_backend_open(), so a connection that never touches a
 * domain (a data channel, a tunnel) never opens one (on Xen a libxl_ctx).
 */
int xlmig_ctx_new(xlmig_ctx **ctx_out, const char *backend,
                  enum xlmig_log_level level, FILE *logf,
                  xentoollog_logger *lg, bool open) XLMIG_MUST_CHECK;
/* Open @ctx's backend if it is not yet: 0 or the backend's error. */
int xlmig_ctx_backend_open(xlmig_ctx *ctx) XLMIG_MUST_CHECK;

void xlmig_log(xlmig_ctx *ctx, enum xlmig_log_level lvl, const char *fmt, ...)
    XLMIG_PRINTF(3, 4);
/* Write a refusal's reason into @why (as snprintf) and return @rc: one
 * line for the parsers of outside input to refuse with. */
int xlmig_why(char *why, size_t len, int rc, const char *fmt, ...)
    XLMIG_PRINTF(4, 5);

#define LOG_ERR(ctx, ...) xlmig_log((ctx), XLMIG_LOG_ERROR, __VA_ARGS__)
#define LOG_WARN(ctx, ...) xlmig_log((ctx), XLMIG_LOG_WARN, __VA_ARGS__)
#define LOG_INFO(ctx, ...) xlmig_log((ctx), XLMIG_LOG_INFO, __VA_ARGS__)
#define LOG_DEBUG(ctx, ...) xlmig_log((ctx), XLMIG_LOG_DEBUG, __VA_ARGS__)

/*
 * The program @name the library runs (a helper, the simulated domain):
 * $@env when set, else @name beside the running program, else @fallback
 * (a path, or a bare name for PATH).
 */
void xlmig_find_program(char *buf, size_t len, const char *env,
                        const char *name, const char *fallback);

/* Monotonic clock in nanoseconds. */
uint64_t xlmig_now_ns(void);

/* Write all of @len bytes, retrying short writes and EINTR; -errno. */
int xlmig_write_all(int fd, const void *buf, size_t len);
/* Read exactly @len bytes: 0, -errno, or 1 on EOF before any byte. */
int xlmig_read_exact(int fd, void *buf, size_t len, size_t *got);
/* Map an errno value to an XLMIG_ERR_* code. */
int xlmig_errno_rc(int err);

/* A domain's identity and restore-time parameters, as in DOMAIN_INFO. */
struct xlmig_domain_desc {
    uint32_t backend_id;        /* XLMIG_STREAM_BACKEND_* */
    uint32_t page_shift;
    uint64_t nr_pages;
    uint32_t nr_vcpus;
    uint8_t uuid[16];
    char name[XLMIG_NAME_MAX];
};

/* Fill @desc for a domain described by @info on backend @backend_id. */
void xlmig_desc_from_info(const struct xlmig_dominfo *info,
                          uint32_t backend_id,
                          struct xlmig_domain_desc *desc);

/*
 * One of a domain's network attachments (docs/network.md), as this host
 * made it: the administrator's configuration (MAC, bridge, addresses),
 * never what a guest wrote into XenStore, and the device dom0 attached.
 */
#define XLMIG_VIFS_MAX 8
#define XLMIG_VIF_IPS 4
struct xlmig_vif {
    char dev[16];               /* dom0's device: vifD.N */
    char bridge[16];            /* the bridge it is on; "" none */
    uint8_t mac[6];
    bool emulated;              /* HVM: an emulated NIC (vifD.N-emu too) */
    bool mac_auto;              /* the MAC was generated, not configured */
    unsigned nip4, nip6;
    uint8_t ip4[XLMIG_VIF_IPS][4];
    uint8_t ip6[XLMIG_VIF_IPS][16];
};

/* A storage move's mirror of one disk, as the backend reports it. */
enum xlmig_mirror_state {
    XLMIG_MIRROR_NONE = 0,      /* no mirror: the disk is on target */
    XLMIG_MIRROR_COPYING,       /* bulk copy running, writes mirrored */
    XLMIG_MIRROR_READY,         /* both images the same: may switch */
    XLMIG_MIRROR_FAILED,        /* see error; the disk is on target */
};
#define XLMIG_MIRROR_PATH_MAX 1023
struct xlmig_mirror_status {
    enum xlmig_mirror_state state;
    uint64_t size;              /* octets to copy */
    uint64_t done;              /* of them the bulk copy has passed */
    uint64_t copied;            /* octets it wrote (holes, zeros skipped) */
    uint64_t mirrored;          /* guest writes sent to both images */
    uint64_t write_p50_ns;      /* guest write latency while mirrored */
    uint64_t write_p99_ns;      /* (0: none yet or not known) */
    char target[XLMIG_MIRROR_PATH_MAX + 1];     /* the image in use */
    char error[512];
};

/* Where a disk copied with the domain goes on the destination. */
struct xlmig_disk_map {
    char vdev[32];
    char path[XLMIG_MIRROR_PATH_MAX + 1];
};

/* The announce schedule (xlmigd.conf; QEMU's announce-self defaults). */
struct xlmig_announce_conf {
    bool enabled;
    unsigned rounds;            /* frames per address */
    unsigned initial_ms;        /* gap after the first */
    unsigned step_ms;           /* each later gap grows by this */
    unsigned max_ms;            /* no gap is longer */
};

/*
 * One backend: everything the engine asks of a hypervisor goes through
 * this table (one file per backend, no backend tests in the engine).
 * Operations a backend cannot do yet return XLMIG_ERR_NOTIMPL after
 * logging which operation it was.
 */
struct xlmig_backend_ops {
    const char *name;
    uint32_t stream_id;         /* XLMIG_STREAM_BACKEND_* */

    int (*open)(xlmig_ctx *ctx, void **priv);
    void (*close)(xlmig_ctx *ctx, void *priv);

    int (*list)(xlmig_ctx *ctx, struct xlmig_dominfo **out, unsigned *n);
    int (*find)(xlmig_ctx *ctx, const char *ident, struct xlmig_dominfo *out);

    /* Take a handle on a running domain; release it with detach. */
    int (*attach)(xlmig_ctx *ctx, const struct xlmig_dominfo *info,
                  struct xlmig_dom **out);
    void (*detach)(xlmig_ctx *ctx, struct xlmig_dom *dom);

    /* Stop the guest at a point where its state can be captured. */
    int (*suspend)(xlmig_ctx *ctx, struct xlmig_dom *dom);
    /* Undo suspend: the guest runs on as if nothing happened. */
    int (*resume)(xlmig_ctx *ctx, struct xlmig_dom *dom);
    int (*unpause)(xlmig_ctx *ctx, struct xlmig_dom *dom);
    int (*destroy)(xlmig_ctx *ctx, struct xlmig_dom *dom);

    /*
     * Write the suspended domain's state records (config, memory, vCPUs,
     * devices) to @w.  The engine writes the header, DOMAIN_INFO and END.
     */
    int (*save)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                struct xlmig_stream_writer *w);
    void (*describe)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                     struct xlmig_domain_desc *desc);
    /*
     * Live: write config and memory while the guest runs, in log-dirty
     * rounds the policy decides on within @lim, then suspend and write the
     * rest and the vCPU and device state.  On return the domain is
     * suspended (success) or running as before (failure).  The engine
     * writes the header, DOMAIN_INFO and END.
     */
    int (*live_save)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                     struct xlmig_stream_writer *w,
                     const struct xlmig_limits *lim,
                     const struct xlmig_live_hooks *hooks,
                     struct xlmig_live_stats *st);

    /*
     * Restore: create a paused, empty domain from the stream's identity
     * and configuration, feed it the state records, then finish (check that
     * all state arrived).  On failure the engine calls destroy.
     */
    int (*restore_create)(xlmig_ctx *ctx,
                          const struct xlmig_domain_desc *desc,
                          uint32_t config_format, const void *config,
                          size_t config_len, struct xlmig_dom **out);
    int (*restore_record)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                          const struct xlmig_record *rec);
    int (*restore_finish)(xlmig_ctx *ctx, struct xlmig_dom *dom);
    int (*info)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                struct xlmig_dominfo *out);
    /* Optional: memory free for new domains, in bytes. */
    int (*host_free)(xlmig_ctx *ctx, uint64_t *bytes);

    /*
     * Preflight (preflight.h), source: what @dom needs of a destination
     * (the engine sets flags and the stream version).  Destination: what
     * this host offers for @n (the engine sets the stream range and the
     * overcommit limit).  A fact that cannot be read is an error.
     */
    int (*needs)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                 struct xlmig_needs *n);
    int (*offer)(xlmig_ctx *ctx, const struct xlmig_needs *n,
                 struct xlmig_offer *o);

    /*
     * The domain's vifs (at most XLMIG_VIFS_MAX, in *@n), each checked
     * attached to its bridge on this host: the destination asks before
     * COMMIT, and a vif that is not attached fails the migration (the
     * reason in @why).  From the domain's configuration only.
     */
    int (*vifs)(xlmig_ctx *ctx, struct xlmig_dom *dom, struct xlmig_vif *v,
                unsigned *n, char *why, size_t whylen);
    /*
     * Optional: open the restored, paused domain's disks and take their
     * leases (docs/storage.md), after the source released them and before
     * the domain may run: the destination asks once COMMIT arrived, and a
     * disk it cannot take fails the migration (the reason in @why).
     */
    int (*attach_disks)(xlmig_ctx *ctx, struct xlmig_dom *dom, char *why,
                        size_t whylen);
    /*
     * Optional: a storage move (engine/storage.c, docs/storage.md).
     * mirror_start copies disk @vdev of the running @dom to the image at
     * @path (made by the engine, the disk's size, empty) at up to @rate
     * octets/s (0: no cap), every guest write going to both images
     * before the guest sees it complete; mirror_status reads where it
     * is (and, with no mirror, which image the disk is on); mirror_pivot
     * switches the domain to the new image once the copy is complete,
     * recording it in the domain's configuration; mirror_cancel stops
     * the mirror and leaves the domain on the old image (no mirror: 0).
     * Refusals and failures name the reason in @why.
     */
    int (*mirror_start)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                        const char *vdev, const char *path, uint64_t rate,
                        char *why, size_t whylen);
    int (*mirror_status)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                         const char *vdev, struct xlmig_mirror_status *st);
    int (*mirror_pivot)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                        const char *vdev, char *why, size_t whylen);
    int (*mirror_cancel)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                         const char *vdev, char *why, size_t whylen);
    /*
     * Optional: copy @dom's writable disks with it in the next live_save
     * (migrate --copy-storage, docs/storage.md), each to its path in @map
     * on the destination (a disk not in @map: the same path there).  The
     * configuration the stream carries names those paths.  Refused, with
     * the reason, for a disk that cannot be copied.
     */
    int (*copy_storage)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                        const struct xlmig_disk_map *map, unsigned n,
                        char *why, size_t whylen);
    /* Optional: have the device model announce its emulated NICs on
     * schedule @a (QEMU's announce-self); how many it asked in *@nics. */
    int (*dm_announce)(xlmig_ctx *ctx, struct xlmig_dom *dom,
                       const struct xlmig_announce_conf *a, unsigned *nics);
    /*
     * Optional: sample how fast @dom dirties its memory, outside any
     * migration (xlmig_dirty_rates): XLMIG_DIRTY_START turns log-dirty
     * on, XLMIG_DIRTY_COUNT puts the pages dirtied since in *@pages and
     * clears them, XLMIG_DIRTY_STOP turns it off.  Refused (nothing
     * changed) when log-dirty is on already: a migration owns it.
     */
    int (*dirty_sample)(xlmig_ctx *ctx, struct xlmig_dom *dom, int what,
                        uint64_t *pages);
};

enum { XLMIG_DIRTY_START = 1, XLMIG_DIRTY_COUNT, XLMIG_DIRTY_STOP };

extern const struct xlmig_backend_ops xlmig_backend_sim;
extern const struct xlmig_backend_ops xlmig_backend_xen;

/*
 * The backends a context can choose from, NULL-terminated: both in the
 * library (core/backends.c); a program that links a table of its own
 * before libxlmig.a (tools/xlmig-simdom/backends.c) links only those
 * backends, and only their libraries.
 */
extern const struct xlmig_backend_ops *const xlmig_backends[];

/*
 * What a backend requires of the records whose meaning is its own (its
 * DOMAIN_CONFIG, VCPU_STATE and DEVICE_STATE bodies), as pure functions
 * of the record and DOMAIN_INFO: the stream reader applies them to every
 * stream, so restore and `xlmig dump-stream` refuse the same streams,
 * and each refusal names the record and its offset.  0, or an XLMIG_ERR_*
 * with the problem in @why.
 */
struct xlmig_record_checks {
    uint32_t stream_id;         /* XLMIG_STREAM_BACKEND_* */
    int (*check)(const struct xlmig_domain_desc *desc,
                 const struct xlmig_record *rec, char *why, size_t len);
};

/* Every backend's checks (core/checks.c), NULL-terminated. */
extern const struct xlmig_record_checks *const xlmig_record_checks[];
extern const struct xlmig_record_checks xlmig_sim_record_checks;
extern const struct xlmig_record_checks xlmig_xen_record_checks;

#endif
