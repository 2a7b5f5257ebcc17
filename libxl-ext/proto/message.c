/*
 * Migration protocol framing: docs/specs/protocol.md.  Received frames are
 * hostile: the header is checked before the body is read (length capped),
 * the checksum before the body is looked at, and each type's size and
 * field rules before anything acts on it.
 */
#include "proto/message.h"

#include <stdio.h>
#include <inttypes.h>
#include <string.h>
#include <sys/uio.h>

#include "core/crc32c.h"
#include "core/cursor.h"
#include "proto/preflight.h"
#include "proto/stream.h"

BUILD_BUG_ON(XLMIG_PROTO_HDR_SIZE != 4 + 2 + 2 + 4 + 4 + 4 + 4);
BUILD_BUG_ON(XLMIG_MSG_HELLO_SIZE != 4 + 4 + 8 + 64 + 16);
BUILD_BUG_ON(XLMIG_MSG_PREFLIGHT_SIZE != XLMIG_DOMAIN_INFO_SIZE + 8 + 4 + 4);
BUILD_BUG_ON(XLMIG_PROTO_BODY_MAX < XLMIG_MSG_PREFLIGHT_SIZE + XLMIG_PF_NEEDS_MAX);
BUILD_BUG_ON(XLMIG_MSG_PREPARE_SIZE != 8 + 4 + 4 + XLMIG_DOMAIN_INFO_SIZE);
BUILD_BUG_ON(XLMIG_MSG_ROUND_SIZE != 4 + 4 + 8 + 8 + 8);
BUILD_BUG_ON(XLMIG_MSG_JOB_STATE_SIZE != 8 + 4 + 4);
BUILD_BUG_ON(XLMIG_MSG_ATTACH_SIZE != 8 + 4 + 4);
BUILD_BUG_ON(XLMIG_MSG_CHANNEL_END_SIZE != 8 + 4 + 4 + 8 + 8);
BUILD_BUG_ON(XLMIG_CHANNELS_MAX != XLMIG_LANES_MAX);
BUILD_BUG_ON(XLMIG_PROTO_BODY_MAX < XLMIG_REC_HDR_SIZE + XLMIG_REC_BODY_MAX);

static const struct {
    uint32_t type;
    const char *name;
} names[] = {
    { XLMIG_MSG_HELLO, "HELLO" },
    { XLMIG_MSG_PREFLIGHT, "PREFLIGHT" },
    { XLMIG_MSG_PREFLIGHT_RESULT, "PREFLIGHT_RESULT" },
    { XLMIG_MSG_PREPARE, "PREPARE" },
    { XLMIG_MSG_READY, "READY" },
    { XLMIG_MSG_STREAM_DATA, "STREAM_DATA" },
    { XLMIG_MSG_ROUND, "ROUND" },
    { XLMIG_MSG_DONE, "DONE" },
    { XLMIG_MSG_ANNOUNCED, "ANNOUNCED" },
    { XLMIG_MSG_COMMIT, "COMMIT" },
    { XLMIG_MSG_COMMITTED, "COMMITTED" },
    { XLMIG_MSG_ABORT, "ABORT" },
    { XLMIG_MSG_QUERY, "QUERY" },
    { XLMIG_MSG_JOB_STATE, "JOB_STATE" },
    { XLMIG_MSG_RESTORE_FILE, "RESTORE_FILE" },
    { XLMIG_MSG_ATTACH, "ATTACH" },
    { XLMIG_MSG_CHANNEL_END, "CHANNEL_END" },
    { XLMIG_MSG_SYNC, "SYNC" },
    { XLMIG_MSG_TUNNEL, "TUNNEL" },
    { XLMIG_MSG_TUNNEL_DATA, "TUNNEL_DATA" },
    { XLMIG_MSG_TUNNEL_EXIT, "TUNNEL_EXIT" },
    { XLMIG_MSG_PREFLIGHT_REPORT, "PREFLIGHT_REPORT" },
};

const char *xlmig_msg_name(uint32_t type)
{
    for (size_t i = 0; i < ARRAY_SIZE(names); i++)
        if (names[i].type == type)
            return names[i].name;
    return type & XLMIG_PROTO_OPTIONAL ? "unknown optional" :
                                         "unknown mandatory";
}

