/*
 * Preflight's checks: pure functions comparing what a domain needs with
 * what a destination offers, one row each (docs/preflight.md).
 */
#include "engine/preflight.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/private.h"

void xlmig_pf_failures(const struct xlmig_pf_report *r, char *buf,
                       size_t len)
{
    size_t off = 0;

    if (len)
        buf[0] = '\0';
    for (unsigned i = 0; i < r->n && off + 1 < len; i++) {
        const struct xlmig_pf_row *row = &r->rows[i];
        int w;
        if (row->verdict != XLMIG_PF_FAIL)
            continue;
        w = snprintf(buf + off, len - off, "%s%s: %s", off ? "; " : "",
                     row->check, row->reason);
        if (w < 0)
            break;
        off += (size_t)w;
    }
}

/* The CPUs of @set as a list, "0-3,6". */
static void cpulist_format(const uint64_t set[16], char *buf, size_t len)
{
    size_t off = 0;

    buf[0] = '\0';
    for (unsigned i = 0; i < 1024 && off + 1 < len;) {
        unsigned j;
        int w;
        if (!(set[i / 64] >> (i % 64) & 1)) {
            i++;
            continue;
        }
        for (j = i; j + 1 < 1024 && set[(j + 1) / 64] >> ((j + 1) % 64) & 1;)
            j++;
        w = j > i ? snprintf(buf + off, len - off, "%s%u-%u", off ? "," : "",
                             i, j)
                  : snprintf(buf + off, len - off, "%s%u", off ? "," : "", i);
        if (w < 0)
            return;
        off += (size_t)w;
        i = j + 1;
    }
}

static void size_text(uint64_t b, char *buf, size_t len)
{
    if (b >= (10ull << 30) && !(b & ((1ull << 30) - 1)))
        snprintf(buf, len, "%" PRIu64 " GiB", b >> 30);
    else if (b >= (1ull << 20))
        snprintf(buf, len, "%" PRIu64 " MiB", b >> 20);
    else
        snprintf(buf, len, "%" PRIu64 " bytes", b);
}

/* ---- the checks ---- */

static void eval_hv(const struct xlmig_needs *n, const struct xlmig_offer *o,
                    struct xlmig_pf_report *r)
{
    bool older = o->hv_major < n->hv_major ||
                 (o->hv_major == n->hv_major && o->hv_minor < n->hv_minor);

    if (older)
        xlmig_pf_add(r, XLMIG_PF_FAIL, "hypervisor", n->hv, o->hv,
                     "the destination runs an older version (%u.%u) than "
                     "the source (%u.%u); a domain moves only to the same "
                     "or a newer one", o->hv_major, o->hv_minor,
                     n->hv_major, n->hv_minor);
    else if (o->hv_major != n->hv_major || o->hv_minor != n->hv_minor)
        xlmig_pf_add(r, XLMIG_PF_PASS, "hypervisor", n->hv, o->hv,
                     "newer on the destination: supported");
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "hypervisor", n->hv, o->hv,
                     "same version");
}

static void eval_stream(const struct xlmig_needs *n,
                        const struct xlmig_offer *o,
                        struct xlmig_pf_report *r)
{
    char s[32], d[32];

    snprintf(s, sizeof(s), "writes v%u", n->stream_version);
    snprintf(d, sizeof(d), "reads v%u-v%u", o->stream_min, o->stream_max);
    if (n->stream_version < o->stream_min ||
        n->stream_version > o->stream_max)
        xlmig_pf_add(r, XLMIG_PF_FAIL, "stream", s, d, "the destination "
                     "cannot read stream version %u", n->stream_version);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "stream", s, d, "readable");
}

static unsigned count_words(const char *s)
{
    unsigned k = 0;

    for (const char *p = s; *p; p++)
        if (p == s || p[-1] == ' ')
            k++;
    return k;
}

static void eval_cpu(const struct xlmig_needs *n, const struct xlmig_offer *o,
                     struct xlmig_pf_report *r)
{
    char missing[XLMIG_PF_REASON_MAX + 1] = "", s[64], d[64];
    size_t off = 0;
    unsigned nmissing = 0;
    const char *p = n->cpu_features;

