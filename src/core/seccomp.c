/* The seccomp-bpf allowlists of avp's threads, built with libseccomp
 * (seccomp_init(3), seccomp_rule_add(3), seccomp_load(3)).
 *
 * Each role lists what its thread calls after it installed its filter, and
 * nothing it only does before (opening files, creating KVM objects,
 * starting threads). The lists were taken from the code paths of each
 * thread and checked against `strace -f` of real guest boots in the test
 * host (docs/security.md tells how to redo that). Filters stack: a thread
 * created by a confined thread gets its creator's filter too, which is why
 * the main thread installs its own only after it created the vCPU threads
 * (src/core/vcpu.c).
 *
 * The lists here are what every architecture shares; each architecture
 * adds its own part (arch_seccomp_rules: KVM ioctls, and calls that only
 * exist under its system-call table).
 *
 * A call outside the list kills the whole process (SCMP_ACT_KILL_PROCESS):
 * a VMM thread that starts doing unexpected things is more likely
 * compromised than buggy, and a dead VMM is a contained one. Killing only
 * the thread would leave the VM half-alive with locks held. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "avp/arch_seccomp.h"
#include "avp/config/options.h"
#include "avp/log.h"
#include "avp/seccomp.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* What every thread needs once it runs: the C library's own machinery,
 * memory management behind malloc, and logging to stderr. */
static const int common_calls[] = {
	SCMP_SYS(write),	   /* avp_log and eventfd signalling */
	SCMP_SYS(futex),	   /* mutexes, condition variables, pthread_join */
	SCMP_SYS(exit),		   /* thread end */
	SCMP_SYS(exit_group),	   /* process end */
	SCMP_SYS(rt_sigreturn),	   /* return from the vCPU kick and glibc's set*id signal */
	SCMP_SYS(rt_sigprocmask),  /* glibc blocks signals around thread exit and raise */
	SCMP_SYS(restart_syscall), /* a blocking call resumed after a signal */
	SCMP_SYS(sched_yield),	   /* spinning locks in glibc and the sanitizers */
	SCMP_SYS(getpid),	   /* raise, pthread_kill, glibc's set*id handler */
	SCMP_SYS(gettid),	   /* raise */
	SCMP_SYS(madvise),	   /* free() giving memory back; thread stacks on exit */
	SCMP_SYS(munmap),	   /* free() of large blocks */
	SCMP_SYS(mremap),	   /* realloc() of large blocks */
	SCMP_SYS(brk),		   /* malloc's main arena */
	SCMP_SYS(sched_getaffinity), /* malloc sizing a new thread arena */
	SCMP_SYS(clock_gettime),   /* RTC, --timing (normally the vDSO) */
	SCMP_SYS(gettimeofday),	   /* same, older callers */
	SCMP_SYS(sigaltstack),	   /* sanitizer runtimes tear down a thread's signal stack */
};

/* Terminal restore: chardev's fatal-signal handler may run on any thread
 * and puts the terminal back with tcsetattr(TCSAFLUSH). */
static const unsigned long common_ioctls[] = { TCSETSF };

static const int vcpu_calls[] = {
	SCMP_SYS(read),	     /* device reset drains its reschedule eventfd */
	SCMP_SYS(epoll_ctl), /* a device activated or reset watches its backend fds */
};

/* The KVM calls of the run loop and its exit handlers are the
 * architecture's (src/arch/x86/seccomp.c), as are the interrupt ioctls of
 * the UART reader and the control socket and the calls whose names differ
 * between architectures (poll, epoll_wait, rename, unlink). */

static const int device_calls[] = {
	SCMP_SYS(epoll_pwait),			/* the worker loop */
	SCMP_SYS(epoll_ctl),		/* watching backend fds */
	SCMP_SYS(read),   SCMP_SYS(readv),	/* eventfds, tap, console input */
	SCMP_SYS(writev),			/* tap, console output */
	SCMP_SYS(preadv), SCMP_SYS(pwritev),	/* disk requests */
	SCMP_SYS(fdatasync),			/* disk flush */
	SCMP_SYS(fallocate),			/* discard, write zeroes */
	SCMP_SYS(getrandom),			/* virtio-rng */
};

static const int uart_reader_calls[] = {
	SCMP_SYS(read), /* host input */
};

/* The watchdog's timer thread sleeps on a condition variable (futex) and
 * ends the VM with an eventfd write: the common list is all it needs. */