void xlmig_proto_header(uint8_t h[XLMIG_PROTO_HDR_SIZE], uint16_t version,
                        uint32_t type, const struct iovec *body, int n)
{
    size_t len = 0;
    uint32_t crc;

    for (int i = 0; i < n; i++)
        len += body[i].iov_len;
    memset(h, 0, XLMIG_PROTO_HDR_SIZE);
    memcpy(h, XLMIG_PROTO_MAGIC, 4);
    h[4] = (uint8_t)version;
    h[5] = (uint8_t)(version >> 8);
    xlmig_put_u32(h + 8, type);
    xlmig_put_u32(h + 12, (uint32_t)len);
    crc = xlmig_crc32c(0, h, XLMIG_PROTO_HDR_SIZE);
    for (int i = 0; i < n && xlmig_proto_body_summed(type); i++)
        crc = xlmig_crc32c(crc, body[i].iov_base, body[i].iov_len);
    xlmig_put_u32(h + 16, crc);
}

#define why_set(why, len, ...) \
    xlmig_why((why), (len), XLMIG_ERR_STREAM, __VA_ARGS__)

int xlmig_proto_parse_header(const uint8_t h[XLMIG_PROTO_HDR_SIZE],
                             uint16_t version, struct xlmig_frame *f,
                             char *why, size_t whylen)
{
    if (memcmp(h, XLMIG_PROTO_MAGIC, 4))
        return why_set(why, whylen, "bad frame magic %02x%02x%02x%02x "
                       "(connection out of step)", h[0], h[1], h[2], h[3]);
    f->version = (uint16_t)(h[4] | h[5] << 8);
    f->type = xlmig_get_u32(h + 8);
    f->length = xlmig_get_u32(h + 12);
    f->crc = xlmig_get_u32(h + 16);
    if (f->version != version) {
        why_set(why, whylen, "frame version %u, expected %u", f->version,
                version);
        return XLMIG_ERR_VERSION;
    }
    if (f->type == 0)
        return why_set(why, whylen, "message type 0 is invalid");
    if (f->length > XLMIG_PROTO_BODY_MAX)
        return why_set(why, whylen, "%s of %u bytes exceeds the %u byte "
                       "limit", xlmig_msg_name(f->type), f->length,
                       XLMIG_PROTO_BODY_MAX);
    return 0;
}

static bool name_field_ok(const uint8_t *p, size_t len)
{
    const uint8_t *nul = memchr(p, '\0', len);

    if (!nul || nul == p)
        return false;
    for (; p < nul; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
              (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
              *p == '.'))
            return false;
    return true;
}

static int exact(const struct xlmig_frame *f, uint32_t size, char *why,
                 size_t whylen)
{
    if (f->length != size)
        return why_set(why, whylen, "%s: length %u, expected %u",
                       xlmig_msg_name(f->type), f->length, size);
    return 0;
}

