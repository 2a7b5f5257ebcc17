/*
 * The sink that turns the xen backend's records into what a stock
 * xl migrate-receive reads: xl's header with the configuration, then the
 * libxl stream's octets, whatever the chunking; anything else refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/source_xl.h"

static xlmig_ctx *ctx;
static FILE *devnull;

static const char json[] = "{\"c_info\":{\"type\":\"pv\",\"name\":\"g\"}}";

/* The xen backend's output for a small domain: config, then Xen's stream
 * in pieces of awkward sizes, among records xl has no use for. */
static void build(struct xlmig_membuf *m, uint8_t *xen, size_t xen_len,
                  uint32_t format)
{
    struct xlmig_stream_writer w;
    struct xlmig_sink sink;
    struct xlmig_domain_desc d = { .backend_id = XLMIG_STREAM_BACKEND_XEN,
                                   .page_shift = 12, .nr_pages = 4,
                                   .nr_vcpus = 1, .name = "g" };

    for (size_t i = 0; i < xen_len; i++)
        xen[i] = (uint8_t)(i * 7 + 3);
    memset(m, 0, sizeof(*m));
    xlmig_sink_mem(&sink, m);
    assert_int_equal(xlmig_writer_init(&w, ctx, &sink), 0);
    xlmig_write_domain_info(&w, &d);
    xlmig_write_config(&w, format, json, strlen(json));
    xlmig_write_xen_stream(&w, xen, 5);
    xlmig_write_source_info(&w);
    xlmig_write_xen_stream(&w, xen + 5, 1);
    xlmig_write_xen_stream(&w, xen + 6, xen_len - 6);
    xlmig_write_end(&w);
    assert_int_equal(w.err, 0);
    xlmig_writer_dispose(&w);
}

/* Feed @in to the translating sink @step octets at a time. */
static int translate(const struct xlmig_membuf *in, size_t step,
                     struct xlmig_membuf *out)
{
    struct xlmig_sink o, s;
    struct xlmig_xl_sink x;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    xlmig_sink_mem(&o, out);
    xlmig_xl_sink_init(&x, ctx, &o, &s);
    for (size_t off = 0; off < in->len && !rc; off += step) {
        struct iovec v = { in->p + off,
                           off + step > in->len ? in->len - off : step };
        rc = s.writev(s.opaque, &v, 1);
    }
    if (!rc && !x.config_sent)
        rc = -1;
    xlmig_xl_sink_dispose(&x);
    return rc;
}

static void test_translate(void **state)
{
    static uint8_t xen[300000];
    struct xlmig_membuf in, out;
    static const size_t steps[] = { 1, 3, 16, 17, 4096, 1u << 20 };
    size_t hdr = XLMIG_XL_HDR_SIZE + 4, cl = strlen(json) + 1;

    (void)state;
    build(&in, xen, sizeof(xen), XLMIG_CONFIG_LIBXL_JSON);
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        assert_int_equal(translate(&in, steps[i], &out), 0);
        assert_int_equal(out.len, hdr + cl + sizeof(xen));
        /* xl's header: magic, byte order, v2 + JSON, optional data */
        assert_memory_equal(out.p, "Xen saved domain, xl format\n \0 \r",
                            32);
        assert_int_equal(xlmig_get_u32(out.p + 32), 0x01020304);
        assert_int_equal(xlmig_get_u32(out.p + 36), 3);
        assert_int_equal(xlmig_get_u32(out.p + 40), 0);
        assert_int_equal(xlmig_get_u32(out.p + 44), 4 + cl);
        assert_int_equal(xlmig_get_u32(out.p + 48), cl);
        assert_memory_equal(out.p + hdr, json, cl);     /* with its NUL */
        assert_memory_equal(out.p + hdr + cl, xen, sizeof(xen));
        free(out.p);
    }
    free(in.p);
}

