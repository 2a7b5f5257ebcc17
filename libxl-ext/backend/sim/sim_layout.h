/*
 * The simulated domain's memory layout and its self-checking pages.
 * docs/simdom.md describes it; xlmig-simdom writes it, verify checks it.
 *
 *   pfn 0                  superblock: magic, seed, geometry, per-vCPU
 *                          heartbeat counters, per-vif network counters
 *   pfn 1 .. L             ledger: one u64 per data page, the generation
 *                          last written to it (0: never, page is zero)
 *   pfn L+1 .. K-1         data pages, owned round-robin by the vCPUs
 *   pfn K .. N-1           disk ledgers (only with writable disks): one
 *                          u64 per disk block, the generation last
 *                          written to it
 *
 * A data page of generation g > 0 holds a header {pfn, generation, seed,
 * vcpu, crc32c} and 4064 bytes of a pseudo-random fill derived from
 * (seed, pfn, generation).  A lost page (zero where the ledger says
 * written), a stale one (generation differs from the ledger), a torn one
 * (checksum fails) or one in the wrong place (pfn differs) is detected.
 */
#ifndef XLMIG_SIM_LAYOUT_H
#define XLMIG_SIM_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_SB_MAGIC UINT64_C(0x4d41524d49534c58)   /* "XLSIMRAM" */
#define SIM_SB_HEARTBEAT_OFF 256
/* struct sim_nic_counters (sim_nic.h), one per vif, after the heartbeats */
#define SIM_SB_NET_OFF 1024
/* struct sim_disk_sb, one per disk (the guest's block driver state) */
#define SIM_SB_DISK_OFF 2048
#define SIM_VCPUS_MAX 64
#define SIM_MIN_PAGES 4096                  /* 16 MiB */
#define SIM_MAX_PAGES (UINT64_C(64) << 18)  /* 64 GiB */

struct sim_sb {
    uint64_t magic;
    uint64_t seed;
    uint64_t nr_pages;
    uint64_t ledger_start;
    uint64_t ledger_pages;
    uint64_t data_start;
    uint64_t nr_vcpus;
    uint64_t disk_start;        /* first disk ledger pfn; 0: no disk */
    uint64_t disk_pages;
};

/*
 * A disk block (4096 octets) of generation g > 0 holds a header {block,
 * generation, seed, tag, crc32c} and a fill derived from (seed, disk,
 * block, generation), as a data page does; tag is SIM_BLOCK_TAG | disk.
 */
#define SIM_BLOCK_SIZE 4096u
#define SIM_BLOCK_TAG UINT32_C(0x4b420000)      /* "BK" */
#define SIM_DISK_ZERO 1u        /* the image was all zeros when made */

/* One disk's state in the superblock, kept by the guest's I/O thread. */
struct sim_disk_sb {
    uint64_t nr_blocks;         /* 0: no ledger (read-only, empty) */
    uint64_t ledger_pfn;        /* its ledger's first page */
    uint64_t writes;            /* block writes completed */
    uint64_t reads;             /* block reads checked */
    uint64_t read_bad;          /* reads that found a bad block */
    uint64_t read_stale;        /* reads that found an older write */
    uint64_t first_bad_block;   /* of the first such read */
    uint64_t rng;               /* the I/O thread's PRNG */
    uint64_t seq_pos;
    uint32_t flags;             /* SIM_DISK_* */
    uint32_t first_bad_kind;    /* enum sim_block_fault of that read */
    uint64_t reserved[6];
};
_Static_assert(sizeof(struct sim_disk_sb) == 128, "128 octets per disk");

struct sim_page_hdr {
    uint64_t pfn;
    uint64_t generation;
    uint64_t seed;
    uint32_t vcpu;
    uint32_t crc;
};
_Static_assert(sizeof(struct sim_page_hdr) == 32, "page header is 32 bytes");

/* The table of disk @i in superblock @sb. */
static inline struct sim_disk_sb *sim_disk_sb(void *sb, unsigned i)
{
    return (struct sim_disk_sb *)((uint8_t *)sb + SIM_SB_DISK_OFF) + i;
}

/* Pages of ledger a disk of @nr_blocks blocks takes. */
uint64_t sim_disk_ledger_pages(uint64_t nr_blocks);

/* Geometry for a domain of @nr_pages pages. */
void sim_geometry(uint64_t nr_pages, uint64_t *ledger_pages,
                  uint64_t *data_start);

/* Fill @page with generation @gen of @pfn. */
void sim_page_fill(void *page, uint64_t seed, uint64_t pfn, uint64_t gen,
                   uint32_t vcpu);

/*
 * Check one data page against the generation the ledger records.
 * Returns 0 when good, else a static string naming the fault.
 */
const char *sim_page_check(const void *page, uint64_t seed, uint64_t pfn,
                           uint64_t gen);

/* Fill @blk with generation @gen of block @block of disk @disk. */
void sim_block_fill(void *blk, uint64_t seed, unsigned disk, uint64_t block,
                    uint64_t gen);

enum sim_block_fault {
    SIM_BLOCK_OK = 0,
    SIM_BLOCK_STALE = 1,        /* an older write, or zero: a write lost */
    SIM_BLOCK_BAD = 2,          /* torn, corrupt, misplaced, foreign */
};

/*
 * Check one disk block against the generation the ledger records; a
 * block of generation 0 must be zero when @zero (the image was zero when
 * made), else it is not checked.  Returns the fault; *@why names it.
 */
enum sim_block_fault sim_block_check(const void *blk, uint64_t seed,
                                     unsigned disk, uint64_t block,
                                     uint64_t gen, bool zero,
                                     const char **why);

struct sim_disk_verify {
    uint64_t blocks_checked;
    uint64_t blocks_written;    /* generation > 0 */
    uint64_t bad, stale;
    uint64_t first_block;       /* of the first fault */
    const char *first_reason;
    int err;                    /* -errno reading the image, else 0 */
};

/*
 * Verify disk @disk (image @fd, ledger @ledger of @nr_blocks entries)
 * block by block; holes of the image are zero and are not read.
 */
void sim_verify_disk(int fd, uint64_t seed, unsigned disk,
                     const uint64_t *ledger, uint64_t nr_blocks, bool zero,
                     struct sim_disk_verify *res);

struct sim_verify_result {
    uint64_t pages_checked;
    uint64_t pages_written;     /* generation > 0 */
    uint64_t bad;
    uint64_t first_bad_pfn;
    const char *first_reason;
};

/*
 * Verify the whole memory at @base (nr_pages pages).  @fd, if not -1, is
 * the memory file: its holes are known zero and are not read (reading a
 * tmpfs hole through a mapping would allocate it).
 */
void sim_verify(const void *base, uint64_t nr_pages, int fd,
                struct sim_verify_result *res);

/*
 * The next run of pages at or after @pfn that may hold data in memory
 * file @fd: [*start, *end).  Pages before *start are holes (zero).  With
 * fd -1 everything is data.  Returns 0 or -errno.
 */
int sim_next_data(int fd, uint64_t pfn, uint64_t nr_pages, uint64_t *start,
                  uint64_t *end);

#endif
