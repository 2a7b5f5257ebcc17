/*
 * A storage move's mirror (docs/storage.md): the domain process copies
 * one disk to a new image while the guest runs on, and from the moment
 * the mirror starts every guest write goes to both images before the
 * guest sees it complete (QEMU's write-blocking mirror).  The bulk copy
 * skips holes and zero blocks, so the new image stays sparse, and runs
 * one chunk at a time under the disk's io lock, so no guest write can
 * fall between its read of the old image and its write of the new one.
 *
 * Once the copy has caught up the mirror is ready; the switch (pivot)
 * flushes the new image, records it in the domain's config file
 * (atomically: a domain restarted from its directory opens the image
 * the file names) and only then drops the old image and its lease.  A
 * failure before that leaves the guest on the old image, which has
 * every write; a mirror whose new image refuses a write (a full
 * filesystem, an I/O error) fails, and the guest's write completes on
 * the old image alone.
 */
#include "xlmig-simdom/simdom.h"

#define COPY_CHUNK (64u * SIM_BLOCK_SIZE)

static const char *state_name(int s)
{
    return s == MIRROR_COPYING ? "copying" : s == MIRROR_READY ? "ready" :
           s == MIRROR_FAILED ? "failed" : "none";
}

static void mirror_fail(struct smirror *m, const char *what, int err)
{
    if (m->state == MIRROR_FAILED)
        return;
    m->state = MIRROR_FAILED;
    snprintf(m->error, sizeof(m->error), "%s %s: %s", what, m->path,
             strerror(err));
    dom_log("mirror to %s failed: %s", m->path, m->error);
}

void mirror_write(struct sdisk *k, const void *buf, size_t len, off_t off)
{
    struct smirror *m = k->m;
    ssize_t r;

    if (m->state == MIRROR_FAILED)
        return;
    r = pwrite(m->fd, buf, len, off);
    if (r != (ssize_t)len) {
        mirror_fail(m, "writing", r < 0 ? errno : ENOSPC);
        return;
    }
    m->mirrored++;
}

static bool zero_block(const uint8_t *p, size_t len)
{
    static const uint8_t z[SIM_BLOCK_SIZE];

    return len <= sizeof(z) && !memcmp(p, z, len);
}

/*
 * Copy [m->pos, m->pos + COPY_CHUNK) or to the next data, io held.
 * Returns the octets written to the new image, or -1 (the mirror
 * failed).
 */
static ssize_t copy_chunk(struct sdisk *k, struct smirror *m, uint8_t *buf)
{
    off_t data = lseek(k->fd, (off_t)m->pos, SEEK_DATA);
    size_t n, done = 0, wrote = 0;
    ssize_t r;

    if (data < 0 && errno == ENXIO) {
        m->pos = m->size;               /* only a hole is left */
        return 0;
    }
    if (data > (off_t)m->pos) {         /* skip the hole */
        m->pos = (uint64_t)data & ~(uint64_t)(SIM_BLOCK_SIZE - 1);
        if (m->pos >= m->size) {
            m->pos = m->size;
            return 0;
        }
    }
    n = m->size - m->pos < COPY_CHUNK ? (size_t)(m->size - m->pos) :
                                        COPY_CHUNK;
    r = pread(k->fd, buf, n, (off_t)m->pos);
    if (r < 0) {
        mirror_fail(m, "reading the old image for", errno);
        return -1;
    }
    if (r == 0) {                       /* the image shrank: no more */
        m->pos = m->size;
        return 0;
    }
    n = (size_t)r;
    while (done < n) {
        size_t run = 0, b = n - done < SIM_BLOCK_SIZE ? n - done :
                                                       SIM_BLOCK_SIZE;

        if (zero_block(buf + done, b)) {
            done += b;
            continue;
        }
        /* A run of blocks with data: one write. */
        while (done + run < n) {
            b = n - done - run < SIM_BLOCK_SIZE ? n - done - run :
                                                 SIM_BLOCK_SIZE;
            if (zero_block(buf + done + run, b))
                break;
            run += b;
        }
        r = pwrite(m->fd, buf + done, run, (off_t)(m->pos + done));
        if (r != (ssize_t)run) {
            mirror_fail(m, "writing", r < 0 ? errno : ENOSPC);
            return -1;
        }
        wrote += run;
        done += run;
    }
    m->pos += n;
    return (ssize_t)wrote;
}

