/* Link-layer frames: the announce's RARP/GARP/NA, the simulated guest's
 * answers (each checksum verified, each refusal counted) and QEMU's
 * announce schedule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/sim/sim_nic.h"
#include "engine/announce.h"
#include "proto/l2.h"

static const uint8_t mac[6] = { 0x00, 0x16, 0x3e, 0x4e, 0x00, 0x01 };
static const uint8_t cmac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x09 };
static const uint8_t ip[4] = { 10, 88, 0, 10 }, cip[4] = { 10, 88, 0, 100 };
static const uint8_t ip6[16] = { 0xfd, 0x88, [15] = 0x10 };
static const uint8_t cip6[16] = { 0xfd, 0x88, [15] = 0x64 };

static struct sim_vif vif(void)
{
    struct sim_vif v;

    memset(&v, 0, sizeof(v));
    memcpy(v.mac, mac, 6);
    v.nip4 = 1;
    memcpy(v.ip4[0], ip, 4);
    v.nip6 = 1;
    memcpy(v.ip6[0], ip6, 16);
    return v;
}

static uint16_t g16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void p16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void test_announce_frames(void **state)
{
    uint8_t f[XLMIG_L2_FRAME_MAX];
    size_t n;

    (void)state;
    /* RARP as QEMU sends it: reverse request, MAC as sender and target. */
    n = xlmig_l2_rarp(mac, f);
    assert_int_equal(n, 60);
    assert_memory_equal(f, "\xff\xff\xff\xff\xff\xff", 6);
    assert_memory_equal(f + 6, mac, 6);
    assert_int_equal(g16(f + 12), 0x8035);
    assert_int_equal(g16(f + 14), 1);
    assert_int_equal(g16(f + 16), 0x0800);
    assert_int_equal(g16(f + 20), 3);
    assert_memory_equal(f + 22, mac, 6);
    assert_memory_equal(f + 32, mac, 6);
    assert_memory_equal(f + 28, "\0\0\0\0", 4);
    assert_memory_equal(f + 38, "\0\0\0\0", 4);
    /* Gratuitous ARP: a request for its own address. */
    n = xlmig_l2_garp(mac, ip, f);
    assert_int_equal(n, 60);
    assert_int_equal(g16(f + 12), 0x0806);
    assert_int_equal(g16(f + 20), 1);
    assert_memory_equal(f + 28, ip, 4);
    assert_memory_equal(f + 38, ip, 4);
    assert_memory_equal(f + 32, "\0\0\0\0\0\0", 6);
    /* Unsolicited NA: to all nodes, override, valid checksum. */
    n = xlmig_l2_una(mac, ip6, f);
    assert_int_equal(n, 14 + 40 + 32);
    assert_memory_equal(f, "\x33\x33\x00\x00\x00\x01", 6);
    assert_int_equal(g16(f + 12), 0x86dd);
    assert_int_equal(f[14 + 7], 255);
    assert_int_equal(f[54], 136);
    assert_int_equal(f[58], 0x20);
    assert_memory_equal(f + 62, ip6, 16);
    assert_int_equal(f[78], 2);
    assert_memory_equal(f + 80, mac, 6);
    assert_int_equal(xlmig_csum_fold(xlmig_csum_add(
        xlmig_csum_ip6(f + 22, f + 38, 32, 58), f + 54, 32)), 0);
    /* From the modified EUI-64 link-local address. */
    assert_int_equal(f[22], 0xfe);
    assert_int_equal(f[30], 0x02);
    assert_int_equal(f[33], 0xff);
}

static size_t eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, cmac, 6);
    p16(f + 12, type);
    return 14;
}

static size_t ip4_frame(uint8_t *f, uint8_t proto, const uint8_t *l4,
                        size_t l4len, const uint8_t *dst)
{
    uint8_t *h = f + 14;

    eth(f, mac, 0x0800);
    memset(h, 0, 20);
    h[0] = 0x45;
    p16(h + 2, (uint16_t)(20 + l4len));
    h[8] = 64;
    h[9] = proto;
    memcpy(h + 12, cip, 4);
    memcpy(h + 16, dst, 4);
    p16(h + 10, xlmig_csum_fold(xlmig_csum_add(0, h, 20)));
    memcpy(h + 20, l4, l4len);
    return 34 + l4len;
}

