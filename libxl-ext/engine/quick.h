/*
 * Quick migration's two halves: a suspended domain's whole state into a
 * file, and a domain restored from a stream (a file or a peer's).
 */
#ifndef XLMIG_ENGINE_QUICK_H
#define XLMIG_ENGINE_QUICK_H

#include "engine/job.h"
#include "proto/stream.h"

/*
 * Suspend @dom (called @name in logs) and write its state to @path: a
 * temporary file beside it, made durable, then renamed into place.  On
 * success the domain is left suspended and the file is its state; on
 * failure there is no file and the domain runs as before.  With @job
 * set, its phases follow the save (prepare, stop-and-copy, handover);
 * the caller commits it.
 */
int xlmig_save_dom(xlmig_ctx *ctx, struct xlmig_dom *dom, const char *name,
                   const char *path, struct xlmig_job *job,
                   struct xlmig_save_stats *stats) XLMIG_MUST_CHECK;

/*
 * Restore from @rd (header already read): create the domain, load every
 * record, check END and the end of the stream.  On success *domp is the
 * restored domain, attached (paused when opts->paused); on failure the
 * partly restored domain is destroyed and *domp is NULL.  @what names the
 * stream in messages.  quick.c.
 */
int xlmig_restore_stream(xlmig_ctx *ctx, struct xlmig_stream_reader *rd,
                         const char *what,
                         const struct xlmig_restore_opts *opts,
                         struct xlmig_dom **domp,
                         struct xlmig_save_stats *stats) XLMIG_MUST_CHECK;

#endif
