/*
 * xlmig-simdom: a simulated domain for the sim backend.
 *
 * "run" is the domain itself: a process whose guest memory is a shared-
 * memory file (the ram file in the domain's directory) and whose vCPU
 * threads run a self-checking workload at a set dirty rate and pattern.
 * It answers the control protocol of sim_ipc.h on its socket, keeps
 * running when the tools that started it exit, and tracks dirty pages
 * with the kernel's userfaultfd write-protection: asynchronous mode read
 * with PAGEMAP_SCAN where the kernel has it (6.7+), synchronous uffd-wp
 * faults otherwise.  It is a stand-in for a guest, never presented as one.
 *
 * The other commands are the administrator's: create, list, info, pause,
 * unpause, destroy, verify, hash.
 */
#include "xlmig-simdom/simdom.h"

/* ---- administrator commands ---- */

static xlmig_ctx *ctx;

static int call_print(const char *name, uint32_t type)
{
    void *reply = NULL;
    size_t rlen = 0;
    int rc = sim_dom_call(ctx, name, type, NULL, 0, &reply, &rlen);

    if (rlen)
        printf("%.*s\n", (int)rlen, (char *)reply);
    free(reply);
    if (rc && !rlen)
        fprintf(stderr, "xlmig-simdom: %s: %s\n", name, xlmig_strerror(rc));
    return rc ? 1 : 0;
}

static void usage(FILE *f)
{
    fprintf(f,
"usage: xlmig-simdom COMMAND [ARGS]\n"
"\n"
"  create [options] NAME   start a simulated domain\n"
"      -m, --memory SIZE         guest memory (16M .. 64G; default 256M)\n"
"      -c, --vcpus N             vCPU threads (1 .. 64; default 2)\n"
"      -r, --dirty-rate RATE     bytes/s written, K/M/G suffix, 0 idle,\n"
"                                'max' unthrottled (default 16M)\n"
"      -P, --pattern P           uniform | hotset | sequential\n"
"          --hot-percent N       hotset: share of pages taking 90%% of\n"
"                                writes (default 10)\n"
"          --fill                write every page once at boot\n"
"      -p, --paused              leave it paused\n"
"          --seed N              workload seed (default random)\n"
"          --cpuid host[,FEATURE=0...]  the CPU features the domain\n"
"                                sees: this host's, less those set to 0\n"
"          --pool NAME           cpupool (default Pool-0)\n"
"          --cpus LIST           pin the vCPUs to these CPUs (\"0-1,3\")\n"
"          --disk SPEC           TARGET,FORMAT,VDEV[:cdrom],ACCESS (xl's\n"
"                                disk spec; repeat for more): a raw\n"
"                                image the guest writes and reads\n"
"          --disk-rate RATE      bytes/s each writable disk writes, in\n"
"                                self-checking 4K blocks (default 0)\n"
"          --disk-read-rate RATE bytes/s each writable disk reads, each\n"
"                                block checked (default 0)\n"
"          --vif SPEC            [mac=MAC][,bridge=BRIDGE][,ip=ADDR]...\n"
"                                a NIC: a TAP device vifID.N on BRIDGE,\n"
"                                answering ARP/ND, ping and UDP echo on\n"
"                                each ADDR (repeatable)\n"
"          --pci BDF             a passthrough device (repeatable)\n"
"          --disable-migrate     mark it not to be migrated\n"
"          --uuid UUID           this UUID (default: a random one)\n"
"  list                    list simulated domains on this host\n"
"  info NAME               show a domain's state and counters\n"
"  pause NAME | unpause NAME | destroy NAME\n"
"  verify NAME             check every page and disk block against the\n"
"                          domain's ledgers\n"
"  hash NAME               SHA-256 of the domain's memory\n"
"\n"
"Domains live in $XLMIG_SIM_DIR (default /dev/shm/xlmig-sim).\n");
}

