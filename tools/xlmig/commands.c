/* xlmig's command table and the usage texts made from it. */
#include "xlmig/commands.h"

#include <getopt.h>
#include <string.h>

enum xlmig_log_level xlmig_cli_level = XLMIG_LOG_WARN;
const char *xlmig_cli_backend;

static const struct xlmig_opt save_opts[] = {
    { NULL, 'c', true, NULL, "keep the domain running after the save" },
    { NULL, 'p', true, NULL, "keep it paused (default: destroy it)" },
    { NULL, 0, false, NULL, NULL },
};

static const struct xlmig_opt restore_opts[] = {
    { NULL, 'p', true, NULL, "leave the restored domain paused" },
    { NULL, 'n', true, "NAME", "give it a new name" },
    { NULL, 0, false, NULL, NULL },
};

static const struct xlmig_opt dump_opts[] = {
    { NULL, 'v', true, NULL, "show every record's fields (repeatable)" },
    { NULL, 0, false, NULL, NULL },
};

static const struct xlmig_opt migrate_opts[] = {
    { "max-downtime", 'd', true, "MS", "downtime target (default 300)" },
    { "bandwidth", 'b', true, "MIB/S", "cap the transfer rate" },
    { "max-rounds", 'r', true, "N", "pre-copy rounds at most (default 30)" },
    { "timeout", 't', true, "S",
      "give up (and roll back) after S seconds" },
    { "auto-converge", 'a', true, NULL,
      "throttle a guest that dirties memory faster than\n"
      "it can be sent, until the downtime target is met" },
    { "max-throttle", 'T', true, "PCT",
      "with --auto-converge: take at most PCT% of the\n"
      "guest's CPU time (1-99, default 99)" },
    { "xl", 'x', true, NULL,
      "to a stock `xl migrate-receive`, run by HOST's\n"
      "xlmigd through a tunnel (xen backend)" },
    { "quick", 'q', true, NULL, "suspend first, then send everything (not live)" },
    { "via", 'V', true, "PATH",
      "with --quick: through a file on shared storage" },
    { "channels", 'c', true, "N", "data channels (default: xlmigd's)" },
    { "priority", 'P', false, "N",
      "1-9: beyond max_outgoing the job waits in xlmigd's\n"
      "queue; higher leaves it first (default 0)" },
    { "copy-storage", 'C', false, NULL,
      "copy the writable disks with the memory, to\n"
      "storage of HOST's own (shared-nothing)" },
    { "disk-map", 'M', false, "VDEV=PATH",
      "with --copy-storage: where disk VDEV goes on\n"
      "HOST (default: the same path); repeatable" },
    { "json", 'j', true, NULL, "one JSON event per line on standard output" },
    { NULL, 0, false, NULL, NULL },
};

static const struct xlmig_opt preflight_opts[] = {
    { "copy-storage", 'C', false, NULL,
      "check room for copies of the disks instead of\n"
      "the same disks (for a shared-nothing move)" },
    { "disk-map", 'M', false, "VDEV=PATH",
      "with --copy-storage: where disk VDEV would go" },
    { "json", 'j', true, NULL,
      "one JSON event per line on standard output" },
    { NULL, 0, false, NULL, NULL },
};

static const struct xlmig_opt storage_opts[] = {
    { "keep", 'k', true, NULL, "keep the old image after the switch" },
    { "bandwidth", 'b', true, "MIB/S", "cap the copy's rate" },
    { "json", 'j', true, NULL, "one JSON event per line on standard output" },
    { NULL, 0, false, NULL, NULL },
};

#define EVAC_OPTS \
    { "to", 't', false, "HOST,...", \
      "the destinations (default: every peer in\n" \
      "xlmigd.conf); repeatable" }, \
    { "dry-run", 'n', false, NULL, "print the plan; move nothing" }, \
    { "best-effort", 'e', false, NULL, \
      "move what has a place even if some domain has\n" \
      "none (default: refuse the whole plan)" }, \
    { "bandwidth", 'b', false, "MIB/S", "cap each migration's rate" }, \
    { "link", 'L', false, "MIB/S", \
      "the link's speed to each destination, for the\n" \
      "plan (default: the best finished migration)" }, \
    { "window", 'w', false, "N", \
      "migrations at once (default: the plan's choice,\n" \
      "at most max_outgoing)" }, \
    { "max-downtime", 'd', false, "MS", "each one's downtime target" }, \
    { "auto-converge", 'a', false, NULL, \
      "throttle guests that dirty memory faster than\n" \
      "their share of the link" }, \
    { "json", 'j', false, NULL, \
      "the plan, every job's events and the summary as\n" \
      "JSON lines on standard output" }

