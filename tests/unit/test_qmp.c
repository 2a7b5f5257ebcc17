/*
 * QMP lines as QEMU sends them, and lines it must not be believed on: the
 * classifier behind the xen backend's device-model commands.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/xen/qmp.h"

static int parse(const char *line, char *why)
{
    why[0] = '\0';
    return xlmig_qmp_parse(line, strlen(line), why, 256);
}

static void test_kinds(void **state)
{
    char why[256];

    (void)state;
    assert_int_equal(parse("{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0,"
                           " \"minor\": 2, \"major\": 7}}, \"capabilities\":"
                           " [\"oob\"]}}", why), XLMIG_QMP_GREETING);
    assert_int_equal(parse("{\"return\": {}}", why), XLMIG_QMP_RETURN);
    assert_int_equal(parse("{\"return\": [1, 2]}", why), XLMIG_QMP_RETURN);
    assert_int_equal(parse("{\"timestamp\": {\"seconds\": 1}, \"event\": "
                           "\"STOP\"}", why), XLMIG_QMP_EVENT);
    assert_int_equal(parse("{\"error\": {\"class\": \"CommandNotFound\", "
                           "\"desc\": \"The command xen-set-global-dirty-log "
                           "has not been found\"}}", why), XLMIG_QMP_ERROR);
    assert_string_equal(why, "CommandNotFound: The command "
                        "xen-set-global-dirty-log has not been found");
    assert_int_equal(parse("{\"error\": {}}", why), XLMIG_QMP_ERROR);
    assert_string_equal(why, "error: (no description)");
}

static void test_refusals(void **state)
{
    static const char *const bad[] = {
        "", "not json", "[1, 2]", "\"QMP\"", "{\"QMP\": 1}",
        "{\"event\": 5}", "{\"error\": \"x\"}", "{\"something\": {}}",
        "{\"return\": {}", "{\"return\": {}}}",
    };
    char why[256], big[XLMIG_QMP_LINE_MAX + 2];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse(bad[i], why), XLMIG_ERR_PEER);
        assert_true(why[0] != '\0');
    }
    /* a NUL inside the line */
    assert_int_equal(xlmig_qmp_parse("{\"return\": {}}\0x", 16, why,
                                     sizeof(why)), XLMIG_ERR_PEER);
    assert_string_equal(why, "a NUL byte inside a line");
    /* longer than any line QEMU writes for these commands */
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"return\": {}}", 14);
    assert_int_equal(xlmig_qmp_parse(big, sizeof(big), why, sizeof(why)),
                     XLMIG_ERR_PEER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
