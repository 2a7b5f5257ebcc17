/* libFuzzer target: the simulated guest's network stack (frames off its
 * TAP device are whatever anyone on the bridge sends). */
#include <stdint.h>
#include <string.h>

#include "backend/sim/sim_nic.h"
#include "proto/l2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t out[SIM_NIC_FRAME_MAX + 64];
    static const struct sim_vif v = {
        .mac = { 0x00, 0x16, 0x3e, 0x4e, 0x00, 0x01 },
        .nip4 = 1, .ip4 = { { 10, 88, 0, 10 } },
        .nip6 = 1, .ip6 = { { 0xfd, 0x88, [15] = 0x10 } },
    };
    struct sim_nic_counters c;
    size_t n;

    if (size > SIM_NIC_FRAME_MAX)
        return 0;
    memset(&c, 0, sizeof(c));
    n = sim_nic_input(&v, data, size, out, sizeof(out), &c);
    /* An answer comes from the NIC's own MAC, is no longer than the
     * question allows, and is counted once. */
    if (n && (n > size + 64 || n < XLMIG_ETH_HLEN + 28 ||
              memcmp(out + 6, v.mac, 6) || c.tx != 1 ||
              c.arp + c.icmp + c.udp + c.ns + c.icmp6 != 1))
        __builtin_trap();
    if (!n && (c.tx || c.dropped != 1))
        __builtin_trap();
    return 0;
}
