/*
 * Preflight's checks (docs/preflight.md): pure functions from what a
 * domain needs and what a destination offers (proto/preflight.h) to one
 * report row per check.
 */
#ifndef XLMIG_ENGINE_PREFLIGHT_H
#define XLMIG_ENGINE_PREFLIGHT_H

#include "proto/preflight.h"

/* "cpu.features: avx2: ...; vif0.bridge: ..." of the failed rows. */
void xlmig_pf_failures(const struct xlmig_pf_report *r, char *buf,
                       size_t len);

/* The rows comparing @n with @o (hypervisor, stream, CPU, vCPUs, pool,
 * pinning, disks, media, vifs, devices). */
void xlmig_pf_eval(const struct xlmig_needs *n, const struct xlmig_offer *o,
                   struct xlmig_pf_report *r);

#endif
