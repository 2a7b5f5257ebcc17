/*
 * XenStore orchestration's watcher thread (see watcher.h and
 * docs/specs/xenstore.md).  Everything it does to XenStore happens on
 * its own connection, from its own thread: requests are read, claimed
 * and answered here, and every job node is written here.
 */
#include "xenstore/watcher.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xenstore.h>

#include "core/private.h"

#define TX_TRIES 16             /* a transaction retried on EAGAIN */
#define COLLECT_BATCH 16

/* A job the watcher knows of. */
struct jent {
    uint32_t id;
    char request[XLMIG_XS_ID_MAX + 1];
    bool written;               /* its node exists */
    bool cancel;                /* ... with its cancel node */
    bool done;
    bool orphan;                /* its request was removed: the node goes
                                 * once the job is done */
    bool old;                   /* left by xlmigd's last run */
};

struct xlmig_xs {
    xlmig_ctx *ctx;
    struct xs_handle *h;
    struct xlmig_xs_ops ops;
    pthread_t thr;
    int wake[2];
    pthread_mutex_t lock;
    bool stop;                  /* lock */
    bool running;               /* lock: the thread works */
    struct jent *jobs;
    size_t njobs, cap;
    struct xlmig_xs_host host;  /* as last written */
    bool host_written;
};

/* ---- small helpers ---- */

static char *xread(struct xlmig_xs *x, xs_transaction_t t, const char *path,
                   unsigned *len)
{
    unsigned n = 0;
    char *v = xs_read(x->h, t, path, &n);

    if (len)
        *len = n;
    return v;
}

static bool xwrite(struct xlmig_xs *x, xs_transaction_t t, const char *path,
                   const char *val)
{
    return xs_write(x->h, t, path, val, (unsigned)strlen(val));
}

static bool exists(struct xlmig_xs *x, xs_transaction_t t, const char *path)
{
    char *v = xread(x, t, path, NULL);

    free(v);
    return v != NULL;
}

/* Does @path hold @want (as a string)? */
static bool holds(struct xlmig_xs *x, xs_transaction_t t, const char *path,
                  const char *want)
{
    unsigned n;
    char *v = xread(x, t, path, &n);
    bool same = v && n == strlen(want) && !memcmp(v, want, n);

    free(v);
    return same;
}

static struct jent *jfind(struct xlmig_xs *x, uint32_t id)
{
    for (size_t i = 0; i < x->njobs; i++)
        if (x->jobs[i].id == id)
            return &x->jobs[i];
    return NULL;
}

static struct jent *jadd(struct xlmig_xs *x, uint32_t id)
{
    struct jent *e = jfind(x, id);

    if (e)
        return e;
    if (x->njobs == x->cap) {
        size_t cap = x->cap ? x->cap * 2 : 32;
        struct jent *n = realloc(x->jobs, cap * sizeof(*n));
        if (!n)
            return NULL;
        x->jobs = n;
        x->cap = cap;
    }
    e = &x->jobs[x->njobs++];
    memset(e, 0, sizeof(*e));
    e->id = id;
    return e;
}

static void jdrop(struct xlmig_xs *x, struct jent *e)
{
    size_t i = (size_t)(e - x->jobs);

    x->jobs[i] = x->jobs[--x->njobs];
}

static void jremove_node(struct xlmig_xs *x, struct jent *e)
{
    char p[64];

    snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%" PRIu32, e->id);
    if (!xs_rm(x->h, XBT_NULL, p) && errno != ENOENT)
        LOG_WARN(x->ctx, "XenStore: cannot remove %s: %s", p,
                 strerror(errno));
    jdrop(x, e);
}

/* ---- set-up ---- */

