/*
 * xlmig-simdom: the domain process ("run"): its memory, its control socket and
 * the requests of sim_ipc.h.
 */
#include "xlmig-simdom/simdom.h"

#include "backend/sim/sim_nic.h"

struct dom D;

void dom_log(const char *fmt, ...)
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
    char text[4096];
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
        /* The NICs: device and what the guest's stack answered. */
        for (unsigned i = 0; i < d->cfg.nvifs && n > 0 &&
                             (size_t)n < sizeof(text); i++) {
            struct sim_nic_counters c;
            net_counters(d, i, &c);
            n += snprintf(text + n, sizeof(text) - (size_t)n,
                          "vif%u=%s rx=%" PRIu64 " tx=%" PRIu64 " arp=%"
                          PRIu64 " icmp=%" PRIu64 " udp=%" PRIu64 " ns=%"
                          PRIu64 " icmp6=%" PRIu64 " dropped=%" PRIu64 "\n",
                          i, d->tap_name[i], c.rx, c.tx, c.arp, c.icmp,
                          c.udp, c.ns, c.icmp6, c.dropped);
        }
        disk_info(d, text, sizeof(text), &n);
        pthread_mutex_unlock(&d->lock);
        if (n < 0 || (size_t)n >= sizeof(text))
            goto inval;
        sim_ipc_reply(cfd, 0, text, (size_t)n);
        return;
    }
    case SIM_MSG_PAUSE:
        dom_pause(d);
        sim_ipc_reply(cfd, 0, NULL, 0);
        return;
    case SIM_MSG_UNPAUSE:
        rc = dom_unpause(d);
        if (rc == -EBUSY || rc == -EINVAL)
            sim_ipc_reply(cfd, rc == -EBUSY ? XLMIG_ERR_LEASED :
                          XLMIG_ERR_BACKEND, d->err, strlen(d->err));
        else
            sim_ipc_reply(cfd, rc ? XLMIG_ERR_BACKEND : 0, NULL, 0);
        return;
    case SIM_MSG_DISKS_ATTACH:
    case SIM_MSG_DISKS_RELEASE:
        pthread_mutex_lock(&d->lock);
        if (!d->pause_req) {
            pthread_mutex_unlock(&d->lock);
            sim_ipc_reply(cfd, XLMIG_ERR_STATE, "domain is running", 17);
            return;
        }
        text[0] = '\0';
        if (type == SIM_MSG_DISKS_RELEASE)
            rc = disk_release(d, text, sizeof(text));
        else if (!d->started && d->cfg.ndisks &&
                 disk_geometry_check(d, text, sizeof(text)))
            rc = -1;
        else
            rc = disk_attach(d, false, 0, text, sizeof(text));
        pthread_mutex_unlock(&d->lock);
        if (rc)
            dom_log("%s", text);
        else if (d->cfg.ndisks)
            dom_log("disks %s", type == SIM_MSG_DISKS_RELEASE ?
                    "flushed and released" : "attached");
        sim_ipc_reply(cfd, rc ? (type == SIM_MSG_DISKS_ATTACH &&
                                 strstr(text, "in use") ?
                                 XLMIG_ERR_LEASED : XLMIG_ERR_IO) : 0,
                      text, rc ? strlen(text) : 0);
        return;
    case SIM_MSG_MIRROR_START: {
        char path[SIM_PATH_MAX + 1];
        if (len < 17 || len - 16 >= sizeof(path) || xlmig_get_u32(p + 4))
            goto inval;
        memcpy(path, p + 16, len - 16);
        path[len - 16] = '\0';
        if (path[0] != '/' || strlen(path) != len - 16)
            goto inval;
        text[0] = '\0';
        rc = mirror_start(d, xlmig_get_u32(p), path, xlmig_get_u64(p + 8),
                          text, sizeof(text));
        sim_ipc_reply(cfd, rc, text, rc ? strlen(text) : 0);
        return;
    }
    case SIM_MSG_DISK_TRACK_START:
    case SIM_MSG_DISK_TRACK_PEEK:
    case SIM_MSG_DISK_TRACK_STOP: {
        uint8_t *bm = NULL;
        long l;
        if (len != 4)
            goto inval;
        if (type == SIM_MSG_DISK_TRACK_STOP) {
            disk_track_stop(d, xlmig_get_u32(p));
            sim_ipc_reply(cfd, 0, NULL, 0);
            return;
        }
        l = type == SIM_MSG_DISK_TRACK_START ?
            disk_track_start(d, xlmig_get_u32(p)) :
            disk_track_peek(d, xlmig_get_u32(p), &bm);
        if (l < 0) {
            n = snprintf(text, sizeof(text), "disk %u: %s", xlmig_get_u32(p),
                         l == -ENOENT ? "not tracked" : strerror((int)-l));
            sim_ipc_reply(cfd, l == -EINVAL ? XLMIG_ERR_INVAL :
                          XLMIG_ERR_STATE, text, (size_t)n);
            return;
        }
        if (type == SIM_MSG_DISK_TRACK_START)
            dom_log("disk %u: tracking the blocks the guest writes",
                    xlmig_get_u32(p));
        sim_ipc_reply(cfd, 0, bm, bm ? (size_t)l : 0);
        free(bm);
        return;
    }
    case SIM_MSG_MIRROR_STATUS:
    case SIM_MSG_MIRROR_PIVOT:
    case SIM_MSG_MIRROR_CANCEL:
        if (len != 4)
            goto inval;
        text[0] = '\0';
        if (type == SIM_MSG_MIRROR_STATUS) {
            n = mirror_status(d, xlmig_get_u32(p), text, sizeof(text));
            rc = n < 0 ? n : 0;
            sim_ipc_reply(cfd, rc, text, rc ? strlen(text) : (size_t)n);
            return;
        }
        rc = type == SIM_MSG_MIRROR_PIVOT ?
             mirror_pivot(d, xlmig_get_u32(p), text, sizeof(text)) :
             mirror_cancel(d, xlmig_get_u32(p), text, sizeof(text));
        if (rc)
            dom_log("%s", text);
        sim_ipc_reply(cfd, rc, text, rc ? strlen(text) : 0);
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
        uint64_t dbad;
        sim_verify(d->ram, d->cfg.nr_pages, d->ramfd, &res);
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
        /* Then each disk against its ledger (sim_layout.h). */
        dbad = res.bad ? 0 : disk_verify(d, text, sizeof(text), &n);
        if (was)
            dom_unpause(d);
        if (n < 0 || (size_t)n >= sizeof(text))
            n = (int)strlen(text);
        sim_ipc_reply(cfd, res.bad || dbad ? XLMIG_ERR_FAIL : 0, text,
                      (size_t)n);
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
        /* A body of 1: only if it is off (a sample, not a migration's:
         * the migration owns the bitmap). */
        if (len == 4 && xlmig_get_u32(p) == 1 && d->ld != LD_OFF) {
            sim_ipc_reply(cfd, XLMIG_ERR_BUSY, "log-dirty is on already "
                          "(a migration)", 37);
            return;
        }
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
    bool running;

    dom_log("destroying");
    close(lfd);
    pthread_mutex_lock(&d->lock);
    running = d->started && !d->pause_req;
    d->quit = true;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (d->started)
        for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++)
            pthread_join(d->vcpus[i].thread, NULL);
    mirror_stop_all(d);
    disk_stop_io(d);            /* and the leases go with the images */
    if (running)
        dom_runlog(d, "stop");
    net_stop(d);                /* the TAP devices go with the process */
    ld_stop(d);
    munmap(d->ram, d->ram_len);
    close(d->ramfd);
    free(d->vcpus);
    sim_dom_cleanup_dir(d->dir);
}

