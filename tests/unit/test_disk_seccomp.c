/* Every system call a disk backend path makes is in the role of the
 * thread that makes it: each path, fallbacks included, runs in a forked
 * child under the device worker's filter. A call missing from the role
 * kills the child with SIGSYS (a guest's benign WRITE_ZEROES on a vfat
 * image once killed avp that way: the zero-writing fallback used pwrite64,
 * which only --sound allowed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "avp/config.h"
#include "avp/disk.h"
#include "avp/log.h"
#include "avp/seccomp.h"
#include "disk/raw_testing.h"

#define IMAGE_SIZE (256u * 1024)

enum path { READ, WRITE, FLUSH, DISCARD, ZEROES_UNMAP, ZEROES_KEEP };
static const char *const path_names[] = { "read", "write", "flush", "discard",
					  "write zeroes (may unmap)", "write zeroes (keep)" };

static int run_path(struct disk *d, enum path p)
{
	static uint8_t buf[8192];
	struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

	switch (p) {
	case READ:
		return disk_preadv(d, &iov, 1, 4096);
	case WRITE:
		memset(buf, 0x5a, sizeof(buf));
		return disk_pwritev(d, &iov, 1, 4096);
	case FLUSH:
		return disk_flush(d);
	case DISCARD:
		return disk_discard(d, 0, 65536);
	case ZEROES_UNMAP:
		return disk_write_zeroes(d, 4096, 200000, true);
	case ZEROES_KEEP:
		return disk_write_zeroes(d, 4096, 200000, false);
	}
	return -EINVAL;
}

/* Child: open the image (main thread's work, before confinement), confine
 * as the device worker, run the path, check the zeroes where it wrote them. */
static int child(const char *image, enum path p, bool no_fallocate)
{
	struct avp_config cfg;
	struct disk *d;
	uint8_t check[512];
	struct iovec iov = { .iov_base = check, .iov_len = sizeof(check) };

	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	if (disk_open(&d, image, false))
		return 10;
	if (no_fallocate)
		disk_raw_testing_no_fallocate(d);
	if (avp_seccomp_apply(AVP_THREAD_DEVICE, &cfg))
		return 11;
	if (run_path(d, p))
		return 12;
	if (p == ZEROES_UNMAP || p == ZEROES_KEEP) {
		if (disk_preadv(d, &iov, 1, 4096 + 199000 - sizeof(check)))
			return 13;
		for (size_t i = 0; i < sizeof(check); i++)
			if (check[i])
				return 14;
	}
	return 0;
}

static void check_all_paths(bool no_fallocate)
{
	char image[] = "/tmp/avp-disk-seccomp-XXXXXX";
	int fd = mkstemp(image);
	uint8_t ones[4096];

	assert_true(fd >= 0);
	memset(ones, 0xff, sizeof(ones));
	for (unsigned int off = 0; off < IMAGE_SIZE; off += sizeof(ones))
		assert_int_equal(pwrite(fd, ones, sizeof(ones), off), (ssize_t)sizeof(ones));
	close(fd);
	for (enum path p = READ; p <= ZEROES_KEEP; p++) {
		int status = 0;
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(child(image, p, no_fallocate));
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFSIGNALED(status))
			fail_msg("%s%s: killed by signal %d%s", path_names[p],
				 no_fallocate ? " without fallocate" : "", WTERMSIG(status),
				 WTERMSIG(status) == SIGSYS ? " (a call outside the device role)" : "");
		if (WEXITSTATUS(status))
			fail_msg("%s%s: child exit %d", path_names[p],
				 no_fallocate ? " without fallocate" : "", WEXITSTATUS(status));
	}
	unlink(image);
}

static void test_paths_with_fallocate(void **state)
{
	(void)state;
	check_all_paths(false);
}

static void test_paths_without_fallocate(void **state)
{
	(void)state;
	check_all_paths(true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths_with_fallocate),
		cmocka_unit_test(test_paths_without_fallocate),
	};

	avp_log_set_level(AVP_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
