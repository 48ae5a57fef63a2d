/* The virtio-mmio transport, driven through its registers the way Linux's
 * virtio_mmio driver does (VIRTIO 1.2, 4.2.3), with an echo device and no
 * KVM (notifications and interrupts take the fallback paths). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "avp/virtio/mmio.h"
#include "avp/virtio/virtio_dev.h"
#include "avp/vm.h"

#define RAM_GPA 0x100000ull
#define RAM_SIZE (1u << 20)

struct echo {
	struct virtio_dev dev;
	struct virtq_chain chain;
	uint8_t config[12];
	int resets;
	int activations;
};

static uint64_t echo_features(struct virtio_dev *dev)
{
	(void)dev;
	return 1ull << 5; /* some device-specific bit */
}

static int echo_activate(struct virtio_dev *dev)
{
	((struct echo *)dev->priv)->activations++;
	return 0;
}

static void echo_reset(struct virtio_dev *dev)
{
	((struct echo *)dev->priv)->resets++;
}

/* Copies the readable part into the writable part. */
static void echo_notify(struct virtio_dev *dev, uint16_t q)
{
	struct echo *e = dev->priv;
	int ret;

	while ((ret = virtq_pop(&dev->vqs[q], &e->chain)) != 0) {
		uint8_t buf[256];
		size_t n;

		if (ret == -EIO) {
			virtio_dev_needs_reset(dev, "test");
			return;
		}
		if (ret < 0) {
			virtio_dev_complete(dev, q, e->chain.head, 0);
			continue;
		}
		n = virtq_chain_read(&e->chain, 0, buf, sizeof(buf));
		n = virtq_chain_write(&e->chain, 0, buf, n);
		virtio_dev_complete(dev, q, e->chain.head, (uint32_t)n);
	}
}

static void echo_destroy(struct virtio_dev *dev)
{
	(void)dev;
}

static const struct virtio_dev_ops echo_ops = {
	.type = "echo",
	.device_id = 42,
	.num_queues = 2,
	.features = echo_features,
	.activate = echo_activate,
	.queue_notify = echo_notify,
	.reset = echo_reset,
	.destroy = echo_destroy,
};

struct fixture {
	struct vm vm;
	struct avp_config cfg;
	uint8_t *ram;
	struct echo echo;
	uint64_t base;
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
	virtio_dev_init(&f->echo.dev, &echo_ops, &f->echo, f->echo.config, sizeof(f->echo.config));
	memcpy(f->echo.config, "ABCDEFGHIJKL", 12);
	assert_int_equal(virtio_mmio_attach(&f->vm, &f->echo.dev), 0);
	f->base = f->vm.mmio_devs[0].base;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	virtio_mmio_detach(&f->echo.dev);
	close(f->vm.exit_efd);
	free(f->ram);
	free(f);
	return 0;
}

static uint32_t rd(struct fixture *f, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	assert_true(io_bus_dispatch(&f->vm.mmio, f->base + off, &v, 4, false));
	return v;
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
	assert_true(io_bus_dispatch(&f->vm.mmio, f->base + off, &v, 4, true));
}

/* Queue layout inside the test RAM. */
#define DESC_GPA (RAM_GPA + 0x0000)
#define AVAIL_GPA (RAM_GPA + 0x1000)
#define USED_GPA (RAM_GPA + 0x2000)
#define BUF_GPA (RAM_GPA + 0x3000)
#define QSIZE 16

static void *hva(struct fixture *f, uint64_t gpa)
{
	return f->ram + (gpa - RAM_GPA);
}

/* Linux's sequence: reset, ACK, DRIVER, features, FEATURES_OK, queues,
 * DRIVER_OK. Returns the status read back after FEATURES_OK. */
