/* Control requests: accepted forms round-trip; each refusal names why. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "xlmigd/ctl.h"

static int parse(const char *line, struct xlmig_ctl_req *r, char *why)
{
    return xlmig_ctl_parse(line, strlen(line), r, why, 256);
}

static void test_migrate(void **state)
{
    struct xlmig_ctl_req r, r2;
    char why[256], line[XLMIG_CTL_LINE_MAX + 2];
    int n;

    (void)state;
    assert_int_equal(parse("{\"cmd\":\"migrate\",\"domain\":\"web1\","
                           "\"host\":\"hostb@10.0.0.2:8003\","
                           "\"max_downtime_ms\":20,\"bandwidth_mib\":100,"
                           "\"max_rounds\":5,\"timeout_s\":60,"
                           "\"channels\":1,\"quick\":false,"
                           "\"auto_converge\":true,\"max_throttle_pct\":60,"
                           "\"xl\":true,\"priority\":7}\n", &r,
                           why), 0);
    assert_int_equal(r.cmd, XLMIG_CTL_MIGRATE);
    assert_string_equal(r.domain, "web1");
    assert_string_equal(r.host, "hostb@10.0.0.2:8003");
    assert_int_equal(r.max_downtime_ms, 20);
    assert_int_equal(r.bandwidth_mib, 100);
    assert_int_equal(r.max_rounds, 5);
    assert_int_equal(r.timeout_s, 60);
    assert_false(r.quick);
    assert_true(r.auto_converge);
    assert_int_equal(r.max_throttle_pct, 60);
    assert_true(r.xl);
    assert_int_equal(r.priority, 7);
    n = xlmig_ctl_format(&r, line, sizeof(line));
    assert_true(n > 0);
    assert_int_equal(line[n - 1], '\n');
    assert_int_equal(xlmig_ctl_parse(line, (size_t)n, &r2, why, sizeof(why)),
                     0);
    assert_memory_equal(&r, &r2, sizeof(r));
}

static void test_others(void **state)
{
    struct xlmig_ctl_req r;
    char why[256];

    (void)state;
    assert_int_equal(parse("{\"cmd\":\"status\"}", &r, why), 0);
    assert_int_equal(r.cmd, XLMIG_CTL_STATUS);
    assert_int_equal(parse("{\"cmd\":\"cancel\",\"job\":7}", &r, why), 0);
    assert_int_equal(r.job, 7);
    assert_int_equal(parse("{\"cmd\":\"recover\"}", &r, why), 0);
    assert_int_equal(r.job, 0);
    assert_int_equal(parse("{\"cmd\":\"preflight\",\"domain\":\"web1\","
                           "\"host\":\"hostb\",\"copy_storage\":true,"
                           "\"disk_map\":[\"xvda=/srv/b/web1.img\","
                           "\"xvdb=/srv/b/data.img\"]}", &r, why), 0);
    assert_int_equal(r.cmd, XLMIG_CTL_PREFLIGHT);
    assert_string_equal(r.domain, "web1");
    assert_true(r.copy_storage);
    assert_int_equal(r.ndisk_map, 2);
    assert_string_equal(r.disk_map[0].vdev, "xvda");
    assert_string_equal(r.disk_map[0].path, "/srv/b/web1.img");
    assert_string_equal(r.disk_map[1].vdev, "xvdb");
    assert_string_equal(r.disk_map[1].path, "/srv/b/data.img");
    {
        struct xlmig_ctl_req r2;
        char line[XLMIG_CTL_LINE_MAX + 2];
        int n = xlmig_ctl_format(&r, line, sizeof(line));
        assert_true(n > 0);
        assert_int_equal(xlmig_ctl_parse(line, (size_t)n, &r2, why,
                                         sizeof(why)), 0);
        assert_memory_equal(&r, &r2, sizeof(r));
    }
}

static void test_storage_move(void **state)
{
    struct xlmig_ctl_req r, r2;
    char why[256], line[XLMIG_CTL_LINE_MAX + 2];
    int n;

    (void)state;
    assert_int_equal(parse("{\"cmd\":\"storage-move\",\"domain\":\"web1\","
                           "\"disk\":\"xvda\",\"path\":\"/srv/b/w.img\","
                           "\"keep\":true,\"bandwidth_mib\":50}", &r, why),
                     0);
    assert_int_equal(r.cmd, XLMIG_CTL_STORAGE_MOVE);
    assert_string_equal(r.domain, "web1");
    assert_string_equal(r.disk, "xvda");
    assert_string_equal(r.path, "/srv/b/w.img");
    assert_true(r.keep);
    assert_int_equal(r.bandwidth_mib, 50);
    n = xlmig_ctl_format(&r, line, sizeof(line));
    assert_true(n > 0);
    assert_int_equal(xlmig_ctl_parse(line, (size_t)n, &r2, why, sizeof(why)),
                     0);
    assert_memory_equal(&r, &r2, sizeof(r));
}

static const struct {
    const char *line;
    const char *why;
} bad[] = {
    { "{\"cmd\":\"storage-move\",\"disk\":\"xvda\",\"path\":\"/x\"}",
      "\"domain\" is missing" },
    { "{\"cmd\":\"storage-move\",\"domain\":\"web1\",\"path\":\"/x\"}",
      "\"disk\" is missing" },
    { "{\"cmd\":\"storage-move\",\"domain\":\"web1\",\"disk\":\"a/b\","
      "\"path\":\"/x\"}", "not a disk's virtual device name" },
    { "{\"cmd\":\"storage-move\",\"domain\":\"web1\",\"disk\":\"xvda\"}",
      "\"path\" is missing or not an absolute path" },
    { "{\"cmd\":\"storage-move\",\"domain\":\"web1\",\"disk\":\"xvda\","
      "\"path\":\"x.img\"}", "not an absolute path" },
    { "{\"cmd\":\"storage-move\",\"domain\":\"web1\",\"disk\":\"xvda\","
      "\"path\":\"/x\",\"keep\":1}", "\"keep\" must be true or false" },
    { "{\"cmd\":\"storage-move\",\"domain\":\"web1\",\"disk\":\"xvda\","
      "\"path\":\"/x\",\"host\":\"b\"}", "\"host\" is not a key of "
      "\"storage-move\"" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"keep\":true}", "\"keep\" is not a key of \"migrate\"" },
    { "", "not JSON" },
    { "[1,2]", "a request is a JSON object" },
    { "{\"job\":1}", "no \"cmd\"" },
    { "{\"cmd\":\"reboot\"}", "unknown command \"reboot\"" },
    { "{\"cmd\":7}", "\"cmd\" must be a string" },
    { "{\"cmd\":\"status\",\"job\":1}", "\"job\" is not a key of \"status\"" },
    { "{\"cmd\":\"cancel\"}", "cancel needs a \"job\" number" },
    { "{\"cmd\":\"cancel\",\"job\":-1}", "\"job\" must be an integer" },
    { "{\"cmd\":\"cancel\",\"job\":1,\"job\":2}", "\"job\" given twice" },
    { "{\"cmd\":\"migrate\",\"host\":\"hostb\"}", "\"domain\" is missing" },
    { "{\"cmd\":\"migrate\",\"domain\":\"../x\",\"host\":\"hostb\"}",
      "not a valid domain name" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\"}", "\"host\" is missing" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"b@1.2.3.4:x\"}",
      "not NAME[@ADDRESS[:PORT]]" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"max_downtime_ms\":1e3}", "must be an integer" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"channels\":17}", "from 0 to 16" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"quick\":1}", "true or false" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"via\":\"/x\"}", "\"via\" needs \"quick\"" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"quick\":true,\"via\":\"x\"}", "absolute path" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"auto_converge\":\"yes\"}", "\"auto_converge\" must be true or false" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"quick\":true,\"auto_converge\":true}", "\"quick\" is not live" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"xl\":1}", "\"xl\" must be true or false" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"max_throttle_pct\":50}", "limits \"auto_converge\": give both" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"auto_converge\":true,\"max_throttle_pct\":100}", "from 0 to 99" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"auto_converge\":true,\"max_throttle_pct\":0}", "from 1 to 99" },
    { "{\"cmd\":\"preflight\",\"domain\":\"web1\"}", "\"host\" is missing" },
    { "{\"cmd\":\"preflight\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"quick\":true}", "\"quick\" is not a key of \"preflight\"" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"priority\":10}", "from 0 to 9" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"priority\":\"high\"}", "must be an integer" },
    { "{\"cmd\":\"preflight\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"priority\":1}", "\"priority\" is not a key of \"preflight\"" },
    { "{\"cmd\":\"status\",\"copy_storage\":true}",
      "\"copy_storage\" is not a key of \"status\"" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":true,\"quick\":true}", "not with \"quick\" or \"xl\"" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":true,\"xl\":true}", "not with \"quick\" or \"xl\"" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"disk_map\":[\"xvda=/x\"]}", "it needs \"copy_storage\"" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":true,\"disk_map\":\"xvda=/x\"}", "must be an array" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":true,\"disk_map\":[\"xvda=x\"]}", "VDEV=/ABSOLUTE/PATH" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":true,\"disk_map\":[\"=/x\"]}", "VDEV=/ABSOLUTE/PATH" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":true,\"disk_map\":[\"xvda\"]}", "VDEV=/ABSOLUTE/PATH" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":true,\"disk_map\":[\"xvda=/a\",\"xvda=/b\"]}",
      "names disk xvda twice" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":true,\"disk_map\":[1]}", "must be a string" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":true,\"disk_map\":[\"a=/1\",\"b=/2\",\"c=/3\","
      "\"d=/4\",\"e=/5\",\"f=/6\",\"g=/7\",\"h=/8\",\"i=/9\"]}",
      "at most 8" },
    { "{\"cmd\":\"preflight\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"copy_storage\":1}", "\"copy_storage\" must be true or false" },
    { "{\"cmd\":\"migrate\",\"domain\":\"web1\",\"host\":\"hostb\","
      "\"xl\":true,\"channels\":2}", "not with \"quick\" or \"channels\"" },
};

static void test_drain(void **state)
{
    struct xlmig_ctl_req r, r2;
    char why[256], line[XLMIG_CTL_LINE_MAX + 2], big[400];
    int n;

    (void)state;
    assert_int_equal(parse("{\"cmd\":\"drain\",\"reason\":\"firmware, "
                           "ticket 12\"}", &r, why), 0);
    assert_int_equal(r.cmd, XLMIG_CTL_DRAIN);
    assert_string_equal(r.reason, "firmware, ticket 12");
    n = xlmig_ctl_format(&r, line, sizeof(line));
    assert_true(n > 0);
    assert_int_equal(xlmig_ctl_parse(line, (size_t)n, &r2, why, sizeof(why)),
                     0);
    assert_memory_equal(&r, &r2, sizeof(r));
    assert_int_equal(parse("{\"cmd\":\"drain\"}", &r, why), 0);
    assert_string_equal(r.reason, "");
    assert_int_equal(parse("{\"cmd\":\"undrain\"}", &r, why), 0);
    assert_int_equal(r.cmd, XLMIG_CTL_UNDRAIN);

    assert_int_equal(parse("{\"cmd\":\"drain\",\"reason\":\"a\\tb\"}", &r,
                           why), XLMIG_ERR_INVAL);
    assert_non_null(strstr(why, "printable"));
    assert_int_equal(parse("{\"cmd\":\"drain\",\"reason\":\"a\\u007fb\"}",
                           &r, why), XLMIG_ERR_INVAL);
    assert_int_equal(parse("{\"cmd\":\"undrain\",\"reason\":\"x\"}", &r,
                           why), XLMIG_ERR_INVAL);
    assert_non_null(strstr(why, "\"reason\" is not a key of \"undrain\""));
    assert_int_equal(parse("{\"cmd\":\"drain\",\"reason\":7}", &r, why),
                     XLMIG_ERR_INVAL);
    snprintf(big, sizeof(big), "{\"cmd\":\"drain\",\"reason\":\"%0201d\"}",
             0);
    assert_int_equal(parse(big, &r, why), XLMIG_ERR_INVAL);
    assert_non_null(strstr(why, "longer than 200"));
}

static void test_refusals(void **state)
{
    struct xlmig_ctl_req r;
    char why[256], big[XLMIG_CTL_LINE_MAX + 10];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i].line, &r, why);
        if (rc != XLMIG_ERR_INVAL || !strstr(why, bad[i].why))
            fail_msg("case %zu (%s): rc %d, message \"%s\", wanted \"%s\"",
                     i, bad[i].line, rc, why, bad[i].why);
    }
    memset(big, ' ', sizeof(big));
    assert_int_equal(xlmig_ctl_parse(big, sizeof(big), &r, why, sizeof(why)),
                     XLMIG_ERR_INVAL);
    assert_non_null(strstr(why, "longer than"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate),
        cmocka_unit_test(test_others),
        cmocka_unit_test(test_storage_move),
        cmocka_unit_test(test_drain),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests_name("ctl", tests, NULL, NULL);
}