static void test_arp_icmp_udp(void **state)
{
    struct sim_vif v = vif();
    struct sim_nic_counters c;
    uint8_t f[256], o[256 + 64], l4[64];
    size_t n, r;
    static const uint8_t other[4] = { 10, 88, 0, 11 };

    (void)state;
    memset(&c, 0, sizeof(c));
    /* ARP for our address: answered to the asker. */
    memset(f, 0, sizeof(f));
    n = eth(f, (const uint8_t *)"\xff\xff\xff\xff\xff\xff", 0x0806);
    p16(f + 14, 1); p16(f + 16, 0x0800); f[18] = 6; f[19] = 4; p16(f + 20, 1);
    memcpy(f + 22, cmac, 6); memcpy(f + 28, cip, 4); memcpy(f + 38, ip, 4);
    r = sim_nic_input(&v, f, 60, o, sizeof(o), &c);
    assert_int_equal(r, 60);
    assert_memory_equal(o, cmac, 6);
    assert_int_equal(g16(o + 20), 2);
    assert_memory_equal(o + 22, mac, 6);
    assert_memory_equal(o + 28, ip, 4);
    assert_memory_equal(o + 32, cmac, 6);
    assert_memory_equal(o + 38, cip, 4);
    assert_int_equal(c.arp, 1);
    /* For another address: silence. */
    memcpy(f + 38, other, 4);
    assert_int_equal(sim_nic_input(&v, f, 60, o, sizeof(o), &c), 0);
    assert_int_equal(c.dropped, 1);

    /* ICMP echo: reply with both checksums right. */
    memset(l4, 0, sizeof(l4));
    l4[0] = 8;
    p16(l4 + 4, 7);
    p16(l4 + 6, 1);
    memcpy(l4 + 8, "abcdefgh", 8);
    p16(l4 + 2, xlmig_csum_fold(xlmig_csum_add(0, l4, 16)));
    n = ip4_frame(f, 1, l4, 16, ip);
    r = sim_nic_input(&v, f, n, o, sizeof(o), &c);
    assert_int_equal(r, n);
    assert_memory_equal(o, cmac, 6);
    assert_memory_equal(o + 26, ip, 4);
    assert_memory_equal(o + 30, cip, 4);
    assert_int_equal(xlmig_csum_fold(xlmig_csum_add(0, o + 14, 20)), 0);
    assert_int_equal(o[34], 0);
    assert_int_equal(xlmig_csum_fold(xlmig_csum_add(0, o + 34, 16)), 0);
    assert_memory_equal(o + 42, "abcdefgh", 8);
    assert_int_equal(c.icmp, 1);
    /* A bad IP header checksum, or a fragment: silence. */
    f[24] ^= 1;
    assert_int_equal(sim_nic_input(&v, f, n, o, sizeof(o), &c), 0);
    f[24] ^= 1;
    /* Every truncation of a good request: no answer, no crash. */
    for (size_t k = 0; k < n; k++)
        assert_int_equal(sim_nic_input(&v, f, k, o, sizeof(o), &c), 0);

    /* UDP echo on port 7, checksum verified and recomputed. */
    memset(l4, 0, sizeof(l4));
    p16(l4, 40000);
    p16(l4 + 2, 7);
    p16(l4 + 4, 8 + 6);
    memcpy(l4 + 8, "hello!", 6);
    p16(l4 + 6, xlmig_csum_fold(xlmig_csum_add(
        xlmig_csum_ip4(cip, ip, 14, 17), l4, 14)));
    n = ip4_frame(f, 17, l4, 14, ip);
    r = sim_nic_input(&v, f, n, o, sizeof(o), &c);
    assert_int_equal(r, n);
    assert_int_equal(g16(o + 34), 7);
    assert_int_equal(g16(o + 36), 40000);
    assert_memory_equal(o + 42, "hello!", 6);
    assert_int_equal(xlmig_csum_fold(xlmig_csum_add(
        xlmig_csum_ip4(o + 26, o + 30, 14, 17), o + 34, 14)), 0);
    assert_int_equal(c.udp, 1);
    /* A wrong UDP checksum, or another port: silence. */
    f[34 + 6] ^= 0x40;
    assert_int_equal(sim_nic_input(&v, f, n, o, sizeof(o), &c), 0);
    f[34 + 6] ^= 0x40;
    f[34 + 3] = 9;
    assert_int_equal(sim_nic_input(&v, f, n, o, sizeof(o), &c), 0);
    assert_int_equal(c.tx, 3);
    assert_int_equal(c.rx, c.tx + c.dropped);
}

