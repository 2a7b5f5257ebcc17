/*
 * xlmig-simdom: a simulated domain for the sim backend.
 *
 * "run" is the domain itself: a process whose guest memory is a shared-
 * memory file (the ram file in the domain's directory) and whose vCPU
 * threads run a self-checking workload at a set dirty rate and pattern.
 * It answers the control protocol of sim_ipc.h on its socket, keeps
 * running when the tools that started it exit, and tracks dirty pages
 * with the kernel's userfaultfd write-protection: asynchronous mode read
 * with PAGEMAP_SCAN where the kernel has it (6.7+), synchronous uffd-wp
 * faults otherwise.  It is a stand-in for a guest, never presented as one.
 *
 * The other commands are the administrator's: create, list, info, pause,
 * unpause, destroy, verify, hash.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/private.h"
#include "backend/host_probe.h"
#include "backend/sim/sim_config.h"
#include "backend/sim/sim_host.h"
#include "backend/sim/sim_ipc.h"
#include "backend/sim/sim_layout.h"
#include "proto/stream.h"
#include "backend/sim/uffd_compat.h"

/* ---- the domain process ---- */

enum ld_mode { LD_OFF, LD_ASYNC, LD_SYNC };

struct vcpu {
    struct dom *d;
    uint32_t id;
    pthread_t thread;
    struct sim_vcpu_state st;
    uint64_t share;             /* data pages this vCPU owns */
    uint64_t epoch_ns;          /* pacing: when the current run began */
    uint64_t epoch_writes;
    uint64_t slice_ns;          /* throttle: when this time slice began */
};

struct dom {
    char dir[256];
    struct sim_config cfg;
    int ramfd;
    uint8_t *ram;
    size_t ram_len;
    struct sim_sb *sb;
    uint64_t *ledger;
    uint64_t data_start;
    uint64_t nr_data;
    struct vcpu *vcpus;
    uint32_t domid;

    pthread_mutex_t lock;
    pthread_cond_t cond;        /* vCPUs wait here when parked or idle */
    pthread_cond_t parked_cond; /* pauser waits here */
    bool pause_req;
    bool quit;
    unsigned parked;
    bool started;               /* restored domains start with no vCPUs */

    uint32_t throttle_pct;      /* share of CPU time taken away, 0-99 */

    uint64_t clock_base_ns;     /* guest time accumulated while paused */
    uint64_t run_since_ns;      /* 0 while paused */

    /* log-dirty */
    enum ld_mode ld;
    int uffd;
    int pagemap_fd;
    pthread_t ld_thread;
    int ld_stop_pipe[2];
    pthread_mutex_t ld_lock;
    uint8_t *ld_bitmap;         /* sync mode: pages written since peek */
};

static struct dom D;

