/*
 * Drives the live pre-copy engine on a simulated domain and writes the
 * stream to standard output (for "| xlmig restore -p -").  The domain is
 * left suspended, so its memory can be compared with the restored copy.
 * Prints the job's figures to standard error.  A test tool only: it has
 * no COMMIT handshake, so it never destroys the source; the product's live
 * migration runs between daemons (docs/specs/protocol.md).
 *
 * live_send DOMAIN [MAX_DOWNTIME_MS [MAX_ROUNDS [TIMEOUT_S [MIB_PER_S]]]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/precopy.h"

int main(int argc, char **argv)
{
    struct xlmig_stream_writer w;
    struct xlmig_domain_desc desc;
    struct xlmig_dominfo info;
    struct xlmig_live_stats st;
    struct xlmig_limits lim;
    struct xlmig_sink fdsink, sink;
    struct xlmig_ratelimit rl;
    struct xlmig_dom *dom;
    xlmig_ctx *ctx;
    int fd = STDOUT_FILENO, rc;

    if (argc < 2) {
        fprintf(stderr, "usage: live_send DOMAIN [DOWNTIME_MS [ROUNDS "
                "[TIMEOUT_S [MIB_S]]]]\n");
        return 2;
    }
    xlmig_limits_default(&lim);
    if (argc > 2)
        lim.max_downtime_ns = strtoull(argv[2], NULL, 10) * 1000000;
    if (argc > 3)
        lim.max_rounds = (uint32_t)strtoul(argv[3], NULL, 10);
    if (argc > 4)
        lim.max_total_ns = strtoull(argv[4], NULL, 10) * 1000000000;
    if (argc > 5)
        lim.bandwidth_cap = strtoull(argv[5], NULL, 10) << 20;
    if (xlmig_ctx_alloc(&ctx, "sim", XLMIG_LOG_INFO, stderr))
        return 1;
    if (xlmig_domain_find(ctx, argv[1], &info) ||
        ctx->ops->attach(ctx, &info, &dom))
        return 1;
    xlmig_sink_fd(&fdsink, &fd);
    xlmig_sink_ratelimit(&sink, &rl, &fdsink, lim.bandwidth_cap);
    if (xlmig_writer_init(&w, ctx, &sink))
        return 1;
    ctx->ops->describe(ctx, dom, &desc);
    xlmig_write_header(&w);
    xlmig_write_domain_info(&w, &desc);
    rc = ctx->ops->live_save(ctx, dom, &w, &lim, NULL, &st);
    if (!rc) {
        xlmig_write_end(&w);
        rc = w.err;
    }
    fprintf(stderr, "live_send: %s: rounds=%u pages=%llu bytes=%llu "
            "final_pages=%llu precopy_ms=%.1f stopcopy_ms=%.1f "
            "predicted_ms=%.1f memory_bytes=%llu\n",
            rc ? xlmig_strerror(rc) : "ok", st.rounds,
            (unsigned long long)st.pages_sent,
            (unsigned long long)st.bytes_sent,
            (unsigned long long)st.final_pages, st.precopy_ns / 1e6,
            st.stopcopy_ns / 1e6, st.last.predicted_downtime_ns / 1e6,
            (unsigned long long)(info.nr_pages * 4096));
    xlmig_writer_dispose(&w);
    ctx->ops->detach(ctx, dom);
    xlmig_ctx_free(ctx);
    return rc ? 1 : 0;
}
