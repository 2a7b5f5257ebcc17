/*
 * Migration protocol v1 framing and messages: docs/specs/protocol.md is
 * the normative text; sizes here are pinned by static asserts in proto.c.
 */
#ifndef XLMIG_PROTO_H
#define XLMIG_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "core/private.h"

#define XLMIG_PROTO_MAGIC "XLMP"
#define XLMIG_PROTO_VERSION 1
#define XLMIG_PROTO_HDR_SIZE 24
#define XLMIG_PROTO_BODY_MAX (8u << 20)
#define XLMIG_PROTO_TEXT_MAX 1024
#define XLMIG_PROTO_OPTIONAL 0x80000000u

enum xlmig_msg_type {
    XLMIG_MSG_HELLO = 0x01,
    XLMIG_MSG_PREFLIGHT = 0x02,
    XLMIG_MSG_PREFLIGHT_RESULT = 0x03,
    XLMIG_MSG_PREPARE = 0x04,
    XLMIG_MSG_READY = 0x05,
    XLMIG_MSG_STREAM_DATA = 0x06,
    XLMIG_MSG_ROUND = 0x80000007,
    XLMIG_MSG_COMMIT = 0x08,
    XLMIG_MSG_COMMITTED = 0x09,
    XLMIG_MSG_ABORT = 0x0a,
    XLMIG_MSG_QUERY = 0x0c,
    XLMIG_MSG_JOB_STATE = 0x0d,
    XLMIG_MSG_RESTORE_FILE = 0x0e,
    XLMIG_MSG_ATTACH = 0x0f,
    XLMIG_MSG_CHANNEL_END = 0x10,
    XLMIG_MSG_SYNC = 0x11,
    XLMIG_MSG_TUNNEL = 0x12,
    XLMIG_MSG_TUNNEL_DATA = 0x13,
    XLMIG_MSG_TUNNEL_EXIT = 0x14,
    XLMIG_MSG_PREFLIGHT_REPORT = 0x15,
    XLMIG_MSG_DONE = 0x80000016,        /* optional */
    XLMIG_MSG_ANNOUNCED = 0x80000017,   /* optional */
};

/* HELLO capability bits. */
#define XLMIG_CAP_DONE (UINT64_C(1) << 0)   /* the source sends DONE */
/* The destination reports its announce in ANNOUNCED after DONE, and the
 * source waits for it. */
#define XLMIG_CAP_ANNOUNCE (UINT64_C(1) << 1)

#define XLMIG_MSG_HELLO_SIZE 96
#define XLMIG_MSG_PREFLIGHT_SIZE 120    /* the fixed part; needs follow */
#define XLMIG_MSG_REPORT_MAX (256u << 10)
#define XLMIG_MSG_PREPARE_SIZE 120
#define XLMIG_MSG_ROUND_SIZE 32
#define XLMIG_MSG_JOB_STATE_SIZE 16
#define XLMIG_MSG_ATTACH_SIZE 16
#define XLMIG_MSG_CHANNEL_END_SIZE 32
#define XLMIG_MSG_SYNC_SIZE 16
#define XLMIG_CHANNELS_MAX 64
#define XLMIG_MSG_TUNNEL_EXIT_SIZE 8
#define XLMIG_MSG_ANNOUNCED_SIZE 56
#define XLMIG_TUNNEL_ARGS_MAX 32        /* words in a TUNNEL command */
#define XLMIG_TUNNEL_DATA_MAX (256u << 10)

enum xlmig_job_state {
    XLMIG_JOBSTATE_UNKNOWN = 0,
    XLMIG_JOBSTATE_PREPARED = 1,
    XLMIG_JOBSTATE_RUNNING = 2,
    XLMIG_JOBSTATE_ROLLEDBACK = 3,
};

const char *xlmig_msg_name(uint32_t type);

struct xlmig_frame {
    uint16_t version;
    uint32_t type;
    uint32_t length;
    uint32_t crc;
};

/*
 * Does the frame checksum cover the body?  Not for STREAM_DATA, whose
 * body is stream records with checksums of their own, nor for
 * TUNNEL_DATA, a byte pipe: TLS protects every octet in transit, and a
 * second pass over every page would buy nothing.
 */
static inline bool xlmig_proto_body_summed(uint32_t type)
{
    return type != XLMIG_MSG_STREAM_DATA && type != XLMIG_MSG_TUNNEL_DATA;
}

