/*
 * The sim backend's record checks (core/private.h): the configuration is
 * the sim's and agrees with DOMAIN_INFO, vCPU state is the simulated
 * vCPU's, the one device is the guest clock.  Pure: the reader applies
 * them to every sim stream, restored or only dumped.
 */
#include <stdio.h>
#include <string.h>

#include "backend/sim/sim_config.h"
#include "backend/sim/sim_ipc.h"
#include "core/cursor.h"
#include "proto/stream.h"

static int sim_check(const struct xlmig_domain_desc *desc,
                     const struct xlmig_record *rec, char *why, size_t len)
{
    switch (rec->type) {
    case XLMIG_REC_DOMAIN_CONFIG: {
        struct sim_config cfg;
        char e[160];
        uint32_t fmt = xlmig_get_u32(rec->body);

        if (fmt != XLMIG_CONFIG_SIM_KV)
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "configuration "
                             "format %u is not the sim backend's (%u)", fmt,
                             XLMIG_CONFIG_SIM_KV);
        if (sim_config_parse((const char *)rec->body + 8, rec->length - 8,
                             &cfg, e, sizeof(e)))
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "the domain's "
                             "configuration: %s", e);
        if (cfg.nr_pages != desc->nr_pages)
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "the configuration "
                             "says %llu pages, DOMAIN_INFO %llu",
                             (unsigned long long)cfg.nr_pages,
                             (unsigned long long)desc->nr_pages);
        if (cfg.nr_vcpus != desc->nr_vcpus)
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "the configuration "
                             "says %u vCPUs, DOMAIN_INFO %u", cfg.nr_vcpus,
                             desc->nr_vcpus);
        if (memcmp(cfg.uuid, desc->uuid, 16))
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "the "
                             "configuration's UUID is not DOMAIN_INFO's");
        return 0;
    }
    case XLMIG_REC_VCPU_STATE: {
        struct xlmig_rec_blob b;

        xlmig_rec_get_blob(rec, &b);
        if (b.len != SIM_VCPU_STATE_SIZE)
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "vCPU %u state is "
                             "%u bytes, a simulated vCPU's is %u", b.id,
                             b.len, SIM_VCPU_STATE_SIZE);
        return 0;
    }
    case XLMIG_REC_DEVICE_STATE: {
        struct xlmig_rec_blob b;

        xlmig_rec_get_blob(rec, &b);
        if (b.id != SIM_DEVICE_CLOCK || b.instance != 0 || b.len != 8)
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "device %u.%u (%u "
                             "bytes) is not a simulated domain's: its one "
                             "device is the clock, %u.0, 8 bytes", b.id,
                             b.instance, b.len, SIM_DEVICE_CLOCK);
        return 0;
    }
    default:
        return 0;
    }
}

const struct xlmig_record_checks xlmig_sim_record_checks = {
    XLMIG_STREAM_BACKEND_SIM, sim_check,
};
