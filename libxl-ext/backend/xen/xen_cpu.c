/*
 * Xen CPU policies for preflight (xen_cpu.h).
 */
#include "backend/xen/xen_cpu.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xenctrl.h>
#include <xenguest.h>

#include "core/cursor.h"

/* Every feature Xen names, from its public header. */
static const struct {
    const char *name;
    unsigned bit;               /* word * 32 + bit */
} xen_features[] = {
#define XEN_CPUFEATURE(name, value) { #name, value },
#include <xen/arch-x86/cpufeatureset.h>
#undef XEN_CPUFEATURE
};

#define NO_SUB 0xffffffffu
#define MSR_ARCH_CAPS 0x10a
enum { EAX, EBX, ECX, EDX, MSR_LO, MSR_HI };

/* Where each featureset word comes from (cpufeatureset.h's headings). */
static const struct {
    uint32_t leaf, sub;
    int reg;
} words[] = {
    { 0x00000001, NO_SUB, EDX },        /* 0 */
    { 0x00000001, NO_SUB, ECX },        /* 1 */
    { 0x80000001, NO_SUB, EDX },        /* 2 */
    { 0x80000001, NO_SUB, ECX },        /* 3 */
    { 0x0000000d, 1, EAX },             /* 4 */
    { 0x00000007, 0, EBX },             /* 5 */
    { 0x00000007, 0, ECX },             /* 6 */
    { 0x80000007, NO_SUB, EDX },        /* 7 */
    { 0x80000008, NO_SUB, EBX },        /* 8 */
    { 0x00000007, 0, EDX },             /* 9 */
    { 0x00000007, 1, EAX },             /* 10 */
    { 0x80000021, NO_SUB, EAX },        /* 11 */
    { 0x00000007, 1, EBX },             /* 12 */
    { 0x00000007, 2, EDX },             /* 13 */
    { 0x00000007, 1, ECX },             /* 14 */
    { 0x00000007, 1, EDX },             /* 15 */
    { MSR_ARCH_CAPS, 0, MSR_LO },       /* 16 */
    { MSR_ARCH_CAPS, 0, MSR_HI },       /* 17 */
    { 0x80000021, NO_SUB, ECX },        /* 18 */
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

void xlmig_xen_features(const uint8_t *pol, size_t len,
                        const uint32_t *skip, unsigned nskip, char *out,
                        size_t outlen, char vendor[16])
{
    uint32_t fs[NWORDS];
    uint32_t nl, nm;
    size_t off = 0;

    memset(fs, 0, sizeof(fs));
    vendor[0] = '\0';
    if (outlen)
        out[0] = '\0';
    if (len < 8)
        return;
    nl = xlmig_get_u32(pol);
    nm = xlmig_get_u32(pol + 4);
    if ((uint64_t)nl * 24 + (uint64_t)nm * 16 + 8 > len)
        return;
    for (uint32_t i = 0; i < nl; i++) {
        const uint8_t *l = pol + 8 + 24 * (size_t)i;
        uint32_t leaf = xlmig_get_u32(l), sub = xlmig_get_u32(l + 4);
        uint32_t reg[4] = { xlmig_get_u32(l + 8), xlmig_get_u32(l + 12),
                            xlmig_get_u32(l + 16), xlmig_get_u32(l + 20) };
        if (leaf == 0) {
            /* "GenuineIntel": ebx, edx, ecx. */
            memcpy(vendor, &reg[EBX], 4);
            memcpy(vendor + 4, &reg[EDX], 4);
            memcpy(vendor + 8, &reg[ECX], 4);
            vendor[12] = '\0';
            for (int k = 0; k < 12; k++)
                if (!isprint((unsigned char)vendor[k]))
                    vendor[k] = '?';
        }
        for (size_t w = 0; w < NWORDS; w++)
            if (words[w].reg <= EDX && words[w].leaf == leaf &&
                (words[w].sub == NO_SUB || words[w].sub == sub))
                fs[w] = reg[words[w].reg];
    }
    for (uint32_t i = 0; i < nm; i++) {
        const uint8_t *m = pol + 8 + 24 * (size_t)nl + 16 * (size_t)i;
        if (xlmig_get_u32(m) == MSR_ARCH_CAPS) {
            fs[16] = xlmig_get_u32(m + 8);
            fs[17] = xlmig_get_u32(m + 12);
        }
    }
    for (size_t f = 0; f < sizeof(xen_features) / sizeof(xen_features[0]);
         f++) {
        unsigned bit = xen_features[f].bit, w = bit / 32;
        size_t nlen = strlen(xen_features[f].name);
        if (w >= NWORDS || !(fs[w] >> (bit % 32) & 1))
            continue;
        if (skip && w < nskip && (skip[w] >> (bit % 32) & 1))
            continue;
        if (off + nlen + 2 > outlen)
            break;
        if (off)
            out[off++] = ' ';
        for (size_t k = 0; k < nlen; k++)
            out[off++] = (char)tolower((unsigned char)xen_features[f].name[k]);
        out[off] = '\0';
    }
}

/* Serialise @p into @buf as struct xlmig_needs holds it; the length, or
 * 0 if it does not fit. */
static uint32_t serialise(xlmig_ctx *ctx, xc_interface *xch,
                          const xc_cpu_policy_t *p, uint8_t *buf, size_t cap)
{
    uint32_t nl = 0, nm = 0;
    xen_cpuid_leaf_t *leaves = NULL;
    xen_msr_entry_t *msrs = NULL;
    size_t len = 0;

    if (xc_cpu_policy_get_size(xch, &nl, &nm)) {
        LOG_ERR(ctx, "xc_cpu_policy_get_size: %s", strerror(errno));
        return 0;
    }
    leaves = calloc(nl ? nl : 1, sizeof(*leaves));
    msrs = calloc(nm ? nm : 1, sizeof(*msrs));
    if (!leaves || !msrs)
        goto out;
    if (xc_cpu_policy_serialise(xch, p, leaves, &nl, msrs, &nm)) {
        LOG_ERR(ctx, "xc_cpu_policy_serialise: %s", strerror(errno));
        goto out;
    }
    len = 8 + (size_t)nl * 24 + (size_t)nm * 16;
    if (len > cap || nl > 1024 || nm > 1024) {
        LOG_WARN(ctx, "a CPU policy of %u leaves and %u MSRs does not fit "
                 "%zu octets", nl, nm, cap);
        len = 0;
        goto out;
    }
    xlmig_put_u32(buf, nl);
    xlmig_put_u32(buf + 4, nm);
    for (uint32_t i = 0; i < nl; i++) {
        uint8_t *l = buf + 8 + 24 * (size_t)i;
        xlmig_put_u32(l, leaves[i].leaf);
        xlmig_put_u32(l + 4, leaves[i].subleaf);
        xlmig_put_u32(l + 8, leaves[i].a);
        xlmig_put_u32(l + 12, leaves[i].b);
        xlmig_put_u32(l + 16, leaves[i].c);
        xlmig_put_u32(l + 20, leaves[i].d);
    }
    for (uint32_t i = 0; i < nm; i++) {
        uint8_t *m = buf + 8 + 24 * (size_t)nl + 16 * (size_t)i;
        xlmig_put_u32(m, msrs[i].idx);
        xlmig_put_u32(m + 4, msrs[i].flags);
        xlmig_put_u64(m + 8, msrs[i].val);
    }
out:
    free(leaves);
    free(msrs);
    return (uint32_t)len;
}

static const uint32_t *special_bits(unsigned *n)
{
    *n = xc_get_cpu_featureset_size();
    return xc_get_static_cpu_featuremask(XC_FEATUREMASK_SPECIAL);
}

int xlmig_xen_domain_cpu(xlmig_ctx *ctx, void *xchv, uint32_t domid,
                         struct xlmig_needs *n)
{
    xc_interface *xch = xchv;
    xc_cpu_policy_t *p = xc_cpu_policy_init();
    const uint32_t *skip;
    unsigned nskip;
    int rc = 0;

    if (!p)
        return XLMIG_ERR_NOMEM;
    if (xc_cpu_policy_get_domain(xch, domid, p)) {
        LOG_ERR(ctx, "xc_cpu_policy_get_domain(%u): %s", domid,
                strerror(errno));
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    n->policy_len = serialise(ctx, xch, p, n->policy, sizeof(n->policy));
    if (!n->policy_len) {
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    skip = special_bits(&nskip);
    xlmig_xen_features(n->policy, n->policy_len, skip, nskip,
                       n->cpu_features, sizeof(n->cpu_features),
                       n->cpu_vendor);
out:
    xc_cpu_policy_destroy(p);
    return rc;
}

/* Deserialise the wire's policy into a libxenguest one. */
static xc_cpu_policy_t *wire_policy(xlmig_ctx *ctx, xc_interface *xch,
                                    const uint8_t *pol, size_t len)
{
    uint32_t nl = xlmig_get_u32(pol), nm = xlmig_get_u32(pol + 4);
    xen_cpuid_leaf_t *leaves = calloc(nl ? nl : 1, sizeof(*leaves));
    xen_msr_entry_t *msrs = calloc(nm ? nm : 1, sizeof(*msrs));
    xc_cpu_policy_t *p = xc_cpu_policy_init();
    bool ok = false;

    if (!leaves || !msrs || !p || len < 8 + (size_t)nl * 24 + (size_t)nm * 16)
        goto out;
    for (uint32_t i = 0; i < nl; i++) {
        const uint8_t *l = pol + 8 + 24 * (size_t)i;
        leaves[i].leaf = xlmig_get_u32(l);
        leaves[i].subleaf = xlmig_get_u32(l + 4);
        leaves[i].a = xlmig_get_u32(l + 8);
        leaves[i].b = xlmig_get_u32(l + 12);
        leaves[i].c = xlmig_get_u32(l + 16);
        leaves[i].d = xlmig_get_u32(l + 20);
    }
    for (uint32_t i = 0; i < nm; i++) {
        const uint8_t *m = pol + 8 + 24 * (size_t)nl + 16 * (size_t)i;
        msrs[i].idx = xlmig_get_u32(m);
        msrs[i].flags = xlmig_get_u32(m + 4);
        msrs[i].val = xlmig_get_u64(m + 8);
    }
    if (xc_cpu_policy_update_cpuid(xch, p, leaves, nl)) {
        LOG_WARN(ctx, "xc_cpu_policy_update_cpuid on the domain's policy: "
                 "%s", strerror(errno));
        goto out;
    }
    if (nm && xc_cpu_policy_update_msrs(xch, p, msrs, nm)) {
        LOG_WARN(ctx, "xc_cpu_policy_update_msrs on the domain's policy: "
                 "%s", strerror(errno));
        goto out;
    }
    ok = true;
out:
    free(leaves);
    free(msrs);
    if (!ok && p) {
        xc_cpu_policy_destroy(p);
        p = NULL;
    }
    return p;
}

int xlmig_xen_host_cpu(xlmig_ctx *ctx, void *xchv,
                       const struct xlmig_needs *n, struct xlmig_offer *o)
{
    xc_interface *xch = xchv;
    bool pv = !strcmp(n->domtype, "pv");
    unsigned idx = pv ? XEN_SYSCTL_cpu_policy_pv_max :
                        XEN_SYSCTL_cpu_policy_hvm_max;
    xc_cpu_policy_t *host = xc_cpu_policy_init(), *guest = NULL;
    uint8_t *buf = malloc(XLMIG_PF_POLICY_MAX);
    const uint32_t *skip;
    unsigned nskip;
    uint32_t len;
    int rc = 0;

    if (!host || !buf) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    if (xc_cpu_policy_get_system(xch, idx, host)) {
        LOG_ERR(ctx, "xc_cpu_policy_get_system(%s max): %s", pv ? "pv" :
                "hvm", strerror(errno));
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    len = serialise(ctx, xch, host, buf, XLMIG_PF_POLICY_MAX);
    if (!len) {
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    skip = special_bits(&nskip);
    xlmig_xen_features(buf, len, skip, nskip, o->cpu_features,
                       sizeof(o->cpu_features), o->cpu_vendor);
    o->policy_ok = -1;
    if (!n->policy_len)
        goto out;
    guest = wire_policy(ctx, xch, n->policy, n->policy_len);
    if (!guest) {
        o->policy_ok = 2;
        snprintf(o->policy_why, sizeof(o->policy_why), "libxenguest "
                 "cannot load the domain's policy: Xen's own check not run");
    } else if (xc_cpu_policy_is_compatible(xch, host, guest)) {
        o->policy_ok = 1;
        snprintf(o->policy_why, sizeof(o->policy_why), "Xen's "
                 "xc_cpu_policy_is_compatible accepts it against the %s "
                 "max policy", pv ? "PV" : "HVM");
    } else {
        o->policy_ok = 0;
        snprintf(o->policy_why, sizeof(o->policy_why), "Xen's "
                 "xc_cpu_policy_is_compatible refuses it against the %s "
                 "max policy (vendor or CPUID leaf ranges)", pv ? "PV" :
                 "HVM");
    }
out:
    if (guest)
        xc_cpu_policy_destroy(guest);
    if (host)
        xc_cpu_policy_destroy(host);
    free(buf);
    return rc;
}
