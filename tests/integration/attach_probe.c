/*
 * A hostile data channel: connect to an xlmigd as a peer (real TLS, real
 * certificates), say HELLO, send ATTACH for job JOB as channel K of N,
 * and print how the daemon answered: "READY" or "ABORT: reason".  Exit 0
 * when an answer came, 1 when none did.
 *
 * attach_probe NAME ADDR PORT CERT KEY CA JOB K N
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "transport/conn.h"

int main(int argc, char **argv)
{
    struct xlmig_tls_config tc;
    struct xlmig_tls *tls = NULL;
    struct xlmig_tls_conn *conn = NULL;
    struct xlmig_conn c;
    struct xlmigd_peer p;
    struct xlmig_msg_attach m;
    uint8_t b[XLMIG_MSG_ATTACH_SIZE];
    xlmig_ctx *ctx = NULL;
    int fd, rc;

    if (argc != 10) {
        fprintf(stderr, "usage: attach_probe NAME ADDR PORT CERT KEY CA "
                "JOB K N\n");
        return 2;
    }
    memset(&p, 0, sizeof(p));
    snprintf(p.name, sizeof(p.name), "%s", argv[1]);
    snprintf(p.addr, sizeof(p.addr), "%s", argv[2]);
    p.port = (uint16_t)atoi(argv[3]);
    tc.cert = argv[4];
    tc.key = argv[5];
    tc.ca = argv[6];
    m.job_id = strtoull(argv[7], NULL, 0);
    m.channel = (uint32_t)atoi(argv[8]);
    m.channels = (uint32_t)atoi(argv[9]);

    if (xlmig_ctx_alloc(&ctx, "sim", XLMIG_LOG_WARN, stderr) ||
        xlmig_tls_new(ctx, &tc, &tls))
        return 1;
    fd = xlmig_dial(ctx, &p, 5);
    if (fd < 0 || xlmig_tls_connect(ctx, tls, fd, p.name, &conn))
        return 1;
    if (xlmig_conn_init(&c, ctx, conn, p.name))
        return 1;
    rc = xlmig_hello(&c, false, "probe", "sim");
    if (!rc) {
        xlmig_msg_put_attach(b, &m);
        rc = xlmig_conn_send(&c, XLMIG_MSG_ATTACH, b, sizeof(b));
    }
    if (!rc)
        rc = xlmig_conn_recv(&c);
    if (!rc && c.f.type == XLMIG_MSG_READY) {
        printf("READY\n");
    } else if (rc == XLMIG_ERR_PEER && c.f.type == XLMIG_MSG_ABORT) {
        struct xlmig_msg_text t;
        xlmig_msg_get_text(c.f.type, c.body, c.f.length, &t);
        printf("ABORT: %s\n", t.text);
        rc = 0;
    } else {
        printf("no answer (%s)\n", xlmig_strerror(rc));
        rc = 1;
    }
    xlmig_conn_dispose(&c);
    xlmig_tls_free(tls);
    xlmig_ctx_free(ctx);
    return rc ? 1 : 0;
}
