#include "engine/announce.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/config.h"
#include "proto/l2.h"
#include "proto/preflight.h"

struct xlmig_announce {
    xlmig_ctx *ctx;
    char domain[XLMIG_NAME_MAX];
    struct xlmig_vif vifs[XLMIG_VIFS_MAX];
    unsigned ifindex[XLMIG_VIFS_MAX];
    unsigned n;
    struct xlmig_announce_conf conf;
    uint64_t t0_ns;
    uint64_t first_round_ns;    /* the schedule counts from it */
    int fd;
    pthread_t thread;
    bool threaded;
    struct xlmig_announce_report r;
};

void xlmig_announce_conf_of(const struct xlmigd_config *cfg,
                            struct xlmig_announce_conf *a)
{
    a->enabled = cfg->announce != 0;
    a->rounds = cfg->announce_rounds;
    a->initial_ms = cfg->announce_initial_ms;
    a->step_ms = cfg->announce_step_ms;
    a->max_ms = cfg->announce_max_ms;
}

unsigned xlmig_announce_gap_ms(const struct xlmig_announce_conf *a,
                               unsigned k)
{
    uint64_t gap = (uint64_t)a->initial_ms + (uint64_t)(k - 1) * a->step_ms;

    return gap > a->max_ms ? a->max_ms : (unsigned)gap;
}

static void send_frame(struct xlmig_announce *an, unsigned i,
                       const uint8_t *f, size_t len, uint32_t *kind)
{
    struct sockaddr_ll sll;

    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_ifindex = (int)an->ifindex[i];
    sll.sll_halen = 6;
    memcpy(sll.sll_addr, f, 6);
    if (sendto(an->fd, f, len, 0, (struct sockaddr *)&sll,
               sizeof(sll)) != (ssize_t)len) {
        if (!an->r.errors++)
            LOG_WARN(an->ctx, "%s: announce on %s: %s", an->domain,
                     an->vifs[i].bridge, strerror(errno));
        return;
    }
    if (!an->r.frames++)
        an->r.first_ns = xlmig_now_ns() - an->t0_ns;
    an->r.last_ns = xlmig_now_ns() - an->t0_ns;
    (*kind)++;
}

/* One round: every MAC, then every configured address. */
static void round_once(struct xlmig_announce *an)
{
    uint8_t f[XLMIG_L2_FRAME_MAX];

    for (unsigned i = 0; i < an->n; i++) {
        const struct xlmig_vif *v = &an->vifs[i];
        if (!an->ifindex[i])
            continue;
        send_frame(an, i, f, xlmig_l2_rarp(v->mac, f), &an->r.rarp);
        for (unsigned k = 0; k < v->nip4; k++)
            send_frame(an, i, f, xlmig_l2_garp(v->mac, v->ip4[k], f),
                       &an->r.garp);
        for (unsigned k = 0; k < v->nip6; k++)
            send_frame(an, i, f, xlmig_l2_una(v->mac, v->ip6[k], f),
                       &an->r.na);
    }
}

static void sleep_until(uint64_t ns)
{
    struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000u),
                           .tv_nsec = (long)(ns % 1000000000u) };

    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
           EINTR)
        ;
}

static void *announce_main(void *arg)
{
    struct xlmig_announce *an = arg;
    uint64_t due = an->first_round_ns;

    for (unsigned k = 1; k < an->conf.rounds; k++) {
        due += (uint64_t)xlmig_announce_gap_ms(&an->conf, k) * 1000000u;
        sleep_until(due);
        round_once(an);
    }
    return NULL;
}

struct xlmig_announce *xlmig_announce_start(
    xlmig_ctx *ctx, const char *domain, const struct xlmig_vif *v,
    unsigned n, const struct xlmig_announce_conf *a, uint64_t t0_ns)
{
    struct xlmig_announce *an;
    unsigned on_bridge = 0;

    if (!a->enabled || !a->rounds || !n) {
        if (n && !a->enabled)
            LOG_INFO(ctx, "%s: announce is off (xlmigd.conf): switches "
                     "learn the new port when the guest sends", domain);
        return NULL;
    }
    an = calloc(1, sizeof(*an));
    if (!an) {
        LOG_ERR(ctx, "%s: no memory to announce", domain);
        return NULL;
    }
    an->ctx = ctx;
    snprintf(an->domain, sizeof(an->domain), "%s", domain);
    an->n = n > XLMIG_VIFS_MAX ? XLMIG_VIFS_MAX : n;
    memcpy(an->vifs, v, an->n * sizeof(*v));
    an->conf = *a;
    an->t0_ns = t0_ns;
    for (unsigned i = 0; i < an->n; i++) {
        if (!v[i].bridge[0])
            continue;
        an->ifindex[i] = if_nametoindex(v[i].bridge);
        if (!an->ifindex[i])
            LOG_WARN(ctx, "%s: vif %s: no bridge %s to announce on",
                     domain, v[i].dev, v[i].bridge);
        else
            on_bridge++;
    }
    an->r.vifs = on_bridge;
    if (!on_bridge) {
        free(an);
        return NULL;
    }
    /* Send only: protocol 0 receives nothing. */
    an->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (an->fd < 0) {
        LOG_ERR(ctx, "%s: cannot announce: AF_PACKET socket: %s", domain,
                strerror(errno));
        free(an);
        return NULL;
    }
    an->first_round_ns = xlmig_now_ns();
    round_once(an);
    if (an->conf.rounds > 1) {
        int r = pthread_create(&an->thread, NULL, announce_main, an);
        if (r)
            LOG_WARN(ctx, "%s: announce: one round only (%s)", domain,
                     strerror(r));
        else
            an->threaded = true;
    }
    return an;
}

void xlmig_announce_finish(struct xlmig_announce *an,
                           struct xlmig_announce_report *r)
{
    char macs[XLMIG_VIFS_MAX * 40] = "";
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    if (!an)
        return;
    if (an->threaded)
        pthread_join(an->thread, NULL);
    close(an->fd);
    for (unsigned i = 0; i < an->n; i++) {
        char m[18];
        if (!an->ifindex[i])
            continue;
        xlmig_mac_format(an->vifs[i].mac, m);
        off += (size_t)snprintf(macs + off, sizeof(macs) - off, "%s%s on %s",
                                off ? ", " : "", m, an->vifs[i].bridge);
        if (off >= sizeof(macs))
            break;
    }
    LOG_INFO(an->ctx, "%s: announced %s: %u frames (%u RARP, %u ARP, %u "
             "NA) in %u rounds, first %.1f ms and last %.1f ms after the "
             "unpause%s", an->domain, macs, an->r.frames, an->r.rarp,
             an->r.garp, an->r.na, an->conf.rounds,
             an->r.first_ns / 1e6, an->r.last_ns / 1e6,
             an->r.errors ? "; some could not be sent" : "");
    *r = an->r;
    free(an);
}
