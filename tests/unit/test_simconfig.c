/* The sim configuration parser: round trip and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backend/sim/sim_config.h"
#include "core/private.h"

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
    static char big[SIM_CONFIG_MAX + 100];

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
    memset(big, 'a', SIM_FEATURES_MAX + 40);
    big[SIM_FEATURES_MAX + 40] = '\0';
    expect_bad(big, "longer than");
    expect_bad(GOOD "cpu_features=avx2  sse2\n", "bad value for cpu_features");
    expect_bad(GOOD "cpu_features=AVX2\n", "bad value for cpu_features");
    expect_bad(GOOD "cpus=3-1\n", "bad value for cpus");
    expect_bad(GOOD "pool=../p\n", "bad value for pool");
    expect_bad(GOOD "disk=/a.img,raw,xvda\n", "expected TARGET,FORMAT,VDEV,"
               "ACCESS");
    expect_bad(GOOD "disk=a.img,raw,xvda,rw\n", "absolute path");
    expect_bad(GOOD "disk=,raw,xvda,rw\n", "empty only for a cdrom");
    expect_bad(GOOD "disk=/a,raw,xvda:floppy,rw\n", "must be :cdrom");
    expect_bad(GOOD "disk=/a,raw,xvda,rwx\n", "ACCESS is r, ro, w or rw");
    expect_bad(GOOD "disk=/a,raw,xvda,rw\ndisk=/b,raw,xvda,rw\n",
               "disk xvda given twice");
    expect_bad(GOOD "vif=bridge=xenbr0\n", "expected mac=");
    expect_bad(GOOD "vif=mac=00:16:3e:00:00:0g\n", "expected mac=");
    expect_bad(GOOD "vif=mac=00:16:3e:00:00:01,bridge=a/b\n", "expected mac=");
    expect_bad(GOOD "vif=mac=01:16:3e:00:00:01\n", "a unicast MAC");
    expect_bad(GOOD "vif=mac=00:00:00:00:00:00\n", "a unicast MAC");
    expect_bad(GOOD "vif=mac=00:16:3e:00:00:01,ip=10.0.0.300\n",
               "\"10.0.0.300\" is not an IPv4 or IPv6 address");
    expect_bad(GOOD "vif=mac=00:16:3e:00:00:01,ip=1.1.1.1,ip=1.1.1.2,"
               "ip=1.1.1.3,ip=1.1.1.4,ip=1.1.1.5\n", "more than 4 IPv4");
    expect_bad(GOOD "pci=03:00.0\n", "bad value for pci");
    expect_bad(GOOD "disable_migrate=yes\n", "bad value for disable_migrate");
    expect_bad(GOOD "disk_rate=-1\n", "bad value for disk_rate");
    expect_bad(GOOD "disk_read_rate=4M\n", "bad value for disk_read_rate");
    expect_bad(GOOD "disk_rate=1\ndisk_rate=2\n", "disk_rate given twice");
    {
        struct sim_config c;
        char why[160];
        static const char nul[] = "name=a\0b\n";
        assert_int_equal(sim_config_parse(nul, sizeof(nul) - 1, &c, why,
                                          sizeof(why)), XLMIG_ERR_INVAL);
        assert_non_null(strstr(why, "NUL"));
    }
}

#define FULL GOOD "cpu_vendor=GenuineIntel\ncpu_features=fpu sse2 avx2\n"  \
    "pool=batch\ncpus=0-1,3\ndisk=/srv/web.img,raw,xvda,rw\n"              \
    "disk=,raw,hdc:cdrom,r\nvif=mac=00:16:3e:00:00:01,bridge=xenbr0\n"      \
    "vif=mac=00:16:3e:00:00:02\npci=0000:03:00.0\ndisable_migrate=1\n"      \
    "disk_rate=8388608\ndisk_read_rate=max\n"

/* A vif's addresses and a generated MAC, and their round trip; the
 * create command's spec may leave the MAC out, a config may not. */
