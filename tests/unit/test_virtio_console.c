/* virtio-console against the pretend driver, with pipes as the host end:
 * guest output comes out, host input goes in without loss or spinning. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "avp/devices/virtio_console.h"
#include "avp/log.h"
#include "support/vq_harness.h"

#define QSIZE 128
#define RXQ VIRTIO_CONSOLE_RXQ
#define TXQ VIRTIO_CONSOLE_TXQ

struct fixture {
	struct vq_harness h; /* first: dev->transport points here */
	struct virtio_dev *dev;
	int out_r;	     /* we read what the guest wrote */
	int in_w;	     /* we type for the guest */
	int in_r;	     /* the device's input fd */
	bool input_watched;
	int resched_fd;
	unsigned int watch_calls;
	int output_fd; /* the chardev's, watched for EPOLLOUT */
	bool output_watched;
};

static int spy_watch(struct virtio_dev *dev, int fd, uint32_t events)
{
	struct fixture *f = (struct fixture *)dev->transport;

	if (events & EPOLLOUT) {
		assert_false(events & EPOLLIN);
		f->output_fd = fd;
		f->output_watched = true;
		return 0;
	}
	assert_true(events & EPOLLIN);
	f->watch_calls++;
	if (fd == f->in_r)
		f->input_watched = true;
	else
		f->resched_fd = fd;
	return 0;
}

static int spy_unwatch(struct virtio_dev *dev, int fd)
{
	struct fixture *f = (struct fixture *)dev->transport;

	if (fd == f->in_r)
		f->input_watched = false;
	if (fd == f->output_fd)
		f->output_watched = false;
	return 0;
}

static void bind_harness(struct fixture *f)
{
	vqh_init(&f->h, 4 << 20);
	vqh_attach(&f->h, f->dev, true, true);
	vqh_set_watch(&f->h, f->dev, spy_watch, spy_unwatch);
	vqh_setup_queue(&f->h, f->dev, RXQ, QSIZE);
	vqh_setup_queue(&f->h, f->dev, TXQ, QSIZE);
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
}