static void *copy_main(void *arg)
{
    struct sdisk *k = arg;
    struct smirror *m = k->m;
    uint8_t *buf = aligned_alloc(SIM_BLOCK_SIZE, COPY_CHUNK);

    for (;;) {
        uint64_t now, due;

        pthread_mutex_lock(&k->io);
        if (m->stop || m->state != MIRROR_COPYING) {
            pthread_mutex_unlock(&k->io);
            break;
        }
        if (!buf) {
            mirror_fail(m, "no memory to copy to", ENOMEM);
        } else if (m->pos >= m->size) {
            m->state = MIRROR_READY;
            dom_log("disk %s: mirror to %s ready: %" PRIu64 " of %" PRIu64
                    " octets copied (the rest holes or zeros), %" PRIu64
                    " guest writes mirrored, in %.1f s",
                    k->d->cfg.disks[k->idx].vdev, m->path, m->copied,
                    m->size, m->mirrored,
                    (double)(xlmig_now_ns() - m->started_ns) / 1e9);
        } else {
            ssize_t w = copy_chunk(k, m, buf);
            if (w > 0)
                m->copied += (uint64_t)w;
        }
        pthread_mutex_unlock(&k->io);
        /* The guest's I/O first: a mutex is not fair, and a copy that
         * took it back at once would hold the guest off for a whole
         * chunk after chunk. */
        for (unsigned spins = 0;
             __atomic_load_n(&k->io_waiting, __ATOMIC_ACQUIRE) &&
             spins < 1000; spins++)
            sched_yield();
        if (!m->rate)
            continue;
        /* The cap: the octets written so far, at m->rate. */
        due = m->started_ns + (uint64_t)((double)m->copied * 1e9 /
                                         (double)m->rate);
        while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE) &&
               (now = xlmig_now_ns()) < due) {
            uint64_t ns = due - now > 50000000u ? 50000000u : due - now;
            struct timespec ts = { 0, (long)ns };
            nanosleep(&ts, NULL);
        }
    }
    free(buf);
    return NULL;
}

static struct sdisk *writable(struct dom *d, unsigned i, char *why,
                              size_t whylen)
{
    if (i >= d->cfg.ndisks || !disk_io(d, i) ||
        !sim_disk_sb(d->sb, i)->nr_blocks) {
        snprintf(why, whylen, "no writable disk %u in domain %s", i,
                 d->cfg.name);
        return NULL;
    }
    return &d->disks[i];
}

