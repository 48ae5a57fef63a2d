/* The arm64 part of the seccomp allowlists (include/avp/arch_seccomp.h;
 * the common part and the reasons for each list are src/core/seccomp.c).
 * arm64's table has no poll, epoll_wait, rename or unlink: glibc calls
 * ppoll, epoll_pwait, renameat and unlinkat there, which are common
 * except ppoll. */
#include <linux/kvm.h>
#include <seccomp.h>

#include "avp/arch_seccomp.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const int all_calls[] = {
	SCMP_SYS(ppoll), /* chardev_write waits for a full terminal or pipe (poll) */
};

/* The KVM calls of the run loop and its exit handlers, nothing that
 * creates or reshapes the VM. */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,
	KVM_IRQ_LINE,	 /* device interrupts raised on an MMIO access (PL011 TX, GPIO) */
	KVM_GET_ONE_REG, /* crash dump */
};

/* The UART's threads, the timer threads of the RTC, the watchdog and the
 * power button, and the control socket (which presses the button) move
 * interrupt lines. */
static const unsigned long irq_line_ioctls[] = { KVM_IRQ_LINE };

void arch_seccomp_rules(enum avp_thread_role role, struct arch_seccomp_rules *out)
{
	*out = (struct arch_seccomp_rules){ 0 };
	switch (role) {
	case AVP_THREAD_NROLES:
		*out = (struct arch_seccomp_rules){ all_calls, N_ELEMS(all_calls), NULL, 0 };
		break;
	case AVP_THREAD_VCPU:
		*out = (struct arch_seccomp_rules){ NULL, 0, vcpu_ioctls, N_ELEMS(vcpu_ioctls) };
		break;
	/* Not the virtio workers: their interrupts go through irqfds, which
	 * avp assigns once the vGIC is initialised (arch_irqfd_ready), as on
	 * x86, where a worker has no KVM_IRQ_LINE either. */
	case AVP_THREAD_UART_READER:
	case AVP_THREAD_WATCHDOG:
	case AVP_THREAD_API:
		*out = (struct arch_seccomp_rules){ NULL, 0, irq_line_ioctls,
						     N_ELEMS(irq_line_ioctls) };
		break;
	default:
		break;
	}
}
