/* Protocol frames: golden bytes, and every malformed frame refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/crc32c.h"
#include "core/cursor.h"
#include "proto/preflight.h"
#include "proto/message.h"
#include "proto/stream.h"
#include "transport/tunnel.h"

/* Frozen from the writer once: any change to v1 framing shows here. */
#define GOLDEN_COMMIT_CRC 0xc8, 0xd5, 0x73, 0x70

/* Frame bytes into @out: header + body + padding; returns total. */
static size_t frame(uint8_t *out, uint32_t type, const void *body,
                    size_t len)
{
    struct iovec iov = { (void *)body, len };
    size_t padded = (len + 7) & ~(size_t)7;

    xlmig_proto_header(out, XLMIG_PROTO_VERSION, type, &iov, 1);
    memset(out + XLMIG_PROTO_HDR_SIZE, 0, padded);
    memcpy(out + XLMIG_PROTO_HDR_SIZE, body, len);
    return XLMIG_PROTO_HDR_SIZE + padded;
}

static int check(const uint8_t *f, char *why)
{
    struct xlmig_frame fr;
    int rc = xlmig_proto_parse_header(f, XLMIG_PROTO_VERSION, &fr, why, 256);

    if (rc)
        return rc;
    return xlmig_proto_check_body(f, &fr, f + XLMIG_PROTO_HDR_SIZE, why,
                                  256);
}

/* Re-seal a frame after a test edits its header or body. */
static void reseal(uint8_t *f)
{
    uint32_t len = xlmig_get_u32(f + 12);

    xlmig_put_u32(f + 16, 0);
    xlmig_put_u32(f + 16, xlmig_crc32c(xlmig_crc32c(0, f, 24), f + 24, len));
}

static void test_golden_commit(void **state)
{
    static const uint8_t golden[24 + 8] = {
        'X', 'L', 'M', 'P', 0x01, 0x00, 0x00, 0x00,
        0x08, 0x00, 0x00, 0x00,                 /* COMMIT */
        0x08, 0x00, 0x00, 0x00,                 /* 8 bytes */
        GOLDEN_COMMIT_CRC, 0x00, 0x00, 0x00, 0x00,
        0x2a, 0, 0, 0, 0, 0, 0, 0,              /* job 42 */
    };
    uint8_t b[8], f[64];
    char why[256];

    (void)state;
    xlmig_msg_put_u64(b, 42);
    assert_int_equal(frame(f, XLMIG_MSG_COMMIT, b, 8), sizeof(golden));
    assert_memory_equal(f, golden, sizeof(golden));
    assert_int_equal(check(f, why), 0);
}

static void test_hello_roundtrip(void **state)
{
    struct xlmig_msg_hello h = { .min_version = 1, .max_version = 1,
                                 .caps = 5, .host = "host-a",
                                 .backend = "sim" }, g;
    uint8_t b[XLMIG_MSG_HELLO_SIZE], f[256];
    char why[256];

    (void)state;
    assert_int_equal(xlmig_msg_put_hello(b, &h), XLMIG_MSG_HELLO_SIZE);
    frame(f, XLMIG_MSG_HELLO, b, sizeof(b));
    assert_int_equal(check(f, why), 0);
    xlmig_msg_get_hello(f + 24, &g);
    assert_string_equal(g.host, "host-a");
    assert_string_equal(g.backend, "sim");
    assert_int_equal(g.caps, 5);
    /* bad names and ranges */
    memcpy(f + 24 + 16, "a/b", 3);
    reseal(f);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "host or backend name"));
    frame(f, XLMIG_MSG_HELLO, b, sizeof(b));
    xlmig_put_u32(f + 24, 2);                   /* min 2 > max 1 */
    reseal(f);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "bad version range 2..1"));
}

