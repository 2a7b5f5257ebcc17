/*
 * The xen backend: real domains through libxl, libxenctrl, libxenguest and
 * libxenstore.
 *
 * Saving: the domain's libxl configuration goes as DOMAIN_CONFIG (libxl
 * JSON), then Xen's own migration stream, libxl stream v2 around the
 * libxc stream (docs/specs/xen-stream.md), in XEN_STREAM records.  The
 * libxl envelope is written here; the libxc stream comes from
 * xc_domain_save(), which runs in the job's thread and writes into a pipe
 * that a pump thread empties into the xlmig stream.  Its precopy_policy
 * callback parks the pump at the end of each log-dirty round, has the
 * destination confirm what it holds (SYNC), and asks xlmig's policy:
 * the same function, limits and logs as the sim backend.  Its suspend
 * callback suspends the way libxl does (libxl_domain_suspend_only: guest
 * cooperation for PV and PVH, the device model's state saved through QMP
 * for HVM); a failure after it resumes the domain cooperatively
 * (libxl_domain_resume).
 *
 * Restoring: libxl_domain_create_restore() from the JSON configuration,
 * reading Xen's stream from a pipe that XEN_STREAM records fill.  libxl
 * leaves the new domain paused; the engine unpauses it at COMMIT.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxl.h>
#include <libxl_utils.h>
#include <xenctrl.h>
#include <xenguest.h>
#include <xenstore.h>
#include <xentoollog.h>

#include "live.h"
#include "preflight.h"
#include "qmp.h"
#include "stream.h"
#include "xen_cpu.h"
#include "xen_stream.h"

#define QEMU_SAVE_FILE "/var/lib/xen/qemu-save.%u"
#define QMP_TIMEOUT_MS 10000

struct xen_priv {
    xentoollog_logger_stdiostream *logger;
    libxl_ctx *lctx;
};

struct xlmig_dom {
    struct xlmig_dominfo info;
    libxl_domain_type type;
    /* a handle from restore_create (destination) */
    bool restore;
    bool restoring;             /* libxl is still reading the stream */
    int wfd;                    /* Xen's stream goes in here */
    int rfd;                    /* libxl reads it from here */
    pthread_t restorer;
    int restore_rc;             /* libxl's */
    uint32_t new_domid;
    libxl_domain_config cfg;
    bool cfg_init;
    bool claim_tried;           /* restore: memory claimed (or tried) */
    uint32_t claim_domid;       /* the domain holding the claim, or 0 */
};

static const libxl_childproc_hooks child_hooks = {
    /* libxl reaps only the children it started (the save helper, the
     * device model), whatever else the daemon runs. */
    .chldowner = libxl_sigchld_owner_libxl_always_selective_reap,
};

static int xen_open(xlmig_ctx *ctx, void **priv)
{
    struct xen_priv *x = calloc(1, sizeof(*x));

    if (!x)
        return XLMIG_ERR_NOMEM;
    x->logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
    if (!x->logger ||
        libxl_ctx_alloc(&x->lctx, LIBXL_VERSION, 0,
                        (xentoollog_logger *)x->logger)) {
        LOG_ERR(ctx, "cannot open libxl: is this a Xen dom0 with the "
                "toolstack running (xenstored, /proc/xen)?");
        if (x->logger)
            xtl_logger_destroy((xentoollog_logger *)x->logger);
        free(x);
        return XLMIG_ERR_UNAVAIL;
    }
    libxl_childproc_setmode(x->lctx, &child_hooks, NULL);
    *priv = x;
    return 0;
}

static void xen_close(xlmig_ctx *ctx, void *priv)
{
    struct xen_priv *x = priv;

    (void)ctx;
    if (!x)
        return;
    libxl_ctx_free(x->lctx);
    xtl_logger_destroy((xentoollog_logger *)x->logger);
    free(x);
}

static void to_info(struct xen_priv *x, const libxl_dominfo *di,
                    struct xlmig_dominfo *out)
{
    char *name = libxl_domid_to_name(x->lctx, di->domid);

    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
    free(name);
    memcpy(out->uuid, libxl_uuid_bytearray_const(&di->uuid), 16);
    out->domid = di->domid;
    out->nr_vcpus = di->vcpu_online;
    out->nr_pages = di->max_memkb / 4;
    out->page_shift = XLMIG_PAGE_SHIFT;
    out->state = di->dying ? XLMIG_DOM_DYING :
                 di->shutdown ? XLMIG_DOM_SUSPENDED :
                 di->paused ? XLMIG_DOM_PAUSED : XLMIG_DOM_RUNNING;
}

static int xen_list(xlmig_ctx *ctx, struct xlmig_dominfo **out, unsigned *n)
{
    struct xen_priv *x = ctx->backend_priv;
    libxl_dominfo *di;
    int nb = 0;

    di = libxl_list_domain(x->lctx, &nb);
    if (!di) {
        LOG_ERR(ctx, "libxl_list_domain failed");
        return XLMIG_ERR_BACKEND;
    }
    *out = calloc(nb ? (size_t)nb : 1, sizeof(**out));
    if (!*out) {
        libxl_dominfo_list_free(di, nb);
        return XLMIG_ERR_NOMEM;
    }
    for (int i = 0; i < nb; i++)
        to_info(x, &di[i], &(*out)[i]);
    *n = (unsigned)nb;
    libxl_dominfo_list_free(di, nb);
    return 0;
}

static int lookup(xlmig_ctx *ctx, const char *ident, libxl_dominfo *di)
{
    struct xen_priv *x = ctx->backend_priv;
    uint32_t domid;
    char *end;
    int rc;

    errno = 0;
    domid = (uint32_t)strtoul(ident, &end, 10);
    if (errno || *end || end == ident) {
        if (libxl_name_to_domid(x->lctx, ident, &domid))
            return XLMIG_ERR_NOTFOUND;
    }
    rc = libxl_domain_info(x->lctx, di, domid);
    if (rc)
        return rc == ERROR_DOMAIN_NOTFOUND ? XLMIG_ERR_NOTFOUND :
                                             XLMIG_ERR_BACKEND;
    return 0;
}

static int xen_find(xlmig_ctx *ctx, const char *ident,
                    struct xlmig_dominfo *out)
{
    libxl_dominfo di;
    int rc;

    libxl_dominfo_init(&di);
    rc = lookup(ctx, ident, &di);
    if (!rc)
        to_info(ctx->backend_priv, &di, out);
    libxl_dominfo_dispose(&di);
    return rc;
}

static int xen_attach(xlmig_ctx *ctx, const struct xlmig_dominfo *info,
                      struct xlmig_dom **out)
{
    struct xlmig_dom *d = calloc(1, sizeof(*d));
    libxl_dominfo di;
    char id[16];
    int rc;