static void test_vif_addresses(void **state)
{
    static const char spec[] = "mac=00:16:3e:00:00:07,auto-mac,"
        "bridge=xenbr1,ip=fd88::10,ip=10.88.0.10,ip=10.88.0.11";
    struct sim_vif v;
    char why[200], buf[400];

    (void)state;
    assert_int_equal(sim_vif_parse(spec, false, &v, why, sizeof(why)), 0);
    assert_true(v.mac_auto);
    assert_int_equal(v.nip4, 2);
    assert_int_equal(v.nip6, 1);
    assert_int_equal(v.ip4[1][3], 11);
    assert_int_equal(v.ip6[0][0], 0xfd);
    assert_true(sim_vif_format(&v, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "mac=00:16:3e:00:00:07,auto-mac,bridge=xenbr1,"
                        "ip=10.88.0.10,ip=10.88.0.11,ip=fd88::10");
    assert_int_equal(sim_vif_parse("bridge=xenbr0", true, &v, why,
                                   sizeof(why)), 0);
    assert_true(v.mac_auto);
    assert_int_equal(sim_vif_parse("bridge=xenbr0", false, &v, why,
                                   sizeof(why)), XLMIG_ERR_INVAL);
    assert_int_equal(sim_vif_format(&v, buf, 20), -1);
}

/* The optional keys preflight compares, and their round trip. */
static void test_optional(void **state)
{
    struct sim_config c, c2;
    char why[160], buf[2048];
    int n;

    (void)state;
    assert_int_equal(sim_config_parse(FULL, strlen(FULL), &c, why,
                                      sizeof(why)), 0);
    assert_string_equal(c.cpu_vendor, "GenuineIntel");
    assert_string_equal(c.cpu_features, "fpu sse2 avx2");
    assert_string_equal(c.pool, "batch");
    assert_string_equal(c.cpus, "0-1,3");
    assert_int_equal(c.ndisks, 2);
    assert_string_equal(c.disks[0].target, "/srv/web.img");
    assert_string_equal(c.disks[0].vdev, "xvda");
    assert_false(c.disks[0].cdrom);
    assert_true(c.disks[1].cdrom);
    assert_true(c.disks[1].ro);
    assert_string_equal(c.disks[1].target, "");
    assert_int_equal(c.nvifs, 2);
    assert_int_equal(c.vifs[0].mac[5], 1);
    assert_string_equal(c.vifs[0].bridge, "xenbr0");
    assert_string_equal(c.vifs[1].bridge, "");
    assert_int_equal(c.npci, 1);
    assert_true(c.disable_migrate);
    assert_int_equal(c.disk_rate, 8 << 20);
    assert_true(c.disk_read_rate == SIM_RATE_MAX);
    assert_int_equal(c.vifs[0].nip4, 0);
    n = sim_config_format(&c, buf, sizeof(buf));
    assert_true(n > 0);
    assert_string_equal(buf, FULL);
    assert_int_equal(sim_config_parse(buf, (size_t)n, &c2, why,
                                      sizeof(why)), 0);
    assert_memory_equal(&c, &c2, sizeof(c));
    /* Too small a buffer is an error, not a cut config. */
    assert_int_equal(sim_config_format(&c, buf, 200), -1);
}

static void expect_host_bad(const char *text, const char *needle)
{
    struct sim_hostconf h;
    char why[160];

    if (sim_hostconf_parse(text, strlen(text), &h, why, sizeof(why)) !=
        XLMIG_ERR_INVAL)
        fail_msg("accepted: %s", text);
    if (!strstr(why, needle))
        fail_msg("message \"%s\" does not mention \"%s\"", why, needle);
}

static void test_hostconf(void **state)
{
    static const char good[] = "# levelled to the pool's oldest CPU\n"
        "cpu_mask=avx2 avx512f\npcpus=8\ncpupool=batch:4-5\n"
        "cpupool=rt:6,7\ncpu_vendor=GenuineIntel\n";
    struct sim_hostconf h;
    char why[160];

    (void)state;
    assert_int_equal(sim_hostconf_parse(good, strlen(good), &h, why,
                                        sizeof(why)), 0);
    assert_string_equal(h.cpu_mask, "avx2 avx512f");
    assert_int_equal(h.pcpus, 8);
    assert_int_equal(h.npools, 2);
    assert_string_equal(h.pools[1].name, "rt");
    assert_string_equal(h.pools[1].cpus, "6,7");
    assert_int_equal(sim_hostconf_parse("", 0, &h, why, sizeof(why)), 0);
    expect_host_bad("cpus=4\n", "unknown key");
    expect_host_bad("pcpus=0\n", "bad value for pcpus");
    expect_host_bad("cpupool=batch\n", "bad value for cpupool");
    expect_host_bad("cpupool=Pool-0:1\n", "bad value for cpupool");
    expect_host_bad("cpupool=a:1-2\ncpupool=b:2\n", "in another pool");
    expect_host_bad("cpupool=a:1\ncpupool=a:2\n", "cpupool a twice");
    expect_host_bad("cpu_mask=AVX\n", "bad value for cpu_mask");
}

/* A storage move's MIRROR_STATUS reply: each state, and what is refused. */
static void test_mirror_status(void **state)
{
    static const char *bad[] = {
        "", "state=copying\ntarget=/a\n", "state=odd\ntarget=/a\n",
        "state=none\n", "state=none\ntarget=a.img\n",
        "state=ready size=10 done=11 copied=0 mirrored=0 p50_ns=0 p99_ns=0\n"
        "target=/a\n"
        "new=/b\nerror=\n",
        "state=ready size=10 done=10 copied=0 mirrored=0 p50_ns=0 p99_ns=0\n"
        "target=/a\n",
        "state=ready size=x done=10 copied=0 mirrored=0 p50_ns=0 p99_ns=0\n"
        "target=/a\n"
        "error=\n",
    };
    const char *c = "state=copying size=1048576 done=65536 copied=4096 "
                    "mirrored=3 p50_ns=12000 p99_ns=90000\ntarget=/srv/a.img\n"
                    "new=/srv/b.img\n"
                    "error=\n";
    const char *f = "state=failed size=8 done=4 copied=4 mirrored=0 "
                    "p50_ns=0 p99_ns=0\n"
                    "target=/srv/a.img\nnew=/srv/b.img\nerror=writing "
                    "/srv/b.img: No space left on device\n";
    struct xlmig_mirror_status st;

    (void)state;
    assert_int_equal(sim_mirror_status_parse(c, strlen(c), &st), 0);
    assert_int_equal(st.state, XLMIG_MIRROR_COPYING);
    assert_int_equal(st.size, 1048576);
    assert_int_equal(st.done, 65536);
    assert_int_equal(st.copied, 4096);
    assert_int_equal(st.mirrored, 3);
    assert_int_equal(st.write_p50_ns, 12000);
    assert_int_equal(st.write_p99_ns, 90000);
    assert_string_equal(st.target, "/srv/a.img");
    assert_string_equal(st.error, "");
    assert_int_equal(sim_mirror_status_parse(f, strlen(f), &st), 0);
    assert_int_equal(st.state, XLMIG_MIRROR_FAILED);
    assert_string_equal(st.error, "writing /srv/b.img: No space left on "
                        "device");
    assert_int_equal(sim_mirror_status_parse("state=none\ntarget=/x\n", 20,
                                             &st), 0);
    assert_int_equal(st.state, XLMIG_MIRROR_NONE);
    assert_string_equal(st.target, "/x");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (sim_mirror_status_parse(bad[i], strlen(bad[i]), &st) == 0)
            fail_msg("case %zu accepted: %s", i, bad[i]);
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
        cmocka_unit_test(test_optional),
        cmocka_unit_test(test_vif_addresses),
        cmocka_unit_test(test_hostconf),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_mirror_status),
    };

    return cmocka_run_group_tests_name("simconfig", tests, NULL, NULL);
}
