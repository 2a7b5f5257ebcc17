/*
 * Durable job records (docs/specs/state.md) and recovery: what lets a
 * handover survive a daemon restart.
 */
#ifndef XLMIG_ENGINE_RECORDS_H
#define XLMIG_ENGINE_RECORDS_H

#include "core/config.h"
#include "engine/mjob.h"
#include "transport/conn.h"

/* A record's file: @text written to @dir/@name durably (a temporary,
 * fsync, rename, fsync of @dir, which is made if need be); read back
 * whole (at most @len - 1 octets, NUL-terminated; -errno); the value of
 * its "@key=" line ("" if none; cut at @len - 1 octets). */
int xlmig_record_write(xlmig_ctx *ctx, const char *dir, const char *name,
                       const char *text) XLMIG_MUST_CHECK;
int xlmig_record_read(const char *path, char *buf, size_t len)
    XLMIG_MUST_CHECK;
void xlmig_record_get(const char *text, const char *key, char *out,
                      size_t len);

/*
 * Destination: record job @j from @peer as @state (XLMIG_JOBSTATE_*),
 * durably, with the domain's UUID and the domid of the instance the job
 * restored (0 before there is one), so that a restarted daemon acts only
 * on that instance, and only if no later job of this host has touched
 * the domain.
 */
int xlmig_state_in_record(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                          const char *peer, const struct xlmig_mjob *j,
                          uint32_t state, const uint8_t uuid[16],
                          uint32_t domid) XLMIG_MUST_CHECK;

/* Destination: forget job @wire from @peer, whose source said DONE: it
 * has its answer and will never ask about it. */
void xlmig_state_in_retire(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                           const char *peer, uint64_t wire);

/* Source: the record written before COMMIT goes out, and its removal
 * once the job's outcome is known. */
int xlmig_state_out_record(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                           const struct xlmig_mjob *j,
                           const struct xlmigd_peer *p,
                           const uint8_t uuid[16]) XLMIG_MUST_CHECK;
void xlmig_state_out_remove(const struct xlmigd_config *cfg, uint32_t id);

/* Destination: answer the QUERY in c->body with JOB_STATE (making sure a
 * committed domain runs). */
int xlmig_state_answer_query(xlmig_ctx *ctx, struct xlmig_conn *c,
                             const struct xlmigd_config *cfg)
    XLMIG_MUST_CHECK;

/* Job states a destination records, as JOB_STATE reports them. */
int xlmig_state_in_read(const char *dir, const char *peer, uint64_t wire,
                        char *domain, size_t len) XLMIG_MUST_CHECK;

/*
 * Destination, at start-up: finish what a dead daemon left.  Prepared
 * copies are destroyed (their source rolled back or will, on QUERY);
 * committed ones are unpaused.  A record acts only on the instance its
 * job restored (by UUID and domid), and never once a later job of this
 * host (incoming or outgoing: job numbers are one counter) has touched
 * its domain.
 */
void xlmig_state_reconcile_in(xlmig_ctx *ctx, const char *dir);

struct xlmig_indoubt {
    uint32_t id;
    uint64_t wire_id;
    char domain[XLMIG_NAME_MAX];
    struct xlmigd_peer dest;
};

/* Source: the jobs in doubt recorded in @dir (malloc'd array). */
int xlmig_state_out_list(xlmig_ctx *ctx, const char *dir,
                         struct xlmig_indoubt **out, unsigned *n)
    XLMIG_MUST_CHECK;

/*
 * Settle a job in doubt by asking its destination: the source copy is
 * destroyed if the domain runs there, resumed if it never will.  Returns
 * 0 when settled (*there is the destination's XLMIG_JOBSTATE_*, *outcome
 * says what was done), XLMIG_ERR_INDOUBT while the
 * destination cannot say yet, another error if it cannot be reached.
 */
int xlmig_recover(xlmig_ctx *ctx, struct xlmig_tls *tls,
                  const struct xlmigd_config *cfg,
                  const struct xlmig_indoubt *d, int *there, char *outcome,
                  size_t len) XLMIG_MUST_CHECK;

/* Job ids: persistent counter in the state directory. */
uint32_t xlmig_state_next_id(const char *dir);

#endif
