/*
 * xlmig tunnel: stock `xl migrate` over xlmig's TLS (tunnel.h,
 * docs/specs/protocol.md "Tunnels").
 *
 * Both ends run the same relay: local descriptors read and sent as a
 * stream (0 the command's input, 1 its output, 2 its error), and local
 * descriptors written with what arrives on a stream.  Nothing more is read
 * off the connection while a write is pending, so a slow local reader
 * holds the remote writer back through TCP rather than through memory
 * here.  An empty TUNNEL_DATA is the end of its stream.
 */
#include "transport/tunnel.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/cursor.h"

extern char **environ;

#define CHUNK (64u << 10)
#define DRAIN_NS (2ull * 1000000000)    /* output after the command exits */
#define REAP_S 60                       /* an orphaned receiver's grace */

/* ---- the relay ---- */

struct relay {
    xlmig_ctx *ctx;
    struct xlmig_conn *c;
    int rd[3];                  /* read and sent as stream i; -1 */
    int wr[3];                  /* written with stream i; -1 */
    bool wr_nonblock[3];
    uint8_t *wbuf[3];
    size_t wlen[3], woff[3];
    bool weof[3];               /* close wr[i] once its buffer is written */
    bool exited;                /* client: TUNNEL_EXIT arrived */
    uint32_t status;
};

static void wr_close(struct relay *r, int s)
{
    if (r->wr[s] >= 0)
        close(r->wr[s]);        /* also our own stdout: xl sees the end */
    r->wr[s] = -1;
    r->wlen[s] = r->woff[s] = 0;
}

static bool writes_pending(const struct relay *r)
{
    for (int s = 0; s < 3; s++)
        if (r->wlen[s] > r->woff[s])
            return true;
    return false;
}