/* /xlmig and its subtrees: dom0's, no access for any other domain. */
static int make_tree(struct xlmig_xs *x, char *why, size_t len)
{
    static const char *const nodes[] = {
        XLMIG_XS_ROOT, XLMIG_XS_REQUESTS, XLMIG_XS_JOBS, XLMIG_XS_HOST,
    };
    struct xs_permissions mine = { .id = 0, .perms = XS_PERM_NONE };

    for (size_t i = 0; i < ARRAY_SIZE(nodes); i++) {
        unsigned n = 0;
        struct xs_permissions *p;
        if (!xs_mkdir(x->h, XBT_NULL, nodes[i]))
            return xlmig_why(why, len, XLMIG_ERR_IO, "XenStore: cannot "
                             "make %s: %s", nodes[i], strerror(errno));
        p = xs_get_permissions(x->h, XBT_NULL, nodes[i], &n);
        if (p && (n != 1 || p[0].id != 0 || p[0].perms != XS_PERM_NONE))
            LOG_WARN(x->ctx, "XenStore: %s gave other domains access "
                     "(%u entries, others '%s'): made dom0's alone again",
                     nodes[i], n, p[0].perms == XS_PERM_NONE ? "none" :
                     "some");
        free(p);
        if (!xs_set_permissions(x->h, XBT_NULL, nodes[i], &mine, 1))
            return xlmig_why(why, len, XLMIG_ERR_IO, "XenStore: cannot "
                             "set %s's permissions: %s", nodes[i],
                             strerror(errno));
    }
    return 0;
}

static bool final_result(const char *r)
{
    return r && strcmp(r, "running") && strcmp(r, "in-doubt");
}

/*
 * What the last run left: a job it did not finish is "interrupted"; a
 * finished job whose request is gone, removed; a request it claimed but
 * did not answer, "interrupted"; one whose job ended, "done".  Jobs still
 * named by a request are remembered, to go with it.
 */
static void settle_previous(struct xlmig_xs *x)
{
    unsigned n = 0;
    char **ids = xs_directory(x->h, XBT_NULL, XLMIG_XS_JOBS, &n);
    char p[160], q[160];

    for (unsigned i = 0; ids && i < n; i++) {
        char *end, *res, *req;
        unsigned long id = strtoul(ids[i], &end, 10);
        if (*end || !id || id > UINT32_MAX) {
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%s", ids[i]);
            xs_rm(x->h, XBT_NULL, p);
            continue;
        }
        snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%lu/result", id);
        res = xread(x, XBT_NULL, p, NULL);
        snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%lu/request", id);
        req = xread(x, XBT_NULL, p, NULL);
        if (!final_result(res) && !(res && !strcmp(res, "in-doubt"))) {
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%lu/result", id);
            xwrite(x, XBT_NULL, p, XLMIG_XS_INTERRUPTED);
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%lu/error", id);
            xwrite(x, XBT_NULL, p, "xlmigd stopped during the job: see "
                   "xlmig status and xlmigd's log for where the domain "
                   "runs");
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%lu/cancel", id);
            xs_rm(x->h, XBT_NULL, p);
            free(res);
            res = strdup(XLMIG_XS_INTERRUPTED);
        }
        if (req && xlmig_xs_id_valid(req)) {
            snprintf(q, sizeof(q), XLMIG_XS_REQUESTS "/%s", req);
        } else {
            q[0] = '\0';
        }
        if (q[0] && exists(x, XBT_NULL, q)) {
            struct jent *e = jadd(x, (uint32_t)id);
            if (e) {
                snprintf(e->request, sizeof(e->request), "%s", req);
                e->written = e->done = e->old = true;
            }
            snprintf(q, sizeof(q), XLMIG_XS_REQUESTS "/%s/state", req);
            if (holds(x, XBT_NULL, q, XLMIG_XS_ACCEPTED))
                xwrite(x, XBT_NULL, q, XLMIG_XS_DONE);
        } else if (final_result(res)) {
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%lu", id);
            xs_rm(x->h, XBT_NULL, p);
        }
        free(res);
        free(req);
    }
    free(ids);

    ids = xs_directory(x->h, XBT_NULL, XLMIG_XS_REQUESTS, &n);
    for (unsigned i = 0; ids && i < n; i++) {
        if (!xlmig_xs_id_valid(ids[i]))
            continue;
        snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s/state", ids[i]);
        if (holds(x, XBT_NULL, p, XLMIG_XS_CLAIMED) ||
            holds(x, XBT_NULL, p, XLMIG_XS_ACCEPTED)) {
            /* claimed: answered by nobody; accepted: its job's node is
             * gone, so nothing knows how it ended. */
            xwrite(x, XBT_NULL, p, XLMIG_XS_INTERRUPTED);
            snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s/error", ids[i]);
            xwrite(x, XBT_NULL, p, "xlmigd stopped while it handled this "
                   "request: see xlmig status and xlmigd's log");
        }
    }
    free(ids);
}

/* ---- requests ---- */

