/* The sim backend's storage moves (see sim_storage.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cursor.h"
#include "backend/sim/sim_config.h"
#include "backend/sim/sim_host.h"
#include "backend/sim/sim_ipc.h"
#include "backend/sim/sim_storage.h"

/* The index of disk @vdev in @name's configuration, or a reason. */
static int disk_index(xlmig_ctx *ctx, const char *name, const char *vdev,
                      uint32_t *idx, char *why, size_t whylen)
{
    static __thread struct sim_config cfg;
    char p[PATH_MAX], r[256];

    (void)ctx;
    if (sim_path(p, sizeof(p), name, "config") ||
        sim_config_load(p, &cfg, r, sizeof(r)))
        return xlmig_why(why, whylen, XLMIG_ERR_NOTFOUND, "domain %s: %s",
                         name, r);
    for (unsigned i = 0; i < cfg.ndisks; i++)
        if (!strcmp(cfg.disks[i].vdev, vdev)) {
            *idx = i;
            return 0;
        }
    return xlmig_why(why, whylen, XLMIG_ERR_NOTFOUND, "domain %s has no "
                     "disk %s", name, vdev);
}

/* One request about disk @vdev; the reply's text in @why on failure,
 * or in *@reply (caller frees) on success. */
static int call(xlmig_ctx *ctx, const char *name, const char *vdev,
                uint32_t type, const uint8_t *extra, size_t elen,
                void **reply, size_t *rlen, char *why, size_t whylen)
{
    uint8_t req[16 + SIM_PATH_MAX + 1];
    uint32_t idx;
    void *rep = NULL;
    size_t len = 0;
    int rc = disk_index(ctx, name, vdev, &idx, why, whylen);

    if (rc)
        return rc;
    if (elen > sizeof(req) - 4)
        return xlmig_why(why, whylen, XLMIG_ERR_INVAL, "request too long");
    xlmig_put_u32(req, idx);
    if (elen)
        memcpy(req + 4, extra, elen);
    rc = sim_dom_call(ctx, name, type, req, 4 + elen, &rep, &len);
    if (rc) {
        xlmig_why(why, whylen, rc, "disk %s of %s: %.*s", vdev, name,
                  len ? (int)len : (int)strlen(xlmig_strerror(rc)),
                  len ? (char *)rep : xlmig_strerror(rc));
        free(rep);
        return rc;
    }
    if (reply) {
        *reply = rep;
        *rlen = len;
    } else {
        free(rep);
    }
    return 0;
}

int sim_mirror_start(xlmig_ctx *ctx, const char *name, const char *vdev,
                     const char *path, uint64_t rate, char *why,
                     size_t whylen)
{
    uint8_t x[12 + SIM_PATH_MAX];
    size_t l = strlen(path);

    if (path[0] != '/' || l > SIM_PATH_MAX)
        return xlmig_why(why, whylen, XLMIG_ERR_INVAL, "%s: a sim disk's "
                         "image needs an absolute path of at most %d "
                         "octets", path, SIM_PATH_MAX);
    xlmig_put_u32(x, 0);
    xlmig_put_u64(x + 4, rate);
    memcpy(x + 12, path, l);
    return call(ctx, name, vdev, SIM_MSG_MIRROR_START, x, 12 + l, NULL,
                NULL, why, whylen);
}

int sim_mirror_status(xlmig_ctx *ctx, const char *name, const char *vdev,
                      struct xlmig_mirror_status *st)
{
    void *rep = NULL;
    size_t len = 0;
    int rc = call(ctx, name, vdev, SIM_MSG_MIRROR_STATUS, NULL, 0, &rep,
                  &len, st->error, sizeof(st->error));

    if (rc)
        return rc;
    if (sim_mirror_status_parse(rep, len, st)) {
        LOG_ERR(ctx, "domain %s: a malformed mirror status for %s", name,
                vdev);
        rc = XLMIG_ERR_BACKEND;
    }
    free(rep);
    return rc;
}

int sim_mirror_pivot(xlmig_ctx *ctx, const char *name, const char *vdev,
                     char *why, size_t whylen)
{
    return call(ctx, name, vdev, SIM_MSG_MIRROR_PIVOT, NULL, 0, NULL, NULL,
                why, whylen);
}

int sim_mirror_cancel(xlmig_ctx *ctx, const char *name, const char *vdev,
                      char *why, size_t whylen)
{
    return call(ctx, name, vdev, SIM_MSG_MIRROR_CANCEL, NULL, 0, NULL, NULL,
                why, whylen);
}

