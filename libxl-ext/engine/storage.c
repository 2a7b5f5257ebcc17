/* Live storage migration on one host (see storage.h). */
#include "engine/storage.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "engine/records.h"

#define POLL_NS 50000000ull             /* the mirror's status, 20 a second */
#define PROGRESS_NS 250000000ull        /* a progress event at most */

struct mv {
    xlmig_ctx *ctx;
    const struct xlmigd_config *cfg;
    struct xlmig_mjob *j;
    const struct xlmig_storage_opts *o;
    struct xlmig_dominfo info;
    struct xlmig_dom *dom;
    char vdev[32];
    char old[XLMIG_MIRROR_PATH_MAX + 1];
    char rec_dir[XLMIGD_PATH_MAX + 16];
    char rec_name[16];
    uint64_t size;
    bool recorded;              /* the durable record exists */
    bool created;               /* the new image is ours to delete */
    bool mirroring;             /* the backend has a mirror */
    bool switched;              /* the domain is on the new image */
};

/* ---- the durable record ---- */

static int mv_record(struct mv *s, const char *state)
{
    char text[2 * XLMIG_MIRROR_PATH_MAX + 256], uuid[37];

    xlmig_uuid_format(s->info.uuid, uuid);
    snprintf(text, sizeof(text), "state=%s\ndomain=%s\nuuid=%s\ndisk=%s\n"
             "old=%s\nnew=%s\nkeep=%d\n", state, s->info.name, uuid,
             s->vdev, s->old, s->o->path, s->o->keep);
    return xlmig_record_write(s->ctx, s->rec_dir, s->rec_name, text);
}

static void mv_unrecord(struct mv *s)
{
    char p[sizeof(s->rec_dir) + sizeof(s->rec_name) + 1];

    if (!s->recorded)
        return;
    snprintf(p, sizeof(p), "%s/%s", s->rec_dir, s->rec_name);
    if (unlink(p) < 0 && errno != ENOENT)
        LOG_WARN(s->ctx, "cannot remove %s: %s", p, strerror(errno));
    s->recorded = false;
}

/* ---- the checks ---- */

/* The disk @vdev of the domain, from what it needs of a host. */
static int find_disk(struct mv *s)
{
    struct xlmig_needs *n = calloc(1, sizeof(*n));
    const struct xlmig_pf_disk *dk = NULL;
    char names[256] = "";
    int rc, len = 0;

    if (!n)
        return XLMIG_ERR_NOMEM;
    rc = s->ctx->ops->needs(s->ctx, s->dom, n);
    if (rc) {
        xlmig_mjob_fail(s->j, rc, "cannot read the disks of %s",
                        s->info.name);
        free(n);
        return rc;
    }
    for (unsigned i = 0; i < n->ndisks; i++) {
        if (!strcmp(n->disks[i].vdev, s->o->disk))
            dk = &n->disks[i];
        if (len >= 0 && (size_t)len < sizeof(names))
            len += snprintf(names + len, sizeof(names) - (size_t)len,
                            "%s%s", i ? ", " : "", n->disks[i].vdev);
    }
    rc = XLMIG_ERR_INVAL;
    if (!dk)
        xlmig_mjob_fail(s->j, XLMIG_ERR_NOTFOUND, "%s has no disk %s (its "
                        "disks: %s)", s->info.name, s->o->disk,
                        names[0] ? names : "none");
    else if (dk->flags & (XLMIG_PF_DISK_CDROM | XLMIG_PF_DISK_EMPTY))
        xlmig_mjob_fail(s->j, rc, "disk %s of %s is a removable drive: "
                        "change its media instead", dk->vdev, s->info.name);
    else if (dk->flags & XLMIG_PF_DISK_RO)
        xlmig_mjob_fail(s->j, rc, "disk %s of %s is read-only: copy its "
                        "image and change the configuration instead",
                        dk->vdev, s->info.name);
    else if (dk->flags & XLMIG_PF_DISK_OPAQUE)
        xlmig_mjob_fail(s->j, rc, "disk %s of %s is reached through a "
                        "script or the network (%s): xlmig cannot copy it",
                        dk->vdev, s->info.name, dk->target);
    else
        rc = 0;
    if (!rc) {
        snprintf(s->vdev, sizeof(s->vdev), "%s", dk->vdev);
        snprintf(s->old, sizeof(s->old), "%s", dk->target);
        s->size = dk->size;
    } else if (!dk) {
        rc = XLMIG_ERR_NOTFOUND;
    }
    free(n);
    return rc;
}

