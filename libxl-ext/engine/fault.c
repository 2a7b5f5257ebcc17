/* The fault points' table: empty unless a test build fills it. */
#include "engine/fault.h"

const struct xlmig_fault_hooks *xlmig_fault_hooks;
