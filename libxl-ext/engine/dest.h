/*
 * The destination side of a migration: this host takes a domain in from
 * a peer.  engine/serve.c hands it a connection whose first frame is
 * PREFLIGHT.
 */
#ifndef XLMIG_ENGINE_DEST_H
#define XLMIG_ENGINE_DEST_H

#include "core/config.h"
#include "engine/mjob.h"
#include "transport/conn.h"

struct xlmig_in_env {
    const struct xlmigd_config *cfg;
    void *opaque;
    /*
     * Hold @bytes of memory for @j, checking and holding at once: 0, or
     * XLMIG_ERR_* with the reason in @why.  Called at PREFLIGHT (with @j
     * NULL: check only) and again at PREPARE (@j holds it already).
     * @free_out (may be NULL) gets the memory free for domains before
     * this one, which the report shows (a planner places domains by it).
     */
    int (*reserve)(void *opaque, struct xlmig_mjob *j, uint64_t bytes,
                   uint64_t *free_out, char *why, size_t whylen);
    /* The host is drained (may be NULL): true, with the reason in @why;
     * every migration in is refused, and not as busy. */
    bool (*drained)(void *opaque, char *why, size_t whylen);
    /* A limit on incoming jobs: 0, or XLMIG_ERR_BUSY with the reason.
     * With @claim, @j takes its slot in the same step as the check, and
     * holds it until it ends.  Either callback also describes, in @why,
     * what it counted when it accepts. */
    int (*admit)(void *opaque, struct xlmig_mjob *j, bool claim, char *why,
                 size_t whylen);
    /* vCPUs of the other incoming migrations that hold a reservation and
     * whose domain is not on this host yet (may be NULL). */
    uint32_t (*vcpus_held)(void *opaque, const struct xlmig_mjob *j);
};

/*
 * The PREFLIGHT in c->body: answer it with the report and, unless the
 * source asked for the check only, take the domain in (PREPARE ...
 * COMMITTED) as job @j.  0 when the domain runs here (or the check
 * passed); an error after rolling back.
 */
int xlmig_dest_job(xlmig_ctx *ctx, struct xlmig_conn *c,
                   const struct xlmig_in_env *env, struct xlmig_mjob *j)
    XLMIG_MUST_CHECK;

#endif
