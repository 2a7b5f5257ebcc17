/*
 * Preflight: the needs and report encodings (round trip and every
 * refusal), each check's pass and refusal (xlmig_pf_eval, table-driven
 * from one domain the destination can run), CPU lists, and Xen feature
 * names from a serialised CPU policy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/cursor.h"
#include "backend/host_probe.h"
#include "engine/preflight.h"
#include "backend/xen/xen_cpu.h"

#define REPORT_MAX (256u << 10)

static void base(struct xlmig_needs *n, struct xlmig_offer *o)
{
    memset(n, 0, sizeof(*n));
    memset(o, 0, sizeof(*o));
    strcpy(n->hv, "Xen 4.17.5");
    n->hv_major = 4;
    n->hv_minor = 17;
    n->stream_version = 1;
    strcpy(n->domtype, "pv");
    strcpy(n->cpu_vendor, "GenuineIntel");
    strcpy(n->cpu_features, "fpu sse2 avx2");
    n->memory = 1ull << 30;
    n->vcpus = 2;
    strcpy(n->pool, "Pool-0");
    strcpy(n->pin, "1-2");
    n->ndisks = 2;
    strcpy(n->disks[0].vdev, "xvda");
    strcpy(n->disks[0].target, "/srv/web.img");
    n->disks[0].size = 10ull << 30;
    strcpy(n->disks[1].vdev, "hdc");
    strcpy(n->disks[1].target, "/srv/boot.iso");
    n->disks[1].size = 650ull << 20;
    n->disks[1].flags = XLMIG_PF_DISK_CDROM | XLMIG_PF_DISK_RO;
    n->nnics = 1;
    memcpy(n->nics[0].mac, "\x00\x16\x3e\x00\x00\x01", 6);
    strcpy(n->nics[0].bridge, "xenbr0");
    n->nics[0].mtu = 1500;

    strcpy(o->hv, "Xen 4.17.5");
    o->hv_major = 4;
    o->hv_minor = 17;
    o->stream_min = 1;
    o->stream_max = 1;
    strcpy(o->cpu_vendor, "GenuineIntel");
    strcpy(o->cpu_features, "fpu de sse2 sse4_2 avx2");
    o->policy_ok = -1;
    o->pcpus = 4;
    o->vcpus_used = 1;
    o->pool_found = true;
    strcpy(o->pool_name, "Pool-0");
    strcpy(o->pool_cpus, "0-3");
    o->disks[0].size = 10ull << 30;
    o->disks[1].size = 650ull << 20;
    o->nics[0].bridge = true;
    o->nics[0].up = true;
    o->nics[0].mtu = 1500;
}

static const struct xlmig_pf_row *find(const struct xlmig_pf_report *r,
                                       const char *check)
{
    for (unsigned i = 0; i < r->n; i++)
        if (!strcmp(r->rows[i].check, check))
            return &r->rows[i];
    return NULL;
}

static void test_all_pass(void **state)
{
    struct xlmig_needs *n = malloc(sizeof(*n));
    struct xlmig_offer *o = malloc(sizeof(*o));
    struct xlmig_pf_report *r = malloc(sizeof(*r));
    static const char *const checks[] = {
        "hypervisor", "stream", "cpu.vendor", "cpu.features", "vcpus",
        "cpupool", "pinning", "disk xvda", "media hdc", "vif0.bridge",
        "vif0.mtu", "vif0.stp", "vif0.mac", "nomigrate", "pci",
    };

    (void)state;
    base(n, o);
    xlmig_pf_report_init(r);
    xlmig_pf_eval(n, o, r);
    assert_int_equal(r->failed, 0);
    assert_int_equal(r->warned, 0);
    for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
        const struct xlmig_pf_row *row = find(r, checks[i]);
        if (!row)
            fail_msg("no row for %s", checks[i]);
        assert_int_equal(row->verdict, XLMIG_PF_PASS);
    }
    assert_string_equal(find(r, "cpu.features")->src, "3 features");
    assert_string_equal(find(r, "cpu.features")->dst, "5 offered");
    free(n);
    free(o);
    free(r);
}

/* One small function per case: what differs from base(). */
#define CASE(fn, body)                                                    \
    static void fn(struct xlmig_needs *n, struct xlmig_offer *o)          \
    {                                                                     \
        (void)n;                                                          \
        (void)o;                                                          \
        body;                                                             \
    }
