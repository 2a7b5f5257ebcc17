/*
 * Live migration between hosts (docs/specs/protocol.md): the source and
 * destination sides of one job over one TLS connection, the durable
 * records that carry the handover across a daemon restart
 * (docs/specs/state.md), and recovery of jobs left in doubt.
 *
 * The invariant, in code: the destination never unpauses before COMMIT
 * and records COMMIT durably before acting on it; the source never
 * destroys its copy before COMMITTED, and records that it sent COMMIT
 * before sending it.  Every failure before COMMIT resumes the source.
 */
#include "migrate.h"
#include "tunnel.h"
#include "xl_send.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel.h"
#include "cursor.h"
#include "preflight.h"
#include "stream.h"

#define XLMIG_CAPS 0                    /* no optional capabilities yet */
#define PROGRESS_EVERY_NS 250000000ull  /* progress events, at most */

/* ------------------------------------------------------------------ */
/* Framed messages                                                     */

int xlmig_conn_init(struct xlmig_conn *c, xlmig_ctx *ctx,
                    struct xlmig_tls_conn *tls, const char *peer)
{
    memset(c, 0, sizeof(*c));
    c->ctx = ctx;
    c->tls = tls;
    c->version = XLMIG_PROTO_VERSION;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    c->body = malloc(XLMIG_PROTO_BODY_MAX + 8);
    return c->body ? 0 : XLMIG_ERR_NOMEM;
}

void xlmig_conn_dispose(struct xlmig_conn *c)
{
    xlmig_tls_close(c->tls);
    c->tls = NULL;
    free(c->body);
    c->body = NULL;
}

int xlmig_conn_sendv(struct xlmig_conn *c, uint32_t type,
                     const struct iovec *iov, int n)
{
    static const uint8_t zero[8];
    uint8_t hdr[XLMIG_PROTO_HDR_SIZE];
    size_t len = 0;
    int rc;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (len > XLMIG_PROTO_BODY_MAX) {
        LOG_ERR(c->ctx, "internal: %s of %zu bytes exceeds the frame "
                "limit", xlmig_msg_name(type), len);
        return XLMIG_ERR_INVAL;
    }
    xlmig_proto_header(hdr, c->version, type, iov, n);
    if (len <= 4096) {
        /* A small frame goes out as one TLS record. */
        uint8_t one[XLMIG_PROTO_HDR_SIZE + 4096 + 8];
        size_t off = sizeof(hdr);
        memcpy(one, hdr, sizeof(hdr));
        for (int i = 0; i < n; i++) {
            memcpy(one + off, iov[i].iov_base, iov[i].iov_len);
            off += iov[i].iov_len;
        }
        memset(one + off, 0, (8 - (len & 7)) & 7);
        off += (8 - (len & 7)) & 7;
        rc = xlmig_tls_write(c->tls, one, off);
    } else {
        rc = xlmig_tls_write(c->tls, hdr, sizeof(hdr));
        for (int i = 0; !rc && i < n; i++)
            if (iov[i].iov_len)
                rc = xlmig_tls_write(c->tls, iov[i].iov_base,
                                     iov[i].iov_len);
        if (!rc && (len & 7))
            rc = xlmig_tls_write(c->tls, zero, 8 - (len & 7));
    }
    if (rc) {
        LOG_ERR(c->ctx, "sending %s to %s: connection lost",
                xlmig_msg_name(type), c->peer);
        return rc;
    }
    c->bytes_out += sizeof(hdr) + ((len + 7) & ~(size_t)7);
    return 0;
}

int xlmig_conn_send(struct xlmig_conn *c, uint32_t type, const void *body,
                    size_t len)
{
    struct iovec v = { (void *)body, len };

    return xlmig_conn_sendv(c, type, &v, len ? 1 : 0);
}

int xlmig_conn_recv(struct xlmig_conn *c)
{
    uint8_t hdr[XLMIG_PROTO_HDR_SIZE];
    char why[256];
    size_t got = 0;
    int rc;

    for (;;) {
        rc = xlmig_tls_read(c->tls, hdr, sizeof(hdr), &got);
        if (rc) {
            if (rc != XLMIG_ERR_AUTH)
                LOG_ERR(c->ctx, "connection with %s %s", c->peer,
                        rc == XLMIG_ERR_TRUNCATED && got == 0 ?
                            "closed by the peer" : "lost");
            return rc == XLMIG_ERR_AUTH ? rc : XLMIG_ERR_IO;
        }
        rc = xlmig_proto_parse_header(hdr, c->version, &c->f, why,
                                      sizeof(why));
        if (rc) {
            LOG_ERR(c->ctx, "from %s: %s", c->peer, why);
            return XLMIG_ERR_PEER;
        }
        rc = xlmig_tls_read(c->tls, c->body, (c->f.length + 7) & ~7u, &got);
        if (rc) {
            LOG_ERR(c->ctx, "connection with %s lost inside a %s frame",
                    c->peer, xlmig_msg_name(c->f.type));
            return XLMIG_ERR_IO;
        }
        c->bytes_in += sizeof(hdr) + ((c->f.length + 7) & ~7u);
        rc = xlmig_proto_check_body(hdr, &c->f, c->body, why, sizeof(why));
        if (rc) {
            LOG_ERR(c->ctx, "from %s: %s", c->peer, why);
            return XLMIG_ERR_PEER;
        }
        if (c->f.type == XLMIG_MSG_ABORT) {
            struct xlmig_msg_text m;
            xlmig_msg_get_text(c->f.type, c->body, c->f.length, &m);
            LOG_ERR(c->ctx, "%s aborted the job: %s (%s)", c->peer, m.text,
                    xlmig_strerror(m.code));
            return XLMIG_ERR_PEER;
        }
        if ((c->f.type & XLMIG_PROTO_OPTIONAL) &&
            c->f.type != XLMIG_MSG_ROUND)
            continue;                   /* unknown optional: skipped */
        return 0;
    }
}

int xlmig_conn_expect(struct xlmig_conn *c, uint32_t type)
{
    int rc = xlmig_conn_recv(c);

    if (rc)
        return rc;
    if (c->f.type != type) {
        LOG_ERR(c->ctx, "%s sent %s where %s was due", c->peer,
                xlmig_msg_name(c->f.type), xlmig_msg_name(type));
        return XLMIG_ERR_PEER;
    }
    return 0;
}

void xlmig_send_abort(struct xlmig_conn *c, uint64_t job, int code,
                       const char *why)
{
    uint8_t b[16 + XLMIG_PROTO_TEXT_MAX];
    size_t n = xlmig_msg_put_abort(b, sizeof(b), job, code, why);

    if (c->tls && xlmig_conn_send(c, XLMIG_MSG_ABORT, b, n))
        LOG_DEBUG(c->ctx, "could not tell %s about the abort", c->peer);
}

