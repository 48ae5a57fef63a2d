/* Client side of a one-request Unix-socket exchange (see request.h). */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "avp/runtime/request.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until deadline; -ETIMEDOUT. */
static int wait_fd(int fd, short events, long long deadline)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		long long left = deadline - now_ms();
		int n;

		if (left <= 0)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int rt_request(const char *sock_path, const char *line, char *reply, size_t replylen,
	       int timeout_ms)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	long long deadline = now_ms() + timeout_ms;
	size_t len = strlen(line), got = 0;
	int fd, ret = 0;

	if (replylen == 0 || strlen(sock_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	strcpy(addr.sun_path, sock_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = -errno;
		close(fd);
		return ret;
	}
	/* MSG_NOSIGNAL: a peer that went away must not kill the caller. */
	if (send(fd, line, len, MSG_NOSIGNAL) != (ssize_t)len ||
	    send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
		ret = -errno;
		close(fd);
		return ret ? ret : -EIO;
	}
	reply[0] = '\0';
	while (got + 1 < replylen) {
		ssize_t n;

		ret = wait_fd(fd, POLLIN, deadline);
		if (ret)
			break;
		n = recv(fd, reply + got, replylen - 1 - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -ECONNRESET;
			break;
		}
		got += (size_t)n;
		reply[got] = '\0';
		if (memchr(reply, '\n', got))
			break;
	}
	close(fd);
	if (got && memchr(reply, '\n', got)) {
		reply[strcspn(reply, "\n")] = '\0';
		return 0;
	}
	return ret ? ret : -EPROTO;
}
