/*
 * Quick migration: save a suspended domain's whole state to a file and
 * restore it from one.  The save never harms the source: the stream goes
 * to a temporary file that is renamed into place only once it is durable,
 * and until then every failure resumes the domain and removes the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/quick.h"

static uint32_t next_job_id(void)
{
    static uint32_t id;

    return __atomic_add_fetch(&id, 1, __ATOMIC_RELAXED);
}

static int fsync_dir_of(const char *path)
{
    char buf[PATH_MAX];
    int fd, r = 0;

    snprintf(buf, sizeof(buf), "%s", path);
    fd = open(dirname(buf), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    if (fsync(fd) < 0)
        r = -errno;
    close(fd);
    return r;
}

int xlmig_save_dom(xlmig_ctx *ctx, struct xlmig_dom *dom, const char *name,
                   const char *path, struct xlmig_job *job,
                   struct xlmig_save_stats *stats)
{
    struct xlmig_stream_writer w;
    struct xlmig_domain_desc desc;
    struct xlmig_sink sink;
    char tmp[PATH_MAX];
    bool writer_ok = false, suspended = false;
    uint64_t t0 = 0;
    int fd = -1, rc, r;

    tmp[0] = '\0';
    if (snprintf(tmp, sizeof(tmp), "%s.xlmig-XXXXXX", path) >=
        (int)sizeof(tmp)) {
        LOG_ERR(ctx, "path too long: %s", path);
        tmp[0] = '\0';
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    /* Create the file before touching the domain: an unwritable place
     * fails here, with the domain never stopped. */
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        LOG_ERR(ctx, "cannot create a file beside %s: %s", path,
                strerror(errno));
        rc = xlmig_errno_rc(errno);
        tmp[0] = '\0';
        goto out;
    }
    if (job && (rc = xlmig_job_set_phase(job, XLMIG_PHASE_PREPARE)))
        goto out;
    xlmig_sink_fd(&sink, &fd);
    rc = xlmig_writer_init(&w, ctx, &sink);
    if (rc)
        goto out;
    writer_ok = true;

    if (job && (rc = xlmig_job_set_phase(job, XLMIG_PHASE_STOPCOPY)))
        goto out;
    t0 = xlmig_now_ns();
    rc = ctx->ops->suspend(ctx, dom);
    if (rc)
        goto out;
    suspended = true;
    ctx->ops->describe(ctx, dom, &desc);
    xlmig_write_header(&w);
    xlmig_write_domain_info(&w, &desc);
    rc = ctx->ops->save(ctx, dom, &w);
    if (rc)
        goto out;
    xlmig_write_source_info(&w);
    xlmig_write_end(&w);
    rc = w.err;
    if (rc)
        goto out;
    if (fsync(fd) < 0) {
        LOG_ERR(ctx, "fsync %s: %s", tmp, strerror(errno));
        rc = xlmig_errno_rc(errno);
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        LOG_ERR(ctx, "close %s: %s", tmp, strerror(errno));
        rc = xlmig_errno_rc(errno);
        goto out;
    }
    fd = -1;

    if (job && (rc = xlmig_job_set_phase(job, XLMIG_PHASE_HANDOVER)))
        goto out;
    if (rename(tmp, path) < 0) {
        LOG_ERR(ctx, "rename %s to %s: %s", tmp, path, strerror(errno));
        rc = xlmig_errno_rc(errno);
        goto out;
    }
    tmp[0] = '\0';
    r = fsync_dir_of(path);
    if (r)
        LOG_WARN(ctx, "fsync of the directory of %s: %s", path,
                 strerror(-r));
    /* The file is now the domain's durable state. */
    if (stats) {
        memset(stats, 0, sizeof(*stats));
        stats->pages_total = desc.nr_pages;
        stats->pages_data = w.pages_data;
        stats->pages_zero = w.pages_zero;
        stats->bytes_written = w.offset;
        stats->suspend_ns = xlmig_now_ns() - t0;
    }
    rc = 0;

out:
    if (rc) {
        /* Roll back: no file, and the domain as it was. */
        if (tmp[0])
            unlink(tmp);
        if (suspended && ctx->ops->resume(ctx, dom))
            LOG_ERR(ctx, "could not resume %s after the failed save", name);
    }
    if (fd >= 0)
        close(fd);
    if (writer_ok)
        xlmig_writer_dispose(&w);
    return rc;
}

int xlmig_save(xlmig_ctx *ctx, const char *ident, const char *path,
               enum xlmig_save_after after, struct xlmig_save_stats *stats)
{
    struct xlmig_dominfo info;
    struct xlmig_dom *dom = NULL;
    struct xlmig_job job;
    int rc;

    rc = xlmig_domain_find(ctx, ident, &info);
    if (rc)
        return rc;
    xlmig_job_init(&job, ctx, next_job_id(), info.name);
    rc = ctx->ops->attach(ctx, &info, &dom);
    if (!rc)
        rc = xlmig_save_dom(ctx, dom, info.name, path, &job, stats);
    if (!rc)
        rc = xlmig_job_set_phase(&job, XLMIG_PHASE_COMMITTED);
    if (rc) {
        if (job.phase != XLMIG_PHASE_ROLLEDBACK &&
            xlmig_phase_transition_ok(job.phase, XLMIG_PHASE_ROLLEDBACK) &&
            xlmig_job_set_phase(&job, XLMIG_PHASE_ROLLEDBACK))
            LOG_ERR(ctx, "job %u: cannot record the roll-back", job.id);
        goto out;
    }
    switch (after) {
    case XLMIG_SAVE_DESTROY:
        rc = ctx->ops->destroy(ctx, dom);
        if (rc)
            LOG_ERR(ctx, "saved to %s, but destroying %s failed: it is "
                    "left suspended", path, info.name);
        break;
    case XLMIG_SAVE_CONTINUE:
        rc = ctx->ops->resume(ctx, dom);
        break;
    case XLMIG_SAVE_PAUSED:
        break;
    }
out:
    if (dom)
        ctx->ops->detach(ctx, dom);
    return rc;
}

