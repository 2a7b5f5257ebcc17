#include "backend/sim/sim_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/preflight.h"
#include "core/private.h"
#include "backend/sim/sim_layout.h"

const char *sim_pattern_name(enum sim_pattern p)
{
    switch (p) {
    case SIM_PATTERN_UNIFORM: return "uniform";
    case SIM_PATTERN_HOTSET: return "hotset";
    case SIM_PATTERN_SEQUENTIAL: return "sequential";
    }
    return "unknown";
}

int sim_pattern_parse(const char *s, enum sim_pattern *p)
{
    if (!strcmp(s, "uniform"))
        *p = SIM_PATTERN_UNIFORM;
    else if (!strcmp(s, "hotset"))
        *p = SIM_PATTERN_HOTSET;
    else if (!strcmp(s, "sequential"))
        *p = SIM_PATTERN_SEQUENTIAL;
    else
        return XLMIG_ERR_INVAL;
    return 0;
}

int sim_name_valid(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n >= XLMIG_NAME_MAX || s[0] == '-' || s[0] == '.')
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
              (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
              *s == '.'))
            return 0;
    return 1;
}

int sim_parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;
    int shift = 0;

    if (!*s || *s == '-')
        return XLMIG_ERR_INVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s)
        return XLMIG_ERR_INVAL;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return XLMIG_ERR_INVAL;
    }
    if (*end == 'i' || *end == 'B')
        end += *end == 'i' && end[1] == 'B' ? 2 : 1;
    if (*end)
        return XLMIG_ERR_INVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return XLMIG_ERR_INVAL;
    *out = (uint64_t)v << shift;
    return 0;
}

int sim_uuid_parse(const char *s, uint8_t uuid[16])
{
    static const int dash[] = { 8, 13, 18, 23 };
    int j = 0;

    if (strlen(s) != 36)
        return XLMIG_ERR_INVAL;
    for (int i = 0, d = 0; i < 36;) {
        if (d < 4 && i == dash[d]) {
            if (s[i] != '-')
                return XLMIG_ERR_INVAL;
            i++;
            d++;
            continue;
        }
        unsigned v;
        if (sscanf(s + i, "%2x", &v) != 1 ||
            !strchr("0123456789abcdefABCDEF", s[i]) ||
            !strchr("0123456789abcdefABCDEF", s[i + 1]))
            return XLMIG_ERR_INVAL;
        uuid[j++] = (uint8_t)v;
        i += 2;
    }
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (!*s || *s == '-' || *s == '+' || *s == ' ')
        return XLMIG_ERR_INVAL;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || *end)
        return XLMIG_ERR_INVAL;
    *out = v;
    return 0;
}