int xlmig_proto_check_body(const uint8_t hdr[XLMIG_PROTO_HDR_SIZE],
                           const struct xlmig_frame *f, const uint8_t *body,
                           char *why, size_t whylen)
{
    uint8_t h[XLMIG_PROTO_HDR_SIZE];
    struct xlmig_domain_desc d;
    struct xlmig_record rec;
    uint32_t crc;
    int rc;

    memcpy(h, hdr, sizeof(h));
    xlmig_put_u32(h + 16, 0);
    crc = xlmig_crc32c(0, h, sizeof(h));
    if (xlmig_proto_body_summed(f->type))
        crc = xlmig_crc32c(crc, body, f->length);
    if (crc != f->crc)
        return why_set(why, whylen, "%s: checksum: computed 0x%08x, frame "
                       "says 0x%08x", xlmig_msg_name(f->type), crc, f->crc);

    switch (f->type) {
    case XLMIG_MSG_HELLO: {
        struct xlmig_msg_hello m;
        if ((rc = exact(f, XLMIG_MSG_HELLO_SIZE, why, whylen)))
            return rc;
        xlmig_msg_get_hello(body, &m);
        if (m.min_version == 0 || m.min_version > m.max_version)
            return why_set(why, whylen, "HELLO: bad version range %u..%u",
                           m.min_version, m.max_version);
        if (!name_field_ok(body + 16, 64) || !name_field_ok(body + 80, 16))
            return why_set(why, whylen, "HELLO: host or backend name is "
                           "not a NUL-terminated [A-Za-z0-9_.-] string");
        return 0;
    }
    case XLMIG_MSG_PREFLIGHT:
    case XLMIG_MSG_PREPARE: {
        size_t off = f->type == XLMIG_MSG_PREFLIGHT ? 0 : 16;
        char w[160];
        if (f->type == XLMIG_MSG_PREFLIGHT) {
            uint32_t flags;
            if (f->length < XLMIG_MSG_PREFLIGHT_SIZE ||
                f->length > XLMIG_MSG_PREFLIGHT_SIZE + XLMIG_PF_NEEDS_MAX)
                return why_set(why, whylen, "PREFLIGHT: length %u, expected "
                               "%u to %u", f->length,
                               XLMIG_MSG_PREFLIGHT_SIZE,
                               XLMIG_MSG_PREFLIGHT_SIZE + XLMIG_PF_NEEDS_MAX);
            flags = xlmig_get_u32(body + XLMIG_DOMAIN_INFO_SIZE + 8);
            if (flags & ~(uint32_t)XLMIG_PF_FLAGS_KNOWN)
                return why_set(why, whylen, "PREFLIGHT: unknown flags "
                               "0x%x", flags);
        } else if ((rc = exact(f, XLMIG_MSG_PREPARE_SIZE, why, whylen))) {
            return rc;
        }
        if (f->type == XLMIG_MSG_PREPARE &&
            (xlmig_get_u32(body + 8) == 0 ||
             xlmig_get_u32(body + 8) > XLMIG_CHANNELS_MAX))
            return why_set(why, whylen, "PREPARE: %u data channels, "
                           "expected 1 to %u", xlmig_get_u32(body + 8),
                           XLMIG_CHANNELS_MAX);
        memset(&rec, 0, sizeof(rec));
        rec.type = XLMIG_REC_DOMAIN_INFO;
        rec.length = XLMIG_DOMAIN_INFO_SIZE;
        rec.body = body + off;
        if (xlmig_rec_get_domain_info(&rec, &d, w, sizeof(w)))
            return why_set(why, whylen, "%s: domain: %s",
                           xlmig_msg_name(f->type), w);
        return 0;
    }
    case XLMIG_MSG_RESTORE_FILE:
        if (f->length < 17 || f->length - 16 > XLMIG_PROTO_TEXT_MAX)
            return why_set(why, whylen, "RESTORE_FILE: length %u, expected "
                           "17 to %u", f->length, 16 + XLMIG_PROTO_TEXT_MAX);
        if (memchr(body + 16, '\0', f->length - 16) || body[16] != '/')
            return why_set(why, whylen, "RESTORE_FILE: the path must be "
                           "absolute and contain no NUL");
        return 0;
    case XLMIG_MSG_PREFLIGHT_RESULT:
    case XLMIG_MSG_ABORT: {
        uint32_t fixed = f->type == XLMIG_MSG_ABORT ? 16 : 8;
        if (f->length < fixed || f->length - fixed > XLMIG_PROTO_TEXT_MAX)
            return why_set(why, whylen, "%s: length %u, expected %u to %u",
                           xlmig_msg_name(f->type), f->length, fixed,
                           fixed + XLMIG_PROTO_TEXT_MAX);
        if (memchr(body + fixed, '\0', f->length - fixed))
            return why_set(why, whylen, "%s: text contains a NUL",
                           xlmig_msg_name(f->type));
        if (f->type == XLMIG_MSG_PREFLIGHT_RESULT &&
            xlmig_get_u32(body) > 1)
            return why_set(why, whylen, "PREFLIGHT_RESULT: verdict %u, "
                           "expected 0 or 1", xlmig_get_u32(body));
        return 0;
    }
    case XLMIG_MSG_PREFLIGHT_REPORT:
        if (f->length < 8 || f->length > XLMIG_MSG_REPORT_MAX)
            return why_set(why, whylen, "PREFLIGHT_REPORT: length %u, "
                           "expected 8 to %u", f->length,
                           XLMIG_MSG_REPORT_MAX);
        return 0;
    case XLMIG_MSG_READY:
    case XLMIG_MSG_COMMIT:
    case XLMIG_MSG_COMMITTED:
    case XLMIG_MSG_QUERY:
    case XLMIG_MSG_DONE:
        return exact(f, 8, why, whylen);
    case XLMIG_MSG_STREAM_DATA:
        if (f->length == 0)
            return why_set(why, whylen, "STREAM_DATA: empty");
        return 0;
    case XLMIG_MSG_ROUND:
        return exact(f, XLMIG_MSG_ROUND_SIZE, why, whylen);
    case XLMIG_MSG_ANNOUNCED: {
        struct xlmig_msg_announced m;
        if ((rc = exact(f, XLMIG_MSG_ANNOUNCED_SIZE, why, whylen)))
            return rc;
        xlmig_msg_get_announced(body, &m);
        if (m.vifs > 64 || m.rarp + (uint64_t)m.garp + m.na != m.frames ||
            m.first_ns > m.last_ns)
            return why_set(why, whylen, "ANNOUNCED: %u vifs, %u frames of "
                           "%u + %u + %u, first %" PRIu64 " ns, last %"
                           PRIu64 " ns: inconsistent", m.vifs, m.frames,
                           m.rarp, m.garp, m.na, m.first_ns, m.last_ns);
        return 0;
    }
    case XLMIG_MSG_SYNC:
        return exact(f, XLMIG_MSG_SYNC_SIZE, why, whylen);
    case XLMIG_MSG_ATTACH: {
        struct xlmig_msg_attach m;
        if ((rc = exact(f, XLMIG_MSG_ATTACH_SIZE, why, whylen)))
            return rc;
        xlmig_msg_get_attach(body, &m);
        if (m.channels < 2 || m.channels > XLMIG_CHANNELS_MAX ||
            m.channel == 0 || m.channel >= m.channels)
            return why_set(why, whylen, "ATTACH: channel %u of %u, "
                           "expected 1 to channels - 1, channels 2 to %u",
                           m.channel, m.channels, XLMIG_CHANNELS_MAX);
        return 0;
    }
    case XLMIG_MSG_CHANNEL_END: {
        struct xlmig_msg_chan_end m;
        if ((rc = exact(f, XLMIG_MSG_CHANNEL_END_SIZE, why, whylen)))
            return rc;
        xlmig_msg_get_chan_end(body, &m);
        if (m.channel == 0 || m.channel >= XLMIG_CHANNELS_MAX)
            return why_set(why, whylen, "CHANNEL_END: channel %u, "
                           "expected 1 to %u", m.channel,
                           XLMIG_CHANNELS_MAX - 1);
        if (m.pages_data > XLMIG_NR_PAGES_MAX * 1024 ||
            m.pages_zero > XLMIG_NR_PAGES_MAX * 1024)
            return why_set(why, whylen, "CHANNEL_END: implausible page "
                           "counts");
        return 0;
    }
    case XLMIG_MSG_TUNNEL: {
        unsigned words = 0;
        if (f->length == 0 || f->length > XLMIG_PROTO_TEXT_MAX ||
            body[f->length - 1] != '\0')
            return why_set(why, whylen, "TUNNEL: length %u, expected 1 to "
                           "%u octets ending in NUL", f->length,
                           XLMIG_PROTO_TEXT_MAX);
        for (uint32_t i = 0; i < f->length; i++) {
            if (body[i] == '\0') {
                if (i == 0 || body[i - 1] == '\0')
                    return why_set(why, whylen, "TUNNEL: empty word %u",
                                   words + 1);
                words++;
            } else if (body[i] < 0x21 || body[i] > 0x7e) {
                return why_set(why, whylen, "TUNNEL: word %u holds octet "
                               "0x%02x (printable ASCII only)", words + 1,
                               body[i]);
            }
        }
        if (words > XLMIG_TUNNEL_ARGS_MAX)
            return why_set(why, whylen, "TUNNEL: %u words, at most %u",
                           words, XLMIG_TUNNEL_ARGS_MAX);
        return 0;
    }
    case XLMIG_MSG_TUNNEL_DATA:
        if (f->length < 8 || f->length - 8 > XLMIG_TUNNEL_DATA_MAX)
            return why_set(why, whylen, "TUNNEL_DATA: length %u, expected 8 "
                           "to %u", f->length, 8 + XLMIG_TUNNEL_DATA_MAX);
        if (xlmig_get_u32(body) > 2 || xlmig_get_u32(body + 4) != 0)
            return why_set(why, whylen, "TUNNEL_DATA: stream %u (expected "
                           "0, 1 or 2), reserved 0x%x (expected 0)",
                           xlmig_get_u32(body), xlmig_get_u32(body + 4));
        return 0;
    case XLMIG_MSG_TUNNEL_EXIT:
        if ((rc = exact(f, XLMIG_MSG_TUNNEL_EXIT_SIZE, why, whylen)))
            return rc;
        if (xlmig_get_u32(body) > 255 || xlmig_get_u32(body + 4) > 1)
            return why_set(why, whylen, "TUNNEL_EXIT: status %u, how %u "
                           "(expected 0..255 and 0 or 1)",
                           xlmig_get_u32(body), xlmig_get_u32(body + 4));
        return 0;
    case XLMIG_MSG_JOB_STATE:
        if ((rc = exact(f, XLMIG_MSG_JOB_STATE_SIZE, why, whylen)))
            return rc;
        if (xlmig_get_u32(body + 8) > XLMIG_JOBSTATE_ROLLEDBACK)
            return why_set(why, whylen, "JOB_STATE: unknown state %u",
                           xlmig_get_u32(body + 8));
        return 0;
    default:
        if (f->type & XLMIG_PROTO_OPTIONAL)
            return 0;
        return why_set(why, whylen, "unknown mandatory message type "
                       "0x%08x", f->type);
    }
}