CASE(older_xen, o->hv_minor = 16; strcpy(o->hv, "Xen 4.16.2"))
CASE(newer_xen, o->hv_minor = 18; strcpy(o->hv, "Xen 4.18.0"))
CASE(stream_new, n->stream_version = 2)
CASE(vendor, strcpy(o->cpu_vendor, "AuthenticAMD"))
CASE(vendor_unknown, n->cpu_vendor[0] = '\0')
CASE(no_avx2, strcpy(o->cpu_features, "fpu de sse2 sse4_2"))
CASE(two_missing, strcpy(o->cpu_features, "fpu"))
CASE(prefix_only, strcpy(o->cpu_features, "fpu sse2 avx"))
CASE(policy_no, o->policy_ok = 0; strcpy(o->policy_why, "refused by Xen"))
CASE(policy_unk, o->policy_ok = 2; strcpy(o->policy_why, "not run"))
CASE(policy_yes, o->policy_ok = 1; strcpy(o->policy_why, "accepted"))
CASE(overcommit, o->overcommit = 0.5)
CASE(overcommit_ok, o->overcommit = 1.0)
CASE(overcommit_held, o->overcommit = 1.0; o->vcpus_held = 2)
CASE(wide, n->vcpus = 6)
CASE(no_pool, o->pool_found = false; n->pin[0] = '\0')
CASE(empty_pool, o->pool_cpus[0] = '\0'; n->pin[0] = '\0')
CASE(pin_out, strcpy(o->pool_cpus, "0-1"))
CASE(no_pin, n->pin[0] = '\0'; strcpy(o->pool_cpus, "0"))
CASE(disk_missing, o->disks[0].err = 2)
CASE(disk_size, o->disks[0].size = 5ull << 30)
CASE(media_missing, o->disks[1].err = 2)
CASE(media_empty, n->disks[1].flags |= XLMIG_PF_DISK_EMPTY;
     n->disks[1].target[0] = '\0'; o->disks[1].err = 2)
CASE(disk_opaque, n->disks[0].flags |= XLMIG_PF_DISK_OPAQUE;
     strcpy(n->disks[0].target, "iscsi:iqn.2001-04.com.example"))
CASE(disk_unsized, n->disks[0].flags |= XLMIG_PF_DISK_UNSIZED;
     n->disks[0].size = 0)
CASE(copy_unsized, n->flags = XLMIG_PF_COPY_STORAGE; o->disks[0].err = 2;
     n->disks[0].flags |= XLMIG_PF_DISK_UNSIZED; n->disks[0].size = 0;
     o->disks[0].space = 1ull << 30)
CASE(copy_room, n->flags = XLMIG_PF_COPY_STORAGE; o->disks[0].err = 2;
     o->disks[0].space = 20ull << 30)
CASE(copy_tight, n->flags = XLMIG_PF_COPY_STORAGE; o->disks[0].err = 2;
     o->disks[0].space = 1ull << 30)
CASE(copy_exists, n->flags = XLMIG_PF_COPY_STORAGE)
CASE(no_bridge, o->nics[0].bridge = false)
CASE(mac_taken, strcpy(o->nics[0].mac_user, "domain db1"))
CASE(bridge_down, o->nics[0].up = false)
CASE(mtu_smaller, o->nics[0].mtu = 1400)
CASE(mtu_larger, o->nics[0].mtu = 9000)
CASE(stp_on, o->nics[0].stp = true; o->nics[0].forward_delay_cs = 1500)
CASE(mac_auto, n->nics[0].flags = XLMIG_PF_NIC_MAC_AUTO)
CASE(nomigrate, n->nomigrate = true)
CASE(pci, n->npci = 1; strcpy(n->pci[0], "0000:03:00.0"))

