// SPDX-License-Identifier: GPL-2.0
/*
 * cantest - raw SocketCAN checks for avp's virtio-can tests, on either
 * side (built static: it runs in the reference guest, which has only
 * busybox, and in the test host).
 *
 *   cantest tx IF SPEC N [GAP_US]     send N frames of SPEC
 *   cantest rx IF SPEC N [TIMEOUT_MS] receive N frames of SPEC, check each
 *                                     byte and their order; "ready" once bound
 *   cantest echo IF ID N [TIMEOUT_MS] answer N frames with ID (standard or
 *                                     extended) by the same frame with ID+1
 *                                     (latency reflector; the conformance
 *                                     agent's AVP-CAN-1 peer)
 *   cantest ping IF ID N [TIMEOUT_MS] N round trips through an echo; prints
 *                                     median, p99, mean and frames/s
 *   cantest flood IF ID N             send N classic frames back to back,
 *                                     numbered; ENOBUFS is waited out
 *   cantest count IF ID N [TIMEOUT_MS] count a flood's frames with ID: lost,
 *                                     out of order, changed, frames/s
 *   cantest state IF                  the controller state (IFLA_CAN_STATE),
 *                                     as ip -details prints it
 *   cantest busoff IF [TIMEOUT_MS]    wait for a bus-off error frame
 *
 * SPEC is KIND:ID with KIND classic (8 bytes), fd (64 bytes), ext
 * (classic, 29-bit ID), fdext (FD, 29-bit ID) or rtr (remote request,
 * DLC 4). Frame k of a run carries pattern(k, j) at byte j, so a byte
 * lost, moved or changed anywhere is seen. Lines are "cantest: ..."; the
 * exit status is 0 only when every check held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/can.h>
#include <linux/can/error.h>
#include <linux/can/netlink.h>
#include <linux/can/raw.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct spec {
	const char *kind;
	bool fd, ext, rtr;
	uint32_t id;
	uint8_t len;
};

static int die(const char *what)
{
	printf("cantest: error: %s: %s\n", what, strerror(errno));
	return 2;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint8_t pattern(unsigned k, unsigned j)
{
	return (uint8_t)(k * 37u + j * 11u + 0x5a);
}

static int parse_spec(const char *s, struct spec *sp)
{
	const char *colon = strchr(s, ':');
	char *end;

	if (!colon)
		return -1;
	memset(sp, 0, sizeof(*sp));
	if (!strncmp(s, "classic:", 8)) {
		sp->kind = "classic";
		sp->len = 8;
	} else if (!strncmp(s, "fd:", 3)) {
		sp->kind = "fd";
		sp->fd = true;
		sp->len = 64;
	} else if (!strncmp(s, "ext:", 4)) {
		sp->kind = "ext";
		sp->ext = true;
		sp->len = 8;
	} else if (!strncmp(s, "fdext:", 6)) {
		sp->kind = "fdext";
		sp->fd = sp->ext = true;
		sp->len = 64;
	} else if (!strncmp(s, "rtr:", 4)) {
		sp->kind = "rtr";
		sp->rtr = true;
		sp->len = 4;
	} else {
		return -1;
	}
	errno = 0;
	sp->id = (uint32_t)strtoul(colon + 1, &end, 0);
	if (errno || *end || sp->id > (sp->ext ? CAN_EFF_MASK : CAN_SFF_MASK))
		return -1;
	return 0;
}

/* A raw socket on IF with FD frames on; only ID (when id_filter) passes. */
static int open_can(const char *ifname, bool id_filter, uint32_t id, bool ext)
{
	struct sockaddr_can addr = { .can_family = AF_CAN };
	int fd, on = 1;

	fd = socket(PF_CAN, SOCK_RAW, CAN_RAW);
	if (fd < 0)
		return -1;
	addr.can_ifindex = (int)if_nametoindex(ifname);
	if (!addr.can_ifindex) {
		close(fd);
		return -1;
	}
	if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FD_FRAMES, &on, sizeof(on)) < 0) {
		/* a classic-only interface: classic frames still work */
		if (errno != ENOPROTOOPT && errno != EINVAL)
			goto fail;
	}
	if (id_filter) {
		struct can_filter f = {
			.can_id = id | (ext ? CAN_EFF_FLAG : 0),
			.can_mask = (ext ? CAN_EFF_MASK : CAN_SFF_MASK) | CAN_EFF_FLAG,
		};
		if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, &f, sizeof(f)) < 0)
			goto fail;
	}
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static void build(const struct spec *sp, unsigned k, struct canfd_frame *f)
{
	memset(f, 0, sizeof(*f));
	f->can_id = sp->id | (sp->ext ? CAN_EFF_FLAG : 0) | (sp->rtr ? CAN_RTR_FLAG : 0);
	f->len = sp->len;
	if (!sp->rtr)
		for (unsigned j = 0; j < sp->len; j++)
			f->data[j] = pattern(k, j);
}

