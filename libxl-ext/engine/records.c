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
static int record_write(xlmig_ctx *ctx, const char *dir, const char *name,
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

static int record_read(const char *path, char *buf, size_t len)
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
static void record_get(const char *text, const char *key, char *out,
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
                     const char *peer, uint64_t wire, uint32_t state,
                     const char *domain)
{
    char dir[XLMIGD_PATH_MAX + 8], name[96], text[256];

    snprintf(dir, sizeof(dir), "%s/in", cfg->state_dir);
    in_record_name(name, sizeof(name), peer, wire);
    snprintf(text, sizeof(text), "state=%s\ndomain=%s\n",
             in_state_names[state], domain);
    return record_write(ctx, dir, name, text);
}

int xlmig_state_in_read(const char *dir, const char *peer, uint64_t wire,
                        char *domain, size_t len)
{
    char path[XLMIGD_PATH_MAX + 128], name[96], text[256], st[32];

    in_record_name(name, sizeof(name), peer, wire);
    snprintf(path, sizeof(path), "%s/in/%s", dir, name);
    if (record_read(path, text, sizeof(text)))
        return XLMIG_JOBSTATE_UNKNOWN;
    record_get(text, "state", st, sizeof(st));
    record_get(text, "domain", domain, len);
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
    if (!record_read(path, text, sizeof(text)))
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
                      const struct xlmigd_peer *p)
{
    char dir[XLMIGD_PATH_MAX + 8], name[16], text[512];

    snprintf(dir, sizeof(dir), "%s/out", cfg->state_dir);
    snprintf(name, sizeof(name), "%u", j->job.id);
    snprintf(text, sizeof(text),
             "state=commit-sent\nid=%u\nwire=%016" PRIx64 "\ndomain=%s\n"
             "peer=%s\naddr=%s\nport=%u\n", j->job.id, j->wire_id,
             j->job.domain, p->name, p->addr, p->port);
    return record_write(ctx, dir, name, text);
}

void xlmig_state_out_remove(const struct xlmigd_config *cfg, uint32_t id)
{
    char path[XLMIGD_PATH_MAX + 24];

    snprintf(path, sizeof(path), "%s/out/%u", cfg->state_dir, id);
    unlink(path);
}

int xlmig_state_out_list(xlmig_ctx *ctx, const char *dir,
                         struct xlmig_indoubt **out, unsigned *n)
{
    char path[XLMIGD_PATH_MAX + 8], f[XLMIGD_PATH_MAX + 300], text[512];
    char v[64];
    struct xlmig_indoubt *a = NULL;
    struct dirent *de;
    unsigned cnt = 0;
    DIR *d;

    *out = NULL;
    *n = 0;
    snprintf(path, sizeof(path), "%s/out", dir);
    d = opendir(path);
    if (!d)
        return errno == ENOENT ? 0 : xlmig_errno_rc(errno);
    while ((de = readdir(d))) {
        struct xlmig_indoubt x, *na;
        char *end;
        if (de->d_name[0] == '.' || strchr(de->d_name, '.'))
            continue;
        snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
        if (record_read(f, text, sizeof(text)))
            continue;
        memset(&x, 0, sizeof(x));
        record_get(text, "id", v, sizeof(v));
        x.id = (uint32_t)strtoul(v, NULL, 10);
        record_get(text, "wire", v, sizeof(v));
        x.wire_id = strtoull(v, &end, 16);
        record_get(text, "domain", x.domain, sizeof(x.domain));
        record_get(text, "peer", x.dest.name, sizeof(x.dest.name));
        record_get(text, "addr", x.dest.addr, sizeof(x.dest.addr));
        record_get(text, "port", v, sizeof(v));
        x.dest.port = (uint16_t)strtoul(v, NULL, 10);
        if (!x.id || !x.domain[0] || !x.dest.name[0] || !x.dest.port) {
            LOG_WARN(ctx, "ignoring unreadable job record %s", f);
            continue;
        }
        na = realloc(a, (cnt + 1) * sizeof(*a));
        if (!na) {
            free(a);
            closedir(d);
            return XLMIG_ERR_NOMEM;
        }
        a = na;
        a[cnt++] = x;
    }
    closedir(d);
    *out = a;
    *n = cnt;
    return 0;
}

void xlmig_state_reconcile_in(xlmig_ctx *ctx, const char *dir)
{
    char path[XLMIGD_PATH_MAX + 8], f[XLMIGD_PATH_MAX + 300], text[256];
    char st[32], dom[XLMIG_NAME_MAX];
    struct dirent *de;
    DIR *d;

    snprintf(path, sizeof(path), "%s/in", dir);
    d = opendir(path);
    if (!d)
        return;
    while ((de = readdir(d))) {
        struct xlmig_dominfo info;
        struct xlmig_dom *h = NULL;
        if (de->d_name[0] == '.')
            continue;
        snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
        if (record_read(f, text, sizeof(text)))
            continue;
        record_get(text, "state", st, sizeof(st));
        record_get(text, "domain", dom, sizeof(dom));
        if (strcmp(st, "prepared") && strcmp(st, "committed"))
            continue;
        if (xlmig_domain_find(ctx, dom, &info) ||
            ctx->ops->attach(ctx, &info, &h)) {
            if (!strcmp(st, "prepared")) {
                char rec[128];
                snprintf(rec, sizeof(rec), "state=rolledback\ndomain=%s\n",
                         dom);
                (void)record_write(ctx, path, de->d_name, rec);
            }
            continue;
        }
        if (!strcmp(st, "prepared")) {
            char rec[128];
            LOG_WARN(ctx, "incoming %s (%s) was never committed: "
                     "destroying the partial copy", dom, de->d_name);
            if (ctx->ops->destroy(ctx, h))
                LOG_ERR(ctx, "could not destroy the partial copy of %s",
                        dom);
            snprintf(rec, sizeof(rec), "state=rolledback\ndomain=%s\n", dom);
            (void)record_write(ctx, path, de->d_name, rec);
        } else if (info.state == XLMIG_DOM_PAUSED) {
            LOG_WARN(ctx, "incoming %s (%s) was committed but not yet "
                     "running: unpausing it", dom, de->d_name);
            if (ctx->ops->unpause(ctx, h))
                LOG_ERR(ctx, "could not unpause %s", dom);
        }
        ctx->ops->detach(ctx, h);
    }
    closedir(d);
}


int xlmig_state_answer_query(xlmig_ctx *ctx, struct xlmig_conn *c,
                        const struct xlmigd_config *cfg)
{
    uint64_t wire = xlmig_msg_get_u64(c->body);
    uint8_t b[XLMIG_MSG_JOB_STATE_SIZE];
    char dom[XLMIG_NAME_MAX] = "";
    int st = xlmig_state_in_read(cfg->state_dir, c->peer, wire, dom,
                                 sizeof(dom));

    if (st == XLMIG_JOBSTATE_RUNNING) {
        /* Committed: make sure it runs (a daemon killed between its
         * record and the unpause leaves it paused). */
        struct xlmig_dominfo info;
        struct xlmig_dom *h;
        if (xlmig_domain_find(ctx, dom, &info) ||
            ctx->ops->attach(ctx, &info, &h)) {
            LOG_ERR(ctx, "job %016" PRIx64 " from %s was committed but "
                    "domain %s is gone", wire, c->peer, dom);
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