static void test_header_refusals(void **state)
{
    uint8_t b[8] = { 0 }, f[64];
    char why[256];

    (void)state;
    frame(f, XLMIG_MSG_COMMIT, b, 8);
    f[0] = 'Y';
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "out of step"));

    frame(f, XLMIG_MSG_COMMIT, b, 8);
    f[4] = 2;
    reseal(f);
    assert_int_equal(check(f, why), XLMIG_ERR_VERSION);

    frame(f, XLMIG_MSG_COMMIT, b, 8);
    xlmig_put_u32(f + 8, 0);
    reseal(f);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);

    frame(f, XLMIG_MSG_COMMIT, b, 8);
    xlmig_put_u32(f + 12, XLMIG_PROTO_BODY_MAX + 1);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "exceeds"));

    frame(f, XLMIG_MSG_COMMIT, b, 8);
    f[25] ^= 1;                                 /* body, not resealed */
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "checksum"));

    frame(f, 0x55, b, 8);                       /* unknown mandatory */
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    frame(f, 0x80000055, b, 8);                 /* unknown optional */
    assert_int_equal(check(f, why), 0);
}

static void test_size_rules(void **state)
{
    static uint8_t b[2048], f[4096];
    char why[256];
    size_t n;

    (void)state;
    memset(b, 0, sizeof(b));
    frame(f, XLMIG_MSG_COMMIT, b, 7);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    frame(f, XLMIG_MSG_JOB_STATE, b, 16);
    assert_int_equal(check(f, why), 0);
    xlmig_msg_put_job_state(b, 1, 9);
    frame(f, XLMIG_MSG_JOB_STATE, b, 16);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    frame(f, XLMIG_MSG_STREAM_DATA, b, 0);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    /* STREAM_DATA's checksum covers its header only (the records inside
     * carry their own): a changed body passes, a changed header not. */
    frame(f, XLMIG_MSG_STREAM_DATA, b, 64);
    f[24 + 5] ^= 0xff;
    assert_int_equal(check(f, why), 0);
    f[13] ^= 0x01;                              /* length 64 -> 65 */
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "checksum"));

    n = xlmig_msg_put_result(b, sizeof(b), 0, "not enough memory");
    frame(f, XLMIG_MSG_PREFLIGHT_RESULT, b, n);
    assert_int_equal(check(f, why), 0);
    xlmig_put_u32(b, 7);
    frame(f, XLMIG_MSG_PREFLIGHT_RESULT, b, n);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    n = xlmig_msg_put_abort(b, sizeof(b), 3, XLMIG_ERR_AUTH, "no");
    b[16] = '\0';                               /* NUL in the text */
    frame(f, XLMIG_MSG_ABORT, b, n);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    memset(b + 16, 'x', 1100);                  /* text too long */
    frame(f, XLMIG_MSG_ABORT, b, 16 + 1100);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);

    /* PREPARE carries a DOMAIN_INFO checked as in a stream */
    memset(b, 0, sizeof(b));
    xlmig_put_u64(b, 9);
    xlmig_put_u32(b + 8, 1);
    xlmig_put_u32(b + 16, XLMIG_STREAM_BACKEND_SIM);
    xlmig_put_u32(b + 20, 12);
    xlmig_put_u64(b + 24, 4096);
    xlmig_put_u32(b + 32, 2);
    memcpy(b + 56, "web1", 4);
    frame(f, XLMIG_MSG_PREPARE, b, XLMIG_MSG_PREPARE_SIZE);
    assert_int_equal(check(f, why), 0);
    xlmig_put_u32(b + 8, 0);                    /* no channels */
    frame(f, XLMIG_MSG_PREPARE, b, XLMIG_MSG_PREPARE_SIZE);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    xlmig_put_u32(b + 8, 1);
    xlmig_put_u32(b + 32, 0);                   /* no vCPUs */
    frame(f, XLMIG_MSG_PREPARE, b, XLMIG_MSG_PREPARE_SIZE);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "vCPU count"));

    /* PREFLIGHT: the same DOMAIN_INFO at 0, memory, flags, then needs
     * (decoded by preflight.c); only known flags; 120 octets at least. */
    xlmig_put_u32(b + 32, 2);
    memmove(b, b + 16, XLMIG_DOMAIN_INFO_SIZE);
    memset(b + XLMIG_DOMAIN_INFO_SIZE, 0, 16);
    xlmig_put_u32(b + XLMIG_DOMAIN_INFO_SIZE + 8, XLMIG_PF_CHECK_ONLY);
    frame(f, XLMIG_MSG_PREFLIGHT, b, XLMIG_MSG_PREFLIGHT_SIZE + 8);
    assert_int_equal(check(f, why), 0);
    frame(f, XLMIG_MSG_PREFLIGHT, b, XLMIG_MSG_PREFLIGHT_SIZE - 1);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "PREFLIGHT: length 119"));
    xlmig_put_u32(b + XLMIG_DOMAIN_INFO_SIZE + 8, 0x10);
    frame(f, XLMIG_MSG_PREFLIGHT, b, XLMIG_MSG_PREFLIGHT_SIZE);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "unknown flags 0x10"));
    /* PREFLIGHT_REPORT: 8 octets at least */
    frame(f, XLMIG_MSG_PREFLIGHT_REPORT, b, 7);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    frame(f, XLMIG_MSG_PREFLIGHT_REPORT, b, 8);
    assert_int_equal(check(f, why), 0);
}