static size_t ip6_frame(uint8_t *f, const uint8_t *src, const uint8_t *dst,
                        uint8_t hl, uint8_t *l4, size_t l4len)
{
    uint8_t *h = f + 14;

    eth(f, mac, 0x86dd);
    memset(h, 0, 40);
    h[0] = 0x60;
    p16(h + 4, (uint16_t)l4len);
    h[6] = 58;
    h[7] = hl;
    memcpy(h + 8, src, 16);
    memcpy(h + 24, dst, 16);
    p16(l4 + 2, 0);
    p16(l4 + 2, xlmig_csum_fold(xlmig_csum_add(
        xlmig_csum_ip6(src, dst, (uint32_t)l4len, 58), l4, l4len)));
    memcpy(h + 40, l4, l4len);
    return 54 + l4len;
}

static void test_nd_icmp6(void **state)
{
    static const uint8_t unspec[16];
    struct sim_vif v = vif();
    struct sim_nic_counters c;
    uint8_t f[256], o[256 + 64], l4[64];
    size_t n, r;

    (void)state;
    memset(&c, 0, sizeof(c));
    memset(l4, 0, sizeof(l4));
    l4[0] = 135;
    memcpy(l4 + 8, ip6, 16);
    n = ip6_frame(f, cip6, ip6, 255, l4, 24);
    r = sim_nic_input(&v, f, n, o, sizeof(o), &c);
    assert_int_equal(r, 14 + 40 + 32);
    assert_int_equal(o[54], 136);
    assert_int_equal(o[58], 0x60);             /* solicited, override */
    assert_memory_equal(o + 62, ip6, 16);
    assert_memory_equal(o + 80, mac, 6);
    assert_memory_equal(o + 22, ip6, 16);
    assert_memory_equal(o + 38, cip6, 16);
    assert_int_equal(o[21], 255);
    assert_int_equal(xlmig_csum_fold(xlmig_csum_add(
        xlmig_csum_ip6(o + 22, o + 38, 32, 58), o + 54, 32)), 0);
    /* Hop limit other than 255: not a neighbour's, ignored. */
    n = ip6_frame(f, cip6, ip6, 64, l4, 24);
    assert_int_equal(sim_nic_input(&v, f, n, o, sizeof(o), &c), 0);
    /* Duplicate address detection: to all nodes, not solicited. */
    n = ip6_frame(f, unspec, ip6, 255, l4, 24);
    r = sim_nic_input(&v, f, n, o, sizeof(o), &c);
    assert_int_equal(r, 86);
    assert_memory_equal(o, "\x33\x33\x00\x00\x00\x01", 6);
    assert_int_equal(o[58], 0x20);
    assert_int_equal(c.ns, 2);

    /* ICMPv6 echo. */
    memset(l4, 0, sizeof(l4));
    l4[0] = 128;
    memcpy(l4 + 8, "ping6ping6", 10);
    n = ip6_frame(f, cip6, ip6, 64, l4, 18);
    r = sim_nic_input(&v, f, n, o, sizeof(o), &c);
    assert_int_equal(r, n);
    assert_int_equal(o[54], 129);
    assert_memory_equal(o + 62, "ping6ping6", 10);
    assert_int_equal(xlmig_csum_fold(xlmig_csum_add(
        xlmig_csum_ip6(o + 22, o + 38, 18, 58), o + 54, 18)), 0);
    assert_int_equal(c.icmp6, 1);
    /* A broken ICMPv6 checksum: silence. */
    f[60] ^= 1;
    assert_int_equal(sim_nic_input(&v, f, n, o, sizeof(o), &c), 0);
}

static void test_schedule(void **state)
{
    struct xlmig_announce_conf a = { true, 5, 50, 100, 550 };
    unsigned want[] = { 50, 150, 250, 350 }, capped[] = { 50, 150, 200, 200 };

    (void)state;
    for (unsigned k = 1; k <= 4; k++)
        assert_int_equal(xlmig_announce_gap_ms(&a, k), want[k - 1]);
    a.max_ms = 200;
    for (unsigned k = 1; k <= 4; k++)
        assert_int_equal(xlmig_announce_gap_ms(&a, k), capped[k - 1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_announce_frames),
        cmocka_unit_test(test_arp_icmp_udp),
        cmocka_unit_test(test_nd_icmp6),
        cmocka_unit_test(test_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