/* Every key of request @id (disk_map's children as disk_map/VDEV), read
 * in @t; false with why when the request is too big to be one. */
struct kvbuf {
    struct xlmig_xs_kv kv[XLMIG_XS_KEYS_MAX + 1];
    char keys[XLMIG_XS_KEYS_MAX + 1][XLMIG_XS_KEY_MAX + 1];
    char *vals[XLMIG_XS_KEYS_MAX + 1];
    size_t n;
};

static void kv_free(struct kvbuf *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->vals[i]);
    b->n = 0;
}

static int kv_add(struct xlmig_xs *x, xs_transaction_t t, struct kvbuf *b,
                  const char *base, const char *key, char *why, size_t len)
{
    char p[XLMIG_XS_ID_MAX + 2 * XLMIG_XS_KEY_MAX + 64];
    unsigned n = 0;

    if (b->n > XLMIG_XS_KEYS_MAX)
        return xlmig_why(why, len, XLMIG_ERR_INVAL, "a request has at "
                         "most %d keys", XLMIG_XS_KEYS_MAX);
    if (strlen(key) > XLMIG_XS_KEY_MAX)
        return xlmig_why(why, len, XLMIG_ERR_INVAL, "a key's name is at "
                         "most %d characters", XLMIG_XS_KEY_MAX);
    snprintf(p, sizeof(p), "%s/%s", base, key);
    b->vals[b->n] = xread(x, t, p, &n);
    if (!b->vals[b->n])
        return xlmig_why(why, len, XLMIG_ERR_IO, "cannot read %s: %s", p,
                         strerror(errno));
    snprintf(b->keys[b->n], sizeof(b->keys[0]), "%s", key);
    b->kv[b->n].key = b->keys[b->n];
    b->kv[b->n].val = b->vals[b->n];
    b->kv[b->n].len = n;
    b->n++;
    return 0;
}

/* Only dom0 may have written it: owner 0, no domain with write. */
static int check_owner(struct xlmig_xs *x, xs_transaction_t t,
                       const char *path, char *why, size_t len)
{
    unsigned n = 0;
    struct xs_permissions *p = xs_get_permissions(x->h, t, path, &n);
    int rc = 0;

    if (!p)
        return xlmig_why(why, len, XLMIG_ERR_IO, "cannot read %s's "
                         "permissions: %s", path, strerror(errno));
    if (!n || p[0].id != 0)
        rc = xlmig_why(why, len, XLMIG_ERR_PERM, "the request belongs to "
                       "domain %u: only dom0 may make requests",
                       n ? p[0].id : 0);
    for (unsigned i = 0; !rc && i < n; i++)
        if ((p[i].perms & XS_PERM_WRITE) && (i > 0 || p[0].id != 0))
            rc = xlmig_why(why, len, XLMIG_ERR_PERM, "the request is "
                           "writable by domain %u: only dom0 may make "
                           "requests", i ? p[i].id : 0);
    if (!rc && (p[0].perms & XS_PERM_WRITE))
        rc = xlmig_why(why, len, XLMIG_ERR_PERM, "the request is "
                       "writable by every domain: only dom0 may make "
                       "requests");
    free(p);
    return rc;
}

/* Read and check request @id inside @t into @r: 0, XLMIG_ERR_IO (try
 * the transaction again) or a refusal with why. */