static void dom_log(const char *fmt, ...) XLMIG_PRINTF(1, 2);
static void dom_log(const char *fmt, ...)
{
    va_list ap;
    time_t t = time(NULL);
    char ts[32];

    strftime(ts, sizeof(ts), "%F %T", gmtime(&t));
    fprintf(stderr, "%s %s: ", ts, D.cfg.name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

static uint64_t pick_index(struct vcpu *v)
{
    uint64_t k, share = v->share;

    switch (v->d->cfg.pattern) {
    case SIM_PATTERN_SEQUENTIAL:
        k = v->st.seq_pos++ % share;
        break;
    case SIM_PATTERN_HOTSET: {
        uint64_t hot = share * v->d->cfg.hot_percent / 100;
        if (hot == 0)
            hot = 1;
        k = rng_next(&v->st.rng) % 10 < 9 ? rng_next(&v->st.rng) % hot :
                                            rng_next(&v->st.rng) % share;
        break;
    }
    default:
        k = rng_next(&v->st.rng) % share;
        break;
    }
    return k * v->d->cfg.nr_vcpus + v->id;      /* data index */
}

/* One guest write: a whole new generation of one page, then the ledger. */
static void vcpu_write(struct vcpu *v, uint64_t idx)
{
    struct dom *d = v->d;
    uint64_t pfn = d->data_start + idx;
    uint64_t gen = d->ledger[idx] + 1;

    sim_page_fill(d->ram + pfn * XLMIG_PAGE_SIZE, d->cfg.seed, pfn, gen,
                  v->id);
    __atomic_store_n(&d->ledger[idx], gen, __ATOMIC_RELEASE);
    v->st.writes++;
    __atomic_store_n((uint64_t *)((uint8_t *)d->sb + SIM_SB_HEARTBEAT_OFF) +
                         v->id, v->st.writes, __ATOMIC_RELAXED);
}

static void wait_until(struct dom *d, uint64_t abs_mono_ns)
{
    struct timespec ts = { .tv_sec = (time_t)(abs_mono_ns / 1000000000u),
                           .tv_nsec = (long)(abs_mono_ns % 1000000000u) };

    pthread_cond_timedwait(&d->cond, &d->lock, &ts);
}

/* A vCPU under a throttle runs this long between its sleeps. */
#define SIM_SLICE_NS 10000000ull

static void *vcpu_main(void *arg)
{
    struct vcpu *v = arg;
    struct dom *d = v->d;
    uint64_t per_vcpu_rate = d->cfg.dirty_rate == SIM_RATE_MAX ?
        0 : d->cfg.dirty_rate / d->cfg.nr_vcpus;
    bool unlimited = d->cfg.dirty_rate == SIM_RATE_MAX;

    pthread_mutex_lock(&d->lock);
    for (;;) {
        uint64_t now, due;
        unsigned burst;

        if (d->quit)
            break;
        if (d->pause_req) {
            d->parked++;
            pthread_cond_broadcast(&d->parked_cond);
            while (d->pause_req && !d->quit)
                pthread_cond_wait(&d->cond, &d->lock);
            d->parked--;
            v->epoch_ns = xlmig_now_ns();
            v->epoch_writes = v->st.writes;
            continue;
        }
        if (!unlimited && per_vcpu_rate < XLMIG_PAGE_SIZE) {
            /* idle guest */
            wait_until(d, xlmig_now_ns() + 100000000u);
            continue;
        }
        now = xlmig_now_ns();
        if (d->throttle_pct && now - v->slice_ns >= SIM_SLICE_NS) {
            /*
             * Throttled: after each slice of running, sleep so that the
             * vCPU runs (100 - throttle)% of the time, as a scheduler cap
             * does.  The guest's work is paced by its CPU time, so the
             * sleep earns no writes.
             */
            uint64_t off = SIM_SLICE_NS * d->throttle_pct /
                           (100 - d->throttle_pct);
            wait_until(d, now + off);
            if (!d->pause_req && !d->quit) {
                uint64_t slept = xlmig_now_ns() - now;
                v->epoch_ns += slept < off ? slept : off;
            }
            v->slice_ns = xlmig_now_ns();
            continue;
        }
        if (!unlimited) {
            /* Writes allowed so far at the configured rate. */
            double allowed = (double)(now - v->epoch_ns) / 1e9 *
                             (double)per_vcpu_rate / XLMIG_PAGE_SIZE;
            uint64_t done = v->st.writes - v->epoch_writes;
            if ((double)done >= allowed) {
                due = v->epoch_ns +
                      (uint64_t)((double)(done + 1) * XLMIG_PAGE_SIZE /
                                 (double)per_vcpu_rate * 1e9);
                wait_until(d, due > now + 1000000 ? due : now + 1000000);
                continue;
            }
            burst = (unsigned)((uint64_t)allowed - done);
            if (burst > 64)
                burst = 64;
        } else {
            burst = 64;
        }
        pthread_mutex_unlock(&d->lock);
        for (unsigned i = 0; i < burst; i++)
            vcpu_write(v, pick_index(v));
        pthread_mutex_lock(&d->lock);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static uint64_t guest_time(struct dom *d)
{
    return d->clock_base_ns +
           (d->run_since_ns ? xlmig_now_ns() - d->run_since_ns : 0);
}

/* Park every vCPU at a page-write boundary.  Caller holds no lock. */
static bool dom_pause(struct dom *d)
{
    bool was_running;

    pthread_mutex_lock(&d->lock);
    was_running = !d->pause_req;
    if (was_running) {
        d->pause_req = true;
        pthread_cond_broadcast(&d->cond);
        if (d->started)
            while (d->parked < d->cfg.nr_vcpus)
                pthread_cond_wait(&d->parked_cond, &d->lock);
        d->clock_base_ns = guest_time(d);
        d->run_since_ns = 0;
    }
    pthread_mutex_unlock(&d->lock);
    return was_running;
}

static int dom_start_vcpus(struct dom *d)
{
    for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++) {
        int r = pthread_create(&d->vcpus[i].thread, NULL, vcpu_main,
                               &d->vcpus[i]);
        if (r)
            return -r;
    }
    d->started = true;
    return 0;
}

static int dom_unpause(struct dom *d)
{
    int r = 0;

    pthread_mutex_lock(&d->lock);
    if (d->pause_req) {
        if (!d->started) {
            uint64_t now = xlmig_now_ns();
            for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++) {
                d->vcpus[i].epoch_ns = now;
                d->vcpus[i].epoch_writes = d->vcpus[i].st.writes;
            }
            d->pause_req = false;
            r = dom_start_vcpus(d);
        }
        d->pause_req = false;
        d->run_since_ns = xlmig_now_ns();
        pthread_cond_broadcast(&d->cond);
    }
    pthread_mutex_unlock(&d->lock);
    return r;
}

/* ---- log-dirty ---- */

static int uffd_open(uint64_t want, uint64_t *got)
{
    struct uffdio_api api = { .api = UFFD_API, .features = 0 };
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return -errno;
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    close(fd);
    if ((api.features & want) != want)
        return -EOPNOTSUPP;
    fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    api.api = UFFD_API;
    api.features = want;
    if (ioctl(fd, UFFDIO_API, &api) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *got = api.features;
    return fd;
}

static int wp_range(struct dom *d, uint64_t start, uint64_t len, bool on)
{
    struct uffdio_writeprotect wp = {
        .range = { .start = (uintptr_t)d->ram + start, .len = len },
        .mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
    };

    return ioctl(d->uffd, UFFDIO_WRITEPROTECT, &wp) < 0 ? -errno : 0;
}

static void *ld_fault_main(void *arg)
{
    struct dom *d = arg;
    struct pollfd pfd[2] = { { d->uffd, POLLIN, 0 },
                             { d->ld_stop_pipe[0], POLLIN, 0 } };

    for (;;) {
        struct uffd_msg msg;
        ssize_t n;

        if (poll(pfd, 2, -1) < 0 && errno != EINTR)
            break;
        if (pfd[1].revents)
            break;
        n = read(d->uffd, &msg, sizeof(msg));
        if (n != sizeof(msg))
            continue;
        if (msg.event != UFFD_EVENT_PAGEFAULT ||
            !(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP))
            continue;
        uint64_t off = (msg.arg.pagefault.address - (uintptr_t)d->ram) &
                       ~(uint64_t)(XLMIG_PAGE_SIZE - 1);
        uint64_t pfn = off / XLMIG_PAGE_SIZE;
        pthread_mutex_lock(&d->ld_lock);
        d->ld_bitmap[pfn >> 3] |= (uint8_t)(1u << (pfn & 7));
        wp_range(d, off, XLMIG_PAGE_SIZE, false);   /* also wakes it */
        pthread_mutex_unlock(&d->ld_lock);
    }
    return NULL;
}

static int ld_start(struct dom *d, const char **mode)
{
    const char *force = getenv("XLMIG_SIM_DIRTY_MODE");
    uint64_t feat = 0;
    struct uffdio_register reg = {
        .range = { .start = (uintptr_t)d->ram, .len = d->ram_len },
        .mode = UFFDIO_REGISTER_MODE_WP,
    };
    int fd = -EOPNOTSUPP, r;

    if (d->ld != LD_OFF) {
        *mode = d->ld == LD_ASYNC ? "async" : "sync";
        return 0;
    }
    d->pagemap_fd = -1;
    if (!force || strcmp(force, "sync")) {
        fd = uffd_open(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED |
                           UFFD_FEATURE_WP_HUGETLBFS_SHMEM, &feat);
        if (fd >= 0) {
            d->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
            if (d->pagemap_fd < 0) {
                close(fd);
                fd = -EOPNOTSUPP;
            }
        }
    }
    if (fd >= 0) {
        d->ld = LD_ASYNC;
    } else {
        if (force && !strcmp(force, "async"))
            return fd;
        fd = uffd_open(UFFD_FEATURE_WP_UNPOPULATED |
                           UFFD_FEATURE_WP_HUGETLBFS_SHMEM, &feat);
        if (fd < 0) {
            dom_log("userfaultfd write-protect unavailable: %s",
                    strerror(-fd));
            return fd;
        }
        d->ld = LD_SYNC;
    }
    d->uffd = fd;
    if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
        r = -errno;
        dom_log("UFFDIO_REGISTER (write-protect) failed: %s", strerror(-r));
        goto fail;
    }
    if (d->ld == LD_SYNC) {
        d->ld_bitmap = calloc((d->cfg.nr_pages + 7) / 8, 1);
        if (!d->ld_bitmap || pipe2(d->ld_stop_pipe, O_CLOEXEC) < 0) {
            r = -ENOMEM;
            goto fail;
        }
    }
    pthread_mutex_lock(&d->ld_lock);
    r = wp_range(d, 0, d->ram_len, true);
    pthread_mutex_unlock(&d->ld_lock);
    if (r) {
        dom_log("UFFDIO_WRITEPROTECT failed: %s", strerror(-r));
        goto fail;
    }
    if (d->ld == LD_SYNC &&
        (r = -pthread_create(&d->ld_thread, NULL, ld_fault_main, d)))
        goto fail;
    *mode = d->ld == LD_ASYNC ? "async" : "sync";
    dom_log("log-dirty on (%s mode)", *mode);
    return 0;
fail:
    close(fd);
    if (d->pagemap_fd >= 0)
        close(d->pagemap_fd);
    free(d->ld_bitmap);
    d->ld_bitmap = NULL;
    d->ld = LD_OFF;
    return r;
}

static void ld_stop(struct dom *d)
{
    struct uffdio_range range = { (uintptr_t)d->ram, d->ram_len };

    if (d->ld == LD_OFF)
        return;
    pthread_mutex_lock(&d->ld_lock);
    wp_range(d, 0, d->ram_len, false);
    pthread_mutex_unlock(&d->ld_lock);
    if (d->ld == LD_SYNC) {
        (void)!write(d->ld_stop_pipe[1], "x", 1);
        pthread_join(d->ld_thread, NULL);
        close(d->ld_stop_pipe[0]);
        close(d->ld_stop_pipe[1]);
    }
    ioctl(d->uffd, UFFDIO_UNREGISTER, &range);
    close(d->uffd);
    if (d->pagemap_fd >= 0)
        close(d->pagemap_fd);
    free(d->ld_bitmap);
    d->ld_bitmap = NULL;
    d->ld = LD_OFF;
    dom_log("log-dirty off");
}

/* Fill @bm with the pages written since the last call, and re-arm. */
static int ld_peek_clear(struct dom *d, uint8_t *bm)
{
    size_t bmlen = (d->cfg.nr_pages + 7) / 8;

    if (d->ld == LD_SYNC) {
        int r;
        pthread_mutex_lock(&d->ld_lock);
        memcpy(bm, d->ld_bitmap, bmlen);
        memset(d->ld_bitmap, 0, bmlen);
        r = wp_range(d, 0, d->ram_len, true);
        pthread_mutex_unlock(&d->ld_lock);
        return r;
    }
    memset(bm, 0, bmlen);
    {
        struct page_region regs[256];
        uint64_t start = (uintptr_t)d->ram, end = start + d->ram_len;

        while (start < end) {
            struct pm_scan_arg a = {
                .size = sizeof(a),
                .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
                .start = start, .end = end,
                .vec = (uintptr_t)regs, .vec_len = ARRAY_SIZE(regs),
                .category_mask = PAGE_IS_WRITTEN,
                .return_mask = PAGE_IS_WRITTEN,
            };
            long n = ioctl(d->pagemap_fd, PAGEMAP_SCAN, &a);
            if (n < 0)
                return -errno;
            for (long i = 0; i < n; i++) {
                uint64_t p0 = (regs[i].start - (uintptr_t)d->ram) /
                              XLMIG_PAGE_SIZE;
                uint64_t p1 = (regs[i].end - (uintptr_t)d->ram) /
                              XLMIG_PAGE_SIZE;
                for (uint64_t p = p0; p < p1; p++)
                    bm[p >> 3] |= (uint8_t)(1u << (p & 7));
            }
            if (a.walk_end <= start)
                return -EIO;
            start = a.walk_end;
        }
    }
    return 0;
}

/* ---- control requests ---- */

static int hash_memory(struct dom *d, uint8_t out[32])
{
    static const uint8_t zero[XLMIG_PAGE_SIZE];
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    uint64_t pfn = 0, ds = 0, de = 0;
    unsigned len = 0;
    int rc = XLMIG_ERR_FAIL;

    if (!md || !EVP_DigestInit_ex(md, EVP_sha256(), NULL))
        goto out;
    while (pfn < d->cfg.nr_pages) {
        if (pfn >= de &&
            sim_next_data(d->ramfd, pfn, d->cfg.nr_pages, &ds, &de)) {
            ds = pfn;
            de = d->cfg.nr_pages;
        }
        if (pfn < ds) {
            for (; pfn < ds; pfn++)
                EVP_DigestUpdate(md, zero, sizeof(zero));
            continue;
        }
        EVP_DigestUpdate(md, d->ram + pfn * XLMIG_PAGE_SIZE,
                         (de - pfn) * XLMIG_PAGE_SIZE);
        pfn = de;
    }
    if (EVP_DigestFinal_ex(md, out, &len) && len == 32)
        rc = 0;
out:
    EVP_MD_CTX_free(md);
    return rc;
}

static void handle(struct dom *d, int cfd, uint32_t type, const uint8_t *p,
                   size_t len, bool *destroy)
{
    char text[2048];
    int n, rc;

    switch (type) {
    case SIM_MSG_INFO: {
        char uuid[37], rate[24];
        uint64_t writes = 0;
        pthread_mutex_lock(&d->lock);
        for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++)
            writes += d->vcpus[i].st.writes;
        xlmig_uuid_format(d->cfg.uuid, uuid);
        if (d->cfg.dirty_rate == SIM_RATE_MAX)
            strcpy(rate, "max");
        else
            snprintf(rate, sizeof(rate), "%" PRIu64, d->cfg.dirty_rate);
        n = snprintf(text, sizeof(text),
                     "name=%s\nuuid=%s\ndomid=%u\nstate=%s\n"
                     "memory_pages=%" PRIu64 "\nvcpus=%u\ndirty_rate=%s\n"
                     "pattern=%s\nwrites=%" PRIu64 "\nguest_time_ms=%" PRIu64
                     "\nlogdirty=%s\nthrottle=%u\npid=%d\n",
                     d->cfg.name, uuid, d->domid,
                     d->pause_req ? "paused" : "running", d->cfg.nr_pages,
                     d->cfg.nr_vcpus, rate, sim_pattern_name(d->cfg.pattern),
                     writes, guest_time(d) / 1000000,
                     d->ld == LD_ASYNC ? "async" :
                     d->ld == LD_SYNC ? "sync" : "off", d->throttle_pct,
                     (int)getpid());
        pthread_mutex_unlock(&d->lock);
        sim_ipc_reply(cfd, 0, text, (size_t)n);
        return;
    }
    case SIM_MSG_PAUSE:
        dom_pause(d);
        sim_ipc_reply(cfd, 0, NULL, 0);
        return;
    case SIM_MSG_UNPAUSE:
        rc = dom_unpause(d);
        sim_ipc_reply(cfd, rc ? XLMIG_ERR_BACKEND : 0, NULL, 0);
        return;
    case SIM_MSG_DESTROY:
        *destroy = true;        /* replied to once the domain is gone */
        return;
    case SIM_MSG_GET_VCPU:
    case SIM_MSG_SET_VCPU: {
        uint32_t id;
        if (len < 4 || (id = xlmig_get_u32(p)) >= d->cfg.nr_vcpus)
            goto inval;
        pthread_mutex_lock(&d->lock);
        if (!d->pause_req) {
            pthread_mutex_unlock(&d->lock);
            sim_ipc_reply(cfd, XLMIG_ERR_STATE, "domain is running", 17);
            return;
        }
        if (type == SIM_MSG_GET_VCPU) {
            uint8_t b[SIM_VCPU_STATE_SIZE] = { 0 };
            xlmig_put_u64(b, d->vcpus[id].st.rng);
            xlmig_put_u64(b + 8, d->vcpus[id].st.writes);
            xlmig_put_u64(b + 16, d->vcpus[id].st.seq_pos);
            pthread_mutex_unlock(&d->lock);
            sim_ipc_reply(cfd, 0, b, sizeof(b));
            return;
        }
        if (len != 4 + SIM_VCPU_STATE_SIZE || xlmig_get_u64(p + 4) == 0) {
            pthread_mutex_unlock(&d->lock);
            goto inval;
        }
        d->vcpus[id].st.rng = xlmig_get_u64(p + 4);
        d->vcpus[id].st.writes = xlmig_get_u64(p + 12);
        d->vcpus[id].st.seq_pos = xlmig_get_u64(p + 20);
        pthread_mutex_unlock(&d->lock);
        sim_ipc_reply(cfd, 0, NULL, 0);
        return;
    }
    case SIM_MSG_GET_CLOCK: {
        uint8_t b[8];
        pthread_mutex_lock(&d->lock);
        xlmig_put_u64(b, guest_time(d));
        pthread_mutex_unlock(&d->lock);
        sim_ipc_reply(cfd, 0, b, 8);
        return;
    }
    case SIM_MSG_SET_CLOCK:
        if (len != 8)
            goto inval;
        pthread_mutex_lock(&d->lock);
        d->clock_base_ns = xlmig_get_u64(p);
        if (d->run_since_ns)
            d->run_since_ns = xlmig_now_ns();
        pthread_mutex_unlock(&d->lock);
        sim_ipc_reply(cfd, 0, NULL, 0);
        return;
    case SIM_MSG_VERIFY: {
        struct sim_verify_result res;
        bool was = dom_pause(d);
        sim_verify(d->ram, d->cfg.nr_pages, d->ramfd, &res);
        if (was)
            dom_unpause(d);
        if (res.bad)
            n = snprintf(text, sizeof(text),
                         "FAILED: %" PRIu64 " bad pages of %" PRIu64
                         " checked; first pfn 0x%" PRIx64 ": %s",
                         res.bad, res.pages_checked, res.first_bad_pfn,
                         res.first_reason);
        else
            n = snprintf(text, sizeof(text),
                         "ok: %" PRIu64 " pages checked, %" PRIu64
                         " written, 0 bad", res.pages_checked,
                         res.pages_written);
        sim_ipc_reply(cfd, res.bad ? XLMIG_ERR_FAIL : 0, text, (size_t)n);
        return;
    }
    case SIM_MSG_HASH: {
        uint8_t h[32];
        bool was = dom_pause(d);
        rc = hash_memory(d, h);
        if (was)
            dom_unpause(d);
        sim_ipc_reply(cfd, rc, h, rc ? 0 : 32);
        return;
    }
    case SIM_MSG_LOGDIRTY_START: {
        const char *mode = "";
        rc = ld_start(d, &mode);
        sim_ipc_reply(cfd, rc ? xlmig_errno_rc(-rc) : 0, mode, strlen(mode));
        return;
    }
    case SIM_MSG_LOGDIRTY_PEEK_CLEAR: {
        size_t bl = (d->cfg.nr_pages + 7) / 8;
        uint8_t *bm;
        if (d->ld == LD_OFF) {
            sim_ipc_reply(cfd, XLMIG_ERR_STATE, "log-dirty is off", 16);
            return;
        }
        bm = malloc(bl);
        if (!bm) {
            sim_ipc_reply(cfd, XLMIG_ERR_NOMEM, NULL, 0);
            return;
        }
        rc = ld_peek_clear(d, bm);
        sim_ipc_reply(cfd, rc ? XLMIG_ERR_BACKEND : 0, bm, rc ? 0 : bl);
        free(bm);
        return;
    }
    case SIM_MSG_LOGDIRTY_STOP:
        ld_stop(d);
        sim_ipc_reply(cfd, 0, NULL, 0);
        return;
    case SIM_MSG_SET_THROTTLE:
        if (len != 4 || xlmig_get_u32(p) > 99)
            goto inval;
        pthread_mutex_lock(&d->lock);
        d->throttle_pct = xlmig_get_u32(p);
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        dom_log("throttle %u%%", xlmig_get_u32(p));
        sim_ipc_reply(cfd, 0, NULL, 0);
        return;
    default:
        break;
    }
inval:
    n = snprintf(text, sizeof(text), "bad request type %u length %zu", type,
                 len);
    sim_ipc_reply(cfd, XLMIG_ERR_INVAL, text, (size_t)n);
}

/* "<domain dir>/<file>"; the directory's length was checked at start. */
static void dpath(char *p, size_t n, const char *file)
{
    int r = snprintf(p, n, "%s/%s", D.dir, file);

    if (r < 0 || (size_t)r >= n)
        p[0] = '\0';
}

static volatile sig_atomic_t got_term;
static void on_term(int sig)
{
    (void)sig;
    got_term = 1;
}

static int listen_ctl(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    int fd;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    unlink(path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(path, 0600) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

static void format_memory(struct dom *d)
{
    memset(d->sb, 0, XLMIG_PAGE_SIZE);
    d->sb->magic = SIM_SB_MAGIC;
    d->sb->seed = d->cfg.seed;
    d->sb->nr_pages = d->cfg.nr_pages;
    d->sb->ledger_start = 1;
    sim_geometry(d->cfg.nr_pages, &d->sb->ledger_pages, &d->data_start);
    d->sb->data_start = d->data_start;
    d->sb->nr_vcpus = d->cfg.nr_vcpus;
}

static void *fill_main(void *arg)
{
    struct vcpu *v = arg;

    for (uint64_t k = 0; k < v->share; k++)
        vcpu_write(v, k * v->d->cfg.nr_vcpus + v->id);
    return NULL;
}

static void dom_teardown(struct dom *d, int lfd)
{
    dom_log("destroying");
    close(lfd);
    pthread_mutex_lock(&d->lock);
    d->quit = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (d->started)
        for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++)
            pthread_join(d->vcpus[i].thread, NULL);
    ld_stop(d);
    munmap(d->ram, d->ram_len);
    close(d->ramfd);
    free(d->vcpus);
    sim_dom_cleanup_dir(d->dir);
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "ready-fd", required_argument, NULL, 'r' },
        { "restored", no_argument, NULL, 'R' },
        { "fill", no_argument, NULL, 'F' },
        { "fresh", no_argument, NULL, 'N' },
        { "paused", no_argument, NULL, 'p' },
        { "running", no_argument, NULL, 'u' },
        { NULL, 0, NULL, 0 },
    };
    struct dom *d = &D;
    int readyfd = -1, lfd = -1, c, logfd;
    bool restored = false, fill = false, paused = false;
    char p[sizeof(d->dir) + 16], why[300];
    FILE *f;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'r': readyfd = atoi(optarg); break;
        case 'R': restored = true; break;
        case 'F': fill = true; break;
        case 'N': break;
        case 'p': paused = true; break;
        case 'u': paused = false; break;
        default: return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "usage: xlmig-simdom run [options] DIR\n");
        return 2;
    }
