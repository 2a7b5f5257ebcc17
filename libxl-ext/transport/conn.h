/*
 * Connections between xlmigd peers (docs/specs/protocol.md): framed
 * messages over one mutually authenticated TLS connection, HELLO (version
 * and backend agreed), and dialling a peer.  Jobs, data channels, QUERY
 * and tunnels all speak over a struct xlmig_conn.
 */
#ifndef XLMIG_TRANSPORT_CONN_H
#define XLMIG_TRANSPORT_CONN_H

#include <stdbool.h>
#include <sys/uio.h>

#include "core/config.h"
#include "proto/message.h"
#include "transport/tls.h"

struct xlmig_conn {
    xlmig_ctx *ctx;
    struct xlmig_tls_conn *tls;
    uint16_t version;           /* agreed by HELLO; 1 before */
    char peer[XLMIG_NAME_MAX];  /* the authenticated name */
    struct xlmig_frame f;       /* the frame last received */
    uint8_t *body;              /* its body (XLMIG_PROTO_BODY_MAX + 8) */
    uint64_t bytes_in, bytes_out;
    char aborted[XLMIG_PROTO_TEXT_MAX + 1];   /* the peer's ABORT reason */
    uint64_t peer_caps;         /* its HELLO's XLMIG_CAP_* */
};

int xlmig_conn_init(struct xlmig_conn *c, xlmig_ctx *ctx,
                    struct xlmig_tls_conn *tls, const char *peer)
    XLMIG_MUST_CHECK;
/* Close the TLS connection and free the buffer. */
void xlmig_conn_dispose(struct xlmig_conn *c);
int xlmig_conn_sendv(struct xlmig_conn *c, uint32_t type,
                     const struct iovec *iov, int n) XLMIG_MUST_CHECK;
int xlmig_conn_send(struct xlmig_conn *c, uint32_t type, const void *body,
                    size_t len) XLMIG_MUST_CHECK;
/*
 * Receive the next frame into c->f and c->body, checked against the spec.
 * Unknown optional frames are skipped.  An ABORT is logged with its
 * reason and returned as XLMIG_ERR_PEER.
 */
int xlmig_conn_recv(struct xlmig_conn *c) XLMIG_MUST_CHECK;
/* The same, requiring @type. */
int xlmig_conn_expect(struct xlmig_conn *c, uint32_t type) XLMIG_MUST_CHECK;

/* Connect to @p within @secs; returns the socket or XLMIG_ERR_*. */
int xlmig_dial(xlmig_ctx *ctx, const struct xlmigd_peer *p, unsigned secs);
/* HELLO both ways (@first: we speak first, as the destination does). */
int xlmig_hello(struct xlmig_conn *c, bool first, const char *host,
                const char *backend) XLMIG_MUST_CHECK;
/* Best effort: tell the peer why the job ends. */
void xlmig_send_abort(struct xlmig_conn *c, uint64_t job, int code,
                      const char *why);

/* While the domain is suspended: a peer that acknowledges nothing for @ms
 * (data or keepalive) is dead, and the socket fails with ETIMEDOUT. */
void xlmig_sock_suspended(int fd, unsigned ms);

/* Timeouts (@secs), keepalive and no Nagle delay on a peer socket. */
void xlmig_sock_setup(int fd, unsigned secs);

#endif
