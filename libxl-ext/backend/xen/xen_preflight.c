/* The xen backend: what a domain needs of a host, what this host offers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/xen/xen_private.h"

/* ---- preflight ---- */

static void xen_hv(struct xen_priv *x, char *hv, size_t len, uint32_t *major,
                   uint32_t *minor)
{
    const libxl_version_info *v = libxl_get_version_info(x->lctx);

    if (!v) {
        snprintf(hv, len, "Xen ?");
        return;
    }
    *major = (uint32_t)v->xen_version_major;
    *minor = (uint32_t)v->xen_version_minor;
    snprintf(hv, len, "Xen %d.%d%s", v->xen_version_major,
             v->xen_version_minor,
             v->xen_version_extra ? v->xen_version_extra : "");
}

static void bitmap_list(const libxl_bitmap *b, char *out, size_t len)
{
    size_t off = 0;
    int i = 0, n = libxl_bitmap_count_set(b) ? (int)(b->size * 8) : 0;

    out[0] = '\0';
    while (i < n && off + 1 < len) {
        int e, w;
        if (!libxl_bitmap_test(b, i)) {
            i++;
            continue;
        }
        for (e = i; e + 1 < n && libxl_bitmap_test(b, e + 1);)
            e++;
        w = e > i ? snprintf(out + off, len - off, "%s%d-%d", off ? "," : "",
                             i, e)
                  : snprintf(out + off, len - off, "%s%d", off ? "," : "", i);
        if (w < 0 || (size_t)w >= len - off)
            break;
        off += (size_t)w;
        i = e + 1;
    }
}

/* The union of the vCPUs' hard affinity; "" when it is every CPU. */
static void xen_pinning(struct xen_priv *x, uint32_t domid, char *out,
                        size_t len)
{
    libxl_physinfo pi;
    libxl_bitmap all;
    libxl_vcpuinfo *v;
    int nv = 0, ncpus = 0;
    bool every = true;

    out[0] = '\0';
    libxl_physinfo_init(&pi);
    libxl_bitmap_init(&all);
    v = libxl_list_vcpu(x->lctx, domid, &nv, &ncpus);
    if (!v || libxl_get_physinfo(x->lctx, &pi) ||
        libxl_cpu_bitmap_alloc(x->lctx, &all, ncpus))
        goto out;
    for (int i = 0; i < nv; i++)
        for (int c = 0; c < ncpus; c++)
            if (libxl_bitmap_test(&v[i].cpumap, c))
                libxl_bitmap_set(&all, c);
    for (uint32_t c = 0; c < pi.nr_cpus && c < (uint32_t)ncpus; c++)
        if (!libxl_bitmap_test(&all, (int)c))
            every = false;
    if (!every)
        bitmap_list(&all, out, len);
out:
    if (v)
        libxl_vcpuinfo_list_free(v, nv);
    libxl_bitmap_dispose(&all);
    libxl_physinfo_dispose(&pi);
}

int xen_needs(xlmig_ctx *ctx, struct xlmig_dom *d,
                     struct xlmig_needs *n)
{
    struct xen_priv *x = ctx->backend_priv;
    libxl_domain_config cfg;
    xc_interface *xch = NULL;
    int rc;

