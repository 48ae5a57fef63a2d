/* The io_uring disk backend (src/disk/uring.c) on temporary images: data
 * round trips, FLUSH ordering against writes that need several trips,
 * short transfers, errors, the ring's restrictions, the fallback where
 * io_uring is blocked, cache=none's bounce paths, and that every call of
 * each thread role is in that role's seccomp filter. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/config.h"
#include "avp/devices/virtio_blk.h"
#include "avp/disk.h"
#include "avp/log.h"
#include "avp/seccomp.h"
#include "disk/raw_testing.h"

#define IMAGE_SIZE (1024u * 1024)
#define SEGS 16

struct fixture {
	char path[64];
	struct disk *d;
};

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)((off * 13 + (off >> 9)) % 251 + 1);
}

static int setup(void **state)
{
	static struct fixture f;
	static uint8_t buf[IMAGE_SIZE];
	int fd;

	memset(&f, 0, sizeof(f));
	avp_log_set_level(AVP_LOG_ERROR);
	snprintf(f.path, sizeof(f.path), "/tmp/avp-uring-XXXXXX");
	fd = mkstemp(f.path);
	assert_true(fd >= 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = pattern(i);
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	disk_close(f->d);
	f->d = NULL;
	unlink(f->path);
	return 0;
}

static void open_uring(struct fixture *f, bool read_only)
{
	const struct disk_open_opts o = { .read_only = read_only, .aio = DISK_AIO_IO_URING };

	disk_close(f->d);
	assert_int_equal(disk_open_opts(&f->d, f->path, &o), 0);
	assert_string_equal(disk_aio_name(f->d), "io_uring");
	assert_true(disk_completion_fd(f->d) >= 0);
}

/* Everything back, in completion order. */
static unsigned int drain_all(struct fixture *f, struct disk_req **done, unsigned int max)
{
	unsigned int n = 0;

	assert_int_equal(disk_commit(f->d), 0);
	assert_int_equal(disk_drain(f->d), 0);
	n = disk_reap(f->d, done, max);
	return n;
}

static void file_read(struct fixture *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	static uint8_t w[4][8192], r[4][8192];
	struct iovec wi[4], ri[4];
	struct disk_req wr[4], rd[4], *done[16];

	open_uring(f, false);
	for (unsigned int i = 0; i < 4; i++) {
		memset(w[i], 0x40 + i, sizeof(w[i]));
		wi[i] = (struct iovec){ w[i], sizeof(w[i]) };
		wr[i] = (struct disk_req){ .op = DISK_OP_WRITE, .iov = &wi[i], .iovcnt = 1,
					   .offset = 65536u * i };
		assert_int_equal(disk_submit(f->d, &wr[i]), 0);
	}
	/* One commit for the batch; the four complete in any order. */
	assert_int_equal(drain_all(f, done, 16), 4);
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(done[i]->result, 0);
	for (unsigned int i = 0; i < 4; i++) {
		ri[i] = (struct iovec){ r[i], sizeof(r[i]) };
		rd[i] = (struct disk_req){ .op = DISK_OP_READ, .iov = &ri[i], .iovcnt = 1,
					   .offset = 65536u * i };
		assert_int_equal(disk_submit(f->d, &rd[i]), 0);
	}
	assert_int_equal(drain_all(f, done, 16), 4);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(rd[i].result, 0);
		assert_memory_equal(r[i], w[i], sizeof(w[i]));
	}
	assert_int_equal(disk_reap(f->d, done, 16), 0);
}

/* A write that takes SEGS trips (one segment a submission), then a FLUSH:
 * the FLUSH may complete only after the write's last trip. With only
 * IOSQE_IO_DRAIN, the fsync would follow the first trip's completion. */
