/* libFuzzer target: the xlmigd.conf parser. */
#include <stdint.h>
#include <string.h>

#include "xlmigd/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct xlmigd_config c;
    char why[256];

    xlmigd_config_default(&c);
    if (xlmigd_config_parse((const char *)data, size, &c, why, sizeof(why))) {
        /* A refusal must say something, NUL-terminated. */
        if (!memchr(why, '\0', sizeof(why)) || !why[0])
            __builtin_trap();
        return 0;
    }
    /* What parsed obeys the limits the daemon relies on. */
    if (c.npeers > XLMIGD_PEERS_MAX || c.port == 0 || c.channels == 0 ||
        c.io_timeout_s == 0 || !memchr(c.cert, '\0', sizeof(c.cert)) ||
        !memchr(c.socket_path, '\0', sizeof(c.socket_path)))
        __builtin_trap();
    for (unsigned i = 0; i < c.npeers; i++)
        if (!c.peers[i].name[0] || c.peers[i].port == 0)
            __builtin_trap();
    return 0;
}
