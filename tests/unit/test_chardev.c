/* Host chardevs: none, file, stdio on pipes and on a pseudo-terminal (raw
 * mode on, restored by close and by a fatal signal), a reader that went
 * away, and a stdout that is non-blocking and full. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pty.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "avp/chardev.h"

static void test_none(void **state)
{
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_NONE };
	struct chardev *chr;

	(void)state;
	assert_int_equal(chardev_open(&chr, &cfg, true), 0);
	assert_int_equal(chardev_input_fd(chr), -1);
	assert_int_equal(chardev_write(chr, "abc", 3), 3);
	chardev_close(chr);
	chardev_close(NULL);
	assert_int_equal(chardev_input_fd(NULL), -1);
}

static void test_file_truncates_and_writes(void **state)
{
	char path[] = "/tmp/avp-chr-XXXXXX";
	int fd = mkstemp(path);
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_FILE, .path = path };
	struct chardev *chr;
	char buf[32] = { 0 };

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "old contents here", 17), 17);
	close(fd);
	assert_int_equal(chardev_open(&chr, &cfg, true), 0);
	assert_int_equal(chardev_input_fd(chr), -1); /* a file gives no input */
	assert_int_equal(chardev_write(chr, "new", 3), 3);
	chardev_close(chr);
	fd = open(path, O_RDONLY);
	assert_int_equal(read(fd, buf, sizeof(buf)), 3);
	assert_string_equal(buf, "new");
	close(fd);
	unlink(path);

	cfg.path = "/nonexistent-dir/x";
	assert_int_equal(chardev_open(&chr, &cfg, false), -ENOENT);
	cfg.path = NULL;
	assert_int_equal(chardev_open(&chr, &cfg, false), -EINVAL);
}

/* Runs fn with stdout (and stdin) replaced. */
static int saved_out = -1, saved_in = -1;

static void redirect(int new_out, int new_in)
{
	if (new_out >= 0) {
		saved_out = dup(STDOUT_FILENO);
		assert_true(dup2(new_out, STDOUT_FILENO) >= 0);
	}
	if (new_in >= 0) {
		saved_in = dup(STDIN_FILENO);
		assert_true(dup2(new_in, STDIN_FILENO) >= 0);
	}
}

static void restore(void)
{
	if (saved_out >= 0) {
		dup2(saved_out, STDOUT_FILENO);
		close(saved_out);
		saved_out = -1;
	}
	if (saved_in >= 0) {
		dup2(saved_in, STDIN_FILENO);
		close(saved_in);
		saved_in = -1;
	}
}

static void test_stdout_reader_gone(void **state)
{
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_STDIO };
	struct chardev *chr;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	close(p[0]); /* nobody will ever read */
	redirect(p[1], -1);
	assert_int_equal(chardev_open(&chr, &cfg, false), 0);
	/* EPIPE, not SIGPIPE; the output is dropped, now and later. */
	assert_int_equal(chardev_write(chr, "lost", 4), 4);
	assert_int_equal(chardev_write(chr, "lost", 4), 4);
	chardev_close(chr);
	restore();
	close(p[1]);
}

struct drain {
	int fd;
	size_t total;
};

static void *drain_slowly(void *arg)
{
	struct drain *d = arg;
	char buf[4096];
	ssize_t n;

	while ((n = read(d->fd, buf, sizeof(buf))) > 0) {
		d->total += (size_t)n;
		usleep(200);
	}
	return NULL;
}

static void test_nonblocking_stdout_full(void **state)
{
	enum { N = 1 << 20 };
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_STDIO };
	struct drain d = { 0 };
	struct chardev *chr;
	pthread_t t;
	char *big = calloc(1, N);
	int p[2];

	(void)state;
	assert_non_null(big);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	d.fd = p[0];
	assert_int_equal(pthread_create(&t, NULL, drain_slowly, &d), 0);
	redirect(p[1], -1);
	assert_int_equal(chardev_open(&chr, &cfg, false), 0);
	/* Far more than the pipe holds: EAGAIN is waited out, not lost. */
	assert_int_equal(chardev_write(chr, big, N), N);
	chardev_close(chr);
	restore();
	close(p[1]);
	pthread_join(t, NULL);
	assert_int_equal(d.total, N);
	free(big);
}

