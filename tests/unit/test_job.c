/* The job state machine: exactly the transitions in job.h's table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "engine/job.h"

#define P(x) XLMIG_PHASE_##x
static const struct {
    enum xlmig_phase from, to;
} legal[] = {
    { P(PREFLIGHT), P(PREPARE) }, { P(PREFLIGHT), P(ROLLEDBACK) },
    { P(PREPARE), P(PRECOPY) }, { P(PREPARE), P(STOPCOPY) },
    { P(PREPARE), P(ROLLEDBACK) },
    { P(PRECOPY), P(STOPCOPY) }, { P(PRECOPY), P(POSTCOPY) },
    { P(PRECOPY), P(ROLLEDBACK) },
    { P(STOPCOPY), P(HANDOVER) }, { P(STOPCOPY), P(ROLLEDBACK) },
    { P(POSTCOPY), P(HANDOVER) },
    { P(HANDOVER), P(COMMITTED) }, { P(HANDOVER), P(ROLLEDBACK) },
};

static int is_legal(enum xlmig_phase a, enum xlmig_phase b)
{
    for (size_t i = 0; i < sizeof(legal) / sizeof(legal[0]); i++)
        if (legal[i].from == a && legal[i].to == b)
            return 1;
    return 0;
}

static void test_table(void **state)
{
    (void)state;
    for (int a = 0; a < XLMIG_PHASE_COUNT; a++)
        for (int b = 0; b < XLMIG_PHASE_COUNT; b++)
            if (xlmig_phase_transition_ok(a, b) != is_legal(a, b))
                fail_msg("%s -> %s: got %d", xlmig_phase_name(a),
                         xlmig_phase_name(b), !is_legal(a, b));
    assert_false(xlmig_phase_transition_ok(XLMIG_PHASE_COUNT, P(PREPARE)));
}

static void test_setter(void **state)
{
    FILE *devnull = fopen("/dev/null", "w");
    struct xlmig_ctx ctx = { .level = XLMIG_LOG_ERROR, .logf = devnull };
    struct xlmig_job job;

    (void)state;
    xlmig_job_init(&job, &ctx, 1, "d");
    assert_int_equal(job.phase, P(PREFLIGHT));
    assert_int_equal(xlmig_job_set_phase(&job, P(COMMITTED)),
                     XLMIG_ERR_STATE);
    assert_int_equal(job.phase, P(PREFLIGHT));
    assert_int_equal(xlmig_job_set_phase(&job, P(PREPARE)), 0);
    assert_int_equal(xlmig_job_set_phase(&job, P(STOPCOPY)), 0);
    assert_int_equal(xlmig_job_set_phase(&job, P(HANDOVER)), 0);
    assert_int_equal(xlmig_job_set_phase(&job, P(COMMITTED)), 0);
    /* committed is final: no roll-back after the point of no return */
    assert_int_equal(xlmig_job_set_phase(&job, P(ROLLEDBACK)),
                     XLMIG_ERR_STATE);
    fclose(devnull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_setter),
    };

    return cmocka_run_group_tests_name("job", tests, NULL, NULL);
}
