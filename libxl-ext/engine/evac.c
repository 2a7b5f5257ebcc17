/*
 * The plan of an evacuation (see evac.h).
 */
#include "engine/evac.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define FAST 1e12               /* bytes/s standing for "no limit" */
#define SEARCH_STEPS 200000     /* the exhaustive search's bound */

static double target_s(const struct xlmig_evac_params *p)
{
    return (p->max_downtime_ns ? (double)p->max_downtime_ns : 300e6) / 1e9;
}

static unsigned max_rounds(const struct xlmig_evac_params *p)
{
    return p->max_rounds ? p->max_rounds : 30;
}

static double setup_s(const struct xlmig_evac_params *p)
{
    return p->setup_s > 0 ? p->setup_s : 0.3;
}

static double handover_s(const struct xlmig_evac_params *p)
{
    return p->handover_s > 0 ? p->handover_s : 0.02;
}

static double dirty_of(const struct xlmig_evac_dom *d)
{
    return d->dirty_rate == XLMIG_EVAC_UNKNOWN ? 0.0 : (double)d->dirty_rate;
}

/* A round that sent for @elapsed: what it left dirty. */
static double dirtied(const struct xlmig_evac_dom *d, double elapsed)
{
    double x = dirty_of(d) * elapsed;

    return x < (double)d->memory ? x : (double)d->memory;
}

/* The round just ended left @left: stop now?  (policy.c's rules 2, 3) */
static bool stop_now(const struct xlmig_evac_params *p, double left,
                     double rate, unsigned round, bool *converges)
{
    if (left / rate + handover_s(p) <= target_s(p)) {
        *converges = true;
        return true;
    }
    *converges = false;
    return round >= max_rounds(p);
}

double xlmig_evac_solo(const struct xlmig_evac_dom *d, double rate,
                       const struct xlmig_evac_params *p, double *downtime_s,
                       bool *converges)
{
    double t = setup_s(p), send = (double)d->memory, left;
    bool conv = false;

    if (rate <= 0)
        rate = FAST;
    for (unsigned k = 1;; k++) {
        double tr = send / rate;
        t += tr;
        left = dirtied(d, tr);
        if (stop_now(p, left, rate, k, &conv))
            break;
        send = left;
    }
    if (downtime_s)
        *downtime_s = left / rate + handover_s(p);
    if (converges)
        *converges = conv;
    return t + left / rate + handover_s(p);
}

/* ---- placement ---- */

static uint64_t room(const struct xlmig_evac_host *h, const uint64_t *used,
                     unsigned i)
{
    return h[i].free > used[i] ? h[i].free - used[i] : 0;
}

/* Domain indexes by need, largest first (name breaks ties: the same
 * input gives the same plan). */
static bool before_need(const struct xlmig_evac_dom *x,
                        const struct xlmig_evac_dom *y)
{
    if (x->need != y->need)
        return x->need > y->need;
    return strcmp(x->name, y->name) < 0;
}

/* By predicted time alone, shortest first. */
static bool before_solo(const struct xlmig_evac_dom *x,
                        const struct xlmig_evac_dom *y)
{
    if (x->solo_s != y->solo_s)
        return x->solo_s < y->solo_s;
    return strcmp(x->name, y->name) < 0;
}

/* Insertion sort of @n indexes into @doms (n <= XLMIG_EVAC_DOMS_MAX). */
static void sort_idx(unsigned *ord, unsigned n,
                     const struct xlmig_evac_dom *doms,
                     bool (*before)(const struct xlmig_evac_dom *,
                                    const struct xlmig_evac_dom *))
{
    for (unsigned i = 1; i < n; i++) {
        unsigned v = ord[i], j = i;
        while (j && before(&doms[v], &doms[ord[j - 1]])) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = v;
    }
}

/* Greedy: each domain, largest first, onto the accepting host with the
 * most room left (@worst) or the least that still fits.  How many bytes
 * it placed; @at gets the hosts. */
static uint64_t greedy(const struct xlmig_evac_dom *doms, const unsigned *ord,
                       unsigned nd, const struct xlmig_evac_host *hosts,
                       unsigned nh, bool worst, int *at)
{
    uint64_t used[XLMIG_EVAC_HOSTS_MAX] = { 0 }, placed = 0;

    for (unsigned k = 0; k < nd; k++) {
        const struct xlmig_evac_dom *d = &doms[ord[k]];
        int best = -1;
        for (unsigned h = 0; h < nh; h++) {
            uint64_t r = room(hosts, used, h);
            if (!d->ok[h] || r < d->need)
                continue;
            if (best < 0 || (worst ? r > room(hosts, used, (unsigned)best) :
                                     r < room(hosts, used, (unsigned)best)))
                best = (int)h;
        }
        at[ord[k]] = best;
        if (best >= 0) {
            used[best] += d->need;
            placed += d->need;
        }
    }
    return placed;
}

struct search {
    const struct xlmig_evac_dom *doms;
    const unsigned *ord;
    unsigned nd, nh;
    const struct xlmig_evac_host *hosts;
    uint64_t used[XLMIG_EVAC_HOSTS_MAX];
    int cur[XLMIG_EVAC_DOMS_MAX];
    unsigned long steps;
    bool found;
};