static int read_request(struct xlmig_xs *x, xs_transaction_t t,
                        const char *id, struct xlmig_ctl_req *r,
                        char *why, size_t len)
{
    char base[sizeof(XLMIG_XS_REQUESTS) + XLMIG_XS_ID_MAX + 8];
    char sub[sizeof(base) + 16];
    struct kvbuf *b = calloc(1, sizeof(*b));
    unsigned n = 0, m = 0;
    char **keys = NULL, **maps = NULL;
    int rc;

    if (!b)
        return XLMIG_ERR_NOMEM;
    snprintf(base, sizeof(base), XLMIG_XS_REQUESTS "/%s", id);
    rc = check_owner(x, t, base, why, len);
    if (rc)
        goto out;
    keys = xs_directory(x->h, t, base, &n);
    if (!keys) {
        rc = xlmig_why(why, len, XLMIG_ERR_IO, "cannot list %s: %s", base,
                       strerror(errno));
        goto out;
    }
    if (n > XLMIG_XS_KEYS_MAX) {
        rc = xlmig_why(why, len, XLMIG_ERR_INVAL, "a request has at most "
                       "%d keys, this one %u", XLMIG_XS_KEYS_MAX, n);
        goto out;
    }
    for (unsigned i = 0; i < n && !rc; i++) {
        if (strcmp(keys[i], "disk_map")) {
            rc = kv_add(x, t, b, base, keys[i], why, len);
            continue;
        }
        snprintf(sub, sizeof(sub), "%s/disk_map", base);
        maps = xs_directory(x->h, t, sub, &m);
        if (!maps) {
            rc = xlmig_why(why, len, XLMIG_ERR_IO, "cannot list %s: %s",
                           sub, strerror(errno));
            break;
        }
        if (!m)
            rc = xlmig_why(why, len, XLMIG_ERR_INVAL, "\"disk_map\" has "
                           "no disks: one key per disk, disk_map/VDEV = "
                           "PATH");
        for (unsigned k = 0; k < m && !rc; k++) {
            char key[XLMIG_XS_KEY_MAX + 16];
            if (strlen(maps[k]) >= 32) {
                rc = xlmig_why(why, len, XLMIG_ERR_INVAL, "disk_map's "
                               "keys are disks' names (xvda, ...)");
                break;
            }
            snprintf(key, sizeof(key), "disk_map/%s", maps[k]);
            rc = kv_add(x, t, b, base, key, why, len);
        }
        free(maps);
        maps = NULL;
    }
    if (!rc)
        rc = xlmig_xs_req_parse(b->kv, b->n, r, why, len);
out:
    free(keys);
    kv_free(b);
    free(b);
    return rc;
}

/* Write @state (and @error, @job) into request @id if it is still there,
 * in one transaction. */
static void answer(struct xlmig_xs *x, const char *id, const char *state,
                   const char *error, uint32_t job)
{
    char p[sizeof(XLMIG_XS_REQUESTS) + XLMIG_XS_ID_MAX + 16];

    for (int tries = 0;; tries++) {
        xs_transaction_t t = xs_transaction_start(x->h);
        char num[16];
        if (t == XBT_NULL)
            break;
        snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s/state", id);
        if (!exists(x, t, p)) {
            xs_transaction_end(x->h, t, true);
            return;
        }
        if (job) {
            snprintf(num, sizeof(num), "%" PRIu32, job);
            snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s/job", id);
            xwrite(x, t, p, num);
        }
        if (error) {
            snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s/error", id);
            xwrite(x, t, p, error);
        }
        snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s/state", id);
        xwrite(x, t, p, state);
        if (xs_transaction_end(x->h, t, false))
            return;
        if (errno != EAGAIN || tries >= TX_TRIES)
            break;
    }
    LOG_WARN(x->ctx, "XenStore: cannot answer request %s (%s): %s", id,
             state, strerror(errno));
}

static void flush_jobs(struct xlmig_xs *x, uint32_t *next_ms);

