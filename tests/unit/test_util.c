/* Finding the programs the library runs: the environment's choice, else
 * the one beside the running program, else the fallback. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/private.h"

static void test_find_program(void **state)
{
    char buf[PATH_MAX], self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

    (void)state;
    assert_true(n > 0);
    self[n] = '\0';
    unsetenv("XLMIG_TEST_PROG");
    /* Beside the running program: this test itself. */
    xlmig_find_program(buf, sizeof(buf), "XLMIG_TEST_PROG", "test_util",
                       "/nowhere/test_util");
    assert_string_equal(buf, self);
    /* Not beside it: the fallback. */
    xlmig_find_program(buf, sizeof(buf), "XLMIG_TEST_PROG",
                       "no-such-program", "/usr/lib/xlmig/no-such-program");
    assert_string_equal(buf, "/usr/lib/xlmig/no-such-program");
    /* The environment wins. */
    setenv("XLMIG_TEST_PROG", "/opt/x/helper", 1);
    xlmig_find_program(buf, sizeof(buf), "XLMIG_TEST_PROG", "test_util",
                       "/nowhere/test_util");
    assert_string_equal(buf, "/opt/x/helper");
    unsetenv("XLMIG_TEST_PROG");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find_program),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
