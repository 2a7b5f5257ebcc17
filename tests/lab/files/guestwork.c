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
 * On PORT+1 it answers at once, without checking, with
 *
 *   pong counter=N
 *
 * which is what the probe polls.  A PV or PVH guest's clock does not
 * count the time it spent suspended, so maxgap_ms misses most of a
 * migration's downtime; the probe, running outside the guest (in a
 * dom0), sees it:
 *
 *   guestwork -P IP[:PORT] [-i INTERVAL_MS] [-d SECONDS]
 *
 * polls the pong port every INTERVAL_MS (default 20) for SECONDS
 * (default 60, or until SIGTERM) and prints
 *
 *   probe answers=A misses=M maxgap_ms=G counter=C backwards=B
 *
 * G: the longest time between two answers; backwards: answers whose
 * counter was lower than the one before (the guest restarted).
 *
 * guestwork [-m MIB] [-r PAGES_PER_SEC] [-p PORT]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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

static int listen_on(unsigned long port)
{
    struct sockaddr_in sa;
    int ls, one = 1;

    ls = socket(AF_INET, SOCK_STREAM, 0);
    if (ls < 0)
        return -1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 16)) {
        close(ls);
        return -1;
    }
    return ls;
}

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

/* One poll: connect, read "pong counter=N", within timeout_ms.  Returns
 * 0 and the counter, or -1. */
static int ping(const struct sockaddr_in *sa, unsigned timeout_ms,
                uint64_t *counter)
{
    char buf[64];
    size_t got = 0;
    uint64_t deadline = now_ms() + timeout_ms;
    int s, rc = -1;
    unsigned long long c;

    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s < 0)
        return -1;
    if (connect(s, (const struct sockaddr *)sa, sizeof(*sa)) &&
        errno != EINPROGRESS)
        goto out;
    while (got < sizeof(buf) - 1) {
        struct pollfd pfd = { s, POLLIN, 0 };
        uint64_t t = now_ms();
        ssize_t n;

        if (t >= deadline || poll(&pfd, 1, (int)(deadline - t)) <= 0)
            goto out;
        n = read(s, buf + got, sizeof(buf) - 1 - got);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(buf, '\n', got))
            break;
    }
    buf[got] = 0;
    if (sscanf(buf, "pong counter=%llu", &c) == 1) {
        *counter = c;
        rc = 0;
    }
out:
    close(s);
    return rc;
}

static int probe(const char *target, unsigned interval_ms, unsigned secs)
{
    struct sockaddr_in sa;
    char host[64];
    const char *colon = strchr(target, ':');
    unsigned long port = colon ? strtoul(colon + 1, NULL, 10) : 7778;
    uint64_t answers = 0, misses = 0, backwards = 0, counter = 0;
    uint64_t maxgap = 0, last = 0, end;
    size_t hl = colon ? (size_t)(colon - target) : strlen(target);

    if (hl >= sizeof(host) || !port || port > 65535) {
        fprintf(stderr, "guestwork: bad probe target %s\n", target);
        return 2;
    }
    memcpy(host, target, hl);
    host[hl] = 0;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "guestwork: bad probe address %s\n", host);
        return 2;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    end = now_ms() + (uint64_t)secs * 1000;
    while (!stop && now_ms() < end) {
        uint64_t t = now_ms(), c;

        if (ping(&sa, 1000, &c) == 0) {
            uint64_t at = now_ms();
            if (answers && c < counter)
                backwards++;
            if (answers && at - last > maxgap)
                maxgap = at - last;
            last = at;
            counter = c;
            answers++;
        } else {
            misses++;
        }
        t = now_ms() - t;
        if (t < interval_ms)
            usleep((useconds_t)(interval_ms - t) * 1000);
    }
    printf("probe answers=%llu misses=%llu maxgap_ms=%llu counter=%llu "
           "backwards=%llu\n", (unsigned long long)answers,
           (unsigned long long)misses, (unsigned long long)maxgap,
           (unsigned long long)counter, (unsigned long long)backwards);
    return answers ? 0 : 1;
}

int main(int argc, char **argv)
{
    unsigned long mib = 32, rate = 2000, port = 7777;
    unsigned long interval = 20, secs = 60;
    const char *target = NULL;
    uint64_t *mem, *gen, npages, next = 0, writes = 0, counter = 0;
    uint64_t last, maxgap = 0, t0, done_at;
    int opt, ls, ps;

    while ((opt = getopt(argc, argv, "m:r:p:P:i:d:")) != -1) {
        switch (opt) {
        case 'm': mib = strtoul(optarg, NULL, 0); break;
        case 'r': rate = strtoul(optarg, NULL, 0); break;
        case 'p': port = strtoul(optarg, NULL, 0); break;
        case 'P': target = optarg; break;
        case 'i': interval = strtoul(optarg, NULL, 0); break;
        case 'd': secs = strtoul(optarg, NULL, 0); break;
        default:
            fprintf(stderr, "usage: guestwork [-m MIB] [-r PAGES/S] "
                    "[-p PORT]\n"
                    "       guestwork -P IP[:PORT] [-i MS] [-d SECONDS]\n");
            return 2;
        }
    }
    if (target)
        return probe(target, (unsigned)interval, (unsigned)secs);
    npages = (uint64_t)mib * 256;
    mem = aligned_alloc(PAGE, npages * PAGE);
    gen = calloc(npages, sizeof(*gen));
    if (!mem || !gen) {
        fprintf(stderr, "guestwork: cannot allocate %lu MiB\n", mib);
        return 1;
    }
    for (uint64_t i = 0; i < npages; i++)
        fill(mem + i * WORDS, i, 0);

    ls = listen_on(port);
    ps = listen_on(port + 1);
    if (ls < 0 || ps < 0) {
        perror("guestwork: port");
        return 1;
    }
    printf("guestwork: %lu MiB, %lu pages/s, port %lu\n", mib, rate, port);
    fflush(stdout);

    t0 = last = now_ms();
    done_at = 0;
    for (;;) {
        struct pollfd pfd[2] = { { ls, POLLIN, 0 }, { ps, POLLIN, 0 } };
        uint64_t t, due;

        if (poll(pfd, 2, 10) > 0 && (pfd[1].revents & POLLIN)) {
            int c = accept(ps, NULL, NULL);
            if (c >= 0) {
                char line[64];
                int n = snprintf(line, sizeof(line), "pong counter=%llu\n",
                                 (unsigned long long)counter);
                if (write(c, line, (size_t)n) < 0)
                    perror("guestwork: pong");
                close(c);
            }
        }
        if (pfd[0].revents & POLLIN) {
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
