/* seccomp-bpf allowlists for avp's own threads, one per thread role
 * (docs/security.md). A guest that takes over a thread through a device
 * model bug is left with that thread's few system calls. */
#ifndef AVP_SECCOMP_H
#define AVP_SECCOMP_H

#include "avp/config.h"

enum avp_thread_role {
	/* The main thread once the vCPUs are started: waits for the end
	 * (signalfd, exit eventfd), stops the other threads, tears down. */
	AVP_THREAD_MAIN,
	/* A vCPU: KVM_RUN and the exits handled in user space (port and MMIO
	 * emulation, virtio-mmio registers, interrupts, power events). */
	AVP_THREAD_VCPU,
	/* A virtio device worker: epoll, queue work, disk/tap/chardev I/O. */
	AVP_THREAD_DEVICE,
	/* The 16550's host-input reader: poll and read on its input. */
	AVP_THREAD_UART_READER,
	/* The watchdog's timer: waits for the deadline, ends the VM. */
	AVP_THREAD_WATCHDOG,
	/* The control socket: clients on a Unix socket, commands that press
	 * the power button, inject input and write screenshot files. */
	AVP_THREAD_API,
	/* The relay of a pty or socket console (--serial pty, socket=PATH):
	 * accepts one client, moves bytes between it and the device's pipes,
	 * removes its socket file at the end. */
	AVP_THREAD_CHARDEV,
	AVP_THREAD_NROLES,
};

/* Confines the calling thread, and threads it creates later, to role's
 * allowlist. The filter is not synchronised to other threads (no TSYNC):
 * each thread installs its own as it starts, before it touches guest data.
 * cfg->seccomp says what a call outside the list does: kill the whole
 * process (default), only log it to the kernel log, or no filter at all
 * (then nothing is installed). cfg may be NULL: the defaults. 0 or -errno;
 * on failure the thread is left unconfined and the caller must not go on
 * to run guest work. */
int avp_seccomp_apply(enum avp_thread_role role, const struct avp_config *cfg);

/* "main", "vcpu", "device", "uart-reader", "watchdog", "api", "chardev"; for
 * messages. */
const char *avp_seccomp_role_name(enum avp_thread_role role);

#endif