    if (!n->cpu_vendor[0])
        xlmig_pf_add(r, XLMIG_PF_WARN, "cpu.vendor", "(not recorded)",
                     o->cpu_vendor, "the CPU the domain started on was not "
                     "recorded: not compared");
    else if (strcmp(n->cpu_vendor, o->cpu_vendor))
        xlmig_pf_add(r, XLMIG_PF_FAIL, "cpu.vendor", n->cpu_vendor,
                     o->cpu_vendor, "the domain started on a %s CPU; the "
                     "destination's is %s", n->cpu_vendor[0] ?
                     n->cpu_vendor : "(unknown)", o->cpu_vendor[0] ?
                     o->cpu_vendor : "(unknown)");
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "cpu.vendor", n->cpu_vendor,
                     o->cpu_vendor, "same vendor");

    while (*p) {
        const char *e = strchr(p, ' ');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (!xlmig_pf_has_feature(o->cpu_features, p, len)) {
            int w = off + 1 < sizeof(missing) ?
                    snprintf(missing + off, sizeof(missing) - off, "%s%.*s",
                             off ? ", " : "", (int)len, p) : 0;
            if (w > 0)
                off += (size_t)w;
            nmissing++;
        }
        if (!e)
            break;
        p = e + 1;
    }
    snprintf(s, sizeof(s), "%u features", count_words(n->cpu_features));
    snprintf(d, sizeof(d), "%u offered", count_words(o->cpu_features));
    if (nmissing)
        xlmig_pf_add(r, XLMIG_PF_FAIL, "cpu.features", s, d, "%s: used by "
                     "domain, absent on destination", missing);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "cpu.features", s, d, "every "
                     "feature the domain uses is offered");

    if (o->policy_ok >= 0)
        xlmig_pf_add(r, o->policy_ok == 1 ? XLMIG_PF_PASS :
                     o->policy_ok == 2 ? XLMIG_PF_WARN : XLMIG_PF_FAIL,
                     "cpu.policy", "domain policy", "max policy",
                     "%s", o->policy_why);
}

static void eval_vcpus(const struct xlmig_needs *n,
                       const struct xlmig_offer *o,
                       struct xlmig_pf_report *r)
{
    char s[48], d[96];
    uint64_t after = (uint64_t)o->vcpus_used + o->vcpus_held + n->vcpus;

    snprintf(s, sizeof(s), "%u vCPUs", n->vcpus);
    if (o->vcpus_held)
        snprintf(d, sizeof(d), "%u pCPUs, %u vCPUs in use, %u incoming",
                 o->pcpus, o->vcpus_used, o->vcpus_held);
    else
        snprintf(d, sizeof(d), "%u pCPUs, %u vCPUs in use", o->pcpus,
                 o->vcpus_used);
    if (o->overcommit > 0 && o->pcpus &&
        (double)after > o->overcommit * o->pcpus)
        xlmig_pf_add(r, XLMIG_PF_FAIL, "vcpus", s, d, "%" PRIu64 " vCPUs "
                     "on %u pCPUs would exceed vcpu_overcommit %.2f (at most "
                     "%u)", after, o->pcpus, o->overcommit,
                     (unsigned)(o->overcommit * o->pcpus));
    else if (o->pcpus && n->vcpus > o->pcpus)
        xlmig_pf_add(r, XLMIG_PF_WARN, "vcpus", s, d, "more vCPUs than the "
                     "destination has pCPUs: they will share");
    else if (o->overcommit > 0)
        xlmig_pf_add(r, XLMIG_PF_PASS, "vcpus", s, d, "%" PRIu64 " vCPUs on "
                     "%u pCPUs, within vcpu_overcommit %.2f", after,
                     o->pcpus, o->overcommit);
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "vcpus", s, d, "%" PRIu64 " vCPUs on "
                     "%u pCPUs (no overcommit limit set)", after, o->pcpus);
}

static void eval_pool(const struct xlmig_needs *n,
                      const struct xlmig_offer *o,
                      struct xlmig_pf_report *r)
{
    const char *want = n->pool[0] ? n->pool : "(default)";
    char d[400];
    uint64_t need[16], have[16], miss[16];
    bool any = false;

    if (!o->pool_found) {
        xlmig_pf_add(r, XLMIG_PF_FAIL, "cpupool", want, "absent", "no "
                     "cpupool named %s on the destination", want);
    } else {
        snprintf(d, sizeof(d), "%s: CPUs %s", o->pool_name,
                 o->pool_cpus[0] ? o->pool_cpus : "none");
        xlmig_pf_add(r, o->pool_cpus[0] ? XLMIG_PF_PASS : XLMIG_PF_FAIL,
                     "cpupool", want, d, o->pool_cpus[0] ? "present" :
                     "the pool has no CPUs");
    }
    if (!n->pin[0]) {
        xlmig_pf_add(r, XLMIG_PF_PASS, "pinning", "none", "", "the domain "
                     "may run on any CPU");
        return;
    }
    if (!o->pool_found || xlmig_cpulist_parse(n->pin, need) ||
        xlmig_cpulist_parse(o->pool_cpus[0] ? o->pool_cpus : "", have)) {
        xlmig_pf_add(r, XLMIG_PF_FAIL, "pinning", n->pin, o->pool_found ?
                     o->pool_cpus : "no pool", "the domain is pinned and "
                     "its pool has no CPUs here");
        return;
    }
    for (int i = 0; i < 16; i++) {
        miss[i] = need[i] & ~have[i];
        any |= miss[i] != 0;
    }
    if (any) {
        char m[256];
        cpulist_format(miss, m, sizeof(m));
        xlmig_pf_add(r, XLMIG_PF_FAIL, "pinning", n->pin, o->pool_cpus,
                     "pinned to CPUs %s, not in pool %s on the destination",
                     m, o->pool_name);
    } else {
        xlmig_pf_add(r, XLMIG_PF_PASS, "pinning", n->pin, o->pool_cpus,
                     "every pinned CPU is in pool %s", o->pool_name);
    }
}

