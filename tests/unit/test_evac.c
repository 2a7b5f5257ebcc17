/* The evacuation planner on tables: placement, the pre-copy timing model,
 * the window it chooses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine/evac.h"

#define MIB 1048576ull

static void dom(struct xlmig_evac_dom *d, const char *name, uint64_t mib,
                uint64_t dirty_mib, unsigned nh)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->name, sizeof(d->name), "%s", name);
    d->memory = mib * MIB;
    d->need = d->memory + d->memory / 64;
    d->dirty_rate = dirty_mib * MIB;
    for (unsigned h = 0; h < nh; h++)
        d->ok[h] = true;
}

static void host(struct xlmig_evac_host *h, const char *name, uint64_t mib)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->name, sizeof(h->name), "%s", name);
    h->free = mib * MIB;
}

static uint64_t on(const struct xlmig_evac_dom *d, unsigned nd, int h)
{
    uint64_t sum = 0;

    for (unsigned i = 0; i < nd; i++)
        if (d[i].host == h)
            sum += d[i].need;
    return sum;
}

/* Largest-first greedy fails here (500, 500 split over the two hosts
 * leaves no room for the second 300); the search finds 500+500 | 300+300. */
static void test_search_places_what_greedy_cannot(void **state)
{
    struct xlmig_evac_dom d[5];
    struct xlmig_evac_host h[2];
    struct xlmig_evac_params p = { .max_window = 2, .link = 100 * MIB };
    struct xlmig_evac_plan plan;

    (void)state;
    /* and one that fits nowhere does not stop the others' search */
    dom(&d[4], "huge", 2000, 0, 2);
    dom(&d[0], "a", 300, 0, 2);
    dom(&d[1], "b", 500, 0, 2);
    dom(&d[2], "c", 300, 0, 2);
    dom(&d[3], "d", 500, 0, 2);
    host(&h[0], "big", 1016);
    host(&h[1], "small", 610);
    xlmig_evac_plan(d, 5, h, 2, &p, &plan);
    assert_int_equal(plan.placed, 4);
    assert_int_equal(plan.unplaced, 1);
    assert_int_equal(d[4].host, -1);
    assert_string_equal(plan.method, "search");
    assert_int_equal(d[1].host, 0);
    assert_int_equal(d[3].host, 0);
    assert_int_equal(d[0].host, 1);
    assert_int_equal(d[2].host, 1);
    for (int k = 0; k < 2; k++) {
        assert_true(on(d, 4, k) <= h[k].free);
        assert_int_equal(h[k].planned, on(d, 4, k));
    }
}

/* Enough room everywhere: worst fit spreads the domains. */
static void test_worst_fit_spreads(void **state)
{
    struct xlmig_evac_dom d[4];
    struct xlmig_evac_host h[2];
    struct xlmig_evac_params p = { .max_window = 1, .link = 100 * MIB };
    struct xlmig_evac_plan plan;

    (void)state;
    dom(&d[0], "a", 100, 0, 2);
    dom(&d[1], "b", 100, 0, 2);
    dom(&d[2], "c", 100, 0, 2);
    dom(&d[3], "e", 100, 0, 2);
    host(&h[0], "x", 4000);
    host(&h[1], "y", 4000);
    xlmig_evac_plan(d, 4, h, 2, &p, &plan);
    assert_string_equal(plan.method, "worst-fit");
    assert_int_equal(on(d, 4, 0), on(d, 4, 1));
}

/* A domain that only one host accepts goes there; one that fits nowhere
 * has no place, and the others are still placed. */
static void test_compatibility_and_no_place(void **state)
{
    struct xlmig_evac_dom d[3];
    struct xlmig_evac_host h[2];
    struct xlmig_evac_params p = { .max_window = 2, .link = 100 * MIB };
    struct xlmig_evac_plan plan;

    (void)state;
    dom(&d[0], "avx512", 200, 0, 2);
    d[0].ok[0] = false;                 /* its CPU features: not on x */
    dom(&d[1], "huge", 5000, 0, 2);
    dom(&d[2], "plain", 200, 0, 2);
    host(&h[0], "x", 1000);
    host(&h[1], "y", 300);
    xlmig_evac_plan(d, 3, h, 2, &p, &plan);
    assert_int_equal(d[0].host, 1);
    assert_int_equal(d[1].host, -1);
    assert_int_equal(d[2].host, 0);
    assert_int_equal(plan.placed, 2);
    assert_int_equal(plan.unplaced, 1);
}

/* Pre-copy's model: an idle domain takes one round; one that dirties
 * slower than the link converges in a few; one faster does not and
 * stops at the round limit with a long stop-and-copy. */
static void test_solo_model(void **state)
{
    struct xlmig_evac_params p = { .setup_s = 0.5, .handover_s = 0.01 };
    struct xlmig_evac_dom d;
    double down, t;
    bool conv;

    (void)state;
    dom(&d, "idle", 100, 0, 1);
    t = xlmig_evac_solo(&d, 100.0 * MIB, &p, &down, &conv);
    assert_true(conv);
    assert_true(t > 1.5 - 1e-6 && t < 1.51 + 1e-6);   /* 0.5 + 1 + 0.01 */
    assert_true(down < 0.011);

    dom(&d, "busy", 100, 10, 1);
    /* 1 s (10 MiB dirty), 0.1 s (1 MiB), then 0.01 s of stop-and-copy */
    t = xlmig_evac_solo(&d, 100.0 * MIB, &p, &down, &conv);
    assert_true(conv);
    assert_true(t > 1.5 + 0.1 && t < 1.5 + 0.1 + 0.05);

    dom(&d, "hot", 100, 200, 1);
    p.max_rounds = 5;
    t = xlmig_evac_solo(&d, 100.0 * MIB, &p, &down, &conv);
    assert_false(conv);
    /* five full rounds, then all of it again while suspended */
    assert_true(t > 0.5 + 5 + 1 - 1e-6 && t < 0.5 + 6 + 0.02);
    assert_true(down > 0.99);
}

