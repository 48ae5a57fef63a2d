/* The VM in a child process (include/avp/vmm/supervisor.h says when and why).
 *
 * The child reports how the VM ended through its exit status, in a code of
 * our own rather than avp's documented statuses, so that every exit reason
 * (present and future) and the "setup failed" case pass through unchanged:
 * CHILD_RAN + reason when machine_run returned 0, CHILD_FAILED + reason
 * when it returned an error. The parent's main() then maps the reason to
 * avp's exit status exactly as for a VM run in-process. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/hw/watchdog.h"
#include "avp/jail.h"
#include "avp/log.h"
#include "avp/vmm/supervisor.h"

#define CHILD_RAN 32
#define CHILD_FAILED 64
#define REASON_MASK 31

bool supervisor_needed(const struct avp_config *cfg)
{
	const struct avp_watchdog_cfg *w = avp_config_device(cfg, &watchdog_config, 0);
	bool restarts = cfg->on_reboot == AVP_REBOOT_RESTART ||
			(w && w->action == AVP_WATCHDOG_RESET);

	return cfg->jail.enabled || (restarts && cfg->seccomp != AVP_SECCOMP_OFF);
}

/* The signals that stop a VM (src/vmm/machine.c) plus SIGCHLD. */
static void supervised_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGCHLD);
}

_Noreturn void supervisor_child_exit(int ret, enum vm_exit_reason reason)
{
	fflush(stdout);
	fflush(stderr);
	_exit((ret ? CHILD_FAILED : CHILD_RAN) + ((int)reason & REASON_MASK));
}

static void child_start(const struct avp_config *cfg, pid_t parent)
{
	int ret;

	/* A VM nobody waits for would hold its disks and taps forever. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)) {
		avp_err("supervisor: cannot tie the VM process to avp: %s", strerror(errno));
		supervisor_child_exit(-EPERM, VM_EXIT_NONE);
	}
	/* The parent may have died before that; in a new PID namespace the
	 * parent is outside and getppid() says 0, so only check without. */
	if (!cfg->jail.enabled && getppid() != parent)
		supervisor_child_exit(-ESRCH, VM_EXIT_NONE);
	if (cfg->jail.enabled) {
		ret = jail_child_init();
		if (ret)
			supervisor_child_exit(ret, VM_EXIT_NONE);
	}
}

int supervisor_fork(struct supervisor *s, const struct avp_config *cfg)
{
	pid_t parent = getpid();
	sigset_t set;
	int pidns = -1;
	int ret = 0;

	memset(s, 0, sizeof(*s));
	if (cfg->jail.enabled) {
		ret = jail_check(cfg);
		if (ret)
			return ret;
	}
	/* Blocked before the fork, so that a signal arriving meanwhile waits
	 * for whoever is ready for it: the parent's sigwaitinfo, or the VM's
	 * signalfd in the child (a PID namespace's first process would even
	 * drop it, having no handler). */
	supervised_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, &s->saved_mask);
	/* Put back if the VM process dies without doing it itself. */
	s->tty_saved = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &s->tty) == 0;
	if (cfg->jail.enabled) {
		ret = jail_pidns_begin(&pidns);
		if (ret)
			goto undo;
	}
	s->child = fork();
	if (s->child == 0) {
		if (pidns >= 0)
			close(pidns);
		child_start(cfg, parent);
		return 0;
	}
	if (s->child < 0) {
		ret = -errno;
		avp_err("supervisor: cannot fork the VM process: %s", strerror(errno));
	}
	if (pidns >= 0)
		jail_pidns_end(pidns);
	if (ret == 0) {
		avp_debug("supervisor: VM process %d", (int)s->child);
		return 0;
	}
undo:
	pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
	return ret;
}

static int decode(struct supervisor *s, int status, enum vm_exit_reason *reason)
{
	int code;

	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);

		if (s->tty_saved)
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &s->tty);
		avp_err("the VM process was killed by signal %d (%s)%s", sig, strsignal(sig),
			sig == SIGSYS ? ": a system call outside its seccomp allowlist; the kernel "
					"log names it (docs/security.md)"
				      : "");
		*reason = VM_EXIT_HOST_ERROR;
		return 0;
	}
	code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	if (code >= CHILD_RAN && code <= CHILD_RAN + REASON_MASK) {
		*reason = (enum vm_exit_reason)(code - CHILD_RAN);
		return 0;
	}
	if (code >= CHILD_FAILED && code <= CHILD_FAILED + REASON_MASK) {
		*reason = (enum vm_exit_reason)(code - CHILD_FAILED);
		/* The child reported the cause; main() only needs to know
		 * whether it got as far as running. */
		return *reason == VM_EXIT_NONE ? -EINVAL : -EIO;
	}
	avp_err("the VM process ended with unexpected status %d", code);
	*reason = VM_EXIT_HOST_ERROR;
	return 0;
}

int supervisor_wait(struct supervisor *s, enum vm_exit_reason *reason)
{
	sigset_t set;
	int status = 0;

	*reason = VM_EXIT_NONE;
	supervised_signals(&set);
	for (;;) {
		siginfo_t si;
		pid_t r = waitpid(s->child, &status, WNOHANG);

		if (r == s->child)
			break;
		if (r < 0 && errno != EINTR) {
			avp_err("supervisor: cannot wait for the VM process: %s", strerror(errno));
			kill(s->child, SIGKILL);
			status = 0;
			if (waitpid(s->child, &status, 0) != s->child)
				status = 0;
			break;
		}
		/* SIGCHLD is blocked, so one that came after waitpid is still
		 * pending here. */
		if (sigwaitinfo(&set, &si) > 0 && si.si_signo != SIGCHLD)
			kill(s->child, si.si_signo);
	}
	pthread_sigmask(SIG_SETMASK, &s->saved_mask, NULL);
	return decode(s, status, reason);
}
