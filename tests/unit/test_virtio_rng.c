/* virtio-rng against the pretend driver: requests are filled, capped, and
 * broken or odd chains are answered without harm. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>

#include "avp/devices/virtio_rng.h"
#include "support/vq_harness.h"

#define QSIZE 128

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	int watched_fd;	     /* last fd the device asked to watch */
};

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fixture *f = (struct fixture *)dev->transport;

	(void)events;
	f->watched_fd = fd;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	(void)dev;
	(void)fd;
	return 0;
}

static int setup_common(void **state, bool indirect)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.watched_fd = -1;
	vqh_init(&f.h, 4 << 20);
	assert_int_equal(virtio_rng_create(&f.dev), 0);
	vqh_attach(&f.h, f.dev, true, indirect);
	vqh_set_watch(&f.h, f.dev, spy_watch, spy_unwatch);
	vqh_setup_queue(&f.h, f.dev, 0, QSIZE);
	assert_int_equal(vqh_activate(&f.h, f.dev), 0);
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_common(state, false);
}

static int setup_indirect(void **state)
{
	return setup_common(state, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->dev->ops->destroy(f->dev);
	vqh_free(&f->h);
	return 0;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void expect_used(struct fixture *f, uint16_t head, uint32_t len)
{
	uint32_t id, got;

	assert_true(vqh_used(&f->h, f->dev, 0, &id, &got));
	assert_int_equal(id, head);
	assert_int_equal(got, len);
}

static void test_identity(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(f->dev->ops->device_id, VIRTIO_ID_RNG);
	assert_int_equal(f->dev->ops->num_queues, 1);
	assert_int_equal(f->dev->config_len, 0);
}

static void test_fills_buffer(void **state)
{
	struct fixture *f = *state;
	uint64_t buf = vqh_alloc(&f->h, 256 + 64); /* 64 guard bytes after */
	struct vqh_buf b = { buf, 256, true };
	uint16_t head = vqh_post(&f->h, f->dev, 0, &b, 1);
	uint32_t id, len;

	vqh_kick(&f->h, f->dev, 0);
	expect_used(f, head, 256);
	/* 256 zero bytes from a working RNG: probability 2^-2048. */
	assert_false(all_zero(vqh_hva(&f->h, buf), 256));
	assert_true(all_zero(vqh_hva(&f->h, buf + 256), 64));
	assert_true(f->h.irqs > 0);
	assert_false(vqh_used(&f->h, f->dev, 0, &id, &len));
}

static void test_readable_part_untouched(void **state)
{
	struct fixture *f = *state;
	uint64_t in = vqh_alloc(&f->h, 32), out = vqh_alloc(&f->h, 32);
	struct vqh_buf b[] = { { in, 32, false }, { out, 32, true } };
	uint16_t head = vqh_post(&f->h, f->dev, 0, b, 2);

	vqh_kick(&f->h, f->dev, 0);
	expect_used(f, head, 32);
	assert_true(all_zero(vqh_hva(&f->h, in), 32));
	assert_false(all_zero(vqh_hva(&f->h, out), 32));
}

static void test_cap_respected(void **state)
{
	struct fixture *f = *state;
	uint32_t a_len = 40 * 1024, b_len = 60 * 1024; /* 100 KiB asked */
	uint64_t a = vqh_alloc(&f->h, a_len), b = vqh_alloc(&f->h, b_len);
	struct vqh_buf bufs[] = { { a, a_len, true }, { b, b_len, true } };
	uint16_t head = vqh_post(&f->h, f->dev, 0, bufs, 2);
	uint32_t in_b = VIRTIO_RNG_MAX_REQUEST - a_len;

	vqh_kick(&f->h, f->dev, 0);
	expect_used(f, head, VIRTIO_RNG_MAX_REQUEST);
	assert_false(all_zero(vqh_hva(&f->h, b + in_b - 64), 64));
	/* Past the cap nothing is written. */
	assert_true(all_zero(vqh_hva(&f->h, b + in_b), b_len - in_b));
}

static void test_no_writable_part(void **state)
{
	struct fixture *f = *state;
	uint64_t in = vqh_alloc(&f->h, 64);
	struct vqh_buf b = { in, 64, false };
	uint16_t head = vqh_post(&f->h, f->dev, 0, &b, 1);
	uint16_t next;
	uint64_t out = vqh_alloc(&f->h, 8);
	struct vqh_buf ok = { out, 8, true };

	next = vqh_post(&f->h, f->dev, 0, &ok, 1);
	vqh_kick(&f->h, f->dev, 0);
	expect_used(f, head, 0);
	assert_true(all_zero(vqh_hva(&f->h, in), 64));
	expect_used(f, next, 8); /* and the queue goes on */
}

static void test_indirect_chain(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 100), b = vqh_alloc(&f->h, 28);
	struct vqh_buf bufs[] = { { a, 100, true }, { b, 28, true } };
	uint16_t head = vqh_post_indirect(&f->h, f->dev, 0, bufs, 2);

	vqh_kick(&f->h, f->dev, 0);
	expect_used(f, head, 128);
	assert_false(all_zero(vqh_hva(&f->h, a), 100));
	assert_false(all_zero(vqh_hva(&f->h, b), 28));
}

static void test_malformed_chain_completed(void **state)
{
	struct fixture *f = *state;
	/* Buffer outside guest RAM: virtq_pop reports -EINVAL. */
	struct vqh_buf bad = { 0x10, 64, true };
	uint64_t out = vqh_alloc(&f->h, 16);
	struct vqh_buf ok = { out, 16, true };
	uint16_t h1 = vqh_post(&f->h, f->dev, 0, &bad, 1);
	uint16_t h2 = vqh_post(&f->h, f->dev, 0, &ok, 1);

	vqh_kick(&f->h, f->dev, 0);
	expect_used(f, h1, 0);
	expect_used(f, h2, 16);
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_broken_ring_needs_reset(void **state)
{
	struct fixture *f = *state;
	uint16_t *avail = vqh_hva(&f->h, f->dev->vqs[0].avail_gpa);
	uint32_t id, len;

	/* avail->idx runs ahead by more than the queue size. */
	avail[1] = QSIZE + 5;
	vqh_kick(&f->h, f->dev, 0);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(vqh_used(&f->h, f->dev, 0, &id, &len));
}

static void test_work_per_wakeup_bounded(void **state)
{
	struct fixture *f = *state;
	unsigned int total = VIRTIO_RNG_BUDGET + 10, n = 0;
	uint32_t id, len;
	struct pollfd pfd;

	for (unsigned int i = 0; i < total; i++) {
		struct vqh_buf b = { vqh_alloc(&f->h, 8), 8, true };

		vqh_post(&f->h, f->dev, 0, &b, 1);
	}
	vqh_kick(&f->h, f->dev, 0);
	while (vqh_used(&f->h, f->dev, 0, &id, &len))
		n++;
	assert_int_equal(n, VIRTIO_RNG_BUDGET);

	/* The device asked to be called back: its eventfd is readable. */
	assert_true(f->watched_fd >= 0);
	pfd = (struct pollfd){ .fd = f->watched_fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 1);
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, f->watched_fd, EPOLLIN);
	pthread_mutex_unlock(&f->dev->lock);
	while (vqh_used(&f->h, f->dev, 0, &id, &len))
		n++;
	assert_int_equal(n, total);
	/* ... and the request was consumed: no spinning on it. */
	assert_int_equal(poll(&pfd, 1, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fills_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_readable_part_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cap_respected, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_writable_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_chain, setup_indirect, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_chain_completed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring_needs_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_work_per_wakeup_bounded, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtio_rng", tests, NULL, NULL);
}
