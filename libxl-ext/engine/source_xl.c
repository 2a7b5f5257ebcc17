/*
 * Migrating to a stock `xl migrate-receive` through a tunnel (xl_send.h,
 * docs/specs/xl-interop.md).
 *
 * The job thread writes xl's stream into a pipe and reads xl's answers
 * from another; a relay thread (the tunnel's own) carries both over the
 * TLS connection as TUNNEL_DATA, and the receiver's standard error into
 * a memory file that goes to the log afterwards.  So the job thread's
 * blocking writes are the back-pressure, and nothing the receiver says
 * can stall the stream.
 */
#include "engine/source_xl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/cursor.h"
#include "engine/precopy.h"
#include "transport/tls.h"
#include "transport/tunnel.h"

const char xlmig_xl_magic[32] = "Xen saved domain, xl format\n \0 \r";
const char xlmig_xl_banner[55] =
    "xl migration receiver ready, send binary domain data.\n";
const char xlmig_xl_ready[34] = "domain received, ready to unpause";
const char xlmig_xl_go[44] = "domain is yours, you are cleared to unpause";
const char xlmig_xl_report[39] = "my copy unpause results are as follows";

size_t xlmig_xl_put_header(uint8_t *b, size_t cap, uint32_t config_len)
{
    if (cap < XLMIG_XL_HDR_SIZE + 4)
        return 0;
    /* xl writes these in the host's order; both ends are x86. */
    memcpy(b, xlmig_xl_magic, sizeof(xlmig_xl_magic));
    xlmig_put_u32(b + 32, XLMIG_XL_BYTEORDER);
    xlmig_put_u32(b + 36, XLMIG_XL_FLAG_STREAMV2 | XLMIG_XL_FLAG_JSON);
    xlmig_put_u32(b + 40, 0);
    xlmig_put_u32(b + 44, 4 + config_len);
    xlmig_put_u32(b + 48, config_len);
    return XLMIG_XL_HDR_SIZE + 4;
}

/* ---- the translating sink ---- */

static int emit(struct xlmig_xl_sink *x, const void *p, size_t n)
{
    struct iovec v = { (void *)p, n };
    int rc;

    if (!n)
        return 0;
    rc = x->out->writev(x->out->opaque, &v, 1);
    if (!rc)
        x->emitted += n;
    return rc;
}

static int config_done(struct xlmig_xl_sink *x)
{
    uint8_t h[XLMIG_XL_HDR_SIZE + 4];
    uint32_t json_len;
    int rc;

    if (x->config_sent) {
        LOG_ERR(x->ctx, "xl stream: a second domain configuration");
        return XLMIG_ERR_INVAL;
    }
    if (x->cfg_len < 8 ||
        xlmig_get_u32(x->cfg) != XLMIG_CONFIG_LIBXL_JSON) {
        LOG_ERR(x->ctx, "xl stream: the domain configuration is not libxl "
                "JSON; xl migrate-receive takes nothing else");
        return XLMIG_ERR_INVAL;
    }
    json_len = (uint32_t)(x->cfg_len - 8);
    xlmig_xl_put_header(h, sizeof(h), json_len + 1);
    rc = emit(x, h, sizeof(h));
    if (!rc)
        rc = emit(x, x->cfg + 8, json_len);
    if (!rc)
        rc = emit(x, "", 1);            /* xl counts the NUL */
    free(x->cfg);
    x->cfg = NULL;
    x->cfg_len = 0;
    x->config_sent = true;
    return rc;
}