static void test_flush_after_all_earlier_writes(void **state)
{
	struct fixture *f = *state;
	static uint8_t data[SEGS][4096];
	struct iovec iov[SEGS];
	struct disk_req w = { .op = DISK_OP_WRITE, .iov = iov, .iovcnt = SEGS, .offset = 0 };
	struct disk_req fl = { .op = DISK_OP_FLUSH };
	struct disk_req later_buf;
	struct iovec later_iov = { data[0], 4096 };
	struct disk_req *done[8];
	unsigned int n, wpos = 99, fpos = 99;
	uint8_t back[4096];

	open_uring(f, false);
	disk_testing_max_segs(f->d, 1);
	for (unsigned int i = 0; i < SEGS; i++) {
		memset(data[i], 0x10 + i, sizeof(data[i]));
		iov[i] = (struct iovec){ data[i], sizeof(data[i]) };
	}
	assert_int_equal(disk_submit(f->d, &w), 0);
	assert_int_equal(disk_submit(f->d, &fl), 0);
	/* A write after the FLUSH is not held back by it. */
	later_buf = (struct disk_req){ .op = DISK_OP_WRITE, .iov = &later_iov, .iovcnt = 1,
				       .offset = 512 * 1024 };
	assert_int_equal(disk_submit(f->d, &later_buf), 0);
	n = drain_all(f, done, 8);
	assert_int_equal(n, 3);
	for (unsigned int i = 0; i < n; i++) {
		assert_int_equal(done[i]->result, 0);
		if (done[i] == &w)
			wpos = i;
		if (done[i] == &fl)
			fpos = i;
	}
	assert_true(wpos < fpos);
	for (unsigned int i = 0; i < SEGS; i++) {
		file_read(f, 4096u * i, back, sizeof(back));
		assert_memory_equal(back, data[i], sizeof(back));
	}
}

/* Many segments a request, at most 3 a submission: every short
 * completion is resumed where it stopped. */
static void test_short_transfers_resumed(void **state)
{
	struct fixture *f = *state;
	static uint8_t seg[SEGS][1024];
	struct iovec iov[SEGS];
	struct disk_req r = { .op = DISK_OP_READ, .iov = iov, .iovcnt = SEGS, .offset = 3 * 512 };
	struct disk_req *done[2];

	open_uring(f, true);
	disk_testing_max_segs(f->d, 3);
	for (unsigned int i = 0; i < SEGS; i++)
		iov[i] = (struct iovec){ seg[i], sizeof(seg[i]) };
	assert_int_equal(disk_submit(f->d, &r), 0);
	assert_int_equal(drain_all(f, done, 2), 1);
	assert_int_equal(r.result, 0);
	assert_int_equal(r.remaining, 0);
	for (unsigned int i = 0; i < SEGS; i++)
		for (unsigned int j = 0; j < sizeof(seg[i]); j++)
			assert_int_equal(seg[i][j], pattern(3 * 512 + 1024u * i + j));
}

static void test_errors(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[8192];
	struct iovec iov = { buf, sizeof(buf) };
	struct disk_req r = { .op = DISK_OP_READ, .iov = &iov, .iovcnt = 1 };
	struct disk_req *done[2];

	open_uring(f, true);
	/* Outside the image: refused before anything reaches the ring. */
	r.offset = IMAGE_SIZE - 4096;
	assert_int_equal(disk_submit(f->d, &r), -EINVAL);
	r.op = DISK_OP_WRITE;
	r.offset = 0;
	assert_int_equal(disk_submit(f->d, &r), -EROFS);
	assert_int_equal(disk_reap(f->d, done, 2), 0);

	/* The image shrank under us: the read ends early, -EIO. */
	assert_int_equal(truncate(f->path, IMAGE_SIZE / 2), 0);
	r = (struct disk_req){ .op = DISK_OP_READ, .iov = &iov, .iovcnt = 1,
			       .offset = IMAGE_SIZE / 2 - 4096 };
	assert_int_equal(disk_submit(f->d, &r), 0);
	assert_int_equal(drain_all(f, done, 2), 1);
	assert_int_equal(r.result, -EIO);
	/* Wholly past the new end: nothing at all comes back. */
	r = (struct disk_req){ .op = DISK_OP_READ, .iov = &iov, .iovcnt = 1,
			       .offset = IMAGE_SIZE / 2 + 8192 };
	assert_int_equal(disk_submit(f->d, &r), 0);
	assert_int_equal(drain_all(f, done, 2), 1);
	assert_int_equal(r.result, -EIO);
}

