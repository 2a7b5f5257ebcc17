/*
 * xlmig-simdom runs simulated domains only: linked before libxlmig.a,
 * this table keeps the xen backend, and with it the Xen libraries, out
 * of the program.
 */
#include "core/private.h"

const struct xlmig_backend_ops *const xlmig_backends[] = {
    &xlmig_backend_sim,
    NULL,
};
