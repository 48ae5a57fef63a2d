/* avp_open_output: outputs named in bundles and on command lines run as
 * root must not follow links nor truncate anything but a regular file. */
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

#include "avp/log.h"
#include "avp/outfile.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/avp-outfile-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	avp_log_set_level(AVP_LOG_ERROR);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static off_t size_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_size;
}

static void test_new_and_existing_regular_file(void **state)
{
	struct fixture *f = *state;
	int fd;

	snprintf(f->path, sizeof(f->path), "%s/out.log", f->dir);
	fd = avp_open_output("test output", f->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	close(fd);
	assert_int_equal(size_of(f->path), 3);
	/* An existing file starts empty, and the fd blocks as usual. */
	fd = avp_open_output("test output", f->path);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);
	close(fd);
	assert_int_equal(size_of(f->path), 0);
}

static void test_symlink_refused_target_untouched(void **state)
{
	struct fixture *f = *state;
	char target[128];

	snprintf(target, sizeof(target), "%s/precious", f->dir);
	write_text(target, "keep me");
	snprintf(f->path, sizeof(f->path), "%s/link", f->dir);
	assert_int_equal(symlink(target, f->path), 0);
	assert_int_equal(avp_open_output("test output", f->path), -ELOOP);
	assert_int_equal(size_of(target), 7);
	/* A dangling link is not followed to create its target either. */
	unlink(target);
	assert_int_equal(avp_open_output("test output", f->path), -ELOOP);
	assert_int_equal(access(target, F_OK), -1);
}

static void test_devices_and_fifos_not_truncated(void **state)
{
	struct fixture *f = *state;
	int fd, rfd;

	fd = avp_open_output("test output", "/dev/null");
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);

	snprintf(f->path, sizeof(f->path), "%s/fifo", f->dir);
	assert_int_equal(mkfifo(f->path, 0600), 0);
	/* Nobody reads it: refused at once instead of hanging. */
	assert_int_equal(avp_open_output("test output", f->path), -ENXIO);
	rfd = open(f->path, O_RDONLY | O_NONBLOCK);
	assert_true(rfd >= 0);
	fd = avp_open_output("test output", f->path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hi", 2), 2);
	close(fd);
	close(rfd);
}

static void test_directory_refused(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(avp_open_output("test output", f->dir), -EISDIR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_new_and_existing_regular_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused_target_untouched, setup, teardown),
		cmocka_unit_test_setup_teardown(test_devices_and_fifos_not_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_directory_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
