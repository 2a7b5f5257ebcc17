/*
 * Durable job records (docs/specs/state.md) and the recovery they allow:
 * the source writes one before it sends COMMIT, the destination one at
 * PREPARE and again, durably, before it acts on COMMIT.  A restarted
 * daemon reconciles what its last run left; `xlmig recover` settles a
 * job in doubt by asking its destination (QUERY, answered here too).
 */
#include "engine/records.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/cursor.h"

static int mkdirs(const char *dir)
{
    char p[XLMIGD_PATH_MAX + 8];

    snprintf(p, sizeof(p), "%s", dir);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0700) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Write @text to @dir/@name durably (temp, fsync, rename, fsync dir). */
int xlmig_record_write(xlmig_ctx *ctx, const char *dir, const char *name,
                       const char *text)
{
    char path[XLMIGD_PATH_MAX + 96], tmp[XLMIGD_PATH_MAX + 104];
    int fd, dfd, r;

    r = mkdirs(dir);
    if (r) {
        LOG_ERR(ctx, "cannot create %s: %s", dir, strerror(-r));
        return xlmig_errno_rc(-r);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || xlmig_write_all(fd, text, strlen(text)) || fsync(fd) ||
        close(fd) || rename(tmp, path)) {
        r = errno;
        LOG_ERR(ctx, "cannot record job state in %s: %s", path,
                strerror(r));
        if (fd >= 0)
            unlink(tmp);
        return xlmig_errno_rc(r);
    }
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        if (fsync(dfd))
            LOG_WARN(ctx, "fsync %s: %s", dir, strerror(errno));
        close(dfd);
    }
    return 0;
}

int xlmig_record_read(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    int r;

    if (fd < 0)
        return -errno;
    r = xlmig_read_exact(fd, buf, len - 1, &got);
    close(fd);
    if (r < 0)
        return r;
    buf[got] = '\0';
    return 0;
}

/* Value of "key=" in a record, or "". */
void xlmig_record_get(const char *text, const char *key, char *out,
                      size_t len)
{
    size_t kl = strlen(key);
    const char *p = text;

    out[0] = '\0';
    while (p && *p) {
        if (!strncmp(p, key, kl) && p[kl] == '=') {
            const char *v = p + kl + 1, *e = strchr(v, '\n');
            size_t n = e ? (size_t)(e - v) : strlen(v);
            if (n >= len)
                n = len - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return;
        }
        p = strchr(p, '\n');
        if (p)
            p++;
    }
}

static const char *const in_state_names[] = {
    [XLMIG_JOBSTATE_UNKNOWN] = "unknown",
    [XLMIG_JOBSTATE_PREPARED] = "prepared",
    [XLMIG_JOBSTATE_RUNNING] = "committed",
    [XLMIG_JOBSTATE_ROLLEDBACK] = "rolledback",
};

static void in_record_name(char *buf, size_t len, const char *peer,
                           uint64_t wire)
{
    snprintf(buf, len, "%s.%016" PRIx64, peer, wire);
}

int xlmig_state_in_record(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                          const char *peer, const struct xlmig_mjob *j,
                          uint32_t state, const uint8_t uuid[16],
                          uint32_t domid)
{
    char dir[XLMIGD_PATH_MAX + 8], name[96], text[320], u[37];

    snprintf(dir, sizeof(dir), "%s/in", cfg->state_dir);
    in_record_name(name, sizeof(name), peer, j->wire_id);
    xlmig_uuid_format(uuid, u);
    snprintf(text, sizeof(text), "state=%s\njob=%u\ndomain=%s\nuuid=%s\n"
             "domid=%u\n", in_state_names[state], j->job.id, j->job.domain,
             u, domid);
    return xlmig_record_write(ctx, dir, name, text);
}

