/*
 * Facts about this host that both backends' offers report.
 */
#ifndef XLMIG_BACKEND_HOST_PROBE_H
#define XLMIG_BACKEND_HOST_PROBE_H

#include "core/private.h"
#include "proto/preflight.h"

/* Local facts any backend can use: is @br a bridge here; which network
 * interface here has @mac ("" none); the target's size; the free space
 * where a copy of @path would be written. */
bool xlmig_host_bridge(const char *br);
void xlmig_host_mac_user(const uint8_t mac[6], char *who, size_t len);
int xlmig_path_size(const char *path, uint64_t *size);
int xlmig_path_space(const char *path, uint64_t *space);
/* A network device's facts from sysfs: false if there is no @dev. */
struct xlmig_netdev {
    bool up;                    /* IFF_UP */
    bool bridge;                /* a bridge */
    unsigned mtu;
    char master[16];            /* the bridge it is a port of; "" none */
    unsigned stp;               /* bridge: STP on (stp_state != 0) */
    unsigned forward_delay_cs;  /* bridge: forward delay, centiseconds */
};
bool xlmig_host_netdev(const char *dev, struct xlmig_netdev *nd);
/* @v's device exists here, is up and is a port of its bridge; or why not. */
int xlmig_host_vif_check(const struct xlmig_vif *v, char *why, size_t len);

/* The offer's disks (size here, or room for a copy) and bridges, from
 * this host's files and network interfaces; MACs are the backend's. */
void xlmig_pf_offer_local(const struct xlmig_needs *n,
                          struct xlmig_offer *o);
/* A need's local facts: the MTU of the bridge the vif is on here. */
void xlmig_pf_need_nic_local(struct xlmig_pf_nic *ni);

#endif
