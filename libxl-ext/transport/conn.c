/*
 * Connections between xlmigd peers (docs/specs/protocol.md): framed
 * messages over one mutually authenticated TLS connection, HELLO, and
 * dialling a peer.  Nothing here knows of jobs or domains.
 */
#include "transport/conn.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* What this version does. */
#define XLMIG_CAPS (XLMIG_CAP_DONE | XLMIG_CAP_ANNOUNCE)

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
            snprintf(c->aborted, sizeof(c->aborted), "%s", m.text);
            return XLMIG_ERR_PEER;
        }
        if ((c->f.type & XLMIG_PROTO_OPTIONAL) &&
            c->f.type != XLMIG_MSG_ROUND && c->f.type != XLMIG_MSG_DONE &&
            c->f.type != XLMIG_MSG_ANNOUNCED)
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
    c->peer_caps = them.caps;
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

void xlmig_sock_suspended(int fd, unsigned ms)
{
    unsigned user = ms;
    int one = 1, idle = (int)(ms / 2000 ? ms / 2000 : 1), cnt = 1;

    /* Data unacknowledged for @ms, or keepalive probes unanswered for as
     * long (TCP_USER_TIMEOUT bounds both), end the connection with
     * ETIMEDOUT; a peer that is slow but alive acknowledges and stays. */
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user, sizeof(user));
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &one, sizeof(one));
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
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

