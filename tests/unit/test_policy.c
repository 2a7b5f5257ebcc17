/* The pre-copy policy on tables of round statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/policy.h"

#define MS 1000000ull
#define S 1000000000ull
#define MIB 1048576ull
#define PG 4096ull

struct row {
    const char *what;
    /* limits */
    uint64_t downtime_ms, total_s, cap;
    uint32_t rounds;
    uint32_t throttle;          /* max throttle %, 0: not allowed */
    /* round */
    uint32_t round;
    uint64_t bytes, dur_ns, dirty_pages, elapsed_ns;
    uint32_t cur_throttle;
    /* expected */
    enum xlmig_decision want;
    uint32_t want_throttle;
    uint64_t want_downtime_ms;  /* checked when not 0 */
    const char *reason_has;
};

static const struct row rows[] = {
    /* 100 MiB/s measured; 2560 pages = 10 MiB left -> 100 ms */
    { "converged under target", 300, 0, 0, 30, 0,
      3, 100 * MIB, 1 * S, 2560, 5 * S, 0,
      XLMIG_DECIDE_STOP, 0, 100, "converged" },
    { "exactly at target stops", 100, 0, 0, 30, 0,
      3, 100 * MIB, 1 * S, 2560, 5 * S, 0,
      XLMIG_DECIDE_STOP, 0, 100, "converged" },
    { "just over target continues", 99, 0, 0, 30, 0,
      3, 100 * MIB, 1 * S, 2560, 5 * S, 0,
      XLMIG_DECIDE_CONTINUE, 0, 100, "> 99 ms" },
    { "bandwidth cap lowers the estimate", 300, 0, 10 * MIB, 30, 0,
      3, 100 * MIB, 1 * S, 2560, 5 * S, 0,
      XLMIG_DECIDE_CONTINUE, 0, 1000, "predicted downtime 1000.0" },
    { "round limit forces stop and says so", 300, 0, 0, 5, 0,
      5, 100 * MIB, 1 * S, 25600, 5 * S, 0,
      XLMIG_DECIDE_STOP, 0, 1000, "round limit 5" },
    { "timeout aborts, even when rounds remain", 300, 10, 0, 30, 0,
      4, 100 * MIB, 1 * S, 25600, 10 * S, 0,
      XLMIG_DECIDE_ABORT, 0, 0, "timeout" },
    { "timeout wins over convergence", 300, 10, 0, 30, 0,
      4, 100 * MIB, 1 * S, 10, 11 * S, 0,
      XLMIG_DECIDE_ABORT, 0, 0, "timeout" },
    { "zero dirty pages stops at once", 300, 0, 0, 30, 0,
      1, 100 * MIB, 1 * S, 0, 1 * S, 0,
      XLMIG_DECIDE_STOP, 0, 0, "converged" },
    { "unmeasurable round never predicts convergence", 300, 0, 0, 30, 0,
      2, 4096, 100, 2560, 1 * S, 0,
      XLMIG_DECIDE_CONTINUE, 0, 0, "pages left" },
    /* 14000 pages in 1 s: 54.7 MiB/s against 100: 20% is enough */
    { "not converging, throttle allowed: start at 20%", 300, 0, 0, 30, 99,
      3, 100 * MIB, 1 * S, 14000, 5 * S, 0,
      XLMIG_DECIDE_THROTTLE, 20, 0, "throttling the guest to 20%" },
    { "throttle steps by 10", 300, 0, 0, 30, 99,
      4, 100 * MIB, 1 * S, 14000, 6 * S, 40,
      XLMIG_DECIDE_THROTTLE, 50, 0, "50%" },
    /* dirtying as fast as the wire: half the CPU halves the rate */
    { "far from converging: straight to the level the bandwidth needs",
      300, 0, 0, 30, 99,
      3, 100 * MIB, 1 * S, 25600, 5 * S, 0,
      XLMIG_DECIDE_THROTTLE, 50, 0, "throttling the guest to 50%" },
    /* 78 MiB/s under 40% is 130 MiB/s unthrottled: 62% needed */
    { "a throttle that fell short is raised to what the rate says",
      300, 0, 0, 30, 99,
      4, 100 * MIB, 1 * S, 20000, 6 * S, 40,
      XLMIG_DECIDE_THROTTLE, 62, 0, "62%" },
    { "throttle caps at 99", 300, 0, 0, 30, 99,
      9, 100 * MIB, 1 * S, 20000, 9 * S, 95,
      XLMIG_DECIDE_THROTTLE, 99, 0, "99%" },
    { "at 99% it just continues", 300, 0, 0, 30, 99,
      9, 100 * MIB, 1 * S, 20000, 9 * S, 99,
      XLMIG_DECIDE_CONTINUE, 0, 0, "pages left" },
    { "an administrator's limit caps the throttle", 300, 0, 0, 30, 50,
      4, 100 * MIB, 1 * S, 20000, 6 * S, 40,
      XLMIG_DECIDE_THROTTLE, 50, 0, "50% (its limit)" },
    { "a limit under 20% is where it starts", 300, 0, 0, 30, 10,
      3, 100 * MIB, 1 * S, 14000, 5 * S, 0,
      XLMIG_DECIDE_THROTTLE, 10, 0, "10% (its limit)" },
    { "at its limit it continues and says so", 300, 0, 0, 30, 50,
      5, 100 * MIB, 1 * S, 20000, 7 * S, 50,
      XLMIG_DECIDE_CONTINUE, 0, 0, "the throttle is at its limit" },
    { "slow dirtier is not throttled", 300, 0, 0, 30, 99,
      3, 100 * MIB, 1 * S, 10000, 5 * S, 0,
      XLMIG_DECIDE_CONTINUE, 0, 0, "pages left" },
    { "throttling not allowed: continue", 300, 0, 0, 30, 0,
      3, 100 * MIB, 1 * S, 20000, 5 * S, 0,
      XLMIG_DECIDE_CONTINUE, 0, 0, "pages left" },
};

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const struct row *t = &rows[i];
        struct xlmig_limits lim;
        struct xlmig_round r = {
            .round = t->round, .bytes_sent = t->bytes,
            .duration_ns = t->dur_ns, .pages_dirtied = t->dirty_pages,
            .elapsed_ns = t->elapsed_ns, .throttle_pct = t->cur_throttle,
        };
        struct xlmig_verdict v;

        xlmig_limits_default(&lim);
        lim.max_downtime_ns = t->downtime_ms * MS;
        lim.max_total_ns = t->total_s * S;
        lim.bandwidth_cap = t->cap;
        lim.max_rounds = t->rounds;
        lim.allow_throttle = t->throttle != 0;
        if (t->throttle)
            lim.max_throttle_pct = t->throttle;
        xlmig_policy_decide(&lim, &r, PG, &v);
        if (v.decision != t->want)
            fail_msg("%s: decided %s, expected %s (%s)", t->what,
                     xlmig_decision_name(v.decision),
                     xlmig_decision_name(t->want), v.reason);
        if (t->want == XLMIG_DECIDE_THROTTLE &&
            v.throttle_pct != t->want_throttle)
            fail_msg("%s: throttle %u, expected %u", t->what,
                     v.throttle_pct, t->want_throttle);
        if (t->want_downtime_ms &&
            (v.predicted_downtime_ns + MS / 2) / MS != t->want_downtime_ms)
            fail_msg("%s: predicted %llu ns, expected %llu ms", t->what,
                     (unsigned long long)v.predicted_downtime_ns,
                     (unsigned long long)t->want_downtime_ms);
        if (!strstr(v.reason, t->reason_has))
            fail_msg("%s: reason \"%s\" lacks \"%s\"", t->what, v.reason,
                     t->reason_has);
    }
}

static void test_defaults(void **state)
{
    struct xlmig_limits lim;

    (void)state;
    xlmig_limits_default(&lim);
    assert_int_equal(lim.max_downtime_ns, 300 * MS);
    assert_int_equal(lim.max_rounds, XLMIG_DEFAULT_MAX_ROUNDS);
    assert_int_equal(lim.max_throttle_pct, 99);
    assert_int_equal(lim.max_total_ns, 0);
    assert_int_equal(lim.bandwidth_cap, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_defaults),
    };

    return cmocka_run_group_tests_name("policy", tests, NULL, NULL);
}
