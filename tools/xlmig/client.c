/*
 * The xlmig commands that talk to xlmigd over its control socket:
 * migrate, status, cancel, recover (docs/specs/control.md).  Events come
 * back one JSON object per line; on a terminal migrate draws a progress
 * line, with --json it passes the events through untouched.
 *
 * Exit status: 0 done, 1 failed and rolled back (the domain runs here),
 * 2 usage, 3 refused by the destination's preflight, 4 in doubt (run
 * xlmig recover), 5 cancelled.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <yajl/yajl_tree.h>

#include "xlmig/client.h"
#include "xlmig/commands.h"
#include "xlmigd/conf.h"
#include "xlmigd/ctl.h"


volatile sig_atomic_t interrupted;

void on_int(int sig)
{
    (void)sig;
    interrupted = 1;
}

static const char *socket_path(void)
{
    const char *s = getenv("XLMIG_SOCKET");

    return s && *s ? s : XLMIGD_SOCKET;
}

int ctl_connect(void)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", socket_path());
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "xlmig: cannot reach xlmigd at %s: %s (is it "
                "running? set XLMIG_SOCKET for another socket)\n",
                sa.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int ctl_send(int fd, const struct xlmig_ctl_req *r)
{
    char line[XLMIG_CTL_LINE_MAX + 2];
    int n = xlmig_ctl_format(r, line, sizeof(line));
    size_t off = 0;

    if (n < 0)
        return -1;
    while (off < (size_t)n) {
        ssize_t w = write(fd, line + off, (size_t)n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}


/*
 * Next event line as a parsed tree (caller frees), NULL at the end of the
 * connection.  @raw gets the line itself.  Returns early with NULL and
 * *intr set when interrupted by SIGINT.
 */
yajl_val next_event(struct reader *rd, char *raw, size_t rawlen,
                           bool *intr)
{
    for (;;) {
        char *nl = memchr(rd->buf, '\n', rd->len);
        if (nl) {
            size_t n = (size_t)(nl - rd->buf);
            char err[128];
            yajl_val v;
            *nl = '\0';
            snprintf(raw, rawlen, "%s", rd->buf);
            v = yajl_tree_parse(rd->buf, err, sizeof(err));
            memmove(rd->buf, nl + 1, rd->len - n - 1);
            rd->len -= n + 1;
            if (v && YAJL_IS_OBJECT(v))
                return v;
            yajl_tree_free(v);
            fprintf(stderr, "xlmig: unreadable event from xlmigd: %s\n", raw);
            continue;
        }
        if (rd->len == sizeof(rd->buf)) {
            fprintf(stderr, "xlmig: event line too long\n");
            return NULL;
        }
        {
            struct pollfd p = { rd->fd, POLLIN, 0 };
            int r = poll(&p, 1, -1);
            ssize_t got;
            if (r < 0 && errno == EINTR) {
                if (interrupted) {
                    *intr = true;
                    return NULL;
                }
                continue;
            }
            got = read(rd->fd, rd->buf + rd->len, sizeof(rd->buf) - rd->len);
            if (got < 0 && errno == EINTR)
                continue;
            if (got <= 0)
                return NULL;
            rd->len += (size_t)got;
        }
    }
}

const char *jstr(yajl_val v, const char *k)
{
    const char *path[] = { k, NULL };
    yajl_val x = yajl_tree_get(v, path, yajl_t_string);

    return x ? YAJL_GET_STRING(x) : "";
}

double jnum(yajl_val v, const char *k)
{
    const char *path[] = { k, NULL };
    yajl_val x = yajl_tree_get(v, path, yajl_t_number);

    return x ? YAJL_GET_DOUBLE(x) : 0.0;
}

bool jbool(yajl_val v, const char *k)
{
    const char *path[] = { k, NULL };
    yajl_val x = yajl_tree_get(v, path, yajl_t_any);

    return x && YAJL_IS_TRUE(x);
}

/* The number at @k of the map at @m in @v ("announce", "frames"). */
static double jnum2(yajl_val v, const char *m, const char *k)
{
    const char *path[] = { m, k, NULL };
    yajl_val x = yajl_tree_get(v, path, yajl_t_number);

    return x ? YAJL_GET_DOUBLE(x) : 0.0;
}

/* The string at @k of the map at @m in @v, or "". */
static const char *jstr2(yajl_val v, const char *m, const char *k)
{
    const char *path[] = { m, k, NULL };
    yajl_val x = yajl_tree_get(v, path, yajl_t_string);

    return x ? YAJL_GET_STRING(x) : "";
}

