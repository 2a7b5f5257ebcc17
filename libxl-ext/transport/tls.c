#include "transport/tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

struct xlmig_tls {
    SSL_CTX *ssl_ctx;
};

struct xlmig_tls_conn {
    xlmig_ctx *ctx;
    SSL *ssl;
    int fd;
    char peer[256];
};

int xlmig_tls_fd(const struct xlmig_tls_conn *c)
{
    return c ? c->fd : -1;
}

bool xlmig_tls_pending(const struct xlmig_tls_conn *c)
{
    return SSL_has_pending(c->ssl) == 1;
}

/* The most recent OpenSSL error as text, and clear the queue. */
static void ssl_errstr(char *buf, size_t len)
{
    unsigned long e, last = 0;

    while ((e = ERR_get_error()))
        last = e;
    if (last)
        ERR_error_string_n(last, buf, len);
    else
        snprintf(buf, len, "no detail from OpenSSL");
}

int xlmig_tls_new(xlmig_ctx *ctx, const struct xlmig_tls_config *cfg,
                  struct xlmig_tls **out)
{
    struct xlmig_tls *t = NULL;
    char err[256];
    int rc = XLMIG_ERR_INVAL;

    *out = NULL;
    if (!cfg->cert || !cfg->key || !cfg->ca) {
        LOG_ERR(ctx, "TLS needs a certificate, a key and the cluster CA");
        return XLMIG_ERR_INVAL;
    }
    t = calloc(1, sizeof(*t));
    if (!t)
        return XLMIG_ERR_NOMEM;
    t->ssl_ctx = SSL_CTX_new(TLS_method());
    if (!t->ssl_ctx) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    /* TLS 1.3 only; no session tickets (each job authenticates anew). */
    if (!SSL_CTX_set_min_proto_version(t->ssl_ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(t->ssl_ctx, TLS1_3_VERSION)) {
        LOG_ERR(ctx, "this OpenSSL cannot do TLS 1.3");
        goto out;
    }
    SSL_CTX_set_num_tickets(t->ssl_ctx, 0);
    SSL_CTX_set_options(t->ssl_ctx, SSL_OP_NO_TICKET);
    if (SSL_CTX_use_certificate_chain_file(t->ssl_ctx, cfg->cert) != 1) {
        ssl_errstr(err, sizeof(err));
        LOG_ERR(ctx, "loading certificate %s: %s", cfg->cert, err);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ssl_ctx, cfg->key,
                                    SSL_FILETYPE_PEM) != 1) {
        ssl_errstr(err, sizeof(err));
        LOG_ERR(ctx, "loading key %s: %s", cfg->key, err);
        goto out;
    }
    if (SSL_CTX_check_private_key(t->ssl_ctx) != 1) {
        LOG_ERR(ctx, "key %s does not match certificate %s", cfg->key,
                cfg->cert);
        goto out;
    }
    if (SSL_CTX_load_verify_locations(t->ssl_ctx, cfg->ca, NULL) != 1) {
        ssl_errstr(err, sizeof(err));
        LOG_ERR(ctx, "loading CA %s: %s", cfg->ca, err);
        goto out;
    }
    /* Both directions: a peer without a certificate is refused. */
    SSL_CTX_set_verify(t->ssl_ctx,
                       SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                       NULL);
    *out = t;
    t = NULL;
    rc = 0;
out:
    xlmig_tls_free(t);
    return rc;
}

void xlmig_tls_free(struct xlmig_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->ssl_ctx);
    free(t);
}

/* Explain a failed handshake: our verdict on the peer, or its on us. */
static void explain(xlmig_ctx *ctx, SSL *ssl, const char *side,
                    const char *peer, int ret)
{
    bool is_server = SSL_is_server(ssl);
    long v = SSL_get_verify_result(ssl);
    unsigned long last = ERR_peek_last_error();
    bool alert = ERR_GET_LIB(last) == ERR_LIB_SSL &&
                 ERR_GET_REASON(last) >= SSL_AD_REASON_OFFSET;
    char err[256];

    ssl_errstr(err, sizeof(err));
    if (v != X509_V_OK) {
        const char *what = X509_verify_cert_error_string(v);
        const char *hint = "";
        switch (v) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
            hint = " (not issued by the cluster CA)";
            break;
        case X509_V_ERR_CERT_HAS_EXPIRED:
            hint = " (expired)";
            break;
        case X509_V_ERR_CERT_NOT_YET_VALID:
            hint = " (not yet valid)";
            break;
        case X509_V_ERR_HOSTNAME_MISMATCH:
            hint = is_server ? " (it names none of the allowed peers)" :
                               " (it does not name the host dialled)";
            break;
        }
        LOG_ERR(ctx, "TLS %s with %s refused: peer certificate: %s%s",
                side, peer, what, hint);
    } else if (ret == 0) {
        LOG_ERR(ctx, "TLS %s with %s: connection closed during the "
                "handshake", side, peer);
    } else if (alert) {
        /* The peer refused us; its alert is in the error text, e.g.
         * "certificate expired", "unknown ca", "certificate required". */
        LOG_ERR(ctx, "TLS %s with %s refused by the peer: %s", side, peer,
                err);
    } else {
        LOG_ERR(ctx, "TLS %s with %s failed: %s", side, peer, err);
    }
}