static const struct {
    void (*mutate)(struct xlmig_needs *n, struct xlmig_offer *o);
    const char *check;
    enum xlmig_pf_verdict verdict;
    const char *reason;
} table[] = {
    { older_xen, "hypervisor", XLMIG_PF_FAIL,
      "older version (4.16) than the source (4.17)" },
    { newer_xen, "hypervisor", XLMIG_PF_PASS, "newer on the destination" },
    { stream_new, "stream", XLMIG_PF_FAIL, "cannot read stream version 2" },
    { vendor, "cpu.vendor", XLMIG_PF_FAIL,
      "started on a GenuineIntel CPU; the destination's is AuthenticAMD" },
    { vendor_unknown, "cpu.vendor", XLMIG_PF_WARN, "not recorded" },
    { no_avx2, "cpu.features", XLMIG_PF_FAIL,
      "avx2: used by domain, absent on destination" },
    { two_missing, "cpu.features", XLMIG_PF_FAIL,
      "sse2, avx2: used by domain, absent on destination" },
    { prefix_only, "cpu.features", XLMIG_PF_FAIL, "avx2: used by domain" },
    { policy_no, "cpu.policy", XLMIG_PF_FAIL, "refused by Xen" },
    { policy_unk, "cpu.policy", XLMIG_PF_WARN, "not run" },
    { policy_yes, "cpu.policy", XLMIG_PF_PASS, "accepted" },
    { overcommit, "vcpus", XLMIG_PF_FAIL,
      "3 vCPUs on 4 pCPUs would exceed vcpu_overcommit 0.50 (at most 2)" },
    { overcommit_ok, "vcpus", XLMIG_PF_PASS,
      "3 vCPUs on 4 pCPUs, within vcpu_overcommit 1.00" },
    { overcommit_held, "vcpus", XLMIG_PF_FAIL,
      "5 vCPUs on 4 pCPUs would exceed vcpu_overcommit 1.00 (at most 4)" },
    { wide, "vcpus", XLMIG_PF_WARN, "more vCPUs than the destination has" },
    { no_pool, "cpupool", XLMIG_PF_FAIL, "no cpupool named Pool-0" },
    { empty_pool, "cpupool", XLMIG_PF_FAIL, "the pool has no CPUs" },
    { pin_out, "pinning", XLMIG_PF_FAIL,
      "pinned to CPUs 2, not in pool Pool-0 on the destination" },
    { no_pin, "pinning", XLMIG_PF_PASS, "may run on any CPU" },
    { disk_missing, "disk xvda", XLMIG_PF_FAIL,
      "/srv/web.img is not reachable on the destination: No such file" },
    { disk_size, "disk xvda", XLMIG_PF_FAIL,
      "is 10737418240 bytes here and 5368709120 there: not the same" },
    { media_missing, "media hdc", XLMIG_PF_FAIL,
      "/srv/boot.iso is not reachable on the destination" },
    { media_empty, "media hdc", XLMIG_PF_PASS, "no media to find" },
    { disk_opaque, "disk xvda", XLMIG_PF_WARN, "reached through a script" },
    { disk_unsized, "disk xvda", XLMIG_PF_WARN,
      "present; the source cannot read the size of /srv/web.img" },
    { copy_unsized, "disk xvda", XLMIG_PF_WARN,
      "room for a copy not checked" },
    { copy_room, "disk xvda", XLMIG_PF_PASS, "room for a copy" },
    { copy_tight, "disk xvda", XLMIG_PF_FAIL,
      "no room for a copy: 10 GiB needed, 1024 MiB free" },
    { copy_exists, "disk xvda", XLMIG_PF_FAIL, "a copy would overwrite" },
    { no_bridge, "vif0.bridge", XLMIG_PF_FAIL,
      "bridge xenbr0 does not exist on the destination" },
    { mac_taken, "vif0.mac", XLMIG_PF_FAIL,
      "MAC 00:16:3e:00:00:01 is in use on the destination by domain db1" },
    { bridge_down, "vif0.bridge", XLMIG_PF_FAIL,
      "bridge xenbr0 is down on the destination" },
    { mtu_smaller, "vif0.mtu", XLMIG_PF_FAIL,
      "bridge xenbr0 has MTU 1400 here, 1500 on the source" },
    { mtu_larger, "vif0.mtu", XLMIG_PF_WARN,
      "bridge xenbr0 has MTU 9000 here, 1500 on the source" },
    { stp_on, "vif0.stp", XLMIG_PF_WARN,
      "a new port listens and learns for 2 x 15.00 s" },
    { mac_auto, "vif0.mac", XLMIG_PF_WARN,
      "was generated when the domain was made" },
    { nomigrate, "nomigrate", XLMIG_PF_FAIL, "marked not to migrate" },
    { pci, "pci", XLMIG_PF_FAIL,
      "PCI passthrough device 0000:03:00.0 cannot migrate" },
};

