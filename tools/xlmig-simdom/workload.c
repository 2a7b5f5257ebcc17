/*
 * xlmig-simdom: the workload: vCPU threads writing self-checking pages at the
 * configured rate and pattern, pause and unpause, guest time.
 */
#include "xlmig-simdom/simdom.h"

uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * UINT64_C(0x2545f4914f6cdd1d);
}

uint64_t dom_pick(const struct dom *d, uint64_t n, uint64_t *rng,
                  uint64_t *seq)
{
    switch (d->cfg.pattern) {
    case SIM_PATTERN_SEQUENTIAL:
        return (*seq)++ % n;
    case SIM_PATTERN_HOTSET: {
        uint64_t hot = n * d->cfg.hot_percent / 100;
        if (hot == 0)
            hot = 1;
        return rng_next(rng) % 10 < 9 ? rng_next(rng) % hot :
                                        rng_next(rng) % n;
    }
    default:
        return rng_next(rng) % n;
    }
}

static uint64_t pick_index(struct vcpu *v)
{
    uint64_t k = dom_pick(v->d, v->share, &v->st.rng, &v->st.seq_pos);

    return k * v->d->cfg.nr_vcpus + v->id;      /* data index */
}

/* One guest write: a whole new generation of one page, then the ledger. */
void vcpu_write(struct vcpu *v, uint64_t idx)
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

void wait_until(struct dom *d, uint64_t abs_mono_ns)
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

uint64_t guest_time(struct dom *d)
{
    return d->clock_base_ns +
           (d->run_since_ns ? xlmig_now_ns() - d->run_since_ns : 0);
}

/* Park every vCPU at a page-write boundary.  Caller holds no lock. */
/*
 * With $XLMIG_SIM_RUNLOG set (the tests set it), each start and stop of
 * the guest's vCPUs is one line appended to that file,
 * "NS start|stop UUID PID" with NS on CLOCK_MONOTONIC: on one machine
 * the lines of every host's domains share a clock, so the intervals in
 * which a domain runs anywhere can be checked for overlap.  A stop is
 * stamped once the vCPUs are parked, a start before they are let go.
 */
void dom_runlog(struct dom *d, const char *what)
{
    const char *path = getenv("XLMIG_SIM_RUNLOG");
    char line[128], u[37];
    int fd, n;

    if (!path || !*path)
        return;
    xlmig_uuid_format(d->cfg.uuid, u);
    n = snprintf(line, sizeof(line), "%llu %s %s %d\n",
                 (unsigned long long)xlmig_now_ns(), what, u, (int)getpid());
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    if (write(fd, line, (size_t)n) != n)
        dom_log("run log %s: short write", path);
    close(fd);
}

bool dom_pause(struct dom *d)
{
    bool was_running;

    pthread_mutex_lock(&d->lock);
    was_running = !d->pause_req;
    if (was_running) {
        d->pause_req = true;
        pthread_cond_broadcast(&d->cond);
        if (d->started)
            while (d->parked < d->nthreads)
                pthread_cond_wait(&d->parked_cond, &d->lock);
        d->clock_base_ns = guest_time(d);
        d->run_since_ns = 0;
        dom_runlog(d, "stop");
    }
    pthread_mutex_unlock(&d->lock);
    return was_running;
}

/* Each vCPU's share of the data pages, which end where the disk
 * ledgers begin (sim_layout.h). */
void dom_shares(struct dom *d)
{
    uint64_t lp, end = d->sb->disk_start ? d->sb->disk_start :
                                           d->cfg.nr_pages;

    sim_geometry(d->cfg.nr_pages, &lp, &d->data_start);
    d->nr_data = end > d->data_start ? end - d->data_start : 0;
    for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++)
        d->vcpus[i].share = d->nr_data > i ?
            (d->nr_data - i + d->cfg.nr_vcpus - 1) / d->cfg.nr_vcpus : 0;
}

/* The guest's threads, first started.  Caller holds d->lock. */
static int dom_start_vcpus(struct dom *d)
{
    int r;

    d->nthreads = 0;
    for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++) {
        r = pthread_create(&d->vcpus[i].thread, NULL, vcpu_main,
                           &d->vcpus[i]);
        if (r)
            return -r;
        d->nthreads++;
    }
    d->started = true;
    return disk_start_io(d);
}

int dom_unpause(struct dom *d)
{
    int r = 0;

    pthread_mutex_lock(&d->lock);
    if (d->pause_req && !d->disks_attached) {
        /* It never runs without its disks: take them back first (a
         * domain resumed after a migration that failed, or a restored
         * one started without being asked to attach them). */
        if (!d->started && disk_geometry_check(d, d->err, sizeof(d->err))) {
            pthread_mutex_unlock(&d->lock);
            return -EINVAL;
        }
        if (disk_attach(d, false, DISK_LEASE_WAIT_MS, d->err,
                        sizeof(d->err))) {
            pthread_mutex_unlock(&d->lock);
            dom_log("cannot run: %s", d->err);
            return -EBUSY;
        }
    }
    if (d->pause_req) {
        dom_runlog(d, "start");
        if (!d->started) {
            dom_shares(d);
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