int cmd_run(int argc, char **argv)
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

    d->vcpus = calloc(d->cfg.nr_vcpus, sizeof(*d->vcpus));
    if (!d->vcpus)
        FAIL("out of memory\n");
    for (unsigned i = 0; i < SIM_DISKS_MAX; i++) {
        d->disks[i].d = d;
        d->disks[i].idx = i;
        d->disks[i].fd = -1;
        pthread_mutex_init(&d->disks[i].io, NULL);
    }
    for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++) {
        struct vcpu *v = &d->vcpus[i];
        v->d = d;
        v->id = i;
        v->st.rng = d->cfg.seed * 0x9e3779b97f4a7c15u + i + 1;
        if (!v->st.rng)
            v->st.rng = 1;
    }
    if (!restored) {
        /* A domain being made takes its disks now (their sizes lay out
         * its ledgers); a restored one when it is handed over. */
        if (disk_attach(d, true, 0, why, sizeof(why)))
            FAIL("%s\n", why);
        format_memory(d);
        if (!disk_layout(d, d->data_start, why, sizeof(why)))
            FAIL("%s\n", why);
        dom_shares(d);
        if (fill) {
            for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++)
                pthread_create(&d->vcpus[i].thread, NULL, fill_main,
                               &d->vcpus[i]);
            for (uint32_t i = 0; i < d->cfg.nr_vcpus; i++)
                pthread_join(d->vcpus[i].thread, NULL);
        }
    }

    /* The NICs exist before the toolstack hears "ok": it attaches them
     * to their bridges next (vif-bridge-sim). */
    why[0] = '\0';
    if (net_open(d, why, sizeof(why)) || net_start(d))
        FAIL("%s\n", why[0] ? why : "cannot start the NIC thread");

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