#define FAIL(...) do {                                                  \
        if (readyfd >= 0) dprintf(readyfd, __VA_ARGS__);                \
        fprintf(stderr, __VA_ARGS__);                                   \
        return 1;                                                       \
    } while (0)

    if (strlen(argv[optind]) >= sizeof(d->dir))
        FAIL("domain directory path too long: %s\n", argv[optind]);
    snprintf(d->dir, sizeof(d->dir), "%s", argv[optind]);
    dpath(p, sizeof(p), "config");
    if (sim_config_load(p, &d->cfg, why, sizeof(why)))
        FAIL("%s: %s\n", p, why);
    dpath(p, sizeof(p), "domid");
    f = fopen(p, "re");
    if (!f || fscanf(f, "%u", &d->domid) != 1)
        FAIL("cannot read %s\n", p);
    fclose(f);

    /* Daemonize: the domain must outlive the tool that started it. */
    if (fork() != 0)
        _exit(0);
    setsid();
    dpath(p, sizeof(p), "log");
    logfd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd >= 0) {
        dup2(logfd, STDERR_FILENO);
        close(logfd);
    }
    {
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0) {
            dup2(nul, STDIN_FILENO);
            dup2(nul, STDOUT_FILENO);
            close(nul);
        }
    }

    dpath(p, sizeof(p), "ram");
    d->ram_len = d->cfg.nr_pages * XLMIG_PAGE_SIZE;
    d->ramfd = open(p, O_RDWR | O_CLOEXEC);
    if (d->ramfd < 0)
        FAIL("cannot open %s: %s\n", p, strerror(errno));
    d->ram = mmap(NULL, d->ram_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                  d->ramfd, 0);
    if (d->ram == MAP_FAILED)
        FAIL("cannot map %s: %s\n", p, strerror(errno));
    d->sb = (struct sim_sb *)d->ram;
    d->ledger = (uint64_t *)(d->ram + XLMIG_PAGE_SIZE);
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->ld_lock, NULL);
    {
        /* wait_until() takes monotonic deadlines. */
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&d->cond, &ca);
        pthread_condattr_destroy(&ca);
    }
    pthread_cond_init(&d->parked_cond, NULL);
    d->uffd = -1;
    d->pagemap_fd = -1;

    {
        uint64_t lp;
        sim_geometry(d->cfg.nr_pages, &lp, &d->data_start);
    }
    d->nr_data = d->cfg.nr_pages - d->data_start;
    d->vcpus = calloc(d->cfg.nr_vcpus, sizeof(*d->vcpus));
    if (!d->vcpus)
        FAIL("out of memory\n");
    for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++) {
        struct vcpu *v = &d->vcpus[i];
        v->d = d;
        v->id = i;
        v->share = (d->nr_data - i + d->cfg.nr_vcpus - 1) / d->cfg.nr_vcpus;
        v->st.rng = d->cfg.seed * 0x9e3779b97f4a7c15u + i + 1;
        if (!v->st.rng)
            v->st.rng = 1;
    }
    if (!restored) {
        format_memory(d);
        if (fill) {
            for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++)
                pthread_create(&d->vcpus[i].thread, NULL, fill_main,
                               &d->vcpus[i]);
            for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++)
                pthread_join(d->vcpus[i].thread, NULL);
        }
    }

    dpath(p, sizeof(p), "ctl");
    lfd = listen_ctl(p);
    if (lfd < 0)
        FAIL("cannot listen on %s: %s\n", p, strerror(-lfd));
    dpath(p, sizeof(p), "pid");
    f = fopen(p, "we");
    if (f) {
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);

    /* Restored domains wait for their vCPU state: no threads yet. */
    d->pause_req = true;
    if (!restored && !paused) {
        if (dom_unpause(d))
            FAIL("cannot start vCPU threads\n");
    }
    dom_log("started (%s, %s), %" PRIu64 " pages, %u vCPUs, pid %d",
            restored ? "restored" : fill ? "filled" : "fresh",
            d->pause_req ? "paused" : "running", d->cfg.nr_pages,
            d->cfg.nr_vcpus, (int)getpid());
    if (readyfd >= 0) {
        dprintf(readyfd, "ok\n");
        close(readyfd);
    }

    for (;;) {
        struct pollfd pfd = { lfd, POLLIN, 0 };
        bool destroy = false;
        int cfd;

        if (got_term)
            break;
        if (poll(&pfd, 1, 500) <= 0)
            continue;
        cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (cfd < 0)
            continue;
        for (;;) {
            uint32_t type;
            void *req;
            size_t len;
            int rc = sim_ipc_recv(cfd, &type, &req, &len);
            if (rc)
                break;          /* peer gone or broke the framing */
            if (type == 0 || type > SIM_MSG_MAX) {
                sim_ipc_reply(cfd, XLMIG_ERR_INVAL, "unknown type", 12);
                free(req);
                break;
            }
            handle(d, cfd, type, req, len, &destroy);
            free(req);
            if (destroy)
                break;
        }
        if (destroy) {
            /* Tear down first, so that when the caller hears back the
             * domain and its name are gone. */
            dom_teardown(d, lfd);
            sim_ipc_reply(cfd, 0, NULL, 0);
            close(cfd);
            return 0;
        }
        close(cfd);
    }
    dom_teardown(d, lfd);
    return 0;