size_t xlmig_msg_put_hello(uint8_t *b, const struct xlmig_msg_hello *m)
{
    memset(b, 0, XLMIG_MSG_HELLO_SIZE);
    xlmig_put_u32(b, m->min_version);
    xlmig_put_u32(b + 4, m->max_version);
    xlmig_put_u64(b + 8, m->caps);
    memcpy(b + 16, m->host, strnlen(m->host, 63));
    memcpy(b + 80, m->backend, strnlen(m->backend, 15));
    return XLMIG_MSG_HELLO_SIZE;
}

void xlmig_msg_get_hello(const uint8_t *b, struct xlmig_msg_hello *m)
{
    m->min_version = xlmig_get_u32(b);
    m->max_version = xlmig_get_u32(b + 4);
    m->caps = xlmig_get_u64(b + 8);
    memcpy(m->host, b + 16, 64);
    m->host[63] = '\0';
    memcpy(m->backend, b + 80, 16);
    m->backend[15] = '\0';
}

size_t xlmig_msg_put_u64(uint8_t *b, uint64_t v)
{
    xlmig_put_u64(b, v);
    return 8;
}

uint64_t xlmig_msg_get_u64(const uint8_t *b)
{
    return xlmig_get_u64(b);
}

static size_t put_text(uint8_t *b, size_t cap, size_t off, const char *t)
{
    size_t n = t ? strlen(t) : 0;

    if (n > XLMIG_PROTO_TEXT_MAX)
        n = XLMIG_PROTO_TEXT_MAX;
    if (off + n > cap)
        n = cap > off ? cap - off : 0;
    if (n)
        memcpy(b + off, t, n);
    return off + n;
}

