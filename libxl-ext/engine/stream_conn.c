/* The destination's migration stream over a connection's frames. */
#include "engine/stream_conn.h"

#include <inttypes.h>
#include <string.h>

static int in_read(void *opaque, void *buf, size_t len, size_t *got)
{
    struct xlmig_in_source *s = opaque;
    uint8_t *out = buf;
    size_t done = 0;
    int rc;

    while (done < len) {
        if (!s->left) {
            if (s->stashed)
                break;
            rc = xlmig_conn_recv(s->c);
            if (rc) {
                *got = done;
                return rc;
            }
            if (s->c->f.type == XLMIG_MSG_STREAM_DATA) {
                s->p = s->c->body;
                s->left = s->c->f.length;
                pthread_mutex_lock(&s->j->lock);
                s->j->prog.bytes_sent += s->c->f.length;
                s->j->prog.round_bytes += s->c->f.length;
                pthread_mutex_unlock(&s->j->lock);
            } else if (s->c->f.type == XLMIG_MSG_SYNC) {
                /* Everything before it is loaded: say so. */
                LOG_DEBUG(s->c->ctx, "SYNC %" PRIu64 " answered on the %s",
                          xlmig_get_u64(s->c->body + 8),
                          s->channel ? "data channel" :
                                       "control connection");
                rc = xlmig_conn_send(s->c, XLMIG_MSG_SYNC, s->c->body,
                                     XLMIG_MSG_SYNC_SIZE);
                if (rc) {
                    *got = done;
                    return rc;
                }
            } else if (s->c->f.type == XLMIG_MSG_ROUND && !s->channel) {
                struct xlmig_msg_round m;
                xlmig_msg_get_round(s->c->body, &m);
                pthread_mutex_lock(&s->j->lock);
                s->j->prog.rounds = m.round;
                s->j->prog.round = m.round + 1;
                s->j->prog.round_bytes = 0;
                pthread_mutex_unlock(&s->j->lock);
                LOG_DEBUG(s->c->ctx, "source finished round %u: %" PRIu64
                          " pages", m.round, m.pages);
                xlmig_mjob_notify(s->j, XLMIG_EV_ROUND);
            } else {
                s->stashed = true;
            }
            continue;
        }
        {
            size_t n = len - done < s->left ? len - done : s->left;
            memcpy(out + done, s->p, n);
            s->p += n;
            s->left -= n;
            done += n;
        }
    }
    *got = done;
    /* The stream ends where a frame that is not data begins. */
    return done < len ? XLMIG_ERR_TRUNCATED : 0;
}

static const void *in_borrow(void *opaque, size_t len)
{
    struct xlmig_in_source *s = opaque;
    const uint8_t *p = s->p;

    if (s->left < len)
        return NULL;
    s->p += len;
    s->left -= len;
    return p;
}

void xlmig_source_in(struct xlmig_source *src, struct xlmig_in_source *s,
                     struct xlmig_conn *c, struct xlmig_mjob *j,
                     bool channel)
{
    memset(s, 0, sizeof(*s));
    s->c = c;
    s->j = j;
    s->channel = channel;
    src->read = in_read;
    src->borrow = in_borrow;
    src->opaque = s;
}

