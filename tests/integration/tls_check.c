/*
 * One TLS handshake between a server and a client in this process, over a
 * socketpair, using xlmig's transport with real certificates; then a
 * message each way.  Prints what each side concluded; exit 0 only if both
 * authenticated each other and the data went through.
 *
 * tls_check SRV_CERT SRV_KEY SRV_CA ALLOWED CLI_CERT CLI_KEY CLI_CA DIAL
 *   ALLOWED: comma-separated allowed client names; CLI_CERT "-": a client
 *   that presents no certificate at all.  TLS_CHECK_CLIENT_TLS12=1 in the
 *   environment: the client offers at most TLS 1.2.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "transport/tls.h"

static xlmig_ctx ctx_srv = { .level = XLMIG_LOG_DEBUG, .log_prefix = "server: " };
static xlmig_ctx ctx_cli = { .level = XLMIG_LOG_DEBUG, .log_prefix = "client: " };

struct srv {
    struct xlmig_tls *tls;
    int fd;
    const char *allowed[8];
    unsigned nallowed;
    int ok;
};

static void *server(void *arg)
{
    struct srv *s = arg;
    struct xlmig_tls_conn *c;
    char peer[256], buf[5];

    if (xlmig_tls_accept(&ctx_srv, s->tls, s->fd, s->allowed, s->nallowed,
                         peer, sizeof(peer), &c)) {
        printf("server: refused\n");
        return NULL;
    }
    /* The accepting side speaks first, so a client that was refused
     * learns it from the alert on its first read. */
    if (xlmig_tls_write(c, "olleh", 5) == 0 &&
        xlmig_tls_read(c, buf, 5, NULL) == 0 && !memcmp(buf, "hello", 5)) {
        printf("server: ok, peer %s, %s\n", peer, xlmig_tls_cipher(c));
        s->ok = 1;
    } else {
        printf("server: data exchange failed\n");
    }
    xlmig_tls_close(c);
    return NULL;
}

/*
 * A client straight on OpenSSL: without a certificate (@cert NULL), or with
 * one but speaking at most TLS 1.2 (@tls12).
 */
static int bare_client(int fd, const char *ca, const char *dial,
                       const char *cert, const char *key, int tls12)
{
    SSL_CTX *sc = SSL_CTX_new(TLS_method());
    SSL *ssl;
    char buf[5];
    int ok = 0;

    if (tls12)
        SSL_CTX_set_max_proto_version(sc, TLS1_2_VERSION);
    else
        SSL_CTX_set_min_proto_version(sc, TLS1_3_VERSION);
    if (cert && (SSL_CTX_use_certificate_chain_file(sc, cert) != 1 ||
                 SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) != 1))
        return 0;
    SSL_CTX_load_verify_locations(sc, ca, NULL);
    SSL_CTX_set_verify(sc, SSL_VERIFY_PEER, NULL);
    ssl = SSL_new(sc);
    SSL_set_fd(ssl, fd);
    SSL_set1_host(ssl, dial);
    if (SSL_connect(ssl) == 1 && SSL_read(ssl, buf, 5) == 5 &&
        SSL_write(ssl, "hello", 5) == 5)
        ok = 1;
    printf("client (%s): %s\n", tls12 ? "TLS 1.2 only" : "no certificate",
           ok ? "ok" : "refused");
    SSL_free(ssl);
    SSL_CTX_free(sc);
    close(fd);
    return ok;
}

int main(int argc, char **argv)
{
    struct xlmig_tls_config scfg, ccfg;
    struct xlmig_tls *ctls = NULL;
    struct xlmig_tls_conn *c = NULL;
    struct srv s = { 0 };
    pthread_t th;
    char *allowed, *tok, *save = NULL, buf[5];
    int sv[2], cli_ok = 0, tls12;

    if (argc != 9) {
        fprintf(stderr, "usage: tls_check SRV_CERT SRV_KEY SRV_CA ALLOWED "
                "CLI_CERT CLI_KEY CLI_CA DIAL\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    scfg = (struct xlmig_tls_config){ argv[1], argv[2], argv[3] };
    ccfg = (struct xlmig_tls_config){ argv[5], argv[6], argv[7] };
    allowed = strdup(argv[4]);
    for (tok = strtok_r(allowed, ",", &save); tok && s.nallowed < 8;
         tok = strtok_r(NULL, ",", &save))
        s.allowed[s.nallowed++] = tok;
    if (xlmig_tls_new(&ctx_srv, &scfg, &s.tls))
        return 1;
    tls12 = getenv("TLS_CHECK_CLIENT_TLS12") != NULL;
    if (strcmp(argv[5], "-") && !tls12 &&
        xlmig_tls_new(&ctx_cli, &ccfg, &ctls))
        return 1;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return 1;
    s.fd = sv[0];
    pthread_create(&th, NULL, server, &s);
    if (!ctls) {
        cli_ok = bare_client(sv[1], argv[7], argv[8],
                             strcmp(argv[5], "-") ? argv[5] : NULL, argv[6],
                             tls12);
    } else if (xlmig_tls_connect(&ctx_cli, ctls, sv[1], argv[8], &c) == 0) {
        if (xlmig_tls_read(c, buf, 5, NULL) == 0 &&
            !memcmp(buf, "olleh", 5) && xlmig_tls_write(c, "hello", 5) == 0)
            cli_ok = 1;
        printf("client: %s\n", cli_ok ? "ok" : "refused after handshake");
        xlmig_tls_close(c);
    } else {
        printf("client: refused\n");
    }
    pthread_join(th, NULL);
    xlmig_tls_free(s.tls);
    xlmig_tls_free(ctls);
    free(allowed);
    return cli_ok && s.ok ? 0 : 1;
}