void xlmig_state_in_retire(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                           const char *peer, uint64_t wire)
{
    char path[XLMIGD_PATH_MAX + 128], name[96];

    in_record_name(name, sizeof(name), peer, wire);
    snprintf(path, sizeof(path), "%s/in/%s", cfg->state_dir, name);
    if (unlink(path) < 0 && errno != ENOENT)
        LOG_WARN(ctx, "cannot retire the record %s: %s", path,
                 strerror(errno));
}

int xlmig_state_in_read(const char *dir, const char *peer, uint64_t wire,
                        char *domain, size_t len)
{
    char path[XLMIGD_PATH_MAX + 128], name[96], text[256], st[32];

    in_record_name(name, sizeof(name), peer, wire);
    snprintf(path, sizeof(path), "%s/in/%s", dir, name);
    if (xlmig_record_read(path, text, sizeof(text)))
        return XLMIG_JOBSTATE_UNKNOWN;
    xlmig_record_get(text, "state", st, sizeof(st));
    xlmig_record_get(text, "domain", domain, len);
    for (uint32_t s = 1; s < ARRAY_SIZE(in_state_names); s++)
        if (!strcmp(st, in_state_names[s]))
            return (int)s;
    return XLMIG_JOBSTATE_UNKNOWN;
}

uint32_t xlmig_state_next_id(const char *dir)
{
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    char path[XLMIGD_PATH_MAX + 16], text[32];
    unsigned long id = 0;
    int fd;

    pthread_mutex_lock(&lock);
    snprintf(path, sizeof(path), "%s/next-job", dir);
    if (!xlmig_record_read(path, text, sizeof(text)))
        id = strtoul(text, NULL, 10);
    if (id == 0 || id > UINT32_MAX - 1)
        id = 1;
    (void)mkdirs(dir);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        dprintf(fd, "%lu\n", id + 1);
        close(fd);
    }
    pthread_mutex_unlock(&lock);
    return (uint32_t)id;
}

int xlmig_state_out_record(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                           const struct xlmig_mjob *j,
                           const struct xlmigd_peer *p,
                           const uint8_t uuid[16])
{
    char dir[XLMIGD_PATH_MAX + 8], name[16], text[560], u[37];

    snprintf(dir, sizeof(dir), "%s/out", cfg->state_dir);
    snprintf(name, sizeof(name), "%u", j->job.id);
    xlmig_uuid_format(uuid, u);
    snprintf(text, sizeof(text),
             "state=commit-sent\nid=%u\nwire=%016" PRIx64 "\ndomain=%s\n"
             "uuid=%s\npeer=%s\naddr=%s\nport=%u\n", j->job.id,
             j->wire_id, j->job.domain, u, p->name, p->addr, p->port);
    return xlmig_record_write(ctx, dir, name, text);
}

void xlmig_state_out_remove(const struct xlmigd_config *cfg, uint32_t id)
{
    char path[XLMIGD_PATH_MAX + 24];

    snprintf(path, sizeof(path), "%s/out/%u", cfg->state_dir, id);
    unlink(path);
}

/*
 * Every record in @dir (temporary files left out), read and handed to
 * @parse, which fills the @size-octet element @x from the file's text and
 * returns false to leave the record out: a malloc'd array in *out.
 */
static int record_scan(const char *dir, size_t size,
                       bool (*parse)(const char *name, const char *text,
                                     void *x, void *arg),
                       void *arg, void **out, unsigned *n)
{
    char f[XLMIGD_PATH_MAX + 300], text[560];
    uint8_t *a = NULL, *x;
    struct dirent *de;
    unsigned cnt = 0;
    size_t l;
    DIR *d;

    *out = NULL;
    *n = 0;
    d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : xlmig_errno_rc(errno);
    x = calloc(1, size);
    if (!x) {
        closedir(d);
        return XLMIG_ERR_NOMEM;
    }
    while ((de = readdir(d))) {
        uint8_t *na;
        l = strlen(de->d_name);
        if (de->d_name[0] == '.' ||
            (l > 4 && !strcmp(de->d_name + l - 4, ".tmp")))
            continue;
        snprintf(f, sizeof(f), "%s/%s", dir, de->d_name);
        if (xlmig_record_read(f, text, sizeof(text)))
            continue;
        memset(x, 0, size);
        if (!parse(de->d_name, text, x, arg))
            continue;
        na = realloc(a, (cnt + 1) * size);
        if (!na) {
            free(a);
            free(x);
            closedir(d);
            return XLMIG_ERR_NOMEM;
        }
        a = na;
        memcpy(a + cnt++ * size, x, size);
    }
    free(x);
    closedir(d);
    *out = a;
    *n = cnt;
    return 0;
}