/* The ring does what the backend uses and nothing else. */
static void test_restrictions_refuse(void **state)
{
	struct fixture *f = *state;

	open_uring(f, false);
	/* What the backend uses still works: a read of registered file 0. */
	assert_int_equal(disk_uring_testing_raw_op(f->d, IORING_OP_READV, true), 512);
	/* Other operations, even on the registered file (FLUSH is an
	 * fdatasync the host can see, not the ring's). */
	assert_int_equal(disk_uring_testing_raw_op(f->d, IORING_OP_FSYNC, true), -EACCES);
	assert_int_equal(disk_uring_testing_raw_op(f->d, IORING_OP_READ, true), -EACCES);
	assert_int_equal(disk_uring_testing_raw_op(f->d, IORING_OP_OPENAT, true), -EACCES);
	assert_int_equal(disk_uring_testing_raw_op(f->d, IORING_OP_CONNECT, true), -EACCES);
	assert_int_equal(disk_uring_testing_raw_op(f->d, IORING_OP_NOP, true), -EACCES);
	/* An allowed operation on a plain descriptor number. */
	assert_int_equal(disk_uring_testing_raw_op(f->d, IORING_OP_READV, false), -EACCES);
	/* No register operation once the ring runs. */
	assert_int_equal(disk_uring_testing_register(f->d), -EACCES);
}

/* Where io_uring_setup is refused (a container's seccomp profile, an
 * old kernel), the disk still opens, synchronously. */
static int fallback_child(const char *path)
{
	const struct disk_open_opts o = { .aio = DISK_AIO_IO_URING };
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	static uint8_t buf[4096];
	struct iovec iov = { buf, sizeof(buf) };
	struct disk_req r = { .op = DISK_OP_READ, .iov = &iov, .iovcnt = 1, .offset = 4096 };
	struct disk_req *done[1];
	struct disk *d;

	if (!ctx || seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(io_uring_setup), 0) ||
	    seccomp_load(ctx))
		return 10;
	if (disk_open_opts(&d, path, &o))
		return 11;
	if (strcmp(disk_aio_name(d), "sync") || disk_completion_fd(d) != -1)
		return 12;
	if (disk_submit(d, &r) || disk_commit(d) || disk_reap(d, done, 1) != 1 || r.result)
		return 13;
	for (unsigned int i = 0; i < sizeof(buf); i++)
		if (buf[i] != pattern(4096 + i))
			return 14;
	disk_close(d);
	return 0;
}

static void test_fallback_without_io_uring(void **state)
{
	struct fixture *f = *state;
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fallback_child(f->path));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* cache=none: aligned buffers go straight through O_DIRECT, misaligned
 * ones through a bounce buffer, and both read back the same. */
static void test_cache_none(void **state)
{
	struct fixture *f = *state;
	const struct disk_open_opts o = { .aio = DISK_AIO_IO_URING, .cache = DISK_CACHE_NONE };
	uint8_t *raw = aligned_alloc(4096, 3 * 8192);
	uint8_t *aligned_buf = raw, *odd = raw + 8192 + 1;
	struct iovec wi[2] = { { aligned_buf, 4096 }, { odd, 4096 } };
	struct iovec ri = { odd, 8192 };
	struct disk_req w = { .op = DISK_OP_WRITE, .iov = wi, .iovcnt = 2, .offset = 8192 };
	struct disk_req r = { .op = DISK_OP_READ, .iov = &ri, .iovcnt = 1, .offset = 8192 };
	struct disk_req fl = { .op = DISK_OP_FLUSH };
	struct disk_req small = { .op = DISK_OP_READ, .iov = &ri, .iovcnt = 1, .offset = 512 };
	struct disk_req *done[4];
	uint8_t back[8192];
	int ret;

	assert_non_null(raw);
	ret = disk_open_opts(&f->d, f->path, &o);
	if (ret == -EINVAL) {
		free(raw);
		skip(); /* said why: the file system of /tmp cannot do O_DIRECT */
	}
	assert_int_equal(ret, 0);
	assert_true(disk_direct_align(f->d) >= 512);
	memset(aligned_buf, 0xa1, 4096);
	memset(odd, 0xb2, 4096);
	assert_int_equal(disk_submit(f->d, &w), 0);
	assert_int_equal(disk_submit(f->d, &fl), 0);
	assert_int_equal(disk_commit(f->d), 0);
	assert_int_equal(disk_drain(f->d), 0);
	assert_int_equal(disk_reap(f->d, done, 4), 2);
	assert_int_equal(w.result, 0);
	assert_int_equal(fl.result, 0);
	file_read(f, 8192, back, sizeof(back));
	for (unsigned int i = 0; i < 4096; i++) {
		assert_int_equal(back[i], 0xa1);
		assert_int_equal(back[4096 + i], 0xb2);
	}
	/* A misaligned read, then one at an offset O_DIRECT may not take
	 * (512 on a 4 KiB host; served through the page cache). */
	memset(odd, 0, 8192);
	assert_int_equal(disk_submit(f->d, &r), 0);
	assert_int_equal(disk_commit(f->d), 0);
	assert_int_equal(disk_drain(f->d), 0);
	assert_int_equal(disk_reap(f->d, done, 4), 1);
	assert_int_equal(r.result, 0);
	assert_memory_equal(odd, back, 8192);
	ri = (struct iovec){ odd, 8192 };
	assert_int_equal(disk_submit(f->d, &small), 0);
	assert_int_equal(disk_commit(f->d), 0);
	assert_int_equal(disk_drain(f->d), 0);
	assert_int_equal(disk_reap(f->d, done, 4), 1);
	assert_int_equal(small.result, 0);
	for (unsigned int i = 0; i < 8192; i++)
		assert_int_equal(odd[i], i < 7680 ? pattern(512 + i) : back[i - 7680]);
	free(raw);
}

