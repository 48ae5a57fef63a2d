/* The runtime's commands (AVP-RT-2): avp create/start/state/kill/delete/
 * list/spec and avp system up/down/status (src/cli/runtime_cmds.c). */
#ifndef AVP_RUNTIME_CLI_H
#define AVP_RUNTIME_CLI_H

#include <stdbool.h>
#include <stdio.h>

/* Is argv[1] one of the runtime's commands? */
bool runtime_cli_handles(const char *command);

/* Runs it; returns the process exit status: 0 done, 1 refused (bad
 * arguments, bundle or system file, or an operation the VM's state does
 * not allow), with one line on err saying why. */
int runtime_cli_main(int argc, char **argv, FILE *out, FILE *err);

void runtime_cli_usage(FILE *out);

#endif