static void test_stdin_pipe_nonblocking_restored(void **state)
{
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_STDIO };
	struct chardev *chr;
	int p[2];
	char c;

	(void)state;
	assert_int_equal(pipe(p), 0);
	redirect(-1, p[0]);
	assert_int_equal(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK, 0);
	assert_int_equal(chardev_open(&chr, &cfg, true), 0);
	assert_int_equal(chardev_input_fd(chr), STDIN_FILENO);
	assert_true(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK);
	assert_int_equal(read(chardev_input_fd(chr), &c, 1), -1);
	assert_int_equal(errno, EAGAIN);
	chardev_close(chr);
	assert_int_equal(fcntl(STDIN_FILENO, F_GETFL) & O_NONBLOCK, 0);
	restore();
	close(p[0]);
	close(p[1]);
}

static void test_tty_raw_mode_restored(void **state)
{
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_STDIO };
	struct termios before, during, after;
	struct chardev *chr, *second;
	int master, slave;

	(void)state;
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0) {
		print_message("no pseudo-terminals here: raw mode check skipped\n");
		skip();
	}
	assert_int_equal(tcgetattr(slave, &before), 0);
	assert_true(before.c_lflag & ICANON);
	redirect(-1, slave);
	assert_int_equal(chardev_open(&chr, &cfg, true), 0);
	assert_int_equal(tcgetattr(slave, &during), 0);
	assert_false(during.c_lflag & (ICANON | ECHO));
	assert_true(during.c_lflag & ISIG); /* ^C still stops avp */
	assert_int_equal(during.c_cc[VSUSP], _POSIX_VDISABLE);
	/* One owner of the terminal at a time. */
	assert_int_equal(chardev_open(&second, &cfg, true), -EBUSY);
	chardev_close(chr);
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	assert_int_equal(after.c_iflag, before.c_iflag);
	restore();
	close(slave);
	close(master);
}

/* A process killed by a fatal signal while the terminal is raw leaves it
 * as it found it, and still dies of that signal. */
static void test_tty_restored_on_fatal_signal(void **state)
{
	struct termios before, after;
	int master, slave, status;
	pid_t pid;

	(void)state;
	if (openpty(&master, &slave, NULL, NULL, NULL) < 0) {
		print_message("no pseudo-terminals here: signal check skipped\n");
		skip();
	}
	assert_int_equal(tcgetattr(slave, &before), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct avp_chardev_cfg cfg = { .kind = AVP_CHR_STDIO };
		struct termios t;
		struct chardev *chr;

		signal(SIGTERM, SIG_DFL);
		if (dup2(slave, STDIN_FILENO) < 0 || chardev_open(&chr, &cfg, true) != 0)
			_exit(10);
		if (tcgetattr(slave, &t) != 0 || (t.c_lflag & ICANON))
			_exit(11);
		raise(SIGTERM);
		_exit(12);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGTERM);
	assert_int_equal(tcgetattr(slave, &after), 0);
	assert_int_equal(after.c_lflag, before.c_lflag);
	close(slave);
	close(master);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_file_truncates_and_writes),
		cmocka_unit_test(test_stdout_reader_gone),
		cmocka_unit_test(test_nonblocking_stdout_full),
		cmocka_unit_test(test_stdin_pipe_nonblocking_restored),
		cmocka_unit_test(test_tty_raw_mode_restored),
		cmocka_unit_test(test_tty_restored_on_fatal_signal),
	};

	return cmocka_run_group_tests_name("chardev", tests, NULL, NULL);
}