/* Each role's part, in a child confined as that role with a disk in the
 * config (its needs, src/devices/virtio_blk_opts.c): the device thread
 * submits and reaps, a vCPU (device reset) drains, the main thread
 * (teardown) closes. A call missing from a role kills the child. */
static int role_child(const char *path, enum avp_thread_role role)
{
	const struct disk_open_opts o = { .aio = DISK_AIO_IO_URING };
	static struct avp_disk_cfg disk_opts;
	static uint8_t buf[SEGS][4096];
	struct iovec iov[SEGS];
	struct disk_req w = { .op = DISK_OP_WRITE, .iov = iov, .iovcnt = SEGS, .offset = 0 };
	struct disk_req fl = { .op = DISK_OP_FLUSH };
	struct disk_req *done[4];
	struct avp_config cfg;
	struct disk *d;
	unsigned int n = 0;

	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	cfg.devices[0] = (struct avp_device_entry){ &virtio_blk_config, &disk_opts };
	cfg.ndevices = 1;
	if (disk_open_opts(&d, path, &o) || strcmp(disk_aio_name(d), "io_uring"))
		return 10;
	disk_testing_max_segs(d, 2);
	for (unsigned int i = 0; i < SEGS; i++)
		iov[i] = (struct iovec){ buf[i], sizeof(buf[i]) };
	if (avp_seccomp_apply(role, &cfg))
		return 11;
	if (disk_submit(d, &w) || disk_submit(d, &fl) || disk_commit(d))
		return 12;
	if (role == AVP_THREAD_DEVICE) {
		/* The worker's way: reap as completions come. */
		while (n < 2)
			n += disk_reap(d, done + n, 4 - n);
	} else if (disk_drain(d) || disk_reap(d, done, 4) != 2) {
		return 13;
	}
	if (w.result || fl.result)
		return 14;
	if (role == AVP_THREAD_MAIN)
		disk_close(d);
	return 0;
}

static void test_roles_seccomp(void **state)
{
	struct fixture *f = *state;
	const enum avp_thread_role roles[] = { AVP_THREAD_DEVICE, AVP_THREAD_VCPU,
					       AVP_THREAD_MAIN };

	for (unsigned int i = 0; i < 3; i++) {
		int status = 0;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(role_child(f->path, roles[i]));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status))
			fail_msg("%s role: killed by signal %d%s", avp_seccomp_role_name(roles[i]),
				 WTERMSIG(status),
				 WTERMSIG(status) == SIGSYS ? " (a call outside the role)" : "");
		if (WEXITSTATUS(status))
			fail_msg("%s role: child exit %d", avp_seccomp_role_name(roles[i]),
				 WEXITSTATUS(status));
	}
}

/* Closing waits for what is in flight, and the image can be opened again
 * at once (the ring's own references go later). */
static void test_close_then_reopen(void **state)
{
	struct fixture *f = *state;
	static uint8_t buf[65536];
	struct iovec iov = { buf, sizeof(buf) };
	struct disk_req w = { .op = DISK_OP_WRITE, .iov = &iov, .iovcnt = 1, .offset = 0 };

	open_uring(f, false);
	memset(buf, 0x99, sizeof(buf));
	assert_int_equal(disk_submit(f->d, &w), 0);
	assert_int_equal(disk_commit(f->d), 0);
	disk_close(f->d);
	f->d = NULL;
	assert_int_equal(w.result, 0);
	open_uring(f, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flush_after_all_earlier_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_transfers_resumed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restrictions_refuse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fallback_without_io_uring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cache_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_roles_seccomp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_then_reopen, setup, teardown),
	};

	return cmocka_run_group_tests_name("disk_uring", tests, NULL, NULL);
}
