/*
 * The plan of an evacuation (xlmig evacuate, docs/orchestration.md): a
 * pure function from what each domain needs, what each destination
 * offers and how fast the links are, to where each domain goes, in what
 * order and how many at once.  It touches nothing and is tested on
 * tables (tests/unit/test_evac.c).
 *
 * Placement is bin-packing by memory among the destinations each
 * domain's preflight accepted: the largest first onto the destination
 * with the most room left (worst fit, which spreads the load), then
 * onto the one it fills best (best fit), then an exhaustive search
 * bounded in steps; the first that places every domain wins, else the
 * one that places the most memory.
 *
 * Timing models each migration as pre-copy: a first round of all its
 * memory, then rounds of what it dirtied meanwhile (its sampled dirty
 * rate, never more than its memory), until a round fits the downtime
 * target or the round limit is reached; then the stop-and-copy and a
 * fixed setup and handover.  Concurrent migrations share the source's
 * link (its NIC, and on a small host its CPU: what one host can send),
 * each at most the per-migration cap; the schedule is
 * simulated event by event for every window from 1 to the limit, and the
 * window that finishes the domains soonest on average is chosen
 * (shortest predicted migration first within it).
 */
#ifndef XLMIG_ENGINE_EVAC_H
#define XLMIG_ENGINE_EVAC_H

#include <stdbool.h>
#include <stdint.h>

#define XLMIG_EVAC_DOMS_MAX 256
#define XLMIG_EVAC_HOSTS_MAX 16
#define XLMIG_EVAC_UNKNOWN UINT64_MAX

struct xlmig_evac_dom {
    char name[64];
    uint64_t need;              /* bytes the destination reserves */
    uint64_t memory;            /* bytes pre-copy sends first */
    uint64_t dirty_rate;        /* bytes/s; XLMIG_EVAC_UNKNOWN: taken as 0 */
    bool ok[XLMIG_EVAC_HOSTS_MAX];      /* its preflight passed there */
    /* out: */
    int host;                   /* index, -1: no place */
    unsigned order;             /* 0-based start order; placed only */
    double start_s, end_s;      /* predicted, with the chosen window */
    double solo_s;              /* predicted alone on its link */
    double downtime_s;          /* predicted stop-and-copy */
    bool converges;             /* a round fits the downtime target */
};

struct xlmig_evac_host {
    char name[64];
    uint64_t free;              /* bytes free for domains now */
    unsigned max_jobs;          /* at once to it; 0: no limit */
    /* out: */
    uint64_t planned;           /* bytes of the domains placed on it */
};

struct xlmig_evac_params {
    uint64_t cap;               /* bytes/s per migration; 0: none */
    uint64_t link;              /* bytes/s this host sends in all, shared
                                 * by its migrations; 0: no limit known */
    uint64_t max_downtime_ns;   /* 0: the default 300 ms */
    uint32_t max_rounds;        /* 0: the default 30 */
    double setup_s;             /* per migration: connect, preflight,
                                 * restore (default 0.3) */
    double handover_s;          /* beyond the last pages (default 0.02) */
    unsigned max_window;        /* at most at once (max_outgoing) */
    unsigned window;            /* 0: choose; else use this one */
};

struct xlmig_evac_choice {
    unsigned window;
    double makespan_s, mean_s;
};

struct xlmig_evac_plan {
    unsigned placed, unplaced;
    const char *method;         /* "worst-fit", "best-fit", "search" */
    unsigned window;            /* chosen */
    double makespan_s, mean_s;  /* with it */
    /* every window tried, 1..max_window */
    unsigned nchoices;
    struct xlmig_evac_choice choices[XLMIG_EVAC_HOSTS_MAX * 4];
};

/* Predicted seconds for one migration of @d at @rate bytes/s (pre-copy
 * model above); *@downtime_s and *@converges as it would end. */
double xlmig_evac_solo(const struct xlmig_evac_dom *d, double rate,
                       const struct xlmig_evac_params *p, double *downtime_s,
                       bool *converges);

/*
 * Place and schedule @nd domains on @nh hosts: fills each domain's host,
 * order and times, each host's planned, and @plan.  The domains that
 * have no place keep host -1 (plan->unplaced counts them).
 */
void xlmig_evac_plan(struct xlmig_evac_dom *doms, unsigned nd,
                     struct xlmig_evac_host *hosts, unsigned nh,
                     const struct xlmig_evac_params *p,
                     struct xlmig_evac_plan *plan);

/* The schedule of the placed domains with window @w alone (also used for
 * the plan's comparison): makespan and mean completion, in seconds;
 * with @set, each domain's order, start_s and end_s are written. */
void xlmig_evac_schedule(struct xlmig_evac_dom *doms, unsigned nd,
                         const struct xlmig_evac_host *hosts, unsigned nh,
                         const struct xlmig_evac_params *p, unsigned w,
                         bool set, double *makespan_s, double *mean_s);

#endif
