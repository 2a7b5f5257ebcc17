/*
 * libFuzzer target: a XenStore request as xlmigd's watcher reads it
 * (xenstore/request.h).  The input is the request's keys, one per line,
 * "KEY<TAB>VALUE", the value any bytes but a newline (XenStore values
 * may hold NULs and control bytes; the parser must refuse them).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xenstore/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xlmig_xs_kv kv[XLMIG_XS_KEYS_MAX + 2];
    char keys[XLMIG_XS_KEYS_MAX + 2][XLMIG_XS_KEY_MAX + 8];
    struct xlmig_ctl_req r, r2;
    char why[512], line[XLMIG_CTL_LINE_MAX + 2];
    const uint8_t *p = data, *end = data + size;
    size_t n = 0;
    int len;

    while (p < end && n < XLMIG_XS_KEYS_MAX + 2) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *stop = nl ? nl : end;
        const uint8_t *tab = memchr(p, '\t', (size_t)(stop - p));
        size_t klen;
        if (!tab)
            break;
        klen = (size_t)(tab - p);
        if (klen >= sizeof(keys[0]))
            klen = sizeof(keys[0]) - 1;
        memcpy(keys[n], p, klen);
        keys[n][klen] = '\0';
        kv[n].key = keys[n];
        kv[n].val = (const char *)tab + 1;
        kv[n].len = (size_t)(stop - tab - 1);
        n++;
        p = nl ? nl + 1 : end;
    }
    if (xlmig_xs_req_parse(kv, n, &r, why, sizeof(why)))
        return 0;
    /* What is accepted is a control request that formats and parses
     * back to itself, and never one XenStore may not ask. */
    if (r.cmd == XLMIG_CTL_STATUS || r.cmd == XLMIG_CTL_RECOVER)
        __builtin_trap();
    len = xlmig_ctl_format(&r, line, sizeof(line));
    if (len < 0 || xlmig_ctl_parse(line, (size_t)len, &r2, why, sizeof(why)) ||
        memcmp(&r, &r2, sizeof(r)))
        __builtin_trap();
    return 0;
}
