/* libFuzzer target: the sim configuration parser (DOMAIN_CONFIG bodies),
 * and on the same input the sim's other text a tool reads from a domain
 * process: a storage move's MIRROR_STATUS reply. */
#include <stdint.h>
#include <string.h>

#include "backend/sim/sim_config.h"
#include "core/private.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct sim_config c, c2;
    static char buf[2 * SIM_CONFIG_MAX];
    struct xlmig_mirror_status st;
    char why[160];
    int n;

    if (sim_mirror_status_parse((const char *)data, size, &st) == 0 &&
        (st.done > st.size || st.copied > st.size || st.target[0] != '/' ||
         !memchr(st.target, '\0', sizeof(st.target)) ||
         !memchr(st.error, '\0', sizeof(st.error))))
        __builtin_trap();
    if (sim_config_parse((const char *)data, size, &c, why, sizeof(why)))
        return 0;
    /* Whatever parses must format and parse back to the same thing. */
    n = sim_config_format(&c, buf, sizeof(buf));
    if (n < 0 ||
        sim_config_parse(buf, (size_t)n, &c2, why, sizeof(why)) ||
        memcmp(&c, &c2, sizeof(c)))
        __builtin_trap();
    return 0;
}
