#include "backend/sim/sim_host.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/host_probe.h"
#include "backend/sim/sim_ipc.h"
#include "backend/sim/sim_layout.h"

#define SIM_DIR_DEFAULT "/dev/shm/xlmig-sim"

const char *sim_dir(void)
{
    const char *d = getenv("XLMIG_SIM_DIR");

    return d && *d ? d : SIM_DIR_DEFAULT;
}

int sim_path(char *buf, size_t len, const char *name, const char *file)
{
    int n = snprintf(buf, len, "%s/%s%s%s", sim_dir(), name, file ? "/" : "",
                     file ? file : "");

    return n < 0 || (size_t)n >= len ? -1 : 0;
}

static int write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int r;

    if (fd < 0)
        return -errno;
    r = xlmig_write_all(fd, data, len);
    if (close(fd) < 0 && !r)
        r = -errno;
    return r;
}

int sim_config_load(const char *path, struct sim_config *cfg, char *why,
                    size_t whylen)
{
    char *buf = malloc(SIM_CONFIG_MAX + 1);
    ssize_t n;
    int fd, rc;

    if (!buf) {
        snprintf(why, whylen, "out of memory");
        return XLMIG_ERR_NOMEM;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "cannot open %s: %s", path, strerror(errno));
        free(buf);
        return xlmig_errno_rc(errno);
    }
    n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, (size_t)(SIM_CONFIG_MAX + 1 - n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, whylen, "cannot read %s: %s", path,
                     strerror(errno));
            close(fd);
            free(buf);
            return xlmig_errno_rc(errno);
        }
        if (r == 0 || (n += r) == SIM_CONFIG_MAX + 1)
            break;
    }
    close(fd);
    rc = sim_config_parse(buf, (size_t)n, cfg, why, whylen);
    free(buf);
    return rc;
}

int sim_hostconf_load(struct sim_hostconf *h, char *why, size_t whylen)
{
    char p[PATH_MAX], *buf;
    ssize_t n = 0;
    int fd, rc;

    memset(h, 0, sizeof(*h));
    snprintf(p, sizeof(p), "%s/host.conf", sim_dir());
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        snprintf(why, whylen, "cannot open %s: %s", p, strerror(errno));
        return xlmig_errno_rc(errno);
    }
    buf = malloc(SIM_CONFIG_MAX + 1);
    if (!buf) {
        close(fd);
        return XLMIG_ERR_NOMEM;
    }
    for (;;) {
        ssize_t r = read(fd, buf + n, (size_t)(SIM_CONFIG_MAX + 1 - n));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || (n += r) == SIM_CONFIG_MAX + 1)
            break;
    }
    close(fd);
    rc = sim_hostconf_parse(buf, (size_t)n, h, why, whylen);
    if (rc) {
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "%s", why);
        snprintf(why, whylen, "%s: %s", p, tmp);
    }
    free(buf);
    return rc;
}

int sim_host_cpu(const struct sim_hostconf *h, char vendor[16],
                 char *features, size_t len)
{
    FILE *f = fopen("/proc/cpuinfo", "re");
    char *line = NULL;
    size_t cap = 0, off = 0;
    bool got_flags = false;

    vendor[0] = '\0';
    if (len)
        features[0] = '\0';
    if (!f)
        return xlmig_errno_rc(errno);
    while (getline(&line, &cap, f) > 0 && !got_flags) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        if (!strncmp(line, "vendor_id", 9) && !vendor[0]) {
            sscanf(colon + 1, " %15s", vendor);
        } else if (!strncmp(line, "flags", 5)) {
            char *save = NULL;
            for (char *w = strtok_r(colon + 1, " \t\n", &save); w;
                 w = strtok_r(NULL, " \t\n", &save)) {
                size_t wl = strlen(w);
                int r;
                if (xlmig_pf_has_feature(h->cpu_mask, w, wl) ||
                    !xlmig_pf_features_valid(w))
                    continue;
                if (off + wl + 2 > len)
                    break;
                r = snprintf(features + off, len - off, "%s%s",
                             off ? " " : "", w);
                off += (size_t)r;
            }
            got_flags = true;
        }
    }
    free(line);
    fclose(f);
    if (h->cpu_vendor[0])
        snprintf(vendor, 16, "%s", h->cpu_vendor);
    return 0;
}

uint32_t sim_host_pcpus(const struct sim_hostconf *h)
{
    long n;

    if (h->pcpus)
        return h->pcpus;
    n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (uint32_t)n : 1;
}

