/*
 * The simulated guest's network stack: what its NIC does with one frame
 * received on its TAP device.  It answers ARP requests for its IPv4
 * addresses, ICMP echo and the UDP echo port (7) on them, neighbour
 * solicitations for its IPv6 addresses, ICMPv6 echo and UDP echo over
 * IPv6; everything else is counted and dropped.  A pure function of the
 * frame: the frames are outside input (whoever is on the bridge), so it
 * has a fuzz target (tests/fuzz/fuzz_simnic.c).
 */
#ifndef XLMIG_SIM_NIC_H
#define XLMIG_SIM_NIC_H

#include <stddef.h>
#include <stdint.h>

#include "backend/sim/sim_config.h"

#define SIM_NIC_ECHO_PORT 7
#define SIM_NIC_FRAME_MAX 65550         /* a TAP read of any MTU */

/* Per vif, in guest memory (sim_layout.h: SIM_SB_NET_OFF), so that they
 * migrate with the domain as a guest kernel's counters would. */
struct sim_nic_counters {
    uint64_t rx;            /* frames received */
    uint64_t tx;            /* frames sent (answers) */
    uint64_t arp;           /* ARP requests answered */
    uint64_t icmp;          /* ICMP echo requests answered */
    uint64_t udp;           /* UDP echo datagrams answered (v4 and v6) */
    uint64_t ns;            /* neighbour solicitations answered */
    uint64_t icmp6;         /* ICMPv6 echo requests answered */
    uint64_t dropped;       /* not for us, or malformed */
};
_Static_assert(sizeof(struct sim_nic_counters) == 64, "64 octets per vif");

/*
 * Handle @len octets of frame @f for the NIC @v.  The answer, if any, is
 * written to @out (at least @len + 64 octets) and its length returned;
 * 0 means no answer.  Counters are updated in @c.
 */
size_t sim_nic_input(const struct sim_vif *v, const uint8_t *f, size_t len,
                     uint8_t *out, size_t outlen,
                     struct sim_nic_counters *c);

#endif
