#include "backend/sim/sim_nic.h"

#include <stdbool.h>
#include <string.h>

#include "proto/l2.h"

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static bool has4(const struct sim_vif *v, const uint8_t *ip)
{
    for (unsigned i = 0; i < v->nip4; i++)
        if (!memcmp(v->ip4[i], ip, 4))
            return true;
    return false;
}

static bool has6(const struct sim_vif *v, const uint8_t *ip)
{
    for (unsigned i = 0; i < v->nip6; i++)
        if (!memcmp(v->ip6[i], ip, 16))
            return true;
    return false;
}

/* Ethernet header of an answer to the frame @f. */
static void eth_reply(const struct sim_vif *v, const uint8_t *f, uint8_t *o,
                      uint16_t type)
{
    memcpy(o, f + 6, 6);
    memcpy(o + 6, v->mac, 6);
    put16(o + 12, type);
}

/* The echo of datagram @l4 (@ulen octets) into @r: ports swapped, the
 * checksum over @pseudo (the reply's pseudo-header) and the datagram. */
static void udp_echo(uint8_t *r, const uint8_t *l4, size_t ulen,
                     uint32_t pseudo)
{
    uint16_t sum;

    memcpy(r, l4, ulen);
    memcpy(r, l4 + 2, 2);
    memcpy(r + 2, l4, 2);
    put16(r + 6, 0);
    sum = xlmig_csum_fold(xlmig_csum_add(pseudo, r, ulen));
    put16(r + 6, sum ? sum : 0xffff);  /* 0 would mean "no checksum" */
}

static size_t arp_in(const struct sim_vif *v, const uint8_t *f, size_t len,
                     uint8_t *o, struct sim_nic_counters *c)
{
    const uint8_t *a = f + XLMIG_ETH_HLEN;
    uint8_t *r = o + XLMIG_ETH_HLEN;

    if (len < XLMIG_ETH_HLEN + 28 || get16(a) != 1 ||
        get16(a + 2) != XLMIG_ETH_P_IP || a[4] != 6 || a[5] != 4 ||
        get16(a + 6) != 1 || !has4(v, a + 24) || (a[8] & 1))
        return 0;
    memset(o, 0, XLMIG_ETH_ZLEN);
    eth_reply(v, f, o, XLMIG_ETH_P_ARP);
    memcpy(o, a + 8, 6);                /* to the asker's MAC */
    memcpy(r, a, 6);                    /* htype, ptype, hlen, plen */
    put16(r + 6, 2);
    memcpy(r + 8, v->mac, 6);
    memcpy(r + 14, a + 24, 4);
    memcpy(r + 18, a + 8, 10);          /* asker's MAC and address */
    c->arp++;
    return XLMIG_ETH_ZLEN;
}

static size_t ip4_in(const struct sim_vif *v, const uint8_t *f, size_t len,
                     uint8_t *o, struct sim_nic_counters *c)
{
    const uint8_t *h = f + XLMIG_ETH_HLEN, *l4;
    uint8_t *rh = o + XLMIG_ETH_HLEN, *r4 = rh + 20;
    size_t ihl, tot, l4len;

    if (len < XLMIG_ETH_HLEN + 20 || (h[0] >> 4) != 4)
        return 0;
    ihl = (size_t)(h[0] & 15) * 4;
    tot = get16(h + 2);
    if (ihl < 20 || tot < ihl || tot > len - XLMIG_ETH_HLEN ||
        xlmig_csum_fold(xlmig_csum_add(0, h, ihl)) != 0 ||
        (get16(h + 6) & 0x3fff) ||      /* a fragment */
        !has4(v, h + 16))
        return 0;
    l4 = h + ihl;
    l4len = tot - ihl;
    if (h[9] == 1) {                    /* ICMP echo request */
        if (l4len < 8 || l4[0] != 8 || l4[1] != 0 ||
            xlmig_csum_fold(xlmig_csum_add(0, l4, l4len)) != 0)
            return 0;
        memcpy(r4, l4, l4len);
        r4[0] = 0;
        put16(r4 + 2, 0);
        put16(r4 + 2, xlmig_csum_fold(xlmig_csum_add(0, r4, l4len)));
        c->icmp++;
    } else if (h[9] == 17) {            /* UDP echo */
        uint16_t ulen;
        if (l4len < 8 || (ulen = get16(l4 + 4)) < 8 || ulen > l4len ||
            get16(l4 + 2) != SIM_NIC_ECHO_PORT)
            return 0;
        if (get16(l4 + 6) &&
            xlmig_csum_fold(xlmig_csum_add(
                xlmig_csum_ip4(h + 12, h + 16, ulen, 17), l4, ulen)) != 0)
            return 0;
        l4len = ulen;
        udp_echo(r4, l4, ulen, xlmig_csum_ip4(h + 16, h + 12, ulen, 17));
        c->udp++;
    } else {
        return 0;
    }
    eth_reply(v, f, o, XLMIG_ETH_P_IP);
    memset(rh, 0, 20);
    rh[0] = 0x45;
    put16(rh + 2, (uint16_t)(20 + l4len));
    put16(rh + 6, 0x4000);              /* don't fragment */
    rh[8] = 64;
    rh[9] = h[9];
    memcpy(rh + 12, h + 16, 4);
    memcpy(rh + 16, h + 12, 4);
    put16(rh + 10, xlmig_csum_fold(xlmig_csum_add(0, rh, 20)));
    return XLMIG_ETH_HLEN + 20 + l4len;
}