/*
 * What xl create would refuse before the domain exists: a pool or CPU
 * this host lacks, a disk or bridge that is not here, a feature asked
 * for that the host does not offer.  Records the CPU the domain starts
 * with (the host's, less what --cpuid turns off).
 */
static int create_checks(struct sim_config *cfg, const char *cpuid)
{
    struct sim_hostconf *h = malloc(sizeof(*h));
    char *host = malloc(SIM_FEATURES_MAX + 1), *spec = NULL, *save = NULL;
    char why[300], pool[256];
    uint64_t need[16], have[16];
    int rc = 1;

    if (!h || !host)
        goto out;
    if (sim_hostconf_load(h, why, sizeof(why))) {
        fprintf(stderr, "xlmig-simdom: %s\n", why);
        goto out;
    }
    if (sim_host_cpu(h, cfg->cpu_vendor, host, SIM_FEATURES_MAX + 1)) {
        fprintf(stderr, "xlmig-simdom: cannot read /proc/cpuinfo\n");
        goto out;
    }
    spec = strdup(cpuid);
    if (!spec || strncmp(spec, "host", 4) || (spec[4] && spec[4] != ',')) {
        fprintf(stderr, "xlmig-simdom: --cpuid %s: expected host[,FEATURE=0"
                "|1...]\n", cpuid);
        goto out;
    }
    /* Start from the host's features; =0 removes one, =1 insists on it. */
    snprintf(cfg->cpu_features, sizeof(cfg->cpu_features), "%s", host);
    for (char *w = strtok_r(spec + 4, ",", &save); w;
         w = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(w, '=');
        size_t wl;
        if (!eq || (strcmp(eq + 1, "0") && strcmp(eq + 1, "1"))) {
            fprintf(stderr, "xlmig-simdom: --cpuid: \"%s\" is not "
                    "FEATURE=0 or FEATURE=1\n", w);
            goto out;
        }
        *eq = '\0';
        wl = strlen(w);
        if (eq[1] == '1') {
            if (!xlmig_pf_has_feature(host, w, wl)) {
                fprintf(stderr, "xlmig-simdom: --cpuid: this host does not "
                        "offer %s\n", w);
                goto out;
            }
            continue;
        }
        /* Remove every occurrence of the word. */
        for (char *p = cfg->cpu_features; *p;) {
            char *e = strchr(p, ' ');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n == wl && !memcmp(p, w, wl)) {
                if (e)
                    memmove(p, e + 1, strlen(e + 1) + 1);
                else if (p > cfg->cpu_features)
                    p[-1] = '\0';
                else
                    *p = '\0';
                continue;
            }
            p = e ? e + 1 : p + n;
        }
    }
    if (!sim_host_pool(h, cfg->pool, pool, sizeof(pool))) {
        fprintf(stderr, "xlmig-simdom: no cpupool %s on this host\n",
                cfg->pool);
        goto out;
    }
    if (cfg->cpus[0]) {
        if (xlmig_cpulist_parse(cfg->cpus, need) ||
            xlmig_cpulist_parse(pool[0] ? pool : "", have)) {
            fprintf(stderr, "xlmig-simdom: pool %s has no CPUs\n",
                    cfg->pool[0] ? cfg->pool : "Pool-0");
            goto out;
        }
        for (int i = 0; i < 16; i++)
            if (need[i] & ~have[i]) {
                fprintf(stderr, "xlmig-simdom: --cpus %s: not all in pool "
                        "%s (CPUs %s)\n", cfg->cpus,
                        cfg->pool[0] ? cfg->pool : "Pool-0", pool);
                goto out;
            }
    }
    for (unsigned i = 0; i < cfg->ndisks; i++) {
        uint64_t size;
        if (cfg->disks[i].target[0] &&
            xlmig_path_size(cfg->disks[i].target, &size)) {
            fprintf(stderr, "xlmig-simdom: disk %s: %s is not a file or "
                    "block device here\n", cfg->disks[i].vdev,
                    cfg->disks[i].target);
            goto out;
        }
    }
    for (unsigned i = 0; i < cfg->nvifs; i++)
        if (cfg->vifs[i].bridge[0] &&
            !xlmig_host_bridge(cfg->vifs[i].bridge)) {
            fprintf(stderr, "xlmig-simdom: vif %u: no bridge %s here\n", i,
                    cfg->vifs[i].bridge);
            goto out;
        }
    rc = 0;
