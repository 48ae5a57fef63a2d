/* Guest side of the vsock test (tests/guest/vsock.sh), built static into
 * the reference initrd by scripts/mkguest.
 *
 *   vsock_echo listen PORT COUNT
 *       listens on AF_VSOCK port PORT, echoes each connection until its
 *       peer half-closes, and exits 0 after COUNT connections were served
 *       (each in a child process, so they run at once). Prints
 *       "accepted from CID:PORT" for each (the peer as this guest sees it).
 *   vsock_echo connect CID PORT BYTES [RETRY_S]
 *       connects to CID:PORT, sends BYTES of a pattern while reading the
 *       echo, half-closes, and checks that exactly the same bytes came back.
 *       Exit 0 when they did. A refused connect is retried for RETRY_S
 *       seconds (default 0: fail at once), for a peer that is still
 *       booting; a failure says how long the last attempt took.
 *   vsock_echo cid
 *       prints the guest's own CID (from /dev/vsock).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static unsigned char pattern(unsigned long i, unsigned int seed)
{
	return (unsigned char)(i * 31 + i / 257 + seed * 7);
}

static int echo_one(int fd)
{
	static char buf[65536];
	unsigned long total = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("vsock_echo: read");
			return 1;
		}
		if (n == 0)
			break;
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(fd, buf + off, (size_t)(n - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				perror("vsock_echo: write");
				return 1;
			}
			off += w;
		}
		total += (unsigned long)n;
	}
	printf("vsock_echo: echoed %lu bytes\n", total);
	fflush(stdout);
	close(fd);
	return 0;
}

static int do_listen(unsigned int port, int count)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				    .svm_port = port };
	int lfd = socket(AF_VSOCK, SOCK_STREAM, 0), failed = 0;

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 16)) {
		perror("vsock_echo: listen");
		return 1;
	}
	printf("vsock_echo: listening on port %u for %d connection(s)\n", port, count);
	fflush(stdout);
	for (int i = 0; i < count; i++) {
		struct sockaddr_vm peer = { 0 };
		socklen_t plen = sizeof(peer);
		int fd = accept(lfd, (struct sockaddr *)&peer, &plen);
		pid_t pid;

		if (fd < 0) {
			perror("vsock_echo: accept");
			return 1;
		}
		printf("vsock_echo: accepted from %u:%u\n", peer.svm_cid, peer.svm_port);
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			close(lfd);
			_exit(echo_one(fd));
		}
		close(fd);
	}
	for (int i = 0; i < count; i++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
			failed++;
	}
	close(lfd);
	return failed ? 1 : 0;
}

/* A connected socket, or -1 after printing why (and how long the last
 * attempt took: a refusal must be quick, not a timeout). */
static int connect_retry(unsigned int cid, unsigned int port, unsigned int retry_s)
{
	struct sockaddr_vm addr = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	/* Linux's default is 2 s; a nested test host may be slower. */
	struct timeval tmo = { .tv_sec = 10 };
	long long deadline = now_ms() + (long long)retry_s * 1000;

	for (;;) {
		long long t0 = now_ms();
		int fd = socket(AF_VSOCK, SOCK_STREAM, 0), err;

		if (fd < 0) {
			perror("vsock_echo: socket");
			return -1;
		}
		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tmo, sizeof(tmo));
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return fd;
		err = errno;
		close(fd);
		if ((err == ECONNRESET || err == ECONNREFUSED || err == ETIMEDOUT) &&
		    now_ms() < deadline) {
			usleep(300 * 1000);
			continue;
		}
		fprintf(stderr, "vsock_echo: connect %u:%u: %s (after %lld ms)\n", cid, port,
			strerror(err), now_ms() - t0);
		return -1;
	}
}

static int do_connect(unsigned int cid, unsigned int port, unsigned long bytes,
		      unsigned int retry_s)
{
	static char buf[65536];
	unsigned long sent = 0, got = 0, sum = 0;
	int fd = connect_retry(cid, port, retry_s);
	int shut = 0;

	if (fd < 0)
		return 1;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	/* Write and read at once: an echo peer stops reading when we stop. */
	while (got < bytes || !shut) {
		struct pollfd p = { .fd = fd, .events = POLLIN | (sent < bytes ? POLLOUT : 0) };
		ssize_t n;

		if (sent == bytes && !shut) {
			shutdown(fd, SHUT_WR);
			shut = 1;
		}
		if (poll(&p, 1, 30000) != 1) {
			fprintf(stderr, "vsock_echo: stuck: sent %lu, got %lu of %lu\n", sent, got, bytes);
			return 1;
		}
		if ((p.revents & POLLOUT) && sent < bytes) {
			size_t k = bytes - sent < sizeof(buf) ? bytes - sent : sizeof(buf);

			for (size_t i = 0; i < k; i++)
				buf[i] = (char)pattern(sent + i, port);
			n = write(fd, buf, k);
			if (n > 0)
				sent += (unsigned long)n;
			else if (n < 0 && errno != EAGAIN && errno != EINTR) {
				perror("vsock_echo: write");
				return 1;
			}
		}
		if (p.revents & (POLLIN | POLLHUP)) {
			n = read(fd, buf, sizeof(buf));
			if (n == 0)
				break;
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				perror("vsock_echo: read");
				return 1;
			}
			for (ssize_t i = 0; i < n; i++, got++) {
				sum = (sum * 31 + (unsigned char)buf[i]) % 4294967291ul;
				if (got >= bytes || (unsigned char)buf[i] != pattern(got, port)) {
					fprintf(stderr, "vsock_echo: wrong byte at offset %lu\n", got);
					return 1;
				}
			}
		}
	}
	if (got != bytes) {
		fprintf(stderr, "vsock_echo: got %lu of %lu bytes back\n", got, bytes);
		return 1;
	}
	/* and then the peer closes */
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&p, 1, 30000) != 1) {
			fprintf(stderr, "vsock_echo: no end of stream after the echo\n");
			return 1;
		}
		n = read(fd, buf, 1);
		if (n == 0)
			break;
		if (n > 0) {
			fprintf(stderr, "vsock_echo: extra bytes after the echo\n");
			return 1;
		}
		if (errno != EAGAIN && errno != EINTR)
			break;
	}
	close(fd);
	printf("vsock_echo: %lu bytes to %u:%u and back intact (checksum %lu)\n", bytes, cid, port,
	       sum);
	return 0;
}

static int print_cid(void)
{
	unsigned int cid = 0;
	int fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0) {
		perror("vsock_echo: /dev/vsock");
		return 1;
	}
	printf("%u\n", cid);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc == 2 && strcmp(argv[1], "cid") == 0)
		return print_cid();
	if (argc == 4 && strcmp(argv[1], "listen") == 0)
		return do_listen((unsigned int)strtoul(argv[2], NULL, 10), atoi(argv[3]));
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "connect") == 0)
		return do_connect((unsigned int)strtoul(argv[2], NULL, 10),
				  (unsigned int)strtoul(argv[3], NULL, 10), strtoul(argv[4], NULL, 10),
				  argc == 6 ? (unsigned int)strtoul(argv[5], NULL, 10) : 0);
	fprintf(stderr, "usage: vsock_echo listen PORT COUNT | connect CID PORT BYTES [RETRY_S] | "
			"cid\n");
	return 2;
}