/* ---- disks copied with the domain: the source ---- */

struct sim_copy {
    unsigned n;
    struct copy_disk {
        uint32_t idx;           /* in the config */
        int fd;                 /* the image, read-only */
        uint64_t size, nblocks;
        uint8_t *due;           /* blocks to send */
        bool tracked;
        char to[SIM_PATH_MAX + 1];
    } d[SIM_DISKS_MAX];
    uint64_t blk[XLMIG_DISK_BATCH_MAX];
    uint8_t *buf;               /* XLMIG_DISK_BATCH_MAX blocks */
};

void sim_copy_free(struct sim_copy *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < c->n; i++) {
        if (c->d[i].fd >= 0)
            close(c->d[i].fd);
        free(c->d[i].due);
    }
    free(c->buf);
    free(c);
}

int sim_copy_new(xlmig_ctx *ctx, const struct sim_config *cfg,
                 const struct xlmig_disk_map *map, unsigned n,
                 struct sim_copy **out, char *why, size_t whylen)
{
    struct sim_copy *c = calloc(1, sizeof(*c));

    (void)ctx;
    if (!c || !(c->buf = malloc(XLMIG_DISK_BATCH_MAX * XLMIG_DISK_BLOCK))) {
        sim_copy_free(c);
        return xlmig_why(why, whylen, XLMIG_ERR_NOMEM, "out of memory");
    }
    for (unsigned m = 0; m < n; m++) {
        unsigned i;
        for (i = 0; i < cfg->ndisks; i++)
            if (!strcmp(cfg->disks[i].vdev, map[m].vdev))
                break;
        if (i == cfg->ndisks) {
            sim_copy_free(c);
            return xlmig_why(why, whylen, XLMIG_ERR_NOTFOUND, "--disk-map "
                             "%s: %s has no such disk", map[m].vdev,
                             cfg->name);
        }
        if (cfg->disks[i].ro || cfg->disks[i].cdrom ||
            !cfg->disks[i].target[0]) {
            sim_copy_free(c);
            return xlmig_why(why, whylen, XLMIG_ERR_INVAL, "--disk-map %s: "
                             "a read-only or removable disk is not copied",
                             map[m].vdev);
        }
        if (map[m].path[0] != '/' || strlen(map[m].path) > SIM_PATH_MAX) {
            sim_copy_free(c);
            return xlmig_why(why, whylen, XLMIG_ERR_INVAL, "--disk-map %s: "
                             "the path must be absolute, at most %d octets",
                             map[m].vdev, SIM_PATH_MAX);
        }
    }
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        const struct sim_disk *k = &cfg->disks[i];
        struct copy_disk *x = &c->d[c->n];
        struct stat st;

        if (k->ro || k->cdrom || !k->target[0])
            continue;
        x->idx = i;
        x->fd = open(k->target, O_RDONLY | O_CLOEXEC);
        c->n++;
        if (x->fd < 0 || fstat(x->fd, &st) < 0) {
            int e = errno;
            sim_copy_free(c);
            return xlmig_why(why, whylen, XLMIG_ERR_IO, "disk %s: cannot "
                             "read %s: %s", k->vdev, k->target, strerror(e));
        }
        if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
            sim_copy_free(c);
            return xlmig_why(why, whylen, XLMIG_ERR_INVAL, "disk %s: %s is "
                             "not an image file with data: only file "
                             "images are copied", k->vdev, k->target);
        }
        x->size = (uint64_t)st.st_size;
        x->nblocks = (x->size + XLMIG_DISK_BLOCK - 1) / XLMIG_DISK_BLOCK;
        x->due = calloc((x->nblocks + 7) / 8, 1);
        if (!x->due) {
            sim_copy_free(c);
            return xlmig_why(why, whylen, XLMIG_ERR_NOMEM, "out of memory");
        }
        snprintf(x->to, sizeof(x->to), "%s", k->target);
        for (unsigned m = 0; m < n; m++)
            if (!strcmp(map[m].vdev, k->vdev))
                snprintf(x->to, sizeof(x->to), "%s", map[m].path);
    }
    *out = c;
    return 0;
}

void sim_copy_config(const struct sim_copy *c, struct sim_config *cfg)
{
    for (unsigned i = 0; i < c->n; i++)
        snprintf(cfg->disks[c->d[i].idx].target,
                 sizeof(cfg->disks[c->d[i].idx].target), "%s", c->d[i].to);
}

static int track(xlmig_ctx *ctx, const char *name, uint32_t idx,
                 uint32_t type, void **bm, size_t *len)
{
    uint8_t req[4];

    xlmig_put_u32(req, idx);
    return sim_dom_call(ctx, name, type, req, sizeof(req), bm, len);
}