int xlmig_hello(struct xlmig_conn *c, bool first, const char *host,
                const char *backend)
{
    struct xlmig_msg_hello me, them;
    uint8_t b[XLMIG_MSG_HELLO_SIZE];
    uint32_t v;
    int rc;

    memset(&me, 0, sizeof(me));
    me.min_version = XLMIG_PROTO_VERSION;
    me.max_version = XLMIG_PROTO_VERSION;
    me.caps = XLMIG_CAPS;
    snprintf(me.host, sizeof(me.host), "%s", host);
    snprintf(me.backend, sizeof(me.backend), "%s", backend);
    xlmig_msg_put_hello(b, &me);
    if (first && (rc = xlmig_conn_send(c, XLMIG_MSG_HELLO, b, sizeof(b))))
        return rc;
    rc = xlmig_conn_expect(c, XLMIG_MSG_HELLO);
    if (rc)
        return rc;
    xlmig_msg_get_hello(c->body, &them);
    if (!first && (rc = xlmig_conn_send(c, XLMIG_MSG_HELLO, b, sizeof(b))))
        return rc;
    v = xlmig_proto_negotiate(me.min_version, me.max_version,
                              them.min_version, them.max_version);
    if (!v) {
        char why[160];
        snprintf(why, sizeof(why), "no common protocol version: we speak "
                 "%u..%u, %s speaks %u..%u", me.min_version, me.max_version,
                 c->peer, them.min_version, them.max_version);
        LOG_ERR(c->ctx, "%s", why);
        xlmig_send_abort(c, 0, XLMIG_ERR_VERSION, why);
        return XLMIG_ERR_VERSION;
    }
    c->version = (uint16_t)v;
    if (strcmp(them.backend, backend)) {
        char why[160];
        snprintf(why, sizeof(why), "backend mismatch: %s runs %s, %s runs "
                 "%s", host, backend, c->peer, them.backend);
        LOG_ERR(c->ctx, "%s", why);
        xlmig_send_abort(c, 0, XLMIG_ERR_INVAL, why);
        return XLMIG_ERR_INVAL;
    }
    LOG_DEBUG(c->ctx, "%s: protocol v%u, backend %s, TLS %s", c->peer, v,
              them.backend, xlmig_tls_cipher(c->tls));
    return 0;
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                */

void xlmig_mjob_init(struct xlmig_mjob *j, xlmig_ctx *ctx, uint32_t id,
                     enum xlmig_job_dir dir, const char *domain)
{
    memset(j, 0, sizeof(*j));
    xlmig_job_init(&j->job, ctx, id, domain);
    j->dir = dir;
    j->sock = -1;
    for (unsigned i = 0; i < XLMIG_CHANNELS_MAX; i++)
        j->chan_sock[i] = -1;
    snprintf(j->mode, sizeof(j->mode), "live");
    pthread_mutex_init(&j->lock, NULL);
    j->prog.started_ns = xlmig_now_ns();
}

void xlmig_mjob_dispose(struct xlmig_mjob *j)
{
    free(j->pf);
    j->pf = NULL;
    pthread_mutex_destroy(&j->lock);
}

void xlmig_mjob_fail(struct xlmig_mjob *j, int rc, const char *fmt, ...)
{
    va_list ap;

    pthread_mutex_lock(&j->lock);
    if (!j->error[0]) {
        va_start(ap, fmt);
        vsnprintf(j->error, sizeof(j->error), fmt, ap);
        va_end(ap);
    }
    if (!j->rc)
        j->rc = rc;
    pthread_mutex_unlock(&j->lock);
}

void xlmig_mjob_notify(struct xlmig_mjob *j, enum xlmig_job_event ev)
{
    if (j->notify)
        j->notify(j, ev);
}

int xlmig_mjob_cancel(struct xlmig_mjob *j, char *why, size_t len)
{
    int rc = 0;

    pthread_mutex_lock(&j->lock);
    if (j->done) {
        snprintf(why, len, "job %u has finished", j->job.id);
        rc = XLMIG_ERR_STATE;
    } else if (j->job.phase >= XLMIG_PHASE_HANDOVER) {
        snprintf(why, len, "job %u is past COMMIT (%s%s): it can no longer "
                 "be cancelled", j->job.id, xlmig_phase_name(j->job.phase),
                 j->in_doubt ? ", in doubt" : "");
        rc = XLMIG_ERR_STATE;
    } else {
        j->cancel = true;
        /* Wake a worker blocked on the network. */
        if (j->sock >= 0)
            shutdown(j->sock, SHUT_RDWR);
        for (unsigned i = 0; i < XLMIG_CHANNELS_MAX; i++)
            if (j->chan_sock[i] >= 0)
                shutdown(j->chan_sock[i], SHUT_RDWR);
    }
    pthread_mutex_unlock(&j->lock);
    return rc;
}

bool xlmig_mjob_cancelled(struct xlmig_mjob *j)
{
    bool c;

    pthread_mutex_lock(&j->lock);
    c = j->cancel;
    pthread_mutex_unlock(&j->lock);
    return c;
}

static int set_phase(struct xlmig_mjob *j, enum xlmig_phase to)
{
    int rc;

    pthread_mutex_lock(&j->lock);
    rc = xlmig_job_set_phase(&j->job, to);
    pthread_mutex_unlock(&j->lock);
    if (!rc)
        xlmig_mjob_notify(j, XLMIG_EV_PHASE);
    return rc;
}

int xlmig_mjob_phase(struct xlmig_mjob *j, enum xlmig_phase to)
{
    return set_phase(j, to);
}

/* ------------------------------------------------------------------ */
/* Network                                                             */

void xlmig_sock_setup(int fd, unsigned secs)
{
    struct timeval tv = { (time_t)secs, 0 };
    int one = 1, idle = (int)secs, cnt = 3;

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

int xlmig_dial(xlmig_ctx *ctx, const struct xlmigd_peer *p, unsigned secs)
{
    struct addrinfo hints, *res = NULL, *ai;
    const char *host = p->addr[0] ? p->addr : p->name;
    char port[8];
    int fd = -1, r, err = 0;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    snprintf(port, sizeof(port), "%u", p->port);
    r = getaddrinfo(host, port, &hints, &res);
    if (r) {
        LOG_ERR(ctx, "cannot resolve %s: %s", host, gai_strerror(r));
        return XLMIG_ERR_NOTFOUND;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        struct pollfd pfd;
        socklen_t el = sizeof(err);

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC |
                    SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
            errno != EINPROGRESS) {
            err = errno;
            close(fd);
            fd = -1;
            continue;
        }
        pfd.fd = fd;
        pfd.events = POLLOUT;
        r = poll(&pfd, 1, (int)secs * 1000);
        if (r == 0)
            err = ETIMEDOUT;
        else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
            err = errno;
        if (r > 0 && !err) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            xlmig_sock_setup(fd, secs);
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        LOG_ERR(ctx, "cannot connect to %s (%s port %u): %s", p->name, host,
                p->port, strerror(err ? err : ECONNREFUSED));
        return XLMIG_ERR_IO;
    }
    return fd;
}

/* ------------------------------------------------------------------ */
/* Durable records                                                     */

static int mkdirs(const char *dir)
{
    char p[XLMIGD_PATH_MAX + 8];

    snprintf(p, sizeof(p), "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Write @text to @dir/@name durably (temp, fsync, rename, fsync dir). */
static int record_write(xlmig_ctx *ctx, const char *dir, const char *name,
                        const char *text)
{
    char path[XLMIGD_PATH_MAX + 96], tmp[XLMIGD_PATH_MAX + 104];
    int fd, dfd, r;

    r = mkdirs(dir);
    if (r) {
        LOG_ERR(ctx, "cannot create %s: %s", dir, strerror(-r));
        return xlmig_errno_rc(-r);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || xlmig_write_all(fd, text, strlen(text)) || fsync(fd) ||
        close(fd) || rename(tmp, path)) {
        r = errno;
        LOG_ERR(ctx, "cannot record job state in %s: %s", path,
                strerror(r));
        if (fd >= 0)
            unlink(tmp);
        return xlmig_errno_rc(r);
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd))
            LOG_WARN(ctx, "fsync %s: %s", dir, strerror(errno));
        close(dfd);
    }
    return 0;
}

static int record_read(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    int r;

    if (fd < 0)
        return -errno;
    r = xlmig_read_exact(fd, buf, len - 1, &got);
    close(fd);
    if (r < 0)
        return r;
    buf[got] = '\0';
    return 0;
}

/* Value of "key=" in a record, or "". */
static void record_get(const char *text, const char *key, char *out,
                       size_t len)
{
    size_t kl = strlen(key);
    const char *p = text;

    out[0] = '\0';
    while (p && *p) {
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= len)
                n = len - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
}

static const char *const in_state_names[] = {
    [XLMIG_JOBSTATE_UNKNOWN] = "unknown",
    [XLMIG_JOBSTATE_PREPARED] = "prepared",
    [XLMIG_JOBSTATE_RUNNING] = "committed",
    [XLMIG_JOBSTATE_ROLLEDBACK] = "rolledback",
};

static void in_record_name(char *buf, size_t len, const char *peer,
                           uint64_t wire)
{
    snprintf(buf, len, "%s.%016" PRIx64, peer, wire);
}

static int in_record(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                     const char *peer, uint64_t wire, uint32_t state,
                     const char *domain)
{
    char dir[XLMIGD_PATH_MAX + 8], name[96], text[256];

    snprintf(dir, sizeof(dir), "%s/in", cfg->state_dir);
    in_record_name(name, sizeof(name), peer, wire);
    snprintf(text, sizeof(text), "state=%s\ndomain=%s\n",
             in_state_names[state], domain);
    return record_write(ctx, dir, name, text);
}

int xlmig_state_in_read(const char *dir, const char *peer, uint64_t wire,
                        char *domain, size_t len)
{
    char path[XLMIGD_PATH_MAX + 128], name[96], text[256], st[32];

    in_record_name(name, sizeof(name), peer, wire);
    snprintf(path, sizeof(path), "%s/in/%s", dir, name);
    if (record_read(path, text, sizeof(text)))
        return XLMIG_JOBSTATE_UNKNOWN;
    record_get(text, "state", st, sizeof(st));
    record_get(text, "domain", domain, len);
    for (uint32_t s = 1; s < ARRAY_SIZE(in_state_names); s++)
        if (!strcmp(st, in_state_names[s]))
            return (int)s;
    return XLMIG_JOBSTATE_UNKNOWN;
}

uint32_t xlmig_state_next_id(const char *dir)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    char path[XLMIGD_PATH_MAX + 16], text[32];
    unsigned long id = 0;
    int fd;

    pthread_mutex_lock(&lock);
    snprintf(path, sizeof(path), "%s/next-job", dir);
    if (!record_read(path, text, sizeof(text)))
        id = strtoul(text, NULL, 10);
    if (id == 0 || id > UINT32_MAX - 1)
        id = 1;
    (void)mkdirs(dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dprintf(fd, "%lu\n", id + 1);
        close(fd);
    }
    pthread_mutex_unlock(&lock);
    return (uint32_t)id;
}

static int out_record(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                      const struct xlmig_mjob *j,
                      const struct xlmigd_peer *p)
{
    char dir[XLMIGD_PATH_MAX + 8], name[16], text[512];

    snprintf(dir, sizeof(dir), "%s/out", cfg->state_dir);
    snprintf(name, sizeof(name), "%u", j->job.id);
    snprintf(text, sizeof(text),
             "state=commit-sent\nid=%u\nwire=%016" PRIx64 "\ndomain=%s\n"
             "peer=%s\naddr=%s\nport=%u\n", j->job.id, j->wire_id,
             j->job.domain, p->name, p->addr, p->port);
    return record_write(ctx, dir, name, text);
}

