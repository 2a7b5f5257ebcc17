/*
 * xlmigd.conf parser.  Two layers: a tokenizer that turns the text into
 * settings (key, value kind, value), and a table that checks each key's
 * kind and range and stores it.  Every refusal names the line.
 */
#include "xlmigd/conf.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/private.h"
#include "backend/sim/sim_config.h"

#define CONF_MAX_BYTES (256u << 10)
#define CONF_VALUE_MAX 256
#define CONF_LIST_MAX XLMIGD_PEERS_MAX

enum val_kind { VAL_STRING, VAL_NUMBER, VAL_LIST };

struct setting {
    unsigned line;
    char key[32];
    enum val_kind kind;
    char str[CONF_VALUE_MAX];
    uint64_t num;
    char list[CONF_LIST_MAX][CONF_VALUE_MAX];
    unsigned nlist;
};

struct lexer {
    const char *p, *end;
    unsigned line;
    char *why;
    size_t whylen;
};

static int fail(struct lexer *lx, const char *fmt, ...) XLMIG_PRINTF(2, 3);
static int fail(struct lexer *lx, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(lx->why, lx->whylen, "line %u: ", lx->line);

    if (n < 0 || (size_t)n >= lx->whylen)
        return XLMIG_ERR_INVAL;
    va_start(ap, fmt);
    vsnprintf(lx->why + n, lx->whylen - (size_t)n, fmt, ap);
    va_end(ap);
    return XLMIG_ERR_INVAL;
}

/* Skip blanks and comments; newlines too when @nl. */
static void skip(struct lexer *lx, int nl)
{
    while (lx->p < lx->end) {
        char c = *lx->p;
        if (c == '#') {
            while (lx->p < lx->end && *lx->p != '\n')
                lx->p++;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            lx->p++;
        } else if (c == '\n' && nl) {
            lx->line++;
            lx->p++;
        } else {
            break;
        }
    }
}

static int lex_string(struct lexer *lx, char *out)
{
    char q = *lx->p++;
    size_t n = 0;

    while (lx->p < lx->end && *lx->p != q) {
        unsigned char c = (unsigned char)*lx->p;
        if (c == '\n' || c == '\0' || (c < 0x20 && c != '\t'))
            return fail(lx, "unterminated or invalid string");
        if (n + 1 >= CONF_VALUE_MAX)
            return fail(lx, "string longer than %d characters",
                        CONF_VALUE_MAX - 1);
        out[n++] = (char)c;
        lx->p++;
    }
    if (lx->p >= lx->end)
        return fail(lx, "unterminated string");
    lx->p++;
    out[n] = '\0';
    return 0;
}

static int lex_value(struct lexer *lx, struct setting *s)
{
    if (lx->p >= lx->end || *lx->p == '\n' || *lx->p == ';')
        return fail(lx, "%s: missing value", s->key);
    if (*lx->p == '"' || *lx->p == '\'') {
        s->kind = VAL_STRING;
        return lex_string(lx, s->str);
    }
    if (isdigit((unsigned char)*lx->p)) {
        uint64_t v = 0;
        s->kind = VAL_NUMBER;
        while (lx->p < lx->end && isdigit((unsigned char)*lx->p)) {
            unsigned d = (unsigned)(*lx->p++ - '0');
            if (v > (UINT64_MAX - d) / 10)
                return fail(lx, "%s: number too large", s->key);
            v = v * 10 + d;
        }
        s->num = v;
        return 0;
    }
    if (*lx->p == '[') {
        s->kind = VAL_LIST;
        lx->p++;
        for (;;) {
            skip(lx, 1);
            if (lx->p >= lx->end)
                return fail(lx, "%s: list not closed with ]", s->key);
            if (*lx->p == ']') {
                lx->p++;
                return 0;
            }
            if (*lx->p != '"' && *lx->p != '\'')
                return fail(lx, "%s: list items must be quoted strings",
                            s->key);
            if (s->nlist >= CONF_LIST_MAX)
                return fail(lx, "%s: more than %d items", s->key,
                            CONF_LIST_MAX);
            if (lex_string(lx, s->list[s->nlist]))
                return XLMIG_ERR_INVAL;
            s->nlist++;
            skip(lx, 1);
            if (lx->p < lx->end && *lx->p == ',')
                lx->p++;
            else if (lx->p < lx->end && *lx->p != ']')
                return fail(lx, "%s: expected , or ] in list", s->key);
        }
    }
    return fail(lx, "%s: a value is a \"string\", a number or a [ list ]",
                s->key);
}

