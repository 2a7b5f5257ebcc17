/*
 * Xen CPU policies for preflight: a domain's policy (libxenguest's
 * xc_cpu_policy_get_domain) turned into the vendor and named features it
 * was started with, serialised for the wire; and on the destination, the
 * max policy a domain of that type could have there, with Xen's own
 * verdict (xc_cpu_policy_is_compatible) on the domain's policy.
 *
 * Feature words and names are Xen's public cpufeatureset.h: word k of a
 * featureset is one register of one CPUID leaf (or MSR_ARCH_CAPS), and a
 * feature's name is its XEN_CPUFEATURE name in lower case.
 */
#ifndef XLMIG_XEN_CPU_H
#define XLMIG_XEN_CPU_H

#include <stddef.h>
#include <stdint.h>

#include "proto/preflight.h"
#include "core/private.h"

/*
 * The features present in a policy given as its serialised leaves and
 * MSRs (@pol: u32 leaves, u32 msrs, leaves of 24 octets, MSRs of 16, as
 * in struct xlmig_needs), less those set in @skip (a featureset, may be
 * NULL: Xen's "special" bits, which follow the guest's own state), as
 * names one space apart; and the vendor string of leaf 0.
 */
void xlmig_xen_features(const uint8_t *pol, size_t len,
                        const uint32_t *skip, unsigned nskip, char *out,
                        size_t outlen, char vendor[16]);

/* Source: fill n->cpu_vendor, cpu_features and policy for @domid. */
int xlmig_xen_domain_cpu(xlmig_ctx *ctx, void *xch, uint32_t domid,
                         struct xlmig_needs *n) XLMIG_MUST_CHECK;
/* Destination: what a domain of n->domtype may have here, and Xen's own
 * compatibility check of n->policy against it. */
int xlmig_xen_host_cpu(xlmig_ctx *ctx, void *xch,
                       const struct xlmig_needs *n, struct xlmig_offer *o)
    XLMIG_MUST_CHECK;

#endif
