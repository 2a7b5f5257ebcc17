/*
 * The host's settings as the library's engine reads them: this host's
 * name, its peers, the state directory, timeouts and limits.  xlmigd
 * fills them from xlmigd.conf (tools/xlmigd/conf.c parses it;
 * docs/man/xlmigd.conf.5 lists the keys).
 */
#ifndef XLMIG_CORE_CONFIG_H
#define XLMIG_CORE_CONFIG_H

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
    unsigned max_outgoing_per_destination;      /* 0: max_outgoing only */
    unsigned busy_wait_s;               /* how long an outgoing job waits
                                         * for a destination at its
                                         * max_incoming; 0: refused */
    unsigned io_timeout_s;              /* a stalled peer fails the job */
    unsigned dead_peer_ms;              /* while the domain is suspended:
                                         * unacknowledged this long, the
                                         * link is dead */
    uint64_t domain_memory;             /* bytes for domains; 0 = host's */
    unsigned channels;                  /* default data channels */
    unsigned handover_ms;               /* downtime beyond the last pages */
    unsigned vcpu_overcommit_pct;       /* vCPUs per pCPU x 100; 0 none */
    unsigned tunnel;                    /* serve `xlmig tunnel`: 0 or 1 */
    char tunnel_xl[XLMIGD_PATH_MAX];    /* the xl it runs */
    char xenstore[8];                   /* "auto", "on", "off": requests
                                         * through XenStore */
    enum xlmig_log_level log_level;
    /* The announce after a migration in (docs/network.md) */
    unsigned announce;                  /* 0 or 1 */
    unsigned announce_rounds;
    unsigned announce_initial_ms;
    unsigned announce_step_ms;
    unsigned announce_max_ms;
};

#endif