static void test_each_check(void **state)
{
    struct xlmig_needs *n = malloc(sizeof(*n));
    struct xlmig_offer *o = malloc(sizeof(*o));
    struct xlmig_pf_report *r = malloc(sizeof(*r));

    (void)state;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        const struct xlmig_pf_row *row;
        unsigned fails = 0;
        base(n, o);
        table[i].mutate(n, o);
        xlmig_pf_report_init(r);
        xlmig_pf_eval(n, o, r);
        row = find(r, table[i].check);
        if (!row)
            fail_msg("case %zu: no row %s", i, table[i].check);
        if (row->verdict != table[i].verdict ||
            !strstr(row->reason, table[i].reason))
            fail_msg("case %zu: %s is %s \"%s\", wanted %s \"%s\"", i,
                     row->check, xlmig_pf_verdict_name(row->verdict),
                     row->reason, xlmig_pf_verdict_name(table[i].verdict),
                     table[i].reason);
        /* The one change moved only its own row. */
        for (unsigned k = 0; k < r->n; k++)
            if (r->rows[k].verdict == XLMIG_PF_FAIL)
                fails++;
        assert_int_equal(fails, table[i].verdict == XLMIG_PF_FAIL);
        assert_int_equal(r->failed, fails);
    }
    free(n);
    free(o);
    free(r);
}

static void test_failures_text(void **state)
{
    struct xlmig_pf_report *r = malloc(sizeof(*r));
    char buf[256];

    (void)state;
    xlmig_pf_report_init(r);
    xlmig_pf_add(r, XLMIG_PF_PASS, "name", "web", "free", "ok");
    xlmig_pf_add(r, XLMIG_PF_FAIL, "cpu.features", "3", "2", "avx2: gone");
    xlmig_pf_add(r, XLMIG_PF_FAIL, "vif0.bridge", "xenbr0", "absent", "no");
    xlmig_pf_failures(r, buf, sizeof(buf));
    assert_string_equal(buf, "cpu.features: avx2: gone; vif0.bridge: no");
    /* Past the last row: the last one turns into a refusal. */
    xlmig_pf_report_init(r);
    for (int i = 0; i < XLMIG_PF_ROWS_MAX + 3; i++)
        xlmig_pf_add(r, i == XLMIG_PF_ROWS_MAX + 1 ? XLMIG_PF_FAIL :
                     XLMIG_PF_PASS, "x", "", "", "ok");
    assert_int_equal(r->n, XLMIG_PF_ROWS_MAX);
    assert_true(r->truncated);
    assert_int_equal(r->failed, 1);
    assert_int_equal(r->rows[XLMIG_PF_ROWS_MAX - 1].verdict, XLMIG_PF_FAIL);
    free(r);
}

