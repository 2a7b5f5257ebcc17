/*
 * XenStore requests to control requests, and jobs to XenStore keys
 * (docs/specs/xenstore.md; see request.h).
 */
#include "xenstore/request.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>

#include "core/private.h"
#include "engine/job.h"

#define refuse(why, len, ...) \
    xlmig_why((why), (len), XLMIG_ERR_INVAL, __VA_ARGS__)

/* The control protocol's keys that are not strings. */
static const char *const num_keys[] = {
    "job", "max_downtime_ms", "bandwidth_mib", "max_rounds", "timeout_s",
    "priority", "channels", "max_throttle_pct",
};
static const char *const bool_keys[] = {
    "copy_storage", "keep", "quick", "auto_converge", "xl",
};

static bool in(const char *k, const char *const *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(k, set[i]))
            return true;
    return false;
}

bool xlmig_xs_id_valid(const char *id)
{
    size_t n = 0;

    for (const char *c = id; *c; c++, n++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' ||
                  *c == '.';
        if (!ok || n >= XLMIG_XS_ID_MAX)
            return false;
    }
    return n > 0;
}

/* A key's name: [a-z0-9_]+, or disk_map/<vdev> with a vdev of
 * [a-z0-9]; 1 for a plain key, 2 for a disk_map entry, 0 if neither. */
static int key_kind(const char *k)
{
    const char *vdev = NULL;
    size_t n = strlen(k);

    if (!n || n > XLMIG_XS_KEY_MAX)
        return 0;
    if (!strncmp(k, "disk_map/", 9)) {
        vdev = k + 9;
        if (!*vdev || strlen(vdev) >= 32)
            return 0;
        for (const char *c = vdev; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9')))
                return 0;
        return 2;
    }
    for (const char *c = k; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
              *c == '_'))
            return 0;
    return 1;
}

/* Printable ASCII, no NUL, at most XLMIG_XS_VALUE_MAX bytes. */
static bool value_ok(const struct xlmig_xs_kv *kv)
{
    if (kv->len > XLMIG_XS_VALUE_MAX)
        return false;
    for (size_t i = 0; i < kv->len; i++)
        if ((unsigned char)kv->val[i] < 0x20 ||
            (unsigned char)kv->val[i] > 0x7e)
            return false;
    return true;
}

static void gen_kstr(yajl_gen g, const char *s, size_t n)
{
    yajl_gen_string(g, (const unsigned char *)s, n);
}

int xlmig_xs_req_parse(const struct xlmig_xs_kv *kv, size_t n,
                       struct xlmig_ctl_req *r, char *why, size_t len)
{
    const unsigned char *out;
    size_t outlen;
    bool maps = false;
    yajl_gen g;
    int rc;

    memset(r, 0, sizeof(*r));
    if (n > XLMIG_XS_KEYS_MAX)
        return refuse(why, len, "a request has at most %d keys, this one "
                      "%zu", XLMIG_XS_KEYS_MAX, n);
    /* Names and bytes first: nothing below sees an unchecked one. */
    for (size_t i = 0; i < n; i++) {
        int kind = kv[i].key ? key_kind(kv[i].key) : 0;
        if (!kind)
            return refuse(why, len, "a key's name must be lower-case "
                          "letters, digits and '_' (or disk_map/VDEV), "
                          "at most %d characters", XLMIG_XS_KEY_MAX);
        if (!kv[i].val || !value_ok(&kv[i]))
            return refuse(why, len, "\"%s\" must be printable text of at "
                          "most %d bytes", kv[i].key, XLMIG_XS_VALUE_MAX);
        for (size_t p = 0; p < i; p++)
            if (!strcmp(kv[p].key, kv[i].key))
                return refuse(why, len, "\"%s\" given twice", kv[i].key);
        if (kind == 2)
            maps = true;
    }
    g = yajl_gen_alloc(NULL);
    if (!g)
        return XLMIG_ERR_NOMEM;
    yajl_gen_map_open(g);
    for (size_t i = 0; i < n; i++) {
        const char *k = kv[i].key;
        if (!strcmp(k, "state") || key_kind(k) == 2)
            continue;
        xlmig_json_key(g, k);
        if (in(k, num_keys, ARRAY_SIZE(num_keys))) {
            char num[24];
            bool digits = kv[i].len > 0 && kv[i].len <= 15 &&
                          !(kv[i].len > 1 && kv[i].val[0] == '0');
            for (size_t c = 0; digits && c < kv[i].len; c++)
                digits = kv[i].val[c] >= '0' && kv[i].val[c] <= '9';
            if (!digits) {
                rc = refuse(why, len, "\"%s\" must be a decimal integer "
                            "(at most 15 digits)", k);
                goto out;
            }
            memcpy(num, kv[i].val, kv[i].len);
            num[kv[i].len] = '\0';
            yajl_gen_number(g, num, kv[i].len);
        } else if (in(k, bool_keys, ARRAY_SIZE(bool_keys))) {
            bool t = (kv[i].len == 1 && kv[i].val[0] == '1') ||
                     (kv[i].len == 4 && !memcmp(kv[i].val, "true", 4));
            bool f = (kv[i].len == 1 && kv[i].val[0] == '0') ||
                     (kv[i].len == 5 && !memcmp(kv[i].val, "false", 5));
            if (!t && !f) {
                rc = refuse(why, len, "\"%s\" must be 1, 0, true or false",
                            k);
                goto out;
            }
            yajl_gen_bool(g, t);
        } else {
            gen_kstr(g, kv[i].val, kv[i].len);
        }
    }
    if (maps) {
        xlmig_json_key(g, "disk_map");
        yajl_gen_array_open(g);
        for (size_t i = 0; i < n; i++) {
            char e[32 + XLMIG_XS_VALUE_MAX + 2];
            int m;
            if (key_kind(kv[i].key) != 2)
                continue;
            m = snprintf(e, sizeof(e), "%s=%.*s", kv[i].key + 9,
                         (int)kv[i].len, kv[i].val);
            gen_kstr(g, e, (size_t)m);
        }
        yajl_gen_array_close(g);
    }
    yajl_gen_map_close(g);
    if (yajl_gen_get_buf(g, &out, &outlen) != yajl_gen_status_ok) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    /* The control protocol's parser decides the rest: which keys a
     * command has, ranges, combinations. */
    rc = xlmig_ctl_parse((const char *)out, outlen, r, why, len);
    if (rc)
        goto out;
    if (r->cmd == XLMIG_CTL_STATUS || r->cmd == XLMIG_CTL_RECOVER) {
        rc = refuse(why, len, "\"%s\" is not a XenStore request: %s",
                    xlmig_ctl_cmd_name(r->cmd),
                    r->cmd == XLMIG_CTL_STATUS ?
                    "read " XLMIG_XS_HOST " and " XLMIG_XS_JOBS :
                    "settling a job in doubt is the administrator's "
                    "(xlmig recover)");
    }
out:
    yajl_gen_free(g);
    if (rc && rc != XLMIG_ERR_NOMEM)
        memset(r, 0, sizeof(*r));
    return rc;
}