/* Write what stream @s has pending, as much as goes without blocking. */
static void flush_one(struct relay *r, int s)
{
    while (r->wr[s] >= 0 && r->woff[s] < r->wlen[s]) {
        size_t n = r->wlen[s] - r->woff[s];
        ssize_t w;
        if (!r->wr_nonblock[s] && n > PIPE_BUF)
            n = PIPE_BUF;
        w = write(r->wr[s], r->wbuf[s] + r->woff[s], n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (w < 0) {
            /* The reader is gone: what it would have read is dropped, as
             * a pipe would. */
            LOG_DEBUG(r->ctx, "tunnel: stream %d: %s", s, strerror(errno));
            wr_close(r, s);
            return;
        }
        r->woff[s] += (size_t)w;
        if (!r->wr_nonblock[s])
            return;             /* poll again before the next piece */
    }
    if (r->woff[s] == r->wlen[s]) {
        r->woff[s] = r->wlen[s] = 0;
        if (r->weof[s])
            wr_close(r, s);
    }
}

static int send_data(struct relay *r, uint32_t s, const void *p, size_t n)
{
    uint8_t h[8];
    struct iovec v[2] = { { h, 8 }, { (void *)p, n } };

    xlmig_put_u32(h, s);
    xlmig_put_u32(h + 4, 0);
    return xlmig_conn_sendv(r->c, XLMIG_MSG_TUNNEL_DATA, v, n ? 2 : 1);
}

/* One frame off the connection. */
static int take_frame(struct relay *r)
{
    struct xlmig_conn *c = r->c;
    uint32_t s, n;
    int rc = xlmig_conn_recv(c);

    if (rc)
        return rc;
    if (c->f.type == XLMIG_MSG_TUNNEL_EXIT) {
        r->status = xlmig_get_u32(c->body);
        if (xlmig_get_u32(c->body + 4))
            r->status = 128 + (r->status & 127);
        r->exited = true;
        return 0;
    }
    if (c->f.type != XLMIG_MSG_TUNNEL_DATA) {
        LOG_ERR(r->ctx, "%s sent %s inside a tunnel", c->peer,
                xlmig_msg_name(c->f.type));
        return XLMIG_ERR_PEER;
    }
    s = xlmig_get_u32(c->body);
    n = c->f.length - 8;
    if (!r->wbuf[s] || r->weof[s]) {
        LOG_ERR(r->ctx, "%s sent tunnel stream %u, which %s", c->peer, s,
                r->weof[s] ? "it had ended" : "goes the other way");
        return XLMIG_ERR_PEER;
    }
    if (n == 0) {
        r->weof[s] = true;
        flush_one(r, s);
        return 0;
    }
    if (r->wr[s] < 0)
        return 0;               /* nobody reads it any more */
    memcpy(r->wbuf[s], c->body + 8, n);
    r->woff[s] = 0;
    r->wlen[s] = n;
    flush_one(r, s);
    return 0;
}

/* Has @pid exited?  Its status in *ws. */
static bool reaped(pid_t pid, int *ws)
{
    return waitpid(pid, ws, WNOHANG) == pid;
}

/*
 * Relay until the end: for the client (@pid -1), TUNNEL_EXIT with
 * everything written; for the server, the command's exit (its status in
 * *wstatus) with its output read to the end or for DRAIN_NS more.  The
 * command's exit wakes the loop through @pidfd, or where there is none
 * (pidfd_open is missing under valgrind, for one) a 100 ms tick.
 */
static int relay_run(struct relay *r, int pidfd, pid_t pid, int *wstatus)
{
    uint8_t *rbuf = malloc(CHUNK);
    uint64_t drain_until = 0;
    bool server = pid > 0, child_done = false;
    int rc = 0;

    for (int s = 0; s < 3; s++)
        if (r->wr[s] >= 0 && !(r->wbuf[s] = malloc(XLMIG_TUNNEL_DATA_MAX)))
            rc = XLMIG_ERR_NOMEM;
    if (!rbuf || rc) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    for (;;) {
        struct pollfd p[8];
        int idx[8], np = 0;
        int timeout = child_done || (server && pidfd < 0) ? 100 : -1;
        int sock = -1, pid_i = -1;
        bool blocked = writes_pending(r), rd_open = false, ready = false;

        if (!server && r->exited && !blocked)
            break;                              /* client: done */
        for (int s = 0; s < 3; s++)
            rd_open |= r->rd[s] >= 0;
        if (server && child_done &&
            (!rd_open || xlmig_now_ns() >= drain_until))
            break;                              /* server: done */
        for (int s = 0; s < 3; s++) {
            if (r->rd[s] >= 0 && !r->exited) {
                p[np] = (struct pollfd){ r->rd[s], POLLIN, 0 };
                idx[np++] = s;
            }
            if (r->wr[s] >= 0 && r->wlen[s] > r->woff[s]) {
                p[np] = (struct pollfd){ r->wr[s], POLLOUT, 0 };
                idx[np++] = 3 + s;
            }
        }
        if (!blocked && !r->exited) {
            if (xlmig_tls_pending(r->c->tls))
                ready = true, timeout = 0;
            sock = np;
            p[np] = (struct pollfd){ xlmig_tls_fd(r->c->tls), POLLIN, 0 };
            idx[np++] = 6;
        }
        if (pidfd >= 0 && !child_done) {
            pid_i = np;
            p[np] = (struct pollfd){ pidfd, POLLIN, 0 };
            idx[np++] = 7;
        }
        if (poll(p, (nfds_t)np, timeout) < 0) {
            if (errno == EINTR)
                continue;
            rc = xlmig_errno_rc(errno);
            goto out;
        }
        if (sock >= 0 && (ready || p[sock].revents)) {
            rc = take_frame(r);
            if (rc)
                goto out;
        }
        if (server && !child_done &&
            (pidfd < 0 || (pid_i >= 0 && p[pid_i].revents)) &&
            reaped(pid, wstatus)) {
            child_done = true;
            drain_until = xlmig_now_ns() + DRAIN_NS;
        }
        for (int i = 0; i < np; i++) {
            int s = idx[i] % 3;
            if (!p[i].revents || idx[i] >= 6)
                continue;
            if (idx[i] >= 3) {
                flush_one(r, s);
                continue;
            }
            ssize_t n = read(r->rd[s], rbuf, CHUNK);
            if (n < 0 && (errno == EINTR || errno == EAGAIN))
                continue;
            if (n <= 0) {
                if (r->rd[s] > 2)
                    close(r->rd[s]);
                r->rd[s] = -1;
                n = 0;
            }
            rc = send_data(r, (uint32_t)s, rbuf, (size_t)n);
            if (rc)
                goto out;
        }
    }
out:
    free(rbuf);
    for (int s = 0; s < 3; s++) {
        free(r->wbuf[s]);
        r->wbuf[s] = NULL;
    }
    return rc;
}

/* ---- the destination ---- */

static pid_t spawn_cmd(xlmig_ctx *ctx, const struct xlmig_tunnel_cmd *cmd,
                       int in[2], int out[2], int err[2])
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    sigset_t none, dfl;
    pid_t pid = -1;
    int r;

    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    /* Nothing of the daemon's (its listener, other jobs' sockets) leaks
     * into xl or the domain monitor it leaves behind. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGCHLD);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &dfl);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
                             POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
    r = posix_spawn(&pid, cmd->argv[0], &fa, &at, cmd->argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (r) {
        LOG_ERR(ctx, "tunnel: cannot run %s: %s", cmd->argv[0],
                strerror(r));
        return -1;
    }
    return pid;
}

static void describe_status(int ws, char *buf, size_t len)
{
    if (WIFSIGNALED(ws))
        snprintf(buf, len, "killed by signal %d", WTERMSIG(ws));
    else
        snprintf(buf, len, "exit status %d", WEXITSTATUS(ws));
}

int xlmig_tunnel_serve(xlmig_ctx *ctx, struct xlmig_conn *c,
                       const struct xlmigd_config *cfg, char *fail,
                       size_t faillen)
{
    struct xlmig_tunnel_cmd cmd;
    struct relay r;
    char why[XLMIG_PROTO_TEXT_MAX], line[512];
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 };
    int pidfd = -1, ws = 0, rc;
    pid_t pid = -1;
    uint8_t b[XLMIG_MSG_TUNNEL_EXIT_SIZE];

    if (!cfg->tunnel) {
        snprintf(why, sizeof(why), "tunnels are off on %s (tunnel = 0 in "
                 "its xlmigd.conf)", cfg->host_name);
        rc = XLMIG_ERR_REFUSED;
    } else {
        rc = xlmig_tunnel_cmd_parse(c->body, c->f.length, cfg->tunnel_xl,
                                    &cmd, why, sizeof(why));
    }
    if (rc) {
        LOG_WARN(ctx, "refused a tunnel from %s: %s", c->peer, why);
        xlmig_send_abort(c, 0, rc, why);
        snprintf(fail, faillen, "refused: %s", why);
        return rc;
    }
    line[0] = '\0';
    for (int i = 0; i < cmd.argc; i++) {
        size_t l = strlen(line);
        snprintf(line + l, sizeof(line) - l, "%s%s", i ? " " : "",
                 cmd.argv[i]);
    }
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) ||
        pipe2(err, O_CLOEXEC)) {
        rc = xlmig_errno_rc(errno);
        snprintf(why, sizeof(why), "cannot make pipes: %s",
                 strerror(errno));
        goto refuse;
    }
    pid = spawn_cmd(ctx, &cmd, in, out, err);
    if (pid < 0) {
        rc = XLMIG_ERR_BACKEND;
        snprintf(why, sizeof(why), "cannot run %s", cmd.argv[0]);
        goto refuse;
    }
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0)
        LOG_DEBUG(ctx, "tunnel: pidfd_open: %s; polling for the exit",
                  strerror(errno));
    close(in[0]);
    close(out[1]);
    close(err[1]);
    in[0] = out[1] = err[1] = -1;
    LOG_INFO(ctx, "tunnel from %s: running %s [pid %d]", c->peer, line,
             (int)pid);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.c = c;
    r.rd[0] = -1;
    r.rd[1] = out[0];
    r.rd[2] = err[0];
    r.wr[0] = in[1];
    r.wr[1] = r.wr[2] = -1;
    r.wr_nonblock[0] = true;
    out[0] = err[0] = in[1] = -1;       /* the relay closes them */
    rc = relay_run(&r, pidfd, pid, &ws);
    for (int s = 0; s < 3; s++) {
        if (r.rd[s] >= 0)
            close(r.rd[s]);
        if (r.wr[s] >= 0)
            close(r.wr[s]);
    }
    if (rc) {
        /* The sender is gone; its input has ended (above), which is what
         * an xl receiver acts on.  Give it time to clean up. */
        int tick = 0;
        LOG_WARN(ctx, "tunnel from %s lost; waiting up to %d s for %s to "
                 "end", c->peer, REAP_S, cmd.argv[0]);
        while (!reaped(pid, &ws)) {
            if (tick++ == REAP_S * 10) {
                LOG_ERR(ctx, "tunnel: %s [pid %d] still runs: killed",
                        cmd.argv[0], (int)pid);
                kill(pid, SIGKILL);
                waitpid(pid, &ws, 0);
                break;
            }
            usleep(100000);
        }
        describe_status(ws, why, sizeof(why));
        snprintf(fail, faillen, "tunnel lost; %s ended with %s", line, why);
        goto out;
    }
    describe_status(ws, why, sizeof(why));
    LOG_INFO(ctx, "tunnel from %s: %s ended with %s", c->peer, line, why);
    xlmig_put_u32(b, WIFSIGNALED(ws) ? (uint32_t)WTERMSIG(ws) :
                                       (uint32_t)WEXITSTATUS(ws));
    xlmig_put_u32(b + 4, WIFSIGNALED(ws) ? 1 : 0);
    rc = xlmig_conn_send(c, XLMIG_MSG_TUNNEL_EXIT, b, sizeof(b));
    if (!rc && (WIFSIGNALED(ws) || WEXITSTATUS(ws))) {
        rc = XLMIG_ERR_BACKEND;
        snprintf(fail, faillen, "%s ended with %s", line, why);
    }
    goto out;
refuse:
    LOG_ERR(ctx, "tunnel from %s: %s", c->peer, why);
    xlmig_send_abort(c, 0, rc, why);
    snprintf(fail, faillen, "%s", why);
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (err[i] >= 0)
            close(err[i]);
    }
    if (pidfd >= 0)
        close(pidfd);
    return rc;
}

