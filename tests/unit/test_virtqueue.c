/* The split-virtqueue walker against well-formed and hostile drivers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>

#include "avp/virtio/virtqueue.h"
#include "support/vq_harness.h"

static const struct virtio_dev_ops dummy_ops = { .type = "dummy", .num_queues = 1 };

struct fixture {
	struct vq_harness h;
	struct virtio_dev dev;
	struct virtq_chain chain;
};

static int setup_common(void **state, bool event_idx, bool indirect)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	vqh_init(&f.h, 1 << 20);
	virtio_dev_init(&f.dev, &dummy_ops, NULL, NULL, 0);
	vqh_attach(&f.h, &f.dev, event_idx, indirect);
	vqh_setup_queue(&f.h, &f.dev, 0, 8);
	*state = &f;
	return 0;
}

static int setup_plain(void **state)
{
	return setup_common(state, false, false);
}

static int setup_features(void **state)
{
	return setup_common(state, true, true);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vqh_free(&f->h);
	return 0;
}

static struct virtq *vq(struct fixture *f)
{
	return &f->dev.vqs[0];
}

static void test_empty_queue(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(virtq_pop(vq(f), &f->chain), 0);
}

static void test_pop_readable_then_writable(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 16), b = vqh_alloc(&f->h, 100), c = vqh_alloc(&f->h, 1);
	struct vqh_buf bufs[] = { { a, 16, false }, { b, 100, true }, { c, 1, true } };
	uint16_t head = vqh_post(&f->h, &f->dev, 0, bufs, 3);

	assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
	assert_int_equal(f->chain.head, head);
	assert_int_equal(f->chain.n_out, 1);
	assert_int_equal(f->chain.n_in, 2);
	assert_int_equal(f->chain.out_bytes, 16);
	assert_int_equal(f->chain.in_bytes, 101);
	assert_ptr_equal(f->chain.iov[0].iov_base, vqh_hva(&f->h, a));
	assert_ptr_equal(f->chain.iov[1].iov_base, vqh_hva(&f->h, b));
	assert_int_equal(f->chain.iov[2].iov_len, 1);
	assert_int_equal(virtq_pop(vq(f), &f->chain), 0);
}

static void test_push_and_used(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 8);
	struct vqh_buf buf = { a, 8, true };
	uint16_t head = vqh_post(&f->h, &f->dev, 0, &buf, 1);
	uint32_t id, len;

	assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
	assert_int_equal(virtq_push(vq(f), f->chain.head, 5), 0);
	assert_true(vqh_used(&f->h, &f->dev, 0, &id, &len));
	assert_int_equal(id, head);
	assert_int_equal(len, 5);
}

static void test_loop_is_rejected_and_queue_survives(void **state)
{
	struct fixture *f = *state;
	struct virtq_desc *d = vqh_desc(&f->h, &f->dev, 0);
	uint64_t a = vqh_alloc(&f->h, 8);
	struct vqh_buf buf = { a, 8, true };

	d[0] = (struct virtq_desc){ .addr = a, .len = 8, .flags = VIRTQ_DESC_F_NEXT, .next = 1 };
	d[1] = (struct virtq_desc){ .addr = a, .len = 8, .flags = VIRTQ_DESC_F_NEXT, .next = 0 };
	f->h.next_desc[0] = 2;
	vqh_publish_head(&f->h, &f->dev, 0, 0);
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);
	assert_int_equal(f->chain.head, 0);
	/* A good request after the bad one still works. */
	vqh_post(&f->h, &f->dev, 0, &buf, 1);
	assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
	assert_int_equal(f->chain.n_in, 1);
}

static void test_buffer_outside_ram(void **state)
{
	struct fixture *f = *state;
	struct vqh_buf bufs[][1] = {
		{ { 0x1000, 16, false } },			  /* below RAM */
		{ { VQH_RAM_GPA + (1 << 20) - 8, 16, true } },	  /* straddles the end */
		{ { UINT64_MAX - 4, 16, false } },		  /* wraps */
	};

	for (unsigned int i = 0; i < 3; i++) {
		vqh_post(&f->h, &f->dev, 0, bufs[i], 1);
		assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);
	}
}