static void out_record_remove(const struct xlmigd_config *cfg, uint32_t id)
{
    char path[XLMIGD_PATH_MAX + 24];

    snprintf(path, sizeof(path), "%s/out/%u", cfg->state_dir, id);
    unlink(path);
}

int xlmig_state_out_list(xlmig_ctx *ctx, const char *dir,
                         struct xlmig_indoubt **out, unsigned *n)
{
    char path[XLMIGD_PATH_MAX + 8], f[XLMIGD_PATH_MAX + 300], text[512];
    char v[64];
    struct xlmig_indoubt *a = NULL;
    struct dirent *de;
    unsigned cnt = 0;
    DIR *d;

    *out = NULL;
    *n = 0;
    snprintf(path, sizeof(path), "%s/out", dir);
    d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : xlmig_errno_rc(errno);
    while ((de = readdir(d))) {
        struct xlmig_indoubt x, *na;
        char *end;
        if (de->d_name[0] == '.' || strchr(de->d_name, '.'))
            continue;
        snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
        if (record_read(f, text, sizeof(text)))
            continue;
        memset(&x, 0, sizeof(x));
        record_get(text, "id", v, sizeof(v));
        x.id = (uint32_t)strtoul(v, NULL, 10);
        record_get(text, "wire", v, sizeof(v));
        x.wire_id = strtoull(v, &end, 16);
        record_get(text, "domain", x.domain, sizeof(x.domain));
        record_get(text, "peer", x.dest.name, sizeof(x.dest.name));
        record_get(text, "addr", x.dest.addr, sizeof(x.dest.addr));
        record_get(text, "port", v, sizeof(v));
        x.dest.port = (uint16_t)strtoul(v, NULL, 10);
        if (!x.id || !x.domain[0] || !x.dest.name[0] || !x.dest.port) {
            LOG_WARN(ctx, "ignoring unreadable job record %s", f);
            continue;
        }
        na = realloc(a, (cnt + 1) * sizeof(*a));
        if (!na) {
            free(a);
            closedir(d);
            return XLMIG_ERR_NOMEM;
        }
        a = na;
        a[cnt++] = x;
    }
    closedir(d);
    *out = a;
    *n = cnt;
    return 0;
}

void xlmig_state_reconcile_in(xlmig_ctx *ctx, const char *dir)
{
    char path[XLMIGD_PATH_MAX + 8], f[XLMIGD_PATH_MAX + 300], text[256];
    char st[32], dom[XLMIG_NAME_MAX];
    struct dirent *de;
    DIR *d;

    snprintf(path, sizeof(path), "%s/in", dir);
    d = opendir(path);
    if (!d)
        return;
    while ((de = readdir(d))) {
        struct xlmig_dominfo info;
        struct xlmig_dom *h = NULL;
        if (de->d_name[0] == '.')
            continue;
        snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
        if (record_read(f, text, sizeof(text)))
            continue;
        record_get(text, "state", st, sizeof(st));
        record_get(text, "domain", dom, sizeof(dom));
        if (strcmp(st, "prepared") && strcmp(st, "committed"))
            continue;
        if (xlmig_domain_find(ctx, dom, &info) ||
            ctx->ops->attach(ctx, &info, &h)) {
            if (!strcmp(st, "prepared")) {
                char rec[128];
                snprintf(rec, sizeof(rec), "state=rolledback\ndomain=%s\n",
                         dom);
                (void)record_write(ctx, path, de->d_name, rec);
            }
            continue;
        }
        if (!strcmp(st, "prepared")) {
            char rec[128];
            LOG_WARN(ctx, "incoming %s (%s) was never committed: "
                     "destroying the partial copy", dom, de->d_name);
            if (ctx->ops->destroy(ctx, h))
                LOG_ERR(ctx, "could not destroy the partial copy of %s",
                        dom);
            snprintf(rec, sizeof(rec), "state=rolledback\ndomain=%s\n", dom);
            (void)record_write(ctx, path, de->d_name, rec);
        } else if (info.state == XLMIG_DOM_PAUSED) {
            LOG_WARN(ctx, "incoming %s (%s) was committed but not yet "
                     "running: unpausing it", dom, de->d_name);
            if (ctx->ops->unpause(ctx, h))
                LOG_ERR(ctx, "could not unpause %s", dom);
        }
        ctx->ops->detach(ctx, h);
    }
    closedir(d);
}

/* ------------------------------------------------------------------ */
/* The source                                                          */

void xlmig_mjob_sent(struct xlmig_mjob *j, struct xlmig_pace *p,
                     uint64_t len)
{
    uint64_t now = xlmig_now_ns();
    bool tell = false;

    pthread_mutex_lock(&j->lock);
    j->prog.bytes_sent += len;
    j->prog.round_bytes += len;
    if (now - p->last_ns >= PROGRESS_EVERY_NS) {
        if (p->last_ns)
            j->prog.bandwidth = (uint64_t)((double)(j->prog.bytes_sent -
                                                    p->last_bytes) * 1e9 /
                                           (double)(now - p->last_ns));
        p->last_ns = now;
        p->last_bytes = j->prog.bytes_sent;
        tell = true;
    }
    pthread_mutex_unlock(&j->lock);
    if (tell)
        xlmig_mjob_notify(j, XLMIG_EV_PROGRESS);
}

void xlmig_mjob_round(struct xlmig_mjob *j, const struct xlmig_round *r,
                      const struct xlmig_verdict *v)
{
    pthread_mutex_lock(&j->lock);
    j->prog.last = *r;
    j->prog.verdict = *v;
    j->prog.rounds = r->round;
    j->prog.dirty_rate = v->dirty_rate;
    j->prog.round = r->round + 1;
    j->prog.round_bytes = 0;
    j->prog.round_target = r->pages_dirtied * (XLMIG_PAGE_SIZE + 8);
    pthread_mutex_unlock(&j->lock);
    xlmig_mjob_notify(j, XLMIG_EV_ROUND);
}

void xlmig_mjob_suspending(struct xlmig_mjob *j)
{
    pthread_mutex_lock(&j->lock);
    j->prog.suspended_ns = xlmig_now_ns();
    pthread_mutex_unlock(&j->lock);
    if (set_phase(j, XLMIG_PHASE_STOPCOPY))
        LOG_ERR(j->job.ctx, "internal: phase change refused");
}

struct out_sink {
    struct xlmig_conn *c;
    struct xlmig_mjob *j;
    struct xlmig_pace pace;
};

static int out_writev(void *opaque, const struct iovec *iov, int n)
{
    struct out_sink *s = opaque;
    struct xlmig_mjob *j = s->j;
    uint64_t len = 0;
    int rc;

    for (int i = 0; i < n; i++)
        len += iov[i].iov_len;
    if (xlmig_mjob_cancelled(j))
        return XLMIG_ERR_CANCELLED;
    rc = xlmig_conn_sendv(s->c, XLMIG_MSG_STREAM_DATA, iov, n);
    if (rc)
        return xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED : rc;
    xlmig_mjob_sent(j, &s->pace, len);
    return 0;
}

struct out_hooks {
    struct xlmig_mjob *j;
    struct xlmig_conn *c;
    struct xlmig_chans_out *chans;
    uint64_t sync_seq;
};

static int out_sync(void *opaque)
{
    struct out_hooks *h = opaque;
    uint8_t b[XLMIG_MSG_SYNC_SIZE];
    uint64_t seq = ++h->sync_seq;
    int rc;

    if (h->chans)
        xlmig_chans_sync_start(h->chans, seq);
    xlmig_put_u64(b, h->j->wire_id);
    xlmig_put_u64(b + 8, seq);
    rc = xlmig_conn_send(h->c, XLMIG_MSG_SYNC, b, sizeof(b));
    if (!rc)
        rc = xlmig_conn_expect(h->c, XLMIG_MSG_SYNC);
    if (!rc && xlmig_get_u64(h->c->body + 8) != seq) {
        LOG_ERR(h->c->ctx, "%s answered SYNC %" PRIu64 " as %" PRIu64,
                h->c->peer, seq, xlmig_get_u64(h->c->body + 8));
        rc = XLMIG_ERR_PEER;
    }
    if (!rc && h->chans)
        rc = xlmig_chans_sync_wait(h->chans);
    return rc && xlmig_mjob_cancelled(h->j) ? XLMIG_ERR_CANCELLED : rc;
}

static int out_round(void *opaque, const struct xlmig_round *r,
                     const struct xlmig_verdict *v)
{
    struct out_hooks *h = opaque;
    struct xlmig_mjob *j = h->j;
    struct xlmig_msg_round m = { r->round, r->pages_sent, r->bytes_sent,
                                 r->duration_ns };
    uint8_t b[XLMIG_MSG_ROUND_SIZE];
    int rc;

    xlmig_mjob_round(j, r, v);
    if (xlmig_mjob_cancelled(j))
        return XLMIG_ERR_CANCELLED;
    xlmig_msg_put_round(b, &m);
    rc = xlmig_conn_send(h->c, XLMIG_MSG_ROUND, b, sizeof(b));
    return rc && xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED : rc;
}

static void out_suspending(void *opaque)
{
    struct out_hooks *h = opaque;

    xlmig_mjob_suspending(h->j);
}

/*
 * Test hook: with $NAME set to a path, announce "PATH.ready" and wait (up
 * to a minute) until PATH exists.  The integration tests hash both copies
 * of a domain here, when the source is suspended and the destination
 * holds its complete, paused copy.
 */
