/* MSI routes that name their requester (issue 16): an ITS (arm64)
 * translates a (DeviceID, EventID) pair, so every KVM_SET_GSI_ROUTING MSI
 * entry and every KVM_SIGNAL_MSI carries KVM_MSI_VALID_DEVID and the
 * function's bus/device/function, while x86's carry neither. On arm64,
 * arch_pci_init creates the ITS and asks for them, or falls back to INTx
 * when KVM has no ITS. Without KVM: the test links with -Wl,--wrap=ioctl
 * (Makefile), so the calls land in the fake below, which records them. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "avp/arch.h"
#include "avp/hw/msi_routes.h"
#include "avp/hw/pci.h"
#include "avp/log.h"
#include "avp/vm.h"
#ifdef __aarch64__
#include "arch/arm64/arm64.h"
#endif

#define FAKE_VM_FD 1000

static struct {
	struct kvm_irq_routing_entry routes[8];
	unsigned int nroutes, set_routing;
	struct kvm_msi msi;
	unsigned int signals;
	/* arm64's ITS */
	int create_errno; /* KVM_CREATE_DEVICE's answer for the ITS, 0: made */
	int devid_cap;
	uint32_t created_type;
	uint64_t its_addr;
	bool its_init;
} kvm;

int __real_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...);
int __wrap_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (fd != FAKE_VM_FD && req != KVM_SET_DEVICE_ATTR)
		return __real_ioctl(fd, req, arg);
	switch (req) {
	case KVM_SET_GSI_ROUTING: {
		const struct kvm_irq_routing *t = arg;

		kvm.set_routing++;
		kvm.nroutes = t->nr;
		for (unsigned int i = 0; i < t->nr && i < 8; i++)
			kvm.routes[i] = t->entries[i];
		return 0;
	}
	case KVM_SIGNAL_MSI:
		kvm.msi = *(const struct kvm_msi *)arg;
		kvm.signals++;
		return 1;
	case KVM_CREATE_DEVICE: {
		struct kvm_create_device *d = arg;

		kvm.created_type = d->type;
		if (kvm.create_errno) {
			errno = kvm.create_errno;
			return -1;
		}
		d->fd = (uint32_t)open("/dev/null", O_RDONLY | O_CLOEXEC);
		return 0;
	}
	case KVM_SET_DEVICE_ATTR: {
		const struct kvm_device_attr *a = arg;

#ifdef __aarch64__
		if (a->group == KVM_DEV_ARM_VGIC_GRP_ADDR && a->attr == KVM_VGIC_ITS_ADDR_TYPE)
			kvm.its_addr = *(const uint64_t *)(uintptr_t)a->addr;
		if (a->group == KVM_DEV_ARM_VGIC_GRP_CTRL &&
		    a->attr == KVM_DEV_ARM_VGIC_CTRL_INIT)
			kvm.its_init = true;
#else
		(void)a;
#endif
		return 0;
	}
	case KVM_CHECK_EXTENSION:
		return (uintptr_t)arg == KVM_CAP_MSI_DEVID ? kvm.devid_cap : 0;
	default:
		errno = ENOTTY;
		return -1;
	}
}

static int reset(void **state)
{
	(void)state;
	memset(&kvm, 0, sizeof(kvm));
	return 0;
}

static const struct kvm_irq_routing_entry base[1] = {
	{ .gsi = 0, .type = KVM_IRQ_ROUTING_IRQCHIP, .u.irqchip = { .irqchip = 0, .pin = 0 } },
};

/* An ITS's routes: each MSI entry after the kept irqchip ones names its
 * requester, and a new requester alone is a new route. */
static void test_routes_with_devid(void **state)
{
	struct msi_routes *r;
	uint32_t gsi;

	(void)state;
	assert_int_equal(msi_routes_create(FAKE_VM_FD, base, 1, 96, 4, &r), 0);
	assert_false(msi_routes_devid(r));
	msi_routes_need_devid(r);
	assert_true(msi_routes_devid(r));
	assert_int_equal(msi_routes_alloc(r, &gsi), 0);
	/* 00:02.0, the ITS's GITS_TRANSLATER, EventID 5. */
	assert_int_equal(msi_routes_set(r, gsi, 0x8090040, 5, 0x10), 0);
	assert_int_equal(kvm.set_routing, 1);
	assert_int_equal(kvm.nroutes, 2);
	assert_int_equal(kvm.routes[0].type, KVM_IRQ_ROUTING_IRQCHIP);
	assert_int_equal(kvm.routes[1].type, KVM_IRQ_ROUTING_MSI);
	assert_int_equal(kvm.routes[1].gsi, 96);
	assert_int_equal(kvm.routes[1].flags, KVM_MSI_VALID_DEVID);
	assert_int_equal(kvm.routes[1].u.msi.devid, 0x10);
	assert_int_equal(kvm.routes[1].u.msi.address_lo, 0x8090040);
	assert_int_equal(kvm.routes[1].u.msi.address_hi, 0);
	assert_int_equal(kvm.routes[1].u.msi.data, 5);
	/* The same message from another function: committed again. */
	assert_int_equal(msi_routes_set(r, gsi, 0x8090040, 5, 0x18), 0);
	assert_int_equal(kvm.set_routing, 2);
	assert_int_equal(kvm.routes[1].u.msi.devid, 0x18);
	/* Injected without an irqfd: the same DeviceID. */
	assert_int_equal(msi_signal(FAKE_VM_FD, r, 0x8090040, 6, 0x18), 0);
	assert_int_equal(kvm.signals, 1);
	assert_int_equal(kvm.msi.flags, KVM_MSI_VALID_DEVID);
	assert_int_equal(kvm.msi.devid, 0x18);
	assert_int_equal(kvm.msi.data, 6);
	msi_routes_destroy(r);
}