    if (!d)
        return XLMIG_ERR_NOMEM;
    d->info = *info;
    d->wfd = d->rfd = -1;
    snprintf(id, sizeof(id), "%" PRIu32, info->domid);
    libxl_dominfo_init(&di);
    rc = lookup(ctx, id, &di);
    d->type = di.domain_type;
    libxl_dominfo_dispose(&di);
    if (rc) {
        free(d);
        return rc;
    }
    if (d->type == LIBXL_DOMAIN_TYPE_HVM) {
        /* Xen's domain info calls PVH guests HVM; only the libxl
         * configuration tells them apart, and only HVM has a device
         * model to save and to switch to log-dirty. */
        struct xen_priv *x = ctx->backend_priv;
        libxl_domain_config cfg;

        libxl_domain_config_init(&cfg);
        if (!libxl_retrieve_domain_configuration(x->lctx, info->domid, &cfg,
                                                 NULL))
            d->type = cfg.c_info.type;
        else
            LOG_WARN(ctx, "cannot read domain %u's configuration: taken "
                     "as HVM", info->domid);
        libxl_domain_config_dispose(&cfg);
    }
    *out = d;
    return 0;
}

/* Wait for the restore thread; its libxl result. */
static int restore_join(struct xlmig_dom *d)
{
    if (!d->restoring)
        return d->restore_rc;
    if (d->wfd >= 0) {
        close(d->wfd);          /* libxl sees the end of its stream */
        d->wfd = -1;
    }
    pthread_join(d->restorer, NULL);
    d->restoring = false;
    close(d->rfd);
    d->rfd = -1;
    return d->restore_rc;
}

static void xen_detach(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    (void)ctx;
    if (!d)
        return;
    restore_join(d);
    if (d->cfg_init)
        libxl_domain_config_dispose(&d->cfg);
    free(d);
}

/* Is the domain shut down for suspend (by us or before)? */
static bool is_suspended(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    libxl_dominfo di;
    char id[16];
    bool s;

    snprintf(id, sizeof(id), "%" PRIu32, d->info.domid);
    libxl_dominfo_init(&di);
    s = !lookup(ctx, id, &di) && di.shutdown &&
        di.shutdown_reason == LIBXL_SHUTDOWN_REASON_SUSPEND;
    libxl_dominfo_dispose(&di);
    return s;
}