size_t xlmig_msg_put_result(uint8_t *b, size_t cap, int accepted,
                            const char *reason)
{
    xlmig_put_u32(b, accepted ? 1 : 0);
    xlmig_put_u32(b + 4, 0);
    return put_text(b, cap, 8, reason);
}

size_t xlmig_msg_put_abort(uint8_t *b, size_t cap, uint64_t job, int32_t code,
                           const char *reason)
{
    xlmig_put_u64(b, job);
    xlmig_put_u32(b + 8, (uint32_t)code);
    xlmig_put_u32(b + 12, 0);
    return put_text(b, cap, 16, reason);
}

size_t xlmig_msg_put_restore_file(uint8_t *b, size_t cap, uint64_t job,
                                  const char *path)
{
    return xlmig_msg_put_abort(b, cap, job, 0, path);
}

void xlmig_msg_get_text(uint32_t type, const uint8_t *b, uint32_t len,
                        struct xlmig_msg_text *m)
{
    uint32_t fixed = type == XLMIG_MSG_PREFLIGHT_RESULT ? 8 : 16;

    memset(m, 0, sizeof(*m));
    if (type != XLMIG_MSG_PREFLIGHT_RESULT) {
        m->job_id = xlmig_get_u64(b);
        m->code = (int32_t)xlmig_get_u32(b + 8);
    } else {
        m->code = (int32_t)xlmig_get_u32(b);
    }
    memcpy(m->text, b + fixed, len - fixed);
}