static int setup(void **state)
{
	static struct fixture f;
	int out[2], in[2];

	memset(&f, 0, sizeof(f));
	f.resched_fd = -1;
	f.output_fd = -1;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(in, O_CLOEXEC), 0);
	f.out_r = out[0];
	f.in_w = in[1];
	f.in_r = in[0];
	assert_int_equal(fcntl(f.out_r, F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(virtio_console_create_fds(&f.dev, out[1], in[0]), 0);
	bind_harness(&f);
	assert_true(f.input_watched);
	assert_true(f.resched_fd >= 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	f->dev->ops->destroy(f->dev);
	close(f->out_r);
	if (f->in_w >= 0)
		close(f->in_w);
	vqh_free(&f->h);
	return 0;
}

static void fd_ready(struct fixture *f, int fd, uint32_t events)
{
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->fd_ready(f->dev, fd, events);
	pthread_mutex_unlock(&f->dev->lock);
}

static uint16_t post_tx(struct fixture *f, const char *text)
{
	size_t len = strlen(text);
	struct vqh_buf b = { vqh_alloc(&f->h, len), (uint32_t)len, false };

	memcpy(vqh_hva(&f->h, b.gpa), text, len);
	return vqh_post(&f->h, f->dev, TXQ, &b, 1);
}

static uint16_t post_rx(struct fixture *f, uint32_t len, uint64_t *gpa)
{
	struct vqh_buf b = { vqh_alloc(&f->h, len + 16), len, true };

	*gpa = b.gpa;
	return vqh_post(&f->h, f->dev, RXQ, &b, 1);
}

static void type(struct fixture *f, const char *text)
{
	assert_int_equal(write(f->in_w, text, strlen(text)), (ssize_t)strlen(text));
}

static void expect_used(struct fixture *f, uint16_t q, uint16_t head, uint32_t len)
{
	uint32_t id, got;

	assert_true(vqh_used(&f->h, f->dev, q, &id, &got));
	assert_int_equal(id, head);
	assert_int_equal(got, len);
}

static void expect_no_used(struct fixture *f, uint16_t q)
{
	uint32_t id, len;

	assert_false(vqh_used(&f->h, f->dev, q, &id, &len));
}

static void expect_output(struct fixture *f, const char *want)
{
	char buf[4096];
	ssize_t n = read(f->out_r, buf, sizeof(buf));

	if (!*want) {
		assert_int_equal(n, -1);
		return;
	}
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_memory_equal(buf, want, (size_t)n);
}

static bool input_pending(struct fixture *f)
{
	struct pollfd p = { .fd = f->in_r, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* ---- identity ---- */

static void test_identity(void **state)
{
	struct fixture *f = *state;
	struct virtio_console_config cfg;

	assert_int_equal(f->dev->ops->device_id, VIRTIO_ID_CONSOLE);
	assert_int_equal(f->dev->ops->num_queues, 2);
	/* Single port: no MULTIPORT, hence no control queues (5.3.2). */
	assert_int_equal(f->dev->ops->features(f->dev), 0);
	assert_int_equal(f->dev->config_len, sizeof(cfg));
	memcpy(&cfg, f->dev->config, sizeof(cfg));
	assert_int_equal(cfg.cols, 0);
	assert_int_equal(cfg.rows, 0);
	assert_int_equal(le32toh(cfg.max_nr_ports), 1);
}

/* ---- guest to host ---- */

static void test_tx_reaches_host(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 6), b = vqh_alloc(&f->h, 6);
	struct vqh_buf bufs[] = { { a, 6, false }, { b, 6, false } };
	uint16_t h1, h2;

	memcpy(vqh_hva(&f->h, a), "hello ", 6);
	memcpy(vqh_hva(&f->h, b), "world\n", 6);
	h1 = vqh_post(&f->h, f->dev, TXQ, bufs, 2);
	h2 = post_tx(f, "second");
	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, h1, 0);
	expect_used(f, TXQ, h2, 0);
	expect_output(f, "hello world\nsecond");
	assert_true(f->h.irqs > 0);
}

static void test_tx_ignores_writable_part(void **state)
{
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, 3), w = vqh_alloc(&f->h, 8);
	struct vqh_buf bufs[] = { { a, 3, false }, { w, 8, true } };
	uint16_t head;

	memcpy(vqh_hva(&f->h, a), "abc", 3);
	memcpy(vqh_hva(&f->h, w), "zzzzzzzz", 8);
	head = vqh_post(&f->h, f->dev, TXQ, bufs, 2);
	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, head, 0);
	expect_output(f, "abc");
	assert_memory_equal(vqh_hva(&f->h, w), "zzzzzzzz", 8);
}

