/* The x86-64 part of the seccomp allowlists (include/avp/arch_seccomp.h;
 * the common part and the reasons for each list are src/core/seccomp.c). */
#include <linux/kvm.h>
#include <seccomp.h>

#include "avp/arch_seccomp.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static const int all_calls[] = {
	SCMP_SYS(poll), /* chardev_write waits for a full terminal or pipe */
};

/* The KVM calls of the run loop and its exit handlers, nothing that
 * creates or reshapes the VM. */
static const unsigned long vcpu_ioctls[] = {
	KVM_RUN,
	KVM_IRQ_LINE,  /* legacy device interrupts (UART, i8042), mmio without irqfd */
	KVM_GET_REGS,  /* HLT check, crash dump */
	KVM_GET_SREGS, /* crash dump */
};

static const int device_calls[] = {
	SCMP_SYS(epoll_wait), /* the worker loop (epoll_pwait is common) */
};

/* Received bytes raise the UART's interrupt from the reader thread; the
 * power button is a pulse on an interrupt line (control socket). */
static const unsigned long irq_line_ioctls[] = { KVM_IRQ_LINE };

static const int api_calls[] = {
	SCMP_SYS(poll),	  /* its clients */
	SCMP_SYS(rename), /* the finished PNG */
	SCMP_SYS(unlink), /* a failed PNG; the socket file */
};

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
	case AVP_THREAD_DEVICE:
		*out = (struct arch_seccomp_rules){ device_calls, N_ELEMS(device_calls), NULL, 0 };
		break;
	case AVP_THREAD_UART_READER:
		*out = (struct arch_seccomp_rules){ NULL, 0, irq_line_ioctls,
						     N_ELEMS(irq_line_ioctls) };
		break;
	case AVP_THREAD_API:
		*out = (struct arch_seccomp_rules){ api_calls, N_ELEMS(api_calls), irq_line_ioctls,
						     N_ELEMS(irq_line_ioctls) };
		break;
	default:
		break;
	}
}