/* write() of one frame; a full device queue (ENOBUFS) is waited out. */
static int send_frame(int fd, const struct canfd_frame *f, bool fdf)
{
	size_t n = fdf ? CANFD_MTU : CAN_MTU;

	for (;;) {
		ssize_t w = write(fd, f, n);

		if (w == (ssize_t)n)
			return 0;
		if (w < 0 && errno == ENOBUFS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			poll(&p, 1, 10);
			continue;
		}
		return -1;
	}
}

/* Read one frame within timeout_ms: its size, 0 on timeout, <0 on error. */
static ssize_t recv_frame(int fd, struct canfd_frame *f, int timeout_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int r = poll(&p, 1, timeout_ms);

	if (r <= 0)
		return r;
	return read(fd, f, sizeof(*f));
}

static int cmd_tx(const char *ifn, const struct spec *sp, unsigned n, unsigned gap_us)
{
	struct canfd_frame f;
	int fd = open_can(ifn, false, 0, false);

	if (fd < 0)
		return die("socket");
	for (unsigned k = 0; k < n; k++) {
		build(sp, k, &f);
		if (send_frame(fd, &f, sp->fd) < 0) {
			printf("cantest: tx %s: frame %u of %u: %s\n", sp->kind, k, n, strerror(errno));
			return 1;
		}
		if (gap_us)
			usleep(gap_us);
	}
	printf("cantest: tx %s id=0x%x: sent %u\n", sp->kind, sp->id, n);
	return 0;
}

static int cmd_rx(const char *ifn, const struct spec *sp, unsigned n, int timeout_ms)
{
	struct canfd_frame f, want;
	unsigned got = 0, bad = 0;
	uint64_t end;
	int fd = open_can(ifn, true, sp->id, sp->ext);

	if (fd < 0)
		return die("socket");
	printf("cantest: ready\n");
	fflush(stdout);
	end = now_ns() + (uint64_t)timeout_ms * 1000000u;
	while (got < n) {
		uint64_t t = now_ns();
		ssize_t r;

		if (t >= end)
			break;
		r = recv_frame(fd, &f, (int)((end - t) / 1000000u) + 1);
		if (r < 0)
			return die("read");
		if (r == 0)
			continue;
		build(sp, got, &want);
		if ((size_t)r != (sp->fd ? CANFD_MTU : CAN_MTU)) {
			printf("cantest: rx %s frame %u: %zd bytes, want %s\n", sp->kind, got, r,
			       sp->fd ? "an FD frame" : "a classic frame");
			bad++;
		} else if (f.can_id != want.can_id || f.len != want.len) {
			printf("cantest: rx %s frame %u: id 0x%x len %u, want id 0x%x len %u\n",
			       sp->kind, got, f.can_id, f.len, want.can_id, want.len);
			bad++;
		} else if (!sp->rtr && memcmp(f.data, want.data, want.len)) {
			unsigned j = 0;

			while (f.data[j] == want.data[j])
				j++;
			printf("cantest: rx %s frame %u: byte %u is 0x%02x, want 0x%02x\n", sp->kind,
			       got, j, f.data[j], want.data[j]);
			bad++;
		}
		got++;
	}
	printf("cantest: rx %s id=0x%x: %u of %u frames, %u bad\n", sp->kind, sp->id, got, n, bad);
	return got == n && bad == 0 ? 0 : 1;
}