/* A new request: claim it, check it, run it, answer. */
static void take_request(struct xlmig_xs *x, const char *id)
{
    char base[sizeof(XLMIG_XS_REQUESTS) + XLMIG_XS_ID_MAX + 16];
    char why[512];
    struct xlmig_ctl_req r;
    uint32_t job = 0;
    int rc = 0;
    bool claimed = false;

    snprintf(base, sizeof(base), XLMIG_XS_REQUESTS "/%s/state", id);
    for (int tries = 0;; tries++) {
        xs_transaction_t t = xs_transaction_start(x->h);
        if (t == XBT_NULL) {
            LOG_WARN(x->ctx, "XenStore: no transaction for request %s: "
                     "%s", id, strerror(errno));
            return;
        }
        if (!holds(x, t, base, XLMIG_XS_NEW)) {
            xs_transaction_end(x->h, t, true);
            return;             /* someone else's, or gone */
        }
        why[0] = '\0';
        rc = read_request(x, t, id, &r, why, sizeof(why));
        if (rc == XLMIG_ERR_IO || rc == XLMIG_ERR_NOMEM) {
            xs_transaction_end(x->h, t, true);
            if (tries >= TX_TRIES) {
                LOG_WARN(x->ctx, "XenStore: request %s: %s", id, why);
                return;
            }
            continue;
        }
        if (rc) {
            char p[sizeof(base) + 16];
            snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s/error", id);
            xwrite(x, t, p, why);
            xwrite(x, t, base, XLMIG_XS_REFUSED);
        } else {
            xwrite(x, t, base, XLMIG_XS_CLAIMED);
        }
        if (xs_transaction_end(x->h, t, false)) {
            claimed = !rc;
            break;
        }
        if (errno != EAGAIN || tries >= TX_TRIES) {
            LOG_WARN(x->ctx, "XenStore: cannot claim request %s: %s", id,
                     strerror(errno));
            return;
        }
    }
    if (!claimed) {
        LOG_WARN(x->ctx, "XenStore: request %s refused: %s", id, why);
        return;
    }
    LOG_INFO(x->ctx, "XenStore: request %s: %s%s%s", id,
             xlmig_ctl_cmd_name(r.cmd), r.domain[0] ? " " : "", r.domain);
    why[0] = '\0';
    rc = x->ops.submit(x->ops.opaque, &r, id, &job, why, sizeof(why));
    if (rc) {
        LOG_WARN(x->ctx, "XenStore: request %s refused: %s", id, why);
        answer(x, id, XLMIG_XS_REFUSED, why, 0);
        return;
    }
    if (job) {
        /* The job's node is there before the answer names it. */
        struct jent *e;
        uint32_t next;
        flush_jobs(x, &next);
        e = jfind(x, job);
        answer(x, id, e && e->done ? XLMIG_XS_DONE : XLMIG_XS_ACCEPTED,
               NULL, job);
    } else {
        answer(x, id, XLMIG_XS_DONE, NULL, 0);
    }
}

static void on_request(struct xlmig_xs *x, const char *id)
{
    char p[sizeof(XLMIG_XS_REQUESTS) + XLMIG_XS_ID_MAX + 16];

    if (!xlmig_xs_id_valid(id)) {
        char q[sizeof(XLMIG_XS_REQUESTS) + 300];
        if (strlen(id) > 256)
            return;
        snprintf(q, sizeof(q), XLMIG_XS_REQUESTS "/%s/state", id);
        if (!holds(x, XBT_NULL, q, XLMIG_XS_NEW))
            return;
        snprintf(q, sizeof(q), XLMIG_XS_REQUESTS "/%s/error", id);
        xwrite(x, XBT_NULL, q, "a request's id is 1 to 64 letters, "
               "digits, '_', '-' or '.'");
        snprintf(q, sizeof(q), XLMIG_XS_REQUESTS "/%s/state", id);
        xwrite(x, XBT_NULL, q, XLMIG_XS_REFUSED);
        LOG_WARN(x->ctx, "XenStore: refused a request with a bad id");
        return;
    }
    snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s", id);
    if (!exists(x, XBT_NULL, p)) {
        /* Removed: its jobs' nodes go with it, now or once done. */
        for (size_t i = 0; i < x->njobs;) {
            struct jent *e = &x->jobs[i];
            if (strcmp(e->request, id)) {
                i++;
                continue;
            }
            if (e->done) {
                jremove_node(x, e);
                continue;
            }
            e->orphan = true;
            i++;
        }
        return;
    }
    snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s/state", id);
    if (holds(x, XBT_NULL, p, XLMIG_XS_NEW))
        take_request(x, id);
}

static void scan_requests(struct xlmig_xs *x)
{
    unsigned n = 0;
    char **ids = xs_directory(x->h, XBT_NULL, XLMIG_XS_REQUESTS, &n);

    for (unsigned i = 0; ids && i < n; i++)
        on_request(x, ids[i]);
    free(ids);
    /* Requests removed while nobody watched. */
    for (size_t i = 0; i < x->njobs; i++) {
        char p[sizeof(XLMIG_XS_REQUESTS) + XLMIG_XS_ID_MAX + 8];
        struct jent *e = &x->jobs[i];
        if (!e->request[0] || e->orphan)
            continue;
        snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s", e->request);
        if (!exists(x, XBT_NULL, p)) {
            if (e->done) {
                jremove_node(x, e);
                i--;
            } else {
                e->orphan = true;
            }
        }
    }
}

/* ---- jobs ---- */

