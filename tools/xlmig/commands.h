/*
 * xlmig's command table, in the manner of xl's cmd_spec: each command's
 * name, handler, arguments, summary and options, from which both its
 * option parsing (xlmig_getopt) and every usage text are made, so the
 * help cannot miss an option a command takes.
 */
#ifndef XLMIG_TOOLS_COMMANDS_H
#define XLMIG_TOOLS_COMMANDS_H

#include <stdbool.h>
#include <stdio.h>

#include "libxlmig.h"

struct xlmig_opt {
    const char *name;           /* --NAME, or NULL for a short one only */
    int val;                    /* what xlmig_getopt returns for it */
    bool has_short;             /* -val is accepted too */
    const char *arg;            /* its argument's name; NULL: a flag */
    const char *help;           /* may hold '\n' for more lines */
};

struct xlmig_cmd {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *args;           /* after the options */
    const char *summary;        /* may hold '\n' */
    const struct xlmig_opt *opts;       /* ends with a NULL help */
    bool daemon;                /* talks to xlmigd */
    bool anywhere;              /* options may follow the arguments */
};

/* The table (commands.c); ends with a NULL name. */
extern const struct xlmig_cmd xlmig_cmds[];

/* The log level and backend of xlmig's own options (-v, -B). */
extern enum xlmig_log_level xlmig_cli_level;
extern const char *xlmig_cli_backend;

const struct xlmig_cmd *xlmig_cmd_find(const char *name);

/*
 * getopt_long over command @name's options (and --help, as 'h'), from
 * the table; call with optind reset to 1 first.  Returns what getopt
 * returns.
 */
int xlmig_getopt(const char *name, int argc, char **argv);

/* For the commands that parse their few arguments by hand: with -h or
 * --help among them, print @name's usage on standard output and say so. */
bool xlmig_wants_help(const char *name, int argc, char **argv);

/* "usage: xlmig NAME [OPTIONS] ARGS", the summary and the options. */
void xlmig_cmd_usage(const char *name, FILE *f);
/* Everything: the global options, then every command with its own. */
void xlmig_usage(FILE *f);

/* The handlers (xlmig.c, client.c, tunnel_cmd.c). */
int xlmig_cmd_list(int argc, char **argv);
int xlmig_cmd_evacuate(int argc, char **argv);
int xlmig_cmd_drain(int argc, char **argv);
int xlmig_cmd_undrain(int argc, char **argv);
int xlmig_cmd_save(int argc, char **argv);
int xlmig_cmd_restore(int argc, char **argv);
int xlmig_cmd_dump(int argc, char **argv);
int xlmig_cmd_migrate(int argc, char **argv);
int xlmig_cmd_preflight(int argc, char **argv);
int xlmig_cmd_status(int argc, char **argv);
int xlmig_cmd_cancel(int argc, char **argv);
int xlmig_cmd_storage_move(int argc, char **argv);
int xlmig_cmd_recover(int argc, char **argv);
/* Exit status is the remote command's, 255 on a failed tunnel. */
int xlmig_cmd_tunnel(int argc, char **argv);
int xlmig_cmd_version(int argc, char **argv);
int xlmig_cmd_help(int argc, char **argv);

#endif
