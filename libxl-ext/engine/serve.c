/*
 * One authenticated connection from a peer: HELLO, then its first frame
 * says what it is, and only a migration (or a QUERY about a committed
 * job, whose domain may have to be started) opens the backend:
 *
 *   PREFLIGHT   a migration into this host (engine/dest.c)
 *   ATTACH      a data channel of a migration already running here
 *   QUERY       a source asking after a job in doubt (engine/records.c)
 *   TUNNEL      a stock xl migrate-receive run for the peer
 */
#include "engine/serve.h"

#include <string.h>

#include "engine/channels.h"
#include "engine/records.h"
#include "transport/tunnel.h"

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
    if (env->drained && env->drained(env->opaque, why, sizeof(why))) {
        rc = XLMIG_ERR_REFUSED;
        LOG_WARN(ctx, "refused a tunnel from %s: %s", c->peer, why);
        xlmig_send_abort(c, 0, rc, why);
        xlmig_mjob_fail(j, rc, "%s", why);
        return rc;
    }
    if (env->admit && (rc = env->admit(env->opaque, j, true, why, sizeof(why)))) {
        LOG_WARN(ctx, "refused a tunnel from %s: %s", c->peer, why);
        xlmig_send_abort(c, 0, rc, why);
        xlmig_mjob_fail(j, rc, "%s", why);
        return rc;
    }
    rc = xlmig_mjob_phase(j, XLMIG_PHASE_PREPARE);
    if (rc)
        return rc;
    why[0] = '\0';
    rc = xlmig_tunnel_serve(ctx, c, env->cfg, why, sizeof(why));
    if (rc && why[0])
        xlmig_mjob_fail(j, rc, "%s", why);
    return rc;
}

int xlmig_serve(xlmig_ctx *ctx, struct xlmig_tls_conn *tls, const char *peer,
                const struct xlmig_in_env *env, struct xlmig_mjob *j)
{
    struct xlmig_conn c;
    int rc;

    rc = xlmig_conn_init(&c, ctx, tls, peer);
    if (rc) {
        xlmig_tls_close(tls);
        return rc;
    }
    pthread_mutex_lock(&j->lock);
    snprintf(j->peer, sizeof(j->peer), "%s", peer);
    pthread_mutex_unlock(&j->lock);
    rc = xlmig_hello(&c, true, env->cfg->host_name, ctx->ops->name);
    if (!rc)
        rc = xlmig_conn_recv(&c);
    if (rc)
        goto out;
    switch (c.f.type) {
    case XLMIG_MSG_QUERY:
        rc = xlmig_state_answer_query(ctx, &c, env->cfg);
        j->wire_id = 0;
        break;
    case XLMIG_MSG_ATTACH:
        /* Not a job of its own: a data channel of one. */
        rc = xlmig_serve_channel(ctx, &c);
        j->wire_id = 0;
        break;
    case XLMIG_MSG_TUNNEL:
        rc = serve_tunnel(ctx, &c, env, j);
        break;
    case XLMIG_MSG_PREFLIGHT:
        rc = xlmig_ctx_backend_open(ctx);
        if (!rc)
            rc = xlmig_dest_job(ctx, &c, env, j);
        break;
    default:
        LOG_ERR(ctx, "%s sent %s where PREFLIGHT or QUERY was due", peer,
                xlmig_msg_name(c.f.type));
        rc = XLMIG_ERR_PEER;
        break;
    }
out:
    pthread_mutex_lock(&j->lock);
    j->prog.total_ns = xlmig_now_ns() - j->prog.started_ns;
    if (rc)
        j->rc = rc;
    pthread_mutex_unlock(&j->lock);
    xlmig_conn_dispose(&c);
    return rc;
}
