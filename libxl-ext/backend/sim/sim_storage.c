/* The sim backend's storage moves (see sim_storage.h). */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
