/*
 * The sim backend: simulated domains run by xlmig-simdom (sim_host.h).
 * Memory is read and written with pread/pwrite on the domain's memory file
 * (one copy, no page faults in this process); everything else goes over the control socket.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "backend/host_probe.h"
#include "backend/sim/sim_host.h"
#include "backend/sim/sim_ipc.h"
#include "backend/sim/sim_layout.h"
#include "backend/sim/sim_storage.h"
#include "engine/precopy.h"
#include "proto/stream.h"

_Static_assert(SIM_VIF_IPS == XLMIG_VIF_IPS, "one address limit");
_Static_assert(SIM_VIFS_MAX <= XLMIG_VIFS_MAX, "every sim vif fits");

struct xlmig_dom {
    struct xlmig_dominfo info;
    struct sim_config cfg;      /* restore: the config being restored */
    int ramfd;                  /* the guest memory file */
    uint8_t *written;           /* restore: pages this restore wrote */
    uint8_t *ram;               /* restore: the memory file, mapped */
    struct sim_copy *copy;      /* live save: disks copied with it */
    int made[SIM_DISKS_MAX];    /* restore: images made for copied disks
                                 * (descriptors + 1; 0 none) */
};

static int sim_open(xlmig_ctx *ctx, void **priv)
{
    (void)ctx;
    *priv = NULL;
    return 0;
}

static void sim_close(xlmig_ctx *ctx, void *priv)
{
    (void)ctx;
    (void)priv;
}

static int sim_list(xlmig_ctx *ctx, struct xlmig_dominfo **out, unsigned *n)
{
    return sim_dom_list(ctx, out, n);
}

static int sim_find(xlmig_ctx *ctx, const char *ident,
                    struct xlmig_dominfo *out)
{
    return sim_dom_find(ctx, ident, out);
}

static void dom_free(struct xlmig_dom *d)
{
    if (!d)
        return;
    if (d->ram)
        munmap(d->ram, d->info.nr_pages << XLMIG_PAGE_SHIFT);
    if (d->ramfd >= 0)
        close(d->ramfd);
    for (unsigned i = 0; i < SIM_DISKS_MAX; i++)
        if (d->made[i])
            close(d->made[i] - 1);
    sim_copy_free(d->copy);
    free(d->written);
    free(d);
}

