/*
 * Minimal QMP client (qmp.h).  QEMU answers with one JSON object per
 * line; every line is parsed with yajl and classified before anything
 * acts on it.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "backend/xen/qmp.h"

int xlmig_qmp_parse(const char *line, size_t len, char *why, size_t whylen)
{
    char text[XLMIG_QMP_LINE_MAX + 1], err[128];
    yajl_val root, v;
    int kind;

    if (len > XLMIG_QMP_LINE_MAX) {
        snprintf(why, whylen, "a line of %zu bytes exceeds %u", len,
                 XLMIG_QMP_LINE_MAX);
        return XLMIG_ERR_PEER;
    }
    if (memchr(line, '\0', len)) {
        snprintf(why, whylen, "a NUL byte inside a line");
        return XLMIG_ERR_PEER;
    }
    memcpy(text, line, len);
    text[len] = '\0';
    root = yajl_tree_parse(text, err, sizeof(err));
    if (!root) {
        snprintf(why, whylen, "not JSON: %.100s", err);
        return XLMIG_ERR_PEER;
    }
    if (!YAJL_IS_OBJECT(root)) {
        snprintf(why, whylen, "not a JSON object");
        yajl_tree_free(root);
        return XLMIG_ERR_PEER;
    }
    if ((v = yajl_tree_get(root, (const char *[]){ "QMP", NULL },
                           yajl_t_object))) {
        kind = XLMIG_QMP_GREETING;
    } else if (yajl_tree_get(root, (const char *[]){ "return", NULL },
                             yajl_t_any)) {
        kind = XLMIG_QMP_RETURN;
    } else if ((v = yajl_tree_get(root, (const char *[]){ "error", NULL },
                                  yajl_t_object))) {
        yajl_val c = yajl_tree_get(v, (const char *[]){ "class", NULL },
                                   yajl_t_string);
        yajl_val d = yajl_tree_get(v, (const char *[]){ "desc", NULL },
                                   yajl_t_string);

        snprintf(why, whylen, "%.60s: %.160s",
                 c ? YAJL_GET_STRING(c) : "error",
                 d ? YAJL_GET_STRING(d) : "(no description)");
        kind = XLMIG_QMP_ERROR;
    } else if (yajl_tree_get(root, (const char *[]){ "event", NULL },
                             yajl_t_string)) {
        kind = XLMIG_QMP_EVENT;
    } else {
        snprintf(why, whylen, "neither greeting, return, error nor event");
        kind = XLMIG_ERR_PEER;
    }
    yajl_tree_free(root);
    return kind;
}

struct qmp_conn {
    int fd;
    char buf[XLMIG_QMP_LINE_MAX + 1];
    size_t len;
    int timeout_ms;
};

/* The next line, without its newline: *line, *len. */
static int qmp_line(struct qmp_conn *q, const char **line, size_t *len,
                    size_t *consumed)
{
    for (;;) {
        char *nl = memchr(q->buf, '\n', q->len);
        struct pollfd pfd = { q->fd, POLLIN, 0 };
        ssize_t n;

        if (nl) {
            *line = q->buf;
            *len = (size_t)(nl - q->buf);
            *consumed = *len + 1;
            return 0;
        }
        if (q->len >= XLMIG_QMP_LINE_MAX)
            return XLMIG_ERR_PEER;
        n = poll(&pfd, 1, q->timeout_ms);
        if (n == 0)
            return XLMIG_ERR_TIMEOUT;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return XLMIG_ERR_IO;
        n = read(q->fd, q->buf + q->len, XLMIG_QMP_LINE_MAX - q->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n == 0 ? XLMIG_ERR_TRUNCATED : XLMIG_ERR_IO;
        q->len += (size_t)n;
    }
}

/* Read lines until one of kind @want (events skipped). */
static int qmp_expect(xlmig_ctx *ctx, struct qmp_conn *q, int want,
                      const char *what)
{
    char why[256];

    for (;;) {
        const char *line;
        size_t len, used;
        int rc = qmp_line(q, &line, &len, &used);

        if (rc) {
            LOG_ERR(ctx, "QMP: no answer to %s: %s", what,
                    xlmig_strerror(rc));
            return rc;
        }
        rc = xlmig_qmp_parse(line, len, why, sizeof(why));
        memmove(q->buf, q->buf + used, q->len - used);
        q->len -= used;
        if (rc == XLMIG_QMP_EVENT)
            continue;
        if (rc == want)
            return 0;
        if (rc == XLMIG_QMP_ERROR) {
            LOG_ERR(ctx, "QMP: %s refused: %s", what, why);
            return XLMIG_ERR_BACKEND;
        }
        if (rc < 0)
            LOG_ERR(ctx, "QMP: bad answer to %s: %s", what, why);
        else
            LOG_ERR(ctx, "QMP: unexpected answer to %s", what);
        return XLMIG_ERR_PEER;
    }
}

static int qmp_send(xlmig_ctx *ctx, struct qmp_conn *q, const char *cmd)
{
    int rc = xlmig_write_all(q->fd, cmd, strlen(cmd));

    if (!rc)
        rc = xlmig_write_all(q->fd, "\n", 1);
    if (rc)
        LOG_ERR(ctx, "QMP: cannot send: %s", strerror(-rc));
    return rc ? XLMIG_ERR_IO : 0;
}

/*
 * One lock per domain: two jobs' commands to one device model queue here,
 * while different domains' never wait for each other.
 */
struct dom_lock {
    unsigned domid;
    unsigned users;
    pthread_mutex_t m;
    struct dom_lock *next;
};

static pthread_mutex_t locks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dom_lock *locks;

static struct dom_lock *lock_domain(unsigned domid)
{
    struct dom_lock *l;

    pthread_mutex_lock(&locks_lock);
    for (l = locks; l && l->domid != domid; l = l->next)
        ;
    if (!l && (l = calloc(1, sizeof(*l)))) {
        l->domid = domid;
        pthread_mutex_init(&l->m, NULL);
        l->next = locks;
        locks = l;
    }
    if (l)
        l->users++;
    pthread_mutex_unlock(&locks_lock);
    if (l)
        pthread_mutex_lock(&l->m);
    return l;
}

static void unlock_domain(struct dom_lock *l)
{
    pthread_mutex_unlock(&l->m);
    pthread_mutex_lock(&locks_lock);
    if (--l->users == 0) {
        for (struct dom_lock **pp = &locks; *pp; pp = &(*pp)->next)
            if (*pp == l) {
                *pp = l->next;
                break;
            }
        pthread_mutex_destroy(&l->m);
        free(l);
    }
    pthread_mutex_unlock(&locks_lock);
}

int xlmig_qmp_run(xlmig_ctx *ctx, unsigned domid, const char *socket_path,
                  const char *command, unsigned timeout_ms)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct qmp_conn *q = NULL;
    struct dom_lock *l;
    int rc, tries, err;

    if (strlen(socket_path) >= sizeof(sa.sun_path)) {
        LOG_ERR(ctx, "QMP: socket path %s is too long", socket_path);
        return XLMIG_ERR_INVAL;
    }
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path);
    q = calloc(1, sizeof(*q));  /* a large buffer: not on the stack */
    l = q ? lock_domain(domid) : NULL;
    if (!l) {
        free(q);
        return XLMIG_ERR_NOMEM;
    }
    q->timeout_ms = (int)timeout_ms;
    /* libxl holds the socket for the length of its own operations; QEMU
     * takes one client at a time, so a busy socket is retried (with a
     * fresh socket each time). */
    for (tries = 0;; tries++) {
        q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (q->fd < 0) {
            rc = XLMIG_ERR_IO;
            goto out;
        }
        if (!connect(q->fd, (struct sockaddr *)&sa, sizeof(sa)))
            break;
        err = errno;
        close(q->fd);
        if (tries >= 50 || (err != EAGAIN && err != ECONNREFUSED)) {
            LOG_ERR(ctx, "QMP: cannot connect to %s: %s", sa.sun_path,
                    strerror(err));
            rc = XLMIG_ERR_BACKEND;
            goto out;
        }
        usleep(100000);
    }
    rc = qmp_expect(ctx, q, XLMIG_QMP_GREETING, "connecting");
    if (!rc)
        rc = qmp_send(ctx, q, "{\"execute\":\"qmp_capabilities\"}");
    if (!rc)
        rc = qmp_expect(ctx, q, XLMIG_QMP_RETURN, "qmp_capabilities");
    if (!rc)
        rc = qmp_send(ctx, q, command);
    if (!rc)
        rc = qmp_expect(ctx, q, XLMIG_QMP_RETURN, command);
    close(q->fd);
out:
    unlock_domain(l);
    free(q);
    return rc;
}
