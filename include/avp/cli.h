/* Command-line parsing, kept apart from main() so it can be unit-tested. */
#ifndef AVP_CLI_H
#define AVP_CLI_H

#include <stdio.h>

#include "avp/config.h"

enum cli_command {
	CLI_NONE,
	CLI_HELP,	 /* avp --help */
	CLI_VERSION,	 /* avp --version */
	CLI_RUN,	 /* avp run ... */
	CLI_RUN_HELP,	 /* avp run --help */
};

/* Parses argv into cfg (initialised by the caller with avp_config_init).
 * Returns the command, or -EINVAL after printing one line saying what was
 * wrong and how to fix it to err. */
int cli_parse(int argc, char **argv, struct avp_config *cfg, FILE *err);

struct avp_config_type;

/* One device option as the command line takes it (text NULL: no value):
 * the type's keys, then the config's adder. 0, -ENOMEM, or -EINVAL with
 * e->text (empty: the text breaks the option's grammar). Tests and the
 * option fuzzer add devices through it too. */
int cli_add_device(struct avp_config *cfg, const struct avp_config_type *t, const char *text,
		   struct avp_config_err *e);

/* avp api --api-sock PATH CMD [JSON-ARGS]: sends one request to a running
 * VM's control socket and prints the reply (src/cli/api_client.c).
 * argv[0] is "api". Returns the process exit status (docs/api.md). */
int api_client_main(int argc, char **argv, FILE *out, FILE *err);

void cli_usage(FILE *out);
void cli_run_usage(FILE *out);

#endif
