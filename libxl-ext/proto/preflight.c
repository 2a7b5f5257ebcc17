/*
 * Preflight's two wire encodings (docs/specs/protocol.md): what a domain
 * needs of a host, as the source sends it in PREFLIGHT, and the
 * destination's report, one row per check, in PREFLIGHT_REPORT.  Both
 * are read as hostile input (tests/fuzz/fuzz_preflight.c).
 */
#include "proto/preflight.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cursor.h"
#include "core/private.h"
const char *xlmig_pf_verdict_name(enum xlmig_pf_verdict v)
{
    switch (v) {
    case XLMIG_PF_PASS: return "pass";
    case XLMIG_PF_WARN: return "warn";
    case XLMIG_PF_FAIL: return "FAIL";
    }
    return "?";
}

void xlmig_pf_report_init(struct xlmig_pf_report *r)
{
    r->n = 0;
    r->failed = 0;
    r->warned = 0;
    r->truncated = false;
}

static void row_count(struct xlmig_pf_report *r, enum xlmig_pf_verdict v)
{
    if (v == XLMIG_PF_FAIL)
        r->failed++;
    else if (v == XLMIG_PF_WARN)
        r->warned++;
}

void xlmig_pf_add(struct xlmig_pf_report *r, enum xlmig_pf_verdict v,
                  const char *check, const char *src, const char *dst,
                  const char *fmt, ...)
{
    struct xlmig_pf_row *row;
    va_list ap;

    if (r->n == XLMIG_PF_ROWS_MAX) {
        /* A failure past the end still refuses: the last row says so
         * (the counts stay those of the rows there are). */
        r->truncated = true;
        row = &r->rows[r->n - 1];
        if (v == XLMIG_PF_FAIL && row->verdict != XLMIG_PF_FAIL) {
            if (row->verdict == XLMIG_PF_WARN)
                r->warned--;
            row_count(r, XLMIG_PF_FAIL);
            row->verdict = XLMIG_PF_FAIL;
            snprintf(row->reason, sizeof(row->reason), "more checks than "
                     "a report holds; one of those left out failed");
        }
        return;
    }
    row_count(r, v);
    row = &r->rows[r->n++];
    row->verdict = v;
    snprintf(row->check, sizeof(row->check), "%s", check);
    snprintf(row->src, sizeof(row->src), "%s", src ? src : "");
    snprintf(row->dst, sizeof(row->dst), "%s", dst ? dst : "");
    va_start(ap, fmt);
    vsnprintf(row->reason, sizeof(row->reason), fmt, ap);
    va_end(ap);
}

/* ---- small parsers and formatters ---- */

int xlmig_cpulist_parse(const char *s, uint64_t set[16])
{
    memset(set, 0, 16 * sizeof(uint64_t));
    if (!*s)
        return -1;
    while (*s) {
        char *end;
        unsigned long a, b;
        if (*s < '0' || *s > '9')
            return -1;
        errno = 0;
        a = strtoul(s, &end, 10);
        b = a;
        if (errno || a >= 1024)
            return -1;
        if (*end == '-') {
            s = end + 1;
            if (*s < '0' || *s > '9')
                return -1;
            b = strtoul(s, &end, 10);
            if (errno || b >= 1024 || b < a)
                return -1;
        }
        for (unsigned long i = a; i <= b; i++)
            set[i / 64] |= 1ull << (i % 64);
        if (*end == ',' && end[1])
            end++;
        else if (*end)
            return -1;
        s = end;
    }
    return 0;
}

bool xlmig_pf_has_feature(const char *list, const char *name, size_t len)
{
    const char *p = list;

    while (*p) {
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == len && !memcmp(p, name, len))
            return true;
        if (!e)
            break;
        p = e + 1;
    }
    return false;
}

int xlmig_mac_parse(const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;

    if (strlen(s) != 17 ||
        sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
               &v[4], &v[5], &tail) != 6)
        return -1;
    for (int i = 0; i < 6; i++) {
        if (!strchr("0123456789abcdefABCDEF", s[3 * i]) ||
            !strchr("0123456789abcdefABCDEF", s[3 * i + 1]) ||
            (i < 5 && s[3 * i + 2] != ':'))
            return -1;
        mac[i] = (uint8_t)v[i];
    }
    return 0;
}

