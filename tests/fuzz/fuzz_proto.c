/* libFuzzer target: protocol frames, as a receiver reads them, and the
 * command a TUNNEL asks a destination to run. */
#include <stdint.h>
#include <string.h>

#include "proto/message.h"
#include "transport/tunnel.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[256];

    while (size >= XLMIG_PROTO_HDR_SIZE) {
        struct xlmig_frame f;
        size_t padded;

        if (xlmig_proto_parse_header(data, XLMIG_PROTO_VERSION, &f, why,
                                     sizeof(why)))
            return 0;
        padded = ((size_t)f.length + 7) & ~(size_t)7;
        if (size - XLMIG_PROTO_HDR_SIZE < padded)
            return 0;
        if (xlmig_proto_check_body(data, &f, data + XLMIG_PROTO_HDR_SIZE,
                                   why, sizeof(why)) == 0) {
            const uint8_t *b = data + XLMIG_PROTO_HDR_SIZE;
            if (f.type == XLMIG_MSG_HELLO) {
                struct xlmig_msg_hello h;
                xlmig_msg_get_hello(b, &h);
            } else if (f.type == XLMIG_MSG_ABORT ||
                       f.type == XLMIG_MSG_RESTORE_FILE ||
                       f.type == XLMIG_MSG_PREFLIGHT_RESULT) {
                static struct xlmig_msg_text t;
                xlmig_msg_get_text(f.type, b, f.length, &t);
            } else if (f.type == XLMIG_MSG_ROUND) {
                struct xlmig_msg_round r;
                xlmig_msg_get_round(b, &r);
            } else if (f.type == XLMIG_MSG_TUNNEL) {
                /* what a destination then decides to run, or not */
                static struct xlmig_tunnel_cmd cmd;
                if (xlmig_tunnel_cmd_parse(b, f.length, "/usr/sbin/xl",
                                           &cmd, why, sizeof(why)) == 0 &&
                    (cmd.argc < 2 || strcmp(cmd.argv[0], "/usr/sbin/xl") ||
                     cmd.argv[cmd.argc] != NULL))
                    __builtin_trap();
            }
        }
        data += XLMIG_PROTO_HDR_SIZE + padded;
        size -= XLMIG_PROTO_HDR_SIZE + padded;
    }
    return 0;
}