static void test_gate(xlmig_ctx *ctx, const char *name)
{
    const char *gate = getenv(name);
    char ready[XLMIGD_PATH_MAX + 8];
    int fd;

    if (!gate || !*gate)
        return;
    snprintf(ready, sizeof(ready), "%s.ready", gate);
    fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    LOG_INFO(ctx, "%s: waiting for %s", name, gate);
    for (int i = 0; i < 6000 && access(gate, F_OK); i++)
        usleep(10000);
}

/* The last page is written: every data channel sends what it holds and
 * its CHANNEL_END, then END goes on the control connection. */
static int end_stream(struct xlmig_stream_writer *w,
                      struct xlmig_chans_out *chans, struct xlmig_mjob *j)
{
    int rc;

    xlmig_write_flush_pages(w);
    rc = w->err;
    if (!rc && chans)
        rc = xlmig_chans_finish(chans, w);
    if (!rc) {
        xlmig_write_end(w);
        rc = w->err;
    }
    return rc && xlmig_mjob_cancelled(j) ? XLMIG_ERR_CANCELLED : rc;
}

/*
 * PREFLIGHT with the domain's needs; the destination's report is kept in
 * the job and published.  On return DOMAIN_INFO's body is at @di (for
 * PREPARE).  0 when every check passed, XLMIG_ERR_REFUSED when one
 * failed (the job's error names them), another error if it never ran.
 */