/*
 * Restore from a reader whose header was read.  On success *domp is the
 * restored domain (paused unless opts says otherwise), still attached; on
 * failure the partly restored domain is destroyed and *domp is NULL.
 */
int xlmig_restore_stream(xlmig_ctx *ctx, struct xlmig_stream_reader *rd,
                         const char *what,
                         const struct xlmig_restore_opts *opts,
                         struct xlmig_dom **domp,
                         struct xlmig_save_stats *stats)
{
    struct xlmig_record rec;
    struct xlmig_domain_desc desc;
    struct xlmig_dom *dom = NULL;
    bool done = false, created = false;
    uint8_t *config = NULL;
    uint32_t config_fmt;
    size_t config_len;
    uint64_t t0 = xlmig_now_ns();
    int rc;

    *domp = NULL;
    do {                                        /* DOMAIN_INFO */
        rc = xlmig_read_record(rd, &rec);
        if (rc)
            goto out;
    } while (rec.type & XLMIG_REC_OPTIONAL);
    desc = rd->desc;
    if (desc.backend_id != ctx->ops->stream_id) {
        LOG_ERR(ctx, "%s holds a %s domain; this host's backend is %s",
                what, xlmig_stream_backend_name(desc.backend_id),
                ctx->ops->name);
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    if (opts && opts->new_name) {
        if (strlen(opts->new_name) >= XLMIG_NAME_MAX) {
            LOG_ERR(ctx, "new name too long: %s", opts->new_name);
            rc = XLMIG_ERR_INVAL;
            goto out;
        }
        snprintf(desc.name, sizeof(desc.name), "%s", opts->new_name);
    }
    do {                                        /* DOMAIN_CONFIG, after */
        rc = xlmig_read_record(rd, &rec);       /* optional records */
        if (rc)
            goto out;
    } while (rec.type & XLMIG_REC_OPTIONAL);
    config_fmt = xlmig_get_u32(rec.body);
    config_len = rec.length - 8;
    config = malloc(config_len + 1);
    if (!config) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    memcpy(config, rec.body + 8, config_len);
    config[config_len] = '\0';

    rc = ctx->ops->restore_create(ctx, &desc, config_fmt, config,
                                  config_len, &dom);
    if (rc)
        goto out;
    while (!done) {
        rc = xlmig_read_record(rd, &rec);
        if (rc)
            goto out;
        /* The channels may load the domain once it has every image of
         * a copied disk: DISK_IMAGE records come first. */
        if (!created && rec.type != XLMIG_REC_DISK_IMAGE) {
            created = true;
            if (rd->hooks && rd->hooks->created)
                rd->hooks->created(rd->hooks->opaque, dom);
        }
        if (rec.type == XLMIG_REC_END) {
            done = true;
            break;
        }
        if (rec.type & XLMIG_REC_OPTIONAL)
            continue;
        rc = ctx->ops->restore_record(ctx, dom, &rec);
        if (rc)
            goto out;
    }
    rc = xlmig_read_expect_eof(rd);
    if (rc)
        goto out;
    rc = ctx->ops->restore_finish(ctx, dom);
    if (rc)
        goto out;
    if (!opts || !opts->paused) {
        rc = ctx->ops->unpause(ctx, dom);
        if (rc)
            goto out;
    }
    if (stats) {
        memset(stats, 0, sizeof(*stats));
        stats->pages_total = rd->desc.nr_pages;
        stats->pages_data = rd->pages_data;
        stats->pages_zero = rd->pages_zero;
        stats->bytes_written = rd->offset;
        stats->suspend_ns = xlmig_now_ns() - t0;
    }
    *domp = dom;
    dom = NULL;
    rc = 0;

out:
    if (dom && rd->hooks && rd->hooks->stop)
        rd->hooks->stop(rd->hooks->opaque);
    if (dom) {
        LOG_ERR(ctx, "restore failed: destroying the partly restored "
                "domain %s", desc.name);
        (void)ctx->ops->destroy(ctx, dom);
        ctx->ops->detach(ctx, dom);
    }
    free(config);
    return rc;
}

int xlmig_restore(xlmig_ctx *ctx, const char *path,
                  const struct xlmig_restore_opts *opts,
                  struct xlmig_dominfo *info, struct xlmig_save_stats *stats)
{
    struct xlmig_stream_reader rd;
    struct xlmig_dom *dom = NULL;
    int rc;

    rc = xlmig_reader_open_file(&rd, ctx, path);
    if (!rc)
        rc = xlmig_restore_stream(ctx, &rd, path, opts, &dom, stats);
    if (!rc && info)
        rc = ctx->ops->info(ctx, dom, info);
    if (dom)
        ctx->ops->detach(ctx, dom);
    xlmig_reader_dispose(&rd);
    return rc;
}