static void test_readable_after_writable(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 8);
	struct vqh_buf bufs[] = { { a, 8, true }, { a, 8, false } };

	vqh_post(&f->h, &f->dev, 0, bufs, 2);
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);
}

static void test_bad_head_and_index_jump(void **state)
{
	struct fixture *f = *state;
	uint16_t *avail = vqh_hva(&f->h, vq(f)->avail_gpa);

	vqh_publish_head(&f->h, &f->dev, 0, 200); /* head beyond queue size */
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EIO);
	/* The driver claims 100 new entries in an 8-entry queue. */
	avail[1] = (uint16_t)(vq(f)->last_avail_idx + 100);
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EIO);
}

static void test_chain_longer_than_queue(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 8);
	struct virtq_desc *d = vqh_desc(&f->h, &f->dev, 0);

	/* Every descriptor of the table chained into one ring: without a
	 * bound the walk would never end. */
	for (uint16_t i = 0; i < 8; i++)
		d[i] = (struct virtq_desc){ .addr = a, .len = 8, .flags = VIRTQ_DESC_F_NEXT,
					    .next = (uint16_t)((i + 1) % 8) };
	vqh_publish_head(&f->h, &f->dev, 0, 3);
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);
}

static void test_indirect_not_negotiated(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 8);
	struct vqh_buf buf = { a, 8, true };

	vqh_post_indirect(&f->h, &f->dev, 0, &buf, 1);
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);
}

static void test_indirect(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 8), b = vqh_alloc(&f->h, 64);
	struct vqh_buf bufs[] = { { a, 8, false }, { b, 64, true }, { b, 1, true } };
	uint16_t head = vqh_post_indirect(&f->h, &f->dev, 0, bufs, 3);

	assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
	assert_int_equal(f->chain.head, head);
	assert_int_equal(f->chain.n_out, 1);
	assert_int_equal(f->chain.n_in, 2);
	assert_int_equal(f->chain.in_bytes, 65);
}

static void test_indirect_hostile(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 8);
	struct vqh_buf buf = { a, 8, true };
	struct virtq_desc *d = vqh_desc(&f->h, &f->dev, 0);
	uint16_t head;
	struct virtq_desc *table;

	/* Nested indirect table. */
	head = vqh_post_indirect(&f->h, &f->dev, 0, &buf, 1);
	table = vqh_hva(&f->h, d[head].addr);
	table[0].flags = VIRTQ_DESC_F_INDIRECT;
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);

	/* INDIRECT together with NEXT. */
	head = vqh_post_indirect(&f->h, &f->dev, 0, &buf, 1);
	d[head].flags |= VIRTQ_DESC_F_NEXT;
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);

	/* Table length not a whole number of entries. */
	head = vqh_post_indirect(&f->h, &f->dev, 0, &buf, 1);
	d[head].len = 15;
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);

	/* A loop inside the table. */
	head = vqh_post_indirect(&f->h, &f->dev, 0, &buf, 1);
	table = vqh_hva(&f->h, d[head].addr);
	table[0].flags = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE;
	table[0].next = 0;
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);

	/* next pointing outside the table. */
	head = vqh_post_indirect(&f->h, &f->dev, 0, &buf, 1);
	table = vqh_hva(&f->h, d[head].addr);
	table[0].flags = VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE;
	table[0].next = 7;
	assert_int_equal(virtq_pop(vq(f), &f->chain), -EINVAL);
}

static void test_event_idx_notify(void **state)
{
	struct fixture *f = *state;
	uint16_t *avail = vqh_hva(&f->h, vq(f)->avail_gpa);
	uint16_t *used_event = &avail[2 + vq(f)->size];
	uint64_t a = vqh_alloc(&f->h, 8);
	struct vqh_buf buf = { a, 8, true };

	/* First completion always notifies; then only when used_event is
	 * crossed (2.7.10). */
	*used_event = 0;
	vqh_post(&f->h, &f->dev, 0, &buf, 1);
	assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
	virtq_push(vq(f), f->chain.head, 0);
	assert_true(virtq_should_notify(vq(f)));

	*used_event = 5; /* interrupt once the entry at index 5 is used */
	for (int i = 1; i < 5; i++) {
		vqh_post(&f->h, &f->dev, 0, &buf, 1);
		assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
		virtq_push(vq(f), f->chain.head, 0);
		assert_false(virtq_should_notify(vq(f)));
	}
	vqh_post(&f->h, &f->dev, 0, &buf, 1);
	assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
	virtq_push(vq(f), f->chain.head, 0);
	assert_true(virtq_should_notify(vq(f))); /* used idx 6 crosses 5 */
}

