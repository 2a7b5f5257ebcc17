#include "sim_config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "private.h"
#include "sim_layout.h"

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

enum { K_NAME, K_UUID, K_PAGES, K_VCPUS, K_RATE, K_PATTERN, K_HOT, K_SEED,
       K_COUNT };
static const char *const keys[K_COUNT] = {
    "name", "uuid", "memory_pages", "vcpus", "dirty_rate", "pattern",
    "hot_percent", "seed",
};

int sim_config_parse(const char *text, size_t len, struct sim_config *cfg,
                     char *why, size_t whylen)
{
    unsigned seen = 0;
    size_t pos = 0;
    int lineno = 0;

    memset(cfg, 0, sizeof(*cfg));
    if (len > 4096) {
        snprintf(why, whylen, "configuration is %zu bytes, limit 4096", len);
        return XLMIG_ERR_INVAL;
    }
    while (pos < len) {
        char line[256], *eq, *val;
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
        if (seen & (1u << k)) {
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
            if (!strcmp(val, "max"))
                v = SIM_RATE_MAX;
            else if (parse_u64(val, &v))
                goto badval;
            cfg->dirty_rate = v;
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
        }
        continue;
    badval:
        snprintf(why, whylen, "line %d: bad value for %s: \"%.40s\"", lineno,
                 keys[k], val);
        return XLMIG_ERR_INVAL;
    }
    for (int k = 0; k < K_COUNT; k++) {
        if (!(seen & (1u << k))) {
            snprintf(why, whylen, "missing key %s", keys[k]);
            return XLMIG_ERR_INVAL;
        }
    }
    return 0;
}

int sim_config_format(const struct sim_config *cfg, char *buf, size_t len)
{
    char uuid[37], rate[24];
    int n;

    xlmig_uuid_format(cfg->uuid, uuid);
    if (cfg->dirty_rate == SIM_RATE_MAX)
        strcpy(rate, "max");
    else
        snprintf(rate, sizeof(rate), "%" PRIu64, cfg->dirty_rate);
    n = snprintf(buf, len,
                 "name=%s\nuuid=%s\nmemory_pages=%" PRIu64 "\nvcpus=%u\n"
                 "dirty_rate=%s\npattern=%s\nhot_percent=%u\nseed=%" PRIu64
                 "\n",
                 cfg->name, uuid, cfg->nr_pages, cfg->nr_vcpus, rate,
                 sim_pattern_name(cfg->pattern), cfg->hot_percent, cfg->seed);
    if (n < 0 || (size_t)n >= len)
        return -1;
    return n;
}