static void test_needs_roundtrip(void **state)
{
    struct xlmig_needs *n = malloc(sizeof(*n)), *m = malloc(sizeof(*m));
    struct xlmig_offer *o = malloc(sizeof(*o));
    uint8_t *buf = malloc(XLMIG_PF_NEEDS_MAX);
    char why[160];
    long len;

    (void)state;
    base(n, o);
    n->flags = 0;
    n->npci = 1;
    strcpy(n->pci[0], "0000:03:00.0");
    n->nomigrate = true;
    n->policy_len = 8 + 24;
    xlmig_put_u32(n->policy, 1);
    xlmig_put_u32(n->policy + 4, 0);
    memset(n->policy + 8, 0x5a, 24);
    len = xlmig_needs_encode(n, buf, XLMIG_PF_NEEDS_MAX);
    assert_true(len > 0);
    assert_int_equal(xlmig_needs_decode(buf, (size_t)len, m, why,
                                        sizeof(why)), 0);
    assert_memory_equal(n, m, sizeof(*n));
    /* Too small a buffer is an error. */
    assert_int_equal(xlmig_needs_encode(n, buf, 40), -1);
    free(n);
    free(m);
    free(o);
    free(buf);
}

/* Encode base() with one item appended or altered by @edit. */
static size_t needs_bytes(uint8_t *buf, void (*edit)(uint8_t *, size_t *))
{
    struct xlmig_needs *n = malloc(sizeof(*n));
    struct xlmig_offer *o = malloc(sizeof(*o));
    size_t len;

    base(n, o);
    len = (size_t)xlmig_needs_encode(n, buf, XLMIG_PF_NEEDS_MAX);
    if (edit)
        edit(buf, &len);
    free(n);
    free(o);
    return len;
}

static void add_item(uint8_t *b, size_t *len, uint32_t type, const void *v,
                     uint32_t vlen)
{
    xlmig_put_u32(b + *len, type);
    xlmig_put_u32(b + *len + 4, vlen);
    memcpy(b + *len + 8, v, vlen);
    *len += 8 + vlen;
}

static void e_cut(uint8_t *b, size_t *len) { (void)b; *len -= 3; }
static void e_unknown(uint8_t *b, size_t *len) { add_item(b, len, 0x77, "", 0); }
static void e_optional(uint8_t *b, size_t *len)
{
    add_item(b, len, 0x80000077u, "later", 5);
}
static void e_twice(uint8_t *b, size_t *len)
{
    uint8_t v[4] = { 2, 0, 0, 0 };
    add_item(b, len, 0x07, v, 4);
}
static void e_vcpus0(uint8_t *b, size_t *len)
{
    /* The first items: HV, STREAM, DOMTYPE ...; rebuild with VCPUS 0. */
    uint8_t v[4] = { 0 };
    (void)b;
    *len = 0;
    add_item(b, len, 0x07, v, 4);
}
static void e_features(uint8_t *b, size_t *len)
{
    *len = 0;
    add_item(b, len, 0x04, "avx2  sse2", 10);
}
static void e_disk_rel(uint8_t *b, size_t *len)
{
    uint8_t v[16 + 4 + 5];
    memset(v, 0, sizeof(v));
    xlmig_put_u32(v + 12, 4);
    memcpy(v + 16, "xvdb", 4);
    memcpy(v + 20, "a.img", 5);
    add_item(b, len, 0x0a, v, sizeof(v));
}
static void e_disk_flags(uint8_t *b, size_t *len)
{
    uint8_t v[16 + 4 + 6];
    memset(v, 0, sizeof(v));
    xlmig_put_u32(v + 8, 0x100);
    xlmig_put_u32(v + 12, 4);
    memcpy(v + 16, "xvdb", 4);
    memcpy(v + 20, "/a.img", 6);
    add_item(b, len, 0x0a, v, sizeof(v));
}
static void e_policy(uint8_t *b, size_t *len)
{
    uint8_t v[8 + 24];
    memset(v, 0, sizeof(v));
    xlmig_put_u32(v, 2);            /* says 2 leaves, holds 1 */
    add_item(b, len, 0x05, v, sizeof(v));
}
static void e_nul(uint8_t *b, size_t *len)
{
    *len = 0;
    add_item(b, len, 0x08, "a\0b", 3);
}
static void e_bridge(uint8_t *b, size_t *len)
{
    uint8_t v[8 + 5] = { 0 };
    memcpy(v + 8, "../br", 5);
    add_item(b, len, 0x0b, v, sizeof(v));
}

