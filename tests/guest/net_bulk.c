/* Bulk TCP both ways over a link-local IPv6 address, data checked byte by
 * byte: the proof that virtio-net's checksum and segmentation offloads
 * work (AVP-NET-3). Built static into the reference initrd by
 * scripts/mkguest (guest side), and with the host's gcc for the host side
 * (tests/realguest/net-offload.sh, bench/net-throughput.sh, the
 * conformance suite).
 *
 *   net_bulk serve IFNAME PORT TIMEOUT_S
 *       (host) listens on port PORT of interface IFNAME only, serves one
 *       connection: receives the client's MIB MiB and checks them against
 *       the pattern, then sends MIB MiB of a second pattern, and waits for
 *       the client to close. Exit 0 when every byte matched.
 *   net_bulk connect ADDR%IFNAME PORT MIB [RETRY_S]
 *       (guest) connects (a refused or unreachable connect is retried for
 *       RETRY_S seconds, default 30), sends MIB MiB, then receives and
 *       checks MIB MiB. Also reports IFNAME's average frame size each way
 *       from its statistics: above the 1514-byte Ethernet maximum only when
 *       the driver and device passed GSO frames (TSO), since the statistics
 *       count one GSO frame as one packet.
 *
 * Each side prints "net_bulk: ok - ..." or "net_bulk: not ok - ...", and a
 * machine-readable line, the client
 *   NET_BULK mib=M g2h_ms=T h2g_ms=T tx_avg=B rx_avg=B
 * (g2h: guest to host, measured by the sender until the server says all
 * arrived; h2g: host to guest, by the receiver), the server
 *   NET_BULK_HOST mib=M rx_avg=B tx_avg=B
 * (its interface's average frame sizes during the transfer). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0x42505641u /* "AVPB" */
#define CHUNK 65536
#define MIB (1u << 20)

struct hello {
	uint32_t magic;
	uint32_t mib;
	uint64_t seed;
};

/* xorshift64*: cheap, and no byte repeats at a period a lost or
 * duplicated segment could hide behind. */
struct pat {
	uint64_t x;
	unsigned char buf[CHUNK];
	size_t pos;
};

static void pat_fill(struct pat *p)
{
	for (size_t i = 0; i < CHUNK; i += 8) {
		uint64_t w;

		p->x ^= p->x >> 12;
		p->x ^= p->x << 25;
		p->x ^= p->x >> 27;
		w = p->x * 2685821657736338717ull;
		memcpy(p->buf + i, &w, 8);
	}
	p->pos = 0;
}

