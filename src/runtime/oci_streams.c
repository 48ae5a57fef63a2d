/* The container's stdin, stdout, stderr and exit status between the
 * guest and the container process (oci_streams.h). avp's vsock device
 * hands a guest's connection to host port N to whoever listens on
 * SOCKET_N (docs/devices.md, "Guest to host"): the container process
 * listens there and copies, so the three streams stay separate and the
 * engine's EOF on stdin reaches the process in the guest. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "avp/runtime/oci_guest.h"
#include "avp/runtime/oci_streams.h"

#define CHUNK 65536

enum { IN, OUT, ERR, STATUS };

static const unsigned int ports[OCI_STREAMS] = { OCI_PORT_STDIN, OCI_PORT_STDOUT,
						 OCI_PORT_STDERR, OCI_PORT_STATUS };

static int path_of(const struct oci_streams *s, int i, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	return snprintf(sa->sun_path, sizeof(sa->sun_path), "%s_%u", s->base, ports[i]) <
			       (int)sizeof(sa->sun_path)
		       ? 0
		       : -ENAMETOOLONG;
}

int oci_streams_listen(struct oci_streams *s, const char *base)
{
	memset(s, 0, sizeof(*s));
	s->status = -1;
	if (snprintf(s->base, sizeof(s->base), "%s", base) >= (int)sizeof(s->base))
		return -ENAMETOOLONG;
	for (int i = 0; i < OCI_STREAMS; i++)
		s->listen[i] = s->conn[i] = -1;
	for (int i = 0; i < OCI_STREAMS; i++) {
		struct sockaddr_un sa;
		int ret = path_of(s, i, &sa);

		if (ret)
			return ret;
		unlink(sa.sun_path);
		s->listen[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (s->listen[i] < 0 || bind(s->listen[i], (struct sockaddr *)&sa, sizeof(sa)) ||
		    listen(s->listen[i], 1))
			return -errno;
	}
	return 0;
}

int oci_streams_fds(const struct oci_streams *s, struct pollfd *p)
{
	int n = 0;

	for (int i = 0; i < OCI_STREAMS; i++) {
		if (s->listen[i] >= 0)
			p[n++] = (struct pollfd){ .fd = s->listen[i], .events = POLLIN };
		else if (i == IN && s->conn[i] >= 0 && !s->in_eof)
			p[n++] = (struct pollfd){ .fd = 0, .events = POLLIN };
		else if (i != IN && s->conn[i] >= 0)
			p[n++] = (struct pollfd){ .fd = s->conn[i], .events = POLLIN };
	}
	return n;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* the engine stopped reading: drop, as a closed pipe would */
		p += w;
		n -= (size_t)w;
	}
}

static void close_conn(struct oci_streams *s, int i)
{
	close(s->conn[i]);
	s->conn[i] = -2; /* done: neither listened on nor read */
}

/* Reads what conn i has now; false at its end. */
static bool pump(struct oci_streams *s, int i)
{
	char buf[CHUNK];
	ssize_t n = read(s->conn[i], buf, i == STATUS ? sizeof(s->line) - 1 - s->len : sizeof(buf));

	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	if (n == 0)
		return false;
	if (i == STATUS) {
		memcpy(s->line + s->len, buf, (size_t)n);
		s->len += (unsigned int)n;
		s->line[s->len] = '\0';
		if (strncmp(s->line, "exit ", 5) == 0 && strchr(s->line, '\n'))
			s->status = atoi(s->line + 5) & 0xff;
		return s->len < sizeof(s->line) - 1;
	}
	write_all(i == OUT ? 1 : 2, buf, (size_t)n);
	return true;
}

static void feed_stdin(struct oci_streams *s)
{
	char buf[CHUNK];
	ssize_t n = read(0, buf, sizeof(buf));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		/* The engine's EOF becomes the process's. */
		shutdown(s->conn[IN], SHUT_WR);
		s->in_eof = true;
		return;
	}
	write_all(s->conn[IN], buf, (size_t)n);
}

void oci_streams_run(struct oci_streams *s, const struct pollfd *p, int n)
{
	for (int k = 0; k < n; k++) {
		if (!p[k].revents)
			continue;
		for (int i = 0; i < OCI_STREAMS; i++) {
			if (p[k].fd == s->listen[i]) {
				int c = accept4(s->listen[i], NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

				if (c < 0)
					continue;
				/* One connection per stream: the guest's init. */
				close(s->listen[i]);
				s->listen[i] = -1;
				s->conn[i] = c;
			} else if (i == IN && p[k].fd == 0 && s->conn[IN] >= 0) {
				feed_stdin(s);
			} else if (i != IN && p[k].fd == s->conn[i] && !pump(s, i)) {
				close_conn(s, i);
			}
		}
	}
}

void oci_streams_finish(struct oci_streams *s)
{
	for (int i = 0; i < OCI_STREAMS; i++) {
		struct sockaddr_un sa;

		if (i != IN && s->conn[i] >= 0) {
			/* The VMM has ended: its ends are closed, reads end. */
			int fl = fcntl(s->conn[i], F_GETFL);

			fcntl(s->conn[i], F_SETFL, fl & ~O_NONBLOCK);
			while (pump(s, i) && s->conn[i] >= 0)
				;
		}
		if (s->conn[i] >= 0)
			close(s->conn[i]);
		if (s->listen[i] >= 0)
			close(s->listen[i]);
		if (path_of(s, i, &sa) == 0)
			unlink(sa.sun_path);
	}
}

bool oci_streams_guest_ready(const struct oci_streams *s)
{
	return s->conn[STATUS] != -1;
}
