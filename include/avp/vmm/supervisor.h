/* Running the VM in a child process of its own (src/vmm/supervisor.c).
 *
 * machine_run() uses it when the VM process cannot be the process that
 * started avp: with --jail (a new PID namespace only applies to children,
 * and a jailed process cannot set up the next VM), and with --on-reboot
 * restart or --watchdog action=reset while seccomp is on (a confined
 * process cannot open /dev/kvm again). The parent stays unconfined, holds nothing of the VM, and only
 * waits, forwards signals and restarts. */
#ifndef AVP_SUPERVISOR_H
#define AVP_SUPERVISOR_H

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>
#include <termios.h>

#include "avp/config.h"
#include "avp/vm.h"

struct supervisor {
	pid_t child;
	sigset_t saved_mask;
	struct termios tty; /* the terminal as it was, if stdin is one */
	bool tty_saved;
};

bool supervisor_needed(const struct avp_config *cfg);

/* Forks the VM process. Parent: 0 with s->child > 0. Child: 0 with
 * s->child == 0; it is single-threaded, dies with the parent, has
 * SIGINT/SIGTERM/SIGHUP blocked so that they wait for the VM's signalfd,
 * and with cfg->jail is PID 1 of a new PID namespace in a mount namespace
 * of its own. A child that cannot get there ends itself. -errno (reported)
 * when nothing was forked. */
int supervisor_fork(struct supervisor *s, const struct avp_config *cfg);

/* Parent: waits for the child, forwarding SIGINT/SIGTERM/SIGHUP to it, and
 * returns what machine_run would have returned had the VM run in this
 * process: 0 with *reason, or -EINVAL for a configuration error the child
 * reported. A child killed by a signal (SIGSYS: seccomp) is reported and
 * counts as a host error. */
int supervisor_wait(struct supervisor *s, enum vm_exit_reason *reason);

/* Child: ends the VM process with the exit status main() would have
 * given, for supervisor_wait() to read. The one place outside main() that
 * ends a process: the child must not return into main()'s restart loop. */
_Noreturn void supervisor_child_exit(int ret, enum vm_exit_reason reason);

#endif