static const char *mib(double bytes, char *buf, size_t len)
{
    if (bytes >= 10.0 * 1073741824.0)
        snprintf(buf, len, "%.1f GiB", bytes / 1073741824.0);
    else
        snprintf(buf, len, "%.1f MiB", bytes / 1048576.0);
    return buf;
}

static void progress_line(yajl_val v, bool tty)
{
    double target = jnum(v, "round_target"), done = jnum(v, "round_bytes");
    double bw = jnum(v, "bandwidth"), left = target > done ? target - done : 0;
    char a[32], b[32];

    if (!tty)
        return;
    fprintf(stderr, "\r\033[Kjob %.0f %s: round %.0f, dirty %.1f MiB/s, "
            "%.0f MiB/s, remaining %s of %s, ETA %.1f s",
            jnum(v, "job"), jstr(v, "phase"), jnum(v, "round"),
            jnum(v, "dirty_rate") / 1048576.0, bw / 1048576.0,
            mib(left, a, sizeof(a)), mib(target, b, sizeof(b)),
            bw > 0 ? left / bw : 0.0);
}

/* A storage move's progress line (a terminal only). */
static void storage_line(yajl_val v, bool tty)
{
    double size = jnum2(v, "storage", "size_bytes");
    double done = jnum2(v, "storage", "done_bytes");
    double bw = jnum(v, "bandwidth");
    char a[32], b[32];

    if (!tty)
        return;
    fprintf(stderr, "\r\033[Kjob %.0f %s: disk %s %s of %s (%.0f%%), %.0f "
            "MiB/s, %.0f writes mirrored", jnum(v, "job"), jstr(v, "phase"),
            jstr2(v, "storage", "disk"), mib(done, a, sizeof(a)),
            mib(size, b, sizeof(b)), size > 0 ? 100.0 * done / size : 100.0,
            bw / 1048576.0, jnum2(v, "storage", "mirrored_writes"));
}

/* The summary of a storage move that ended well. */
static void storage_done(yajl_val e)
{
    char a[32], b[32];

    char lat[96] = "";

    if (jnum2(e, "storage", "write_p99_ms") > 0)
        snprintf(lat, sizeof(lat), " (write latency p50 %.3f ms, p99 %.3f "
                 "ms)", jnum2(e, "storage", "write_p50_ms"),
                 jnum2(e, "storage", "write_p99_ms"));
    printf("moved disk %s of %s to %s: total %.2f s, %s copied of %s (holes "
           "and zeros skipped), %.0f guest writes mirrored%s; old image %s "
           "%s\n", jstr2(e, "storage", "disk"), jstr(e, "domain"),
           jstr2(e, "storage", "to"), jnum(e, "total_ms") / 1000.0,
           mib(jnum2(e, "storage", "copied_bytes"), a, sizeof(a)),
           mib(jnum2(e, "storage", "size_bytes"), b, sizeof(b)),
           jnum2(e, "storage", "mirrored_writes"), lat,
           jstr2(e, "storage", "from"), jstr2(e, "storage", "old_image"));
}

static int result_exit(const char *result)
{
    if (!strcmp(result, "ok"))
        return 0;
    if (!strcmp(result, "refused"))
        return EXIT_REFUSED;
    if (!strcmp(result, "in-doubt"))
        return EXIT_INDOUBT;
    if (!strcmp(result, "cancelled"))
        return EXIT_CANCELLED;
    return EXIT_ROLLEDBACK;
}

static void send_cancel(unsigned job)
{
    struct xlmig_ctl_req r;
    int fd = ctl_connect();

    if (fd < 0)
        return;
    memset(&r, 0, sizeof(r));
    r.cmd = XLMIG_CTL_CANCEL;
    r.job = job;
    if (ctl_send(fd, &r) == 0)
        fprintf(stderr, "\nxlmig: cancelling job %u (the domain stays "
                "here)\n", job);
    close(fd);
}

/* Up to @w display columns of @s (ASCII; a cut ends in '~'). */
static void cell(FILE *f, const char *s, int w, bool last)
{
    int n = (int)strlen(s);

    if (last)
        fputs(s, f);
    else if (n <= w)
        fprintf(f, "%-*s", w, s);
    else
        fprintf(f, "%.*s~", w - 1, s);
}


