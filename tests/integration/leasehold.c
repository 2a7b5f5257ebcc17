/*
 * leasehold FILE MS: take the lease a simulated domain takes on a disk
 * (an exclusive OFD lock on the whole image, docs/storage.md), say
 * "held" on stdout, hold it for MS milliseconds, then let it go.  Exit 1
 * when the lease is held by someone else (it says who cannot be known:
 * OFD locks have no owner pid), 2 on other errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    struct timespec ts;
    long ms;
    int fd;

    if (argc != 3 || (ms = atol(argv[2])) < 0) {
        fprintf(stderr, "usage: leasehold FILE MS\n");
        return 2;
    }
    fd = open(argv[1], O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "leasehold: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    if (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
        if (errno == EAGAIN || errno == EACCES) {
            printf("busy\n");
            return 1;
        }
        fprintf(stderr, "leasehold: lock %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    printf("held\n");
    fflush(stdout);
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return 0;
}