static int cmd_echo(const char *ifn, uint32_t id, unsigned n, int timeout_ms)
{
	/* ID as a standard and as an extended identifier */
	struct can_filter fl[2] = {
		{ .can_id = id, .can_mask = CAN_SFF_MASK | CAN_EFF_FLAG },
		{ .can_id = id | CAN_EFF_FLAG, .can_mask = CAN_EFF_MASK | CAN_EFF_FLAG },
	};
	struct canfd_frame f;
	unsigned done = 0;
	int fd = open_can(ifn, false, 0, false);

	if (fd < 0 || setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, fl, sizeof(fl)) < 0)
		return die("socket");
	printf("cantest: ready\n");
	fflush(stdout);
	while (done < n) {
		ssize_t r = recv_frame(fd, &f, timeout_ms);

		/* the interface went down and up again (a bus-off test): the
		 * socket reports it once, then works on
		 */
		if (r < 0 && errno == ENETDOWN) {
			usleep(10000);
			continue;
		}
		if (r <= 0)
			break;
		if (f.can_id & CAN_EFF_FLAG)
			f.can_id = (f.can_id & ~CAN_EFF_MASK) | ((id + 1) & CAN_EFF_MASK);
		else
			f.can_id = (f.can_id & ~CAN_SFF_MASK) | ((id + 1) & CAN_SFF_MASK);
		if (send_frame(fd, &f, r == CANFD_MTU) < 0)
			return die("write");
		done++;
	}
	printf("cantest: echo: answered %u of %u\n", done, n);
	return done == n ? 0 : 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static int cmd_ping(const char *ifn, uint32_t id, unsigned n, int timeout_ms)
{
	struct spec sp = { .kind = "classic", .id = id, .len = 8 };
	struct canfd_frame f, r;
	uint64_t *rtt, t0, sum = 0;
	int tx = open_can(ifn, false, 0, false), rx = open_can(ifn, true, id + 1, false);

	if (tx < 0 || rx < 0 || !(rtt = calloc(n, sizeof(*rtt))))
		return die("socket");
	t0 = now_ns();
	for (unsigned k = 0; k < n; k++) {
		uint64_t s = now_ns();
		ssize_t got;

		build(&sp, k, &f);
		if (send_frame(tx, &f, false) < 0)
			return die("write");
		got = recv_frame(rx, &r, timeout_ms);
		if (got <= 0) {
			printf("cantest: ping: no answer to frame %u of %u\n", k, n);
			return 1;
		}
		rtt[k] = now_ns() - s;
		sum += rtt[k];
		if (memcmp(r.data, f.data, 8)) {
			printf("cantest: ping: frame %u came back changed\n", k);
			return 1;
		}
	}
	double secs = (double)(now_ns() - t0) / 1e9;

	qsort(rtt, n, sizeof(*rtt), cmp_u64);
	printf("cantest: ping %u round trips: median %.1f us, p99 %.1f us, mean %.1f us, max %.1f us, %.0f round trips/s\n",
	       n, rtt[n / 2] / 1e3, rtt[(size_t)((n - 1) * 0.99)] / 1e3, (double)sum / n / 1e3,
	       rtt[n - 1] / 1e3, n / secs);
	free(rtt);
	return 0;
}

