/* libFuzzer target: the stream reader, fed arbitrary bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "proto/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    struct xlmig_ctx ctx = { .level = XLMIG_LOG_ERROR };
    struct xlmig_membuf m = { .p = (uint8_t *)data, .len = size };
    struct xlmig_stream_reader r;
    struct xlmig_source src;
    struct xlmig_record rec;

    if (!devnull)
        devnull = fopen("/dev/null", "w");
    ctx.logf = devnull;
    xlmig_source_mem(&src, &m);
    if (xlmig_reader_init(&r, &ctx, &src))
        return 0;
    if (xlmig_read_header(&r) == 0) {
        while (xlmig_read_record(&r, &rec) == 0) {
            /* Exercise the decoders on what the reader accepted. */
            if (rec.type == XLMIG_REC_PAGE_DATA) {
                struct xlmig_rec_pages pg;
                volatile uint8_t sink = 0;
                xlmig_rec_get_pages(&rec, &pg);
                for (uint32_t i = 0; i < pg.nr_data; i++)
                    sink ^= pg.data[(size_t)i * XLMIG_PAGE_SIZE + 4095];
                (void)sink;
            } else if (rec.type == XLMIG_REC_VCPU_STATE ||
                       rec.type == XLMIG_REC_DEVICE_STATE) {
                struct xlmig_rec_blob b;
                xlmig_rec_get_blob(&rec, &b);
            } else if (rec.type == XLMIG_REC_END) {
                (void)xlmig_read_expect_eof(&r);
                break;
            }
        }
    }
    xlmig_reader_dispose(&r);
    return 0;
}
