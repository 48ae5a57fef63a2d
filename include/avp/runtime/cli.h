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

/* avp attach ID (src/cli/attach.c): the terminal on the VM's console
 * until Ctrl-] q or the VM's side closes. Returns the exit status. */
int cli_attach(const char *root, const char *id, FILE *err);

enum { CLI_ATTACH_DETACHED = 0, CLI_ATTACH_CLOSED = 1 };
/* The loop of cli_attach over any fds (tests): what sock sends goes to
 * out_fd; what in_fd gives goes to sock, but Ctrl-] q (or Ctrl-] .)
 * detaches and Ctrl-] Ctrl-] sends one Ctrl-]. Returns
 * CLI_ATTACH_DETACHED, CLI_ATTACH_CLOSED (the socket's end closed) or
 * -errno. */
int cli_attach_relay(int sock, int in_fd, int out_fd);

#endif
