/* The raw image backend: open errors a user will meet, image locking, and
 * the byte-level operations the block device builds on. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "avp/disk.h"
#include "avp/log.h"

struct fixture {
	char dir[256];	/* a private temp directory */
	char path[300]; /* dir/img */
	char err[2048]; /* what the last captured call logged */
	int saved_stderr;
	FILE *capture;
};

static uint8_t pattern(uint64_t off)
{
	return (uint8_t)((off * 31 + (off >> 9) * 7) % 255 + 1); /* never 0 */
}

static void write_image(const char *path, uint64_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	uint8_t buf[512];

	assert_true(fd >= 0);
	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		size_t n = size - off < sizeof(buf) ? (size_t)(size - off) : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = pattern(off + i);
		assert_int_equal(pwrite(fd, buf, n, (off_t)off), (ssize_t)n);
	}
	close(fd);
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

static void read_file_at(const char *path, uint64_t off, void *buf, size_t len)
{
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

/* Sends stderr (where avp_err writes) to a file until capture_end(). */
static void capture_begin(struct fixture *f)
{
	fflush(stderr);
	f->capture = tmpfile();
	assert_non_null(f->capture);
	f->saved_stderr = dup(STDERR_FILENO);
	assert_true(f->saved_stderr >= 0);
	assert_true(dup2(fileno(f->capture), STDERR_FILENO) >= 0);
}

static void capture_end(struct fixture *f)
{
	size_t n;

	fflush(stderr);
	dup2(f->saved_stderr, STDERR_FILENO);
	close(f->saved_stderr);
	rewind(f->capture);
	n = fread(f->err, 1, sizeof(f->err) - 1, f->capture);
	f->err[n] = '\0';
	fclose(f->capture);
}

/* Opens path expecting failure `want` and a message containing `text`. */
static void expect_open_error(struct fixture *f, const char *path, bool ro, int want,
			      const char *text)
{
	struct disk *d = (struct disk *)1;
	int ret;

	capture_begin(f);
	ret = disk_open(&d, path, ro);
	capture_end(f);
	assert_int_equal(ret, want);
	assert_null(d);
	if (!strstr(f->err, text) || !strstr(f->err, path))
		fail_msg("message \"%s\" lacks \"%s\" or the path %s", f->err, text, path);
}

static int setup(void **state)
{
	static struct fixture f;
	const char *tmp = getenv("TMPDIR");

	memset(&f, 0, sizeof(f));
	snprintf(f.dir, sizeof(f.dir), "%s/avp-disk-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f.dir));
	snprintf(f.path, sizeof(f.path), "%s/img", f.dir);
	avp_log_set_level(AVP_LOG_WARN);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char p[400];

	unlink(f->path);
	snprintf(p, sizeof(p), "%s/fifo", f->dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", f->dir);
	rmdir(p);
	rmdir(f->dir);
	return 0;
}

static void test_open_missing(void **state)
{
	struct fixture *f = *state;

	expect_open_error(f, f->path, false, -ENOENT, "No such file or directory");
	expect_open_error(f, f->path, true, -ENOENT, "No such file or directory");
}

static void test_open_directory(void **state)
{
	struct fixture *f = *state;
	char sub[300];

	snprintf(sub, sizeof(sub), "%s/sub", f->dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	expect_open_error(f, sub, false, -EISDIR, "is a directory");
	/* Read-only open(2) of a directory succeeds: fstat must catch it. */
	expect_open_error(f, sub, true, -EISDIR, "is a directory");
}

static void test_open_not_a_disk(void **state)
{
	struct fixture *f = *state;
	char fifo[300];

	expect_open_error(f, "/dev/null", true, -EINVAL, "not a regular file or block device");
	/* A FIFO must be refused, not hang the open waiting for a writer
	 * (the alarm turns such a hang into a failure). */
	snprintf(fifo, sizeof(fifo), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	alarm(10);
	expect_open_error(f, fifo, true, -EINVAL, "not a regular file or block device");
	expect_open_error(f, fifo, false, -EINVAL, "not a regular file or block device");
	alarm(0);
}

static void test_open_empty(void **state)
{
	struct fixture *f = *state;

	write_image(f->path, 0);
	expect_open_error(f, f->path, false, -EINVAL, "empty");
}

static void test_open_bad_size(void **state)
{
	struct fixture *f = *state;

	write_image(f->path, 1000);
	expect_open_error(f, f->path, false, -EINVAL, "not a multiple of 512");
	expect_open_error(f, f->path, true, -EINVAL, "1000 bytes");
}

static void test_open_reports_size(void **state)
{
	struct fixture *f = *state;
	struct disk *d;

	write_image(f->path, 3 * 512);
	assert_int_equal(disk_open(&d, f->path, false), 0);
	assert_int_equal(disk_size(d), 3 * 512);
	assert_false(disk_read_only(d));
	assert_string_equal(disk_path(d), f->path);
	disk_close(d);
}

static void test_lock_conflicts(void **state)
{
	struct fixture *f = *state;
	struct disk *a, *b;

	write_image(f->path, 4096);

	/* A writer excludes everyone. */
	assert_int_equal(disk_open(&a, f->path, false), 0);
	expect_open_error(f, f->path, false, -EBUSY, "is in use by another process");
	expect_open_error(f, f->path, true, -EBUSY, "is in use by another process");
	disk_close(a);

	/* Readers share, and keep writers out. */
	assert_int_equal(disk_open(&a, f->path, true), 0);
	assert_int_equal(disk_open(&b, f->path, true), 0);
	expect_open_error(f, f->path, false, -EBUSY, "is in use by another process");
	disk_close(a);
	disk_close(b);

	/* Closing releases the lock. */
	assert_int_equal(disk_open(&a, f->path, false), 0);
	disk_close(a);
}

/* disk_check: disk_open's verdicts, the same identity for two names of
 * one image, and no lock left behind. */
static void test_check(void **state)
{
	struct fixture *f = *state;
	struct disk_identity a, b;
	char other[320];
	struct disk *d;

	write_image(f->path, 4096);
	assert_int_equal(disk_check(f->path, false, true, &a), 0);
	snprintf(other, sizeof(other), "%s/../%s/img", f->dir, strrchr(f->dir, '/') + 1);
	assert_int_equal(disk_check(other, true, true, &b), 0);
	assert_true(a.dev == b.dev && a.ino == b.ino && a.rdev == 0);
	/* No lock held: a writer can open it now. */
	assert_int_equal(disk_open(&d, f->path, false), 0);
	capture_begin(f);
	assert_int_equal(disk_check(f->path, true, true, NULL), -EBUSY);
	capture_end(f);
	assert_non_null(strstr(f->err, "in use by another process"));
	/* Without the lock (a description) the held image passes. */
	assert_int_equal(disk_check(f->path, true, false, NULL), 0);
	disk_close(d);
	capture_begin(f);
	assert_int_equal(disk_check(f->dir, true, true, NULL), -EISDIR);
	capture_end(f);
	assert_non_null(strstr(f->err, "is a directory"));
}

static void test_read_only_refuses_writes(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[512], before[1024], after[1024];
	struct iovec iov = { buf, sizeof(buf) };
	struct disk *d;

	write_image(f->path, 1024);
	read_file_at(f->path, 0, before, sizeof(before));
	assert_int_equal(disk_open(&d, f->path, true), 0);
	assert_true(disk_read_only(d));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(disk_pwritev(d, &iov, 1, 0), -EROFS);
	assert_int_equal(disk_discard(d, 0, 512), -EROFS);
	assert_int_equal(disk_write_zeroes(d, 0, 512, false), -EROFS);
	assert_int_equal(disk_write_zeroes(d, 512, 512, true), -EROFS);
	/* Reading still works. */
	iov = (struct iovec){ buf, sizeof(buf) };
	assert_int_equal(disk_preadv(d, &iov, 1, 512), 0);
	assert_memory_equal(buf, before + 512, 512);
	assert_int_equal(disk_flush(d), 0);
	disk_close(d);
	read_file_at(f->path, 0, after, sizeof(after));
	assert_memory_equal(before, after, sizeof(before));
}

static void test_read_write_vectors(void **state)
{
	struct fixture *f = *state;
	uint8_t a[100], b[412], c[512], back[1024];
	struct iovec iov[4];
	struct disk *d;

	write_image(f->path, 8192);
	assert_int_equal(disk_open(&d, f->path, false), 0);

	/* Read spanning uneven segments, one of them empty. */
	iov[0] = (struct iovec){ a, sizeof(a) };
	iov[1] = (struct iovec){ NULL, 0 };
	iov[2] = (struct iovec){ b, sizeof(b) };
	iov[3] = (struct iovec){ c, sizeof(c) };
	assert_int_equal(disk_preadv(d, iov, 4, 1024), 0);
	for (size_t i = 0; i < sizeof(a); i++)
		assert_int_equal(a[i], pattern(1024 + i));
	for (size_t i = 0; i < sizeof(b); i++)
		assert_int_equal(b[i], pattern(1024 + 100 + i));
	for (size_t i = 0; i < sizeof(c); i++)
		assert_int_equal(c[i], pattern(1536 + i));

	memset(a, 0x11, sizeof(a));
	memset(b, 0x22, sizeof(b));
	memset(c, 0x33, sizeof(c));
	iov[0] = (struct iovec){ a, sizeof(a) };
	iov[1] = (struct iovec){ b, sizeof(b) };
	iov[2] = (struct iovec){ c, sizeof(c) };
	assert_int_equal(disk_pwritev(d, iov, 3, 4096), 0);
	assert_int_equal(disk_flush(d), 0);
	read_file_at(f->path, 4096, back, sizeof(back));
	assert_memory_equal(back, a, sizeof(a));
	assert_memory_equal(back + 100, b, sizeof(b));
	assert_memory_equal(back + 512, c, sizeof(c));

	/* Nothing outside the image, and the file never grows. */
	iov[0] = (struct iovec){ c, sizeof(c) };
	assert_int_equal(disk_pwritev(d, iov, 1, 8192 - 256), -EINVAL);
	iov[0] = (struct iovec){ c, sizeof(c) };
	assert_int_equal(disk_preadv(d, iov, 1, 8192), -EINVAL);
	iov[0] = (struct iovec){ c, sizeof(c) };
	assert_int_equal(disk_pwritev(d, iov, 1, UINT64_MAX - 100), -EINVAL);
	assert_int_equal(disk_discard(d, 4096, 8192), -EINVAL);
	assert_int_equal(disk_write_zeroes(d, UINT64_MAX - 511, 1024, false), -EINVAL);
	assert_int_equal(file_size(f->path), 8192);
	disk_close(d);
}

/* More segments than one preadv takes (IOV_MAX): the transfer continues
 * where the first call stopped. */
static void test_many_segments(void **state)
{
	struct fixture *f = *state;
	enum { NSEG = 1500, SEG = 8 };
	static uint8_t buf[NSEG * SEG], back[NSEG * SEG];
	static struct iovec iov[NSEG];
	struct disk *d;

	write_image(f->path, 16384);
	assert_int_equal(disk_open(&d, f->path, false), 0);
	for (size_t i = 0; i < NSEG; i++)
		iov[i] = (struct iovec){ buf + i * SEG, SEG };
	memset(buf, 0, sizeof(buf));
	assert_int_equal(disk_preadv(d, iov, NSEG, 512), 0);
	for (size_t i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], pattern(512 + i));

	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13);
	for (size_t i = 0; i < NSEG; i++)
		iov[i] = (struct iovec){ buf + i * SEG, SEG };
	assert_int_equal(disk_pwritev(d, iov, NSEG, 1024), 0);
	read_file_at(f->path, 1024, back, sizeof(back));
	assert_memory_equal(back, buf, sizeof(buf));
	disk_close(d);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_zeroing(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[16384];
	struct disk *d;

	write_image(f->path, sizeof(buf));
	assert_int_equal(disk_open(&d, f->path, false), 0);

	/* Unaligned, kept allocated. */
	assert_int_equal(disk_write_zeroes(d, 512, 1024, false), 0);
	/* Whole host blocks, may be unmapped. */
	assert_int_equal(disk_write_zeroes(d, 4096, 4096, true), 0);
	/* At the very end of the image. */
	assert_int_equal(disk_write_zeroes(d, 16384 - 512, 512, true), 0);
	read_file_at(f->path, 0, buf, sizeof(buf));
	assert_true(all_zero(buf + 512, 1024));
	assert_true(all_zero(buf + 4096, 4096));
	assert_true(all_zero(buf + 16384 - 512, 512));
	/* Neighbours intact. */
	for (size_t i = 0; i < 512; i++)
		assert_int_equal(buf[i], pattern(i));
	for (size_t i = 1536; i < 4096; i++)
		assert_int_equal(buf[i], pattern(i));
	for (size_t i = 8192; i < 16384 - 512; i++)
		assert_int_equal(buf[i], pattern(i));

	/* Discard is a hint; a hole in the middle must not change the size. */
	assert_int_equal(disk_discard(d, 8192, 4096), 0);
	assert_int_equal(disk_discard(d, 0, 0), 0);
	assert_int_equal(file_size(f->path), 16384);
	disk_close(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_open_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_not_a_disk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_bad_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_reports_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lock_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_refuses_writes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_vectors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_segments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zeroing, setup, teardown),
	};

	return cmocka_run_group_tests_name("disk_raw", tests, NULL, NULL);
}
