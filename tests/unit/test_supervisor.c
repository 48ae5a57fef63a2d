/* The supervisor: when it is used, and how the VM process's end reaches
 * the parent. The children here stand in for a VM process: they end the
 * way machine_run's child would (supervisor_child_exit), or are killed. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "avp/vmm/supervisor.h"
#include "avp/hw/watchdog.h"
#include "support/config_helper.h"

static void test_when_needed(void **state)
{
	struct avp_config cfg;

	(void)state;
	avp_config_init(&cfg);
	assert_false(supervisor_needed(&cfg)); /* the plain case runs in-process */
	cfg.on_reboot = AVP_REBOOT_RESTART;
	assert_true(supervisor_needed(&cfg)); /* a confined process cannot boot again */
	cfg.seccomp = AVP_SECCOMP_OFF;
	assert_false(supervisor_needed(&cfg));
	test_add_device(&cfg, &watchdog_config, "action=reset");
	assert_false(supervisor_needed(&cfg));
	cfg.seccomp = AVP_SECCOMP_LOG;
	cfg.on_reboot = AVP_REBOOT_EXIT;
	assert_true(supervisor_needed(&cfg));
	avp_config_free(&cfg);
	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_OFF;
	cfg.jail.enabled = true;
	assert_true(supervisor_needed(&cfg)); /* always for the jail */
}

/* A supervised run with no jail; the child does what `child` says. */
static int supervised(void (*child)(void), enum vm_exit_reason *reason)
{
	struct supervisor s;
	struct avp_config cfg;
	sigset_t before, after;

	avp_config_init(&cfg);
	cfg.on_reboot = AVP_REBOOT_RESTART;
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	assert_int_equal(supervisor_fork(&s, &cfg), 0);
	if (s.child == 0)
		child(); /* never returns */
	assert_true(s.child > 0);
	int ret = supervisor_wait(&s, reason);

	/* The parent's signal mask is as it was. */
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	assert_int_equal(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
	assert_int_equal(sigismember(&after, SIGCHLD), sigismember(&before, SIGCHLD));
	return ret;
}

static void child_powers_off(void)
{
	supervisor_child_exit(0, VM_EXIT_POWEROFF);
}

static void child_reboots(void)
{
	supervisor_child_exit(0, VM_EXIT_REBOOT);
}

static void child_bad_config(void)
{
	supervisor_child_exit(-ENOENT, VM_EXIT_NONE);
}

static void child_fails_while_running(void)
{
	supervisor_child_exit(-EIO, VM_EXIT_HOST_ERROR);
}

static void child_watchdog(void)
{
	supervisor_child_exit(0, VM_EXIT_WATCHDOG);
}

static void child_seccomp_killed(void)
{
	kill(getpid(), SIGKILL); /* SIGSYS would dump core; any signal will do */
	pause();
	_exit(0);
}

/* The child has SIGTERM blocked, like a VM waiting on its signalfd: it
 * asks the parent to be terminated, which must forward the signal. */
static void child_waits_for_forwarded_sigterm(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	kill(getppid(), SIGTERM);
	if (sigwait(&set, &sig) || sig != SIGTERM)
		supervisor_child_exit(-EINVAL, VM_EXIT_HOST_ERROR);
	supervisor_child_exit(0, VM_EXIT_SIGNAL);
}

static void test_exit_reasons_pass_through(void **state)
{
	enum vm_exit_reason reason;

	(void)state;
	assert_int_equal(supervised(child_powers_off, &reason), 0);
	assert_int_equal(reason, VM_EXIT_POWEROFF);
	assert_int_equal(supervised(child_reboots, &reason), 0);
	assert_int_equal(reason, VM_EXIT_REBOOT);
	assert_int_equal(supervised(child_watchdog, &reason), 0);
	assert_int_equal(reason, VM_EXIT_WATCHDOG);
	/* Setup failed before anything ran: main() says "configuration". */
	assert_int_equal(supervised(child_bad_config, &reason), -EINVAL);
	assert_int_equal(reason, VM_EXIT_NONE);
	/* Failed while running: an error with the reason kept. */
	assert_int_equal(supervised(child_fails_while_running, &reason), -EIO);
	assert_int_equal(reason, VM_EXIT_HOST_ERROR);
}

static void test_killed_child_is_a_host_error(void **state)
{
	enum vm_exit_reason reason;

	(void)state;
	assert_int_equal(supervised(child_seccomp_killed, &reason), 0);
	assert_int_equal(reason, VM_EXIT_HOST_ERROR);
}

static void test_signals_are_forwarded(void **state)
{
	enum vm_exit_reason reason;

	(void)state;
	alarm(30); /* without forwarding both processes would wait forever */
	assert_int_equal(supervised(child_waits_for_forwarded_sigterm, &reason), 0);
	alarm(0);
	assert_int_equal(reason, VM_EXIT_SIGNAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_when_needed),
		cmocka_unit_test(test_exit_reasons_pass_through),
		cmocka_unit_test(test_killed_child_is_a_host_error),
		cmocka_unit_test(test_signals_are_forwarded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
