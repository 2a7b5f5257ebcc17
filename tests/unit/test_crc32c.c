/* CRC32C: published check values, chaining, and hardware == table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crc32c.h"

static void test_vectors(void **state)
{
    static const uint8_t zeros[32], ones[32] = {
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    uint8_t inc[32];

    (void)state;
    for (int i = 0; i < 32; i++)
        inc[i] = (uint8_t)i;
    /* "123456789" and the RFC 3720 (iSCSI) B.4 vectors */
    assert_int_equal(xlmig_crc32c(0, "123456789", 9), 0xe3069283);
    assert_int_equal(xlmig_crc32c(0, zeros, 32), 0x8a9136aa);
    assert_int_equal(xlmig_crc32c(0, ones, 32), 0x62a8ab43);
    assert_int_equal(xlmig_crc32c(0, inc, 32), 0x46dd794e);
    assert_int_equal(xlmig_crc32c(0, "", 0), 0);
    assert_int_equal(xlmig_crc32c_sw(0, "123456789", 9), 0xe3069283);
}

static void test_chaining_and_paths(void **state)
{
    uint8_t *buf = malloc(70000);

    (void)state;
    assert_non_null(buf);
    srand(7);
    for (size_t i = 0; i < 70000; i++)
        buf[i] = (uint8_t)rand();
    for (size_t off = 0; off < 9; off++) {
        for (size_t len = 0; len < 70000 - off; len = len * 3 + 1) {
            uint32_t whole = xlmig_crc32c(0, buf + off, len);
            size_t half = len / 2;
            assert_int_equal(whole, xlmig_crc32c_sw(0, buf + off, len));
            assert_int_equal(whole,
                             xlmig_crc32c(xlmig_crc32c(0, buf + off, half),
                                          buf + off + half, len - half));
        }
    }
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_chaining_and_paths),
    };

    return cmocka_run_group_tests_name("crc32c", tests, NULL, NULL);
}
