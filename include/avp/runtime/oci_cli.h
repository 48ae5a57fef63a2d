/* runc's command line (src/cli/oci_cmds.c, docs/oci.md). */
#ifndef AVP_RUNTIME_OCI_CLI_H
#define AVP_RUNTIME_OCI_CLI_H
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include "avp/runtime/jsoncheck.h"
#include "avp/runtime/oci.h"

struct oci_globals {
	bool runc;	  /* a runc global option came before the command */
	const char *root; /* --root, NULL: not given */
	struct oci_log log;
	char log_path[PATH_MAX];
};

/* Is argv[1] a runc global option or a runc-only command? */
bool oci_cli_handles(const char *arg);
/* Reads the global options before the command: the index of the command
 * (argc when there is none, or of --version/--help), or -EINVAL with the
 * message on err. */
int oci_cli_globals(int argc, char **argv, struct oci_globals *g, FILE *err);
/* `features` and the refused commands: the exit status, or -1 when cmd is
 * neither. npos: its operands. */
int oci_cli_other(const char *cmd, int npos, FILE *out, FILE *err);
/* runc's `ps ID`: the container's host pids, as a JSON array (json) or a
 * table. 0 or -errno with e. */
int oci_cli_ps(const char *root, const char *id, bool json, FILE *out, struct jc_err *e);
/* runc's `list`: every VM under root, OCI and avp's, in runc's shape: a
 * table, a JSON array (json) or the IDs alone (quiet). */
int oci_cli_list(const char *root, bool json, bool quiet, FILE *out, struct jc_err *e);
/* runc --version's shape: "avp version X" then "spec: Y". */
void oci_cli_version(FILE *out);

#endif