static bool parse_indoubt(const char *name, const char *text, void *xp,
                          void *arg)
{
    struct xlmig_indoubt *x = xp;
    xlmig_ctx *ctx = arg;
    char v[64];

    xlmig_record_get(text, "id", v, sizeof(v));
    x->id = (uint32_t)strtoul(v, NULL, 10);
    xlmig_record_get(text, "wire", v, sizeof(v));
    x->wire_id = strtoull(v, NULL, 16);
    xlmig_record_get(text, "domain", x->domain, sizeof(x->domain));
    xlmig_record_get(text, "peer", x->dest.name, sizeof(x->dest.name));
    xlmig_record_get(text, "addr", x->dest.addr, sizeof(x->dest.addr));
    xlmig_record_get(text, "port", v, sizeof(v));
    x->dest.port = (uint16_t)strtoul(v, NULL, 10);
    if (!x->id || !x->domain[0] || !x->dest.name[0] || !x->dest.port) {
        LOG_WARN(ctx, "ignoring unreadable job record out/%s", name);
        return false;
    }
    return true;
}

int xlmig_state_out_list(xlmig_ctx *ctx, const char *dir,
                         struct xlmig_indoubt **out, unsigned *n)
{
    char path[XLMIGD_PATH_MAX + 8];
    void *a;
    int rc;

    snprintf(path, sizeof(path), "%s/out", dir);
    rc = record_scan(path, sizeof(**out), parse_indoubt, ctx, &a, n);
    *out = a;
    return rc;
}

/* What a job record says of its domain, for reconciliation. */
struct rec_dom {
    char file[256];
    char state[32];
    char domain[XLMIG_NAME_MAX];
    char uuid[40];              /* "" in records of older versions */
    uint32_t job;               /* this host's job number; 0: older */
    uint32_t domid;             /* the instance a restore made; 0: none */
};

static bool parse_rec_dom(const char *name, const char *text, void *xp,
                          void *arg)
{
    struct rec_dom *x = xp;
    char v[32];

    (void)arg;
    snprintf(x->file, sizeof(x->file), "%s", name);
    xlmig_record_get(text, "state", x->state, sizeof(x->state));
    xlmig_record_get(text, "domain", x->domain, sizeof(x->domain));
    xlmig_record_get(text, "uuid", x->uuid, sizeof(x->uuid));
    xlmig_record_get(text, "job", v, sizeof(v));
    if (!v[0])
        xlmig_record_get(text, "id", v, sizeof(v));   /* out records */
    x->job = (uint32_t)strtoul(v, NULL, 10);
    xlmig_record_get(text, "domid", v, sizeof(v));
    x->domid = (uint32_t)strtoul(v, NULL, 10);
    return true;
}

/* Every record in @dir, for reconciliation (malloc'd array in *out). */
static int rec_doms(const char *dir, struct rec_dom **out, unsigned *n)
{
    void *a;
    int rc = record_scan(dir, sizeof(**out), parse_rec_dom, NULL, &a, n);

    *out = a;
    return rc;
}

static bool same_domain(const struct rec_dom *a, const struct rec_dom *b)
{
    if (a->uuid[0] && b->uuid[0])
        return !strcmp(a->uuid, b->uuid);
    return !strcmp(a->domain, b->domain);
}

/*
 * A later job of this host touched the domain of @r: another incoming
 * one, or an outgoing one (this host suspended it or sent it away).  Job
 * numbers come from one counter for both directions.
 */