static int out_preflight(xlmig_ctx *ctx, struct xlmig_conn *c,
                         struct xlmig_mjob *j, const struct xlmig_out_opts *o,
                         struct xlmig_dom *dom, const struct xlmig_dominfo *info,
                         const struct xlmig_domain_desc *desc,
                         uint8_t di[XLMIG_DOMAIN_INFO_SIZE])
{
    struct xlmig_needs *n = calloc(1, sizeof(*n));
    struct xlmig_pf_report *r = malloc(sizeof(*r));
    uint8_t *b = malloc(XLMIG_MSG_PREFLIGHT_SIZE + XLMIG_PF_NEEDS_MAX);
    struct xlmig_msg_text txt;
    char why[256];
    long len;
    int rc;

    if (!n || !r || !b) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    {
        struct xlmig_membuf mb = { b, 0, XLMIG_REC_HDR_SIZE +
                                   XLMIG_DOMAIN_INFO_SIZE + 8, 0 };
        struct xlmig_sink ms;
        struct xlmig_stream_writer tw;
        /* DOMAIN_INFO's body as the stream encodes it. */
        xlmig_sink_mem(&ms, &mb);
        if (xlmig_writer_init(&tw, ctx, &ms)) {
            rc = XLMIG_ERR_NOMEM;
            goto out;
        }
        xlmig_write_domain_info(&tw, desc);
        rc = tw.err;
        xlmig_writer_dispose(&tw);
        if (rc)
            goto out;
        memcpy(di, b + XLMIG_REC_HDR_SIZE, XLMIG_DOMAIN_INFO_SIZE);
    }
    rc = ctx->ops->needs(ctx, dom, n);
    if (rc) {
        xlmig_mjob_fail(j, rc, "cannot read what %s needs of a host (see "
                        "the log)", info->name);
        goto out;
    }
    n->flags = (o->check_only ? XLMIG_PF_CHECK_ONLY : 0) |
               (o->copy_storage ? XLMIG_PF_COPY_STORAGE : 0);
    n->stream_version = XLMIG_STREAM_VERSION;
    memcpy(b, di, XLMIG_DOMAIN_INFO_SIZE);
    xlmig_put_u64(b + XLMIG_DOMAIN_INFO_SIZE,
                  info->nr_pages << XLMIG_PAGE_SHIFT);
    xlmig_put_u32(b + XLMIG_DOMAIN_INFO_SIZE + 8, n->flags);
    xlmig_put_u32(b + XLMIG_DOMAIN_INFO_SIZE + 12, 0);
    len = xlmig_needs_encode(n, b + XLMIG_MSG_PREFLIGHT_SIZE,
                             XLMIG_PF_NEEDS_MAX);
    if (len < 0) {
        xlmig_mjob_fail(j, XLMIG_ERR_INVAL, "what %s needs of a host does "
                        "not fit a PREFLIGHT", info->name);
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    rc = xlmig_conn_send(c, XLMIG_MSG_PREFLIGHT, b,
                         XLMIG_MSG_PREFLIGHT_SIZE + (size_t)len);
    if (!rc)
        rc = xlmig_conn_expect(c, XLMIG_MSG_PREFLIGHT_REPORT);
    if (rc)
        goto out;
    rc = xlmig_pf_report_decode(c->body, c->f.length, r, why, sizeof(why));
    if (rc) {
        LOG_ERR(ctx, "%s sent a bad preflight report: %s", o->dest.name,
                why);
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    pthread_mutex_lock(&j->lock);
    free(j->pf);
    j->pf = r;
    pthread_mutex_unlock(&j->lock);
    r = NULL;
    xlmig_mjob_notify(j, XLMIG_EV_PREFLIGHT);
    rc = xlmig_conn_expect(c, XLMIG_MSG_PREFLIGHT_RESULT);
    if (rc)
        goto out;
    xlmig_msg_get_text(c->f.type, c->body, c->f.length, &txt);
    if (txt.code != 1) {
        LOG_ERR(ctx, "%s refused %s: %s", o->dest.name, info->name,
                txt.text);
        xlmig_mjob_fail(j, XLMIG_ERR_REFUSED, "%s refused: %s",
                        o->dest.name, txt.text);
        rc = XLMIG_ERR_REFUSED;
        goto out;
    }
    LOG_INFO(ctx, "preflight on %s: %s", o->dest.name, txt.text);
out:
    free(n);
    free(r);
    free(b);
    return rc;
}

int xlmig_migrate_out(xlmig_ctx *ctx, struct xlmig_tls *tls,
                      const struct xlmigd_config *cfg, struct xlmig_mjob *j,
                      const struct xlmig_out_opts *o)
{
    struct xlmig_conn c;
    struct xlmig_tls_conn *tc = NULL;
    struct xlmig_domain_desc desc;
    struct xlmig_dominfo info;
    struct xlmig_dom *dom = NULL;
    struct xlmig_stream_writer w;
    struct xlmig_sink fsink, sink;
    struct xlmig_sink lanes[XLMIG_CHANNELS_MAX];
    struct xlmig_chans_out *chans = NULL;
    struct xlmig_ratelimit rl;
    struct out_sink os;
    struct out_hooks oh;
    struct xlmig_live_hooks hooks;
    struct xlmig_live_stats st;
    uint8_t b[XLMIG_MSG_PREPARE_SIZE + 16 + XLMIG_PROTO_TEXT_MAX];
    char host[XLMIG_NAME_MAX];
    bool conn_ok = false, writer_ok = false, suspended = false;
    bool via_made = false, committed = false, recorded = false;
    struct xlmig_limits lim;
    uint64_t t_prep;
    unsigned nchan;
    int fd = -1, rc;

    memset(&c, 0, sizeof(c));
    snprintf(host, sizeof(host), "%s", cfg->host_name);
    if (o->via) {
        snprintf(j->mode, sizeof(j->mode), "quick-via");
        if (o->via[0] != '/' || strlen(o->via) > XLMIG_PROTO_TEXT_MAX) {
            xlmig_mjob_fail(j, XLMIG_ERR_INVAL, "--via needs an absolute "
                            "path of at most %d characters",
                            XLMIG_PROTO_TEXT_MAX);
            rc = XLMIG_ERR_INVAL;
            goto out;
        }
    } else if (o->quick) {
        snprintf(j->mode, sizeof(j->mode), "quick");
    }
    nchan = o->via || !o->channels ? 1 : o->channels;
    if (nchan > XLMIG_CHANNELS_MAX) {
        xlmig_mjob_fail(j, XLMIG_ERR_INVAL, "%u data channels asked for; "
                        "at most %u", nchan, XLMIG_CHANNELS_MAX);
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    rc = xlmig_domain_find(ctx, o->domain, &info);
    if (rc) {
        xlmig_mjob_fail(j, rc, "no domain %s on this host", o->domain);
        goto out;
    }
    if (info.state != XLMIG_DOM_RUNNING) {
        xlmig_mjob_fail(j, XLMIG_ERR_STATE, "domain %s is %s, not running",
                        info.name, xlmig_dom_state_name(info.state));
        rc = XLMIG_ERR_STATE;
        goto out;
    }
    pthread_mutex_lock(&j->lock);
    snprintf(j->job.domain, sizeof(j->job.domain), "%s", info.name);
    snprintf(j->peer, sizeof(j->peer), "%s", o->dest.name);
    j->prog.memory_bytes = info.nr_pages << XLMIG_PAGE_SHIFT;
    pthread_mutex_unlock(&j->lock);
    if (getrandom(&j->wire_id, sizeof(j->wire_id), 0) !=
        sizeof(j->wire_id)) {
        rc = XLMIG_ERR_IO;
        goto out;
    }

    /* Connect and authenticate. */
    fd = xlmig_dial(ctx, &o->dest, cfg->io_timeout_s);
    if (fd < 0) {
        rc = fd;
        fd = -1;
        xlmig_mjob_fail(j, rc, "cannot connect to %s", o->dest.name);
        goto out;
    }
    pthread_mutex_lock(&j->lock);
    j->sock = fd;
    rc = j->cancel ? XLMIG_ERR_CANCELLED : 0;
    pthread_mutex_unlock(&j->lock);
    if (rc)
        goto out;
    rc = xlmig_tls_connect(ctx, tls, fd, o->dest.name, &tc);
    if (rc) {
        pthread_mutex_lock(&j->lock);
        j->sock = -1;                   /* closed by the TLS layer */
        pthread_mutex_unlock(&j->lock);
        fd = -1;
        xlmig_mjob_fail(j, rc, "TLS authentication with %s failed (see "
                        "the log for which check)", o->dest.name);
        goto out;
    }
    rc = xlmig_conn_init(&c, ctx, tc, o->dest.name);
    tc = NULL;
    if (rc)
        goto out;
    conn_ok = true;
    rc = xlmig_hello(&c, false, host, ctx->ops->name);
    if (rc) {
        xlmig_mjob_fail(j, rc, "%s refused the connection (see the log)",
                        o->dest.name);
        goto out;
    }

    /* Preflight. */
    rc = ctx->ops->attach(ctx, &info, &dom);
    if (rc)
        goto out;
    if (o->xl) {
        /* A stock receiver: xl's protocol inside a tunnel, its own
         * checks, no job record (nothing there to ask after a crash). */
        rc = xlmig_xl_migrate(ctx, cfg, j, o, &c, dom, &o->lim, &suspended,
                              &committed);
        if (rc == XLMIG_ERR_INDOUBT)
            goto out;
        if (rc)
            goto out;
        goto xl_done;
    }
    ctx->ops->describe(ctx, dom, &desc);
    rc = out_preflight(ctx, &c, j, o, dom, &info, &desc, b + 16);
    if (rc || o->check_only)
        goto out;
    rc = set_phase(j, XLMIG_PHASE_PREPARE);
    if (rc)
        goto out;

    /* Prepare. */
    xlmig_put_u64(b, j->wire_id);
    xlmig_put_u32(b + 8, nchan);
    xlmig_put_u32(b + 12, 0);
    /* DOMAIN_INFO body is at b + 16 already. */
    t_prep = xlmig_now_ns();
    rc = xlmig_conn_send(&c, XLMIG_MSG_PREPARE, b, XLMIG_MSG_PREPARE_SIZE);
    if (!rc)
        rc = xlmig_conn_expect(&c, XLMIG_MSG_READY);
    if (rc)
        goto out;
    /* PREPARE -> READY costs what COMMIT -> COMMITTED will (a round trip
     * and a durable record there): part of the downtime the policy must
     * predict, beyond the pages. */
    lim = o->lim;
    if (lim.fixed_downtime_ns < xlmig_now_ns() - t_prep)
        lim.fixed_downtime_ns = xlmig_now_ns() - t_prep;
    if (xlmig_msg_get_u64(c.body) != j->wire_id) {
        LOG_ERR(ctx, "%s answered READY for another job", o->dest.name);
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    /*
     * The record that lets a restarted daemon settle the job: written
     * now, outside the downtime, and removed on every outcome but "in
     * doubt".  A record for a job that never sent COMMIT is harmless:
     * recovery asks the destination, which answers rolled back.
     */
    rc = out_record(ctx, cfg, j, &o->dest);
    if (rc) {
        xlmig_mjob_fail(j, rc, "cannot record the job in %s",
                        cfg->state_dir);
        goto out;
    }
    recorded = true;

    os.c = &c;
    os.j = j;
    os.pace.last_ns = 0;
    os.pace.last_bytes = 0;
    fsink.writev = out_writev;
    fsink.drain = NULL;
    fsink.opaque = &os;
    xlmig_sink_ratelimit(&sink, &rl, &fsink, o->lim.bandwidth_cap);
    rc = xlmig_writer_init(&w, ctx, &sink);
    if (rc)
        goto out;
    writer_ok = true;
    if (nchan > 1) {
        rc = xlmig_chans_open(ctx, tls, cfg, j, &o->dest, nchan, &rl,
                              &chans, lanes);
        if (!rc)
            rc = xlmig_writer_set_lanes(&w, nchan, lanes);
        if (rc) {
            if (xlmig_mjob_cancelled(j))
                rc = XLMIG_ERR_CANCELLED;
            else
                xlmig_mjob_fail(j, rc, "cannot open %u data channels to "
                                "%s (see the log)", nchan, o->dest.name);
            goto out;
        }
    }

    if (o->via) {
        /* The source documents' quick migration: through shared storage. */
        struct xlmig_save_stats ss;
        size_t n;
        rc = set_phase(j, XLMIG_PHASE_STOPCOPY);
        if (rc)
            goto out;
        pthread_mutex_lock(&j->lock);
        j->prog.suspended_ns = xlmig_now_ns();
        pthread_mutex_unlock(&j->lock);
        rc = xlmig_save(ctx, info.name, o->via, XLMIG_SAVE_PAUSED, &ss);
        if (rc) {
            xlmig_mjob_fail(j, rc, "saving %s to %s failed", info.name,
                            o->via);
            goto out;
        }
        suspended = via_made = true;
        n = xlmig_msg_put_restore_file(b, sizeof(b), j->wire_id, o->via);
        rc = xlmig_conn_send(&c, XLMIG_MSG_RESTORE_FILE, b, n);
        if (rc)
            goto out;
        pthread_mutex_lock(&j->lock);
        j->prog.rounds = 1;
        j->prog.bytes_sent = ss.bytes_written;
        pthread_mutex_unlock(&j->lock);
    } else if (o->quick) {
        rc = set_phase(j, XLMIG_PHASE_STOPCOPY);
        if (rc)
            goto out;
        pthread_mutex_lock(&j->lock);
        j->prog.suspended_ns = xlmig_now_ns();
        j->prog.round = 1;
        j->prog.round_target = j->prog.memory_bytes;
        pthread_mutex_unlock(&j->lock);
        rc = ctx->ops->suspend(ctx, dom);
        if (rc)
            goto out;
        suspended = true;
        xlmig_write_header(&w);
        xlmig_write_domain_info(&w, &desc);
        rc = ctx->ops->save(ctx, dom, &w);
        if (!rc)
            rc = end_stream(&w, chans, j);
        if (rc)
            goto out;
        pthread_mutex_lock(&j->lock);
        j->prog.rounds = 1;
        pthread_mutex_unlock(&j->lock);
    } else {
        rc = set_phase(j, XLMIG_PHASE_PRECOPY);
        if (rc)
            goto out;
        pthread_mutex_lock(&j->lock);
        j->prog.round = 1;
        j->prog.round_target = j->prog.memory_bytes;
        pthread_mutex_unlock(&j->lock);
        oh.j = j;
        oh.c = &c;
        oh.chans = chans;
        oh.sync_seq = 0;
        hooks.opaque = &oh;
        hooks.round = out_round;
        hooks.sync = out_sync;
        hooks.suspending = out_suspending;
        xlmig_write_header(&w);
        xlmig_write_domain_info(&w, &desc);
        rc = w.err;
        if (rc)
            goto out;
        rc = ctx->ops->live_save(ctx, dom, &w, &lim, &hooks, &st);
        if (rc) {
            /* The engine resumed the domain and stopped log-dirty. */
            if (xlmig_mjob_cancelled(j))
                rc = XLMIG_ERR_CANCELLED;
            goto out;
        }
        suspended = true;
        rc = end_stream(&w, chans, j);
        if (rc)
            goto out;
        pthread_mutex_lock(&j->lock);
        j->prog.rounds = st.rounds;
        j->prog.throttle_pct = st.throttle_pct;
        pthread_mutex_unlock(&j->lock);
    }

    test_gate(ctx, "XLMIG_TEST_COMMIT_GATE");

    /* The point of no return: after this check, cancel is refused. */
    pthread_mutex_lock(&j->lock);
    if (j->cancel) {
        pthread_mutex_unlock(&j->lock);
        rc = XLMIG_ERR_CANCELLED;
        goto out;
    }
    rc = xlmig_job_set_phase(&j->job, XLMIG_PHASE_HANDOVER);
    pthread_mutex_unlock(&j->lock);
    if (rc)
        goto out;
    xlmig_mjob_notify(j, XLMIG_EV_PHASE);
    committed = true;
    xlmig_put_u64(b, j->wire_id);
    rc = xlmig_conn_send(&c, XLMIG_MSG_COMMIT, b, 8);
    if (!rc)
        rc = xlmig_conn_expect(&c, XLMIG_MSG_COMMITTED);
    if (rc == XLMIG_ERR_PEER && c.f.type == XLMIG_MSG_ABORT) {
        /* The destination refused the COMMIT and destroyed its copy:
         * that is an answer, so the source may resume. */
        out_record_remove(cfg, j->job.id);
        committed = false;
        goto out;
    }
    if (rc) {
        pthread_mutex_lock(&j->lock);
        j->in_doubt = true;
        pthread_mutex_unlock(&j->lock);
        LOG_ERR(ctx, "COMMIT sent to %s but no confirmation came: job %u "
                "is in doubt; %s stays suspended here until `xlmig "
                "recover` settles it", o->dest.name, j->job.id, info.name);
        xlmig_mjob_fail(j, XLMIG_ERR_INDOUBT, "COMMIT sent, no "
                        "confirmation from %s: run xlmig recover",
                        o->dest.name);
        rc = XLMIG_ERR_INDOUBT;
        goto out;
    }
    pthread_mutex_lock(&j->lock);
    j->prog.downtime_ns = xlmig_now_ns() - j->prog.suspended_ns;
    pthread_mutex_unlock(&j->lock);
    /* The destination runs the domain: the source copy goes. */
    if (ctx->ops->destroy(ctx, dom))
        LOG_ERR(ctx, "%s runs on %s, but destroying the suspended source "
                "copy failed: destroy it by hand", info.name, o->dest.name);
    if (via_made && unlink(o->via) < 0)
        LOG_WARN(ctx, "cannot remove %s: %s", o->via, strerror(errno));
    out_record_remove(cfg, j->job.id);
    rc = set_phase(j, XLMIG_PHASE_COMMITTED);
xl_done:
out:
    if (rc && rc != XLMIG_ERR_INDOUBT && !committed) {
        char why[256];
        snprintf(why, sizeof(why), "%s", j->error[0] ? j->error :
                 xlmig_strerror(rc));
        /* (Inside a tunnel the connection is shut already: xl's
         * receiver learns from its input's end.) */
        if (conn_ok && rc != XLMIG_ERR_PEER && !o->xl)
            xlmig_send_abort(&c, j->wire_id, rc, why);
        if (suspended && dom && ctx->ops->resume(ctx, dom))
            LOG_ERR(ctx, "could not resume %s after the failed migration",
                    info.name);
        if (via_made && unlink(o->via) < 0)
            LOG_WARN(ctx, "cannot remove %s: %s", o->via, strerror(errno));
        if (j->job.phase != XLMIG_PHASE_ROLLEDBACK &&
            xlmig_phase_transition_ok(j->job.phase, XLMIG_PHASE_ROLLEDBACK))
            (void)set_phase(j, XLMIG_PHASE_ROLLEDBACK);
        xlmig_mjob_fail(j, rc, "%s", xlmig_strerror(rc));
        if (dom)
            LOG_INFO(ctx, "rolled back: %s runs on this host", info.name);
        if (recorded)
            out_record_remove(cfg, j->job.id);
    }
    pthread_mutex_lock(&j->lock);
    j->sock = -1;
    j->prog.total_ns = xlmig_now_ns() - j->prog.started_ns;
    if (rc)
        j->rc = rc;
    pthread_mutex_unlock(&j->lock);
    xlmig_chans_close(chans);
    if (writer_ok)
        xlmig_writer_dispose(&w);
    if (conn_ok)
        xlmig_conn_dispose(&c);
    else if (fd >= 0)
        close(fd);
    if (dom)
        ctx->ops->detach(ctx, dom);
    return rc;
}

/* ------------------------------------------------------------------ */
/* The destination                                                     */

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

static void result(struct xlmig_conn *c, bool ok, const char *fmt, ...)
    XLMIG_PRINTF(3, 4);
static void result(struct xlmig_conn *c, bool ok, const char *fmt, ...)
{
    uint8_t b[8 + XLMIG_PROTO_TEXT_MAX];
    char text[XLMIG_PROTO_TEXT_MAX + 1];
    va_list ap;
    size_t n;

    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    n = xlmig_msg_put_result(b, sizeof(b), ok, text);
    if (xlmig_conn_send(c, XLMIG_MSG_PREFLIGHT_RESULT, b, n))
        LOG_DEBUG(c->ctx, "could not send the preflight result");
}

static int get_desc(xlmig_ctx *ctx, const uint8_t *body,
                    struct xlmig_domain_desc *d)
{
    struct xlmig_record rec;
    char why[160];

    memset(&rec, 0, sizeof(rec));
    rec.type = XLMIG_REC_DOMAIN_INFO;
    rec.length = XLMIG_DOMAIN_INFO_SIZE;
    rec.body = body;
    if (xlmig_rec_get_domain_info(&rec, d, why, sizeof(why))) {
        LOG_ERR(ctx, "domain description: %s", why);
        return XLMIG_ERR_PEER;
    }
    return 0;
}

/* Rows: is a domain with this name, or this UUID, here already? */
static void identity_rows(xlmig_ctx *ctx, const struct xlmig_domain_desc *d,
                          struct xlmig_pf_report *r)
{
    struct xlmig_dominfo *all = NULL;
    char uuid[37], by_name[96] = "", by_uuid[96] = "";
    unsigned n = 0;

    xlmig_uuid_format(d->uuid, uuid);
    if (xlmig_domain_list(ctx, &all, &n)) {
        xlmig_pf_add(r, XLMIG_PF_FAIL, "name", d->name, "?", "cannot list "
                     "the domains of the destination");
        return;
    }
    for (unsigned i = 0; i < n; i++) {
        if (!strcmp(all[i].name, d->name))
            snprintf(by_name, sizeof(by_name), "domid %u", all[i].domid);
        if (!memcmp(all[i].uuid, d->uuid, 16))
            snprintf(by_uuid, sizeof(by_uuid), "domain %s", all[i].name);
    }
    free(all);
    if (by_name[0])
        xlmig_pf_add(r, XLMIG_PF_FAIL, "name", d->name, by_name, "a domain "
                     "named %s already exists on the destination (%s)",
                     d->name, by_name);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "name", d->name, "free", "no "
                     "domain of that name");
    if (by_uuid[0])
        xlmig_pf_add(r, XLMIG_PF_FAIL, "uuid", uuid, by_uuid, "%s on the "
                     "destination already has UUID %s", by_uuid, uuid);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "uuid", uuid, "free", "no domain "
                     "with that UUID");
}

/*
 * The destination's preflight: every check, one row each, into @r.  The
 * memory counted for the domain (its maximum, or what it has now if that
 * is more) is kept in j->need_bytes for PREPARE's reservation.
 */
static void preflight(xlmig_ctx *ctx, const struct xlmig_in_env *env,
                      struct xlmig_mjob *j, const struct xlmig_domain_desc *d,
                      uint64_t now_bytes, const struct xlmig_needs *n,
                      struct xlmig_pf_report *r)
{
    const char *src_backend = xlmig_stream_backend_name(d->backend_id);
    struct xlmig_offer *o;
    char why[XLMIG_PF_REASON_MAX + 1], mem[48];
    uint64_t need = n->memory > now_bytes ? n->memory : now_bytes;
    int rc;

    if (d->backend_id != ctx->ops->stream_id) {
        xlmig_pf_add(r, XLMIG_PF_FAIL, "backend", src_backend,
                     ctx->ops->name, "the domain is a %s domain; this host "
                     "runs the %s backend", src_backend, ctx->ops->name);
        return;         /* nothing else compares across backends */
    }
    xlmig_pf_add(r, XLMIG_PF_PASS, "backend", src_backend, ctx->ops->name,
                 "same backend");
    why[0] = '\0';
    if (env->admit && (rc = env->admit(env->opaque, j, why, sizeof(why))))
        xlmig_pf_add(r, XLMIG_PF_FAIL, "incoming", "", "busy", "%s", why);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "incoming", "", "admitted", "%s",
                     why[0] ? why : "within max_incoming");
    identity_rows(ctx, d, r);

    j->need_bytes = need;
    j->need_vcpus = n->vcpus;
    snprintf(mem, sizeof(mem), "%" PRIu64 " MiB", need >> 20);
    why[0] = '\0';
    if (env->reserve &&
        (rc = env->reserve(env->opaque, NULL, need, why, sizeof(why))))
        xlmig_pf_add(r, XLMIG_PF_FAIL, "memory", mem, "short", "%s", why);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "memory", mem, "enough", "%s",
                     why[0] ? why : "not counted here");

    o = calloc(1, sizeof(*o));
    if (!o || ctx->ops->offer(ctx, n, o)) {
        xlmig_pf_add(r, XLMIG_PF_FAIL, "host", "", "?", "the destination "
                     "cannot read its own resources (see its log)");
        free(o);
        return;
    }
    o->stream_min = 1;
    o->stream_max = XLMIG_STREAM_VERSION;
    o->overcommit = env->cfg->vcpu_overcommit_pct / 100.0;
    if (env->vcpus_held)
        o->vcpus_held = env->vcpus_held(env->opaque, j);
    xlmig_pf_eval(n, o, r);
    free(o);
}

