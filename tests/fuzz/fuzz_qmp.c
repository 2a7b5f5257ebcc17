/* libFuzzer target: a line from QEMU's QMP socket, as the xen backend
 * classifies it. */
#include <stdint.h>
#include <string.h>

#include "backend/xen/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256];
    int k;

    why[0] = '\0';
    k = xlmig_qmp_parse((const char *)data, size, why, sizeof(why));
    if (k != XLMIG_ERR_PEER && (k < XLMIG_QMP_GREETING ||
                                k > XLMIG_QMP_EVENT))
        __builtin_trap();
    /* A refusal always says why, and within its buffer. */
    if ((k == XLMIG_ERR_PEER || k == XLMIG_QMP_ERROR) &&
        (!why[0] || !memchr(why, '\0', sizeof(why))))
        __builtin_trap();
    return 0;
}
