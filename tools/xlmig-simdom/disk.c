/*
 * The simulated guest's disks: each writable disk is a raw image the
 * guest's I/O thread writes and reads at the configured rates, block by
 * block, with self-checking blocks (sim_layout.h).  The generation each
 * block must hold is kept in guest memory (the disk ledgers), so it
 * migrates with the memory, and a read checks what it finds against it.
 *
 * Holding a disk open is holding its lease: an OFD lock on the whole
 * image, exclusive for a writable disk and shared for a read-only one,
 * as libvirt's virtlockd locks a disk on a shared filesystem.  The
 * filesystem arbitrates between hosts, so no disk is open for writing in
 * two domains at once.  A domain takes its disks when it is made or first
 * runs and gives them back (flushed) when the toolstack releases them for
 * a migration; it never runs without them.
 */
#include "xlmig-simdom/simdom.h"

_Static_assert(SIM_BLOCK_SIZE == XLMIG_PAGE_SIZE, "a block is a page");
_Static_assert(SIM_SB_DISK_OFF + SIM_DISKS_MAX * sizeof(struct sim_disk_sb)
                   <= XLMIG_PAGE_SIZE, "the disk tables fit the superblock");


/* Take the lease on @fd: 0, or -errno (EAGAIN: someone else holds it). */
int lease_take(int fd, bool write, unsigned wait_ms)
{
    struct flock fl = {
        .l_type = write ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET,
        .l_start = 0, .l_len = 0,
    };

    for (unsigned waited = 0;; waited += 20) {
        if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
            return 0;
        if (errno != EAGAIN && errno != EACCES)
            return -errno;
        if (waited >= wait_ms)
            return -EAGAIN;
        usleep(20000);
    }
}

bool disk_io(const struct dom *d, unsigned i)
{
    const struct sim_disk *c = &d->cfg.disks[i];

    return c->target[0] && !c->ro && !c->cdrom;
}

/*
 * Open and lease every disk that has media.  @fresh: the domain is being
 * made, so record each writable disk's size (its ledger is laid out
 * next); else each image must hold the blocks the ledger describes.
 * A lease held elsewhere is waited for up to @wait_ms.  All or nothing:
 * on failure no disk stays open.
 */
