/* The xen backend: saving, live or not (see backend_xen.c). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/xen/save_helper.h"
#include "backend/xen/xen_private.h"

extern char **environ;

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
    if (!xen_is_suspended(s->ctx, s->d)) {
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
    char cmd[128], sock[108];

    snprintf(cmd, sizeof(cmd), "{\"execute\":\"xen-set-global-dirty-log\","
             "\"arguments\":{\"enable\":%s}}", on ? "true" : "false");
    xen_compat_qmp_socket(sock, sizeof(sock), d->info.domid);
    return xlmig_qmp_run(ctx, d->info.domid, sock, cmd, QMP_TIMEOUT_MS);
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


/* ---- the save helper ---- */


static void describe_exit(int ws, char *buf, size_t len)
{
    if (WIFSIGNALED(ws))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(ws));
    else
        snprintf(buf, len, "exit status %d", WEXITSTATUS(ws));
}

/*
 * xc_domain_save() of @s's domain in the helper, writing Xen's stream
 * into @stream_wfd (closed here) and calling back here: 0 with *xrc and
 * *xerr what it returned, or an error when the helper could not run or
 * died first (its reason logged).
 */
static int run_helper(struct xsave *s, int stream_wfd, bool live, int *xrc,
                      int *xerr)
{
    xlmig_ctx *ctx = s->ctx;
    posix_spawn_file_actions_t fa;
    char path[PATH_MAX], a_dom[16], a_live[4], a_lvl[4], how[64];
    char *argv[] = { path, a_dom, a_live, "3", "4", a_lvl, NULL };
    bool done = false;
    int sv[2], r, ws = 0, rc = 0;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv)) {
        LOG_ERR(ctx, "save helper: socketpair: %s", strerror(errno));
        close(stream_wfd);
        return XLMIG_ERR_IO;
    }
    /* $XLMIG_SAVE_HELPER, else beside the running program, else the
     * installed one. */
    xlmig_find_program(path, sizeof(path), "XLMIG_SAVE_HELPER", XLMIG_SH_NAME,
                       XLMIG_LIBEXEC_DIR "/" XLMIG_SH_NAME);
    snprintf(a_dom, sizeof(a_dom), "%u", s->d->info.domid);
    snprintf(a_live, sizeof(a_live), "%d", live ? 1 : 0);
    snprintf(a_lvl, sizeof(a_lvl), "%d", (int)ctx->level);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, stream_wfd, 3);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 4);
    r = posix_spawn(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(stream_wfd);          /* the helper holds it now */
    close(sv[1]);
    if (r) {
        LOG_ERR(ctx, "cannot run %s: %s", path, strerror(r));
        close(sv[0]);
        return XLMIG_ERR_BACKEND;
    }
    LOG_DEBUG(ctx, "xc_domain_save runs in %s [pid %d]", path, (int)pid);
    while (!done) {
        struct xlmig_sh_msg m, a = { .magic = XLMIG_SH_MAGIC,
                                     .type = XLMIG_SH_REPLY };
        ssize_t n = recv(sv[0], &m, sizeof(m), 0);

        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0)
            break;              /* the helper is gone */
        if (n != (ssize_t)sizeof(m) || m.magic != XLMIG_SH_MAGIC) {
            LOG_ERR(ctx, "save helper: a %zd octet message (expected %zu, "
                    "magic 0x%08x): killing it", n, sizeof(m),
                    n >= 4 ? m.magic : 0);
            rc = XLMIG_ERR_BACKEND;
            break;
        }
        m.text[sizeof(m.text) - 1] = '\0';
        switch (m.type) {
        case XLMIG_SH_POLICY: {
            struct precopy_stats ps = { m.iteration,
                                        (unsigned long)m.total_written,
                                        (long)m.dirty_count };
            a.value = save_precopy_policy(ps, s);
            break;
        }
        case XLMIG_SH_SUSPEND:
            a.value = save_suspend(s);
            break;
        case XLMIG_SH_LOGDIRTY:
            a.value = save_switch_qemu_logdirty(s->d->info.domid,
                                                m.value != 0, s);
            break;
        case XLMIG_SH_LOG:
            xlmig_log(ctx, m.value >= 0 && m.value <= XLMIG_LOG_DEBUG ?
                      (enum xlmig_log_level)m.value : XLMIG_LOG_ERROR,
                      "%s", m.text);
            continue;
        case XLMIG_SH_DONE:
            *xrc = m.value;
            *xerr = m.err;
            done = true;
            continue;
        default:
            LOG_ERR(ctx, "save helper: unknown message type %u: killing "
                    "it", m.type);
            rc = XLMIG_ERR_BACKEND;
            break;
        }
        if (rc)
            break;
        if (send(sv[0], &a, sizeof(a), MSG_NOSIGNAL) != (ssize_t)sizeof(a))
            break;              /* its end is gone: waitpid says why */
    }
    if (rc)
        kill(pid, SIGKILL);
    close(sv[0]);
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (!rc && !done) {
        describe_exit(ws, how, sizeof(how));
        LOG_ERR(ctx, "the save helper of domain %u (%s) ended before "
                "xc_domain_save returned: %s", s->d->info.domid, path, how);
        rc = XLMIG_ERR_BACKEND;
    }
    return rc;
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

    xen_compat_qemu_save_file(file, sizeof(file), d->info.domid);
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
    struct xsave s;
    int fds[2], rc, hrc, xrc, saved_errno, lockfd = -1;

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

    /* A dirty-rate sample of the domain ends within its second. */
    lockfd = xen_logdirty_lock(ctx, d->info.domid, 10);
    if (lockfd < 0) {
        LOG_ERR(ctx, "domain %u's log-dirty is held by a dirty-rate "
                "sample (xlmig evacuate) for more than 10 s: not saved",
                d->info.domid);
        rc = XLMIG_ERR_BUSY;
        goto out;
    }
    rc = send_config(ctx, d, w);
    if (rc)
        goto out;
    xlmig_xen_write_header(w);
    if (w->err) {
        rc = w->err;
        goto out;
    }
    if (pipe2(fds, O_CLOEXEC)) {
        rc = XLMIG_ERR_IO;
        goto out;
    }
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    s.rfd = fds[0];
    if (pthread_create(&s.pump, NULL, pump_main, &s)) {
        close(fds[0]);
        close(fds[1]);
        s.rfd = -1;
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }

    LOG_INFO(ctx, "xc_domain_save of domain %u (%s)%s", d->info.domid,
             libxl_domain_type_to_string(d->type), live ? ", live" : "");
    xrc = -1;
    saved_errno = 0;
    hrc = run_helper(&s, fds[1], live, &xrc, &saved_errno);
    pthread_join(s.pump, NULL);  /* it sees the end when the helper does */
    if (s.rfd >= 0)
        close(s.rfd);
    s.rfd = -1;
    if (hrc && !s.pump_rc) {
        rc = s.hook_rc ? s.hook_rc : hrc;
        goto out;
    }

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
    xen_logdirty_unlock(lockfd);
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

int xen_save(xlmig_ctx *ctx, struct xlmig_dom *d,
                    struct xlmig_stream_writer *w)
{
    struct xlmig_live_stats st;
    struct xlmig_limits lim;

    xlmig_limits_default(&lim);
    return xen_save_common(ctx, d, w, false, &lim, NULL, &st);
}

int xen_live_save(xlmig_ctx *ctx, struct xlmig_dom *d,
                         struct xlmig_stream_writer *w,
                         const struct xlmig_limits *lim,
                         const struct xlmig_live_hooks *hooks,
                         struct xlmig_live_stats *st)
{
    return xen_save_common(ctx, d, w, true, lim, hooks, st);
}

void xen_describe(xlmig_ctx *ctx, struct xlmig_dom *d,
                         struct xlmig_domain_desc *desc)
{
    (void)ctx;
    xlmig_desc_from_info(&d->info, XLMIG_STREAM_BACKEND_XEN, desc);
}