static void test_tx_malformed_chain(void **state)
{
	struct fixture *f = *state;
	uint64_t w = vqh_alloc(&f->h, 8), r = vqh_alloc(&f->h, 8);
	struct vqh_buf bad[] = { { w, 8, true }, { r, 8, false } };
	uint16_t h1, h2;

	memcpy(vqh_hva(&f->h, r), "secret!!", 8);
	h1 = vqh_post(&f->h, f->dev, TXQ, bad, 2);
	h2 = post_tx(f, "ok");
	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, h1, 0);
	expect_used(f, TXQ, h2, 0);
	expect_output(f, "ok"); /* nothing of the malformed chain */
	assert_false(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_tx_work_per_wakeup_bounded(void **state)
{
	struct fixture *f = *state;
	unsigned int total = VIRTIO_CONSOLE_BUDGET + 6, n = 0;
	uint32_t id, len;
	struct pollfd p;

	for (unsigned int i = 0; i < total; i++)
		post_tx(f, "x");
	vqh_kick(&f->h, f->dev, TXQ);
	while (vqh_used(&f->h, f->dev, TXQ, &id, &len))
		n++;
	assert_int_equal(n, VIRTIO_CONSOLE_BUDGET);
	p = (struct pollfd){ .fd = f->resched_fd, .events = POLLIN };
	assert_int_equal(poll(&p, 1, 0), 1);
	fd_ready(f, f->resched_fd, EPOLLIN);
	while (vqh_used(&f->h, f->dev, TXQ, &id, &len))
		n++;
	assert_int_equal(n, total);
	assert_int_equal(poll(&p, 1, 0), 0);
}

/* The host reader stops reading: the chains that do not fit in the pipe
 * and the chardev's bounded buffer stay in the queue, unused, and the
 * device thread does not block; once the reader reads, the device goes
 * on from the output fd, and every byte arrives once, in order. */
static void test_tx_stalled_reader_chains_wait(void **state)
{
	enum { BIG = 200 * 1024 };
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, BIG);
	struct vqh_buf big = { a, BIG, false };
	static uint8_t got[BIG + 16];
	uint8_t *src = vqh_hva(&f->h, a);
	uint16_t h1, h2;
	size_t n = 0;
	uint32_t id, len;
	unsigned int used = 0;

	for (size_t i = 0; i < BIG; i++)
		src[i] = (uint8_t)(i % 253);
	alarm(30); /* a device thread that blocks ends the test */
	h1 = vqh_post(&f->h, f->dev, TXQ, &big, 1);
	h2 = post_tx(f, "tail");
	vqh_kick(&f->h, f->dev, TXQ);
	/* 200 KiB do not fit: the first chain waits, the second behind it. */
	expect_no_used(f, TXQ);
	assert_true(f->output_watched);
	fd_ready(f, f->output_fd, EPOLLOUT); /* spurious: still full */
	expect_no_used(f, TXQ);

	while (n < BIG + 4) {
		ssize_t r = read(f->out_r, got + n, sizeof(got) - n);

		if (r > 0) {
			n += (size_t)r;
			continue;
		}
		assert_true(f->output_watched); /* still bytes to come */
		fd_ready(f, f->output_fd, EPOLLOUT);
		while (vqh_used(&f->h, f->dev, TXQ, &id, &len)) {
			assert_int_equal(id, used ? h2 : h1);
			used++;
		}
	}
	assert_int_equal(used, 2);
	assert_memory_equal(got, src, BIG);
	assert_memory_equal(got + BIG, "tail", 4);
	assert_false(f->output_watched); /* nothing waits any more */
	alarm(0);
}

/* A reset drops the chain that waited; the output it already took still
 * goes out, and the next transmit works. */
static void test_tx_reset_while_waiting(void **state)
{
	enum { BIG = 200 * 1024 };
	struct fixture *f = *state;
	uint64_t a = vqh_alloc(&f->h, BIG);
	struct vqh_buf big = { a, BIG, false };
	static uint8_t sink[BIG];
	uint16_t head;

	memset(vqh_hva(&f->h, a), 'z', BIG);
	vqh_post(&f->h, f->dev, TXQ, &big, 1);
	vqh_kick(&f->h, f->dev, TXQ);
	expect_no_used(f, TXQ);
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_false(f->output_watched);

	vqh_setup_queue(&f->h, f->dev, RXQ, QSIZE);
	vqh_setup_queue(&f->h, f->dev, TXQ, QSIZE);
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
	assert_true(f->output_watched); /* what it took still goes out */
	while (read(f->out_r, sink, sizeof(sink)) > 0)
		fd_ready(f, f->output_fd, EPOLLOUT);
	fd_ready(f, f->output_fd, EPOLLOUT);
	assert_false(f->output_watched);
	head = post_tx(f, "again");
	vqh_kick(&f->h, f->dev, TXQ);
	expect_used(f, TXQ, head, 0);
	expect_output(f, "again");
}

/* ---- host to guest ---- */