static const char *superseded(const struct rec_dom *r,
                              const struct rec_dom *in, unsigned nin,
                              const struct rec_dom *out, unsigned nout,
                              uint32_t *by)
{
    for (unsigned i = 0; i < nin; i++)
        if (&in[i] != r && in[i].job > r->job && same_domain(&in[i], r)) {
            *by = in[i].job;
            return "an incoming job";
        }
    for (unsigned i = 0; i < nout; i++)
        if (out[i].job > r->job && same_domain(&out[i], r)) {
            *by = out[i].job;
            return "an outgoing job";
        }
    return NULL;
}

/* The domain a record names, by UUID where the record has one. */
static int find_recorded(xlmig_ctx *ctx, const struct rec_dom *r,
                         struct xlmig_dominfo *info)
{
    struct xlmig_dominfo *all = NULL;
    unsigned n = 0;
    int rc = XLMIG_ERR_NOTFOUND;

    if (xlmig_domain_list(ctx, &all, &n))
        return XLMIG_ERR_BACKEND;
    for (unsigned i = 0; i < n; i++) {
        char u[37];
        xlmig_uuid_format(all[i].uuid, u);
        if (r->uuid[0] ? !strcmp(u, r->uuid) :
                         !strcmp(all[i].name, r->domain)) {
            *info = all[i];
            rc = 0;
            break;
        }
    }
    free(all);
    return rc;
}

static void mark_rolledback(xlmig_ctx *ctx, const char *dir,
                            const struct rec_dom *r)
{
    char rec[320];

    snprintf(rec, sizeof(rec), "state=rolledback\njob=%u\ndomain=%s\n"
             "uuid=%s\ndomid=%u\n", r->job, r->domain, r->uuid, r->domid);
    if (xlmig_record_write(ctx, dir, r->file, rec))
        return;                 /* logged; the next start tries again */
}

void xlmig_state_reconcile_in(xlmig_ctx *ctx, const char *dir)
{
    char in_dir[XLMIGD_PATH_MAX + 8], out_dir[XLMIGD_PATH_MAX + 8];
    struct rec_dom *in = NULL, *out = NULL;
    unsigned nin = 0, nout = 0;

    snprintf(in_dir, sizeof(in_dir), "%s/in", dir);
    snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
    if (rec_doms(in_dir, &in, &nin) || rec_doms(out_dir, &out, &nout)) {
        LOG_ERR(ctx, "cannot read the job records in %s: incoming jobs a "
                "dead daemon left are not reconciled", dir);
        goto out;
    }
    for (unsigned i = 0; i < nin; i++) {
        const struct rec_dom *r = &in[i];
        struct xlmig_dominfo info;
        struct xlmig_dom *h = NULL;
        const char *later;
        uint32_t by = 0;
        bool prepared = !strcmp(r->state, "prepared");

        if (!prepared && strcmp(r->state, "committed"))
            continue;
        later = superseded(r, in, nin, out, nout, &by);
        if (later) {
            /* Its domain has moved on since: what runs or is suspended
             * here now belongs to job @by, never to this record. */
            LOG_INFO(ctx, "incoming %s (%s, job %u) is older than %s of the "
                     "same domain (job %u): left alone", r->domain, r->file,
                     r->job, later, by);
            if (prepared)
                mark_rolledback(ctx, in_dir, r);
            continue;
        }
        if (find_recorded(ctx, r, &info)) {
            if (prepared)
                mark_rolledback(ctx, in_dir, r);
            continue;
        }
        if (r->domid && info.domid != r->domid) {
            LOG_WARN(ctx, "incoming %s (%s): domain %s is domid %u, not the "
                     "domid %u this job restored: left alone", r->domain,
                     r->file, info.name, info.domid, r->domid);
            continue;
        }
        if (ctx->ops->attach(ctx, &info, &h))
            continue;
        if (prepared) {
            LOG_WARN(ctx, "incoming %s (%s) was never committed: "
                     "destroying the partial copy", r->domain, r->file);
            if (ctx->ops->destroy(ctx, h))
                LOG_ERR(ctx, "could not destroy the partial copy of %s",
                        r->domain);
            mark_rolledback(ctx, in_dir, r);
        } else if (info.state == XLMIG_DOM_PAUSED) {
            LOG_WARN(ctx, "incoming %s (%s) was committed but not yet "
                     "running: unpausing it", r->domain, r->file);
            if (ctx->ops->unpause(ctx, h))
                LOG_ERR(ctx, "could not unpause %s", r->domain);
        }
        ctx->ops->detach(ctx, h);
    }
out:
    free(in);
    free(out);
}

