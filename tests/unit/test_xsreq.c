/* XenStore requests (docs/specs/xenstore.md): key/value pairs as read from
 * /xlmig/request/<id>/ become control requests or are refused by name;
 * a job's keys; progress in permille. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/job.h"
#include "xenstore/request.h"

#define KV(k, v) { k, v, sizeof(v) - 1 }

static int parse(const struct xlmig_xs_kv *kv, size_t n,
                 struct xlmig_ctl_req *r, char *why)
{
    why[0] = '\0';
    return xlmig_xs_req_parse(kv, n, r, why, 256);
}

static void test_migrate(void **state)
{
    static const struct xlmig_xs_kv kv[] = {
        KV("cmd", "migrate"), KV("domain", "web1"),
        KV("host", "hostb@10.0.0.2:8003"), KV("max_downtime_ms", "20"),
        KV("bandwidth_mib", "100"), KV("max_rounds", "5"),
        KV("timeout_s", "60"), KV("channels", "2"), KV("quick", "0"),
        KV("auto_converge", "true"), KV("max_throttle_pct", "60"),
        KV("priority", "7"), KV("state", "new"),
    };
    struct xlmig_ctl_req r;
    char why[256];

    (void)state;
    assert_int_equal(parse(kv, sizeof(kv) / sizeof(kv[0]), &r, why), 0);
    assert_int_equal(r.cmd, XLMIG_CTL_MIGRATE);
    assert_string_equal(r.domain, "web1");
    assert_string_equal(r.host, "hostb@10.0.0.2:8003");
    assert_int_equal(r.max_downtime_ms, 20);
    assert_int_equal(r.bandwidth_mib, 100);
    assert_int_equal(r.max_rounds, 5);
    assert_int_equal(r.timeout_s, 60);
    assert_int_equal(r.channels, 2);
    assert_false(r.quick);
    assert_true(r.auto_converge);
    assert_int_equal(r.max_throttle_pct, 60);
    assert_int_equal(r.priority, 7);
}

static void test_disk_map(void **state)
{
    static const struct xlmig_xs_kv kv[] = {
        KV("cmd", "migrate"), KV("domain", "db"), KV("host", "hostb"),
        KV("copy_storage", "1"), KV("disk_map/xvda", "/srv/db-a.img"),
        KV("disk_map/xvdb", "/srv/db-b.img"),
    };
    struct xlmig_ctl_req r;
    char why[256];

    (void)state;
    assert_int_equal(parse(kv, 6, &r, why), 0);
    assert_true(r.copy_storage);
    assert_int_equal(r.ndisk_map, 2);
    assert_string_equal(r.disk_map[0].vdev, "xvda");
    assert_string_equal(r.disk_map[0].path, "/srv/db-a.img");
    assert_string_equal(r.disk_map[1].vdev, "xvdb");
    /* The control protocol's own rule: a map needs copy_storage. */
    {
        struct xlmig_xs_kv no_copy[] = {
            KV("cmd", "migrate"), KV("domain", "db"), KV("host", "hostb"),
            KV("disk_map/xvda", "/srv/db-a.img"),
        };
        assert_int_not_equal(parse(no_copy, 4, &r, why), 0);
        assert_non_null(strstr(why, "copy_storage"));
    }
}

static void test_commands(void **state)
{
    struct xlmig_xs_kv cancel[] = { KV("cmd", "cancel"), KV("job", "17") };
    struct xlmig_xs_kv drain[] = {
        KV("cmd", "drain"), KV("reason", "firmware update, ticket 42"),
    };
    struct xlmig_xs_kv undrain[] = { KV("cmd", "undrain") };
    struct xlmig_xs_kv move[] = {
        KV("cmd", "storage-move"), KV("domain", "web1"), KV("disk", "xvda"),
        KV("path", "/srv/new.img"), KV("keep", "false"),
    };
    struct xlmig_xs_kv status[] = { KV("cmd", "status") };
    struct xlmig_xs_kv recover[] = { KV("cmd", "recover"), KV("job", "3") };
    struct xlmig_ctl_req r;
    char why[256];

    (void)state;
    assert_int_equal(parse(cancel, 2, &r, why), 0);
    assert_int_equal(r.cmd, XLMIG_CTL_CANCEL);
    assert_int_equal(r.job, 17);
    assert_int_equal(parse(drain, 2, &r, why), 0);
    assert_string_equal(r.reason, "firmware update, ticket 42");
    assert_int_equal(parse(undrain, 1, &r, why), 0);
    assert_int_equal(r.cmd, XLMIG_CTL_UNDRAIN);
    assert_int_equal(parse(move, 5, &r, why), 0);
    assert_string_equal(r.path, "/srv/new.img");
    assert_false(r.keep);
    assert_int_not_equal(parse(status, 1, &r, why), 0);
    assert_non_null(strstr(why, "/xlmig/job"));
    assert_int_not_equal(parse(recover, 2, &r, why), 0);
    assert_non_null(strstr(why, "xlmig recover"));
    /* A refusal leaves nothing half-filled. */
    assert_int_equal(r.cmd, 0);
}

