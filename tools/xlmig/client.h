/* xlmig commands served by xlmigd (tools/client.c). */
#ifndef XLMIG_TOOLS_CLIENT_H
#define XLMIG_TOOLS_CLIENT_H

#include "libxlmig.h"

int xlmig_cmd_migrate(int argc, char **argv);
int xlmig_cmd_preflight(int argc, char **argv);
int xlmig_cmd_status(int argc, char **argv);
int xlmig_cmd_cancel(int argc, char **argv);
int xlmig_cmd_recover(int argc, char **argv);
/* tools/tunnel_cmd.c; exit status is the remote command's, 255 on a
 * failed tunnel */
int xlmig_cmd_tunnel(int argc, char **argv, enum xlmig_log_level level);

#endif
