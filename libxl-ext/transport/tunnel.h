/*
 * xlmig tunnel: a stock `xl migrate` carried over xlmig's authenticated
 * TLS instead of ssh.  `xl migrate -s "xlmig tunnel" DOMAIN HOST` runs
 * "xlmig tunnel HOST xl migrate-receive"; that connects to HOST's xlmigd
 * with this host's certificate and asks it, in a TUNNEL message, to run
 * the receiver.  xlmigd runs its own xl only, and only as
 * `xl [-t|-T|-v] migrate-receive [-e|-F|-d|-p]`; then both ends relay
 * the command's standard input, output and error as TUNNEL_DATA frames
 * until xlmigd reports its exit status in TUNNEL_EXIT
 * (docs/specs/protocol.md, "Tunnels").
 */
#ifndef XLMIG_TUNNEL_H
#define XLMIG_TUNNEL_H

#include "transport/conn.h"

struct xlmig_tunnel_cmd {
    int argc;
    char *argv[XLMIG_TUNNEL_ARGS_MAX + 2];     /* NULL-terminated */
    char buf[XLMIGD_PATH_MAX + XLMIG_PROTO_TEXT_MAX + 2];
};

/*
 * Encode @argv as a TUNNEL body into @b; returns its length, or 0 when it
 * cannot be one (too long, too many words, an empty or unprintable word).
 */
size_t xlmig_tunnel_put_cmd(uint8_t *b, size_t cap, int argc,
                            char *const *argv);

/*
 * The command a checked TUNNEL body asks for, if xlmigd runs it: argv[0]
 * becomes @xl, every other word is copied as it was allowed.  0, or
 * XLMIG_ERR_REFUSED with the word and the reason in @why.
 */
int xlmig_tunnel_cmd_parse(const uint8_t *body, uint32_t len, const char *xl,
                           struct xlmig_tunnel_cmd *cmd, char *why,
                           size_t whylen) XLMIG_MUST_CHECK;

/*
 * Destination: the TUNNEL frame is in @c; refuse it (ABORT with the
 * reason) or run the command and relay until it exits, then send
 * TUNNEL_EXIT.  A lost connection closes the command's input, which is
 * how a stock xl migrate-receive learns the sender is gone (it destroys
 * its half-built domain); it is killed if it has not exited 60 s later.
 * A failure's reason, for the job, is written into @fail.
 */
int xlmig_tunnel_serve(xlmig_ctx *ctx, struct xlmig_conn *c,
                       const struct xlmigd_config *cfg, char *fail,
                       size_t faillen) XLMIG_MUST_CHECK;

/*
 * Source: after HELLO on @c, ask for @argv and relay this process's
 * standard input, output and error.  On success *status is the remote
 * command's exit status (128 + N when killed by signal N).
 */
int xlmig_tunnel_client(xlmig_ctx *ctx, struct xlmig_conn *c, int argc,
                        char *const *argv, int *status) XLMIG_MUST_CHECK;

/*
 * The same with the command's input read from @fds[0] and its output and
 * error written to @fds[1] and @fds[2].  Descriptors above 2 are closed
 * when their stream ends and, at the latest, on return.
 */
int xlmig_tunnel_run(xlmig_ctx *ctx, struct xlmig_conn *c, int argc,
                     char *const *argv, const int fds[3], int *status)
    XLMIG_MUST_CHECK;

#endif
