/* Self-checking pages: each kind of damage is named. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

static void test_block_checks(void **state)
{
    uint8_t a[4096], b[4096], p[4096];
    const char *why;

    (void)state;
    sim_block_fill(a, 99, 2, 777, 5);
    assert_int_equal(sim_block_check(a, 99, 2, 777, 5, true, &why),
                     SIM_BLOCK_OK);
    assert_null(why);
    assert_int_equal(sim_block_check(a, 99, 2, 777, 6, true, &why),
                     SIM_BLOCK_STALE);
    assert_string_equal(why, "stale block: a write lost (older generation)");
    assert_int_equal(sim_block_check(a, 99, 2, 777, 4, true, &why),
                     SIM_BLOCK_BAD);
    assert_string_equal(why, "block newer than the ledger");
    assert_int_equal(sim_block_check(a, 99, 2, 778, 5, true, &why),
                     SIM_BLOCK_BAD);
    assert_string_equal(why, "block in the wrong place (block number differs)");
    assert_int_equal(sim_block_check(a, 99, 3, 777, 5, true, &why),
                     SIM_BLOCK_BAD);
    assert_string_equal(why, "block of another disk");
    assert_int_equal(sim_block_check(a, 98, 2, 777, 5, true, &why),
                     SIM_BLOCK_BAD);
    /* A memory page with the same numbers is not a disk block, and the
     * fills differ: a block is never mistaken for a page. */
    sim_page_fill(p, 99, 777, 5, 2);
    assert_int_equal(sim_block_check(p, 99, 2, 777, 5, true, &why),
                     SIM_BLOCK_BAD);
    assert_string_equal(why, "block of another domain, or not a disk block");
    assert_memory_not_equal(a + 32, p + 32, 4064);
    /* torn: half of generation 5, half of generation 6 */
    sim_block_fill(b, 99, 2, 777, 6);
    memcpy(b, a, 2048);
    assert_int_equal(sim_block_check(b, 99, 2, 777, 5, true, &why),
                     SIM_BLOCK_BAD);
    assert_string_equal(why, "torn or corrupt block (checksum fails)");
    /* zero: a lost write when the ledger has one, else fine */
    memset(b, 0, sizeof(b));
    assert_int_equal(sim_block_check(b, 99, 2, 777, 5, true, &why),
                     SIM_BLOCK_STALE);
    assert_string_equal(why, "write lost: zero where the ledger records a write");
    assert_int_equal(sim_block_check(b, 99, 2, 777, 0, true, &why),
                     SIM_BLOCK_OK);
    /* never written: must be zero on an image made zero, else unchecked */
    assert_int_equal(sim_block_check(a, 99, 2, 777, 0, true, &why),
                     SIM_BLOCK_BAD);
    assert_string_equal(why, "block never written but not zero");
    assert_int_equal(sim_block_check(a, 99, 2, 777, 0, false, &why),
                     SIM_BLOCK_OK);
}

static void test_verify_disk(void **state)
{
    char path[] = "/tmp/test_simlayout.XXXXXX";
    const uint64_t n = 300;
    uint64_t ledger[300] = { 0 };
    struct sim_disk_verify v;
    uint8_t blk[4096];
    int fd = mkstemp(path);

    (void)state;
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(ftruncate(fd, (off_t)(n * 4096)), 0);
    for (uint64_t b = 0; b < n; b += 7) {
        ledger[b] = b % 3 + 1;
        sim_block_fill(blk, 11, 0, b, ledger[b]);
        assert_int_equal(pwrite(fd, blk, 4096, (off_t)(b * 4096)), 4096);
    }
    sim_verify_disk(fd, 11, 0, ledger, n, true, &v);
    assert_int_equal(v.err, 0);
    assert_int_equal(v.blocks_checked, n);
    assert_int_equal(v.blocks_written, (n + 6) / 7);
    assert_int_equal(v.bad + v.stale, 0);
    /* A write the image lost (a hole where the ledger has one), a stale
     * block and a corrupt one: counted apart, the first one named. */
    ledger[150] = 1;
    ledger[14]++;
    sim_block_fill(blk, 11, 0, 21, ledger[21]);
    blk[3000] ^= 0x40;
    assert_int_equal(pwrite(fd, blk, 4096, 21 * 4096), 4096);
    sim_verify_disk(fd, 11, 0, ledger, n, true, &v);
    assert_int_equal(v.stale, 2);
    assert_int_equal(v.bad, 1);
    assert_int_equal(v.first_block, 14);
    assert_string_equal(v.first_reason,
                        "stale block: a write lost (older generation)");
    /* An image shorter than the ledger reads as zeros past its end. */
    assert_int_equal(ftruncate(fd, 100 * 4096), 0);
    sim_verify_disk(fd, 11, 0, ledger, n, true, &v);
    assert_int_equal(v.stale, 1 + 28 + 1);     /* 14; 105..294; 150 */
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_checks),
        cmocka_unit_test(test_verify_whole_memory),
        cmocka_unit_test(test_block_checks),
        cmocka_unit_test(test_verify_disk),
    };

    return cmocka_run_group_tests_name("simlayout", tests, NULL, NULL);
}