static int answer_query(xlmig_ctx *ctx, struct xlmig_conn *c,
                        const struct xlmigd_config *cfg)
{
    uint64_t wire = xlmig_msg_get_u64(c->body);
    uint8_t b[XLMIG_MSG_JOB_STATE_SIZE];
    char dom[XLMIG_NAME_MAX] = "";
    int st = xlmig_state_in_read(cfg->state_dir, c->peer, wire, dom,
                                 sizeof(dom));

    if (st == XLMIG_JOBSTATE_RUNNING) {
        /* Committed: make sure it runs (a daemon killed between its
         * record and the unpause leaves it paused). */
        struct xlmig_dominfo info;
        struct xlmig_dom *h;
        if (xlmig_domain_find(ctx, dom, &info) ||
            ctx->ops->attach(ctx, &info, &h)) {
            LOG_ERR(ctx, "job %016" PRIx64 " from %s was committed but "
                    "domain %s is gone", wire, c->peer, dom);
        } else {
            if (info.state == XLMIG_DOM_PAUSED &&
                ctx->ops->unpause(ctx, h))
                LOG_ERR(ctx, "cannot unpause %s", dom);
            ctx->ops->detach(ctx, h);
        }
    }
    LOG_INFO(ctx, "%s asks about job %016" PRIx64 ": %s", c->peer, wire,
             in_state_names[st]);
    xlmig_msg_put_job_state(b, wire, (uint32_t)st);
    return xlmig_conn_send(c, XLMIG_MSG_JOB_STATE, b, sizeof(b));
}