static bool spec_word(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

int sim_disk_parse(const char *s, struct sim_disk *d, char *why,
                   size_t whylen)
{
    char buf[400], *f[4], *p, *colon;
    int nf = 0;

    memset(d, 0, sizeof(*d));
    if (strlen(s) >= sizeof(buf)) {
        snprintf(why, whylen, "disk spec longer than %zu", sizeof(buf) - 1);
        return XLMIG_ERR_INVAL;
    }
    strcpy(buf, s);
    for (p = buf; nf < 4; nf++) {
        f[nf] = p;
        p = strchr(p, ',');
        if (!p) {
            nf++;
            break;
        }
        *p++ = '\0';
    }
    if (nf != 4 || p) {
        snprintf(why, whylen, "disk \"%.60s\": expected TARGET,FORMAT,VDEV,"
                 "ACCESS", s);
        return XLMIG_ERR_INVAL;
    }
    colon = strchr(f[2], ':');
    if (colon) {
        *colon = '\0';
        if (strcmp(colon + 1, "cdrom")) {
            snprintf(why, whylen, "disk \"%.60s\": a device type after "
                     "VDEV must be :cdrom", s);
            return XLMIG_ERR_INVAL;
        }
        d->cdrom = 1;
    }
    if (!spec_word(f[2], sizeof(d->vdev) - 1) ||
        !spec_word(f[1], sizeof(d->format) - 1)) {
        snprintf(why, whylen, "disk \"%.60s\": FORMAT and VDEV are "
                 "[a-z0-9]+", s);
        return XLMIG_ERR_INVAL;
    }
    if (!strcmp(f[3], "r") || !strcmp(f[3], "ro"))
        d->ro = 1;
    else if (strcmp(f[3], "w") && strcmp(f[3], "rw")) {
        snprintf(why, whylen, "disk \"%.60s\": ACCESS is r, ro, w or rw", s);
        return XLMIG_ERR_INVAL;
    }
    if (f[0][0] ? f[0][0] != '/' || strlen(f[0]) >= sizeof(d->target) :
                  !d->cdrom) {
        snprintf(why, whylen, "disk \"%.60s\": TARGET must be an absolute "
                 "path (empty only for a cdrom)", s);
        return XLMIG_ERR_INVAL;
    }
    for (const char *c = f[0]; *c; c++)
        if (*c < 0x21 || *c > 0x7e) {
            snprintf(why, whylen, "disk \"%.60s\": TARGET has a space or "
                     "control character", s);
            return XLMIG_ERR_INVAL;
        }
    strcpy(d->target, f[0]);
    strcpy(d->format, f[1]);
    strcpy(d->vdev, f[2]);
    return 0;
}

/* Append to @buf at *@off; false once it does not fit. */
static bool put(char *buf, size_t len, size_t *off, const char *fmt, ...)
    XLMIG_PRINTF(4, 5);
static bool put(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (*off >= len)
        return false;
    va_start(ap, fmt);
    n = vsnprintf(buf + *off, len - *off, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= len - *off) {
        *off = len;
        return false;
    }
    *off += (size_t)n;
    return true;
}

int sim_vif_parse(const char *s, bool no_mac, struct sim_vif *v, char *why,
                  size_t whylen)
{
    char buf[512], *p, *save = NULL;   /* more than the longest format */
    bool mac = false;

    memset(v, 0, sizeof(*v));
    if (strlen(s) >= sizeof(buf)) {
        snprintf(why, whylen, "vif spec longer than %zu", sizeof(buf) - 1);
        return XLMIG_ERR_INVAL;
    }
    strcpy(buf, s);
    for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (!strncmp(p, "mac=", 4) && !mac) {
            if (xlmig_mac_parse(p + 4, v->mac) ||
                (v->mac[0] & 1) || !memcmp(v->mac, "\0\0\0\0\0\0", 6))
                goto bad;
            mac = true;
        } else if (!strcmp(p, "auto-mac") && !v->mac_auto) {
            v->mac_auto = 1;
        } else if (!strncmp(p, "bridge=", 7) && !v->bridge[0]) {
            const char *b = p + 7;
            if (!*b || strlen(b) >= sizeof(v->bridge) || strchr(b, '/') ||
                b[0] == '.')
                goto bad;
            for (const char *c = b; *c; c++)
                if (*c < 0x21 || *c > 0x7e)
                    goto bad;
            strcpy(v->bridge, b);
        } else if (!strncmp(p, "ip=", 3)) {
            uint8_t a[16];
            if (inet_pton(AF_INET, p + 3, a) == 1) {
                if (v->nip4 == SIM_VIF_IPS)
                    goto many;
                memcpy(v->ip4[v->nip4++], a, 4);
            } else if (inet_pton(AF_INET6, p + 3, a) == 1) {
                if (v->nip6 == SIM_VIF_IPS)
                    goto many;
                memcpy(v->ip6[v->nip6++], a, 16);
            } else {
                snprintf(why, whylen, "vif \"%.60s\": \"%.50s\" is not an "
                         "IPv4 or IPv6 address", s, p + 3);
                return XLMIG_ERR_INVAL;
            }
        } else {
            goto bad;
        }
    }
    if (!mac) {
        if (!no_mac)
            goto bad;
        v->mac_auto = 1;
    }
    return 0;
many:
    snprintf(why, whylen, "vif \"%.60s\": more than %d IPv4 or %d IPv6 "
             "addresses", s, SIM_VIF_IPS, SIM_VIF_IPS);
    return XLMIG_ERR_INVAL;
bad:
    snprintf(why, whylen, "vif \"%.60s\": expected mac=XX:XX:XX:XX:XX:XX"
             "[,auto-mac][,bridge=NAME][,ip=ADDR]... (a unicast MAC)", s);
    return XLMIG_ERR_INVAL;
}

