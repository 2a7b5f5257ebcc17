/*
 * xlmigd's incoming connections, each in a worker of its own: what kind
 * of connection it is (a migration, a data channel, QUERY, a tunnel) is
 * decided here, one level above the destination side of a migration.
 */
#ifndef XLMIG_ENGINE_SERVE_H
#define XLMIG_ENGINE_SERVE_H

#include "engine/dest.h"

/*
 * Serve one authenticated connection: HELLO, then a migration into @j
 * (PREFLIGHT ... COMMITTED), a data channel of another job, a QUERY about
 * an earlier one or a tunnel.  @ctx may come without its backend open
 * (xlmig_ctx_new): it is opened only for a migration or a QUERY about a
 * committed job.
 */
int xlmig_serve(xlmig_ctx *ctx, struct xlmig_tls_conn *tls, const char *peer,
                const struct xlmig_in_env *env, struct xlmig_mjob *j);

#endif