static void write_job(struct xlmig_xs *x, const struct xlmig_xs_job *s)
{
    struct xlmig_xs_field f[XLMIG_XS_JOB_FIELDS];
    size_t nf = xlmig_xs_job_fields(s, f);
    struct jent *e = jadd(x, s->id);
    bool want = s->cancellable && !s->done, first, fresh = false;
    bool had = true;            /* the cancel node, when it was to go */
    char p[96];

    if (!e)
        return;
    if (e->old) {
        /* A number the last run used (its state directory was reset):
         * this job starts a node of its own. */
        memset(e, 0, sizeof(*e));
        e->id = s->id;
        fresh = true;
    }
    if (!e->request[0] && s->request[0])
        snprintf(e->request, sizeof(e->request), "%s", s->request);
    first = !e->written;
    for (int tries = 0;; tries++) {
        xs_transaction_t t = xs_transaction_start(x->h);
        if (t == XBT_NULL)
            goto fail;
        if (fresh) {
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%" PRIu32, s->id);
            xs_rm(x->h, t, p);
        }
        for (size_t i = 0; i < nf; i++) {
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%" PRIu32 "/%s", s->id,
                     f[i].key);
            xwrite(x, t, p, f[i].val);
        }
        if (first) {
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%" PRIu32 "/request",
                     s->id);
            xwrite(x, t, p, e->request);
            if (want) {
                snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%" PRIu32
                         "/cancel", s->id);
                xwrite(x, t, p, "");
            }
        } else if (!want && e->cancel) {
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%" PRIu32 "/cancel",
                     s->id);
            had = exists(x, t, p);
            if (had)
                xs_rm(x->h, t, p);
        }
        if (s->done && e->request[0]) {
            char q[sizeof(XLMIG_XS_REQUESTS) + XLMIG_XS_ID_MAX + 16];
            snprintf(q, sizeof(q), XLMIG_XS_REQUESTS "/%s/state",
                     e->request);
            if (holds(x, t, q, XLMIG_XS_ACCEPTED))
                xwrite(x, t, q, XLMIG_XS_DONE);
        }
        if (xs_transaction_end(x->h, t, false))
            break;
        if (errno != EAGAIN || tries >= TX_TRIES)
            goto fail;
    }
    if (!first && !want && e->cancel && !had && !s->done) {
        /* Removed by the requester just as the job passed COMMIT: too
         * late, and it is told why. */
        char why[256] = "";
        if (x->ops.cancel(x->ops.opaque, s->id, why, sizeof(why))) {
            snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%" PRIu32
                     "/cancel_error", s->id);
            xwrite(x, XBT_NULL, p, why);
        }
    }
    e->cancel = first ? want : e->cancel && want;
    e->written = true;
    e->done = s->done;
    if (e->done && e->orphan)
        jremove_node(x, e);
    return;
fail:
    LOG_WARN(x->ctx, "XenStore: cannot write job %" PRIu32 ": %s", s->id,
             strerror(errno));
}

static void flush_jobs(struct xlmig_xs *x, uint32_t *next_ms)
{
    struct xlmig_xs_job *buf = calloc(COLLECT_BATCH, sizeof(*buf));
    uint32_t forgot[64];
    size_t n;

    *next_ms = UINT32_MAX;
    if (!buf)
        return;
    do {
        uint32_t next = UINT32_MAX;
        n = x->ops.collect(x->ops.opaque, buf, COLLECT_BATCH, &next);
        if (next < *next_ms)
            *next_ms = next;
        for (size_t i = 0; i < n; i++)
            write_job(x, &buf[i]);
    } while (n == COLLECT_BATCH);
    free(buf);
    do {
        n = x->ops.forgotten(x->ops.opaque, forgot, ARRAY_SIZE(forgot));
        for (size_t i = 0; i < n; i++) {
            struct jent *e = jfind(x, forgot[i]);
            char p[sizeof(XLMIG_XS_REQUESTS) + XLMIG_XS_ID_MAX + 8];
            if (!e)
                continue;
            snprintf(p, sizeof(p), XLMIG_XS_REQUESTS "/%s", e->request);
            /* Named by a request still there: it goes with it. */
            if (e->request[0] && exists(x, XBT_NULL, p))
                continue;
            jremove_node(x, e);
        }
    } while (n == ARRAY_SIZE(forgot));
}