static void eval_disks(const struct xlmig_needs *n,
                       const struct xlmig_offer *o,
                       struct xlmig_pf_report *r)
{
    bool copy = n->flags & XLMIG_PF_COPY_STORAGE;

    for (unsigned i = 0; i < n->ndisks; i++) {
        const struct xlmig_pf_disk *d = &n->disks[i];
        const struct xlmig_pf_disk_offer *od = &o->disks[i];
        bool cd = d->flags & XLMIG_PF_DISK_CDROM;
        char check[XLMIG_PF_CHECK_MAX + 1], s[XLMIG_PF_VALUE_MAX + 1];
        char dv[XLMIG_PF_VALUE_MAX + 1], sz[32], osz[32];

        snprintf(check, sizeof(check), "%s %s", cd ? "media" : "disk",
                 d->vdev);
        if (d->flags & XLMIG_PF_DISK_EMPTY) {
            xlmig_pf_add(r, XLMIG_PF_PASS, check, "(empty drive)", "",
                         "no media to find");
            continue;
        }
        if (d->flags & XLMIG_PF_DISK_UNSIZED)
            snprintf(sz, sizeof(sz), "size unknown");
        else
            size_text(d->size, sz, sizeof(sz));
        snprintf(s, sizeof(s), "%.200s (%s)", d->target, sz);
        if (d->flags & XLMIG_PF_DISK_OPAQUE) {
            xlmig_pf_add(r, XLMIG_PF_WARN, check, s, "not checked",
                         "reached through a script or the network: the "
                         "destination's backend finds it when it attaches");
            continue;
        }
        if (copy && !cd && !(d->flags & XLMIG_PF_DISK_RO)) {
            if (od->err == 0) {
                xlmig_pf_add(r, XLMIG_PF_FAIL, check, s, "exists",
                             "a copy would overwrite %s, which the "
                             "destination already has", d->target);
                continue;
            }
            size_text(od->space, osz, sizeof(osz));
            snprintf(dv, sizeof(dv), "%s free", osz);
            if (d->flags & XLMIG_PF_DISK_UNSIZED)
                xlmig_pf_add(r, XLMIG_PF_WARN, check, s, dv, "the source "
                             "cannot read the disk's size: room for a copy "
                             "not checked");
            else if (od->space < d->size)
                xlmig_pf_add(r, XLMIG_PF_FAIL, check, s, dv, "no room for "
                             "a copy: %s needed, %s free", sz, osz);
            else
                xlmig_pf_add(r, XLMIG_PF_PASS, check, s, dv, "room for a "
                             "copy");
            continue;
        }
        if (od->err) {
            xlmig_pf_add(r, XLMIG_PF_FAIL, check, s, "missing", "%s is not "
                         "reachable on the destination: %s", d->target,
                         strerror(od->err));
            continue;
        }
        size_text(od->size, osz, sizeof(osz));
        snprintf(dv, sizeof(dv), "present (%s)", osz);
        if (d->flags & XLMIG_PF_DISK_UNSIZED)
            xlmig_pf_add(r, XLMIG_PF_WARN, check, s, dv, "present; the "
                         "source cannot read the size of %s, so whether it "
                         "is the same storage is not checked", d->target);
        else if (od->size != d->size)
            xlmig_pf_add(r, XLMIG_PF_FAIL, check, s, dv, "%s is %" PRIu64
                         " bytes here and %" PRIu64 " there: not the same "
                         "storage", d->target, d->size, od->size);
        else
            xlmig_pf_add(r, XLMIG_PF_PASS, check, s, dv, cd ?
                         "media present" : "same size: shared storage");
    }
}

