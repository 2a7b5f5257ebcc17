/*
 * Pre-copy policy: a pure function from one round's statistics and the
 * job's limits to one decision.  Both backends ask it after every
 * log-dirty round; it touches nothing and is tested on tables
 * (tests/unit/test_policy.c).  docs/policy.md explains the rules.
 */
#ifndef XLMIG_POLICY_H
#define XLMIG_POLICY_H

#include <stdbool.h>
#include <stdint.h>

struct xlmig_limits {
    uint64_t max_downtime_ns;   /* target for stop-and-copy (default 300 ms) */
    uint32_t max_rounds;        /* 0: no limit */
    uint64_t max_total_ns;      /* 0: no limit */
    uint64_t bandwidth_cap;     /* bytes/s, 0: none */
    uint64_t fixed_downtime_ns; /* state beyond memory: vCPUs, devices */
    bool allow_throttle;        /* may slow the guest to converge */
    uint32_t max_throttle_pct;  /* how far, 1..99 (default 99) */
};

#define XLMIG_DEFAULT_MAX_DOWNTIME_NS (300ull * 1000000)
#define XLMIG_DEFAULT_MAX_ROUNDS 30
#define XLMIG_MAX_THROTTLE_PCT 99

void xlmig_limits_default(struct xlmig_limits *l);

/* What one round did and what is left.  Filled by the engine. */
struct xlmig_round {
    uint32_t round;             /* 1 = the first full pass */
    uint64_t pages_sent;        /* in this round */
    uint64_t bytes_sent;        /* on the wire, this round */
    uint64_t duration_ns;       /* this round's wall time */
    uint64_t pages_dirtied;     /* dirtied during the round: still to send */
    uint64_t elapsed_ns;        /* since the job started */
    uint32_t throttle_pct;      /* guest throttle in force now */
};

enum xlmig_decision {
    XLMIG_DECIDE_CONTINUE = 1,  /* another pre-copy round */
    XLMIG_DECIDE_STOP = 2,      /* suspend and send the rest */
    XLMIG_DECIDE_THROTTLE = 3,  /* continue, slowing the guest */
    XLMIG_DECIDE_ABORT = 4,     /* give up; the source keeps the domain */
};

struct xlmig_verdict {
    enum xlmig_decision decision;
    uint32_t throttle_pct;      /* for THROTTLE: the new level */
    uint64_t bandwidth;         /* bytes/s the prediction used */
    uint64_t dirty_rate;        /* bytes/s the guest dirtied */
    uint64_t predicted_downtime_ns;
    char reason[160];
};

const char *xlmig_decision_name(enum xlmig_decision d);

/* The policy.  @bytes_per_page is what a dirty page costs on the wire. */
void xlmig_policy_decide(const struct xlmig_limits *lim,
                         const struct xlmig_round *r,
                         uint64_t bytes_per_page, struct xlmig_verdict *v);

#endif
