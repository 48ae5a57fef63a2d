/* libFuzzer target: the command line (cli_parse in src/cli/args.c) on an
 * argv split from the input at NUL and newline bytes, each argument its
 * own exactly sized allocation.
 *
 * Beyond the sanitizers: a rejection prints one message ending in a
 * newline; an accepted `run` stays inside the documented limits, with its
 * declaration order matching its devices (fuzz_check_config); and a
 * second parse of a plain command line right after any input still
 * works (parsers that keep state between calls, as getopt does, must not
 * carry anything over from the input's argv, which is freed by then). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp/cli.h"
#include "avp/config.h"
#include "avp/log.h"
#include "fuzz_config.h"
#include "fuzz_guest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define MAX_ARGS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	avp_log_set_level(AVP_LOG_ERROR);
	return 0;
}

/* Parses argv with a fresh config; returns cli_parse's result. */
static int parse(int argc, char **argv)
{
	struct avp_config cfg;
	char *msg = NULL;
	size_t msg_len = 0;
	FILE *err = open_memstream(&msg, &msg_len);
	int ret;

	if (!err)
		return -ENOMEM;
	avp_config_init(&cfg);
	ret = cli_parse(argc, argv, &cfg, err);
	fclose(err);
	if (ret < 0) {
		FUZZ_CHECK(msg_len > 0 && msg[msg_len - 1] == '\n');
	} else {
		FUZZ_CHECK(ret == CLI_HELP || ret == CLI_VERSION || ret == CLI_RUN ||
			   ret == CLI_RUN_HELP || ret == CLI_NONE || ret > CLI_RUN_HELP);
	}
	if (ret == CLI_RUN) {
		FUZZ_CHECK(cfg.cpus >= 1 && cfg.cpus <= AVP_MAX_CPUS);
		FUZZ_CHECK(cfg.memory_mib >= AVP_MIN_MEMORY_MIB &&
			   cfg.memory_mib <= AVP_MAX_MEMORY_MIB);
		fuzz_check_config(&cfg);
		FUZZ_CHECK(!cfg.cmdline || strlen(cfg.cmdline) <= AVP_MAX_CMDLINE);
	}
	free(msg);
	avp_config_free(&cfg);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2];
	int argc = 0;
	size_t start = 0;
	char a0[] = "avp", a1[] = "run", a2[] = "--kernel", a3[] = "k";
	char *plain[] = { a0, a1, a2, a3, NULL };

	argv[argc++] = strdup("avp");
	for (size_t i = 0; i <= size && argc <= MAX_ARGS; i++) {
		if (i < size && data[i] != '\0' && data[i] != '\n')
			continue;
		argv[argc] = malloc(i - start + 1);
		if (!argv[argc])
			break;
		memcpy(argv[argc], data + start, i - start);
		argv[argc][i - start] = '\0';
		argc++;
		start = i + 1;
	}
	argv[argc] = NULL;
	parse(argc, argv);
	for (int i = 0; i < argc; i++)
		free(argv[i]);

	FUZZ_CHECK(parse(4, plain) == CLI_RUN);
	return 0;
}