static const struct xlmig_opt evacuate_opts[] = {
    EVAC_OPTS,
    { NULL, 0, false, NULL, NULL },
};

static const struct xlmig_opt drain_opts[] = {
    { "reason", 'R', false, "TEXT",
      "why, shown to every migration refused (one line,\n"
      "at most 200 characters)" },
    { "no-evacuate", 'N', false, NULL,
      "only stop taking migrations in; move nothing" },
    EVAC_OPTS,
    { NULL, 0, false, NULL, NULL },
};

static const struct xlmig_opt json_opt[] = {
    { "json", 'j', false, NULL, "the daemon's JSON, one event per line" },
    { NULL, 0, false, NULL, NULL },
};

static const struct xlmig_opt tunnel_opts[] = {
    { "config", 'f', true, "CONFIG",
      "xlmigd.conf with this host's certificate and peers\n"
      "(default $XLMIG_CONF or /etc/xlmig/xlmigd.conf)" },
    { NULL, 0, false, NULL, NULL },
};

static const struct xlmig_opt no_opts[] = {
    { NULL, 0, false, NULL, NULL },
};

const struct xlmig_cmd xlmig_cmds[] = {
    { "list", xlmig_cmd_list, "", "list this host's domains", no_opts,
      false },
    { "save", xlmig_cmd_save, "DOMAIN FILE",
      "suspend DOMAIN and save its state to FILE, then destroy it",
      save_opts, false },
    { "restore", xlmig_cmd_restore, "FILE",
      "create a domain from FILE (- for standard input) and run it",
      restore_opts, false },
    { "dump-stream", xlmig_cmd_dump, "FILE",
      "explain and validate a saved stream", dump_opts, false },
    { "migrate", xlmig_cmd_migrate, "DOMAIN HOST[@ADDRESS[:PORT]]",
      "live-migrate DOMAIN to HOST through xlmigd", migrate_opts, true,
      true },
    { "preflight", xlmig_cmd_preflight, "DOMAIN HOST[@ADDRESS[:PORT]]",
      "run every check a migration of DOMAIN to HOST would run first\n"
      "(CPU, memory, vCPUs, pool, disks, networks, devices, identity,\n"
      "versions), one row per check; nothing moves.  Exit 0: HOST can\n"
      "run DOMAIN; 3: refused (the rows marked FAIL say why); 1: the\n"
      "checks did not run",
      preflight_opts, true, true },
    { "storage-move", xlmig_cmd_storage_move, "DOMAIN DISK NEWPATH",
      "move disk DISK (its vdev: xvda, ...) of running DOMAIN to a new\n"
      "image at NEWPATH, which xlmig makes: the guest runs on while the\n"
      "disk is copied and every write goes to both images; then DOMAIN\n"
      "is switched to NEWPATH and the old image deleted.  A cancel or a\n"
      "failure before the switch leaves it on the old image, intact",
      storage_opts, true, true },
    { "evacuate", xlmig_cmd_evacuate, "[HOST]",
      "move every domain of this host (HOST, if given, must be it) to\n"
      "the destinations: each checked against every one by preflight,\n"
      "placed by free memory, ordered and batched by its dirty rate and\n"
      "the link's speed; the plan first, then the migrations.  Exit 0:\n"
      "all moved; 1: some failed (they run here); 3: a domain has no\n"
      "place, nothing moved; 4: one is in doubt",
      evacuate_opts, true, true },
    { "drain", xlmig_cmd_drain, "[HOST]",
      "stop this host taking migrations in, until `xlmig undrain` (it\n"
      "holds across restarts), then evacuate it as `xlmig evacuate`",
      drain_opts, true, true },
    { "undrain", xlmig_cmd_undrain, "",
      "take migrations in again", json_opt, true },
    { "status", xlmig_cmd_status, "", "the migrations of this host's xlmigd",
      json_opt, true },
    { "cancel", xlmig_cmd_cancel, "JOB",
      "stop a migration before COMMIT; the domain stays on this host",
      no_opts, true },
    { "recover", xlmig_cmd_recover, "[JOB]",
      "settle jobs in doubt by asking their destination", json_opt, true },
    { "tunnel", xlmig_cmd_tunnel,
      "HOST [xl [XL-OPTIONS] migrate-receive [OPTIONS]]",
      "carry stock xl migrate over xlmig's TLS, as xl's transport:\n"
      "xl migrate -s \"xlmig tunnel\" DOMAIN HOST",
      tunnel_opts, false },
    { "version", xlmig_cmd_version, "", "print the version", no_opts,
      false },
    { "help", xlmig_cmd_help, "[COMMAND]", "this text, or one command's",
      no_opts, false },
    { NULL, NULL, NULL, NULL, NULL, false, false },
};

