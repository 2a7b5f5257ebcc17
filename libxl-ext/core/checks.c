/* Every backend's record checks (core/private.h), for the stream reader. */
#include "core/private.h"

const struct xlmig_record_checks *const xlmig_record_checks[] = {
    &xlmig_sim_record_checks,
    &xlmig_xen_record_checks,
    NULL,
};
