/* vCPU threads: one per vCPU, each looping on KVM_RUN and dispatching the
 * exits user space has to handle. Stopping uses KVM's immediate_exit plus a
 * signal, so a vCPU inside KVM_RUN leaves it at once. */
#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "avp/arch.h"
#include "avp/log.h"
#include "avp/partition.h"
#include "avp/seccomp.h"
#include "avp/vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

static void kick_handler(int sig)
{
	(void)sig; /* only interrupts KVM_RUN */
}

int vm_create_vcpus(struct vm *vm)
{
	int mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	struct sigaction sa = { .sa_handler = kick_handler };

	if (mmap_size < (int)sizeof(struct kvm_run)) {
		avp_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		return -ENODEV;
	}
	/* No SA_RESTART: the signal must make KVM_RUN return EINTR. */
	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL))
		return -errno;

	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned int i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int ret;

		v->vm = vm;
		v->index = i;
		v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (v->fd < 0) {
			int err = errno;

			avp_err("cannot create vCPU %u: %s", i, strerror(err));
			return -err;
		}
		v->run_size = (size_t)mmap_size;
		v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
		if (v->run == MAP_FAILED) {
			int err = errno;

			v->run = NULL;
			return -err;
		}
		ret = arch_vcpu_init(v);
		if (ret) {
			avp_err("cannot set up vCPU %u: %s", i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static void handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;

	for (uint32_t i = 0; i < run->io.count; i++)
		io_bus_dispatch(&v->vm->pio, run->io.port, data + (size_t)i * run->io.size,
				run->io.size, run->io.direction == KVM_EXIT_IO_OUT);
}

static void handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_exit(v->vm, VM_EXIT_POWEROFF);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_exit(v->vm, VM_EXIT_REBOOT);
		break;
	default:
		fprintf(stderr, "avp: vCPU %u: guest crash event %u\r\n", v->index,
			v->run->system_event.type);
		arch_vcpu_dump(v, stderr);
		vm_request_exit(v->vm, VM_EXIT_CRASH);
		break;
	}
}

/* 0: keep running; 1: the VM is ending. */
static int handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	int ret;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(v);
		return 0;
	case KVM_EXIT_MMIO:
		io_bus_dispatch(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
				run->mmio.is_write);
		return 0;
	case KVM_EXIT_SYSTEM_EVENT:
		handle_system_event(v);
		return 1;
	case KVM_EXIT_INTR:
		return 0;
	default:
		ret = arch_vcpu_handle_exit(v);
		if (ret == 0 || ret == 1)
			return ret;
		fprintf(stderr, "avp: vCPU %u: unhandled KVM exit %u\r\n", v->index, run->exit_reason);
		arch_vcpu_dump(v, stderr);
		vm_request_exit(v->vm, VM_EXIT_CRASH);
		return 1;
	}
}

/* Seccomp filters are inherited by threads created afterwards, so the
 * main thread may install its own only once the vCPU threads exist; yet no
 * guest code may run before it is in place. New vCPU threads therefore
 * wait at this gate until vm_start_vcpus has confined the main thread.
 * The gate lives on vm_start_vcpus's stack, which returns only once every
 * thread has gone through. */
struct start_gate {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool open;
	unsigned int waiting; /* started threads not through yet */
};

struct vcpu_start {
	struct vcpu *v;
	struct start_gate *gate;
};

/* A vCPU thread's stack (docs/footprint.md): an exit's deepest handler
 * path takes a few KiB (gcc -fstack-usage); glibc's default reserves
 * 8 MiB. ASan's builds keep more for its red zones and fake frames. */
#ifdef __SANITIZE_ADDRESS__
#define VCPU_STACK (2u << 20)
#else
#define VCPU_STACK (256u << 10)
#endif

static void gate_pass(struct start_gate *g)
{
	pthread_mutex_lock(&g->lock);
	while (!g->open)
		pthread_cond_wait(&g->cond, &g->lock);
	g->waiting--;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu_start *start = arg;
	struct vcpu *v = start->v;
	struct vm *vm = v->vm;
	sigset_t set;
	bool entered = false;

	gate_pass(start->gate); /* start is gone after this */

	/* Every signal but the kick goes to the main thread. */
	sigfillset(&set);
	sigdelset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_SETMASK, &set, NULL);
	/* Pinning and the real-time class apply before the guest runs a single
	 * instruction, so a critical VM never runs outside its partition. */
	if (partition_apply_vcpu(vm->cfg, v->index)) {
		vm_request_exit(vm, VM_EXIT_HOST_ERROR);
		return NULL;
	}
	/* Confined before the first guest instruction (docs/security.md). */
	if (avp_seccomp_apply(AVP_THREAD_VCPU, vm->cfg)) {
		vm_request_exit(vm, VM_EXIT_HOST_ERROR);
		return NULL;
	}

	while (atomic_load(&vm->exit_reason) == VM_EXIT_NONE) {
		if (!entered && v->index == 0) {
			vm_timing(vm, "first vCPU entry");
			entered = true;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			avp_err("vCPU %u: KVM_RUN: %s", v->index, strerror(errno));
			arch_vcpu_dump(v, stderr);
			vm_request_exit(vm, VM_EXIT_HOST_ERROR);
			break;
		}
		if (handle_exit(v))
			break;
	}
	return NULL;
}

int vm_start_vcpus(struct vm *vm)
{
	struct start_gate gate = { .lock = PTHREAD_MUTEX_INITIALIZER,
				   .cond = PTHREAD_COND_INITIALIZER };
	struct vcpu_start *starts = calloc(vm->ncpus, sizeof(*starts));
	pthread_attr_t attr;
	int ret = 0;

	if (!starts)
		return -ENOMEM;
	ret = -pthread_attr_init(&attr);
	if (!ret)
		ret = -pthread_attr_setstacksize(&attr, VCPU_STACK);
	if (ret) {
		free(starts);
		return ret;
	}
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		int err;

		starts[i] = (struct vcpu_start){ .v = v, .gate = &gate };
		err = pthread_create(&v->thread, &attr, vcpu_thread, &starts[i]);
		if (err) {
			avp_err("cannot start vCPU thread %u: %s", i, strerror(err));
			ret = -err;
			break;
		}
		v->thread_started = true;
		pthread_mutex_lock(&gate.lock);
		gate.waiting++;
		pthread_mutex_unlock(&gate.lock);
	}
	if (ret == 0)
		ret = avp_seccomp_apply(AVP_THREAD_MAIN, vm->cfg);
	/* On failure the threads still go through, see the exit request and
	 * end without running the guest. */
	if (ret)
		vm_request_exit(vm, VM_EXIT_HOST_ERROR);
	pthread_mutex_lock(&gate.lock);
	gate.open = true;
	pthread_cond_broadcast(&gate.cond);
	while (gate.waiting)
		pthread_cond_wait(&gate.cond, &gate.lock);
	pthread_mutex_unlock(&gate.lock);
	pthread_cond_destroy(&gate.cond);
	pthread_mutex_destroy(&gate.lock);
	pthread_attr_destroy(&attr);
	free(starts);
	return ret;
}

void vm_stop_vcpus(struct vm *vm)
{
	if (!vm->vcpus)
		return;
	vm_request_exit(vm, VM_EXIT_HOST_ERROR); /* no-op when a reason is set */
	for (unsigned int i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->thread_started)
			continue;
		/* immediate_exit covers a kick that lands before KVM_RUN. */
		if (v->run)
			__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		pthread_kill(v->thread, VCPU_KICK_SIGNAL);
		pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
}
