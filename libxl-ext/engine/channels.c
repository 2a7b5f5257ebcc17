/*
 * Data channels: see channel.h and docs/specs/protocol.md.
 *
 * Lifetimes.  Source: the engine thread owns the set; each sender thread
 * only touches its own channel, and the set is freed after every sender
 * is joined.  Destination: a registered set lives until the job's thread
 * closes it, which first makes every channel thread leave (users == 0);
 * a channel thread finds its set only through the registry, under its
 * lock, so it never sees a freed one.
 */
#include "engine/channels.h"
#include "engine/stream_conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* Source                                                              */

#define CHAN_SLOTS 2            /* records queued per channel */
#define SLOT_SIZE (XLMIG_REC_HDR_SIZE + XLMIG_REC_BODY_MAX + 8)

struct chan_out {
    struct xlmig_chans_out *set;
    unsigned idx;
    struct xlmig_conn c;
    bool conn_ok;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock;       /* guards the queue and the flags */
    pthread_cond_t cv;
    uint8_t *buf[CHAN_SLOTS];
    size_t len[CHAN_SLOTS];
    unsigned head, count;       /* full slots: head .. head + count - 1 */
    bool finish;                /* send CHANNEL_END once the queue is empty */
    uint64_t sync_want;         /* SYNC asked for, by sequence number */
    uint64_t sync_done;         /* the last SYNC the destination answered */
    bool quit;                  /* stop now */
    int err;                    /* the first failure; the sender stops */
    struct xlmig_msg_chan_end end;
};

struct xlmig_chans_out {
    xlmig_ctx *ctx;
    struct xlmig_mjob *j;
    struct xlmig_ratelimit *rl;
    unsigned n;                 /* channels, the control one included */
    struct chan_out ch[];       /* [n]; ch[0] unused */
};

/* SYNC @seq on the channel and wait for the destination's answer,
 * which it sends once it has loaded everything before. */
static int chan_sync_one(struct chan_out *co, uint64_t seq)
{
    uint8_t b[XLMIG_MSG_SYNC_SIZE];
    int rc;

    xlmig_put_u64(b, co->set->j->wire_id);
    xlmig_put_u64(b + 8, seq);
    rc = xlmig_conn_send(&co->c, XLMIG_MSG_SYNC, b, sizeof(b));
    if (!rc)
        rc = xlmig_conn_expect(&co->c, XLMIG_MSG_SYNC);
    if (!rc && xlmig_get_u64(co->c.body + 8) != seq) {
        LOG_ERR(co->set->ctx, "data channel %u: SYNC %" PRIu64 " answered "
                "as %" PRIu64, co->idx, seq, xlmig_get_u64(co->c.body + 8));
        rc = XLMIG_ERR_PEER;
    }
    return rc;
}

static void *sender(void *arg)
{
    struct chan_out *co = arg;
    struct xlmig_mjob *j = co->set->j;
    int rc = 0;

    pthread_mutex_lock(&co->lock);
    for (;;) {
        while (!co->count && !co->finish && !co->quit &&
               co->sync_want == co->sync_done)
            pthread_cond_wait(&co->cv, &co->lock);
        if (co->quit)
            break;
        if (co->count) {
            unsigned s = co->head;
            struct iovec v = { co->buf[s], co->len[s] };
            pthread_mutex_unlock(&co->lock);
            rc = xlmig_conn_sendv(&co->c, XLMIG_MSG_STREAM_DATA, &v, 1);
            if (!rc) {
                pthread_mutex_lock(&j->lock);
                j->prog.bytes_sent += v.iov_len;
                j->prog.round_bytes += v.iov_len;
                pthread_mutex_unlock(&j->lock);
            }
            pthread_mutex_lock(&co->lock);
            if (rc)
                break;
            co->head = (co->head + 1) % CHAN_SLOTS;
            co->count--;
            pthread_cond_broadcast(&co->cv);
            continue;
        }
        if (co->sync_want != co->sync_done) {
            uint64_t seq = co->sync_want;
            pthread_mutex_unlock(&co->lock);
            rc = chan_sync_one(co, seq);
            pthread_mutex_lock(&co->lock);
            if (rc)
                break;
            co->sync_done = seq;
            pthread_cond_broadcast(&co->cv);
            continue;
        }
        /* finish, with the queue empty */
        {
            uint8_t b[XLMIG_MSG_CHANNEL_END_SIZE];
            xlmig_msg_put_chan_end(b, &co->end);
            pthread_mutex_unlock(&co->lock);
            rc = xlmig_conn_send(&co->c, XLMIG_MSG_CHANNEL_END, b, sizeof(b));
            pthread_mutex_lock(&co->lock);
        }
        break;
    }
    if (rc && !co->err)
        co->err = xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED : rc;
    if (!co->err && co->quit && !co->finish)
        co->err = XLMIG_ERR_CANCELLED;
    co->quit = true;            /* nothing more goes out */
    pthread_cond_broadcast(&co->cv);
    pthread_mutex_unlock(&co->lock);
    return NULL;
}

