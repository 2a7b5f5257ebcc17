/*
 * Local control protocol requests (docs/specs/control.md).  The socket is
 * root-only, but the parser still treats the line as hostile: length
 * capped, one JSON object, every key known, every value typed and ranged.
 */
#include "xlmigd/ctl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "xlmigd/conf.h"
#include "core/private.h"
#include "backend/sim/sim_config.h"

const char *xlmig_ctl_cmd_name(enum xlmig_ctl_cmd c)
{
    switch (c) {
    case XLMIG_CTL_MIGRATE: return "migrate";
    case XLMIG_CTL_PREFLIGHT: return "preflight";
    case XLMIG_CTL_STATUS: return "status";
    case XLMIG_CTL_CANCEL: return "cancel";
    case XLMIG_CTL_RECOVER: return "recover";
    case XLMIG_CTL_STORAGE_MOVE: return "storage-move";
    case XLMIG_CTL_DRAIN: return "drain";
    case XLMIG_CTL_UNDRAIN: return "undrain";
    }
    return "unknown";
}

#define refuse(why, len, ...) \
    xlmig_why((why), (len), XLMIG_ERR_INVAL, __VA_ARGS__)

static int get_uint(yajl_val v, const char *k, uint64_t max, uint64_t *out,
                    char *why, size_t len)
{
    if (!YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0 ||
        (uint64_t)YAJL_GET_INTEGER(v) > max)
        return refuse(why, len, "\"%s\" must be an integer from 0 to %llu",
                      k, (unsigned long long)max);
    *out = (uint64_t)YAJL_GET_INTEGER(v);
    return 0;
}