int mirror_start(struct dom *d, unsigned i, const char *path, uint64_t rate,
                 char *why, size_t whylen)
{
    struct sdisk *k;
    struct smirror *m = NULL;
    struct stat so, sn;
    int fd = -1, r, rc = XLMIG_ERR_INVAL;

    pthread_mutex_lock(&d->lock);
    if (!(k = writable(d, i, why, whylen)))
        goto out;
    pthread_mutex_lock(&k->io);
    if (k->m) {
        snprintf(why, whylen, "disk %s is already being moved to %s",
                 d->cfg.disks[i].vdev, k->m->path);
        rc = XLMIG_ERR_STATE;
    } else if (k->fd < 0 || k->failed) {
        snprintf(why, whylen, "disk %s is %s", d->cfg.disks[i].vdev,
                 k->failed ? "stopped by an I/O error" :
                 "released (the domain is migrating or not started)");
        rc = XLMIG_ERR_STATE;
    } else {
        rc = 0;
    }
    pthread_mutex_unlock(&k->io);
    if (rc)
        goto out;
    rc = XLMIG_ERR_IO;
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
        goto out;
    }
    if (fstat(fd, &sn) < 0 || fstat(k->fd, &so) < 0) {
        snprintf(why, whylen, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (sn.st_dev == so.st_dev && sn.st_ino == so.st_ino) {
        snprintf(why, whylen, "%s is the disk's own image", path);
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    if (!S_ISREG(sn.st_mode) || sn.st_size < so.st_size) {
        snprintf(why, whylen, "%s is not a regular file of at least %lld "
                 "octets", path, (long long)so.st_size);
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    r = lease_take(fd, true, 0);
    if (r) {
        snprintf(why, whylen, "%s is in use: %s", path, r == -EAGAIN ?
                 "another domain holds its lease" : strerror(-r));
        rc = XLMIG_ERR_LEASED;
        goto out;
    }
    m = calloc(1, sizeof(*m));
    if (!m) {
        rc = XLMIG_ERR_NOMEM;
        snprintf(why, whylen, "out of memory");
        goto out;
    }
    m->fd = fd;
    snprintf(m->path, sizeof(m->path), "%s", path);
    m->state = MIRROR_COPYING;
    m->size = (uint64_t)so.st_size;
    m->rate = rate;
    m->started_ns = xlmig_now_ns();
    pthread_mutex_lock(&k->io);
    k->m = m;                   /* from here every guest write is mirrored */
    memset(&k->wlat, 0, sizeof(k->wlat));
    r = pthread_create(&m->thread, NULL, copy_main, k);
    if (r)
        k->m = NULL;
    pthread_mutex_unlock(&k->io);
    if (r) {
        snprintf(why, whylen, "cannot start the copy: %s", strerror(r));
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    dom_log("disk %s: mirroring %s to %s (%" PRIu64 " octets, cap %"
            PRIu64 " octets/s)", d->cfg.disks[i].vdev, d->cfg.disks[i].target,
            path, m->size, rate);
    pthread_mutex_unlock(&d->lock);
    return 0;
out:
    pthread_mutex_unlock(&d->lock);
    if (m && rc)
        free(m);
    if (fd >= 0 && rc)
        close(fd);
    return rc;
}

int mirror_status(struct dom *d, unsigned i, char *text, size_t len)
{
    struct sdisk *k;
    int n;

    pthread_mutex_lock(&d->lock);
    if (!(k = writable(d, i, text, len))) {
        pthread_mutex_unlock(&d->lock);
        return XLMIG_ERR_INVAL;
    }
    pthread_mutex_lock(&k->io);
    if (!k->m)
        n = snprintf(text, len, "state=none\ntarget=%s\n",
                     d->cfg.disks[i].target);
    else
        n = snprintf(text, len, "state=%s size=%" PRIu64 " done=%" PRIu64
                     " copied=%" PRIu64 " mirrored=%" PRIu64 " p50_ns=%"
                     PRIu64 " p99_ns=%" PRIu64 "\ntarget=%s\nnew=%s\n"
                     "error=%s\n", state_name(k->m->state), k->m->size,
                     k->m->pos, k->m->copied, k->m->mirrored,
                     lat_pct(&k->wlat, 50), lat_pct(&k->wlat, 99),
                     d->cfg.disks[i].target, k->m->path, k->m->error);
    pthread_mutex_unlock(&k->io);
    pthread_mutex_unlock(&d->lock);
    return n < 0 || (size_t)n >= len ? XLMIG_ERR_INVAL : n;
}

/* Stop @k's copy thread and drop its mirror (d->lock held, io not). */
static void mirror_drop(struct sdisk *k)
{
    struct smirror *m = k->m;

    __atomic_store_n(&m->stop, true, __ATOMIC_RELEASE);
    if (!m->joined)
        pthread_join(m->thread, NULL);
    pthread_mutex_lock(&k->io);
    k->m = NULL;
    memset(&k->wlat, 0, sizeof(k->wlat));
    pthread_mutex_unlock(&k->io);
    if (m->fd >= 0)
        close(m->fd);           /* its lease goes with it */
    free(m);
}

/* Write the domain's config with disk @i on @path, durably. */
static int config_switch(struct dom *d, unsigned i, const char *path,
                         char *why, size_t whylen)
{
    static struct sim_config c;         /* large; d->lock held */
    char *text = malloc(SIM_CONFIG_MAX);
    char p[PATH_MAX], tmp[PATH_MAX + 8];
    int n, fd = -1, err = 0;

    if (!text) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    c = d->cfg;
    snprintf(c.disks[i].target, sizeof(c.disks[i].target), "%s", path);
    n = sim_config_format(&c, text, SIM_CONFIG_MAX);
    snprintf(p, sizeof(p), "%s/config", d->dir);
    snprintf(tmp, sizeof(tmp), "%s.new", p);
    if (n < 0)
        err = EINVAL;
    else if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                        0600)) < 0 ||
             xlmig_write_all(fd, text, (size_t)n) || fsync(fd) ||
             close(fd) || (fd = -1, rename(tmp, p)))
        err = errno ? errno : EIO;
    if (err) {
        if (fd >= 0)
            close(fd);
        unlink(tmp);
        snprintf(why, whylen, "cannot record the new image in %s: %s", p,
                 strerror(err));
        free(text);
        return -1;
    }
    if ((fd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(text);
    return 0;
}

int mirror_pivot(struct dom *d, unsigned i, char *why, size_t whylen)
{
    struct sdisk *k;
    struct smirror *m;
    int rc = XLMIG_ERR_STATE, old;
    char oldpath[SIM_PATH_MAX + 1];

    pthread_mutex_lock(&d->lock);
    if (!(k = writable(d, i, why, whylen))) {
        pthread_mutex_unlock(&d->lock);
        return XLMIG_ERR_INVAL;
    }
    pthread_mutex_lock(&k->io);
    m = k->m;
    if (!m || m->state != MIRROR_READY) {
        if (!m)
            snprintf(why, whylen, "disk %s has no mirror",
                     d->cfg.disks[i].vdev);
        else if (m->state == MIRROR_FAILED)
            snprintf(why, whylen, "the mirror failed: %s", m->error);
        else
            snprintf(why, whylen, "the copy is not complete (%" PRIu64
                     " of %" PRIu64 " octets)", m->pos, m->size);
        pthread_mutex_unlock(&k->io);
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    pthread_mutex_unlock(&k->io);
    pthread_join(m->thread, NULL);      /* it ended when it got ready */
    m->joined = true;
    pthread_mutex_lock(&k->io);
    rc = XLMIG_ERR_IO;
    if (m->state != MIRROR_READY) {
        snprintf(why, whylen, "the mirror failed: %s", m->error);
    } else if (fdatasync(m->fd) < 0) {
        mirror_fail(m, "flushing", errno);
        snprintf(why, whylen, "%s", m->error);
    } else if (config_switch(d, i, m->path, why, whylen) == 0) {
        rc = 0;
    }
    if (rc) {
        /* Still on the old image, which has every write. */
        pthread_mutex_unlock(&k->io);
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    old = k->fd;
    k->fd = m->fd;
    m->fd = -1;
    k->m = NULL;
    memset(&k->wlat, 0, sizeof(k->wlat));
    snprintf(oldpath, sizeof(oldpath), "%s", d->cfg.disks[i].target);
    snprintf(d->cfg.disks[i].target, sizeof(d->cfg.disks[i].target), "%s",
             m->path);
    pthread_mutex_unlock(&k->io);
    close(old);                 /* the old image's lease goes with it */
    dom_log("disk %s: switched from %s to %s (%" PRIu64 " guest writes "
            "mirrored)", d->cfg.disks[i].vdev, oldpath, m->path,
            m->mirrored);
    pthread_mutex_unlock(&d->lock);
    free(m);
    return 0;
}

int mirror_cancel(struct dom *d, unsigned i, char *why, size_t whylen)
{
    struct sdisk *k;

    pthread_mutex_lock(&d->lock);
    if (!(k = writable(d, i, why, whylen))) {
        pthread_mutex_unlock(&d->lock);
        return XLMIG_ERR_INVAL;
    }
    if (k->m) {
        dom_log("disk %s: mirror to %s cancelled; the disk stays on %s",
                d->cfg.disks[i].vdev, k->m->path, d->cfg.disks[i].target);
        mirror_drop(k);
    }
    pthread_mutex_unlock(&d->lock);
    return 0;
}

void mirror_stop_all(struct dom *d)
{
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 0; i < d->cfg.ndisks; i++)
        if (d->disks[i].m)
            mirror_drop(&d->disks[i]);
    pthread_mutex_unlock(&d->lock);
}