size_t xlmig_msg_put_round(uint8_t *b, const struct xlmig_msg_round *m)
{
    xlmig_put_u32(b, m->round);
    xlmig_put_u32(b + 4, 0);
    xlmig_put_u64(b + 8, m->pages);
    xlmig_put_u64(b + 16, m->bytes);
    xlmig_put_u64(b + 24, m->duration_ns);
    return XLMIG_MSG_ROUND_SIZE;
}

void xlmig_msg_get_round(const uint8_t *b, struct xlmig_msg_round *m)
{
    m->round = xlmig_get_u32(b);
    m->pages = xlmig_get_u64(b + 8);
    m->bytes = xlmig_get_u64(b + 16);
    m->duration_ns = xlmig_get_u64(b + 24);
}

size_t xlmig_msg_put_job_state(uint8_t *b, uint64_t job, uint32_t state)
{
    xlmig_put_u64(b, job);
    xlmig_put_u32(b + 8, state);
    xlmig_put_u32(b + 12, 0);
    return XLMIG_MSG_JOB_STATE_SIZE;
}

size_t xlmig_msg_put_attach(uint8_t *b, const struct xlmig_msg_attach *m)
{
    xlmig_put_u64(b, m->job_id);
    xlmig_put_u32(b + 8, m->channel);
    xlmig_put_u32(b + 12, m->channels);
    return XLMIG_MSG_ATTACH_SIZE;
}

void xlmig_msg_get_attach(const uint8_t *b, struct xlmig_msg_attach *m)
{
    m->job_id = xlmig_get_u64(b);
    m->channel = xlmig_get_u32(b + 8);
    m->channels = xlmig_get_u32(b + 12);
}

size_t xlmig_msg_put_announced(uint8_t *b,
                               const struct xlmig_msg_announced *m)
{
    xlmig_put_u64(b, m->job_id);
    xlmig_put_u32(b + 8, m->vifs);
    xlmig_put_u32(b + 12, m->frames);
    xlmig_put_u32(b + 16, m->rarp);
    xlmig_put_u32(b + 20, m->garp);
    xlmig_put_u32(b + 24, m->na);
    xlmig_put_u32(b + 28, m->dm_nics);
    xlmig_put_u32(b + 32, m->errors);
    xlmig_put_u32(b + 36, 0);
    xlmig_put_u64(b + 40, m->first_ns);
    xlmig_put_u64(b + 48, m->last_ns);
    return XLMIG_MSG_ANNOUNCED_SIZE;
}

void xlmig_msg_get_announced(const uint8_t *b, struct xlmig_msg_announced *m)
{
    m->job_id = xlmig_get_u64(b);
    m->vifs = xlmig_get_u32(b + 8);
    m->frames = xlmig_get_u32(b + 12);
    m->rarp = xlmig_get_u32(b + 16);
    m->garp = xlmig_get_u32(b + 20);
    m->na = xlmig_get_u32(b + 24);
    m->dm_nics = xlmig_get_u32(b + 28);
    m->errors = xlmig_get_u32(b + 32);
    m->first_ns = xlmig_get_u64(b + 40);
    m->last_ns = xlmig_get_u64(b + 48);
}

size_t xlmig_msg_put_chan_end(uint8_t *b, const struct xlmig_msg_chan_end *m)
{
    xlmig_put_u64(b, m->job_id);
    xlmig_put_u32(b + 8, m->channel);
    xlmig_put_u32(b + 12, m->records);
    xlmig_put_u64(b + 16, m->pages_data);
    xlmig_put_u64(b + 24, m->pages_zero);
    return XLMIG_MSG_CHANNEL_END_SIZE;
}

void xlmig_msg_get_chan_end(const uint8_t *b, struct xlmig_msg_chan_end *m)
{
    m->job_id = xlmig_get_u64(b);
    m->channel = xlmig_get_u32(b + 8);
    m->records = xlmig_get_u32(b + 12);
    m->pages_data = xlmig_get_u64(b + 16);
    m->pages_zero = xlmig_get_u64(b + 24);
}

uint32_t xlmig_proto_negotiate(uint32_t amin, uint32_t amax, uint32_t bmin,
                               uint32_t bmax)
{
    uint32_t lo = amin > bmin ? amin : bmin;
    uint32_t hi = amax < bmax ? amax : bmax;

    return lo <= hi ? hi : 0;
}
