/*
 * Link-layer frames xlmig builds or reads: the announce a destination
 * sends for a domain that now runs here (RARP as QEMU's announce-self
 * sends it, gratuitous ARP, unsolicited neighbour advertisement), and the
 * Internet checksum the simulated guest's network stack needs.  Pure
 * functions over buffers; docs/network.md describes each frame.
 */
#ifndef XLMIG_PROTO_L2_H
#define XLMIG_PROTO_L2_H

#include <stddef.h>
#include <stdint.h>

#define XLMIG_ETH_HLEN 14
#define XLMIG_ETH_P_IP 0x0800
#define XLMIG_ETH_P_ARP 0x0806
#define XLMIG_ETH_P_RARP 0x8035
#define XLMIG_ETH_P_IPV6 0x86dd
#define XLMIG_ETH_ZLEN 60               /* shortest frame, less the FCS */
#define XLMIG_L2_FRAME_MAX 128          /* the longest frame built here */

/* One's-complement sum of @len octets, folded, not yet inverted; @sum
 * carries a previous part (a pseudo-header). */
uint32_t xlmig_csum_add(uint32_t sum, const void *p, size_t len);
uint16_t xlmig_csum_fold(uint32_t sum);
/* The pseudo-header part of a TCP/UDP/ICMPv6 checksum over IPv6. */
uint32_t xlmig_csum_ip6(const uint8_t src[16], const uint8_t dst[16],
                        uint32_t len, uint8_t proto);
uint32_t xlmig_csum_ip4(const uint8_t src[4], const uint8_t dst[4],
                        uint16_t len, uint8_t proto);

/*
 * Announce frames for a guest with @mac, into @f (XLMIG_L2_FRAME_MAX
 * octets); each returns the frame's length.
 *   rarp: broadcast, reverse request (opcode 3) naming @mac as sender and
 *         target, protocol addresses zero: teaches switches where the MAC
 *         is, needs no address (what QEMU's announce-self sends).
 *   garp: broadcast ARP request with sender and target protocol address
 *         @ip: neighbours that know @ip update its MAC.
 *   una:  unsolicited neighbour advertisement for @ip to all nodes
 *         (ff02::1), override flag set, target link-layer address @mac.
 */
size_t xlmig_l2_rarp(const uint8_t mac[6], uint8_t *f);
size_t xlmig_l2_garp(const uint8_t mac[6], const uint8_t ip[4], uint8_t *f);
size_t xlmig_l2_una(const uint8_t mac[6], const uint8_t ip[16], uint8_t *f);

/* The link-local address (fe80::/64, modified EUI-64) of @mac. */
void xlmig_l2_ll6(const uint8_t mac[6], uint8_t ip[16]);

#endif