/* Next setting; 1 at the end of the text. */
static int lex_setting(struct lexer *lx, struct setting *s)
{
    size_t n = 0;

    memset(s, 0, sizeof(*s));
    for (;;) {
        skip(lx, 1);
        if (lx->p < lx->end && *lx->p == ';') {
            lx->p++;
            continue;
        }
        break;
    }
    if (lx->p >= lx->end)
        return 1;
    s->line = lx->line;
    if (!isalpha((unsigned char)*lx->p) && *lx->p != '_')
        return fail(lx, "expected a setting name, found '%c'",
                    isprint((unsigned char)*lx->p) ? *lx->p : '?');
    while (lx->p < lx->end &&
           (isalnum((unsigned char)*lx->p) || *lx->p == '_')) {
        if (n + 1 >= sizeof(s->key))
            return fail(lx, "setting name too long");
        s->key[n++] = *lx->p++;
    }
    skip(lx, 0);
    if (lx->p >= lx->end || *lx->p != '=')
        return fail(lx, "%s: expected '=' after the name", s->key);
    lx->p++;
    skip(lx, 0);
    if (lex_value(lx, s))
        return XLMIG_ERR_INVAL;
    skip(lx, 0);
    if (lx->p < lx->end && *lx->p != '\n' && *lx->p != ';')
        return fail(lx, "%s: unexpected text after the value", s->key);
    return 0;
}

int xlmigd_peer_parse(const char *s, struct xlmigd_peer *p)
{
    const char *at = strchr(s, '@');
    size_t nlen = at ? (size_t)(at - s) : strlen(s);
    char name[XLMIG_NAME_MAX];

    memset(p, 0, sizeof(*p));
    p->port = XLMIGD_PORT;
    if (nlen == 0 || nlen >= sizeof(name))
        return XLMIG_ERR_INVAL;
    memcpy(name, s, nlen);
    name[nlen] = '\0';
    if (!sim_name_valid(name))
        return XLMIG_ERR_INVAL;
    memcpy(p->name, name, nlen + 1);
    if (at) {
        const char *a = at + 1, *colon, *aend;
        if (*a == '[') {                        /* [v6]:port */
            aend = strchr(a, ']');
            if (!aend)
                return XLMIG_ERR_INVAL;
            a++;
            colon = aend[1] == ':' ? aend + 1 : NULL;
            if (aend[1] && !colon)
                return XLMIG_ERR_INVAL;
        } else {
            colon = strrchr(a, ':');
            aend = colon ? colon : a + strlen(a);
            if (colon && strchr(a, ':') != colon)
                return XLMIG_ERR_INVAL;         /* bare v6 needs [] */
        }
        if (aend == a || (size_t)(aend - a) >= sizeof(p->addr))
            return XLMIG_ERR_INVAL;
        for (const char *q = a; q < aend; q++)
            if (!isalnum((unsigned char)*q) && !strchr(".-:_", *q))
                return XLMIG_ERR_INVAL;
        memcpy(p->addr, a, (size_t)(aend - a));
        p->addr[aend - a] = '\0';
        if (colon) {
            char *end;
            unsigned long port;
            errno = 0;
            port = strtoul(colon + 1, &end, 10);
            if (errno || *end || end == colon + 1 || port == 0 ||
                port > 65535)
                return XLMIG_ERR_INVAL;
            p->port = (uint16_t)port;
        }
    }
    return 0;
}

void xlmigd_config_default(struct xlmigd_config *c)
{
    memset(c, 0, sizeof(*c));
    c->port = XLMIGD_PORT;
    snprintf(c->socket_path, sizeof(c->socket_path), "%s", XLMIGD_SOCKET);
    snprintf(c->state_dir, sizeof(c->state_dir), "%s", XLMIGD_STATE_DIR);
    c->max_incoming = 4;
    c->max_outgoing = 4;
    c->busy_wait_s = 600;
    c->io_timeout_s = 30;
    c->dead_peer_ms = 2000;
    c->channels = 1;
    c->tunnel = 1;
    snprintf(c->tunnel_xl, sizeof(c->tunnel_xl), "%s", "/usr/sbin/xl");
    snprintf(c->xenstore, sizeof(c->xenstore), "%s", "auto");
    c->log_level = XLMIG_LOG_INFO;
    c->announce = 1;            /* QEMU's announce-self defaults */
    c->announce_rounds = 5;
    c->announce_initial_ms = 50;
    c->announce_step_ms = 100;
    c->announce_max_ms = 550;
}

enum key_kind { K_STR, K_PATH, K_NUM, K_SIZE, K_PEERS, K_LEVEL, K_NAME,
                K_RATIO };

struct key_rule {
    const char *key;
    enum key_kind kind;
    size_t off;
    size_t len;                 /* of the string field */
    uint64_t min, max;          /* K_NUM */
};

#define STR(k, kind, f)                                                  \
    { k, kind, offsetof(struct xlmigd_config, f),                        \
      sizeof(((struct xlmigd_config *)0)->f), 0, 0 }
