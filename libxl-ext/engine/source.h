/*
 * The source side of a migration: this host sends one of its domains to
 * a peer (docs/specs/protocol.md).  xlmigd runs it in a worker thread.
 */
#ifndef XLMIG_ENGINE_SOURCE_H
#define XLMIG_ENGINE_SOURCE_H

#include "core/config.h"
#include "engine/mjob.h"
#include "transport/tls.h"

/*
 * Migrate a domain of this host to @o->dest.  Returns 0 when the
 * destination confirmed it runs the domain (the source copy is gone),
 * XLMIG_ERR_INDOUBT when COMMIT went out and no answer came (the source
 * copy stays suspended and a record in the state directory says so), or
 * another error after rolling back (the domain runs here as before).
 */
int xlmig_migrate_out(xlmig_ctx *ctx, struct xlmig_tls *tls,
                      const struct xlmigd_config *cfg, struct xlmig_mjob *j,
                      const struct xlmig_out_opts *o) XLMIG_MUST_CHECK;

#endif
