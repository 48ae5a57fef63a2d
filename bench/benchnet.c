/* Stream round-trip latency and bulk throughput for scripts/bench, over
 * TCP (link-local IPv6), vsock, or the Unix socket avp's vsock device
 * connects to on the host (Firecracker's convention: the guest's
 * connection to CID 2 port P arrives on PATH_P). Debian has iperf3 for
 * TCP bulk but nothing for request/response latency or for vsock, hence
 * this. Built static into the benchmark guest's extra initramfs, and with
 * the host's gcc for the host side.
 *
 *   benchnet serve tcp PORT | vsock PORT | unix PATH
 *       (host) serves connections one after another until killed. A
 *       connection starts with one byte: 'R' echoes 64-byte messages
 *       until the peer closes; 'S' is followed by an 8-byte length, that
 *       many bytes are read and one byte answers when all arrived.
 *   benchnet rr tcp ADDR%IF PORT N | rr vsock CID PORT N
 *       (guest) N round trips of 64 bytes; prints "rr_us=MEDIAN" (µs).
 *   benchnet bulk tcp ADDR%IF PORT MIB | bulk vsock CID PORT MIB
 *       (guest) sends MIB MiB; prints "mibs=RATE" (MiB/s until the
 *       server confirmed all of it).
 *   benchnet pull tcp ADDR%IF PORT MIB | pull vsock CID PORT MIB
 *       (guest) receives MIB MiB from the server; prints "mibs=RATE".
 * A connect that is refused is retried for 30 s (the host's server may
 * start after the guest). Exit status 0 on success. */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define MSG 64
#define CHUNK (256 * 1024)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int full_io(int fd, void *buf, size_t n, int wr)
{
	char *p = buf;

	while (n) {
		ssize_t r = wr ? write(fd, p, n) : read(fd, p, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void serve_one(int c)
{
	char op, buf[CHUNK];
	uint64_t len;

	if (full_io(c, &op, 1, 0))
		return;
	if (op == 'R') {
		while (!full_io(c, buf, MSG, 0) && !full_io(c, buf, MSG, 1))
			;
	} else if (op == 'S' && !full_io(c, &len, sizeof(len), 0)) {
		while (len) {
			ssize_t r = read(c, buf, len < CHUNK ? len : CHUNK);

			if (r <= 0)
				return;
			len -= (uint64_t)r;
		}
		full_io(c, &op, 1, 1);
	} else if (op == 'G' && !full_io(c, &len, sizeof(len), 0)) {
		memset(buf, 0x5a, sizeof(buf));
		while (len) {
			size_t k = len < CHUNK ? len : CHUNK;

			if (full_io(c, buf, k, 1))
				return;
			len -= k;
		}
	}
}

static int serve(const char *kind, const char *arg)
{
	int one = 1, s, c;

	if (!strcmp(kind, "tcp")) {
		struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(arg)) };

		s = socket(AF_INET6, SOCK_STREAM, 0);
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (void *)&a, sizeof(a)))
			return perror("benchnet: bind"), 1;
	} else if (!strcmp(kind, "vsock")) {
		struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
					 .svm_port = (unsigned)atoi(arg) };

		s = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (s < 0 || bind(s, (void *)&a, sizeof(a)))
			return perror("benchnet: vsock bind"), 1;
	} else {
		struct sockaddr_un a = { .sun_family = AF_UNIX };

		snprintf(a.sun_path, sizeof(a.sun_path), "%s", arg);
		unlink(arg);
		s = socket(AF_UNIX, SOCK_STREAM, 0);
		if (bind(s, (void *)&a, sizeof(a)))
			return perror("benchnet: unix bind"), 1;
	}
	if (listen(s, 4))
		return perror("benchnet: listen"), 1;
	for (;;) {
		c = accept(s, NULL, NULL);
		if (c < 0)
			continue;
		if (strcmp(kind, "unix"))
			setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		serve_one(c);
		close(c);
	}
}

static int dial(const char *kind, const char *addr, const char *port)
{
	for (int tries = 0; tries < 300; tries++) {
		int s, one = 1, ok;

		if (!strcmp(kind, "tcp")) {
			/* ADDR%IF by hand: getaddrinfo in a static binary wants NSS */
			struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(atoi(port)) };
			char host[64];
			char *pct;

			snprintf(host, sizeof(host), "%s", addr);
			pct = strchr(host, '%');
			if (pct) {
				*pct = 0;
				a.sin6_scope_id = if_nametoindex(pct + 1);
			}
			if (inet_pton(AF_INET6, host, &a.sin6_addr) != 1)
				return fprintf(stderr, "benchnet: bad address %s\n", addr), -1;
			s = socket(AF_INET6, SOCK_STREAM, 0);
			ok = !connect(s, (void *)&a, sizeof(a));
			setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		} else {
			struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = (unsigned)atoi(addr),
						 .svm_port = (unsigned)atoi(port) };

			s = socket(AF_VSOCK, SOCK_STREAM, 0);
			ok = s >= 0 && !connect(s, (void *)&a, sizeof(a));
		}
		if (ok)
			return s;
		close(s);
		usleep(100000);
	}
	perror("benchnet: connect");
	return -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve(argv[2], argv[3]);
	if (argc != 6 || (strcmp(argv[1], "rr") && strcmp(argv[1], "bulk") && strcmp(argv[1], "pull"))) {
		fprintf(stderr, "usage: benchnet serve tcp|vsock|unix ARG | rr|bulk|pull tcp|vsock ADDR PORT N\n");
		return 2;
	}
	int s = dial(argv[2], argv[3], argv[4]);
	long n = atol(argv[5]);
	char buf[CHUNK] = { 0 };

	if (s < 0 || n <= 0)
		return 1;
	if (!strcmp(argv[1], "rr")) {
		double *t = calloc((size_t)n, sizeof(*t));

		if (!t || full_io(s, "R", 1, 1))
			return 1;
		for (long i = 0; i < n; i++) {
			double t0 = now_us();

			if (full_io(s, buf, MSG, 1) || full_io(s, buf, MSG, 0))
				return fprintf(stderr, "benchnet: rr broke off\n"), 1;
			t[i] = now_us() - t0;
		}
		qsort(t, (size_t)n, sizeof(*t), cmp_double);
		printf("rr_us=%.1f\n", t[n / 2]);
		return 0;
	}
	uint64_t len = (uint64_t)n << 20, left = len;
	double t0 = now_us();

	if (!strcmp(argv[1], "pull")) {
		if (full_io(s, "G", 1, 1) || full_io(s, &len, sizeof(len), 1))
			return 1;
		while (left) {
			ssize_t r = read(s, buf, left < CHUNK ? left : CHUNK);

			if (r <= 0)
				return fprintf(stderr, "benchnet: pull broke off\n"), 1;
			left -= (uint64_t)r;
		}
		printf("mibs=%.1f\n", (double)n / ((now_us() - t0) / 1e6));
		return 0;
	}

	if (full_io(s, "S", 1, 1) || full_io(s, &len, sizeof(len), 1))
		return 1;
	while (left) {
		size_t k = left < CHUNK ? left : CHUNK;

		if (full_io(s, buf, k, 1))
			return fprintf(stderr, "benchnet: bulk broke off\n"), 1;
		left -= k;
	}
	if (full_io(s, buf, 1, 0))
		return fprintf(stderr, "benchnet: no confirmation\n"), 1;
	printf("mibs=%.1f\n", (double)n / ((now_us() - t0) / 1e6));
	return 0;
}