int sim_copy_start(xlmig_ctx *ctx, const char *name, struct sim_copy *c,
                   struct xlmig_stream_writer *w)
{
    for (unsigned i = 0; i < c->n; i++) {
        struct copy_disk *x = &c->d[i];
        int rc = track(ctx, name, x->idx, SIM_MSG_DISK_TRACK_START, NULL,
                       NULL);
        if (rc) {
            LOG_ERR(ctx, "%s: cannot track the writes to disk %u",
                    name, x->idx);
            return rc;
        }
        x->tracked = true;
        xlmig_write_disk_image(w, x->idx, x->size);
        LOG_INFO(ctx, "%s: disk %u (%" PRIu64 " octets) is copied to %s",
                 name, x->idx, x->size, x->to);
    }
    return w->err;
}

/* Send the batch of @n blocks (contents in c->buf for the data ones). */
static int flush_batch(struct sim_copy *c, struct xlmig_stream_writer *w,
                       uint32_t idx, unsigned n, unsigned nd)
{
    if (n)
        xlmig_write_disk_data(w, idx, c->blk, n, c->buf, nd);
    return w->err;
}

/* Blocks [b, e) of disk @x that the image holds data in, or every one
 * when @due: the bulk pass reads only data extents. */
static int send_blocks(xlmig_ctx *ctx, struct sim_copy *c,
                       struct copy_disk *x, struct xlmig_stream_writer *w,
                       bool all, uint64_t *blocks)
{
    unsigned n = 0, nd = 0;
    uint64_t b = 0;
    int rc = 0;

    while (b < x->nblocks && !rc) {
        ssize_t r;
        uint8_t *p;

        if (all) {
            off_t data = lseek(x->fd, (off_t)(b * XLMIG_DISK_BLOCK),
                               SEEK_DATA);
            if (data < 0 && errno == ENXIO)
                break;                  /* holes to the end: zero there */
            if (data > (off_t)(b * XLMIG_DISK_BLOCK))
                b = (uint64_t)data / XLMIG_DISK_BLOCK;
            if (b >= x->nblocks)
                break;
        } else if (!(x->due[b >> 3] & (1u << (b & 7)))) {
            if (!x->due[b >> 3])
                b = (b | 7) + 1;
            else
                b++;
            continue;
        }
        x->due[b >> 3] &= (uint8_t)~(1u << (b & 7));
        p = c->buf + (size_t)nd * XLMIG_DISK_BLOCK;
        r = pread(x->fd, p, XLMIG_DISK_BLOCK, (off_t)(b * XLMIG_DISK_BLOCK));
        if (r < 0) {
            LOG_ERR(ctx, "reading block %" PRIu64 " of disk %u: %s", b,
                    x->idx, strerror(errno));
            return XLMIG_ERR_IO;
        }
        if (r < (ssize_t)XLMIG_DISK_BLOCK)
            memset(p + r, 0, XLMIG_DISK_BLOCK - (size_t)r);
        if (xlmig_page_is_zero(p)) {
            /* The bulk pass leaves zeros to the destination's holes; a
             * block written since must arrive as zero. */
            if (!all)
                c->blk[n++] = b | ((uint64_t)XLMIG_DISK_ZERO << 60);
        } else {
            c->blk[n++] = b;
            nd++;
        }
        b++;
        if (n == XLMIG_DISK_BATCH_MAX) {
            rc = flush_batch(c, w, x->idx, n, nd);
            *blocks += n;
            n = nd = 0;
        }
    }
    if (!rc) {
        rc = flush_batch(c, w, x->idx, n, nd);
        *blocks += n;
    }
    return rc;
}

int sim_copy_send(xlmig_ctx *ctx, struct sim_copy *c,
                  struct xlmig_stream_writer *w, bool all, uint64_t *blocks)
{
    for (unsigned i = 0; i < c->n; i++) {
        int rc = send_blocks(ctx, c, &c->d[i], w, all, blocks);
        if (rc)
            return rc;
    }
    return 0;
}

