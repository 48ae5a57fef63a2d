/* avp's entry point: parse, run, map how the guest ended to an exit status.
 * The only place that decides to end the process. */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "avp_version.h"
#include "avp/cli.h"
#include "avp/cli_screenshot.h"
#include "avp/log.h"
#include "avp/vmm/machine.h"
#include "avp/vmm/preflight.h"
#include "avp/runtime/cli.h"


static int exit_status(enum vm_exit_reason reason)
{
	switch (reason) {
	case VM_EXIT_POWEROFF:
		return AVP_EXIT_POWEROFF;
	case VM_EXIT_REBOOT:
		return AVP_EXIT_REBOOT;
	case VM_EXIT_CRASH:
		return AVP_EXIT_CRASH;
	case VM_EXIT_SIGNAL:
		return AVP_EXIT_SIGNAL;
	case VM_EXIT_WATCHDOG:
		return AVP_EXIT_WATCHDOG;
	default:
		return AVP_EXIT_HOST_ERROR;
	}
}

static const char *reason_text(enum vm_exit_reason reason)
{
	switch (reason) {
	case VM_EXIT_POWEROFF:
		return "guest powered off";
	case VM_EXIT_REBOOT:
		return "guest rebooted";
	case VM_EXIT_CRASH:
		return "guest crashed";
	case VM_EXIT_SIGNAL:
		return "stopped by a signal";
	case VM_EXIT_WATCHDOG:
		return "watchdog expired";
	default:
		return "host-side failure";
	}
}

int main(int argc, char **argv)
{
	struct avp_config cfg;
	enum vm_exit_reason reason = VM_EXIT_NONE;
	unsigned int verbose = 0;
	int cmd;
	int ret;

	/* Memory outside guest RAM (docs/footprint.md). One malloc arena:
	 * otherwise each thread that allocates gets its own, a 64 MiB
	 * reservation whose touched pages stay resident, for threads that
	 * allocate little and rarely (no contention worth an arena). Fixed
	 * thresholds: glibc raises its mmap threshold after the first large
	 * free, after which big short-lived buffers (kernel and initrd
	 * loading, bundles) come from the heap and stay resident as free
	 * chunks; blocks from 64 KiB up are mapped and returned on free, and
	 * more than 64 KiB free at the heap's top is given back. */
	mallopt(M_ARENA_MAX, 1);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024);

	/* `avp -v COMMAND ...`: the usage lists -v among avp's own options,
	 * so it may come before the command, for every command. */
	while (argc >= 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--verbose") == 0 ||
			     strcmp(argv[1], "-vv") == 0)) {
		verbose += strcmp(argv[1], "-vv") == 0 ? 2 : 1;
		argv[1] = argv[0];
		argv++;
		argc--;
	}
	if (verbose)
		avp_log_set_level(verbose > 1 ? AVP_LOG_DEBUG : AVP_LOG_INFO);

	/* A client of a running VM: no config, no VM. */
	if (argc >= 2 && strcmp(argv[1], "screenshot") == 0)
		return cli_screenshot(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "api") == 0)
		return api_client_main(argc - 1, argv + 1, stdout, stderr);
	/* The runtime (create/start/.../system) drives VMs; it boots none
	 * itself. */
	if (argc >= 2 && runtime_cli_handles(argv[1]))
		return runtime_cli_main(argc, argv, stdout, stderr);
	avp_config_init(&cfg);
	cmd = cli_parse(argc, argv, &cfg, stderr);
	cfg.verbose += verbose;
	switch (cmd) {
	case CLI_HELP:
		cli_usage(stdout);
		avp_config_free(&cfg);
		return 0;
	case CLI_RUN_HELP:
		cli_run_usage(stdout);
		avp_config_free(&cfg);
		return 0;
	case CLI_VERSION:
#ifdef AVP_FAULTS
		printf("avp %s (TEST BUILD with injected faults: %s)\n", AVP_VERSION, AVP_FAULTS);
#else
		printf("avp %s\n", AVP_VERSION);
#endif
		avp_config_free(&cfg);
		return 0;
	case CLI_RUN:
		break;
	default:
		avp_config_free(&cfg);
		return AVP_EXIT_CONFIG;
	}

#ifdef AVP_FAULTS
	avp_warn("TEST BUILD with injected faults (%s): devices are broken on purpose; never use it for a real VM",
		 AVP_FAULTS);
#endif
	if (cfg.verbose)
		avp_log_set_level(cfg.verbose > 1 ? AVP_LOG_DEBUG : AVP_LOG_INFO);
	/* Bad inputs are a config error; a VM that fails to come up from good
	 * ones failed on the host (no /dev/kvm yet, ...), which a restart
	 * policy retries (docs/runtime.md). machine_run checks them again. */
	if (preflight_check(&cfg)) {
		avp_config_free(&cfg);
		return AVP_EXIT_CONFIG;
	}
	do
		ret = machine_run(&cfg, stdout, &reason);
	while (!ret && !cfg.describe && machine_boot_again(&cfg, reason));
	bool describe_only = cfg.describe;

	avp_config_free(&cfg);
	/* -ENOTSUP: this host can never run the VM as given (no GICv3 for
	 * arm64, --dump-dtb on x86): like a bad input, a retry cannot help. */
	if (ret == -ENOTSUP)
		return AVP_EXIT_CONFIG;
	if (ret)
		return AVP_EXIT_HOST_ERROR;
	if (describe_only)
		return 0;
	if (reason != VM_EXIT_POWEROFF)
		avp_say("%s", reason_text(reason)); /* never waits for a stalled stderr */
	return exit_status(reason);
}