/* The new image's place: absolute, new, in an existing directory with
 * room for the data the old image holds. */
static int check_path(struct mv *s)
{
    const char *p = s->o->path;
    char dir[XLMIG_MIRROR_PATH_MAX + 1], tmp[XLMIG_MIRROR_PATH_MAX + 1];
    struct statvfs vfs;
    struct stat so, st;
    uint64_t need, avail;

    if (p[0] != '/' || strlen(p) > XLMIG_MIRROR_PATH_MAX) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_INVAL, "the new image needs an "
                        "absolute path of at most %d characters, not '%s'",
                        XLMIG_MIRROR_PATH_MAX, p);
        return XLMIG_ERR_INVAL;
    }
    if (!strcmp(p, s->old)) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_INVAL, "disk %s is on %s already",
                        s->vdev, p);
        return XLMIG_ERR_INVAL;
    }
    if (lstat(p, &st) == 0) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_EXISTS, "%s exists: a storage move "
                        "makes its new image and never writes over a file",
                        p);
        return XLMIG_ERR_EXISTS;
    }
    snprintf(tmp, sizeof(tmp), "%s", p);
    snprintf(dir, sizeof(dir), "%s", dirname(tmp));
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_NOTFOUND, "no directory %s for the "
                        "new image", dir);
        return XLMIG_ERR_NOTFOUND;
    }
    if (stat(s->old, &so) < 0) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_IO, "cannot read %s: %s", s->old,
                        strerror(errno));
        return XLMIG_ERR_IO;
    }
    if (!S_ISREG(so.st_mode)) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_INVAL, "%s is not an image file: "
                        "this backend moves file images only", s->old);
        return XLMIG_ERR_INVAL;
    }
    s->size = (uint64_t)so.st_size;
    /* What the copy writes: the old image's data, not its holes. */
    need = (uint64_t)so.st_blocks * 512;
    if (statvfs(dir, &vfs) < 0) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_IO, "cannot read the free space of "
                        "%s: %s", dir, strerror(errno));
        return XLMIG_ERR_IO;
    }
    avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
    if (avail < need) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_NOSPACE, "%s has %.1f MiB free; the "
                        "copy of disk %s needs %.1f MiB (the data %s holds)",
                        dir, (double)avail / 1048576.0, s->vdev,
                        (double)need / 1048576.0, s->old);
        return XLMIG_ERR_NOSPACE;
    }
    return 0;
}