/* Data channels: ATTACH, CHANNEL_END and SYNC. */
static void test_channel_messages(void **state)
{
    struct xlmig_msg_attach a = { 0x1122334455667788ull, 2, 4 }, a2;
    struct xlmig_msg_chan_end e = { 7, 3, 12, 5000, 17 }, e2;
    uint8_t b[64], f[128];
    char why[256];

    (void)state;
    assert_int_equal(xlmig_msg_put_attach(b, &a), XLMIG_MSG_ATTACH_SIZE);
    frame(f, XLMIG_MSG_ATTACH, b, XLMIG_MSG_ATTACH_SIZE);
    assert_int_equal(check(f, why), 0);
    xlmig_msg_get_attach(f + 24, &a2);
    assert_true(a2.job_id == a.job_id);
    assert_int_equal(a2.channel, 2);
    assert_int_equal(a2.channels, 4);
    /* channel 0 is the control connection; channel >= channels; one
     * channel in all; more than the maximum */
    static const uint32_t bad[][2] = { { 0, 4 }, { 4, 4 }, { 1, 1 },
                                       { 1, XLMIG_CHANNELS_MAX + 1 } };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a2 = a;
        a2.channel = bad[i][0];
        a2.channels = bad[i][1];
        xlmig_msg_put_attach(b, &a2);
        frame(f, XLMIG_MSG_ATTACH, b, XLMIG_MSG_ATTACH_SIZE);
        assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
        assert_non_null(strstr(why, "ATTACH: channel"));
    }
    frame(f, XLMIG_MSG_ATTACH, b, XLMIG_MSG_ATTACH_SIZE - 8);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);

    assert_int_equal(xlmig_msg_put_chan_end(b, &e),
                     XLMIG_MSG_CHANNEL_END_SIZE);
    frame(f, XLMIG_MSG_CHANNEL_END, b, XLMIG_MSG_CHANNEL_END_SIZE);
    assert_int_equal(check(f, why), 0);
    xlmig_msg_get_chan_end(f + 24, &e2);
    assert_true(e2.job_id == 7 && e2.channel == 3 && e2.records == 12 &&
                e2.pages_data == 5000 && e2.pages_zero == 17);
    e2.channel = 0;
    xlmig_msg_put_chan_end(b, &e2);
    frame(f, XLMIG_MSG_CHANNEL_END, b, XLMIG_MSG_CHANNEL_END_SIZE);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "CHANNEL_END: channel 0"));

    memset(b, 0, sizeof(b));
    frame(f, XLMIG_MSG_SYNC, b, XLMIG_MSG_SYNC_SIZE);
    assert_int_equal(check(f, why), 0);
    frame(f, XLMIG_MSG_SYNC, b, 8);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_string_equal(xlmig_msg_name(XLMIG_MSG_SYNC), "SYNC");
    /* DONE: the job id, 8 octets, and optional (an older peer skips it). */
    frame(f, XLMIG_MSG_DONE, b, 8);
    assert_int_equal(check(f, why), 0);
    frame(f, XLMIG_MSG_DONE, b, 16);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_true(XLMIG_MSG_DONE & XLMIG_PROTO_OPTIONAL);
    assert_string_equal(xlmig_msg_name(XLMIG_MSG_DONE), "DONE");
    /* ANNOUNCED: 56 octets, optional, its counts adding up. */
    {
        struct xlmig_msg_announced m = { 7, 2, 25, 10, 10, 5, 0, 0,
                                         60000, 800000000 }, m2;
        uint8_t ab[XLMIG_MSG_ANNOUNCED_SIZE];
        assert_int_equal(xlmig_msg_put_announced(ab, &m), 56);
        xlmig_msg_get_announced(ab, &m2);
        assert_int_equal(m2.frames, 25);
        assert_int_equal(m2.na, 5);
        assert_int_equal(m2.first_ns, 60000);
        assert_int_equal(m2.last_ns, 800000000);
        frame(f, XLMIG_MSG_ANNOUNCED, ab, sizeof(ab));
        assert_int_equal(check(f, why), 0);
        frame(f, XLMIG_MSG_ANNOUNCED, ab, 48);
        assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
        m.rarp = 11;
        xlmig_msg_put_announced(ab, &m);
        frame(f, XLMIG_MSG_ANNOUNCED, ab, sizeof(ab));
        assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
        assert_non_null(strstr(why, "inconsistent"));
        assert_true(XLMIG_MSG_ANNOUNCED & XLMIG_PROTO_OPTIONAL);
    }
}