/*
 * A stock xl migrate-receive run for the peer (tunnel.c): an incoming job
 * of its own, counted against max_incoming while it runs.
 */
static int serve_tunnel(xlmig_ctx *ctx, struct xlmig_conn *c,
                        const struct xlmig_in_env *env, struct xlmig_mjob *j)
{
    char why[XLMIG_PROTO_TEXT_MAX];
    int rc;

    pthread_mutex_lock(&j->lock);
    snprintf(j->job.domain, sizeof(j->job.domain), "xl-migrate-receive");
    snprintf(j->mode, sizeof(j->mode), "tunnel");
    pthread_mutex_unlock(&j->lock);
    if (env->admit && (rc = env->admit(env->opaque, j, why, sizeof(why)))) {
        LOG_WARN(ctx, "refused a tunnel from %s: %s", c->peer, why);
        xlmig_send_abort(c, 0, rc, why);
        xlmig_mjob_fail(j, rc, "%s", why);
        return rc;
    }
    rc = set_phase(j, XLMIG_PHASE_PREPARE);
    if (rc)
        return rc;
    return xlmig_tunnel_serve(ctx, c, env->cfg, j);
}

/*
 * Answer PREFLIGHT (in c->body): the report, then the verdict.  0 when
 * every check passed; XLMIG_ERR_REFUSED (the job failed with the reasons)
 * otherwise.
 */
