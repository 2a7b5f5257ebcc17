#include "backend/sim/sim_layout.h"

#include <errno.h>
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

void sim_page_fill(void *page, uint64_t seed, uint64_t pfn, uint64_t gen,
                   uint32_t vcpu)
{
    struct sim_page_hdr h = {
        .pfn = pfn, .generation = gen, .seed = seed, .vcpu = vcpu, .crc = 0,
    };
    uint64_t *w = (uint64_t *)((uint8_t *)page + sizeof(h));
    uint64_t x = mix64(seed ^ mix64(pfn ^ mix64(gen))) | 1;
    uint32_t crc;

    for (size_t i = 0; i < (XLMIG_PAGE_SIZE - sizeof(h)) / 8; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        w[i] = x * UINT64_C(0x2545f4914f6cdd1d);
    }
    memcpy(page, &h, sizeof(h));
    crc = xlmig_crc32c(0, page, XLMIG_PAGE_SIZE);
    memcpy((uint8_t *)page + offsetof(struct sim_page_hdr, crc), &crc, 4);
}

const char *sim_page_check(const void *page, uint64_t seed, uint64_t pfn,
                           uint64_t gen)
{
    struct sim_page_hdr h;
    uint8_t tmp[sizeof(h)];
    uint32_t crc;

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
    memcpy(tmp, page, sizeof(h));
    memset(tmp + offsetof(struct sim_page_hdr, crc), 0, 4);
    crc = xlmig_crc32c(xlmig_crc32c(0, tmp, sizeof(h)),
                       (const uint8_t *)page + sizeof(h),
                       XLMIG_PAGE_SIZE - sizeof(h));
    if (crc != h.crc)
        return "torn or corrupt page (checksum fails)";
    return NULL;
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
        sb->data_start != ds || sb->ledger_pages != lp) {
        res->bad = 1;
        res->first_bad_pfn = 0;
        res->first_reason = "superblock damaged";
        return;
    }
    ledger = (const uint64_t *)(b + XLMIG_PAGE_SIZE);
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
