/* xlmigd.conf: every key, and each refusal with its line and reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "xlmigd/conf.h"

static int parse(const char *text, struct xlmigd_config *c, char *why)
{
    xlmigd_config_default(c);
    return xlmigd_config_parse(text, strlen(text), c, why, 256);
}

static void test_full(void **state)
{
    struct xlmigd_config c;
    char why[256];
    const char *text =
        "# comment\n"
        "host_name = \"hosta\"   # trailing comment\n"
        "listen = '10.0.0.1'\n"
        "port = 9000\n"
        "certificate = \"/etc/xlmig/a.crt\"; key = \"/etc/xlmig/a.key\"\n"
        "ca = \"/etc/xlmig/ca.crt\"\n"
        "peers = [ \"hosta@10.0.0.1\",\n"
        "          \"hostb@[fe80::2]:8003\", \"hostc\", ]\n"
        "socket = \"/run/x.sock\"\n"
        "state_dir = \"/var/lib/x\"\n"
        "backend = \"sim\"\n"
        "max_incoming = 2\nmax_outgoing = 3\nio_timeout = 5\n"
        "max_outgoing_per_destination = 2\nbusy_wait = 30\n"
        "handover_ms = 2000\nvcpu_overcommit = \"1.5\"\n"
        "domain_memory = \"2G\"\nlog_level = \"debug\"\n";

    (void)state;
    assert_int_equal(parse(text, &c, why), 0);
    assert_string_equal(c.host_name, "hosta");
    assert_string_equal(c.listen, "10.0.0.1");
    assert_int_equal(c.port, 9000);
    assert_string_equal(c.cert, "/etc/xlmig/a.crt");
    assert_string_equal(c.key, "/etc/xlmig/a.key");
    assert_int_equal(c.npeers, 3);
    assert_string_equal(c.peers[1].name, "hostb");
    assert_string_equal(c.peers[1].addr, "fe80::2");
    assert_int_equal(c.peers[1].port, 8003);
    assert_string_equal(c.peers[2].addr, "");
    assert_int_equal(c.peers[2].port, XLMIGD_PORT);
    assert_int_equal(c.max_incoming, 2);
    assert_int_equal(c.max_outgoing, 3);
    assert_int_equal(c.max_outgoing_per_destination, 2);
    assert_int_equal(c.busy_wait_s, 30);
    assert_int_equal(c.io_timeout_s, 5);
    assert_int_equal(c.handover_ms, 2000);
    assert_int_equal(c.vcpu_overcommit_pct, 150);
    assert_int_equal(c.domain_memory, 2ull << 30);
    assert_int_equal(c.log_level, XLMIG_LOG_DEBUG);
    assert_non_null(xlmigd_config_peer(&c, "hostc"));
    assert_null(xlmigd_config_peer(&c, "hostd"));
}

static void test_defaults(void **state)
{
    struct xlmigd_config c;
    char why[256];

    (void)state;
    assert_int_equal(parse("", &c, why), 0);
    assert_int_equal(c.port, 8002);
    assert_string_equal(c.socket_path, XLMIGD_SOCKET);
    assert_string_equal(c.state_dir, XLMIGD_STATE_DIR);
    assert_int_equal(c.io_timeout_s, 30);
    assert_int_equal(parse("domain_memory = 512\n", &c, why), 0);
    assert_int_equal(c.domain_memory, 512ull << 20);
    /* The announce: on, on QEMU's announce-self schedule. */
    assert_int_equal(parse("", &c, why), 0);
    assert_int_equal(c.announce, 1);
    assert_int_equal(c.announce_rounds, 5);
    assert_int_equal(c.announce_initial_ms, 50);
    assert_int_equal(c.announce_step_ms, 100);
    assert_int_equal(c.announce_max_ms, 550);
    assert_int_equal(parse("announce = 0\nannounce_rounds = 8\n", &c, why),
                     0);
    assert_int_equal(c.announce, 0);
    assert_int_equal(c.announce_rounds, 8);
}

static const struct {
    const char *text;
    const char *why;            /* must appear in the message */
} bad[] = {
    { "prot = 1\n", "line 1: unknown setting 'prot'" },
    { "\n\nport = 0\n", "line 3: port: 0 is outside 1..65535" },
    { "port = 65536\n", "outside 1..65535" },
    { "announce = 2\n", "announce: 2 is outside 0..1" },
    { "announce_rounds = 0\n", "announce_rounds: 0 is outside 1..100" },
    { "port = \"8002\"\n", "port: expected a number" },
    { "port = 99999999999999999999999\n", "number too large" },
    { "port 8002\n", "expected '=' after the name" },
    { "port =\n", "port: missing value" },
    { "port = 8002 8003\n", "unexpected text after the value" },
    { "ca = \"relative/ca.crt\"\n", "ca: must be an absolute path" },
    { "ca = \"/unterminated\n", "unterminated" },
    { "host_name = \"bad name\"\n", "not a valid host name" },
    { "backend = \"kvm\"\n", "neither \"sim\" nor \"xen\"" },
    { "xenstore = \"maybe\"\n",
      "xenstore: 'maybe' is not \"auto\", \"on\" or \"off\"" },
    { "xenstore = 1\n", "xenstore: expected a quoted string" },
    { "peers = \"hostb\"\n", "peers: expected a list" },
    { "peers = [ hostb ]\n", "list items must be quoted strings" },
    { "peers = [ \"hostb\"\n", "list not closed" },
    { "peers = [ \"hostb\" \"hostc\" ]\n", "expected , or ]" },
    { "peers = [ \"hostb@10.0.0.1:0\" ]\n", "is not NAME or NAME@ADDRESS" },
    { "peers = [ \"hostb@fe80::1\" ]\n", "is not NAME or NAME@ADDRESS" },
    { "peers = [ \"@10.0.0.1\" ]\n", "is not NAME or NAME@ADDRESS" },
    { "peers = [ \"hostb\", \"hostb@1.2.3.4\" ]\n", "'hostb' listed twice" },
    { "io_timeout = 0\n", "io_timeout: 0 is outside 1..3600" },
    { "handover_ms = 600001\n", "handover_ms: 600001 is outside 0..600000" },
    { "vcpu_overcommit = 1001\n", "vcpu_overcommit: expected vCPUs per pCPU" },
    { "vcpu_overcommit = \"1.234\"\n", "vcpu_overcommit: expected" },
    { "vcpu_overcommit = \"x\"\n", "vcpu_overcommit: expected" },
    { "vcpu_overcommit = \"2.\"\n", "vcpu_overcommit: expected" },
    { "domain_memory = \"lots\"\n", "expected MiB or a size" },
    { "log_level = \"loud\"\n", "not error, warn, info or debug" },
    { "= 3\n", "expected a setting name" },
    { "peers = [\n\"a\",\n\"b\",\nc ]\n", "line 4: peers: list items" },
};

static void test_refusals(void **state)
{
    struct xlmigd_config c;
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = parse(bad[i].text, &c, why);
        if (rc != XLMIG_ERR_INVAL || !strstr(why, bad[i].why))
            fail_msg("case %zu (%s): rc %d, message \"%s\", wanted \"%s\"",
                     i, bad[i].text, rc, why, bad[i].why);
    }
    /* A NUL inside the text is refused, not read as its end. */
    xlmigd_config_default(&c);
    assert_int_equal(xlmigd_config_parse("port = 1\0port = 2", 17, &c, why,
                                         sizeof(why)), XLMIG_ERR_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_refusals),
    };

    return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
