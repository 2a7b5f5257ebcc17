/*
 * The destination's migration stream, carried in the STREAM_DATA frames
 * of a connection (docs/specs/protocol.md), as the stream reader's byte
 * source; SYNC is answered and ROUND counted on the way.
 */
#ifndef XLMIG_ENGINE_STREAM_CONN_H
#define XLMIG_ENGINE_STREAM_CONN_H

#include "engine/mjob.h"
#include "proto/stream.h"
#include "transport/conn.h"

/*
 * The incoming stream as a byte source: the bodies of STREAM_DATA frames
 * on @c, counted in @j's progress.  The stream ends (a short read) at the
 * first other frame, which stays in c->f with stashed set; ROUND frames
 * update the progress on the way, except on a data @channel.
 */
struct xlmig_in_source {
    struct xlmig_conn *c;
    struct xlmig_mjob *j;
    const uint8_t *p;
    size_t left;
    bool stashed;
    bool channel;
};
void xlmig_source_in(struct xlmig_source *src, struct xlmig_in_source *s,
                     struct xlmig_conn *c, struct xlmig_mjob *j,
                     bool channel);
#endif
