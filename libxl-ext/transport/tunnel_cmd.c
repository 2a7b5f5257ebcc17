/*
 * The TUNNEL message's command (tunnel.h): encoded by the source, and
 * judged by the destination, which runs its own xl, and only as
 * `xl [-t|-T|-v] migrate-receive [-e|-F|-d|-p]`.  The body comes off the
 * wire: proto.c has checked its shape, this checks what it asks for.
 */
#include "transport/tunnel.h"

#include <string.h>

size_t xlmig_tunnel_put_cmd(uint8_t *b, size_t cap, int argc,
                            char *const *argv)
{
    size_t off = 0;

    if (argc < 1 || argc > XLMIG_TUNNEL_ARGS_MAX)
        return 0;
    if (cap > XLMIG_PROTO_TEXT_MAX)
        cap = XLMIG_PROTO_TEXT_MAX;
    for (int i = 0; i < argc; i++) {
        size_t n = strlen(argv[i]);
        if (n == 0 || off + n + 1 > cap)
            return 0;
        for (size_t k = 0; k < n; k++)
            if (argv[i][k] < 0x21 || argv[i][k] > 0x7e)
                return 0;
        memcpy(b + off, argv[i], n + 1);
        off += n + 1;
    }
    return off;
}

/* Is @w "-" followed by one or more of @letters? */
static bool flags_word(const char *w, const char *letters)
{
    if (w[0] != '-' || !w[1])
        return false;
    for (w++; *w; w++)
        if (!strchr(letters, *w))
            return false;
    return true;
}

int xlmig_tunnel_cmd_parse(const uint8_t *body, uint32_t len, const char *xl,
                           struct xlmig_tunnel_cmd *cmd, char *why,
                           size_t whylen)
{
    const char *w[XLMIG_TUNNEL_ARGS_MAX + 1];
    size_t xlen = strlen(xl), off;
    int n = 0, i;

    memset(cmd, 0, sizeof(*cmd));
    if (xlen + 1 + len > sizeof(cmd->buf) || len == 0 ||
        body[len - 1] != '\0') {
        snprintf(why, whylen, "the command is not a list of words");
        return XLMIG_ERR_REFUSED;
    }
    for (off = 0; off < len && n < XLMIG_TUNNEL_ARGS_MAX + 1;) {
        w[n++] = (const char *)body + off;
        off += strlen((const char *)body + off) + 1;
    }
    if (off < len) {
        snprintf(why, whylen, "more than %d words", XLMIG_TUNNEL_ARGS_MAX);
        return XLMIG_ERR_REFUSED;
    }
    if (strcmp(w[0], "xl")) {
        snprintf(why, whylen, "'%s': only xl migrate-receive runs through "
                 "a tunnel", w[0]);
        return XLMIG_ERR_REFUSED;
    }
    /* xl's own options, as `xl migrate` passes them through ssh */
    for (i = 1; i < n && w[i][0] == '-'; i++)
        if (!flags_word(w[i], "tTv")) {
            snprintf(why, whylen, "xl option '%s': only -t, -T and -v are "
                     "passed to xl", w[i]);
            return XLMIG_ERR_REFUSED;
        }
    if (i == n || strcmp(w[i], "migrate-receive")) {
        snprintf(why, whylen, "xl command '%s': only migrate-receive runs "
                 "through a tunnel", i == n ? "" : w[i]);
        return XLMIG_ERR_REFUSED;
    }
    for (i++; i < n; i++) {
        if (!strcmp(w[i], "-r") || !strncmp(w[i], "--colo", 6) ||
            !strcmp(w[i], "--userspace-colo-proxy")) {
            snprintf(why, whylen, "migrate-receive option '%s': Remus and "
                     "COLO replication are not carried by xlmig tunnel",
                     w[i]);
            return XLMIG_ERR_REFUSED;
        }
        if (!flags_word(w[i], "eFdp")) {
            snprintf(why, whylen, "migrate-receive option '%s': only -e, "
                     "-F, -d and -p are allowed", w[i]);
            return XLMIG_ERR_REFUSED;
        }
    }
    /* Allowed: copy, with our own xl in front. */
    off = 0;
    for (i = 0; i < n; i++) {
        const char *s = i ? w[i] : xl;
        size_t sl = strlen(s);
        memcpy(cmd->buf + off, s, sl + 1);
        cmd->argv[i] = cmd->buf + off;
        off += sl + 1;
    }
    cmd->argv[n] = NULL;
    cmd->argc = n;
    return 0;
}
