/*
 * xlmig evacuate, drain, undrain (docs/orchestration.md): empty this host
 * of its domains, through its xlmigd.
 *
 * Nothing moves before the whole plan exists: every domain is checked
 * against every candidate destination by a check-only preflight (the
 * same checks a migration runs first), its dirty rate is sampled, and
 * the planner (engine/evac.h) places the domains by memory among the
 * destinations that accepted them and chooses how many to move at once.
 * A domain with no place refuses the whole plan unless --best-effort.
 * Then the migrations run, a window at a time, each its own xlmigd job;
 * one that fails leaves its domain here and the others go on.
 *
 * Exit status: 0 every domain moved (or, --dry-run, the plan places
 * them all), 1 some migration failed (those domains run here), 2 usage,
 * 3 the plan was refused (nothing moved), 4 a migration is in doubt.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/evac.h"
#include "xlmig/client.h"
#include "xlmig/commands.h"

#define SAMPLE_MS 1000
#define SETUP_S 0.3             /* the planner's default */
#define PREFLIGHTS_AT_ONCE 16

struct opts {
    char to[XLMIG_EVAC_HOSTS_MAX][XLMIG_NAME_MAX];
    unsigned nto;
    bool dry_run, best_effort, json, auto_converge;
    uint64_t bandwidth_mib, link_mib, max_downtime_ms;
    unsigned window;
};

struct cand {                   /* one domain of this host */
    struct xlmig_dominfo info;
    char why[XLMIG_EVAC_HOSTS_MAX][200];       /* a destination refused */
    bool checked[XLMIG_EVAC_HOSTS_MAX];
};

struct evac {
    struct opts o;
    char self[XLMIG_NAME_MAX];
    unsigned max_outgoing, per_dest;
    /* history: the best throughput of a finished job to each peer */
    struct xlmig_evac_host hosts[XLMIG_EVAC_HOSTS_MAX];
    uint64_t link;              /* bytes/s this host sends; 0 unknown */
    char link_src[64];
    bool host_down[XLMIG_EVAC_HOSTS_MAX];
    char host_why[XLMIG_EVAC_HOSTS_MAX][200];
    bool host_seen_free[XLMIG_EVAC_HOSTS_MAX];
    unsigned nh;
    struct cand *c;
    struct xlmig_evac_dom *d;
    unsigned nd;
    char skipped[4096];
};

/* ---- one request, its events until "done" ---- */

struct conn {
    int fd;
    struct reader rd;
    unsigned dom, host;         /* what it is about */
    unsigned job;
    bool busy;                  /* refused only as busy */
    double t0;
};

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static struct conn *conn_open(const struct xlmig_ctl_req *r)
{
    struct conn *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->fd = ctl_connect();
    if (c->fd < 0 || ctl_send(c->fd, r)) {
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return NULL;
    }
    c->rd.fd = c->fd;
    c->t0 = now_s();
    return c;
}

static void conn_close(struct conn *c)
{
    if (c) {
        close(c->fd);
        free(c);
    }
}

/* One event of @c, waiting for it (the caller polled first). */
static yajl_val conn_event(struct conn *c, char *raw, size_t rawlen)
{
    bool intr = false;

    return next_event(&c->rd, raw, rawlen, &intr);
}

/* ---- what the daemon says of itself ---- */

static yajl_val job_of(yajl_val jobs, unsigned id)
{
    for (size_t i = 0; jobs && i < jobs->u.array.len; i++)
        if ((unsigned)jnum(jobs->u.array.values[i], "job") == id)
            return jobs->u.array.values[i];
    return NULL;
}

/* xlmigd's status event (in @raw), or NULL when there is none (*@got:
 * what came instead, for its error; freed by the caller). */
static yajl_val ask_status(char *raw, size_t len, yajl_val *got)
{
    struct xlmig_ctl_req r;
    struct conn *c;
    yajl_val v;

    *got = NULL;
    memset(&r, 0, sizeof(r));
    r.cmd = XLMIG_CTL_STATUS;
    c = conn_open(&r);
    if (!c)
        return NULL;
    v = conn_event(c, raw, len);
    conn_close(c);
    if (v && !strcmp(jstr(v, "event"), "status"))
        return v;
    *got = v;
    return NULL;
}