static void pat_init(struct pat *p, uint64_t seed)
{
	p->x = seed | 1;
	pat_fill(p);
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* All of len bytes through read or write (io), or -1. */
static int io_all(ssize_t (*io)(int, void *, size_t), int fd, void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = io(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static ssize_t write_io(int fd, void *buf, size_t len)
{
	return write(fd, buf, len);
}

static int write_all(int fd, const void *buf, size_t len)
{
	return io_all(write_io, fd, (void *)buf, len);
}

static int read_all(int fd, void *buf, size_t len)
{
	return io_all(read, fd, buf, len);
}

static int send_pattern(int fd, uint64_t seed, uint32_t mib)
{
	static struct pat p;
	uint64_t left = (uint64_t)mib * MIB;

	pat_init(&p, seed);
	while (left) {
		if (write_all(fd, p.buf, CHUNK) < 0)
			return -1;
		left -= CHUNK;
		pat_fill(&p);
	}
	return 0;
}

/* Receives mib MiB and compares them with the pattern. 0: all matched;
 * -1: the connection failed (errno); 1: a mismatch at *bad. */
static int recv_pattern(int fd, uint64_t seed, uint32_t mib, uint64_t *bad)
{
	static struct pat p;
	static unsigned char buf[CHUNK];
	uint64_t got = 0, want = (uint64_t)mib * MIB;

	pat_init(&p, seed);
	while (got < want) {
		size_t room = want - got < CHUNK ? (size_t)(want - got) : CHUNK;
		ssize_t n = read(fd, buf, room);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = ECONNRESET;
			*bad = got;
			return -1;
		}
		for (size_t i = 0; i < (size_t)n;) {
			size_t k = CHUNK - p.pos < (size_t)n - i ? CHUNK - p.pos : (size_t)n - i;

			if (memcmp(buf + i, p.buf + p.pos, k) != 0) {
				for (size_t j = 0; j < k; j++)
					if (buf[i + j] != p.buf[p.pos + j]) {
						*bad = got + i + j;
						break;
					}
				return 1;
			}
			i += k;
			p.pos += k;
			if (p.pos == CHUNK)
				pat_fill(&p);
		}
		got += (uint64_t)n;
	}
	return 0;
}

/* A transfer that stalls fails with EAGAIN after this long instead of
 * hanging its VM until the test's timeout. */
static void set_timeouts(int fd)
{
	struct timeval tv = { .tv_sec = 60 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static double rate(uint32_t mib, long long ms)
{
	return ms > 0 ? mib * 1000.0 / (double)ms : 0.0;
}

static int stat_read(const char *ifname, const char *name, unsigned long long *v)
{
	char path[160];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", ifname, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fscanf(f, "%llu", v) == 1;
	fclose(f);
	return ok ? 0 : -1;
}

/* Average bytes per packet the interface counted since the counts in b
 * and p, which are updated. */
static unsigned long long avg_since(const char *ifname, const char *dir, unsigned long long *b,
				    unsigned long long *p)
{
	char nb[32], np[32];
	unsigned long long b1 = 0, p1 = 0, avg;

	snprintf(nb, sizeof(nb), "%s_bytes", dir);
	snprintf(np, sizeof(np), "%s_packets", dir);
	if (stat_read(ifname, nb, &b1) || stat_read(ifname, np, &p1))
		return 0;
	avg = p1 > *p ? (b1 - *b) / (p1 - *p) : 0;
	*b = b1;
	*p = p1;
	return avg;
}

static int serve(const char *ifname, int port, int timeout_s)
{
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port),
				  .sin6_addr = IN6ADDR_ANY_INIT };
	struct hello h;
	uint64_t bad = 0;
	long long t0, t1, t2;
	unsigned long long rb = 0, rp = 0, tb = 0, tp = 0, rx_avg, tx_avg;
	char peer[INET6_ADDRSTRLEN] = "?";
	int ls, fd, one = 1, ret;

	alarm((unsigned int)timeout_s);
	ls = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(ls, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) ||
	    bind(ls, (struct sockaddr *)&a, sizeof(a)) || listen(ls, 1)) {
		printf("net_bulk: not ok - listen on %s port %d: %s\n", ifname, port, strerror(errno));
		return 1;
	}
	printf("net_bulk: listening on %s port %d\n", ifname, port);
	fflush(stdout);
	{
		socklen_t al = sizeof(a);

		fd = accept(ls, (struct sockaddr *)&a, &al);
	}
	if (fd < 0) {
		printf("net_bulk: not ok - accept: %s\n", strerror(errno));
		return 1;
	}
	set_timeouts(fd);
	inet_ntop(AF_INET6, &a.sin6_addr, peer, sizeof(peer));
	if (read_all(fd, &h, sizeof(h)) < 0 || h.magic != MAGIC || h.mib == 0 || h.mib > 4096) {
		printf("net_bulk: not ok - bad request from %s\n", peer);
		return 1;
	}
	avg_since(ifname, "rx", &rb, &rp);
	avg_since(ifname, "tx", &tb, &tp);
	t0 = now_ms();
	ret = recv_pattern(fd, h.seed, h.mib, &bad);
	t1 = now_ms();
	if (ret) {
		printf("net_bulk: not ok - from %s: %s at byte %llu of %u MiB\n", peer,
		       ret > 0 ? "wrong data" : strerror(errno), (unsigned long long)bad, h.mib);
		return 1;
	}
	/* "all of it arrived intact": the client's clock for its sending
	 * stops here. */
	if (write_all(fd, "K", 1) < 0 || send_pattern(fd, ~h.seed, h.mib) < 0) {
		printf("net_bulk: not ok - sending to %s: %s\n", peer, strerror(errno));
		return 1;
	}
	/* The client closes once it has checked everything. */
	shutdown(fd, SHUT_WR);
	while (read(fd, &bad, sizeof(bad)) > 0)
		;
	t2 = now_ms();
	rx_avg = avg_since(ifname, "rx", &rb, &rp);
	tx_avg = avg_since(ifname, "tx", &tb, &tp);
	printf("net_bulk: ok - %s sent %u MiB intact (%.1f MiB/s); %u MiB sent back in %.1f s; "
	       "%s averaged %llu bytes/frame in, %llu out\n", peer, h.mib, rate(h.mib, t1 - t0), h.mib,
	       (double)(t2 - t1) / 1000, ifname, rx_avg, tx_avg);
	printf("NET_BULK_HOST mib=%u rx_avg=%llu tx_avg=%llu\n", h.mib, rx_avg, tx_avg);
	return 0;
}

static int dial(const char *target, int port, int retry_s)
{
	char host[128], *pct;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port) };
	long long end = now_ms() + retry_s * 1000ll;

	snprintf(host, sizeof(host), "%s", target);
	pct = strchr(host, '%');
	if (!pct || inet_pton(AF_INET6, (*pct = 0, host), &a.sin6_addr) != 1 ||
	    !(a.sin6_scope_id = if_nametoindex(pct + 1))) {
		printf("net_bulk: not ok - want ADDR%%IFNAME with an IPv6 address, got %s\n", target);
		return -1;
	}
	for (;;) {
		int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			set_timeouts(fd);
			return fd;
		}
		if (fd >= 0)
			close(fd);
		if (now_ms() >= end) {
			printf("net_bulk: not ok - connect to %s port %d: %s\n", target, port, strerror(errno));
			return -1;
		}
		usleep(300 * 1000);
	}
}

