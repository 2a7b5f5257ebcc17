/*
 * The xen backend's network attachments (docs/network.md): each vif as
 * the domain's configuration has it (MAC, bridge, the administrator's
 * ip= addresses; never what the guest wrote into XenStore) and dom0's
 * device for it, which libxl's vif-bridge hotplug script attached while
 * libxl made the domain; and the device model's own announce for an HVM
 * guest's emulated NICs.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend/xen/xen_private.h"

/* libxl's default when a vif names no bridge. */
#define XEN_DEFAULT_BRIDGE "xenbr0"

static void nic_addresses(const char *list, struct xlmig_vif *v)
{
    char buf[512], *tok, *save = NULL;

    if (!list || strlen(list) >= sizeof(buf))
        return;
    strcpy(buf, list);
    for (tok = strtok_r(buf, " ,", &save); tok;
         tok = strtok_r(NULL, " ,", &save)) {
        char *slash = strchr(tok, '/');         /* a prefix: the address */
        if (slash)
            *slash = '\0';
        if (v->nip4 < XLMIG_VIF_IPS &&
            inet_pton(AF_INET, tok, v->ip4[v->nip4]) == 1)
            v->nip4++;
        else if (v->nip6 < XLMIG_VIF_IPS &&
                 inet_pton(AF_INET6, tok, v->ip6[v->nip6]) == 1)
            v->nip6++;
    }
}

int xen_vifs(xlmig_ctx *ctx, struct xlmig_dom *d, struct xlmig_vif *v,
             unsigned *n, char *why, size_t whylen)
{
    struct xen_priv *x = ctx->backend_priv;
    libxl_domain_config own;
    const libxl_domain_config *cfg = &own;
    int rc = 0;

    *n = 0;
    libxl_domain_config_init(&own);
    /* A domain this job restored: the configuration libxl made it from
     * (asking libxl again would cost the downtime a round of XenStore
     * and device-model queries). */
    if (d->cfg_init)
        cfg = &d->cfg;
    else if (libxl_retrieve_domain_configuration(x->lctx, d->info.domid,
                                                 &own, NULL)) {
        snprintf(why, whylen, "cannot read domain %u's configuration",
                 d->info.domid);
        libxl_domain_config_dispose(&own);
        return XLMIG_ERR_BACKEND;
    }
    for (int i = 0; i < cfg->num_nics && *n < XLMIG_VIFS_MAX; i++) {
        const libxl_device_nic *nic = &cfg->nics[i];
        struct xlmig_vif *o = &v[(*n)++];

        memset(o, 0, sizeof(*o));
        if (nic->ifname && strlen(nic->ifname) < sizeof(o->dev))
            strcpy(o->dev, nic->ifname);
        else
            snprintf(o->dev, sizeof(o->dev), "vif%u.%d", d->info.domid,
                     nic->devid);
        snprintf(o->bridge, sizeof(o->bridge), "%s",
                 nic->bridge ? nic->bridge : XEN_DEFAULT_BRIDGE);
        memcpy(o->mac, nic->mac, 6);
        /* An emulated NIC still plugged: its tap, vifD.N-emu, is there
         * (a guest with PV drivers unplugs it as it boots). */
        if (cfg->c_info.type == LIBXL_DOMAIN_TYPE_HVM &&
            nic->nictype == LIBXL_NIC_TYPE_VIF_IOEMU) {
            struct xlmig_netdev nd;
            char emu[32];
            snprintf(emu, sizeof(emu), "%s-emu", o->dev);
            o->emulated = xlmig_host_netdev(emu, &nd);
        }
        nic_addresses(nic->ip, o);
        /* A route- or NAT-scripted vif is on no bridge to check. */
        if (nic->script && !strstr(nic->script, "bridge"))
            o->bridge[0] = '\0';
        if ((rc = xlmig_host_vif_check(o, why, whylen)))
            break;
    }
    libxl_domain_config_dispose(&own);
    return rc;
}

int xen_dm_announce(xlmig_ctx *ctx, struct xlmig_dom *d,
                    const struct xlmig_announce_conf *a, unsigned *nics)
{
    struct xlmig_vif v[XLMIG_VIFS_MAX];
    char why[200], cmd[256], sock[108];
    unsigned n, emu = 0;

    *nics = 0;
    if (xen_vifs(ctx, d, v, &n, why, sizeof(why)))
        return 0;               /* nothing more to say than the check did */
    for (unsigned i = 0; i < n; i++)
        emu += v[i].emulated;
    if (!emu)
        return 0;
    /* QEMU sends its own RARP from each emulated NIC, on the schedule. */
    snprintf(cmd, sizeof(cmd), "{\"execute\":\"announce-self\","
             "\"arguments\":{\"initial\":%u,\"max\":%u,\"rounds\":%u,"
             "\"step\":%u}}", a->initial_ms, a->max_ms, a->rounds,
             a->step_ms);
    xen_compat_qmp_socket(sock, sizeof(sock), d->info.domid);
    if (xlmig_qmp_run(ctx, d->info.domid, sock, cmd, QMP_TIMEOUT_MS))
        return XLMIG_ERR_BACKEND;
    LOG_INFO(ctx, "domain %u: the device model announces its %u emulated "
             "NIC%s", d->info.domid, emu, emu == 1 ? "" : "s");
    *nics = emu;
    return 0;
}
