/* libFuzzer target: control-socket requests as xlmigd reads them. */
#include <stdint.h>
#include <string.h>

#include "xlmigd/ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xlmig_ctl_req r, r2;
    char why[256], line[XLMIG_CTL_LINE_MAX + 2];
    int n;

    if (xlmig_ctl_parse((const char *)data, size, &r, why, sizeof(why)))
        return 0;
    /* Whatever is accepted formats and parses back to the same request. */
    n = xlmig_ctl_format(&r, line, sizeof(line));
    if (n < 0 || xlmig_ctl_parse(line, (size_t)n, &r2, why, sizeof(why)) ||
        memcmp(&r, &r2, sizeof(r)))
        __builtin_trap();
    return 0;
}