bool sim_host_pool(const struct sim_hostconf *h, const char *name,
                   char *cpus, size_t len)
{
    uint32_t pcpus = sim_host_pcpus(h);
    uint64_t rest[16] = { 0 }, set[16];
    size_t off = 0;

    if (*name && strcmp(name, "Pool-0")) {
        for (unsigned i = 0; i < h->npools; i++)
            if (!strcmp(h->pools[i].name, name)) {
                /* Only the CPUs this host has. */
                if (xlmig_cpulist_parse(h->pools[i].cpus, set))
                    return false;
                memcpy(rest, set, sizeof(rest));
                goto format;
            }
        return false;
    }
    for (uint32_t c = 0; c < pcpus && c < 1024; c++)
        rest[c / 64] |= 1ull << (c % 64);
    for (unsigned i = 0; i < h->npools; i++)
        if (!xlmig_cpulist_parse(h->pools[i].cpus, set))
            for (int k = 0; k < 16; k++)
                rest[k] &= ~set[k];
format:
    if (len)
        cpus[0] = '\0';
    for (uint32_t c = 0; c < pcpus && c < 1024; c++) {
        uint32_t e = c;
        int r;
        if (!(rest[c / 64] >> (c % 64) & 1))
            continue;
        while (e + 1 < pcpus && e + 1 < 1024 &&
               rest[(e + 1) / 64] >> ((e + 1) % 64) & 1)
            e++;
        r = e > c ? snprintf(cpus + off, len - off, "%s%u-%u",
                             off ? "," : "", c, e)
                  : snprintf(cpus + off, len - off, "%s%u", off ? "," : "",
                             c);
        if (r < 0 || (size_t)r >= len - off)
            break;
        off += (size_t)r;
        c = e;
    }
    return true;
}

void sim_dom_cleanup_dir(const char *dir)
{
    static const char *files[] = { "ctl", "ram", "config", "pid", "domid",
                                   "log", "made-disks", "config.new" };
    char p[PATH_MAX];

    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        int n = snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        if (n > 0 && (size_t)n < sizeof(p))
            unlink(p);
    }
    rmdir(dir);
}

void sim_dom_cleanup(const char *name)
{
    char p[PATH_MAX];

    if (!sim_path(p, sizeof(p), name, NULL))
        sim_dom_cleanup_dir(p);
}


static int domid_alloc(void)
{
    DIR *d = opendir(sim_dir());
    uint8_t used[1024] = { 0 };
    struct dirent *e;

    if (!d)
        return -errno;
    while ((e = readdir(d))) {
        char p[PATH_MAX], buf[16] = "";
        int fd;
        long v;

        if (e->d_name[0] == '.')
            continue;
        if (sim_path(p, sizeof(p), e->d_name, "domid"))
            continue;
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        if (read(fd, buf, sizeof(buf) - 1) > 0) {
            v = strtol(buf, NULL, 10);
            if (v > 0 && v < (long)sizeof(used))
                used[v] = 1;
        }
        close(fd);
    }
    closedir(d);
    for (int i = 1; i < (int)sizeof(used); i++)
        if (!used[i])
            return i;
    return -ENOSPC;
}

#ifndef XLMIG_LIBEXEC_DIR
#define XLMIG_LIBEXEC_DIR "/usr/local/lib/xlmig"
#endif

void sim_vif_name(uint32_t domid, unsigned i, char name[16])
{
    /* Sim domids are below 1024 (domid_alloc) and vifs below
     * SIM_VIFS_MAX: the bounds only tell the compiler it fits IFNAMSIZ. */
    snprintf(name, 16, "vif%u.%u", domid % 100000, i % 100);
}

