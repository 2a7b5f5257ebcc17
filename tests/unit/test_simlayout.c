/* Self-checking pages: each kind of damage is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/private.h"
#include "backend/sim/sim_layout.h"

static void test_page_checks(void **state)
{
    uint8_t a[4096], b[4096];

    (void)state;
    sim_page_fill(a, 99, 1234, 7, 1);
    assert_null(sim_page_check(a, 99, 1234, 7));
    assert_string_equal(sim_page_check(a, 99, 1234, 8),
                        "stale page (older generation)");
    assert_string_equal(sim_page_check(a, 99, 1234, 6),
                        "page newer than the ledger");
    assert_string_equal(sim_page_check(a, 99, 1235, 7),
                        "page in the wrong place (pfn differs)");
    assert_string_equal(sim_page_check(a, 98, 1234, 7),
                        "page belongs to another domain (seed differs)");
    /* torn: first half of generation 7, second half of generation 8 */
    sim_page_fill(b, 99, 1234, 8, 1);
    memcpy(b, a, 2048);
    assert_string_equal(sim_page_check(b, 99, 1234, 7),
                        "torn or corrupt page (checksum fails)");
    a[4000] ^= 1;
    assert_string_equal(sim_page_check(a, 99, 1234, 7),
                        "torn or corrupt page (checksum fails)");
    memset(a, 0, sizeof(a));
    assert_null(sim_page_check(a, 99, 1234, 0));
    assert_string_equal(sim_page_check(a, 99, 1234, 3),
                        "page lost: zero where the ledger records a write");
    a[10] = 1;
    assert_string_equal(sim_page_check(a, 99, 1234, 0),
                        "page never written but not zero");
}

static void test_verify_whole_memory(void **state)
{
    const uint64_t n = SIM_MIN_PAGES;
    uint8_t *m = calloc(n, 4096);
    struct sim_sb *sb = (struct sim_sb *)m;
    struct sim_verify_result r;
    uint64_t lp, ds, *ledger;

    (void)state;
    assert_non_null(m);
    sim_geometry(n, &lp, &ds);
    assert_true(ds == 1 + lp);
    assert_true(lp * 4096 / 8 >= n - ds);
    sb->magic = SIM_SB_MAGIC;
    sb->seed = 5;
    sb->nr_pages = n;
    sb->ledger_pages = lp;
    sb->data_start = ds;
    ledger = (uint64_t *)(m + 4096);
    for (uint64_t p = ds; p < n; p += 3) {
        ledger[p - ds] = p % 5 + 1;
        sim_page_fill(m + p * 4096, 5, p, ledger[p - ds], 0);
    }
    sim_verify(m, n, -1, &r);
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.pages_checked, n - ds);
    /* a lost page, then a stale ledger entry */
    memset(m + (ds + 3) * 4096, 0, 4096);
    ledger[6]++;
    sim_verify(m, n, -1, &r);
    assert_int_equal(r.bad, 2);
    assert_int_equal(r.first_bad_pfn, ds + 3);
    sb->magic = 0;
    sim_verify(m, n, -1, &r);
    assert_string_equal(r.first_reason, "superblock damaged");
    free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_checks),
        cmocka_unit_test(test_verify_whole_memory),
    };

    return cmocka_run_group_tests_name("simlayout", tests, NULL, NULL);
}