static int mv_check(struct mv *s)
{
    xlmig_ctx *ctx = s->ctx;
    int rc;

    snprintf(s->j->mode, sizeof(s->j->mode), "storage");
    rc = xlmig_domain_find(ctx, s->o->domain, &s->info);
    if (rc) {
        xlmig_mjob_fail(s->j, rc, "no domain %s on this host", s->o->domain);
        return rc;
    }
    pthread_mutex_lock(&s->j->lock);
    snprintf(s->j->job.domain, sizeof(s->j->job.domain), "%s",
             s->info.name);
    pthread_mutex_unlock(&s->j->lock);
    if (s->info.state != XLMIG_DOM_RUNNING) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_STATE, "domain %s is %s, not "
                        "running: move a stopped domain's image with cp and "
                        "its configuration", s->info.name,
                        xlmig_dom_state_name(s->info.state));
        return XLMIG_ERR_STATE;
    }
    if (!ctx->ops->mirror_start || !ctx->ops->mirror_status ||
        !ctx->ops->mirror_pivot || !ctx->ops->mirror_cancel) {
        xlmig_mjob_fail(s->j, XLMIG_ERR_NOTIMPL, "the %s backend cannot "
                        "move a running domain's storage yet",
                        ctx->ops->name);
        return XLMIG_ERR_NOTIMPL;
    }
    rc = ctx->ops->attach(ctx, &s->info, &s->dom);
    if (rc) {
        xlmig_mjob_fail(s->j, rc, "cannot attach to %s", s->info.name);
        return rc;
    }
    rc = find_disk(s);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->j->lock);
    snprintf(s->j->prog.storage.disk, sizeof(s->j->prog.storage.disk), "%s",
             s->vdev);
    snprintf(s->j->prog.storage.from, sizeof(s->j->prog.storage.from), "%s",
             s->old);
    snprintf(s->j->prog.storage.to, sizeof(s->j->prog.storage.to), "%s",
             s->o->path);
    pthread_mutex_unlock(&s->j->lock);
    rc = check_path(s);
    if (rc)
        return rc;
    pthread_mutex_lock(&s->j->lock);
    s->j->prog.storage.size = s->size;
    s->j->prog.memory_bytes = s->size;
    s->j->prog.round_target = s->size;
    pthread_mutex_unlock(&s->j->lock);
    return 0;
}

/* ---- the move ---- */

/* Record the job, then make the new image: empty, the old one's size
 * and mode, never over an existing file. */
static int mv_prepare(struct mv *s)
{
    struct stat so;
    int fd, rc = xlmig_mjob_phase(s->j, XLMIG_PHASE_PREPARE);

    if (rc)
        return rc;
    snprintf(s->rec_name, sizeof(s->rec_name), "%u", s->j->job.id);
    rc = mv_record(s, "copying");
    if (rc) {
        xlmig_mjob_fail(s->j, rc, "cannot record the job in %s", s->rec_dir);
        return rc;
    }
    s->recorded = true;
    if (stat(s->old, &so) < 0)
        so.st_mode = 0600;
    fd = open(s->o->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
              so.st_mode & 0777);
    if (fd < 0) {
        rc = xlmig_errno_rc(errno);
        xlmig_mjob_fail(s->j, rc, "cannot create %s: %s", s->o->path,
                        strerror(errno));
        return rc;
    }
    s->created = true;
    if (ftruncate(fd, (off_t)s->size) < 0 || fsync(fd) < 0) {
        rc = xlmig_errno_rc(errno);
        xlmig_mjob_fail(s->j, rc, "cannot size %s to %" PRIu64 " octets: "
                        "%s", s->o->path, s->size, strerror(errno));
        close(fd);
        return rc;
    }
    close(fd);
    return 0;
}

static void sleep_ns(uint64_t ns)
{
    struct timespec ts = { (time_t)(ns / 1000000000u),
                           (long)(ns % 1000000000u) };
    nanosleep(&ts, NULL);
}

/* The mirror's figures into the job; a progress event at most every
 * PROGRESS_NS.  bytes_sent: what went to the new image (the copy and the
 * mirrored writes); round_bytes of round_target: how far the copy is. */
static void progress(struct mv *s, const struct xlmig_mirror_status *st,
                     struct xlmig_pace *pace)
{
    struct xlmig_storage_progress *p = &s->j->prog.storage;
    uint64_t now = xlmig_now_ns();
    bool tell = false;

    pthread_mutex_lock(&s->j->lock);
    p->done = st->done;
    p->copied = st->copied;
    p->mirrored = st->mirrored;
    p->write_p50_ns = st->write_p50_ns;
    p->write_p99_ns = st->write_p99_ns;
    s->j->prog.round_bytes = st->done;
    s->j->prog.bytes_sent = st->copied + st->mirrored * XLMIG_PAGE_SIZE;
    if (now - pace->last_ns >= PROGRESS_NS) {
        if (pace->last_ns && s->j->prog.bytes_sent >= pace->last_bytes)
            s->j->prog.bandwidth =
                (uint64_t)((double)(s->j->prog.bytes_sent -
                                    pace->last_bytes) * 1e9 /
                           (double)(now - pace->last_ns));
        pace->last_ns = now;
        pace->last_bytes = s->j->prog.bytes_sent;
        tell = true;
    }
    pthread_mutex_unlock(&s->j->lock);
    if (tell)
        xlmig_mjob_notify(s->j, XLMIG_EV_PROGRESS);
}

