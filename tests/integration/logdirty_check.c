/*
 * Checks a simulated domain's dirty tracking against the guest's own
 * record of what it wrote.  For several rounds: pause, snapshot the ledger,
 * let the workload run, pause, collect the dirty bitmap, snapshot again.
 * Every data page whose generation changed, and the ledger page holding
 * its entry, must be in the bitmap (a miss would lose data in a live
 * migration); pages reported dirty that were not written are counted too
 * (they only cost bandwidth, but tracking should be precise).
 *
 * usage: logdirty_check NAME [ROUNDS] [MS]   (exit 0 = no page missed)
 */
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "backend/sim/sim_host.h"
#include "backend/sim/sim_ipc.h"
#include "backend/sim/sim_layout.h"
#include "proto/stream.h"

static xlmig_ctx *ctx;
static const char *name;

static int call(uint32_t type, void **reply, size_t *len)
{
    int rc = sim_dom_call(ctx, name, type, NULL, 0, reply, len);

    if (rc)
        fprintf(stderr, "logdirty_check: request %u: %s\n", type,
                xlmig_strerror(rc));
    return rc;
}

#define BIT(bm, p) (((bm)[(p) >> 3] >> ((p) & 7)) & 1)

int main(int argc, char **argv)
{
    struct xlmig_dominfo info;
    uint64_t lp, ds, nd, *l0, *l1, total_missed = 0, total_extra = 0;
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    int ms = argc > 3 ? atoi(argv[3]) : 300;
    char path[PATH_MAX];
    const uint8_t *ram;
    void *r = NULL;
    size_t rl = 0;
    int fd;

    if (argc < 2) {
        fprintf(stderr, "usage: logdirty_check NAME [ROUNDS] [MS]\n");
        return 2;
    }
    name = argv[1];
    if (xlmig_ctx_alloc(&ctx, "sim", XLMIG_LOG_WARN, stderr) ||
        sim_dom_find(ctx, name, &info))
        return 1;
    sim_geometry(info.nr_pages, &lp, &ds);
    nd = info.nr_pages - ds;
    sim_path(path, sizeof(path), name, "ram");
    fd = open(path, O_RDONLY);
    ram = fd < 0 ? MAP_FAILED :
          mmap(NULL, info.nr_pages * XLMIG_PAGE_SIZE, PROT_READ, MAP_SHARED,
               fd, 0);
    if (ram == MAP_FAILED) {
        perror(path);
        return 1;
    }
    l0 = malloc(nd * 8);
    l1 = malloc(nd * 8);
    if (!l0 || !l1)
        return 1;

    if (call(SIM_MSG_LOGDIRTY_START, &r, &rl))
        return 1;
    printf("log-dirty mode: %.*s\n", (int)rl, (char *)r);
    free(r);

    for (int round = 1; round <= rounds; round++) {
        uint64_t changed = 0, missed = 0, expected = 0, reported = 0;
        uint8_t *want;

        if (call(SIM_MSG_PAUSE, NULL, NULL))
            return 1;
        memcpy(l0, ram + XLMIG_PAGE_SIZE, nd * 8);
        if (call(SIM_MSG_LOGDIRTY_PEEK_CLEAR, &r, &rl))  /* baseline */
            return 1;
        free(r);
        if (call(SIM_MSG_UNPAUSE, NULL, NULL))
            return 1;
        usleep((useconds_t)ms * 1000);
        if (call(SIM_MSG_PAUSE, NULL, NULL) ||
            call(SIM_MSG_LOGDIRTY_PEEK_CLEAR, &r, &rl))
            return 1;
        if (rl != (info.nr_pages + 7) / 8) {
            fprintf(stderr, "bitmap is %zu bytes, expected %" PRIu64 "\n",
                    rl, (info.nr_pages + 7) / 8);
            return 1;
        }
        memcpy(l1, ram + XLMIG_PAGE_SIZE, nd * 8);
        want = calloc((info.nr_pages + 7) / 8, 1);
        if (!want)
            return 1;
        for (uint64_t i = 0; i < nd; i++) {
            uint64_t pfn = ds + i, lpfn = 1 + i * 8 / XLMIG_PAGE_SIZE;
            if (l0[i] == l1[i])
                continue;
            changed++;
            want[pfn >> 3] |= (uint8_t)(1u << (pfn & 7));
            want[lpfn >> 3] |= (uint8_t)(1u << (lpfn & 7));
            want[0] |= 1;       /* heartbeat counters */
            if (!BIT((uint8_t *)r, pfn) || !BIT((uint8_t *)r, lpfn)) {
                if (missed++ < 5)
                    fprintf(stderr, "round %d: pfn 0x%" PRIx64 " written "
                            "(generation %" PRIu64 " -> %" PRIu64 ") but "
                            "not reported dirty\n", round, pfn, l0[i],
                            l1[i]);
            }
        }
        for (uint64_t p = 0; p < info.nr_pages; p++) {
            expected += BIT(want, p);
            reported += BIT((uint8_t *)r, p);
            if (BIT((uint8_t *)r, p) && !BIT(want, p))
                total_extra++;
        }
        printf("round %d: %" PRIu64 " pages written, %" PRIu64
               " dirty expected, %" PRIu64 " reported, %" PRIu64
               " missed\n", round, changed, expected, reported, missed);
        if (changed == 0) {
            fprintf(stderr, "round %d: the workload wrote nothing; the "
                    "check proves nothing\n", round);
            missed++;
        }
        total_missed += missed;
        free(want);
        free(r);
        if (call(SIM_MSG_UNPAUSE, NULL, NULL))
            return 1;
    }
    if (call(SIM_MSG_LOGDIRTY_STOP, NULL, NULL))
        return 1;
    printf("%s: %" PRIu64 " missed, %" PRIu64 " reported but not written\n",
           total_missed ? "FAIL" : "ok", total_missed, total_extra);
    free(l0);
    free(l1);
    munmap((void *)ram, info.nr_pages * XLMIG_PAGE_SIZE);
    close(fd);
    xlmig_ctx_free(ctx);
    return total_missed ? 1 : 0;
}
