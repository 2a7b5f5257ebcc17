/*
 * What the commands that talk to xlmigd share (client.c): the control
 * socket, its event lines, and reading their JSON.
 */
#ifndef XLMIG_TOOLS_CLIENT_H
#define XLMIG_TOOLS_CLIENT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include <yajl/yajl_tree.h>

#include "xlmigd/ctl.h"

enum {
    EXIT_ROLLEDBACK = 1,
    EXIT_USAGE = 2,
    EXIT_REFUSED = 3,
    EXIT_INDOUBT = 4,
    EXIT_CANCELLED = 5,
};

struct reader {
    int fd;
    char buf[1 << 18];
    size_t len;
};

/* Set by on_int (SIGINT). */
extern volatile sig_atomic_t interrupted;
void on_int(int sig);

/* The daemon's control socket ($XLMIG_SOCKET or the default), or -1
 * having said why. */
int ctl_connect(void);
int ctl_send(int fd, const struct xlmig_ctl_req *r);
/*
 * Next event line as a parsed tree (caller frees), NULL at the end of the
 * connection.  @raw gets the line itself.  Returns early with NULL and
 * *intr set when interrupted by SIGINT.
 */
yajl_val next_event(struct reader *rd, char *raw, size_t rawlen, bool *intr);

/* A key of an event: "", 0 and false when it is missing. */
const char *jstr(yajl_val v, const char *k);
double jnum(yajl_val v, const char *k);
bool jbool(yajl_val v, const char *k);

/* A number from 1 to @max, or -1 having said what was wrong. */
int parse_num(const char *s, const char *what, uint64_t max, uint64_t *out);

#endif