static int in_preflight(xlmig_ctx *ctx, struct xlmig_conn *c,
                        const struct xlmig_in_env *env, struct xlmig_mjob *j,
                        const struct xlmig_domain_desc *d, uint64_t need,
                        uint32_t flags)
{
    struct xlmig_needs *n = calloc(1, sizeof(*n));
    struct xlmig_pf_report *r = malloc(sizeof(*r));
    uint8_t *b = malloc(XLMIG_MSG_REPORT_MAX);
    char why[XLMIG_PROTO_TEXT_MAX];
    long len;
    int rc;

    if (!n || !r || !b) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    rc = xlmig_needs_decode(c->body + XLMIG_MSG_PREFLIGHT_SIZE,
                            c->f.length - XLMIG_MSG_PREFLIGHT_SIZE, n, why,
                            sizeof(why));
    if (rc) {
        LOG_ERR(ctx, "%s's PREFLIGHT for %s: %s", c->peer, d->name, why);
        xlmig_send_abort(c, 0, XLMIG_ERR_PEER, why);
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    n->flags = flags;
    xlmig_pf_report_init(r);
    preflight(ctx, env, j, d, need, n, r);
    len = xlmig_pf_report_encode(r, b, XLMIG_MSG_REPORT_MAX);
    if (len < 0) {
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    rc = xlmig_conn_send(c, XLMIG_MSG_PREFLIGHT_REPORT, b, (size_t)len);
    if (rc)
        goto out;
    if (r->failed) {
        xlmig_pf_failures(r, why, sizeof(why));
        result(c, false, "%s", why);
        LOG_WARN(ctx, "refused %s from %s: %s", d->name, c->peer, why);
        xlmig_mjob_fail(j, XLMIG_ERR_REFUSED, "refused: %s", why);
        rc = XLMIG_ERR_REFUSED;
    } else {
        result(c, true, "%s can run %s: %u checks passed, %u with a "
               "warning", env->cfg->host_name, d->name, r->n - r->warned,
               r->warned);
        LOG_INFO(ctx, "preflight%s for %s from %s: %u checks passed",
                 flags & XLMIG_PF_CHECK_ONLY ? " (only)" : "", d->name,
                 c->peer, r->n);
    }
    pthread_mutex_lock(&j->lock);
    free(j->pf);
    j->pf = r;
    pthread_mutex_unlock(&j->lock);
    r = NULL;
out:
    free(n);
    free(r);
    free(b);
    return rc;
}

int xlmig_serve(xlmig_ctx *ctx, struct xlmig_tls_conn *tls, const char *peer,
                const struct xlmig_in_env *env, struct xlmig_mjob *j)
{
    const struct xlmigd_config *cfg = env->cfg;
    struct xlmig_conn c;
    struct xlmig_domain_desc d, d2;
    struct xlmig_stream_reader rd;
    struct xlmig_source src;
    struct xlmig_in_source is;
    struct xlmig_dom *dom = NULL;
    struct xlmig_restore_opts ro = { 1, NULL };
    struct xlmig_chans_in *chans = NULL;
    char why[XLMIG_PROTO_TEXT_MAX];
    uint8_t b[16];
    bool reader_ok = false, prepared = false, committed = false;
    bool aborted = false;
    uint64_t need;
    uint32_t flags;
    int rc;

    rc = xlmig_conn_init(&c, ctx, tls, peer);
    if (rc) {
        xlmig_tls_close(tls);
        return rc;
    }
    pthread_mutex_lock(&j->lock);
    snprintf(j->peer, sizeof(j->peer), "%s", peer);
    pthread_mutex_unlock(&j->lock);
    rc = xlmig_hello(&c, true, cfg->host_name, ctx->ops->name);
    if (rc)
        goto out;
    rc = xlmig_conn_recv(&c);
    if (rc)
        goto out;
    if (c.f.type == XLMIG_MSG_QUERY) {
        rc = answer_query(ctx, &c, cfg);
        j->wire_id = 0;
        goto out;
    }
    if (c.f.type == XLMIG_MSG_ATTACH) {
        /* Not a job of its own: a data channel of one. */
        rc = xlmig_serve_channel(ctx, &c);
        j->wire_id = 0;
        goto out;
    }
    if (c.f.type == XLMIG_MSG_TUNNEL) {
        rc = serve_tunnel(ctx, &c, env, j);
        goto out;
    }
    if (c.f.type != XLMIG_MSG_PREFLIGHT) {
        LOG_ERR(ctx, "%s sent %s where PREFLIGHT or QUERY was due", peer,
                xlmig_msg_name(c.f.type));
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    rc = get_desc(ctx, c.body, &d);
    if (rc)
        goto out;
    need = xlmig_get_u64(c.body + XLMIG_DOMAIN_INFO_SIZE);
    flags = xlmig_get_u32(c.body + XLMIG_DOMAIN_INFO_SIZE + 8);
    pthread_mutex_lock(&j->lock);
    snprintf(j->job.domain, sizeof(j->job.domain), "%s", d.name);
    j->prog.memory_bytes = d.nr_pages << XLMIG_PAGE_SHIFT;
    pthread_mutex_unlock(&j->lock);
    rc = in_preflight(ctx, &c, env, j, &d, need, flags);
    if (rc || (flags & XLMIG_PF_CHECK_ONLY))
        goto out;
    rc = set_phase(j, XLMIG_PHASE_PREPARE);
    if (rc)
        goto out;

    rc = xlmig_conn_expect(&c, XLMIG_MSG_PREPARE);
    if (rc)
        goto out;
    j->wire_id = xlmig_get_u64(c.body);
    rc = get_desc(ctx, c.body + 16, &d2);
    if (rc)
        goto out;
    if (memcmp(&d, &d2, sizeof(d))) {
        snprintf(why, sizeof(why), "PREPARE describes another domain than "
                 "PREFLIGHT");
        xlmig_send_abort(&c, j->wire_id, XLMIG_ERR_PEER, why);
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    if (xlmig_get_u32(c.body + 8) > 1) {
        rc = xlmig_chans_in_open(ctx, j, peer, j->wire_id,
                                 xlmig_get_u32(c.body + 8), cfg->io_timeout_s,
                                 xlmig_tls_fd(c.tls), &rd, &chans);
        if (rc) {
            xlmig_send_abort(&c, j->wire_id, rc, "cannot take data "
                             "channels");
            goto out;
        }
    }
    if (env->reserve &&
        (rc = env->reserve(env->opaque, j, j->need_bytes, why,
                           sizeof(why)))) {
        xlmig_send_abort(&c, j->wire_id, rc, why);
        xlmig_mjob_fail(j, rc, "%s", why);
        goto out;
    }
    rc = in_record(ctx, cfg, peer, j->wire_id, XLMIG_JOBSTATE_PREPARED,
                   d.name);
    if (rc) {
        xlmig_send_abort(&c, j->wire_id, rc, "the destination cannot record "
                   "the job");
        goto out;
    }
    prepared = true;
    xlmig_put_u64(b, j->wire_id);
    rc = xlmig_conn_send(&c, XLMIG_MSG_READY, b, 8);
    if (rc)
        goto out;

    /* The stream, or a file on shared storage; the domain stays paused. */
    xlmig_source_in(&src, &is, &c, j, false);
    rc = xlmig_conn_recv(&c);
    if (rc)
        goto out;
    if (c.f.type == XLMIG_MSG_RESTORE_FILE) {
        struct xlmig_msg_text m;
        xlmig_msg_get_text(c.f.type, c.body, c.f.length, &m);
        snprintf(j->mode, sizeof(j->mode), "quick-via");
        rc = set_phase(j, XLMIG_PHASE_STOPCOPY);
        if (rc)
            goto out;
        LOG_INFO(ctx, "restoring %s from %s", d.name, m.text);
        rc = xlmig_reader_open_file(&rd, ctx, m.text);
        reader_ok = true;
        if (!rc)
            rc = xlmig_restore_stream(ctx, &rd, m.text, &ro, &dom, NULL);
        if (rc)
            goto out;
        if (memcmp(&rd.desc, &d, sizeof(d))) {
            LOG_ERR(ctx, "%s holds another domain than the one prepared",
                    m.text);
            rc = XLMIG_ERR_PEER;
            goto out;
        }
        rc = xlmig_conn_recv(&c);
        if (rc)
            goto out;
        is.stashed = true;
    } else if (c.f.type == XLMIG_MSG_STREAM_DATA) {
        is.p = c.body;
        is.left = c.f.length;
        rc = set_phase(j, XLMIG_PHASE_PRECOPY);
        if (rc)
            goto out;
        rc = xlmig_reader_init(&rd, ctx, &src);
        reader_ok = true;
        if (chans)
            rd.hooks = xlmig_chans_in_hooks(chans);
        if (!rc)
            rc = xlmig_read_header(&rd);
        if (!rc)
            rc = xlmig_restore_stream(ctx, &rd, "the incoming stream", &ro,
                                      &dom, NULL);
        if (rc)
            goto out;
        if (memcmp(&rd.desc, &d, sizeof(d))) {
            LOG_ERR(ctx, "the stream holds another domain than the one "
                    "prepared");
            rc = XLMIG_ERR_PEER;
            goto out;
        }
    } else {
        LOG_ERR(ctx, "%s sent %s where STREAM_DATA or RESTORE_FILE was "
                "due", peer, xlmig_msg_name(c.f.type));
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    /* The stream ended at a frame that is not data: it must be COMMIT. */
    if (!is.stashed || c.f.type != XLMIG_MSG_COMMIT) {
        LOG_ERR(ctx, "%s sent %s after the stream; COMMIT was due", peer,
                xlmig_msg_name(c.f.type));
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    if (xlmig_msg_get_u64(c.body) != j->wire_id) {
        LOG_ERR(ctx, "COMMIT for another job");
        rc = XLMIG_ERR_PEER;
        goto out;
    }
    if (j->job.phase == XLMIG_PHASE_PRECOPY)
        (void)set_phase(j, XLMIG_PHASE_STOPCOPY);
    rc = set_phase(j, XLMIG_PHASE_HANDOVER);
    if (rc)
        goto out;

    /* COMMIT: durable first, then run. */
    rc = in_record(ctx, cfg, peer, j->wire_id, XLMIG_JOBSTATE_RUNNING,
                   d.name);
    if (rc) {
        xlmig_send_abort(&c, j->wire_id, rc, "cannot record the COMMIT");
        aborted = true;
        goto out;
    }
    committed = true;
    if (getenv("XLMIG_TEST_DIE_AFTER_COMMIT")) {
        /* Fault injection for the in-doubt test: the daemon dies with the
         * COMMIT recorded, before the domain runs or COMMITTED goes. */
        LOG_ERR(ctx, "XLMIG_TEST_DIE_AFTER_COMMIT: exiting now");
        _exit(99);
    }
    rc = ctx->ops->unpause(ctx, dom);
    if (rc) {
        /* We have not confirmed: tell the source to resume, durably. */
        LOG_ERR(ctx, "cannot start %s after COMMIT: rolling back", d.name);
        if (in_record(ctx, cfg, peer, j->wire_id,
                      XLMIG_JOBSTATE_ROLLEDBACK, d.name) == 0) {
            committed = false;
            xlmig_send_abort(&c, j->wire_id, rc, "the destination could not "
                       "start the domain");
            aborted = true;
        }
        goto out;
    }
    xlmig_put_u64(b, j->wire_id);
    if (xlmig_conn_send(&c, XLMIG_MSG_COMMITTED, b, 8))
        LOG_WARN(ctx, "%s runs here, but the confirmation did not reach "
                 "%s; its job is in doubt until it asks", d.name, peer);
    rc = set_phase(j, XLMIG_PHASE_COMMITTED);
    LOG_INFO(ctx, "%s from %s runs here", d.name, peer);

out:
    /* No data channel touches the domain after this. */
    xlmig_chans_in_close(chans);
    if (rc && !committed) {
        if (dom) {
            LOG_INFO(ctx, "destroying the incomplete copy of %s", d.name);
            if (ctx->ops->destroy(ctx, dom))
                LOG_ERR(ctx, "could not destroy the copy of %s", d.name);
        }
        if (prepared &&
            in_record(ctx, cfg, peer, j->wire_id, XLMIG_JOBSTATE_ROLLEDBACK,
                      d.name))
            LOG_ERR(ctx, "cannot record the roll-back");
        /* Recorded first, so that a QUERY gives the same answer: the
         * copy here is gone, the source may resume.  (Best effort: the
         * connection may be what failed.) */
        if (prepared && !aborted)
            xlmig_send_abort(&c, j->wire_id, rc, "the destination rolled back: "
                       "see its log");
        if (j->job.phase != XLMIG_PHASE_ROLLEDBACK &&
            xlmig_phase_transition_ok(j->job.phase, XLMIG_PHASE_ROLLEDBACK))
            (void)set_phase(j, XLMIG_PHASE_ROLLEDBACK);
        xlmig_mjob_fail(j, rc, "%s", xlmig_strerror(rc));
    }
    pthread_mutex_lock(&j->lock);
    j->prog.total_ns = xlmig_now_ns() - j->prog.started_ns;
    if (rc)
        j->rc = rc;
    pthread_mutex_unlock(&j->lock);
    if (dom)
        ctx->ops->detach(ctx, dom);
    if (reader_ok)
        xlmig_reader_dispose(&rd);
    xlmig_conn_dispose(&c);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Recovery                                                            */

int xlmig_recover(xlmig_ctx *ctx, struct xlmig_tls *tls,
                  const struct xlmigd_config *cfg,
                  const struct xlmig_indoubt *x, int *there, char *outcome,
                  size_t len)
{
    struct xlmig_conn c;
    struct xlmig_tls_conn *tc = NULL;
    struct xlmig_dominfo info;
    struct xlmig_dom *dom = NULL;
    uint8_t b[8];
    uint32_t st;
    int fd, rc;

    snprintf(outcome, len, "not settled");
    fd = xlmig_dial(ctx, &x->dest, cfg->io_timeout_s);
    if (fd < 0) {
        snprintf(outcome, len, "%s cannot be reached; still in doubt",
                 x->dest.name);
        return fd;
    }
    rc = xlmig_tls_connect(ctx, tls, fd, x->dest.name, &tc);
    if (rc) {
        snprintf(outcome, len, "TLS with %s failed; still in doubt",
                 x->dest.name);
        return rc;
    }
    rc = xlmig_conn_init(&c, ctx, tc, x->dest.name);
    if (rc) {
        xlmig_tls_close(tc);
        return rc;
    }
    rc = xlmig_hello(&c, false, cfg->host_name, ctx->ops->name);
    if (!rc) {
        xlmig_put_u64(b, x->wire_id);
        rc = xlmig_conn_send(&c, XLMIG_MSG_QUERY, b, 8);
    }
    if (!rc)
        rc = xlmig_conn_expect(&c, XLMIG_MSG_JOB_STATE);
    if (!rc && xlmig_get_u64(c.body) != x->wire_id)
        rc = XLMIG_ERR_PEER;
    st = rc ? 0 : xlmig_get_u32(c.body + 8);
    xlmig_conn_dispose(&c);
    *there = (int)st;
    if (rc) {
        snprintf(outcome, len, "%s did not answer; still in doubt",
                 x->dest.name);
        return rc;
    }
    if (st == XLMIG_JOBSTATE_PREPARED) {
        snprintf(outcome, len, "%s is still finishing job %u; try again",
                 x->dest.name, x->id);
        return XLMIG_ERR_INDOUBT;
    }
    if (xlmig_domain_find(ctx, x->domain, &info) ||
        ctx->ops->attach(ctx, &info, &dom)) {
        /* Nothing here to settle. */
        snprintf(outcome, len, "%s: %s there, no copy here", x->domain,
                 st == XLMIG_JOBSTATE_RUNNING ? "runs" : "does not run");
        out_record_remove(cfg, x->id);
        return 0;
    }
    if (st == XLMIG_JOBSTATE_RUNNING) {
        rc = ctx->ops->destroy(ctx, dom);
        snprintf(outcome, len, "%s runs on %s: source copy destroyed",
                 x->domain, x->dest.name);
    } else {
        rc = ctx->ops->resume(ctx, dom);
        snprintf(outcome, len, "%s never ran on %s (%s): resumed here",
                 x->domain, x->dest.name,
                 st == XLMIG_JOBSTATE_ROLLEDBACK ? "rolled back there" :
                                                   "unknown there");
    }
    ctx->ops->detach(ctx, dom);
    if (rc) {
        snprintf(outcome, len, "settling %s failed: %s", x->domain,
                 xlmig_strerror(rc));
        return rc;
    }
    out_record_remove(cfg, x->id);
    LOG_INFO(ctx, "job %u: %s", x->id, outcome);
    return 0;
}