/* The engine's side of the queue: copy one record into a free slot. */
static int chan_writev(void *opaque, const struct iovec *iov, int n)
{
    struct chan_out *co = opaque;
    size_t len = 0, off = 0;
    unsigned s;
    int rc;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (len > SLOT_SIZE)
        return XLMIG_ERR_INVAL;
    pthread_mutex_lock(&co->lock);
    while (co->count == CHAN_SLOTS && !co->err && !co->quit)
        pthread_cond_wait(&co->cv, &co->lock);
    rc = co->err ? co->err : co->quit ? XLMIG_ERR_IO : 0;
    s = (co->head + co->count) % CHAN_SLOTS;
    pthread_mutex_unlock(&co->lock);
    if (rc)
        return rc;
    /* The slot is ours until count covers it. */
    for (int i = 0; i < n; i++) {
        memcpy(co->buf[s] + off, iov[i].iov_base, iov[i].iov_len);
        off += iov[i].iov_len;
    }
    pthread_mutex_lock(&co->lock);
    co->len[s] = len;
    co->count++;
    pthread_cond_broadcast(&co->cv);
    pthread_mutex_unlock(&co->lock);
    if (co->set->rl)
        xlmig_ratelimit_pace(co->set->rl, len);
    return 0;
}

static int chan_drain(void *opaque)
{
    struct chan_out *co = opaque;
    int rc;

    pthread_mutex_lock(&co->lock);
    while (co->count && !co->err && !co->quit)
        pthread_cond_wait(&co->cv, &co->lock);
    rc = co->err ? co->err : co->count ? XLMIG_ERR_IO : 0;
    pthread_mutex_unlock(&co->lock);
    return rc;
}

static int chan_connect(struct xlmig_chans_out *set, struct chan_out *co,
                        struct xlmig_tls *tls, const struct xlmigd_config *cfg,
                        const struct xlmigd_peer *dest)
{
    xlmig_ctx *ctx = set->ctx;
    struct xlmig_mjob *j = set->j;
    struct xlmig_tls_conn *tc = NULL;
    struct xlmig_msg_attach m = { j->wire_id, co->idx, set->n };
    uint8_t b[XLMIG_MSG_ATTACH_SIZE];
    int fd, rc;

    fd = xlmig_dial(ctx, dest, cfg->io_timeout_s);
    if (fd < 0)
        return fd;
    pthread_mutex_lock(&j->lock);
    j->chan_sock[co->idx] = fd;
    rc = j->cancel ? XLMIG_ERR_CANCELLED : 0;
    pthread_mutex_unlock(&j->lock);
    if (rc)
        return rc;              /* the socket is closed by chans_close */
    rc = xlmig_tls_connect(ctx, tls, fd, dest->name, &tc);
    if (rc) {
        /* The TLS layer closed the socket. */
        pthread_mutex_lock(&j->lock);
        j->chan_sock[co->idx] = -1;
        pthread_mutex_unlock(&j->lock);
        return rc;
    }
    rc = xlmig_conn_init(&co->c, ctx, tc, dest->name);
    co->conn_ok = true;         /* disposing closes tc, even on failure */
    if (rc)
        return rc;
    rc = xlmig_hello(&co->c, false, cfg->host_name, ctx->ops->name);
    if (rc)
        return rc;
    xlmig_msg_put_attach(b, &m);
    rc = xlmig_conn_send(&co->c, XLMIG_MSG_ATTACH, b, sizeof(b));
    if (!rc)
        rc = xlmig_conn_expect(&co->c, XLMIG_MSG_READY);
    if (rc)
        return rc;
    if (xlmig_msg_get_u64(co->c.body) != j->wire_id) {
        LOG_ERR(ctx, "%s answered channel %u's ATTACH for another job",
                dest->name, co->idx);
        return XLMIG_ERR_PEER;
    }
    return 0;
}

