/*
 * guestwork: the lab guests' workload and witness.  Runs inside a domU
 * (static, started by the guest's init) and keeps:
 *
 *   - a region of checksummed pages it rewrites at a chosen rate: each
 *     page holds its index, a generation number and a pattern derived
 *     from both, sealed by a checksum; a separate table holds the
 *     generation each page must have;
 *   - a heartbeat counter, bumped every 10 ms, and the longest time the
 *     guest saw pass between two ticks (what a migration's downtime
 *     looks like from inside);
 *
 * and answers on TCP port 7777 with one line, after checking every page:
 *
 *   guestwork counter=N writes=W pages=P bad=B stale=S maxgap_ms=G
 *
 * bad: pages whose contents do not match their own checksum (torn or
 * corrupt memory); stale: pages that are intact but older than the
 * table says (a write that the migration lost).  "bad=0 stale=0" is the
 * guest's verdict that its memory survived.
 *
 * guestwork [-m MIB] [-r PAGES_PER_SEC] [-p PORT]
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define WORDS (PAGE / 8)

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Page layout: word 0 index, word 1 generation, word 2 checksum,
 * words 3.. pattern(index, generation). */
static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
}

static uint64_t sum(const uint64_t *p)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;

    for (unsigned i = 0; i < WORDS; i++)
        if (i != 2)
            s = mix(s ^ p[i]);
    return s;
}

static void fill(uint64_t *p, uint64_t idx, uint64_t gen)
{
    uint64_t seed = mix(idx * 0x100000001b3ull ^ gen);

    p[0] = idx;
    p[1] = gen;
    for (unsigned i = 3; i < WORDS; i++)
        p[i] = seed + i;
    p[2] = sum(p);
}

int main(int argc, char **argv)
{
    unsigned long mib = 32, rate = 2000, port = 7777;
    uint64_t *mem, *gen, npages, next = 0, writes = 0, counter = 0;
    uint64_t last, maxgap = 0, t0, done_at;
    struct sockaddr_in sa;
    int opt, ls, one = 1;

    while ((opt = getopt(argc, argv, "m:r:p:")) != -1) {
        switch (opt) {
        case 'm': mib = strtoul(optarg, NULL, 0); break;
        case 'r': rate = strtoul(optarg, NULL, 0); break;
        case 'p': port = strtoul(optarg, NULL, 0); break;
        default:
            fprintf(stderr, "usage: guestwork [-m MIB] [-r PAGES/S] "
                    "[-p PORT]\n");
            return 2;
        }
    }
    npages = (uint64_t)mib * 256;
    mem = aligned_alloc(PAGE, npages * PAGE);
    gen = calloc(npages, sizeof(*gen));
    if (!mem || !gen) {
        fprintf(stderr, "guestwork: cannot allocate %lu MiB\n", mib);
        return 1;
    }
    for (uint64_t i = 0; i < npages; i++)
        fill(mem + i * WORDS, i, 0);

    ls = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) ||
        listen(ls, 4)) {
        perror("guestwork: port");
        return 1;
    }
    printf("guestwork: %lu MiB, %lu pages/s, port %lu\n", mib, rate, port);
    fflush(stdout);

    t0 = last = now_ms();
    done_at = 0;
    for (;;) {
        struct pollfd pfd = { ls, POLLIN, 0 };
        uint64_t t, due;

        if (poll(&pfd, 1, 10) > 0) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0) {
                uint64_t bad = 0, stale = 0;
                char line[256];
                int n;
                for (uint64_t i = 0; i < npages; i++) {
                    const uint64_t *p = mem + i * WORDS;
                    if (p[0] != i || p[2] != sum(p))
                        bad++;
                    else if (p[1] != gen[i])
                        stale++;
                }
                n = snprintf(line, sizeof(line), "guestwork counter=%llu "
                             "writes=%llu pages=%llu bad=%llu stale=%llu "
                             "maxgap_ms=%llu\n",
                             (unsigned long long)counter,
                             (unsigned long long)writes,
                             (unsigned long long)npages,
                             (unsigned long long)bad,
                             (unsigned long long)stale,
                             (unsigned long long)maxgap);
                if (write(c, line, (size_t)n) < 0)
                    perror("guestwork: reply");
                close(c);
                last = now_ms();        /* checking is not a stall */
            }
        }
        t = now_ms();
        if (t - last > maxgap)
            maxgap = t - last;
        last = t;
        counter++;
        /* Writes due by now at the chosen rate. */
        due = (t - t0) * rate / 1000;
        for (; done_at < due; done_at++) {
            next = mix(next + done_at) % npages;
            gen[next]++;
            fill(mem + next * WORDS, next, gen[next]);
            writes++;
        }
    }
}