/* One shared link and no cap: running them together only slows each
 * down, so one at a time (shortest first) finishes domains sooner. */
static void test_shared_link_prefers_sequential(void **state)
{
    struct xlmig_evac_dom d[4];
    struct xlmig_evac_host h[1];
    struct xlmig_evac_params p = { .max_window = 4, .link = 100 * MIB };
    struct xlmig_evac_plan plan;

    (void)state;
    dom(&d[0], "a", 400, 0, 1);
    dom(&d[1], "b", 100, 0, 1);
    dom(&d[2], "c", 200, 0, 1);
    dom(&d[3], "e", 300, 0, 1);
    host(&h[0], "x", 10000);
    xlmig_evac_plan(d, 4, h, 1, &p, &plan);
    assert_int_equal(plan.nchoices, 4);
    assert_int_equal(plan.window, 1);
    assert_true(plan.choices[0].mean_s < plan.choices[3].mean_s);
    /* shortest first */
    assert_int_equal(d[1].order, 0);
    assert_int_equal(d[2].order, 1);
    assert_int_equal(d[3].order, 2);
    assert_int_equal(d[0].order, 3);
    assert_true(d[1].end_s <= d[2].start_s + 1e-9);
    /* about 0.3 + 1 + 0.02 + 0.3 + 2 + 0.02 ... for all four */
    assert_true(plan.makespan_s > 10 + 4 * 0.3 && plan.makespan_s < 10 + 2);
}

/* Each migration capped well below the link: together is faster. */
static void test_capped_jobs_prefer_parallel(void **state)
{
    struct xlmig_evac_dom d[4];
    struct xlmig_evac_host h[2];
    struct xlmig_evac_params p = { .max_window = 4, .cap = 10 * MIB,
                                   .link = 1000 * MIB };
    struct xlmig_evac_plan plan;

    (void)state;
    for (int i = 0; i < 4; i++) {
        char n[16];
        snprintf(n, sizeof(n), "d%d", i);
        dom(&d[i], n, 50, 1, 2);
    }
    host(&h[0], "x", 10000);
    host(&h[1], "y", 10000);
    xlmig_evac_plan(d, 4, h, 2, &p, &plan);
    assert_int_equal(plan.window, 4);
    assert_true(plan.makespan_s < plan.choices[0].makespan_s / 3);
    /* and a per-destination limit of 1 holds them to two at once */
    h[0].max_jobs = h[1].max_jobs = 1;
    xlmig_evac_plan(d, 4, h, 2, &p, &plan);
    for (int i = 0; i < 4; i++)
        for (int k = 0; k < 4; k++)
            if (i != k && d[i].host == d[k].host)
                assert_true(d[i].end_s <= d[k].start_s + 1e-9 ||
                            d[k].end_s <= d[i].start_s + 1e-9);
}

/* Sharing a link hurts convergence: a domain that converges alone may
 * not when it gets a quarter of the link. */
static void test_sharing_slows_convergence(void **state)
{
    struct xlmig_evac_dom d[4];
    struct xlmig_evac_host h[1];
    struct xlmig_evac_params p = { .max_window = 4, .window = 4,
                                   .max_rounds = 10, .link = 100 * MIB };
    struct xlmig_evac_plan plan;

    (void)state;
    for (int i = 0; i < 4; i++) {
        char n[16];
        snprintf(n, sizeof(n), "d%d", i);
        dom(&d[i], n, 100, 40, 1);
    }
    host(&h[0], "x", 10000);
    xlmig_evac_plan(d, 4, h, 1, &p, &plan);
    assert_int_equal(plan.window, 4);
    for (int i = 0; i < 4; i++) {
        bool alone;
        double down;
        xlmig_evac_solo(&d[i], 100.0 * MIB, &p, &down, &alone);
        assert_true(alone);                 /* 40 MiB/s of 100 */
        assert_false(d[i].converges);       /* of 25 each */
        assert_true(d[i].downtime_s > 1.0);
        assert_true(d[i].end_s > d[i].solo_s);
    }
    /* the chooser, left free, does not take the window that costs most */
    p.window = 0;
    xlmig_evac_plan(d, 4, h, 1, &p, &plan);
    assert_int_equal(plan.window, 1);
    for (int i = 0; i < 4; i++)
        assert_true(d[i].converges);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_search_places_what_greedy_cannot),
        cmocka_unit_test(test_worst_fit_spreads),
        cmocka_unit_test(test_compatibility_and_no_place),
        cmocka_unit_test(test_solo_model),
        cmocka_unit_test(test_shared_link_prefers_sequential),
        cmocka_unit_test(test_capped_jobs_prefer_parallel),
        cmocka_unit_test(test_sharing_slows_convergence),
    };

    return cmocka_run_group_tests_name("evac", tests, NULL, NULL);
}