int sim_vif_hotplug(xlmig_ctx *ctx, const struct sim_config *cfg,
                    uint32_t domid, unsigned i, const char *command)
{
    char script[PATH_MAX], vif[16], mac[18], out[512];
    char e_cmd[32], e_vif[32], e_br[32], e_mac[32];
    char *envp[] = { e_cmd, e_vif, e_br, e_mac,
                     "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
    int pfd[2], status;
    size_t got = 0;
    ssize_t n;
    pid_t pid;

    /* $XLMIG_SIM_VIF_SCRIPT, else beside this program, else installed. */
    xlmig_find_program(script, sizeof(script), "XLMIG_SIM_VIF_SCRIPT",
                       "vif-bridge-sim", XLMIG_LIBEXEC_DIR "/vif-bridge-sim");
    sim_vif_name(domid, i, vif);
    xlmig_mac_format(cfg->vifs[i].mac, mac);
    snprintf(e_cmd, sizeof(e_cmd), "command=%s", command);
    snprintf(e_vif, sizeof(e_vif), "vif=%s", vif);
    snprintf(e_br, sizeof(e_br), "bridge=%s", cfg->vifs[i].bridge);
    snprintf(e_mac, sizeof(e_mac), "mac=%s", mac);
    if (pipe2(pfd, O_CLOEXEC) < 0)
        return xlmig_errno_rc(errno);
    pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return xlmig_errno_rc(errno);
    }
    if (pid == 0) {
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, STDIN_FILENO);
        dup2(pfd[1], STDOUT_FILENO);
        dup2(pfd[1], STDERR_FILENO);
        execve(script, (char *[]){ script, NULL }, envp);
        dprintf(STDERR_FILENO, "cannot execute %s: %s", script,
                strerror(errno));
        _exit(127);
    }
    close(pfd[1]);
    while (got < sizeof(out) - 1 &&
           (n = read(pfd[0], out + got, sizeof(out) - 1 - got)) > 0)
        got += (size_t)n;
    close(pfd[0]);
    out[got] = '\0';
    while (got && out[got - 1] == '\n')
        out[--got] = '\0';
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status)) {
        LOG_ERR(ctx, "%s: vif %u (%s) %s failed: %s", cfg->name, i, vif,
                command, got ? out : "the script said nothing");
        return XLMIG_ERR_BACKEND;
    }
    LOG_DEBUG(ctx, "%s: vif %u: %s %s%s%s", cfg->name, i, vif, command,
              cfg->vifs[i].bridge[0] ? " on " : "", cfg->vifs[i].bridge);
    return 0;
}

int sim_dom_spawn(xlmig_ctx *ctx, const struct sim_config *cfg,
                  enum sim_boot boot, int paused, uint32_t *domid_out)
{
    char dir[PATH_MAX], p[PATH_MAX], text[SIM_CONFIG_MAX], bin[PATH_MAX];
    char ready[128];
    char fdarg[16], domidbuf[16];
    int lockfd = -1, ramfd = -1, pipefd[2] = { -1, -1 };
    bool made_dir = false;
    struct xlmig_dominfo other;
    pid_t pid = -1;
    ssize_t n;
    int rc, r, domid, len;