static int take(struct xlmig_xl_sink *x, const uint8_t *p, size_t n)
{
    while (n) {
        size_t k;
        int rc;

        if (x->body_left == 0 && x->pad_left == 0) {
            /* A record header. */
            k = XLMIG_REC_HDR_SIZE - x->hlen;
            if (k > n)
                k = n;
            memcpy(x->hdr + x->hlen, p, k);
            x->hlen += k;
            p += k;
            n -= k;
            if (x->hlen < XLMIG_REC_HDR_SIZE)
                return 0;
            x->hlen = 0;
            x->type = xlmig_get_u32(x->hdr);
            x->body_left = xlmig_get_u32(x->hdr + 4);
            x->pad_left = ((x->body_left + 7) & ~(uint64_t)7) - x->body_left;
            x->off_len = 0;
            if (x->body_left > XLMIG_REC_BODY_MAX ||
                (x->type == XLMIG_REC_XEN_STREAM && x->body_left < 8) ||
                (x->type == XLMIG_REC_DOMAIN_CONFIG &&
                 x->body_left > 8 + XLMIG_CONFIG_MAX)) {
                LOG_ERR(x->ctx, "xl stream: a %s record of %" PRIu64
                        " octets", xlmig_rec_type_name(x->type),
                        x->body_left);
                return XLMIG_ERR_INVAL;
            }
            if (x->type == XLMIG_REC_DOMAIN_CONFIG) {
                free(x->cfg);
                x->cfg_len = 0;
                x->cfg = malloc(x->body_left ? x->body_left : 1);
                if (!x->cfg)
                    return XLMIG_ERR_NOMEM;
                if (x->body_left == 0 && (rc = config_done(x)))
                    return rc;
            }
            continue;
        }
        if (x->body_left) {
            k = x->body_left < n ? (size_t)x->body_left : n;
            if (x->type == XLMIG_REC_XEN_STREAM && x->off_len < 8) {
                /* The offset of these octets in Xen's stream: it must be
                 * where the last record ended. */
                k = 8 - x->off_len < k ? 8 - x->off_len : k;
                memcpy(x->off + x->off_len, p, k);
                x->off_len += k;
                if (x->off_len == 8 &&
                    xlmig_get_u64(x->off) != x->xen_bytes) {
                    LOG_ERR(x->ctx, "xl stream: Xen's stream resumes at "
                            "%" PRIu64 ", not at %" PRIu64,
                            xlmig_get_u64(x->off), x->xen_bytes);
                    return XLMIG_ERR_INVAL;
                }
            } else if (x->type == XLMIG_REC_XEN_STREAM) {
                if (!x->config_sent) {
                    LOG_ERR(x->ctx, "xl stream: Xen's stream before the "
                            "domain configuration");
                    return XLMIG_ERR_INVAL;
                }
                rc = emit(x, p, k);
                if (rc)
                    return rc;
                x->xen_bytes += k;
            } else if (x->type == XLMIG_REC_DOMAIN_CONFIG) {
                memcpy(x->cfg + x->cfg_len, p, k);
                x->cfg_len += k;
            }
            x->body_left -= k;
            p += k;
            n -= k;
            if (!x->body_left && x->type == XLMIG_REC_DOMAIN_CONFIG &&
                (rc = config_done(x)))
                return rc;
            continue;
        }
        k = x->pad_left < n ? (size_t)x->pad_left : n;
        x->pad_left -= k;
        p += k;
        n -= k;
    }
    return 0;
}

static int xl_sink_writev(void *opaque, const struct iovec *iov, int n)
{
    struct xlmig_xl_sink *x = opaque;

    for (int i = 0; i < n; i++) {
        int rc = take(x, iov[i].iov_base, iov[i].iov_len);
        if (rc)
            return rc;
    }
    return 0;
}

void xlmig_xl_sink_init(struct xlmig_xl_sink *x, xlmig_ctx *ctx,
                        struct xlmig_sink *out, struct xlmig_sink *in)
{
    memset(x, 0, sizeof(*x));
    x->ctx = ctx;
    x->out = out;
    in->writev = xl_sink_writev;
    in->drain = NULL;
    in->opaque = x;
}

void xlmig_xl_sink_dispose(struct xlmig_xl_sink *x)
{
    free(x->cfg);
    x->cfg = NULL;
}

/* ---- the job ---- */