void xlmig_mac_format(const uint8_t mac[6], char out[18])
{
    snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1],
             mac[2], mac[3], mac[4], mac[5]);
}

/* ---- needs: encoding ---- */

enum {
    N_HV = 0x01,
    N_DOMTYPE = 0x02,
    N_CPU_VENDOR = 0x03,
    N_CPU_FEATURES = 0x04,
    N_CPU_POLICY = 0x05,
    N_MEMORY = 0x06,
    N_VCPUS = 0x07,
    N_POOL = 0x08,
    N_PIN = 0x09,
    N_DISK = 0x0a,
    N_NIC = 0x0b,
    N_PCI = 0x0c,
    N_NOMIGRATE = 0x0d,
    N_STREAM = 0x0e,
    N_NIC_NET = 0x8000000f,     /* optional: {index, MTU, flags} of a NIC */
};
#define N_OPTIONAL 0x80000000u

struct enc {
    uint8_t *b;
    size_t cap, off;
    bool bad;
};

static uint8_t *item(struct enc *e, uint32_t type, size_t len)
{
    uint8_t *p;

    if (e->bad || len > UINT32_MAX || e->cap - e->off < 8 + len) {
        e->bad = true;
        return NULL;
    }
    xlmig_put_u32(e->b + e->off, type);
    xlmig_put_u32(e->b + e->off + 4, (uint32_t)len);
    p = e->b + e->off + 8;
    e->off += 8 + len;
    return p;
}

static void item_text(struct enc *e, uint32_t type, const char *s)
{
    size_t n = strlen(s);
    uint8_t *p = item(e, type, n);

    if (p)
        memcpy(p, s, n);
}

long xlmig_needs_encode(const struct xlmig_needs *n, uint8_t *buf,
                        size_t cap)
{
    struct enc e = { buf, cap < XLMIG_PF_NEEDS_MAX ? cap : XLMIG_PF_NEEDS_MAX,
                     0, false };
    uint8_t *p;

    p = item(&e, N_HV, 8 + strlen(n->hv));
    if (p) {
        xlmig_put_u32(p, n->hv_major);
        xlmig_put_u32(p + 4, n->hv_minor);
        memcpy(p + 8, n->hv, strlen(n->hv));
    }
    if ((p = item(&e, N_STREAM, 4)))
        xlmig_put_u32(p, n->stream_version);
    item_text(&e, N_DOMTYPE, n->domtype);
    item_text(&e, N_CPU_VENDOR, n->cpu_vendor);
    item_text(&e, N_CPU_FEATURES, n->cpu_features);
    if (n->policy_len && (p = item(&e, N_CPU_POLICY, n->policy_len)))
        memcpy(p, n->policy, n->policy_len);
    if ((p = item(&e, N_MEMORY, 8)))
        xlmig_put_u64(p, n->memory);
    if ((p = item(&e, N_VCPUS, 4)))
        xlmig_put_u32(p, n->vcpus);
    if (n->pool[0])
        item_text(&e, N_POOL, n->pool);
    if (n->pin[0])
        item_text(&e, N_PIN, n->pin);
    for (unsigned i = 0; i < n->ndisks && i < XLMIG_PF_DISKS_MAX; i++) {
        const struct xlmig_pf_disk *d = &n->disks[i];
        size_t vl = strlen(d->vdev), tl = strlen(d->target);
        if ((p = item(&e, N_DISK, 16 + vl + tl))) {
            xlmig_put_u64(p, d->size);
            xlmig_put_u32(p + 8, d->flags);
            xlmig_put_u32(p + 12, (uint32_t)vl);
            memcpy(p + 16, d->vdev, vl);
            memcpy(p + 16 + vl, d->target, tl);
        }
    }
    for (unsigned i = 0; i < n->nnics && i < XLMIG_PF_NICS_MAX; i++) {
        size_t bl = strlen(n->nics[i].bridge);
        if ((p = item(&e, N_NIC, 8 + bl))) {
            memcpy(p, n->nics[i].mac, 6);
            p[6] = p[7] = 0;
            memcpy(p + 8, n->nics[i].bridge, bl);
        }
        if ((n->nics[i].mtu || n->nics[i].flags) &&
            (p = item(&e, N_NIC_NET, 12))) {
            xlmig_put_u32(p, i);
            xlmig_put_u32(p + 4, n->nics[i].mtu);
            xlmig_put_u32(p + 8, n->nics[i].flags);
        }
    }
    for (unsigned i = 0; i < n->npci && i < XLMIG_PF_PCI_MAX; i++)
        item_text(&e, N_PCI, n->pci[i]);
    if (n->nomigrate)
        item(&e, N_NOMIGRATE, 0);
    return e.bad ? -1 : (long)e.off;
}

