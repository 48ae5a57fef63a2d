/* When the virtio-mmio transport gives KVM its interrupt eventfd (issue
 * 14): KVM refuses an irqfd (EAGAIN) until the VM's interrupt controller
 * is initialised, which on arm64 happens only after the last vCPU, while
 * devices attach before any vCPU exists. The irqfd must then wait for the
 * device's start; on x86, whose irqchip exists from arch_vm_init, it is
 * assigned at attach as before. Without KVM: the test links with
 * -Wl,--wrap=vm_irqfd_assign (Makefile), so the transport's calls land in
 * the fake below, which answers as KVM would. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/arch.h"
#include "avp/config.h"
#include "avp/hw/msi_routes.h"
#include "avp/hw/pci.h"
#include "avp/virtio/mmio.h"
#include "avp/virtio/pci.h"
#include "avp/virtio/transport.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/vm.h"
#ifdef __aarch64__
#include "arch/arm64/arm64.h"
#endif

#define RAM_GPA 0x100000ull
#define RAM_SIZE (1u << 20)

/* The fake KVM_IRQFD: refuses like kvm_irqfd_assign() while the interrupt
 * controller is not ready, and records what it was given. */
static struct {
	int calls;
	int efd;
	uint32_t gsi;
	int refuse; /* a refusal even once ready (0: accept) */
} kvm;

int __wrap_vm_irqfd_assign(struct vm *vm, int efd, uint32_t gsi);
int __wrap_vm_irqfd_assign(struct vm *vm, int efd, uint32_t gsi)
{
	kvm.calls++;
	if (!arch_irqfd_ready(vm))
		return -EAGAIN;
	if (kvm.refuse)
		return kvm.refuse;
	kvm.efd = efd;
	kvm.gsi = gsi;
	return 0;
}

static void probe_notify(struct virtio_dev *dev, uint16_t q)
{
	(void)dev;
	(void)q;
}

static void probe_destroy(struct virtio_dev *dev)
{
	virtio_dev_fini(dev);
}

static const struct virtio_dev_ops probe_ops = {
	.type = "probe",
	.device_id = 42,
	.num_queues = 1,
	.queue_notify = probe_notify,
	.destroy = probe_destroy,
};

struct fixture {
	struct vm vm;
	struct avp_config cfg;
	uint8_t *ram;
	struct virtio_dev dev;
	uint8_t config[4];
};

/* What arm64_gic_finish leaves behind (CTRL_INIT done); x86 is ready from
 * the start. */
static void irqchip_ready(struct fixture *f, bool ready)
{
#ifdef __aarch64__
	((struct arm64_state *)f->vm.arch)->gic_ready = ready;
#else
	(void)f;
	(void)ready;
#endif
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	memset(&kvm, 0, sizeof(kvm));
	kvm.efd = -1;
	avp_config_init(&f->cfg);
	f->vm.cfg = &f->cfg;
	/* A descriptor that is not KVM: the transport wires to KVM only when
	 * the VM has one (vm_fd >= 0); nothing else reaches it here. */
	f->vm.vm_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	f->vm.kvm_fd = -1;
	assert_true(f->vm.vm_fd >= 0);
	f->vm.have_irqfd = true;
	f->vm.defer_device_threads = true;
	f->vm.exit_efd = eventfd(0, 0);
#ifdef __aarch64__
	f->vm.arch = calloc(1, sizeof(struct arm64_state));
	assert_non_null(f->vm.arch);
	((struct arm64_state *)f->vm.arch)->gic_fd = -1;
#endif
	f->ram = calloc(1, RAM_SIZE);
	assert_non_null(f->ram);
	gm_add_region(&f->vm.mem, RAM_GPA, RAM_SIZE, f->ram);
	virtio_dev_init(&f->dev, &probe_ops, f, f->config, sizeof(f->config));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->dev.tops)
		virtio_transport_detach(&f->dev);
	arch_vm_destroy(&f->vm);
	close(f->vm.vm_fd);
	close(f->vm.exit_efd);
	free(f->ram);
	free(f);
	return 0;
}

