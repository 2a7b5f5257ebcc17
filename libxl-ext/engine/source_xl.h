/*
 * Migrating to a stock `xl migrate-receive` (docs/specs/xl-interop.md).
 *
 * `xlmig migrate --xl DOMAIN HOST` asks HOST's xlmigd, through a tunnel,
 * to run `xl migrate-receive`, and speaks xl's own migration protocol to
 * it: xl's banner, xl's save header with the domain's libxl JSON
 * configuration, the libxl v2 stream that the xen backend's live save
 * produces under xlmig's pre-copy policy, then xl's handshake ("ready to
 * unpause", "cleared to unpause", the receiver's report).  The receiver
 * needs nothing of xlmig but the tunnel.
 */
#ifndef XLMIG_XL_SEND_H
#define XLMIG_XL_SEND_H

#include "engine/mjob.h"
#include "transport/conn.h"
#include "proto/stream.h"

/* xl's save header: magic, byte order, flags, optional data length. */
#define XLMIG_XL_HDR_SIZE 48
#define XLMIG_XL_BYTEORDER 0x01020304u
#define XLMIG_XL_FLAG_JSON (1u << 0)
#define XLMIG_XL_FLAG_STREAMV2 (1u << 1)

extern const char xlmig_xl_magic[32];
/* xl's fixed messages: the banner goes without its NUL, the other three
 * with theirs (xl compares sizeof of each). */
extern const char xlmig_xl_banner[55];
extern const char xlmig_xl_ready[34];
extern const char xlmig_xl_go[44];
extern const char xlmig_xl_report[39];

/*
 * xl's header for a configuration of @config_len octets (its NUL
 * included) and the u32 length that starts the optional data: 52 octets
 * into @b, or 0 if @cap is short.
 */
size_t xlmig_xl_put_header(uint8_t *b, size_t cap, uint32_t config_len);

/*
 * A sink that turns what the xen backend writes (xlmig records: a
 * DOMAIN_CONFIG with libxl JSON, then XEN_STREAM records holding the libxl
 * v2 stream) into what xl migrate-receive reads: xl's header with the
 * configuration, then the libxl stream's octets.  Other records are
 * dropped.  A record it cannot take (another configuration format, a
 * second configuration, a length over the stream's limits) fails the
 * write with XLMIG_ERR_INVAL.
 */
struct xlmig_xl_sink {
    xlmig_ctx *ctx;
    struct xlmig_sink *out;
    uint8_t hdr[XLMIG_REC_HDR_SIZE];
    size_t hlen;                /* of hdr filled */
    uint32_t type;
    uint64_t body_left;         /* of the current record's body */
    uint64_t pad_left;          /* then its padding */
    uint8_t off[8];             /* XEN_STREAM: the body's offset field */
    size_t off_len;
    uint64_t xen_bytes;         /* of Xen's stream passed on */
    uint8_t *cfg;               /* DOMAIN_CONFIG body being gathered */
    size_t cfg_len;
    bool config_sent;
    uint64_t emitted;           /* octets written to out */
};

void xlmig_xl_sink_init(struct xlmig_xl_sink *x, xlmig_ctx *ctx,
                        struct xlmig_sink *out, struct xlmig_sink *in);
void xlmig_xl_sink_dispose(struct xlmig_xl_sink *x);

/*
 * The job, once @c is connected and HELLO done, @dom attached: tunnel to
 * xl migrate-receive, live-save into it under @lim, hand over.  0: the
 * receiver runs the domain and the source copy is destroyed.  Otherwise
 * *committed says whether "cleared to unpause" went out (then the result
 * is XLMIG_ERR_INDOUBT and the domain stays suspended here), and
 * *suspended whether the caller must resume the domain to roll back.
 */
int xlmig_xl_migrate(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                     struct xlmig_mjob *j, const struct xlmig_out_opts *o,
                     struct xlmig_conn *c, struct xlmig_dom *dom,
                     const struct xlmig_limits *lim, bool *suspended,
                     bool *committed) XLMIG_MUST_CHECK;

#endif