/* ---- needs: decoding ---- */

#define why_set(why, len, ...) \
    xlmig_why((why), (len), XLMIG_ERR_STREAM, __VA_ARGS__)

/* @len octets of printable ASCII (0x20..0x7e) into @out (@cap with NUL),
 * or false.  @spaces: may it hold spaces. */
static bool get_text(const uint8_t *p, size_t len, char *out, size_t cap,
                     bool spaces)
{
    if (len >= cap)
        return false;
    for (size_t i = 0; i < len; i++)
        if (p[i] < 0x20 + !spaces || p[i] > 0x7e)
            return false;
    memcpy(out, p, len);
    out[len] = '\0';
    return true;
}

/* Feature names: [a-z0-9_.]+, one space between, no space at either end. */
bool xlmig_pf_features_valid(const char *s)
{
    bool word = false;

    for (; *s; s++) {
        if (*s == ' ') {
            if (!word || !s[1])
                return false;
            word = false;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                   *s == '_' || *s == '.') {
            word = true;
        } else {
            return false;
        }
    }
    return true;
}

int xlmig_needs_decode(const uint8_t *b, size_t len, struct xlmig_needs *n,
                       char *why, size_t whylen)
{
    struct xlmig_cursor c;
    uint32_t seen = 0;

    memset(n, 0, sizeof(*n));
    if (len > XLMIG_PF_NEEDS_MAX)
        return why_set(why, whylen, "needs: %zu octets, at most %u", len,
                       XLMIG_PF_NEEDS_MAX);
    xlmig_cursor_init(&c, b, len);
    while (xlmig_cursor_left(&c)) {
        uint32_t type = xlmig_cursor_u32(&c);
        uint32_t ilen = xlmig_cursor_u32(&c);
        const uint8_t *p = xlmig_cursor_take(&c, ilen);
        uint32_t base = type & ~N_OPTIONAL;
        bool ok = true;

        if (!p)
            return why_set(why, whylen, "needs: item 0x%x runs past the "
                           "end (%u octets)", type, ilen);
        if (type == base && base >= 1 && base <= N_STREAM) {
            bool many = base == N_DISK || base == N_NIC || base == N_PCI;
            if (!many && (seen & (1u << base)))
                return why_set(why, whylen, "needs: item 0x%x twice", base);
            seen |= 1u << base;
        }
        switch (type) {
        case N_HV:
            ok = ilen >= 8 && get_text(p + 8, ilen - 8, n->hv,
                                       sizeof(n->hv), true);
            if (ok) {
                n->hv_major = xlmig_get_u32(p);
                n->hv_minor = xlmig_get_u32(p + 4);
            }
            break;
        case N_STREAM:
            ok = ilen == 4;
            if (ok)
                n->stream_version = xlmig_get_u32(p);
            break;
        case N_DOMTYPE:
            ok = ilen >= 1 && get_text(p, ilen, n->domtype,
                                       sizeof(n->domtype), false) &&
                 (!strcmp(n->domtype, "pv") || !strcmp(n->domtype, "pvh") ||
                  !strcmp(n->domtype, "hvm") || !strcmp(n->domtype, "sim"));
            break;
        case N_CPU_VENDOR:
            ok = get_text(p, ilen, n->cpu_vendor, sizeof(n->cpu_vendor),
                          false);
            break;
        case N_CPU_FEATURES:
            ok = get_text(p, ilen, n->cpu_features,
                          sizeof(n->cpu_features), true) &&
                 xlmig_pf_features_valid(n->cpu_features);
            break;
        case N_CPU_POLICY: {
            uint32_t nl, nm;
            ok = ilen >= 8 && ilen <= sizeof(n->policy);
            if (!ok)
                break;
            nl = xlmig_get_u32(p);
            nm = xlmig_get_u32(p + 4);
            ok = nl <= 1024 && nm <= 1024 &&
                 (uint64_t)nl * 24 + (uint64_t)nm * 16 + 8 == ilen;
            if (ok) {
                memcpy(n->policy, p, ilen);
                n->policy_len = ilen;
            }
            break;
        }
        case N_MEMORY:
            ok = ilen == 8;
            if (ok)
                n->memory = xlmig_get_u64(p);
            break;
        case N_VCPUS:
            ok = ilen == 4 && xlmig_get_u32(p) >= 1 &&
                 xlmig_get_u32(p) <= 4096;
            if (ok)
                n->vcpus = xlmig_get_u32(p);
            break;
        case N_POOL:
            ok = ilen >= 1 && get_text(p, ilen, n->pool, sizeof(n->pool),
                                       false);
            break;
        case N_PIN: {
            uint64_t set[16];
            ok = ilen >= 1 && get_text(p, ilen, n->pin, sizeof(n->pin),
                                       false) &&
                 !xlmig_cpulist_parse(n->pin, set);
            break;
        }
        case N_DISK: {
            struct xlmig_pf_disk *d;
            uint32_t vl;
            if (n->ndisks == XLMIG_PF_DISKS_MAX)
                return why_set(why, whylen, "needs: more than %d disks",
                               XLMIG_PF_DISKS_MAX);
            d = &n->disks[n->ndisks];
            ok = ilen >= 16;
            if (!ok)
                break;
            vl = xlmig_get_u32(p + 12);
            ok = vl >= 1 && vl <= ilen - 16 &&
                 get_text(p + 16, vl, d->vdev, sizeof(d->vdev), false) &&
                 get_text(p + 16 + vl, ilen - 16 - vl, d->target,
                          sizeof(d->target), true) &&
                 !(xlmig_get_u32(p + 8) & ~(uint32_t)XLMIG_PF_DISK_KNOWN);
            if (ok) {
                d->size = xlmig_get_u64(p);
                d->flags = xlmig_get_u32(p + 8);
                /* A target that is not a path must say so. */
                ok = (d->flags & (XLMIG_PF_DISK_OPAQUE |
                                  XLMIG_PF_DISK_EMPTY)) ||
                     d->target[0] == '/';
                n->ndisks++;
            }
            break;
        }
        case N_NIC: {
            struct xlmig_pf_nic *ni;
            if (n->nnics == XLMIG_PF_NICS_MAX)
                return why_set(why, whylen, "needs: more than %d vifs",
                               XLMIG_PF_NICS_MAX);
            ni = &n->nics[n->nnics];
            ok = ilen >= 8 && get_text(p + 8, ilen - 8, ni->bridge,
                                       sizeof(ni->bridge), false) &&
                 !strchr(ni->bridge, '/');
            if (ok) {
                memcpy(ni->mac, p, 6);
                n->nnics++;
            }
            break;
        }
        case N_PCI:
            if (n->npci == XLMIG_PF_PCI_MAX)
                return why_set(why, whylen, "needs: more than %d PCI "
                               "devices", XLMIG_PF_PCI_MAX);
            ok = ilen >= 1 && get_text(p, ilen, n->pci[n->npci],
                                       sizeof(n->pci[0]), false);
            if (ok)
                n->npci++;
            break;
        case N_NOMIGRATE:
            ok = ilen == 0;
            n->nomigrate = true;
            break;
        case N_NIC_NET: {
            uint32_t k;
            /* After its NIC, about it; unknown flags refused. */
            ok = ilen == 12 && (k = xlmig_get_u32(p)) < n->nnics &&
                 !(xlmig_get_u32(p + 8) & ~(uint32_t)XLMIG_PF_NIC_MAC_AUTO) &&
                 xlmig_get_u32(p + 4) <= 65536;
            if (ok) {
                n->nics[k].mtu = xlmig_get_u32(p + 4);
                n->nics[k].flags = xlmig_get_u32(p + 8);
            }
            break;
        }
        default:
            if (type & N_OPTIONAL)
                continue;
            return why_set(why, whylen, "needs: unknown item 0x%x (from a "
                           "newer xlmig?)", type);
        }
        if (!ok)
            return why_set(why, whylen, "needs: item 0x%x (%u octets) is "
                           "malformed", type, ilen);
    }
    if (!(seen & (1u << N_HV)) || !(seen & (1u << N_STREAM)) ||
        !(seen & (1u << N_MEMORY)) || !(seen & (1u << N_VCPUS)) ||
        !(seen & (1u << N_DOMTYPE)))
        return why_set(why, whylen, "needs: hypervisor, stream, type, "
                       "memory and vCPUs are required");
    return 0;
}