/* TUNNEL, TUNNEL_DATA and TUNNEL_EXIT: shapes a receiver refuses. */
static void test_tunnel_messages(void **state)
{
    static const struct {
        const char *body;
        size_t len;
        const char *why;            /* NULL: accepted */
    } t[] = {
        { "xl\0migrate-receive", 19, NULL },
        { "xl\0migrate-receive", 18, "ending in NUL" },
        { "", 0, "ending in NUL" },
        { "xl\0\0migrate-receive", 20, "empty word 2" },
        { "\0xl", 4, "empty word 1" },
        { "xl\0migrate receive", 19, "octet 0x20" },
        { "xl\0\x80", 5, "octet 0x80" },
    };
    uint8_t b[2048], f[4096];
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        frame(f, XLMIG_MSG_TUNNEL, t[i].body, t[i].len);
        if (!t[i].why) {
            assert_int_equal(check(f, why), 0);
            continue;
        }
        assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
        assert_non_null(strstr(why, t[i].why));
    }
    /* 33 words: one too many */
    for (int i = 0; i < 33; i++)
        memcpy(b + 2 * i, "x", 2);
    frame(f, XLMIG_MSG_TUNNEL, b, 66);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "33 words, at most 32"));
    /* more than the text limit */
    memset(b, 'a', 1100);
    b[1099] = 0;
    frame(f, XLMIG_MSG_TUNNEL, b, 1100);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);

    /* TUNNEL_DATA: stream, reserved word, size */
    memset(b, 0, 16);
    frame(f, XLMIG_MSG_TUNNEL_DATA, b, 8);          /* end of stream 0 */
    assert_int_equal(check(f, why), 0);
    frame(f, XLMIG_MSG_TUNNEL_DATA, b, 4);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    xlmig_put_u32(b, 3);
    frame(f, XLMIG_MSG_TUNNEL_DATA, b, 12);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "stream 3"));
    xlmig_put_u32(b, 2);
    xlmig_put_u32(b + 4, 1);
    frame(f, XLMIG_MSG_TUNNEL_DATA, b, 12);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_non_null(strstr(why, "reserved 0x1"));

    /* TUNNEL_EXIT */
    xlmig_put_u32(b, 255);
    xlmig_put_u32(b + 4, 0);
    frame(f, XLMIG_MSG_TUNNEL_EXIT, b, 8);
    assert_int_equal(check(f, why), 0);
    xlmig_put_u32(b, 256);
    frame(f, XLMIG_MSG_TUNNEL_EXIT, b, 8);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    xlmig_put_u32(b, 9);
    xlmig_put_u32(b + 4, 2);
    frame(f, XLMIG_MSG_TUNNEL_EXIT, b, 8);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    frame(f, XLMIG_MSG_TUNNEL_EXIT, b, 16);
    assert_int_equal(check(f, why), XLMIG_ERR_STREAM);
    assert_string_equal(xlmig_msg_name(XLMIG_MSG_TUNNEL_DATA),
                        "TUNNEL_DATA");
}

