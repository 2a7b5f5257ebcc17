/*
 * xlmig-simdom: log-dirty: userfaultfd write-protection, asynchronous with
 * PAGEMAP_SCAN where the kernel has it, synchronous faults otherwise.
 */
#include "xlmig-simdom/simdom.h"

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

int ld_start(struct dom *d, const char **mode)
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

void ld_stop(struct dom *d)
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
int ld_peek_clear(struct dom *d, uint8_t *bm)
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

