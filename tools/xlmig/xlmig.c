/*
 * xlmig: the administrator's command.  xl-like: "xlmig COMMAND [options]
 * ARGS".  Exit status 0 on success, 1 on failure, 2 on a usage error
 * (migrate and preflight add 3 refused, 4 in doubt, 5 cancelled:
 * tools/client.c).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xlmig/client.h"
#include "libxlmig.h"

static const char *backend;
static enum xlmig_log_level level = XLMIG_LOG_WARN;

static void usage(FILE *f)
{
    fprintf(f,
"usage: xlmig [-B BACKEND] [-v] COMMAND [ARGS]\n"
"\n"
"Commands:\n"
"  list                       list domains\n"
"  save [-c|-p] DOMAIN FILE   suspend DOMAIN and save its state to FILE,\n"
"                             then destroy it (-c: keep it running,\n"
"                             -p: keep it paused)\n"
"  restore [-p] [-n NAME] FILE\n"
"                             create a domain from FILE (- for standard\n"
"                             input) and run it (-p: leave it paused,\n"
"                             -n: new name)\n"
"  dump-stream [-v] FILE      explain and validate a saved stream\n"
"  migrate [OPTIONS] DOMAIN HOST\n"
"                             live-migrate DOMAIN to HOST through xlmigd\n"
"                             (--max-downtime MS, --bandwidth MIB/S,\n"
"                             --max-rounds N, --timeout S, --quick,\n"
"                             --via PATH, --channels N, --json)\n"
"  preflight [--json] [--copy-storage] DOMAIN HOST\n"
"                             check that HOST can run DOMAIN (CPU, memory,\n"
"                             vCPUs, pool, disks, networks, devices,\n"
"                             identity, versions); nothing moves\n"
"  status [--json]            migrations of this host's xlmigd\n"
"  cancel JOB                 stop a migration before COMMIT; the domain\n"
"                             stays on this host\n"
"  recover [--json] [JOB]     settle jobs in doubt by asking the\n"
"                             destination\n"
"  tunnel [-f CONFIG] HOST [xl migrate-receive [OPTIONS]]\n"
"                             carry stock xl migrate over xlmig's TLS:\n"
"                             xl migrate -s \"xlmig tunnel\" DOMAIN HOST\n"
"  version                    print the version\n"
"\n"
"Options:\n"
"  -B, --backend NAME         sim or xen (default: xen on a Xen dom0,\n"
"                             sim elsewhere; or $XLMIG_BACKEND)\n"
"  -v, --verbose              more log output (repeatable)\n"
"\n"
"migrate, preflight, status, cancel and recover talk to xlmigd on $XLMIG_SOCKET\n"
"(default /run/xlmig/xlmigd.sock).\n");
}

static xlmig_ctx *open_ctx(void)
{
    xlmig_ctx *ctx;

    if (xlmig_ctx_alloc(&ctx, backend, level, stderr))
        return NULL;
    return ctx;
}

static int cmd_list(int argc, char **argv)
{
    struct xlmig_dominfo *d;
    xlmig_ctx *ctx;
    unsigned n;

    (void)argv;
    if (argc != 1) {
        usage(stderr);
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

static int cmd_save(int argc, char **argv)
{
    enum xlmig_save_after after = XLMIG_SAVE_DESTROY;
    struct xlmig_save_stats st;
    xlmig_ctx *ctx;
    int c, rc;

    optind = 1;
    while ((c = getopt(argc, argv, "+cp")) != -1) {
        switch (c) {
        case 'c': after = XLMIG_SAVE_CONTINUE; break;
        case 'p': after = XLMIG_SAVE_PAUSED; break;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 2) {
        fprintf(stderr, "usage: xlmig save [-c|-p] DOMAIN FILE\n");
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

static int cmd_restore(int argc, char **argv)
{
    struct xlmig_restore_opts o = { 0 };
    struct xlmig_dominfo info;
    struct xlmig_save_stats st;
    xlmig_ctx *ctx;
    int c, rc;

    optind = 1;
    while ((c = getopt(argc, argv, "+pn:")) != -1) {
        switch (c) {
        case 'p': o.paused = 1; break;
        case 'n': o.new_name = optarg; break;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: xlmig restore [-p] [-n NAME] FILE\n");
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

static int cmd_dump(int argc, char **argv)
{
    xlmig_ctx *ctx;
    int c, verbose = 0, rc;

    optind = 1;
    while ((c = getopt(argc, argv, "+v")) != -1) {
        switch (c) {
        case 'v': verbose++; break;
        default: usage(stderr); return 2;
        }
    }
    if (argc - optind != 1) {
        fprintf(stderr, "usage: xlmig dump-stream [-v] FILE\n");
        return 2;
    }
    /* Reading a file needs no hypervisor: use the sim backend's context
     * unless one was asked for. */
    if (xlmig_ctx_alloc(&ctx, backend ? backend : "sim",
                        XLMIG_LOG_ERROR + 0 * level, stderr))
        return 1;
    rc = xlmig_stream_dump(ctx, argv[optind], stdout, verbose);
    xlmig_ctx_free(ctx);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        { "backend", required_argument, NULL, 'B' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *cmd;
    int c;

    while ((c = getopt_long(argc, argv, "+B:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'B': backend = optarg; break;
        case 'v': if (level < XLMIG_LOG_DEBUG) level++; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    cmd = argv[optind];
    argc -= optind;
    argv += optind;
    if (!strcmp(cmd, "list"))
        return cmd_list(argc, argv);
    if (!strcmp(cmd, "save"))
        return cmd_save(argc, argv);
    if (!strcmp(cmd, "restore"))
        return cmd_restore(argc, argv);
    if (!strcmp(cmd, "dump-stream"))
        return cmd_dump(argc, argv);
    if (!strcmp(cmd, "preflight"))
        return xlmig_cmd_preflight(argc, argv);
    if (!strcmp(cmd, "migrate"))
        return xlmig_cmd_migrate(argc, argv);
    if (!strcmp(cmd, "status"))
        return xlmig_cmd_status(argc, argv);
    if (!strcmp(cmd, "cancel"))
        return xlmig_cmd_cancel(argc, argv);
    if (!strcmp(cmd, "recover"))
        return xlmig_cmd_recover(argc, argv);
    if (!strcmp(cmd, "tunnel"))
        return xlmig_cmd_tunnel(argc, argv, level);
    if (!strcmp(cmd, "version")) {
        printf("xlmig %s (API 0x%08x)\n", XLMIG_VERSION, XLMIG_API_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "xlmig: unknown command \"%s\"\n", cmd);
    usage(stderr);
    return 2;
}
