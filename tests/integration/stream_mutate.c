/*
 * stream_mutate IN OUT SEED: copy the xlmig stream IN to OUT with one to
 * three octets of one record's body changed and that record's checksum
 * made right again, so the change reaches the checks behind the CRC.
 * Only records up to 64 KiB (configuration, vCPU and device state, info)
 * are changed.  Prints the changed record's type.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/cursor.h"
#include "proto/stream.h"

int main(int argc, char **argv)
{
    struct { size_t off; uint32_t len; uint32_t type; } recs[4096];
    unsigned n = 0, seed;
    uint8_t *d;
    size_t size, off = XLMIG_STREAM_HDR_SIZE;
    struct stat st;
    FILE *f;
    int fd;

    if (argc != 4) {
        fprintf(stderr, "usage: stream_mutate IN OUT SEED\n");
        return 2;
    }
    seed = (unsigned)strtoul(argv[3], NULL, 10);
    fd = open(argv[1], O_RDONLY);
    if (fd < 0 || fstat(fd, &st) || !(d = malloc((size_t)st.st_size)) ||
        read(fd, d, (size_t)st.st_size) != st.st_size) {
        perror(argv[1]);
        return 1;
    }
    close(fd);
    size = (size_t)st.st_size;
    while (off + XLMIG_REC_HDR_SIZE <= size && n < 4096) {
        uint32_t type = xlmig_get_u32(d + off), len = xlmig_get_u32(d + off + 4);
        if (len && len <= 65536) {
            recs[n].off = off;
            recs[n].len = len;
            recs[n].type = type;
            n++;
        }
        off += XLMIG_REC_HDR_SIZE + (((size_t)len + 7) & ~(size_t)7);
    }
    if (!n) {
        fprintf(stderr, "no record to change in %s\n", argv[1]);
        return 1;
    }
    srand(seed);
    {
        unsigned r = (unsigned)rand() % n, k = 1 + (unsigned)rand() % 3;
        uint8_t *hdr = d + recs[r].off, *body = hdr + XLMIG_REC_HDR_SIZE;
        uint32_t crc;

        for (unsigned i = 0; i < k; i++) {
            size_t at = (size_t)rand() % recs[r].len;
            if (rand() & 1)
                body[at] ^= (uint8_t)(1u << (rand() % 8));
            else
                body[at] = (uint8_t)rand();
        }
        xlmig_put_u32(hdr + 8, 0);
        crc = xlmig_crc32c(xlmig_crc32c(0, hdr, XLMIG_REC_HDR_SIZE), body,
                           recs[r].len);
        xlmig_put_u32(hdr + 8, crc);
        printf("%s\n", xlmig_rec_type_name(recs[r].type));
    }
    f = fopen(argv[2], "w");
    if (!f || fwrite(d, 1, size, f) != size || fclose(f)) {
        perror(argv[2]);
        return 1;
    }
    free(d);
    return 0;
}