    if (mkdir(sim_dir(), 0700) < 0 && errno != EEXIST) {
        LOG_ERR(ctx, "cannot create sim directory %s: %s", sim_dir(),
                strerror(errno));
        return xlmig_errno_rc(errno);
    }
    snprintf(p, sizeof(p), "%s/.lock", sim_dir());
    lockfd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0) {
        LOG_ERR(ctx, "cannot lock %s: %s", p, strerror(errno));
        rc = xlmig_errno_rc(errno);
        goto out;
    }

    /* Name and UUID must be unique on this host. */
    if (sim_path(dir, sizeof(dir), cfg->name, NULL)) {
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    if (mkdir(dir, 0700) < 0) {
        if (errno == EEXIST)
            LOG_ERR(ctx, "a domain named %s already exists on this host",
                    cfg->name);
        else
            LOG_ERR(ctx, "cannot create %s: %s", dir, strerror(errno));
        rc = xlmig_errno_rc(errno);
        goto out;
    }
    made_dir = true;
    {
        struct xlmig_dominfo *all = NULL;
        unsigned nall = 0;
        if (sim_dom_list(ctx, &all, &nall) == 0) {
            for (unsigned i = 0; i < nall; i++) {
                if (strcmp(all[i].name, cfg->name) &&
                    !memcmp(all[i].uuid, cfg->uuid, 16)) {
                    other = all[i];
                    LOG_ERR(ctx, "domain %s already has this UUID",
                            other.name);
                    free(all);
                    rc = XLMIG_ERR_EXISTS;
                    goto out;
                }
            }
            free(all);
        }
    }

    domid = domid_alloc();
    if (domid < 0) {
        rc = xlmig_errno_rc(-domid);
        goto out;
    }
    len = sim_config_format(cfg, text, sizeof(text));
    if (len < 0) {
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    sim_path(p, sizeof(p), cfg->name, "config");
    r = write_file(p, text, (size_t)len);
    if (!r) {
        snprintf(domidbuf, sizeof(domidbuf), "%d\n", domid);
        sim_path(p, sizeof(p), cfg->name, "domid");
        r = write_file(p, domidbuf, strlen(domidbuf));
    }
    if (r) {
        LOG_ERR(ctx, "writing %s: %s", p, strerror(-r));
        rc = xlmig_errno_rc(-r);
        goto out;
    }
    sim_path(p, sizeof(p), cfg->name, "ram");
    ramfd = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (ramfd < 0) {
        LOG_ERR(ctx, "creating memory file %s: %s", p, strerror(errno));
        rc = xlmig_errno_rc(errno);
        goto out;
    }
    /* All of the guest's memory is reserved now, the sim analogue of
     * Xen's memory claim: pages never written stay zero but not
     * unreserved, so no write into the mapping can fail later (on a
     * sparse file a full filesystem is a SIGBUS in whoever writes). */
    r = posix_fallocate(ramfd, 0, (off_t)(cfg->nr_pages * XLMIG_PAGE_SIZE));
    if (r) {
        struct statvfs vfs;
        uint64_t free_b = statvfs(sim_dir(), &vfs) ? 0 :
                          (uint64_t)vfs.f_bavail * vfs.f_frsize;
        LOG_ERR(ctx, "no room for the memory of %s in %s: it needs %llu "
                "MiB, %llu MiB are free (%s)", cfg->name, sim_dir(),
                (unsigned long long)(cfg->nr_pages >> 8),
                (unsigned long long)(free_b >> 20), strerror(r));
        rc = xlmig_errno_rc(r);
        goto out;
    }

    /* The domain process reports "ok" or its error on this pipe. */
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        rc = xlmig_errno_rc(errno);
        goto out;
    }
    /* $XLMIG_SIMDOM, else beside this program, else on PATH. */
    xlmig_find_program(bin, sizeof(bin), "XLMIG_SIMDOM", "xlmig-simdom",
                       "xlmig-simdom");
    pid = fork();
    if (pid < 0) {
        rc = xlmig_errno_rc(errno);
        goto out;
    }
    if (pid == 0) {
        /* Child: the write end must survive exec, nothing else. */
        int wfd = dup(pipefd[1]);
        snprintf(fdarg, sizeof(fdarg), "%d", wfd);
        execlp(bin, bin, "run", "--ready-fd", fdarg,
               boot == SIM_BOOT_RESTORED ? "--restored" :
               boot == SIM_BOOT_FILL ? "--fill" : "--fresh",
               paused ? "--paused" : "--running", dir, (char *)NULL);
        dprintf(wfd, "cannot execute %s: %s\n", bin, strerror(errno));
        _exit(127);
    }
    close(pipefd[1]);
    pipefd[1] = -1;
    n = read(pipefd[0], ready, sizeof(ready) - 1);
    ready[n > 0 ? n : 0] = '\0';
    /* The run process daemonizes: reap the intermediate child. */
    waitpid(pid, NULL, 0);
    if (strncmp(ready, "ok", 2)) {
        ready[strcspn(ready, "\n")] = '\0';
        LOG_ERR(ctx, "domain %s failed to start: %s", cfg->name,
                n > 0 ? ready : "process exited without a word");
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    made_dir = false;
    /* dom0's side of each vif: on its bridge before anyone runs it. */
    for (unsigned i = 0; i < cfg->nvifs; i++) {
        rc = sim_vif_hotplug(ctx, cfg, (uint32_t)domid, i, "online");
        if (rc) {
            void *rep = NULL;
            size_t rl;
            if (sim_dom_call(ctx, cfg->name, SIM_MSG_DESTROY, NULL, 0, &rep,
                             &rl))
                LOG_ERR(ctx, "could not destroy %s", cfg->name);
            free(rep);
            goto out;
        }
    }
    if (domid_out)
        *domid_out = (uint32_t)domid;
    rc = 0;
out:
    if (made_dir)
        sim_dom_cleanup(cfg->name);
    if (ramfd >= 0)
        close(ramfd);
    if (pipefd[0] >= 0)
        close(pipefd[0]);
    if (pipefd[1] >= 0)
        close(pipefd[1]);
    if (lockfd >= 0)
        close(lockfd);
    return rc;
}

int sim_dom_connect(xlmig_ctx *ctx, const char *name)
{
    char p[PATH_MAX];
    int fd;

    if (!sim_name_valid(name) || sim_path(p, sizeof(p), name, "ctl")) {
        LOG_ERR(ctx, "invalid domain name \"%s\"", name);
        return XLMIG_ERR_INVAL;
    }
    fd = sim_ipc_connect(p);
    if (fd < 0) {
        if (fd == -ENOENT || fd == -ECONNREFUSED)
            return XLMIG_ERR_NOTFOUND;
        LOG_ERR(ctx, "connecting to domain %s: %s", name, strerror(-fd));
        return xlmig_errno_rc(-fd);
    }
    return fd;
}

int sim_dom_call(xlmig_ctx *ctx, const char *name, uint32_t type,
                 const void *req, size_t len, void **reply, size_t *rlen)
{
    int fd = sim_dom_connect(ctx, name);
    int rc;

    if (fd < 0) {
        if (fd == XLMIG_ERR_NOTFOUND)
            LOG_ERR(ctx, "domain %s is not running", name);
        return fd;
    }
    rc = sim_ipc_call(fd, type, req, len, reply, rlen);
    close(fd);
    return rc;
}

int sim_info_parse(const char *text, size_t len, struct xlmig_dominfo *out)
{
    char buf[4096], *line, *save = NULL;
    unsigned got = 0;

    if (len >= sizeof(buf))
        return XLMIG_ERR_STREAM;
    memcpy(buf, text, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    out->page_shift = XLMIG_PAGE_SHIFT;
    for (line = strtok_r(buf, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char *v = strchr(line, '=');
        if (!v)
            continue;
        *v++ = '\0';
        if (!strcmp(line, "name") && strlen(v) < XLMIG_NAME_MAX) {
            strcpy(out->name, v);
            got |= 1;
        } else if (!strcmp(line, "uuid") && !sim_uuid_parse(v, out->uuid)) {
            got |= 2;
        } else if (!strcmp(line, "domid")) {
            out->domid = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(line, "vcpus")) {
            out->nr_vcpus = (uint32_t)strtoul(v, NULL, 10);
        } else if (!strcmp(line, "memory_pages")) {
            out->nr_pages = strtoull(v, NULL, 10);
        } else if (!strcmp(line, "state")) {
            out->state = !strcmp(v, "running") ? XLMIG_DOM_RUNNING :
                                                 XLMIG_DOM_PAUSED;
        }
    }
    return got == 3 ? 0 : XLMIG_ERR_STREAM;
}

static int info_of(xlmig_ctx *ctx, const char *name,
                   struct xlmig_dominfo *out)
{
    void *reply = NULL;
    size_t rlen = 0;
    int fd, rc;

    fd = sim_dom_connect(ctx, name);
    if (fd < 0)
        return fd;
    rc = sim_ipc_call(fd, SIM_MSG_INFO, NULL, 0, &reply, &rlen);
    close(fd);
    if (!rc)
        rc = sim_info_parse(reply, rlen, out);
    free(reply);
    return rc;
}

static int cmp_domid(const void *a, const void *b)
{
    const struct xlmig_dominfo *x = a, *y = b;

    return x->domid < y->domid ? -1 : x->domid > y->domid;
}

int sim_dom_list(xlmig_ctx *ctx, struct xlmig_dominfo **out, unsigned *n)
{
    DIR *d = opendir(sim_dir());
    struct xlmig_dominfo *v = NULL;
    unsigned cnt = 0, cap = 0;
    struct dirent *e;

    *out = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT ? 0 : xlmig_errno_rc(errno);
    while ((e = readdir(d))) {
        struct xlmig_dominfo info;

        if (e->d_name[0] == '.' || !sim_name_valid(e->d_name) ||
            (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN))
            continue;           /* host.conf, .lock */
        if (info_of(ctx, e->d_name, &info))
            continue;           /* being created, or gone */
        if (cnt == cap) {
            struct xlmig_dominfo *nv;
            cap = cap ? cap * 2 : 8;
            nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                free(v);
                closedir(d);
                return XLMIG_ERR_NOMEM;
            }
            v = nv;
        }
        v[cnt++] = info;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof(*v), cmp_domid);
    *out = v;
    *n = cnt;
    return 0;
}

int sim_dom_find(xlmig_ctx *ctx, const char *ident,
                 struct xlmig_dominfo *out)
{
    struct xlmig_dominfo *all;
    unsigned n;
    int rc;

    if (sim_name_valid(ident) && info_of(ctx, ident, out) == 0)
        return 0;
    rc = sim_dom_list(ctx, &all, &n);
    if (rc)
        return rc;
    rc = XLMIG_ERR_NOTFOUND;
    for (unsigned i = 0; i < n; i++) {
        char u[37], id[16];
        xlmig_uuid_format(all[i].uuid, u);
        snprintf(id, sizeof(id), "%" PRIu32, all[i].domid);
        if (!strcmp(ident, id) || !strcasecmp(ident, u)) {
            *out = all[i];
            rc = 0;
            break;
        }
    }
    free(all);
    return rc;
}
