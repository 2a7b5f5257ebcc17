/*
 * xlmigd: the per-host migration daemon.
 *
 * The main loop only multiplexes: the TLS listener, the root-only control
 * socket and its clients.  Every job, incoming or outgoing, runs in a
 * worker thread of its own with its own library context, so a stuck peer
 * stalls one job, never the daemon or the CLI.  Workers publish events
 * (JSON lines, docs/specs/control.md) to the clients that watch them,
 * without blocking: a client that does not read loses progress lines.
 *
 * Domains never depend on the daemon: a sim domain is its own process,
 * and a restart reconciles what the last run left (migrate.h).
 */
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

struct xlmigd_state D = {
    .lock = PTHREAD_MUTEX_INITIALIZER, .lfd = -1, .ufd = -1,
    .req_lock = PTHREAD_MUTEX_INITIALIZER,
};

volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static void load_in_doubt(void)
{
    struct xlmig_indoubt *list = NULL;
    unsigned n = 0;

    if (xlmig_state_out_list(D.ctx, D.cfg.state_dir, &list, &n))
        return;
    for (unsigned i = 0; i < n; i++) {
        struct djob *dj = calloc(1, sizeof(*dj));
        if (!dj)
            break;
        xlmig_mjob_init(&dj->m, NULL, list[i].id, XLMIG_JOB_OUT,
                        list[i].domain);
        dj->m.notify = publish;
        dj->m.job.phase = XLMIG_PHASE_HANDOVER;
        dj->m.in_doubt = true;
        dj->m.done = true;
        dj->m.wire_id = list[i].wire_id;
        dj->m.rc = XLMIG_ERR_INDOUBT;
        snprintf(dj->m.peer, sizeof(dj->m.peer), "%s", list[i].dest.name);
        snprintf(dj->m.error, sizeof(dj->m.error), "COMMIT was sent to %s "
                 "before a restart; run xlmig recover", list[i].dest.name);
        dj->fd = -1;
        dj->next = D.jobs;
        D.jobs = dj;
        LOG_WARN(D.ctx, "job %u (%s to %s) is in doubt: run "
                "`xlmig recover %u`", list[i].id, list[i].domain,
                list[i].dest.name, list[i].id);
    }
    free(list);
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: xlmigd [-f CONFIG] [-t]\n"
"  -f, --config FILE   configuration (default " XLMIGD_CONF ")\n"
"  -t, --test          check the configuration and the certificates, "
"then exit\n"
"xlmigd runs in the foreground and logs to standard error.\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'f' },
        { "test", no_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *conf = XLMIGD_CONF;
    struct xlmig_tls_config tc;
    struct sigaction sa;
    bool test = false;
    int c, rc = 1;

    while ((c = getopt_long(argc, argv, "f:th", opts, NULL)) != -1) {
        switch (c) {
        case 'f': conf = optarg; break;
        case 't': test = true; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    xlmigd_config_default(&D.cfg);
    /* For the configuration's messages: no backend opened yet. */
    if (xlmig_ctx_new(&D.ctx, D.cfg.backend, XLMIG_LOG_INFO, stderr, NULL,
                      false))
        return 1;
    if (xlmigd_config_load(D.ctx, conf, &D.cfg))
        goto out;
    if (!D.cfg.host_name[0] &&
        gethostname(D.cfg.host_name, sizeof(D.cfg.host_name) - 1)) {
        LOG_ERR(D.ctx, "no host_name and gethostname failed");
        goto out;
    }
    if (!D.cfg.cert[0] || !D.cfg.key[0] || !D.cfg.ca[0]) {
        LOG_ERR(D.ctx, "%s: certificate, key and ca are required "
                "(there is no plaintext mode)", conf);
        goto out;
    }
    if (!D.cfg.npeers) {
        LOG_ERR(D.ctx, "%s: peers is empty: no host could "
                "migrate here", conf);
        goto out;
    }
    if (D.cfg.sim_dir[0])
        setenv("XLMIG_SIM_DIR", D.cfg.sim_dir, 1);
    xlmig_ctx_free(D.ctx);
    if (xlmig_ctx_alloc(&D.ctx, D.cfg.backend[0] ? D.cfg.backend : NULL,
                        D.cfg.log_level, stderr)) {
        D.ctx = NULL;
        goto out;
    }
    for (unsigned i = 0; i < D.cfg.npeers; i++)
        D.allowed[i] = D.cfg.peers[i].name;
    tc.cert = D.cfg.cert;
    tc.key = D.cfg.key;
    tc.ca = D.cfg.ca;
    if (xlmig_tls_new(D.ctx, &tc, &D.tls))
        goto out;
    if (test) {
        printf("xlmigd: %s is valid: host %s, port %u, %u peers, backend "
               "%s\n", conf, D.cfg.host_name, D.cfg.port, D.cfg.npeers,
               xlmig_ctx_backend(D.ctx));
        rc = 0;
        goto out;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    xlmig_state_reconcile_in(D.ctx, D.cfg.state_dir);
    xlmig_storage_reconcile(D.ctx, &D.cfg);
    load_in_doubt();
    drain_load();
    if (xsorch_start())
        goto out;
    D.lfd = listen_tcp();
    if (D.lfd < 0)
        goto out;
    D.ufd = listen_unix();
    if (D.ufd < 0)
        goto out;
    LOG_INFO(D.ctx, "%s listening on %s port %u, control socket "
            "%s, backend %s", D.cfg.host_name,
            D.cfg.listen[0] ? D.cfg.listen : "*", D.cfg.port,
            D.cfg.socket_path, xlmig_ctx_backend(D.ctx));

    while (!stopping) {
        struct pollfd p[2 + CLIENTS_MAX];
        struct client *cl[CLIENTS_MAX];
        nfds_t n = 2;

        p[0].fd = D.lfd;
        p[0].events = POLLIN;
        p[1].fd = D.ufd;
        p[1].events = POLLIN;
        pthread_mutex_lock(&D.lock);
        for (struct client *x = D.clients; x && n < 2 + CLIENTS_MAX;
             x = x->next) {
            cl[n - 2] = x;
            p[n].fd = x->fd;
            p[n].events = POLLIN;
            n++;
        }
        pthread_mutex_unlock(&D.lock);
        if (poll(p, n, 1000) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents & POLLIN)
            accept_peer();
        if (p[1].revents & POLLIN)
            accept_client();
        for (nfds_t i = 2; i < n; i++)
            if (p[i].revents & (POLLIN | POLLHUP | POLLERR))
                client_input(cl[i - 2]);
        clients_reap();
    }

    /* Shutting down: roll back what can be, wait for the workers. */
    LOG_INFO(D.ctx, "stopping; cancelling jobs before COMMIT");
    queue_drop_all();
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj; dj = dj->next) {
        char why[256];
        if (!dj->m.done && !xlmig_mjob_cancel(&dj->m, why, sizeof(why)))
            xlmig_mjob_fail(&dj->m, XLMIG_ERR_CANCELLED, "xlmigd stopped");
    }
    pthread_mutex_unlock(&D.lock);
    for (int i = 0; i < 600; i++) {
        unsigned w;
        pthread_mutex_lock(&D.lock);
        w = D.workers;
        pthread_mutex_unlock(&D.lock);
        if (!w)
            break;
        usleep(50000);
    }
    rc = 0;
out:
    /* The jobs' last states reach XenStore. */
    if (D.workers == 0)
        xsorch_stop();
    if (D.ufd >= 0) {
        close(D.ufd);
        unlink(D.cfg.socket_path);
    }
    if (D.lfd >= 0)
        close(D.lfd);
    if (D.workers == 0) {
        while (D.jobs) {
            struct djob *dj = D.jobs;
            D.jobs = dj->next;
            xlmig_mjob_dispose(&dj->m);
            free(dj);
        }
        while (D.clients) {
            struct client *x = D.clients;
            D.clients = x->next;
            close(x->fd);
            free(x);
        }
        xlmig_tls_free(D.tls);
    }
    if (D.ctx)
        xlmig_ctx_free(D.ctx);
    return rc;
}

