/*
 * libxlmig: the xlmig migration engine.
 *
 * Public API.  Every type is opaque; callers hold pointers only.  The
 * library reports errors as a negative XLMIG_ERR_* code and logs the detail
 * (what was expected, what was found, where) through the context's logger.
 */
#ifndef LIBXLMIG_H
#define LIBXLMIG_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped whenever a declaration below changes incompatibly. */
#define XLMIG_API_VERSION 0x00010000

/* Capabilities a caller may test for at compile time. */
#define XLMIG_HAVE_QUICK_SAVE_RESTORE 1
#define XLMIG_HAVE_STREAM_DUMP 1

#if defined(__GNUC__)
#define XLMIG_MUST_CHECK __attribute__((warn_unused_result))
#define XLMIG_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define XLMIG_MUST_CHECK
#define XLMIG_PRINTF(f, a)
#endif

/* Error codes: 0 is success, failures are negative. */
enum {
    XLMIG_OK = 0,
    XLMIG_ERR_FAIL = -1,        /* unspecified failure */
    XLMIG_ERR_NOMEM = -2,
    XLMIG_ERR_INVAL = -3,       /* bad argument from the caller */
    XLMIG_ERR_IO = -4,          /* read/write/syscall failure */
    XLMIG_ERR_NOSPACE = -5,     /* out of space where state is written */
    XLMIG_ERR_NOTFOUND = -6,    /* no such domain */
    XLMIG_ERR_EXISTS = -7,      /* a domain with that name/UUID exists */
    XLMIG_ERR_STREAM = -8,      /* malformed stream (hostile or corrupt) */
    XLMIG_ERR_VERSION = -9,     /* stream or protocol version not supported */
    XLMIG_ERR_CHECKSUM = -10,   /* checksum mismatch */
    XLMIG_ERR_TRUNCATED = -11,  /* stream ended early */
    XLMIG_ERR_NOTIMPL = -12,    /* backend does not implement this yet */
    XLMIG_ERR_BACKEND = -13,    /* hypervisor/backend reported failure */
    XLMIG_ERR_STATE = -14,      /* operation not valid in this state */
    XLMIG_ERR_PERM = -15,       /* permission denied */
    XLMIG_ERR_UNAVAIL = -16,    /* backend not available on this host */
    XLMIG_ERR_AUTH = -17,       /* TLS peer authentication failed */
    XLMIG_ERR_TIMEOUT = -18,    /* could not converge within the limits */
    XLMIG_ERR_CANCELLED = -19,  /* cancelled by the administrator */
    XLMIG_ERR_REFUSED = -20,    /* the destination's preflight said no */
    XLMIG_ERR_PEER = -21,       /* the peer aborted or broke the protocol */
    XLMIG_ERR_INDOUBT = -22,    /* outcome unknown after COMMIT: recover */
    XLMIG_ERR_BUSY = -23,       /* a concurrency limit was reached */
    XLMIG_ERR_LEASED = -24,     /* a disk's lease is held elsewhere */
};

/* Static string for an error code; never NULL. */
const char *xlmig_strerror(int rc);

/* Log levels, in increasing verbosity. */
enum xlmig_log_level {
    XLMIG_LOG_ERROR = 0,
    XLMIG_LOG_WARN = 1,
    XLMIG_LOG_INFO = 2,
    XLMIG_LOG_DEBUG = 3,
};

typedef struct xlmig_ctx xlmig_ctx;

/*
 * Create a context on backend @backend ("sim", "xen", or NULL for the
 * host's default: xen where /proc/xen is present, sim otherwise).
 * Logs at or below @level go to @logf (stderr when NULL).
 * On success *ctx_out owns the context; free it with xlmig_ctx_free().
 */
int xlmig_ctx_alloc(xlmig_ctx **ctx_out, const char *backend,
                    enum xlmig_log_level level, FILE *logf)
    XLMIG_MUST_CHECK;
/*
 * The same, logging through @lg (xentoollog.h), as libxl_ctx_alloc()
 * takes a logger: xlmig's messages and those of libxl and libxc under it,
 * each with the context's job prefix, at xentoollog's levels; @lg
 * filters them.  The caller keeps @lg, which must outlive the context.
 */
struct xentoollog_logger;
int xlmig_ctx_alloc_logger(xlmig_ctx **ctx_out, const char *backend,
                           struct xentoollog_logger *lg) XLMIG_MUST_CHECK;
void xlmig_ctx_free(xlmig_ctx *ctx);
const char *xlmig_ctx_backend(const xlmig_ctx *ctx);