static void test_needs_refusals(void **state)
{
    static const struct {
        void (*edit)(uint8_t *, size_t *);
        const char *why;
    } bad[] = {
        { e_cut, "runs past the end" },
        { e_unknown, "unknown item 0x77" },
        { e_twice, "item 0x7 twice" },
        { e_vcpus0, "malformed" },
        { e_features, "item 0x4 (10 octets) is malformed" },
        { e_disk_rel, "item 0xa (25 octets) is malformed" },
        { e_disk_flags, "item 0xa (26 octets) is malformed" },
        { e_policy, "item 0x5 (32 octets) is malformed" },
        { e_nul, "item 0x8 (3 octets) is malformed" },
        { e_bridge, "item 0xb (13 octets) is malformed" },
    };
    uint8_t *buf = malloc(XLMIG_PF_NEEDS_MAX + 64);
    struct xlmig_needs *n = malloc(sizeof(*n));
    char why[160];
    size_t len;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        len = needs_bytes(buf, bad[i].edit);
        if (xlmig_needs_decode(buf, len, n, why, sizeof(why)) !=
                XLMIG_ERR_STREAM || !strstr(why, bad[i].why))
            fail_msg("case %zu: \"%s\", wanted \"%s\"", i, why, bad[i].why);
    }
    len = needs_bytes(buf, e_optional);
    assert_int_equal(xlmig_needs_decode(buf, len, n, why, sizeof(why)), 0);
    assert_int_equal(xlmig_needs_decode(buf, 0, n, why, sizeof(why)),
                     XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "are required"));
    assert_int_equal(xlmig_needs_decode(buf, XLMIG_PF_NEEDS_MAX + 1, n, why,
                                        sizeof(why)), XLMIG_ERR_STREAM);
    free(buf);
    free(n);
}

static void test_report_roundtrip(void **state)
{
    struct xlmig_pf_report *r = malloc(sizeof(*r)), *s = malloc(sizeof(*s));
    uint8_t *buf = malloc(REPORT_MAX);
    char why[160];
    long len;

    (void)state;
    xlmig_pf_report_init(r);
    xlmig_pf_add(r, XLMIG_PF_PASS, "name", "web", "free", "no domain");
    xlmig_pf_add(r, XLMIG_PF_WARN, "vcpus", "6 vCPUs", "4 pCPUs", "share");
    xlmig_pf_add(r, XLMIG_PF_FAIL, "cpu.features", "3 features", "2",
                 "avx2: used by domain, absent on destination");
    len = xlmig_pf_report_encode(r, buf, REPORT_MAX);
    assert_true(len > 8);
    assert_int_equal(xlmig_pf_report_decode(buf, (size_t)len, s, why,
                                            sizeof(why)), 0);
    assert_int_equal(s->n, 3);
    assert_int_equal(s->failed, 1);
    assert_int_equal(s->warned, 1);
    for (unsigned i = 0; i < 3; i++) {
        assert_int_equal(s->rows[i].verdict, r->rows[i].verdict);
        assert_string_equal(s->rows[i].check, r->rows[i].check);
        assert_string_equal(s->rows[i].src, r->rows[i].src);
        assert_string_equal(s->rows[i].dst, r->rows[i].dst);
        assert_string_equal(s->rows[i].reason, r->rows[i].reason);
    }
    /* Refusals: trailing bytes, a row cut short, a bad verdict, too many
     * rows, an empty check name, a value longer than its field. */
    assert_int_equal(xlmig_pf_report_decode(buf, (size_t)len + 1, s, why,
                                            sizeof(why)), XLMIG_ERR_STREAM);
    assert_int_equal(xlmig_pf_report_decode(buf, (size_t)len - 1, s, why,
                                            sizeof(why)), XLMIG_ERR_STREAM);
    buf[8] = 3;
    assert_int_equal(xlmig_pf_report_decode(buf, (size_t)len, s, why,
                                            sizeof(why)), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "verdict 3"));
    buf[8] = 0;
    xlmig_put_u32(buf, XLMIG_PF_ROWS_MAX + 1);
    assert_int_equal(xlmig_pf_report_decode(buf, (size_t)len, s, why,
                                            sizeof(why)), XLMIG_ERR_STREAM);
    xlmig_put_u32(buf, 3);
    buf[12] = 0;                    /* check name length 0 */
    assert_int_equal(xlmig_pf_report_decode(buf, (size_t)len, s, why,
                                            sizeof(why)), XLMIG_ERR_STREAM);
    assert_int_equal(xlmig_pf_report_decode(buf, 4, s, why, sizeof(why)),
                     XLMIG_ERR_STREAM);
    free(r);
    free(s);
    free(buf);
}

