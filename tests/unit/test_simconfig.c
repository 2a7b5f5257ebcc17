/* The sim configuration parser: round trip and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sim_config.h"

#define GOOD "name=web1\nuuid=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0\n" \
             "memory_pages=65536\nvcpus=2\ndirty_rate=67108864\n"      \
             "pattern=hotset\nhot_percent=10\nseed=42\n"

static void test_roundtrip(void **state)
{
    struct sim_config c, c2;
    char why[160], buf[1024];
    int n;

    (void)state;
    assert_int_equal(sim_config_parse(GOOD, strlen(GOOD), &c, why,
                                      sizeof(why)), 0);
    assert_string_equal(c.name, "web1");
    assert_int_equal(c.nr_pages, 65536);
    assert_int_equal(c.nr_vcpus, 2);
    assert_int_equal(c.pattern, SIM_PATTERN_HOTSET);
    assert_int_equal(c.uuid[0], 0x0f);
    assert_int_equal(c.uuid[15], 0xf0);
    n = sim_config_format(&c, buf, sizeof(buf));
    assert_true(n > 0);
    assert_string_equal(buf, GOOD);
    assert_int_equal(sim_config_parse(buf, (size_t)n, &c2, why,
                                      sizeof(why)), 0);
    assert_memory_equal(&c, &c2, sizeof(c));
}

static void expect_bad(const char *text, const char *needle)
{
    struct sim_config c;
    char why[160];

    if (sim_config_parse(text, strlen(text), &c, why, sizeof(why)) !=
        XLMIG_ERR_INVAL)
        fail_msg("accepted: %s", text);
    if (!strstr(why, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", why, needle);
}

static void test_refusals(void **state)
{
    char big[5000];

    (void)state;
    expect_bad("name=a\n", "missing key");
    expect_bad(GOOD "vcpus=2\n", "vcpus given twice");
    expect_bad(GOOD "colour=red\n", "unknown key");
    expect_bad("junk\n" GOOD, "line 1: expected key=value");
    expect_bad("name=../x\nuuid=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f0\n",
               "bad value for name");
    expect_bad("uuid=0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0fZ\n",
               "bad value for uuid");
    expect_bad("memory_pages=4095\n", "bad value for memory_pages");
    expect_bad("memory_pages=-1\n", "bad value for memory_pages");
    expect_bad("memory_pages=99999999999999999999999\n",
               "bad value for memory_pages");
    expect_bad("vcpus=0\n", "bad value for vcpus");
    expect_bad("vcpus=65\n", "bad value for vcpus");
    expect_bad("pattern=random\n", "bad value for pattern");
    expect_bad("hot_percent=101\n", "bad value for hot_percent");
    expect_bad("dirty_rate=fast\n", "bad value for dirty_rate");
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    expect_bad(big, "limit");
    memset(big, 'a', 300);
    big[300] = '\0';
    expect_bad(big, "longer than");
    {
        struct sim_config c;
        char why[160];
        static const char nul[] = "name=a\0b\n";
        assert_int_equal(sim_config_parse(nul, sizeof(nul) - 1, &c, why,
                                          sizeof(why)), XLMIG_ERR_INVAL);
        assert_non_null(strstr(why, "NUL"));
    }
}

static void test_sizes(void **state)
{
    uint64_t v;

    (void)state;
    assert_int_equal(sim_parse_size("256M", &v), 0);
    assert_int_equal(v, 256u << 20);
    assert_int_equal(sim_parse_size("4GiB", &v), 0);
    assert_int_equal(v, UINT64_C(4) << 30);
    assert_int_equal(sim_parse_size("12", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(sim_parse_size("", &v), XLMIG_ERR_INVAL);
    assert_int_equal(sim_parse_size("-1M", &v), XLMIG_ERR_INVAL);
    assert_int_equal(sim_parse_size("5X", &v), XLMIG_ERR_INVAL);
    assert_int_equal(sim_parse_size("99999999999T", &v), XLMIG_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_sizes),
    };

    return cmocka_run_group_tests_name("simconfig", tests, NULL, NULL);
}