/* Build the 24-octet header for a body given in pieces. */
void xlmig_proto_header(uint8_t hdr[XLMIG_PROTO_HDR_SIZE], uint16_t version,
                        uint32_t type, const struct iovec *body, int n);

/*
 * Validate a received header: magic, version (== @version), length cap.
 * On error returns XLMIG_ERR_STREAM/VERSION with the reason in @why.
 */
int xlmig_proto_parse_header(const uint8_t hdr[XLMIG_PROTO_HDR_SIZE],
                             uint16_t version, struct xlmig_frame *f,
                             char *why, size_t whylen) XLMIG_MUST_CHECK;

/*
 * Validate a received body against the header: checksum, then the type's
 * size rules and field values.  Unknown optional types pass; unknown
 * mandatory ones fail.
 */
int xlmig_proto_check_body(const uint8_t hdr[XLMIG_PROTO_HDR_SIZE],
                           const struct xlmig_frame *f, const uint8_t *body,
                           char *why, size_t whylen) XLMIG_MUST_CHECK;

/* ---- message bodies ---- */

struct xlmig_msg_hello {
    uint32_t min_version;
    uint32_t max_version;
    uint64_t caps;
    char host[64];
    char backend[16];
};

struct xlmig_msg_text {          /* PREFLIGHT_RESULT, ABORT, RESTORE_FILE */
    uint64_t job_id;             /* ABORT only */
    int32_t code;                /* ABORT: XLMIG_ERR_*; RESULT: verdict */
    char text[XLMIG_PROTO_TEXT_MAX + 1];
};

struct xlmig_msg_round {
    uint32_t round;
    uint64_t pages;
    uint64_t bytes;
    uint64_t duration_ns;
};

struct xlmig_msg_announced {
    uint64_t job_id;
    uint32_t vifs, frames, rarp, garp, na, dm_nics, errors;
    uint64_t first_ns, last_ns;         /* after the unpause */
};

size_t xlmig_msg_put_announced(uint8_t *b,
                               const struct xlmig_msg_announced *m);
void xlmig_msg_get_announced(const uint8_t *b, struct xlmig_msg_announced *m);
size_t xlmig_msg_put_hello(uint8_t *b, const struct xlmig_msg_hello *m);
void xlmig_msg_get_hello(const uint8_t *b, struct xlmig_msg_hello *m);
size_t xlmig_msg_put_u64(uint8_t *b, uint64_t v);      /* READY, COMMIT.. */
uint64_t xlmig_msg_get_u64(const uint8_t *b);
size_t xlmig_msg_put_result(uint8_t *b, size_t cap, int accepted,
                            const char *reason);
size_t xlmig_msg_put_abort(uint8_t *b, size_t cap, uint64_t job, int32_t code,
                           const char *reason);
size_t xlmig_msg_put_restore_file(uint8_t *b, size_t cap, uint64_t job,
                                  const char *path);
/* Decode PREFLIGHT_RESULT, ABORT or RESTORE_FILE (by @type); text is
 * NUL-terminated. */
void xlmig_msg_get_text(uint32_t type, const uint8_t *b, uint32_t len,
                        struct xlmig_msg_text *m);
size_t xlmig_msg_put_round(uint8_t *b, const struct xlmig_msg_round *m);
void xlmig_msg_get_round(const uint8_t *b, struct xlmig_msg_round *m);
size_t xlmig_msg_put_job_state(uint8_t *b, uint64_t job, uint32_t state);

struct xlmig_msg_attach {       /* ATTACH: a data channel joins a job */
    uint64_t job_id;
    uint32_t channel;            /* 1 .. channels - 1 */
    uint32_t channels;
};

struct xlmig_msg_chan_end {     /* CHANNEL_END: what the channel carried */
    uint64_t job_id;
    uint32_t channel;
    uint32_t records;
    uint64_t pages_data;
    uint64_t pages_zero;
};

size_t xlmig_msg_put_attach(uint8_t *b, const struct xlmig_msg_attach *m);
void xlmig_msg_get_attach(const uint8_t *b, struct xlmig_msg_attach *m);
size_t xlmig_msg_put_chan_end(uint8_t *b, const struct xlmig_msg_chan_end *m);
void xlmig_msg_get_chan_end(const uint8_t *b, struct xlmig_msg_chan_end *m);

/* Pick the highest version both ranges hold; 0 if none. */
uint32_t xlmig_proto_negotiate(uint32_t amin, uint32_t amax, uint32_t bmin,
                               uint32_t bmax);

#endif
