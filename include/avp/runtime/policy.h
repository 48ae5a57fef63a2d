/* How a VM process ended, and whether the restart policy (AVP-RT-3) runs
 * it again. Pure functions, so every rule is unit-tested. */
#ifndef AVP_RUNTIME_POLICY_H
#define AVP_RUNTIME_POLICY_H

#include <stdbool.h>

#include "avp/runtime/bundle.h"

enum rt_outcome {
	RT_OUT_CLEAN,	/* the guest powered off */
	RT_OUT_FAILURE, /* reboot (also a kernel panic with panic=-1), crash, watchdog,
			 * host error, a signal from outside */
	RT_OUT_FATAL,	/* the VM cannot start (bad configuration): never restarted */
};

struct rt_exit {
	char reason[32];  /* poweroff, reboot, crash, host-error, signal, config-error,
			   * watchdog, killed, exit-N */
	char detail[160];
	enum rt_outcome outcome;
};

/* From a waitpid() status of a VM process (exit statuses as `avp run`'s). */
void rt_exit_describe(int wait_status, struct rt_exit *out);

/* Whether to start the VM again after it ended with outcome, having been
 * restarted `restarts` times already. A stop the user asked for (avp kill)
 * is never undone. */
bool rt_should_restart(enum avp_restart_policy policy, unsigned int max_restarts,
		       enum rt_outcome outcome, unsigned int restarts, bool stop_requested);

/* Delay before restart number restarts+1: base doubled per restart so far,
 * at most 60 s. */
unsigned int rt_backoff_ms(unsigned int base_ms, unsigned int restarts);

#endif