/* One bad key among good ones: refused, naming @needle. */
static void refused(const char *key, const char *val, size_t len,
                    const char *needle)
{
    struct xlmig_xs_kv kv[] = {
        KV("cmd", "migrate"), KV("domain", "web1"), KV("host", "hostb"),
        { key, val, len },
    };
    struct xlmig_ctl_req r;
    char why[256];

    assert_int_not_equal(parse(kv, 4, &r, why), 0);
    if (!strstr(why, needle))
        fail_msg("%s=%.*s: \"%s\" does not say \"%s\"", key, (int)len, val,
                 why, needle);
    assert_int_equal(r.cmd, 0);
}

static void test_refusals(void **state)
{
    (void)state;
    refused("bogus", "1", 1, "\"bogus\" is not a key of \"migrate\"");
    refused("max_rounds", "12a", 3, "decimal integer");
    refused("max_rounds", "012", 3, "decimal integer");
    refused("max_rounds", "", 0, "decimal integer");
    refused("max_rounds", "-1", 2, "decimal integer");
    refused("max_rounds", "1234567890123456", 16, "decimal integer");
    refused("max_rounds", "20000", 5, "from 0 to 10000");
    refused("channels", "99", 2, "from 0 to 16");
    refused("quick", "yes", 3, "1, 0, true or false");
    refused("via", "/a\0b", 4, "printable");
    refused("via", "/a\nb", 4, "printable");
    refused("via", "/caf\xc3\xa9", 6, "printable");
    refused("Domain", "x", 1, "lower-case");
    refused("disk_map/XVDA", "/x", 2, "lower-case");
    refused("disk_map/", "/x", 2, "lower-case");
    refused("domain/sub", "x", 1, "lower-case");
    refused("domain", "web2", 4, "given twice");
    refused("job", "4", 1, "\"job\" is not a key of \"migrate\"");
    refused("error", "old", 3, "\"error\" is not a key of \"migrate\"");
    {
        static char big[XLMIG_XS_VALUE_MAX + 2];
        memset(big, 'a', sizeof(big) - 1);
        big[0] = '/';
        refused("via", big, sizeof(big) - 1, "at most 1024 bytes");
    }
}

static void test_shape(void **state)
{
    struct xlmig_xs_kv kv[XLMIG_XS_KEYS_MAX + 1];
    struct xlmig_xs_kv nocmd[] = { KV("domain", "web1") };
    struct xlmig_xs_kv badcmd[] = { KV("cmd", "reboot") };
    struct xlmig_xs_kv nohost[] = { KV("cmd", "migrate"), KV("domain", "a") };
    struct xlmig_xs_kv baddom[] = {
        KV("cmd", "migrate"), KV("domain", "a b"), KV("host", "hostb"),
    };
    struct xlmig_ctl_req r;
    char why[256];

    (void)state;
    for (size_t i = 0; i < XLMIG_XS_KEYS_MAX + 1; i++)
        kv[i] = (struct xlmig_xs_kv)KV("cmd", "undrain");
    assert_int_not_equal(parse(kv, XLMIG_XS_KEYS_MAX + 1, &r, why), 0);
    assert_non_null(strstr(why, "at most 32 keys"));
    assert_int_not_equal(parse(nocmd, 1, &r, why), 0);
    assert_non_null(strstr(why, "no \"cmd\""));
    assert_int_not_equal(parse(badcmd, 1, &r, why), 0);
    assert_non_null(strstr(why, "unknown command \"reboot\""));
    assert_int_not_equal(parse(nohost, 2, &r, why), 0);
    assert_non_null(strstr(why, "\"host\" is missing"));
    assert_int_not_equal(parse(baddom, 3, &r, why), 0);
    assert_non_null(strstr(why, "\"domain\""));
    assert_int_not_equal(parse(NULL, 0, &r, why), 0);
}

