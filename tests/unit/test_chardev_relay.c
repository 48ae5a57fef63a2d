/* Chardevs users connect to: --serial pty and --serial socket=PATH. With
 * nobody connected guest output never blocks and is bounded (the newest
 * bytes kept, the rest counted as dropped); a client that connects gets
 * what comes after; its input reaches the device; it can leave and come
 * back; a second socket client is turned away; the socket file is the
 * relay's own (refused over a regular file, removed at the end). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "avp/chardev.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Writes all of buf as a device would: what the chardev does not take now
 * is offered again once its output fd is writable. Fails the test if that
 * takes more than 2 s (the relay stopped draining: the guest would stall). */
static void dev_write_all(struct chardev *chr, const void *buf, size_t len)
{
	const char *p = buf;
	int64_t deadline = now_ms() + 2000;

	while (len) {
		ssize_t n = chardev_write(chr, p, len);

		assert_true(n >= 0);
		p += n;
		len -= (size_t)n;
		if (len) {
			struct pollfd pfd = { .fd = chardev_output_fd(chr), .events = POLLOUT };

			chardev_flush(chr);
			poll(&pfd, 1, 20);
			assert_true(now_ms() < deadline);
		}
	}
}

/* Reads from fd until the text seen ends with marker (or 3 s pass),
 * flushing chr meanwhile as the device's thread would. */
static void read_until(struct chardev *chr, int fd, const char *marker)
{
	static char seen[256 * 1024];
	size_t got = 0, mlen = strlen(marker);
	int64_t deadline = now_ms() + 3000;

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (now_ms() > deadline)
			fail_msg("no \"%s\" after %zu bytes", marker, got);
		if (chr)
			chardev_flush(chr);
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		if (got == sizeof(seen))
			got = 0;
		n = read(fd, seen + got, sizeof(seen) - got);
		if (n < 0 && errno == EAGAIN)
			continue;
		assert_true(n > 0);
		got += (size_t)n;
		if (got >= mlen && memcmp(seen + got - mlen, marker, mlen) == 0)
			return;
	}
}

