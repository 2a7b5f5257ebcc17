/*
 * The simulated domain's memory layout and its self-checking pages.
 * docs/simdom.md describes it; xlmig-simdom writes it, verify checks it.
 *
 *   pfn 0                  superblock: magic, seed, geometry, per-vCPU
 *                          heartbeat counters, per-vif network counters
 *   pfn 1 .. L             ledger: one u64 per data page, the generation
 *                          last written to it (0: never, page is zero)
 *   pfn L+1 .. N-1         data pages, owned round-robin by the vCPUs
 *
 * A data page of generation g > 0 holds a header {pfn, generation, seed,
 * vcpu, crc32c} and 4064 bytes of a pseudo-random fill derived from
 * (seed, pfn, generation).  A lost page (zero where the ledger says
 * written), a stale one (generation differs from the ledger), a torn one
 * (checksum fails) or one in the wrong place (pfn differs) is detected.
 */
#ifndef XLMIG_SIM_LAYOUT_H
#define XLMIG_SIM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define SIM_SB_MAGIC UINT64_C(0x4d41524d49534c58)   /* "XLSIMRAM" */
#define SIM_SB_HEARTBEAT_OFF 256
/* struct sim_nic_counters (sim_nic.h), one per vif, after the heartbeats */
#define SIM_SB_NET_OFF 1024
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
};

struct sim_page_hdr {
    uint64_t pfn;
    uint64_t generation;
    uint64_t seed;
    uint32_t vcpu;
    uint32_t crc;
};
_Static_assert(sizeof(struct sim_page_hdr) == 32, "page header is 32 bytes");

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