/* Every domain placed, or give up after SEARCH_STEPS. */
static void dfs(struct search *s, unsigned k, int *at)
{
    const struct xlmig_evac_dom *d;

    if (s->found || ++s->steps > SEARCH_STEPS)
        return;
    if (k == s->nd) {
        memcpy(at, s->cur, sizeof(s->cur));
        s->found = true;
        return;
    }
    d = &s->doms[s->ord[k]];
    for (unsigned h = 0; h < s->nh && !s->found; h++) {
        /* Two empty hosts of the same room are the same choice. */
        bool same = false;
        if (!d->ok[h] || room(s->hosts, s->used, h) < d->need)
            continue;
        for (unsigned g = 0; g < h && !same; g++)
            same = d->ok[g] && !s->used[g] && !s->used[h] &&
                   s->hosts[g].free == s->hosts[h].free;
        if (same)
            continue;
        s->used[h] += d->need;
        s->cur[s->ord[k]] = (int)h;
        dfs(s, k + 1, at);
        s->used[h] -= d->need;
    }
}

/* ---- the schedule ---- */

enum { P_WAIT, P_SETUP, P_ROUND, P_STOP, P_HANDOVER, P_DONE };

struct run {
    int phase;
    double left;                /* seconds (setup, handover) or bytes */
    double elapsed;             /* of the current round */
    unsigned round;
};

static double job_rate(const struct xlmig_evac_params *p, unsigned sharing)
{
    double r = p->link ? (double)p->link / (sharing ? sharing : 1) : FAST;

    if (p->cap && (double)p->cap < r)
        r = (double)p->cap;
    return r;
}

void xlmig_evac_schedule(struct xlmig_evac_dom *doms, unsigned nd,
                         const struct xlmig_evac_host *hosts, unsigned nh,
                         const struct xlmig_evac_params *p, unsigned w,
                         bool set, double *makespan_s, double *mean_s)
{
    unsigned ord[XLMIG_EVAC_DOMS_MAX], n = 0, started = 0, done = 0;
    struct run run[XLMIG_EVAC_DOMS_MAX];
    double now = 0, sum = 0;

    for (unsigned i = 0; i < nd; i++)
        if (doms[i].host >= 0 && (unsigned)doms[i].host < nh)
            ord[n++] = i;
    sort_idx(ord, n, doms, before_solo);
    memset(run, 0, sizeof(run));
    if (!w)
        w = 1;
    for (unsigned guard = 0; done < n && guard < 10000000; guard++) {
        unsigned on[XLMIG_EVAC_HOSTS_MAX] = { 0 }, running = 0;
        double rate[XLMIG_EVAC_DOMS_MAX], dt = INFINITY;

        for (unsigned k = 0; k < n; k++)
            if (run[k].phase > P_WAIT && run[k].phase < P_DONE) {
                on[doms[ord[k]].host]++;
                running++;
            }
        /* Start, in order, what the window and the hosts' limits let. */
        for (unsigned k = 0; k < n && running < w; k++) {
            const struct xlmig_evac_host *h = &hosts[doms[ord[k]].host];
            if (run[k].phase != P_WAIT ||
                (h->max_jobs && on[doms[ord[k]].host] >= h->max_jobs))
                continue;
            run[k].phase = P_SETUP;
            run[k].left = setup_s(p);
            on[doms[ord[k]].host]++;
            running++;
            if (set) {
                doms[ord[k]].order = started;
                doms[ord[k]].start_s = now;
            }
            started++;
        }
        /* The next end of a phase, every job at its share of its link. */
        for (unsigned k = 0; k < n; k++) {
            double t;
            if (run[k].phase == P_WAIT || run[k].phase == P_DONE)
                continue;
            rate[k] = job_rate(p, running);
            t = run[k].phase == P_SETUP || run[k].phase == P_HANDOVER ?
                run[k].left : run[k].left / rate[k];
            if (t < dt)
                dt = t;
        }
        if (!isfinite(dt))
            break;                      /* cannot happen: w >= 1 */
        now += dt;
        for (unsigned k = 0; k < n; k++) {
            struct xlmig_evac_dom *d = &doms[ord[k]];
            struct run *r = &run[k];
            if (r->phase == P_WAIT || r->phase == P_DONE)
                continue;
            if (r->phase == P_SETUP || r->phase == P_HANDOVER) {
                r->left -= dt;
            } else {
                r->left -= rate[k] * dt;
                r->elapsed += dt;
            }
            if (r->left > 1e-9 * (r->phase == P_ROUND ||
                                   r->phase == P_STOP ? rate[k] : 1.0))
                continue;
            switch (r->phase) {
            case P_SETUP:
                r->phase = P_ROUND;
                r->left = (double)d->memory;
                r->elapsed = 0;
                r->round = 1;
                break;
            case P_ROUND: {
                double left = dirtied(d, r->elapsed);
                bool conv;
                if (stop_now(p, left, rate[k], r->round, &conv)) {
                    r->phase = P_STOP;
                    if (set) {
                        d->converges = conv;
                        d->downtime_s = left / rate[k] + handover_s(p);
                    }
                } else {
                    r->round++;
                }
                r->left = left;
                r->elapsed = 0;
                break;
            }
            case P_STOP:
                r->phase = P_HANDOVER;
                r->left = handover_s(p);
                break;
            case P_HANDOVER:
                r->phase = P_DONE;
                done++;
                sum += now;
                if (set)
                    d->end_s = now;
                break;
            }
        }
    }
    if (makespan_s)
        *makespan_s = now;
    if (mean_s)
        *mean_s = n ? sum / n : 0;
}