/* Start the mirror and wait until both images are the same. */
static int mv_copy(struct mv *s)
{
    xlmig_ctx *ctx = s->ctx;
    struct xlmig_mirror_status st;
    struct xlmig_pace pace = { 0, 0 };
    char why[512];
    int rc = xlmig_mjob_phase(s->j, XLMIG_PHASE_PRECOPY);

    if (rc)
        return rc;
    rc = ctx->ops->mirror_start(ctx, s->dom, s->vdev, s->o->path, s->o->rate,
                                why, sizeof(why));
    if (rc) {
        xlmig_mjob_fail(s->j, rc, "cannot mirror disk %s: %s", s->vdev, why);
        return rc;
    }
    s->mirroring = true;
    for (;;) {
        if (xlmig_mjob_cancelled(s->j))
            return XLMIG_ERR_CANCELLED;
        rc = ctx->ops->mirror_status(ctx, s->dom, s->vdev, &st);
        if (rc) {
            struct xlmig_dominfo now;
            if (xlmig_domain_find(ctx, s->info.name, &now) ==
                XLMIG_ERR_NOTFOUND)
                xlmig_mjob_fail(s->j, rc, "domain %s went away during the "
                                "copy", s->info.name);
            else
                xlmig_mjob_fail(s->j, rc, "lost the mirror of disk %s: %s",
                                s->vdev, st.error);
            return rc;
        }
        progress(s, &st, &pace);
        if (st.state == XLMIG_MIRROR_FAILED) {
            xlmig_mjob_fail(s->j, XLMIG_ERR_IO, "the copy to %s failed: %s",
                            s->o->path, st.error);
            return XLMIG_ERR_IO;
        }
        if (st.state == XLMIG_MIRROR_NONE) {
            xlmig_mjob_fail(s->j, XLMIG_ERR_BACKEND, "the mirror of disk %s "
                            "went away", s->vdev);
            return XLMIG_ERR_BACKEND;
        }
        if (st.state == XLMIG_MIRROR_READY)
            break;
        sleep_ns(POLL_NS);
    }
    LOG_INFO(ctx, "disk %s: %s and %s are the same: %" PRIu64 " of %" PRIu64
             " octets copied (the rest holes or zeros), %" PRIu64 " guest "
             "writes mirrored", s->vdev, s->old, s->o->path, st.copied,
             st.size, st.mirrored);
    return xlmig_mjob_phase(s->j, XLMIG_PHASE_STOPCOPY);
}

/* The switch: the point of no return, then the old image goes. */
static int mv_switch(struct mv *s)
{
    xlmig_ctx *ctx = s->ctx;
    struct xlmig_mirror_status st;
    char why[512];
    int rc = xlmig_mjob_handover(s->j);

    if (rc)
        return rc;
    rc = ctx->ops->mirror_pivot(ctx, s->dom, s->vdev, why, sizeof(why));
    if (rc) {
        /* Which image is it on?  Only the backend knows. */
        int r = ctx->ops->mirror_status(ctx, s->dom, s->vdev, &st);
        if (r == 0 && !strcmp(st.target, s->o->path)) {
            rc = 0;
        } else if (r == 0 && !strcmp(st.target, s->old)) {
            xlmig_mjob_fail(s->j, rc, "the switch to %s failed: %s",
                            s->o->path, why);
            return rc;
        } else {
            /* Not known: both images stay, and so does the record. */
            s->created = false;
            s->recorded = false;
            s->mirroring = false;
            xlmig_mjob_fail(s->j, rc, "the switch to %s failed (%s) and "
                            "which image %s is on cannot be read: both "
                            "are kept, and xlmigd settles it when it next "
                            "starts", s->o->path, why, s->vdev);
            return rc;
        }
    }
    s->mirroring = false;
    s->switched = true;
    s->created = false;
    if (mv_record(s, "switched"))
        LOG_WARN(ctx, "disk %s: switched to %s, but the record of job %u "
                 "could not say so", s->vdev, s->o->path, s->j->job.id);
    pthread_mutex_lock(&s->j->lock);
    s->j->prog.storage.switched = true;
    s->j->prog.storage.kept = s->o->keep;
    pthread_mutex_unlock(&s->j->lock);
    if (!s->o->keep && unlink(s->old) < 0 && errno != ENOENT)
        LOG_WARN(ctx, "disk %s is on %s, but the old image %s could not "
                 "be deleted: %s", s->vdev, s->o->path, s->old,
                 strerror(errno));
    else
        LOG_INFO(ctx, "disk %s of %s is on %s; the old image %s %s",
                 s->vdev, s->info.name, s->o->path, s->old,
                 s->o->keep ? "is kept" : "is deleted");
    mv_unrecord(s);
    return xlmig_mjob_phase(s->j, XLMIG_PHASE_COMMITTED);
}