static int get_str(yajl_val v, const char *k, char *out, size_t cap,
                   char *why, size_t len)
{
    const char *s = YAJL_GET_STRING(v);

    if (!YAJL_IS_STRING(v) || !s)
        return refuse(why, len, "\"%s\" must be a string", k);
    if (strlen(s) >= cap)
        return refuse(why, len, "\"%s\" is longer than %zu characters", k,
                      cap - 1);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

int xlmig_ctl_parse(const char *line, size_t len, struct xlmig_ctl_req *r,
                    char *why, size_t whylen)
{
    char err[128], *text;
    yajl_val root = NULL;
    uint64_t u = 0;
    int rc = XLMIG_ERR_INVAL;

    memset(r, 0, sizeof(*r));
    if (len > XLMIG_CTL_LINE_MAX)
        return refuse(why, whylen, "request longer than %d bytes",
                      XLMIG_CTL_LINE_MAX);
    if (memchr(line, '\0', len))
        return refuse(why, whylen, "request contains a NUL byte");
    text = malloc(len + 1);
    if (!text)
        return XLMIG_ERR_NOMEM;
    memcpy(text, line, len);
    text[len] = '\0';
    root = yajl_tree_parse(text, err, sizeof(err));
    free(text);
    if (!root) {
        char *nl = strchr(err, '\n');
        if (nl)
            *nl = '\0';
        return refuse(why, whylen, "not JSON: %s", err);
    }
    if (!YAJL_IS_OBJECT(root)) {
        refuse(why, whylen, "a request is a JSON object");
        goto out;
    }
    /* "cmd" first: it decides which keys are allowed. */
    for (size_t i = 0; i < root->u.object.len; i++) {
        const char *k = root->u.object.keys[i];
        yajl_val v = root->u.object.values[i];
        char cmd[16];
        if (strcmp(k, "cmd"))
            continue;
        if (get_str(v, k, cmd, sizeof(cmd), why, whylen))
            goto out;
        if (!strcmp(cmd, "migrate"))
            r->cmd = XLMIG_CTL_MIGRATE;
        else if (!strcmp(cmd, "status"))
            r->cmd = XLMIG_CTL_STATUS;
        else if (!strcmp(cmd, "cancel"))
            r->cmd = XLMIG_CTL_CANCEL;
        else if (!strcmp(cmd, "recover"))
            r->cmd = XLMIG_CTL_RECOVER;
        else if (!strcmp(cmd, "preflight"))
            r->cmd = XLMIG_CTL_PREFLIGHT;
        else if (!strcmp(cmd, "storage-move"))
            r->cmd = XLMIG_CTL_STORAGE_MOVE;
        else if (!strcmp(cmd, "drain"))
            r->cmd = XLMIG_CTL_DRAIN;
        else if (!strcmp(cmd, "undrain"))
            r->cmd = XLMIG_CTL_UNDRAIN;
        else {
            refuse(why, whylen, "unknown command \"%s\"", cmd);
            goto out;
        }
    }
    if (!r->cmd) {
        refuse(why, whylen, "no \"cmd\"");
        goto out;
    }
    for (size_t i = 0; i < root->u.object.len; i++) {
        const char *k = root->u.object.keys[i];
        yajl_val v = root->u.object.values[i];
        bool mig = r->cmd == XLMIG_CTL_MIGRATE;
        bool pre = r->cmd == XLMIG_CTL_PREFLIGHT;
        bool sto = r->cmd == XLMIG_CTL_STORAGE_MOVE;

        for (size_t p = 0; p < i; p++)
            if (!strcmp(root->u.object.keys[p], k)) {
                refuse(why, whylen, "\"%s\" given twice", k);
                goto out;
            }
        if (!strcmp(k, "cmd"))
            continue;
        if (!strcmp(k, "job") && (r->cmd == XLMIG_CTL_CANCEL ||
                                  r->cmd == XLMIG_CTL_RECOVER)) {
            if (get_uint(v, k, UINT32_MAX, &u, why, whylen))
                goto out;
            r->job = (uint32_t)u;
        } else if ((mig || pre || sto) && !strcmp(k, "domain")) {
            if (get_str(v, k, r->domain, sizeof(r->domain), why, whylen))
                goto out;
        } else if ((mig || pre) && !strcmp(k, "disk_map")) {
            if (!YAJL_IS_ARRAY(v) || v->u.array.len > XLMIG_CTL_DISK_MAPS) {
                refuse(why, whylen, "\"disk_map\" must be an array of at "
                       "most %d \"VDEV=PATH\" strings", XLMIG_CTL_DISK_MAPS);
                goto out;
            }
            for (size_t m = 0; m < v->u.array.len; m++) {
                char e[32 + XLMIG_CTL_VIA_MAX + 2], *eq;
                if (get_str(v->u.array.values[m], "disk_map", e, sizeof(e),
                            why, whylen))
                    goto out;
                eq = strchr(e, '=');
                if (!eq || eq == e || (size_t)(eq - e) >= 32 ||
                    eq[1] != '/' || strlen(eq + 1) > XLMIG_CTL_VIA_MAX ||
                    strpbrk(e, " \t\n")) {
                    refuse(why, whylen, "\"disk_map\" entry \"%s\" is not "
                           "VDEV=/ABSOLUTE/PATH", e);
                    goto out;
                }
                *eq = '\0';
                for (unsigned p = 0; p < r->ndisk_map; p++)
                    if (!strcmp(r->disk_map[p].vdev, e)) {
                        refuse(why, whylen, "\"disk_map\" names disk %s "
                               "twice", e);
                        goto out;
                    }
                memcpy(r->disk_map[r->ndisk_map].vdev, e, strlen(e) + 1);
                snprintf(r->disk_map[r->ndisk_map].path,
                         sizeof(r->disk_map[0].path), "%s", eq + 1);
                r->ndisk_map++;
            }
        } else if ((mig || pre) && !strcmp(k, "copy_storage")) {
            if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
                refuse(why, whylen, "\"copy_storage\" must be true or "
                       "false");
                goto out;
            }
            r->copy_storage = YAJL_IS_TRUE(v);
        } else if ((mig || pre) && !strcmp(k, "host")) {
            if (get_str(v, k, r->host, sizeof(r->host), why, whylen))
                goto out;
        } else if (mig && !strcmp(k, "max_downtime_ms")) {
            if (get_uint(v, k, 3600000, &r->max_downtime_ms, why, whylen))
                goto out;
        } else if (sto && !strcmp(k, "disk")) {
            if (get_str(v, k, r->disk, sizeof(r->disk), why, whylen))
                goto out;
        } else if (sto && !strcmp(k, "path")) {
            if (get_str(v, k, r->path, sizeof(r->path), why, whylen))
                goto out;
        } else if (sto && !strcmp(k, "keep")) {
            if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
                refuse(why, whylen, "\"keep\" must be true or false");
                goto out;
            }
            r->keep = YAJL_IS_TRUE(v);
        } else if ((mig || sto) && !strcmp(k, "bandwidth_mib")) {
            if (get_uint(v, k, 1u << 20, &r->bandwidth_mib, why, whylen))
                goto out;
        } else if (mig && !strcmp(k, "max_rounds")) {
            if (get_uint(v, k, 10000, &u, why, whylen))
                goto out;
            r->max_rounds = (uint32_t)u;
        } else if (mig && !strcmp(k, "timeout_s")) {
            if (get_uint(v, k, 7 * 86400, &r->timeout_s, why, whylen))
                goto out;
        } else if (mig && !strcmp(k, "priority")) {
            if (get_uint(v, k, 9, &u, why, whylen))
                goto out;
            r->priority = (uint32_t)u;
        } else if (mig && !strcmp(k, "channels")) {
            if (get_uint(v, k, 16, &u, why, whylen))
                goto out;
            r->channels = (uint32_t)u;
        } else if (mig && !strcmp(k, "quick")) {
            if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
                refuse(why, whylen, "\"quick\" must be true or false");
                goto out;
            }
            r->quick = YAJL_IS_TRUE(v);
        } else if (mig && !strcmp(k, "auto_converge")) {
            if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
                refuse(why, whylen, "\"auto_converge\" must be true or false");
                goto out;
            }
            r->auto_converge = YAJL_IS_TRUE(v);
        } else if (mig && !strcmp(k, "max_throttle_pct")) {
            if (get_uint(v, k, 99, &u, why, whylen))
                goto out;
            if (!u) {
                refuse(why, whylen, "\"max_throttle_pct\" must be from 1 "
                       "to 99");
                goto out;
            }
            r->max_throttle_pct = (uint32_t)u;
        } else if (mig && !strcmp(k, "xl")) {
            if (!YAJL_IS_TRUE(v) && !YAJL_IS_FALSE(v)) {
                refuse(why, whylen, "\"xl\" must be true or false");
                goto out;
            }
            r->xl = YAJL_IS_TRUE(v);
        } else if (r->cmd == XLMIG_CTL_DRAIN && !strcmp(k, "reason")) {
            if (get_str(v, k, r->reason, sizeof(r->reason), why, whylen))
                goto out;
            for (const char *c = r->reason; *c; c++)
                if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f) {
                    refuse(why, whylen, "\"reason\" must be printable "
                           "text, one line");
                    goto out;
                }
        } else if (mig && !strcmp(k, "via")) {
            if (get_str(v, k, r->via, sizeof(r->via), why, whylen))
                goto out;
        } else {
            refuse(why, whylen, "\"%s\" is not a key of \"%s\"", k,
                   xlmig_ctl_cmd_name(r->cmd));
            goto out;
        }
    }
    if (r->cmd == XLMIG_CTL_MIGRATE || r->cmd == XLMIG_CTL_PREFLIGHT) {
        struct xlmigd_peer p;
        if (!sim_name_valid(r->domain)) {
            refuse(why, whylen, "\"domain\" is missing or not a valid "
                   "domain name");
            goto out;
        }
        if (xlmigd_peer_parse(r->host, &p)) {
            refuse(why, whylen, "\"host\" is missing or not "
                   "NAME[@ADDRESS[:PORT]]");
            goto out;
        }
        if (r->xl && (r->quick || r->channels > 1)) {
            refuse(why, whylen, "\"xl\" is a live migration on one "
                   "connection: not with \"quick\" or \"channels\"");
            goto out;
        }
        if (r->auto_converge && r->quick) {
            refuse(why, whylen, "\"auto_converge\" throttles a live "
                   "migration; \"quick\" is not live");
            goto out;
        }
        if (r->max_throttle_pct && !r->auto_converge) {
            refuse(why, whylen, "\"max_throttle_pct\" limits "
                   "\"auto_converge\": give both");
            goto out;
        }
        if (r->ndisk_map && !r->copy_storage) {
            refuse(why, whylen, "\"disk_map\" says where copied disks go: "
                   "it needs \"copy_storage\"");
            goto out;
        }
        if (r->copy_storage && r->cmd == XLMIG_CTL_MIGRATE &&
            (r->quick || r->xl)) {
            refuse(why, whylen, "\"copy_storage\" copies the disks live: "
                   "not with \"quick\" or \"xl\"");
            goto out;
        }
        if (r->via[0] && (!r->quick || r->via[0] != '/')) {
            refuse(why, whylen, "\"via\" needs \"quick\" and an absolute "
                   "path");
            goto out;
        }
    }
    if (r->cmd == XLMIG_CTL_STORAGE_MOVE) {
        if (!sim_name_valid(r->domain)) {
            refuse(why, whylen, "\"domain\" is missing or not a valid "
                   "domain name");
            goto out;
        }
        if (!r->disk[0] || strpbrk(r->disk, "/ \t\n")) {
            refuse(why, whylen, "\"disk\" is missing or not a disk's "
                   "virtual device name (xvda, hda, ...)");
            goto out;
        }
        if (r->path[0] != '/') {
            refuse(why, whylen, "\"path\" is missing or not an absolute "
                   "path");
            goto out;
        }
    }
    if (r->cmd == XLMIG_CTL_CANCEL && !r->job) {
        refuse(why, whylen, "cancel needs a \"job\" number");
        goto out;
    }
    rc = 0;