/* Input the client typed, as the device reads it. */
static void expect_input(struct chardev *chr, const char *text)
{
	char buf[64] = { 0 };
	size_t got = 0, len = strlen(text);
	int64_t deadline = now_ms() + 3000;

	while (got < len) {
		struct pollfd pfd = { .fd = chardev_input_fd(chr), .events = POLLIN };
		ssize_t n;

		assert_true(now_ms() < deadline);
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(chardev_input_fd(chr), buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
	}
	assert_string_equal(buf, text);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static struct chardev_endpoint endpoint_of(const char *label)
{
	struct chardev_endpoint ep[8];
	size_t n = chardev_endpoints(ep, 8);

	for (size_t i = 0; i < n; i++)
		if (strcmp(ep[i].label, label) == 0)
			return ep[i];
	fail_msg("no endpoint %s", label);
	return ep[0];
}

static void wait_connected(const char *label, bool want)
{
	int64_t deadline = now_ms() + 3000;

	while (endpoint_of(label).connected != want) {
		assert_true(now_ms() < deadline);
		usleep(10 * 1000);
	}
}

/* 256 KiB with nobody connected: taken at once, the excess dropped. */
static void flood(struct chardev *chr, const char *label)
{
	static char junk[256 * 1024];
	int64_t start = now_ms(), deadline;

	memset(junk, 'j', sizeof(junk));
	dev_write_all(chr, junk, sizeof(junk));
	assert_true(now_ms() - start < 2000);
	deadline = now_ms() + 3000;
	while (endpoint_of(label).dropped < sizeof(junk) - 2 * CHARDEV_OUT_BUF) {
		chardev_flush(chr);
		assert_true(now_ms() < deadline);
		usleep(10 * 1000);
	}
}

static void test_socket_roundtrip(void **state)
{
	char dir[] = "/tmp/avp-relay-XXXXXX", path[96];
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_SOCKET, .path = path };
	struct chardev *chr;
	struct stat st;
	char buf[256];
	int c1, c2;
	ssize_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/console.sock", dir);
	assert_int_equal(chardev_open_named(&chr, &cfg, false, "serial", NULL), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_true(chardev_input_fd(chr) >= 0);
	assert_string_equal(endpoint_of("serial").backend, "socket");
	assert_string_equal(endpoint_of("serial").path, path);

	flood(chr, "serial");

	c1 = connect_to(path);
	wait_connected("serial", true);
	dev_write_all(chr, "FIRST-MARK", 10);
	read_until(chr, c1, "FIRST-MARK");
	assert_int_equal(write(c1, "typed", 5), 5);
	expect_input(chr, "typed");

	/* A second client is told the console is busy and let go. */
	c2 = connect_to(path);
	n = read(c2, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = 0;
	assert_non_null(strstr(buf, "already has a client"));
	assert_int_equal(read(c2, buf, sizeof(buf)), 0);
	close(c2);

	/* The first leaves; output goes on without blocking; it comes back. */
	close(c1);
	wait_connected("serial", false);
	flood(chr, "serial");
	c1 = connect_to(path);
	dev_write_all(chr, "SECOND-MARK", 11);
	read_until(chr, c1, "SECOND-MARK");
	assert_int_equal(write(c1, "again", 5), 5);
	expect_input(chr, "again");

	/* What the device wrote last reaches the client at close. */
	dev_write_all(chr, "LAST-WORDS", 10);
	chardev_close(chr);
	read_until(NULL, c1, "LAST-WORDS");
	close(c1);
	assert_int_equal(lstat(path, &st), -1);
	assert_int_equal(rmdir(dir), 0);
}

static void test_socket_refuses_other_files(void **state)
{
	char dir[] = "/tmp/avp-relay-XXXXXX", path[96];
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_SOCKET, .path = path };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct chardev *chr;
	struct stat st;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/not-a-socket", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(chardev_open(&chr, &cfg, false), -EEXIST);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 4);
	unlink(path);

	/* A live socket is someone else's: refused, left alone. */
	snprintf(path, sizeof(path), "%s/live.sock", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(chardev_open(&chr, &cfg, false), -EADDRINUSE);
	assert_int_equal(lstat(path, &st), 0);
	/* Left behind by a process that ended: replaced. */
	close(fd);
	assert_int_equal(chardev_open(&chr, &cfg, false), 0);
	fd = connect_to(path);
	close(fd);
	chardev_close(chr);
	assert_int_equal(lstat(path, &st), -1);

	/* Another file put in its place is not removed at the end. */
	assert_int_equal(chardev_open(&chr, &cfg, false), 0);
	assert_int_equal(unlink(path), 0);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	close(fd);
	chardev_close(chr);
	assert_int_equal(lstat(path, &st), 0);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void test_pty(void **state)
{
	struct avp_chardev_cfg cfg = { .kind = AVP_CHR_PTY };
	struct chardev *chr;
	struct chardev_endpoint ep;
	int slave;

	(void)state;
	assert_int_equal(chardev_open_named(&chr, &cfg, false, "console", NULL), 0);
	ep = endpoint_of("console");
	assert_string_equal(ep.backend, "pty");
	assert_memory_equal(ep.path, "/dev/pts/", 9);
	assert_false(ep.connected);

	flood(chr, "console");

	slave = open(ep.path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(slave >= 0);
	wait_connected("console", true);
	dev_write_all(chr, "PTY-MARK", 8);
	read_until(chr, slave, "PTY-MARK");
	assert_int_equal(write(slave, "keys", 4), 4);
	expect_input(chr, "keys");

	close(slave);
	wait_connected("console", false);
	flood(chr, "console");
	slave = open(ep.path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	assert_true(slave >= 0);
	dev_write_all(chr, "PTY-AGAIN", 9);
	read_until(chr, slave, "PTY-AGAIN");
	chardev_close(chr);
	close(slave);
	assert_int_equal(chardev_endpoints(&ep, 1), 0);
}

/* avp opens its chardevs before the main thread blocks SIGTERM for its
 * signalfd: a relay thread that took a process-directed SIGTERM would end
 * avp by the default action, skipping teardown (sockets left behind). */
static void test_relay_takes_no_signals(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct avp_chardev_cfg cfg = { .kind = AVP_CHR_PTY };
		struct chardev *chr;
		sigset_t term, pending;

		if (chardev_open(&chr, &cfg, false))
			_exit(10);
		sigemptyset(&term);
		sigaddset(&term, SIGTERM);
		pthread_sigmask(SIG_BLOCK, &term, NULL);
		kill(getpid(), SIGTERM);
		usleep(200 * 1000);
		sigpending(&pending);
		_exit(sigismember(&pending, SIGTERM) ? 0 : 11);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the process died of signal %d: the relay thread took it", WTERMSIG(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_roundtrip),
		cmocka_unit_test(test_socket_refuses_other_files),
		cmocka_unit_test(test_pty),
		cmocka_unit_test(test_relay_takes_no_signals),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