/* What a destination runs for a TUNNEL, and what it refuses. */
static void test_tunnel_commands(void **state)
{
    static const struct {
        const char *words;          /* space-separated */
        const char *why;            /* NULL: runs */
    } t[] = {
        { "xl migrate-receive", NULL },
        { "xl -t -T -vvv migrate-receive -e -F -d -p", NULL },
        { "xl -tv migrate-receive -ep", NULL },
        { "sh -c id", "'sh': only xl migrate-receive" },
        { "/usr/sbin/xl migrate-receive", "only xl migrate-receive" },
        { "xl", "xl command ''" },
        { "xl -t", "xl command ''" },
        { "xl create /etc/xen/x.cfg", "xl command 'create'" },
        { "xl -f x migrate-receive", "xl option '-f'" },
        { "xl - migrate-receive", "xl option '-'" },
        { "xl migrate-receive -r", "Remus and COLO" },
        { "xl migrate-receive --colo", "Remus and COLO" },
        { "xl migrate-receive --coloft-script=/bin/sh", "Remus and COLO" },
        { "xl migrate-receive -e x", "option 'x'" },
        { "xl migrate-receive -ex", "option '-ex'" },
        { "xl migrate-receive --debug", "option '--debug'" },
    };
    struct xlmig_tunnel_cmd cmd;
    uint8_t b[1024];
    char why[256];

    (void)state;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char copy[256], *argv[40], *save = NULL;
        int argc = 0;
        size_t n;
        snprintf(copy, sizeof(copy), "%s", t[i].words);
        for (char *w = strtok_r(copy, " ", &save); w;
             w = strtok_r(NULL, " ", &save))
            argv[argc++] = w;
        n = xlmig_tunnel_put_cmd(b, sizeof(b), argc, argv);
        assert_true(n > 0);
        int rc = xlmig_tunnel_cmd_parse(b, (uint32_t)n, "/usr/sbin/xl",
                                        &cmd, why, sizeof(why));
        if (!t[i].why) {
            assert_int_equal(rc, 0);
            assert_int_equal(cmd.argc, argc);
            assert_string_equal(cmd.argv[0], "/usr/sbin/xl");
            for (int k = 1; k < argc; k++)
                assert_string_equal(cmd.argv[k], argv[k]);
            assert_null(cmd.argv[argc]);
            continue;
        }
        assert_int_equal(rc, XLMIG_ERR_REFUSED);
        assert_non_null(strstr(why, t[i].why));
    }
    /* the encoder refuses what no receiver would take */
    char *empty[] = { "xl", "" }, *tab[] = { "xl\t" };
    assert_int_equal(xlmig_tunnel_put_cmd(b, sizeof(b), 2, empty), 0);
    assert_int_equal(xlmig_tunnel_put_cmd(b, sizeof(b), 1, tab), 0);
    assert_int_equal(xlmig_tunnel_put_cmd(b, sizeof(b), 0, tab), 0);
}

static void test_negotiate(void **state)
{
    (void)state;
    assert_int_equal(xlmig_proto_negotiate(1, 1, 1, 1), 1);
    assert_int_equal(xlmig_proto_negotiate(1, 3, 2, 5), 3);
    assert_int_equal(xlmig_proto_negotiate(1, 1, 2, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_commit),
        cmocka_unit_test(test_hello_roundtrip),
        cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_size_rules),
        cmocka_unit_test(test_channel_messages),
        cmocka_unit_test(test_tunnel_messages),
        cmocka_unit_test(test_tunnel_commands),
        cmocka_unit_test(test_negotiate),
    };

    return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