static void eval_nics(const struct xlmig_needs *n,
                      const struct xlmig_offer *o,
                      struct xlmig_pf_report *r)
{
    for (unsigned i = 0; i < n->nnics; i++) {
        const struct xlmig_pf_nic *ni = &n->nics[i];
        const struct xlmig_pf_nic_offer *on = &o->nics[i];
        char check[XLMIG_PF_CHECK_MAX + 1], mac[18];

        snprintf(check, sizeof(check), "vif%u.bridge", i);
        if (!ni->bridge[0])
            xlmig_pf_add(r, XLMIG_PF_PASS, check, "(none)", "", "not "
                         "bridged");
        else if (!on->bridge)
            xlmig_pf_add(r, XLMIG_PF_FAIL, check, ni->bridge, "absent",
                         "bridge %s does not exist on the destination",
                         ni->bridge);
        else if (!on->up)
            xlmig_pf_add(r, XLMIG_PF_FAIL, check, ni->bridge, "down",
                         "bridge %s is down on the destination", ni->bridge);
        else
            xlmig_pf_add(r, XLMIG_PF_PASS, check, ni->bridge, "present",
                         "bridge exists and is up");
        if (ni->bridge[0] && on->bridge) {
            char s[16], d[16];
            snprintf(check, sizeof(check), "vif%u.mtu", i);
            snprintf(s, sizeof(s), "%u", ni->mtu);
            snprintf(d, sizeof(d), "%u", on->mtu);
            if (ni->mtu && on->mtu < ni->mtu)
                xlmig_pf_add(r, XLMIG_PF_FAIL, check, s, d, "bridge %s has "
                             "MTU %u here, %u on the source: the guest's "
                             "larger frames would be dropped", ni->bridge,
                             on->mtu, ni->mtu);
            else if (ni->mtu && on->mtu > ni->mtu)
                xlmig_pf_add(r, XLMIG_PF_WARN, check, s, d, "bridge %s has "
                             "MTU %u here, %u on the source", ni->bridge,
                             on->mtu, ni->mtu);
            else
                xlmig_pf_add(r, XLMIG_PF_PASS, check, ni->mtu ? s : "?", d,
                             ni->mtu ? "MTU equal" : "MTU not known at the "
                             "source");
            snprintf(check, sizeof(check), "vif%u.stp", i);
            snprintf(d, sizeof(d), "%u.%02u s", on->forward_delay_cs / 100,
                     on->forward_delay_cs % 100);
            if (on->stp && on->forward_delay_cs)
                xlmig_pf_add(r, XLMIG_PF_WARN, check, "", d, "STP is on for "
                             "bridge %s here: a new port listens and learns "
                             "for 2 x %s before it forwards, and the domain "
                             "is unreachable that long after it resumes",
                             ni->bridge, d);
            else
                xlmig_pf_add(r, XLMIG_PF_PASS, check, "", on->stp ? d : "off",
                             "a new port forwards at once");
        }
        snprintf(check, sizeof(check), "vif%u.mac", i);
        xlmig_mac_format(ni->mac, mac);
        if (on->mac_user[0])
            xlmig_pf_add(r, XLMIG_PF_FAIL, check, mac, on->mac_user,
                         "MAC %s is in use on the destination by %s", mac,
                         on->mac_user);
        else if (ni->flags & XLMIG_PF_NIC_MAC_AUTO)
            xlmig_pf_add(r, XLMIG_PF_WARN, check, mac, "unused",
                         "MAC %s was generated when the domain was made, "
                         "not fixed in its configuration: it moves with "
                         "the domain, but a fresh start of the same "
                         "configuration gets another", mac);
        else
            xlmig_pf_add(r, XLMIG_PF_PASS, check, mac, "unused",
                         "MAC free");
    }
}

static void eval_devices(const struct xlmig_needs *n,
                         struct xlmig_pf_report *r)
{
    if (n->nomigrate)
        xlmig_pf_add(r, XLMIG_PF_FAIL, "nomigrate", "set", "",
                     "the domain is marked not to migrate "
                     "(disable_migrate)");
    else
        xlmig_pf_add(r, XLMIG_PF_PASS, "nomigrate", "not set", "",
                     "migration allowed");
    if (!n->npci)
        xlmig_pf_add(r, XLMIG_PF_PASS, "pci", "none", "", "no passthrough "
                     "devices");
    for (unsigned i = 0; i < n->npci; i++)
        xlmig_pf_add(r, XLMIG_PF_FAIL, "pci", n->pci[i], "", "PCI "
                     "passthrough device %s cannot migrate: detach it "
                     "first", n->pci[i]);
}

void xlmig_pf_eval(const struct xlmig_needs *n, const struct xlmig_offer *o,
                   struct xlmig_pf_report *r)
{
    eval_hv(n, o, r);
    eval_stream(n, o, r);
    eval_cpu(n, o, r);
    eval_vcpus(n, o, r);
    eval_pool(n, o, r);
    eval_disks(n, o, r);
    eval_nics(n, o, r);
    eval_devices(n, r);
}