const struct xlmig_cmd *xlmig_cmd_find(const char *name)
{
    for (const struct xlmig_cmd *c = xlmig_cmds; c->name; c++)
        if (!strcmp(c->name, name))
            return c;
    return NULL;
}

#define OPTS_MAX 24

int xlmig_getopt(const char *name, int argc, char **argv)
{
    const struct xlmig_cmd *cmd = xlmig_cmd_find(name);
    struct option lo[OPTS_MAX + 2];
    char so[3 * OPTS_MAX + 4];
    unsigned n = 0;
    size_t k = 0;

    if (!cmd->anywhere)
        so[k++] = '+';
    for (const struct xlmig_opt *o = cmd->opts; o->help && n < OPTS_MAX;
         o++) {
        if (o->name)
            lo[n++] = (struct option){ o->name,
                                       o->arg ? required_argument :
                                                no_argument,
                                       NULL, o->val };
        if (o->has_short) {
            so[k++] = (char)o->val;
            if (o->arg)
                so[k++] = ':';
        }
    }
    lo[n++] = (struct option){ "help", no_argument, NULL, 'h' };
    lo[n] = (struct option){ NULL, 0, NULL, 0 };
    so[k++] = 'h';
    so[k] = '\0';
    return getopt_long(argc, argv, so, lo, NULL);
}

/* @text's lines, the first after @col columns, the rest indented to it. */
static void print_wrapped(FILE *f, const char *text, int col)
{
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        int len = e ? (int)(e - p) : (int)strlen(p);
        fprintf(f, "%.*s\n", len, p);
        if (!e)
            break;
        p = e + 1;
        fprintf(f, "%*s", col, "");
    }
}

static void print_opts(FILE *f, const struct xlmig_opt *opts, int indent)
{
    for (const struct xlmig_opt *o = opts; o->help; o++) {
        char left[64];
        int n;
        if (o->name && o->has_short)
            n = snprintf(left, sizeof(left), "-%c, --%s%s%s", o->val,
                         o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        else if (o->name)
            n = snprintf(left, sizeof(left), "--%s%s%s", o->name,
                         o->arg ? " " : "", o->arg ? o->arg : "");
        else
            n = snprintf(left, sizeof(left), "-%c%s%s", o->val,
                         o->arg ? " " : "", o->arg ? o->arg : "");
        fprintf(f, "%*s%s", indent, "", left);
        if (n <= 22) {
            fprintf(f, "%*s", 24 - n, "");
        } else {
            fprintf(f, "\n%*s", indent + 24, "");
        }
        print_wrapped(f, o->help, indent + 24);
    }
}

static void print_synopsis(FILE *f, const struct xlmig_cmd *c)
{
    fprintf(f, "xlmig %s%s%s%s", c->name, c->opts->help ? " [OPTIONS]" : "",
            c->args[0] ? " " : "", c->args);
}

bool xlmig_wants_help(const char *name, int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            xlmig_cmd_usage(name, stdout);
            return true;
        }
    return false;
}

void xlmig_cmd_usage(const char *name, FILE *f)
{
    const struct xlmig_cmd *c = xlmig_cmd_find(name);

    fprintf(f, "usage: ");
    print_synopsis(f, c);
    fprintf(f, "\n  ");
    print_wrapped(f, c->summary, 2);
    print_opts(f, c->opts, 2);
    if (c->daemon)
        fprintf(f, "  (through xlmigd on $XLMIG_SOCKET, default "
                "/run/xlmig/xlmigd.sock)\n");
}

void xlmig_usage(FILE *f)
{
    fprintf(f,
"usage: xlmig [-B BACKEND] [-v] COMMAND [OPTIONS] [ARGS]\n"
"\n"
"Options:\n"
"  -B, --backend NAME    sim or xen (default: xen on a Xen dom0, sim\n"
"                        elsewhere; or $XLMIG_BACKEND)\n"
"  -v, --verbose         more log output (repeatable)\n"
"  -h, --help            this text; `xlmig COMMAND --help` for one\n"
"\n"
"Commands:\n");
    for (const struct xlmig_cmd *c = xlmig_cmds; c->name; c++) {
        fprintf(f, "  ");
        print_synopsis(f, c);
        fprintf(f, "\n      ");
        print_wrapped(f, c->summary, 6);
        print_opts(f, c->opts, 6);
    }
    fprintf(f,
"\n"
"migrate, preflight, status, cancel and recover talk to xlmigd on\n"
"$XLMIG_SOCKET (default /run/xlmig/xlmigd.sock).  Exit status: 0 success,\n"
"1 failure, 2 usage; migrate and preflight add 3 refused, 4 in doubt,\n"
"5 cancelled.\n");
}
