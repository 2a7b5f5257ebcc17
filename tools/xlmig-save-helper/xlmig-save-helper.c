/*
 * xlmig-save-helper: one xc_domain_save() in a process of its own, run by
 * the xen backend for each save (libxl-ext/backend/xen/save_helper.h has
 * the protocol).  It holds nothing of xlmigd's: a libxc crash or hang here
 * ends this process, and the job that ran it fails and resumes its
 * domain, while the daemon and its other jobs go on.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenguest.h>
#include <xentoollog.h>

#include "backend/xen/save_helper.h"

static int ctl = -1;
static int min_level = 1;       /* xlmig levels: 0 error .. 3 debug */

static void die(const char *why)
{
    fprintf(stderr, XLMIG_SH_NAME ": %s\n", why);
    _exit(2);
}

static void send_msg(struct xlmig_sh_msg *m)
{
    m->magic = XLMIG_SH_MAGIC;
    if (send(ctl, m, sizeof(*m), MSG_NOSIGNAL) != (ssize_t)sizeof(*m))
        die("the backend is gone");
}

/* A callback: ask, and wait for the one answer. */
static int call(struct xlmig_sh_msg *m)
{
    struct xlmig_sh_msg r;
    ssize_t n;

    send_msg(m);
    do
        n = recv(ctl, &r, sizeof(r), 0);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(r) || r.magic != XLMIG_SH_MAGIC ||
        r.type != XLMIG_SH_REPLY)
        die("bad answer from the backend");
    return r.value;
}

static int cb_suspend(void *data)
{
    struct xlmig_sh_msg m = { .type = XLMIG_SH_SUSPEND };

    (void)data;
    return call(&m);
}

static int cb_policy(struct precopy_stats ps, void *data)
{
    struct xlmig_sh_msg m = { .type = XLMIG_SH_POLICY };

    (void)data;
    m.iteration = ps.iteration;
    m.total_written = ps.total_written;
    m.dirty_count = ps.dirty_count;
    return call(&m);
}

static int cb_logdirty(uint32_t domid, unsigned enable, void *data)
{
    struct xlmig_sh_msg m = { .type = XLMIG_SH_LOGDIRTY };

    (void)domid;
    (void)data;
    m.value = (int32_t)enable;
    return call(&m);
}

/* libxc's messages go to the backend, which logs them as its own. */
static void lg_vmessage(xentoollog_logger *lg, xentoollog_level level,
                        int errnoval, const char *context,
                        const char *format, va_list al)
{
    struct xlmig_sh_msg m = { .type = XLMIG_SH_LOG };
    char msg[XLMIG_SH_TEXT_MAX - 64];
    int lvl = level >= XTL_ERROR ? 0 : level == XTL_WARN ? 1 :
              level >= XTL_PROGRESS ? 2 : 3;

    (void)lg;
    if (lvl > min_level)
        return;
    vsnprintf(msg, sizeof(msg), format, al);
    m.value = lvl;
    snprintf(m.text, sizeof(m.text), "%s%s%s%s%s", context ? context : "",
             context ? ": " : "", msg, errnoval >= 0 ? ": " : "",
             errnoval >= 0 ? strerror(errnoval) : "");
    send_msg(&m);
}

static void lg_destroy(xentoollog_logger *lg)
{
    (void)lg;
}

static long number(const char *s, long max)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max)
        die("bad arguments (run by the xen backend, not by hand)");
    return v;
}

int main(int argc, char **argv)
{
    xentoollog_logger lg = { lg_vmessage, NULL, lg_destroy };
    struct xlmig_sh_msg done = { .type = XLMIG_SH_DONE };
    struct save_callbacks cb;
    xc_interface *xch;
    uint32_t domid;
    int live, stream, rc;

    if (argc != 6)
        die("usage: " XLMIG_SH_NAME " DOMID LIVE STREAM_FD CONTROL_FD "
            "LOG_LEVEL (run by the xen backend)");
    domid = (uint32_t)number(argv[1], 0x7fef);
    live = (int)number(argv[2], 1);
    stream = (int)number(argv[3], 1024);
    ctl = (int)number(argv[4], 1024);
    min_level = (int)number(argv[5], 3);
    /* A backend that stops reading fails the write, and with it the
     * save; it does not kill the helper before it can say so. */
    signal(SIGPIPE, SIG_IGN);

    xch = xc_interface_open(&lg, &lg, 0);
    if (!xch) {
        done.value = -1;
        done.err = errno;
        send_msg(&done);
        return 1;
    }
    memset(&cb, 0, sizeof(cb));
    cb.suspend = cb_suspend;
    cb.precopy_policy = cb_policy;
    cb.switch_qemu_logdirty = cb_logdirty;
    rc = xc_domain_save(xch, stream, domid, live ? XCFLAGS_LIVE : 0, &cb,
                        XC_STREAM_PLAIN, -1);
    done.value = rc;
    done.err = rc ? errno : 0;
    close(stream);              /* the backend's pump sees the end */
    xc_interface_close(xch);
    send_msg(&done);
    return rc ? 1 : 0;
}
