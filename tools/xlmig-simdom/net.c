/*
 * The simulated guest's NICs: one TAP device per vif (vifD.N, as netback
 * names a Xen guest's vif in dom0), read and answered by one thread
 * through sim_nic_input().  The thread is part of the guest: it handles
 * frames only while the vCPUs run, and its counters live in guest memory,
 * so a paused domain answers nothing and a migrated one keeps counting
 * where it left off.  Attaching a TAP to its bridge is dom0's job (the
 * vif-bridge-sim script, run by the toolstack), not the guest's.
 */
#include "xlmig-simdom/simdom.h"

#include <linux/if.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>

#include "backend/sim/sim_nic.h"

static struct sim_nic_counters *counters(struct dom *d, unsigned i)
{
    return (struct sim_nic_counters *)((uint8_t *)d->sb + SIM_SB_NET_OFF) + i;
}

void net_counters(struct dom *d, unsigned i, struct sim_nic_counters *out)
{
    memcpy(out, counters(d, i), sizeof(*out));
}

int net_open(struct dom *d, char *why, size_t whylen)
{
    /* The host side's own address, as netback gives a vif: never the
     * lowest on a bridge, so the bridge never takes it for its own. */
    static const uint8_t host_mac[6] = { 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff };

    for (unsigned i = 0; i < d->cfg.nvifs; i++)
        d->tap[i] = -1;
    if (pipe2(d->net_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
        snprintf(why, whylen, "pipe: %s", strerror(errno));
        return -1;
    }
    for (unsigned i = 0; i < d->cfg.nvifs; i++) {
        struct ifreq ifr;
        int fd, s;

        memset(&ifr, 0, sizeof(ifr));
        sim_vif_name(d->domid, i, ifr.ifr_name);
        fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0) {
            snprintf(why, whylen, "vif %u: cannot open /dev/net/tun: %s", i,
                     strerror(errno));
            return -1;
        }
        d->tap[i] = fd;
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
            snprintf(why, whylen, "vif %u: cannot create TAP device %s: %s",
                     i, ifr.ifr_name, strerror(errno));
            return -1;
        }
        snprintf(d->tap_name[i], sizeof(d->tap_name[i]), "%s", ifr.ifr_name);
        s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s < 0) {
            snprintf(why, whylen, "socket: %s", strerror(errno));
            return -1;
        }
        ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
        memcpy(ifr.ifr_hwaddr.sa_data, host_mac, 6);
        if (ioctl(s, SIOCSIFHWADDR, &ifr) < 0) {
            snprintf(why, whylen, "vif %u: cannot set the address of %s: %s",
                     i, ifr.ifr_name, strerror(errno));
            close(s);
            return -1;
        }
        close(s);
    }
    return 0;
}

static void *net_main(void *arg)
{
    struct dom *d = arg;
    struct pollfd pfd[SIM_VIFS_MAX + 1];
    unsigned n = d->cfg.nvifs;
    uint8_t *in = malloc(SIM_NIC_FRAME_MAX);
    uint8_t *out = malloc(SIM_NIC_FRAME_MAX + 64);

    if (!in || !out) {
        dom_log("network: out of memory; the NICs answer nothing");
        goto out;
    }
    for (unsigned i = 0; i < n; i++)
        pfd[i] = (struct pollfd){ d->tap[i], POLLIN, 0 };
    pfd[n] = (struct pollfd){ d->net_pipe[0], POLLIN, 0 };
    for (;;) {
        /* Paused: no frame is taken off a TAP, as a paused guest's
         * netfront takes nothing off its ring. */
        pthread_mutex_lock(&d->lock);
        while (d->pause_req && !d->quit)
            pthread_cond_wait(&d->cond, &d->lock);
        if (d->quit) {
            pthread_mutex_unlock(&d->lock);
            break;
        }
        pthread_mutex_unlock(&d->lock);
        if (poll(pfd, n + 1, 200) <= 0)
            continue;
        if (pfd[n].revents)
            break;
        pthread_mutex_lock(&d->lock);
        for (unsigned i = 0; i < n && !d->pause_req; i++) {
            if (!(pfd[i].revents & POLLIN))
                continue;
            /* A bounded batch per wakeup, so one busy vif cannot hold
             * the others (or a pause) off. */
            for (int k = 0; k < 64 && !d->pause_req; k++) {
                ssize_t r = read(d->tap[i], in, SIM_NIC_FRAME_MAX);
                size_t a;
                if (r <= 0)
                    break;
                a = sim_nic_input(&d->cfg.vifs[i], in, (size_t)r, out,
                                  SIM_NIC_FRAME_MAX + 64, counters(d, i));
                if (a && write(d->tap[i], out, a) != (ssize_t)a)
                    counters(d, i)->dropped++;
            }
        }
        pthread_mutex_unlock(&d->lock);
    }
out:
    free(in);
    free(out);
    return NULL;
}

int net_start(struct dom *d)
{
    int r;

    if (!d->cfg.nvifs)
        return 0;
    r = pthread_create(&d->net_thread, NULL, net_main, d);
    if (r)
        return -r;
    d->net_started = true;
    return 0;
}

void net_stop(struct dom *d)
{
    if (d->net_started) {
        if (write(d->net_pipe[1], "q", 1) != 1)
            dom_log("network: cannot wake the NIC thread");
        pthread_mutex_lock(&d->lock);
        pthread_cond_broadcast(&d->cond);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->net_thread, NULL);
        d->net_started = false;
    }
    for (unsigned i = 0; i < d->cfg.nvifs; i++)
        if (d->tap[i] >= 0) {
            close(d->tap[i]);
            d->tap[i] = -1;
        }
}