static uint32_t driver_init(struct fixture *f, uint64_t features)
{
	uint32_t status;

	wr(f, 0x070, 0);
	wr(f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(f, 0x024, 0);
	wr(f, 0x020, (uint32_t)features);
	wr(f, 0x024, 1);
	wr(f, 0x020, (uint32_t)(features >> 32));
	wr(f, 0x070, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
	status = rd(f, 0x070);
	if (!(status & VIRTIO_STATUS_FEATURES_OK))
		return status;
	memset(f->ram, 0, 0x3000);
	wr(f, 0x030, 0);
	assert_int_equal(rd(f, 0x044), 0);
	assert_int_equal(rd(f, 0x034), VIRTQ_MAX_SIZE);
	wr(f, 0x038, QSIZE);
	wr(f, 0x080, (uint32_t)DESC_GPA);
	wr(f, 0x084, 0);
	wr(f, 0x090, (uint32_t)AVAIL_GPA);
	wr(f, 0x094, 0);
	wr(f, 0x0a0, (uint32_t)USED_GPA);
	wr(f, 0x0a4, 0);
	wr(f, 0x044, 1);
	wr(f, 0x070, status | VIRTIO_STATUS_DRIVER_OK);
	return rd(f, 0x070);
}

static const uint64_t good_features = (1ull << VIRTIO_F_VERSION_1) | (1ull << 5);

/* Posts one 2-descriptor echo request and waits for the device thread to
 * complete it. Returns the used length, or -1 on timeout. */
static int echo_round_trip(struct fixture *f, uint16_t avail_idx, const char *msg)
{
	struct virtq_desc *d = hva(f, DESC_GPA);
	uint16_t *avail = hva(f, AVAIL_GPA);
	uint16_t *used = hva(f, USED_GPA);
	size_t len = strlen(msg);

	memcpy(hva(f, BUF_GPA), msg, len);
	memset(hva(f, BUF_GPA + 0x100), 0, 0x100);
	d[0] = (struct virtq_desc){ BUF_GPA, (uint32_t)len, VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ BUF_GPA + 0x100, 0x100, VIRTQ_DESC_F_WRITE, 0 };
	avail[2 + avail_idx % QSIZE] = 0;
	__atomic_store_n(&avail[1], (uint16_t)(avail_idx + 1), __ATOMIC_RELEASE);
	wr(f, 0x050, 0); /* QueueNotify */
	for (int i = 0; i < 2000; i++) {
		if (__atomic_load_n(&used[1], __ATOMIC_ACQUIRE) == (uint16_t)(avail_idx + 1)) {
			uint32_t *elem = (uint32_t *)(used + 2) + 2 * (avail_idx % QSIZE);

			assert_memory_equal(hva(f, BUF_GPA + 0x100), msg, len);
			return (int)elem[1];
		}
		usleep(1000);
	}
	return -1;
}

static void test_identity_registers(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(rd(f, 0x000), 0x74726976);
	assert_int_equal(rd(f, 0x004), 2);
	assert_int_equal(rd(f, 0x008), 42);
	wr(f, 0x014, 1);
	assert_true(rd(f, 0x010) & 1); /* VERSION_1 is bit 32 */
	wr(f, 0x014, 0);
	assert_int_equal(rd(f, 0x010), (1u << 5) | (1u << VIRTIO_F_INDIRECT_DESC) | (1u << VIRTIO_F_EVENT_IDX));
	wr(f, 0x014, 7);
	assert_int_equal(rd(f, 0x010), 0);
}

static void test_full_init_and_echo(void **state)
{
	struct fixture *f = *state;
	uint32_t status = driver_init(f, good_features);

	assert_true(status & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(f->echo.activations, 1);
	assert_int_equal(echo_round_trip(f, 0, "hello"), 5);
	assert_true(rd(f, 0x060) & 1); /* used-buffer interrupt pending */
	wr(f, 0x064, 1);
	assert_int_equal(rd(f, 0x060), 0);
}

static void test_reset_and_reinit(void **state)
{
	struct fixture *f = *state;

	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(echo_round_trip(f, 0, "first"), 5);
	wr(f, 0x070, 0);
	assert_int_equal(rd(f, 0x070), 0);
	assert_int_equal(rd(f, 0x044), 0); /* queue no longer ready */
	assert_true(f->echo.resets >= 1);
	/* AVP-TRANS-2: a driver that resets and starts again gets a working
	 * device. */
	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(echo_round_trip(f, 0, "second"), 6);
}

static void test_feature_negotiation_refusals(void **state)
{
	struct fixture *f = *state;

	/* Legacy driver (no VERSION_1): FEATURES_OK does not stick. */
	assert_false(driver_init(f, 1ull << 5) & VIRTIO_STATUS_FEATURES_OK);
	/* A bit we never offered. */
	assert_false(driver_init(f, good_features | (1ull << 40)) & VIRTIO_STATUS_FEATURES_OK);
	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_FEATURES_OK);
}

static void test_bad_queue_address_needs_reset(void **state)
{
	struct fixture *f = *state;

	wr(f, 0x070, 0);
	wr(f, 0x070, 3);
	wr(f, 0x024, 1);
	wr(f, 0x020, 1);
	wr(f, 0x070, 3 | VIRTIO_STATUS_FEATURES_OK);
	wr(f, 0x030, 0);
	wr(f, 0x038, QSIZE);
	wr(f, 0x080, 0x1000); /* not guest RAM */
	wr(f, 0x090, (uint32_t)AVAIL_GPA);
	wr(f, 0x0a0, (uint32_t)USED_GPA);
	wr(f, 0x044, 1);
	assert_int_equal(rd(f, 0x044), 0);
	assert_true(rd(f, 0x070) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(rd(f, 0x060) & 2); /* config-change interrupt */
	/* Reset clears it and the device works again. */
	assert_true(driver_init(f, good_features) & VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(f, 0x070) & VIRTIO_STATUS_NEEDS_RESET, 0);
	assert_int_equal(echo_round_trip(f, 0, "ok"), 2);
}

static void test_queue_size_and_selector_bounds(void **state)
{
	struct fixture *f = *state;

	wr(f, 0x030, 5); /* no such queue */
	assert_int_equal(rd(f, 0x034), 0);
	wr(f, 0x038, 16); /* ignored */
	wr(f, 0x044, 1);
	assert_int_equal(rd(f, 0x044), 0);
	wr(f, 0x030, 1);
	wr(f, 0x038, 100000); /* above QueueNumMax: refused */
	assert_int_equal(rd(f, 0x038), 0);
	wr(f, 0x050, 9); /* notify for a queue that does not exist */
}

static void test_config_space_bounds(void **state)
{
	struct fixture *f = *state;
	uint8_t b = 0;
	uint32_t v = 0;
	uint64_t q = 0x1234;

	assert_true(io_bus_dispatch(&f->vm.mmio, f->base + 0x100 + 2, &b, 1, false));
	assert_int_equal(b, 'C');
	assert_true(io_bus_dispatch(&f->vm.mmio, f->base + 0x100 + 8, &v, 4, false));
	assert_memory_equal(&v, "IJKL", 4);
	/* Past the end of config space: zeros, and no out-of-bounds read. */
	assert_true(io_bus_dispatch(&f->vm.mmio, f->base + 0x100 + 10, &v, 4, false));
	assert_int_equal(v, 0);
	assert_true(io_bus_dispatch(&f->vm.mmio, f->base + 0x1f8, &q, 8, false));
	assert_int_equal(q, 0);
	/* Unaligned and odd-sized register accesses are ignored. */
	assert_true(io_bus_dispatch(&f->vm.mmio, f->base + 0x001, &v, 4, false));
	assert_int_equal(v, 0);
	assert_true(io_bus_dispatch(&f->vm.mmio, f->base + 0x070, &b, 1, true));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_init_and_echo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_and_reinit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_feature_negotiation_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_queue_address_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_size_and_selector_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_space_bounds, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtio_mmio", tests, NULL, NULL);
}