/*
 * The instance incoming record @file (in @dir/in) restored, if this
 * daemon may still act on it: no later job of this host has touched its
 * domain, and the domain with its UUID is the domid the job made.  0 with
 * *info filled, or XLMIG_ERR_* with the reason logged.
 */
static int recorded_instance(xlmig_ctx *ctx, const char *dir,
                             const char *file, struct xlmig_dominfo *info)
{
    char in_dir[XLMIGD_PATH_MAX + 8], out_dir[XLMIGD_PATH_MAX + 8];
    struct rec_dom *in = NULL, *out = NULL, *r = NULL;
    unsigned nin = 0, nout = 0;
    const char *later;
    uint32_t by = 0;
    int rc;

    snprintf(in_dir, sizeof(in_dir), "%s/in", dir);
    snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
    rc = rec_doms(in_dir, &in, &nin);
    if (!rc)
        rc = rec_doms(out_dir, &out, &nout);
    if (rc)
        goto out;
    for (unsigned i = 0; i < nin; i++)
        if (!strcmp(in[i].file, file))
            r = &in[i];
    rc = XLMIG_ERR_NOTFOUND;
    if (!r)
        goto out;
    later = superseded(r, in, nin, out, nout, &by);
    if (later) {
        LOG_INFO(ctx, "job %s: %s of %s came later (job %u): not touched",
                 file, later, r->domain, by);
        rc = XLMIG_ERR_STATE;
        goto out;
    }
    rc = find_recorded(ctx, r, info);
    if (!rc && r->domid && info->domid != r->domid) {
        LOG_WARN(ctx, "job %s: %s is domid %u, not the domid %u it "
                 "restored: not touched", file, info->name, info->domid,
                 r->domid);
        rc = XLMIG_ERR_STATE;
    }
out:
    free(in);
    free(out);
    return rc;
}

int xlmig_state_answer_query(xlmig_ctx *ctx, struct xlmig_conn *c,
                             const struct xlmigd_config *cfg)
{
    uint64_t wire = xlmig_msg_get_u64(c->body);
    uint8_t b[XLMIG_MSG_JOB_STATE_SIZE];
    char dom[XLMIG_NAME_MAX] = "", file[96];
    int st = xlmig_state_in_read(cfg->state_dir, c->peer, wire, dom,
                                 sizeof(dom));

    if (st == XLMIG_JOBSTATE_RUNNING) {
        /* Committed: make sure it runs (a daemon killed between its
         * record and the unpause leaves it paused), if it is still the
         * instance this job made. */
        struct xlmig_dominfo info;
        struct xlmig_dom *h;
        in_record_name(file, sizeof(file), c->peer, wire);
        if (xlmig_ctx_backend_open(ctx) ||
            recorded_instance(ctx, cfg->state_dir, file, &info) ||
            ctx->ops->attach(ctx, &info, &h)) {
            LOG_WARN(ctx, "job %016" PRIx64 " from %s was committed; domain "
                     "%s is no longer its to start", wire, c->peer, dom);
        } else {
            if (info.state == XLMIG_DOM_PAUSED &&
                ctx->ops->unpause(ctx, h))
                LOG_ERR(ctx, "cannot unpause %s", dom);
            ctx->ops->detach(ctx, h);
        }
    }
    LOG_INFO(ctx, "%s asks about job %016" PRIx64 ": %s", c->peer, wire,
             in_state_names[st]);
    xlmig_msg_put_job_state(b, wire, (uint32_t)st);
    return xlmig_conn_send(c, XLMIG_MSG_JOB_STATE, b, sizeof(b));
}

