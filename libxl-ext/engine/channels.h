/*
 * Data channels (docs/specs/protocol.md, "Data channels"): a job with
 * --channels N moves its pages over the control connection and N - 1
 * more TLS connections, so that encryption and decryption run on as many
 * cores.  The stream writer spreads PAGE_DATA records over the channels by
 * pfn (stream.h, lanes), so every version of a page travels on the same
 * channel, in order; everything else stays on the control connection.
 *
 * Source: each extra channel is a connection, a sender thread and a small
 * queue the engine fills.  Destination: a channel arrives as a connection
 * of its own, names its job with ATTACH, and loads its pages into the
 * domain the job's stream created; the job's END waits for every
 * channel's CHANNEL_END.
 */
#ifndef XLMIG_CHANNEL_H
#define XLMIG_CHANNEL_H

#include "engine/mjob.h"
#include "engine/precopy.h"
#include "proto/stream.h"
#include "transport/conn.h"

/* ---- source ---- */

struct xlmig_chans_out;

/*
 * Open channels 1 .. @n - 1 of job @j to @dest (connect, TLS, HELLO,
 * ATTACH, READY) and start their senders.  @sinks receives the n - 1
 * sinks for xlmig_writer_set_lanes(); every byte they take is paced by
 * @rl (shared with the control connection's sink; may be NULL).
 */
int xlmig_chans_open(xlmig_ctx *ctx, struct xlmig_tls *tls,
                     const struct xlmigd_config *cfg, struct xlmig_mjob *j,
                     const struct xlmigd_peer *dest, unsigned n,
                     struct xlmig_ratelimit *rl, struct xlmig_chans_out **out,
                     struct xlmig_sink *sinks) XLMIG_MUST_CHECK;
/*
 * SYNC @seq on every channel (after the writer's lanes are drained), and
 * wait until the destination has answered on each: it has loaded every
 * page sent before.
 */
void xlmig_chans_sync_start(struct xlmig_chans_out *co, uint64_t seq);
int xlmig_chans_sync_wait(struct xlmig_chans_out *co) XLMIG_MUST_CHECK;
/*
 * After the last page (the writer's lanes flushed and drained): send each
 * channel's CHANNEL_END with what @w wrote on its lane, and wait for the
 * senders to finish.
 */
int xlmig_chans_finish(struct xlmig_chans_out *co,
                       const struct xlmig_stream_writer *w) XLMIG_MUST_CHECK;
/* Stop the senders (if still running) and close every channel. */
void xlmig_chans_close(struct xlmig_chans_out *co);

/* ---- destination ---- */

struct xlmig_chans_in;

/*
 * Job @j (from @peer, wire id @wire) takes @n channels: register it so
 * that channels 1 .. n - 1 can ATTACH.  @rd is the job's stream reader;
 * hook it up with rd->hooks = xlmig_chans_in_hooks(ci).  @control_fd is
 * the job's control connection: a channel that fails stops its reading,
 * so the job rolls back at once rather than at its next timeout.
 */
int xlmig_chans_in_open(xlmig_ctx *ctx, struct xlmig_mjob *j,
                        const char *peer, uint64_t wire, unsigned n,
                        unsigned io_timeout_s, int control_fd,
                        const struct xlmig_stream_reader *rd,
                        struct xlmig_chans_in **out) XLMIG_MUST_CHECK;
const struct xlmig_reader_hooks *xlmig_chans_in_hooks(
    struct xlmig_chans_in *ci);
/*
 * The job is over (either way): refuse further ATTACHes, stop the
 * channels still running, wait until none touches the domain, free.
 */
void xlmig_chans_in_close(struct xlmig_chans_in *ci);

/*
 * Serve a connection whose first message after HELLO was ATTACH (in
 * c->f / c->body): load the channel's pages into its job's domain.
 */
int xlmig_serve_channel(xlmig_ctx *ctx, struct xlmig_conn *c);

#endif
