/* arm64 implementation of the VM-level architecture interface (avp/arch.h):
 * RAM layout, the SPIs devices may use, the in-kernel GICv3, interrupt
 * line numbers, and the exits the core does not handle. KVM API:
 * Documentation/virt/kvm/api.rst and devices/arm-vgic-v3.rst. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arm64/arm64.h"
#include "avp/arch.h"
#include "avp/hw/msi_routes.h"
#include "avp/hw/pci.h"
#include "avp/log.h"
#include "avp/vm.h"

int arch_ram_layout(uint64_t ram_bytes, struct arch_mem_range *out, unsigned int max)
{
	if (ram_bytes == 0 || ram_bytes > ARM64_RAM_MAX || !out || max < 1)
		return -EINVAL;
	out[0] = (struct arch_mem_range){ .gpa = ARM64_RAM_BASE, .size = ram_bytes };
	return 1;
}

uint64_t arch_mmio_dev_base(void)
{
	return ARM64_VIRTIO_MMIO_BASE;
}

uint64_t arch_mmio_dev_stride(void)
{
	return ARM64_VIRTIO_MMIO_STRIDE;
}

int arch_device_irqs(enum irq_kind *kind, struct irq_range *out, unsigned int max)
{
	if (!kind || !out || max < 1)
		return -EINVAL;
	*kind = IRQ_KIND_SPI;
	out[0] = (struct irq_range){ .first = ARM64_VIRTIO_SPI_BASE, .count = ARM64_VIRTIO_MMIO_SLOTS };
	return 1;
}

/* KVM_IRQ_LINE's irq field on arm64 (api.rst, KVM_IRQ_LINE): the type in
 * bits 24-27 and, for an SPI, its INTID in bits 0-15. (An irqfd's gsi is
 * the SPI number itself: KVM's default routing maps gsi n to SPI n.) */
uint32_t arch_irq_line_id(uint32_t irq)
{
	return (KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT) |
	       (ARM64_SPI_INTID(irq) & KVM_ARM_IRQ_NUM_MASK);
}

static int dev_attr(int fd, uint32_t group, uint64_t attr, void *val)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uintptr_t)val };

	return ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0 ? -errno : 0;
}

static int gic_attr(struct arm64_state *st, uint32_t group, uint64_t attr, void *val,
		    const char *what)
{
	int err = dev_attr(st->gic_fd, group, attr, val);

	if (err)
		avp_err("GICv3: %s: %s", what, strerror(-err));
	return err;
}

/* The distributor and redistributors at layout.h's addresses. Created
 * before the vCPUs, so that a host without a GICv3 is refused before
 * anything else is set up; initialised after them (arm64_gic_finish). */
static int gic_create(struct vm *vm, struct arm64_state *st)
{
	struct kvm_create_device dev = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	uint64_t dist = ARM64_GICD_BASE, redist = ARM64_GICR_BASE;
	int err;

	if (ARM64_GICR_BASE + (uint64_t)vm->ncpus * ARM64_GICR_SIZE_PER_CPU > ARM64_PL011_BASE) {
		avp_err("--cpus %u: the arm64 platform's redistributors have room for %llu vCPUs",
			vm->ncpus,
			(unsigned long long)((ARM64_PL011_BASE - ARM64_GICR_BASE) /
					     ARM64_GICR_SIZE_PER_CPU));
		return -EINVAL;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
		err = -errno;
		avp_err("this host's KVM has no GICv3 to give the guest (KVM_CREATE_DEVICE "
			"VGIC_V3: %s), and avp's arm64 platform has no GICv2: run avp on a "
			"host with a GICv3 interrupt controller (under QEMU: -M "
			"virt,gic-version=3)", strerror(-err));
		/* Not a passing host failure: no retry makes it work. */
		return -ENOTSUP;
	}
	st->gic_fd = (int)dev.fd;
	err = gic_attr(st, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &dist,
		       "distributor address");
	if (!err)
		err = gic_attr(st, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST,
			       &redist, "redistributor address");
	return err;
}

int arm64_gic_finish(struct vm *vm)
{
	struct arm64_state *st = vm->arch;
	uint32_t nr_irqs = ARM64_GIC_NR_IRQS;
	int err;

	if (!st || st->gic_fd < 0)
		return -EINVAL;
	if (st->gic_ready)
		return 0;
	/* arm-vgic-v3.rst: NR_IRQS before CTRL_INIT, CTRL_INIT once every
	 * vCPU exists. */
	err = gic_attr(st, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs, "NR_IRQS");
	if (!err)
		err = gic_attr(st, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL,
			       "CTRL_INIT");
	st->gic_ready = !err;
	return err;
}

bool arch_irqfd_ready(const struct vm *vm)
{
	const struct arm64_state *st = vm ? vm->arch : NULL;

	return st && st->gic_ready;
}

int arch_vm_init(struct vm *vm)
{
	struct arm64_state *st = vm->arch;

	if (!st) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return -ENOMEM;
		st->gic_fd = st->its_fd = -1;
		vm->arch = st;
	}
	return gic_create(vm, st);
}

