/*
 * xlmigd's configuration file, in the style of xl.conf: "key = value"
 * settings, one per line (or separated by ';'), values are "strings",
 * 'strings', integers or lists of strings [ "a", "b" ] that may span
 * lines; '#' starts a comment.  docs/man/xlmigd.conf.5 lists the keys.
 * The parser has a fuzz target (tests/fuzz/fuzz_conf.c).
 */
#ifndef XLMIGD_CONF_H
#define XLMIGD_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

void xlmigd_config_default(struct xlmigd_config *c);

/*
 * Parse @len bytes of configuration text over the defaults already in
 * @c.  Returns 0, or XLMIG_ERR_INVAL with "LINE: what was wrong" in @why.
 */
int xlmigd_config_parse(const char *text, size_t len,
                        struct xlmigd_config *c, char *why, size_t whylen);

/* Read and parse @path; logs "path:line: ..." on error. */
int xlmigd_config_load(xlmig_ctx *ctx, const char *path,
                       struct xlmigd_config *c) XLMIG_MUST_CHECK;

/* The peer called @name, or NULL. */
const struct xlmigd_peer *xlmigd_config_peer(const struct xlmigd_config *c,
                                             const char *name);

/* Parse "NAME[@ADDR[:PORT]]" (ADDR may be [v6]); 0 or XLMIG_ERR_INVAL. */
int xlmigd_peer_parse(const char *s, struct xlmigd_peer *p);

#endif
