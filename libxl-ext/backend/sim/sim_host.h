/*
 * Host side of the sim backend: where simulated domains live and how the
 * tools start and reach them.  Each domain is a directory under the sim
 * directory ($XLMIG_SIM_DIR, default /dev/shm/xlmig-sim, a tmpfs so that
 * memory files are shared memory):
 *
 *   NAME/config   sim_config text        NAME/ram   guest memory
 *   NAME/ctl      control socket          NAME/pid   domain process
 *   NAME/domid    domain id               NAME/log   domain process log
 */
#ifndef XLMIG_SIM_HOST_H
#define XLMIG_SIM_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/private.h"
#include "backend/sim/sim_config.h"

const char *sim_dir(void);
/* "<sim dir>/<name>/<file>" into @buf; -1 if it does not fit. */
int sim_path(char *buf, size_t len, const char *name, const char *file);

/* Read and parse a config file; the reason in @why on failure. */
int sim_config_load(const char *path, struct sim_config *cfg, char *why,
                    size_t whylen) XLMIG_MUST_CHECK;

/* This simulated host's settings ($XLMIG_SIM_DIR/host.conf; none if the
 * file is absent). */
int sim_hostconf_load(struct sim_hostconf *h, char *why, size_t whylen)
    XLMIG_MUST_CHECK;
/* The CPU this host offers domains: the machine's vendor (or host.conf's)
 * and its features (from /proc/cpuinfo) less host.conf's cpu_mask. */
int sim_host_cpu(const struct sim_hostconf *h, char vendor[16],
                 char *features, size_t len) XLMIG_MUST_CHECK;
uint32_t sim_host_pcpus(const struct sim_hostconf *h);
/* The CPUs of pool @name ("" or "Pool-0": the pool of every CPU no other
 * pool has) as a CPU list; false if there is no such pool. */
bool sim_host_pool(const struct sim_hostconf *h, const char *name,
                   char *cpus, size_t len);

enum sim_boot {
    SIM_BOOT_FRESH = 0,         /* new domain: format memory, start vCPUs */
    SIM_BOOT_FILL = 1,          /* same, and write every page once */
    SIM_BOOT_RESTORED = 2,      /* memory and vCPUs are loaded by a restore */
};

/*
 * Create the domain's directory, memory file and config, start its
 * process and wait until it answers.  Fails with XLMIG_ERR_EXISTS if the
 * name or UUID is taken.  On failure nothing is left behind.
 */
int sim_dom_spawn(xlmig_ctx *ctx, const struct sim_config *cfg,
                  enum sim_boot boot, int paused, uint32_t *domid)
    XLMIG_MUST_CHECK;

/* vif @i's TAP device of domain @domid: "vifDOMID.N", as on Xen. */
void sim_vif_name(uint32_t domid, unsigned i, char name[16]);
/*
 * Run dom0's vif script (dom0/vif-bridge-sim; $XLMIG_SIM_VIF_SCRIPT
 * overrides) for vif @i: @command "online" attaches the TAP to its
 * bridge and brings it up, "offline" takes it off.  sim_dom_spawn()
 * runs "online" for every vif, and fails (the domain destroyed) if one
 * fails.  The script's words are in the log on failure.
 */
int sim_vif_hotplug(xlmig_ctx *ctx, const struct sim_config *cfg,
                    uint32_t domid, unsigned i, const char *command)
    XLMIG_MUST_CHECK;

/* Connect to @name's control socket; returns fd or XLMIG_ERR_*. */
int sim_dom_connect(xlmig_ctx *ctx, const char *name) XLMIG_MUST_CHECK;

/* One request; logs failures with the domain's name. */
int sim_dom_call(xlmig_ctx *ctx, const char *name, uint32_t type,
                 const void *req, size_t len, void **reply, size_t *rlen)
    XLMIG_MUST_CHECK;

/* Parse an INFO reply. */
int sim_info_parse(const char *text, size_t len, struct xlmig_dominfo *out);

int sim_dom_list(xlmig_ctx *ctx, struct xlmig_dominfo **out, unsigned *n)
    XLMIG_MUST_CHECK;
int sim_dom_find(xlmig_ctx *ctx, const char *ident,
                 struct xlmig_dominfo *out) XLMIG_MUST_CHECK;

/* Remove what is left of a domain whose process is gone. */
void sim_dom_cleanup(const char *name);
/* The same, for the domain directory @dir itself. */
void sim_dom_cleanup_dir(const char *dir);

#endif