/* Before the switch: the domain stays on the old image; the new goes. */
static void mv_rollback(struct mv *s, int rc)
{
    xlmig_ctx *ctx = s->ctx;
    char why[512];

    if (s->mirroring &&
        ctx->ops->mirror_cancel(ctx, s->dom, s->vdev, why, sizeof(why))) {
        struct xlmig_dominfo gone;
        if (xlmig_domain_find(ctx, s->info.name, &gone) ==
            XLMIG_ERR_NOTFOUND) {
            LOG_INFO(ctx, "disk %s: the domain is gone, and its mirror "
                     "with it", s->vdev);
        } else {
            /* The backend may still write it: keep it, and the record. */
            LOG_ERR(ctx, "disk %s: cannot stop the mirror to %s: %s; it "
                    "is left for xlmigd's next start", s->vdev, s->o->path,
                    why);
            s->created = false;
            s->recorded = false;
        }
    }
    if (s->created && unlink(s->o->path) < 0 && errno != ENOENT)
        LOG_WARN(ctx, "cannot delete the partial image %s: %s", s->o->path,
                 strerror(errno));
    mv_unrecord(s);
    xlmig_mjob_rollback(s->j, rc);
    if (s->info.name[0] && s->vdev[0])
        LOG_INFO(ctx, "storage move rolled back: disk %s of %s stays on %s",
                 s->vdev, s->info.name, s->old);
}

int xlmig_storage_move(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                       struct xlmig_mjob *j,
                       const struct xlmig_storage_opts *o)
{
    struct mv *s = calloc(1, sizeof(*s));
    int rc;

    if (!s) {
        xlmig_mjob_fail(j, XLMIG_ERR_NOMEM, "out of memory");
        return XLMIG_ERR_NOMEM;
    }
    s->ctx = ctx;
    s->cfg = cfg;
    s->j = j;
    s->o = o;
    snprintf(s->rec_dir, sizeof(s->rec_dir), "%s/storage", cfg->state_dir);
    rc = mv_check(s);
    if (!rc)
        rc = mv_prepare(s);
    if (!rc)
        rc = mv_copy(s);
    if (!rc)
        rc = mv_switch(s);
    if (rc && !s->switched)
        mv_rollback(s, rc);
    pthread_mutex_lock(&j->lock);
    j->prog.total_ns = xlmig_now_ns() - j->prog.started_ns;
    if (rc)
        j->rc = rc;
    pthread_mutex_unlock(&j->lock);
    if (s->dom)
        ctx->ops->detach(ctx, s->dom);
    free(s);
    return rc;
}

/* ---- after a restart ---- */