static int cmd_flood(const char *ifn, uint32_t id, unsigned n)
{
	struct spec sp = { .kind = "classic", .id = id, .len = 8 };
	struct canfd_frame f;
	uint64_t t0;
	int fd = open_can(ifn, false, 0, false);

	if (fd < 0)
		return die("socket");
	t0 = now_ns();
	for (unsigned k = 0; k < n; k++) {
		build(&sp, k, &f);
		/* the frame's number, for the counter's loss and order check */
		memcpy(f.data, &k, sizeof(k));
		if (send_frame(fd, &f, false) < 0)
			return die("write");
	}
	printf("cantest: flood: %u frames sent, %.0f frames/s\n", n,
	       n / ((double)(now_ns() - t0) / 1e9));
	return 0;
}

static int cmd_count(const char *ifn, uint32_t id, unsigned n, int timeout_ms)
{
	struct canfd_frame f;
	unsigned got = 0, bad = 0, late = 0, next = 0;
	uint64_t t0 = 0, t1 = 0;
	struct spec sp = { .kind = "classic", .id = id, .len = 8 };
	int fd = open_can(ifn, true, id, false);

	if (fd < 0)
		return die("socket");
	printf("cantest: ready\n");
	fflush(stdout);
	while (got < n) {
		struct canfd_frame want;
		unsigned k;
		ssize_t r = recv_frame(fd, &f, timeout_ms);

		if (r <= 0)
			break;
		t1 = now_ns();
		if (!got)
			t0 = t1;
		/* a flood's frame k: k in bytes 0-3, the pattern after */
		memcpy(&k, f.data, sizeof(k));
		build(&sp, k, &want);
		if (f.len != 8 || memcmp(f.data + 4, want.data + 4, 4))
			bad++;
		else if (k < next)
			late++;
		else
			next = k + 1;
		got++;
		if (next >= n)
			break;
	}
	printf("cantest: count: %u of %u frames (%u lost, %u out of order, %u changed), %.0f frames/s\n", got, n,
	       next > got ? next - got : 0, late, bad,
	       got > 1 ? (got - 1) / ((double)(t1 - t0) / 1e9) : 0.0);
	return got == n && !bad && !late ? 0 : 1;
}

static const char *state_name(uint32_t s)
{
	static const char *const names[] = { "ERROR-ACTIVE", "ERROR-WARNING", "ERROR-PASSIVE",
					     "BUS-OFF", "STOPPED", "SLEEPING" };

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "UNKNOWN";
}

/* RTM_GETLINK for IF; IFLA_LINKINFO / IFLA_INFO_DATA / IFLA_CAN_STATE. */
static int cmd_state(const char *ifn)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = { 0 };
	static char buf[16384];
	int fd = socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	ssize_t n;

	if (fd < 0)
		return die("netlink");
	req.nh.nlmsg_len = sizeof(req);
	req.nh.nlmsg_type = RTM_GETLINK;
	req.nh.nlmsg_flags = NLM_F_REQUEST;
	req.ifi.ifi_family = AF_UNSPEC;
	req.ifi.ifi_index = (int)if_nametoindex(ifn);
	if (!req.ifi.ifi_index)
		return die(ifn);
	if (send(fd, &req, sizeof(req), 0) < 0 || (n = recv(fd, buf, sizeof(buf), 0)) < 0)
		return die("netlink");
	for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n);
	     nh = NLMSG_NEXT(nh, n)) {
		if (nh->nlmsg_type != RTM_NEWLINK)
			continue;
		struct ifinfomsg *ifi = NLMSG_DATA(nh);
		int alen = (int)IFLA_PAYLOAD(nh);

		for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
			if (a->rta_type != IFLA_LINKINFO)
				continue;
			int ilen = (int)RTA_PAYLOAD(a);

			for (struct rtattr *i = RTA_DATA(a); RTA_OK(i, ilen); i = RTA_NEXT(i, ilen)) {
				if (i->rta_type != IFLA_INFO_DATA)
					continue;
				int dlen = (int)RTA_PAYLOAD(i);

				for (struct rtattr *d = RTA_DATA(i); RTA_OK(d, dlen);
				     d = RTA_NEXT(d, dlen)) {
					if (d->rta_type == IFLA_CAN_STATE) {
						uint32_t s;

						memcpy(&s, RTA_DATA(d), sizeof(s));
						printf("cantest: state %s %s\n", ifn, state_name(s));
						return 0;
					}
				}
			}
		}
	}
	printf("cantest: state %s: no IFLA_CAN_STATE (not a CAN device?)\n", ifn);
	return 1;
}

