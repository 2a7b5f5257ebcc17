/* CRC32C (Castagnoli), as used by every xlmig stream and wire record. */
#ifndef XLMIG_CRC32C_H
#define XLMIG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continue a CRC32C over @len bytes of @data.  Start with crc = 0; the
 * pre- and post-inversion are done inside, so calls chain:
 * crc32c(crc32c(0, a, n), b, m) == crc32c(0, a||b, n+m).
 */
uint32_t xlmig_crc32c(uint32_t crc, const void *data, size_t len);

/* The table-driven path alone, so tests can compare it with the above. */
uint32_t xlmig_crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