int disk_attach(struct dom *d, bool fresh, unsigned wait_ms, char *why,
                size_t whylen)
{
    int rc = 0;

    if (d->disks_attached)
        return 0;
    for (unsigned i = 0; i < d->cfg.ndisks; i++) {
        const struct sim_disk *c = &d->cfg.disks[i];
        struct sdisk *k = &d->disks[i];
        bool rw = disk_io(d, i);
        struct stat st;
        int fd, r;

        k->fd = -1;
        if (!c->target[0])
            continue;
        fd = open(c->target, (rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
        if (fd < 0) {
            snprintf(why, whylen, "disk %s: cannot open %s: %s", c->vdev,
                     c->target, strerror(errno));
            rc = -1;
            break;
        }
        k->fd = fd;
        r = lease_take(fd, rw, wait_ms);
        if (r) {
            snprintf(why, whylen, "disk %s: %s is in use: %s", c->vdev,
                     c->target, r == -EAGAIN ?
                     "another domain holds its lease (open for writing "
                     "on this or another host)" : strerror(-r));
            rc = -1;
            break;
        }
        if (fstat(fd, &st) < 0) {
            snprintf(why, whylen, "disk %s: %s: %s", c->vdev, c->target,
                     strerror(errno));
            rc = -1;
            break;
        }
        if (!rw)
            continue;
        if (fresh) {
            k->size = (uint64_t)st.st_size;
            if (S_ISBLK(st.st_mode) &&
                (r = xlmig_path_size(c->target, &k->size))) {
                snprintf(why, whylen, "disk %s: cannot read the size of %s",
                         c->vdev, c->target);
                rc = -1;
                break;
            }
            /* Zero when no extent holds data: unwritten blocks must
             * stay zero, and are checked. */
            k->zero = S_ISREG(st.st_mode) &&
                      lseek(fd, 0, SEEK_DATA) < 0 && errno == ENXIO;
        } else {
            struct sim_disk_sb *t = sim_disk_sb(d->sb, i);
            uint64_t need = t->nr_blocks * SIM_BLOCK_SIZE, have;

            have = (uint64_t)st.st_size;
            if (S_ISBLK(st.st_mode) && xlmig_path_size(c->target, &have))
                have = 0;
            if (have < need) {
                snprintf(why, whylen, "disk %s: %s holds %" PRIu64
                         " bytes, the domain's disk %" PRIu64, c->vdev,
                         c->target, have, need);
                rc = -1;
                break;
            }
        }
    }
    if (rc) {
        for (unsigned i = 0; i < d->cfg.ndisks; i++)
            if (d->disks[i].fd >= 0) {
                close(d->disks[i].fd);
                d->disks[i].fd = -1;
            }
        return rc;
    }
    d->disks_attached = true;
    return 0;
}

/* Flush every disk and give its lease back.  The domain is paused. */
int disk_release(struct dom *d, char *why, size_t whylen)
{
    int rc = 0;

    if (!d->disks_attached)
        return 0;
    for (unsigned i = 0; i < d->cfg.ndisks; i++) {
        struct sdisk *k = &d->disks[i];
        bool mirrored;

        pthread_mutex_lock(&k->io);
        mirrored = k->m != NULL;
        pthread_mutex_unlock(&k->io);
        if (mirrored) {
            snprintf(why, whylen, "disk %s is being moved to %s (a storage "
                     "move): it cannot be released until that ends",
                     d->cfg.disks[i].vdev, k->m->path);
            return -1;
        }
        if (k->fd < 0)
            continue;
        if (disk_io(d, i) && fdatasync(k->fd) < 0 && !rc) {
            snprintf(why, whylen, "disk %s: flushing %s: %s",
                     d->cfg.disks[i].vdev, d->cfg.disks[i].target,
                     strerror(errno));
            rc = -1;
        }
    }
    if (rc)
        return rc;              /* kept: a disk not flushed is not given */
    for (unsigned i = 0; i < d->cfg.ndisks; i++) {
        if (d->disks[i].fd >= 0)
            close(d->disks[i].fd);      /* the lease goes with it */
        d->disks[i].fd = -1;
    }
    d->disks_attached = false;
    return 0;
}

/*
 * Lay out the disk ledgers at the end of guest memory (a domain being
 * made, its disks attached).  Returns the first ledger pfn (nr_pages when
 * no disk has one), or 0 when they do not fit, with the reason.
 */
uint64_t disk_layout(struct dom *d, uint64_t data_start, char *why,
                     size_t whylen)
{
    uint64_t pages = 0, pfn;

    for (unsigned i = 0; i < d->cfg.ndisks; i++)
        if (disk_io(d, i))
            pages += sim_disk_ledger_pages(d->disks[i].size /
                                           SIM_BLOCK_SIZE);
    if (pages == 0)
        return d->cfg.nr_pages;
    if (pages > (d->cfg.nr_pages - data_start) / 2) {
        snprintf(why, whylen, "the disks' block ledgers need %" PRIu64
                 " pages of guest memory (8 octets a 4 KiB block), more "
                 "than half of its %" PRIu64 " data pages: give the domain "
                 "more memory or smaller disks", pages,
                 d->cfg.nr_pages - data_start);
        return 0;
    }
    pfn = d->cfg.nr_pages - pages;
    d->sb->disk_start = pfn;
    d->sb->disk_pages = pages;
    for (unsigned i = 0; i < d->cfg.ndisks; i++) {
        struct sim_disk_sb *t = sim_disk_sb(d->sb, i);

        memset(t, 0, sizeof(*t));
        if (!disk_io(d, i))
            continue;
        t->nr_blocks = d->disks[i].size / SIM_BLOCK_SIZE;
        t->ledger_pfn = pfn;
        t->flags = d->disks[i].zero ? SIM_DISK_ZERO : 0;
        t->rng = d->cfg.seed * 0x9e3779b97f4a7c15u + 0x1000 + i;
        if (!t->rng)
            t->rng = 1;
        pfn += sim_disk_ledger_pages(t->nr_blocks);
    }
    return d->sb->disk_start;
}

/* The disk tables in the superblock must agree with the config and the
 * memory size (a restored domain: its superblock came in the stream). */
int disk_geometry_check(struct dom *d, char *why, size_t whylen)
{
    uint64_t pages = 0, lp, ds, start = d->sb->disk_start;

    sim_geometry(d->cfg.nr_pages, &lp, &ds);
    if (start && (start < ds + d->cfg.nr_vcpus || start >= d->cfg.nr_pages)) {
        snprintf(why, whylen, "the disk ledgers' place in guest memory is "
                 "damaged");
        return -1;
    }
    for (unsigned i = 0; i < d->cfg.ndisks; i++) {
        struct sim_disk_sb *t = sim_disk_sb(d->sb, i);

        if (!disk_io(d, i) || !t->nr_blocks)
            continue;
        if (t->ledger_pfn != d->sb->disk_start + pages ||
            t->nr_blocks > SIM_MAX_PAGES * 64) {
            snprintf(why, whylen, "disk %s: its ledger in guest memory is "
                     "damaged", d->cfg.disks[i].vdev);
            return -1;
        }
        pages += sim_disk_ledger_pages(t->nr_blocks);
    }
    if (pages != d->sb->disk_pages || (pages == 0) != (start == 0) ||
        (pages && start + pages != d->cfg.nr_pages)) {
        snprintf(why, whylen, "the disk ledgers in guest memory do not "
                 "match the domain's disks");
        return -1;
    }
    return 0;
}

static uint64_t *ledger(struct dom *d, unsigned i)
{
    return (uint64_t *)(d->ram +
                        sim_disk_sb(d->sb, i)->ledger_pfn * XLMIG_PAGE_SIZE);
}

static uint64_t pick_block(struct dom *d, struct sim_disk_sb *t)
{
    return dom_pick(d, t->nr_blocks, &t->rng, &t->seq_pos);
}

void lat_add(struct lat_hist *h, uint64_t ns)
{
    unsigned i;

    if (ns < 8) {
        i = (unsigned)ns;
    } else {
        unsigned e = 63u - (unsigned)__builtin_clzll(ns);
        i = (e - 2) * 8 + (unsigned)((ns >> (e - 3)) & 7);
    }
    h->b[i < LAT_BUCKETS ? i : LAT_BUCKETS - 1]++;
    h->n++;
}

uint64_t lat_pct(const struct lat_hist *h, double pct)
{
    uint64_t want, seen = 0;

    if (!h->n)
        return 0;
    want = (uint64_t)((double)h->n * pct / 100.0 + 0.5);
    if (want < 1)
        want = 1;
    for (unsigned i = 0; i < LAT_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= want) {
            unsigned e = i / 8 + 2, sub = i % 8;
            return i < 8 ? i + 1 : (uint64_t)(9 + sub) << (e - 3);
        }
    }
    return UINT64_MAX;
}

/* The guest's I/O takes the disk's io lock ahead of a storage move's
 * copy, which waits while anyone is waiting (mirror.c). */
static void io_lock(struct sdisk *k)
{
    __atomic_add_fetch(&k->io_waiting, 1, __ATOMIC_ACQ_REL);
    pthread_mutex_lock(&k->io);
    __atomic_sub_fetch(&k->io_waiting, 1, __ATOMIC_ACQ_REL);
}

/* One guest write: the next generation of a block, then the ledger once
 * the write completed.  A failed write is an I/O error the guest sees:
 * the disk stops (the block's contents are unknown from then on). */
static int guest_write(struct sdisk *k, struct sim_disk_sb *t, uint8_t *buf)
{
    struct dom *d = k->d;
    uint64_t *l = ledger(d, k->idx);
    uint64_t b = pick_block(d, t);
    uint64_t gen = l[b] + 1, t0;
    ssize_t r;

    sim_block_fill(buf, d->cfg.seed, k->idx, b, gen);
    t0 = xlmig_now_ns();
    io_lock(k);
    r = pwrite(k->fd, buf, SIM_BLOCK_SIZE, (off_t)(b * SIM_BLOCK_SIZE));
    if (r == (ssize_t)SIM_BLOCK_SIZE && k->m)
        mirror_write(k, buf, SIM_BLOCK_SIZE, (off_t)(b * SIM_BLOCK_SIZE));
    if (r == (ssize_t)SIM_BLOCK_SIZE && k->dirty)
        k->dirty[b >> 3] |= (uint8_t)(1u << (b & 7));
    /* As the guest sees it: waiting for the disk, and both writes. */
    lat_add(&k->wlat, xlmig_now_ns() - t0);
    pthread_mutex_unlock(&k->io);
    if (r != (ssize_t)SIM_BLOCK_SIZE) {
        dom_log("disk %s: write of block %" PRIu64 " failed: %s; the disk "
                "stops", d->cfg.disks[k->idx].vdev, b,
                r < 0 ? strerror(errno) : "short write");
        k->failed = true;
        return -1;
    }
    __atomic_store_n(&l[b], gen, __ATOMIC_RELEASE);
    t->writes++;
    return 0;
}

/* One guest read, checked against the ledger. */
static int guest_read(struct sdisk *k, struct sim_disk_sb *t, uint8_t *buf)
{
    struct dom *d = k->d;
    uint64_t b = rng_next(&t->rng) % t->nr_blocks;
    const char *why;
    enum sim_block_fault f;
    ssize_t r;

    io_lock(k);
    r = pread(k->fd, buf, SIM_BLOCK_SIZE, (off_t)(b * SIM_BLOCK_SIZE));
    pthread_mutex_unlock(&k->io);

    if (r < 0) {
        dom_log("disk %s: read of block %" PRIu64 " failed: %s; the disk "
                "stops", d->cfg.disks[k->idx].vdev, b, strerror(errno));
        k->failed = true;
        return -1;
    }
    if (r < (ssize_t)SIM_BLOCK_SIZE)
        memset(buf + r, 0, SIM_BLOCK_SIZE - (size_t)r);
    f = sim_block_check(buf, d->cfg.seed, k->idx, b,
                        __atomic_load_n(&ledger(d, k->idx)[b],
                                        __ATOMIC_ACQUIRE),
                        t->flags & SIM_DISK_ZERO, &why);
    t->reads++;
    if (f != SIM_BLOCK_OK) {
        if (!t->read_bad && !t->read_stale) {
            t->first_bad_block = b;
            t->first_bad_kind = f;
            dom_log("disk %s: read of block %" PRIu64 ": %s",
                    d->cfg.disks[k->idx].vdev, b, why);
        }
        if (f == SIM_BLOCK_STALE)
            t->read_stale++;
        else
            t->read_bad++;
    }
    return 0;
}

/* Operations due at @rate bytes per second since the epoch, less @done. */
static uint64_t due(uint64_t rate, uint64_t elapsed_ns, uint64_t done)
{
    double allowed;

    if (rate == SIM_RATE_MAX)
        return 16;
    allowed = (double)elapsed_ns / 1e9 * (double)rate / SIM_BLOCK_SIZE;
    return allowed > (double)done ? (uint64_t)allowed - done : 0;
}

static void *io_main(void *arg)
{
    struct sdisk *k = arg;
    struct dom *d = k->d;
    struct sim_disk_sb *t = sim_disk_sb(d->sb, k->idx);
    uint64_t wrate = d->cfg.disk_rate, rrate = d->cfg.disk_read_rate;
    uint8_t *buf = aligned_alloc(SIM_BLOCK_SIZE, SIM_BLOCK_SIZE);

    pthread_mutex_lock(&d->lock);
    k->epoch_ns = xlmig_now_ns();
    k->epoch_w = k->epoch_r = 0;
    for (;;) {
        uint64_t now, w, r;

        if (d->quit)
            break;
        if (d->pause_req) {
            d->parked++;
            pthread_cond_broadcast(&d->parked_cond);
            while (d->pause_req && !d->quit)
                pthread_cond_wait(&d->cond, &d->lock);
            d->parked--;
            k->epoch_ns = xlmig_now_ns();
            k->epoch_w = k->epoch_r = 0;
            continue;
        }
        if (!buf || k->failed || k->fd < 0 || (!wrate && !rrate)) {
            wait_until(d, xlmig_now_ns() + 100000000u);
            continue;
        }
        now = xlmig_now_ns();
        w = due(wrate, now - k->epoch_ns, k->epoch_w);
        r = due(rrate, now - k->epoch_ns, k->epoch_r);
        if (!w && !r) {
            wait_until(d, now + 1000000);
            continue;
        }
        if (w > 16)
            w = 16;
        if (r > 16)
            r = 16;
        pthread_mutex_unlock(&d->lock);
        for (uint64_t i = 0; i < w && !k->failed; i++)
            if (guest_write(k, t, buf) == 0)
                k->epoch_w++;
        for (uint64_t i = 0; i < r && !k->failed; i++)
            if (guest_read(k, t, buf) == 0)
                k->epoch_r++;
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    free(buf);
    return NULL;
}

/* The I/O threads, one per writable disk: they run (and park) with the
 * vCPUs.  Caller holds d->lock. */
int disk_start_io(struct dom *d)
{
    for (unsigned i = 0; i < d->cfg.ndisks; i++) {
        struct sdisk *k = &d->disks[i];
        int r;

        if (!disk_io(d, i) || !sim_disk_sb(d->sb, i)->nr_blocks)
            continue;
        r = pthread_create(&k->thread, NULL, io_main, k);
        if (r)
            return -r;
        k->running = true;
        d->nthreads++;
    }
    return 0;
}

void disk_stop_io(struct dom *d)
{
    for (unsigned i = 0; i < d->cfg.ndisks; i++)
        if (d->disks[i].running) {
            pthread_join(d->disks[i].thread, NULL);
            d->disks[i].running = false;
        }
    for (unsigned i = 0; i < d->cfg.ndisks; i++)
        if (d->disks[i].fd >= 0) {
            close(d->disks[i].fd);
            d->disks[i].fd = -1;
        }
}

/*
 * Verify every writable disk against its ledger (the domain paused),
 * appending one line per disk to @text.  Returns the number of faults.
 */
uint64_t disk_verify(struct dom *d, char *text, size_t len, int *n)
{
    uint64_t faults = 0;

    for (unsigned i = 0; i < d->cfg.ndisks && *n >= 0 && (size_t)*n < len;
         i++) {
        struct sim_disk_sb *t = sim_disk_sb(d->sb, i);
        const struct sim_disk *c = &d->cfg.disks[i];
        struct sim_disk_verify v;
        int fd = d->disks[i].fd;
        uint64_t f;

        if (!disk_io(d, i) || !t->nr_blocks)
            continue;
        if (fd < 0)
            fd = open(c->target, O_RDONLY | O_CLOEXEC); /* released */
        if (fd < 0) {
            *n += snprintf(text + *n, len - (size_t)*n,
                           "\ndisk %s: FAILED: cannot open %s: %s", c->vdev,
                           c->target, strerror(errno));
            faults++;
            continue;
        }
        sim_verify_disk(fd, d->cfg.seed, i, ledger(d, i), t->nr_blocks,
                        t->flags & SIM_DISK_ZERO, &v);
        if (fd != d->disks[i].fd)
            close(fd);
        f = v.bad + v.stale + t->read_bad + t->read_stale + (v.err != 0);
        faults += f;
        if (v.err)
            *n += snprintf(text + *n, len - (size_t)*n,
                           "\ndisk %s: FAILED: reading %s: %s", c->vdev,
                           c->target, strerror(-v.err));
        else
            *n += snprintf(text + *n, len - (size_t)*n,
                           "\ndisk %s: %s: %" PRIu64 " blocks checked, %"
                           PRIu64 " written, %" PRIu64 " bad, %" PRIu64
                           " stale; %" PRIu64 " reads checked, %" PRIu64
                           " bad, %" PRIu64 " stale", c->vdev,
                           f ? "FAILED" : "ok", v.blocks_checked,
                           v.blocks_written, v.bad, v.stale, t->reads,
                           t->read_bad, t->read_stale);
        if (v.bad + v.stale && *n >= 0 && (size_t)*n < len)
            *n += snprintf(text + *n, len - (size_t)*n,
                           "; first block %" PRIu64 ": %s", v.first_block,
                           v.first_reason);
        else if (t->read_bad + t->read_stale && *n >= 0 &&
                 (size_t)*n < len)
            *n += snprintf(text + *n, len - (size_t)*n,
                           "; a read found block %" PRIu64 " %s",
                           t->first_bad_block,
                           t->first_bad_kind == SIM_BLOCK_STALE ? "stale" :
                                                                  "bad");
    }
    return faults;
}

/* The "diskN=" lines of info. */
void disk_info(struct dom *d, char *text, size_t len, int *n)
{
    for (unsigned i = 0; i < d->cfg.ndisks && *n >= 0 && (size_t)*n < len;
         i++) {
        struct sim_disk_sb *t = sim_disk_sb(d->sb, i);
        const struct sim_disk *c = &d->cfg.disks[i];

        char mir[SIM_PATH_MAX + 96] = "", lat[96];

        pthread_mutex_lock(&d->disks[i].io);
        snprintf(lat, sizeof(lat), " wlat_n=%" PRIu64 " wlat_p50_us=%.1f "
                 "wlat_p99_us=%.1f", d->disks[i].wlat.n,
                 (double)lat_pct(&d->disks[i].wlat, 50) / 1e3,
                 (double)lat_pct(&d->disks[i].wlat, 99) / 1e3);
        if (d->disks[i].m) {
            const struct smirror *m = d->disks[i].m;
            snprintf(mir, sizeof(mir), " mirror=%s:%s:%" PRIu64 "/%" PRIu64,
                     m->state == MIRROR_COPYING ? "copying" :
                     m->state == MIRROR_READY ? "ready" : "failed",
                     m->path, m->pos, m->size);
        }
        pthread_mutex_unlock(&d->disks[i].io);
        *n += snprintf(text + *n, len - (size_t)*n,
                       "disk%u=%s %s %s blocks=%" PRIu64 " writes=%" PRIu64
                       " reads=%" PRIu64 " read_bad=%" PRIu64
                       " read_stale=%" PRIu64 "%s%s%s\n", i, c->vdev,
                       c->target[0] ? c->target : "-",
                       !c->target[0] ? "empty" :
                       d->disks[i].fd >= 0 ? "attached" : "released",
                       disk_io(d, i) ? t->nr_blocks : 0,
                       disk_io(d, i) ? t->writes : 0,
                       disk_io(d, i) ? t->reads : 0,
                       disk_io(d, i) ? t->read_bad : 0,
                       disk_io(d, i) ? t->read_stale : 0,
                       d->disks[i].failed ? " failed" : "",
                       disk_io(d, i) ? lat : "", mir);
    }
}

/* ---- a migration's dirty-block tracking ---- */

int disk_track_start(struct dom *d, unsigned i)
{
    struct sdisk *k;
    uint64_t n;
    uint8_t *bm;

    if (i >= d->cfg.ndisks || !disk_io(d, i))
        return -EINVAL;
    k = &d->disks[i];
    n = sim_disk_sb(d->sb, i)->nr_blocks;
    bm = calloc((n + 7) / 8 ? (n + 7) / 8 : 1, 1);
    if (!bm)
        return -ENOMEM;
    pthread_mutex_lock(&k->io);
    free(k->dirty);
    k->dirty = bm;
    pthread_mutex_unlock(&k->io);
    return 0;
}

long disk_track_peek(struct dom *d, unsigned i, uint8_t **out)
{
    struct sdisk *k;
    size_t len;
    uint8_t *bm;

    if (i >= d->cfg.ndisks || !disk_io(d, i))
        return -EINVAL;
    k = &d->disks[i];
    len = (sim_disk_sb(d->sb, i)->nr_blocks + 7) / 8;
    bm = calloc(len ? len : 1, 1);
    if (!bm)
        return -ENOMEM;
    pthread_mutex_lock(&k->io);
    if (!k->dirty) {
        pthread_mutex_unlock(&k->io);
        free(bm);
        return -ENOENT;
    }
    memcpy(bm, k->dirty, len);
    memset(k->dirty, 0, len);
    pthread_mutex_unlock(&k->io);
    *out = bm;
    return (long)len;
}

void disk_track_stop(struct dom *d, unsigned i)
{
    struct sdisk *k;

    if (i >= SIM_DISKS_MAX)
        return;
    k = &d->disks[i];
    pthread_mutex_lock(&k->io);
    free(k->dirty);
    k->dirty = NULL;
    pthread_mutex_unlock(&k->io);
}
