/* One virtual machine: the KVM handles, guest RAM, the I/O buses and the
 * devices on them. Everything hangs off struct vm; there are no globals, so
 * several VMs could share a process (tests create many). */
#ifndef AVP_VM_H
#define AVP_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "avp/api_cmd.h"
#include "avp/config.h"
#include "avp/guest_mem.h"
#include "avp/io_bus.h"
#include "avp/irq_alloc.h"

struct vm;
struct virtio_dev;
struct pci_host;
struct msi_routes;

/* Why the VM stopped; also decides avp's exit status (see avp_exit_status). */
enum vm_exit_reason {
	VM_EXIT_NONE = 0,
	VM_EXIT_POWEROFF,  /* guest powered off */
	VM_EXIT_REBOOT,	   /* guest asked for a reset */
	VM_EXIT_CRASH,	   /* triple fault, KVM internal error, ... */
	VM_EXIT_HOST_ERROR,/* avp itself failed while running */
	VM_EXIT_SIGNAL,	   /* SIGINT/SIGTERM to avp */
	VM_EXIT_WATCHDOG,  /* the guest stopped refreshing its watchdog */
};

/* Process exit statuses, documented in the README. */
enum avp_exit_status {
	AVP_EXIT_POWEROFF = 0,
	AVP_EXIT_CONFIG = 1, /* bad arguments or inputs; nothing ran */
	AVP_EXIT_CRASH = 2,
	AVP_EXIT_REBOOT = 3,
	AVP_EXIT_HOST_ERROR = 4,
	AVP_EXIT_SIGNAL = 5,
	AVP_EXIT_WATCHDOG = 6, /* the guest's watchdog expired (AVP-WDT-1) */
};

struct vcpu {
	struct vm *vm;
	unsigned int index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
};

/* One entry of the platform description (AVP-BOOT-4) and the ACPI DSDT. */
struct platform_mmio_dev {
	const char *type; /* "virtio-blk", ... */
	uint32_t virtio_id;
	uint64_t base;
	uint64_t size;
	uint32_t gsi;
	uint64_t features;
	struct virtio_dev *dev;
	/* virtio-pci (src/virtio/pci.c): a function at 00:pci_slot.0 whose
	 * BAR 0 is [base, +size); gsi is its INTx fallback. */
	bool pci;
	uint8_t pci_slot;
	uint16_t msix_vectors;
};

#define AVP_MAX_MMIO_DEVS 16

struct vm {
	int kvm_fd;
	int vm_fd;
	const struct avp_config *cfg;
	struct guest_mem mem;
	struct io_bus pio;
	struct io_bus mmio;
	unsigned int ncpus;
	struct vcpu *vcpus;

	/* Filled by the transports as they attach devices; machine assembly
	 * detaches them before vm_destroy. */
	struct platform_mmio_dev mmio_devs[AVP_MAX_MMIO_DEVS];
	unsigned int nmmio_devs;
	/* Device interrupts, fed by arch_device_irqs on first use. */
	struct irq_alloc irqs;

	bool have_irqfd;
	bool have_ioeventfd;
	/* Device workers wait for virtio_transport_start() instead of starting at
	 * attach: the machine starts them once the jail closed, so they share
	 * its network, IPC and UTS namespaces (docs/security.md). */
	bool defer_device_threads;

	/* Exit coordination: the first reason wins; the main thread waits on
	 * exit_efd and then stops the vCPUs. */
	atomic_int exit_reason;
	int exit_efd;

	struct timespec t_start;
	atomic_bool first_console_output;

	void *arch; /* arch-private state */

	/* Control-socket commands offered by the core and the devices. */
	struct api_command api_cmds[AVP_MAX_API_COMMANDS];
	unsigned int napi_cmds;
	void *platform; /* legacy platform devices (arch) */
	/* --transport pci: the host bridge (struct pci_host, avp/hw/pci.h)
	 * and KVM's MSI routes (avp/hw/msi_routes.h), made by arch_pci_init. */
	struct pci_host *pci;
	struct msi_routes *msi;
};

int vm_create(struct vm *vm, const struct avp_config *cfg);
void vm_destroy(struct vm *vm);

/* Maps cfg->memory_mib of anonymous memory using the architecture's RAM
 * layout and registers it with KVM. */
int vm_setup_memory(struct vm *vm);

int vm_create_vcpus(struct vm *vm);
int vm_start_vcpus(struct vm *vm);
void vm_stop_vcpus(struct vm *vm);

/* Records why the VM ends and wakes the main thread; first caller wins. */
void vm_request_exit(struct vm *vm, enum vm_exit_reason reason);

/* Interrupt plumbing. gsi numbers are I/O APIC inputs. */
int vm_irq_line(struct vm *vm, uint32_t gsi, int level);
int vm_irq_pulse(struct vm *vm, uint32_t gsi);
int vm_irqfd_assign(struct vm *vm, int efd, uint32_t gsi);
int vm_ioeventfd_assign(struct vm *vm, uint64_t mmio_addr, uint32_t len,
			uint64_t datamatch, int efd);
/* Undoes vm_ioeventfd_assign with the same arguments (a moved PCI BAR). */
int vm_ioeventfd_deassign(struct vm *vm, uint64_t mmio_addr, uint32_t len,
			  uint64_t datamatch, int efd);

/* count consecutive device interrupts for the device `type`, from the
 * architecture's ranges in order. 0 or -errno; running out (-ENOSPC) is
 * reported, naming the cap. */
int vm_alloc_irq(struct vm *vm, const char *type, uint32_t count, uint32_t *first);
/* Reserves the next MMIO window (in attach order) and an interrupt for a
 * device. 0 or -errno, reported: -ENOSPC names the cap that was hit. */
int vm_alloc_mmio_dev(struct vm *vm, const char *type, uint64_t size,
		      struct platform_mmio_dev **out);

/* Milestones for --timing. */
double vm_elapsed_ms(const struct vm *vm);
void vm_note_console_output(struct vm *vm);
/* Prints "milestone at N ms" on stderr when --timing is on. */
void vm_timing(const struct vm *vm, const char *milestone);

#endif
