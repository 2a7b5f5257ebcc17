/*
 * Preflight: what a domain needs of the host it moves to, what a host
 * offers, and the report that compares the two check by check
 * (docs/preflight.md lists every check; docs/specs/protocol.md the
 * encodings of PREFLIGHT's needs and PREFLIGHT_REPORT).
 *
 * The source's backend fills a struct xlmig_needs from the running
 * domain; it travels in PREFLIGHT; the destination's backend answers each
 * need with a struct xlmig_offer, and xlmig_pf_eval(), a pure function of
 * the two, writes the rows.  The engine adds the rows only it can judge
 * (backend, identity, memory, admission).  Both decoders are fed outside
 * input and have a fuzz target (tests/fuzz/fuzz_preflight.c).
 */
#ifndef XLMIG_PROTO_PREFLIGHT_H
#define XLMIG_PROTO_PREFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libxlmig.h"

#define XLMIG_PF_ROWS_MAX 96
#define XLMIG_PF_CHECK_MAX 31
#define XLMIG_PF_VALUE_MAX 255
#define XLMIG_PF_REASON_MAX 511
#define XLMIG_PF_DISKS_MAX 16
#define XLMIG_PF_NICS_MAX 16
#define XLMIG_PF_PCI_MAX 8
#define XLMIG_PF_FEATURES_MAX 8191      /* the names, as text */
#define XLMIG_PF_PATH_MAX 1023
#define XLMIG_PF_POLICY_MAX 16384       /* a Xen CPU policy, serialised */
#define XLMIG_PF_NEEDS_MAX (64u << 10)  /* encoded needs */

/* PREFLIGHT flags. */
#define XLMIG_PF_CHECK_ONLY 0x1         /* nothing will follow */
#define XLMIG_PF_COPY_STORAGE 0x2       /* disks would be copied */
#define XLMIG_PF_FLAGS_KNOWN 0x3

enum xlmig_pf_verdict {
    XLMIG_PF_PASS = 0,
    XLMIG_PF_WARN = 1,          /* noted; does not refuse */
    XLMIG_PF_FAIL = 2,          /* refuses the migration */
};

const char *xlmig_pf_verdict_name(enum xlmig_pf_verdict v);

struct xlmig_pf_row {
    enum xlmig_pf_verdict verdict;
    char check[XLMIG_PF_CHECK_MAX + 1];
    char src[XLMIG_PF_VALUE_MAX + 1];
    char dst[XLMIG_PF_VALUE_MAX + 1];
    char reason[XLMIG_PF_REASON_MAX + 1];
};

struct xlmig_pf_report {
    unsigned n;
    unsigned failed, warned;
    bool truncated;             /* rows past XLMIG_PF_ROWS_MAX were lost */
    struct xlmig_pf_row rows[XLMIG_PF_ROWS_MAX];
};

void xlmig_pf_report_init(struct xlmig_pf_report *r);
/* Add a row; values are cut to their limits. */
void xlmig_pf_add(struct xlmig_pf_report *r, enum xlmig_pf_verdict v,
                  const char *check, const char *src, const char *dst,
                  const char *fmt, ...) XLMIG_PRINTF(6, 7);

/* ---- what the domain needs ---- */

enum {
    XLMIG_PF_DISK_CDROM = 0x1,  /* removable media drive */
    XLMIG_PF_DISK_RO = 0x2,
    XLMIG_PF_DISK_EMPTY = 0x4,  /* a drive with no media in it */
    XLMIG_PF_DISK_OPAQUE = 0x8, /* reached through a script or the network:
                                 * the target is not a local path */
    XLMIG_PF_DISK_UNSIZED = 0x10, /* the source could not read its size */
    XLMIG_PF_DISK_KNOWN = 0x1f,
};

struct xlmig_pf_disk {
    char vdev[32];
    char target[XLMIG_PF_PATH_MAX + 1];
    uint64_t size;              /* bytes, as the source sees the target */
    uint32_t flags;
};

#define XLMIG_PF_NIC_MAC_AUTO 0x1   /* MAC generated, not configured */
struct xlmig_pf_nic {
    uint8_t mac[6];
    char bridge[16];            /* "" when not bridged */
    uint32_t mtu;               /* the source bridge's; 0 unknown */
    uint32_t flags;             /* XLMIG_PF_NIC_* */
};

