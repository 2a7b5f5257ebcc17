/* xlmigd: the TLS listener, the control socket and its clients (see xlmigd.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "xlmigd/xlmigd.h"

/* ---- sockets ---- */

int listen_tcp(void)
{
    struct addrinfo hints, *res = NULL, *ai;
    char port[8];
    int fd = -1, one = 1, r;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    hints.ai_family = D.cfg.listen[0] ? AF_UNSPEC : AF_INET6;
    snprintf(port, sizeof(port), "%u", D.cfg.port);
    r = getaddrinfo(D.cfg.listen[0] ? D.cfg.listen : NULL, port, &hints,
                    &res);
    if (r) {
        LOG_ERR(D.ctx, "listen address %s: %s", D.cfg.listen,
                gai_strerror(r));
        return -1;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
                    ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6) {
            int zero = 0;               /* also IPv4, when listening on :: */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(fd, 16) == 0)
            break;
        LOG_ERR(D.ctx, "cannot listen on %s port %u: %s",
                D.cfg.listen[0] ? D.cfg.listen : "*", D.cfg.port,
                strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int listen_unix(void)
{
    struct sockaddr_un sa;
    char dir[sizeof(sa.sun_path)];
    char *slash;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", D.cfg.socket_path);
    snprintf(dir, sizeof(dir), "%s", D.cfg.socket_path);
    slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
            LOG_ERR(D.ctx, "cannot create %s: %s", dir,
                    strerror(errno));
            return -1;
        }
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    /* A live daemon answers on the socket; a stale file does not. */
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
        LOG_ERR(D.ctx, "another xlmigd is running on %s",
                sa.sun_path);
        close(fd);
        return -1;
    }
    unlink(sa.sun_path);
    {
        mode_t old = umask(0177);       /* the socket is 0600 */
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r < 0 || listen(fd, 16) < 0) {
            LOG_ERR(D.ctx, "cannot listen on %s: %s",
                    sa.sun_path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

void accept_client(void)
{
    struct ucred cred;
    socklen_t cl = sizeof(cred);
    struct client *c;
    int fd = accept4(D.ufd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    /* Root, or the user the daemon runs as (tests run unprivileged). */
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &cl) ||
        (cred.uid != 0 && cred.uid != geteuid())) {
        const char msg[] = "{\"event\":\"error\",\"error\":\"permission "
                           "denied: the control socket is for root\"}\n";
        if (write(fd, msg, sizeof(msg) - 1) < 0)
            (void)0;
        close(fd);
        return;
    }
    if (D.nclients >= CLIENTS_MAX) {
        close(fd);
        return;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    pthread_mutex_lock(&D.lock);
    c->next = D.clients;
    D.clients = c;
    D.nclients++;
    pthread_mutex_unlock(&D.lock);
}

void accept_peer(void)
{
    struct djob *dj;
    int fd = accept4(D.lfd, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0)
        return;
    if (stopping) {
        close(fd);
        return;
    }
    xlmig_sock_setup(fd, D.cfg.io_timeout_s);
    dj = job_new(XLMIG_JOB_IN, "");
    if (!dj) {
        close(fd);
        return;
    }
    dj->fd = fd;
    pthread_mutex_lock(&dj->m.lock);
    dj->m.sock = fd;
    pthread_mutex_unlock(&dj->m.lock);
    if (spawn(dj, incoming_worker)) {
        close(fd);
        dj->hidden = true;
        pthread_mutex_lock(&D.lock);
        D.workers++;
        pthread_mutex_unlock(&D.lock);
        job_finish(dj, XLMIG_ERR_NOMEM);
    }
}

/* Read from a client; handle each complete line. */
void client_input(struct client *c)
{
    ssize_t r = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
    char *nl;

    if (r <= 0) {
        c->dead = true;
        return;
    }
    c->len += (size_t)r;
    while ((nl = memchr(c->buf, '\n', c->len))) {
        size_t n = (size_t)(nl - c->buf);
        handle_request(c, c->buf, n);
        memmove(c->buf, nl + 1, c->len - n - 1);
        c->len -= n + 1;
    }
    if (c->len >= sizeof(c->buf) - 1) {
        reply_error(c, "request longer than %d bytes", XLMIG_CTL_LINE_MAX);
        c->dead = true;
    }
}

void clients_reap(void)
{
    pthread_mutex_lock(&D.lock);
    for (struct client **pp = &D.clients; *pp;) {
        struct client *c = *pp;
        if (!c->dead) {
            pp = &c->next;
            continue;
        }
        for (struct djob *dj = D.jobs; dj; dj = dj->next)
            for (unsigned i = 0; i < dj->nsubs;)
                if (dj->subs[i] == c)
                    dj->subs[i] = dj->subs[--dj->nsubs];
                else
                    i++;
        *pp = c->next;
        close(c->fd);
        free(c);
        D.nclients--;
    }
    jobs_prune();
    pthread_mutex_unlock(&D.lock);
}