static void test_rx_input_reaches_guest(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa;
	uint16_t head = post_rx(f, 64, &gpa);

	vqh_kick(&f->h, f->dev, RXQ);
	type(f, "ls -l\r");
	fd_ready(f, f->in_r, EPOLLIN);
	expect_used(f, RXQ, head, 6);
	assert_memory_equal(vqh_hva(&f->h, gpa), "ls -l\r", 6);
	assert_int_equal(((uint8_t *)vqh_hva(&f->h, gpa))[6], 0);
}

static void test_rx_no_buffers_unwatches_then_delivers(void **state)
{
	struct fixture *f = *state;
	unsigned int calls;
	uint64_t gpa;
	uint16_t head;

	type(f, "xyz");
	fd_ready(f, f->in_r, EPOLLIN);
	/* Nowhere to put it: stop watching, leave the input in the pipe. */
	assert_false(f->input_watched);
	assert_true(input_pending(f));
	expect_no_used(f, RXQ);
	calls = f->watch_calls;
	fd_ready(f, f->in_r, EPOLLIN); /* spurious: no change, no re-arm */
	assert_false(f->input_watched);
	assert_int_equal(f->watch_calls, calls);

	head = post_rx(f, 64, &gpa);
	post_rx(f, 64, &(uint64_t){ 0 });
	vqh_kick(&f->h, f->dev, RXQ);
	expect_used(f, RXQ, head, 3);
	assert_memory_equal(vqh_hva(&f->h, gpa), "xyz", 3);
	assert_true(f->input_watched); /* it holds the second buffer */
	assert_false(input_pending(f));
}

static void test_rx_input_larger_than_buffers(void **state)
{
	struct fixture *f = *state;
	uint64_t g[3];
	uint16_t h[3];
	char text[101];

	for (unsigned int i = 0; i < 100; i++)
		text[i] = (char)('a' + i % 26);
	text[100] = '\0';
	for (unsigned int i = 0; i < 3; i++)
		h[i] = post_rx(f, 40, &g[i]);
	type(f, text);
	fd_ready(f, f->in_r, EPOLLIN);
	expect_used(f, RXQ, h[0], 40);
	expect_used(f, RXQ, h[1], 40);
	expect_used(f, RXQ, h[2], 20);
	assert_memory_equal(vqh_hva(&f->h, g[0]), text, 40);
	assert_memory_equal(vqh_hva(&f->h, g[1]), text + 40, 40);
	assert_memory_equal(vqh_hva(&f->h, g[2]), text + 80, 20);
}

static void test_rx_readable_only_chain(void **state)
{
	struct fixture *f = *state;
	uint64_t ro = vqh_alloc(&f->h, 16);
	struct vqh_buf bad = { ro, 16, false };
	uint16_t h1 = vqh_post(&f->h, f->dev, RXQ, &bad, 1);
	uint64_t gpa;
	uint16_t h2 = post_rx(f, 16, &gpa);

	type(f, "q");
	fd_ready(f, f->in_r, EPOLLIN);
	expect_used(f, RXQ, h1, 0);
	expect_used(f, RXQ, h2, 1);
	assert_memory_equal(vqh_hva(&f->h, ro), (uint8_t[16]){ 0 }, 16);
}

static void test_rx_end_of_input(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa;

	post_rx(f, 16, &gpa);
	close(f->in_w);
	f->in_w = -1;
	fd_ready(f, f->in_r, EPOLLIN | EPOLLHUP);
	/* A closed input would be readable forever: stop for good. */
	assert_false(f->input_watched);
	expect_no_used(f, RXQ);
	vqh_kick(&f->h, f->dev, RXQ);
	assert_false(f->input_watched);
}

static void test_rx_hangup_with_nothing_to_read(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa;

	post_rx(f, 16, &gpa);
	/* epoll keeps reporting a hangup: waiting on it again would spin. */
	fd_ready(f, f->in_r, EPOLLHUP);
	assert_false(f->input_watched);
	expect_no_used(f, RXQ);
}

