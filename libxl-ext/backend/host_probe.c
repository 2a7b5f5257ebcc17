/*
 * Facts about this host that both backends' offers report: bridges, who
 * uses a MAC, the size of a disk and the space beside a path.
 */
#include "backend/host_probe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/private.h"

/* ---- local facts ---- */

bool xlmig_host_bridge(const char *br)
{
    char p[96];
    struct stat st;

    if (!*br || strchr(br, '/') || !strcmp(br, ".") || !strcmp(br, ".."))
        return false;
    snprintf(p, sizeof(p), "/sys/class/net/%s/bridge", br);
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool read_sys(const char *dev, const char *file, char *buf,
                     size_t len)
{
    char p[128];
    ssize_t n;
    int fd;

    snprintf(p, sizeof(p), "/sys/class/net/%s/%s", dev, file);
    fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return false;
    buf[n] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    return true;
}

bool xlmig_host_netdev(const char *dev, struct xlmig_netdev *nd)
{
    char buf[64], p[128], link[128];
    ssize_t n;

    memset(nd, 0, sizeof(*nd));
    if (!*dev || strchr(dev, '/') || !strcmp(dev, ".") || !strcmp(dev, "..")
        || !read_sys(dev, "flags", buf, sizeof(buf)))
        return false;
    nd->up = strtoul(buf, NULL, 16) & 1;
    if (read_sys(dev, "mtu", buf, sizeof(buf)))
        nd->mtu = (unsigned)strtoul(buf, NULL, 10);
    nd->bridge = xlmig_host_bridge(dev);
    if (nd->bridge) {
        if (read_sys(dev, "bridge/stp_state", buf, sizeof(buf)))
            nd->stp = (unsigned)strtoul(buf, NULL, 10);
        if (read_sys(dev, "bridge/forward_delay", buf, sizeof(buf)))
            nd->forward_delay_cs = (unsigned)strtoul(buf, NULL, 10);
    }
    snprintf(p, sizeof(p), "/sys/class/net/%s/master", dev);
    n = readlink(p, link, sizeof(link) - 1);
    if (n > 0) {
        const char *slash;
        link[n] = '\0';
        slash = strrchr(link, '/');
        slash = slash ? slash + 1 : link;
        if (strlen(slash) < sizeof(nd->master))
            strcpy(nd->master, slash);
    }
    return true;
}

int xlmig_host_vif_check(const struct xlmig_vif *v, char *why, size_t len)
{
    struct xlmig_netdev nd;

    if (!xlmig_host_netdev(v->dev, &nd)) {
        snprintf(why, len, "%s does not exist", v->dev);
        return XLMIG_ERR_BACKEND;
    }
    if (v->bridge[0] && strcmp(nd.master, v->bridge)) {
        snprintf(why, len, "%s is not on bridge %s but on %s", v->dev,
                 v->bridge, nd.master[0] ? nd.master : "no bridge");
        return XLMIG_ERR_BACKEND;
    }
    if (!nd.up) {
        snprintf(why, len, "%s is down", v->dev);
        return XLMIG_ERR_BACKEND;
    }
    return 0;
}

void xlmig_host_mac_user(const uint8_t mac[6], char *who, size_t len)
{
    DIR *d = opendir("/sys/class/net");
    struct dirent *e;
    char want[18];

    who[0] = '\0';
    if (!d)
        return;
    xlmig_mac_format(mac, want);
    while ((e = readdir(d))) {
        char p[300], addr[32] = "";
        FILE *f;
        if (e->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "/sys/class/net/%s/address", e->d_name);
        f = fopen(p, "re");
        if (!f)
            continue;
        if (fgets(addr, sizeof(addr), f) && !strncasecmp(addr, want, 17)) {
            snprintf(who, len, "interface %s", e->d_name);
            fclose(f);
            break;
        }
        fclose(f);
    }
    closedir(d);
}

int xlmig_path_size(const char *path, uint64_t *size)
{
    struct stat st;
    int fd;

    if (stat(path, &st))
        return errno;
    if (S_ISREG(st.st_mode)) {
        *size = (uint64_t)st.st_size;
        return 0;
    }
    if (!S_ISBLK(st.st_mode))
        return EINVAL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno;
    if (ioctl(fd, BLKGETSIZE64, size)) {
        int e = errno;
        close(fd);
        return e;
    }
    close(fd);
    return 0;
}

int xlmig_path_space(const char *path, uint64_t *space)
{
    char dir[XLMIG_PF_PATH_MAX + 1];
    struct statvfs sv;

    /* The nearest directory that exists, going up from the file's. */
    snprintf(dir, sizeof(dir), "%s", path);
    for (;;) {
        char *slash = strrchr(dir, '/');
        if (!slash)
            return ENOENT;
        if (slash == dir)
            slash[1] = '\0';
        else
            *slash = '\0';
        if (!statvfs(dir, &sv))
            break;
        if (errno != ENOENT && errno != ENOTDIR)
            return errno;
        if (!strcmp(dir, "/"))
            return ENOENT;
    }
    *space = (uint64_t)sv.f_bavail * sv.f_frsize;
    return 0;
}

void xlmig_pf_offer_local(const struct xlmig_needs *n, struct xlmig_offer *o)
{
    for (unsigned i = 0; i < n->ndisks; i++) {
        const struct xlmig_pf_disk *d = &n->disks[i];
        if (d->flags & (XLMIG_PF_DISK_EMPTY | XLMIG_PF_DISK_OPAQUE))
            continue;
        o->disks[i].err = xlmig_path_size(d->target, &o->disks[i].size);
        if (o->disks[i].err == ENOENT || o->disks[i].err == ENOTDIR)
            xlmig_path_space(d->target, &o->disks[i].space);
    }
    for (unsigned i = 0; i < n->nnics; i++) {
        struct xlmig_netdev nd;
        struct xlmig_pf_nic_offer *on = &o->nics[i];
        on->bridge = n->nics[i].bridge[0] &&
                     xlmig_host_netdev(n->nics[i].bridge, &nd) && nd.bridge;
        if (on->bridge) {
            on->up = nd.up;
            on->mtu = nd.mtu;
            on->stp = nd.stp != 0;
            on->forward_delay_cs = nd.forward_delay_cs;
        }
    }
}

void xlmig_pf_need_nic_local(struct xlmig_pf_nic *ni)
{
    struct xlmig_netdev nd;

    if (ni->bridge[0] && xlmig_host_netdev(ni->bridge, &nd))
        ni->mtu = nd.mtu;
}