#undef FAIL
}

/* ---- administrator commands ---- */

static xlmig_ctx *ctx;

static int call_print(const char *name, uint32_t type)
{
    void *reply = NULL;
    size_t rlen = 0;
    int rc = sim_dom_call(ctx, name, type, NULL, 0, &reply, &rlen);

    if (rlen)
        printf("%.*s\n", (int)rlen, (char *)reply);
    free(reply);
    if (rc && !rlen)
        fprintf(stderr, "xlmig-simdom: %s: %s\n", name, xlmig_strerror(rc));
    return rc ? 1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: xlmig-simdom COMMAND [ARGS]\n"
"\n"
"  create [options] NAME   start a simulated domain\n"
"      -m, --memory SIZE         guest memory (16M .. 64G; default 256M)\n"
"      -c, --vcpus N             vCPU threads (1 .. 64; default 2)\n"
"      -r, --dirty-rate RATE     bytes/s written, K/M/G suffix, 0 idle,\n"
"                                'max' unthrottled (default 16M)\n"
"      -P, --pattern P           uniform | hotset | sequential\n"
"          --hot-percent N       hotset: share of pages taking 90%% of\n"
"                                writes (default 10)\n"
"          --fill                write every page once at boot\n"
"      -p, --paused              leave it paused\n"
"          --seed N              workload seed (default random)\n"
"          --cpuid host[,FEATURE=0...]  the CPU features the domain\n"
"                                sees: this host's, less those set to 0\n"
"          --pool NAME           cpupool (default Pool-0)\n"
"          --cpus LIST           pin the vCPUs to these CPUs (\"0-1,3\")\n"
"          --disk SPEC           TARGET,FORMAT,VDEV[:cdrom],ACCESS (xl's\n"
"                                disk spec; repeat for more)\n"
"          --vif SPEC            mac=MAC[,bridge=BRIDGE] (repeatable)\n"
"          --pci BDF             a passthrough device (repeatable)\n"
"          --disable-migrate     mark it not to be migrated\n"
"          --uuid UUID           this UUID (default: a random one)\n"
"  list                    list simulated domains on this host\n"
"  info NAME               show a domain's state and counters\n"
"  pause NAME | unpause NAME | destroy NAME\n"
"  verify NAME             check every page against the domain's ledger\n"
"  hash NAME               SHA-256 of the domain's memory\n"
"\n"
"Domains live in $XLMIG_SIM_DIR (default /dev/shm/xlmig-sim).\n");
}

