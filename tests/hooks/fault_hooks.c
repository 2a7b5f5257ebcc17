/*
 * Fault injection for the integration tests, linked only into the test
 * build of xlmigd (build/tests/xlmigd), never into the shipped daemon or
 * library.  Each hook reads its environment variable when it is reached:
 *
 *   XLMIG_TEST_COMMIT_GATE=PATH   the source creates PATH.ready and waits
 *                                 (up to a minute) for PATH before COMMIT,
 *                                 so both copies of a domain can be hashed
 *   XLMIG_TEST_DIE_AFTER_COMMIT=1 the destination exits (status 99) right
 *                                 after it recorded COMMIT, before the
 *                                 domain runs or COMMITTED goes: a job in
 *                                 doubt that ran on the destination
 *   XLMIG_TEST_DIE_AT_COMMIT=1    the destination exits (status 98) on
 *                                 COMMIT, before it recorded it: a job in
 *                                 doubt that never ran there
 *   XLMIG_TEST_NO_DONE=1          the source sends no DONE after
 *                                 COMMITTED, as an older one: the
 *                                 destination keeps its record
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/fault.h"

static void commit_gate(xlmig_ctx *ctx)
{
    const char *gate = getenv("XLMIG_TEST_COMMIT_GATE");
    char ready[4096];
    int fd;

    if (!gate || !*gate)
        return;
    snprintf(ready, sizeof(ready), "%s.ready", gate);
    fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    LOG_INFO(ctx, "XLMIG_TEST_COMMIT_GATE: waiting for %s", gate);
    for (int i = 0; i < 6000 && access(gate, F_OK); i++)
        usleep(10000);
}

static void die_after_commit(xlmig_ctx *ctx)
{
    if (!getenv("XLMIG_TEST_DIE_AFTER_COMMIT"))
        return;
    LOG_ERR(ctx, "XLMIG_TEST_DIE_AFTER_COMMIT: exiting now");
    _exit(99);
}

static void die_at_commit(xlmig_ctx *ctx)
{
    if (!getenv("XLMIG_TEST_DIE_AT_COMMIT"))
        return;
    LOG_ERR(ctx, "XLMIG_TEST_DIE_AT_COMMIT: exiting now");
    _exit(98);
}

static bool no_done(xlmig_ctx *ctx)
{
    (void)ctx;
    return getenv("XLMIG_TEST_NO_DONE") != NULL;
}

static const struct xlmig_fault_hooks hooks = {
    .before_commit = commit_gate,
    .commit_received = die_at_commit,
    .commit_recorded = die_after_commit,
    .drop_done = no_done,
};

__attribute__((constructor)) static void install(void)
{
    xlmig_fault_hooks = &hooks;
}