int xlmig_chans_open(xlmig_ctx *ctx, struct xlmig_tls *tls,
                     const struct xlmigd_config *cfg, struct xlmig_mjob *j,
                     const struct xlmigd_peer *dest, unsigned n,
                     struct xlmig_ratelimit *rl, struct xlmig_chans_out **out,
                     struct xlmig_sink *sinks)
{
    struct xlmig_chans_out *set;
    int rc = 0;

    *out = NULL;
    if (n < 2 || n > XLMIG_CHANNELS_MAX)
        return XLMIG_ERR_INVAL;
    set = calloc(1, sizeof(*set) + n * sizeof(set->ch[0]));
    if (!set)
        return XLMIG_ERR_NOMEM;
    set->ctx = ctx;
    set->j = j;
    set->rl = rl;
    set->n = n;
    for (unsigned i = 1; i < n; i++) {
        struct chan_out *co = &set->ch[i];
        co->set = set;
        co->idx = i;
        pthread_mutex_init(&co->lock, NULL);
        pthread_cond_init(&co->cv, NULL);
    }
    *out = set;                 /* from here on, chans_close cleans up */
    for (unsigned i = 1; i < n && !rc; i++) {
        struct chan_out *co = &set->ch[i];
        for (unsigned s = 0; s < CHAN_SLOTS && !rc; s++)
            if (!(co->buf[s] = malloc(SLOT_SIZE)))
                rc = XLMIG_ERR_NOMEM;
        if (!rc)
            rc = chan_connect(set, co, tls, cfg, dest);
        if (rc)
            LOG_ERR(ctx, "data channel %u of %u to %s failed: %s", i, n,
                    dest->name, xlmig_strerror(rc));
    }
    for (unsigned i = 1; i < n && !rc; i++) {
        struct chan_out *co = &set->ch[i];
        if (pthread_create(&co->thread, NULL, sender, co)) {
            rc = XLMIG_ERR_NOMEM;
            break;
        }
        co->started = true;
        sinks[i - 1].writev = chan_writev;
        sinks[i - 1].drain = chan_drain;
        sinks[i - 1].opaque = co;
    }
    if (!rc)
        LOG_INFO(ctx, "%u data channels open to %s", n, dest->name);
    return rc;
}

void xlmig_chans_sync_start(struct xlmig_chans_out *set, uint64_t seq)
{
    for (unsigned i = 1; i < set->n; i++) {
        struct chan_out *co = &set->ch[i];
        pthread_mutex_lock(&co->lock);
        co->sync_want = seq;
        pthread_cond_broadcast(&co->cv);
        pthread_mutex_unlock(&co->lock);
    }
}

int xlmig_chans_sync_wait(struct xlmig_chans_out *set)
{
    int rc = 0;

    for (unsigned i = 1; i < set->n && !rc; i++) {
        struct chan_out *co = &set->ch[i];
        pthread_mutex_lock(&co->lock);
        while (co->sync_done != co->sync_want && !co->err && !co->quit)
            pthread_cond_wait(&co->cv, &co->lock);
        rc = co->err ? co->err :
             co->sync_done != co->sync_want ? XLMIG_ERR_IO : 0;
        pthread_mutex_unlock(&co->lock);
    }
    return rc;
}

int xlmig_chans_finish(struct xlmig_chans_out *set,
                       const struct xlmig_stream_writer *w)
{
    int rc = 0;

    if (w->nlanes != set->n)
        return XLMIG_ERR_INVAL;
    for (unsigned i = 1; i < set->n; i++) {
        struct chan_out *co = &set->ch[i];
        const struct xlmig_wlane *l = &w->lane[i];
        pthread_mutex_lock(&co->lock);
        co->end.job_id = set->j->wire_id;
        co->end.channel = i;
        co->end.records = l->records;
        co->end.pages_data = l->pages_data;
        co->end.pages_zero = l->pages_zero;
        co->finish = true;
        pthread_cond_broadcast(&co->cv);
        pthread_mutex_unlock(&co->lock);
    }
    for (unsigned i = 1; i < set->n; i++) {
        struct chan_out *co = &set->ch[i];
        if (co->started) {
            pthread_join(co->thread, NULL);
            co->started = false;
        }
        if (co->err && !rc)
            rc = co->err;
    }
    return rc;
}

