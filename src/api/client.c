/* Client side of a one-request Unix-socket exchange (see api_client.h). */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "avp/api_client.h"

/* The first read buffer; it doubles up to max_reply, so a short reply
 * costs little and a large one (a device may return data) is allowed. */
#define CLIENT_FIRST_BUF 4096

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is ready for events or the deadline passes. */
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

/* A Unix-socket connect blocks only while the listener's backlog is full,
 * and then for at most the socket's send timeout: that bounds it. */
static int connect_to(const char *sock_path, long long deadline)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	long long left = deadline - now_ms();
	struct timeval tv;
	int fd, ret;

	if (strlen(sock_path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, sock_path, strlen(sock_path) + 1);
	if (left <= 0)
		return -ETIMEDOUT;
	tv = (struct timeval){ .tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000 };
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Non-blocking sends, so a peer that does not read cannot hold us past
 * the deadline; MSG_NOSIGNAL: a peer that went away is an error, not
 * SIGPIPE. */
static int send_all(int fd, const char *buf, size_t len, long long deadline)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int ret;

		if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
			ret = wait_fd(fd, POLLOUT, deadline);
			if (ret)
				return ret;
			continue;
		}
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int recv_line(int fd, size_t max_reply, long long deadline, char **reply)
{
	size_t cap = max_reply < CLIENT_FIRST_BUF ? max_reply : CLIENT_FIRST_BUF, len = 0;
	char *buf = malloc(cap + 1);
	int ret;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		char *nl;

		if (len == cap) {
			char *bigger;

			if (cap == max_reply) {
				ret = -EMSGSIZE;
				break;
			}
			cap = cap > max_reply / 2 ? max_reply : cap * 2;
			bigger = realloc(buf, cap + 1);
			if (!bigger) {
				ret = -ENOMEM;
				break;
			}
			buf = bigger;
		}
		ret = wait_fd(fd, POLLIN, deadline);
		if (ret)
			break;
		n = recv(fd, buf + len, cap - len, MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0) {
			ret = n < 0 ? -errno : -ECONNRESET;
			break;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		len += (size_t)n;
		if (nl) {
			*nl = '\0';
			*reply = buf;
			return 0;
		}
	}
	free(buf);
	return ret;
}

int api_client_request(const char *sock_path, const char *line, size_t max_reply,
		       int timeout_ms, char **reply, enum api_client_step *failed)
{
	long long deadline = now_ms() + timeout_ms;
	enum api_client_step step = API_CLIENT_CONNECT;
	int fd, ret;

	*reply = NULL;
	fd = connect_to(sock_path, deadline);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	step = API_CLIENT_SEND;
	ret = send_all(fd, line, strlen(line), deadline);
	if (!ret)
		ret = send_all(fd, "\n", 1, deadline);
	if (!ret) {
		step = API_CLIENT_RECEIVE;
		ret = max_reply ? recv_line(fd, max_reply, deadline, reply) : -EMSGSIZE;
	}
	close(fd);
out:
	if (failed)
		*failed = step;
	return ret;
}
