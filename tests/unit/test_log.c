/*
 * One logger: libxl's and libxc's messages, handed the context's logger
 * (xlmig_ctx_xtl), come out as xlmig's own lines, with the job's prefix
 * and under the context's level; with a caller's xentoollog logger
 * (xlmig_ctx_alloc_logger) everything goes to that one instead.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/private.h"

/* What libxl does: xtl_log() through the logger it was given. */
static void as_libxl(xentoollog_logger *lg, xentoollog_level l, int err,
                     const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    lg->vmessage(lg, l, err, "libxl", fmt, ap);
    va_end(ap);
}

static char *read_all(FILE *f)
{
    static char buf[4096];
    size_t n;

    fflush(f);
    rewind(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    return buf;
}

static void test_libxl_through_ctx(void **state)
{
    FILE *f = tmpfile();
    xlmig_ctx *ctx;
    char *out;

    (void)state;
    assert_non_null(f);
    assert_int_equal(xlmig_ctx_new(&ctx, "sim", XLMIG_LOG_INFO, f, NULL,
                                   false), 0);
    snprintf(ctx->log_prefix, sizeof(ctx->log_prefix), "job 7 web1: ");
    as_libxl(xlmig_ctx_xtl(ctx), XTL_ERROR, 2, "cannot open %s", "/x");
    as_libxl(xlmig_ctx_xtl(ctx), XTL_WARN, -1, "a warning");
    as_libxl(xlmig_ctx_xtl(ctx), XTL_DEBUG, -1, "noise");
    LOG_INFO(ctx, "xlmig's own");
    out = read_all(f);
    assert_non_null(strstr(out, "xlmig: error: job 7 web1: libxl: cannot "
                                "open /x: No such file or directory\n"));
    assert_non_null(strstr(out, "xlmig: warning: job 7 web1: libxl: a "
                                "warning\n"));
    assert_null(strstr(out, "noise"));
    assert_non_null(strstr(out, "xlmig: info: job 7 web1: xlmig's own\n"));
    xlmig_ctx_free(ctx);
    fclose(f);
}

struct capture {
    xentoollog_logger vt;
    char text[2048];
    xentoollog_level last;
    int n;
};

static void cap_vmessage(xentoollog_logger *vt, xentoollog_level level,
                         int errnoval, const char *context,
                         const char *format, va_list al)
{
    struct capture *c = (struct capture *)vt;
    size_t l = strlen(c->text);

    (void)errnoval;
    snprintf(c->text + l, sizeof(c->text) - l, "[%s] ",
             context ? context : "");
    l = strlen(c->text);
    vsnprintf(c->text + l, sizeof(c->text) - l, format, al);
    l = strlen(c->text);
    snprintf(c->text + l, sizeof(c->text) - l, "\n");
    c->last = level;
    c->n++;
}

static void test_callers_logger(void **state)
{
    struct capture c;
    xlmig_ctx *ctx;

    (void)state;
    memset(&c, 0, sizeof(c));
    c.vt.vmessage = cap_vmessage;
    assert_int_equal(xlmig_ctx_alloc_logger(&ctx, "sim", NULL),
                     XLMIG_ERR_INVAL);
    assert_int_equal(xlmig_ctx_alloc_logger(&ctx, "sim", &c.vt), 0);
    snprintf(ctx->log_prefix, sizeof(ctx->log_prefix), "in 3: ");
    LOG_WARN(ctx, "from xlmig %d", 1);
    assert_int_equal(c.last, XTL_WARN);
    as_libxl(xlmig_ctx_xtl(ctx), XTL_DEBUG, -1, "libxl detail");
    /* The caller's logger filters: even debug reaches it. */
    assert_int_equal(c.last, XTL_DEBUG);
    assert_int_equal(c.n, 2);
    assert_non_null(strstr(c.text, "[xlmig] in 3: from xlmig 1\n"));
    assert_non_null(strstr(c.text, "[xlmig] in 3: libxl: libxl detail\n"));
    xlmig_ctx_free(ctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_libxl_through_ctx),
        cmocka_unit_test(test_callers_logger),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
