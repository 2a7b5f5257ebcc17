/*
 * Bounds-checked cursor over a byte buffer.  Every parser of outside input
 * reads through one of these: a read past the end fails and latches the
 * cursor's error, so a parser may read a run of fields and check once.
 * All multi-byte values are little-endian, as every xlmig format is.
 */
#ifndef XLMIG_CURSOR_H
#define XLMIG_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct xlmig_cursor {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool bad;           /* latched: some read ran past the end */
};

static inline void xlmig_cursor_init(struct xlmig_cursor *c, const void *p,
                                     size_t len)
{
    c->p = p;
    c->len = len;
    c->off = 0;
    c->bad = false;
}

static inline size_t xlmig_cursor_left(const struct xlmig_cursor *c)
{
    return c->bad ? 0 : c->len - c->off;
}

/* Pointer to the next @n bytes, advancing past them; NULL if too few. */
static inline const uint8_t *xlmig_cursor_take(struct xlmig_cursor *c,
                                               size_t n)
{
    const uint8_t *r;

    if (c->bad || n > c->len - c->off) {
        c->bad = true;
        return NULL;
    }
    r = c->p + c->off;
    c->off += n;
    return r;
}

static inline uint32_t xlmig_cursor_u32(struct xlmig_cursor *c)
{
    const uint8_t *b = xlmig_cursor_take(c, 4);

    if (!b)
        return 0;
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static inline uint64_t xlmig_cursor_u64(struct xlmig_cursor *c)
{
    uint64_t lo = xlmig_cursor_u32(c);
    uint64_t hi = xlmig_cursor_u32(c);

    return lo | hi << 32;
}

static inline bool xlmig_cursor_copy(struct xlmig_cursor *c, void *dst,
                                     size_t n)
{
    const uint8_t *b = xlmig_cursor_take(c, n);

    if (!b)
        return false;
    memcpy(dst, b, n);
    return true;
}

/* Little-endian stores for writers. */
static inline void xlmig_put_u32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)v;
    b[1] = (uint8_t)(v >> 8);
    b[2] = (uint8_t)(v >> 16);
    b[3] = (uint8_t)(v >> 24);
}

static inline void xlmig_put_u64(uint8_t *b, uint64_t v)
{
    xlmig_put_u32(b, (uint32_t)v);
    xlmig_put_u32(b + 4, (uint32_t)(v >> 32));
}

static inline uint32_t xlmig_get_u32(const uint8_t *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

static inline uint64_t xlmig_get_u64(const uint8_t *b)
{
    return xlmig_get_u32(b) | (uint64_t)xlmig_get_u32(b + 4) << 32;
}

#endif
