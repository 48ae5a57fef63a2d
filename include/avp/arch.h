/* The architecture interface: everything that differs between x86-64 and
 * (next) arm64 sits behind these calls. The core never includes an
 * architecture header. */
#ifndef AVP_ARCH_H
#define AVP_ARCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "avp/irq_alloc.h"

struct vm;
struct vcpu;

struct arch_mem_range {
	uint64_t gpa;
	uint64_t size;
};

/* Splits ram_bytes of RAM around the architecture's holes. Returns the
 * number of ranges written (<= max) or -EINVAL. */
int arch_ram_layout(uint64_t ram_bytes, struct arch_mem_range *out, unsigned int max);

/* What KVM_IRQ_LINE takes for device interrupt irq (one the allocator
 * handed out, or a platform device's): x86's GSI as it is, arm64's SPI
 * number with the SPI type and INTID encoding. */
uint32_t arch_irq_line_id(uint32_t irq);

/* Whether KVM takes irqfds for vm yet: kvm_irqfd_assign()
 * (virt/kvm/eventfd.c) answers EAGAIN until the interrupt controller is
 * initialised. x86: from arch_vm_init on (KVM_CREATE_IRQCHIP); arm64: once
 * the last vCPU initialised the vGIC (KVM_DEV_ARM_VGIC_CTRL_INIT needs every
 * vCPU). Transports assign irqfds at attach when it is true, else when
 * their device starts (after vm_create_vcpus). */
bool arch_irqfd_ready(const struct vm *vm);

/* Where MMIO devices go. */
uint64_t arch_mmio_dev_base(void);
uint64_t arch_mmio_dev_stride(void);
/* The interrupts devices may use, in the order they are handed out (the
 * feed of the VM's allocator, avp/irq_alloc.h): their kind in *kind and
 * up to max ranges in out. The number of ranges, or -errno. */
int arch_device_irqs(enum irq_kind *kind, struct irq_range *out, unsigned int max);

/* --transport pci: the PCI host bridge (vm->pci) at the architecture's
 * ECAM and BAR windows and, with KVM, its MSI routes (vm->msi). Before
 * the first device attaches; freed by arch_vm_destroy. 0 or -errno,
 * reported. */
int arch_pci_init(struct vm *vm);

/* After the VM fd exists, before memory: irqchip, timers, TSS. */
int arch_vm_init(struct vm *vm);
/* Legacy platform devices: UART, RTC, keyboard controller, power ports. */
int arch_platform_devices_init(struct vm *vm);
/* Frees them; the vCPUs must be stopped. Safe when init never ran. */
void arch_platform_devices_destroy(struct vm *vm);
/* Presses the platform's power button once, asking the guest to shut down
 * gracefully (x86: an ACPI Generic Event Device notifies a PNP0C0C button).
 * Any thread. 0, or -errno (-ENODEV without a running VM). */
int arch_power_button(struct vm *vm);
/* Checks kernel, initrd and command line against cfg (RAM size) before
 * any VM exists, with the same messages as arch_load_guest; reads only. */
struct avp_config;
int arch_check_guest(const struct avp_config *cfg);
/* Loads kernel/initrd/cmdline into guest memory and builds the firmware
 * tables (ACPI) describing every device registered so far. */
int arch_load_guest(struct vm *vm);
/* --dump-dtb: writes the device tree the guest would boot with (the
 * devices registered so far) to path. 0, or -errno after one error line
 * (x86: there is no device tree). */
int arch_dump_dtb(const struct vm *vm, const char *path);
/* Per vCPU: CPUID, MSRs, registers for the kernel entry point. */
int arch_vcpu_init(struct vcpu *vcpu);
/* One screen of registers for a crash report. */
void arch_vcpu_dump(struct vcpu *vcpu, FILE *out);
/* Handles an architecture-specific KVM exit; returns 0 to keep running,
 * 1 when the VM must stop (exit reason already requested), <0 on error. */
int arch_vcpu_handle_exit(struct vcpu *vcpu);
void arch_vm_destroy(struct vm *vm);

/* For the platform description: "x86_64", "ACPI 6.x", and the fixed
 * legacy devices as a JSON array (json_object *, to keep json-c out of
 * this header). (describe.c in the arch folder) */
const char *arch_name(void);
const char *arch_firmware_name(void);
struct json_object *arch_describe_legacy(const struct avp_config *cfg);

#endif