    libxl_domain_config_init(&cfg);
    if (libxl_retrieve_domain_configuration(x->lctx, d->info.domid, &cfg,
                                            NULL)) {
        LOG_ERR(ctx, "cannot read domain %u's configuration",
                d->info.domid);
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    xen_hv(x, n->hv, sizeof(n->hv), &n->hv_major, &n->hv_minor);
    snprintf(n->domtype, sizeof(n->domtype), "%s",
             cfg.c_info.type == LIBXL_DOMAIN_TYPE_PV ? "pv" :
             cfg.c_info.type == LIBXL_DOMAIN_TYPE_PVH ? "pvh" : "hvm");
    xch = xc_interface_open(x->logger, x->logger, 0);
    if (!xch) {
        LOG_ERR(ctx, "xc_interface_open failed");
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    rc = xlmig_xen_domain_cpu(ctx, xch, d->info.domid, n);
    if (rc)
        goto out;
    n->memory = cfg.b_info.max_memkb << 10;
    n->vcpus = (uint32_t)cfg.b_info.max_vcpus;
    if (!n->vcpus)
        n->vcpus = d->info.nr_vcpus;
    if (cfg.c_info.pool_name)
        snprintf(n->pool, sizeof(n->pool), "%s", cfg.c_info.pool_name);
    xen_pinning(x, d->info.domid, n->pin, sizeof(n->pin));
    for (int i = 0; i < cfg.num_disks && n->ndisks < XLMIG_PF_DISKS_MAX;
         i++) {
        const libxl_device_disk *dk = &cfg.disks[i];
        struct xlmig_pf_disk *pd = &n->disks[n->ndisks++];
        const char *path = dk->pdev_path ? dk->pdev_path : "";
        snprintf(pd->vdev, sizeof(pd->vdev), "%s", dk->vdev ? dk->vdev : "?");
        snprintf(pd->target, sizeof(pd->target), "%s", path);
        pd->flags = (dk->is_cdrom ? XLMIG_PF_DISK_CDROM : 0) |
                    (dk->readwrite ? 0 : XLMIG_PF_DISK_RO);
        if (!path[0])
            pd->flags |= XLMIG_PF_DISK_EMPTY;
        else if (dk->script || path[0] != '/')
            pd->flags |= XLMIG_PF_DISK_OPAQUE;
        else if (xlmig_path_size(path, &pd->size)) {
            LOG_WARN(ctx, "disk %s: cannot read the size of %s", pd->vdev,
                     path);
            pd->flags |= XLMIG_PF_DISK_UNSIZED;
        }
    }
    for (int i = 0; i < cfg.num_nics && n->nnics < XLMIG_PF_NICS_MAX; i++) {
        struct xlmig_pf_nic *ni = &n->nics[n->nnics++];
        memcpy(ni->mac, cfg.nics[i].mac, 6);
        if (cfg.nics[i].bridge)
            snprintf(ni->bridge, sizeof(ni->bridge), "%s",
                     cfg.nics[i].bridge);
        xlmig_pf_need_nic_local(ni);
    }
    for (int i = 0; i < cfg.num_pcidevs && n->npci < XLMIG_PF_PCI_MAX; i++)
        snprintf(n->pci[n->npci++], sizeof(n->pci[0]),
                 "%04x:%02x:%02x.%x", cfg.pcidevs[i].domain,
                 cfg.pcidevs[i].bus, cfg.pcidevs[i].dev,
                 cfg.pcidevs[i].func);
    n->nomigrate = !libxl_defbool_is_default(cfg.b_info.disable_migrate) &&
                   libxl_defbool_val(cfg.b_info.disable_migrate);
    rc = 0;
out:
    if (xch)
        xc_interface_close(xch);
    libxl_domain_config_dispose(&cfg);
    return rc;
}

/* Which domain here has a vif with @mac ("" none). */
static void xen_mac_user(struct xen_priv *x, const uint8_t mac[6], char *who,
                         size_t len)
{
    libxl_dominfo *doms;
    int nd = 0;

    who[0] = '\0';
    doms = libxl_list_domain(x->lctx, &nd);
    for (int i = 0; doms && i < nd && !who[0]; i++) {
        int nn = 0;
        libxl_device_nic *nics = libxl_device_nic_list(x->lctx,
                                                       doms[i].domid, &nn);
        for (int k = 0; nics && k < nn && !who[0]; k++)
            if (!memcmp(nics[k].mac, mac, 6)) {
                char *name = libxl_domid_to_name(x->lctx, doms[i].domid);
                snprintf(who, len, "domain %s", name ? name : "?");
                free(name);
            }
        if (nics)
            libxl_device_nic_list_free(nics, nn);
    }
    if (doms)
        libxl_dominfo_list_free(doms, nd);
    if (!who[0])
        xlmig_host_mac_user(mac, who, len);
}

int xen_offer(xlmig_ctx *ctx, const struct xlmig_needs *n,
                     struct xlmig_offer *o)
{
    struct xen_priv *x = ctx->backend_priv;
    const char *want = n->pool[0] ? n->pool : "Pool-0";
    libxl_physinfo pi;
    libxl_dominfo *doms = NULL;
    libxl_cpupoolinfo *pools = NULL;
    xc_interface *xch = NULL;
    int nd = 0, np = 0, rc;

    libxl_physinfo_init(&pi);
    xen_hv(x, o->hv, sizeof(o->hv), &o->hv_major, &o->hv_minor);
    xch = xc_interface_open(x->logger, x->logger, 0);
    if (!xch) {
        LOG_ERR(ctx, "xc_interface_open failed");
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    rc = xlmig_xen_host_cpu(ctx, xch, n, o);
    if (rc)
        goto out;
    if (libxl_get_physinfo(x->lctx, &pi)) {
        LOG_ERR(ctx, "libxl_get_physinfo failed");
        rc = XLMIG_ERR_BACKEND;
        goto out;
    }
    o->pcpus = pi.nr_cpus;
    doms = libxl_list_domain(x->lctx, &nd);
    for (int i = 0; doms && i < nd; i++)
        o->vcpus_used += doms[i].vcpu_online;
    snprintf(o->pool_name, sizeof(o->pool_name), "%s", want);
    pools = libxl_list_cpupool(x->lctx, &np);
    for (int i = 0; pools && i < np; i++)
        if (pools[i].pool_name && !strcmp(pools[i].pool_name, want)) {
            o->pool_found = true;
            bitmap_list(&pools[i].cpumap, o->pool_cpus,
                        sizeof(o->pool_cpus));
        }
    xlmig_pf_offer_local(n, o);
    for (unsigned i = 0; i < n->nnics; i++)
        xen_mac_user(x, n->nics[i].mac, o->nics[i].mac_user,
                     sizeof(o->nics[i].mac_user));
    rc = 0;
out:
    if (pools)
        libxl_cpupoolinfo_list_free(pools, np);
    if (doms)
        libxl_dominfo_list_free(doms, nd);
    libxl_physinfo_dispose(&pi);
    if (xch)
        xc_interface_close(xch);
    return rc;
}

