/* Host chardevs: none, file, stdio on pipes and on a pseudo-terminal (raw
 * mode on, restored by close and by a fatal signal), a reader that went
 * away, a stdout that is non-blocking and full, and a reader that stops
 * reading (nothing blocks, the buffer is bounded, nothing is lost). */
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
#include <poll.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
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

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i % 251 + i / 4096);
}

struct drain {
	int fd;
	size_t total;
	bool in_order;
};

static void *drain_slowly(void *arg)
{
	struct drain *d = arg;
	uint8_t buf[4096];
	ssize_t n;

	d->in_order = true;
	while ((n = read(d->fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(d->total + (size_t)i))
				d->in_order = false;
		d->total += (size_t)n;
		usleep(200);
	}
	return NULL;
}

/* A slow reader behind a stdout that shares a non-blocking description:
 * the writer is told to wait (short writes), waits on the output fd, and
 * everything arrives, in order. */
static void test_nonblocking_stdout_full(void **state)
{
	enum { N = 1 << 20 };
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_STDIO };
	struct drain d = { 0 };
	struct chardev *chr;
	pthread_t t;
	uint8_t *big = malloc(N);
	size_t done = 0;
	unsigned int short_writes = 0;
	int p[2];

	(void)state;
	assert_non_null(big);
	for (size_t i = 0; i < N; i++)
		big[i] = pattern(i);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(fcntl(p[1], F_SETFL, O_NONBLOCK), 0);
	d.fd = p[0];
	assert_int_equal(pthread_create(&t, NULL, drain_slowly, &d), 0);
	redirect(p[1], -1);
	assert_int_equal(chardev_open(&chr, &cfg, false), 0);
	while (done < N) {
		ssize_t n = chardev_write(chr, big + done, N - done);

		assert_true(n >= 0);
		done += (size_t)n;
		if (done < N) {
			struct pollfd pfd = { .fd = chardev_output_fd(chr), .events = POLLOUT };

			short_writes++;
			assert_int_equal(chardev_write_room(chr), 0);
			assert_int_equal(poll(&pfd, 1, 5000), 1);
			chardev_flush(chr);
		}
	}
	assert_true(short_writes > 0); /* 1 MiB does not fit: it pushed back */
	chardev_close(chr);
	restore();
	close(p[1]);
	pthread_join(t, NULL);
	assert_int_equal(d.total, N);
	assert_true(d.in_order);
	free(big);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* stdout is a pipe whose reader is alive but never reads. Writes return
 * at once and take the pipe's capacity plus the bounded buffer, then
 * nothing; the shell's description of stdout stays blocking; once the
 * reader reads, the bytes come out whole and in order. alarm() ends the
 * test if a write blocks, as the old chardev_write did. */
static void test_stalled_reader_never_blocks(void **state)
{
	enum { N = 1 << 20, CHUNK = 4096 };
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_STDIO };
	struct chardev *chr;
	uint8_t *big = malloc(N), *got = malloc(N);
	size_t taken = 0, n = 0, pipe_size;
	double t0, deadline;
	int p[2];

	(void)state;
	assert_non_null(big);
	assert_non_null(got);
	for (size_t i = 0; i < N; i++)
		big[i] = pattern(i);
	assert_int_equal(pipe(p), 0);
	pipe_size = (size_t)fcntl(p[1], F_GETPIPE_SZ);
	redirect(p[1], -1);
	alarm(30);
	assert_int_equal(chardev_open(&chr, &cfg, false), 0);
	t0 = now_s();
	while (taken < N) {
		ssize_t w = chardev_write(chr, big + taken, CHUNK);

		assert_true(w >= 0);
		taken += (size_t)w;
		if (w < CHUNK)
			break;
	}
	assert_true(now_s() - t0 < 2.0);
	assert_int_equal(taken, pipe_size + CHARDEV_OUT_BUF);
	assert_int_equal(chardev_write(chr, big + taken, CHUNK), 0);
	assert_int_equal(chardev_write_room(chr), 0);
	assert_int_equal(chardev_flush(chr), CHARDEV_OUT_BUF);
	/* Our own non-blocking description, not the one stdout shares. */
	assert_int_equal(fcntl(STDOUT_FILENO, F_GETFL) & O_NONBLOCK, 0);
	assert_int_not_equal(chardev_output_fd(chr), STDOUT_FILENO);

	assert_int_equal(fcntl(p[0], F_SETFL, O_NONBLOCK), 0);
	deadline = now_s() + 10;
	while (n < taken && now_s() < deadline) {
		ssize_t r = read(p[0], got + n, N - n);

		if (r > 0)
			n += (size_t)r;
		else
			chardev_flush(chr);
	}
	assert_int_equal(n, taken);
	assert_memory_equal(got, big, taken);
	assert_int_equal(chardev_flush(chr), 0);
	assert_int_equal(chardev_write_room(chr), CHARDEV_OUT_BUF);
	alarm(0);
	chardev_close(chr);
	restore();
	close(p[0]);
	close(p[1]);
	free(big);
	free(got);
}

/* At the end a stalled reader is given CHARDEV_CLOSE_WAIT_MS, not for
 * ever: SIGTERM must end avp whatever its output is connected to. */
static void test_close_with_stalled_reader_is_prompt(void **state)
{
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_STDIO };
	static uint8_t chunk[4096];
	struct chardev *chr;
	double t0;
	int p[2];

	(void)state;
	assert_int_equal(pipe(p), 0);
	redirect(p[1], -1);
	alarm(30);
	assert_int_equal(chardev_open(&chr, &cfg, false), 0);
	while (chardev_write(chr, chunk, sizeof(chunk)) > 0)
		;
	t0 = now_s();
	chardev_close(chr);
	assert_true(now_s() - t0 < CHARDEV_CLOSE_WAIT_MS / 1000.0 + 1.0);
	alarm(0);
	restore();
	close(p[0]);
	close(p[1]);
}

/* The reader goes away while output waits: the waiting output and all
 * later output are dropped, and nothing blocks or fails. */
static void test_reader_gone_while_stalled(void **state)
{
	struct chardev *chr;
	static uint8_t chunk[4096];
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(chardev_open_fds(&chr, p[1], -1), 0);
	while (chardev_write(chr, chunk, sizeof(chunk)) > 0)
		;
	assert_int_equal(chardev_write_room(chr), 0);
	close(p[0]);
	assert_int_equal(chardev_flush(chr), 0);
	assert_int_equal(chardev_write_room(chr), SIZE_MAX);
	assert_int_equal(chardev_write(chr, chunk, sizeof(chunk)), sizeof(chunk));
	chardev_close(chr);
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
		cmocka_unit_test(test_stalled_reader_never_blocks),
		cmocka_unit_test(test_close_with_stalled_reader_is_prompt),
		cmocka_unit_test(test_reader_gone_while_stalled),
		cmocka_unit_test(test_stdin_pipe_nonblocking_restored),
		cmocka_unit_test(test_tty_raw_mode_restored),
		cmocka_unit_test(test_tty_restored_on_fatal_signal),
	};

	return cmocka_run_group_tests_name("chardev", tests, NULL, NULL);
}
