/*
 * Control protocol between the tools and a simulated domain (xlmig-simdom
 * run), over the domain's unix socket.  Typed, size-checked messages:
 *
 *   request:  u32 type, u32 length, then length bytes
 *   reply:    i32 status (0 or XLMIG_ERR_*), u32 length, then length bytes
 *
 * A peer that sends an unknown type or a length over SIM_IPC_MAX gets an
 * error reply and is disconnected.  docs/simdom.md lists the messages.
 */
#ifndef XLMIG_SIM_IPC_H
#define XLMIG_SIM_IPC_H

#include <stddef.h>
#include <stdint.h>

#define SIM_IPC_MAX (8u << 20)

enum sim_msg {
    SIM_MSG_INFO = 1,           /* -> "key=value\n" text */
    SIM_MSG_PAUSE = 2,
    SIM_MSG_UNPAUSE = 3,
    SIM_MSG_DESTROY = 4,
    SIM_MSG_GET_VCPU = 5,       /* u32 id -> state */
    SIM_MSG_SET_VCPU = 6,       /* u32 id, state */
    SIM_MSG_GET_CLOCK = 7,      /* -> u64 guest time ns */
    SIM_MSG_SET_CLOCK = 8,      /* u64 guest time ns */
    SIM_MSG_VERIFY = 9,         /* -> text; status fails if memory is bad */
    SIM_MSG_HASH = 10,          /* -> 32 byte SHA-256 of memory */
    SIM_MSG_LOGDIRTY_START = 11,        /* -> mode name */
    SIM_MSG_LOGDIRTY_PEEK_CLEAR = 12,   /* -> bitmap, one bit per pfn */
    SIM_MSG_LOGDIRTY_STOP = 13,
    SIM_MSG_SET_THROTTLE = 14,  /* u32 percent of CPU time taken, 0-99 */
    SIM_MSG_DISKS_ATTACH = 15,  /* open and lease every disk */
    SIM_MSG_DISKS_RELEASE = 16, /* paused: flush, close, give the leases */
    /* A storage move (docs/storage.md): each names the disk by its
     * index in the config, u32 first. */
    SIM_MSG_MIRROR_START = 17,  /* u32 disk, u32 0, u64 octets/s (0: no
                                 * cap), the new image's path */
    SIM_MSG_MIRROR_STATUS = 18, /* u32 disk -> "state=... " text */
    SIM_MSG_MIRROR_PIVOT = 19,  /* u32 disk: switch to the new image */
    SIM_MSG_MIRROR_CANCEL = 20, /* u32 disk: stop; stay on the old one */
    /* A disk copied with the domain (migrate --copy-storage): the blocks
     * the guest writes, one bit each, set once the write completed. */
    SIM_MSG_DISK_TRACK_START = 21,      /* u32 disk */
    SIM_MSG_DISK_TRACK_PEEK = 22,       /* u32 disk -> bitmap; clears it */
    SIM_MSG_DISK_TRACK_STOP = 23,       /* u32 disk */
    SIM_MSG_MAX = 23,
};

/* vCPU "registers": what a vCPU thread needs to continue its workload. */
#define SIM_VCPU_STATE_SIZE 32
struct sim_vcpu_state {
    uint64_t rng;               /* workload PRNG state */
    uint64_t writes;            /* page writes done */
    uint64_t seq_pos;           /* next index for the sequential pattern */
    uint64_t reserved;
};
_Static_assert(sizeof(struct sim_vcpu_state) == SIM_VCPU_STATE_SIZE,
               "vcpu state size");

#define SIM_DEVICE_CLOCK 1      /* DEVICE_STATE type for the guest clock */

/*
 * Send one request on @fd and read the reply.  *reply (malloc'd, caller
 * frees, may be NULL when empty) and *reply_len receive the payload.
 * Returns the peer's status, or an XLMIG_ERR_* for transport failures.
 */
int sim_ipc_call(int fd, uint32_t type, const void *req, size_t req_len,
                 void **reply, size_t *reply_len);
/* Connect to the control socket at @path; returns fd or -errno. */
int sim_ipc_connect(const char *path);

/* Server side: read one request (payload malloc'd) or send one reply. */
int sim_ipc_recv(int fd, uint32_t *type, void **payload, size_t *len);
int sim_ipc_reply(int fd, int32_t status, const void *p, size_t len);

#endif