static int cmd_busoff(const char *ifn, int timeout_ms)
{
	struct sockaddr_can addr = { .can_family = AF_CAN };
	can_err_mask_t m = CAN_ERR_BUSOFF;
	struct canfd_frame f;
	int fd = socket(PF_CAN, SOCK_RAW, CAN_RAW);

	if (fd < 0)
		return die("socket");
	addr.can_ifindex = (int)if_nametoindex(ifn);
	/* no data filters at all: only the error frames asked for */
	if (setsockopt(fd, SOL_CAN_RAW, CAN_RAW_FILTER, NULL, 0) < 0 ||
	    setsockopt(fd, SOL_CAN_RAW, CAN_RAW_ERR_FILTER, &m, sizeof(m)) < 0 ||
	    bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
		return die("socket");
	printf("cantest: ready\n");
	fflush(stdout);
	for (;;) {
		ssize_t r = recv_frame(fd, &f, timeout_ms);

		if (r <= 0)
			break;
		if ((f.can_id & CAN_ERR_FLAG) && (f.can_id & CAN_ERR_BUSOFF)) {
			printf("cantest: busoff: error frame 0x%x\n", f.can_id);
			return 0;
		}
	}
	printf("cantest: busoff: no bus-off error frame in %d ms\n", timeout_ms);
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: cantest tx|rx IF KIND:ID N [GAP_US|TIMEOUT_MS]\n"
			"       cantest echo|ping|count IF ID N [TIMEOUT_MS]\n"
			"       cantest flood IF ID N\n"
			"       cantest state IF\n"
			"       cantest busoff IF [TIMEOUT_MS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct spec sp;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3)
		return usage();
	const char *cmd = argv[1], *ifn = argv[2];
	unsigned n = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 0) : 1;
	int opt = argc > 5 ? atoi(argv[5]) : -1;

	if (!strcmp(cmd, "state"))
		return cmd_state(ifn);
	if (!strcmp(cmd, "busoff"))
		return cmd_busoff(ifn, argc > 3 ? atoi(argv[3]) : 10000);
	if (argc < 5 || n == 0)
		return usage();
	if (!strcmp(cmd, "tx") || !strcmp(cmd, "rx")) {
		if (parse_spec(argv[3], &sp) < 0) {
			fprintf(stderr, "cantest: bad frame spec '%s' (KIND:ID, KIND classic|fd|ext|fdext|rtr)\n",
				argv[3]);
			return 2;
		}
		return cmd[0] == 't' ? cmd_tx(ifn, &sp, n, opt < 0 ? 0 : (unsigned)opt)
				     : cmd_rx(ifn, &sp, n, opt < 0 ? 10000 : opt);
	}
	uint32_t id = (uint32_t)strtoul(argv[3], NULL, 0) & CAN_SFF_MASK;

	if (!strcmp(cmd, "echo"))
		return cmd_echo(ifn, id, n, opt < 0 ? 10000 : opt);
	if (!strcmp(cmd, "ping"))
		return cmd_ping(ifn, id, n, opt < 0 ? 2000 : opt);
	if (!strcmp(cmd, "flood"))
		return cmd_flood(ifn, id, n);
	if (!strcmp(cmd, "count"))
		return cmd_count(ifn, id, n, opt < 0 ? 10000 : opt);
	return usage();
}
