/*
 * A simulated domain's configuration: the "config" file in its directory
 * and the DOMAIN_CONFIG body (format SIM_KV) of its streams.  Text, one
 * "key=value" per line; every key below is required, no other key is
 * allowed.  The parser is fed outside input (a stream) and has a fuzz
 * target (tests/fuzz/fuzz_simconfig.c).
 */
#ifndef XLMIG_SIM_CONFIG_H
#define XLMIG_SIM_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

enum sim_pattern {
    SIM_PATTERN_UNIFORM = 1,    /* any page of the vCPU's share */
    SIM_PATTERN_HOTSET = 2,     /* 90% of writes to hot_percent% of pages */
    SIM_PATTERN_SEQUENTIAL = 3, /* walk the share in order, wrap */
};

#define SIM_RATE_MAX UINT64_MAX /* write as fast as the vCPU can */

struct sim_config {
    char name[XLMIG_NAME_MAX];
    uint8_t uuid[16];
    uint64_t nr_pages;
    uint32_t nr_vcpus;
    uint64_t dirty_rate;        /* bytes per second, all vCPUs together */
    enum sim_pattern pattern;
    uint32_t hot_percent;       /* 1..100, used by HOTSET */
    uint64_t seed;
};

const char *sim_pattern_name(enum sim_pattern p);
int sim_pattern_parse(const char *s, enum sim_pattern *p);

/*
 * Parse @len bytes of config text.  Returns 0, or XLMIG_ERR_INVAL with a
 * message naming the line and the problem in @why.
 */
int sim_config_parse(const char *text, size_t len, struct sim_config *cfg,
                     char *why, size_t whylen);
/* Format into @buf; returns the length, or -1 if @len is too small. */
int sim_config_format(const struct sim_config *cfg, char *buf, size_t len);

/* Parse a size with optional K/M/G/T suffix (binary units). */
int sim_parse_size(const char *s, uint64_t *out);
/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
int sim_uuid_parse(const char *s, uint8_t uuid[16]);
int sim_name_valid(const char *s);

#endif