static void test_ids(void **state)
{
    char longest[XLMIG_XS_ID_MAX + 2];

    (void)state;
    assert_true(xlmig_xs_id_valid("evac-2026.12.04_web1"));
    assert_false(xlmig_xs_id_valid(""));
    assert_false(xlmig_xs_id_valid("a/b"));
    assert_false(xlmig_xs_id_valid("a b"));
    assert_false(xlmig_xs_id_valid("@releaseDomain"));
    memset(longest, 'a', XLMIG_XS_ID_MAX);
    longest[XLMIG_XS_ID_MAX] = '\0';
    assert_true(xlmig_xs_id_valid(longest));
    longest[XLMIG_XS_ID_MAX] = 'a';
    longest[XLMIG_XS_ID_MAX + 1] = '\0';
    assert_false(xlmig_xs_id_valid(longest));
}

static void test_progress(void **state)
{
    (void)state;
    /* queued, preflight: nothing moved */
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_PRECOPY, true, false, 0,
                                       false, 1, 50, 100, 0, 0), 0);
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_PREFLIGHT, false, false,
                                       0, false, 0, 0, 0, 0, 0), 0);
    /* the first pass: 0..900 */
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_PRECOPY, false, false, 0,
                                       false, 1, 50, 100, 0, 0), 450);
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_PRECOPY, false, false, 0,
                                       false, 1, 100, 100, 0, 0), 900);
    /* later rounds 900..980, stop-and-copy 980..990 */
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_PRECOPY, false, false, 0,
                                       false, 3, 1, 2, 0, 0), 940);
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_STOPCOPY, false, false,
                                       0, false, 4, 0, 10, 0, 0), 980);
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_HANDOVER, false, false,
                                       0, false, 4, 0, 0, 0, 0), 995);
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_COMMITTED, false, true,
                                       0, false, 4, 0, 0, 0, 0), 1000);
    /* a failed job does not claim 1000 */
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_ROLLEDBACK, false, true,
                                       -19, false, 2, 0, 0, 0, 0), 0);
    /* a storage move by its copy, 999 until done */
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_PRECOPY, false, false, 0,
                                       true, 0, 0, 0, 1 << 20, 4 << 20), 250);
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_PRECOPY, false, false, 0,
                                       true, 0, 0, 0, 4 << 20, 4 << 20), 999);
    assert_int_equal(xlmig_xs_progress(XLMIG_PHASE_PRECOPY, false, false, 0,
                                       true, 0, 0, 0, 0, 0), 0);
}

static const char *field(const struct xlmig_xs_field *f, size_t n,
                         const char *k)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].key, k))
            return f[i].val;
    return NULL;
}

static void test_job_fields(void **state)
{
    struct xlmig_xs_job j = {
        .id = 12, .direction = "out", .domain = "web1", .peer = "hostb",
        .mode = "live", .phase = "precopy", .result = "running",
        .progress = 451, .round = 2, .memory_bytes = 134217728,
        .bytes_sent = 100000000, .bandwidth = 50000000, .elapsed_ms = 2100,
    };
    struct xlmig_xs_field f[XLMIG_XS_JOB_FIELDS];
    size_t n;

    (void)state;
    n = xlmig_xs_job_fields(&j, f);
    assert_true(n <= XLMIG_XS_JOB_FIELDS);
    assert_string_equal(field(f, n, "phase"), "precopy");
    assert_string_equal(field(f, n, "progress"), "451");
    assert_string_equal(field(f, n, "memory_bytes"), "134217728");
    assert_string_equal(field(f, n, "error"), "");
    assert_null(field(f, n, "rc"));
    assert_null(field(f, n, "total_ms"));
    j.done = true;
    j.result = "ok";
    j.phase = "committed";
    j.total_ms = 4200;
    j.downtime_us = 31250;
    j.disk_bytes = 4096;
    n = xlmig_xs_job_fields(&j, f);
    assert_true(n <= XLMIG_XS_JOB_FIELDS);
    assert_string_equal(field(f, n, "rc"), "0");
    assert_string_equal(field(f, n, "total_ms"), "4200");
    assert_string_equal(field(f, n, "downtime_us"), "31250");
    assert_string_equal(field(f, n, "disk_bytes"), "4096");
    j.rc = -19;
    j.result = "cancelled";
    snprintf(j.error, sizeof(j.error), "cancelled by the administrator");
    n = xlmig_xs_job_fields(&j, f);
    assert_null(field(f, n, "downtime_us"));
    assert_string_equal(field(f, n, "rc"), "-19");
    assert_string_equal(field(f, n, "error"), "cancelled by the "
                        "administrator");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_migrate),
        cmocka_unit_test(test_disk_map),
        cmocka_unit_test(test_commands),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_shape),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_job_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