struct xlmig_needs {
    uint32_t flags;             /* XLMIG_PF_CHECK_ONLY, ... */
    char hv[32];                /* "Xen 4.17.5", "sim" */
    uint32_t hv_major, hv_minor;
    uint32_t stream_version;
    char domtype[8];            /* "pv", "pvh", "hvm", "sim" */
    char cpu_vendor[16];
    /* Feature names the domain was started with, one space between. */
    char cpu_features[XLMIG_PF_FEATURES_MAX + 1];
    /* Xen: the domain's CPU policy (u32 leaves, u32 msrs, leaves of 24
     * octets, MSRs of 16), for Xen's own compatibility check. */
    uint8_t policy[XLMIG_PF_POLICY_MAX];
    uint32_t policy_len;
    uint64_t memory;            /* the most memory it may have, bytes */
    uint32_t vcpus;
    char pool[64];              /* cpupool; "" = the default pool */
    char pin[256];              /* hard affinity, a CPU list; "" = any */
    unsigned ndisks, nnics, npci;
    struct xlmig_pf_disk disks[XLMIG_PF_DISKS_MAX];
    struct xlmig_pf_nic nics[XLMIG_PF_NICS_MAX];
    char pci[XLMIG_PF_PCI_MAX][16];
    bool nomigrate;
};

/* Encode @n into @buf (at most XLMIG_PF_NEEDS_MAX); length, or -1. */
long xlmig_needs_encode(const struct xlmig_needs *n, uint8_t *buf,
                        size_t cap);
/* Decode and validate; XLMIG_ERR_STREAM with the reason in @why. */
int xlmig_needs_decode(const uint8_t *b, size_t len, struct xlmig_needs *n,
                       char *why, size_t whylen) XLMIG_MUST_CHECK;

/* ---- what the destination offers ---- */

struct xlmig_pf_disk_offer {
    int err;                    /* errno looking at the target, or 0 */
    uint64_t size;              /* the target's size here */
    uint64_t space;             /* free where a copy would go */
};

struct xlmig_pf_nic_offer {
    bool bridge;                /* the bridge exists here */
    bool up;                    /* and is up */
    uint32_t mtu;
    bool stp;                   /* STP on: new ports wait to forward */
    uint32_t forward_delay_cs;
    char mac_user[96];          /* who has the MAC here; "" nobody */
};

struct xlmig_offer {
    char hv[32];
    uint32_t hv_major, hv_minor;
    uint32_t stream_min, stream_max;
    char cpu_vendor[16];
    /* What a domain of this type may be given here (Xen: its max policy;
     * sim: the host's CPU less the host's levelling mask). */
    char cpu_features[XLMIG_PF_FEATURES_MAX + 1];
    int policy_ok;              /* -1 not asked, 0 refused, 1 accepted,
                                 * 2 could not be checked */
    char policy_why[128];
    uint32_t pcpus;
    uint32_t vcpus_used;        /* vCPUs of the domains here now */
    uint32_t vcpus_held;        /* of incoming migrations not yet here */
    double overcommit;          /* vCPUs per pCPU allowed; 0 no limit */
    bool pool_found;
    char pool_name[64];         /* the pool the domain would go to */
    char pool_cpus[256];        /* its CPUs, a CPU list */
    struct xlmig_pf_disk_offer disks[XLMIG_PF_DISKS_MAX];
    struct xlmig_pf_nic_offer nics[XLMIG_PF_NICS_MAX];
};


/* ---- PREFLIGHT_REPORT ---- */

long xlmig_pf_report_encode(const struct xlmig_pf_report *r, uint8_t *buf,
                            size_t cap);
int xlmig_pf_report_decode(const uint8_t *b, size_t len,
                           struct xlmig_pf_report *r, char *why,
                           size_t whylen) XLMIG_MUST_CHECK;

/* ---- helpers shared with the backends ---- */

/* Parse a CPU list ("0-3,6"); bit i of @set (up to 1024 CPUs). 0 or -1. */
int xlmig_cpulist_parse(const char *s, uint64_t set[16]);
/* Feature names: [a-z0-9_.]+, one space between, none at either end. */
bool xlmig_pf_features_valid(const char *s);
/* Does the space-separated name list @list hold @name (@len octets)? */
bool xlmig_pf_has_feature(const char *list, const char *name, size_t len);
/* "00:16:3e:00:00:01" <-> 6 octets. */
int xlmig_mac_parse(const char *s, uint8_t mac[6]);
void xlmig_mac_format(const uint8_t mac[6], char out[18]);

#endif