static int open_ram(xlmig_ctx *ctx, struct xlmig_dom *d, int writable)
{
    char p[PATH_MAX];

    sim_path(p, sizeof(p), d->info.name, "ram");
    d->ramfd = open(p, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (d->ramfd < 0) {
        LOG_ERR(ctx, "cannot open memory file %s: %s", p, strerror(errno));
        return xlmig_errno_rc(errno);
    }
    return 0;
}

static int sim_attach(xlmig_ctx *ctx, const struct xlmig_dominfo *info,
                      struct xlmig_dom **out)
{
    struct xlmig_dom *d = calloc(1, sizeof(*d));
    int rc;

    if (!d)
        return XLMIG_ERR_NOMEM;
    d->ramfd = -1;
    d->info = *info;
    rc = open_ram(ctx, d, 0);
    if (rc) {
        dom_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

static void sim_detach(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    (void)ctx;
    dom_free(d);
}

static int simple(xlmig_ctx *ctx, struct xlmig_dom *d, uint32_t type,
                  const char *what)
{
    void *reply = NULL;
    size_t rlen = 0;
    int rc = sim_dom_call(ctx, d->info.name, type, NULL, 0, &reply, &rlen);

    if (rc)
        LOG_ERR(ctx, "%s domain %s: %s%s%.*s", what, d->info.name,
                xlmig_strerror(rc), rlen ? ": " : "", (int)rlen,
                (char *)reply);
    free(reply);
    return rc;
}

/*
 * Suspend: the vCPUs and I/O stop, then each disk is flushed and its
 * lease given back, so that another host may open it (docs/storage.md).
 * Unpausing takes the disks back first; the domain never runs without
 * them.
 */
static int sim_suspend(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    int rc = simple(ctx, d, SIM_MSG_PAUSE, "suspending");

    return rc ? rc : simple(ctx, d, SIM_MSG_DISKS_RELEASE,
                            "releasing the disks of");
}

static int sim_attach_disks(xlmig_ctx *ctx, struct xlmig_dom *d, char *why,
                            size_t whylen)
{
    void *reply = NULL;
    size_t rlen = 0;
    int rc = sim_dom_call(ctx, d->info.name, SIM_MSG_DISKS_ATTACH, NULL, 0,
                          &reply, &rlen);

    if (rc)
        xlmig_why(why, whylen, rc, "%s: %.*s", d->info.name,
                  rlen ? (int)rlen : (int)strlen(xlmig_strerror(rc)),
                  rlen ? (char *)reply : xlmig_strerror(rc));
    free(reply);
    return rc;
}

static int sim_mstart(xlmig_ctx *ctx, struct xlmig_dom *d, const char *vdev,
                      const char *path, uint64_t rate, char *why,
                      size_t whylen)
{
    return sim_mirror_start(ctx, d->info.name, vdev, path, rate, why, whylen);
}

static int sim_mstatus(xlmig_ctx *ctx, struct xlmig_dom *d, const char *vdev,
                       struct xlmig_mirror_status *st)
{
    return sim_mirror_status(ctx, d->info.name, vdev, st);
}

static int sim_mpivot(xlmig_ctx *ctx, struct xlmig_dom *d, const char *vdev,
                      char *why, size_t whylen)
{
    return sim_mirror_pivot(ctx, d->info.name, vdev, why, whylen);
}

static int sim_mcancel(xlmig_ctx *ctx, struct xlmig_dom *d, const char *vdev,
                       char *why, size_t whylen)
{
    return sim_mirror_cancel(ctx, d->info.name, vdev, why, whylen);
}

/* A domain that runs owns the images a restore made for it. */
static int sim_unpause(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    int rc = simple(ctx, d, SIM_MSG_UNPAUSE, "unpausing");

    if (!rc)
        sim_made_keep(d->info.name);
    return rc;
}

/*
 * Undo a suspend.  A domain resumed after a migration runs untracked, as
 * Xen's own clean-up turns log-dirty off: a successful live save leaves
 * it on, so that switching it off is not part of the downtime.
 */
static int sim_resume(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    int rc = simple(ctx, d, SIM_MSG_LOGDIRTY_STOP, "stopping log-dirty on");

    return rc ? rc : sim_unpause(ctx, d);
}

/* d->cfg from the domain's config file, once. */
static int load_cfg(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    char p[PATH_MAX], why[300];

    if (d->cfg.name[0])
        return 0;
    sim_path(p, sizeof(p), d->info.name, "config");
    if (sim_config_load(p, &d->cfg, why, sizeof(why))) {
        LOG_ERR(ctx, "%s", why);
        memset(&d->cfg, 0, sizeof(d->cfg));
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

static int sim_destroy(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    char p[PATH_MAX];
    int rc;

    /* Images a restore made for a domain that never ran go with it. */
    sim_made_delete(ctx, d->info.name);
    /* dom0's side first, as Xen runs vif-bridge offline: the vifs leave
     * their bridges (the TAPs go with the process). */
    if (load_cfg(ctx, d) == 0)
        for (unsigned i = 0; i < d->cfg.nvifs; i++)
            if (sim_vif_hotplug(ctx, &d->cfg, d->info.domid, i, "offline"))
                LOG_WARN(ctx, "%s: vif %u: offline failed", d->info.name, i);
    rc = simple(ctx, d, SIM_MSG_DESTROY, "destroying");

    /* The domain process removes its directory as it exits: wait for it,
     * so the name is free when we return. */
    sim_path(p, sizeof(p), d->info.name, NULL);
    for (int i = 0; i < 500 && access(p, F_OK) == 0; i++)
        usleep(10000);
    if (access(p, F_OK) == 0) {
        LOG_WARN(ctx, "domain %s did not exit; removing its files",
                 d->info.name);
        sim_dom_cleanup(d->info.name);
    }
    return rc == XLMIG_ERR_NOTFOUND ? 0 : rc;
}

static int get_blob(xlmig_ctx *ctx, struct xlmig_dom *d, uint32_t type,
                    const void *req, size_t rlen, void **out, size_t *len)
{
    int rc = sim_dom_call(ctx, d->info.name, type, req, rlen, out, len);

    if (rc) {
        LOG_ERR(ctx, "reading state of domain %s: %s", d->info.name,
                xlmig_strerror(rc));
        free(*out);
        *out = NULL;
    }
    return rc;
}

static int sim_save_config(xlmig_ctx *ctx, struct xlmig_dom *d,
                           struct xlmig_stream_writer *w)
{
    char *cfgtext;
    int n;

    d->cfg.name[0] = '\0';     /* read it afresh */
    if (load_cfg(ctx, d))
        return XLMIG_ERR_BACKEND;
    cfgtext = malloc(SIM_CONFIG_MAX);
    if (!cfgtext)
        return XLMIG_ERR_NOMEM;
    if (d->copy)
        sim_copy_config(d->copy, &d->cfg);     /* the destination's paths */
    n = sim_config_format(&d->cfg, cfgtext, SIM_CONFIG_MAX);
    if (d->copy)
        d->cfg.name[0] = '\0';                 /* not this host's config */
    if (n < 0) {
        LOG_ERR(ctx, "the configuration of %s does not fit a record",
                d->info.name);
        free(cfgtext);
        return XLMIG_ERR_BACKEND;
    }
    xlmig_write_config(w, XLMIG_CONFIG_SIM_KV, cfgtext, (size_t)n);
    free(cfgtext);
    return w->err;
}

/* Send pages [pfn, end) that may hold data (pread straight into the
 * batch; zero pages among them go as ZERO entries). */
static int send_run(xlmig_ctx *ctx, struct xlmig_dom *d,
                    struct xlmig_stream_writer *w, uint64_t pfn, uint64_t end)
{
    while (pfn < end && !w->err) {
        unsigned cnt = end - pfn > XLMIG_PAGE_BATCH_MAX ?
                       XLMIG_PAGE_BATCH_MAX : (unsigned)(end - pfn);
        uint8_t *buf = xlmig_write_pages_reserve(w, pfn, &cnt);
        size_t len = (size_t)cnt * XLMIG_PAGE_SIZE;
        ssize_t r = pread(d->ramfd, buf, len, (off_t)(pfn * XLMIG_PAGE_SIZE));

        if (r != (ssize_t)len) {
            LOG_ERR(ctx, "reading guest memory at pfn 0x%llx: %s",
                    (unsigned long long)pfn,
                    r < 0 ? strerror(errno) : "short read");
            return XLMIG_ERR_IO;
        }
        xlmig_write_pages_commit(w, pfn, cnt);
        pfn += cnt;
    }
    return w->err;
}

#define TESTBIT(bm, p) (((bm)[(p) >> 3] >> ((p) & 7)) & 1)

static int sim_send_pages(xlmig_ctx *ctx, struct xlmig_dom *d,
                          struct xlmig_stream_writer *w, const uint8_t *bm)
{
    uint64_t pfn = 0, ds = 0, de = 0, n = d->info.nr_pages;
    int rc;

    if (bm) {
        /* Dirty pages: runs of set bits, each read in one go. */
        while (pfn < n && !w->err) {
            uint64_t end;
            if (!bm[pfn >> 3] && !(pfn & 7)) {
                pfn += 8;
                continue;
            }
            if (!TESTBIT(bm, pfn)) {
                pfn++;
                continue;
            }
            for (end = pfn + 1; end < n && TESTBIT(bm, end); end++)
                ;
            rc = send_run(ctx, d, w, pfn, end);
            if (rc)
                return rc;
            pfn = end;
        }
        xlmig_write_flush_pages(w);
        return w->err;
    }
    /* Everything: holes of the memory file are zero pages, sent as pfns
     * without being read. */
    while (pfn < n && !w->err) {
        if (pfn >= de) {
            int r = sim_next_data(d->ramfd, pfn, n, &ds, &de);
            if (r) {
                LOG_ERR(ctx, "scanning memory file: %s", strerror(-r));
                return xlmig_errno_rc(-r);
            }
        }
        for (; pfn < ds; pfn++)
            xlmig_write_zero_page(w, pfn);
        rc = send_run(ctx, d, w, pfn, de);
        if (rc)
            return rc;
        pfn = de > pfn ? de : pfn;
    }
    xlmig_write_flush_pages(w);
    return w->err;
}

static int sim_send_state(xlmig_ctx *ctx, struct xlmig_dom *d,
                          struct xlmig_stream_writer *w)
{
    void *blob = NULL;
    size_t blen = 0;
    int rc;

    for (uint32_t i = 0; i < d->info.nr_vcpus && !w->err; i++) {
        uint8_t id[4];
        xlmig_put_u32(id, i);
        rc = get_blob(ctx, d, SIM_MSG_GET_VCPU, id, 4, &blob, &blen);
        if (rc)
            return rc;
        xlmig_write_vcpu(w, i, blob, blen);
        free(blob);
        blob = NULL;
    }
    rc = get_blob(ctx, d, SIM_MSG_GET_CLOCK, NULL, 0, &blob, &blen);
    if (rc)
        return rc;
    xlmig_write_device(w, SIM_DEVICE_CLOCK, 0, blob, blen);
    free(blob);
    return w->err;
}

static int sim_save(xlmig_ctx *ctx, struct xlmig_dom *d,
                    struct xlmig_stream_writer *w)
{
    int rc = sim_save_config(ctx, d, w);

    if (!rc)
        rc = sim_send_pages(ctx, d, w, NULL);
    if (!rc)
        rc = sim_send_state(ctx, d, w);
    return rc;
}

static int sim_logdirty(xlmig_ctx *ctx, struct xlmig_dom *d, uint32_t type,
                        uint8_t *bm)
{
    void *reply = NULL;
    size_t rlen = 0, want = (d->info.nr_pages + 7) / 8;
    int rc = sim_dom_call(ctx, d->info.name, type, NULL, 0, &reply, &rlen);

    if (rc) {
        LOG_ERR(ctx, "log-dirty %s on %s: %s%s%.*s",
                type == SIM_MSG_LOGDIRTY_START ? "start" :
                type == SIM_MSG_LOGDIRTY_STOP ? "stop" : "read",
                d->info.name, xlmig_strerror(rc), rlen ? ": " : "",
                (int)rlen, (char *)reply);
    } else if (type == SIM_MSG_LOGDIRTY_START) {
        LOG_INFO(ctx, "log-dirty on for %s (%.*s mode)", d->info.name,
                 (int)rlen, (char *)reply);
    } else if (bm) {
        if (rlen != want) {
            LOG_ERR(ctx, "dirty bitmap of %zu bytes, expected %zu", rlen,
                    want);
            rc = XLMIG_ERR_BACKEND;
        } else {
            memcpy(bm, reply, want);
        }
    }
    free(reply);
    return rc;
}

static int sim_logdirty_start(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    return sim_logdirty(ctx, d, SIM_MSG_LOGDIRTY_START, NULL);
}

static int sim_logdirty_peek(xlmig_ctx *ctx, struct xlmig_dom *d,
                             uint8_t *bm)
{
    return sim_logdirty(ctx, d, SIM_MSG_LOGDIRTY_PEEK_CLEAR, bm);
}

static int sim_logdirty_stop(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    return sim_logdirty(ctx, d, SIM_MSG_LOGDIRTY_STOP, NULL);
}

static int sim_dirty_sample(xlmig_ctx *ctx, struct xlmig_dom *d, int what,
                            uint64_t *pages)
{
    size_t len = (d->info.nr_pages + 7) / 8;
    uint8_t *bm;
    uint64_t n = 0;
    int rc;

    if (what == XLMIG_DIRTY_START) {
        uint8_t one[4];
        void *reply = NULL;
        size_t rlen = 0;
        xlmig_put_u32(one, 1);
        rc = sim_dom_call(ctx, d->info.name, SIM_MSG_LOGDIRTY_START, one,
                          sizeof(one), &reply, &rlen);
        free(reply);
        return rc;
    }
    if (what == XLMIG_DIRTY_STOP)
        return sim_logdirty_stop(ctx, d);
    bm = malloc(len ? len : 1);
    if (!bm)
        return XLMIG_ERR_NOMEM;
    rc = sim_logdirty_peek(ctx, d, bm);
    for (size_t i = 0; !rc && i < len; i++)
        n += (uint64_t)__builtin_popcount(bm[i]);
    free(bm);
    if (!rc)
        *pages = n;
    return rc;
}

static int sim_throttle(xlmig_ctx *ctx, struct xlmig_dom *d, uint32_t pct)
{
    uint8_t b[4];
    void *reply = NULL;
    size_t rlen = 0;
    int rc;

    xlmig_put_u32(b, pct);
    rc = sim_dom_call(ctx, d->info.name, SIM_MSG_SET_THROTTLE, b, sizeof(b),
                      &reply, &rlen);
    if (rc)
        LOG_ERR(ctx, "throttling domain %s to %u%%: %s", d->info.name, pct,
                xlmig_strerror(rc));
    free(reply);
    return rc;
}

static int sim_disks_start(xlmig_ctx *ctx, struct xlmig_dom *d,
                           struct xlmig_stream_writer *w)
{
    return d->copy ? sim_copy_start(ctx, d->info.name, d->copy, w) : 0;
}

static int sim_disks_send(xlmig_ctx *ctx, struct xlmig_dom *d,
                          struct xlmig_stream_writer *w, bool all,
                          uint64_t *blocks)
{
    return d->copy ? sim_copy_send(ctx, d->copy, w, all, blocks) : 0;
}

static int sim_disks_peek(xlmig_ctx *ctx, struct xlmig_dom *d,
                          uint64_t *dirty)
{
    *dirty = 0;
    return d->copy ? sim_copy_peek(ctx, d->info.name, d->copy, dirty) : 0;
}

static void sim_disks_stop(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    if (d->copy)
        sim_copy_stop(ctx, d->info.name, d->copy);
}

static int sim_copy_storage(xlmig_ctx *ctx, struct xlmig_dom *d,
                            const struct xlmig_disk_map *map, unsigned n,
                            char *why, size_t whylen)
{
    int rc;

    d->cfg.name[0] = '\0';
    rc = load_cfg(ctx, d);
    if (rc)
        return xlmig_why(why, whylen, rc, "cannot read the configuration "
                         "of %s", d->info.name);
    sim_copy_free(d->copy);
    d->copy = NULL;
    rc = sim_copy_new(ctx, &d->cfg, map, n, &d->copy, why, whylen);
    d->cfg.name[0] = '\0';
    return rc;
}

static const struct xlmig_precopy_ops sim_precopy_ops = {
    .save_config = sim_save_config,
    .send_pages = sim_send_pages,
    .send_state = sim_send_state,
    .logdirty_start = sim_logdirty_start,
    .logdirty_peek = sim_logdirty_peek,
    .logdirty_stop = sim_logdirty_stop,
    .suspend = sim_suspend,
    .resume = sim_unpause,
    .throttle = sim_throttle,
    .disks_start = sim_disks_start,
    .disks_send = sim_disks_send,
    .disks_peek = sim_disks_peek,
    .disks_stop = sim_disks_stop,
};

static int sim_live_save(xlmig_ctx *ctx, struct xlmig_dom *d,
                         struct xlmig_stream_writer *w,
                         const struct xlmig_limits *lim,
                         const struct xlmig_live_hooks *hooks,
                         struct xlmig_live_stats *st)
{
    return xlmig_precopy(ctx, d, d->info.nr_pages, w, &sim_precopy_ops, lim,
                         hooks, st);
}

static void sim_describe(xlmig_ctx *ctx, struct xlmig_dom *d,
                         struct xlmig_domain_desc *desc)
{
    (void)ctx;
    xlmig_desc_from_info(&d->info, XLMIG_STREAM_BACKEND_SIM, desc);
}

static int sim_restore_create(xlmig_ctx *ctx,
                              const struct xlmig_domain_desc *desc,
                              uint32_t config_format, const void *config,
                              size_t config_len, struct xlmig_dom **out)
{
    struct xlmig_dom *d = NULL;
    char why[160];
    int rc;

    if (config_format != XLMIG_CONFIG_SIM_KV) {
        LOG_ERR(ctx, "configuration format %u is not the sim backend's (%u)",
                config_format, XLMIG_CONFIG_SIM_KV);
        return XLMIG_ERR_STREAM;
    }
    d = calloc(1, sizeof(*d));
    if (!d)
        return XLMIG_ERR_NOMEM;
    d->ramfd = -1;
    rc = sim_config_parse(config, config_len, &d->cfg, why, sizeof(why));
    if (rc) {
        LOG_ERR(ctx, "stream's domain configuration: %s", why);
        rc = XLMIG_ERR_STREAM;
        goto fail;
    }
    if (d->cfg.nr_pages != desc->nr_pages ||
        d->cfg.nr_vcpus != desc->nr_vcpus ||
        memcmp(d->cfg.uuid, desc->uuid, 16)) {
        LOG_ERR(ctx, "stream's configuration disagrees with DOMAIN_INFO "
                "(pages %llu/%llu, vCPUs %u/%u, or UUID)",
                (unsigned long long)d->cfg.nr_pages,
                (unsigned long long)desc->nr_pages, d->cfg.nr_vcpus,
                desc->nr_vcpus);
        rc = XLMIG_ERR_STREAM;
        goto fail;
    }
    /* A restore may rename; DOMAIN_INFO's name is the default. */
    memcpy(d->cfg.name, desc->name, XLMIG_NAME_MAX);
    rc = sim_dom_spawn(ctx, &d->cfg, SIM_BOOT_RESTORED, 1, &d->info.domid);
    if (rc)
        goto fail;
    memcpy(d->info.name, d->cfg.name, XLMIG_NAME_MAX);
    memcpy(d->info.uuid, d->cfg.uuid, 16);
    d->info.nr_pages = d->cfg.nr_pages;
    d->info.nr_vcpus = d->cfg.nr_vcpus;
    d->info.page_shift = XLMIG_PAGE_SHIFT;
    d->info.state = XLMIG_DOM_PAUSED;
    rc = open_ram(ctx, d, 1);
    if (!rc) {
        /* Pages are copied in, not written with pwrite: data channels
         * load disjoint pages at once, and the file's write lock would
         * serialise them. */
        void *m = mmap(NULL, d->info.nr_pages << XLMIG_PAGE_SHIFT,
                       PROT_READ | PROT_WRITE, MAP_SHARED, d->ramfd, 0);
        if (m == MAP_FAILED) {
            LOG_ERR(ctx, "cannot map the memory of %s: %s", d->info.name,
                    strerror(errno));
            rc = xlmig_errno_rc(errno);
        } else {
            d->ram = m;
        }
    }
    if (!rc) {
        d->written = calloc((d->info.nr_pages + 7) / 8, 1);
        if (!d->written)
            rc = XLMIG_ERR_NOMEM;
    }
    if (rc) {
        (void)sim_destroy(ctx, d);
        goto fail;
    }
    *out = d;
    return 0;
fail:
    dom_free(d);
    return rc;
}

static int sim_restore_record(xlmig_ctx *ctx, struct xlmig_dom *d,
                              const struct xlmig_record *rec)
{
    switch (rec->type) {
    case XLMIG_REC_PAGE_DATA: {
        struct xlmig_rec_pages pg;
        const uint8_t *data;

        xlmig_rec_get_pages(rec, &pg);
        data = pg.data;
        for (uint32_t i = 0; i < pg.count;) {
            uint64_t e = xlmig_get_u64(pg.pfns + 8 * i);
            uint64_t pfn = e & XLMIG_PFN_MASK;
            uint32_t run = 1;

            if (e >> XLMIG_PFN_TYPE_SHIFT == XLMIG_PFN_ZERO) {
                uint8_t bit = (uint8_t)(1u << (pfn & 7));
                /* Never written here: the file's hole is already zero.
                 * Zero again after holding data: give the page back. */
                if ((d->written[pfn >> 3] & bit) &&
                    fallocate(d->ramfd,
                              FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                              (off_t)(pfn * XLMIG_PAGE_SIZE),
                              XLMIG_PAGE_SIZE) < 0) {
                    LOG_ERR(ctx, "zeroing pfn 0x%llx: %s",
                            (unsigned long long)pfn, strerror(errno));
                    return XLMIG_ERR_IO;
                }
                d->written[pfn >> 3] &= (uint8_t)~bit;
                i++;
                continue;
            }
            /* A run of data pages with consecutive pfns: one write. */
            while (i + run < pg.count) {
                uint64_t n = xlmig_get_u64(pg.pfns + 8 * (i + run));
                if (n >> XLMIG_PFN_TYPE_SHIFT != XLMIG_PFN_NORMAL ||
                    (n & XLMIG_PFN_MASK) != pfn + run)
                    break;
                run++;
            }
            memcpy(d->ram + (pfn << XLMIG_PAGE_SHIFT), data,
                   (size_t)run * XLMIG_PAGE_SIZE);
            for (uint32_t k = 0; k < run; k++)
                d->written[(pfn + k) >> 3] |= (uint8_t)(1u << ((pfn + k) & 7));
            data += (size_t)run * XLMIG_PAGE_SIZE;
            i += run;
        }
        return 0;
    }
    case XLMIG_REC_DISK_IMAGE: {
        struct xlmig_rec_disk_image di;
        const struct sim_disk *k;
        int fd, rc;

        xlmig_rec_get_disk_image(rec, &di);
        k = di.disk < d->cfg.ndisks ? &d->cfg.disks[di.disk] : NULL;
        if (!k || k->ro || k->cdrom || !k->target[0]) {
            LOG_ERR(ctx, "DISK_IMAGE for disk %u: %s has no such writable "
                    "disk", di.disk, d->info.name);
            return XLMIG_ERR_STREAM;
        }
        if (d->made[di.disk]) {
            LOG_ERR(ctx, "DISK_IMAGE for disk %u twice", di.disk);
            return XLMIG_ERR_STREAM;
        }
        rc = sim_made_image(ctx, d->info.name, k->target, di.size, &fd);
        if (rc)
            return rc;
        d->made[di.disk] = fd + 1;
        LOG_INFO(ctx, "%s: disk %s comes with it, into %s (%llu octets)",
                 d->info.name, k->vdev, k->target,
                 (unsigned long long)di.size);
        return 0;
    }
    case XLMIG_REC_DISK_DATA: {
        struct xlmig_rec_disk_data dd;

        xlmig_rec_get_disk_data(rec, &dd);
        if (dd.disk >= SIM_DISKS_MAX || !d->made[dd.disk]) {
            LOG_ERR(ctx, "DISK_DATA for disk %u, which has no image",
                    dd.disk);
            return XLMIG_ERR_STREAM;
        }
        return sim_made_data(ctx, d->made[dd.disk] - 1,
                             d->cfg.disks[dd.disk].target, &dd);
    }
    case XLMIG_REC_VCPU_STATE: {
        struct xlmig_rec_blob b;
        uint8_t req[4 + SIM_VCPU_STATE_SIZE];
        int rc;

        xlmig_rec_get_blob(rec, &b);
        if (b.len != SIM_VCPU_STATE_SIZE) {
            LOG_ERR(ctx, "vCPU %u state is %u bytes, expected %u", b.id,
                    b.len, SIM_VCPU_STATE_SIZE);
            return XLMIG_ERR_STREAM;
        }
        xlmig_put_u32(req, b.id);
        memcpy(req + 4, b.data, b.len);
        rc = sim_dom_call(ctx, d->info.name, SIM_MSG_SET_VCPU, req,
                          sizeof(req), NULL, NULL);
        if (rc)
            LOG_ERR(ctx, "loading vCPU %u state: %s", b.id,
                    xlmig_strerror(rc));
        return rc;
    }
    case XLMIG_REC_DEVICE_STATE: {
        struct xlmig_rec_blob b;
        int rc;

        xlmig_rec_get_blob(rec, &b);
        if (b.id != SIM_DEVICE_CLOCK || b.instance != 0 || b.len != 8) {
            LOG_ERR(ctx, "unknown device %u.%u (%u bytes) for a simulated "
                    "domain", b.id, b.instance, b.len);
            return XLMIG_ERR_STREAM;
        }
        rc = sim_dom_call(ctx, d->info.name, SIM_MSG_SET_CLOCK, b.data, 8,
                          NULL, NULL);
        if (rc)
            LOG_ERR(ctx, "loading clock: %s", xlmig_strerror(rc));
        return rc;
    }
    default:
        return 0;
    }
}

static int sim_restore_finish(xlmig_ctx *ctx, struct xlmig_dom *d)
{
    struct sim_sb sb;

    /* The reader has checked that every page and vCPU arrived; a domain
     * whose memory has no superblock would not "boot". */
    if (pread(d->ramfd, &sb, sizeof(sb), 0) != sizeof(sb) ||
        sb.magic != SIM_SB_MAGIC || sb.nr_pages != d->info.nr_pages) {
        LOG_ERR(ctx, "restored memory has no valid superblock");
        return XLMIG_ERR_STREAM;
    }
    /* The copied disks are on the destination's storage before COMMIT
     * can be answered. */
    for (unsigned i = 0; i < SIM_DISKS_MAX; i++) {
        if (!d->made[i])
            continue;
        if (fdatasync(d->made[i] - 1) < 0) {
            LOG_ERR(ctx, "flushing %s: %s", d->cfg.disks[i].target,
                    strerror(errno));
            return XLMIG_ERR_IO;
        }
        close(d->made[i] - 1);
        d->made[i] = 0;
    }
    return 0;
}

/*
 * Room for new domains: their memory is a file in the sim directory,
 * reserved in full when the domain is made, so the room is what that
 * filesystem has free (as on Xen, a domain being restored counts once it
 * exists), and never more than the host's available memory.
 */
static int sim_host_free(xlmig_ctx *ctx, uint64_t *bytes)
{
    struct statvfs vfs;
    uint64_t room, avail = 0;
    unsigned long long kb;
    char line[128];
    FILE *f;

    if (statvfs(sim_dir(), &vfs)) {
        LOG_ERR(ctx, "cannot read the free space of %s: %s", sim_dir(),
                strerror(errno));
        return xlmig_errno_rc(errno);
    }
    room = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    f = fopen("/proc/meminfo", "re");
    while (f && fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            avail = (uint64_t)kb << 10;
            break;
        }
    if (f)
        fclose(f);
    *bytes = avail && avail < room ? avail : room;
    return 0;
}

static int sim_info(xlmig_ctx *ctx, struct xlmig_dom *d,
                    struct xlmig_dominfo *out)
{
    return sim_dom_find(ctx, d->info.name, out);
}

/* ---- preflight ---- */

/* The sim "hypervisor" is this xlmig: its version, "0.1.0" -> 0, 1. */
static void sim_hv(char *hv, size_t len, uint32_t *major, uint32_t *minor)
{
    unsigned a = 0, b = 0;

    sscanf(XLMIG_VERSION, "%u.%u", &a, &b);
    *major = a;
    *minor = b;
    snprintf(hv, len, "sim %s", XLMIG_VERSION);
}

static int sim_needs(xlmig_ctx *ctx, struct xlmig_dom *d,
                     struct xlmig_needs *n)
{
    struct sim_config *c = &d->cfg;
    char p[PATH_MAX], why[300];

    sim_path(p, sizeof(p), d->info.name, "config");
    if (sim_config_load(p, c, why, sizeof(why))) {
        LOG_ERR(ctx, "%s", why);
        return XLMIG_ERR_BACKEND;
    }
    sim_hv(n->hv, sizeof(n->hv), &n->hv_major, &n->hv_minor);
    snprintf(n->domtype, sizeof(n->domtype), "sim");
    snprintf(n->cpu_vendor, sizeof(n->cpu_vendor), "%s", c->cpu_vendor);
    snprintf(n->cpu_features, sizeof(n->cpu_features), "%s",
             c->cpu_features);
    n->memory = c->nr_pages << XLMIG_PAGE_SHIFT;
    n->vcpus = c->nr_vcpus;
    snprintf(n->pool, sizeof(n->pool), "%s", c->pool);
    snprintf(n->pin, sizeof(n->pin), "%s", c->cpus);
    for (unsigned i = 0; i < c->ndisks && i < XLMIG_PF_DISKS_MAX; i++) {
        struct xlmig_pf_disk *pd = &n->disks[n->ndisks++];
        const struct sim_disk *sd = &c->disks[i];
        snprintf(pd->vdev, sizeof(pd->vdev), "%s", sd->vdev);
        snprintf(pd->target, sizeof(pd->target), "%s", sd->target);
        pd->flags = (sd->cdrom ? XLMIG_PF_DISK_CDROM : 0) |
                    (sd->ro ? XLMIG_PF_DISK_RO : 0) |
                    (sd->target[0] ? 0 : XLMIG_PF_DISK_EMPTY);
        if (sd->target[0] && xlmig_path_size(sd->target, &pd->size)) {
            LOG_WARN(ctx, "disk %s: cannot read the size of %s here",
                     sd->vdev, sd->target);
            pd->flags |= XLMIG_PF_DISK_UNSIZED;
        }
    }
    for (unsigned i = 0; i < c->nvifs && i < XLMIG_PF_NICS_MAX; i++) {
        memcpy(n->nics[i].mac, c->vifs[i].mac, 6);
        snprintf(n->nics[i].bridge, sizeof(n->nics[i].bridge), "%s",
                 c->vifs[i].bridge);
        if (c->vifs[i].mac_auto)
            n->nics[i].flags |= XLMIG_PF_NIC_MAC_AUTO;
        xlmig_pf_need_nic_local(&n->nics[i]);
        n->nnics++;
    }
    for (unsigned i = 0; i < c->npci && i < XLMIG_PF_PCI_MAX; i++)
        snprintf(n->pci[n->npci++], sizeof(n->pci[0]), "%s", c->pci[i]);
    n->nomigrate = c->disable_migrate;
    return 0;
}

/* Which simulated domain here has a vif with @mac ("" none). */
static void sim_mac_user(xlmig_ctx *ctx, const uint8_t mac[6], char *who,
                         size_t len)
{
    struct xlmig_dominfo *all = NULL;
    struct sim_config *c = malloc(sizeof(*c));
    unsigned n = 0;

    who[0] = '\0';
    if (c && !sim_dom_list(ctx, &all, &n))
        for (unsigned i = 0; i < n && !who[0]; i++) {
            char p[PATH_MAX], why[300];
            sim_path(p, sizeof(p), all[i].name, "config");
            if (sim_config_load(p, c, why, sizeof(why)))
                continue;
            for (unsigned k = 0; k < c->nvifs; k++)
                if (!memcmp(c->vifs[k].mac, mac, 6))
                    snprintf(who, len, "domain %s", all[i].name);
        }
    free(all);
    free(c);
    if (!who[0])
        xlmig_host_mac_user(mac, who, len);
}

static int sim_offer(xlmig_ctx *ctx, const struct xlmig_needs *n,
                     struct xlmig_offer *o)
{
    struct sim_hostconf *h = malloc(sizeof(*h));
    struct xlmig_dominfo *all = NULL;
    unsigned nall = 0;
    char why[300];
    int rc;

    if (!h)
        return XLMIG_ERR_NOMEM;
    rc = sim_hostconf_load(h, why, sizeof(why));
    if (rc) {
        LOG_ERR(ctx, "%s", why);
        goto out;
    }
    sim_hv(o->hv, sizeof(o->hv), &o->hv_major, &o->hv_minor);
    rc = sim_host_cpu(h, o->cpu_vendor, o->cpu_features,
                      sizeof(o->cpu_features));
    if (rc) {
        LOG_ERR(ctx, "cannot read this host's CPU from /proc/cpuinfo");
        goto out;
    }
    o->policy_ok = -1;
    o->pcpus = sim_host_pcpus(h);
    rc = sim_dom_list(ctx, &all, &nall);
    if (rc)
        goto out;
    for (unsigned i = 0; i < nall; i++)
        o->vcpus_used += all[i].nr_vcpus;
    snprintf(o->pool_name, sizeof(o->pool_name), "%s",
             n->pool[0] ? n->pool : "Pool-0");
    o->pool_found = sim_host_pool(h, n->pool, o->pool_cpus,
                                  sizeof(o->pool_cpus));
    xlmig_pf_offer_local(n, o);
    for (unsigned i = 0; i < n->nnics; i++)
        sim_mac_user(ctx, n->nics[i].mac, o->nics[i].mac_user,
                     sizeof(o->nics[i].mac_user));
out:
    free(all);
    free(h);
    return rc;
}

static int sim_vifs(xlmig_ctx *ctx, struct xlmig_dom *d, struct xlmig_vif *v,
                    unsigned *n, char *why, size_t whylen)
{
    int rc = load_cfg(ctx, d);

    *n = 0;
    if (rc) {
        snprintf(why, whylen, "cannot read the configuration of %s",
                 d->info.name);
        return rc;
    }
    for (unsigned i = 0; i < d->cfg.nvifs && i < XLMIG_VIFS_MAX; i++) {
        const struct sim_vif *c = &d->cfg.vifs[i];
        struct xlmig_vif *o = &v[i];
        memset(o, 0, sizeof(*o));
        sim_vif_name(d->info.domid, i, o->dev);
        memcpy(o->bridge, c->bridge, sizeof(o->bridge));
        memcpy(o->mac, c->mac, 6);
        o->mac_auto = c->mac_auto;
        o->nip4 = c->nip4;
        o->nip6 = c->nip6;
        memcpy(o->ip4, c->ip4, sizeof(o->ip4));
        memcpy(o->ip6, c->ip6, sizeof(o->ip6));
        *n = i + 1;
        if ((rc = xlmig_host_vif_check(o, why, whylen)))
            return rc;
    }
    return 0;
}

const struct xlmig_backend_ops xlmig_backend_sim = {
    .name = "sim",
    .stream_id = XLMIG_STREAM_BACKEND_SIM,
    .host_free = sim_host_free,
    .open = sim_open,
    .close = sim_close,
    .list = sim_list,
    .find = sim_find,
    .attach = sim_attach,
    .detach = sim_detach,
    .suspend = sim_suspend,
    .resume = sim_resume,
    .unpause = sim_unpause,
    .destroy = sim_destroy,
    .save = sim_save,
    .live_save = sim_live_save,
    .describe = sim_describe,
    .restore_create = sim_restore_create,
    .restore_record = sim_restore_record,
    .restore_finish = sim_restore_finish,
    .info = sim_info,
    .needs = sim_needs,
    .offer = sim_offer,
    .vifs = sim_vifs,
    .attach_disks = sim_attach_disks,
    .copy_storage = sim_copy_storage,
    .mirror_start = sim_mstart,
    .mirror_status = sim_mstatus,
    .mirror_pivot = sim_mpivot,
    .mirror_cancel = sim_mcancel,
    .dirty_sample = sim_dirty_sample,
};
