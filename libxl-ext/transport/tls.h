/*
 * TLS transport: OpenSSL, TLS 1.3 only, both sides present certificates
 * from the cluster CA, and each checks the other's name: a client checks
 * the server is the host it dialled, a server checks the client is one of
 * its allowed peers.  There is no plaintext mode.  Every refusal says
 * which check failed (unknown CA, expired, name, missing certificate).
 */
#ifndef XLMIG_TLS_H
#define XLMIG_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/private.h"

struct xlmig_tls_config {
    const char *cert;           /* this host's certificate (PEM) */
    const char *key;            /* its private key (PEM) */
    const char *ca;             /* the cluster CA (PEM) */
};

struct xlmig_tls;               /* per-process: keys and trust */
struct xlmig_tls_conn;          /* one authenticated connection */

int xlmig_tls_new(xlmig_ctx *ctx, const struct xlmig_tls_config *cfg,
                  struct xlmig_tls **out) XLMIG_MUST_CHECK;
void xlmig_tls_free(struct xlmig_tls *t);

/*
 * Handshake as the client on the connected socket @fd (which the
 * connection then owns); the server's certificate must name @peer.
 */
int xlmig_tls_connect(xlmig_ctx *ctx, struct xlmig_tls *t, int fd,
                      const char *peer, struct xlmig_tls_conn **out)
    XLMIG_MUST_CHECK;

/*
 * Handshake as the server on @fd (owned by the connection afterwards); the
 * client's certificate must name one of @allowed.  The matching name is
 * copied to @peer.
 */
int xlmig_tls_accept(xlmig_ctx *ctx, struct xlmig_tls *t, int fd,
                     const char *const *allowed, unsigned nallowed,
                     char *peer, size_t peerlen, struct xlmig_tls_conn **out)
    XLMIG_MUST_CHECK;

/* The connection's socket (to shut it down from another thread). */
int xlmig_tls_fd(const struct xlmig_tls_conn *c);
/* Has OpenSSL read bytes off the socket that no read has taken yet?  A
 * caller polling the socket must read while this holds. */
bool xlmig_tls_pending(const struct xlmig_tls_conn *c);

/* Whole-buffer I/O.  read returns XLMIG_ERR_TRUNCATED on a clean close. */
int xlmig_tls_write(struct xlmig_tls_conn *c, const void *buf, size_t len)
    XLMIG_MUST_CHECK;
int xlmig_tls_read(struct xlmig_tls_conn *c, void *buf, size_t len,
                   size_t *got) XLMIG_MUST_CHECK;
/* Send close_notify, free, close the socket.  NULL is a no-op. */
void xlmig_tls_close(struct xlmig_tls_conn *c);
/* The negotiated cipher, for logs. */
const char *xlmig_tls_cipher(const struct xlmig_tls_conn *c);

#endif
