/*
 * xlmigd's configuration file, in the style of xl.conf: "key = value"
 * settings, one per line (or separated by ';'), values are "strings",
 * 'strings', integers or lists of strings [ "a", "b" ] that may span
 * lines; '#' starts a comment.  docs/man/xlmigd.conf.5 lists the keys.
 * The parser has a fuzz target (tests/fuzz/fuzz_conf.c).
 */
#ifndef XLMIG_CONF_H
#define XLMIG_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

#define XLMIGD_PORT 8002
#define XLMIGD_PEERS_MAX 64
#define XLMIGD_PATH_MAX 256
#define XLMIGD_SOCKET "/run/xlmig/xlmigd.sock"
#define XLMIGD_STATE_DIR "/var/lib/xlmig"
#define XLMIGD_CONF "/etc/xlmig/xlmigd.conf"

struct xlmigd_peer {
    char name[XLMIG_NAME_MAX];  /* as in its certificate */
    char addr[XLMIG_NAME_MAX];  /* "" = resolve the name */
    uint16_t port;
};

struct xlmigd_config {
    char host_name[XLMIG_NAME_MAX];     /* "" = gethostname() */
    char listen[XLMIG_NAME_MAX];        /* "" = every address */
    uint16_t port;
    char cert[XLMIGD_PATH_MAX];
    char key[XLMIGD_PATH_MAX];
    char ca[XLMIGD_PATH_MAX];
    struct xlmigd_peer peers[XLMIGD_PEERS_MAX];
    unsigned npeers;
    char socket_path[108];              /* sun_path */
    char state_dir[XLMIGD_PATH_MAX];
    char backend[16];                   /* "" = the host's default */
    char sim_dir[XLMIGD_PATH_MAX];      /* "" = $XLMIG_SIM_DIR or default */
    unsigned max_incoming;
    unsigned max_outgoing;
    unsigned io_timeout_s;              /* a stalled peer fails the job */
    uint64_t domain_memory;             /* bytes for domains; 0 = host's */
    unsigned channels;                  /* default data channels */
    unsigned handover_ms;               /* downtime beyond the last pages */
    unsigned vcpu_overcommit_pct;       /* vCPUs per pCPU x 100; 0 none */
    unsigned tunnel;                    /* serve `xlmig tunnel`: 0 or 1 */
    char tunnel_xl[XLMIGD_PATH_MAX];    /* the xl it runs */
    enum xlmig_log_level log_level;
};

void xlmigd_config_default(struct xlmigd_config *c);

/*
 * Parse @len bytes of configuration text over the defaults already in
 * @c.  Returns 0, or XLMIG_ERR_INVAL with "LINE: what was wrong" in @why.
 */
int xlmigd_config_parse(const char *text, size_t len,
                        struct xlmigd_config *c, char *why, size_t whylen);

/* Read and parse @path; logs "path:line: ..." on error. */
int xlmigd_config_load(xlmig_ctx *ctx, const char *path,
                       struct xlmigd_config *c) XLMIG_MUST_CHECK;

/* The peer called @name, or NULL. */
const struct xlmigd_peer *xlmigd_config_peer(const struct xlmigd_config *c,
                                             const char *name);

/* Parse "NAME[@ADDR[:PORT]]" (ADDR may be [v6]); 0 or XLMIG_ERR_INVAL. */
int xlmigd_peer_parse(const char *s, struct xlmigd_peer *p);

#endif