static int read_status(struct evac *e)
{
    static char raw[1 << 18];
    yajl_val v, a, got;
    const char *peers[] = { "peers", NULL }, *jobs[] = { "jobs", NULL };
    int rc = -1;

    v = ask_status(raw, sizeof(raw), &got);
    if (!v) {
        v = got;
        fprintf(stderr, "xlmig: no status from xlmigd%s%s\n",
                v ? ": " : "", v ? jstr(v, "error") : "");
        yajl_tree_free(v);
        return -1;
    }
    snprintf(e->self, sizeof(e->self), "%s", jstr(v, "host"));
    e->max_outgoing = (unsigned)jnum(v, "max_outgoing");
    e->per_dest = (unsigned)jnum(v, "max_outgoing_per_destination");
    if (!e->max_outgoing)
        e->max_outgoing = 1;
    a = yajl_tree_get(v, peers, yajl_t_array);
    if (e->o.nto) {
        for (unsigned i = 0; i < e->o.nto; i++) {
            char name[XLMIG_NAME_MAX];
            memcpy(name, e->o.to[i], sizeof(name));
            snprintf(e->hosts[e->nh++].name, sizeof(e->hosts[0].name), "%s",
                     name);
        }
    } else {
        for (size_t i = 0; a && i < a->u.array.len &&
                           e->nh < XLMIG_EVAC_HOSTS_MAX; i++) {
            const char *p = YAJL_GET_STRING(a->u.array.values[i]);
            if (p && strcmp(p, e->self))
                snprintf(e->hosts[e->nh++].name, sizeof(e->hosts[0].name),
                         "%s", p);
        }
    }
    /* The link: --link, else the best throughput of the migrations out
     * that finished (a floor: a job may have been capped, or alone),
     * else unknown. */
    a = yajl_tree_get(v, jobs, yajl_t_array);
    {
        double best = 0;
        unsigned job = 0;
        for (size_t i = 0; a && i < a->u.array.len; i++) {
            yajl_val j = a->u.array.values[i];
            /* less the setup the plan counts apart (evac.h) */
            double ms = jnum(j, "total_ms") - SETUP_S * 1000.0;
            double b = jnum(j, "bytes_sent");
            if (strcmp(jstr(j, "direction"), "out") ||
                strcmp(jstr(j, "result"), "ok") || ms < 200 ||
                b * 1000.0 / ms <= best)
                continue;
            best = b * 1000.0 / ms;
            job = (unsigned)jnum(j, "job");
        }
        if (e->o.link_mib) {
            e->link = e->o.link_mib << 20;
            snprintf(e->link_src, sizeof(e->link_src), "given (--link)");
        } else if (best > 0) {
            e->link = (uint64_t)best;
            snprintf(e->link_src, sizeof(e->link_src), "measured: job %u "
                     "to %s", job, jstr(job_of(a, job), "peer"));
        } else {
            snprintf(e->link_src, sizeof(e->link_src), "unknown: no "
                     "migration has finished (give --link)");
        }
    }
    for (unsigned h = 0; h < e->nh; h++)
        e->hosts[h].max_jobs = e->per_dest;
    /* Domains a job already has are left alone. */
    for (size_t i = 0; a && i < a->u.array.len; i++) {
        yajl_val j = a->u.array.values[i];
        size_t n = strlen(e->skipped);
        if (jstr(j, "result")[0] || strcmp(jstr(j, "direction"), "out") ||
            !strcmp(jstr(j, "mode"), "preflight"))
            continue;
        snprintf(e->skipped + n, sizeof(e->skipped) - n, "%s%s (job %.0f)",
                 n ? ", " : "", jstr(j, "domain"), jnum(j, "job"));
    }
    rc = 0;
    yajl_tree_free(v);
    return rc;
}

static bool busy_with_job(const struct evac *e, const char *name)
{
    const char *p = e->skipped;
    size_t n = strlen(name);

    while ((p = strstr(p, name))) {
        if ((p == e->skipped || p[-1] == ' ') && !strncmp(p + n, " (job", 5))
            return true;
        p += n;
    }
    return false;
}

/* ---- this host's domains, their dirty rates ---- */

static int read_domains(struct evac *e)
{
    struct xlmig_dominfo *doms = NULL;
    const char **names;
    uint64_t *rates;
    xlmig_ctx *ctx;
    unsigned n = 0;

    if (xlmig_ctx_alloc(&ctx, xlmig_cli_backend, xlmig_cli_level, stderr))
        return -1;
    if (xlmig_domain_list(ctx, &doms, &n)) {
        fprintf(stderr, "xlmig: cannot list this host's domains\n");
        xlmig_ctx_free(ctx);
        return -1;
    }
    e->c = calloc(n ? n : 1, sizeof(*e->c));
    e->d = calloc(n ? n : 1, sizeof(*e->d));
    names = calloc(n ? n : 1, sizeof(*names));
    rates = calloc(n ? n : 1, sizeof(*rates));
    if (!e->c || !e->d || !names || !rates) {
        free(doms);
        free(names);
        free(rates);
        xlmig_ctx_free(ctx);
        return -1;
    }
    for (unsigned i = 0; i < n && e->nd < XLMIG_EVAC_DOMS_MAX; i++) {
        size_t k = strlen(e->skipped);
        if (!strcmp(doms[i].name, "Domain-0") || doms[i].domid == 0 ||
            busy_with_job(e, doms[i].name))
            continue;
        if (doms[i].state != XLMIG_DOM_RUNNING &&
            doms[i].state != XLMIG_DOM_PAUSED) {
            snprintf(e->skipped + k, sizeof(e->skipped) - k, "%s%s (%s)",
                     k ? ", " : "", doms[i].name,
                     xlmig_dom_state_name(doms[i].state));
            continue;
        }
        e->c[e->nd].info = doms[i];
        names[e->nd] = e->c[e->nd].info.name;
        e->nd++;
    }
    free(doms);
    if (e->nd && xlmig_dirty_rates(ctx, names, e->nd, SAMPLE_MS, rates) &&
        !e->o.json)
        fprintf(stderr, "xlmig: dirty rates could not be sampled: taken as "
                "0 (the predicted times are the least they can be)\n");
    for (unsigned i = 0; i < e->nd; i++) {
        struct xlmig_evac_dom *d = &e->d[i];
        snprintf(d->name, sizeof(d->name), "%s", e->c[i].info.name);
        d->memory = e->c[i].info.nr_pages << e->c[i].info.page_shift;
        d->need = d->memory + d->memory / 64;   /* until preflight says */
        d->dirty_rate = rates[i];
        d->host = -1;
    }
    free(names);
    free(rates);
    xlmig_ctx_free(ctx);
    return 0;
}