unsigned xlmig_xs_progress(int phase, bool queued, bool done, int rc,
                           bool local, uint32_t round, uint64_t round_bytes,
                           uint64_t round_target, uint64_t done_bytes,
                           uint64_t size_bytes)
{
    uint64_t share;

    if (done && rc == 0)
        return 1000;
    if (queued)
        return 0;
    if (local) {
        if (!size_bytes)
            return 0;
        share = done_bytes >= size_bytes ? 1000 :
                done_bytes * 1000 / size_bytes;
        return share > 999 ? 999 : (unsigned)share;
    }
    /* 0..1000 of the round in progress */
    share = !round_target ? 0 : round_bytes >= round_target ? 1000 :
            round_bytes * 1000 / round_target;
    switch (phase) {
    case XLMIG_PHASE_PREFLIGHT:
    case XLMIG_PHASE_PREPARE:
        return 0;
    case XLMIG_PHASE_PRECOPY:
        if (round <= 1)
            return (unsigned)(share * 900 / 1000);
        return 900 + (unsigned)(share * 80 / 1000);
    case XLMIG_PHASE_STOPCOPY:
    case XLMIG_PHASE_POSTCOPY:
        return 980 + (unsigned)(share * 10 / 1000);
    case XLMIG_PHASE_HANDOVER:
        return 995;
    case XLMIG_PHASE_COMMITTED:
        return 1000;
    default:
        return 0;
    }
}

static void set(struct xlmig_xs_field *f, size_t *n, const char *k,
                const char *fmt, ...) XLMIG_PRINTF(4, 5);
static void set(struct xlmig_xs_field *f, size_t *n, const char *k,
                const char *fmt, ...)
{
    va_list ap;

    if (*n >= XLMIG_XS_JOB_FIELDS)
        return;
    f[*n].key = k;
    va_start(ap, fmt);
    vsnprintf(f[*n].val, sizeof(f[*n].val), fmt, ap);
    va_end(ap);
    (*n)++;
}

size_t xlmig_xs_job_fields(const struct xlmig_xs_job *j,
                           struct xlmig_xs_field *f)
{
    size_t n = 0;

    set(f, &n, "direction", "%s", j->direction);
    set(f, &n, "domain", "%s", j->domain);
    set(f, &n, "peer", "%s", j->peer);
    set(f, &n, "mode", "%s", j->mode);
    set(f, &n, "phase", "%s", j->phase);
    set(f, &n, "result", "%s", j->result);
    set(f, &n, "progress", "%u", j->progress);
    set(f, &n, "position", "%u", j->position);
    set(f, &n, "round", "%" PRIu32, j->round);
    set(f, &n, "rounds", "%" PRIu32, j->rounds);
    set(f, &n, "memory_bytes", "%" PRIu64, j->memory_bytes);
    set(f, &n, "bytes_sent", "%" PRIu64, j->bytes_sent);
    set(f, &n, "round_bytes", "%" PRIu64, j->round_bytes);
    set(f, &n, "round_target", "%" PRIu64, j->round_target);
    set(f, &n, "bandwidth", "%" PRIu64, j->bandwidth);
    set(f, &n, "dirty_rate", "%" PRIu64, j->dirty_rate);
    set(f, &n, "elapsed_ms", "%" PRIu64, j->elapsed_ms);
    if (j->disk_bytes)
        set(f, &n, "disk_bytes", "%" PRIu64, j->disk_bytes);
    if (j->done) {
        set(f, &n, "total_ms", "%" PRIu64, j->total_ms);
        set(f, &n, "rc", "%d", j->rc);
        if (j->rc == 0 && !strcmp(j->direction, "out"))
            set(f, &n, "downtime_us", "%" PRIu64, j->downtime_us);
    }
    /* Always written: "" once a retried job's error is gone. */
    set(f, &n, "error", "%s", j->error);
    return n;
}