/* The control socket's thread: its clients, and its commands' effects. */
static const int api_calls[] = {
	SCMP_SYS(accept4),   SCMP_SYS(recvfrom), SCMP_SYS(sendto),
	SCMP_SYS(read),					  /* its wake-up eventfd */
	SCMP_SYS(close),				  /* clients, screenshot files */
	SCMP_SYS(newfstatat),				  /* stdio sizing its buffer; lstat at cleanup */
	SCMP_SYS(fchmod),				  /* screenshots are 0644, not mkostemp's 0600 */
	SCMP_SYS(renameat),  SCMP_SYS(renameat2),	  /* the finished PNG */
	SCMP_SYS(unlinkat),				  /* a failed PNG; the socket file */
	SCMP_SYS(getrandom), /* json-c seeds its hash tables on the first object
			      * (a refused call killed avp at the first request) */
};

/* A pty or socket console's relay (src/core/chardev_relay.c): poll is
 * every role's, write and futex are common. */
static const int chardev_calls[] = {
	SCMP_SYS(accept4),    /* its one client */
	SCMP_SYS(sendto),     /* send() to the client, without SIGPIPE */
	SCMP_SYS(read),	      /* the device's output pipe, client input, the stop eventfd */
	SCMP_SYS(close),      /* a client that left; the busy answer to a second one */
	SCMP_SYS(newfstatat), /* is the socket file still the one it bound? */
	SCMP_SYS(unlinkat),   /* then remove it */
};

/* Waiting for the end and tearing down: joining threads, closing fds,
 * unmapping guest RAM, putting stdin's flags and handlers back. */
static const int main_calls[] = {
	SCMP_SYS(read),	       /* signalfd, exit eventfd */
	SCMP_SYS(close),       /* teardown */
	SCMP_SYS(rt_sigaction), /* chardev removes its terminal-restoring handlers */
};

/* Devices with more than plain fds behind them add their own calls, in
 * the threads that reach them, only when the VM has the device: each
 * device type carries its needs (struct avp_seccomp_needs, in its
 * *_opts.c), and add_devices below adds those of the config's devices. */

struct builder {
	scmp_filter_ctx ctx;
	int err;
};

static void add_action(struct builder *b, uint32_t action, int nr, unsigned int nargs,
		       const struct scmp_arg_cmp *args)
{
	int ret;

	if (b->err)
		return;
	ret = seccomp_rule_add_array(b->ctx, action, nr, nargs, args);
	if (ret)
		b->err = ret;
}

static void add(struct builder *b, int nr, unsigned int nargs, const struct scmp_arg_cmp *args)
{
	add_action(b, SCMP_ACT_ALLOW, nr, nargs, args);
}

static void add_calls(struct builder *b, const int *nrs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		add(b, nrs[i], 0, NULL);
}

static void add_ioctls(struct builder *b, const unsigned long *reqs, size_t n)
{
	/* The kernel reads the request as an unsigned int: compare 32 bits. */
	for (size_t i = 0; i < n; i++) {
		struct scmp_arg_cmp req = SCMP_A1_32(SCMP_CMP_EQ, (uint32_t)reqs[i]);

		add(b, SCMP_SYS(ioctl), 1, &req);
	}
}