/* ---- the source ---- */

int xlmig_tunnel_client(xlmig_ctx *ctx, struct xlmig_conn *c, int argc,
                        char *const *argv, int *status)
{
    const int fds[3] = { 0, 1, 2 };

    return xlmig_tunnel_run(ctx, c, argc, argv, fds, status);
}

int xlmig_tunnel_run(xlmig_ctx *ctx, struct xlmig_conn *c, int argc,
                     char *const *argv, const int fds[3], int *status)
{
    uint8_t b[XLMIG_PROTO_TEXT_MAX];
    size_t n = xlmig_tunnel_put_cmd(b, sizeof(b), argc, argv);
    struct relay r;
    int rc;

    if (!n) {
        LOG_ERR(ctx, "tunnel: the command must be 1 to %d words of "
                "printable ASCII, %d octets at most", XLMIG_TUNNEL_ARGS_MAX,
                XLMIG_PROTO_TEXT_MAX);
        return XLMIG_ERR_INVAL;
    }
    rc = xlmig_conn_send(c, XLMIG_MSG_TUNNEL, b, n);
    if (rc)
        return rc;
    memset(&r, 0, sizeof(r));
    r.ctx = ctx;
    r.c = c;
    r.rd[0] = fds[0];
    r.rd[1] = r.rd[2] = -1;
    r.wr[0] = -1;
    r.wr[1] = fds[1];
    r.wr[2] = fds[2];
    rc = relay_run(&r, -1, -1, NULL);
    /* Whatever the relay has not closed yet ends here: a local reader
     * sees the end, a local writer its pipe break. */
    if (r.rd[0] > 2)
        close(r.rd[0]);
    for (int s = 1; s < 3; s++)
        if (r.wr[s] > 2)
            close(r.wr[s]);
    if (!rc)
        *status = (int)r.status;
    return rc;
}