static void test_cpulist(void **state)
{
    uint64_t set[16];

    (void)state;
    assert_int_equal(xlmig_cpulist_parse("0-3,6", set), 0);
    assert_int_equal(set[0], 0x4f);
    assert_int_equal(xlmig_cpulist_parse("64", set), 0);
    assert_int_equal(set[1], 1);
    assert_int_equal(xlmig_cpulist_parse("1023", set), 0);
    assert_int_equal(xlmig_cpulist_parse("1024", set), -1);
    assert_int_equal(xlmig_cpulist_parse("3-1", set), -1);
    assert_int_equal(xlmig_cpulist_parse("", set), -1);
    assert_int_equal(xlmig_cpulist_parse("1,", set), -1);
    assert_int_equal(xlmig_cpulist_parse("a", set), -1);
    assert_int_equal(xlmig_cpulist_parse("1--2", set), -1);
    assert_true(xlmig_pf_has_feature("fpu sse2 avx2", "avx2", 4));
    assert_false(xlmig_pf_has_feature("fpu sse2 avx2", "avx", 3));
    assert_false(xlmig_pf_has_feature("", "avx", 3));
}

static void put_leaf(uint8_t *p, uint32_t leaf, uint32_t sub, uint32_t a,
                     uint32_t b, uint32_t c, uint32_t d)
{
    xlmig_put_u32(p, leaf);
    xlmig_put_u32(p + 4, sub);
    xlmig_put_u32(p + 8, a);
    xlmig_put_u32(p + 12, b);
    xlmig_put_u32(p + 16, c);
    xlmig_put_u32(p + 20, d);
}

static void test_xen_features(void **state)
{
    uint8_t pol[8 + 4 * 24];
    char out[256], vendor[16];
    uint32_t skip[2] = { 1u << 0, 0 };      /* word 0 bit 0: fpu */

    (void)state;
    xlmig_put_u32(pol, 4);
    xlmig_put_u32(pol + 4, 0);
    /* "GenuineIntel" is ebx "Genu", edx "ineI", ecx "ntel". */
    put_leaf(pol + 8, 0, 0xffffffffu, 0xd, 0x756e6547, 0x6c65746e,
             0x49656e69);
    put_leaf(pol + 32, 1, 0xffffffffu, 0, 0, 1u << 20, 1u << 0 | 1u << 26);
    put_leaf(pol + 56, 7, 0, 0, 1u << 5, 0, 0);       /* avx2 */
    put_leaf(pol + 80, 7, 1, 0, 0, 0, 0);
    xlmig_xen_features(pol, sizeof(pol), NULL, 0, out, sizeof(out), vendor);
    assert_string_equal(vendor, "GenuineIntel");
    assert_string_equal(out, "fpu sse2 sse4_2 avx2");
    xlmig_xen_features(pol, sizeof(pol), skip, 2, out, sizeof(out), vendor);
    assert_string_equal(out, "sse2 sse4_2 avx2");
    /* A policy whose counts overrun it yields nothing. */
    xlmig_put_u32(pol, 5);
    xlmig_xen_features(pol, sizeof(pol), NULL, 0, out, sizeof(out), vendor);
    assert_string_equal(out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_pass),
        cmocka_unit_test(test_each_check),
        cmocka_unit_test(test_failures_text),
        cmocka_unit_test(test_needs_roundtrip),
        cmocka_unit_test(test_needs_refusals),
        cmocka_unit_test(test_report_roundtrip),
        cmocka_unit_test(test_cpulist),
        cmocka_unit_test(test_xen_features),
    };

    return cmocka_run_group_tests_name("preflight", tests, NULL, NULL);
}