/* The `preflight` event as a table, one row per check. */
static void print_report(FILE *f, yajl_val e)
{
    const char *path[] = { "checks", NULL };
    yajl_val rows = yajl_tree_get(e, path, yajl_t_array);
    int wc = 5, ws = 6, wd = 11;

    if (!rows)
        return;
    for (size_t i = 0; i < rows->u.array.len; i++) {
        yajl_val r = rows->u.array.values[i];
        int a = (int)strlen(jstr(r, "check"));
        int b = (int)strlen(jstr(r, "source"));
        int c = (int)strlen(jstr(r, "destination"));
        wc = a > wc ? (a > 16 ? 16 : a) : wc;
        ws = b > ws ? (b > 36 ? 36 : b) : ws;
        wd = c > wd ? (c > 36 ? 36 : c) : wd;
    }
    fprintf(f, "%-*s  %-*s  %-*s  %-6s  %s\n", wc, "CHECK", ws, "SOURCE",
            wd, "DESTINATION", "RESULT", "REASON");
    for (size_t i = 0; i < rows->u.array.len; i++) {
        yajl_val r = rows->u.array.values[i];
        const char *v = jstr(r, "verdict");
        cell(f, jstr(r, "check"), wc, false);
        fputs("  ", f);
        cell(f, jstr(r, "source"), ws, false);
        fputs("  ", f);
        cell(f, jstr(r, "destination"), wd, false);
        fprintf(f, "  %-6s  ", !strcmp(v, "fail") ? "FAIL" : v);
        cell(f, jstr(r, "reason"), 0, true);
        fputc('\n', f);
    }
}

/* --disk-map VDEV=PATH into @r, or -1 with what was wrong said. */
static int add_disk_map(struct xlmig_ctl_req *r, const char *arg)
{
    const char *eq = strchr(arg, '=');
    size_t vl = eq ? (size_t)(eq - arg) : 0;

    if (!eq || !vl || vl >= sizeof(r->disk_map[0].vdev) || eq[1] != '/' ||
        strlen(eq + 1) > XLMIG_CTL_VIA_MAX || strpbrk(arg, " \t\n")) {
        fprintf(stderr, "xlmig: --disk-map: '%s' is not VDEV=/ABSOLUTE/PATH\n",
                arg);
        return -1;
    }
    if (r->ndisk_map == XLMIG_CTL_DISK_MAPS) {
        fprintf(stderr, "xlmig: --disk-map: at most %d\n",
                XLMIG_CTL_DISK_MAPS);
        return -1;
    }
    for (unsigned m = 0; m < r->ndisk_map; m++)
        if (strlen(r->disk_map[m].vdev) == vl &&
            !strncmp(r->disk_map[m].vdev, arg, vl)) {
            fprintf(stderr, "xlmig: --disk-map: disk %.*s twice\n", (int)vl,
                    arg);
            return -1;
        }
    memcpy(r->disk_map[r->ndisk_map].vdev, arg, vl);
    r->disk_map[r->ndisk_map].vdev[vl] = '\0';
    snprintf(r->disk_map[r->ndisk_map].path,
             sizeof(r->disk_map[0].path), "%s", eq + 1);
    r->ndisk_map++;
    return 0;
}