/* x86's routes: no flag, no DeviceID, whatever the caller passes. */
static void test_routes_without_devid(void **state)
{
	struct msi_routes *r;
	uint32_t gsi;

	(void)state;
	assert_int_equal(msi_routes_create(FAKE_VM_FD, base, 1, 24, 4, &r), 0);
	assert_int_equal(msi_routes_alloc(r, &gsi), 0);
	assert_int_equal(msi_routes_set(r, gsi, 0xfee00000, 0x41, 0x10), 0);
	assert_int_equal(kvm.routes[1].flags, 0);
	assert_int_equal(kvm.routes[1].u.msi.devid, 0);
	/* Another requester is no other route here. */
	assert_int_equal(msi_routes_set(r, gsi, 0xfee00000, 0x41, 0x18), 0);
	assert_int_equal(kvm.set_routing, 1);
	assert_int_equal(msi_signal(FAKE_VM_FD, r, 0xfee00000, 0x41, 0x18), 0);
	assert_int_equal(kvm.msi.flags, 0);
	assert_int_equal(kvm.msi.devid, 0);
	assert_int_equal(msi_signal(FAKE_VM_FD, NULL, 0xfee00000, 0x41, 0x18), 0);
	assert_int_equal(kvm.msi.flags, 0);
	msi_routes_destroy(r);
}

/* The requester ID of a function on bus 0: device << 3, function 0. */
static void test_bdf(void **state)
{
	struct pci_fn fn = { .slot = 3 };

	(void)state;
	assert_int_equal(pci_fn_bdf(&fn), 0x18);
	fn.slot = 31;
	assert_int_equal(pci_fn_bdf(&fn), 0xf8);
}

#ifdef __aarch64__
/* A VM on the fake KVM after arch_pci_init, which always makes the host
 * bridge, with or without an ITS. */
static void pci_vm(struct vm *vm)
{
	struct arm64_state *st = calloc(1, sizeof(*st));

	assert_non_null(st);
	memset(vm, 0, sizeof(*vm));
	st->gic_fd = st->its_fd = -1;
	vm->arch = st;
	vm->vm_fd = FAKE_VM_FD;
	vm->kvm_fd = -1;
	assert_int_equal(arch_pci_init(vm), 0);
	assert_non_null(vm->pci);
}
#endif

/* arm64: the ITS at layout.h's address, initialised, and routes with
 * DeviceIDs that keep GSI n -> SPI n for every SPI in front. */
static void test_arm64_pci_init_with_its(void **state)
{
	(void)state;
#ifndef __aarch64__
	skip(); /* arm64's platform: make ARCH=arm64 check runs it */
#else
	struct vm vm;
	uint32_t gsi;

	kvm.devid_cap = 1;
	pci_vm(&vm);
	assert_int_equal(kvm.created_type, KVM_DEV_TYPE_ARM_VGIC_ITS);
	assert_int_equal(kvm.its_addr, ARM64_GITS_BASE);
	assert_true(kvm.its_init);
	assert_true(arm64_has_its(&vm));
	assert_true(msi_routes_devid(vm.msi));
	assert_int_equal(msi_routes_alloc(vm.msi, &gsi), 0);
	assert_int_equal(gsi, ARM64_MSI_FIRST_GSI);
	assert_int_equal(msi_routes_set(vm.msi, gsi, ARM64_GITS_BASE + 0x10040, 0, 0x08), 0);
	assert_int_equal(kvm.nroutes, ARM64_MSI_FIRST_GSI + 1);
	assert_int_equal(kvm.routes[5].type, KVM_IRQ_ROUTING_IRQCHIP);
	assert_int_equal(kvm.routes[5].gsi, 5);
	assert_int_equal(kvm.routes[5].u.irqchip.pin, 5);
	arch_vm_destroy(&vm);
#endif
}

/* arm64 without an ITS (KVM refuses it, or gives no DeviceIDs): the host
 * bridge still exists, with INTx only: no MSI routes, no ITS in the tree. */
static void test_arm64_pci_init_without_its(void **state)
{
	(void)state;
#ifndef __aarch64__
	skip(); /* arm64's platform: make ARCH=arm64 check runs it */
#else
	struct vm vm;

	kvm.create_errno = ENODEV;
	pci_vm(&vm);
	assert_null(vm.msi);
	assert_false(arm64_has_its(&vm));
	arch_vm_destroy(&vm);

	reset(NULL);
	kvm.devid_cap = 0; /* an ITS, but no DeviceIDs in MSIs */
	pci_vm(&vm);
	assert_int_equal(kvm.created_type, KVM_DEV_TYPE_ARM_VGIC_ITS);
	assert_null(vm.msi);
	assert_false(arm64_has_its(&vm));
	arch_vm_destroy(&vm);
#endif
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_routes_with_devid, reset),
		cmocka_unit_test_setup(test_routes_without_devid, reset),
		cmocka_unit_test(test_bdf),
		cmocka_unit_test_setup(test_arm64_pci_init_with_its, reset),
		cmocka_unit_test_setup(test_arm64_pci_init_without_its, reset),
	};

	avp_log_set_level(AVP_LOG_ERROR);
	return cmocka_run_group_tests_name("msi_devid", tests, NULL, NULL);
}
