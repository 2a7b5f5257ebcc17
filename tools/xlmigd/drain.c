/*
 * xlmigd: a drained host (see xlmigd.h).  `xlmig drain` marks the host
 * as taking no more domains in: every incoming migration, tunnel or
 * quick move is refused at preflight with the reason the administrator
 * gave, until `xlmig undrain`.  The mark is a file in the state
 * directory, so it holds across a restart of xlmigd or of the host
 * (docs/specs/state.md): a host drained for maintenance must not fill up
 * again because its daemon restarted.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "xlmigd/xlmigd.h"
#include "core/private.h"

static struct {
    bool on;
    uint64_t since;                     /* seconds since the epoch */
    char reason[XLMIG_CTL_REASON_MAX + 1];
} drain;                                /* D.lock */

static void drain_path(char *buf, size_t len)
{
    snprintf(buf, len, "%s/drained", D.cfg.state_dir);
}

bool drain_reason_valid(const char *s)
{
    size_t n = strlen(s);

    if (n > XLMIG_CTL_REASON_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
            return false;
    return true;
}

/*
 * "since=SECONDS\nreason=TEXT\n".  The file is ours, but a damaged one
 * must not undrain the host: what cannot be read leaves it drained, with
 * a reason that says so.
 */
void drain_load(void)
{
    char path[XLMIGD_PATH_MAX + 16], buf[512], *nl;
    unsigned long long since = 0;
    size_t n;
    FILE *f;

    drain_path(path, sizeof(path));
    f = fopen(path, "re");
    if (!f) {
        if (errno != ENOENT)
            LOG_ERR(D.ctx, "%s: %s: the host stays drained", path,
                    strerror(errno));
        drain.on = errno != ENOENT;
        drain.since = (uint64_t)time(NULL);
        snprintf(drain.reason, sizeof(drain.reason), "%s",
                 drain.on ? "drained (its drain file cannot be read)" : "");
        return;
    }
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    drain.on = true;
    drain.since = (uint64_t)time(NULL);
    snprintf(drain.reason, sizeof(drain.reason), "drained (its drain file "
             "is damaged)");
    if (sscanf(buf, "since=%llu\n", &since) != 1 ||
        !strstr(buf, "\nreason=")) {
        LOG_ERR(D.ctx, "%s is damaged: the host stays drained", path);
        return;
    }
    {
        char *r = strstr(buf, "\nreason=") + 8;
        nl = strchr(r, '\n');
        if (!nl || nl[1] || (*nl = '\0', !drain_reason_valid(r))) {
            LOG_ERR(D.ctx, "%s is damaged: the host stays drained", path);
            return;
        }
        drain.since = since;
        snprintf(drain.reason, sizeof(drain.reason), "%s", r);
    }
    LOG_INFO(D.ctx, "drained since %llu%s%s: incoming migrations are "
             "refused until `xlmig undrain`", since,
             drain.reason[0] ? ": " : "", drain.reason);
}

/* Write the mark (or remove it), durably, before the answer is given. */
static int drain_store(bool on, uint64_t since, const char *reason,
                       char *why, size_t len)
{
    char path[XLMIGD_PATH_MAX + 16], tmp[XLMIGD_PATH_MAX + 24], text[320];
    int fd, n;

    drain_path(path, sizeof(path));
    if (!on) {
        if (unlink(path) < 0 && errno != ENOENT)
            return xlmig_why(why, len, XLMIG_ERR_IO, "cannot remove %s: %s",
                             path, strerror(errno));
        fd = open(D.cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        return 0;
    }
    if (mkdir(D.cfg.state_dir, 0700) < 0 && errno != EEXIST)
        return xlmig_why(why, len, XLMIG_ERR_IO, "cannot make %s: %s",
                         D.cfg.state_dir, strerror(errno));
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    n = snprintf(text, sizeof(text), "since=%" PRIu64 "\nreason=%s\n", since,
                 reason);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return xlmig_why(why, len, XLMIG_ERR_IO, "cannot write %s: %s", tmp,
                         strerror(errno));
    if (xlmig_write_all(fd, text, (size_t)n) || fsync(fd) < 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return xlmig_why(why, len, XLMIG_ERR_IO, "cannot write %s: %s", tmp,
                         strerror(e));
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        int e = errno;
        unlink(tmp);
        return xlmig_why(why, len, XLMIG_ERR_IO, "cannot rename %s: %s", tmp,
                         strerror(e));
    }
    fd = open(D.cfg.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return 0;
}

int drain_set(bool on, const char *reason, char *why, size_t len)
{
    uint64_t since = (uint64_t)time(NULL);
    int rc;

    pthread_mutex_lock(&D.lock);
    if (on && drain.on)
        since = drain.since;            /* drained again: a new reason */
    rc = drain_store(on, since, on ? reason : "", why, len);
    if (!rc) {
        drain.on = on;
        drain.since = on ? since : 0;
        snprintf(drain.reason, sizeof(drain.reason), "%s", on ? reason : "");
    }
    pthread_mutex_unlock(&D.lock);
    if (!rc)
        LOG_INFO(D.ctx, "%s%s%s", on ? "drained: incoming migrations are "
                 "refused" : "undrained: incoming migrations are taken "
                 "again", on && reason[0] ? ": " : "", on ? reason : "");
    return rc;
}

bool drain_state(uint64_t *since, char *reason, size_t len)
{
    if (since)
        *since = drain.since;
    if (reason)
        snprintf(reason, len, "%s", drain.reason);
    return drain.on;
}

bool drained(void *opaque, char *why, size_t len)
{
    bool on;

    (void)opaque;
    pthread_mutex_lock(&D.lock);
    on = drain.on;
    if (on)
        snprintf(why, len, "%s is drained%s%s: it takes no migrations in "
                 "until `xlmig undrain`", D.cfg.host_name,
                 drain.reason[0] ? ": " : "", drain.reason);
    pthread_mutex_unlock(&D.lock);
    return on;
}