#define NUM(k, f, lo, hi)                                                \
    { k, K_NUM, offsetof(struct xlmigd_config, f),                       \
      sizeof(((struct xlmigd_config *)0)->f), lo, hi }

static const struct key_rule rules[] = {
    STR("host_name", K_NAME, host_name),
    STR("listen", K_STR, listen),
    NUM("port", port, 1, 65535),
    STR("certificate", K_PATH, cert),
    STR("key", K_PATH, key),
    STR("ca", K_PATH, ca),
    { "peers", K_PEERS, 0, 0, 0, 0 },
    STR("socket", K_PATH, socket_path),
    STR("state_dir", K_PATH, state_dir),
    STR("backend", K_STR, backend),
    STR("sim_dir", K_PATH, sim_dir),
    NUM("max_incoming", max_incoming, 1, 64),
    NUM("max_outgoing", max_outgoing, 1, 64),
    NUM("max_outgoing_per_destination", max_outgoing_per_destination, 0, 64),
    NUM("busy_wait", busy_wait_s, 0, 86400),
    NUM("io_timeout", io_timeout_s, 1, 3600),
    NUM("dead_peer_ms", dead_peer_ms, 200, 600000),
    NUM("channels", channels, 1, 16),
    NUM("handover_ms", handover_ms, 0, 600000),
    NUM("tunnel", tunnel, 0, 1),
    NUM("announce", announce, 0, 1),
    NUM("announce_rounds", announce_rounds, 1, 100),
    NUM("announce_initial_ms", announce_initial_ms, 1, 100000),
    NUM("announce_step_ms", announce_step_ms, 0, 100000),
    NUM("announce_max_ms", announce_max_ms, 1, 100000),
    STR("tunnel_xl", K_PATH, tunnel_xl),
    STR("xenstore", K_STR, xenstore),
    { "domain_memory", K_SIZE, offsetof(struct xlmigd_config, domain_memory),
      8, 0, 0 },
    { "log_level", K_LEVEL, 0, 0, 0, 0 },
    { "vcpu_overcommit", K_RATIO, 0, 0, 0, 0 },
};

static int apply(struct lexer *lx, const struct setting *s,
                 struct xlmigd_config *c)
{
    const struct key_rule *r = NULL;
    char *field;

    for (size_t i = 0; i < ARRAY_SIZE(rules); i++)
        if (!strcmp(rules[i].key, s->key))
            r = &rules[i];
    if (!r)
        return fail(lx, "unknown setting '%s'", s->key);
    field = (char *)c + r->off;
    switch (r->kind) {
    case K_STR:
    case K_PATH:
    case K_NAME:
        if (s->kind != VAL_STRING)
            return fail(lx, "%s: expected a quoted string", s->key);
        if (strlen(s->str) >= r->len)
            return fail(lx, "%s: longer than %zu characters", s->key,
                        r->len - 1);
        if (r->kind == K_PATH && s->str[0] != '/')
            return fail(lx, "%s: must be an absolute path", s->key);
        if (r->kind == K_NAME && !sim_name_valid(s->str))
            return fail(lx, "%s: '%s' is not a valid host name", s->key,
                        s->str);
        if (r->kind == K_STR && !strcmp(s->key, "backend") &&
            strcmp(s->str, "sim") && strcmp(s->str, "xen"))
            return fail(lx, "backend: '%s' is neither \"sim\" nor \"xen\"",
                        s->str);
        if (r->kind == K_STR && !strcmp(s->key, "xenstore") &&
            strcmp(s->str, "auto") && strcmp(s->str, "on") &&
            strcmp(s->str, "off"))
            return fail(lx, "xenstore: '%s' is not \"auto\", \"on\" or "
                        "\"off\"", s->str);
        memcpy(field, s->str, strlen(s->str) + 1);
        return 0;
    case K_NUM:
        if (s->kind != VAL_NUMBER)
            return fail(lx, "%s: expected a number", s->key);
        if (s->num < r->min || s->num > r->max)
            return fail(lx, "%s: %llu is outside %llu..%llu", s->key,
                        (unsigned long long)s->num,
                        (unsigned long long)r->min,
                        (unsigned long long)r->max);
        if (r->len == sizeof(uint16_t))
            *(uint16_t *)(void *)field = (uint16_t)s->num;
        else
            *(unsigned *)(void *)field = (unsigned)s->num;
        return 0;
    case K_SIZE: {
        uint64_t v;
        if (s->kind == VAL_NUMBER)
            v = s->num << 20;                   /* MiB, as xl's memory */
        else if (s->kind != VAL_STRING || sim_parse_size(s->str, &v))
            return fail(lx, "%s: expected MiB or a size such as \"16G\"",
                        s->key);
        else if (v == 0)
            return fail(lx, "%s: must not be zero", s->key);
        c->domain_memory = v;
        return 0;
    }
    case K_RATIO: {
        /* 0 (no limit), or 0.01 to 1000 vCPUs per pCPU, two decimals. */
        unsigned long long whole = 0, frac = 0;
        int digits = 0;
        const char *p;
        if (s->kind == VAL_NUMBER) {
            whole = s->num;
        } else if (s->kind == VAL_STRING) {
            for (p = s->str; *p >= '0' && *p <= '9' && whole < 100000; p++)
                whole = whole * 10 + (unsigned)(*p - '0');
            if (p == s->str)
                goto bad_ratio;
            if (*p == '.') {
                for (p++; *p >= '0' && *p <= '9' && digits < 2; p++) {
                    frac = frac * 10 + (unsigned)(*p - '0');
                    digits++;
                }
                if (!digits)
                    goto bad_ratio;
                if (digits == 1)
                    frac *= 10;
            }
            if (*p)
                goto bad_ratio;
        } else {
            goto bad_ratio;
        }
        if (whole > 1000 || (whole == 1000 && frac))
            goto bad_ratio;
        c->vcpu_overcommit_pct = (unsigned)(whole * 100 + frac);
        return 0;
    bad_ratio:
        return fail(lx, "vcpu_overcommit: expected vCPUs per pCPU, 0 (no "
                    "limit) to 1000, e.g. 4 or \"1.5\"");
    }
    case K_LEVEL: {
        static const char *const names[] = { "error", "warn", "info",
                                             "debug" };
        if (s->kind != VAL_STRING)
            return fail(lx, "log_level: expected a quoted string");
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
            if (!strcmp(s->str, names[i])) {
                c->log_level = (enum xlmig_log_level)i;
                return 0;
            }
        return fail(lx, "log_level: '%s' is not error, warn, info or debug",
                    s->str);
    }
    case K_PEERS:
        if (s->kind != VAL_LIST)
            return fail(lx, "peers: expected a list [ \"name@address\", ... ]");
        c->npeers = 0;
        for (unsigned i = 0; i < s->nlist; i++) {
            struct xlmigd_peer *p = &c->peers[c->npeers];
            if (xlmigd_peer_parse(s->list[i], p))
                return fail(lx, "peers: '%s' is not NAME or "
                            "NAME@ADDRESS[:PORT]", s->list[i]);
            if (xlmigd_config_peer(c, p->name))
                return fail(lx, "peers: '%s' listed twice", p->name);
            c->npeers++;
        }
        return 0;
    }
    return fail(lx, "%s: internal error", s->key);
}