struct xl_job {
    xlmig_ctx *ctx;
    struct xlmig_conn *c;
    struct xlmig_mjob *j;
    const char *peer;
    int in_w;                   /* xl's standard input: we write */
    int out_r;                  /* its standard output: we read */
    int err_fd;                 /* its standard error, kept (memfd) */
    unsigned io_timeout_s;
    struct xlmig_pace pace;

    pthread_t relay;
    bool relay_started;
    int relay_rc;
    int status;                 /* xl migrate-receive's exit status */
    bool refused;               /* its xlmigd refused the tunnel */
    int fds[3];                 /* the relay's ends */
};

static void *relay_main(void *arg)
{
    struct xl_job *x = arg;
    static char *const argv[] = { "xl", "migrate-receive", NULL };

    x->relay_rc = xlmig_tunnel_run(x->ctx, x->c, 2, argv, x->fds,
                                   &x->status);
    return NULL;
}

/* Read exactly @n octets of xl's output within @secs; 0 or an error. */
static int read_answer(struct xl_job *x, void *buf, size_t n, unsigned secs,
                       const char *what)
{
    uint64_t until = xlmig_now_ns() + secs * 1000000000ull;
    size_t got = 0;

    while (got < n) {
        struct pollfd p = { x->out_r, POLLIN, 0 };
        uint64_t now = xlmig_now_ns();
        ssize_t r;

        if (now >= until) {
            LOG_ERR(x->ctx, "xl migrate-receive on %s did not send %s "
                    "within %u s", x->peer, what, secs);
            return XLMIG_ERR_TIMEOUT;
        }
        if (poll(&p, 1, (int)((until - now) / 1000000) + 1) < 0 &&
            errno != EINTR)
            return xlmig_errno_rc(errno);
        r = read(x->out_r, (uint8_t *)buf + got, n - got);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            LOG_ERR(x->ctx, "xl migrate-receive on %s ended before %s",
                    x->peer, what);
            return XLMIG_ERR_PEER;
        }
        got += (size_t)r;
    }
    return 0;
}

static int expect(struct xl_job *x, const char *msg, size_t n,
                  unsigned secs, const char *what)
{
    char buf[64];
    int rc;

    rc = read_answer(x, buf, n, secs, what);
    if (rc)
        return rc;
    if (memcmp(buf, msg, n)) {
        LOG_ERR(x->ctx, "xl migrate-receive on %s sent something else "
                "than %s: \"%.*s\"", x->peer, what, (int)n, buf);
        return XLMIG_ERR_PEER;
    }
    return 0;
}

/* xl's standard input: the stream, with the job's progress. */
static int pipe_writev(void *opaque, const struct iovec *iov, int n)
{
    struct xl_job *x = opaque;
    struct xlmig_mjob *j = x->j;
    uint64_t len = 0;

    for (int i = 0; i < n; i++) {
        const uint8_t *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left) {
            ssize_t w = write(x->in_w, p, left);
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED :
                       XLMIG_ERR_PEER;      /* the tunnel is gone */
            p += w;
            left -= (size_t)w;
        }
        len += iov[i].iov_len;
    }
    xlmig_mjob_sent(j, &x->pace, len);
    return xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED : 0;
}

/*
 * A round is on the wire once the pipe is empty and the destination's
 * TCP has acknowledged everything: xl has no SYNC to ask it more.
 */
static int xl_sync(void *opaque)
{
    struct xl_job *x = opaque;
    int sock = xlmig_tls_fd(x->c->tls);
    uint64_t until = xlmig_now_ns() + x->io_timeout_s * 1000000000ull;

    for (;;) {
        int inpipe = 0, outq = 0;

        if (ioctl(x->in_w, FIONREAD, &inpipe) < 0)
            inpipe = 0;
        if (ioctl(sock, SIOCOUTQ, &outq) < 0)
            outq = 0;
        if (!inpipe && !outq)
            return 0;
        if (xlmig_mjob_cancelled(x->j))
            return XLMIG_ERR_CANCELLED;
        if (xlmig_now_ns() >= until) {
            LOG_ERR(x->ctx, "%s took nothing for %u s", x->peer,
                    x->io_timeout_s);
            return XLMIG_ERR_TIMEOUT;
        }
        usleep(2000);
    }
}