/* ---- preflight: every domain against every destination ---- */

static uint64_t mib_of(const char *s)
{
    return strtoull(s, NULL, 10) << 20;
}

/* The report of c->dom on c->host. */
static void take_report(struct evac *e, struct conn *c, yajl_val v)
{
    const char *path[] = { "checks", NULL };
    yajl_val rows = yajl_tree_get(v, path, yajl_t_array);
    struct cand *cd = &e->c[c->dom];
    struct xlmig_evac_dom *d = &e->d[c->dom];
    char *why = cd->why[c->host];
    size_t n = 0;
    bool fail = false, other = false;

    why[0] = '\0';
    for (size_t i = 0; rows && i < rows->u.array.len; i++) {
        yajl_val row = rows->u.array.values[i];
        const char *chk = jstr(row, "check");
        bool f = !strcmp(jstr(row, "verdict"), "fail");
        if (!strcmp(chk, "memory")) {
            uint64_t need = mib_of(jstr(row, "source"));
            uint64_t free_b = mib_of(jstr(row, "destination"));
            /* MiB, rounded down: the domain's own size when it is that */
            if (need >> 20 != d->memory >> 20)
                need += (1u << 20) - 1;
            else
                need = d->memory;
            if (need)
                d->need = need + need / 64;
            if (strstr(jstr(row, "destination"), "MiB free") &&
                (!e->host_seen_free[c->host] ||
                 free_b < e->hosts[c->host].free)) {
                e->hosts[c->host].free = free_b;
                e->host_seen_free[c->host] = true;
            }
        }
        if (!f)
            continue;
        fail = true;
        /* busy now is not "cannot": the migration will wait its turn */
        if (strcmp(chk, "incoming"))
            other = true;
        if (strcmp(chk, "incoming") && n < 190)
            n += (size_t)snprintf(why + n, 200 - n, "%s%s: %s", n ? "; " : "",
                                  chk, jstr(row, "reason"));
    }
    d->ok[c->host] = rows && (!fail || !other);
    cd->checked[c->host] = rows != NULL;
    if (n >= 200)
        why[199] = '\0';
}