/* Rules with arguments that every role shares. */
static void add_common(struct builder *b)
{
	/* No executable memory: malloc and thread stacks never ask for it,
	 * injected code would. */
	const struct scmp_arg_cmp no_exec = SCMP_A2_64(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	/* Signals only to our own threads (vCPU kick, raise). */
	const struct scmp_arg_cmp own_pid = SCMP_A0_32(SCMP_CMP_EQ, (uint32_t)getpid());

	add_calls(b, common_calls, N_ELEMS(common_calls));
	add_ioctls(b, common_ioctls, N_ELEMS(common_ioctls));
	add(b, SCMP_SYS(mmap), 1, &no_exec);
	add(b, SCMP_SYS(mprotect), 1, &no_exec);
	add(b, SCMP_SYS(tgkill), 1, &own_pid);
}

/* The jail (src/core/jail.c) drops groups, gid and uid with the glibc
 * calls, which make every existing thread repeat the change from a signal
 * handler. Device workers and the UART reader exist by then; they may make
 * exactly those calls with exactly those values. */
static void add_jail_drop(struct builder *b, const struct avp_config *cfg)
{
	const struct scmp_arg_cmp no_groups = SCMP_A0_32(SCMP_CMP_EQ, 0);
	const struct scmp_arg_cmp gid = SCMP_A0_32(SCMP_CMP_EQ, cfg->jail.gid);
	const struct scmp_arg_cmp uid = SCMP_A0_32(SCMP_CMP_EQ, cfg->jail.uid);

	if (!cfg->jail.enabled)
		return;
	add(b, SCMP_SYS(setgroups), 1, &no_groups);
	add(b, SCMP_SYS(setgid), 1, &gid);
	add(b, SCMP_SYS(setuid), 1, &uid);
}

/* A screenshot is written to a new file that mkostemp creates with
 * O_EXCL: the control thread can make files but not open existing ones
 * (a compromised thread cannot read the host's files or overwrite them
 * in place; rename can still replace one, as a screenshot must). fcntl
 * F_GETFL is fdopen's check of the descriptor's mode. */
#define SCREENSHOT_OPEN_FLAGS (O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC)

static void add_screenshot_create(struct builder *b)
{
	const struct scmp_arg_cmp new_file = SCMP_A2_32(SCMP_CMP_EQ, SCREENSHOT_OPEN_FLAGS);
	const struct scmp_arg_cmp getfl = SCMP_A1_32(SCMP_CMP_EQ, F_GETFL);

	add(b, SCMP_SYS(openat), 1, &new_file);
	add(b, SCMP_SYS(fcntl), 1, &getfl);
}

/* Any other openat fails with EACCES instead of killing avp: glibc's
 * malloc opens /proc/sys/vm/overcommit_memory once per process, lazily,
 * in the first thread whose own heap it shrinks (check_may_shrink_heap in
 * malloc/arena.c), and takes a failed open as "do not shrink". Which
 * thread that is depends on the workload (a screenshot's buffer freed on
 * the control thread was the first seen). A refused open gives a
 * compromised thread nothing either. The rule must not overlap the api
 * role's allowed flags: libseccomp lets the stricter action win. */
static void add_openat_refusal(struct builder *b, enum avp_thread_role role)
{
	const struct scmp_arg_cmp other_flags = SCMP_A2_32(SCMP_CMP_NE, SCREENSHOT_OPEN_FLAGS);

	if (role == AVP_THREAD_API)
		add_action(b, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1, &other_flags);
	else
		add_action(b, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 0, NULL);
}

/* socket(AF_UNIX, SOCK_STREAM [| SOCK_NONBLOCK] [| SOCK_CLOEXEC], 0),
 * the only socket a device worker may make (vsock): no datagram socket (it
 * could send to any Unix datagram socket, syslog's included, without a
 * connect), no other family. */
static void add_unix_stream_socket(struct builder *b)
{
	const struct scmp_arg_cmp stream_unix[] = {
		SCMP_A0_32(SCMP_CMP_EQ, AF_UNIX),
		SCMP_A1_32(SCMP_CMP_MASKED_EQ, ~(uint32_t)(SOCK_NONBLOCK | SOCK_CLOEXEC),
			   SOCK_STREAM),
		SCMP_A2_32(SCMP_CMP_EQ, 0),
	};

	add(b, SCMP_SYS(socket), N_ELEMS(stream_unix), stream_unix);
}

static void add_devices(struct builder *b, enum avp_thread_role role, const struct avp_config *cfg)
{
	for (unsigned int i = 0; i < cfg->ndevices; i++) {
		const struct avp_seccomp_needs *r = cfg->devices[i].type->seccomp;
		bool first = true;

		/* Each type's needs once, however many devices it has. */
		for (unsigned int j = 0; j < i; j++)
			first &= cfg->devices[j].type != cfg->devices[i].type;
		if (!r || !first)
			continue;
		add_calls(b, r->calls[role], r->ncalls[role]);
		if (role == AVP_THREAD_VCPU)
			add_ioctls(b, r->vcpu_ioctls, r->nvcpu_ioctls);
		if (role == AVP_THREAD_DEVICE)
			add_ioctls(b, r->device_ioctls, r->ndevice_ioctls);
		if (role == AVP_THREAD_DEVICE && r->unix_stream_sockets)
			add_unix_stream_socket(b);
	}
}

/* --transport pci (src/virtio/pci.c). vCPU threads: unmasking an MSI-X
 * vector sets its route, moving a BAR moves its ioeventfds, a pending
 * vector is sent without an irqfd. Device threads: INTx, and a message
 * sent (or re-routed) without an irqfd. */
static const unsigned long pci_vcpu_ioctls[] = { KVM_SET_GSI_ROUTING, KVM_IOEVENTFD,
						 KVM_SIGNAL_MSI };
static const unsigned long pci_device_ioctls[] = { KVM_IRQ_LINE, KVM_SIGNAL_MSI,
						   KVM_SET_GSI_ROUTING };

static void add_pci(struct builder *b, enum avp_thread_role role, const struct avp_config *cfg)
{
	if (cfg->transport != AVP_TRANSPORT_PCI)
		return;
	if (role == AVP_THREAD_VCPU)
		add_ioctls(b, pci_vcpu_ioctls, N_ELEMS(pci_vcpu_ioctls));
	else if (role == AVP_THREAD_DEVICE)
		add_ioctls(b, pci_device_ioctls, N_ELEMS(pci_device_ioctls));
}

static void add_role(struct builder *b, enum avp_thread_role role, const struct avp_config *cfg)
{
	/* stdin's flags: chardev_close restores what it found. */
	const struct scmp_arg_cmp getfl = SCMP_A1_32(SCMP_CMP_EQ, F_GETFL);
	const struct scmp_arg_cmp setfl = SCMP_A1_32(SCMP_CMP_EQ, F_SETFL);

	struct arch_seccomp_rules arch = { 0 };

	add_common(b);
	add_openat_refusal(b, role);
	add_devices(b, role, cfg);
	add_pci(b, role, cfg);
	arch_seccomp_rules(AVP_THREAD_NROLES, &arch); /* every role's */
	add_calls(b, arch.calls, arch.ncalls);
	arch_seccomp_rules(role, &arch);
	add_calls(b, arch.calls, arch.ncalls);
	add_ioctls(b, arch.ioctls, arch.nioctls);
	switch (role) {
	case AVP_THREAD_MAIN:
		add_calls(b, main_calls, N_ELEMS(main_calls));
		add(b, SCMP_SYS(fcntl), 1, &getfl);
		add(b, SCMP_SYS(fcntl), 1, &setfl);
		break;
	case AVP_THREAD_VCPU:
		add_calls(b, vcpu_calls, N_ELEMS(vcpu_calls));
		break;
	case AVP_THREAD_DEVICE:
		add_calls(b, device_calls, N_ELEMS(device_calls));
		add_jail_drop(b, cfg);
		break;
	case AVP_THREAD_UART_READER:
		add_calls(b, uart_reader_calls, N_ELEMS(uart_reader_calls));
		add_jail_drop(b, cfg);
		break;
	case AVP_THREAD_WATCHDOG:
		/* Created with the platform devices, before the jail. */
		add_jail_drop(b, cfg);
		break;
	case AVP_THREAD_API:
		add_calls(b, api_calls, N_ELEMS(api_calls));
		add_screenshot_create(b);
		break;
	case AVP_THREAD_CHARDEV:
		add_calls(b, chardev_calls, N_ELEMS(chardev_calls));
		/* Created with its device, before the jail drops privileges. */
		add_jail_drop(b, cfg);
		break;
	default:
		b->err = -EINVAL;
		break;
	}
}

const char *avp_seccomp_role_name(enum avp_thread_role role)
{
	static const char *const names[AVP_THREAD_NROLES] = {
		[AVP_THREAD_MAIN] = "main",
		[AVP_THREAD_VCPU] = "vcpu",
		[AVP_THREAD_DEVICE] = "device",
		[AVP_THREAD_UART_READER] = "uart-reader",
		[AVP_THREAD_WATCHDOG] = "watchdog",
		[AVP_THREAD_API] = "api",
		[AVP_THREAD_CHARDEV] = "chardev",
	};

	return (unsigned int)role < AVP_THREAD_NROLES ? names[role] : "unknown";
}

int avp_seccomp_apply(enum avp_thread_role role, const struct avp_config *cfg)
{
	static const struct avp_config defaults; /* zero: kill, no jail */
	struct builder b = { 0 };
	uint32_t deny;
	int ret;

	if (!cfg)
		cfg = &defaults;
	if ((unsigned int)role >= AVP_THREAD_NROLES)
		return -EINVAL;
	switch (cfg->seccomp) {
	case AVP_SECCOMP_OFF:
		return 0;
	case AVP_SECCOMP_LOG:
		deny = SCMP_ACT_LOG;
		break;
	case AVP_SECCOMP_KILL:
		deny = SCMP_ACT_KILL_PROCESS;
		break;
	default:
		return -EINVAL;
	}
	/* The C library loads a few things lazily, with calls no role
	 * allows: do it now. The RTC's gmtime_r reads the time zone on its
	 * first call. */
	tzset();
	b.ctx = seccomp_init(deny);
	if (!b.ctx)
		return -ENOMEM;
	/* A call through another ABI (int 0x80, x32) gets the same answer as
	 * an unlisted one instead of libseccomp's default of killing the
	 * thread only. */
	ret = seccomp_attr_set(b.ctx, SCMP_FLTATR_ACT_BADARCH, deny);
	if (ret == 0) {
		add_role(&b, role, cfg);
		ret = b.err;
	}
	/* Also sets no_new_privs on this thread, which seccomp requires of an
	 * unprivileged caller. */
	if (ret == 0)
		ret = seccomp_load(b.ctx);
	seccomp_release(b.ctx);
	if (ret) {
		avp_err("seccomp: cannot install the %s thread's filter: %s",
			avp_seccomp_role_name(role), strerror(-ret));
		return ret;
	}
	avp_debug("seccomp: %s thread confined (%s)", avp_seccomp_role_name(role),
		  cfg->seccomp == AVP_SECCOMP_LOG ? "log only" : "kill on violation");
	return 0;
}
