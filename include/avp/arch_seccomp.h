/* The architecture's part of the seccomp allowlists (src/core/seccomp.c
 * has the common part): the KVM ioctls of its run loop and interrupt
 * lines, and the system calls that exist under its table only (x86-64's
 * poll, epoll_wait, rename and unlink have no arm64 number). */
#ifndef AVP_ARCH_SECCOMP_H
#define AVP_ARCH_SECCOMP_H

#include <stddef.h>

#include "avp/seccomp.h"

struct arch_seccomp_rules {
	const int *calls; /* SCMP_SYS numbers */
	size_t ncalls;
	const unsigned long *ioctls; /* allowed ioctl requests */
	size_t nioctls;
};

/* What role's thread may also call on this architecture; role
 * AVP_THREAD_NROLES asks for what every role may. */
void arch_seccomp_rules(enum avp_thread_role role, struct arch_seccomp_rules *out);

#endif