static int client(const char *target, int port, uint32_t mib, int retry_s)
{
	const char *ifname = strchr(target, '%') + 1;
	struct hello h = { .magic = MAGIC, .mib = mib, .seed = (uint64_t)now_ms() * 2654435761u };
	unsigned long long tb = 0, tp = 0, rb = 0, rp = 0, tx_avg, rx_avg;
	uint64_t bad = 0;
	long long t0, t1, t2;
	unsigned char first;
	int fd, ret;

	fd = dial(target, port, retry_s);
	if (fd < 0)
		return 1;
	avg_since(ifname, "tx", &tb, &tp);
	avg_since(ifname, "rx", &rb, &rp);
	t0 = now_ms();
	if (write_all(fd, &h, sizeof(h)) < 0 || send_pattern(fd, h.seed, mib) < 0) {
		printf("net_bulk: not ok - sending: %s\n", strerror(errno));
		return 1;
	}
	/* The server answers only once it has checked everything we sent:
	 * its "K" ends the guest-to-host phase. */
	if (read_all(fd, &first, 1) < 0 || first != 'K') {
		printf("net_bulk: not ok - the host did not take the %u MiB (see its log)\n", mib);
		return 1;
	}
	t1 = now_ms();
	tx_avg = avg_since(ifname, "tx", &tb, &tp);
	avg_since(ifname, "rx", &rb, &rp);
	ret = recv_pattern(fd, ~h.seed, mib, &bad);
	t2 = now_ms();
	rx_avg = avg_since(ifname, "rx", &rb, &rp);
	close(fd);
	if (ret) {
		printf("net_bulk: not ok - receiving: %s at byte %llu of %u MiB\n",
		       ret > 0 ? "wrong data" : strerror(errno), (unsigned long long)bad, mib);
		return 1;
	}
	printf("net_bulk: ok - sent %u MiB (%.1f MiB/s), received %u MiB intact (%.1f MiB/s); "
	       "%s averages %llu bytes/frame out, %llu in\n",
	       mib, rate(mib, t1 - t0), mib, rate(mib, t2 - t1), ifname, tx_avg, rx_avg);
	printf("NET_BULK mib=%u g2h_ms=%lld h2g_ms=%lld tx_avg=%llu rx_avg=%llu\n", mib, t1 - t0,
	       t2 - t1, tx_avg, rx_avg);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc == 5 && strcmp(argv[1], "serve") == 0)
		return serve(argv[2], atoi(argv[3]), atoi(argv[4]));
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "connect") == 0 && strchr(argv[2], '%'))
		return client(argv[2], atoi(argv[3]), (uint32_t)strtoul(argv[4], NULL, 0),
			      argc == 6 ? atoi(argv[5]) : 30);
	fprintf(stderr, "usage: net_bulk serve IFNAME PORT TIMEOUT_S\n"
			"       net_bulk connect ADDR%%IFNAME PORT MIB [RETRY_S]\n");
	return 2;
}
