/*
 * libFuzzer target: what a peer sends for preflight.  The first octet
 * picks the parser: 0 a PREFLIGHT's needs (the destination decodes
 * them), 1 a PREFLIGHT_REPORT (the source decodes it), 2 a sim host's
 * host.conf.  Whatever decodes must encode and decode back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/preflight.h"
#include "backend/sim/sim_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct xlmig_needs n, n2;
    static struct xlmig_pf_report r, r2;
    static struct sim_hostconf h;
    static uint8_t buf[XLMIG_PF_NEEDS_MAX + (256u << 10)];
    char why[160];
    long len;

    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        if (xlmig_needs_decode(data + 1, size - 1, &n, why, sizeof(why)))
            return 0;
        len = xlmig_needs_encode(&n, buf, XLMIG_PF_NEEDS_MAX);
        if (len < 0 ||
            xlmig_needs_decode(buf, (size_t)len, &n2, why, sizeof(why)) ||
            memcmp(&n, &n2, sizeof(n)))
            __builtin_trap();
        break;
    case 1:
        if (xlmig_pf_report_decode(data + 1, size - 1, &r, why, sizeof(why)))
            return 0;
        len = xlmig_pf_report_encode(&r, buf, sizeof(buf));
        if (len < 0 ||
            xlmig_pf_report_decode(buf, (size_t)len, &r2, why, sizeof(why)) ||
            r.n != r2.n || r.failed != r2.failed ||
            memcmp(r.rows, r2.rows, r.n * sizeof(r.rows[0])))
            __builtin_trap();
        break;
    default:
        (void)sim_hostconf_parse((const char *)data + 1, size - 1, &h, why,
                                 sizeof(why));
        break;
    }
    return 0;
}