out:
    free(spec);
    free(host);
    free(h);
    return rc;
}

static int cmd_create(int argc, char **argv)
{
    static const struct option opts[] = {
        { "memory", required_argument, NULL, 'm' },
        { "vcpus", required_argument, NULL, 'c' },
        { "dirty-rate", required_argument, NULL, 'r' },
        { "pattern", required_argument, NULL, 'P' },
        { "hot-percent", required_argument, NULL, 'H' },
        { "fill", no_argument, NULL, 'F' },
        { "paused", no_argument, NULL, 'p' },
        { "seed", required_argument, NULL, 'S' },
        { "cpuid", required_argument, NULL, 'I' },
        { "pool", required_argument, NULL, 'O' },
        { "cpus", required_argument, NULL, 'U' },
        { "disk", required_argument, NULL, 'D' },
        { "disk-rate", required_argument, NULL, 'W' },
        { "disk-read-rate", required_argument, NULL, 'Y' },
        { "vif", required_argument, NULL, 'N' },
        { "pci", required_argument, NULL, 'X' },
        { "disable-migrate", no_argument, NULL, 'M' },
        { "uuid", required_argument, NULL, 'u' },
        { NULL, 0, NULL, 0 },
    };
    const char *cpuid = "host";
    bool have_uuid = false;
    char why[300];
    static struct sim_config cfg = {
        .nr_pages = 65536, .nr_vcpus = 2, .dirty_rate = 16 << 20,
        .pattern = SIM_PATTERN_UNIFORM, .hot_percent = 10,
    };
    uint64_t v;
    bool fill = false, paused = false, seeded = false;
    uint32_t domid;
    int c, rc;

    while ((c = getopt_long(argc, argv, "m:c:r:P:p", opts, NULL)) != -1) {
        switch (c) {
        case 'm':
            if (sim_parse_size(optarg, &v) || v % XLMIG_PAGE_SIZE ||
                v / XLMIG_PAGE_SIZE < SIM_MIN_PAGES ||
                v / XLMIG_PAGE_SIZE > SIM_MAX_PAGES) {
                fprintf(stderr, "xlmig-simdom: --memory %s: expected a "
                        "multiple of 4K from 16M to 64G\n", optarg);
                return 2;
            }
            cfg.nr_pages = v / XLMIG_PAGE_SIZE;
            break;
        case 'c':
            if (sim_parse_size(optarg, &v) || v < 1 || v > SIM_VCPUS_MAX) {
                fprintf(stderr, "xlmig-simdom: --vcpus %s: expected 1 to "
                        "%d\n", optarg, SIM_VCPUS_MAX);
                return 2;
            }
            cfg.nr_vcpus = (uint32_t)v;
            break;
        case 'r':
            if (!strcmp(optarg, "max"))
                cfg.dirty_rate = SIM_RATE_MAX;
            else if (sim_parse_size(optarg, &cfg.dirty_rate)) {
                fprintf(stderr, "xlmig-simdom: --dirty-rate %s: expected "
                        "bytes per second (e.g. 64M) or 'max'\n", optarg);
                return 2;
            }
            break;
        case 'P':
            if (sim_pattern_parse(optarg, &cfg.pattern)) {
                fprintf(stderr, "xlmig-simdom: --pattern %s: expected "
                        "uniform, hotset or sequential\n", optarg);
                return 2;
            }
            break;
        case 'H':
            if (sim_parse_size(optarg, &v) || v < 1 || v > 100) {
                fprintf(stderr, "xlmig-simdom: --hot-percent %s: expected "
                        "1 to 100\n", optarg);
                return 2;
            }
            cfg.hot_percent = (uint32_t)v;
            break;
        case 'F': fill = true; break;
        case 'p': paused = true; break;
        case 'I': cpuid = optarg; break;
        case 'O':
            if (!sim_name_valid(optarg) || strlen(optarg) >= sizeof(cfg.pool)) {
                fprintf(stderr, "xlmig-simdom: --pool %s: not a pool name\n",
                        optarg);
                return 2;
            }
            snprintf(cfg.pool, sizeof(cfg.pool), "%s", optarg);
            break;
        case 'U': {
            uint64_t set[16];
            if (strlen(optarg) >= sizeof(cfg.cpus) ||
                xlmig_cpulist_parse(optarg, set)) {
                fprintf(stderr, "xlmig-simdom: --cpus %s: expected a CPU "
                        "list such as 0-1,3\n", optarg);
                return 2;
            }
            snprintf(cfg.cpus, sizeof(cfg.cpus), "%s", optarg);
            break;
        }
        case 'W':
        case 'Y': {
            uint64_t *r = c == 'W' ? &cfg.disk_rate : &cfg.disk_read_rate;
            if (!strcmp(optarg, "max"))
                *r = SIM_RATE_MAX;
            else if (sim_parse_size(optarg, r)) {
                fprintf(stderr, "xlmig-simdom: --%s %s: expected bytes per "
                        "second (e.g. 4M) or 'max'\n",
                        c == 'W' ? "disk-rate" : "disk-read-rate", optarg);
                return 2;
            }
            break;
        }
        case 'D':
            if (cfg.ndisks == SIM_DISKS_MAX ||
                sim_disk_parse(optarg, &cfg.disks[cfg.ndisks], why,
                               sizeof(why))) {
                fprintf(stderr, "xlmig-simdom: --disk: %s\n",
                        cfg.ndisks == SIM_DISKS_MAX ? "too many disks" : why);
                return 2;
            }
            cfg.ndisks++;
            break;
        case 'N':
            if (cfg.nvifs == SIM_VIFS_MAX ||
                sim_vif_parse(optarg, true, &cfg.vifs[cfg.nvifs], why,
                              sizeof(why))) {
                fprintf(stderr, "xlmig-simdom: --vif: %s\n",
                        cfg.nvifs == SIM_VIFS_MAX ? "too many vifs" : why);
                return 2;
            }
            cfg.nvifs++;
            break;
        case 'X':
            if (cfg.npci == SIM_PCI_MAX || !sim_pci_valid(optarg)) {
                fprintf(stderr, "xlmig-simdom: --pci %s: expected a BDF "
                        "such as 0000:03:00.0\n", optarg);
                return 2;
            }
            snprintf(cfg.pci[cfg.npci++], sizeof(cfg.pci[0]), "%s", optarg);
            break;
        case 'M': cfg.disable_migrate = 1; break;
        case 'u':
            if (sim_uuid_parse(optarg, cfg.uuid)) {
                fprintf(stderr, "xlmig-simdom: --uuid %s: expected "
                        "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx\n", optarg);
                return 2;
            }
            have_uuid = true;
            break;
        case 'S':
            if (sim_parse_size(optarg, &cfg.seed)) {
                fprintf(stderr, "xlmig-simdom: --seed %s: expected a "
                        "number\n", optarg);
                return 2;
            }
            seeded = true;
            break;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (!sim_name_valid(argv[optind])) {
        fprintf(stderr, "xlmig-simdom: invalid name \"%s\": use 1 to 63 of "
                "[A-Za-z0-9_.-], not starting with - or .\n", argv[optind]);
        return 2;
    }
    strcpy(cfg.name, argv[optind]);
    if (create_checks(&cfg, cpuid))
        return 1;
    if (!have_uuid) {
        if (getrandom(cfg.uuid, sizeof(cfg.uuid), 0) != sizeof(cfg.uuid))
            return 1;
        cfg.uuid[6] = (cfg.uuid[6] & 0x0f) | 0x40;  /* version 4 */
        cfg.uuid[8] = (cfg.uuid[8] & 0x3f) | 0x80;
    }
    if (!seeded && getrandom(&cfg.seed, sizeof(cfg.seed), 0) != 8)
        return 1;
    /* A vif without mac= gets one as libxl gives it: Xen's OUI and three
     * random octets; auto-mac records that nobody fixed it. */
    for (unsigned i = 0; i < cfg.nvifs; i++) {
        uint8_t *m = cfg.vifs[i].mac;
        if (m[0] | m[1] | m[2] | m[3] | m[4] | m[5])
            continue;
        m[0] = 0x00;
        m[1] = 0x16;
        m[2] = 0x3e;
        if (getrandom(m + 3, 3, 0) != 3)
            return 1;
        m[3] &= 0x7f;
    }
    rc = sim_dom_spawn(ctx, &cfg, fill ? SIM_BOOT_FILL : SIM_BOOT_FRESH,
                       paused, &domid);
    if (rc)
        return 1;
    printf("%s: domain %u started%s\n", cfg.name, domid,
           paused ? " (paused)" : "");
    return 0;
}

static int cmd_list(void)
{
    struct xlmig_dominfo *all;
    unsigned n;

    if (sim_dom_list(ctx, &all, &n)) {
        fprintf(stderr, "xlmig-simdom: cannot list %s\n", sim_dir());
        return 1;
    }
    printf("%-24s %5s %9s %5s %-8s\n", "Name", "ID", "Mem(MiB)", "VCPUs",
           "State");
    for (unsigned i = 0; i < n; i++)
        printf("%-24s %5u %9" PRIu64 " %5u %-8s\n", all[i].name,
               all[i].domid, all[i].nr_pages * XLMIG_PAGE_SIZE >> 20,
               all[i].nr_vcpus, xlmig_dom_state_name(all[i].state));
    free(all);
    return 0;
}

static int cmd_hash(const char *name)
{
    void *reply = NULL;
    size_t rlen = 0;
    int rc = sim_dom_call(ctx, name, SIM_MSG_HASH, NULL, 0, &reply, &rlen);

    if (rc || rlen != 32) {
        fprintf(stderr, "xlmig-simdom: hash %s: %s\n", name,
                xlmig_strerror(rc ? rc : XLMIG_ERR_FAIL));
        free(reply);
        return 1;
    }
    for (int i = 0; i < 32; i++)
        printf("%02x", ((uint8_t *)reply)[i]);
    printf("\n");
    free(reply);
    return 0;
}

int main(int argc, char **argv)
{
    const char *cmd;
    int rc;

    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    cmd = argv[1];
    if (!strcmp(cmd, "run"))
        return cmd_run(argc - 1, argv + 1);
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
        !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    if (xlmig_ctx_alloc(&ctx, "sim", XLMIG_LOG_WARN, stderr))
        return 1;
    if (!strcmp(cmd, "create"))
        rc = cmd_create(argc - 1, argv + 1);
    else if (!strcmp(cmd, "list"))
        rc = cmd_list();
    else if (argc != 3) {
        usage(stderr);
        rc = 2;
    } else if (!strcmp(cmd, "info"))
        rc = call_print(argv[2], SIM_MSG_INFO);
    else if (!strcmp(cmd, "pause"))
        rc = call_print(argv[2], SIM_MSG_PAUSE);
    else if (!strcmp(cmd, "unpause"))
        rc = call_print(argv[2], SIM_MSG_UNPAUSE);
    else if (!strcmp(cmd, "destroy"))
        rc = call_print(argv[2], SIM_MSG_DESTROY);
    else if (!strcmp(cmd, "verify"))
        rc = call_print(argv[2], SIM_MSG_VERIFY);
    else if (!strcmp(cmd, "hash"))
        rc = cmd_hash(argv[2]);
    else {
        fprintf(stderr, "xlmig-simdom: unknown command \"%s\"\n", cmd);
        usage(stderr);
        rc = 2;
    }
    xlmig_ctx_free(ctx);
    return rc;
}

