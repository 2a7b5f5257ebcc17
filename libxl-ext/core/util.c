/* Small helpers every module uses: errors, logging, clocks, whole I/O. */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/private.h"

static const struct {
    int rc;
    const char *msg;
} errors[] = {
    { XLMIG_OK, "success" },
    { XLMIG_ERR_FAIL, "failed" },
    { XLMIG_ERR_NOMEM, "out of memory" },
    { XLMIG_ERR_INVAL, "invalid argument" },
    { XLMIG_ERR_IO, "I/O error" },
    { XLMIG_ERR_NOSPACE, "no space left on device" },
    { XLMIG_ERR_NOTFOUND, "no such domain" },
    { XLMIG_ERR_EXISTS, "domain already exists" },
    { XLMIG_ERR_STREAM, "malformed stream" },
    { XLMIG_ERR_VERSION, "unsupported version" },
    { XLMIG_ERR_CHECKSUM, "checksum mismatch" },
    { XLMIG_ERR_TRUNCATED, "stream truncated" },
    { XLMIG_ERR_NOTIMPL, "not implemented yet" },
    { XLMIG_ERR_BACKEND, "backend failure" },
    { XLMIG_ERR_STATE, "invalid state for this operation" },
    { XLMIG_ERR_PERM, "permission denied" },
    { XLMIG_ERR_UNAVAIL, "backend not available on this host" },
    { XLMIG_ERR_AUTH, "peer authentication failed" },
    { XLMIG_ERR_TIMEOUT, "could not converge within the migration's limits" },
    { XLMIG_ERR_CANCELLED, "cancelled" },
    { XLMIG_ERR_REFUSED, "refused by the destination" },
    { XLMIG_ERR_PEER, "aborted by the peer" },
    { XLMIG_ERR_INDOUBT, "in doubt: COMMIT sent, no confirmation" },
    { XLMIG_ERR_BUSY, "too many migrations in progress" },
    { XLMIG_ERR_LEASED, "a disk is in use by another domain (its lease is held)" },
};

const char *xlmig_strerror(int rc)
{
    for (size_t i = 0; i < ARRAY_SIZE(errors); i++)
        if (errors[i].rc == rc)
            return errors[i].msg;
    return "unknown error";
}

int xlmig_errno_rc(int err)
{
    switch (err) {
    case 0: return 0;
    case ENOMEM: return XLMIG_ERR_NOMEM;
    case ENOSPC: case EDQUOT: case EFBIG: return XLMIG_ERR_NOSPACE;
    case EACCES: case EPERM: case EROFS: return XLMIG_ERR_PERM;
    case ENOENT: return XLMIG_ERR_NOTFOUND;
    case EEXIST: return XLMIG_ERR_EXISTS;
    case EINVAL: return XLMIG_ERR_INVAL;
    default: return XLMIG_ERR_IO;
    }
}

const char *xlmig_dom_state_name(enum xlmig_dom_state s)
{
    switch (s) {
    case XLMIG_DOM_RUNNING: return "running";
    case XLMIG_DOM_PAUSED: return "paused";
    case XLMIG_DOM_SUSPENDED: return "suspended";
    case XLMIG_DOM_DYING: return "dying";
    }
    return "unknown";
}

void xlmig_uuid_format(const uint8_t u[16], char buf[37])
{
    snprintf(buf, 37,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
             u[10], u[11], u[12], u[13], u[14], u[15]);
}

uint64_t xlmig_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int xlmig_write_all(int fd, const void *buf, size_t len)
{
    const uint8_t *p = buf;

    while (len) {
        ssize_t r = write(fd, p, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

int xlmig_read_exact(int fd, void *buf, size_t len, size_t *got)
{
    uint8_t *p = buf;
    size_t done = 0;

    while (done < len) {
        ssize_t r = read(fd, p + done, len - done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (got)
                *got = done;
            return -errno;
        }
        if (r == 0)
            break;
        done += (size_t)r;
    }
    if (got)
        *got = done;
    return done == len ? 0 : 1;
}

void xlmig_desc_from_info(const struct xlmig_dominfo *info,
                          uint32_t backend_id, struct xlmig_domain_desc *desc)
{
    memset(desc, 0, sizeof(*desc));
    desc->backend_id = backend_id;
    desc->page_shift = info->page_shift;
    desc->nr_pages = info->nr_pages;
    desc->nr_vcpus = info->nr_vcpus;
    memcpy(desc->uuid, info->uuid, 16);
    memcpy(desc->name, info->name, XLMIG_NAME_MAX);
}

int xlmig_why(char *why, size_t len, int rc, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, len, fmt, ap);
    va_end(ap);
    return rc;
}

void xlmig_find_program(char *buf, size_t len, const char *env,
                        const char *name, const char *fallback)
{
    const char *e = getenv(env);
    char self[PATH_MAX];
    ssize_t n;

    if (e && *e) {
        snprintf(buf, len, "%s", e);
        return;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        char *slash;
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash) {
            int m;
            *slash = '\0';
            m = snprintf(buf, len, "%s/%s", self, name);
            if (m > 0 && (size_t)m < len && access(buf, X_OK) == 0)
                return;
        }
    }
    snprintf(buf, len, "%s", fallback);
}
