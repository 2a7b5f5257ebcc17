/*
 * Facts about this host that both backends' offers report.
 */
#ifndef XLMIG_BACKEND_HOST_PROBE_H
#define XLMIG_BACKEND_HOST_PROBE_H

#include "proto/preflight.h"

/* Local facts any backend can use: is @br a bridge here; which network
 * interface here has @mac ("" none); the target's size; the free space
 * where a copy of @path would be written. */
bool xlmig_host_bridge(const char *br);
void xlmig_host_mac_user(const uint8_t mac[6], char *who, size_t len);
int xlmig_path_size(const char *path, uint64_t *size);
int xlmig_path_space(const char *path, uint64_t *space);
/* The offer's disks (size here, or room for a copy) and bridges, from
 * this host's files and network interfaces; MACs are the backend's. */
void xlmig_pf_offer_local(const struct xlmig_needs *n,
                          struct xlmig_offer *o);

#endif
