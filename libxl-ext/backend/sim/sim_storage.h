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

int sim_mirror_start(xlmig_ctx *ctx, const char *name, const char *vdev,
                     const char *path, uint64_t rate, char *why,
                     size_t whylen) XLMIG_MUST_CHECK;
int sim_mirror_status(xlmig_ctx *ctx, const char *name, const char *vdev,
                      struct xlmig_mirror_status *st) XLMIG_MUST_CHECK;
int sim_mirror_pivot(xlmig_ctx *ctx, const char *name, const char *vdev,
                     char *why, size_t whylen) XLMIG_MUST_CHECK;
int sim_mirror_cancel(xlmig_ctx *ctx, const char *name, const char *vdev,
                      char *why, size_t whylen) XLMIG_MUST_CHECK;

/* Parse a MIRROR_STATUS reply of @len octets: 0, or -1 if malformed. */
int sim_mirror_status_parse(const char *text, size_t len,
                            struct xlmig_mirror_status *st)
    XLMIG_MUST_CHECK;

#endif