/* Domain run states as the backend reports them. */
enum xlmig_dom_state {
    XLMIG_DOM_RUNNING = 1,
    XLMIG_DOM_PAUSED = 2,
    XLMIG_DOM_SUSPENDED = 3,
    XLMIG_DOM_DYING = 4,
};
const char *xlmig_dom_state_name(enum xlmig_dom_state s);

#define XLMIG_NAME_MAX 64   /* including the terminating NUL */

struct xlmig_dominfo {
    char name[XLMIG_NAME_MAX];
    uint8_t uuid[16];
    uint32_t domid;
    uint32_t nr_vcpus;
    uint64_t nr_pages;          /* guest memory in pages */
    uint32_t page_shift;
    enum xlmig_dom_state state;
};

/* Format @uuid as 36 characters plus NUL into @buf (37 bytes). */
void xlmig_uuid_format(const uint8_t uuid[16], char buf[37]);

/*
 * List domains.  On success *out is a malloc'd array of *n entries that the
 * caller frees with free().
 */
int xlmig_domain_list(xlmig_ctx *ctx, struct xlmig_dominfo **out,
                      unsigned *n) XLMIG_MUST_CHECK;

/*
 * Memory this host can give a new domain, in bytes, as the hypervisor
 * counts it (the xen backend: Xen's free memory).  XLMIG_ERR_NOTIMPL when
 * the backend leaves it to the caller (sim: the daemon's own accounting).
 */
int xlmig_host_free_memory(xlmig_ctx *ctx, uint64_t *bytes) XLMIG_MUST_CHECK;

/*
 * How fast each of @n domains (names, domids or UUIDs) dirties its
 * memory, sampled together over @window_ms (log-dirty on, then counted,
 * then off): rates[i] in bytes per second, or UINT64_MAX for a domain
 * that could not be sampled (not found, a migration owns its log-dirty,
 * or a backend that cannot: xen, for now).  Nothing of the domains
 * changes.  0, or an error when nothing could be sampled at all.
 */
int xlmig_dirty_rates(xlmig_ctx *ctx, const char *const *idents, unsigned n,
                      unsigned window_ms, uint64_t *rates) XLMIG_MUST_CHECK;

/* Look a domain up by name, domid or UUID. */
int xlmig_domain_find(xlmig_ctx *ctx, const char *ident,
                      struct xlmig_dominfo *out) XLMIG_MUST_CHECK;

/* What becomes of the source domain after a successful save. */
enum xlmig_save_after {
    XLMIG_SAVE_DESTROY = 0,     /* as xl save: the file is the domain now */
    XLMIG_SAVE_CONTINUE = 1,    /* xl save -c: checkpoint, keep it running */
    XLMIG_SAVE_PAUSED = 2,      /* xl save -p: keep it, paused */
};

struct xlmig_save_stats {
    uint64_t pages_total;
    uint64_t pages_data;        /* sent with contents */
    uint64_t pages_zero;        /* sent as pfn only */
    uint64_t bytes_written;
    uint64_t suspend_ns;        /* wall time from suspend to durable file */
};

/*
 * Quick migration, first half: suspend @ident, write its whole state to
 * @path (through a temporary file renamed into place once durable), then
 * act as @after says.  On any failure no file is left at @path and the
 * domain runs on as before.
 */
int xlmig_save(xlmig_ctx *ctx, const char *ident, const char *path,
               enum xlmig_save_after after, struct xlmig_save_stats *stats)
    XLMIG_MUST_CHECK;

struct xlmig_restore_opts {
    int paused;                 /* leave the domain paused (xl restore -p) */
    const char *new_name;       /* NULL: the name in the stream */
};

/*
 * Quick migration, second half: create a domain from the stream at @path
 * ("-": standard input),
 * load it and (unless opts->paused) unpause it.  The stream is validated
 * as it is read; on any failure the partly created domain is destroyed.
 * On success *info (may be NULL) describes the new domain.
 */
int xlmig_restore(xlmig_ctx *ctx, const char *path,
                  const struct xlmig_restore_opts *opts,
                  struct xlmig_dominfo *info,
                  struct xlmig_save_stats *stats) XLMIG_MUST_CHECK;

/*
 * Explain the stream at @path record by record on @out.  Returns 0 when
 * the whole stream is valid, or the error that stopped the walk (after
 * printing what was read up to it).
 */
int xlmig_stream_dump(xlmig_ctx *ctx, const char *path, FILE *out,
                      int verbose) XLMIG_MUST_CHECK;

#ifdef __cplusplus
}
#endif

#endif /* LIBXLMIG_H */