static size_t ip6_in(const struct sim_vif *v, const uint8_t *f, size_t len,
                     uint8_t *o, struct sim_nic_counters *c)
{
    static const uint8_t unspec[16], all_nodes[16] = { 0xff, 0x02, [15] = 1 };
    const uint8_t *h = f + XLMIG_ETH_HLEN, *l4 = h + 40;
    uint8_t *rh = o + XLMIG_ETH_HLEN, *r4 = rh + 40;
    const uint8_t *src, *dst;
    size_t plen, rlen;
    uint8_t nh;

    if (len < XLMIG_ETH_HLEN + 40 || (h[0] >> 4) != 6)
        return 0;
    nh = h[6];
    plen = get16(h + 4);
    if (plen > len - XLMIG_ETH_HLEN - 40)
        return 0;
    if (nh == 58) {
        if (plen < 8 || xlmig_csum_fold(xlmig_csum_add(
                xlmig_csum_ip6(h + 8, h + 24, (uint32_t)plen, 58), l4,
                plen)) != 0)
            return 0;
        if (l4[0] == 135 && l4[1] == 0 && h[7] == 255 && plen >= 24 &&
            has6(v, l4 + 8)) {
            /* Neighbour solicitation: advertise, solicited unless the
             * asker has no address yet (duplicate address detection). */
            bool dad = !memcmp(h + 8, unspec, 16);
            src = l4 + 8;
            dst = dad ? all_nodes : h + 8;
            rlen = 32;
            memset(r4, 0, rlen);
            r4[0] = 136;
            r4[4] = (uint8_t)(dad ? 0x20 : 0x60);
            memcpy(r4 + 8, l4 + 8, 16);
            r4[24] = 2;
            r4[25] = 1;
            memcpy(r4 + 26, v->mac, 6);
            c->ns++;
        } else if (l4[0] == 128 && l4[1] == 0 && has6(v, h + 24)) {
            src = h + 24;
            dst = h + 8;
            rlen = plen;
            memcpy(r4, l4, plen);
            r4[0] = 129;
            c->icmp6++;
        } else {
            return 0;
        }
        put16(r4 + 2, 0);
        put16(r4 + 2, xlmig_csum_fold(xlmig_csum_add(
            xlmig_csum_ip6(src, dst, (uint32_t)rlen, 58), r4, rlen)));
    } else if (nh == 17) {
        uint16_t ulen;
        if (plen < 8 || (ulen = get16(l4 + 4)) < 8 || ulen > plen ||
            get16(l4 + 2) != SIM_NIC_ECHO_PORT || !has6(v, h + 24) ||
            !get16(l4 + 6) ||           /* a checksum is mandatory */
            xlmig_csum_fold(xlmig_csum_add(
                xlmig_csum_ip6(h + 8, h + 24, ulen, 17), l4, ulen)) != 0)
            return 0;
        src = h + 24;
        dst = h + 8;
        rlen = ulen;
        udp_echo(r4, l4, ulen, xlmig_csum_ip6(src, dst, ulen, 17));
        c->udp++;
    } else {
        return 0;
    }
    eth_reply(v, f, o, XLMIG_ETH_P_IPV6);
    if (dst == all_nodes) {
        o[0] = 0x33;
        o[1] = 0x33;
        memcpy(o + 2, all_nodes + 12, 4);
    }
    memset(rh, 0, 40);
    rh[0] = 0x60;
    put16(rh + 4, (uint16_t)rlen);
    rh[6] = nh;
    rh[7] = nh == 58 && r4[0] == 136 ? 255 : 64;
    memcpy(rh + 8, src, 16);
    memcpy(rh + 24, dst, 16);
    return XLMIG_ETH_HLEN + 40 + rlen;
}

size_t sim_nic_input(const struct sim_vif *v, const uint8_t *f, size_t len,
                     uint8_t *out, size_t outlen,
                     struct sim_nic_counters *c)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    size_t n = 0;

    c->rx++;
    if (len >= XLMIG_ETH_HLEN && outlen >= len + 64 &&
        (!memcmp(f, v->mac, 6) || !memcmp(f, bcast, 6) ||
         (f[0] == 0x33 && f[1] == 0x33))) {
        switch (get16(f + 12)) {
        case XLMIG_ETH_P_ARP: n = arp_in(v, f, len, out, c); break;
        case XLMIG_ETH_P_IP: n = ip4_in(v, f, len, out, c); break;
        case XLMIG_ETH_P_IPV6: n = ip6_in(v, f, len, out, c); break;
        default: break;
        }
    }
    if (n)
        c->tx++;
    else
        c->dropped++;
    return n;
}