int xlmigd_config_parse(const char *text, size_t len,
                        struct xlmigd_config *c, char *why, size_t whylen)
{
    struct lexer lx = { text, text + len, 1, why, whylen };
    struct setting *s = malloc(sizeof(*s));
    int rc;

    if (!s)
        return XLMIG_ERR_NOMEM;
    if (whylen)
        why[0] = '\0';
    if (memchr(text, '\0', len)) {
        free(s);
        snprintf(why, whylen, "contains a NUL byte");
        return XLMIG_ERR_INVAL;
    }
    while ((rc = lex_setting(&lx, s)) == 0) {
        unsigned cur = lx.line;

        lx.line = s->line;      /* blame the line the setting starts on */
        rc = apply(&lx, s, c);
        lx.line = cur;
        if (rc)
            break;
    }
    free(s);
    return rc == 1 ? 0 : rc;
}

const struct xlmigd_peer *xlmigd_config_peer(const struct xlmigd_config *c,
                                             const char *name)
{
    for (unsigned i = 0; i < c->npeers; i++)
        if (!strcmp(c->peers[i].name, name))
            return &c->peers[i];
    return NULL;
}

int xlmigd_config_load(xlmig_ctx *ctx, const char *path,
                       struct xlmigd_config *c)
{
    char why[256], *buf = NULL;
    struct stat st;
    size_t got = 0;
    int fd, r, rc;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        LOG_ERR(ctx, "cannot open %s: %s", path, strerror(errno));
        return xlmig_errno_rc(errno);
    }
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
        st.st_size > (off_t)CONF_MAX_BYTES) {
        LOG_ERR(ctx, "%s: not a regular file of at most %u KiB", path,
                CONF_MAX_BYTES >> 10);
        rc = XLMIG_ERR_INVAL;
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = XLMIG_ERR_NOMEM;
        goto out;
    }
    r = xlmig_read_exact(fd, buf, (size_t)st.st_size, &got);
    if (r < 0) {
        LOG_ERR(ctx, "reading %s: %s", path, strerror(-r));
        rc = XLMIG_ERR_IO;
        goto out;
    }
    rc = xlmigd_config_parse(buf, got, c, why, sizeof(why));
    if (rc)
        LOG_ERR(ctx, "%s: %s", path, why);
out:
    free(buf);
    close(fd);
    return rc;
}
