/*
 * The sim backend's storage moves: a domain process mirrors one of its
 * disks (tools/xlmig-simdom/mirror.c) on these requests (sim_ipc.h).
 * Disks are named by vdev, as the engine knows them.  The reply of
 * MIRROR_STATUS is parsed by sim_config.c, with the sim's other text
 * (its fuzz target: fuzz_simconfig).
 */
#ifndef XLMIG_SIM_STORAGE_H
#define XLMIG_SIM_STORAGE_H

#include "core/private.h"
#include "backend/sim/sim_config.h"
#include "proto/stream.h"

int sim_mirror_start(xlmig_ctx *ctx, const char *name, const char *vdev,
                     const char *path, uint64_t rate, char *why,
                     size_t whylen) XLMIG_MUST_CHECK;
int sim_mirror_status(xlmig_ctx *ctx, const char *name, const char *vdev,
                      struct xlmig_mirror_status *st) XLMIG_MUST_CHECK;
int sim_mirror_pivot(xlmig_ctx *ctx, const char *name, const char *vdev,
                     char *why, size_t whylen) XLMIG_MUST_CHECK;
int sim_mirror_cancel(xlmig_ctx *ctx, const char *name, const char *vdev,
                      char *why, size_t whylen) XLMIG_MUST_CHECK;

/*
 * Disks copied with the domain (migrate --copy-storage).  Source: a
 * sim_copy holds, for each writable disk, the image it reads (its own
 * descriptor, read-only: the domain keeps its lease) and the blocks due;
 * the domain process tracks the blocks its guest writes.
 */
struct sim_copy;
int sim_copy_new(xlmig_ctx *ctx, const struct sim_config *cfg,
                 const struct xlmig_disk_map *map, unsigned n,
                 struct sim_copy **out, char *why, size_t whylen)
    XLMIG_MUST_CHECK;
void sim_copy_free(struct sim_copy *c);
/* The configuration as the destination has it: the disks' new paths. */
void sim_copy_config(const struct sim_copy *c, struct sim_config *cfg);
int sim_copy_start(xlmig_ctx *ctx, const char *name, struct sim_copy *c,
                   struct xlmig_stream_writer *w) XLMIG_MUST_CHECK;
int sim_copy_send(xlmig_ctx *ctx, struct sim_copy *c,
                  struct xlmig_stream_writer *w, bool all, uint64_t *blocks)
    XLMIG_MUST_CHECK;
int sim_copy_peek(xlmig_ctx *ctx, const char *name, struct sim_copy *c,
                  uint64_t *dirty) XLMIG_MUST_CHECK;
void sim_copy_stop(xlmig_ctx *ctx, const char *name, struct sim_copy *c);

/*
 * Destination: the images a restore makes for them.  Each is listed in
 * the domain's file NAME/made-disks until the domain first runs; a
 * domain destroyed before that (a migration that failed, or a partial
 * copy a restarted daemon destroys) takes its made images with it.
 */
int sim_made_image(xlmig_ctx *ctx, const char *name, const char *path,
                   uint64_t size, int *fd) XLMIG_MUST_CHECK;
int sim_made_data(xlmig_ctx *ctx, int fd, const char *path,
                  const struct xlmig_rec_disk_data *dd) XLMIG_MUST_CHECK;
void sim_made_keep(const char *name);
void sim_made_delete(xlmig_ctx *ctx, const char *name);

#endif