static int xl_round(void *opaque, const struct xlmig_round *r,
                    const struct xlmig_verdict *v)
{
    struct xl_job *x = opaque;

    xlmig_mjob_round(x->j, r, v);
    return xlmig_mjob_cancelled(x->j) ? XLMIG_ERR_CANCELLED : 0;
}

static void xl_suspending(void *opaque)
{
    struct xl_job *x = opaque;

    xlmig_mjob_suspending(x->j);
}

/* The receiver's standard error, line by line into the log; its last
 * line into @last. */
static void log_stderr(struct xl_job *x, char *last, size_t lastlen)
{
    off_t size = lseek(x->err_fd, 0, SEEK_END);
    char *buf, *line, *save = NULL;

    if (lastlen)
        last[0] = '\0';
    if (size <= 0 || size > (16 << 20))
        return;
    buf = malloc((size_t)size + 1);
    if (!buf)
        return;
    if (pread(x->err_fd, buf, (size_t)size, 0) != size) {
        free(buf);
        return;
    }
    buf[size] = '\0';
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        LOG_INFO(x->ctx, "xl migrate-receive on %s: %s", x->peer, line);
        snprintf(last, lastlen, "%s", line);
    }
    free(buf);
}

/* End the tunnel: xl's input closed, the relay joined (the connection
 * shut down first when @force, so that it cannot wait on a dead peer). */
static void finish(struct xl_job *x, bool force, char *last, size_t lastlen)
{
    if (x->in_w >= 0)
        close(x->in_w);
    x->in_w = -1;
    if (x->relay_started) {
        if (force)
            shutdown(xlmig_tls_fd(x->c->tls), SHUT_RDWR);
        pthread_join(x->relay, NULL);
        x->relay_started = false;
        if (!x->relay_rc)
            LOG_INFO(x->ctx, "xl migrate-receive on %s exited with status "
                     "%d", x->peer, x->status);
    }
    if (x->out_r >= 0)
        close(x->out_r);
    x->out_r = -1;
    if (x->err_fd >= 0) {
        log_stderr(x, last, lastlen);
        close(x->err_fd);
    }
    x->err_fd = -1;
    if (x->relay_rc == XLMIG_ERR_PEER && x->c->f.type == XLMIG_MSG_ABORT) {
        /* The destination's xlmigd refused the tunnel (tunnel = 0, its
         * limits): its reason says more than xl's silence. */
        struct xlmig_msg_text m;

        xlmig_msg_get_text(x->c->f.type, x->c->body, x->c->f.length, &m);
        snprintf(last, lastlen, "%.64s refused: %.160s", x->peer, m.text);
        x->refused = true;
    }
}

