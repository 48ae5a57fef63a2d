/* x86-64 implementation of the VM-level architecture interface (avp/arch.h):
 * RAM layout, the interrupts devices may use, the in-kernel irqchip
 * and PIT, loading the guest and the x86 exits the core does not handle. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/x86/x86.h"
#include "arch/x86/x86_state.h"
#include "avp/arch.h"
#include "avp/hw/pci.h"
#include "avp/log.h"
#include "avp/hw/msi_routes.h"
#include "avp/vm.h"

/* I/O APIC inputs free for devices: 5-7, 9-11, 14-23. The ones left out
 * belong to the PC platform: 0 (PIT via the override to 2), 1 (keyboard),
 * 2 (cascade), 3/4 (COM2/COM1), 8 (RTC), 12 (mouse), 13 (FPU error). KVM's
 * I/O APIC has 24 pins. */
static const struct irq_range device_gsis[] = {
	{ .first = 5, .count = 3 },
	{ .first = 9, .count = 3 },
	{ .first = 14, .count = 10 },
};

int arch_ram_layout(uint64_t ram_bytes, struct arch_mem_range *out, unsigned int max)
{
	uint64_t low = ram_bytes < X86_MMIO_HOLE_START ? ram_bytes : X86_MMIO_HOLE_START;
	unsigned int n = ram_bytes > low ? 2 : 1;

	if (ram_bytes == 0 || !out || max < n)
		return -EINVAL;
	out[0] = (struct arch_mem_range){ .gpa = 0, .size = low };
	if (n == 2)
		out[1] = (struct arch_mem_range){ .gpa = X86_HIGH_RAM_START,
						  .size = ram_bytes - low };
	return (int)n;
}

uint32_t arch_irq_line_id(uint32_t irq)
{
	return irq; /* KVM_IRQ_LINE takes the GSI */
}

int arch_dump_dtb(const struct vm *vm, const char *path)
{
	(void)vm;
	avp_err("--dump-dtb %s: an x86 guest gets ACPI tables, not a device tree (--dump-dtb is "
		"for arm64; --describe shows the platform)", path);
	return -ENOTSUP;
}

bool arch_irqfd_ready(const struct vm *vm)
{
	(void)vm; /* the irqchip exists from arch_vm_init */
	return true;
}

uint64_t arch_mmio_dev_base(void)
{
	return X86_VIRTIO_MMIO_BASE;
}

uint64_t arch_mmio_dev_stride(void)
{
	return X86_VIRTIO_MMIO_STRIDE;
}

int arch_device_irqs(enum irq_kind *kind, struct irq_range *out, unsigned int max)
{
	unsigned int n = sizeof(device_gsis) / sizeof(device_gsis[0]);

	if (!kind || !out || max < n)
		return -EINVAL;
	*kind = IRQ_KIND_GSI;
	memcpy(out, device_gsis, sizeof(device_gsis));
	return (int)n;
}

struct x86_state *x86_state_of(const struct vcpu *vcpu)
{
	return vcpu && vcpu->vm ? vcpu->vm->arch : NULL;
}

static int vm_ioctl(struct vm *vm, unsigned long req, void *arg, const char *what)
{
	if (ioctl(vm->vm_fd, req, arg) < 0) {
		int err = -errno;

		avp_err("%s: %s", what, strerror(-err));
		return err;
	}
	return 0;
}

/* Masks every input of both 8259s, as PC firmware does before it hands
 * over. KVM resets them unmasked with vector base 0, and the BSP's LINT0
 * in ExtINT mode; Linux on hardware-reduced ACPI never programs the 8259s
 * (null_legacy_pic) and masks LINT0 only late in start_kernel, after it
 * enabled interrupts. KVM's default routing sends GSIs 0-15 to the 8259
 * too, so a power-button pulse (GSI 13) in that window arrived as vector
 * 5: "Oops: bounds" in start_kernel, a panic, a reboot. */
static int mask_8259s(struct vm *vm)
{
	static const uint32_t chips[] = { KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE };

	for (size_t i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
		struct kvm_irqchip chip = { .chip_id = chips[i] };
		int err = vm_ioctl(vm, KVM_GET_IRQCHIP, &chip, "KVM_GET_IRQCHIP");

		if (err)
			return err;
		chip.chip.pic.imr = 0xff;
		err = vm_ioctl(vm, KVM_SET_IRQCHIP, &chip, "KVM_SET_IRQCHIP");
		if (err)
			return err;
	}
	return 0;
}