static void test_refusals(void **state)
{
    static uint8_t xen[100];
    struct xlmig_membuf in, out, two;
    struct xlmig_sink s;
    struct xlmig_stream_writer w;

    (void)state;
    /* xl reads libxl JSON only */
    build(&in, xen, sizeof(xen), XLMIG_CONFIG_SIM_KV);
    assert_int_equal(translate(&in, 64, &out), XLMIG_ERR_INVAL);
    free(out.p);
    free(in.p);

    /* one configuration, not two */
    build(&in, xen, sizeof(xen), XLMIG_CONFIG_LIBXL_JSON);
    memset(&two, 0, sizeof(two));
    xlmig_sink_mem(&s, &two);
    assert_int_equal(xlmig_writer_init(&w, ctx, &s), 0);
    xlmig_write_config(&w, XLMIG_CONFIG_LIBXL_JSON, json, strlen(json));
    xlmig_writer_dispose(&w);
    in.p = realloc(in.p, in.len + two.len);
    assert_non_null(in.p);
    memcpy(in.p + in.len, two.p, two.len);
    in.len += two.len;
    assert_int_equal(translate(&in, 4096, &out), XLMIG_ERR_INVAL);
    free(out.p);
    free(two.p);

    /* a length no record may have */
    memset(in.p, 0, 16);
    xlmig_put_u32(in.p, XLMIG_REC_XEN_STREAM);
    xlmig_put_u32(in.p + 4, XLMIG_REC_BODY_MAX + 1);
    assert_int_equal(translate(&in, 4096, &out), XLMIG_ERR_INVAL);
    free(out.p);

    /* Xen's stream before the configuration never goes out */
    memset(&two, 0, sizeof(two));
    xlmig_sink_mem(&s, &two);
    assert_int_equal(xlmig_writer_init(&w, ctx, &s), 0);
    xlmig_write_xen_stream(&w, xen, sizeof(xen));
    xlmig_writer_dispose(&w);
    assert_int_equal(translate(&two, 4096, &out), XLMIG_ERR_INVAL);
    assert_int_equal(out.len, 0);
    free(out.p);
    free(two.p);

    /* a gap in Xen's stream */
    memset(&two, 0, sizeof(two));
    xlmig_sink_mem(&s, &two);
    assert_int_equal(xlmig_writer_init(&w, ctx, &s), 0);
    xlmig_write_config(&w, XLMIG_CONFIG_LIBXL_JSON, json, strlen(json));
    xlmig_write_xen_stream(&w, xen, 10);
    w.xen_bytes += 1;
    xlmig_write_xen_stream(&w, xen, 10);
    xlmig_writer_dispose(&w);
    assert_int_equal(translate(&two, 7, &out), XLMIG_ERR_INVAL);
    free(out.p);
    free(two.p);
    free(in.p);
}

static void test_messages(void **state)
{
    uint8_t b[XLMIG_XL_HDR_SIZE + 4];

    (void)state;
    /* what xl compares, octet for octet: the banner without its NUL,
     * the other three with theirs */
    assert_int_equal(strlen(xlmig_xl_banner), 54);
    assert_string_equal(xlmig_xl_ready, "domain received, ready to unpause");
    assert_int_equal(strlen(xlmig_xl_ready) + 1, sizeof(xlmig_xl_ready));
    assert_int_equal(strlen(xlmig_xl_go) + 1, sizeof(xlmig_xl_go));
    assert_int_equal(strlen(xlmig_xl_report) + 1, sizeof(xlmig_xl_report));
    assert_int_equal(xlmig_xl_put_header(b, sizeof(b) - 1, 1), 0);
    assert_int_equal(xlmig_xl_put_header(b, sizeof(b), 1), sizeof(b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_translate),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_messages),
    };
    int rc;

    devnull = fopen("/dev/null", "w");
    if (xlmig_ctx_alloc(&ctx, "sim", XLMIG_LOG_ERROR, devnull))
        return 1;
    rc = cmocka_run_group_tests_name("xl_send", tests, NULL, NULL);
    xlmig_ctx_free(ctx);
    fclose(devnull);
    return rc;
}