void xlmig_chans_close(struct xlmig_chans_out *set)
{
    struct xlmig_mjob *j;

    if (!set)
        return;
    j = set->j;
    for (unsigned i = 1; i < set->n; i++) {
        struct chan_out *co = &set->ch[i];
        pthread_mutex_lock(&co->lock);
        co->quit = true;
        pthread_cond_broadcast(&co->cv);
        pthread_mutex_unlock(&co->lock);
        /* A sender blocked in a write to a dead peer wakes up. */
        pthread_mutex_lock(&j->lock);
        if (co->started && j->chan_sock[i] >= 0)
            shutdown(j->chan_sock[i], SHUT_RDWR);
        pthread_mutex_unlock(&j->lock);
    }
    for (unsigned i = 1; i < set->n; i++) {
        struct chan_out *co = &set->ch[i];
        int fd;
        if (co->started)
            pthread_join(co->thread, NULL);
        pthread_mutex_lock(&j->lock);
        fd = j->chan_sock[i];
        j->chan_sock[i] = -1;
        pthread_mutex_unlock(&j->lock);
        if (co->conn_ok)
            xlmig_conn_dispose(&co->c);     /* closes the socket */
        else if (fd >= 0)
            close(fd);
        for (unsigned s = 0; s < CHAN_SLOTS; s++)
            free(co->buf[s]);
        pthread_mutex_destroy(&co->lock);
        pthread_cond_destroy(&co->cv);
    }
    free(set);
}

/* ------------------------------------------------------------------ */
/* Destination                                                         */

struct xlmig_chans_in {
    struct xlmig_chans_in *next;        /* the registry, under reg_lock */
    xlmig_ctx *ctx;                     /* the job's, for its log */
    struct xlmig_mjob *j;
    char peer[XLMIG_NAME_MAX];
    uint64_t wire;
    unsigned n;
    unsigned io_timeout_s;
    int control_fd;                     /* the job's control connection */
    const struct xlmig_stream_reader *rd;
    struct xlmig_reader_hooks hooks;

    pthread_mutex_t lock;               /* guards everything below */
    pthread_cond_t cv;
    struct xlmig_dom *dom;              /* set once created */
    bool closing;                       /* the job is over: channels leave */
    int err;                            /* a channel's failure */
    unsigned users;                     /* channel threads inside */
    unsigned ended;
    uint64_t pages_data, pages_zero;    /* of the channels that ended */
    bool attached[XLMIG_CHANNELS_MAX];
    int sock[XLMIG_CHANNELS_MAX];
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xlmig_chans_in *reg;

static void deadline_in(struct timespec *ts, unsigned secs)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += secs;
}

static void in_created(void *opaque, struct xlmig_dom *dom)
{
    struct xlmig_chans_in *ci = opaque;

    pthread_mutex_lock(&ci->lock);
    ci->dom = dom;
    pthread_cond_broadcast(&ci->cv);
    pthread_mutex_unlock(&ci->lock);
}

static void in_stop_locked(struct xlmig_chans_in *ci)
{
    ci->closing = true;
    for (unsigned i = 1; i < ci->n; i++)
        if (ci->sock[i] >= 0)
            shutdown(ci->sock[i], SHUT_RDWR);
    pthread_cond_broadcast(&ci->cv);
    while (ci->users)
        pthread_cond_wait(&ci->cv, &ci->lock);
}

static void in_stop(void *opaque)
{
    struct xlmig_chans_in *ci = opaque;

    pthread_mutex_lock(&ci->lock);
    in_stop_locked(ci);
    pthread_mutex_unlock(&ci->lock);
}

