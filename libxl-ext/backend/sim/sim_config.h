/*
 * A simulated domain's configuration: the "config" file in its directory
 * and the DOMAIN_CONFIG body (format SIM_KV) of its streams.  Text, one
 * "key=value" per line; the first eight keys are required, the rest
 * optional (disk, vif and pci may repeat), no other key is allowed.  The parser is fed outside input (a stream) and has a fuzz
 * target (tests/fuzz/fuzz_simconfig.c).
 */
#ifndef XLMIG_SIM_CONFIG_H
#define XLMIG_SIM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

enum sim_pattern {
    SIM_PATTERN_UNIFORM = 1,    /* any page of the vCPU's share */
    SIM_PATTERN_HOTSET = 2,     /* 90% of writes to hot_percent% of pages */
    SIM_PATTERN_SEQUENTIAL = 3, /* walk the share in order, wrap */
};

#define SIM_RATE_MAX UINT64_MAX /* write as fast as the vCPU can */
#define SIM_CONFIG_MAX 16384    /* octets of config text */
#define SIM_PATH_MAX 255        /* octets of a disk image's path */
#define SIM_DISKS_MAX 8
#define SIM_VIFS_MAX 8
#define SIM_PCI_MAX 4
#define SIM_FEATURES_MAX 4095

/* disk=TARGET,FORMAT,VDEV[:cdrom],ACCESS (xl's positional disk spec). */
struct sim_disk {
    char target[SIM_PATH_MAX + 1];      /* absolute; "" an empty drive */
    char format[16];
    char vdev[16];
    int cdrom;
    int ro;
};

/*
 * vif=mac=MAC[,auto-mac][,bridge=BRIDGE][,ip=ADDR]... (docs/simdom.md):
 * the guest's NIC, a TAP device on the host.  auto-mac records that the
 * MAC was generated at create, not fixed by the administrator; ip= (IPv4
 * or IPv6, repeatable) is the address the guest answers on and the
 * only address an announce ever names (docs/network.md).
 */
#define SIM_VIF_IPS 4
struct sim_vif {
    uint8_t mac[6];
    char bridge[16];
    int mac_auto;
    unsigned nip4, nip6;
    uint8_t ip4[SIM_VIF_IPS][4];
    uint8_t ip6[SIM_VIF_IPS][16];
};

struct sim_config {
    char name[XLMIG_NAME_MAX];
    uint8_t uuid[16];
    uint64_t nr_pages;
    uint32_t nr_vcpus;
    uint64_t dirty_rate;        /* bytes per second, all vCPUs together */
    enum sim_pattern pattern;
    uint32_t hot_percent;       /* 1..100, used by HOTSET */
    uint64_t seed;

    /* Optional (docs/simdom.md): what preflight compares. */
    char cpu_vendor[16];        /* recorded when the domain was created */
    char cpu_features[SIM_FEATURES_MAX + 1];    /* names, one space apart */
    char pool[64];              /* cpupool; "" the default pool */
    char cpus[128];             /* hard affinity, a CPU list; "" any */
    unsigned ndisks, nvifs, npci;
    struct sim_disk disks[SIM_DISKS_MAX];
    struct sim_vif vifs[SIM_VIFS_MAX];
    char pci[SIM_PCI_MAX][16];  /* passthrough devices, BDF */
    int disable_migrate;
    /* Block I/O (docs/simdom.md): bytes per second each writable disk
     * writes and reads; 0 none, SIM_RATE_MAX as fast as it can. */
    uint64_t disk_rate;
    uint64_t disk_read_rate;
};

const char *sim_pattern_name(enum sim_pattern p);
int sim_pattern_parse(const char *s, enum sim_pattern *p);

/*
 * Parse @len bytes of config text.  Returns 0, or XLMIG_ERR_INVAL with a
 * message naming the line and the problem in @why.
 */
int sim_config_parse(const char *text, size_t len, struct sim_config *cfg,
                     char *why, size_t whylen);
/* One disk or vif spec (as in the config and xlmig-simdom create). */
int sim_disk_parse(const char *s, struct sim_disk *d, char *why,
                   size_t whylen);
/* xlmig-simdom create's --vif may leave out mac= (@no_mac): mac_auto is
 * set and the MAC left zero, for the caller to generate. */
int sim_vif_parse(const char *s, bool no_mac, struct sim_vif *v, char *why,
                  size_t whylen);
/* The spec sim_vif_parse() reads back; its length, -1 if it does not fit. */
int sim_vif_format(const struct sim_vif *v, char *buf, size_t len);
/* A PCI address, "0000:03:00.0". */
bool sim_pci_valid(const char *s);
/* Format into @buf; returns the length, or -1 if @len is too small. */
int sim_config_format(const struct sim_config *cfg, char *buf, size_t len);

/*
 * A simulated host's own settings: the file host.conf in the sim
 * directory, as a hypervisor's boot options are the host's (docs/simdom.md).
 * key=value lines, every key optional; cpupool may repeat.
 */
#define SIM_HOST_POOLS_MAX 8

struct sim_hostconf {
    char cpu_vendor[16];        /* "" = the machine's */
    char cpu_mask[SIM_FEATURES_MAX + 1];        /* features not offered */
    uint32_t pcpus;             /* 0 = the machine's online CPUs */
    unsigned npools;
    struct {
        char name[64];
        char cpus[256];
    } pools[SIM_HOST_POOLS_MAX];
};

int sim_hostconf_parse(const char *text, size_t len, struct sim_hostconf *h,
                       char *why, size_t whylen);

/* Parse a size with optional K/M/G/T suffix (binary units). */
int sim_parse_size(const char *s, uint64_t *out);
/* Parse "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx". */
int sim_uuid_parse(const char *s, uint8_t uuid[16]);
int sim_name_valid(const char *s);

/*
 * Parse a MIRROR_STATUS reply of @len octets (docs/simdom.md): 0, or -1
 * if malformed.  Fed the simulated domain's replies; fuzzed with the
 * config parser.
 */
struct xlmig_mirror_status;
int sim_mirror_status_parse(const char *text, size_t len,
                            struct xlmig_mirror_status *st)
    XLMIG_MUST_CHECK;

#endif