/*
 * What xl create would refuse before the domain exists: a pool or CPU
 * this host lacks, a disk or bridge that is not here, a feature asked
 * for that the host does not offer.  Records the CPU the domain starts
 * with (the host's, less what --cpuid turns off).
 */
static int create_checks(struct sim_config *cfg, const char *cpuid)
{
    struct sim_hostconf *h = malloc(sizeof(*h));
    char *host = malloc(SIM_FEATURES_MAX + 1), *spec = NULL, *save = NULL;
    char why[300], pool[256];
    uint64_t need[16], have[16];
    int rc = 1;

    if (!h || !host)
        goto out;
    if (sim_hostconf_load(h, why, sizeof(why))) {
        fprintf(stderr, "xlmig-simdom: %s\n", why);
        goto out;
    }
    if (sim_host_cpu(h, cfg->cpu_vendor, host, SIM_FEATURES_MAX + 1)) {
        fprintf(stderr, "xlmig-simdom: cannot read /proc/cpuinfo\n");
        goto out;
    }
    spec = strdup(cpuid);
    if (!spec || strncmp(spec, "host", 4) || (spec[4] && spec[4] != ',')) {
        fprintf(stderr, "xlmig-simdom: --cpuid %s: expected host[,FEATURE=0"
                "|1...]\n", cpuid);
        goto out;
    }
    /* Start from the host's features; =0 removes one, =1 insists on it. */
    snprintf(cfg->cpu_features, sizeof(cfg->cpu_features), "%s", host);
    for (char *w = strtok_r(spec + 4, ",", &save); w;
         w = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(w, '=');
        size_t wl;
        if (!eq || (strcmp(eq + 1, "0") && strcmp(eq + 1, "1"))) {
            fprintf(stderr, "xlmig-simdom: --cpuid: \"%s\" is not "
                    "FEATURE=0 or FEATURE=1\n", w);
            goto out;
        }
        *eq = '\0';
        wl = strlen(w);
        if (eq[1] == '1') {
            if (!xlmig_pf_has_feature(host, w, wl)) {
                fprintf(stderr, "xlmig-simdom: --cpuid: this host does not "
                        "offer %s\n", w);
                goto out;
            }
            continue;
        }
        /* Remove every occurrence of the word. */
        for (char *p = cfg->cpu_features; *p;) {
            char *e = strchr(p, ' ');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n == wl && !memcmp(p, w, wl)) {
                if (e)
                    memmove(p, e + 1, strlen(e + 1) + 1);
                else if (p > cfg->cpu_features)
                    p[-1] = '\0';
                else
                    *p = '\0';
                continue;
            }
            p = e ? e + 1 : p + n;
        }
    }
    if (!sim_host_pool(h, cfg->pool, pool, sizeof(pool))) {
        fprintf(stderr, "xlmig-simdom: no cpupool %s on this host\n",
                cfg->pool);
        goto out;
    }
    if (cfg->cpus[0]) {
        if (xlmig_cpulist_parse(cfg->cpus, need) ||
            xlmig_cpulist_parse(pool[0] ? pool : "", have)) {
            fprintf(stderr, "xlmig-simdom: pool %s has no CPUs\n",
                    cfg->pool[0] ? cfg->pool : "Pool-0");
            goto out;
        }
        for (int i = 0; i < 16; i++)
            if (need[i] & ~have[i]) {
                fprintf(stderr, "xlmig-simdom: --cpus %s: not all in pool "
                        "%s (CPUs %s)\n", cfg->cpus,
                        cfg->pool[0] ? cfg->pool : "Pool-0", pool);
                goto out;
            }
    }
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        uint64_t size;
        if (cfg->disks[i].target[0] &&
            xlmig_path_size(cfg->disks[i].target, &size)) {
            fprintf(stderr, "xlmig-simdom: disk %s: %s is not a file or "
                    "block device here\n", cfg->disks[i].vdev,
                    cfg->disks[i].target);
            goto out;
        }
    }
    for (unsigned i = 0; i < cfg->nvifs; i++)
        if (cfg->vifs[i].bridge[0] &&
            !xlmig_host_bridge(cfg->vifs[i].bridge)) {
            fprintf(stderr, "xlmig-simdom: vif %u: no bridge %s here\n", i,
                    cfg->vifs[i].bridge);
            goto out;
        }
    rc = 0;
