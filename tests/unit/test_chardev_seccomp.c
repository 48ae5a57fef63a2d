/* The relay of a pty or socket console runs confined to its seccomp role
 * (AVP_THREAD_CHARDEV) in a real VM. Here its whole life runs so, in a
 * forked child with the filter set to kill: a client comes, types, is
 * joined by a second one that is turned away, leaves while the guest goes
 * on writing, comes back; then the end removes the socket file. A call
 * missing from the role kills the child with SIGSYS. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "avp/chardev.h"
#include "avp/config.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* As a device writes: what is not taken now, again once there is room. */
static int dev_write(struct chardev *chr, const char *p, size_t len)
{
	int64_t deadline = now_ms() + 3000;

	while (len) {
		ssize_t n = chardev_write(chr, p, len);
		struct pollfd pfd = { .fd = chardev_output_fd(chr), .events = POLLOUT };

		if (n < 0 || now_ms() > deadline)
			return -1;
		p += n;
		len -= (size_t)n;
		chardev_flush(chr);
		if (len)
			poll(&pfd, 1, 20);
	}
	return 0;
}

/* Reads fd until marker was seen, flushing chr like the device's thread. */
static int seen(struct chardev *chr, int fd, const char *marker)
{
	static char buf[256 * 1024];
	size_t got = 0, mlen = strlen(marker);
	int64_t deadline = now_ms() + 3000;

	while (now_ms() < deadline) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		chardev_flush(chr);
		if (poll(&pfd, 1, 20) <= 0)
			continue;
		if (got == sizeof(buf))
			got = 0;
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
		if (got >= mlen && memcmp(buf + got - mlen, marker, mlen) == 0)
			return 0;
	}
	return -1;
}

static int input_is(struct chardev *chr, const char *text)
{
	char buf[64] = { 0 };
	size_t got = 0;
	int64_t deadline = now_ms() + 3000;

	while (got < strlen(text) && now_ms() < deadline) {
		struct pollfd pfd = { .fd = chardev_input_fd(chr), .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 20) <= 0)
			continue;
		n = read(chardev_input_fd(chr), buf + got, sizeof(buf) - 1 - got);
		if (n > 0)
			got += (size_t)n;
	}
	return strcmp(buf, text) == 0 ? 0 : -1;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

static int flood(struct chardev *chr)
{
	static char junk[200 * 1024];

	memset(junk, 'j', sizeof(junk));
	return dev_write(chr, junk, sizeof(junk));
}

/* The child's main thread plays guest and user; the relay is confined. */
static int socket_life(const char *path)
{
	struct avp_chardev_cfg cc = { .kind = AVP_CHR_SOCKET, .path = (char *)path };
	struct avp_config cfg;
	struct chardev *chr;
	struct stat st;
	char buf[128];
	int c, c2;

	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	if (chardev_open_named(&chr, &cc, false, "serial", &cfg))
		return 10;
	if (flood(chr))
		return 11;
	if ((c = connect_to(path)) < 0)
		return 12;
	if (dev_write(chr, "MARK-1", 6) || seen(chr, c, "MARK-1"))
		return 13;
	if (write(c, "typed", 5) != 5 || input_is(chr, "typed"))
		return 14;
	if ((c2 = connect_to(path)) < 0 || read(c2, buf, sizeof(buf)) <= 0)
		return 15;
	close(c2);
	close(c);
	if (flood(chr))
		return 16;
	if ((c = connect_to(path)) < 0)
		return 17;
	if (dev_write(chr, "MARK-2", 6) || seen(chr, c, "MARK-2"))
		return 18;
	chardev_close(chr);
	close(c);
	if (lstat(path, &st) == 0)
		return 19; /* the relay did not remove its socket */
	return 0;
}

static int pty_life(void)
{
	struct avp_chardev_cfg cc = { .kind = AVP_CHR_PTY };
	struct avp_config cfg;
	struct chardev_endpoint ep;
	struct chardev *chr;
	int s;

	avp_config_init(&cfg);
	cfg.seccomp = AVP_SECCOMP_KILL;
	if (chardev_open_named(&chr, &cc, false, "console", &cfg))
		return 10;
	if (chardev_endpoints(&ep, 1) != 1 || flood(chr))
		return 11;
	s = open(ep.path, O_RDWR | O_NOCTTY | O_NONBLOCK);
	if (s < 0)
		return 12;
	usleep(200 * 1000); /* the relay looks for a reader every 100 ms */
	if (dev_write(chr, "PTY-1", 5) || seen(chr, s, "PTY-1"))
		return 13;
	if (write(s, "keys", 4) != 4 || input_is(chr, "keys"))
		return 14;
	close(s);
	usleep(200 * 1000);
	if (flood(chr))
		return 15;
	chardev_close(chr);
	return 0;
}

static void run_child(int (*fn)(const char *), const char *arg)
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(arg));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status))
		fail_msg("the confined relay was killed by signal %d%s", WTERMSIG(status),
			 WTERMSIG(status) == SIGSYS ? " (SIGSYS: a call outside its role)" : "");
	if (WEXITSTATUS(status))
		fail_msg("the relay's life failed at step %d", WEXITSTATUS(status));
}

static int pty_life_arg(const char *unused)
{
	(void)unused;
	return pty_life();
}

static void test_socket_confined(void **state)
{
	char dir[] = "/tmp/avp-chrsec-XXXXXX", path[96];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/console.sock", dir);
	run_child(socket_life, path);
	assert_int_equal(rmdir(dir), 0);
}

static void test_pty_confined(void **state)
{
	(void)state;
	run_child(pty_life_arg, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_confined),
		cmocka_unit_test(test_pty_confined),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
