/*
 * The local control protocol between the xlmig command and xlmigd, over
 * the daemon's root-only unix socket: one JSON object per line each way
 * (docs/specs/control.md).  Requests are parsed here, strictly (unknown
 * keys, wrong types and out-of-range values are refused by name); the
 * parser has a fuzz target (tests/fuzz/fuzz_ctl.c).
 */
#ifndef XLMIG_CTL_H
#define XLMIG_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "libxlmig.h"

#define XLMIG_CTL_LINE_MAX 4096
#define XLMIG_CTL_VIA_MAX 1024
#define XLMIG_CTL_DISK_MAPS 8
#define XLMIG_CTL_REASON_MAX 200       /* drain's reason */

enum xlmig_ctl_cmd {
    XLMIG_CTL_MIGRATE = 1,
    XLMIG_CTL_STATUS = 2,
    XLMIG_CTL_CANCEL = 3,
    XLMIG_CTL_RECOVER = 4,
    XLMIG_CTL_PREFLIGHT = 5,
    XLMIG_CTL_STORAGE_MOVE = 6,
    XLMIG_CTL_DRAIN = 7,
    XLMIG_CTL_UNDRAIN = 8,
};

struct xlmig_ctl_req {
    enum xlmig_ctl_cmd cmd;
    uint32_t job;                       /* cancel, recover (0: all) */
    char domain[XLMIG_NAME_MAX];
    char host[2 * XLMIG_NAME_MAX + 8];  /* NAME[@ADDR[:PORT]] */
    uint64_t max_downtime_ms;           /* 0: default */
    uint64_t bandwidth_mib;             /* 0: no cap */
    uint32_t max_rounds;                /* 0: default */
    uint64_t timeout_s;                 /* 0: none */
    uint32_t channels;                  /* 0: daemon's default */
    uint32_t priority;                  /* migrate: 0..9, its place in
                                         * the queue (higher first) */
    bool auto_converge;                 /* may throttle the guest */
    uint32_t max_throttle_pct;          /* 0: the policy's 99 */
    bool xl;                            /* to a stock xl migrate-receive */
    bool quick;
    bool copy_storage;                  /* migrate, preflight: the disks
                                         * are copied */
    unsigned ndisk_map;                 /* ... each to where it says */
    struct {
        char vdev[32];
        char path[XLMIG_CTL_VIA_MAX + 1];
    } disk_map[XLMIG_CTL_DISK_MAPS];
    char via[XLMIG_CTL_VIA_MAX + 1];    /* "" unless quick through a file */
    /* storage-move: the disk (vdev), its new image, keep the old one;
     * bandwidth_mib caps the copy */
    char disk[32];
    char path[XLMIG_CTL_VIA_MAX + 1];
    bool keep;
    /* drain: why, for whoever is refused (printable) */
    char reason[XLMIG_CTL_REASON_MAX + 1];
};

const char *xlmig_ctl_cmd_name(enum xlmig_ctl_cmd c);

/* Parse one request line (@len bytes, no NUL needed). */
int xlmig_ctl_parse(const char *line, size_t len, struct xlmig_ctl_req *r,
                    char *why, size_t whylen) XLMIG_MUST_CHECK;

/* Format @r as one line with its newline into @buf; length or -1. */
int xlmig_ctl_format(const struct xlmig_ctl_req *r, char *buf, size_t len);

/* yajl_gen helpers for building events. */
void xlmig_json_str(yajl_gen g, const char *k, const char *v);
void xlmig_json_int(yajl_gen g, const char *k, long long v);
void xlmig_json_num(yajl_gen g, const char *k, double v);
void xlmig_json_bool(yajl_gen g, const char *k, bool v);
void xlmig_json_key(yajl_gen g, const char *k);

#endif