static void test_event_idx_publishes_avail_event(void **state)
{
	struct fixture *f = *state;
	uint16_t *used = vqh_hva(&f->h, vq(f)->used_gpa);
	uint64_t a = vqh_alloc(&f->h, 8);
	struct vqh_buf buf = { a, 8, true };

	vqh_post(&f->h, &f->dev, 0, &buf, 1);
	vqh_post(&f->h, &f->dev, 0, &buf, 1);
	assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
	assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
	assert_int_equal(virtq_pop(vq(f), &f->chain), 0);
	/* After draining, the driver is asked to kick at the next entry. */
	assert_int_equal(used[2 + 4 * vq(f)->size], 2);
	assert_false(virtq_enable_notify(vq(f)));
	vqh_post(&f->h, &f->dev, 0, &buf, 1);
	assert_true(virtq_enable_notify(vq(f)));
}

static void test_no_interrupt_flag(void **state)
{
	struct fixture *f = *state;
	uint16_t *avail = vqh_hva(&f->h, vq(f)->avail_gpa);

	avail[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	assert_false(virtq_should_notify(vq(f)));
	avail[0] = 0;
	assert_true(virtq_should_notify(vq(f)));
}

static void test_chain_copy_helpers(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 3), b = vqh_alloc(&f->h, 5);
	uint64_t c = vqh_alloc(&f->h, 2), d = vqh_alloc(&f->h, 4);
	struct vqh_buf bufs[] = { { a, 3, false }, { b, 5, false }, { c, 2, true }, { d, 4, true } };
	char out[8];

	memcpy(vqh_hva(&f->h, a), "abc", 3);
	memcpy(vqh_hva(&f->h, b), "defgh", 5);
	vqh_post(&f->h, &f->dev, 0, bufs, 4);
	assert_int_equal(virtq_pop(vq(f), &f->chain), 1);
	assert_int_equal(virtq_chain_read(&f->chain, 2, out, 4), 4);
	assert_memory_equal(out, "cdef", 4);
	assert_int_equal(virtq_chain_read(&f->chain, 6, out, 8), 2); /* short */
	assert_int_equal(virtq_chain_write(&f->chain, 1, "XYZW", 4), 4);
	assert_memory_equal(vqh_hva(&f->h, c), "\0X", 2);
	assert_memory_equal(vqh_hva(&f->h, d), "YZW", 3);
	assert_int_equal(virtq_chain_write(&f->chain, 0, "123456789", 9), 6);
}

static void test_validate(void **state)
{
	struct fixture *f = *state;
	struct virtq saved = *vq(f);

	assert_int_equal(virtq_validate(vq(f)), 0);
	vq(f)->size = 6; /* not a power of two */
	assert_int_equal(virtq_validate(vq(f)), -EINVAL);
	*vq(f) = saved;
	vq(f)->desc_gpa += 8; /* misaligned */
	assert_int_equal(virtq_validate(vq(f)), -EINVAL);
	*vq(f) = saved;
	vq(f)->used_gpa = VQH_RAM_GPA + (1 << 20) - 4; /* runs off the end */
	assert_int_equal(virtq_validate(vq(f)), -EINVAL);
	*vq(f) = saved;
	vq(f)->size = 512; /* above VIRTQ_MAX_SIZE */
	assert_int_equal(virtq_validate(vq(f)), -EINVAL);
	*vq(f) = saved;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty_queue, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_pop_readable_then_writable, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_push_and_used, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_loop_is_rejected_and_queue_survives, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_buffer_outside_ram, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_readable_after_writable, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_bad_head_and_index_jump, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_chain_longer_than_queue, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_not_negotiated, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup_features, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_hostile, setup_features, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_notify, setup_features, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx_publishes_avail_event, setup_features, teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_chain_copy_helpers, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_validate, setup_plain, teardown),
	};

	return cmocka_run_group_tests_name("virtqueue", tests, NULL, NULL);
}
