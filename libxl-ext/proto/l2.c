#include "proto/l2.h"

#include <string.h>

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

uint32_t xlmig_csum_add(uint32_t sum, const void *p, size_t len)
{
    const uint8_t *b = p;

    while (len > 1) {
        sum += (uint32_t)b[0] << 8 | b[1];
        b += 2;
        len -= 2;
    }
    if (len)
        sum += (uint32_t)b[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return sum;
}

uint16_t xlmig_csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

uint32_t xlmig_csum_ip6(const uint8_t src[16], const uint8_t dst[16],
                        uint32_t len, uint8_t proto)
{
    uint8_t tail[8] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16),
                        (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0, proto };
    uint32_t sum = xlmig_csum_add(0, src, 16);

    sum = xlmig_csum_add(sum, dst, 16);
    return xlmig_csum_add(sum, tail, sizeof(tail));
}

uint32_t xlmig_csum_ip4(const uint8_t src[4], const uint8_t dst[4],
                        uint16_t len, uint8_t proto)
{
    uint8_t tail[4] = { 0, proto, (uint8_t)(len >> 8), (uint8_t)len };
    uint32_t sum = xlmig_csum_add(0, src, 4);

    sum = xlmig_csum_add(sum, dst, 4);
    return xlmig_csum_add(sum, tail, sizeof(tail));
}

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

/* Ethernet header and an ARP body of @op; padded to the shortest frame. */
static size_t arp_frame(uint16_t type, uint16_t op, const uint8_t mac[6],
                        const uint8_t spa[4], const uint8_t tpa[4],
                        uint8_t *f)
{
    uint8_t *a = f + XLMIG_ETH_HLEN;

    memset(f, 0, XLMIG_ETH_ZLEN);
    memcpy(f, bcast, 6);
    memcpy(f + 6, mac, 6);
    put16(f + 12, type);
    put16(a, 1);                        /* Ethernet */
    put16(a + 2, XLMIG_ETH_P_IP);
    a[4] = 6;
    a[5] = 4;
    put16(a + 6, op);
    memcpy(a + 8, mac, 6);              /* sender */
    memcpy(a + 14, spa, 4);
    memcpy(a + 18, type == XLMIG_ETH_P_RARP ? mac : bcast, 6);
    if (type == XLMIG_ETH_P_ARP)
        memset(a + 18, 0, 6);           /* target MAC unknown in a request */
    memcpy(a + 24, tpa, 4);
    return XLMIG_ETH_ZLEN;
}

size_t xlmig_l2_rarp(const uint8_t mac[6], uint8_t *f)
{
    static const uint8_t zero[4];

    return arp_frame(XLMIG_ETH_P_RARP, 3, mac, zero, zero, f);
}

size_t xlmig_l2_garp(const uint8_t mac[6], const uint8_t ip[4], uint8_t *f)
{
    return arp_frame(XLMIG_ETH_P_ARP, 1, mac, ip, ip, f);
}

void xlmig_l2_ll6(const uint8_t mac[6], uint8_t ip[16])
{
    memset(ip, 0, 16);
    ip[0] = 0xfe;
    ip[1] = 0x80;
    ip[8] = mac[0] ^ 0x02;
    ip[9] = mac[1];
    ip[10] = mac[2];
    ip[11] = 0xff;
    ip[12] = 0xfe;
    ip[13] = mac[3];
    ip[14] = mac[4];
    ip[15] = mac[5];
}

size_t xlmig_l2_una(const uint8_t mac[6], const uint8_t ip[16], uint8_t *f)
{
    static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
    uint8_t *h = f + XLMIG_ETH_HLEN, *icmp = h + 40, src[16];
    const uint32_t plen = 32;           /* NA 24 + target LL option 8 */

    /* From the link-local address, as a node's own NA would be. */
    xlmig_l2_ll6(mac, src);
    memset(f, 0, XLMIG_ETH_HLEN + 40 + plen);
    f[0] = 0x33;
    f[1] = 0x33;
    memcpy(f + 2, all_nodes + 12, 4);
    memcpy(f + 6, mac, 6);
    put16(f + 12, XLMIG_ETH_P_IPV6);
    h[0] = 0x60;
    put16(h + 4, (uint16_t)plen);
    h[6] = 58;                          /* ICMPv6 */
    h[7] = 255;                         /* hop limit: RFC 4861 */
    memcpy(h + 8, src, 16);
    memcpy(h + 24, all_nodes, 16);
    icmp[0] = 136;                      /* neighbour advertisement */
    icmp[4] = 0x20;                     /* override, not solicited */
    memcpy(icmp + 8, ip, 16);
    icmp[24] = 2;                       /* target link-layer address */
    icmp[25] = 1;
    memcpy(icmp + 26, mac, 6);
    put16(icmp + 2, xlmig_csum_fold(xlmig_csum_add(
        xlmig_csum_ip6(src, all_nodes, plen, 58), icmp, plen)));
    return XLMIG_ETH_HLEN + 40 + plen;
}