static int xen_suspend(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;
    int rc;

    if (is_suspended(ctx, d))
        return 0;
    rc = libxl_domain_suspend_only(x->lctx, d->info.domid, NULL);
    if (rc) {
        LOG_ERR(ctx, "domain %u did not suspend (libxl error %d)%s",
                d->info.domid, rc, rc == ERROR_GUEST_TIMEDOUT ?
                ": the guest did not answer the suspend request" : "");
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

static int xen_resume(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;

    /* Cooperative (suspend_cancel): the guest's suspend call returns as
     * cancelled and it carries on with its devices as they were. */
    if (libxl_domain_resume(x->lctx, d->info.domid, 1, NULL)) {
        LOG_ERR(ctx, "libxl_domain_resume(%u) failed", d->info.domid);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

static int xen_unpause(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;

    if (libxl_domain_unpause(x->lctx, d->info.domid, NULL)) {
        LOG_ERR(ctx, "libxl_domain_unpause(%u) failed", d->info.domid);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

static int xen_destroy(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;

    if (d->restore) {
        /* libxl destroys what it built when its restore fails (a stream
         * ended early is one way); a restore it finished leaves a domain
         * the caller no longer wants. */
        if (restore_join(d))
            return 0;
        d->info.domid = d->new_domid;
    }
    if (d->info.domid == 0) {
        LOG_ERR(ctx, "internal: refusing to destroy domain 0");
        return XLMIG_ERR_STATE;
    }
    if (libxl_domain_destroy(x->lctx, d->info.domid, NULL)) {
        LOG_ERR(ctx, "libxl_domain_destroy(%u) failed", d->info.domid);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

/* ---- saving ---- */

struct xsave {
    xlmig_ctx *ctx;
    struct xen_priv *x;
    struct xlmig_dom *d;
    struct xlmig_stream_writer *w;
    const struct xlmig_limits *lim;
    const struct xlmig_live_hooks *hooks;
    struct xlmig_live_stats *st;
    bool live;

    int rfd;                    /* pipe from xc_domain_save */
    pthread_t pump;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t consumed;          /* read from the pipe */
    uint64_t emitted;           /* and written to w */
    bool park;                  /* asked to stop at park_at */
    uint64_t park_at;
    bool parked;
    bool pump_done;
    int pump_rc;

    uint64_t t0, round_t0, round_off0, prev_written;
    struct xlmig_round r;       /* the round being measured */
    uint64_t suspend_off;       /* w->offset at the suspend */
    bool suspended;             /* the domain is suspended */
    bool we_suspended;          /* by this save, so a failure resumes it */
    int hook_rc;                /* why the policy callback aborted */
    uint32_t throttle;          /* percent taken away by a scheduler cap */
    int orig_cap;               /* the domain's own cap, to put back */
};

/*
 * Throttle by the scheduler's cap (credit and credit2: percent of one
 * physical CPU for the whole domain, 0 for none): @pct percent of the
 * CPU time the domain's vCPUs could use is taken away.  0 puts the
 * domain's own cap back.
 */
static int xen_throttle(struct xsave *s, uint32_t pct)
{
    xlmig_ctx *ctx = s->ctx;
    libxl_domain_sched_params p;
    uint32_t domid = s->d->info.domid;
    int lrc, full = 100 * (int)(s->d->info.nr_vcpus ? s->d->info.nr_vcpus :
                                1);

    libxl_domain_sched_params_init(&p);
    lrc = libxl_domain_sched_params_get(s->x->lctx, domid, &p);
    if (lrc) {
        LOG_ERR(ctx, "cannot read domain %u's scheduler parameters (libxl "
                "error %d): it cannot be throttled", domid, lrc);
        libxl_domain_sched_params_dispose(&p);
        return XLMIG_ERR_BACKEND;
    }
    if (p.sched != LIBXL_SCHEDULER_CREDIT &&
        p.sched != LIBXL_SCHEDULER_CREDIT2) {
        LOG_WARN(ctx, "domain %u runs under the %s scheduler, which has no "
                 "cap: it cannot be throttled", domid,
                 libxl_scheduler_to_string(p.sched));
        libxl_domain_sched_params_dispose(&p);
        return XLMIG_ERR_NOTIMPL;
    }
    if (!s->throttle)
        s->orig_cap = p.cap;
    if (pct) {
        int cap = full * (100 - (int)pct) / 100;

        if (cap < 1)
            cap = 1;
        /* A cap of its own lower than ours already holds it back more. */
        if (s->orig_cap > 0 && s->orig_cap < cap)
            cap = s->orig_cap;
        p.cap = cap;
    } else {
        p.cap = s->orig_cap;
    }
    lrc = libxl_domain_sched_params_set(s->x->lctx, domid, &p);
    libxl_domain_sched_params_dispose(&p);
    if (lrc) {
        LOG_ERR(ctx, "cannot set domain %u's CPU cap (libxl error %d)",
                domid, lrc);
        return XLMIG_ERR_BACKEND;
    }
    if (pct)
        LOG_INFO(ctx, "domain %u throttled to %u%%: CPU cap %d%% of %d%%",
                 domid, pct, full * (100 - (int)pct) / 100, full);
    else
        LOG_INFO(ctx, "domain %u's CPU cap back to %d%s", domid,
                 s->orig_cap, s->orig_cap ? "%" : " (none)");
    s->throttle = pct;
    return 0;
}

static void *pump_main(void *arg)
{
    struct xsave *s = arg;
    static const size_t bufsz = 1u << 20;
    uint8_t *buf = malloc(bufsz);
    int rc = buf ? 0 : XLMIG_ERR_NOMEM;

    while (!rc) {
        ssize_t n;

        pthread_mutex_lock(&s->lock);
        while (s->park && s->emitted >= s->park_at) {
            s->parked = true;
            pthread_cond_broadcast(&s->cond);
            pthread_cond_wait(&s->cond, &s->lock);
        }
        s->parked = false;
        /* Read under the lock, without blocking, so that consumed plus
         * what the pipe holds is exact when the callback looks. */
        n = read(s->rfd, buf, bufsz);
        if (n > 0)
            s->consumed += (uint64_t)n;
        pthread_mutex_unlock(&s->lock);
        if (n == 0)
            break;              /* xc_domain_save is done */
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd pfd = { s->rfd, POLLIN, 0 };
            poll(&pfd, 1, 100);
            continue;
        }
        if (n < 0) {
            rc = XLMIG_ERR_IO;
            break;
        }
        xlmig_write_xen_stream(s->w, buf, (size_t)n);
        rc = s->w->err;
        pthread_mutex_lock(&s->lock);
        s->emitted += (uint64_t)n;
        pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
    }
    free(buf);
    pthread_mutex_lock(&s->lock);
    s->pump_done = true;
    s->pump_rc = rc;
    /* On failure, xc_domain_save's next write fails (EPIPE). */
    if (rc) {
        close(s->rfd);
        s->rfd = -1;
    }
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
    return NULL;
}

/* Park the pump once it has written everything xc_domain_save has
 * produced so far; false if the pump has failed. */
static bool pump_park(struct xsave *s)
{
    int avail = 0;
    bool ok;

    pthread_mutex_lock(&s->lock);
    if (s->rfd >= 0 && ioctl(s->rfd, FIONREAD, &avail) < 0)
        avail = 0;
    s->park_at = s->consumed + (uint64_t)(avail > 0 ? avail : 0);
    s->park = true;
    pthread_cond_broadcast(&s->cond);
    while (!s->parked && !s->pump_done)
        pthread_cond_wait(&s->cond, &s->lock);
    ok = !s->pump_done || !s->pump_rc;
    pthread_mutex_unlock(&s->lock);
    return ok;
}

static void pump_release(struct xsave *s)
{
    pthread_mutex_lock(&s->lock);
    s->park = false;
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

/*
 * xc_domain_save asks twice per round.  First with iteration 0 and
 * dirty_count the domain's size, before the full first pass; then, for
 * each round N it has sent: with iteration N and dirty_count -1 (the
 * round's pages are out, the log not yet read), and again with the count
 * the log holds (the pages dirtied during round N).  The second answer
 * decides the round about to start.  On STOP_AND_COPY libxc still sends
 * the pages already found dirty while the guest runs, then suspends and
 * sends the rest.
 */
static int save_precopy_policy(struct precopy_stats ps, void *data)
{
    struct xsave *s = data;
    uint64_t now;
    int rc;

    if (!s->live)
        return XGS_POLICY_STOP_AND_COPY;
    if (ps.iteration == 0) {
        s->round_t0 = xlmig_now_ns();
        s->round_off0 = s->w->offset;
        return XGS_POLICY_CONTINUE_PRECOPY;
    }
    if (ps.dirty_count < 0) {
        /* Round N is written: wait until the destination holds it. */
        if (!pump_park(s)) {
            s->hook_rc = XLMIG_ERR_IO;
            return XGS_POLICY_ABORT;
        }
        rc = s->hooks && s->hooks->sync ? s->hooks->sync(s->hooks->opaque) :
                                          0;
        now = xlmig_now_ns();
        memset(&s->r, 0, sizeof(s->r));
        s->r.round = ps.iteration;
        s->r.pages_sent = ps.total_written - s->prev_written;
        s->r.bytes_sent = s->w->offset - s->round_off0;
        s->r.duration_ns = now - s->round_t0;
        s->prev_written = ps.total_written;
        pump_release(s);
        if (rc) {
            s->hook_rc = rc;
            return XGS_POLICY_ABORT;
        }
        return XGS_POLICY_CONTINUE_PRECOPY;
    }
    /* The log is read: decide on round N + 1. */
    s->r.pages_dirtied = (uint64_t)ps.dirty_count;
    s->r.elapsed_ns = xlmig_now_ns() - s->t0;
    s->r.throttle_pct = s->throttle;    /* what the round ran under */
    rc = xlmig_live_decide(s->ctx, s->lim, &s->r, s->hooks, s->st);
    s->round_t0 = xlmig_now_ns();
    s->round_off0 = s->w->offset;
    if (rc) {
        s->hook_rc = rc;
        return XGS_POLICY_ABORT;
    }
    switch (s->st->last.decision) {
    case XLMIG_DECIDE_STOP:
        return XGS_POLICY_STOP_AND_COPY;
    case XLMIG_DECIDE_ABORT:
        LOG_ERR(s->ctx, "pre-copy abandoned: %s", s->st->last.reason);
        s->hook_rc = XLMIG_ERR_TIMEOUT;
        return XGS_POLICY_ABORT;
    case XLMIG_DECIDE_THROTTLE:
        /* Not throttled, the guest goes on as it is and the round limit
         * or the timeout ends the pre-copy. */
        if (!xen_throttle(s, s->st->last.throttle_pct))
            s->st->throttle_pct = s->st->last.throttle_pct;
        return XGS_POLICY_CONTINUE_PRECOPY;
    default:
        return XGS_POLICY_CONTINUE_PRECOPY;
    }
}

static int save_suspend(void *data)
{
    struct xsave *s = data;

    if (s->hooks && s->hooks->suspending)
        s->hooks->suspending(s->hooks->opaque);
    s->st->suspended_at_ns = xlmig_now_ns();
    s->st->precopy_ns = s->st->suspended_at_ns - s->t0;
    /* A throttled guest gets its CPU back to answer the suspend: capped,
     * its handshake alone would stretch the downtime by seconds.  What it
     * writes meanwhile is in the log libxc reads after the suspend. */
    if (s->throttle && xen_throttle(s, 0))
        LOG_WARN(s->ctx, "suspending domain %u under its throttle",
                 s->d->info.domid);
    /* A quick migration suspended it already; its caller resumes it. */
    if (!is_suspended(s->ctx, s->d)) {
        if (xen_suspend(s->ctx, s->d))
            return 0;
        s->we_suspended = true;
    }
    s->suspended = true;
    pthread_mutex_lock(&s->lock);
    s->suspend_off = s->consumed;
    pthread_mutex_unlock(&s->lock);
    return 1;
}

/* QEMU's own dirty tracking of guest memory it writes (HVM only). */
static int qemu_logdirty(xlmig_ctx *ctx, struct xlmig_dom *d, bool on)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "{\"execute\":\"xen-set-global-dirty-log\","
             "\"arguments\":{\"enable\":%s}}", on ? "true" : "false");
    return xlmig_qmp_run(ctx, d->info.domid, cmd, QMP_TIMEOUT_MS);
}

static int save_switch_qemu_logdirty(uint32_t domid, unsigned enable,
                                     void *data)
{
    struct xsave *s = data;

    (void)domid;
    if (s->d->type != LIBXL_DOMAIN_TYPE_HVM)
        return 0;               /* PVH: no device model */
    return qemu_logdirty(s->ctx, s->d, enable) ? -1 : 0;
}

static int send_config(xlmig_ctx *ctx, struct xlmig_dom *d,
                       struct xlmig_stream_writer *w)
{
    struct xen_priv *x = ctx->backend_priv;
    libxl_domain_config cfg;
    char *json;
    int rc;

    libxl_domain_config_init(&cfg);
    rc = libxl_retrieve_domain_configuration(x->lctx, d->info.domid, &cfg,
                                             NULL);
    if (rc) {
        LOG_ERR(ctx, "cannot read domain %u's libxl configuration (libxl "
                "error %d)", d->info.domid, rc);
        libxl_domain_config_dispose(&cfg);
        return XLMIG_ERR_BACKEND;
    }
    /* As xl does: the destination picks its own domid. */
    cfg.c_info.domid = 0;
    json = libxl_domain_config_to_json(x->lctx, &cfg);
    libxl_domain_config_dispose(&cfg);
    if (!json)
        return XLMIG_ERR_NOMEM;
    if (strlen(json) > XLMIG_CONFIG_MAX) {
        LOG_ERR(ctx, "domain %u's configuration is %zu bytes, over the "
                "stream's %u", d->info.domid, strlen(json),
                XLMIG_CONFIG_MAX);
        free(json);
        return XLMIG_ERR_INVAL;
    }
    xlmig_write_config(w, XLMIG_CONFIG_LIBXL_JSON, json, strlen(json));
    free(json);
    return w->err;
}

/*
 * The device model's xenstore keys a restore needs (libxl's
 * EMULATOR_XENSTORE_DATA): for each entry under @root/physmap, its
 * start_addr, size and name, as "key\0value\0" pairs relative to @root.
 */
static int emulator_xs_data(struct xs_handle *xs, const char *root,
                            uint8_t **out, size_t *outlen)
{
    static const char *const sub[] = { "start_addr", "size", "name" };
    char path[448], key[192];
    char **ents;
    unsigned n = 0;
    uint8_t *buf = NULL;
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/physmap", root);
    ents = xs_directory(xs, XBT_NULL, path, &n);
    for (unsigned i = 0; ents && i < n; i++) {
        for (unsigned k = 0; k < 3; k++) {
            unsigned vlen = 0;
            char *val;
            size_t kl;
            uint8_t *nb;

            snprintf(key, sizeof(key), "physmap/%s/%s", ents[i], sub[k]);
            snprintf(path, sizeof(path), "%s/%s", root, key);
            val = xs_read(xs, XBT_NULL, path, &vlen);
            if (!val) {
                free(ents);
                free(buf);
                return XLMIG_ERR_BACKEND;
            }
            kl = strlen(key) + 1;
            nb = realloc(buf, len + kl + vlen + 1);
            if (!nb) {
                free(val);
                free(ents);
                free(buf);
                return XLMIG_ERR_NOMEM;
            }
            buf = nb;
            memcpy(buf + len, key, kl);
            memcpy(buf + len + kl, val, vlen);
            buf[len + kl + vlen] = 0;
            len += kl + vlen + 1;
            free(val);
        }
    }
    free(ents);
    *out = buf;
    *outlen = len;
    return 0;
}

/* HVM: the device model's records (libxl's EMULATOR_XENSTORE_DATA and
 * EMULATOR_CONTEXT), after libxc's stream. */
static int send_emulator(xlmig_ctx *ctx, struct xlmig_dom *d,
                         struct xlmig_stream_writer *w)
{
    struct xs_handle *xs = xs_open(0);
    char path[128], file[64];
    uint8_t *blob = NULL;
    size_t len = 0;
    struct stat sb;
    int fd, rc;

    if (!xs) {
        LOG_ERR(ctx, "cannot open xenstore: %s", strerror(errno));
        return XLMIG_ERR_BACKEND;
    }
    snprintf(path, sizeof(path), "/local/domain/0/device-model/%u",
             d->info.domid);
    rc = emulator_xs_data(xs, path, &blob, &len);
    xs_close(xs);
    if (rc) {
        LOG_ERR(ctx, "cannot read the device model's xenstore keys "
                "under %s", path);
        return rc;
    }
    if (len)
        xlmig_xen_write_emulator(w, XLMIG_LIBXL_REC_EMULATOR_XENSTORE_DATA,
                                 blob, len);
    free(blob);
    if (w->err)
        return w->err;

    snprintf(file, sizeof(file), QEMU_SAVE_FILE, d->info.domid);
    fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &sb) || !S_ISREG(sb.st_mode) ||
        sb.st_size <= 0 || sb.st_size > XLMIG_LIBXL_EMULATOR_MAX) {
        LOG_ERR(ctx, "the device model's state %s is missing or not a "
                "plain file of a sane size", file);
        if (fd >= 0)
            close(fd);
        return XLMIG_ERR_BACKEND;
    }
    blob = malloc((size_t)sb.st_size);
    rc = blob ? xlmig_read_exact(fd, blob, (size_t)sb.st_size, &len) :
                XLMIG_ERR_NOMEM;
    close(fd);
    if (rc) {
        LOG_ERR(ctx, "cannot read %s", file);
        free(blob);
        return rc < 0 ? XLMIG_ERR_IO : XLMIG_ERR_TRUNCATED;
    }
    xlmig_xen_write_emulator(w, XLMIG_LIBXL_REC_EMULATOR_CONTEXT, blob,
                             (size_t)sb.st_size);
    free(blob);
    unlink(file);
    return w->err;
}

static int xen_save_common(xlmig_ctx *ctx, struct xlmig_dom *d,
                           struct xlmig_stream_writer *w, bool live,
                           const struct xlmig_limits *lim,
                           const struct xlmig_live_hooks *hooks,
                           struct xlmig_live_stats *st)
{
    struct xen_priv *x = ctx->backend_priv;
    struct save_callbacks cb;
    struct xsave s;
    xc_interface *xch;
    int fds[2], rc, xrc, saved_errno;

    memset(&s, 0, sizeof(s));
    memset(st, 0, sizeof(*st));
    s.ctx = ctx;
    s.x = x;
    s.d = d;
    s.w = w;
    s.lim = lim;
    s.hooks = hooks;
    s.st = st;
    s.live = live;
    s.t0 = xlmig_now_ns();
    s.rfd = -1;
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);

    rc = send_config(ctx, d, w);
    if (rc)
        goto out;
    xlmig_xen_write_header(w);
    if (w->err) {
        rc = w->err;
        goto out;
    }
    xch = xc_interface_open((xentoollog_logger *)x->logger, NULL, 0);
    if (!xch) {
        LOG_ERR(ctx, "cannot open libxenctrl: %s", strerror(errno));
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    if (pipe2(fds, O_CLOEXEC)) {
        xc_interface_close(xch);
        rc = XLMIG_ERR_IO;
        goto out;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    s.rfd = fds[0];
    if (pthread_create(&s.pump, NULL, pump_main, &s)) {
        close(fds[0]);
        close(fds[1]);
        xc_interface_close(xch);
        s.rfd = -1;
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }

    memset(&cb, 0, sizeof(cb));
    cb.suspend = save_suspend;
    cb.precopy_policy = save_precopy_policy;
    cb.switch_qemu_logdirty = save_switch_qemu_logdirty;
    cb.data = &s;
    LOG_INFO(ctx, "xc_domain_save of domain %u (%s)%s", d->info.domid,
             libxl_domain_type_to_string(d->type), live ? ", live" : "");
    xrc = xc_domain_save(xch, fds[1], d->info.domid,
                         live ? XCFLAGS_LIVE : 0, &cb, XC_STREAM_PLAIN, -1);
    saved_errno = errno;
    close(fds[1]);              /* the pump sees the end */
    xc_interface_close(xch);
    pthread_join(s.pump, NULL);
    if (s.rfd >= 0)
        close(s.rfd);
    s.rfd = -1;

    if (s.pump_rc) {
        rc = s.pump_rc;
        LOG_ERR(ctx, "sending Xen's stream failed: %s", xlmig_strerror(rc));
        goto out;
    }
    if (xrc) {
        rc = s.hook_rc ? s.hook_rc : XLMIG_ERR_BACKEND;
        if (!s.hook_rc)
            LOG_ERR(ctx, "xc_domain_save of domain %u failed: %s%s",
                    d->info.domid, strerror(saved_errno), s.suspended ?
                    "" : " (before the suspend)");
        goto out;
    }
    if (!s.suspended) {
        LOG_ERR(ctx, "xc_domain_save returned without suspending domain "
                "%u", d->info.domid);
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    if (d->type == LIBXL_DOMAIN_TYPE_HVM) {
        rc = send_emulator(ctx, d, w);
        if (rc)
            goto out;
    }
    xlmig_xen_write_end(w);
    rc = w->err;
    if (rc)
        goto out;
    st->bytes_sent = w->offset;
    st->final_pages = (s.consumed - s.suspend_off) / (XLMIG_PAGE_SIZE + 8);
    st->stopcopy_ns = xlmig_now_ns() - st->suspended_at_ns;
    if (!live)
        st->rounds = 1;
    LOG_INFO(ctx, "stop-and-copy: about %" PRIu64 " pages and the vCPU and "
             "device state (%.1f MiB of Xen's stream) in %.1f ms",
             st->final_pages,
             (double)(s.consumed - s.suspend_off) / 1048576.0,
             (double)st->stopcopy_ns / 1e6);

out:
    if (s.throttle && xen_throttle(&s, 0))
        LOG_ERR(ctx, "domain %u keeps the CPU cap of its throttle: set it "
                "back with xl sched-credit2 (or sched-credit) -c",
                d->info.domid);
    if (rc && d->type == LIBXL_DOMAIN_TYPE_HVM && live &&
        qemu_logdirty(ctx, d, false))
        LOG_WARN(ctx, "could not switch QEMU's dirty log off");
    if (rc && s.we_suspended) {
        LOG_WARN(ctx, "resuming domain %u after the failed save",
                 d->info.domid);
        if (xen_resume(ctx, d))
            LOG_ERR(ctx, "domain %u stays suspended: resume it with xl "
                    "(or destroy it)", d->info.domid);
    }
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

static int xen_save(xlmig_ctx *ctx, struct xlmig_dom *d,
                    struct xlmig_stream_writer *w)
{
    struct xlmig_live_stats st;
    struct xlmig_limits lim;

    xlmig_limits_default(&lim);
    return xen_save_common(ctx, d, w, false, &lim, NULL, &st);
}

static int xen_live_save(xlmig_ctx *ctx, struct xlmig_dom *d,
                         struct xlmig_stream_writer *w,
                         const struct xlmig_limits *lim,
                         const struct xlmig_live_hooks *hooks,
                         struct xlmig_live_stats *st)
{
    return xen_save_common(ctx, d, w, true, lim, hooks, st);
}

static void xen_describe(xlmig_ctx *ctx, struct xlmig_dom *d,
                         struct xlmig_domain_desc *desc)
{
    (void)ctx;
    xlmig_desc_from_info(&d->info, XLMIG_STREAM_BACKEND_XEN, desc);
}

/* ---- restoring ---- */

struct restorer {
    libxl_ctx *lctx;
    struct xlmig_dom *d;
};

static void *restorer_main(void *arg)
{
    struct restorer *r = arg;
    libxl_domain_restore_params params;
    uint32_t domid = INVALID_DOMID;

    libxl_domain_restore_params_init(&params);
    params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
    params.stream_version = 2;
    r->d->restore_rc = libxl_domain_create_restore(r->lctx, &r->d->cfg,
                                                   &domid, r->d->rfd, -1,
                                                   &params, NULL, NULL);
    r->d->new_domid = r->d->restore_rc ? 0 : domid;
    libxl_domain_restore_params_dispose(&params);
    free(r);
    return NULL;
}

static int xen_restore_create(xlmig_ctx *ctx,
                              const struct xlmig_domain_desc *desc,
                              uint32_t fmt, const void *cfg, size_t len,
                              struct xlmig_dom **out)
{
    struct xen_priv *x = ctx->backend_priv;
    struct xlmig_dom *d;
    struct restorer *r;
    int fds[2], rc;

    if (fmt != XLMIG_CONFIG_LIBXL_JSON) {
        LOG_ERR(ctx, "the xen backend restores libxl JSON configurations, "
                "not format %u", fmt);
        return XLMIG_ERR_INVAL;
    }
    if (memchr(cfg, '\0', len)) {
        LOG_ERR(ctx, "the domain's configuration holds a NUL byte");
        return XLMIG_ERR_STREAM;
    }
    d = calloc(1, sizeof(*d));
    r = calloc(1, sizeof(*r));
    if (!d || !r) {
        free(d);
        free(r);
        return XLMIG_ERR_NOMEM;
    }
    d->wfd = d->rfd = -1;
    libxl_domain_config_init(&d->cfg);
    d->cfg_init = true;
    /* The caller gave a NUL-terminated copy (quick.c). */
    rc = libxl_domain_config_from_json(x->lctx, &d->cfg, cfg);
    if (rc) {
        LOG_ERR(ctx, "the domain's libxl configuration does not parse "
                "(libxl error %d)", rc);
        rc = XLMIG_ERR_STREAM;
        goto fail;
    }
    free(d->cfg.c_info.name);
    d->cfg.c_info.name = strdup(desc->name);
    if (!d->cfg.c_info.name) {
        rc = XLMIG_ERR_NOMEM;
        goto fail;
    }
    d->type = d->cfg.c_info.type;
    d->info.nr_pages = desc->nr_pages;
    d->info.nr_vcpus = desc->nr_vcpus;
    d->info.page_shift = desc->page_shift;
    memcpy(d->info.uuid, desc->uuid, 16);
    snprintf(d->info.name, sizeof(d->info.name), "%s", desc->name);
    if (pipe2(fds, O_CLOEXEC)) {
        rc = XLMIG_ERR_IO;
        goto fail;
    }
    d->rfd = fds[0];
    d->wfd = fds[1];
    r->lctx = x->lctx;
    r->d = d;
    if (pthread_create(&d->restorer, NULL, restorer_main, r)) {
        close(fds[0]);
        close(fds[1]);
        d->rfd = d->wfd = -1;
        rc = XLMIG_ERR_NOMEM;
        goto fail;
    }
    d->restore = d->restoring = true;
    LOG_INFO(ctx, "restoring %s (%s) through libxl", desc->name,
             libxl_domain_type_to_string(d->type));
    *out = d;
    return 0;

fail:
    libxl_domain_config_dispose(&d->cfg);
    free(d);
    free(r);
    return rc;
}

/*
 * Claim the domain's memory from Xen (XENMEM_claim_pages) as soon as
 * libxl has created the new, empty domain and before its first page
 * arrives: while the stream fills it, no other domain and no other
 * toolstack can take that memory.  The claim shrinks as the restore
 * allocates; what is left of it is released when the restore ends.  Xen
 * refusing the claim for want of memory fails the restore at once rather
 * than half-way; a domain that does not show up in time is restored
 * without a claim (logged).
 */
static int restore_claim(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;
    uint64_t until = xlmig_now_ns() + 10000000000ull;
    xc_interface *xch;
    uint32_t domid = 0;
    int rc = 0, err;

    d->claim_tried = true;
    while (!domid && xlmig_now_ns() < until) {
        int n = 0;
        libxl_dominfo *doms = libxl_list_domain(x->lctx, &n);
        for (int i = 0; doms && i < n; i++)
            if (doms[i].domid &&
                !memcmp(libxl_uuid_bytearray(&doms[i].uuid), d->info.uuid,
                        16))
                domid = doms[i].domid;
        if (doms)
            libxl_dominfo_list_free(doms, n);
        if (!domid)
            usleep(20000);
    }
    if (!domid) {
        LOG_WARN(ctx, "libxl has not created %s within 10 s: its memory is "
                 "not claimed from Xen", d->info.name);
        return 0;
    }
    xch = xc_interface_open((xentoollog_logger *)x->logger, NULL, 0);
    if (!xch) {
        LOG_WARN(ctx, "xc_interface_open failed: %s's memory is not "
                 "claimed", d->info.name);
        return 0;
    }
    /* Xen refuses a claim above the domain's max_pages (EINVAL), which
     * libxl sets just after creating it: try again until it has. */
    for (;;) {
        if (!xc_domain_claim_pages(xch, domid, d->info.nr_pages)) {
            err = 0;
            break;
        }
        err = errno;
        if (err != EINVAL || xlmig_now_ns() >= until)
            break;
        usleep(20000);
    }
    if (!err) {
        d->claim_domid = domid;
        LOG_INFO(ctx, "claimed %" PRIu64 " MiB from Xen for %s (domain %u)",
                 d->info.nr_pages >> 8, d->info.name, domid);
    } else if (err == ENOMEM) {
        LOG_ERR(ctx, "Xen cannot claim %" PRIu64 " MiB for %s: not enough "
                "free memory (taken since the preflight?)",
                d->info.nr_pages >> 8, d->info.name);
        rc = XLMIG_ERR_NOSPACE;
    } else {
        LOG_WARN(ctx, "xc_domain_claim_pages(%u, %" PRIu64 " pages): %s: "
                 "restoring %s without a claim", domid, d->info.nr_pages,
                 strerror(err), d->info.name);
    }
    xc_interface_close(xch);
    return rc;
}

/* Release what is left of the claim (none once every page is in). */
static void restore_unclaim(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct xen_priv *x = ctx->backend_priv;
    xc_interface *xch;

    if (!d->claim_domid)
        return;
    xch = xc_interface_open((xentoollog_logger *)x->logger, NULL, 0);
    if (xch) {
        if (xc_domain_claim_pages(xch, d->claim_domid, 0))
            LOG_DEBUG(ctx, "releasing domain %u's claim: %s",
                      d->claim_domid, strerror(errno));
        xc_interface_close(xch);
    }
    d->claim_domid = 0;
}

static int xen_restore_record(xlmig_ctx *ctx, struct xlmig_dom *d,
                              const struct xlmig_record *rec)
{
    struct xlmig_rec_xen xr;
    int rc;

    if (rec->type != XLMIG_REC_XEN_STREAM) {
        LOG_ERR(ctx, "the xen backend does not restore %s records",
                xlmig_rec_type_name(rec->type));
        return XLMIG_ERR_STREAM;
    }
    if (!d->restoring || d->wfd < 0)
        return XLMIG_ERR_STATE;
    if (!d->claim_tried && (rc = restore_claim(ctx, d)))
        return rc;
    xlmig_rec_get_xen(rec, &xr);
    rc = xlmig_write_all(d->wfd, xr.data, xr.len);
    if (rc) {
        /* libxl stopped reading: it failed.  Its own log says why. */
        restore_join(d);
        LOG_ERR(ctx, "libxl stopped reading Xen's stream at byte %" PRIu64
                " (libxl error %d)", xr.offset, d->restore_rc);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

static int xen_restore_finish(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    int rc = restore_join(d);

    restore_unclaim(ctx, d);
    if (rc) {
        LOG_ERR(ctx, "libxl could not restore %s (libxl error %d)",
                d->info.name, rc);
        return XLMIG_ERR_BACKEND;
    }
    d->info.domid = d->new_domid;
    d->info.state = XLMIG_DOM_PAUSED;
    LOG_INFO(ctx, "%s restored as domain %u, paused", d->info.name,
             d->info.domid);
    return 0;
}

static int xen_info(xlmig_ctx *ctx, struct xlmig_dom *d,
                    struct xlmig_dominfo *out)
{
    char id[16];

    snprintf(id, sizeof(id), "%" PRIu32, d->info.domid);
    return xen_find(ctx, id, out);
}

static int xen_host_free(xlmig_ctx *ctx, uint64_t *bytes)
{
    struct xen_priv *x = ctx->backend_priv;
    libxl_physinfo pi;
    uint64_t pages;

    /* Free and to-be-scrubbed pages, less what domains have claimed
     * (libxl_get_free_memory leaves claims out). */
    libxl_physinfo_init(&pi);
    if (libxl_get_physinfo(x->lctx, &pi)) {
        LOG_ERR(ctx, "libxl_get_physinfo failed");
        libxl_physinfo_dispose(&pi);
        return XLMIG_ERR_BACKEND;
    }
    pages = pi.free_pages + pi.scrub_pages;
    pages = pages > pi.outstanding_pages ? pages - pi.outstanding_pages : 0;
    libxl_physinfo_dispose(&pi);
    *bytes = pages << XLMIG_PAGE_SHIFT;
    return 0;
}

/* ---- preflight ---- */

static void xen_hv(struct xen_priv *x, char *hv, size_t len, uint32_t *major,
                   uint32_t *minor)
{
    const libxl_version_info *v = libxl_get_version_info(x->lctx);

    if (!v) {
        snprintf(hv, len, "Xen ?");
        return;
    }
    *major = (uint32_t)v->xen_version_major;
    *minor = (uint32_t)v->xen_version_minor;
    snprintf(hv, len, "Xen %d.%d%s", v->xen_version_major,
             v->xen_version_minor,
             v->xen_version_extra ? v->xen_version_extra : "");
}

static void bitmap_list(const libxl_bitmap *b, char *out, size_t len)
{
    size_t off = 0;
    int i = 0, n = libxl_bitmap_count_set(b) ? (int)(b->size * 8) : 0;

    out[0] = '\0';
    while (i < n && off + 1 < len) {
        int e, w;
        if (!libxl_bitmap_test(b, i)) {
            i++;
            continue;
        }
        for (e = i; e + 1 < n && libxl_bitmap_test(b, e + 1);)
            e++;
        w = e > i ? snprintf(out + off, len - off, "%s%d-%d", off ? "," : "",
                             i, e)
                  : snprintf(out + off, len - off, "%s%d", off ? "," : "", i);
        if (w < 0 || (size_t)w >= len - off)
            break;
        off += (size_t)w;
        i = e + 1;
    }
}

/* The union of the vCPUs' hard affinity; "" when it is every CPU. */
static void xen_pinning(struct xen_priv *x, uint32_t domid, char *out,
                        size_t len)
{
    libxl_physinfo pi;
    libxl_bitmap all;
    libxl_vcpuinfo *v;
    int nv = 0, ncpus = 0;
    bool every = true;

    out[0] = '\0';
    libxl_physinfo_init(&pi);
    libxl_bitmap_init(&all);
    v = libxl_list_vcpu(x->lctx, domid, &nv, &ncpus);
    if (!v || libxl_get_physinfo(x->lctx, &pi) ||
        libxl_cpu_bitmap_alloc(x->lctx, &all, ncpus))
        goto out;
    for (int i = 0; i < nv; i++)
        for (int c = 0; c < ncpus; c++)
            if (libxl_bitmap_test(&v[i].cpumap, c))
                libxl_bitmap_set(&all, c);
    for (uint32_t c = 0; c < pi.nr_cpus && c < (uint32_t)ncpus; c++)
        if (!libxl_bitmap_test(&all, (int)c))
            every = false;
    if (!every)
        bitmap_list(&all, out, len);
out:
    if (v)
        libxl_vcpuinfo_list_free(v, nv);
    libxl_bitmap_dispose(&all);
    libxl_physinfo_dispose(&pi);
}

static int xen_needs(xlmig_ctx *ctx, struct xlmig_dom *d,
                     struct xlmig_needs *n)
{
    struct xen_priv *x = ctx->backend_priv;
    libxl_domain_config cfg;
    xc_interface *xch = NULL;
    int rc;

    libxl_domain_config_init(&cfg);
    if (libxl_retrieve_domain_configuration(x->lctx, d->info.domid, &cfg,
                                            NULL)) {
        LOG_ERR(ctx, "cannot read domain %u's configuration",
                d->info.domid);
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    xen_hv(x, n->hv, sizeof(n->hv), &n->hv_major, &n->hv_minor);
    snprintf(n->domtype, sizeof(n->domtype), "%s",
             cfg.c_info.type == LIBXL_DOMAIN_TYPE_PV ? "pv" :
             cfg.c_info.type == LIBXL_DOMAIN_TYPE_PVH ? "pvh" : "hvm");
    xch = xc_interface_open((xentoollog_logger *)x->logger, NULL, 0);
    if (!xch) {
        LOG_ERR(ctx, "xc_interface_open failed");
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    rc = xlmig_xen_domain_cpu(ctx, xch, d->info.domid, n);
    if (rc)
        goto out;
    n->memory = cfg.b_info.max_memkb << 10;
    n->vcpus = (uint32_t)cfg.b_info.max_vcpus;
    if (!n->vcpus)
        n->vcpus = d->info.nr_vcpus;
    if (cfg.c_info.pool_name)
        snprintf(n->pool, sizeof(n->pool), "%s", cfg.c_info.pool_name);
    xen_pinning(x, d->info.domid, n->pin, sizeof(n->pin));
    for (int i = 0; i < cfg.num_disks && n->ndisks < XLMIG_PF_DISKS_MAX;
         i++) {
        const libxl_device_disk *dk = &cfg.disks[i];
        struct xlmig_pf_disk *pd = &n->disks[n->ndisks++];
        const char *path = dk->pdev_path ? dk->pdev_path : "";
        snprintf(pd->vdev, sizeof(pd->vdev), "%s", dk->vdev ? dk->vdev : "?");
        snprintf(pd->target, sizeof(pd->target), "%s", path);
        pd->flags = (dk->is_cdrom ? XLMIG_PF_DISK_CDROM : 0) |
                    (dk->readwrite ? 0 : XLMIG_PF_DISK_RO);
        if (!path[0])
            pd->flags |= XLMIG_PF_DISK_EMPTY;
        else if (dk->script || path[0] != '/')
            pd->flags |= XLMIG_PF_DISK_OPAQUE;
        else if (xlmig_path_size(path, &pd->size)) {
            LOG_WARN(ctx, "disk %s: cannot read the size of %s", pd->vdev,
                     path);
            pd->flags |= XLMIG_PF_DISK_UNSIZED;
        }
    }
    for (int i = 0; i < cfg.num_nics && n->nnics < XLMIG_PF_NICS_MAX; i++) {
        struct xlmig_pf_nic *ni = &n->nics[n->nnics++];
        memcpy(ni->mac, cfg.nics[i].mac, 6);
        if (cfg.nics[i].bridge)
            snprintf(ni->bridge, sizeof(ni->bridge), "%s",
                     cfg.nics[i].bridge);
    }
    for (int i = 0; i < cfg.num_pcidevs && n->npci < XLMIG_PF_PCI_MAX; i++)
        snprintf(n->pci[n->npci++], sizeof(n->pci[0]),
                 "%04x:%02x:%02x.%x", cfg.pcidevs[i].domain,
                 cfg.pcidevs[i].bus, cfg.pcidevs[i].dev,
                 cfg.pcidevs[i].func);
    n->nomigrate = !libxl_defbool_is_default(cfg.b_info.disable_migrate) &&
                   libxl_defbool_val(cfg.b_info.disable_migrate);
    rc = 0;
out:
    if (xch)
        xc_interface_close(xch);
    libxl_domain_config_dispose(&cfg);
    return rc;
}

/* Which domain here has a vif with @mac ("" none). */
static void xen_mac_user(struct xen_priv *x, const uint8_t mac[6], char *who,
                         size_t len)
{
    libxl_dominfo *doms;
    int nd = 0;

    who[0] = '\0';
    doms = libxl_list_domain(x->lctx, &nd);
    for (int i = 0; doms && i < nd && !who[0]; i++) {
        int nn = 0;
        libxl_device_nic *nics = libxl_device_nic_list(x->lctx,
                                                       doms[i].domid, &nn);
        for (int k = 0; nics && k < nn && !who[0]; k++)
            if (!memcmp(nics[k].mac, mac, 6)) {
                char *name = libxl_domid_to_name(x->lctx, doms[i].domid);
                snprintf(who, len, "domain %s", name ? name : "?");
                free(name);
            }
        if (nics)
            libxl_device_nic_list_free(nics, nn);
    }
    if (doms)
        libxl_dominfo_list_free(doms, nd);
    if (!who[0])
        xlmig_host_mac_user(mac, who, len);
}

static int xen_offer(xlmig_ctx *ctx, const struct xlmig_needs *n,
                     struct xlmig_offer *o)
{
    struct xen_priv *x = ctx->backend_priv;
    const char *want = n->pool[0] ? n->pool : "Pool-0";
    libxl_physinfo pi;
    libxl_dominfo *doms = NULL;
    libxl_cpupoolinfo *pools = NULL;
    xc_interface *xch = NULL;
    int nd = 0, np = 0, rc;

    libxl_physinfo_init(&pi);
    xen_hv(x, o->hv, sizeof(o->hv), &o->hv_major, &o->hv_minor);
    xch = xc_interface_open((xentoollog_logger *)x->logger, NULL, 0);
    if (!xch) {
        LOG_ERR(ctx, "xc_interface_open failed");
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    rc = xlmig_xen_host_cpu(ctx, xch, n, o);
    if (rc)
        goto out;
    if (libxl_get_physinfo(x->lctx, &pi)) {
        LOG_ERR(ctx, "libxl_get_physinfo failed");
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    o->pcpus = pi.nr_cpus;
    doms = libxl_list_domain(x->lctx, &nd);
    for (int i = 0; doms && i < nd; i++)
        o->vcpus_used += doms[i].vcpu_online;
    snprintf(o->pool_name, sizeof(o->pool_name), "%s", want);
    pools = libxl_list_cpupool(x->lctx, &np);
    for (int i = 0; pools && i < np; i++)
        if (pools[i].pool_name && !strcmp(pools[i].pool_name, want)) {
            o->pool_found = true;
            bitmap_list(&pools[i].cpumap, o->pool_cpus,
                        sizeof(o->pool_cpus));
        }
    xlmig_pf_offer_local(n, o);
    for (unsigned i = 0; i < n->nnics; i++)
        xen_mac_user(x, n->nics[i].mac, o->nics[i].mac_user,
                     sizeof(o->nics[i].mac_user));
    rc = 0;
out:
    if (pools)
        libxl_cpupoolinfo_list_free(pools, np);
    if (doms)
        libxl_dominfo_list_free(doms, nd);
    libxl_physinfo_dispose(&pi);
    if (xch)
        xc_interface_close(xch);
    return rc;
}

const struct xlmig_backend_ops xlmig_backend_xen = {
    .name = "xen",
    .stream_id = XLMIG_STREAM_BACKEND_XEN,
    .open = xen_open,
    .close = xen_close,
    .list = xen_list,
    .find = xen_find,
    .attach = xen_attach,
    .detach = xen_detach,
    .suspend = xen_suspend,
    .resume = xen_resume,
    .unpause = xen_unpause,
    .destroy = xen_destroy,
    .save = xen_save,
    .live_save = xen_live_save,
    .describe = xen_describe,
    .restore_create = xen_restore_create,
    .restore_record = xen_restore_record,
    .restore_finish = xen_restore_finish,
    .info = xen_info,
    .host_free = xen_host_free,
    .needs = xen_needs,
    .offer = xen_offer,
};