/* The cancel node of job @id may be gone. */
static void on_job(struct xlmig_xs *x, uint32_t id)
{
    struct jent *e = jfind(x, id);
    char p[64], why[256];

    if (!e || !e->cancel || e->done)
        return;
    snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%" PRIu32 "/cancel", id);
    if (exists(x, XBT_NULL, p))
        return;
    e->cancel = false;
    why[0] = '\0';
    if (x->ops.cancel(x->ops.opaque, id, why, sizeof(why))) {
        LOG_WARN(x->ctx, "XenStore: job %" PRIu32 "'s cancel node was "
                 "removed, but: %s", id, why);
        snprintf(p, sizeof(p), XLMIG_XS_JOBS "/%" PRIu32 "/cancel_error",
                 id);
        xwrite(x, XBT_NULL, p, why);
    } else {
        LOG_INFO(x->ctx, "XenStore: job %" PRIu32 " cancelled (its cancel "
                 "node was removed)", id);
    }
}

static void write_host(struct xlmig_xs *x)
{
    struct xlmig_xs_host h;
    char v[32];

    memset(&h, 0, sizeof(h));
    x->ops.host(x->ops.opaque, &h);
    if (x->host_written && !memcmp(&h, &x->host, sizeof(h)))
        return;
    for (int tries = 0;; tries++) {
        xs_transaction_t t = xs_transaction_start(x->h);
        if (t == XBT_NULL)
            return;
        xwrite(x, t, XLMIG_XS_HOST "/name", h.name);
        xwrite(x, t, XLMIG_XS_HOST "/schema", XLMIG_XS_SCHEMA);
        xwrite(x, t, XLMIG_XS_HOST "/version", XLMIG_VERSION);
        snprintf(v, sizeof(v), "%ld", (long)getpid());
        xwrite(x, t, XLMIG_XS_HOST "/pid", v);
        xwrite(x, t, XLMIG_XS_HOST "/drained", h.drained ? "1" : "0");
        snprintf(v, sizeof(v), "%" PRIu64, h.drained_since);
        xwrite(x, t, XLMIG_XS_HOST "/drained_since", h.drained ? v : "");
        xwrite(x, t, XLMIG_XS_HOST "/drained_reason",
               h.drained ? h.drained_reason : "");
        snprintf(v, sizeof(v), "%u", h.max_outgoing);
        xwrite(x, t, XLMIG_XS_HOST "/max_outgoing", v);
        snprintf(v, sizeof(v), "%u", h.max_incoming);
        xwrite(x, t, XLMIG_XS_HOST "/max_incoming", v);
        snprintf(v, sizeof(v), "%u", h.queued);
        xwrite(x, t, XLMIG_XS_HOST "/queued", v);
        if (xs_transaction_end(x->h, t, false))
            break;
        if (errno != EAGAIN || tries >= TX_TRIES)
            return;
    }
    x->host = h;
    x->host_written = true;
}

/* ---- the thread ---- */

static void on_watch(struct xlmig_xs *x, const char *path, const char *token)
{
    size_t nr = strlen(XLMIG_XS_REQUESTS), nj = strlen(XLMIG_XS_JOBS);

    if (!strcmp(token, "request")) {
        char id[300];
        const char *s, *slash;
        if (strncmp(path, XLMIG_XS_REQUESTS, nr) ||
            (path[nr] && path[nr] != '/'))
            return;
        if (!path[nr] || !path[nr + 1]) {
            scan_requests(x);
            return;
        }
        s = path + nr + 1;
        slash = strchr(s, '/');
        if ((size_t)(slash ? slash - s : (ptrdiff_t)strlen(s)) >= sizeof(id))
            return;
        snprintf(id, sizeof(id), "%.*s",
                 (int)(slash ? slash - s : (ptrdiff_t)strlen(s)), s);
        on_request(x, id);
    } else if (!strcmp(token, "job")) {
        char *end;
        unsigned long id;
        if (strncmp(path, XLMIG_XS_JOBS "/", nj + 1))
            return;
        id = strtoul(path + nj + 1, &end, 10);
        if (id && id <= UINT32_MAX && (!*end || !strcmp(end, "/cancel")))
            on_job(x, (uint32_t)id);
    }
}

static bool stopping_now(struct xlmig_xs *x)
{
    bool s;

    pthread_mutex_lock(&x->lock);
    s = x->stop;
    pthread_mutex_unlock(&x->lock);
    return s;
}