static int run_preflights(struct evac *e)
{
    unsigned total = e->nd * e->nh, next = 0, open = 0;
    struct conn *cs[PREFLIGHTS_AT_ONCE] = { 0 };
    static char raw[1 << 18];

    while (next < total || open) {
        struct pollfd p[PREFLIGHTS_AT_ONCE];
        for (unsigned k = 0; k < PREFLIGHTS_AT_ONCE && next < total; k++) {
            struct xlmig_ctl_req r;
            unsigned dom = next / e->nh, host = next % e->nh;
            if (cs[k])
                continue;
            next++;
            if (e->host_down[host])
                continue;
            memset(&r, 0, sizeof(r));
            r.cmd = XLMIG_CTL_PREFLIGHT;
            snprintf(r.domain, sizeof(r.domain), "%s", e->d[dom].name);
            snprintf(r.host, sizeof(r.host), "%s", e->hosts[host].name);
            cs[k] = conn_open(&r);
            if (!cs[k])
                return -1;
            cs[k]->dom = dom;
            cs[k]->host = host;
            open++;
        }
        for (unsigned k = 0; k < PREFLIGHTS_AT_ONCE; k++) {
            p[k].fd = cs[k] ? cs[k]->fd : -1;
            p[k].events = POLLIN;
            p[k].revents = 0;
        }
        if (poll(p, PREFLIGHTS_AT_ONCE, -1) < 0 && errno != EINTR)
            return -1;
        if (interrupted)
            return -1;
        for (unsigned k = 0; k < PREFLIGHTS_AT_ONCE; k++) {
            yajl_val v;
            const char *ev;
            bool end = false;
            if (!cs[k] || !(p[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            /* Every complete line that has arrived. */
            do {
                v = conn_event(cs[k], raw, sizeof(raw));
                if (!v) {
                    end = true;
                    break;
                }
                ev = jstr(v, "event");
                if (!strcmp(ev, "preflight"))
                    take_report(e, cs[k], v);
                if (!strcmp(ev, "error") || !strcmp(ev, "done")) {
                    /* No report: the destination did not answer. */
                    if (!e->c[cs[k]->dom].checked[cs[k]->host] &&
                        !e->host_down[cs[k]->host]) {
                        e->host_down[cs[k]->host] = true;
                        snprintf(e->host_why[cs[k]->host], 200, "%s",
                                 jstr(v, "error"));
                    }
                    end = true;
                }
                yajl_tree_free(v);
            } while (!end && memchr(cs[k]->rd.buf, '\n', cs[k]->rd.len));
            if (end) {
                conn_close(cs[k]);
                cs[k] = NULL;
                open--;
            }
        }
    }
    for (unsigned h = 0; h < e->nh; h++)
        if (e->host_down[h])
            for (unsigned i = 0; i < e->nd; i++)
                e->d[i].ok[h] = false;
    return 0;
}

/* ---- the plan, shown ---- */

static const char *secs(double s, char *b, size_t n)
{
    snprintf(b, n, s >= 100 ? "%.0f" : "%.1f", s);
    return b;
}

static void print_plan(const struct evac *e, const struct xlmig_evac_plan *p,
                       const struct xlmig_evac_params *pp)
{
    char a[16], b[16], c[16];

    printf("Evacuating %s: %u domain%s, %u destination%s%s%s\n", e->self,
           e->nd, e->nd == 1 ? "" : "s", e->nh, e->nh == 1 ? "" : "s",
           e->skipped[0] ? "; left alone: " : "", e->skipped);
    if (e->link)
        printf("Link: %.1f MiB/s in all, shared by the migrations (%s)\n",
               (double)e->link / 1048576.0, e->link_src);
    else
        printf("Link: %s\n", e->link_src);
    if (pp->cap)
        printf("Each migration capped at %.1f MiB/s (--bandwidth)\n",
               (double)pp->cap / 1048576.0);
    printf("\n%-14s %10s %10s %8s\n", "Destination", "Free(MiB)",
           "Plan(MiB)", "At once");
    for (unsigned h = 0; h < e->nh; h++) {
        const struct xlmig_evac_host *x = &e->hosts[h];
        if (e->host_down[h]) {
            printf("%-14s unreachable: %s\n", x->name, e->host_why[h]);
            continue;
        }
        printf("%-14s %10" PRIu64 " %10" PRIu64 " %8s\n", x->name,
               x->free >> 20, x->planned >> 20,
               x->max_jobs ? (snprintf(a, sizeof(a), "%u", x->max_jobs), a) :
                             "-");
    }
    printf("\n%-5s %-16s %9s %12s %-14s %9s %9s %10s\n", "Order", "Domain",
           "Mem(MiB)", "Dirty(MiB/s)", "To", "Start(s)", "End(s)",
           "Down(ms)");
    for (unsigned pass = 0; pass < 2; pass++)
        for (unsigned k = 0; k < e->nd; k++) {
            unsigned i = k;
            const struct xlmig_evac_dom *d;
            char dirty[24];
            if (pass == 0) {
                /* in start order */
                i = e->nd;
                for (unsigned j = 0; j < e->nd; j++)
                    if (e->d[j].host >= 0 && e->d[j].order == k)
                        i = j;
                if (i == e->nd)
                    continue;
            } else if (e->d[i].host >= 0) {
                continue;
            }
            d = &e->d[i];
            if (d->dirty_rate == XLMIG_EVAC_UNKNOWN)
                snprintf(dirty, sizeof(dirty), "?");
            else
                snprintf(dirty, sizeof(dirty), "%.1f",
                         (double)d->dirty_rate / 1048576.0);
            if (d->host < 0) {
                printf("%-5s %-16s %9" PRIu64 " %12s %-14s", "-", d->name,
                       d->memory >> 20, dirty, "NO PLACE");
                for (unsigned h = 0; h < e->nh; h++)
                    if (!e->host_down[h])
                        printf("\n      %s: %s", e->hosts[h].name,
                               e->c[i].why[h][0] ? e->c[i].why[h] :
                               d->ok[h] ? "not enough memory left once "
                                          "the others are placed" :
                                          "not checked");
                printf("\n");
                continue;
            }
            printf("%-5u %-16s %9" PRIu64 " %12s %-14s %9s %9s %10.0f%s\n",
                   d->order + 1, d->name, d->memory >> 20, dirty,
                   e->hosts[d->host].name, secs(d->start_s, a, sizeof(a)),
                   secs(d->end_s, b, sizeof(b)), d->downtime_s * 1000.0,
                   d->converges ? "" : "  (does not converge)");
        }
    printf("\nPlacement: %s.  At once:", p->method);
    for (unsigned k = 0; k < p->nchoices; k++)
        printf(" %u -> all done %ss, mean %ss%s", p->choices[k].window,
               secs(p->choices[k].makespan_s, a, sizeof(a)),
               secs(p->choices[k].mean_s, b, sizeof(b)),
               k + 1 < p->nchoices ? ";" : "");
    printf("\nChosen: %u at once (%s), all done in %ss.\n", p->window,
           e->o.window ? "--window" :
           p->window == 1 ? "one at a time finishes domains soonest" :
                            "finishes domains soonest on average",
           secs(p->makespan_s, c, sizeof(c)));
    if (!e->link)
        printf("The times take the link as no limit, and so are the least "
               "they can be: give --link MiB/s (or migrate one domain "
               "first) for times to go by.\n");
}

static void json_plan(const struct evac *e, const struct xlmig_evac_plan *p)
{
    printf("{\"event\":\"plan\",\"host\":\"%s\",\"method\":\"%s\","
           "\"window\":%u,\"makespan_s\":%.3f,\"mean_s\":%.3f,"
           "\"placed\":%u,\"unplaced\":%u,\"link_bytes\":%" PRIu64 ","
           "\"windows\":[", e->self, p->method, p->window, p->makespan_s,
           p->mean_s, p->placed, p->unplaced, e->link);
    for (unsigned k = 0; k < p->nchoices; k++)
        printf("%s{\"window\":%u,\"makespan_s\":%.3f,\"mean_s\":%.3f}",
               k ? "," : "", p->choices[k].window, p->choices[k].makespan_s,
               p->choices[k].mean_s);
    printf("],\"destinations\":[");
    for (unsigned h = 0; h < e->nh; h++)
        printf("%s{\"host\":\"%s\",\"reachable\":%s,\"free_mib\":%" PRIu64
               ",\"planned_mib\":%" PRIu64 "}", h ? "," : "",
               e->hosts[h].name, e->host_down[h] ? "false" : "true",
               e->hosts[h].free >> 20, e->hosts[h].planned >> 20);
    printf("],\"domains\":[");
    for (unsigned i = 0; i < e->nd; i++) {
        const struct xlmig_evac_dom *d = &e->d[i];
        printf("%s{\"domain\":\"%s\",\"memory_mib\":%" PRIu64 ",", i ? "," : "",
               d->name, d->memory >> 20);
        if (d->dirty_rate != XLMIG_EVAC_UNKNOWN)
            printf("\"dirty_rate\":%" PRIu64 ",", d->dirty_rate);
        if (d->host < 0)
            printf("\"to\":null}");
        else
            printf("\"to\":\"%s\",\"order\":%u,\"start_s\":%.3f,"
                   "\"end_s\":%.3f,\"downtime_ms\":%.1f,\"converges\":%s}",
                   e->hosts[d->host].name, d->order + 1, d->start_s, d->end_s,
                   d->downtime_s * 1000.0, d->converges ? "true" : "false");
    }
    printf("]}\n");
    fflush(stdout);
}

/* ---- the migrations ---- */

struct outcome {
    char result[16];
    char error[256];
    double took_s, downtime_ms;
};

static int run_plan(struct evac *e, const struct xlmig_evac_plan *p,
                    struct outcome *out)
{
    struct conn *cs[XLMIG_EVAC_DOMS_MAX] = { 0 };
    static char raw[1 << 18];
    unsigned next = 0, open = 0, ended = 0, total = p->placed;
    double t0 = now_s();
    bool cancelled = false;

    while (ended < total) {
        struct pollfd pf[XLMIG_EVAC_DOMS_MAX];
        unsigned idx[XLMIG_EVAC_DOMS_MAX], np = 0;
        /* Start the next ones in the plan's order, the window allowing. */
        while (!cancelled && open < p->window && next < total) {
            struct xlmig_ctl_req r;
            unsigned i = e->nd;
            for (unsigned j = 0; j < e->nd; j++)
                if (e->d[j].host >= 0 && e->d[j].order == next)
                    i = j;
            next++;
            if (i == e->nd)
                continue;
            memset(&r, 0, sizeof(r));
            r.cmd = XLMIG_CTL_MIGRATE;
            snprintf(r.domain, sizeof(r.domain), "%s", e->d[i].name);
            snprintf(r.host, sizeof(r.host), "%s",
                     e->hosts[e->d[i].host].name);
            r.bandwidth_mib = e->o.bandwidth_mib;
            r.max_downtime_ms = e->o.max_downtime_ms;
            r.auto_converge = e->o.auto_converge;
            cs[i] = conn_open(&r);
            if (!cs[i]) {
                snprintf(out[i].result, sizeof(out[i].result), "failed");
                snprintf(out[i].error, sizeof(out[i].error), "xlmigd did "
                         "not take the request");
                ended++;
                continue;
            }
            cs[i]->dom = i;
            open++;
            if (!e->o.json)
                fprintf(stderr, "xlmig: [%u/%u] %s -> %s: started at %.1f s "
                        "(predicted %.1f s)\n", next, total, e->d[i].name,
                        e->hosts[e->d[i].host].name, now_s() - t0,
                        e->d[i].start_s);
        }
        if (cancelled && !open)
            break;
        for (unsigned i = 0; i < e->nd; i++)
            if (cs[i]) {
                pf[np].fd = cs[i]->fd;
                pf[np].events = POLLIN;
                pf[np].revents = 0;
                idx[np++] = i;
            }
        if (!np)
            break;
        if (poll(pf, np, -1) < 0 && errno != EINTR)
            return -1;
        if (interrupted && !cancelled) {
            /* Stop: cancel what runs, start nothing more. */
            cancelled = true;
            for (unsigned k = 0; k < np; k++)
                if (cs[idx[k]]->job) {
                    struct xlmig_ctl_req r;
                    struct conn *c;
                    memset(&r, 0, sizeof(r));
                    r.cmd = XLMIG_CTL_CANCEL;
                    r.job = cs[idx[k]]->job;
                    c = conn_open(&r);
                    conn_close(c);
                }
            fprintf(stderr, "xlmig: interrupted: cancelling the migrations "
                    "running; the rest stay here\n");
            continue;
        }
        for (unsigned k = 0; k < np; k++) {
            unsigned i = idx[k];
            struct conn *c = cs[i];
            bool end = false;
            if (!(pf[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            do {
                yajl_val v = conn_event(c, raw, sizeof(raw));
                const char *ev;
                if (!v) {
                    snprintf(out[i].result, sizeof(out[i].result), "lost");
                    snprintf(out[i].error, sizeof(out[i].error), "lost "
                             "xlmigd before the job ended (xlmig status)");
                    end = true;
                    break;
                }
                ev = jstr(v, "event");
                if (e->o.json) {
                    printf("%s\n", raw);
                    fflush(stdout);
                }
                if (!strcmp(ev, "accepted")) {
                    c->job = (unsigned)jnum(v, "job");
                } else if (!strcmp(ev, "phase") && !e->o.json &&
                           !isatty(STDERR_FILENO)) {
                    fprintf(stderr, "xlmig: %s: %s\n", e->d[i].name,
                            jstr(v, "phase"));
                } else if (!strcmp(ev, "error")) {
                    snprintf(out[i].result, sizeof(out[i].result), "failed");
                    snprintf(out[i].error, sizeof(out[i].error), "%s",
                             jstr(v, "error"));
                    end = true;
                } else if (!strcmp(ev, "done")) {
                    snprintf(out[i].result, sizeof(out[i].result), "%s",
                             jstr(v, "result"));
                    snprintf(out[i].error, sizeof(out[i].error), "%s",
                             jstr(v, "error"));
                    out[i].downtime_ms = jnum(v, "downtime_ms");
                    end = true;
                }
                yajl_tree_free(v);
            } while (!end && memchr(c->rd.buf, '\n', c->rd.len));
            if (!end)
                continue;
            out[i].took_s = now_s() - c->t0;
            if (!e->o.json) {
                if (!strcmp(out[i].result, "ok"))
                    fprintf(stderr, "xlmig: %s -> %s: migrated in %.1f s "
                            "(predicted %.1f s), downtime %.1f ms\n",
                            e->d[i].name, e->hosts[e->d[i].host].name,
                            out[i].took_s, e->d[i].end_s - e->d[i].start_s,
                            out[i].downtime_ms);
                else
                    fprintf(stderr, "xlmig: %s -> %s: %s: %s; %s\n",
                            e->d[i].name, e->hosts[e->d[i].host].name,
                            out[i].result, out[i].error,
                            !strcmp(out[i].result, "in-doubt") ?
                                "run `xlmig recover`" : "it runs here");
            }
            conn_close(c);
            cs[i] = NULL;
            open--;
            ended++;
        }
    }
    return 0;
}

static int summary(const struct evac *e, const struct outcome *out,
                   double took)
{
    unsigned ok = 0, bad = 0, doubt = 0, notrun = 0;

    if (!e->o.json)
        printf("\n%-16s %-14s %12s %9s %10s  %s\n", "Domain", "To",
               "Predicted(s)", "Took(s)", "Down(ms)", "Result");
    for (unsigned i = 0; i < e->nd; i++) {
        const struct xlmig_evac_dom *d = &e->d[i];
        const char *res = d->host < 0 ? "no place: stays here" :
                          out[i].result[0] ? out[i].result :
                          "not started: stays here";
        if (d->host >= 0 && !strcmp(out[i].result, "ok"))
            ok++;
        else if (!strcmp(out[i].result, "in-doubt"))
            doubt++;
        else if (d->host >= 0 && out[i].result[0])
            bad++;
        else
            notrun++;
        if (e->o.json)
            continue;
        printf("%-16s %-14s %12.1f %9.1f %10.1f  %s%s%s\n", d->name,
               d->host >= 0 ? e->hosts[d->host].name : "-",
               d->host >= 0 ? d->end_s - d->start_s : 0.0, out[i].took_s,
               out[i].downtime_ms, res, out[i].error[0] ? ": " : "",
               out[i].error);
    }
    if (e->o.json)
        printf("{\"event\":\"evacuated\",\"host\":\"%s\",\"migrated\":%u,"
               "\"failed\":%u,\"in_doubt\":%u,\"stayed\":%u,"
               "\"took_s\":%.3f}\n", e->self, ok, bad, doubt, notrun, took);
    else
        printf("\n%u of %u domains moved in %.1f s; %u failed, %u in doubt, "
               "%u stay here\n", ok, e->nd, took, bad, doubt, notrun);
    return doubt ? EXIT_INDOUBT : bad || notrun ? EXIT_ROLLEDBACK : 0;
}

/* ---- the commands ---- */

static int add_to(struct opts *o, const char *arg)
{
    char buf[1024], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", arg);
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",",
                                                             &save)) {
        if (o->nto == XLMIG_EVAC_HOSTS_MAX || strlen(t) >= XLMIG_NAME_MAX ||
            strpbrk(t, "@ /")) {
            fprintf(stderr, "xlmig: --to: '%s' is not a peer's name, or "
                    "more than %d of them\n", t, XLMIG_EVAC_HOSTS_MAX);
            return -1;
        }
        snprintf(o->to[o->nto++], XLMIG_NAME_MAX, "%s", t);
    }
    return 0;
}

/* The options evacuate and drain share; -1 unknown, 1 help, 0 taken. */
static int evac_opt(struct opts *o, int c)
{
    uint64_t v;

    switch (c) {
    case 't': return add_to(o, optarg);
    case 'n': o->dry_run = true; return 0;
    case 'e': o->best_effort = true; return 0;
    case 'j': o->json = true; return 0;
    case 'a': o->auto_converge = true; return 0;
    case 'b':
        if (parse_num(optarg, "--bandwidth", 1u << 20, &o->bandwidth_mib))
            return -1;
        return 0;
    case 'L':
        if (parse_num(optarg, "--link", 1u << 20, &o->link_mib))
            return -1;
        return 0;
    case 'd':
        if (parse_num(optarg, "--max-downtime", 3600000, &o->max_downtime_ms))
            return -1;
        return 0;
    case 'w':
        if (parse_num(optarg, "--window", 64, &v))
            return -1;
        o->window = (unsigned)v;
        return 0;
    }
    return -1;
}

static int evacuate(struct opts *o, const char *want_host)
{
    struct xlmig_evac_params pp;
    struct xlmig_evac_plan plan;
    struct outcome *out = NULL;
    struct sigaction sa;
    struct evac *e = calloc(1, sizeof(*e));
    double t0 = now_s();
    int rc = EXIT_ROLLEDBACK;

    if (!e)
        return EXIT_ROLLEDBACK;
    e->o = *o;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (read_status(e))
        goto out;
    if (want_host && strcmp(want_host, e->self)) {
        fprintf(stderr, "xlmig: evacuate empties the host it runs on: this "
                "is %s, not %s (run it on %s)\n", e->self, want_host,
                want_host);
        rc = EXIT_USAGE;
        goto out;
    }
    for (unsigned h = 0; h < e->nh; h++)
        if (!strcmp(e->hosts[h].name, e->self)) {
            fprintf(stderr, "xlmig: --to names this host (%s)\n", e->self);
            rc = EXIT_USAGE;
            goto out;
        }
    if (!e->nh) {
        fprintf(stderr, "xlmig: no destination: xlmigd.conf names no peer "
                "(or give --to)\n");
        rc = EXIT_REFUSED;
        goto out;
    }
    if (read_domains(e))
        goto out;
    if (!e->nd) {
        if (o->json)
            printf("{\"event\":\"evacuated\",\"host\":\"%s\",\"migrated\":0,"
                   "\"failed\":0,\"in_doubt\":0,\"stayed\":0,\"took_s\":0}\n",
                   e->self);
        else
            printf("%s has no domain to move%s%s\n", e->self,
                   e->skipped[0] ? " (left alone: " : "",
                   e->skipped[0] ? e->skipped : "");
        if (e->skipped[0] && !o->json)
            printf(")\n");
        rc = 0;
        goto out;
    }
    if (!o->json)
        fprintf(stderr, "xlmig: checking %u domain%s against %u "
                "destination%s\n", e->nd, e->nd == 1 ? "" : "s", e->nh,
                e->nh == 1 ? "" : "s");
    if (run_preflights(e)) {
        fprintf(stderr, "xlmig: %s before the plan was made: nothing "
                "moved\n", interrupted ? "interrupted" :
                "lost xlmigd");
        goto out;
    }
    memset(&pp, 0, sizeof(pp));
    pp.cap = o->bandwidth_mib << 20;
    pp.link = e->link;
    pp.max_downtime_ns = o->max_downtime_ms * 1000000ull;
    pp.max_window = e->max_outgoing;
    pp.window = o->window;
    if (o->window > e->max_outgoing) {
        fprintf(stderr, "xlmig: --window %u is more than this host's "
                "max_outgoing (%u)\n", o->window, e->max_outgoing);
        rc = EXIT_USAGE;
        goto out;
    }
    xlmig_evac_plan(e->d, e->nd, e->hosts, e->nh, &pp, &plan);
    if (o->json)
        json_plan(e, &plan);
    else
        print_plan(e, &plan, &pp);
    if (plan.unplaced && !o->best_effort) {
        fprintf(stderr, "xlmig: %u domain%s ha%s no place: nothing moved "
                "(--best-effort moves the others)\n", plan.unplaced,
                plan.unplaced == 1 ? "" : "s",
                plan.unplaced == 1 ? "s" : "ve");
        rc = EXIT_REFUSED;
        goto out;
    }
    if (o->dry_run) {
        rc = 0;
        goto out;
    }
    out = calloc(e->nd, sizeof(*out));
    if (!out || run_plan(e, &plan, out))
        goto out;
    rc = summary(e, out, now_s() - t0);
out:
    free(out);
    if (e) {
        free(e->c);
        free(e->d);
    }
    free(e);
    return rc;
}

int xlmig_cmd_evacuate(int argc, char **argv)
{
    struct opts o;
    int c;

    memset(&o, 0, sizeof(o));
    optind = 1;
    while ((c = xlmig_getopt("evacuate", argc, argv)) != -1) {
        if (c == 'h') {
            xlmig_cmd_usage("evacuate", stdout);
            return 0;
        }
        if (evac_opt(&o, c)) {
            xlmig_cmd_usage("evacuate", stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        xlmig_cmd_usage("evacuate", stderr);
        return EXIT_USAGE;
    }
    return evacuate(&o, optind < argc ? argv[optind] : NULL);
}

static int drain_req(bool on, const char *reason, bool json)
{
    struct xlmig_ctl_req r;
    static char raw[8192];
    struct conn *c;
    yajl_val v;
    int rc = EXIT_ROLLEDBACK;

    memset(&r, 0, sizeof(r));
    r.cmd = on ? XLMIG_CTL_DRAIN : XLMIG_CTL_UNDRAIN;
    if (reason)
        snprintf(r.reason, sizeof(r.reason), "%s", reason);
    c = conn_open(&r);
    if (!c)
        return EXIT_ROLLEDBACK;
    v = conn_event(c, raw, sizeof(raw));
    conn_close(c);
    if (!v) {
        fprintf(stderr, "xlmig: no answer from xlmigd\n");
        return EXIT_ROLLEDBACK;
    }
    if (json)
        printf("%s\n", raw);
    if (!strcmp(jstr(v, "event"), "error")) {
        fprintf(stderr, "xlmig: %s\n", jstr(v, "error"));
    } else {
        rc = 0;
        if (!json && on)
            printf("%s drained%s%s%s%s: it takes no migrations in until "
                   "`xlmig undrain`\n", jstr(v, "host"),
                   jbool(v, "was_drained") ? " (it was already)" : "",
                   jstr(v, "reason")[0] ? " (" : "", jstr(v, "reason"),
                   jstr(v, "reason")[0] ? ")" : "");
        else if (!json)
            printf("%s %s: it takes migrations in again\n", jstr(v, "host"),
                   jbool(v, "was_drained") ? "undrained" :
                                             "was not drained");
    }
    yajl_tree_free(v);
    return rc;
}

/* This host's name, as its xlmigd says: 0, or -1 having said why. */
static int self_name(char *buf, size_t len)
{
    static char raw[1 << 18];
    yajl_val v, got;

    v = ask_status(raw, sizeof(raw), &got);
    if (!v) {
        fprintf(stderr, "xlmig: no status from xlmigd\n");
        yajl_tree_free(got);
        return -1;
    }
    snprintf(buf, len, "%s", jstr(v, "host"));
    yajl_tree_free(v);
    return 0;
}

int xlmig_cmd_drain(int argc, char **argv)
{
    const char *reason = "";
    bool no_evac = false;
    struct opts o;
    int c, rc;

    memset(&o, 0, sizeof(o));
    optind = 1;
    while ((c = xlmig_getopt("drain", argc, argv)) != -1) {
        if (c == 'h') {
            xlmig_cmd_usage("drain", stdout);
            return 0;
        }
        if (c == 'R') {
            reason = optarg;
            continue;
        }
        if (c == 'N') {
            no_evac = true;
            continue;
        }
        if (evac_opt(&o, c)) {
            xlmig_cmd_usage("drain", stderr);
            return EXIT_USAGE;
        }
    }
    if (argc - optind > 1) {
        xlmig_cmd_usage("drain", stderr);
        return EXIT_USAGE;
    }
    if (strlen(reason) > XLMIG_CTL_REASON_MAX) {
        fprintf(stderr, "xlmig: --reason: at most %d characters\n",
                XLMIG_CTL_REASON_MAX);
        return EXIT_USAGE;
    }
    for (const char *p = reason; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f) {
            fprintf(stderr, "xlmig: --reason: printable text on one line\n");
            return EXIT_USAGE;
        }
    if (o.dry_run) {
        fprintf(stderr, "xlmig: drain --dry-run: use `xlmig evacuate "
                "--dry-run` to see the plan (a drain changes the host)\n");
        return EXIT_USAGE;
    }
    if (optind < argc) {
        /* Checked before the drain: a wrong name drains nothing. */
        char self[XLMIG_NAME_MAX];
        if (self_name(self, sizeof(self)))
            return EXIT_ROLLEDBACK;
        if (strcmp(self, argv[optind])) {
            fprintf(stderr, "xlmig: drain acts on the host it runs on: "
                    "this is %s, not %s (run it on %s)\n", self,
                    argv[optind], argv[optind]);
            return EXIT_USAGE;
        }
    }
    rc = drain_req(true, reason, o.json);
    if (rc || no_evac)
        return rc;
    return evacuate(&o, optind < argc ? argv[optind] : NULL);
}

int xlmig_cmd_undrain(int argc, char **argv)
{
    bool json = argc == 2 && !strcmp(argv[1], "--json");

    if (xlmig_wants_help("undrain", argc, argv))
        return 0;
    if (argc > 2 || (argc == 2 && !json)) {
        xlmig_cmd_usage("undrain", stderr);
        return EXIT_USAGE;
    }
    return drain_req(false, NULL, json);
}