/* The vif spec sim_vif_parse() reads back, into @buf. */
int sim_vif_format(const struct sim_vif *v, char *buf, size_t len)
{
    char mac[18], a[INET6_ADDRSTRLEN];
    size_t off = 0;

    xlmig_mac_format(v->mac, mac);
    put(buf, len, &off, "mac=%s", mac);
    if (v->mac_auto)
        put(buf, len, &off, ",auto-mac");
    if (v->bridge[0])
        put(buf, len, &off, ",bridge=%s", v->bridge);
    for (unsigned i = 0; i < v->nip4; i++)
        put(buf, len, &off, ",ip=%s",
            inet_ntop(AF_INET, v->ip4[i], a, sizeof(a)));
    for (unsigned i = 0; i < v->nip6; i++)
        put(buf, len, &off, ",ip=%s",
            inet_ntop(AF_INET6, v->ip6[i], a, sizeof(a)));
    return off < len ? (int)off : -1;
}

enum { K_NAME, K_UUID, K_PAGES, K_VCPUS, K_RATE, K_PATTERN, K_HOT, K_SEED,
       K_REQUIRED, K_VENDOR = K_REQUIRED, K_FEATURES, K_POOL, K_CPUS,
       K_DISK, K_VIF, K_PCI, K_NOMIGRATE, K_DISK_RATE, K_DISK_READ_RATE,
       K_COUNT };
static const char *const keys[K_COUNT] = {
    "name", "uuid", "memory_pages", "vcpus", "dirty_rate", "pattern",
    "hot_percent", "seed", "cpu_vendor", "cpu_features", "pool", "cpus",
    "disk", "vif", "pci", "disable_migrate", "disk_rate", "disk_read_rate",
};

bool sim_pci_valid(const char *s)
{
    unsigned a, b, c, d;
    char tail;

    return strlen(s) == 12 &&
           sscanf(s, "%4x:%2x:%2x.%1x%c", &a, &b, &c, &d, &tail) == 4 &&
           s[4] == ':' && s[7] == ':' && s[10] == '.';
}