void xlmig_evac_plan(struct xlmig_evac_dom *doms, unsigned nd,
                     struct xlmig_evac_host *hosts, unsigned nh,
                     const struct xlmig_evac_params *p,
                     struct xlmig_evac_plan *plan)
{
    int (*at)[XLMIG_EVAC_DOMS_MAX] = calloc(3, sizeof(*at));
    struct search *s = calloc(1, sizeof(*s));
    unsigned ord[XLMIG_EVAC_DOMS_MAX] = { 0 }, best = 0, maxw, n = 0;
    uint64_t got[3] = { 0 }, all = 0;
    static const char *const names[3] = { "worst-fit", "best-fit",
                                           "search" };

    memset(plan, 0, sizeof(*plan));
    if (!at || !s) {
        /* Nothing placed: every domain is said to have no place. */
        for (unsigned i = 0; i < nd; i++)
            doms[i].host = -1;
        plan->unplaced = nd;
        plan->method = "none (out of memory)";
        free(at);
        free(s);
        return;
    }
    if (nd > XLMIG_EVAC_DOMS_MAX)
        nd = XLMIG_EVAC_DOMS_MAX;
    if (nh > XLMIG_EVAC_HOSTS_MAX)
        nh = XLMIG_EVAC_HOSTS_MAX;
    /* A domain that fits no host even alone is out of every placement
     * (the others may still all fit). */
    for (unsigned i = 0; i < nd; i++) {
        bool fits = false;
        for (unsigned h = 0; h < nh; h++)
            fits |= doms[i].ok[h] && hosts[h].free >= doms[i].need;
        at[0][i] = at[1][i] = at[2][i] = -1;
        if (!fits)
            continue;
        ord[n++] = i;
        all += doms[i].need;
    }
    sort_idx(ord, n, doms, before_need);
    got[0] = greedy(doms, ord, n, hosts, nh, true, at[0]);
    if (got[0] < all) {
        got[1] = greedy(doms, ord, n, hosts, nh, false, at[1]);
        best = got[1] > got[0] ? 1 : 0;
    }
    if (got[best] < all) {
        s->doms = doms;
        s->ord = ord;
        s->nd = n;
        for (unsigned i = 0; i < nd; i++)
            s->cur[i] = -1;
        s->nh = nh;
        s->hosts = hosts;
        dfs(s, 0, at[2]);
        if (s->found) {
            best = 2;
            got[2] = all;
        }
    }
    plan->method = names[best];
    for (unsigned h = 0; h < nh; h++)
        hosts[h].planned = 0;
    for (unsigned i = 0; i < nd; i++) {
        struct xlmig_evac_dom *d = &doms[i];
        d->host = at[best][i];
        d->order = 0;
        d->start_s = d->end_s = 0;
        d->solo_s = 0;
        d->downtime_s = 0;
        d->converges = true;
        if (d->host < 0) {
            plan->unplaced++;
            continue;
        }
        plan->placed++;
        hosts[d->host].planned += d->need;
        d->solo_s = xlmig_evac_solo(d, job_rate(p, 1), p,
                                    &d->downtime_s, &d->converges);
    }
    /* Every window, then the one that finishes domains soonest on
     * average (the shorter makespan on a tie, then the smaller window). */
    maxw = p->max_window ? p->max_window : 1;
    if (maxw > plan->placed && plan->placed)
        maxw = plan->placed;
    if (maxw > sizeof(plan->choices) / sizeof(plan->choices[0]))
        maxw = sizeof(plan->choices) / sizeof(plan->choices[0]);
    for (unsigned w = 1; w <= maxw; w++) {
        struct xlmig_evac_choice *c = &plan->choices[plan->nchoices++];
        c->window = w;
        xlmig_evac_schedule(doms, nd, hosts, nh, p, w, false, &c->makespan_s,
                            &c->mean_s);
    }
    plan->window = p->window ? p->window : 1;
    if (!p->window) {
        const struct xlmig_evac_choice *b = &plan->choices[0];
        for (unsigned k = 1; k < plan->nchoices; k++) {
            const struct xlmig_evac_choice *c = &plan->choices[k];
            if (c->mean_s < b->mean_s * 0.999 ||
                (c->mean_s <= b->mean_s * 1.001 &&
                 c->makespan_s < b->makespan_s * 0.999))
                b = c;
        }
        plan->window = b->window;
    }
    xlmig_evac_schedule(doms, nd, hosts, nh, p, plan->window, true,
                        &plan->makespan_s, &plan->mean_s);
    free(at);
    free(s);
}
