/* VM lifetime: KVM handles, guest RAM, interrupt plumbing and the exit
 * handshake between vCPU threads and the main thread. KVM API: see the
 * kernel's Documentation/virt/kvm/api.rst. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "avp/arch.h"
#include "avp/log.h"
#include "avp/partition.h"
#include "avp/vm.h"

static int kvm_open(struct vm *vm)
{
	int version;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int err = errno;

		avp_err("cannot open /dev/kvm: %s (KVM must be available: load kvm-intel or "
			"kvm-amd, and run as root or as a member of the kvm group; on a machine "
			"without VT-x/AMD-V use the nested test host, scripts/testhost)",
			strerror(err));
		return -err;
	}
	version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION) {
		avp_err("/dev/kvm speaks KVM API %d, avp needs %d", version, KVM_API_VERSION);
		return -ENOTSUP;
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		int err = errno;

		avp_err("KVM_CREATE_VM: %s", strerror(err));
		return -err;
	}
	vm->have_irqfd = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQFD) > 0;
	vm->have_ioeventfd = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IOEVENTFD) > 0;
	return 0;
}

int vm_create(struct vm *vm, const struct avp_config *cfg)
{
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = -1;
	vm->cfg = cfg;
	vm->ncpus = cfg->cpus;
	clock_gettime(CLOCK_MONOTONIC, &vm->t_start);
	vm->exit_efd = eventfd(0, EFD_CLOEXEC);
	if (vm->exit_efd < 0)
		return -errno;
	/* --describe shows the platform without touching KVM, so that it
	 * works on machines where the VM could not run. */
	if (cfg->describe)
		return 0;
	ret = kvm_open(vm);
	if (ret)
		return ret;
	return arch_vm_init(vm);
}

void vm_destroy(struct vm *vm)
{
	vm_stop_vcpus(vm);
	/* Whoever attached devices detached them (machine assembly); the
	 * table only lists them. */
	vm->nmmio_devs = 0;
	arch_platform_devices_destroy(vm);
	arch_vm_destroy(vm);
	for (unsigned int i = 0; i < vm->ncpus && vm->vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (v->run)
			munmap(v->run, v->run_size);
		if (v->fd >= 0)
			close(v->fd);
	}
	free(vm->vcpus);
	vm->vcpus = NULL;
	for (unsigned int i = 0; i < vm->mem.nregions; i++)
		munmap(vm->mem.regions[i].hva, vm->mem.regions[i].size);
	vm->mem.nregions = 0;
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->exit_efd >= 0)
		close(vm->exit_efd);
	vm->vm_fd = vm->kvm_fd = vm->exit_efd = -1;
}

int vm_setup_memory(struct vm *vm)
{
	struct arch_mem_range ranges[AVP_MAX_MEM_REGIONS];
	uint64_t bytes = vm->cfg->memory_mib << 20;
	int n = arch_ram_layout(bytes, ranges, AVP_MAX_MEM_REGIONS);

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct kvm_userspace_memory_region region;
		void *hva = mmap(NULL, ranges[i].size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | partition_mmap_flags(vm->cfg), -1, 0);
		int ret;

		if (hva == MAP_FAILED) {
			int err = errno;

			avp_err("cannot reserve %llu MiB of guest memory: %s",
				(unsigned long long)(ranges[i].size >> 20), strerror(err));
			return -err;
		}
		ret = partition_lock_memory(vm->cfg, hva, ranges[i].size);
		if (ret) {
			munmap(hva, ranges[i].size);
			return ret;
		}
		ret = gm_add_region(&vm->mem, ranges[i].gpa, ranges[i].size, hva);
		if (ret) {
			munmap(hva, ranges[i].size);
			return ret;
		}
		if (vm->vm_fd < 0)
			continue;
		region = (struct kvm_userspace_memory_region){
			.slot = (uint32_t)i,
			.guest_phys_addr = ranges[i].gpa,
			.memory_size = ranges[i].size,
			.userspace_addr = (uintptr_t)hva,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
			int err = errno;

			avp_err("KVM_SET_USER_MEMORY_REGION: %s", strerror(err));
			return -err;
		}
	}
	return 0;
}

void vm_request_exit(struct vm *vm, enum vm_exit_reason reason)
{
	int expected = VM_EXIT_NONE;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->exit_reason, &expected, (int)reason))
		return;
	if (vm->exit_efd >= 0 && write(vm->exit_efd, &one, sizeof(one)) < 0)
		avp_warn("exit eventfd: %s", strerror(errno));
}

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = arch_irq_line_id(gsi), .level = (uint32_t)level };

	if (vm->vm_fd < 0)
		return -ENODEV;
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

int vm_irq_pulse(struct vm *vm, uint32_t gsi)
{
	int ret = vm_irq_line(vm, gsi, 1);

	return ret ? ret : vm_irq_line(vm, gsi, 0);
}