static int in_before_end(void *opaque, struct xlmig_stream_reader *r)
{
    struct xlmig_chans_in *ci = opaque;
    struct timespec ts;
    int rc = 0;

    /* Every channel's last page went before the source's END; a channel
     * is late only by what is in flight, so the I/O timeout bounds it. */
    deadline_in(&ts, ci->io_timeout_s);
    pthread_mutex_lock(&ci->lock);
    while (ci->ended < ci->n - 1 && !ci->err && !rc)
        if (pthread_cond_timedwait(&ci->cv, &ci->lock, &ts) == ETIMEDOUT)
            rc = XLMIG_ERR_TIMEOUT;
    if (ci->err)
        rc = ci->err;
    if (rc) {
        LOG_ERR(ci->ctx, "%u of %u data channels ended before END: %s",
                ci->ended, ci->n - 1, xlmig_strerror(rc));
    } else {
        r->pages_data += ci->pages_data;
        r->pages_zero += ci->pages_zero;
    }
    pthread_mutex_unlock(&ci->lock);
    return rc;
}

int xlmig_chans_in_open(xlmig_ctx *ctx, struct xlmig_mjob *j,
                        const char *peer, uint64_t wire, unsigned n,
                        unsigned io_timeout_s, int control_fd,
                        const struct xlmig_stream_reader *rd,
                        struct xlmig_chans_in **out)
{
    struct xlmig_chans_in *ci;

    *out = NULL;
    if (n < 2 || n > XLMIG_CHANNELS_MAX)
        return XLMIG_ERR_INVAL;
    ci = calloc(1, sizeof(*ci));
    if (!ci)
        return XLMIG_ERR_NOMEM;
    ci->ctx = ctx;
    ci->j = j;
    snprintf(ci->peer, sizeof(ci->peer), "%s", peer);
    ci->wire = wire;
    ci->n = n;
    ci->io_timeout_s = io_timeout_s;
    ci->control_fd = control_fd;
    ci->rd = rd;
    ci->hooks.opaque = ci;
    ci->hooks.created = in_created;
    ci->hooks.before_end = in_before_end;
    ci->hooks.stop = in_stop;
    for (unsigned i = 0; i < XLMIG_CHANNELS_MAX; i++)
        ci->sock[i] = -1;
    pthread_mutex_init(&ci->lock, NULL);
    pthread_cond_init(&ci->cv, NULL);
    pthread_mutex_lock(&reg_lock);
    ci->next = reg;
    reg = ci;
    pthread_mutex_unlock(&reg_lock);
    *out = ci;
    return 0;
}

const struct xlmig_reader_hooks *xlmig_chans_in_hooks(
    struct xlmig_chans_in *ci)
{
    return &ci->hooks;
}

void xlmig_chans_in_close(struct xlmig_chans_in *ci)
{
    if (!ci)
        return;
    pthread_mutex_lock(&reg_lock);
    for (struct xlmig_chans_in **p = &reg; *p; p = &(*p)->next)
        if (*p == ci) {
            *p = ci->next;
            break;
        }
    pthread_mutex_unlock(&reg_lock);
    /* No thread can find it now; make those inside leave. */
    pthread_mutex_lock(&ci->lock);
    in_stop_locked(ci);
    pthread_mutex_unlock(&ci->lock);
    pthread_mutex_destroy(&ci->lock);
    pthread_cond_destroy(&ci->cv);
    free(ci);
}

/* Find and join the job a channel names; NULL (with why) if it cannot. */
static struct xlmig_chans_in *join(struct xlmig_conn *c,
                                   const struct xlmig_msg_attach *m,
                                   char *why, size_t len)
{
    struct xlmig_chans_in *ci;

    pthread_mutex_lock(&reg_lock);
    for (ci = reg; ci; ci = ci->next)
        if (ci->wire == m->job_id && !strcmp(ci->peer, c->peer))
            break;
    if (!ci) {
        snprintf(why, len, "no job %016" PRIx64 " from %s takes data "
                 "channels here", m->job_id, c->peer);
    } else {
        struct xlmig_chans_in *found = ci;
        pthread_mutex_lock(&found->lock);
        if (found->closing || found->err) {
            snprintf(why, len, "job %016" PRIx64 " is ending", m->job_id);
            ci = NULL;
        } else if (m->channels != found->n) {
            snprintf(why, len, "channel %u of %u, but the job was prepared "
                     "with %u channels", m->channel, m->channels, found->n);
            ci = NULL;
        } else if (found->attached[m->channel]) {
            snprintf(why, len, "channel %u is already attached",
                     m->channel);
            ci = NULL;
        } else {
            found->attached[m->channel] = true;
            found->sock[m->channel] = xlmig_tls_fd(c->tls);
            found->users++;
        }
        pthread_mutex_unlock(&found->lock);
    }
    pthread_mutex_unlock(&reg_lock);
    return ci;
}