static void *run(void *arg)
{
    struct xlmig_xs *x = arg;
    int fd = xs_fileno(x->h);
    uint32_t next_ms;

    if (fd < 0) {
        LOG_ERR(x->ctx, "XenStore: no watch descriptor: %s",
                strerror(errno));
        goto out;
    }
    for (;;) {
        struct pollfd p[2] = {
            { .fd = fd, .events = POLLIN },
            { .fd = x->wake[0], .events = POLLIN },
        };
        bool stop = stopping_now(x);
        int timeout;

        write_host(x);
        flush_jobs(x, &next_ms);
        if (stop)
            break;
        /* At least once a second: a job's progress may be due. */
        timeout = next_ms > 1000 ? 1000 : (int)next_ms;
        if (poll(p, 2, timeout) < 0 && errno != EINTR)
            break;
        if (p[1].revents & POLLIN) {
            char b[64];
            while (read(x->wake[0], b, sizeof(b)) > 0)
                ;
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            char **w;
            while ((w = xs_check_watch(x->h))) {
                on_watch(x, w[XS_WATCH_PATH], w[XS_WATCH_TOKEN]);
                free(w);
            }
            if (errno != EAGAIN) {
                LOG_ERR(x->ctx, "XenStore: the connection to xenstored "
                        "broke (%s): requests through XenStore are not "
                        "taken until xlmigd restarts", strerror(errno));
                break;
            }
        }
    }
out:
    pthread_mutex_lock(&x->lock);
    x->running = false;
    pthread_mutex_unlock(&x->lock);
    return NULL;
}

bool xlmig_xs_running(struct xlmig_xs *x)
{
    bool r;

    if (!x)
        return false;
    pthread_mutex_lock(&x->lock);
    r = x->running;
    pthread_mutex_unlock(&x->lock);
    return r;
}

int xlmig_xs_start(xlmig_ctx *ctx, const struct xlmig_xs_ops *ops,
                   struct xlmig_xs **out, char *why, size_t len)
{
    struct xlmig_xs *x = calloc(1, sizeof(*x));
    int rc;

    *out = NULL;
    if (!x)
        return XLMIG_ERR_NOMEM;
    x->ctx = ctx;
    x->ops = *ops;
    x->wake[0] = x->wake[1] = -1;
    pthread_mutex_init(&x->lock, NULL);
    x->h = xs_open(0);
    if (!x->h) {
        rc = xlmig_why(why, len, XLMIG_ERR_UNAVAIL, "no XenStore here (%s)",
                       strerror(errno));
        goto fail;
    }
    if (pipe2(x->wake, O_CLOEXEC | O_NONBLOCK)) {
        rc = xlmig_why(why, len, XLMIG_ERR_IO, "pipe: %s", strerror(errno));
        goto fail;
    }
    rc = make_tree(x, why, len);
    if (rc)
        goto fail;
    settle_previous(x);
    /* Each fires once at once: the first scan. */
    if (!xs_watch(x->h, XLMIG_XS_REQUESTS, "request") ||
        !xs_watch(x->h, XLMIG_XS_JOBS, "job")) {
        rc = xlmig_why(why, len, XLMIG_ERR_IO, "XenStore: cannot watch "
                       XLMIG_XS_ROOT ": %s", strerror(errno));
        goto fail;
    }
    x->running = true;
    if (pthread_create(&x->thr, NULL, run, x)) {
        rc = xlmig_why(why, len, XLMIG_ERR_NOMEM, "cannot start the "
                       "XenStore thread");
        goto fail;
    }
    *out = x;
    return 0;
fail:
    if (x->h)
        xs_close(x->h);
    if (x->wake[0] >= 0) {
        close(x->wake[0]);
        close(x->wake[1]);
    }
    pthread_mutex_destroy(&x->lock);
    free(x);
    return rc;
}

void xlmig_xs_wake(struct xlmig_xs *x)
{
    char c = 1;

    if (x && write(x->wake[1], &c, 1) < 0) {
        /* Full: it is awake already. */
    }
}

void xlmig_xs_stop(struct xlmig_xs *x)
{
    if (!x)
        return;
    pthread_mutex_lock(&x->lock);
    x->stop = true;
    pthread_mutex_unlock(&x->lock);
    xlmig_xs_wake(x);
    pthread_join(x->thr, NULL);
    xs_close(x->h);
    close(x->wake[0]);
    close(x->wake[1]);
    pthread_mutex_destroy(&x->lock);
    free(x->jobs);
    free(x);
}
