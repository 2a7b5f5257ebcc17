#include "backend/sim/sim_layout.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/crc32c.h"
#include "core/private.h"
#include "proto/stream.h"

void sim_geometry(uint64_t nr_pages, uint64_t *ledger_pages,
                  uint64_t *data_start)
{
    /* One u64 per page beyond the superblock: slightly more than needed,
     * and simple to check. */
    uint64_t l = ((nr_pages - 1) * 8 + XLMIG_PAGE_SIZE - 1) /
                 XLMIG_PAGE_SIZE;

    *ledger_pages = l;
    *data_start = 1 + l;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* A header and a fill seeded by @x; the CRC covers the whole page. */
static void fill(void *page, const struct sim_page_hdr *hdr, uint64_t x)
{
    uint64_t *w = (uint64_t *)((uint8_t *)page + sizeof(*hdr));
    uint32_t crc;

    x |= 1;
    for (size_t i = 0; i < (XLMIG_PAGE_SIZE - sizeof(*hdr)) / 8; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        w[i] = x * UINT64_C(0x2545f4914f6cdd1d);
    }
    memcpy(page, hdr, sizeof(*hdr));
    crc = xlmig_crc32c(0, page, XLMIG_PAGE_SIZE);
    memcpy((uint8_t *)page + offsetof(struct sim_page_hdr, crc), &crc, 4);
}

/* Whether the CRC in @page's header matches the page. */
static bool crc_ok(const void *page)
{
    struct sim_page_hdr h;
    uint8_t tmp[sizeof(h)];

    memcpy(&h, page, sizeof(h));
    memcpy(tmp, page, sizeof(h));
    memset(tmp + offsetof(struct sim_page_hdr, crc), 0, 4);
    return xlmig_crc32c(xlmig_crc32c(0, tmp, sizeof(h)),
                        (const uint8_t *)page + sizeof(h),
                        XLMIG_PAGE_SIZE - sizeof(h)) == h.crc;
}

void sim_page_fill(void *page, uint64_t seed, uint64_t pfn, uint64_t gen,
                   uint32_t vcpu)
{
    struct sim_page_hdr h = {
        .pfn = pfn, .generation = gen, .seed = seed, .vcpu = vcpu, .crc = 0,
    };

    fill(page, &h, mix64(seed ^ mix64(pfn ^ mix64(gen))));
}

const char *sim_page_check(const void *page, uint64_t seed, uint64_t pfn,
                           uint64_t gen)
{
    struct sim_page_hdr h;

    if (gen == 0)
        return xlmig_page_is_zero(page) ? NULL :
               "page never written but not zero";
    memcpy(&h, page, sizeof(h));
    if (h.generation == 0 && h.pfn == 0 && h.seed == 0)
        return "page lost: zero where the ledger records a write";
    if (h.seed != seed)
        return "page belongs to another domain (seed differs)";
    if (h.pfn != pfn)
        return "page in the wrong place (pfn differs)";
    if (h.generation != gen)
        return h.generation < gen ? "stale page (older generation)" :
                                    "page newer than the ledger";
    if (!crc_ok(page))
        return "torn or corrupt page (checksum fails)";
    return NULL;
}

void sim_block_fill(void *blk, uint64_t seed, unsigned disk, uint64_t block,
                    uint64_t gen)
{
    struct sim_page_hdr h = {
        .pfn = block, .generation = gen, .seed = seed,
        .vcpu = SIM_BLOCK_TAG | disk, .crc = 0,
    };

    fill(blk, &h, mix64(seed ^ mix64(block ^ mix64(gen ^ ((uint64_t)h.vcpu
                                                         << 32)))));
}

enum sim_block_fault sim_block_check(const void *blk, uint64_t seed,
                                     unsigned disk, uint64_t block,
                                     uint64_t gen, bool zero,
                                     const char **why)
{
    struct sim_page_hdr h;

    *why = NULL;
    if (gen == 0) {
        if (!zero || xlmig_page_is_zero(blk))
            return SIM_BLOCK_OK;
        *why = "block never written but not zero";
        return SIM_BLOCK_BAD;
    }
    memcpy(&h, blk, sizeof(h));
    if (h.generation == 0 && h.pfn == 0 && h.seed == 0 && h.vcpu == 0) {
        *why = "write lost: zero where the ledger records a write";
        return SIM_BLOCK_STALE;
    }
    if (h.seed != seed || (h.vcpu & UINT32_C(0xffff0000)) != SIM_BLOCK_TAG) {
        *why = "block of another domain, or not a disk block";
        return SIM_BLOCK_BAD;
    }
    if ((h.vcpu & 0xffff) != disk) {
        *why = "block of another disk";
        return SIM_BLOCK_BAD;
    }
    if (h.pfn != block) {
        *why = "block in the wrong place (block number differs)";
        return SIM_BLOCK_BAD;
    }
    if (!crc_ok(blk)) {
        *why = "torn or corrupt block (checksum fails)";
        return SIM_BLOCK_BAD;
    }
    if (h.generation < gen) {
        *why = "stale block: a write lost (older generation)";
        return SIM_BLOCK_STALE;
    }
    if (h.generation > gen) {
        *why = "block newer than the ledger";
        return SIM_BLOCK_BAD;
    }
    return SIM_BLOCK_OK;
}

uint64_t sim_disk_ledger_pages(uint64_t nr_blocks)
{
    return (nr_blocks * 8 + XLMIG_PAGE_SIZE - 1) / XLMIG_PAGE_SIZE;
}

/* One fault of a disk verify: the first one found is the one named. */
static void disk_fault(struct sim_disk_verify *res, uint64_t block,
                       enum sim_block_fault f, const char *why)
{
    if (!res->bad && !res->stale) {
        res->first_block = block;
        res->first_reason = why;
    }
    if (f == SIM_BLOCK_STALE)
        res->stale++;
    else
        res->bad++;
}

void sim_verify_disk(int fd, uint64_t seed, unsigned disk,
                     const uint64_t *ledger, uint64_t nr_blocks, bool zero,
                     struct sim_disk_verify *res)
{
    enum { CHUNK = 64 };
    uint8_t *buf = malloc(CHUNK * SIM_BLOCK_SIZE);
    uint64_t b = 0, ds = 0, de = 0;

    memset(res, 0, sizeof(*res));
    if (!buf) {
        res->err = -ENOMEM;
        return;
    }
    while (b < nr_blocks) {
        uint64_t n, i;
        ssize_t r;

        if (b >= de && sim_next_data(fd, b, nr_blocks, &ds, &de)) {
            ds = b;             /* cannot ask: read everything */
            de = nr_blocks;
        }
        for (; b < ds; b++) {   /* a hole reads as zero */
            uint64_t g = __atomic_load_n(&ledger[b], __ATOMIC_ACQUIRE);
            res->blocks_checked++;
            if (g) {
                res->blocks_written++;
                disk_fault(res, b, SIM_BLOCK_STALE, "write lost: zero "
                           "where the ledger records a write");
            }
        }
        if (b >= nr_blocks)
            break;
        n = de - b > CHUNK ? CHUNK : de - b;
        r = pread(fd, buf, n * SIM_BLOCK_SIZE, (off_t)(b * SIM_BLOCK_SIZE));
        if (r < 0) {
            res->err = -errno;
            break;
        }
        if ((size_t)r < n * SIM_BLOCK_SIZE)     /* past the end: zeros */
            memset(buf + r, 0, n * SIM_BLOCK_SIZE - (size_t)r);
        for (i = 0; i < n; i++, b++) {
            uint64_t g = __atomic_load_n(&ledger[b], __ATOMIC_ACQUIRE);
            const char *why;
            enum sim_block_fault f = sim_block_check(buf + i * SIM_BLOCK_SIZE,
                                                     seed, disk, b, g, zero,
                                                     &why);
            res->blocks_checked++;
            if (g)
                res->blocks_written++;
            if (f != SIM_BLOCK_OK)
                disk_fault(res, b, f, why);
        }
    }
    free(buf);
}

int sim_next_data(int fd, uint64_t pfn, uint64_t nr_pages, uint64_t *start,
                  uint64_t *end)
{
    off_t d, h;

    if (fd < 0) {
        *start = pfn;
        *end = nr_pages;
        return 0;
    }
    d = lseek(fd, (off_t)(pfn * XLMIG_PAGE_SIZE), SEEK_DATA);
    if (d < 0) {
        if (errno != ENXIO)
            return -errno;
        *start = *end = nr_pages;       /* only holes remain */
        return 0;
    }
    h = lseek(fd, d, SEEK_HOLE);
    if (h < 0)
        return -errno;
    *start = (uint64_t)d / XLMIG_PAGE_SIZE;
    *end = ((uint64_t)h + XLMIG_PAGE_SIZE - 1) / XLMIG_PAGE_SIZE;
    if (*end > nr_pages)
        *end = nr_pages;
    if (*start > nr_pages)
        *start = nr_pages;
    return 0;
}

void sim_verify(const void *base, uint64_t nr_pages, int fd,
                struct sim_verify_result *res)
{
    const uint8_t *b = base;
    const struct sim_sb *sb = base;
    const uint64_t *ledger;
    uint64_t lp, ds, data_begin = 0, data_end = 0;

    memset(res, 0, sizeof(*res));
    sim_geometry(nr_pages, &lp, &ds);
    if (sb->magic != SIM_SB_MAGIC || sb->nr_pages != nr_pages ||
        sb->data_start != ds || sb->ledger_pages != lp ||
        (sb->disk_start &&
         (sb->disk_start <= ds || sb->disk_start > nr_pages ||
          sb->disk_pages != nr_pages - sb->disk_start))) {
        res->bad = 1;
        res->first_bad_pfn = 0;
        res->first_reason = "superblock damaged";
        return;
    }
    ledger = (const uint64_t *)(b + XLMIG_PAGE_SIZE);
    if (sb->disk_start)
        nr_pages = sb->disk_start;      /* the disk ledgers follow */
    for (uint64_t pfn = ds; pfn < nr_pages; pfn++) {
        uint64_t gen = ledger[pfn - ds];
        const char *why = NULL;

        if (pfn >= data_end) {
            if (sim_next_data(fd, pfn, nr_pages, &data_begin, &data_end)) {
                data_begin = pfn;       /* cannot ask: read everything */
                data_end = nr_pages;
            }
        }
        res->pages_checked++;
        if (gen)
            res->pages_written++;
        if (pfn < data_begin)           /* a hole reads as zero */
            why = gen ? "page lost: zero where the ledger records a write" :
                        NULL;
        else
            why = sim_page_check(b + pfn * XLMIG_PAGE_SIZE, sb->seed, pfn,
                                 gen);
        if (why && !res->bad++) {
            res->first_bad_pfn = pfn;
            res->first_reason = why;
        }
    }
}
