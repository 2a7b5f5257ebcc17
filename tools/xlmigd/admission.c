/* xlmigd: memory and admission, the destination's preflight (see xlmigd.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "xlmigd/xlmigd.h"

/* ---- memory and admission (the destination's preflight) ---- */

static uint64_t host_available(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[128];
    unsigned long long kb = 0;

    if (!f)
        return 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb << 10;
}

int reserve(void *opaque, struct xlmig_mjob *j, uint64_t bytes,
            uint64_t *free_out, char *why, size_t len)
{
    uint64_t need = bytes + bytes / 64, held = 0, used = 0, avail = 0;
    struct xlmig_dominfo *doms = NULL;
    unsigned n = 0;
    bool hv_counts;
    int rc = 0;

    (void)opaque;
    /* Xen counts its own free memory, running domains already out. */
    hv_counts = !D.cfg.domain_memory &&
                !xlmig_host_free_memory(j && j->job.ctx ? j->job.ctx : D.ctx,
                                        &avail);
    {
        xlmig_ctx *ctx = j ? j->job.ctx : D.ctx;
        if (xlmig_domain_list(ctx ? ctx : D.ctx, &doms, &n)) {
            snprintf(why, len, "cannot list this host's domains");
            return XLMIG_ERR_BACKEND;
        }
    }
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj; dj = dj->next) {
        bool here = false;
        if (dj->m.done || &dj->m == j)
            continue;
        /* Xen counts a domain being restored itself, once it exists:
         * the pages it has and the claim on the rest (backend_xen.c). */
        for (unsigned i = 0; hv_counts && dj->m.dir == XLMIG_JOB_IN &&
                             i < n; i++)
            if (!strcmp(dj->m.job.domain, doms[i].name))
                here = true;
        if (!here)
            held += dj->m.reserved_bytes;
    }
    for (unsigned i = 0; i < n && D.cfg.domain_memory; i++) {
        bool incoming = false;
        /* A domain being restored is counted by its reservation. */
        for (struct djob *dj = D.jobs; dj; dj = dj->next)
            if (!dj->m.done && dj->m.dir == XLMIG_JOB_IN &&
                dj->m.reserved_bytes && &dj->m != j &&
                !strcmp(dj->m.job.domain, doms[i].name))
                incoming = true;
        if (!incoming)
            used += doms[i].nr_pages << doms[i].page_shift;
    }
    if (D.cfg.domain_memory)
        avail = D.cfg.domain_memory > used ? D.cfg.domain_memory - used : 0;
    else if (!hv_counts)
        avail = host_available();
    avail = avail > held ? avail - held : 0;
    if (free_out)
        *free_out = avail;
    if (need > avail) {
        snprintf(why, len, "not enough memory: the domain needs %" PRIu64
                 " MiB (with 1/64 overhead), %" PRIu64 " MiB is free for "
                 "domains (%" PRIu64 " MiB held by incoming migrations)",
                 need >> 20, avail >> 20, held >> 20);
        rc = XLMIG_ERR_NOSPACE;
    } else {
        snprintf(why, len, "%" PRIu64 " MiB with 1/64 overhead; %" PRIu64
                 " MiB free for domains (%" PRIu64 " MiB held by incoming "
                 "migrations)", need >> 20, avail >> 20, held >> 20);
        if (j)
            j->reserved_bytes = need;
    }
    pthread_mutex_unlock(&D.lock);
    free(doms);
    return rc;
}

int admit(void *opaque, struct xlmig_mjob *j, bool claim, char *why,
          size_t len)
{
    unsigned active = 0;
    int rc = 0;

    (void)opaque;
    /* Counting the slots held and taking one is one step under D.lock:
     * of migrations arriving together, max_incoming get through. */
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj; dj = dj->next)
        if (!dj->m.done && dj->m.dir == XLMIG_JOB_IN && &dj->m != j &&
            dj->m.slot)
            active++;
    if (active >= D.cfg.max_incoming) {
        snprintf(why, len, "busy: %u incoming migrations already "
                 "(max_incoming = %u)", active, D.cfg.max_incoming);
        rc = XLMIG_ERR_BUSY;
    } else {
        snprintf(why, len, "%u incoming migrations running (max_incoming "
                 "= %u)", active, D.cfg.max_incoming);
        if (claim && j)
            j->slot = true;
    }
    pthread_mutex_unlock(&D.lock);
    return rc;
}

uint32_t vcpus_held(void *opaque, const struct xlmig_mjob *j)
{
    struct xlmig_dominfo *doms = NULL;
    xlmig_ctx *ctx = j && j->job.ctx ? j->job.ctx : D.ctx;
    uint32_t held = 0;
    unsigned n = 0;

    (void)opaque;
    if (xlmig_domain_list(ctx, &doms, &n))
        return 0;               /* the offer's own count still stands */
    pthread_mutex_lock(&D.lock);
    for (struct djob *dj = D.jobs; dj; dj = dj->next) {
        bool here = false;
        if (dj->m.done || &dj->m == j || dj->m.dir != XLMIG_JOB_IN ||
            !dj->m.reserved_bytes)
            continue;
        /* Once restored (even paused) it is among the domains counted. */
        for (unsigned i = 0; i < n; i++)
            if (!strcmp(dj->m.job.domain, doms[i].name))
                here = true;
        if (!here)
            held += dj->m.need_vcpus;
    }
    pthread_mutex_unlock(&D.lock);
    free(doms);
    return held;
}