out:
    free(spec);
    free(host);
    free(h);
    return rc;
}

static int cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        { "memory", required_argument, NULL, 'm' },
        { "vcpus", required_argument, NULL, 'c' },
        { "dirty-rate", required_argument, NULL, 'r' },
        { "pattern", required_argument, NULL, 'P' },
        { "hot-percent", required_argument, NULL, 'H' },
        { "fill", no_argument, NULL, 'F' },
        { "paused", no_argument, NULL, 'p' },
        { "seed", required_argument, NULL, 'S' },
        { "cpuid", required_argument, NULL, 'I' },
        { "pool", required_argument, NULL, 'O' },
        { "cpus", required_argument, NULL, 'U' },
        { "disk", required_argument, NULL, 'D' },
        { "vif", required_argument, NULL, 'N' },
        { "pci", required_argument, NULL, 'X' },
        { "disable-migrate", no_argument, NULL, 'M' },
        { "uuid", required_argument, NULL, 'u' },
        { NULL, 0, NULL, 0 },
    };
    const char *cpuid = "host";
    bool have_uuid = false;
    char why[300];
    static struct sim_config cfg = {
        .nr_pages = 65536, .nr_vcpus = 2, .dirty_rate = 16 << 20,
        .pattern = SIM_PATTERN_UNIFORM, .hot_percent = 10,
    };
    uint64_t v;
    bool fill = false, paused = false, seeded = false;
    uint32_t domid;
    int c, rc;

    while ((c = getopt_long(argc, argv, "m:c:r:P:p", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (sim_parse_size(optarg, &v) || v % XLMIG_PAGE_SIZE ||
                v / XLMIG_PAGE_SIZE < SIM_MIN_PAGES ||
                v / XLMIG_PAGE_SIZE > SIM_MAX_PAGES) {
                fprintf(stderr, "xlmig-simdom: --memory %s: expected a "
                        "multiple of 4K from 16M to 64G\n", optarg);
                return 2;
            }
            cfg.nr_pages = v / XLMIG_PAGE_SIZE;
            break;
        case 'c':
            if (sim_parse_size(optarg, &v) || v < 1 || v > SIM_VCPUS_MAX) {
                fprintf(stderr, "xlmig-simdom: --vcpus %s: expected 1 to "
                        "%d\n", optarg, SIM_VCPUS_MAX);
                return 2;
            }
            cfg.nr_vcpus = (uint32_t)v;
            break;
        case 'r':
            if (!strcmp(optarg, "max"))
                cfg.dirty_rate = SIM_RATE_MAX;
            else if (sim_parse_size(optarg, &cfg.dirty_rate)) {
                fprintf(stderr, "xlmig-simdom: --dirty-rate %s: expected "
                        "bytes per second (e.g. 64M) or 'max'\n", optarg);
                return 2;
            }
            break;
        case 'P':
            if (sim_pattern_parse(optarg, &cfg.pattern)) {
                fprintf(stderr, "xlmig-simdom: --pattern %s: expected "
                        "uniform, hotset or sequential\n", optarg);
                return 2;
            }
            break;
        case 'H':
            if (sim_parse_size(optarg, &v) || v < 1 || v > 100) {
                fprintf(stderr, "xlmig-simdom: --hot-percent %s: expected "
                        "1 to 100\n", optarg);
                return 2;
            }
            cfg.hot_percent = (uint32_t)v;
            break;
        case 'F': fill = true; break;
        case 'p': paused = true; break;
        case 'I': cpuid = optarg; break;
        case 'O':
            if (!sim_name_valid(optarg) || strlen(optarg) >= sizeof(cfg.pool)) {
                fprintf(stderr, "xlmig-simdom: --pool %s: not a pool name\n",
                        optarg);
                return 2;
            }
            snprintf(cfg.pool, sizeof(cfg.pool), "%s", optarg);
            break;
        case 'U': {
            uint64_t set[16];
            if (strlen(optarg) >= sizeof(cfg.cpus) ||
                xlmig_cpulist_parse(optarg, set)) {
                fprintf(stderr, "xlmig-simdom: --cpus %s: expected a CPU "
                        "list such as 0-1,3\n", optarg);
                return 2;
            }
            snprintf(cfg.cpus, sizeof(cfg.cpus), "%s", optarg);
            break;
        }
        case 'D':
            if (cfg.ndisks == SIM_DISKS_MAX ||
                sim_disk_parse(optarg, &cfg.disks[cfg.ndisks], why,
                               sizeof(why))) {
                fprintf(stderr, "xlmig-simdom: --disk: %s\n",
                        cfg.ndisks == SIM_DISKS_MAX ? "too many disks" : why);
                return 2;
            }
            cfg.ndisks++;
            break;
        case 'N':
            if (cfg.nvifs == SIM_VIFS_MAX ||
                sim_vif_parse(optarg, &cfg.vifs[cfg.nvifs], why,
                              sizeof(why))) {
                fprintf(stderr, "xlmig-simdom: --vif: %s\n",
                        cfg.nvifs == SIM_VIFS_MAX ? "too many vifs" : why);
                return 2;
            }
            cfg.nvifs++;
            break;
        case 'X':
            if (cfg.npci == SIM_PCI_MAX || !sim_pci_valid(optarg)) {
                fprintf(stderr, "xlmig-simdom: --pci %s: expected a BDF "
                        "such as 0000:03:00.0\n", optarg);
                return 2;
            }
            snprintf(cfg.pci[cfg.npci++], sizeof(cfg.pci[0]), "%s", optarg);
            break;
        case 'M': cfg.disable_migrate = 1; break;
        case 'u':
            if (sim_uuid_parse(optarg, cfg.uuid)) {
                fprintf(stderr, "xlmig-simdom: --uuid %s: expected "
                        "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n", optarg);
                return 2;
            }
            have_uuid = true;
            break;
        case 'S':
            if (sim_parse_size(optarg, &cfg.seed)) {
                fprintf(stderr, "xlmig-simdom: --seed %s: expected a "
                        "number\n", optarg);
                return 2;
            }
            seeded = true;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (!sim_name_valid(argv[optind])) {
        fprintf(stderr, "xlmig-simdom: invalid name \"%s\": use 1 to 63 of "
                "[A-Za-z0-9_.-], not starting with - or .\n", argv[optind]);
        return 2;
    }
    strcpy(cfg.name, argv[optind]);
    if (create_checks(&cfg, cpuid))
        return 1;
    if (!have_uuid) {
        if (getrandom(cfg.uuid, sizeof(cfg.uuid), 0) != sizeof(cfg.uuid))
            return 1;
        cfg.uuid[6] = (cfg.uuid[6] & 0x0f) | 0x40;  /* version 4 */
        cfg.uuid[8] = (cfg.uuid[8] & 0x3f) | 0x80;
    }
    if (!seeded && getrandom(&cfg.seed, sizeof(cfg.seed), 0) != 8)
        return 1;
    rc = sim_dom_spawn(ctx, &cfg, fill ? SIM_BOOT_FILL : SIM_BOOT_FRESH,
                       paused, &domid);
    if (rc)
        return 1;
    printf("%s: domain %u started%s\n", cfg.name, domid,
           paused ? " (paused)" : "");
    return 0;
}

static int cmd_list(void)
{
    struct xlmig_dominfo *all;
    unsigned n;

    if (sim_dom_list(ctx, &all, &n)) {
        fprintf(stderr, "xlmig-simdom: cannot list %s\n", sim_dir());
        return 1;
    }
    printf("%-24s %5s %9s %5s %-8s\n", "Name", "ID", "Mem(MiB)", "VCPUs",
           "State");
    for (unsigned i = 0; i < n; i++)
        printf("%-24s %5u %9" PRIu64 " %5u %-8s\n", all[i].name,
               all[i].domid, all[i].nr_pages * XLMIG_PAGE_SIZE >> 20,
               all[i].nr_vcpus, xlmig_dom_state_name(all[i].state));
    free(all);
    return 0;
}

static int cmd_hash(const char *name)
{
    void *reply = NULL;
    size_t rlen = 0;
    int rc = sim_dom_call(ctx, name, SIM_MSG_HASH, NULL, 0, &reply, &rlen);

    if (rc || rlen != 32) {
        fprintf(stderr, "xlmig-simdom: hash %s: %s\n", name,
                xlmig_strerror(rc ? rc : XLMIG_ERR_FAIL));
        free(reply);
        return 1;
    }
    for (int i = 0; i < 32; i++)
        printf("%02x", ((uint8_t *)reply)[i]);
    printf("\n");
    free(reply);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd;
    int rc;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
        !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (xlmig_ctx_alloc(&ctx, "sim", XLMIG_LOG_WARN, stderr))
        return 1;
    if (!strcmp(cmd, "create"))
        rc = cmd_create(argc - 1, argv + 1);
    else if (!strcmp(cmd, "list"))
        rc = cmd_list();
    else if (argc != 3) {
        usage(stderr);
        rc = 2;
    } else if (!strcmp(cmd, "info"))
        rc = call_print(argv[2], SIM_MSG_INFO);
    else if (!strcmp(cmd, "pause"))
        rc = call_print(argv[2], SIM_MSG_PAUSE);
    else if (!strcmp(cmd, "unpause"))
        rc = call_print(argv[2], SIM_MSG_UNPAUSE);
    else if (!strcmp(cmd, "destroy"))
        rc = call_print(argv[2], SIM_MSG_DESTROY);
    else if (!strcmp(cmd, "verify"))
        rc = call_print(argv[2], SIM_MSG_VERIFY);
    else if (!strcmp(cmd, "hash"))
        rc = cmd_hash(argv[2]);
    else {
        fprintf(stderr, "xlmig-simdom: unknown command \"%s\"\n", cmd);
        usage(stderr);
        rc = 2;
    }
    xlmig_ctx_free(ctx);
    return rc;
}