/* A number from 1 to @max, or -1 with what was wrong said. */
int parse_num(const char *s, const char *what, uint64_t max,
                     uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-' || v > max || v == 0) {
        fprintf(stderr, "xlmig: %s: '%s' is not a number from 1 to %llu\n",
                what, s, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

static int run_job(const struct xlmig_ctl_req *req, bool json);

/* The DOMAIN and HOST arguments of migrate and preflight, into @r. */
static int set_target(struct xlmig_ctl_req *r, const char *dom,
                      const char *host)
{
    if (strlen(dom) >= sizeof(r->domain) || strlen(host) >= sizeof(r->host)) {
        fprintf(stderr, "xlmig: domain or host name too long\n");
        return -1;
    }
    snprintf(r->domain, sizeof(r->domain), "%s", dom);
    snprintf(r->host, sizeof(r->host), "%s", host);
    return 0;
}

int xlmig_cmd_migrate(int argc, char **argv)
{
    struct xlmig_ctl_req r;
    bool json = false;
    uint64_t v;
    int c;

    memset(&r, 0, sizeof(r));
    r.cmd = XLMIG_CTL_MIGRATE;
    optind = 1;
    while ((c = xlmig_getopt("migrate", argc, argv)) != -1) {
        switch (c) {
        case 'd':
            if (parse_num(optarg, "--max-downtime", 3600000, &v))
                return EXIT_USAGE;
            r.max_downtime_ms = v;
            break;
        case 'b':
            if (parse_num(optarg, "--bandwidth", 1u << 20, &v))
                return EXIT_USAGE;
            r.bandwidth_mib = v;
            break;
        case 'r':
            if (parse_num(optarg, "--max-rounds", 10000, &v))
                return EXIT_USAGE;
            r.max_rounds = (uint32_t)v;
            break;
        case 't':
            if (parse_num(optarg, "--timeout", 7 * 86400, &v))
                return EXIT_USAGE;
            r.timeout_s = v;
            break;
        case 'c':
            if (parse_num(optarg, "--channels", 16, &v))
                return EXIT_USAGE;
            r.channels = (uint32_t)v;
            break;
        case 'P':
            if (parse_num(optarg, "--priority", 9, &v))
                return EXIT_USAGE;
            r.priority = (uint32_t)v;
            break;
        case 'q': r.quick = true; break;
        case 'a': r.auto_converge = true; break;
        case 'T':
            v = strspn(optarg, "0123456789") == strlen(optarg) &&
                strlen(optarg) <= 2 ? strtoull(optarg, NULL, 10) : 0;
            if (!v) {
                fprintf(stderr, "xlmig: --max-throttle: '%s' is not a "
                        "percentage from 1 to 99\n", optarg);
                return EXIT_USAGE;
            }
            r.max_throttle_pct = (uint32_t)v;
            break;
        case 'x': r.xl = true; break;
        case 'V':
            if (strlen(optarg) > XLMIG_CTL_VIA_MAX || optarg[0] != '/') {
                fprintf(stderr, "xlmig: --via needs an absolute path\n");
                return EXIT_USAGE;
            }
            snprintf(r.via, sizeof(r.via), "%s", optarg);
            break;
        case 'C': r.copy_storage = true; break;
        case 'M':
            if (add_disk_map(&r, optarg))
                return EXIT_USAGE;
            break;
        case 'j': json = true; break;
        case 'h': xlmig_cmd_usage("migrate", stdout); return 0;
        default: xlmig_cmd_usage("migrate", stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        xlmig_cmd_usage("migrate", stderr);
        return EXIT_USAGE;
    }
    if (r.xl && (r.quick || r.channels > 1)) {
        fprintf(stderr, "xlmig: --xl is a live migration on one "
                "connection: not with --quick, --via or --channels\n");
        return EXIT_USAGE;
    }
    if (r.auto_converge && r.quick) {
        fprintf(stderr, "xlmig: --auto-converge throttles a live migration; "
                "--quick is not live\n");
        return EXIT_USAGE;
    }
    if (r.max_throttle_pct && !r.auto_converge) {
        fprintf(stderr, "xlmig: --max-throttle limits --auto-converge; "
                "give both\n");
        return EXIT_USAGE;
    }
    if (r.ndisk_map && !r.copy_storage) {
        fprintf(stderr, "xlmig: --disk-map says where copied disks go; give "
                "--copy-storage too\n");
        return EXIT_USAGE;
    }
    if (r.copy_storage && (r.quick || r.xl)) {
        fprintf(stderr, "xlmig: --copy-storage copies the disks live, with "
                "the memory: not with --quick, --via or --xl\n");
        return EXIT_USAGE;
    }
    if (r.via[0] && !r.quick) {
        fprintf(stderr, "xlmig: --via is a kind of --quick migration; "
                "give both\n");
        return EXIT_USAGE;
    }
    if (set_target(&r, argv[optind], argv[optind + 1]))
        return EXIT_USAGE;
    return run_job(&r, json);
}

int xlmig_cmd_storage_move(int argc, char **argv)
{
    struct xlmig_ctl_req r;
    bool json = false;
    uint64_t v;
    int c;

    memset(&r, 0, sizeof(r));
    r.cmd = XLMIG_CTL_STORAGE_MOVE;
    optind = 1;
    while ((c = xlmig_getopt("storage-move", argc, argv)) != -1) {
        switch (c) {
        case 'k': r.keep = true; break;
        case 'b':
            if (parse_num(optarg, "--bandwidth", 1u << 20, &v))
                return EXIT_USAGE;
            r.bandwidth_mib = v;
            break;
        case 'j': json = true; break;
        case 'h': xlmig_cmd_usage("storage-move", stdout); return 0;
        default: xlmig_cmd_usage("storage-move", stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 3) {
        xlmig_cmd_usage("storage-move", stderr);
        return EXIT_USAGE;
    }
    if (strlen(argv[optind]) >= sizeof(r.domain)) {
        fprintf(stderr, "xlmig: '%s' is too long for a domain name\n",
                argv[optind]);
        return EXIT_USAGE;
    }
    if (strlen(argv[optind + 1]) >= sizeof(r.disk) ||
        strpbrk(argv[optind + 1], "/ ")) {
        fprintf(stderr, "xlmig: '%s' is not a disk's virtual device "
                "(xvda, hda, ...)\n", argv[optind + 1]);
        return EXIT_USAGE;
    }
    if (argv[optind + 2][0] != '/' ||
        strlen(argv[optind + 2]) > XLMIG_CTL_VIA_MAX) {
        fprintf(stderr, "xlmig: NEWPATH must be an absolute path of at "
                "most %d characters\n", XLMIG_CTL_VIA_MAX);
        return EXIT_USAGE;
    }
    snprintf(r.domain, sizeof(r.domain), "%s", argv[optind]);
    snprintf(r.disk, sizeof(r.disk), "%s", argv[optind + 1]);
    snprintf(r.path, sizeof(r.path), "%s", argv[optind + 2]);
    return run_job(&r, json);
}

/*
 * Send a migrate or preflight request and follow its job to the end:
 * events as text on the terminal (or passed through with @json), the
 * exit status from the result.  SIGINT cancels the job.
 */
static int run_job(const struct xlmig_ctl_req *req, bool json)
{
    bool check = req->cmd == XLMIG_CTL_PREFLIGHT;
    bool sto = req->cmd == XLMIG_CTL_STORAGE_MOVE;
    struct reader *rd = NULL;
    struct sigaction sa;
    char *raw = NULL;
    size_t rawlen = sizeof(rd->buf);
    bool tty = isatty(STDERR_FILENO), intr = false;
    unsigned job = 0;
    int fd, rc = EXIT_ROLLEDBACK;

    fd = ctl_connect();
    if (fd < 0)
        return EXIT_ROLLEDBACK;
    if (ctl_send(fd, req)) {
        fprintf(stderr, "xlmig: cannot send the request to xlmigd\n");
        close(fd);
        return EXIT_ROLLEDBACK;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_int;
    sigaction(SIGINT, &sa, NULL);
    rd = calloc(1, sizeof(*rd));
    raw = malloc(rawlen);
    if (!rd || !raw) {
        free(rd);
        free(raw);
        close(fd);
        return EXIT_ROLLEDBACK;
    }
    rd->fd = fd;
    for (;;) {
        yajl_val e = next_event(rd, raw, rawlen, &intr);
        const char *ev;

        if (!e) {
            if (intr && job) {
                interrupted = 0;
                intr = false;
                send_cancel(job);
                continue;
            }
            if (tty && !json)
                fputc('\n', stderr);
            fprintf(stderr, "xlmig: lost xlmigd before the job ended; `xlmig "
                    "status` tells where it stands\n");
            break;
        }
        ev = jstr(e, "event");
        if (json) {
            printf("%s\n", raw);
            fflush(stdout);
        }
        if (!strcmp(ev, "error")) {
            fprintf(stderr, "xlmig: %s\n", jstr(e, "error"));
            rc = EXIT_ROLLEDBACK;
            yajl_tree_free(e);
            break;
        } else if (!strcmp(ev, "accepted")) {
            job = (unsigned)jnum(e, "job");
            if (!json && sto)
                fprintf(stderr, "xlmig: job %u: moving disk %s of %s to %s\n",
                        job, jstr(e, "disk"), jstr(e, "domain"),
                        jstr(e, "path"));
            else if (!json && !check)
                fprintf(stderr, "xlmig: job %u: migrating %s to %s\n", job,
                        jstr(e, "domain"), jstr(e, "peer"));
            if (!json && jbool(e, "queued"))
                fprintf(stderr, "xlmig: job %u: queued, %.0f of %.0f "
                        "(max_outgoing reached): it starts when a "
                        "migration ends\n", job, jnum(e, "position"),
                        jnum(e, "queue_length"));
        } else if (!strcmp(ev, "waiting") && !json) {
            fprintf(stderr, "xlmig: job %u: %s; trying again in %.0f s\n",
                    job, jstr(e, "error"), jnum(e, "retry_ms") / 1000.0);
        } else if (!strcmp(ev, "preflight") && !json) {
            /* Shown whole for `preflight`, and when it refuses. */
            if (check || (strcmp(jstr(e, "verdict"), "accepted") &&
                          !jbool(e, "busy")))
                print_report(check ? stdout : stderr, e);
            else
                fprintf(stderr, "xlmig: job %u: preflight passed on %s "
                        "(%.0f warnings)\n", job, jstr(e, "peer"),
                        jnum(e, "warnings"));
        } else if (!strcmp(ev, "progress") && !json && sto) {
            storage_line(e, tty);
        } else if (!strcmp(ev, "progress") && !json) {
            progress_line(e, tty);
        } else if (!strcmp(ev, "phase") && !json && !tty && !check) {
            fprintf(stderr, "xlmig: job %u: %s\n", job, jstr(e, "phase"));
        } else if (!strcmp(ev, "round") && !json) {
            if (tty)
                fputs("\r\033[K", stderr);
            fprintf(stderr, "xlmig: round %.0f: %.1f MiB in %.0f ms, %.0f "
                    "MiB/s; %.0f pages dirtied (%.1f MiB/s) -> %s\n",
                    jnum(e, "round"), jnum(e, "bytes_sent") / 1048576.0,
                    jnum(e, "duration_ms"), jnum(e, "bandwidth") / 1048576.0,
                    jnum(e, "pages_dirtied"), jnum(e, "dirty_rate") /
                    1048576.0, jstr(e, "reason"));
        } else if (!strcmp(ev, "done")) {
            const char *res = jstr(e, "result");
            rc = result_exit(res);
            if (!json) {
                char a[32], b[32], thr[96] = "";
                /* The disks' blocks apart: the ratio is the memory's. */
                double dsk = jnum(e, "disk_bytes");
                double sent = jnum(e, "bytes_sent") > dsk ?
                              jnum(e, "bytes_sent") - dsk : 0;
                int n = 0;
                if (jnum(e, "throttle_pct") > 0)
                    n = snprintf(thr, sizeof(thr), ", guest throttled up to "
                                 "%.0f%%", jnum(e, "throttle_pct"));
                if (dsk > 0 && n >= 0 && (size_t)n < sizeof(thr))
                    snprintf(thr + n, sizeof(thr) - (size_t)n, "; its "
                             "disks: %.1f MiB sent", dsk / 1048576.0);
                if (tty)
                    fputs("\r\033[K", stderr);
                if (check && rc == 0)
                    printf("%s can run %s\n", jstr(e, "peer"),
                           jstr(e, "domain"));
                else if (check && rc == EXIT_REFUSED)
                    fprintf(stderr, "xlmig: preflight: %s\n",
                            jstr(e, "error"));
                else if (check)
                    fprintf(stderr, "xlmig: preflight of %s on %s failed: "
                            "%s\n", jstr(e, "domain"), jstr(e, "peer"),
                            jstr(e, "error"));
                else if (sto && rc == 0)
                    storage_done(e);
                else if (sto)
                    fprintf(stderr, "xlmig: job %u %s: %s; disk %s of %s "
                            "stays on %s\n", job, res, jstr(e, "error"),
                            req->disk, jstr(e, "domain"),
                            jstr2(e, "storage", "from")[0] ?
                                jstr2(e, "storage", "from") :
                                "its image");
                else if (rc == 0)
                    printf("migrated %s to %s: total %.2f s, downtime %.1f "
                           "ms, %.0f rounds, %s sent for %s of memory "
                           "(%.2fx)%s\n", jstr(e, "domain"),
                           jstr(e, "peer"),
                           jnum(e, "total_ms") / 1000.0,
                           jnum(e, "downtime_ms"), jnum(e, "rounds"),
                           mib(sent, a, sizeof(a)),
                           mib(jnum(e, "memory_bytes"), b, sizeof(b)),
                           jnum(e, "memory_bytes") > 0 ?
                               sent / jnum(e, "memory_bytes") : 0.0, thr);
                if (sto) {
                    /* said above */
                } else if (check || rc == 0) {
                    if (!check && jnum2(e, "announce", "vifs") > 0)
                        printf("%s announced it on %.0f vif%s: %.0f "
                               "frames, the first %.1f ms after the "
                               "resume\n", jstr(e, "peer"),
                               jnum2(e, "announce", "vifs"),
                               jnum2(e, "announce", "vifs") == 1 ? "" : "s",
                               jnum2(e, "announce", "frames"),
                               jnum2(e, "announce", "first_ms"));
                } else if (rc == EXIT_INDOUBT)
                    fprintf(stderr, "xlmig: job %u is IN DOUBT: %s\n"
                            "xlmig: %s stays suspended here; run `xlmig "
                            "recover %u`\n", job, jstr(e, "error"),
                            jstr(e, "domain"), job);
                else
                    fprintf(stderr, "xlmig: job %u %s: %s; %s runs on "
                            "this host\n", job, res, jstr(e, "error"),
                            jstr(e, "domain"));
            }
            yajl_tree_free(e);
            break;
        }
        yajl_tree_free(e);
    }
    free(rd);
    free(raw);
    close(fd);
    return rc;
}

int xlmig_cmd_preflight(int argc, char **argv)
{
    struct xlmig_ctl_req r;
    bool json = false;
    int c;

    memset(&r, 0, sizeof(r));
    r.cmd = XLMIG_CTL_PREFLIGHT;
    optind = 1;
    while ((c = xlmig_getopt("preflight", argc, argv)) != -1) {
        switch (c) {
        case 'j': json = true; break;
        case 'C': r.copy_storage = true; break;
        case 'M':
            if (add_disk_map(&r, optarg))
                return EXIT_USAGE;
            break;
        case 'h': xlmig_cmd_usage("preflight", stdout); return 0;
        default: xlmig_cmd_usage("preflight", stderr); return EXIT_USAGE;
        }
    }
    if (argc - optind != 2) {
        xlmig_cmd_usage("preflight", stderr);
        return EXIT_USAGE;
    }
    if (set_target(&r, argv[optind], argv[optind + 1]))
        return EXIT_USAGE;
    return run_job(&r, json);
}

static int simple(const struct xlmig_ctl_req *r, bool json,
                  int (*show)(yajl_val e, const char *raw, bool json))
{
    struct reader *rd = calloc(1, sizeof(*rd));
    char raw[65536];
    bool intr = false;
    int fd, rc = 0;

    if (!rd)
        return 1;
    fd = ctl_connect();
    if (fd < 0 || ctl_send(fd, r)) {
        free(rd);
        if (fd >= 0)
            close(fd);
        return 1;
    }
    rd->fd = fd;
    for (;;) {
        yajl_val e = next_event(rd, raw, sizeof(raw), &intr);
        int s;
        if (!e)
            break;
        if (!strcmp(jstr(e, "event"), "error")) {
            fprintf(stderr, "xlmig: %s\n", jstr(e, "error"));
            yajl_tree_free(e);
            rc = 1;
            break;
        }
        s = show(e, raw, json);
        yajl_tree_free(e);
        if (s >= 0) {
            rc = s;
            break;
        }
    }
    free(rd);
    close(fd);
    return rc;
}

static int show_status(yajl_val e, const char *raw, bool json)
{
    const char *path[] = { "jobs", NULL };
    yajl_val jobs = yajl_tree_get(e, path, yajl_t_array);

    if (json) {
        printf("%s\n", raw);
        return 0;
    }
    /* The host first: whether it takes migrations in, and from where
     * requests come. */
    if (jbool(e, "drained")) {
        time_t since = (time_t)jnum(e, "drained_since");
        char when[32] = "?";
        struct tm tm;
        if (since && gmtime_r(&since, &tm))
            strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
        printf("%s: drained since %s: %s\n", jstr(e, "host"), when,
               jstr(e, "drained_reason")[0] ? jstr(e, "drained_reason") :
                                              "(no reason given)");
    } else {
        printf("%s: takes migrations in\n", jstr(e, "host"));
    }
    printf("max_outgoing %.0f; requests through XenStore: %s\n",
           jnum(e, "max_outgoing"), jbool(e, "xenstore") ? "on" : "off");
    printf("%-5s %-4s %-16s %-16s %-10s %-14s %-11s %6s %10s\n", "Job",
           "Dir", "Domain", "Peer", "Mode", "Phase", "Result", "Rounds",
           "Sent(MiB)");
    for (size_t i = 0; jobs && i < jobs->u.array.len; i++) {
        yajl_val j = jobs->u.array.values[i];
        char ph[24];
        if (!strcmp(jstr(j, "phase"), "queued"))
            snprintf(ph, sizeof(ph), "queued %.0f", jnum(j, "position"));
        else
            snprintf(ph, sizeof(ph), "%s", jstr(j, "phase"));
        printf("%-5.0f %-4s %-16s %-16s %-10s %-14s %-11s %6.0f %10.1f\n",
               jnum(j, "job"), jstr(j, "direction"), jstr(j, "domain"),
               jstr(j, "peer"), jstr(j, "mode"), ph,
               jstr(j, "result"), jnum(j, "rounds"),
               jnum(j, "bytes_sent") / 1048576.0);
        if (jstr(j, "error")[0])
            printf("      %s\n", jstr(j, "error"));
    }
    return 0;
}

int xlmig_cmd_status(int argc, char **argv)
{
    struct xlmig_ctl_req r;
    bool json = argc == 2 && !strcmp(argv[1], "--json");

    if (xlmig_wants_help("status", argc, argv))
        return 0;
    if (argc > 2 || (argc == 2 && !json)) {
        xlmig_cmd_usage("status", stderr);
        return EXIT_USAGE;
    }
    memset(&r, 0, sizeof(r));
    r.cmd = XLMIG_CTL_STATUS;
    return simple(&r, json, show_status);
}

static int show_cancel(yajl_val e, const char *raw, bool json)
{
    const char *ev = jstr(e, "event");

    if (json)
        printf("%s\n", raw);
    if (!strcmp(ev, "cancelling")) {
        bool queued = jbool(e, "queued");
        if (!json)
            printf(queued ? "job %.0f (%s) taken out of the queue: "
                            "cancelled, nothing moved\n" :
                            "cancelling job %.0f (%s)\n", jnum(e, "job"),
                   jstr(e, "domain"));
        return queued ? 0 : -1;         /* else wait for the end */
    }
    if (!strcmp(ev, "done")) {
        if (!json)
            printf("job %.0f %s: %s\n", jnum(e, "job"), jstr(e, "result"),
                   jstr(e, "error"));
        return strcmp(jstr(e, "result"), "cancelled") ? 1 : 0;
    }
    return -1;
}

int xlmig_cmd_cancel(int argc, char **argv)
{
    struct xlmig_ctl_req r;
    uint64_t v;

    if (xlmig_wants_help("cancel", argc, argv))
        return 0;
    if (argc != 2 || parse_num(argv[1], "JOB", UINT32_MAX, &v)) {
        xlmig_cmd_usage("cancel", stderr);
        return EXIT_USAGE;
    }
    memset(&r, 0, sizeof(r));
    r.cmd = XLMIG_CTL_CANCEL;
    r.job = (uint32_t)v;
    return simple(&r, false, show_cancel);
}

static int recover_failed;

static int show_recover(yajl_val e, const char *raw, bool json)
{
    const char *ev = jstr(e, "event");
    const char *path[] = { "settled", NULL };
    yajl_val s;

    if (json)
        printf("%s\n", raw);
    if (!strcmp(ev, "recovered")) {
        s = yajl_tree_get(e, path, yajl_t_any);
        if (!YAJL_IS_TRUE(s))
            recover_failed = 1;
        if (!json)
            printf("job %.0f (%s to %s): %s\n", jnum(e, "job"),
                   jstr(e, "domain"), jstr(e, "peer"), jstr(e, "outcome"));
        return -1;
    }
    if (!strcmp(ev, "done")) {
        if (!json && jstr(e, "error")[0])
            fprintf(stderr, "xlmig: %s\n", jstr(e, "error"));
        return recover_failed || jnum(e, "rc") != 0 ? EXIT_INDOUBT : 0;
    }
    return -1;
}

int xlmig_cmd_recover(int argc, char **argv)
{
    struct xlmig_ctl_req r;
    bool json = false;
    uint64_t v = 0;

    if (xlmig_wants_help("recover", argc, argv))
        return 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json"))
            json = true;
        else if (v || parse_num(argv[i], "JOB", UINT32_MAX, &v)) {
            xlmig_cmd_usage("recover", stderr);
            return EXIT_USAGE;
        }
    }
    memset(&r, 0, sizeof(r));
    r.cmd = XLMIG_CTL_RECOVER;
    r.job = (uint32_t)v;
    return simple(&r, json, show_recover);
}