int arch_vm_init(struct vm *vm)
{
	/* KVM needs a TSS (3 pages) and an identity page table (1 page)
	 * below 4 GiB for Intel real-mode emulation; both sit in the MMIO hole,
	 * clear of RAM and devices. */
	uint64_t identity_map = X86_IDENTITY_MAP_GPA;
	struct kvm_pit_config pit = { .flags = 0 };
	int err;

	if (!vm->arch) {
		vm->arch = calloc(1, sizeof(struct x86_state));
		if (!vm->arch)
			return -ENOMEM;
	}
	/* KVM_SET_TSS_ADDR takes the address itself, not a pointer. */
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_GPA) < 0) {
		err = -errno;
		avp_err("KVM_SET_TSS_ADDR: %s", strerror(-err));
		return err;
	}
	/* Must precede vCPU creation (api.rst, KVM_SET_IDENTITY_MAP_ADDR). */
	err = vm_ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &identity_map, "KVM_SET_IDENTITY_MAP_ADDR");
	if (!err)
		err = vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP");
	/* flags 0: no dummy speaker port; the PIT must follow the irqchip. */
	if (!err)
		err = vm_ioctl(vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
	if (!err)
		err = mask_8259s(vm);
	return err;
}

int arch_check_guest(const struct avp_config *cfg)
{
	return x86_boot_check(cfg);
}

int arch_load_guest(struct vm *vm)
{
	struct x86_state *st = vm->arch;
	uint64_t rsdp = 0, entry = 0;
	int err;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return -ENOMEM;
		vm->arch = st;
	}
	err = x86_acpi_build(vm, &rsdp);
	if (err) {
		avp_err("building the ACPI tables failed: %d", err);
		return err;
	}
	err = x86_mptable_write(vm);
	if (err) {
		avp_err("writing the MP table failed: %d", err);
		return err;
	}
	err = x86_write_reset_vector(vm);
	if (err)
		return err;
	err = x86_boot_load(vm, rsdp, &entry);
	if (err)
		return err;
	st->rsdp_gpa = rsdp;
	st->entry_gpa = entry;
	st->guest_loaded = true;
	return 0;
}

static int handle_fatal_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;

	switch (run->exit_reason) {
	case KVM_EXIT_SHUTDOWN:
		avp_err("vcpu %u: guest triple fault (KVM_EXIT_SHUTDOWN)", vcpu->index);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		avp_err("vcpu %u: KVM internal error, suberror %u%s", vcpu->index,
			run->internal.suberror,
			run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
				? " (instruction emulation failed)" : "");
		for (uint32_t i = 0; i < run->internal.ndata && i < 16; i++)
			avp_err("  data[%u] = 0x%llx", i,
				(unsigned long long)run->internal.data[i]);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		avp_err("vcpu %u: VM entry failed, hardware reason 0x%llx on host cpu %u",
			vcpu->index,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason,
			run->fail_entry.cpu);
		break;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC does KVM return HLT; with
		 * IF clear nothing but NMI/INIT can wake the vCPU, which is
		 * how early boot code stops after a fatal error. */
		avp_err("vcpu %u: halted with interrupts disabled: it can never resume",
			vcpu->index);
		break;
	default:
		return 0;
	}
	arch_vcpu_dump(vcpu, stderr);
	vm_request_exit(vcpu->vm, VM_EXIT_CRASH);
	return 1;
}

int arch_vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_regs regs;

	if (!vcpu || !vcpu->run)
		return -EINVAL;
	if (vcpu->run->exit_reason == KVM_EXIT_HLT) {
		if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0)
			return -errno;
		if (regs.rflags & (1u << 9)) /* IF: an interrupt will wake it */
			return 0;
	}
	return handle_fatal_exit(vcpu);
}

void arch_vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	msi_routes_destroy(vm->msi);
	vm->msi = NULL;
	pci_host_destroy(vm->pci);
	vm->pci = NULL;
	free(vm->arch);
	vm->arch = NULL;
}