static struct xlmig_tls_conn *conn_new(xlmig_ctx *ctx, SSL *ssl, int fd,
                                       const char *peer)
{
    struct xlmig_tls_conn *c = calloc(1, sizeof(*c));

    if (c) {
        c->ctx = ctx;
        c->ssl = ssl;
        c->fd = fd;
        snprintf(c->peer, sizeof(c->peer), "%s", peer);
    }
    return c;
}

int xlmig_tls_connect(xlmig_ctx *ctx, struct xlmig_tls *t, int fd,
                      const char *peer, struct xlmig_tls_conn **out)
{
    SSL *ssl = SSL_new(t->ssl_ctx);
    int r;

    *out = NULL;
    if (!ssl) {
        close(fd);
        return XLMIG_ERR_NOMEM;
    }
    if (!SSL_set_fd(ssl, fd) || !SSL_set1_host(ssl, peer) ||
        !SSL_set_tlsext_host_name(ssl, peer)) {
        SSL_free(ssl);
        close(fd);
        return XLMIG_ERR_INVAL;
    }
    r = SSL_connect(ssl);
    if (r != 1) {
        explain(ctx, ssl, "connection", peer, r);
        SSL_free(ssl);
        close(fd);
        return XLMIG_ERR_AUTH;
    }
    *out = conn_new(ctx, ssl, fd, peer);
    if (!*out) {
        SSL_free(ssl);
        close(fd);
        return XLMIG_ERR_NOMEM;
    }
    LOG_DEBUG(ctx, "TLS to %s: %s, %s", peer, SSL_get_version(ssl),
              SSL_get_cipher_name(ssl));
    return 0;
}

int xlmig_tls_accept(xlmig_ctx *ctx, struct xlmig_tls *t, int fd,
                     const char *const *allowed, unsigned nallowed,
                     char *peer, size_t peerlen, struct xlmig_tls_conn **out)
{
    SSL *ssl = SSL_new(t->ssl_ctx);
    const char *name;
    int r;

    *out = NULL;
    if (!ssl) {
        close(fd);
        return XLMIG_ERR_NOMEM;
    }
    if (!SSL_set_fd(ssl, fd) || nallowed == 0)
        goto fail;
    /* The client's certificate must name one of the allowed peers; the
     * check is part of verification, so a stranger gets an alert. */
    for (unsigned i = 0; i < nallowed; i++)
        if (!SSL_add1_host(ssl, allowed[i]))
            goto fail;
    r = SSL_accept(ssl);
    if (r != 1) {
        explain(ctx, ssl, "handshake", "a client", r);
        goto fail;
    }
    name = SSL_get0_peername(ssl);
    snprintf(peer, peerlen, "%s", name ? name : "");
    *out = conn_new(ctx, ssl, fd, peer);
    if (!*out)
        goto fail;
    LOG_DEBUG(ctx, "TLS from %s: %s, %s", peer, SSL_get_version(ssl),
              SSL_get_cipher_name(ssl));
    return 0;
fail:
    SSL_free(ssl);
    close(fd);
    return XLMIG_ERR_AUTH;
}

int xlmig_tls_write(struct xlmig_tls_conn *c, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        size_t n = 0;
        if (SSL_write_ex(c->ssl, p, len, &n) != 1)
            return XLMIG_ERR_IO;
        p += n;
        len -= n;
    }
    return 0;
}

int xlmig_tls_read(struct xlmig_tls_conn *c, void *buf, size_t len,
                   size_t *got)
{
    uint8_t *p = buf;
    size_t done = 0;

    while (done < len) {
        size_t n = 0;
        if (SSL_read_ex(c->ssl, p + done, len - done, &n) != 1) {
            int e = SSL_get_error(c->ssl, 0);
            unsigned long err = ERR_peek_last_error();
            if (got)
                *got = done;
            if (e == SSL_ERROR_ZERO_RETURN)
                return XLMIG_ERR_TRUNCATED;
            /* In TLS 1.3 a server's verdict on our certificate arrives
             * after our handshake completed: as an alert, here. */
            if (e == SSL_ERROR_SSL && ERR_GET_LIB(err) == ERR_LIB_SSL &&
                ERR_GET_REASON(err) >= SSL_AD_REASON_OFFSET) {
                char msg[256];
                ssl_errstr(msg, sizeof(msg));
                LOG_ERR(c->ctx, "TLS connection with %s refused by the "
                        "peer: %s", c->peer, msg);
                return XLMIG_ERR_AUTH;
            }
            ERR_clear_error();
            return XLMIG_ERR_IO;
        }
        done += n;
    }
    if (got)
        *got = done;
    return 0;
}

void xlmig_tls_close(struct xlmig_tls_conn *c)
{
    if (!c)
        return;
    SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    close(c->fd);
    free(c);
}

const char *xlmig_tls_cipher(const struct xlmig_tls_conn *c)
{
    return SSL_get_cipher_name(c->ssl);
}