/* ---- PREFLIGHT_REPORT ---- */

long xlmig_pf_report_encode(const struct xlmig_pf_report *r, uint8_t *buf,
                            size_t cap)
{
    size_t off = 8;

    if (cap < 8)
        return -1;
    xlmig_put_u32(buf, r->n);
    xlmig_put_u32(buf + 4, 0);
    for (unsigned i = 0; i < r->n; i++) {
        const struct xlmig_pf_row *row = &r->rows[i];
        const char *f[4] = { row->check, row->src, row->dst, row->reason };
        size_t l[4], need = 12;
        for (int k = 0; k < 4; k++) {
            l[k] = strlen(f[k]);
            need += l[k];
        }
        if (cap - off < need)
            return -1;
        xlmig_put_u32(buf + off, row->verdict);
        for (int k = 0; k < 4; k++) {
            buf[off + 4 + 2 * k] = (uint8_t)l[k];
            buf[off + 5 + 2 * k] = (uint8_t)(l[k] >> 8);
        }
        off += 12;
        for (int k = 0; k < 4; k++) {
            memcpy(buf + off, f[k], l[k]);
            off += l[k];
        }
    }
    return (long)off;
}

int xlmig_pf_report_decode(const uint8_t *b, size_t len,
                           struct xlmig_pf_report *r, char *why,
                           size_t whylen)
{
    struct xlmig_cursor c;
    uint32_t n;

    xlmig_pf_report_init(r);
    xlmig_cursor_init(&c, b, len);
    n = xlmig_cursor_u32(&c);
    (void)xlmig_cursor_u32(&c);
    if (c.bad)
        return why_set(why, whylen, "report: %zu octets, at least 8", len);
    if (n > XLMIG_PF_ROWS_MAX)
        return why_set(why, whylen, "report: %u rows, at most %d", n,
                       XLMIG_PF_ROWS_MAX);
    for (uint32_t i = 0; i < n; i++) {
        struct xlmig_pf_row *row = &r->rows[i];
        char *f[4] = { row->check, row->src, row->dst, row->reason };
        const size_t cap[4] = { sizeof(row->check), sizeof(row->src),
                                sizeof(row->dst), sizeof(row->reason) };
        uint32_t v = xlmig_cursor_u32(&c);
        const uint8_t *lens = xlmig_cursor_take(&c, 8);

        memset(row, 0, sizeof(*row));
        if (!lens)
            return why_set(why, whylen, "report: row %u is cut short", i);
        if (v > XLMIG_PF_FAIL)
            return why_set(why, whylen, "report: row %u has verdict %u", i,
                           v);
        row->verdict = (enum xlmig_pf_verdict)v;
        for (int k = 0; k < 4; k++) {
            size_t l = (size_t)lens[2 * k] | (size_t)lens[2 * k + 1] << 8;
            const uint8_t *p = xlmig_cursor_take(&c, l);
            if (!p || !get_text(p, l, f[k], cap[k], true) ||
                (k == 0 && !l))
                return why_set(why, whylen, "report: row %u, field %d is "
                               "malformed", i, k);
        }
        r->n++;
        row_count(r, row->verdict);
    }
    if (xlmig_cursor_left(&c))
        return why_set(why, whylen, "report: %zu octets after the last row",
                       xlmig_cursor_left(&c));
    return 0;
}