/* The guest's view of an interrupt: the eventfd KVM was given counts it. */
static uint64_t irqfd_count(void)
{
	uint64_t n = 0;

	if (kvm.efd < 0 || read(kvm.efd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static void attach(struct fixture *f)
{
	assert_int_equal(virtio_transport_attach(&virtio_mmio_transport, &f->vm, &f->dev), 0);
}

/* arm64's order: devices attach before the vCPUs, the vGIC is initialised
 * after the last one, the devices start after that (src/vmm/machine.c). */
static void test_irqfd_waits_for_the_interrupt_controller(void **state)
{
	struct fixture *f = *state;

#ifndef __aarch64__
	skip(); /* x86's irqchip is ready before any device attaches */
#endif
	irqchip_ready(f, false);
	attach(f);
	assert_int_equal(kvm.calls, 0); /* not tried: KVM would say EAGAIN */
	irqchip_ready(f, true);
	assert_int_equal(virtio_transport_start(&f->dev), 0);
	assert_int_equal(kvm.calls, 1);
	assert_int_equal(kvm.gsi, f->vm.mmio_devs[0].gsi);
	f->dev.tops->interrupt(&f->dev, VIRTIO_ISR_QUEUE);
	assert_int_equal(irqfd_count(), 1);
}

/* x86's order (and arm64's if the controller were ready first): assigned
 * at attach, not again at start. */
static void test_irqfd_at_attach_when_ready(void **state)
{
	struct fixture *f = *state;

	irqchip_ready(f, true);
	attach(f);
	assert_int_equal(kvm.calls, 1);
	assert_int_equal(kvm.gsi, f->vm.mmio_devs[0].gsi);
	assert_int_equal(virtio_transport_start(&f->dev), 0);
	assert_int_equal(kvm.calls, 1);
	f->dev.tops->interrupt(&f->dev, VIRTIO_ISR_CONFIG);
	assert_int_equal(irqfd_count(), 1);
}

/* KVM refuses the irqfd outright: asked once, not again at start, and an
 * interrupt still sets InterruptStatus (the transport moves the line with
 * KVM_IRQ_LINE instead, which fails harmlessly on a descriptor that is not
 * KVM). */
static void test_refused_irqfd_falls_back(void **state)
{
	struct fixture *f = *state;
	uint32_t isr = 0;

	kvm.refuse = -ENOMEM;
	irqchip_ready(f, true);
	attach(f);
	assert_int_equal(virtio_transport_start(&f->dev), 0);
	assert_int_equal(kvm.calls, 1);
	f->dev.tops->interrupt(&f->dev, VIRTIO_ISR_QUEUE);
	io_bus_dispatch(&f->vm.mmio, f->vm.mmio_devs[0].base + 0x060, &isr, 4, false);
	assert_int_equal(isr, VIRTIO_ISR_QUEUE);
}

/* virtio-pci (issue 16): the vectors' irqfds wait for the interrupt
 * controller the same way, then one per vector (queue + config) on the
 * MSI GSIs. */
static void test_pci_vectors_wait_for_the_interrupt_controller(void **state)
{
	struct fixture *f = *state;

	irqchip_ready(f, false);
	assert_int_equal(pci_host_create(&f->vm.mmio, 0x3f000000, 0x10000000, 0x1000000,
					 &f->vm.pci), 0);
	assert_int_equal(msi_routes_create(-1, NULL, 0, 96, 8, &f->vm.msi), 0);
	assert_int_equal(virtio_transport_attach(&virtio_pci_transport, &f->vm, &f->dev), 0);
#ifdef __aarch64__
	assert_int_equal(kvm.calls, 0); /* not tried: KVM would say EAGAIN */
#else
	assert_int_equal(kvm.calls, 2); /* x86: ready at attach */
#endif
	irqchip_ready(f, true);
	assert_int_equal(virtio_transport_start(&f->dev), 0);
	assert_int_equal(kvm.calls, 2);
	assert_int_equal(kvm.gsi, 97);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_irqfd_waits_for_the_interrupt_controller,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqfd_at_attach_when_ready, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_irqfd_falls_back, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_vectors_wait_for_the_interrupt_controller,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