out:
    yajl_tree_free(root);
    return rc;
}

void xlmig_json_key(yajl_gen g, const char *k)
{
    yajl_gen_string(g, (const unsigned char *)k, strlen(k));
}

void xlmig_json_str(yajl_gen g, const char *k, const char *v)
{
    xlmig_json_key(g, k);
    yajl_gen_string(g, (const unsigned char *)v, strlen(v));
}

void xlmig_json_int(yajl_gen g, const char *k, long long v)
{
    xlmig_json_key(g, k);
    yajl_gen_integer(g, v);
}

void xlmig_json_num(yajl_gen g, const char *k, double v)
{
    char b[32];
    int n = snprintf(b, sizeof(b), "%.3f", v);

    xlmig_json_key(g, k);
    yajl_gen_number(g, b, (size_t)n);
}

void xlmig_json_bool(yajl_gen g, const char *k, bool v)
{
    xlmig_json_key(g, k);
    yajl_gen_bool(g, v);
}

int xlmig_ctl_format(const struct xlmig_ctl_req *r, char *buf, size_t len)
{
    yajl_gen g = yajl_gen_alloc(NULL);
    const unsigned char *out;
    size_t n;
    int rc = -1;

    if (!g)
        return -1;
    yajl_gen_map_open(g);
    xlmig_json_str(g, "cmd", xlmig_ctl_cmd_name(r->cmd));
    if (r->job)
        xlmig_json_int(g, "job", r->job);
    if (r->cmd == XLMIG_CTL_PREFLIGHT || r->cmd == XLMIG_CTL_MIGRATE) {
        xlmig_json_str(g, "domain", r->domain);
        xlmig_json_str(g, "host", r->host);
        if (r->copy_storage)
            xlmig_json_bool(g, "copy_storage", true);
        if (r->ndisk_map) {
            xlmig_json_key(g, "disk_map");
            yajl_gen_array_open(g);
            for (unsigned m = 0; m < r->ndisk_map; m++) {
                char e[32 + XLMIG_CTL_VIA_MAX + 2];
                snprintf(e, sizeof(e), "%s=%s", r->disk_map[m].vdev,
                         r->disk_map[m].path);
                yajl_gen_string(g, (const unsigned char *)e, strlen(e));
            }
            yajl_gen_array_close(g);
        }
    }
    if (r->cmd == XLMIG_CTL_STORAGE_MOVE) {
        xlmig_json_str(g, "domain", r->domain);
        xlmig_json_str(g, "disk", r->disk);
        xlmig_json_str(g, "path", r->path);
        if (r->keep)
            xlmig_json_bool(g, "keep", true);
        if (r->bandwidth_mib)
            xlmig_json_int(g, "bandwidth_mib", (long long)r->bandwidth_mib);
    }
    if (r->cmd == XLMIG_CTL_DRAIN && r->reason[0])
        xlmig_json_str(g, "reason", r->reason);
    if (r->cmd == XLMIG_CTL_MIGRATE) {
        if (r->max_downtime_ms)
            xlmig_json_int(g, "max_downtime_ms", (long long)r->max_downtime_ms);
        if (r->bandwidth_mib)
            xlmig_json_int(g, "bandwidth_mib", (long long)r->bandwidth_mib);
        if (r->max_rounds)
            xlmig_json_int(g, "max_rounds", r->max_rounds);
        if (r->timeout_s)
            xlmig_json_int(g, "timeout_s", (long long)r->timeout_s);
        if (r->channels)
            xlmig_json_int(g, "channels", r->channels);
        if (r->priority)
            xlmig_json_int(g, "priority", r->priority);
        if (r->quick)
            xlmig_json_bool(g, "quick", true);
        if (r->auto_converge)
            xlmig_json_bool(g, "auto_converge", true);
        if (r->max_throttle_pct)
            xlmig_json_int(g, "max_throttle_pct", r->max_throttle_pct);
        if (r->xl)
            xlmig_json_bool(g, "xl", true);
        if (r->via[0])
            xlmig_json_str(g, "via", r->via);
    }
    yajl_gen_map_close(g);
    if (yajl_gen_get_buf(g, &out, &n) == yajl_gen_status_ok && n + 2 <= len) {
        memcpy(buf, out, n);
        buf[n] = '\n';
        buf[n + 1] = '\0';
        rc = (int)n + 1;
    }
    yajl_gen_free(g);
    return rc;
}
