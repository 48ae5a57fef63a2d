/* The x86 PCI host bridge (arch_pci_init): ECAM and BAR window in the
 * MMIO hole (x86.h), and KVM's GSI routing with the irqchip routes a PC
 * needs kept in front of the MSI ones. The ACPI side (MCFG, the PNP0A08
 * bridge) is acpi.c; the E820 reservation of ECAM is boot.c. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "arch/x86/x86.h"
#include "avp/arch.h"
#include "avp/hw/pci.h"
#include "avp/log.h"
#include "avp/hw/msi_routes.h"
#include "avp/vm.h"

#define NR_IOAPIC_PINS 24
#define NR_PIC_INPUTS 16

/* KVM_SET_GSI_ROUTING replaces KVM's default table, so it is repeated:
 * GSIs 0-15 reach both the I/O APIC pin and the 8259 input of the same
 * number, 16-23 only the I/O APIC (the KVM API's default routing). */
static unsigned int default_routes(struct kvm_irq_routing_entry *e)
{
	unsigned int n = 0;

	for (uint32_t gsi = 0; gsi < NR_IOAPIC_PINS; gsi++) {
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = gsi,
			.type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi },
		};
		if (gsi < NR_PIC_INPUTS)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi,
				.type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER
								  : KVM_IRQCHIP_PIC_SLAVE,
					       .pin = gsi % 8 },
			};
	}
	return n;
}

int arch_pci_init(struct vm *vm)
{
	struct kvm_irq_routing_entry base[NR_IOAPIC_PINS + NR_PIC_INPUTS];
	int ret;

	if (vm->pci)
		return 0;
	ret = pci_host_create(&vm->mmio, X86_PCI_ECAM_BASE, X86_PCI_MMIO_BASE, X86_PCI_MMIO_SIZE,
			      &vm->pci);
	if (ret) {
		avp_err("cannot create the PCI host bridge: %s", strerror(-ret));
		return ret;
	}
	if (vm->vm_fd < 0)
		return 0;
	ret = msi_routes_create(vm->vm_fd, base, default_routes(base), X86_MSI_FIRST_GSI,
				MSI_ROUTES_MAX, &vm->msi);
	if (ret)
		avp_err("cannot set up MSI routing: %s", strerror(-ret));
	return ret;
}