/* ------------------------------------------------------------------ */
/* Recovery                                                            */

int xlmig_recover(xlmig_ctx *ctx, struct xlmig_tls *tls,
                  const struct xlmigd_config *cfg,
                  const struct xlmig_indoubt *x, int *there, char *outcome,
                  size_t len)
{
    struct xlmig_conn c;
    struct xlmig_tls_conn *tc = NULL;
    struct xlmig_dominfo info;
    struct xlmig_dom *dom = NULL;
    uint8_t b[8];
    uint32_t st;
    int fd, rc;

    snprintf(outcome, len, "not settled");
    fd = xlmig_dial(ctx, &x->dest, cfg->io_timeout_s);
    if (fd < 0) {
        snprintf(outcome, len, "%s cannot be reached; still in doubt",
                 x->dest.name);
        return fd;
    }
    rc = xlmig_tls_connect(ctx, tls, fd, x->dest.name, &tc);
    if (rc) {
        snprintf(outcome, len, "TLS with %s failed; still in doubt",
                 x->dest.name);
        return rc;
    }
    rc = xlmig_conn_init(&c, ctx, tc, x->dest.name);
    if (rc) {
        xlmig_tls_close(tc);
        return rc;
    }
    rc = xlmig_hello(&c, false, cfg->host_name, ctx->ops->name);
    if (!rc) {
        xlmig_put_u64(b, x->wire_id);
        rc = xlmig_conn_send(&c, XLMIG_MSG_QUERY, b, 8);
    }
    if (!rc)
        rc = xlmig_conn_expect(&c, XLMIG_MSG_JOB_STATE);
    if (!rc && xlmig_get_u64(c.body) != x->wire_id)
        rc = XLMIG_ERR_PEER;
    st = rc ? 0 : xlmig_get_u32(c.body + 8);
    xlmig_conn_dispose(&c);
    *there = (int)st;
    if (rc) {
        snprintf(outcome, len, "%s did not answer; still in doubt",
                 x->dest.name);
        return rc;
    }
    if (st == XLMIG_JOBSTATE_PREPARED) {
        snprintf(outcome, len, "%s is still finishing job %u; try again",
                 x->dest.name, x->id);
        return XLMIG_ERR_INDOUBT;
    }
    if (xlmig_domain_find(ctx, x->domain, &info) ||
        ctx->ops->attach(ctx, &info, &dom)) {
        /* Nothing here to settle. */
        snprintf(outcome, len, "%s: %s there, no copy here", x->domain,
                 st == XLMIG_JOBSTATE_RUNNING ? "runs" : "does not run");
        xlmig_state_out_remove(cfg, x->id);
        return 0;
    }
    if (st == XLMIG_JOBSTATE_RUNNING) {
        rc = ctx->ops->destroy(ctx, dom);
        snprintf(outcome, len, "%s runs on %s: source copy destroyed",
                 x->domain, x->dest.name);
    } else {
        rc = ctx->ops->resume(ctx, dom);
        snprintf(outcome, len, "%s never ran on %s (%s): resumed here",
                 x->domain, x->dest.name,
                 st == XLMIG_JOBSTATE_ROLLEDBACK ? "rolled back there" :
                                                   "unknown there");
    }
    ctx->ops->detach(ctx, dom);
    if (rc) {
        snprintf(outcome, len, "settling %s failed: %s", x->domain,
                 xlmig_strerror(rc));
        return rc;
    }
    xlmig_state_out_remove(cfg, x->id);
    LOG_INFO(ctx, "job %u: %s", x->id, outcome);
    return 0;
}
