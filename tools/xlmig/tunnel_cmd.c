/*
 * xlmig tunnel HOST [COMMAND...]: carry a stock `xl migrate` over xlmig's
 * TLS.  Use it as xl's transport:
 *
 *     xl migrate -s "xlmig tunnel" DOMAIN HOST
 *
 * xl then runs "xlmig tunnel HOST xl migrate-receive"; this connects to
 * HOST's xlmigd with this host's certificate (from xlmigd.conf), which
 * runs its xl migrate-receive, and relays standard input, output and
 * error until that exits.  The exit status is the receiver's, or 255 when
 * the tunnel itself failed, as ssh does.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xlmig/commands.h"
#include "xlmigd/conf.h"
#include "transport/tunnel.h"

#define EXIT_TUNNEL 255

int xlmig_cmd_tunnel(int argc, char **argv)
{
    static char *dflt[] = { "xl", "migrate-receive", NULL };
    enum xlmig_log_level level = xlmig_cli_level;
    const char *conf = getenv("XLMIG_CONF");
    struct xlmigd_config cfg;
    struct xlmigd_peer dest;
    const struct xlmigd_peer *p;
    struct xlmig_tls_config tc;
    struct xlmig_tls *tls = NULL;
    struct xlmig_tls_conn *tconn = NULL;
    struct xlmig_conn c;
    xlmig_ctx *ctx = NULL;
    char **cmd;
    int ch, ncmd, fd, status = EXIT_TUNNEL, rc;

    if (!conf || !*conf)
        conf = XLMIGD_CONF;
    optind = 1;
    while ((ch = xlmig_getopt("tunnel", argc, argv)) != -1) {
        switch (ch) {
        case 'f': conf = optarg; break;
        case 'h': xlmig_cmd_usage("tunnel", stdout); return 0;
        default: xlmig_cmd_usage("tunnel", stderr); return 2;
        }
    }
    if (optind >= argc) {
        xlmig_cmd_usage("tunnel", stderr);
        return 2;
    }
    cmd = optind + 1 < argc ? argv + optind + 1 : dflt;
    ncmd = optind + 1 < argc ? argc - optind - 1 : 2;

    /* xl's end of the pipes may close first; that is its business. */
    signal(SIGPIPE, SIG_IGN);
    xlmigd_config_default(&cfg);
    if (xlmig_ctx_alloc(&ctx, NULL, level, stderr))
        return EXIT_TUNNEL;
    snprintf(ctx->log_prefix, sizeof(ctx->log_prefix), "xlmig tunnel: ");
    if (xlmigd_config_load(ctx, conf, &cfg))
        goto out;
    if (!cfg.host_name[0] &&
        gethostname(cfg.host_name, sizeof(cfg.host_name) - 1)) {
        LOG_ERR(ctx, "%s has no host_name and gethostname failed", conf);
        goto out;
    }
    p = xlmigd_config_peer(&cfg, argv[optind]);
    if (!p) {
        if (!strchr(argv[optind], '@') ||
            xlmigd_peer_parse(argv[optind], &dest)) {
            LOG_ERR(ctx, "%s is not a peer in %s (give NAME@ADDRESS for "
                    "another host with a certificate from the same CA)",
                    argv[optind], conf);
            goto out;
        }
        p = &dest;
    }
    xlmig_ctx_free(ctx);
    if (xlmig_ctx_alloc(&ctx, cfg.backend[0] ? cfg.backend : NULL, level,
                        stderr)) {
        ctx = NULL;
        goto out;
    }
    snprintf(ctx->log_prefix, sizeof(ctx->log_prefix), "xlmig tunnel: ");
    tc.cert = cfg.cert;
    tc.key = cfg.key;
    tc.ca = cfg.ca;
    if (!cfg.cert[0] || !cfg.key[0] || !cfg.ca[0]) {
        LOG_ERR(ctx, "%s: certificate, key and ca are required", conf);
        goto out;
    }
    if (xlmig_tls_new(ctx, &tc, &tls))
        goto out;
    fd = xlmig_dial(ctx, p, cfg.io_timeout_s);
    if (fd < 0)
        goto out;
    if (xlmig_tls_connect(ctx, tls, fd, p->name, &tconn))
        goto out;
    if (xlmig_conn_init(&c, ctx, tconn, p->name)) {
        xlmig_tls_close(tconn);
        goto out;
    }
    rc = xlmig_hello(&c, false, cfg.host_name, xlmig_ctx_backend(ctx));
    if (!rc)
        rc = xlmig_tunnel_client(ctx, &c, ncmd, cmd, &status);
    if (rc)
        status = EXIT_TUNNEL;
    xlmig_conn_dispose(&c);
out:
    xlmig_tls_free(tls);
    xlmig_ctx_free(ctx);
    return status;
}
