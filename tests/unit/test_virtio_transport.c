/* The transport interface (avp/virtio/transport.h) with virtio-mmio behind
 * it, without KVM: what machine assembly relies on. Devices are placed in
 * attach order, describe says where, the worker waits for start when the
 * VM defers it, detach destroys the device, and virtio_dev_fini leaves it
 * without a transport. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avp/virtio/mmio.h"
#include "avp/virtio/transport.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/vm.h"

#define RAM_GPA 0x100000ull
#define RAM_SIZE (1u << 20)

struct probe {
	struct virtio_dev dev;
	uint8_t config[4];
	int destroyed;
	bool finished; /* destroy saw virtio_dev_fini clear the transport */
};

static void probe_notify(struct virtio_dev *dev, uint16_t q)
{
	(void)dev;
	(void)q;
}

static void probe_destroy(struct virtio_dev *dev)
{
	struct probe *p = dev->priv;

	p->destroyed++;
	virtio_dev_fini(dev);
	p->finished = dev->tops == NULL && dev->transport == NULL;
}

static const struct virtio_dev_ops probe_ops = {
	.type = "probe",
	.device_id = 42,
	.num_queues = 2,
	.queue_notify = probe_notify,
	.destroy = probe_destroy,
};

static const struct virtio_dev_ops no_queue_ops = {
	.type = "no-queues",
	.device_id = 43,
	.num_queues = 0,
	.destroy = probe_destroy,
};

struct fixture {
	struct vm vm;
	struct avp_config cfg;
	uint8_t *ram;
	struct probe p[3];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	avp_config_init(&f->cfg);
	f->vm.cfg = &f->cfg;
	f->vm.vm_fd = f->vm.kvm_fd = -1;
	f->vm.exit_efd = eventfd(0, 0);
	f->ram = calloc(1, RAM_SIZE);
	gm_add_region(&f->vm.mem, RAM_GPA, RAM_SIZE, f->ram);
	for (unsigned int i = 0; i < 3; i++)
		virtio_dev_init(&f->p[i].dev, &probe_ops, &f->p[i], f->p[i].config,
				sizeof(f->p[i].config));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (unsigned int i = 0; i < 3; i++)
		if (f->p[i].dev.tops)
			virtio_transport_detach(&f->p[i].dev);
	close(f->vm.exit_efd);
	free(f->ram);
	free(f);
	return 0;
}

static void test_attach_order_and_describe(void **state)
{
	struct fixture *f = *state;
#ifdef __aarch64__
	static const uint32_t gsis[] = { 16, 17, 18 }; /* SPIs */
	const uint64_t base = 0x0a000000ull;
#else
	static const uint32_t gsis[] = { 5, 6, 7 };
	const uint64_t base = 0xd0000000ull;
#endif
	struct virtio_transport_info info;

	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(virtio_transport_attach(&virtio_mmio_transport, &f->vm, &f->p[i].dev), 0);
		assert_ptr_equal(f->p[i].dev.tops, &virtio_mmio_transport);
		assert_ptr_equal(f->p[i].dev.vm, &f->vm);
		memset(&info, 0, sizeof(info));
		assert_int_equal(virtio_transport_describe(&f->p[i].dev, &info), 0);
		assert_string_equal(info.transport, "virtio-mmio");
		assert_int_equal(info.base, base + 0x1000ull * i);
		assert_int_equal(info.size, VIRTIO_MMIO_SIZE);
		assert_int_equal(info.irq, gsis[i]);
		assert_true(info.features & (1ull << VIRTIO_F_VERSION_1));
		/* The platform table the DSDT and --describe read says the same. */
		assert_int_equal(f->vm.mmio_devs[i].base, info.base);
		assert_int_equal(f->vm.mmio_devs[i].gsi, info.irq);
		assert_ptr_equal(f->vm.mmio_devs[i].dev, &f->p[i].dev);
	}
	assert_int_equal(f->vm.nmmio_devs, 3);
}

static void test_attach_twice_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(virtio_transport_attach(&virtio_mmio_transport, &f->vm, &f->p[0].dev), 0);
	assert_int_equal(virtio_transport_attach(&virtio_mmio_transport, &f->vm, &f->p[0].dev),
			 -EINVAL);
	assert_int_equal(f->vm.nmmio_devs, 1);
	assert_int_equal(virtio_transport_attach(NULL, &f->vm, &f->p[1].dev), -EINVAL);
	assert_null(f->p[1].dev.tops);
}

static void test_failed_attach_leaves_device_unbound(void **state)
{
	struct fixture *f = *state;
	struct virtio_transport_info info;

	virtio_dev_init(&f->p[2].dev, &no_queue_ops, &f->p[2], NULL, 0);
	assert_int_equal(virtio_transport_attach(&virtio_mmio_transport, &f->vm, &f->p[2].dev),
			 -EINVAL);
	assert_null(f->p[2].dev.tops);
	assert_null(f->p[2].dev.transport);
	assert_int_equal(f->vm.nmmio_devs, 0);
	assert_int_equal(f->p[2].destroyed, 0); /* the caller still owns it */
	assert_int_equal(virtio_transport_describe(&f->p[2].dev, &info), -EINVAL);
	assert_int_equal(virtio_transport_start(&f->p[2].dev), -EINVAL);
	/* Unattached, detach just destroys. */
	virtio_transport_detach(&f->p[2].dev);
	assert_int_equal(f->p[2].destroyed, 1);
}

static void test_deferred_start_and_detach(void **state)
{
	struct fixture *f = *state;
	struct probe *p = &f->p[0];

	f->vm.defer_device_threads = true;
	assert_int_equal(virtio_transport_attach(&virtio_mmio_transport, &f->vm, &p->dev), 0);
	assert_int_equal(virtio_transport_start(&p->dev), 0);
	assert_int_equal(virtio_transport_start(&p->dev), 0); /* running already */
	/* The device reaches its transport only through the helpers. */
	assert_int_equal(virtio_dev_watch_fd(&p->dev, f->vm.exit_efd, 1), 0);
	assert_int_equal(virtio_dev_unwatch_fd(&p->dev, f->vm.exit_efd), 0);
	virtio_transport_detach(&p->dev);
	assert_int_equal(p->destroyed, 1);
	assert_true(p->finished);
	assert_null(p->dev.tops);
	/* Without a transport there is nothing to watch with. */
	assert_int_equal(virtio_dev_watch_fd(&p->dev, f->vm.exit_efd, 1), -ENOSYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_attach_order_and_describe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attach_twice_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_attach_leaves_device_unbound, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_deferred_start_and_detach, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtio_transport", tests, NULL, NULL);
}