int arch_vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run;

	if (!vcpu || !vcpu->run)
		return -EINVAL;
	run = vcpu->run;
	switch (run->exit_reason) {
	case KVM_EXIT_INTERNAL_ERROR:
		avp_err("vcpu %u: KVM internal error, suberror %u", vcpu->index,
			run->internal.suberror);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		avp_err("vcpu %u: VM entry failed, hardware reason 0x%llx", vcpu->index,
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_ARM_NISV:
		/* A device access KVM could not decode (no valid syndrome:
		 * a load/store pair, or one with writeback). */
		avp_err("vcpu %u: undecodable MMIO access at 0x%llx", vcpu->index,
			(unsigned long long)run->arm_nisv.fault_ipa);
		break;
	default:
		return -ENOSYS; /* the core names the exit */
	}
	arch_vcpu_dump(vcpu, stderr);
	vm_request_exit(vcpu->vm, VM_EXIT_CRASH);
	return 1;
}

void arch_vm_destroy(struct vm *vm)
{
	struct arm64_state *st;

	if (!vm || !vm->arch)
		return;
	msi_routes_destroy(vm->msi);
	vm->msi = NULL;
	pci_host_destroy(vm->pci);
	vm->pci = NULL;
	st = vm->arch;
	if (st->its_fd >= 0)
		close(st->its_fd);
	if (st->gic_fd >= 0)
		close(st->gic_fd);
	free(st);
	vm->arch = NULL;
}

/* The in-kernel ITS that turns the functions' MSI-X writes into LPIs
 * (Documentation/virt/kvm/devices/arm-vgic-its.rst): created, placed and
 * initialised before the vGIC itself is (its CTRL_INIT needs no vCPU).
 * Its messages name their requester: KVM_CAP_MSI_DEVID, which KVM reports
 * once an ITS exists. 0, or -errno with what failed in *what. */
static int its_create(struct vm *vm, struct arm64_state *st, const char **what)
{
	struct kvm_create_device dev = { .type = KVM_DEV_TYPE_ARM_VGIC_ITS };
	uint64_t base = ARM64_GITS_BASE;
	int err;

	*what = "KVM_CREATE_DEVICE";
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0)
		return -errno;
	st->its_fd = (int)dev.fd;
	*what = "its address";
	err = dev_attr(st->its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &base);
	if (!err) {
		*what = "CTRL_INIT";
		err = dev_attr(st->its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT,
			       NULL);
	}
	if (!err && ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MSI_DEVID) <= 0) {
		*what = "KVM_CAP_MSI_DEVID";
		err = -ENOTSUP;
	}
	if (err) {
		close(st->its_fd);
		st->its_fd = -1;
	}
	return err;
}

/* KVM_SET_GSI_ROUTING replaces KVM's default table, so it is repeated:
 * GSI n to SPI n for every SPI (the vGIC's default routing; the
 * virtio-mmio irqfds rely on it). */
static unsigned int default_routes(struct kvm_irq_routing_entry *e)
{
	unsigned int n = 0;

	for (uint32_t spi = 0; spi < ARM64_MSI_FIRST_GSI; spi++)
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = spi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = 0, .pin = spi },
		};
	return n;
}

/* --transport pci: the generic ECAM host bridge at layout.h's windows and,
 * where KVM has an ITS, MSI-X through it; without one (an old host), the
 * functions' INTx lines, said once. */
int arch_pci_init(struct vm *vm)
{
	struct kvm_irq_routing_entry base[ARM64_MSI_FIRST_GSI];
	struct arm64_state *st = vm->arch;
	const char *what;
	int ret;

	if (vm->pci)
		return 0;
	ret = pci_host_create(&vm->mmio, ARM64_PCI_ECAM_BASE, ARM64_PCI_MMIO_BASE,
			      ARM64_PCI_MMIO_SIZE, &vm->pci);
	if (ret) {
		avp_err("cannot create the PCI host bridge: %s", strerror(-ret));
		return ret;
	}
	if (vm->vm_fd < 0 || !st)
		return 0;
	ret = its_create(vm, st, &what);
	if (ret) {
		avp_warn("this host's KVM gives no GICv3 ITS (%s: %s): virtio-pci devices use "
			 "their legacy interrupt (INTx) instead of MSI-X", what, strerror(-ret));
		return 0;
	}
	ret = msi_routes_create(vm->vm_fd, base, default_routes(base), ARM64_MSI_FIRST_GSI,
				MSI_ROUTES_MAX, &vm->msi);
	if (ret) {
		avp_err("cannot set up MSI routing: %s", strerror(-ret));
		return ret;
	}
	msi_routes_need_devid(vm->msi);
	return 0;
}

bool arm64_has_its(const struct vm *vm)
{
	const struct arm64_state *st = vm ? vm->arch : NULL;

	return st && st->its_fd >= 0;
}
