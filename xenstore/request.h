/*
 * XenStore orchestration's formats (docs/specs/xenstore.md), without
 * XenStore itself: a request read from /xlmig/request/<id>/ as key and
 * value pairs is turned into the control protocol's request (the same
 * keys, validated by the same parser, tools/xlmigd/ctl.c), and a job's
 * state into the keys xlmigd writes under /xlmig/job/<N>/.  Whatever
 * dom0 program wrote the request, it is hostile input here: key names,
 * value bytes and sizes are checked before anything is parsed.  The
 * parser has a fuzz target (tests/fuzz/fuzz_xsreq.c).
 */
#ifndef XLMIG_XENSTORE_REQUEST_H
#define XLMIG_XENSTORE_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xlmigd/ctl.h"

#define XLMIG_XS_ROOT "/xlmig"
#define XLMIG_XS_REQUESTS "/xlmig/request"
#define XLMIG_XS_JOBS "/xlmig/job"
#define XLMIG_XS_HOST "/xlmig/host"
#define XLMIG_XS_SCHEMA "1"

#define XLMIG_XS_ID_MAX 64              /* a request's <id> */
#define XLMIG_XS_KEYS_MAX 32            /* keys in one request */
#define XLMIG_XS_KEY_MAX 48             /* "disk_map/<vdev>" */
#define XLMIG_XS_VALUE_MAX XLMIG_CTL_VIA_MAX

/* A request's states (docs/specs/xenstore.md). */
#define XLMIG_XS_NEW "new"              /* the requester's, written last */
#define XLMIG_XS_CLAIMED "claimed"      /* xlmigd has it */
#define XLMIG_XS_ACCEPTED "accepted"    /* a job runs: see "job" */
#define XLMIG_XS_REFUSED "refused"      /* nothing was done: see "error" */
#define XLMIG_XS_DONE "done"            /* done (a job's result is in
                                         * /xlmig/job/<N>/result) */
#define XLMIG_XS_INTERRUPTED "interrupted"      /* xlmigd stopped first */

/* One key of a request as read: @key relative to the request's node
 * ("domain", "disk_map/xvda"), @val of @len bytes (not NUL-terminated). */
struct xlmig_xs_kv {
    const char *key;
    const char *val;
    size_t len;
};

/* A request's <id>: 1 to XLMIG_XS_ID_MAX of [A-Za-z0-9_.-]. */
bool xlmig_xs_id_valid(const char *id);

/*
 * Turn the @n keys of a request into @r.  "state" is the requester's
 * and is skipped; every other key must be a key of the request's "cmd"
 * in the control protocol, with its value as text: integers in decimal,
 * booleans as 1/0/true/false, disk_map as one key per disk
 * ("disk_map/xvda" = "/new/path").  Returns 0, or XLMIG_ERR_INVAL with
 * what was wrong in @why (which names the key).
 */
int xlmig_xs_req_parse(const struct xlmig_xs_kv *kv, size_t n,
                       struct xlmig_ctl_req *r, char *why, size_t len)
    XLMIG_MUST_CHECK;

/* What xlmigd shows of a job under /xlmig/job/<N>/. */
struct xlmig_xs_job {
    uint32_t id;
    char request[XLMIG_XS_ID_MAX + 1];  /* "" unless from a request */
    const char *direction;              /* "out", "in", "local" */
    char domain[XLMIG_NAME_MAX];
    char peer[XLMIG_NAME_MAX];
    char mode[16];
    const char *phase;                  /* xlmig_phase_name(), "queued" */
    const char *result;                 /* running, ok, refused, ... */
    unsigned progress;                  /* permille, never going back */
    unsigned position;                  /* in the queue; 0: not queued */
    uint32_t round, rounds;
    uint64_t memory_bytes, bytes_sent, round_bytes, round_target;
    uint64_t bandwidth, dirty_rate, disk_bytes;
    uint64_t elapsed_ms, total_ms, downtime_us;
    int rc;
    bool done;
    bool cancellable;                   /* its cancel node is there */
    char error[256];
};

struct xlmig_xs_field {
    const char *key;
    char val[288];
};

#define XLMIG_XS_JOB_FIELDS 24

/* The keys and values to write for @j (at most XLMIG_XS_JOB_FIELDS);
 * returns how many. */
size_t xlmig_xs_job_fields(const struct xlmig_xs_job *j,
                           struct xlmig_xs_field *out);

/*
 * A job's progress in permille from its phase and counters: 0 until
 * pages move; the first pass over memory is 0..900, later rounds
 * 900..980, stop-and-copy 980..990, handover 995, committed 1000;
 * a storage move by the share of the disk copied.  Callers keep it
 * from going back (a new round starts lower than the last ended).
 */
unsigned xlmig_xs_progress(int phase, bool queued, bool done, int rc,
                           bool local, uint32_t round, uint64_t round_bytes,
                           uint64_t round_target, uint64_t done_bytes,
                           uint64_t size_bytes);

#endif
