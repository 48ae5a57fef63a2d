/* Exit classification and the restart policy (AVP-RT-3). A guest reboot is
 * a failure for the policy: with panic=-1 a kernel panic reaches the VMM
 * as a reboot, and nothing tells the two apart without a pvpanic device;
 * a guest that reboots on purpose is restarted under on-failure as it
 * wishes, and stays stopped under never. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "avp/runtime/policy.h"
#include "avp/vm.h"

#define BACKOFF_CAP_MS 60000u

void rt_exit_describe(int wait_status, struct rt_exit *out)
{
	memset(out, 0, sizeof(*out));
	out->outcome = RT_OUT_FAILURE;
	if (WIFSIGNALED(wait_status)) {
		int sig = WTERMSIG(wait_status);

		/* Before avp run handles SIGTERM (while it starts) the signal
		 * kills it: still the "stopped by a signal" case. */
		snprintf(out->reason, sizeof(out->reason), "%s",
			 sig == SIGTERM || sig == SIGINT || sig == SIGHUP ? "signal" : "killed");
		snprintf(out->detail, sizeof(out->detail), "the VM process died of signal %d (%s)",
			 sig, strsignal(sig));
		return;
	}
	if (!WIFEXITED(wait_status)) {
		snprintf(out->reason, sizeof(out->reason), "unknown");
		return;
	}
	switch (WEXITSTATUS(wait_status)) {
	case AVP_EXIT_POWEROFF:
		snprintf(out->reason, sizeof(out->reason), "poweroff");
		snprintf(out->detail, sizeof(out->detail), "the guest powered off");
		out->outcome = RT_OUT_CLEAN;
		break;
	case AVP_EXIT_CONFIG:
		snprintf(out->reason, sizeof(out->reason), "config-error");
		snprintf(out->detail, sizeof(out->detail),
			 "the VM could not be assembled (see console.log)");
		out->outcome = RT_OUT_FATAL;
		break;
	case AVP_EXIT_CRASH:
		snprintf(out->reason, sizeof(out->reason), "crash");
		snprintf(out->detail, sizeof(out->detail),
			 "the guest crashed (triple fault or KVM error)");
		break;
	case AVP_EXIT_REBOOT:
		snprintf(out->reason, sizeof(out->reason), "reboot");
		snprintf(out->detail, sizeof(out->detail),
			 "the guest rebooted (or panicked with panic=-1)");
		break;
	case AVP_EXIT_HOST_ERROR:
		snprintf(out->reason, sizeof(out->reason), "host-error");
		snprintf(out->detail, sizeof(out->detail), "avp failed on the host side");
		break;
	case AVP_EXIT_SIGNAL:
		snprintf(out->reason, sizeof(out->reason), "signal");
		snprintf(out->detail, sizeof(out->detail),
			 "the VM process was stopped by SIGTERM/SIGINT/SIGHUP");
		break;
	case 6: /* `avp run`: the watchdog expired (action exit) */
		snprintf(out->reason, sizeof(out->reason), "watchdog");
		snprintf(out->detail, sizeof(out->detail), "the guest's watchdog expired");
		break;
	default:
		snprintf(out->reason, sizeof(out->reason), "exit-%d", WEXITSTATUS(wait_status));
		snprintf(out->detail, sizeof(out->detail), "the VM process exited with status %d",
			 WEXITSTATUS(wait_status));
		break;
	}
}

bool rt_should_restart(enum avp_restart_policy policy, unsigned int max_restarts,
		       enum rt_outcome outcome, unsigned int restarts, bool stop_requested)
{
	if (stop_requested || outcome == RT_OUT_FATAL)
		return false;
	if (max_restarts && restarts >= max_restarts)
		return false;
	switch (policy) {
	case AVP_RESTART_ALWAYS:
		return true;
	case AVP_RESTART_ON_FAILURE:
		return outcome == RT_OUT_FAILURE;
	default:
		return false;
	}
}

unsigned int rt_backoff_ms(unsigned int base_ms, unsigned int restarts)
{
	unsigned long long ms = base_ms;

	for (unsigned int i = 0; i < restarts && ms < BACKOFF_CAP_MS; i++)
		ms *= 2;
	return ms > BACKOFF_CAP_MS ? BACKOFF_CAP_MS : (unsigned int)ms;
}
