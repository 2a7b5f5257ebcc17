/*
 * The xen backend's record checks (core/private.h): its configuration is
 * libxl's JSON (libxl parses it when it restores; here, without libxl,
 * only its format and that it is text are checked); its memory, vCPUs
 * and devices travel inside Xen's own stream, which the reader already
 * follows record by record.
 */
#include <stdio.h>
#include <string.h>

#include "core/cursor.h"
#include "proto/stream.h"

static int xen_check(const struct xlmig_domain_desc *desc,
                     const struct xlmig_record *rec, char *why, size_t len)
{
    (void)desc;
    if (rec->type == XLMIG_REC_DOMAIN_CONFIG) {
        uint32_t fmt = xlmig_get_u32(rec->body);
        const uint8_t *p = rec->body + 8;
        size_t n = rec->length - 8;

        if (fmt != XLMIG_CONFIG_LIBXL_JSON)
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "configuration "
                             "format %u is not the xen backend's (libxl "
                             "JSON, %u)", fmt, XLMIG_CONFIG_LIBXL_JSON);
        if (!n || memchr(p, '\0', n))
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "the libxl "
                             "configuration is %s",
                             n ? "not text (a NUL inside)" : "empty");
        if (p[0] != '{')
            return xlmig_why(why, len, XLMIG_ERR_STREAM, "the libxl "
                             "configuration is not a JSON object");
    }
    return 0;
}

const struct xlmig_record_checks xlmig_xen_record_checks = {
    XLMIG_STREAM_BACKEND_XEN, xen_check,
};