int xlmig_xl_migrate(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                     struct xlmig_mjob *j, const struct xlmig_out_opts *o,
                     struct xlmig_conn *c, struct xlmig_dom *dom,
                     const struct xlmig_limits *lim, bool *suspended,
                     bool *committed)
{
    struct xl_job x;
    struct xlmig_sink psink, rsink, xsink;
    struct xlmig_ratelimit rl;
    struct xlmig_xl_sink xs;
    struct xlmig_stream_writer w;
    struct xlmig_live_hooks hooks;
    struct xlmig_live_stats st;
    int in[2] = { -1, -1 }, out[2] = { -1, -1 };
    bool writer_ok = false;
    unsigned answer_s = cfg->io_timeout_s > 120 ? cfg->io_timeout_s : 120;
    char last[256] = "";
    uint8_t rcb = 0;
    int rc;

    *suspended = *committed = false;
    memset(&x, 0, sizeof(x));
    memset(&xs, 0, sizeof(xs));
    x.ctx = ctx;
    x.c = c;
    x.j = j;
    x.peer = o->dest.name;
    x.in_w = x.out_r = x.err_fd = -1;
    x.io_timeout_s = cfg->io_timeout_s;
    snprintf(j->mode, sizeof(j->mode), "live-xl");
    if (strcmp(ctx->ops->name, "xen")) {
        xlmig_mjob_fail(j, XLMIG_ERR_NOTIMPL, "--xl sends Xen's own stream "
                        "to xl migrate-receive: it needs the xen backend, "
                        "this host runs %s", ctx->ops->name);
        return XLMIG_ERR_NOTIMPL;
    }
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
        rc = xlmig_errno_rc(errno);
        goto fail_fds;
    }
    x.err_fd = memfd_create("xl-migrate-receive-stderr", MFD_CLOEXEC);
    if (x.err_fd < 0) {
        rc = xlmig_errno_rc(errno);
        goto fail_fds;
    }
    x.fds[0] = in[0];
    x.fds[1] = out[1];
    x.fds[2] = dup(x.err_fd);
    if (x.fds[2] < 0) {
        rc = xlmig_errno_rc(errno);
        goto fail_fds;
    }
    fcntl(x.fds[2], F_SETFD, FD_CLOEXEC);
    x.in_w = in[1];
    x.out_r = out[0];
    if (pthread_create(&x.relay, NULL, relay_main, &x)) {
        close(x.fds[2]);
        rc = XLMIG_ERR_NOMEM;
        goto fail_fds;
    }
    x.relay_started = true;     /* the relay owns in[0], out[1], fds[2] */
    in[0] = out[1] = -1;

    rc = expect(&x, xlmig_xl_banner, strlen(xlmig_xl_banner),
                cfg->io_timeout_s, "its banner");
    if (rc) {
        finish(&x, true, last, sizeof(last));
        if (x.refused)
            rc = XLMIG_ERR_REFUSED;     /* exit 3: nothing moved */
        xlmig_mjob_fail(j, rc, "%s did not start xl migrate-receive%s%s",
                        o->dest.name, last[0] ? ": " : " (see xlmigd's log "
                        "there)", last);
        return rc;
    }
    LOG_INFO(ctx, "xl migrate-receive runs on %s", o->dest.name);

    /* The receiver waits for the stream: its prepare is done. */
    rc = xlmig_mjob_phase(j, XLMIG_PHASE_PREPARE);
    if (!rc)
        rc = xlmig_mjob_phase(j, XLMIG_PHASE_PRECOPY);
    if (rc)
        goto fail;
    pthread_mutex_lock(&j->lock);
    j->prog.round = 1;
    j->prog.round_target = j->prog.memory_bytes;
    pthread_mutex_unlock(&j->lock);
    psink.writev = pipe_writev;
    psink.drain = NULL;
    psink.opaque = &x;
    xlmig_sink_ratelimit(&rsink, &rl, &psink, lim->bandwidth_cap);
    xlmig_xl_sink_init(&xs, ctx, &rsink, &xsink);
    rc = xlmig_writer_init(&w, ctx, &xsink);
    if (rc)
        goto fail;
    writer_ok = true;
    hooks.opaque = &x;
    hooks.round = xl_round;
    hooks.sync = xl_sync;
    hooks.suspending = xl_suspending;
    rc = ctx->ops->live_save(ctx, dom, &w, lim, &hooks, &st);
    if (rc) {
        /* The backend resumed the domain. */
        if (xlmig_mjob_cancelled(j))
            rc = XLMIG_ERR_CANCELLED;
        goto fail;
    }
    *suspended = true;
    xlmig_write_flush_pages(&w);
    rc = w.err;
    if (!rc && !xs.config_sent) {
        LOG_ERR(ctx, "the save wrote no domain configuration");
        rc = XLMIG_ERR_BACKEND;
    }
    if (rc)
        goto fail;
    pthread_mutex_lock(&j->lock);
    j->prog.rounds = st.rounds;
    j->prog.throttle_pct = st.throttle_pct;
    pthread_mutex_unlock(&j->lock);

    /* xl's receiver restores and says when its copy is ready. */
    rc = expect(&x, xlmig_xl_ready, sizeof(xlmig_xl_ready), answer_s,
                "\"ready to unpause\"");
    if (rc)
        goto fail;

    /* The point of no return. */
    rc = xlmig_mjob_handover(j);
    if (rc)
        goto fail;
    *committed = true;
    if (xlmig_write_all(x.in_w, xlmig_xl_go, sizeof(xlmig_xl_go)) ||
        expect(&x, xlmig_xl_report, sizeof(xlmig_xl_report), answer_s,
               "its report") ||
        read_answer(&x, &rcb, 1, answer_s, "its report's status")) {
        finish(&x, true, last, sizeof(last));
        pthread_mutex_lock(&j->lock);
        j->in_doubt = true;
        pthread_mutex_unlock(&j->lock);
        LOG_ERR(ctx, "cleared xl migrate-receive on %s to unpause, but no "
                "report came: the domain is IN DOUBT; it stays suspended "
                "here: check `xl list` on %s, then destroy one copy and "
                "unpause the other", o->dest.name, o->dest.name);
        xlmig_mjob_fail(j, XLMIG_ERR_INDOUBT, "cleared %s's xl to unpause, "
                        "no report came: check xl list there", o->dest.name);
        if (writer_ok)
            xlmig_writer_dispose(&w);
        xlmig_xl_sink_dispose(&xs);
        return XLMIG_ERR_INDOUBT;
    }
    if (rcb) {
        /* It could not start its copy, destroyed it, and lets us resume
         * once it says so. */
        LOG_ERR(ctx, "xl migrate-receive on %s could not start the domain "
                "(status %d)", o->dest.name, (int)(int8_t)rcb);
        if (expect(&x, xlmig_xl_go, sizeof(xlmig_xl_go), answer_s,
                   "permission to resume")) {
            finish(&x, true, last, sizeof(last));
            pthread_mutex_lock(&j->lock);
            j->in_doubt = true;
            pthread_mutex_unlock(&j->lock);
            xlmig_mjob_fail(j, XLMIG_ERR_INDOUBT, "%s's xl failed to start "
                            "the domain and did not let us resume: check "
                            "xl list there", o->dest.name);
            if (writer_ok)
                xlmig_writer_dispose(&w);
            xlmig_xl_sink_dispose(&xs);
            return XLMIG_ERR_INDOUBT;
        }
        *committed = false;
        rc = XLMIG_ERR_PEER;
        goto fail;
    }
    pthread_mutex_lock(&j->lock);
    j->prog.downtime_ns = xlmig_now_ns() - j->prog.suspended_ns;
    pthread_mutex_unlock(&j->lock);
    if (ctx->ops->destroy(ctx, dom))
        LOG_ERR(ctx, "the domain runs on %s, but destroying the suspended "
                "source copy failed: destroy it by hand", o->dest.name);
    *suspended = false;
    finish(&x, false, last, sizeof(last));
    xlmig_writer_dispose(&w);
    xlmig_xl_sink_dispose(&xs);
    return xlmig_mjob_phase(j, XLMIG_PHASE_COMMITTED);

fail:
    finish(&x, true, last, sizeof(last));
    if (writer_ok)
        xlmig_writer_dispose(&w);
    xlmig_xl_sink_dispose(&xs);
    xlmig_mjob_fail(j, rc, "%s%s%s", xlmig_strerror(rc),
                    last[0] ? "; xl on the destination said: " : "", last);
    return rc;

fail_fds:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
    }
    if (x.err_fd >= 0)
        close(x.err_fd);
    xlmig_mjob_fail(j, rc, "cannot set up the tunnel's pipes");
    return rc;
}
