/* xlmig commands served by xlmigd (tools/client.c). */
#ifndef XLMIG_TOOLS_CLIENT_H
#define XLMIG_TOOLS_CLIENT_H

int xlmig_cmd_migrate(int argc, char **argv);
int xlmig_cmd_status(int argc, char **argv);
int xlmig_cmd_cancel(int argc, char **argv);
int xlmig_cmd_recover(int argc, char **argv);

#endif
