/*
 * The announce (docs/network.md): once a migrated domain runs here, tell
 * the network where it is, from this dom0, on each vif's bridge.  RARP
 * for every MAC (as QEMU's announce-self), gratuitous ARP and unsolicited
 * neighbour advertisements for the addresses of the administrator's
 * configuration only, on QEMU's schedule by default: 5 rounds, the first
 * at once, then gaps of 50, 150, 250, 350 ms (initial + k * step, at most
 * max).  It runs in a thread of its own, so the job confirms COMMITTED
 * without waiting for the later rounds.
 */
#ifndef XLMIG_ENGINE_ANNOUNCE_H
#define XLMIG_ENGINE_ANNOUNCE_H

#include "core/private.h"

struct xlmig_announce_report {
    uint32_t vifs;              /* vifs announced on a bridge */
    uint32_t frames;            /* frames sent, every kind */
    uint32_t rarp, garp, na;
    uint32_t dm_nics;           /* emulated NICs the device model announced */
    uint32_t errors;            /* frames that could not be sent */
    uint64_t first_ns;          /* first frame, after the unpause */
    uint64_t last_ns;           /* last frame, after the unpause */
};

struct xlmig_announce;
struct xlmigd_config;

/* The schedule xlmigd.conf sets (announce, announce_rounds, ...). */
void xlmig_announce_conf_of(const struct xlmigd_config *cfg,
                            struct xlmig_announce_conf *a);

/* The gap before round @k + 1 (k >= 1), QEMU's rule. */
unsigned xlmig_announce_gap_ms(const struct xlmig_announce_conf *a,
                               unsigned k);

/*
 * Start announcing @n vifs of @domain, unpaused at @t0_ns (monotonic):
 * the first round is sent before this returns.  NULL (and nothing sent)
 * when the announce is off or no vif is on a bridge.
 */
struct xlmig_announce *xlmig_announce_start(
    xlmig_ctx *ctx, const char *domain, const struct xlmig_vif *v,
    unsigned n, const struct xlmig_announce_conf *a, uint64_t t0_ns);
/* Wait for the last round, log the summary, fill @r, free @an. */
void xlmig_announce_finish(struct xlmig_announce *an,
                           struct xlmig_announce_report *r);

#endif