static void settle(xlmig_ctx *ctx, const char *file, const char *text)
{
    char state[16], domain[XLMIG_NAME_MAX], uuid[40], disk[32], u[37];
    char old[XLMIG_MIRROR_PATH_MAX + 1], neu[XLMIG_MIRROR_PATH_MAX + 1];
    char keep[4], why[512];
    struct xlmig_dominfo info;
    struct xlmig_mirror_status st;
    struct xlmig_dom *dom = NULL;
    int rc;

    xlmig_record_get(text, "state", state, sizeof(state));
    xlmig_record_get(text, "domain", domain, sizeof(domain));
    xlmig_record_get(text, "uuid", uuid, sizeof(uuid));
    xlmig_record_get(text, "disk", disk, sizeof(disk));
    xlmig_record_get(text, "old", old, sizeof(old));
    xlmig_record_get(text, "new", neu, sizeof(neu));
    xlmig_record_get(text, "keep", keep, sizeof(keep));
    if (!domain[0] || !disk[0] || old[0] != '/' || neu[0] != '/') {
        LOG_WARN(ctx, "storage record %s is damaged: left alone", file);
        return;
    }
    rc = xlmig_domain_find(ctx, domain, &info);
    if (!rc)
        xlmig_uuid_format(info.uuid, u);
    if (rc || strcmp(u, uuid)) {
        LOG_WARN(ctx, "storage move of disk %s of %s (%s -> %s): the domain "
                 "is gone; both images are kept for the administrator",
                 disk, domain, old, neu);
        unlink(file);
        return;
    }
    rc = ctx->ops->attach(ctx, &info, &dom);
    if (!rc && ctx->ops->mirror_status)
        rc = ctx->ops->mirror_status(ctx, dom, disk, &st);
    else if (!rc)
        rc = XLMIG_ERR_NOTIMPL;
    if (!rc && st.state != XLMIG_MIRROR_NONE)
        rc = ctx->ops->mirror_cancel(ctx, dom, disk, why, sizeof(why));
    if (!rc && st.state != XLMIG_MIRROR_NONE)
        rc = ctx->ops->mirror_status(ctx, dom, disk, &st);
    if (rc) {
        LOG_ERR(ctx, "storage move of disk %s of %s: cannot read its "
                "mirror (%s): left for the next start", disk, domain,
                xlmig_strerror(rc));
    } else if (!strcmp(st.target, neu)) {
        if (keep[0] != '1' && unlink(old) < 0 && errno != ENOENT)
            LOG_WARN(ctx, "cannot delete %s: %s", old, strerror(errno));
        LOG_INFO(ctx, "storage move of disk %s of %s finished: it is on %s; "
                 "%s %s", disk, domain, neu, old, keep[0] == '1' ?
                 "is kept" : "is deleted");
        unlink(file);
    } else if (!strcmp(st.target, old)) {
        if (unlink(neu) < 0 && errno != ENOENT)
            LOG_WARN(ctx, "cannot delete %s: %s", neu, strerror(errno));
        LOG_INFO(ctx, "storage move of disk %s of %s cancelled: its daemon "
                 "stopped before the switch; it stays on %s and %s is "
                 "deleted", disk, domain, old, neu);
        unlink(file);
    } else {
        LOG_WARN(ctx, "storage move of disk %s of %s: it is on %s, neither "
                 "%s nor %s; both are left alone", disk, domain, st.target,
                 old, neu);
        unlink(file);
    }
    if (dom)
        ctx->ops->detach(ctx, dom);
}

void xlmig_storage_reconcile(xlmig_ctx *ctx, const struct xlmigd_config *cfg)
{
    char dir[XLMIGD_PATH_MAX + 16], f[XLMIGD_PATH_MAX + 300];
    char text[2 * XLMIG_MIRROR_PATH_MAX + 256];
    struct dirent *de;
    DIR *d;

    snprintf(dir, sizeof(dir), "%s/storage", cfg->state_dir);
    d = opendir(dir);
    if (!d)
        return;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (de->d_name[0] == '.' ||
            (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")))
            continue;
        snprintf(f, sizeof(f), "%s/%s", dir, de->d_name);
        if (xlmig_record_read(f, text, sizeof(text)) == 0)
            settle(ctx, f, text);
    }
    closedir(d);
}