int sim_config_parse(const char *text, size_t len, struct sim_config *cfg,
                     char *why, size_t whylen)
{
    unsigned seen = 0;
    size_t pos = 0;
    int lineno = 0;
    char line[SIM_FEATURES_MAX + 32];

    memset(cfg, 0, sizeof(*cfg));
    if (len > SIM_CONFIG_MAX) {
        snprintf(why, whylen, "configuration is %zu bytes, limit %d", len,
                 SIM_CONFIG_MAX);
        return XLMIG_ERR_INVAL;
    }
    while (pos < len) {
        char *eq, *val, sub[160];
        size_t n = 0;
        uint64_t v = 0;
        int k;

        lineno++;
        while (pos + n < len && text[pos + n] != '\n')
            n++;
        if (n >= sizeof(line)) {
            snprintf(why, whylen, "line %d is longer than %zu bytes",
                     lineno, sizeof(line) - 1);
            return XLMIG_ERR_INVAL;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + 1;
        if (memchr(line, '\0', n)) {
            snprintf(why, whylen, "line %d contains a NUL byte", lineno);
            return XLMIG_ERR_INVAL;
        }
        if (n == 0 || line[0] == '#')
            continue;
        eq = strchr(line, '=');
        if (!eq) {
            snprintf(why, whylen, "line %d: expected key=value", lineno);
            return XLMIG_ERR_INVAL;
        }
        *eq = '\0';
        val = eq + 1;
        for (k = 0; k < K_COUNT; k++)
            if (!strcmp(line, keys[k]))
                break;
        if (k == K_COUNT) {
            snprintf(why, whylen, "line %d: unknown key \"%.32s\"", lineno,
                     line);
            return XLMIG_ERR_INVAL;
        }
        if ((seen & (1u << k)) && k != K_DISK && k != K_VIF && k != K_PCI) {
            snprintf(why, whylen, "line %d: %s given twice", lineno,
                     keys[k]);
            return XLMIG_ERR_INVAL;
        }
        seen |= 1u << k;
        switch (k) {
        case K_NAME:
            if (!sim_name_valid(val))
                goto badval;
            strcpy(cfg->name, val);
            break;
        case K_UUID:
            if (sim_uuid_parse(val, cfg->uuid))
                goto badval;
            break;
        case K_PAGES:
            if (parse_u64(val, &v) || v < SIM_MIN_PAGES ||
                v > SIM_MAX_PAGES)
                goto badval;
            cfg->nr_pages = v;
            break;
        case K_VCPUS:
            if (parse_u64(val, &v) || v < 1 || v > SIM_VCPUS_MAX)
                goto badval;
            cfg->nr_vcpus = (uint32_t)v;
            break;
        case K_RATE:
        case K_DISK_RATE:
        case K_DISK_READ_RATE:
            if (!strcmp(val, "max"))
                v = SIM_RATE_MAX;
            else if (parse_u64(val, &v))
                goto badval;
            if (k == K_RATE)
                cfg->dirty_rate = v;
            else if (k == K_DISK_RATE)
                cfg->disk_rate = v;
            else
                cfg->disk_read_rate = v;
            break;
        case K_PATTERN:
            if (sim_pattern_parse(val, &cfg->pattern))
                goto badval;
            break;
        case K_HOT:
            if (parse_u64(val, &v) || v < 1 || v > 100)
                goto badval;
            cfg->hot_percent = (uint32_t)v;
            break;
        case K_SEED:
            if (parse_u64(val, &v))
                goto badval;
            cfg->seed = v;
            break;
        case K_VENDOR:
            if (!*val || strlen(val) >= sizeof(cfg->cpu_vendor))
                goto badval;
            for (const char *c = val; *c; c++)
                if (*c < 0x21 || *c > 0x7e)
                    goto badval;
            strcpy(cfg->cpu_vendor, val);
            break;
        case K_FEATURES:
            if (strlen(val) > SIM_FEATURES_MAX ||
                !xlmig_pf_features_valid(val))
                goto badval;
            strcpy(cfg->cpu_features, val);
            break;
        case K_POOL:
            if (!sim_name_valid(val) || strlen(val) >= sizeof(cfg->pool))
                goto badval;
            strcpy(cfg->pool, val);
            break;
        case K_CPUS: {
            uint64_t set[16];
            if (strlen(val) >= sizeof(cfg->cpus) ||
                xlmig_cpulist_parse(val, set))
                goto badval;
            strcpy(cfg->cpus, val);
            break;
        }
        case K_DISK:
            if (cfg->ndisks == SIM_DISKS_MAX) {
                snprintf(why, whylen, "line %d: more than %d disks", lineno,
                         SIM_DISKS_MAX);
                return XLMIG_ERR_INVAL;
            }
            if (sim_disk_parse(val, &cfg->disks[cfg->ndisks], sub,
                               sizeof(sub))) {
                snprintf(why, whylen, "line %d: %s", lineno, sub);
                return XLMIG_ERR_INVAL;
            }
            for (unsigned i = 0; i < cfg->ndisks; i++)
                if (!strcmp(cfg->disks[i].vdev,
                            cfg->disks[cfg->ndisks].vdev)) {
                    snprintf(why, whylen, "line %d: disk %s given twice",
                             lineno, cfg->disks[i].vdev);
                    return XLMIG_ERR_INVAL;
                }
            cfg->ndisks++;
            break;
        case K_VIF:
            if (cfg->nvifs == SIM_VIFS_MAX) {
                snprintf(why, whylen, "line %d: more than %d vifs", lineno,
                         SIM_VIFS_MAX);
                return XLMIG_ERR_INVAL;
            }
            if (sim_vif_parse(val, false, &cfg->vifs[cfg->nvifs], sub,
                              sizeof(sub))) {
                snprintf(why, whylen, "line %d: %s", lineno, sub);
                return XLMIG_ERR_INVAL;
            }
            cfg->nvifs++;
            break;
        case K_PCI:
            if (cfg->npci == SIM_PCI_MAX) {
                snprintf(why, whylen, "line %d: more than %d PCI devices",
                         lineno, SIM_PCI_MAX);
                return XLMIG_ERR_INVAL;
            }
            if (!sim_pci_valid(val))
                goto badval;
            strcpy(cfg->pci[cfg->npci++], val);
            break;
        case K_NOMIGRATE:
            if (strcmp(val, "0") && strcmp(val, "1"))
                goto badval;
            cfg->disable_migrate = val[0] == '1';
            break;
        }
        continue;
    badval:
        snprintf(why, whylen, "line %d: bad value for %s: \"%.40s\"", lineno,
                 keys[k], val);
        return XLMIG_ERR_INVAL;
    }
    for (int k = 0; k < K_REQUIRED; k++) {
        if (!(seen & (1u << k))) {
            snprintf(why, whylen, "missing key %s", keys[k]);
            return XLMIG_ERR_INVAL;
        }
    }
    return 0;
}

int sim_hostconf_parse(const char *text, size_t len, struct sim_hostconf *h,
                       char *why, size_t whylen)
{
    char line[SIM_FEATURES_MAX + 32];
    size_t pos = 0;
    int lineno = 0;
    uint64_t taken[16] = { 0 };

    memset(h, 0, sizeof(*h));
    if (len > SIM_CONFIG_MAX) {
        snprintf(why, whylen, "%zu bytes, limit %d", len, SIM_CONFIG_MAX);
        return XLMIG_ERR_INVAL;
    }
    while (pos < len) {
        char *eq, *val;
        size_t n = 0;
        uint64_t v;

        lineno++;
        while (pos + n < len && text[pos + n] != '\n')
            n++;
        if (n >= sizeof(line) || memchr(text + pos, '\0', n)) {
            snprintf(why, whylen, "line %d is too long or holds a NUL",
                     lineno);
            return XLMIG_ERR_INVAL;
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos += n + 1;
        if (n == 0 || line[0] == '#')
            continue;
        eq = strchr(line, '=');
        if (!eq) {
            snprintf(why, whylen, "line %d: expected key=value", lineno);
            return XLMIG_ERR_INVAL;
        }
        *eq = '\0';
        val = eq + 1;
        if (!strcmp(line, "cpu_vendor")) {
            if (!*val || strlen(val) >= sizeof(h->cpu_vendor))
                goto bad;
            for (const char *c = val; *c; c++)
                if (*c < 0x21 || *c > 0x7e)
                    goto bad;
            strcpy(h->cpu_vendor, val);
        } else if (!strcmp(line, "cpu_mask")) {
            if (strlen(val) > SIM_FEATURES_MAX ||
                !xlmig_pf_features_valid(val))
                goto bad;
            strcpy(h->cpu_mask, val);
        } else if (!strcmp(line, "pcpus")) {
            if (parse_u64(val, &v) || v < 1 || v > 1024)
                goto bad;
            h->pcpus = (uint32_t)v;
        } else if (!strcmp(line, "cpupool")) {
            char *colon = strchr(val, ':');
            uint64_t set[16];
            if (h->npools == SIM_HOST_POOLS_MAX) {
                snprintf(why, whylen, "line %d: more than %d cpupools",
                         lineno, SIM_HOST_POOLS_MAX);
                return XLMIG_ERR_INVAL;
            }
            if (!colon)
                goto bad;
            *colon = '\0';
            if (!sim_name_valid(val) || !strcmp(val, "Pool-0") ||
                strlen(colon + 1) >= sizeof(h->pools[0].cpus) ||
                xlmig_cpulist_parse(colon + 1, set))
                goto bad;
            for (unsigned i = 0; i < h->npools; i++)
                if (!strcmp(h->pools[i].name, val)) {
                    snprintf(why, whylen, "line %d: cpupool %s twice",
                             lineno, val);
                    return XLMIG_ERR_INVAL;
                }
            for (int i = 0; i < 16; i++) {
                if (taken[i] & set[i]) {
                    snprintf(why, whylen, "line %d: a CPU of cpupool %s is "
                             "in another pool", lineno, val);
                    return XLMIG_ERR_INVAL;
                }
                taken[i] |= set[i];
            }
            strcpy(h->pools[h->npools].name, val);
            strcpy(h->pools[h->npools].cpus, colon + 1);
            h->npools++;
        } else {
            snprintf(why, whylen, "line %d: unknown key \"%.32s\"", lineno,
                     line);
            return XLMIG_ERR_INVAL;
        }
        continue;
    bad:
        snprintf(why, whylen, "line %d: bad value for %s: \"%.40s\"", lineno,
                 line, val);
        return XLMIG_ERR_INVAL;
    }
    return 0;
}

int sim_config_format(const struct sim_config *cfg, char *buf, size_t len)
{
    char uuid[37], rate[24];
    size_t off = 0;

    xlmig_uuid_format(cfg->uuid, uuid);
    if (cfg->dirty_rate == SIM_RATE_MAX)
        strcpy(rate, "max");
    else
        snprintf(rate, sizeof(rate), "%" PRIu64, cfg->dirty_rate);
    put(buf, len, &off,
        "name=%s\nuuid=%s\nmemory_pages=%" PRIu64 "\nvcpus=%u\n"
        "dirty_rate=%s\npattern=%s\nhot_percent=%u\nseed=%" PRIu64 "\n",
        cfg->name, uuid, cfg->nr_pages, cfg->nr_vcpus, rate,
        sim_pattern_name(cfg->pattern), cfg->hot_percent, cfg->seed);
    if (cfg->cpu_vendor[0])
        put(buf, len, &off, "cpu_vendor=%s\n", cfg->cpu_vendor);
    if (cfg->cpu_features[0])
        put(buf, len, &off, "cpu_features=%s\n", cfg->cpu_features);
    if (cfg->pool[0])
        put(buf, len, &off, "pool=%s\n", cfg->pool);
    if (cfg->cpus[0])
        put(buf, len, &off, "cpus=%s\n", cfg->cpus);
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        const struct sim_disk *d = &cfg->disks[i];
        put(buf, len, &off, "disk=%s,%s,%s%s,%s\n", d->target, d->format,
            d->vdev, d->cdrom ? ":cdrom" : "", d->ro ? "r" : "rw");
    }
    for (unsigned i = 0; i < cfg->nvifs; i++) {
        char spec[400];
        if (sim_vif_format(&cfg->vifs[i], spec, sizeof(spec)) < 0)
            return -1;
        put(buf, len, &off, "vif=%s\n", spec);
    }
    for (unsigned i = 0; i < cfg->npci; i++)
        put(buf, len, &off, "pci=%s\n", cfg->pci[i]);
    if (cfg->disable_migrate)
        put(buf, len, &off, "disable_migrate=1\n");
    for (int k = 0; k < 2; k++) {
        uint64_t r = k ? cfg->disk_read_rate : cfg->disk_rate;
        if (r == SIM_RATE_MAX)
            put(buf, len, &off, "%s=max\n", keys[K_DISK_RATE + k]);
        else if (r)
            put(buf, len, &off, "%s=%" PRIu64 "\n", keys[K_DISK_RATE + k], r);
    }
    if (off >= len)
        return -1;
    return (int)off;
}

/* ---- a storage move's MIRROR_STATUS reply (sim_storage.h) ---- */

/* "KEY=" at the start of a line of @t (NUL-terminated): its value, up to
 * the end of the line, into @out. */
static bool line_value(const char *t, const char *key, char *out,
                       size_t len)
{
    size_t kl = strlen(key);

    for (const char *l = t; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : l)
        if (!strncmp(l, key, kl) && l[kl] == '=') {
            const char *v = l + kl + 1, *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= len)
                return false;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
    return false;
}

int sim_mirror_status_parse(const char *text, size_t len,
                            struct xlmig_mirror_status *st)
{
    char t[4096 + 1], state[16];
    int used = 0;

    memset(st, 0, sizeof(*st));
    if (len >= sizeof(t) || memchr(text, '\0', len))
        return -1;
    memcpy(t, text, len);
    t[len] = '\0';
    if (sscanf(t, "state=%15[a-z]%n", state, &used) != 1)
        return -1;
    if (!strcmp(state, "none"))
        st->state = XLMIG_MIRROR_NONE;
    else if (!strcmp(state, "copying"))
        st->state = XLMIG_MIRROR_COPYING;
    else if (!strcmp(state, "ready"))
        st->state = XLMIG_MIRROR_READY;
    else if (!strcmp(state, "failed"))
        st->state = XLMIG_MIRROR_FAILED;
    else
        return -1;
    if (st->state != XLMIG_MIRROR_NONE) {
        int end = 0;
        if (sscanf(t + used, " size=%" SCNu64 " done=%" SCNu64 " copied=%"
                   SCNu64 " mirrored=%" SCNu64 " p50_ns=%" SCNu64 " p99_ns=%"
                   SCNu64 "%n", &st->size, &st->done, &st->copied,
                   &st->mirrored, &st->write_p50_ns, &st->write_p99_ns,
                   &end) != 6 || !end ||
            st->done > st->size || st->copied > st->size)
            return -1;
        if (!line_value(t, "error", st->error, sizeof(st->error)))
            return -1;
    }
    if (!line_value(t, "target", st->target, sizeof(st->target)) ||
        st->target[0] != '/')
        return -1;
    return 0;
}