int xlmig_serve_channel(xlmig_ctx *ctx, struct xlmig_conn *c)
{
    struct xlmig_msg_attach m;
    struct xlmig_msg_chan_end e;
    struct xlmig_chans_in *ci;
    struct xlmig_stream_reader rd;
    struct xlmig_record rec;
    struct xlmig_in_source is;
    struct xlmig_source src;
    struct xlmig_dom *dom = NULL;
    struct timespec ts;
    bool reader_ok = false;
    char why[XLMIG_PROTO_TEXT_MAX];
    uint8_t b[8];
    int rc;

    xlmig_msg_get_attach(c->body, &m);
    ci = join(c, &m, why, sizeof(why));
    if (!ci) {
        LOG_ERR(ctx, "%s: data channel refused: %s", c->peer, why);
        xlmig_send_abort(c, m.job_id, XLMIG_ERR_REFUSED, why);
        return XLMIG_ERR_REFUSED;
    }
    xlmig_put_u64(b, m.job_id);
    rc = xlmig_conn_send(c, XLMIG_MSG_READY, b, 8);

    /* Pages can load once the job's stream has created the domain. */
    deadline_in(&ts, ci->io_timeout_s * 2);
    pthread_mutex_lock(&ci->lock);
    while (!rc && !ci->dom && !ci->closing)
        if (pthread_cond_timedwait(&ci->cv, &ci->lock, &ts) == ETIMEDOUT)
            rc = XLMIG_ERR_TIMEOUT;
    if (!rc && ci->closing)
        rc = XLMIG_ERR_CANCELLED;
    dom = ci->dom;
    pthread_mutex_unlock(&ci->lock);
    if (rc)
        goto out;

    xlmig_source_in(&src, &is, c, ci->j, true);
    rc = xlmig_reader_init_channel(&rd, ctx, &src, ci->rd);
    reader_ok = true;
    while (!rc) {
        rc = xlmig_read_record(&rd, &rec);
        if (rc || rd.phase == XLMIG_RD_DONE)
            break;
        if (rec.type == XLMIG_REC_PAGE_DATA ||
            rec.type == XLMIG_REC_DISK_DATA)
            rc = ctx->ops->restore_record(ctx, dom, &rec);
    }
    if (rc)
        goto out;
    if (!is.stashed || c->f.type != XLMIG_MSG_CHANNEL_END) {
        LOG_ERR(ctx, "%s sent %s on data channel %u; CHANNEL_END was due",
                c->peer, xlmig_msg_name(c->f.type), m.channel);
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    xlmig_msg_get_chan_end(c->body, &e);
    if (e.job_id != m.job_id || e.channel != m.channel ||
        e.records != rd.index || e.pages_data != rd.pages_data ||
        e.pages_zero != rd.pages_zero) {
        LOG_ERR(ctx, "data channel %u: CHANNEL_END says %u records, %"
                PRIu64 " + %" PRIu64 " pages; the channel carried %u, %"
                PRIu64 " + %" PRIu64, m.channel, e.records, e.pages_data,
                e.pages_zero, rd.index, rd.pages_data, rd.pages_zero);
        rc = XLMIG_ERR_STREAM;
        goto out;
    }
    LOG_DEBUG(ctx, "data channel %u: %u records, %" PRIu64 " pages",
              m.channel, rd.index, rd.pages_data + rd.pages_zero);

out:
    if (reader_ok)
        xlmig_reader_dispose(&rd);
    pthread_mutex_lock(&ci->lock);
    if (rc) {
        if (!ci->err && !ci->closing) {
            ci->err = rc;
            /* The job's thread may be waiting for control data: end its
             * reading, so it rolls back now (it can still send ABORT). */
            if (ci->control_fd >= 0)
                shutdown(ci->control_fd, SHUT_RD);
        }
    } else {
        ci->ended++;
        ci->pages_data += rd.pages_data;
        ci->pages_zero += rd.pages_zero;
    }
    ci->sock[m.channel] = -1;
    ci->users--;
    pthread_cond_broadcast(&ci->cv);
    pthread_mutex_unlock(&ci->lock);
    if (rc && rc != XLMIG_ERR_CANCELLED)
        xlmig_send_abort(c, m.job_id, rc, "the destination's data channel "
                         "failed: see its log");
    return rc;
}
