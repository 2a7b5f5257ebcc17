/* The backends a context can choose from (core/private.h). */
#include "core/private.h"

const struct xlmig_backend_ops *const xlmig_backends[] = {
    &xlmig_backend_sim,
    &xlmig_backend_xen,
    NULL,
};
