/*
 * Pre-copy policy.  The rules, in order:
 *
 *  1. Timeout: elapsed >= max_total -> ABORT (the domain stays on the
 *     source; a migration that cannot meet its limits must not go on
 *     forever, nor stop the guest for longer than asked).
 *  2. Converged: predicted downtime (pages still dirty x bytes per page /
 *     bandwidth, plus the fixed part) <= max_downtime -> STOP.
 *  3. Round limit: round >= max_rounds -> STOP, and say by how much the
 *     downtime target will be missed.
 *  4. Not converging (the guest dirties at least half as fast as we send)
 *     and throttling allowed -> THROTTLE: 20% first, then +10% a round
 *     (as QEMU's auto-converge), or at once the level that would bring
 *     the dirty rate down to half the bandwidth if the guest's writing
 *     scales with its CPU time, when that is higher; at most the job's
 *     max_throttle (99% unless the administrator asked for less).
 *  5. Otherwise CONTINUE (saying so when the throttle is at its limit).
 *
 * Bandwidth is what this round achieved, capped by the job's limit; a
 * round too short to measure falls back to the cap, or to "unknown",
 * which never predicts convergence.
 */
#include "engine/policy.h"

#include <stdio.h>
#include <string.h>

void xlmig_limits_default(struct xlmig_limits *l)
{
    memset(l, 0, sizeof(*l));
    l->max_downtime_ns = XLMIG_DEFAULT_MAX_DOWNTIME_NS;
    l->max_throttle_pct = XLMIG_MAX_THROTTLE_PCT;
    l->max_rounds = XLMIG_DEFAULT_MAX_ROUNDS;
}

const char *xlmig_decision_name(enum xlmig_decision d)
{
    switch (d) {
    case XLMIG_DECIDE_CONTINUE: return "continue";
    case XLMIG_DECIDE_STOP: return "stop-and-copy";
    case XLMIG_DECIDE_THROTTLE: return "throttle";
    case XLMIG_DECIDE_ABORT: return "abort";
    }
    return "invalid";
}

static uint64_t per_second(uint64_t amount, uint64_t ns)
{
    if (ns == 0)
        return 0;
    /* amount * 1e9 / ns without overflow for any realistic amount */
    return (uint64_t)((double)amount * 1e9 / (double)ns);
}

void xlmig_policy_decide(const struct xlmig_limits *lim,
                         const struct xlmig_round *r,
                         uint64_t bytes_per_page, struct xlmig_verdict *v)
{
    uint64_t bw = per_second(r->bytes_sent, r->duration_ns);
    uint64_t remaining = r->pages_dirtied * bytes_per_page;
    uint32_t ceiling = lim->max_throttle_pct &&
                       lim->max_throttle_pct < XLMIG_MAX_THROTTLE_PCT ?
                           lim->max_throttle_pct : XLMIG_MAX_THROTTLE_PCT;

    memset(v, 0, sizeof(*v));
    if (r->duration_ns < 1000000 || bw == 0)    /* < 1 ms: no measure */
        bw = lim->bandwidth_cap;
    if (lim->bandwidth_cap && bw > lim->bandwidth_cap)
        bw = lim->bandwidth_cap;
    v->bandwidth = bw;
    v->dirty_rate = per_second(r->pages_dirtied * bytes_per_page,
                               r->duration_ns);
    if (bw)
        v->predicted_downtime_ns = (uint64_t)((double)remaining * 1e9 /
                                              (double)bw) +
                                   lim->fixed_downtime_ns;
    else
        v->predicted_downtime_ns = remaining ? UINT64_MAX :
                                               lim->fixed_downtime_ns;

    if (lim->max_total_ns && r->elapsed_ns >= lim->max_total_ns) {
        v->decision = XLMIG_DECIDE_ABORT;
        snprintf(v->reason, sizeof(v->reason),
                 "timeout: %.1f s elapsed, limit %.1f s; predicted "
                 "downtime %.0f ms, target %.0f ms",
                 (double)r->elapsed_ns / 1e9, (double)lim->max_total_ns / 1e9,
                 (double)v->predicted_downtime_ns / 1e6,
                 (double)lim->max_downtime_ns / 1e6);
        return;
    }
    if (v->predicted_downtime_ns <= lim->max_downtime_ns) {
        v->decision = XLMIG_DECIDE_STOP;
        snprintf(v->reason, sizeof(v->reason),
                 "converged: %llu pages left, predicted downtime %.1f ms "
                 "<= %.0f ms", (unsigned long long)r->pages_dirtied,
                 (double)v->predicted_downtime_ns / 1e6,
                 (double)lim->max_downtime_ns / 1e6);
        return;
    }
    if (lim->max_rounds && r->round >= lim->max_rounds) {
        v->decision = XLMIG_DECIDE_STOP;
        snprintf(v->reason, sizeof(v->reason),
                 "round limit %u reached: stopping with %llu pages left, "
                 "predicted downtime %.1f ms misses the %.0f ms target",
                 lim->max_rounds, (unsigned long long)r->pages_dirtied,
                 v->predicted_downtime_ns == UINT64_MAX ?
                     -1.0 : (double)v->predicted_downtime_ns / 1e6,
                 (double)lim->max_downtime_ns / 1e6);
        return;
    }
    if (lim->allow_throttle && bw && v->dirty_rate * 2 >= bw &&
        r->throttle_pct < ceiling) {
        /* The rate measured was under the current throttle: what the
         * guest would write unthrottled, and the share of that half the
         * bandwidth allows. */
        double full = (double)v->dirty_rate * 100.0 /
                      (double)(100 - r->throttle_pct);
        double need = 100.0 - 100.0 * (double)bw / (2.0 * full);

        v->decision = XLMIG_DECIDE_THROTTLE;
        v->throttle_pct = r->throttle_pct ? r->throttle_pct + 10 : 20;
        if (need > (double)v->throttle_pct) {
            v->throttle_pct = need >= 99.0 ? 99 : (uint32_t)need;
            if ((double)v->throttle_pct < need)
                v->throttle_pct++;
        }
        if (v->throttle_pct > ceiling)
            v->throttle_pct = ceiling;
        snprintf(v->reason, sizeof(v->reason),
                 "not converging: dirty rate %.1f MiB/s vs bandwidth %.1f "
                 "MiB/s; throttling the guest to %u%%%s",
                 (double)v->dirty_rate / 1048576.0,
                 (double)bw / 1048576.0, v->throttle_pct,
                 v->throttle_pct == ceiling && ceiling < 99 ?
                     " (its limit)" : "");
        return;
    }
    v->decision = XLMIG_DECIDE_CONTINUE;
    snprintf(v->reason, sizeof(v->reason),
             "%llu pages left, predicted downtime %.1f ms > %.0f ms%s",
             (unsigned long long)r->pages_dirtied,
             v->predicted_downtime_ns == UINT64_MAX ?
                 -1.0 : (double)v->predicted_downtime_ns / 1e6,
             (double)lim->max_downtime_ns / 1e6,
             lim->allow_throttle && r->throttle_pct >= ceiling ?
                 "; the throttle is at its limit" : "");
}
