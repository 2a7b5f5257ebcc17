/*
 * xlmig: the administrator's command.  xl-like: "xlmig COMMAND [options]
 * ARGS".  Exit status 0 on success, 1 on failure, 2 on a usage error
 * (migrate and preflight add 3 refused, 4 in doubt, 5 cancelled:
 * client.c).  The commands, their options and the usage texts are one
 * table, commands.c.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlmig/commands.h"
#include "libxlmig.h"

static xlmig_ctx *open_ctx(void)
{
    xlmig_ctx *ctx;

    if (xlmig_ctx_alloc(&ctx, xlmig_cli_backend, xlmig_cli_level, stderr))
        return NULL;
    return ctx;
}

int xlmig_cmd_list(int argc, char **argv)
{
    struct xlmig_dominfo *d;
    xlmig_ctx *ctx;
    unsigned n;

    if (xlmig_wants_help("list", argc, argv))
        return 0;
    if (argc != 1) {
        xlmig_cmd_usage("list", stderr);
        return 2;
    }
    ctx = open_ctx();
    if (!ctx)
        return 1;
    if (xlmig_domain_list(ctx, &d, &n)) {
        xlmig_ctx_free(ctx);
        return 1;
    }
    printf("%-24s %5s %9s %5s %-9s %s\n", "Name", "ID", "Mem(MiB)", "VCPUs",
           "State", "UUID");
    for (unsigned i = 0; i < n; i++) {
        char u[37];
        xlmig_uuid_format(d[i].uuid, u);
        printf("%-24s %5u %9" PRIu64 " %5u %-9s %s\n", d[i].name, d[i].domid,
               (d[i].nr_pages << d[i].page_shift) >> 20, d[i].nr_vcpus,
               xlmig_dom_state_name(d[i].state), u);
    }
    free(d);
    xlmig_ctx_free(ctx);
    return 0;
}

static void print_stats(const char *verb, const char *what,
                        const struct xlmig_save_stats *s)
{
    double secs = (double)s->suspend_ns / 1e9;

    printf("%s %s: %" PRIu64 " pages of memory (%" PRIu64 " data and %"
           PRIu64 " zero pages in the stream), %.1f MiB stream in %.3f s "
           "(%.2f GB/s of memory)\n",
           verb, what, s->pages_total, s->pages_data, s->pages_zero,
           (double)s->bytes_written / 1048576.0, secs,
           secs > 0 ? (double)s->pages_total * 4096 / secs / 1e9 : 0.0);
}

int xlmig_cmd_save(int argc, char **argv)
{
    enum xlmig_save_after after = XLMIG_SAVE_DESTROY;
    struct xlmig_save_stats st;
    xlmig_ctx *ctx;
    int c, rc;

    optind = 1;
    while ((c = xlmig_getopt("save", argc, argv)) != -1) {
        switch (c) {
        case 'c': after = XLMIG_SAVE_CONTINUE; break;
        case 'p': after = XLMIG_SAVE_PAUSED; break;
        case 'h': xlmig_cmd_usage("save", stdout); return 0;
        default: xlmig_cmd_usage("save", stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        xlmig_cmd_usage("save", stderr);
        return 2;
    }
    ctx = open_ctx();
    if (!ctx)
        return 1;
    rc = xlmig_save(ctx, argv[optind], argv[optind + 1], after, &st);
    if (!rc) {
        char what[600];
        snprintf(what, sizeof(what), "%s to %s", argv[optind],
                 argv[optind + 1]);
        print_stats("Saved", what, &st);
    } else {
        fprintf(stderr, "xlmig: save of %s failed: %s\n", argv[optind],
                xlmig_strerror(rc));
    }
    xlmig_ctx_free(ctx);
    return rc ? 1 : 0;
}

int xlmig_cmd_restore(int argc, char **argv)
{
    struct xlmig_restore_opts o = { 0 };
    struct xlmig_dominfo info;
    struct xlmig_save_stats st;
    xlmig_ctx *ctx;
    int c, rc;

    optind = 1;
    while ((c = xlmig_getopt("restore", argc, argv)) != -1) {
        switch (c) {
        case 'p': o.paused = 1; break;
        case 'n': o.new_name = optarg; break;
        case 'h': xlmig_cmd_usage("restore", stdout); return 0;
        default: xlmig_cmd_usage("restore", stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        xlmig_cmd_usage("restore", stderr);
        return 2;
    }
    ctx = open_ctx();
    if (!ctx)
        return 1;
    rc = xlmig_restore(ctx, argv[optind], &o, &info, &st);
    if (!rc) {
        char what[600];
        snprintf(what, sizeof(what), "%s (domain %u, %s) from %s", info.name,
                 info.domid, xlmig_dom_state_name(info.state), argv[optind]);
        print_stats("Restored", what, &st);
    } else {
        fprintf(stderr, "xlmig: restore from %s failed: %s\n", argv[optind],
                xlmig_strerror(rc));
    }
    xlmig_ctx_free(ctx);
    return rc ? 1 : 0;
}

int xlmig_cmd_dump(int argc, char **argv)
{
    xlmig_ctx *ctx;
    int c, verbose = 0, rc;

    optind = 1;
    while ((c = xlmig_getopt("dump-stream", argc, argv)) != -1) {
        switch (c) {
        case 'v': verbose++; break;
        case 'h': xlmig_cmd_usage("dump-stream", stdout); return 0;
        default: xlmig_cmd_usage("dump-stream", stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        xlmig_cmd_usage("dump-stream", stderr);
        return 2;
    }
    /* Reading a file needs no hypervisor: use the sim backend's context
     * unless one was asked for. */
    if (xlmig_ctx_alloc(&ctx, xlmig_cli_backend ? xlmig_cli_backend : "sim",
                        XLMIG_LOG_ERROR, stderr))
        return 1;
    rc = xlmig_stream_dump(ctx, argv[optind], stdout, verbose);
    xlmig_ctx_free(ctx);
    return rc ? 1 : 0;
}

int xlmig_cmd_version(int argc, char **argv)
{
    if (xlmig_wants_help("version", argc, argv))
        return 0;
    printf("xlmig %s (API 0x%08x)\n", XLMIG_VERSION, XLMIG_API_VERSION);
    return 0;
}

int xlmig_cmd_help(int argc, char **argv)
{
    if (argc == 2 && xlmig_cmd_find(argv[1])) {
        xlmig_cmd_usage(argv[1], stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "xlmig: no command \"%s\"\n", argv[1]);
        return 2;
    }
    xlmig_usage(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "backend", required_argument, NULL, 'B' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const struct xlmig_cmd *cmd;
    int c;

    while ((c = getopt_long(argc, argv, "+B:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'B': xlmig_cli_backend = optarg; break;
        case 'v':
            if (xlmig_cli_level < XLMIG_LOG_DEBUG)
                xlmig_cli_level++;
            break;
        case 'h': xlmig_usage(stdout); return 0;
        default: xlmig_usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        xlmig_usage(stderr);
        return 2;
    }
    cmd = xlmig_cmd_find(argv[optind]);
    if (!cmd) {
        fprintf(stderr, "xlmig: unknown command \"%s\" (`xlmig help` lists "
                "them)\n", argv[optind]);
        return 2;
    }
    return cmd->fn(argc - optind, argv + optind);
}
