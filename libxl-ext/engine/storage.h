/*
 * Live storage migration on one host (docs/storage.md): a running
 * domain's disk moves to a new image while the guest runs on.  The
 * backend copies it and mirrors every guest write to both images (a
 * write completes when both have it); once the copy has caught up the
 * domain is switched to the new image, and the old one is deleted unless
 * asked to keep it.  The job goes through the migration phases:
 * preflight (the checks), prepare (the new image made), precopy (the
 * copy, writes mirrored), stopcopy (both images the same), handover
 * (the switch: cancel is refused from here), committed.  A cancel or a
 * failure before the switch leaves the domain on the old image, which
 * has every write, and deletes the new one.
 *
 * A durable record (docs/specs/state.md, state_dir/storage/JOB) lets a
 * restarted daemon finish what its predecessor left: a mirror still
 * running is cancelled and its new image deleted; a switch that happened
 * has its old image deleted (unless kept).
 */
#ifndef XLMIG_ENGINE_STORAGE_H
#define XLMIG_ENGINE_STORAGE_H

#include "core/config.h"
#include "engine/mjob.h"

struct xlmig_storage_opts {
    const char *domain;
    const char *disk;           /* the vdev */
    const char *path;           /* the new image: absolute, not there */
    bool keep;                  /* keep the old image */
    uint64_t rate;              /* the copy's cap, octets/s; 0 none */
};

int xlmig_storage_move(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                       struct xlmig_mjob *j,
                       const struct xlmig_storage_opts *o);

/* At start-up: settle the storage moves a dead daemon left. */
void xlmig_storage_reconcile(xlmig_ctx *ctx, const struct xlmigd_config *cfg);

#endif