static void test_reset_and_reactivate(void **state)
{
	struct fixture *f = *state;
	uint64_t gpa;
	uint16_t head;

	post_rx(f, 16, &gpa);
	pthread_mutex_lock(&f->dev->lock);
	f->dev->ops->reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_false(f->input_watched);

	vqh_setup_queue(&f->h, f->dev, RXQ, QSIZE);
	assert_int_equal(vqh_activate(&f->h, f->dev), 0);
	assert_true(f->input_watched);
	head = post_rx(f, 16, &gpa);
	type(f, "hi");
	fd_ready(f, f->in_r, EPOLLIN);
	expect_used(f, RXQ, head, 2);
}

static void test_broken_ring_quiesces(void **state)
{
	struct fixture *f = *state;
	uint16_t *avail = vqh_hva(&f->h, f->dev->vqs[RXQ].avail_gpa);

	avail[1] = QSIZE + 1;
	type(f, "a");
	fd_ready(f, f->in_r, EPOLLIN);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(f->input_watched);
}

/* A driver that breaks its ring, resets the device and breaks it again, in
 * a loop: every time is counted, but only a burst reaches the log (issue
 * 13 item 19: 5,857 lines in 90 s before). */
static void test_broken_ring_loop_rate_limited(void **state)
{
	struct fixture *f = *state;
	struct avp_guest_warn_counts n;
	int level = avp_log_get_level();

	avp_guest_warn_reset();
	avp_log_set_level(AVP_LOG_ERROR);
	for (int i = 0; i < 200; i++) {
		uint16_t *avail = vqh_hva(&f->h, f->dev->vqs[RXQ].avail_gpa);

		avail[1] = QSIZE + 1;
		type(f, "a");
		fd_ready(f, f->in_r, EPOLLIN);
		assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
		pthread_mutex_lock(&f->dev->lock);
		f->dev->ops->reset(f->dev);
		pthread_mutex_unlock(&f->dev->lock);
		f->dev->status = 0;
		vqh_setup_queue(&f->h, f->dev, RXQ, QSIZE);
		vqh_setup_queue(&f->h, f->dev, TXQ, QSIZE);
		assert_int_equal(vqh_activate(&f->h, f->dev), 0);
		post_rx(f, 16, &(uint64_t){ 0 });
	}
	avp_log_set_level((enum avp_log_level)level);
	avp_guest_warn_counts(&n);
	assert_int_equal(n.total, 200);
	assert_int_equal(n.not_shown, 200 - AVP_GUEST_WARN_BURST);
	avp_guest_warn_reset();
}

/* ---- the public constructor, on a file chardev ---- */

static void test_create_on_file(void **state)
{
	struct fixture f = { 0 };
	char path[] = "/tmp/avp-console-XXXXXX";
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_FILE, .path = path };
	char buf[32] = { 0 };
	int fd = mkstemp(path);
	uint16_t head;

	(void)state;
	assert_true(fd >= 0);
	f.in_r = -1;
	f.resched_fd = -1;
	assert_int_equal(virtio_console_create(&f.dev, &cfg), 0);
	bind_harness(&f);
	assert_false(f.input_watched); /* a file end has no input */
	head = post_tx(&f, "to the file\n");
	vqh_kick(&f.h, f.dev, TXQ);
	expect_used(&f, TXQ, head, 0);
	f.dev->ops->destroy(f.dev);
	vqh_free(&f.h);
	assert_int_equal(read(fd, buf, sizeof(buf)), 12);
	assert_string_equal(buf, "to the file\n");
	close(fd);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_reaches_host, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_ignores_writable_part, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_malformed_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_work_per_wakeup_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_stalled_reader_chains_wait, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_reset_while_waiting, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_input_reaches_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_no_buffers_unwatches_then_delivers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rx_input_larger_than_buffers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_readable_only_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_end_of_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_hangup_with_nothing_to_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset_and_reactivate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring_quiesces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_broken_ring_loop_rate_limited, setup,
						teardown),
		cmocka_unit_test(test_create_on_file),
	};

	return cmocka_run_group_tests_name("virtio_console", tests, NULL, NULL);
}