int sim_copy_peek(xlmig_ctx *ctx, const char *name, struct sim_copy *c,
                  uint64_t *dirty)
{
    *dirty = 0;
    for (unsigned i = 0; i < c->n; i++) {
        struct copy_disk *x = &c->d[i];
        void *bm = NULL;
        size_t len = 0, want = (x->nblocks + 7) / 8;
        int rc = track(ctx, name, x->idx, SIM_MSG_DISK_TRACK_PEEK, &bm,
                       &len);
        if (rc) {
            LOG_ERR(ctx, "%s: cannot read the blocks written to disk %u",
                    name, x->idx);
            free(bm);
            return rc;
        }
        /* The guest's disk may be shorter than the image (its last
         * partial block is never written): a shorter bitmap is fine. */
        for (size_t o = 0; o < len && o < want; o++) {
            uint8_t v = ((const uint8_t *)bm)[o];
            *dirty += (uint64_t)__builtin_popcount(v & ~x->due[o]);
            x->due[o] |= v;
        }
        free(bm);
    }
    return 0;
}

void sim_copy_stop(xlmig_ctx *ctx, const char *name, struct sim_copy *c)
{
    for (unsigned i = 0; i < c->n; i++)
        if (c->d[i].tracked &&
            track(ctx, name, c->d[i].idx, SIM_MSG_DISK_TRACK_STOP, NULL,
                  NULL) == 0)
            c->d[i].tracked = false;
}

/* ---- disks copied with the domain: the destination ---- */

int sim_made_image(xlmig_ctx *ctx, const char *name, const char *path,
                   uint64_t size, int *fd)
{
    char p[PATH_MAX], line[SIM_PATH_MAX + 2];
    int f, lf;

    f = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f < 0) {
        LOG_ERR(ctx, "cannot make the image %s for %s: %s%s", path, name,
                strerror(errno), errno == EEXIST ? " (a copied disk never "
                "goes over a file)" : "");
        return errno == EEXIST ? XLMIG_ERR_EXISTS : xlmig_errno_rc(errno);
    }
    /* Listed before anything is written to it: a failure from here on
     * deletes it. */
    snprintf(line, sizeof(line), "%s\n", path);
    sim_path(p, sizeof(p), name, "made-disks");
    lf = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (lf < 0 || xlmig_write_all(lf, line, strlen(line)) || fsync(lf)) {
        LOG_ERR(ctx, "cannot record %s in %s: %s", path, p, strerror(errno));
        if (lf >= 0)
            close(lf);
        close(f);
        unlink(path);
        return XLMIG_ERR_IO;
    }
    close(lf);
    if (ftruncate(f, (off_t)size) < 0) {
        LOG_ERR(ctx, "cannot size %s to %" PRIu64 " octets: %s", path, size,
                strerror(errno));
        close(f);
        return xlmig_errno_rc(errno);
    }
    *fd = f;
    return 0;
}

int sim_made_data(xlmig_ctx *ctx, int fd, const char *path,
                  const struct xlmig_rec_disk_data *dd)
{
    static const uint8_t zero[XLMIG_DISK_BLOCK];
    const uint8_t *data = dd->data;

    for (uint32_t i = 0; i < dd->count; i++) {
        uint64_t e = xlmig_get_u64(dd->entries + 8 * (size_t)i);
        off_t off = (off_t)((e & XLMIG_DISK_BLOCK_MASK) * XLMIG_DISK_BLOCK);
        const uint8_t *p = zero;
        ssize_t r;

        if ((e >> 60) == XLMIG_DISK_DATA) {
            p = data;
            data += XLMIG_DISK_BLOCK;
        } else if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                             off, XLMIG_DISK_BLOCK) == 0) {
            continue;           /* zero again, and a hole */
        }
        r = pwrite(fd, p, XLMIG_DISK_BLOCK, off);
        if (r != (ssize_t)XLMIG_DISK_BLOCK) {
            LOG_ERR(ctx, "writing %s: %s", path,
                    r < 0 ? strerror(errno) : "no space left on device");
            return r < 0 && errno != ENOSPC ? XLMIG_ERR_IO :
                                              XLMIG_ERR_NOSPACE;
        }
    }
    return 0;
}

void sim_made_keep(const char *name)
{
    char p[PATH_MAX];

    sim_path(p, sizeof(p), name, "made-disks");
    unlink(p);
}

void sim_made_delete(xlmig_ctx *ctx, const char *name)
{
    char p[PATH_MAX], line[SIM_PATH_MAX + 2];
    FILE *f;

    sim_path(p, sizeof(p), name, "made-disks");
    f = fopen(p, "re");
    if (!f)
        return;
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] != '/')
            continue;
        if (unlink(line) < 0 && errno != ENOENT)
            LOG_WARN(ctx, "cannot delete the partial image %s: %s", line,
                     strerror(errno));
        else
            LOG_INFO(ctx, "%s: deleted the partial image %s", name, line);
    }
    fclose(f);
    unlink(p);
}
