/*
 * Durable job records (docs/specs/state.md) and recovery: what lets a
 * handover survive a daemon restart.
 */
#ifndef XLMIG_ENGINE_RECORDS_H
#define XLMIG_ENGINE_RECORDS_H

#include "core/config.h"
#include "engine/mjob.h"
#include "transport/conn.h"

/* Destination: record job @wire from @peer as @state
 * (XLMIG_JOBSTATE_*), durably. */
int xlmig_state_in_record(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                          const char *peer, uint64_t wire, uint32_t state,
                          const char *domain) XLMIG_MUST_CHECK;

/* Source: the record written before COMMIT goes out, and its removal
 * once the job's outcome is known. */
int xlmig_state_out_record(xlmig_ctx *ctx, const struct xlmigd_config *cfg,
                           const struct xlmig_mjob *j,
                           const struct xlmigd_peer *p) XLMIG_MUST_CHECK;
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
 * committed ones are unpaused.
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
