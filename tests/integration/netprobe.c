/*
 * netprobe: a client that probes a simulated guest's UDP echo port every
 * INTERVAL ms until SIGTERM or -t SECONDS, and prints what it heard:
 *
 *   sent=N replies=N lost=N longest_gap_ms=G gap_from_ns=A gap_to_ns=B
 *   first_ns=F last_ns=L
 *
 * The longest gap is between two replies in a row (CLOCK_MONOTONIC, the
 * clock of the domains' run log), so gap_to_ns is when the domain was
 * heard again after its longest silence.  With -o FILE, each reply is
 * a line "SENT_NS RECEIVED_NS" in FILE, for the time from a resume to
 * the first reply to a probe sent after it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    unsigned interval_ms = 10, seconds = 0;
    uint64_t next, t_end = 0, seq = 0;
    FILE *log = NULL;
    uint64_t sent = 0, replies = 0, first = 0, last = 0;
    uint64_t gap = 0, gap_from = 0, gap_to = 0;
    int c, fd;

    while ((c = getopt(argc, argv, "i:t:o:")) != -1) {
        switch (c) {
        case 'i': interval_ms = (unsigned)strtoul(optarg, NULL, 10); break;
        case 't': seconds = (unsigned)strtoul(optarg, NULL, 10); break;
        case 'o':
            log = fopen(optarg, "w");
            if (!log) {
                fprintf(stderr, "netprobe: %s: %s\n", optarg,
                        strerror(errno));
                return 1;
            }
            break;
        default: goto usage;
        }
    }
    if (optind != argc - 1 || !interval_ms)
        goto usage;
    memset(&ss, 0, sizeof(ss));
    if (inet_pton(AF_INET, argv[optind],
                  &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
        ((struct sockaddr_in *)&ss)->sin_port = htons(7);
        sl = sizeof(struct sockaddr_in);
    } else if (inet_pton(AF_INET6, argv[optind],
                         &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
        ss.ss_family = AF_INET6;
        ((struct sockaddr_in6 *)&ss)->sin6_port = htons(7);
        sl = sizeof(struct sockaddr_in6);
    } else {
        fprintf(stderr, "netprobe: %s is not an address\n", argv[optind]);
        return 2;
    }
    fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&ss, sl) < 0) {
        fprintf(stderr, "netprobe: %s: %s\n", argv[optind], strerror(errno));
        return 1;
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    next = now_ns();
    if (seconds)
        t_end = next + (uint64_t)seconds * 1000000000u;
    while (!stop && (!t_end || now_ns() < t_end)) {
        uint64_t t = now_ns(), buf[2];
        struct pollfd p = { fd, POLLIN, 0 };
        int wait_ms;

        if (t >= next) {
            buf[0] = seq++;
            buf[1] = t;
            /* Refused or unreachable while the path moves: keep going. */
            if (send(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf))
                sent++;
            next += (uint64_t)interval_ms * 1000000u;
            continue;
        }
        wait_ms = (int)((next - t) / 1000000u) + 1;
        if (poll(&p, 1, wait_ms) <= 0)
            continue;
        while (recv(fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf)) {
            uint64_t r = now_ns();
            replies++;
            if (!first)
                first = r;
            else if (r - last > gap) {
                gap = r - last;
                gap_from = last;
                gap_to = r;
            }
            last = r;
            if (log)
                fprintf(log, "%" PRIu64 " %" PRIu64 "\n", buf[1], r);
        }
    }
    printf("sent=%" PRIu64 " replies=%" PRIu64 " lost=%" PRIu64
           " longest_gap_ms=%.1f gap_from_ns=%" PRIu64 " gap_to_ns=%" PRIu64
           " first_ns=%" PRIu64 " last_ns=%" PRIu64, sent, replies,
           sent - replies, gap / 1e6, gap_from, gap_to, first, last);
    printf("\n");
    if (log)
        fclose(log);
    return 0;
usage:
    fprintf(stderr, "usage: netprobe [-i MS] [-t SECONDS] [-o FILE] ADDR\n");
    return 2;
}