int vm_irqfd_assign(struct vm *vm, int efd, uint32_t gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)efd, .gsi = gsi };

	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int vm_ioeventfd_assign(struct vm *vm, uint64_t mmio_addr, uint32_t len, uint64_t datamatch, int efd)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = mmio_addr,
		.len = len,
		.fd = efd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int vm_ioeventfd_deassign(struct vm *vm, uint64_t mmio_addr, uint32_t len, uint64_t datamatch,
			  int efd)
{
	struct kvm_ioeventfd io = {
		.datamatch = datamatch,
		.addr = mmio_addr,
		.len = len,
		.fd = efd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

/* The allocator is fed on first use, so a VM set up by hand (the unit
 * tests' and fuzzers' transports) hands out the same interrupts. */
static int irqs_ready(struct vm *vm)
{
	struct irq_range ranges[IRQ_ALLOC_MAX_RANGES];
	enum irq_kind kind;
	int n;

	if (vm->irqs.nranges)
		return 0;
	n = arch_device_irqs(&kind, ranges, IRQ_ALLOC_MAX_RANGES);
	if (n < 0)
		return n;
	return irq_alloc_init(&vm->irqs, kind, ranges, (unsigned int)n);
}

int vm_alloc_irq(struct vm *vm, const char *type, uint32_t count, uint32_t *first)
{
	int ret = irqs_ready(vm);
	char ranges[96];

	if (ret == 0)
		ret = irq_alloc_get(&vm->irqs, count, first);
	if (ret == -ENOSPC) {
		irq_alloc_format(&vm->irqs, ranges, sizeof(ranges));
		avp_err("cannot attach %s: all %u %ss avp gives devices (%s) are taken, "
			"so a VM has at most %u interrupting devices; give fewer devices",
			type, vm->irqs.capacity, irq_kind_name(vm->irqs.kind), ranges,
			vm->irqs.capacity);
	} else if (ret) {
		avp_err("cannot attach %s: no interrupt: %s", type, strerror(-ret));
	}
	return ret;
}

int vm_alloc_mmio_dev(struct vm *vm, const char *type, uint64_t size, struct platform_mmio_dev **out)
{
	unsigned int index = vm->nmmio_devs;
	uint32_t gsi;
	int ret;

	if (size > arch_mmio_dev_stride()) {
		avp_err("cannot attach %s: its 0x%llx-byte register window is larger than the "
			"0x%llx bytes a device gets", type, (unsigned long long)size,
			(unsigned long long)arch_mmio_dev_stride());
		return -EINVAL;
	}
	if (index >= AVP_MAX_MMIO_DEVS) {
		avp_err("cannot attach %s: a VM has at most %u virtio devices (one MMIO "
			"window each, from 0x%llx) and all %u windows are taken; give fewer "
			"devices", type, AVP_MAX_MMIO_DEVS,
			(unsigned long long)arch_mmio_dev_base(), AVP_MAX_MMIO_DEVS);
		return -ENOSPC;
	}
	ret = vm_alloc_irq(vm, type, 1, &gsi);
	if (ret)
		return ret;
	vm->mmio_devs[index] = (struct platform_mmio_dev){
		.type = type,
		.base = arch_mmio_dev_base() + index * arch_mmio_dev_stride(),
		.size = size,
		.gsi = gsi,
	};
	vm->nmmio_devs++;
	*out = &vm->mmio_devs[index];
	return 0;
}

double vm_elapsed_ms(const struct vm *vm)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - vm->t_start.tv_sec) * 1e3 +
	       (double)(now.tv_nsec - vm->t_start.tv_nsec) / 1e6;
}

void vm_note_console_output(struct vm *vm)
{
	if (atomic_exchange(&vm->first_console_output, true))
		return;
	vm_timing(vm, "first guest console output");
}

void vm_timing(const struct vm *vm, const char *milestone)
{
	if (vm->cfg && vm->cfg->timing)
		fprintf(stderr, "avp: timing: %s at %.1f ms\r\n", milestone, vm_elapsed_ms(vm));
}

int vm_api_register(struct vm *vm, const char *name, api_command_fn fn, void *opaque)
{
	if (vm_api_find(vm, name))
		return -EEXIST;
	if (vm->napi_cmds >= AVP_MAX_API_COMMANDS)
		return -ENOSPC;
	vm->api_cmds[vm->napi_cmds++] = (struct api_command){ .name = name, .fn = fn, .opaque = opaque };
	return 0;
}

const struct api_command *vm_api_find(const struct vm *vm, const char *name)
{
	for (unsigned int i = 0; i < vm->napi_cmds; i++)
		if (strcmp(vm->api_cmds[i].name, name) == 0)
			return &vm->api_cmds[i];
	return NULL;
}
